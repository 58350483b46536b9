"""The request object and tables as the tutorial uses them (manual 4.5.3, 4.5.4)."""

from __future__ import annotations

import json

import pytest

INFO = """
    import json
    from mod_python import apache

    def handler(req):
        req.content_type = "application/json"
        body = req.read() if req.method == "POST" else b""
        info = {
            "uri": req.uri,
            "unparsed_uri": req.unparsed_uri,
            "method": req.method,
            "args": req.args,
            "filename": req.filename,
            "path_info": req.path_info,
            "protocol": req.protocol,
            "the_request": req.the_request,
            "hostname": req.hostname,
            "header_only": req.header_only,
            "interpreter": req.interpreter,
            "phase": req.phase,
            "user_agent": req.headers_in.get("user-agent"),
            "body": body.decode("latin-1"),
            "body_type": type(body).__name__,
            "remote_ip": req.connection.remote_ip,
            "server_hostname": req.server.server_hostname,
            "document_root": req.document_root(),
            "options": dict(req.get_options()),
            "config_debug": req.get_config().get("PythonDebug"),
        }
        req.write(json.dumps(info))
        return apache.OK
"""

LINES = """
    from mod_python import apache

    def handler(req):
        req.content_type = "text/plain"
        mode = req.args
        if mode == "readline":
            out = []
            while True:
                line = req.readline()
                if not line:
                    break
                out.append(repr(line))
            req.write("\\n".join(out))
        elif mode == "readline-limit":
            req.write(repr(req.readline(3)) + repr(req.readline()))
        elif mode == "readlines":
            req.write(repr(req.readlines()))
        elif mode == "chunks":
            parts = []
            while True:
                chunk = req.read(7)
                if not chunk:
                    break
                parts.append(len(chunk))
            req.write(repr(parts))
        return apache.OK
"""

HEADERS = """
    from mod_python import apache

    def handler(req):
        mode = req.args
        if mode == "multi":
            req.headers_out.add("X-Multi", "one")
            req.headers_out.add("x-multi", "two")
            req.content_type = "text/plain"
            req.write(repr(req.headers_out["X-MULTI"]))
            return apache.OK
        if mode == "err":
            req.headers_out["X-Normal"] = "dropped on errors"
            req.err_headers_out["X-Err"] = "kept on errors"
            return apache.HTTP_FORBIDDEN
        if mode == "badvalue":
            try:
                req.headers_out["X-Bad"] = "a\\r\\nSet-Cookie: evil=1"
            except ValueError as exc:
                req.write("ValueError: " + str(exc))
            return apache.OK
        if mode == "badtype":
            try:
                req.headers_out["X-Bad"] = 12
            except TypeError as exc:
                req.write("TypeError: " + str(exc))
            return apache.OK
        if mode == "unicode":
            try:
                req.headers_out["X-Snow"] = "\\u2603"
            except ValueError as exc:
                req.write("ValueError: " + str(exc))
            return apache.OK
        if mode == "latin1":
            req.headers_out["X-Latin"] = "caf\\xe9"
            req.write(req.headers_in["X-In"])
            return apache.OK
        if mode == "status":
            req.status = apache.HTTP_CREATED
            req.write("made")
            return apache.OK
        if mode == "bytes":
            req.content_type = "application/octet-stream"
            req.write(b"\\x00\\x01\\xff")
            req.write(bytearray(b"ok"), 0)
            req.write(memoryview(b"!"))
            return apache.OK
        if mode == "utf8":
            req.content_type = "text/plain; charset=utf-8"
            req.write("h\\u00e9llo \\u2603")
            return apache.OK
        if mode == "log":
            req.log_error("a message from the handler", apache.APLOG_WARNING)
            apache.log_error("a message from apache.log_error", apache.APLOG_ERR, req.server)
            req.write("logged")
            return apache.OK
        return apache.DECLINED
"""

TABLE = """
    from mod_python import apache

    def handler(req):
        t = apache.table({"Content-Type": "text/html", "X-A": "1"})
        t.add("x-a", "2")
        t2 = apache.make_table()
        t2["k"] = "v"
        del t2["K"]
        results = {
            "ci_get": t["content-type"],
            "multi": t["X-A"],
            "keys": t.keys(),
            "len": len(t),
            "contains": "CONTENT-TYPE" in t,
            "get_default": t.get("nope", "dflt"),
            "emptied": len(t2),
            "copy_independent": None,
        }
        c = t.copy()
        c["X-B"] = "3"
        results["copy_independent"] = "X-B" not in t
        try:
            t[1] = "x"
        except TypeError:
            results["nonstr_key"] = "TypeError"
        try:
            del t["missing"]
        except KeyError:
            results["del_missing"] = "KeyError"
        req.content_type = "text/plain"
        req.write(repr(results))
        return apache.OK
"""


