"""A loopback fake of the Zotero Web API v3 for end-to-end tests.

Test-only (used by tests/ and bench/run.py): production code never imports this module.

`FakeZotero` is a real HTTP server on 127.0.0.1 (a free port) that speaks the Zotero Web API
the way api.zotero.org does, so pyzotero (or any client) is pointed at it by URL:

    with FakeZotero() as fake:
        zot = zotero.Zotero("123", "user", "good-key")
        zot.endpoint = fake.url
        zot.create_items([...])
        fake.check_invariants()

It follows shared/protocols.md section 3 and the server code it paraphrases
(zotero/dataserver@5cf550f: controllers/ApiController.php, ItemsController.php,
model/API.inc.php, DataObjects.inc.php, Items.inc.php, Errors.inc.php, Results.inc.php),
including the parts that are easy to get wrong:

- keys in `Zotero-API-Key`, `Authorization: Bearer` or `?key=`; 403 "Invalid key", 403 "An API
  key is required for write requests.", 403 for someone else's library, 404 for an unknown group;
- multi-object writes answer 200 with a per-object report (`successful`, `success`,
  `unchanged`, `failed`), so one object can fail (400 invalid type/field/creator/tag, 409 unknown
  collection or parent, 413 value too long, 412/428/404 for key-based writes) while the others
  are written; since March 2026 each object written bumps the library version by one;
- write tokens (5-32 characters) are remembered after every request that got as far as a write
  report, even one whose objects all failed, and a reuse gets 412 "Write token already used";
  a request refused as a whole (412, 413, 400 ...) does not consume its token;
- `If-Unmodified-Since-Version` (412 with the current `Last-Modified-Version`, 428 where a
  version is required), `If-Modified-Since-Version` (304), `since`, `format=keys|versions`;
- `limit` (default 25, at most 100), `start`, `Total-Results` and `Link` headers with absolute
  `https://api.zotero.org/...` URLs built from the non-default parameters, sorted, as the real
  server builds them;
- `q` matches title, creator names and the year only, never DOI, `extra` or `archiveID`.

Faults (statuses with `Retry-After`/`Backoff`, 409 "library locked", 5xx, non-JSON bodies,
stalls, dropped connections, and a write that happens but whose answer is lost) are queued with
`inject`, optionally for one method and path prefix. `check_invariants` proves that no two
items in a library are the same arXiv paper.

File uploads follow the Web API's protocol for a new file (full uploads, no binary diffs):
`POST /items/{key}/file` with `md5`, `filename`, `filesize`, `mtime` and `If-None-Match: *`
answers `{"exists": 1}` for a file the library already stores, else an upload authorization
(`url`, `contentType`, `prefix`, `suffix`, `uploadKey`); the bytes go to that URL (on this
server, without the API key, as to Zotero's S3 storage: 201), and `upload=<uploadKey>`
registers them (204). A file that would exceed `storage_quota_mb` is 413 "File would exceed
quota" with `Zotero-Storage-Quota`, as the real server answers.

Not implemented (501 or 404): atom/bib/export formats, saved-search writes, tags endpoints,
binary-diff uploads, full-text, API versions 1 and 2.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import random
import re
import threading
import time
import unicodedata
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from readlist.testing.fakeapis import Fault, RecordedRequest, _FakeServer, _Handler, _Response

# Zotero's schema stays with the test data (tests/data/SOURCES.md names its source): this
# module lives in readlist/testing/, two levels below the repository root.
DEFAULT_SCHEMA = Path(__file__).resolve().parents[2] / "tests" / "data" / "zotero" / "schema.json"

API_BASE = "https://api.zotero.org"
WWW_BASE = "https://www.zotero.org"
KEY_ALPHABET = "23456789ABCDEFGHIJKLMNPQRSTUVWXYZ"
_KEY_RE = re.compile(rf"[{KEY_ALPHABET}]{{8}}")

MAX_WRITE_OBJECTS = 50  # Zotero_API::$maxWriteItems / $maxWriteCollections
MAX_ITEM_KEYS = 50  # "itemKey ... up to 50 items" (web API docs)
MAX_LIMIT = 100
DEFAULT_LIMIT = 25
MAX_FIELD_BYTES = 65535  # Zotero_Items::$maxDataValueLength (strlen: bytes)
MAX_TAG_CHARS = 255  # Zotero_Tags::$maxLength (mb_strlen: characters)
MAX_CREATOR_BYTES = 255  # Zotero_Creator firstName/lastName (strlen)
MAX_COLLECTION_NAME_CHARS = 255
MAX_NOTE_CHARS = 500000

LOCKED_MESSAGE = "The target library is locked."
MAINTENANCE_MESSAGE = "Server updates in progress. Please try again in a few minutes."

_TEXT = "text/plain; charset=utf-8"
_JSON = "application/json"
_ITEM_PREDICATES = (
    "owl:sameAs",
    "dc:replaces",
    "dc:relation",
    "mendeleyDB:documentUUID",
    "mendeleyDB:remoteDocumentUUID",
    "mendeleyDB:fileHash",
)
_EXTERNAL_PREDICATES = (
    "mendeleyDB:documentUUID",
    "mendeleyDB:remoteDocumentUUID",
    "mendeleyDB:fileHash",
)
_COLLECTION_PREDICATES = ("owl:sameAs", "mendeleyDB:remoteFolderUUID")
_LINK_MODES = ("imported_file", "imported_url", "linked_file", "linked_url", "embedded_image")
_ATTACHMENT_PROPS = ("contentType", "charset", "filename", "md5", "mtime", "path")
_SORTS = (
    "title", "creator", "itemType", "date", "publisher", "publicationTitle",
    "journalAbbreviation", "language", "accessDate", "libraryCatalog", "callNumber", "rights",
    "extra", "dateAdded", "dateModified", "serverDateModified", "addedBy",
)  # fmt: skip
_UNSUPPORTED_FORMATS = (
    "atom", "bib", "citation", "csljson", "bibtex", "biblatex", "bookmarks", "coins", "mods",
    "refer", "rdf_bibliontology", "rdf_dc", "rdf_zotero", "ris", "tei", "wikipedia", "cslyaml",
    "globalKeys",
)  # fmt: skip


# The schema


class Schema:
    """The item types, fields and creator types of a Zotero schema.json."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.version = int(raw["version"])
        self.type_fields: dict[str, list[str]] = {}
        self.creator_types: dict[str, list[str]] = {}  # primary first
        for entry in raw["itemTypes"]:
            name = entry["itemType"]
            self.type_fields[name] = [f["field"] for f in entry["fields"]]
            creators = entry.get("creatorTypes", [])
            primary = [c["creatorType"] for c in creators if c.get("primary")]
            rest = [c["creatorType"] for c in creators if not c.get("primary")]
            self.creator_types[name] = primary + rest
        # Base fields (e.g. `publisher`, `number`) are fields too, valid only where listed.
        self.fields: set[str] = {f for fields in self.type_fields.values() for f in fields}
        self.fields |= {
            f["baseField"] for e in raw["itemTypes"] for f in e["fields"] if "baseField" in f
        }
        self.all_creator_types = {c for cs in self.creator_types.values() for c in cs}
        locale = raw.get("locales", {}).get("en-US", {})
        self.field_names: dict[str, str] = dict(locale.get("fields", {}))
        self.type_names: dict[str, str] = dict(locale.get("itemTypes", {}))
        self.creator_names: dict[str, str] = dict(locale.get("creatorTypes", {}))

    def localized(self, field_name: str) -> str:
        """Return the English label of a field, as the server's error messages use it."""
        return self.field_names.get(field_name, field_name)

    def primary_creator_type(self, item_type: str) -> str | None:
        types = self.creator_types.get(item_type) or []
        return types[0] if types else None

    def title_field(self, item_type: str) -> str | None:
        """Return the field that holds the title (`title`, `caseName`, `subject`, ...)."""
        return self._field_for_base(item_type, "title")

    def date_field(self, item_type: str) -> str | None:
        return self._field_for_base(item_type, "date")

    def _field_for_base(self, item_type: str, base: str) -> str | None:
        """Return `base` itself, or the type's field mapped onto it, or None."""
        if base in self.type_fields.get(item_type, []):
            return base
        for entry in self.raw["itemTypes"]:
            if entry["itemType"] == item_type:
                for f in entry["fields"]:
                    if f.get("baseField") == base:
                        return str(f["field"])
        return None

    def template(self, item_type: str) -> dict[str, Any]:
        """Return the empty item GET /items/new?itemType= gives."""
        fields = self.type_fields[item_type]
        out: dict[str, Any] = {"itemType": item_type}
        if item_type == "note":
            out["note"] = ""
        primary = self.primary_creator_type(item_type)
        for index, name in enumerate(fields):
            out[name] = ""
            if index == 0 and primary:
                out["creators"] = [{"creatorType": primary, "firstName": "", "lastName": ""}]
        out.update({"tags": [], "collections": [], "relations": {}})
        return out


@functools.lru_cache(maxsize=4)
def load_schema(path: str | Path = DEFAULT_SCHEMA) -> Schema:
    """Load (once) a Zotero schema.json."""
    return Schema(json.loads(Path(path).read_text(encoding="utf-8")))


# arXiv identity of an item, for check_invariants

_ARXIV_ID = r"(\d{4}\.\d{4,5}|[a-z][a-z-]*(?:\.[a-z]{2})?/\d{7})(?:v\d+)?"
_ARXIV_PATTERNS = (
    re.compile(r"arxiv\.org/(?:abs|pdf|html)/" + _ARXIV_ID, re.IGNORECASE),
    re.compile(r"10\.48550/arxiv\." + _ARXIV_ID, re.IGNORECASE),
    re.compile(r"\barxiv:\s*" + _ARXIV_ID, re.IGNORECASE),
)


def _canonical_arxiv_id(raw: str) -> str:
    raw = raw.lower()
    if "/" in raw:  # math.GT/0309136 and math/0309136 are the same paper
        archive, number = raw.split("/", 1)
        return f"{archive.split('.')[0]}/{number}"
    return raw


def arxiv_ids_of(data: Mapping[str, Any]) -> set[str]:
    """Return the arXiv IDs (bare, lower case) an item's url, DOI, archiveID or extra name."""
    found: set[str] = set()
    for name in ("url", "DOI", "archiveID", "extra"):
        value = data.get(name)
        if not isinstance(value, str):
            continue
        for pattern in _ARXIV_PATTERNS:
            found.update(_canonical_arxiv_id(m.group(1)) for m in pattern.finditer(value))
    return found


