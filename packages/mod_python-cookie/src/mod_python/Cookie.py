"""mod_python.Cookie: HTTP state management (manual section 4.7, "Cookie").

Plain (:class:`Cookie`), signed (:class:`SignedCookie`) and marshalled
(:class:`MarshalCookie`) cookies, and the helpers :func:`add_cookie`,
:func:`get_cookies` and :func:`get_cookie`.

The module needs nothing but the standard library. The helpers only use
``req.headers_in`` and ``req.headers_out``, so they work with mod_python's
request object inside Apache and with any object that has those two
attributes outside it (see :func:`add_cookie` for what they may be).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import marshal
import math
import re
from collections.abc import MutableMapping, MutableSequence
from typing import (
    Any,
    Callable,
    ClassVar,
    Dict,
    Generic,
    Iterator,
    List,
    Optional,
    Tuple,
    TypeVar,
    Union,
    overload,
)

from mod_python._cookie_version import __version__

__all__ = [
    "Cookie",
    "CookieError",
    "MarshalCookie",
    "SignedCookie",
    "__version__",
    "add_cookie",
    "get_cookie",
    "get_cookies",
]


class CookieError(ValueError):
    """An invalid cookie name, value or attribute, or a cookie that cannot be sent.

    It derives from :exc:`ValueError` because the manual promises a
    ``ValueError`` for an invalid ``expires``.
    """


# --------------------------------------------------------------------------
# Grammar (RFC 6265 section 4.1.1)

# token (RFC 7230 tchar): what a cookie name may consist of
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# cookie-octet: US-ASCII without CTLs, whitespace, DQUOTE, comma, semicolon, backslash
_OCTETS = r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*"
_COOKIE_OCTETS = re.compile(_OCTETS)
_COOKIE_VALUE = re.compile(rf'{_OCTETS}|"{_OCTETS}"')
# <any CHAR except CTLs or ";">, the generic attribute value
_ATTRIBUTE_VALUE = re.compile(r"[\x20-\x3a\x3c-\x7e]*")
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_PORT_LIST = re.compile(r"[0-9]+(?:,[0-9]+)*")
_INTEGER = re.compile(r"-?[0-9]+")

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# 'Sat, 14-Jun-2003 02:42:36 GMT' (Netscape, the manual's format) or
# 'Sat, 14 Jun 2003 02:42:36 GMT' (RFC 1123, RFC 6265's sane-cookie-date)
_EXPIRES = re.compile(
    r"(?P<wdy>{wdy}), (?P<day>[0-9]{{2}})(?P<sep>[- ])(?P<mon>{mon})(?P=sep)(?P<year>[0-9]{{4}}) "
    r"(?P<h>[0-9]{{2}}):(?P<m>[0-9]{{2}}):(?P<s>[0-9]{{2}}) GMT".format(
        wdy="|".join(_WEEKDAYS), mon="|".join(_MONTHS)
    )
)
# RFC 6265 section 5.1.1: user agents ignore an Expires before 1601, which
# would silently turn the cookie into a session cookie.
_MIN_YEAR = 1601
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

_SAMESITE = {"strict": "Strict", "lax": "Lax", "none": "None"}


def _check_name(name: object) -> str:
    if not isinstance(name, str):
        raise CookieError(f"cookie name must be a str, not {type(name).__name__}")
    if not _TOKEN.fullmatch(name):
        raise CookieError(f"invalid cookie name {name!r}: it must be an RFC 6265 token")
    if name.startswith("$"):
        # RFC 2109/2965 reserve $-names ($Version, $Path, ...) for attributes
        # in Cookie headers, and parse() ignores them, so such a cookie could
        # never be read back.
        raise CookieError(f"invalid cookie name {name!r}: names starting with '$' are reserved")
    return name


def _check_attribute_text(attribute: str, value: object) -> str:
    if not isinstance(value, str):
        raise CookieError(f"cookie attribute {attribute} must be a str, not {type(value).__name__}")
    if not _ATTRIBUTE_VALUE.fullmatch(value):
        raise CookieError(
            f"invalid {attribute} {value!r}: attribute values are printable US-ASCII without ';'"
        )
    return value


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _format_date(when: datetime.datetime) -> str:
    weekday, month = _WEEKDAYS[when.weekday()], _MONTHS[when.month - 1]
    clock = f"{when.hour:02d}:{when.minute:02d}:{when.second:02d}"
    return f"{weekday}, {when.day:02d} {month} {when.year:04d} {clock} GMT"


def _check_expires(value: object) -> str:
    if isinstance(value, bool):
        raise CookieError("expires must be a number of seconds since the epoch or a date string")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise CookieError(f"invalid expires {value!r}")
        try:
            when = _EPOCH + datetime.timedelta(seconds=math.floor(value))
        except (OverflowError, ValueError):
            raise CookieError(f"expires {value!r} is out of range") from None
        if when.year < _MIN_YEAR:
            raise CookieError(f"expires {value!r} is before {_MIN_YEAR}")
        return _format_date(when)
    if isinstance(value, str):
        match = _EXPIRES.fullmatch(value)
        if match is None:
            raise CookieError(
                f"invalid expires {value!r}: use 'Wdy, DD-Mon-YYYY HH:MM:SS GMT', "
                "'Wdy, DD Mon YYYY HH:MM:SS GMT' or seconds since the epoch"
            )
        try:
            datetime.datetime(
                int(match["year"]),
                _MONTHS.index(match["mon"]) + 1,
                int(match["day"]),
                int(match["h"]),
                int(match["m"]),
                int(match["s"]),
            )
        except ValueError as exc:
            raise CookieError(f"invalid expires {value!r}: {exc}") from None
        if int(match["year"]) < _MIN_YEAR:
            raise CookieError(f"expires {value!r} is before {_MIN_YEAR}")
        return value
    raise CookieError(f"expires must be a number or a str, not {type(value).__name__}")


def _check_integer(attribute: str, value: object, minimum: Optional[int] = None) -> int:
    if isinstance(value, bool):
        raise CookieError(f"{attribute} must be an int, not bool")
    if isinstance(value, str):
        if not _INTEGER.fullmatch(value):
            raise CookieError(f"invalid {attribute} {value!r}: not an integer")
        value = int(value)
    if not isinstance(value, int):
        raise CookieError(f"{attribute} must be an int, not {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise CookieError(f"invalid {attribute} {value!r}: must be >= {minimum}")
    return value


def _check_path(value: object) -> str:
    value = _check_attribute_text("path", value)
    if not value.startswith("/"):
        # RFC 6265 section 5.2.4: a user agent replaces such a path by the
        # request's directory, so it would not mean what it says.
        raise CookieError(f"invalid path {value!r}: it must start with '/'")
    return value


def _check_domain(value: object) -> str:
    value = _check_attribute_text("domain", value)
    # RFC 6265 section 5.2.3: user agents ignore a leading dot, and servers
    # should not send one (4.1.2.3); '.example.org' and 'example.org' mean
    # the same, so the dot is dropped.
    host = value[1:] if value.startswith(".") else value
    if not host or len(host) > 253:
        raise CookieError(f"invalid domain {value!r}")
    for label in host.split("."):
        if not _DOMAIN_LABEL.fullmatch(label):
            raise CookieError(
                f"invalid domain {value!r}: labels are letters, digits and inner hyphens "
                "(write internationalised names in their xn-- form)"
            )
    return host


def _check_port(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise CookieError(f"port must be an int or a str, not {type(value).__name__}")
    if not _PORT_LIST.fullmatch(value) or not all(
        0 < int(port) < 65536 for port in value.split(",")
    ):
        raise CookieError(f"invalid port {value!r}: a comma-separated list of port numbers")
    return value


def _check_comment_url(value: object) -> str:
    value = _check_attribute_text("commentURL", value)
    if '"' in value:
        raise CookieError(f"invalid commentURL {value!r}: it is sent quoted, so no '\"' inside")
    return value


def _check_samesite(value: object) -> str:
    if not isinstance(value, str) or value.lower() not in _SAMESITE:
        raise CookieError(f"invalid samesite {value!r}: use 'Strict', 'Lax' or 'None'")
    return _SAMESITE[value.lower()]


def _check_flag(attribute: str) -> Callable[[object], bool]:
    def check(value: object) -> bool:
        if not isinstance(value, int):
            # a str such as "false" would be true: refuse rather than guess
            raise CookieError(f"{attribute} must be a bool, not {type(value).__name__}")
        return bool(value)

    return check


_T = TypeVar("_T")


class _Attribute(Generic[_T]):
    """A validated cookie attribute stored in the cookie's ``_attrs``.

    Unset attributes read as ``None`` (flags as ``False``); assigning
    ``None`` (or ``False`` to a flag) unsets them.
    """

    def __init__(self, check: Callable[[object], _T], flag: bool = False) -> None:
        self.check = check
        self.flag = flag
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, cookie: None, owner: type) -> _Attribute[_T]: ...

    @overload
    def __get__(self, cookie: Cookie, owner: type) -> Optional[_T]: ...

    def __get__(self, cookie: Optional[Cookie], owner: type) -> Any:
        if cookie is None:
            return self
        default = False if self.flag else None
        return cookie._attrs.get(self.name, default)

    def __set__(self, cookie: Cookie, value: object) -> None:
        if value is None:
            cookie._attrs.pop(self.name, None)
            return
        checked = self.check(value)
        if self.flag and not checked:
            cookie._attrs.pop(self.name, None)
        else:
            cookie._attrs[self.name] = checked

    def __delete__(self, cookie: Cookie) -> None:
        cookie._attrs.pop(self.name, None)


# attribute -> name in Set-Cookie, in the order they are rendered
_RENDERED = (
    ("version", "Version"),
    ("comment", "Comment"),
    ("commentURL", "CommentURL"),
    ("domain", "Domain"),
    ("path", "Path"),
    ("port", "Port"),
    ("expires", "Expires"),
    ("max_age", "Max-Age"),
    ("discard", "Discard"),
    ("secure", "Secure"),
    ("httponly", "HttpOnly"),
    ("samesite", "SameSite"),
)
_QUOTED = frozenset({"commentURL", "port"})
_FLAGS = frozenset({"secure", "httponly", "discard"})
# lower-cased attribute name in a Set-Cookie string -> attribute
_PARSED = {wire.lower(): attribute for attribute, wire in _RENDERED}
_ATTRIBUTES = tuple(attribute for attribute, _ in _RENDERED)


class Cookie:
    """One cookie: ``Cookie(name, value, **attributes)``.

    ``str(cookie)`` is the text of a ``Set-Cookie`` header (or, without
    attributes, a ``Cookie`` header). Every name, value and attribute is
    checked when it is set and :exc:`CookieError` names what is wrong.
    """

    __slots__ = ("_name", "_value", "_attrs", "__data__")

    version = _Attribute(lambda value: _check_integer("version", _unquote_str(value), 0))
    path = _Attribute(_check_path)
    domain = _Attribute(_check_domain)
    secure = _Attribute(_check_flag("secure"), flag=True)
    comment = _Attribute(lambda value: _check_attribute_text("comment", value))
    expires = _Attribute(_check_expires)
    max_age = _Attribute(lambda value: _check_integer("max_age", value))
    commentURL = _Attribute(_check_comment_url)  # noqa: N815 (the manual's name)
    discard = _Attribute(_check_flag("discard"), flag=True)
    port = _Attribute(_check_port)
    httponly = _Attribute(_check_flag("httponly"), flag=True)
    samesite = _Attribute(_check_samesite)

    __data__: Dict[Any, Any]

    def __init__(self, name: str, value: Any, **attributes: Any) -> None:
        self._attrs: Dict[str, Any] = {}
        self.__data__ = {}
        self.name = name
        self.value = value
        for attribute, attribute_value in attributes.items():
            if attribute not in _ATTRIBUTES:
                raise CookieError(
                    f"unknown cookie attribute {attribute!r}; known: {', '.join(_ATTRIBUTES)}"
                )
            setattr(self, attribute, attribute_value)

    @property
    def name(self) -> str:
        """The cookie's name, an RFC 6265 token not starting with ``$``."""
        return self._name

    @name.setter
    def name(self, name: str) -> None:
        self._name = _check_name(name)

    @property
    def value(self) -> Any:
        """The cookie's value: RFC 6265 cookie-octets (plain data for a MarshalCookie)."""
        return self._value

    @value.setter
    def value(self, value: Any) -> None:
        self._value = self._check_value(value)

    @classmethod
    def _check_value(cls, value: object) -> Any:
        if not isinstance(value, str):
            raise CookieError(f"cookie value must be a str, not {type(value).__name__}")
        if not _COOKIE_VALUE.fullmatch(value):
            raise CookieError(
                f"invalid cookie value {value!r}: use RFC 6265 cookie-octets (printable "
                "US-ASCII without space, '\"', ',', ';' and '\\'), optionally in double "
                "quotes; encode other text first (e.g. urllib.parse.quote) or use MarshalCookie"
            )
        return value

    def _wire_value(self) -> str:
        wire: str = self._value
        return wire

    def __str__(self) -> str:
        self._check_sendable()
        parts = [f"{self._name}={self._wire_value()}"]
        for attribute, wire in _RENDERED:
            value = self._attrs.get(attribute)
            if value is None:
                continue
            if attribute in _FLAGS:
                parts.append(wire)
            elif attribute in _QUOTED:
                parts.append(f'{wire}="{value}"')
            else:
                parts.append(f"{wire}={value}")
        return "; ".join(parts)

    def _check_sendable(self) -> None:
        # Browsers silently drop such a cookie; fail loudly instead.
        attrs = self._attrs
        if attrs.get("samesite") == "None" and not attrs.get("secure"):
            raise CookieError(f"cookie {self._name!r}: samesite='None' requires secure=True")

    def __repr__(self) -> str:
        args = [repr(self._name), repr(self._value)]
        args.extend(self._repr_extra())
        args.extend(f"{attribute}={value!r}" for attribute, value in self._attrs.items())
        return f"{type(self).__name__}({', '.join(args)})"

    def _repr_extra(self) -> List[str]:
        return []

    @classmethod
    def parse(cls, string: str, *, attributes: bool = True) -> Dict[str, Cookie]:
        """The cookies in *string* (a ``Cookie`` or ``Set-Cookie`` header value).

        Returns a dict of name -> cookie. With *attributes* true (the
        default, as in the manual), a known attribute name (``path``,
        ``expires``, ...) that follows a cookie sets that attribute of the
        cookie; :func:`get_cookies` passes ``attributes=False`` because a
        ``Cookie`` request header carries no attributes, only cookies.
        """
        return _parse(string, attributes, cls)


