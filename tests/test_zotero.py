"""The Zotero adapter: item shape, schema, collections, idempotent sync, pyzotero's weak spots.

`FakeZotero` is a small in-process Web API v3 (library versions, write tokens, 412, per-object
`failed`, `since=`, 304) behind `httpx.MockTransport`; one test runs it behind a loopback
HTTP server instead, through the session pyzotero itself would use. A fake clock stands in
for time, so every wait is visible and nothing waits.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from readlist.config import ZoteroConfig
from readlist.models import ArxivId, Paper
from readlist.zotero import (
    AUTH_MESSAGE,
    ITEM_TYPE_CREATORS,
    ITEM_TYPE_FIELDS,
    MAX_COLLECTION_ROUNDS,
    MAX_PRECONDITION_ROUNDS,
    ZoteroError,
    ZoteroLibrary,
    item_citation_key,
    item_identities,
    item_to_paper,
    paper_children,
    paper_to_item,
    short_title,
    split_creator,
    validate_item,
)

KEY = "P9NiFoyLeZu2bZNvvuQPDWsd"
LIBRARY = "475425"
API = "https://api.zotero.org"
PREFIX = f"/users/{LIBRARY}"
_KEY_ALPHABET = "23456789ABCDEFGHIJKLMNPQRSTUVWXYZ"


# --------------------------------------------------------------------------- the fake API


def object_key(number: int) -> str:
    digits = []
    for _ in range(8):
        number, rest = divmod(number, len(_KEY_ALPHABET))
        digits.append(_KEY_ALPHABET[rest])
    return "".join(reversed(digits))


def text(status: int, body: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, text=body, headers={"Content-Type": "text/plain", **headers})


@dataclass
class Fault:
    """A reply the fake gives instead of (or, with `apply`, after doing) the real work."""

    method: str
    path: str  # matched as a suffix of the path after the library prefix
    reply: Callable[[httpx.Request], httpx.Response]
    apply: bool = False  # carry the request out, then lose the answer
    times: int = 1


class FakeZotero:
    """Just enough of the Zotero Web API v3 for one user library."""

    def __init__(self) -> None:
        self.version = 10
        self.items: dict[str, dict[str, Any]] = {}
        self.collections: dict[str, dict[str, Any]] = {}
        self.deleted: dict[str, int] = {}
        self.tokens: set[str] = set()
        self.requests: list[httpx.Request] = []
        self.faults: list[Fault] = []
        self.refuse_titles: dict[str, tuple[int, str]] = {}
        self.before_write: Callable[[], None] | None = None
        self.extra_headers: dict[str, str] = {}
        self._counter = 1000

    # -- state helpers used by tests

    def new_key(self) -> str:
        self._counter += 1
        return object_key(self._counter)

    def add_collection(self, name: str, parent: str | None = None) -> str:
        self.version += 1
        key = self.new_key()
        self.collections[key] = {
            "key": key,
            "version": self.version,
            "name": name,
            "parentCollection": parent or False,
            "relations": {},
        }
        return key

    def add_item(self, data: dict[str, Any]) -> str:
        self.version += 1
        key = data.get("key") or self.new_key()
        self.items[key] = {
            "tags": [],
            "collections": [],
            "relations": {},
            **data,
            "key": key,
            "version": self.version,
        }
        return key

    def trash(self, key: str) -> None:
        self.version += 1
        self.items[key] = {**self.items[key], "deleted": 1, "version": self.version}

    def delete(self, key: str) -> None:
        self.version += 1
        del self.items[key]
        self.deleted[key] = self.version

    def fail(
        self,
        method: str,
        path: str,
        reply: Callable[[httpx.Request], httpx.Response] | Exception,
        *,
        apply: bool = False,
        times: int = 1,
    ) -> None:
        if isinstance(reply, Exception):
            error = reply

            def raise_it(request: httpx.Request) -> httpx.Response:
                raise error

            self.faults.append(Fault(method, path, raise_it, apply, times))
        else:
            self.faults.append(Fault(method, path, reply, apply, times))

    def writes(self, path: str = "/items") -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "POST" and r.url.path == PREFIX + path]

    def titles(self) -> list[str]:
        return sorted(item.get("title", "") for item in self.top_items.values())

    @property
    def top_items(self) -> dict[str, dict[str, Any]]:
        """The items that are papers: no notes or attachments (children)."""
        return {k: v for k, v in self.items.items() if not v.get("parentItem")}

    # -- the transport

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return text(403, "Invalid key")
        path = request.url.path.removeprefix(PREFIX)
        fault = next(
            (f for f in self.faults if f.method == request.method and path.endswith(f.path)), None
        )
        if fault is not None:
            fault.times -= 1
            if fault.times <= 0:
                self.faults.remove(fault)
            if not fault.apply:
                return fault.reply(request)
            self._handle(request, path)
            return fault.reply(request)
        response = self._handle(request, path)
        response.headers.update(self.extra_headers)
        return response

    def _handle(self, request: httpx.Request, path: str) -> httpx.Response:
        params = {k: v[-1] for k, v in parse_qs(request.url.query.decode()).items()}
        if request.method == "POST":
            return self._write(request, path)
        if path == "/collections":
            objects = [
                self._wrap(c) for c in sorted(self.collections.values(), key=lambda c: c["key"])
            ]
            return self._page(request, params, objects)
        if path in ("/items/top", "/items"):
            since = int(params.get("since", 0))
            trashed = params.get("includeTrashed") == "1"
            chosen = [
                item
                for item in self.items.values()
                if item["version"] > since and (trashed or not item.get("deleted"))
            ]
            if "itemKey" in params:
                keys = params["itemKey"].split(",")
                assert len(keys) <= 50
                chosen = [item for item in chosen if item["key"] in keys]
            if params.get("format") == "versions":
                since_header = request.headers.get("If-Modified-Since-Version")
                if since_header is not None and self.version <= int(since_header):
                    return httpx.Response(304, headers={"Last-Modified-Version": str(self.version)})
                return httpx.Response(
                    200,
                    json={item["key"]: item["version"] for item in chosen},
                    headers={"Last-Modified-Version": str(self.version)},
                )
            return self._page(request, params, [self._wrap_item(i) for i in chosen])
        if path == "/deleted":
            since = int(params.get("since", 0))
            gone = [key for key, version in self.deleted.items() if version > since]
            return httpx.Response(
                200,
                json={"collections": [], "searches": [], "items": gone, "tags": [], "settings": []},
                headers={"Last-Modified-Version": str(self.version)},
            )
        if path.startswith("/collections/") and path.endswith("/items/top"):
            key = path.split("/")[2]
            chosen = [
                item
                for item in self.items.values()
                if key in item.get("collections", []) and not item.get("deleted")
            ]
            return self._page(request, params, [self._wrap_item(i) for i in chosen])
        return text(404, "Not found")

    def _page(
        self, request: httpx.Request, params: dict[str, str], objects: list[Any]
    ) -> httpx.Response:
        start, limit = int(params.get("start", 0)), int(params.get("limit", 25))
        headers = {
            "Last-Modified-Version": str(self.version),
            "Total-Results": str(len(objects)),
        }
        if start + limit < len(objects):
            nxt = request.url.copy_set_param("start", str(start + limit))
            # Link URLs name the public host, as the real API's do.
            headers["Link"] = f'<{API}{nxt.raw_path.decode()}>; rel="next"'
        return httpx.Response(200, json=objects[start : start + limit], headers=headers)

    def _wrap(self, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "key": data["key"],
            "version": data["version"],
            "library": {"type": "user", "id": int(LIBRARY), "name": "testuser"},
            "meta": {"numCollections": 0, "numItems": 0},
            "data": data,
        }

    def _wrap_item(self, data: dict[str, Any]) -> dict[str, Any]:
        wrapped = self._wrap(data)
        wrapped["meta"] = {"parsedDate": data.get("date", "")}
        return wrapped

    def _write(self, request: httpx.Request, path: str) -> httpx.Response:
        token = request.headers.get("Zotero-Write-Token")
        if token is not None and token in self.tokens:
            return text(412, "Write token already used")
        expected = request.headers.get("If-Unmodified-Since-Version")
        if expected is not None and int(expected) != self.version:
            return text(
                412,
                f"Library has been modified since specified version "
                f"(expected {expected}, found {self.version})",
            )
        if self.before_write is not None:
            hook, self.before_write = self.before_write, None
            hook()
            if expected is not None and int(expected) != self.version:
                return text(412, "Library has been modified since specified version")
        try:
            objects = json.loads(request.content)
        except ValueError:
            return text(400, "Invalid JSON")
        if len(objects) > 50:
            return text(413, "Cannot add more than 50 items at a time")
        new_version = self.version + 1
        report: dict[str, dict[str, Any]] = {
            "successful": {},
            "success": {},
            "unchanged": {},
            "failed": {},
        }
        for position, obj in enumerate(objects):
            index = str(position)
            if path == "/collections":
                key = self.new_key()
                data = {"key": key, "version": new_version, "relations": {}, **obj}
                self.collections[key] = data
            elif "key" in obj and obj["key"] in self.items:
                current = self.items[obj["key"]]
                if "version" in obj and obj["version"] != current["version"]:
                    report["failed"][index] = {
                        "key": obj["key"],
                        "code": 412,
                        "message": "Item has been modified since specified version",
                    }
                    continue
                data = {**current, **obj, "version": new_version}
                self.items[obj["key"]] = data
            else:
                if obj.get("title") in self.refuse_titles:
                    code, message = self.refuse_titles[obj["title"]]
                    report["failed"][index] = {"code": code, "message": message}
                    continue
                key = self.new_key()
                data = {**obj, "key": key, "version": new_version}
                self.items[key] = data
            report["successful"][index] = self._wrap(data)
            report["success"][index] = data["key"]
        if report["successful"]:
            self.version = new_version
            if token is not None:
                self.tokens.add(token)
        return httpx.Response(
            200, json=report, headers={"Last-Modified-Version": str(self.version)}
        )


class FakeClock:
    """A clock that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


