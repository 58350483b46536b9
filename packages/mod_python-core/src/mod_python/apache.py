"""mod_python.apache: access to Apache internals (manual 4.5).

Only importable inside Apache, where mod_python.so provides the built-in
``_apache`` module.  Besides the manual's API this module holds
``_dispatch``, the function the C module calls for every request phase.
"""

from __future__ import annotations

import builtins
import html
import io
import sys
import threading
import traceback
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

try:
    import _apache  # noqa: F401  (fails outside Apache: say so clearly)
except ImportError as exc:  # pragma: no cover - only outside Apache
    raise ImportError(
        "mod_python.apache can only be imported inside Apache httpd: it needs the "
        "built-in _apache module that mod_python.so provides"
    ) from exc

from _apache import (  # noqa: F401  (re-exported API)
    AP_CONN_CLOSE,
    AP_CONN_KEEPALIVE,
    AP_CONN_UNKNOWN,
    AP_MPMQ_DYNAMIC,
    AP_MPMQ_HARD_LIMIT_DAEMONS,
    AP_MPMQ_HARD_LIMIT_THREADS,
    AP_MPMQ_IS_FORKED,
    AP_MPMQ_IS_THREADED,
    AP_MPMQ_MAX_DAEMON_USED,
    AP_MPMQ_MAX_DAEMONS,
    AP_MPMQ_MAX_REQUESTS_DAEMON,
    AP_MPMQ_MAX_SPARE_DAEMONS,
    AP_MPMQ_MAX_SPARE_THREADS,
    AP_MPMQ_MAX_THREADS,
    AP_MPMQ_MIN_SPARE_DAEMONS,
    AP_MPMQ_MIN_SPARE_THREADS,
    AP_MPMQ_NOT_SUPPORTED,
    AP_MPMQ_STATIC,
    APLOG_ALERT,
    APLOG_CRIT,
    APLOG_DEBUG,
    APLOG_EMERG,
    APLOG_ERR,
    APLOG_INFO,
    APLOG_NOERRNO,
    APLOG_NOTICE,
    APLOG_WARNING,
    APR_BLK,
    APR_CHR,
    APR_DIR,
    APR_FINFO_ATIME,
    APR_FINFO_CSIZE,
    APR_FINFO_CTIME,
    APR_FINFO_DEV,
    APR_FINFO_DIRENT,
    APR_FINFO_GPROT,
    APR_FINFO_GROUP,
    APR_FINFO_ICASE,
    APR_FINFO_IDENT,
    APR_FINFO_INODE,
    APR_FINFO_LINK,
    APR_FINFO_MIN,
    APR_FINFO_MTIME,
    APR_FINFO_NAME,
    APR_FINFO_NLINK,
    APR_FINFO_NORM,
    APR_FINFO_OWNER,
    APR_FINFO_PROT,
    APR_FINFO_SIZE,
    APR_FINFO_TYPE,
    APR_FINFO_UPROT,
    APR_FINFO_USER,
    APR_FINFO_WPROT,
    APR_LNK,
    APR_NOFILE,
    APR_PIPE,
    APR_REG,
    APR_SOCK,
    APR_UNKFILE,
    DECLINED,
    DONE,
    M_BASELINE_CONTROL,
    M_CHECKIN,
    M_CHECKOUT,
    M_CONNECT,
    M_COPY,
    M_DELETE,
    M_GET,
    M_INVALID,
    M_LABEL,
    M_LOCK,
    M_MERGE,
    M_MKACTIVITY,
    M_MKCOL,
    M_MKWORKSPACE,
    M_MOVE,
    M_OPTIONS,
    M_PATCH,
    M_POST,
    M_PROPFIND,
    M_PROPPATCH,
    M_PUT,
    M_REPORT,
    M_TRACE,
    M_UNCHECKOUT,
    M_UNLOCK,
    M_UPDATE,
    M_VERSION_CONTROL,
    MODULE_MAGIC_NUMBER_MAJOR,
    MODULE_MAGIC_NUMBER_MINOR,
    OK,
    PROXYREQ_NONE,
    PROXYREQ_PROXY,
    PROXYREQ_RESPONSE,
    PROXYREQ_REVERSE,
    REMOTE_DOUBLE_REV,
    REMOTE_HOST,
    REMOTE_NAME,
    REMOTE_NOLOOKUP,
    REQUEST_CHUNKED_DECHUNK,
    REQUEST_CHUNKED_ERROR,
    REQUEST_NO_BODY,
    SERVER_BUILT,
    SERVER_VERSION,
    _global_lock,
    _global_trylock,
    _global_unlock,
    config_tree,
    exists_config_define,
    log_error,
    make_table,
    mpm_query,
    server_root,
    stat,
    table,
)
from _apache import MODULE_VERSION as MODULE_VERSION  # noqa: F401
from _apache import connection as connection  # noqa: F401
from _apache import filter as filter  # noqa: F401
from _apache import finfo as finfo  # noqa: F401
from _apache import request as request  # noqa: F401
from _apache import server as server  # noqa: F401

