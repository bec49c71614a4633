"""What the maturity levels mean, one tap or word away: the `~levels` button on every question of
a capability and the `levels` command ("ระดับ", "what do the levels mean").

Both answer with one compact message, the guide: the five levels named as every screen names
them, what each means, and on a capability's question what each looks like for that capability
(its `examples`, when the survey gives them). Then the participant is where they were: the
current step asked again, compactly. Nothing changes and nothing is recorded."""

from __future__ import annotations

from ..i18n import tr
from ..model import Guide, GuideLevel, Outcome, Reply
from ..surveys.schema import Item
from .core import Turn


def command(t: Turn, arg: str) -> Outcome:
    """The `levels` command: the guide, with the examples of the capability asked about now."""
    return explain(t, t.s.key if t.s.step == "survey" else None)


def explain(t: Turn, key: str | None) -> Outcome:
    """The guide (with the examples of `key`'s capability, if any), then the current step again:
    a tap on the button of an earlier question too, since it changes nothing."""
    question = t.catalog.step(key) if key else None
    item = question.item if question is not None else None
    t.out.replies.append(guide_reply(t, question.area if question else "", item))
    t.compact = not t.stranded  # the question they are on was shown: ask it again without its card
    return t.show()


def guide_reply(t: Turn, area: str, item: Item | None) -> Reply:
    """The guide as a reply whose text says what the guide shows (made once per capability and
    language: the catalog is read-only)."""
    lang, memo = t.lang, t.catalog.memo
    memo_key = ("levels", area, item.id if item else None, lang)
    if (made := memo.get(memo_key)) is not None:
        return made  # type: ignore[return-value]
    examples = item.examples if item is not None and item.examples else {}
    levels = tuple(
        GuideLevel(
            level=lv.level,
            name=lv.named(lang),
            means=lv.means(lang) if lv.means else "",
            example=tr(lang, "levels_example", text=examples[lv.level](lang)) if lv.level in examples else None,
        )
        for lv in t.catalog.common.levels
    )
    about = tr(lang, "levels_about", capability=item.capability(lang)) if item is not None and examples else ""
    guide = Guide(title=tr(lang, "levels_title"), about=about, levels=levels)
    memo[memo_key] = reply = Reply(guide_text(guide), guide=guide)
    return reply


def guide_text(guide: Guide) -> str:
    """The guide as text (Telegram, the console, LINE's fallback): a line per level, its example below."""
    lines = [guide.title] + ([guide.about] if guide.about else []) + [""]
    for lv in guide.levels:
        lines.append(f"{lv.name}: {lv.means}" if lv.means else lv.name)
        if lv.example:
            lines.append(lv.example)
    return "\n".join(lines)
