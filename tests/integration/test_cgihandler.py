"""mod_python.cgihandler: CGI scripts run in-process (manual 7.3).

One Apache child (``single_child``), so that every request meets the state
the earlier ones left in the same interpreter: restored globals, dropped
modules, the lock.  The scripts are classic CGI scripts that never import
mod_python (nor ``cgi``, gone in Python 3.13).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import threading
from collections import defaultdict

import pytest
import requests

FORM = """
    import html
    import os
    import sys
    from urllib.parse import parse_qs

    length = int(os.environ.get("CONTENT_LENGTH") or 0)
    posted = parse_qs(sys.stdin.read(length)) if length else {}
    query = parse_qs(os.environ.get("QUERY_STRING", ""))

    print("Content-Type: text/html; charset=utf-8")
    print()
    print("<html><body>")
    print("<p>method=%s</p>" % html.escape(os.environ["REQUEST_METHOD"]))
    for source, fields in (("post", posted), ("get", query)):
        for name in sorted(fields):
            value = ", ".join(fields[name])
            print("<p>%s %s=%s</p>" % (source, html.escape(name), html.escape(value)))
    print("</body></html>")
"""

UPLOAD = """
    import hashlib
    import os
    import sys

    data = sys.stdin.buffer.read()
    sys.stdout.write("Content-Type: text/plain\\n\\n")
    digest = hashlib.sha256(data).hexdigest()
    sys.stdout.write("%d %s %s\\n" % (len(data), digest, os.environ["CONTENT_LENGTH"]))
"""

BINARY = """
    import sys

    print("Content-Type: application/octet-stream")
    print()
    sys.stdout.flush()
    sys.stdout.buffer.write(bytes(range(256)) * 64)
    sys.stdout.buffer.write(b"\\r\\n\\r\\nend")
"""

HEADERS = """
    import sys

    # CRLF line ends, as some scripts write them.
    sys.stdout.write(
        "Content-Type: text/plain; charset=utf-8\\r\\n"
        "X-Custom: yes\\r\\n"
        "Set-Cookie: a=1\\r\\n"
        "Set-Cookie: b=2\\r\\n"
        "\\r\\n"
    )
    print("h\\u00e9llo \\u20ac")
"""

STATUS = """
    print("Status: 404 Not Found")
    print("Content-Type: text/plain")
    print()
    print("no such thing here")
"""

REDIRECT = """
    import os

    if os.environ["QUERY_STRING"] == "permanent":
        print("Status: 301 Moved Permanently")
    print("Location: http://example.com/elsewhere")
    print()
"""

ENV = """
    import os
    import sys

    NAMES = (
        "GATEWAY_INTERFACE", "SERVER_PROTOCOL", "REQUEST_METHOD", "QUERY_STRING",
        "REQUEST_URI", "SCRIPT_NAME", "PATH_INFO", "SCRIPT_FILENAME", "HTTP_X_MARK",
        "SERVER_PORT", "REMOTE_ADDR", "CGI_TEST_VAR",
    )
    print("Content-Type: text/plain")
    print()
    for name in NAMES:
        print("%s=%s" % (name, os.environ.get(name)))
    print("getenv=%s" % os.getenv("HTTP_X_MARK"))
    print("cwd=%s" % os.path.realpath(os.getcwd()))
    print("argv0=%s" % sys.argv[0])
    print("name=%s" % __name__)
    print("main=%s" % (sys.modules["__main__"].__dict__ is globals()))
    # A reference kept across requests, as cgi.FieldStorage's default argument
    # environ=os.environ is: it must follow the current request.
    captured = getattr(os, "_test_captured_environ", None)
    if captured is None:
        os._test_captured_environ = captured = os.environ
    print("captured=%s" % captured.get("QUERY_STRING"))
"""

RELOAD = """
    import sys

    fresh = "rhelper" not in sys.modules and "rpkg" not in sys.modules
    import rhelper
    from rpkg import sub

    print("Content-Type: text/plain")
    print()
    print("script={version} helper=%s sub=%s fresh=%s" % (rhelper.VALUE, sub.VALUE, fresh))
"""

SLOW = """
    import os
    import sys
    import time

    me = os.environ["QUERY_STRING"]
    start = time.monotonic()
    print("Content-Type: text/plain")
    print()
    for i in range(5):
        print("%s %d" % (me, i))
        sys.stdout.flush()
        time.sleep(0.05)
    print("span %s %d %r %r" % (me, os.getpid(), start, time.monotonic()))
