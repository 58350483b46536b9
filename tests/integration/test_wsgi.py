"""mod_python.wsgi, the PEP 3333 gateway, against a real Apache.

One Apache serves every test: a test application (also wrapped in
wsgiref.validate.validator, so any PEP 3333 violation by the gateway fails)
mounted in several ways, and a small Flask application.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict

import pytest
import requests

from mod_python._httpd import free_port

# The test application: one WSGI callable that does what PATH_INFO names.
TESTAPP = r'''
    import io
    import json
    import os
    import sys
    import time
    import warnings
    from wsgiref.validate import WSGIWarning, validator

    RECORDS = "{root}/records"
    FLAGS = "{root}/flags"
    DATA = "{root}/data/blob.bin"


    def record(name, text):
        with open(os.path.join(RECORDS, name), "a") as f:
            f.write(text + "\n")


    def query(environ):
        pairs = [p.split("=", 1) for p in environ["QUERY_STRING"].split("&") if "=" in p]
        return dict(pairs)


    def reply(start_response, obj, status="200 OK"):
        body = json.dumps(obj).encode()
        start_response(status, [("Content-Type", "application/json")])
        return [body]


    def environ_view(environ):
        view = {k: v for k, v in environ.items() if type(v) is str}
        view["wsgi.version"] = list(environ["wsgi.version"])
        for key in ("wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once"):
            view[key] = environ[key]
        view["request_type"] = type(environ["mod_python.request"]).__name__
        view["request_uri_attr"] = environ["mod_python.request"].uri
        view["file_wrapper"] = environ["wsgi.file_wrapper"].__name__
        view["input_terminated"] = environ.get("wsgi.input_terminated")
        return view


    class Closing:
        """An iterable that records whether close() was called, and how far it got."""

        def __init__(self, name, blocks, fail_at=None, delay=0.0):
            self.name, self.blocks, self.fail_at, self.delay = name, blocks, fail_at, delay
            self.pulled = 0

        def __iter__(self):
            for i, block in enumerate(self.blocks):
                if i == self.fail_at:
                    raise RuntimeError("iterable failed on purpose at block %d" % i)
                self.pulled += 1
                if self.delay:
                    time.sleep(self.delay)
                yield block

        def close(self):
            record(self.name, "closed after %d blocks" % self.pulled)


    class Forever(Closing):
        def __iter__(self):
            block = b"x" * 65536
            for _ in range(2000):
                self.pulled += 1
                time.sleep(0.005)
                yield block
            record(self.name, "finished")


    class NoReadFile(io.FileIO):
        """A real file that must be sent with sendfile, never read in Python."""

        def read(self, *args):
            raise AssertionError("the gateway read the file instead of using sendfile")

        def close(self):
            record(query_name[0], "file closed")
            super().close()


    query_name = [None]


    def application(environ, start_response):
        path = environ["PATH_INFO"]
        q = query(environ)
        inp = environ["wsgi.input"]
        if path == "/env" or environ["QUERY_STRING"] == "show-env":
            return reply(start_response, environ_view(environ))
        if path == "/hello":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"hello"]
        if path == "/read":
            body = inp.read()
            return reply(start_response, {"body": body.decode("latin-1"),
                                          "type": type(body).__name__,
                                          "again": inp.read().decode(),
                                          "CONTENT_LENGTH": environ.get("CONTENT_LENGTH")})
        if path == "/read-n":
            n = int(q.get("n", "7"))
            sizes, digest = [], hashlib_sha256()
            while True:
                block = inp.read(n)
                if not block:
                    break
                sizes.append(len(block))
                digest.update(block)
            return reply(start_response, {"sizes": sizes, "sha256": digest.hexdigest()})
        if path == "/readline":
            lines = []
            first = inp.readline(4)
            while True:
                line = inp.readline()
                if not line:
                    break
                lines.append(line.decode())
            return reply(start_response, {"first": first.decode(), "lines": lines})
        if path == "/readlines":
            return reply(start_response, [line.decode() for line in inp.readlines()])
        if path == "/iter":
            return reply(start_response, [line.decode() for line in inp])
        if path == "/stream":
            return stream(environ, start_response, q["flag"])
        if path == "/closing":
            name = q["name"]
            fail_at = int(q["fail"]) if "fail" in q else None
            start_response("200 OK", [("Content-Type", "text/plain")])
            return Closing(name, [b"one\n", b"two\n", b"three\n"], fail_at)
        if path == "/forever":
            start_response("200 OK", [("Content-Type", "application/octet-stream")])
            return Forever(q["name"], [])
        if path == "/write":
            write = start_response("200 OK", [("Content-Type", "text/plain")])
            write(b"one ")
            write(b"")
            write(b"two ")
            return [b"three"]
        if path == "/write-stream":
            write = start_response("200 OK", [("Content-Type", "text/plain")])
            write(b"written first\n")
            wait_for(q["flag"])
            return [b"then returned\n"]
        if path == "/bad-header":
            kind = q["kind"]
            headers = {
                "crlf": [("X-Bad", "a\r\nInjected: yes")],
                "type": [("X-Number", 5)],
                "name": [("Bad Name", "x")],
                "hop": [("Connection", "close")],
                "notlist": (("X-A", "b"),),
                "latin1": [("X-Snow", "\u2603")],
                "length": [("Content-Length", "12abc")],
            }[kind]
            start_response("200 OK", [("Content-Type", "text/plain")] + list(headers)
                           if kind != "notlist" else headers)
            return [b"should not be sent"]
        if path == "/bad-status":
            start_response({"short": "200", "int": 200, "nospace": "200OK",
                            "info": "100 Continue", "crlf": "200 OK\r\nX: y"}[q["kind"]],
                           [("Content-Type", "text/plain")])
            return [b"should not be sent"]
        if path == "/twice":
            start_response("200 OK", [("Content-Type", "text/plain")])
            start_response("201 Created", [("Content-Type", "text/plain")])
            return [b"should not be sent"]
        if path == "/exc-before":
            start_response("200 OK", [("Content-Type", "text/plain"), ("X-Dropped", "1")])
            try:
                raise KeyError("lookup failed")
            except KeyError:
                start_response("503 Service Unavailable", [("Content-Type", "text/plain")],
                               sys.exc_info())
            return [b"handled the error"]
        if path == "/exc-after":
            return exc_after(start_response)
        if path == "/raise":
            raise RuntimeError("wsgi boom before any output")
        if path == "/raise-in-iter":
            return raise_in_iter(start_response)
        if path == "/no-start-response":
            return [b"body without status"]
        if path == "/str-body":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return ["text, not bytes"]
        if path == "/short":
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "10")])
            return iter([b"12345"])
        if path == "/long":
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
            return Closing(q["name"], [b"0123", b"456789", b"never pulled"])
        if path == "/write-long":
            write = start_response("200 OK", [("Content-Type", "text/plain"),
                                              ("Content-Length", "5")])
            write(b"0123")
            try:
                write(b"456789")
            except ValueError as exc:
                record(q["name"], "write refused: %s" % exc)
            return [b"4"]
        if path == "/errors":
            errors = environ["wsgi.errors"]
            errors.write("wsgi errors line one\nwsgi errors ")
            errors.write("line two\n")
            errors.writelines(["wsgi errors line three\n"])
            print("wsgi errors printed", file=errors)
            errors.flush()
            errors.write("wsgi errors unterminated")
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"logged"]
        if path == "/status":
            code = q["code"]
            reason = {"201": "Created", "404": "Not Found", "410": "Gone",
                      "500": "Internal Server Error", "204": "No Content",
                      "302": "Found"}[code]
            headers = [] if code == "204" else [("Content-Type", "text/plain")]
            if code in ("201", "302"):
                headers.append(("Location", "http://example.invalid/new"))
            start_response(code + " " + reason, headers)
            return [] if code == "204" else [("custom body for " + code).encode()]
        if path == "/headers":
            start_response("200 OK", [
                ("Content-Type", "text/x-custom; charset=utf-8"),
                ("Set-Cookie", "a=1; Path=/"),
                ("Set-Cookie", "b=2; Path=/"),
                ("X-Latin", "caf\xe9"),
            ] + ([("X-Tab", "a\tb")] if q.get("tab") else []))
            return [b"headers"]
        if path == "/empty":
            start_response("200 OK", [("Content-Type", "text/plain"), ("X-Empty", "yes")])
            return iter([b"", b""])
        if path == "/file":
            return send_file(environ, start_response, q)
        if path == "/warn":
            warnings.warn("canary warning from the test app", WSGIWarning)
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"warned"]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no such test: " + path.encode("latin-1")]


    def hashlib_sha256():
        import hashlib
        return hashlib.sha256()


    def wait_for(flag):
        path = os.path.join(FLAGS, flag)
        deadline = time.time() + 15
        while not os.path.exists(path):
            if time.time() > deadline:
                return False
            time.sleep(0.02)
        return True


    def stream(environ, start_response, flag):
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"first block\n"
        found = wait_for(flag)
        record(flag, "app finished")
        yield b"second block\n" if found else b"timed out: nothing reached the client\n"


    def exc_after(start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"the beginning\n"
        try:
            raise ValueError("exc-after failure after the headers")
        except ValueError:
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")],
                           sys.exc_info())
        yield b"never sent\n"


    def raise_in_iter(start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"partial output\n"
        raise RuntimeError("wsgi boom after the headers")


    def send_file(environ, start_response, q):
        mode = q["mode"]
        query_name[0] = q.get("name", "file")
        wrapper = environ["wsgi.file_wrapper"]
        headers = [("Content-Type", "application/octet-stream")]
        if mode == "sendfile":
            f = NoReadFile(DATA)
            f.seek(int(q.get("offset", "0")))
        elif mode == "length":
            f = NoReadFile(DATA)
            headers.append(("Content-Length", "100"))
        elif mode == "bytesio":
            with open(DATA, "rb") as real:
                f = io.BytesIO(real.read())
        elif mode == "unlinked":
            tmp = os.path.join(RECORDS, "unlinked.bin")
            with open(DATA, "rb") as real, open(tmp, "wb") as copy:
                copy.write(real.read())
            f = open(tmp, "rb")
            os.unlink(tmp)
        start_response("200 OK", headers)
        return wrapper(f, 4096)


    validated = validator(application)
'''

# Imported on first use; counts imports per process (the gateway must import once).
SLOWAPP = r"""
    import os
    import time

    with open("{root}/records/slowapp-imports", "a") as f:
        f.write("%d\n" % os.getpid())
    time.sleep(1.0)


    def application(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(os.getpid()).encode()]
