"""Install each built wheel alone into a fresh venv and use it (``nox -s build``).

    python packaging/check_dists.py DIST_DIR

For every distribution, a new virtual environment gets ``pip install
--no-index --find-links DIST_DIR <name>``: only that wheel and the wheels of
the siblings it declares, nothing from PyPI, so an undeclared dependency or a
file missing from a wheel fails here. Then:

- every module of the distribution imports and reports the version in the
  wheel's metadata, and no other mod_python distribution is installed;
- psp: the compiled ``mod_python._psp`` parses a page;
- core: ``mod_python build-module`` builds the Apache module from the sources
  in the wheel, ``mod_python module-config`` names it, and ``mod_python
  serve`` with it answers a request for a handler over HTTP.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

#: distribution -> (its modules, the siblings its wheel must pull in)
DISTRIBUTIONS = {
    "mod_python-core": (["mod_python.version", "mod_python.importer", "mod_python._cli"], []),
    "mod_python-cookie": (["mod_python.Cookie"], []),
    "mod_python-session": (["mod_python.Session"], ["mod_python-core", "mod_python-cookie"]),
    "mod_python-publisher": (["mod_python.publisher"], ["mod_python-core"]),
    "mod_python-psp": (["mod_python.psp", "mod_python._psp"], ["mod_python-core"]),
}

PROBE = """
import importlib, importlib.metadata as md, json, sys
dist, modules = sys.argv[1], sys.argv[2:]
loaded = {m: getattr(importlib.import_module(m), "__file__", None) for m in modules}
names = sorted(d.metadata["Name"] for d in md.distributions())
print(json.dumps({"version": md.version(dist), "loaded": loaded, "dists": names}))
"""

HANDLER = """from mod_python import apache


def handler(req):
    req.content_type = "text/plain"
    req.write("built by build-module")
    return apache.OK
"""


def _venv(root: Path, name: str) -> Path:
    env = root / name
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    return env


def _check_distribution(dist_dir: Path, root: Path, dist: str) -> Path:
    modules, siblings = DISTRIBUTIONS[dist]
    env = _venv(root, dist)
    py = str(env / "bin" / "python")
    subprocess.run(
        [py, "-m", "pip", "install", "-q", "--no-index", "--find-links", str(dist_dir), dist],
        check=True,
    )
    # Run from the venv's directory so the repository's sources cannot be imported.
    out = subprocess.run(
        [py, "-c", PROBE, dist, *modules], check=True, capture_output=True, text=True, cwd=env
    ).stdout
    probe = json.loads(out)
    for module, path in probe["loaded"].items():
        if path is not None and not path.startswith(str(env)):
            raise SystemExit(f"{dist}: {module} was imported from {path}, not from the venv")
    found = sorted(
        n for n in probe["dists"] if n.lower().replace("_", "-").startswith("mod-python")
    )
    wanted = sorted(n.lower() for n in [dist, *siblings])
    if sorted(n.lower().replace("_", "-") for n in found) != [w.replace("_", "-") for w in wanted]:
        raise SystemExit(f"{dist}: expected the distributions {wanted}, found {found}")
    print(f"{dist} {probe['version']}: installs alone and imports {', '.join(modules)}")
    return env


def _check_psp(env: Path) -> None:
    code = "from mod_python import psp; print(psp.parsestring('<%= 6 * 7 %>'))"
    out = subprocess.run(
        [str(env / "bin" / "python"), "-c", code], check=True, capture_output=True, text=True
    )
    if "6 * 7" not in out.stdout:
        raise SystemExit(f"mod_python-psp: the compiled parser gave {out.stdout!r}")
    print("mod_python-psp: the compiled _psp parses a page")


def _get(url: str, deadline: float) -> str:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _check_build_module(env: Path, root: Path) -> None:
    tool = str(env / "bin" / "mod_python")
    subprocess.run([tool, "build-module"], check=True, cwd=root)
    config = subprocess.run(
        [tool, "module-config"], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    if not config or not config[0].startswith("LoadModule python_module "):
        raise SystemExit(f"module-config printed {config!r}")
    module = config[0].split(" ", 2)[2]
    if not module.startswith(str(env)):
        raise SystemExit(f"module-config named {module}, not the module built in {env}")
    site = root / "site"
    site.mkdir()
    (site / "hello.py").write_text(HANDLER)
    port = _free_port()
    server = subprocess.Popen(
        [tool, "serve", "--port", str(port), "--python-handler", "hello", str(site)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = _get(f"http://127.0.0.1:{port}/anything", time.monotonic() + 30)
    finally:
        server.send_signal(signal.SIGTERM)
        log = server.communicate(timeout=30)[0]
    if body != "built by build-module":
        raise SystemExit(f"the module built by build-module answered {body!r}\n{log}")
    print(f"mod_python-core: build-module built {module}, and it serves a handler")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    dist_dir = Path(sys.argv[1]).resolve()
    root = Path(tempfile.mkdtemp(prefix="mp-dists-"))
    os.chmod(root, 0o755)
    try:
        for dist in DISTRIBUTIONS:
            env = _check_distribution(dist_dir, root, dist)
            if dist == "mod_python-psp":
                _check_psp(env)
            if dist == "mod_python-core":
                _check_build_module(env, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
