"""mod_python.publisher (manual 3.1 and 7.1) against a real Apache.

Three sites: the files of examples/publisher as they are (the tutorial's
feedback form and the manual's authentication examples), the manual's
traversal example with SetHandler on the document root next to a module
exercising arguments, content types, errors and authentication variants,
and a list of hostile URLs that must all end in 403 or 404 with nothing
leaked and nothing run.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import time
import urllib.parse
from pathlib import Path
from typing import Tuple

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "publisher"

# --------------------------------------------------------------------------- the examples


@pytest.fixture(scope="module")
def examples(start_server):
    server = start_server(
        """
        <Directory "{docroot}/publisher">
            AllowOverride All
        </Directory>
        """
    )
    shutil.copytree(EXAMPLES, server.docroot / "publisher")
    return server


def test_example_files_are_the_ones_served(examples):
    served = sorted(p.name for p in (examples.docroot / "publisher").iterdir())
    assert served == sorted(p.name for p in EXAMPLES.iterdir())
    assert ".htaccess" in served
    assert "PythonHandler mod_python.publisher" in (EXAMPLES / ".htaccess").read_text()


def test_tutorial_form_page_is_static_and_posts_to_the_email_function(examples):
    r = examples.get("/publisher/form.html")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert '<form action="form.py/email" method="POST">' in r.text
    for field in ('name="name"', 'name="email"', 'name="comment"'):
        assert field in r.text


def test_tutorial_form_post_builds_the_mail_and_thanks_the_user(examples):
    fields = {"name": "Joe <Bloggs>", "email": "joe@example.com", "comment": "Nice & quick"}
    r = examples.post("/publisher/form.py/email", data=fields)
    assert r.status_code == 200
    # The page starts with <html>: the publisher calls it HTML, in UTF-8.
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Dear Joe &lt;Bloggs&gt;,<br>" in r.text
    assert "Thank You for your kind comments" in r.text
    assert "From: joe@example.com" in r.text
    assert "To: webmaster" in r.text
    assert "Nice &amp; quick" in r.text
    assert int(r.headers["Content-Length"]) == len(r.content)
    log = examples.error_log()
    assert "form.py would send: From: joe@example.com" in log
    assert "form.py would send: Subject: feedback" in log
    assert "form.py would send: Nice & quick" in log


def test_tutorial_form_with_an_empty_field_gets_the_apology(examples):
    # Blank fields are kept, so the function sees "" and answers itself.
    r = examples.post("/publisher/form.py/email", data={"name": "Joe", "email": "", "comment": "x"})
    assert r.status_code == 200
    assert r.text == "A required parameter is missing, please go back and correct the error"
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_tutorial_form_without_its_fields_is_a_bad_request(examples):
    r = examples.get("/publisher/form.py/email")
    assert r.status_code == 400
    assert "missing form fields name, email, comment" in r.text


def test_module_globals_without_underscore_are_published(examples):
    assert examples.get("/publisher/form.py/WEBMASTER").text == "webmaster"
    assert examples.get("/publisher/form.py/apache").status_code == 404  # a module
    assert examples.get("/publisher/form.py/html").status_code == 404


def test_introduction_example_say(examples):
    # manual 7.1.1
    assert examples.get("/publisher/hello.py/say").text == "I am saying NOTHING"
    assert examples.get("/publisher/hello.py/say?what=hello").text == "I am saying hello"


def test_directory_index_and_traversal_examples(examples):
    assert examples.get("/publisher/").text == "We are in index()"
    assert examples.get("/publisher/index.py").text == "We are in index()"
    assert examples.get("/publisher/index.py/").text == "We are in index()"
    assert examples.get("/publisher/index.py/hello").text == "We are in hello()"


@pytest.mark.parametrize("module", ["auth", "members"])
def test_authentication_examples(examples, module):
    url = f"/publisher/{module}.py/hello"
    r = examples.get(url)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Basic realm="Members only"'
    assert examples.get(url, auth=("eggs", "wrong")).status_code == 401
    assert examples.get(url, auth=("joe", "eoj")).status_code == 403  # __access__
    r = examples.get(url, auth=("eggs", "spam"))
    assert (r.status_code, r.text) == (200, "hello")


def test_nested_auth_example(examples):
    r = examples.get("/publisher/sensitive.py/sensitive")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Basic realm="unknown"'
    assert examples.get("/publisher/sensitive.py/sensitive", auth=("spam", "x")).status_code == 401
    r = examples.get("/publisher/sensitive.py/sensitive", auth=("spam", "eggs"))
    assert (r.status_code, r.text) == (200, "sensitive information")
    assert examples.get("/publisher/sensitive.py/public").text == "public information"


# --------------------------------------------------------------------------- the site

INDEX = """
    def index(req):
        return "We are in index()"

    def hello(req):
        return "We are in hello()"
