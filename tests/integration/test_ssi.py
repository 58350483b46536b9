"""Python in Server Side Includes (manual section 6): the ``python`` element of
mod_include's INCLUDES filter, ``eval`` and ``exec``, the ``filter`` object,
globals shared by the elements of one request only, ``req.ssi_globals``
filled by a fixup handler, ``#if`` on variables set from Python, errors and
``IncludesNOEXEC``."""

from __future__ import annotations

import re
import time

import pytest

ERROR_TEXT = "[an error occurred while processing this directive]"

BASIC = """\
<p>names: <!--#python eval="sorted(n for n in globals() if not n.startswith('__'))" --></p>
<p>eval: <!--#python eval="10*'HELLO '" --></p>
<p>len: <!--#python eval="len('HELLO')" --></p>
<p>exec: <!--#python exec="
filter.write(3*'HI ')
filter.write(str(len('HELLO')))
" --></p>
<p>print: <!--#python exec="
print(len('HELLO'), 'items', file=filter)
for i in range(3):
    print(i, end=',', file=filter)
" --></p>
<p>bytes: <!--#python exec="filter.write(b'raw-bytes')" --></p>
<p>unicode: <!--#python eval="'caf\\u00e9'" --></p>
<p>entity: <!--#python eval="&quot;quoted&quot;.upper()" --></p>
<p>uri: <!--#python eval="filter.req.uri" --></p>
<p>filter: <!--#python eval="(filter.name, filter.is_input, filter.closed)" --></p>
<p>interp: <!--#python eval="__import__('mod_python.apache').apache.interpreter" --></p>
"""

SHARED = """\
<!--#python exec="
import os
counter = globals().get('counter', 0) + 1
def double(x):
    return 2 * x
class Thing:
    pass
kept = filter
" -->
A=<!--#python eval="counter" -->
B=<!--#python eval="double(21)" -->
C=<!--#python eval="os.path.join('x', 'y')" -->
D=<!--#python eval="type(Thing()).__name__" -->
E=<!--#python exec="
counter += 10
" --><!--#python eval="counter" -->
F=<!--#python eval="filter is kept" -->
G=<!--#python exec="
try:
    kept.write('late')
except ValueError as exc:
    filter.write('refused: ' + str(exc))
" -->
H=<!--#python eval="filter.req.ssi_globals is globals()" -->
"""

OTHER_PAGE = """\
<!--#python eval="sorted(n for n in ('counter', 'double', 'os') if n in globals())" -->
"""

ERRORS = """\
before
one=<!--#python eval="1/0" -->
two=<!--#python exec="def broken(:" -->
three=<!--#python eval="6*7" -->
four=<!--#python exec="raise RuntimeError('exec failed on purpose')" -->
five=<!--#python nonsense="1" -->
six=<!--#python eval="filter.read()" -->
after
"""

ERRMSG = """\
<!--#config errmsg="[CUSTOM SSI ERROR]" -->
x=<!--#python eval="undefined_name" -->
"""

PREPOP_HANDLERS = """
    import html
    import time

    from mod_python import apache

    def _escape(obj):
        return html.escape(str(obj))

    def _header(filter):
        print('<header>' + filter.req.uri + '</header>', file=filter)

    def fixuphandler(req):
        req.ssi_globals = {}
        req.ssi_globals['time'] = time
        req.ssi_globals['_escape'] = _escape
        req.ssi_globals['_header'] = _header
        return apache.OK
"""

PREPOP_PAGE = """\
<!--#python exec="
now = time.time()
" -->
<!--#python exec="_header(filter)" -->
escaped=<!--#python eval="_escape('<b>&')" -->
now=<!--#python eval="type(now).__name__" -->
"""

DYNAMIC_HANDLER = """
    from mod_python import apache

    def handler(req):
        req.content_type = "text/html"
        req.write('<p>first <!--#python exec="shared = 6" --></p>\\n')
        req.write('<p>second <!--#python eval="shared * 7" --></p>\\n')
        req.write('<p>req <!--#python eval="filter.req.handler" --></p>\\n')
        return apache.OK
"""

QUOTES = """\
q1=<!--#python eval="\\"dq\\" + 'sq'" -->
q2=<!--#python eval="  'padded'  " -->
q3=<!--#python eval="'$HOME'" -->
"""

PARENT = """\
<!--#python exec="x = 'parent'" -->
child=<!--#include virtual="child.shtml" -->
parent=<!--#python eval="x" -->
"""

