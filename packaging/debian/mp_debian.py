#!/usr/bin/python3
"""debian/rules' helper: each component's version and relations, from upstream.

    python3 debian/mp_debian.py stage DIR      copy packages/* to DIR for setuptools
    python3 debian/mp_debian.py versions       print "binary-package version" lines
    python3 debian/mp_debian.py gencontrol --python python3.11 [-- dh_gencontrol args]

The source tree holds six components with versions of their own: the Apache
module (``c_module/include/mp_version.h``) and five Python distributions
(``packages/mod_python-*``, version in the module named by
``[tool.setuptools.dynamic]``). ``gencontrol`` runs ``dh_gencontrol`` once per
binary package with that component's version, and first writes the
``${mp:...}`` substitution variables of debian/control: Depends from the
distribution's ``dependencies``, Recommends/Suggests from its
``optional-dependencies``, and for the module and core the range each accepts
of the other. pyproject.toml stays the single source of truth.

``stage`` copies the distributions (symbolic links followed) and, when the
installed setuptools is older than 77, rewrites what it cannot read: the PEP 639
``license = "Apache-2.0"`` string becomes the PEP 621 table ``{text =
"Apache-2.0"}`` (the same text in the wheel's License field), ``license-files``
is dropped (setuptools' defaults find the same files) and the build requirement
on setuptools>=77 is relaxed. The repository keeps the modern form PyPI builds
need.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import tomllib  # Python >= 3.11: Debian 12's python3 and later

ROOT = Path(__file__).resolve().parent.parent
COMPONENTS = ("core", "cookie", "session", "publisher", "psp")
MODULE_PACKAGE = "libapache2-mod-python"

#: PyPI distributions outside this repository -> the Debian packages providing them.
#: ``psycopg[binary]`` is psycopg with prebuilt speedups; Debian's python3-psycopg
#: is the same API.
THIRD_PARTY = {"redis": "python3-redis", "psycopg": "python3-psycopg"}

#: (component, extra) -> control field; any other extra becomes a Suggests.
EXTRA_FIELDS = {("psp", "session"): "Recommends"}

_PEP440 = re.compile(
    r"(?P<release>\d+(?:\.\d+)*)"
    r"(?:(?P<pre>a|b|rc)(?P<pre_n>\d+))?"
    r"(?:\.post(?P<post>\d+))?"
    r"(?:\.dev(?P<dev>\d+))?"
)
_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;]*)")
_CLAUSE = re.compile(r"\s*(<=|>=|==|!=|~=|<|>)\s*(\S+)\s*")


def debian_version(version: str) -> str:
    """A PEP 440 version in Debian's syntax, in the same order.

    3.6.0.dev0 -> 3.6.0~dev0, 3.6.0rc1 -> 3.6.0~rc1, 3.6.0rc1.dev2 ->
    3.6.0~rc1~dev2, 3.6.0.post1 -> 3.6.0.post1, 3.6.0.post1.dev0 ->
    3.6.0.post1~dev0 ("~" sorts before anything, even the end of the string).
    Caveat: a .devN of a final release maps to ~devN, which Debian sorts after
    ~aN and ~bN (but before ~rcN); mod_python does not publish alphas or betas
    after a .dev0 of the same release.
    """
    match = _PEP440.fullmatch(version.strip())
    if not match:
        raise SystemExit(f"cannot map the version {version!r} to Debian's syntax")
    text = match["release"]
    if match["pre"]:
        text += f"~{match['pre']}{match['pre_n']}"
    if match["post"] is not None:
        text += f".post{match['post']}"
    if match["dev"] is not None:
        text += f"~dev{match['dev']}"
    return text


def _next_minor(version: str) -> str:
    """3.6.0.dev0 -> 3.7: the first release of the next series."""
    match = _PEP440.fullmatch(version)
    if not match:
        raise SystemExit(f"cannot understand the version {version!r}")
    major, minor = (match["release"].split(".") + ["0"])[:2]
    return f"{major}.{int(minor) + 1}"


def _pyproject(component: str, root: Path = ROOT) -> Dict[str, Any]:
    path = root / "packages" / f"mod_python-{component}" / "pyproject.toml"
    with path.open("rb") as f:
        return tomllib.load(f)


def _module_file(component: str, attr: str, root: Path = ROOT) -> Path:
    """The source file of ``mod_python.x`` from ``attr = "mod_python.x.__version__"``."""
    module = attr.rsplit(".", 1)[0]
    return (
        root / "packages" / f"mod_python-{component}" / "src" / Path(*module.split("."))
    ).with_suffix(".py")


def _string_constant(path: Path, name: str) -> Optional[str]:
    match = re.search(
        rf"^{name}\s*(?::\s*str\s*)?=\s*[\"']([^\"']+)[\"']", path.read_text(), re.MULTILINE
    )
    return match[1] if match else None


def component_version(component: str, root: Path = ROOT) -> str:
    """The PEP 440 version of mod_python-`component`, read where setuptools reads it."""
    attr = _pyproject(component, root)["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    path = _module_file(component, attr, root)
    version = _string_constant(path, attr.rsplit(".", 1)[1])
    if not version:
        raise SystemExit(f"no {attr} string in {path}")
    return version


def module_version(root: Path = ROOT) -> str:
    """MP_VERSION_STRING of the Apache module."""
    header = (root / "c_module" / "include" / "mp_version.h").read_text()
    match = re.search(r'#define\s+MP_VERSION_STRING\s+"([^"]+)"', header)
    if not match:
        raise SystemExit("no MP_VERSION_STRING in c_module/include/mp_version.h")
    return match[1]


def binary_package(component: str) -> str:
    return f"python3-mod-python-{component}"


def versions(root: Path = ROOT) -> List[Tuple[str, str]]:
    """(binary package, Debian upstream version) for every component."""
    found = [(MODULE_PACKAGE, debian_version(module_version(root)))]
    found += [(binary_package(c), debian_version(component_version(c, root))) for c in COMPONENTS]
    return found


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _parsed(specifier: str, what: str) -> List[Tuple[str, str]]:
    """(operator, version) of each clause of a PEP 440 specifier."""
    parsed = []
    for clause in filter(str.strip, specifier.split(",")):
        match = _CLAUSE.fullmatch(clause)
        if not match:
            raise SystemExit(f"cannot understand {what} {clause!r}")
        parsed.append((match[1], match[2]))
    return parsed


def _clauses(package: str, specifier: str) -> List[str]:
    """Debian relations on `package` for a PEP 440 specifier.

    ``>=V`` -> ``(>= V)``; ``<V`` -> ``(<< V~)``, since PEP 440's ``<3.7`` also
    excludes 3.7's pre-releases and 3.7~ sorts before 3.7.0~dev0; no clause ->
    the bare package. Other operators are not used by mod_python and are refused.
    """
    relations = []
    for op, bound in _parsed(specifier, "the version clause"):
        if op == ">=":
            relations.append(f"{package} (>= {debian_version(bound)})")
        elif op == "<":
            relations.append(f"{package} (<< {debian_version(bound)}~)")
        else:
            raise SystemExit(f"{op}{bound}: only >= and < are mapped to Debian relations")
    return relations or [package]


def relations(requirement: str) -> List[str]:
    """``mod_python-core>=3.6.0.dev0,<3.7`` -> Debian relations on python3-mod-python-core."""
    if ";" in requirement:
        raise SystemExit(f"{requirement!r}: environment markers are not mapped")
    match = _REQUIREMENT.fullmatch(requirement)
    if not match:
        raise SystemExit(f"cannot understand the requirement {requirement!r}")
    name = _canonical(match[1])
    if name.startswith("mod-python-"):
        package = binary_package(name[len("mod-python-") :])
    elif name in THIRD_PARTY:
        package = THIRD_PARTY[name]
    else:
        raise SystemExit(
            f"{requirement!r}: add its Debian package to THIRD_PARTY in debian/mp_debian.py"
        )
    return _clauses(package, match[2])


def substvars(python: str, root: Path = ROOT) -> Dict[str, Dict[str, str]]:
    """binary package -> {substitution variable: value}."""
    result: Dict[str, Dict[str, str]] = {}
    for component in COMPONENTS:
        project = _pyproject(component, root)["project"]
        fields: Dict[str, List[str]] = {"Depends": [], "Recommends": [], "Suggests": []}
        for requirement in project.get("dependencies", []):
            fields["Depends"] += relations(requirement)
        for extra, requirements in project.get("optional-dependencies", {}).items():
            field = EXTRA_FIELDS.get((component, extra), "Suggests")
            for requirement in requirements:
                fields[field] += relations(requirement)
        values = {f"mp:{field}": ", ".join(items) for field, items in fields.items()}
        if component == "core":
            values["mp:Breaks"] = ", ".join(_module_breaks(root))
        result[binary_package(component)] = values
    core = component_version("core", root)
    core_range = _clauses(binary_package("core"), f">={core},<{_next_minor(core)}")
    result[MODULE_PACKAGE] = {"mp:Depends": ", ".join([*core_range, python])}
    return result


def _module_breaks(root: Path) -> List[str]:
    """The module versions mod_python-core refuses (its MODULE_REQUIRED), as Breaks."""
    required = _string_constant(
        root / "packages" / "mod_python-core" / "src" / "mod_python" / "version.py",
        "MODULE_REQUIRED",
    )
    breaks = []
    for op, bound in _parsed(required or "", "MODULE_REQUIRED's clause"):
        if op == ">=":
            breaks.append(f"{MODULE_PACKAGE} (<< {debian_version(bound)})")
        elif op == "<":
            breaks.append(f"{MODULE_PACKAGE} (>= {debian_version(bound)}~)")
        else:
            raise SystemExit(f"MODULE_REQUIRED: only >= and < are mapped, not {op}")
    return breaks


def _write_substvars(package: str, values: Dict[str, str]) -> None:
    path = ROOT / "debian" / f"{package}.substvars"
    kept = []
    if path.exists():
        kept = [line for line in path.read_text().splitlines() if not line.startswith("mp:")]
    path.write_text("".join(f"{line}\n" for line in kept + [f"{k}={v}" for k, v in values.items()]))


def _acted_on() -> List[str]:
    """The binary packages this dh run builds (dh passes -a/-i in DH_INTERNAL_OPTIONS)."""
    out = subprocess.run(["dh_listpackages"], check=True, capture_output=True, text=True)
    return out.stdout.split()


def gencontrol(python: str, revision: str, extra: List[str]) -> None:
    acted_on = set(_acted_on())
    for package, values in substvars(python).items():
        if package in acted_on:
            _write_substvars(package, values)
    for package, version in versions():
        if package in acted_on:
            command = ["dh_gencontrol", f"-p{package}", "--", f"-v{version}-{revision}", *extra]
            print(" ".join(command), flush=True)
            subprocess.run(command, check=True)


# --- stage -----------------------------------------------------------------

_IGNORED = shutil.ignore_patterns(
    "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", ".nox"
)


def _setuptools_major() -> int:
    from importlib.metadata import version

    return int(version("setuptools").split(".")[0])


def adapt_pyproject(text: str) -> str:
    """pyproject.toml for setuptools < 77: the license as a PEP 621 table."""
    project = re.search(r"^\[project\]\n(.*?)(?=^\[|\Z)", text, re.MULTILINE | re.DOTALL)
    if not project:
        raise SystemExit("no [project] table")
    body = project[1]
    body = re.sub(
        r'^license\s*=\s*"([^"]+)"\s*$', r'license = {text = "\1"}', body, flags=re.MULTILINE
    )
    body = re.sub(r"^license-files\s*=\s*\[[^\]]*\]\s*\n", "", body, flags=re.MULTILINE)
    text = text[: project.start(1)] + body + text[project.end(1) :]
    text = re.sub(r'"setuptools\s*>=\s*[0-9.]+"', '"setuptools>=61"', text)
    parsed = tomllib.loads(text)["project"]
    if "license" in parsed and not isinstance(parsed["license"], dict):
        raise SystemExit(f"license is still {parsed['license']!r}")
    if "license-files" in parsed:
        raise SystemExit("license-files is still there")
    return text


def stage(dest: Path, root: Path = ROOT) -> None:
    adapt = _setuptools_major() < 77
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for component in COMPONENTS:
        source = root / "packages" / f"mod_python-{component}"
        target = dest / source.name
        shutil.copytree(source, target, symlinks=False, ignore=_IGNORED)
        if adapt:
            path = target / "pyproject.toml"
            path.write_text(adapt_pyproject(path.read_text()))
        print(f"staged {source.name} in {target}" + (" (license for setuptools<77)" * adapt))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    stage_cmd = commands.add_parser("stage", help="copy packages/* for Debian's setuptools")
    stage_cmd.add_argument("dest", type=Path)
    commands.add_parser("versions", help="print each binary package's upstream version")
    gen = commands.add_parser("gencontrol", help="write substvars, run dh_gencontrol")
    gen.add_argument("--python", required=True, help="the module's Python, e.g. python3.11")
    gen.add_argument("--revision", required=True, help="the Debian revision, e.g. 1")
    gen.add_argument("extra", nargs="*", help="more dpkg-gencontrol arguments")
    args = parser.parse_args(argv)
    if args.command == "stage":
        stage(args.dest)
    elif args.command == "versions":
        for package, version in versions():
            print(package, version)
    else:
        os.chdir(ROOT)
        gencontrol(args.python, args.revision, args.extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
