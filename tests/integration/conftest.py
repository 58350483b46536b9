"""The integration harness: a real Apache with mod_python on a free loopback port.

Which Apache, MPM and module to test comes from the environment (nox sets
it per matrix cell):

- ``MP_APXS``    apxs of the Apache to run (default: found as DESIGN.md says)
- ``MP_MPM``     prefork, worker or event (default: event, or 2.2's built-in)
- ``MP_MODULE``  the mod_python.so to load (default: c_module/build/mod_python.so)

Apache runs with the bare environment an init system gives it, so the
module must find its Python by itself.  When a test fails, the error_log of
every server still running is attached to the report.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import pytest
import requests

from mod_python._httpd import ApacheInstall, ApacheServer, ServerConfig, find_apache, free_port

REPO = Path(__file__).resolve().parents[2]
BARE_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}

_running: List[Server] = []


class Server:
    """A running Apache plus the site it serves."""

    def __init__(self, apache: ApacheServer, root: Path) -> None:
        self.apache = apache
        self.root = root
        self.docroot = root / "htdocs"
        self.url = apache.url
        self.http = requests.Session()

    def get(self, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 30)
        return self.http.get(self.url + path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 30)
        return self.http.post(self.url + path, **kw)

    def request(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 30)
        return self.http.request(method, self.url + path, **kw)

    def write(self, relpath: str, text: str) -> Path:
        """Write a file of the site (dedented), e.g. ``htdocs/app/handler.py``."""
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    def error_log(self) -> str:
        return self.apache.error_log_text()

    def stop(self) -> None:
        self.http.close()
        self.apache.stop()
        if self in _running:
            _running.remove(self)


@pytest.fixture(scope="session")
def apache_install() -> ApacheInstall:
    return find_apache(os.environ.get("MP_APXS") or None)


@pytest.fixture(scope="session")
def mpm(apache_install: ApacheInstall) -> str:
    wanted = os.environ.get("MP_MPM")
    if apache_install.builtin_mpm:
        if wanted and wanted != apache_install.builtin_mpm:
            raise RuntimeError(
                f"MP_MPM={wanted} but {apache_install.describe()} has {apache_install.builtin_mpm}"
            )
        return apache_install.builtin_mpm
    return wanted or "event"


@pytest.fixture(scope="session")
def mod_python_so() -> str:
    path = os.environ.get("MP_MODULE") or str(REPO / "c_module" / "build" / "mod_python.so")
    if not os.path.exists(path):
        raise RuntimeError(
            f"{path} does not exist: build it with `make -C c_module PYTHON={sys.executable}` "
            "or run the tests through nox"
        )
    return path


@pytest.fixture(scope="session")
def single_child(apache_install: ApacheInstall, mpm: str) -> Tuple[dict, str]:
    """ServerConfig fields and directives for exactly one Apache child without
    keep-alive (an idle kept-alive connection would hold prefork's only child),
    for tests that follow state across requests."""
    if mpm == "prefork":
        return {"threads": 1}, "KeepAlive Off\n"
    limit = "MaxClients" if apache_install.version < (2, 4, 0) else "MaxRequestWorkers"
    return {"threads": 4}, f"KeepAlive Off\nStartServers 1\n{limit} 4\n"


StartServer = Callable[..., Server]


@pytest.fixture(scope="module")
def start_server(
    apache_install: ApacheInstall, mpm: str, mod_python_so: str
) -> Iterator[StartServer]:
    """``start_server(config, files={...}, env={...}, **ServerConfig fields) -> Server``.

    ``config`` is Apache configuration appended after LoadModule; the
    literal strings ``{root}`` and ``{docroot}`` in it and in the file texts
    are replaced by the site's paths.  Servers are stopped when the test module ends.
    """
    started: List[Server] = []
    dirs: List[str] = []

    def start(
        config: str = "",
        files: Optional[Dict[str, str]] = None,
        env: Optional[Dict[str, str]] = None,
        **kw,
    ) -> Server:
        root = Path(tempfile.mkdtemp(prefix="mp-it-"))
        dirs.append(str(root))
        os.chmod(root, 0o755)
        (root / "htdocs").mkdir()
        (root / "logs").mkdir()

        def subst(text: str) -> str:
            text = textwrap.dedent(text)
            return text.replace("{root}", str(root)).replace("{docroot}", str(root / "htdocs"))

        cfg = ServerConfig(
            server_root=str(root / "logs"),
            port=free_port(),
            document_root=str(root / "htdocs"),
            mod_python_so=mod_python_so,
            mpm=mpm,
            extra=subst(config),
            **kw,
        )
        apache = ApacheServer(apache_install, cfg, env={**BARE_ENV, **(env or {})})
        server = Server(apache, root)
        for relpath, text in (files or {}).items():
            server.write(relpath, subst(text))
        apache.start()
        started.append(server)
        _running.append(server)
        return server

    yield start
    for server in started:
        server.stop()
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for server in _running:
            report.sections.append((f"Apache error_log ({server.url})", server.error_log()))