"""

FLASKAPP = r"""
    from flask import Flask, Response, abort, jsonify, redirect, request
    from flask import stream_with_context, url_for

    app = Flask(__name__)


    @app.route("/hello/<name>")
    def hello(name):
        return "Hello, %s!" % name


    @app.route("/items/<int:item_id>")
    def item(item_id):
        if item_id == 0:
            abort(404)
        return jsonify(id=item_id, script_root=request.script_root, path=request.path,
                       args=request.args.to_dict(), url=request.url)


    @app.route("/form", methods=["GET", "POST"])
    def form():
        if request.method == "GET":
            return '<form method="post"><input name="name"></form>'
        return jsonify(name=request.form["name"], tags=request.form.getlist("tag"))


    @app.route("/upload", methods=["POST"])
    def upload():
        f = request.files["file"]
        return jsonify(filename=f.filename, size=len(f.read()), note=request.form.get("note"))


    @app.route("/json", methods=["POST"])
    def echo_json():
        data = request.get_json()
        return jsonify(received=data, length=request.content_length)


    @app.route("/stream")
    def stream():
        count = int(request.args.get("n", "3"))

        def generate():
            for i in range(count):
                yield "line %d of %s\n" % (i, request.args.get("who", "nobody"))

        return Response(stream_with_context(generate()), mimetype="text/plain")


    @app.route("/plain-stream")
    def plain_stream():
        return Response((b"chunk %d\n" % i for i in range(4)), mimetype="text/plain")


    @app.route("/go")
    def go():
        return redirect(url_for("hello", name="redirected"))


    @app.route("/fail")
    def fail():
        raise ValueError("flask view failed")
