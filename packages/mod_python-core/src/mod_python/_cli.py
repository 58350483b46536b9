"""The ``mod_python`` console command.

``mod_python serve DIR`` runs a private Apache on 127.0.0.1 that serves DIR
with mod_python; ``mod_python build-module`` builds the Apache module for this
Python and ``mod_python module-config`` prints the lines that load it (see
``_cli_module``); ``mod_python version`` prints the version of mod_python-core.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from types import FrameType

from mod_python._cli_module import add_commands, build_module, find_built_module, module_config
from mod_python._httpd import (
    ApacheServer,
    ApacheStartError,
    ServerConfig,
    find_apache,
    free_port,
)
from mod_python._httpd.conf import quote

__all__ = ["main"]

_LOG_LEVELS = ("emerg", "alert", "crit", "error", "warn", "notice", "info", "debug")


class _Terminated(Exception):
    """Raised in the main thread when SIGTERM arrives while serving."""


def _version() -> str:
    from mod_python.version import __version__

    return __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mod_python",
        description="mod_python for Python 3: tools around the Apache module.",
        epilog="Run `mod_python COMMAND --help` for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"mod_python {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="serve a directory with mod_python from a private Apache on 127.0.0.1",
        description=(
            "Start a private Apache httpd on 127.0.0.1 with a generated configuration that"
            " serves DIR with mod_python, until Ctrl-C or SIGTERM. Without"
            " --python-handler, files ending in .py are handled by mod_python and handlers"
            " come from .htaccess files in DIR (AllowOverride All); with it, every request"
            " under DIR goes to that handler module. PythonDebug is on. Apache is found"
            " from --apxs, then $APXS, then apxs/apxs2 on PATH, then the mod_wsgi-httpd"
            " package installed in this Python."
        ),
    )
    serve.add_argument("directory", metavar="DIR", help="the directory to serve")
    serve.add_argument(
        "--port",
        type=int,
        default=None,
        metavar="N",
        help="TCP port on 127.0.0.1 (default: a free port, printed at start)",
    )
    serve.add_argument(
        "--mpm",
        choices=("prefork", "worker", "event"),
        default=None,
        help="Apache MPM (default: prefork when available, else the one Apache has)",
    )
    serve.add_argument(
        "--python-handler",
        metavar="MODULE",
        default=None,
        help="send every request under DIR to this handler module (PythonHandler MODULE)",
    )
    serve.add_argument(
        "--module",
        metavar="PATH",
        default=None,
        help=(
            "the mod_python.so to load (default: $MOD_PYTHON_SO, then what build-module"
            " built, then apxs's LIBEXECDIR)"
        ),
    )
    serve.add_argument("--apxs", metavar="PATH", default=None, help="the apxs of the Apache to run")
    serve.add_argument(
        "--log-level",
        choices=_LOG_LEVELS,
        default="info",
        help="Apache LogLevel (default: info); the error log goes to stderr",
    )

    add_commands(commands)
    commands.add_parser(
        "version",
        help="print the version of mod_python-core",
        description="Print the version of mod_python-core.",
    )
    return parser


def _err(message: str) -> None:
    print(f"mod_python: {message}", file=sys.stderr)


def _serve_extra(directory: str, handler: str | None) -> str:
    quoted = quote(directory)
    if handler:
        return (
            f"<Directory {quoted}>\n"
            "    SetHandler mod_python\n"
            f"    PythonHandler {handler}\n"
            "    PythonDebug On\n"
            "</Directory>\n"
        )
    return (
        f"<Directory {quoted}>\n    AddHandler mod_python .py\n    PythonDebug On\n</Directory>\n"
    )


def _dash() -> str:
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "\u2014".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return "-"
    return "\u2014"


def _serve(args: argparse.Namespace) -> int:
    directory = os.path.abspath(args.directory)
    if not os.path.isdir(directory):
        _err(f"{args.directory} is not a directory")
        return 2
    try:
        quote(directory)
    except ValueError as exc:
        _err(str(exc))
        return 2
    if args.port is not None and not 0 < args.port < 65536:
        _err(f"invalid port {args.port}")
        return 2
    try:
        install = find_apache(args.apxs)
    except LookupError as exc:
        _err(str(exc))
        return 2
    found, tried = find_built_module(install, args.module)
    if found is None:
        _err(
            "mod_python.so not found (looked at: "
            + "; ".join(tried)
            + ").\nBuild it for this Python and Apache with\n"
            f"    mod_python build-module --apxs {install.apxs}\n"
            "or pass --module PATH (or set $MOD_PYTHON_SO), or run `nox -s serve` from the"
            " source tree."
        )
        return 2
    module_so = str(found)
    mpms = install.mpms()
    mpm = args.mpm or ("prefork" if "prefork" in mpms else (mpms[0] if mpms else "prefork"))
    if mpm not in mpms:
        _err(f"{install.describe()} cannot run MPM {mpm}; available: {', '.join(mpms) or 'none'}")
        return 2
    port = args.port or free_port()
    python_home = sys.prefix if sys.prefix != sys.base_prefix else None

    server_root = tempfile.mkdtemp(prefix="mod_python-serve-")
    os.chmod(server_root, 0o755)
    cfg = ServerConfig(
        server_root=server_root,
        port=port,
        document_root=directory,
        mod_python_so=module_so,
        mpm=mpm,
        error_log="/dev/stderr",
        access_log="/dev/stdout",
        log_level=args.log_level,
        python_home=python_home,
        extra=_serve_extra(directory, args.python_handler),
    )
    server = ApacheServer(install, cfg, foreground_output=True)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise _Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, on_sigterm)
        # Started in the background by a shell, a process inherits SIGINT
        # ignored, and Python then leaves it so: a SIGINT must still stop it.
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread: leave the signals alone
        previous = None
    status = 0
    try:
        try:
            server.start()
        except (ApacheStartError, ValueError) as exc:
            _err(str(exc))
            return 1
        version = ".".join(str(part) for part in install.version)
        py = f"{sys.version_info[0]}.{sys.version_info[1]}"
        print(
            f"Serving {directory} at {server.url}/ (Apache {version}, MPM {mpm}, Python {py})"
            f" {_dash()} Ctrl-C to stop",
            flush=True,
        )
        exit_status = server.wait()
        if exit_status is not None:
            _err(f"Apache exited on its own with status {exit_status}")
            status = 1
    except (KeyboardInterrupt, _Terminated):
        pass
    finally:
        previous_int = None
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
            # A second Ctrl-C must not cut the shutdown short and leave Apache running.
            previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            server.stop()
        finally:
            shutil.rmtree(server_root, ignore_errors=True)
            if previous_int is not None:
                signal.signal(signal.SIGINT, previous_int)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mod_python`` command with *argv* (default: ``sys.argv[1:]``); the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    if args.command == "version":
        print(_version())
        return 0
    if args.command == "serve":
        return _serve(args)
    if args.command == "build-module":
        return build_module(args)
    if args.command == "module-config":
        return module_config(args)
    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
