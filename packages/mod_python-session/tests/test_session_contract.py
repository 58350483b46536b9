"""What every backend must do (manual 4.8.1), run against each of them.

The Redis and PostgreSQL variants run against real servers started by the
fixtures of stores.py.
"""

from __future__ import annotations

import os
import re
import threading
import time
from typing import Any, Dict

import pytest
from conftest import Browser, FakeRequest

from mod_python import Session

KINDS = ["DbmSession", "FileSession", "MemorySession", "RedisSession", "PostgreSQLSession"]


@pytest.fixture(params=KINDS)
def opts(request: Any, options: Dict[str, str]) -> Dict[str, str]:
    """Options selecting one backend (through session_type) with private stores."""
    kind = request.param
    options = dict(options, **{"mod_python.session.session_type": kind})
    if kind == "RedisSession":
        options.update(request.getfixturevalue("redis_options"))
    elif kind == "PostgreSQLSession":
        options.update(request.getfixturevalue("postgresql_options"))
    return options


def open_session(browser: Browser, opts: Dict[str, str], **kw: Any) -> Any:
    req = browser.request(opts)
    sess = Session.Session(req, **kw)
    return req, sess


def done(browser: Browser, req: FakeRequest) -> None:
    req.finish()
    browser.receive(req)


def exists(opts: Dict[str, str], sid: str) -> bool:
    req = FakeRequest(opts)
    sess = Session.Session(req, sid=sid, lock=0)
    return not sess.is_new()


def test_session_type_option_picks_the_class(opts, browser):
    req, sess = open_session(browser, opts)
    assert type(sess).__name__ == opts["mod_python.session.session_type"]
    assert isinstance(sess, Session.BaseSession)
    assert isinstance(sess, dict)
    req.finish()


def test_a_new_session_sets_the_id_cookie(opts, browser):
    req, sess = open_session(browser, opts)
    assert sess.is_new() is True
    assert re.fullmatch(r"[0-9a-f]{32}", sess.id())
    assert abs(sess.created() - time.time()) < 5
    assert sess.timeout() == Session.DFT_TIMEOUT == 1800
    (cookie,) = req.set_cookies()
    assert cookie == f"pysid={sess.id()}; Path=/; HttpOnly; SameSite=Lax"
    assert req.headers_out.get("Cache-Control") == 'no-cache="set-cookie"'
    req.finish()


def test_saved_data_comes_back_with_the_cookie(opts, browser):
    req, sess = open_session(browser, opts)
    sid, created = sess.id(), sess.created()
    sess["text"] = "café ☕"
    sess["nested"] = {"list": [1, 2.5, None], "bytes": b"\x00\xff", "set": {1, 2}}
    sess.save()
    done(browser, req)

    req, sess = open_session(browser, opts)
    assert not sess.is_new()
    assert sess.id() == sid
    assert sess.created() == created
    assert sess == {
        "text": "café ☕",
        "nested": {"list": [1, 2.5, None], "bytes": b"\x00\xff", "set": {1, 2}},
    }
    assert req.set_cookies() == []  # the id is known: no new cookie
    req.finish()


def test_last_accessed_is_the_time_of_the_last_save(opts, browser):
    req, sess = open_session(browser, opts)
    sess.save()
    first_save = sess.last_accessed()
    done(browser, req)
    time.sleep(0.05)
    req, sess = open_session(browser, opts)
    assert sess.last_accessed() == pytest.approx(first_save, abs=1e-3)
    sess.save()
    assert sess.last_accessed() > first_save
    req.finish()


def test_a_session_never_saved_is_not_kept(opts, browser):
    req, sess = open_session(browser, opts)
    sid = sess.id()
    sess["x"] = 1
    done(browser, req)
    req, sess = open_session(browser, opts)
    assert sess.is_new()
    assert sess.id() != sid
    assert sess == {}
    req.finish()


def test_an_unknown_id_is_replaced_not_adopted(opts, browser):
    unknown = "0123456789abcdef0123456789abcdef"
    browser.cookies["pysid"] = unknown
    req, sess = open_session(browser, opts)
    assert sess.is_new()
    assert sess.id() != unknown
    assert req.set_cookies()[0].startswith(f"pysid={sess.id()};")
    sess.save()
    req.finish()
    assert not exists(opts, unknown)


