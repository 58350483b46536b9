"""Python*Handler syntax and stacking (manual 5.1.1, 5.1.3, 5.1.9, 5.1.11, 5.4.7, 4.2).

Most handlers come from ``lib/stack.py`` (on sys.path through PythonPath):
each appends its name to ``req.ran`` and mirrors the list in the
``X-Ran`` response header (``err_headers_out``, so it is sent with error
pages too); ``stack::show`` writes ``ran: <names>`` as the body.
"""

from __future__ import annotations

import pytest

STACK = """
    import os

    from mod_python import apache


    def mark(req, name):
        ran = getattr(req, "ran", None)
        if ran is None:
            ran = req.ran = []
        ran.append(name)
        req.err_headers_out["X-Ran"] = " ".join(ran)


    def returning(name, result):
        def handler(req):
            mark(req, name)
            return result

        handler.__name__ = name
        return handler


    one = returning("one", apache.OK)
    two = returning("two", apache.OK)
    three = returning("three", apache.OK)
    declined = returning("declined", apache.DECLINED)
    gone = returning("gone", apache.HTTP_GONE)
    fix_parent = returning("fix_parent", apache.OK)
    fix_child = returning("fix_child", apache.OK)
    fix_py = returning("fix_py", apache.OK)


    def show(req):
        mark(req, "show")
        if not req.content_type:  # keep what a type handler chose
            req.content_type = "text/plain"
        req.write("ran: " + " ".join(req.ran))
        return apache.OK


    def done(req):
        mark(req, "done")
        req.content_type = "text/plain"
        req.write("done wrote this")
        return apache.DONE


    def raise_forbidden(req):
        mark(req, "raise_forbidden")
        raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)


    def authen_ok(req):
        mark(req, "authen_ok:" + req.phase)
        if req.get_basic_auth_pw() == "eggs":
            return apache.OK
        return apache.HTTP_UNAUTHORIZED


    def authen_late(req):
        mark(req, "authen_late")
        return apache.HTTP_FORBIDDEN


    def type_declined(req):
        mark(req, "type_declined")
        return apache.DECLINED


    def type_ok(req):
        mark(req, "type_ok")
        req.content_type = "text/x-first"
        return apache.OK


    def type_late(req):
        mark(req, "type_late")
        req.content_type = "text/x-late"
        return apache.OK


    # Server-level trans handlers: they run for every request, so they act
    # (and leave a mark) only under /tr/.
    def in_tr(req):
        return req.uri.startswith("/tr/")


    def trans_declined(req):
        if in_tr(req):
            mark(req, "trans_declined")
        return apache.DECLINED


    def trans_ok(req):
        if not in_tr(req):
            return apache.DECLINED
        mark(req, "trans_ok")
        req.filename = os.path.join(req.document_root(), "trfiles", req.uri[len("/tr/"):])
        return apache.OK


    def trans_late(req):
        if not in_tr(req):
            return apache.DECLINED
        mark(req, "trans_late")
        req.filename = os.path.join(req.document_root(), "trfiles", "late.txt")
        return apache.OK
"""

KLASS = """
    from mod_python import apache


    class Page:
        def __init__(self, req):
            self.req = req
            self.uri = req.uri

        def render(self, req):
            req.content_type = "text/plain"
            req.write("Page.render uri=%s same_req=%s" % (self.uri, self.req is req))
            return apache.OK


    class Greeter:
        def __init__(self, req):
            self.name = req.args or "world"

        def __call__(self, req):
            req.content_type = "text/plain"
            req.write("Greeter(%s)" % self.name)
            return apache.OK
"""

# A pseudo package (manual 4.5.1): `sub/mod` names <directory>/sub/mod.py; the
# document tree is not on sys.path, and `sub.mod` would be a sys.path package.
SUBMOD = """
    from mod_python import apache


    def hello(req):
        req.content_type = "text/plain"
        req.write("hello from sub/mod.py")
        return apache.OK


    def handler(req):
        req.content_type = "text/plain"
        req.write("default handler of sub/mod.py")
        return apache.OK
"""

ABSMOD = """
    from mod_python import apache


    def handler(req):
        req.content_type = "text/plain"
        req.write("absmod.handler;")
        return apache.OK


    def other(req):
        req.write("absmod.other;")
        return apache.OK
"""

