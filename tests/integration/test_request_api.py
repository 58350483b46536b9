"""The rest of the request object and the apache module's functions (manual
4.5.1, 4.5.4, 4.5.7): stat/finfo, mpm_query, config_tree, cleanups at child
exit, methods, redirects, conditional responses, sendfile, add_handler, hlist."""

from __future__ import annotations

import email.utils
import json
import subprocess
import time

import pytest
import requests

from mod_python._httpd import free_port

API = """
    import json, os
    from mod_python import apache

    def reply(req, value):
        req.content_type = "application/json"
        req.write(json.dumps(value))
        return apache.OK

    def handler(req):
        what = req.args or ""
        if what == "mpm":
            return reply(req, [apache.mpm_query(apache.AP_MPMQ_IS_THREADED),
                               apache.mpm_query(apache.AP_MPMQ_IS_FORKED)])
        if what == "mpm-bad":
            try:
                apache.mpm_query(9999)
            except ValueError as exc:
                return reply(req, str(exc))
        if what == "define":
            return reply(req, [apache.exists_config_define("FOREGROUND"),
                               apache.exists_config_define("NO_SUCH_DEFINE")])
        if what == "stat":
            here = apache.stat(req.filename, apache.APR_FINFO_MIN)
            d = apache.stat(os.path.dirname(req.filename))
            gone = apache.stat(req.filename + ".missing")
            return reply(req, {
                "filetype": here.filetype, "reg": apache.APR_REG, "size": here.size,
                "tuple_size": here[apache.FINFO_SIZE], "fname": here.fname,
                "dir": d.filetype == apache.APR_DIR,
                "gone": gone.filetype == apache.APR_NOFILE, "gone_size": gone.size,
                "req_finfo_size": req.finfo.size,
                "req_finfo_fname": req.finfo.fname,
                "mtime_float": isinstance(here.mtime, float),
            })
        if what == "assign-finfo":
            req.finfo = apache.stat(os.path.join(os.path.dirname(req.filename), "big.bin"))
            return reply(req, [req.finfo.size, req.finfo[apache.FINFO_FNAME].endswith("big.bin")])
        if what == "tree":
            tree = apache.config_tree()
            names = [item[0] for item in tree]
            dirs = [item for item in tree if item[0] == "<Directory" and len(item) == 3]
            return reply(req, {"names": names, "dir_children": [d[2] for d in dirs][:3]})
        if what == "server":
            s = req.server
            return reply(req, {"names": list(s.names), "wild": list(s.wild_names),
                               "port": s.port, "virtual": s.is_virtual,
                               "hostname": s.server_hostname})
        if what == "remote":
            return reply(req, [req.get_remote_host(apache.REMOTE_NOLOOKUP),
                               list(req.get_remote_host(apache.REMOTE_NOLOOKUP, 1))])
        if what == "remote-bad":
            try:
                req.get_remote_host(42)
            except ValueError as exc:
                return reply(req, str(exc))
        if what == "https":
            return reply(req, [req.is_https(), req.ssl_var_lookup("SSL_PROTOCOL")])
        if what == "allow":
            req.allow_methods(["GET", "PUT", "FROBNICATE"])
            apache.allow_methods(req, "DELETE")
            req.err_headers_out["X-Allowed"] = ",".join(req.allowed_methods)
            return apache.HTTP_METHOD_NOT_ALLOWED
        if what == "languages":
            req.content_languages = ["de", "en-GB"]
            return reply(req, list(req.content_languages))
        if what == "discard":
            return reply(req, req.discard_request_body())
        if what == "uri":
            u = req.parsed_uri
            return reply(req, [u[apache.URI_PATH], u[apache.URI_QUERY], len(u)])
        if what == "mtime":
            req.update_mtime(1000000000)
            req.update_mtime(999)  # earlier: no change
            req.set_last_modified()
            req.headers_out["ETag"] = '"v1"'
            status = req.meets_conditions()
            if status != apache.OK:
                return status
            return reply(req, req.mtime)
        if what == "etag":
            req.update_mtime(1000000000)
            req.set_etag()
            return reply(req, "tagged")
        if what == "requires":
            return reply(req, list(req.requires()))
        if what in ("sendfile", "sendfile-part"):
            path = os.path.join(os.path.dirname(req.filename), "big.bin")
            req.content_type = "application/octet-stream"
            if what == "sendfile-part":
                sent = req.sendfile(path, 10, 20)
            else:
                sent = req.sendfile(path)
            req.write(b"|%d" % sent)
            return apache.OK
        if what == "sendfile-missing":
            try:
                req.sendfile("/nonexistent/file")
            except OSError as exc:
                return reply(req, str(exc))
        if what == "cleanup":
            apache.register_cleanup(write_marker, req.get_options()["marker"])
            req.server.register_cleanup(req, write_marker, req.get_options()["marker"] + ".2")
            return reply(req, "registered")
        if what == "members":
            missing = [name for name in MEMBERS if not hasattr(req, name)]
            refused = []
            for name in READ_ONLY:
                try:
                    setattr(req, name, getattr(req, name))
                except (AttributeError, TypeError):
                    refused.append(name)
            return reply(req, {"missing": missing, "refused": refused, "read_only": READ_ONLY})
        if what == "writable":
            req.filename = req.filename + ".changed"
            req.args = "changed=1"
            req.user = "someone"
            req.no_cache = True
            req.status = apache.HTTP_ACCEPTED
            return reply(req, [req.filename.endswith(".changed"), req.args, req.user,
                               req.no_cache, req.status])
        if what == "cgi":
            req.add_common_vars()
            env = req.subprocess_env
            return reply(req, [env.get("REMOTE_ADDR"), env.get("SERVER_PORT"),
                               env.get("SCRIPT_FILENAME") == req.filename,
                               req.construct_url("/other/path")])
        if what == "length":
            req.content_type = "text/plain"
            req.set_content_length(5)
            req.write("12345", 0)
            return apache.OK
        if what == "server-members":
            s = req.server
            return reply(req, {name: getattr(s, name) for name in SERVER_MEMBERS})
        if what == "hlist":
            h = req.hlist
            return reply(req, [h.handler, h.directory, h.is_location, h.location, h.silent])
        return apache.DECLINED

    MEMBERS = (
        'connection server next prev main the_request assbackwards '
        'proxyreq header_only protocol proto_num hostname request_time status_line '
        'status method method_number allowed allowed_xmethods allowed_methods sent_bodyct '
        'bytes_sent mtime chunked range clength remaining read_length '
        'read_body read_chunked expecting_100 headers_in headers_out err_headers_out '
        'subprocess_env '
        'notes phase interpreter content_type content_languages handler content_encoding '
        'vlist_validator user ap_auth_type no_cache no_local_copy unparsed_uri uri '
        'filename canonical_filename path_info args finfo parsed_uri used_path_info '
        'eos_sent hlist '
    ).split()
    READ_ONLY = (
        'connection server next prev main the_request header_only '
        'protocol proto_num hostname request_time status_line method method_number '
        'allowed_xmethods allowed_methods sent_bodyct bytes_sent mtime chunked range '
        'clength remaining read_length read_body read_chunked expecting_100 headers_in '
        'headers_out err_headers_out subprocess_env notes phase interpreter content_encoding '
        'vlist_validator unparsed_uri parsed_uri eos_sent '
    ).split()
    SERVER_MEMBERS = (
        'defn_name defn_line_number server_admin server_hostname names wild_names port '
        'error_fname loglevel is_virtual timeout keep_alive_timeout keep_alive_max keep_alive '
        'path pathlen limit_req_line limit_req_fieldsize limit_req_fields '
    ).split()

    def write_marker(path):
        with open(path, "w") as f:
            f.write(str(os.getpid()))
"""