def _unquote_str(value: object) -> object:
    # RFC 2109 wrote Version="1"
    return _unquote(value) if isinstance(value, str) else value


# --------------------------------------------------------------------------
# Parsing


# A comma never occurs in a valid cookie-value, but one followed by "name="
# separates cookies: Apache joins repeated request headers with ", ", and
# RFC 2109 separated cookies with commas. The dates of Expires are left alone.
_COMMA_SEPARATOR = re.compile(r",[ \t]*(?=[!#$%&'*+\-.^_`|~0-9A-Za-z]+[ \t]*=)")


def _pairs(string: str) -> Iterator[Tuple[str, Optional[str]]]:
    for piece in (p for part in string.split(";") for p in _COMMA_SEPARATOR.split(part)):
        piece = piece.strip(" \t")
        if not piece:
            continue
        name, equals, value = piece.partition("=")
        if equals:
            yield name.rstrip(" \t"), value.lstrip(" \t")
        else:
            yield piece, None


def _set_parsed_attribute(cookie: Cookie, attribute: str, value: Optional[str]) -> None:
    if attribute in _FLAGS:
        # RFC 6265 section 5.2.5/5.2.6: the value of Secure/HttpOnly is ignored
        setattr(cookie, attribute, True)
        return
    if value is None:
        return
    if attribute in _QUOTED:
        value = _unquote(value)
    try:
        setattr(cookie, attribute, value)
    except CookieError:
        # one bad attribute of a received cookie does not lose the cookie
        pass


