"""Form data parsing for mod_python.util: query strings, URL-encoded and multipart bodies.

This module is pure Python and never imports mod_python.apache, so it can be
tested without Apache. It reads from any object with ``read(n) -> bytes``
(the request object in Apache) in bounded chunks, so memory use does not
grow with the size of an upload: files go to a temporary file (or to the
object ``file_callback`` returns) as they arrive.

Text rule: field names, values and part header values are decoded as UTF-8
(or a part's own ``charset``) with undecodable bytes replaced by U+FFFD, the
same rule :func:`urllib.parse.parse_qsl` applies to percent-escapes, so a
field reads the same whichever way the form was submitted.
"""

from __future__ import annotations

import io
import re
import tempfile
import urllib.parse
from dataclasses import dataclass
from typing import IO, Any, Callable, Dict, List, NamedTuple, Optional, Protocol, Tuple

#: How much is read from the client at a time.
CHUNK_SIZE = 64 * 1024
#: The most bytes the header block of one multipart part may take.
MAX_PART_HEADER_SIZE = 16 * 1024
#: RFC 2046 allows 70; a little slack for clients that exceed it.
MAX_BOUNDARY_LENGTH = 200

URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"


class FormError(ValueError):
    """The request's form data was refused; ``status`` is the HTTP status to answer."""

    status = 400


class MalformedFormError(FormError):
    """The body is not valid form data: malformed, truncated or without its boundary."""

    status = 400


class FormTooLargeError(FormError):
    """The form data is over one of the limits (body size, number of fields, field size)."""

    status = 413


@dataclass(frozen=True)
class Limits:
    """Limits on form data; 0 means no limit."""

    #: The whole request body, files included (bytes).
    max_body_size: int = 0
    #: Fields from the query string and the body together.
    max_fields: int = 1000
    #: One non-file field: a ``name=value`` pair as sent, or a part's body (bytes).
    max_field_size: int = 1024 * 1024


class Reader(Protocol):
    def read(self, n: int = -1) -> bytes: ...


def decode_text(data: bytes, charset: str = "utf-8") -> str:
    """Form bytes to str by the module's rule: undecodable bytes become U+FFFD.

    ``charset`` comes from the client: one Python does not know, or that is
    not a text encoding (``rot13``, ``base64``), means UTF-8.
    """
    try:
        return data.decode(charset, "replace")
    except (LookupError, UnicodeError, ValueError):
        return data.decode("utf-8", "replace")


# --------------------------------------------------------------------------- header values


def _split_params(value: str) -> List[str]:
    """Split at ``;`` outside double quotes; a backslash escapes the next character."""
    parts: List[str] = []
    start = 0
    quoted = escaped = False
    for i, ch in enumerate(value):
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            parts.append(value[start:i])
            start = i + 1
    parts.append(value[start:])
    return parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        # Only \\ and \" are unescaped: old browsers send Windows paths unescaped.
        return value[1:-1].replace("\\\\", "\\").replace('\\"', '"')
    return value


def _decode_extended(value: str) -> str:
    """An RFC 5987 ``charset'language'percent-encoded`` parameter value."""
    charset, sep, rest = value.partition("'")
    _language, sep2, encoded = rest.partition("'")
    if not (sep and sep2):
        encoded, charset = value, "utf-8"
    return decode_text(urllib.parse.unquote_to_bytes(encoded), charset or "utf-8")


def parse_header(value: str) -> Tuple[str, Dict[str, str]]:
    """``'form-data; name="a"'`` -> ``('form-data', {'name': 'a'})``.

    Parameter names are lowercased. An RFC 5987 ``name*`` parameter is kept
    as given and also decoded into ``name``, which it overrides.
    """
    parts = _split_params(value)
    main = parts[0].strip()
    options: Dict[str, str] = {}
    extended: Dict[str, str] = {}
    for part in parts[1:]:
        key, sep, val = part.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            continue
        val = _unquote(val.strip())
        options[key] = val
        if key.endswith("*"):
            extended[key[:-1]] = _decode_extended(val)
    options.update(extended)
    return main, options


# --------------------------------------------------------------------------- fields


