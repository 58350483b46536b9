"""Starting, signalling and stopping a private Apache httpd.

Apache runs in the foreground (``-DFOREGROUND``) as a direct child of this
process, in its own session, so its parent pid is the :class:`subprocess.Popen`
pid and the whole process group can be killed if it ever hangs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from types import TracebackType
from typing import IO, TYPE_CHECKING

from .conf import ServerConfig, threads_per_child, write_config
from .discover import ApacheInstall, unshare_prefix

if TYPE_CHECKING:
    if sys.version_info >= (3, 11):
        from typing import Self
    else:
        from typing_extensions import Self

__all__ = [
    "ApacheServer",
    "ApacheStartError",
    "free_port",
    "run_command",
]

#: Apache logs this line (2.2 and 2.4, level notice, which is always logged)
#: each time a generation of children is up: at start and after every restart.
READY_MARKER = "resuming normal operations"

_POLL = 0.05
_TAIL_LINES = 60


class ApacheStartError(RuntimeError):
    """Apache exited or did not answer in time while starting or restarting."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_command(install: ApacheInstall, conf_path: str) -> list[str]:
    """The command that runs *install* in the foreground with the configuration *conf_path*.

    As root it is prefixed with ``unshare --user ...`` when that works (see
    :func:`mod_python._httpd.discover.unshare_prefix`).
    """
    return [*unshare_prefix(), install.httpd, "-f", os.path.abspath(conf_path), "-DFOREGROUND"]


def child_answers(port: int, timeout: float = 2.0) -> bool:
    """True once a child accepts a connection and closes it again.

    A bare connect would succeed on the parent's listen backlog before any
    child runs, and would leave that connection queued for a child that may
    be killed by the next restart while it is starting (a race inside the
    event MPM).  Half-closing without sending a request makes a child accept
    and close it, running no request hooks, so "answers" means a child of the
    new generation is serving.
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(4096):
                pass
            return True
    except OSError:
        return False


def child_pids(parent: int) -> set[int]:
    """The pids of *parent*'s living children (Linux ``/proc``)."""
    try:
        with open(f"/proc/{parent}/task/{parent}/children") as fh:
            return {int(pid) for pid in fh.read().split()}
    except OSError:
        return set()


def thread_ids(pid: int) -> frozenset[int]:
    """The ids of the threads process *pid* runs (empty once it has gone)."""
    try:
        return frozenset(int(tid) for tid in os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return frozenset()


#: /proc/net/tcp states that hold no connection: LISTEN, TIME_WAIT, CLOSE.
_NO_CONNECTION_STATES = frozenset({"0A", "06", "07"})


def server_connections(port: int) -> int:
    """How many TCP connections to local *port* a process still holds open (Linux ``/proc``).

    A socket that no process holds (one in TIME_WAIT, or orphaned after
    ``close()``) has inode 0 in ``/proc/net/tcp`` and is not counted.
    """
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                rows = fh.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] not in _NO_CONNECTION_STATES and fields[9] != "0":
                count += 1
    return count


