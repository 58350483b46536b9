"""mod_python.psp (manual 4.9) and the PSP handler (7.2) inside a real Apache.

One Apache serves:

- /psp/       pages through ``PythonHandler mod_python.psp`` with PythonDebug On
              (so ``page.psp_`` shows the listing);
- /nodebug/   the same with PythonDebug Off;
- /dbm/, /olddbm/  pages cached in a dbm file (the 3.3 option and its old name);
- /tmpl/      the manual's templating example: a handler running ``psp.PSP``;
- /dir/       ``SetHandler`` for a whole directory (a directory request is a 404).

Sessions are the MPM's default class (DbmSession: this Apache has several
children), stored under the test's root.
"""

from __future__ import annotations

import concurrent.futures
import glob
import os
import re
import time

import pytest
import requests

OPTIONS = """
    KeepAlive Off
    PythonOption mod_python.mutex_directory {root}/logs/run
    PythonOption mod_python.dbm_session.database_directory {root}/sessions
    PythonOption mod_python.file_session.database_directory {root}/sessions
"""

SITE = """
    <Directory "{docroot}/psp">
        AddHandler mod_python .psp .psp_
        PythonHandler mod_python.psp
        PythonDebug On
    </Directory>
    <Directory "{docroot}/nodebug">
        AddHandler mod_python .psp .psp_
        PythonHandler mod_python.psp
        PythonDebug Off
    </Directory>
    <Directory "{docroot}/dbm">
        AddHandler mod_python .psp
        PythonHandler mod_python.psp
        PythonOption mod_python.psp.cache_database_filename {root}/cache/psp.dbm
    </Directory>
    <Directory "{docroot}/olddbm">
        AddHandler mod_python .psp
        PythonHandler mod_python.psp
        PythonOption PSPDbmCache {root}/cache/old.dbm
    </Directory>
    <Directory "{docroot}/tmpl">
        SetHandler mod_python
        PythonHandler tmpl
    </Directory>
    <Directory "{docroot}/dir">
        SetHandler mod_python
        PythonHandler mod_python.psp
    </Directory>
"""

# The manual's examples (4.9), in Python 3.
HELLO = """\
<html>
<%
import time
%>
Hello world, the time is: <%=time.strftime("%Y-%m-%d, %H:%M:%S")%>
</html>
"""

LOOP_COMMENT = """\
<html>
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

LOOP_COLON = """\
<html>
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

TEMPLATE = """\
<html>
  <!-- This is a simple psp template called template.html -->
  <h1>Hello, <%=what%>!</h1>
</html>
"""

TEMPLATE_HANDLER = """\
from mod_python import apache, psp

def handler(req):
    template = psp.PSP(req, filename='template.html')
    template.run({'what': 'world'})
    return apache.OK
"""

ONE_LINE_BLOCKS = """\
<ul>
<% for i in range(3): %>
  <li><%= i %><% if i % 2: %> odd<% else: %> even<% # end %></li>
<% # end %>
</ul>
<%-- a comment, never in the code --%>
done
"""

INCLUDE_PAGE = """\
<%@ include file="parts/header.inc" %>
<% for name in ("a", "b"): %>
<%@ include file="parts/item.inc" %>
<% # end %>
footer
"""

ERROR_PAGE_USER = """\
<% psp.set_error_page("oops.psp") %>
before
<% raise ValueError("the page broke") %>
after
"""

ERROR_PAGE = """\
error page: <%= exception[0].__name__ %>: <%= exception[1] %>
"""

SESSION_PAGE = """\
<%
session["hits"] = session.get("hits", 0) + 1
%>hits=<%= session["hits"] %> new=<%= session.is_new() %>
"""

SESSION_ERROR_USER = """\
<% psp.set_error_page("session_oops.psp") %>
<% session["seen"] = True %>
<% raise KeyError("nope") %>
"""

SESSION_ERROR_PAGE = """\
error page sees the same session: <%= session.id() %> <%= session.get("seen") %>
"""

FORM_PAGE = """\
<% name = form.getfirst("name", "nobody") %>
hello <%= name %>, you sent <%= sorted(form.keys()) %>
"""

APPLY_DATA_PAGE = """\
<%
def greet(name, times="1", req=None):
    return " ".join(["hi " + name] * int(times)) + " " + req.method
# the indentation of the last line persists (4.9): end the def
%>
<%= psp.apply_data(greet) %>
"""

