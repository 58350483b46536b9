"""RedisSession: sessions in Redis, locked across every host that shares it.

- A session is the key ``<prefix><id>`` holding the pickled record, written
  with ``SET ... PX <timeout>``: Redis drops expired sessions by itself, so
  no cleanup pass runs on the web servers.
- Its lock is the key ``<prefix><id>:lock``, taken with ``SET NX PX <ttl>``
  and a random token, released by a Lua script that deletes the key only if
  it still holds that token. The ttl frees the lock of a host that died in
  the middle of a request; a request waits at most ``redis_lock_wait``
  seconds for a lock before giving up with a 503.
- Every call has a socket time-out (``redis_timeout``): a Redis that is down
  or hung gives :class:`SessionStoreUnavailable` (a 503 inside Apache) in
  seconds, never a hang.
"""

from __future__ import annotations

import secrets
import threading
import time
import urllib.parse
from typing import Any, Dict, Optional, Tuple, Union

try:
    import redis
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "RedisSession needs the redis package: pip install 'mod_python-session[redis]'"
    ) from exc

from mod_python._session_base import BaseSession, Record, dumps, loads
from mod_python._session_locks import BUSY, Locks
from mod_python._session_options import first, number_option, request_options

DEFAULT_URL = "redis://127.0.0.1:6379/0"
DEFAULT_PREFIX = "mod_python.session:"

# Delete the lock only if it is still ours (it may have expired and been
# taken by another request meanwhile).
_UNLOCK = """
if redis.call("get", KEYS[1]) == ARGV[1] then
    return redis.call("del", KEYS[1])
end
return 0
"""

_clients: Dict[Tuple[str, float], Any] = {}
_locks: Dict[Tuple[str, float, str, float, float], Locks] = {}
_registry_lock = threading.Lock()


def safe_url(url: str) -> str:
    """*url* without its password, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urllib.parse.urlunsplit(parts._replace(netloc=user + netloc))


def client_for(url: str, timeout: float) -> Any:
    """One client (and connection pool) per URL and time-out in this process."""
    key = (url, timeout)
    client = _clients.get(key)
    if client is None:
        with _registry_lock:
            client = _clients.get(key)
            if client is None:
                pool = redis.ConnectionPool.from_url(
                    url, socket_timeout=timeout, socket_connect_timeout=timeout
                )
                client = _clients[key] = redis.Redis(connection_pool=pool)
    return client


class _RedisMutexes:
    """Session locks as Redis keys (see the module docstring)."""

    def __init__(
        self, client: Any, url: str, prefix: str, lock_ttl: float, lock_wait: float
    ) -> None:
        self.client = client
        self.url = safe_url(url)
        self.prefix = prefix
        self.ttl_ms = max(1, int(lock_ttl * 1000))
        self.wait = lock_wait
        self.unlock_script = client.register_script(_UNLOCK)

    def _key(self, key: Optional[str]) -> str:
        return f"{self.prefix}{key}:lock"

    def _take(self, session: BaseSession, key: Optional[str]) -> Optional[bytes]:
        """One attempt: the token now stored in the lock key, or None if it was taken."""
        token = secrets.token_hex(16).encode("ascii")
        try:
            if self.client.set(self._key(key), token, nx=True, px=self.ttl_ms):
                return token
        except redis.RedisError as exc:
            message = f"cannot lock session {key} in Redis at {self.url}"
            raise session._unavailable(message, exc) from exc
        return None

    def lock(self, session: BaseSession, key: Optional[str]) -> bytes:
        deadline = time.monotonic() + self.wait
        delay = 0.002
        while True:
            token = self._take(session, key)
            if token is not None:
                return token
            if time.monotonic() >= deadline:
                raise session._unavailable(
                    f"session {key} stayed locked for more than {self.wait:g} s"
                    f" (Redis key {self._key(key)} at {self.url})"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.05)

    def trylock(self, session: BaseSession, key: Optional[str]) -> Any:
        token = self._take(session, key)
        return BUSY if token is None else token

    def unlock(self, session: BaseSession, key: Optional[str], token: bytes) -> None:
        try:
            self.unlock_script(keys=[self._key(key)], args=[token])
        except redis.RedisError as exc:
            raise session._unavailable(
                f"cannot unlock session {key} in Redis at {self.url} (the lock expires by itself)",
                exc,
            ) from exc


class RedisSession(BaseSession):
    """Sessions in Redis; *url* overrides ``PythonOption mod_python.session.redis_url``."""

    _store_expires = True

    def __init__(
        self,
        req: Any,
        sid: Optional[str] = None,
        secret: Optional[str] = None,
        timeout: float = 0,
        lock: Union[bool, int] = 1,
        url: Optional[str] = None,
    ) -> None:
        options = request_options(req)
        self._redis_url = url or first(options, "mod_python.session.redis_url") or DEFAULT_URL
        self._redis_prefix = options.get("mod_python.session.redis_prefix") or DEFAULT_PREFIX
        self._redis_timeout = number_option(options, "mod_python.session.redis_timeout", 3.0, 0.001)
        self._redis_lock_ttl = number_option(
            options, "mod_python.session.redis_lock_ttl", 60.0, 0.001
        )
        self._redis_lock_wait = number_option(options, "mod_python.session.redis_lock_wait", 30.0)
        self._redis = client_for(self._redis_url, self._redis_timeout)
        super().__init__(req, sid=sid, secret=secret, timeout=timeout, lock=lock)

    def init_lock(self) -> None:
        key = (
            self._redis_url,
            self._redis_timeout,
            self._redis_prefix,
            self._redis_lock_ttl,
            self._redis_lock_wait,
        )
        locks = _locks.get(key)
        if locks is None:
            with _registry_lock:
                locks = _locks.setdefault(
                    key,
                    Locks(
                        _RedisMutexes(
                            self._redis,
                            self._redis_url,
                            self._redis_prefix,
                            self._redis_lock_ttl,
                            self._redis_lock_wait,
                        )
                    ),
                )
        # The session itself is the lock's context: errors are reported through it.
        self._locks, self._lock_server = locks, self

    def _key(self) -> str:
        return self._redis_prefix + self._sid

    def _failed(self, doing: str, exc: BaseException) -> Exception:
        return self._unavailable(f"cannot {doing} in Redis at {safe_url(self._redis_url)}", exc)

    def do_load(self) -> Optional[Record]:
        try:
            data = self._redis.get(self._key())
        except redis.RedisError as exc:
            raise self._failed(f"read session {self._sid}", exc) from exc
        return None if data is None else loads(self._req, self._sid, data)

    def do_save(self, record: Record) -> None:
        ttl_ms = max(1, int(float(record["_timeout"]) * 1000))
        try:
            self._redis.set(self._key(), dumps(record), px=ttl_ms)
        except redis.RedisError as exc:
            raise self._failed(f"save session {self._sid}", exc) from exc

    def do_delete(self) -> None:
        try:
            self._redis.delete(self._key())
        except redis.RedisError as exc:
            raise self._failed(f"delete session {self._sid}", exc) from exc
