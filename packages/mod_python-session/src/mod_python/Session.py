"""mod_python.Session: session management (manual section 4.8, "Session").

This module belongs to the ``mod_python-session`` distribution, which depends
on ``mod_python-core`` and ``mod_python-cookie``. It must stay importable
outside Apache, so it never imports ``mod_python.apache`` when it is imported.

Release 3.6.0.dev0 is the package skeleton only: it installs, imports and
reports its version. The function and classes that section 4.8 describes
(``Session``, ``BaseSession``, ``DbmSession``, ``FileSession``,
``MemorySession``) are not part of this release; they arrive in a later one.
"""

from mod_python._session_version import __version__

__all__ = ["__version__"]
