"""The PSP handler (manual 7.2), reached as ``PythonHandler mod_python.psp``.

Part of mod_python.psp, imported only inside Apache (it uses
``mod_python.apache``).

- A page that does not exist, or a directory, is a 404 (MODPYTHON-178),
  not an exception.
- Under ``PythonDebug On`` a request for ``page.psp_`` (with ``.psp_``
  also given to ``AddHandler``) shows the page and its Python code side by
  side. Without PythonDebug, ``page.psp_`` is just a file that does not
  exist: 404. The listing shows the page's source, hence never in production.
- A page that does not compile raises a SyntaxError placed at the page's
  file and line; mod_python logs it and answers 500.
- The response is ``text/html; charset=utf-8`` unless the page sets
  ``req.content_type``; output is not flushed (MODPYTHON-107), so a
  Content-Length filter can still measure it.
"""

from __future__ import annotations

import os
from typing import Any

from mod_python import apache
from mod_python._psp_view import document, file_listing
from mod_python.psp import PSP

#: The suffix that asks for the listing under PythonDebug.
DEBUG_SUFFIX = "_"


def _debug(req: Any) -> bool:
    return req.get_config().get("PythonDebug") == "1"


def handle(req: Any) -> int:
    filename = req.filename
    if filename and filename.endswith(DEBUG_SUFFIX) and _debug(req):
        source = filename[: -len(DEBUG_SUFFIX)]
        if os.path.isfile(source):
            req.content_type = "text/html; charset=utf-8"
            req.write(document(f"PSP listing: {source}", file_listing(source)), 0)
            return apache.OK
    if not filename or not os.path.isfile(filename):
        return apache.HTTP_NOT_FOUND
    req.content_type = "text/html; charset=utf-8"
    PSP(req).run()
    return apache.OK