def _tail(text: str, lines: int = _TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


class ApacheServer:
    """One Apache httpd running :class:`ServerConfig` *cfg* on *install*.

    With ``foreground_output=True`` Apache's stdout/stderr go to ours (the serve
    command); otherwise they are written to ``httpd.stdout``/``httpd.stderr`` in
    the server root and quoted in :class:`ApacheStartError`.
    """

    def __init__(
        self,
        install: ApacheInstall,
        cfg: ServerConfig,
        *,
        foreground_output: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.install = install
        self.cfg = cfg
        #: Apache's environment (default: ours); tests pass an init system's bare one.
        self.env = env
        self.foreground_output = foreground_output
        self.url = f"http://127.0.0.1:{cfg.port}"
        self.conf_path = cfg.conf_path
        self.pid: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._outputs: list[IO[bytes]] = []
        self._log_offset = 0
        self._ready_count = 0
        self._signalled_at = 0.0
        self._old_children: set[int] = set()
        self._child_threads: dict[int, frozenset[int]] = {}

    # -- logs -----------------------------------------------------------------

    @property
    def error_log_path(self) -> str:
        return self.cfg.error_log_path

    def _log_is_file(self) -> bool:
        path = self.error_log_path
        return not path.startswith("/dev/") and not path.startswith("|")

    def error_log_text(self) -> str:
        """The error log written since :meth:`start` ("" when it is not a regular file)."""
        if not self._log_is_file():
            return ""
        try:
            with open(self.error_log_path, "rb") as fh:
                fh.seek(self._log_offset)
                data = fh.read()
        except OSError:
            return ""
        return data.decode("utf-8", errors="replace")

    def _ready_lines(self) -> int:
        return self.error_log_text().count(READY_MARKER)

    def _output_text(self, name: str) -> str:
        path = os.path.join(self.cfg.server_root, name)
        try:
            with open(path, "rb") as fh:
                return fh.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def diagnostics(self) -> str:
        """The last lines of the error log and of Apache's stderr, for error messages."""
        parts = []
        if self._log_is_file():
            parts.append(
                f"--- last {_TAIL_LINES} lines of {self.error_log_path} ---\n"
                + (_tail(self.error_log_text()) or "(empty)")
            )
        else:
            parts.append(f"--- error log goes to {self.error_log_path} (see above) ---")
        if self.foreground_output:
            parts.append("--- Apache's stderr went to this process's stderr ---")
        else:
            parts.append(
                "--- Apache's stderr ---\n"
                + (_tail(self._output_text("httpd.stderr")) or "(empty)")
            )
        return "\n".join(parts)

    # -- lifecycle --------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the Apache parent process is alive."""
        proc = self._proc
        return proc is not None and proc.returncode is None and not self._exited(proc.pid)

    def start(self, timeout: float = 30.0) -> None:
        """Write the configuration, start Apache and wait until it answers on its port.

        Ready means: the parent process is alive, a TCP connection to the port
        succeeds and (when the error log is a file) Apache logged that it is
        resuming normal operations, so a port held by some other process is
        not mistaken for ours. Raises :class:`ApacheStartError` with the tail
        of the error log and of Apache's stderr if it exits or times out.
        """
        if self.running:
            raise RuntimeError(f"Apache is already running (pid {self.pid})")
        write_config(self.install, self.cfg)
        try:
            os.unlink(self.cfg.pid_file)
        except FileNotFoundError:
            pass
        if self._log_is_file():
            try:
                self._log_offset = os.path.getsize(self.error_log_path)
            except OSError:
                self._log_offset = 0
        stdout: IO[bytes] | None = None
        stderr: IO[bytes] | None = None
        if not self.foreground_output:
            stdout = open(os.path.join(self.cfg.server_root, "httpd.stdout"), "wb")  # noqa: SIM115
            stderr = open(os.path.join(self.cfg.server_root, "httpd.stderr"), "wb")  # noqa: SIM115
            self._outputs = [stdout, stderr]
        command = run_command(self.install, self.conf_path)
        try:
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                env=self.install.environ(self.env),
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            self._close_outputs()
            raise ApacheStartError(f"cannot run {' '.join(command)}: {exc}") from exc
        self.pid = self._proc.pid
        self._ready_count = 0
        self._old_children = set()
        self._child_threads = {}
        try:
            self._wait_answering(timeout, "start")
        except BaseException:
            self.stop()
            raise

    def _wait_answering(self, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while True:
            proc = self._proc
            if proc is None or proc.returncode is not None or self._exited(proc.pid):
                status = None if proc is None else proc.poll()
                raise ApacheStartError(
                    f"Apache ({self.install.httpd}) exited with status {status} during {what}"
                    f" (configuration {self.conf_path})\n{self.diagnostics()}"
                )
            marker_ok = not self._log_is_file() or self._ready_lines() > self._ready_count
            if marker_ok and child_answers(self.cfg.port) and self._new_children_started():
                if self._log_is_file():
                    self._ready_count = self._ready_lines()
                return
            if time.monotonic() >= deadline:
                raise ApacheStartError(
                    f"Apache ({self.install.httpd}, pid {self.pid}) did not answer on"
                    f" {self.url} within {timeout:g}s of {what}"
                    f" (configuration {self.conf_path})\n{self.diagnostics()}"
                )
            time.sleep(_POLL)

    def _new_children_started(self) -> bool:
        """Whether every child forked since the last signal has started all its threads.

        A started worker or event child runs its main thread, ThreadsPerChild
        workers and a listener, and the thread that created them has exited.
        httpd 2.4's event MPM can crash a child that is told to stop while it
        is still creating them (reproduced without mod_python, with a module
        that sleeps 40 ms in child_init), so the next signal must wait for
        that.  The creating thread makes the listener last and then exits, so
        "started" is: at least that many threads, and the same ones as at the
        previous poll.  Old children still finishing requests after a
        graceful restart are not waited for.
        """
        if self.pid is None or self.cfg.mpm == "prefork":
            return True
        wanted = threads_per_child(self.cfg.threads) + 2
        before = self._child_threads
        now = {pid: thread_ids(pid) for pid in child_pids(self.pid) - self._old_children}
        self._child_threads = now
        # No threads: the child has exited meanwhile; more: a handler started some.
        return all(
            not tids or (len(tids) >= wanted and before.get(pid) == tids)
            for pid, tids in now.items()
        )

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for Apache to exit on its own; its exit status, or None on timeout."""
        if self._proc is None:
            return None
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def _signal(self, signum: int) -> None:
        if not self.running or self.pid is None:
            raise RuntimeError("Apache is not running")
        self._ready_count = self._ready_lines() if self._log_is_file() else 0
        self._signalled_at = time.monotonic()
        self._old_children = child_pids(self.pid)
        self._child_threads = {}
        os.kill(self.pid, signum)

    def graceful(self) -> None:
        """Graceful restart (``apachectl -k graceful``): SIGUSR1 to the parent."""
        self._signal(signal.SIGUSR1)

    def restart(self, idle_timeout: float = 10.0) -> None:
        """Restart (``apachectl -k restart``): SIGHUP to the parent.

        An ungraceful restart closes every connection a child still serves,
        and httpd 2.4's event MPM can crash that child when one of them is
        being closed by its worker at the same moment (the crash is inside
        the MPM's own code, and happens without mod_python too).  So that
        tests see mod_python's behaviour and not that race, first wait up to
        *idle_timeout* seconds until Apache holds no connection: callers
        close their own keep-alive connections first.
        """
        deadline = time.monotonic() + idle_timeout
        while server_connections(self.cfg.port) and time.monotonic() < deadline:
            time.sleep(_POLL / 5)
        self._signal(signal.SIGHUP)

    def wait_ready(self, timeout: float = 30.0) -> None:
        """After :meth:`graceful`/:meth:`restart`: wait until the new generation answers.

        The parent keeps its listening sockets across restarts, so the port
        answering proves nothing by itself. When the error log is a file, wait
        for one more "resuming normal operations" line than before the signal
        (Apache logs it once the new generation is configured). When it is not
        (e.g. /dev/stderr), there is no way to see the generation change from
        outside, so wait one second after the signal (Apache handles it within
        milliseconds) and then for the port to answer.
        """
        if not self._log_is_file():
            remaining = 1.0 - (time.monotonic() - self._signalled_at)
            if remaining > 0:
                time.sleep(remaining)
        self._wait_answering(timeout, "restart")

    def _close_outputs(self) -> None:
        for fh in self._outputs:
            fh.close()
        self._outputs = []

    def _exited(self, pid: int) -> bool:
        """Whether *pid* has exited, leaving it unreaped (a zombie keeps its pid and group)."""
        try:
            info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None

    def stop(self, timeout: float = 20.0) -> None:
        """Stop Apache: SIGTERM to the parent, then SIGKILL to its process group
        if it has not exited after *timeout* seconds, and SIGKILL to any process
        left in the group. Safe to call more than once."""
        proc = self._proc
        if proc is None:
            return
        pid = proc.pid
        if proc.returncode is None and not self._exited(pid):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + timeout
            while not self._exited(pid) and time.monotonic() < deadline:
                time.sleep(_POLL)
        # Unless something already reaped it, the parent is a zombie (or hung)
        # here, so its group id cannot have been reused: kill whatever is left
        # in the group (children, processes a handler started).
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
        self._close_outputs()
        self._proc = None
        self.pid = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
