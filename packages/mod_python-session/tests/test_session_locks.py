"""The locks sessions use outside Apache: thread locks plus flock()ed files,
with per-thread sharing so that a thread never waits for itself."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading
import time
import zlib

import pytest

from mod_python import _session_locks
from mod_python._session_locks import FALLBACK_LOCKS, Locks, fallback_locks, private_directory


def colliding_keys(count: int = 2) -> list:
    """Distinct keys that hash onto the same fallback lock."""
    by_index: dict = {}
    n = 0
    while True:
        key = f"{n:032x}"
        index = 1 + zlib.crc32(key.encode()) % (FALLBACK_LOCKS - 1)
        by_index.setdefault(index, []).append(key)
        if len(by_index[index]) == count:
            return by_index[index]
        n += 1


def held_elsewhere(locks: Locks, key: str) -> bool:
    """Whether another thread finds the key's lock taken."""
    result = []

    def probe() -> None:
        token = locks.try_acquire(None, key)
        result.append(token is None)
        if token is not None:
            locks.release(None, token)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join(10)
    return result[0]


@pytest.fixture
def locks(tmp_path) -> Locks:
    return fallback_locks(str(tmp_path / "locks"))


def test_keys_hash_onto_locks_1_to_n_minus_1_and_the_store_is_lock_0(locks):
    mutexes = locks.mutexes
    assert mutexes.index(None) == 0
    indexes = {mutexes.index(f"{n:032x}") for n in range(2000)}
    assert indexes == set(range(1, FALLBACK_LOCKS))
    # the same in every process (not Python's randomised hash())
    assert mutexes.index("abc") == 1 + zlib.crc32(b"abc") % (FALLBACK_LOCKS - 1)


def test_one_set_of_locks_per_directory(tmp_path):
    assert fallback_locks(str(tmp_path / "a")) is fallback_locks(str(tmp_path / "a"))
    assert fallback_locks(str(tmp_path / "a")) is not fallback_locks(str(tmp_path / "b"))
    assert os.stat(tmp_path / "a").st_mode & 0o777 == 0o700


def test_lock_files_are_private(locks, tmp_path):
    token = locks.acquire(None, "k")
    locks.release(None, token)
    (path,) = (tmp_path / "locks").iterdir()
    assert path.name == f"lock.{locks.mutexes.index('k')}"
    assert path.stat().st_mode & 0o777 == 0o600


def test_another_thread_waits(locks):
    token = locks.acquire(None, "k")
    assert held_elsewhere(locks, "k")
    locks.release(None, token)
    assert not held_elsewhere(locks, "k")


def test_the_same_key_twice_in_one_thread_is_shared(locks):
    first = locks.acquire(None, "k")
    second = locks.acquire(None, "k")  # would deadlock on a plain lock
    locks.release(None, first)
    assert held_elsewhere(locks, "k")
    locks.release(None, second)
    assert not held_elsewhere(locks, "k")


@pytest.mark.parametrize("owner_first", [True, False])
def test_two_keys_on_one_lock_in_one_thread_share_it(locks, owner_first):
    a, b = colliding_keys()
    token_a = locks.acquire(None, a)
    token_b = locks.acquire(None, b)  # the mutex is this thread's already
    assert token_b.shared
    first, second = (token_a, token_b) if owner_first else (token_b, token_a)
    locks.release(None, first)
    # whoever let go first, the lock stays taken for the other session
    assert held_elsewhere(locks, a)
    locks.release(None, second)
    assert not held_elsewhere(locks, a)
    assert not held_elsewhere(locks, b)


def test_a_deferred_key_taken_again_is_owned_again(locks):
    a, b = colliding_keys()
    token_a = locks.acquire(None, a)
    token_b = locks.acquire(None, b)
    locks.release(None, token_a)  # deferred: b still uses the mutex
    token_a2 = locks.acquire(None, a)
    assert not token_a2.shared
    locks.release(None, token_b)
    assert held_elsewhere(locks, a)
    locks.release(None, token_a2)
    assert not held_elsewhere(locks, a)


def test_a_lock_taken_outside_sessions_is_reported_not_shared(locks):
    locks.mutexes.lock(None, "k")
    try:
        with pytest.raises(RuntimeError, match="already held by this thread"):
            locks.acquire(None, "k")
    finally:
        locks.mutexes.unlock(None, "k")


def test_try_acquire(locks):
    token = locks.try_acquire(None, "k")
    assert token is not None
    assert locks.try_acquire(None, "k") is None  # this thread holds it
    assert held_elsewhere(locks, "k")
    locks.release(None, token)
    assert not held_elsewhere(locks, "k")


def test_release_from_another_thread(locks):
    # Some servers run request cleanups in another thread than the handler.
    token = locks.acquire(None, "k")
    thread = threading.Thread(target=locks.release, args=(None, token))
    thread.start()
    thread.join(10)
    assert not held_elsewhere(locks, "k")


def test_unlocking_a_free_lock_is_an_error(locks):
    with pytest.raises(RuntimeError, match="not held"):
        locks.mutexes.unlock(None, "k")


HOLDER = textwrap.dedent(
    """
    import sys
    from mod_python._session_locks import fallback_locks
    locks = fallback_locks(sys.argv[1])
    token = locks.acquire(None, "shared-key")
    print("locked", flush=True)
    sys.stdin.read()
    locks.release(None, token)
    """
)


def test_another_process_waits(locks, tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "locks")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        assert locks.try_acquire(None, "shared-key") is None
        started = time.monotonic()
        threading.Timer(0.5, holder.stdin.close).start()
        token = locks.acquire(None, "shared-key")  # waits for the other process
        assert time.monotonic() - started >= 0.4
        locks.release(None, token)
    finally:
        holder.wait(10)


def _child_takes(directory: str, key: str, queue) -> None:
    locks = fallback_locks(directory)
    token = locks.acquire(None, key)
    locks.release(None, token)
    queue.put("ok")


def test_a_forked_child_does_not_inherit_held_locks(locks, tmp_path):
    token = locks.acquire(None, "k")
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_takes, args=(str(tmp_path / "locks"), "k", queue))
    child.start()
    time.sleep(0.3)
    assert queue.empty()  # the parent's flock excludes the child
    locks.release(None, token)
    child.join(10)
    assert queue.get(timeout=5) == "ok"
    assert child.exitcode == 0


def test_private_directory_is_made_0700(tmp_path):
    path = tmp_path / "p"
    private_directory(str(path), "test directory")
    assert path.stat().st_mode & 0o777 == 0o700
    os.chmod(path, 0o755)
    private_directory(str(path), "test directory")  # ours: tightened
    assert path.stat().st_mode & 0o777 == 0o700


def test_private_directory_refuses_a_link(tmp_path):
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    with pytest.raises(RuntimeError, match="not a directory"):
        private_directory(str(tmp_path / "link"), "test directory")


def test_private_directory_refuses_someone_elses(tmp_path, monkeypatch):
    path = tmp_path / "theirs"
    path.mkdir()
    me = os.geteuid()
    monkeypatch.setattr(os, "geteuid", lambda: me + 1)  # as seen by another user
    with pytest.raises(RuntimeError, match=f"belongs to uid {me}, not to this process"):
        private_directory(str(path), "test directory")


def test_default_lock_directory_is_private_and_per_user(tmp_path):
    import tempfile

    expected = os.path.join(tempfile.gettempdir(), f"mod_python-session-locks-{os.geteuid()}")
    assert _session_locks.default_lock_directory() == expected
    locks = fallback_locks(None)
    assert locks.mutexes.directory == expected
    assert os.stat(expected).st_mode & 0o777 == 0o700
