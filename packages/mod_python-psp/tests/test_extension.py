"""mod_python._psp as an extension module: it works in sub-interpreters
(mod_python runs one per virtual host), including isolated ones with their
own GIL, which its multi-phase initialisation and module state allow."""

from __future__ import annotations

import sys
import threading

import pytest

from mod_python import _psp

testcapi = pytest.importorskip("_testcapi")

CODE = """
from mod_python import _psp
result = _psp.parsestring("<%= 1 %>")
assert result == "req.write(str(1), 0)\\n", result
try:
    _psp.parsestring("<%")
except _psp.ParseError:
    pass
else:
    raise AssertionError("no ParseError")
"""


def test_works_in_a_sub_interpreter():
    assert testcapi.run_in_subinterp(CODE) == 0


# Sub-interpreters with their own GIL exist from Python 3.12 (PEP 684); 3.12
# makes them through _testcapi, 3.13 through _interpreters.
if sys.version_info >= (3, 13):

    def test_works_in_an_isolated_sub_interpreter_with_its_own_gil():
        import _interpreters

        interp = _interpreters.create("isolated")  # own GIL, multi-phase modules only
        try:
            assert _interpreters.run_string(interp, CODE) is None
        finally:
            _interpreters.destroy(interp)

elif sys.version_info >= (3, 12):

    def test_works_in_an_isolated_sub_interpreter_with_its_own_gil():
        result = testcapi.run_in_subinterp_with_config(
            CODE,
            use_main_obmalloc=False,
            allow_fork=False,
            allow_exec=False,
            allow_threads=True,
            allow_daemon_threads=False,
            check_multi_interp_extensions=True,  # refuses modules not declaring support
            gil=2,  # PyInterpreterConfig_OWN_GIL
        )
        assert result == 0


def test_each_interpreter_has_its_own_exception_class():
    # module state, not a static global: the main interpreter's class is intact
    assert testcapi.run_in_subinterp(CODE) == 0
    assert _psp.ParseError.__module__ == "mod_python._psp"
    with pytest.raises(_psp.ParseError):
        _psp.parsestring("<%=")


def test_parses_in_many_threads_at_once():
    page = "<% for i in range(3): %><%= i %><% # end %>\n" * 200
    expected = _psp.parsestring(page)
    results, errors = [], []

    def work():
        try:
            for _ in range(20):
                results.append(_psp.parsestring(page) == expected)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and all(results) and len(results) == 160