ABORT = """
    from mod_python import apache

    def handler(req):
        try:
            req.read()
        except OSError as exc:
            req.log_error("handler saw: %s: %s" % (type(exc).__name__, exc))
            return apache.HTTP_BAD_REQUEST
        req.log_error("handler saw no error")
        return apache.OK
"""

CLEANUPS = """
    from mod_python import apache

    LOG = "{root}/cleanups.log"

    def note(data):
        with open(LOG, "a") as f:
            f.write("registered:%r\\n" % (data,))

    def handler(req):
        req.register_cleanup(note)
        req.register_cleanup(note, "with data")
        req.write("ok")
        return apache.OK

    def cleanuphandler(req):
        with open(LOG, "a") as f:
            f.write("directive:%s\\n" % req.uri)
        req.register_cleanup(note, "too late")  # cleanups have started: no effect
        return apache.OK
"""


@pytest.fixture(scope="module")
def server(start_server):
    return start_server(
        """
        PythonOption server.level yes
        <Directory "{docroot}/app">
            SetHandler mod_python
            PythonHandler info
            PythonOption app.level also
            PythonDebug On
        </Directory>
        <Directory "{docroot}/lines">
            SetHandler mod_python
            PythonHandler lines
        </Directory>
        <Directory "{docroot}/headers">
            SetHandler mod_python
            PythonHandler headers
        </Directory>
        <Directory "{docroot}/abort">
            SetHandler mod_python
            PythonHandler abort
        </Directory>
        <Directory "{docroot}/cleanups">
            SetHandler mod_python
            PythonHandler cleanups
            PythonCleanupHandler cleanups
        </Directory>
        <Directory "{docroot}/table">
            SetHandler mod_python
            PythonHandler tablecheck
        </Directory>
        """,
        files={
            "htdocs/app/info.py": INFO,
            "htdocs/lines/lines.py": LINES,
            "htdocs/headers/headers.py": HEADERS,
            "htdocs/table/tablecheck.py": TABLE,
            "htdocs/cleanups/cleanups.py": CLEANUPS,
            "htdocs/abort/abort.py": ABORT,
        },
    )


def test_request_members(server):
    r = server.get("/app/page.txt/extra/path?a=1&b=2", headers={"User-Agent": "probe/1.0"})
    assert r.status_code == 200
    info = r.json()
    assert info["uri"] == "/app/page.txt/extra/path"
    assert info["unparsed_uri"] == "/app/page.txt/extra/path?a=1&b=2"
    assert info["method"] == "GET"
    assert info["args"] == "a=1&b=2"
    assert info["filename"] == str(server.docroot / "app" / "page.txt")
    assert info["path_info"] == "/extra/path"
    assert info["protocol"] == "HTTP/1.1"
    assert info["the_request"] == "GET /app/page.txt/extra/path?a=1&b=2 HTTP/1.1"
    assert info["hostname"] == "127.0.0.1"
    assert info["header_only"] is False
    assert info["interpreter"] == "127.0.0.1"
    assert info["phase"] == "PythonHandler"
    assert info["user_agent"] == "probe/1.0"
    assert info["remote_ip"] == "127.0.0.1"
    assert info["server_hostname"] == "127.0.0.1"
    assert info["document_root"] == str(server.docroot)
    assert info["options"] == {"server.level": "yes", "app.level": "also"}
    assert info["config_debug"] == "1"


def test_read_post_body_as_bytes(server):
    body = "naïve body".encode("latin-1") + bytes(range(256))
    r = server.post("/app/x", data=body)
    info = r.json()
    assert info["body_type"] == "bytes"
    assert info["body"].encode("latin-1") == body


def test_read_large_chunked_body(server):
    payload = b"0123456789abcdef" * 40000  # 640 kB, sent chunked
    r = server.post("/app/x", data=iter([payload[:300000], payload[300000:]]))
    assert r.json()["body"].encode("latin-1") == payload


