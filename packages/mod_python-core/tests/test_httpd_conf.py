"""httpd.conf rendering (fake installs, no Apache needed) and one real start/stop."""

from __future__ import annotations

import os
import stat
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from mod_python._httpd import (
    ApacheInstall,
    ApacheServer,
    ApacheStartError,
    ServerConfig,
    find_apache,
    free_port,
    mpm_block,
    render,
    write_config,
)
from mod_python._httpd import conf as conf_module
from mod_python._httpd.conf import quote
from mod_python._httpd.process import child_pids, thread_ids

MODULES_24 = (
    "mod_mime",
    "mod_dir",
    "mod_alias",
    "mod_log_config",
    "mod_authz_core",
    "mod_authn_core",
    "mod_authz_host",
    "mod_mpm_prefork",
    "mod_mpm_event",
)
MODULES_22 = ("mod_mime", "mod_dir", "mod_alias", "mod_log_config", "mod_authz_host")


def _modules_dir(path: Path, names: tuple[str, ...]) -> str:
    path.mkdir()
    for name in names:
        (path / f"{name}.so").write_bytes(b"")
    return str(path)


@pytest.fixture
def fake_24(tmp_path: Path) -> ApacheInstall:
    return ApacheInstall(
        flavour="2.4",
        apxs="/fake/bin/apxs",
        httpd="/fake/sbin/httpd",
        version=(2, 4, 62),
        modules_dir=_modules_dir(tmp_path / "modules24", MODULES_24),
        builtin_mpm=None,
        mime_types=None,
    )


@pytest.fixture
def fake_22(tmp_path: Path) -> ApacheInstall:
    return ApacheInstall(
        flavour="2.2",
        apxs="/fake22/bin/apxs",
        httpd="/fake22/bin/httpd",
        version=(2, 2, 34),
        modules_dir=_modules_dir(tmp_path / "modules22", MODULES_22),
        builtin_mpm="prefork",
        mime_types="/fake22/conf/mime.types",
    )


