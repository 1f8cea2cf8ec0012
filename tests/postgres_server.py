"""A real PostgreSQL server on loopback for the tests, started from Debian's binaries.

`Cluster.start` runs `initdb` and `pg_ctl` in a temporary folder (as the
`postgres` user when the tests run as root, since PostgreSQL refuses to
run as root), listening on 127.0.0.1 on a free port with a password, so
that tests can check the password never reaches the output. Each test
gets a database of its own from `Cluster.database`.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

PASSWORD = "pw-Zq81-never-shown"  # distinctive, so a test can look for it in any output
_NUMBERS = itertools.count(1)


def _bin_dir() -> Path:
    """The newest PostgreSQL's programs (Debian keeps them out of PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise RuntimeError("PostgreSQL is not installed: the ledger tests run against it too "
                       "(apt-get install postgresql, as the README's test command does)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Cluster:
    folder: Path
    port: int
    bin_dir: Path

    @classmethod
    def start(cls) -> Cluster:
        bin_dir = _bin_dir()
        folder = Path(tempfile.mkdtemp(prefix="feedpress-pg-"))
        folder.chmod(0o755)
        (folder / "pw").write_text(PASSWORD + "\n")
        cluster = cls(folder, _free_port(), bin_dir)
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
            shutil.chown(folder / "pw", "postgres")
        cluster._run("initdb", "-D", str(folder / "data"), "-U", "postgres", "-E", "UTF8",
                     "--locale=C.UTF-8", "--auth=scram-sha-256", f"--pwfile={folder / 'pw'}")
        options = (f"-c listen_addresses=127.0.0.1 -p {cluster.port} -k {folder} "
                   "-c fsync=off -c max_connections=200")
        cluster._run("pg_ctl", "-D", str(folder / "data"), "-l", str(folder / "log"), "-w",
                     "-o", options, "start")
        return cluster

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120, cwd=self.folder)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        """A new empty database; its URL."""
        name = f"ledger_{os.getpid()}_{next(_NUMBERS)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)
