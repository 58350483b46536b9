"""Sessions: lint, psp_scanner, unit, integration (Python x Apache x MPM), docs,
build, deb, serve, bench.

The Pythons 3.9-3.13 must be on PATH as python3.9 ... python3.13.  With pyenv:

    export PYENV_VERSION=3.11.7:3.9.18:3.10.13:3.12.1:3.13.0

`nox -s integration` runs the whole integration matrix: every Python x Apache
2.4 (Debian's apache2-dev), Apache 2.4 from the mod_wsgi-httpd package and
Apache 2.2 built from ../shared/vendor x every MPM (2.2: prefork and worker).
`nox` alone runs lint, psp_scanner, unit, docs, build and a cross-section of
the integration cells: every Python, every MPM and every Apache appears (see
_default_cell). `nox -s deb` (root: it installs and removes Debian packages)
is not among them.
Each cell's id names all three, e.g.
`integration(python='3.12', apache='2.2', mpm='worker')`; `nox -s
"integration(python='3.12', apache='2.4', mpm='event')"` runs one.  Builds
are kept in .nox/_cache so a cell does not rebuild what it has.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
CACHE = ROOT / ".nox" / "_cache"
PYTHONS = ["3.9", "3.10", "3.11", "3.12", "3.13"]
MPMS = ["prefork", "worker", "event"]
APACHES = ["2.4", "2.4-pip", "2.2"]
PACKAGES = ["core", "cookie", "session", "publisher", "psp"]
VENDOR_22 = ROOT.parent / "shared" / "vendor"

nox.options.error_on_missing_interpreters = True
nox.options.reuse_existing_virtualenvs = True


def _cells():
    for apache in APACHES:
        for python in PYTHONS:
            for mpm in MPMS:
                if apache == "2.2" and mpm == "event":
                    continue  # 2.2's event MPM does not work with modules
                yield python, apache, mpm


def _cell_id(python: str, apache: str, mpm: str) -> str:
    return f"python='{python}', apache='{apache}', mpm='{mpm}'"


CELLS = list(_cells())


def _default_cell(python: str, apache: str, mpm: str) -> bool:
    """`nox` alone, sized to stay well under 45 minutes on two cores: Debian's
    2.4 with every MPM on the oldest and newest Python and with event on 3.10
    and 3.12; 2.2 prefork on the oldest and worker on the newest Python;
    mod_wsgi-httpd's 2.4 with event on 3.11. `nox -s integration` runs every
    cell."""
    if apache == "2.4":
        return python in (PYTHONS[0], PYTHONS[-1]) or (mpm == "event" and python != "3.11")
    if apache == "2.2":
        return (python, mpm) in ((PYTHONS[0], "prefork"), (PYTHONS[-1], "worker"))
    return python == "3.11" and mpm == "event"


#: The Pythons whose unit sessions `nox` alone runs (`nox -s unit`: all five);
#: the integration cells above run the packages on every Python.
DEFAULT_UNIT_PYTHONS = [PYTHONS[0], "3.11", PYTHONS[-1]]


nox.options.sessions = [
    "lint",
    "psp_scanner",
    *(f"unit-{python}" for python in DEFAULT_UNIT_PYTHONS),
    "docs",
    "build",
    *(f"integration({_cell_id(*cell)})" for cell in CELLS if _default_cell(*cell)),
]


def _install_packages(session: nox.Session, *names: str) -> None:
    session.install(*(f"-e{ROOT / 'packages' / f'mod_python-{name}'}" for name in names))


def _system_apxs() -> str | None:
    for name in ("apxs", "apxs2"):
        found = shutil.which(name) or (
            f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None
        )
        if found:
            return found
    return None


def _pip_apache(session: nox.Session) -> str:
    """apxs of an Apache 2.4 from the mod_wsgi-httpd package, built once into the cache.

    The package's own bin/apxs points into pip's deleted build directory; the
    venv's mod_wsgi-apxs answers the `-q` queries the Makefile makes.
    """
    venv = CACHE / "mod_wsgi-httpd"
    apxs = venv / "bin" / "mod_wsgi-apxs"
    if not apxs.exists():
        session.log("building Apache 2.4 from mod_wsgi-httpd (a few minutes, once)")
        shutil.rmtree(venv, ignore_errors=True)
        session.run(sys.executable, "-m", "venv", str(venv), external=True)
        pip = str(venv / "bin" / "pip")
        session.run(pip, "install", "-q", "mod_wsgi-httpd", "mod_wsgi", external=True)
    return str(apxs)


def _apache22(session: nox.Session, mpm: str) -> str:
    """apxs of Apache 2.2.34 with `mpm` compiled in, built once into the cache."""
    prefix = CACHE / f"httpd-2.2.34-{mpm}"
    if not (prefix / "bin" / "apxs").exists():
        tarball = VENDOR_22 / "httpd-2.2.34-src.tar.gz"
        if not tarball.exists():
            session.error(f"Apache 2.2 sources not found at {tarball}")
        shutil.rmtree(prefix, ignore_errors=True)
        session.run(
            "bash",
            str(VENDOR_22 / "build-httpd22.sh"),
            "--mpm",
            mpm,
            str(tarball),
            str(prefix),
            external=True,
        )
    return str(prefix / "bin" / "apxs")


def _apxs_for(session: nox.Session, apache: str, mpm: str) -> str:
    if apache == "2.4":
        apxs = _system_apxs()
        if not apxs:
            session.error("no system apxs: apt-get install apache2-dev")
        return apxs
    if apache == "2.4-pip":
        return _pip_apache(session)
    return _apache22(session, mpm)


def build_module(session: nox.Session, apxs: str, tag: str, werror: bool = False) -> str:
    """Build mod_python.so for this session's Python and `apxs`; returns its path."""
    python = session.run("python", "-c", "import sys; print(sys.executable)", silent=True).strip()
    build_dir = CACHE / "modules" / f"{tag}-py{session.python}"
    args = [f"APXS={apxs}", f"PYTHON={python}", f"BUILD_DIR={build_dir}"]
    if werror:
        args.append("WERROR=-Werror")
    session.run("make", "-s", "-C", str(ROOT / "c_module"), *args, external=True)
    return str(build_dir / "mod_python.so")


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff on all Python; the C module built with -Werror."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    apxs = _system_apxs()
    if not apxs:
        session.error("no system apxs: apt-get install apache2-dev")
    lint_dir = CACHE / "lint"
    shutil.rmtree(lint_dir, ignore_errors=True)
    python = session.run("python", "-c", "import sys; print(sys.executable)", silent=True).strip()
    session.run(
        "make",
        "-s",
        "-C",
        str(ROOT / "c_module"),
        f"APXS={apxs}",
        f"PYTHON={python}",
        f"BUILD_DIR={lint_dir}",
        "WERROR=-Werror",
        external=True,
    )