REDIRECT = """
    import json
    from mod_python import apache

    def handler(req):
        if req.uri.endswith("/start"):
            req.internal_redirect(req.uri.replace("/start", "/target") + "?from=start")
            # after the redirect returns, req.next is the request that ran
            with open(req.get_options()["log"], "a") as f:
                f.write(json.dumps({"next": req.next.uri, "next_prev_is_me": req.next.prev is req})
                        + "\\n")
            return apache.OK
        req.content_type = "application/json"
        req.write(json.dumps({
            "uri": req.uri, "args": req.args, "prev": req.prev.uri if req.prev else None,
            "prev_prev": req.prev.prev if req.prev else "n/a",
            "main": req.main, "same_interp": req.prev.interpreter == req.interpreter,
        }))
        return apache.OK

    def fixuphandler(req):
        if req.main is not None:
            with open(req.get_options()["log"], "a") as f:
                f.write(json.dumps({"sub": req.uri, "main": req.main.uri}) + "\\n")
        return apache.OK
"""

DYNAMIC = """
    from mod_python import apache

    def authenhandler(req):
        req.get_basic_auth_pw()
        if req.user == "manager":
            req.add_handler("PythonHandler", "menu::admin")
        else:
            req.add_handler("PythonHandler", "menu::basic")
        req.add_handler("PythonFixupHandler", mark_fixup)
        return apache.OK

    def mark_fixup(req):
        req.marks = ["fixup-callable"]
        return apache.OK

    def handler(req):
        # adds a handler to the phase that is running: it runs after this one
        req.add_handler("PythonHandler", "menu::appended")
        req.content_type = "text/plain"
        req.write("first;")
        return apache.OK

    def bad(req):
        try:
            req.add_handler("PythonCleanupHandler", "menu::basic")
        except ValueError as exc:
            req.write("ValueError: " + str(exc))
        return apache.OK
"""