class Field:
    """One form input (manual 4.6.3). Made by the parser, not by applications."""

    def __init__(
        self,
        name: str,
        value: Optional[str] = None,
        file: Optional[IO[Any]] = None,
        filename: Optional[str] = None,
        type: Optional[str] = None,
        type_options: Optional[Dict[str, str]] = None,
        disposition: Optional[str] = None,
        disposition_options: Optional[Dict[str, str]] = None,
        headers: Optional[Dict[str, str]] = None,
    ) -> None:
        self.name = name
        self._value = value
        self._file = file
        self.filename = filename
        self.type = type
        self.type_options: Dict[str, str] = type_options or {}
        self.disposition = disposition
        self.disposition_options: Dict[str, str] = disposition_options or {}
        #: The part's headers, names lowercased (empty for URL-encoded fields).
        self.headers: Dict[str, str] = headers or {}

    @property
    def is_file(self) -> bool:
        """True for a file upload (the part had a filename)."""
        return self.filename is not None

    @property
    def file(self) -> Optional[IO[Any]]:
        """The upload's binary file, or for a simple field a :class:`io.StringIO` of its value."""
        if self._file is None and self._value is not None:
            self._file = io.StringIO(self._value)
        return self._file

    @property
    def value(self) -> Any:
        """The value: ``str`` for a simple field, the whole file as ``bytes`` for an upload."""
        if self._value is not None:
            return self._value
        if self._file is None:
            return None
        _rewind(self._file)
        data = self._file.read()
        _rewind(self._file)
        return data

    def __repr__(self) -> str:
        if self.is_file:
            return f"Field({self.name!r}, filename={self.filename!r})"
        return f"Field({self.name!r}, {self._value!r})"


class StringField(str):
    """A simple field's value: a ``str`` that also carries the field's members."""

    name: Optional[str]
    filename: Optional[str]
    type: Optional[str]
    type_options: Dict[str, str]
    disposition: Optional[str]
    disposition_options: Dict[str, str]
    headers: Dict[str, str]

    def __new__(cls, value: str, field: Optional[Field] = None) -> StringField:
        self = super().__new__(cls, value)
        self.name = field.name if field else None
        self.filename = None
        self.type = field.type if field else None
        self.type_options = field.type_options if field else {}
        self.disposition = field.disposition if field else None
        self.disposition_options = field.disposition_options if field else {}
        self.headers = field.headers if field else {}
        return self

    @property
    def value(self) -> str:
        """The value as a plain ``str`` (for code written for the ``cgi`` module)."""
        return str(self)


# --------------------------------------------------------------------------- readers


class LimitedReader:
    """Reads from ``source`` and refuses to go past ``limit`` bytes (0: no limit)."""

    def __init__(self, source: Reader, limit: int) -> None:
        self._source = source
        self._limit = limit
        self.total = 0

    def read(self, n: int = -1) -> bytes:
        data = self._source.read(n)
        self.total += len(data)
        if self._limit and self.total > self._limit:
            raise FormTooLargeError(
                f"the request body is larger than max_body_size ({self._limit} bytes)"
            )
        return data


_PREAMBLE, _BODY, _DELIMITER, _END = range(4)