from . import _siblings, importer

_siblings.require_module(MODULE_VERSION)

#: The name of the interpreter this module runs in (set by mod_python.so).
interpreter: str = ""
#: The server object of the main server (set by mod_python.so).
main_server: Any = None

# The manual's older names for two request-reading modes.
REQ_PROXY_NONE = PROXYREQ_NONE
REQ_PROXY_PROXY = PROXYREQ_PROXY
REQ_PROXY_REVERSE = PROXYREQ_REVERSE
REQ_PROXY_RESPONSE = PROXYREQ_RESPONSE

# Indexes of the tuple form of req.parsed_uri (manual 4.5.4).
URI_SCHEME = 0
URI_HOSTINFO = 1
URI_USER = 2
URI_PASSWORD = 3
URI_HOSTNAME = 4
URI_PORT = 5
URI_PATH = 6
URI_QUERY = 7
URI_FRAGMENT = 8

# Indexes of the tuple form of a finfo object (manual 4.5.4 ``finfo``).
FINFO_MODE = 0
FINFO_INO = 1
FINFO_DEV = 2
FINFO_NLINK = 3
FINFO_UID = 4
FINFO_GID = 5
FINFO_SIZE = 6
FINFO_ATIME = 7
FINFO_MTIME = 8
FINFO_CTIME = 9
FINFO_FNAME = 10
FINFO_NAME = 11
FINFO_FILETYPE = 12
FINFO_USER = FINFO_UID
FINFO_GROUP = FINFO_GID

HTTP_CONTINUE = 100
HTTP_SWITCHING_PROTOCOLS = 101
HTTP_PROCESSING = 102
HTTP_OK = 200
HTTP_CREATED = 201
HTTP_ACCEPTED = 202
HTTP_NON_AUTHORITATIVE = 203
HTTP_NO_CONTENT = 204
HTTP_RESET_CONTENT = 205
HTTP_PARTIAL_CONTENT = 206
HTTP_MULTI_STATUS = 207
HTTP_MULTIPLE_CHOICES = 300
HTTP_MOVED_PERMANENTLY = 301
HTTP_MOVED_TEMPORARILY = 302
HTTP_SEE_OTHER = 303
HTTP_NOT_MODIFIED = 304
HTTP_USE_PROXY = 305
HTTP_TEMPORARY_REDIRECT = 307
HTTP_BAD_REQUEST = 400
HTTP_UNAUTHORIZED = 401
HTTP_PAYMENT_REQUIRED = 402
HTTP_FORBIDDEN = 403
HTTP_NOT_FOUND = 404
HTTP_METHOD_NOT_ALLOWED = 405
HTTP_NOT_ACCEPTABLE = 406
HTTP_PROXY_AUTHENTICATION_REQUIRED = 407
HTTP_REQUEST_TIME_OUT = 408
HTTP_CONFLICT = 409
HTTP_GONE = 410
HTTP_LENGTH_REQUIRED = 411
HTTP_PRECONDITION_FAILED = 412
HTTP_REQUEST_ENTITY_TOO_LARGE = 413
HTTP_REQUEST_URI_TOO_LARGE = 414
HTTP_UNSUPPORTED_MEDIA_TYPE = 415
HTTP_RANGE_NOT_SATISFIABLE = 416
HTTP_EXPECTATION_FAILED = 417
HTTP_UNPROCESSABLE_ENTITY = 422
HTTP_LOCKED = 423
HTTP_FAILED_DEPENDENCY = 424
HTTP_INTERNAL_SERVER_ERROR = 500
HTTP_NOT_IMPLEMENTED = 501
HTTP_BAD_GATEWAY = 502
HTTP_SERVICE_UNAVAILABLE = 503
HTTP_GATEWAY_TIME_OUT = 504
HTTP_VERSION_NOT_SUPPORTED = 505
HTTP_VARIANT_ALSO_VARIES = 506
HTTP_INSUFFICIENT_STORAGE = 507
HTTP_NOT_EXTENDED = 510


