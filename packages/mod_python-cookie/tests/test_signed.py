"""SignedCookie and MarshalCookie (manual 4.7.1): the wire format, round trips,
tampering, the verify-only HMAC-MD5 migration path of 3.3 cookies, and the
plain-data rule that keeps marshal from loading anything else."""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import marshal
import re
import struct

import pytest

from mod_python import Cookie
from mod_python.Cookie import CookieError, MarshalCookie, SignedCookie

SECRET = "secret007"
WIRE = re.compile(r"(s256|m256):([0-9a-f]{64}):(.*)")


def sign(tag: str, name: str, payload: str, secret: str = SECRET) -> str:
    """The documented wire format, computed independently of the module."""
    message = f"{tag}:{name}={payload}".encode()
    return f"{tag}:{hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()}:{payload}"


def sign_33(name: str, value: str, secret: str = SECRET) -> str:
    """What mod_python 3.3 sent: HMAC-MD5(name + value) in hex, then the value."""
    return hmac.new(secret.encode(), (name + value).encode(), hashlib.md5).hexdigest() + value


def marshal_payload(value: object) -> str:
    return base64.urlsafe_b64encode(marshal.dumps(value)).decode()


def wire_value(cookie: Cookie.Cookie) -> str:
    return str(cookie).split(";")[0].split("=", 1)[1]


# ---------------------------------------------------------------- SignedCookie


def test_signed_wire_format():
    cookie = SignedCookie("sid", "abc123", SECRET, path="/")
    assert str(cookie) == f"sid={sign('s256', 'sid', 'abc123')}; Path=/"
    assert WIRE.fullmatch(wire_value(cookie)).group(1) == "s256"
    assert cookie.value == "abc123"


def test_signed_round_trip():
    sent = SignedCookie("sid", "abc123", SECRET)
    received = SignedCookie.parse(f"other=1; {sent}", SECRET)
    assert type(received["sid"]) is SignedCookie
    assert received["sid"].value == "abc123"
    assert type(received["other"]) is Cookie.Cookie
    # a parsed cookie keeps its secret and can be sent again
    assert str(received["sid"]) == str(sent)


def test_signed_round_trip_with_bytes_secret_and_empty_value():
    sent = SignedCookie("e", "", SECRET.encode())
    received = SignedCookie.parse(str(sent), SECRET)["e"]
    assert type(received) is SignedCookie and received.value == ""


def test_signed_parse_attributes():
    header = f"{SignedCookie('sid', 'x', SECRET)}; Path=/app; HttpOnly"
    cookie = SignedCookie.parse(header, SECRET)["sid"]
    assert type(cookie) is SignedCookie and cookie.path == "/app" and cookie.httponly


@pytest.mark.parametrize(
    "tamper",
    [
        lambda w: w[:-1] + "4",  # value changed
        lambda w: w.replace("abc123", "abc1234"),  # value extended
        lambda w: w[:5] + ("0" if w[5] != "0" else "1") + w[6:],  # signature changed
        lambda w: w[:5] + w[5:69].upper() + w[69:],  # signature in upper case
        lambda w: w[:68] + w[69:],  # separator removed
        lambda w: w[:40],  # truncated
        lambda w: "abc123",  # unsigned
        lambda w: "",  # empty
        lambda w: "s256:",  # tag only
        lambda w: "m256:" + w[5:],  # other kind
    ],
)
def test_tampered_signed_cookie_is_a_plain_cookie(tamper):
    wire = tamper(wire_value(SignedCookie("sid", "abc123", SECRET)))
    cookie = SignedCookie.parse(f"sid={wire}", SECRET)["sid"]
    assert type(cookie) is Cookie.Cookie
    assert cookie.value == wire


def test_wrong_secret_gives_a_plain_cookie():
    header = str(SignedCookie("sid", "abc123", SECRET))
    cookie = SignedCookie.parse(header, "another secret")["sid"]
    assert type(cookie) is Cookie.Cookie
    assert cookie.value == wire_value(SignedCookie("sid", "abc123", SECRET))


def test_signature_is_bound_to_the_name():
    wire = wire_value(SignedCookie("admin_id", "7", SECRET))
    assert type(SignedCookie.parse(f"user_id={wire}", SECRET)["user_id"]) is Cookie.Cookie
    assert type(SignedCookie.parse(f"admin_id={wire}", SECRET)["admin_id"]) is SignedCookie


def test_signature_covers_a_renamed_cookie():
    cookie = SignedCookie("a", "v", SECRET)
    cookie.name = "b"
    cookie.value = "w"
    assert wire_value(cookie) == sign("s256", "b", "w")


