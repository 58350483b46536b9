"""mod_python.cgihandler: run CGI scripts inside Apache's Python (manual 7.3).

Configure with::

    SetHandler mod_python
    PythonHandler mod_python.cgihandler

The script named by ``req.filename`` is executed in-process, as ``__main__``,
in an emulated CGI environment: ``os.environ`` holds the CGI variables,
``sys.stdin`` reads the request body and what the script writes to
``sys.stdout`` (a CGI header block, a blank line, then the body) becomes the
response.  The emulation swaps process-wide objects (``sys.stdin``,
``sys.stdout``, ``os.environ``, the current directory), so one lock lets only
one CGI script run at a time in an interpreter.
"""

from __future__ import annotations

import builtins
import importlib
import io
import os
import re
import site
import sys
import sysconfig
import threading
import types
from collections.abc import Iterator, MutableMapping
from typing import Any, Dict, List, Optional, Set

from mod_python import apache

__all__ = ["handler"]

# Held while a script runs: the swapped objects are shared by every thread.
_lock = threading.Lock()

# A header block longer than this is a script that forgot its headers.
_MAX_HEADER_BYTES = 64 * 1024
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")


def handler(req: Any) -> int:
    """Run the CGI script ``req.filename`` and send what it prints as the response."""
    path = req.filename
    if not path or not os.path.exists(path):
        return apache.HTTP_NOT_FOUND
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        # A directory, a device or an unreadable file is not a script to run.
        return apache.HTTP_FORBIDDEN
    with open(path, "rb") as f:
        source = f.read()
    # Compiled from source on every request (no .pyc): an edit shows at once,
    # and a syntax error fails here, before anything global is swapped.
    code = compile(source, path, "exec", dont_inherit=True)
    with _lock:
        _run(req, path, code)
    return apache.OK


class _CGIEnviron(MutableMapping[str, str]):
    """``os.environ`` while a script runs: a copy of the environment plus the CGI variables.

    One object per interpreter, refilled for every script: a module imported
    by a script may keep a reference (``cgi.FieldStorage`` takes
    ``os.environ`` as a default argument), and must see the variables of
    later requests, not those of the first one.  Between scripts it shows
    the real environment.
    """

    def __init__(self) -> None:
        self.data: MutableMapping[str, str] = os.environ

    def __getitem__(self, key: str) -> str:
        return self.data[key]

    def __setitem__(self, key: str, value: str) -> None:
        self.data[key] = value

    def __delitem__(self, key: str) -> None:
        del self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def copy(self) -> Dict[str, str]:
        return dict(self.data)

    def __repr__(self) -> str:
        return f"environ({dict(self.data)!r})"


_environ = _CGIEnviron()


