"""Session ids: how they are made and which ones a client may send (MODPYTHON-135).

An id is 32 lower-case hex digits (128 random bits from :mod:`secrets`). Only
ids of exactly that form are ever used, because backends build file names,
dbm keys and store keys from them: nothing else (``../``, NUL, very long
strings) reaches a store.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

SID_LENGTH = 32
_SID = re.compile(r"[0-9a-f]{32}")


def new_sid() -> str:
    return secrets.token_hex(SID_LENGTH // 2)


def is_valid_sid(sid: Any) -> bool:
    return isinstance(sid, str) and _SID.fullmatch(sid) is not None