@pytest.fixture
def fake() -> FakeZotero:
    return FakeZotero()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def make(fake: FakeZotero, clock: FakeClock, cache_dir: Path) -> Callable[..., ZoteroLibrary]:
    def build(**overrides: Any) -> ZoteroLibrary:
        config = ZoteroConfig(
            api_url=overrides.pop("api_url", API),
            library_id=overrides.pop("library_id", LIBRARY),
            library_type="user",
            api_key=overrides.pop("api_key", KEY),
        )
        options: dict[str, Any] = {
            "sleep": clock.sleep,
            "clock": clock.clock,
            "transport": httpx.MockTransport(fake),
        }
        options.update(overrides)
        return ZoteroLibrary(config, cache_dir, **options)

    return build


def paper(number: int, **changes: Any) -> Paper:
    values: dict[str, Any] = {
        "title": f"A Study of Things, Part {number}",
        "abstract": f"We study thing {number}.",
        "arxiv_id": ArxivId(f"2501.{number:05d}"),
        "authors": ("Ada Lovelace", "Alan M. Turing"),
        "year": 2025,
        "month": 1,
        "primary_category": "cs.CL",
        "resolved": True,
    }
    values.update(changes)
    return Paper(**values)


def entry(number: int, tags: tuple[str, ...] = ("to-read",)) -> tuple[str, Paper, tuple[str, ...]]:
    return (f"lovelace2025study{number}", paper(number), tags)


# --------------------------------------------------------------------------- items


