"""Python input and output filters (manual 4.3, 4.5.6, 5.2) and the filter
methods of the request object (4.5.4): PythonInputFilter/PythonOutputFilter
activated with Apache's Add/Set*Filter, req.register_*_filter() and
req.add_*_filter(), bodies far larger than one brigade in both directions,
and filters that fail."""

from __future__ import annotations

import gzip
import hashlib
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from mod_python._httpd import ApacheStartError

# The manual's example, found on sys.path (PythonPath) by its module name.
CAPITALIZE = """
    from mod_python import apache

    def outputfilter(filter):

        s = filter.read()
        while s:
            filter.write(s.upper())
            s = filter.read()

        if s is None:
            filter.close()
"""

FILTERS = """
    import json
    from mod_python import apache

    def counting(filter):
        # state kept on the filter object lasts for all the calls of one request
        filter.calls = getattr(filter, "calls", 0) + 1
        s = filter.read()
        while s:
            filter.write(s.upper())
            s = filter.read()
        if s is None:
            filter.eos = getattr(filter, "eos", 0) + 1
            filter.write("[calls=%d eos=%d]" % (filter.calls, filter.eos))
            filter.close()

    def prefix_pass_on(filter):
        if not getattr(filter, "started", False):
            filter.started = True
            filter.write(b"[prefix]")
        filter.pass_on()

    def disabling(filter):
        s = filter.read()
        filter.write((s or b"").upper() + b"[disabled]")
        filter.disable()

    def first5(filter):
        # only the first five bytes of each call: the rest goes on as it is,
        # and the end of the stream is passed on without close()
        s = filter.read(5)
        if s:
            filter.write(s.upper())

    def lines(filter):
        partial = getattr(filter, "partial", b"")
        n = getattr(filter, "n", 0)
        line = filter.readline()
        while line:
            partial += line
            if partial.endswith(b"\\n"):
                n += 1
                filter.write(b"%d: %s" % (n, partial))
                partial = b""
            line = filter.readline()
        filter.partial, filter.n = partial, n
        if line is None:
            if partial:
                filter.write(b"%d: %s" % (n + 1, partial))
            filter.close()

    def info(filter):
        s = filter.read()
        while s:
            s = filter.read()
        if s is None:
            filter.req.saved_filter = filter
            filter.write(json.dumps({
                "name": filter.name,
                "is_input": filter.is_input,
                "uri": filter.req.uri,
                "handler": filter.handler,
                "closed": filter.closed,
                "interpreter": filter.req.interpreter,
                "type": type(filter).__name__,
                "same_req": filter.req is filter.req,
                "handler_note": getattr(filter.req, "note_from_handler", None),
            }))
            filter.close()
            try:
                filter.write(b"more")
                error = None
            except ValueError as exc:
                error = str(exc)
            filter.req.log_error(
                "INFO-FILTER closed=%s write_error=%s" % (filter.closed, error),
                apache.APLOG_NOTICE,
            )

    def broken_out(filter):
        raise RuntimeError("output filter exploded")

    def broken_late(filter):
        filter.calls = getattr(filter, "calls", 0) + 1
        if filter.calls >= 3:
            raise RuntimeError("output filter exploded late")
        filter.pass_on()

    def lower(filter):
        s = filter.read()
        while s:
            filter.write(s.lower())
            s = filter.read()
        if s is None:
            filter.close()

    def expand(filter):
        # the body grows: every "a" becomes "<A>"
        filter.calls = getattr(filter, "calls", 0) + 1
        s = filter.read()
        while s:
            filter.write(s.replace(b"a", b"<A>"))
            s = filter.read()
        if s is None:
            filter.req.notes["expand-calls"] = str(filter.calls)
            filter.close()

    def reverse(filter):
        # writes nothing until the end: Apache's reader must wait for it
        filter.parts = getattr(filter, "parts", [])
        s = filter.read()
        while s:
            filter.parts.append(s)
            s = filter.read()
        if s is None:
            filter.write(b"".join(filter.parts)[::-1])
            filter.close()

    def info_in(filter):
        if not getattr(filter, "seen", False):
            filter.seen = True
            filter.write(json.dumps({
                "name": filter.name,
                "is_input": filter.is_input,
                "uri": filter.req.uri,
                "handler": filter.handler,
                "closed": filter.closed,
            }).encode() + b"\\n")
        filter.pass_on()

    def broken_in(filter):
        raise ValueError("input filter exploded")

    def recurse_out(filter):
        # req.write() from inside the filter would run this filter again: refused
        s = filter.read()
        while s:
            try:
                filter.req.write(b"nested")
                filter.write(b"no error ")
            except OSError:
                filter.write(b"OSError ")
            filter.write(s)
            s = filter.read()
        if s is None:
            filter.close()

    def recurse_in(filter):
        if not getattr(filter, "tried", False):
            filter.tried = True
            try:
                filter.req.read()
                filter.write(b"no error ")
            except OSError:
                filter.write(b"OSError ")
        filter.pass_on()

    class Wrapper:
        # a class named by the handler is instantiated with the filter
        def __init__(self, filter):
            self.filter = filter

        def run(self, filter):
            assert filter is self.filter
            f = filter
            s = f.read()
            while s:
                f.write(s.replace(b"o", b"0"))
                s = f.read()
            if s is None:
                f.close()
"""

