"""The walk from a module to the published object: each step checked
against what a URL must never reach, and against the guard."""

from __future__ import annotations

import types
from typing import Any, Sequence, Tuple

from mod_python._publisher_auth import _Guard
from mod_python._publisher_base import _not_found

# Interpreter internals: nothing a URL may reach, as a step or as the result.
_INTERNAL_TYPES: Tuple[type, ...] = (
    types.ModuleType,
    types.FrameType,
    types.CodeType,
    types.TracebackType,
    types.GeneratorType,
    types.CoroutineType,
    types.AsyncGeneratorType,
    types.CellType,
    types.BuiltinFunctionType,  # also built-in methods such as "text".upper
    types.MethodWrapperType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
    types.GetSetDescriptorType,
    types.MemberDescriptorType,
)


def _kind(obj: Any) -> str:
    if isinstance(obj, types.ModuleType):
        return "module"
    if isinstance(obj, type):
        return "class"
    return type(obj).__name__


def _check_step(obj: Any, path: str) -> None:
    """Refuse to walk on from ``obj`` (at ``path``): only plain objects have published members.

    Modules (imported by the published one), classes and functions lead to
    everything in the interpreter, so the walk never goes through them.
    """
    if (
        isinstance(obj, _INTERNAL_TYPES)
        or isinstance(obj, type)
        or isinstance(obj, (types.FunctionType, types.MethodType))
    ):
        raise _not_found(f"{path!r} is a {_kind(obj)}: nothing inside it is published")


def _check_published(obj: Any, module: types.ModuleType, path: str, top: bool) -> None:
    """Refuse to publish ``obj`` (what ``path`` led to) if it is not the module's to publish.

    ``top`` says ``obj`` is a global of the module, where a method can only
    have been imported or copied from another object (``from random import
    seed``); methods of the module's instances are found one step further.
    """
    if isinstance(obj, _INTERNAL_TYPES):
        raise _not_found(f"{path!r} is a {_kind(obj)}, which is never published")
    func = obj.__func__ if top and isinstance(obj, types.MethodType) else obj
    if isinstance(func, types.FunctionType) and func.__module__ != module.__name__:
        # "from shutil import rmtree" must not publish rmtree: a module
        # publishes the functions it defines, not those it imports.
        raise _not_found(
            f"{path!r} is the function {func.__module__}.{func.__qualname__}, not one defined "
            "in the published module (define a function there that calls it)"
        )


def _resolve(module: types.ModuleType, names: Sequence[str], guard: _Guard) -> Any:
    """Walk ``names`` from ``module``, checking each step's type, name and authentication."""
    for index, name in enumerate(names):
        if name.startswith("_"):
            path = "/" + "/".join(names[: index + 1])
            raise _not_found(f"{path!r}: names starting with an underscore are never published")
    guard.check(module, "the module")
    obj: Any = module
    for index, name in enumerate(names):
        path = "/" + "/".join(names[: index + 1])
        try:
            obj = getattr(obj, name)
        except AttributeError:
            raise _not_found(f"{path!r}: no such object") from None
        _check_published(obj, module, path, top=index == 0)
        if index + 1 < len(names):
            # before its own __auth__: a path through it is refused, whoever asks
            _check_step(obj, path)
        guard.check(obj, repr(path))
    guard.finish()
    return obj