"""

BOOM = """
    print("Content-Type: text/plain")
    print()
    print("partial output")
    raise RuntimeError("cgi-boom-marker")
"""

EXITS = """
    import os
    import sys

    print("Content-Type: text/plain")
    print()
    print("before exit")
    if os.environ["QUERY_STRING"] == "close":
        sys.stdout.close()  # the end of the output, for a CGI script
    sys.exit(3)
    print("after exit")
"""

NO_HEADERS = """
    print("hello, I forgot my headers")
"""

# A script that changes the environment and imports a module of its own and
# a standard library module, run before the CHECK handler in one request.
STACKED = """
    import os
    import sys

    colorsys_before = "colorsys" in sys.modules
    import colorsys
    import stackhelper

    os.environ["CGI_SCRIPT_SET"] = "1"
    print("Content-Type: text/plain")
    print()
    print("script mark=%s colorsys_before=%s" % (os.environ.get("HTTP_X_MARK"), colorsys_before))
"""

# A plain handler: what did the CGI emulation leave behind in this interpreter?
CHECK = """
    import os
    import sys

    from mod_python import apache

    CGI_NAMES = ("HTTP_X_MARK", "GATEWAY_INTERFACE", "QUERY_STRING", "CGI_SCRIPT_SET")


    def raw_type(stream):
        return type(getattr(getattr(stream, "buffer", None), "raw", None)).__name__


    def handler(req):
        main_file = getattr(sys.modules.get("__main__"), "__file__", None) or ""
        captured = getattr(os, "_test_captured_environ", None)
        lines = [
            "leaks=%s" % [name for name in CGI_NAMES if name in os.environ],
            "captured_leaks=%s" % (
                "none" if captured is None else [name for name in CGI_NAMES if name in captured]
            ),
            "environ_type=%s" % type(os.environ).__name__,
            "stdout=%s" % raw_type(sys.stdout),
            "stdin=%s" % raw_type(sys.stdin),
            "cwd_in_docroot=%s" % os.getcwd().startswith(req.document_root()),
            "path_in_docroot=%s" % any(p.startswith(req.document_root()) for p in sys.path),
            "main_is_script=%s" % main_file.startswith(req.document_root()),
            "argv=%s" % getattr(sys, "argv", None),
            "stackhelper=%s" % ("stackhelper" in sys.modules),
            "colorsys=%s" % ("colorsys" in sys.modules),
        ]
        if not req.content_type:
            req.content_type = "text/plain"
        req.write("".join("check %s\\n" % line for line in lines))
        return apache.OK
"""

CONFIG = """
    <Directory "{docroot}/cgi">
        SetHandler mod_python
        PythonHandler mod_python.cgihandler
        SetEnv CGI_TEST_VAR from-setenv
    </Directory>
    <Directory "{docroot}/stacked">
        SetHandler mod_python
        PythonHandler mod_python.cgihandler check
    </Directory>
    <Directory "{docroot}/plain">
        SetHandler mod_python
        PythonHandler check
    </Directory>
