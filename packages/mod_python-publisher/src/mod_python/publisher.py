"""mod_python.publisher: the publisher handler (manual section 7.1).

This module belongs to the ``mod_python-publisher`` distribution, which
depends on ``mod_python-core``. It never imports ``mod_python.apache`` when it
is imported, so it stays importable outside Apache.

Release 3.6.0.dev0 is the package skeleton only: it installs, imports and
reports its version. The handler and the publishing algorithm of section 7.1
are not part of this release, so ``PythonHandler mod_python.publisher`` does
not serve anything yet; they arrive in a later release.
"""

from mod_python._publisher_version import __version__

__all__ = ["__version__"]
