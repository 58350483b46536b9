"""The caches of compiled PSP pages (manual 4.9, class PSP).

Part of mod_python.psp. A page read from a file is compiled once per
interpreter and kept, keyed on its path, until the file changes: its
modification time or size differs. Unlike 3.3, the files the page includes
are watched too, so editing an included header also takes effect.

- The memory cache holds at most :data:`MAX_PAGES` pages per interpreter,
  dropping the least recently used; it is shared by the threads of a worker
  or event MPM, so it is locked, but never while a page compiles.
- With ``PythonOption mod_python.psp.cache_database_filename`` (3.3's older
  name ``PSPDbmCache`` works too) file pages are kept in that dbm file
  instead, shared by all children and kept across restarts. The code is
  stored with :mod:`marshal`, tagged with the Python bytecode version.
- Pages given as strings are cached in memory only, keyed on the string.
"""

from __future__ import annotations

import contextlib
import dbm
import fcntl
import importlib.util
import marshal
import os
import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable, Iterator, Mapping, Optional

from mod_python._psp_compile import Page, Source, compile_file, compile_string, global_names

#: How many pages the memory cache of an interpreter holds (the manual's 512).
MAX_PAGES = 512

#: The PythonOption naming the dbm file, and 3.3's older name for it.
DBM_OPTION = "mod_python.psp.cache_database_filename"
OLD_DBM_OPTION = "PSPDbmCache"

# A stored page is only good for the bytecode version that wrote it.
_DBM_TAG = b"mod_python.psp:" + importlib.util.MAGIC_NUMBER


class MemoryCache:
    """At most ``size`` pages, the least recently used dropped first."""

    def __init__(self, size: int = MAX_PAGES) -> None:
        self.size = size
        self._pages: OrderedDict[Hashable, Page] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Optional[Page]:
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, key: Hashable, page: Page) -> None:
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()

    def __len__(self) -> int:
        return len(self._pages)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._pages


class DbmCache:
    """File pages in a dbm file shared by every process that names it.

    A dbm file has no locking of its own that all implementations share, so
    readers take a shared and writers an exclusive lock on ``<file>.lock``
    (and threads of one process take turns).
    """

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self._threads = threading.Lock()

    @contextlib.contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        with self._threads:
            fd = os.open(self.filename + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
                yield
            finally:
                os.close(fd)  # closing releases the lock

    def get(self, path: str) -> Optional[Page]:
        with self._locked(exclusive=False):
            try:
                db = dbm.open(self.filename, "r")
            except dbm.error:
                return None  # not made yet
            with contextlib.closing(db):
                raw = db.get(os.fsencode(path))
        if raw is None or not raw.startswith(_DBM_TAG):
            return None
        try:
            sources, code = marshal.loads(raw[len(_DBM_TAG) :])
            page = Page(code, tuple(Source(*s) for s in sources), global_names(code))
        except (ValueError, TypeError, EOFError):
            return None  # damaged, or from another version: compile again
        return page

    def put(self, path: str, page: Page) -> None:
        raw = _DBM_TAG + marshal.dumps((tuple(tuple(s) for s in page.sources), page.code))
        with self._locked(exclusive=True):
            with contextlib.closing(dbm.open(self.filename, "c", 0o600)) as db:
                db[os.fsencode(path)] = raw


#: The memory cache of this interpreter (module globals are per interpreter).
memory = MemoryCache()

_dbm_caches: dict = {}
_dbm_caches_lock = threading.Lock()


def dbm_cache(filename: str) -> DbmCache:
    """The DbmCache of ``filename`` (one object per file, for its thread lock)."""
    with _dbm_caches_lock:
        cache = _dbm_caches.get(filename)
        if cache is None:
            cache = _dbm_caches[filename] = DbmCache(filename)
        return cache


def dbm_filename(options: Mapping[str, str]) -> Optional[str]:
    """The dbm file the PythonOption directives name, or None."""
    return options.get(DBM_OPTION) or options.get(OLD_DBM_OPTION) or None


def is_current(page: Page) -> bool:
    """True if no file the page was made of has changed since it was read."""
    for source in page.sources:
        if source.path is None:
            continue
        try:
            st = os.stat(source.path)
        except OSError:
            return False
        if st.st_mtime_ns != source.mtime_ns or st.st_size != source.size:
            return False
    return True


Log = Callable[[str], Any]


def load_file(path: str, dbm_file: Optional[str] = None, log: Optional[Log] = None) -> Page:
    """The compiled page of the file ``path``, from a cache when it is current.

    A dbm cache that cannot be read or written is reported through ``log``
    and bypassed: the page is still served.
    """
    if dbm_file is None:
        page = memory.get(path)
        if page is None or not is_current(page):
            page = compile_file(path)
            memory.put(path, page)
        return page
    cache = dbm_cache(dbm_file)
    try:
        page = cache.get(path)
    except (OSError, *dbm.error) as exc:
        _report(log, f"cannot read the PSP cache {dbm_file}: {exc}")
        page = None
    if page is not None and is_current(page):
        return page
    page = compile_file(path)
    try:
        cache.put(path, page)
    except (OSError, *dbm.error) as exc:
        # e.g. an ndbm file refusing a large entry (the manual warns of it)
        _report(log, f"cannot store {path} in the PSP cache {dbm_file}: {exc}")
    return page


def load_string(text: str) -> Page:
    """The compiled page of a string (cached in memory only, keyed on the string)."""
    key = ("string", text)
    page = memory.get(key)
    if page is None:
        page = compile_string(text)
        memory.put(key, page)
    return page


def _report(log: Optional[Log], message: str) -> None:
    if log is not None:
        log(message)