def preprint_data(
    arxiv_id: str,
    title: str,
    *,
    authors: Sequence[str] = ("Ada Lovelace", "Alan Turing"),
    date: str = "2025-04-14",
    category: str | None = "cs.CL",
    abstract: str = "",
    collections: Sequence[str] = (),
    tags: Sequence[str | Mapping[str, Any]] = (),
    extra: str | None = None,
) -> dict[str, Any]:
    """Return item data shaped like Zotero's own arXiv import (translator arXiv.org.js)."""
    creators = []
    for name in authors:
        first, _, last = name.rpartition(" ")
        creators.append(
            {"creatorType": "author", "firstName": first, "lastName": last}
            if first
            else {"creatorType": "author", "name": name}
        )
    old_style = "/" in arxiv_id
    if extra is None:
        extra = f"arXiv:{arxiv_id}" + ("" if old_style or not category else f" [{category}]")
    return {
        "itemType": "preprint",
        "title": title,
        "creators": creators,
        "abstractNote": abstract,
        "repository": "arXiv",
        "archiveID": f"arXiv:{arxiv_id}",
        "date": date,
        "DOI": f"10.48550/arXiv.{arxiv_id}",
        "url": f"http://arxiv.org/abs/{arxiv_id}",
        "libraryCatalog": "arXiv.org",
        "extra": extra,
        "tags": [t if isinstance(t, Mapping) else {"tag": t} for t in tags],
        "collections": list(collections),
        "relations": {},
    }


# Faults


@dataclass(frozen=True)
class ZoteroFault(Fault):
    """A `Fault` that can be limited to one HTTP method, with two extra kinds.

    kind "headers": answer normally but add `headers` (e.g. `Backoff` on a 200).
    kind "lost": do the work (a write happens), then hang up without answering.
    """

    method: str | None = None

    def matches(self, path: str, method: str | None = None) -> bool:  # type: ignore[override]
        if self.method is not None and method is not None and method.upper() != self.method:
            return False
        return super().matches(path)


def on(method: str | None, fault: Fault, *, path: str | None = None) -> ZoteroFault:
    """Limit `fault` to requests with this method (and, optionally, path prefix)."""
    return ZoteroFault(
        kind=fault.kind,
        code=fault.code,
        payload=fault.payload,
        content_type=fault.content_type,
        headers=dict(fault.headers),
        delay=fault.delay,
        path=path if path is not None else fault.path,
        method=method.upper() if method else None,
    )


def rate_limited(
    retry_after: float | None = 1, *, method: str | None = None, path: str | None = None
) -> ZoteroFault:
    """429 "Too many requests", with `Retry-After` unless `retry_after` is None."""
    headers = {} if retry_after is None else {"Retry-After": _number(retry_after)}
    return on(method, Fault.status(429, "Too many requests", headers), path=path)


def backoff(seconds: float, *, method: str | None = None, path: str | None = None) -> ZoteroFault:
    """A normal answer (a 200, say) that carries `Backoff: <seconds>`."""
    kind: Any = "headers"  # beyond Fault's Literal kinds
    return ZoteroFault(
        kind,
        headers={"Backoff": _number(seconds)},
        path=path,
        method=method.upper() if method else None,
    )


def locked(*, method: str | None = None, path: str | None = None) -> ZoteroFault:
    """409: the library is locked; nothing is written."""
    return on(method, Fault.status(409, LOCKED_MESSAGE), path=path)


def unavailable(
    retry_after: float | None = None,
    *,
    code: int = 503,
    method: str | None = None,
    path: str | None = None,
) -> ZoteroFault:
    """503 (or another 5xx) with the maintenance message and an optional `Retry-After`."""
    headers = {} if retry_after is None else {"Retry-After": _number(retry_after)}
    body = MAINTENANCE_MESSAGE if code == 503 else "An error occurred"
    return on(method, Fault.status(code, body, headers), path=path)


def lost(*, method: str | None = None, path: str | None = None) -> ZoteroFault:
    """Do the request (the write happens) but drop the connection instead of answering."""
    kind: Any = "lost"  # beyond Fault's Literal kinds
    return ZoteroFault(kind, path=path, method=method.upper() if method else None)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


@dataclass
class _Gate:
    """Requests held back until `parties` of them have arrived (see FakeZotero.rendezvous)."""

    method: str
    path_suffix: str
    barrier: threading.Barrier
    waiting: int  # how many more requests this gate will hold
    met: bool = False  # every party arrived and all were let go together


# Requests and errors


@dataclass(frozen=True)
class ZoteroRequest(RecordedRequest):
    """One request as FakeZotero received it."""

    query: dict[str, list[str]] = field(default_factory=dict)  # every value of each parameter
    body: Any = None  # the decoded JSON body, or None
    raw_body: bytes = b""

    def header(self, name: str, default: str | None = None) -> str | None:
        """Return a request header, whatever its case."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return default


class _HttpError(Exception):
    """Refuse the whole request with a plain-text status."""

    def __init__(self, status: int, message: str = "", headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message or _DEFAULT_MESSAGES.get(status, "")
        self.headers = dict(headers or {})


class _ObjectError(Exception):
    """One object of a write failed (a `failed` entry, or the status of a single-object write)."""

    def __init__(self, code: int, message: str, data: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = dict(data) if data else None


_DEFAULT_MESSAGES = {
    401: "Access denied",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    429: "Too many requests",
    500: "An error occurred",
    501: "Method is not implemented",
    503: "Service unavailable",
}


# The library


@dataclass
class Library:
    """One user or group library: its version and objects (full JSON, as the API shows them)."""

    kind: Literal["user", "group"]
    id: str
    name: str
    version: int = 0
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    collections: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: dict[str, dict[str, int]] = field(
        default_factory=lambda: {"items": {}, "collections": {}, "searches": {}, "tags": {}}
    )
    dirty: bool = True  # links/meta need recomputing (FakeZotero._fresh)

    @property
    def top_items(self) -> dict[str, dict[str, Any]]:
        """The top-level items (no notes or attachments): key -> full object."""
        return {k: o for k, o in self.items.items() if not o["data"].get("parentItem")}

    @property
    def prefix(self) -> str:
        return f"/{self.kind}s/{self.id}"

    @property
    def web_url(self) -> str:
        return f"{WWW_BASE}/{self.name}" if self.kind == "user" else f"{WWW_BASE}/groups/{self.id}"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "id": int(self.id),
            "name": self.name,
            "links": {"alternate": {"href": self.web_url, "type": "text/html"}},
        }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_SQL_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}


def parsed_date(value: str) -> str | None:
    """Return the `meta.parsedDate` of a free-form date: YYYY, YYYY-MM or YYYY-MM-DD."""
    value = value.strip()
    if not value:
        return None
    iso = re.match(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", value)
    if iso:
        year, month, day = iso.groups()
    else:
        year_match = re.search(r"\b(\d{4})\b", value)
        if not year_match:
            return None
        year, month, day = year_match.group(1), None, None
        month_match = re.search(r"\b(" + "|".join(_MONTHS) + r")[a-z]*\.?", value, re.I)
        if month_match:
            month = str(_MONTHS[month_match.group(1).lower()[:3]])
            day_match = re.search(r"\b(\d{1,2})(?:st|nd|rd|th)?\b(?!\d)", value)
            if day_match and day_match.group(1) != year:
                day = day_match.group(1)
        else:
            slashed = re.match(r"(\d{1,2})/(\d{1,2})/(\d{4})", value)
            if slashed:
                month, day = slashed.group(1), slashed.group(2)
    if year == "0000":
        return None
    out = year
    if month and 1 <= int(month) <= 12:
        out += f"-{int(month):02d}"
        if day and 1 <= int(day) <= 31:
            out += f"-{int(day):02d}"
    return out


def _fold(text: str) -> str:
    """Case- and accent-insensitive form, like MySQL's utf8mb4_unicode_ci LIKE."""
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def _search_words(q: str) -> list[str]:
    """Split a quick-search string into words and "quoted phrases"."""
    return [a or b for a, b in re.findall(r'"([^"]*)"|(\S+)', q) if (a or b)]


def _param_sets(values: Iterable[str]) -> list[tuple[bool, list[str]]]:
    """Parse `tag`/`itemType` values: `a || b` is OR, a leading `-` negates, `\\-` is literal."""
    sets = []
    for raw in values:
        raw = raw.strip()
        if raw == "":
            continue
        negation = raw.startswith("-")
        if negation or raw.startswith("\\-"):  # "\\-foo" is a literal "-foo"
            raw = raw[1:]
        sets.append((negation, [v.strip() for v in raw.split(" || ")]))
    return sets


# The server


