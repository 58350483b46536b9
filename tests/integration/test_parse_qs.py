"""``_apache.parse_qs`` / ``_apache.parse_qsl`` (manual 4.6, the C query string
parsers behind mod_python.util): they agree exactly with urllib.parse of the
Python Apache runs, on a large random corpus and on every combination of
keep_blank_values and strict_parsing; bytes-like input follows the same rules
and gives str; req.args parses as it came over HTTP; nothing leaks."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from typing import Any, Dict, List, Optional, Tuple

import pytest

# The handler: runs inside Apache, where _apache exists.  Raw string: the
# escapes in it are for the handler's own Python to read.
APP = r"""
import ast
import gc
import json
import random
import sys
import tracemalloc
import urllib.parse

import _apache
from mod_python import apache

C = {"parse_qs": _apache.parse_qs, "parse_qsl": _apache.parse_qsl}
PY = {"parse_qs": urllib.parse.parse_qs, "parse_qsl": urllib.parse.parse_qsl}
COMBOS = [(0, 0), (0, 1), (1, 0), (1, 1)]

# Pieces of names and values: plain text, valid and invalid escapes, UTF-8
# escapes complete, truncated, overlong and of a surrogate, characters
# beyond ASCII (a lone surrogate too: a str may hold one), NUL.
PIECES = [
    "a", "b", "name", "x1", "Z", "0", "key_", "-", ".", "~", " ", "#", "?", "/", "\t",
    "+", "+", "%", "%", "%2", "%4", "%41", "%7e", "%7E", "%2B", "%2b", "%26", "%3D",
    "%3d", "%3B", "%20", "%zz", "%g1", "%%", "%%41", "%0", "%00", "%FF", "%ff", "%80",
    "%C3", "%c3", "%c3%a9", "%C3%A9", "%E2%82%AC", "%e2%82", "%F0%9F%98%80", "%F0%9F%98",
    "%ED%A0%80", "%E0%80%80", "%C0%AF", "%C3%28", "%F4%90%80%80", "%C3%C3%A9",
    "\u00e9", "\u20ac", "\U0001f600", "\u00df", "\u00a0", "\u0100", "\ufffd",
    "\ud800", "\udcff", "\udcc3", "\udca9", "\x00", "\x7f",
]
SEPARATORS = ["&", "&", "&", "=", "=", ";"]
TOKENS = PIECES + SEPARATORS * 6
HEX = "0123456789abcdefABCDEFgG%&="


def piece(rnd):
    if rnd.random() < 0.1:
        return "%" + rnd.choice(HEX) + rnd.choice(HEX)
    return rnd.choice(PIECES)


def word(rnd, most):
    return "".join(piece(rnd) for _ in range(rnd.randint(0, most)))


def make_query(rnd):
    if rnd.random() < 0.45:  # anything goes
        return "".join(
            rnd.choice(TOKENS) if rnd.random() < 0.8 else piece(rnd)
            for _ in range(rnd.randint(0, 24))
        )
    fields = []
    for _ in range(rnd.randint(0, 8)):
        r = rnd.random()
        name = word(rnd, 4)
        if r < 0.12:
            fields.append(name)  # no '='
        elif r < 0.25:
            fields.append(name + "=")  # blank value
        elif r < 0.3:
            fields.append("")  # empty field
        elif r < 0.35:
            fields.append(name + "=" + word(rnd, 3) + "=" + word(rnd, 3))
        else:
            fields.append(name + "=" + word(rnd, 5))
    ends = ["", "", "", "", "&", "&&", ";", "="]
    return rnd.choice(ends) + "&".join(fields) + rnd.choice(ends)


def to_bytes(qs):
    # surrogateescape turns \udcXX into the raw byte XX: raw invalid UTF-8 in bytes
    try:
        return qs.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return qs.encode("utf-8", "surrogatepass")


def outcome(call):
    try:
        return repr(call())
    except Exception as exc:
        return type(exc).__name__ + ": " + str(exc)


