"""`mod_python serve DIR` serving the repository's examples/ (one command to serve)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from mod_python._httpd import free_port

REPO = Path(__file__).resolve().parents[2]


class Served:
    """The running serve command, its URL, and its output as it comes."""

    def __init__(self, proc: subprocess.Popen, url: str) -> None:
        self.proc = proc
        self.url = url
        self.lines: list[str] = []
        self.serving = False
        #: Set at the "Serving" line, or when the output ends without one.
        self.started = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            for raw in self.proc.stdout:
                line = raw.decode(errors="replace")
                self.lines.append(line)
                if line.startswith("Serving "):
                    self.serving = True
                    self.started.set()
        finally:
            self.started.set()

    def output(self, timeout: float = 30) -> str:
        """All the output, once the command has exited."""
        self.proc.wait(timeout)
        self._reader.join(timeout)
        return "".join(self.lines)


@pytest.fixture(scope="module")
def served(apache_install, mpm, mod_python_so):
    port = free_port()
    command = [
        sys.executable, "-c", "import sys; from mod_python._cli import main; sys.exit(main())",
        "serve", str(REPO / "examples"), "--port", str(port), "--mpm", mpm,
        "--module", mod_python_so, "--apxs", apache_install.apxs,
    ]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    served = Served(proc, f"http://127.0.0.1:{port}")
    # The command says when Apache is ready; the port answers before that.
    served.started.wait(30)
    if not served.serving:
        proc.kill()
        raise AssertionError(served.output())
    yield served
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_index_page(served):
    url = served.url
    r = requests.get(url + "/", timeout=10)
    assert r.status_code == 200
    assert "mod_python examples" in r.text


def test_hello_example(served):
    url = served.url
    r = requests.get(url + "/hello/", timeout=10)
    assert r.status_code == 200
    assert r.text.startswith("Hello World!\n")


def test_auth_example(served):
    url = served.url
    assert requests.get(url + "/auth/secret.py", timeout=10).status_code == 401
    r = requests.get(url + "/auth/secret.py", auth=("spam", "eggs"), timeout=10)
    assert (r.status_code, r.text) == (200, "Welcome, spam. You are in.\n")


def test_errors_example(served):
    url = served.url
    assert requests.get(url + "/errors/apache-error.html", timeout=10).status_code == 404
    r = requests.get(url + "/errors/handler-error.html", timeout=10)
    assert r.status_code == 404
    assert r.text.startswith("Page not here.")


def test_ctrl_c_stops_cleanly(served):
    proc, url = served.proc, served.url
    proc.send_signal(signal.SIGINT)
    output = served.output()
    assert proc.returncode == 0, output
    assert f"Serving {REPO / 'examples'} at {url}/" in output
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/", timeout=2)
