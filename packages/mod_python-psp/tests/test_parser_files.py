"""mod_python._psp with files: parse(), the include directive and every error.

Errors must be clear: ParseError (a SyntaxError and a ValueError) with the
file and line for a malformed page, OSError with the file name for one that
cannot be read.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from pspfake import run_code

from mod_python import _psp


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------- parse()


def test_parse_a_file(tmp_path):
    page = write(tmp_path / "page.psp", "a <%= 1 + 1 %> b\n")
    assert run_code(_psp.parse(str(page))) == "a 2 b\n"


def test_parse_with_dir_is_plain_concatenation(tmp_path):
    write(tmp_path / "page.psp", "x")
    assert _psp.parse("page.psp", str(tmp_path) + "/") == 'req.write("""x""", 0)\n'
    # no separator is added (manual 4.9): "dir" + "page.psp"
    write(tmp_path / "dirpage.psp", "y")
    assert _psp.parse("page.psp", str(tmp_path / "dir")) == 'req.write("""y""", 0)\n'


def test_parse_accepts_path_like_and_bytes(tmp_path):
    page = write(tmp_path / "page.psp", "z")
    assert _psp.parse(page) == _psp.parse(os.fsencode(page)) == 'req.write("""z""", 0)\n'


def test_parse_details_tell_the_files_read(tmp_path):
    write(tmp_path / "inc.psp", "included\n")
    page = write(tmp_path / "page.psp", '<%@ include file="inc.psp" %>\nafter\n')
    code, sources, lines = _psp.parse(str(page), details=True)
    assert [s[0] for s in sources] == [str(page), str(tmp_path / "inc.psp")]
    for path, mtime_ns, size in sources:
        st = os.stat(path)
        assert (mtime_ns, size) == (st.st_mtime_ns, st.st_size)
    assert len(lines) == len(code.splitlines())
    assert lines[0] == (1, 1)  # the first line of code comes from inc.psp


def test_byte_order_mark_is_dropped(tmp_path):
    page = tmp_path / "bom.psp"
    page.write_bytes(b"\xef\xbb\xbfhello")
    assert run_code(_psp.parse(str(page))) == "hello"


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        _psp.parse(str(tmp_path / "nope.psp"))
    assert info.value.filename == str(tmp_path / "nope.psp")
    assert info.value.errno == errno.ENOENT


def test_directory_is_refused(tmp_path):
    with pytest.raises(IsADirectoryError):
        _psp.parse(str(tmp_path))


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo.psp"
    os.mkfifo(fifo)
    with pytest.raises(OSError) as info:
        _psp.parse(str(fifo))
    assert info.value.errno == errno.EINVAL


# ---------------------------------------------------------------- include


def test_include_relative_to_the_pages_directory(tmp_path):
    write(tmp_path / "site" / "header.inc", "<h1><%= title %></h1>\n")
    page = write(tmp_path / "site" / "page.psp", '<%@ include file="header.inc" %>body\n')
    assert run_code(_psp.parse(str(page)), title="T") == "<h1>T</h1>\nbody\n"


def test_include_absolute_path(tmp_path):
    inc = write(tmp_path / "abs.inc", "abs")
    assert run_code(_psp.parsestring(f'<%@ include file="{inc}" %>')) == "abs"


def test_include_with_single_quotes_and_spaces(tmp_path):
    write(tmp_path / "a.inc", "A")
    page = "<%@   include   file = 'a.inc'   %>"
    assert run_code(_psp.parsestring(page, str(tmp_path))) == "A"


def test_nested_includes_resolve_against_dir_when_given(tmp_path):
    # 3.3: with dir, every relative include is relative to dir
    write(tmp_path / "sub" / "one.inc", '1<%@ include file="two.inc" %>')
    write(tmp_path / "two.inc", "2")
    write(tmp_path / "page.psp", '<%@ include file="sub/one.inc" %>')
    assert run_code(_psp.parse("page.psp", str(tmp_path) + "/")) == "12"


def test_nested_includes_resolve_against_their_file_without_dir(tmp_path):
    write(tmp_path / "sub" / "one.inc", '1<%@ include file="two.inc" %>')
    write(tmp_path / "sub" / "two.inc", "2")
    page = write(tmp_path / "page.psp", '<%@ include file="sub/one.inc" %>')
    assert run_code(_psp.parse(str(page))) == "12"


def test_included_code_takes_the_indentation_of_the_directive(tmp_path):
    write(tmp_path / "item.inc", "<li><%= i %></li><% total += i %>")
    page = (
        '<% total = 0 %><% for i in range(3): %><%@ include file="item.inc" %><% # end %>'
        "=<%= total %>"
    )
    assert run_code(_psp.parsestring(page, str(tmp_path))) == "<li>0</li><li>1</li><li>2</li>=3"


def test_same_file_included_twice(tmp_path):
    write(tmp_path / "x.inc", "x")
    page = '<%@ include file="x.inc" %><%@ include file="x.inc" %>'
    assert run_code(_psp.parsestring(page, str(tmp_path))) == "xx"


def test_missing_include_names_the_includer_and_line(tmp_path):
    page = write(tmp_path / "page.psp", 'one\ntwo\n<%@ include file="gone.inc" %>\n')
    with pytest.raises(FileNotFoundError) as info:
        _psp.parse(str(page))
    assert info.value.filename == str(tmp_path / "gone.inc")
    assert f"included from {page}, line 3" in str(info.value)


def test_include_loop_is_detected(tmp_path):
    write(tmp_path / "a.inc", 'a<%@ include file="b.inc" %>')
    write(tmp_path / "b.inc", 'b\n<%@ include file="a.inc" %>')
    page = write(tmp_path / "page.psp", '<%@ include file="a.inc" %>')
    with pytest.raises(_psp.ParseError) as info:
        _psp.parse(str(page))
    message = str(info.value)
    assert "include loop" in message
    assert "a.inc -> " in message and "b.inc -> " in message
    assert info.value.filename == str(tmp_path / "b.inc")
    assert info.value.lineno == 2


def test_page_including_itself(tmp_path):
    page = write(tmp_path / "self.psp", '<%@ include file="self.psp" %>')
    with pytest.raises(_psp.ParseError, match="include loop"):
        _psp.parse(str(page))


def test_relative_include_in_a_string_needs_dir():
    with pytest.raises(_psp.ParseError, match="relative path") as info:
        _psp.parsestring('\n<%@ include file="x.inc" %>')
    assert info.value.filename == "<string>"
    assert info.value.lineno == 2


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "page, line, message",
    [
        ("a\nb\n<% x = 1\n\n", 3, "the code is not closed"),
        ("<%= 1", 1, "the expression is not closed"),
        ("\n<%@ include", 2, "the directive is not closed"),
        ("x\n<%-- never closed\n--%", 2, "the comment is not closed"),
        ("one\n<%=   %>", 2, "empty expression"),
        ("<%= # only a comment %>", 1, "empty expression"),
        ("<%@ %>", 1, "a directive needs a name"),
        ("<%@ page language='python' %>", 1, 'unknown directive "page"'),
        ("<%@ include %>", 1, "include needs a file"),
        ("<%@ include name='x' %>", 1, 'unknown attribute "name"'),
        ("<%@ include file=x %>", 1, "must be quoted"),
        ("<%@ include file='x %>", 1, "no closing quote"),
        ("<%@ include file='' %>", 1, "the file name is empty"),
        ("<%@ include file='a' file='b' %>", 1, "file is given twice"),
        ("ok\n<% x = '\0' %>", 2, "NUL byte"),
    ],
)
def test_parse_errors_say_what_and_where(page, line, message):
    with pytest.raises(_psp.ParseError) as info:
        _psp.parsestring(page)
    assert message in info.value.msg
    assert info.value.lineno == line
    assert info.value.filename == "<string>"


def test_parse_error_is_a_syntax_error_and_a_value_error():
    assert issubclass(_psp.ParseError, SyntaxError)
    assert issubclass(_psp.ParseError, ValueError)
    with pytest.raises(ValueError):
        _psp.parsestring("<%")


def test_parse_error_carries_the_page_line(tmp_path):
    page = write(tmp_path / "p.psp", "first\n  <%= broken")
    with pytest.raises(_psp.ParseError) as info:
        _psp.parse(str(page))
    assert info.value.filename == str(page)
    assert info.value.text == "  <%= broken"
    assert f'File "{page}", line 2' in "".join(
        __import__("traceback").format_exception_only(type(info.value), info.value)
    )


def test_invalid_utf8_is_refused_with_its_line(tmp_path):
    page = tmp_path / "latin1.psp"
    page.write_bytes("ok\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(_psp.ParseError, match="invalid UTF-8") as info:
        _psp.parse(str(page))
    assert info.value.lineno == 2
    with pytest.raises(_psp.ParseError, match=r"byte 0xed"):
        _psp.parsestring(b"\xed\xa0\x80")  # a surrogate


def test_parsestring_takes_utf8_bytes():
    assert run_code(_psp.parsestring("é".encode())) == "é"


def test_parsestring_refuses_other_types():
    with pytest.raises(TypeError, match="str or bytes"):
        _psp.parsestring(42)
    with pytest.raises(UnicodeEncodeError):
        _psp.parsestring("\udcff")


def test_module_facts():
    assert _psp.__name__ == "mod_python._psp"
    assert _psp.ParseError.__module__ == "mod_python._psp"
    assert _psp.MAX_INCLUDE_DEPTH >= 16


def test_message_quoting_the_page_never_splits_a_character_badly():
    # the quote is cut after 40 bytes, here inside a three-byte character
    with pytest.raises(_psp.ParseError, match="expected file=") as info:
        _psp.parsestring("<%@ include file='a' ==" + "漢" * 20 + " %>")
    assert "\ufffd" in info.value.msg or info.value.msg.endswith('"')
