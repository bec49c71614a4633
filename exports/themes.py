"""Themes of the free-text answers: the key words and two-word phrases per area, per capability
and per stakeholder group, with how many comments mention each and two of those comments.

Tokens
    Thai has no spaces between words, so Thai runs are segmented with PyThaiNLP's `newmm`
    (dictionary maximal matching constrained to Thai Character Clusters), its dictionary plus
    TH_WORDS: every token is a dictionary word or a run of whole clusters, so no theme cuts a word
    or a grapheme cluster, and a phrase is made of whole tokens. Latin-script runs (English) are
    split by a regular expression and lower-cased. Stopwords: `pythainlp.corpus.thai_stopwords()`
    less TH_KEEP (words that carry a complaint, such as ช้า "slow", and เปิด so that ข้อมูลเปิด
    "open data" can be a theme), plus TH_FILLERS (survey fillers); and a small English list below.
    Before any of that, URLs, e-mail addresses, @handles, phone numbers (081-234-5678,
    02 123 4567, +66 …) and numbers are masked, and they and punctuation end a phrase: none of
    them can become a theme, nor join two words into one.

Phrases: noun phrases, never across a clause
    A theme is a content word or a two-word phrase. A Thai two-word phrase is a noun followed
    by its modifier inside one noun phrase, as PyThaiNLP's part-of-speech tagger (perceptron,
    ORCHID corpus mapped to Universal POS tags, `orchid_ud`, bundled in the wheel) reads the clause:
    a NOUN or PROPN, then a NOUN, PROPN, ADJ or one of TH_MODIFIERS (words the tagger calls a verb
    that modify the noun before them, เปิด in ข้อมูลเปิด). A word it tags as a function word
    (FUNCTION: auxiliary, conjunction, preposition, particle, determiner, pronoun) is no theme. A verb, an adverb, a preposition, a
    conjunction, a space between Thai runs or punctuation ends the noun phrase, so
    "อินเทอร์เน็ตในชนบทช้า" gives อินเทอร์เน็ต, ชนบท and ช้า but no ชนบทช้า. A Latin word
    inside Thai text counts as a noun (it is nearly always a name: LINE, e-tax). English has no
    tagger in PyThaiNLP (nor offline elsewhere here): two adjacent English content words form a
    phrase, and stopwords (with a few adverbs and verbs that follow a subject) and punctuation end it.

Languages
    A theme is Thai when it holds a Thai word, else English. Each group's themes are ranked in
    each language on its own, TOP of each, so the fewer English comments still have their themes;
    a theme's share is of all the group's comments.

Pasted comments
    The same comment pasted by many people is one voice: a comment whose normalised text (NFC,
    Thai spelling repaired, case folded, only letters, marks and digits kept) is PASTED characters
    or longer and already counted in a group is not counted again there, and a theme's examples are
    distinct normalised texts. Short answers that people type alike ("อินเทอร์เน็ตช้า") are
    independent and all count.

Weights: TF-IDF with the sibling groups as documents
    A phrase's count is the number of comments in the group that mention it (a comment counts
    once however often it repeats a word, so one long comment cannot make a theme). Its score is
    that count times idf = 1 + ln((1 + N) / (1 + df)), where the documents are the group and its
    siblings: the areas for an area, all capabilities for a capability, the stakeholder groups for
    a group; N is their number and df the number of them whose comments use the phrase. Treating
    each comment as a document would do the opposite of what a theme is: it would push down the
    phrases many people use. Against its siblings, a phrase used everywhere ("ระบบ", "system") keeps
    weight 1 while one particular to this area weighs up to 1 + ln((1 + N) / 2); the smoothing
    keeps a phrase that every area raises (internet access, say) a theme in each of them rather
    than weighing it zero. A theme needs at least MIN_COMMENTS comments. A single word is dropped
    in favour of a two-word phrase containing it that covers most (SUBSUME) of its comments.

Reading and memory
    Two passes over one snapshot: the first counts, the second (which tokenizes only comments
    that can contain a chosen theme, and stops looking once every theme has its examples) picks
    the first two distinct comments, in comments.csv order, that mention each theme. Memory grows
    with the vocabulary (and a hash per distinct long comment, for the pasted ones), not with the
    number of comments, and is capped: a group holding more than MAX_PHRASES distinct phrases
    forgets those seen only once (lossy counting).

PyThaiNLP reads its dictionary and stopword list from files inside its wheel. It is imported with
PYTHAINLP_OFFLINE and PYTHAINLP_READ_ONLY set (unless set otherwise), so it never downloads
anything nor creates ~/pythainlp-data (which fails where the home folder is read-only).
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from functools import cache, lru_cache
from itertools import pairwise
from typing import Any

from bot.i18n import REASK_VERSIONS
from bot.surveys import Catalog
from storage.queries import Filter, Snapshot

from .summary import area_order, group_order

TOP = 10  # themes kept per group
MIN_COMMENTS = 2  # a theme is something at least two comments share
SUBSUME = 0.8  # a two-word phrase covering this share of a word's comments replaces the word
EXAMPLES = 2
MAX_PHRASES = 100_000  # distinct phrases per group before the rare ones are forgotten
CACHE = 4096  # tokenized texts remembered (short answers repeat)
RUNS = 16_384  # Thai runs and clauses whose segmentation and tags are remembered (pasted clauses repeat)
PASTED = 40  # normalised characters from which an identical comment is a paste, counted once
LANGUAGES = ("th", "en")

Scope = str  # "area" | "item" | "stakeholder_group"
SCOPES: tuple[Scope, ...] = ("area", "item", "stakeholder_group")
Key = tuple[Scope, str, str, str]  # (scope, area, item, group)
Phrase = tuple[str, ...]  # one or two tokens

# ---- masking ----------------------------------------------------------------------------------

_URL = r"(?:https?://|ftp://|www\.)[^\s<>\"']+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|go\.th|co\.th|or\.th|ac\.th|in\.th|th|io|gov)\b(?:/[^\s<>\"']*)?"
_EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
_HANDLE = r"@[\w.]+"
# A phone number: an optional +66 / (0…), then digits in groups separated by spaces, dots or dashes,
# eight or more digits in all; any other run of digits (Thai digits too) is a number.
_PHONE = r"(?:\+\s?\d{1,3}[\s.-]?)?\(?\d{1,4}\)?(?:[\s.-]?\d){6,}"
_NUMBER = r"\d+(?:[.,:/]\d+)*%?"
MASK = re.compile("|".join((_URL, _EMAIL, _HANDLE, _PHONE, _NUMBER)), re.IGNORECASE)
# What an example comment never shows: a way to reach a person (the report is read and passed on
# more widely than comments.csv, and a comment quoted as a theme's example needs no address).
CONTACT = re.compile("|".join((_EMAIL, _HANDLE, _PHONE)), re.IGNORECASE)
HIDDEN = "[…]"


def without_contacts(text: str) -> str:
    """`text` with its e-mail addresses, @handles and phone numbers replaced by HIDDEN."""
    return CONTACT.sub(HIDDEN, text)


_THAI = "\u0e01-\u0e4f"  # Thai letters, vowels, tone marks, ฯ and ๆ; not Thai digits (U+0E50…)
# A Thai run, or a word in another script (letters, with inner apostrophes or hyphens).
RUN = re.compile(rf"[{_THAI}]+|[^\W\d_{_THAI}\u0e50-\u0e7f]+(?:['’\-][^\W\d_{_THAI}\u0e50-\u0e7f]+)*")
THAI_RUN = re.compile(rf"[{_THAI}]+")
_CONSONANT = re.compile("[\u0e01-\u0e2e]")
# Anything but letters, marks and spaces ends a phrase: punctuation, symbols, the masked spans; an
# apostrophe or hyphen only when it is not inside a word (don't, e-mail).
_LETTER = r"[^\W\d_]"
_BREAK = re.compile(rf"[^\w\s'’\-\u0e00-\u0e7f]|_|(?<!{_LETTER})['’\-]|['’\-](?!{_LETTER})")
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
# What PyThaiNLP's normalize() repairs (เ typed twice for แ, a mark typed twice, a tone mark before the
# vowel it sits on, a mark after a space or at the start): it is slow, so only such texts go through it.
_MARK = "\u0e31\u0e34-\u0e3a\u0e47-\u0e4e"
_MISTYPED = re.compile(rf"เเ|([{_MARK}])\1|[\u0e48-\u0e4c][\u0e31\u0e34-\u0e3a]|(?:^|\s)[{_MARK}]")

# ---- stopwords --------------------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


EN_STOPWORDS = _words(
    """a about above after again against all also am an and any are aren't as at be because been before
    being below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't
    down during each etc even ever every few for from further get gets getting got had hadn't has hasn't have
    haven't having he her here hers herself him himself his how i i'm if in into is isn't it it's its itself
    just let's like lot lots make many may me more most much must mustn't my myself need needs no nor not
    now of off often on once one only or other ought our ours ourselves out over own please really same
    shan't she should shouldn't so some such than that that's the their theirs them themselves then there
    there's these they they're thing things think this those though through thus to too under until up
    upon us use used using very via want was wasn't way we we're were weren't what when where which while
    who whom why will with within without won't would wouldn't yes yet you your yours yourself yourselves
    already actually still first come comes came take takes took exist exists see sees saw reach reaches
    disappear disappears happen happens happened miss misses missed repeat repeats repeated"""
)  # the last two lines: adverbs and verbs that end an English phrase (no English tagger is bundled)
# Survey fillers (the question's own words, which every answer to it repeats) and a preposition
# PyThaiNLP keeps: words it keeps that are never a theme.
TH_FILLERS = _words("สำหรับ ทำ ไม่มี ต้องการ อยากให้ อยาก ควรมี ควร ปัญหา เรื่อง ความคิดเห็น เห็นด้วย ไม่เห็นด้วย ข้อเสนอแนะ คิดว่า")
# In PyThaiNLP's list, but in a consultation they are what the complaint is about; เปิด: ข้อมูลเปิด (open data).
TH_KEEP = _words("ช้า ยาก ง่าย เร็ว ขาด ไกล เสีย แพง เปิด")
# Tagged as verbs, but they modify the noun right before them: a phrase with it (ข้อมูลเปิด).
TH_MODIFIERS = _words("เปิด")
# Words missing from PyThaiNLP's dictionary, which newmm would otherwise cut (แอป → แอ ป).
TH_WORDS = _words("แอป")
NOUNS = frozenset({"NOUN", "PROPN"})  # Universal POS tags that head a noun phrase
MODIFIERS = NOUNS | {"ADJ"}  # and those that modify the noun before them
# Function words by their tag, never a theme: auxiliaries (ให้ได้), conjunctions (ทุกครั้งที่), prepositions,
# particles, determiners, pronouns.
FUNCTION = frozenset({"AUX", "SCONJ", "CCONJ", "ADP", "PART", "DET", "PRON"})


@cache
def _pythainlp() -> tuple[Callable[[str], list[str]], Callable[[str], str], frozenset[str]]:
    """(newmm tokenizer, Thai normaliser, Thai stopwords), imported on first use: only bundled data."""
    os.environ.setdefault("PYTHAINLP_OFFLINE", "1")
    os.environ.setdefault("PYTHAINLP_READ_ONLY", "1")
    from pythainlp.corpus import thai_stopwords, thai_words
    from pythainlp.tokenize import word_tokenize
    from pythainlp.util import dict_trie, normalize

    words = dict_trie(thai_words() | TH_WORDS)

    @lru_cache(maxsize=RUNS)
    def run(text: str) -> tuple[str, ...]:
        return tuple(word_tokenize(text, custom_dict=words, engine="newmm", keep_whitespace=False))

    def newmm(text: str) -> list[str]:
        return list(run(text))

    return newmm, normalize, (thai_stopwords() - TH_KEEP) | TH_FILLERS


@cache
def _tagger() -> Callable[[tuple[str, ...]], tuple[str, ...]]:
    """PyThaiNLP's perceptron part-of-speech tagger, ORCHID with Universal POS tags (bundled data)."""
    _pythainlp()  # sets the offline environment first
    from pythainlp.tag import pos_tag

    @lru_cache(maxsize=RUNS)
    def tags(words: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(t for _, t in pos_tag(list(words), engine="perceptron", corpus="orchid_ud"))

    return tags


# ---- tokens -----------------------------------------------------------------------------------


def is_thai(token: str) -> bool:
    return bool(THAI_RUN.fullmatch(token))


def is_word(token: str) -> bool:
    """A token that can be (part of) a theme: a Thai word with a consonant, or a word of two
    letters or more in another script; never one that starts with a combining mark."""
    if len(token) < 2 or unicodedata.category(token[0]).startswith("M"):
        return False
    if is_thai(token):
        return bool(_CONSONANT.search(token))
    return bool(RUN.fullmatch(token))


def clean(text: str) -> str:
    """NFC, Thai spelling normalised (tone mark order, doubled vowels), zero-width characters as spaces."""
    text = _ZERO_WIDTH.sub(" ", unicodedata.normalize("NFC", text))
    if _MISTYPED.search(text):
        _, normalize, _ = _pythainlp()
        text = normalize(text)
    return text


def segments(text: str) -> Iterator[list[str]]:
    """The text as runs of tokens that nothing but spaces separates: masked spans (URLs, e-mail,
    phone numbers, numbers) and punctuation end a run, and so does a space between two Thai runs
    (Thai puts a space where a clause ends, not between the words of a phrase). Thai tokens are newmm's, others
    lower-cased."""
    newmm, _, _ = _pythainlp()
    for piece in _BREAK.split(MASK.sub("\n.\n", clean(text))):
        tokens: list[str] = []
        thai = False  # the last run was Thai
        for run in RUN.findall(piece):
            if is_thai(run):
                if thai:  # a space between Thai runs ends a clause, as Thai is written: no phrase across it
                    yield tokens
                    tokens = []
                tokens += newmm(run)
                thai = True
            else:
                thai = False
                tokens.append(run.lower().replace("’", "'"))
        if tokens:
            yield tokens


def tokens(text: str) -> list[str]:
    """Every token of the text (masked spans and punctuation left out), in order."""
    return [t for seg in segments(text) for t in seg]


def phrase_text(phrase: Phrase) -> str:
    """How a phrase is shown: Thai words joined as Thai is written, other words with a space."""
    out = phrase[0]
    for prev, word in pairwise(phrase):
        out += word if is_thai(prev) and is_thai(word) else " " + word
    return out


class Phraser:
    """The distinct phrases (content words and adjacent pairs of them) of a comment, remembered
    for the last CACHE texts."""

    def __init__(self) -> None:
        self._memo: dict[str, frozenset[Phrase]] = {}

    def __call__(self, text: str) -> frozenset[Phrase]:
        found = self._memo.get(text)
        if found is None:
            found = frozenset(self._phrases(text))
            if len(self._memo) >= CACHE:
                self._memo.clear()
            self._memo[text] = found
        return found

    @staticmethod
    def _phrases(text: str) -> Iterator[Phrase]:
        for seg in segments(text):
            if any(map(is_thai, seg)):
                yield from _thai_phrases(seg)
            else:
                yield from _latin_phrases(seg)


def _content(tok: str, stop: frozenset[str]) -> bool:
    return is_word(tok) and tok not in (stop if is_thai(tok) else EN_STOPWORDS)


def _thai_phrases(seg: list[str]) -> Iterator[Phrase]:
    """A Thai clause's content words, and each noun with the modifier right after it (module doc)."""
    _, _, th_stop = _pythainlp()
    tags = iter(_tagger()(tuple(t for t in seg if is_thai(t))))
    prev: str | None = None  # the previous token, when it is a content noun
    for tok in seg:
        pos = next(tags) if is_thai(tok) else "PROPN"
        if pos in FUNCTION or not _content(tok, th_stop):
            prev = None
            continue
        yield (tok,)
        if prev is not None and prev != tok and (pos in MODIFIERS or tok in TH_MODIFIERS):
            yield (prev, tok)
        prev = tok if pos in NOUNS else None


def _latin_phrases(seg: list[str]) -> Iterator[Phrase]:
    """English content words, and adjacent pairs of them (stopwords and punctuation end a phrase)."""
    prev: str | None = None
    for tok in seg:
        if not _content(tok, EN_STOPWORDS):
            prev = None
            continue
        yield (tok,)
        if prev is not None and prev != tok:
            yield (prev, tok)
        prev = tok


def language(phrase: Phrase) -> str:
    """th when the phrase holds a Thai word, else en (any other script is read with English)."""
    return "th" if any(map(is_thai, phrase)) else "en"


def pasted_key(text: str) -> str:
    """The text as compared for pastes: cleaned, case folded, only letters, marks and digits."""
    return "".join(ch for ch in clean(text).casefold() if unicodedata.category(ch)[0] in "LMN")


# ---- themes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Theme:
    tokens: Phrase
    comments: int  # comments in the group that mention it
    share: float  # percent of the group's comments
    score: float  # comments × idf against the sibling groups
    examples: tuple[str, ...] = ()  # up to two of those comments, as typed but for contact details

    @property
    def text(self) -> str:
        return phrase_text(self.tokens)

    @property
    def language(self) -> str:
        return language(self.tokens)


@dataclass
class Themes:
    """Themes per group, key (scope, area, item, group), and each group's number of comments."""

    groups: dict[Key, list[Theme]] = field(default_factory=dict)
    totals: dict[Key, int] = field(default_factory=dict)

    def of(self, scope: Scope, area: str = "", item: str = "", group: str = "", lang: str = "") -> list[Theme]:
        """A group's themes, Thai ones first then English, each best first; or one language's."""
        found = self.groups.get((scope, area, item, group), [])
        return [t for t in found if t.language == lang] if lang else found


def keys_of(area: str, item: str, group: str | None) -> tuple[Key, ...]:
    """The groups a comment belongs to: its area, its capability (if any), its stakeholder group."""
    keys: list[Key] = [("area", area, "", "")]
    if item:
        keys.append(("item", area, item, ""))
    keys.append(("stakeholder_group", "", "", group or ""))
    return tuple(keys)


def _forget_rare(counts: Counter[Phrase]) -> None:
    floor = 1
    while len(counts) > MAX_PHRASES // 2:
        for phrase in [p for p, n in counts.items() if n <= floor]:
            del counts[phrase]
        floor += 1


def rank(counts: dict[Key, Counter[Phrase]], totals: dict[Key, int], top: int = TOP) -> dict[Key, list[Theme]]:
    """The top themes of each group in each language, Thai first, by comments × idf against the
    group's siblings (see the module doc)."""
    siblings: dict[Scope, list[Key]] = {}
    for key in counts:
        siblings.setdefault(key[0], []).append(key)
    out: dict[Key, list[Theme]] = {}
    for keys in siblings.values():
        df: Counter[Phrase] = Counter()
        for key in keys:
            df.update(p for p, n in counts[key].items() if n > 0)
        n_docs = len(keys)
        for key in keys:
            c = counts[key]
            subsumed = {
                word
                for phrase, n in c.items()
                if len(phrase) == 2 and n >= MIN_COMMENTS
                for word in phrase
                if n >= SUBSUME * c[(word,)]
            }
            scored = [
                (n * (1 + math.log((1 + n_docs) / (1 + df[phrase]))), n, phrase)
                for phrase, n in c.items()
                if n >= MIN_COMMENTS and not (len(phrase) == 1 and phrase[0] in subsumed)
            ]
            scored.sort(key=lambda s: (-s[0], -s[1], -len(s[2]), s[2]))
            total = totals[key]
            out[key] = [
                Theme(phrase, n, round(100 * n / total, 1), round(score, 3))
                for lang in LANGUAGES
                for score, n, phrase in [s for s in scored if language(s[2]) == lang][:top]
            ]
    return out


def text_order(catalog: Catalog | None, flt: Filter) -> list[tuple[str, str, str]]:
    """The free-text questions in survey order (the order comments.csv lists answers in)."""
    if catalog is None:
        return []
    return [
        (s.area, s.item_id, s.question.id)
        for a in catalog.areas
        if not flt.area or a == flt.area
        for s in catalog.flow(a)
        if s.question.kind == "text"
    ]


async def find_themes(snap: Snapshot, flt: Filter, catalog: Catalog | None = None, top: int = TOP) -> Themes:
    """The themes of the comments `flt` selects, with their example comments (two passes, one snapshot)."""
    order = text_order(catalog, flt)
    phrases = Phraser()
    counts: dict[Key, Counter[Phrase]] = {}
    totals: Counter[Key] = Counter()
    pasted: set[int] = set()  # hashes of (group, long normalised text) already counted
    async for row in snap.comments(flt, order):
        _who, _channel, group, _region, area, item, _question, text, *_ = row
        found = phrases(text)
        same = pasted_key(text)
        for key in keys_of(area, item, group):
            if len(same) >= PASTED:
                if (mark := hash((key, same))) in pasted:
                    continue
                pasted.add(mark)
            totals[key] += 1
            c = counts.setdefault(key, Counter())
            c.update(found)
            if len(c) > MAX_PHRASES:
                _forget_rare(c)
    ranked = rank(counts, totals, top)
    examples = await _examples(snap, flt, order, ranked, phrases)
    themes = Themes(totals=dict(totals))
    for key, found in ranked.items():
        themes.groups[key] = [
            Theme(t.tokens, t.comments, t.share, t.score, tuple(examples.get((key, t.tokens), ()))) for t in found
        ]
    return themes


async def _examples(
    snap: Snapshot,
    flt: Filter,
    order: Sequence[tuple[str, str, str]],
    ranked: dict[Key, list[Theme]],
    phrases: Phraser,
) -> dict[tuple[Key, Phrase], list[str]]:
    """The first EXAMPLES comments mentioning each theme, in comments order, distinct once normalised."""
    wanted: dict[Key, set[Phrase]] = {k: {t.tokens for t in ts} for k, ts in ranked.items() if ts}
    picked: dict[tuple[Key, Phrase], list[str]] = {}
    seen: dict[tuple[Key, Phrase], set[str]] = {}
    if not wanted:
        return picked
    # an example is quoted: none of those who agreed to a notice that promised aggregate results only
    async with aclosing(aiter(snap.comments(flt, order, unquotable=REASK_VERSIONS))) as rows:
        async for row in rows:
            _who, _channel, group, _region, area, item, _question, text, *_ = row
            keys = [k for k in keys_of(area, item, group) if wanted.get(k)]
            if not keys:
                continue
            low = clean(text).lower().replace("’", "'")
            # Cheap before tokenizing: every token of a theme must appear in the text.
            if not any(all(tok in low for tok in p) for k in keys for p in wanted[k]):
                continue
            found = phrases(text)
            same = pasted_key(text)
            for key in keys:
                for p in list(wanted[key] & found):
                    got = picked.setdefault((key, p), [])
                    if same not in (had := seen.setdefault((key, p), set())):
                        had.add(same)
                        got.append(without_contacts(text))
                    if len(got) >= EXAMPLES:
                        wanted[key].discard(p)
            if not any(wanted.values()):
                break
    return picked


# ---- themes.csv -------------------------------------------------------------------------------


def ordered_keys(themes: Themes, catalog: Catalog | None, flt: Filter) -> Iterator[Key]:
    """Areas in survey order, then capabilities in survey order, then stakeholder groups."""
    present = themes.groups
    areas = area_order(catalog, flt, {k[1] for k in present if k[0] == "area"})
    for area in areas:
        if ("area", area, "", "") in present:
            yield ("area", area, "", "")
    for area in areas:
        listed = [i.id for i in catalog.areas[area].items] if catalog and area in catalog.areas else []
        found = {k[2] for k in present if k[0] == "item" and k[1] == area}
        for item in listed + sorted(found - set(listed)):
            if ("item", area, item, "") in present:
                yield ("item", area, item, "")
    groups = {k[3] for k in present if k[0] == "stakeholder_group"}
    for group in group_order(catalog, "stakeholder_group", groups):
        yield ("stakeholder_group", "", "", group)


def theme_rows(themes: Themes, catalog: Catalog | None, flt: Filter) -> Iterable[tuple[Any, ...]]:
    """The rows of themes.csv (see the themes table in exports.tables)."""
    for key in ordered_keys(themes, catalog, flt):
        scope, area, item, group = key
        for lang in LANGUAGES:
            for n, t in enumerate(themes.of(*key, lang=lang), 1):
                ex = (*t.examples, "", "")[:EXAMPLES]
                yield (scope, area, item, group, lang, n, t.text, len(t.tokens), t.comments, t.share, t.score, *ex)


async def themes_table(snap: Snapshot, flt: Filter, catalog: Catalog | None) -> AsyncIterator[tuple[Any, ...]]:
    for row in theme_rows(await find_themes(snap, flt, catalog), catalog, flt):
        yield row


def shorten(text: str, limit: int = 160) -> str:
    """At most about `limit` characters of `text`, cut only between whole tokens (never inside a
    Thai word or a grapheme cluster), with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    newmm, _, _ = _pythainlp()
    out = ""
    for piece in re.split(r"(\s+)", text):
        parts = newmm(piece) if THAI_RUN.search(piece) else [piece]
        for part in parts:
            if len(out) + len(part) > limit:
                return (out.rstrip() or part) + "…"
            out += part
    return out
