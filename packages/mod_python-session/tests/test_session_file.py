"""FileSession: files, their permissions and the cleanup (manual 4.8.1)."""

from __future__ import annotations

import os
import pickle
import tempfile
import threading
import time

import pytest
from conftest import FakeRequest

from mod_python import Session
from mod_python._session_file import _CLEANUP_LOCK, _STATE, _Cleanup, filesession_cleanup


@pytest.fixture
def sessdir(options):
    return options["mod_python.file_session.database_directory"]


def saved(options, timeout=0, **data):
    req = FakeRequest(options)
    sess = Session.FileSession(req, timeout=timeout)
    sess.update(data)
    sess.save()
    req.finish()
    return sess.id()


def path_of(sessdir, sid):
    return os.path.join(sessdir, sid[:2], sid)


def age(path, seconds):
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_one_file_per_session_in_a_subdirectory(options, sessdir):
    sid = saved(options, n=1)
    path = path_of(sessdir, sid)
    assert os.listdir(sessdir) == [sid[:2]]
    assert os.listdir(os.path.dirname(path)) == [sid]  # no temporary file left
    with open(path, "rb") as f:
        record = pickle.load(f)
    assert record["_data"] == {"n": 1}
    assert set(record) == {"_data", "_created", "_accessed", "_timeout"}


def test_files_are_0600_whatever_the_umask(options, sessdir):
    old = os.umask(0)
    try:
        sid = saved(options)
    finally:
        os.umask(old)
    assert os.stat(path_of(sessdir, sid)).st_mode & 0o777 == 0o600
    assert os.stat(os.path.dirname(path_of(sessdir, sid))).st_mode & 0o777 == 0o700


def test_the_default_directory_is_mp_sess_in_the_temp_dir(options):
    del options["mod_python.file_session.database_directory"]
    sid = saved(options)
    default = os.path.join(tempfile.gettempdir(), "mp_sess")
    assert os.path.exists(path_of(default, sid))
    assert os.stat(default).st_mode & 0o777 == 0o700


def test_the_obsolete_session_directory_option(options, tmp_path):
    del options["mod_python.file_session.database_directory"]
    options["session_directory"] = str(tmp_path / "old")
    sid = saved(options)
    assert os.path.exists(path_of(str(tmp_path / "old"), sid))


def test_a_default_directory_of_another_user_is_refused(options, monkeypatch):
    del options["mod_python.file_session.database_directory"]
    os.mkdir(os.path.join(tempfile.gettempdir(), "mp_sess"), 0o700)
    me = os.geteuid()
    monkeypatch.setattr(os, "geteuid", lambda: me + 1)
    with pytest.raises(RuntimeError, match="belongs to uid"):
        Session.FileSession(FakeRequest(options))


def test_a_symlinked_session_file_is_not_followed(options, sessdir, tmp_path):
    sid = saved(options, n=1)
    path = path_of(sessdir, sid)
    target = tmp_path / "elsewhere"
    os.rename(path, target)
    os.symlink(target, path)
    req = FakeRequest(options)
    with pytest.raises(Session.SessionStoreUnavailable, match="cannot read session file"):
        Session.FileSession(req, sid=sid)
    assert req.cleanups == [] or req.finish() is None


def test_an_unusable_directory_is_store_unavailable(options, caplog):
    options["mod_python.file_session.database_directory"] = "/dev/null/sessions"
    req = FakeRequest(options)
    sess = Session.FileSession(req)
    with pytest.raises(Session.SessionStoreUnavailable) as info:
        sess.save()
    assert "cannot write session file /dev/null/sessions/" in str(info.value)
    assert "NotADirectoryError" in str(info.value)
    assert "cannot write session file" in caplog.text  # logged as well
    req.finish()


def test_a_corrupt_file_starts_a_new_session(options, sessdir, caplog):
    sid = saved(options)
    with open(path_of(sessdir, sid), "wb") as f:
        f.write(b"not a pickle")
    req = FakeRequest(options)
    sess = Session.FileSession(req, sid=sid)
    assert sess.is_new() and sess.id() != sid
    assert f"session {sid} cannot be read back" in caplog.text
    req.finish()