_SKIPPED = object()


def _parse(string: str, attributes: bool, make: Callable[[str, str], Cookie]) -> Dict[str, Cookie]:
    if not isinstance(string, str):
        raise TypeError(f"cookie header must be a str, not {type(string).__name__}")
    cookies: Dict[str, Cookie] = {}
    # what following attributes belong to: a cookie, _SKIPPED after a pair
    # that was not a cookie, None before the first pair
    current: Union[Cookie, object, None] = None
    for name, value in _pairs(string):
        if attributes and current is not None:
            attribute = _PARSED.get(name.lower())
            if attribute is not None:
                if isinstance(current, Cookie):
                    _set_parsed_attribute(current, attribute, value)
                continue
        if name.startswith("$"):
            # the manual: $-attributes of RFC 2109/2965 ($Version, $Path,
            # $Domain) are ignored; they do not end the current cookie
            continue
        current = _SKIPPED
        if value is None:
            continue
        try:
            cookie = make(name, value)
        except CookieError:
            # a cookie another application set badly does not hide the others
            continue
        current = cookie
        # RFC 6265 section 5.4 sends the cookie with the longest path
        # first: the first of a repeated name is the most specific one.
        cookies.setdefault(name, cookie)
    return cookies


# --------------------------------------------------------------------------
# Signed and marshalled cookies