#: Extras each package's own tests exercise (declared in its pyproject.toml).
TEST_EXTRAS = {"session": ["redis", "postgresql"], "psp": ["session"]}
#: Test tools, which are not dependencies of the package.
TEST_TOOLS = {"cookie": ["hypothesis"], "psp": ["hypothesis"]}


def _declared(name: str) -> tuple[list[str], dict[str, list[str]]]:
    """The dependencies and the optional dependencies pyproject.toml of
    mod_python-`name` declares."""
    import tomllib

    path = ROOT / "packages" / f"mod_python-{name}" / "pyproject.toml"
    project = tomllib.loads(path.read_text())["project"]
    return project.get("dependencies", []), project.get("optional-dependencies", {})


def _sibling(requirement: str) -> str | None:
    """`core` for "mod_python-core>=3.6,<3.7", None for a third-party requirement."""
    name = requirement.split(";")[0].strip()
    for sep in "<>=!~[ ":
        name = name.split(sep)[0]
    name = name.lower().replace("_", "-")
    return name[len("mod-python-") :] if name.startswith("mod-python-") else None


def _closure(name: str, extras: list[str]) -> list[str]:
    """mod_python-`name` and every sibling it declares (through `extras` too), in
    install order: dependencies before their dependants."""
    order: list[str] = []

    def visit(pkg: str, pkg_extras: list[str]) -> None:
        required, optional = _declared(pkg)
        for extra in pkg_extras:
            required = required + optional[extra]
        for requirement in required:
            sibling = _sibling(requirement)
            if sibling and sibling not in order:
                visit(sibling, [])
        if pkg not in order:
            order.append(pkg)

    visit(name, extras)
    return order


