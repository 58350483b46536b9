"""mod_python.Cookie.Cookie (manual 4.7.1): names, values, every attribute,
rendering, and Cookie.parse() with the quirks of real headers."""

from __future__ import annotations

import email.utils
import time

import pytest

from mod_python import Cookie
from mod_python.Cookie import CookieError

# ---------------------------------------------------------------- names and values


@pytest.mark.parametrize("name", ["spam", "a", "A1", "!#$%&'*+-.^_`|~", "a$b", "__Secure"])
def test_valid_names(name):
    assert Cookie.Cookie(name, "v").name == name


@pytest.mark.parametrize(
    "name",
    ["", "a b", "a;b", "a=b", "a,b", 'a"b', "a\tb", "(a)", "a/b", "a:b", "é", "a\x00", "$x"],
)
def test_invalid_names(name):
    with pytest.raises(CookieError):
        Cookie.Cookie(name, "v")


@pytest.mark.parametrize("name", [None, 1, b"spam"])
def test_name_must_be_str(name):
    with pytest.raises(CookieError, match="name must be a str"):
        Cookie.Cookie(name, "v")


def test_reserved_dollar_name_message():
    with pytest.raises(CookieError, match="reserved"):
        Cookie.Cookie("$Version", "1")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "eggs",
        '""',
        '"quoted"',
        "a=b=c",
        "!#$%&'()*+-./0123456789:<=>?@AZ[]^_`az{|}~",
    ],
)
def test_valid_values(value):
    cookie = Cookie.Cookie("n", value)
    assert cookie.value == value
    assert str(cookie) == f"n={value}"


@pytest.mark.parametrize(
    "value",
    ["a b", 'a"b', '"ab', 'ab"', '"a b"', "a,b", "a;b", "a\\b", "\x7f", "é", "a\x00", "a\tb"],
)
def test_invalid_values(value):
    with pytest.raises(CookieError, match="invalid cookie value"):
        Cookie.Cookie("n", value)


@pytest.mark.parametrize("value", [None, 1, b"eggs", ["a"]])
def test_value_must_be_str(value):
    with pytest.raises(CookieError, match="value must be a str"):
        Cookie.Cookie("n", value)


def test_name_and_value_can_be_changed_and_are_checked():
    cookie = Cookie.Cookie("a", "1")
    cookie.name = "b"
    cookie.value = "2"
    assert str(cookie) == "b=2"
    with pytest.raises(CookieError):
        cookie.name = "b c"
    with pytest.raises(CookieError):
        cookie.value = "2 3"
    assert str(cookie) == "b=2"


def test_cookie_error_is_a_value_error():
    # the manual promises ValueError for a bad expires
    assert issubclass(CookieError, ValueError)
    with pytest.raises(ValueError):
        Cookie.Cookie("a", "b", expires="tomorrow")


# ---------------------------------------------------------------- attributes


def test_unset_attributes():
    cookie = Cookie.Cookie("a", "b")
    for attribute in ("version", "path", "domain", "comment", "expires", "max_age", "commentURL"):
        assert getattr(cookie, attribute) is None, attribute
    for attribute in ("port", "samesite"):
        assert getattr(cookie, attribute) is None, attribute
    for flag in ("secure", "httponly", "discard"):
        assert getattr(cookie, flag) is False, flag
    assert str(cookie) == "a=b"


def test_every_attribute_rendered_in_a_fixed_order():
    cookie = Cookie.Cookie(
        "spam",
        "eggs",
        samesite="strict",
        httponly=True,
        secure=True,
        discard=True,
        max_age=300,
        expires=1055558556,
        port=8080,
        path="/app",
        domain="example.org",
        commentURL="http://example.org/why",
        comment="why not",
        version=1,
    )
    assert str(cookie) == (
        'spam=eggs; Version=1; Comment=why not; CommentURL="http://example.org/why"; '
        'Domain=example.org; Path=/app; Port="8080"; Expires=Sat, 14 Jun 2003 02:42:36 GMT; '
        "Max-Age=300; Discard; Secure; HttpOnly; SameSite=Strict"
    )


def test_none_and_del_unset_attributes():
    cookie = Cookie.Cookie("a", "b", path="/", domain="example.org", secure=True)
    cookie.path = None
    del cookie.domain
    cookie.secure = False
    assert cookie.path is None and cookie.domain is None and cookie.secure is False
    assert str(cookie) == "a=b"