class SERVER_RETURN(Exception):
    """Raise ``SERVER_RETURN(status)`` to end the phase with ``status`` (manual 4.2)."""


def import_module(
    module_name: str,
    autoreload: Optional[bool] = None,
    log: Optional[bool] = None,
    path: Optional[Sequence[str]] = None,
) -> Any:
    """Import a module by name or file path with the 3.3 module importer (manual 4.5.1).

    ``autoreload`` and ``log`` default to what ``PythonAutoReload`` and
    ``PythonDebug`` say where the running handler was configured.
    """
    caller = sys._getframe(1).f_globals
    return importer.import_module(module_name, autoreload, log, path, caller)


def freeze_modules() -> None:
    """Disable module reloading in this interpreter for the rest of the child's life."""
    importer.freeze_modules()


_server_cleanups: List[Tuple[Callable[..., Any], Any]] = []


def register_cleanup(callable: Callable[..., Any], data: Any = None) -> None:
    """Call ``callable(data)`` when this child exits (``data`` is None by default).

    It runs in this interpreter; never pass a request object in ``data``: the
    request is long gone by then (manual 4.5.1).
    """
    if not builtins.callable(callable):
        raise TypeError("register_cleanup() needs a callable")
    _server_cleanups.append((callable, data))


def _child_exit() -> None:
    """Run the cleanups registered with register_cleanup (called by mod_python.so)."""
    while _server_cleanups:
        func, data = _server_cleanups.pop(0)
        try:
            func(data)
        except Exception:
            text = traceback.format_exc()
            log_error(f"mod_python: a cleanup registered with register_cleanup failed: {func!r}")
            for line in text.splitlines():
                log_error(line)


def allow_methods(req: Any, *methods: str) -> None:
    """Add ``methods`` to the methods ``req`` allows (the Allow header)."""
    req.allow_methods(list(methods))


#: What mod_python.so passes for each handler: (spec, directory, default callable name,
#: silent, location); add_handler() entries have the same shape, spec may be a callable.
HandlerTuple = Tuple[Any, Optional[str], str, bool, Optional[str]]


class HandlerEntry:
    """``req.hlist``: the handler being run and where it was configured."""

    __slots__ = ("handler", "directory", "silent", "is_location", "location", "parent")

    def __init__(
        self,
        handler: Any,
        directory: Optional[str],
        silent: bool,
        location: Optional[str],
        parent: Optional[HandlerEntry] = None,
    ) -> None:
        self.handler = handler
        self.directory = directory
        self.silent = silent
        self.is_location = location is not None
        self.location = location
        self.parent = parent

    def __repr__(self) -> str:
        return f"<HandlerEntry {self.handler!r} in {self.directory or self.location!r}>"


# --------------------------------------------------------------------------- dispatching

# Phases that end at the first handler that does not decline (manual 5.1).
_FIRST_NOT_DECLINED = frozenset(
    {"PythonTransHandler", "PythonAuthenHandler", "PythonAuthzHandler", "PythonTypeHandler"}
)

