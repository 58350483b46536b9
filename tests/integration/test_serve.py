"""`mod_python serve DIR` serving the repository's examples/ (one command to serve)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from mod_python._httpd import free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def served(apache_install, mpm, mod_python_so):
    port = free_port()
    command = [
        sys.executable, "-c", "import sys; from mod_python._cli import main; sys.exit(main())",
        "serve", str(REPO / "examples"), "--port", str(port), "--mpm", mpm,
        "--module", mod_python_so, "--apxs", apache_install.apxs,
    ]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(url + "/", timeout=2)
            break
        except requests.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(proc.communicate()[0].decode(errors="replace")) from None
            time.sleep(0.1)
    yield proc, url
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_index_page(served):
    _, url = served
    r = requests.get(url + "/", timeout=10)
    assert r.status_code == 200
    assert "mod_python examples" in r.text


def test_hello_example(served):
    _, url = served
    r = requests.get(url + "/hello/", timeout=10)
    assert r.status_code == 200
    assert r.text.startswith("Hello World!\n")


def test_auth_example(served):
    _, url = served
    assert requests.get(url + "/auth/secret.py", timeout=10).status_code == 401
    r = requests.get(url + "/auth/secret.py", auth=("spam", "eggs"), timeout=10)
    assert (r.status_code, r.text) == (200, "Welcome, spam. You are in.\n")


def test_errors_example(served):
    _, url = served
    assert requests.get(url + "/errors/apache-error.html", timeout=10).status_code == 404
    r = requests.get(url + "/errors/handler-error.html", timeout=10)
    assert r.status_code == 404
    assert r.text.startswith("Page not here.")


def test_ctrl_c_stops_cleanly(served):
    proc, url = served
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=30)[0].decode(errors="replace")
    assert proc.returncode == 0, output
    assert f"Serving {REPO / 'examples'} at {url}/" in output
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/", timeout=2)