def schema_subset(
    schema: dict[str, Any],
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """Regenerate ITEM_TYPE_FIELDS / ITEM_TYPE_CREATORS from Zotero's schema.json."""
    wanted = ("preprint", "journalArticle", "conferencePaper")
    fields, creators = {}, {}
    for entry_ in schema["itemTypes"]:
        if entry_["itemType"] in wanted:
            fields[entry_["itemType"]] = tuple(f["field"] for f in entry_["fields"])
            creators[entry_["itemType"]] = tuple(c["creatorType"] for c in entry_["creatorTypes"])
    return {k: fields[k] for k in wanted}, {k: creators[k] for k in wanted}


@pytest.fixture
def schema(data: Path) -> dict[str, Any]:
    return json.loads((data / "zotero" / "schema.json").read_text(encoding="utf-8"))


def test_built_in_schema_subset_is_zoteros(schema: dict[str, Any]) -> None:
    fields, creators = schema_subset(schema)
    assert fields == ITEM_TYPE_FIELDS, f"regenerate ITEM_TYPE_FIELDS: {fields!r}"
    assert creators == ITEM_TYPE_CREATORS, f"regenerate ITEM_TYPE_CREATORS: {creators!r}"


def test_item_is_what_zoteros_arxiv_import_saves(data: Path, schema: dict[str, Any]) -> None:
    fixture = (
        data / "fixtures" / "zotero" / "web-library_test-user-add-by-identifier-recognize.json"
    )
    saved = json.loads(fixture.read_text(encoding="utf-8"))["successful"]["0"]["data"]
    attention = Paper(
        title=saved["title"],
        abstract=saved["abstractNote"],
        arxiv_id=ArxivId("1706.03762"),
        authors=tuple(f"{c['firstName']} {c['lastName']}" for c in saved["creators"]),
        year=2017,
        month=6,
        primary_category="cs.CL",
        resolved=True,
    )
    item = paper_to_item(
        attention, "vaswani2017attention", ["to-read", "transformers"], ["CSB4KZUU"]
    )
    for name in (
        "itemType",
        "title",
        "creators",
        "abstractNote",
        "repository",
        "archiveID",
        "DOI",
        "libraryCatalog",
        "collections",
        "relations",
    ):
        assert item[name] == saved[name], name
    assert item["url"] == "https://arxiv.org/abs/1706.03762"
    assert item["url"].split("://")[1] == saved["url"].split("://")[1]
    # The key in the native field Better BibTeX 8+ reads; Extra names only the arXiv ID.
    assert item["citationKey"] == "vaswani2017attention"
    assert item["extra"] == "arXiv:1706.03762 [cs.CL]"
    assert item["date"] == "2017-06"
    assert item["tags"] == [{"tag": "to-read"}, {"tag": "transformers"}]
    assert "shortTitle" not in item  # no subtitle to cut off
    assert short_title("BERT: Pre-training of Deep Bidirectional Transformers") == "BERT"
    assert validate_item(item) == []
    assert validate_item(item, schema) == []
    # The saved item itself passes the same check, and names the same paper.
    assert validate_item(saved, schema) == []
    assert item_identities(saved) == item_identities(item) == {"arxiv:1706.03762"}


def translator_preprints(data: Path) -> list[dict[str, Any]]:
    path = data / "fixtures" / "zotero" / "translators_arXiv.org.js_testCases.json"
    cases = json.loads(path.read_text(encoding="utf-8"))
    return [
        item
        for case in cases
        if isinstance(case.get("items"), list)
        for item in case["items"]
        if item["itemType"] == "preprint"
    ]


def test_items_carry_every_field_the_translator_sets(data: Path, schema: dict[str, Any]) -> None:
    cases = translator_preprints(data)
    assert len(cases) == 5
    for expected in cases:
        aid = ArxivId(expected["archiveID"].removeprefix("arXiv:"))
        first_line = expected["extra"].splitlines()[0]
        primary = first_line.split("[")[1].rstrip("]") if "[" in first_line else "math.DG"
        made = paper_to_item(
            Paper(
                title=expected["title"],
                abstract=expected["abstractNote"],
                arxiv_id=aid,
                authors=tuple(f"{c['firstName']} {c['lastName']}" for c in expected["creators"]),
                year=int(expected["date"][:4]),
                primary_category=primary,
                resolved=True,
            ),
            "key2020",
            [],
            [],
        )
        # Zotero adds shortTitle for titles with a colon; attachments and notes are children.
        wanted = set(expected) - {"attachments", "notes", "seeAlso", "shortTitle"}
        assert wanted <= set(made), wanted - set(made)
        for name in (
            "itemType",
            "title",
            "creators",
            "DOI",
            "archiveID",
            "repository",
            "libraryCatalog",
            "abstractNote",
        ):
            assert made[name] == expected[name], (aid, name)
        assert made["url"].split("://")[1] == expected["url"].split("://")[1]
        # Old-style IDs get no category, as the translator does (math/0211159).
        assert made["extra"].splitlines()[0] == first_line
        assert validate_item(made, schema) == []
        assert validate_item({k: v for k, v in expected.items() if k in wanted}, schema) == []


def test_creators_split_like_zotero() -> None:
    assert split_creator("Aidan N. Gomez") == {
        "creatorType": "author",
        "firstName": "Aidan N.",
        "lastName": "Gomez",
    }
    assert split_creator("  Ada   Lovelace ") == {
        "creatorType": "author",
        "firstName": "Ada",
        "lastName": "Lovelace",
    }
    # One field only for organisations; a mononym is a last name.
    assert split_creator("Plato") == {"creatorType": "author", "firstName": "", "lastName": "Plato"}
    assert split_creator("Vincent van Gogh") == {
        "creatorType": "author",
        "firstName": "Vincent",
        "lastName": "van Gogh",
    }
    assert split_creator("Martin Luther King Jr.") == {
        "creatorType": "author",
        "firstName": "Martin Luther, Jr.",
        "lastName": "King",
    }
    assert split_creator("") is None
    item = paper_to_item(paper(1, authors=("Plato", "Ada Lovelace", " ")), "", [], [])
    assert item["creators"] == [
        {"creatorType": "author", "firstName": "", "lastName": "Plato"},
        {"creatorType": "author", "firstName": "Ada", "lastName": "Lovelace"},
    ]


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [
        ("Juan de la Cruz", "Juan", "de la Cruz"),
        ("Dara Ó Briain", "Dara", "Ó Briain"),
        ("Daniel van der Putten", "Daniel", "van der Putten"),
        ("Daniel Van der Putten", "Daniel", "Van der Putten"),
        ("Ana María De la Fuente", "Ana María", "De la Fuente"),
        ("Jean-Luc De Smet", "Jean-Luc", "De Smet"),
        ("Ludwig von Beethoven", "Ludwig", "von Beethoven"),
        ("Maria da Silva Santos", "Maria", "da Silva Santos"),
        ("Tom ter Horst", "Tom", "ter Horst"),
        ("Quoc V. Le", "Quoc V.", "Le"),
        ("Ai Zhang", "Ai", "Zhang"),
        ("Abdullah bin Hamad", "Abdullah", "bin Hamad"),
    ],
)
def test_creators_keep_particles_and_multi_word_surnames(name: str, first: str, last: str) -> None:
    assert split_creator(name) == {"creatorType": "author", "firstName": first, "lastName": last}


@pytest.mark.parametrize(
    "name",
    ["The ATLAS Collaboration", "Gemini Team", "OpenAI", "DeepSeek-AI", "NVIDIA", "Qwen Team"],
)
def test_only_organisations_get_a_single_field_name(name: str) -> None:
    assert split_creator(name) == {"creatorType": "author", "name": name}


def test_extra_and_citation_key() -> None:
    item = paper_to_item(paper(1), "lovelace2025study", [], [])
    assert item["extra"] == "arXiv:2501.00001 [cs.CL]"
    assert item["citationKey"] == "lovelace2025study"
    assert "citationKey" not in paper_to_item(paper(1), "", [], [])
    old = paper(1, arxiv_id=ArxivId("hep-th/9901001"), primary_category="hep-th")
    item = paper_to_item(old, "k", [" a ", "a", "", "b"], [])
    assert item["extra"] == "arXiv:hep-th/9901001"
    assert item["citationKey"] == "k"
    assert item["DOI"] == "10.48550/arXiv.hep-th/9901001"
    assert item["tags"] == [{"tag": "a"}, {"tag": "b"}]
    # The date falls back to the month the identifier encodes.
    assert paper_to_item(paper(1, year=None, month=None), "", [], [])["date"] == "2025-01"
    assert paper_to_item(paper(1, month=None), "", [], [])["date"] == "2025"


def test_schema_guard_catches_what_zotero_would_refuse(schema: dict[str, Any]) -> None:
    good = paper_to_item(paper(1), "k", ["t"], ["ABCD2345"])
    for item, problem in (
        (
            {**good, "publicationTitle": "Nature"},
            "field 'publicationTitle' is not valid for preprint",
        ),
        ({**good, "itemType": "paper"}, "unknown itemType 'paper'"),
        (
            {**good, "creators": [{"creatorType": "seriesEditor", "name": "X"}]},
            "creator 0: creatorType 'seriesEditor' is not valid for preprint",
        ),
        (
            {**good, "creators": [{"creatorType": "author", "name": "X", "lastName": "Y"}]},
            "creator 0: give either name or firstName/lastName",
        ),
        (
            {**good, "tags": [{"tag": "x", "type": 5}]},
            "tag 0: only 'tag' and 'type' (0 or 1) are allowed",
        ),
        ({**good, "collections": ["nope"]}, "collections must be a list of collection keys"),
        ({**good, "date": 2025}, "field 'date' must be a string"),
    ):
        assert problem in validate_item(item), problem
        assert problem in validate_item(item, schema), problem
    journal = paper_to_item(paper(1, arxiv_id=None, doi="10.1000/xyz"), "k", [], [])
    assert journal["itemType"] == "journalArticle"
    assert validate_item(journal, schema) == []


