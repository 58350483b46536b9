"""mod_python.wsgi: run a WSGI (PEP 3333) application as a mod_python handler.

Configure with::

    SetHandler mod_python
    PythonHandler mod_python.wsgi
    PythonOption mod_python.wsgi.application mypackage.app::application
    PythonOption mod_python.wsgi.base_uri /myapp        # optional

The application is imported with a normal import (``sys.path``, see
``PythonPath``) on its first request and kept for the life of the
interpreter.  Each request gets a fresh environ built from the request
object; the response is streamed with ``req.write()``, one flush per block,
and a ``wsgi.file_wrapper`` response of a real file goes out with
``req.sendfile()``.
"""

from __future__ import annotations

import importlib
import os
import re
import stat
import threading
import traceback
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from mod_python import apache

__all__ = ["APPLICATION_OPTION", "BASE_URI_OPTION", "FileWrapper", "handler"]

#: The PythonOption that names the application, ``module::callable`` (the
#: callable defaulting to ``application``).
APPLICATION_OPTION = "mod_python.wsgi.application"
#: The PythonOption that says where the application is mounted (its ``SCRIPT_NAME``).
BASE_URI_OPTION = "mod_python.wsgi.base_uri"

Headers = List[Tuple[str, str]]

# HTTP tokens (RFC 9110) for header names; values may hold any latin-1
# character except controls (a tab is allowed).
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_STATUS = re.compile(r"([0-9]{3}) ([^\x00-\x08\x0a-\x1f\x7f]*)\Z")
# PEP 3333: hop-by-hop headers are the server's business, not the application's.
_DIGITS = re.compile(r"[0-9]+\Z")
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_ABORT_FILTER = "MOD_PYTHON_WSGI_ABORT"


def _mpm_is(code: int) -> bool:
    try:
        return apache.mpm_query(code) != apache.AP_MPMQ_NOT_SUPPORTED
    except ValueError:
        return False


# The MPM cannot change while this interpreter lives.
_MULTITHREAD = _mpm_is(apache.AP_MPMQ_IS_THREADED)
_MULTIPROCESS = _mpm_is(apache.AP_MPMQ_IS_FORKED)

_applications: Dict[str, Callable[..., Any]] = {}
_applications_lock = threading.Lock()


# --------------------------------------------------------------------------- the handler