def _run(req: Any, path: str, code: types.CodeType) -> None:
    req.add_common_vars()
    environ: Dict[str, str] = dict(os.environ)
    environ.update(req.subprocess_env.items())
    environ.update(_cgi_vars(req))

    body = _RequestBody(req)
    stdin = io.TextIOWrapper(
        io.BufferedReader(body), encoding="utf-8", errors="surrogateescape", newline="\n"
    )
    output = _CGIOutput(req, path)
    # write_through: text and sys.stdout.buffer writes keep their order.
    stdout = io.TextIOWrapper(
        io.BufferedWriter(output),
        encoding="utf-8",
        errors="surrogateescape",
        newline="\n",
        write_through=True,
    )
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__builtins__ = builtins  # type: ignore[attr-defined]
    directory = os.path.dirname(path)

    saved_stdin, saved_stdout, saved_environ = sys.stdin, sys.stdout, os.environ
    saved_argv: Optional[List[str]] = getattr(sys, "argv", None)
    saved_main = sys.modules.get("__main__")
    saved_bytecode = sys.dont_write_bytecode
    saved_cwd = _getcwd()
    modules_before = set(sys.modules)
    try:
        sys.stdin, sys.stdout = stdin, stdout
        # Replaced, not changed in place: the real process environment (and
        # so subprocesses, manual 7.3) never sees the CGI variables, and
        # os.getenv() reads this same module attribute.
        _environ.data = environ
        os.environ = _environ  # type: ignore[assignment]  # noqa: B003
        sys.argv = [path]
        sys.modules["__main__"] = main
        # As for `python script.py`: the script's directory comes first on
        # sys.path, so it imports the modules next to it.
        sys.path.insert(0, directory)
        # No .pyc next to the script's modules: a .pyc is matched on whole
        # seconds, so an edit within the same second could go unseen.
        sys.dont_write_bytecode = True
        importlib.invalidate_caches()
        os.chdir(directory)
        try:
            exec(code, main.__dict__)
        except SystemExit:
            pass  # sys.exit() ends a CGI script normally
        if not stdout.closed:  # closing stdout is a CGI script's way to end its output
            stdout.flush()
        output.finish()
    finally:
        # Output not sent yet is dropped if the script failed: the client
        # gets a clean 500 rather than half a page.
        output.detach()
        body.detach()
        sys.stdin, sys.stdout, os.environ = saved_stdin, saved_stdout, saved_environ
        _environ.data = saved_environ
        if saved_argv is None:
            if hasattr(sys, "argv"):
                del sys.argv
        else:
            sys.argv = saved_argv
        if saved_main is None:
            sys.modules.pop("__main__", None)
        else:
            sys.modules["__main__"] = saved_main
        try:
            sys.path.remove(directory)
        except ValueError:
            pass  # the script removed it itself
        sys.dont_write_bytecode = saved_bytecode
        if saved_cwd is not None:
            try:
                os.chdir(saved_cwd)
            except OSError:
                pass  # removed meanwhile: nothing better to go back to
        ###
        # Module reloading (manual 7.3): forget the modules the script
        # imported, so that the next run imports them afresh.  To keep them
        # loaded instead, comment out the code between the ### lines.
        _drop_new_modules(modules_before)
        ###
        for stream in (stdout, stdin):
            try:
                stream.close()
            except (OSError, ValueError):
                pass  # only unsent output of a failed script is lost here


def _getcwd() -> Optional[str]:
    try:
        return os.getcwd()
    except OSError:  # the directory was removed: nothing to go back to
        return None


def _cgi_vars(req: Any) -> Dict[str, str]:
    """The request's CGI/1.1 variables that req.add_common_vars() leaves out (RFC 3875)."""
    path_info = req.path_info or ""
    uri = req.uri or ""
    script_name = uri[: len(uri) - len(path_info)] if path_info and uri.endswith(path_info) else uri
    variables = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_PROTOCOL": req.protocol or "",
        "REQUEST_METHOD": req.method or "",
        "QUERY_STRING": req.args or "",
        "REQUEST_URI": req.unparsed_uri or "",
        "SCRIPT_NAME": script_name,
    }
    if path_info:
        variables["PATH_INFO"] = path_info
        variables["PATH_TRANSLATED"] = req.document_root().rstrip("/") + path_info
    return variables


class _RequestBody(io.RawIOBase):
    """The request body as a raw binary stream; sys.stdin wraps it."""

    def __init__(self, req: Any) -> None:
        super().__init__()
        self._req: Any = req

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._req is None:
            return 0  # the request is over
        data = self._req.read(len(buffer))
        memoryview(buffer).cast("B")[: len(data)] = data
        return len(data)

    def detach(self) -> None:
        self._req = None


