"""From the request to a module file: which ``.py`` file ``req.filename``
designates and which names ``req.path_info`` walks in it (manual 7.1.2)."""

from __future__ import annotations

import os
from typing import NamedTuple, Optional, Tuple

from mod_python._publisher_base import DEFAULT_NAME, _not_found


class _Target(NamedTuple):
    """What a request designates: a module file and the names to walk in it."""

    module_path: str
    names: Tuple[str, ...]


def _object_names(path_info: str) -> Tuple[str, ...]:
    """The names ``path_info`` walks; ``index`` where the path ends at a slash or is empty."""
    parts = path_info.split("/")
    if parts[0] == "":
        parts = parts[1:]  # path_info starts with the slash after the file name
    if not parts or parts[-1] == "":
        parts = [*parts[:-1], DEFAULT_NAME] if parts else [DEFAULT_NAME]
    if "" in parts:
        raise _not_found(f"empty name in the path {path_info!r}")
    return tuple(parts)


def _find_target(filename: Optional[str], path_info: Optional[str]) -> _Target:
    """The module file and object names for ``req.filename`` and ``req.path_info``.

    Apache mapped the URL to ``filename`` (resolving ``..``, refusing
    encoded slashes, applying its symlink and access rules), so the module
    is looked for only beside it: the path info never names a file.
    """
    path_info = path_info or ""
    if not filename or not os.path.isabs(filename):
        raise _not_found(f"the request maps to no file ({filename!r})")
    names = _object_names(path_info)
    if filename.endswith("/") or os.path.isdir(filename):
        directory, stem = filename, DEFAULT_NAME
    else:
        directory, base = os.path.split(filename)
        stem, ext = os.path.splitext(base)
        if not ext and not path_info and not os.path.isfile(os.path.join(directory, base + ".py")):
            # Manual 7.1.2: "/hello" is the object hello of the directory's index.py.
            stem, names = DEFAULT_NAME, (base,)
    if stem.startswith("_"):
        raise _not_found(f"module {stem}.py is private: its name starts with an underscore")
    module_path = os.path.join(directory, stem + ".py")
    if not os.path.isfile(module_path):
        raise _not_found(f"no module file {module_path}")
    if module_path != filename and os.path.islink(module_path):
        # Apache checked its symlink options on the path it mapped, not on a
        # name the publisher derived from it: follow such a link only to a
        # file in the same directory.
        real_dir = os.path.dirname(os.path.realpath(module_path))
        if real_dir != os.path.realpath(directory):
            raise _not_found(f"{module_path} is a symbolic link out of its directory")
    return _Target(os.path.normpath(module_path), names)
