"""Parse a PSP page with the C parser and compile the code it becomes.

Part of mod_python.psp. The parser keeps the page's line numbers in the
generated code wherever it can, and tells which page line (of which file)
every generated line comes from; a SyntaxError from compiling the code is
re-raised here at that page line, so the error log names the page, not
the generated code.
"""

from __future__ import annotations

import os
import re
from types import CodeType
from typing import FrozenSet, NamedTuple, Optional, Sequence, Tuple

from mod_python import _psp

#: What a page given as a string is called in tracebacks.
STRING_FILENAME = "<string>"

_LINE_END = re.compile(r"\r\n|\r|\n")


class Source(NamedTuple):
    """A file read for a page (the page or one it includes), as it was read."""

    path: Optional[str]  # None for a page given as a string
    mtime_ns: Optional[int]
    size: Optional[int]


class Page(NamedTuple):
    """A compiled page: its code, the files it was made of, the globals it reads."""

    code: CodeType
    sources: Tuple[Source, ...]
    names: FrozenSet[str]


def global_names(code: CodeType) -> FrozenSet[str]:
    """The global names the code or any function, class or comprehension in it uses.

    The manual looks at ``co_names`` to decide whether to make a session or
    a form; looking into nested code objects too means that a function
    defined in the page that uses ``session`` gets one as well.
    """
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= global_names(const)
    return frozenset(names)


def compile_file(path: str) -> Page:
    """Parse and compile the page in the file ``path`` (an absolute path).

    Includes with relative paths are resolved against the page's directory.
    """
    directory, name = os.path.split(path)
    code, sources, lines = _psp.parse(name, directory + os.sep, details=True)
    return _compile(code, path, None, sources, lines)


def compile_string(text: str) -> Page:
    """Parse and compile a page given as a string."""
    code, sources, lines = _psp.parsestring(text, details=True)
    return _compile(code, STRING_FILENAME, text, sources, lines)


def _compile(
    source: str,
    filename: str,
    text: Optional[str],
    sources: Sequence[Tuple[Optional[str], Optional[int], Optional[int]]],
    lines: Sequence[Tuple[int, int]],
) -> Page:
    try:
        code = compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        # The generated code's position means little to the page's author.
        raise _at_page_line(exc, source, text, sources, lines) from None
    return Page(code, tuple(Source(*s) for s in sources), global_names(code))


def _at_page_line(
    exc: SyntaxError,
    source: str,
    text: Optional[str],
    sources: Sequence[Tuple[Optional[str], Optional[int], Optional[int]]],
    lines: Sequence[Tuple[int, int]],
) -> SyntaxError:
    """The same SyntaxError, placed at the page line the code line came from."""
    if not exc.lineno or not lines:
        return exc
    index, page_line = lines[min(exc.lineno, len(lines)) - 1]
    path = sources[index][0]
    page_text = _line(text if path is None else _read(path), page_line)
    code_lines = source.split("\n")  # the generated code ends lines with \n only
    code_text = code_lines[exc.lineno - 1] if exc.lineno <= len(code_lines) else None
    # The column is only meaningful where the code line is the page line.
    offset = exc.offset if code_text is not None and code_text == page_text else None
    return type(exc)(exc.msg, (path or STRING_FILENAME, page_line, offset, page_text))


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read()
    except OSError:
        return None


def _line(text: Optional[str], number: int) -> Optional[str]:
    if text is None:
        return None
    page_lines = _LINE_END.split(text)
    return page_lines[number - 1] if 0 < number <= len(page_lines) else None