# Default callables: one module, every directive without ::callable.
DEFS = """
    from mod_python import apache


    def ran(req, name):
        if not hasattr(req, "ran"):
            req.ran = []
        req.ran.append(name + "@" + req.phase)


    def headerparserhandler(req):
        ran(req, "headerparserhandler")
        return apache.OK


    def accesshandler(req):
        ran(req, "accesshandler")
        return apache.OK


    def typehandler(req):
        ran(req, "typehandler")
        return apache.DECLINED


    def fixuphandler(req):
        ran(req, "fixuphandler")
        return apache.OK


    def handler(req):
        ran(req, "handler")
        req.content_type = "text/plain"
        req.write(" ".join(req.ran))
        return apache.OK
"""

# PythonHandlerModule: no accesshandler, typehandler, loghandler, ... here.
HMOD = """
    from mod_python import apache


    def ran(req, name):
        if not hasattr(req, "ran"):
            req.ran = []
        req.ran.append(name + "@" + req.phase)


    def fixuphandler(req):
        ran(req, "fixuphandler")
        return apache.OK


    def handler(req):
        ran(req, "handler")
        req.content_type = "text/plain"
        req.write(" ".join(req.ran))
        return apache.OK
"""

HTA_LOCAL = """
    from mod_python import apache


    def handler(req):
        req.ran = getattr(req, "ran", [])
        req.ran.append("hta_local")
        return apache.OK
"""

HTACCESS = """
    PythonHandler local stack::show
"""

CONFIG = """
    PythonPath "sys.path + ['{root}/lib']"
    PythonTransHandler stack::trans_declined stack::trans_ok stack::trans_late

    <Directory "{docroot}/line">
        SetHandler mod_python
        PythonHandler stack::one stack::two stack::three stack::show
    </Directory>
    <Directory "{docroot}/repeat">
        SetHandler mod_python
        PythonHandler stack::one
        PythonHandler stack::two stack::three
        PythonHandler stack::show
    </Directory>

    <Directory "{docroot}/inh">
        SetHandler mod_python
        PythonFixupHandler stack::fix_parent
        PythonHandler stack::one stack::show
    </Directory>
    <Directory "{docroot}/inh/sub">
        PythonHandler stack::two stack::show
    </Directory>
    <Directory "{docroot}/inh/other">
        PythonFixupHandler stack::fix_child
    </Directory>

    <Directory "{docroot}/ext">
        SetHandler mod_python
        PythonFixupHandler stack::fix_py | .py
        PythonHandler stack::one stack::show | .py .txt
    </Directory>

    <Directory "{docroot}/cls">
        SetHandler mod_python
        PythonHandler klass::Page.render
    </Directory>
    <Directory "{docroot}/cls/call">
        PythonHandler klass::Greeter
    </Directory>
    <Directory "{docroot}/pkg">
        SetHandler mod_python
        PythonHandler sub/mod::hello
    </Directory>
    <Directory "{docroot}/pkg/default">
        PythonHandler sub/mod
    </Directory>
    <Directory "{docroot}/abs">
        SetHandler mod_python
        PythonHandler {root}/elsewhere/absmod.py {root}/elsewhere/absmod.py::other
    </Directory>
    <Directory "{docroot}/defaults">
        SetHandler mod_python
        PythonHeaderParserHandler defs
        PythonAccessHandler defs
        PythonTypeHandler defs
        PythonFixupHandler defs
        PythonHandler defs
    </Directory>
    <Directory "{docroot}/hm">
        SetHandler mod_python
        PythonHandlerModule hmod
    </Directory>

    <Directory "{docroot}/okdecl">
        SetHandler mod_python
        PythonHandler stack::one stack::declined stack::show
    </Directory>
    <Directory "{docroot}/code">
        SetHandler mod_python
        PythonHandler stack::one stack::gone stack::show
    </Directory>
    <Directory "{docroot}/done">
        SetHandler mod_python
        PythonHandler stack::one stack::done stack::show
    </Directory>
    <Directory "{docroot}/raise">
        SetHandler mod_python
        PythonHandler stack::one stack::raise_forbidden stack::show
    </Directory>
    <Directory "{docroot}/lastdecl">
        SetHandler mod_python
        PythonHandler stack::one stack::declined
    </Directory>
    <Directory "{docroot}/lastok">
        SetHandler mod_python
        PythonHandler stack::declined stack::one
    </Directory>
    <Directory "{docroot}/accok">
        SetHandler mod_python
        PythonAccessHandler stack::one stack::declined stack::two
        PythonHandler stack::show
    </Directory>
    <Directory "{docroot}/accstop">
        SetHandler mod_python
        PythonAccessHandler stack::one stack::gone stack::two
        PythonHandler stack::show
    </Directory>
    <Directory "{docroot}/authstop">
        SetHandler mod_python
        AuthType Basic
        AuthName "stacking"
        Require valid-user
        PythonAuthenHandler stack::declined stack::authen_ok stack::authen_late
        PythonHandler stack::show
    </Directory>
    <Directory "{docroot}/tstop">
        SetHandler mod_python
        PythonTypeHandler stack::type_declined stack::type_ok stack::type_late
        PythonHandler stack::show
    </Directory>
"""


