"""mod_python._multipart: the form parser behind mod_python.util.FieldStorage, without Apache."""

from __future__ import annotations

import io
import tempfile
import urllib.parse
from typing import Any, Dict, List, Optional

import pytest

from mod_python import _multipart
from mod_python._multipart import (
    Field,
    FormParser,
    FormTooLargeError,
    Limits,
    MalformedFormError,
    MultipartReader,
    StringField,
    parse_header,
)

BOUNDARY = "----b0undary"
CTYPE = f"multipart/form-data; boundary={BOUNDARY}"


class Reader:
    """The part of the request object the parser uses: at most ``step`` bytes per call."""

    def __init__(self, data: bytes, step: int = 1 << 30, fail_after: Optional[int] = None) -> None:
        self._io = io.BytesIO(data)
        self.step = step
        self.fail_after = fail_after
        self.calls = 0

    def read(self, n: int = -1) -> bytes:
        self.calls += 1
        if self.fail_after is not None and self._io.tell() >= self.fail_after:
            raise OSError("error reading the request body: the client went away or timed out")
        if n < 0:
            n = self.step
        return self._io.read(min(n, self.step))

    def readline(self, n: int = -1) -> bytes:
        self.calls += 1
        return self._io.readline(min(n if n >= 0 else self.step, self.step))

    def tell(self) -> int:
        return self._io.tell()


