"""The cached index of the library's top-level items, and the reads that match papers.

The index is kept as JSON in the cache directory, keyed by library version, and brought up
to date with `?since=` reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from readlist.models import Paper
from readlist.zotero.base import INDEX_FORMAT, MAX_BATCH, PAGE_LIMIT, ZoteroItem
from readlist.zotero.collections import _CollectionOps, _matching_chains, split_collection_path
from readlist.zotero.items import (
    _tag_names,
    item_citation_key,
    item_identities,
    item_to_paper,
    paper_identities,
)
from readlist.zotero.session import _header_int

# Child and non-bibliographic items never match a paper.
_SKIP_TYPES = frozenset({"note", "attachment", "annotation"})
# What the local index keeps of each item: enough to match a paper and to update it.
_INDEX_FIELDS = (
    "key",
    "version",
    "itemType",
    "title",
    "DOI",
    "url",
    "archiveID",
    "extra",
    "citationKey",
    "collections",
    "tags",
)


@dataclass
class _Index:
    """The slim copy of the library's top-level items, current as of `version`."""

    version: int = 0
    built: bool = False
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    _lookup: dict[str, list[str]] | None = None  # identity -> keys; rebuilt after changes

    def put(self, data: Mapping[str, Any]) -> None:
        key = data.get("key")
        if not isinstance(key, str):
            return
        self._lookup = None
        if data.get("itemType") in _SKIP_TYPES or data.get("deleted") or data.get("parentItem"):
            self.items.pop(key, None)  # trashed, or no longer a top-level item
        else:
            self.items[key] = {name: data[name] for name in _INDEX_FIELDS if name in data}

    def clear(self) -> None:
        self._lookup = None
        self.items = {}

    def drop(self, key: str) -> None:
        self._lookup = None
        self.items.pop(key, None)

    def lookup(self) -> dict[str, list[str]]:
        if self._lookup is None:
            table: dict[str, list[str]] = {}
            for key, data in self.items.items():
                for identity in item_identities(data):
                    table.setdefault(identity, []).append(key)
            self._lookup = table
        return self._lookup


def _zotero_item(data: Mapping[str, Any]) -> ZoteroItem:
    return ZoteroItem(
        key=str(data["key"]),
        version=int(data.get("version") or 0),
        item_type=str(data.get("itemType") or ""),
        title=str(data.get("title") or ""),
        collections=tuple(data.get("collections") or ()),
        tags=tuple(_tag_names(data.get("tags"))),
    )