@nox.session(python="3.11")
def psp_scanner(session: nox.Session) -> None:
    """The committed PSP scanner (psp_scanner.c) is what flex makes of psp_scanner.l."""
    if not shutil.which("flex"):
        session.error("flex not found: apt-get install flex")
    tool = ROOT / "packages" / "mod_python-psp" / "tools" / "regen_scanner.py"
    session.run("python", str(tool), "--check")


@nox.session(python=PYTHONS)
@nox.parametrize("package", PACKAGES)
def unit(session: nox.Session, package: str) -> None:
    """One package's own tests (no Apache), in a venv holding only that package
    and what its pyproject.toml declares: the siblings it depends on come from
    this repository, everything else from PyPI. A dependency that is used but
    not declared fails here."""
    extras = TEST_EXTRAS.get(package, [])
    siblings = _closure(package, extras)
    # Siblings go in by path; pip would look for them on PyPI otherwise.
    # Installing each with its declared requirements (third-party ones from
    # PyPI) and without building what it already has.
    paths = [str(ROOT / "packages" / f"mod_python-{name}") for name in siblings]
    target = paths[-1] + (f"[{','.join(extras)}]" if extras else "")
    session.install("pytest", *TEST_TOOLS.get(package, []), *paths[:-1], target)
    installed = session.run(
        "python",
        "-c",
        "import importlib.metadata as m; print(' '.join(sorted("
        "d.metadata['Name'].lower().replace('_', '-') for d in m.distributions())))",
        silent=True,
    ).split()
    found = sorted(n[len("mod-python-") :] for n in installed if n.startswith("mod-python-"))
    if found != sorted(siblings):
        session.error(f"expected mod_python distributions {sorted(siblings)}, found {found}")
    session.run(
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        str(ROOT / "packages" / f"mod_python-{package}" / "tests"),
    )


@nox.session
@nox.parametrize(["python", "apache", "mpm"], CELLS, ids=[_cell_id(*cell) for cell in CELLS])
def integration(session: nox.Session, apache: str, mpm: str) -> None:
    """A real Apache with mod_python, talked to over HTTP."""
    # flask: the WSGI gateway's tests serve a real Flask application
    session.install("pytest", "requests", "flask", "redis", "psycopg[binary]")
    _install_packages(session, *PACKAGES)
    apxs = _apxs_for(session, apache, mpm)
    module = build_module(
        session, apxs, f"apache{apache}-{mpm}" if apache == "2.2" else f"apache{apache}"
    )
    session.run(
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        str(ROOT / "tests" / "integration"),
        *session.posargs,
        env={"MP_APXS": apxs, "MP_MPM": mpm, "MP_MODULE": module},
    )


