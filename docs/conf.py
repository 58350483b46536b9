"""Sphinx configuration for the mod_python documentation.

Building the manual needs the five packages installed (autodoc imports them)
and the requirements of ``docs/requirements.txt``, exactly as Read the Docs
does it (``.readthedocs.yaml``) and ``nox -s docs`` too::

    pip install -r docs/requirements.txt packages/mod_python-core \\
        packages/mod_python-cookie packages/mod_python-session \\
        packages/mod_python-publisher packages/mod_python-psp
    python -m sphinx -W --keep-going -b html docs OUT        # the manual
    python -m sphinx -W --keep-going -b doctest docs OUT     # run its examples
    python -m sphinx -W --keep-going -b linkcheck docs OUT   # its internal links
    python docs/_tools/check_coverage.py OUT/objects.inv     # no undocumented API

The version shown is that of mod_python-core, read from ``version.py``.
"""

import ast
import atexit
import importlib.util
import inspect
import os
import pathlib
import shutil
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
REPOSITORY = HERE.parent
VERSION_FILE = REPOSITORY / "packages" / "mod_python-core" / "src" / "mod_python" / "version.py"

# Local extensions: the _apache stub and the offline inventory of Python's docs.
sys.path.insert(0, str(HERE / "_ext"))

import python_inventory  # noqa: E402


def _read_version(path):
    """Return the string assigned to ``__version__`` in *path*."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if "__version__" in targets and isinstance(node.value, ast.Constant):
                return str(node.value.value)
    raise RuntimeError(f"no __version__ string found in {path}")


def _check_packages_installed():
    """Fail at once, and say what to do, when autodoc could not import the packages."""
    modules = ["mod_python.version", "mod_python.Cookie", "mod_python.Session"]
    modules += ["mod_python.publisher", "mod_python.psp", "mod_python._psp"]
    missing = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except ImportError:  # no mod_python package at all
            found = False
        if not found:
            missing.append(name)
    if missing:
        raise RuntimeError(
            f"building the manual needs the mod_python packages installed ({', '.join(missing)}"
            " cannot be imported): pip install packages/mod_python-core packages/mod_python-cookie"
            " packages/mod_python-session packages/mod_python-publisher packages/mod_python-psp"
        )


_check_packages_installed()

project = "mod_python"
author = "the mod_python developers"
copyright = "the mod_python developers; Apache License 2.0"

release = _read_version(VERSION_FILE)
# The short X.Y version.
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "myst_parser",  # the components' CHANGELOG.md files, in changelog.rst
    "apache_stub",  # _ext/apache_stub.py: _apache outside Apache, for autodoc
]

root_doc = "index"
source_suffix = {".rst": "restructuredtext"}
# _ext and _tools hold Python code; the changelogs are included by changelog.rst.
exclude_patterns = ["_build", "_ext", "_tools", "Thumbs.db", ".DS_Store"]
language = "en"

pygments_style = "sphinx"
highlight_language = "python3"

# Every cross-reference must resolve, to this manual or to Python's
# documentation, so that a renamed or removed name cannot leave a dead link.
nitpicky = True

# -- autodoc ---------------------------------------------------------------

# Signatures show the annotations of the code: the documentation's types are
# the code's types.
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_member_order = "bysource"
autodoc_class_signature = "mixed"
autodoc_default_options = {}
# The optional drivers of RedisSession and PostgreSQLSession (the extras
# [redis] and [postgresql]) are not needed to document those classes.
autodoc_mock_imports = ["redis", "psycopg"]
python_maximum_signature_line_length = 88
python_display_short_literal_types = True


# -- intersphinx -----------------------------------------------------------

# Online, Python's own inventory; offline (no route to docs.python.org, as on
# a firewalled CI) an inventory made from this Python's standard library, see
# _ext/python_inventory.py.  intersphinx tries the locations in order; when
# the first fails and the second works, it only logs an INFO message, so a
# -W build does not fail for want of a network.
# It is written anew for every build into the user's cache directory, at a
# path that does not change from one build to the next (a new path would make
# Sphinx read every page again), or into a temporary directory if there is
# no writable cache directory.


def _python_fallback_inventory():
    name = f"python-{sys.version_info[0]}.{sys.version_info[1]}-objects.inv"
    cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache")
    try:
        path = cache / "mod_python-docs" / name
        python_inventory.write(path)
    except OSError:
        directory = pathlib.Path(tempfile.mkdtemp(prefix="mod_python-docs-"))
        atexit.register(shutil.rmtree, directory, True)
        path = directory / name
        python_inventory.write(path)
    return path


# MOD_PYTHON_DOCS_PYTHON_INVENTORY names another file to fall back on instead,
# for instance the objects.inv of Debian's python3.X-doc package.
_PYTHON_FALLBACK = os.environ.get("MOD_PYTHON_DOCS_PYTHON_INVENTORY") or (
    _python_fallback_inventory()
)

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", (None, str(_PYTHON_FALLBACK))),
}
intersphinx_timeout = 15
# Only what a role names explicitly (:py:func: and the like) is looked up in
# Python's documentation; :ref: and :doc: stay within this manual.
intersphinx_disabled_reftypes = ["std:doc", "std:label"]

# -- doctest ---------------------------------------------------------------

# The examples that run outside Apache are doctests (`sphinx-build -b
# doctest`).  Each group runs in a process that looks like any program
# outside Apache: mod_python.apache cannot be imported (see _ext/apache_stub.py).
doctest_global_setup = """
import apache_stub as _apache_stub
_apache_stub.outside_apache()
"""
doctest_global_cleanup = """
_apache_stub.inside_apache()
"""
# Only the doctest, testcode and testoutput directives are tests; code-block
# examples are handlers that need Apache.
doctest_test_doctest_blocks = ""

# -- linkcheck -------------------------------------------------------------

# Only the links within this manual and to files of the repository are
# checked: external sites are not reachable from CI (and their availability
# is not this manual's to test), so every http(s) URL is ignored.
linkcheck_ignore = [r"https?://"]

# -- HTML ------------------------------------------------------------------

html_theme = "sphinx_rtd_theme"
html_title = f"mod_python {release}"
html_theme_options = {
    "navigation_depth": 3,
    "collapse_navigation": False,
}

# -- local hooks -----------------------------------------------------------


def _drop_type_docstrings(app, what, name, obj, options, lines):
    """A constant without a doc comment gets the docstring of its type from
    autodoc (``str(object='') -> str``...), which says nothing about it: drop it.
    The page gives the constant's meaning."""
    if what in ("data", "attribute") and lines:
        type_doc = inspect.getdoc(type(obj)) or ""
        if [line.strip() for line in lines if line.strip()] == [
            line.strip() for line in type_doc.splitlines() if line.strip()
        ]:
            lines.clear()


def setup(app):
    app.connect("autodoc-process-docstring", _drop_type_docstrings)
