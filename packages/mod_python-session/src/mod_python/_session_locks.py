"""Session locks, and the per-thread bookkeeping every backend locks through.

Inside Apache a session is locked with mod_python's global mutexes
(``_global_lock(req.server, sid)``; the whole-store lock is mutex 0), which
exclude every thread of every child. Outside Apache (tests, another server)
the same job is done by a fixed set of :data:`FALLBACK_LOCKS` locks per
process, each a :class:`threading.Lock` plus an ``flock()`` on a lock file, so
that threads and processes sharing the lock directory exclude each other.

Both kinds are a fixed set of mutexes chosen by a hash of the session id, so
two sessions may share one; and neither kind can be taken twice by the same
thread. :class:`Locks` hides both facts from sessions: a thread that locks a
session whose mutex it already holds (a second session object for the same
id, or another id hashed onto the same mutex) does not wait for itself; it
shares the mutex, which is released when the last session using it in that
thread lets go. RedisSession and PostgreSQLSession put their own locks
(exact per id, but not re-entrant either) under the same bookkeeping.
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading
import zlib
from typing import Any, Dict, List, Optional, Tuple

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: locks exclude threads only
    fcntl = None  # type: ignore[assignment]

#: How many locks the fallback (outside Apache) uses; every process sharing a
#: lock directory must use the same number, so it is fixed.
FALLBACK_LOCKS = 32

#: What a mutex set's ``trylock`` returns when the mutex is taken.
BUSY: Any = object()


class _ApacheMutexes:
    """mod_python's global mutexes: lock 0 for a store, a key's hash for a session."""

    def __init__(self, apache: Any) -> None:
        self._lock = apache._global_lock
        self._trylock = apache._global_trylock
        self._unlock = apache._global_unlock

    def lock(self, server: Any, key: Optional[str]) -> None:
        if key is None:
            self._lock(server, None, 0)
        else:
            self._lock(server, key)

    def trylock(self, server: Any, key: Optional[str]) -> Any:
        if key is None:
            return None if self._trylock(server, None, 0) else BUSY
        return None if self._trylock(server, key) else BUSY

    def unlock(self, server: Any, key: Optional[str], handle: Any = None) -> None:
        if key is None:
            self._unlock(server, None, 0)
        else:
            self._unlock(server, key)


class _FileMutexes:
    """:data:`FALLBACK_LOCKS` locks: a threading.Lock and an flock()ed file each.

    Like Apache's mutexes, lock 0 is the store lock and keys hash (with a hash
    that is the same in every process) onto locks 1 to N-1. Unlike them, a
    lock may be released by another thread than the one that took it, which
    servers that run request cleanups elsewhere need.
    """

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._threads = [threading.Lock() for _ in range(FALLBACK_LOCKS)]
        self._owners: List[Optional[int]] = [None] * FALLBACK_LOCKS
        self._fds: Dict[int, int] = {}
        self._fds_lock = threading.Lock()

    @staticmethod
    def index(key: Optional[str]) -> int:
        if key is None:
            return 0
        return 1 + zlib.crc32(key.encode("utf-8")) % (FALLBACK_LOCKS - 1)

    def _fd(self, index: int) -> int:
        with self._fds_lock:
            fd = self._fds.get(index)
            if fd is None:
                path = os.path.join(self.directory, f"lock.{index}")
                flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
                fd = self._fds[index] = os.open(path, flags, 0o600)
            return fd

    def lock(self, server: Any, key: Optional[str]) -> None:
        index = self.index(key)
        if self._owners[index] == threading.get_ident():
            raise RuntimeError(f"session lock {index} is already held by this thread")
        self._threads[index].acquire()
        try:
            if fcntl is not None:
                fcntl.flock(self._fd(index), fcntl.LOCK_EX)
        except BaseException:
            self._threads[index].release()
            raise
        self._owners[index] = threading.get_ident()

    def trylock(self, server: Any, key: Optional[str]) -> Any:
        index = self.index(key)
        if not self._threads[index].acquire(blocking=False):
            return BUSY
        try:
            if fcntl is not None:
                fcntl.flock(self._fd(index), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._threads[index].release()
            return BUSY
        except BaseException:
            self._threads[index].release()
            raise
        self._owners[index] = threading.get_ident()
        return None

    def unlock(self, server: Any, key: Optional[str], handle: Any = None) -> None:
        index = self.index(key)
        if self._owners[index] is None:
            raise RuntimeError(f"session lock {index} is not held")
        self._owners[index] = None
        try:
            if fcntl is not None:
                fcntl.flock(self._fd(index), fcntl.LOCK_UN)
        finally:
            self._threads[index].release()


class LockToken:
    """One lock() of one session; given back to :meth:`Locks.release`."""

    __slots__ = ("key", "shared", "state")

    def __init__(self, key: Optional[str], shared: bool, state: _ThreadState) -> None:
        self.key = key
        self.shared = shared
        self.state = state


class _Held:
    """A mutex this thread took for a key: how many sessions use it, and what
    the mutexes returned when it was taken (given back when it is released)."""

    __slots__ = ("count", "handle")

    def __init__(self, handle: Any) -> None:
        self.count = 1
        self.handle = handle


class _ThreadState:
    __slots__ = ("held", "sharers", "deferred")

    def __init__(self) -> None:
        self.held: Dict[Optional[str], _Held] = {}
        # sessions using a mutex this thread took for another key
        self.sharers = 0
        # mutexes no session uses any more, kept taken until the sharers are done
        self.deferred: List[Tuple[Optional[str], Any]] = []


class Locks:
    """Per-thread bookkeeping over a set of mutexes (see the module docstring).

    *mutexes* has ``lock(context, key) -> handle``, ``trylock(context, key)
    -> handle or BUSY`` and ``unlock(context, key, handle)``; *context* is whatever the
    caller passes (Apache's server object, or the session).
    """

    def __init__(self, mutexes: Any) -> None:
        self.mutexes = mutexes
        self._local = threading.local()

    def _state(self) -> _ThreadState:
        state = getattr(self._local, "state", None)
        if state is None:
            state = self._local.state = _ThreadState()
        return state

    def acquire(self, context: Any, key: Optional[str]) -> LockToken:
        """Lock *key* (``None``: the store), waiting for other threads and processes."""
        state = self._state()
        held = state.held.get(key)
        if held is not None:
            held.count += 1
            return LockToken(key, False, state)
        for i, (deferred_key, handle) in enumerate(state.deferred):
            if deferred_key == key:
                del state.deferred[i]
                state.held[key] = _Held(handle)
                return LockToken(key, False, state)
        try:
            handle = self.mutexes.lock(context, key)
        except RuntimeError as exc:
            if not (state.held or state.deferred):
                raise RuntimeError(
                    f"cannot lock session {key!r}: {exc} (taken outside mod_python.Session?)"
                ) from exc
            # This thread holds the mutex for another of its sessions.
            state.sharers += 1
            return LockToken(key, True, state)
        state.held[key] = _Held(handle)
        return LockToken(key, False, state)

    def try_acquire(self, context: Any, key: Optional[str]) -> Optional[LockToken]:
        """Lock *key* if nobody (this thread included) holds its mutex, else ``None``."""
        state = self._state()
        if key in state.held or any(k == key for k, _ in state.deferred):
            return None
        handle = self.mutexes.trylock(context, key)
        if handle is BUSY:
            return None
        state.held[key] = _Held(handle)
        return LockToken(key, False, state)

    def handle(self, token: LockToken) -> Any:
        """What the mutexes returned when the mutex of *token* was taken
        (None for a token sharing another key's mutex)."""
        held = token.state.held.get(token.key)
        return None if held is None else held.handle

    def release(self, context: Any, token: LockToken) -> None:
        state = token.state
        if token.shared:
            state.sharers -= 1
        else:
            held = state.held[token.key]
            held.count -= 1
            if held.count == 0:
                del state.held[token.key]
                if state.sharers:
                    state.deferred.append((token.key, held.handle))
                else:
                    self.mutexes.unlock(context, token.key, held.handle)
        if not state.sharers:
            while state.deferred:
                key, handle = state.deferred.pop()
                self.mutexes.unlock(context, key, handle)


_apache_locks: Dict[int, Locks] = {}
_fallback_locks: Dict[str, Locks] = {}
_registry_lock = threading.Lock()


def _forget_fallback_locks() -> None:
    # A child process must not share the parent's flock()s (an flock belongs
    # to the open file, which fork() shares) nor its thread locks' states.
    _fallback_locks.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_fallback_locks)


def apache_locks(apache: Any) -> Locks:
    locks = _apache_locks.get(id(apache))
    if locks is None:
        with _registry_lock:
            locks = _apache_locks.setdefault(id(apache), Locks(_ApacheMutexes(apache)))
    return locks


def default_lock_directory() -> str:
    uid = os.geteuid() if hasattr(os, "geteuid") else 0
    return os.path.join(tempfile.gettempdir(), f"mod_python-session-locks-{uid}")


def private_directory(path: str, what: str) -> None:
    """Make *path* (in a shared temporary directory), or check that it is ours alone.

    Someone else's directory there could hand us their lock files or session
    data, so it is refused rather than used.
    """
    os.makedirs(path, mode=0o700, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise RuntimeError(f"the {what} {path} is not a directory (a symbolic link?)")
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise RuntimeError(
            f"the {what} {path} belongs to uid {info.st_uid}, not to this process"
            f" (uid {os.geteuid()}): choose another directory"
        )
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)


def fallback_locks(directory: Optional[str]) -> Locks:
    """The process's locks using lock files in *directory* (default: a private temp dir)."""
    path = os.path.abspath(directory or default_lock_directory())
    locks = _fallback_locks.get(path)
    if locks is None:
        if directory:
            os.makedirs(path, mode=0o700, exist_ok=True)
        else:
            private_directory(path, "session lock directory")
        with _registry_lock:
            locks = _fallback_locks.setdefault(path, Locks(_FileMutexes(path)))
    return locks
