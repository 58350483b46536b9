"""Graceful and full restarts with mod_python loaded (issue: safe across
`apachectl -k graceful` and `-k restart`, no crash, no growth per restart)."""

from __future__ import annotations

import threading
import time

import pytest
import requests

APP = """
    import os, sys, time
    from mod_python import apache

    def handler(req):
        time.sleep(0.02)
        req.content_type = "text/plain"
        req.write("%d %s" % (os.getpid(), sys.version.split()[0]))
        return apache.OK
"""

CRASH_MARKERS = ("Segmentation fault", "exit signal", "Fatal Python error", "double free")


@pytest.fixture(scope="module")
def server(start_server):
    return start_server(
        """
        <Directory "{docroot}/app">
            SetHandler mod_python
            PythonHandler app
        </Directory>
        """,
        files={"htdocs/app/app.py": APP},
    )


def hammer(server, stop, results):
    # A connection per request: an idle keep-alive connection may be closed by an
    # old child just as a request is sent on it, a race of HTTP, not of the server.
    with requests.Session() as http:
        while not stop.is_set():
            try:
                r = http.get(server.url + "/app/x", headers={"Connection": "close"}, timeout=30)
                results.append(r.status_code)
            except requests.RequestException as exc:
                results.append(type(exc).__name__)


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_graceful_restart_under_load_loses_no_request(server):
    stop = threading.Event()
    results: list = []
    threads = [threading.Thread(target=hammer, args=(server, stop, results)) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        for _ in range(2):
            server.apache.graceful()
            server.apache.wait_ready()
            time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert len(results) > 20
    assert set(results) == {200}, results
    r = server.get("/app/x")
    assert r.status_code == 200


def full_restart(server):
    # ApacheServer.restart waits until Apache holds no connection (see there
    # why); our own idle keep-alive connection would hold it for 5 seconds.
    server.http.close()
    server.apache.restart()


def test_full_restart_then_python_still_serves(server):
    full_restart(server)
    server.apache.wait_ready()
    r = server.get("/app/x")
    assert r.status_code == 200
    pid, version = r.text.split()
    assert int(pid) != server.apache.pid  # handled by a child, not the parent
    assert version.count(".") == 2


def test_parent_does_not_grow_per_restart(server):
    # The parent never starts Python, so restarts must not grow it.
    for _ in range(2):
        full_restart(server)
        server.apache.wait_ready()
    before = rss_kb(server.apache.pid)
    for _ in range(6):
        full_restart(server)
        server.apache.wait_ready()
        assert server.get("/app/x").status_code == 200
    after = rss_kb(server.apache.pid)
    assert after - before < 1024, (before, after)


def test_no_crash_in_the_error_log(server):
    server.apache.graceful()
    server.apache.wait_ready()
    assert server.get("/app/x").status_code == 200
    log = server.error_log()
    crashes = [line for line in log.splitlines() if any(m in line for m in CRASH_MARKERS)]
    assert not crashes, crashes


def test_children_start_and_finalise_python(server):
    server.apache.graceful()
    server.apache.wait_ready()
    assert server.get("/app/x").status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "mod_python: Python finalised in pid" not in (
        log := server.error_log()
    ):
        time.sleep(0.1)
    assert "mod_python: Python finalised in pid" in log
    assert "initialised in pid" in log
