"""MemorySession (manual 4.8.1): sessions in a dict of this interpreter.

Only for servers with a single process (and, inside Apache, a single
interpreter using the sessions). Records are kept pickled, as the other
stores keep them, so that a session's objects are never shared between two
requests and whatever works here also works with another backend.
"""

from __future__ import annotations

import threading
import time
from typing import Dict, Optional

from mod_python._session_base import BaseSession, Record, dumps, expired, loads

_sessions: Dict[str, bytes] = {}
_sessions_lock = threading.Lock()


def mem_cleanup(session: MemorySession) -> None:
    """Delete the expired sessions of this interpreter (run as a request cleanup)."""
    now = time.time()
    with _sessions_lock:
        items = list(_sessions.items())
    for sid, data in items:
        record = loads(session._req, sid, data)
        if record is None or expired(record, now):
            with _sessions_lock:
                # Unless a request saved it again meanwhile.
                if _sessions.get(sid) is data:
                    del _sessions[sid]


class MemorySession(BaseSession):
    """Sessions in a dict of this interpreter: for a server with a single process."""

    def do_load(self) -> Optional[Record]:
        with _sessions_lock:
            data = _sessions.get(self._sid)
        return None if data is None else loads(self._req, self._sid, data)

    def do_save(self, record: Record) -> None:
        data = dumps(record)
        with _sessions_lock:
            _sessions[self._sid] = data

    def do_delete(self) -> None:
        with _sessions_lock:
            _sessions.pop(self._sid, None)

    def cleanup(self) -> None:
        self._after_request(mem_cleanup)
