"""mod_python.testhandler: a page describing mod_python's setup (manual 2.5).

Configure with::

    <Location /mpinfo>
        SetHandler mod_python
        PythonHandler mod_python.testhandler
    </Location>

The page shows the versions of Python, mod_python and Apache, the
interpreter that served the request, ``sys.path``, the request, its
connection and server, and the mod_python configuration and options in
effect: what a bug report to the mod_python list needs.  Every value is
HTML-escaped, since most of them come from the client.  The page reveals
paths and configuration, so do not leave it reachable on a public server.
"""

from __future__ import annotations

import html
import os
import platform
import sys
import threading
from typing import Any, Callable, FrozenSet, Iterable, Iterator, List, Sequence, Tuple

from mod_python import apache, importer, version

__all__ = ["handler"]

# Members of the request, connection and server objects (manual 4.5.4-4.5.7).
REQUEST_MEMBERS = (
    "the_request", "method", "method_number", "protocol", "proto_num", "hostname",
    "unparsed_uri", "uri", "args", "filename", "canonical_filename", "path_info",
    "used_path_info", "parsed_uri", "finfo", "status", "status_line", "content_type",
    "content_encoding", "content_languages", "handler", "phase", "interpreter",
    "header_only", "assbackwards", "proxyreq", "request_time", "mtime", "chunked",
    "range", "clength", "remaining", "read_length", "read_body", "read_chunked",
    "expecting_100", "allowed", "allowed_methods", "allowed_xmethods", "user",
    "ap_auth_type", "no_cache", "no_local_copy", "sent_bodyct", "bytes_sent",
    "vlist_validator", "eos_sent", "next", "prev", "main",
)  # fmt: skip
CONNECTION_MEMBERS = (
    "remote_ip", "remote_addr", "remote_host", "remote_logname", "local_ip", "local_addr",
    "local_host", "id", "keepalive", "keepalives", "double_reverse", "aborted",
)  # fmt: skip
SERVER_MEMBERS = (
    "server_hostname", "port", "names", "wild_names", "is_virtual", "server_admin",
    "defn_name", "defn_line_number", "error_fname", "loglevel", "timeout", "keep_alive",
    "keep_alive_timeout", "keep_alive_max", "path", "pathlen", "limit_req_line",
    "limit_req_fieldsize", "limit_req_fields",
)  # fmt: skip

# Credentials the client sent: shown as hidden, so that the page cannot be
# used to read HttpOnly cookies or passwords (the phpinfo() problem).
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
SECRET_VARIABLES = frozenset({"HTTP_AUTHORIZATION", "HTTP_PROXY_AUTHORIZATION", "HTTP_COOKIE"})

Rows = Iterable[Tuple[str, Any]]

_STYLE = """
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #999; padding: 0.2em 0.5em; text-align: left;
         vertical-align: top; font-family: monospace; }
th { background: #dde; }
h2 { margin-top: 1.5em; }
"""


def handler(req: Any) -> int:
    """Write the diagnostic page for this request."""
    req.add_common_vars()  # so that the CGI environment below is complete
    parts = [
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>",
        "<title>mod_python test page</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>mod_python test page</h1>",
        _section("General information", _general(req)),
        _list_section("sys.path", sys.path),
        _section("Request (req)", _members(req, REQUEST_MEMBERS) + _request_calls(req)),
        _section("req.headers_in", _hide(req.headers_in.items(), SECRET_HEADERS, str.lower)),
        _section("req.get_config()", req.get_config().items()),
        _section("req.get_options()", req.get_options().items()),
        _section(
            "req.subprocess_env (after req.add_common_vars())",
            _hide(req.subprocess_env.items(), SECRET_VARIABLES, str.upper),
        ),
        _section("Connection (req.connection)", _members(req.connection, CONNECTION_MEMBERS)),
        _section("Server (req.server)", _members(req.server, SERVER_MEMBERS)),
        _section("req.server.get_config()", req.server.get_config().items()),
        _section("req.server.get_options()", req.server.get_options().items()),
        _list_section("Handler modules loaded by mod_python.importer", _loaded_files()),
        "</body></html>\n",
    ]
    req.content_type = "text/html; charset=utf-8"
    req.write("\n".join(parts))
    return apache.OK


def _general(req: Any) -> List[Tuple[str, Any]]:
    threaded = _safe(lambda: apache.mpm_query(apache.AP_MPMQ_IS_THREADED))
    return [
        ("Python version", sys.version),
        ("Python executable, prefix", f"{sys.executable}, {sys.prefix}"),
        ("Platform", platform.platform()),
        ("mod_python version (Python packages)", version.__version__),
        ("mod_python version (Apache module)", apache.MODULE_VERSION),
        ("Apache version", apache.SERVER_VERSION),
        ("Apache built", apache.SERVER_BUILT),
        ("Apache server root", _safe(apache.server_root)),
        ("MPM threaded", threaded),
        ("MPM max threads", _safe(lambda: apache.mpm_query(apache.AP_MPMQ_MAX_THREADS))),
        ("MPM max daemons", _safe(lambda: apache.mpm_query(apache.AP_MPMQ_MAX_DAEMONS))),
        ("apache.interpreter", apache.interpreter),
        ("Process id, thread", f"{os.getpid()}, {threading.current_thread().name}"),
        ("Current directory", _safe(os.getcwd)),
    ]


def _loaded_files() -> List[Any]:
    loaded = _safe(lambda: sorted(importer.loaded_files()))
    return loaded if isinstance(loaded, list) else [loaded]


def _request_calls(req: Any) -> List[Tuple[str, Any]]:
    return [
        ("document_root()", _safe(req.document_root)),
        ("get_remote_host(apache.REMOTE_NOLOOKUP)", _safe(
            lambda: req.get_remote_host(apache.REMOTE_NOLOOKUP)
        )),
        ("is_https()", _safe(req.is_https)),
        ("auth_type()", _safe(req.auth_type)),
        ("auth_name()", _safe(req.auth_name)),
    ]  # fmt: skip


def _members(obj: Any, names: Sequence[str]) -> List[Tuple[str, Any]]:
    return [(name, _safe(lambda name=name: getattr(obj, name))) for name in names]


def _hide(
    rows: Rows, secret: FrozenSet[str], normalise: Callable[[str], str]
) -> Iterator[Tuple[str, Any]]:
    for key, value in rows:
        if normalise(key) in secret:
            value = f"(hidden: {len(value)} characters)"
        yield key, value


def _safe(get: Callable[[], Any]) -> Any:
    # One value that cannot be read must not take the whole page down.
    try:
        return get()
    except Exception as exc:
        return f"(error: {type(exc).__name__}: {exc})"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def _section(title: str, rows: Rows) -> str:
    body = "".join(
        f"<tr><th>{html.escape(_text(key))}</th><td>{html.escape(_text(value))}</td></tr>\n"
        for key, value in rows
    )
    if not body:
        body = "<tr><td><em>(empty)</em></td></tr>\n"
    return f"<h2>{html.escape(title)}</h2>\n<table>\n{body}</table>"


def _list_section(title: str, items: Iterable[Any]) -> str:
    body = "".join(f"<li>{html.escape(_text(item))}</li>\n" for item in items)
    return f"<h2>{html.escape(title)}</h2>\n<ol>\n{body}</ol>" if body else _section(title, ())
