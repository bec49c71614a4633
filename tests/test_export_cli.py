"""`rabfang export` and `rabfang report` from the command line; the progress bar; streaming."""

from __future__ import annotations

import io
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.surveys import Catalog
from exports import write_export
from exports.progress import ProgressBar, terminal_progress
from storage import Database
from storage.queries import bulk_load
from tests.conftest import AGREEMENT
from tests.test_export import FILES, seed


@pytest.fixture(scope="session")
def catalog(agreement_catalog: Catalog) -> Catalog:
    """These answers are ratings on the agreement scale: the survey form that asks them."""
    return agreement_catalog


@pytest.fixture
async def cli_db(tmp_path: Path, catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.db"
    db = await Database.open(path)
    try:
        await seed(db, catalog)
    finally:
        await db.close()
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("RABFANG_DB", str(path))
    monkeypatch.setenv("RABFANG_SURVEYS_DIR", str(AGREEMENT))
    return path


def run(*argv: str) -> int:
    return main(list(argv))


def test_export_command(cli_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = _in_thread(run, "export", "--out", str(out), "--area", "education", "--until", "2026-11-20")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert {p.name for p in out.iterdir()} == FILES
    assert f"{out / 'responses.csv'}: 15 rows" in captured.out
    assert captured.err == ""  # no progress bar when stderr is not a terminal

    code = _in_thread(run, "export", "--out", str(tmp_path / "x"), "--format", "xlsx", "--channel", "line")
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == ["README.txt", "rabfang-export.xlsx"]


def test_export_command_refuses_unknown_scope(cli_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _in_thread(run, "export", "--out", str(tmp_path / "o"), "--area", "space") == 2
    assert "unknown area 'space'" in capsys.readouterr().err
    assert _in_thread(run, "export", "--out", str(tmp_path / "o"), "--channel", "fax") == 2
    assert "unknown channel 'fax'" in capsys.readouterr().err
    assert (
        _in_thread(run, "export", "--out", str(tmp_path / "o"), "--since", "2026-12-01", "--until", "2026-11-01") == 2
    )
    assert not (tmp_path / "o").exists()
    with pytest.raises(SystemExit):
        run("export", "--out", str(tmp_path / "o"), "--format", "pdf")


def test_report_command(cli_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r" / "report.html"
    assert _in_thread(run, "report", "--out", str(out), "--area", "education", "--lang", "en") == 0
    html = out.read_text(encoding="utf-8")
    assert 'data-lang="en"' in html and 'id="area-education"' in html
    assert _in_thread(run, "report", "--out", str(out), "--area", "moon") == 2


def _in_thread(fn, *args):
    """main() runs its own event loop; pytest-asyncio's may not be running here, but be safe."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal() -> None:
    assert terminal_progress(io.StringIO()) is None
    stream = Tty()
    bar = terminal_progress(stream)
    assert isinstance(bar, ProgressBar)
    bar("responses.csv", 0, 200)
    bar("responses.csv", 200, 200)
    bar("participants.csv", 3, None)
    bar.close()
    text = stream.getvalue()
    assert "\rresponses.csv      [" + "#" * 30 + "] 100%  200/200" in text
    assert "participants.csv   3 rows" in text and text.endswith("\n")


async def test_progress_reports_reach_the_callback(db: Database, catalog: Catalog, tmp_path: Path) -> None:
    await seed(db, catalog)
    calls: list[tuple[str, int, int | None]] = []
    await write_export(db, tmp_path / "p", progress=lambda *a: calls.append(a), catalog=catalog)
    assert ("responses.csv", 21, 21) in calls and ("comments.csv", 8, 8) in calls
    assert ("participants.csv", 4, None) in calls


# ---- streaming ------------------------------------------------------------------------------


async def _load(db: Database, catalog: Catalog, answers: int) -> None:
    steps = [s for a in catalog.areas for s in catalog.flow(a)]
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    people, rows = [], []
    pid = 0
    while len(rows) < answers:
        pid += 1
        at = (t0 + timedelta(minutes=pid)).isoformat()
        people.append((pid, "line", f"u{pid}", f"{pid:016x}", "th", "given", at, "citizen", "north", None, at))
        for i, s in enumerate(steps[: answers - len(rows)]):
            if s.question.kind == "text":
                rows.append((pid, s.area, s.item_id, s.question.id, None, None, "ข้อความ " * 20, 0, "th", at))
            else:
                v = (pid + i) % 5 + 1
                rows.append((pid, s.area, s.item_id, s.question.id, str(v), v, None, 0, "th", at))
    await bulk_load(db, people, rows)


async def _peak(db: Database, catalog: Catalog, out: Path) -> int:
    from exports.themes import tokens

    tokens("อินเทอร์เน็ต")  # PyThaiNLP's dictionary loads once per process (tens of MB): not per answer
    tracemalloc.start()
    try:
        await write_export(db, out, catalog=catalog)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_export_memory_does_not_grow_with_the_answers(catalog: Catalog, tmp_path: Path) -> None:
    peaks = {}
    for n in (4_000, 32_000):
        db = await Database.open(tmp_path / f"{n}.db")
        try:
            await _load(db, catalog, n)
            peaks[n] = await _peak(db, catalog, tmp_path / f"out{n}")
            assert (tmp_path / f"out{n}" / "responses.csv").read_bytes().count(b"\n") == n + 1
        finally:
            await db.close()
    # 28,000 more answers (~5 MB of CSV) may not cost more than a fixed margin
    assert peaks[32_000] < peaks[4_000] + 1_500_000, peaks
