"""Collections: paths, race-free creation, and the duplicates that races leave behind.

`ensure_collection` creates a path with conditional writes and re-reads on a race;
`find_duplicate_collections` and `merge_duplicate_collections` (readlist doctor) find and
merge the collections that share one path.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx

from readlist.zotero.base import (
    MAX_BATCH,
    MAX_COLLECTION_ROUNDS,
    MAX_PRECONDITION_ROUNDS,
    PAGE_LIMIT,
    DuplicateCollections,
    MergeReport,
    _Precondition,
    _Transient,
)
from readlist.zotero.session import _as_int, _header_int, _parse_write_report, _scrub, _Session


def split_collection_path(path: str) -> list[str]:
    """Split `Reading/Multimodal` into names, each stripped; empty parts are dropped."""
    return [part.strip() for part in path.split("/") if part.strip()]


@dataclass
class _Collection:
    key: str
    name: str
    parent: str | None
    rank: int = 0  # position in the oldest-first listing
    version: int = 0
    items: int = 0  # meta.numItems
    subcollections: int = 0  # meta.numCollections


def _matching_chains(collections: list[_Collection], names: list[str]) -> list[list[_Collection]]:
    """Every chain of collections spelling the longest existing prefix of `names`, oldest first.

    A chain is ranked by its collections' ages from the top down, so every member of a group
    library picks the same one; an empty list means not even the first name exists.
    """
    children: dict[str | None, list[_Collection]] = {}
    for collection in collections:
        children.setdefault(collection.parent, []).append(collection)
    frontier: list[list[_Collection]] = [[]]
    for name in names:
        grown = [
            [*chain, child]
            for chain in frontier
            for child in children.get(chain[-1].key if chain else None, [])
            if child.name.strip() == name
        ]
        if not grown:
            break
        frontier = grown
    if frontier == [[]]:
        return []
    return sorted(frontier, key=lambda chain: [c.rank for c in chain])


def _ancestry(collection: _Collection, by_key: Mapping[str, _Collection]) -> list[_Collection]:
    """The collection's chain of parents, top-level first, ending with the collection."""
    chain = [collection]
    seen = {collection.key}
    parent = collection.parent
    while parent is not None and parent in by_key and parent not in seen:
        seen.add(parent)
        chain.append(by_key[parent])
        parent = by_key[parent].parent
    return list(reversed(chain))


