"""A throw-away, real PostgreSQL server for tests (``initdb`` + ``pg_ctl`` of the installed server package).

Used to prove database grants against PostgreSQL itself rather than a mock: :class:`TemporaryPostgres`
creates a cluster in a temporary folder, starts it on a free localhost port with ``trust`` authentication
(the tests check *authorization*, not passwords), and stops and deletes it afterwards.

The server binaries come from Debian's ``postgresql`` package (``/usr/lib/postgresql/<major>/bin``), which
``scripts/_bootstrap.sh`` installs when it is missing. PostgreSQL refuses to run as root, so as root the
server runs as the ``postgres`` system user that package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SUPERUSER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def server_bin_dir() -> Path:
    """The newest installed server's ``bin`` folder (``initdb``, ``pg_ctl``, ``postgres``)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    raise PostgresUnavailable(
        "no PostgreSQL server binaries (initdb) found: install Debian's postgresql package "
        "(scripts/_bootstrap.sh does this as root)"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TemporaryPostgres:
    """A running server: :meth:`connect` as any role (``trust`` auth), :meth:`execute` as the superuser."""

    def __init__(self, port: int, data_dir: Path) -> None:
        self.port = port
        self.data_dir = data_dir

    def connect(self, user: str = SUPERUSER, database: str = "postgres") -> Any:
        import pg8000.native

        return pg8000.native.Connection(user, host="127.0.0.1", port=self.port, database=database, timeout=10)

    def execute(
        self, statements: list[str] | tuple[str, ...], user: str = SUPERUSER, database: str = "postgres"
    ) -> None:
        conn = self.connect(user, database)
        try:
            for statement in statements:
                conn.run(statement)
        finally:
            conn.close()


@contextmanager
def temporary_postgres() -> Iterator[TemporaryPostgres]:
    """Start a fresh cluster; yield it; stop it and remove its files."""
    bin_dir = server_bin_dir()
    as_root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="pg-test-"))
    data_dir = base / "data"
    run_as: list[str] = []
    if as_root:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PostgresUnavailable("running as root needs the 'postgres' system user (postgresql package)") from exc
        os.chown(base, account.pw_uid, account.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    log = base / "server.log"

    def run(*cmd: str) -> None:
        subprocess.run([*run_as, *cmd], check=True, capture_output=True, text=True, timeout=120)  # noqa: S603

    try:
        run(str(bin_dir / "initdb"), "-D", str(data_dir), "-U", SUPERUSER, "--auth=trust", "--no-sync", "-E", "UTF8")
        run(
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data_dir),
            "-l",
            str(log),
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {port} -c listen_addresses=127.0.0.1 -k {base} -c fsync=off",
            "start",
        )
    except subprocess.CalledProcessError as exc:
        details = log.read_text() if log.exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {exc.stderr}\n{details}") from exc
    try:
        yield TemporaryPostgres(port, data_dir)
    finally:
        subprocess.run(  # noqa: S603
            [*run_as, str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "stop"],
            check=False,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)
