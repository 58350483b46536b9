"""BaseSession (manual 4.8.1): the dict, the id cookie, locking and expiry.

Backends subclass it and implement ``do_load()``, ``do_save()`` and
``do_delete()`` (3.3's hooks); those that lock by other means than the
mutexes of :mod:`mod_python._session_locks` also override ``init_lock()``,
``lock()`` and ``unlock()``.
"""

from __future__ import annotations

import os
import pickle
import random
import sys
import time
from typing import Any, Dict, Mapping, Optional, Union

from mod_python import Cookie
from mod_python._session_errors import SessionStoreUnavailable, apache_module, log, unavailable
from mod_python._session_ids import is_valid_sid, new_sid
from mod_python._session_locks import Locks, LockToken, apache_locks, fallback_locks
from mod_python._session_options import bool_option, first, request_options

#: Defaults of the module variables of mod_python.Session (read from there at
#: run time, so that assigning ``Session.CLEANUP_CHANCE`` takes effect).
COOKIE_NAME = "pysid"
DFT_TIMEOUT = 30 * 60
DFT_LOCK = True
CLEANUP_CHANCE = 1000

#: Pickle protocol of stored sessions: 4 is read by every supported Python,
#: so hosts on different Python versions can share a store.
PICKLE_PROTOCOL = 4

_SAMESITE = {"strict": "Strict", "lax": "Lax", "none": "None"}

Record = Dict[str, Any]


def module_setting(name: str, default: Any) -> Any:
    """``mod_python.Session.<name>`` as the application may have set it."""
    return getattr(sys.modules.get("mod_python.Session"), name, default)


def dumps(record: Record) -> bytes:
    return pickle.dumps(record, PICKLE_PROTOCOL)


def loads(req: Any, sid: str, data: bytes) -> Optional[Record]:
    """The stored record, or None (logged) when it cannot be read back.

    The stores hold server-side data only, written by this module: pickle is
    safe as long as nobody else can write to the store (see the docs).
    """
    try:
        record = pickle.loads(data)
    except Exception as exc:  # a truncated file, a class that no longer exists...
        log(req, f"mod_python.Session: session {sid} cannot be read back ({exc!r})", True)
        return None
    if not isinstance(record, dict) or not isinstance(record.get("_data"), dict):
        log(req, f"mod_python.Session: session {sid} holds no session record", True)
        return None
    return record


def expired(record: Record, now: Optional[float] = None) -> bool:
    try:
        accessed = float(record["_accessed"])
        timeout = float(record["_timeout"])
    except (KeyError, TypeError, ValueError):
        return True
    return (time.time() if now is None else now) - accessed > timeout


def _unlock_at_end(session: BaseSession) -> None:
    """The request cleanup every locked session registers (manual: lock())."""
    try:
        session.unlock()
    except SessionStoreUnavailable:
        pass  # already logged; a store-side lock expires by itself
    except Exception as exc:
        log(session._req, f"mod_python.Session: cannot unlock session {session._sid}: {exc!r}")