class _IndexReads(_CollectionOps):
    """The cached item index, matching papers to items, and collection reads."""

    @property
    def index_path(self) -> Path:
        """The JSON file that caches this library's item index."""
        ident = re.sub(r"[^\w.-]", "_", self.config.library_id.strip())
        return self.cache_dir / f"zotero-{self.config.library_type}-{ident}.json"

    def find_existing(self, papers: Sequence[Paper]) -> list[ZoteroItem | None]:
        """Bring the item index up to date (network) and match each paper against it.

        An item matches when its url, DOI, archiveID or extra names the paper's arXiv ID,
        or its DOI is the paper's published DOI.
        """
        self._refresh_index()
        return [self._match(paper, None) for paper in papers]

    def _match(self, paper: Paper, collection: str | None) -> ZoteroItem | None:
        data = self._match_data(paper, collection)
        return _zotero_item(data) if data is not None else None

    def _match_data(self, paper: Paper, collection: str | None) -> dict[str, Any] | None:
        index = self._load_index()
        lookup = index.lookup()
        for identity in paper_identities(paper):
            keys = lookup.get(identity)
            if keys:
                # Several copies: prefer one already in the collection, then the oldest key.
                wanted = {collection} | self._equivalent if collection else set()
                ranked = sorted(
                    keys,
                    key=lambda k: (wanted.isdisjoint(index.items[k].get("collections", [])), k),
                )
                return index.items[ranked[0]]
        return None

    def _load_index(self) -> _Index:
        if self._index is None:
            self._index = self._read_index_file()
        return self._index

    def _read_index_file(self) -> _Index:
        try:
            raw = json.loads(self.index_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return _Index()
        if (
            not isinstance(raw, dict)
            or raw.get("format") != INDEX_FORMAT
            or raw.get("endpoint") != self._zot.endpoint
            or not isinstance(raw.get("version"), int)
            or not isinstance(raw.get("items"), dict)
        ):
            return _Index()
        items = {
            key: data
            for key, data in raw["items"].items()
            if isinstance(key, str) and isinstance(data, dict)
        }
        return _Index(version=raw["version"], built=bool(raw.get("built")), items=items)

    def _save_index(self) -> None:
        index = self._load_index()
        payload = {
            "format": INDEX_FORMAT,
            "endpoint": self._zot.endpoint,
            "library": f"{self.config.library_type}/{self.config.library_id}",
            "version": index.version,
            "built": index.built,
            "items": index.items,
        }
        # The index is a cache: a failure to write it costs requests next time, nothing else.
        with contextlib.suppress(OSError):
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".zotero-", suffix=".tmp", dir=self.cache_dir)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(payload, handle, ensure_ascii=False, separators=(",", ":"))
                os.replace(tmp, self.index_path)
            except OSError:
                Path(tmp).unlink(missing_ok=True)
                raise

    def _refresh_index(self) -> _Index:
        index = self._load_index()
        # A hint, good once: the version the collection listing just named.
        seen, self._seen_version = self._seen_version, None
        if not index.built:
            self._build_index(index)
        elif seen is None or seen != index.version:
            self._update_index(index)
        # else: the listing already showed that the library has not changed since the index
        return index

    def _build_index(self, index: _Index) -> None:
        zot = self._zot
        objects, first = self._read_all(
            f"{self._prefix}/items/top", lambda start: zot.top(limit=PAGE_LIMIT, start=start)
        )
        index.clear()
        for obj in objects:
            index.put(obj.get("data", obj))
        # The first page's version: anything changed while paging has a later version, so
        # the next `since=` read picks it up.
        version = _header_int(first, "Last-Modified-Version")
        index.version = version if version is not None else 0
        index.built = True
        self._save_index()

    def _update_index(self, index: _Index) -> None:
        since = index.version
        response = self._retrying(
            self._url("/items/top"),
            lambda: self._send(
                "GET",
                "/items/top",
                params={"since": since, "format": "versions", "includeTrashed": 1},
                headers={"If-Modified-Since-Version": str(since)},
                expect_json=True,
            ),
        )
        if response.status_code == 304:
            return
        versions = response.json()
        if not isinstance(versions, dict):
            raise self._error(self._url("/items/top"), "malformed versions answer", None)
        changed = [
            key
            for key, version in versions.items()
            if isinstance(key, str) and index.items.get(key, {}).get("version") != version
        ]
        zot = self._zot

        def fetch_keys(keys: list[str]) -> Any:
            return zot.items(itemKey=",".join(keys), includeTrashed=1, limit=MAX_BATCH)

        for start in range(0, len(changed), MAX_BATCH):
            chunk = changed[start : start + MAX_BATCH]
            objects, _ = self._read(self._url("/items"), partial(fetch_keys, chunk))
            returned = set()
            for obj in objects:
                data = obj.get("data", obj)
                returned.add(data.get("key"))
                index.put(data)
            for key in set(chunk) - returned:
                index.drop(key)  # deleted between the two reads
        deleted, _ = self._read(
            self._url("/deleted"), lambda: zot.deleted(since=since), expect=dict
        )
        for key in deleted.get("items") or []:
            if isinstance(key, str):
                index.drop(key)
        new_version = _header_int(response, "Last-Modified-Version")
        if new_version is None:  # never seen from the real API; stay safely behind
            new_version = max([since, *[v for v in versions.values() if isinstance(v, int)]])
        index.version = new_version
        self._save_index()

    def collection_items(self, collection_path: str) -> list[tuple[str | None, Paper]]:
        """Read the top-level items of one collection (not its subcollections) as papers.

        Each comes with its citation key (`citationKey`, or `Citation Key:` in Extra) when it
        has one. Notes and attachments are skipped; books and articles come without arXiv ID.
        When several collections have the path (see `warnings`), the items of all of them are
        read, the oldest collection's first, each item once.
        """
        return [
            (item_citation_key(data), item_to_paper(data, meta))
            for data, meta in self.collection_objects(collection_path)
        ]

    def collection_objects(
        self, collection_path: str
    ) -> list[tuple[dict[str, Any], Mapping[str, Any] | None]]:
        """Read the top-level items of one collection as (data, meta) pairs, each item once."""
        self._collections = None
        keys = self.collection_paths(collection_path)
        if not keys:
            raise self._error(
                self._url("/collections"), f"no collection {collection_path!r} in this library"
            )
        names = split_collection_path(collection_path)
        self._warn_duplicates(names, _matching_chains(self._list_collections(), names))
        zot = self._zot
        found: list[tuple[dict[str, Any], Mapping[str, Any] | None]] = []
        seen: set[str] = set()
        for key in keys:
            objects, _ = self._read_all(
                f"{self._prefix}/collections/{key}/items/top",
                partial(
                    lambda key, start: zot.collection_items_top(key, limit=PAGE_LIMIT, start=start),
                    key,
                ),
            )
            for obj in objects:
                data = obj.get("data", obj)
                item_key = data.get("key") or obj.get("key")
                if data.get("itemType") in _SKIP_TYPES or data.get("deleted"):
                    continue
                if isinstance(item_key, str):
                    if item_key in seen:
                        continue
                    seen.add(item_key)
                meta = obj.get("meta") if isinstance(obj.get("meta"), Mapping) else None
                found.append((data, meta))
        return found