def part(name: str, body: bytes, filename: Optional[str] = None, **headers: str) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    lines = [f"Content-Disposition: {disposition}"]
    lines += [f"{key.replace('_', '-')}: {value}" for key, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def multipart(*parts: bytes, boundary: str = BOUNDARY) -> bytes:
    delimiter = b"--" + boundary.encode()
    out = b""
    for p in parts:
        out += delimiter + b"\r\n" + p + b"\r\n"
    return out + delimiter + b"--\r\n"


def parse(
    body: bytes,
    content_type: str = CTYPE,
    step: int = 1 << 30,
    content_length: Optional[int] = None,
    **kw: Any,
) -> FormParser:
    parser = FormParser(**kw)
    assert parser.read_body(Reader(body, step), content_type, content_length) is True
    return parser


def by_name(parser: FormParser) -> Dict[str, List[Field]]:
    out: Dict[str, List[Field]] = {}
    for field in parser.fields:
        out.setdefault(field.name, []).append(field)
    return out


ALL_BYTES = bytes(range(256)) * 3 + b"\r\n--" + BOUNDARY.encode()[:-1] + b"\r\n\r\r\n-\r\n--"


# --------------------------------------------------------------------------- multipart


def test_fields_and_file() -> None:
    body = multipart(
        part("title", "Grüße".encode()),
        part("upload", b"\x00\x01data", filename="a b.bin", Content_Type="image/png; x=1"),
    )
    fields = by_name(parse(body))
    title = fields["title"][0]
    assert title.value == "Grüße"
    assert title.filename is None and not title.is_file
    assert title.type == "text/plain"
    assert title.disposition == "form-data"
    assert title.disposition_options == {"name": "title"}
    assert title.file is not None and title.file.read() == "Grüße"
    upload = fields["upload"][0]
    assert upload.is_file
    assert upload.filename == "a b.bin"
    assert upload.type == "image/png"
    assert upload.type_options == {"x": "1"}
    assert upload.disposition_options == {"name": "upload", "filename": "a b.bin"}
    assert upload.headers["content-type"] == "image/png; x=1"
    assert upload.file is not None and upload.file.read() == b"\x00\x01data"
    assert upload.value == b"\x00\x01data"
    assert upload.file.tell() == 0, "value leaves the file rewound"


@pytest.mark.parametrize("step", [1, 2, 3, 5, 7, 13, 64, 4096])
def test_binary_round_trip_whatever_the_read_size(step: int) -> None:
    body = multipart(
        part("f", ALL_BYTES, filename="bin"),
        part("v", b"x\r\ny"),
        part("g", ALL_BYTES[::-1], filename="bin2"),
    )
    fields = by_name(parse(body, step=step))
    assert fields["f"][0].value == ALL_BYTES
    assert fields["g"][0].value == ALL_BYTES[::-1]
    assert fields["v"][0].value == "x\r\ny"


def test_boundary_split_at_every_position() -> None:
    body = multipart(part("a", b"1" * 50), part("b", b"2" * 50, filename="f"))
    for size in range(1, 80):
        reader = MultipartReader(Reader(body), BOUNDARY.encode(), chunk_size=size)
        seen = []
        while True:
            headers = reader.next_part()
            if headers is None:
                break
            seen.append((headers["content-disposition"], reader.read()))
        assert [data for _, data in seen] == [b"1" * 50, b"2" * 50], size


def test_large_file_is_streamed_to_a_file() -> None:
    data = bytes(range(256)) * 4096 * 3  # 3 MiB
    parser = parse(multipart(part("big", data, filename="big")))
    (field,) = parser.fields
    assert isinstance(field.file, io.BufferedRandom)  # a TemporaryFile, not memory
    assert field.file.read() == data


def test_preamble_epilogue_padding_and_bare_lf_headers() -> None:
    body = (
        b"This is the preamble.\r\nIt is ignored.\r\n"
        + f"--{BOUNDARY} \t\r\n".encode()
        + b'Content-Disposition: form-data; name="a"\n\nvalue\r\n'
        + f"--{BOUNDARY}\n".encode()
        + b'content-disposition: form-data;\r\n name="b"\r\n\r\nother\r\n'
        + f"--{BOUNDARY}--".encode()
        + b"\r\nThis is the epilogue.\r\n--"
        + BOUNDARY.encode()
        + b"\r\nnot a part\r\n"
    )
    fields = by_name(parse(body))
    assert fields["a"][0].value == "value"
    assert fields["b"][0].value == "other"
    assert len(fields) == 2


def test_empty_value_and_empty_file() -> None:
    body = multipart(part("empty", b""), part("nofile", b"", filename=""))
    fields = by_name(parse(body))
    assert fields["empty"][0].value == ""
    assert fields["nofile"][0].is_file and fields["nofile"][0].filename == ""
    assert fields["nofile"][0].value == b""


def test_data_that_looks_almost_like_a_boundary() -> None:
    b = BOUNDARY.encode()
    tricky = b"\r\n--" + b[:-1] + b"\r\n--" + b[:-1] + b"X\r\n-" + b + b"\r\n\r"
    body = multipart(part("f", tricky, filename="t"), part("g", b"--" + BOUNDARY.encode()))
    fields = by_name(parse(body, step=3))
    assert fields["f"][0].value == tricky
    assert fields["g"][0].value == "--" + BOUNDARY, "a boundary not after CRLF is data"


def test_nested_multipart_mixed() -> None:
    inner = multipart(
        b'Content-Disposition: file; filename="one.txt"\r\nContent-Type: text/plain\r\n\r\n'
        b"first file",
        b'Content-Disposition: file; filename="two.gif"\r\nContent-Type: image/gif\r\n\r\n'
        + ALL_BYTES,
        boundary="inner-BB",
    )
    body = multipart(
        part("title", b"t"),
        part("files", inner, Content_Type="multipart/mixed; boundary=inner-BB"),
        part("after", b"a"),
    )
    for step in (1, 9, 65536):
        fields = by_name(parse(body, step=step))
        one, two = fields["files"]
        assert (one.filename, one.type, one.value) == ("one.txt", "text/plain", b"first file")
        assert (two.filename, two.type, two.value) == ("two.gif", "image/gif", ALL_BYTES)
        assert one.disposition == "file"
        assert fields["title"][0].value == "t" and fields["after"][0].value == "a"


def test_repeated_names_keep_order() -> None:
    body = multipart(part("x", b"1"), part("y", b"2"), part("x", b"3"))
    assert [(f.name, f.value) for f in parse(body).fields] == [("x", "1"), ("y", "2"), ("x", "3")]


# --------------------------------------------------------------------------- text


def test_undecodable_bytes_become_replacement_characters() -> None:
    body = multipart(part("n\xe4me", b"ok \xff\xfe end"))
    (field,) = parse(body).fields
    assert field.name == "n\xe4me"
    assert field.value == "ok \ufffd\ufffd end"


def test_part_charset_is_honoured() -> None:
    body = multipart(
        part("v", "café".encode("latin-1"), Content_Type="text/plain; charset=latin-1")
    )
    assert parse(body).fields[0].value == "café"
    body = multipart(part("v", b"caf\xe9", Content_Type="text/plain; charset=no-such-codec"))
    assert parse(body).fields[0].value == "caf\ufffd"


def test_utf8_and_rfc5987_filenames() -> None:
    raw = (
        b'Content-Disposition: form-data; name="f"; filename="fallback.txt"; '
        b"filename*=UTF-8''%E2%82%AC%20rates.txt\r\n\r\nx"
    )
    body = multipart(part("g", b"y", filename="Grüße.txt"), raw)
    fields = by_name(parse(body))
    assert fields["g"][0].filename == "Grüße.txt"
    assert fields["f"][0].filename == "€ rates.txt"
    assert fields["f"][0].disposition_options["filename*"] == "UTF-8''%E2%82%AC%20rates.txt"


def test_parse_header() -> None:
    assert parse_header('form-data; name="a;b"; filename="q\\"uote"') == (
        "form-data",
        {"name": "a;b", "filename": 'q"uote'},
    )
    assert parse_header('form-data; NAME=plain; filename="C:\\dir\\f.txt"') == (
        "form-data",
        {"name": "plain", "filename": "C:\\dir\\f.txt"},
    )
    assert parse_header("text/plain") == ("text/plain", {})
    assert parse_header("") == ("", {})


# --------------------------------------------------------------------------- bad bodies


def test_missing_boundary_parameter() -> None:
    with pytest.raises(MalformedFormError, match="without a boundary") as info:
        parse(b"--x\r\n", content_type="multipart/form-data")
    assert info.value.status == 400


def test_body_without_the_boundary() -> None:
    body = multipart(part("a", b"1"), boundary="other")
    with pytest.raises(MalformedFormError, match="does not contain its boundary"):
        parse(body)
    with pytest.raises(MalformedFormError, match="does not contain its boundary"):
        parse(b"")


def test_every_truncation_is_refused() -> None:
    body = multipart(part("a", b"value"), part("f", b"file\r\ndata", filename="f"))
    complete = len(body) - 2  # the CRLF after the closing delimiter is optional
    for cut in range(complete):
        with pytest.raises(MalformedFormError):
            parse(body[:cut], step=7)
    parse(body[:complete])


def test_truncated_nested_body_is_refused() -> None:
    inner = b'--BB\r\nContent-Disposition: file; filename="a"\r\n\r\nabc'
    body = multipart(part("files", inner, Content_Type="multipart/mixed; boundary=BB"))
    with pytest.raises(MalformedFormError, match="truncated"):
        parse(body)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"Content-Type: text/plain\r\n\r\nx", "no Content-Disposition"),
        (b"Content-Disposition: form-data\r\n\r\nx", "has no name"),
        (b"Content-Disposition form-data\r\n\r\nx", "malformed part header"),
        (b" folded: first\r\n\r\nx", "starts with a continuation"),
        (b"X-Long: " + b"a" * 20000 + b"\r\n\r\nx", "headers are longer"),
        (b"X: 1\r\n" * 3000 + b"\r\nx", "headers are longer"),
    ],
)
def test_malformed_parts(raw: bytes, message: str) -> None:
    with pytest.raises(MalformedFormError, match=message):
        parse(multipart(raw), step=100)