# --------------------------------------------------------------- cleanup


def run_cleanup(options, timeout=0, **kw):
    req = FakeRequest(options)
    sess = Session.FileSession(req, timeout=timeout, lock=0, **kw)
    filesession_cleanup(sess)
    return sess


def test_fast_cleanup_without_verify_goes_by_modification_time(options, sessdir):
    old, fresh = saved(options), saved(options)
    age(path_of(sessdir, old), 1800 + 240 + 5)
    age(path_of(sessdir, fresh), 1800 + 240 - 5)
    run_cleanup(options, fast_cleanup=True, verify_cleanup=False)
    assert not os.path.exists(path_of(sessdir, old))
    assert os.path.exists(path_of(sessdir, fresh))


def backdate(path, seconds):
    """Make a session look last saved *seconds* ago (record and file time)."""
    with open(path, "rb") as f:
        record = pickle.load(f)
    record["_accessed"] -= seconds
    with open(path, "wb") as f:
        pickle.dump(record, f)
    age(path, seconds)


def test_fast_cleanup_with_verify_reads_the_sessions_own_timeout(options, sessdir):
    long_lived = saved(options, timeout=100000)
    backdate(path_of(sessdir, long_lived), 1800 + 240 + 5)  # old file, but not expired
    expired = saved(options, timeout=100)
    backdate(path_of(sessdir, expired), 1800 + 240 + 5)
    grace = saved(options, timeout=100)
    backdate(path_of(sessdir, grace), 100 + 240 - 5)  # expired, but in its grace period
    age(path_of(sessdir, grace), 100000)
    run_cleanup(options)  # defaults: fast_cleanup and verify_cleanup on
    assert os.path.exists(path_of(sessdir, long_lived))
    assert not os.path.exists(path_of(sessdir, expired))
    assert os.path.exists(path_of(sessdir, grace))


def test_without_fast_cleanup_every_file_is_read(options, sessdir):
    # fast_cleanup=False implies verify_cleanup=True: the modification time
    # is ignored and each session's own timeout decides.
    expired = saved(options, timeout=1)
    alive = saved(options)
    time.sleep(1.2)
    run_cleanup(options, fast_cleanup=False, verify_cleanup=False)
    assert os.path.exists(path_of(sessdir, expired))  # still in its grace period
    options["mod_python.file_session.cleanup_grace_period"] = "0"
    run_cleanup(options, fast_cleanup=False, verify_cleanup=False)
    assert not os.path.exists(path_of(sessdir, expired))
    assert os.path.exists(path_of(sessdir, alive))


def test_cleanup_options(options, sessdir):
    old = saved(options)
    age(path_of(sessdir, old), 100)
    options.update(
        {
            "mod_python.file_session.enable_fast_cleanup": "On",
            "mod_python.file_session.verify_session_timeout": "Off",
            "mod_python.file_session.cleanup_grace_period": "10",
        }
    )
    sess = run_cleanup(options, timeout=50)
    assert (sess._fast_cleanup, sess._verify_cleanup) == (True, False)
    assert sess._cleanup_grace_period == 10 and sess._cleanup_time_limit == 2
    assert not os.path.exists(path_of(sessdir, old))


def test_bad_cleanup_options_are_reported(options):
    options["mod_python.file_session.enable_fast_cleanup"] = "maybe"
    with pytest.raises(ValueError, match="enable_fast_cleanup 'maybe' is not On or Off"):
        Session.FileSession(FakeRequest(options), lock=0)
    del options["mod_python.file_session.enable_fast_cleanup"]
    options["mod_python.file_session.cleanup_time_limit"] = "-1"
    with pytest.raises(ValueError, match="cleanup_time_limit '-1' must be at least 0"):
        Session.FileSession(FakeRequest(options), lock=0)