def handler(req: Any) -> int:
    """Call the configured WSGI application for ``req`` and send its response."""
    options = req.get_options()
    application = _application(options.get(APPLICATION_OPTION))
    environ = _environ(req, options.get(BASE_URI_OPTION))
    errors = environ["wsgi.errors"]
    response = _Response(req)
    try:
        result = application(environ, response.start_response)
        try:
            response.send(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        response.finish()
    except Exception:
        if req.connection.aborted:
            # The client went away: nothing to report to it, nothing wrong with the app.
            req.log_error(
                f"mod_python.wsgi: the client closed the connection before the response "
                f"to {req.uri!r} was complete",
                apache.APLOG_INFO,
            )
            return apache.DONE
        if not response.headers_sent:
            raise  # the dispatcher logs it and answers 500
        # Too late for a 500 (Apache would append its error page to the body):
        # log here, and cut the response so that the client sees it is broken.
        _log_exception(
            req, f"mod_python.wsgi: the application failed during the response to {req.uri!r}:"
        )
        _abort(req, "the application failed (see the traceback above)")
        return apache.DONE
    finally:
        errors.flush()
    if response.short:
        req.log_error(
            f"mod_python.wsgi: the application sent {response.sent} bytes for {req.uri!r} "
            f"but its Content-Length is {response.length}",
            apache.APLOG_ERR,
        )
        _abort(req, "the response was shorter than its Content-Length")
        return apache.DONE
    return apache.OK


def _application(spec: Optional[str]) -> Callable[..., Any]:
    """The application named by ``spec`` (``module[::callable]``), imported once."""
    if not spec:
        raise ValueError(
            f"mod_python.wsgi needs the application to run: "
            f"PythonOption {APPLICATION_OPTION} module::callable"
        )
    app = _applications.get(spec)
    if app is None:
        # Under the lock, so that concurrent first requests load it once.
        with _applications_lock:
            app = _applications.get(spec)
            if app is None:
                app = _applications[spec] = _load(spec)
    return app


def _load(spec: str) -> Callable[..., Any]:
    module_name, sep, path = spec.partition("::")
    module_name, path = module_name.strip(), (path.strip() if sep else "application")
    if not module_name or not path:
        raise ValueError(
            f"PythonOption {APPLICATION_OPTION} {spec!r}: write module::callable or module"
        )
    obj: Any = importlib.import_module(module_name)
    for part in path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AttributeError(
                f"PythonOption {APPLICATION_OPTION} {spec!r}: {module_name}.{path} "
                f"does not exist ({part!r} is missing)"
            ) from None
    if not callable(obj):
        raise TypeError(f"PythonOption {APPLICATION_OPTION} {spec!r}: {obj!r} is not callable")
    return obj


def _abort(req: Any, why: str) -> None:
    """Close the connection without completing the response that has begun.

    A failing output filter is how mod_python cuts a response under way: its
    end is never sent (a chunked body lacks its last chunk) and the
    connection is closed.  The filter fails on the end of the response,
    which Apache sends when the handler returns DONE.
    """

    def cut(filter: Any) -> None:
        raise ConnectionAbortedError(
            f"mod_python.wsgi: cut the response to {req.uri!r} and closed the connection: {why}"
        )

    try:
        req.flush()  # what was sent is the client's; only the end is withheld
    except OSError:
        pass
    req.register_output_filter(_ABORT_FILTER, cut)
    req.add_output_filter(_ABORT_FILTER)


def _log_exception(req: Any, message: str) -> None:
    """Log the current exception line by line, as the dispatcher does."""
    req.log_error(message, apache.APLOG_ERR)
    for line in traceback.format_exc().splitlines():
        req.log_error(line, apache.APLOG_ERR)


# --------------------------------------------------------------------------- environ


def _environ(req: Any, base_uri: Optional[str]) -> Dict[str, Any]:
    req.add_common_vars()
    environ: Dict[str, Any] = dict(req.subprocess_env)
    script_name, path_info = _split_uri(req, base_uri)
    environ.update(
        {
            # add_common_vars() leaves out the variables of the request line.
            "REQUEST_METHOD": req.method,
            "SCRIPT_NAME": script_name,
            "PATH_INFO": path_info,
            "QUERY_STRING": req.args or "",
            "REQUEST_URI": req.unparsed_uri,
            "SERVER_PROTOCOL": req.protocol,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https" if req.is_https() else "http",
            "wsgi.input": _Input(req),
            # req.read() stops at the end of the body, chunked or not.
            "wsgi.input_terminated": True,
            "wsgi.errors": _ErrorStream(req),
            "wsgi.multithread": _MULTITHREAD,
            "wsgi.multiprocess": _MULTIPROCESS,
            "wsgi.run_once": False,
            "wsgi.file_wrapper": FileWrapper,
            "mod_python.request": req,
        }
    )
    if "SERVER_NAME" not in environ:  # add_common_vars() sets both; PEP 3333 needs them
        environ["SERVER_NAME"] = req.server.server_hostname or "localhost"
    if "SERVER_PORT" not in environ:
        environ["SERVER_PORT"] = str(req.connection.local_addr[1])
    return environ


def _under(prefix: str, uri: str) -> bool:
    return uri == prefix or uri.startswith(prefix + "/")


def _split_uri(req: Any, base_uri: Optional[str]) -> Tuple[str, str]:
    """``(SCRIPT_NAME, PATH_INFO)``: where the application is mounted, and the rest."""
    uri: str = req.uri or ""
    if base_uri is not None:
        base = base_uri.rstrip("/")
        if base and not _under(base, uri):
            raise ValueError(
                f"PythonOption {BASE_URI_OPTION} {base_uri!r} is not a prefix of "
                f"the request path {uri!r}"
            )
    else:
        base = _mount_point(req, uri)
    return base, uri[len(base) :]


def _mount_point(req: Any, uri: str) -> str:
    """The URL path of the section that configured the handler ("" when unknown)."""
    entry = req.hlist
    if entry is None:
        return ""
    if entry.location is not None:
        location = entry.location.rstrip("/")
        # A <LocationMatch> regular expression is not a prefix: fall through.
        if not location or _under(location, uri):
            return location
    if entry.directory and req.filename:
        # The part of the URI that maps to what lies below the directory.
        directory = entry.directory.rstrip("/")
        if req.filename == directory or req.filename.startswith(directory + "/"):
            tail = req.filename[len(directory) :] + (req.path_info or "")
            if uri.endswith(tail):
                return uri[: len(uri) - len(tail)].rstrip("/")
    return ""


class _Input:
    """``wsgi.input``: the request body, read from the client as it is asked for."""

    def __init__(self, req: Any) -> None:
        self._req = req

    def read(self, size: Optional[int] = -1) -> bytes:
        return self._req.read(-1 if size is None else size)

    def readline(self, size: Optional[int] = -1) -> bytes:
        return self._req.readline(-1 if size is None else size)

    def readlines(self, hint: Optional[int] = -1) -> List[bytes]:
        return self._req.readlines(0 if hint is None or hint < 0 else hint)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self._req.readline()
        if not line:
            raise StopIteration
        return line


class _ErrorStream:
    """``wsgi.errors``: text written here goes to the error log, one entry per line."""

    def __init__(self, req: Any) -> None:
        self._req = req
        self._partial = ""

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"wsgi.errors.write() takes str, not {type(text).__name__}")
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            self._log(line)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._partial:
            line, self._partial = self._partial, ""
            self._log(line)

    def _log(self, line: str) -> None:
        try:
            self._req.log_error(line.rstrip("\r"), apache.APLOG_ERR)
        except RuntimeError:
            # The request is over (the app kept the stream): log for the server.
            apache.log_error(line.rstrip("\r"), apache.APLOG_ERR)