_path_lock = threading.Lock()
_applied_path: Optional[str] = None


def _apply_python_path(expr: Optional[str]) -> None:
    """Make sys.path the value of PythonPath's expression, once per change."""
    global _applied_path
    if expr is None or expr == _applied_path:
        return
    with _path_lock:
        if expr != _applied_path:
            value = eval(expr, {"sys": sys, "__builtins__": builtins})
            if isinstance(value, str) or not all(isinstance(p, str) for p in value):
                raise TypeError(f"PythonPath {expr!r} must evaluate to a list of str")
            sys.path[:] = list(value)
            _applied_path = expr


_TRUE = ("1", "on", "yes", "true")
_legacy_refused = False


def _importer_context(
    options: Any,
    handler_root: Optional[str],
    autoreload: bool,
    debug: bool,
    logger: Callable[[str], None],
) -> importer.Context:
    """The importer's view of the configuration in scope for one handler."""
    global _legacy_refused
    if not _legacy_refused and options.get("mod_python.legacy.importer"):
        _legacy_refused = True
        logger(
            "mod_python: PythonOption mod_python.legacy.importer is set, but this "
            "mod_python has only the 3.3 module importer; the option is ignored"
        )
    return importer.Context(
        handler_root=handler_root,
        autoreload=autoreload,
        log=debug,
        search_path=importer.parse_search_path(options.get("mod_python.importer.path")),
        debug=str(options.get("mod_python.importer.debug", "")).lower() in _TRUE,
        logger=logger,
    )


def _request_context(req: Any, directory: Optional[str], config: Any) -> importer.Context:
    return _importer_context(
        req.get_options(),
        directory or req.document_root(),
        config.get("PythonAutoReload") != "0",
        config.get("PythonDebug") == "1",
        lambda message: req.log_error(message, APLOG_NOTICE),
    )


def _handler_module(module_name: str) -> Any:
    """A handler directive's module: the handler root first, as import_module would."""
    root = importer.current_context().handler_root
    return importer.import_module(module_name, path=[root] if root else None)


def _resolve(module: Any, module_name: str, object_path: str, req: Any) -> Any:
    """Follow ``a.b.c`` from the module; classes met on the way are instantiated with req."""
    obj = module
    for part in object_path.split("."):
        obj = getattr(obj, part)
        if isinstance(obj, type):
            obj = obj(req)
    return obj


def _server_return_status(exc: SERVER_RETURN) -> int:
    value = exc.args[0] if exc.args else HTTP_INTERNAL_SERVER_ERROR
    if isinstance(value, tuple) and value:
        value = value[0]
    if type(value) is not int:
        raise TypeError(f"SERVER_RETURN needs an int status, not {value!r}")
    return value


def _call_callable(handler: Any, req: Any, use_pdb: bool) -> Any:
    if use_pdb:
        return _run_under_pdb(handler, req)
    return handler(req)


def _call_one(
    req: Any,
    spec: Any,
    directory: Optional[str],
    default_name: str,
    silent: bool,
    use_pdb: bool,
    context: importer.Context,
) -> int:
    """Call one handler: ``spec`` is ``module[::callable]`` or, from add_handler(), a callable.

    ``context`` is the importer's view of the configuration where the
    handler was configured; it stays current while the handler runs, so
    that imports inside it see the same handler root and settings.
    """
    with importer.using(context):
        return _call_in_context(req, spec, default_name, silent, use_pdb)


def _call_in_context(req: Any, spec: Any, default_name: str, silent: bool, use_pdb: bool) -> int:
    if callable(spec):
        handler, name = spec, getattr(spec, "__qualname__", repr(spec))
    else:
        module_name, sep, object_path = spec.partition("::")
        if not sep:
            object_path = default_name
        module = _handler_module(module_name)
        try:
            handler = _resolve(module, module_name, object_path, req)
        except AttributeError:
            if silent:
                return DECLINED
            raise
        if not callable(handler):
            raise TypeError(f"{spec}: {object_path} is not callable")
        name = f"{module_name}::{object_path}"
    result = _call_callable(handler, req, use_pdb)
    if type(result) is not int:
        raise TypeError(
            f"handler {name} returned {result!r}; a handler must return "
            "apache.OK, apache.DECLINED, apache.DONE or an HTTP status code"
        )
    return result