@pytest.mark.parametrize(
    "bad",
    [
        "../../../../etc/passwd",
        "0123456789ABCDEF0123456789ABCDEF",
        "0123456789abcdef0123456789abcde",
        "0123456789abcdef0123456789abcdef0",
        "0123456789abcdef/123456789abcdef",
        "..%2F..%2Fetc%2Fpasswd",
    ],
)
def test_a_malformed_id_is_never_used(opts, browser, bad, tmp_path):
    # MODPYTHON-135: as a cookie and as the sid argument
    browser.cookies["pysid"] = bad
    req, sess = open_session(browser, opts)
    assert sess.is_new()
    assert re.fullmatch(r"[0-9a-f]{32}", sess.id())
    req.finish()
    req = FakeRequest(opts)
    sess = Session.Session(req, sid=bad)
    assert sess.is_new() and sess.id() != bad
    sess.save()
    req.finish()
    names = {p.name for p in tmp_path.rglob("*")}
    assert "passwd" not in names and not any(n.startswith("..") for n in names)


def test_the_sid_argument_opens_an_existing_session(opts):
    req = FakeRequest(opts)
    sess = Session.Session(req)
    sess["n"] = 42
    sess.save()
    sid = sess.id()
    req.finish()

    req = FakeRequest(opts)  # no cookie: the id comes from the argument
    sess = Session.Session(req, sid=sid)
    assert not sess.is_new() and sess["n"] == 42
    assert req.set_cookies() == []
    req.finish()


def test_an_expired_session_is_new_and_gone(opts, browser):
    req, sess = open_session(browser, opts, timeout=1)
    assert sess.timeout() == 1
    sid = sess.id()
    sess["secret"] = "old"
    sess.save()
    done(browser, req)
    assert exists(opts, sid)
    time.sleep(1.3)
    req, sess = open_session(browser, opts, timeout=1)
    assert sess.is_new() and sess.id() != sid and "secret" not in sess
    req.finish()
    assert not exists(opts, sid)


def test_set_timeout_is_stored_with_the_session(opts, browser):
    req, sess = open_session(browser, opts)
    sess.set_timeout(1)
    sess.save()
    done(browser, req)
    req, sess = open_session(browser, opts)
    assert sess.timeout() == 1
    req.finish()
    time.sleep(1.3)
    req, sess = open_session(browser, opts)
    assert sess.is_new()
    req.finish()


@pytest.mark.parametrize("secs", [0.0, -1, "10", None, float("nan"), True])
def test_set_timeout_refuses_what_is_not_a_duration(opts, secs):
    req = FakeRequest(opts)
    sess = Session.Session(req)
    with pytest.raises(ValueError, match="positive number of seconds"):
        sess.set_timeout(secs)
    req.finish()


def test_invalidate_deletes_and_expires_the_cookie(opts, browser):
    req, sess = open_session(browser, opts)
    sess["user"] = "alice"
    sess.save()
    sid = sess.id()
    done(browser, req)

    req, sess = open_session(browser, opts)
    sess.invalidate()
    assert not exists(opts, sid)
    sess["user"] = "mallory"
    sess.save()  # an invalidated session stays deleted
    assert not exists(opts, sid)
    (cookie,) = req.set_cookies()
    assert cookie.startswith("pysid=")
    assert re.search(r"; Expires=Thu, 01[ -]Jan[ -]1970 00:00:00 GMT", cookie)
    assert "; Path=/" in cookie
    done(browser, req)
    assert "pysid" not in browser.cookies

    req, sess = open_session(browser, opts)
    assert sess.is_new() and sess.id() != sid
    req.finish()


def test_delete_removes_the_session(opts):
    req = FakeRequest(opts)
    sess = Session.Session(req)
    sess.save()
    assert exists(opts, sess.id())
    sess.delete()
    assert not exists(opts, sess.id())
    req.finish()


def test_signed_id_cookie(opts, browser):
    req, sess = open_session(browser, opts, secret="s3cret")
    sess["n"] = 1
    sess.save()
    sid = sess.id()
    (cookie,) = req.set_cookies()
    assert cookie.startswith("pysid=s256:") and cookie.split(";")[0].endswith(":" + sid)
    done(browser, req)

    req, sess = open_session(browser, opts, secret="s3cret")
    assert not sess.is_new() and sess.id() == sid
    req.finish()

    # signed with another secret: ignored
    req, sess = open_session(browser, opts, secret="other")
    assert sess.is_new() and sess.id() != sid
    req.finish()

    # tampered: the signature does not cover another id
    forged = Browser()
    signed = browser.cookies["pysid"]
    forged.cookies["pysid"] = signed[:-1] + ("1" if signed.endswith("0") else "0")
    req, sess = open_session(forged, opts, secret="s3cret")
    assert sess.is_new() and sess.id() != sid
    req.finish()


