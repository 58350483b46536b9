"""PythonImport (manual 5.4.3): modules imported into a named interpreter when
each child starts, ``module::function`` called once per child, failures
logged with their traceback without stopping the child, absolute paths."""

from __future__ import annotations

import collections
import time

import pytest

from mod_python._httpd import ApacheStartError

STARTUP = """
    import os
    import time

    MARKER = "imported in pid %d" % os.getpid()
    IMPORTED_AT = time.time()
    calls = 0

    def init():
        global calls
        calls += 1
        with open("{root}/init_calls", "a") as f:
            f.write("%d\\n" % os.getpid())

    class nested:
        @staticmethod
        def setup():
            global NESTED
            NESTED = "nested called"

    not_callable = 42
"""

ABSOLUTE = """
    import os
    VALUE = "absolute module in pid %d" % os.getpid()
"""

BROKEN = """
    raise RuntimeError("this module refuses to import")
"""

CHECK = """
    import json
    import os
    import sys

    from mod_python import apache, importer

    def handler(req):
        startup = sys.modules.get("startup_mod")
        absolute = [m for p, m in importer.loaded_files().items() if p.endswith("abs_mod.py")]
        req.content_type = "application/json"
        req.write(json.dumps({
            "pid": os.getpid(),
            "interpreter": req.interpreter,
            "marker": getattr(startup, "MARKER", None),
            "imported_at": getattr(startup, "IMPORTED_AT", None),
            "calls": getattr(startup, "calls", None),
            "nested": getattr(startup, "NESTED", None),
            "absolute": absolute[0].VALUE if absolute else None,
        }))
        return apache.OK
"""


@pytest.fixture(scope="module")
def server(start_server):
    return start_server(
        """
        PythonPath "sys.path + ['{root}/lib']"
        PythonImport startup_mod shared
        PythonImport startup_mod::init shared
        PythonImport startup_mod::nested.setup shared
        PythonImport {root}/abs/abs_mod.py shared
        PythonImport broken_mod main_interpreter
        PythonImport startup_mod::missing shared
        PythonImport startup_mod::not_callable shared
        PythonImport no_such_module_anywhere other
        <Directory "{docroot}/shared">
            SetHandler mod_python
            PythonHandler check
            PythonInterpreter shared
        </Directory>
        <Directory "{docroot}/default">
            SetHandler mod_python
            PythonHandler check
        </Directory>
        """,
        files={
            "lib/startup_mod.py": STARTUP,
            "lib/broken_mod.py": BROKEN,
            "abs/abs_mod.py": ABSOLUTE,
            "htdocs/shared/check.py": CHECK,
            "htdocs/default/check.py": CHECK,
        },
    )


def wait_for_log(server, text, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = server.error_log()
        if text in log:
            return log
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in the error log:\n{server.error_log()[-3000:]}")


def init_pids(server):
    path = server.root / "init_calls"
    return path.read_text().split() if path.exists() else []


def test_imports_run_at_child_start_without_a_request(server):
    # no request has been sent yet: every child that started ran init()
    deadline = time.monotonic() + 10
    while not init_pids(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert init_pids(server), "startup_mod::init did not run at child start"


def test_module_is_in_the_named_interpreter(server):
    before = time.time()
    r = server.get("/shared/x")
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["interpreter"] == "shared"
    assert info["marker"] == f"imported in pid {info['pid']}"
    assert info["imported_at"] <= before
    assert info["calls"] == 1
    assert info["nested"] == "nested called"
    assert info["absolute"] == f"absolute module in pid {info['pid']}"


def test_other_interpreters_do_not_have_it(server):
    info = server.get("/default/x").json()
    assert info["interpreter"] != "shared"
    assert info["marker"] is None
    assert info["absolute"] is None


def test_function_is_called_once_per_child(server):
    seen = {server.get("/shared/x").json()["pid"] for _ in range(20)}
    counts = collections.Counter(init_pids(server))
    assert counts, "init() never ran"
    assert set(counts.values()) == {1}, counts
    for pid in seen:
        assert str(pid) in counts


def test_failed_imports_are_logged_and_requests_still_work(server):
    log = wait_for_log(server, "RuntimeError: this module refuses to import")
    assert "mod_python: PythonImport broken_mod main_interpreter failed:" in log
    assert "Traceback (most recent call last):" in log
    assert "PythonImport startup_mod::missing shared failed:" in log
    assert "has no attribute 'missing'" in log
    assert "TypeError: PythonImport startup_mod::not_callable: not_callable is not callable" in log
    assert "No module named 'no_such_module_anywhere'" in log
    r = server.get("/shared/x")
    assert r.status_code == 200
    assert r.json()["calls"] == 1


def test_new_children_after_graceful_restart_import_again(server):
    old = set(init_pids(server))
    server.http.close()  # no kept-alive connection to an old child
    server.apache.graceful()
    server.apache.wait_ready()
    deadline = time.monotonic() + 10
    info = server.get("/shared/x").json()
    while str(info["pid"]) in old and time.monotonic() < deadline:
        time.sleep(0.2)
        info = server.get("/shared/x").json()
    assert str(info["pid"]) not in old
    assert info["calls"] == 1
    assert info["marker"] == f"imported in pid {info['pid']}"
    counts = collections.Counter(init_pids(server))
    assert counts[str(info["pid"])] == 1


@pytest.mark.parametrize(
    "line, message",
    [
        ("PythonImport only_a_module", "PythonImport takes two arguments"),
        ("PythonImport mod:: main_interpreter", "'mod::' is not module or module::function"),
        ("PythonImport ::func main_interpreter", "'::func' is not module or module::function"),
        (
            '<Directory "/">\nPythonImport x main_interpreter\n</Directory>',
            "PythonImport not allowed",
        ),
    ],
)
def test_bad_directive_stops_the_server_with_a_clear_error(start_server, line, message):
    with pytest.raises(ApacheStartError) as info:
        start_server(line)
    assert message in str(info.value)
