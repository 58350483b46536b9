"""Rendering a private httpd.conf: loopback only, every runtime file under one directory.

The same :class:`ServerConfig` renders for Apache 2.4 (system, source or
mod_wsgi-httpd) and 2.2; :func:`render` picks the syntax from the install's
version (``Require`` vs ``Order``/``Allow``, ``Mutex`` vs ``LockFile``, a
loadable MPM vs the compiled-in one).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

from .discover import ApacheInstall, unshare_prefix

__all__ = [
    "DEFAULT_MODULES",
    "MINIMAL_MIME_TYPES",
    "ServerConfig",
    "mpm_block",
    "quote",
    "render",
    "write_config",
]

#: Apache modules loaded when the install has them (silently skipped when it
#: does not, or when they are compiled in), in load order. ``mime`` is
#: required. The list covers both 2.4 names (``authz_core``, ``unixd``,
#: ``access_compat`` so old ``Order``/``Allow`` in .htaccess keeps working)
#: and 2.2-only ones (``authn_default``, ``authz_default``).
DEFAULT_MODULES: tuple[str, ...] = (
    "unixd",
    "mime",
    "dir",
    "alias",
    "log_config",
    "authn_core",
    "authz_core",
    "access_compat",
    "authz_host",
    "authz_user",
    "auth_basic",
    "authn_file",
    "authn_default",
    "authz_default",
    "include",
    "env",
    "setenvif",
    "deflate",
)

#: Written to ``<server_root>/mime.types`` when the install has no mime.types.
MINIMAL_MIME_TYPES = """\
# Minimal mime.types written by mod_python._httpd (no system mime.types was found).
application/javascript js
application/json json
application/octet-stream bin
application/pdf pdf
application/xml xml
image/gif gif
image/jpeg jpeg jpg
image/png png
image/svg+xml svg
text/css css
text/html html htm
text/plain txt
"""

_DEFAULT_THREADS = 10
_DEFAULT_PREFORK_WORKERS = 10


@dataclass
class ServerConfig:
    """What to run: where, on which port, serving what, with which modules and MPM."""

    server_root: str
    """A private directory for the config, logs, pid file and runtime files."""
    port: int
    document_root: str
    mod_python_so: str | None
    """``LoadModule python_module <this>``; None runs plain Apache (benchmark baselines)."""
    mpm: str = "prefork"
    error_log: str | None = None
    """Default ``<server_root>/error_log``; ``/dev/stderr`` is fine (serve command)."""
    access_log: str | None = None
    """Default ``<server_root>/access_log``."""
    log_level: str = "info"
    python_home: str | None = None
    """``PythonHome <dir>`` right after the LoadModule of mod_python."""
    extra: str = ""
    """Raw configuration text appended at the end (``<Location>`` blocks, Python* directives)."""
    listen_extra: list[int] = field(default_factory=list)
    """More ``Listen 127.0.0.1:N`` ports (e.g. for connection handlers)."""
    threads: int | None = None
    """Threads per child for worker/event (default 10, two children); for prefork
    the maximum number of children (default 10)."""
    modules: tuple[str, ...] = DEFAULT_MODULES
    user: str | None = None
    """``User`` to emit. Normally None: see :func:`render` for when it is needed."""
    group: str | None = None
    """``Group`` to emit together with :attr:`user`."""

    @property
    def error_log_path(self) -> str:
        return self.error_log or os.path.join(self.server_root, "error_log")

    @property
    def access_log_path(self) -> str:
        return self.access_log or os.path.join(self.server_root, "access_log")

    @property
    def pid_file(self) -> str:
        return os.path.join(self.server_root, "httpd.pid")

    @property
    def runtime_dir(self) -> str:
        return os.path.join(self.server_root, "run")

    @property
    def conf_path(self) -> str:
        return os.path.join(self.server_root, "httpd.conf")


def quote(value: str) -> str:
    """*value* as one double-quoted configuration argument.

    Apache has no general escape inside quotes, so values holding a double
    quote or a line break are refused with :class:`ValueError`.
    """
    if '"' in value or "\n" in value or "\r" in value:
        raise ValueError(f"cannot use {value!r} in httpd.conf: it contains a quote or newline")
    return f'"{value}"'


def _module_ident(name: str) -> tuple[str, str]:
    """``("mod_mime", "mime_module")`` for ``"mime"`` or ``"mod_mime"``."""
    base = name.removesuffix(".so")
    short = base.removeprefix("mod_")
    return "mod_" + short, short + "_module"


def _check_mpm(install: ApacheInstall, mpm: str) -> None:
    if install.builtin_mpm is not None:
        if mpm != install.builtin_mpm:
            raise ValueError(
                f"{install.describe()} has the {install.builtin_mpm!r} MPM compiled in;"
                f" it cannot run with MPM {mpm!r}"
                + (" (Apache 2.2 cannot load MPMs as modules)" if install.is_22 else "")
            )
        return
    available = install.mpms()
    if mpm not in available:
        raise ValueError(
            f"{install.describe()} has no mod_mpm_{mpm}.so in {install.modules_dir};"
            f" available MPMs: {', '.join(available) or 'none'}"
        )


def threads_per_child(threads: int | None) -> int:
    """ThreadsPerChild of worker/event for :attr:`ServerConfig.threads`."""
    return threads or _DEFAULT_THREADS


def mpm_block(install: ApacheInstall, mpm: str, threads: int | None = None) -> str:
    """Sizing directives for *mpm*: small and fixed, suitable for tests and benchmarks.

    prefork: 2 children at start, at most *threads* (default 10) children.
    worker/event: 2 children of *threads* (default 10) threads each; ServerLimit
    leaves room for children of the old generation finishing after a graceful
    restart.
    """
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    max_workers = "MaxClients" if install.is_22 else "MaxRequestWorkers"
    per_child = "MaxRequestsPerChild" if install.is_22 else "MaxConnectionsPerChild"
    if mpm == "prefork":
        children = threads or _DEFAULT_PREFORK_WORKERS
        lines = [
            f"StartServers {min(2, children)}",
            "MinSpareServers 1",
            f"MaxSpareServers {max(2, min(4, children))}",
            f"ServerLimit {children}",
            f"{max_workers} {children}",
            f"{per_child} 0",
        ]
    elif mpm in ("worker", "event"):
        per = threads_per_child(threads)
        lines = [
            "StartServers 2",
            "ServerLimit 4",
            f"ThreadLimit {per}",
            f"ThreadsPerChild {per}",
            "MinSpareThreads 1",
            f"MaxSpareThreads {2 * per}",
            f"{max_workers} {2 * per}",
            f"{per_child} 0",
        ]
    else:
        raise ValueError(f"unknown MPM {mpm!r}: expected prefork, worker or event")
    return "\n".join(lines) + "\n"


def _fallback_user() -> tuple[str, str]:
    import grp
    import pwd

    user = "nobody"
    for name in ("www-data", "daemon", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        user = name
        break
    group = "nogroup"
    for name in ("www-data", "daemon", "nogroup", "nobody"):
        try:
            grp.getgrnam(name)
        except KeyError:
            continue
        group = name
        break
    return user, group


def _user_lines(cfg: ServerConfig) -> list[str]:
    if cfg.user:
        lines = [f"User {cfg.user}"]
        if cfg.group:
            lines.append(f"Group {cfg.group}")
        return lines
    if os.geteuid() != 0 or unshare_prefix():
        # Not root: Apache never switches user. Root with a working unshare:
        # Apache runs as uid 65534 inside a user namespace and never switches.
        return []
    user, group = _fallback_user()
    warnings.warn(
        "running Apache as root without a usable `unshare --user`: its children will switch"
        f" to User {user}, which cannot read files under /root (e.g. a pyenv Python) or other"
        " private directories; run as a normal user or make unshare work",
        RuntimeWarning,
        stacklevel=3,
    )
    return [f"User {user}", f"Group {group}"]


def render(install: ApacheInstall, cfg: ServerConfig) -> str:
    """The text of an httpd.conf for *cfg* on *install*.

    Raises :class:`ValueError` for an MPM the install cannot run, a missing
    mod_mime, a bad port or a path that cannot be quoted. ``User``/``Group``
    are emitted only when *cfg* names them, or as a fallback (with a
    :class:`RuntimeWarning`) when running as root without a usable ``unshare``
    (see :func:`mod_python._httpd.discover.unshare_prefix`).
    """
    server_root = os.path.abspath(cfg.server_root)
    document_root = os.path.abspath(cfg.document_root)
    ports = [cfg.port, *cfg.listen_extra]
    for port in ports:
        if not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"invalid port {port!r}")
    if len(set(ports)) != len(ports):
        raise ValueError(f"duplicate ports in port/listen_extra: {ports}")
    _check_mpm(install, cfg.mpm)
    if not install.has_module("mime"):
        raise ValueError(f"{install.describe()} has no mod_mime in {install.modules_dir}")
    if cfg.python_home and not cfg.mod_python_so:
        raise ValueError("python_home is set but mod_python_so is None (PythonHome needs it)")
    is22 = install.is_22
    run_dir = os.path.join(server_root, "run")
    error_log = cfg.error_log or os.path.join(server_root, "error_log")
    access_log = cfg.access_log or os.path.join(server_root, "access_log")
    version = ".".join(str(part) for part in install.version)

    out: list[str] = [
        f"# Generated by mod_python._httpd for Apache {version} ({install.flavour}).",
        f"# Server binary: {install.httpd}",
        "",
        f"ServerRoot {quote(server_root)}",
        f"PidFile {quote(os.path.join(server_root, 'httpd.pid'))}",
        f"ScoreBoardFile {quote(os.path.join(server_root, 'apache_runtime_status'))}",
    ]
    if is22:
        out.append(f"LockFile {quote(os.path.join(server_root, 'accept.lock'))}")
    else:
        out.append(f"DefaultRuntimeDir {quote(run_dir)}")
        out.append(f"Mutex {quote('file:' + run_dir)} default")
    out.append("")
    out.extend(f"Listen 127.0.0.1:{port}" for port in ports)
    out.append(f"ServerName 127.0.0.1:{cfg.port}")
    out.extend(_user_lines(cfg))
    out.append("")

    if install.builtin_mpm is None:
        so = install.module_path(f"mod_mpm_{cfg.mpm}")
        out.append(f"LoadModule mpm_{cfg.mpm}_module {quote(so)}")
    loaded: set[str] = set()
    for name in cfg.modules:
        base, ident = _module_ident(name)
        if base in loaded or base in install.static_modules:
            continue
        path = install.module_path(base)
        if os.path.isfile(path):
            out.append(f"LoadModule {ident} {quote(path)}")
            loaded.add(base)
    if "mod_mime" not in loaded and "mod_mime" not in install.static_modules:
        raise ValueError("mod_mime must be in ServerConfig.modules (it is required)")
    out.append("")
    out.append(mpm_block(install, cfg.mpm, cfg.threads).rstrip("\n"))
    out.extend(
        [
            "",
            "Timeout 30",
            "KeepAlive On",
            "MaxKeepAliveRequests 100",
            "KeepAliveTimeout 5",
            "HostnameLookups Off",
            "UseCanonicalName Off",
            "",
            f"TypesConfig {quote(install.mime_types or os.path.join(server_root, 'mime.types'))}",
            f"ErrorLog {quote(error_log)}",
            f"LogLevel {cfg.log_level}",
            "<IfModule log_config_module>",
            '    LogFormat "%h %l %u %t \\"%r\\" %>s %b %D" mod_python',
            f"    CustomLog {quote(access_log)} mod_python",
            "</IfModule>",
            "",
        ]
    )
    deny = ["    Order deny,allow", "    Deny from all"] if is22 else ["    Require all denied"]
    grant = ["    Order allow,deny", "    Allow from all"] if is22 else ["    Require all granted"]
    out.extend(
        [
            "<Directory />",
            "    AllowOverride None",
            *deny,
            "</Directory>",
            "",
            f"DocumentRoot {quote(document_root)}",
            f"<Directory {quote(document_root)}>",
            "    AllowOverride All",
            "    Options +Indexes +FollowSymLinks +Includes",
            *grant,
            "</Directory>",
            "<IfModule dir_module>",
            "    DirectoryIndex index.html index.py",
            "</IfModule>",
            '<FilesMatch "^\\.ht">',
            *deny,
            "</FilesMatch>",
            "",
        ]
    )
    if cfg.mod_python_so:
        out.append(f"LoadModule python_module {quote(os.path.abspath(cfg.mod_python_so))}")
        if cfg.python_home:
            out.append(f"PythonHome {quote(cfg.python_home)}")
        out.append("")
    if cfg.extra:
        out.append("# ---- extra configuration ----")
        out.append(cfg.extra.rstrip("\n"))
    return "\n".join(out).rstrip("\n") + "\n"


def write_config(install: ApacheInstall, cfg: ServerConfig) -> str:
    """Create the server root (mode 0755) with its runtime directory, write the
    configuration (and a minimal mime.types when the install has none) and
    return the path of the configuration file."""
    text = render(install, cfg)
    for directory in (cfg.server_root, cfg.runtime_dir):
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, 0o755)
    if install.mime_types is None:
        with open(os.path.join(cfg.server_root, "mime.types"), "w", encoding="utf-8") as fh:
            fh.write(MINIMAL_MIME_TYPES)
    with open(cfg.conf_path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return cfg.conf_path
