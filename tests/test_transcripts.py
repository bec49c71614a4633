"""Golden transcripts through the pure engine: the replies and the state after every turn."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.surveys import Catalog

from .transcript import check, updating

DIR = Path(__file__).parent / "transcripts"
TRANSCRIPTS = sorted(DIR.glob("*.txt"))


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def test_transcript(path: Path, catalog: Catalog) -> None:
    check(catalog, path, update=updating())


def test_a_state_that_differs_fails_though_the_text_is_the_same(catalog: Catalog, tmp_path: Path) -> None:
    """The pending deep link renders nothing until consent is given: only the state shows it."""
    for suffix in (".txt", ".states.jsonl"):
        shutil.copy(DIR / f"en_deep_link_delete{suffix}", tmp_path / f"t{suffix}")
    check(catalog, tmp_path / "t.txt")
    states = tmp_path / "t.states.jsonl"
    turns = [json.loads(line) for line in states.read_text(encoding="utf-8").splitlines()]
    assert turns[0]["state"]["pending_area"] == "health"
    del turns[0]["state"]["pending_area"]
    states.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in turns), encoding="utf-8")
    with pytest.raises(AssertionError, match="turn 1"):
        check(catalog, tmp_path / "t.txt")


def test_every_transcript_has_its_states(catalog: Catalog) -> None:
    assert len(TRANSCRIPTS) >= 5
    assert all(p.with_suffix(".states.jsonl").exists() for p in TRANSCRIPTS)
