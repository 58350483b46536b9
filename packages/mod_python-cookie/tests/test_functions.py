"""add_cookie(), get_cookies(), get_cookie() (manual 4.7.2) with the header
containers they accept outside Apache, and the examples of 4.7.3."""

from __future__ import annotations

import time
import wsgiref.headers
import wsgiref.util
from types import SimpleNamespace
from typing import Any, List, Tuple

import pytest

from mod_python import Cookie
from mod_python.Cookie import CookieError, MarshalCookie, SignedCookie

SECRET = "secret007"
NO_CACHE = 'no-cache="set-cookie"'


class Table:
    """Just the interface of an Apache table add_cookie() relies on:
    add(), case-insensitive item access, items() with repeated keys."""

    def __init__(self, *pairs: Tuple[str, str]) -> None:
        self.pairs: List[Tuple[str, str]] = list(pairs)

    def add(self, key: str, value: str) -> None:
        self.pairs.append((key, value))

    def items(self) -> List[Tuple[str, str]]:
        return list(self.pairs)

    def keys(self) -> List[str]:
        return [k for k, _ in self.pairs]

    def __contains__(self, key: str) -> bool:
        return any(k.lower() == key.lower() for k, _ in self.pairs)

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self.pairs = [(k, v) for k, v in self.pairs if k.lower() != key.lower()]

    def __setitem__(self, key: str, value: str) -> None:
        if key in self:
            del self[key]
        self.pairs.append((key, value))

    def getall(self, key: str) -> List[str]:
        return [v for k, v in self.pairs if k.lower() == key.lower()]


class Request:
    def __init__(self, headers_in: Any = None, headers_out: Any = None) -> None:
        self.headers_in = {} if headers_in is None else headers_in
        self.headers_out = Table() if headers_out is None else headers_out


# ---------------------------------------------------------------- add_cookie


def test_add_cookie_object():
    req = Request()
    Cookie.add_cookie(req, Cookie.Cookie("spam", "eggs", path="/"))
    assert req.headers_out.pairs == [
        ("Set-Cookie", "spam=eggs; Path=/"),
        ("Cache-Control", NO_CACHE),
    ]


def test_add_cookie_by_name_with_attributes():
    req = Request()
    Cookie.add_cookie(req, "spam", "eggs", expires=0, httponly=True)
    assert req.headers_out.getall("Set-Cookie") == [
        "spam=eggs; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly"
    ]


def test_add_cookie_by_name_default_value_is_empty():
    req = Request()
    Cookie.add_cookie(req, "spam")
    assert req.headers_out.getall("Set-Cookie") == ["spam="]


def test_add_several_cookies_and_one_cache_control():
    req = Request()
    Cookie.add_cookie(req, "a", "1")
    Cookie.add_cookie(req, SignedCookie("b", "2", SECRET))
    Cookie.add_cookie(req, MarshalCookie("c", [3], SECRET))
    cookies = req.headers_out.getall("Set-Cookie")
    assert [c.split("=")[0] for c in cookies] == ["a", "b", "c"]
    assert req.headers_out.getall("Cache-Control") == [NO_CACHE]


@pytest.mark.parametrize(
    ("existing", "result"),
    [
        ("private", f"private, {NO_CACHE}"),
        ("max-age=0, must-revalidate", f"max-age=0, must-revalidate, {NO_CACHE}"),
        ("no-cache", "no-cache"),
        ("private, NO-STORE", "private, NO-STORE"),
        ('no-cache="Set-Cookie"', 'no-cache="Set-Cookie"'),
        ('no-cache="set-cookie, x-other"', 'no-cache="set-cookie, x-other"'),
        ('no-cache="set-cookie2"', f'no-cache="set-cookie2", {NO_CACHE}'),
        ('no-cache="x-set-cookie-id"', f'no-cache="x-set-cookie-id", {NO_CACHE}'),
        ("no-store-ish", f"no-store-ish, {NO_CACHE}"),
    ],
)
def test_add_cookie_keeps_an_existing_cache_control(existing, result):
    req = Request(headers_out=Table(("cache-control", existing)))
    Cookie.add_cookie(req, "a", "1")
    assert req.headers_out.getall("Cache-Control") == [result]


