"""The module: Session() and its choice of class, the id cookie's attributes,
module variables, and how errors are reported."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import types

import pytest
from conftest import FakeRequest

from mod_python import Session, _session_errors


def new_cookie(options, **kw):
    req = FakeRequest(options, **kw)
    sess = Session.Session(req)
    (cookie,) = req.set_cookies()
    req.finish()
    return sess, cookie


# ------------------------------------------------------------------ Session()


def test_outside_apache_the_default_class_is_dbm(options):
    sess, _ = new_cookie(options)
    assert type(sess) is Session.DbmSession


@pytest.mark.parametrize("name", ["FileSession", "filesession", " MemorySession "])
def test_session_type_option(options, name):
    options["mod_python.session.session_type"] = name
    sess, _ = new_cookie(options)
    assert type(sess).__name__.lower() == name.strip().lower()


def test_the_obsolete_session_option(options):
    options["session"] = "MemorySession"
    sess, _ = new_cookie(options)
    assert type(sess) is Session.MemorySession


def test_an_unknown_session_type_says_what_is_known(options):
    options["mod_python.session.session_type"] = "PickleJar"
    with pytest.raises(ValueError) as info:
        Session.Session(FakeRequest(options))
    assert str(info.value) == (
        "PythonOption mod_python.session.session_type 'PickleJar' is not one of DbmSession,"
        " FileSession, MemorySession, RedisSession, PostgreSQLSession"
    )


def test_session_passes_its_arguments_on(options):
    options["mod_python.session.session_type"] = "MemorySession"
    req = FakeRequest(options)
    sess = Session.Session(req, secret="k", timeout=77, lock=0)
    assert sess.timeout() == 77 and req.cleanups == []
    assert req.set_cookies()[0].startswith("pysid=s256:")


def test_importing_does_not_import_the_optional_drivers():
    code = (
        "import json, sys; from mod_python import Session; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('redis', 'psycopg') or m.startswith('mod_python._session_r') "
        "or m.startswith('mod_python._session_p'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_unknown_module_attributes_raise_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchSession'"):
        Session.NoSuchSession  # noqa: B018


def test_module_variables():
    assert Session.COOKIE_NAME == "pysid"
    assert Session.DFT_TIMEOUT == 30 * 60
    assert Session.DFT_LOCK is True
    assert Session.SID_LENGTH == 32
    assert isinstance(Session.CLEANUP_CHANCE, int)


def test_dft_timeout_and_cookie_name_can_be_changed(options, monkeypatch):
    monkeypatch.setattr(Session, "DFT_TIMEOUT", 60)
    monkeypatch.setattr(Session, "COOKIE_NAME", "sid")
    sess, cookie = new_cookie(options)
    assert sess.timeout() == 60 and cookie.startswith("sid=")


def test_cleanup_chance_1000_calls_cleanup_once_in_1000(options, monkeypatch):
    import random

    calls = []
    draws = []

    def randint(low, high):  # a die that comes up 1 on every 1000th throw
        draws.append((low, high))
        return 1 if len(draws) % 1000 == 0 else 2

    monkeypatch.setattr(random, "randint", randint)
    monkeypatch.setattr(Session.MemorySession, "cleanup", lambda self: calls.append(1))
    monkeypatch.setattr(Session, "CLEANUP_CHANCE", 1000)
    options["mod_python.session.session_type"] = "MemorySession"
    for _ in range(4000):
        Session.Session(FakeRequest(options), lock=0)
    assert set(draws) == {(1, 1000)} and len(draws) == 4000
    assert len(calls) == 4


# ------------------------------------------------------------------ the cookie


def test_cookie_name_option(options):
    options["mod_python.session.cookie_name"] = "myapp_sid"
    sess, cookie = new_cookie(options)
    assert cookie.startswith(f"myapp_sid={sess.id()};")
    req = FakeRequest(options, cookie=f"myapp_sid={sess.id()}")
    assert Session.Session(req).id() != sess.id()  # never saved: unknown


def test_path_is_the_handler_directory_below_the_document_root(options):
    _, cookie = new_cookie(options, document_root="/a/b/c", directory="/a/b/c/d/e/")
    assert "; Path=/d/e;" in cookie


@pytest.mark.parametrize(
    "root, directory",
    [
        ("/a/b/c", None),  # <Location>: no directory
        ("/a/b/c", "/a/b/c/"),  # the document root itself
        ("/a/b/c", "/elsewhere/"),  # outside the document root
        ("/a/b/c", "/a/b/cd/"),  # only a common prefix of the name
    ],
)
def test_path_is_slash_otherwise(options, root, directory):
    _, cookie = new_cookie(options, document_root=root, directory=directory)
    assert "; Path=/;" in cookie


@pytest.mark.parametrize("name", ["mod_python.session.application_path", "ApplicationPath"])
def test_application_path_option(options, name):
    options[name] = "/my/app"
    _, cookie = new_cookie(options, document_root="/a", directory="/a/b/")
    assert "; Path=/my/app;" in cookie


def test_application_domain_option(options):
    options["mod_python.session.application_domain"] = "example.org"
    _, cookie = new_cookie(options)
    assert "; Domain=example.org;" in cookie


@pytest.mark.parametrize(
    "value, expected",
    [("Strict", "; SameSite=Strict"), ("lax", "; SameSite=Lax"), ("None", "; SameSite=None")],
)
def test_samesite_option(options, value, expected):
    options["mod_python.session.cookie_samesite"] = value
    _, cookie = new_cookie(options)
    assert cookie.endswith(expected)
    if value == "None":
        assert "; Secure;" in cookie  # browsers drop SameSite=None without it


def test_a_bad_samesite_is_reported(options):
    options["mod_python.session.cookie_samesite"] = "sometimes"
    with pytest.raises(ValueError, match="cookie_samesite 'sometimes' is not Strict, Lax or None"):
        Session.Session(FakeRequest(options))


@pytest.mark.parametrize(
    "option, https, secure",
    [(None, None, False), (None, False, False), (None, True, True), ("Off", True, False),
     ("On", False, True)],
)  # fmt: skip
def test_secure_follows_https_unless_the_option_says(options, option, https, secure):
    if option:
        options["mod_python.session.cookie_secure"] = option
    _, cookie = new_cookie(options, https=https)
    assert ("; Secure;" in cookie) == secure


def test_httponly_can_be_turned_off(options):
    options["mod_python.session.cookie_httponly"] = "Off"
    _, cookie = new_cookie(options)
    assert "HttpOnly" not in cookie


def test_a_secret_must_be_text_or_bytes(options):
    with pytest.raises(TypeError, match="a session secret must be a str or bytes, not int"):
        Session.Session(FakeRequest(options), secret=1234)
    req = FakeRequest(options)
    sess = Session.Session(req, secret=b"raw key")
    sess.save()
    assert req.set_cookies()[0].startswith("pysid=s256:")
    req.finish()
    req = FakeRequest(options, cookie=req.set_cookies()[0].split(";")[0])
    again = Session.Session(req, secret=b"raw key")
    assert not again.is_new() and again.id() == sess.id()
    req.finish()


def test_make_cookie(options):
    req = FakeRequest(options)
    sess = Session.Session(req, secret="k")
    cookie = sess.make_cookie()
    assert type(cookie).__name__ == "SignedCookie"
    assert (cookie.name, cookie.value, cookie.path) == ("pysid", sess.id(), "/")
    req.finish()


def test_a_garbled_cookie_header_means_no_id(options, caplog):
    req = FakeRequest(options, cookie='pysid="unterminated; \x00; ===')
    sess = Session.Session(req)
    assert sess.is_new()
    req.finish()


# ------------------------------------------------------------------ errors


def test_store_unavailable_outside_apache_is_the_plain_exception(options, caplog):
    exc = _session_errors.unavailable(FakeRequest(options), "the store is down", OSError("x"))
    assert type(exc) is Session.SessionStoreUnavailable
    assert str(exc) == exc.message == "the store is down: OSError: x"
    assert "mod_python.Session: the store is down: OSError: x" in caplog.text


def test_store_unavailable_inside_apache_answers_503(options, monkeypatch):
    # mod_python.apache exists only inside Apache; these are the three names
    # the module uses from it (tests/integration/test_session.py does it for real).
    class SERVER_RETURN(Exception):
        pass

    apache = types.SimpleNamespace(
        SERVER_RETURN=SERVER_RETURN, HTTP_SERVICE_UNAVAILABLE=503, APLOG_ERR=3, APLOG_WARNING=4
    )
    monkeypatch.setattr(_session_errors, "_apache", apache)
    req = FakeRequest(options)
    logged = []
    req.log_error = lambda message, level: logged.append((message, level))
    exc = _session_errors.unavailable(req, "redis is down")
    assert isinstance(exc, Session.SessionStoreUnavailable)
    assert isinstance(exc, SERVER_RETURN)
    assert exc.args[0] == 503 and str(exc) == "redis is down"
    assert logged == [("mod_python.Session: redis is down", 3)]


def test_a_failing_constructor_leaves_no_lock(options, monkeypatch):
    options["mod_python.session.session_type"] = "FileSession"
    req = FakeRequest(options)
    sess = Session.Session(req)
    sess.save()
    req.finish()

    def broken(self):
        raise OSError("disk on fire")

    monkeypatch.setattr(Session.FileSession, "do_load", broken)
    with pytest.raises(OSError, match="disk on fire"):
        Session.Session(FakeRequest(options), sid=sess.id())  # cleanups never run
    monkeypatch.undo()
    result = []
    thread = threading.Thread(
        target=lambda: result.append(Session.Session(FakeRequest(options), sid=sess.id()))
    )
    thread.start()
    thread.join(10)
    assert result and not result[0].is_new()


def test_base_session_has_no_store(options):
    req = FakeRequest(options)
    with pytest.raises(NotImplementedError, match="BaseSession does not implement do_load"):
        Session.BaseSession(req, sid="0" * 32)
    sess = Session.BaseSession(req)
    with pytest.raises(NotImplementedError, match="do_save"):
        sess.save()
    req.finish()


def test_repr(options):
    req = FakeRequest(options)
    sess = Session.MemorySession(req)
    sess["a"] = 1
    assert repr(sess) == f"<MemorySession {sess.id()} {{'a': 1}}>"
    req.finish()
