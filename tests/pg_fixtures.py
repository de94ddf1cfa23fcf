"""A throwaway PostgreSQL server for the tests: Debian's binaries, a cluster in a temporary
folder, 127.0.0.1 on a free port, started and stopped by the tests themselves.

PostgreSQL refuses to run as root; as root the cluster runs as the `postgres` user (which the
Debian package creates). Without PostgreSQL binaries the tests that need it are skipped, saying
so (`.ci/run` installs Debian's `postgresql`).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb


def pg_bindir() -> Path | None:
    """Where `initdb` and `pg_ctl` are: Debian's versioned folder (newest), else the PATH."""
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                         key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit()
                         else 0, reverse=True):
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    bindir: Path
    folder: Path
    port: int
    user: str | None  # the OS user it runs as (None: this one)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://spark@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        kwargs = {}
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            kwargs = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        return subprocess.run([str(self.bindir / args[0]), *args[1:]], capture_output=True,
                              text=True, timeout=120, check=check, cwd=self.folder, **kwargs)

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "spark", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")
        for attempt in range(5):
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} "
                       f"-c unix_socket_directories={self.folder} -c fsync=off "
                       "-c max_connections=100")
            done = self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                             str(self.folder / "server.log"), "-w", "-t", "60", "start",
                             check=False)
            if done.returncode == 0:
                return
            self.port = free_port()  # taken in between: another port
        log = (self.folder / "server.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"PostgreSQL did not start: {done.stderr}\n{log}")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def create_database(self, prefix: str = "spark") -> str:
        """A new, empty database; its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        subprocess.run([str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "spark", name], capture_output=True, text=True, timeout=60,
                       check=True)
        return self.url(name)


def start_postgres() -> PostgresServer | None:
    """A running server in a new temporary folder, or None when there are no binaries."""
    bindir = pg_bindir()
    if bindir is None:
        return None
    user = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return None
        user = "postgres"
    folder = Path(tempfile.mkdtemp(prefix="spark-pg-"))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    server = PostgresServer(bindir, folder, free_port(), user)
    try:
        server.start()
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return server


class pg_connection:
    """An in-memory DuckDB connection with the server attached as `pg` (nothing routed): what
    the tests read the server through."""

    def __init__(self, url: str) -> None:
        from spark_lsp.kb.db import load_extensions

        self.con = duckdb.connect()
        load_extensions(self.con, ["postgres_scanner"])
        self.con.execute(f"ATTACH '{url}' AS pg (TYPE postgres)")

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        return self.con

    def __exit__(self, *exc: object) -> None:
        self.con.close()
