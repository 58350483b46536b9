"""An offline stand-in for https://docs.python.org/3/objects.inv.

The manual links to Python's documentation with intersphinx.  When
docs.python.org cannot be reached (a machine without internet, a firewalled
CI), intersphinx falls back to the inventory this module writes, made by
introspecting the standard library of the Python that builds the manual:

- the modules in :data:`MODULES` (and the builtins), each name they export:
  classes, functions, exceptions and data, and the methods and attributes of
  their classes;
- targets where docs.python.org puts them: ``library/<page>.html#<module>.<name>``,
  ``#module-<module>`` for a module, ``library/functions.html#<name>`` for
  built-in functions, ``library/stdtypes.html#<type>`` for built-in types,
  ``library/exceptions.html#<Exception>``, ``library/constants.html#<name>``,
  and ``glossary.html#term-<term>`` for the few glossary terms in
  :data:`TERMS`.

It is written in the same format (version 2, zlib) as Sphinx's own
inventories.  Online, intersphinx uses docs.python.org's inventory, and this
file is never read.

Run it to inspect or check the result::

    python docs/_ext/python_inventory.py OUT.inv [--compare REFERENCE.inv]

``--compare`` reports how many entries agree with a real inventory of
Python's documentation (Debian's ``python3.X-doc`` package has one in
``/usr/share/doc/python3.X/html/objects.inv``).
"""

from __future__ import annotations

import argparse
import builtins
import importlib
import inspect
import re
import sys
import types
import zlib
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Tuple

#: The standard library modules whose names the manual may refer to.
MODULES = (
    "argparse",
    "ast",
    "atexit",
    "base64",
    "bdb",
    "binascii",
    "codecs",
    "collections",
    "collections.abc",
    "contextlib",
    "dataclasses",
    "datetime",
    "dbm",
    "dbm.dumb",
    "dbm.gnu",
    "dbm.ndbm",
    "dbm.sqlite3",
    "email",
    "email.message",
    "errno",
    "fcntl",
    "functools",
    "hashlib",
    "hmac",
    "html",
    "http",
    "http.cookies",
    "importlib",
    "importlib.metadata",
    "inspect",
    "io",
    "json",
    "logging",
    "marshal",
    "math",
    "os",
    "os.path",
    "pathlib",
    "pdb",
    "pickle",
    "random",
    "re",
    "secrets",
    "shutil",
    "signal",
    "smtplib",
    "socket",
    "ssl",
    "stat",
    "string",
    "subprocess",
    "sys",
    "sysconfig",
    "tempfile",
    "threading",
    "time",
    "traceback",
    "types",
    "typing",
    "urllib.parse",
    "uuid",
    "venv",
    "warnings",
    "wsgiref",
    "wsgiref.headers",
    "wsgiref.simple_server",
    "wsgiref.util",
    "zlib",
)

#: Modules documented on another module's page.
PAGES = {
    "dbm.dumb": "dbm",
    "dbm.gnu": "dbm",
    "dbm.ndbm": "dbm",
    "dbm.sqlite3": "dbm",
    "wsgiref.headers": "wsgiref",
    "wsgiref.simple_server": "wsgiref",
    "wsgiref.util": "wsgiref",
}

#: Classes documented on another page than their module.
CLASS_PAGES = {
    "email.message.Message": "email.compat32-message",
    "logging.FileHandler": "logging.handlers",
    "logging.NullHandler": "logging.handlers",
    "logging.StreamHandler": "logging.handlers",
}

#: Classes that some Pythons implement as factory functions (``_thread``).
CLASSES = frozenset({"threading.Lock", "threading.RLock"})

#: Built-in classes documented in library/functions.html (the others are in stdtypes.html).
FUNCTIONS_PAGE_TYPES = frozenset(
    {
        "bool",
        "classmethod",
        "complex",
        "enumerate",
        "filter",
        "float",
        "int",
        "map",
        "object",
        "property",
        "reversed",
        "slice",
        "staticmethod",
        "super",
        "type",
        "zip",
    }
)

#: Glossary terms (``:term:``) the manual may use.
TERMS = (
    "bytes-like object",
    "context manager",
    "file object",
    "iterable",
    "iterator",
    "mapping",
    "module",
    "namespace package",
    "path-like object",
    "sequence",
    "virtual environment",
)

Entry = Tuple[str, str, str]  # (name, "domain:role", uri)


def _public(names: Iterable[str]) -> List[str]:
    return sorted(name for name in names if not name.startswith("_"))


def _defined_in(value: object, module: str) -> bool:
    """Whether *module* defines *value*, itself or in a private module (``_thread``)."""
    owner = getattr(value, "__module__", None)
    return owner is None or owner == module or owner.startswith("_")


def _exported(module: types.ModuleType) -> List[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            name
            for name, value in vars(module).items()
            if not isinstance(value, types.ModuleType) and _defined_in(value, module.__name__)
        ]
    return _public(names)


