"""``mod_python build-module`` and ``mod_python module-config``.

The build itself (a C compiler, apxs) is exercised by ``nox -s build``, which
installs the core wheel into a fresh venv, builds the module with this
command and serves a page with it; here: the sources shipped in the
distribution, where things are looked for, and the errors.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mod_python import _cli, _cli_module
from mod_python._httpd import ApacheInstall


@pytest.fixture
def fake_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ApacheInstall:
    modules = tmp_path / "modules"
    modules.mkdir()
    install = ApacheInstall(
        "2.4", "/fake/apxs", "/fake/httpd", (2, 4, 62), str(modules), None, None
    )
    monkeypatch.setattr(_cli_module, "find_apache", lambda apxs=None: install)
    monkeypatch.delenv("MOD_PYTHON_SO", raising=False)
    # build-module's default directory lives under sys.prefix: keep it in tmp_path.
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "prefix"))
    return install


def test_the_distribution_ships_the_c_sources():
    source = _cli_module.source_dir()
    assert (source / "Makefile").is_file()
    sources = {p.name for p in (source / "src").glob("*.c")}
    assert {"mod_python.c", "requestobject.c", "_apache.c"} <= sources
    assert (source / "include" / "mp_version.h").is_file()
    assert not (source / "build").exists() or source.is_symlink()  # no build output shipped


def test_the_default_build_directory_is_per_apache_under_sys_prefix(fake_install):
    one = _cli_module.default_build_dir("/usr/bin/apxs")
    other = _cli_module.default_build_dir("/opt/httpd/bin/apxs")
    assert one != other
    assert one.parent == Path(sys.prefix) / "lib" / "mod_python"


def test_module_config_prints_the_load_module_line(fake_install, tmp_path, capsys):
    so = tmp_path / "built" / "mod_python.so"
    so.parent.mkdir()
    so.write_bytes(b"")
    assert _cli.main(["module-config", "--module", str(so)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"LoadModule python_module {so}"


def test_module_config_finds_what_build_module_built(fake_install, capsys):
    built = _cli_module.default_build_dir(fake_install.apxs) / "mod_python.so"
    built.parent.mkdir(parents=True)
    built.write_bytes(b"")
    (Path(fake_install.modules_dir) / "mod_python.so").write_bytes(b"")
    assert _cli.main(["module-config"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"LoadModule python_module {built}"


def test_module_config_falls_back_to_apaches_modules_directory(fake_install, capsys):
    installed = Path(fake_install.modules_dir) / "mod_python.so"
    installed.write_bytes(b"")
    assert _cli.main(["module-config"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"LoadModule python_module {installed}"


def test_module_config_prefers_mod_python_so_from_the_environment(
    fake_install, tmp_path, monkeypatch, capsys
):
    env_so = tmp_path / "env.so"
    env_so.write_bytes(b"")
    (Path(fake_install.modules_dir) / "mod_python.so").write_bytes(b"")
    monkeypatch.setenv("MOD_PYTHON_SO", str(env_so))
    assert _cli.main(["module-config"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"LoadModule python_module {env_so}"


def test_module_config_names_the_venv(fake_install, tmp_path, monkeypatch, capsys):
    so = tmp_path / "mod_python.so"
    so.write_bytes(b"")
    monkeypatch.setattr(sys, "base_prefix", "/usr")
    assert _cli.main(["module-config", "--module", str(so)]) == 0
    assert capsys.readouterr().out.splitlines()[1] == f'PythonHome "{sys.prefix}"'


def test_module_config_without_a_module_says_how_to_build_one(fake_install, capsys):
    assert _cli.main(["module-config"]) == 2
    err = capsys.readouterr().err
    assert "mod_python.so not found" in err
    assert str(Path(fake_install.modules_dir) / "mod_python.so") in err
    assert "mod_python build-module" in err


def test_build_module_without_apache_is_a_clear_error(monkeypatch, capsys):
    def missing(apxs=None):
        raise LookupError("no Apache httpd found. Tried: everything")

    monkeypatch.setattr(_cli_module, "find_apache", missing)
    assert _cli.main(["build-module"]) == 2
    assert "no Apache httpd found" in capsys.readouterr().err


def test_build_module_reports_a_failed_build(fake_install, tmp_path, capsys):
    # /fake/apxs answers nothing, so make stops at the Makefile's apxs check.
    assert _cli.main(["build-module", "--build-dir", str(tmp_path / "b")]) == 1
    assert "building the module failed" in capsys.readouterr().err
    assert not (tmp_path / "b" / "mod_python.so").exists()


def test_help_lists_the_commands(capsys):
    assert _cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "build-module" in out and "module-config" in out