"""

WSGI = """
    SetHandler mod_python
    PythonHandler mod_python.wsgi
"""


def _ssl_config(apache_install, certs: Path, port: int) -> str:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(certs / "key.pem"), "-out", str(certs / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    certs.chmod(0o755)
    return f"""
        LoadModule ssl_module "{apache_install.modules_dir}/mod_ssl.so"
        Listen 127.0.0.1:{port}
        <VirtualHost 127.0.0.1:{port}>
            SSLEngine on
            SSLCertificateFile "{certs}/cert.pem"
            SSLCertificateKeyFile "{certs}/key.pem"
        </VirtualHost>
    """


@pytest.fixture(scope="module")
def server(start_server, apache_install, tmp_path_factory):
    has_ssl = apache_install.has_module("mod_ssl")
    ssl_port = free_port()
    certs = tmp_path_factory.mktemp("certs")
    ssl = _ssl_config(apache_install, certs, ssl_port) if has_ssl else ""
    config = (
        ssl
        + """
        PythonPath "sys.path + ['{root}/apps']"
        """
        + "".join(
            f"""
            <Location {location}>
                {WSGI}
                PythonOption mod_python.wsgi.application {app}
                {extra}
            </Location>
            """
            for location, app, extra in [
                ("/app", "testapp", ""),
                ("/validated", "testapp::validated", ""),
                ("/based", "testapp", "PythonOption mod_python.wsgi.base_uri /based/deeper/"),
                ("/rooted", "testapp", "PythonOption mod_python.wsgi.base_uri /"),
                ("/slow", "slowapp", ""),
                ("/flask", "flaskapp::app", ""),
                ("/noapp", "", ""),
                ("/nomodule", "no_such_module_here", ""),
                ("/noattr", "testapp::nothing.here", ""),
            ]
        )
        + (
            # CGIPassAuth (Apache 2.4.13) lets add_common_vars() pass Authorization on.
            f"""
            <Location /auth>
                {WSGI}
                PythonOption mod_python.wsgi.application testapp
                CGIPassAuth On
            </Location>
            """
            if apache_install.version >= (2, 4, 13)
            else ""
        )
        + f"""
        <LocationMatch "^/match[0-9]">
            {WSGI}
            PythonOption mod_python.wsgi.application testapp
        </LocationMatch>
        <Directory "{{docroot}}/dir">
            {WSGI}
            PythonOption mod_python.wsgi.application testapp
        </Directory>
        """
    )
    srv = start_server(
        config,
        files={
            "apps/testapp.py": TESTAPP,
            "apps/slowapp.py": SLOWAPP,
            "apps/flaskapp.py": FLASKAPP,
            "htdocs/dir/placeholder.txt": "a file in the WSGI directory\n",
        },
    )
    for sub in ("records", "flags", "data"):
        (srv.root / sub).mkdir()
        (srv.root / sub).chmod(0o777)
    (srv.root / "data" / "blob.bin").write_bytes(bytes(range(256)) * 64)
    srv.ssl_url = f"https://127.0.0.1:{ssl_port}" if has_ssl else None
    srv.ssl_ca = str(certs / "cert.pem")
    return srv


def env(server, path: str, **kw) -> Dict[str, object]:
    r = server.get(path, **kw)
    assert r.status_code == 200, r.text
    return r.json()


def wait_for_file(path: Path, timeout: float = 20.0) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and path.read_text().endswith("\n"):
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path} was not written within {timeout}s")


def raw_get(server, path: str, timeout: float = 15.0) -> bytes:
    """The raw bytes of a response, up to the server closing the connection."""
    host, port = server.url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        data = b""
        while True:
            try:
                block = s.recv(65536)
            except socket.timeout:
                raise AssertionError(f"the connection stayed open; got {data!r}") from None
            if not block:
                return data
            data += block


# --------------------------------------------------------------------------- environ


def test_environ_cgi_variables(server):
    e = env(server, "/app/env?x=1&y=%20z", headers={"X-Custom-Thing": "some value"})
    assert e["REQUEST_METHOD"] == "GET"
    assert e["SCRIPT_NAME"] == "/app"
    assert e["PATH_INFO"] == "/env"
    assert e["QUERY_STRING"] == "x=1&y=%20z"
    assert e["REQUEST_URI"] == "/app/env?x=1&y=%20z"
    assert e["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert e["SERVER_NAME"]
    assert e["SERVER_PORT"] == server.url.rsplit(":", 1)[1]
    assert e["HTTP_X_CUSTOM_THING"] == "some value"
    assert e["HTTP_HOST"] == server.url.split("//")[1]
    assert e["REMOTE_ADDR"] == "127.0.0.1"
    assert "CONTENT_LENGTH" not in e and "HTTP_CONTENT_LENGTH" not in e
    assert e["wsgi.version"] == [1, 0]
    assert e["wsgi.url_scheme"] == "http"
    assert e["wsgi.run_once"] is False
    assert e["request_type"] == "request"
    assert e["request_uri_attr"] == "/app/env"
    assert e["file_wrapper"] == "FileWrapper"
    assert e["input_terminated"] is True


def test_authorization_is_passed_only_with_cgipassauth(server, apache_install):
    auth = ("user", "secret")
    assert "HTTP_AUTHORIZATION" not in env(server, "/app/env", auth=auth)
    if apache_install.version < (2, 4, 13):
        return  # no CGIPassAuth before 2.4.13: the request object has the header
    e = env(server, "/auth/env", auth=auth)
    assert e["HTTP_AUTHORIZATION"] == "Basic dXNlcjpzZWNyZXQ="


def test_environ_post_content_headers(server):
    r = server.post("/app/env", data=b"a=1", headers={"Content-Type": "text/x-test"})
    e = r.json()
    assert e["REQUEST_METHOD"] == "POST"
    assert e["CONTENT_TYPE"] == "text/x-test"
    assert e["CONTENT_LENGTH"] == "3"
    assert "HTTP_CONTENT_TYPE" not in e


def test_environ_multithread_multiprocess_match_the_mpm(server, mpm):
    e = env(server, "/app/env")
    assert e["wsgi.multithread"] is (mpm != "prefork")
    assert e["wsgi.multiprocess"] is True


def test_text_is_latin1_round_trip(server):
    # PEP 3333: native strings hold the raw bytes, decoded as ISO-8859-1.
    e = env(server, "/app/caf%C3%A9%20x?show-env", headers={"X-Utf8": "caf\u00e9".encode()})
    assert e["PATH_INFO"].encode("latin-1").decode("utf-8") == "/caf\u00e9 x"
    assert e["HTTP_X_UTF8"].encode("latin-1").decode("utf-8") == "caf\u00e9"


@pytest.mark.parametrize(
    "path, script_name, path_info",
    [
        ("/app", "/app", ""),
        ("/app/", "/app", "/"),
        ("/app/a/b%20c/", "/app", "/a/b c/"),
        ("/based/deeper", "/based/deeper", ""),
        ("/based/deeper/x/y", "/based/deeper", "/x/y"),
        ("/rooted/x", "", "/rooted/x"),
        ("/dir/", "/dir", "/"),
        ("/dir/placeholder.txt", "/dir", "/placeholder.txt"),
        ("/dir/sub/x", "/dir", "/sub/x"),
        ("/match1/x", "", "/match1/x"),
    ],
)
def test_script_name_and_path_info(server, path, script_name, path_info):
    e = env(server, path + "?show-env")
    assert (e["SCRIPT_NAME"], e["PATH_INFO"]) == (script_name, path_info)


def test_base_uri_that_does_not_match_is_a_clear_error(server):
    r = server.get("/based/elsewhere")
    assert r.status_code == 500
    assert "mod_python.wsgi.base_uri '/based/deeper/' is not a prefix" in server.error_log()


def test_https_url_scheme(server, apache_install):
    if server.ssl_url is None:
        # Only our Apache 2.2 builds come without mod_ssl.
        assert apache_install.version < (2, 4, 0)
        return
    r = requests.get(server.ssl_url + "/app/env", verify=server.ssl_ca, timeout=30)
    assert r.json()["wsgi.url_scheme"] == "https"
    assert r.json()["HTTPS"] == "on"


# --------------------------------------------------------------------------- wsgi.input


def test_read_all(server):
    r = server.post("/app/read", data=b"hello\r\nworld\x00\xff")
    assert r.json() == {
        "body": "hello\r\nworld\x00\xff",
        "type": "bytes",
        "again": "",
        "CONTENT_LENGTH": "14",
    }


def test_read_sized_blocks_of_a_large_body(server):
    body = bytes(range(256)) * 4096 + b"tail"
    r = server.post("/app/read-n?n=65536", data=body)
    out = r.json()
    assert out["sha256"] == hashlib.sha256(body).hexdigest()
    assert sum(out["sizes"]) == len(body)
    assert all(size == 65536 for size in out["sizes"][:-1])


def test_read_n_never_reads_past_the_body(server):
    r = server.post("/app/read-n?n=7", data=b"0123456789abcdefghij")
    assert r.json()["sizes"] == [7, 7, 6]


def test_readline(server):
    r = server.post("/app/readline", data=b"first line\nsecond\r\nlast")
    assert r.json() == {"first": "firs", "lines": ["t line\n", "second\r\n", "last"]}


def test_readlines_and_iteration(server):
    data = b"a\nbb\n\nccc"
    assert server.post("/app/readlines", data=data).json() == ["a\n", "bb\n", "\n", "ccc"]
    assert server.post("/app/iter", data=data).json() == ["a\n", "bb\n", "\n", "ccc"]


def test_chunked_upload(server):
    def blocks():
        yield b"chunked "
        yield b"upload\n"
        yield b"second line"

    r = server.post("/app/read", data=blocks())
    out = r.json()
    assert out["body"] == "chunked upload\nsecond line"
    assert out["CONTENT_LENGTH"] is None
    r = server.post("/app/iter", data=blocks())
    assert r.json() == ["chunked upload\n", "second line"]


# --------------------------------------------------------------------------- the response


def test_list_response_gets_a_content_length(server):
    r = server.get("/app/hello")
    assert r.text == "hello"
    assert r.headers["Content-Length"] == "5"
    assert "Transfer-Encoding" not in r.headers
    assert r.headers["Content-Type"] == "text/plain"


def test_status_and_body_are_the_applications(server):
    r = server.get("/app/status?code=404")
    assert (r.status_code, r.text) == (404, "custom body for 404")
    r = server.get("/app/status?code=410")
    assert (r.status_code, r.text) == (410, "custom body for 410")
    r = server.get("/app/status?code=500")
    assert (r.status_code, r.text) == (500, "custom body for 500")
    r = server.get("/app/status?code=201")
    assert (r.status_code, r.headers["Location"]) == (201, "http://example.invalid/new")
    r = server.get("/app/status?code=302", allow_redirects=False)
    assert (r.status_code, r.headers["Location"]) == (302, "http://example.invalid/new")
    r = server.get("/app/status?code=204")
    assert (r.status_code, r.content) == (204, b"")


def test_headers(server):
    r = server.get("/app/headers?tab=1")
    assert r.headers["Content-Type"] == "text/x-custom; charset=utf-8"
    assert r.raw.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert r.headers["X-Latin"].encode("latin-1") == b"caf\xe9"
    assert r.headers["X-Tab"] == "a\tb"


def test_empty_body_still_sends_the_headers(server):
    r = server.get("/app/empty")
    assert (r.status_code, r.content, r.headers["X-Empty"]) == (200, b"", "yes")
    assert r.headers["Content-Length"] == "0"


def test_head_request(server):
    r = server.request("HEAD", "/app/hello")
    assert (r.status_code, r.content) == (200, b"")
    assert r.headers["Content-Length"] == "5"


def test_write_callable(server):
    r = server.get("/app/write")
    assert r.text == "one two three"


def test_streaming_response_arrives_in_pieces(server):
    flag = server.root / "flags" / "stream1"
    with server.get("/app/stream?flag=stream1", stream=True) as r:
        blocks = r.iter_content(chunk_size=None)
        assert next(blocks) == b"first block\n"
        # The application is still waiting for the flag: the block was flushed.
        assert not (server.root / "records" / "stream1").exists()
        flag.touch()
        assert b"".join(blocks) == b"second block\n"
    assert wait_for_file(server.root / "records" / "stream1") == "app finished\n"


def test_write_callable_streams_too(server):
    flag = server.root / "flags" / "stream2"
    with server.get("/app/write-stream?flag=stream2", stream=True) as r:
        blocks = r.iter_content(chunk_size=None)
        assert next(blocks) == b"written first\n"
        flag.touch()
        assert b"".join(blocks) == b"then returned\n"


def test_close_is_called_after_a_complete_response(server):
    r = server.get("/app/closing?name=close-ok")
    assert r.text == "one\ntwo\nthree\n"
    assert wait_for_file(server.root / "records" / "close-ok") == "closed after 3 blocks\n"


def test_close_is_called_when_iteration_fails_early(server):
    r = server.get("/app/closing?name=close-early&fail=0")
    assert r.status_code == 500
    assert wait_for_file(server.root / "records" / "close-early") == "closed after 0 blocks\n"
    assert "iterable failed on purpose at block 0" in server.error_log()


def test_close_is_called_when_iteration_fails_late(server):
    data = raw_get(server, "/app/closing?name=close-late&fail=2")
    assert b"one\n" in data and b"two\n" in data
    assert not data.endswith(b"0\r\n\r\n")
    assert wait_for_file(server.root / "records" / "close-late") == "closed after 2 blocks\n"


def test_close_is_called_when_the_client_disconnects(server):
    host, port = server.url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=15) as s:
        s.sendall(b"GET /app/forever?name=gone HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
    text = wait_for_file(server.root / "records" / "gone", timeout=30)
    assert text.startswith("closed after ") and "finished" not in text
    log = server.error_log()
    assert "the client closed the connection before the response to '/app/forever'" in log


def test_content_length_limits_what_is_sent(server):
    r = server.get("/app/long?name=long")
    assert (r.content, r.headers["Content-Length"]) == (b"01234", "5")
    # Iteration stopped once enough was sent, and close() was still called.
    assert wait_for_file(server.root / "records" / "long") == "closed after 2 blocks\n"


def test_write_beyond_content_length_is_refused(server):
    r = server.get("/app/write-long?name=write-long")
    assert r.content == b"01234"
    text = wait_for_file(server.root / "records" / "write-long")
    assert "goes beyond the Content-Length" in text


def test_short_response_closes_the_connection(server):
    data = raw_get(server, "/app/short")
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Content-Length: 10" in head
    assert body == b"12345"
    assert "sent 5 bytes for '/app/short' but its Content-Length is 10" in server.error_log()


# --------------------------------------------------------------------------- wsgi.file_wrapper


def test_file_wrapper_uses_sendfile(server):
    blob = (server.root / "data" / "blob.bin").read_bytes()
    r = server.get("/app/file?mode=sendfile&name=sendfile")
    assert r.status_code == 200, server.error_log()[-2000:]
    assert r.content == blob
    assert r.headers["Content-Length"] == str(len(blob))
    assert wait_for_file(server.root / "records" / "sendfile") == "file closed\n"


def test_file_wrapper_starts_at_the_current_position(server):
    blob = (server.root / "data" / "blob.bin").read_bytes()
    r = server.get("/app/file?mode=sendfile&offset=1000&name=offset")
    assert r.content == blob[1000:]


def test_file_wrapper_respects_content_length(server):
    blob = (server.root / "data" / "blob.bin").read_bytes()
    r = server.get("/app/file?mode=length&name=length")
    assert r.content == blob[:100]


@pytest.mark.parametrize("mode", ["bytesio", "unlinked"])
def test_file_wrapper_without_a_usable_file_is_iterated(server, mode):
    blob = (server.root / "data" / "blob.bin").read_bytes()
    r = server.get(f"/app/file?mode={mode}")
    assert r.status_code == 200
    assert r.content == blob


# --------------------------------------------------------------------------- errors


def test_wsgi_errors_go_to_the_error_log(server):
    assert server.get("/app/errors").text == "logged"
    log = server.error_log()
    for line in (
        "wsgi errors line one",
        "wsgi errors line two",
        "wsgi errors line three",
        "wsgi errors printed",
        "wsgi errors unterminated",
    ):
        assert f"] {line}\n" in log, line


def test_exception_before_output_is_a_500_with_traceback(server):
    r = server.get("/app/raise")
    assert r.status_code == 500
    assert "wsgi boom before any output" not in r.text
    log = server.error_log()
    assert "mod_python: PythonHandler failed for '/app/raise'" in log
    assert "RuntimeError: wsgi boom before any output" in log
    assert "in application" in log


def test_exception_after_output_cuts_the_response(server):
    data = raw_get(server, "/app/raise-in-iter")
    assert data.startswith(b"HTTP/1.1 200 OK")
    assert b"partial output\n" in data
    # Neither the end of the chunked body nor an error page follows.
    assert not data.endswith(b"0\r\n\r\n")
    assert b"Internal Server Error" not in data
    log = server.error_log()
    assert "RuntimeError: wsgi boom after the headers" in log
    assert "the application failed during the response to '/app/raise-in-iter'" in log
    assert "cut the response to '/app/raise-in-iter' and closed the connection" in log
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        server.get("/app/raise-in-iter").content  # noqa: B018


@pytest.mark.parametrize(
    "kind, message",
    [
        ("crlf", "header X-Bad has a control character"),
        ("type", "header name and value must be str"),
        ("name", "bad header name 'Bad Name'"),
        ("hop", "Connection is a hop-by-hop header"),
        ("notlist", "headers must be a list, not tuple"),
        ("latin1", "is not ISO-8859-1"),
        ("length", "bad Content-Length '12abc'"),
    ],
)
def test_bad_header_is_a_500_and_says_why(server, kind, message):
    r = server.get(f"/app/bad-header?kind={kind}")
    assert r.status_code == 500
    assert "Injected" not in r.headers
    assert "should not be sent" not in r.text
    assert message in server.error_log()


@pytest.mark.parametrize(
    "kind, message",
    [
        ("short", "bad status '200'"),
        ("nospace", "bad status '200OK'"),
        ("int", "the status must be a str, not 200"),
        ("info", "status '100 Continue' is not a final HTTP status"),
        ("crlf", "start_response(): bad status '200 OK"),
    ],
)
def test_bad_status_is_a_500_and_says_why(server, kind, message):
    r = server.get(f"/app/bad-status?kind={kind}")
    assert r.status_code == 500
    assert message in server.error_log()


def test_start_response_twice_without_exc_info(server):
    assert server.get("/app/twice").status_code == 500
    assert "start_response() called a second time without exc_info" in server.error_log()


def test_exc_info_before_output_replaces_the_response(server):
    r = server.get("/app/exc-before")
    assert (r.status_code, r.text) == (503, "handled the error")
    assert "X-Dropped" not in r.headers


def test_exc_info_after_output_reraises_and_cuts(server):
    data = raw_get(server, "/app/exc-after")
    assert b"the beginning\n" in data
    assert b"never sent" not in data
    assert not data.endswith(b"0\r\n\r\n")
    assert "ValueError: exc-after failure after the headers" in server.error_log()


def test_body_before_start_response_is_an_error(server):
    assert server.get("/app/no-start-response").status_code == 500
    assert "before calling start_response()" in server.error_log()


def test_str_body_is_an_error(server):
    assert server.get("/app/str-body").status_code == 500
    assert "a WSGI application must send bytes, not str" in server.error_log()


@pytest.mark.parametrize(
    "path, message",
    [
        ("/noapp/x", "mod_python.wsgi needs the application to run"),
        ("/nomodule/x", "No module named 'no_such_module_here'"),
        ("/noattr/x", "testapp.nothing.here does not exist ('nothing' is missing)"),
    ],
)
def test_configuration_errors(server, path, message):
    assert server.get(path).status_code == 500
    assert message in server.error_log()


def test_concurrent_first_requests_import_the_application_once(server):
    with ThreadPoolExecutor(8) as pool:
        responses = list(
            pool.map(lambda _: requests.get(server.url + "/slow/", timeout=60), range(8))
        )
    assert all(r.status_code == 200 for r in responses)
    imports = (server.root / "records" / "slowapp-imports").read_text().split()
    assert len(imports) == len(set(imports)), imports
    assert {r.text for r in responses} <= set(imports)


# --------------------------------------------------------------------------- PEP 3333 validator


@pytest.mark.parametrize(
    "method, path, kw, check",
    [
        ("GET", "/validated/env?a=b", {}, lambda r: r.json()["PATH_INFO"] == "/env"),
        ("GET", "/validated/hello", {}, lambda r: r.text == "hello"),
        ("GET", "/validated/write", {}, lambda r: r.text == "one two three"),
        ("GET", "/validated/headers", {}, lambda r: r.text == "headers"),
        ("GET", "/validated/status?code=404", {}, lambda r: r.status_code == 404),
        ("GET", "/validated/status?code=204", {}, lambda r: r.status_code == 204),
        ("GET", "/validated/empty", {}, lambda r: r.content == b""),
        ("GET", "/validated/exc-before", {}, lambda r: r.status_code == 503),
        ("GET", "/validated/closing?name=validated-close", {}, lambda r: r.text.count("\n") == 3),
        ("GET", "/validated/long?name=validated-long", {}, lambda r: r.content == b"01234"),
        ("GET", "/validated/file?mode=bytesio", {}, lambda r: len(r.content) == 16384),
        ("GET", "/validated/errors", {}, lambda r: r.text == "logged"),
        ("HEAD", "/validated/hello", {}, lambda r: r.content == b""),
        (
            "POST",
            "/validated/read-n?n=5",
            {"data": b"0123456789ab"},
            lambda r: r.json()["sizes"] == [5, 5, 2],
        ),
        (
            "POST",
            "/validated/readline",
            {"data": b"abcdef\nxyz"},
            lambda r: r.json()["lines"] == ["ef\n", "xyz"],
        ),
        ("POST", "/validated/iter", {"data": b"a\nb"}, lambda r: r.json() == ["a\n", "b"]),
        ("PUT", "/validated/readlines", {"data": b"a\nb"}, lambda r: r.json() == ["a\n", "b"]),
    ],
)
def test_validator_finds_no_violation(server, method, path, kw, check):
    r = server.request(method, path, **kw)
    assert r.status_code != 500, server.error_log()[-3000:]
    assert check(r), r.content


def test_validator_streaming(server):
    flag = server.root / "flags" / "validated-stream"
    with server.get("/validated/stream?flag=validated-stream", stream=True) as r:
        blocks = r.iter_content(chunk_size=None)
        assert next(blocks) == b"first block\n"
        flag.touch()
        assert b"".join(blocks) == b"second block\n"


def test_validator_left_no_warning_or_assertion_in_the_log(server):
    # A warning that the test app issues itself shows that warnings do reach
    # the error log, so the absence of the validator's is meaningful.
    assert server.get("/validated/warn").text == "warned"
    deadline = time.time() + 10
    while "canary warning from the test app" not in server.error_log():
        assert time.time() < deadline, "warnings do not reach the error log"
        time.sleep(0.1)
    log = server.error_log()
    warnings = [line for line in log.splitlines() if "WSGIWarning" in line and "canary" not in line]
    assert warnings == []
    assert "AssertionError" not in log
    assert "Exception ignored" not in log
    assert "garbage collected without being closed" not in log


# --------------------------------------------------------------------------- Flask


def test_flask_is_installed():
    # A required dependency of the integration session: never skipped.
    importlib.import_module("flask")


def test_flask_route_with_variable(server):
    r = server.get("/flask/hello/world")
    assert (r.status_code, r.text) == (200, "Hello, world!")
    assert r.headers["Content-Type"].startswith("text/html")


def test_flask_json_and_script_root(server):
    r = server.get("/flask/items/42?color=red")
    assert r.status_code == 200
    assert r.json() == {
        "id": 42,
        "script_root": "/flask",
        "path": "/items/42",
        "args": {"color": "red"},
        "url": server.url + "/flask/items/42?color=red",
    }


def test_flask_form_post(server):
    r = server.post("/flask/form", data={"name": "Zoë", "tag": ["a", "b"]})
    assert r.json() == {"name": "Zoë", "tags": ["a", "b"]}


def test_flask_file_upload(server):
    payload = bytes(range(256)) * 100
    r = server.post("/flask/upload", files={"file": ("data.bin", payload)}, data={"note": "binary"})
    assert r.json() == {"filename": "data.bin", "size": len(payload), "note": "binary"}


def test_flask_json_post_chunked(server):
    body = json.dumps({"k": [1, 2, 3]}).encode()
    r = server.post(
        "/flask/json", data=iter([body[:5], body[5:]]), headers={"Content-Type": "application/json"}
    )
    assert r.json() == {"received": {"k": [1, 2, 3]}, "length": None}


def test_flask_streaming(server):
    with server.get("/flask/stream?n=3&who=me", stream=True) as r:
        assert r.headers.get("Transfer-Encoding") == "chunked"
        text = b"".join(r.iter_content(chunk_size=None)).decode()
    assert text == "line 0 of me\nline 1 of me\nline 2 of me\n"
    r = server.get("/flask/plain-stream")
    assert r.text == "chunk 0\nchunk 1\nchunk 2\nchunk 3\n"


def test_flask_redirect_keeps_the_mount_point(server):
    r = server.get("/flask/go", allow_redirects=False)
    assert r.status_code == 302
    assert r.headers["Location"].endswith("/flask/hello/redirected")


def test_flask_404(server):
    assert server.get("/flask/no/such/page").status_code == 404
    assert server.get("/flask/items/0").status_code == 404


def test_flask_exception_is_a_500_logged_by_flask(server):
    r = server.get("/flask/fail")
    assert r.status_code == 500
    assert "ValueError: flask view failed" in server.error_log()
