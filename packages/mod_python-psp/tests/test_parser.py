"""The PSP language (manual 4.9) as the C parser mod_python._psp translates it.

Each construct is checked twice: the Python code generated (where the
manual shows it, or where its shape is the point) and what that code writes
when it runs.
"""

from __future__ import annotations

import pytest
from pspfake import run_code, run_page

from mod_python import _psp

# ------------------------------------------------------------ manual examples

HELLO = """<html>
<%
import time
%>
Hello world, the time is: <%=time.strftime("%Y-%m-%d, %H:%M:%S")%>
</html>
"""

# The manual's listing, but for the flush argument: the writes of a page do
# not flush (run() has a flag for that, and MODPYTHON-107 wants it so).
# A backslash-newline folds its long line here; the string has none.
HELLO_CODE = '''req.write("""<html>
""", 0)
import time
req.write("""
Hello world, the time is: """, 0); req.write(str(time.strftime("%Y-%m-%d, %H:%M:%S")), 0); \
req.write("""
</html>
""", 0)
'''

LOOP = """<html>
<%
for n in range(3):
    # This indent will persist
%>
<p>This paragraph will be
repeated 3 times.</p>
<%
# This line will cause the block to end
%>
This line will only be shown once.<br>
</html>
"""

LOOP_CODE = '''req.write("""<html>
""", 0)
for n in range(3):
    # This indent will persist
    req.write("""
<p>This paragraph will be
repeated 3 times.</p>
""", 0)
# This line will cause the block to end
req.write("""
This line will only be shown once.<br>
</html>
""", 0)
'''

LOOP_COLON = """<html>
<%
for n in range(3):
%>
<p>This paragraph will be
repeated 3 times.</p>
<%
%>
This line will only be shown once.<br>
</html>
"""

LOOP_OUTPUT = (
    "<html>\n"
    + "\n<p>This paragraph will be\nrepeated 3 times.</p>\n" * 3
    + "\nThis line will only be shown once.<br>\n</html>\n"
)


def test_manual_first_example_translates_as_the_manual_shows():
    assert _psp.parsestring(HELLO) == HELLO_CODE


def test_manual_first_example_runs():
    out = run_page(HELLO)
    assert out.startswith("<html>\n\nHello world, the time is: ")
    assert out.endswith("\n</html>\n")


def test_manual_loop_example_translates_as_the_manual_shows():
    assert _psp.parsestring(LOOP) == LOOP_CODE


def test_last_indentation_persists_until_more_code():
    assert run_page(LOOP) == LOOP_OUTPUT


def test_colon_at_the_end_indents_and_a_newline_resets():
    # "the indent is reset when a newline is encountered inside <% %>"
    assert run_page(LOOP_COLON) == LOOP_OUTPUT


# ----------------------------------------------------------------- constructs


def test_empty_page():
    # MODPYTHON-185: parsestring("") crashed 3.3.0
    assert _psp.parsestring("") == ""
    assert run_page("") == ""


def test_text_only_is_written_unchanged():
    text = "plain <b>text</b>\nwith < and % and %> and \\ backslash\n"
    assert run_page(text) == text


def test_code_runs_and_writes_nothing_by_itself():
    assert run_page("a<% x = 6 * 7 %>b<%= x %>c") == "ab42c"


def test_expression_is_written_with_str():
    assert run_page("<%= None %>|<%= 1.5 %>|<%= 'x' * 3 %>") == "None|1.5|xxx"
    assert _psp.parsestring("<%= 1 %>") == "req.write(str(1), 0)\n"


def test_expression_over_several_lines():
    page = "a <%= sum([1,\n  2,\n  3]) %> b\nc"
    assert run_page(page) == "a 6 b\nc"


def test_expression_with_a_trailing_comment():
    assert run_page("<%= 41 + 1  # the answer %>!") == "42!"


def test_comment_is_never_in_the_code():
    page = "a<%-- secret <% 1/0 %> --%>b\n<%--\nmore\nlines\n--%>c"
    code = _psp.parsestring(page)
    assert "secret" not in code and "more" not in code
    assert run_page(page) == "ab\nc"


def test_comment_keeps_the_following_lines_in_place():
    page = "<%--\n\n--%>\n<% x = 1/0 %>"
    assert _psp.parsestring(page).splitlines()[3].endswith("; x = 1/0")