def test_add_cookie_merges_repeated_cache_control_headers():
    req = Request(headers_out=Table(("Cache-Control", "private"), ("Cache-Control", "max-age=5")))
    Cookie.add_cookie(req, "a", "1")
    assert req.headers_out.getall("Cache-Control") == [f"private, max-age=5, {NO_CACHE}"]


def test_add_cookie_to_a_dict():
    headers: dict = {}
    req = Request(headers_out=headers)
    Cookie.add_cookie(req, "a", "1")
    Cookie.add_cookie(req, "b", "2")
    assert headers == {"Set-Cookie": ["a=1", "b=2"], "Cache-Control": NO_CACHE}


def test_add_cookie_to_a_dict_with_a_set_cookie_string_and_other_case():
    headers = {"set-cookie": "x=0", "cache-control": "private"}
    Cookie.add_cookie(Request(headers_out=headers), "a", "1")
    assert headers == {"set-cookie": ["x=0", "a=1"], "Cache-Control": f"private, {NO_CACHE}"}


def test_add_cookie_to_a_wsgi_header_list():
    headers = [("Content-Type", "text/plain"), ("cache-control", "public")]
    Cookie.add_cookie(Request(headers_out=headers), "a", "1")
    Cookie.add_cookie(Request(headers_out=headers), "b", "2")
    assert headers == [
        ("Content-Type", "text/plain"),
        ("Set-Cookie", "a=1"),
        ("Cache-Control", f"public, {NO_CACHE}"),
        ("Set-Cookie", "b=2"),
    ]


def test_add_cookie_to_wsgiref_headers():
    headers = wsgiref.headers.Headers([("Cache-Control", "private")])
    Cookie.add_cookie(Request(headers_out=headers), "a", "1")
    Cookie.add_cookie(Request(headers_out=headers), "b", "2")
    assert headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert headers.get_all("Cache-Control") == [f"private, {NO_CACHE}"]


@pytest.mark.parametrize("headers_out", [(), "Set-Cookie", 1, frozenset()])
def test_add_cookie_to_unsupported_headers(headers_out):
    with pytest.raises(TypeError, match="headers_out"):
        Cookie.add_cookie(Request(headers_out=headers_out), "a", "1")


def test_add_cookie_object_with_value_or_attributes_is_an_error():
    req = Request()
    with pytest.raises(CookieError):
        Cookie.add_cookie(req, Cookie.Cookie("a", "1"), "2")
    with pytest.raises(CookieError):
        Cookie.add_cookie(req, Cookie.Cookie("a", "1"), path="/")
    with pytest.raises(CookieError):
        Cookie.add_cookie(req, 42, "1")
    assert req.headers_out.pairs == []


@pytest.mark.parametrize(
    ("args", "kw"),
    [
        (("a b", "1"), {}),
        (("a", "1 2"), {}),
        (("a", "1"), {"samesite": "None"}),
        (("a", "1"), {"path": "x"}),
        (("a", "1"), {"flavour": "x"}),
    ],
)
def test_add_invalid_cookie_adds_nothing(args, kw):
    req = Request()
    with pytest.raises(CookieError):
        Cookie.add_cookie(req, *args, **kw)
    assert req.headers_out.pairs == []


def test_add_cookie_checks_the_secure_prefix():
    req = Request()
    with pytest.raises(CookieError, match="__Secure-"):
        Cookie.add_cookie(req, "__Secure-id", "1")
    Cookie.add_cookie(req, "__secure-id", "1", secure=True)
    assert req.headers_out.getall("Set-Cookie") == ["__secure-id=1; Secure"]


@pytest.mark.parametrize(
    "attributes",
    [
        {},
        {"secure": True},
        {"path": "/"},
        {"secure": True, "path": "/app"},
        {"secure": True, "path": "/", "domain": "example.org"},
    ],
)
def test_add_cookie_checks_the_host_prefix(attributes):
    req = Request()
    with pytest.raises(CookieError, match="__Host-"):
        Cookie.add_cookie(req, "__Host-id", "1", **attributes)
    with pytest.raises(CookieError, match="__Host-"):
        Cookie.add_cookie(req, SignedCookie("__HOST-id", "1", SECRET, **attributes))
    assert req.headers_out.pairs == []


