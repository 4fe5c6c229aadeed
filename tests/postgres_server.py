"""A throwaway PostgreSQL server for tests: Debian's binaries on a temporary folder and a loopback port.

``make postgresql`` (part of ``make test``) installs Debian's ``postgresql`` package when it is missing. The
server runs as the current user, or as the ``postgres`` account (else ``nobody``) when that is root, which
PostgreSQL refuses; it trusts connections from 127.0.0.1 only and is stopped and deleted at the end.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg

INSTALL_HINT = "PostgreSQL's server is not installed: run `make postgresql` (Debian's postgresql package)"


def server_binaries() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` that has initdb and pg_ctl."""
    found = [initdb.parent for initdb in Path("/usr/lib/postgresql").glob("*/bin/initdb")
             if (initdb.parent / "pg_ctl").exists()]
    if not found:
        raise RuntimeError(INSTALL_HINT)
    return max(found, key=lambda path: int(re.sub(r"\D", "", path.parent.name) or 0))


class PostgresServer:
    """A running server; ``database()`` hands out a fresh, empty database for each test."""

    def __init__(self, port: int, data_dir: Path) -> None:
        self.port = port
        self.data_dir = data_dir

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        name = f"test_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def checkpoint(self) -> None:
        """Everything committed written to the data files (to look for secrets in them)."""
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute("CHECKPOINT")


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    binaries = server_binaries()
    account = _server_account()
    # another account must reach the folder: /tmp, whatever TMPDIR says (root's may be private)
    data_dir = Path(tempfile.mkdtemp(prefix="diagnostics-pg-", dir="/tmp" if account else None))
    if account is not None:
        os.chown(data_dir, account.pw_uid, account.pw_gid)
    port = _free_port()
    options = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={data_dir} "
               "-c shared_buffers=32MB -c max_connections=200")
    try:
        _run(account, [binaries / "initdb", "-D", data_dir, "-U", "postgres", "--auth=trust", "--no-locale",
                       "-E", "UTF8", "--no-sync"])
        _run(account, [binaries / "pg_ctl", "-D", data_dir, "-l", data_dir / "server.log", "-w", "-t", "60",
                       "-o", options, "start"])
        try:
            yield PostgresServer(port, data_dir)
        finally:
            _run(account, [binaries / "pg_ctl", "-D", data_dir, "-m", "immediate", "-w", "stop"])
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _server_account() -> pwd.struct_passwd | None:
    """None to run as ourselves; PostgreSQL will not run as root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root, and there is no postgres or nobody account to run PostgreSQL as")


def _run(account: pwd.struct_passwd | None, command: list) -> None:
    as_account = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []} if account else {}
    result = subprocess.run([str(part) for part in command], cwd="/", capture_output=True,
                            text=True, timeout=120, env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C"},
                            check=False, **as_account)
    if result.returncode != 0:
        raise RuntimeError(f"{Path(str(command[0])).name} failed: {result.stdout}{result.stderr}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
