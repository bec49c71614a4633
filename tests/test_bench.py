"""The benchmarks cannot rot unnoticed: bench/smoke.py (run by .ci/run) lists every script in
bench/, each has the --smoke mode, and none needs the test suite to run."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

from smoke import BENCHMARKS  # noqa: E402


def scripts() -> set[str]:
    return {p.stem for p in BENCH.glob("*.py")} - {"_common", "smoke"}


def test_the_smoke_run_lists_every_benchmark() -> None:
    assert set(BENCHMARKS) == scripts()


# bench/live.py still borrows tests/test_live.py's room (live_stack, chromium_on): it moves into
# testbed/ with the presenter's hardening, which rewrites that module. The only exception.
BORROWS_TESTS = {"live"}


def test_every_benchmark_has_the_smoke_mode_and_no_test_imports() -> None:
    for name in scripts():
        tree = ast.parse((BENCH / f"{name}.py").read_text(encoding="utf-8"))
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        if name not in BORROWS_TESTS:
            assert not {m for m in imported if m == "tests" or m.startswith(("tests.", "pytest"))}, name
        calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        assert "modes" in calls, f"bench/{name}.py has no --quick/--smoke (bench/_common.modes)"


def test_a_smoke_run_judges_behaviour_not_goals() -> None:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from _common import Verdicts\n"
        "v = Verdicts(smoke=True); v.at_least('ratio', 0.1, 0.5); v.exactly('lost', 0, 0); print(v.print())\n"
        "v = Verdicts(smoke=True); v.exactly('lost', 3, 0); print(v.print())\n"
        "v = Verdicts(); v.at_least('ratio', 0.1, 0.5); print(v.print())\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(BENCH)], capture_output=True, text=True, check=True).stdout
    assert [line for line in out.splitlines() if line in ("0", "1")] == ["0", "1", "1"]
