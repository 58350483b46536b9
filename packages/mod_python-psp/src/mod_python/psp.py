"""mod_python.psp: Python Server Pages (manual sections 4.9 and 7.2).

Section 4.9 is "psp - Python Server Pages", section 7.2 the "PSP Handler".

This module belongs to the ``mod_python-psp`` distribution, which depends on
``mod_python-core``; the ``session`` extra adds ``mod_python-session``. It
never imports ``mod_python.apache`` when it is imported, so it stays
importable outside Apache.

Release 3.6.0.dev0 is the package skeleton only, in pure Python: it installs,
imports and reports its version. The ``PSP`` and ``PSPInterface`` classes of
section 4.9, the PSP handler of section 7.2 and the C parser
``mod_python._psp`` (generated with flex) are not part of this release; they
arrive in a later one.
"""

from mod_python._psp_version import __version__

__all__ = ["__version__"]