REDIRECT_PAGE = """\
<%
psp.redirect("http://example.org/elsewhere")
%>
not reached
"""

SYNTAX_ERROR_PAGE = """\
<html>
<p>line 2</p>
<%
x = (1,
if x
%>
</html>
"""

UNCLOSED_PAGE = """\
<p>one</p>
<p>two</p>
<% x = 1
"""

CONTENT_TYPE_PAGE = """\
<% req.content_type = "text/plain; charset=utf-8" %>plain text
"""

ESCAPES_PAGE = (
    '<% s = "50\\%>" %>'  # \%> stands for %> inside code
    "<%= s %>|"
    'text with \\n \\t and "quotes" and """triples"""|'
    "é ü 漢字\n"
)

NAMES_PAGE = """\
form=<%= form is None %> session=<%= session is None %>
"""


@pytest.fixture(scope="module")
def server(start_server):
    files = {
        "htdocs/psp/hello.psp": HELLO,
        "htdocs/psp/loop_comment.psp": LOOP_COMMENT,
        "htdocs/psp/loop_colon.psp": LOOP_COLON,
        "htdocs/psp/blocks.psp": ONE_LINE_BLOCKS,
        "htdocs/psp/include.psp": INCLUDE_PAGE,
        "htdocs/psp/parts/header.inc": "<h1>header <%= 6 * 7 %></h1>\n",
        "htdocs/psp/parts/item.inc": "<li><%= name %></li>\n",
        "htdocs/psp/error_user.psp": ERROR_PAGE_USER,
        "htdocs/psp/oops.psp": ERROR_PAGE,
        "htdocs/psp/session.psp": SESSION_PAGE,
        "htdocs/psp/session_error.psp": SESSION_ERROR_USER,
        "htdocs/psp/session_oops.psp": SESSION_ERROR_PAGE,
        "htdocs/psp/form.psp": FORM_PAGE,
        "htdocs/psp/apply.psp": APPLY_DATA_PAGE,
        "htdocs/psp/redirect.psp": REDIRECT_PAGE,
        "htdocs/psp/syntax.psp": SYNTAX_ERROR_PAGE,
        "htdocs/psp/unclosed.psp": UNCLOSED_PAGE,
        "htdocs/psp/plain.psp": CONTENT_TYPE_PAGE,
        "htdocs/psp/names.psp": NAMES_PAGE,
        "htdocs/nodebug/hello.psp": HELLO,
        "htdocs/dbm/page.psp": "dbm cached: <%= 'one' %>\n",
        "htdocs/olddbm/page.psp": "old option: <%= 'one' %>\n",
        "htdocs/tmpl/template.html": TEMPLATE,
        "htdocs/tmpl/tmpl.py": TEMPLATE_HANDLER,
        "htdocs/dir/index.txt": "not a page\n",
        "sessions/.keep": "",
        "cache/.keep": "",
    }
    srv = start_server(OPTIONS + SITE, files=files)
    # Written as bytes: line endings and backslashes must reach the parser as they are.
    (srv.docroot / "psp" / "escapes.psp").write_bytes(ESCAPES_PAGE.encode("utf-8"))
    (srv.docroot / "psp" / "crlf.psp").write_bytes(
        b"<html>\r\n<%\r\nfor n in range(2):\r\n%>\r\nrow\r\n<%\r\n%>\r\nend\r\n"
    )
    (srv.docroot / "psp" / "cr.psp").write_bytes(
        b"<% for n in range(2): %>\rrow<%= n %>\r<% # end %>\rend\r"
    )
    return srv


def text_of(response) -> str:
    assert response.status_code == 200, response.text
    return response.text


# ----------------------------------------------------------------- the language


def test_manual_hello_world_page(server):
    response = server.get("/psp/hello.psp")
    body = text_of(response)
    assert re.fullmatch(
        r"<html>\n\nHello world, the time is: \d{4}-\d\d-\d\d, \d\d:\d\d:\d\d\n</html>\n", body
    ), body
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize("page", ["loop_comment.psp", "loop_colon.psp"])
def test_manual_indentation_examples(server, page):
    body = text_of(server.get("/psp/" + page))
    assert body.count("<p>This paragraph will be\nrepeated 3 times.</p>") == 3
    assert body.count("This line will only be shown once.<br>") == 1
    assert body.startswith("<html>\n") and body.endswith("</html>\n")