class FakeZotero(_FakeServer):
    """A loopback Zotero Web API v3 server with a user library and group libraries."""

    def __init__(
        self,
        *,
        api_key: str = "good-key",
        user_id: str = "123",
        group_ids: Sequence[str] = ("456",),
        schema_path: Path = DEFAULT_SCHEMA,
        write_token_memory: bool = True,
        write_access: bool = True,
        username: str = "testuser",
        seed: int = 0,
        member_keys: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.requests: list[ZoteroRequest] = []  # type: ignore[assignment]
        self.api_key = api_key
        self.user_id = str(user_id)
        self.group_ids = tuple(str(g) for g in group_ids)
        self.schema = load_schema(str(schema_path))
        self.write_token_memory = write_token_memory
        self.write_access = write_access
        # Other members of the groups: API key -> their user ID. Their keys read and write
        # every group library (but not the user library of `api_key`'s owner).
        self.member_keys: dict[str, str] = {str(k): str(v) for k, v in (member_keys or {}).items()}
        # The server remembers a write token per API key (protocols.md section 3).
        self.used_write_tokens: set[tuple[str, str]] = set()
        self._rng = random.Random(seed)
        # Zotero File Storage: (library prefix, md5) -> bytes, and uploads authorized but not
        # yet registered: uploadKey -> (library prefix, item key, md5, filename, size, mtime).
        self.storage_quota_mb: float | None = None
        self.files: dict[tuple[str, str], bytes] = {}
        self.uploads: dict[str, tuple[str, str, str, str, int, int]] = {}
        self.uploaded: set[str] = set()  # uploadKeys whose bytes arrived
        self._serial = 0  # the row ID a new object gets (collectionID / itemID)
        self._gates: list[_Gate] = []
        self._state = threading.RLock()
        self.libraries: dict[str, Library] = {}
        user = Library("user", self.user_id, username)
        self.libraries[user.prefix] = user
        for group_id in self.group_ids:
            group = Library("group", group_id, f"Group {group_id}")
            self.libraries[group.prefix] = group

    # The state tests look at

    def library(self, which: str | None = None) -> Library:
        """Return a library by prefix (`/groups/456`), group ID, or the user library."""
        if which is None:
            return self.libraries[f"/users/{self.user_id}"]
        if which in self.libraries:
            return self.libraries[which]
        for prefix in (f"/groups/{which}", f"/users/{which}"):
            if prefix in self.libraries:
                return self.libraries[prefix]
        raise KeyError(which)

    @property
    def items(self) -> dict[str, dict[str, Any]]:
        """The user library's items: key -> full object (trashed ones included)."""
        with self._state:
            return self._fresh(self.library()).items

    @property
    def top_items(self) -> dict[str, dict[str, Any]]:
        """The user library's top-level items (no notes or attachments): key -> full object."""
        return {k: o for k, o in self.items.items() if not o["data"].get("parentItem")}

    @property
    def collections(self) -> dict[str, dict[str, Any]]:
        """The user library's collections: key -> full object."""
        with self._state:
            return self._fresh(self.library()).collections

    @property
    def library_version(self) -> int:
        """The user library's version (`Last-Modified-Version`)."""
        return self.library().version

    def collection_key(
        self, name: str, parent: str | None = None, library: str | None = None
    ) -> str:
        """Return the key of the one collection called `name` (under `parent`); raise if not one."""
        lib = self.library(library)
        keys = [
            key
            for key, obj in lib.collections.items()
            if obj["data"]["name"] == name
            and (parent is None or obj["data"]["parentCollection"] == parent)
        ]
        if len(keys) != 1:
            raise KeyError(f"{len(keys)} collections named {name!r}")
        return keys[0]

    def items_in(self, collection_key: str, library: str | None = None) -> list[dict[str, Any]]:
        """Return the items filed in a collection (full objects)."""
        lib = self.library(library)
        return [o for o in lib.items.values() if collection_key in o["data"].get("collections", [])]

    def items_with_arxiv_id(
        self, arxiv_id: str, library: str | None = None
    ) -> list[dict[str, Any]]:
        """Return the items that are this arXiv paper (by url, DOI, archiveID or extra)."""
        wanted = _canonical_arxiv_id(re.sub(r"v\d+$", "", arxiv_id.removeprefix("arXiv:")))
        lib = self.library(library)
        return [
            o
            for o in lib.items.values()
            if wanted in arxiv_ids_of(o["data"]) and not o["data"].get("parentItem")
        ]

    def requests_to(self, method: str, path_suffix: str = "") -> list[ZoteroRequest]:
        """Return the recorded requests with this method whose path ends with `path_suffix`."""
        return [
            r for r in self.requests if r.method == method.upper() and r.path.endswith(path_suffix)
        ]

    def check_invariants(
        self, *, include_trashed: bool = True, unique_collection_names: bool = True
    ) -> None:
        """Raise AssertionError if a library holds the same arXiv paper twice, or is corrupt.

        Also checked: versions never exceed the library version, item collections and parents
        exist, and (unless `unique_collection_names=False`) no two sibling collections share a
        name, which Zotero allows but a "create when missing" client must never cause.
        """
        with self._state:
            problems: list[str] = []
            for lib in self.libraries.values():
                seen: dict[str, str] = {}
                for key, obj in lib.items.items():
                    data = obj["data"]
                    if obj["key"] != key or data.get("key") != key:
                        problems.append(f"{lib.prefix}: item {key} stored under another key")
                    if obj["version"] > lib.version or data.get("version") != obj["version"]:
                        problems.append(f"{lib.prefix}: item {key} has a bad version")
                    for coll in data.get("collections", []):
                        if coll not in lib.collections:
                            problems.append(
                                f"{lib.prefix}: item {key} in missing collection {coll}"
                            )
                    parent = data.get("parentItem")
                    if parent and parent not in lib.items:
                        problems.append(f"{lib.prefix}: item {key} has missing parent {parent}")
                    if data.get("deleted") and not include_trashed:
                        continue
                    if parent:
                        continue  # a note or a PDF link names the paper but is not one
                    for arxiv_id in sorted(arxiv_ids_of(data)):
                        if arxiv_id in seen:
                            problems.append(
                                f"{lib.prefix}: arXiv {arxiv_id} is in two items, "
                                f"{seen[arxiv_id]} and {key}"
                            )
                        else:
                            seen[arxiv_id] = key
                names: dict[tuple[Any, str], str] = {}
                for key, obj in lib.collections.items():
                    data = obj["data"]
                    if obj["version"] > lib.version:
                        problems.append(f"{lib.prefix}: collection {key} has a bad version")
                    parent = data.get("parentCollection")
                    if parent and parent not in lib.collections:
                        problems.append(f"{lib.prefix}: collection {key} has missing parent")
                    sibling = (parent or False, data["name"])
                    if unique_collection_names and sibling in names:
                        problems.append(
                            f"{lib.prefix}: two collections named {data['name']!r} "
                            f"({names[sibling]} and {key})"
                        )
                    names[sibling] = key
            if problems:
                raise AssertionError("; ".join(problems))

    # Seeding and outside edits (another Zotero client at work)

    def seed_item(
        self,
        data: Mapping[str, Any],
        *,
        library: str | None = None,
        date_added: str | None = None,
    ) -> dict[str, Any]:
        """Add an item as if another client had saved it; return its full object.

        `data` is validated like a write (ValueError if the server would refuse it). It may
        carry a `key`; `collections` must name existing collections.
        """
        lib = self.library(library)
        payload = dict(data)
        if "key" in payload:
            payload.setdefault("version", 0)
        if date_added:
            payload.setdefault("dateAdded", date_added)
            payload.setdefault("dateModified", date_added)
        with self._state:
            try:
                key, outcome = self._write_object(
                    lib, "item", payload, require_version=0, partial=True
                )
            except _ObjectError as error:
                raise ValueError(f"{error.code}: {error.message}") from error
            return self._render_fresh(lib, "item", key, outcome)

    def seed_collection(
        self,
        name: str,
        parent: str | None = None,
        *,
        library: str | None = None,
        date_added: str | None = None,
    ) -> dict[str, Any]:
        """Add a collection (under the collection key `parent`); return its full object.

        `date_added` (`2020-01-01T00:00:00Z`) backdates it, as if made long ago; the API
        never shows it, but `sort=dateAdded` orders by it.
        """
        lib = self.library(library)
        with self._state:
            try:
                key, outcome = self._write_object(
                    lib,
                    "collection",
                    {"name": name, "parentCollection": parent or False},
                    require_version=0,
                    partial=True,
                )
                if date_added:
                    lib.collections[key]["_dateAdded"] = date_added
            except _ObjectError as error:
                raise ValueError(f"{error.code}: {error.message}") from error
            return self._render_fresh(lib, "collection", key, outcome)

    def edit_item(
        self, key: str, changes: Mapping[str, Any], *, library: str | None = None
    ) -> dict[str, Any]:
        """Change an item as another client would (its version and the library's go up)."""
        lib = self.library(library)
        with self._state:
            payload = {**changes, "key": key, "version": lib.items[key]["version"]}
            try:
                self._write_object(lib, "item", payload, require_version=0, partial=True)
            except _ObjectError as error:
                raise ValueError(f"{error.code}: {error.message}") from error
            return self._render_fresh(lib, "item", key, "updated")

    def bump_library_version(self, by: int = 1, *, library: str | None = None) -> int:
        """Advance a library's version as an unrelated write elsewhere would; return it."""
        lib = self.library(library)
        with self._state:
            lib.version += by
            return lib.version

    # Races

    def rendezvous(
        self, method: str, path_suffix: str, parties: int, *, timeout: float = 20.0
    ) -> _Gate:
        """Hold the next `parties` requests `METHOD ...path_suffix` until all have arrived.

        They are then answered one after the other, each against the library as it is by
        then: several clients that all read the same state write at the same moment, which
        is the race a start barrier alone only makes likely. The returned gate's `met`
        tells whether the race took place (False when fewer came within `timeout`).
        """
        gate = _Gate(
            method.upper(), path_suffix, threading.Barrier(parties, timeout=timeout), parties
        )
        with self._lock:
            self._gates.append(gate)
        return gate

    def _hold(self, request: ZoteroRequest) -> None:
        with self._lock:
            gate = next(
                (
                    g
                    for g in self._gates
                    if g.waiting > 0
                    and g.method == request.method
                    and request.path.endswith(g.path_suffix)
                ),
                None,
            )
            if gate is None:
                return
            gate.waiting -= 1
        try:
            gate.barrier.wait()
            gate.met = True
        except threading.BrokenBarrierError:
            pass

    # Faults

    def _take_fault(self, path: str, method: str | None = None) -> Fault | None:
        for fault in self._faults:
            matches = (
                fault.matches(path, method)
                if isinstance(fault, ZoteroFault)
                else fault.matches(path)
            )
            if matches:
                self._faults.remove(fault)
                return fault
        return None

    # Serving

    def start(self) -> FakeZotero:
        super().start()
        assert self._server is not None
        # fakeapis' handler knows GET and POST only; ours adds PUT, PATCH, DELETE, HEAD.
        self._server.RequestHandlerClass = _ZoteroHandler
        return self

    def __enter__(self) -> FakeZotero:
        return self.start()

    def _serve(self, handler: _Handler) -> None:  # type: ignore[override]
        started = time.monotonic()
        split = urllib.parse.urlsplit(handler.path)
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        length = int(handler.headers.get("Content-Length") or 0)
        raw_body = handler.rfile.read(length) if length else b""
        body: Any = None
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body = None
        request = ZoteroRequest(
            time=started,
            method=handler.command,
            path=urllib.parse.unquote(split.path),
            params={k: v[0] for k, v in query.items()},
            headers=dict(handler.headers.items()),
            query=query,
            body=body,
            raw_body=raw_body,
        )
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            fault = self._take_fault(request.path, request.method)
        self._hold(request)
        try:
            response: _Response | None = None
            extra: dict[str, str] = {}
            if fault is not None:
                if fault.kind == "drop":
                    handler.close_connection = True
                    return
                if fault.kind == "timeout":
                    if not self._wait(handler.connection, fault.delay):
                        handler.close_connection = True
                        return  # the client hung up while we stalled: nothing happens
                elif fault.kind == "headers":
                    extra = dict(fault.headers)
                elif fault.kind != "lost":
                    response = _Response(
                        fault.code, fault.payload, fault.content_type, dict(fault.headers)
                    )
            if response is None:
                try:
                    response = self._answer_zotero(request)
                except Exception as error:  # a bug in the fake must not look like a hang
                    response = _Response(500, repr(error).encode(), _TEXT)
            if fault is not None and fault.kind == "lost":
                handler.close_connection = True
                return
            headers = {
                "Zotero-API-Version": "3",
                "Zotero-Schema-Version": str(self.schema.version),
                **response.headers,
                **extra,
            }
            self._send(handler, response, headers)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer_zotero(self, request: ZoteroRequest) -> _Response:
        try:
            with self._state:
                return self._route(request)
        except _HttpError as error:
            return _Response(error.status, error.message.encode(), _TEXT, error.headers)

    # Routing

    def _route(self, req: ZoteroRequest) -> _Response:
        method = "GET" if req.method == "HEAD" else req.method
        if method not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            raise _HttpError(405)
        write = method != "GET"
        parts = [p for p in req.path.split("/") if p]
        if len(parts) == 2 and parts[0] == "storage-upload" and method == "POST":
            return self._receive_upload(req, parts[1])  # the "S3" side: no API key
        if method in ("POST", "PUT", "PATCH") and not req.raw_body:
            raise _HttpError(400, f"{method} data not provided")
        key = self._authenticate(req, write)
        api_version = req.header("Zotero-API-Version") or req.params.get("v")
        if api_version not in (None, "", "3"):
            if api_version in ("1", "2"):
                raise _HttpError(400, "FakeZotero implements API version 3 only")
            raise _HttpError(400, f"Invalid API version '{api_version}'")
        if not parts:
            raise _HttpError(400, "Invalid Request")
        if parts[0] in ("users", "groups") and len(parts) >= 2:
            lib = self._library_for(parts[0], parts[1], key, write)
            return self._library_route(req, method, lib, parts[2:])
        if write:
            raise _HttpError(405)
        return self._global_route(req, parts, key)

    def _authenticate(self, req: ZoteroRequest, write: bool) -> str | None:
        key = req.header("Zotero-API-Key") or None
        query_key = req.query.get("key", [None])[0]
        if query_key is not None:
            if not key:
                key = query_key or None
            elif query_key != key:
                raise _HttpError(400, "Zotero-API-Key header and 'key' parameter differ")
        if not key:
            auth = req.header("Authorization") or ""
            if auth.lower().startswith("bearer"):
                # The real server wants [a-z0-9]+ (real keys are 24 alphanumerics); this fake
                # also takes keys like "good-key".
                match = re.fullmatch(r"bearer +(\S+)", auth, re.IGNORECASE)
                if not match:
                    raise _HttpError(400, "Invalid Authorization header format")
                key = match.group(1)
        if key:
            if key != self.api_key and key not in self.member_keys:
                raise _HttpError(403, "Invalid key")
            if write:
                token = self._write_token(req)
                if token is not None and (key, token) in self.used_write_tokens:
                    raise _HttpError(412, "Write token already used")
            return key
        if write:
            raise _HttpError(403, "An API key is required for write requests.")
        return None

    @staticmethod
    def _write_token(req: ZoteroRequest) -> str | None:
        token = req.header("Zotero-Write-Token")
        if not token:
            return None
        if not 5 <= len(token) <= 32:
            raise _HttpError(400, "Write token must be 5-32 characters in length")
        return token

    def _remember_token(self, req: ZoteroRequest) -> None:
        token = self._write_token(req)
        if token is not None and self.write_token_memory:
            self.used_write_tokens.add((self._authenticate(req, False) or "", token))

    def _library_for(self, kind: str, ident: str, key: str | None, write: bool) -> Library:
        if not ident.isdigit() or int(ident) == 0:
            raise _HttpError(400, f"Invalid {'user' if kind == 'users' else 'group'} ID")
        lib = self.libraries.get(f"/{kind}/{ident}")
        if lib is None:
            # Someone else's user library is private (403); an unknown group does not exist.
            raise _HttpError(403 if kind == "users" else 404)
        if key is None:
            raise _HttpError(403)  # a private library needs a key even to read
        if lib.kind == "user" and key != self.api_key:
            raise _HttpError(403)  # a member's key opens the groups, not someone's library
        if write and not self.write_access:
            raise _HttpError(403, "Write access denied")
        return lib

    def _global_route(self, req: ZoteroRequest, parts: list[str], key: str | None) -> _Response:
        schema = self.schema
        name = parts[0]
        if len(parts) == 1 and name == "itemTypes":
            rows = [
                {"itemType": t, "localized": schema.type_names.get(t, t)}
                for t in schema.type_fields
            ]
            return _json_response(rows)
        if len(parts) == 1 and name == "itemFields":
            rows = [{"field": f, "localized": schema.localized(f)} for f in sorted(schema.fields)]
            return _json_response(rows)
        if len(parts) == 1 and name in ("itemTypeFields", "itemTypeCreatorTypes"):
            item_type = req.params.get("itemType", "")
            if item_type not in schema.type_fields:
                raise _HttpError(400, f"Invalid item type '{item_type}'")
            if name == "itemTypeFields":
                rows = [
                    {"field": f, "localized": schema.localized(f)}
                    for f in schema.type_fields[item_type]
                ]
            else:
                rows = [
                    {"creatorType": c, "localized": schema.creator_names.get(c, c)}
                    for c in schema.creator_types[item_type]
                ]
            return _json_response(rows)
        if len(parts) == 1 and name == "creatorFields":
            rows = [
                {"field": "firstName", "localized": "First"},
                {"field": "lastName", "localized": "Last"},
                {"field": "name", "localized": "Name"},
            ]
            return _json_response(rows)
        if len(parts) == 1 and name == "schema":
            return _json_response(schema.raw)
        if parts == ["items", "new"]:
            item_type = req.params.get("itemType", "")
            if item_type not in schema.type_fields or item_type in ("attachment", "annotation"):
                raise _HttpError(400, f"Invalid item type '{item_type}'")
            return _json_response(schema.template(item_type))
        if name == "keys" and len(parts) == 2:
            wanted = key if parts[1] == "current" else parts[1]
            if wanted != self.api_key and wanted not in self.member_keys:
                raise _HttpError(403 if parts[1] == "current" else 404)
            return _json_response(self._key_info(wanted))
        raise _HttpError(404)

    def _key_info(self, key: str | None = None) -> dict[str, Any]:
        user = self.library()
        key = key or self.api_key
        member = key != self.api_key
        access: dict[str, Any] = {
            "user": {"library": True, "files": True, "notes": True, "write": self.write_access}
        }
        if self.group_ids:
            access["groups"] = {"all": {"library": True, "write": self.write_access}}
        return {
            "key": key,
            "userID": int(self.member_keys[key] if member else self.user_id),
            "username": f"member{self.member_keys[key]}" if member else user.name,
            "displayName": "",
            "access": access,
        }

    def _library_route(
        self, req: ZoteroRequest, method: str, lib: Library, rest: list[str]
    ) -> _Response:
        n = len(rest)
        head = rest[0] if rest else ""
        if head == "items":
            if n == 1:
                if method == "GET":
                    return self._list_items(req, lib)
                if method == "POST":
                    return self._multi_write(req, lib, "item")
                if method == "DELETE":
                    return self._multi_delete(req, lib, "item")
                raise _HttpError(405)
            if n == 2 and rest[1] in ("top", "trash"):
                if method != "GET":
                    raise _HttpError(405)
                return self._list_items(req, lib, top=rest[1] == "top", trash=rest[1] == "trash")
            if n == 2:
                return self._single(req, method, lib, "item", rest[1])
            if n == 3 and rest[2] == "file" and method == "POST":
                return self._file_request(req, lib, rest[1])
            if n == 3 and rest[2] == "children" and method == "GET":
                if rest[1] not in lib.items:
                    raise _HttpError(404, "Item not found")
                return self._list_items(req, lib, parent=rest[1])
        elif head == "collections":
            if n == 1:
                if method == "GET":
                    return self._list_collections(req, lib)
                if method == "POST":
                    return self._multi_write(req, lib, "collection")
                if method == "DELETE":
                    return self._multi_delete(req, lib, "collection")
                raise _HttpError(405)
            if n == 2 and rest[1] == "top":
                if method != "GET":
                    raise _HttpError(405)
                return self._list_collections(req, lib, top=True)
            if n == 2:
                return self._single(req, method, lib, "collection", rest[1])
            if method == "GET" and n >= 3:
                if rest[1] not in lib.collections:
                    raise _HttpError(404, "Collection not found")
                if n == 3 and rest[2] == "collections":
                    return self._list_collections(req, lib, parent=rest[1])
                if rest[2:] == ["items"]:
                    return self._list_items(req, lib, collection=rest[1])
                if rest[2:] == ["items", "top"]:
                    return self._list_items(req, lib, collection=rest[1], top=True)
        elif head == "searches" and n == 1 and method == "GET":
            self._not_modified(req, lib)
            return _json_response(
                [], {"Total-Results": "0", "Last-Modified-Version": str(lib.version)}
            )
        elif head == "deleted" and n == 1 and method == "GET":
            since = req.params.get("since")
            if since is None or not since.isdigit():
                raise _HttpError(400, "'since' parameter must be provided")
            body = {
                kind: [k for k, v in keys.items() if v > int(since)]
                for kind, keys in lib.deleted.items()
            }
            body["settings"] = []
            return _json_response(body, {"Last-Modified-Version": str(lib.version)})
        raise _HttpError(404)

    # File uploads

    def _file_request(self, req: ZoteroRequest, lib: Library, key: str) -> _Response:
        """Authorize an upload (md5, filename, filesize, mtime) or register one (upload)."""
        obj = lib.items.get(key)
        if obj is None:
            raise _HttpError(404, "Item not found")
        data = obj["data"]
        if data["itemType"] != "attachment" or data.get("linkMode") not in (
            "imported_file",
            "imported_url",
        ):
            raise _HttpError(400, "Item is not an attachment file")
        content_type = (req.header("Content-Type") or "").split(";")[0].strip()
        if content_type != "application/x-www-form-urlencoded":
            raise _HttpError(400, "Content-Type must be application/x-www-form-urlencoded")
        form = {
            k: v[0]
            for k, v in urllib.parse.parse_qs(req.raw_body.decode("utf-8", "replace")).items()
        }
        if_match, if_none_match = req.header("If-Match"), req.header("If-None-Match")
        if if_match is None and if_none_match is None:
            raise _HttpError(428, "If-Match/If-None-Match header not provided")
        if if_none_match == "*" and data.get("md5"):
            raise _HttpError(412, "If-None-Match: * set but file exists")
        if if_match is not None and if_match != data.get("md5"):
            raise _HttpError(412, "ETag does not match current version of file")
        if "upload" in form:
            return self._register_upload(lib, key, form["upload"])
        missing = [n for n in ("md5", "filename", "filesize", "mtime") if not form.get(n)]
        if missing:
            raise _HttpError(400, f"'{missing[0]}' not provided")
        md5, size = form["md5"].lower(), form["filesize"]
        if not re.fullmatch(r"[0-9a-f]{32}", md5) or not size.isdigit():
            raise _HttpError(400, "Invalid md5 or filesize")
        if (lib.prefix, md5) in self.files:
            self._set_file(lib, key, md5, form["filename"], int(form["mtime"]))
            return _json_response({"exists": 1})
        if self.storage_quota_mb is not None:
            used = sum(len(b) for (prefix, _), b in self.files.items() if prefix == lib.prefix)
            after = (used + int(size)) / 1_000_000
            if after > self.storage_quota_mb:
                raise _HttpError(
                    413,
                    f"File would exceed quota ({after:.1f} > {self.storage_quota_mb:g})",
                    {"Zotero-Storage-Quota": f"{self.storage_quota_mb:g}"},
                )
        upload_key = "".join(self._rng.choice("0123456789abcdef") for _ in range(32))
        self.uploads[upload_key] = (
            lib.prefix,
            key,
            md5,
            form["filename"],
            int(size),
            int(form["mtime"]),
        )
        boundary = f"---------------------------{upload_key[:20]}"
        prefix = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="key"\r\n\r\n{md5}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"\r\n\r\n'
        )
        return _json_response(
            {
                "url": f"{self.url}/storage-upload/{upload_key}",
                "contentType": f"multipart/form-data; boundary={boundary}",
                "prefix": prefix,
                "suffix": f"\r\n--{boundary}--",
                "uploadKey": upload_key,
            }
        )

    def _receive_upload(self, req: ZoteroRequest, upload_key: str) -> _Response:
        """The storage side: the body must be prefix + file + suffix, matching md5 and size."""
        pending = self.uploads.get(upload_key)
        if pending is None:
            raise _HttpError(403, "Invalid upload")
        _, _, md5, _, size, _ = pending
        body = req.raw_body
        start = body.find(b"\r\n\r\n", body.find(b'name="file"'))
        end = body.rfind(b"\r\n--")
        content = body[start + 4 : end] if start >= 0 and end > start else b""
        if len(content) != size or hashlib.md5(content).hexdigest() != md5:
            raise _HttpError(400, "The file does not match its md5 or size")
        self.files[(pending[0], md5)] = content
        self.uploaded.add(upload_key)
        return _Response(201, b"", _TEXT)

    def _register_upload(self, lib: Library, key: str, upload_key: str) -> _Response:
        pending = self.uploads.get(upload_key)
        if pending is None or pending[:2] != (lib.prefix, key):
            raise _HttpError(400, "Invalid upload key")
        if upload_key not in self.uploaded:
            raise _HttpError(400, "File not uploaded")
        del self.uploads[upload_key]
        _, _, md5, filename, _, mtime = pending
        self._set_file(lib, key, md5, filename, mtime)
        return _Response(204, b"", _TEXT, {"Last-Modified-Version": str(lib.version)})

    def _set_file(self, lib: Library, key: str, md5: str, filename: str, mtime: int) -> None:
        lib.version += 1
        lib.dirty = True
        obj = lib.items[key]
        obj["version"] = lib.version
        obj["data"].update({"md5": md5, "filename": filename, "mtime": mtime})
        obj["data"]["version"] = lib.version

    def stored_file(self, item_key: str, library: str | None = None) -> bytes | None:
        """The bytes Zotero File Storage holds for an attachment item, if any."""
        lib = self.library(library)
        md5 = lib.items[item_key]["data"].get("md5")
        return self.files.get((lib.prefix, md5)) if md5 else None

    # Reads

    def _not_modified(self, req: ZoteroRequest, lib: Library) -> None:
        since = req.header("If-Modified-Since-Version")
        if since is not None and since.strip().isdigit() and lib.version <= int(since):
            raise _HttpError(304)

    def _read_params(self, req: ZoteroRequest, kind: str) -> dict[str, Any]:
        """Parse the query as Zotero_API::parseQueryParams does (unknown parameters ignored)."""
        p = req.params
        fmt = p.get("format") or "json"
        if fmt in _UNSUPPORTED_FORMATS:
            raise _HttpError(501, f"FakeZotero does not implement format={fmt}")
        if fmt not in ("json", "keys", "versions"):
            raise _HttpError(400, f"Invalid 'format' value '{fmt}'")
        default_limit = 0 if fmt in ("keys", "versions") else DEFAULT_LIMIT
        limit = default_limit
        if "limit" in p:
            value = _php_int(p["limit"])
            if value > MAX_LIMIT:
                limit = MAX_LIMIT
            elif value > 0:
                limit = value
        start = max(_php_int(p.get("start", "0")), 0)
        since = p.get("since")
        if since is not None and not re.fullmatch(r"\d+", since.strip()):
            raise _HttpError(400, "Invalid value for 'since' parameter")
        sort = p.get("sort") or "dateModified"
        direction = p.get("direction")
        if sort in ("asc", "desc"):
            sort, direction = "dateModified", sort
        if sort not in _SORTS:
            raise _HttpError(400, f"Invalid 'sort' value '{sort}'")
        if direction is None:
            direction = "desc" if sort.startswith("date") else "asc"
        if direction not in ("asc", "desc"):
            raise _HttpError(400, f"Invalid 'direction' value '{direction}'")
        keys_param = "itemKey" if kind == "item" else "collectionKey"
        object_keys: list[str] | None = None
        if keys_param in p:
            object_keys = [k for k in p[keys_param].strip(",").split(",") if _KEY_RE.fullmatch(k)]
            if kind == "item" and len(object_keys) > MAX_ITEM_KEYS:
                raise _HttpError(400, f"Cannot specify more than {MAX_ITEM_KEYS} item keys")
            limit = MAX_LIMIT  # explicit keys force the limit, as the server does
        item_types = req.query.get("itemType", [])
        if len([v for v in item_types if v.strip()]) > 1:
            raise _HttpError(400, "Cannot specify 'itemType' more than once")
        for _neg, type_names in _param_sets(item_types):
            for type_name in type_names:
                if type_name not in self.schema.type_fields:
                    raise _HttpError(400, f"Invalid itemType '{type_name}'")
        qmode = p.get("qmode")
        if qmode is not None and qmode.lower() not in ("titlecreatoryear", "everything"):
            raise _HttpError(400, f"Invalid 'qmode' value '{qmode}'")
        return {
            "format": fmt,
            "limit": limit,
            "default_limit": default_limit,
            "start": start,
            "since": int(since) if since is not None else None,
            "sort": sort,
            "direction": direction,
            "keys": object_keys,
            "itemType": _param_sets(item_types),
            "q": p.get("q", ""),
            "tag": _param_sets(req.query.get("tag", [])),
            "includeTrashed": p.get("includeTrashed", "0") not in ("", "0", "false"),
        }

    def _list_items(
        self,
        req: ZoteroRequest,
        lib: Library,
        *,
        top: bool = False,
        trash: bool = False,
        collection: str | None = None,
        parent: str | None = None,
    ) -> _Response:
        self._not_modified(req, lib)
        params = self._read_params(req, "item")
        chosen = []
        for obj in lib.items.values():
            data = obj["data"]
            if top and data.get("parentItem"):
                continue
            if parent is not None and data.get("parentItem") != parent:
                continue
            if collection is not None and collection not in data.get("collections", []):
                continue
            trashed = bool(data.get("deleted"))
            if trash and not trashed:
                continue
            if trashed and not (trash or params["includeTrashed"]):
                continue
            if params["since"] is not None and obj["version"] <= params["since"]:
                continue
            if params["keys"] is not None and obj["key"] not in params["keys"]:
                continue
            if not self._item_matches(data, params):
                continue
            chosen.append(obj)
        chosen = self._sorted(chosen, params, "item")
        return self._multi_response(req, lib, chosen, params)

    def _item_matches(self, data: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
        for negation, values in params["itemType"]:
            if (data["itemType"] in values) == negation:
                return False
            if negation and data["itemType"] == "annotation":
                return False
        if params["tag"]:
            names = {_fold(t["tag"]) for t in data.get("tags", [])}
            for negation, values in params["tag"]:
                hit = any(_fold(v) in names for v in values)
                if hit == negation:
                    return False
        q = params["q"]
        if q:
            title_field = self.schema.title_field(data["itemType"])
            title = _fold(str(data.get(title_field, "")) if title_field else "")
            if data["itemType"] == "note":
                title = _fold(_note_title(data.get("note", "")))
            creators = [
                _fold(c.get("name") or f"{c.get('firstName', '')} {c.get('lastName', '')}".strip())
                for c in data.get("creators", [])
            ]
            date_field = self.schema.date_field(data["itemType"])
            year = (parsed_date(str(data.get(date_field, ""))) or "")[:4] if date_field else ""
            for word in _search_words(q):
                folded = _fold(word)
                if not (folded in title or any(folded in n for n in creators) or word == year):
                    return False
        return True

    def _list_collections(
        self,
        req: ZoteroRequest,
        lib: Library,
        *,
        top: bool = False,
        parent: str | None = None,
    ) -> _Response:
        self._not_modified(req, lib)
        params = self._read_params(req, "collection")
        q = _fold(params["q"])
        chosen = []
        for obj in lib.collections.values():
            data = obj["data"]
            if top and data.get("parentCollection"):
                continue
            if parent is not None and data.get("parentCollection") != parent:
                continue
            if params["since"] is not None and obj["version"] <= params["since"]:
                continue
            if params["keys"] is not None and obj["key"] not in params["keys"]:
                continue
            if q and q not in _fold(data["name"]):
                continue
            chosen.append(obj)
        chosen = self._sorted(chosen, params, "collection")
        return self._multi_response(req, lib, chosen, params)

    def _sorted(
        self, objects: list[dict[str, Any]], params: Mapping[str, Any], kind: str
    ) -> list[dict[str, Any]]:
        sort = params["sort"]

        def sort_key(obj: dict[str, Any]) -> tuple[Any, ...]:
            data = obj["data"]
            if kind == "collection":
                # Collections::search: ORDER BY <sort>, version, collectionID; a collection's
                # JSON has no dates, but its row does.
                if sort in ("dateAdded", "dateModified", "serverDateModified"):
                    column = "_dateAdded" if sort == "dateAdded" else "_dateModified"
                    value: Any = obj.get(column, "")
                else:
                    value = _fold(data.get("name", "")) if sort == "title" else ""
                return (value, obj["version"], obj.get("_id", 0))
            if sort in ("dateAdded", "dateModified", "serverDateModified"):
                value = data.get("dateAdded" if sort == "dateAdded" else "dateModified", "")
            elif sort == "title":
                value = _fold(data.get("name", "") if kind == "collection" else self._title(data))
            elif sort == "creator":
                value = _fold(self._creator_summary(data))
            elif sort == "date":
                value = parsed_date(str(data.get("date", ""))) or ""
            else:
                value = _fold(str(data.get(sort, "")))
            return (value, obj["version"], obj["key"])

        return sorted(objects, key=sort_key, reverse=params["direction"] == "desc")

    def _multi_response(
        self,
        req: ZoteroRequest,
        lib: Library,
        objects: list[dict[str, Any]],
        params: Mapping[str, Any],
    ) -> _Response:
        self._fresh(lib)
        total = len(objects)
        start, limit = params["start"], params["limit"]
        page = objects[start : start + limit] if limit else objects[start:]
        headers = {
            "Total-Results": str(total),
            "Last-Modified-Version": str(lib.version),
            "Link": self._link_header(req, total, params),
        }
        fmt = params["format"]
        if fmt == "keys":
            text = "\n".join(o["key"] for o in page) + "\n"
            return _Response(200, text.encode(), _TEXT, headers)
        if fmt == "versions":
            return _json_response({o["key"]: o["version"] for o in page}, headers)
        return _json_response([self._render(lib, o) for o in page], headers)

    def _link_header(self, req: ZoteroRequest, total: int, params: Mapping[str, Any]) -> str:
        """Build `Link` as Zotero_API::buildLinks does: non-default parameters, sorted."""
        non_default: dict[str, str] = {}
        defaults = {
            "format": "json",
            "limit": str(params["default_limit"]),
            "start": "0",
            "locale": "en-US",
            "includeTrashed": "0",
            "sort": "dateModified",
            "direction": "desc" if params["sort"].startswith("date") else "asc",
        }
        known = (
            "format", "limit", "start", "since", "itemKey", "collectionKey", "itemType", "q",
            "qmode", "tag", "includeTrashed", "sort", "direction", "locale", "include", "style",
        )  # fmt: skip
        for name in known:
            if name not in req.params:
                continue
            value = req.params[name]
            if name == "limit":
                value = str(params["limit"])
            if name == "start":
                value = str(params["start"])
            if value == "" or defaults.get(name) == value:
                continue
            non_default[name] = value
        base = API_BASE + req.path.rstrip("/")

        def url(changes: Mapping[str, int | None]) -> str:
            p = dict(non_default)
            for name, value in changes.items():
                if value:
                    p[name] = str(value)
                else:
                    p.pop(name, None)
            return base + ("?" + urllib.parse.urlencode(sorted(p.items())) if p else "")

        start, limit = params["start"], params["limit"]
        links: dict[str, str] = {"self": url({"start": start})}
        links["first"] = url({"start": None})
        if start:
            prev_start = start - limit
            links["prev"] = url({"start": prev_start if prev_start > 0 else None})
        if not start and limit >= total:
            links["last"] = links["self"]
        elif limit != 0:
            if start >= total:
                last_start = total - limit
            else:
                last_start = total - (total % limit)
                if last_start == total:
                    last_start = total - limit
            links["last"] = url({"start": last_start if last_start > 0 else None})
            if start + limit < total:
                links["next"] = url({"start": start + limit})
        parts = []
        if links["first"] != links["self"]:
            parts.append(f'<{links["first"]}>; rel="first"')
        if "prev" in links:
            parts.append(f'<{links["prev"]}>; rel="prev"')
        if "next" in links:
            parts.append(f'<{links["next"]}>; rel="next"')
        if "last" in links and links["last"] != links["self"]:
            parts.append(f'<{links["last"]}>; rel="last"')
        parts.append(f'<{WWW_BASE}/{req.path.strip("/")}>; rel="alternate"')
        return ", ".join(parts)

    def _single(
        self, req: ZoteroRequest, method: str, lib: Library, kind: str, key: str
    ) -> _Response:
        store = lib.items if kind == "item" else lib.collections
        noun = "Item" if kind == "item" else "Collection"
        if method == "GET":
            obj = store.get(key)
            if obj is None:
                raise _HttpError(
                    404, f"{noun} does not exist" if kind == "item" else f"{noun} not found"
                )
            fmt = req.params.get("format") or "json"
            if fmt in _UNSUPPORTED_FORMATS:
                raise _HttpError(501, f"FakeZotero does not implement format={fmt}")
            if fmt != "json":
                raise _HttpError(400, f"Invalid 'format' value '{fmt}'")
            self._fresh(lib)
            return _json_response(
                self._render(lib, obj), {"Last-Modified-Version": str(obj["version"])}
            )
        if method == "POST":
            raise _HttpError(405)
        existing = store.get(key)
        header = req.header("If-Unmodified-Since-Version")
        if method == "DELETE":
            if header is None:
                raise _HttpError(
                    428, "If-Unmodified-Since-Version must be provided for delete requests"
                )
            version = _version_header(header, single=True)
            if existing is None:
                raise _HttpError(404, f"{noun} not found")
            if existing["version"] > version:
                raise _HttpError(
                    412,
                    f"{noun} has been modified since specified version "
                    f"(expected {version}, found {existing['version']})",
                    {"Last-Modified-Version": str(existing["version"])},
                )
            lib.version += 1
            self._delete(lib, kind, key)
            return _Response(204, b"", _TEXT, {"Last-Modified-Version": str(lib.version)})
        # PUT or PATCH
        body = req.body
        if body is None:
            raise _HttpError(400, _json_error(req.raw_body))
        if not isinstance(body, dict):
            raise _HttpError(400, f"Invalid {kind} object")
        body = _editable(body)
        prop_version = body.get("version")
        header_version = _version_header(header, single=True) if header is not None else None
        if prop_version is not None and not _is_number(prop_version):
            raise _HttpError(400, f"Invalid JSON 'version' property value '{prop_version}'")
        if (
            header_version is not None
            and prop_version is not None
            and header_version != int(prop_version)
        ):
            raise _HttpError(
                400,
                "If-Unmodified-Since-Version value does not match JSON 'version' property "
                f"({header_version} != {int(prop_version)})",
            )
        wanted = header_version if header_version is not None else prop_version
        if existing is None:
            if method == "PATCH" and wanted is None:
                raise _HttpError(
                    404,
                    f"{noun} not found (to create, use If-Unmodified-Since-Version: 0, "
                    "JSON 'version' 0, or PUT method)",
                )
            if wanted is not None and int(wanted) > 0:
                raise _HttpError(412, f"{noun} not found (expected version {int(wanted)})")
        elif wanted is None:
            raise _HttpError(
                428,
                "Either If-Unmodified-Since-Version or object version property must be "
                "provided for key-based writes",
            )
        elif existing["version"] > int(wanted):
            raise _HttpError(
                412,
                f"{noun} has been modified since specified version "
                f"(expected {int(wanted)}, found {existing['version']})",
                {"Last-Modified-Version": str(existing["version"])},
            )
        if "key" in body and body["key"] != key:
            raise _HttpError(409, f"'key' property in JSON does not match {kind} key of request")
        payload = {**body, "key": key}
        payload.pop("version", None)
        try:
            self._write_object(
                lib, kind, payload, require_version=0, partial=method == "PATCH", checked=True
            )
        except _ObjectError as error:
            raise _HttpError(error.code, error.message) from error
        self._remember_token(req)
        return _Response(204, b"", _TEXT, {"Last-Modified-Version": str(lib.version)})

    # Writes

    def _multi_write(self, req: ZoteroRequest, lib: Library, kind: str) -> _Response:
        header = req.header("If-Unmodified-Since-Version")
        checked = False
        if header is not None:
            version = _version_header(header, single=False)
            if lib.version > version:
                raise _HttpError(
                    412,
                    "Library has been modified since specified version "
                    f"(expected {version}, found {lib.version})",
                    {"Last-Modified-Version": str(lib.version)},
                )
            checked = True
        body = req.body
        if body is None:
            raise _HttpError(400, _json_error(req.raw_body))
        if not isinstance(body, list):
            raise _HttpError(400, "Uploaded data must be a JSON array")
        plural = kind + "s"
        if len(body) > MAX_WRITE_OBJECTS:
            raise _HttpError(413, f"Cannot add more than {MAX_WRITE_OBJECTS} {plural} at a time")
        report: dict[str, dict[str, Any]] = {
            "successful": {},
            "success": {},
            "unchanged": {},
            "failed": {},
        }
        for index, obj in enumerate(body):
            i = str(index)
            if not isinstance(obj, dict):
                report["failed"][i] = {
                    "code": 400,
                    "message": f"Invalid value for index {index} in uploaded data; "
                    f"expected JSON {kind} object",
                }
                continue
            try:
                key, outcome = self._write_object(
                    lib, kind, obj, require_version=0 if checked else 1, partial=True
                )
            except _ObjectError as error:
                editable = _editable(obj)
                entry: dict[str, Any] = {}
                if isinstance(editable.get("key"), str) and editable["key"]:
                    entry["key"] = editable["key"]
                entry.update({"code": error.code, "message": error.message})
                if error.data:
                    entry["data"] = error.data
                report["failed"][i] = entry
                continue
            if outcome != "unchanged":
                report["successful"][i] = self._render_fresh(lib, kind, key, outcome)
                report["success"][i] = key
            else:
                report["unchanged"][i] = key
        self._remember_token(req)
        return _json_response(report, {"Last-Modified-Version": str(lib.version)})

    def _multi_delete(self, req: ZoteroRequest, lib: Library, kind: str) -> _Response:
        header = req.header("If-Unmodified-Since-Version")
        if header is None:
            raise _HttpError(428, "If-Unmodified-Since-Version not provided")
        version = _version_header(header, single=False)
        if lib.version > version:
            raise _HttpError(
                412,
                "Library has been modified since specified version "
                f"(expected {version}, found {lib.version})",
                {"Last-Modified-Version": str(lib.version)},
            )
        param = "itemKey" if kind == "item" else "collectionKey"
        keys = [k for k in req.params.get(param, "").strip(",").split(",") if k]
        if not keys:
            raise _HttpError(400, f"'{param}' must be provided")
        store = lib.items if kind == "item" else lib.collections
        lib.version += 1
        for key in keys:
            if key in store:
                self._delete(lib, kind, key)
        return _Response(204, b"", _TEXT, {"Last-Modified-Version": str(lib.version)})

    def _delete(self, lib: Library, kind: str, key: str) -> None:
        lib.dirty = True
        if kind == "item":
            children = [k for k, o in lib.items.items() if o["data"].get("parentItem") == key]
            for child in [key, *children]:
                lib.items.pop(child, None)
                lib.deleted["items"][child] = lib.version
            return
        doomed = [key]
        for parent in doomed:  # grows as subcollections are found
            doomed.extend(
                k for k, o in lib.collections.items() if o["data"].get("parentCollection") == parent
            )
        for coll in doomed:
            lib.collections.pop(coll, None)
            lib.deleted["collections"][coll] = lib.version
            # Items leave the collection without a version bump (Item::toResponseJSON).
            for obj in lib.items.values():
                if coll in obj["data"].get("collections", []):
                    obj["data"]["collections"].remove(coll)

    def _new_key(self, store: Mapping[str, Any]) -> str:
        while True:
            key = "".join(self._rng.choice(KEY_ALPHABET) for _ in range(8))
            if key not in store:
                return key

    def _write_object(
        self,
        lib: Library,
        kind: str,
        obj: Mapping[str, Any],
        *,
        require_version: int,
        partial: bool,
        checked: bool = False,
    ) -> tuple[str, str]:
        """Create or update one object; return (key, outcome) or raise _ObjectError.

        The outcome is "created", "updated" or "unchanged".

        `require_version` 1: a `key` needs a `version` (no library header was sent).
        `partial`: an existing object keeps what the JSON leaves out (POST and PATCH).
        `checked`: versions were checked by the caller (single-object writes).
        """
        json_obj = dict(_editable(obj))
        store = lib.items if kind == "item" else lib.collections
        noun = "Item" if kind == "item" else "Collection"
        key = json_obj.get("key")
        if "key" in json_obj:
            if not isinstance(key, str):
                raise _ObjectError(400, "'key' must be a string")
            if not _KEY_RE.fullmatch(key):
                raise _ObjectError(400, f"'{key}' is not a valid {kind} key")
        existing = store.get(key) if isinstance(key, str) else None
        if not checked:
            for old in (f"{kind}Key", f"{kind}Version"):
                if old in json_obj:
                    new = "key" if old.endswith("Key") else "version"
                    raise _ObjectError(400, f"'{old}' property is now '{new}'")
            if "version" in json_obj:
                version = json_obj["version"]
                if not _is_number(version):
                    raise _ObjectError(400, "'version' must be an integer")
                version = int(version)
                if key is None:
                    raise _ObjectError(400, f"'version' is valid only if {kind} key is provided")
                if existing is not None and existing["version"] > version:
                    raise _ObjectError(
                        412,
                        f"{noun} has been modified since specified version "
                        f"(expected {version}, found {existing['version']})",
                    )
                if existing is None and version > 0:
                    raise _ObjectError(
                        404, f"{noun} doesn't exist (expected version {version}; use 0 instead)"
                    )
            elif require_version == 1 and key is not None:
                raise _ObjectError(
                    428,
                    "Either If-Unmodified-Since-Version or 'version' property must be "
                    "provided for 'key'-based writes",
                )
        json_obj.pop("version", None)
        json_obj.pop("key", None)
        old_data = copy.deepcopy(existing["data"]) if existing is not None else None
        if kind == "item":
            data = self._build_item(lib, json_obj, old_data, partial=partial)
        else:
            data = self._build_collection(lib, json_obj, old_data, partial=partial)
        new_key = key if isinstance(key, str) else self._new_key(store)
        if old_data is not None:
            volatile = ("key", "version", "dateModified")
            comparable = {k: v for k, v in old_data.items() if k not in volatile}
            candidate = {k: v for k, v in data.items() if k not in volatile}
            if "dateModified" in json_obj:
                candidate["dateModified"] = data["dateModified"]
                comparable["dateModified"] = old_data.get("dateModified")
            if comparable == candidate:
                lib.version += 1  # the per-object transaction bumped it before finding no change
                lib.dirty = True
                return new_key, "unchanged"
        lib.version += 1
        now = _now()
        # What the API does not show but sorts by: the row ID and, for collections, the
        # dates (`sort=dateAdded` orders collections by them, then by version and row ID).
        if existing is not None:
            hidden = {k: v for k, v in existing.items() if k.startswith("_")}
        else:
            self._serial += 1
            hidden = {"_id": self._serial, "_dateAdded": now}
        hidden["_dateModified"] = now
        if kind == "item":
            if old_data is None:
                data.setdefault("dateAdded", now)
            if "dateModified" not in json_obj:
                data["dateModified"] = now
            elif old_data is None:
                data.setdefault("dateModified", now)
        obj_out: dict[str, Any] = {
            "key": new_key,
            "version": lib.version,
            "library": {},
            "links": {},
            "meta": {},
            "data": {"key": new_key, "version": lib.version, **data},
        }
        obj_out.update(hidden)
        store[new_key] = obj_out
        lib.deleted["items" if kind == "item" else "collections"].pop(new_key, None)
        lib.dirty = True
        return new_key, "created" if old_data is None else "updated"

    def _build_item(
        self,
        lib: Library,
        json_obj: dict[str, Any],
        old: dict[str, Any] | None,
        *,
        partial: bool,
    ) -> dict[str, Any]:
        """Validate an item's JSON (Items::validateJSONItem) and return its new data."""
        schema = self.schema
        is_new = old is None
        if is_new or not partial:
            required = ["itemType"]
            if not is_new:
                required += ["tags", "relations"]
                if not (json_obj.get("parentItem") or (old or {}).get("parentItem")):
                    required.append("collections")
            if json_obj.get("itemType") == "attachment" and is_new:
                required = ["linkMode"]
            for prop in required:
                if prop not in json_obj:
                    raise _ObjectError(400, f"'{prop}' property not provided")
        item_type = json_obj.get("itemType", old["itemType"] if old else None)
        parent = json_obj.get("parentItem", (old or {}).get("parentItem", False))
        is_child = bool(parent)
        for prop, value in json_obj.items():
            if prop == "parentItem":
                if value not in (False, None) and (
                    not isinstance(value, str) or not _KEY_RE.fullmatch(value)
                ):
                    raise _ObjectError(400, f"'{prop}' must be a valid item key or false")
            elif prop == "itemType":
                if not isinstance(value, str):
                    raise _ObjectError(400, "'itemType' must be a string")
                if value not in schema.type_fields:
                    raise _ObjectError(400, f"'{value}' is not a valid itemType")
                if is_child and value not in ("note", "attachment", "annotation"):
                    raise _ObjectError(400, "Child item must be note, attachment, or annotation")
            elif prop == "tags":
                _check_tags(value)
            elif prop == "collections":
                if not isinstance(value, list):
                    raise _ObjectError(400, "'collections' property must be an array")
                if is_child and value:
                    raise _ObjectError(400, "Child items cannot be assigned to collections")
                for coll in value:
                    if not isinstance(coll, str) or not _KEY_RE.fullmatch(coll):
                        raise _ObjectError(400, f"'{coll}' is not a valid collection key")
            elif prop == "relations":
                _check_relations(value, _ITEM_PREDICATES, _EXTERNAL_PREDICATES)
            elif prop == "creators":
                self._check_creators(value, item_type, is_new)
            elif prop == "note":
                if item_type not in ("note", "attachment"):
                    raise _ObjectError(
                        400, "'note' property is valid only for note and attachment items"
                    )
                if not isinstance(value, str):
                    raise _ObjectError(400, "'note' must be a string")
                if len(value) > MAX_NOTE_CHARS:
                    raise _ObjectError(413, f"Note '{_excerpt(_note_title(value))}...' too long")
            elif prop == "linkMode":
                if item_type != "attachment" or str(value).lower() not in _LINK_MODES:
                    raise _ObjectError(400, f"'{value}' is not a valid linkMode")
            elif prop in _ATTACHMENT_PROPS:
                if item_type != "attachment":
                    raise _ObjectError(400, f"'{prop}' is valid only for attachment items")
            elif prop == "deleted":
                if not (isinstance(value, bool) or value in (0, 1)):
                    raise _ObjectError(400, "'deleted' must be a boolean")
            elif prop == "inPublications":
                if value and lib.kind != "user":
                    raise _ObjectError(400, "Group items cannot be added to My Publications")
            elif prop == "accessDate":
                if (
                    value != ""
                    and value != "CURRENT_TIMESTAMP"
                    and not (isinstance(value, str) and _ISO_DATETIME.fullmatch(value))
                ):
                    raise _ObjectError(
                        400,
                        "'accessDate' must be in ISO 8601 or UTC 'YYYY-MM-DD[ hh:mm:ss]' "
                        f"format or 'CURRENT_TIMESTAMP' ({value})",
                    )
            elif prop in ("dateAdded", "dateModified"):
                if not (isinstance(value, str) and _ISO_DATETIME.fullmatch(value)):
                    raise _ObjectError(
                        400,
                        f"'{prop}' must be in ISO 8601 or UTC 'YYYY-MM-DD hh:mm:ss' format "
                        f"({value})",
                    )
            else:
                if prop not in schema.fields:
                    raise _ObjectError(400, f"Invalid property '{prop}'")
                if isinstance(value, list | dict):
                    raise _ObjectError(400, f"Unexpected array for property '{prop}'")
        assert item_type is not None
        type_fields = schema.type_fields[item_type]
        # Item::setField: a non-empty value must be valid for the type; "" clears and passes.
        for prop, value in json_obj.items():
            if prop in schema.fields and value not in ("", None, False) and prop not in type_fields:
                raise _ObjectError(400, f"'{prop}' is not a valid field for type '{item_type}'")
        # Start from the old data (partial update) or the type's empty template.
        data: dict[str, Any] = {}
        if parent:
            data["parentItem"] = parent
        data["itemType"] = item_type
        base = old if (old is not None and partial) else {}
        if item_type == "note":
            data["note"] = json_obj.get("note", base.get("note", ""))
        if item_type == "attachment":
            for prop in ("linkMode", "note", *_ATTACHMENT_PROPS):
                if prop in json_obj or prop in base:
                    data[prop] = json_obj.get(prop, base.get(prop))
        creators = json_obj.get("creators", base.get("creators", []))
        creators = [
            _clean_creator(c)
            for c in creators
            if (c.get("name") or "").strip()
            or (c.get("firstName") or "").strip()
            or (c.get("lastName") or "").strip()
        ]
        for index, name in enumerate(type_fields):
            value = json_obj.get(name, base.get(name, ""))
            if value is None or value is False:
                value = ""
            if name == "accessDate" and value == "CURRENT_TIMESTAMP":
                value = _now()
            data[name] = str(value) if not isinstance(value, str) else value
            if index == 0 and schema.primary_creator_type(item_type) is not None:
                data["creators"] = creators
        if "creators" not in data and item_type not in ("note", "attachment", "annotation"):
            data["creators"] = creators
        tags = json_obj.get("tags", base.get("tags", []))
        data["tags"] = _clean_tags(tags)
        if not parent:
            data["collections"] = list(
                dict.fromkeys(json_obj.get("collections", base.get("collections", [])))
            )
        relations = json_obj.get("relations", base.get("relations", {}))
        data["relations"] = dict(relations) if relations else {}
        deleted = json_obj.get("deleted", base.get("deleted"))
        if deleted:
            data["deleted"] = 1
        for prop in ("dateAdded", "dateModified"):
            if prop in json_obj:
                data[prop] = _iso(json_obj[prop])
            elif old is not None and prop in old:
                data[prop] = old[prop]
        # The save: lengths, then references (Item::save).
        for name in type_fields:
            value = data.get(name, "")
            if len(value.encode("utf-8")) > MAX_FIELD_BYTES:
                label = schema.localized(name)
                shown = _excerpt(value) + "…"
                raise _ObjectError(
                    413,
                    f"{label} field value '{shown}' too long",
                    {"field": label, "value": shown},
                )
        for creator in data.get("creators", []):
            for part in ("firstName", "lastName", "name"):
                value = creator.get(part, "")
                if len(value.encode("utf-8")) > MAX_CREATOR_BYTES:
                    shown = _excerpt(value)
                    raise _ObjectError(
                        413,
                        f"The creator name ‘{shown}…’ is too long to sync. Shorten the name "
                        "and sync again.\n\nIf you receive this message repeatedly for items "
                        "saved from a particular site, you can report this issue in the Zotero "
                        "Forums.",
                        {"field": "creator", "value": shown},
                    )
        for tag in data["tags"]:
            if len(tag["tag"]) > MAX_TAG_CHARS:
                raise _ObjectError(
                    413, f"Tag '{_excerpt(tag['tag'])}…' too long", {"tag": tag["tag"]}
                )
        for coll in data.get("collections", []):
            if coll not in lib.collections:
                raise _ObjectError(409, f"Collection {coll} not found", {"collection": coll})
        if parent:
            parent_obj = lib.items.get(parent)
            if parent_obj is None:
                raise _ObjectError(409, f"Parent item {parent} not found", {"parentItem": parent})
            if parent_obj["data"]["itemType"] in ("note", "attachment", "annotation"):
                raise _ObjectError(
                    409, "Parent item cannot be a note or attachment", {"parentItem": parent}
                )
        return data

    def _check_creators(self, value: Any, item_type: str | None, is_new: bool) -> None:
        if not isinstance(value, list):
            raise _ObjectError(400, "'creators' property must be an array")
        for creator in value:
            if not isinstance(creator, dict) or "creatorType" not in creator:
                raise _ObjectError(400, "creator object must contain 'creatorType'")
            has_name = any(
                isinstance(creator.get(p), str) and creator[p].strip()
                for p in ("name", "firstName", "lastName")
            )
            if not has_name:
                if len(value) == 1 and is_new:
                    continue  # the template's single empty creator is ignored
                raise _ObjectError(
                    400, "creator object must contain 'firstName'/'lastName' or 'name'"
                )
            for prop, v in creator.items():
                if prop in ("name", "firstName", "lastName") and not isinstance(v, str):
                    raise _ObjectError(400, f"'{prop}' creator field must be a string")
                if prop == "creatorType":
                    if v not in self.schema.all_creator_types:
                        raise _ObjectError(400, f"'{v}' is not a valid creator type")
                    allowed = self.schema.creator_types.get(item_type or "", [])
                    if v not in allowed and v != "author":
                        raise _ObjectError(
                            400, f"'{v}' is not a valid creator type for item type '{item_type}'"
                        )
                elif prop == "firstName":
                    if "lastName" not in creator:
                        raise _ObjectError(
                            400, "'lastName' creator field must be set if 'firstName' is set"
                        )
                    if "name" in creator:
                        raise _ObjectError(
                            400, "'firstName' and 'name' creator fields are mutually exclusive"
                        )
                elif prop == "lastName":
                    if "firstName" not in creator:
                        raise _ObjectError(
                            400, "'firstName' creator field must be set if 'lastName' is set"
                        )
                    if "name" in creator:
                        raise _ObjectError(
                            400, "'lastName' and 'name' creator fields are mutually exclusive"
                        )
                elif prop == "name":
                    if "firstName" in creator:
                        raise _ObjectError(
                            400, "'firstName' and 'name' creator fields are mutually exclusive"
                        )
                elif prop != "fieldMode":
                    raise _ObjectError(400, f"Invalid creator property '{prop}'")

    def _build_collection(
        self,
        lib: Library,
        json_obj: dict[str, Any],
        old: dict[str, Any] | None,
        *,
        partial: bool,
    ) -> dict[str, Any]:
        """Validate a collection's JSON (Collections::validateJSONCollection); return its data."""
        if (old is None or not partial) and "name" not in json_obj:
            raise _ObjectError(400, "'name' property not provided")
        for prop, value in json_obj.items():
            if prop == "name":
                if not isinstance(value, str):
                    raise _ObjectError(400, "'name' must be a string")
                if value == "":
                    raise _ObjectError(400, "Collection name cannot be empty")
                if len(value) > MAX_COLLECTION_NAME_CHARS:
                    shown = _excerpt(value) + "…"
                    raise _ObjectError(413, f"Collection name '{shown}' too long", {"value": shown})
            elif prop == "parentCollection":
                if not isinstance(value, str) and value:
                    raise _ObjectError(
                        400,
                        f"'parentCollection' must be a collection key or FALSE "
                        f"({type(value).__name__})",
                    )
            elif prop == "relations":
                _check_relations(value, _COLLECTION_PREDICATES, _COLLECTION_PREDICATES)
            elif prop == "parent":
                raise _ObjectError(400, "'parent' property is now 'parentCollection'")
            else:
                raise _ObjectError(400, f"Invalid property '{prop}'")
        base = old if (old is not None and partial) else {}
        parent = json_obj.get("parentCollection", base.get("parentCollection", False)) or False
        if parent and parent not in lib.collections:
            raise _ObjectError(409, f"Parent collection {parent} not found", {"collection": parent})
        relations = json_obj.get("relations", base.get("relations", {}))
        return {
            "name": json_obj.get("name", base.get("name")),
            "parentCollection": parent,
            "relations": dict(relations) if relations else {},
        }

    # Rendering

    def _title(self, data: Mapping[str, Any]) -> str:
        if data["itemType"] == "note":
            return _note_title(data.get("note", ""))
        name = self.schema.title_field(data["itemType"])
        return str(data.get(name, "")) if name else ""

    def _creator_summary(self, data: Mapping[str, Any]) -> str:
        creators = data.get("creators", [])
        primary = self.schema.primary_creator_type(data["itemType"])
        chosen = [c for c in creators if c.get("creatorType") == primary] or creators
        names = [c.get("lastName") or c.get("name") or "" for c in chosen]
        if not names:
            return ""
        if len(names) == 1:
            return names[0]
        if len(names) == 2:
            return f"{names[0]} and {names[1]}"
        return f"{names[0]} et al."

    def _fresh(self, lib: Library) -> Library:
        """Recompute every object's `library`, `links` and `meta` if anything changed."""
        if lib.dirty:
            counts = _Counts.of(lib)
            for obj in lib.items.values():
                self._refresh_object(lib, "item", obj, counts)
            for obj in lib.collections.values():
                self._refresh_object(lib, "collection", obj, counts)
            lib.dirty = False
        return lib

    def _refresh_object(
        self, lib: Library, kind: str, obj: dict[str, Any], counts: _Counts | None = None
    ) -> None:
        """Set one object's `library`, `links` and `meta` as the API shows them now."""
        counts = counts or _Counts.of(lib)
        key = obj["key"]
        data = obj["data"]
        plural = kind + "s"
        links: dict[str, Any] = {
            "self": {"href": f"{API_BASE}{lib.prefix}/{plural}/{key}", "type": _JSON},
            "alternate": {"href": f"{lib.web_url}/{plural}/{key}", "type": "text/html"},
        }
        parent = data.get("parentItem" if kind == "item" else "parentCollection")
        if parent:
            links["up"] = {"href": f"{API_BASE}{lib.prefix}/{plural}/{parent}", "type": _JSON}
        meta: dict[str, Any] = {}
        if kind == "collection":
            meta["numCollections"] = counts.subcollections.get(key, 0)
            meta["numItems"] = counts.in_collection.get(key, 0)
        else:
            regular = not parent and data["itemType"] not in ("note", "attachment", "annotation")
            if regular:
                summary = self._creator_summary(data)
                if summary:
                    meta["creatorSummary"] = summary
                date_field = self.schema.date_field(data["itemType"])
                parsed = parsed_date(str(data.get(date_field, ""))) if date_field else None
                if parsed:
                    meta["parsedDate"] = parsed
            if regular or data["itemType"] == "note":
                meta["numChildren"] = counts.children.get(key, 0)
        obj["library"] = lib.to_json()
        obj["links"] = links
        obj["meta"] = meta

    def _render_fresh(self, lib: Library, kind: str, key: str, outcome: str) -> dict[str, Any]:
        """Render one object just written (cheaply: a new object has no children yet)."""
        obj = (lib.items if kind == "item" else lib.collections)[key]
        counts = _Counts({}, {}, {}) if outcome == "created" else None
        self._refresh_object(lib, kind, obj, counts)
        return self._render(lib, obj)

    @staticmethod
    def _render(lib: Library, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Return a copy of a stored object in the API's key order."""
        return copy.deepcopy(
            {k: obj[k] for k in ("key", "version", "library", "links", "meta", "data")}
        )


@dataclass
class _Counts:
    """Children per item, items per collection, subcollections per collection."""

    children: dict[str, int]
    in_collection: dict[str, int]
    subcollections: dict[str, int]

    @classmethod
    def of(cls, lib: Library) -> _Counts:
        counts = cls({}, {}, {})
        for obj in lib.items.values():
            data = obj["data"]
            parent = data.get("parentItem")
            if parent:
                counts.children[parent] = counts.children.get(parent, 0) + 1
            if not data.get("deleted"):
                for coll in data.get("collections", []):
                    counts.in_collection[coll] = counts.in_collection.get(coll, 0) + 1
        for obj in lib.collections.values():
            parent = obj["data"].get("parentCollection")
            if parent:
                counts.subcollections[parent] = counts.subcollections.get(parent, 0) + 1
        return counts


class _ZoteroHandler(_Handler):
    def do_PUT(self) -> None:  # noqa: N802 - the name http.server dispatches to
        self.server.fake._serve(self)

    def do_PATCH(self) -> None:  # noqa: N802
        self.server.fake._serve(self)

    def do_DELETE(self) -> None:  # noqa: N802
        self.server.fake._serve(self)

    def do_HEAD(self) -> None:  # noqa: N802
        self.server.fake._serve(self)


# Helpers


def _json_response(value: Any, headers: Mapping[str, str] | None = None) -> _Response:
    body = json.dumps(value, ensure_ascii=False, indent=4).encode()
    return _Response(200, body, _JSON, dict(headers or {}))


def _json_error(raw: bytes) -> str:
    try:
        json.loads(raw)
    except UnicodeDecodeError:
        return "JSON Error: Malformed UTF-8 characters"
    except ValueError:
        return "JSON Error: Syntax error, malformed JSON"
    return "JSON Error: Syntax error, malformed JSON"


def _editable(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Trim a full response object to its `data` (Zotero_API::extractEditableJSON)."""
    data = obj.get("data")
    return dict(data) if isinstance(data, dict) else dict(obj)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and value.strip().isdigit()


def _php_int(text: str) -> int:
    """PHP's (int) cast: leading digits, else 0."""
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else 0


def _version_header(value: str, *, single: bool) -> int:
    if not value.strip().isdigit():
        if single:
            raise _HttpError(400, f"Invalid If-Unmodified-Since-Version value '{value}'")
        raise _HttpError(400, "Invalid If-Unmodified-Since-Version value")
    return int(value)


def _excerpt(text: str) -> str:
    return text[:50]


def _note_title(note: str) -> str:
    text = re.sub(r"<[^>]+>", " ", note)
    return " ".join(text.split())[:80]


def _iso(value: str) -> str:
    if _SQL_DATETIME.fullmatch(value):
        return value.replace(" ", "T") + "Z"
    return value


def _check_tags(value: Any) -> None:
    if not isinstance(value, list):
        raise _ObjectError(400, "'tags' property must be an array")
    for tag in value:
        if not isinstance(tag, dict):
            raise _ObjectError(400, "Tag must be an object")
        if not tag:
            raise _ObjectError(400, "Tag object is empty")
        for prop, v in tag.items():
            if prop == "tag":
                if not isinstance(v, str | int | float) or isinstance(v, bool):
                    raise _ObjectError(400, "Invalid tag name")
            elif prop == "type":
                if not _is_number(v):
                    raise _ObjectError(400, f"Invalid tag type '{v}'")
            else:
                raise _ObjectError(400, f"Invalid tag property '{prop}'")


def _clean_tags(tags: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    for tag in tags:
        name = str(tag.get("tag", "")).strip()
        if not name:
            continue
        kind = int(tag.get("type", 0) or 0)
        if (name, kind) in seen:
            continue
        seen.add((name, kind))
        out.append({"tag": name, "type": kind} if kind else {"tag": name})
    return out


def _clean_creator(creator: Mapping[str, Any]) -> dict[str, Any]:
    if creator.get("name") is not None:
        return {"creatorType": creator["creatorType"], "name": creator["name"].strip()}
    return {
        "creatorType": creator["creatorType"],
        "firstName": (creator.get("firstName") or "").strip(),
        "lastName": (creator.get("lastName") or "").strip(),
    }


_ITEM_URI = re.compile(
    r"http://zotero\.org/(users|groups)/[0-9]+/(publications/)?items/[A-Z0-9]{8}"
)


def _check_relations(value: Any, allowed: Sequence[str], external: Sequence[str]) -> None:
    if not isinstance(value, dict) and value != []:
        raise _ObjectError(400, "'relations' property must be an object")
    for predicate, objects in (value or {}).items():
        if predicate not in allowed:
            raise _ObjectError(400, f"Unsupported predicate '{predicate}'")
        if predicate in external:
            continue
        for uri in [objects] if isinstance(objects, str) else objects:
            if not isinstance(uri, str) or not _ITEM_URI.fullmatch(uri):
                raise _ObjectError(400, "'relations' values currently must be Zotero item URIs")
