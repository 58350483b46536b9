#!/usr/bin/python3
"""Build the Debian packages, lint them, install them and serve examples/ (``nox -s deb``).

    /usr/bin/python3 packaging/debian/build_and_test.py [--out DIR] [--binary-only]
        [--head] [--no-check] [--no-install] [--keep]

Needs root (it installs packages) on Debian 12 with the build dependencies of
packaging/debian/control, lintian and apache2 installed. Steps:

1. export the repository (``git ls-files``: committed and untracked files,
   not ignored ones, as they are in the working tree; with --head the last
   commit, ``git archive HEAD``) into a temporary directory, make
   ``mod-python_<version>.orig.tar.xz`` from it and put packaging/debian at
   ``debian/``;
2. ``dpkg-buildpackage -us -uc`` (source and binary packages; ``-b`` with
   --binary-only), with a plain PATH so that Debian's python3 builds;
3. ``lintian`` on the .changes: any error fails the run; rpmlint on
   packaging/rpm/mod_python.spec when rpmlint is installed;
4. ``apt-get install`` of the .debs (dependencies from Debian), then checks
   that every distribution imports from /usr/lib/python3/dist-packages with
   its package's version;
5. a private Apache instance made with Debian's own machinery
   (/usr/share/doc/apache2/examples/setup-instance: /etc/apache2-<name>,
   apache2ctl-<name>, a2enmod-<name>), listening only on 127.0.0.1 on a free
   port, with ``a2enmod-<name> python`` and a site serving examples/; a few
   URLs are requested and their answers checked;
6. whatever happens: that Apache is stopped, the instance removed, the
   packages purged, and any package the installation replaced, upgraded or
   removed is put back from a copy saved beforehand; /etc/apache2 and
   /var/lib/apache2 are compared with how they were.

The artifacts are copied to --out (default: dist/deb in the repository) and
listed with their versions and sizes. The system's Apache (its service and
/etc/apache2) is never touched: the instance keeps its a2enmod state in
/var/lib/apache2-<name> instead of /var/lib/apache2.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Sequence, Set, Tuple

ROOT = Path(__file__).resolve().parents[2]
DEBIAN_DIR = ROOT / "packaging" / "debian"
SPEC = ROOT / "packaging" / "rpm" / "mod_python.spec"
SOURCE = "mod-python"
PACKAGES = [
    "libapache2-mod-python",
    "python3-mod-python-core",
    "python3-mod-python-cookie",
    "python3-mod-python-session",
    "python3-mod-python-publisher",
    "python3-mod-python-psp",
]
#: distribution -> a module it provides, for the import check.
DISTRIBUTIONS = {
    "mod_python-core": "mod_python.version",  # .apache needs Apache's _apache
    "mod_python-cookie": "mod_python.Cookie",
    "mod_python-session": "mod_python.Session",
    "mod_python-publisher": "mod_python.publisher",
    "mod_python-psp": "mod_python.psp",
}
DIST_PACKAGES = "/usr/lib/python3/dist-packages/"
SETUP_INSTANCE = Path("/usr/share/doc/apache2/examples/setup-instance")
A2_TOOLS = ["a2enmod", "a2dismod", "a2ensite", "a2dissite", "a2enconf", "a2disconf", "apache2ctl"]
#: Watched for changes: the main Apache's configuration and a2enmod state.
WATCHED = [Path("/etc/apache2"), Path("/var/lib/apache2")]
LOCK = Path("/run/lock/mod_python-deb.lock")
CLEAN_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "DEBIAN_FRONTEND": "noninteractive",
}
APT = [
    "apt-get",
    "-y",
    "-q",
    "-o",
    "DPkg::Lock::Timeout=600",
    "-o",
    "Dpkg::Options::=--force-confdef",
    "-o",
    "Dpkg::Options::=--force-confold",
]


class Check(NamedTuple):
    """A request to the instance and what its answer must hold."""

    path: str
    status: int
    texts: Tuple[str, ...]
    auth: Optional[Tuple[str, str]] = None
    header: str = ""


def checks(core: str, module: str) -> List[Check]:
    """examples/ as `nox -s serve` shows it, the test handler (which names the
    versions of the installed core and module) and, beside examples/, one
    handler each of publisher, PSP and Session, which need their packages
    (psp its C parser) inside Apache."""
    return [
        Check("/index.html", 200, ("mod_python examples",)),
        Check("/hello/", 200, ("Hello World!",)),
        Check("/auth/secret.py", 401, ()),
        Check("/auth/secret.py", 200, ("Welcome, spam",), auth=("spam", "eggs")),
        Check("/errors/handler-error.html", 404, ("Page not here",)),
        Check("/mpinfo", 200, (core, module, DIST_PACKAGES.rstrip("/"))),
        Check("/mp-publisher/pub.py/say?what=hi", 200, ("publisher says hi",)),
        Check("/mp-psp/page.psp", 200, ("PSP: 42",)),
        Check("/mp-session/counter.py", 200, ("session count 1",), header="Set-Cookie"),
    ]


#: The handlers beside examples/: path -> text.
EXTRA_FILES = {
    "publisher/pub.py": 'def say(req, what="nothing"):\n    return f"publisher says {what}"\n',
    "psp/page.psp": "<p>PSP: <%= 6 * 7 %></p>\n",
    "session/counter.py": """from mod_python import Session, apache