_SHA256_HEX = 64
_MD5_HEX = 32
_HEX = re.compile(r"[0-9a-f]+")


def _check_secret(secret: object) -> bytes:
    if isinstance(secret, str):
        key = secret.encode("utf-8")
    elif isinstance(secret, (bytes, bytearray)):
        key = bytes(secret)
    else:
        raise CookieError(f"secret must be a str or bytes, not {type(secret).__name__}")
    if not key:
        raise CookieError("secret must not be empty")
    return key


def _equal(signature: str, expected: str) -> bool:
    # constant time; both sides are ASCII hex from validated cookie values
    return hmac.compare_digest(signature.encode("ascii", "replace"), expected.encode("ascii"))


class SignedCookie(Cookie):
    """A cookie whose name and value are signed with HMAC-SHA-256 and *secret*.

    On the wire the value is ``"s256:" + 64 hex digits + ":" + value``; the
    MAC covers the prefix, the name and the value. ``value`` itself is the
    unsigned text and, being embedded, must be cookie-octets without quotes.
    """

    __slots__ = ("_secret",)

    _TAG: ClassVar[str] = "s256:"

    def __init__(self, name: str, value: Any, secret: Union[str, bytes], **attributes: Any) -> None:
        self._secret = _check_secret(secret)
        super().__init__(name, value, **attributes)

    @classmethod
    def _check_value(cls, value: object) -> Any:
        if not isinstance(value, str):
            raise CookieError(f"cookie value must be a str, not {type(value).__name__}")
        if not _COOKIE_OCTETS.fullmatch(value):
            raise CookieError(
                f"invalid signed cookie value {value!r}: use RFC 6265 cookie-octets "
                "(printable US-ASCII without space, '\"', ',', ';' and '\\')"
            )
        return value

    def _payload(self) -> str:
        payload: str = self._value
        return payload

    def _wire_value(self) -> str:
        payload = self._payload()
        return f"{self._TAG}{_mac(self._secret, self._TAG, self._name, payload)}:{payload}"

    def _repr_extra(self) -> List[str]:
        return ["secret=<hidden>"]

    @classmethod
    def _verified_payload(
        cls, key: bytes, name: str, wire: str, legacy_md5: bool
    ) -> Optional[Tuple[str, bool]]:
        """(payload, is_legacy) if *wire* is correctly signed, else None."""
        tag = cls._TAG
        if wire.startswith(tag):
            signature, colon, payload = wire[len(tag) :].partition(":")
            if (
                colon
                and len(signature) == _SHA256_HEX
                and _equal(signature, _mac(key, tag, name, payload))
            ):
                return payload, False
            return None
        # A 3.3 value starts with 32 lowercase hex digits, never with "s256:"
        # or "m256:", so the two formats cannot be mistaken for each other.
        if legacy_md5 and len(wire) >= _MD5_HEX and _HEX.fullmatch(wire[:_MD5_HEX]):
            signature, payload = wire[:_MD5_HEX], wire[_MD5_HEX:]
            expected = hmac.new(key, (name + payload).encode("latin-1"), hashlib.md5).hexdigest()
            if _equal(signature, expected):
                return payload, True
        return None

    @classmethod
    def _from_payload(
        cls, name: str, payload: str, secret: Union[str, bytes], legacy: bool
    ) -> SignedCookie:
        return cls(name, payload, secret)

    @classmethod
    def parse(  # type: ignore[override]
        cls,
        string: str,
        secret: Union[str, bytes],
        *,
        attributes: bool = True,
        legacy_md5: bool = False,
    ) -> Dict[str, Cookie]:
        """Like :meth:`Cookie.parse`, and verify every cookie's signature.

        A correctly signed cookie comes back as an instance of this class
        with its unsigned value; any other (unsigned, tampered, signed with
        another secret or of another kind) as a plain :class:`Cookie` with
        the value exactly as received. With *legacy_md5* true, values
        signed by mod_python 3.3 (HMAC-MD5) are accepted too.
        """
        key = _check_secret(secret)

        def make(name: str, wire: str) -> Cookie:
            plain = Cookie(name, wire)
            verified = cls._verified_payload(key, name, wire, legacy_md5)
            if verified is None:
                return plain
            try:
                return cls._from_payload(name, verified[0], secret, verified[1])
            except CookieError:
                return plain

        return _parse(string, attributes, make)

    def unsign(self, secret: Union[str, bytes], *, legacy_md5: bool = False) -> None:
        """Verify that ``value`` is a signed wire value and replace it by its content.

        For a cookie built from received text, e.g.
        ``SignedCookie(plain.name, plain.value, secret)``. Raises
        :exc:`CookieError` and changes nothing if the signature does not verify.
        """
        key = _check_secret(secret)
        wire = self._value
        # a MarshalCookie's value may be anything plain, not only wire text
        valid = isinstance(wire, str) and _COOKIE_OCTETS.fullmatch(wire)
        verified = self._verified_payload(key, self._name, wire, legacy_md5) if valid else None
        if verified is None:
            raise CookieError(f"cookie {self._name!r} is not correctly signed")
        value = type(self)._from_payload(self._name, verified[0], secret, verified[1])._value
        self._secret = key
        self._value = value


