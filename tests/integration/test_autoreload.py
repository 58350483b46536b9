"""PythonAutoReload (manual 5.4.8): a changed handler module is reloaded on its next
use unless the directive is Off.

The server runs a single child, so the child that loaded a module is the one
that meets the changed file (each answer carries the pid to prove it).  Every
rewrite also moves the file's mtime forward, so the change is visible however
coarse the file system's timestamps are.
"""

from __future__ import annotations

import os
import textwrap

import pytest

APP = """
    import os
    from mod_python import apache

    VERSION = "{version}"
    calls = 0

    def handler(req):
        global calls
        calls += 1
        req.content_type = "text/plain"
        req.write("%s %d %d" % (VERSION, calls, os.getpid()))
        return apache.OK
"""

BROKEN = """
    from mod_python import apache

    def handler(req)
        return apache.OK
"""

# directory -> PythonAutoReload setting (None: the default)
DIRECTORIES = {
    "on": "On",
    "default": None,
    "off": "Off",
    "samesize": None,
    "syntax": None,
    "off_fresh": "Off",
}

CONFIG = "".join(
    f'<Directory "{{docroot}}/{name}">\n'
    "    SetHandler mod_python\n"
    "    PythonHandler app\n"
    + (f"    PythonAutoReload {setting}\n" if setting else "")
    + "</Directory>\n"
    for name, setting in DIRECTORIES.items()
)


@pytest.fixture(scope="module")
def server(start_server, single_child):
    fields, sizing = single_child
    srv = start_server(
        sizing + CONFIG,
        files={f"htdocs/{d}/app.py": APP.replace("{version}", "v1") for d in DIRECTORIES},
        **fields,
    )
    srv.pids = set()
    return srv


def rewrite(server, directory: str, text: str) -> None:
    """Replace htdocs/<directory>/app.py and move its mtime 10 s past the old one."""
    path = server.docroot / directory / "app.py"
    old = os.stat(path).st_mtime_ns
    path.write_text(textwrap.dedent(text))
    new = old + 10_000_000_000
    os.utime(path, ns=(new, new))


def version(server, directory: str) -> tuple[str, int]:
    """GET the handler of *directory*: its VERSION and its call count (checks status and pid)."""
    r = server.get(f"/{directory}/x")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "text/plain"
    name, calls, pid = r.text.split()
    server.pids.add(int(pid))
    assert len(server.pids) == 1, f"requests reached several children: {server.pids}"
    return name, int(calls)


@pytest.mark.parametrize("directory", ["on", "default"])
def test_changed_module_is_reloaded(server, directory):
    assert version(server, directory) == ("v1", 1)
    assert version(server, directory) == ("v1", 2)
    rewrite(server, directory, APP.replace("{version}", "v2-longer"))
    # A fresh module: the new code, and its globals start again.
    assert version(server, directory) == ("v2-longer", 1)
    assert version(server, directory) == ("v2-longer", 2)


def test_same_size_change_is_seen_by_its_mtime(server):
    assert version(server, "samesize") == ("v1", 1)
    rewrite(server, "samesize", APP.replace("{version}", "v2"))
    assert (server.docroot / "samesize" / "app.py").read_text().count("v2") == 1
    assert version(server, "samesize") == ("v2", 1)


def test_autoreload_off_keeps_the_loaded_module(server):
    assert version(server, "off") == ("v1", 1)
    rewrite(server, "off", APP.replace("{version}", "v2-longer"))
    assert version(server, "off") == ("v1", 2)
    # Not even a broken file is noticed.
    rewrite(server, "off", BROKEN)
    assert version(server, "off") == ("v1", 3)


def test_syntax_error_gives_500_naming_the_file_and_a_fix_recovers(server):
    assert version(server, "syntax") == ("v1", 1)
    rewrite(server, "syntax", BROKEN)
    r = server.get("/syntax/x")
    assert r.status_code == 500
    assert "Internal Server Error" in r.text
    assert "SyntaxError" not in r.text  # PythonDebug is Off
    log = server.error_log()
    assert "SyntaxError" in log
    assert str(server.docroot / "syntax" / "app.py") in log
    # Still broken on the next request: the old module is not silently used.
    assert server.get("/syntax/x").status_code == 500
    rewrite(server, "syntax", APP.replace("{version}", "v3-fixed"))
    assert version(server, "syntax") == ("v3-fixed", 1)
    assert version(server, "syntax") == ("v3-fixed", 2)


def test_autoreload_off_loads_a_module_first_used_after_the_change(server):
    rewrite(server, "off_fresh", APP.replace("{version}", "v2-first"))
    assert version(server, "off_fresh") == ("v2-first", 1)