class BaseSession(dict):
    """A session: a dict kept across requests, identified by a cookie, locked
    for the request that uses it. Not usable by itself: subclasses store it."""

    #: True for backends whose store drops expired sessions by itself, so that
    #: the clock of this host is not consulted (Redis, PostgreSQL).
    _store_expires = False

    def __init__(
        self,
        req: Any,
        sid: Optional[str] = None,
        secret: Optional[Union[str, bytes]] = None,
        timeout: float = 0,
        lock: Union[bool, int] = 1,
    ) -> None:
        super().__init__()
        if secret is not None and not isinstance(secret, (str, bytes)):
            raise TypeError(f"a session secret must be a str or bytes, not {type(secret).__name__}")
        self._req = req
        self._secret = secret or None
        self._lock = bool(lock)
        self._lock_token: Optional[LockToken] = None
        self._unlock_registered = False
        self._new = True
        self._invalid = False
        self._created = 0.0
        self._accessed = 0.0
        self._timeout = self._check_timeout(timeout or module_setting("DFT_TIMEOUT", DFT_TIMEOUT))
        self._options: Mapping[str, str] = request_options(req)
        self._cookie_name = first(
            self._options, "mod_python.session.cookie_name"
        ) or module_setting("COOKIE_NAME", COOKIE_NAME)

        candidate = sid or self._sid_from_cookie()
        if candidate and not is_valid_sid(candidate):
            # MODPYTHON-135: ids come from clients; only well formed ones reach a store.
            log(req, f"mod_python.Session: ignoring malformed session id {candidate[:80]!r}", True)
            candidate = None
        self._sid = candidate or ""

        self.init_lock()
        try:
            if self._sid:
                if self._lock:
                    self.lock()
                if self.load():
                    self._new = False
                else:
                    # Unknown or expired: never adopt a client's id (session fixation).
                    self.unlock()
            if self._new:
                self._sid = new_sid()
                if self._lock:
                    self.lock()
                self._created = self._accessed = time.time()
                Cookie.add_cookie(req, self.make_cookie())
        except BaseException:
            # Leave no session locked behind a constructor that failed.
            try:
                self.unlock()
            except Exception:
                pass
            raise

        # The manual's probabilistic cleanup: once in CLEANUP_CHANCE sessions.
        chance = int(module_setting("CLEANUP_CHANCE", CLEANUP_CHANCE))
        if chance > 0 and random.randint(1, chance) == 1:
            self.cleanup()

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _check_timeout(secs: Any) -> float:
        if isinstance(secs, bool) or not isinstance(secs, (int, float)) or not secs > 0:
            raise ValueError(f"a session timeout must be a positive number of seconds: {secs!r}")
        return float(secs)

    def _unavailable(self, message: str, cause: Optional[BaseException] = None) -> Exception:
        """The exception a backend raises when its store cannot be used (503 in Apache)."""
        return unavailable(self._req, message, cause)

    def _sid_from_cookie(self) -> Optional[str]:
        try:
            if self._secret:
                cookie = Cookie.get_cookie(
                    self._req, self._cookie_name, Class=Cookie.SignedCookie, secret=self._secret
                )
                if cookie is not None and not isinstance(cookie, Cookie.SignedCookie):
                    # Badly signed, or not signed at all (MODPYTHON-191): ignored.
                    log(self._req, "mod_python.Session: ignoring a badly signed id cookie", True)
                    return None
            else:
                cookie = Cookie.get_cookie(self._req, self._cookie_name)
        except Exception as exc:  # the Cookie header is client input: no usable id
            log(self._req, f"mod_python.Session: ignoring unreadable cookies ({exc!r})", True)
            return None
        if cookie is None:
            return None
        value = cookie.value
        return value if isinstance(value, str) else None

    def _cookie_path(self) -> str:
        path = first(self._options, "mod_python.session.application_path", "ApplicationPath")
        if path:
            return path
        # The directory of the running handler relative to the DocumentRoot
        # (manual 4.8.1); "/" for <Location>, or outside the document root.
        hlist = getattr(self._req, "hlist", None)
        directory = getattr(hlist, "directory", None)
        document_root = getattr(self._req, "document_root", None)
        if not directory or document_root is None:
            return "/"
        root = os.path.normpath(document_root()).rstrip("/")
        directory = os.path.normpath(directory)
        if directory.startswith(root + "/"):
            return directory[len(root) :]
        return "/"

    def _cookie_attributes(self) -> Dict[str, Any]:
        attributes: Dict[str, Any] = {"path": self._cookie_path()}
        domain = first(self._options, "mod_python.session.application_domain")
        if domain:
            attributes["domain"] = domain
        secure_option = self._options.get("mod_python.session.cookie_secure")
        if secure_option:
            secure = bool_option(self._options, "mod_python.session.cookie_secure", False)
        else:
            is_https = getattr(self._req, "is_https", None)
            secure = bool(is_https()) if is_https is not None else False
        samesite = self._options.get("mod_python.session.cookie_samesite") or "Lax"
        if samesite.lower() not in _SAMESITE:
            raise ValueError(
                f"PythonOption mod_python.session.cookie_samesite {samesite!r}"
                " is not Strict, Lax or None"
            )
        attributes["samesite"] = _SAMESITE[samesite.lower()]
        # Browsers drop a SameSite=None cookie that is not Secure.
        if secure or attributes["samesite"] == "None":
            attributes["secure"] = True
        if bool_option(self._options, "mod_python.session.cookie_httponly", True):
            attributes["httponly"] = True
        return attributes

    # ------------------------------------------------------------------ cookies

    def make_cookie(self) -> Cookie.Cookie:
        """The session id cookie (a SignedCookie when a secret was given)."""
        attributes = self._cookie_attributes()
        if self._secret:
            return Cookie.SignedCookie(self._cookie_name, self._sid, self._secret, **attributes)
        return Cookie.Cookie(self._cookie_name, self._sid, **attributes)

    # ------------------------------------------------------------------ the manual's API

    def is_new(self) -> bool:
        """True if this request made the session (no, malformed, unknown or expired id)."""
        return self._new

    def id(self) -> str:
        """The session id (32 lower-case hex digits)."""
        return self._sid

    def created(self) -> float:
        """When the session was made, in seconds since the epoch."""
        return self._created

    def last_accessed(self) -> float:
        """When the session was last saved (made, if never), in seconds since the epoch."""
        return self._accessed

    def timeout(self) -> float:
        """Seconds without a save after which the session expires."""
        return self._timeout

    def set_timeout(self, secs: float) -> None:
        """Change the timeout (stored by the next save)."""
        self._timeout = self._check_timeout(secs)

    def invalidate(self) -> None:
        """Delete the session and make the browser forget its id; later saves do nothing."""
        cookie = self.make_cookie()
        cookie.expires = 0
        Cookie.add_cookie(self._req, cookie)
        self.delete()
        self._invalid = True

    def load(self) -> bool:
        """Read the session from the store; False if it is not there or has expired."""
        record = self.do_load()
        if record is None:
            return False
        if not self._store_expires and expired(record):
            self.do_delete()
            return False
        self.clear()
        self.update(record["_data"])
        self._created = float(record.get("_created") or time.time())
        self._accessed = float(record.get("_accessed") or time.time())
        self._timeout = self._check_timeout(record.get("_timeout") or self._timeout)
        return True

    def save(self) -> None:
        """Write the session to the store; the time of the save is its last access."""
        if self._invalid:
            return  # an invalidated session stays deleted
        self._accessed = time.time()
        self.do_save(self._record())

    def _record(self) -> Record:
        return {
            "_data": dict(self),
            "_created": self._created,
            "_accessed": self._accessed,
            "_timeout": self._timeout,
        }

    def delete(self) -> None:
        """Remove the session from the store."""
        self.do_delete()

    def init_lock(self) -> None:
        """Choose the locks: Apache's global mutexes inside Apache, else the fallback."""
        apache = apache_module()
        server = getattr(self._req, "server", None)
        self._locks: Locks
        if apache is not None and isinstance(server, apache.server):
            self._locks, self._lock_server = apache_locks(apache), server
        else:
            directory = first(self._options, "mod_python.session.lock_directory")
            self._locks, self._lock_server = fallback_locks(directory), None

    def lock(self) -> None:
        """Lock the session (waiting for others) until unlock() or the end of the request."""
        if self._lock_token is not None:
            return
        register = self._cleanup_registrar()
        self._lock_token = self._locks.acquire(self._lock_server, self._sid)
        if not self._unlock_registered:
            try:
                register(_unlock_at_end, self)
            except BaseException:
                self.unlock()
                raise
            self._unlock_registered = True

    def unlock(self) -> None:
        """Unlock the session now; nothing if it is not locked."""
        token, self._lock_token = self._lock_token, None
        if token is not None:
            self._locks.release(self._lock_server, token)

    def _cleanup_registrar(self) -> Any:
        register = getattr(self._req, "register_cleanup", None)
        if register is None:
            raise TypeError(
                "a locked session needs req.register_cleanup() to unlock it when the request"
                " ends; give the request object one, or pass lock=0"
            )
        return register

    def cleanup(self) -> None:
        """Remove expired sessions from the store (here: nothing to do)."""

    def _after_request(self, func: Any) -> None:
        """Run ``func(self)`` when the request ends (now, if the request object
        of an adapter cannot register cleanups); for cleanup() overrides."""
        register = getattr(self._req, "register_cleanup", None)
        if register is None:
            func(self)
        else:
            register(func, self)

    # ------------------------------------------------------------------ store hooks

    def do_load(self) -> Optional[Record]:
        """The stored record of this id, or None (for subclasses)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement do_load()")

    def do_save(self, record: Record) -> None:
        """Store *record* under this id (for subclasses)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement do_save()")

    def do_delete(self) -> None:
        """Remove the record of this id, if any (for subclasses)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement do_delete()")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._sid} {dict.__repr__(self)}>"