MENU = """
    from mod_python import apache

    def admin(req):
        req.content_type = "text/plain"
        req.write("admin menu for %s %s" % (req.user, getattr(req, "marks", None)))
        return apache.OK

    def basic(req):
        req.content_type = "text/plain"
        req.write("basic menu for %s %s" % (req.user, getattr(req, "marks", None)))
        return apache.OK

    def appended(req):
        req.write("appended")
        return apache.OK
"""


@pytest.fixture(scope="module")
def server(start_server, single_child):
    fields, sizing = single_child
    vport = free_port()
    srv = start_server(
        sizing
        + f"""
        <VirtualHost 127.0.0.1:{vport}>
            ServerName names.test
            ServerAlias alias.test *.wild.test
        </VirtualHost>
        """
        + """
        <Directory "{docroot}/api">
            SetHandler mod_python
            PythonHandler api
            PythonOption marker {root}/cleanup-marker
        </Directory>
        <Directory "{docroot}/files">
            AddHandler mod_python .py
            PythonHandler api
        </Directory>
        <Directory "{docroot}/auth">
            SetHandler mod_python
            PythonHandler api
            AuthType Basic
            AuthName "api"
            Require valid-user
            Require user joe
            PythonAuthenHandler authok
        </Directory>
        <Location "/loc">
            SetHandler mod_python
            PythonHandler "{docroot}/api/api.py"
        </Location>
        <Directory "{docroot}/redirect">
            SetHandler mod_python
            PythonHandler redir
            PythonOption log {root}/redirect.log
        </Directory>
        <Directory "{docroot}/subreq">
            DirectoryIndex index.html
            PythonFixupHandler "{docroot}/redirect/redir.py"
            PythonOption log {root}/redirect.log
        </Directory>
        <Directory "{docroot}/dyn">
            SetHandler mod_python
            PythonAuthenHandler dyn
            PythonHandler dyn
            AuthType Basic
            AuthName "dyn"
            Require valid-user
        </Directory>
        <Directory "{docroot}/dynbad">
            SetHandler mod_python
            PythonHandler dyn::bad
        </Directory>
        """,
        files={
            "htdocs/api/api.py": API,
            "htdocs/api/big.bin": "",
            "htdocs/files/page.py": "x = 1\n",
            "htdocs/files/api.py": API,
            "htdocs/files/big.bin": "",
            "htdocs/auth/authok.py": "from mod_python import apache\n"
            "def authenhandler(req):\n    req.get_basic_auth_pw()\n    return apache.OK\n",
            "htdocs/auth/api.py": API,
            "htdocs/redirect/redir.py": REDIRECT,
            "htdocs/subreq/index.html": "index page\n",
            "htdocs/dyn/dyn.py": DYNAMIC,
            "htdocs/dyn/menu.py": MENU,
            "htdocs/dynbad/dyn.py": DYNAMIC,
        },
        listen_extra=[vport],
        **fields,
    )
    srv.vhost_url = f"http://127.0.0.1:{vport}"
    big = bytes(range(256)) * 4096  # 1 MiB
    (srv.docroot / "api" / "big.bin").write_bytes(big)
    (srv.docroot / "files" / "big.bin").write_bytes(big)
    srv.big = big
    return srv


