"""Benchmark: mod_python's C query string parser against urllib.parse.

A handler inside Apache (the only place ``_apache`` exists) first checks
that ``_apache.parse_qsl`` and ``urllib.parse.parse_qsl`` give the same
result for each query string, then times both with timeit (best of
``--repeat`` runs of about 0.2 s each) and returns the timings.  Prints a
table of microseconds per call and the ratio urllib/C; the ratio is the
figure, absolute numbers on a shared machine are noise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

from mod_python._httpd import ApacheServer, ServerConfig, find_apache, free_port

HANDLER = """import json
import timeit
import urllib.parse

import _apache
from mod_python import apache

FORM = "&".join(f"field{i}=value+number+{i}" for i in range(50))
TEXT = "Gr\\u00fc\\u00dfe aus K\\u00f6ln, \\u20ac 10 und mehr: \\u65e5\\u672c\\u8a9e? "
QUERIES = {
    "short (a=1&b=2)": "a=1&b=2",
    "form, 50 fields": FORM,
    "percent-heavy": urllib.parse.urlencode([(f"t{i}", TEXT) for i in range(10)]),
    "one 4 KB value": "text=" + urllib.parse.quote_plus("lorem ipsum dolor " * 228),
    "non-ASCII str": "&".join(f"n{i}={TEXT}" for i in range(10)),
    "form, 50 fields, bytes": FORM.encode(),
}


def best(call, repeat):
    timer = timeit.Timer(call)
    number, _ = timer.autorange()  # at least 0.2 s per run
    return min(timer.repeat(repeat, number)) / number * 1e6


def handler(req):
    fn = req.args.split(",")[0]
    repeat = int(req.args.split(",")[1])
    c_fn, py_fn = getattr(_apache, fn), getattr(urllib.parse, fn)
    rows = []
    for name, qs in QUERIES.items():
        # urllib gets bytes as the str it would be decoded to: what a caller
        # of urllib does with a request body
        py_qs = qs.decode() if isinstance(qs, bytes) else qs
        if c_fn(qs) != py_fn(py_qs):
            raise RuntimeError(f"{fn} disagrees with urllib.parse on {name}")
        rows.append([name, len(qs), best(lambda: c_fn(qs), repeat),
                     best(lambda: py_fn(py_qs), repeat)])
    req.content_type = "application/json"
    req.write(json.dumps(rows))
    return apache.OK
"""

CONFIG = """
<Directory "{docroot}/bench">
    SetHandler mod_python
    PythonHandler parse_qs_bench
    PythonAutoReload Off
</Directory>
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--apxs", default=None)
    parser.add_argument("--module", required=True, help="mod_python.so to load")
    parser.add_argument("--mpm", default="event")
    parser.add_argument("--function", choices=["parse_qsl", "parse_qs"], default="parse_qsl")
    parser.add_argument("--repeat", type=int, default=5, help="timeit runs, best kept")
    args = parser.parse_args()

    install = find_apache(args.apxs)
    root = Path(tempfile.mkdtemp(prefix="mp-bench-"))
    try:
        os.chmod(root, 0o755)
        docroot = root / "htdocs"
        (docroot / "bench").mkdir(parents=True)
        (docroot / "bench" / "parse_qs_bench.py").write_text(HANDLER)
        cfg = ServerConfig(
            server_root=str(root / "logs"),
            port=free_port(),
            document_root=str(docroot),
            mod_python_so=args.module,
            mpm=args.mpm,
            log_level="warn",
            access_log="/dev/null",
            extra=CONFIG.replace("{docroot}", str(docroot)),
        )
        with ApacheServer(install, cfg) as server:
            url = f"{server.url}/bench/run?{args.function},{args.repeat}"
            try:
                with urllib.request.urlopen(url, timeout=600) as resp:
                    rows = json.load(resp)
            except Exception:
                print(server.error_log_text()[-4000:])
                raise
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print(f"\n{install.describe()}, {args.mpm}: {args.function}, best of {args.repeat}")
    print(f"{'query string':24} {'length':>7} {'C µs':>9} {'urllib µs':>10} {'urllib/C':>9}")
    for name, length, c_us, py_us in rows:
        print(f"{name:24} {length:>7} {c_us:>9.2f} {py_us:>10.2f} {py_us / c_us:>9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