APP = """
    import hashlib
    import json
    from mod_python import apache

    def handler(req):
        req.content_type = "text/plain"
        mode, _, arg = (req.args or "").partition("=")
        req.note_from_handler = "set by the handler"
        if mode == "hello":
            req.write("hello world")
        elif mode == "pieces":
            for i in range(int(arg)):
                req.write("piece-%d\\n" % i)        # flushed: one filter call each
        elif mode == "big":
            n = int(arg)
            chunk = bytes(range(97, 123)) * 2521
            sent = 0
            while sent < n:
                part = chunk[: n - sent]
                req.write(part, 0)
                sent += len(part)
        elif mode == "lines":
            for part in ("alpha\\nbe", "ta\\ngam", "ma\\nno newline"):
                req.write(part)
        elif mode == "echo":
            req.write(req.read())
        elif mode == "digest":
            body = req.read()
            req.write(json.dumps({"len": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                                  "calls": req.notes.get("expand-calls")}))
        elif mode == "chunks":
            sizes = []
            while True:
                part = req.read(1000)
                if not part:
                    break
                sizes.append(len(part))
            req.write(json.dumps(sizes))
        elif mode == "readline":
            req.write(repr([req.readline() for _ in range(4)]))
        elif mode == "readfail":
            try:
                req.read()
            except OSError as exc:
                req.write("OSError: %s" % exc)
            else:
                req.write("no error")
        elif mode == "raise-read":
            req.read()
        elif mode == "add":
            if arg == "INCLUDES":
                req.content_type = "text/html"
                req.add_output_filter(arg)
                req.write('<p><!--#echo var="DOCUMENT_URI" --></p>')
            elif arg == "CONTENT_LENGTH":
                # the manual's example: the whole body buffered, then counted
                req.add_output_filter(arg)
                req.write("content " * 500, 0)
            elif arg == "DEFLATE":
                req.add_output_filter(arg)
                req.write("compress me " * 1000)
            else:
                req.add_output_filter(arg)
                req.write("added by name")
        elif mode == "add-unknown":
            try:
                req.add_output_filter("NO_SUCH_FILTER")
            except ValueError as exc:
                req.write("ValueError: %s" % exc)
            try:
                req.add_input_filter("NO_SUCH_FILTER")
            except ValueError as exc:
                req.write("\\nValueError: %s" % exc)
        return apache.OK

    def loghandler(req):
        f = getattr(req, "saved_filter", None)
        if f is not None:
            try:
                f.read()
                outcome = "no error"
            except RuntimeError as exc:
                outcome = "RuntimeError: %s" % exc
            req.log_error("SAVED-FILTER closed=%s read=%s" % (f.closed, outcome),
                          apache.APLOG_NOTICE)
        return apache.OK
"""

