"""Every benchmark in --smoke mode, one after another: does each still run, and does the bot
behave under it (nothing lost, nothing twice, nothing refused)? Goals are not judged in a run
of seconds. Exits non-zero when any benchmark fails or overruns; .ci/run runs this after the tests.

    python bench/smoke.py [NAME ...]      # e.g. python bench/smoke.py durable live
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TIMEOUT = 240.0  # seconds one smoke run may take (each takes 3-40 s on 2 vCPUs)
BENCHMARKS = (  # every script in bench/ but the shared module and this one (tests/test_bench.py checks)
    "broadcast",
    "consultation",
    "durable",
    "export",
    "export_1m",
    "line_webhooks",
    "live",
    "memory",
    "pg_workers",
    "telegram_participants",
    "wave",
    "workbooks",
)


def run(name: str) -> tuple[str, float, str]:
    t0 = time.perf_counter()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        done = subprocess.run(
            [sys.executable, str(HERE / f"{name}.py"), "--smoke"],
            capture_output=True, text=True, timeout=TIMEOUT, env=env, cwd=HERE.parent,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        return f"TIMED OUT after {TIMEOUT:.0f} s", time.perf_counter() - t0, out
    status = "ok" if done.returncode == 0 else f"FAILED (exit {done.returncode})"
    return status, time.perf_counter() - t0, done.stdout + done.stderr


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", choices=[[], *BENCHMARKS], metavar="NAME", help="default: all")
    names = ap.parse_args().names or BENCHMARKS
    failed = []
    for name in names:
        status, took, output = run(name)
        print(f"bench/{name}.py --smoke: {status} in {took:.1f} s", flush=True)
        if status != "ok":
            failed.append(name)
            print("\n".join("    " + line for line in output.splitlines()[-40:]), flush=True)
    print(
        f"{len(names) - len(failed)} of {len(names)} benchmarks ran and behaved"
        + (f"; failed: {failed}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