@nox.session(python="3.12")
def docs(session: nox.Session) -> None:
    """The manual as Read the Docs builds it (.readthedocs.yaml), warnings as
    errors; then its doctests, its internal links, and that every public name
    is documented (docs/_tools/check_coverage.py)."""
    docs_dir = ROOT / "docs"
    session.install("-r", str(docs_dir / "requirements.txt"))
    # As .readthedocs.yaml does: each package from its directory, not editable.
    session.install(*(str(ROOT / "packages" / f"mod_python-{name}") for name in PACKAGES))
    out = CACHE / "docs"
    build = ["sphinx-build", "-W", "--keep-going", "-q", "-d", str(out / "doctrees")]
    session.run(*build, "-b", "html", str(docs_dir), str(out / "html"))
    session.run(*build, "-b", "doctest", str(docs_dir), str(out / "doctest"))
    session.run(*build, "-b", "linkcheck", str(docs_dir), str(out / "linkcheck"))
    session.run("python", str(docs_dir / "_tools" / "check_coverage.py"), str(out / "html"))
    session.log(f"docs built in {out / 'html'}")


@nox.session(python="3.11")
def serve(session: nox.Session) -> None:
    """Build the module against this Python and serve examples/ (Ctrl-C stops)."""
    _install_packages(session, *PACKAGES)
    apxs = os.environ.get("APXS") or _system_apxs() or _pip_apache(session)
    module = build_module(session, apxs, "serve")
    # `nox -s serve -- [options] [DIR]`: examples/ unless a directory is given
    args = list(session.posargs)
    if not any(os.path.isdir(arg) for arg in args):
        args.append(str(ROOT / "examples"))
    session.run("mod_python", "serve", "--module", module, "--apxs", apxs, *args)


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Requests/s of a hello handler against a static file of the same body."""
    _install_packages(session, "core", "publisher", "psp")
    apxs = _system_apxs()
    if not apxs:
        session.error("no system apxs: apt-get install apache2-dev")
    if not shutil.which("ab"):
        session.error("ab not found: apt-get install apache2-utils")
    module = build_module(session, apxs, "apache2.4")
    session.run(
        "python",
        str(ROOT / "bench" / "hello.py"),
        "--apxs",
        apxs,
        "--module",
        module,
        *session.posargs,
    )
    # util.parse_qsl in C against urllib.parse, timed inside Apache
    session.run("python", str(ROOT / "bench" / "parse_qs.py"), "--apxs", apxs, "--module", module)


@nox.session(python="3.12")
def build(session: nox.Session) -> None:
    """An sdist and a wheel of every package, checked with twine; then each
    wheel installed alone into a fresh venv and used (packaging/check_dists.py)."""
    session.install("build", "twine")
    dist = CACHE / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    dist.mkdir(parents=True)
    # An sdist must build without flex (the PSP scanner's C file is committed):
    # a flex that fails stands first on PATH.
    no_flex = CACHE / "no-flex"
    no_flex.mkdir(parents=True, exist_ok=True)
    fake = no_flex / "flex"
    fake.write_text("#!/bin/sh\necho 'flex must not run when building a package' >&2\nexit 1\n")
    fake.chmod(0o755)
    path = f"{no_flex}{os.pathsep}{os.environ.get('PATH', '')}"
    for name in PACKAGES:
        # python -m build makes the sdist, then the wheel from that sdist.
        session.run(
            "python",
            "-m",
            "build",
            "--outdir",
            str(dist),
            str(ROOT / "packages" / f"mod_python-{name}"),
            env={"PATH": path},
        )
    artifacts = sorted(dist.iterdir())
    session.run("twine", "check", "--strict", *map(str, artifacts))
    session.run("python", str(ROOT / "packaging" / "check_dists.py"), str(dist))
    for artifact in artifacts:
        session.log(f"{artifact.name}  {artifact.stat().st_size:,} bytes")


@nox.session(python=False)
def deb(session: nox.Session) -> None:
    """Debian packages, one per component: build, lintian, install into this
    system's Apache, serve examples/ from a private instance on 127.0.0.1, then
    purge and restore (needs root; see docs/packaging.rst). Options after --:
    --binary-only, --head, --no-check, --no-install, --out DIR, --keep."""
    session.run(
        "/usr/bin/python3",
        str(ROOT / "packaging" / "debian" / "build_and_test.py"),
        *session.posargs,
        external=True,
    )
