"""mod_python.psp: Python Server Pages (manual sections 4.9 and 7.2).

A PSP page is a text document (usually HTML) with Python in it::

    <html>
    <% import time %>
    Hello world, the time is: <%= time.strftime("%Y-%m-%d, %H:%M:%S") %>
    </html>

``<% code %>`` is run, ``<%= expression %>`` is written out,
``<%@ include file="..." %>`` inserts another file, and ``<%-- comment --%>``
is dropped. The page becomes Python code that writes its text with
``req.write()``; the C parser :mod:`mod_python._psp` (a flex scanner) does
that translation.

- :class:`PSP` compiles a page (cached per interpreter) and runs it with the
  variables ``req``, ``psp``, ``form`` and ``session``;
- :func:`handler` is the PSP handler: ``AddHandler mod_python .psp`` and
  ``PythonHandler mod_python.psp``;
- :func:`parse` and :func:`parsestring` return the Python code of a page.

This module belongs to the ``mod_python-psp`` distribution, which depends
on ``mod_python-core``; the ``session`` extra adds ``mod_python-session``.
It never imports ``mod_python.apache`` when it is imported, so it works
outside Apache: ``PSP`` runs with any object that has ``write()`` as ``req``
(see the documentation for what else a page may need of it).
"""

from __future__ import annotations

import inspect
import os
import sys
from types import CodeType
from typing import Any, Callable, Dict, Mapping, Optional

from mod_python import _psp, _psp_cache, _psp_view
from mod_python._psp_version import __version__

try:
    from mod_python._siblings import require as _require
except ImportError as exc:  # a mod_python-core from before the check existed
    raise ImportError(f"mod_python-psp needs a newer mod_python-core ({exc})") from exc

_require("mod_python-psp")

__all__ = [
    "PSP",
    "PSPInterface",
    "ParseError",
    "__version__",
    "handler",
    "parse",
    "parsestring",
]

#: A page that cannot be parsed; a SyntaxError (with filename and lineno) and a ValueError.
ParseError = _psp.ParseError


def parse(filename: str, dir: Optional[str] = None) -> str:
    """The Python code of the PSP page in the file ``filename``.

    If ``dir`` is given, the file is ``dir + filename`` (plain concatenation:
    no separator is added) and relative paths in include directives are
    resolved against ``dir``; otherwise against the directory of the file
    holding the directive. Raises :exc:`ParseError` for a malformed page,
    :exc:`OSError` for a file that cannot be read.
    """
    return _psp.parse(filename, dir)


def parsestring(string: str) -> str:
    """The Python code of the PSP page ``string`` ("" gives "")."""
    return _psp.parsestring(string)


def _options(req: Any) -> Mapping[str, str]:
    get_options = getattr(req, "get_options", None)
    return get_options() if get_options is not None else {}


def _log(req: Any) -> Optional[Callable[[str], Any]]:
    return getattr(req, "log_error", None)


def _is_server_return(exc: BaseException) -> bool:
    """True for apache.SERVER_RETURN: a redirect or a status, not an error of the page."""
    apache = sys.modules.get("mod_python.apache")
    return apache is not None and isinstance(exc, apache.SERVER_RETURN)


def _new_session(req: Any) -> Any:
    try:
        from mod_python import Session
    except ImportError as exc:
        raise ImportError(
            "this PSP page uses the variable 'session', which needs mod_python-session:"
            " pip install 'mod_python-psp[session]'"
        ) from exc
    return Session.Session(req)


def _new_form(req: Any) -> Any:
    try:
        from mod_python import util
    except ImportError as exc:
        raise ImportError(
            "this PSP page uses the variable 'form', which is made with"
            " mod_python.util.FieldStorage, only available inside Apache; elsewhere"
            " set req.form to the form data before running the page"
        ) from exc
    return util.FieldStorage(req, keep_blank_values=1)


def _request_form(req: Any) -> Any:
    """The request's form: the one left in ``req.form`` (MODPYTHON-38), else a new one.

    A request body can be read only once, so the form is kept in ``req.form``
    for the error page and any code that runs after the page.
    """
    form = getattr(req, "form", None)
    if form is None:
        form = _new_form(req)
        req.form = form
    return form


