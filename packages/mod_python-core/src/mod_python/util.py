"""mod_python.util: form data and other utilities for handlers (manual 4.6).

Only importable inside Apache (it uses mod_python.apache). The parsing
itself lives in :mod:`mod_python._multipart`, which needs no Apache.
"""

from __future__ import annotations

import html
import sys
from typing import Any, Callable, Iterator, List, NoReturn, Optional, Tuple, Union

from . import apache
from ._multipart import Field, FormError, FormParser, Limits, StringField

# The C parsers, taken from mod_python.so's built-in module only after
# mod_python.apache imported: outside Apache that import says why it fails.
parse_qs = sys.modules["_apache"].parse_qs
parse_qsl = sys.modules["_apache"].parse_qsl

__all__ = ["Field", "FieldStorage", "StringField", "parse_qs", "parse_qsl", "redirect"]

#: PythonOption names read by FieldStorage start with this.
OPTION_PREFIX = "mod_python.util."

_SIZE_SUFFIXES = {"k": 1024, "m": 1024**2, "g": 1024**3}


def _option_int(options: Any, name: str, default: int, sizes: bool) -> int:
    raw = options.get(OPTION_PREFIX + name)
    if raw is None:
        return default
    text = raw.strip().lower()
    factor = 1
    if sizes and text[-1:] in _SIZE_SUFFIXES:
        factor = _SIZE_SUFFIXES[text[-1]]
        text = text[:-1]
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        expected = "a number of bytes such as 1048576, 512K, 10M or 2G" if sizes else "a number"
        raise ValueError(
            f"PythonOption {OPTION_PREFIX}{name} {raw!r}: expected {expected} (0 for no limit)"
        )
    return value * factor


def _limits(req: Any) -> Limits:
    """The limits the PythonOption directives in effect for ``req`` set."""
    options = req.get_options()
    default = Limits()
    return Limits(
        max_body_size=_option_int(options, "max_body_size", default.max_body_size, True),
        max_fields=_option_int(options, "max_fields", default.max_fields, False),
        max_field_size=_option_int(options, "max_field_size", default.max_field_size, True),
    )


def _content_length(req: Any) -> Optional[int]:
    value = req.headers_in.get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None  # Apache refuses such a request before any handler runs


def _close_files(parser: FormParser) -> None:
    parser.close_files()


def _refuse(req: Any, exc: FormError) -> NoReturn:
    """Log why the form was refused and end the request with the error's status."""
    req.log_error(
        f"mod_python.util.FieldStorage: {req.method} {req.uri}: {exc}", apache.APLOG_WARNING
    )
    # Apache's 400 page shows this note, so the client learns the reason too.
    # Character references keep any field name within what a table can hold.
    note = html.escape(str(exc)).encode("ascii", "xmlcharrefreplace").decode("ascii")
    req.notes["error-notes"] = note
    raise apache.SERVER_RETURN(exc.status)


def _as_item(field: Field) -> Any:
    """What the mapping interface returns for one field (manual 4.6.1)."""
    if field.is_file:
        return field
    return StringField(field.value, field)