def _report_error(req: Any, phase: str, debug: bool) -> int:
    """Log the current exception line by line; show it to the client under PythonDebug."""
    etype, value, tb = sys.exc_info()
    text = "".join(traceback.format_exception(etype, value, tb))
    req.log_error(f"mod_python: {phase} failed for {req.uri!r}:", APLOG_ERR)
    for line in text.splitlines():
        req.log_error(line, APLOG_ERR)
    if not debug or phase == "PythonCleanupHandler":
        return HTTP_INTERNAL_SERVER_ERROR
    try:
        req.status = HTTP_INTERNAL_SERVER_ERROR
        req.content_type = "text/html; charset=utf-8"
        req.write(
            "<html><head><title>mod_python: Python error</title></head><body>\n"
            f"<h1>mod_python: {html.escape(phase)} raised "
            f"{html.escape(etype.__name__ if etype else 'an error')}</h1>\n"
            f"<pre>{html.escape(text)}</pre>\n</body></html>\n"
        )
    except OSError:
        return HTTP_INTERNAL_SERVER_ERROR
    return DONE


def _dispatch(req: Any, phase: str, handlers: Tuple[HandlerTuple, ...]) -> int:
    """Run a phase's handlers in order and combine their results (called by mod_python.so)."""
    config = req.get_config()
    debug = config.get("PythonDebug") == "1"
    try:
        _apply_python_path(config.get("PythonPath"))
        use_pdb = config.get("PythonEnablePdb") == "1"
        if phase == "PythonCleanupHandler":
            return _run_cleanup_handlers(req, handlers, config, use_pdb)
        first_not_declined = phase in _FIRST_NOT_DECLINED
        result = DECLINED
        for spec, directory, default_name, silent, location in _entries(req, phase, handlers):
            req.hlist = HandlerEntry(spec, directory, silent, location, req.hlist)
            try:
                context = _request_context(req, directory, config)
                result = _call_one(req, spec, directory, default_name, silent, use_pdb, context)
            except SERVER_RETURN as exc:
                result = _server_return_status(exc)
            except OSError as exc:
                # req.read() refused by Apache (e.g. 413 over LimitRequestBody):
                # the client's mistake, answered with Apache's status
                status = getattr(exc, "status", None)
                if type(status) is not int:
                    raise
                req.log_error(f"mod_python: {phase}: {exc}", APLOG_INFO)
                result = status
            finally:
                req.hlist = req.hlist.parent
            if first_not_declined:
                if result != DECLINED:
                    break
            elif result != OK and result != DECLINED:
                break
        return result
    except Exception:
        return _report_error(req, phase, debug)


def _entries(req: Any, phase: str, handlers: Tuple[Any, ...]) -> Iterator[Tuple[Any, ...]]:
    """The configured handlers, then those add_handler() gave this phase, even while it runs."""
    yield from handlers
    added = req._mp_dynamic.get(phase)
    index = 0
    while added is not None and index < len(added):
        yield added[index]
        index += 1


def _run_cleanup_handlers(
    req: Any,
    handlers: Tuple[HandlerTuple, ...],
    config: Any,
    use_pdb: bool,
) -> int:
    """Every cleanup handler runs: results are ignored, errors only logged (manual 5.1.13)."""
    for spec, directory, default_name, silent, _location in handlers:
        try:
            context = _request_context(req, directory, config)
            _call_one(req, spec, directory, default_name, silent, use_pdb, context)
        except SERVER_RETURN:
            pass
        except Exception:
            _report_error(req, "PythonCleanupHandler", False)
    return OK