KEEP = (
    "line repeat inh/sub inh/other cls/call abs okdecl code done raise accok accstop authstop tstop"
).split()


@pytest.fixture(scope="module")
def server(start_server):
    return start_server(
        CONFIG,
        files={
            "lib/stack.py": STACK,
            "lib/klass.py": KLASS,
            "elsewhere/absmod.py": ABSMOD,
            "htdocs/inh/hta/.htaccess": HTACCESS,
            "htdocs/inh/hta/local.py": HTA_LOCAL,
            "htdocs/ext/page.html": "<p>ext html</p>\n",
            "htdocs/pkg/sub/mod.py": SUBMOD,
            "htdocs/pkg/default/sub/mod.py": SUBMOD,
            "htdocs/defaults/defs.py": DEFS,
            "htdocs/hm/hmod.py": HMOD,
            "htdocs/lastdecl/page.html": "<p>static: the last handler declined</p>\n",
            "htdocs/lastok/page.html": "<p>must not be served</p>\n",
            "htdocs/trfiles/early.txt": "chosen by trans_ok\n",
            "htdocs/trfiles/late.txt": "chosen by trans_late\n",
            # <Directory> sections apply only to directories that exist.
            **{f"htdocs/{d}/.keep": "" for d in KEEP},
        },
    )


def ran(r) -> str:
    return r.headers.get("X-Ran", "")


def test_handlers_on_one_line_run_left_to_right(server):
    r = server.get("/line/x")
    assert (r.status_code, r.text) == (200, "ran: one two three show")
    assert ran(r) == "one two three show"


def test_repeated_directives_append(server):
    r = server.get("/repeat/x")
    assert (r.status_code, r.text) == (200, "ran: one two three show")


def test_parent_directory_lists(server):
    r = server.get("/inh/x")
    assert (r.status_code, r.text) == (200, "ran: fix_parent one show")


def test_subdirectory_replaces_only_the_phase_it_names(server):
    # Its own PythonHandler list, the parent's fixup list.
    r = server.get("/inh/sub/x")
    assert (r.status_code, r.text) == (200, "ran: fix_parent two show")
    # Its own fixup list, the parent's PythonHandler list.
    r = server.get("/inh/other/x")
    assert (r.status_code, r.text) == (200, "ran: fix_child one show")


def test_htaccess_replaces_the_handler_list(server):
    # local.py is found in the .htaccess directory; its default callable is handler.
    r = server.get("/inh/hta/x")
    assert (r.status_code, r.text) == (200, "ran: fix_parent hta_local show")


@pytest.mark.parametrize(
    "path, body",
    [("/ext/page.py", "ran: fix_py one show"), ("/ext/page.txt", "ran: one show")],
)
def test_extension_restriction_applies(server, path, body):
    r = server.get(path)
    assert (r.status_code, r.text) == (200, body)


def test_extension_restriction_skips_other_files(server):
    # No handler applies to .html: Apache serves the file itself.
    r = server.get("/ext/page.html")
    assert (r.status_code, r.text) == (200, "<p>ext html</p>\n")
    assert r.headers["Content-Type"] == "text/html"
    assert "X-Ran" not in r.headers


def test_class_in_dotted_object_is_instantiated_with_req(server):
    r = server.get("/cls/a")
    assert (r.status_code, r.text) == (200, "Page.render uri=/cls/a same_req=True")
    # One instance per request.
    assert server.get("/cls/b").text == "Page.render uri=/cls/b same_req=True"