class FileWrapper:
    """``wsgi.file_wrapper``: a file's contents as a response.

    Iterating gives ``blksize`` blocks read from ``filelike``. Returned as
    the response of a request, a wrapper of a regular file whose ``name``
    is its path goes out with ``req.sendfile()`` from the current position.
    """

    def __init__(self, filelike: Any, blksize: int = 8192) -> None:
        self.filelike = filelike
        self.blksize = blksize

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        data = self.filelike.read(self.blksize)
        if not data:
            raise StopIteration
        return data

    def close(self) -> None:
        """Close ``filelike`` if it has a ``close()`` method (the server calls this)."""
        close = getattr(self.filelike, "close", None)
        if close is not None:
            close()


def _sendfile_range(wrapper: FileWrapper) -> Optional[Tuple[str, int, int]]:
    """``(path, offset, size)`` when the wrapped object is a regular file that can be
    sent by name; None when it must be read instead."""
    filelike = wrapper.filelike
    try:
        fd = filelike.fileno()
        name = filelike.name
        if not isinstance(name, str):
            return None
        opened = os.fstat(fd)
        named = os.stat(name)
        offset = filelike.tell()
    except (AttributeError, OSError, ValueError, TypeError):
        return None
    # The name must still be the open file (not renamed, not replaced).
    if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (
        named.st_dev,
        named.st_ino,
    ):
        return None
    return os.path.abspath(name), offset, max(opened.st_size - offset, 0)


# --------------------------------------------------------------------------- the response