def test_add_cookie_host_prefix_accepted():
    req = Request()
    Cookie.add_cookie(req, "__Host-id", "1", secure=True, path="/")
    assert req.headers_out.getall("Set-Cookie") == ["__Host-id=1; Path=/; Secure"]


# ---------------------------------------------------------------- get_cookies / get_cookie


def test_get_cookies_from_a_table():
    req = Request(headers_in=Table(("Host", "x"), ("cookie", "a=1; b=2")))
    cookies = Cookie.get_cookies(req)
    assert {name: c.value for name, c in cookies.items()} == {"a": "1", "b": "2"}


def test_get_cookies_joins_repeated_cookie_headers():
    req = Request(headers_in=Table(("Cookie", "a=1"), ("COOKIE", "b=2; a=3")))
    cookies = Cookie.get_cookies(req)
    assert {name: c.value for name, c in cookies.items()} == {"a": "1", "b": "2"}


@pytest.mark.parametrize(
    "headers_in",
    [
        {"Cookie": "a=1; b=2"},
        {"cookie": "a=1; b=2"},
        {"Cookie": ["a=1", "b=2"]},
        [("Cookie", "a=1"), ("cookie", "b=2")],
        wsgiref.headers.Headers([("Cookie", "a=1; b=2")]),
    ],
    ids=["dict", "lower-case key", "list value", "pairs", "wsgiref"],
)
def test_get_cookies_from_other_containers(headers_in):
    cookies = Cookie.get_cookies(Request(headers_in=headers_in))
    assert {name: c.value for name, c in cookies.items()} == {"a": "1", "b": "2"}


def test_get_cookies_without_a_cookie_header():
    assert Cookie.get_cookies(Request(headers_in={"Host": "x"})) == {}
    assert Cookie.get_cookie(Request(headers_in={}), "a") is None


def test_get_cookies_reads_no_attributes():
    # a Cookie request header has cookies only: one called "path" is a cookie
    req = Request(headers_in={"Cookie": "a=1; path=/x; Secure=yes"})
    cookies = Cookie.get_cookies(req)
    assert set(cookies) == {"a", "path", "Secure"}
    assert cookies["a"].path is None and not cookies["a"].secure
    assert Cookie.get_cookie(req, "path").value == "/x"
    # unless asked to
    assert set(Cookie.get_cookies(req, attributes=True)) == {"a"}


def test_get_cookies_signed():
    header = f"sid={str(SignedCookie('sid', 'abc', SECRET)).split('=', 1)[1]}; plain=1"
    req = Request(headers_in={"Cookie": header})
    cookies = Cookie.get_cookies(req, SignedCookie, secret=SECRET)
    assert type(cookies["sid"]) is SignedCookie and cookies["sid"].value == "abc"
    assert type(cookies["plain"]) is Cookie.Cookie
    assert type(Cookie.get_cookie(req, "sid", SignedCookie, secret="wrong")) is Cookie.Cookie
    assert Cookie.get_cookie(req, "sid", Class=SignedCookie, secret=SECRET).value == "abc"


def test_get_cookies_legacy_md5_is_passed_to_parse():
    import hashlib
    import hmac

    wire = hmac.new(SECRET.encode(), b"sidabc", hashlib.md5).hexdigest() + "abc"
    req = Request(headers_in={"Cookie": f"sid={wire}"})
    assert type(Cookie.get_cookie(req, "sid", SignedCookie, secret=SECRET)) is Cookie.Cookie
    cookie = Cookie.get_cookie(req, "sid", SignedCookie, secret=SECRET, legacy_md5=True)
    assert type(cookie) is SignedCookie and cookie.value == "abc"


def test_get_cookies_with_a_class_of_its_own():
    class Jar:
        calls: list = []

        @classmethod
        def parse(cls, string, **data):
            cls.calls.append((string, data))
            return {"x": string}

    req = Request(headers_in={"Cookie": "a=1"})
    assert Cookie.get_cookie(req, "x", Jar, flavour="ginger") == "a=1"
    assert Jar.calls == [("a=1", {"flavour": "ginger"})]


# ---------------------------------------------------------------- manual 4.7.3, in Python 3


