"""Sphinx configuration for the mod_python documentation.

The version shown in the documentation is that of mod_python-core.  It is
read by parsing ``version.py`` rather than importing it, so building the
documentation needs neither mod_python nor Apache installed.
"""

import ast
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
VERSION_FILE = HERE.parent / "packages" / "mod_python-core" / "src" / "mod_python" / "version.py"


def _read_version(path):
    """Return the string assigned to ``__version__`` in *path*."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if "__version__" in targets and isinstance(node.value, ast.Constant):
                return str(node.value.value)
    raise RuntimeError(f"no __version__ string found in {path}")


project = "mod_python"
author = "the mod_python developers"
copyright = "the mod_python developers; Apache License 2.0"

release = _read_version(VERSION_FILE)
# The short X.Y version.
version = ".".join(release.split(".")[:2])

extensions = []

root_doc = "index"
source_suffix = {".rst": "restructuredtext"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
language = "en"

pygments_style = "sphinx"
highlight_language = "python3"

html_theme = "sphinx_rtd_theme"
html_title = f"mod_python {release}"
html_theme_options = {
    "navigation_depth": 3,
    "collapse_navigation": False,
}