def test_unknown_attribute_keyword_is_a_cookie_error():
    with pytest.raises(CookieError, match="unknown cookie attribute 'colour'"):
        Cookie.Cookie("a", "b", colour="red")


def test_unknown_attribute_cannot_be_set():
    cookie = Cookie.Cookie("a", "b")
    with pytest.raises(AttributeError):
        cookie.colour = "red"


def test_data_is_a_private_dict_per_cookie():
    first, second = Cookie.Cookie("a", "b"), Cookie.Cookie("c", "d")
    first.__data__["x"] = 1
    assert second.__data__ == {}
    first.__data__ = {"y": 2}
    assert first.__data__ == {"y": 2}
    assert str(first) == "a=b"


def test_expires_number_is_an_rfc1123_gmt_date():
    for when in (0, 1055558556, 1055558556.9, 253402300799, -11644473600):
        cookie = Cookie.Cookie("a", "b", expires=when)
        expected = email.utils.formatdate(int(when // 1), usegmt=True)
        assert cookie.expires == expected
        assert str(cookie) == f"a=b; Expires={expected}"


def test_expires_in_300_seconds():
    before = int(time.time()) + 300
    cookie = Cookie.Cookie("a", "b")
    cookie.expires = time.time() + 300
    after = int(time.time()) + 300
    when = email.utils.parsedate_to_datetime(cookie.expires).timestamp()
    assert before <= when <= after


@pytest.mark.parametrize(
    "text",
    [
        "Sat, 14-Jun-2003 02:42:36 GMT",
        "Sat, 14 Jun 2003 02:42:36 GMT",
        "Thu, 01 Jan 1970 00:00:00 GMT",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Mon, 29-Feb-2016 12:00:00 GMT",
    ],
)
def test_expires_string_kept_as_is(text):
    cookie = Cookie.Cookie("a", "b", expires=text)
    assert cookie.expires == text
    assert str(cookie) == f"a=b; Expires={text}"


@pytest.mark.parametrize(
    "value",
    [
        "tomorrow",
        "",
        "Sat, 14-Jun-2003 02:42:36",
        "Sat, 14-Jun-2003 02:42:36 UTC",
        "sat, 14-Jun-2003 02:42:36 GMT",
        "Sat, 14 Jun-2003 02:42:36 GMT",
        "Sat, 14-Jun-03 02:42:36 GMT",
        "Sat, 4-Jun-2003 02:42:36 GMT",
        "Xyz, 14-Jun-2003 02:42:36 GMT",
        "Sat, 31-Feb-2003 02:42:36 GMT",
        "Sat, 14-Jun-2003 24:00:00 GMT",
        "Sat, 14-Jun-2003 02:60:00 GMT",
        "Sat, 14-Jun-1600 02:42:36 GMT",
        "Sat, 14-Jun-2003 02:42:36 GMT; Path=/",
        " Sat, 14-Jun-2003 02:42:36 GMT",
        1e20,
        -1e20,
        -11644473601,
        float("nan"),
        float("inf"),
        True,
        [1],
    ],
)
def test_invalid_expires(value):
    cookie = Cookie.Cookie("a", "b")
    with pytest.raises(CookieError):
        cookie.expires = value
    assert cookie.expires is None


@pytest.mark.parametrize(("value", "stored"), [(300, 300), (0, 0), (-1, -1), ("60", 60)])
def test_max_age(value, stored):
    cookie = Cookie.Cookie("a", "b", max_age=value)
    assert cookie.max_age == stored
    assert str(cookie) == f"a=b; Max-Age={stored}"


@pytest.mark.parametrize("value", [1.5, True, "1.5", "soon", "", " 1", "+1"])
def test_invalid_max_age(value):
    with pytest.raises(CookieError):
        Cookie.Cookie("a", "b", max_age=value)


@pytest.mark.parametrize(("value", "stored"), [(1, 1), (0, 0), ("1", 1), ('"1"', 1)])
def test_version(value, stored):
    cookie = Cookie.Cookie("a", "b", version=value)
    assert cookie.version == stored
    assert str(cookie) == f"a=b; Version={stored}"


@pytest.mark.parametrize("value", [-1, "-1", "one", 1.0, False])
def test_invalid_version(value):
    with pytest.raises(CookieError):
        Cookie.Cookie("a", "b", version=value)


@pytest.mark.parametrize("value", ["/", "/app", "/a b/c", "/~user/x=y"])
def test_path(value):
    assert str(Cookie.Cookie("a", "b", path=value)) == f"a=b; Path={value}"


@pytest.mark.parametrize("value", ["", "app", "/a;b", "/a\x00", "/a\nb", "/é", "/\x7f", 1])
def test_invalid_path(value):
    with pytest.raises(CookieError):
        Cookie.Cookie("a", "b", path=value)


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("example.org", "example.org"),
        (".example.org", "example.org"),
        ("Example.ORG", "Example.ORG"),
        ("localhost", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
        ("a-b.x1.example", "a-b.x1.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("a" * 63 + ".org", "a" * 63 + ".org"),
    ],
)
def test_domain(value, stored):
    cookie = Cookie.Cookie("a", "b", domain=value)
    assert cookie.domain == stored
    assert str(cookie) == f"a=b; Domain={stored}"


@pytest.mark.parametrize(
    "value",
    [
        "",
        ".",
        "..example.org",
        "example..org",
        "example.org.",
        "-a.org",
        "a-.org",
        "a_b.org",
        "exa mple.org",
        "bücher.example",
        "a" * 64 + ".org",
        ("a" * 60 + ".") * 5 + "org",
        "example.org;x",
        "[::1]",
        "example.org:80",
        5,
    ],
)
def test_invalid_domain(value):
    with pytest.raises(CookieError):
        Cookie.Cookie("a", "b", domain=value)


@pytest.mark.parametrize("flag", ["secure", "httponly", "discard"])
def test_flags(flag):
    wire = {"secure": "Secure", "httponly": "HttpOnly", "discard": "Discard"}[flag]
    cookie = Cookie.Cookie("a", "b", **{flag: True})
    assert getattr(cookie, flag) is True
    assert str(cookie) == f"a=b; {wire}"
    setattr(cookie, flag, 0)
    assert getattr(cookie, flag) is False
    assert str(cookie) == "a=b"
    setattr(cookie, flag, 1)
    assert getattr(cookie, flag) is True
    with pytest.raises(CookieError):
        setattr(cookie, flag, "false")
    assert getattr(cookie, flag) is True


@pytest.mark.parametrize(
    ("value", "canonical"),
    [("strict", "Strict"), ("LAX", "Lax"), ("Lax", "Lax"), ("nOnE", "None")],
)
def test_samesite_is_canonical(value, canonical):
    cookie = Cookie.Cookie("a", "b", samesite=value, secure=True)
    assert cookie.samesite == canonical
    assert str(cookie) == f"a=b; Secure; SameSite={canonical}"


@pytest.mark.parametrize("value", ["", "lenient", "Strict ", 1, True])
def test_invalid_samesite(value):
    with pytest.raises(CookieError, match="samesite"):
        Cookie.Cookie("a", "b", samesite=value)


def test_samesite_none_requires_secure_when_rendered():
    cookie = Cookie.Cookie("a", "b", samesite="None")
    with pytest.raises(CookieError, match="requires secure"):
        str(cookie)
    cookie.secure = True
    assert str(cookie) == "a=b; Secure; SameSite=None"
    cookie.samesite = None
    assert str(cookie) == "a=b; Secure"


def test_comment():
    cookie = Cookie.Cookie("a", "b", comment="tracks nothing")
    assert str(cookie) == "a=b; Comment=tracks nothing"
    with pytest.raises(CookieError):
        cookie.comment = "x; Path=/"


def test_comment_url_is_quoted():
    cookie = Cookie.Cookie("a", "b", commentURL="http://example.org/c?x=1")
    assert cookie.commentURL == "http://example.org/c?x=1"
    assert str(cookie) == 'a=b; CommentURL="http://example.org/c?x=1"'
    for bad in ('http://x/"', "http://x/;", "http://x/\x01"):
        with pytest.raises(CookieError):
            cookie.commentURL = bad


@pytest.mark.parametrize(("value", "stored"), [(80, "80"), ("80", "80"), ("80,8080", "80,8080")])
def test_port(value, stored):
    cookie = Cookie.Cookie("a", "b", port=value)
    assert cookie.port == stored
    assert str(cookie) == f'a=b; Port="{stored}"'


@pytest.mark.parametrize("value", [0, 65536, "", "80,", "80, 81", "x", "-1", True, 80.0])
def test_invalid_port(value):
    with pytest.raises(CookieError):
        Cookie.Cookie("a", "b", port=value)


def test_prefixed_names_render_without_their_attributes():
    # a received __Host- cookie has no attributes and must still render for
    # a Cookie header; add_cookie() checks the prefixes (test_functions.py)
    assert str(Cookie.Cookie("__Host-id", "1")) == "__Host-id=1"
    assert str(Cookie.Cookie("__Secure-id", "1")) == "__Secure-id=1"


def test_repr():
    cookie = Cookie.Cookie("a", "b", path="/", secure=True)
    assert repr(cookie) == "Cookie('a', 'b', path='/', secure=True)"


# ---------------------------------------------------------------- parse


def test_parse_manual_example():
    mycookies = Cookie.Cookie.parse("spam=eggs; expires=Sat, 14-Jun-2003 02:42:36 GMT")
    spamcookie = mycookies["spam"]
    assert type(spamcookie) is Cookie.Cookie
    assert list(mycookies) == ["spam"]
    assert spamcookie.value == "eggs"
    assert spamcookie.expires == "Sat, 14-Jun-2003 02:42:36 GMT"


def test_parse_request_header():
    cookies = Cookie.Cookie.parse("a=1; b=two; c=")
    assert {name: c.value for name, c in cookies.items()} == {"a": "1", "b": "two", "c": ""}
    assert all(type(c) is Cookie.Cookie for c in cookies.values())
    assert all(c.name == name for name, c in cookies.items())


def test_parse_whitespace_and_empty_pieces():
    cookies = Cookie.Cookie.parse(" ;; a = 1 ;\tb\t=\t2\t;;  ; c=3;")
    assert {name: c.value for name, c in cookies.items()} == {"a": "1", "b": "2", "c": "3"}


def test_parse_empty_header():
    assert Cookie.Cookie.parse("") == {}
    assert Cookie.Cookie.parse(" ; ; ") == {}


def test_parse_keeps_quotes_of_a_quoted_value():
    # RFC 6265 section 5.2: the quotes are part of the value, so the cookie
    # goes back out exactly as it came in
    cookie = Cookie.Cookie.parse('a="x=1"')["a"]
    assert cookie.value == '"x=1"'
    assert str(cookie) == 'a="x=1"'


def test_parse_first_of_repeated_names_wins():
    cookies = Cookie.Cookie.parse("a=first; b=1; a=second; a=third")
    assert cookies["a"].value == "first"
    assert list(cookies) == ["a", "b"]


def test_parse_value_may_contain_equals():
    assert Cookie.Cookie.parse("a=b=c==")["a"].value == "b=c=="


def test_parse_names_are_case_sensitive():
    cookies = Cookie.Cookie.parse("a=1; A=2")
    assert cookies["a"].value == "1" and cookies["A"].value == "2"


def test_parse_attributes_lower_cased_and_attached():
    cookies = Cookie.Cookie.parse(
        "a=1; PATH=/p; Domain=.Example.org; max-AGE=5; SECURE; HttpOnly=yes; "
        'SameSite=strict; Version="1"; Port="80,81"; CommentURL="http://u/"; '
        "COMMENT=hello; Discard; Expires=Sat, 14 Jun 2003 02:42:36 GMT; b=2; path=/q"
    )
    a, b = cookies["a"], cookies["b"]
    assert list(cookies) == ["a", "b"]
    assert (a.path, a.domain, a.max_age) == ("/p", "Example.org", 5)
    assert (a.secure, a.httponly) == (True, True)
    assert (a.samesite, a.version, a.port, a.commentURL) == ("Strict", 1, "80,81", "http://u/")
    assert (a.comment, a.discard, a.expires) == ("hello", True, "Sat, 14 Jun 2003 02:42:36 GMT")
    assert b.path == "/q" and b.domain is None


def test_parse_without_attributes_reads_attribute_names_as_cookies():
    cookies = Cookie.Cookie.parse("a=1; path=/p; secure=yes; Domain=x", attributes=False)
    assert {name: c.value for name, c in cookies.items()} == {
        "a": "1",
        "path": "/p",
        "secure": "yes",
        "Domain": "x",
    }
    assert cookies["a"].path is None


def test_parse_attribute_name_first_is_a_cookie():
    cookies = Cookie.Cookie.parse("path=/x; a=1")
    assert cookies["path"].value == "/x" and cookies["a"].path is None


def test_parse_ignores_dollar_attributes():
    header = (
        '$Version="1"; Customer="WILE_E_COYOTE"; $Path="/acme"; '
        'Part_Number="Rocket_Launcher_0001"; $Path="/acme"; $Domain=".acme.example"'
    )
    for attributes in (True, False):
        cookies = Cookie.Cookie.parse(header, attributes=attributes)
        assert {name: c.value for name, c in cookies.items()} == {
            "Customer": '"WILE_E_COYOTE"',
            "Part_Number": '"Rocket_Launcher_0001"',
        }
        assert all(c.path is None and c.version is None for c in cookies.values())


def test_parse_skips_malformed_pairs():
    cookies = Cookie.Cookie.parse(
        'ok=1; sp ace=1; bad=a b; q="a b"; back=a\\b; =noname; novalue; é=1; v=é; ctl=a\x01; fine=2'
    )
    assert {name: c.value for name, c in cookies.items()} == {"ok": "1", "fine": "2"}


def test_parse_attributes_of_a_skipped_cookie_are_not_given_to_the_previous_one():
    cookies = Cookie.Cookie.parse("a=1; b=x y; path=/p; secure")
    assert list(cookies) == ["a"]
    assert cookies["a"].path is None and cookies["a"].secure is False
    cookies = Cookie.Cookie.parse("a=1; novalue; path=/p; b=2")
    assert list(cookies) == ["a", "b"]
    assert cookies["a"].path is None


def test_parse_attributes_of_a_repeated_cookie_do_not_touch_the_first():
    cookies = Cookie.Cookie.parse("a=1; path=/one; a=2; path=/two")
    assert cookies["a"].value == "1" and cookies["a"].path == "/one"


def test_parse_ignores_invalid_attribute_values():
    cookies = Cookie.Cookie.parse(
        "a=1; expires=never; max-age=soon; domain=..; path=relative; samesite=sometimes; "
        "port=x; version=v; comment=\x01; httponly"
    )
    a = cookies["a"]
    assert (a.expires, a.max_age, a.domain, a.path, a.samesite) == (None, None, None, None, None)
    assert (a.port, a.version, a.comment) == (None, None, None)
    assert a.httponly is True


def test_parse_attribute_without_value_is_ignored():
    cookie = Cookie.Cookie.parse("a=1; path; domain; expires")["a"]
    assert cookie.path is None and cookie.domain is None and cookie.expires is None


def test_parse_comma_before_a_name_separates_cookies():
    # what Apache makes of two Cookie header lines, and RFC 2109's separator
    cookies = Cookie.Cookie.parse("a=1; b=2, c=3; a=4,d=5")
    values = {name: c.value for name, c in cookies.items()}
    assert values == {"a": "1", "b": "2", "c": "3", "d": "5"}


def test_parse_other_commas_make_a_value_invalid():
    assert Cookie.Cookie.parse("a=1,2; b=x, y; c=3,; d=, e") == {}


def test_parse_comma_in_expires_is_not_a_separator():
    cookies = Cookie.Cookie.parse("a=1; Expires=Sat, 14-Jun-2003 02:42:36 GMT, b=2; Path=/b")
    assert cookies["a"].expires == "Sat, 14-Jun-2003 02:42:36 GMT"
    assert cookies["a"].path is None and cookies["b"].path == "/b"


def test_parse_rejects_non_text():
    with pytest.raises(TypeError):
        Cookie.Cookie.parse(b"a=1")


def test_parsed_cookie_renders_back():
    header = 'a=1; b="q"; c='
    cookies = Cookie.Cookie.parse(header, attributes=False)
    assert "; ".join(str(c) for c in cookies.values()) == header


def test_parse_on_a_subclass_makes_instances_of_it():
    class Crumb(Cookie.Cookie):
        __slots__ = ()

    cookies = Crumb.parse("a=1")
    assert type(cookies["a"]) is Crumb