def test_code_may_contain_angle_percent():
    assert run_page('<% s = "<%" %><%= s %>') == "<%"


def test_escaped_end_of_tag_in_code_and_expressions():
    # "\%>" stands for "%>" inside <% %>, <%= %> and <%@ %>
    assert run_page('<% s = "50\\%>" %><%= s %>') == "50%>"
    assert run_page('<%= "a\\%>b" %>') == "a%>b"


def test_backslash_sequences_in_text_stay_literal():
    # 3.3's changelog: backslash-n, -t and -r in text are not turned into controls
    text = r"C:\new\table\raw \\ \" \x41 \N{DASH} \u0041" + "\n"
    assert run_page(text) == text


@pytest.mark.parametrize(
    "text",
    [
        '"',
        '""',
        '"""',
        'a "quoted" word',
        'ends with a quote"',
        '"""triple""" and """"four"""" quotes',
        "'single' '''triple single'''",
    ],
)
def test_quotes_in_text(text):
    assert run_page(text) == text
    assert run_page("<% pass %>" + text + "<% pass %>") == text


def test_non_ascii_text_and_code():
    page = "é ü 漢字 <%= 'ö' * 2 %> 🐍\n"
    assert run_page(page) == "é ü 漢字 öö 🐍\n"


def test_nul_byte_in_text_is_kept():
    assert run_page("a\0b") == "a\0b"


def test_code_newlines_inside_strings_are_kept():
    page = '<%\ns = """one\n\n   two\n"""\n%><%= s %>'
    assert run_page(page) == "one\n\n   two\n"


# ---------------------------------------------------------------- line ends


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_line_endings_in_text_are_kept(eol):
    page = eol.join(
        ["<html>", "<% for i in range(2): %>", "row <%= i %>", "<% # end %>", "end", ""]
    )
    expected = eol.join(["<html>", "", "row 0", "", "row 1", "", "end", ""])
    assert run_page(page) == expected


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_line_endings_in_code(eol):
    # MODPYTHON-168: a lone CR as the line end
    page = eol.join(["<%", "for n in range(2):", "    x = n", "%>", "<%= x %>", "<%", "%>", "done"])
    assert run_page(page) == f"{eol}0{eol}{eol}1{eol}{eol}done"


# ---------------------------------------------------------- indentation rules


def test_one_line_code_ending_in_colon_opens_a_block():
    assert run_page("<% for i in range(3): %><%= i %>") == "012"


def test_end_comment_closes_a_one_line_block():
    page = "<% for i in range(3): %><%= i %><% # end %>!"
    assert run_page(page) == "012!"


@pytest.mark.parametrize("comment", ["# end", "#end", "# end for", "#   end: loop"])
def test_end_comment_spellings(comment):
    assert run_page(f"<% for i in 'ab': %><%= i %><% {comment} %>.") == "ab."


@pytest.mark.parametrize("comment", ["# endless", "# the end", "# ending"])
def test_other_comments_do_not_close_blocks(comment):
    assert run_page(f"<% for i in 'ab': %><%= i %><% {comment} %>.") == "a.b."


def test_nested_one_line_blocks():
    page = "<% for i in range(2): %><% for j in 'xy': %><%= i %><%= j %>,<% # end %>;<% # end %>!"
    assert run_page(page) == "0x,0y,;1x,1y,;!"


def test_else_elif_written_one_level_back():
    page = (
        "<% for n in range(4): %>"
        "<% if n == 0: %>zero<% elif n == 1: %>one<% else: %>many<% # end %> "
        "<% # end %>"
    )
    assert run_page(page) == "zero one many many "


def test_try_except_finally_on_one_line_tags():
    page = "<% try: %><%= 1/0 %><% except ZeroDivisionError: %>caught<% finally: %>!<% # end %>"
    assert run_page(page) == "caught!"


def test_while_and_with_blocks():
    page = (
        "<% n = 0 %><% while n < 3: %><%= n %><% n += 1 %><% # end %>|"
        "<% import contextlib %><% with contextlib.nullcontext('w') as w: %><%= w %><% # end %>"
    )
    assert run_page(page) == "012|w"


def test_multi_line_code_sets_the_indent_of_its_last_line():
    page = "<%\nfor i in range(2):\n    x = i * 10\n%>[<%= x %>]<%\n%>end"
    assert run_page(page) == "[0][10]end"


