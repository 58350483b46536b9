"""DbmSession (manual 4.8.1): every session in one dbm file.

The dbm file is opened for each operation and closed again, under the
whole-store lock (mutex 0 inside Apache), because no dbm implementation
supports writers in several processes at once.
"""

from __future__ import annotations

import dbm as _dbm
import os
import stat
import tempfile
import time
from typing import Any, Callable, Optional, TypeVar, Union

from mod_python._session_base import BaseSession, Record, dumps, expired, loads
from mod_python._session_options import first, request_options

_T = TypeVar("_T")

#: Suffixes the dbm implementations add to the name they are given.
_DBM_SUFFIXES = ("", ".dat", ".dir", ".bak", ".db", ".pag", ".sqlite3")


def _check_not_planted(path: str) -> None:
    # In a shared temporary directory another user could create the file
    # first (or a link to elsewhere) and feed us sessions: refuse such files.
    for suffix in _DBM_SUFFIXES:
        try:
            info = os.lstat(path + suffix)
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(info.st_mode) or info.st_uid != getattr(os, "geteuid", lambda: 0)():
            raise RuntimeError(
                f"the session dbm file {path + suffix} is a link or belongs to another"
                " user; remove it or set PythonOption mod_python.dbm_session.database_directory"
            )


def dbm_cleanup(session: DbmSession) -> None:
    """Delete the expired sessions of a dbm file (run as a request cleanup)."""
    now = time.time()

    def sweep(db: Any) -> None:
        for key in list(db.keys()):
            record = loads(session._req, key.decode("ascii", "replace"), db[key])
            if record is None or expired(record, now):
                del db[key]

    # Skipped when the file is busy: another cleanup will come.
    session._with_db(sweep, trylock=True)


class DbmSession(BaseSession):
    """Sessions in a dbm file; *dbmtype* is the dbm module to use (default: the
    best one available, as :func:`dbm.open` chooses for a new file)."""

    def __init__(
        self,
        req: Any,
        dbm: Optional[str] = None,
        sid: Optional[str] = None,
        secret: Optional[str] = None,
        dbmtype: Any = _dbm,
        timeout: float = 0,
        lock: Union[bool, int] = 1,
    ) -> None:
        self._dbmtype = dbmtype
        self._dbm_default = False
        if not dbm:
            options = request_options(req)
            dbm = first(options, "mod_python.dbm_session.database_filename", "session_dbm")
            if not dbm:
                directory = first(
                    options, "mod_python.dbm_session.database_directory", "session_directory"
                )
                self._dbm_default = directory is None
                dbm = os.path.join(directory or tempfile.gettempdir(), "mp_sess.dbm")
        self._dbmfile = dbm
        super().__init__(req, sid=sid, secret=secret, timeout=timeout, lock=lock)

    def _with_db(self, action: Callable[[Any], _T], trylock: bool = False) -> Optional[_T]:
        """Run ``action(db)`` on the open dbm file under the store lock.

        With *trylock*, give up (returning None) if the store is busy.
        """
        if trylock:
            token = self._locks.try_acquire(self._lock_server, None)
            if token is None:
                return None
        else:
            token = self._locks.acquire(self._lock_server, None)
        try:
            if self._dbm_default:
                _check_not_planted(self._dbmfile)
            try:
                db = self._dbmtype.open(self._dbmfile, "c", 0o600)
            except OSError as exc:
                raise self._unavailable(
                    f"cannot open the session dbm {self._dbmfile}", exc
                ) from exc
            try:
                return action(db)
            except OSError as exc:
                raise self._unavailable(f"cannot use the session dbm {self._dbmfile}", exc) from exc
            finally:
                db.close()
        finally:
            self._locks.release(self._lock_server, token)

    def do_load(self) -> Optional[Record]:
        key = self._sid.encode("ascii")
        data = self._with_db(lambda db: db[key] if key in db else None)
        return None if data is None else loads(self._req, self._sid, data)

    def do_save(self, record: Record) -> None:
        key, data = self._sid.encode("ascii"), dumps(record)

        def store(db: Any) -> None:
            db[key] = data

        self._with_db(store)

    def do_delete(self) -> None:
        key = self._sid.encode("ascii")

        def remove(db: Any) -> None:
            if key in db:
                del db[key]

        self._with_db(remove)

    def cleanup(self) -> None:
        self._after_request(dbm_cleanup)