DYNAPP = """
    from mod_python import apache

    def handler(req):
        req.content_type = "text/plain"
        mode = req.args
        if mode == "out":
            # no dir: the module is looked for in this handler's directory
            req.register_output_filter("MyDyn", "dynfilter")
            req.add_output_filter("mydyn")
            req.write("dynamic output")
        elif mode == "in":
            req.register_input_filter("MYDYNIN", "dynfilter::swap")
            req.add_input_filter("MYDYNIN")
            req.write(req.read())
        elif mode == "dir":
            req.register_output_filter("OTHER", "otherfilter::outputfilter", "{root}/other")
            req.add_output_filter("OTHER")
            req.write("via dir")
        elif mode == "two":
            # a dynamic filter and a configured one, in the order added
            req.register_output_filter("BRACKETS", "dynfilter::brackets")
            req.add_output_filter("CAPITALIZE")
            req.add_output_filter("BRACKETS")
            req.write("two filters")
        elif mode == "class":
            req.register_output_filter("WRAPPED", "{root}/lib/filters.py::Wrapper.run")
            req.add_output_filter("WRAPPED")
            req.write("foo boo")
        elif mode == "callable":
            seen = []

            def shout(filter):
                seen.append(filter.name)
                s = filter.read()
                while s:
                    filter.write(s.upper() + b"!")
                    s = filter.read()
                if s is None:
                    filter.write(("handler is shout: %s" % (filter.handler is shout)).encode())
                    filter.close()

            req.register_output_filter("SHOUT", shout)
            req.add_output_filter("SHOUT")
            req.write("hey")
        elif mode == "badtype":
            try:
                req.register_output_filter("X", 42)
            except TypeError as exc:
                req.write("TypeError: %s" % exc)
        elif mode == "earlier":
            try:
                req.add_output_filter("MyDyn")
            except ValueError as exc:
                req.write("ValueError: %s" % exc)
        elif mode == "notregistered":
            # registered as an input filter only: not an output filter
            req.register_input_filter("INONLY", "dynfilter::swap")
            try:
                req.add_output_filter("INONLY")
            except ValueError as exc:
                req.write("ValueError: %s" % exc)
        return apache.OK
"""

DYNFILTER = """
    def outputfilter(filter):
        s = filter.read()
        while s:
            filter.write(filter.name.encode() + b":" + s.upper())
            s = filter.read()
        if s is None:
            filter.close()

    def brackets(filter):
        s = filter.read()
        while s:
            filter.write(b"[" + s + b"]")
            s = filter.read()
        if s is None:
            filter.close()

    def swap(filter):
        s = filter.read()
        while s:
            filter.write(s.swapcase())
            s = filter.read()
        if s is None:
            filter.close()
"""

OTHERFILTER = """
    def outputfilter(filter):
        s = filter.read()
        while s:
            filter.write(b"<" + s + b">")
            s = filter.read()
        if s is None:
            filter.close()
"""

LIB = "{root}/lib/filters.py"

CONFIG = f"""
    PythonPath "sys.path + ['{{root}}/lib']"
    PythonOutputFilter capitalize CAPITALIZE
    PythonOutputFilter {LIB}::counting COUNTING
    PythonOutputFilter {LIB}::prefix_pass_on PASSON
    PythonOutputFilter {LIB}::disabling DISABLING
    PythonOutputFilter {LIB}::first5 FIRST5
    PythonOutputFilter {LIB}::lines LINES
    PythonOutputFilter {LIB}::info INFO
    PythonOutputFilter {LIB}::broken_out BROKENOUT
    PythonOutputFilter {LIB}::broken_late BROKENLATE
    PythonInputFilter {LIB}::lower LOWER
    PythonInputFilter {LIB}::expand EXPAND
    PythonInputFilter {LIB}::reverse REVERSE
    PythonInputFilter {LIB}::info_in INFOIN
    PythonInputFilter {LIB}::broken_in BROKENIN
    PythonOutputFilter {LIB}::recurse_out RECURSEOUT
    PythonInputFilter {LIB}::recurse_in RECURSEIN

    <Directory "{{docroot}}/static">
        AddOutputFilter CAPITALIZE .txt
    </Directory>
    Alias /counting-static "{{docroot}}/static"
    <Location /counting-static>
        SetOutputFilter COUNTING
    </Location>
    <Directory "{{docroot}}/cap">
        SetHandler mod_python
        PythonHandler app
        AddOutputFilter CAPITALIZE .py
    </Directory>
    <Directory "{{docroot}}/dyn">
        SetHandler mod_python
        PythonHandler dynapp
    </Directory>
    <Location /plain>
        SetHandler mod_python
        PythonHandler app
    </Location>
"""

