"""RedisSession against a real redis-server: keys, expiry, the lock, outages."""

from __future__ import annotations

import gc
import threading
import time

import pytest
import redis
from conftest import FakeRequest
from session_services import Blackhole, free_port

from mod_python import Session
from mod_python._session_redis import safe_url


@pytest.fixture
def opts(options, redis_options):
    return dict(options, **redis_options, **{"mod_python.session.session_type": "RedisSession"})


@pytest.fixture
def client(redis_server):
    c = redis.Redis.from_url(redis_server.url)
    yield c
    c.close()


def prefix(opts):
    return opts["mod_python.session.redis_prefix"]


def test_a_session_is_one_key_that_expires_with_it(opts, client):
    req = FakeRequest(opts)
    sess = Session.Session(req, timeout=100)
    sess["n"] = 1
    sess.save()
    key = prefix(opts) + sess.id()
    assert client.exists(key)
    assert 99_000 < client.pttl(key) <= 100_000
    sess.set_timeout(5)
    sess.save()
    assert 4_000 < client.pttl(key) <= 5_000
    req.finish()


def test_the_lock_is_a_key_with_a_ttl_while_the_request_runs(opts, client):
    opts["mod_python.session.redis_lock_ttl"] = "20"
    req = FakeRequest(opts)
    sess = Session.Session(req)
    lock_key = prefix(opts) + sess.id() + ":lock"
    assert 19_000 < client.pttl(lock_key) <= 20_000
    req.finish()
    assert not client.exists(lock_key)


def test_the_lock_of_a_host_that_died_expires(opts):
    opts["mod_python.session.redis_lock_ttl"] = "0.5"
    req = FakeRequest(opts)
    sess = Session.Session(req)
    sess.save()
    sid = sess.id()
    # the "host" dies: its cleanups never run
    del req, sess
    gc.collect()
    started = time.monotonic()
    result = []

    def other_host() -> None:
        req = FakeRequest(opts)
        result.append(Session.Session(req, sid=sid).is_new())
        req.finish()

    thread = threading.Thread(target=other_host)
    thread.start()
    thread.join(10)
    assert result == [False]
    assert 0.3 < time.monotonic() - started < 5


def test_unlock_leaves_a_lock_taken_by_someone_else_alone(opts, client):
    # Request A outlives its lock's ttl; B takes the lock; A's unlock must
    # not free B's lock.
    opts["mod_python.session.redis_lock_ttl"] = "0.3"
    req_a = FakeRequest(opts)
    a = Session.Session(req_a)
    a.save()
    time.sleep(0.5)
    req_b = FakeRequest(dict(opts, **{"mod_python.session.redis_lock_ttl": "30"}))
    b = Session.Session(req_b, sid=a.id())
    assert not b.is_new()
    req_a.finish()
    assert client.exists(prefix(opts) + a.id() + ":lock")
    req_b.finish()
    assert not client.exists(prefix(opts) + a.id() + ":lock")


def test_waiting_too_long_for_a_lock_is_store_unavailable(opts):
    holder = FakeRequest(opts)
    held = Session.Session(holder)
    held.save()
    opts["mod_python.session.redis_lock_wait"] = "0.5"
    started = time.monotonic()
    with pytest.raises(Session.SessionStoreUnavailable, match="stayed locked for more than 0.5 s"):
        Session.Session(FakeRequest(opts), sid=held.id())
    assert time.monotonic() - started < 3
    holder.finish()


def test_a_waiting_request_gets_the_lock_when_it_is_released(opts):
    holder = FakeRequest(opts)
    held = Session.Session(holder)
    held["n"] = 1
    held.save()
    got = []

    def wait() -> None:
        req = FakeRequest(opts)
        got.append(Session.Session(req, sid=held.id())["n"])
        req.finish()

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.3)
    assert got == []
    held["n"] = 2
    held.save()
    holder.finish()
    thread.join(10)
    assert got == [2]


def test_redis_down_is_store_unavailable_at_once(opts):
    opts["mod_python.session.redis_url"] = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    started = time.monotonic()
    with pytest.raises(Session.SessionStoreUnavailable) as info:
        Session.Session(FakeRequest(opts), sid="0" * 32)
    assert time.monotonic() - started < 2
    message = str(info.value)
    assert "in Redis at redis://:***@127.0.0.1:" in message and "hunter2" not in message
    assert "ConnectionError" in message


def test_a_hung_redis_times_out(opts):
    with Blackhole() as hole:
        opts["mod_python.session.redis_url"] = f"redis://127.0.0.1:{hole.port}/0"
        opts["mod_python.session.redis_timeout"] = "0.5"
        started = time.monotonic()
        with pytest.raises(Session.SessionStoreUnavailable, match="TimeoutError"):
            Session.Session(FakeRequest(opts), sid="0" * 32)
        assert time.monotonic() - started < 2


def test_a_new_session_needs_no_store_until_saved(opts):
    # no id: nothing to read, and lock=0: nothing to lock
    opts["mod_python.session.redis_url"] = f"redis://127.0.0.1:{free_port()}/0"
    sess = Session.Session(FakeRequest(opts), lock=0)
    with pytest.raises(Session.SessionStoreUnavailable, match="cannot save session"):
        sess.save()


def test_the_url_argument(opts, redis_server):
    del opts["mod_python.session.redis_url"]
    req = FakeRequest(opts)
    sess = Session.RedisSession(req, url=redis_server.url)
    sess.save()
    req.finish()
    req = FakeRequest(opts)
    assert not Session.RedisSession(req, sid=sess.id(), url=redis_server.url).is_new()
    req.finish()


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("redis_timeout", "0", "redis_timeout '0' must be at least 0.001"),
        ("redis_lock_ttl", "soon", "redis_lock_ttl 'soon' is not a number"),
        ("redis_lock_wait", "-1", "redis_lock_wait '-1' must be at least 0"),
    ],
)
def test_bad_options(opts, option, value, message):
    opts["mod_python.session." + option] = value
    with pytest.raises(ValueError, match=message):
        Session.Session(FakeRequest(opts))


def test_safe_url():
    assert safe_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert safe_url("redis://u:p@h:1/2") == "redis://u:***@h:1/2"
    assert safe_url("rediss://:p@h/0") == "rediss://:***@h/0"


def test_try_acquire_takes_a_free_lock_and_never_waits_for_a_taken_one(opts, client):
    holder = FakeRequest(opts)
    held = Session.Session(holder)
    held.save()
    lock_key = prefix(opts) + held.id() + ":lock"
    results = []

    def other_thread() -> None:
        started = time.monotonic()
        results.append(held._locks.try_acquire(held, held.id()))
        results.append(time.monotonic() - started)

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join(10)
    assert results[0] is None and results[1] < 1
    holder.finish()
    assert not client.exists(lock_key)

    token = held._locks.try_acquire(held, held.id())
    assert token is not None
    assert client.get(lock_key) == held._locks.handle(token)
    held._locks.release(held, token)
    assert not client.exists(lock_key)
