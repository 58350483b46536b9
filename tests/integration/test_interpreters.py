"""Multiple interpreters (manual 4.1) and the directives that name them:
PythonInterpreter, PythonInterpPerDirectory, PythonInterpPerDirective (5.4.4-5.4.6).

Isolation is shown with a marker list kept in ``sys`` (one ``sys`` per
interpreter) and a module-level counter: what one interpreter stores is
invisible in another and still there on a later request to the same one.
The server runs a single child, so every request meets the same
interpreters; each answer carries the child's pid to prove it.
"""

from __future__ import annotations

import uuid

import pytest

from mod_python._httpd import free_port

STATE = """
    import json, os, sys
    from mod_python import apache

    calls = 0

    def handler(req):
        global calls
        calls += 1
        marks = sys.__dict__.setdefault("mp_test_marks", [])
        if req.args and req.args.startswith("mark="):
            marks.append(req.args[len("mark="):])
        req.content_type = "application/json"
        req.write(json.dumps({
            "interpreter": req.interpreter,
            "apache_interpreter": apache.interpreter,
            "pid": os.getpid(),
            "marks": list(marks),
            "calls": calls,
            "module_file": __file__,
            "early_prr": req.notes.get("early_prr"),
            "early_trans": req.notes.get("early_trans"),
            "fixup": req.notes.get("fixup"),
        }))
        return apache.OK

    def fixup(req):
        req.notes["fixup"] = req.interpreter + "|" + apache.interpreter
        return apache.OK
"""

# Server-level handlers of the early.test virtual host (imported from {root}/lib).
EARLY = """
    from mod_python import apache

    def postreadrequesthandler(req):
        req.notes["early_prr"] = req.interpreter + "|" + apache.interpreter
        return apache.OK

    def transhandler(req):
        req.notes["early_trans"] = req.interpreter + "|" + apache.interpreter
        return apache.DECLINED
"""

CONFIG = """
    <Directory "{docroot}/plain">
        SetHandler mod_python
        PythonHandler state
    </Directory>
    <Directory "{docroot}/plain2">
        SetHandler mod_python
        PythonHandler state
    </Directory>

    <Directory "{docroot}/forced1">
        SetHandler mod_python
        PythonHandler state
        PythonInterpreter shared_one
    </Directory>
    <Directory "{docroot}/forced2">
        SetHandler mod_python
        PythonHandler state
        PythonInterpreter shared_one
    </Directory>
    <Directory "{docroot}/mainint">
        SetHandler mod_python
        PythonHandler state
        PythonInterpreter main_interpreter
    </Directory>

    <Directory "{docroot}/perdir">
        SetHandler mod_python
        PythonHandler state
        PythonInterpPerDirectory On
    </Directory>

    <Directory "{docroot}/directive">
        SetHandler mod_python
        PythonHandler state
        PythonFixupHandler state::fixup
        PythonInterpPerDirective On
    </Directory>

    # Apache 2.2 needs this for name-based hosts; 2.4 ignores it with a notice.
    NameVirtualHost 127.0.0.1:@VPORT@
    <VirtualHost 127.0.0.1:@VPORT@>
        ServerName alpha.test
    </VirtualHost>
    <VirtualHost 127.0.0.1:@VPORT@>
        ServerName beta.test
    </VirtualHost>
    <VirtualHost 127.0.0.1:@VPORT@>
        ServerName gamma.test
        PythonInterpreter gamma_forced
    </VirtualHost>
    <VirtualHost 127.0.0.1:@VPORT@>
        ServerName early.test
        PythonPath "sys.path + ['{root}/lib']"
        PythonInterpPerDirectory On
        PythonPostReadRequestHandler early
        PythonTransHandler early
    </VirtualHost>
"""


@pytest.fixture(scope="module")
def server(start_server, single_child):
    vport = free_port()
    fields, sizing = single_child
    srv = start_server(
        sizing + CONFIG.replace("@VPORT@", str(vport)),
        files={
            "htdocs/plain/state.py": STATE,
            "htdocs/plain2/state.py": STATE,
            "htdocs/forced1/state.py": STATE,
            "htdocs/forced2/state.py": STATE,
            "htdocs/mainint/state.py": STATE,
            "htdocs/perdir/state.py": STATE,
            "htdocs/perdir/sub/page.txt": "a page\n",
            "htdocs/directive/state.py": STATE,
            "htdocs/directive/other/page.txt": "a page\n",
            "htdocs/directive/sub/.htaccess": "PythonHandler state\n",
            "htdocs/directive/sub/state.py": STATE,
            "lib/early.py": EARLY,
        },
        listen_extra=[vport],
        **fields,
    )
    srv.vport = vport
    srv.pids = set()
    return srv


