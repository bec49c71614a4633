"""Hostile workbooks: time and peak memory of `rabfang surveys import` reading each case of
testbed/workbooks.py (a stray cell at row 1,048,576, one past it, a claimed dimension, a 200 MB zip
bomb, 100,000 questions, an .xls), against reading the plain export of the shipped surveys in the
same run. Each read runs in a child process (imports included; peak = the child's VmHWM).

    python bench/workbooks.py [--quick | --smoke]

Goal: every workbook up to 2 MB on disk accepted or refused within 10 s under 200 MB, in words.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from _common import Verdicts, header, modes, tempdir

from testbed import workbooks as w

SECONDS_GOAL, MB_GOAL = 10.0, 200.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    modes(ap, "the same cases, one read each")
    args = ap.parse_args()
    reads = 1 if args.quick or args.smoke else 3
    verdicts = Verdicts(smoke=args.smoke)
    with tempdir("workbooks") as tmp:
        header("hostile workbooks: surveys import, time and peak memory", args, tmp)
        base = w.exported(tmp / "surveys.xlsx")
        plain = [w.measure(base) for _ in range(reads)]
        base_s = statistics.median(r["seconds"] for r in plain)
        base_mb = max(r["peak_mb"] for r in plain)
        print(
            f"{'case':<34} | {'on disk':>9} | {'seconds':>7} | {'× plain':>7} | {'peak MB':>7} | {'× plain':>7} | answer"
        )
        print(f"{'the plain export (baseline)':<34} | {base.stat().st_size / 1024:>6.0f} KB | {base_s:>7.2f} | "
              f"{1:>7.2f} | {base_mb:>7.0f} | {1:>7.2f} | accepted")  # fmt: skip
        for case, build in w.HOSTILE.items():
            path = build(base, tmp / f"case-{len(case)}.xlsx")
            found = [w.measure(path) for _ in range(reads)]
            s = statistics.median(r["seconds"] for r in found)
            mb = max(r["peak_mb"] for r in found)
            r = found[0]
            answer = (
                "CRASHED" if r["crashed"] else "accepted" if r["accepted"] else str(r["problems"][0]).split(": ", 1)[-1]
            )
            print(f"{case:<34} | {path.stat().st_size / 1024:>6.0f} KB | {s:>7.2f} | {s / base_s:>7.2f} | {mb:>7.0f} | "
                  f"{mb / base_mb:>7.2f} | {answer[:90]}")  # fmt: skip
            verdicts.exactly(f"{case}: crashed", int(bool(r["crashed"])), 0)
            verdicts.at_most(f"{case}: seconds", s, SECONDS_GOAL, " s")
            verdicts.at_most(f"{case}: peak memory", mb, MB_GOAL, " MB")
    return verdicts.print()


if __name__ == "__main__":
    sys.exit(main())
