"""A stand-in for ``_apache`` so that the manual can document the Apache-only modules.

``mod_python.apache`` (and ``util``, ``wsgi``, ``cgihandler`` and
``testhandler``, which import it) start with ``import _apache``: the built-in
module that ``mod_python.so`` creates inside Apache.  Outside Apache that
import fails, on purpose.  autodoc has to import these modules to read their
docstrings and signatures, so this extension puts a stub ``_apache`` into
``sys.modules`` while the manual is built:

- every attribute is a :class:`Stub`: callable, subscriptable, usable as a base
  class, comparable, so whatever the modules do with ``_apache`` at import time
  works; its ``repr`` says it is a stub, so a stub value that reaches a page or
  a doctest's output is seen at once;
- ``MODULE_VERSION`` is a real version string, that of this repository's Apache
  module (``c_module/include/mp_version.h``), because ``mod_python.apache``
  checks it against ``mod_python.version.MODULE_REQUIRED`` when imported.
  sphinx.ext.autodoc's own ``autodoc_mock_imports`` would give a mock object
  there, which that check rejects.

The stub never replaces a real ``_apache``, and it exists only in the process
that builds the manual.

Doctests show code that runs *outside* Apache, so :func:`outside_apache`
(run before each doctest group, see ``doctest_global_setup`` in ``conf.py``)
first imports the Apache-only modules with the stub, then hides
``mod_python.apache`` and ``_apache`` again: ``mod_python.Session`` then finds
no Apache and uses its own locks, as it does in any program, while
``mod_python.util`` stays importable for the examples of its pure-Python parts
(:class:`~mod_python.util.Field`, :class:`~mod_python.util.FieldStorage` on a
multipart body).  :func:`inside_apache` (``doctest_global_cleanup``) puts them
back.
"""

from __future__ import annotations

import importlib
import re
import sys
import types
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple

REPOSITORY = Path(__file__).resolve().parents[2]
VERSION_HEADER = REPOSITORY / "c_module" / "include" / "mp_version.h"

#: The modules of mod_python-core that import ``_apache``.
APACHE_MODULES = (
    "mod_python.apache",
    "mod_python.util",
    "mod_python.wsgi",
    "mod_python.cgihandler",
    "mod_python.testhandler",
)


class Stub:
    """Any object of ``_apache``: whatever is asked of it gives another stub."""

    def __init__(self, name: str) -> None:
        self._stub_name = name

    def __repr__(self) -> str:
        return f"<{self._stub_name} (stub: only inside Apache)>"

    def __getattr__(self, name: str) -> Stub:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return Stub(f"{self._stub_name}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> Stub:
        return Stub(f"{self._stub_name}()")

    def __getitem__(self, key: Any) -> Stub:
        return Stub(f"{self._stub_name}[{key!r}]")

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __bool__(self) -> bool:
        return False

    def __mro_entries__(self, bases: Tuple[Any, ...]) -> Tuple[type, ...]:
        # ``class X(_apache.table)``: a plain class named after the stub
        return (type(self._stub_name.rpartition(".")[2], (), {"__module__": "_apache"}),)


class StubModule(types.ModuleType):
    """The ``_apache`` module outside Apache: attributes are made on demand."""

    def __getattr__(self, name: str) -> Stub:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        value = Stub(f"_apache.{name}")
        setattr(self, name, value)
        return value


def module_version(header: Path = VERSION_HEADER) -> str:
    """The Apache module's version, as ``mod_python.so`` reports it."""
    match = re.search(r'#define\s+MP_VERSION_STRING\s+"([^"]+)"', header.read_text("utf-8"))
    if match is None:
        raise RuntimeError(f"no MP_VERSION_STRING in {header}")
    return match[1]


def make_stub() -> StubModule:
    stub = StubModule("_apache", "Documentation stub of mod_python.so's built-in module.")
    stub.MODULE_VERSION = module_version()  # type: ignore[attr-defined]
    stub.__file__ = __file__
    return stub


def install() -> bool:
    """Put the stub into ``sys.modules`` unless a real ``_apache`` exists; True if it did."""
    if "_apache" in sys.modules and not isinstance(sys.modules["_apache"], StubModule):
        return False
    try:
        importlib.import_module("_apache")
    except ImportError:
        sys.modules["_apache"] = make_stub()
        return True
    return False


_hidden: Dict[str, Any] = {}


def outside_apache() -> None:
    """Make the doctests' process look like a program running outside Apache."""
    if "_apache" in _hidden:
        return  # already hidden by the previous group
    install()
    for name in APACHE_MODULES:
        importlib.import_module(name)
    package = sys.modules["mod_python"]
    for name in ("mod_python.apache", "_apache"):
        _hidden[name] = sys.modules[name]
        sys.modules[name] = None  # type: ignore[assignment]  # import raises ImportError
    _hidden["mod_python:apache"] = package.__dict__.pop("apache", None)


def inside_apache() -> None:
    """Undo :func:`outside_apache`."""
    if not _hidden:
        return
    for name in ("mod_python.apache", "_apache"):
        sys.modules[name] = _hidden.pop(name)
    apache = _hidden.pop("mod_python:apache")
    if apache is not None:
        sys.modules["mod_python"].apache = apache


def setup(app: Any) -> Dict[str, Any]:
    install()
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