class PSP:
    """A PSP page, compiled and ready to run (manual 4.9).

    ``filename`` or ``string`` (not both) is the page; with neither,
    ``req.filename``. A relative ``filename`` is taken relative to the
    directory of ``req.filename``. ``vars`` are global variables for the
    page; those given to :meth:`run` override them.

    The compiled code is cached (see the module ``_psp_cache``): raises
    :exc:`ParseError` or :exc:`SyntaxError` (at the page's line) for a page
    that does not compile, :exc:`OSError` for a file that cannot be read.
    """

    code: CodeType

    def __init__(
        self,
        req: Any,
        filename: Optional[str] = None,
        string: Optional[str] = None,
        vars: Mapping[str, Any] = {},  # noqa: B006  (the manual's signature; never changed)
    ) -> None:
        if filename is not None and string is not None:
            raise ValueError("PSP(): give filename or string, not both")
        self.req = req
        self.vars: Dict[str, Any] = dict(vars)
        self.string = string
        self.filename: Optional[str] = None
        if string is not None:
            self._page = _psp_cache.load_string(string)
        else:
            self.filename = self._page_path(filename)
            self._page = _psp_cache.load_file(
                self.filename, _psp_cache.dbm_filename(_options(req)), _log(req)
            )
        self.code = self._page.code

    def _page_path(self, filename: Optional[str]) -> str:
        request_file = getattr(self.req, "filename", None)
        if filename is None:
            if not request_file:
                raise ValueError("PSP(): no filename or string, and req.filename is not set")
            filename = request_file
        filename = os.fspath(filename)
        if not os.path.isabs(filename) and request_file:
            filename = os.path.join(os.path.dirname(request_file), filename)
        return os.path.abspath(filename)

    def run(self, vars: Mapping[str, Any] = {}, flush: Any = 0) -> None:  # noqa: B006
        """Run the page: its output goes to ``req.write()``.

        The page's globals are ``req``, ``psp`` (a :class:`PSPInterface`),
        ``form`` and ``session``, then the ``vars`` given to the constructor,
        then ``vars``. ``form`` is made only if the code uses the name (or
        taken from ``req.form``), ``session`` likewise (or taken from
        ``req.session``). A session made here is saved when the page ends
        without an error, and unlocked in any case; one taken from
        ``req.session`` is left to its owner. If the page raises and has
        set an error page, that page runs with ``exception`` set to
        ``sys.exc_info()``. ``flush`` true calls ``req.flush()`` at the end.
        """
        req = self.req
        names = self._page.names
        form = _request_form(req) if "form" in names else None
        session = made = None
        if "session" in names:
            session = getattr(req, "session", None)
            if session is None:
                # Kept in req.session while the page runs, so that an error
                # page uses it rather than waiting for its lock (MODPYTHON-175).
                session = made = _new_session(req)
                req.session = session
        psp = PSPInterface(req, self.filename, form)
        page_vars = {**self.vars, **vars}
        scope: Dict[str, Any] = {
            "__name__": "__psp__",
            "__file__": self.filename,
            "req": req,
            "psp": psp,
            "form": form,
            "session": session,
            **page_vars,
        }
        completed = False
        try:
            try:
                exec(self.code, scope)
                completed = True
            except Exception as exc:
                if _is_server_return(exc):
                    completed = True  # a redirect is how the page ends, not an error
                    raise
                if psp.error_page is None:
                    raise
                psp.error_page.run({**page_vars, "exception": sys.exc_info()}, flush)
            if flush:
                req.flush()
        finally:
            if made is not None:
                try:
                    if completed:
                        made.save()
                finally:
                    made.unlock()
                    if getattr(req, "session", None) is made:
                        del req.session

    def display_code(self) -> str:
        """An HTML table of the page's source and its Python code, side by side."""
        if self.string is not None:
            return _psp_view.string_listing(self.string)
        assert self.filename is not None
        return _psp_view.file_listing(self.filename)

    def __repr__(self) -> str:
        source = repr(self.filename) if self.filename is not None else "string"
        return f"<mod_python.psp.PSP {source}>"


class PSPInterface:
    """The object a page sees as ``psp`` (manual 4.9). Made by :meth:`PSP.run`."""

    def __init__(self, req: Any, filename: Optional[str], form: Any) -> None:
        self.req = req
        self.filename = filename
        self.form = form
        #: The PSP run if the page raises; set with :meth:`set_error_page`.
        self.error_page: Optional[PSP] = None

    def set_error_page(self, filename: str) -> None:
        """Run the page ``filename`` if this page raises an exception.

        An absolute path is taken inside the document root
        (``req.document_root()``); a relative one, in the directory of the
        current page. The error page gets ``exception``, the
        ``sys.exc_info()`` triple, besides the usual variables.
        """
        if filename.startswith("/"):
            path = self.req.document_root().rstrip("/") + filename
        else:
            here = self.filename or getattr(self.req, "filename", None) or os.getcwd() + os.sep
            path = os.path.join(os.path.dirname(here), filename)
        self.error_page = PSP(self.req, filename=path)

    def apply_data(self, object: Callable[..., Any], **kw: Any) -> Any:
        """Call ``object`` with the form's fields as keyword arguments; return its result.

        Only the fields ``object`` accepts are passed (all of them if it takes
        ``**kwargs``); a field with several values is passed as a list.
        ``req`` is passed too if ``object`` has such a parameter. ``kw`` are
        passed as well and win over fields of the same name.
        """
        if self.form is None:
            self.form = _request_form(self.req)
        args: Dict[str, Any] = {name: self.form[name] for name in self.form.keys()}
        try:
            parameters = list(inspect.signature(object).parameters.values())
        except (TypeError, ValueError):
            parameters = None  # no signature to look at: pass every field
        named = {
            p.name
            for p in parameters or ()
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        }
        if "req" in named:
            args["req"] = self.req
        args.update(kw)
        takes_any = parameters is None or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters
        )
        if not takes_any:
            args = {name: value for name, value in args.items() if name in named}
        return object(**args)

    def redirect(self, location: str, permanent: Any = 0) -> None:
        """Redirect the client to ``location`` (301 if ``permanent``, else 302).

        Only possible before anything is sent: then it ends the request (it
        raises ``apache.SERVER_RETURN``); else it raises :exc:`OSError`.
        Needs Apache (it uses ``mod_python.util.redirect``).
        """
        from mod_python import util

        util.redirect(self.req, location, permanent=permanent)


def handler(req: Any) -> int:
    """The PSP handler (manual 7.2): run the page ``req.filename``.

    404 if there is no such file. Under ``PythonDebug On``, a request for
    ``page.psp_`` shows the side-by-side listing of ``page.psp`` instead.
    """
    from mod_python._psp_handler import handle

    return handle(req)
