"""The manual's first steps (sections 2.4, 3.3-3.5) against a real Apache."""

from __future__ import annotations

import re
import subprocess

import pytest

MPTEST = """
    from mod_python import apache

    def handler(req):
        req.content_type = 'text/plain'
        req.write("Hello World!")
        return apache.OK
"""

MYSCRIPT = """
    from mod_python import apache

    def handler(req):
        req.content_type = "text/plain"
        req.write("Hello, " + req.user + "!")
        return apache.OK

    def authenhandler(req):
        pw = req.get_basic_auth_pw()
        user = req.user
        if user == "spam" and pw == "eggs":
            return apache.OK
        return apache.HTTP_UNAUTHORIZED
"""

NOT_FOUND = """
    from mod_python import apache

    def handler(req):
        if req.filename[-17:] == 'apache-error.html':
            return apache.HTTP_NOT_FOUND
        if req.filename[-18:] == 'handler-error.html':
            req.status = apache.HTTP_NOT_FOUND
            pagebuffer = 'Page not here. Page left, not know where gone.'
        else:
            pagebuffer = open(req.filename, 'r').read()
        req.write(pagebuffer)
        return apache.OK
"""


@pytest.fixture(scope="module")
def server(start_server):
    return start_server(
        """
        <Directory "{docroot}/test">
            AddHandler mod_python .py
            PythonHandler mptest
            PythonDebug On
        </Directory>
        <Directory "{docroot}/auth">
            AddHandler mod_python .py
            PythonHandler myscript
            PythonAuthenHandler myscript
            PythonDebug On
            AuthType Basic
            AuthName "Restricted Area"
            require valid-user
        </Directory>
        <Directory "{docroot}/errors">
            SetHandler mod_python
            PythonHandler notfound
        </Directory>
        """,
        files={
            "htdocs/test/mptest.py": MPTEST,
            "htdocs/test/plain.txt": "static text\n",
            "htdocs/auth/myscript.py": MYSCRIPT,
            "htdocs/errors/notfound.py": NOT_FOUND,
            "htdocs/errors/page.html": "a real page",
        },
    )


def test_hello_world(server):
    r = server.get("/test/mptest.py")
    assert r.status_code == 200
    assert r.text == "Hello World!"
    assert r.headers["Content-Type"] == "text/plain"


def test_any_py_name_reaches_the_handler(server):
    # "the file referred to in the URL doesn't have to exist" (3.3)
    r = server.get("/test/montypython.py")
    assert (r.status_code, r.text) == (200, "Hello World!")


def test_other_files_are_served_by_apache(server):
    r = server.get("/test/plain.txt")
    assert (r.status_code, r.text) == (200, "static text\n")


def test_server_banner_names_mod_python(server):
    from mod_python.version import __version__

    # The module's own version (c_module); the core package's is the same series.
    banner = server.get("/test/mptest.py").headers["Server"]
    assert re.search(r"\bmod_python/3\.\d+\.\d+\S*", banner), banner
    assert f"mod_python/{__version__}" in banner


def test_httpd_dash_m_shows_the_module_version_and_its_python(server):
    import sys

    from mod_python._httpd import run_command

    command = run_command(server.apache.install, server.apache.conf_path)
    command = [c for c in command if c != "-DFOREGROUND"] + ["-M"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert " python_module (shared)" in lines
    python = ".".join(map(str, sys.version_info[:3]))
    assert any(
        re.fullmatch(rf"mod_python/3\.\d+\S* \(built for Python {re.escape(python)}\S*\)", line)
        for line in lines
    ), out.stdout


def test_authentication_handler_accepts_spam_eggs(server):
    r = server.get("/auth/myscript.py", auth=("spam", "eggs"))
    assert (r.status_code, r.text) == (200, "Hello, spam!")


@pytest.mark.parametrize("auth", [None, ("spam", "ham"), ("eggs", "eggs")])
def test_authentication_handler_refuses_others(server, auth):
    r = server.get("/auth/myscript.py", auth=auth)
    assert r.status_code == 401
    assert "Hello" not in r.text


def test_returning_not_found_lets_apache_render_the_error(server):
    r = server.get("/errors/apache-error.html")
    assert r.status_code == 404
    assert "Not Found" in r.text


def test_own_404_page(server):
    r = server.get("/errors/handler-error.html")
    assert r.status_code == 404
    assert r.text == "Page not here. Page left, not know where gone."


def test_handler_serves_a_file(server):
    r = server.get("/errors/page.html")
    assert (r.status_code, r.text) == (200, "a real page")