@pytest.fixture
def no_user_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Render as a normal user would (no User/Group fallback), whoever runs the tests."""
    monkeypatch.setattr(conf_module.os, "geteuid", lambda: 1000)


def _cfg(tmp_path: Path, **kw: object) -> ServerConfig:
    values: dict[str, object] = {
        "server_root": str(tmp_path / "srv"),
        "port": 8123,
        "document_root": str(tmp_path / "docs"),
        "mod_python_so": "/build/mod_python.so",
    }
    values.update(kw)
    return ServerConfig(**values)  # type: ignore[arg-type]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


@pytest.mark.usefixtures("no_user_switch")
class TestRender24:
    def test_access_and_locking_syntax(self, fake_24: ApacheInstall, tmp_path: Path) -> None:
        text = render(fake_24, _cfg(tmp_path))
        lines = _lines(text)
        assert "Require all granted" in lines
        assert "Require all denied" in lines
        assert "Allow from all" not in text
        assert "Order allow,deny" not in text
        run_dir = str(tmp_path / "srv" / "run")
        assert f'DefaultRuntimeDir "{run_dir}"' in lines
        assert f'Mutex "file:{run_dir}" default' in lines
        assert "LockFile" not in text
        assert "MaxRequestWorkers 10" in lines
        assert "MaxClients" not in text

    def test_mpm_is_loaded_as_module(self, fake_24: ApacheInstall, tmp_path: Path) -> None:
        text = render(fake_24, _cfg(tmp_path, mpm="event"))
        so = os.path.join(fake_24.modules_dir, "mod_mpm_event.so")
        assert f'LoadModule mpm_event_module "{so}"' in _lines(text)
        assert "mpm_prefork_module" not in text
        assert "ThreadsPerChild 10" in _lines(text)

    def test_missing_mpm_module_is_an_error(self, fake_24: ApacheInstall, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match=r"mod_mpm_worker\.so.*available MPMs: prefork, event"):
            render(fake_24, _cfg(tmp_path, mpm="worker"))

    def test_listens_on_loopback_only(self, fake_24: ApacheInstall, tmp_path: Path) -> None:
        text = render(fake_24, _cfg(tmp_path, port=8123, listen_extra=[8124, 8125]))
        listens = [line for line in _lines(text) if line.startswith("Listen")]
        assert listens == [
            "Listen 127.0.0.1:8123",
            "Listen 127.0.0.1:8124",
            "Listen 127.0.0.1:8125",
        ]
        assert "ServerName 127.0.0.1:8123" in _lines(text)

    def test_duplicate_or_bad_ports(self, fake_24: ApacheInstall, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="duplicate"):
            render(fake_24, _cfg(tmp_path, port=8123, listen_extra=[8123]))
        with pytest.raises(ValueError, match="invalid port"):
            render(fake_24, _cfg(tmp_path, port=70000))

    def test_runtime_files_under_server_root(self, fake_24: ApacheInstall, tmp_path: Path) -> None:
        root = str(tmp_path / "srv")
        lines = _lines(render(fake_24, _cfg(tmp_path)))
        assert f'ServerRoot "{root}"' in lines
        assert f'PidFile "{root}/httpd.pid"' in lines
        assert f'ScoreBoardFile "{root}/apache_runtime_status"' in lines
        assert f'ErrorLog "{root}/error_log"' in lines
        assert f'CustomLog "{root}/access_log" mod_python' in lines
        assert f'TypesConfig "{root}/mime.types"' in lines  # generated: install has none

    def test_stderr_logging(self, fake_24: ApacheInstall, tmp_path: Path) -> None:
        cfg = _cfg(tmp_path, error_log="/dev/stderr", access_log="/dev/stdout", log_level="debug")
        lines = _lines(render(fake_24, cfg))
        assert 'ErrorLog "/dev/stderr"' in lines
        assert 'CustomLog "/dev/stdout" mod_python' in lines
        assert "LogLevel debug" in lines

    def test_document_root_block(self, fake_24: ApacheInstall, tmp_path: Path) -> None:
        docs = str(tmp_path / "docs")
        lines = _lines(render(fake_24, _cfg(tmp_path)))
        start = lines.index(f'<Directory "{docs}">')
        block = lines[start : lines.index("</Directory>", start)]
        assert "AllowOverride All" in block
        assert "Options +Indexes +FollowSymLinks +Includes" in block
        assert "Require all granted" in block
        assert f'DocumentRoot "{docs}"' in lines
        assert "DirectoryIndex index.html index.py" in lines
        ht = lines.index('<FilesMatch "^\\.ht">')
        assert lines[ht + 1 : ht + 3] == ["Require all denied", "</FilesMatch>"]

    def test_absent_modules_are_skipped(self, fake_24: ApacheInstall, tmp_path: Path) -> None:
        text = render(fake_24, _cfg(tmp_path))
        assert "mime_module" in text
        assert "authz_core_module" in text
        assert "include_module" not in text  # not in the fake modules dir
        assert "authz_default_module" not in text  # 2.2 only

    def test_static_modules_are_not_loaded(self, tmp_path: Path) -> None:
        install = ApacheInstall(
            flavour="2.4",
            apxs="/a",
            httpd="/h",
            version=(2, 4, 62),
            modules_dir=_modules_dir(tmp_path / "m", ("mod_mime", "mod_log_config")),
            builtin_mpm="event",
            mime_types=None,
            static_modules=("mod_log_config",),
        )
        text = render(install, _cfg(tmp_path, mpm="event"))
        assert "log_config_module" in text  # only in <IfModule log_config_module>
        assert "LoadModule log_config_module" not in text
        assert "LoadModule mpm_" not in text  # a 2.4 with a compiled-in MPM

    def test_mime_is_required(self, tmp_path: Path) -> None:
        install = ApacheInstall(
            flavour="2.4",
            apxs="/a",
            httpd="/h",
            version=(2, 4, 62),
            modules_dir=_modules_dir(tmp_path / "m", ("mod_mpm_prefork",)),
            builtin_mpm=None,
            mime_types=None,
        )
        with pytest.raises(ValueError, match="mod_mime"):
            render(install, _cfg(tmp_path))

    def test_python_module_and_home_before_extra(
        self, fake_24: ApacheInstall, tmp_path: Path
    ) -> None:
        extra = "<Location /py>\n    SetHandler mod_python\n    PythonHandler h\n</Location>\n"
        cfg = _cfg(tmp_path, python_home="/opt/venv", extra=extra)
        lines = _lines(render(fake_24, cfg))
        load = lines.index('LoadModule python_module "/build/mod_python.so"')
        assert lines[load + 1] == 'PythonHome "/opt/venv"'
        assert load + 1 < lines.index("<Location /py>")
        assert lines.index("PythonHandler h") > load
        assert lines[-1] == "</Location>"

    def test_without_mod_python(self, fake_24: ApacheInstall, tmp_path: Path) -> None:
        text = render(fake_24, _cfg(tmp_path, mod_python_so=None))
        assert "python_module" not in text
        assert "PythonHome" not in text
        with pytest.raises(ValueError, match="PythonHome"):
            render(fake_24, _cfg(tmp_path, mod_python_so=None, python_home="/opt/venv"))

    def test_paths_with_spaces_are_quoted(self, fake_24: ApacheInstall, tmp_path: Path) -> None:
        docs = str(tmp_path / "my docs")
        lines = _lines(render(fake_24, _cfg(tmp_path, document_root=docs)))
        assert f'DocumentRoot "{docs}"' in lines
        assert f'<Directory "{docs}">' in lines

    def test_quote_refuses_quotes_and_newlines(self) -> None:
        assert quote("/a b") == '"/a b"'
        with pytest.raises(ValueError, match="quote or newline"):
            quote('/a"b')
        with pytest.raises(ValueError, match="quote or newline"):
            quote("/a\nb")

    def test_no_user_when_not_root(self, fake_24: ApacheInstall, tmp_path: Path) -> None:
        text = render(fake_24, _cfg(tmp_path))
        assert "\nUser " not in text
        assert "\nGroup " not in text

    def test_explicit_user(self, fake_24: ApacheInstall, tmp_path: Path) -> None:
        lines = _lines(render(fake_24, _cfg(tmp_path, user="alice", group="staff")))
        assert "User alice" in lines
        assert "Group staff" in lines


def test_root_with_unshare_emits_no_user(
    fake_24: ApacheInstall, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conf_module.os, "geteuid", lambda: 0)
    monkeypatch.setattr(conf_module, "unshare_prefix", lambda: ["unshare", "--user"])
    text = render(fake_24, _cfg(tmp_path))
    assert "\nUser " not in text


def test_root_without_unshare_falls_back_to_user(
    fake_24: ApacheInstall, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conf_module.os, "geteuid", lambda: 0)
    monkeypatch.setattr(conf_module, "unshare_prefix", list)
    with pytest.warns(RuntimeWarning, match="cannot read files under /root"):
        lines = _lines(render(fake_24, _cfg(tmp_path)))
    assert any(line.startswith("User ") for line in lines)
    assert any(line.startswith("Group ") for line in lines)


@pytest.mark.usefixtures("no_user_switch")
class TestRender22:
    def test_access_and_locking_syntax(self, fake_22: ApacheInstall, tmp_path: Path) -> None:
        text = render(fake_22, _cfg(tmp_path))
        lines = _lines(text)
        assert "Order allow,deny" in lines
        assert "Allow from all" in lines
        assert "Require" not in text
        assert f'LockFile "{tmp_path / "srv" / "accept.lock"}"' in lines
        for directive in ("Mutex", "DefaultRuntimeDir", "IncludeOptional"):
            assert directive not in text
        assert "MaxClients 10" in lines
        assert "MaxRequestsPerChild 0" in lines
        assert "MaxRequestWorkers" not in text
        assert 'TypesConfig "/fake22/conf/mime.types"' in lines

    def test_builtin_mpm_not_loaded(self, fake_22: ApacheInstall, tmp_path: Path) -> None:
        assert "LoadModule mpm_" not in render(fake_22, _cfg(tmp_path, mpm="prefork"))

    def test_other_mpm_is_an_error(self, fake_22: ApacheInstall, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match=r"'prefork' MPM compiled in.*MPM 'worker'"):
            render(fake_22, _cfg(tmp_path, mpm="worker"))


def test_mpm_block(fake_24: ApacheInstall, fake_22: ApacheInstall) -> None:
    worker = mpm_block(fake_24, "worker", 4).splitlines()
    assert "ThreadsPerChild 4" in worker
    assert "MaxRequestWorkers 8" in worker
    assert "MaxClients 8" in mpm_block(fake_22, "worker", 4).splitlines()
    assert "MaxRequestWorkers 3" in mpm_block(fake_24, "prefork", 3).splitlines()
    with pytest.raises(ValueError, match="unknown MPM"):
        mpm_block(fake_24, "winnt")
    with pytest.raises(ValueError, match="at least 1"):
        mpm_block(fake_24, "event", 0)


@pytest.mark.usefixtures("no_user_switch")
def test_write_config(fake_24: ApacheInstall, tmp_path: Path) -> None:
    cfg = _cfg(tmp_path)
    path = write_config(fake_24, cfg)
    assert path == str(tmp_path / "srv" / "httpd.conf")
    assert Path(path).read_text() == render(fake_24, cfg)
    assert "text/html html" in (tmp_path / "srv" / "mime.types").read_text()
    for directory in (tmp_path / "srv", tmp_path / "srv" / "run"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o755


# -- a real Apache --------------------------------------------------------------


@pytest.fixture(scope="module")
def real_apache() -> ApacheInstall:
    try:
        return find_apache()
    except LookupError as exc:
        pytest.skip(f"no Apache found: {exc}")


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_real_apache_serves_restarts_and_stops(real_apache: ApacheInstall, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "hello.txt").write_text("hello from apache\n")
    (docs / ".htaccess").write_text("AddType text/x-test .test\n")
    cfg = ServerConfig(
        server_root=str(tmp_path / "server root"),
        port=free_port(),
        document_root=str(docs),
        mod_python_so=None,
    )
    server = ApacheServer(real_apache, cfg)
    server.start()
    try:
        pid = server.pid
        assert pid is not None and _alive(pid)
        assert server.url == f"http://127.0.0.1:{cfg.port}"
        assert _fetch(server.url + "/hello.txt") == b"hello from apache\n"
        with pytest.raises(urllib.error.HTTPError) as denied:
            _fetch(server.url + "/.htaccess")
        assert denied.value.code == 403
        server.graceful()
        server.wait_ready()
        assert _fetch(server.url + "/hello.txt") == b"hello from apache\n"
        server.restart()
        server.wait_ready()
        assert _fetch(server.url + "/hello.txt") == b"hello from apache\n"
        assert server.error_log_text().count("resuming normal operations") == 3
    finally:
        server.stop()
    assert not _alive(pid)
    assert server.pid is None
    server.stop()  # idempotent


def test_real_apache_start_error_quotes_logs(real_apache: ApacheInstall, tmp_path: Path) -> None:
    cfg = ServerConfig(
        server_root=str(tmp_path / "srv"),
        port=free_port(),
        document_root=str(tmp_path),
        mod_python_so=None,
        extra="NoSuchDirectiveHere on\n",
    )
    server = ApacheServer(real_apache, cfg)
    with pytest.raises(ApacheStartError, match="NoSuchDirectiveHere"):
        server.start(timeout=20)
    assert server.pid is None


def test_real_apache_context_manager_threaded_mpm(
    real_apache: ApacheInstall, tmp_path: Path
) -> None:
    threaded = [mpm for mpm in real_apache.mpms() if mpm != "prefork"]
    if not threaded:
        pytest.skip(f"{real_apache.describe()} has no threaded MPM")
    (tmp_path / "index.html").write_text("<p>index</p>")
    cfg = ServerConfig(
        server_root=str(tmp_path / "srv"),
        port=free_port(),
        document_root=str(tmp_path),
        mod_python_so=None,
        mpm=threaded[-1],
        threads=3,
    )
    with ApacheServer(real_apache, cfg) as server:
        # Ready means every child started: main thread, 3 workers, listener.
        assert server.pid is not None
        children = child_pids(server.pid)
        assert len(children) == 2
        assert all(len(thread_ids(child)) >= 3 + 2 for child in children)
        assert _fetch(server.url + "/") == b"<p>index</p>"
        # A full restart waits for the connection just used to be closed.
        server.restart()
        server.wait_ready()
        assert not children & child_pids(server.pid)
        assert _fetch(server.url + "/") == b"<p>index</p>"
        pid = server.pid
    assert pid is not None and not _alive(pid)