def test_one_line_blocks_else_and_end_comments(server):
    body = text_of(server.get("/psp/blocks.psp"))
    items = re.findall(r"<li>(.*?)</li>", body)
    assert items == ["0 even", "1 odd", "2 even"]
    assert "comment" not in body
    assert body.rstrip().endswith("done")


def test_include_directive_is_relative_to_the_page(server):
    body = text_of(server.get("/psp/include.psp"))
    assert "<h1>header 42</h1>" in body
    assert re.findall(r"<li>(\w)</li>", body) == ["a", "b"]
    assert body.rstrip().endswith("footer")


def test_escapes_backslashes_quotes_and_utf8(server):
    body = text_of(server.get("/psp/escapes.psp"))
    assert body == '50%>|text with \\n \\t and "quotes" and """triples"""|é ü 漢字\n'


def test_crlf_line_endings_are_kept(server):
    response = server.get("/psp/crlf.psp")
    assert response.status_code == 200
    assert response.content == b"<html>\r\n\r\nrow\r\n\r\nrow\r\n\r\nend\r\n"


def test_cr_line_endings_are_kept(server):
    response = server.get("/psp/cr.psp")
    assert response.status_code == 200
    assert response.content == b"\rrow0\r\rrow1\r\rend\r"


def test_page_may_set_its_content_type(server):
    response = server.get("/psp/plain.psp")
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.text == "plain text\n"


# ----------------------------------------------------------- page variables


def test_form_variable_from_query_and_body(server):
    assert "hello ann, you sent ['name']" in text_of(server.get("/psp/form.psp?name=ann"))
    body = text_of(server.post("/psp/form.psp?x=1", data={"name": "bob"}))
    assert "hello bob, you sent ['name', 'x']" in body


def test_form_and_session_are_made_when_the_code_uses_them(server):
    with requests.Session() as client:
        response = client.get(server.url + "/psp/names.psp?a=1", timeout=30)
        assert text_of(response) == "form=False session=False\n"
        assert "pysid=" in response.headers["Set-Cookie"]
        # a page that does not name session makes none: no cookie
        hello = client.get(server.url + "/psp/hello.psp", timeout=30)
        assert "Set-Cookie" not in hello.headers


def test_apply_data_passes_form_fields_and_req(server):
    body = text_of(server.get("/psp/apply.psp?name=joe&times=2&unused=1"))
    assert "hi joe hi joe GET" in body


def test_session_variable_is_kept_across_requests(server):
    with requests.Session() as client:
        first = client.get(server.url + "/psp/session.psp", timeout=30)
        assert text_of(first).strip() == "hits=1 new=True"
        assert "pysid=" in first.headers["Set-Cookie"]
        second = client.get(server.url + "/psp/session.psp", timeout=30)
        assert text_of(second).strip() == "hits=2 new=False"
        third = client.get(server.url + "/psp/session.psp", timeout=30)
        assert text_of(third).strip() == "hits=3 new=False"


def test_error_page_gets_the_exception(server):
    body = text_of(server.get("/psp/error_user.psp"))
    assert "before" in body
    assert "error page: ValueError: the page broke" in body
    assert "after" not in body


def test_error_page_uses_the_pages_session_without_deadlock(server):
    # MODPYTHON-175: a second Session for the same id would wait for the lock forever.
    with requests.Session() as client:
        response = client.get(server.url + "/psp/session_error.psp", timeout=20)
        body = text_of(response)
        match = re.search(r"error page sees the same session: ([0-9a-f]{32}) True", body)
        assert match, body
        assert client.cookies["pysid"] == match.group(1)
        # the lock was released: the next request with this cookie gets in (a new
        # session: one made by a page that failed is not saved)
        again = client.get(server.url + "/psp/session_error.psp", timeout=20)
        assert "error page sees the same session" in text_of(again)


