"""mod_python.Cookie (manual 4.7) inside Apache: add_cookie() sending several
Set-Cookie headers with attributes through the headers_out table,
get_cookies()/get_cookie() reading the Cookie request header(s), and signed
and marshalled cookies making the round trip through a cookie-keeping client,
tampering included."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import urllib.parse
from typing import Any, Dict, List

import pytest
import requests

SECRET = "secret007"

APP = r"""
import json
from types import SimpleNamespace

from mod_python import Cookie, apache

SECRET = "secret007"


def describe(cookie):
    if cookie is None:
        return None
    value = cookie.value if isinstance(cookie.value, str) else repr(cookie.value)
    return {"class": type(cookie).__name__, "value": value, "path": cookie.path}


def handler(req):
    action = req.uri.rsplit("/", 1)[-1]
    args = req.args or ""
    out = None
    if action == "set":
        Cookie.add_cookie(req, "plain", "1")
        Cookie.add_cookie(
            req,
            Cookie.Cookie(
                "full",
                "2",
                path="/app",
                domain=".example.org",
                expires=1055558556,
                max_age=300,
                secure=True,
                httponly=True,
                samesite="strict",
            ),
        )
        expires = "Sat, 14-Jun-2003 02:42:36 GMT"
        Cookie.add_cookie(req, "lax", '"3"', samesite="LAX", expires=expires)
        Cookie.add_cookie(req, "cross", "4", samesite="none", secure=True)
    elif action == "cached":
        req.headers_out["Cache-Control"] = "private"
        Cookie.add_cookie(req, "plain", "1")
    elif action == "read":
        out = {name: describe(c) for name, c in Cookie.get_cookies(req).items()}
    elif action == "one":
        out = describe(Cookie.get_cookie(req, args))
    elif action == "signed":
        cookie = Cookie.get_cookie(req, "sid", Cookie.SignedCookie, secret=SECRET)
        out = describe(cookie)
        if type(cookie) is not Cookie.SignedCookie:
            Cookie.add_cookie(
                req, Cookie.SignedCookie("sid", "user42", SECRET, path="/app", httponly=True)
            )
    elif action == "marshal":
        cookies = Cookie.get_cookies(req, Cookie.MarshalCookie, secret=SECRET)
        out = {name: describe(c) for name, c in cookies.items()}
        if type(cookies.get("data")) is not Cookie.MarshalCookie:
            value = {"egg_count": 32, "color": "white", "tags": ["a", "b"], "raw": b"\x00\xff"}
            Cookie.add_cookie(req, Cookie.MarshalCookie("data", value, SECRET, path="/app"))
    elif action == "legacy":
        cookie = Cookie.get_cookie(
            req, "sid", Cookie.SignedCookie, secret=SECRET, legacy_md5=args == "on"
        )
        out = describe(cookie)
    elif action == "forbidden":
        Cookie.add_cookie(req, "lost", "1")
        Cookie.add_cookie(SimpleNamespace(headers_out=req.err_headers_out), "attempts", "3")
        return apache.HTTP_FORBIDDEN
    elif action == "bad":
        Cookie.add_cookie(req, "cross", "1", samesite="None")
    else:
        return apache.HTTP_NOT_FOUND
    req.content_type = "application/json"
    req.write(json.dumps(out))
    return apache.OK
"""

CONFIG = """
<Directory "{docroot}/app">
    SetHandler mod_python
    PythonHandler app
    PythonDebug On
