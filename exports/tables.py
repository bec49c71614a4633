"""The export set: each file's columns (name, type, meaning) and where its rows come from.

The README written beside the files is generated from these definitions, so the two cannot drift.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.surveys import Catalog
from storage.queries import Filter, Rows, Snapshot

from .csvfiles import Kind, local_time
from .summary import SMALL_N, summary_rows
from .themes import MIN_COMMENTS, TOP, themes_table


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    about: str
    # Allowed values (datapackage.json's constraints.enum): the values, or the survey list that holds
    # them ("area", "group", "region", "age": ids from the catalog). An empty cell is always allowed.
    values: tuple[str, ...] | str = ()
    range: tuple[int, int] | None = None  # smallest and largest allowed number


@dataclass(frozen=True)
class Context:
    catalog: Catalog | None
    flt: Filter
    generated_at: datetime


RowsOf = Callable[[Snapshot, Context], AsyncIterable[tuple[Any, ...]]]


@dataclass(frozen=True)
class Table:
    name: str  # file stem and sheet name
    about: str
    columns: tuple[Column, ...]
    rows: RowsOf
    total: Callable[[Snapshot, Filter], Awaitable[int]] | None = None
    primary_key: tuple[str, ...] = ()  # columns that together are unique in the file
    foreign_keys: tuple[tuple[str, str, str], ...] = ()  # (column, other table, its column)

    @property
    def file(self) -> str:
        return f"{self.name}.csv"

    @property
    def spec(self) -> list[tuple[str, Kind]]:
        return [(c.name, c.kind) for c in self.columns]


def C(
    name: str, kind: Kind, about: str, values: tuple[str, ...] | str = (), range: tuple[int, int] | None = None
) -> Column:
    return Column(name, kind, about, values, range)


CHANNELS = ("line", "telegram", "console")
LANGUAGES = ("th", "en")
TO_PARTICIPANT = ("respondent", "participants", "respondent")
TO_SESSION = ("session_id", "sessions", "session_id")


RESPONDENT = C("respondent", "text", "Pseudonym: a keyed hash, stable across files and exports; not the platform id.")
CHANNEL = C("channel", "text", "Where they answered: line, telegram or console.", CHANNELS)
GROUP = C(
    "stakeholder_group", "text", "Stakeholder group id (citizen, sme, farmer, government, academic, ...).", "group"
)
REGION = C("region", "text", "Region id (bangkok, central, north, northeast, east, west, south, abroad).", "region")
AREA = C("area", "text", "Focus area id (education, health, agriculture, welfare, participation, sme).", "area")
ITEM = C("item_id", "text", "Capability item id within the area; empty for the area's closing questions.")
QUESTION = C(
    "question_id",
    "text",
    "Question id: current_level, target_level (level picks), current, feasible, appropriate (ratings), why, "
    "or a closing question.",
)
LANGUAGE = C("language", "text", "Language the participant was using: th or en.", LANGUAGES)
ANSWERED = C("answered_at", "datetime", "When the answer was last given or changed.")


# Tables straight from a query hand over its Rows, so the CSV writer can take them a batch at a time.
def _responses(snap: Snapshot, ctx: Context) -> Rows:
    return snap.responses(ctx.flt)


async def _comments(snap: Snapshot, ctx: Context) -> AsyncIterator[tuple[Any, ...]]:
    cat = ctx.catalog
    order = []
    if cat is not None:
        order = [
            (s.area, s.item_id, s.question.id) for a in cat.areas for s in cat.flow(a) if s.question.kind == "text"
        ]
    async for who, channel, group, region, area, item, question, text, lang, at in snap.comments(ctx.flt, order):
        step = cat.step(f"{area}.{item}.{question}") if cat else None
        capability = step.item.capability.th if step and step.item else ""
        prompt = step.question.prompt.th if step else ""
        yield (who, channel, group, region, area, item, capability, question, prompt, text, lang, at)


def _participants(snap: Snapshot, ctx: Context) -> Rows:
    return snap.participants(ctx.flt)


def _sessions(snap: Snapshot, ctx: Context) -> Rows:
    return snap.sessions(ctx.flt)


def _registrations(snap: Snapshot, ctx: Context) -> Rows:
    return snap.registrations(ctx.flt)


async def _summary(snap: Snapshot, ctx: Context) -> AsyncIterator[tuple[Any, ...]]:
    for row in await summary_rows(snap, ctx.flt, ctx.catalog):
        yield row


def _themes(snap: Snapshot, ctx: Context) -> AsyncIterator[tuple[Any, ...]]:
    return themes_table(snap, ctx.flt, ctx.catalog)


TABLES: tuple[Table, ...] = (
    Table(
        "responses",
        "Long format: one row per answer given (a skipped question is not an answer). Ratings and level "
        "picks have a value 1-5 and option_id; don't know is option_id 'dk' with an empty value; free text "
        "is in text. summary.csv says which questions are ratings (section=rating) and which level picks "
        "(section=level). A Delphi round 2 asks an area's ratings and level picks again: its answers are rows "
        "of their own (round=2) beside the round-1 ones; keeping an answer stores it again, so a change is "
        "a round-2 value that differs from the same respondent's round-1 value, and the reason given for a "
        "change is that row's text. Answers given in the room during a live session have source 'live' and "
        "their session_id.",
        (
            RESPONDENT,
            CHANNEL,
            GROUP,
            REGION,
            AREA,
            ITEM,
            QUESTION,
            C(
                "round",
                "integer",
                "The Delphi round: 1 for the survey itself, 2 for an answer given again in round 2, after seeing "
                "round 1's group result (median, interquartile range, n).",
            ),
            C(
                "value",
                "integer",
                "Rating 1 (strongly disagree) to 5 (strongly agree), or the maturity level picked (1-5); "
                "empty for don't know and text.",
                range=(1, 5),
            ),
            C(
                "option_id",
                "text",
                "The chosen option: '1'..'5', or 'dk' for don't know; empty for text.",
                ("1", "2", "3", "4", "5", "dk"),
            ),
            C("text", "text", "The free-text answer; empty for ratings."),
            LANGUAGE,
            ANSWERED,
            C(
                "survey_version",
                "text",
                "The surveys the answer was given under: a short hash of their whole content (capabilities, "
                "levels, questions, wording), recorded when the bot loaded them. Answers given under different "
                "versions may have seen different wording or levels; empty for answers stored before versions "
                "were recorded.",
            ),
            C(
                "source",
                "text",
                "Where the answer was given: 'chat' (the survey in LINE or Telegram) or 'live' (in the room, "
                "during a live focus-group session, when the facilitator opened the capability). A participant "
                "may have both for one question: they are two answers, not one overwriting the other.",
                ("chat", "live"),
            ),
            C(
                "session_id",
                "integer",
                "The focus-group session a live answer was given in (sessions.csv); empty for chat.",
            ),
        ),
        _responses,
        Snapshot.count_responses,
        ("respondent", "area", "item_id", "question_id", "round", "source"),
        (TO_PARTICIPANT, TO_SESSION),
    ),
    Table(
        "comments",
        "Every free-text answer, grouped by question in survey order, with the capability and the question "
        "as the participant saw them (Thai wording). The reason given for a changed answer in a Delphi round 2 "
        "is here too (after the others), under the rating or level question it explains; responses.csv has "
        "it with round=2.",
        (
            RESPONDENT,
            CHANNEL,
            GROUP,
            REGION,
            AREA,
            ITEM,
            C("capability", "text", "The capability statement (Thai); empty for closing questions."),
            QUESTION,
            C("question", "text", "The question's wording (Thai)."),
            C("text", "text", "The answer as typed."),
            LANGUAGE,
            ANSWERED,
        ),
        _comments,
        Snapshot.count_comments,
        foreign_keys=(TO_PARTICIPANT,),
    ),
    Table(
        "participants",
        "One row per participant who gave consent (nobody else is ever exported). Not limited by the time "
        "window; with an area filter, only those who started that area.",
        (
            RESPONDENT,
            CHANNEL,
            GROUP,
            REGION,
            C("age_band", "text", "Age band id (u20, a20_29, ..., a60); empty if skipped.", "age"),
            C("language", "text", "Current language: th or en.", LANGUAGES),
            C("consent_at", "datetime", "When consent was given."),
            C("consent_version", "text", "Version of the privacy notice consented to."),
            C("areas_started", "text", "Area ids started, space-separated."),
            C("areas_completed", "text", "Area ids completed, space-separated."),
        ),
        _participants,
        primary_key=("respondent",),
    ),
    Table(
        "sessions",
        "Focus-group sessions. Only the area filter applies.",
        (
            C("session_id", "integer", "Session number."),
            AREA,
            C("title_th", "text", "Title in Thai."),
            C("title_en", "text", "Title in English."),
            C("starts_at", "datetime", "Start time."),
            C("ends_at", "datetime", "End time, if set."),
            C("place", "text", "Place or online link."),
            C("capacity", "integer", "Seats; empty means unlimited."),
            C("status", "text", "scheduled or cancelled.", ("scheduled", "cancelled")),
            C("registrations", "integer", "Registrations by consenting participants (= rows in registrations.csv)."),
            C("created_at", "datetime", "When the session was created."),
            C("updated_at", "datetime", "When the session was last changed."),
        ),
        _sessions,
        primary_key=("session_id",),
    ),
    Table(
        "registrations",
        "One row per registration for a session by a consenting participant.",
        (
            C("session_id", "integer", "The session (sessions.csv)."),
            AREA,
            RESPONDENT,
            CHANNEL,
            GROUP,
            REGION,
            C("registered_at", "datetime", "When they registered."),
        ),
        _registrations,
        primary_key=("session_id", "respondent"),
        foreign_keys=(TO_SESSION, TO_PARTICIPANT),
    ),
    Table(
        "summary",
        "Three sections; filter on the `section` column. section=rating (agreement questions) and "
        "section=level (level picks): one row per area x item x question, overall (scope=all) and broken down "
        "by stakeholder_group, region and channel (the `group` column names the group; empty = not given). "
        "n counts answers 1-5; don't know is counted apart and excluded from n, mean, median and every "
        "percentage. A rating is 1 (strongly disagree) to 5 (strongly agree) and its headline is pct_agree "
        "(4 or 5). A level pick is the maturity level (1-5) the participant believes the capability is at "
        "today (question about the assessed current level) or finds feasible and appropriate for 2027 (about "
        "the proposed target); plan_level is the plan's level the question is about, pct_plan the share who "
        "pick it, n_lower and n_higher how many pick a lower or a higher level, n_1..n_5 the distribution "
        f"and median the median level picked. ci95_low..ci95_high is the 95% Wilson score interval of the "
        f"headline share (pct_agree or pct_plan); with n below {SMALL_N} it is wide: read such rows with care. "
        "Rows of scope=all, stakeholder_group, region and channel count round 1 (the survey itself). Where "
        "an area had a Delphi round 2, scope=round gives each round apart (group = 1 or 2) with the same "
        "figures, and convergence: n_both_rounds answered the question in round 1 and in that round, "
        "n_changed of them changed their answer; compare iqr (and median) of group 1 and group 2. "
        "section=funnel: per area (empty area = the bot as a "
        "whole) and channel, the participants who started, of them those who consented, and those who "
        "completed. An area counts as started when opened or reached through its deep link; for the whole "
        "bot, started = began a conversation and completed = finished at least one area. Funnel counts "
        "include people who did not consent, as numbers only.",
        (
            C("section", "text", "rating (agreement), level (level pick) or funnel.", ("rating", "level", "funnel")),
            C(
                "scope",
                "text",
                "all, stakeholder_group, region, round (rating and level only) or channel.",
                ("all", "stakeholder_group", "region", "round", "channel"),
            ),
            C("group", "text", "The group id within the scope; empty for scope=all, or not given."),
            AREA,
            ITEM,
            QUESTION,
            C("current_level", "integer", "Assessed current maturity level of the capability (1-5)."),
            C("target_level", "integer", "Proposed 2027 (B.E. 2570) target level."),
            C("n", "integer", "Number of answers 1-5 (ratings, or levels picked); don't know excluded."),
            C("mean", "decimal", "Mean rating or mean level picked, 3 decimals; empty when n = 0."),
            C(
                "median",
                "decimal",
                "Median rating or median level picked (x.5 when n is even and the middle two differ).",
            ),
            C("n_1", "integer", "Answers of 1: strongly disagree, or level 1 picked."),
            C("n_2", "integer", "Answers of 2: disagree, or level 2."),
            C("n_3", "integer", "Answers of 3: not sure, or level 3."),
            C("n_4", "integer", "Answers of 4: agree, or level 4."),
            C("n_5", "integer", "Answers of 5: strongly agree, or level 5."),
            C("n_dont_know", "integer", "Don't know answers (option dk)."),
            C("pct_agree", "decimal", "Rating: percent of n rating 4 or 5, one decimal; empty for level."),
            C(
                "plan_level",
                "integer",
                "Level: the plan's level the question is about (current_level or target_level).",
            ),
            C("pct_plan", "decimal", "Level: percent of n who pick plan_level, one decimal."),
            C("n_lower", "integer", "Level: answers picking a level below plan_level."),
            C("n_higher", "integer", "Level: answers picking a level above plan_level."),
            C(
                "ci95_low",
                "decimal",
                "Lower end of the 95% Wilson score interval of pct_agree or pct_plan, one decimal.",
            ),
            C("ci95_high", "decimal", "Upper end of that interval, one decimal."),
            C("started", "integer", "Funnel: participants who started."),
            C("consented", "integer", "Funnel: of them, those who gave consent."),
            C("completed", "integer", "Funnel: of them, those who completed (consenting only)."),
            C(
                "q1",
                "decimal",
                "Lower quartile of the answers 1-5 (as Excel's QUARTILE.INC: interpolated between answers).",
            ),
            C("q3", "decimal", "Upper quartile of the answers 1-5."),
            C("iqr", "decimal", "Interquartile range q3 - q1: the spread of the middle half of the answers."),
            C(
                "n_both_rounds",
                "integer",
                "scope=round, group 2 or later: respondents who answered the question in round 1 and in this "
                "round (don't know included).",
            ),
            C("n_changed", "integer", "scope=round, group 2 or later: of them, those whose answer changed."),
        ),
        _summary,
    ),
    Table(
        "themes",
        "Recurring themes of the free-text answers (comments.csv): key words and two-word phrases per area, "
        "per capability and per stakeholder group, Thai and English each ranked on its own, best first, with "
        "how many comments mention each and two of them. Thai is segmented into dictionary words (PyThaiNLP "
        "newmm), so a theme is always whole words; a Thai two-word phrase is a noun and its modifier within "
        "one noun phrase (PyThaiNLP's part-of-speech tagger), never words across a clause. Numbers, phone "
        "numbers, e-mail addresses, URLs, punctuation and common words (stopwords) never are themes. The same "
        f"long comment pasted by several people counts once. A theme is mentioned by at least {MIN_COMMENTS} "
        f"comments; at most {TOP} per group and language. "
        "Ranked by score = comments x (1 + ln((1 + N) / (1 + df))), N being the number of groups of the "
        "same scope (areas, capabilities or stakeholder groups) and df those whose comments use the "
        "phrase: what sets a group apart rises, and a theme every group shares still counts.",
        (
            C(
                "scope",
                "text",
                "area, item (a capability) or stakeholder_group (all areas together).",
                ("area", "item", "stakeholder_group"),
            ),
            C("area", "text", "Focus area id; empty for scope=stakeholder_group."),
            C("item_id", "text", "Capability item id for scope=item; else empty."),
            C("group", "text", "Stakeholder group id for scope=stakeholder_group (empty = not given); else empty."),
            C(
                "language",
                "text",
                "th (the theme holds a Thai word) or en; each language is ranked on its own, Thai rows first.",
                LANGUAGES,
            ),
            C("rank", "integer", "1 = the strongest theme of this group in this language."),
            C("theme", "text", "The word or phrase: Thai words joined as Thai is written, other words with a space."),
            C("n_words", "integer", "1 (a word) or 2 (a two-word phrase).", range=(1, 2)),
            C("comments", "integer", "Comments in this group that mention it (each comment counts once)."),
            C("pct_comments", "decimal", "Percent of this group's comments that mention it, one decimal."),
            C("score", "decimal", "comments x idf against the other groups of the scope, 3 decimals."),
            C(
                "example_1",
                "text",
                "A comment that mentions it, as typed (the first in comments.csv order), but with e-mail "
                "addresses, @handles and phone numbers shown as […]: comments.csv has the text itself.",
            ),
            C("example_2", "text", "Another such comment, if there is one."),
        ),
        _themes,
    ),
)


def describe_filter(flt: Filter) -> str:
    parts = []
    if flt.area:
        parts.append(f"area = {flt.area}")
    if flt.channel:
        parts.append(f"channel = {flt.channel}")
    if flt.since:
        parts.append(f"answered at or after {local_time(flt.since)}")
    if flt.until:
        parts.append(f"answered before {local_time(flt.until)}")
    return "; ".join(parts) or "none (everything)"


def readme(ctx: Context, rows: dict[str, int], files: list[str], fmt: str, license: str = "") -> str:
    """README.txt: what the export holds and every column of every file."""
    out = [
        "rabfang (รับฟัง) export — ข้อมูลความคิดเห็นต่อร่างแผนพัฒนารัฐบาลดิจิทัล พ.ศ. 2566-2570",
        "",
        "ไฟล์ชุดนี้ส่งออกจากบอตรับฟังความคิดเห็น (LINE / Telegram) ไม่มีรหัสผู้ใช้หรือชื่อที่แสดงของแพลตฟอร์ม",
        "ผู้ตอบแต่ละคนแทนด้วยรหัสนามแฝง (respondent) และส่งออกเฉพาะผู้ที่ให้ความยินยอมแล้วเท่านั้น",
        "",
        f"Generated: {local_time(ctx.generated_at)}",
        f"Filter: {describe_filter(ctx.flt)}",
        f"Format: {fmt}",
        *([f"Licence: {license}"] if license else []),
        "",
        "Files:",
    ]
    for name in files:
        out.append(f"  {name}")
    out += ["", "Rows:"]
    for name, n in rows.items():
        out.append(f"  {name}: {n}")
    out += [
        "",
        "Conventions",
        "  - UTF-8 with a byte-order mark, so Excel shows Thai correctly; comma-separated, CRLF line ends.",
        "  - Times are ISO 8601 in Bangkok time, e.g. 2026-11-25T17:04:05+07:00.",
        "  - Types: text, integer, decimal (a dot), datetime. An empty cell means no value.",
        "  - A text cell that would start with = + - @ (or a tab or line break), also after invisible",
        "    characters such as a zero-width space, a byte-order mark or a direction mark, gets a leading",
        "    apostrophe so that no spreadsheet runs it as a formula (CSV injection); strip one leading ' to",
        "    recover it.",
        "  - Only participants who gave consent appear; skipped questions are not answers.",
        "  - respondent is a hex string. In Excel choose Data > From Text/CSV and keep it as text (or use",
        "    the xlsx format): an all-digit pseudonym would otherwise be shown as a number.",
        "  - pandas: pd.read_csv(path, encoding='utf-8-sig', dtype={'respondent': str}, keep_default_na=False)",
        "    and then pd.to_numeric / pd.to_datetime on the integer, decimal and datetime columns.",
        "",
    ]
    if "datapackage.json" in files:
        out += [
            "Open data",
            "  - datapackage.json: a Frictionless Data Package (https://datapackage.org) describing every CSV in",
            "    machine-readable form: its Table Schema (types: text = string, integer, decimal = number,",
            "    datetime; allowed values as constraints.enum, from the surveys for area, stakeholder_group, region",
            "    and age_band; an empty cell is a missing value), primary keys, and foreign keys between files",
            "    (responses, comments and registrations.respondent -> participants; session_id -> sessions;",
            "    left out when the export is limited to one area). Also the licence and the provenance: export",
            "    time, filter, the survey versions the answers were given under and when each was first loaded.",
            "    Check the files against it: `frictionless validate datapackage.json`.",
        ]
        if "ckan.json" not in files:
            out.append("")
    if "ckan.json" in files:
        out += [
            "  - ckan.json: the CKAN dataset metadata for data.go.th (written by `rabfang export --ckan`): title,",
            "    notes, licence, tags, and one resource per CSV with its schema. Create the dataset from it (or",
            "    copy its fields into the data.go.th form), then upload each CSV as the resource of the same name.",
            "",
        ]

    for table in TABLES:
        where = table.file if fmt == "csv" else f"sheet {table.name}"
        out += [where, "  " + table.about, ""]
        width = max(len(c.name) for c in table.columns)
        out += [f"  {c.name:<{width}}  {c.kind:<8}  {c.about}" for c in table.columns]
        out.append("")
    return "\n".join(out)