"""

APP = """
    import json
    import os
    from os import system
    from random import seed
    from shutil import rmtree

    from mod_python import apache, util

    _SECRET = "TOPSECRET-global"

    text = "plain text"
    number = 42
    data = {"key": "value"}
    gen = (x for x in range(3))

    def index(req):
        return "app index"

    def args(req, a, b="B"):
        return f"a={a!r} b={b!r}"

    def kw(req, name, **rest):
        return json.dumps({"name": name, "rest": rest}, sort_keys=True)

    def noreq(what="NOTHING"):
        return f"I am saying {what}"

    def multi(x):
        return repr(x)

    def upload(req, file, note):
        data = file.file.read()
        return f"{file.filename} {len(data)} {data[:3]!r} {note}"

    def form(req, q):
        kind = type(req.form)
        same = kind is util.FieldStorage
        return f"{kind.__name__} {same} {req.form.getfirst('q')} {q}"

    def html():
        return "<html><body>Grüße</body></html>"

    def plain():
        return "Grüße"

    def raw():
        return b"\\x00\\x01binary\\xff"

    def typed(req):
        req.content_type = "application/json"
        return '{"a": 1}'

    def written(req):
        req.content_type = "text/plain"
        req.write("written directly")

    def headers(req):
        req.headers_out["X-Published"] = "yes"
        return "with header"

    def method(req):
        return req.method

    def gone(req):
        raise apache.SERVER_RETURN(apache.HTTP_GONE)

    def boom(req):
        raise ValueError("boom from a published function")

    def nested_dict(req):
        __auth__ = {"spam": "eggs"}
        return "must not be published unprotected"

    def func(req):
        return "func"
    func.public_attr = "TOPSECRET-function-attribute"

    def report(req):
        return "report for " + req.user
    report.__auth__ = {"eggs": "spam", "joe": "eoj"}
    report.__access__ = ["eggs"]
    report.__auth_realm__ = "Reports"

    class Account:
        def balance(self, req):
            def __auth__(req, user, password):
                return (user, password) == ("eggs", "spam")
            __auth_realm__ = "Account"
            return "balance of " + req.user

    account = Account()

    class Klass:
        attr = "TOPSECRET-class-attribute"

        def __init__(self):
            self.name = "TOPSECRET-instance"

    class Leaf:
        def index(self):
            return "leaf index"

        def page(self, req, n="1"):
            return f"leaf page {n}"

    class Root:
        leaf = Leaf()

        class Protected:
            __auth__ = {"spam": "eggs"}
            __auth_realm__ = "Protected area"

            def page(self):
                return "protected page"

        protected = Protected()

    root = Root()
"""

AUTHN = """
    from mod_python import apache

    def authenhandler(req):
        pw = req.get_basic_auth_pw()
        if (req.user, pw) in (("spam", "eggs"), ("joe", "eoj")):
            return apache.OK
        return apache.HTTP_UNAUTHORIZED
"""

MEMBERS = """
    __access__ = ["spam"]

    def hello(req):
        return "hello " + req.user
"""

PRIVATE = """
    SECRET = "TOPSECRET-private-module"

    def index(req):
        return SECRET
"""

PREFILL = """
    from mod_python import apache, util

    def fixuphandler(req):
        req.form = util.FieldStorage(req)
        req.form.add_field("added", "by the fixup handler")
        return apache.OK
"""

PAGE = """
    def index(req, added, q):
        return f"{added}, q={q}"
"""

OUTSIDE = """
    def index(req):
        return "TOPSECRET-outside-the-document-root"
