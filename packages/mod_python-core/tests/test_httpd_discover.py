"""Finding Apache: the system's (when installed), fake installs built from shell scripts."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mod_python._httpd import ApacheInstall, discover, find_apache
from mod_python._httpd.discover import install_from_apxs, install_from_wsgi_httpd


def _system_apxs() -> str | None:
    for name in ("apxs", "apxs2"):
        found = shutil.which(name)
        if found:
            return found
    for path in discover.SYSTEM_APXS_PATHS:
        if os.access(path, os.X_OK):
            return path
    return None


def _script(path: Path, body: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def _fake_httpd(path: Path, version: str, compiled: str) -> str:
    return _script(
        path,
        f"""case "$1" in
  -v) echo "Server version: Apache/{version} (Unix)"; echo "Server built: today" ;;
  -l) printf 'Compiled in modules:\\n{compiled}' ;;
  -V) echo "Server version: Apache/{version} (Unix)" ;;
  *) exit 1 ;;
esac
""",
    )


def _fake_apxs(path: Path, values: dict[str, str]) -> str:
    cases = "".join(f'  {name}) echo "{value}" ;;\n' for name, value in values.items())
    return _script(
        path,
        f"""[ "$1" = "-q" ] || exit 1
case "$2" in
{cases}  *) echo "apxs:Error: Invalid query string \\`$2'" >&2; exit 1 ;;
esac
""",
    )


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No $APXS, nothing on $PATH, no system paths, no mod_wsgi-httpd."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.delenv("APXS", raising=False)
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(discover, "SYSTEM_APXS_PATHS", (str(tmp_path / "no" / "apxs"),))
    monkeypatch.setattr(discover, "_wsgi_httpd_dir", lambda: None)
    return tmp_path


# -- the system's Apache ------------------------------------------------------------


def test_system_apache() -> None:
    apxs = _system_apxs()
    if apxs is None:
        pytest.skip("no apxs/apxs2 on PATH or in /usr/bin: the system has no Apache dev files")
    install = install_from_apxs(apxs)
    assert install.flavour == "2.4"
    assert install.version >= (2, 4, 0)
    assert os.access(install.httpd, os.X_OK)
    assert os.path.isdir(install.modules_dir)
    assert install.builtin_mpm is None
    assert {"prefork", "worker", "event"} <= set(install.mpms())
    assert install.has_module("mod_mime")
    assert install.has_module("mime")
    assert not install.has_module("mod_no_such_thing")
    assert install.mime_types is None or os.path.isfile(install.mime_types)
    assert install.is_22 is False


def test_find_apache_default_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APXS", raising=False)
    try:
        install = find_apache()
    except LookupError as exc:
        pytest.skip(f"no Apache at all: {exc}")
    apxs = _system_apxs()
    if apxs is not None:
        assert os.path.realpath(install.apxs) == os.path.realpath(apxs)


def test_env_apxs_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    apxs = _system_apxs()
    if apxs is None:
        pytest.skip("no system apxs")
    monkeypatch.setenv("APXS", apxs)
    assert find_apache().apxs == apxs


# -- errors -------------------------------------------------------------------------


def test_explicit_apxs_that_does_not_exist(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope" / "apxs")
    with pytest.raises(LookupError, match=r"the apxs given .*nope/apxs.* does not exist"):
        find_apache(missing)


def test_bad_env_apxs_is_an_error(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APXS", str(isolated / "missing-apxs"))
    with pytest.raises(LookupError, match=r"\$APXS=.*missing-apxs"):
        find_apache()


def test_nothing_found_names_everything_tried(isolated: Path) -> None:
    with pytest.raises(LookupError) as info:
        find_apache()
    message = str(info.value)
    assert "$APXS (not set)" in message
    assert "apxs on $PATH (not found)" in message
    assert "apxs2 on $PATH (not found)" in message
    assert str(isolated / "no" / "apxs") in message
    assert "mod_wsgi-httpd (not installed" in message
    assert "apache2-dev" in message


def test_broken_apxs_is_reported(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = isolated / "empty-bin"
    _script(bindir / "apxs", "echo broken >&2; exit 3\n")
    with pytest.raises(LookupError, match=r"apxs -q SBINDIR failed \(exit 3\): broken"):
        find_apache()


# -- fake installs -------------------------------------------------------------------


def test_source_built_22(tmp_path: Path) -> None:
    prefix = tmp_path / "httpd22"
    httpd = _fake_httpd(
        prefix / "bin" / "httpd", "2.2.34", "  core.c\\n  prefork.c\\n  mod_so.c\\n"
    )
    (prefix / "modules").mkdir()
    (prefix / "modules" / "mod_mime.so").write_bytes(b"")
    (prefix / "conf").mkdir()
    (prefix / "conf" / "mime.types").write_text("text/html html\n")
    apxs = _fake_apxs(
        prefix / "bin" / "apxs",
        {
            "SBINDIR": str(prefix / "bin"),
            "TARGET": "httpd",
            "LIBEXECDIR": str(prefix / "modules"),
            "SYSCONFDIR": str(prefix / "conf"),
        },
    )
    install = find_apache(apxs)
    assert install == ApacheInstall(
        flavour="2.2",
        apxs=apxs,
        httpd=httpd,
        version=(2, 2, 34),
        modules_dir=str(prefix / "modules"),
        builtin_mpm="prefork",
        mime_types=str(prefix / "conf" / "mime.types"),
        static_modules=("mod_so",),
    )
    assert install.mpms() == ("prefork",)
    assert install.is_22
    assert install.has_module("mod_mime")
    assert install.has_module("mod_so")  # compiled in


def _fake_wsgi_httpd(base: Path) -> Path:
    root = base / "site-packages" / "mod_wsgi_packages" / "httpd"
    _fake_httpd(root / "bin" / "httpd", "2.4.69", "  core.c\\n  mod_so.c\\n  http_core.c\\n")
    (root / "modules").mkdir(parents=True)
    for name in ("mod_mime", "mod_mpm_event", "mod_mpm_worker"):
        (root / "modules" / f"{name}.so").write_bytes(b"")
    (root / "lib").mkdir()
    (root / "conf").mkdir()
    (root / "conf" / "mime.types").write_text("text/html html\n")
    return root


def test_mod_wsgi_httpd_layout(tmp_path: Path) -> None:
    root = _fake_wsgi_httpd(tmp_path)
    install = install_from_wsgi_httpd(str(root), apxs="/venv/bin/mod_wsgi-apxs")
    assert install.flavour == "2.4-pip"
    assert install.httpd == str(root / "bin" / "httpd")
    assert install.version == (2, 4, 69)
    assert install.modules_dir == str(root / "modules")
    assert install.builtin_mpm is None
    assert install.mpms() == ("worker", "event")
    assert install.mime_types == str(root / "conf" / "mime.types")
    assert install.library_path == str(root / "lib")
    env = install.environ({"LD_LIBRARY_PATH": "/other"})
    assert env["LD_LIBRARY_PATH"] == f"{root / 'lib'}{os.pathsep}/other"
    assert install.environ({})["LD_LIBRARY_PATH"] == str(root / "lib")


def test_mod_wsgi_httpd_is_the_last_resort(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _fake_wsgi_httpd(isolated)
    monkeypatch.setattr(discover, "_wsgi_httpd_dir", lambda: str(root))
    install = find_apache()
    assert install.flavour == "2.4-pip"
    assert install.httpd == str(root / "bin" / "httpd")


def test_mod_wsgi_httpd_own_apxs_is_recognised(tmp_path: Path) -> None:
    # Its bin/apxs points at pip's deleted build directory; the layout is used instead.
    root = _fake_wsgi_httpd(tmp_path)
    apxs = _script(root / "bin" / "apxs", "echo 'cannot open config_vars.mk' >&2; exit 2\n")
    install = find_apache(apxs)
    assert install.flavour == "2.4-pip"
    assert install.apxs == apxs


def test_mod_wsgi_apxs_script(tmp_path: Path) -> None:
    # mod_wsgi-apxs answers SBINDIR/LIBEXECDIR but not TARGET.
    root = _fake_wsgi_httpd(tmp_path)
    apxs = _fake_apxs(
        tmp_path / "venv" / "bin" / "mod_wsgi-apxs",
        {"SBINDIR": str(root / "bin"), "TARGET": "", "LIBEXECDIR": str(root / "modules")},
    )
    install = find_apache(apxs)
    assert install.flavour == "2.4-pip"
    assert install.apxs == apxs
    assert install.httpd == str(root / "bin" / "httpd")


def test_has_module_name_forms(tmp_path: Path) -> None:
    (tmp_path / "mod_ssl.so").write_bytes(b"")
    install = ApacheInstall("2.4", "/a", "/h", (2, 4, 1), str(tmp_path), None, None)
    assert install.has_module("mod_ssl")
    assert install.has_module("ssl")
    assert install.has_module("mod_ssl.so")
    assert not install.has_module("mod_http2")
    assert install.mpms() == ()
    assert install.describe() == "Apache 2.4.1 (2.4, /h)"