class _CGIOutput(io.RawIOBase):
    """What the script writes: a CGI header block, a blank line, the body.

    The headers go to the request as they are complete; the body then
    streams through ``req.write``.
    """

    def __init__(self, req: Any, path: str) -> None:
        super().__init__()
        self._req: Any = req
        self._path = path
        self._head: Optional[bytearray] = bytearray()  # None once the headers are applied

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        if self._req is None:
            return len(chunk)  # the request is over: see _run's finally
        if self._head is None:
            self._req.write(chunk)
            return len(chunk)
        self._head += chunk
        end = _HEADER_END.search(self._head)
        if end is None:
            if len(self._head) > _MAX_HEADER_BYTES:
                raise ValueError(
                    f"CGI script {self._path}: no blank line after "
                    f"{_MAX_HEADER_BYTES} bytes of headers; did it forget to print "
                    "'Content-Type: ...' and an empty line first?"
                )
            return len(chunk)
        head, rest = bytes(self._head[: end.start()]), bytes(self._head[end.end() :])
        self._head = None
        self._apply_headers(head)
        if rest:
            self._req.write(rest)
        return len(chunk)

    def finish(self) -> None:
        """The script ended: apply a header block that no blank line closed."""
        if self._head is None:
            return
        if not self._head.strip():
            raise ValueError(f"CGI script {self._path} wrote no headers (CGI requires them)")
        head, self._head = bytes(self._head), None
        self._apply_headers(head)

    def detach(self) -> None:
        self._req = None

    def _apply_headers(self, block: bytes) -> None:
        req = self._req
        status: Optional[int] = None
        location = False
        for name, value in self._parse(block):
            key = name.lower()
            if key == "content-type":
                req.content_type = value
            elif key == "status":
                status = self._status(value)
            elif key == "content-length":
                if not value.isdigit():
                    raise ValueError(f"CGI script {self._path}: bad Content-Length {value!r}")
                req.set_content_length(int(value))
            else:
                if key == "location":
                    location = True
                req.headers_out.add(name, value)
        if status is not None:
            req.status = status
        elif location:
            req.status = apache.HTTP_MOVED_TEMPORARILY

    def _parse(self, block: bytes) -> List[List[str]]:
        headers: List[List[str]] = []
        # Header bytes are ISO-8859-1, as everywhere in mod_python's tables.
        for line in block.decode("latin-1").split("\n"):
            line = line.rstrip("\r")
            if line[:1] in (" ", "\t") and headers:  # a folded continuation line
                headers[-1][1] += " " + line.strip()
                continue
            name, sep, value = line.partition(":")
            if not sep or not _HEADER_NAME.match(name):
                raise ValueError(
                    f"CGI script {self._path}: malformed header line {line!r} "
                    "(the output must start with headers and a blank line)"
                )
            headers.append([name, value.strip()])
        return headers

    def _status(self, value: str) -> int:
        code = value.split(None, 1)[0] if value.strip() else ""
        if not (code.isdigit() and len(code) == 3 and 100 <= int(code) <= 599):
            raise ValueError(f"CGI script {self._path}: bad Status header {value!r}")
        return int(code)


def _library_dirs() -> Set[str]:
    """Where the Python installation keeps its modules: the stdlib and site-packages."""
    paths = {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    # The zipped standard library next to it (lib/python311.zip), if used.
    stdlib = sysconfig.get_path("stdlib")
    major, minor = sys.version_info[:2]
    paths.add(os.path.join(os.path.dirname(stdlib), f"python{major}{minor}.zip"))
    try:
        paths.update(site.getsitepackages())
    except AttributeError:  # an old virtualenv's site.py lacks it
        pass
    return {os.path.realpath(p) + os.sep for p in paths if p}


_LIBRARY_DIRS = _library_dirs()


def _keep(name: str, module: Any) -> bool:
    """Whether a module the script imported stays loaded.

    Kept: mod_python's own modules, modules of the Python installation
    (manual 7.3: "the standard Python library location"; site-packages too,
    as it lived there in Python 2) and modules without a file (built-ins,
    namespace packages).  Dropped: the application's modules.
    """
    if name == "mod_python" or name.startswith("mod_python.") or name.startswith("_mp_"):
        return True  # the server's own, and handler modules of mod_python.importer
    file = getattr(module, "__file__", None)
    if not isinstance(file, str):
        return True
    real = os.path.realpath(file)
    return any(real.startswith(d) for d in _LIBRARY_DIRS)


def _drop_new_modules(before: Set[str]) -> None:
    for name in [n for n in list(sys.modules) if n not in before]:
        module = sys.modules.get(name)
        if module is None or _keep(name, module):
            continue
        del sys.modules[name]
        # `from pkg import sub` would find the stale module as an attribute.
        parent_name, _, child = name.rpartition(".")
        parent = sys.modules.get(parent_name) if parent_name else None
        if parent is not None and getattr(parent, child, None) is module:
            delattr(parent, child)