def test_class_as_the_handler_is_instantiated_then_called(server):
    r = server.get("/cls/call/x?spam")
    assert (r.status_code, r.text) == (200, "Greeter(spam)")


def test_package_style_module_in_the_directive_directory(server):
    r = server.get("/pkg/x")
    assert (r.status_code, r.text) == (200, "hello from sub/mod.py")
    r = server.get("/pkg/default/x")
    assert (r.status_code, r.text) == (200, "default handler of sub/mod.py")


def test_module_given_as_an_absolute_path(server):
    r = server.get("/abs/x")
    assert (r.status_code, r.text) == (200, "absmod.handler;absmod.other;")


def test_default_callable_names(server):
    r = server.get("/defaults/x")
    assert r.status_code == 200
    assert r.text == (
        "headerparserhandler@PythonHeaderParserHandler accesshandler@PythonAccessHandler"
        " typehandler@PythonTypeHandler fixuphandler@PythonFixupHandler handler@PythonHandler"
    )


def test_handler_module_calls_the_functions_it_has(server):
    r = server.get("/hm/x")
    assert (r.status_code, r.text) == (200, "fixuphandler@PythonFixupHandler handler@PythonHandler")
    # The functions hmod lacks (accesshandler, typehandler, loghandler, ...) are no error.
    log = server.error_log()
    assert "hmod" not in log
    assert "accesshandler" not in log


def test_ok_and_declined_continue_in_the_handler_phase(server):
    r = server.get("/okdecl/x")
    assert (r.status_code, r.text) == (200, "ran: one declined show")


def test_http_status_stops_the_handler_phase_and_becomes_the_status(server):
    r = server.get("/code/x")
    assert r.status_code == 410
    assert "ran:" not in r.text
    assert ran(r) == "one gone"


def test_done_stops_the_handler_phase(server):
    r = server.get("/done/x")
    assert (r.status_code, r.text) == (200, "done wrote this")
    assert ran(r) == "one done"


def test_server_return_from_a_stacked_handler(server):
    r = server.get("/raise/x")
    assert r.status_code == 403
    assert "ran:" not in r.text
    assert ran(r) == "one raise_forbidden"


def test_final_declined_serves_the_file_despite_an_earlier_ok(server):
    r = server.get("/lastdecl/page.html")
    assert (r.status_code, r.text) == (200, "<p>static: the last handler declined</p>\n")
    assert ran(r) == "one declined"


def test_final_ok_is_the_phase_status_after_a_decline(server):
    r = server.get("/lastok/page.html")
    assert r.status_code == 200
    assert r.text == ""
    assert ran(r) == "declined one"


def test_type_phase_stops_at_the_first_ok(server):
    r = server.get("/tstop/x")
    assert (r.status_code, r.text) == (200, "ran: type_declined type_ok show")
    assert r.headers["Content-Type"] == "text/x-first"


def test_trans_phase_stops_at_the_first_ok(server):
    r = server.get("/tr/early.txt")
    assert (r.status_code, r.text) == (200, "chosen by trans_ok\n")
    assert ran(r) == "trans_declined trans_ok"
    assert r.headers["Content-Type"] == "text/plain"
    # Other URIs: every trans handler declines and Apache maps the URI itself.
    r = server.get("/trfiles/late.txt")
    assert (r.status_code, r.text) == (200, "chosen by trans_late\n")
    assert "X-Ran" not in r.headers


def test_access_phase_continues_past_ok_and_declined(server):
    r = server.get("/accok/x")
    assert (r.status_code, r.text) == (200, "ran: one declined two show")


def test_access_phase_stops_at_an_http_status(server):
    r = server.get("/accstop/x")
    assert r.status_code == 410
    assert "ran:" not in r.text
    assert ran(r) == "one gone"


def test_authen_phase_stops_at_the_first_ok(server):
    r = server.get("/authstop/x", auth=("spam", "eggs"))
    assert (r.status_code, r.text) == (
        200,
        "ran: declined authen_ok:PythonAuthenHandler show",
    )
    # Not DECLINED either: a refusal also ends the phase, authen_late never runs.
    r = server.get("/authstop/x", auth=("spam", "ham"))
    assert r.status_code == 401
    assert ran(r) == "declined authen_ok:PythonAuthenHandler"