def test_an_unsigned_id_is_refused_when_a_secret_is_given(opts, browser):
    # MODPYTHON-191
    req, sess = open_session(browser, opts)
    sess.save()
    sid = sess.id()
    done(browser, req)
    req, sess = open_session(browser, opts, secret="s3cret")
    assert sess.is_new() and sess.id() != sid
    req.finish()


def test_the_lock_is_held_until_the_request_ends(opts, browser):
    req, sess = open_session(browser, opts)
    sess["n"] = 1
    sess.save()
    done(browser, req)

    first, sess = open_session(browser, opts)
    got = []

    def second() -> None:
        req2, sess2 = open_session(browser, opts)
        got.append(sess2["n"])
        req2.finish()

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.4)
    assert got == [], "the second request did not wait for the lock"
    sess["n"] = 2
    sess.save()
    first.finish()
    thread.join(10)
    assert got == [2]


def test_a_handler_that_raises_leaves_no_lock(opts, browser):
    def handler(req: FakeRequest) -> None:
        sess = Session.Session(req)
        sess.save()
        raise RuntimeError("the handler failed")

    req = browser.request(opts)
    with pytest.raises(RuntimeError):
        handler(req)
    done(browser, req)  # Apache runs the cleanups whatever the handler did

    result = []
    thread = threading.Thread(target=lambda: result.append(open_session(browser, opts)))
    thread.start()
    thread.join(10)
    assert result, "the session stayed locked"
    result[0][0].finish()


def test_lock_0_neither_locks_nor_registers_a_cleanup(opts, browser):
    req, sess = open_session(browser, opts, lock=0)
    sess.save()
    done(browser, req)
    held, sess = open_session(browser, opts)  # locked
    req2, sess2 = open_session(browser, opts, lock=0)  # does not wait
    assert sess2.id() == sess.id()
    assert req2.cleanups == []
    held.finish()


def test_unlock_then_lock_again(opts, browser):
    req, sess = open_session(browser, opts)
    sess.save()
    sess.unlock()
    other, sess2 = open_session(browser, opts)  # not blocked
    sess2.unlock()
    sess.lock()
    sess.lock()  # already held: no-op
    sess.unlock()
    sess.unlock()  # not held: no-op
    req.finish()
    other.finish()


def test_concurrent_requests_count_exactly(opts, browser):
    req, sess = open_session(browser, opts)
    sess["hits"] = 0
    sess.save()
    done(browser, req)

    def client() -> None:
        for _ in range(25):
            r, s = open_session(browser, opts)
            s["hits"] += 1
            s.save()
            r.finish()

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    req, sess = open_session(browser, opts)
    assert sess["hits"] == 200
    req.finish()


def test_two_sessions_in_one_request_do_not_deadlock(opts):
    # Two cookies' sessions, or one opened twice (manual: PSP error pages),
    # in the same thread: its own lock must not make it wait for itself.
    req = FakeRequest(dict(opts, **{"mod_python.session.cookie_name": "a"}))
    a = Session.Session(req)
    b = Session.Session(req, sid=None)
    a.save()
    again = Session.Session(req, sid=a.id())
    assert not again.is_new()
    req.finish()
    assert a.id() != b.id()


def test_cleanup_is_run_after_the_request_with_cleanup_chance(opts, browser, monkeypatch):
    req, sess = open_session(browser, opts, timeout=1)
    sess.save()
    old = sess.id()
    done(browser, req)
    time.sleep(1.3)
    monkeypatch.setattr(Session, "CLEANUP_CHANCE", 1)
    req = FakeRequest(opts)
    Session.Session(req).save()
    req.finish()
    assert not exists(opts, old)


def test_no_request_cleanup_means_no_lock(opts):
    class Minimal:
        headers_in: Dict[str, str] = {}
        headers_out: Dict[str, str] = {}

        def get_options(self) -> Dict[str, str]:
            return opts

    with pytest.raises(TypeError, match="register_cleanup"):
        Session.Session(Minimal())
    sess = Session.Session(Minimal(), lock=0)
    sess.save()
    assert exists(opts, sess.id())


def test_nothing_is_left_in_the_temp_dir(opts, browser):
    req, sess = open_session(browser, opts)
    sess.save()
    done(browser, req)
    import tempfile

    assert os.listdir(tempfile.gettempdir()) == []