def handler(req):
    session = Session.Session(req)
    session["n"] = session.get("n", 0) + 1
    session.save()
    req.content_type = "text/plain"
    req.write(f"session count {session['n']}")
    return apache.OK
""",
}
EXTRA_CONF = """
    Alias /mp-publisher {extra}/publisher
    <Directory {extra}/publisher>
        AddHandler mod_python .py
        PythonHandler mod_python.publisher
        Require all granted
    </Directory>
    Alias /mp-psp {extra}/psp
    <Directory {extra}/psp>
        AddHandler mod_python .psp
        PythonHandler mod_python.psp
        Require all granted
    </Directory>
    Alias /mp-session {extra}/session
    <Directory {extra}/session>
        AddHandler mod_python .py
        PythonHandler counter
        PythonOption mod_python.session.session_type MemorySession
        Require all granted
    </Directory>
"""


def log(message: str) -> None:
    print(f"deb: {message}", flush=True)


def run(
    command: Sequence[str],
    *,
    cwd: Optional[Path] = None,
    env: Optional[Dict[str, str]] = None,
    check: bool = True,
    capture: bool = False,
    logfile: Optional[Path] = None,
) -> subprocess.CompletedProcess[str]:
    """Run `command` with the clean environment (plus `env`)."""
    full_env = {**CLEAN_ENV, **(env or {})}
    if logfile is not None:
        with logfile.open("a") as out:
            out.write(f"$ {' '.join(command)}\n")
            out.flush()
            result = subprocess.run(
                command, cwd=cwd, env=full_env, stdout=out, stderr=subprocess.STDOUT, text=True
            )
    else:
        result = subprocess.run(command, cwd=cwd, env=full_env, capture_output=capture, text=True)
    if check and result.returncode != 0:
        detail = (result.stdout or "") + (result.stderr or "") if capture else ""
        raise SystemExit(f"deb: {' '.join(command)} failed ({result.returncode})\n{detail}")
    return result


def tail(path: Path, lines: int = 60) -> str:
    try:
        return "".join(path.read_text(errors="replace").splitlines(True)[-lines:])
    except OSError:
        return f"({path} not readable)"


# --- export and build --------------------------------------------------------


def export_tree(dest: Path, head: bool) -> None:
    """The working tree's committed and untracked, not ignored, files into `dest`;
    with `head`, the last commit instead (git archive HEAD)."""
    if head:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        return
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    for name in sorted(set(filter(None, out.decode().split("\0")))):
        source = ROOT / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree, not yet in the index
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            os.symlink(os.readlink(source), target)
        elif source.is_file():
            shutil.copy2(source, target)


def changelog_version(debian: Path) -> str:
    out = run(["dpkg-parsechangelog", "-l", str(debian / "changelog"), "-SVersion"], capture=True)
    return out.stdout.strip()


def mp_debian() -> Any:
    """debian/mp_debian.py, which knows the components' versions."""
    spec = importlib.util.spec_from_file_location("mp_debian", DEBIAN_DIR / "mp_debian.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.dont_write_bytecode = True  # nothing written into packaging/debian
    spec.loader.exec_module(module)
    return module


def expected_versions(src: Path) -> Dict[str, str]:
    """binary package -> Debian upstream version, from the sources in `src`."""
    return dict(mp_debian().versions(src))


def make_orig(src: Path, work: Path, upstream: str) -> Path:
    """mod-python_<upstream>.orig.tar.xz of `src`, reproducible (sorted, no owners)."""
    tarball = work / f"{SOURCE}_{upstream}.orig.tar.xz"
    top = f"{SOURCE}-{upstream}"

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 0
        return info

    with tarfile.open(tarball, "w:xz") as tar:
        for path in sorted(src.rglob("*")):
            tar.add(path, arcname=f"{top}/{path.relative_to(src)}", recursive=False, filter=clean)
    return tarball


def build(work: Path, binary_only: bool, nocheck: bool, head: bool, logfile: Path) -> Path:
    """Export, dpkg-buildpackage; returns the .changes file."""
    version = changelog_version(DEBIAN_DIR)
    upstream = version.rsplit("-", 1)[0].split(":", 1)[-1]
    src = work / f"{SOURCE}-{upstream}"
    src.mkdir()
    export_tree(src, head)
    module = mp_debian().debian_version(mp_debian().module_version(src))
    if upstream != module:
        log(
            f"warning: debian/changelog is at {upstream}, the Apache module at {module}: "
            f'add an entry (dch -c packaging/debian/changelog -v {module}-1 "...")'
        )
    shutil.rmtree(src / "debian", ignore_errors=True)
    if not binary_only:
        make_orig(src, work, upstream)
    # debian/ is packaging/debian without this script, which is not part of it
    shutil.copytree(
        DEBIAN_DIR,
        src / "debian",
        symlinks=True,
        ignore=shutil.ignore_patterns(Path(__file__).name, "__pycache__"),
    )
    command = ["dpkg-buildpackage", "-us", "-uc"] + (["-b"] if binary_only else [])
    env = {"DEB_BUILD_OPTIONS": "nocheck"} if nocheck else {}
    log(f"{' '.join(command)} in {src} (log: {logfile})")
    result = run(command, cwd=src, env=env, check=False, logfile=logfile)
    if result.returncode != 0:
        print(tail(logfile, 80), file=sys.stderr)
        raise SystemExit(f"deb: dpkg-buildpackage failed ({result.returncode}), log: {logfile}")
    changes = sorted(work.glob("*.changes"))
    if len(changes) != 1:
        raise SystemExit(f"deb: expected one .changes file, found {changes}")
    return changes[0]


def lint(changes: Path) -> None:
    """lintian on everything the .changes lists; errors fail the run."""
    log(f"lintian {changes.name}")
    result = run(
        ["lintian", "--fail-on", "error", "--display-info", "--pedantic", str(changes)],
        check=False,
        capture=True,
    )
    output = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "running with root privileges" not in line
    ]
    print("\n".join(output) or "(no tags)", flush=True)
    counts: Dict[str, int] = {}
    for line in output:
        if len(line) > 1 and line[1] == ":":
            counts[line[0]] = counts.get(line[0], 0) + 1
    log("lintian: " + (", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "clean"))
    if result.returncode != 0:
        raise SystemExit(f"deb: lintian reported errors ({result.returncode})")


def lint_spec() -> None:
    """rpmlint on the RPM spec, when rpmlint is installed (apt-get install rpmlint)."""
    if not SPEC.exists():
        log(f"{SPEC} missing: nothing to rpmlint")
        return
    if not shutil.which("rpmlint", path=CLEAN_ENV["PATH"]):
        log("rpmlint not installed: the RPM spec is not linted")
        return
    log(f"rpmlint {SPEC.relative_to(ROOT)}")
    result = run(["rpmlint", str(SPEC)], check=False, capture=True)
    print((result.stdout + result.stderr).rstrip(), flush=True)
    if result.returncode != 0:
        raise SystemExit(f"deb: rpmlint found errors in {SPEC.name}")


# --- the system's package state ------------------------------------------------


def installed_packages() -> Dict[str, str]:
    """Installed packages (with their architecture when not native) -> version."""
    out = run(
        ["dpkg-query", "-W", "-f", "${binary:Package} ${Version} ${db:Status-Abbrev}\n"],
        capture=True,
    ).stdout
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2].startswith("i"):
            found[parts[0].split(":")[0]] = parts[1]
    return found


def auto_installed() -> Set[str]:
    return set(run(["apt-mark", "showauto"], capture=True).stdout.split())


def planned_changes(debs: Sequence[Path]) -> Tuple[Set[str], Set[str]]:
    """What installing `debs` would do: (packages newly installed, packages removed
    or replaced by another version), from apt-get's simulation."""
    out = run(
        [*APT, "install", "-s", "--no-install-recommends", *map(str, debs)], capture=True
    ).stdout
    new: Set[str] = set()
    changed: Set[str] = set()
    for line in out.splitlines():
        inst = re.match(r"Inst (\S+) (\[\S+\] )?\(", line)
        if inst:
            (changed if inst.group(2) else new).add(inst.group(1).split(":")[0])
        remv = re.match(r"Remv (\S+)", line)
        if remv:
            changed.add(remv.group(1).split(":")[0])
    return new, changed


def save_packages(packages: Dict[str, str], dest: Path) -> List[Path]:
    """A .deb of each installed package, to put back afterwards: from the archive
    (apt-get download), else rebuilt from the system by dpkg-repack."""
    dest.mkdir(parents=True, exist_ok=True)
    saved = []
    for name, version in sorted(packages.items()):
        before = set(dest.glob("*.deb"))
        got = run(["apt-get", "download", f"{name}={version}"], cwd=dest, check=False, capture=True)
        if got.returncode != 0 and shutil.which("dpkg-repack", path=CLEAN_ENV["PATH"]):
            got = run(["dpkg-repack", name], cwd=dest, check=False, capture=True)
        new = set(dest.glob("*.deb")) - before
        if got.returncode != 0 or not new:
            raise SystemExit(
                f"deb: {name} {version} is installed and no copy of it can be saved to put"
                " it back afterwards (not in the apt archive). Remove it first"
                f" (apt-get purge {name}), or install dpkg-repack."
            )
        saved += sorted(new)
        log(f"saved {name} {version} to put back afterwards")
    return saved


def tree_state(paths: Sequence[Path]) -> Dict[str, str]:
    """path -> what it is (directory, link target, file digest), for comparing."""
    state: Dict[str, str] = {}
    for top in paths:
        if not top.exists():
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            for name in dirnames + filenames:
                path = Path(dirpath, name)
                if path.is_symlink():
                    state[str(path)] = "-> " + os.readlink(path)
                elif path.is_dir():
                    state[str(path)] = "dir"
                else:
                    state[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


# --- the Apache instance -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Instance:
    """An Apache instance made by Debian's setup-instance, on 127.0.0.1:`port`."""

    def __init__(self, name: str, port: int, docroot: Path, extra: Path) -> None:
        self.name = name
        self.port = port
        self.docroot = docroot
        self.extra = extra
        self.confdir = Path(f"/etc/apache2-{name}")
        self.statedir = Path(f"/var/lib/apache2-{name}")
        self.logdir = Path(f"/var/log/apache2-{name}")
        self.rundir = Path(f"/var/run/apache2-{name}")
        self.started = False
        # Everything setup-instance and apache2ctl create for an instance.
        self.paths = [
            self.confdir,
            self.statedir,
            self.logdir,
            self.rundir,
            Path(f"/var/lock/apache2-{name}"),
            Path(f"/etc/init.d/apache2-{name}"),
            Path(f"/etc/logrotate.d/apache2-{name}"),
            Path(f"/etc/default/apache-htcacheclean-{name}"),
            *(Path(f"/usr/local/sbin/{tool}-{name}") for tool in A2_TOOLS),
        ]

    @staticmethod
    def unused_name() -> str:
        while True:
            name = f"mpdeb{secrets.token_hex(3)}"
            if not Path(f"/etc/apache2-{name}").exists():
                return name

    def tool(self, name: str) -> str:
        return f"/usr/local/sbin/{name}-{self.name}"

    def create(self) -> None:
        taken = [p for p in self.paths if p.exists() or p.is_symlink()]
        if taken:
            raise SystemExit(f"deb: instance {self.name}: {taken} already exist")
        if SETUP_INSTANCE.exists():
            run(["sh", str(SETUP_INSTANCE), self.name], capture=True)
        else:  # a system without /usr/share/doc: the part of setup-instance used here
            log(f"{SETUP_INSTANCE} missing: copying /etc/apache2 and linking the a2 tools")
            shutil.copytree("/etc/apache2", self.confdir, symlinks=True)
            for tool in A2_TOOLS:
                os.symlink(f"/usr/sbin/{tool}", self.tool(tool))
            self.logdir.mkdir(mode=0o750)
        # a2enmod-<name> and friends keep their state here, not in /var/lib/apache2.
        with (self.confdir / "envvars").open("a") as envvars:
            envvars.write(f"\nexport APACHE_STATE_DIRECTORY={self.statedir}\n")
        (self.confdir / "ports.conf").write_text(f"Listen 127.0.0.1:{self.port}\n")
        site = f"""# mod_python's examples, served by build_and_test.py
ServerName 127.0.0.1
<VirtualHost 127.0.0.1:{self.port}>
    DocumentRoot {self.docroot}
    <Directory {self.docroot}>
        AllowOverride All
        Require all granted
    </Directory>
    <Location /mpinfo>
        SetHandler mod_python
        PythonHandler mod_python.testhandler
    </Location>
{EXTRA_CONF.format(extra=self.extra)}
    ErrorLog ${{APACHE_LOG_DIR}}/error.log
    CustomLog ${{APACHE_LOG_DIR}}/access.log combined
</VirtualHost>
"""
        (self.confdir / "sites-available" / "mod-python-examples.conf").write_text(site)
        for command in (
            ["a2dissite", "000-default"],
            ["a2ensite", "mod-python-examples"],
            ["a2enmod", "python"],
        ):
            run([self.tool(command[0]), "-q", *command[1:]], capture=True)

    def start(self) -> None:
        run([self.tool("apache2ctl"), "configtest"], capture=True)
        self.started = True
        run([self.tool("apache2ctl"), "start"], capture=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return
            time.sleep(0.2)
        raise SystemExit(f"deb: Apache did not listen on {self.port}\n{self.error_log()}")

    def pid(self) -> Optional[int]:
        try:
            return int((self.rundir / "apache2.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        if not self.started:
            return
        pid = self.pid()
        run([self.tool("apache2ctl"), "stop"], check=False, capture=True)
        deadline = time.monotonic() + 30
        while pid and time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if pid and _alive(pid):  # only ever the parent this instance started
            log(f"Apache {pid} did not stop: SIGKILL")
            with contextlib.suppress(OSError):
                os.kill(pid, 9)
        self.started = False

    def error_log(self) -> str:
        return tail(self.logdir / "error.log", 40)

    def remove(self) -> None:
        for path in self.paths:
            if path.is_symlink() or path.is_file():
                path.unlink()
            elif path.is_dir():
                shutil.rmtree(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fetch(port: int, check: Check) -> Tuple[int, str, Dict[str, str]]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{check.path}")
    if check.auth:
        token = base64.b64encode(":".join(check.auth).encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as response:
            body = response.read().decode("utf-8", "replace")
            return response.status, body, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace"), dict(error.headers)


# --- the checks of the installed packages --------------------------------------

PROBE = """
import importlib, importlib.metadata as md, json, sys
result = {}
for dist, module in json.loads(sys.argv[1]).items():
    result[dist] = [md.version(dist), importlib.import_module(module).__file__]
print(json.dumps(result))
"""


def check_installed(versions: Dict[str, str]) -> None:
    """Each package at its version; each distribution imports from dist-packages
    with the same version in its metadata; the mod_python command runs."""
    have = installed_packages()
    for package in PACKAGES:
        if have.get(package, "").rsplit("-", 1)[0] != versions[package]:
            raise SystemExit(f"deb: {package} is {have.get(package)}, not {versions[package]}")
    out = run(
        ["/usr/bin/python3", "-I", "-c", PROBE, json.dumps(DISTRIBUTIONS)],
        cwd=Path("/"),
        capture=True,
    ).stdout
    for dist, (version, path) in json.loads(out).items():
        package = "python3-" + dist.lower().replace("_", "-")
        if not path.startswith(DIST_PACKAGES):
            raise SystemExit(f"deb: {DISTRIBUTIONS[dist]} imported from {path}, not the package")
        if mp_debian().debian_version(version) != versions[package]:
            raise SystemExit(f"deb: {dist} says {version}, its package {versions[package]}")
        log(f"{dist} {version} imports from {Path(path).parent}")
    out = run(["/usr/bin/mod_python", "--version"], capture=True).stdout.strip()
    log(f"/usr/bin/mod_python --version: {out}")


def serve_examples(docroot: Path, extra: Path, versions: Tuple[str, str]) -> None:
    for name, text in EXTRA_FILES.items():
        (extra / name).parent.mkdir(parents=True, exist_ok=True)
        (extra / name).write_text(text)
    instance = Instance(Instance.unused_name(), free_port(), docroot, extra)
    log(f"Apache instance {instance.name} on 127.0.0.1:{instance.port} serving {docroot}")
    try:
        instance.create()
        instance.start()
        failures = []
        for check in checks(*versions):
            status, body, headers = fetch(instance.port, check)
            who = f" as {check.auth[0]}" if check.auth else ""
            ok = status == check.status and all(text in body for text in check.texts)
            ok = ok and (not check.header or check.header in headers)
            log(f"GET {check.path}{who}: {status} {'ok' if ok else 'UNEXPECTED'}")
            if not ok:
                failures.append(f"GET {check.path}{who}: {status} {headers} {body[:400]!r}")
        # Every link of examples/index.html answers without a server error
        # (some ask for a password, one is a 404 on purpose).
        index = (docroot / "index.html").read_text()
        for link in sorted(set(re.findall(r'href="([^":#]+)"', index))):
            status, body, _ = fetch(instance.port, Check("/" + link, 0, ()))
            log(f"GET /{link}: {status} {'ok' if status < 500 else 'SERVER ERROR'}")
            if status >= 500:
                failures.append(f"GET /{link}: {status} {body[:400]!r}")
        locks = sorted(instance.rundir.glob("mod_python.*.lock"))
        log(f"{len(locks)} mod_python lock files in {instance.rundir} (python.conf)")
        if not locks:
            failures.append(f"no mod_python lock files in {instance.rundir}")
        if failures:
            raise SystemExit(
                "deb: the examples site answered wrongly:\n"
                + "\n".join(failures)
                + f"\n{instance.error_log()}"
            )
    finally:
        instance.stop()
        instance.remove()
        log(f"Apache instance {instance.name} stopped and removed")


def install_and_test(debs: List[Path], versions: Dict[str, str], work: Path, src: Path) -> None:
    before = installed_packages()
    auto_before = auto_installed()
    watched_before = tree_state(WATCHED)
    new, changed = planned_changes(debs)
    to_restore = {name: before[name] for name in (changed | set(PACKAGES)) & set(before)}
    saved = save_packages(to_restore, work / "saved")
    pulled = new - set(PACKAGES) - set(before)
    if pulled:
        log(f"dependencies to install from Debian: {' '.join(sorted(pulled))}")
    try:
        log("apt-get install " + " ".join(d.name for d in debs))
        run(
            [*APT, "install", "--reinstall", "--no-install-recommends", *map(str, debs)],
            capture=True,
        )
        check_installed(versions)
        mp = mp_debian()
        serve_examples(
            src / "examples",
            work / "extra",
            (mp.component_version("core", src), mp.module_version(src)),
        )
    finally:
        log("purging " + " ".join(PACKAGES))
        installed_now = installed_packages()
        ours = [p for p in PACKAGES if p in installed_now]
        if ours:
            run([*APT, "purge", *ours], check=False, capture=True)
        leftovers = sorted(p for p in pulled if p in installed_packages())
        if leftovers:
            log("purging the dependencies it installed: " + " ".join(leftovers))
            run([*APT, "purge", *leftovers], check=False, capture=True)
        if saved:
            log("putting back " + " ".join(f"{n} {v}" for n, v in sorted(to_restore.items())))
            run(
                [*APT, "install", "--allow-downgrades", "--no-install-recommends"]
                + [str(p) for p in saved],
                check=False,
                capture=True,
            )
            auto = sorted(set(to_restore) & auto_before)
            if auto:
                run(["apt-mark", "auto", *auto], check=False, capture=True)
        verify_restored(before, watched_before, set(PACKAGES) | set(to_restore) | pulled)


def verify_restored(
    before: Dict[str, str], watched_before: Dict[str, str], touched: Set[str]
) -> None:
    """Fail unless the packages this run `touched` and the WATCHED trees are as before;
    other packages that changed meanwhile (another apt run) are only reported."""
    after = installed_packages()
    differ = sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))
    ours = [f"{n} {before.get(n)} -> {after.get(n)}" for n in differ if n in touched]
    others = [f"{n} {before.get(n)} -> {after.get(n)}" for n in differ if n not in touched]
    if others:
        log(f"warning: other packages changed meanwhile: {', '.join(others)}")
    watched_after = tree_state(WATCHED)
    changed = sorted(
        path
        for path in set(watched_before) | set(watched_after)
        if watched_before.get(path) != watched_after.get(path)
    )
    if changed or ours:
        raise SystemExit("deb: the system is not as it was: " + ", ".join(changed + ours))
    log("system restored: /etc/apache2, /var/lib/apache2 and the packages are as before")


# --- main -----------------------------------------------------------------------


def artifacts(work: Path) -> List[Path]:
    kinds = (".deb", ".dsc", ".tar.xz", ".tar.gz", ".changes", ".buildinfo")
    return sorted(p for p in work.iterdir() if p.is_file() and p.name.endswith(kinds))


def describe(path: Path) -> Tuple[str, str]:
    if path.suffix == ".deb":
        out = run(["dpkg-deb", "-f", str(path), "Package", "Version"], capture=True).stdout
        fields = dict(line.split(": ", 1) for line in out.splitlines())
        return fields["Package"], fields["Version"]
    # mod-python_3.6.0~dev0-1.dsc, mod-python_3.6.0~dev0-1_amd64.changes, ...orig.tar.xz
    match = re.match(
        r"([^_]+)_([^_]+?)(?:_[^_.]+)?\.(?:dsc|changes|buildinfo|orig|debian)", path.name
    )
    return (match.group(1), match.group(2)) if match else (path.name, "")


def report(files: List[Path], out_dir: Path) -> None:
    print(f"\nArtifacts in {out_dir}:")
    rows = [(p.name, *describe(p), p.stat().st_size) for p in files]
    width = max(len(r[0]) for r in rows)
    for name, package, version, size in rows:
        print(f"  {name:<{width}}  {package:<30} {version:<16} {size:>9} bytes")


@contextlib.contextmanager
def exclusive() -> Iterator[None]:
    """One run at a time on this machine: they install the same packages."""
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with LOCK.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another run ({LOCK})")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "deb", help="artifacts go here")
    parser.add_argument("--binary-only", action="store_true", help="dpkg-buildpackage -b")
    parser.add_argument(
        "--head", action="store_true", help="build the last commit, not the working tree"
    )
    parser.add_argument("--no-check", action="store_true", help="DEB_BUILD_OPTIONS=nocheck")
    parser.add_argument("--no-install", action="store_true", help="build and lint only")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("deb: run as root: it installs packages and starts Apache")
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="mp-deb-"))
    os.chmod(work, 0o755)  # Apache's www-data serves examples/ from here
    try:
        with exclusive():
            args.out.mkdir(parents=True, exist_ok=True)
            logfile = args.out / "build.log"
            logfile.unlink(missing_ok=True)
            changes = build(work, args.binary_only, args.no_check, args.head, logfile)
            log(f"built in {time.monotonic() - started:.0f} s")
            lint(changes)
            lint_spec()
            files = artifacts(work)
            src = next(p for p in work.iterdir() if p.is_dir() and p.name.startswith(SOURCE))
            versions = expected_versions(src)
            if not args.no_install:
                debs = [p for p in files if p.suffix == ".deb" and "-dbgsym_" not in p.name]
                install_and_test(debs, versions, work, src)
            for old in args.out.iterdir():
                if old.name != logfile.name:
                    old.unlink()
            for path in files:
                shutil.copy2(path, args.out / path.name)
            report([args.out / p.name for p in files], args.out)
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    log(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
