"""Loading handler modules (manual 4.5.1 ``import_module``, 5.1.1).

A handler module named by a ``Python*Handler`` directive is looked up as a
file in the directive's directory first, and imported from ``sys.path``
otherwise.  File modules are keyed by their path, so two ``index.py`` in
two directories are two modules, and document-tree directories never go on
``sys.path``.  With ``PythonAutoReload On`` a module whose file changed is
loaded afresh on its next use.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
import threading
from types import ModuleType
from typing import Dict, Iterable, Optional, Tuple

__all__ = ["find_module_file", "import_file", "import_handler_module", "loaded_files"]

# path -> (module, st_mtime_ns, st_size) of the file it was loaded from
_files: Dict[str, Tuple[ModuleType, int, int]] = {}
# (module name, directory) -> the file it was found as: spares a lookup per request
_found: Dict[Tuple[str, Optional[str]], str] = {}
_lock = threading.RLock()


def find_module_file(name: str, directories: Iterable[Optional[str]]) -> Optional[str]:
    """The file that module ``name`` names: an absolute path, or ``dir/name.py``."""
    if os.path.isabs(name):
        return name
    relative = os.path.join(*name.split(".")) + ".py"
    for directory in directories:
        if directory:
            candidate = os.path.join(directory, relative)
            if os.path.isfile(candidate):
                return candidate
    return None


def _module_name(path: str) -> str:
    # A stable, unique name per file: it shows in tracebacks and reprs.
    return "_mp_" + hashlib.md5(path.encode("utf-8", "surrogateescape")).hexdigest()


def _load(path: str) -> ModuleType:
    # Compiled from source every time, with no .pyc written into the document
    # tree: a cached .pyc keyed on whole seconds could hide a quick edit.
    with open(path, "rb") as f:
        source = f.read()
    code = compile(source, path, "exec", dont_inherit=True)
    name = _module_name(path)
    module = ModuleType(name)
    module.__file__ = path
    module.__mp_path__ = os.path.dirname(path)  # type: ignore[attr-defined]
    previous = sys.modules.get(name)
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except BaseException:
        if previous is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = previous
        raise
    return module


def import_file(path: str, autoreload: bool = True) -> ModuleType:
    """Import the module in file ``path``, loading it again if it changed."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ImportError(f"cannot import handler module file {path!r}: {exc.strerror}") from exc
    entry = _files.get(path)
    if entry is not None and (not autoreload or entry[1:] == (st.st_mtime_ns, st.st_size)):
        return entry[0]
    with _lock:
        entry = _files.get(path)
        if entry is not None and (not autoreload or entry[1:] == (st.st_mtime_ns, st.st_size)):
            return entry[0]
        module = _load(path)
        _files[path] = (module, st.st_mtime_ns, st.st_size)
        return module


def import_handler_module(
    name: str, directory: Optional[str], autoreload: bool = True
) -> ModuleType:
    """The module a handler directive names, found as :func:`find_module_file` says."""
    path = _found.get((name, directory))
    if path is None:
        path = find_module_file(name, (directory,))
        if path is None:
            return importlib.import_module(name)
        _found[(name, directory)] = path
    return import_file(path, autoreload)


def loaded_files() -> Dict[str, ModuleType]:
    """The file modules loaded so far in this interpreter, by path."""
    return {path: entry[0] for path, entry in _files.items()}
