"""The report's findings as sentences a reader can quote, in Thai and in English.

One sentence per closed question and group, from an `exports.summary.Finding`: the headline share
with its 95% Wilson interval and n, then, for a level pick, how many pick lower and higher than the
plan and which level is picked most; where an area had a Delphi round 2, one more per question:
round 1 against round 2 (median, IQR, how many changed their answer). Percentages are whole numbers
here (summary.csv has one decimal); the sentence says nothing it cannot back with n.
"""

from __future__ import annotations

from .summary import SMALL_N, Change, Finding, Tally

Pair = tuple[str, str]  # (th, en)


def whole(x: float) -> str:
    return f"{x:.0f}"


def subject(f: Finding, label: Pair) -> Pair:
    """What the sentence is about: the question (agreement) or the plan's level (level pick)."""
    m = f.measure
    if m.kind == "level" and m.plan is not None:
        if m.marks == "target":
            return f"เป้าหมายปี 2570 ตามร่างแผน (ระดับ {m.plan})", f"The draft plan's 2027 target (level {m.plan})"
        return f"ระดับปัจจุบันตามร่างแผน (ระดับ {m.plan})", f"The draft plan's current level (level {m.plan})"
    return label


def _interval(f: Finding) -> Pair:
    ci = f.ci
    dk_th = f"; ไม่ทราบ {f.tally.dk}" if f.tally.dk else ""
    dk_en = f"; {f.tally.dk} don't know" if f.tally.dk else ""
    if ci is None:
        return f"(n = {f.n}{dk_th})", f"(n = {f.n}{dk_en})"
    lo, hi = whole(ci[0]), whole(ci[1])
    return (
        f"(ช่วงความเชื่อมั่น 95%: {lo}–{hi}%, n = {f.n}{dk_th})",
        f"(95% CI {lo}–{hi}%, n = {f.n}{dk_en})",
    )


def _levels(values: tuple[int, ...], th: bool) -> str:
    if len(values) == 1:
        return str(values[0])
    head, last = ", ".join(map(str, values[:-1])), values[-1]
    return f"{head} และ {last}" if th else f"{head} and {last}"


def most_picked(f: Finding) -> Pair:
    """The level picked most: "most pick level 3 (55%)" when over half do, else "most often picked"."""
    modes = f.tally.modes
    if not modes:
        return "", ""
    share = whole(f.share(f.tally.counts[modes[0] - 1]) or 0)
    if len(modes) > 1:
        return (
            f"เลือกมากที่สุด: ระดับ {_levels(modes, True)} (ร้อยละ {share} เท่ากัน)",
            f"most often picked: levels {_levels(modes, False)} ({share}% each)",
        )
    if 2 * f.tally.counts[modes[0] - 1] > f.n:
        return f"ส่วนใหญ่เลือกระดับ {modes[0]} (ร้อยละ {share})", f"most pick level {modes[0]} ({share}%)"
    return f"เลือกมากที่สุด: ระดับ {modes[0]} (ร้อยละ {share})", f"most often picked: level {modes[0]} ({share}%)"


def sentence(f: Finding, label: Pair) -> Pair:
    """The finding of one question, e.g. "The draft plan's 2027 target (level 4) — 38% find it feasible and appropriate
    (95% CI 29–48%, n = 96); 50% pick lower, 12% higher; most often picked: level 3 (45%)"."""
    th, en = subject(f, label)
    if not f.n:
        if f.tally.dk:
            return (
                f"{th} — ยังไม่มีคำตอบระดับ 1–5 (ไม่ทราบ {f.tally.dk})",
                f"{en} — no answers 1–5 yet ({f.tally.dk} don't know)",
            )
        return f"{th} — ยังไม่มีคำตอบ", f"{en} — no answers yet"
    ci_th, ci_en = _interval(f)
    m = f.measure
    if m.kind == "rating":
        p = whole(f.pct or 0)
        return f"{th} — เห็นด้วยร้อยละ {p} {ci_th}", f"{en} — {p}% agree {ci_en}"
    mode_th, mode_en = most_picked(f)
    if f.pct is None:  # a level pick whose plan level is unknown: the distribution only
        return f"{th} — {mode_th} {ci_th}", f"{en} — {mode_en} {ci_en}"
    p = whole(f.pct)
    lower, higher = whole(f.share(f.lower) or 0), whole(f.share(f.higher) or 0)
    if m.marks == "target":
        head_th, head_en = f"ร้อยละ {p} เห็นว่าเป็นไปได้และเหมาะสม", f"{p}% find it feasible and appropriate"
    else:
        head_th, head_en = f"ร้อยละ {p} เลือกระดับเดียวกัน", f"{p}% pick the same level"
    return (
        f"{th} — {head_th} {ci_th}; ร้อยละ {lower} เลือกระดับที่ต่ำกว่า ร้อยละ {higher} สูงกว่า; {mode_th}",
        f"{en} — {head_en} {ci_en}; {lower}% pick lower, {higher}% higher; {mode_en}",
    )


def small_warning(f: Finding) -> Pair | None:
    """The warning shown beside a share computed from fewer than SMALL_N answers."""
    if not f.small:
        return None
    return (
        f"⚠ คำตอบน้อยกว่า {SMALL_N}: ยังไม่แน่นอน ควรตีความอย่างระมัดระวัง",
        f"⚠ fewer than {SMALL_N} answers: uncertain, read with care",
    )


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:g}"


def convergence(label: Pair, first: Tally, later: Tally, round: int, change: Change | None) -> Pair:
    """Round 1 against a later Delphi round of one question, e.g. "2027 target level — round 1 → 2:
    median 4 → 4, IQR 2 → 1, 7 of 20 changed their answer"."""
    th, en = label
    median = f"{_num(first.median)} → {_num(later.median)}"
    iqr = f"{_num(first.iqr)} → {_num(later.iqr)}"
    both, changed = (change.both, change.changed) if change else (0, 0)
    return (
        f"{th} — รอบ 1 → {round}: มัธยฐาน {median}, IQR {iqr}, เปลี่ยนคำตอบ {changed} จาก {both} คน",
        f"{en} — round 1 → {round}: median {median}, IQR {iqr}, {changed} of {both} changed their answer",
    )
