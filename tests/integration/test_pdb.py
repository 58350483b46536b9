"""PythonEnablePdb (manual 5.4.1): a handler runs under pdb, driven from the
terminal of an Apache started in one-process mode (``httpd -X``).

The test plays the terminal: Apache runs with ``-X`` and pipes for stdin and
stdout, a request is sent from a thread, and pdb commands written to
Apache's stdin inspect and step the handler while the request waits."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests
from conftest import BARE_ENV

from mod_python._httpd import ServerConfig, child_answers, free_port, run_command, write_config

HANDLER = """\
import sys
from mod_python import apache

def handler(req):
    secret = "s3cr3t-" + (req.args or "")
    print("handler stderr: " + secret, file=sys.stderr)
    req.content_type = "text/plain"
    req.write("done " + secret)
    return apache.OK
"""

PROMPT = b"(Pdb) "


class Terminal:
    """Apache's stdin and stdout, read by a thread so reads can time out."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.output = b""
        self._chunks: queue.Queue[bytes | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 4096)
            self._chunks.put(chunk or None)
            if not chunk:
                return

    def wait_for_prompts(self, count: int, timeout: float = 20.0) -> bytes:
        """Wait until pdb has shown its prompt ``count`` times in all; the output so far."""
        deadline = time.monotonic() + timeout
        while self.output.count(PROMPT) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"pdb prompt #{count} did not appear; Apache's stdout:\n"
                    + self.output.decode(errors="replace")
                )
            try:
                chunk = self._chunks.get(timeout=min(remaining, 0.2))
            except queue.Empty:
                continue
            if chunk is None:
                raise AssertionError(
                    "Apache closed its stdout; it printed:\n" + self.output.decode(errors="replace")
                )
            self.output += chunk
        return self.output

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()


@pytest.fixture
def one_process_apache(apache_install, mpm, mod_python_so):
    root = Path(tempfile.mkdtemp(prefix="mp-it-pdb-"))
    os.chmod(root, 0o755)
    (root / "htdocs" / "debug").mkdir(parents=True)
    (root / "logs").mkdir()
    (root / "htdocs" / "debug" / "pdbhandler.py").write_text(HANDLER)
    cfg = ServerConfig(
        server_root=str(root / "logs"),
        port=free_port(),
        document_root=str(root / "htdocs"),
        mod_python_so=mod_python_so,
        mpm=mpm,
        extra=f"""
PythonOption mod_python.mutex_directory "{root}/logs/run"
<Directory "{root}/htdocs/debug">
    SetHandler mod_python
    PythonHandler pdbhandler
    PythonEnablePdb On
</Directory>
""",
    )
    conf_path = write_config(apache_install, cfg)
    with open(root / "logs" / "httpd.stderr", "wb") as stderr:
        proc = subprocess.Popen(
            [*run_command(apache_install, conf_path), "-X"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=apache_install.environ(BARE_ENV),
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "httpd -X exited:\n" + Path(cfg.error_log_path).read_text()
            # Served, not merely listening: a signal that arrives while the
            # process is still starting is lost by httpd -X itself.
            if child_answers(cfg.port):
                break
            assert time.monotonic() < deadline, "httpd -X did not answer"
            time.sleep(0.05)
        yield proc, f"http://127.0.0.1:{cfg.port}", root
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
        shutil.rmtree(root, ignore_errors=True)


class Client:
    """One request sent from a thread: it waits while pdb holds the handler."""

    def __init__(self, url: str) -> None:
        self.response: requests.Response | None = None
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._fetch, args=(url,))
        self._thread.start()

    def _fetch(self, url: str) -> None:
        try:
            # one process serves one connection at a time: do not keep it open
            self.response = requests.get(url, timeout=60, headers={"Connection": "close"})
        except Exception as exc:  # reported by result()
            self.error = exc

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self, proc: subprocess.Popen[bytes]) -> requests.Response:
        self._thread.join(30)
        if not self.done:  # a failed step: EOF on stdin makes pdb quit, the request ends
            assert proc.stdin is not None
            proc.stdin.close()
            self._thread.join(30)
        assert self.error is None, self.error
        assert self.response is not None
        return self.response


def test_pdb_drives_a_handler_from_apaches_terminal(one_process_apache):
    proc, url, root = one_process_apache
    term = Terminal(proc)
    client = Client(f"{url}/debug/page?abc")
    try:
        # pdb.runcall stops at the handler's first line
        out = term.wait_for_prompts(1)
        assert b"pdbhandler.py(5)handler()" in out
        assert b'-> secret = "s3cr3t-" + (req.args or "")' in out
        time.sleep(0.2)
        assert not client.done  # the request waits for the debugger

        term.send("p req.uri")
        out = term.wait_for_prompts(2)
        assert out.split(PROMPT)[1].strip() == b"'/debug/page'"

        term.send("n")
        out = term.wait_for_prompts(3)
        assert b"pdbhandler.py(6)handler()" in out.split(PROMPT)[2]

        term.send("p secret")
        out = term.wait_for_prompts(4)
        assert out.split(PROMPT)[3].strip() == b"'s3cr3t-abc'"

        term.send("c")
    finally:
        response = client.result(proc)
    assert (response.status_code, response.text) == (200, "done s3cr3t-abc")
    # Apache's stderr is its error log, and so is Python's sys.stderr
    error_log = root / "logs" / "error_log"
    assert "handler stderr: s3cr3t-abc" in error_log.read_text()

    # q(uit) ends the handler with BdbQuit: logged, answered with a 500
    client = Client(f"{url}/debug/page?second")
    try:
        term.wait_for_prompts(5)
        term.send("q")
    finally:
        response = client.result(proc)
    assert response.status_code == 500
    deadline = time.monotonic() + 5
    while "bdb.BdbQuit" not in error_log.read_text():
        assert time.monotonic() < deadline, error_log.read_text()[-3000:]
        time.sleep(0.05)
    assert "handler stderr: s3cr3t-second" not in error_log.read_text()


def test_one_process_apache_leaves_no_lock_file(one_process_apache):
    # httpd -X exits without destroying its configuration pool: the child pool
    # must remove the global mutexes' lock files
    proc, _url, root = one_process_apache
    run_dir = root / "logs" / "run"
    assert len(list(run_dir.glob(f"mod_python.{proc.pid}.*.lock"))) == 8
    proc.send_signal(signal.SIGTERM)
    proc.wait(20)
    assert list(run_dir.glob("mod_python.*.lock")) == []
