"""Crontab expressions and durations as settings write them: a leaf that imports nothing from bot,
so that validating the settings loads APScheduler's triggers and nothing of the running bot."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

CATCH_UP_WINDOW = timedelta(days=7)

_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _day(token: str) -> int:
    if token in _DAYS:
        return _DAYS.index(token)
    if token.isascii() and token.isdigit() and int(token) <= 7:
        return int(token)
    raise ValueError(f"not a weekday: {token!r}")


def crontab_weekdays(field: str) -> str:
    """Crontab's weekday field (0 or 7 = Sunday) in APScheduler 3's terms (0 = Monday), as names.

    APScheduler 3's `CronTrigger.from_crontab` passes the numbers through unchanged, so `1`
    would mean Tuesday there; names say the same thing to both."""
    field = field.strip().lower()
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        span, _, step = part.partition("/")
        if span == "*":
            lo, hi = 0, 6
        elif "-" in span:
            first, last = span.split("-", 1)
            lo, hi = _day(first), _day(last)
        else:
            lo = hi = _day(span)
        if hi < lo or (step and not (step.isdigit() and int(step) > 0)):
            raise ValueError(f"not a weekday range: {part!r}")
        days.update(d % 7 for d in range(lo, hi + 1, int(step) if step else 1))
    return ",".join(_DAYS[d] for d in sorted(days))


def cron_trigger(expr: str, timezone: tzinfo) -> CronTrigger:
    """A standard crontab expression (minute hour day month weekday, Sunday = 0) in `timezone`
    (required: a CronTrigger without one would use the host's zone).

    As everywhere in APScheduler 3, a day-of-month and a weekday both given must both match."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"crontab needs 5 fields (minute hour day month weekday), got {len(fields)}: {expr!r}")
    minute, hour, day, month, weekday = fields
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=crontab_weekdays(weekday), timezone=timezone
    )


def previous_fire(trigger: BaseTrigger, now: datetime, window: timedelta = CATCH_UP_WINDOW) -> datetime | None:
    """The last time `trigger` fired at or before `now`, looking back at most `window`."""
    last, t = None, trigger.get_next_fire_time(None, now - window)
    for _ in range(20_000):  # an every-minute cron over a week is ~10,000 steps
        if t is None or t > now:
            break
        last = t
        t = trigger.get_next_fire_time(t, t + timedelta(seconds=1))
    return last


_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(text: str) -> timedelta:
    """`24h`, `1h`, `30m`, `2d`, `1h30m` → timedelta."""
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([dhms])", text.strip().lower())
    if not parts or re.sub(r"[\d.\sdhms]", "", text.lower()):
        raise ValueError(f"not a duration: {text!r} (use e.g. 24h, 30m)")
    return sum((timedelta(**{_UNITS[u]: float(n)}) for n, u in parts), timedelta())
