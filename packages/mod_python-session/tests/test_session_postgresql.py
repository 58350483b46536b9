"""PostgreSQLSession against a real PostgreSQL: the table, expiry, advisory
locks, the connection pool, outages."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from conftest import FakeRequest
from session_services import Blackhole, free_port

from mod_python import Session
from mod_python._session_postgresql import MAX_IDLE, safe_dsn


@pytest.fixture
def opts(options, postgresql_options):
    return dict(
        options, **postgresql_options, **{"mod_python.session.session_type": "PostgreSQLSession"}
    )


@pytest.fixture
def db(postgresql_server):
    with psycopg.connect(postgresql_server.dsn, autocommit=True) as conn:
        yield conn


def table(opts):
    return opts["mod_python.session.postgresql_table"]


def saved(opts, timeout=0):
    req = FakeRequest(opts)
    sess = Session.Session(req, timeout=timeout)
    sess["n"] = 1
    sess.save()
    req.finish()
    return sess.id()


def advisory_locks(db):
    return db.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()[0]


def test_the_table_is_made_on_first_use(opts, db):
    sid = saved(opts, timeout=100)
    columns = db.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_name = %s ORDER BY ordinal_position",
        (table(opts),),
    ).fetchall()
    assert columns == [
        ("sid", "text"),
        ("data", "bytea"),
        ("expires", "timestamp with time zone"),
    ]
    (left,) = db.execute(
        f"SELECT extract(epoch from expires - now()) FROM {table(opts)} WHERE sid = %s", (sid,)
    ).fetchone()
    assert 95 < left <= 100
    indexes = db.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", (table(opts),))
    assert f"{table(opts)}_expires" in {row[0] for row in indexes}


def test_a_table_in_a_schema(opts, db):
    db.execute("CREATE SCHEMA IF NOT EXISTS app")
    opts["mod_python.session.postgresql_table"] = "app.web_sessions"
    sid = saved(opts)
    assert db.execute("SELECT count(*) FROM app.web_sessions WHERE sid = %s", (sid,)).fetchone()
    db.execute("DROP SCHEMA app CASCADE")


def test_the_default_table_name(opts, db):
    del opts["mod_python.session.postgresql_table"]
    sid = saved(opts)
    row = db.execute("SELECT 1 FROM mod_python_sessions WHERE sid = %s", (sid,)).fetchone()
    assert row == (1,)
    db.execute("DELETE FROM mod_python_sessions")


def test_an_existing_table_needs_no_create_privilege(opts, db, postgresql_server):
    saved(opts)  # the table exists now
    db.execute("DROP ROLE IF EXISTS webapp")
    db.execute("CREATE ROLE webapp LOGIN")
    db.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table(opts)} TO webapp")
    db.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    opts["mod_python.session.postgresql_dsn"] = postgresql_server.dsn.replace(
        "user=postgres", "user=webapp"
    )
    from mod_python import _session_postgresql

    _session_postgresql._tables_ready.clear()  # as in a new process
    try:
        assert saved(opts)
    finally:
        db.execute(f"REVOKE ALL ON {table(opts)} FROM webapp")
        db.execute("DROP ROLE webapp")


@pytest.mark.parametrize("name", ["sessions; DROP TABLE x", "a.b.c", "1abc", "", "x" * 64])
def test_a_table_name_must_be_plain(opts, name):
    opts["mod_python.session.postgresql_table"] = name or " "
    with pytest.raises(ValueError, match="is not a plain table name"):
        Session.Session(FakeRequest(opts))


def test_an_expired_row_is_not_loaded_and_cleanup_deletes_it(opts, db, monkeypatch):
    old = saved(opts, timeout=1)
    time.sleep(1.2)
    assert db.execute(f"SELECT count(*) FROM {table(opts)}").fetchone() == (1,)
    monkeypatch.setattr(Session, "CLEANUP_CHANCE", 1)
    req = FakeRequest(opts)
    sess = Session.Session(req, sid=old)
    assert sess.is_new()
    req.finish()
    assert db.execute(f"SELECT count(*) FROM {table(opts)}").fetchone() == (0,)


def test_the_lock_is_an_advisory_lock_until_the_request_ends(opts, db):
    sid = saved(opts)
    before = advisory_locks(db)
    req = FakeRequest(opts)
    Session.Session(req, sid=sid)
    assert advisory_locks(db) == before + 1
    req.finish()
    assert advisory_locks(db) == before


def test_a_dead_connection_frees_the_lock(opts, db):
    sid = saved(opts)
    holder = FakeRequest(opts)
    held = Session.Session(holder, sid=sid)
    pid = held._locks.handle(held._lock_token).info.backend_pid
    result = []

    def other_host() -> None:
        req = FakeRequest(opts)
        result.append(Session.Session(req, sid=sid).is_new())
        req.finish()

    thread = threading.Thread(target=other_host)
    thread.start()
    time.sleep(0.3)
    assert result == []  # waiting for the lock
    db.execute("SELECT pg_terminate_backend(%s)", (pid,))  # the holder "crashes"
    thread.join(10)
    assert result == [False]
    with pytest.raises(Session.SessionStoreUnavailable, match="cannot unlock session"):
        held.unlock()


def test_waiting_too_long_for_a_lock_is_store_unavailable(opts):
    sid = saved(opts)
    holder = FakeRequest(opts)
    Session.Session(holder, sid=sid)
    opts["mod_python.session.postgresql_lock_wait"] = "0.5"
    result = []

    def impatient() -> None:
        started = time.monotonic()
        try:
            Session.Session(FakeRequest(opts), sid=sid)
        except Session.SessionStoreUnavailable as exc:
            result.append((str(exc), time.monotonic() - started))

    thread = threading.Thread(target=impatient)
    thread.start()
    thread.join(10)
    holder.finish()
    ((message, waited),) = result
    assert "stayed locked for more than 0.5 s" in message and waited < 3


def backends(db, name):
    query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
    return db.execute(query, (name,)).fetchone()[0]


def test_connections_are_pooled(opts, db):
    opts["mod_python.session.postgresql_dsn"] += " application_name=pooled"
    for _ in range(3 * MAX_IDLE):
        saved(opts)
    assert backends(db, "pooled") == 1  # one request at a time: one connection


def test_at_most_max_idle_connections_stay_open(opts, db):
    opts["mod_python.session.postgresql_dsn"] += " application_name=busy"
    sids = [saved(opts) for _ in range(2 * MAX_IDLE)]
    requests = [FakeRequest(opts) for _ in sids]
    for req, sid in zip(requests, sids):
        Session.Session(req, sid=sid)  # each holds a lock, on a connection of its own
    assert backends(db, "busy") == 2 * MAX_IDLE
    for req in requests:
        req.finish()
    deadline = time.monotonic() + 5
    while backends(db, "busy") > MAX_IDLE and time.monotonic() < deadline:
        time.sleep(0.05)
    assert backends(db, "busy") == MAX_IDLE


def test_two_sessions_on_one_id_in_one_thread_share_the_connection(opts):
    sid = saved(opts)
    req = FakeRequest(opts)
    a = Session.Session(req, sid=sid)
    b = Session.Session(req, sid=sid)  # would wait for itself with two connections
    assert a._held_connection() is b._held_connection() is not None
    req.finish()


def test_concurrent_first_use_creates_the_table_once(opts):
    errors = []

    def first_request() -> None:
        try:
            saved(opts)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first_request) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []


def test_postgresql_down_is_store_unavailable_at_once(opts):
    opts["mod_python.session.postgresql_dsn"] = (
        f"host=127.0.0.1 port={free_port()} user=postgres password=hunter2"
    )
    started = time.monotonic()
    with pytest.raises(Session.SessionStoreUnavailable) as info:
        Session.Session(FakeRequest(opts), sid="0" * 32)
    assert time.monotonic() - started < 2
    message = str(info.value)
    assert "cannot connect in PostgreSQL at host=127.0.0.1" in message
    assert "password=***" in message and "hunter2" not in message
    assert "OperationalError" in message


def test_a_hung_postgresql_times_out(opts):
    with Blackhole() as hole:
        opts["mod_python.session.postgresql_dsn"] = f"host=127.0.0.1 port={hole.port}"
        opts["mod_python.session.postgresql_timeout"] = "2"
        started = time.monotonic()
        with pytest.raises(Session.SessionStoreUnavailable, match="cannot connect"):
            Session.Session(FakeRequest(opts), sid="0" * 32)
        assert time.monotonic() - started < 4


def test_the_dsn_and_table_arguments(opts, postgresql_server):
    del opts["mod_python.session.postgresql_dsn"]
    req = FakeRequest(opts)
    kw = {"dsn": postgresql_server.dsn, "table": table(opts) + "_arg"}
    sess = Session.PostgreSQLSession(req, **kw)
    sess.save()
    req.finish()
    req = FakeRequest(opts)
    assert not Session.PostgreSQLSession(req, sid=sess.id(), **kw).is_new()
    req.finish()


def test_safe_dsn():
    assert safe_dsn("host=h password=secret user=u") == "host=h password=*** user=u"
    assert safe_dsn("host=h password='se cr\\'et' user=u") == "host=h password=*** user=u"
    assert safe_dsn("postgresql://u:secret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert safe_dsn("postgresql://u@h/db") == "postgresql://u@h/db"


def test_try_acquire_takes_a_free_lock_and_never_waits_for_a_taken_one(opts, db):
    sid = saved(opts)
    before = advisory_locks(db)
    holder = FakeRequest(opts)
    held = Session.Session(holder, sid=sid)
    results = []

    def other_thread() -> None:
        started = time.monotonic()
        results.append(held._locks.try_acquire(held, sid))
        results.append(time.monotonic() - started)

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join(10)
    assert results[0] is None and results[1] < 1
    holder.finish()
    assert advisory_locks(db) == before

    token = held._locks.try_acquire(held, sid)
    assert token is not None
    assert advisory_locks(db) == before + 1
    held._locks.release(held, token)
    assert advisory_locks(db) == before
