"""DbmSession: where the dbm file is, which dbm, permissions, cleanup."""

from __future__ import annotations

import dbm
import dbm.dumb
import os
import pickle
import tempfile
import time

import pytest
from conftest import FakeRequest

from mod_python import Session
from mod_python._session_dbm import dbm_cleanup


def saved(options, timeout=0, **kw):
    req = FakeRequest(options)
    sess = Session.DbmSession(req, timeout=timeout, **kw)
    sess["n"] = 1
    sess.save()
    req.finish()
    return sess.id()


def stored(path):
    with dbm.open(path, "r") as db:
        return {k.decode(): pickle.loads(db[k]) for k in db.keys()}


def test_the_file_is_mp_sess_dbm_in_the_database_directory(options):
    sid = saved(options)
    path = os.path.join(options["mod_python.dbm_session.database_directory"], "mp_sess.dbm")
    assert stored(path)[sid]["_data"] == {"n": 1}


def test_the_default_is_mp_sess_dbm_in_the_temp_dir(options):
    del options["mod_python.dbm_session.database_directory"]
    sid = saved(options)
    assert sid in stored(os.path.join(tempfile.gettempdir(), "mp_sess.dbm"))


def test_database_filename_overrides_the_path(options, tmp_path):
    options["mod_python.dbm_session.database_filename"] = str(tmp_path / "sessions.db")
    sid = saved(options)
    assert sid in stored(str(tmp_path / "sessions.db"))


def test_the_obsolete_option_names(options, tmp_path):
    del options["mod_python.dbm_session.database_directory"]
    options["session_directory"] = str(tmp_path)
    assert saved(options) in stored(str(tmp_path / "mp_sess.dbm"))
    options["session_dbm"] = str(tmp_path / "old.dbm")
    assert saved(options) in stored(str(tmp_path / "old.dbm"))


def test_the_dbm_argument_and_dbmtype(options, tmp_path):
    path = str(tmp_path / "explicit")
    sid = saved(options, dbm=path, dbmtype=dbm.dumb)
    assert dbm.whichdb(path) == "dbm.dumb"
    assert sid in stored(path)
    req = FakeRequest(options)
    again = Session.DbmSession(req, path, sid, dbmtype=dbm.dumb)  # the manual's order
    assert not again.is_new() and again["n"] == 1
    req.finish()


def test_files_are_0600_whatever_the_umask(options):
    old = os.umask(0)
    try:
        saved(options)
    finally:
        os.umask(old)
    directory = options["mod_python.dbm_session.database_directory"]
    names = [n for n in os.listdir(directory) if n.startswith("mp_sess.dbm")]
    assert names
    for name in names:
        assert os.stat(os.path.join(directory, name)).st_mode & 0o777 == 0o600, name


def test_a_planted_file_in_the_temp_dir_is_refused(options, tmp_path):
    del options["mod_python.dbm_session.database_directory"]
    os.symlink(tmp_path / "target", os.path.join(tempfile.gettempdir(), "mp_sess.dbm.dat"))
    with pytest.raises(RuntimeError, match="is a link or belongs to another user"):
        Session.DbmSession(FakeRequest(options), sid="0" * 32)


def test_an_unusable_file_is_store_unavailable(options):
    options["mod_python.dbm_session.database_filename"] = "/dev/null/mp_sess.dbm"
    req = FakeRequest(options)
    with pytest.raises(Session.SessionStoreUnavailable, match="cannot open the session dbm"):
        Session.DbmSession(req, sid="0" * 32)
    req.finish()


def test_cleanup_deletes_expired_sessions_after_the_request(options, monkeypatch):
    expired = saved(options, timeout=1)
    kept = saved(options)
    time.sleep(1.2)
    monkeypatch.setattr(Session, "CLEANUP_CHANCE", 1)
    req = FakeRequest(options)
    Session.DbmSession(req)
    assert dbm_cleanup in [f for f, _ in req.cleanups]
    path = os.path.join(options["mod_python.dbm_session.database_directory"], "mp_sess.dbm")
    assert expired in stored(path)
    req.finish()
    assert set(stored(path)) == {kept}
