"""One `rabfang run` per SQLite file: a second is refused with a clear message, and a lock left by a
process that was SIGKILLed never blocks the next start (the kernel drops an flock with its process)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from storage.leases import FileLease, lock_path
from testbed.line_api import free_port
from tests.test_line_e2e import wait_healthy
from tests.test_telegram_e2e import rabfang_command

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file locks and signals")


def run_env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "LINE_", "RABFANG_"))}
    env.update(RABFANG_DB=str(db), RABFANG_HTTP_PORT=str(free_port()), PYTHONUNBUFFERED="1")
    return env


async def start(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *rabfang_command(), "run", cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def test_a_second_run_on_the_same_file_is_refused_and_a_dead_ones_lock_does_not_block(tmp_path: Path) -> None:
    db = tmp_path / "rabfang.db"
    first_env = run_env(db)
    first = await start(first_env, tmp_path)
    try:
        await wait_healthy(f"http://127.0.0.1:{first_env['RABFANG_HTTP_PORT']}", first)
        second = await start(run_env(db), tmp_path)
        out, err = await asyncio.wait_for(second.communicate(), 30)
        assert second.returncode == 1, (out, err)
        message = err.decode()
        assert "another `rabfang run`" in message and f"pid {first.pid}" in message and str(db) in message
        assert "PostgreSQL" in message  # what to do to run several
        assert first.returncode is None  # the first is untouched
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    assert lock_path(db).exists()  # left behind, still naming the dead pid: it must not matter
    third_env = run_env(db)
    third = await start(third_env, tmp_path)
    try:
        await wait_healthy(f"http://127.0.0.1:{third_env['RABFANG_HTTP_PORT']}", third)
    finally:
        third.send_signal(signal.SIGTERM)
        await asyncio.wait_for(third.wait(), 30)
    assert third.returncode == 0


async def test_the_file_lease_is_exclusive_and_released(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    a, b = FileLease(db), FileLease(db)
    assert await a.acquire() and a.held and await a.alive()
    assert not await b.acquire() and not b.held
    assert b.holder() == str(os.getpid())
    await a.release()
    assert await b.acquire()
    await b.release()
    assert (lock_path(db).stat().st_mode & 0o777) == 0o600
