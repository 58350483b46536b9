"""Tests of the installed mod_python-cookie distribution (metadata, namespace)."""

import importlib
import importlib.metadata
import json
import os
import subprocess
import sys

DIST = "mod_python-cookie"
MODULE = "mod_python.Cookie"
CORE_MODULES = (
    "apache",
    "util",
    "importer",
    "cgihandler",
    "testhandler",
    "wsgi",
    "version",
)


def test_module_imports_with_the_distribution_version():
    module = importlib.import_module(MODULE)
    assert module.__name__ == MODULE
    assert module.__version__ == importlib.metadata.version(DIST)
    assert module.__version__ == "3.6.0.dev0"


def test_version_has_a_single_source():
    module = importlib.import_module(MODULE)
    version_module = importlib.import_module("mod_python._cookie_version")
    assert module.__version__ is version_module.__version__


def test_mod_python_is_a_pep420_namespace_package():
    importlib.import_module(MODULE)
    package = sys.modules["mod_python"]
    assert getattr(package, "__file__", None) is None
    assert type(package.__path__).__name__ == "_NamespacePath"
    for entry in package.__path__:
        assert not os.path.exists(os.path.join(entry, "__init__.py")), entry


def test_module_lives_in_a_namespace_path_entry():
    module = importlib.import_module(MODULE)
    entries = {os.path.realpath(entry) for entry in sys.modules["mod_python"].__path__}
    assert os.path.realpath(os.path.dirname(module.__file__)) in entries


def test_import_loads_nothing_from_core():
    # Cookie depends on the standard library only: importing it must not load
    # any module of mod_python-core (mod_python.apache exists only inside Apache).
    code = "import json, sys, mod_python.Cookie; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(result.stdout))
    assert MODULE in loaded
    assert not loaded & {f"mod_python.{name}" for name in CORE_MODULES}
    assert "_apache" not in loaded


def test_distribution_ships_no_namespace_init():
    for path in importlib.metadata.files(DIST) or []:
        assert str(path).replace(os.sep, "/") != "mod_python/__init__.py"


def test_declared_dependencies_match_the_design():
    # DESIGN.md: mod_python-cookie depends on nothing but the standard library.
    assert not importlib.metadata.requires(DIST)


def test_declares_no_extras():
    assert not importlib.metadata.metadata(DIST).get_all("Provides-Extra")


def test_requires_python():
    assert importlib.metadata.metadata(DIST)["Requires-Python"] == ">=3.9"