def probe(server, path: str, host: str | None = None, mark: str | None = None) -> dict:
    """GET *path* (on the virtual-host port when *host* is given) and return the
    handler's report, checking the status, the body and that one child answered."""
    if host is None:
        url, headers = server.url + path, {}
    else:
        url, headers = f"http://127.0.0.1:{server.vport}{path}", {"Host": host}
    params = {"mark": mark} if mark else None
    r = server.http.get(url, params=params, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json"
    info = r.json()
    assert info["interpreter"] == info["apache_interpreter"]
    server.pids.add(info["pid"])
    assert len(server.pids) == 1, f"requests reached several children: {server.pids}"
    return info


def new_mark() -> str:
    return uuid.uuid4().hex[:12]


# --------------------------------------------------------------------------- default naming


def test_default_interpreter_is_the_server_name(server):
    assert probe(server, "/plain/x")["interpreter"] == "127.0.0.1"


def test_state_persists_in_an_interpreter_across_requests(server):
    mark = new_mark()
    first = probe(server, "/plain/x", mark=mark)
    second = probe(server, "/plain/x")
    assert mark in first["marks"]
    assert mark in second["marks"]
    # The module stays loaded: its global counter keeps counting.
    assert second["calls"] == first["calls"] + 1


def test_directories_of_one_virtual_server_share_its_interpreter(server):
    mark = new_mark()
    probe(server, "/plain/x", mark=mark)
    other = probe(server, "/plain2/x")
    assert other["interpreter"] == "127.0.0.1"
    assert other["module_file"] == str(server.docroot / "plain2" / "state.py")
    assert mark in other["marks"]


def test_each_virtual_host_gets_an_interpreter_named_after_it(server):
    assert probe(server, "/plain/x", host="alpha.test")["interpreter"] == "alpha.test"
    assert probe(server, "/plain/x", host="beta.test")["interpreter"] == "beta.test"


def test_virtual_hosts_are_isolated(server):
    a_mark, b_mark = new_mark(), new_mark()
    a = probe(server, "/plain/x", host="alpha.test", mark=a_mark)
    b = probe(server, "/plain/x", host="beta.test", mark=b_mark)
    main = probe(server, "/plain/x")
    assert a_mark in a["marks"] and b_mark not in a["marks"]
    assert b_mark in b["marks"] and a_mark not in b["marks"]
    assert a_mark not in main["marks"] and b_mark not in main["marks"]
    again = probe(server, "/plain/x", host="alpha.test")
    assert a_mark in again["marks"] and b_mark not in again["marks"]
    # The same file is a separate module in each interpreter.
    assert again["calls"] == a["calls"] + 1


def test_python_interpreter_in_a_virtual_host(server):
    mark = new_mark()
    info = probe(server, "/plain/x", host="gamma.test", mark=mark)
    assert info["interpreter"] == "gamma_forced"
    assert mark not in probe(server, "/plain/x", host="alpha.test")["marks"]
    assert mark in probe(server, "/plain2/x", host="gamma.test")["marks"]


# --------------------------------------------------------------------------- PythonInterpreter


def test_python_interpreter_forces_one_name_on_two_directories(server):
    one = probe(server, "/forced1/x")
    two = probe(server, "/forced2/x")
    assert one["interpreter"] == two["interpreter"] == "shared_one"


def test_forced_interpreter_shares_state_between_its_directories(server):
    mark = new_mark()
    probe(server, "/forced1/x", mark=mark)
    assert mark in probe(server, "/forced2/x")["marks"]
    assert mark not in probe(server, "/plain/x")["marks"]
    plain_mark = new_mark()
    probe(server, "/plain/x", mark=plain_mark)
    assert plain_mark not in probe(server, "/forced1/x")["marks"]


def test_forcing_the_main_interpreter(server):
    mark = new_mark()
    info = probe(server, "/mainint/x", mark=mark)
    assert info["interpreter"] == "main_interpreter"
    assert mark not in probe(server, "/plain/x")["marks"]
    assert mark not in probe(server, "/forced1/x")["marks"]
    again = probe(server, "/mainint/x")
    assert again["interpreter"] == "main_interpreter"
    assert mark in again["marks"]
    assert again["calls"] == info["calls"] + 1


# ----------------------------------------------------------------- PythonInterpPerDirectory


def test_interp_per_directory_names_interpreters_after_the_file_directory(server):
    top = probe(server, "/perdir/x")
    sub = probe(server, "/perdir/sub/x")
    assert top["interpreter"] == f"{server.docroot}/perdir/"
    assert sub["interpreter"] == f"{server.docroot}/perdir/sub/"
    # Both run the handler found where the directive is.
    assert top["module_file"] == sub["module_file"] == str(server.docroot / "perdir" / "state.py")


@pytest.mark.parametrize("path", ["/perdir/sub/", "/perdir/sub"])
def test_interp_per_directory_for_the_directory_itself(server, path):
    # The directory of the request is the directory itself: one interpreter, one name.
    assert probe(server, path)["interpreter"] == f"{server.docroot}/perdir/sub/"


def test_interp_per_directory_isolates_directories(server):
    mark = new_mark()
    probe(server, "/perdir/x", mark=mark)
    assert mark not in probe(server, "/perdir/sub/x")["marks"]
    assert mark not in probe(server, "/plain/x")["marks"]
    assert mark in probe(server, "/perdir/y")["marks"]
    sub_mark = new_mark()
    probe(server, "/perdir/sub/page.txt", mark=sub_mark)
    assert sub_mark not in probe(server, "/perdir/x")["marks"]
    assert sub_mark in probe(server, "/perdir/sub/x")["marks"]


def test_interp_per_directory_uses_main_interpreter_before_translation(server):
    info = probe(server, "/plain/x", host="early.test")
    # post-read-request and trans run before the file is known (manual 5.4.4 note)
    assert info["early_prr"] == "main_interpreter|main_interpreter"
    assert info["early_trans"] == "main_interpreter|main_interpreter"
    assert info["interpreter"] == f"{server.docroot}/plain/"


# ----------------------------------------------------------------- PythonInterpPerDirective


def test_interp_per_directive_names_interpreters_after_the_directive_directory(server):
    parent = probe(server, "/directive/x")
    htaccess = probe(server, "/directive/sub/x")
    inherited = probe(server, "/directive/other/x")
    assert parent["interpreter"] == f"{server.docroot}/directive/"
    assert htaccess["interpreter"] == f"{server.docroot}/directive/sub/"
    # No directive in other/: the one found in the parent <Directory> names it.
    assert inherited["interpreter"] == f"{server.docroot}/directive/"
    assert htaccess["module_file"] == str(server.docroot / "directive" / "sub" / "state.py")
    assert inherited["module_file"] == str(server.docroot / "directive" / "state.py")


def test_interp_per_directive_one_request_two_interpreters(server):
    # The fixup handler comes from the parent <Directory>, the content handler
    # from the subdirectory's .htaccess: each runs where its directive was found.
    info = probe(server, "/directive/sub/x")
    parent = f"{server.docroot}/directive/"
    assert info["fixup"] == f"{parent}|{parent}"
    assert info["interpreter"] == f"{server.docroot}/directive/sub/"


def test_interp_per_directive_isolates_the_two_directives(server):
    mark = new_mark()
    probe(server, "/directive/other/x", mark=mark)
    assert mark in probe(server, "/directive/x")["marks"]
    assert mark not in probe(server, "/directive/sub/x")["marks"]
    sub_mark = new_mark()
    probe(server, "/directive/sub/x", mark=sub_mark)
    assert sub_mark not in probe(server, "/directive/x")["marks"]
    assert sub_mark in probe(server, "/directive/sub/y")["marks"]


# --------------------------------------------------------------------------- req.interpreter


@pytest.mark.parametrize(
    "path, host",
    [
        ("/plain/x", None),
        ("/plain/x", "beta.test"),
        ("/forced2/x", None),
        ("/mainint/x", None),
        ("/perdir/sub/x", None),
        ("/directive/sub/x", None),
    ],
)
def test_req_interpreter_is_apache_interpreter(server, path, host):
    # probe() asserts req.interpreter == mod_python.apache.interpreter
    info = probe(server, path, host=host)
    assert info["interpreter"]