def _mac(key: bytes, tag: str, name: str, payload: str) -> str:
    # A name is a token and cannot contain '=', so tag+name+'='+payload is
    # unambiguous; the tag keeps a SignedCookie from passing as a MarshalCookie.
    message = f"{tag}{name}={payload}".encode("ascii")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


_PLAIN_SCALARS = frozenset({type(None), bool, int, float, complex, str, bytes})
_PLAIN_CONTAINERS = frozenset({tuple, list, set, frozenset, dict})


def _check_plain(value: object) -> None:
    """Refuse anything but plain data (exact types, checked recursively).

    marshal also handles code objects, which a program could later execute,
    and a few other types no cookie needs; only these get in or out.
    """
    stack = [value]
    seen = set()
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in _PLAIN_SCALARS:
            continue
        if kind not in _PLAIN_CONTAINERS:
            raise CookieError(
                f"a MarshalCookie holds only None, bool, int, float, complex, str, bytes and "
                f"tuple, list, set, frozenset, dict of them, not {kind.__name__}"
            )
        if id(item) in seen:
            continue  # marshal can represent self-containing lists
        seen.add(id(item))
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (tuple, list, set, frozenset)):
            stack.extend(item)


# marshal's format may change between Python versions; version 4 is
# written and read by every Python 3 this package supports.
_MARSHAL_VERSION = 4