def test_cleanup_spares_a_locked_session(options, sessdir):
    sid = saved(options, timeout=1)
    age(path_of(sessdir, sid), 10000)
    req = FakeRequest(options)
    Session.FileSession(req, sid=sid)  # expired: gets a new id, old one unlocked
    holder = FakeRequest(options)
    held = Session.FileSession(holder)
    held.save()
    age(path_of(sessdir, held.id()), 10000)
    result = []
    # the cleanup of another request, in another thread
    thread = threading.Thread(
        target=lambda: result.append(run_cleanup(options, fast_cleanup=True, verify_cleanup=False))
    )
    thread.start()
    thread.join(10)
    assert result
    assert os.path.exists(path_of(sessdir, held.id()))
    holder.finish()
    req.finish()


def test_cleanup_removes_stale_temporary_files_only(options, sessdir):
    sid = saved(options)
    sub = os.path.dirname(path_of(sessdir, sid))
    stale, recent = os.path.join(sub, f"{sid}.aaaa.tmp"), os.path.join(sub, f"{sid}.bbbb.tmp")
    for p in (stale, recent):
        open(p, "wb").close()
    age(stale, 300)
    other = os.path.join(sub, "README")
    open(other, "w").close()
    age(other, 100000)
    run_cleanup(options)
    assert not os.path.exists(stale)
    assert os.path.exists(recent) and os.path.exists(other)


def test_cleanup_stops_at_the_time_limit_and_resumes(options, sessdir, monkeypatch):
    sids = sorted((saved(options) for _ in range(40)), key=lambda s: s[:2])
    for sid in sids:
        age(path_of(sessdir, sid), 100000)
    options["mod_python.file_session.verify_session_timeout"] = "Off"
    options["mod_python.file_session.cleanup_time_limit"] = "1"
    subdirs = sorted({s[:2] for s in sids})
    assert len(subdirs) > 3

    # A clock that passes the time limit after the second directory.
    ticks = iter([0, 0, 0] + [100] * 1000)
    monkeypatch.setattr(_Cleanup, "clock", staticmethod(lambda: next(ticks)))
    run_cleanup(options)
    monkeypatch.undo()
    left = {s[:2] for s in sids if os.path.exists(path_of(sessdir, s))}
    assert left == set(subdirs[2:])
    with open(os.path.join(sessdir, _STATE)) as f:
        assert f.read() == subdirs[2]
    run_cleanup(options)  # the next call goes on from there
    assert not any(os.path.exists(path_of(sessdir, s)) for s in sids)
    with open(os.path.join(sessdir, _STATE)) as f:
        assert f.read() == ""


def test_cleanup_time_limit_0_runs_to_completion(options, sessdir):
    sids = [saved(options) for _ in range(10)]
    for sid in sids:
        age(path_of(sessdir, sid), 100000)
    options["mod_python.file_session.cleanup_time_limit"] = "0"
    run_cleanup(options, verify_cleanup=False)
    assert not any(os.path.exists(path_of(sessdir, s)) for s in sids)


def test_only_one_cleanup_runs_at_a_time(options, sessdir):
    import fcntl

    sid = saved(options)
    age(path_of(sessdir, sid), 100000)
    fd = os.open(os.path.join(sessdir, _CLEANUP_LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        run_cleanup(options, verify_cleanup=False)  # returns at once, does nothing
        assert os.path.exists(path_of(sessdir, sid))
    finally:
        os.close(fd)
    run_cleanup(options, verify_cleanup=False)
    assert not os.path.exists(path_of(sessdir, sid))


def test_cleanup_is_registered_for_the_end_of_the_request(options, sessdir, monkeypatch):
    sid = saved(options)
    age(path_of(sessdir, sid), 100000)
    monkeypatch.setattr(Session, "CLEANUP_CHANCE", 1)
    req = FakeRequest(options)
    Session.FileSession(req, verify_cleanup=False)
    assert os.path.exists(path_of(sessdir, sid))  # not during the request
    assert [f for f, _ in req.cleanups][-1] is filesession_cleanup
    req.finish()
    assert not os.path.exists(path_of(sessdir, sid))
