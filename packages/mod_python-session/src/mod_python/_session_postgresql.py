"""PostgreSQLSession: sessions in a PostgreSQL table, locked across every host.

- The table (created on first use if it does not exist)::

      CREATE TABLE mod_python_sessions (
          sid     text PRIMARY KEY,
          data    bytea NOT NULL,          -- the pickled record
          expires timestamptz NOT NULL     -- now() + timeout, at each save
      );
      CREATE INDEX ... ON mod_python_sessions (expires);

  A row whose ``expires`` has passed is never loaded: expiry needs no cleanup
  pass. The occasional cleanup() (``CLEANUP_CHANCE``) deletes such rows after
  the request, which only keeps the table small.
- The lock is ``pg_advisory_lock(hashtext(<table>), hashtext(<id>))``, held on
  a connection that the session keeps (and uses for its queries) until the
  request ends. PostgreSQL frees it if that connection dies, so a host that
  crashes leaves no lock behind; waiting for a lock is bounded by
  ``postgresql_lock_wait`` (the connection's ``lock_timeout``).
- Connections have a connect time-out (``postgresql_timeout``) and a
  statement time-out: a database that is down gives
  :class:`SessionStoreUnavailable` (a 503 inside Apache) in seconds.
- Idle connections are kept in a small pool per process.
"""

from __future__ import annotations

import math
import os
import re
import threading
from typing import Any, Dict, List, Optional, Tuple, Union

try:
    import psycopg
    from psycopg import sql
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError(
        "PostgreSQLSession needs psycopg 3: pip install 'mod_python-session[postgresql]'"
    ) from exc

from mod_python._session_base import BaseSession, Record, dumps, loads
from mod_python._session_locks import BUSY, Locks
from mod_python._session_options import first, number_option, request_options

DEFAULT_TABLE = "mod_python_sessions"
#: Idle connections kept per database and process.
MAX_IDLE = 8

_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?")
_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)|(://[^:/@]*:)[^@]*@", re.I)

_registry_lock = threading.Lock()
_pools: Dict[Tuple[str, float, float], _Pool] = {}
_locks: Dict[Tuple[str, float, float, str], Locks] = {}
_tables_ready: set = set()


def safe_dsn(dsn: str) -> str:
    """*dsn* (key=value or URI form) without its password, for messages."""

    def hide(match: Any) -> str:
        if match.group(1):
            return match.group(1) + "***"
        return match.group(3) + "***@"

    return _PASSWORD.sub(hide, dsn)


class _Pool:
    """Idle connections to one database, in this process."""

    def __init__(self, dsn: str, timeout: float, lock_wait: float) -> None:
        self.dsn = dsn
        self.timeout = timeout
        self.lock_wait = lock_wait
        self.idle: List[Any] = []
        self.lock = threading.Lock()

    def get(self) -> Any:
        while True:
            with self.lock:
                conn = self.idle.pop() if self.idle else None
            if conn is None:
                return self._connect()
            if not conn.closed and not conn.broken:
                return conn

    def _connect(self) -> Any:
        # libpq counts connect_timeout in whole seconds, and at least 2.
        conn = psycopg.connect(
            self.dsn, autocommit=True, connect_timeout=max(2, math.ceil(self.timeout))
        )
        try:
            # Bound lock waits, and any statement (a lock wait included).
            conn.execute(f"SET lock_timeout = {int(self.lock_wait * 1000)}")
            conn.execute(f"SET statement_timeout = {int((self.lock_wait + self.timeout) * 1000)}")
        except BaseException:
            conn.close()
            raise
        return conn

    def put(self, conn: Any) -> None:
        usable = not conn.closed and not conn.broken
        if usable and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            with self.lock:
                if len(self.idle) < MAX_IDLE:
                    self.idle.append(conn)
                    return
        conn.close()


def _forget_pools() -> None:
    # A child must not use its parent's connections (psycopg leaves them
    # open for the parent rather than closing them in the child).
    _pools.clear()
    _locks.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


class _AdvisoryLocks:
    """Session locks as advisory locks; the handle is the connection holding one."""

    def __init__(self, pool: _Pool, table: str) -> None:
        self.pool = pool
        self.table = table

    def lock(self, session: PostgreSQLSession, key: Optional[str]) -> Any:
        conn = session._connect()
        try:
            conn.execute("SELECT pg_advisory_lock(hashtext(%s), hashtext(%s))", (self.table, key))
        except psycopg.errors.LockNotAvailable as exc:
            self.pool.put(conn)
            raise session._unavailable(
                f"session {key} stayed locked for more than {self.pool.lock_wait:g} s"
                f" (PostgreSQL at {safe_dsn(self.pool.dsn)})"
            ) from exc
        except psycopg.Error as exc:
            conn.close()
            raise session._failed(f"lock session {key}", exc) from exc
        return conn

    def trylock(self, session: PostgreSQLSession, key: Optional[str]) -> Any:
        conn = session._connect()
        try:
            row = conn.execute(
                "SELECT pg_try_advisory_lock(hashtext(%s), hashtext(%s))", (self.table, key)
            ).fetchone()
        except psycopg.Error as exc:
            conn.close()
            raise session._failed(f"lock session {key}", exc) from exc
        if row and row[0]:
            return conn
        self.pool.put(conn)
        return BUSY

    def unlock(self, session: PostgreSQLSession, key: Optional[str], conn: Any) -> None:
        try:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s), hashtext(%s))", (self.table, key))
        except psycopg.Error as exc:
            conn.close()  # which releases the lock on the server
            raise session._failed(f"unlock session {key}", exc) from exc
        self.pool.put(conn)


