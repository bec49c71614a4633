"""Reading load on LINE: a participant who taps through education (the plan's levels, so no
"why?") reads at most 350 characters per capability, counted from the requests the fake LINE API
received through the real webhook and SDK; no label or legend numbers a choice twice; and the
committed transcripts (docs/line-education-th.txt, -en.txt) are what the code shows now."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.config import Settings
from bot.surveys import Catalog
from testbed.line_api import CHANNEL_SECRET, FakeLineApi
from tests.line_screen import Walk, doubled_numbers, education_on_line
from tests.test_line import Harness
from tests.transcript import updating

MOST = 350  # characters per capability (issue 21)
DOCS = Path(__file__).parent.parent / "docs"
USERS = {"th": "U" + "7" * 32, "en": "U" + "8" * 32}


async def _walks(db: Path, catalog: Catalog) -> dict[str, Walk]:
    async with FakeLineApi() as api:
        settings = Settings(
            _env_file=None,
            db=db,
            line_channel_secret=CHANNEL_SECRET,
            line_channel_access_token=api.token,
            line_api_base_url=api.url,
        )
        line = await Harness(settings, api).start()
        try:
            walks = {lang: await education_on_line(line, USERS[lang], lang, catalog) for lang in USERS}
        finally:
            await line.stop()
        assert api.calls and all(c.status == 200 for c in api.calls), [c.body.get("_error") for c in api.calls]
        return walks


@pytest.fixture(scope="module")
def walks(tmp_path_factory: pytest.TempPathFactory, catalog: Catalog) -> dict[str, Walk]:
    """Both languages' walks through education, once for the module (each is some 20 webhooks)."""
    return asyncio.run(_walks(tmp_path_factory.mktemp("load") / "line.db", catalog))


@pytest.mark.parametrize("lang", ["th", "en"])
def test_a_capability_reads_at_most_350_characters(walks: dict[str, Walk], lang: str, catalog: Catalog) -> None:
    walk = walks[lang]
    assert [c.key for c in walk.capabilities] == [f"education.{i.id}" for i in catalog.areas["education"].items]
    for cap in walk.capabilities:
        kinds = [m["type"] for m in cap.messages]
        assert kinds == ["flex", "text"], (cap.key, kinds)  # the card once, then the next question short
        assert cap.characters <= MOST, (cap.key, cap.characters)


@pytest.mark.parametrize("lang", ["th", "en"])
def test_no_label_or_legend_numbers_a_choice_twice(walks: dict[str, Walk], lang: str) -> None:
    assert doubled_numbers(walks[lang].messages) == []
    # the level buttons are their numbers; the plan's marked; a legend names what is not a number
    card, question = walks[lang].capabilities[0].messages
    marked = {"th": "2 ✓ตามแผน", "en": "2 (plan)"}[lang]
    quick = [i["action"]["label"] for i in card["quickReply"]["items"]]
    assert quick[:5] == ["1", marked, "3", "4", "5"]
    legend = question["text"].splitlines()[-1].split(" · ")  # the choices; controls are typed as words
    assert legend == ["1", "2", "3", {"th": "4 ✓ตามแผน", "en": "4 (plan)"}[lang], "5", quick[5].join(["6 ", ""])]


@pytest.mark.parametrize("lang", ["th", "en"])
def test_the_guide_is_one_flex_message_and_the_question_comes_back_short(walks: dict[str, Walk], lang: str) -> None:
    guide, again = walks[lang].capabilities[0].guide
    assert guide["type"] == "flex" and guide["contents"]["type"] == "bubble"
    assert len(guide["altText"]) <= 400 and again["type"] == "text"
    assert again["quickReply"]["items"][-1]["action"]["data"].endswith("=~back")


@pytest.mark.parametrize("lang", ["th", "en"])
def test_the_committed_transcript_is_what_line_shows_now(walks: dict[str, Walk], lang: str) -> None:
    path = DOCS / f"line-education-{lang}.txt"
    if updating():
        path.write_text(walks[lang].text, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == walks[lang].text, (
        f"RABFANG_UPDATE_TRANSCRIPTS=1 pytest {Path(__file__).name} rewrites {path.name}; read the diff"
    )
