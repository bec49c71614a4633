"""A throwaway PostgreSQL cluster for tests and benchmarks: initdb into a temp dir, loopback only,
a free port, the unix socket in the temp dir, and (for tests) fsync off. Run as root (CI), the
cluster belongs to the `postgres` account (initdb refuses root); `stop()` removes it all.

    cluster = Cluster.start()          # or the `pg_cluster` fixture (tests/conftest.py), per session
    url = cluster.fresh_database()     # postgresql://rabfang@127.0.0.1:PORT/t_1, empty
    cluster.stop()
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

USER = "rabfang"


def binaries() -> Path | None:
    """The newest PostgreSQL bin folder with initdb (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    root: Path
    port: int
    bin: Path
    as_user: list[str]
    _names: itertools.count = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def start(cls, *, durable: bool = False) -> Cluster:
        """A new cluster. `durable=False` (tests) turns fsync off; benchmarks keep the defaults."""
        bin_dir = binaries()
        if bin_dir is None:
            raise FileNotFoundError("PostgreSQL is not installed (no initdb): apt-get install postgresql")
        root = Path(tempfile.mkdtemp(prefix="rabfang-pg-"))
        as_user: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            owner = pwd.getpwnam("postgres")
            os.chown(root, owner.pw_uid, owner.pw_gid)
            as_user = ["runuser", "-u", "postgres", "--"]
        data, port = root / "data", _free_port()
        run = lambda *args: subprocess.run([*as_user, *args], check=True, capture_output=True, text=True)  # noqa: E731
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "--no-locale", "-E", "UTF8",
            "--no-sync")  # fmt: skip
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-p {port}",
            f"-k {root}",
            "-c max_connections=200",
        ]
        if not durable:
            options += ["-c fsync=off", "-c full_page_writes=off"]
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", " ".join(options), "-w", "start")
        return cls(root, port, bin_dir, as_user)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{dbname}"

    def fresh_database(self) -> str:
        """An empty database of its own (CREATE DATABASE), as a URL."""
        import psycopg

        name = f"t_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def restart(self) -> None:
        # -l: the new server logs to the file, not to our pipes (else capture_output never ends)
        self.pg_ctl("restart", "-m", "fast", "-l", str(self.root / "log"))

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-w", *args],
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        try:
            self.pg_ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
