"""Limits, errors and reports shared by the Zotero modules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TypeVar

from readlist.errors import ApiError

T = TypeVar("T")

# The API refuses more than 50 objects per write, and more than 50 keys per `itemKey=`.
MAX_BATCH = 50
# The largest page the API serves.
PAGE_LIMIT = 100
DEFAULT_TIMEOUT = 30.0
MAX_ATTEMPTS = 5
# Waits grow 1, 2, 4, 8... seconds unless the server names its own (Retry-After).
BACKOFF_BASE_SECONDS = 1.0
# A server that asks for a longer pause than this gets an error, not a hung terminal.
MAX_WAIT_SECONDS = 300.0
# Rounds of "the library changed under us (412): re-read, re-plan, write again". Each 412
# means another writer made progress, so in a group library with several members writing at
# once a writer may lose a few rounds in a row before its turn comes.
MAX_PRECONDITION_ROUNDS = 8
# The same for creating a collection path (each round: one listing, one conditional create).
MAX_COLLECTION_ROUNDS = 10
INDEX_FORMAT = 2  # 2: items keep their citationKey

AUTH_MESSAGE = (
    "invalid key or no write access: check ZOTERO_API_KEY (or [zotero] api_key) and that "
    "the key may read and write this library"
)
_NOT_FOUND_MESSAGE = (
    "library not found: check [zotero] library_id (the numeric user or group ID, not a "
    "user name) and library_type"
)

_KEY_ALPHABET = "23456789ABCDEFGHIJKLMNPQRSTUVWXYZ"
_OBJECT_KEY_RE = re.compile(rf"[{_KEY_ALPHABET}]{{8}}")


class ZoteroError(ApiError):
    """The Zotero Web API refused a request, failed after retries, or answered nonsense."""

    service = "Zotero API"


@dataclass(frozen=True)
class ZoteroItem:
    """An item the library already holds, as far as matching and updating need it."""

    key: str
    version: int
    item_type: str
    title: str
    collections: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class DuplicateCollections:
    """Collections that share one path; `keys` in the order readlist ranks them (oldest first).

    The first is the one `sync` files into and `merge_duplicate_collections` keeps.
    """

    path: str
    keys: tuple[str, ...]
    items: tuple[int, ...]  # top-level items in each (as the listing counts them)
    subcollections: tuple[int, ...]


@dataclass
class MergeReport:
    """What `merge_duplicate_collections` did."""

    merged: list[tuple[str, str, str]] = field(default_factory=list)  # (path, gone, kept)
    items_moved: int = 0
    subcollections_moved: int = 0
    requests: int = 0


@dataclass
class SyncReport:
    """What `sync` did (or, with `dry_run`, would do), paper by paper."""

    created: list[tuple[str, str | None]] = field(default_factory=list)  # (citekey, item key)
    updated: list[tuple[str, str, str]] = field(default_factory=list)  # (citekey, key, what)
    unchanged: list[str] = field(default_factory=list)  # citekeys
    failed: list[tuple[str, str]] = field(default_factory=list)  # (title, reason)
    requests: int = 0
    collection_key: str | None = None
    collections_created: list[str] = field(default_factory=list)  # paths, parents first
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)  # e.g. duplicate collections


class _Transient(Exception):
    """A failure worth retrying: 429, 409, 5xx, a timeout, a malformed answer."""

    def __init__(
        self,
        reason: str,
        status: int | None = None,
        *,
        retry_after: float | None = None,
        uncertain: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.uncertain = uncertain  # the server may have carried out the request


class _Precondition(Exception):
    """412: the library changed since the version we sent, or the write token was used."""

    def __init__(self, message: str, *, uncertain: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.uncertain = uncertain