def test_item_reads_back_as_a_paper(data: Path) -> None:
    made = paper_to_item(paper(7), "lovelace2025study", ["to-read"], [])
    back = item_to_paper(made)
    assert back.arxiv_id == ArxivId("2501.00007")
    assert back.authors == ("Ada Lovelace", "Alan M. Turing")
    assert (back.year, back.month) == (2025, 1)
    assert back.primary_category == "cs.CL"
    assert back.doi is None
    assert back.tags == ("to-read",)
    assert back.abstract == "We study thing 7."
    king = item_to_paper(
        {
            "itemType": "book",
            "title": "Why",
            "creators": [split_creator("Martin Luther King Jr.")],
            "date": "March 1964",
        }
    )
    assert king.authors == ("Martin Luther King Jr.",)
    assert (king.year, king.month, king.arxiv_id) == (1964, 3, None)
    path = data / "fixtures" / "zotero" / "translators_arXiv.org.js_testCases.json"
    journal = json.loads(path.read_text(encoding="utf-8"))[1]["items"][0]
    read = item_to_paper(journal)
    assert read.arxiv_id == ArxivId("1107.4612")
    assert read.doi == "10.1111/j.1365-2966.2011.19851.x"
    assert read.journal_ref == "Monthly Notices of the Royal Astronomical Society 419(2), 1795-1803"
    assert (read.year, read.month) == (2012, 1)


# --------------------------------------------------------------------------- settings, errors


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"library_id": ""}, "set [zotero] library_id"),
        ({"library_id": "someuser"}, "must be the numeric user or group ID"),
        ({"api_key": ""}, "ZOTERO_API_KEY environment variable (preferred)"),
    ],
)
def test_settings_are_checked_before_any_request(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero, changes: dict[str, str], expected: str
) -> None:
    with pytest.raises(ZoteroError) as caught:
        make(**changes)
    assert expected in str(caught.value)
    assert fake.requests == []


