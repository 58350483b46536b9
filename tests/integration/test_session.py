"""mod_python.Session (manual 4.8) inside Apache, for every backend.

One Apache serves a directory per backend (DbmSession, FileSession,
RedisSession, PostgreSQLSession, each chosen by PythonOption
mod_python.session.session_type) plus directories whose store is down or
hung; MemorySession, which lives in one process, gets an Apache with a single
child. Redis and PostgreSQL are real servers started for this module (see
packages/mod_python-session/tests/session_services.py).

The counter test is the heart: 32 clients sharing ONE session cookie make
2,000 requests and the count must end at exactly 2,000, which only holds if
the session lock excludes every thread of every child.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import re
import sys
import threading
import time
from pathlib import Path
from typing import Dict, Optional, Tuple

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "packages/mod_python-session/tests"))

from session_services import Blackhole, PostgreSQLServer, RedisServer, free_port  # noqa: E402

APP = r"""
import json
import os
import threading
import time
import urllib.parse

from mod_python import Session, apache


def handler(req):
    args = dict(urllib.parse.parse_qsl(req.args or ""))
    action = args.get("a", "hit")
    timeout = float(args.get("timeout", 0))
    sess = Session.Session(req, secret=args.get("secret"), timeout=timeout)
    if action == "init":
        sess["hits"] = 0
        sess.save()
    elif action == "hit":
        sess["hits"] = sess.get("hits", 0) + 1
        sess.save()
    elif action == "raise":
        sess["hits"] = sess.get("hits", 0) + 1
        sess.save()
        raise RuntimeError("the handler fails on purpose")
    elif action == "invalidate":
        sess.invalidate()
    elif action == "two":
        # More sessions in one request: the same id again, and another one.
        sess["hits"] = sess.get("hits", 0) + 1
        sess.save()
        again = Session.Session(req, sid=sess.id())
        assert again.id() == sess.id() and not again.is_new()
        other = Session.Session(req, sid=args.get("other"))
        other["n"] = other.get("n", 0) + 1
        other.save()
        req.content_type = "application/json"
        req.write(json.dumps({"id": sess.id(), "hits": sess["hits"],
                              "other": other.id(), "other_n": other["n"]}))
        return apache.OK
    elif action == "big":
        sess.save()
        req.content_type = "application/octet-stream"
        chunk = b"x" * 65536
        for _ in range(int(args["chunks"])):
            # unflushed: what is left when the handler returns may be sent
            # (and the request ended) later, by another thread of event
            req.write(chunk, flush=False)
        return apache.OK
    req.content_type = "application/json"
    req.write(json.dumps({
        "id": sess.id(),
        "new": sess.is_new(),
        "hits": sess.get("hits"),
        "class": type(sess).__name__,
        "timeout": sess.timeout(),
        "worker": [os.getpid(), threading.get_ident()],
    }))
    return apache.OK
"""

BACKEND_DIRECTORY = """
    <Directory "{docroot}/%(name)s">
        SetHandler mod_python
        PythonHandler app
        %(options)s
    </Directory>
"""

SERVER_OPTIONS = """
    KeepAlive Off
    PythonOption mod_python.mutex_directory {root}/logs/run
    PythonOption mod_python.dbm_session.database_directory {root}/dbm
    PythonOption mod_python.file_session.database_directory {root}/files