def _utf8(s):
    return s.encode("latin-1").decode("utf-8", "replace")


def bytes_reference(qs, keep, strict):
    # urllib.parse's rules applied to the bytes (latin-1 maps each byte to one
    # character and back), names and values then decoded as UTF-8 ('replace')
    try:
        pairs = urllib.parse.parse_qsl(qs.decode("latin-1"), keep, strict, encoding="latin-1")
    except ValueError as exc:
        field = ast.literal_eval(str(exc).split(": ", 1)[1])
        error = "ValueError: bad query field: " + repr(field.encode("latin-1"))
        return error, error
    pairs = [(_utf8(n), _utf8(v)) for n, v in pairs]
    grouped = {}
    for n, v in pairs:
        grouped.setdefault(n, []).append(v)
    return repr(grouped), repr(pairs)


def reply(req, value):
    req.content_type = "application/json"
    req.write(json.dumps(value))
    return apache.OK


def corpus(req):
    args = dict(urllib.parse.parse_qsl(req.args))
    seed, count = int(args["seed"]), int(args["count"])
    rnd = random.Random(seed)
    checked = 0
    mismatches = []
    stats = dict.fromkeys(["empty", "non_ascii", "errors", "results", "replaced", "surrogate"], 0)

    def check(what, got, expected):
        nonlocal checked
        checked += 1
        if got != expected and len(mismatches) < 20:
            mismatches.append(what + ": C " + ascii(got) + " urllib " + ascii(expected))
        return got != expected

    bad = 0
    for i in range(count):
        qs = make_query(rnd)
        stats["empty"] += qs == ""
        stats["non_ascii"] += any(ord(ch) > 127 for ch in qs)
        stats["surrogate"] += any(0xD800 <= ord(ch) < 0xE000 for ch in qs)
        raw = to_bytes(qs)
        for keep, strict in COMBOS:
            for fn in ("parse_qs", "parse_qsl"):
                got = outcome(lambda: C[fn](qs, keep, strict))
                want = outcome(lambda: PY[fn](qs, keep, strict))
                bad += check(f"{fn}({qs!a}, {keep}, {strict})", got, want)
                stats["errors"] += got.startswith("ValueError")
                stats["results"] += got not in ("{}", "[]") and not got.startswith("ValueError")
                stats["replaced"] += "\ufffd" in got
            want_qs, want_qsl = bytes_reference(raw, keep, strict)
            inputs = [raw] + ([bytearray(raw), memoryview(raw)] if i % 10 == 0 else [])
            for data in inputs:
                label = type(data).__name__ + f"({raw!r}), {keep}, {strict})"
                got = outcome(lambda: C["parse_qs"](data, keep, strict))
                bad += check("parse_qs(" + label, got, want_qs)
                got = outcome(lambda: C["parse_qsl"](data, keep, strict))
                bad += check("parse_qsl(" + label, got, want_qsl)
    return reply(req, {"count": count, "checked": checked, "bad": bad,
                       "mismatches": mismatches, "stats": stats})


def call(req):
    spec = json.loads(req.read())
    args = spec["args"]
    if "bytes" in spec:
        raw = spec["bytes"].encode("latin-1")
        wrap = {"bytes": bytes, "bytearray": bytearray, "memoryview": memoryview}[spec["wrap"]]
        args = [wrap(raw)] + args
    fn = C[spec["fn"]]
    return reply(req, outcome(lambda: fn(*args, **spec["kw"])))


def args(req):
    return reply(req, {"args": req.args, "c": repr(_apache.parse_qs(req.args)),
                       "urllib": repr(urllib.parse.parse_qs(req.args or "")),
                       "qsl": repr(_apache.parse_qsl(req.args, 1))})