# One <Location /name> per filter: the handler is app.py, the filter set by name.
OUTPUT_LOCATIONS = [
    "COUNTING",
    "PASSON",
    "DISABLING",
    "FIRST5",
    "LINES",
    "BROKENOUT",
    "BROKENLATE",
    "RECURSEOUT",
]
INPUT_LOCATIONS = ["LOWER", "EXPAND", "REVERSE", "INFOIN", "BROKENIN", "RECURSEIN"]


def _locations() -> str:
    out = []
    for name in OUTPUT_LOCATIONS:
        out.append(
            f"<Location /{name.lower()}>\n    SetHandler mod_python\n    PythonHandler app\n"
            f"    SetOutputFilter {name}\n</Location>"
        )
    for name in INPUT_LOCATIONS:
        out.append(
            f"<Location /{name.lower()}>\n    SetHandler mod_python\n    PythonHandler app\n"
            f"    SetInputFilter {name}\n</Location>"
        )
    out.append(
        "<Location /info>\n    SetHandler mod_python\n    PythonHandler app\n"
        "    PythonLogHandler app\n    SetOutputFilter INFO\n</Location>"
    )
    # two Python filters in a row, and a Python filter before mod_deflate
    out.append(
        "<Location /chain>\n    SetHandler mod_python\n    PythonHandler app\n"
        "    SetOutputFilter COUNTING;CAPITALIZE\n</Location>"
    )
    return "\n".join(out) + "\n"