</Directory>
"""


@pytest.fixture(scope="module")
def server(start_server):
    return start_server(CONFIG, files={"htdocs/app/app.py": APP})


def fresh_get(server, path: str, **kw: Any) -> requests.Response:
    # a client of its own, so no cookie of another test is sent along
    with requests.Session() as client:
        response = client.get(server.url + path, timeout=30, **kw)
    return response


def set_cookies(response: requests.Response) -> List[str]:
    return response.raw.headers.getlist("Set-Cookie")


def signed_33(name: str, value: str) -> str:
    return hmac.new(SECRET.encode(), (name + value).encode(), hashlib.md5).hexdigest() + value


# ---------------------------------------------------------------- add_cookie


def test_add_cookie_sends_one_set_cookie_header_per_cookie(server):
    response = fresh_get(server, "/app/set")
    assert response.status_code == 200, server.error_log()
    assert set_cookies(response) == [
        "plain=1",
        "full=2; Domain=example.org; Path=/app; Expires=Sat, 14 Jun 2003 02:42:36 GMT; "
        "Max-Age=300; Secure; HttpOnly; SameSite=Strict",
        'lax="3"; Expires=Sat, 14-Jun-2003 02:42:36 GMT; SameSite=Lax',
        "cross=4; Secure; SameSite=None",
    ]
    assert response.raw.headers.getlist("Cache-Control") == ['no-cache="set-cookie"']


def test_add_cookie_extends_an_existing_cache_control(server):
    response = fresh_get(server, "/app/cached")
    assert response.status_code == 200, server.error_log()
    assert set_cookies(response) == ["plain=1"]
    assert response.headers["Cache-Control"] == 'private, no-cache="set-cookie"'


def test_add_cookie_to_err_headers_out_for_an_error_response(server):
    response = fresh_get(server, "/app/forbidden")
    assert response.status_code == 403
    assert set_cookies(response) == ["attempts=3"]
    assert response.headers["Cache-Control"] == 'no-cache="set-cookie"'


def test_invalid_cookie_is_a_500_with_the_reason_logged(server):
    response = fresh_get(server, "/app/bad")
    assert response.status_code == 500
    assert set_cookies(response) == []
    log = server.error_log()
    assert "CookieError" in log
    assert "samesite='None' requires secure=True" in log


# ---------------------------------------------------------------- get_cookies / get_cookie


def read(server, header: str) -> Dict[str, Any]:
    response = fresh_get(server, "/app/read", headers={"Cookie": header})
    assert response.status_code == 200, server.error_log()
    return response.json()


def test_get_cookies_reads_the_cookie_header(server):
    cookies = read(server, 'a=1; b="two"; c=; a=again')
    assert cookies == {
        "a": {"class": "Cookie", "value": "1", "path": None},
        "b": {"class": "Cookie", "value": '"two"', "path": None},
        "c": {"class": "Cookie", "value": "", "path": None},
    }


def test_get_cookies_skips_what_is_not_a_cookie(server):
    cookies = read(server, '$Version="1"; ok=1; $Path="/x"; bad=a b; path=/p; noequals; =x')
    assert cookies == {
        "ok": {"class": "Cookie", "value": "1", "path": None},
        "path": {"class": "Cookie", "value": "/p", "path": None},
    }


def test_no_cookie_header(server):
    assert read(server, "") == {}
    response = fresh_get(server, "/app/read")
    assert response.json() == {}


def test_get_cookies_reads_several_cookie_headers(server):
    # Apache joins the lines with ", ", which parse() separates again
    host, port = urllib.parse.urlsplit(server.url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest("GET", "/app/read")
        connection.putheader("Cookie", "a=1; b=2")
        connection.putheader("Cookie", "c=3; a=4")
        connection.endheaders()
        response = connection.getresponse()
        body = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 200, server.error_log()
    assert {name: c["value"] for name, c in body.items()} == {"a": "1", "b": "2", "c": "3"}


def test_get_cookie(server):
    response = fresh_get(server, "/app/one?b", headers={"Cookie": "a=1; b=2"})
    assert response.json() == {"class": "Cookie", "value": "2", "path": None}
    response = fresh_get(server, "/app/one?z", headers={"Cookie": "a=1; b=2"})
    assert response.status_code == 200 and response.json() is None


# ---------------------------------------------------------------- signed and marshalled


def test_signed_cookie_round_trip_and_tampering(server):
    with requests.Session() as client:
        url = server.url + "/app/signed"
        first = client.get(url, timeout=30)
        assert first.status_code == 200, server.error_log()
        assert first.json() is None
        (sent,) = set_cookies(first)
        assert sent.startswith("sid=s256:") and sent.endswith(":user42; Path=/app; HttpOnly")

        second = client.get(url, timeout=30)
        assert second.json() == {"class": "SignedCookie", "value": "user42", "path": None}
        assert set_cookies(second) == []

        (jar_cookie,) = list(client.cookies)
        genuine = jar_cookie.value
        jar_cookie.value = genuine.replace(":user42", ":admin1")
        third = client.get(url, timeout=30)
        assert third.json() == {"class": "Cookie", "value": jar_cookie.value, "path": None}
        # the handler treats it as absent and signs a fresh one
        assert set_cookies(third) == [sent]

        (jar_cookie,) = list(client.cookies)
        assert jar_cookie.value == genuine
        assert client.get(url, timeout=30).json()["class"] == "SignedCookie"


def test_signed_cookie_with_another_secret_is_not_trusted(server):
    forged = hmac.new(b"guess", b"s256:sid=admin", hashlib.sha256).hexdigest()
    response = fresh_get(server, "/app/signed", headers={"Cookie": f"sid=s256:{forged}:admin"})
    assert response.json()["class"] == "Cookie"


def test_3_3_signed_cookie_needs_legacy_md5(server):
    header = {"Cookie": f"sid={signed_33('sid', 'user7')}"}
    on = fresh_get(server, "/app/legacy?on", headers=header)
    assert on.json() == {"class": "SignedCookie", "value": "user7", "path": None}
    off = fresh_get(server, "/app/legacy?off", headers=header)
    assert off.json() == {"class": "Cookie", "value": signed_33("sid", "user7"), "path": None}


def test_marshal_cookie_round_trip_and_tampering(server):
    with requests.Session() as client:
        url = server.url + "/app/marshal"
        first = client.get(url, timeout=30)
        assert first.status_code == 200, server.error_log()
        assert first.json() == {}
        (sent,) = set_cookies(first)
        assert sent.startswith("data=m256:") and sent.endswith("; Path=/app")

        second = client.get(url, timeout=30)
        assert second.json() == {
            "data": {
                "class": "MarshalCookie",
                "value": repr(
                    {"egg_count": 32, "color": "white", "tags": ["a", "b"], "raw": b"\x00\xff"}
                ),
                "path": None,
            }
        }
        assert set_cookies(second) == []

        (jar_cookie,) = list(client.cookies)
        jar_cookie.value = jar_cookie.value[:-4] + "AAA="
        third = client.get(url, timeout=30)
        assert third.json()["data"] == {"class": "Cookie", "value": jar_cookie.value, "path": None}
        assert set_cookies(third) == [sent]


def test_signed_cookie_read_as_marshal_cookie_is_plain(server):
    # MODPYTHON-200: no error, the signed cookie is simply not a MarshalCookie
    with requests.Session() as client:
        client.get(server.url + "/app/signed", timeout=30)
        response = client.get(server.url + "/app/marshal", timeout=30)
    assert response.status_code == 200, server.error_log()
    assert response.json()["sid"]["class"] == "Cookie"