# names and values longer than one character: those of one are shared singletons
LEAK_INPUTS = [
    ("alpha=1&beta=22&alpha=333&gamma=&delta", 1, 0),
    ("name=%C3%A9t%C3%A9+%zz&other=\u00e9%41bc\ud800xyz%C3%A9&\u00e9t\u00e9", 1, 0),
    (b"key=%FF\xc3\xa9&key=two", 0, 0), (bytearray(b"first=one&&"), 0, 0),
    ("field=1&bad", 0, 1), (b"field=1&&bad", 0, 1), (None, 1, 1), ("", 0, 0),
]


def leak(req):
    def run(rounds):
        for _ in range(rounds):
            for qs, keep, strict in LEAK_INPUTS:
                for fn in C.values():
                    try:
                        fn(qs, keep, strict)
                    except ValueError:
                        pass
            try:
                C["parse_qs"](42)
            except TypeError:
                pass

    run(200)  # warm up caches
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        run(5000)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return reply(req, {"calls": 5000 * (2 * len(LEAK_INPUTS) + 1), "growth": after - before})


def handler(req):
    what = req.uri.rsplit("/", 1)[-1]
    if what == "corpus":
        return corpus(req)
    if what == "call":
        return call(req)
    if what == "args":
        return args(req)
    if what == "leak":
        return leak(req)
    if what == "version":
        return reply(req, list(sys.version_info[:2]))
    return apache.HTTP_NOT_FOUND
"""

CONFIG = """
<Directory "{docroot}/app">
    SetHandler mod_python
    PythonHandler app
    PythonDebug On
