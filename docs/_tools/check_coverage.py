"""Check that the manual documents every public name of mod_python.

Reads the inventory (``objects.inv``) of an HTML build of the manual and
compares it with what the code defines:

Python modules
    The public names of each module of :data:`MODULES`: its ``__all__``, or,
    for a module without one, every module-level name it defines that does
    not start with ``_`` (``def``, ``class``, assignments, and names imported
    from a private module such as ``_apache``, which the module re-exports).
    The sources are read, not imported: ``mod_python.apache`` and the modules
    that use it cannot be imported outside Apache.

C types
    The types of ``mod_python.so`` (request, table, server, connection,
    filter, finfo) cannot be introspected outside Apache either.  Their
    members are taken from the C sources, ``c_module/src/*object.c``: the
    names of the ``PyMethodDef``, ``PyGetSetDef`` and ``PyMemberDef`` arrays
    that each ``PyType_Spec`` lists in its slots.  Each must be documented
    under the type's name as the spec gives it (``mod_python.apache.request``).

Directives
    Every ``Python*`` directive of the Apache module's command table
    (``command_rec`` in ``c_module/src/directives.c``) must have its section
    in ``directives.rst``, whose label is ``dir-<name in lower case>``.  (The
    table also lists Apache's ``Require``, which the module only observes
    for ``req.requires()``.)

It also reports the reverse: a documented module-level name or C type member
that the code does not have (documentation left behind by a removal).

Usage::

    python docs/_tools/check_coverage.py BUILD/objects.inv

Prints what is missing and exits with 1 if anything is; prints the counts and
exits with 0 otherwise.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import zlib
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

REPOSITORY = Path(__file__).resolve().parents[2]
PACKAGES = REPOSITORY / "packages"
C_SOURCES = REPOSITORY / "c_module" / "src"

#: The public modules and the distribution that holds each.
MODULES = {
    "mod_python.apache": "mod_python-core",
    "mod_python.cgihandler": "mod_python-core",
    "mod_python.importer": "mod_python-core",
    "mod_python.testhandler": "mod_python-core",
    "mod_python.util": "mod_python-core",
    "mod_python.version": "mod_python-core",
    "mod_python.wsgi": "mod_python-core",
    "mod_python.Cookie": "mod_python-cookie",
    "mod_python.Session": "mod_python-session",
    "mod_python.publisher": "mod_python-publisher",
    "mod_python.psp": "mod_python-psp",
}


# --------------------------------------------------------------------------- inventory


def read_inventory(path: Path) -> Set[str]:
    """The Python objects (``py:*`` entries) and labels (``std:label`` entries,
    as ``label:NAME``) an objects.inv holds."""
    data = path.read_bytes()
    lines = data.split(b"\n", 4)
    if lines[0] != b"# Sphinx inventory version 2" or b"zlib" not in lines[3]:
        raise SystemExit(f"{path}: not a Sphinx inventory (version 2)")
    names = set()
    for line in zlib.decompress(lines[4]).decode("utf-8").splitlines():
        match = re.match(r"(.+?)\s+(\S+):(\S+)\s+-?\d+\s", line)
        if match and match[2] == "py":
            names.add(match[1])
        elif match and match[2] == "std" and match[3] == "label":
            names.add("label:" + match[1])
    return names


# --------------------------------------------------------------------------- Python modules


def module_source(module: str) -> Path:
    """The source file of *module*, in the repository (not an installed copy)."""
    dist = MODULES[module]
    path = PACKAGES / dist / "src" / (module.replace(".", "/") + ".py")
    if not path.is_file():
        raise SystemExit(f"{module}: no source file {path}")
    return path


def _literal_all(tree: ast.Module) -> Optional[List[str]]:
    for node in tree.body:
        targets: List[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            value = ast.literal_eval(node.value)  # type: ignore[arg-type]
            return [str(name) for name in value]
    return None


def _bound_names(node: ast.stmt) -> List[str]:
    """Module-level names a statement defines (imports from public modules excluded)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    if isinstance(node, ast.ImportFrom):
        # from _apache import OK: a private module's names, re-exported;
        # from x import y as y: an explicit re-export (PEP 484)
        module = node.module or ""
        private = module.startswith("_") and module != "__future__" and node.level == 0
        return [a.asname or a.name for a in node.names if private or a.asname == a.name]
    if isinstance(node, ast.If):  # if/else at module level (version checks)
        return [name for child in node.body + node.orelse for name in _bound_names(child)]
    if isinstance(node, ast.Try):
        children = node.body + node.orelse + node.finalbody
        children += [s for h in node.handlers for s in h.body]
        return [name for child in children for name in _bound_names(child)]
    return []


def public_names(module: str) -> Tuple[List[str], Set[str], str]:
    """(public names, every module-level name, where the public names come from)."""
    tree = ast.parse(module_source(module).read_text("utf-8"))
    defined = {name for node in tree.body for name in _bound_names(node)}
    declared = _literal_all(tree)
    if declared is not None:
        return sorted(declared), defined | set(declared), "__all__"
    names = sorted(name for name in defined if not name.startswith("_"))
    return names, defined, "module-level names"


