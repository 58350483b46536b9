"""Real Redis and PostgreSQL servers for the tests, from Debian's packages
(``apt-get install redis-server postgresql``).

Each server listens on 127.0.0.1 only, on a free port, keeps its files in a
temporary directory and is stopped (and its directory removed) by
:meth:`stop`; use them as context managers. PostgreSQL refuses to run as
root, so under root it runs as the ``postgres`` user the package creates.

Used by the unit tests (packages/mod_python-session/tests/conftest.py) and by
tests/integration/test_session.py, which puts this directory on sys.path.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Any, List, Optional


def _base_dir() -> str:
    # Not tempfile.gettempdir(): tests may point that at a private directory
    # the postgres user cannot enter.
    return os.environ.get("TMPDIR") or "/tmp"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until(check: Any, what: str, process: subprocess.Popen, log: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{_tail(log)}")
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not become ready in 30 s:\n{_tail(log)}")


def _tail(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()[-4000:]
    except OSError:
        return "(no log)"


def _stop(process: Optional[subprocess.Popen], sig: int) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


class RedisServer:
    """``redis-server`` with no persistence (``--save "" --appendonly no``)."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not os.path.exists(self.binary):
            raise RuntimeError("redis-server not found: apt-get install redis-server")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tempfile.mkdtemp(prefix="mp-redis-", dir=_base_dir())
        self.log = os.path.join(self.dir, "redis.log")
        self.process: Optional[subprocess.Popen] = None

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> RedisServer:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", self.dir]
        args += ["--logfile", self.log, "--daemonize", "no"]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        _wait_until(self._ping, "redis-server", self.process, self.log)
        return self

    def stop(self) -> None:
        _stop(self.process, signal.SIGTERM)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _postgresql_bin() -> str:
    found: List[str] = glob.glob("/usr/lib/postgresql/*/bin/postgres")
    if not found:
        raise RuntimeError(
            "PostgreSQL not found in /usr/lib/postgresql: apt-get install postgresql"
        )
    return os.path.dirname(max(found, key=lambda p: int(p.split("/")[-3].split(".")[0])))


class PostgreSQLServer:
    """A throw-away cluster: ``initdb`` into a temp dir, ``postgres`` on 127.0.0.1."""

    def __init__(self) -> None:
        self.bin = _postgresql_bin()
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="mp-pg-", dir=_base_dir())
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "postgres.log")
        self.user = "postgres"
        self.dsn = f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres"
        self.process: Optional[subprocess.Popen] = None
        # postgres will not run as root: run it as the package's system user.
        self._as: dict = {}
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.dir, account.pw_uid, account.pw_gid)
            self._as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}

    def _ready(self) -> bool:
        result = subprocess.run(
            [os.path.join(self.bin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return result.returncode == 0

    def start(self) -> PostgreSQLServer:
        initdb = [os.path.join(self.bin, "initdb"), "-D", self.data, "-U", self.user]
        initdb += ["--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"]
        with open(self.log, "ab") as log:
            subprocess.run(
                initdb, stdin=subprocess.DEVNULL, stdout=log, stderr=log, check=True, cwd=self.dir,
                **self._as,
            )  # fmt: skip
        if self._as:
            os.chown(self.log, self._as["user"], self._as["group"])
        args = [os.path.join(self.bin, "postgres"), "-D", self.data, "-p", str(self.port)]
        for setting in (
            "listen_addresses=127.0.0.1",
            f"unix_socket_directories={self.dir}",
            "fsync=off",
            "synchronous_commit=off",
            "full_page_writes=off",
            "max_connections=200",
            "shared_buffers=32MB",
        ):
            args += ["-c", setting]
        log = open(self.log, "ab")
        try:
            self.process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.dir, **self._as
            )
        finally:
            log.close()
        _wait_until(self._ready, "postgres", self.process, self.log)
        return self

    def stop(self) -> None:
        _stop(self.process, signal.SIGINT)  # "fast" shutdown: disconnects clients
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PostgreSQLServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class Blackhole:
    """A port that accepts connections (the kernel does) and never answers:
    what a hung store looks like to a client."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Blackhole:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
