"""Benchmark: a mod_python hello handler against a static file of the same body,
and the publisher and a PSP page against the plain handler.

Two plain handlers: the manual's (``req.write(s)``, which flushes, so the body
goes out in a packet of its own) and one that writes with ``flush=0``. The
publisher publishes a function returning the body; the PSP page is the body.

Both are served by the same Apache (one server per MPM), measured side by
side with `ab -k` (keep-alive) at concurrency 1 and 32.  Prints a table of
requests/s and the ratio handler/static; absolute numbers on a shared
machine are noise, the ratio is the figure.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from mod_python._httpd import ApacheServer, ServerConfig, find_apache, free_port

BODY = "Hello World!"
WORKERS = 40  # threads per child (worker/event) or children (prefork)

HANDLER = f"""from mod_python import apache


def handler(req):
    req.content_type = "text/plain"
    req.write({BODY!r})  # flushes, as the manual's write() does by default
    return apache.OK


def buffered(req):
    req.content_type = "text/plain"
    req.write({BODY!r}, 0)  # no flush: Apache sends headers and body in one go
    return apache.OK
"""

PUBLISHED = f"""def index(req):
    return {BODY!r}
"""

# Keep-alive connections are never closed by the server, and prefork starts
# every child up front: ab -k counts a connection the server closes between
# requests, or one spawned children make wait for, as a failed request, and
# neither measures the handler.
CONFIG = """
MaxKeepAliveRequests 0
<Directory "{docroot}/py">
    SetHandler mod_python
    PythonHandler hello
    PythonAutoReload Off
</Directory>
<Directory "{docroot}/buffered">
    SetHandler mod_python
    PythonHandler hello::buffered
    PythonAutoReload Off
</Directory>
<Directory "{docroot}/pub">
    SetHandler mod_python
    PythonHandler mod_python.publisher
    PythonAutoReload Off
</Directory>
<Directory "{docroot}/psp">
    SetHandler mod_python
    PythonHandler mod_python.psp
    PythonAutoReload Off
</Directory>
<Directory "{docroot}/static">
    ForceType text/plain
</Directory>
"""

PREFORK = f"""
StartServers {WORKERS}
MinSpareServers {WORKERS}
MaxSpareServers {WORKERS}
"""

PATHS = {
    "handler": "/py/hello",
    "buffered": "/buffered/hello",
    "publisher": "/pub/hello",
    "psp": "/psp/hello.psp",
    "static": "/static/hello.txt",
}


def ab(url: str, concurrency: int, requests: int) -> float:
    out = subprocess.run(
        ["ab", "-q", "-k", "-n", str(requests), "-c", str(concurrency), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    failed = re.search(r"Failed requests:\s+(\d+)", out)
    if failed and int(failed.group(1)):
        raise RuntimeError(f"ab reported failed requests for {url}:\n{out}")
    match = re.search(r"Requests per second:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"unexpected ab output:\n{out}")
    return float(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--apxs", default=None)
    parser.add_argument("--module", required=True, help="mod_python.so to load")
    parser.add_argument("--mpms", default="event,prefork")
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs, best kept")
    args = parser.parse_args()

    install = find_apache(args.apxs)
    rows = []
    for mpm in args.mpms.split(","):
        root = Path(tempfile.mkdtemp(prefix="mp-bench-"))
        os.chmod(root, 0o755)
        docroot = root / "htdocs"
        (docroot / "py").mkdir(parents=True)
        (docroot / "buffered").mkdir()
        (docroot / "static").mkdir()
        (docroot / "pub").mkdir()
        (docroot / "psp").mkdir()
        (docroot / "pub" / "hello.py").write_text(PUBLISHED)
        (docroot / "psp" / "hello.psp").write_text(BODY)
        (docroot / "py" / "hello.py").write_text(HANDLER)
        (docroot / "buffered" / "hello.py").write_text(HANDLER)
        (docroot / "static" / "hello.txt").write_text(BODY)
        cfg = ServerConfig(
            server_root=str(root / "logs"),
            port=free_port(),
            document_root=str(docroot),
            mod_python_so=args.module,
            mpm=mpm,
            log_level="warn",
            access_log="/dev/null",
            threads=WORKERS,
            extra=CONFIG.replace("{docroot}", str(docroot)) + (PREFORK if mpm == "prefork" else ""),
        )
        try:
            with ApacheServer(install, cfg) as server:
                try:
                    for path in PATHS.values():
                        ab(server.url + path, 32, 2000)  # warm up: children, module loaded
                except RuntimeError:
                    print(server.error_log_text()[-4000:])
                    raise
                for concurrency in (1, 32):
                    best = dict.fromkeys(PATHS, 0.0)
                    for _ in range(args.rounds):  # alternate so all see the same noise
                        for kind, path in PATHS.items():
                            rps = ab(server.url + path, concurrency, args.requests)
                            best[kind] = max(best[kind], rps)
                    rows.append((mpm, concurrency, best))
        finally:
            shutil.rmtree(root, ignore_errors=True)

    print(f"\n{install.describe()}, {args.requests} requests per run, best of {args.rounds}")
    print(
        f"{'MPM':8} {'c':>3} {'static':>8} {'write()':>8} {'write(,0)':>10} {'publisher':>10}"
        f" {'psp':>8} | {'write/static':>12} {'write(,0)/static':>16}"
        f" {'publisher/write(,0)':>19} {'psp/write(,0)':>13}"
    )
    for mpm, concurrency, best in rows:
        static, plain = best["static"], best["buffered"]
        print(
            f"{mpm:8} {concurrency:>3} {static:>8.0f} {best['handler']:>8.0f} {plain:>10.0f}"
            f" {best['publisher']:>10.0f} {best['psp']:>8.0f} |"
            f" {best['handler'] / static:>12.2f} {plain / static:>16.2f}"
            f" {best['publisher'] / plain:>19.2f} {best['psp'] / plain:>13.2f}"
        )
    print("requests/s, best of the runs; the ratios are the figures")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