def test_boundary_followed_by_text() -> None:
    body = f"--{BOUNDARY}garbage\r\n".encode() + part("a", b"1") + f"\r\n--{BOUNDARY}--".encode()
    with pytest.raises(MalformedFormError, match="followed by other text"):
        parse(body)


def test_invalid_boundaries() -> None:
    with pytest.raises(MalformedFormError, match="invalid multipart boundary"):
        parse(b"", content_type="multipart/form-data; boundary=" + "x" * 201)
    with pytest.raises(MalformedFormError, match="invalid multipart boundary"):
        MultipartReader(Reader(b""), b"a\rb")


# --------------------------------------------------------------------------- limits


def test_max_body_size_from_content_length_reads_nothing() -> None:
    reader = Reader(multipart(part("a", b"1")))
    parser = FormParser(Limits(max_body_size=10))
    with pytest.raises(FormTooLargeError, match="max_body_size") as info:
        parser.read_body(reader, CTYPE, content_length=100)
    assert info.value.status == 413
    assert reader.calls == 0


@pytest.mark.parametrize("ctype", [CTYPE, "application/x-www-form-urlencoded"])
def test_max_body_size_while_streaming(ctype: str) -> None:
    body = multipart(part("f", b"x" * 5000, filename="f"))
    if ctype.startswith("application"):
        body = b"a=" + b"x" * 5000
    with pytest.raises(FormTooLargeError, match=r"max_body_size \(4096 bytes\)"):
        parse(body, content_type=ctype, step=1000, limits=Limits(max_body_size=4096))
    parse(body, content_type=ctype, limits=Limits(max_body_size=len(body)))


