"""Shared pieces of the benchmarks: the machine, percentiles, verdicts, RSS, and a simulated
participant who answers a whole area survey the way a person tapping buttons would.

Not part of the test run. Every figure a benchmark prints is paired with a baseline measured in
the same run on the same machine, because the machine is shared and noisy: ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # testbed, and a checkout without an editable install (PYTHONPATH still wins)
    sys.path.append(str(ROOT))

from bot.model import Inbound  # noqa: E402

# ---- the machine --------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def disk_of(path: Path) -> str:
    """Filesystem type and device of `path`, e.g. 'ext4 on /dev/vda'."""
    best, fs, dev = "", "?", "?"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount, fstype, *_ = line.split()
            if str(path.resolve()).startswith(mount) and len(mount) > len(best):
                best, fs, dev = mount, fstype, device
    except OSError:
        pass
    return f"{fs} on {dev} (mounted at {best or '?'})"


def machine(tmp: Path | None = None) -> str:
    tmp = tmp or Path(tempfile.gettempdir())
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} CPU ({cpu_model()}), {mem:.1f} GiB RAM, Python {platform.python_version()},"
        f" SQLite {sqlite3.sqlite_version}, temp dir {tmp}: {disk_of(tmp)}"
    )


def header(title: str, args: argparse.Namespace, tmp: Path | None = None) -> None:
    mode = "smoke" if args.smoke else "quick" if args.quick else ""
    print(f"== {title}{f' (--{mode})' if mode else ''}")
    print(f"machine: {machine(tmp)}")
    print(f"command: python {' '.join(sys.argv)}")


@contextmanager
def tempdir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"rabfang-bench-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# ---- figures ------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))
    return s[k]


@dataclass
class Verdicts:
    """Checks collected while a benchmark runs, printed together at the end. Two kinds:
    goals (`at_least`, `at_most`: a ratio, a latency, a size) and behaviour (`exactly`, `some`:
    nothing lost, nothing twice, nothing refused). Under `smoke` the goals are printed but not
    judged, since a run of a few seconds measures nothing; behaviour is always judged, and a
    benchmark exits non-zero when the bot misbehaved."""

    smoke: bool = False
    rows: list[tuple[str, str, bool | None]] = field(default_factory=list)

    def _goal(self, what: str, figure: str, ok: bool) -> bool:
        self.rows.append((what, figure, None if self.smoke else ok))
        return ok

    def at_least(self, what: str, value: float, goal: float, unit: str = "×") -> bool:
        return self._goal(what, f"{value:.3g}{unit} (goal ≥ {goal:g}{unit})", value >= goal)

    def at_most(self, what: str, value: float, goal: float, unit: str = "×") -> bool:
        return self._goal(what, f"{value:.3g}{unit} (goal ≤ {goal:g}{unit})", value <= goal)

    def exactly(self, what: str, value: float, goal: float) -> bool:
        ok = value == goal
        self.rows.append((what, f"{value:g} (must be {goal:g})", ok))
        return ok

    def some(self, what: str, value: float, least: float = 1) -> bool:
        ok = value >= least
        self.rows.append((what, f"{value:g} (must be ≥ {least:g})", ok))
        return ok

    def print(self) -> int:
        print("verdicts:" + (" (--smoke: goals not judged)" if self.smoke else ""))
        for what, figure, ok in self.rows:
            print(f"  {'-     ' if ok is None else 'MET   ' if ok else 'MISSED'}  {what}: {figure}")
        return 0 if all(ok is not False for *_, ok in self.rows) else 1


def modes(ap: argparse.ArgumentParser, quick: str) -> None:
    """Every benchmark's two short modes: --quick (smaller, goals still judged) and --smoke."""
    ap.add_argument("--quick", action="store_true", help=quick)
    ap.add_argument("--smoke", action="store_true", help="a few seconds: does it run and behave (goals not judged)")


def rss_mb() -> float:
    """This process's resident set size now, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_measured(cmd: Sequence[str], **kw: Any) -> tuple[float, float, subprocess.CompletedProcess[bytes]]:
    """Run a child process; return (wall seconds, peak RSS MiB of that child alone, result).

    The peak comes from GNU time (`/usr/bin/time -f %M`): a child's ru_maxrss as seen by wait4
    would include the pages of this (large) process it was forked from, before its exec."""
    import time

    gnu_time = shutil.which("time", path="/usr/bin:/bin")
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        full = [gnu_time, "-f", "%M", "-o", rss_file.name, *cmd] if gnu_time else list(cmd)
        t0 = time.perf_counter()
        proc = subprocess.Popen(full, **kw)
        out, err = proc.communicate()
        wall = time.perf_counter() - t0
        if gnu_time:
            peak = int(rss_file.read().split()[-1]) / 1024
        else:  # an upper bound: may count the parent's pages
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return wall, peak, subprocess.CompletedProcess(cmd, proc.returncode, out or b"", err or b"")


# ---- a simulated participant --------------------------------------------------------------

ONBOARDING = ("lang", "consent", "group", "region", "age")  # steps answered by tapping a button
TEXTS = (
    "อินเทอร์เน็ตในหมู่บ้านยังช้าและไม่เสถียร ทำให้ใช้บริการออนไลน์ไม่ได้",
    "ต้องการให้ข้อมูลเชื่อมโยงกันระหว่างหน่วยงาน ไม่ต้องกรอกซ้ำ",
    "Staff at the district office need training before the new system launches.",
    "ควรมีช่องทางให้ผู้สูงอายุที่ไม่มีสมาร์ตโฟนใช้บริการได้ด้วย",
)


class Participant:
    """Decides what to send next from the last reply's buttons, like a person would: taps the
    first choice through onboarding, opens `area`, rates every capability (now and then low, which
    brings the free-text "why" question), and types an answer to each text question.

    `sent_at` advances a few seconds per message, so flood control (5 per 10 s) sees a
    plausible person and stays in the path without refusing anything."""

    def __init__(self, ref: str, area: str, seed: int = 0, start: datetime | None = None, gap: float = 2.5):
        self.ref = ref
        self.area = area
        self.rng = random.Random(f"{seed}:{ref}")
        self.sent_at = start or datetime.now(UTC)
        self.gap = timedelta(seconds=gap)
        self.phase = "hello"
        self.answers = 0  # survey questions answered (each is one stored answer)

    def _stamp(self) -> datetime:
        self.sent_at += self.gap
        return self.sent_at

    def first(self) -> Inbound:
        self.phase = "onboarding"
        return Inbound("text", text="/start", sent_at=self._stamp())

    def next(self, buttons: Sequence[str]) -> Inbound | None:
        """The next message given the button data of the last reply; None when the area is done."""
        at = self._stamp()
        questions = [d for d in buttons if d.startswith("q.")]
        if questions:
            self.phase = "survey"
            self.answers += 1
            options = [d for d in questions if "=~" not in d]  # not skip, back or "what levels mean"
            if not options:
                return Inbound("text", text=self.rng.choice(TEXTS), sent_at=at)
            rating = self.rng.choice("2344455") if self.rng.random() < 0.9 else "dk"
            pick = next((d for d in options if d.endswith("=" + rating)), options[0])
            return Inbound("button", data=pick, sent_at=at)
        if self.phase == "survey":
            self.phase = "done"
            return None
        areas = [d for d in buttons if d.startswith("area=")]
        if areas:
            return Inbound("button", data=f"area={self.area}", sent_at=at)
        if buttons:
            return Inbound("button", data=buttons[0], sent_at=at)
        raise RuntimeError(f"participant {self.ref} is stuck: no buttons to tap in phase {self.phase}")