def postgresql_cleanup(session: PostgreSQLSession) -> None:
    """Delete the expired rows (run as a request cleanup)."""
    query = sql.SQL("DELETE FROM {} WHERE expires <= now()")
    session._query(query, (), "delete expired sessions", fetch=False)


class PostgreSQLSession(BaseSession):
    """Sessions in PostgreSQL; *dsn* and *table* override the options
    ``mod_python.session.postgresql_dsn`` and ``postgresql_table``."""

    _store_expires = True

    def __init__(
        self,
        req: Any,
        sid: Optional[str] = None,
        secret: Optional[str] = None,
        timeout: float = 0,
        lock: Union[bool, int] = 1,
        dsn: Optional[str] = None,
        table: Optional[str] = None,
    ) -> None:
        options = request_options(req)
        # An empty DSN lets libpq use its environment (PGHOST, ...) and defaults.
        self._pg_dsn = dsn or first(options, "mod_python.session.postgresql_dsn") or ""
        self._pg_table = (
            table or options.get("mod_python.session.postgresql_table") or (DEFAULT_TABLE)
        )
        if not _TABLE.fullmatch(self._pg_table):
            raise ValueError(
                f"PostgreSQL session table {self._pg_table!r} is not a plain table name"
                " (letters, digits, _; optionally schema.table)"
            )
        self._pg_identifier = sql.Identifier(*self._pg_table.split("."))
        timeout_option = "mod_python.session.postgresql_timeout"
        self._pg_timeout = number_option(options, timeout_option, 3.0, 0.001)
        wait_option = "mod_python.session.postgresql_lock_wait"
        self._pg_lock_wait = number_option(options, wait_option, 30.0, 0.001)
        key = (self._pg_dsn, self._pg_timeout, self._pg_lock_wait)
        with _registry_lock:
            self._pg_pool = _pools.get(key) or _pools.setdefault(key, _Pool(*key))
        super().__init__(req, sid=sid, secret=secret, timeout=timeout, lock=lock)

    # ------------------------------------------------------------------ plumbing

    def _failed(self, doing: str, exc: BaseException) -> Exception:
        return self._unavailable(f"cannot {doing} in PostgreSQL at {safe_dsn(self._pg_dsn)}", exc)

    def _connect(self) -> Any:
        """A pooled connection, the table made sure of."""
        try:
            conn = self._pg_pool.get()
        except psycopg.Error as exc:
            raise self._failed("connect", exc) from exc
        ready_key = (self._pg_dsn, self._pg_table)
        if ready_key not in _tables_ready:
            try:
                self._create_table(conn)
            except psycopg.OperationalError as exc:
                conn.close()
                raise self._failed(f"create table {self._pg_table}", exc) from exc
            except BaseException:
                conn.close()
                raise
            _tables_ready.add(ready_key)
        return conn

    def _create_table(self, conn: Any) -> None:
        name = self._pg_identifier.as_string(conn)
        if conn.execute("SELECT to_regclass(%s)", (name,)).fetchone()[0] is not None:
            return  # exists: no CREATE privilege needed
        # Several processes may get here at once; one creates, the others wait.
        guard = ("mod_python.session.create", self._pg_table)
        conn.execute("SELECT pg_advisory_lock(hashtext(%s), hashtext(%s))", guard)
        try:
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (sid text PRIMARY KEY, data bytea NOT NULL,"
                    " expires timestamptz NOT NULL)"
                ).format(self._pg_identifier)
            )
            index = sql.Identifier(self._pg_table.split(".")[-1] + "_expires")
            conn.execute(
                sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (expires)").format(
                    index, self._pg_identifier
                )
            )
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s), hashtext(%s))", guard)

    def _held_connection(self) -> Optional[Any]:
        token = self._lock_token
        if token is None:
            return None
        return self._locks.handle(token)

    def _query(self, query: Any, params: Tuple[Any, ...], doing: str, fetch: bool = True) -> Any:
        """Run *query* ({} is the table) on the lock's connection, or a pooled one."""
        statement = query.format(self._pg_identifier)
        conn = self._held_connection()
        if conn is not None:
            try:
                cursor = conn.execute(statement, params)
                return cursor.fetchall() if fetch else None
            except psycopg.OperationalError as exc:
                raise self._failed(doing, exc) from exc
        conn = self._connect()
        try:
            cursor = conn.execute(statement, params)
            rows = cursor.fetchall() if fetch else None
        except psycopg.OperationalError as exc:
            conn.close()
            raise self._failed(doing, exc) from exc
        except BaseException:
            conn.close()
            raise
        self._pg_pool.put(conn)
        return rows

    # ------------------------------------------------------------------ BaseSession

    def init_lock(self) -> None:
        key = (self._pg_dsn, self._pg_timeout, self._pg_lock_wait, self._pg_table)
        with _registry_lock:
            locks = _locks.get(key)
            if locks is None:
                locks = _locks[key] = Locks(_AdvisoryLocks(self._pg_pool, self._pg_table))
        # The session itself is the lock's context: errors are reported through it.
        self._locks, self._lock_server = locks, self

    def do_load(self) -> Optional[Record]:
        rows = self._query(
            sql.SQL("SELECT data FROM {} WHERE sid = %s AND expires > now()"),
            (self._sid,),
            f"read session {self._sid}",
        )
        return loads(self._req, self._sid, bytes(rows[0][0])) if rows else None

    def do_save(self, record: Record) -> None:
        self._query(
            sql.SQL(
                "INSERT INTO {} (sid, data, expires)"
                " VALUES (%s, %s, now() + %s * interval '1 second')"
                " ON CONFLICT (sid) DO UPDATE SET data = EXCLUDED.data, expires = EXCLUDED.expires"
            ),
            (self._sid, dumps(record), float(record["_timeout"])),
            f"save session {self._sid}",
            fetch=False,
        )

    def do_delete(self) -> None:
        self._query(
            sql.SQL("DELETE FROM {} WHERE sid = %s"),
            (self._sid,),
            f"delete session {self._sid}",
            fetch=False,
        )

    def cleanup(self) -> None:
        self._after_request(postgresql_cleanup)