def test_max_fields_counts_query_and_body() -> None:
    body = multipart(part("a", b"1"), part("b", b"2"))
    parser = FormParser(Limits(max_fields=3))
    parser.add_query("q=1")
    parser.read_body(Reader(body), CTYPE)
    assert len(parser.fields) == 3
    parser = FormParser(Limits(max_fields=2))
    parser.add_query("q=1")
    with pytest.raises(FormTooLargeError, match=r"more than max_fields \(2\)"):
        parser.read_body(Reader(body), CTYPE)
    with pytest.raises(FormTooLargeError, match="max_fields"):
        FormParser(Limits(max_fields=2)).add_query("a=1&b=2&c=3")
    with pytest.raises(FormTooLargeError, match="max_fields"):
        parse(b"&".join(b"k=%d" % i for i in range(11)), "application/x-www-form-urlencoded",
              limits=Limits(max_fields=10))  # fmt: skip


def test_max_field_size_applies_to_values_not_files() -> None:
    limits = Limits(max_field_size=100)
    parse(multipart(part("f", b"x" * 10000, filename="f"), part("v", b"y" * 100)), limits=limits)
    with pytest.raises(FormTooLargeError, match=r"field 'v' is larger than max_field_size"):
        parse(multipart(part("v", b"y" * 101)), limits=limits, step=10)
    urlencoded = "application/x-www-form-urlencoded"
    parse(b"a=" + b"x" * 98 + b"&b=1", urlencoded, limits=limits, step=7)
    with pytest.raises(FormTooLargeError, match="field 'a' is larger"):
        parse(b"a=" + b"x" * 99 + b"&b=1", urlencoded, limits=limits, step=7)
    with pytest.raises(FormTooLargeError, match="field 'long' is larger"):
        parse(b"b=1&long=" + b"x" * 500, urlencoded, limits=limits, step=7)
    with pytest.raises(FormTooLargeError, match="max_field_size"):
        FormParser(limits).add_query("a=" + "x" * 200)


def test_zero_means_no_limit() -> None:
    limits = Limits(max_body_size=0, max_fields=0, max_field_size=0)
    body = multipart(*(part(f"k{i}", b"v" * 3000) for i in range(1500)))
    assert len(parse(body, limits=limits).fields) == 1500


def test_default_limits() -> None:
    assert Limits() == Limits(max_body_size=0, max_fields=1000, max_field_size=1024 * 1024)


# --------------------------------------------------------------------------- cleanup on error


@pytest.fixture
def temp_files(monkeypatch: pytest.MonkeyPatch) -> List[Any]:
    made: List[Any] = []
    real = tempfile.TemporaryFile

    def recording(*args: Any, **kw: Any) -> Any:
        file = real(*args, **kw)
        made.append(file)
        return file

    monkeypatch.setattr(_multipart.tempfile, "TemporaryFile", recording)
    return made


def test_temp_files_closed_when_the_body_is_malformed(temp_files: List[Any]) -> None:
    body = multipart(part("f", b"1" * 1000, filename="a"), part("g", b"2" * 1000, filename="b"))
    with pytest.raises(MalformedFormError):
        parse(body[:-200], step=100)
    assert len(temp_files) == 2
    assert all(f.closed for f in temp_files)


def test_temp_files_closed_when_a_limit_is_hit(temp_files: List[Any]) -> None:
    body = multipart(part("f", b"1" * 1000, filename="a"), part("v", b"2" * 1000))
    with pytest.raises(FormTooLargeError):
        parse(body, limits=Limits(max_field_size=10))
    assert len(temp_files) == 1 and temp_files[0].closed