def test_signed_values_look_nothing_like_3_3_values():
    # a value that itself starts with 32 hex digits cannot pass as a 3.3 cookie
    value = "0123456789abcdef0123456789abcdef" + "x"
    cookie = SignedCookie.parse(str(SignedCookie("a", value, SECRET)), SECRET, legacy_md5=True)
    assert type(cookie["a"]) is SignedCookie and cookie["a"].value == value


@pytest.mark.parametrize("value", ['"quoted"', "a b", "a;b", "é", 1, None])
def test_invalid_signed_values(value):
    with pytest.raises(CookieError):
        SignedCookie("a", value, SECRET)


@pytest.mark.parametrize("secret", ["", b"", None, 1])
def test_secret_must_be_non_empty_text_or_bytes(secret):
    with pytest.raises(CookieError, match="secret"):
        SignedCookie("a", "b", secret)
    with pytest.raises(CookieError, match="secret"):
        SignedCookie.parse("a=b", secret)
    with pytest.raises(CookieError, match="secret"):
        MarshalCookie.parse("a=b", secret)


def test_signed_repr_hides_the_secret():
    text = repr(SignedCookie("a", "b", SECRET, secure=True))
    assert SECRET not in text
    assert text == "SignedCookie('a', 'b', secret=<hidden>, secure=True)"


def test_signatures_are_compared_in_constant_time(monkeypatch):
    calls = []
    original = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(Cookie.hmac, "compare_digest", spy)
    good = str(SignedCookie("a", "1", SECRET))
    assert type(SignedCookie.parse(good, SECRET)["a"]) is SignedCookie
    assert type(SignedCookie.parse(good, "wrong")["a"]) is Cookie.Cookie
    assert type(SignedCookie.parse(f"a={sign_33('a', '1')}", SECRET, legacy_md5=True)["a"]) is (
        SignedCookie
    )
    assert len(calls) == 3


def test_unsign():
    wire = wire_value(SignedCookie("sid", "abc", SECRET))
    plain = SignedCookie.parse(f"sid={wire}", "not the secret")["sid"]
    cookie = SignedCookie(plain.name, plain.value, "not the secret")
    cookie.unsign(SECRET)
    assert cookie.value == "abc"
    assert str(cookie) == f"sid={wire}"


def test_unsign_refuses_a_bad_signature_and_changes_nothing():
    wire = wire_value(SignedCookie("sid", "abc", SECRET))
    cookie = SignedCookie("sid", wire, "other")
    with pytest.raises(CookieError, match="not correctly signed"):
        cookie.unsign("wrong")
    assert cookie.value == wire
    with pytest.raises(CookieError):
        SignedCookie("sid", sign_33("sid", "abc"), SECRET).unsign(SECRET)


def test_unsign_3_3_value_with_legacy_md5():
    cookie = SignedCookie("sid", sign_33("sid", "abc"), "x")
    cookie.unsign(SECRET, legacy_md5=True)
    assert cookie.value == "abc"
    assert wire_value(cookie) == sign("s256", "sid", "abc")


# ---------------------------------------------------------------- 3.3 (HMAC-MD5) cookies


def test_3_3_signed_cookie_needs_the_opt_in():
    header = f"sid={sign_33('sid', 'abc123')}"
    cookie = SignedCookie.parse(header, SECRET)["sid"]
    assert type(cookie) is Cookie.Cookie
    assert cookie.value == sign_33("sid", "abc123")


def test_3_3_signed_cookie_verified_with_legacy_md5_and_upgraded_when_sent():
    header = f"sid={sign_33('sid', 'abc123')}; Path=/"
    cookie = SignedCookie.parse(header, SECRET, legacy_md5=True)["sid"]
    assert type(cookie) is SignedCookie
    assert cookie.value == "abc123" and cookie.path == "/"
    # never written back in the 3.3 format
    assert str(cookie) == f"sid={sign('s256', 'sid', 'abc123')}; Path=/"


@pytest.mark.parametrize(
    "wire",
    [
        sign_33("sid", "abc123", "wrong secret"),
        sign_33("other", "abc123"),
        sign_33("sid", "abc123")[:-1] + "4",
        sign_33("sid", "abc123").upper(),
        sign_33("sid", "abc123")[:31],
        "0" * 32 + "abc123",
    ],
)
def test_bad_3_3_signatures_fail_even_with_legacy_md5(wire):
    cookie = SignedCookie.parse(f"sid={wire}", SECRET, legacy_md5=True)["sid"]
    assert type(cookie) is Cookie.Cookie and cookie.value == wire