# --------------------------------------------------------------------------- connection handlers


def _dispatch_connection(
    conn: Any,
    spec: str,
    directory: Optional[str],
    config: Optional[dict[str, str]] = None,
) -> int:
    """Run a PythonConnectionHandler (manual 4.4, 5.3.1); called by mod_python.so.

    ``spec`` is ``module[::callable]`` (the callable defaults to
    ``connectionhandler``), ``config`` the server's Python* directives
    (PythonPath, PythonAutoReload, PythonEnablePdb). Returns the handler's
    result: DECLINED lets HTTP process the connection, anything else means
    handled. An exception is logged with its traceback and never sent to the
    client; the connection is then closed.
    """
    config = config or {}
    try:
        _apply_python_path(config.get("PythonPath"))
        use_pdb = config.get("PythonEnablePdb") == "1"
        context = _importer_context(
            {},
            directory,
            config.get("PythonAutoReload") != "0",
            config.get("PythonDebug") == "1",
            lambda message: conn.log_error(message, APLOG_NOTICE),
        )
        try:
            return _call_one(conn, spec, directory, "connectionhandler", False, use_pdb, context)
        except SERVER_RETURN as exc:
            return _server_return_status(exc)
    except Exception:
        etype, value, tb = sys.exc_info()
        conn.log_error(f"mod_python: PythonConnectionHandler {spec} failed:", APLOG_ERR)
        for line in "".join(traceback.format_exception(etype, value, tb)).splitlines():
            conn.log_error(line, APLOG_ERR)
        return OK


# --------------------------------------------------------------------------- SSI, PythonImport
# Server Side Includes (manual 6) and PythonImport (manual 5.4.3), called by
# mod_python.so.  The global locks (_global_lock, _global_trylock,
# _global_unlock, manual 2.3.2 and 4.8) come from _apache, imported above.


class _SSIFilter:
    """``filter`` in the code of ``<!--#python ...-->`` (manual 6.2, 6.4).

    What the code writes goes into the page where the element is; ``print(...,
    file=filter)`` works.  Each element gets its own object, which stops
    accepting output when the element ends.  The page is mod_include's to read
    and pass on, so ``read``, ``readline``, ``pass_on``, ``close`` and
    ``disable`` raise :class:`io.UnsupportedOperation`.
    """

    name = "INCLUDES"
    is_input = False
    handler = None

    def __init__(self, req: Any) -> None:
        self.req = req
        self.closed = False
        self._chunks: List[bytes] = []
        self._flush = False

    def _check(self) -> None:
        if self.closed:
            raise ValueError("this filter object belongs to an SSI python element that has ended")

    def write(self, data: Any) -> None:
        """Put ``data`` (str, as UTF-8, or a bytes-like object) into the page."""
        self._check()
        if isinstance(data, str):
            self._chunks.append(data.encode("utf-8"))
            return
        try:
            self._chunks.append(memoryview(data).tobytes())
        except TypeError:
            raise TypeError(
                f"write() takes str or a bytes-like object, not {type(data).__name__}"
            ) from None

    def flush(self) -> None:
        """Have mod_include send the page so far to the client after this element."""
        self._check()
        self._flush = True

    def _unsupported(self, *args: Any, **kw: Any) -> Any:
        raise io.UnsupportedOperation(
            "the filter of an SSI python element can only write(); mod_include reads the page"
        )

    read = readline = pass_on = close = disable = _unsupported

    def __repr__(self) -> str:
        return f"<SSI filter of {getattr(self.req, 'uri', '?')!r}>"