def test_temp_files_closed_when_the_client_goes_away(temp_files: List[Any]) -> None:
    body = multipart(part("f", b"1" * 100000, filename="a"))
    parser = FormParser()
    with pytest.raises(OSError, match="client went away"):
        parser.read_body(Reader(body, step=1000, fail_after=50000), CTYPE)
    assert len(temp_files) == 1 and temp_files[0].closed
    assert parser.opened == []


def test_callback_files_closed_on_error() -> None:
    made: List[io.BytesIO] = []

    def make(*args: Any) -> io.BytesIO:
        made.append(io.BytesIO())
        return made[-1]

    body = multipart(part("v", b"value"), part("f", b"data", filename="a"))
    with pytest.raises(MalformedFormError):
        parse(body[:-20], file_callback=make, field_callback=make)
    assert len(made) == 2 and all(f.closed for f in made)


def test_close_files_closes_uploads() -> None:
    parser = parse(multipart(part("f", b"data", filename="a")))
    file = parser.fields[0].file
    assert file is not None and not file.closed
    parser.close_files()
    assert file.closed


# --------------------------------------------------------------------------- callbacks


def test_file_callback_gets_the_filename_and_the_data() -> None:
    names: List[str] = []

    def make(filename: str) -> io.BytesIO:
        names.append(filename)
        return io.BytesIO()

    body = multipart(part("f", ALL_BYTES, filename="x.bin"), part("v", b"plain"))
    fields = by_name(parse(body, file_callback=make))
    assert names == ["x.bin"]
    upload = fields["f"][0]
    assert isinstance(upload.file, io.BytesIO) and upload.file.tell() == 0
    assert upload.value == ALL_BYTES
    assert isinstance(fields["v"][0].file, io.StringIO)


def test_field_callback_binary_and_text_objects() -> None:
    body = multipart(part("v", "Grüße".encode()), part("f", b"file", filename="f"))
    fields = by_name(parse(body, field_callback=io.BytesIO))
    v = fields["v"][0]
    assert isinstance(v.file, io.BytesIO) and v.file.read() == "Grüße".encode()
    assert v.value == "Grüße"
    assert fields["f"][0].file is not None and fields["f"][0].file.read() == b"file"
    fields = by_name(parse(body, field_callback=io.StringIO))
    assert fields["v"][0].file is not None and fields["v"][0].file.read() == "Grüße"


def test_callbacks_returning_none() -> None:
    body = multipart(part("f", b"x", filename="f"))
    with pytest.raises(TypeError, match="file_callback returned None"):
        parse(body, file_callback=lambda name: None)
    with pytest.raises(TypeError, match="field_callback returned None"):
        parse(multipart(part("v", b"x")), field_callback=lambda: None)


# --------------------------------------------------------------------------- URL-encoded


URLENCODED = "application/x-www-form-urlencoded"


def pairs(parser: FormParser) -> List[tuple]:
    return [(f.name, f.value) for f in parser.fields]


@pytest.mark.parametrize("step", [1, 3, 65536])
def test_urlencoded_body(step: int) -> None:
    body = b"a=1&b=two+words&a=%C3%A9&empty=&c=x%26y%3Dz"
    assert pairs(parse(body, URLENCODED, step=step)) == [
        ("a", "1"),
        ("b", "two words"),
        ("a", "é"),
        ("c", "x&y=z"),
    ]
    assert ("empty", "") in pairs(parse(body, URLENCODED, step=step, keep_blank_values=True))


def test_urlencoded_fields_have_no_part_metadata() -> None:
    (field,) = parse(b"a=1", URLENCODED).fields
    assert field.filename is None and field.type is None and field.disposition is None
    assert field.type_options == {} and field.disposition_options == {}
    assert field.file is not None and field.file.read() == "1"


def test_urlencoded_text_rule() -> None:
    body = "raw=é&esc=%E9&bad=%FF%FE".encode()
    assert pairs(parse(body, URLENCODED)) == [
        ("raw", "é"),
        ("esc", "\ufffd"),
        ("bad", "\ufffd\ufffd"),
    ]


def test_query_string_bytes_mapped_as_latin1() -> None:
    parser = FormParser()
    parser.add_query("é".encode().decode("latin-1") + "=1&b=%E2%82%AC&c=%FF")
    assert pairs(parser) == [("é", "1"), ("b", "€"), ("c", "\ufffd")]


