"""mod_python.Session outside Apache: the WSGI example of docs/api-session.rst,
served by wsgiref to real HTTP clients."""

from __future__ import annotations

import concurrent.futures
import socketserver
import threading
import urllib.request
import wsgiref.simple_server

import pytest

from mod_python import Session

# --- the example of the documentation, as it is there -------------------------


class Request:
    """What mod_python.Session needs of a request, made from a WSGI environ."""

    def __init__(self, environ, options):
        self.headers_in = {"Cookie": environ.get("HTTP_COOKIE", "")}
        self.headers_out = []  # (name, value) pairs for start_response()
        self.options = options
        self.https = environ.get("wsgi.url_scheme") == "https"
        self.cleanups = []

    def get_options(self):
        return self.options

    def is_https(self):
        return self.https

    def register_cleanup(self, callable, data=None):
        self.cleanups.append((callable, data))

    def run_cleanups(self):
        for callable, data in self.cleanups:
            callable(data) if data is not None else callable()


def make_app(options):
    def application(environ, start_response):
        req = Request(environ, options)
        try:
            session = Session.Session(req)
            session["hits"] = session.get("hits", 0) + 1
            session.save()
            body = f"Hits: {session['hits']}\n".encode()
        finally:
            req.run_cleanups()  # unlocks the session
        start_response("200 OK", [("Content-Type", "text/plain")] + req.headers_out)
        return [body]

    return application


# --- serving it ---------------------------------------------------------------


class _Server(socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    daemon_threads = True


class _Quiet(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(params=["FileSession", "DbmSession", "MemorySession"])
def url(request, options):
    options["mod_python.session.session_type"] = request.param
    server = wsgiref.simple_server.make_server(
        "127.0.0.1", 0, make_app(options), server_class=_Server, handler_class=_Quiet
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


def get(url, cookie=None):
    """(body, Set-Cookie or None) of one GET."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode(), response.headers.get("Set-Cookie")


def test_the_wsgi_example_counts_hits(url):
    body, cookie = get(url)
    assert body == "Hits: 1\n"
    assert cookie.startswith("pysid=") and cookie.endswith("; Path=/; HttpOnly; SameSite=Lax")
    sid = cookie.split(";")[0]
    assert get(url, sid) == ("Hits: 2\n", None)


def test_the_wsgi_example_locks_across_server_threads(url):
    sid = get(url)[1].split(";")[0]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: get(url, sid)[0], range(200)))
    assert sorted(answers) == sorted(f"Hits: {n}\n" for n in range(2, 202))
    assert get(url, sid)[0] == "Hits: 202\n"
