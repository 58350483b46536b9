"""Checks, when a package is imported, that the mod_python distributions it
needs are installed in versions it declares.

Each distribution declares the siblings it needs in its metadata
(``Requires-Dist: mod_python-core<3.7,>=3.6.0.dev0``, from its
``pyproject.toml``), which stays the single source of truth: pip honours it
at install time, and :func:`require` re-reads it at import time, because a
later ``pip install`` of one sibling, a distro package or a ``PYTHONPATH`` can
still put an incompatible one beside it. The Apache module is checked the same
way against :data:`mod_python.version.MODULE_REQUIRED`.

Only the subset of PEP 440 that mod_python's versions use is understood:
releases with optional ``aN``/``bN``/``rcN``, ``.postN`` and ``.devN``, and the
comparison operators ``< <= > >= == !=``.
"""

from __future__ import annotations

import importlib.metadata
import re
from typing import Tuple

__all__ = ["require", "require_module", "satisfies", "version_key"]

_VERSION = re.compile(
    r"v?(?P<release>\d+(?:\.\d+)*)(?:(?P<pre>a|b|rc)(?P<pre_n>\d+))?"
    r"(?:\.post(?P<post>\d+))?(?:\.dev(?P<dev>\d+))?"
)
_CLAUSE = re.compile(r"\s*(<=|>=|==|!=|<|>)\s*([^\s,]+)\s*")
# name, [extras] (ignored), then specifiers, maybe in parentheses (older setuptools)
_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*\(?([^)]*)\)?\s*")
_PRE_RANK = {"a": 0, "b": 1, "rc": 2}
_INFINITY = float("inf")

VersionKey = Tuple[Tuple[int, ...], Tuple[float, ...], float, float]


def version_key(version: str) -> VersionKey:
    """A key that orders versions as PEP 440 does (for the subset above)."""
    match = _VERSION.fullmatch(version.strip().lower())
    if not match:
        raise ValueError(f"cannot understand the version {version!r}")
    release = [int(part) for part in match["release"].split(".")]
    while len(release) > 1 and release[-1] == 0:
        release.pop()  # 3.6 == 3.6.0
    if match["pre"]:
        pre: Tuple[float, ...] = (0, _PRE_RANK[match["pre"]], int(match["pre_n"]))
    elif match["dev"] is not None and match["post"] is None:
        pre = (-1,)  # 3.6.0.dev0 comes before 3.6.0a1
    else:
        pre = (1,)
    post = -1.0 if match["post"] is None else float(match["post"])
    dev = _INFINITY if match["dev"] is None else float(match["dev"])
    return tuple(release), pre, post, dev


def _is_prerelease(key: VersionKey) -> bool:
    return key[1] != (1,) or key[3] != _INFINITY


def satisfies(version: str, specifier: str) -> bool:
    """Whether *version* matches every clause of *specifier* (``">=3.6,<3.7"``)."""
    have = version_key(version)
    for clause in filter(str.strip, specifier.split(",")):
        match = _CLAUSE.fullmatch(clause)
        if not match:
            raise ValueError(f"cannot understand the version clause {clause!r}")
        op, bound_text = match.groups()
        bound = version_key(bound_text)
        if op == "<":
            # PEP 440: "<3.7" excludes 3.7's own pre-releases (3.7.0.dev0)
            # unless the bound is itself one.
            if not have < bound or (
                _is_prerelease(have) and not _is_prerelease(bound) and have[0] == bound[0]
            ):
                return False
        elif op == "<=" and not have <= bound:
            return False
        elif op == ">" and not have > bound:
            return False
        elif op == ">=" and not have >= bound:
            return False
        elif op == "==" and have != bound:
            return False
        elif op == "!=" and have == bound:
            return False
    return True


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def require(dist: str) -> None:
    """Raise ImportError unless the mod_python distributions that *dist*
    requires (not counting extras) are installed in matching versions.

    Does nothing when *dist* itself is not installed (its modules are run
    from a source tree, where nothing declares what it needs).
    """
    try:
        requirements = importlib.metadata.requires(dist) or []
        own_version = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return
    for line in requirements:
        requirement, _, marker = line.partition(";")
        if marker.strip():
            continue  # an extra's requirement: checked by whoever imports it
        match = _REQUIREMENT.fullmatch(requirement)
        if not match or not _canonical(match[1]).startswith("mod-python-"):
            continue
        name, specifier = match[1], match[2].replace(" ", "")
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            raise ImportError(
                f"{dist} {own_version} needs {name}{specifier}, which is not installed"
                f" (pip install '{name}{specifier}')"
            ) from None
        if not satisfies(installed, specifier):
            raise ImportError(
                f"{dist} {own_version} needs {name}{specifier}, but {name} {installed} is"
                f" installed (pip install '{name}{specifier}')"
            )


def require_module(module_version: str) -> None:
    """Raise ImportError unless the Apache module's version (``_apache.MODULE_VERSION``)
    is one this mod_python-core works with."""
    from mod_python.version import MODULE_REQUIRED, __version__

    if not satisfies(module_version, MODULE_REQUIRED):
        raise ImportError(
            f"mod_python-core {__version__} needs the Apache module mod_python.so"
            f"{MODULE_REQUIRED}, but the loaded one is {module_version}: rebuild the module"
            " (mod_python build-module) or install a matching mod_python-core"
        )
