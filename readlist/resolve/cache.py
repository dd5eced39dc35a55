"""Keep what resolution learned on disk, so a re-run makes no requests and --offline can use it.

One SQLite file (`readlist.sqlite3`) under the cache directory holds two tables:

- `entries`: arXiv metadata by bare arXiv ID, as JSON text the caller serialized, with the
  time it was fetched. arXiv metadata barely changes, so entries do not expire unless the
  caller asks for a `max_age`.
- `lookups`: the answer to "which arXiv ID is this listing?", keyed by `lookup_key`. A "not
  found" answer expires (the paper may appear on Hugging Face or arXiv tomorrow); a found
  answer does not, unless the caller gives a TTL.

The file is a cache: when it is corrupt, or was written by a newer readlist, it is moved
aside and a fresh one is created rather than failing the command.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from readlist.errors import ReadlistError
from readlist.normalize import normalize_title, normalize_whitespace

FILENAME = "readlist.sqlite3"
SCHEMA_VERSION = 1
NOT_FOUND_TTL = 7 * 24 * 3600.0  # a week: long enough to spare the APIs, short enough to retry
# How long a write waits for another process holding the database lock.
BUSY_TIMEOUT_SECONDS = 30.0
# SQLite builds before 3.32 allow at most 999 host parameters per statement.
_CHUNK = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    arxiv_id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    fetched_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS lookups (
    key TEXT PRIMARY KEY,
    arxiv_id TEXT,
    reason TEXT NOT NULL,
    stored_at REAL NOT NULL,
    expires_at REAL
);
"""
_TABLES = frozenset({"schema_version", "entries", "lookups"})
# A lookup row that has not expired at the time bound to `:now`.
_LIVE = "(expires_at IS NULL OR expires_at > :now)"
# Primary result codes that mean the file is damaged or not a database: SQLITE_CORRUPT, NOTADB.
_DAMAGED = frozenset({11, 26})


class CacheError(ReadlistError):
    """The cache directory or database cannot be opened or written."""

    def __init__(self, path: Path, message: str) -> None:
        self.path = path
        super().__init__(f"cache {path}: {message}")


class _Unusable(Exception):
    """The database file is corrupt, foreign or from a newer schema; carries why."""


@dataclass(frozen=True)
class Lookup:
    """A cached answer to a title lookup: the arXiv ID, or None for "not found"."""

    arxiv_id: str | None
    reason: str
    stored_at: float


@dataclass(frozen=True)
class CacheInfo:
    """What `readlist cache info` shows."""

    path: Path
    size_bytes: int
    entries: int
    lookups_found: int
    lookups_not_found: int  # not found and not yet expired
    lookups_expired: int


