"""Rating statistics from SQL aggregates: n, mean, exact median, counts, "don't know", % agree.

Storage returns counts per (question, stakeholder group, region, channel); everything here is
derived from those counts, so memory depends on the size of the survey, never on the number of
answers. Values are 1..5, so the counts give the median exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from bot.surveys import Catalog
from storage.queries import Filter, Snapshot

SCOPES = ("all", "stakeholder_group", "region", "channel")
CHANNELS = ("line", "telegram", "console")
Key = tuple[str, str, str]  # (area, item, question)


@dataclass
class Tally:
    """Counts of ratings 1..5 and of "don't know" for one question in one group."""

    counts: list[int] = field(default_factory=lambda: [0] * 5)
    dk: int = 0

    def add(self, counts: tuple[int, ...] | list[int], dk: int) -> None:
        for i, c in enumerate(counts):
            self.counts[i] += c
        self.dk += dk

    @property
    def n(self) -> int:
        """Ratings on the 1–5 scale; "don't know" is counted apart."""
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
    def agree(self) -> int:
        return self.counts[3] + self.counts[4]

    @property
    def pct_agree(self) -> float | None:
        """Share of 4 (agree) and 5 (strongly agree) among the n ratings, in percent."""
        return round(100 * self.agree / self.n, 1) if self.n else None


@dataclass
class Stats:
    """Tallies by (scope, group, area, item, question); scope "all" has group ""."""

    tallies: dict[tuple[str, str, str, str, str], Tally] = field(default_factory=dict)

    def add(self, scope: str, group: str, key: Key, counts: tuple[int, ...], dk: int) -> None:
        self.tallies.setdefault((scope, group, *key), Tally()).add(counts, dk)

    def get(self, scope: str, group: str, key: Key) -> Tally:
        return self.tallies.get((scope, group, *key)) or Tally()

    def keys(self) -> set[Key]:
        return {(a, i, q) for (_s, _g, a, i, q) in self.tallies}

    def groups(self, scope: str, key: Key | None = None) -> set[str]:
        return {g for (s, g, *k) in self.tallies if s == scope and (key is None or tuple(k) == key)}


async def rating_stats(snap: Snapshot, flt: Filter) -> Stats:
    """Fold storage's per-cell counts into the four scopes."""
    stats = Stats()
    async for area, item, question, group, region, channel, *rest in snap.rating_counts(flt):
        counts, dk = tuple(rest[:5]), rest[5]
        key = (area, item, question)
        stats.add("all", "", key, counts, dk)
        stats.add("stakeholder_group", group or "", key, counts, dk)
        stats.add("region", region or "", key, counts, dk)
        stats.add("channel", channel or "", key, counts, dk)
    return stats


def rating_keys(catalog: Catalog | None, flt: Filter, found: set[Key]) -> list[Key]:
    """Rating questions in survey order, then any answered ones the survey no longer has."""
    keys: list[Key] = []
    if catalog is not None:
        for area in catalog.areas:
            if flt.area and area != flt.area:
                continue
            keys += [(s.area, s.item_id, s.question.id) for s in catalog.flow(area) if s.question.kind == "rating"]
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
    """The rows of summary.csv (see SUMMARY_COLUMNS in exports.tables): ratings, then the funnel."""
    stats = await rating_stats(snap, flt)
    funnel = [row async for row in snap.funnel(flt)]
    return _summary(stats, funnel, flt, catalog)


def _summary(stats: Stats, funnel: list[tuple], flt: Filter, catalog: Catalog | None) -> Iterator[tuple]:
    keys = rating_keys(catalog, flt, stats.keys())
    for scope in SCOPES:
        for key in keys:
            groups = [""] if scope == "all" else group_order(catalog, scope, stats.groups(scope, key))
            current, target = levels(catalog, key[0], key[1])
            for group in groups:
                t = stats.get(scope, group, key)
                yield (
                    "rating",
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
                    t.pct_agree,
                    None,
                    None,
                    None,
                )
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
            yield ("funnel", scope, group, area, "", "", None, None, *([None] * 10), started, consented, completed)
