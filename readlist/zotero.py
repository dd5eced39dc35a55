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
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import httpx

from readlist.config import ZoteroConfig
from readlist.errors import ApiError
from readlist.http import retry_after as http_retry_after
from readlist.ids import find_arxiv_ids, parse_arxiv_id
from readlist.models import ArxivId, Paper, Venue

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
_CITATION_KEY_RE = re.compile(r"^\s*Citation Key:\s*(\S+)\s*$", re.IGNORECASE | re.MULTILINE)
_EXTRA_DOI_RE = re.compile(r"^\s*DOI:\s*(\S+)\s*$", re.IGNORECASE | re.MULTILINE)
_FULL_DATE_RE = re.compile(r"\b\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])\b")
# arXiv category codes as Zotero's translator tags them: cs.CL, math-ph, hep-th, q-bio.NC.
_CATEGORY_RE = re.compile(r"[a-z]+(?:-[a-z]+)?(?:\.[A-Za-z]+(?:-[a-z]+)?)?")
_PRIMARY_RE = re.compile(r"arXiv:\S+\s+\[([^\]\s]+)\]", re.IGNORECASE)
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}

# Fields and creator types of the item types readlist writes or reads, from Zotero's schema
# (zotero/zotero-schema, version 41). Generated from shared/zotero/schema.json by
# `schema_subset` in tests/test_zotero.py, which also fails when they drift apart.
# fmt: off
ITEM_TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    "preprint": (
        "title", "abstractNote", "genre", "repository", "archiveID", "place", "date", "series",
        "seriesNumber", "DOI", "citationKey", "url", "accessDate", "archive", "archiveLocation",
        "shortTitle", "language", "libraryCatalog", "callNumber", "rights", "extra"
    ),
    "journalArticle": (
        "title", "abstractNote", "publicationTitle", "publisher", "place", "date", "volume",
        "issue", "section", "partNumber", "partTitle", "pages", "series", "seriesTitle",
        "seriesText", "journalAbbreviation", "DOI", "citationKey", "url", "accessDate", "PMID",
        "PMCID", "ISSN", "archive", "archiveLocation", "shortTitle", "language", "libraryCatalog",
        "callNumber", "rights", "extra"
    ),
    "conferencePaper": (
        "title", "abstractNote", "proceedingsTitle", "conferenceName", "publisher", "place",
        "date", "eventPlace", "volume", "issue", "numberOfVolumes", "pages", "series",
        "seriesNumber", "DOI", "ISBN", "citationKey", "url", "accessDate", "ISSN", "archive",
        "archiveLocation", "shortTitle", "language", "libraryCatalog", "callNumber", "rights",
        "extra"
    ),
}
ITEM_TYPE_CREATORS: dict[str, tuple[str, ...]] = {
    "preprint": (
        "author", "contributor", "editor", "translator", "reviewedAuthor"
    ),
    "journalArticle": (
        "author", "contributor", "editor", "translator", "reviewedAuthor"
    ),
    "conferencePaper": (
        "author", "contributor", "editor", "translator", "seriesEditor"
    ),
}
# fmt: on
# Properties every item accepts besides its type's fields (`key`... only on updates).
BASE_PROPERTIES = frozenset(
    {
        "itemType",
        "creators",
        "tags",
        "collections",
        "relations",
        "key",
        "version",
        "dateAdded",
        "dateModified",
    }
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


# --------------------------------------------------------------------------- items


def paper_to_item(
    paper: Paper,
    citekey: str,
    tags: Sequence[str],
    collection_keys: Sequence[str],
    *,
    access_date: str | None = None,
) -> dict[str, Any]:
    """Build the Zotero item Zotero's own arXiv import would make, plus tags and citation key.

    A paper whose arXiv record names a published DOI becomes a `journalArticle` (or a
    `conferencePaper` when its journal reference names proceedings) with that DOI and the
    venue read from the reference, keeping the arXiv ID in Extra and the abs URL; any other
    paper with an arXiv ID is a `preprint` (repository arXiv, archive ID, arXiv DOI). The key
    goes into the native `citationKey` field (which Better BibTeX 8+ reads); Extra carries a
    `Citation Key:` line only for an item type without that field. arXiv categories become
    automatic tags (type 1), as Zotero's translator names them (the raw code, `cs.CL`).
    """
    aid = paper.arxiv_id
    item_type, venue = _item_type(paper)
    extra: list[str] = []
    if aid is not None:
        head = f"arXiv:{aid.id}"
        # Zotero's translator names the primary category only for new-style identifiers.
        if paper.primary_category and not aid.is_old_style:
            head += f" [{paper.primary_category}]"
        extra.append(head)
    title = " ".join(paper.title.split())
    item: dict[str, Any] = {
        "itemType": item_type,
        "title": title,
        "creators": [c for c in (split_creator(name) for name in paper.authors) if c],
    }
    if paper.abstract and paper.abstract.strip():
        item["abstractNote"] = paper.abstract.strip()
    date = _paper_date(paper, venue)
    if date:
        item["date"] = date
    short = short_title(title)
    if short:
        item["shortTitle"] = short
    if item_type == "preprint" and aid is not None:
        item.update({"repository": "arXiv", "archiveID": f"arXiv:{aid.id}", "DOI": aid.doi})
    elif paper.doi:
        item["DOI"] = paper.doi
    if venue is not None:
        item["proceedingsTitle" if item_type == "conferencePaper" else "publicationTitle"] = (
            venue.name
        )
        for name, value in (("volume", venue.volume), ("issue", venue.issue)):
            if value:
                item[name] = value
        if venue.pages:
            item["pages"] = venue.pages
    if aid is not None:
        item["url"] = aid.abs_url
        item["libraryCatalog"] = "arXiv.org"
    elif paper.doi:
        item["url"] = f"https://doi.org/{paper.doi}"
    if access_date and "url" in item:
        item["accessDate"] = access_date
    key = citekey.strip()
    if key and "citationKey" in ITEM_TYPE_FIELDS.get(item_type, ()):
        item["citationKey"] = key
    elif key:
        extra.append(f"Citation Key: {key}")
    if extra:
        item["extra"] = "\n".join(extra)
    manual = _clean_tags(tags)
    automatic = [c for c in _clean_tags(paper.categories) if c not in manual]
    item["tags"] = [{"tag": tag} for tag in manual] + [{"tag": tag, "type": 1} for tag in automatic]
    item["collections"] = list(collection_keys)
    item["relations"] = {}
    return item


def paper_children(paper: Paper) -> list[dict[str, Any]]:
    """The child items Zotero's arXiv import adds: the `Comment:` note and the PDF link.

    Each lacks its `parentItem`, which the caller sets. The PDF is a linked URL (nothing is
    stored in Zotero's file storage); `--attach-pdf` uploads the file itself.
    """
    children: list[dict[str, Any]] = []
    comment = " ".join((paper.comment or "").split())
    if comment:
        children.append(
            {
                "itemType": "note",
                "note": f"Comment: {html.escape(comment, quote=False)}",
                "tags": [],
                "relations": {},
            }
        )
    if paper.arxiv_id is not None:
        children.append(
            {
                "itemType": "attachment",
                "linkMode": "linked_url",
                "title": "Preprint PDF",
                "url": pdf_url(paper.arxiv_id),
                "contentType": "application/pdf",
                "tags": [],
                "relations": {},
            }
        )
    return children


def pdf_url(aid: ArxivId, base: str = "https://arxiv.org/pdf") -> str:
    """The URL of a paper's latest PDF on arXiv (or a mirror at `base`)."""
    return f"{base.rstrip('/')}/{aid.id}"


def short_title(title: str) -> str:
    """The short title Zotero derives: the part before a subtitle (`BERT` of `BERT: Pre-...`)."""
    match = re.match(r"^(.+?)\s*[:?!]\s+\S", title)
    if match is None:
        return ""
    head = match.group(1).strip()
    return head if head and head != title else ""


def _item_type(paper: Paper) -> tuple[str, Venue | None]:
    """The item type and venue: journal/conference only when a published DOI is known."""
    from readlist.venue import is_conference, parse_journal_ref

    if paper.arxiv_id is not None and not paper.doi:
        return "preprint", None
    venue = paper.venue or parse_journal_ref(paper.journal_ref, paper.doi)
    if venue is not None:
        kind = "conferencePaper" if venue.kind == "conference" else "journalArticle"
        return kind, venue
    if is_conference(paper.journal_ref, paper.doi):
        return "conferencePaper", None
    return "journalArticle", None


_ORGANISATION_RE = re.compile(
    r"(?i)\b(?:collaboration|team|consortium|group|lab|laboratory|labs|inc|ltd|llc|corp|"
    r"corporation|institute|university|project|initiative|committee|organi[sz]ation|"
    r"foundation|council|society|association|alliance|network|centre|center)\b\.?"
)
# Name particles that belong to the family name ("van der Putten", "de la Cruz", "Ó Briain").
_LOWER_PARTICLES = frozenset(
    [
        "van",
        "von",
        "der",
        "den",
        "de",
        "del",
        "della",
        "dello",
        "dei",
        "degli",
        "da",
        "dal",
        "dalla",
        "di",
        "du",
        "dos",
        "das",
        "do",
        "la",
        "le",
        "les",
        "lo",
        "ter",
        "ten",
        "te",
        "op",
        "zu",
        "zur",
        "af",
        "av",
        "bin",
        "ibn",
        "bint",
        "al",
        "el",
        "y",
        "e",
        "d'",
        "l'",
    ]
)
_CAPITAL_PARTICLES = frozenset(
    [
        "Van",
        "Von",
        "De",
        "Del",
        "Della",
        "Da",
        "Dal",
        "Dalla",
        "Di",
        "Du",
        "Dos",
        "Das",
        "Ter",
        "Ten",
        "Ó",
        "Ní",
        "Nic",
        "Ua",
        "Mac",
        "Al",
        "El",
    ]
)


def split_creator(name: str, creator_type: str = "author") -> dict[str, str] | None:
    """Split a display name ("First Middle Last") into a Zotero creator.

    Particles join the family name, lowercase ("Vincent van Gogh", "Juan de la Cruz") or
    capitalized ("Daniel Van der Putten", "Dara Ó Briain"), which Zotero's own split at the
    last space gets wrong. A suffix goes after the first name with a comma ("Martin Luther,
    Jr."), as Zotero's documentation asks. Only organisations ("The ATLAS Collaboration",
    "OpenAI") get a single-field name; a one-word personal name is a last name.
    """
    name = " ".join(name.split())
    if not name:
        return None
    if _is_organisation(name):
        return {"creatorType": creator_type, "name": name}
    suffix = ""
    match = re.fullmatch(r"(.+?),?\s+(Jr\.?|Sr\.?|II|III|IV)", name)
    if match and " " in match.group(1):
        name, suffix = match.group(1), match.group(2)
    words = name.split(" ")
    if len(words) == 1:
        return {"creatorType": creator_type, "firstName": "", "lastName": name}
    cut = len(words) - 1
    while cut > 1 and (words[cut - 1] in _LOWER_PARTICLES or words[cut - 1] in _CAPITAL_PARTICLES):
        cut -= 1
    # A lowercase particle starts the family name even before more names ("da Silva Santos").
    cut = next((i for i in range(1, cut) if words[i] in _LOWER_PARTICLES), cut)
    first = " ".join(words[:cut])
    if suffix:
        first += f", {suffix}"
    return {"creatorType": creator_type, "firstName": first, "lastName": " ".join(words[cut:])}


def _is_organisation(name: str) -> bool:
    """Tell an organisation ("Gemini Team", "DeepSeek-AI", "OpenAI") from a person's name."""
    if _ORGANISATION_RE.search(name):
        return True
    if " " in name:
        return False
    # One word: a person's name unless it is written like a brand (OpenAI, GPT4, NVIDIA).
    letters = re.sub(r"[^A-Za-z]", "", name)
    camel = re.search(r"[a-z][A-Z]", name) is not None
    shouting = len(letters) >= 3 and letters.isupper()
    return camel or shouting or any(ch.isdigit() for ch in name)


def validate_item(item: Mapping[str, Any], schema: Mapping[str, Any] | None = None) -> list[str]:
    """List what Zotero's schema would refuse in an item (empty when it is valid).

    `schema` is Zotero's schema JSON (its `itemTypes` list); without it, the subset built
    into this module (preprint, journalArticle, conferencePaper) is used.
    """
    fields, creator_types = _schema_tables(schema)
    problems: list[str] = []
    item_type = item.get("itemType")
    if not isinstance(item_type, str) or item_type not in fields:
        return [f"unknown itemType {item_type!r}"]
    allowed = fields[item_type]
    for name, value in item.items():
        if name in BASE_PROPERTIES:
            continue
        if name not in allowed:
            problems.append(f"field {name!r} is not valid for {item_type}")
        elif not isinstance(value, str):
            problems.append(f"field {name!r} must be a string")
    creators = item.get("creators", [])
    if not isinstance(creators, list):
        problems.append("creators must be a list")
        creators = []
    for index, creator in enumerate(creators):
        if not isinstance(creator, Mapping):
            problems.append(f"creator {index} must be an object")
            continue
        ctype = creator.get("creatorType")
        if ctype not in creator_types[item_type]:
            problems.append(f"creator {index}: creatorType {ctype!r} is not valid for {item_type}")
        has_name = "name" in creator
        has_split = "firstName" in creator or "lastName" in creator
        if has_name == has_split:
            problems.append(f"creator {index}: give either name or firstName/lastName")
        extra_keys = set(creator) - {"creatorType", "name", "firstName", "lastName"}
        if extra_keys:
            problems.append(f"creator {index}: unknown properties {sorted(extra_keys)}")
        for key in ("name", "firstName", "lastName"):
            if key in creator and not isinstance(creator[key], str):
                problems.append(f"creator {index}: {key} must be a string")
    tags = item.get("tags", [])
    if not isinstance(tags, list):
        problems.append("tags must be a list")
        tags = []
    for index, tag in enumerate(tags):
        if not isinstance(tag, Mapping) or not isinstance(tag.get("tag"), str) or not tag["tag"]:
            problems.append(f"tag {index} must be an object with a non-empty 'tag'")
        elif tag.get("type", 0) not in (0, 1) or set(tag) - {"tag", "type"}:
            problems.append(f"tag {index}: only 'tag' and 'type' (0 or 1) are allowed")
    collections = item.get("collections", [])
    if not isinstance(collections, list) or not all(
        isinstance(key, str) and _OBJECT_KEY_RE.fullmatch(key) for key in collections
    ):
        problems.append("collections must be a list of collection keys")
    if not isinstance(item.get("relations", {}), Mapping):
        problems.append("relations must be an object")
    return problems


def item_to_paper(data: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> Paper:
    """Read a Zotero item's data (and `meta.parsedDate`, when given) back as a Paper.

    A journal article or conference paper keeps its venue field by field, so it is written
    to the .bib as the published entry. Manual tags (type 0) are the paper's tags; automatic
    ones (type 1) that name arXiv categories are its categories.
    """
    creators = [c for c in data.get("creators") or [] if isinstance(c, Mapping)]
    authors = [c for c in creators if c.get("creatorType") == "author"] or creators
    year, month = None, None
    parsed = (meta or {}).get("parsedDate")
    if isinstance(parsed, str):
        year, month = _parse_date(parsed)
    if year is None:
        year, month = _parse_date(str(data.get("date") or ""))
    full_date = _FULL_DATE_RE.search(str(data.get("date") or ""))
    aid = item_arxiv_id(data)
    extra = str(data.get("extra") or "")
    primary = _PRIMARY_RE.search(extra)
    tags: list[str] = []
    categories: list[str] = []
    for tag in data.get("tags") or []:
        if not isinstance(tag, Mapping) or not isinstance(tag.get("tag"), str) or not tag["tag"]:
            continue
        if tag.get("type") == 1:
            if _CATEGORY_RE.fullmatch(tag["tag"]):
                categories.append(tag["tag"])
        else:
            tags.append(tag["tag"])
    abstract = str(data.get("abstractNote") or "").strip()
    return Paper(
        title=" ".join(str(data.get("title") or "").split()) or "(untitled)",
        abstract=abstract or None,
        arxiv_id=aid,
        authors=tuple(name for name in (_display_name(c) for c in authors) if name),
        year=year,
        month=month,
        primary_category=primary.group(1) if primary and aid else None,
        doi=item_doi(data),
        journal_ref=_journal_ref(data),
        tags=tuple(tags),
        resolved=True,
        date=full_date.group(0) if full_date else None,
        categories=tuple(categories),
        venue=_item_venue(data, year),
    )


def _item_venue(data: Mapping[str, Any], year: int | None) -> Venue | None:
    """The venue of a journal article or conference paper, field by field."""
    item_type = data.get("itemType")
    if item_type == "journalArticle":
        kind, name = "journal", str(data.get("publicationTitle") or "").strip()
    elif item_type == "conferencePaper":
        kind = "conference"
        name = str(data.get("proceedingsTitle") or data.get("conferenceName") or "").strip()
    else:
        return None
    if not name:
        return None

    def text(field_name: str) -> str | None:
        return str(data.get(field_name) or "").strip() or None

    return Venue(kind, name, text("volume"), text("issue"), text("pages"), year)


def item_citation_key(data: Mapping[str, Any]) -> str | None:
    """The citation key an item carries: the `citationKey` field, else `Citation Key:` in Extra."""
    field_value = str(data.get("citationKey") or "").strip()
    if field_value:
        return field_value
    match = _CITATION_KEY_RE.search(str(data.get("extra") or ""))
    return match.group(1) if match else None


def item_arxiv_id(data: Mapping[str, Any]) -> ArxivId | None:
    """The arXiv identifier an item names in archiveID, URL, DOI or Extra (version dropped)."""
    for name in ("archiveID", "url", "DOI", "extra"):
        value = data.get(name)
        if isinstance(value, str) and value:
            found = find_arxiv_ids(value)
            if found:
                return ArxivId(found[0].id)
    return None


def item_doi(data: Mapping[str, Any]) -> str | None:
    """The item's published DOI (not arXiv's own 10.48550 DOI), from DOI or a `DOI:` line."""
    candidates = [str(data.get("DOI") or "")]
    candidates += _EXTRA_DOI_RE.findall(str(data.get("extra") or ""))
    for candidate in candidates:
        doi = _normalize_doi(candidate)
        if doi and not doi.startswith("10.48550/"):
            return doi
    return None


def item_identities(data: Mapping[str, Any]) -> set[str]:
    """Every identity an item can be matched by: `arxiv:<id>` and `doi:<doi>` strings."""
    identities: set[str] = set()
    for name in ("url", "DOI", "archiveID", "extra"):
        value = data.get(name)
        if isinstance(value, str) and value:
            identities.update(f"arxiv:{aid.id}" for aid in find_arxiv_ids(value))
    doi = item_doi(data)
    if doi:
        identities.add(f"doi:{doi.lower()}")
    return identities


def paper_identities(paper: Paper) -> list[str]:
    """The identities a paper is matched by, strongest first."""
    identities: list[str] = []
    if paper.arxiv_id is not None:
        identities.append(f"arxiv:{paper.arxiv_id.id}")
    doi = _normalize_doi(paper.doi or "")
    if doi:
        as_arxiv = parse_arxiv_id(doi)
        identities.append(f"arxiv:{as_arxiv.id}" if as_arxiv else f"doi:{doi.lower()}")
    return list(dict.fromkeys(identities))


def split_collection_path(path: str) -> list[str]:
    """Split `Reading/Multimodal` into names, each stripped; empty parts are dropped."""
    return [part.strip() for part in path.split("/") if part.strip()]


# --------------------------------------------------------------------------- library


@dataclass
class _Collection:
    key: str
    name: str
    parent: str | None
    rank: int = 0  # position in the oldest-first listing
    version: int = 0
    items: int = 0  # meta.numItems
    subcollections: int = 0  # meta.numCollections


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


@dataclass
class _Job:
    citekey: str
    paper: Paper
    tags: list[str]
    settled: bool = False
    maybe_written: bool = False  # a write of it failed in a way that may have gone through
    attempted: str = ""  # "create" or the update's description, once a write was sent


@dataclass
class _Op:
    job: _Job
    payload: dict[str, Any]
    what: str = ""  # for updates: what changes
    child: bool = False  # a note or attachment created with its parent, in the same request


@dataclass
class _Outcome:
    status: str  # "ok", "unchanged" or "failed"
    key: str | None = None
    data: dict[str, Any] | None = None
    code: int | None = None
    message: str = ""


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


class ZoteroLibrary:
    """One Zotero library (user or group) seen through the Web API, with a cached item index.

    Args:
        config: endpoint, library and key; validated before anything is sent.
        cache_dir: where the item index is kept (`zotero-<type>-<id>.json`).
        sleep: how to wait (tests pass a fake); every wait goes through it.
        on_request: called with "METHOD /path?query" before each HTTP request.
        clock: monotonic seconds, to measure what is left of a `Backoff`.
        transport: an httpx transport for the session (tests: `httpx.MockTransport`).
    """

    def __init__(
        self,
        config: ZoteroConfig,
        cache_dir: Path,
        *,
        sleep: Callable[[float], None] = time.sleep,
        on_request: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_attempts: int = MAX_ATTEMPTS,
        max_wait: float = MAX_WAIT_SECONDS,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._secret = config.api_key.strip()
        _check_settings(config)
        from pyzotero import zotero as pyzotero

        self.config = config
        self.cache_dir = Path(cache_dir)
        self.requests = 0
        self.created_collections: list[str] = []
        self._sleep = sleep
        self._timeout = timeout
        self._transport = transport
        self._on_request = on_request
        self._clock = clock
        self._now = now or partial(datetime.now, UTC)
        self._max_attempts = max(1, max_attempts)
        self._max_wait = max_wait
        self._wait_until = 0.0
        self._collections: list[_Collection] | None = None
        self._seen_version: int | None = None  # library version named by the last list read
        # The library version our collection listing (plus our own creations) is current at.
        self._collections_version: int | None = None
        self.warnings: list[str] = []  # said once each: duplicate collections, and the like
        self._index: _Index | None = None
        self._status_tags: tuple[str, str] | None = None  # (read, unread) during a sync
        self._equivalent: frozenset[str] = frozenset()  # the duplicates of the sync's path

        zot = pyzotero.Zotero(config.library_id.strip(), config.library_type, self._secret)
        zot.endpoint = config.api_url.strip().rstrip("/")
        # Our own session (same default headers) so that every request, pyzotero's included,
        # passes the hooks that count it and wait out Backoff; pyzotero's own client goes.
        zot.client.close()
        zot.client = httpx.Client(
            headers=zot.default_headers(),
            follow_redirects=True,
            timeout=timeout,
            transport=transport,
            # A loopback endpoint (tests, a local mirror) must not go through HTTP_PROXY.
            trust_env=not _is_loopback(zot.endpoint),
            event_hooks={"request": [self._before_request], "response": [self._after_response]},
        )
        # pyzotero's backoff spawns a non-daemon threading.Timer per Backoff header (which
        # keeps the process alive until it fires) and sleeps with time.sleep: disable it.
        zot._set_backoff = _ignore_backoff
        zot._check_backoff = _no_wait
        self._zot = zot
        self._prefix = f"/{zot.library_type}/{zot.library_id}"

    def __repr__(self) -> str:
        return (
            f"ZoteroLibrary({self.config.library_type} {self.config.library_id} "
            f"at {_scrub(self.config.api_url, self._secret)})"
        )

    def close(self) -> None:
        """Close the HTTP session."""
        self._zot.client.close()

    def __enter__(self) -> ZoteroLibrary:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def index_path(self) -> Path:
        """The JSON file that caches this library's item index."""
        ident = re.sub(r"[^\w.-]", "_", self.config.library_id.strip())
        return self.cache_dir / f"zotero-{self.config.library_type}-{ident}.json"

    # ----------------------------------------------------------------- collections

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

    # ----------------------------------------------------------------- index

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

    # ----------------------------------------------------------------- sync

    def sync(
        self,
        papers: Sequence[tuple[str, Paper, Sequence[str]]],
        collection_path: str,
        *,
        dry_run: bool = False,
        status_tags: tuple[str, str] | None = None,
    ) -> SyncReport:
        """File (citekey, paper, tags) triples into the collection; never a second copy.

        A paper already in the library gets the collection and the tags it lacks; a new
        one is created (batches of 50, one write token each, reused on retries). With
        `dry_run`, the same report is computed and nothing is written. `status_tags` is
        (read, unread): a paper carrying one of them loses the other in Zotero, so the
        reading status follows the .bib.
        """
        self._status_tags = status_tags
        start_requests = self.requests
        report = SyncReport(dry_run=dry_run)
        jobs: list[_Job] = []
        by_identity: dict[str, _Job] = {}
        for citekey, paper, tags in papers:
            reason = _refusal(paper)
            if reason:
                report.failed.append((paper.title, reason))
                continue
            identities = paper_identities(paper)
            twin = next((by_identity[i] for i in identities if i in by_identity), None)
            if twin is not None:
                # The same paper twice: one item, with both sets of tags.
                twin.tags += [tag for tag in _clean_tags(tags) if tag not in twin.tags]
                report.unchanged.append(citekey)
                continue
            job = _Job(citekey, paper, _clean_tags(tags))
            jobs.append(job)
            by_identity.update(dict.fromkeys(identities, job))
        if jobs:
            self._collections = None  # one fresh listing per sync: it also names the version
            first_created = len(self.created_collections)
            first_warning = len(self.warnings)
            collection = self.ensure_collection(collection_path, create=True, dry_run=dry_run)
            report.collection_key = collection
            report.collections_created = self.created_collections[first_created:]
            report.warnings = self.warnings[first_warning:]
            label = "/".join(split_collection_path(collection_path))
            # An item already in a duplicate of the collection is in the path: no write.
            # New items go to the one collection, never spread over the duplicates.
            self._equivalent = frozenset(self.collection_paths(collection_path))
            self._refresh_index()
            self._run(jobs, collection, label, report)
        report.requests = self.requests - start_requests
        return report

    def _run(
        self, jobs: list[_Job], collection: str | None, label: str, report: SyncReport
    ) -> None:
        """Write what the jobs need; on 412, re-read the library and plan the rest again."""
        rounds = 0
        pending = jobs
        while pending:
            creates, updates = self._plan(pending, collection, label, report)
            if report.dry_run:
                report.updated += [(op.job.citekey, op.payload["key"], op.what) for op in updates]
                report.created += [(op.job.citekey, None) for op in creates if not op.child]
                return
            try:
                for start in range(0, len(updates), MAX_BATCH):
                    self._write_batch(updates[start : start + MAX_BATCH], report, create=False)
                for batch in _batches(creates):
                    self._write_batch(batch, report, create=True)
            except _Precondition as problem:
                rounds += 1
                pending = [job for job in pending if not job.settled]
                if rounds >= MAX_PRECONDITION_ROUNDS:
                    reason = f"the library kept changing while writing ({problem.message})"
                    self._fail(pending, reason, report)
                    return
                self._refresh_index()
                continue
            except ZoteroError as error:
                nothing_written = not report.created and not report.updated
                if error.status in (401, 403) and nothing_written:
                    raise
                reason = f"not written after an earlier failure: {error.message}"
                self._fail([job for job in pending if not job.settled], reason, report)
                return
            pending = [job for job in pending if not job.settled]

    def _plan(
        self, pending: list[_Job], collection: str | None, label: str, report: SyncReport
    ) -> tuple[list[_Op], list[_Op]]:
        """Split the jobs into creates and updates; settle those with nothing to do."""
        creates: list[_Op] = []
        updates: list[_Op] = []
        for job in pending:
            data = self._match_data(job.paper, collection)
            if data is None:
                creates += self._create_ops(job, [collection] if collection else [])
            else:
                changes, what = _changes(
                    data,
                    collection,
                    label,
                    job.tags,
                    self._equivalent,
                    job.citekey,
                    drop=_status_drop(job.tags, self._status_tags),
                )
                created = job.attempted == "create"
                if job.maybe_written and (
                    _is_ours(data, job, collection) if created else not changes
                ):
                    # An earlier attempt whose answer was lost did go through.
                    self._settle_written(job, data, report)
                    continue
                if not changes:
                    report.unchanged.append(job.citekey)
                    job.settled = True
                    continue
                payload = {"key": data["key"], "version": data.get("version", 0), **changes}
                updates.append(_Op(job, payload, what))
        return creates, updates

    def _create_ops(self, job: _Job, collections: list[str]) -> list[_Op]:
        """The new item and its children (Comment note, PDF link), under a key chosen here.

        Choosing the item's key lets its children name it as their parent in the same
        request; `version: 0` says the key must be new.
        """
        item = paper_to_item(
            job.paper, job.citekey, job.tags, collections, access_date=self._access_date()
        )
        key = new_object_key()
        ops = [_Op(job, {"key": key, "version": 0, **item})]
        ops += [
            _Op(job, {**child, "parentItem": key}, child=True)
            for child in paper_children(job.paper)
        ]
        return ops

    def _access_date(self) -> str:
        return self._now().strftime("%Y-%m-%dT%H:%M:%SZ")

    def _settle_written(self, job: _Job, data: Mapping[str, Any], report: SyncReport) -> None:
        if job.attempted == "create":
            report.created.append((job.citekey, str(data["key"])))
        else:
            report.updated.append((job.citekey, str(data["key"]), job.attempted))
        job.settled = True

    def _write_batch(self, ops: list[_Op], report: SyncReport, *, create: bool) -> None:
        index = self._load_index()
        url = self._url("/items")
        body = [op.payload for op in ops]
        headers: dict[str, str] = {}
        if create:
            # One token per batch, reused on every retry of it: if an attempt whose answer
            # was lost did go through, the retry gets 412 "token already used", not a copy.
            headers["Zotero-Write-Token"] = secrets.token_hex(16)
        if index.built:
            headers["If-Unmodified-Since-Version"] = str(index.version)
        for op in ops:
            op.job.attempted = "create" if create else op.what

        def attempt() -> tuple[httpx.Response, dict[int, _Outcome]]:
            try:
                response = self._send("POST", "/items", headers=headers, body=body)
                return response, _parse_write_report(response, len(body))
            except _Transient as problem:
                if problem.uncertain:
                    for op in ops:
                        op.job.maybe_written = True
                raise

        try:
            response, outcomes = self._retrying(url, attempt)
        except _Precondition as problem:
            uncertain = any(op.job.maybe_written for op in ops)
            raise _Precondition(problem.message, uncertain=uncertain) from None
        except ZoteroError as error:
            for op in ops:
                if op.child:
                    continue  # its parent's failure says it all
                reason = error.message
                if op.job.maybe_written:
                    reason += " (the write may have gone through: sync again to check)"
                report.failed.append((op.job.paper.title, reason))
                op.job.settled = True
            raise
        stale = False
        for position, op in enumerate(ops):
            outcome = outcomes.get(position)
            job = op.job
            if op.child:
                if outcome is None or outcome.status == "failed":
                    what = "note" if op.payload.get("itemType") == "note" else "PDF link"
                    reason = outcome.message if outcome is not None else "no report"
                    reason = _scrub(reason, self._secret)
                    report.warnings.append(f"{job.citekey}: its {what} was not written ({reason})")
                continue
            if outcome is None:
                reason = "the server did not report on this item; it may not have been written"
                report.failed.append((job.paper.title, reason))
            elif outcome.status == "failed":
                if outcome.code == 412:
                    stale = True  # this item changed under us: re-read it and try again
                    continue
                code = f" (HTTP {outcome.code})" if outcome.code else ""
                reason = _scrub(outcome.message or "refused", self._secret) + code
                report.failed.append((job.paper.title, reason))
            elif create and outcome.status == "ok":
                if not outcome.key:
                    report.failed.append((job.paper.title, "the write report names no item key"))
                else:
                    report.created.append((job.citekey, outcome.key))
                    self._remember_written(index, op, outcome, response)
            elif create:
                report.unchanged.append(job.citekey)
            elif outcome.status == "ok":
                report.updated.append((job.citekey, op.payload["key"], op.what))
                self._remember_written(index, op, outcome, response)
            else:
                report.unchanged.append(job.citekey)
            job.settled = True
        new_version = _header_int(response, "Last-Modified-Version")
        # The write was conditional on the index's version, so nothing else happened in
        # between: the index is current as of the version this write produced.
        if "If-Unmodified-Since-Version" in headers and new_version is not None and not stale:
            index.version = new_version
        self._seen_version = None
        self._save_index()
        if stale:
            raise _Precondition("an item changed since it was read")

    def _remember_written(
        self, index: _Index, op: _Op, outcome: _Outcome, response: httpx.Response
    ) -> None:
        data = dict(outcome.data) if outcome.data else {}
        if not data.get("itemType"):
            base = dict(index.items.get(op.payload.get("key", ""), {}))
            data = {**base, **op.payload, **data}
        data["key"] = outcome.key or op.payload.get("key")
        if not isinstance(data.get("version"), int):
            data["version"] = _header_int(response, "Last-Modified-Version") or 0
        index.put(data)

    def _fail(self, jobs: list[_Job], reason: str, report: SyncReport) -> None:
        for job in jobs:
            if not job.settled:
                note = " (the write may have gone through: sync again to check)"
                report.failed.append(
                    (job.paper.title, reason + (note if job.maybe_written else ""))
                )
                job.settled = True

    # ----------------------------------------------------------------- pull

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

    # ----------------------------------------------------------------- upgrade

    def upgrade_items(
        self, upgrades: Sequence[tuple[Mapping[str, Any], str, Venue]]
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """Turn preprint items into their published versions, in place.

        Each (item data, published DOI, venue) becomes a `journalArticle`/`conferencePaper`
        with that DOI and venue; its key, citation key, tags, collections, Extra (the arXiv
        ID) and URL stay. Every write names the version the item was read at, so an item
        changed since is refused (412), reported, and left alone. Returns the keys upgraded
        and (key, reason) for the others.
        """
        done: list[str] = []
        failed: list[tuple[str, str]] = []
        bodies = [_upgrade_payload(data, doi, venue) for data, doi, venue in upgrades]
        url = self._url("/items")
        for start in range(0, len(bodies), MAX_BATCH):
            chunk = bodies[start : start + MAX_BATCH]
            try:
                response = self._retrying(url, partial(self._send, "POST", "/items", body=chunk))
            except _Precondition as problem:
                failed += [(body["key"], problem.message) for body in chunk]
                continue
            except ZoteroError as error:
                failed += [(body["key"], error.message) for body in chunk]
                continue
            outcomes = _parse_write_report(response, len(chunk))
            for position, body in enumerate(chunk):
                outcome = outcomes.get(position)
                if outcome is None:
                    failed.append((body["key"], "the server did not report on it"))
                elif outcome.status == "failed":
                    reason = _scrub(outcome.message, self._secret)
                    if outcome.code == 412:
                        reason = f"changed in Zotero since it was read ({reason}); run again"
                    failed.append((body["key"], reason))
                else:
                    done.append(body["key"])
        self._seen_version = None
        return done, failed

    # ----------------------------------------------------------------- files

    def attach_pdf(self, parent_key: str, aid: ArxivId, content: bytes, *, url: str) -> str:
        """Store a PDF under an item in Zotero File Storage; return the attachment's key.

        The Web API's upload protocol: create the attachment item (`imported_url`, as Zotero
        saves a downloaded PDF), ask for an upload authorization (`If-None-Match: *`, md5,
        size, mtime), send the bytes to the URL it names (without the API key), register the
        upload. A file the library already stores is not sent again (`exists`). A full
        storage quota (413) is a ZoteroError that says so.
        """
        if not content.startswith(b"%PDF"):
            raise self._error(url, "not a PDF file")
        filename = f"{aid.id.replace('/', '_')}.pdf"
        item = {
            "itemType": "attachment",
            "parentItem": parent_key,
            "linkMode": "imported_url",
            "title": "Preprint PDF",
            "url": url,
            "accessDate": self._access_date(),
            "contentType": "application/pdf",
            "filename": filename,
            "tags": [],
            "relations": {},
        }
        key, version = self._create_one(
            item,
            f"PDF attachment of {parent_key}",
            recover=partial(self._find_new_attachment, parent_key, filename),
        )
        try:
            self._upload_file(key, filename, content)
        except (ZoteroError, _Precondition, _Transient) as problem:
            # No empty attachment left behind: Zotero would show it as a missing file.
            with contextlib.suppress(ZoteroError, _Precondition, _Transient):
                self._send(
                    "DELETE",
                    f"/items/{key}",
                    headers={"If-Unmodified-Since-Version": str(version)},
                )
            if isinstance(problem, ZoteroError):
                raise
            message = problem.message if isinstance(problem, _Precondition) else problem.reason
            raise self._error(self._url(f"/items/{key}/file"), message, 412) from None
        self._seen_version = None
        return key

    def _upload_file(self, key: str, filename: str, content: bytes) -> None:
        """Authorize, send and register one new file for the attachment item `key`."""
        file_path = f"/items/{key}/file"
        file_url = self._url(file_path)
        md5 = hashlib.md5(content).hexdigest()
        mtime = str(int(self._now().timestamp() * 1000))
        fields = {"md5": md5, "filename": filename, "filesize": str(len(content)), "mtime": mtime}
        new_file = {"If-None-Match": "*"}
        response = self._retrying(
            file_url,
            lambda: self._send("POST", file_path, headers=new_file, form=fields, expect_json=True),
        )
        answer = response.json()
        if not isinstance(answer, dict):
            raise self._error(file_url, "malformed upload authorization")
        if answer.get("exists"):
            return
        upload_key = answer.get("uploadKey")
        if not all(isinstance(answer.get(n), str) for n in ("url", "prefix", "suffix")) or not (
            isinstance(upload_key, str) and upload_key
        ):
            raise self._error(file_url, "malformed upload authorization")
        body = answer["prefix"].encode("utf-8") + content + answer["suffix"].encode("utf-8")
        self._upload(answer["url"], body, str(answer.get("contentType") or ""))
        try:
            self._retrying(
                file_url,
                lambda: self._send(
                    "POST", file_path, headers=new_file, form={"upload": upload_key}
                ),
            )
        except _Precondition:
            # "If-None-Match: * set but file exists": an attempt whose answer was lost did
            # register it. Anything else (another file) is a real conflict.
            if self._stored_md5(key) != md5:
                raise

    def _stored_md5(self, key: str) -> str | None:
        """The md5 of the file an attachment item has in storage, if any."""
        path = f"/items/{key}"
        response = self._retrying(
            self._url(path), lambda: self._send("GET", path, expect_json=True)
        )
        body = response.json()
        data = body.get("data", body) if isinstance(body, dict) else {}
        md5 = data.get("md5") if isinstance(data, dict) else None
        return md5 if isinstance(md5, str) else None

    def _find_new_attachment(self, parent_key: str, filename: str) -> tuple[str, int] | None:
        """The file attachment without a file yet that we made under `parent_key`, if any."""
        path = f"/items/{parent_key}/children"
        response = self._retrying(
            self._url(path), lambda: self._send("GET", path, expect_json=True)
        )
        for obj in response.json() if isinstance(response.json(), list) else []:
            data = obj.get("data", obj) if isinstance(obj, dict) else {}
            if (
                data.get("itemType") == "attachment"
                and data.get("linkMode") == "imported_url"
                and data.get("filename") == filename
                and not data.get("md5")
                and isinstance(data.get("key"), str)
            ):
                return data["key"], _as_int(data.get("version"))
        return None

    def _create_one(
        self,
        item: dict[str, Any],
        label: str,
        *,
        recover: Callable[[], tuple[str, int] | None] | None = None,
    ) -> tuple[str, int]:
        """Create one object (one write token, reused on retries); return key and version.

        When an attempt whose answer was lost did go through, the retry gets 412 "write
        token already used": `recover` then finds the object that attempt made.
        """
        url = self._url("/items")
        headers = {"Zotero-Write-Token": secrets.token_hex(16)}

        def attempt() -> tuple[str, int]:
            response = self._send("POST", "/items", headers=headers, body=[item])
            outcome = _parse_write_report(response, 1).get(0)
            if outcome is None or outcome.status == "failed" or not outcome.key:
                reason = outcome.message if outcome is not None else "no report"
                raise self._error(url, f"could not create the {label}: {reason}", None)
            version = _header_int(response, "Last-Modified-Version") or 0
            return outcome.key, version

        try:
            return self._retrying(url, attempt)
        except _Precondition as problem:
            found = recover() if recover is not None else None
            if found is not None:
                return found
            raise self._error(
                url, f"could not create the {label}: {problem.message}", 412
            ) from None

    def _upload(self, target: str, body: bytes, content_type: str) -> None:
        """Send the file to the storage URL Zotero named: a plain session, no API key."""
        if urlsplit(target).scheme not in ("http", "https"):
            raise self._error(target, "the upload URL is not http(s)")
        with httpx.Client(
            timeout=self._timeout,
            transport=self._transport,
            trust_env=not _is_loopback(target),
            event_hooks={"request": [self._before_request], "response": [self._after_response]},
        ) as client:

            def attempt() -> None:
                try:
                    response = client.post(
                        target, content=body, headers={"Content-Type": content_type}
                    )
                except httpx.TransportError as exc:
                    raise _Transient(f"upload failed ({type(exc).__name__})") from None
                if response.status_code in (429, 503) or response.status_code >= 500:
                    raise _Transient(f"upload failed (HTTP {response.status_code})")
                if response.status_code != 201:
                    detail = _snippet(response, self._secret) or response.reason_phrase
                    raise self._error(_scrub(target, self._secret), f"upload refused: {detail}")

            self._retrying(_scrub(target, self._secret), attempt)

    # ----------------------------------------------------------------- doctor

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

    # ----------------------------------------------------------------- HTTP

    def _url(self, path: str) -> str:
        return _scrub(f"{self._zot.endpoint}{self._prefix}{path}", self._secret)

    def _error(self, url: str, message: str, status: int | None = None) -> ZoteroError:
        return ZoteroError(_scrub(url, self._secret), _scrub(message, self._secret), status)

    def _before_request(self, request: httpx.Request) -> None:
        remaining = self._wait_until - self._clock()
        if remaining > self._max_wait:
            raise self._error(
                str(request.url.copy_with(query=None)),
                f"Zotero asked clients to wait {remaining:.0f} s, more than the "
                f"{self._max_wait:.0f} s limit; try again later",
            )
        if remaining > 0:
            self._sleep(remaining)
        self._wait_until = 0.0
        self.requests += 1
        if self._on_request is not None:
            target = request.url.raw_path.decode("ascii", "replace")
            self._on_request(_scrub(f"{request.method} {target}", self._secret))

    def _after_response(self, response: httpx.Response) -> None:
        # "Backoff" may come on any response, even a 200: the next request waits it out.
        seconds = _seconds(response.headers.get("Backoff"))
        if seconds:
            self._defer(seconds)

    def _defer(self, seconds: float) -> None:
        self._wait_until = max(self._wait_until, self._clock() + seconds)

    def _retrying(self, url: str, attempt: Callable[[], T]) -> T:
        """Run one request until it succeeds, retrying transient failures with backoff."""
        failures = 0
        while True:
            try:
                return attempt()
            except _Transient as problem:
                failures += 1
                if failures >= self._max_attempts:
                    raise self._error(
                        url, f"{problem.reason}; gave up after {failures} attempts", problem.status
                    ) from None
                wait = BACKOFF_BASE_SECONDS * 2 ** (failures - 1)
                if problem.retry_after is not None:
                    wait = max(wait, problem.retry_after)
                if wait > self._max_wait:
                    raise self._error(
                        url,
                        f"{problem.reason}; Zotero asked to wait {wait:.0f} s, more than the "
                        f"{self._max_wait:.0f} s limit; try again later",
                        problem.status,
                    ) from None
                self._defer(wait)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        form: Mapping[str, str] | None = None,
        expect_json: bool = False,
    ) -> httpx.Response:
        """Send one request through pyzotero's session, turning failures into our classes."""
        url = f"{self._zot.endpoint}{self._prefix}{path}"
        extra = dict(headers or {})
        content = None
        if body is not None:
            extra["Content-Type"] = "application/json"
            content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        elif form is not None:
            extra["Content-Type"] = "application/x-www-form-urlencoded"
            content = urlencode(form).encode("ascii")
        try:
            response = self._zot.client.request(
                method, url, params=params, headers=extra, content=content
            )
        except httpx.TimeoutException as exc:
            raise _Transient(
                "the request timed out", uncertain=not isinstance(exc, httpx.ConnectTimeout)
            ) from None
        except httpx.TransportError as exc:
            raise _Transient(
                f"could not reach the Zotero API ({type(exc).__name__})",
                uncertain=not isinstance(exc, httpx.ConnectError),
            ) from None
        self._check_status(response)
        if expect_json and response.status_code != 304:
            try:
                response.json()
            except ValueError:
                raise _Transient("the answer was not JSON") from None
        return response

    def _check_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status < 300 or status == 304:
            return
        url = _scrub(str(response.request.url.copy_with(query=None)), self._secret)
        retry_after = http_retry_after(response.headers)
        if status in (401, 403):
            raise self._error(url, AUTH_MESSAGE, status)
        if status == 412 and response.request.method != "GET":
            raise _Precondition(_snippet(response, self._secret) or "precondition failed")
        if status == 409:
            raise _Transient("the library is locked (HTTP 409)", 409, retry_after=retry_after)
        if status == 429:
            raise _Transient("rate limited (HTTP 429)", 429, retry_after=retry_after)
        if status >= 500:
            # 503 means "not now" before anything happened; other 5xx may hide a done write.
            raise _Transient(
                f"server error (HTTP {status})",
                status,
                retry_after=retry_after,
                uncertain=status != 503,
            )
        if status == 404:
            raise self._error(url, _NOT_FOUND_MESSAGE, 404)
        if status == 413:
            quota = response.headers.get("Zotero-Storage-Quota", "").strip()
            detail = _snippet(response, self._secret) or "request too large"
            if quota:
                detail += f"; the library's storage quota is {quota} MB"
            raise self._error(url, f"Zotero file storage is full: {detail}", 413)
        detail = _snippet(response, self._secret) or response.reason_phrase
        raise self._error(url, detail, status)

    def _read(
        self, url: str, call: Callable[[], Any], *, expect: type = list
    ) -> tuple[Any, httpx.Response]:
        """Run one pyzotero read, checking the status it may have swallowed; retry failures."""
        from pyzotero import zotero_errors as ze

        zot = self._zot
        # What pyzotero lets escape on a bad answer: its own errors, httpx's, and whatever
        # its parsing trips over (JSONDecodeError, a missing Content-Type's KeyError...).
        failures = (ze.PyZoteroError, httpx.HTTPError, ValueError, KeyError, TypeError)

        def attempt() -> tuple[Any, httpx.Response]:
            zot.request = None
            try:
                data = call()
            except failures as exc:
                raise self._translate(exc, zot.request) from None
            response = zot.request
            if not isinstance(response, httpx.Response):
                raise _Transient("no answer")
            # pyzotero returns the body of a 429 as data: the status decides, not the data.
            self._check_status(response)
            if not isinstance(data, expect):
                raise _Transient(f"malformed answer (expected a JSON {expect.__name__})")
            return data, response

        return self._retrying(_scrub(url, self._secret), attempt)

    def _read_all(
        self, path: str, fetch: Callable[[int], Any]
    ) -> tuple[list[dict[str, Any]], httpx.Response]:
        """Read every page of a listing (`limit=100`, following `Link: rel=next`)."""
        url = f"{self._zot.endpoint}{path}"
        objects: list[dict[str, Any]] = []
        first: httpx.Response | None = None
        start = 0
        while True:
            page, response = self._read(url, partial(fetch, start))
            first = first or response
            objects += [obj for obj in page if isinstance(obj, dict)]
            start += len(page)
            total = _header_int(response, "Total-Results")
            more = "next" in response.links or (total is not None and start < total)
            if not page or not more:
                return objects, first

    def _translate(self, exc: Exception, response: object) -> Exception:
        """Turn what a pyzotero call raised into ZoteroError, _Transient or _Precondition."""
        from pyzotero import zotero_errors as ze

        if isinstance(exc, httpx.TimeoutException):
            return _Transient("the request timed out")
        if isinstance(exc, httpx.TransportError):
            return _Transient(f"could not reach the Zotero API ({type(exc).__name__})")
        if isinstance(response, httpx.Response) and response.status_code >= 300:
            try:
                self._check_status(response)
            except (ZoteroError, _Transient, _Precondition) as problem:
                return problem
        url = self._url("")
        if isinstance(exc, ze.UserNotAuthorisedError):
            return self._error(url, AUTH_MESSAGE, 403)
        if isinstance(exc, ze.PreConditionFailedError):
            return _Precondition("the library changed")
        if isinstance(exc, ze.ConflictError):
            return _Transient("the library is locked (HTTP 409)", 409)
        if isinstance(exc, (ze.TooManyRetriesError, ze.TooManyRequestsError)):
            return _Transient("rate limited (HTTP 429)", 429)
        if isinstance(exc, ze.ResourceNotFoundError):
            return self._error(url, _NOT_FOUND_MESSAGE, 404)
        if isinstance(exc, ze.PyZoteroError):
            return self._error(url, f"{type(exc).__name__}: {exc}")
        return _Transient(f"malformed answer ({type(exc).__name__})")


# --------------------------------------------------------------------------- helpers


def _check_settings(config: ZoteroConfig) -> None:
    url = _scrub(config.api_url.strip() or "https://api.zotero.org", config.api_key.strip())
    if not config.library_id.strip():
        raise ZoteroError(
            url,
            "no Zotero library configured: set [zotero] library_id (your numeric user ID "
            "from zotero.org/settings/keys, or a group ID)",
        )
    if not config.library_id.strip().isdigit():
        raise ZoteroError(
            url,
            f"[zotero] library_id must be the numeric user or group ID, got "
            f"{config.library_id.strip()!r}",
        )
    if not config.api_key.strip():
        raise ZoteroError(
            url,
            "no Zotero API key: set the ZOTERO_API_KEY environment variable (preferred) or "
            "[zotero] api_key",
        )
    if config.library_type not in ("user", "group"):
        raise ZoteroError(
            url, f"[zotero] library_type must be user or group, got {config.library_type!r}"
        )
    if urlsplit(config.api_url.strip()).scheme not in ("http", "https"):
        raise ZoteroError(url, "[zotero] api_url must be an http(s) URL")


def check_settings(config: ZoteroConfig) -> None:
    """Raise `ConfigError` when the Zotero settings cannot work, before any request."""
    from readlist.errors import ConfigError

    try:
        _check_settings(config)
    except ZoteroError as exc:
        raise ConfigError(None, None, exc.message) from None


def _ignore_backoff(duration: object) -> None:
    """Stand in for pyzotero's timer-thread backoff; our response hook reads the headers."""


def _no_wait() -> None:
    """Stand in for pyzotero's time.sleep backoff; our request hook does the waiting."""


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def _scrub(text: str, secret: str) -> str:
    """Remove an API key, and anything that looks like one, from text bound for users."""
    if secret:
        text = text.replace(secret, "<redacted>")
    text = re.sub(r"(?i)\b(key=)[^&\s\"'<>]+", r"\1<redacted>", text)
    text = re.sub(r"(?i)\b(bearer\s+)[^\s\"'<>]+", r"\1<redacted>", text)
    text = re.sub(r"(?i)\b(zotero-api-key:\s*)[^\s\"'<>]+", r"\1<redacted>", text)
    return re.sub(r"(?i)(https?://)[^/@\s]+@", r"\1", text)


def _snippet(response: httpx.Response, secret: str, limit: int = 200) -> str:
    try:
        text = " ".join(response.text.split())
    except (UnicodeDecodeError, LookupError):
        return ""
    return _scrub(text[:limit], secret)


def _seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _header_int(response: httpx.Response | None, name: str) -> int | None:
    if response is None:
        return None
    value = response.headers.get(name, "").strip()
    return int(value) if value.isdigit() else None


def _parse_write_report(response: httpx.Response, count: int) -> dict[int, _Outcome]:
    """Read a multi-object write report; anything but a well-formed one is a failure."""
    try:
        body = response.json()
    except ValueError:
        raise _Transient("the write report was not JSON", uncertain=True) from None
    sections = ("successful", "success", "unchanged", "failed")
    if not isinstance(body, dict) or not any(name in body for name in sections):
        raise _Transient("the write report was malformed", uncertain=True)
    outcomes: dict[int, _Outcome] = {}
    for name in ("unchanged", "success", "successful", "failed"):  # later ones win
        section = body.get(name) or {}
        if not isinstance(section, dict):
            raise _Transient(f"the write report's {name!r} was malformed", uncertain=True)
        for position, value in section.items():
            if not str(position).isdigit() or int(position) >= count:
                continue
            index = int(position)
            if name == "failed":
                value = value if isinstance(value, dict) else {}
                code = value.get("code")
                outcomes[index] = _Outcome(
                    "failed",
                    key=value.get("key") if isinstance(value.get("key"), str) else None,
                    code=code if isinstance(code, int) else None,
                    message=str(value.get("message") or "refused"),
                )
            elif name == "successful" and isinstance(value, dict):
                data: dict[str, Any] = value.get("data") or value
                if not isinstance(data, dict):
                    data = value
                key = value.get("key") or data.get("key")
                outcomes[index] = _Outcome(
                    "ok", key=key if isinstance(key, str) else None, data=dict(data)
                )
            elif name in ("successful", "success"):
                if index not in outcomes or outcomes[index].status != "ok":
                    key = value if isinstance(value, str) else None
                    outcomes[index] = _Outcome("ok", key=key)
            else:
                outcomes[index] = _Outcome(
                    "unchanged", key=value if isinstance(value, str) else None
                )
    return outcomes


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


def new_object_key() -> str:
    """A random Zotero object key (8 characters of Zotero's alphabet), chosen by the client."""
    return "".join(secrets.choice(_KEY_ALPHABET) for _ in range(8))


def _batches(ops: list[_Op]) -> Iterator[list[_Op]]:
    """Cut create operations into requests of at most 50 objects, never splitting an item
    from its children (a child must follow its parent in the same request)."""
    batch: list[_Op] = []
    for position, op in enumerate(ops):
        if not op.child:
            group = 1
            while position + group < len(ops) and ops[position + group].child:
                group += 1
            if batch and len(batch) + group > MAX_BATCH:
                yield batch
                batch = []
        batch.append(op)
    if batch:
        yield batch


def _as_int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


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


def _zotero_item(data: Mapping[str, Any]) -> ZoteroItem:
    return ZoteroItem(
        key=str(data["key"]),
        version=int(data.get("version") or 0),
        item_type=str(data.get("itemType") or ""),
        title=str(data.get("title") or ""),
        collections=tuple(data.get("collections") or ()),
        tags=tuple(_tag_names(data.get("tags"))),
    )


def _tag_names(tags: Any) -> Iterator[str]:
    for tag in tags or []:
        if isinstance(tag, Mapping) and isinstance(tag.get("tag"), str):
            yield tag["tag"]


def _status_drop(tags: Sequence[str], status_tags: tuple[str, str] | None) -> frozenset[str]:
    """The status tag a paper must lose: `unread` when it is read, `read` when unread."""
    if not status_tags:
        return frozenset()
    read, unread = status_tags
    folded = {t.casefold() for t in tags}
    if read.casefold() in folded:
        return frozenset({unread.casefold()})
    if unread.casefold() in folded:
        return frozenset({read.casefold()})
    return frozenset()


def _changes(
    data: Mapping[str, Any],
    collection: str | None,
    label: str,
    tags: Sequence[str],
    equivalent: frozenset[str] = frozenset(),
    citekey: str = "",
    drop: frozenset[str] = frozenset(),
) -> tuple[dict[str, Any], str]:
    """What an existing item lacks: the collection and tags, as full new lists (PATCH rules).

    `label` is the collection path; with no `collection` key (a dry run that would create
    the collection), the item is reported as joining it all the same. An item in one of the
    `equivalent` collections (duplicates of the path) is already in it. An item whose
    Extra names this very key as `Citation Key:` (how readlist wrote keys before; Better
    BibTeX 8+ no longer reads it) has it moved into the `citationKey` field. Items made
    elsewhere keep their keys, or their lack of one: never two disagreeing keys. Tags in
    `drop` (folded) are removed: the reading-status tag the .bib no longer has.
    """
    changes: dict[str, Any] = {}
    what: list[str] = []
    collections = [c for c in data.get("collections") or [] if isinstance(c, str)]
    inside = collection is not None and (
        collection in collections or not equivalent.isdisjoint(collections)
    )
    if label and not inside:
        if collection is not None:
            changes["collections"] = [*collections, collection]
        what.append(f"added to {label}")
    existing = [dict(t) for t in data.get("tags") or [] if isinstance(t, Mapping)]
    gone = [t for t in existing if str(t.get("tag", "")).casefold() in drop]
    kept = [t for t in existing if t not in gone]
    have = set(_tag_names(kept))
    missing = [tag for tag in tags if tag not in have]
    if missing or gone:
        changes["tags"] = kept + [{"tag": tag} for tag in missing]
        what.append(
            "tags "
            + ", ".join([*(f"+{tag}" for tag in missing), *(f"-{t.get('tag')}" for t in gone)])
        )
    key_change = _citation_key_change(data, citekey.strip())
    if key_change:
        changes.update(key_change)
        what.append(f"citation key {citekey.strip()} in its field")
    if what and not changes:
        changes["collections"] = collections  # dry run: the collection does not exist yet
    return changes, "; ".join(what)


def _citation_key_change(data: Mapping[str, Any], citekey: str) -> dict[str, str]:
    """Move readlist's old `Citation Key:` line into `citationKey`; {} when nothing changes."""
    item_type = str(data.get("itemType") or "")
    if not citekey or "citationKey" not in ITEM_TYPE_FIELDS.get(item_type, ()):
        return {}
    if str(data.get("citationKey") or "").strip():
        return {}
    extra = str(data.get("extra") or "")
    found = _CITATION_KEY_RE.search(extra)
    if found is None or found.group(1) != citekey:
        return {}  # no key, or the item's own key from another tool: left as it is
    lines = [line for line in extra.splitlines() if not _CITATION_KEY_RE.fullmatch(line)]
    return {"citationKey": citekey, "extra": "\n".join(lines)}


def _upgrade_payload(data: Mapping[str, Any], doi: str, venue: Venue) -> dict[str, Any]:
    """The partial write that makes a preprint item its published version."""
    item_type = "conferencePaper" if venue.kind == "conference" else "journalArticle"
    payload: dict[str, Any] = {
        "key": data["key"],
        "version": _as_int(data.get("version")),
        "itemType": item_type,
        "DOI": doi,
        # What the preprint's repository would become as the publisher: cleared.
        "publisher": "",
    }
    payload["proceedingsTitle" if item_type == "conferencePaper" else "publicationTitle"] = (
        venue.name
    )
    for name, value in (("volume", venue.volume), ("issue", venue.issue), ("pages", venue.pages)):
        if value:
            payload[name] = value
    if venue.year is not None:
        payload["date"] = str(venue.year)
    return payload


def _is_ours(data: Mapping[str, Any], job: _Job, collection: str | None) -> bool:
    """Tell whether an item is the one our lost-answer create made (citekey, collection)."""
    if collection is not None and collection not in (data.get("collections") or []):
        return False
    return not job.citekey or item_citation_key(data) == job.citekey


def _refusal(paper: Paper) -> str | None:
    if not paper.resolved:
        return "not resolved: its arXiv metadata was never verified (run `readlist resolve`)"
    if paper.arxiv_id is None and not paper.doi:
        return "no arXiv ID or DOI to identify it by"
    return None


def _clean_tags(tags: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(tag.strip() for tag in tags if tag and tag.strip()))


def _paper_date(paper: Paper, venue: Venue | None = None) -> str:
    """The item's date: the venue's year when it differs from arXiv's, else the full date."""
    year, month = paper.year, paper.month
    if year is None and paper.arxiv_id is not None and paper.arxiv_id.year_month:
        year, month = paper.arxiv_id.year_month
    if venue is not None and venue.year is not None and venue.year != year:
        return f"{venue.year:04d}"
    if paper.date and (year is None or paper.date.startswith(f"{year:04d}-")):
        return paper.date
    if year is None:
        return ""
    return f"{year:04d}-{month:02d}" if month else f"{year:04d}"


def _parse_date(text: str) -> tuple[int | None, int | None]:
    """Year and month from the dates Zotero holds: ISO, `MM/YYYY`, `March 2020`, `2020`."""
    iso = re.search(r"\b(\d{4})-(\d{1,2})(?:-\d{1,2})?\b", text)
    if iso and 1 <= int(iso.group(2)) <= 12:
        return int(iso.group(1)), int(iso.group(2))
    slashed = re.search(r"\b(\d{1,2})/(\d{4})\b", text)
    if slashed and 1 <= int(slashed.group(1)) <= 12:
        return int(slashed.group(2)), int(slashed.group(1))
    year = re.search(r"\b(1[5-9]\d{2}|2\d{3})\b", text)
    if year is None:
        return None, None
    month = None
    for word in re.findall(r"[A-Za-z]+", text):
        if word.lower() in _MONTHS:
            month = _MONTHS[word.lower()]
            break
    return int(year.group(1)), month


def _display_name(creator: Mapping[str, Any]) -> str:
    name = str(creator.get("name") or "").strip()
    if name:
        return name
    first = str(creator.get("firstName") or "").strip()
    last = str(creator.get("lastName") or "").strip()
    suffix = ""
    if ", " in first:
        first, suffix = (part.strip() for part in first.split(", ", 1))
    return " ".join(part for part in (first, last, suffix) if part)


def _journal_ref(data: Mapping[str, Any]) -> str | None:
    venue = str(
        data.get("publicationTitle")
        or data.get("proceedingsTitle")
        or data.get("conferenceName")
        or ""
    ).strip()
    if not venue:
        return None
    volume = str(data.get("volume") or "").strip()
    issue = str(data.get("issue") or "").strip()
    pages = str(data.get("pages") or "").strip()
    ref = venue
    if volume:
        ref += f" {volume}" + (f"({issue})" if issue else "")
    if pages:
        ref += f", {pages}"
    return ref


def _normalize_doi(text: str) -> str:
    doi = text.strip()
    doi = re.sub(r"(?i)^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", "", doi)
    return doi if doi.startswith("10.") else ""


def _schema_tables(
    schema: Mapping[str, Any] | None,
) -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    if schema is None:
        fields = {name: frozenset(values) for name, values in ITEM_TYPE_FIELDS.items()}
        creators = {name: frozenset(values) for name, values in ITEM_TYPE_CREATORS.items()}
        return fields, creators
    fields, creators = {}, {}
    for entry in schema.get("itemTypes", []):
        name = entry.get("itemType")
        fields[name] = frozenset(f["field"] for f in entry.get("fields", []))
        creators[name] = frozenset(c["creatorType"] for c in entry.get("creatorTypes", []))
    return fields, creators
