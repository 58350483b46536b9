"""``__auth__``, ``__access__`` and ``__auth_realm__`` (manual 7.1.2, 3.4): where
they are found (attributes, or definitions nested in a published function,
read from its code object without calling it), Basic credentials, and the
per-request guard that checks them at every traversal step."""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import re
import types
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, List, Optional, Tuple

from mod_python._publisher_base import _ABSENT, DEFAULT_REALM, _Refused

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