def pattern(n: int) -> bytes:
    return (bytes(range(97, 123)) * (n // 26 + 1))[:n]


@pytest.fixture(scope="module")
def server(start_server):
    return start_server(
        CONFIG + _locations(),
        files={
            "lib/capitalize.py": CAPITALIZE,
            "lib/filters.py": FILTERS,
            "lib/app.py": APP,
            "htdocs/static/small.txt": "hello static file\n",
            "htdocs/cap/app.py": APP,
            "htdocs/dyn/dynapp.py": DYNAPP,
            "htdocs/dyn/dynfilter.py": DYNFILTER,
            "other/otherfilter.py": OTHERFILTER,
        },
    )


def wait_for_log(server, text: str, timeout: float = 10.0) -> str:
    """The error log once it holds ``text`` (log handlers run after the response)."""
    deadline = time.monotonic() + timeout
    while True:
        log = server.error_log()
        if text in log or time.monotonic() > deadline:
            return log
        time.sleep(0.05)


def raw_request(server, request: bytes) -> bytes:
    """Send one raw request and read until the server closes the connection."""
    parts = urlsplit(server.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=20) as s:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


# ---------------------------------------------------------------- output filters


def test_capitalize_handler_output(server):
    r = server.get("/cap/app.py?hello")
    assert r.status_code == 200
    assert r.text == "HELLO WORLD"


def test_capitalize_static_file(server):
    r = server.get("/static/small.txt")
    assert r.status_code == 200
    assert r.text == "HELLO STATIC FILE\n"
    # Content-Length is counted again for the filtered body
    assert r.headers.get("Content-Length") in (None, str(len(r.content)))


def test_capitalize_big_static_file(server):
    data = pattern(5 * 1024 * 1024 + 17)
    (server.docroot / "static" / "big.txt").write_bytes(data)
    r = server.get("/static/big.txt")
    assert r.status_code == 200
    assert len(r.content) == len(data)
    assert hashlib.sha256(r.content).hexdigest() == hashlib.sha256(data.upper()).hexdigest()


def test_big_handler_output(server):
    n = 6 * 1024 * 1024 + 5
    r = server.get(f"/counting?big={n}")
    assert r.status_code == 200
    body, _, trailer = r.content.rpartition(b"[")
    assert body == pattern(n).upper()
    calls = int(trailer.split(b"calls=")[1].split(b" ")[0])
    assert calls > 10, trailer  # far more than one brigade
    assert trailer.endswith(b"eos=1]")


def test_called_several_times_one_eos(server):
    r = server.get("/counting?pieces=8")
    assert r.status_code == 200
    text = r.text
    assert text.startswith("PIECE-0\nPIECE-1\n")
    assert "PIECE-7\n[calls=" in text
    calls = int(text.split("[calls=")[1].split(" ")[0])
    assert calls >= 8  # one call per flushed piece, plus the end
    assert text.endswith(" eos=1]")


def test_pass_on(server):
    r = server.get("/passon?pieces=3")
    assert r.status_code == 200
    assert r.text == "[prefix]piece-0\npiece-1\npiece-2\n"


def test_disable(server):
    r = server.get("/disabling?pieces=3")
    assert r.status_code == 200
    # the first call uppercases; later calls pass through untouched
    assert r.text == "PIECE-0\n[disabled]piece-1\npiece-2\n"


def test_data_not_read_passes_on(server):
    assert server.get("/first5?hello").text == "HELLO world"
    r = server.get("/first5?pieces=3")
    assert r.text == "PIECE-0\nPIECE-1\nPIECE-2\n"


def test_readline_across_calls(server):
    r = server.get("/lines?lines")
    assert r.status_code == 200
    assert r.text == "1: alpha\n2: beta\n3: gamma\n4: no newline"


def test_two_python_filters_in_a_row(server):
    r = server.get("/chain?pieces=2")
    assert r.status_code == 200
    assert r.text.startswith("PIECE-0\nPIECE-1\n[CALLS=")


def test_filter_members(server):
    r = server.get("/info?hello")
    assert r.status_code == 200
    info = r.json()
    assert info == {
        "name": "INFO",
        "is_input": False,
        "uri": "/info",
        "handler": server.root.as_posix() + "/lib/filters.py::info",
        "closed": False,
        "interpreter": info["interpreter"],
        "type": "filter",
        "same_req": True,
        "handler_note": "set by the handler",
    }
    assert info["interpreter"]  # the request's interpreter
    saved = "SAVED-FILTER closed=True read=RuntimeError: a filter object can only be used"
    log = wait_for_log(server, saved)
    assert "INFO-FILTER closed=True write_error=I/O operation on a closed filter" in log
    # the object outlives its calls but cannot be used outside them
    assert saved in log


# ---------------------------------------------------------------- input filters


def test_input_filter_rewrites_body(server):
    r = server.post("/lower?echo", data=b"Hello WORLD, Mixed Case")
    assert r.status_code == 200
    assert r.text == "hello world, mixed case"


def test_input_filter_big_body(server):
    body = pattern(5 * 1024 * 1024 + 3).upper()
    r = server.post("/lower?digest", data=body)
    assert r.status_code == 200
    got = r.json()
    assert got["len"] == len(body)
    assert got["sha256"] == hashlib.sha256(body.lower()).hexdigest()


def test_input_filter_chunked_big_body(server):
    body = pattern(4 * 1024 * 1024 + 11).upper()

    def gen():
        for i in range(0, len(body), 100_000):
            yield body[i : i + 100_000]

    r = server.post("/lower?digest", data=gen())
    assert r.status_code == 200
    got = r.json()
    assert got["len"] == len(body)
    assert got["sha256"] == hashlib.sha256(body.lower()).hexdigest()


def test_input_filter_that_grows_the_body(server):
    body = pattern(3 * 1024 * 1024)
    expected = body.replace(b"a", b"<A>")
    r = server.post("/expand?digest", data=body)
    got = r.json()
    assert got["len"] == len(expected)
    assert got["sha256"] == hashlib.sha256(expected).hexdigest()
    assert int(got["calls"]) > 3  # called once per block the reader asked for


def test_input_filter_reader_asks_small_blocks(server):
    # req.read(1000) asks for 1000 bytes: the filter's larger output waits
    r = server.post("/expand?chunks", data=b"a" * 2500)
    sizes = r.json()
    assert sum(sizes) == 7500
    assert max(sizes) <= 1000


def test_input_filter_that_collects_until_the_end(server):
    body = pattern(300_000)
    r = server.post("/reverse?digest", data=body)
    got = r.json()
    assert got["len"] == len(body)
    assert got["sha256"] == hashlib.sha256(body[::-1]).hexdigest()


def test_input_filter_readline_of_the_reader(server):
    r = server.post("/lower?readline", data=b"ONE\nTWO\nTHREE")
    assert r.text == repr([b"one\n", b"two\n", b"three", b""])


def test_input_filter_members(server):
    r = server.post("/infoin?echo", data=b"body")
    first, _, rest = r.text.partition("\n")
    assert json.loads(first) == {
        "name": "INFOIN",
        "is_input": True,
        "uri": "/infoin",
        "handler": server.root.as_posix() + "/lib/filters.py::info_in",
        "closed": False,
    }
    assert rest == "body"


def test_input_filter_without_body(server):
    r = server.get("/lower?echo")
    assert r.status_code == 200
    assert r.text == ""


# ---------------------------------------------------------------- failures


def test_output_filter_exception_gives_500(server):
    r = server.get("/brokenout?hello")
    assert r.status_code == 500
    assert "output filter exploded" not in r.text  # never shown to the client
    assert r.text.count("<html>") == 1  # one error page: nothing written later leaks out
    log = server.error_log()
    assert "PythonOutputFilter BROKENOUT failed for '/brokenout'" in log
    assert "Traceback (most recent call last):" in log
    assert "RuntimeError: output filter exploded" in log
    assert server.get("/cap/app.py?hello").text == "HELLO WORLD"


def test_output_filter_exception_cuts_started_response(server):
    data = raw_request(server, b"GET /brokenlate?pieces=10 HTTP/1.1\r\nHost: localhost\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"chunked" in head.lower()
    assert b"piece-0\n" in body and b"piece-1\n" in body
    assert b"piece-9" not in body
    assert b"<html>" not in body  # no error page glued to the cut response
    assert not body.endswith(b"0\r\n\r\n")  # the client can tell it is incomplete
    assert "RuntimeError: output filter exploded late" in server.error_log()
    assert server.get("/cap/app.py?hello").text == "HELLO WORLD"


def test_input_filter_exception_fails_the_read(server):
    r = server.post("/brokenin?readfail", data=b"some body")
    assert r.status_code == 200
    assert r.text.startswith("OSError: ")
    log = server.error_log()
    assert "PythonInputFilter BROKENIN failed for '/brokenin'" in log
    assert "ValueError: input filter exploded" in log
    r = server.post("/brokenin?raise-read", data=b"some body")
    assert r.status_code == 500
    assert server.post("/lower?echo", data=b"STILL FINE").text == "still fine"


def test_filter_using_the_request_to_read_or_write(server):
    r = server.get("/recurseout?hello")
    assert r.status_code == 200
    assert r.text == "OSError hello world"
    r = server.post("/recursein?echo", data=b"body")
    assert r.status_code == 200
    assert r.text == "OSError body"
    assert "PythonOutputFilter RECURSEOUT was called again while it runs" in server.error_log()
    assert "PythonInputFilter RECURSEIN was called again while it runs" in server.error_log()


# ---------------------------------------------------------------- request methods


def test_add_output_filter_configured_python_filter(server):
    r = server.get("/plain?add=CAPITALIZE")
    assert r.status_code == 200
    assert r.text == "ADDED BY NAME"


def test_add_output_filter_includes(server):
    r = server.get("/plain?add=INCLUDES")
    assert r.status_code == 200
    assert r.text == "<p>/plain</p>"


def test_add_output_filter_content_length(server):
    r = server.get("/plain?add=CONTENT_LENGTH", headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200
    assert r.headers.get("Content-Length") == "4000"
    assert r.text == "content " * 500


def test_static_file_calls(server):
    data = pattern(3 * 1024 * 1024)
    (server.docroot / "static" / "counted.txt").write_bytes(data)
    r = server.get("/counting-static/counted.txt")
    assert r.status_code == 200
    body, _, trailer = r.content.rpartition(b"[")
    assert body == data.upper()
    assert trailer.endswith(b"eos=1]")


def test_add_output_filter_deflate(server):
    r = server.get("/plain?add=DEFLATE", headers={"Accept-Encoding": "gzip"}, stream=True)
    assert r.status_code == 200
    assert r.headers["Content-Encoding"] == "gzip"
    raw = r.raw.read(decode_content=False)
    assert gzip.decompress(raw) == b"compress me " * 1000
    assert len(raw) < 1000


def test_add_unknown_filter(server):
    r = server.get("/plain?add-unknown")
    lines = r.text.split("\n")
    assert lines[0].startswith("ValueError: add_output_filter(): there is no output filter named")
    assert "'NO_SUCH_FILTER'" in lines[0]
    assert lines[1].startswith("ValueError: add_input_filter(): there is no input filter named")


def test_register_output_filter(server):
    r = server.get("/dyn/dynapp.py?out")
    assert r.status_code == 200
    assert r.text == "MyDyn:DYNAMIC OUTPUT"


def test_register_output_filter_with_dir(server):
    assert server.get("/dyn/dynapp.py?dir").text == "<via dir>"


def test_register_input_filter(server):
    r = server.post("/dyn/dynapp.py?in", data=b"Swap Me")
    assert r.status_code == 200
    assert r.text == "sWAP mE"


def test_dynamic_and_configured_filters_together(server):
    assert server.get("/dyn/dynapp.py?two").text == "[TWO FILTERS]"


def test_register_filter_class_callable(server):
    assert server.get("/dyn/dynapp.py?class").text == "f00 b00"


def test_register_filter_callable_object(server):
    r = server.get("/dyn/dynapp.py?callable")
    assert r.status_code == 200
    assert r.text == "HEY!handler is shout: True"


def test_register_filter_errors(server):
    r = server.get("/dyn/dynapp.py?badtype")
    assert r.text.startswith("TypeError: register_output_filter(): filter must be a str")
    r = server.get("/dyn/dynapp.py?notregistered")
    assert r.text.startswith("ValueError: add_output_filter(): there is no output filter")


def test_dynamic_registration_lasts_one_request(server):
    assert server.get("/dyn/dynapp.py?out").status_code == 200
    # MyDyn was registered by the earlier request only
    r = server.get("/dyn/dynapp.py?earlier")
    assert r.text.startswith("ValueError: add_output_filter(): there is no output filter")
    assert "'MyDyn'" in r.text


# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    "directive, message",
    [
        (
            "PythonOutputFilter capitalize DEFLATE",
            "DEFLATE is already the name of an output filter of another Apache module",
        ),
        (
            "PythonInputFilter capitalize MOD_PYTHON_DYNAMIC_IN",
            "the name MOD_PYTHON_DYNAMIC_IN is reserved by mod_python",
        ),
        ("PythonOutputFilter capitalize", "takes two arguments"),
        (
            "PythonOutputFilter lib/capitalize.py CAP",
            "a module file must be given by its absolute path",
        ),
        ("PythonInputFilter capitalize:: CAP", "nothing follows '::'"),
        (
            "<Location /x>\nPythonOutputFilter capitalize CAP\n</Location>",
            "PythonOutputFilter not allowed",
        ),
    ],
)
def test_bad_filter_directives(start_server, directive, message):
    with pytest.raises(ApacheStartError) as info:
        start_server(directive)
    assert message in str(info.value)


def test_filters_after_graceful_restart(server):
    server.apache.graceful()
    server.apache.wait_ready()
    assert server.get("/cap/app.py?hello").text == "HELLO WORLD"
    assert server.post("/lower?echo", data=b"AFTER Restart").text == "after restart"
    assert server.get("/dyn/dynapp.py?out").text == "MyDyn:DYNAMIC OUTPUT"


# ---------------------------------------------------------------- concurrency, crashes


def test_concurrent_filtered_requests(server):
    body = pattern(700_000).upper()

    def one(i: int) -> bool:
        if i % 2:
            r = server.post("/lower?digest", data=body)
            return r.json()["sha256"] == hashlib.sha256(body.lower()).hexdigest()
        r = server.get("/counting?big=500000")
        return r.content.startswith(pattern(500_000).upper()) and r.content.endswith(b"eos=1]")

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(one, range(24)))


def test_no_crash(server):
    log = server.error_log()
    for marker in ("Segmentation fault", "exit signal", "Fatal Python error", "SystemError"):
        assert marker not in log
