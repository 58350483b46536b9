"""SessionStoreUnavailable, and how a session reports trouble (log, then raise).

Inside Apache a store that cannot be reached must answer 503 rather than 500
or a hang, so the exception raised there is *also* an
``apache.SERVER_RETURN(HTTP_SERVICE_UNAVAILABLE)``: a handler that does not
catch it gets the 503 from mod_python's dispatcher, one that wants to degrade
catches :class:`SessionStoreUnavailable` as it would outside Apache.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional

_LOG = logging.getLogger("mod_python.Session")
_UNSET: Any = object()
_apache: Any = _UNSET
_in_apache_classes: Dict[int, type] = {}


class SessionStoreUnavailable(Exception):
    """The session store cannot be reached or used right now (server down,
    time-out, disk error). Inside Apache the same exception is an
    ``apache.SERVER_RETURN`` carrying ``HTTP_SERVICE_UNAVAILABLE`` (503)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def apache_module() -> Any:
    """``mod_python.apache`` inside Apache, ``None`` elsewhere (imported once)."""
    global _apache
    if _apache is _UNSET:
        try:
            from mod_python import apache
        except ImportError:  # no _apache: not running inside Apache
            apache = None
        _apache = apache
    return _apache


def _in_apache_class(apache: Any) -> type:
    # One class per copy of mod_python.apache (one per interpreter).
    cls = _in_apache_classes.get(id(apache))
    if cls is None:

        class SessionStoreUnavailableInApache(SessionStoreUnavailable, apache.SERVER_RETURN):
            __module__ = "mod_python.Session"

            def __init__(self, message: str) -> None:
                super().__init__(message)
                # SERVER_RETURN's status is args[0] (read by the dispatcher).
                self.args = (apache.HTTP_SERVICE_UNAVAILABLE, message)

        cls = _in_apache_classes[id(apache)] = SessionStoreUnavailableInApache
    return cls


def log(req: Any, message: str, warning: bool = False) -> None:
    """Log to Apache's error log through ``req`` inside Apache, to logging elsewhere."""
    apache = apache_module()
    log_error = getattr(req, "log_error", None)
    if apache is not None and log_error is not None:
        log_error(message, apache.APLOG_WARNING if warning else apache.APLOG_ERR)
    elif warning:
        _LOG.warning("%s", message)
    else:
        _LOG.error("%s", message)


def unavailable(
    req: Any, message: str, cause: Optional[BaseException] = None
) -> SessionStoreUnavailable:
    """Log *message* and return the exception to raise for it (503 inside Apache)."""
    if cause is not None:
        message = f"{message}: {type(cause).__name__}: {cause}"
    log(req, f"mod_python.Session: {message}")
    apache = apache_module()
    if apache is None:
        return SessionStoreUnavailable(message)
    exc: SessionStoreUnavailable = _in_apache_class(apache)(message)
    return exc
