"""Property tests of the PSP parser with hypothesis.

- Any input: the parser never crashes; it returns code or raises ParseError,
  and the code either compiles or Python reports a SyntaxError (never, say,
  a NUL byte in the source). The line map covers every line of code and
  points at real lines of the page.
- Text alone comes out exactly as it went in: quotes, backslashes, CR, LF,
  NUL, any Unicode.
- Random nestings of one-line blocks, "# end", "else:", expressions and
  multi-line code blocks at the right indentation run as the same program
  written in Python would.
"""

from __future__ import annotations

import re
from typing import List, Tuple, Union

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pspfake import run_page

from mod_python import _psp

TOKENS = [
    "<%",
    "%>",
    "<%=",
    "<%@",
    "<%--",
    "--%>",
    "\\%>",
    "\\",
    "\n",
    "\r",
    "\r\n",
    ":",
    "#",
    "# end",
    " ",
    "\t",
    "    ",
    '"',
    "'",
    '"""',
    "if x",
    "else",
    "for i in y",
    "x",
    "(",
    ")",
    "[",
    "]",
    "=",
    "1",
    "\0",
    "é",
    "漢",
    "include file='x'",
    "-",
    "%",
    "<",
]

settings.register_profile("psp", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("psp")


def page_lines(page: str) -> int:
    return len(re.split(r"\r\n|\r|\n", page))


@given(st.lists(st.sampled_from(TOKENS), max_size=60).map("".join))
@settings(max_examples=600)
def test_any_token_soup_parses_or_fails_cleanly(page):
    try:
        code, sources, lines = _psp.parsestring(page, details=True)
    except _psp.ParseError as exc:
        assert exc.lineno is not None and 1 <= exc.lineno <= page_lines(page)
        return
    assert len(lines) == len(code.split("\n")) - 1 if code else lines == ()
    for source, line in lines:
        assert source == 0 and 1 <= line <= page_lines(page)
    try:
        compile(code, "<page>", "exec")
    except SyntaxError:
        pass  # the page's Python is wrong, which Python says


@given(st.text(max_size=200))
@settings(max_examples=300)
def test_any_text_parses_or_fails_cleanly(page):
    try:
        code = _psp.parsestring(page)
    except _psp.ParseError:
        return
    try:
        compile(code, "<page>", "exec")
    except SyntaxError:
        pass


TEXT = st.text(
    alphabet=st.sampled_from(list("ab \t\n\r\\\"'%<>{}\0é漢🐍\x0b\x0c\x1c\x85\u2028")),
    max_size=80,
).filter(lambda s: "<%" not in s)


@given(TEXT)
@settings(max_examples=500)
def test_text_comes_out_unchanged(text):
    assert run_page(text) == text


@given(TEXT, TEXT)
def test_text_around_a_comment(before, after):
    assert run_page(before + "<%-- gone --%>" + after) == before + after


# --- random programs -------------------------------------------------------

Node = Union[str, Tuple]


def render(nodes: List[Node], depth: int) -> str:
    out = []
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif node[0] == "expr":
            out.append("<%= n %>")
        elif node[0] == "inc":
            out.append("<% n += 1 %>")
        elif node[0] == "inc_block":
            # a multi-line block: its lines are written at the block's depth
            out.append("<%\n" + "    " * depth + "n += 1\n%>")
        elif node[0] == "loop":
            out.append("<% for _ in range(2): %>" + render(node[1], depth + 1) + "<% # end %>")
        elif node[0] == "if":
            out.append(
                "<% if n % 2: %>"
                + render(node[1], depth + 1)
                + "<% else: %>"
                + render(node[2], depth + 1)
                + "<% # end %>"
            )
    return "".join(out)


def interpret(nodes: List[Node], state: dict) -> str:
    out = []
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif node[0] == "expr":
            out.append(str(state["n"]))
        elif node[0] in ("inc", "inc_block"):
            state["n"] += 1
        elif node[0] == "loop":
            for _ in range(2):
                out.append(interpret(node[1], state))
        elif node[0] == "if":
            out.append(interpret(node[1] if state["n"] % 2 else node[2], state))
    return "".join(out)


LEAF = st.one_of(
    # not ending in "<": with a following "%" it would open a tag
    TEXT.filter(lambda s: s and not s.endswith("<")),
    st.just(("expr",)),
    st.just(("inc",)),
    st.just(("inc_block",)),
)


def nested(children):
    body = st.lists(children, min_size=1, max_size=4)
    return st.one_of(
        body.map(lambda b: ("loop", b)),
        st.tuples(body, body).map(lambda bb: ("if", bb[0], bb[1])),
    )


PROGRAM = st.lists(st.recursive(LEAF, nested, max_leaves=12), max_size=6)


@given(PROGRAM)
@settings(max_examples=400)
def test_random_programs_run_as_written(program):
    page = render(program, 0)
    expected = interpret(program, {"n": 0})
    assert run_page("<% n = 0 %>" + page) == expected


@given(PROGRAM)
@settings(max_examples=150)
def test_random_programs_map_code_lines_to_their_page_lines(program):
    # the map says which page line each statement comes from; without
    # one-line blocks, the lines of multi-line blocks are even in place
    page = "<% n = 0 %>" + render(program, 0)
    code, _, lines = _psp.parsestring(page, details=True)
    page_lines_ = re.split(r"\r\n|\r|\n", page)
    for number, line in enumerate(code.split("\n")):
        if line.strip() == "n += 1":
            assert line.strip() in page_lines_[lines[number][1] - 1]
    if "<% for" not in page and "<% if" not in page:
        code_lines = code.split("\n")
        for number, line in enumerate(page_lines_):
            if line == "n += 1":
                assert code_lines[number] == line