class MarshalCookie(SignedCookie):
    """A signed cookie whose value is any plain data, serialized with :mod:`marshal`.

    On the wire the value is ``"m256:" + 64 hex digits + ":" + payload``,
    payload being the URL-safe base64 of ``marshal.dumps(value, 4)``.
    """

    __slots__ = ()

    _TAG: ClassVar[str] = "m256:"

    @classmethod
    def _check_value(cls, value: object) -> Any:
        _check_plain(value)
        return value

    def _payload(self) -> str:
        # containers may have changed since they were assigned
        _check_plain(self._value)
        data = marshal.dumps(self._value, _MARSHAL_VERSION)
        return base64.urlsafe_b64encode(data).decode("ascii")

    @classmethod
    def _from_payload(
        cls, name: str, payload: str, secret: Union[str, bytes], legacy: bool
    ) -> SignedCookie:
        # Only reached once the signature has verified: marshal is not meant
        # for untrusted data.
        try:
            if legacy:
                # 3.3 used the standard alphabet
                data = base64.b64decode(payload.encode("ascii"), validate=True)
            else:
                data = base64.b64decode(payload.encode("ascii"), altchars=b"-_", validate=True)
            value = marshal.loads(data)
        except (binascii.Error, ValueError, EOFError, TypeError) as exc:
            raise CookieError(f"cookie {name!r} does not hold marshalled data: {exc}") from None
        return cls(name, value, secret)