CHILD = """\
<!--#python eval="'x' in globals()" -->"""

SLOW = """\
<!--#python exec="
import os, threading, time
tag = filter.req.args
time.sleep(0.2)
" -->
tag=<!--#python eval="tag" --> pid=<!--#python eval="os.getpid()" -->
"""


def conditional_page(is22: bool) -> str:
    """Section 6.5: a variable set from Python in subprocess_env drives #if."""
    if is22:
        on, off = '"$MP_FLAG = on"', '"$MP_FLAG = never"'
    else:
        on, off = "\"v('MP_FLAG') == 'on'\"", "\"v('MP_FLAG') == 'never'\""
    return f"""\
<!--#python exec="
filter.req.subprocess_env['MP_FLAG'] = filter.req.args or 'unset'
" -->
<!--#if expr={on} -->FLAG ON<!--#else -->FLAG OFF<!--#endif -->
<!--#if expr={off} --><!--#python eval="1/0" --><!--#endif -->
<!--#echo var="MP_FLAG" -->
"""


@pytest.fixture(scope="module")
def server(start_server, apache_install):
    return start_server(
        """
        AddType text/html .shtml
        <Directory "{docroot}/ssi">
            AddOutputFilter INCLUDES .shtml
        </Directory>
        <Directory "{docroot}/interp">
            AddOutputFilter INCLUDES .shtml
            PythonInterpreter ssi_interpreter
        </Directory>
        <Directory "{docroot}/prepop">
            AddOutputFilter INCLUDES .shtml
            PythonFixupHandler _handlers
        </Directory>
        <Directory "{docroot}/noexec">
            Options IncludesNOEXEC
            AddOutputFilter INCLUDES .shtml
        </Directory>
        <Directory "{docroot}/dynamic">
            SetHandler mod_python
            PythonHandler page
            SetOutputFilter INCLUDES
        </Directory>
        """,
        files={
            "htdocs/ssi/basic.shtml": BASIC,
            "htdocs/ssi/shared.shtml": SHARED,
            "htdocs/ssi/other.shtml": OTHER_PAGE,
            "htdocs/ssi/errors.shtml": ERRORS,
            "htdocs/ssi/errmsg.shtml": ERRMSG,
            "htdocs/ssi/slow.shtml": SLOW,
            "htdocs/ssi/quotes.shtml": QUOTES,
            "htdocs/ssi/parent.shtml": PARENT,
            "htdocs/ssi/child.shtml": CHILD,
            "htdocs/ssi/cond.shtml": conditional_page(apache_install.is_22),
            "htdocs/interp/basic.shtml": BASIC,
            "htdocs/prepop/_handlers.py": PREPOP_HANDLERS,
            "htdocs/prepop/page.shtml": PREPOP_PAGE,
            "htdocs/noexec/page.shtml": "<p>x=<!--#python eval=\"'RAN'\" --></p>\n",
            "htdocs/dynamic/page.py": DYNAMIC_HANDLER,
        },
    )


