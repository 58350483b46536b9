"""Arbitrary header text never makes parsing fail with anything but
CookieError, and whatever is parsed renders back to what was received."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mod_python import Cookie
from mod_python.Cookie import CookieError, MarshalCookie, SignedCookie

SECRET = "fuzz"
FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# pieces that steer the text towards the interesting corners of the grammar
FRAGMENTS = st.sampled_from(
    [
        ";",
        "; ",
        "=",
        '"',
        ",",
        " ",
        "\t",
        "\\",
        "$",
        "$Version=1",
        "$Path=/",
        "path",
        "Path=/x",
        "domain=.example.org",
        "Domain=..",
        "expires=Sat, 14-Jun-2003 02:42:36 GMT",
        "expires=Sat, 31-Feb-2003 02:42:36 GMT",
        "max-age=-5",
        "max-age=x",
        'version="1"',
        'port="80,81"',
        "port=99999",
        "secure",
        "HttpOnly",
        "samesite=NONE",
        "samesite=strict",
        'commenturl="u"',
        "discard",
        "__Host-x=1",
        "__Secure-y=2",
        "s256:",
        "m256:",
        "0" * 64,
        "0123456789abcdef" * 2,
        "a",
        "a=1",
        "é",
        "\x00",
        "\x7f",
    ]
)
HEADERS = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(FRAGMENTS, st.text(max_size=5)), max_size=30).map("".join),
)


def check(cookies, attributes):
    assert isinstance(cookies, dict)
    for name, cookie in cookies.items():
        assert isinstance(cookie, Cookie.Cookie)
        assert cookie.name == name
        try:
            text = str(cookie)
        except CookieError:
            # only an attribute (SameSite=None without Secure) makes a cookie unsendable
            assert attributes
            continue
        if type(cookie) is Cookie.Cookie and not attributes:
            assert text == f"{name}={cookie.value}"
            assert Cookie.Cookie.parse(text, attributes=False)[name].value == cookie.value


@FUZZ
@given(HEADERS, st.booleans())
def test_parse_never_raises(header, attributes):
    try:
        cookies = Cookie.Cookie.parse(header, attributes=attributes)
    except CookieError:
        return
    check(cookies, attributes)


@FUZZ
@given(HEADERS, st.sampled_from([SignedCookie, MarshalCookie]), st.booleans(), st.booleans())
def test_get_cookies_signed_never_raises(header, cls, legacy_md5, attributes):
    class Request:
        headers_in = {"Cookie": header}

    try:
        cookies = Cookie.get_cookies(
            Request, cls, secret=SECRET, legacy_md5=legacy_md5, attributes=attributes
        )
    except CookieError:
        return
    check(cookies, attributes)
    for cookie in cookies.values():
        # nothing random verifies
        assert type(cookie) is Cookie.Cookie


@FUZZ
@given(st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.text(max_size=80))
def test_tampered_payloads_never_verify(name, payload):
    good = str(MarshalCookie(name, payload, SECRET))
    tag, signature, wire_payload = good.split("=", 1)[1].split(":", 2)
    for forged in (f"{tag}:{signature}:{wire_payload}A", f"{tag}:{'f' * 64}:{wire_payload}"):
        try:
            cookies = MarshalCookie.parse(f"{name}={forged}", SECRET)
        except CookieError:
            continue
        assert all(type(c) is Cookie.Cookie for c in cookies.values())
    assert MarshalCookie.parse(good, SECRET)[name].value == payload