def test_strict_parsing() -> None:
    parse(b"a=1&bad", URLENCODED)
    with pytest.raises(MalformedFormError, match="malformed URL-encoded data"):
        parse(b"a=1&bad", URLENCODED, strict_parsing=True)


def test_parse_qsl_is_pluggable() -> None:
    calls: List[tuple] = []

    def fake(qs: str, keep: bool, strict: bool) -> List[tuple]:
        calls.append((qs, keep, strict))
        return urllib.parse.parse_qsl(qs, keep, strict)

    parse(b"a=1&b=\xc3\xa9", URLENCODED, parse_qsl=fake, keep_blank_values=True)
    assert "&".join(qs for qs, _, _ in calls) == "a=1&b=%C3%A9"
    assert {(keep, strict) for _, keep, strict in calls} == {(True, False)}


def test_other_content_types_are_left_unread() -> None:
    for ctype in ("application/json", "text/plain", "multipart/mixed; boundary=x", None):
        reader = Reader(b'{"a": 1}')
        assert FormParser().read_body(reader, ctype) is False
        assert reader.calls == 0


def test_content_type_is_case_insensitive() -> None:
    parse(multipart(part("a", b"1")), f"Multipart/Form-Data; Boundary={BOUNDARY}")
    parse(b"a=1", "Application/X-WWW-Form-URLEncoded; charset=utf-8")


# --------------------------------------------------------------------------- Field, StringField


def test_string_field() -> None:
    field = Field("n", "v", type="text/plain", disposition="form-data",
                  disposition_options={"name": "n"})  # fmt: skip
    s = StringField("v", field)
    assert isinstance(s, str) and s == "v" and s.value == "v" and type(s.value) is str
    assert (s.name, s.filename, s.type, s.disposition) == ("n", None, "text/plain", "form-data")
    assert s.disposition_options == {"name": "n"}
    bare = StringField("x")
    assert bare.name is None and bare.type_options == {} and bare + "y" == "xy"


def test_field_repr() -> None:
    assert repr(Field("a", "1")) == "Field('a', '1')"
    assert repr(Field("f", file=io.BytesIO(), filename="x")) == "Field('f', filename='x')"


@pytest.mark.parametrize("step", [1, 2, 4, 65536])
def test_strict_parsing_does_not_depend_on_read_sizes(step: int) -> None:
    for body in (b"a=1&&b=2", b"a=1&", b"&a=1", b"&"):
        with pytest.raises(MalformedFormError):
            parse(body, URLENCODED, step=step, strict_parsing=True)
        assert pairs(parse(body, URLENCODED, step=step)) == pairs(
            parse(body, URLENCODED, step=65536)
        )
    assert pairs(parse(b"", URLENCODED, strict_parsing=True)) == []
    assert pairs(parse(b"a=1&b=2", URLENCODED, step=step, strict_parsing=True)) == [
        ("a", "1"),
        ("b", "2"),
    ]


def test_partial_writes_of_raw_files_are_completed() -> None:
    class Trickle(io.BytesIO):
        def write(self, data: Any) -> int:
            return super().write(bytes(data[:3]))

    body = multipart(part("f", ALL_BYTES, filename="f"))
    (field,) = parse(body, file_callback=lambda name: Trickle()).fields
    assert field.value == ALL_BYTES


@pytest.mark.parametrize("charset", ["rot13", "base64", "zlib", "idna", "no-such", ""])
def test_charsets_that_cannot_decode_text_fall_back_to_utf8(charset: str) -> None:
    body = multipart(
        part("v", "é\xff".encode() + b"\xff", Content_Type=f"text/plain; charset={charset}"),
        b'Content-Disposition: form-data; name="f"; filename*='
        + charset.encode()
        + b"''%C3%A9.txt\r\n\r\nx",
    )
    fields = by_name(parse(body))
    assert fields["v"][0].value == "é\xff\ufffd"
    assert fields["f"][0].filename == "é.txt"


def test_a_file_that_accepts_nothing_is_an_error() -> None:
    class Full(io.BytesIO):
        def write(self, data: Any) -> int:
            return 0

    with pytest.raises(OSError, match="accepted no data"):
        parse(multipart(part("f", b"data", filename="f")), file_callback=lambda name: Full())
