"""mod_python.Session: session management (manual section 4.8, "Session").

A session is a dict kept across requests, identified by a cookie (``pysid``
by default) and locked for the request that uses it. :func:`Session` picks
the class from ``PythonOption mod_python.session.session_type`` or, without
it, from Apache's MPM as the manual says. Backends: :class:`DbmSession`,
:class:`FileSession`, :class:`MemorySession` (3.3's) and :class:`RedisSession`,
:class:`PostgreSQLSession` (whose drivers are the extras ``[redis]`` and
``[postgresql]``; they are imported only when used).

This module must stay importable outside Apache, so it never imports
``mod_python.apache`` when it is imported; outside Apache the sessions lock
with thread and file locks instead of Apache's global mutexes.
"""

from __future__ import annotations

from typing import Any, Optional, Union

from mod_python._session_base import (
    CLEANUP_CHANCE,
    COOKIE_NAME,
    DFT_LOCK,
    DFT_TIMEOUT,
    BaseSession,
)
from mod_python._session_dbm import DbmSession, dbm_cleanup
from mod_python._session_errors import SessionStoreUnavailable, apache_module
from mod_python._session_file import FileSession, filesession_cleanup
from mod_python._session_ids import SID_LENGTH
from mod_python._session_memory import MemorySession, mem_cleanup
from mod_python._session_options import first, request_options
from mod_python._session_version import __version__

try:
    from mod_python._siblings import require as _require
except ImportError as exc:  # a mod_python-core from before the check existed
    raise ImportError(f"mod_python-session needs a newer mod_python-core ({exc})") from exc

_require("mod_python-session")

__all__ = [
    "CLEANUP_CHANCE",
    "COOKIE_NAME",
    "DFT_LOCK",
    "DFT_TIMEOUT",
    "SID_LENGTH",
    "BaseSession",
    "DbmSession",
    "FileSession",
    "MemorySession",
    "PostgreSQLSession",  # noqa: F822  (module __getattr__)
    "RedisSession",  # noqa: F822
    "Session",
    "SessionStoreUnavailable",
    "__version__",
    "dbm_cleanup",
    "filesession_cleanup",
    "mem_cleanup",
]

# Backends whose driver is an optional extra: imported on first use.
_LAZY = {
    "RedisSession": "mod_python._session_redis",
    "PostgreSQLSession": "mod_python._session_postgresql",
}

_TYPES = ("DbmSession", "FileSession", "MemorySession", "RedisSession", "PostgreSQLSession")


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'mod_python.Session' has no attribute {name!r}")
    import importlib

    cls = getattr(importlib.import_module(module_name), name)
    globals()[name] = cls
    return cls


def _class_named(name: str) -> Any:
    for known in _TYPES:
        if known.lower() == name.strip().lower():
            return globals()[known] if known in globals() else __getattr__(known)
    raise ValueError(
        f"PythonOption mod_python.session.session_type {name!r} is not one of {', '.join(_TYPES)}"
    )


def _default_class() -> Any:
    """MemorySession for a threaded MPM with a single process, else DbmSession (4.8.1)."""
    apache = apache_module()
    if apache is None:
        return DbmSession  # outside Apache nothing says there is only one process
    threaded = apache.mpm_query(apache.AP_MPMQ_IS_THREADED) != apache.AP_MPMQ_NOT_SUPPORTED
    forked = apache.mpm_query(apache.AP_MPMQ_IS_FORKED) != apache.AP_MPMQ_NOT_SUPPORTED
    if threaded and (not forked or apache.mpm_query(apache.AP_MPMQ_MAX_DAEMONS) == 1):
        return MemorySession
    return DbmSession


def Session(
    req: Any,
    sid: Optional[str] = None,
    secret: Optional[str] = None,
    timeout: float = 0,
    lock: Union[bool, int] = 1,
) -> BaseSession:
    """A session for *req*, of the configured class (``mod_python.session.session_type``,
    or 3.3's obsolete ``session`` option), else of the MPM's default class."""
    name = first(request_options(req), "mod_python.session.session_type", "session")
    cls = _class_named(name) if name else _default_class()
    session: BaseSession = cls(req, sid=sid, secret=secret, timeout=timeout, lock=lock)
    return session
