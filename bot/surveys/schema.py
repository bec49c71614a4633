"""Survey files as validated data: the pydantic models behind bot/surveys/*.yaml."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ..i18n import tr

Id = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,19}$")]
Lang = Literal["th", "en"]
LANGS: tuple[Lang, ...] = ("th", "en")
LINE_LABEL_MAX = 20  # LINE quick-reply label limit, in characters
EXAMPLE_MAX = 80  # a level's example is one line of a compact list, in characters
CALLBACK_MAX = 64  # Telegram callback_data limit, in bytes


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    """A participant-facing string in both languages."""

    th: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    en: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]

    def __call__(self, lang: str) -> str:
        return self.en if lang == "en" else self.th


class ShortText(Text):
    """A button label: must fit LINE's quick-reply limit in both languages."""

    @model_validator(mode="after")
    def _fits(self) -> ShortText:
        for lang in LANGS:
            if len(getattr(self, lang)) > LINE_LABEL_MAX:
                raise ValueError(f"{lang} label longer than {LINE_LABEL_MAX} characters")
        return self


def _one_line(text: Text) -> Text:
    """A level's example is shown as one line of a compact list: short in both languages."""
    for lang in LANGS:
        if (n := len(getattr(text, lang))) > EXAMPLE_MAX:
            raise Located((lang,), f"example is {n} characters: at most {EXAMPLE_MAX}, as it is shown on one line")
    return text


# still a Text (so code building an Item may pass one), checked for length
LineText = Annotated[Text, AfterValidator(_one_line)]


class Level(Strict):
    """A step of the maturity model: one entry gives both languages' name and plain meaning, so a
    Thai and an English participant (and the analyst comparing them) read the same level. `name`
    is the stage ("ดิจิทัลเต็มรูปแบบ" / "Managed (Fully digital)"), shown after "ระดับ 4" / "Level 4";
    `means` is one plain sentence of what the level means for a public service."""

    level: int = Field(ge=1, le=9)
    name: Text
    means: Text | None = None

    def named(self, lang: str) -> str:
        """The level as every screen names it: "ระดับ 4 ดิจิทัลเต็มรูปแบบ" / "Level 4 Managed (Fully digital)"."""
        return tr(lang, "level_named", level=self.level, name=self.name(lang))


class Option(Strict):
    """One answer choice; `id` is what buttons carry, `value` what analysts count."""

    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,12}$")]
    value: int | None = None
    label: Text
    short: ShortText | None = None
    aliases: tuple[str, ...] = ()

    def button(self, lang: str) -> str:
        return (self.short or self.label)(lang)


class AskIf(Strict):
    """When a question is asked: when one of the ratings `of` is at most `rating_at_most`, or when
    one of the level picks `differs_from_plan` is not the level the plan gives the capability
    (a "don't know" differs from nothing). One of the two forms, not both."""

    of: tuple[Id, ...] = ()
    rating_at_most: int | None = None
    differs_from_plan: tuple[Id, ...] = ()

    @model_validator(mode="after")
    def _one_form(self) -> AskIf:
        rating = bool(self.of) or self.rating_at_most is not None
        if rating and self.differs_from_plan:
            raise ValueError("ask_if takes either of + rating_at_most or differs_from_plan, not both")
        if rating and not (self.of and self.rating_at_most is not None):
            raise ValueError("ask_if needs both of (the ratings) and rating_at_most")
        if not rating and not self.differs_from_plan:
            raise ValueError("ask_if needs of + rating_at_most, or differs_from_plan")
        return self

    @property
    def refs(self) -> tuple[str, ...]:
        return self.of or self.differs_from_plan


QuestionKind = Literal["rating", "level", "text"]
Marks = Literal["current", "target"]


class Question(Strict):
    """One question. `rating`: the agreement scale; `level`: a level of the maturity scale, about
    the capability's assessed level today (`marks: current`) or its 2027 target (`marks: target`),
    the plan's level marked on its button; `text`: free text."""

    id: Id
    kind: QuestionKind
    prompt: Text
    optional: bool = False
    ask_if: AskIf | None = None
    marks: Marks | None = None  # level questions: which plan level they are about

    @model_validator(mode="after")
    def _marks(self) -> Question:
        if self.kind == "level" and self.marks is None:
            raise Located(("marks",), "a level question needs marks: current or target")
        if self.kind != "level" and self.marks is not None:
            raise Located(("marks",), "marks is only for level questions")
        return self


