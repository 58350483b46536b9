"""The version of mod_python-core (the single source of truth for it)."""

__version__ = "3.6.0.dev0"
version = __version__
