"""MemorySession: a dict of this interpreter, holding pickled records."""

from __future__ import annotations

import time

from conftest import FakeRequest

from mod_python import Session, _session_memory
from mod_python._session_memory import mem_cleanup


def test_sessions_live_in_the_module_dict(options):
    req = FakeRequest(options)
    sess = Session.MemorySession(req)
    sess.save()
    req.finish()
    assert list(_session_memory._sessions) == [sess.id()]


def test_stored_objects_are_copies(options):
    req = FakeRequest(options)
    sess = Session.MemorySession(req)
    cart = ["apple"]
    sess["cart"] = cart
    sess.save()
    cart.append("changed after the save")
    req.finish()

    req = FakeRequest(options)
    again = Session.MemorySession(req, sid=sess.id())
    assert again["cart"] == ["apple"]
    assert again["cart"] is not cart
    req.finish()


def test_cleanup_deletes_expired_sessions(options, monkeypatch):
    req = FakeRequest(options)
    old = Session.MemorySession(req, timeout=1)
    old.save()
    req.finish()
    time.sleep(1.2)
    monkeypatch.setattr(Session, "CLEANUP_CHANCE", 1)
    req = FakeRequest(options)
    new = Session.MemorySession(req)
    new.save()
    assert old.id() in _session_memory._sessions
    assert [f for f, _ in req.cleanups][-1] is mem_cleanup
    req.finish()
    assert list(_session_memory._sessions) == [new.id()]
