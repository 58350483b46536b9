"""The global mutexes (manual 2.3.2 "Mutex Directory" / "Mutex Locks", 4.8):
``apache._global_lock`` / ``_global_trylock`` / ``_global_unlock`` exclude
each other across children and threads; PythonOption mod_python.mutex_directory
and mod_python.mutex_locks (server config only) choose where the lock files
live and how many locks there are; no lock file outlives the server."""

from __future__ import annotations

import concurrent.futures
import glob
import json
import os
import re
import time

import pytest
import requests

from mod_python._httpd import ApacheStartError

LOCKS = """
    import json
    import os
    import threading
    import time

    from mod_python import apache

    COUNTER = "{root}/counter"

    def _bump(locked):
        if locked:
            apache._global_lock(apache.main_server, "counter")
        try:
            with open(COUNTER) as f:
                value = int(f.read() or 0)
            time.sleep(0.05)
            with open(COUNTER, "w") as f:
                f.write(str(value + 1))
        finally:
            if locked:
                apache._global_unlock(apache.main_server, "counter")

    def _error(call):
        try:
            call()
        except Exception as exc:
            return type(exc).__name__ + ": " + str(exc)
        return "no error"

    def handler(req):
        action = req.args or ""
        req.content_type = "text/plain"
        out = "ok"
        if action in ("locked", "unlocked"):
            _bump(action == "locked")
            out = json.dumps([os.getpid(), threading.get_ident()])
        elif action == "hold":
            apache._global_lock(req.server, "held-key")
            try:
                open("{root}/holding", "w").close()
                deadline = time.time() + 20
                while not os.path.exists("{root}/release") and time.time() < deadline:
                    time.sleep(0.02)
            finally:
                apache._global_unlock(req.server, "held-key")
        elif action == "try":
            got = apache._global_trylock(req.server, "held-key")
            if got:
                apache._global_unlock(req.server, "held-key")
            out = str(got)
        elif action.startswith("index="):
            index = int(action[len("index="):])
            def take():
                apache._global_lock(req.server, None, index)
                apache._global_unlock(req.server, None, index)
            out = _error(take)
        elif action == "errors":
            s = req.server
            def twice():
                apache._global_lock(s, "twice")
                try:
                    apache._global_lock(s, "twice")
                finally:
                    apache._global_unlock(s, "twice")
            out = "\\n".join([
                _error(lambda: apache._global_unlock(s, "never-locked")),
                _error(lambda: apache._global_lock(s, 42)),
                _error(lambda: apache._global_lock(s, None)),
                _error(lambda: apache._global_lock("not a server", "k")),
                _error(lambda: apache._global_lock(s, "k", -5)),
                _error(twice),
                str(apache._global_trylock(s, b"bytes-key")),
                _error(lambda: apache._global_unlock(s, b"bytes-key")),
                _error(lambda: apache._global_unlock(s, b"bytes-key")),
            ])
        req.write(out)
        return apache.OK
"""

CONFIG = """
    {options}
    <Directory "{docroot}/m">
        SetHandler mod_python
        PythonHandler locks
        # ignored: the mutexes are configured by the server config only
        PythonOption mod_python.mutex_locks 2
    </Directory>
"""


def lock_files(directory: str, pid: int | None = None) -> list[str]:
    pattern = f"mod_python.{pid if pid is not None else '*'}.*.lock"
    return sorted(glob.glob(os.path.join(directory, pattern)))


@pytest.fixture(scope="module")
def server(start_server):
    srv = start_server(
        CONFIG.replace(
            "{options}",
            "PythonOption mod_python.mutex_directory {root}/logs/run\n"
            "    PythonOption mod_python.mutex_locks 4",
        ),
        files={"htdocs/m/locks.py": LOCKS, "counter": "0"},
    )
    return srv


def run_concurrently(server, action: str, n: int) -> list[str]:
    def one(_):
        r = requests.get(f"{server.url}/m/x?{action}", timeout=60)
        assert r.status_code == 200, r.text
        return r.text

    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def reset_counter(server) -> None:
    (server.root / "counter").write_text("0")


def test_lock_files_are_in_the_mutex_directory(server):
    files = lock_files(str(server.root / "logs" / "run"), server.apache.pid)
    assert [re.sub(r".*\.(\d+)\.lock$", r"\1", f) for f in files] == ["0", "1", "2", "3"]


def test_unlocked_counter_loses_updates(server):
    # the control: requests really do overlap, so the locked test can fail
    reset_counter(server)
    run_concurrently(server, "unlocked", 16)
    assert int((server.root / "counter").read_text()) < 16


