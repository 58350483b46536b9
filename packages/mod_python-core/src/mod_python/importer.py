"""The mod_python 3.3 module importer (manual 4.5.1 ``import_module``).

Modules are identified by the file they come from, not by their name: two
``index.py`` in two directories are two modules, and no directory of the
document tree ever goes on ``sys.path``.  A module found here is a candidate
for automatic reloading: it is loaded afresh, into a new module object, when
its file changed or when a module it imported was reloaded.  A name found
nowhere here is handed to Python's own import system (``sys.path``) and is
never reloaded.

The configuration in scope (handler root, ``PythonAutoReload``,
``PythonDebug``, the ``mod_python.importer.*`` options) reaches this module
as a :class:`Context` that the dispatcher installs around each handler call
with :func:`using`.  Nothing here needs Apache, so it is tested on its own.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import hashlib
import importlib
import itertools
import os
import sys
import threading
from types import ModuleType
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

__all__ = [
    "Context",
    "current_context",
    "freeze_modules",
    "import_module",
    "loaded_files",
    "parse_search_path",
    "using",
]

Logger = Callable[[str], None]


class Context:
    """The configuration in scope for imports done while a handler runs.

    ``handler_root`` is the directory of the active ``Python*Handler``
    directive (the document root for Location, VirtualHost and server
    scope); ``~/`` in paths means that directory.  ``autoreload`` and
    ``log`` are what ``PythonAutoReload`` and ``PythonDebug`` say; they
    are the defaults of :func:`import_module`'s arguments of those names.
    ``search_path`` is the ``mod_python.importer.path`` option, ``debug``
    the ``mod_python.importer.debug`` option, and ``logger`` where the
    messages go.
    """

    __slots__ = ("autoreload", "debug", "handler_root", "log", "logger", "search_path")

    def __init__(
        self,
        handler_root: Optional[str] = None,
        autoreload: bool = True,
        log: bool = False,
        search_path: Sequence[str] = (),
        debug: bool = False,
        logger: Optional[Logger] = None,
    ) -> None:
        self.handler_root = handler_root
        self.autoreload = autoreload
        self.log = log
        self.search_path = tuple(search_path)
        self.debug = debug
        self.logger = logger

    def say(self, message: str) -> None:
        """Pass *message* to ``logger``, if there is one."""
        if self.logger is not None:
            self.logger(message)


_DEFAULT_CONTEXT = Context()
_local = threading.local()


def current_context() -> Context:
    """The context of the handler running in this thread (defaults outside one)."""
    return getattr(_local, "context", None) or _DEFAULT_CONTEXT


@contextlib.contextmanager
def using(context: Context) -> Iterator[Context]:
    """Make ``context`` current in this thread for the ``with`` block."""
    previous = getattr(_local, "context", None)
    _local.context = context
    try:
        yield context
    finally:
        _local.context = previous


_parsed_paths: Dict[str, Tuple[str, ...]] = {}


def parse_search_path(value: Optional[str]) -> Tuple[str, ...]:
    """The directories of a ``mod_python.importer.path`` option: a Python list of str."""
    if not value:
        return ()
    parsed = _parsed_paths.get(value)
    if parsed is not None:
        return parsed
    try:
        literal = ast.literal_eval(value)
    except (ValueError, SyntaxError) as exc:
        raise ValueError(
            f"PythonOption mod_python.importer.path must be a Python list of directories, "
            f"as in [\"'/some/path'\"]; cannot read {value!r}"
        ) from exc
    if not isinstance(literal, (list, tuple)) or not all(isinstance(p, str) for p in literal):
        raise ValueError(
            f"PythonOption mod_python.importer.path must be a list of str, not {literal!r}"
        )
    parsed = _parsed_paths[value] = tuple(literal)
    return parsed


class _Record:
    """A loaded file module and what it was loaded from."""

    __slots__ = ("children", "generation", "module", "mtime", "path", "size")

    def __init__(self, module: ModuleType, path: str, mtime: int, size: int) -> None:
        self.module = module
        self.path = path
        self.mtime = mtime
        self.size = size
        # path -> generation of each file module this one imported: a child
        # reloaded since (a newer generation) makes this module stale too
        self.children: Dict[str, int] = {}
        self.generation = 0


_records: Dict[str, _Record] = {}  # published, fully initialised modules
_loading: Dict[str, _Record] = {}  # being executed by the thread holding _lock
_lock = threading.RLock()
_generations = itertools.count(1)
_frozen = False


def freeze_modules() -> None:
    """Never reload a module again in this interpreter, whatever PythonAutoReload says."""
    global _frozen
    _frozen = True


def loaded_files() -> Dict[str, ModuleType]:
    """The file modules loaded so far in this interpreter, by path."""
    return {path: record.module for path, record in list(_records.items())}


def _stat(path: str) -> Tuple[int, int]:
    st = os.stat(path)
    return st.st_mtime_ns, st.st_size


def _expand(entry: str, context: Context) -> Optional[str]:
    """``~`` and ``~/x`` are relative to the handler root (None without one)."""
    if not entry.startswith("~"):
        return entry
    if context.handler_root is None:
        return None
    rest = entry[1:]
    if rest.startswith("/"):
        rest = rest[1:]
    return os.path.normpath(os.path.join(context.handler_root, rest))


def _record_of(module_globals: Optional[Mapping[str, Any]]) -> Optional[_Record]:
    """The record of the file module whose globals these are, if this importer loaded it."""
    if not module_globals:
        return None
    path = module_globals.get("__file__")
    if not isinstance(path, str):
        return None
    record = _loading.get(path) or _records.get(path)
    if record is not None and record.module.__dict__ is module_globals:
        return record
    return None


def _search_dirs(
    path: Optional[Sequence[str]], parent: Optional[_Record], context: Context
) -> Iterator[str]:
    """The manual's order: ``path``, the importing module's directory and
    ``__mp_path__``, then the ``mod_python.importer.path`` option."""
    entries: List[str] = list(path or ())
    if parent is not None:
        entries.append(os.path.dirname(parent.path))
        mp_path = parent.module.__dict__.get("__mp_path__")
        if isinstance(mp_path, (list, tuple)):
            entries.extend(p for p in mp_path if isinstance(p, str))
    entries.extend(context.search_path)
    for entry in entries:
        directory = _expand(entry, context)
        if directory:
            yield directory


def _find(
    name: str,
    path: Optional[Sequence[str]],
    parent: Optional[_Record],
    caller_file: Optional[str],
    context: Context,
) -> Tuple[Optional[str], bool]:
    """(file, named_by_path): the file ``name`` names, or None for sys.path."""
    if os.path.isabs(name):
        return os.path.normpath(name), True
    if name.startswith(("./", "../")):
        base = os.path.dirname(caller_file) if caller_file else context.handler_root
        if base is None:
            raise ImportError(
                f"cannot import {name!r}: a './' or '../' path is relative to the importing "
                "module's file, and there is none (nor a handler root)"
            )
        return os.path.normpath(os.path.join(base, name)), True
    if name.startswith("~"):
        expanded = _expand(name, context)
        if expanded is None:
            raise ImportError(
                f"cannot import {name!r}: '~' means the handler root, and no handler is running"
            )
        return expanded, True
    if "." in name or not name:
        return None, False  # dotted names are Python packages: sys.path only
    for directory in _search_dirs(path, parent, context):
        candidate = os.path.join(directory, name + ".py")
        if os.path.isfile(candidate):
            return os.path.normpath(candidate), False
    return None, False


def _stale(record: _Record, seen: Optional[set] = None) -> Optional[str]:
    """Why ``record`` must be loaded again, or None while it is current."""
    seen = set() if seen is None else seen
    if record.path in seen:
        return None
    seen.add(record.path)
    try:
        if _stat(record.path) != (record.mtime, record.size):
            return f"{record.path} changed"
    except OSError:
        return f"{record.path} is gone"
    for child_path, generation in list(record.children.items()):
        child = _records.get(child_path)
        if child is None or child.generation != generation:
            return f"{child_path}, which it imports, was reloaded"
        reason = _stale(child, seen)
        if reason is not None:
            return reason
    return None


def _module_name(path: str) -> str:
    # Unique and stable per file: it names the module in tracebacks and pickles.
    return "_mp_" + hashlib.md5(path.encode("utf-8", "surrogateescape")).hexdigest()


def _purge(module: ModuleType, context: Context) -> None:
    purge = module.__dict__.get("__mp_purge__")
    if callable(purge):
        try:
            purge()
        except Exception as exc:  # the clone failure is what gets reported
            context.say(f"mod_python: __mp_purge__ of {module.__file__} failed: {exc!r}")


def _load(path: str, mp_path: Sequence[str], old: Optional[_Record], context: Context) -> _Record:
    """Execute ``path`` into a new module and publish it; called with _lock held."""
    try:
        mtime, size = _stat(path)  # before reading: an edit during the read reloads again
        with open(path, "rb") as f:
            source = f.read()
    except OSError as exc:
        raise ImportError(f"cannot import module file {path!r}: {exc.strerror}") from exc
    # Compiled from source each time: no .pyc is ever written into the document tree.
    code = compile(source, path, "exec", dont_inherit=True)
    name = _module_name(path)
    module = ModuleType(name)
    module.__file__ = path
    module.__mp_path__ = list(mp_path)  # type: ignore[attr-defined]
    module.__builtins__ = _builtins_with_import()  # type: ignore[attr-defined]
    record = _Record(module, path, mtime, size)
    if old is not None:
        clone = old.module.__dict__.get("__mp_clone__")
        if callable(clone):
            try:
                clone(module)
            except Exception as exc:
                # Manual: both modules are discarded; __mp_purge__ is the last word.
                _records.pop(path, None)
                _purge(old.module, context)
                if sys.modules.get(name) is old.module:
                    del sys.modules[name]
                raise ImportError(
                    f"__mp_clone__ of {path} failed ({exc!r}); the module was discarded"
                ) from exc
    previous = sys.modules.get(name)
    sys.modules[name] = module
    _loading[path] = record
    try:
        exec(code, module.__dict__)
    except BaseException:
        if previous is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = previous
        raise
    finally:
        del _loading[path]
    record.generation = next(_generations)
    _records[path] = record
    return record


def import_module(
    module_name: str,
    autoreload: Optional[bool] = None,
    log: Optional[bool] = None,
    path: Optional[Sequence[str]] = None,
    caller_globals: Optional[Mapping[str, Any]] = None,
) -> ModuleType:
    """Import a module by file path or by name, with the importer's rules, and return it.

    This is :func:`mod_python.apache.import_module` (manual 4.5.1), which
    passes its caller's globals; ``autoreload`` and ``log`` default to the
    current :class:`Context`'s. ``caller_globals`` are the globals of the
    importing module: its directory and ``__mp_path__`` are searched, './'
    and '../' are relative to it, and it will be reloaded whenever the
    module imported here is.
    """
    if not isinstance(module_name, str):
        raise TypeError(f"import_module() needs a module name or path (str), not {module_name!r}")
    context = current_context()
    parent = _record_of(caller_globals)
    caller_file = caller_globals.get("__file__") if caller_globals else None
    if not isinstance(caller_file, str):
        caller_file = None
    file, by_path = _find(module_name, path, parent, caller_file, context)
    if file is None:
        if context.debug:
            context.say(f"mod_python (importer): {module_name!r} is no file module: sys.path")
        return importlib.import_module(module_name)
    return _import_file(file, path if by_path else (), autoreload, log, parent, context)


def _import_file(
    file: str,
    mp_path: Optional[Sequence[str]],
    autoreload: Optional[bool],
    log: Optional[bool],
    parent: Optional[_Record],
    context: Context,
) -> ModuleType:
    reload_allowed = not _frozen and (
        context.autoreload if autoreload is None else bool(autoreload)
    )
    record = _records.get(file)
    if record is None or (reload_allowed and _stale(record) is not None):
        record = _load_locked(file, mp_path, reload_allowed, context, log)
    elif context.debug:
        context.say(f"mod_python (importer): {file} is current")
    if parent is not None and parent is not record:
        parent.children[record.path] = record.generation
    return record.module


def _load_locked(
    file: str,
    mp_path: Optional[Sequence[str]],
    reload_allowed: bool,
    context: Context,
    log: Optional[bool],
) -> _Record:
    with _lock:
        loading = _loading.get(file)
        if loading is not None:
            return loading  # an import cycle within this thread: as Python does
        record = _records.get(file)
        reason: Optional[str] = "first import"
        if record is not None:
            reason = _stale(record) if reload_allowed else None
            if reason is None:
                return record  # another thread loaded it while we waited
        if context.debug:
            context.say(f"mod_python (importer): loading {file} ({reason})")
        record = _load(file, mp_path or (), record, context)
        if context.log if log is None else log:
            verb = "imported" if reason == "first import" else "reloaded"
            context.say(f"mod_python: {verb} module {file} ({reason})")
        return record


# --------------------------------------------------------------------------- import statements
# Inside a file module, ``import name`` means ``apache.import_module('name')``
# (manual 4.5.1): such modules get builtins whose __import__ asks this
# importer first and hands everything else to Python's.

_original_import = builtins.__import__
_builtins_dict: Optional[Dict[str, Any]] = None


def _mp_import(
    name: str,
    globals: Optional[Mapping[str, Any]] = None,
    locals: Optional[Mapping[str, Any]] = None,
    fromlist: Sequence[str] = (),
    level: int = 0,
) -> Any:
    if level == 0 and "." not in name:
        parent = _record_of(globals)
        if parent is not None:
            context = current_context()
            file, _ = _find(name, None, parent, None, context)
            if file is not None:
                return _import_file(file, (), None, None, parent, context)
    return _original_import(name, globals, locals, fromlist, level)


def _builtins_with_import() -> Dict[str, Any]:
    global _builtins_dict
    if _builtins_dict is None:
        namespace = dict(builtins.__dict__)
        namespace["__import__"] = _mp_import
        _builtins_dict = namespace
    return _builtins_dict