"""


@pytest.fixture(scope="module")
def server(start_server, single_child):
    fields, sizing = single_child
    return start_server(
        sizing + CONFIG,
        files={
            "htdocs/cgi/form.py": FORM,
            "htdocs/cgi/upload.py": UPLOAD,
            "htdocs/cgi/binary.py": BINARY,
            "htdocs/cgi/headers.py": HEADERS,
            "htdocs/cgi/status.py": STATUS,
            "htdocs/cgi/redirect.py": REDIRECT,
            "htdocs/cgi/env.py": ENV,
            "htdocs/cgi/reload.py": RELOAD.replace("{version}", "v1"),
            "htdocs/cgi/rhelper.py": "VALUE = 'h1'\n",
            "htdocs/cgi/rpkg/__init__.py": "",
            "htdocs/cgi/rpkg/sub.py": "VALUE = 's1'\n",
            "htdocs/cgi/slow.py": SLOW,
            "htdocs/cgi/boom.py": BOOM,
            "htdocs/cgi/exits.py": EXITS,
            "htdocs/cgi/noheaders.py": NO_HEADERS,
            "htdocs/cgi/subdir/placeholder.txt": "not a script\n",
            "htdocs/stacked/script.py": STACKED,
            "htdocs/stacked/stackhelper.py": "VALUE = 1\n",
            "htdocs/stacked/check.py": CHECK,
            "htdocs/plain/check.py": CHECK,
        },
        **fields,
    )


def check_report(text: str) -> dict:
    lines = [line[len("check ") :] for line in text.splitlines() if line.startswith("check ")]
    return dict(line.split("=", 1) for line in lines)


def assert_clean(report: dict) -> None:
    assert report["leaks"] == "[]"
    assert report["captured_leaks"] in ("[]", "none")  # "none": test_cgi_environment did not run
    assert report["environ_type"] == "_Environ"
    assert report["stdout"] != "_CGIOutput"
    assert report["stdin"] != "_RequestBody"
    assert report["cwd_in_docroot"] == "False"
    assert report["path_in_docroot"] == "False"
    assert report["main_is_script"] == "False"
    assert ".py" not in report["argv"]


def test_post_form_from_stdin_and_query_string(server):
    resp = server.post(
        "/cgi/form.py?page=2&page=3",
        data={"name": "Ann <ann@example.org>", "comment": "h\u00e9llo w\u00f6rld"},
    )
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    body = resp.content.decode("utf-8")
    assert "<p>method=POST</p>" in body
    assert "<p>post name=Ann &lt;ann@example.org&gt;</p>" in body
    assert "<p>post comment=h\u00e9llo w\u00f6rld</p>" in body
    assert "<p>get page=2, 3</p>" in body


def test_get_form_from_query_string(server):
    resp = server.get("/cgi/form.py?name=Bob&x=1&x=2")
    assert resp.status_code == 200
    assert "<p>method=GET</p>" in resp.text
    assert "<p>get name=Bob</p>" in resp.text
    assert "<p>get x=1, 2</p>" in resp.text
    assert "post " not in resp.text


def test_binary_request_body_through_stdin_buffer(server):
    data = os.urandom(200_000)
    resp = server.post(
        "/cgi/upload.py", data=data, headers={"Content-Type": "application/octet-stream"}
    )
    assert resp.status_code == 200
    assert resp.text == f"{len(data)} {hashlib.sha256(data).hexdigest()} {len(data)}\n"


def test_binary_output_through_stdout_buffer(server):
    resp = server.get("/cgi/binary.py")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/octet-stream"
    # The body's own blank lines are body, not the end of the headers.
    assert resp.content == bytes(range(256)) * 64 + b"\r\n\r\nend"


def test_extra_headers_and_utf8_text(server):
    resp = server.get("/cgi/headers.py")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resp.headers["X-Custom"] == "yes"
    assert resp.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert resp.content == "h\u00e9llo \u20ac\n".encode()


def test_status_header(server):
    resp = server.get("/cgi/status.py")
    assert resp.status_code == 404
    assert resp.text == "no such thing here\n"


def test_location_redirects(server):
    resp = server.get("/cgi/redirect.py", allow_redirects=False)
    assert resp.status_code == 302
    assert resp.headers["Location"] == "http://example.com/elsewhere"
    resp = server.get("/cgi/redirect.py?permanent", allow_redirects=False)
    assert resp.status_code == 301
    assert resp.headers["Location"] == "http://example.com/elsewhere"


def test_cgi_environment(server):
    resp = server.get("/cgi/env.py/extra/path?a=1&b=%3C", headers={"X-Mark": "hello"})
    assert resp.status_code == 200
    env = dict(line.split("=", 1) for line in resp.text.splitlines())
    docroot = os.path.realpath(server.docroot)
    assert env["GATEWAY_INTERFACE"] == "CGI/1.1"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["REQUEST_METHOD"] == "GET"
    assert env["QUERY_STRING"] == "a=1&b=%3C"
    assert env["REQUEST_URI"] == "/cgi/env.py/extra/path?a=1&b=%3C"
    assert env["SCRIPT_NAME"] == "/cgi/env.py"
    assert env["PATH_INFO"] == "/extra/path"
    assert os.path.realpath(env["SCRIPT_FILENAME"]) == os.path.join(docroot, "cgi", "env.py")
    assert env["HTTP_X_MARK"] == "hello"
    assert env["getenv"] == "hello"
    assert env["SERVER_PORT"] == server.url.rsplit(":", 1)[1]
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["CGI_TEST_VAR"] == "from-setenv"
    assert env["cwd"] == os.path.join(docroot, "cgi")
    assert os.path.realpath(env["argv0"]) == os.path.join(docroot, "cgi", "env.py")
    assert env["name"] == "__main__"
    assert env["main"] == "True"
    assert env["captured"] == "a=1&b=%3C"
    env = dict(line.split("=", 1) for line in server.get("/cgi/env.py?second").text.splitlines())
    assert env["QUERY_STRING"] == "second"
    assert env["captured"] == "second"
    # Between scripts the kept reference shows the real environment again.
    assert check_report(server.get("/plain/check").text)["captured_leaks"] == "[]"


def test_globals_restored_for_the_next_handler(server):
    # cgihandler, then a plain handler in the same request and interpreter.
    resp = server.get("/stacked/script.py", headers={"X-Mark": "stacked"})
    assert resp.status_code == 200
    assert "script mark=stacked colorsys_before=False" in resp.text
    report = check_report(resp.text)
    assert_clean(report)
    assert report["stackhelper"] == "False"  # the script's own module is dropped
    assert report["colorsys"] == "True"  # the standard library stays loaded


def test_script_is_run_fresh_and_its_modules_reloaded(server):
    assert server.get("/cgi/reload.py").text == "script=v1 helper=h1 sub=s1 fresh=True\n"
    assert server.get("/cgi/reload.py").text == "script=v1 helper=h1 sub=s1 fresh=True\n"
    server.write("htdocs/cgi/reload.py", RELOAD.replace("{version}", "v2"))
    server.write("htdocs/cgi/rhelper.py", "VALUE = 'h2-edited'\n")
    server.write("htdocs/cgi/rpkg/sub.py", "VALUE = 's2-edited'\n")
    resp = server.get("/cgi/reload.py")
    assert resp.text == "script=v2 helper=h2-edited sub=s2-edited fresh=True\n"
    # No .pyc was written into the document tree.
    assert not list(server.docroot.rglob("*.pyc"))


def test_concurrent_scripts_do_not_mix(server):
    results = {}

    def fetch(name):
        results[name] = requests.get(f"{server.url}/cgi/slow.py?{name}", timeout=60).text

    names = [f"r{i}" for i in range(4)]
    threads = [threading.Thread(target=fetch, args=(name,)) for name in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spans = defaultdict(list)
    for name in names:
        lines = results[name].splitlines()
        assert lines[:5] == [f"{name} {i}" for i in range(5)]
        span = lines[5].split()
        assert span[:2] == ["span", name] and len(lines) == 6
        spans[int(span[2])].append((float(span[3]), float(span[4])))
    # The lock: within a process, one script ran at a time.
    for intervals in spans.values():
        intervals.sort()
        for (_, end), (start, _) in zip(intervals, intervals[1:]):
            assert end <= start


def test_exception_is_500_with_traceback_logged(server):
    resp = server.get("/cgi/boom.py")
    assert resp.status_code == 500
    assert "partial output" not in resp.text
    log = server.error_log()
    assert "Traceback (most recent call last)" in log
    assert "RuntimeError: cgi-boom-marker" in log
    assert "boom.py" in log
    # The failed script left nothing behind in the interpreter.
    assert_clean(check_report(server.get("/plain/check").text))
    assert server.get("/cgi/status.py").status_code == 404


def test_sys_exit_ends_the_script_normally(server):
    for query in ("", "?close"):
        resp = server.get("/cgi/exits.py" + query)
        assert resp.status_code == 200
        assert resp.text == "before exit\n"


def test_output_without_headers_is_an_error(server):
    resp = server.get("/cgi/noheaders.py")
    assert resp.status_code == 500
    assert "malformed header line 'hello, I forgot my headers'" in server.error_log()


def test_missing_script_is_404(server):
    assert server.get("/cgi/missing.py").status_code == 404


def test_directory_is_403(server):
    assert server.get("/cgi/subdir").status_code == 403


def test_head_request_sends_headers_only(server):
    conn = http.client.HTTPConnection(server.url.split("//", 1)[1], timeout=30)
    try:
        conn.request("HEAD", "/cgi/headers.py")
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.getheader("X-Custom") == "yes"
        assert resp.read() == b""
    finally:
        conn.close()