class Item(Strict):
    """A capability of the maturity model with its assessed and proposed levels."""

    id: Id
    capability: Text
    current: int
    target: int
    # what each level looks like for this capability, keyed by level: every level of the scale or none
    examples: dict[int, LineText] | None = None

    @model_validator(mode="after")
    def _target_not_below(self) -> Item:
        if self.target < self.current:
            raise ValueError(f"target level {self.target} is below current level {self.current}")
        return self


class Located(ValueError):
    """A validation error that knows where below the model it is (for file:line reports)."""

    def __init__(self, loc: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.loc = loc


def _unique(values: list[str], what: str, field: str) -> None:
    seen: set[str] = set()
    for i, v in enumerate(values):
        if v in seen:
            raise Located((field, i, "id"), f"duplicate {what} id {v!r}")
        seen.add(v)


def _check_ask_if(questions: tuple[Question, ...], field: str) -> None:
    """Every `ask_if` must name questions asked before it: ratings for `of`, levels for
    `differs_from_plan`."""
    kinds: dict[str, str] = {}
    for i, q in enumerate(questions):
        if q.ask_if:
            form, want = ("of", "rating") if q.ask_if.of else ("differs_from_plan", "level")
            for ref in q.ask_if.refs:
                if kinds.get(ref) != want:
                    raise Located(
                        (field, i, "ask_if", form),
                        f"ask_if refers to {ref!r}, which is not a {want} question asked before it",
                    )
        kinds[q.id] = q.kind


class Profile(Strict):
    """The short profile asked after consent; `age` may be skipped."""

    group: tuple[Option, ...] = Field(min_length=2)
    region: tuple[Option, ...] = Field(min_length=2)
    age: tuple[Option, ...] = Field(min_length=2)

    @model_validator(mode="after")
    def _ids(self) -> Profile:
        for name in ("group", "region", "age"):
            _unique([o.id for o in getattr(self, name)], f"{name} option", name)
        return self


class Common(Strict):
    """What every area shares: the maturity scale, the rating scale, the per-item questions."""

    levels: tuple[Level, ...] = Field(min_length=1)
    scale: tuple[Option, ...] = Field(min_length=2)
    item_questions: tuple[Question, ...] = Field(min_length=1)
    profile: Profile

    @model_validator(mode="after")
    def _refs(self) -> Common:
        _unique([str(lv.level) for lv in self.levels], "level", "levels")
        _unique([o.id for o in self.scale], "scale option", "scale")
        _unique([q.id for q in self.item_questions], "question", "item_questions")
        _check_ask_if(self.item_questions, "item_questions")
        return self

    @model_validator(mode="after")
    def _means(self) -> Common:
        given = [lv.means is not None for lv in self.levels]
        if any(given) and not all(given):
            i = given.index(False)
            raise Located(("levels", i, "means"), "give every level its meaning (means), or none")
        return self

    def level(self, n: int) -> Level | None:
        return next((lv for lv in self.levels if lv.level == n), None)

    def named(self, n: int, lang: str) -> str:
        """Level `n` named (Level.named), or just "ระดับ n" for a level the scale lacks."""
        found = self.level(n)
        return found.named(lang) if found else tr(lang, "level_named", level=n, name="").strip()


class Area(Strict):
    """One focus area's survey: its capability items and its closing free-text questions."""

    id: Id
    order: int = 100  # position in the area menu
    title: Text
    short: ShortText
    intro: Text
    items: tuple[Item, ...] = Field(min_length=1)
    closing: tuple[Question, ...] = ()
    item_questions: tuple[Question, ...] | None = None  # overrides the common ones

    @model_validator(mode="after")
    def _refs(self) -> Area:
        _unique([i.id for i in self.items], "item", "items")
        _unique([q.id for q in self.closing], "closing question", "closing")
        for i, q in enumerate(self.closing):
            if q.ask_if:
                raise Located(("closing", i, "ask_if"), "ask_if is only for item questions")
            if q.kind == "level":
                raise Located(
                    ("closing", i, "kind"), "a level question is about a capability: put it in item_questions"
                )
        if self.item_questions is not None:
            _unique([q.id for q in self.item_questions], "question", "item_questions")
            _check_ask_if(self.item_questions, "item_questions")
        return self