def test_indentation_of_a_comment_line_persists():
    page = "<%\nfor i in range(2):\n    # inside\n%>.<%\n    # still inside\n%>,<%\n# out\n%>end"
    assert run_page(page) == ".,.,end"


def test_continuation_lines_do_not_set_the_indent():
    page = "<%\nvalues = max(1,\n             2)\n%><%= values %>"
    assert run_page(page) == "2"


def test_a_colon_in_a_comment_or_string_does_not_open_a_block():
    assert run_page('<% s = "a:" %><%= s %>') == "a:"
    page = "<%\nfor i in range(2):  # loop:\n%><%= i %>"
    assert run_page(page) == "01"


def test_a_block_of_blank_lines_resets_the_indent():
    page = "<% for i in range(2): %><%= i %><%\n\n%>!"
    assert run_page(page) == "01!"


def test_one_line_code_after_multi_line_block_keeps_its_level():
    page = "<%\nfor i in range(2):\n%><% y = i * 2 %><%= y %><%\n%>."
    assert run_page(page) == "02."


def test_first_line_of_a_block_is_at_the_current_indent():
    # before the first newline nothing is reset: "x = i" belongs to the loop
    page = "<% for i in range(2): %><% x = i\n%><%= x %>"
    assert run_page(page) == "01"


def test_tabs_indent_with_tabs():
    page = "<%\nfor i in range(2):\n\tif i:\n%>one<%\n\t# back to the loop\n%>.<%\n%>"
    assert run_page(page) == ".one."
    code = _psp.parsestring(page)
    assert "\t\treq.write" in code


def test_function_defined_in_a_page():
    page = "<%\ndef twice(s):\n    return s * 2\n# end of twice\n%><%= twice('ab') %>"
    assert run_page(page) == "abab"


def test_decorators_and_classes():
    page = (
        "<%\nimport functools\n@functools.lru_cache()\ndef sq(n):\n    return n * n\n"
        "class C:\n    v = 3\n# end of C\n%><%= sq(C.v) %>"
    )
    assert run_page(page) == "9"


def test_semicolons_and_simple_statements_on_one_line():
    assert run_page("<% a = 1; b = 2; %><%= a + b %>") == "3"


def test_unrelated_text_is_not_indented_by_compound_one_liners():
    assert run_page("<% if True: x = 5 %><%= x %>") == "5"


def test_variables_given_to_the_page():
    assert run_page("Hello, <%= what %>!", what="world") == "Hello, world!"


# ------------------------------------------------------------- line numbers


def test_code_lines_keep_the_page_line_numbers():
    page = "\n".join(
        [
            "<html>",  # 1
            "<% for i in range(2): %>",  # 2
            "  <li><%= i %></li>",  # 3
            "<% # end %>",  # 4
            "<%",  # 5
            "x = 1",  # 6
            "y = undefined_name",  # 7
            "%>",  # 8
            "</html>",  # 9
        ]
    )
    code = _psp.parsestring(page).splitlines()
    assert code[1].startswith("for i in range(2):")
    assert "req.write(str(i), 0)" in code[2]
    assert code[5] == "x = 1"
    assert code[6] == "y = undefined_name"
    with pytest.raises(NameError) as info:
        run_page(page)
    assert info.traceback[-1].lineno + 1 == 7


def test_details_map_every_generated_line_to_the_page():
    page = "a\n<% if True: %>b<% # end %>\nc\n<%\nz = 1\n%>\n"
    code, sources, lines = _psp.parsestring(page, details=True)
    assert sources == ((None, None, None),)
    assert len(lines) == len(code.splitlines())
    code_lines = code.splitlines()
    z = code_lines.index("z = 1")
    assert lines[z] == (0, 5)


def test_directive_and_comment_lines_are_accounted_for(tmp_path):
    (tmp_path / "empty.inc").write_text("")
    page = '<%--\n--%><%@ include\n  file="empty.inc" %>\n<%\nboom(\n%>'
    code = _psp.parsestring(page, str(tmp_path))
    assert code.splitlines()[4] == "boom("


def test_generated_code_is_valid_for_every_example():
    for page in (HELLO, LOOP, LOOP_COLON):
        compile(_psp.parsestring(page), "<page>", "exec")


def test_run_code_helper_sees_req_write():
    assert run_code('req.write("x")') == "x"