# --------------------------------------------------------------------------- C types

_SPEC = re.compile(r"PyType_Spec\s+\w+\s*=\s*\{[^}]*?\.name\s*=\s*\"([^\"]+)\"", re.S)
_SLOTS = re.compile(r"\{\s*Py_tp_(methods|getset|members)\s*,\s*(\w+)\s*\}")
_ARRAY = re.compile(
    r"static\s+Py(?:MethodDef|GetSetDef|MemberDef)\s+(\w+)\s*\[\]\s*=\s*\{(.*?)\n\};", re.S
)
# an entry starts a line: {"name", ...} or MACRO("name", ...)
_ENTRY = re.compile(r"^\s*(?:\{|[A-Z][A-Z0-9_]*\()\s*\"([^\"]+)\"", re.M)


def c_types(sources: Path = C_SOURCES) -> Dict[str, List[str]]:
    """{type name: its member names}, from the *object.c sources."""
    types: Dict[str, List[str]] = {}
    for path in sorted(sources.glob("*object.c")):
        text = path.read_text("utf-8")
        spec = _SPEC.search(text)
        if spec is None:
            continue
        arrays = {m[1]: _ENTRY.findall(m[2]) for m in _ARRAY.finditer(text)}
        members: List[str] = []
        for _kind, array in _SLOTS.findall(text):
            if array not in arrays:
                raise SystemExit(f"{path}: slot array {array} not found")
            members += arrays[array]
        types[spec[1]] = sorted(members)
    if not types:
        raise SystemExit(f"no PyType_Spec found in {sources}/*object.c")
    return types


# --------------------------------------------------------------------------- directives

_COMMANDS = re.compile(r"command_rec\s+\w+\s*\[\]\s*=\s*\{(.*?)\n\};", re.S)
_COMMAND = re.compile(r"^\s*[A-Z][A-Z0-9_]*\(\s*\"(\w+)\"", re.M)


def directives(sources: Path = C_SOURCES) -> List[str]:
    """The names of the Python* directives in the Apache module's command tables."""
    names: List[str] = []
    for path in sorted(sources.glob("*.c")):
        for table in _COMMANDS.findall(path.read_text("utf-8")):
            names += [name for name in _COMMAND.findall(table) if name.startswith("Python")]
    if not names:
        raise SystemExit(f"no command_rec table found in {sources}/*.c")
    return sorted(set(names))


# --------------------------------------------------------------------------- the check


def check(inventory: Set[str]) -> Tuple[List[str], List[str], List[str]]:
    """(missing, stale, summary lines)."""
    missing: List[str] = []
    stale: List[str] = []
    summary: List[str] = []
    for module in sorted(MODULES):
        names, defined, source = public_names(module)
        absent = [f"{module}.{name}" for name in names if f"{module}.{name}" not in inventory]
        missing += [f"{name}  ({source} of {module})" for name in absent]
        summary.append(f"{module}: {len(names) - len(absent)}/{len(names)} ({source})")
        prefix = module + "."
        for entry in sorted(inventory):
            if entry.startswith(prefix):
                first = entry[len(prefix) :].split(".")[0]
                if first not in defined and entry == prefix + first:
                    stale.append(f"{entry}  (documented, but {module} has no {first})")
    for type_name, every_member in sorted(c_types().items()):
        members = [name for name in every_member if not name.startswith("_")]
        absent = [f"{type_name}.{m}" for m in members if f"{type_name}.{m}" not in inventory]
        if type_name not in inventory:
            absent.insert(0, type_name)
        missing += [f"{name}  (C type {type_name})" for name in absent]
        total = len(members) + 1
        summary.append(f"{type_name} (C): {total - len(absent)}/{total}")
        known = set(every_member)
        for entry in sorted(inventory):
            if entry.startswith(type_name + "."):
                member = entry[len(type_name) + 1 :]
                if "." not in member and member not in known and not member.startswith("__"):
                    stale.append(f"{entry}  (documented, but the C type has no {member})")
    names = directives()
    absent = [name for name in names if f"label:dir-{name.lower()}" not in inventory]
    missing += [f"{name}  (directive, no section labelled dir-{name.lower()})" for name in absent]
    summary.append(f"directives: {len(names) - len(absent)}/{len(names)}")
    return missing, stale, summary


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "inventory",
        type=Path,
        help="objects.inv of an HTML build of the manual (or the build directory)",
    )
    args = parser.parse_args(argv)
    path = args.inventory / "objects.inv" if args.inventory.is_dir() else args.inventory
    missing, stale, summary = check(read_inventory(path))
    for line in summary:
        print(line)
    for name in missing:
        print(f"undocumented: {name}")
    for name in stale:
        print(f"stale: {name}")
    if missing or stale:
        print(f"{len(missing)} undocumented, {len(stale)} stale")
        return 1
    print("every public name is documented")
    return 0


if __name__ == "__main__":
    sys.exit(main())
