"""Finding an Apache httpd to run: its apxs, server binary, version, modules and MPMs.

The search order is the one DESIGN.md fixes for the serve command and the test
fixtures: an explicit apxs, then ``$APXS``, then the system's ``apxs``/``apxs2``,
then the Apache shipped by the ``mod_wsgi-httpd`` package installed in the
running Python.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SYSTEM_APXS_PATHS",
    "ApacheInstall",
    "apxs_query",
    "find_apache",
    "install_from_apxs",
    "install_from_wsgi_httpd",
    "unshare_prefix",
]

#: Fixed places tried after ``apxs``/``apxs2`` on ``$PATH``.
SYSTEM_APXS_PATHS: tuple[str, ...] = ("/usr/bin/apxs", "/usr/bin/apxs2")

#: The MPMs that 2.4 can load as ``mod_mpm_<name>.so``, in order of preference.
LOADABLE_MPMS: tuple[str, ...] = ("prefork", "worker", "event")

#: Arguments that make ``unshare`` run a command as uid/gid 65534 in a new
#: user namespace (see :func:`unshare_prefix`).
UNSHARE_ARGS: tuple[str, ...] = ("--user", "--map-user=65534", "--map-group=65534")

_QUERY_TIMEOUT = 60.0
_VERSION_RE = re.compile(r"Apache/(\d+)\.(\d+)\.(\d+)")
_MPM_SOURCE_RE = re.compile(
    r"^\s*(prefork|worker|event|winnt|mpmt_os2|netware)\.c\s*$", re.MULTILINE
)
_STATIC_MODULE_RE = re.compile(r"^\s*(mod_[A-Za-z0-9_]+)\.c\s*$", re.MULTILINE)


@dataclass(frozen=True)
class ApacheInstall:
    """One Apache httpd installation, as found by :func:`find_apache`."""

    flavour: str
    """``"2.4"`` (a system or source 2.4), ``"2.4-pip"`` (mod_wsgi-httpd) or ``"2.2"``."""
    apxs: str
    """Path to the apxs that describes this install (mod_wsgi-httpd: its ``mod_wsgi-apxs``)."""
    httpd: str
    """Path to the server binary (Debian: ``/usr/sbin/apache2``)."""
    version: tuple[int, int, int]
    """The server's version, from ``httpd -v``."""
    modules_dir: str
    """Where the shared modules live (``apxs -q LIBEXECDIR``)."""
    builtin_mpm: str | None
    """The MPM compiled into the server, or None when MPMs are loadable modules."""
    mime_types: str | None
    """An existing ``mime.types`` file, or None."""
    static_modules: tuple[str, ...] = ()
    """Modules compiled into the server (``httpd -l``), e.g. ``("mod_log_config",)``."""
    library_path: str | None = None
    """A directory that must be on ``LD_LIBRARY_PATH`` to run the server (mod_wsgi-httpd)."""

    def mpms(self) -> tuple[str, ...]:
        """The MPMs this install can run: the compiled-in one, or the loadable ones present."""
        if self.builtin_mpm:
            return (self.builtin_mpm,)
        return tuple(
            name
            for name in LOADABLE_MPMS
            if os.path.isfile(os.path.join(self.modules_dir, f"mod_mpm_{name}.so"))
        )

    def has_module(self, name: str) -> bool:
        """Whether module *name* (``"mod_ssl"``, ``"ssl"`` or ``"mod_ssl.so"``) is usable."""
        base = _module_base(name)
        if base in self.static_modules:
            return True
        return os.path.isfile(self.module_path(base))

    def module_path(self, name: str) -> str:
        """The path the shared object of module *name* has (or would have) in modules_dir."""
        return os.path.join(self.modules_dir, _module_base(name) + ".so")

    @property
    def is_22(self) -> bool:
        """True for Apache 2.2 (its configuration syntax differs from 2.4's)."""
        return self.version[:2] < (2, 4)

    def environ(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """An environment to run this install's binaries with (default: ``os.environ``)."""
        env = dict(os.environ if base is None else base)
        if self.library_path:
            old = env.get("LD_LIBRARY_PATH")
            env["LD_LIBRARY_PATH"] = (
                self.library_path + os.pathsep + old if old else self.library_path
            )
        return env

    def describe(self) -> str:
        """A one-line human description, e.g. ``Apache 2.4.62 (2.4, /usr/sbin/apache2)``."""
        version = ".".join(str(part) for part in self.version)
        return f"Apache {version} ({self.flavour}, {self.httpd})"


def _environ_with_library_path(
    library_path: str | None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    if library_path:
        old = env.get("LD_LIBRARY_PATH")
        env["LD_LIBRARY_PATH"] = library_path + os.pathsep + old if old else library_path
    return env


def _module_base(name: str) -> str:
    base = name.removesuffix(".so")
    if not base.startswith("mod_"):
        base = "mod_" + base
    return base


def _run(
    cmd: Sequence[str], env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(cmd),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=None if env is None else dict(env),
        timeout=_QUERY_TIMEOUT,
        check=False,
    )


@functools.cache
def apxs_query(apxs: str, var: str) -> str:
    """The value of *var* from ``apxs -q VAR`` (cached).

    One variable per call: Debian's apxs drops some variables when several are
    asked for at once, so multi-variable queries cannot be trusted.
    Raises :class:`LookupError` when apxs fails or cannot be run.
    """
    try:
        proc = _run([apxs, "-q", var])
    except (OSError, subprocess.SubprocessError) as exc:
        raise LookupError(f"cannot run {apxs} -q {var}: {exc}") from exc
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise LookupError(f"{apxs} -q {var} failed (exit {proc.returncode}): {detail}")
    return proc.stdout.strip()


def _server_version(httpd: str, env: Mapping[str, str]) -> tuple[int, int, int]:
    try:
        proc = _run([httpd, "-v"], env)
    except (OSError, subprocess.SubprocessError) as exc:
        raise LookupError(f"cannot run {httpd} -v: {exc}") from exc
    match = _VERSION_RE.search(proc.stdout + proc.stderr)
    if not match:
        output = (proc.stdout + proc.stderr).strip()
        raise LookupError(f"{httpd} -v did not print an Apache version: {output!r}")
    return (int(match.group(1)), int(match.group(2)), int(match.group(3)))


def _compiled_in(httpd: str, env: Mapping[str, str]) -> tuple[str | None, tuple[str, ...]]:
    """The compiled-in MPM (or None) and compiled-in modules, from ``httpd -l``/``-V``."""
    try:
        listing = _run([httpd, "-l"], env).stdout
    except (OSError, subprocess.SubprocessError):
        listing = ""
    match = _MPM_SOURCE_RE.search(listing)
    mpm = match.group(1) if match else None
    statics = tuple(_STATIC_MODULE_RE.findall(listing))
    if mpm is None and "mod_so.c" not in listing:
        # No module loading at all: the MPM must be built in; ask -V for its name.
        try:
            info = _run([httpd, "-V"], env).stdout
        except (OSError, subprocess.SubprocessError):
            info = ""
        found = re.search(r"Server MPM:\s*(\w+)", info)
        if found:
            mpm = found.group(1).lower()
    return mpm, statics


def _flavour(version: tuple[int, int, int], from_pip: bool) -> str:
    base = f"{version[0]}.{version[1]}"
    return base + "-pip" if from_pip else base


def _pick_mime_types(*candidates: str | None) -> str | None:
    for path in candidates:
        if path and os.path.isfile(path):
            return path
    return None


def _wsgi_httpd_root(path: str) -> Path | None:
    """The ``mod_wsgi_packages/httpd`` directory *path* (an apxs or httpd) lives in, if any."""
    parent = Path(path).resolve().parent
    for candidate in (parent, parent.parent):
        if candidate.name == "httpd" and candidate.parent.name == "mod_wsgi_packages":
            return candidate
    return None


def install_from_wsgi_httpd(root: str, apxs: str | None = None) -> ApacheInstall:
    """Describe the Apache of a ``mod_wsgi-httpd`` package whose ``httpd`` directory is *root*.

    The package's own ``bin/apxs`` is unusable (it points at the build directory
    pip used), so paths come from the fixed layout of the package:
    ``bin/httpd``, ``modules/``, ``conf/mime.types`` and ``lib/``.
    """
    base = Path(root)
    httpd = base / "bin" / "httpd"
    modules = base / "modules"
    if not os.access(httpd, os.X_OK):
        raise LookupError(f"mod_wsgi-httpd at {root} has no executable bin/httpd")
    if not modules.is_dir():
        raise LookupError(f"mod_wsgi-httpd at {root} has no modules/ directory")
    if apxs is None:
        script = Path(sys.executable).parent / "mod_wsgi-apxs"
        apxs = str(script) if script.is_file() else str(base / "bin" / "apxs")
    libdir = base / "lib"
    library_path = str(libdir) if libdir.is_dir() else None
    env = _environ_with_library_path(library_path)
    version = _server_version(str(httpd), env)
    mpm, statics = _compiled_in(str(httpd), env)
    return ApacheInstall(
        flavour=_flavour(version, True),
        apxs=apxs,
        httpd=str(httpd),
        version=version,
        modules_dir=str(modules),
        builtin_mpm=mpm,
        mime_types=_pick_mime_types(str(base / "conf" / "mime.types"), "/etc/mime.types"),
        static_modules=statics,
        library_path=library_path,
    )


def install_from_apxs(apxs: str) -> ApacheInstall:
    """Describe the Apache that *apxs* belongs to. Raises :class:`LookupError` if unusable."""
    if not os.path.isfile(apxs):
        raise LookupError(f"{apxs} does not exist")
    if not os.access(apxs, os.X_OK):
        raise LookupError(f"{apxs} is not executable")
    pip_root = _wsgi_httpd_root(apxs)
    if pip_root is not None:
        return install_from_wsgi_httpd(str(pip_root), apxs=apxs)
    sbindir = apxs_query(apxs, "SBINDIR")
    if sbindir:
        # mod_wsgi-httpd's own mod_wsgi-apxs (it answers SBINDIR but not TARGET).
        pip_root = _wsgi_httpd_root(os.path.join(sbindir, "httpd"))
        if pip_root is not None:
            return install_from_wsgi_httpd(str(pip_root), apxs=apxs)
    target = apxs_query(apxs, "TARGET") or "httpd"
    libexecdir = apxs_query(apxs, "LIBEXECDIR")
    sysconfdir = apxs_query(apxs, "SYSCONFDIR")
    if not sbindir or not libexecdir:
        raise LookupError(f"{apxs} -q gave an incomplete answer (SBINDIR, LIBEXECDIR)")
    httpd = os.path.join(sbindir, target)
    if not os.access(httpd, os.X_OK):
        raise LookupError(f"{apxs} names {httpd} as the server, but it is not an executable")
    env = dict(os.environ)
    version = _server_version(httpd, env)
    mpm, statics = _compiled_in(httpd, env)
    return ApacheInstall(
        flavour=_flavour(version, False),
        apxs=apxs,
        httpd=httpd,
        version=version,
        modules_dir=libexecdir,
        builtin_mpm=mpm,
        mime_types=_pick_mime_types(
            os.path.join(sysconfdir, "mime.types") if sysconfdir else None, "/etc/mime.types"
        ),
        static_modules=statics,
    )


def _wsgi_httpd_dir() -> str | None:
    """The ``mod_wsgi_packages/httpd`` directory importable in the running Python, if any."""
    try:
        spec = importlib.util.find_spec("mod_wsgi_packages.httpd")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    locations = list(spec.submodule_search_locations or [])
    if locations:
        return locations[0]
    if spec.origin:
        return os.path.dirname(spec.origin)
    return None


def find_apache(apxs: str | None = None) -> ApacheInstall:
    """Find an Apache httpd to run.

    Order: *apxs* if given, then ``$APXS``, then ``apxs``/``apxs2`` on ``$PATH``
    and :data:`SYSTEM_APXS_PATHS`, then the Apache of the ``mod_wsgi-httpd``
    package installed in this Python. An explicit *apxs* or ``$APXS`` that does
    not work is an error (no silent fallback to another Apache). Raises
    :class:`LookupError` naming everything tried when nothing is found.
    """
    if apxs:
        try:
            return install_from_apxs(apxs)
        except LookupError as exc:
            raise LookupError(f"the apxs given ({apxs}) is not usable: {exc}") from exc
    env_apxs = os.environ.get("APXS")
    if env_apxs:
        try:
            return install_from_apxs(env_apxs)
        except LookupError as exc:
            raise LookupError(f"$APXS={env_apxs} is not usable: {exc}") from exc

    tried: list[str] = ["$APXS (not set)"]
    seen: list[str] = []
    candidates: list[str] = []
    for name in ("apxs", "apxs2"):
        found = shutil.which(name)
        if found:
            candidates.append(found)
        else:
            tried.append(f"{name} on $PATH (not found)")
    candidates.extend(SYSTEM_APXS_PATHS)
    for candidate in candidates:
        real = os.path.realpath(candidate)
        if real in seen:
            continue
        seen.append(real)
        if not os.path.exists(candidate):
            tried.append(f"{candidate} (does not exist)")
            continue
        try:
            return install_from_apxs(candidate)
        except LookupError as exc:
            tried.append(f"{candidate} ({exc})")

    wsgi_dir = _wsgi_httpd_dir()
    if wsgi_dir is None:
        tried.append(f"mod_wsgi-httpd (not installed for {sys.executable})")
    else:
        try:
            return install_from_wsgi_httpd(wsgi_dir)
        except LookupError as exc:
            tried.append(f"mod_wsgi-httpd at {wsgi_dir} ({exc})")

    raise LookupError(
        "no Apache httpd found. Tried: "
        + "; ".join(tried)
        + ". Install Apache with its development files (Debian/Ubuntu: apt-get install"
        " apache2 apache2-dev), or `pip install mod_wsgi-httpd` into this Python,"
        " or set $APXS to the path of an apxs."
    )


@functools.cache
def _unshare_works() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    try:
        proc = subprocess.run(
            [unshare, *UNSHARE_ARGS, "true"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=_QUERY_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


def unshare_prefix() -> list[str]:
    """The command prefix that runs Apache in a user namespace, or ``[]``.

    Only used when running as root: Apache started by root switches its
    children to ``User`` (www-data, daemon), which cannot read files under
    ``/root`` (where pyenv Pythons live). Inside ``unshare --user`` with uid
    65534 mapped, Apache believes it is not root and never calls setuid, while
    the kernel still checks file access as the real (root) uid. ``unshare``
    execs the command, so the spawned pid is Apache's parent process.
    The probe runs once per process.
    """
    if os.geteuid() != 0 or not _unshare_works():
        return []
    unshare = shutil.which("unshare")
    assert unshare is not None
    return [unshare, *UNSHARE_ARGS]
