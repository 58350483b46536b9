"""Thread states are reused per (thread, interpreter) and the GIL is released
while a handler waits, so requests run side by side on every MPM."""

from __future__ import annotations

import threading
from collections import defaultdict

import pytest
import requests

APP = """
    import os, threading, time
    from mod_python import apache

    local = threading.local()

    def handler(req):
        req.content_type = "text/plain"
        if req.args and req.args.startswith("wait="):
            # Wait (sleeping, so releasing the GIL) until the other request arrived.
            me, other = req.args[5:].split(",")
            open(os.path.join(MARKS, me), "w").close()
            deadline = time.monotonic() + 15
            while not os.path.exists(os.path.join(MARKS, other)):
                if time.monotonic() > deadline:
                    req.write("alone")
                    return apache.OK
                time.sleep(0.01)
            req.write("together")
            return apache.OK
        local.count = getattr(local, "count", 0) + 1
        req.write("%d %d %d" % (os.getpid(), threading.get_ident(), local.count))
        return apache.OK

    MARKS = "{root}/marks"
"""


@pytest.fixture(scope="module")
def server(start_server):
    srv = start_server(
        """
        <Directory "{docroot}/app">
            SetHandler mod_python
            PythonHandler app
        </Directory>
        """,
        files={"htdocs/app/app.py": APP},
    )
    (srv.root / "marks").mkdir()
    return srv


def test_thread_state_is_reused_across_requests(server):
    seen = defaultdict(list)
    for _ in range(40):
        pid, ident, count = map(int, server.get("/app/x").text.split())
        seen[(pid, ident)].append(count)
    # threading.local lives in the thread state: it would restart at 1 if the
    # state were created anew for each request.
    for counts in seen.values():
        assert counts == list(range(counts[0], counts[0] + len(counts)))
    assert any(len(counts) > 1 for counts in seen.values())


def test_two_requests_run_at_the_same_time(server):
    results = {}

    def fetch(name, me, other):
        results[name] = requests.get(f"{server.url}/app/x?wait={me},{other}", timeout=30).text

    a = threading.Thread(target=fetch, args=("a", "first", "second"))
    b = threading.Thread(target=fetch, args=("b", "second", "first"))
    a.start()
    b.start()
    a.join()
    b.join()
    assert results == {"a": "together", "b": "together"}