def get_json(server, path, **kw):
    r = server.get(path, **kw)
    assert r.status_code == 200, r.text
    return r.json()


def test_mpm_query(server, mpm):
    threaded, forked = get_json(server, "/api/x?mpm")
    assert forked == 2  # AP_MPMQ_DYNAMIC: every MPM here forks children on demand
    assert threaded == (0 if mpm == "prefork" else 1)


def test_mpm_query_rejects_unknown_codes(server):
    assert "not a query this MPM answers" in get_json(server, "/api/x?mpm-bad")


def test_exists_config_define(server):
    # the harness starts httpd with -DFOREGROUND
    assert get_json(server, "/api/x?define") == [True, False]


def test_stat_and_finfo(server):
    info = get_json(server, "/files/page.py?stat")
    assert info["filetype"] == info["reg"]
    assert info["size"] == info["tuple_size"] == len("x = 1\n")
    assert info["fname"] == str(server.docroot / "files" / "page.py")
    assert info["dir"] is True
    assert info["gone"] is True and info["gone_size"] is None
    assert info["req_finfo_size"] == len("x = 1\n")
    assert info["req_finfo_fname"] == info["fname"]
    assert info["mtime_float"] is True


def test_finfo_is_assignable(server):
    assert get_json(server, "/files/page.py?assign-finfo") == [len(server.big), True]


def test_config_tree(server):
    tree = get_json(server, "/api/x?tree")
    assert "Listen" in tree["names"]
    assert "<Directory" in tree["names"]
    children = [child for section in tree["dir_children"] for child in section]
    assert any(child[0] in ("SetHandler", "AllowOverride", "Options") for child in children)


def test_server_names(server):
    info = get_json(server, "/api/x?server")
    assert (info["names"], info["wild"]) == ([], [])
    assert info["port"] == server.apache.cfg.port
    assert info["virtual"] is False
    info = requests.get(server.vhost_url + "/api/x?server", timeout=30).json()
    assert info["names"] == ["alias.test"]
    assert info["wild"] == ["*.wild.test"]
    assert info["virtual"] is True


def test_get_remote_host(server):
    assert get_json(server, "/api/x?remote") == ["127.0.0.1", ["127.0.0.1", 1]]
    assert "REMOTE_HOST" in get_json(server, "/api/x?remote-bad")


def test_is_https_without_ssl(server):
    assert get_json(server, "/api/x?https") == [0, None]


def test_allow_methods(server):
    r = server.get("/api/x?allow")
    assert r.status_code == 405
    allow = {m.strip() for m in r.headers["Allow"].split(",")}
    assert {"GET", "PUT", "DELETE"} <= allow
    assert set(r.headers["X-Allowed"].split(",")) >= {"GET", "PUT", "DELETE", "FROBNICATE"}


