"""mod_python.testhandler: the diagnostic page of manual 2.5."""

from __future__ import annotations

import html
import http.client
import sys

import pytest

CONFIG = """
    <Location /mpinfo>
        SetHandler mod_python
        PythonHandler mod_python.testhandler
        PythonInterpreter mpinfo_interp
        PythonPath "sys.path + ['{root}/lib-mpinfo-marker']"
        PythonOption testopt "a <b> & c"
        PythonDebug On
    </Location>
"""


@pytest.fixture(scope="module")
def server(start_server):
    return start_server(CONFIG)


@pytest.fixture(scope="module")
def page(server):
    resp = server.get("/mpinfo/sub?x=1", headers={"X-Probe": "probe-value"})
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    return resp.content.decode("utf-8")


def row(key: str, value: str) -> str:
    return f"<tr><th>{html.escape(key)}</th><td>{html.escape(value)}</td></tr>"


def test_versions_and_interpreter(page):
    assert page.startswith("<!DOCTYPE html>")
    assert row("Python version", sys.version) in page
    assert row("apache.interpreter", "mpinfo_interp") in page
    assert row("interpreter", "mpinfo_interp") in page  # req.interpreter


def test_sys_path(server, page):
    assert f"<li>{html.escape(str(server.root))}/lib-mpinfo-marker</li>" in page


def test_options_and_config(page):
    assert row("testopt", "a <b> & c") in page
    assert "a &lt;b&gt; &amp; c" in page
    assert row("PythonDebug", "1") in page
    assert row("PythonInterpreter", "mpinfo_interp") in page


def test_request_connection_and_server(server, page):
    assert row("uri", "/mpinfo/sub") in page
    assert row("args", "x=1") in page
    assert row("method", "GET") in page
    assert row("X-Probe", "probe-value") in page  # headers_in
    assert row("remote_ip", "127.0.0.1") in page
    assert row("port", server.url.rsplit(":", 1)[1]) in page


def test_hostile_input_is_escaped(server):
    # http.client sends the query string as it is; requests would percent-encode it.
    conn = http.client.HTTPConnection(server.url.split("//", 1)[1], timeout=30)
    try:
        conn.request(
            "GET",
            "/mpinfo?<script>alert(1)</script>",
            headers={"X-Evil": "<img src=x onerror=alert(2)>\"'&"},
        )
        resp = conn.getresponse()
        body = resp.read().decode("utf-8")
    finally:
        conn.close()
    assert resp.status == 200
    assert "<script>" not in body and "<img" not in body
    assert row("args", "<script>alert(1)</script>") in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert row("X-Evil", "<img src=x onerror=alert(2)>\"'&") in body
    assert "&lt;img src=x onerror=alert(2)&gt;&quot;&#x27;&amp;" in body


def test_credentials_are_hidden(server):
    resp = server.get(
        "/mpinfo",
        headers={"Cookie": "session=sesame-cookie", "Authorization": "Basic c2VzYW1lOnB3"},
    )
    assert resp.status_code == 200
    assert "sesame-cookie" not in resp.text and "c2VzYW1lOnB3" not in resp.text
    assert row("Cookie", "(hidden: 21 characters)") in resp.text
    assert row("HTTP_COOKIE", "(hidden: 21 characters)") in resp.text
    assert row("Authorization", "(hidden: 18 characters)") in resp.text