class FieldStorage:
    """The form data of a request: query string and form body (manual 4.6.1).

    The whole body is read here, so make one per request (keep it as
    ``req.form``). Raises ``apache.SERVER_RETURN`` with 400 for a malformed
    body and 413 for one over the limits set with PythonOption.
    """

    def __init__(
        self,
        req: Any,
        keep_blank_values: Any = 0,
        strict_parsing: Any = 0,
        file_callback: Optional[Callable[[str], Any]] = None,
        field_callback: Optional[Callable[[], Any]] = None,
    ) -> None:
        #: Every field, in the order received: query string first, then the body.
        self.list: List[Field] = []
        parser = FormParser(
            _limits(req),
            keep_blank_values=bool(keep_blank_values),
            strict_parsing=bool(strict_parsing),
            file_callback=file_callback,
            field_callback=field_callback,
            parse_qsl=parse_qsl,
        )
        try:
            if req.args:
                parser.add_query(req.args)
            parser.read_body(req, req.headers_in.get("content-type"), _content_length(req))
        except FormError as exc:
            _refuse(req, exc)
        if parser.opened:
            # Uploads live as long as the request: then temporary files go away.
            req.register_cleanup(_close_files, parser)
        self.list = parser.fields

    # -- reading

    def _fields(self, name: str) -> List[Field]:
        return [field for field in self.list if field.name == name]

    def __getitem__(self, name: str) -> Any:
        found = self._fields(name)
        if not found:
            raise KeyError(name)
        if len(found) == 1:
            return _as_item(found[0])
        return [_as_item(field) for field in found]

    def get(self, name: str, default: Any = None) -> Any:
        """The value of ``name``, a list if it has several, ``default`` if none."""
        try:
            return self[name]
        except KeyError:
            return default

    def getfirst(self, name: str, default: Any = None) -> Any:
        """The first value of ``name``, or ``default``."""
        for field in self.list:
            if field.name == name:
                return _as_item(field)
        return default

    def getlist(self, name: str) -> List[Any]:
        """All values of ``name`` (an empty list if none)."""
        return [_as_item(field) for field in self._fields(name)]

    def has_key(self, name: str) -> bool:
        """True if the form has a field ``name`` (same as ``name in form``)."""
        return any(field.name == name for field in self.list)

    __contains__ = has_key

    def keys(self) -> List[str]:
        """The distinct field names, in the order they first appear."""
        return list(dict.fromkeys(field.name for field in self.list))

    def values(self) -> List[Any]:
        """``self[name]`` for each name of :meth:`keys`."""
        return [self[name] for name in self.keys()]

    def items(self) -> List[Tuple[str, Any]]:
        """``(name, self[name])`` for each name of :meth:`keys`."""
        return [(name, self[name]) for name in self.keys()]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    # -- changing

    def add_field(self, name: str, value: Any) -> None:
        """Add a value for ``name``, keeping those it has; ``value`` is a str or a Field."""
        if isinstance(value, Field):
            value.name = name
            self.list.append(value)
        elif isinstance(value, str):
            self.list.append(Field(name, str(value)))
        else:
            raise TypeError(f"a form value must be a str or a Field, not {type(value).__name__}")

    def __setitem__(self, name: str, value: Any) -> None:
        """Replace the values of ``name`` by ``value`` (a str, a Field, or a list of them)."""
        values = value if isinstance(value, list) else [value]
        for item in values:
            if not isinstance(item, (str, Field)):
                raise TypeError(f"a form value must be a str or a Field, not {type(item).__name__}")
        self.list[:] = [field for field in self.list if field.name != name]
        for item in values:
            self.add_field(name, item)

    def __delitem__(self, name: str) -> None:
        kept = [field for field in self.list if field.name != name]
        if len(kept) == len(self.list):
            raise KeyError(name)
        self.list[:] = kept

    def clear(self) -> None:
        """Remove every field."""
        del self.list[:]

    def __repr__(self) -> str:
        return f"<FieldStorage {self.list!r}>"


def redirect(
    req: Any, location: str, permanent: Any = 0, text: Optional[Union[str, bytes]] = None
) -> NoReturn:
    """Redirect the client to ``location`` and end the request (manual 4.6.4).

    Sends 301 if ``permanent`` is true, else 302, with ``text`` (default: a
    short HTML note with a link) as the body, then raises
    ``apache.SERVER_RETURN(apache.DONE)``. Raises :exc:`OSError` (the
    manual's ``IOError``) if the response headers have already been sent.
    """
    if req.sent_bodyct:
        raise OSError(
            f"redirect to {location!r} impossible: the response headers have already been sent"
        )
    if "\r" in location or "\n" in location:
        raise ValueError(f"a redirect location cannot contain a line break: {location!r}")
    req.headers_out["Location"] = location
    req.status = apache.HTTP_MOVED_PERMANENTLY if permanent else apache.HTTP_MOVED_TEMPORARILY
    if text is None:
        link = html.escape(location, quote=True)
        text = (
            "<!DOCTYPE html>\n<html><head><title>Moved</title></head><body>\n"
            f'<p>The document has moved <a href="{link}">here</a>.</p>\n</body></html>\n'
        )
    req.content_type = "text/html; charset=utf-8"
    req.write(text)
    raise apache.SERVER_RETURN(apache.DONE)