# --------------------------------------------------------------------------
# Request helpers


def _header_values(headers: Any, name: str) -> List[str]:
    wanted = name.lower()
    pairs = headers if isinstance(headers, MutableSequence) else headers.items()
    values: List[str] = []
    for key, value in pairs:
        if isinstance(key, str) and key.lower() == wanted:
            if isinstance(value, (list, tuple)):
                values.extend(value)
            else:
                values.append(value)
    return values


def _add_header(headers: Any, name: str, value: str) -> None:
    add = getattr(headers, "add", None)
    if callable(add):
        add(name, value)
        return
    add_header = getattr(headers, "add_header", None)
    if callable(add_header):
        add_header(name, value)
        return
    if isinstance(headers, MutableSequence):
        headers.append((name, value))
        return
    if isinstance(headers, MutableMapping):
        key = next((k for k in headers if isinstance(k, str) and k.lower() == name.lower()), name)
        current = headers.get(key)
        if current is None:
            headers[key] = [value]
        elif isinstance(current, list):
            current.append(value)
        else:
            headers[key] = [current, value]
        return
    raise TypeError(
        f"cannot add a {name} header to {type(headers).__name__}: headers_out needs an "
        "add(name, value) or add_header(name, value) method, or must be a list of "
        "(name, value) pairs or a mutable mapping"
    )


def _set_header(headers: Any, name: str, value: str) -> None:
    if isinstance(headers, MutableSequence):
        lowered = name.lower()
        headers[:] = [
            pair
            for pair in headers
            if not (isinstance(pair[0], str) and pair[0].lower() == lowered)
        ]
        headers.append((name, value))
        return
    for key in [k for k in headers.keys() if isinstance(k, str) and k.lower() == name.lower()]:
        if key in headers:
            del headers[key]
    if isinstance(headers, MutableMapping) and not callable(getattr(headers, "add_header", None)):
        headers[name] = value
    else:
        # email.message.Message's item assignment appends instead of replacing
        _add_header(headers, name, value)