def _members(cls: type) -> Iterator[Tuple[str, str]]:
    """(name, role) of the public methods and attributes a class defines itself."""
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, (classmethod, staticmethod)):
            role = "py:classmethod" if isinstance(value, classmethod) else "py:staticmethod"
        elif callable(value) or inspect.isroutine(value):
            role = "py:method"
        elif isinstance(value, property):
            role = "py:property"
        else:
            role = "py:attribute"
        yield name, role


def _role(value: object) -> str:
    if isinstance(value, type):
        return "py:exception" if issubclass(value, BaseException) else "py:class"
    if inspect.isroutine(value) or callable(value):
        return "py:function"
    return "py:data"


def _module_entries(name: str) -> Iterator[Entry]:
    page = f"library/{PAGES.get(name, name)}.html"
    yield name, "py:module", f"{page}#module-{name}"
    try:
        module = importlib.import_module(name)
    except ImportError:
        return  # not built into this Python (dbm.gnu, dbm.sqlite3): the module alone
    for attr in _exported(module):
        value = getattr(module, attr, None)
        if value is None and attr not in vars(module):
            continue
        if isinstance(value, types.ModuleType):
            continue
        full = f"{name}.{attr}"
        role = "py:class" if full in CLASSES else _role(value)
        where = f"library/{CLASS_PAGES[full]}.html" if full in CLASS_PAGES else page
        yield full, role, f"{where}#{full}"
        if isinstance(value, type):
            for member, member_role in _members(value):
                yield f"{full}.{member}", member_role, f"{where}#{full}.{member}"


def _builtin_entries() -> Iterator[Entry]:
    for name in _public(vars(builtins)):
        value = getattr(builtins, name)
        if name in ("None", "True", "False", "NotImplemented", "Ellipsis"):
            yield name, "py:data", f"library/constants.html#{name}"
        elif isinstance(value, type) and issubclass(value, BaseException):
            yield name, "py:exception", f"library/exceptions.html#{name}"
        elif isinstance(value, type):
            page = "functions" if name in FUNCTIONS_PAGE_TYPES else "stdtypes"
            yield name, "py:class", f"library/{page}.html#{name}"
            for member, role in _members(value):
                yield f"{name}.{member}", role, f"library/stdtypes.html#{name}.{member}"
        elif callable(value):
            yield name, "py:function", f"library/functions.html#{name}"
    yield "__debug__", "py:data", "library/constants.html#debug__"
    yield "builtins", "py:module", "library/builtins.html#module-builtins"


def _term_entries() -> Iterator[Entry]:
    for term in TERMS:
        anchor = "term-" + re.sub(r"[^a-z0-9]+", "-", term.lower()).strip("-")
        yield term, "std:term", f"glossary.html#{anchor}"


def entries(modules: Iterable[str] = MODULES) -> Dict[Tuple[str, str], str]:
    """{(name, "domain:role"): uri} of every entry, the first found of each kept."""
    found: Dict[Tuple[str, str], str] = {}
    sources = [_builtin_entries(), _term_entries(), *(_module_entries(m) for m in modules)]
    for source in sources:
        for name, role, uri in source:
            found.setdefault((name, role), uri)
    return found


def write(path: Path, modules: Iterable[str] = MODULES) -> int:
    """Write the inventory to *path*; returns the number of entries."""
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    lines = []
    for (name, role), uri in sorted(entries(modules).items()):
        if uri.endswith("#" + name):
            uri = uri[: -len(name)] + "$"  # the abbreviation Sphinx itself writes
        lines.append(f"{name} {role} 1 {uri} -\n")
    header = (
        "# Sphinx inventory version 2\n"
        "# Project: Python\n"
        f"# Version: {version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header.encode() + zlib.compress("".join(lines).encode(), 9))
    return len(lines)


def _read(path: Path) -> Dict[Tuple[str, str], str]:
    from sphinx.util.inventory import InventoryFile

    inventory = InventoryFile.loads(path.read_bytes(), uri="")
    return {
        (name, role): item.uri
        for role, items in inventory.data.items()
        for name, item in items.items()
    }


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--compare", type=Path, help="a real objects.inv of Python's docs")
    args = parser.parse_args(argv)
    count = write(args.output)
    ours = _read(args.output)  # read back with Sphinx's own reader
    print(f"{args.output}: {count} entries ({len(ours)} read back by Sphinx)")
    if args.compare:
        theirs = _read(args.compare)
        known = [key for key in ours if key in theirs]
        same = [key for key in known if ours[key] == theirs[key]]
        print(f"{len(known)} of them are in {args.compare}; {len(same)} with the same target")
        for key in sorted(set(known) - set(same))[:40]:
            print(f"  {key[1]} {key[0]}: ours {ours[key]}, theirs {theirs[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