def _ssi_eval(req: Any, kind: str, code: bytes) -> Tuple[bytes, bool]:
    """Run ``<!--#python eval=...-->`` or ``exec=...`` code (manual 6.2-6.4).

    The globals are ``req.ssi_globals`` (made here if a handler did not make
    it), so they last for the request and are shared by its elements; each
    element finds its own ``filter`` there.  Returns what goes into the page
    and whether to flush it.
    """
    namespace = getattr(req, "ssi_globals", None)
    if namespace is None:
        namespace = {}
        req.ssi_globals = namespace
    elif not isinstance(namespace, dict):
        raise TypeError(f"req.ssi_globals must be a dict, not {type(namespace).__name__}")
    out = _SSIFilter(req)
    namespace["filter"] = out
    where = f"<python {kind} in {req.filename or req.uri}>"
    try:
        if kind == "eval":
            value = eval(compile(code.strip(), where, "eval", dont_inherit=True), namespace)
            out.write(str(value))
        else:
            exec(compile(code, where, "exec", dont_inherit=True), namespace)
    finally:
        out.closed = True
        if namespace.get("filter") is out:
            del namespace["filter"]
    return b"".join(out._chunks), out._flush


def _run_under_pdb(handler: Any, arg: Any) -> Any:
    """PythonEnablePdb (manual 5.4.1): call ``handler(arg)`` under pdb on Apache's terminal.

    pdb's runcall() swallows the debugger's quit (``q``, or end of input) and
    returns None; that is turned back into :class:`bdb.BdbQuit` so the log says
    what happened.  SIGINT stays Apache's (Ctrl-C stops ``httpd -X``).
    """
    import bdb
    import pdb

    class Debugger(pdb.Pdb):
        quit_requested = False

        def set_quit(self) -> None:
            self.quit_requested = True
            super().set_quit()

    debugger = Debugger(nosigint=True)
    result = debugger.runcall(handler, arg)
    if debugger.quit_requested:
        raise bdb.BdbQuit("the handler was stopped from the debugger (quit)")
    return result


def _python_import(spec: str, python_path: Optional[str] = None) -> None:
    """Run one ``PythonImport module[::function] interpreter`` line (manual 5.4.3).

    ``module`` is a module name or an absolute file path, imported as
    :func:`import_module` does; ``function`` (dotted names allowed) is then
    called with no arguments.  A server-level ``PythonPath`` applies first.
    """
    _apply_python_path(python_path)
    module_name, sep, function_path = spec.partition("::")
    module = importer.import_module(module_name)
    if sep:
        function: Any = module
        for part in function_path.split("."):
            function = getattr(function, part)
        if not callable(function):
            raise TypeError(f"PythonImport {spec}: {function_path} is not callable")
        function()


# --------------------------------------------------------------------------- filters
# PythonInputFilter / PythonOutputFilter and req.register_*_filter() (manual 4.3, 5.2).


def _dispatch_filter(filter: Any, directory: Optional[str], handler: Any = None) -> int:
    """Call a filter handler for one call of its filter (called by mod_python.so).

    ``handler`` is the callable given to ``req.register_*_filter()``, or
    None: then ``filter.handler`` is ``module[::callable]``, the callable
    defaulting to ``inputfilter`` or ``outputfilter``, and the module is
    found as handler modules are (``directory`` first, then ``sys.path``;
    or a file path). The handler's return value is ignored. Returns OK, or
    HTTP_INTERNAL_SERVER_ERROR after logging the traceback: the filter then
    fails the request (the traceback is never sent to the client, even
    under PythonDebug, since the response is what failed).
    """
    req = filter.req
    kind = "PythonInputFilter" if filter.is_input else "PythonOutputFilter"
    try:
        config = req.get_config()
        _apply_python_path(config.get("PythonPath"))
        use_pdb = config.get("PythonEnablePdb") == "1"
        with importer.using(_request_context(req, directory, config)):
            if handler is None:
                module_name, sep, object_path = filter.handler.partition("::")
                if not sep:
                    object_path = "inputfilter" if filter.is_input else "outputfilter"
                module = _handler_module(module_name)
                handler = _resolve(module, module_name, object_path, filter)
                if not callable(handler):
                    raise TypeError(f"{kind} {filter.name}: {filter.handler} is not callable")
            _call_callable(handler, filter, use_pdb)
        return OK
    except Exception:
        return _report_error(req, f"{kind} {filter.name}", False)