</Directory>
"""

CHUNKS = 5  # requests of the corpus, one seed each
CHUNK = 10_000  # query strings per request: 50,000 in all


@pytest.fixture(scope="module")
def server(start_server):
    return start_server(CONFIG, files={"htdocs/app/app.py": APP})


@pytest.fixture(scope="module")
def apache_python(server) -> Tuple[int, int]:
    r = server.get("/app/version")
    assert r.status_code == 200, r.text
    major, minor = r.json()
    return major, minor


def call(
    server, fn: str, *args: Any, raw: Optional[bytes] = None, wrap: str = "bytes", **kw: Any
) -> str:
    """repr() of _apache.<fn>(*args, **kw) inside Apache, or "ExceptionName: message".
    With raw, the query string is those bytes as a bytes, bytearray or memoryview."""
    spec: Dict[str, Any] = {"fn": fn, "args": list(args), "kw": kw}
    if raw is not None:
        spec.update(bytes=raw.decode("latin-1"), wrap=wrap)
    r = server.post("/app/call", json=spec)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("seed", range(CHUNKS))
def test_random_corpus_agrees_with_urllib(server, seed):
    r = server.get(f"/app/corpus?seed={seed}&count={CHUNK}", timeout=600)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["mismatches"] == []
    assert report["bad"] == 0
    assert report["count"] == CHUNK
    # str: 4 flag combinations x 2 functions; bytes: the same, and for every
    # tenth query bytearray and memoryview as well
    assert report["checked"] == CHUNK * 16 + (CHUNK // 10) * 16
    stats = report["stats"]
    # the corpus reaches every case it is meant to
    assert stats["empty"] > 10
    assert stats["non_ascii"] > CHUNK // 4
    assert stats["surrogate"] > CHUNK // 20
    assert stats["errors"] > CHUNK
    assert stats["results"] > CHUNK * 2
    assert stats["replaced"] > CHUNK // 4


CASES: List[Tuple[str, Any, tuple, dict, Any]] = [
    # the manual's description: names to lists of values, in order
    ("parse_qs", "a=1&b=2&a=3", (), {}, {"a": ["1", "3"], "b": ["2"]}),
    ("parse_qsl", "a=1&b=2&a=3", (), {}, [("a", "1"), ("b", "2"), ("a", "3")]),
    # blank values are dropped unless keep_blank_values
    ("parse_qs", "a=&b=2&c", (), {}, {"b": ["2"]}),
    ("parse_qs", "a=&b=2&c", (1,), {}, {"a": [""], "b": ["2"], "c": [""]}),
    ("parse_qsl", "a=&b=2&c", (), {"keep_blank_values": True}, [("a", ""), ("b", "2"), ("c", "")]),
    ("parse_qsl", "=v&=", (), {}, [("", "v")]),
    ("parse_qsl", "&&a=1&&", (), {}, [("a", "1")]),
    # '+' is a space, %XX a byte of UTF-8; bad escapes stay as they are
    ("parse_qsl", "name=John+Smith&q=%7Eme%2B1", (), {}, [("name", "John Smith"), ("q", "~me+1")]),
    ("parse_qsl", "x=%C3%A9t%c3%a9", (), {}, [("x", "\u00e9t\u00e9")]),
    ("parse_qsl", "x=%zz%4&y=%&z=100%", (), {}, [("x", "%zz%4"), ("y", "%"), ("z", "100%")]),
    (
        "parse_qsl",
        "x=%C3&y=%FF%41&z=%E2%82",
        (),
        {},
        [("x", "\ufffd"), ("y", "\ufffdA"), ("z", "\ufffd")],
    ),
    ("parse_qsl", "a%3Db=c%26d", (), {}, [("a=b", "c&d")]),
    ("parse_qsl", "a=b=c", (), {}, [("a", "b=c")]),
    # ';' separates nothing (urllib.parse since 3.9.2)
    ("parse_qsl", "a=1;b=2&c=3", (), {}, [("a", "1;b=2"), ("c", "3")]),
    # characters beyond ASCII in a str stay, escapes around them are decoded
    (
        "parse_qsl",
        "\u00e9=\u20ac%E2%82%AC+\U0001f600",
        (),
        {},
        [("\u00e9", "\u20ac\u20ac \U0001f600")],
    ),
    ("parse_qsl", "s=\ud800%41%C3\ud800", (), {}, [("s", "\ud800A\ufffd\ud800")]),
    ("parse_qsl", "n=%00\x00", (), {}, [("n", "\x00\x00")]),
    # strict_parsing: a field without '=' is an error, a blank value is not
    ("parse_qsl", "a=1&b", (0, 1), {}, "ValueError: bad query field: 'b'"),
    ("parse_qs", "a=1&&b=2", (), {"strict_parsing": 1}, "ValueError: bad query field: ''"),
    ("parse_qs", "a=1&b=2&", (1, 1), {}, "ValueError: bad query field: ''"),
    ("parse_qs", "a=&b=", (0, 1), {}, {}),
    ("parse_qs", "a=&b=", (1, 1), {}, {"a": [""], "b": [""]}),
    ("parse_qs", "", (), {}, {}),
    ("parse_qsl", None, (1,), {}, []),
    # what it takes
    (
        "parse_qsl",
        42,
        (),
        {},
        "TypeError: parse_qsl() argument 'qs' must be str, a bytes-like object or None, not int",
    ),
    (
        "parse_qs",
        ["a=1"],
        (),
        {},
        "TypeError: parse_qs() argument 'qs' must be str, a bytes-like object or None, not list",
    ),
]


@pytest.mark.parametrize(("fn", "qs", "args", "kw", "expected"), CASES)
def test_targeted(server, fn, qs, args, kw, expected):
    want = expected if isinstance(expected, str) else repr(expected)
    assert call(server, fn, qs, *args, **kw) == want


def test_keyword_arguments(server):
    assert call(server, "parse_qsl", qs="a=&b=1", keep_blank_values=1) == repr(
        [("a", ""), ("b", "1")]
    )
    assert call(server, "parse_qs", qs="a=1&b", strict_parsing=True) == (
        "ValueError: bad query field: 'b'"
    )
    assert call(server, "parse_qs", "a=1", 0, 0, 0).startswith(
        "TypeError: parse_qs() takes at most 3 arguments"
    )
    assert call(server, "parse_qs", "a=1", separator=";").startswith("TypeError: ")
    assert call(server, "parse_qs").startswith("TypeError: ")


@pytest.mark.parametrize("wrap", ["bytes", "bytearray", "memoryview"])
def test_bytes_like_input_gives_str(server, wrap):
    raw = b"a=%C3%A9&b=\xc3\xa9+x&c=%FF\xff&d&a=2"
    want = [("a", "\u00e9"), ("b", "\u00e9 x"), ("c", "\ufffd\ufffd"), ("d", ""), ("a", "2")]
    got = call(server, "parse_qsl", raw=raw, wrap=wrap, keep_blank_values=1)
    assert got == repr(want)
    assert call(server, "parse_qs", raw=raw, wrap=wrap) == repr(
        {"a": ["\u00e9", "2"], "b": ["\u00e9 x"], "c": ["\ufffd\ufffd"]}
    )
    # a raw byte and an escape together make one UTF-8 character
    assert call(server, "parse_qsl", raw=b"x=\xc3%A9", wrap=wrap) == repr([("x", "\u00e9")])
    assert call(server, "parse_qsl", raw=b"a=1&b\xff", wrap=wrap, strict_parsing=1) == (
        "ValueError: bad query field: b'b\\xff'"
    )


def test_empty_query_under_strict_parsing_follows_urllib(server, apache_python):
    # urllib.parse of 3.11+ sees no field in '', 3.9 and 3.10 one empty field
    new = apache_python >= (3, 11)
    error = "ValueError: bad query field: ''"
    assert call(server, "parse_qsl", "", 0, 1) == ("[]" if new else error)
    assert call(server, "parse_qs", None, 0, 1) == ("{}" if new else error)
    assert call(server, "parse_qsl", raw=b"", strict_parsing=1) == (
        "[]" if new else "ValueError: bad query field: b''"
    )


def get_raw(server, path_and_query: str) -> Tuple[int, Any]:
    """GET with the query exactly as given: (status, JSON body).  requests (urllib3)
    would re-quote a query with an invalid escape such as %ZZ."""
    conn = http.client.HTTPConnection(urllib.parse.urlsplit(server.url).netloc, timeout=30)
    try:
        conn.request("GET", path_and_query)
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    assert resp.status == 200, body
    return resp.status, json.loads(body)


LONG = "&".join(f"f{i}=v%20{i}+%E2%82%AC" for i in range(200))

HTTP_QUERIES = [
    ("a=1&b=2&a=3", {"a": ["1", "3"], "b": ["2"]}),
    (
        "name=John+Smith&city=S%C3%A3o+Paulo&empty=&flag",
        {"name": ["John Smith"], "city": ["S\u00e3o Paulo"]},
    ),
    (
        "q=%E2%82%AC%2B1&q=50%25&x=%ZZ&y=%C3",
        {"q": ["\u20ac+1", "50%"], "x": ["%ZZ"], "y": ["\ufffd"]},
    ),
    ("k=v;w=z&semi=%3B", {"k": ["v;w=z"], "semi": [";"]}),
    ("&&a=1&&", {"a": ["1"]}),
    (LONG, {f"f{i}": [f"v {i} \u20ac"] for i in range(200)}),
]


@pytest.mark.parametrize(("query", "expected"), HTTP_QUERIES, ids=range(len(HTTP_QUERIES)))
def test_req_args_over_http(server, query, expected):
    status, got = get_raw(server, "/app/args?" + query)
    assert status == 200
    assert got["args"] == query
    assert got["c"] == repr(expected)
    assert got["c"] == got["urllib"]
    # and the same as urllib.parse of the Python running these tests
    assert got["qsl"] == repr(urllib.parse.parse_qsl(query, keep_blank_values=True))


def test_no_query_string_is_none(server):
    status, got = get_raw(server, "/app/args")
    assert status == 200
    assert got == {"args": None, "c": "{}", "urllib": "{}", "qsl": "[]"}


def test_no_reference_leaks(server):
    r = server.get("/app/leak", timeout=300)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["calls"] == 5000 * 17
    # one leaked str per call would be megabytes
    assert report["growth"] < 64 * 1024, report