class _CollectionOps(_Session):
    """Collection paths, race-free creation, duplicate detection and the doctor merge."""

    def ensure_collection(self, path: str, *, create: bool, dry_run: bool = False) -> str | None:
        """Find the collection at `path` (e.g. `Reading/Multimodal`), creating what is missing.

        Names compare exactly (case-sensitive, after stripping). Missing levels are created
        parents first when `create` is set, and listed in `created_collections` (with
        `dry_run`, listed but not created). Returns the key, or None when the collection
        does not exist (and was not created) or `path` is empty.

        Several people may create the same path in a group library at the same moment, so a
        collection is created only if the library is still at the version the listing showed
        (`If-Unmodified-Since-Version`); a 412 means someone else wrote first, and the listing
        is read again, which reuses what they created. When several collections already have
        the path (made by another tool, or an older readlist), the oldest is used, and
        `warnings` says so.
        """
        names = split_collection_path(path)
        if not names:
            return None
        rounds = 0
        while True:
            collections = self._list_collections()
            chains = _matching_chains(collections, names)
            chain = chains[0] if chains else []
            self._warn_duplicates(names[: len(chain)], chains)
            if len(chain) == len(names):
                return chain[-1].key
            if not create:
                return None
            depth = len(chain)
            if dry_run:
                self.created_collections += [
                    "/".join(names[: level + 1]) for level in range(depth, len(names))
                ]
                return None
            parent = chain[-1].key if chain else None
            try:
                key = self._create_collection(names[depth], parent, self._collections_version)
            except _Precondition as problem:
                # Another member wrote to the library since our listing (perhaps this very
                # collection): read the collections again and take it from there.
                rounds += 1
                if rounds >= MAX_COLLECTION_ROUNDS:
                    raise self._error(
                        self._url("/collections"),
                        f"could not create collection {'/'.join(names[: depth + 1])!r}: the "
                        f"library kept changing ({problem.message})",
                        412,
                    ) from None
                self._collections = None
                continue
            collections.append(_Collection(key, names[depth], parent, len(collections)))
            self.created_collections.append("/".join(names[: depth + 1]))

    def collection_paths(self, path: str) -> list[str]:
        """Return the keys of every collection at `path`, the one readlist uses first."""
        names = split_collection_path(path)
        if not names:
            return []
        chains = _matching_chains(self._list_collections(), names)
        if not chains or len(chains[0]) != len(names):
            return []
        return [chain[-1].key for chain in chains]

    def _warn_duplicates(self, names: list[str], chains: list[list[_Collection]]) -> None:
        if len(chains) < 2 or not names:
            return
        label = "/".join(names)
        keys = ", ".join(chain[-1].key for chain in chains)
        message = (
            f"{len(chains)} Zotero collections are named {label!r} ({keys}); using the oldest, "
            f"{chains[0][-1].key} (`readlist doctor --zotero` merges them)"
        )
        if message not in self.warnings:
            self.warnings.append(message)

    def _list_collections(self, *, refresh: bool = False) -> list[_Collection]:
        """Read every collection, oldest first (`sort=dateAdded`, as every member sees it)."""
        if self._collections is not None and not refresh:
            return self._collections
        zot = self._zot
        objects, first = self._read_all(
            f"{self._prefix}/collections",
            lambda start: zot.collections(
                limit=PAGE_LIMIT, start=start, sort="dateAdded", direction="asc"
            ),
        )
        self._seen_version = _header_int(first, "Last-Modified-Version")
        self._collections_version = self._seen_version
        collections: list[_Collection] = []
        seen: set[str] = set()
        for obj in objects:
            data = obj.get("data", obj)
            key, name = data.get("key") or obj.get("key"), data.get("name")
            if not isinstance(key, str) or not isinstance(name, str) or key in seen:
                continue
            if data.get("deleted"):
                continue  # in the trash (Zotero 7): not a place to file papers
            seen.add(key)
            parent = data.get("parentCollection")
            raw_meta = obj.get("meta")
            meta: Mapping[str, Any] = raw_meta if isinstance(raw_meta, Mapping) else {}
            collections.append(
                _Collection(
                    key,
                    name,
                    parent if isinstance(parent, str) else None,
                    len(collections),
                    version=_as_int(data.get("version", obj.get("version"))),
                    items=_as_int(meta.get("numItems")),
                    subcollections=_as_int(meta.get("numCollections")),
                )
            )
        self._collections = collections
        return collections

    def _create_collection(self, name: str, parent: str | None, version: int | None) -> str:
        """Create one collection if the library is still at `version`; 412 is _Precondition."""
        url = self._url("/collections")
        token = secrets.token_hex(16)  # the same token for every retry of this one write
        body = [{"name": name, "parentCollection": parent or False}]
        headers = {"Zotero-Write-Token": token}
        if version is not None:
            headers["If-Unmodified-Since-Version"] = str(version)

        def attempt() -> tuple[str, int | None]:
            response = self._send("POST", "/collections", headers=headers, body=body)
            outcome = _parse_write_report(response, 1).get(0)
            if outcome is None:
                raise self._error(url, f"the server did not report on collection {name!r}", None)
            if outcome.status == "failed":
                raise self._error(
                    url, f"could not create collection {name!r}: {outcome.message}", outcome.code
                )
            if not outcome.key:
                raise _Transient("the write report names no collection key", uncertain=True)
            return outcome.key, _header_int(response, "Last-Modified-Version")

        # A 412 (the library moved on, or an earlier attempt whose answer was lost went
        # through and used the token) goes to the caller, which reads the collections again.
        key, new_version = self._retrying(url, attempt)
        # The write was conditional: the listing plus this collection is the library as of
        # the version the write produced, so the next level can be conditioned on it.
        self._collections_version = new_version if version is not None else None
        self._seen_version = None  # the items' side of the index must still be checked
        return key

    def find_duplicate_collections(self) -> list[DuplicateCollections]:
        """List the collection paths that several collections have (network).

        Shallowest paths first; in each, the collections come in the order `sync` ranks
        them, so the first is the one readlist files papers into and merges the rest into.
        """
        collections = self._list_collections(refresh=True)
        by_key = {c.key: c for c in collections}
        by_path: dict[str, list[tuple[list[int], _Collection]]] = {}
        for collection in collections:
            chain = _ancestry(collection, by_key)
            path = "/".join(c.name.strip() for c in chain)
            by_path.setdefault(path, []).append(([c.rank for c in chain], collection))
        groups = []
        for path, members in by_path.items():
            if len(members) < 2:
                continue
            ordered = [c for _, c in sorted(members, key=lambda m: m[0])]
            groups.append(
                DuplicateCollections(
                    path=path,
                    keys=tuple(c.key for c in ordered),
                    items=tuple(c.items for c in ordered),
                    subcollections=tuple(c.subcollections for c in ordered),
                )
            )
        return sorted(groups, key=lambda g: (g.path.count("/"), g.path))

    def merge_duplicate_collections(self) -> MergeReport:
        """Merge the collections that share a path into the first (oldest) of them.

        Subcollections and items move to the oldest (item and collection versions sent, so
        a concurrent edit is a 412, never lost); a duplicate is deleted only once it holds
        nothing, checked and deleted at one library version (a 412 if anything changed in
        between). After a 412 the library is read again and the merge goes on from there.
        """
        start_requests = self.requests
        report = MergeReport()
        rounds = 0
        while True:
            groups = self.find_duplicate_collections()
            if not groups:
                break
            group = groups[0]
            keep = group.keys[0]
            try:
                for duplicate in group.keys[1:]:
                    self._move_subcollections(duplicate, keep, report)
                    self._move_items(duplicate, keep, report)
                    self._delete_if_empty(duplicate)
                    report.merged.append((group.path, duplicate, keep))
            except _Precondition as problem:
                rounds += 1
                if rounds >= MAX_PRECONDITION_ROUNDS:
                    raise self._error(
                        self._url("/collections"),
                        f"could not merge {group.path!r}: the library kept changing "
                        f"({problem.message})",
                        412,
                    ) from None
        self._collections = None
        self._seen_version = None
        report.requests = self.requests - start_requests
        return report

    def _move_subcollections(self, source: str, target: str, report: MergeReport) -> None:
        children = [c for c in self._list_collections() if c.parent == source]
        for start in range(0, len(children), MAX_BATCH):
            chunk = children[start : start + MAX_BATCH]
            body = [{"key": c.key, "version": c.version, "parentCollection": target} for c in chunk]
            self._write_updates("/collections", body)
            report.subcollections_moved += len(chunk)

    def _move_items(self, source: str, target: str, report: MergeReport) -> None:
        zot = self._zot
        objects, _ = self._read_all(
            f"{self._prefix}/collections/{source}/items",
            lambda start: zot.collection_items(
                source, limit=PAGE_LIMIT, start=start, includeTrashed=1
            ),
        )
        moves: list[dict[str, Any]] = []
        for obj in objects:
            data = obj.get("data", obj)
            key = data.get("key")
            collections = [c for c in data.get("collections") or [] if isinstance(c, str)]
            if not isinstance(key, str) or source not in collections:
                continue
            moved = [c for c in collections if c != source]
            if target not in moved:
                moved.append(target)
            moves.append(
                {"key": key, "version": _as_int(data.get("version")), "collections": moved}
            )
        for start in range(0, len(moves), MAX_BATCH):
            chunk = moves[start : start + MAX_BATCH]
            self._write_updates("/items", chunk)
            report.items_moved += len(chunk)

    def _write_updates(self, path: str, body: list[dict[str, Any]]) -> None:
        """Write key-based updates (each with its version); any 412 is _Precondition."""
        url = self._url(path)
        response = self._retrying(url, lambda: self._send("POST", path, body=body))
        outcomes = _parse_write_report(response, len(body))
        for position, payload in enumerate(body):
            outcome = outcomes.get(position)
            if outcome is None:
                raise self._error(url, f"the server did not report on {payload['key']}")
            if outcome.status == "failed":
                if outcome.code == 412:
                    raise _Precondition(f"{payload['key']} changed since it was read")
                reason = _scrub(outcome.message or "refused", self._secret)
                raise self._error(url, f"could not move {payload['key']}: {reason}", outcome.code)

    def _count(self, path: str) -> httpx.Response:
        """Ask how many objects a listing holds (trashed ones too): `Total-Results`."""
        params = {"format": "keys", "limit": 1, "includeTrashed": 1}
        return self._send("GET", path, params=params)

    def _delete_if_empty(self, key: str) -> None:
        """Delete a collection if it holds no item (trashed ones too) and no subcollection."""
        url = self._url(f"/collections/{key}")
        versions: list[int | None] = []
        for path in (f"/collections/{key}/items", f"/collections/{key}/collections"):
            response = self._retrying(url, partial(self._count, path))
            if _header_int(response, "Total-Results") != 0:
                raise _Precondition(f"collection {key} is not empty yet")
            versions.append(_header_int(response, "Last-Modified-Version"))
        version = versions[0]
        if version is None or versions[1] != version:
            raise _Precondition("the library changed while checking the collection")
        self._retrying(
            url,
            lambda: self._send(
                "DELETE",
                "/collections",
                params={"collectionKey": key},
                headers={"If-Unmodified-Since-Version": str(version)},
            ),
        )