def test_content_languages(server):
    r = server.get("/api/x?languages")
    assert r.json() == ["de", "en-GB"]
    assert [lang.strip() for lang in r.headers["Content-Language"].split(",")] == ["de", "en-GB"]


def test_discard_request_body(server):
    assert server.post("/api/x?discard", data=b"x" * 100000).json() == 0


def test_parsed_uri(server):
    assert get_json(server, "/api/some/path?uri") == ["/api/some/path", "uri", 9]


def test_update_mtime_and_last_modified(server):
    r = server.get("/api/x?mtime")
    assert r.json() == 1000000000.0
    assert r.headers["Last-Modified"] == "Sun, 09 Sep 2001 01:46:40 GMT"


def test_meets_conditions(server):
    r = server.get("/api/x?mtime", headers={"If-None-Match": '"v1"'})
    assert r.status_code == 304
    since = email.utils.formatdate(1000000000 + 60, usegmt=True)
    r = server.get("/api/x?mtime", headers={"If-Modified-Since": since})
    assert r.status_code == 304
    r = server.get("/api/x?mtime", headers={"If-None-Match": '"other"'})
    assert r.status_code == 200


def test_set_etag(server):
    assert server.get("/api/x?etag").headers.get("ETag")


def test_requires(server):
    r = server.get("/auth/x?requires", auth=("joe", "pw"))
    assert r.json() == ["valid-user", "user joe"]


def test_sendfile(server):
    r = server.get("/api/x?sendfile")
    assert r.content == server.big + b"|%d" % len(server.big)
    r = server.get("/api/x?sendfile-part")
    assert r.content == server.big[10:30] + b"|20"


def test_sendfile_missing_file_is_an_oserror(server):
    assert "/nonexistent/file" in get_json(server, "/api/x?sendfile-missing")


def test_every_member_exists_and_read_only_ones_refuse_assignment(server):
    info = get_json(server, "/api/x?members")
    assert info["missing"] == []
    assert len(info["read_only"]) > 30
    assert info["refused"] == info["read_only"]


def test_writable_members(server):
    r = server.get("/api/x?writable")
    assert r.status_code == 202
    assert r.json() == [True, "changed=1", "someone", True, 202]


def test_add_common_vars_and_construct_url(server):
    addr, port, script, url = get_json(server, "/api/x?cgi")
    assert addr == "127.0.0.1"
    assert port == str(server.apache.cfg.port)
    assert script is True
    assert url == f"http://127.0.0.1:{server.apache.cfg.port}/other/path"


def test_set_content_length(server):
    r = server.get("/api/x?length")
    assert r.headers["Content-Length"] == "5"
    assert r.text == "12345"


def test_server_members(server):
    info = get_json(server, "/api/x?server-members")
    assert info["server_hostname"] == "127.0.0.1"
    assert info["port"] == server.apache.cfg.port
    assert (info["defn_name"], info["defn_line_number"]) == (None, 0)  # not in a <VirtualHost>
    assert info["server_admin"]
    assert (info["path"], info["pathlen"]) == (None, 0)
    assert info["loglevel"] == 6  # LogLevel info, apache.APLOG_INFO
    assert info["error_fname"].endswith("error_log")
    assert info["timeout"] == 30.0
    assert info["keep_alive"] in (True, False)
    assert isinstance(info["keep_alive_max"], int)
    assert info["limit_req_line"] == 8190
    assert info["limit_req_fieldsize"] == 8190
    assert info["limit_req_fields"] == 100
    assert info["is_virtual"] is False
    vhost = requests.get(server.vhost_url + "/api/x?server-members", timeout=30).json()
    assert vhost["server_hostname"] == "names.test"
    assert vhost["defn_name"] == server.apache.conf_path
    assert vhost["defn_line_number"] > 0
    assert vhost["is_virtual"] is True


def test_hlist_describes_the_running_handler(server):
    handler, directory, is_location, location, silent = get_json(server, "/api/x?hlist")
    assert (handler, directory, is_location, location, silent) == (
        "api",
        str(server.docroot / "api") + "/",
        False,
        None,
        False,
    )
    handler, directory, is_location, location, _ = get_json(server, "/loc/x?hlist")
    assert handler.endswith("/api/api.py")
    assert (directory, is_location, location) == (None, True, "/loc")


