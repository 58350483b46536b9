"""What every part of the publisher shares: its defaults and the refusal
that answers a request with an HTTP status instead of publishing."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Optional

#: What a request names when its path says nothing more (manual 7.1.2).
DEFAULT_NAME = "index"
#: The realm of the 401 challenge when no ``__auth_realm__`` names one.
DEFAULT_REALM = "unknown"

_ABSENT: Any = object()


class _Refused(Exception):
    """The publisher answers the request with ``status`` instead of publishing.

    ``reason`` goes to the error log only: the client sees Apache's page
    for the status, which tells nothing about the site's code.
    """

    def __init__(self, status: HTTPStatus, reason: str, realm: Optional[str] = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.realm = realm  # for 401: the realm of the WWW-Authenticate challenge


def _not_found(reason: str) -> _Refused:
    return _Refused(HTTPStatus.NOT_FOUND, reason)