class MultipartReader:
    """Reads a multipart body (RFC 2046) part by part, in bounded memory.

    ``next_part()`` moves to the next part and returns its headers, or None
    after the closing delimiter; ``read(n)`` then returns the part's body,
    ``b''`` at its end. A part's body can itself be the source of another
    MultipartReader (nested ``multipart/mixed``).
    """

    def __init__(
        self,
        source: Reader,
        boundary: bytes,
        chunk_size: int = CHUNK_SIZE,
        max_header_size: int = MAX_PART_HEADER_SIZE,
    ) -> None:
        if not boundary or len(boundary) > MAX_BOUNDARY_LENGTH or b"\r" in boundary:
            raise MalformedFormError(f"invalid multipart boundary {boundary!r}")
        self._source = source
        self._delimiter = b"\r\n--" + boundary
        # A leading CRLF lets a delimiter at the very start be found like all others.
        self._buf = bytearray(b"\r\n")
        self._eof = False
        self._state = _PREAMBLE
        self._chunk_size = chunk_size
        self._max_header_size = max_header_size

    def _fill(self) -> bool:
        if self._eof:
            return False
        data = self._source.read(self._chunk_size)
        if not data:
            self._eof = True
            return False
        self._buf += data
        return True

    def _truncated(self) -> MalformedFormError:
        if self._state == _PREAMBLE:
            return MalformedFormError(
                "the multipart body does not contain its boundary "
                f"{self._delimiter[4:].decode('latin-1')!r}"
            )
        return MalformedFormError("the multipart body is truncated (no closing boundary)")

    def _need(self, count: int) -> None:
        while len(self._buf) < count:
            if not self._fill():
                raise self._truncated()

    def _scan(self, n: int) -> bytes:
        """Up to ``n`` bytes before the next delimiter; b'' when it is reached."""
        delimiter = self._delimiter
        start = 0
        while True:
            found = self._buf.find(delimiter, start)
            if found == 0:
                del self._buf[: len(delimiter)]
                self._state = _DELIMITER
                return b""
            if found > 0:
                take = min(found, n)
            else:
                # The tail might be the start of a delimiter split across reads.
                take = min(len(self._buf) - len(delimiter) + 1, n)
                if take <= 0:
                    start = max(0, len(self._buf) - len(delimiter) + 1)
                    if not self._fill():
                        raise self._truncated()
                    continue
            data = bytes(self._buf[:take])
            del self._buf[:take]
            return data

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes of the current part's body (all of it if ``n`` < 0)."""
        if self._state != _BODY:
            return b""
        if n >= 0:
            return self._scan(n) if n else b""
        chunks = []
        while True:
            data = self._scan(self._chunk_size)
            if not data:
                return b"".join(chunks)
            chunks.append(data)

    def next_part(self) -> Optional[Dict[str, str]]:
        """Skip to the next part and return its headers (names lowercased), or None at the end."""
        while self._state in (_PREAMBLE, _BODY):
            self._scan(self._chunk_size)
        if self._state == _END:
            return None
        self._need(2)
        if self._buf[:2] == b"--":
            self._state = _END
            self._drain()
            return None
        self._skip_transport_padding()
        headers = self._read_headers()
        self._state = _BODY
        return headers

    def _drain(self) -> None:
        """Read and drop the epilogue, so the whole body is consumed."""
        self._buf.clear()
        while self._fill():
            self._buf.clear()

    def _skip_transport_padding(self) -> None:
        while True:
            stripped = self._buf.lstrip(b" \t")
            del self._buf[: len(self._buf) - len(stripped)]
            if self._buf:
                break
            if not self._fill():
                raise self._truncated()
        if self._buf[:1] == b"\n":
            del self._buf[:1]
            return
        if self._buf[:1] == b"\r":
            self._need(2)
            if self._buf[1:2] == b"\n":
                del self._buf[:2]
                return
        raise MalformedFormError(
            "a multipart boundary is followed by other text (the boundary occurs in the data?)"
        )

    def _read_headers(self) -> Dict[str, str]:
        headers: Dict[str, str] = {}
        size = 0
        last: Optional[str] = None
        while True:
            end = self._buf.find(b"\n")
            while end < 0:
                if len(self._buf) > self._max_header_size - size:
                    raise MalformedFormError(
                        f"a part's headers are longer than {self._max_header_size} bytes"
                    )
                searched = len(self._buf)
                if not self._fill():
                    raise self._truncated()
                end = self._buf.find(b"\n", searched)
            line = bytes(self._buf[: end + 1])
            del self._buf[: end + 1]
            size += len(line)
            if size > self._max_header_size:
                raise MalformedFormError(
                    f"a part's headers are longer than {self._max_header_size} bytes"
                )
            line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
            if not line:
                return headers
            if line[:1] in (b" ", b"\t"):
                if last is None:
                    raise MalformedFormError("a part's header block starts with a continuation")
                headers[last] += " " + decode_text(line.strip())
                continue
            name, colon, value = line.partition(b":")
            name = name.strip()
            if not colon or not name:
                raise MalformedFormError(f"malformed part header line {line[:80]!r}")
            last = name.decode("latin-1").lower()
            headers.setdefault(last, decode_text(value.strip()))


# --------------------------------------------------------------------------- the parser

_HIGH_BYTE = re.compile(rb"[\x80-\xff]")


def _qs_text(data: bytes) -> str:
    """URL-encoded bytes as the str parse_qsl takes: raw non-ASCII bytes become %XX,
    so they are decoded as UTF-8 like escaped ones."""
    if not data.isascii():
        data = _HIGH_BYTE.sub(lambda m: b"%%%02X" % m.group()[0], data)
    return data.decode("ascii")


def _close_quietly(file: Any) -> None:
    try:
        file.close()
    except Exception:  # closing is best effort while another error propagates
        pass


def _rewind(file: Any) -> None:
    try:
        file.seek(0)
    except (AttributeError, OSError, ValueError):
        pass  # not seekable: the application's object, its business


