"""Statistics of the closed questions from SQL aggregates: n, mean, exact median, counts, "don't know",
the headline share with its 95% Wilson score interval.

Two kinds of closed question share one storage shape (option "1".."5" or "dk", value 1..5 or None):
an agreement rating (kind "rating"; the headline is % agree, a 4 or a 5) and a level pick (kind
"level"; the value is the maturity level picked, the headline is % who pick the plan's level, the
item's current or target as the question `marks`, with how many put it lower and higher). The kind
comes from the catalog; a question it no longer lists is read as a rating.

Storage returns counts per (question, stakeholder group, region, channel); everything here is
derived from those counts, so memory depends on the size of the survey, never on the number of
answers. Values are 1..5, so the counts give the median exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from bot.model import quantile
from bot.surveys import Catalog
from storage.queries import Filter, Snapshot

# The dimensions a closed question is broken down by, in the order storage returns them per cell.
# "all" and every dimension but "round" count round 1 (the survey itself); scope "round" shows each
# Delphi round apart, and only where there is a round beyond the first.
DIMENSIONS = ("stakeholder_group", "region", "channel", "round")
SCOPES = ("all", *DIMENSIONS)
CHANNELS = ("line", "telegram", "console")
CLOSED = ("rating", "level")  # question kinds with options 1..5 and "don't know"
SMALL_N = 30  # below this many answers a share is flagged as uncertain
Z95 = 1.959963984540054  # the standard normal quantile for a two-sided 95% interval
Key = tuple[str, str, str]  # (area, item, question)


def wilson(hits: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of the proportion hits/n, as fractions; None when n = 0.

    Unlike the normal approximation it stays inside 0..1 and is sound at small n and at 0% or 100%."""
    if n <= 0:
        return None
    p = hits / n
    z2n = z * z / n
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / n + z2n / (4 * n)) / (1 + z2n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class Tally:
    """Counts of values 1..5 and of "don't know" for one question in one group."""

    counts: list[int] = field(default_factory=lambda: [0] * 5)
    dk: int = 0

    def add(self, counts: tuple[int, ...] | list[int], dk: int) -> None:
        for i, c in enumerate(counts):
            self.counts[i] += c
        self.dk += dk

    @property
    def n(self) -> int:
        """Answers on the 1–5 scale; "don't know" is counted apart."""
        return sum(self.counts)

    @property
    def mean(self) -> float | None:
        n = self.n
        return round(sum(v * c for v, c in enumerate(self.counts, 1)) / n, 3) if n else None

    def _nth(self, k: int) -> int:
        seen = 0
        for value, c in enumerate(self.counts, 1):
            seen += c
            if seen >= k:
                return value
        raise ValueError(k)

    @property
    def median(self) -> float | None:
        n = self.n
        if not n:
            return None
        if n % 2:
            return float(self._nth(n // 2 + 1))
        return (self._nth(n // 2) + self._nth(n // 2 + 1)) / 2

    @property
    def q1(self) -> float | None:
        """The lower quartile (as Excel's QUARTILE.INC; the Delphi round 2 shows the same)."""
        return quantile(self.counts, 0.25)

    @property
    def q3(self) -> float | None:
        return quantile(self.counts, 0.75)

    @property
    def iqr(self) -> float | None:
        """The interquartile range q3 - q1: how far apart the middle half of the answers are."""
        q1, q3 = self.q1, self.q3
        return q3 - q1 if q1 is not None and q3 is not None else None

    @property
    def modes(self) -> tuple[int, ...]:
        """The most picked values (more than one on a tie); none when n = 0."""
        top = max(self.counts)
        return tuple(v for v, c in enumerate(self.counts, 1) if c == top) if top else ()

    @property
    def agree(self) -> int:
        return self.counts[3] + self.counts[4]

    @property
    def pct_agree(self) -> float | None:
        """Share of 4 (agree) and 5 (strongly agree) among the n ratings, in percent."""
        return round(100 * self.agree / self.n, 1) if self.n else None


@dataclass(frozen=True)
class Measure:
    """How to read a closed question's values: as agreement, or as a level picked against the plan's."""

    kind: Literal["rating", "level"] = "rating"
    marks: Literal["current", "target"] | None = None  # level: which of the item's levels it is about
    plan: int | None = None  # level: the plan's level for this item (its current or its target)


def measure(catalog: Catalog | None, key: Key) -> Measure:
    """The question's kind as the catalog says; a question it no longer has is read as a rating."""
    step = catalog.step(".".join(key)) if catalog is not None else None
    if step is None or step.question.kind != "level":
        return Measure()
    marks = step.question.marks
    plan = None
    if step.item is not None and marks is not None:
        plan = step.item.target if marks == "target" else step.item.current
    return Measure("level", marks, plan)


@dataclass(frozen=True)
class Finding:
    """The headline of one closed question in one group: a share of n with its 95% interval.

    Rating: the share who agree (4 or 5). Level: the share who pick the plan's level, and how many
    pick lower or higher. n excludes "don't know" throughout."""

    measure: Measure
    tally: Tally

    @property
    def n(self) -> int:
        return self.tally.n

    @property
    def hits(self) -> int | None:
        if self.measure.kind == "rating":
            return self.tally.agree
        plan = self.measure.plan
        return self.tally.counts[plan - 1] if plan is not None and 1 <= plan <= 5 else None

    def share(self, count: int | None) -> float | None:
        """count as a percent of n, unrounded."""
        return 100 * count / self.n if count is not None and self.n else None

    @property
    def pct(self) -> float | None:
        return self.share(self.hits)

    @property
    def ci(self) -> tuple[float, float] | None:
        """The 95% Wilson interval of `pct`, in percent, unrounded."""
        hits = self.hits
        interval = wilson(hits, self.n) if hits is not None else None
        return (100 * interval[0], 100 * interval[1]) if interval else None

    @property
    def lower(self) -> int | None:
        plan = self.measure.plan
        return sum(self.tally.counts[: plan - 1]) if self.measure.kind == "level" and plan else None

    @property
    def higher(self) -> int | None:
        plan = self.measure.plan
        return sum(self.tally.counts[plan:]) if self.measure.kind == "level" and plan else None

    @property
    def small(self) -> bool:
        """Answered, but by fewer than SMALL_N: the share is shown with a warning."""
        return 0 < self.n < SMALL_N


def one_decimal(x: float | None) -> float | None:
    return round(x, 1) if x is not None else None


@dataclass
class Stats:
    """Tallies by (scope, group, area, item, question); scope "all" has group ""."""

    tallies: dict[tuple[str, str, str, str, str], Tally] = field(default_factory=dict)

    def add(self, scope: str, group: str, key: Key, counts: tuple[int, ...], dk: int) -> None:
        self.tallies.setdefault((scope, group, *key), Tally()).add(counts, dk)

    def get(self, scope: str, group: str, key: Key) -> Tally:
        return self.tallies.get((scope, group, *key)) or Tally()

    def scopes(self) -> set[str]:
        return {s for (s, *_rest) in self.tallies}

    def keys(self) -> set[Key]:
        return {(a, i, q) for (_s, _g, a, i, q) in self.tallies}

    def groups(self, scope: str, key: Key | None = None) -> set[str]:
        return {g for (s, g, *k) in self.tallies if s == scope and (key is None or tuple(k) == key)}


async def rating_stats(snap: Snapshot, flt: Filter) -> Stats:
    """Fold storage's per-cell counts into "all" and one scope per dimension: round 1 everywhere but
    in scope "round", which is kept only when some answer is of a later round."""
    stats = Stats()
    width = len(DIMENSIONS)
    async for area, item, question, *rest in snap.rating_counts(flt):
        cell, counts, dk = rest[:width], tuple(rest[width : width + 5]), rest[width + 5]
        key = (area, item, question)
        first = dict(zip(DIMENSIONS, cell, strict=True)).get("round", 1) == 1
        if first:
            stats.add("all", "", key, counts, dk)
        for dimension, group in zip(DIMENSIONS, cell, strict=True):
            if first or dimension == "round":
                stats.add(dimension, "" if group is None else str(group), key, counts, dk)
    if stats.groups("round") <= {"1"}:  # no Delphi round beyond the first: nothing to compare
        stats.tallies = {k: v for k, v in stats.tallies.items() if k[0] != "round"}
    return stats


@dataclass(frozen=True)
class Change:
    """Delphi convergence of one question in one round: of those who answered it in round 1 and in
    this round, how many changed their answer."""

    both: int
    changed: int


async def round_changes(snap: Snapshot, flt: Filter) -> dict[tuple[str, str, str, int], Change]:
    """(area, item, question, round) -> Change, for every round beyond the first."""
    return {(a, i, q, r): Change(both, changed) async for a, i, q, r, both, changed in snap.round_changes(flt)}


def closed_keys(catalog: Catalog | None, flt: Filter, found: set[Key]) -> list[Key]:
    """Closed questions (ratings and level picks) in survey order, then answered ones the survey no longer has."""
    keys: list[Key] = []
    if catalog is not None:
        for area in catalog.areas:
            if flt.area and area != flt.area:
                continue
            keys += [(s.area, s.item_id, s.question.id) for s in catalog.flow(area) if s.question.kind in CLOSED]
    known = set(keys)
    return keys + sorted(k for k in found if k not in known)


def group_order(catalog: Catalog | None, scope: str, present: set[str]) -> list[str]:
    """Groups in the order the survey lists them, unknown ones after, "not given" ('') last."""
    listed: list[str] = []
    if catalog is not None and scope in ("stakeholder_group", "region"):
        options = catalog.common.profile.group if scope == "stakeholder_group" else catalog.common.profile.region
        listed = [o.id for o in options]
    elif scope == "channel":
        listed = list(CHANNELS)
    elif scope == "round":
        return sorted(present, key=lambda g: (not g, int(g) if g.isdigit() else 0, g))
    ordered = [g for g in listed if g in present]
    ordered += sorted(g for g in present if g not in listed and g)
    if "" in present and scope != "all":
        ordered.append("")
    return ordered


def levels(catalog: Catalog | None, area: str, item: str) -> tuple[int | None, int | None]:
    if catalog is None or area not in catalog.areas:
        return None, None
    found = next((i for i in catalog.areas[area].items if i.id == item), None)
    return (found.current, found.target) if found else (None, None)


def area_order(catalog: Catalog | None, flt: Filter, present: set[str]) -> list[str]:
    listed = [a for a in (catalog.areas if catalog else ()) if not flt.area or a == flt.area]
    return listed + sorted(a for a in present if a not in listed and a)


async def summary_rows(snap: Snapshot, flt: Filter, catalog: Catalog | None) -> Iterator[tuple]:
    """The rows of summary.csv (see SUMMARY_COLUMNS in exports.tables): closed questions, then the funnel."""
    stats = await rating_stats(snap, flt)
    changes = await round_changes(snap, flt)
    funnel = [row async for row in snap.funnel(flt)]
    return _summary(stats, funnel, flt, catalog, changes)


def closed_row(
    scope: str,
    group: str,
    key: Key,
    current: int | None,
    target: int | None,
    f: Finding,
    change: Change | None = None,
) -> tuple:
    """One summary row of a closed question: section "rating" or "level" (see exports.tables)."""
    t, m = f.tally, f.measure
    ci = f.ci
    level = m.kind == "level"
    return (
        m.kind,
        scope,
        group,
        *key,
        current,
        target,
        t.n,
        t.mean,
        t.median,
        *t.counts,
        t.dk,
        None if level else t.pct_agree,
        m.plan if level else None,
        one_decimal(f.pct) if level else None,
        f.lower,
        f.higher,
        one_decimal(ci[0]) if ci else None,
        one_decimal(ci[1]) if ci else None,
        None,
        None,
        None,
        t.q1,
        t.q3,
        t.iqr,
        change.both if change else None,
        change.changed if change else None,
    )


def _summary(
    stats: Stats,
    funnel: list[tuple],
    flt: Filter,
    catalog: Catalog | None,
    changes: dict[tuple[str, str, str, int], Change] | None = None,
) -> Iterator[tuple]:
    keys = closed_keys(catalog, flt, stats.keys())
    changes = changes or {}
    for scope in SCOPES:
        for key in keys:
            groups = [""] if scope == "all" else group_order(catalog, scope, stats.groups(scope, key))
            current, target = levels(catalog, key[0], key[1])
            m = measure(catalog, key)
            for group in groups:
                change = changes.get((*key, int(group))) if scope == "round" and group.isdigit() else None
                yield closed_row(scope, group, key, current, target, Finding(m, stats.get(scope, group, key)), change)
    by_area: dict[str, dict[str, tuple[int, int, int]]] = {}
    for area, channel, started, consented, completed in funnel:
        by_area.setdefault(area, {})[channel] = (started, consented, completed)
    areas = ([] if flt.area else [""]) + area_order(catalog, flt, set(by_area))
    for area in areas:
        channels = by_area.get(area, {})
        total = tuple(sum(v[i] for v in channels.values()) for i in range(3))
        rows = [("all", "", total)] + [
            ("channel", ch, channels[ch]) for ch in group_order(None, "channel", set(channels))
        ]
        for scope, group, (started, consented, completed) in rows:
            yield (
                "funnel",
                scope,
                group,
                area,
                "",
                "",
                None,
                None,
                *([None] * 16),
                started,
                consented,
                completed,
                *([None] * 5),
            )
