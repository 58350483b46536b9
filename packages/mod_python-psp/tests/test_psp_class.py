"""mod_python.psp outside Apache: PSP, PSPInterface, parse(), parsestring().

The request is a FakeRequest (tests/pspfake.py): an object with write(),
which is all a page needs, plus what each test exercises.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import traceback
from pathlib import Path

import pytest
from pspfake import FakeRequest

from mod_python import _psp_cache, psp


@pytest.fixture(autouse=True)
def empty_cache():
    _psp_cache.memory.clear()
    yield
    _psp_cache.memory.clear()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def later(path: Path, seconds: int = 5) -> None:
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 1_000_000_000))


# -------------------------------------------------------------- module API


def test_parse_and_parsestring_return_code(tmp_path):
    write(tmp_path / "p.psp", "x<%= 1 %>")
    code = psp.parse("p.psp", str(tmp_path) + "/")
    assert code == 'req.write("""x""", 0); req.write(str(1), 0)\n'
    assert psp.parsestring("x<%= 1 %>") == psp.parse(str(tmp_path / "p.psp"))
    assert psp.parsestring("") == ""


def test_parse_error_is_exported():
    with pytest.raises(psp.ParseError):
        psp.parsestring("<%")


def test_import_does_not_load_apache_or_the_extras():
    code = "import sys, mod_python.psp; print(sorted(m for m in sys.modules if 'mod_python' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = eval(out.stdout)
    assert "mod_python.apache" not in loaded
    assert "mod_python.Session" not in loaded and "mod_python.util" not in loaded


# ------------------------------------------------------------------- PSP


def test_manual_template_example(tmp_path):
    write(tmp_path / "template.html", "<h1>Hello, <%=what%>!</h1>\n")
    req = FakeRequest(filename=str(tmp_path / "handler.py"))
    template = psp.PSP(req, filename="template.html")  # relative to req.filename's directory
    template.run({"what": "world"})
    assert req.output == "<h1>Hello, world!</h1>\n"
    assert template.filename == str(tmp_path / "template.html")


def test_string_page_and_vars():
    req = FakeRequest()
    page = psp.PSP(req, string="<%= a %>-<%= b %>", vars={"a": 1, "b": 2})
    page.run({"b": 3})  # run's vars win
    assert req.output == "1-3"
    page.run()
    assert req.output == "1-31-2"


def test_defaults_to_req_filename(tmp_path):
    req = FakeRequest(filename=str(write(tmp_path / "index.psp", "index")))
    psp.PSP(req).run()
    assert req.output == "index"


def test_empty_string_is_a_page_not_a_missing_one(tmp_path):
    req = FakeRequest(filename=str(write(tmp_path / "other.psp", "other")))
    psp.PSP(req, string="").run()
    assert req.output == ""


def test_filename_and_string_together_are_refused():
    with pytest.raises(ValueError, match="not both"):
        psp.PSP(FakeRequest(), filename="a", string="b")


def test_no_page_at_all_is_refused():
    with pytest.raises(ValueError, match="req.filename"):
        psp.PSP(FakeRequest())


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        psp.PSP(FakeRequest(), filename=str(tmp_path / "missing.psp"))


def test_code_attribute_is_the_compiled_page():
    page = psp.PSP(FakeRequest(), string="<% x = 1 %>")
    assert page.code.co_filename == "<string>"
    assert "x" in page.code.co_names


def test_page_globals(tmp_path):
    req = FakeRequest(filename=str(tmp_path / "x.psp"), form={"k": "v"})
    page = psp.PSP(
        req,
        string="<%= req is R %> <%= type(psp).__name__ %> <%= form['k'] %> <%= __name__ %>",
        vars={"R": req},
    )
    page.run()
    assert req.output == "True PSPInterface v __psp__"


def test_flush_is_called_only_when_asked():
    req = FakeRequest()
    page = psp.PSP(req, string="x")
    page.run()
    assert req.flushes == 0
    page.run(flush=1)
    assert req.flushes == 1


def test_page_without_form_or_session_needs_neither():
    # a bare object with write() is enough
    class Minimal:
        def __init__(self):
            self.parts = []

        def write(self, data, flush=1):
            self.parts.append(data)

    req = Minimal()
    psp.PSP(req, string="<% for i in range(3): %><%= i %><% # end %>").run()
    assert "".join(req.parts) == "012"


def test_form_outside_apache_must_be_given():
    with pytest.raises(ImportError, match="set req.form"):
        psp.PSP(FakeRequest(), string="<%= form %>").run()


def test_form_is_taken_from_req_form():
    # MODPYTHON-38: a FieldStorage left in req.form by earlier code is used
    req = FakeRequest(form={"x": "1"})
    psp.PSP(req, string="<%= form['x'] %>").run()
    assert req.output == "1"


def test_runtime_error_points_at_the_page_line(tmp_path):
    path = write(tmp_path / "err.psp", "<html>\n<p>\n<% x = 1 %>\n<%= 1 / 0 %>\n</p>\n")
    with pytest.raises(ZeroDivisionError) as info:
        psp.PSP(FakeRequest(), filename=str(path)).run()
    frame = traceback.extract_tb(info.value.__traceback__)[-1]
    assert (frame.filename, frame.lineno) == (str(path), 4)
    assert frame.line == "<%= 1 / 0 %>"  # linecache reads the page itself


def test_syntax_error_is_reported_at_the_page_line(tmp_path):
    path = write(tmp_path / "bad.psp", "<p>\n<% for i in range(3): %>\n<% if i = 2: %>\n")
    with pytest.raises(SyntaxError) as info:
        psp.PSP(FakeRequest(), filename=str(path))
    assert info.value.filename == str(path)
    assert info.value.lineno == 3
    assert info.value.text == "<% if i = 2: %>"


def test_syntax_error_in_an_included_file_names_that_file(tmp_path):
    write(tmp_path / "inc.psp", "ok\n<%\nx = = 1\n%>\n")
    path = write(tmp_path / "main.psp", 'one\n<%@ include file="inc.psp" %>\n')
    with pytest.raises(SyntaxError) as info:
        psp.PSP(FakeRequest(), filename=str(path))
    assert info.value.filename == str(tmp_path / "inc.psp")
    assert info.value.lineno == 3


def test_indentation_error_keeps_its_class():
    with pytest.raises(IndentationError) as info:
        psp.PSP(FakeRequest(), string="a\n<%\n  x = 1\n%>")
    assert info.value.lineno == 3
    assert info.value.filename == "<string>"


def test_repr():
    assert repr(psp.PSP(FakeRequest(), string="")) == "<mod_python.psp.PSP string>"


# ---------------------------------------------------------------- caching


def test_file_pages_are_compiled_once(tmp_path):
    path = write(tmp_path / "p.psp", "one")
    first = psp.PSP(FakeRequest(), filename=str(path))
    second = psp.PSP(FakeRequest(), filename=str(path))
    assert first.code is second.code


def test_changed_file_is_compiled_again(tmp_path):
    path = write(tmp_path / "p.psp", "one")
    first = psp.PSP(FakeRequest(), filename=str(path))
    write(path, "two")
    later(path)
    req = FakeRequest()
    second = psp.PSP(req, filename=str(path))
    assert second.code is not first.code
    second.run()
    assert req.output == "two"


def test_same_mtime_but_other_size_is_noticed(tmp_path):
    path = write(tmp_path / "p.psp", "one")
    st = os.stat(path)
    psp.PSP(FakeRequest(), filename=str(path))
    write(path, "three")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    req = FakeRequest()
    psp.PSP(req, filename=str(path)).run()
    assert req.output == "three"


def test_changed_include_is_noticed(tmp_path):
    inc = write(tmp_path / "inc.psp", "A")
    path = write(tmp_path / "p.psp", '<%@ include file="inc.psp" %>')
    psp.PSP(FakeRequest(), filename=str(path))
    write(inc, "B")
    later(inc)
    req = FakeRequest()
    psp.PSP(req, filename=str(path)).run()
    assert req.output == "B"


def test_strings_are_cached_in_memory():
    a = psp.PSP(FakeRequest(), string="<%= 1 %>")
    b = psp.PSP(FakeRequest(), string="<%= 1 %>")
    assert a.code is b.code
    assert ("string", "<%= 1 %>") in _psp_cache.memory


def test_memory_cache_keeps_512_pages_least_recently_used_first(tmp_path):
    assert _psp_cache.MAX_PAGES == 512
    cache = _psp_cache.MemoryCache(size=3)
    pages = {key: object() for key in "abcd"}
    for key in "abc":
        cache.put(key, pages[key])
    assert cache.get("a") is pages["a"]  # now b is the oldest
    cache.put("d", pages["d"])
    assert "b" not in cache and len(cache) == 3
    assert all(key in cache for key in "acd")


def test_memory_cache_limit_applies_to_pages():
    for i in range(_psp_cache.MAX_PAGES + 20):
        psp.PSP(FakeRequest(), string=f"page {i}")
    assert len(_psp_cache.memory) == _psp_cache.MAX_PAGES
    assert ("string", "page 0") not in _psp_cache.memory
    assert ("string", f"page {_psp_cache.MAX_PAGES + 19}") in _psp_cache.memory


def test_cache_is_safe_with_threads(tmp_path):
    paths = [write(tmp_path / f"p{i}.psp", f"<%= {i} %>") for i in range(20)]
    errors = []

    def work(n):
        try:
            for k in range(200):
                path = paths[(n + k) % len(paths)]
                req = FakeRequest()
                psp.PSP(req, filename=str(path)).run()
                assert req.output == path.stem[1:]
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.parametrize("option", ["mod_python.psp.cache_database_filename", "PSPDbmCache"])
def test_dbm_cache(tmp_path, option):
    db = str(tmp_path / "cache" / "psp.dbm")
    os.mkdir(tmp_path / "cache")
    path = write(tmp_path / "p.psp", "dbm <%= 1 %>")
    req = FakeRequest(options={option: db})
    psp.PSP(req, filename=str(path)).run()
    assert req.output == "dbm 1"
    assert len(_psp_cache.memory) == 0  # file pages go to the dbm file only
    stored = _psp_cache.dbm_cache(db).get(str(path))
    assert stored is not None and _psp_cache.is_current(stored)
    # a new interpreter would find it there: the code object round-trips
    req = FakeRequest()
    exec(stored.code, {"req": req})
    assert req.output == "dbm 1"
    write(path, "dbm <%= 2 %>")
    later(path)
    req = FakeRequest(options={option: db})
    psp.PSP(req, filename=str(path)).run()
    assert req.output == "dbm 2"


def test_dbm_cache_entry_of_another_python_is_ignored(tmp_path):
    import dbm

    db = str(tmp_path / "psp.dbm")
    path = write(tmp_path / "p.psp", "fresh")
    with dbm.open(db, "c") as store:
        store[os.fsencode(str(path))] = b"mod_python.psp:????garbage"
    req = FakeRequest(options={_psp_cache.DBM_OPTION: db})
    psp.PSP(req, filename=str(path)).run()
    assert req.output == "fresh"


def test_unusable_dbm_cache_is_logged_and_bypassed(tmp_path):
    path = write(tmp_path / "p.psp", "still served")
    db = str(tmp_path / "no" / "such" / "dir" / "psp.dbm")
    req = FakeRequest(options={_psp_cache.DBM_OPTION: db})
    psp.PSP(req, filename=str(path)).run()
    assert req.output == "still served"
    assert any("PSP cache" in message for message in req.logged)


# ------------------------------------------------------------ error pages


def test_error_page_gets_the_exception(tmp_path):
    write(tmp_path / "oops.psp", "oops: <%= exception[0].__name__ %> <%= exception[1] %>")
    path = write(tmp_path / "p.psp", '<% psp.set_error_page("oops.psp") %>a<% 1/0 %>b')
    req = FakeRequest()
    psp.PSP(req, filename=str(path)).run()
    assert req.output == "aoops: ZeroDivisionError division by zero"


def test_error_page_exception_is_the_exc_info_triple(tmp_path):
    write(tmp_path / "oops.psp", "<%= len(exception) %> <%= exception[2].tb_frame is not None %>")
    page = psp.PSP(
        FakeRequest(),
        filename=str(
            write(tmp_path / "p.psp", "<% psp.set_error_page('oops.psp') %><% raise KeyError %>")
        ),
    )
    page.run()
    assert page.req.output == "3 True"


def test_absolute_error_page_is_under_the_document_root(tmp_path):
    write(tmp_path / "root" / "errors" / "oops.psp", "root error page")
    path = write(
        tmp_path / "site" / "p.psp", '<% psp.set_error_page("/errors/oops.psp") %><% boom %>'
    )
    req = FakeRequest(document_root=str(tmp_path / "root"))
    psp.PSP(req, filename=str(path)).run()
    assert req.output == "root error page"


def test_error_in_the_error_page_propagates(tmp_path):
    write(tmp_path / "oops.psp", "<% raise RuntimeError('error page broke') %>")
    path = write(tmp_path / "p.psp", '<% psp.set_error_page("oops.psp") %><% 1/0 %>')
    with pytest.raises(RuntimeError, match="error page broke") as info:
        psp.PSP(FakeRequest(), filename=str(path)).run()
    assert isinstance(info.value.__context__, ZeroDivisionError)


def test_missing_error_page_is_reported_when_set(tmp_path):
    path = write(tmp_path / "p.psp", '<% psp.set_error_page("none.psp") %>')
    with pytest.raises(FileNotFoundError):
        psp.PSP(FakeRequest(), filename=str(path)).run()


def test_without_error_page_the_exception_propagates():
    with pytest.raises(ZeroDivisionError):
        psp.PSP(FakeRequest(), string="<% 1/0 %>").run()


# ------------------------------------------------------------- sessions


class FakeSession(dict):
    def __init__(self):
        super().__init__()
        self.saved = self.unlocked = 0

    def save(self):
        self.saved += 1

    def unlock(self):
        self.unlocked += 1


def test_session_is_made_only_when_the_code_uses_it(monkeypatch):
    made = []
    monkeypatch.setattr(psp, "_new_session", lambda req: made.append(FakeSession()) or made[-1])
    psp.PSP(FakeRequest(), string="no session here").run()
    assert made == []
    req = FakeRequest()
    psp.PSP(req, string="<% session['n'] = 1 %><%= session['n'] %>").run()
    assert req.output == "1"
    assert len(made) == 1
    # saved after the page, unlocked, and not left in req
    assert (made[0].saved, made[0].unlocked) == (1, 1)
    assert not hasattr(req, "session")


def test_session_used_only_in_a_function_of_the_page(monkeypatch):
    made = []
    monkeypatch.setattr(psp, "_new_session", lambda req: made.append(FakeSession()) or made[-1])
    page = "<%\ndef count():\n    return len(session)\n# end\n%><%= count() %>"
    req = FakeRequest()
    psp.PSP(req, string=page).run()
    assert req.output == "0" and len(made) == 1


def test_session_of_a_failed_page_is_unlocked_not_saved(monkeypatch):
    made = []
    monkeypatch.setattr(psp, "_new_session", lambda req: made.append(FakeSession()) or made[-1])
    with pytest.raises(ZeroDivisionError):
        psp.PSP(FakeRequest(), string="<% session['x'] = 1/0 %>").run()
    assert (made[0].saved, made[0].unlocked) == (0, 1)


def test_session_from_req_is_used_and_left_alone():
    # MODPYTHON-176: only a session the page made is unlocked by it
    req = FakeRequest()
    req.session = FakeSession()
    psp.PSP(req, string="<% session['seen'] = 1 %>").run()
    assert req.session == {"seen": 1}
    assert (req.session.saved, req.session.unlocked) == (0, 0)


def test_error_page_shares_the_session(monkeypatch, tmp_path):
    # MODPYTHON-175: a second Session would wait for the first one's lock
    made = []
    monkeypatch.setattr(psp, "_new_session", lambda req: made.append(FakeSession()) or made[-1])
    write(tmp_path / "oops.psp", "<%= session['before'] %>")
    path = write(
        tmp_path / "p.psp",
        "<% psp.set_error_page('oops.psp') %><% session['before'] = 'b' %><% 1/0 %>",
    )
    req = FakeRequest()
    psp.PSP(req, filename=str(path)).run()
    assert req.output == "b"
    assert len(made) == 1 and made[0].unlocked == 1


def test_session_needs_mod_python_session(monkeypatch):
    monkeypatch.setitem(sys.modules, "mod_python.Session", None)  # as if not installed
    with pytest.raises(ImportError, match=r"mod_python-psp\[session\]"):
        psp.PSP(FakeRequest(), string="<%= session %>").run()


# ------------------------------------------------------------ PSPInterface


def test_apply_data_passes_the_fields_a_callable_takes():
    req = FakeRequest(form={"name": "ann", "age": "7", "other": "x"})
    iface = psp.PSPInterface(req, None, req.form)

    def person(name, age="0", req=None):
        return (name, age, req)

    assert iface.apply_data(person) == ("ann", "7", req)
    assert iface.apply_data(person, age="8") == ("ann", "8", req)


def test_apply_data_with_kwargs_and_classes():
    req = FakeRequest(form={"a": "1", "b": ["2", "3"]})
    iface = psp.PSPInterface(req, None, None)

    def everything(**fields):
        return fields

    class Point:
        def __init__(self, a, b):
            self.a, self.b = a, b

    assert everything == everything and iface.apply_data(everything) == {"a": "1", "b": ["2", "3"]}
    point = iface.apply_data(Point)
    assert (point.a, point.b) == ("1", ["2", "3"])


def test_apply_data_in_a_page():
    req = FakeRequest(form={"x": "4"})
    psp.PSP(req, string="<%= psp.apply_data(lambda x: int(x) ** 2) %>").run()
    assert req.output == "16"


def test_redirect_needs_apache():
    with pytest.raises(ImportError):
        psp.PSPInterface(FakeRequest(), None, None).redirect("/elsewhere")


# ------------------------------------------------------------- display_code


def test_display_code_shows_page_and_code_side_by_side(tmp_path):
    path = write(tmp_path / "p.psp", "<b>&</b>\n<%= 1 %>\n")
    html = psp.PSP(FakeRequest(), filename=str(path)).display_code()
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in html  # escaped source
    assert "req.write(str(1), 0)" in html
    assert html.count("<tr>") == 1 + 3  # header + three lines of code
    assert str(path) in html


def test_display_code_of_a_string():
    html = psp.PSP(FakeRequest(), string="<%= 'x' %>").display_code()
    assert "req.write(str(&#x27;x&#x27;), 0)" in html


def test_listing_of_a_page_that_does_not_parse(tmp_path):
    from mod_python import _psp_view

    path = write(tmp_path / "bad.psp", "a\n<% oops")
    html = _psp_view.file_listing(str(path))
    assert "the code is not closed" in html
    assert "&lt;% oops" in html