def lookup_key(title: str, abstract: str | None) -> str:
    """Return the cache key of a listing: the same title and abstract give the same key."""
    text = f"{normalize_title(title)}\x00{normalize_whitespace(abstract or '')}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _chunks(items: list[str]) -> Iterator[list[str]]:
    """Yield `items` in slices small enough for one statement's parameters."""
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class Cache:
    """The on-disk cache; safe to share between a few threads of one process."""

    def __init__(
        self, path: Path, connection: sqlite3.Connection, clock: Callable[[], float]
    ) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = connection
        self._clock = clock
        self._lock = threading.RLock()

    @classmethod
    def open(cls, directory: Path, *, clock: Callable[[], float] = time.time) -> Cache:
        """Open (creating when needed) the cache database in `directory`."""
        directory = Path(directory)
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CacheError(directory, f"cannot create directory ({error.strerror})") from None
        path = directory / FILENAME
        before = _identity(path)
        try:
            connection = _connect(path)
        except _Unusable:
            # If another process already replaced the file, its fresh database is fine.
            if _identity(path) == before:
                _move_aside(path, clock())
            try:
                connection = _connect(path)
            except _Unusable as error:
                raise CacheError(path, f"cannot create a fresh database ({error})") from None
        except sqlite3.Error as error:
            raise CacheError(path, str(error)) from None
        return cls(path, connection, clock)

    def close(self) -> None:
        """Close the database; further calls fail."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def __enter__(self) -> Cache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextlib.contextmanager
    def _db(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """Hold the lock and yield the connection, inside a transaction when writing."""
        with self._lock:
            if self._connection is None:
                raise CacheError(self.path, "the cache is closed")
            connection = self._connection
            try:
                if write:
                    connection.execute("BEGIN IMMEDIATE")
                try:
                    yield connection
                except BaseException:
                    if write:
                        with contextlib.suppress(sqlite3.Error):
                            connection.execute("ROLLBACK")
                    raise
                if write:
                    connection.execute("COMMIT")
            except sqlite3.Error as error:
                raise CacheError(self.path, str(error)) from error

    # arXiv metadata

    def get_entries(self, ids: Iterable[str], *, max_age: float | None = None) -> dict[str, str]:
        """Return the stored JSON text of each cached ID (missing and too old IDs left out)."""
        wanted = list(dict.fromkeys(ids))
        oldest = None if max_age is None else self._clock() - max_age
        found: dict[str, str] = {}
        with self._db() as db:
            for chunk in _chunks(wanted):
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT arxiv_id, data, fetched_at FROM entries WHERE arxiv_id IN ({marks})",
                    chunk,
                )
                for arxiv_id, data, fetched_at in rows:
                    if oldest is None or fetched_at >= oldest:
                        found[arxiv_id] = data
        return found

    def put_entries(self, items: Mapping[str, str]) -> None:
        """Store (or replace) the JSON text of each arXiv ID, stamped with the current time."""
        now = self._clock()
        rows = [(arxiv_id, data, now) for arxiv_id, data in items.items()]
        if not rows:
            return
        with self._db(write=True) as db:
            db.executemany(
                "INSERT OR REPLACE INTO entries (arxiv_id, data, fetched_at) VALUES (?, ?, ?)",
                rows,
            )

    # Title lookups

    def get_lookup(self, key: str) -> Lookup | None:
        """Return the cached answer for a lookup key, or None when absent or expired."""
        with self._db() as db:
            row = db.execute(
                "SELECT arxiv_id, reason, stored_at, expires_at FROM lookups WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        arxiv_id, reason, stored_at, expires_at = row
        if expires_at is not None and expires_at <= self._clock():
            return None
        return Lookup(arxiv_id=arxiv_id, reason=reason, stored_at=stored_at)

    def put_lookup(
        self, key: str, arxiv_id: str | None, *, reason: str = "", ttl: float | None = None
    ) -> None:
        """Store a lookup answer; `arxiv_id=None` means "not found" and always expires.

        Without `ttl`, a found answer never expires and a not-found one lasts `NOT_FOUND_TTL`.
        A not-found stored again while the first one lives keeps the first one's time, expiry
        and reason: the paper is asked about again a fixed time after it was first missed, and
        the reason does not grow with every run that repeats it.
        """
        if ttl is not None and ttl < 0:
            raise ValueError(f"ttl must not be negative, not {ttl}")
        if ttl is None and arxiv_id is None:
            ttl = NOT_FOUND_TTL
        now = self._clock()
        expires_at = None if ttl is None else now + ttl
        with self._db(write=True) as db:
            if arxiv_id is None:
                first = db.execute(
                    f"SELECT 1 FROM lookups WHERE key = :key AND arxiv_id IS NULL AND {_LIVE}",
                    {"key": key, "now": now},
                ).fetchone()
                if first is not None:
                    return
            db.execute(
                "INSERT OR REPLACE INTO lookups (key, arxiv_id, reason, stored_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (key, arxiv_id, reason, now, expires_at),
            )

    # Housekeeping

    def info(self) -> CacheInfo:
        """Count what the cache holds and measure its files."""
        now = self._clock()
        with self._db() as db:
            entries = db.execute("SELECT count(*) FROM entries").fetchone()[0]
            found, not_found, expired = db.execute(
                f"SELECT coalesce(sum(arxiv_id IS NOT NULL AND {_LIVE}), 0),"
                f" coalesce(sum(arxiv_id IS NULL AND {_LIVE}), 0),"
                f" coalesce(sum(NOT {_LIVE}), 0)"
                " FROM lookups",
                {"now": now},
            ).fetchone()
        size = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                size += Path(f"{self.path}{suffix}").stat().st_size
        return CacheInfo(
            path=self.path,
            size_bytes=size,
            entries=entries,
            lookups_found=found,
            lookups_not_found=not_found,
            lookups_expired=expired,
        )

    def clear(self) -> int:
        """Remove every cached row and return how many were removed; the file stays usable."""
        with self._db(write=True) as db:
            removed = db.execute("DELETE FROM entries").rowcount
            removed += db.execute("DELETE FROM lookups").rowcount
        with self._db() as db, contextlib.suppress(sqlite3.OperationalError):
            # Give the space back; another process reading at this moment makes this a no-op.
            db.execute("VACUUM")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(removed)


def _connect(path: Path) -> sqlite3.Connection:
    """Open `path`, check it is our database (creating the schema in an empty file).

    Raises `_Unusable` when the file is not a database, is damaged, holds foreign tables or
    has a schema version this code does not know.
    """
    connection = sqlite3.connect(
        path,
        timeout=BUSY_TIMEOUT_SECONDS,
        isolation_level=None,  # transactions are explicit (see Cache._db)
        check_same_thread=False,  # shared by threads; Cache serializes access with a lock
    )
    try:
        connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        _check_and_create(connection)
    except sqlite3.DatabaseError as error:
        connection.close()
        # Only damage means "move aside"; a locked or unreadable file is the user's to fix.
        if getattr(error, "sqlite_errorcode", 0) & 0xFF not in _DAMAGED:
            raise
        raise _Unusable(str(error)) from None
    except _Unusable:
        connection.close()
        raise
    return connection


def _check_and_create(connection: sqlite3.Connection) -> None:
    """Switch to WAL, verify the file, and create the schema when the file is new."""
    connection.execute("PRAGMA journal_mode = WAL")
    check = connection.execute("PRAGMA quick_check").fetchone()
    if check is None or check[0] != "ok":
        raise _Unusable(f"integrity check failed: {check[0] if check else 'no answer'}")
    # One transaction with the write lock, so that two processes creating the file at once
    # cannot see each other's half-made schema.
    connection.execute("BEGIN IMMEDIATE")
    try:
        tables = {
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        if not tables:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    connection.execute(statement)
            connection.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        elif "schema_version" not in tables:
            raise _Unusable("not a readlist cache (no schema_version table)")
        else:
            versions = [row[0] for row in connection.execute("SELECT version FROM schema_version")]
            if versions != [SCHEMA_VERSION]:
                raise _Unusable(f"unknown schema version {versions}")
            if _TABLES - tables:
                raise _Unusable(f"missing tables {sorted(_TABLES - tables)}")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _identity(path: Path) -> tuple[int, int] | None:
    """Return the device and inode of `path`, or None when it does not exist."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _move_aside(path: Path, now: float) -> None:
    """Rename an unusable database (and its WAL files) to `<name>.corrupt-<timestamp>`."""
    stamp = int(now)
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 0
    while target.exists():
        counter += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
    try:
        path.rename(target)
    except FileNotFoundError:  # another process moved it first
        pass
    except OSError as error:
        raise CacheError(path, f"cannot move the unusable database aside ({error})") from None
    # A stale WAL would be replayed into the fresh database: move it with its database.
    for suffix in ("-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        with contextlib.suppress(FileNotFoundError):
            side.rename(Path(f"{target}{suffix}"))