_NO_CACHE_ALL = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\s*(?:,|$)", re.IGNORECASE)
_NO_CACHE_SET_COOKIE = re.compile(r'no-cache\s*=\s*"[^"]*\bset-cookie\b(?!-|2)', re.IGNORECASE)
_NO_CACHE = 'no-cache="set-cookie"'


def _forbid_caching(headers: Any) -> None:
    current = ", ".join(v for v in _header_values(headers, "Cache-Control") if v.strip())
    if not current:
        _set_header(headers, "Cache-Control", _NO_CACHE)
    elif not (_NO_CACHE_ALL.search(current) or _NO_CACHE_SET_COOKIE.search(current)):
        _set_header(headers, "Cache-Control", f"{current}, {_NO_CACHE}")


def _check_prefix(cookie: Cookie) -> None:
    # RFC 6265bis cookie prefixes: browsers silently drop a cookie that
    # lacks what its prefix promises. Checked here rather than in str()
    # because a received cookie has no attributes and must still render.
    lowered = cookie.name.lower()
    if lowered.startswith("__secure-") and not cookie.secure:
        raise CookieError(f"cookie {cookie.name!r}: the __Secure- prefix requires secure=True")
    if lowered.startswith("__host-") and (
        not cookie.secure or cookie.path != "/" or cookie.domain is not None
    ):
        raise CookieError(
            f"cookie {cookie.name!r}: the __Host- prefix requires secure=True, path='/' "
            "and no domain"
        )


def add_cookie(req: Any, cookie: Union[Cookie, str], value: Any = "", **attributes: Any) -> None:
    """Send a cookie: add a ``Set-Cookie`` header to ``req.headers_out``.

    *cookie* is a :class:`Cookie` (of any class), or a name from which
    ``Cookie(cookie, value, **attributes)`` is made. The response also gets
    ``Cache-Control: no-cache="set-cookie"`` unless its ``Cache-Control``
    already keeps caches from storing the cookie.

    ``req.headers_out`` may be an Apache table or anything with an
    ``add(name, value)`` method, anything with an ``add_header(name,
    value)`` method (:class:`wsgiref.headers.Headers`), a list of
    ``(name, value)`` pairs (WSGI's response headers), or a mutable mapping,
    whose ``Set-Cookie`` entry then becomes a list of values.
    """
    if isinstance(cookie, Cookie):
        if value != "" or attributes:
            raise CookieError("add_cookie() takes a value and attributes only with a cookie name")
    elif isinstance(cookie, str):
        cookie = Cookie(cookie, value, **attributes)
    else:
        raise CookieError(f"add_cookie() needs a Cookie or a name, not {type(cookie).__name__}")
    _check_prefix(cookie)
    text = str(cookie)
    headers = req.headers_out
    _add_header(headers, "Set-Cookie", text)
    _forbid_caching(headers)


def get_cookies(req: Any, Class: Any = Cookie, **data: Any) -> Dict[str, Cookie]:  # noqa: N803
    """The cookies of the request's ``Cookie`` header(s), as ``Class.parse()`` returns them.

    *data* goes to ``Class.parse()`` (``secret=...`` for signed cookies).
    ``req.headers_in`` may be an Apache table, a mapping (looked up without
    regard to case; list values allowed) or a list of ``(name, value)``
    pairs. Several ``Cookie`` headers are read as one.
    """
    header = "; ".join(_header_values(req.headers_in, "Cookie"))
    if isinstance(Class, type) and issubclass(Class, Cookie):
        data.setdefault("attributes", False)
    cookies: Dict[str, Cookie] = Class.parse(header, **data)
    return cookies


def get_cookie(
    req: Any,
    name: str,
    Class: Any = Cookie,  # noqa: N803
    **data: Any,
) -> Optional[Cookie]:
    """The cookie called *name* from the request (see :func:`get_cookies`), or ``None``."""
    return get_cookies(req, Class, **data).get(name)