class Handler:
    """Runs the manual's example handlers against a Request."""

    def __init__(self, req: Request) -> None:
        self.req = req
        self.body: List[str] = []
        req.write = self.body.append  # type: ignore[attr-defined]


def example_simple(req):
    cookie = Cookie.Cookie("eggs", "spam")
    cookie.expires = time.time() + 300
    Cookie.add_cookie(req, cookie)
    req.write("This response contains a cookie!\n")


def example_marshal(req):
    cookies = Cookie.get_cookies(req, Cookie.MarshalCookie, secret="secret007")
    if "spam" in cookies:
        spamcookie = cookies["spam"]
        req.write(f"Great, a spam cookie was found: {spamcookie}\n")
        if type(spamcookie) is Cookie.MarshalCookie:
            req.write(f"Here is what it looks like decoded: {spamcookie.name}={spamcookie.value}\n")
        else:
            req.write(
                "WARNING: The cookie found is not a MarshalCookie, it may have been tampered with!"
            )
    else:
        value = {"egg_count": 32, "color": "white"}
        Cookie.add_cookie(req, Cookie.MarshalCookie("spam", value, "secret007"))
        req.write("Spam cookie not found, but we just set one!\n")


def test_manual_example_simple_cookie():
    req = Request()
    handler = Handler(req)
    example_simple(req)
    (set_cookie,) = req.headers_out.getall("Set-Cookie")
    cookie = Cookie.Cookie.parse(set_cookie)["eggs"]
    assert cookie.value == "spam"
    assert cookie.expires.endswith(" GMT")
    assert handler.body == ["This response contains a cookie!\n"]


def test_manual_example_marshal_cookie():
    first = Request()
    Handler(first)
    example_marshal(first)
    (set_cookie,) = first.headers_out.getall("Set-Cookie")

    second = Request(headers_in={"Cookie": set_cookie})
    handler = Handler(second)
    example_marshal(second)
    assert handler.body[1] == (
        "Here is what it looks like decoded: spam={'egg_count': 32, 'color': 'white'}\n"
    )

    tampered = set_cookie.replace("m256:", "m256:0", 1)[:-1]
    third = Request(headers_in={"Cookie": tampered})
    handler = Handler(third)
    example_marshal(third)
    assert handler.body[1].startswith("WARNING")


# ---------------------------------------------------------------- outside Apache (docs)

DOC_SECRET = "a long random string"


def application(environ, start_response):
    # the WSGI example of docs/api-cookie.rst
    headers = [("Content-Type", "text/plain; charset=utf-8")]
    req = SimpleNamespace(
        headers_in={"Cookie": environ.get("HTTP_COOKIE", "")}, headers_out=headers
    )
    visits = Cookie.get_cookie(req, "visits", Cookie.MarshalCookie, secret=DOC_SECRET)
    count = visits.value + 1 if type(visits) is Cookie.MarshalCookie else 1
    Cookie.add_cookie(
        req,
        Cookie.MarshalCookie("visits", count, DOC_SECRET, path="/", httponly=True, samesite="Lax"),
    )
    start_response("200 OK", headers)
    return [f"visit number {count}\n".encode()]


def run_wsgi(cookie_header=None):
    environ: dict = {}
    wsgiref.util.setup_testing_defaults(environ)
    if cookie_header is not None:
        environ["HTTP_COOKIE"] = cookie_header
    started = []
    body = b"".join(application(environ, lambda status, headers: started.append(headers)))
    (headers,) = started
    set_cookie = [v for k, v in headers if k == "Set-Cookie"]
    return body, set_cookie, headers


def test_wsgi_example():
    body, (set_cookie,), headers = run_wsgi()
    assert body == b"visit number 1\n"
    assert ("Cache-Control", NO_CACHE) in headers
    assert set_cookie.endswith("; Path=/; HttpOnly; SameSite=Lax")
    crumb = set_cookie.split(";")[0]
    body, (set_cookie,), _ = run_wsgi(f"other=x; {crumb}")
    assert body == b"visit number 2\n"
    body, (set_cookie,), _ = run_wsgi(set_cookie.split(";")[0])
    assert body == b"visit number 3\n"
    forged = crumb.replace("m256:", "m256:f", 1)
    body, _, _ = run_wsgi(forged)
    assert body == b"visit number 1\n"
