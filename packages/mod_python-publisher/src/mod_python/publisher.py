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

import base64
import binascii
import functools
import hmac
import html
import inspect
import os
import re
import types
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

from mod_python._publisher_version import __version__

try:
    from mod_python._siblings import require as _require
except ImportError as exc:  # a mod_python-core from before the check existed
    raise ImportError(f"mod_python-publisher needs a newer mod_python-core ({exc})") from exc

_require("mod_python-publisher")

__all__ = ["__version__", "handler"]

#: What a request names when its path says nothing more (manual 7.1.2).
DEFAULT_NAME = "index"
#: The realm of the 401 challenge when no ``__auth_realm__`` names one.
DEFAULT_REALM = "unknown"

_ABSENT: Any = object()


class _Refused(Exception):
    """The publisher answers the request with ``status`` instead of publishing.

    ``reason`` goes to the error log only: the client sees Apache's page
    for the status, which tells nothing about the site's code.
    """

    def __init__(self, status: HTTPStatus, reason: str, realm: Optional[str] = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.realm = realm  # for 401: the realm of the WWW-Authenticate challenge


def _not_found(reason: str) -> _Refused:
    return _Refused(HTTPStatus.NOT_FOUND, reason)


# --------------------------------------------------------------------------- URL -> module


class _Target(NamedTuple):
    """What a request designates: a module file and the names to walk in it."""

    module_path: str
    names: Tuple[str, ...]


def _object_names(path_info: str) -> Tuple[str, ...]:
    """The names ``path_info`` walks; ``index`` where the path ends at a slash or is empty."""
    parts = path_info.split("/")
    if parts[0] == "":
        parts = parts[1:]  # path_info starts with the slash after the file name
    if not parts or parts[-1] == "":
        parts = [*parts[:-1], DEFAULT_NAME] if parts else [DEFAULT_NAME]
    if "" in parts:
        raise _not_found(f"empty name in the path {path_info!r}")
    return tuple(parts)


def _find_target(filename: Optional[str], path_info: Optional[str]) -> _Target:
    """The module file and object names for ``req.filename`` and ``req.path_info``.

    Apache mapped the URL to ``filename`` (resolving ``..``, refusing
    encoded slashes, applying its symlink and access rules), so the module
    is looked for only beside it: the path info never names a file.
    """
    path_info = path_info or ""
    if not filename or not os.path.isabs(filename):
        raise _not_found(f"the request maps to no file ({filename!r})")
    names = _object_names(path_info)
    if filename.endswith("/") or os.path.isdir(filename):
        directory, stem = filename, DEFAULT_NAME
    else:
        directory, base = os.path.split(filename)
        stem, ext = os.path.splitext(base)
        if not ext and not path_info and not os.path.isfile(os.path.join(directory, base + ".py")):
            # Manual 7.1.2: "/hello" is the object hello of the directory's index.py.
            stem, names = DEFAULT_NAME, (base,)
    if stem.startswith("_"):
        raise _not_found(f"module {stem}.py is private: its name starts with an underscore")
    module_path = os.path.join(directory, stem + ".py")
    if not os.path.isfile(module_path):
        raise _not_found(f"no module file {module_path}")
    if module_path != filename and os.path.islink(module_path):
        # Apache checked its symlink options on the path it mapped, not on a
        # name the publisher derived from it: follow such a link only to a
        # file in the same directory.
        real_dir = os.path.dirname(os.path.realpath(module_path))
        if real_dir != os.path.realpath(directory):
            raise _not_found(f"{module_path} is a symbolic link out of its directory")
    return _Target(os.path.normpath(module_path), names)


# --------------------------------------------------------------------------- traversal guard

# Interpreter internals: nothing a URL may reach, as a step or as the result.
_INTERNAL_TYPES: Tuple[type, ...] = (
    types.ModuleType,
    types.FrameType,
    types.CodeType,
    types.TracebackType,
    types.GeneratorType,
    types.CoroutineType,
    types.AsyncGeneratorType,
    types.CellType,
    types.BuiltinFunctionType,  # also built-in methods such as "text".upper
    types.MethodWrapperType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
    types.GetSetDescriptorType,
    types.MemberDescriptorType,
)


def _kind(obj: Any) -> str:
    if isinstance(obj, types.ModuleType):
        return "module"
    if isinstance(obj, type):
        return "class"
    return type(obj).__name__


def _check_step(obj: Any, path: str) -> None:
    """Refuse to walk on from ``obj`` (at ``path``): only plain objects have published members.

    Modules (imported by the published one), classes and functions lead to
    everything in the interpreter, so the walk never goes through them.
    """
    if (
        isinstance(obj, _INTERNAL_TYPES)
        or isinstance(obj, type)
        or isinstance(obj, (types.FunctionType, types.MethodType))
    ):
        raise _not_found(f"{path!r} is a {_kind(obj)}: nothing inside it is published")


def _check_published(obj: Any, module: types.ModuleType, path: str, top: bool) -> None:
    """Refuse to publish ``obj`` (what ``path`` led to) if it is not the module's to publish.

    ``top`` says ``obj`` is a global of the module, where a method can only
    have been imported or copied from another object (``from random import
    seed``); methods of the module's instances are found one step further.
    """
    if isinstance(obj, _INTERNAL_TYPES):
        raise _not_found(f"{path!r} is a {_kind(obj)}, which is never published")
    func = obj.__func__ if top and isinstance(obj, types.MethodType) else obj
    if isinstance(func, types.FunctionType) and func.__module__ != module.__name__:
        # "from shutil import rmtree" must not publish rmtree: a module
        # publishes the functions it defines, not those it imports.
        raise _not_found(
            f"{path!r} is the function {func.__module__}.{func.__qualname__}, not one defined "
            "in the published module (define a function there that calls it)"
        )


# --------------------------------------------------------------------------- authentication

# Instructions that bind a local variable (3.13 fuses some with the next one:
# STORE_FAST_LOAD_FAST (stored, loaded), STORE_FAST_STORE_FAST (first, second)).
_LOCAL_STORES = ("STORE_FAST", "STORE_DEREF", "STORE_NAME")
_FUSED_STORES = ("STORE_FAST_LOAD_FAST", "STORE_FAST_STORE_FAST")
# MAKE_FUNCTION flags that do not change what the function does: annotations
# (0x04) and, from 3.14, the function computing them (0x10). The others,
# defaults (0x01, 0x02) and closure (0x08), take values only a call has.
_HARMLESS_FLAGS = 0x04 | 0x10


class _Unreadable:
    """A nested ``__auth__``/``__access__``/``__auth_realm__`` that cannot be read statically."""

    def __init__(self, why: str) -> None:
        self.why = why


_COMPUTED = _Unreadable(
    "its value is computed when the function runs (only a constant or a nested def "
    "without default values or closure can be read without running it)"
)


@functools.lru_cache(maxsize=512)
def _nested_definition(code: types.CodeType, name: str) -> Any:
    """What the body of the function with ``code`` assigns to the local ``name``.

    Returns the constant, the code object of a nested ``def``/``lambda``,
    ``_ABSENT`` if the body does not assign ``name``, or ``_Unreadable``.
    Only the bytecode is read: the function is never run to find out.
    """
    if name not in code.co_varnames and name not in code.co_cellvars:
        return _ABSENT
    nargs = code.co_argcount + code.co_kwonlyargcount
    if name in code.co_varnames[:nargs]:
        return _Unreadable("it is a parameter of the function")
    import dis  # only functions with such a local get here

    instructions = list(dis.get_instructions(code))
    stores = []
    for index, ins in enumerate(instructions):
        if ins.opname in _LOCAL_STORES and ins.argval == name:
            stores.append(index)
        elif ins.opname in _FUSED_STORES and name in ins.argval:
            if ins.argval[0] == name:  # the first store takes the value just computed
                stores.append(index)
            elif ins.opname == "STORE_FAST_STORE_FAST":
                return _Unreadable("it is assigned together with another name")
    if not stores:
        return _ABSENT
    if len(stores) > 1:
        return _Unreadable("it is assigned more than once")
    pos = stores[0] - 1
    if pos < 0:
        return _COMPUTED
    if instructions[pos].opname in ("LOAD_CONST", "LOAD_SMALL_INT"):
        value = instructions[pos].argval
        return _COMPUTED if isinstance(value, types.CodeType) else value
    # A nested def or lambda: LOAD_CONST <code>, MAKE_FUNCTION <flags> (3.9 and
    # 3.10 load the qualified name in between); 3.13+ sets each flag after
    # MAKE_FUNCTION with its own SET_FUNCTION_ATTRIBUTE.
    flags = 0
    while pos > 0 and instructions[pos].opname == "SET_FUNCTION_ATTRIBUTE":
        flags |= instructions[pos].arg or 0
        pos -= 1
    if instructions[pos].opname != "MAKE_FUNCTION":
        return _COMPUTED
    flags |= instructions[pos].arg or 0
    if flags & ~_HARMLESS_FLAGS:
        return _COMPUTED
    for ins in instructions[max(0, pos - 2) : pos]:
        if ins.opname == "LOAD_CONST" and isinstance(ins.argval, types.CodeType):
            return ins.argval
    return _COMPUTED


def _python_functions(obj: Any) -> List[types.FunctionType]:
    """The Python functions behind ``obj``: itself (or a method's), then what it wraps."""
    func = obj.__func__ if isinstance(obj, types.MethodType) else obj
    found: List[types.FunctionType] = []
    while isinstance(func, types.FunctionType) and func not in found:
        found.append(func)
        func = func.__dict__.get("__wrapped__")
    return found


def _auth_attribute(obj: Any, name: str) -> Any:
    """``obj``'s ``name`` (``__auth__``, ``__access__``, ``__auth_realm__``), or ``_ABSENT``.

    An attribute (module global, function attribute, instance or class
    attribute) comes first; for a function or method, then a definition
    nested in its body, evaluated in the function's own globals.
    """
    try:
        return getattr(obj, name)
    except AttributeError:
        pass
    for func in _python_functions(obj):
        found = _nested_definition(func.__code__, name)
        if found is _ABSENT:
            continue
        if isinstance(found, _Unreadable):
            raise TypeError(
                f"mod_python.publisher: the {name} nested in {func.__qualname__}() cannot be "
                f"used: {found.why}. Nested in a function it must be a nested def or a "
                f"constant; for a dict or a list write {func.__qualname__}.{name} = ... "
                "after the function instead"
            )
        if isinstance(found, types.CodeType):
            return types.FunctionType(found, func.__globals__, found.co_name)
        return found
    return _ABSENT


def _basic_credentials(authorization: Optional[str]) -> Optional[Tuple[str, str, str]]:
    """(user, password, user as Apache stores it) from a Basic ``Authorization`` header.

    Anything else (no header, another scheme such as Digest, bad base64)
    counts as no credentials: the answer is then a 401 challenge, never a
    400 (MODPYTHON-47).
    """
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, colon, password = raw.partition(b":")
    if not colon:
        return None

    # Browsers send UTF-8 today; older clients ISO-8859-1, which always decodes.
    def text(data: bytes) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("iso-8859-1")

    # req.user holds the header's bytes as ISO-8859-1, as every table value does.
    return text(user), text(password), user.decode("iso-8859-1")


def _password_matches(expected: Any, given: str) -> bool:
    if not isinstance(expected, str):
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


_ACCESS_LISTS = (list, tuple, set, frozenset)


class _Guard:
    """The ``__auth__``/``__access__``/``__auth_realm__`` checks of one request (manual 7.1.2).

    :meth:`check` runs at every traversal step, innermost definitions last:
    every ``__auth__`` and ``__access__`` met on the way must agree. An
    ``__access__`` list or function needs a user; when no ``__auth__`` met
    so far (nor Apache) has authenticated one, it waits for :meth:`finish`,
    so that an ``__auth__`` nested in the published function can do it.
    """

    def __init__(self, req: Any) -> None:
        self.req = req
        self.realm = DEFAULT_REALM
        self.user: Optional[str] = None  # authenticated by an __auth__
        self.pending: List[Tuple[Any, str]] = []
        self._credentials: Any = _ABSENT

    def check(self, obj: Any, where: str) -> None:
        realm = _auth_attribute(obj, "__auth_realm__")
        if realm is not _ABSENT and realm is not None:
            self.realm = str(realm)
        auth = _auth_attribute(obj, "__auth__")
        if auth is not _ABSENT:
            self._authenticate(auth, where)
        access = _auth_attribute(obj, "__access__")
        if access is not _ABSENT:
            if self._known_user() is None and (callable(access) or _is_list(access)):
                self.pending.append((access, where))
            else:
                self._authorize(access, where)

    def finish(self) -> None:
        """Check the ``__access__`` that waited for a user (403 if there is none)."""
        for access, where in self.pending:
            self._authorize(access, where)
        self.pending = []

    def credentials(self) -> Optional[Tuple[str, str, str]]:
        if self._credentials is _ABSENT:
            self._credentials = _basic_credentials(self.req.headers_in.get("Authorization"))
        return self._credentials

    def _known_user(self) -> Optional[str]:
        return self.user if self.user is not None else self.req.user

    def _unauthorized(self, reason: str) -> _Refused:
        return _Refused(HTTPStatus.UNAUTHORIZED, reason, self.realm)

    def _authenticate(self, auth: Any, where: str) -> None:
        if not callable(auth) and not isinstance(auth, Mapping):
            # A constant: true lets everybody in, false nobody.
            if not auth:
                raise self._unauthorized(f"__auth__ of {where} is false")
            return
        credentials = self.credentials()
        if credentials is None:
            raise self._unauthorized(f"{where} needs Basic credentials, none were sent")
        user, password, raw_user = credentials
        if callable(auth):
            ok = auth(self.req, user, password)
        else:
            ok = user in auth and _password_matches(auth[user], password)
        if not ok:
            raise self._unauthorized(f"__auth__ of {where} refused user {user!r}")
        self.user = user
        self.req.user = raw_user
        if not self.req.ap_auth_type:
            self.req.ap_auth_type = "Basic"

    def _authorize(self, access: Any, where: str) -> None:
        user = self._known_user()
        if callable(access):
            ok = user is not None and access(self.req, user)
        elif _is_list(access):
            ok = user is not None and user in access
        else:
            ok = bool(access)  # a constant
        if not ok:
            raise _Refused(HTTPStatus.FORBIDDEN, f"__access__ of {where} refused user {user!r}")


def _is_list(value: Any) -> bool:
    return isinstance(value, _ACCESS_LISTS) or isinstance(value, Mapping)


def _challenge(realm: str) -> str:
    """The ``WWW-Authenticate`` value for ``realm`` (a quoted string, one header line)."""
    realm = re.sub(r"[\x00-\x1f\x7f]", " ", realm).replace("\\", "\\\\").replace('"', '\\"')
    try:
        realm.encode("iso-8859-1")
    except UnicodeEncodeError:
        # Header values are ISO-8859-1 str: send the UTF-8 bytes browsers expect.
        realm = realm.encode("utf-8").decode("iso-8859-1")
    return f'Basic realm="{realm}"'


# --------------------------------------------------------------------------- traversal


def _resolve(module: types.ModuleType, names: Sequence[str], guard: _Guard) -> Any:
    """Walk ``names`` from ``module``, checking each step's type, name and authentication."""
    for index, name in enumerate(names):
        if name.startswith("_"):
            path = "/" + "/".join(names[: index + 1])
            raise _not_found(f"{path!r}: names starting with an underscore are never published")
    guard.check(module, "the module")
    obj: Any = module
    for index, name in enumerate(names):
        path = "/" + "/".join(names[: index + 1])
        try:
            obj = getattr(obj, name)
        except AttributeError:
            raise _not_found(f"{path!r}: no such object") from None
        _check_published(obj, module, path, top=index == 0)
        if index + 1 < len(names):
            # before its own __auth__: a path through it is refused, whoever asks
            _check_step(obj, path)
        guard.check(obj, repr(path))
    guard.finish()
    return obj


# --------------------------------------------------------------------------- calling


@functools.lru_cache(maxsize=1024)
def _function_signature(func: types.FunctionType) -> inspect.Signature:
    # inspect.signature costs about as much as the rest of a request; a
    # published function's signature does not change (a reloaded module
    # brings new function objects, and the old ones age out of the cache).
    return inspect.signature(func)


def _signature(func: Any) -> Optional[inspect.Signature]:
    """``func``'s signature (cached for plain functions), or None if it has none."""
    try:
        if type(func) is types.FunctionType:
            return _function_signature(func)
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


def _arguments(func: Any, req: Any, fields: Mapping[str, Any]) -> Tuple[List[Any], Dict[str, Any]]:
    """The arguments to call ``func`` with: ``req`` and the form fields its parameters name.

    A parameter named ``req`` gets the request object, whatever the form
    holds. A parameter with no field of its name keeps its default; one
    without a default makes a 400. Fields no parameter names are dropped,
    unless the function has ``**kwargs``, which then receives them all
    (except a field named ``req``). ``*args`` receives nothing.
    """
    signature = _signature(func)
    if signature is None:
        return [], {}  # no signature to match (some C callables): call without arguments
    args: List[Any] = []
    kwargs: Dict[str, Any] = {}
    missing: List[str] = []
    takes_kwargs = False
    for param in signature.parameters.values():
        if param.kind is param.VAR_POSITIONAL:
            continue
        if param.kind is param.VAR_KEYWORD:
            takes_kwargs = True
            continue
        if param.name == "req":
            value = req
        elif param.name in fields:
            value = fields[param.name]
        elif param.default is not param.empty:
            if param.kind is param.POSITIONAL_ONLY:
                args.append(param.default)  # keeps the place of those that follow
            continue
        else:
            missing.append(param.name)
            continue
        if param.kind is param.POSITIONAL_ONLY:
            args.append(value)
        else:
            kwargs[param.name] = value
    if missing:
        raise _Refused(
            HTTPStatus.BAD_REQUEST,
            f"missing form field{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
        )
    if takes_kwargs:
        for name, value in fields.items():
            if name != "req" and name not in kwargs:
                kwargs[name] = value
    return args, kwargs


def _form_fields(form: Any) -> Dict[str, Any]:
    """Each field name of the form with its value: a str, an upload, or a list if repeated."""
    return {name: form[name] for name in form.keys()}


# --------------------------------------------------------------------------- output

# A byte order mark, as text or as UTF-8 bytes read as ISO-8859-1, may come first.
_HTML_START = re.compile(
    r"(?:\ufeff|\xef\xbb\xbf)?\s*(?:<!doctype\s+html\b|<html[\s>])", re.IGNORECASE
)
_HTML_END = re.compile(r"</html\s*>\s*\Z", re.IGNORECASE)


def _looks_like_html(head: str, tail: str) -> bool:
    """Whether published text is an HTML page, from its first 1024 and last 100
    characters: it begins with ``<html`` (or an HTML doctype), or it ends
    with ``</html>`` (a page that starts with a comment, say)."""
    return bool(_HTML_START.match(head) or _HTML_END.search(tail))


def _content_type(data: Any) -> str:
    """The Content-Type of published ``data`` (``str`` or ``bytes``) when the handler set none.

    Text is written as UTF-8 and says so; bytes get no charset, since the
    publisher cannot know theirs. ISO-8859-1 maps bytes one to one, so the
    tags are found in bytes of any encoding that keeps ASCII as it is.
    """
    if isinstance(data, str):
        kind = "text/html" if _looks_like_html(data[:1024], data[-100:]) else "text/plain"
        return kind + "; charset=utf-8"
    head, tail = data[:1024].decode("iso-8859-1"), data[-100:].decode("iso-8859-1")
    return "text/html" if _looks_like_html(head, tail) else "text/plain"


def _output(result: Any) -> Any:
    """What is written for ``result``: ``bytes`` for bytes-like objects, ``str`` for the rest."""
    if isinstance(result, bytes):
        return result
    if isinstance(result, (bytearray, memoryview)):
        return bytes(result)
    return str(result)


# --------------------------------------------------------------------------- the handler


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
