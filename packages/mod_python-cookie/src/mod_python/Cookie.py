"""mod_python.Cookie: HTTP state management (manual section 4.7, "Cookie").

This module belongs to the ``mod_python-cookie`` distribution, which needs
nothing but the standard library.

Release 3.6.0.dev0 is the package skeleton only: it installs, imports and
reports its version. The classes and functions that section 4.7 describes
(``Cookie``, ``SignedCookie``, ``MarshalCookie``, ``add_cookie``,
``get_cookies``, ``get_cookie``) are not part of this release; they arrive in
a later one.
"""

from mod_python._cookie_version import __version__

__all__ = ["__version__"]
