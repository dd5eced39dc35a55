"""File papers into a Zotero collection through the Zotero Web API, idempotently.

A narrow adapter around pyzotero 1.6.11 (imported lazily, so `readlist --help` stays fast).
pyzotero supplies the credentials, the `endpoint`, the headers and its error classes; this
module guards its weak spots:

- On a 429, pyzotero's write methods JSON-decode the plain-text body (`JSONDecodeError`)
  and its read methods return that body as if it were data: every pyzotero read here is
  checked against the status of `zot.request`, and no write goes through pyzotero.
- pyzotero mints a fresh `Zotero-Write-Token` per call and sends no conditional headers on
  reads, so writes (which must reuse their token when retried) and the cheap
  `If-Modified-Since-Version` read are sent through pyzotero's own `zot.client` session.
- A 200 write report can hold `failed` objects; every object's outcome is checked, and an
  answer that is not a well-formed report is a failure, never data.
- pyzotero's backoff starts a non-daemon timer thread and sleeps with `time.sleep`: both are
  replaced by one wait, taken before every request in an httpx request hook, that honours
  `Backoff` (on any response, even a 200) and `Retry-After` through the injected `sleep`.

The API key never leaves this module: every message is scrubbed of it (and of any
`key=`/`Bearer` text) before it is raised, logged or reported.

New items are made as Zotero's arXiv import makes them (`paper_to_item`), each with its
children (the `Comment:` note, the PDF link) in the same request: the client picks the item's
key so its children can name their parent. `attach_pdf` speaks the file-upload protocol;
the storage URL it is given gets the file without the API key.

Matching existing items needs fields the API's `q` search does not cover (DOI, `extra`,
`archiveID`), so a slim index of the library's top-level items is cached as JSON in the
cache directory, keyed by library version, and kept current with `?since=` reads.

Module layout (the package re-exports the public names, so `from readlist.zotero import X`
keeps working):

- `base`: limits, `ZoteroError`, the report dataclasses, the retry/412 signals.
- `items`: Zotero item <-> `Paper` mapping: item types and fields, creators, citation keys,
  venue and date fields, identities, schema validation.
- `session`: `_Session`, the HTTP layer: settings checks, request hooks, Backoff and
  Retry-After waits, retries, status checks, key scrubbing, write-report parsing.
- `collections`: `_CollectionOps`: collection paths, race-free creation, duplicates and the
  doctor merge.
- `index`: `_IndexReads`: the cached library index, matching papers to items, collection reads.
- `writes`: `_Writes`: versioned writes (sync, upgrades), write tokens, file uploads.
- `library`: `ZoteroLibrary`, the public class, assembled from the layers above.
"""

from __future__ import annotations

from readlist.zotero.base import (
    AUTH_MESSAGE,
    BACKOFF_BASE_SECONDS,
    DEFAULT_TIMEOUT,
    INDEX_FORMAT,
    MAX_ATTEMPTS,
    MAX_BATCH,
    MAX_COLLECTION_ROUNDS,
    MAX_PRECONDITION_ROUNDS,
    MAX_WAIT_SECONDS,
    PAGE_LIMIT,
    DuplicateCollections,
    MergeReport,
    SyncReport,
    ZoteroError,
    ZoteroItem,
)
from readlist.zotero.collections import (
    split_collection_path,
)
from readlist.zotero.items import (
    BASE_PROPERTIES,
    ITEM_TYPE_CREATORS,
    ITEM_TYPE_FIELDS,
    item_arxiv_id,
    item_citation_key,
    item_doi,
    item_identities,
    item_to_paper,
    paper_children,
    paper_identities,
    paper_to_item,
    pdf_url,
    short_title,
    split_creator,
    validate_item,
)
from readlist.zotero.library import (
    ZoteroLibrary,
)
from readlist.zotero.session import (
    check_settings,
)
from readlist.zotero.writes import (
    new_object_key,
)

__all__ = [
    "AUTH_MESSAGE",
    "BACKOFF_BASE_SECONDS",
    "BASE_PROPERTIES",
    "DEFAULT_TIMEOUT",
    "DuplicateCollections",
    "INDEX_FORMAT",
    "ITEM_TYPE_CREATORS",
    "ITEM_TYPE_FIELDS",
    "MAX_ATTEMPTS",
    "MAX_BATCH",
    "MAX_COLLECTION_ROUNDS",
    "MAX_PRECONDITION_ROUNDS",
    "MAX_WAIT_SECONDS",
    "MergeReport",
    "PAGE_LIMIT",
    "SyncReport",
    "ZoteroError",
    "ZoteroItem",
    "ZoteroLibrary",
    "check_settings",
    "item_arxiv_id",
    "item_citation_key",
    "item_doi",
    "item_identities",
    "item_to_paper",
    "new_object_key",
    "paper_children",
    "paper_identities",
    "paper_to_item",
    "pdf_url",
    "short_title",
    "split_collection_path",
    "split_creator",
    "validate_item",
]
