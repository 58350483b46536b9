"""A request-like object for running PSP pages outside Apache in the tests.

It has what mod_python.psp documents as the minimal interface (write) plus
the optional parts the tests exercise (filename, form, flush, log_error,
get_options, document_root).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from mod_python import _psp


class FakeRequest:
    def __init__(
        self,
        filename: Optional[str] = None,
        form: Any = None,
        options: Optional[Dict[str, str]] = None,
        document_root: str = "/nonexistent",
    ) -> None:
        self.filename = filename
        if form is not None:
            self.form = form
        self.chunks: List[Any] = []
        self.flushes = 0
        self.logged: List[str] = []
        self._options = options or {}
        self._document_root = document_root

    def write(self, data: Any, flush: int = 1) -> None:
        self.chunks.append(data)

    def flush(self) -> None:
        self.flushes += 1

    def log_error(self, message: str, level: int = 0) -> None:
        self.logged.append(message)

    def get_options(self) -> Dict[str, str]:
        return self._options

    def document_root(self) -> str:
        return self._document_root

    @property
    def output(self) -> str:
        return "".join(self.chunks)


def run_code(code: str, **names: Any) -> str:
    """Compile and run generated code with a FakeRequest; return what it wrote."""
    req = FakeRequest()
    exec(compile(code, "<page>", "exec"), {"req": req, **names})
    return req.output


def run_page(text: str, **names: Any) -> str:
    """Parse, compile and run a page given as a string."""
    return run_code(_psp.parsestring(text), **names)