def test_bad_key_is_one_clear_error_that_never_shows_the_key(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    seen: list[str] = []
    wrong = "WRONGkey1234567890abcdef"
    library = make(api_key=wrong, on_request=seen.append)
    with pytest.raises(ZoteroError) as caught:
        library.sync([entry(1)], "Reading")
    error = caught.value
    assert error.status == 403
    assert AUTH_MESSAGE in str(error)
    assert len(fake.requests) == 1  # not retried
    for shown in (str(error), repr(error), repr(library), error.url, *seen):
        assert wrong not in shown
        assert KEY not in shown


def test_write_refused_by_a_read_only_key_is_the_same_error(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    fake.add_collection("Reading")
    fake.fail("POST", "/items", lambda r: text(403, "Write access denied"), times=9)
    with pytest.raises(ZoteroError) as caught:
        make().sync([entry(1)], "Reading")
    assert caught.value.status == 403
    assert "no write access" in str(caught.value)


def test_key_is_scrubbed_from_messages_the_server_echoes(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    fake.fail(
        "GET", "/collections", lambda r: text(400, f"Invalid parameter: key={KEY}&x=1 Bearer {KEY}")
    )
    with pytest.raises(ZoteroError) as caught:
        make().ensure_collection("Reading", create=False)
    assert caught.value.status == 400
    assert KEY not in str(caught.value)
    assert "key=<redacted>" in str(caught.value)


def test_library_not_found(make: Callable[..., ZoteroLibrary], fake: FakeZotero) -> None:
    fake.fail("GET", "/collections", lambda r: text(404, "Not found"))
    with pytest.raises(ZoteroError, match="library not found") as caught:
        make().ensure_collection("Reading", create=False)
    assert caught.value.status == 404


# --------------------------------------------------------------------------- collections


def test_collection_names_match_exactly(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    fake.add_collection("reading")
    fake.add_collection("Reading Group")
    wanted = fake.add_collection("Reading")
    library = make()
    assert library.ensure_collection(" Reading ", create=False) == wanted
    assert library.ensure_collection("READING", create=False) is None
    assert library.ensure_collection("Read", create=False) is None
    assert library.ensure_collection("", create=True) is None
    assert fake.writes("/collections") == []


def test_nested_collection_is_created_parent_first(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    other = fake.add_collection("Elsewhere")
    fake.add_collection("Multimodal", parent=other)  # same name, wrong parent
    library = make()
    assert library.ensure_collection("Reading/Multimodal", create=True, dry_run=True) is None
    assert library.created_collections == ["Reading", "Reading/Multimodal"]
    assert fake.writes("/collections") == []

    library = make()
    version, before = fake.version, len(fake.requests)
    key = library.ensure_collection("Reading/Multimodal", create=True)
    assert library.created_collections == ["Reading", "Reading/Multimodal"]
    writes = fake.writes("/collections")
    assert [json.loads(w.content)[0]["name"] for w in writes] == ["Reading", "Multimodal"]
    assert all(w.headers["Zotero-Write-Token"] for w in writes)
    # Each create is conditional on the library version: the listing's, then the first
    # create's own (no second listing in between).
    assert [w.headers["If-Unmodified-Since-Version"] for w in writes] == [
        str(version),
        str(version + 1),
    ]
    assert len([r for r in fake.requests[before:] if r.method == "GET"]) == 1
    reading = next(k for k, c in fake.collections.items() if c["name"] == "Reading")
    assert json.loads(writes[0].content)[0]["parentCollection"] is False
    assert json.loads(writes[1].content)[0]["parentCollection"] == reading
    assert fake.collections[key]["parentCollection"] == reading
    # Found, not created, the next time.
    again = make()
    assert again.ensure_collection("Reading/Multimodal", create=True) == key
    assert again.created_collections == []
    assert len(fake.writes("/collections")) == 2


def test_collection_listing_follows_pages(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    for number in range(230):
        fake.add_collection(f"c{number}")
    last = fake.add_collection("Last")
    assert make().ensure_collection("Last", create=False) == last
    reads = [r for r in fake.requests if r.url.path.endswith("/collections")]
    assert len(reads) == 3
    assert all(r.url.params["limit"] == "100" for r in reads)
    # Oldest first, as every member of a group library sees them.
    assert all(r.url.params["sort"] == "dateAdded" for r in reads)
    assert all(r.url.params["direction"] == "asc" for r in reads)


def test_collection_create_with_a_lost_answer_is_not_made_twice(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    fake.fail("POST", "/collections", httpx.ReadTimeout("lost"), apply=True)
    key = make().ensure_collection("Reading", create=True)
    assert [c["name"] for c in fake.collections.values()] == ["Reading"]
    assert key in fake.collections
    writes = fake.writes("/collections")
    assert len(writes) == 2
    assert writes[0].headers["Zotero-Write-Token"] == writes[1].headers["Zotero-Write-Token"]


def test_collection_created_meanwhile_by_someone_else_is_reused(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    original = fake._write
    theirs: list[str] = []

    def another_member_is_faster(request: httpx.Request, path: str) -> httpx.Response:
        if not theirs:
            theirs.append(fake.add_collection("Reading"))
        return original(request, path)

    fake._write = another_member_is_faster  # type: ignore[method-assign]
    library = make()
    assert library.ensure_collection("Reading", create=True) == theirs[0]
    assert library.created_collections == []
    assert len(fake.writes("/collections")) == 1  # refused with 412, then found
    assert [c["name"] for c in fake.collections.values()] == ["Reading"]


def test_collection_creation_in_a_library_that_keeps_changing_is_an_error(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    original = fake._write

    def busy_library(request: httpx.Request, path: str) -> httpx.Response:
        fake.add_collection("Someone else's")
        return original(request, path)

    fake._write = busy_library  # type: ignore[method-assign]
    with pytest.raises(ZoteroError) as caught:
        make().ensure_collection("Reading", create=True)
    assert caught.value.status == 412
    assert "could not create collection 'Reading': the library kept changing" in str(caught.value)
    assert len(fake.writes("/collections")) == MAX_COLLECTION_ROUNDS
    assert "Reading" not in [c["name"] for c in fake.collections.values()]


# --------------------------------------------------------------------------- sync


def test_new_papers_are_created_in_batches_of_50(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    fake.add_collection("Reading")
    seen: list[str] = []
    report = make(on_request=seen.append).sync([entry(n) for n in range(1, 121)], "Reading")
    assert report.failed == []
    assert len(report.created) == 120
    assert len({key for _, key in report.created}) == 120
    writes = fake.writes()
    # Each paper comes with its PDF link (a child item, in the same request as its parent):
    # 240 objects, 50 per request, a parent never apart from its children.
    assert [len(json.loads(w.content)) for w in writes] == [50, 50, 50, 50, 40]
    assert len(writes) == math.ceil(2 * 120 / 50)
    for write in writes:
        body = json.loads(write.content)
        parents = {o["key"] for o in body if "parentItem" not in o}
        assert {o["parentItem"] for o in body if "parentItem" in o} == parents
    tokens = [w.headers["Zotero-Write-Token"] for w in writes]
    assert len(set(tokens)) == 5 and all(len(t) == 32 for t in tokens)
    # Reads: the collection list and one page of the (empty) library; then the writes.
    assert report.requests == len(seen) == 2 + 5
    item = next(iter(fake.top_items.values()))
    assert item["collections"] == [next(iter(fake.collections))]
    assert validate_item({k: v for k, v in item.items()}) == []


def test_second_sync_writes_nothing(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero, cache_dir: Path
) -> None:
    papers = [entry(n) for n in range(1, 121)]
    first = make().sync(papers, "Reading/Multimodal")
    assert len(first.created) == 120
    assert first.collections_created == ["Reading", "Reading/Multimodal"]
    writes = len(fake.requests)
    assert list(cache_dir.glob("zotero-user-475425.json"))

    # A new run (a new process): the cached index and one listing are all it needs.
    second = make().sync(papers, "Reading/Multimodal")
    assert second.created == [] and second.updated == [] and second.failed == []
    assert sorted(second.unchanged) == sorted(c for c, _, _ in papers)
    assert second.requests <= 3
    assert second.requests == len(fake.requests) - writes == 1
    assert len(fake.top_items) == 120


def test_second_sync_without_a_version_hint_is_a_304(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    fake.add_collection("Reading")
    make().sync([entry(1)], "Reading")
    fake.add_collection("Unrelated")  # the library version moves on; no item changes
    library = make()
    first = library.sync([entry(1)], "Reading")
    assert first.unchanged == ["lovelace2025study1"]
    # collections, then the since= read, answered 200 with {} (and /deleted).
    assert first.requests == 3
    fake.requests.clear()
    second = make().sync([entry(1)], "Reading")
    assert second.requests == 1
    library._seen_version = None  # force the conditional read
    before = len(fake.requests)
    assert library.find_existing([paper(1)])[0] is not None
    versions_read = fake.requests[before:]
    assert len(versions_read) == 1
    assert versions_read[0].headers["If-Modified-Since-Version"] == str(fake.version)


def test_existing_item_gets_collection_and_tags_not_a_copy(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero, data: Path
) -> None:
    fixture = (
        data / "fixtures" / "zotero" / "web-library_test-user-add-by-identifier-recognize.json"
    )
    saved = json.loads(fixture.read_text(encoding="utf-8"))["successful"]["0"]["data"]
    saved = {**saved, "collections": []}
    existing = fake.add_item(saved)  # Zotero's own import: http URL, automatic tags
    item_version = fake.items[existing]["version"]
    reading = fake.add_collection("Reading")
    attention = paper(1, arxiv_id=ArxivId("1706.03762"), title="Attention Is All You Need")
    report = make().sync(
        [("vaswani2017attention", attention, ["to-read", "Computer Science - Machine Learning"])],
        "Reading",
    )
    assert report.created == []
    assert report.updated == [("vaswani2017attention", existing, "added to Reading; tags +to-read")]
    assert len(fake.top_items) == 1
    item = fake.items[existing]
    assert item["collections"] == [reading]
    assert [t["tag"] for t in item["tags"]] == [
        "Computer Science - Computation and Language",
        "Computer Science - Machine Learning",
        "to-read",
    ]
    assert item["tags"][0]["type"] == 1  # the automatic tags stay automatic
    assert item["title"] == saved["title"] and item["abstractNote"] == saved["abstractNote"]
    # POST updates follow PATCH rules: only the changed lists, full, with the item's version.
    (write,) = fake.writes()
    assert json.loads(write.content) == [
        {"key": existing, "version": item_version, "collections": [reading], "tags": item["tags"]}
    ]
    assert write.headers["If-Unmodified-Since-Version"] == str(item_version + 1)
    assert "Zotero-Write-Token" not in write.headers


@pytest.mark.parametrize(
    "field_",
    [
        {"url": "http://arxiv.org/abs/2501.00001v2"},
        {"DOI": "10.48550/arXiv.2501.00001"},
        {"archiveID": "arXiv:2501.00001"},
        {"extra": "Some note\narXiv:2501.00001 [cs.CL]"},
    ],
)
def test_items_match_by_any_arxiv_field(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero, field_: dict[str, str]
) -> None:
    key = fake.add_item({"itemType": "journalArticle", "title": "Published version", **field_})
    fake.add_item(
        {"itemType": "journalArticle", "title": "Other", "url": "http://arxiv.org/abs/2501.00002"}
    )
    assert make().find_existing([paper(1)])[0].key == key  # type: ignore[union-attr]


def test_items_match_by_published_doi(make: Callable[..., ZoteroLibrary], fake: FakeZotero) -> None:
    key = fake.add_item(
        {"itemType": "journalArticle", "title": "Published", "DOI": "https://doi.org/10.1000/ABC"}
    )
    found = make().find_existing([paper(3, doi="10.1000/abc"), paper(4)])
    assert found[0] is not None and found[0].key == key
    assert found[1] is None


def test_failed_objects_are_reported_by_title(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    fake.add_collection("Reading")
    bad = paper(2).title
    fake.refuse_titles[bad] = (413, "Title too long")
    report = make().sync([entry(1), entry(2), entry(3)], "Reading")
    assert [c for c, _ in report.created] == ["lovelace2025study1", "lovelace2025study3"]
    assert report.failed == [(bad, "Title too long (HTTP 413)")]
    assert bad not in fake.titles()


def test_unresolved_papers_are_refused_with_a_reason(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    report = make().sync([("k", paper(1, resolved=False), [])], "Reading")
    assert report.failed == [
        (
            paper(1).title,
            "not resolved: its arXiv metadata was never verified (run `readlist resolve`)",
        )
    ]
    assert report.requests == 0 and fake.requests == []


def test_dry_run_reports_without_writing(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    existing = fake.add_item(
        {"itemType": "preprint", "title": "Old", "archiveID": "arXiv:2501.00001"}
    )
    report = make().sync([entry(1), entry(2)], "Reading", dry_run=True)
    assert report.dry_run
    assert report.collections_created == ["Reading"]
    assert report.created == [("lovelace2025study2", None)]
    assert report.updated == [("lovelace2025study1", existing, "added to Reading; tags +to-read")]
    assert [r for r in fake.requests if r.method != "GET"] == []


def test_same_paper_twice_in_one_sync_is_one_item(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    report = make().sync([entry(1, ("a",)), ("other", paper(1), ("b",))], "")
    assert len(fake.top_items) == 1
    assert [t["tag"] for t in next(iter(fake.top_items.values()))["tags"]] == ["a", "b"]
    assert report.unchanged == ["other"]


# --------------------------------------------------------------------------- the index


def test_index_follows_changes_deletions_and_trash(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero, cache_dir: Path
) -> None:
    keep = fake.add_item({"itemType": "preprint", "title": "Keep", "archiveID": "arXiv:2501.00001"})
    gone = fake.add_item({"itemType": "preprint", "title": "Gone", "archiveID": "arXiv:2501.00002"})
    trashed = fake.add_item(
        {"itemType": "preprint", "title": "Trashed", "archiveID": "arXiv:2501.00003"}
    )
    changed = fake.add_item(
        {"itemType": "preprint", "title": "Changed", "url": "https://example.org"}
    )
    for number in range(120):  # more than a page
        fake.add_item({"itemType": "book", "title": f"Book {number}"})
    assert [
        item is not None for item in make().find_existing([paper(n) for n in (1, 2, 3, 4)])
    ] == [True, True, True, False]
    tops = [r for r in fake.requests if r.url.path.endswith("/items/top")]
    assert len(tops) == 2  # two pages of 100

    fake.delete(gone)
    fake.trash(trashed)
    fake.items[changed] = {
        **fake.items[changed],
        "archiveID": "arXiv:2501.00004",
        "version": fake.version + 1,
    }
    fake.version += 1
    fake.requests.clear()
    found = make().find_existing([paper(n) for n in (1, 2, 3, 4)])
    assert [item.key if item else None for item in found] == [keep, None, None, changed]
    # since= versions, one itemKey= fetch of the two changed items, /deleted.
    assert [r.url.path.removeprefix(PREFIX) for r in fake.requests] == [
        "/items/top",
        "/items",
        "/deleted",
    ]
    assert sorted(fake.requests[1].url.params["itemKey"].split(",")) == sorted([trashed, changed])
    stored = json.loads((cache_dir / "zotero-user-475425.json").read_text())
    assert stored["version"] == fake.version
    assert KEY not in json.dumps(stored)


def test_a_broken_index_file_is_rebuilt(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero, cache_dir: Path
) -> None:
    fake.add_item({"itemType": "preprint", "title": "Keep", "archiveID": "arXiv:2501.00001"})
    cache_dir.mkdir()
    (cache_dir / "zotero-user-475425.json").write_text("{not json")
    assert make().find_existing([paper(1)])[0] is not None


# --------------------------------------------------------------------------- pyzotero's weak spots


def test_429_on_write_is_retried_with_the_same_token(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero, clock: FakeClock
) -> None:
    fake.add_collection("Reading")
    fake.fail("POST", "/items", lambda r: text(429, "Too many requests", **{"Retry-After": "7"}))
    report = make().sync([entry(1), entry(2)], "Reading")
    writes = fake.writes()
    assert len(writes) == 2
    assert writes[0].headers["Zotero-Write-Token"] == writes[1].headers["Zotero-Write-Token"]
    assert 7 in clock.sleeps
    assert len(report.created) == 2 and report.failed == []
    assert len(fake.top_items) == 2


def test_429_on_write_that_never_ends_is_a_failure_not_a_success(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero, clock: FakeClock
) -> None:
    fake.add_collection("Reading")
    fake.fail(
        "POST", "/items", lambda r: text(429, "Too many requests", **{"Retry-After": "3"}), times=99
    )
    report = make().sync([entry(1)], "Reading")
    assert report.created == []
    assert report.failed == [(paper(1).title, "rate limited (HTTP 429); gave up after 5 attempts")]
    assert len(fake.writes()) == 5
    assert clock.sleeps == [3, 3, 4, 8]


def test_pyzotero_itself_turns_a_429_write_into_a_json_error() -> None:
    # Why writes bypass pyzotero's create_items: pinned 1.6.11 decodes the 429 text body.
    from pyzotero import zotero as pyzotero

    zot = pyzotero.Zotero(LIBRARY, "user", KEY)
    zot.client = httpx.Client(
        transport=httpx.MockTransport(
            lambda r: text(429, "Too many requests", **{"Retry-After": "0.01"})
        )
    )
    with pytest.raises(json.JSONDecodeError):
        zot.create_items([{"itemType": "preprint", "title": "x"}])
    zot.client = httpx.Client(
        transport=httpx.MockTransport(
            lambda r: text(429, "Too many requests", **{"Retry-After": "0.01"})
        )
    )
    assert zot.collections() == b"Too many requests"  # a read returns the error body as data


def test_429_on_read_is_a_failure_and_retried(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero, clock: FakeClock
) -> None:
    wanted = fake.add_collection("Reading")
    fake.fail(
        "GET", "/collections", lambda r: text(429, "Too many requests", **{"Retry-After": "5"})
    )
    assert make().ensure_collection("Reading", create=False) == wanted
    assert clock.sleeps == [5]
    assert len([r for r in fake.requests if r.url.path.endswith("/collections")]) == 2


def test_non_json_read_is_retried_then_an_error(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    fake.fail(
        "GET",
        "/collections",
        lambda r: httpx.Response(
            200, text="<html>proxy</html>", headers={"Content-Type": "application/json"}
        ),
        times=99,
    )
    with pytest.raises(ZoteroError, match="malformed answer") as caught:
        make().ensure_collection("Reading", create=False)
    assert KEY not in str(caught.value)
    assert len(fake.requests) == 5


def test_read_without_content_type_is_retried(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    # pyzotero 1.6.11 indexes headers["Content-Type"] and raises KeyError without one.
    wanted = fake.add_collection("Reading")
    fake.fail("GET", "/collections", lambda r: httpx.Response(200, content=b"[]"))
    assert make().ensure_collection("Reading", create=False) == wanted
    assert len(fake.requests) == 2


def test_malformed_write_report_is_never_success(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    fake.add_collection("Reading")
    fake.fail("POST", "/items", lambda r: httpx.Response(200, json={"hello": "world"}), times=99)
    report = make().sync([entry(1)], "Reading")
    assert report.created == []
    assert report.failed[0][0] == paper(1).title
    assert "malformed" in report.failed[0][1]
    assert "may have gone through" in report.failed[0][1]


def test_backoff_on_a_200_is_honoured(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero, clock: FakeClock
) -> None:
    fake.add_collection("Reading")
    fake.extra_headers = {"Backoff": "12"}
    seen: list[tuple[float, str]] = []
    library = make(on_request=lambda what: seen.append((clock.now, what)))
    library.sync([entry(1)], "Reading")
    assert clock.sleeps == [12, 12]  # before the 2nd and 3rd of three requests
    starts = [when for when, _ in seen]
    assert all(later - earlier >= 12 for earlier, later in zip(starts, starts[1:], strict=False))


def test_backoff_starts_no_pyzotero_timer_threads(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    # pyzotero 1.6.11 starts a non-daemon threading.Timer per Backoff/Retry-After header,
    # which would keep the CLI alive until it fires.
    fake.add_collection("Reading")
    fake.extra_headers = {"Backoff": "200"}
    fake.fail("GET", "/collections", lambda r: text(429, "Slow down", **{"Retry-After": "100"}))
    before = threading.active_count()
    make().sync([entry(1)], "Reading")
    assert threading.active_count() == before


def test_503_on_read_honours_retry_after(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero, clock: FakeClock
) -> None:
    wanted = fake.add_collection("Reading")
    fake.fail("GET", "/collections", lambda r: text(503, "Down", **{"Retry-After": "30"}))
    assert make().ensure_collection("Reading", create=False) == wanted
    assert clock.sleeps == [30]


def test_retry_after_beyond_the_limit_is_an_error(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero, clock: FakeClock
) -> None:
    fake.fail("GET", "/collections", lambda r: text(429, "Slow down", **{"Retry-After": "86400"}))
    with pytest.raises(ZoteroError, match="asked to wait 86400 s") as caught:
        make().ensure_collection("Reading", create=False)
    assert caught.value.status == 429
    assert clock.sleeps == []


def test_a_backoff_beyond_the_limit_is_an_error_before_the_next_request(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    fake.add_collection("Reading")
    fake.extra_headers = {"Backoff": "3600"}
    with pytest.raises(ZoteroError, match="asked clients to wait 3600 s"):
        make().sync([entry(1)], "Reading")
    assert len(fake.requests) == 1


def test_412_rereads_the_library_and_retries(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    reading = fake.add_collection("Reading")
    library = make()
    library.sync([entry(9)], "Reading")  # builds the index

    def someone_else_adds_paper_2() -> None:
        fake.add_item(
            {"itemType": "preprint", "title": "Theirs", "url": "http://arxiv.org/abs/2501.00002"}
        )

    fake.before_write = someone_else_adds_paper_2
    report = make().sync([entry(1), entry(2), entry(3)], "Reading")
    assert report.failed == []
    assert sorted(c for c, _ in report.created) == ["lovelace2025study1", "lovelace2025study3"]
    theirs = next(k for k, i in fake.top_items.items() if i["title"] == "Theirs")
    assert report.updated == [("lovelace2025study2", theirs, "added to Reading; tags +to-read")]
    assert len(fake.top_items) == 4  # no second copy of paper 2
    assert fake.items[theirs]["collections"] == [reading]


def test_a_library_that_keeps_changing_is_reported(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    fake.add_collection("Reading")
    original = fake._write

    def busy_library(request: httpx.Request, path: str) -> httpx.Response:
        fake.add_collection("Someone else's")
        return original(request, path)

    fake._write = busy_library  # type: ignore[method-assign]
    report = make().sync([entry(1)], "Reading")
    assert report.created == []
    ((title, reason),) = report.failed
    assert title == paper(1).title
    assert reason.startswith("the library kept changing while writing (Library has been modified")
    assert len(fake.writes()) == MAX_PRECONDITION_ROUNDS
    assert fake.titles() == []


def test_write_whose_answer_was_lost_is_created_once(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    fake.add_collection("Reading")
    fake.fail("POST", "/items", httpx.ReadTimeout("lost"), apply=True)
    report = make().sync([entry(1), entry(2)], "Reading")
    writes = fake.writes()
    assert len(writes) == 2
    assert writes[0].headers["Zotero-Write-Token"] == writes[1].headers["Zotero-Write-Token"]
    assert report.failed == []
    assert sorted(report.created) == sorted(
        (i["citationKey"], k) for k, i in fake.top_items.items()
    )
    assert len(fake.top_items) == 2


def test_409_is_retried_with_backoff(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero, clock: FakeClock
) -> None:
    fake.add_collection("Reading")
    fake.fail("POST", "/items", lambda r: text(409, "Library locked"), times=2)
    report = make().sync([entry(1)], "Reading")
    assert len(report.created) == 1
    assert clock.sleeps == [1, 2]


def test_409_that_persists_is_reported(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    fake.add_collection("Reading")
    fake.fail("POST", "/items", lambda r: text(409, "Library locked"), times=99)
    report = make().sync([entry(1), entry(2)], "Reading")
    assert report.created == []
    reason = "the library is locked (HTTP 409); gave up after 5 attempts"
    assert report.failed == [(paper(1).title, reason), (paper(2).title, reason)]


def test_timeouts_are_retried(make: Callable[..., ZoteroLibrary], fake: FakeZotero) -> None:
    wanted = fake.add_collection("Reading")
    fake.fail("GET", "/collections", httpx.ReadTimeout("slow"), times=2)
    assert make().ensure_collection("Reading", create=False) == wanted


def test_connection_failures_end_in_one_error(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    fake.fail("GET", "/collections", httpx.ConnectError("refused"), times=99)
    with pytest.raises(ZoteroError) as caught:
        make().sync([entry(1)], "Reading")
    assert "could not reach the Zotero API (ConnectError); gave up after 5 attempts" in str(
        caught.value
    )
    assert KEY not in str(caught.value)


def test_server_errors_during_writes_leave_the_rest_failed(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    fake.add_collection("Reading")
    fake.fail("POST", "/items", lambda r: text(500, "Internal error"), times=99)
    report = make().sync([entry(n) for n in range(1, 61)], "Reading")
    assert report.created == []
    assert len(report.failed) == 60
    assert len(fake.writes()) == 5  # the first batch only: the second is not attempted


# --------------------------------------------------------------------------- pull


def test_collection_items_come_back_as_papers(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    make().sync([entry(1, ("to-read", "video"))], "Reading")
    reading = next(iter(fake.collections))
    fake.add_item(
        {
            "itemType": "book",
            "title": "A Book",
            "creators": [{"creatorType": "author", "name": "Plato"}],
            "date": "2001",
            "collections": [reading],
            "extra": "Citation Key: plato2001book",
        }
    )
    fake.add_item({"itemType": "note", "note": "hi", "collections": [reading]})
    fake.add_item({"itemType": "book", "title": "Elsewhere"})
    pulled = dict((p.title, (key, p)) for key, p in make().collection_items("Reading"))
    assert set(pulled) == {paper(1).title, "A Book"}
    key, first = pulled[paper(1).title]
    assert key == "lovelace2025study1"
    assert first.arxiv_id == ArxivId("2501.00001")
    assert first.tags == ("to-read", "video")
    assert (first.year, first.month) == (2025, 1)
    book_key, book = pulled["A Book"]
    assert book_key == "plato2001book"
    assert book.arxiv_id is None and book.authors == ("Plato",) and book.year == 2001
    with pytest.raises(ZoteroError, match="no collection 'Nope'"):
        make().collection_items("Nope")


# --------------------------------------------------------------------------- loopback


@pytest.fixture
def loopback(fake: FakeZotero) -> Iterator[str]:
    """Serve the fake over real HTTP on 127.0.0.1, for pyzotero's own httpx session."""

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            url = f"http://{self.headers['Host']}{self.path}"
            request = httpx.Request(
                self.command, url, headers=dict(self.headers.items()), content=body
            )
            response = fake(request)
            response.read()
            self.send_response(response.status_code)
            for name, value in response.headers.items():
                if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.content)))
            self.end_headers()
            self.wfile.write(response.content)

        do_GET = do_POST = _serve  # noqa: N815 - http.server dispatches on these names

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_sync_over_loopback_http(
    loopback: str, fake: FakeZotero, clock: FakeClock, cache_dir: Path
) -> None:
    config = ZoteroConfig(api_url=loopback, library_id=LIBRARY, library_type="user", api_key=KEY)
    with ZoteroLibrary(config, cache_dir, sleep=clock.sleep, clock=clock.clock) as library:
        report = library.sync([entry(1), entry(2)], "Reading")
    assert len(report.created) == 2 and report.requests == 4
    assert urlsplit(str(fake.requests[0].url)).path == f"{PREFIX}/collections"
    assert fake.requests[0].headers["Zotero-API-Version"] == "3"
    with ZoteroLibrary(config, cache_dir, sleep=clock.sleep, clock=clock.clock) as library:
        assert library.sync([entry(1), entry(2)], "Reading").requests == 1


# --------------------------------------------------------------------------- issue 10


def test_journal_doi_makes_a_journal_article_keeping_the_arxiv_id(
    schema: dict[str, Any],
) -> None:
    published = paper(
        1,
        doi="10.1111/j.1365-2966.2011.19851.x",
        journal_ref="Mon.Not.Roy.Astron.Soc. 419 (2012) 1795-1803",
        year=2011,
        month=7,
        date="2011-07-21",
        categories=("astro-ph.CO", "astro-ph.GA"),
    )
    item = paper_to_item(published, "odea2011model", ["to-read"], [])
    assert item["itemType"] == "journalArticle"
    assert item["DOI"] == "10.1111/j.1365-2966.2011.19851.x"
    assert item["publicationTitle"] == "Mon.Not.Roy.Astron.Soc"
    assert (item["volume"], item["pages"]) == ("419", "1795-1803")
    assert item["date"] == "2012"  # the venue's year, not the preprint's
    assert item["extra"] == "arXiv:2501.00001 [cs.CL]"
    assert item["url"] == "https://arxiv.org/abs/2501.00001"
    assert item["citationKey"] == "odea2011model"
    assert "archiveID" not in item and "repository" not in item
    assert item["tags"] == [
        {"tag": "to-read"},
        {"tag": "astro-ph.CO", "type": 1},
        {"tag": "astro-ph.GA", "type": 1},
    ]
    assert validate_item(item, schema) == []
    conference = paper_to_item(
        paper(2, doi="10.1145/3610548.3618154", journal_ref="SIGGRAPH Asia 2023 Conference Papers"),
        "k",
        [],
        [],
    )
    assert conference["itemType"] == "conferencePaper"
    assert conference["proceedingsTitle"] == "SIGGRAPH Asia 2023 Conference Papers"
    assert validate_item(conference, schema) == []
    # Back from Zotero: the venue field by field, the key from citationKey.
    back = item_to_paper({**item, "key": "ABCD2345", "version": 3})
    assert back.venue is not None and back.venue.kind == "journal"
    assert back.venue.name == "Mon.Not.Roy.Astron.Soc" and back.venue.pages == "1795-1803"
    assert back.doi == "10.1111/j.1365-2966.2011.19851.x"
    assert back.arxiv_id == ArxivId("2501.00001")
    assert back.tags == ("to-read",) and back.categories == ("astro-ph.CO", "astro-ph.GA")


def test_preprint_gets_full_date_comment_note_and_pdf_link(schema: dict[str, Any]) -> None:
    preprint = paper(1, date="2025-01-14", comment="12 pages, <b>ACL</b> & co")
    item = paper_to_item(preprint, "k", [], [], access_date="2026-12-03T08:00:00Z")
    assert item["itemType"] == "preprint" and item["date"] == "2025-01-14"
    assert item["accessDate"] == "2026-12-03T08:00:00Z"
    note, link = paper_children(preprint)
    assert note == {
        "itemType": "note",
        "note": "Comment: 12 pages, &lt;b&gt;ACL&lt;/b&gt; &amp; co",
        "tags": [],
        "relations": {},
    }
    assert link["linkMode"] == "linked_url" and link["url"] == "https://arxiv.org/pdf/2501.00001"
    assert paper_children(paper(1, arxiv_id=None, doi="10.1/x")) == []
    # A date that disagrees with the year and month is not used.
    assert paper_to_item(paper(1, date="2024-12-31"), "", [], [])["date"] == "2025-01"


def test_citation_key_field_wins_over_extra() -> None:
    assert item_citation_key({"citationKey": "field2020", "extra": "Citation Key: old"}) == (
        "field2020"
    )
    assert item_citation_key({"citationKey": " ", "extra": "Citation Key: extra2020"}) == (
        "extra2020"
    )
    assert item_citation_key({"extra": "arXiv:2501.00001"}) is None


def test_old_extra_key_moves_to_the_field_and_a_foreign_key_stays(
    make: Callable[..., ZoteroLibrary], fake: FakeZotero
) -> None:
    reading = fake.add_collection("Reading")
    base = paper_to_item(paper(1), "", ["to-read"], [reading])
    ours = fake.add_item({**base, "extra": "arXiv:2501.00001 [cs.CL]\nCitation Key: ours2025"})
    theirs_data = paper_to_item(paper(2), "", ["to-read"], [reading])
    theirs = fake.add_item({**theirs_data, "extra": "Citation Key: theirs2025"})
    keyless = fake.add_item(paper_to_item(paper(3), "", ["to-read"], [reading]))
    report = make().sync(
        [
            ("ours2025", paper(1), ["to-read"]),
            ("mine2025", paper(2), ["to-read"]),
            ("other2025", paper(3), ["to-read"]),
        ],
        "Reading",
    )
    assert report.updated == [("ours2025", ours, "citation key ours2025 in its field")]
    assert fake.items[ours]["citationKey"] == "ours2025"
    assert fake.items[ours]["extra"] == "arXiv:2501.00001 [cs.CL]"  # one key, not two
    assert "citationKey" not in fake.items[theirs] and "citationKey" not in fake.items[keyless]
    assert sorted(report.unchanged) == ["mine2025", "other2025"]
    again = make().sync([("ours2025", paper(1), ["to-read"])], "Reading")
    assert again.updated == [] and again.unchanged == ["ours2025"]


_WORDS = st.sampled_from(["Ana", "María", "Jean-Luc", "Wei", "O'Neil", "Ngũgĩ", "K.", "Zhang"])
_PARTICLES_ST = st.sampled_from(["van", "der", "de", "la", "von", "da", "Van", "De", "Ó", "ter"])


@given(
    st.lists(_WORDS, min_size=1, max_size=3),
    st.lists(_PARTICLES_ST, max_size=2),
    st.lists(_WORDS, min_size=1, max_size=2),
)
def test_a_split_name_reads_back_as_written(
    given_names: list[str], particles: list[str], family: list[str]
) -> None:
    name = " ".join([*given_names, *particles, *family])
    creator = split_creator(name)
    assert creator is not None
    assert " ".join(p for p in (creator["firstName"], creator["lastName"]) if p) == name
    assert creator["firstName"]  # a person always keeps a given name
    assert creator["lastName"].split(" ")[-1] == family[-1]
    assert item_to_paper({"title": "t", "creators": [creator]}).authors == (name,)
