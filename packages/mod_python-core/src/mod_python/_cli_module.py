"""``mod_python build-module`` and ``mod_python module-config``.

mod_python-core carries the C sources of the Apache module (``_c_module``,
the repository's ``c_module/``), so that ``pip install mod_python-core``
followed by ``mod_python build-module`` gives a ``mod_python.so`` built for
the Python that runs the command, the way ``pip install mod_wsgi`` users
expect. ``module-config`` prints the configuration lines that load it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from mod_python._httpd import ApacheInstall, find_apache

__all__ = ["add_commands", "build_module", "default_build_dir", "module_config", "source_dir"]


def source_dir() -> Path:
    """The C module's sources shipped in this distribution (Makefile, src/, include/)."""
    return Path(__file__).resolve().parent / "_c_module"


def default_build_dir(apxs: str) -> Path:
    """Where ``build-module`` puts the module for *apxs* and this Python by default:
    under ``sys.prefix`` (a venv keeps its own), one directory per Apache, since a
    module built for one Apache does not load into another."""
    tag = hashlib.sha256(os.path.realpath(apxs).encode()).hexdigest()[:12]
    return Path(sys.prefix) / "lib" / "mod_python" / f"apache-{tag}"


def _err(message: str) -> None:
    print(f"mod_python: {message}", file=sys.stderr)


def _apache(explicit: str | None) -> ApacheInstall | None:
    try:
        return find_apache(explicit)
    except LookupError as exc:
        _err(str(exc))
        return None


def build_module(args: argparse.Namespace) -> int:
    source = source_dir()
    if not (source / "Makefile").is_file():
        _err(f"the C module's sources are not installed (looked in {source})")
        return 2
    if shutil.which("make") is None:
        _err(
            "`make` not found: install make and a C compiler (e.g. apt-get install build-essential)"
        )
        return 2
    install = _apache(args.apxs)
    if install is None:
        return 2
    build_dir = (
        Path(args.build_dir).resolve() if args.build_dir else default_build_dir(install.apxs)
    )
    command = [
        "make",
        "-C",
        str(source),
        f"-j{args.jobs}",
        f"APXS={install.apxs}",
        f"PYTHON={sys.executable}",
        f"BUILD_DIR={build_dir}",
    ]
    print(" ".join(command), flush=True)
    if subprocess.run(command).returncode != 0:
        _err("building the module failed (see the compiler's output above)")
        return 1
    module = build_dir / "mod_python.so"
    if args.install:
        install_cmd = [install.apxs, "-i", "-n", "python", str(module)]
        print(" ".join(install_cmd), flush=True)
        if subprocess.run(install_cmd).returncode != 0:
            _err(f"installing {module} into {install.modules_dir} failed")
            return 1
        module = Path(install.modules_dir) / "mod_python.so"
    print(f"built {module} for {install.describe()} and Python {sys.version.split()[0]}")
    print("load it with the lines `mod_python module-config` prints")
    return 0


def find_built_module(
    install: ApacheInstall, explicit: str | None = None
) -> tuple[Path | None, list[str]]:
    """The mod_python.so for *install* and this Python, and the places looked at:
    *explicit*, ``$MOD_PYTHON_SO``, ``build-module``'s default directory, then
    Apache's modules directory."""
    if explicit:
        path = Path(explicit).resolve()
        return (path if path.is_file() else None), [f"--module {explicit}"]
    candidates = []
    if os.environ.get("MOD_PYTHON_SO"):
        # Named explicitly: if it is missing, say so rather than load another.
        env_so = Path(os.environ["MOD_PYTHON_SO"])
        return (env_so.resolve() if env_so.is_file() else None), [f"$MOD_PYTHON_SO={env_so}"]
    candidates.append(default_build_dir(install.apxs) / "mod_python.so")
    candidates.append(Path(install.modules_dir) / "mod_python.so")
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve(), [str(c) for c in candidates]
    return None, [str(c) for c in candidates]


def module_config(args: argparse.Namespace) -> int:
    install = _apache(args.apxs)
    if install is None:
        return 2
    module, tried = find_built_module(install, args.module)
    if module is None:
        _err(
            "mod_python.so not found (looked at: " + "; ".join(tried) + ").\n"
            "Build it for this Python with `mod_python build-module`."
        )
        return 2
    print(f"LoadModule python_module {module}")
    if sys.prefix != sys.base_prefix:
        # The module starts the Python it was built with; naming the venv keeps
        # working if that Python's path is later reached through another link.
        print(f'PythonHome "{sys.prefix}"')
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    build = commands.add_parser(
        "build-module",
        help="build mod_python.so for this Python and an Apache (needs make, a C compiler, apxs)",
        description=(
            "Build the Apache module from the sources shipped with mod_python-core, against"
            " the Python running this command and the Apache found from --apxs, then $APXS,"
            " then apxs/apxs2 on PATH, then the mod_wsgi-httpd package. Runs the documented"
            " `make -C c_module APXS=... PYTHON=...` interface."
        ),
    )
    build.add_argument("--apxs", metavar="PATH", default=None, help="the apxs of the Apache")
    build.add_argument(
        "--build-dir",
        metavar="DIR",
        default=None,
        help="where to build (default: under sys.prefix, one directory per Apache)",
    )
    build.add_argument(
        "--install",
        action="store_true",
        help="then copy it into Apache's modules directory (apxs -i; usually needs root)",
    )
    build.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, metavar="N")

    config = commands.add_parser(
        "module-config",
        help="print the LoadModule line (and PythonHome in a venv) to paste into Apache's config",
        description=(
            "Print the Apache configuration that loads mod_python.so built for this Python:"
            " --module, else $MOD_PYTHON_SO, else what build-module built, else the module in"
            " Apache's modules directory."
        ),
    )
    config.add_argument("--apxs", metavar="PATH", default=None, help="the apxs of the Apache")
    config.add_argument("--module", metavar="PATH", default=None, help="a mod_python.so to name")