def wait_for_log(server, text, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = server.error_log()
        if text in log:
            return log
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in the error log:\n{server.error_log()[-3000:]}")


def test_eval_inserts_str_of_the_value(server):
    r = server.get("/ssi/basic.shtml")
    assert r.status_code == 200, r.text
    assert "<p>eval: " + 10 * "HELLO " + "</p>" in r.text
    assert "<p>len: 5</p>" in r.text
    assert "<p>entity: QUOTED</p>" in r.text
    assert "<p>uri: /ssi/basic.shtml</p>" in r.text
    assert "<!--#python" not in r.text


def test_exec_output_written_to_filter_goes_in_place(server):
    text = server.get("/ssi/basic.shtml").text
    assert "<p>exec: HI HI HI 5</p>" in text
    assert "<p>print: 5 items\n0,1,2,</p>" in text
    assert "<p>bytes: raw-bytes</p>" in text


def test_str_is_written_as_utf8(server):
    r = server.get("/ssi/basic.shtml")
    assert "<p>unicode: café</p>".encode() in r.content


def test_only_filter_is_pre_populated(server):
    text = server.get("/ssi/basic.shtml").text
    assert "<p>names: ['filter']</p>" in text
    assert "<p>filter: ('INCLUDES', False, False)</p>" in text


def test_code_runs_in_the_request_interpreter(server):
    assert "<p>interp: 127.0.0.1</p>" in server.get("/ssi/basic.shtml").text
    assert "<p>interp: ssi_interpreter</p>" in server.get("/interp/basic.shtml").text


def test_globals_are_shared_by_the_elements_of_one_page(server):
    text = server.get("/ssi/shared.shtml").text
    assert "A=1\n" in text
    assert "B=42\n" in text
    assert "C=x/y\n" in text
    assert "D=Thing\n" in text
    assert "E=11\n" in text
    # each element has its own filter; a kept one refuses output once its element ended
    assert "F=False\n" in text
    assert "G=refused: this filter object belongs to an SSI python element that has ended" in text
    assert "late" not in text
    assert "H=True\n" in text


def test_globals_do_not_outlive_the_request(server):
    for _ in range(3):
        text = server.get("/ssi/shared.shtml").text
        assert "A=1\n" in text and "E=11\n" in text
    assert server.get("/ssi/other.shtml").text.strip() == "[]"


def test_concurrent_pages_keep_their_own_globals(server):
    import concurrent.futures

    import requests

    def fetch(tag):
        return requests.get(f"{server.url}/ssi/slow.shtml?{tag}", timeout=30).text

    tags = [f"t{i}" for i in range(8)]
    with concurrent.futures.ThreadPoolExecutor(len(tags)) as pool:
        texts = list(pool.map(fetch, tags))
    for tag, text in zip(tags, texts):
        assert f"tag={tag} " in text, text


def test_fixup_handler_pre_populates_ssi_globals(server):
    r = server.get("/prepop/page.shtml")
    assert r.status_code == 200
    assert "<header>/prepop/page.shtml</header>" in r.text
    assert "escaped=&lt;b&gt;&amp;\n" in r.text
    assert "now=float\n" in r.text


def test_conditional_expressions_see_subprocess_env(server):
    text = server.get("/ssi/cond.shtml?on").text
    assert "FLAG ON" in text and "FLAG OFF" not in text
    assert ERROR_TEXT not in text  # the python element inside the false #if did not run
    assert text.strip().endswith("on")
    text = server.get("/ssi/cond.shtml?off").text
    assert "FLAG OFF" in text and "FLAG ON" not in text


def test_errors_show_mod_include_error_text_and_log_the_traceback(server):
    r = server.get("/ssi/errors.shtml")
    assert r.status_code == 200
    text = r.text
    assert text.startswith("before\n") and text.rstrip().endswith("after")
    assert f"one={ERROR_TEXT}\n" in text
    assert f"two={ERROR_TEXT}\n" in text
    assert "three=42\n" in text
    assert f"four={ERROR_TEXT}\n" in text
    assert f"five={ERROR_TEXT}\n" in text
    assert f"six={ERROR_TEXT}\n" in text
    log = wait_for_log(server, "RuntimeError: exec failed on purpose")
    assert "ZeroDivisionError: division by zero" in log
    assert "Traceback (most recent call last):" in log
    assert re.search(r"<!--#python eval=\.\.\.--> in \S+/ssi/errors\.shtml failed", log)
    assert "SyntaxError" in log
    assert 'unknown parameter "nonsense" to tag python' in log
    assert "UnsupportedOperation: the filter of an SSI python element can only write()" in log


def test_error_text_follows_config_errmsg(server):
    text = server.get("/ssi/errmsg.shtml").text
    assert "x=[CUSTOM SSI ERROR]" in text
    wait_for_log(server, "NameError: name 'undefined_name' is not defined")


def test_includes_noexec_forbids_python(server):
    text = server.get("/noexec/page.shtml").text
    assert "RAN" not in text
    assert f"x={ERROR_TEXT}" in text
    wait_for_log(server, "python element used but not allowed")


def test_ssi_on_output_of_a_python_handler(server):
    r = server.get("/dynamic/page")
    assert r.status_code == 200, r.text
    assert "<p>first </p>" in r.text
    assert "<p>second 42</p>" in r.text
    assert "<p>req mod_python</p>" in r.text


def test_server_survives_and_serves_after_errors(server):
    for _ in range(3):
        server.get("/ssi/errors.shtml")
    assert "<p>len: 5</p>" in server.get("/ssi/basic.shtml").text


def test_attribute_quoting(server):
    text = server.get("/ssi/quotes.shtml").text
    assert "q1=dqsq\n" in text
    assert "q2=padded\n" in text
    assert "q3=$HOME\n" in text  # no SSI variable expansion in Python code


def test_included_subrequest_has_its_own_globals(server):
    text = server.get("/ssi/parent.shtml").text
    assert "child=False\n" in text
    assert "parent=parent\n" in text
