"""Tests of the installed mod_python-session distribution (metadata, namespace)."""

import importlib
import importlib.metadata
import json
import os
import re
import subprocess
import sys

DIST = "mod_python-session"
MODULE = "mod_python.Session"
SERIES = {">=3.6.0.dev0", "<3.7"}

# DESIGN.md: mod_python-session depends on core and cookie; the drivers of
# the Redis and PostgreSQL backends are optional extras.
EXPECTED_REQUIREMENTS = {
    ("mod-python-core", None): SERIES,
    ("mod-python-cookie", None): SERIES,
    ("redis", "redis"): {">=4.2"},
    ("psycopg", "postgresql"): {">=3.1"},  # psycopg[binary]: the extras are not compared
}

# A Requires-Dist line without its marker: name, then specifiers (maybe in parentheses).
# name, [extras] (ignored), then specifiers, maybe in parentheses (older setuptools)
_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*\(?([^)]*)\)?\s*")
_EXTRA_MARKER = re.compile(r"\s*extra\s*==\s*['\"]([^'\"]+)['\"]\s*")


def _canonical(name):
    """The PEP 503 normalised form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(dist):
    """Map (canonical name, extra or None) to the set of specifier clauses."""
    found = {}
    for line in importlib.metadata.requires(dist) or []:
        requirement, _, marker = line.partition(";")
        match = _REQUIREMENT.fullmatch(requirement)
        assert match, f"cannot parse requirement {line!r}"
        extra = None
        if marker.strip():
            extra_match = _EXTRA_MARKER.fullmatch(marker)
            assert extra_match, f"unexpected marker in {line!r}"
            extra = extra_match.group(1)
        clauses = {c.replace(" ", "") for c in match.group(2).split(",") if c.strip()}
        found[(_canonical(match.group(1)), extra)] = clauses
    return found


def _loaded_after_import(module):
    """The names in sys.modules after a fresh interpreter imports only `module`."""
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return set(json.loads(result.stdout))


def test_module_imports_with_the_distribution_version():
    module = importlib.import_module(MODULE)
    assert module.__name__ == MODULE
    assert module.__version__ == importlib.metadata.version(DIST)
    assert module.__version__ == "3.6.0.dev0"


def test_version_has_a_single_source():
    module = importlib.import_module(MODULE)
    version_module = importlib.import_module("mod_python._session_version")
    assert module.__version__ is version_module.__version__


def test_mod_python_is_a_pep420_namespace_package():
    importlib.import_module(MODULE)
    package = sys.modules["mod_python"]
    assert getattr(package, "__file__", None) is None
    assert type(package.__path__).__name__ == "_NamespacePath"
    for entry in package.__path__:
        assert not os.path.exists(os.path.join(entry, "__init__.py")), entry


def test_namespace_is_shared_with_core():
    module = importlib.import_module(MODULE)
    core_version = importlib.import_module("mod_python.version")
    assert core_version.__version__ == importlib.metadata.version("mod_python-core")
    entries = {os.path.realpath(entry) for entry in sys.modules["mod_python"].__path__}
    assert os.path.realpath(os.path.dirname(module.__file__)) in entries
    assert os.path.realpath(os.path.dirname(core_version.__file__)) in entries


def test_namespace_is_shared_with_cookie():
    importlib.import_module(MODULE)
    cookie = importlib.import_module("mod_python.Cookie")
    assert cookie.__version__ == importlib.metadata.version("mod_python-cookie")


def test_no_distribution_ships_a_namespace_init():
    for dist in (DIST, "mod_python-core", "mod_python-cookie"):
        for path in importlib.metadata.files(dist) or []:
            assert str(path).replace(os.sep, "/") != "mod_python/__init__.py", dist


def test_import_does_not_load_mod_python_apache():
    # mod_python.apache imports _apache, which exists only inside Apache.
    loaded = _loaded_after_import(MODULE)
    assert MODULE in loaded
    assert "mod_python.apache" not in loaded
    assert "_apache" not in loaded


def test_declared_dependencies_match_the_design():
    assert _requirements(DIST) == EXPECTED_REQUIREMENTS


def test_declares_the_driver_extras():
    extras = importlib.metadata.metadata(DIST).get_all("Provides-Extra")
    assert sorted(extras) == ["postgresql", "redis"]


def test_requires_python():
    assert importlib.metadata.metadata(DIST)["Requires-Python"] == ">=3.9"