def test_nothing_creates_md5_signatures():
    for cookie in (
        SignedCookie("a", "1", SECRET),
        MarshalCookie("a", [1], SECRET),
        SignedCookie.parse(f"a={sign_33('a', '1')}", SECRET, legacy_md5=True)["a"],
    ):
        match = WIRE.fullmatch(wire_value(cookie))
        assert match is not None
        assert wire_value(cookie) == sign(match.group(1), "a", match.group(3))


def py2_marshal_dict() -> bytes:
    """marshal.dumps({'egg_count': 32, 'color': 'white'}) as Python 2 wrote it
    (interned str 't' keys, a plain str 's' value), for 3.3 MarshalCookies."""

    def string(code: bytes, text: bytes) -> bytes:
        return code + struct.pack("<i", len(text)) + text

    return (
        b"{"
        + string(b"t", b"egg_count")
        + b"i"
        + struct.pack("<i", 32)
        + string(b"t", b"color")
        + string(b"s", b"white")
        + b"0"
    )


def test_3_3_marshal_cookie_with_legacy_md5():
    payload = base64.b64encode(py2_marshal_dict()).decode()
    header = f"spam={sign_33('spam', payload)}"
    assert type(MarshalCookie.parse(header, SECRET)["spam"]) is Cookie.Cookie
    cookie = MarshalCookie.parse(header, SECRET, legacy_md5=True)["spam"]
    assert type(cookie) is MarshalCookie
    # Python 2's str arrives as bytes unless it was interned
    assert cookie.value == {"egg_count": 32, "color": b"white"}
    assert WIRE.fullmatch(wire_value(cookie)).group(1) == "m256"


# marshal.dumps({'egg_count': 32, 'color': 'white'}) by Python 2.7.18, all
# three strings interned (literals in the source)
PY2_INTERNED = (
    b"{t\x05\x00\x00\x00colort\x05\x00\x00\x00whitet\t\x00\x00\x00egg_counti \x00\x00\x000"
)


def test_3_3_marshal_cookie_from_python_2_literals():
    payload = base64.b64encode(PY2_INTERNED).decode()
    header = f"spam={sign_33('spam', payload)}"
    cookie = MarshalCookie.parse(header, SECRET, legacy_md5=True)["spam"]
    assert type(cookie) is MarshalCookie
    assert cookie.value == {"egg_count": 32, "color": "white"}


def test_3_3_marshal_cookie_holding_code_is_rejected():
    payload = base64.b64encode(marshal.dumps(compile("1", "x", "eval"))).decode()
    header = f"spam={sign_33('spam', payload)}"
    cookie = MarshalCookie.parse(header, SECRET, legacy_md5=True)["spam"]
    assert type(cookie) is Cookie.Cookie


# ---------------------------------------------------------------- MarshalCookie

PLAIN_VALUES = [
    None,
    True,
    False,
    0,
    -1,
    2**100,
    1.5,
    float("inf"),
    1 + 2j,
    "",
    'text with spaces; semicolons, "quotes" and é',
    b"\x00\xffbytes",
    (),
    (1, "two", (3.0,)),
    [],
    [1, [2, [3]]],
    {},
    {"egg_count": 32, "color": "white"},
    {1: (2, b"3"), (4, 5): None, frozenset({6}): [7]},
    set(),
    {1, "a", (2, 3)},
    frozenset({b"x", None}),
]


@pytest.mark.parametrize("value", PLAIN_VALUES, ids=repr)
def test_marshal_round_trip(value):
    sent = MarshalCookie("spam", value, SECRET, max_age=60)
    assert WIRE.fullmatch(wire_value(sent)).group(1) == "m256"
    received = MarshalCookie.parse(str(sent), SECRET)["spam"]
    assert type(received) is MarshalCookie
    assert received.value == value
    assert type(received.value) is type(value)
    assert received.max_age == 60


def test_marshal_wire_format():
    value = {"egg_count": 32, "color": "white"}
    cookie = MarshalCookie("spam", value, SECRET)
    assert wire_value(cookie) == sign("m256", "spam", marshal_payload(value))


def test_marshal_self_containing_list_round_trip():
    value: list = [1]
    value.append(value)
    received = MarshalCookie.parse(str(MarshalCookie("r", value, SECRET)), SECRET)["r"]
    assert received.value[0] == 1 and received.value[1] is received.value


class Colour(enum.IntEnum):
    RED = 1


