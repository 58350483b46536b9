"""Errors in handlers: logged line by line, 500 to the client, traceback shown
only under PythonDebug (manual 4.2, 5.4.2, DESIGN.md "nothing is lost silently")."""

from __future__ import annotations

import time

import pytest

FAILING = """
    from mod_python import apache

    def handler(req):
        req.content_type = "text/plain"
        what = req.args or ""
        if what == "raise":
            raise ValueError("<script>alert('x')</script> went wrong")
        if what == "none":
            return None
        if what == "str":
            return "not a status"
        if what == "forbidden":
            raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)
        if what == "gone":
            return apache.HTTP_GONE
        if what == "nested":
            return helper_that_fails()
        req.write("fine")
        return apache.OK

    def helper_that_fails():
        return {}["missing-key"]

    def cleanuphandler(req):
        raise RuntimeError("cleanup exploded for " + req.uri)
"""

STACKED_CLEANUP = """
    from mod_python import apache

    def handler(req):
        req.write("ok")
        return apache.OK

    def first(req):
        raise RuntimeError("first cleanup fails")

    def second(req):
        with open("{root}/second-cleanup-ran", "w") as f:
            f.write(req.uri)
        return apache.HTTP_INTERNAL_SERVER_ERROR

    def third(req):
        with open("{root}/third-cleanup-ran", "w") as f:
            f.write(req.uri)
"""

BROKEN = """
    from mod_python import apache
    def handler(req)
        return apache.OK
"""


@pytest.fixture(scope="module")
def server(start_server):
    return start_server(
        """
        <Directory "{docroot}/quiet">
            SetHandler mod_python
            PythonHandler failing
        </Directory>
        <Directory "{docroot}/debug">
            SetHandler mod_python
            PythonHandler failing
            PythonDebug On
        </Directory>
        <Directory "{docroot}/cleanup">
            SetHandler mod_python
            PythonHandler failing
            PythonCleanupHandler failing
            PythonDebug On
        </Directory>
        <Directory "{docroot}/stacked">
            SetHandler mod_python
            PythonHandler stacked
            PythonCleanupHandler stacked::first stacked::second stacked::third
        </Directory>
        <Directory "{docroot}/broken">
            SetHandler mod_python
            PythonHandler broken
            PythonDebug On
        </Directory>
        <Directory "{docroot}/missing">
            SetHandler mod_python
            PythonHandler no_such_module
        </Directory>
        <Directory "{docroot}/nofunc">
            SetHandler mod_python
            PythonHandler failing::not_there
        </Directory>
        """,
        files={
            "htdocs/quiet/failing.py": FAILING,
            "htdocs/debug/failing.py": FAILING,
            "htdocs/cleanup/failing.py": FAILING,
            "htdocs/broken/broken.py": BROKEN,
            "htdocs/stacked/stacked.py": STACKED_CLEANUP,
            "htdocs/missing/.keep": "",
            "htdocs/nofunc/failing.py": FAILING,
        },
    )


def wait_for_log(server, text, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = server.error_log()
        if text in log:
            return log
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in the error log:\n{server.error_log()[-3000:]}")


def test_exception_is_a_500_without_traceback(server):
    r = server.get("/quiet/x?raise")
    assert r.status_code == 500
    assert "Traceback" not in r.text
    assert "went wrong" not in r.text


def test_every_traceback_line_is_logged(server):
    server.get("/quiet/x?nested")
    log = wait_for_log(server, "KeyError: 'missing-key'")
    lines = [line for line in log.splitlines() if ":error] " in line or "[error] " in line]
    assert any("Traceback (most recent call last):" in line for line in lines)
    assert any("in helper_that_fails" in line for line in lines)
    assert any('return {}["missing-key"]' in line for line in lines)
    assert any("mod_python: PythonHandler failed for '/quiet/x'" in line for line in lines)


def test_debug_shows_the_traceback_html_escaped(server):
    r = server.get("/debug/x?raise")
    assert r.status_code == 500
    assert "Traceback (most recent call last)" in r.text
    assert "ValueError: &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; went wrong" in r.text
    assert "<script>" not in r.text
    assert r.headers["Content-Type"].startswith("text/html")


def test_returning_none_is_an_error_that_says_why(server):
    r = server.get("/quiet/x?none")
    assert r.status_code == 500
    wait_for_log(server, "returned None; a handler must return apache.OK")


def test_returning_a_non_int_is_an_error(server):
    r = server.get("/debug/x?str")
    assert r.status_code == 500
    assert "returned &#x27;not a status&#x27;" in r.text


def test_server_return_sets_the_status(server):
    r = server.get("/quiet/x?forbidden")
    assert r.status_code == 403


def test_http_status_return_value(server):
    assert server.get("/quiet/x?gone").status_code == 410


def test_normal_request_after_errors_still_works(server):
    r = server.get("/quiet/x")
    assert (r.status_code, r.text) == (200, "fine")


def test_cleanup_handler_errors_are_logged_not_sent(server):
    r = server.get("/cleanup/page")
    assert (r.status_code, r.text) == (200, "fine")
    log = wait_for_log(server, "RuntimeError: cleanup exploded for /cleanup/page")
    assert "PythonCleanupHandler failed" in log


def test_syntax_error_in_handler_module(server):
    r = server.get("/broken/x")
    assert r.status_code == 500
    assert "SyntaxError" in r.text
    assert "broken.py" in r.text


def test_missing_module_is_a_500_and_logged(server):
    r = server.get("/missing/x")
    assert r.status_code == 500
    wait_for_log(server, "No module named 'no_such_module'")


def test_missing_callable_is_a_500_and_logged(server):
    assert server.get("/nofunc/x").status_code == 500
    wait_for_log(server, "not_there")


def test_every_cleanup_handler_runs_whatever_the_others_did(server):
    assert server.get("/stacked/page").text == "ok"
    wait_for_log(server, "RuntimeError: first cleanup fails")
    # the files are written after the response went out: wait for their whole text
    marks = [server.root / "second-cleanup-ran", server.root / "third-cleanup-ran"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not all(
        m.exists() and m.read_text() == "/stacked/page" for m in marks
    ):
        time.sleep(0.05)
    assert [m.read_text() for m in marks] == ["/stacked/page"] * 2
