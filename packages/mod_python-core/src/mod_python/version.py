"""The version of mod_python-core (the single source of truth for it)."""

__version__ = "3.6.0.dev0"
version = __version__

#: The versions of the Apache module (``mod_python.so``, the repository's
#: ``c_module``) this mod_python-core works with; checked when the module
#: imports ``mod_python.apache``.
MODULE_REQUIRED = ">=3.6.0.dev0,<3.7"
