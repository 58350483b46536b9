"""FileSession (manual 4.8.1): one file per session.

Files live in ``<directory>/<first two hex digits of the id>/<id>``, are
created 0600 whatever the umask, and are replaced atomically (written to a
temporary file, then renamed) so that a crash never leaves half a session.
"""

from __future__ import annotations

import errno
import os
import secrets
import tempfile
import time
from typing import Any, Optional, Set, Union

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

from mod_python._session_base import BaseSession, Record, dumps, expired, loads
from mod_python._session_ids import is_valid_sid
from mod_python._session_locks import private_directory
from mod_python._session_options import bool_option, first, number_option, request_options

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_HEX = set("0123456789abcdef")
_STATE = ".mp_sess_cleanup"
_CLEANUP_LOCK = ".mp_sess_cleanup.lock"

_checked_defaults: Set[str] = set()


def _read(path: str) -> Optional[bytes]:
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _write_atomically(path: str, data: bytes) -> None:
    tmp = f"{path}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class _Cleanup:
    """One pass of filesession_cleanup, resumable across calls (manual 4.8.1)."""

    #: The clock of the time limit (not the wall clock, which may jump).
    clock = staticmethod(time.monotonic)

    def __init__(self, session: FileSession) -> None:
        self.session = session
        self.directory = session._sessdir
        self.now = time.time()
        self.grace = session._cleanup_grace_period
        limit = session._cleanup_time_limit
        self.deadline = self.clock() + limit if limit > 0 else None

    def run(self) -> None:
        subdirs = sorted(
            name for name in os.listdir(self.directory) if len(name) == 2 and set(name) <= _HEX
        )
        start = self._read_state()
        ordered = [d for d in subdirs if d >= start] + [d for d in subdirs if d < start]
        for subdir in ordered:
            if self.deadline is not None and self.clock() > self.deadline:
                self._write_state(subdir)  # resume here next time
                return
            path = os.path.join(self.directory, subdir)
            try:
                names = os.listdir(path)
            except FileNotFoundError:
                continue
            for name in names:
                self._consider(os.path.join(path, name), name)
        self._write_state("")

    def _read_state(self) -> str:
        try:
            data = _read(os.path.join(self.directory, _STATE))
        except OSError:
            return ""
        state = (data or b"").decode("ascii", "replace").strip()
        return state if len(state) == 2 and set(state) <= _HEX else ""

    def _write_state(self, subdir: str) -> None:
        _write_atomically(os.path.join(self.directory, _STATE), subdir.encode("ascii"))

    def _consider(self, path: str, name: str) -> None:
        try:
            mtime = os.lstat(path).st_mtime
        except FileNotFoundError:
            return
        session = self.session
        if not is_valid_sid(name):
            if name.endswith(".tmp") and self.now - mtime > self.grace:
                self._unlink(path)  # left by a save that crashed
            return
        old = self.now - mtime > session._timeout + self.grace
        if session._fast_cleanup:
            if not old:
                return
            if not session._verify_cleanup:
                self._delete(path, name)
                return
        data = _read(path)
        if data is None:
            return
        record = loads(session._req, name, data)
        if record is None or expired(record, self.now - self.grace):
            self._delete(path, name)

    def _delete(self, path: str, sid: str) -> None:
        # A session locked by a request is in use: leave it to a later pass.
        locks, server = self.session._locks, self.session._lock_server
        token = locks.try_acquire(server, sid)
        if token is None:
            return
        try:
            self._unlink(path)
        finally:
            locks.release(server, token)

    @staticmethod
    def _unlink(path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def filesession_cleanup(session: FileSession) -> None:
    """Delete expired session files (run as a request cleanup; one at a time)."""
    if not os.path.isdir(session._sessdir):
        return
    lock_path = os.path.join(session._sessdir, _CLEANUP_LOCK)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o600)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    return  # another cleanup is running
                raise
        _Cleanup(session).run()
    finally:
        os.close(fd)  # also releases the flock


class FileSession(BaseSession):
    """Sessions in individual files, ``<directory>/<first two digits of the id>/<id>``.

    *fast_cleanup* and *verify_cleanup* override the options
    ``mod_python.file_session.enable_fast_cleanup`` and ``verify_session_timeout``.
    """

    def __init__(
        self,
        req: Any,
        sid: Optional[str] = None,
        secret: Optional[str] = None,
        timeout: float = 0,
        lock: Union[bool, int] = 1,
        fast_cleanup: Optional[bool] = None,
        verify_cleanup: Optional[bool] = None,
    ) -> None:
        options = request_options(req)
        directory = first(
            options, "mod_python.file_session.database_directory", "session_directory"
        )
        self._sessdir = os.path.abspath(directory or os.path.join(tempfile.gettempdir(), "mp_sess"))
        if directory is None and self._sessdir not in _checked_defaults:
            private_directory(self._sessdir, "session directory")
            _checked_defaults.add(self._sessdir)
        if fast_cleanup is None:
            fast_cleanup = bool_option(options, "mod_python.file_session.enable_fast_cleanup", True)
        if verify_cleanup is None:
            verify_cleanup = bool_option(
                options, "mod_python.file_session.verify_session_timeout", True
            )
        self._fast_cleanup = bool(fast_cleanup)
        # fast_cleanup=False implies verify_cleanup=True (manual).
        self._verify_cleanup = bool(verify_cleanup) or not self._fast_cleanup
        self._cleanup_time_limit = number_option(
            options, "mod_python.file_session.cleanup_time_limit", 2.0
        )
        self._cleanup_grace_period = number_option(
            options, "mod_python.file_session.cleanup_grace_period", 240.0
        )
        super().__init__(req, sid=sid, secret=secret, timeout=timeout, lock=lock)

    def _path(self) -> str:
        return os.path.join(self._sessdir, self._sid[:2], self._sid)

    def do_load(self) -> Optional[Record]:
        try:
            data = _read(self._path())
        except OSError as exc:
            raise self._unavailable(f"cannot read session file {self._path()}", exc) from exc
        return None if data is None else loads(self._req, self._sid, data)

    def do_save(self, record: Record) -> None:
        path = self._path()
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            _write_atomically(path, dumps(record))
        except OSError as exc:
            raise self._unavailable(f"cannot write session file {path}", exc) from exc

    def do_delete(self) -> None:
        try:
            os.unlink(self._path())
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise self._unavailable(f"cannot delete session file {self._path()}", exc) from exc

    def cleanup(self) -> None:
        self._after_request(filesession_cleanup)