class _PartHead(NamedTuple):
    """What a part's headers say, as a Field records it."""

    headers: Dict[str, str]
    disposition: str
    disp_options: Dict[str, str]
    ctype: str
    type_options: Dict[str, str]

    @classmethod
    def read(cls, headers: Dict[str, str], default_disposition: str) -> _PartHead:
        disposition, disp_options = parse_header(
            headers.get("content-disposition", default_disposition)
        )
        ctype, type_options = parse_header(headers.get("content-type", "text/plain"))
        return cls(headers, disposition, disp_options, ctype, type_options)

    def field(self, name: str, **kw: Any) -> Field:
        return Field(
            name,
            type=self.ctype,
            type_options=self.type_options,
            disposition=self.disposition,
            disposition_options=self.disp_options,
            headers=self.headers,
            **kw,
        )


def _write_all(file: Any, data: bytes) -> None:
    """Write all of ``data``: a raw file (io.FileIO, as in the manual's examples) may
    write only part of it."""
    while True:
        written = file.write(data)
        # None: an object that does not report what it wrote, taken as all.
        if not isinstance(written, int) or written >= len(data):
            return
        if written <= 0:
            raise OSError(f"cannot store the upload: {file!r} accepted no data")
        data = data[written:]


QslFunc = Callable[..., List[Tuple[str, str]]]


