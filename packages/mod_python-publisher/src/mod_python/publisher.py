"""mod_python.publisher: the publisher handler (manual section 7.1).

Configure it with ``PythonHandler mod_python.publisher``. A request is then
answered by a function or object of a Python module in the document tree:

1. The module is the ``.py`` file that ``req.filename`` names, its
   extension replaced by ``.py`` (``index.py`` for a directory; for a name
   that is no module, the ``index.py`` beside it). It is imported with
   ``apache.import_module``, so it is reloaded when it changes.
2. ``req.path_info`` is walked from the module one ``/``-separated name at a
   time (``index`` when it is empty or ends with ``/``). Names starting with
   ``_``, modules, classes, functions, built-ins and interpreter internals
   stop the walk with 404, and so does a function the module imported
   instead of defining it.
3. At each step ``__auth__``, ``__access__`` and ``__auth_realm__`` of the
   object reached (module globals, attributes, or constants and ``def``s
   nested in the published function) may answer 401 or 403.
4. A callable (not a class) is called with the form fields its parameters
   name (``req`` is the request; ``req.form`` is the
   :class:`mod_python.util.FieldStorage`); anything else is published as is.
5. The result is written: ``bytes`` unchanged, anything else as ``str`` in
   UTF-8; unless the handler set ``req.content_type``, it becomes
   ``text/html`` when the text looks like HTML and ``text/plain`` otherwise
   (with ``; charset=utf-8`` for text).

The full rules are in the documentation page "The publisher handler".

Importing this module does not import ``mod_python.apache`` (which exists
only inside Apache): the handler imports it when it runs, and the rest of
the module is plain Python that the unit tests exercise without Apache.
"""

from __future__ import annotations

import html
from http import HTTPStatus
from typing import Any

from mod_python._publisher_auth import _challenge, _Guard
from mod_python._publisher_base import DEFAULT_REALM, _Refused
from mod_python._publisher_call import _arguments, _content_type, _form_fields, _output
from mod_python._publisher_target import _find_target
from mod_python._publisher_version import __version__
from mod_python._publisher_walk import _resolve

try:
    from mod_python._siblings import require as _require
except ImportError as exc:  # a mod_python-core from before the check existed
    raise ImportError(f"mod_python-publisher needs a newer mod_python-core ({exc})") from exc

_require("mod_python-publisher")

__all__ = ["__version__", "handler"]


def handler(req: Any) -> int:
    """The publisher: answer ``req`` with the object of a module that its URL designates."""
    from mod_python import apache, util

    try:
        target = _find_target(req.filename, req.path_info)
        module = apache.import_module(target.module_path)
        guard = _Guard(req)
        obj = _resolve(module, target.names, guard)
        call = callable(obj) and not isinstance(obj, type)  # a class is published, not called
        if call:
            form = getattr(req, "form", None)
            if form is None:  # an earlier handler may have read the body into req.form
                # Blank fields are kept: a form submitted empty passes "" (manual 3.1).
                form = req.form = util.FieldStorage(req, keep_blank_values=1)
            args, kwargs = _arguments(obj, req, _form_fields(form))
    except _Refused as refused:
        raise _refusal(req, refused, apache) from None
    result = obj(*args, **kwargs) if call else obj
    if result is not None:
        data = _output(result)
        if not req._content_type_set:
            req.content_type = _content_type(data)
        # Not flushed (MODPYTHON-107): Apache can add Content-Length, and for
        # HEAD it sends just the headers of this body.
        req.write(data, flush=False)
    return apache.OK


def _refusal(req: Any, refused: _Refused, apache: Any) -> Exception:
    """Log why the request is refused; the ``SERVER_RETURN`` that answers it."""
    debug = req.get_config().get("PythonDebug") == "1"
    level = apache.APLOG_NOTICE if debug else apache.APLOG_INFO
    req.log_error(f"mod_python.publisher: {req.uri}: {int(refused.status)} {refused.reason}", level)
    if refused.status == HTTPStatus.UNAUTHORIZED:
        req.err_headers_out["WWW-Authenticate"] = _challenge(refused.realm or DEFAULT_REALM)
    elif refused.status == HTTPStatus.BAD_REQUEST:
        # Apache's 400 page shows this note: the client learns what was missing.
        req.notes["error-notes"] = html.escape(refused.reason)
    return apache.SERVER_RETURN(int(refused.status))