NOT_PLAIN = [
    compile("1", "x", "eval"),
    Ellipsis,
    StopIteration,
    bytearray(b"x"),
    memoryview(b"x"),
    Colour.RED,
    object(),
    [1, compile("1", "x", "eval")],
    {"k": (1, object())},
    {compile("1", "x", "eval"): 1},
    frozenset({Ellipsis}),
]


@pytest.mark.parametrize("value", NOT_PLAIN, ids=lambda v: type(v).__name__)
def test_marshal_refuses_other_types(value):
    with pytest.raises(CookieError, match="MarshalCookie holds only"):
        MarshalCookie("spam", value, SECRET)


def test_marshal_checks_again_when_sent():
    value = [1]
    cookie = MarshalCookie("spam", value, SECRET)
    value.append(compile("1", "x", "eval"))
    with pytest.raises(CookieError, match="not code"):
        str(cookie)


@pytest.mark.parametrize(
    "value",
    [
        compile("import os", "x", "exec"),
        [1, compile("1", "x", "eval")],
        {"a": {compile("1", "x", "eval"): 1}},
        Ellipsis,
        StopIteration,
    ],
    ids=["code", "code in list", "code as key", "Ellipsis", "StopIteration"],
)
def test_correctly_signed_code_is_rejected(value):
    # the attacker who knows the secret is beyond help, but a leaked or
    # reused secret must still not let marshal hand out code objects
    wire = sign("m256", "spam", marshal_payload(value))
    cookie = MarshalCookie.parse(f"spam={wire}", SECRET)["spam"]
    assert type(cookie) is Cookie.Cookie
    assert cookie.value == wire


@pytest.mark.parametrize(
    "payload",
    ["not-base64!", "YWJj", "", "e30", "__4=", base64.b64encode(b"\xfb\xff").decode()],
    ids=["not base64", "not marshal", "empty", "bad padding", "unknown type", "standard alphabet"],
)
def test_correctly_signed_garbage_is_a_plain_cookie(payload):
    wire = sign("m256", "spam", payload)
    cookie = MarshalCookie.parse(f"spam={wire}", SECRET)["spam"]
    assert type(cookie) is Cookie.Cookie
    assert cookie.value == wire


def test_marshal_loads_only_verified_data(monkeypatch):
    loaded = []
    original = marshal.loads

    def spy(data):
        loaded.append(data)
        return original(data)

    monkeypatch.setattr(Cookie.marshal, "loads", spy)
    good = wire_value(MarshalCookie("spam", [1, 2], SECRET))
    forged = good[:5] + "0" * 64 + good[69:]
    assert type(MarshalCookie.parse(f"spam={forged}", SECRET)["spam"]) is Cookie.Cookie
    assert type(MarshalCookie.parse(f"spam={good}", "wrong")["spam"]) is Cookie.Cookie
    assert loaded == []
    assert MarshalCookie.parse(f"spam={good}", SECRET)["spam"].value == [1, 2]
    assert len(loaded) == 1


def test_signed_and_marshal_cookies_side_by_side():
    # MODPYTHON-200: a signed cookie read as a marshal cookie (or the other
    # way round) comes back as a plain cookie, without an error
    header = f"{SignedCookie('sid', 'abc', SECRET)}; {MarshalCookie('data', [1], SECRET)}"
    as_marshal = MarshalCookie.parse(header, SECRET)
    assert type(as_marshal["sid"]) is Cookie.Cookie
    assert type(as_marshal["data"]) is MarshalCookie
    as_signed = SignedCookie.parse(header, SECRET)
    assert type(as_signed["sid"]) is SignedCookie
    assert type(as_signed["data"]) is Cookie.Cookie


def test_marshal_repr():
    text = repr(MarshalCookie("spam", {"a": 1}, SECRET))
    assert text == "MarshalCookie('spam', {'a': 1}, secret=<hidden>)"


def test_marshal_unsign():
    wire = wire_value(MarshalCookie("spam", {"a": (1, 2)}, SECRET))
    cookie = MarshalCookie("spam", wire, "x")
    cookie.unsign(SECRET)
    assert cookie.value == {"a": (1, 2)}


@pytest.mark.parametrize("value", [["m256:"], "m256:é", "m256:" + "0" * 64 + ":a b", 42])
def test_marshal_unsign_of_a_value_that_is_no_wire_text(value):
    cookie = MarshalCookie("spam", value, SECRET)
    with pytest.raises(CookieError, match="not correctly signed"):
        cookie.unsign(SECRET)
    assert cookie.value == value