class _Response:
    """start_response() and the sending of one response."""

    def __init__(self, req: Any) -> None:
        self.req = req
        self.status: Optional[int] = None
        self.headers: Headers = []
        self.length: Optional[int] = None
        self.headers_sent = False
        self.sent = 0

    @property
    def short(self) -> bool:
        """Less was sent than the Content-Length promised (HEAD and 304 send no body)."""
        return (
            self.length is not None
            and self.sent < self.length
            and not self.req.header_only
            and self.status not in (204, 304)
        )

    def start_response(
        self, status: str, headers: Headers, exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self.headers_sent:
                    # PEP 3333: too late to change the response; let the error through.
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # no reference cycle through the traceback
        elif self.status is not None:
            raise RuntimeError("start_response() called a second time without exc_info")
        code = _check_status(status)
        length = _check_headers(headers)
        self.status, self.headers, self.length = code, list(headers), length
        return self.write

    def write(self, data: bytes) -> None:
        """The write() callable returned by start_response()."""
        _check_block(data)
        if self.length is not None and self.sent + len(data) > self.length:
            raise ValueError(
                f"write() of {len(data)} bytes goes beyond the Content-Length "
                f"({self.length}, {self.sent} sent already)"
            )
        self._send(data, True)

    def send(self, result: Iterable[bytes]) -> None:
        """Send the iterable the application returned."""
        if isinstance(result, FileWrapper):
            where = _sendfile_range(result)
            if where is not None:
                self._sendfile(*where)
                return
        # A list holds a finished body: nothing to stream, so no flush per block,
        # and its length is known.
        flush = not isinstance(result, (list, tuple))
        if not flush and self.length is None and self.status is not None and not self.sent:
            if all(type(data) is bytes for data in result):
                self.length = sum(len(data) for data in result)
        for data in result:
            _check_block(data)
            if self.length is not None and self.sent + len(data) >= self.length:
                # PEP 3333: send no more than Content-Length, and stop iterating.
                self._send(data[: self.length - self.sent], flush)
                return
            self._send(data, flush)

    def _send(self, data: bytes, flush: bool) -> None:
        if not data:
            return  # an empty block says nothing, and must not send the headers
        self._send_headers()
        self.req.write(data, flush)
        self.sent += len(data)

    def _sendfile(self, path: str, offset: int, size: int) -> None:
        if self.length is not None:
            size = min(size, self.length - self.sent)
        elif not self.sent:
            self.length = size  # the whole body: let the client know its length
        if size > 0:
            self._send_headers()
            self.sent += self.req.sendfile(path, offset, size)

    def finish(self) -> None:
        """The body is complete: send the headers if no block did."""
        self._send_headers()

    def _send_headers(self) -> None:
        if self.headers_sent:
            return
        if self.status is None:
            raise RuntimeError("the application sent its response before calling start_response()")
        req = self.req
        req.status = self.status
        for name, value in self.headers:
            lower = name.lower()
            if lower == "content-type":
                req.content_type = value
            elif lower != "content-length":
                req.headers_out.add(name, value)
        if self.length is not None:
            req.set_content_length(self.length)
        self.headers_sent = True


def _check_status(status: Any) -> int:
    if not isinstance(status, str):
        raise TypeError(f"start_response(): the status must be a str, not {status!r}")
    match = _STATUS.match(status)
    if not match:
        raise ValueError(f"start_response(): bad status {status!r}, expected e.g. '200 OK'")
    code = int(match.group(1))
    if not 200 <= code <= 599:
        raise ValueError(f"start_response(): status {status!r} is not a final HTTP status")
    return code


def _check_headers(headers: Any) -> Optional[int]:
    """Refuse what Apache could not send as it is; return the Content-Length if any."""
    if not isinstance(headers, list):
        raise TypeError(f"start_response(): headers must be a list, not {type(headers).__name__}")
    length = None
    for item in headers:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TypeError(f"start_response(): a header must be a (name, value) tuple: {item!r}")
        name, value = item
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"start_response(): header name and value must be str: {item!r}")
        if not _TOKEN.match(name):
            raise ValueError(f"start_response(): bad header name {name!r}")
        if _BAD_VALUE.search(value):
            raise ValueError(
                f"start_response(): header {name} has a control character (CR, LF...) "
                f"in its value {value!r}"
            )
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(
                f"start_response(): header {name} value {value!r} is not ISO-8859-1"
            ) from None
        lower = name.lower()
        if lower in _HOP_BY_HOP:
            raise ValueError(f"start_response(): {name} is a hop-by-hop header (PEP 3333)")
        if lower == "content-length":
            if not _DIGITS.match(value):
                raise ValueError(f"start_response(): bad Content-Length {value!r}")
            length = int(value)
    return length


def _check_block(data: Any) -> None:
    if type(data) is not bytes:
        raise TypeError(
            f"a WSGI application must send bytes, not {type(data).__name__}: {data!r:.60}"
        )
