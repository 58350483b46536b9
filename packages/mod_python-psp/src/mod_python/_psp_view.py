"""The side-by-side listing of a PSP page and its Python code (manual 4.9, 7.2).

Part of mod_python.psp: ``PSP.display_code()`` returns it, and the PSP
handler shows it for ``page.psp_`` under ``PythonDebug On``. The generated
code keeps the page's line numbers where it can, so line N of one column
is line N of the other. Only parsing is needed, not compiling, so the
listing also works for a page whose Python does not compile, which is when
it helps most; a page that does not even parse shows the parser's message.
"""

from __future__ import annotations

import html
import os
import re
from typing import List, Optional

from mod_python import _psp

_LINE_END = re.compile(r"\r\n|\r|\n")

_STYLE = (
    "table.psp-listing{border-collapse:collapse;font-family:monospace;font-size:90%}"
    "table.psp-listing th{text-align:left;background:#eee;padding:2px 6px}"
    "table.psp-listing td{vertical-align:top;white-space:pre;padding:0 6px}"
    "table.psp-listing td.n{color:#888;text-align:right;border-right:1px solid #ccc}"
    "p.psp-error{color:#a00;font-weight:bold}"
)


def _lines(text: str) -> List[str]:
    lines = _LINE_END.split(text)
    if lines and lines[-1] == "":
        lines.pop()  # the end of the last line does not start another
    return lines


def listing(page_text: str, code: Optional[str], title: str, error: Optional[str] = None) -> str:
    """An HTML table: the page's lines and the code's, numbered, side by side."""
    left = _lines(page_text)
    right = _lines(code) if code is not None else []
    rows = []
    for i in range(max(len(left), len(right))):
        cells = []
        for column in (left, right):
            if i < len(column):
                cells.append(f'<td class="n">{i + 1}</td><td>{html.escape(column[i])}</td>')
            else:
                cells.append('<td class="n"></td><td></td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    message = f'<p class="psp-error">{html.escape(error)}</p>\n' if error else ""
    return (
        f"<style>{_STYLE}</style>\n{message}"
        '<table class="psp-listing">\n'
        f'<tr><th colspan="2">{html.escape(title)}</th><th colspan="2">Python code</th></tr>\n'
        + "\n".join(rows)
        + "\n</table>\n"
    )


def file_listing(path: str) -> str:
    """The listing of the page in the file ``path``."""
    with open(path, encoding="utf-8", errors="replace") as file:
        page_text = file.read()
    directory, name = os.path.split(path)
    try:
        code: Optional[str] = _psp.parse(name, directory + os.sep)
        error = None
    except (_psp.ParseError, OSError) as exc:
        code, error = None, _describe(exc)
    return listing(page_text, code, path, error)


def string_listing(text: str) -> str:
    """The listing of a page given as a string."""
    try:
        code: Optional[str] = _psp.parsestring(text)
        error = None
    except (_psp.ParseError, OSError) as exc:
        code, error = None, _describe(exc)
    return listing(text, code, "PSP page (string)", error)


def document(title: str, body: str) -> str:
    """A whole HTML page around ``body``."""
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n{body}</body></html>\n"
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"{exc.filename}, line {exc.lineno}: {exc.msg}"
    return str(exc)