def test_locked_counter_is_exact(server, mpm):
    reset_counter(server)
    answers = run_concurrently(server, "locked", 24)
    assert int((server.root / "counter").read_text()) == 24
    workers = {tuple(json.loads(a)) for a in answers}
    pids = {pid for pid, _ in workers}
    if mpm == "prefork":
        assert len(pids) >= 2, "the requests should have run in several children"
    else:
        assert len(workers) >= 2, "the requests should have run in several threads"


def test_trylock_is_false_while_another_request_holds_the_lock(server):
    for name in ("holding", "release"):
        (server.root / name).unlink(missing_ok=True)
    assert server.get("/m/x?try").text == "True"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        holder = pool.submit(requests.get, f"{server.url}/m/x?hold", timeout=60)
        deadline = time.monotonic() + 10
        while not (server.root / "holding").exists():
            assert time.monotonic() < deadline, "the holding request never took the lock"
            time.sleep(0.02)
        try:
            for _ in range(3):
                assert requests.get(f"{server.url}/m/x?try", timeout=30).text == "False"
        finally:
            (server.root / "release").touch()
        assert holder.result().status_code == 200
    assert requests.get(f"{server.url}/m/x?try", timeout=30).text == "True"


def test_mutex_locks_sets_the_number_of_locks(server):
    assert server.get("/m/x?index=0").text == "no error"
    assert server.get("/m/x?index=3").text == "no error"
    text = server.get("/m/x?index=4").text
    assert text.startswith("ValueError: _global_lock(): lock index 4 is out of range")
    assert "there are 4 global locks" in text


def test_misuse_gets_clear_errors(server):
    lines = server.get("/m/x?errors").text.splitlines()
    assert re.fullmatch(
        r"RuntimeError: _global_unlock\(\): global lock [1-3] is not held by this thread", lines[0]
    )
    assert lines[1] == "TypeError: _global_lock(): the key must be str or bytes, not int"
    assert lines[2] == "ValueError: _global_lock(): give a key or a lock index"
    assert lines[3].startswith("TypeError: a server object is needed")
    assert lines[4].startswith("ValueError: _global_lock(): index must be -1")
    assert lines[5].startswith(
        "RuntimeError: _global_lock(): this thread already holds global lock"
    )
    assert lines[6] == "True"
    assert lines[7] == "no error"
    assert lines[8].startswith("RuntimeError: _global_unlock(): global lock")
    # the failed second lock left the lock usable
    assert server.get("/m/x?try").text == "True"


def test_graceful_restart_makes_new_locks_and_keeps_working(server):
    run_dir = str(server.root / "logs" / "run")
    server.apache.graceful()
    server.apache.wait_ready()
    assert len(lock_files(run_dir, server.apache.pid)) == 4
    reset_counter(server)
    run_concurrently(server, "locked", 8)
    assert int((server.root / "counter").read_text()) == 8


def test_no_lock_file_remains_after_stop(server):
    run_dir = str(server.root / "logs" / "run")
    assert lock_files(run_dir)
    server.stop()
    assert lock_files(run_dir) == []


def test_defaults_are_tmp_and_eight_locks(start_server):
    srv = start_server(CONFIG.replace("{options}", ""), files={"htdocs/m/locks.py": LOCKS})
    pid = srv.apache.pid
    assert len(lock_files("/tmp", pid)) == 8
    assert srv.get("/m/x?index=7").text == "no error"
    assert srv.get("/m/x?index=8").text.startswith("ValueError")
    srv.stop()
    assert lock_files("/tmp", pid) == []


@pytest.mark.parametrize(
    "options, message",
    [
        ("PythonOption mod_python.mutex_locks lots", "mod_python.mutex_locks 'lots' is not"),
        ("PythonOption mod_python.mutex_locks 0", "mod_python.mutex_locks '0' is not"),
        ("PythonOption mod_python.mutex_locks 100000", "from 1 to 1024"),
        (
            "PythonOption mod_python.mutex_directory {root}/nowhere",
            "/nowhere' (PythonOption mod_python.mutex_directory) is not a directory",
        ),
    ],
)
def test_bad_options_stop_the_server_with_a_clear_error(start_server, options, message):
    with pytest.raises(ApacheStartError) as info:
        start_server(CONFIG.replace("{options}", options), files={"htdocs/m/locks.py": LOCKS})
    assert message in str(info.value)