def test_redirect_at_the_start_of_a_page(server):
    response = server.get("/psp/redirect.psp", allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "http://example.org/elsewhere"
    assert "not reached" not in response.text


def test_manual_templating_example(server):
    body = text_of(server.get("/tmpl/anything"))
    assert "<h1>Hello, world!</h1>" in body
    assert "simple psp template" in body


# --------------------------------------------------------- the handler (7.2)


def test_missing_page_is_not_found(server):
    # MODPYTHON-178
    assert server.get("/psp/no-such-page.psp").status_code == 404


def test_directory_without_index_is_not_found(server):
    assert server.get("/dir/").status_code == 404


def test_debug_view_shows_page_and_code_side_by_side(server):
    response = server.get("/psp/hello.psp_")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    body = response.text
    assert "psp-listing" in body
    # the page's source, escaped, and the code it became
    assert "&lt;%=time.strftime(&quot;%Y-%m-%d, %H:%M:%S&quot;)%&gt;" in body
    assert "req.write(str(time.strftime(&quot;%Y-%m-%d, %H:%M:%S&quot;)), 0)" in body
    assert "Hello world, the time is: 2" not in body  # shown, not run


def test_debug_view_works_for_a_page_that_does_not_compile(server):
    response = server.get("/psp/syntax.psp_")
    assert response.status_code == 200
    assert "x = (1," in response.text


def test_debug_view_needs_python_debug(server):
    assert server.get("/nodebug/hello.psp_").status_code == 404
    assert server.get("/nodebug/hello.psp").status_code == 200


def test_syntax_error_is_logged_at_the_page_line(server):
    response = server.get("/psp/syntax.psp")
    assert response.status_code == 500
    log = wait_for_log(server, "syntax.psp")
    page = str(server.docroot / "psp" / "syntax.psp")
    assert re.search(re.escape(f'File "{page}", line ') + r"[45]\b", log), log
    assert "SyntaxError" in log


def test_unclosed_tag_is_logged_with_its_line(server):
    response = server.get("/psp/unclosed.psp")
    assert response.status_code == 500
    log = wait_for_log(server, "unclosed.psp")
    page = str(server.docroot / "psp" / "unclosed.psp")
    assert f'File "{page}", line 3' in log, log
    assert "ParseError" in log and "the code is not closed" in log


def wait_for_log(server, needle: str) -> str:
    deadline = time.monotonic() + 10
    while True:
        log = server.error_log()
        if needle in log or time.monotonic() > deadline:
            return log
        time.sleep(0.1)


# ------------------------------------------------------------------- caching


def touch_later(path, seconds: int) -> None:
    """Give the file a clearly newer modification time (mtime granularity)."""
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 1_000_000_000))


def test_changed_page_is_compiled_again(server):
    path = server.write("htdocs/psp/changing.psp", "version <%= 1 %>\n")
    for _ in range(4):  # reach several children/threads, each caches it
        assert text_of(server.get("/psp/changing.psp")) == "version 1\n"
    path.write_text("version <%= 2 %>\n")
    touch_later(path, 5)
    for _ in range(4):
        assert text_of(server.get("/psp/changing.psp")) == "version 2\n"


def test_changed_include_is_noticed(server):
    server.write("htdocs/psp/parts/changing.inc", "part A\n")
    server.write("htdocs/psp/with_part.psp", '<%@ include file="parts/changing.inc" %>')
    assert text_of(server.get("/psp/with_part.psp")) == "part A\n"
    part = server.write("htdocs/psp/parts/changing.inc", "part B, longer\n")
    touch_later(part, 5)
    assert text_of(server.get("/psp/with_part.psp")) == "part B, longer\n"


@pytest.mark.parametrize(
    "directory, prefix, dbm_name",
    [
        ("dbm", "dbm cached", "psp.dbm"),
        ("olddbm", "old option", "old.dbm"),
    ],
)
def test_dbm_cache(server, directory, prefix, dbm_name):
    assert text_of(server.get(f"/{directory}/page.psp")) == f"{prefix}: one\n"
    stored = glob.glob(str(server.root / "cache" / dbm_name) + "*")
    assert any(not name.endswith(".lock") for name in stored), stored
    path = server.docroot / directory / "page.psp"
    path.write_text(f"{prefix}: <%= 'two' %>\n")
    touch_later(path, 5)
    assert text_of(server.get(f"/{directory}/page.psp")) == f"{prefix}: two\n"
    assert text_of(server.get(f"/{directory}/page.psp")) == f"{prefix}: two\n"


def test_many_concurrent_requests(server):
    def fetch(i: int) -> str:
        return server.get(f"/psp/form.psp?name=n{i}").text

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        bodies = list(pool.map(fetch, range(64)))
    for i, body in enumerate(bodies):
        assert f"hello n{i}," in body