class FormParser:
    """Collects the fields of one request in ``fields``.

    On any error while reading a body (bad data, a limit, the client going
    away) every file the parser opened is closed before the exception
    propagates, so temporary files disappear; ``close_files()`` closes them
    at any later time.
    """

    def __init__(
        self,
        limits: Limits = Limits(),  # noqa: B008 - frozen, so sharing the default is safe
        keep_blank_values: bool = False,
        strict_parsing: bool = False,
        file_callback: Optional[Callable[[str], Any]] = None,
        field_callback: Optional[Callable[[], Any]] = None,
        parse_qsl: QslFunc = urllib.parse.parse_qsl,
    ) -> None:
        self.limits = limits
        self.keep_blank_values = bool(keep_blank_values)
        self.strict_parsing = bool(strict_parsing)
        self.file_callback = file_callback
        self.field_callback = field_callback
        self.parse_qsl = parse_qsl
        self.fields: List[Field] = []
        self.opened: List[Any] = []
        self._count = 0

    # -- entry points

    def add_query(self, qs: str) -> None:
        """Add the fields of a query string (``req.args``, bytes mapped to str as ISO-8859-1)."""
        try:
            data = qs.encode("latin-1")
        except UnicodeEncodeError:
            data = qs.encode("utf-8")
        self._add_pairs(data)

    def read_body(
        self, source: Reader, content_type: Optional[str], content_length: Optional[int] = None
    ) -> bool:
        """Read a form body from ``source``; False (nothing read) if it is not a form type."""
        ctype, options = parse_header(content_type or "")
        ctype = ctype.lower()
        if ctype not in (URLENCODED, MULTIPART):
            return False
        limit = self.limits.max_body_size
        if limit and content_length is not None and content_length > limit:
            raise FormTooLargeError(
                f"the request body ({content_length} bytes) is larger than "
                f"max_body_size ({limit} bytes)"
            )
        reader = LimitedReader(source, limit)
        try:
            if ctype == URLENCODED:
                self._read_urlencoded(reader)
            else:
                boundary = options.get("boundary")
                if not boundary:
                    raise MalformedFormError("multipart/form-data without a boundary parameter")
                self._read_multipart(reader, boundary.encode("latin-1", "replace"))
        except BaseException:
            self.close_files()
            raise
        return True

    def close_files(self) -> None:
        """Close every file object the parser opened or got from a callback."""
        while self.opened:
            _close_quietly(self.opened.pop())

    # -- URL-encoded

    def _add_pairs(self, data: bytes) -> None:
        """Add the fields of ``data``, a run of whole ``&``-separated fields."""
        if not data:
            # One empty field (bodies are split at "&"): only strict parsing minds it.
            if self.strict_parsing:
                raise MalformedFormError("malformed URL-encoded data: an empty field")
            return
        limit = self.limits.max_field_size
        if limit:
            for pair in data.split(b"&"):
                if len(pair) > limit:
                    raise FormTooLargeError(
                        f"field {decode_text(pair.split(b'=', 1)[0][:60])!r} is larger than "
                        f"max_field_size ({limit} bytes)"
                    )
        try:
            pairs = self.parse_qsl(_qs_text(data), self.keep_blank_values, self.strict_parsing)
        except ValueError as exc:
            raise MalformedFormError(f"malformed URL-encoded data: {exc}") from None
        for name, value in pairs:
            self._count_field()
            self.fields.append(Field(name, value))

    def _read_urlencoded(self, reader: Reader) -> None:
        # Whole fields are parsed as soon as a chunk completes them; only the
        # unfinished last field is kept (bytearray: appending stays linear).
        pending = bytearray()
        empty = True
        limit = self.limits.max_field_size
        while True:
            chunk = reader.read(CHUNK_SIZE)
            if not chunk:
                break
            empty = False
            cut = chunk.rfind(b"&")
            if cut < 0:
                pending += chunk
            else:
                pending += chunk[:cut]
                self._add_pairs(bytes(pending))
                pending = bytearray(chunk[cut + 1 :])
            if limit and len(pending) > limit:
                self._add_pairs(bytes(pending))  # raises, naming the field
        if not empty:
            self._add_pairs(bytes(pending))

    # -- multipart

    def _count_field(self) -> None:
        self._count += 1
        limit = self.limits.max_fields
        if limit and self._count > limit:
            raise FormTooLargeError(f"the form has more than max_fields ({limit}) fields")

    def _read_multipart(self, reader: Reader, boundary: bytes) -> None:
        parts = MultipartReader(reader, boundary)
        while True:
            headers = parts.next_part()
            if headers is None:
                return
            self._read_part(parts, headers)

    def _read_part(self, parts: MultipartReader, headers: Dict[str, str]) -> None:
        head = _PartHead.read(headers, "")
        if not head.disposition:
            raise MalformedFormError("a part has no Content-Disposition header")
        name = head.disp_options.get("name")
        if name is None:
            raise MalformedFormError("a part's Content-Disposition has no name")
        if head.ctype.lower() == "multipart/mixed":
            self._read_mixed(parts, name, head.type_options)
            return
        self._count_field()
        if "filename" in head.disp_options:
            self._read_file(parts, name, head.disp_options["filename"], head)
        else:
            self._read_value(parts, name, head)

    def _read_mixed(self, parts: MultipartReader, name: str, type_options: Dict[str, str]) -> None:
        """Several files under one name (RFC 1867 section 3.3): each is a file field."""
        boundary = type_options.get("boundary")
        if not boundary:
            raise MalformedFormError(f"multipart/mixed part {name!r} without a boundary parameter")
        inner = MultipartReader(parts, boundary.encode("utf-8"))
        while True:
            headers = inner.next_part()
            if headers is None:
                return
            head = _PartHead.read(headers, "file")
            self._count_field()
            self._read_file(inner, name, head.disp_options.get("filename", ""), head)

    def _read_file(
        self,
        source: Reader,
        name: str,
        filename: str,
        head: _PartHead,
    ) -> None:
        if self.file_callback is not None:
            file = self.file_callback(filename)
            if file is None:
                raise TypeError("file_callback returned None instead of a file object")
        else:
            file = tempfile.TemporaryFile("w+b")
        self.opened.append(file)
        while True:
            chunk = source.read(CHUNK_SIZE)
            if not chunk:
                break
            _write_all(file, chunk)
        _rewind(file)
        self.fields.append(head.field(name, file=file, filename=filename))

    def _read_value(self, source: Reader, name: str, head: _PartHead) -> None:
        sink = None
        if self.field_callback is not None:
            sink = self.field_callback()
            if sink is None:
                raise TypeError("field_callback returned None instead of a file object")
            self.opened.append(sink)
        text_sink = isinstance(sink, io.TextIOBase)
        limit = self.limits.max_field_size
        data = bytearray()
        while True:
            chunk = source.read(CHUNK_SIZE)
            if not chunk:
                break
            data += chunk
            if limit and len(data) > limit:
                raise FormTooLargeError(
                    f"field {name[:60]!r} is larger than max_field_size ({limit} bytes)"
                )
            if sink is not None and not text_sink:
                _write_all(sink, chunk)
        value = decode_text(bytes(data), head.type_options.get("charset") or "utf-8")
        if text_sink:
            sink.write(value)  # type: ignore[union-attr]
        if sink is not None:
            _rewind(sink)
        self.fields.append(head.field(name, value=value, file=sink))