def test_readline(server):
    r = server.post("/lines/x?readline", data=b"one\r\ntwo\nthree")
    assert r.text.splitlines() == ["b'one\\r\\n'", "b'two\\n'", "b'three'"]


def test_readline_with_limit(server):
    r = server.post("/lines/x?readline-limit", data=b"abcdef\nrest")
    assert r.text == "b'abc'b'def\\n'"


def test_readlines(server):
    r = server.post("/lines/x?readlines", data=b"a\nb\nc")
    assert r.text == "[b'a\\n', b'b\\n', b'c']"


def test_read_with_size(server):
    r = server.post("/lines/x?chunks", data=b"x" * 30)
    assert r.text == "[7, 7, 7, 7, 2]"


def test_headers_out_multiple_values(server):
    r = server.get("/headers/x?multi")
    assert r.text == "['one', 'two']"
    assert r.headers["X-Multi"] == "one, two"


def test_err_headers_out_survive_an_error(server):
    r = server.get("/headers/x?err")
    assert r.status_code == 403
    assert r.headers["X-Err"] == "kept on errors"
    assert "X-Normal" not in r.headers


def test_header_injection_is_refused(server):
    r = server.get("/headers/x?badvalue")
    assert r.text.startswith("ValueError: ")
    assert "CR or LF" in r.text
    assert "evil" not in r.headers.get("Set-Cookie", "")


def test_non_str_value_is_a_type_error(server):
    assert server.get("/headers/x?badtype").text.startswith("TypeError: table value must be str")


def test_non_latin1_header_value_is_a_value_error(server):
    r = server.get("/headers/x?unicode")
    assert r.text.startswith("ValueError: ")
    assert "ISO-8859-1" in r.text


def test_latin1_headers_round_trip(server):
    r = server.get("/headers/x?latin1", headers={"X-In": "sm\xf8rrebr\xf8d".encode("latin-1")})
    assert r.content.decode("utf-8") == "smørrebrød"
    assert r.headers["X-Latin"].encode("latin-1") == "café".encode("latin-1")


def test_status_member(server):
    r = server.get("/headers/x?status")
    assert (r.status_code, r.text) == (201, "made")


def test_write_accepts_bytes_like_and_str_as_utf8(server):
    assert server.get("/headers/x?bytes").content == b"\x00\x01\xffok!"
    r = server.get("/headers/x?utf8")
    assert r.content == "héllo ☃".encode()


def test_log_error_writes_to_the_error_log(server):
    assert server.get("/headers/x?log").text == "logged"
    log = server.error_log()
    assert "a message from the handler" in log
    assert "a message from apache.log_error" in log


def test_table_object(server):
    r = server.get("/table/x")
    results = eval(r.text)  # a repr of plain Python values written by the handler
    assert results == {
        "ci_get": "text/html",
        "multi": ["1", "2"],
        "keys": ["Content-Type", "X-A", "x-a"],
        "len": 3,
        "contains": True,
        "get_default": "dflt",
        "emptied": 0,
        "copy_independent": True,
        "nonstr_key": "TypeError",
        "del_missing": "KeyError",
    }


def test_head_request_sets_header_only(server):
    r = server.request("HEAD", "/app/x")
    assert r.status_code == 200
    assert r.text == ""


def test_json_is_valid(server):
    json.loads(server.get("/app/x").text)


def test_register_cleanup_runs_before_cleanup_handlers(server):
    import time

    assert server.get("/cleanups/x").text == "ok"
    log = server.root / "cleanups.log"
    deadline = time.monotonic() + 5
    while not (log.exists() and log.read_text().count("\n") >= 3):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.2)  # a fourth line ("too late") would have come by now
    assert log.read_text().splitlines() == [
        "registered:None",
        "registered:'with data'",
        "directive:/cleanups/x",
    ]


def test_client_abort_while_reading_is_an_oserror(server):
    import socket
    import time

    with socket.create_connection(("127.0.0.1", server.apache.cfg.port), timeout=10) as sock:
        sock.sendall(
            b"POST /abort/x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n"
            + b"x" * 100
        )
        time.sleep(0.2)
    deadline = time.monotonic() + 10
    while "handler saw" not in server.error_log():
        assert time.monotonic() < deadline, server.error_log()[-2000:]
        time.sleep(0.05)
    assert "handler saw: OSError: error reading the request body" in server.error_log()