"""


@pytest.fixture(scope="module")
def site(start_server):
    server = start_server(
        """
        LogLevel info
        <Directory "{docroot}">
            SetHandler mod_python
            PythonHandler mod_python.publisher
            PythonDebug On
        </Directory>
        <Directory "{docroot}/authn">
            AuthType Basic
            AuthName "Restricted Area"
            Require valid-user
            PythonAuthenHandler authn
        </Directory>
        <Directory "{docroot}/prefilled">
            PythonFixupHandler prefill
        </Directory>
        <Directory "{docroot}/nolinks">
            Options -FollowSymLinks -SymLinksIfOwnerMatch
        </Directory>
        """,
        files={
            "htdocs/index.py": INDEX,
            "htdocs/app.py": APP,
            "htdocs/_private.py": PRIVATE,
            "htdocs/notes.txt": "TOPSECRET-static-file\n",
            "htdocs/authn/authn.py": AUTHN,
            "htdocs/authn/members.py": MEMBERS,
            "htdocs/prefilled/prefill.py": PREFILL,
            "htdocs/prefilled/page.py": PAGE,
            "outside.py": OUTSIDE,
        },
        env={"MP_PUBLISHER_TEST": "TOPSECRET-environment"},
    )
    for directory in ("links", "nolinks"):
        (server.docroot / directory).mkdir()
        os.symlink(server.root / "outside.py", server.docroot / directory / "outside.py")
    (server.root / "victim").mkdir()
    return server


@pytest.mark.parametrize(
    "path, body",
    [
        ("/index/index", "We are in index()"),
        ("/index/", "We are in index()"),
        ("/index/hello", "We are in hello()"),
        ("/hello", "We are in hello()"),
        ("/", "We are in index()"),
        ("/index", "We are in index()"),
        ("/index.py", "We are in index()"),
        ("/index.py/hello", "We are in hello()"),
        ("/index.html", "We are in index()"),  # the extension is discarded
    ],
)
def test_manual_traversal_example(site, path, body):
    r = site.get(path)
    assert (r.status_code, r.text) == (200, body)


def test_manual_traversal_example_spam_is_not_found(site):
    # manual 7.1.2: http://www.somehost/spam returns '404 Not Found'
    assert site.get("/spam").status_code == 404


def test_object_hierarchy_and_trailing_slash(site):
    assert site.get("/app.py/root/leaf/").text == "leaf index"
    assert site.get("/app.py/root/leaf/page?n=7").text == "leaf page 7"
    assert site.get("/app.py/").text == "app index"
    assert site.get("/app").text == "app index"


def test_arguments_from_query_and_body_extra_fields_ignored(site):
    assert site.get("/app.py/args?a=1&zzz=2").text == "a='1' b='B'"
    assert site.post("/app.py/args", data={"a": "x", "b": "y"}).text == "a='x' b='y'"
    assert site.post("/app.py/args?a=q", data={"b": "body"}).text == "a='q' b='body'"
    assert site.get("/app.py/noreq?req=x").text == "I am saying NOTHING"


def test_blank_fields_are_passed_as_empty_strings(site):
    assert site.get("/app.py/args?a=&b=").text == "a='' b=''"


def test_missing_argument_is_a_bad_request(site):
    r = site.get("/app.py/args?b=1")
    assert r.status_code == 400
    assert "missing form field a" in r.text


def test_kwargs_get_the_other_fields_but_never_the_request(site):
    r = site.get("/app.py/kw?name=n&x=1&y=2&y=3&req=evil")
    assert r.json() == {"name": "n", "rest": {"x": "1", "y": ["2", "3"]}}


def test_repeated_fields_are_a_list(site):
    assert site.get("/app.py/multi?x=1&x=2").text == "['1', '2']"
    assert site.get("/app.py/multi?x=1").text == "'1'"


def test_uploads_are_fields_with_a_file(site):
    files = {"file": ("data.bin", b"\x00\x01\x02" * 1000, "application/octet-stream")}
    r = site.post("/app.py/upload", files=files, data={"note": "n"})
    assert r.text == "data.bin 3000 b'\\x00\\x01\\x02' n"


def test_req_form_is_the_field_storage(site):
    assert site.get("/app.py/form?q=v").text == "FieldStorage True v v"


@pytest.mark.parametrize(
    "path, content_type, body",
    [
        ("/app.py/html", "text/html; charset=utf-8", "<html><body>Grüße</body></html>".encode()),
        ("/app.py/plain", "text/plain; charset=utf-8", "Grüße".encode()),
        ("/app.py/raw", "text/plain", b"\x00\x01binary\xff"),
        ("/app.py/typed", "application/json", b'{"a": 1}'),
        ("/app.py/number", "text/plain; charset=utf-8", b"42"),
        ("/app.py/data", "text/plain; charset=utf-8", b"{'key': 'value'}"),
        ("/app.py/text", "text/plain; charset=utf-8", b"plain text"),
        ("/app.py/written", "text/plain", b"written directly"),
    ],
)
def test_content_types_and_bodies(site, path, content_type, body):
    r = site.get(path)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == content_type
    assert r.content == body


def test_a_class_is_published_as_its_string(site):
    r = site.get("/app.py/Klass")
    assert r.status_code == 200
    assert r.text.startswith("<class '") and r.text.endswith(".Klass'>")


def test_published_functions_have_the_request(site):
    r = site.get("/app.py/headers")
    assert r.headers["X-Published"] == "yes"
    assert site.request("PUT", "/app.py/method").text == "PUT"


def _raw(server, request: bytes) -> Tuple[bytes, bytes]:
    """Send ``request`` as it is; the response's head and whatever follows it."""
    with socket.create_connection(("127.0.0.1", server.apache.cfg.port), timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def test_head_runs_the_function_and_sends_the_headers_only(site):
    head, rest = _raw(site, b"HEAD /app.py/html HTTP/1.0\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"Content-Type: text/html; charset=utf-8" in head
    length = len("<html><body>Grüße</body></html>".encode())
    assert f"Content-Length: {length}".encode() in head
    assert rest == b""
    assert b"X-Published: yes" in _raw(site, b"HEAD /app.py/headers HTTP/1.0\r\n\r\n")[0]


def test_server_return_from_a_published_function(site):
    assert site.get("/app.py/gone").status_code == 410


def test_exception_is_500_with_the_traceback_logged(site):
    r = site.get("/app.py/boom")
    assert r.status_code == 500
    assert "ValueError: boom from a published function" in r.text  # PythonDebug On
    log = site.error_log()
    assert "Traceback (most recent call last)" in log
    assert "ValueError: boom from a published function" in log


def test_nested_dict_auth_is_an_error_not_an_open_door(site):
    r = site.get("/app.py/nested_dict", auth=("spam", "eggs"))
    assert r.status_code == 500
    assert "must not be published unprotected" not in r.text
    assert "the __auth__ nested in nested_dict() cannot be used" in site.error_log()


def test_missing_module_and_missing_object_are_not_found(site):
    for path in ("/nothing.py", "/nothing.py/func", "/app.py/nothing", "/app.py/root/nothing"):
        assert site.get(path).status_code == 404, path
    assert "app.py/nothing: 404 '/nothing': no such object" in site.error_log()


def test_protected_object_in_a_hierarchy(site):
    r = site.get("/app.py/root/protected/page")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Basic realm="Protected area"'
    r = site.get("/app.py/root/protected/page", auth=("spam", "eggs"))
    assert r.text == "protected page"


def test_function_attributes_protect_a_function(site):
    r = site.get("/app.py/report")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Basic realm="Reports"'
    assert site.get("/app.py/report", auth=("joe", "eoj")).status_code == 403
    # a successful __auth__ sets req.user, as Apache's authentication would
    assert site.get("/app.py/report", auth=("eggs", "spam")).text == "report for eggs"


def test_auth_nested_in_a_method(site):
    # MODPYTHON-27: nested in a class method as well as in a function
    r = site.get("/app.py/account/balance")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Basic realm="Account"'
    assert site.get("/app.py/account/balance", auth=("joe", "eoj")).status_code == 401
    assert site.get("/app.py/account/balance", auth=("eggs", "spam")).text == "balance of eggs"


def test_form_of_an_earlier_handler_is_used(site):
    # The body can be read once: req.form left by an earlier phase is reused.
    r = site.post("/prefilled/page.py?q=1", data={"other": "x"})
    assert r.text == "by the fixup handler, q=1"


def test_apache_authenticates_and_access_decides(site):
    # manual 7.1.2: a PythonAuthenHandler authenticates, __access__ decides
    r = site.get("/authn/members.py/hello")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Basic realm="Restricted Area"'
    assert site.get("/authn/members.py/hello", auth=("joe", "eoj")).status_code == 403
    r = site.get("/authn/members.py/hello", auth=("spam", "eggs"))
    assert (r.status_code, r.text) == (200, "hello spam")


def test_digest_credentials_are_challenged_not_refused(site):
    # MODPYTHON-47: an Authorization header of another scheme is not a 400
    digest = 'Digest username="spam", realm="x", nonce="n", uri="/", response="r"'
    r = site.get("/app.py/root/protected/page", headers={"Authorization": digest})
    assert r.status_code == 401


def test_symbolic_links_follow_apache_options(site):
    # Apache mapped outside.py and its Options allow the link there ...
    r = site.get("/links/outside.py")
    assert (r.status_code, r.text) == (200, "TOPSECRET-outside-the-document-root")
    # ... and forbid it here; the name the publisher derives is never followed out.
    assert site.get("/nolinks/outside.py").status_code == 403
    assert site.get("/links/outside").status_code == 404
    assert "is a symbolic link out of its directory" in site.error_log()


def test_autoreload_edit_changes_the_response(site):
    path = site.write("htdocs/reloaded.py", 'def index(req):\n    return "version one"\n')
    assert site.get("/reloaded.py").text == "version one"
    path.write_text('def index(req):\n    return "version two, edited"\n')
    later = time.time() + 5
    os.utime(path, (later, later))
    assert site.get("/reloaded.py").text == "version two, edited"


# --------------------------------------------------------------------------- hostile URLs

HOSTILE = [
    "/app.py/_SECRET",
    "/app.py/__dict__",
    "/app.py/__builtins__",
    "/app.py/__file__",
    "/app.py/__name__",
    "/app.py/__loader__",
    "/app.py/index/__globals__",
    "/app.py/func/__globals__",
    "/app.py/func/__code__/co_consts",
    "/app.py/func/public_attr",
    "/app.py/os",
    "/app.py/os/environ",
    "/app.py/os/system?command=touch+{root}/pwned",
    "/app.py/system?command=touch+{root}/pwned",
    "/app.py/rmtree?path={root}/victim",
    "/app.py/json/dumps?obj=x",
    "/app.py/seed?a=1",
    "/app.py/apache",
    "/app.py/apache/SERVER_RETURN",
    "/app.py/util/FieldStorage",
    "/app.py/Klass/attr",
    "/app.py/Klass/__init__/__globals__",
    "/app.py/root/__class__",
    "/app.py/root/__dict__",
    "/app.py/root/leaf/page/__func__",
    "/app.py/root/leaf/page/__self__",
    "/app.py/root/Protected/page",
    "/app.py/text/upper",
    "/app.py/text/format?x={root}",
    "/app.py/data/keys",
    "/app.py/data/key",
    "/app.py/gen",
    "/app.py/gen/gi_frame/f_globals",
    "/app.py/gen/gi_code",
    "/app.py/index/",
    "/app.py/index.__globals__",
    "/app.py/%5fSECRET",
    "/app.py/%00",
    "/app.py//_SECRET",
    "/_private.py",
    "/_private.py/SECRET",
    "/_private",
    "/_private/SECRET",
    "/notes.txt",
    "/links/outside",
    "/nolinks/outside.py",
    "/../../../../etc/passwd",
    "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/app.py/..%2f..%2f..%2fetc%2fpasswd",
    "/app.py%2f..%2f_private.py",
    "/app.py/%2e%2e/_private.py",
    "/app.py/../_private.py",
    "/..%2f_private.py",
    "/index.py/%2e%2e%2f_private",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_url_is_refused_and_nothing_leaks(site, url):
    url = url.replace("{root}", str(site.root))
    log_before = len(site.error_log())
    conn = http.client.HTTPConnection("127.0.0.1", site.apache.cfg.port, timeout=30)
    try:
        # http.client sends the path as it is: no dot-segment removal, no re-quoting
        conn.request("GET", url)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    # Apache answers 400 itself for a path that climbs above the root.
    climbs = ".." in urllib.parse.unquote(url)
    assert response.status in (403, 404) or (response.status == 400 and climbs), body
    for secret in (b"TOPSECRET", b"root:", b"Traceback", str(site.root).encode()):
        assert secret not in body
    new_log = site.error_log()[log_before:]
    assert "Traceback" not in new_log
    assert not (site.root / "pwned").exists()
    assert (site.root / "victim").is_dir()