"""

ALL_BACKENDS = ["dbm", "file", "redis", "postgresql"]
OPTION = "PythonOption mod_python.session."


def directory(name: str, *options: str) -> str:
    return BACKEND_DIRECTORY % {"name": name, "options": "\n        ".join(options)}


@pytest.fixture(scope="module")
def redis_server():
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def postgresql_server():
    with PostgreSQLServer() as server:
        yield server


@pytest.fixture(scope="module")
def blackhole():
    with Blackhole() as hole:
        yield hole


def site_files(*names: str) -> Dict[str, str]:
    files = {f"htdocs/{name}/app.py": APP for name in names}
    files["dbm/.keep"] = ""
    files["files/.keep"] = ""
    return files


@pytest.fixture(scope="module")
def server(start_server, redis_server, postgresql_server, blackhole):
    closed = free_port()  # nothing listens there: a store that is down
    config = SERVER_OPTIONS + "".join(
        [
            directory("dbm", OPTION + "session_type DbmSession"),
            directory("file", OPTION + "session_type FileSession"),
            directory(
                "redis",
                OPTION + "session_type RedisSession",
                OPTION + f"redis_url {redis_server.url}",
            ),
            directory(
                "postgresql",
                OPTION + "session_type PostgreSQLSession",
                OPTION + f'postgresql_dsn "{postgresql_server.dsn}"',
            ),
            directory("default"),
            directory(
                "options",
                OPTION + "session_type FileSession",
                OPTION + "cookie_name myapp_id",
                OPTION + "application_path /shop",
                OPTION + "application_domain example.org",
                OPTION + "cookie_samesite Strict",
                OPTION + "cookie_secure On",
            ),
            directory(
                "redis-down",
                OPTION + "session_type RedisSession",
                OPTION + f"redis_url redis://127.0.0.1:{closed}/0",
            ),
            directory(
                "redis-hung",
                OPTION + "session_type RedisSession",
                OPTION + f"redis_url redis://127.0.0.1:{blackhole.port}/0",
                OPTION + "redis_timeout 1",
            ),
            directory(
                "postgresql-down",
                OPTION + "session_type PostgreSQLSession",
                OPTION + f'postgresql_dsn "host=127.0.0.1 port={closed} user=postgres"',
            ),
            directory(
                "postgresql-hung",
                OPTION + "session_type PostgreSQLSession",
                OPTION + f'postgresql_dsn "host=127.0.0.1 port={blackhole.port} user=postgres"',
                OPTION + "postgresql_timeout 2",
            ),
        ]
    )
    config += """
    <Location "/located">
        SetHandler mod_python
        PythonHandler app
        PythonPath "['{docroot}/dbm'] + sys.path"
        PythonOption mod_python.session.session_type DbmSession
    </Location>
    """
    names = ALL_BACKENDS + ["default", "options", "redis-down", "redis-hung"]
    names += ["postgresql-down", "postgresql-hung"]
    return start_server(config, files=site_files(*names), threads=16)


@pytest.fixture(scope="module")
def memory_server(start_server, single_child):
    fields, sizing = single_child
    config = SERVER_OPTIONS + sizing
    config += directory("memory", OPTION + "session_type MemorySession")
    config += directory("default")
    return start_server(config, files=site_files("memory", "default"), **fields)


@pytest.fixture(params=ALL_BACKENDS + ["memory"])
def backend(request, server, memory_server) -> Tuple[object, str]:
    """(server, directory) of one backend."""
    if request.param == "memory":
        return memory_server, "memory"
    return server, request.param


def call(
    srv, path: str, sid: Optional[str] = None, cookie_name: str = "pysid", timeout: float = 30
) -> Tuple[int, Dict[str, str], bytes, list]:
    """One request on a fresh connection: (status, headers, body, Set-Cookie values)."""
    host, port = srv.url.split("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        headers = {"Cookie": f"{cookie_name}={sid}"} if sid else {}
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        cookies = response.msg.get_all("Set-Cookie") or []
        return response.status, dict(response.getheaders()), body, cookies
    finally:
        conn.close()


def hit(srv, path: str, sid: Optional[str] = None, **kw) -> dict:
    status, _, body, _ = call(srv, path, sid, **kw)
    assert status == 200, body[-2000:]
    return json.loads(body)


def no_tracebacks(srv) -> None:
    log = srv.error_log()
    assert "Traceback" not in log, log[-4000:]


# --------------------------------------------------------------------------- the counter


def test_32_clients_sharing_one_session_count_exactly_2000(backend, mpm):
    srv, name = backend
    first = hit(srv, f"/{name}/app?a=init")
    assert first["new"] and first["hits"] == 0
    sid = first["id"]
    remaining = iter(range(2000))
    lock = threading.Lock()
    workers = set()

    def client() -> int:
        done = 0
        while True:
            with lock:
                if next(remaining, None) is None:
                    return done
            answer = hit(srv, f"/{name}/app?a=hit", sid)
            assert not answer["new"] and answer["id"] == sid
            with lock:
                workers.add(tuple(answer["worker"]))
            done += 1

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        counts = list(pool.map(lambda _: client(), range(32)))
    assert sum(counts) == 2000
    assert hit(srv, f"/{name}/app?a=peek", sid)["hits"] == 2000
    if not (name == "memory" and mpm == "prefork"):  # prefork's single child has one
        assert len(workers) > 1, "the requests should have run in several workers"
    no_tracebacks(srv)


def test_several_sessions_per_request_with_a_single_mutex(start_server):
    # With one global mutex every session, and the dbm file, use mutex 0: the
    # sessions of one request share it instead of waiting for themselves.
    config = SERVER_OPTIONS + "PythonOption mod_python.mutex_locks 1\n"
    config += directory("dbm", OPTION + "session_type DbmSession")
    srv = start_server(config, files=site_files("dbm"))
    first = hit(srv, "/dbm/app?a=two")
    sid, other = first["id"], first["other"]

    def client(_) -> None:
        for _ in range(25):
            answer = hit(srv, f"/dbm/app?a=two&other={other}", sid, timeout=20)
            assert (answer["id"], answer["other"]) == (sid, other)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(client, range(8)))
    last = hit(srv, f"/dbm/app?a=two&other={other}", sid)
    assert (last["hits"], last["other_n"]) == (202, 202)
    no_tracebacks(srv)


# --------------------------------------------------------------------------- class choice


@pytest.mark.parametrize("name", ALL_BACKENDS)
def test_session_type_chooses_the_backend(server, name):
    expected = {
        "dbm": "DbmSession",
        "file": "FileSession",
        "redis": "RedisSession",
        "postgresql": "PostgreSQLSession",
    }
    assert hit(server, f"/{name}/app?a=peek")["class"] == expected[name]


def test_without_session_type_several_children_get_dbm_session(server):
    # prefork, or a threaded MPM with more than one child: DbmSession (4.8.1)
    assert hit(server, "/default/app?a=peek")["class"] == "DbmSession"


def test_without_session_type_one_threaded_child_gets_memory_session(memory_server, mpm):
    expected = "DbmSession" if mpm == "prefork" else "MemorySession"
    assert hit(memory_server, "/default/app?a=peek")["class"] == expected


# --------------------------------------------------------------------------- the cookie


def test_the_cookie_path_is_the_handler_directory(backend):
    srv, name = backend
    status, headers, body, cookies = call(srv, f"/{name}/app?a=peek")
    sid = json.loads(body)["id"]
    assert cookies == [f"pysid={sid}; Path=/{name}; HttpOnly; SameSite=Lax"]
    assert headers["Cache-Control"] == 'no-cache="set-cookie"'


def test_a_location_gets_path_slash(server):
    _, _, body, cookies = call(server, "/located/anything?a=peek")
    assert cookies == [f"pysid={json.loads(body)['id']}; Path=/; HttpOnly; SameSite=Lax"]


def test_cookie_options(server):
    _, _, body, cookies = call(server, "/options/app?a=hit")
    sid = json.loads(body)["id"]
    assert cookies == [
        f"myapp_id={sid}; Domain=example.org; Path=/shop; Secure; HttpOnly; SameSite=Strict"
    ]
    again = hit(server, "/options/app?a=hit", sid, cookie_name="myapp_id")
    assert again["id"] == sid and again["hits"] == 2


def test_a_known_id_sets_no_cookie(backend):
    srv, name = backend
    sid = hit(srv, f"/{name}/app?a=hit")["id"]
    _, _, body, cookies = call(srv, f"/{name}/app?a=hit", sid)
    assert json.loads(body)["hits"] == 2 and cookies == []


def test_signed_cookies(backend):
    srv, name = backend
    _, _, body, cookies = call(srv, f"/{name}/app?a=hit&secret=k1")
    sid = json.loads(body)["id"]
    signed = re.match(r"pysid=([^;]+);", cookies[0]).group(1)
    assert signed.startswith("s256:") and signed.endswith(":" + sid)
    assert hit(srv, f"/{name}/app?a=hit&secret=k1", signed)["hits"] == 2
    # the bare id, a wrong secret, a forged signature: all start a new session
    assert hit(srv, f"/{name}/app?a=hit&secret=k1", sid)["new"]
    assert hit(srv, f"/{name}/app?a=hit&secret=k2", signed)["new"]
    forged = signed[:5] + ("0" if signed[5] != "0" else "1") + signed[6:]
    assert hit(srv, f"/{name}/app?a=hit&secret=k1", forged)["new"]


@pytest.mark.parametrize(
    "bad", ["..%2F..%2F..%2Fetc%2Fpasswd", "../../../etc/passwd", "A" * 32, "0" * 31, "0" * 4000]
)
def test_a_malformed_id_starts_a_new_session(server, bad):
    answer = hit(server, "/file/app?a=hit", bad)
    assert answer["new"] and re.fullmatch(r"[0-9a-f]{32}", answer["id"])


# --------------------------------------------------------------------------- lifetime


def test_expiry(backend):
    srv, name = backend
    first = hit(srv, f"/{name}/app?a=hit&timeout=1")
    assert first["timeout"] == 1
    assert hit(srv, f"/{name}/app?a=hit&timeout=1", first["id"])["hits"] == 2
    time.sleep(1.5)
    later = hit(srv, f"/{name}/app?a=hit&timeout=1", first["id"])
    assert later["new"] and later["id"] != first["id"] and later["hits"] == 1


def test_invalidate(backend):
    srv, name = backend
    sid = hit(srv, f"/{name}/app?a=hit")["id"]
    _, _, body, cookies = call(srv, f"/{name}/app?a=invalidate", sid)
    assert json.loads(body)["id"] == sid
    (cookie,) = cookies
    assert cookie.startswith("pysid=") and re.search(r"Expires=Thu, 01[ -]Jan[ -]1970", cookie)
    after = hit(srv, f"/{name}/app?a=hit", sid)
    assert after["new"] and after["id"] != sid


def test_a_handler_that_raises_leaves_the_session_unlocked(backend):
    srv, name = backend
    sid = hit(srv, f"/{name}/app?a=hit")["id"]
    status, _, _, _ = call(srv, f"/{name}/app?a=raise", sid)
    assert status == 500
    started = time.monotonic()
    answer = hit(srv, f"/{name}/app?a=hit", sid, timeout=10)
    assert time.monotonic() - started < 5
    assert answer["hits"] == 3  # the failing request had saved before raising
    assert "the handler fails on purpose" in srv.error_log()


def test_a_slow_client_does_not_keep_the_session_locked(server):
    # A response larger than the socket buffers, read slowly: with the event
    # MPM the end of the request may come in another thread.
    sid = hit(server, "/file/app?a=hit")["id"]
    host, port = server.url.split("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("GET", "/file/app?a=big&chunks=64", headers={"Cookie": f"pysid={sid}"})
    response = conn.getresponse()
    time.sleep(1)
    while response.read(65536):
        time.sleep(0.01)
    conn.close()
    started = time.monotonic()
    assert hit(server, "/file/app?a=hit", sid, timeout=10)["hits"] == 2
    assert time.monotonic() - started < 5


def test_session_files_are_private(server):
    sid = hit(server, "/file/app?a=hit")["id"]
    path = server.root / "files" / sid[:2] / sid
    assert path.stat().st_mode & 0o777 == 0o600


# --------------------------------------------------------------------------- store down


@pytest.mark.parametrize("name", ["redis-down", "redis-hung", "postgresql-down", "postgresql-hung"])
def test_a_store_that_is_down_answers_503_quickly(server, name):
    started = time.monotonic()
    status, _, _, _ = call(server, f"/{name}/app?a=hit", "0" * 32, timeout=20)
    assert status == 503
    assert time.monotonic() - started < 6
    log = server.error_log()
    assert re.search(r"mod_python\.Session: .*(Redis|PostgreSQL)", log), log[-3000:]
