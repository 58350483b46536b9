"""The ``mod_python`` console command."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from mod_python import _cli
from mod_python._httpd import ApacheInstall, ServerConfig, find_apache, free_port
from mod_python.version import __version__


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli.main(["version"]) == 0
    assert capsys.readouterr().out == f"{__version__}\n"


def test_version_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli.main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "serve" in out
    assert "version" in out


def test_serve_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli.main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--port", "--mpm", "--python-handler", "--module", "--apxs", "--log-level"):
        assert option in out


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli.main([]) == 2
    assert "serve" in capsys.readouterr().err


def test_bad_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli.main(["serve", ".", "--mpm", "winnt"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_serve_missing_directory(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli.main(["serve", "/nonexistent"]) != 0
    assert "/nonexistent is not a directory" in capsys.readouterr().err


@pytest.fixture
def fake_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ApacheInstall:
    modules = tmp_path / "modules"
    modules.mkdir()
    for name in ("mod_mime", "mod_mpm_prefork"):
        (modules / f"{name}.so").write_bytes(b"")
    install = ApacheInstall(
        "2.4", "/fake/apxs", "/fake/httpd", (2, 4, 62), str(modules), None, None
    )
    monkeypatch.setattr(_cli, "find_apache", lambda apxs=None: install)
    monkeypatch.delenv("MOD_PYTHON_SO", raising=False)
    return install


def test_serve_without_mod_python_so(
    fake_install: ApacheInstall, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli.main(["serve", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "mod_python.so not found" in err
    assert os.path.join(fake_install.modules_dir, "mod_python.so") in err
    assert "mod_python build-module --apxs /fake/apxs" in err
    assert "nox -s serve" in err


def test_serve_module_option_missing_file(
    fake_install: ApacheInstall, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "missing.so")
    assert _cli.main(["serve", str(tmp_path), "--module", missing]) == 2
    assert f"--module {missing}" in capsys.readouterr().err


def test_serve_unavailable_mpm(
    fake_install: ApacheInstall, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    so = tmp_path / "mod_python.so"
    so.write_bytes(b"")
    assert _cli.main(["serve", str(tmp_path), "--module", str(so), "--mpm", "event"]) == 2
    assert "cannot run MPM event; available: prefork" in capsys.readouterr().err


def test_serve_no_apache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Any) -> None:
    def missing(apxs: str | None = None) -> ApacheInstall:
        raise LookupError("no Apache httpd found. Tried: everything")

    monkeypatch.setattr(_cli, "find_apache", missing)
    assert _cli.main(["serve", str(tmp_path)]) == 2
    assert "no Apache httpd found" in capsys.readouterr().err


def test_serve_extra() -> None:
    handler = _cli._serve_extra("/srv/app", "myapp.handler")
    assert handler.splitlines() == [
        '<Directory "/srv/app">',
        "    SetHandler mod_python",
        "    PythonHandler myapp.handler",
        "    PythonDebug On",
        "</Directory>",
    ]
    plain = _cli._serve_extra("/srv/app", None)
    assert "AddHandler mod_python .py" in plain
    assert "PythonDebug On" in plain
    assert "SetHandler" not in plain


def test_serve_runs_and_stops_on_sigterm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """The whole serve life cycle on a real Apache, minus loading mod_python.so.

    mod_python.so is built elsewhere (c_module); here the generated configuration
    is stripped of its mod_python lines so plain Apache can run it.
    """
    try:
        find_apache()
    except LookupError as exc:
        pytest.skip(f"no Apache found: {exc}")
    real_config = _cli.ServerConfig
    seen: list[ServerConfig] = []

    def without_mod_python(**kwargs: Any) -> ServerConfig:
        cfg = real_config(**kwargs)
        seen.append(cfg)
        return real_config(**{**kwargs, "mod_python_so": None, "python_home": None, "extra": ""})

    monkeypatch.setattr(_cli, "ServerConfig", without_mod_python)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "hello.txt").write_text("hello\n")
    fake_so = tmp_path / "mod_python.so"
    fake_so.write_bytes(b"")
    port = free_port()
    fetched: list[bytes] = []

    def client() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            return  # serve failed; main() returns on its own
        time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello.txt", timeout=10) as resp:
            fetched.append(resp.read())
        os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    status = _cli.main(["serve", str(docs), "--port", str(port), "--module", str(fake_so)])
    thread.join(10)
    out = capfd.readouterr().out
    assert status == 0
    assert fetched == [b"hello\n"]
    assert f"Serving {docs} at http://127.0.0.1:{port}/ (Apache " in out
    assert "Ctrl-C to stop" in out
    assert '"GET /hello.txt HTTP/1.1" 200' in out  # the access log goes to stdout
    cfg = seen[0]
    assert cfg.error_log == "/dev/stderr"
    assert cfg.mod_python_so == str(fake_so)
    assert "PythonHandler" not in cfg.extra and "AddHandler mod_python .py" in cfg.extra
    assert not os.path.exists(cfg.server_root)  # the temp server root is removed
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is restored