def read_log(server, name, count, timeout=5.0):
    path = server.root / name
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            lines = [json.loads(line) for line in path.read_text().splitlines()]
            if len(lines) >= count:
                return lines
        time.sleep(0.05)
    raise AssertionError(f"{name} did not get {count} lines")


def test_internal_redirect_prev_and_next(server):
    info = get_json(server, "/redirect/start")
    assert info["uri"] == "/redirect/target"
    assert info["args"] == "from=start"
    assert info["prev"] == "/redirect/start"
    assert info["prev_prev"] is None
    assert info["main"] is None
    assert info["same_interp"] is True
    entry = read_log(server, "redirect.log", 1)[-1]
    assert entry == {"next": "/redirect/target", "next_prev_is_me": True}


def test_subrequest_main(server):
    r = server.get("/subreq/")
    assert r.text == "index page\n"
    entries = read_log(server, "redirect.log", 1)
    assert {"sub": "/subreq/index.html", "main": "/subreq/"} in entries


def test_add_handler_from_an_authen_handler(server):
    r = server.get("/dyn/x", auth=("manager", "pw"))
    assert r.text == "first;admin menu for manager ['fixup-callable']appended"
    r = server.get("/dyn/x", auth=("someone", "pw"))
    assert r.text == "first;basic menu for someone ['fixup-callable']appended"


def test_add_handler_refuses_the_cleanup_phase(server):
    r = server.get("/dynbad/x")
    assert r.text.startswith("ValueError: add_handler(): PythonCleanupHandler")


def test_cleanups_run_at_child_exit(server):
    assert get_json(server, "/api/x?cleanup") == "registered"
    marker = server.root / "cleanup-marker"
    assert not marker.exists()
    server.apache.graceful()
    server.apache.wait_ready()
    deadline = time.monotonic() + 10
    second = server.root / "cleanup-marker.2"

    def written(path):  # exists, and its writer is done with it
        return path.exists() and path.read_text() != ""

    while not (written(marker) and written(second)):
        assert time.monotonic() < deadline, server.error_log()[-2000:]
        time.sleep(0.05)
    assert marker.read_text() == second.read_text()


# --------------------------------------------------------------------------- mod_ssl


@pytest.fixture(scope="module")
def ssl_server(start_server, apache_install, tmp_path_factory):
    if not apache_install.has_module("mod_ssl"):
        pytest.skip(f"{apache_install.describe()} has no mod_ssl (our Apache 2.2 builds omit it)")
    certs = tmp_path_factory.mktemp("certs")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(certs / "key.pem"),
         "-out", str(certs / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    certs.chmod(0o755)
    port = free_port()
    srv = start_server(
        f"""
        LoadModule ssl_module "{apache_install.modules_dir}/mod_ssl.so"
        Listen 127.0.0.1:{port}
        <VirtualHost 127.0.0.1:{port}>
            SSLEngine on
            SSLCertificateFile "{certs}/cert.pem"
            SSLCertificateKeyFile "{certs}/key.pem"
        </VirtualHost>
        <Directory "{{docroot}}/api">
            SetHandler mod_python
            PythonHandler api
        </Directory>
        """,
        files={"htdocs/api/api.py": API},
    )
    srv.ssl_url = f"https://127.0.0.1:{port}"
    srv.ssl_ca = str(certs / "cert.pem")
    return srv


def test_is_https_and_ssl_var_lookup_with_mod_ssl(ssl_server):
    r = requests.get(ssl_server.ssl_url + "/api/x?https", verify=ssl_server.ssl_ca, timeout=30)
    is_https, protocol = r.json()
    assert is_https == 1
    assert protocol.startswith("TLS")
    assert ssl_server.get("/api/x?https").json() == [0, None]
