"""Helpers for the unit tests: a request object as a non-Apache server would
provide it, a tiny cookie jar, and per-test store and lock directories.

These tests run outside Apache, so sessions use the fallback locks (thread
locks plus flock()ed files); tests/integration/test_session.py covers Apache.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from mod_python import Session

sys.path.insert(0, os.path.dirname(__file__))  # tests/services.py for the store tests


class Table:
    """A multi-valued header table that ignores case, like Apache's."""

    def __init__(self) -> None:
        self._items: List[Tuple[str, str]] = []

    def add(self, key: str, value: str) -> None:
        self._items.append((key, value))

    def items(self) -> List[Tuple[str, str]]:
        return list(self._items)

    def keys(self) -> List[str]:
        return [k for k, _ in self._items]

    def get_all(self, key: str) -> List[str]:
        return [v for k, v in self._items if k.lower() == key.lower()]

    def get(self, key: str, default: Optional[str] = None) -> Optional[str]:
        values = self.get_all(key)
        return values[0] if values else default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(self.get_all(key))

    def __getitem__(self, key: str) -> str:
        values = self.get_all(key)
        if not values:
            raise KeyError(key)
        return values[0]

    def __setitem__(self, key: str, value: str) -> None:
        del self[key]
        self.add(key, value)

    def __delitem__(self, key: str) -> None:
        self._items = [(k, v) for k, v in self._items if k.lower() != key.lower()]


class FakeRequest:
    """What mod_python.Session needs of a request, outside Apache."""

    def __init__(
        self,
        options: Optional[Dict[str, str]] = None,
        cookie: Optional[str] = None,
        document_root: Optional[str] = None,
        directory: Optional[str] = None,
        https: Optional[bool] = None,
    ) -> None:
        self.headers_in = Table()
        self.headers_out = Table()
        if cookie:
            self.headers_in.add("Cookie", cookie)
        self.options = dict(options or {})
        self.cleanups: List[Tuple[Callable[..., Any], Any]] = []
        self.finished = False
        if document_root is not None:
            self.document_root = lambda: document_root
        if directory is not None:
            self.hlist = type("HandlerEntry", (), {"directory": directory})()
        if https is not None:
            self.is_https = lambda: https

    def get_options(self) -> Dict[str, str]:
        return self.options

    def register_cleanup(self, func: Callable[..., Any], data: Any = None) -> None:
        assert not self.finished, "cleanup registered after the request ended"
        self.cleanups.append((func, data))

    def finish(self) -> None:
        """End the request as Apache does: run every cleanup, in order."""
        self.finished = True
        for func, data in self.cleanups:
            if data is None:
                func()
            else:
                func(data)

    def set_cookies(self) -> List[str]:
        return self.headers_out.get_all("Set-Cookie")


class Browser:
    """Keeps the cookies that responses set, and sends them back."""

    def __init__(self) -> None:
        self.cookies: Dict[str, str] = {}

    def request(self, options: Dict[str, str], **kw: Any) -> FakeRequest:
        header = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return FakeRequest(options, cookie=header or None, **kw)

    def receive(self, req: FakeRequest) -> None:
        for text in req.set_cookies():
            name, _, rest = text.partition("=")
            value = rest.split(";", 1)[0]
            if re.search(r"Expires=Thu, 01[ -]Jan[ -]1970", text):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value


@pytest.fixture
def options(tmp_path: Any) -> Dict[str, str]:
    """Options putting every store and lock file of a test under tmp_path."""
    (tmp_path / "files").mkdir()
    (tmp_path / "dbm").mkdir()
    return {
        "mod_python.session.lock_directory": str(tmp_path / "locks"),
        "mod_python.file_session.database_directory": str(tmp_path / "files"),
        "mod_python.dbm_session.database_directory": str(tmp_path / "dbm"),
    }


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Any]:
    from session_services import RedisServer

    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[Any]:
    from session_services import PostgreSQLServer

    with PostgreSQLServer() as server:
        yield server


@pytest.fixture
def redis_options(redis_server: Any) -> Dict[str, str]:
    """RedisSession options with keys of this test's own (a fresh prefix)."""
    return {
        "mod_python.session.redis_url": redis_server.url,
        "mod_python.session.redis_prefix": f"test-{uuid.uuid4().hex}:",
    }


@pytest.fixture
def postgresql_options(postgresql_server: Any) -> Dict[str, str]:
    """PostgreSQLSession options with a table of this test's own."""
    return {
        "mod_python.session.postgresql_dsn": postgresql_server.dsn,
        "mod_python.session.postgresql_table": f"sessions_{uuid.uuid4().hex[:12]}",
    }


@pytest.fixture
def browser() -> Browser:
    return Browser()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: Any, tmp_path: Any) -> Iterator[None]:
    """No test sees another's memory sessions or the real temp directory."""
    from mod_python import _session_memory

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setattr(Session, "CLEANUP_CHANCE", 0, raising=False)
    _session_memory._sessions.clear()
    yield
    _session_memory._sessions.clear()
