"""FakeZotero speaks the Zotero Web API v3: checked with plain httpx, with pyzotero 1.6.11,
and against the recorded responses in tests/data/fixtures/zotero/."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pyzotero import zotero
from pyzotero import zotero_errors as ze

from readlist.testing.fakeapis import HTML_ERROR_PAGE, Fault
from readlist.testing.fakezotero import (
    FakeZotero,
    arxiv_ids_of,
    backoff,
    locked,
    lost,
    on,
    parsed_date,
    preprint_data,
    rate_limited,
    unavailable,
)

USER = "/users/123"
FIXTURES = Path(__file__).resolve().parent / "data" / "fixtures" / "zotero"


def fixture(name: str) -> Any:
    path = FIXTURES / name
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # pyzotero 1.6.11 builds its own httpx clients (trust_env on); keep them on loopback.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)


@pytest.fixture
def fake() -> Iterator[FakeZotero]:
    with FakeZotero() as server:
        yield server


@pytest.fixture
def client(fake: FakeZotero) -> Iterator[httpx.Client]:
    headers = {"Zotero-API-Key": "good-key", "Zotero-API-Version": "3"}
    with httpx.Client(base_url=fake.url, headers=headers, trust_env=False, timeout=5) as c:
        yield c


@pytest.fixture
def zot(fake: FakeZotero) -> zotero.Zotero:
    z = zotero.Zotero("123", "user", "good-key")
    z.endpoint = fake.url  # pyzotero 1.6.11 has no client= argument; the endpoint is plain
    return z


def token() -> str:
    return uuid.uuid4().hex


def post(
    client: httpx.Client,
    path: str,
    objects: Any,
    *,
    write_token: str | None = "auto",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent = dict(headers or {})
    if write_token == "auto":
        sent["Zotero-Write-Token"] = token()
    elif write_token is not None:
        sent["Zotero-Write-Token"] = write_token
    return client.post(path, content=json.dumps(objects), headers=sent)


def paper(n: int, **kw: Any) -> dict[str, Any]:
    return preprint_data(f"2504.{10000 + n:05d}", f"Paper number {n}", **kw)


# Authentication and libraries


def test_key_in_header_bearer_or_query(fake: FakeZotero) -> None:
    with httpx.Client(base_url=fake.url, trust_env=False) as c:
        assert c.get(f"{USER}/items", headers={"Zotero-API-Key": "good-key"}).status_code == 200
        assert (
            c.get(f"{USER}/items", headers={"Authorization": "Bearer good-key"}).status_code == 200
        )
        assert c.get(f"{USER}/items", params={"key": "good-key"}).status_code == 200
        differ = c.get(
            f"{USER}/items", params={"key": "other"}, headers={"Zotero-API-Key": "good-key"}
        )
        assert (differ.status_code, differ.text) == (
            400,
            "Zotero-API-Key header and 'key' parameter differ",
        )


def test_bad_or_missing_key_is_403(fake: FakeZotero) -> None:
    with httpx.Client(base_url=fake.url, trust_env=False) as c:
        wrong = c.get(f"{USER}/items", headers={"Zotero-API-Key": "bad-key"})
        assert (wrong.status_code, wrong.text) == (403, "Invalid key")
        anonymous_read = c.get(f"{USER}/items")
        assert (anonymous_read.status_code, anonymous_read.text) == (403, "Forbidden")
        anonymous_write = c.post(f"{USER}/items", content=json.dumps([paper(1)]))
        assert (anonymous_write.status_code, anonymous_write.text) == (
            403,
            "An API key is required for write requests.",
        )
    assert fake.items == {}


def test_unknown_libraries(client: httpx.Client) -> None:
    assert client.get("/users/999/items").status_code == 403
    assert client.get("/groups/999/items").status_code == 404
    assert client.get("/users/abc/items").status_code == 400
    assert client.get("/groups/456/items").status_code == 200
    assert client.get(f"{USER}/nonsense").status_code == 404


def test_read_only_key(fake: FakeZotero) -> None:
    fake.write_access = False
    with httpx.Client(base_url=fake.url, trust_env=False) as c:
        refused = post(c, f"{USER}/items", [paper(1)], headers={"Zotero-API-Key": "good-key"})
    assert (refused.status_code, refused.text) == (403, "Write access denied")


def test_key_info(client: httpx.Client) -> None:
    info = client.get("/keys/current").json()
    assert info["userID"] == 123 and info["access"]["user"]["write"] is True


# Writes: the report, versions and write tokens


def test_create_item_report_has_the_fixture_shape(client: httpx.Client, fake: FakeZotero) -> None:
    recorded = fixture("web-library_test-user-add-new-item.json")
    collection = fake.seed_collection("Dogs")["key"]
    template = client.get("/items/new", params={"itemType": "journalArticle"}).json()
    template["collections"] = [collection]
    response = post(client, f"{USER}/items", [template])
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    report = response.json()
    assert report.keys() == recorded.keys()
    ours, theirs = report["successful"]["0"], recorded["successful"]["0"]
    assert ours.keys() == theirs.keys()
    assert ours["library"].keys() == theirs["library"].keys()
    assert ours["links"].keys() == theirs["links"].keys()
    assert ours["meta"].keys() == {"numChildren"}  # no creators, no date
    # schema v41 has more journalArticle fields than the 2023 recording; none went missing
    assert set(theirs["data"]) <= set(ours["data"])
    assert list(ours["data"])[:4] == ["key", "version", "itemType", "title"]
    assert report["success"] == {"0": ours["key"]}
    assert report["unchanged"] == {} and report["failed"] == {}
    assert ours["data"]["collections"] == [collection]
    assert ours["version"] == ours["data"]["version"] == fake.library_version
    assert response.headers["Last-Modified-Version"] == str(fake.library_version)
    assert ours["links"]["self"]["href"] == f"https://api.zotero.org{USER}/items/{ours['key']}"


def test_preprint_has_the_arxiv_import_shape(client: httpx.Client, fake: FakeZotero) -> None:
    recorded = fixture("web-library_test-user-add-by-identifier-recognize.json")
    theirs = recorded["successful"]["0"]
    collection = fake.seed_collection("Reading")["key"]
    data = {k: v for k, v in theirs["data"].items() if k not in ("key", "version")}
    data["collections"] = [collection]
    report = post(client, f"{USER}/items", [data]).json()
    ours = report["successful"]["0"]
    assert list(ours["data"]) == list(theirs["data"])  # same fields, same order
    assert ours["meta"] == theirs["meta"]  # creatorSummary "Vaswani et al.", parsedDate
    assert ours["data"]["tags"] == theirs["data"]["tags"]  # automatic tags keep type 1
    assert ours["data"]["dateAdded"] == theirs["data"]["dateAdded"]  # given dates are kept
    assert arxiv_ids_of(ours["data"]) == {"1706.03762"}


def test_collections_have_the_fixture_shape(client: httpx.Client, fake: FakeZotero) -> None:
    recorded = fixture("web-library_test-user-add-collection.json")["successful"]["0"]
    listed = fixture("web-library_min-user-collections.json")[0]
    parent = post(client, f"{USER}/collections", [{"name": "Dogs"}]).json()["success"]["0"]
    report = post(
        client, f"{USER}/collections", [{"name": "Irish Setter", "parentCollection": parent}]
    ).json()
    ours = report["successful"]["0"]
    assert ours.keys() == recorded.keys()
    assert ours["links"].keys() == recorded["links"].keys()  # self, alternate, up
    assert ours["meta"].keys() == recorded["meta"].keys()
    assert ours["data"].keys() == recorded["data"].keys()
    assert ours["data"]["parentCollection"] == parent
    top = client.get(f"{USER}/collections/top").json()
    assert [c["key"] for c in top] == [parent]
    assert top[0].keys() == listed.keys() and top[0]["data"]["parentCollection"] is False
    assert top[0]["meta"] == {"numCollections": 1, "numItems": 0}
    children = client.get(f"{USER}/collections/{parent}/collections").json()
    assert [c["data"]["name"] for c in children] == ["Irish Setter"]
    single = client.get(f"{USER}/collections/{parent}")
    assert single.json()["key"] == parent
    assert single.headers["Last-Modified-Version"] == str(top[0]["version"])


def test_invalid_objects_fail_alone(client: httpx.Client, fake: FakeZotero) -> None:
    collection = fake.seed_collection("Reading")["key"]
    version = fake.library_version
    objects = [
        paper(1, collections=[collection]),
        {"itemType": "bogus"},
        {"itemType": "preprint", "publisher": "x"},  # a base field, not valid for preprint
        {"itemType": "preprint", "publicationTitle": ""},  # empty values are fine anywhere
        {"itemType": "preprint", "creators": [{"creatorType": "inventor", "name": "X"}]},
        {"itemType": "preprint", "tags": ["plain string"]},
        {"itemType": "preprint", "collections": ["ZZZZZZZZ"]},
        {"itemType": "preprint", "title": "x" * 65536},
        {"itemType": "preprint", "tags": [{"tag": "t" * 256}]},
        {"itemType": "preprint", "notAField": "x"},
        {"title": "no type"},
        {"itemType": "preprint", "relations": []},  # an empty array is allowed
        {"itemType": "preprint", "creators": [{"creatorType": "author", "firstName": "A"}]},
        "not an object",
        paper(2),
    ]
    response = post(client, f"{USER}/items", objects)
    assert response.status_code == 200
    report = response.json()
    assert sorted(report["success"], key=int) == ["0", "3", "11", "14"]
    failed = {i: (f["code"], f["message"]) for i, f in report["failed"].items()}
    assert failed == {
        "1": (400, "'bogus' is not a valid itemType"),
        "2": (400, "'publisher' is not a valid field for type 'preprint'"),
        "4": (400, "'inventor' is not a valid creator type for item type 'preprint'"),
        "5": (400, "Tag must be an object"),
        "6": (409, "Collection ZZZZZZZZ not found"),
        "7": (413, f"Title field value '{'x' * 50}…' too long"),
        "8": (413, f"Tag '{'t' * 50}…' too long"),
        "9": (400, "Invalid property 'notAField'"),
        "10": (400, "'itemType' property not provided"),
        "12": (400, "'lastName' creator field must be set if 'firstName' is set"),
        "13": (400, "Invalid value for index 13 in uploaded data; expected JSON item object"),
    }
    assert report["failed"]["6"]["data"] == {"collection": "ZZZZZZZZ"}
    assert report["failed"]["7"]["data"]["field"] == "Title"
    # Each object written is its own transaction: one version per success, none for failures.
    assert fake.library_version == version + 4
    assert response.headers["Last-Modified-Version"] == str(version + 4)
    versions = sorted(o["version"] for o in report["successful"].values())
    assert versions == [version + 1, version + 2, version + 3, version + 4]
    assert len(fake.items) == 4


def test_more_than_50_objects_is_413_and_the_token_survives(
    client: httpx.Client, fake: FakeZotero
) -> None:
    write_token = token()
    too_many = post(client, f"{USER}/items", [paper(n) for n in range(51)], write_token=write_token)
    assert (too_many.status_code, too_many.text) == (413, "Cannot add more than 50 items at a time")
    collections = post(client, f"{USER}/collections", [{"name": str(n)} for n in range(51)])
    assert collections.text == "Cannot add more than 50 collections at a time"
    assert fake.items == {} and fake.library_version == 0
    ok = post(client, f"{USER}/items", [paper(n) for n in range(50)], write_token=write_token)
    assert ok.status_code == 200 and len(ok.json()["success"]) == 50


def test_write_token_reuse_is_412(client: httpx.Client, fake: FakeZotero) -> None:
    write_token = token()
    first = post(client, f"{USER}/items", [paper(1)], write_token=write_token)
    assert first.status_code == 200
    again = post(client, f"{USER}/items", [paper(1)], write_token=write_token)
    assert (again.status_code, again.text) == (412, "Write token already used")
    assert len(fake.items) == 1
    # Even a report whose objects all failed uses the token up (the request got that far).
    spent = token()
    assert post(client, f"{USER}/items", [{"itemType": "bogus"}], write_token=spent).json()[
        "failed"
    ]
    assert post(client, f"{USER}/items", [paper(2)], write_token=spent).status_code == 412
    assert post(client, f"{USER}/items", [paper(2)], write_token="abcd").status_code == 400
    assert post(client, f"{USER}/items", [paper(2)], write_token="x" * 33).status_code == 400


def test_failed_request_does_not_use_the_token(client: httpx.Client, fake: FakeZotero) -> None:
    fake.seed_item(paper(1))
    write_token = token()
    stale = post(
        client,
        f"{USER}/items",
        [paper(2)],
        write_token=write_token,
        headers={"If-Unmodified-Since-Version": "0"},
    )
    assert stale.status_code == 412
    fake.inject(locked())
    assert post(client, f"{USER}/items", [paper(2)], write_token=write_token).status_code == 409
    assert post(client, f"{USER}/items", "not json", write_token=write_token).status_code == 400
    retry = post(client, f"{USER}/items", [paper(2)], write_token=write_token)
    assert retry.status_code == 200


def test_write_token_memory_can_be_off() -> None:
    with (
        FakeZotero(write_token_memory=False) as fake,
        httpx.Client(
            base_url=fake.url, headers={"Zotero-API-Key": "good-key"}, trust_env=False
        ) as c,
    ):
        assert post(c, f"{USER}/items", [paper(1)], write_token="same-token").status_code == 200
        assert post(c, f"{USER}/items", [paper(2)], write_token="same-token").status_code == 200


def test_library_version_precondition(client: httpx.Client, fake: FakeZotero) -> None:
    fake.seed_item(paper(1))
    fake.seed_item(paper(2))
    assert fake.library_version == 2
    stale = post(client, f"{USER}/items", [paper(3)], headers={"If-Unmodified-Since-Version": "1"})
    assert stale.status_code == 412
    assert stale.text == "Library has been modified since specified version (expected 1, found 2)"
    assert stale.headers["Last-Modified-Version"] == "2"
    current = post(
        client, f"{USER}/items", [paper(3)], headers={"If-Unmodified-Since-Version": "2"}
    )
    assert current.status_code == 200
    bad = post(client, f"{USER}/items", [paper(4)], headers={"If-Unmodified-Since-Version": "x"})
    assert bad.status_code == 400
    assert len(fake.items) == 3


def test_key_based_writes_need_versions(client: httpx.Client, fake: FakeZotero) -> None:
    item = fake.seed_item(paper(1))
    key, version = item["key"], item["version"]
    fake.bump_library_version(5)
    report = post(
        client,
        f"{USER}/items",
        [
            {"key": key, "version": version, "tags": [{"tag": "new"}]},  # current: updated
            {"key": key, "version": version - 1 if version > 1 else 0, "extra": "x"},  # stale
            {"key": key, "extra": "y"},  # no version, no header
            {"key": "ABCD2345", "version": 3, "itemType": "preprint"},  # not there
            {"key": "ABCD2346", "version": 0, "itemType": "preprint"},  # new, own key
            {"key": "bad", "itemType": "preprint"},
        ],
    ).json()
    assert list(report["success"]) == ["0", "4"]
    assert report["failed"]["1"]["code"] == 412
    assert report["failed"]["1"]["key"] == key
    assert report["failed"]["1"]["message"].startswith(
        "Item has been modified since specified version"
    )
    assert report["failed"]["2"]["code"] == 428
    assert report["failed"]["3"] == {
        "key": "ABCD2345",
        "code": 404,
        "message": "Item doesn't exist (expected version 3; use 0 instead)",
    }
    assert report["failed"]["5"]["message"] == "'bad' is not a valid item key"
    updated = fake.items[key]
    assert updated["data"]["tags"] == [{"tag": "new"}]
    assert updated["data"]["title"] == "Paper number 1"  # POST updates are partial
    assert updated["version"] > version
    assert "ABCD2346" in fake.items
    # With the library header, a key alone is enough; the same data again is "unchanged".
    library = str(fake.library_version)
    same = post(
        client,
        f"{USER}/items",
        [{"key": key, "tags": [{"tag": "new"}]}],
        headers={"If-Unmodified-Since-Version": library},
    ).json()
    assert same["unchanged"] == {"0": key} and same["successful"] == {}


def test_full_objects_are_accepted_as_their_data(client: httpx.Client, fake: FakeZotero) -> None:
    item = client.get(f"{USER}/items/{fake.seed_item(paper(1))['key']}").json()
    item["data"]["title"] = "Renamed"
    report = post(client, f"{USER}/items", [item]).json()  # what pyzotero 1.6.11 sends
    assert report["success"] == {"0": item["key"]}
    assert fake.items[item["key"]]["data"]["title"] == "Renamed"


def test_patch_single_item(client: httpx.Client, fake: FakeZotero) -> None:
    item = fake.seed_item(paper(1))
    other = fake.seed_collection("Other")["key"]
    key, version = item["key"], item["version"]
    path = f"{USER}/items/{key}"
    body = json.dumps({"collections": [other]})
    missing = client.patch(path, content=body)
    assert missing.status_code == 428
    ok = client.patch(path, content=body, headers={"If-Unmodified-Since-Version": str(version)})
    assert ok.status_code == 204 and ok.content == b""
    assert ok.headers["Last-Modified-Version"] == str(fake.library_version)
    assert fake.items[key]["data"]["collections"] == [other]
    assert fake.items[key]["version"] == fake.library_version
    stale = client.patch(path, content=body, headers={"If-Unmodified-Since-Version": str(version)})
    assert stale.status_code == 412
    assert stale.text == (
        f"Item has been modified since specified version (expected {version}, "
        f"found {fake.items[key]['version']})"
    )
    assert stale.headers["Last-Modified-Version"] == str(fake.items[key]["version"])
    gone = client.patch(
        f"{USER}/items/ABCD2345", content=body, headers={"If-Unmodified-Since-Version": "1"}
    )
    assert gone.status_code == 412
    bad = client.patch(
        path,
        content=json.dumps({"collections": ["ZZZZZZZZ"]}),
        headers={"If-Unmodified-Since-Version": str(fake.items[key]["version"])},
    )
    assert (bad.status_code, bad.text) == (409, "Collection ZZZZZZZZ not found")


def test_delete_and_deleted(client: httpx.Client, fake: FakeZotero) -> None:
    item = fake.seed_item(paper(1))
    path = f"{USER}/items/{item['key']}"
    assert client.delete(path).status_code == 428
    assert client.delete(path, headers={"If-Unmodified-Since-Version": "0"}).status_code == 412
    done = client.delete(path, headers={"If-Unmodified-Since-Version": str(item["version"])})
    assert done.status_code == 204
    assert fake.items == {}
    deleted = client.get(f"{USER}/deleted", params={"since": "0"}).json()
    assert deleted["items"] == [item["key"]]


def test_writes_to_a_group_library(client: httpx.Client, fake: FakeZotero) -> None:
    report = post(client, "/groups/456/items", [paper(1)]).json()
    item = report["successful"]["0"]
    assert item["library"]["type"] == "group" and item["library"]["id"] == 456
    assert fake.library("456").version == 1 and fake.library_version == 0


# Reads


def test_pagination_links(client: httpx.Client, fake: FakeZotero) -> None:
    for n in range(7):
        fake.seed_item(paper(n))
    first = client.get(f"{USER}/items", params={"limit": "3", "format": "json"})
    assert first.headers["Total-Results"] == "7"
    assert first.headers["Last-Modified-Version"] == "7"
    links = first.links
    assert links["next"]["url"] == f"https://api.zotero.org{USER}/items?limit=3&start=3"
    assert links["last"]["url"] == f"https://api.zotero.org{USER}/items?limit=3&start=6"
    assert links["alternate"]["url"] == f"https://www.zotero.org{USER}/items"
    middle = client.get(f"{USER}/items", params={"limit": "3", "start": "3"})
    assert middle.links["prev"]["url"] == f"https://api.zotero.org{USER}/items?limit=3"
    assert middle.links["first"]["url"] == f"https://api.zotero.org{USER}/items?limit=3"
    last = client.get(f"{USER}/items", params={"limit": "3", "start": "6"})
    assert "next" not in last.links and len(last.json()) == 1
    seen = [o["key"] for r in (first, middle, last) for o in r.json()]
    assert sorted(seen) == sorted(fake.items) and len(set(seen)) == 7
    # newest first by default
    assert [o["version"] for o in first.json()] == [7, 6, 5]
    everything = client.get(f"{USER}/items")
    assert len(everything.json()) == 7
    assert set(everything.links) == {"alternate"}  # one page: no first/next/last


def test_limit_default_and_maximum(client: httpx.Client, fake: FakeZotero) -> None:
    for n in range(120):
        fake.seed_item(paper(n))
    assert len(client.get(f"{USER}/items").json()) == 25
    assert len(client.get(f"{USER}/items", params={"limit": "500"}).json()) == 100
    assert len(client.get(f"{USER}/items", params={"limit": "0"}).json()) == 25
    keys = client.get(f"{USER}/items", params={"format": "keys"})
    assert keys.headers["Content-Type"].startswith("text/plain")
    assert len(keys.text.splitlines()) == 120 and keys.text.endswith("\n")


def test_versions_and_since(client: httpx.Client, fake: FakeZotero) -> None:
    recorded = fixture("pyzotero_item_versions.json")
    keys = [fake.seed_item(paper(n))["key"] for n in range(30)]
    versions = client.get(f"{USER}/items", params={"format": "versions"})
    body = versions.json()
    assert isinstance(body, dict) and all(isinstance(v, int) for v in body.values())
    assert type(next(iter(recorded.values()))) is type(next(iter(body.values())))
    assert len(body) == 30  # not paginated
    since = client.get(f"{USER}/items", params={"format": "versions", "since": "28"}).json()
    assert since == {keys[28]: 29, keys[29]: 30}
    assert client.get(f"{USER}/items", params={"since": "x"}).status_code == 400
    collections = client.get(f"{USER}/collections", params={"format": "versions"}).json()
    assert collections == {}


def test_if_modified_since_version(client: httpx.Client, fake: FakeZotero) -> None:
    fake.seed_item(paper(1))
    same = client.get(f"{USER}/items", headers={"If-Modified-Since-Version": "1"})
    assert same.status_code == 304 and same.content == b""
    assert (
        client.get(f"{USER}/collections", headers={"If-Modified-Since-Version": "1"}).status_code
        == 304
    )
    fake.seed_item(paper(2))
    changed = client.get(f"{USER}/items", headers={"If-Modified-Since-Version": "1"})
    assert changed.status_code == 200 and len(changed.json()) == 2


def test_quick_search_ignores_doi_extra_and_archive_id(
    client: httpx.Client, fake: FakeZotero
) -> None:
    fake.seed_item(
        preprint_data(
            "2504.10479", "InternVL3: Exploring Advanced Training", authors=["Jinguo Zhu"]
        )
    )
    fake.seed_item(
        preprint_data("2312.06647", "Some Other Paper", authors=["Zoë Müller"], date="2023-12-11")
    )

    def titles(q: str) -> list[str]:
        return sorted(
            o["data"]["title"] for o in client.get(f"{USER}/items", params={"q": q}).json()
        )

    assert titles("internvl3") == ["InternVL3: Exploring Advanced Training"]
    assert titles("zhu") == ["InternVL3: Exploring Advanced Training"]
    assert titles("muller") == ["Some Other Paper"]  # accent-insensitive, like MySQL
    assert titles("2023") == ["Some Other Paper"]  # the year
    assert titles('"other paper" zoë') == ["Some Other Paper"]
    assert titles("2504.10479") == []  # archiveID, extra
    assert titles("10.48550") == []  # DOI
    assert titles("arXiv") == []  # repository, libraryCatalog


def test_item_filters(client: httpx.Client, fake: FakeZotero) -> None:
    reading = fake.seed_collection("Reading")["key"]
    a = fake.seed_item(
        paper(1, tags=["to-read", {"tag": "Computer Science", "type": 1}], collections=[reading])
    )
    b = fake.seed_item(
        {"itemType": "journalArticle", "title": "Journal", "tags": [{"tag": "done"}]}
    )
    c = fake.seed_item({**paper(3), "deleted": 1})
    note = fake.seed_item(
        {"itemType": "note", "note": "<p>Comment: 12 pages</p>", "parentItem": a["key"]}
    )

    def keys(path: str = f"{USER}/items", **params: Any) -> set[str]:
        response = client.get(path, params=params)
        assert response.status_code == 200, response.text
        return {o["key"] for o in response.json()}

    assert keys() == {a["key"], b["key"], note["key"]}
    assert keys(f"{USER}/items/top") == {a["key"], b["key"]}
    assert keys(includeTrashed="1") == {a["key"], b["key"], c["key"], note["key"]}
    assert keys(f"{USER}/items/trash") == {c["key"]}
    assert keys(itemType="preprint") == {a["key"]}
    assert keys(itemType="-preprint") == {b["key"], note["key"]}
    assert keys(itemType="preprint || journalArticle") == {a["key"], b["key"]}
    assert keys(tag="TO-READ") == {a["key"]}
    assert keys(tag="to-read || done") == {a["key"], b["key"]}
    assert keys(tag="-done") == {a["key"], note["key"]}
    assert keys(itemKey=f"{a['key']},{b['key']}") == {a["key"], b["key"]}
    assert keys(f"{USER}/collections/{reading}/items") == {a["key"]}
    assert keys(f"{USER}/collections/{reading}/items/top") == {a["key"]}
    assert keys(f"{USER}/items/{a['key']}/children") == {note["key"]}
    assert client.get(f"{USER}/items", params={"itemType": "bogus"}).status_code == 400
    many = ",".join([f"ABCDEF{x}{y}" for x in "23456789" for y in "23456789"][:51])
    assert client.get(f"{USER}/items", params={"itemKey": many}).status_code == 400
    single = client.get(f"{USER}/items/{a['key']}")
    assert single.headers["Last-Modified-Version"] == str(a["version"])
    assert single.json()["meta"]["numChildren"] == 1
    assert client.get(f"{USER}/items/ABCD2345").status_code == 404
    assert client.get(f"{USER}/collections/{reading}").json()["meta"]["numItems"] == 1
    assert client.get(f"{USER}/items", params={"format": "atom"}).status_code == 501


def test_schema_endpoints(client: httpx.Client) -> None:
    recorded = fixture("web-library_new-item-journal-article.json")
    template = client.get("/items/new", params={"itemType": "journalArticle"}).json()
    assert list(template)[:3] == list(recorded)[:3]  # itemType, title, creators
    assert template["creators"] == recorded["creators"]
    assert set(recorded) <= set(template)
    fields = client.get("/itemFields").json()
    assert fields[0].keys() == fixture("pyzotero_item_fields.json")[0].keys()
    preprint_fields = {
        f["field"] for f in client.get("/itemTypeFields", params={"itemType": "preprint"}).json()
    }
    assert {"archiveID", "repository", "DOI"} <= preprint_fields
    creator_types = client.get("/itemTypeCreatorTypes", params={"itemType": "preprint"}).json()
    assert creator_types[0]["creatorType"] == "author"
    assert client.get("/schema").json()["version"] == 41


# Faults


def test_injected_429_and_503_change_nothing(client: httpx.Client, fake: FakeZotero) -> None:
    fake.inject(rate_limited(3), unavailable(retry_after=7))
    limited = post(client, f"{USER}/items", [paper(1)])
    assert (limited.status_code, limited.text, limited.headers["Retry-After"]) == (
        429,
        "Too many requests",
        "3",
    )
    down = client.get(f"{USER}/items")
    assert (down.status_code, down.headers["Retry-After"]) == (503, "7")
    assert fake.items == {} and fake.library_version == 0
    assert fake.pending_faults == 0


def test_backoff_header_on_a_success(client: httpx.Client, fake: FakeZotero) -> None:
    fake.inject(backoff(5))
    response = post(client, f"{USER}/items", [paper(1)])
    assert response.status_code == 200 and response.headers["Backoff"] == "5"
    assert len(fake.items) == 1
    assert "Backoff" not in client.get(f"{USER}/items").headers


def test_locked_library_409(client: httpx.Client, fake: FakeZotero) -> None:
    fake.inject(locked())
    response = post(client, f"{USER}/items", [paper(1)])
    assert (response.status_code, response.text) == (409, "The target library is locked.")
    assert fake.items == {}


def test_faults_by_method_and_path(client: httpx.Client, fake: FakeZotero) -> None:
    fake.inject(rate_limited(1, method="POST", path=f"{USER}/collections"))
    assert client.get(f"{USER}/collections").status_code == 200  # GET: not this fault
    assert post(client, f"{USER}/items", [paper(1)]).status_code == 200  # other path
    assert post(client, f"{USER}/collections", [{"name": "A"}]).status_code == 429
    fake.inject(on("GET", Fault.status(500, "An error occurred")))
    assert post(client, f"{USER}/collections", [{"name": "A"}]).status_code == 200
    assert client.get(f"{USER}/items").status_code == 500


def test_non_json_body_timeout_and_drop(client: httpx.Client, fake: FakeZotero) -> None:
    fake.inject(Fault.body(HTML_ERROR_PAGE, "text/html", code=200))
    page = client.get(f"{USER}/items")
    assert page.status_code == 200 and page.text.startswith("<!DOCTYPE html>")
    fake.inject(Fault.timeout(3))
    impatient = httpx.Client(
        base_url=fake.url, headers={"Zotero-API-Key": "good-key"}, trust_env=False, timeout=0.3
    )
    with impatient, pytest.raises(httpx.ReadTimeout):
        post(impatient, f"{USER}/items", [paper(1)])
    time.sleep(0.1)
    assert fake.items == {}  # the client hung up while the server stalled: nothing written
    fake.inject(Fault.drop())
    with pytest.raises(httpx.RemoteProtocolError):
        post(client, f"{USER}/items", [paper(1)])
    assert fake.items == {}


def test_lost_answer_then_retry_with_the_same_token(client: httpx.Client, fake: FakeZotero) -> None:
    fake.inject(lost(method="POST"))
    write_token = token()
    with pytest.raises(httpx.RemoteProtocolError):
        post(client, f"{USER}/items", [paper(1)], write_token=write_token)
    assert len(fake.items) == 1  # the write happened; only the answer was lost
    retry = post(client, f"{USER}/items", [paper(1)], write_token=write_token)
    assert (retry.status_code, retry.text) == (412, "Write token already used")
    fake.check_invariants()


# The fake's own bookkeeping


def test_requests_are_recorded(client: httpx.Client, fake: FakeZotero) -> None:
    post(client, f"{USER}/items", [paper(1)], write_token="token-12345")
    client.get(f"{USER}/items", params=[("tag", "a"), ("tag", "b")])
    write, read = fake.requests[-2:]
    assert (write.method, write.path) == ("POST", f"{USER}/items")
    assert write.header("zotero-write-token") == "token-12345"
    assert write.body[0]["title"] == "Paper number 1"
    assert read.query == {"tag": ["a", "b"]} and read.params == {"tag": "a"}
    assert fake.requests_to("POST", "/items") == [write]


def test_check_invariants_finds_duplicate_papers(fake: FakeZotero) -> None:
    fake.seed_item(preprint_data("2504.10479v2", "InternVL3"))
    fake.check_invariants()
    published = {
        "itemType": "journalArticle",
        "title": "InternVL3 (published)",
        "DOI": "10.1000/xyz",
        "extra": "arXiv: 2504.10479",
    }
    fake.seed_item(published)
    with pytest.raises(AssertionError, match="arXiv 2504.10479 is in two items"):
        fake.check_invariants()
    assert len(fake.items_with_arxiv_id("arXiv:2504.10479v1")) == 2


def test_check_invariants_finds_duplicate_collections(fake: FakeZotero) -> None:
    parent = fake.seed_collection("Reading")["key"]
    fake.seed_collection("Multimodal", parent)
    fake.seed_collection("Multimodal")  # same name, other parent: fine
    fake.check_invariants()
    assert fake.collection_key("Multimodal", parent)
    fake.seed_collection("Multimodal", parent)
    with pytest.raises(AssertionError, match="two collections named 'Multimodal'"):
        fake.check_invariants()
    fake.check_invariants(unique_collection_names=False)


def test_arxiv_ids_of_every_form() -> None:
    assert arxiv_ids_of({"url": "https://arxiv.org/pdf/2504.10479v3"}) == {"2504.10479"}
    assert arxiv_ids_of({"DOI": "10.48550/arXiv.math/0211159"}) == {"math/0211159"}
    assert arxiv_ids_of({"archiveID": "arXiv:hep-th/9901001"}) == {"hep-th/9901001"}
    assert arxiv_ids_of({"extra": "Citation Key: x\narXiv:math.GT/0309136v1"}) == {"math/0309136"}
    assert arxiv_ids_of({"title": "arXiv:2504.10479"}) == set()


def test_seed_refuses_what_the_server_would(fake: FakeZotero) -> None:
    with pytest.raises(ValueError, match="not a valid itemType"):
        fake.seed_item({"itemType": "paper"})
    with pytest.raises(ValueError, match="409"):
        fake.seed_item(paper(1, collections=["ZZZZZZZZ"]))
    edited = fake.edit_item(fake.seed_item(paper(2))["key"], {"title": "Changed elsewhere"})
    assert edited["data"]["title"] == "Changed elsewhere" and edited["version"] == 2


def test_parsed_date() -> None:
    assert parsed_date("2023-08-02") == "2023-08-02"
    assert parsed_date("2018") == "2018"
    assert parsed_date("October 11, 2018") == "2018-10-11"
    assert parsed_date("") is None


def test_concurrent_writers_never_share_a_version(fake: FakeZotero) -> None:
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            with httpx.Client(
                base_url=fake.url, headers={"Zotero-API-Key": "good-key"}, trust_env=False
            ) as c:
                for n in range(5):
                    assert post(c, f"{USER}/items", [paper(offset + n)]).status_code == 200
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(i * 100,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    versions = sorted(o["version"] for o in fake.items.values())
    assert versions == list(range(1, 21))
    fake.check_invariants()


# pyzotero 1.6.11 against the fake


def test_pyzotero_creates_and_reads_back(zot: zotero.Zotero, fake: FakeZotero) -> None:
    created = zot.create_collections([{"name": "Reading"}])
    reading = created["success"]["0"]
    sub = zot.create_collections([{"name": "Multimodal", "parentCollection": reading}])["success"][
        "0"
    ]
    report = zot.create_items([paper(n, collections=[sub]) for n in range(3)])
    assert len(report["success"]) == 3
    assert {c["data"]["name"] for c in zot.all_collections()} == {"Reading", "Multimodal"}
    assert [c["key"] for c in zot.collections_sub(reading)] == [sub]
    assert len(zot.collection_items(sub)) == 3
    assert zot.last_modified_version() == fake.library_version == 5
    posted = fake.requests_to("POST", "/items")[-1]
    assert posted.header("Authorization") == "Bearer good-key"
    assert posted.header("Zotero-API-Version") == "3"
    assert len(posted.header("Zotero-Write-Token") or "") == 32


def test_pyzotero_everything_follows_links(zot: zotero.Zotero, fake: FakeZotero) -> None:
    for n in range(230):
        fake.seed_item(paper(n))
    items = zot.everything(zot.items())
    assert len(items) == 230 and len({i["key"] for i in items}) == 230
    reads = fake.requests_to("GET", f"{USER}/items")
    assert [r.params.get("start") for r in reads] == [None, "100", "200"]
    assert all(r.params.get("limit") == "100" for r in reads)
    top = zot.everything(zot.top(limit=50))
    assert len(top) == 230


def test_pyzotero_versions_since(zot: zotero.Zotero, fake: FakeZotero) -> None:
    keys = [fake.seed_item(paper(n))["key"] for n in range(120)]
    versions = zot.item_versions()
    assert len(versions) == 120  # format=versions is not paginated
    assert zot.item_versions(since=118) == {keys[118]: 119, keys[119]: 120}
    assert zot.collection_versions() == {}


# addto_collection sends `data=<str>`, which httpx 0.28 deprecates.
@pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")
def test_pyzotero_update_and_addto_collection(zot: zotero.Zotero, fake: FakeZotero) -> None:
    item = fake.seed_item(paper(1))
    reading = fake.seed_collection("Reading")["key"]
    fetched = zot.item(item["key"])
    assert zot.addto_collection(reading, fetched) is True  # PATCH + If-Unmodified-Since-Version
    assert fake.items[item["key"]]["data"]["collections"] == [reading]
    fresh = zot.item(item["key"])
    fresh["data"]["tags"].append({"tag": "to-read"})
    assert zot.update_item(fresh) is True  # GETs /itemFields first (check_items)
    assert fake.items[item["key"]]["data"]["tags"] == [{"tag": "to-read"}]
    with pytest.raises(ze.PreConditionFailedError):
        zot.addto_collection(reading, fetched)  # stale version
    assert fake.requests_to("GET", "/itemFields")


def test_pyzotero_errors(zot: zotero.Zotero, fake: FakeZotero) -> None:
    fake.seed_item(paper(1))
    with pytest.raises(ze.PreConditionFailedError, match="Library has been modified"):
        zot.create_items([paper(2)], last_modified=0)
    fake.inject(locked(method="POST"))
    with pytest.raises(ze.ConflictError):
        zot.create_items([paper(2)])
    fake.inject(unavailable(code=503))
    with pytest.raises(ze.HTTPError, match="503"):
        zot.create_items([paper(2)])
    with pytest.raises(ze.TooManyItemsError):  # refused before sending
        zot.create_items([paper(n) for n in range(51)])
    bad = zotero.Zotero("123", "user", "bad-key")
    bad.endpoint = fake.url
    with pytest.raises(ze.UserNotAuthorisedError, match="Invalid key"):
        bad.items()
    other = zotero.Zotero("999", "user", "good-key")
    other.endpoint = fake.url
    with pytest.raises(ze.UserNotAuthorisedError):
        other.items()
    assert len(fake.items) == 1


def test_pyzotero_group_library(fake: FakeZotero) -> None:
    group = zotero.Zotero("456", "group", "good-key")
    group.endpoint = fake.url
    assert group.create_items([paper(1)])["success"]
    assert len(group.items()) == 1
    assert fake.items == {} and len(fake.library("456").items) == 1


# pyzotero 1.6.11's weak spots, reproduced so an adapter can be tested against them


def test_pyzotero_429_on_a_write_is_a_json_decode_error(
    zot: zotero.Zotero, fake: FakeZotero
) -> None:
    fake.inject(rate_limited(0.2, method="POST"))
    with pytest.raises(json.JSONDecodeError):  # create_items calls .json() on "Too many requests"
        zot.create_items([paper(1)])
    assert fake.items == {}
    assert zot.backoff is True  # it did record Retry-After ...
    started = time.monotonic()
    assert zot.create_items([paper(1)])["success"]  # ... and sleeps through it on the next call
    assert time.monotonic() - started >= 0.1


def test_pyzotero_429_on_a_read_returns_the_error_body(
    zot: zotero.Zotero, fake: FakeZotero
) -> None:
    fake.seed_item(paper(1))
    fake.inject(rate_limited(0.1, method="GET"))
    assert zot.items() == b"Too many requests"  # not an exception, not a list
    assert len(zot.items()) == 1


def test_pyzotero_does_not_raise_on_failed_objects(zot: zotero.Zotero, fake: FakeZotero) -> None:
    report = zot.create_items([paper(1), {"itemType": "preprint", "publisher": "x"}])
    assert report["success"] == {"0": next(iter(fake.items))}
    assert report["failed"]["1"]["code"] == 400  # a 200 with a failure inside: no exception


def test_pyzotero_records_backoff_from_a_200(zot: zotero.Zotero, fake: FakeZotero) -> None:
    fake.inject(backoff(0.2))
    assert zot.create_items([paper(1)])["success"]
    assert zot.backoff is True
    started = time.monotonic()
    zot.items()
    assert time.monotonic() - started >= 0.1  # the next call waited


@pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")
def test_pyzotero_429_on_a_patch_reports_success(zot: zotero.Zotero, fake: FakeZotero) -> None:
    item = fake.seed_item(paper(1))
    reading = fake.seed_collection("Reading")["key"]
    fetched = zot.item(item["key"])
    fake.inject(rate_limited(0.1, method="PATCH"))
    assert zot.addto_collection(reading, fetched) is True  # @backoff_check swallows the 429
    assert fake.items[item["key"]]["data"]["collections"] == []  # ... and nothing was written


# Group libraries with several members


def test_member_keys_open_the_groups_only() -> None:
    with (
        FakeZotero(member_keys={"bob-key": "124"}) as server,
        httpx.Client(base_url=server.url, trust_env=False, timeout=5) as c,
    ):
        bob = {"Zotero-API-Key": "bob-key"}
        assert c.get("/groups/456/items", headers=bob).status_code == 200
        assert c.get(f"{USER}/items", headers=bob).status_code == 403
        info = c.get("/keys/current", headers=bob).json()
        assert (info["key"], info["userID"]) == ("bob-key", 124)
        # A write token is remembered per key: the same token from two members is fine.
        same = token()
        for key in ("good-key", "bob-key"):
            sent = {"Zotero-API-Key": key, "Zotero-Write-Token": same}
            answer = c.post("/groups/456/items", content=json.dumps([paper(1)]), headers=sent)
            assert answer.status_code == 200
        again = c.post(
            "/groups/456/items",
            content=json.dumps([paper(2)]),
            headers={"Zotero-API-Key": "bob-key", "Zotero-Write-Token": same},
        )
        assert (again.status_code, again.text) == (412, "Write token already used")


def test_collections_sort_by_date_added_then_version(
    client: httpx.Client, fake: FakeZotero
) -> None:
    late = fake.seed_collection("Lab", date_added="2025-01-01T00:00:00Z")
    early = fake.seed_collection("Lab", date_added="2024-01-01T00:00:00Z")
    same_a = fake.seed_collection("Same", date_added="2024-06-01T00:00:00Z")
    same_b = fake.seed_collection("Same", date_added="2024-06-01T00:00:00Z")
    oldest_first = client.get(
        f"{USER}/collections", params={"sort": "dateAdded", "direction": "asc"}
    )
    keys = [c["key"] for c in oldest_first.json()]
    assert keys == [early["key"], same_a["key"], same_b["key"], late["key"]]
    assert all("dateAdded" not in c["data"] for c in oldest_first.json())  # not in the JSON
    fake.seed_collection("Sub", same_a["key"])  # the parent's version does not change
    newest_first = client.get(f"{USER}/collections", params={"sort": "dateAdded"})
    assert [c["key"] for c in newest_first.json()][1:] == list(reversed(keys))


def test_collection_creation_is_conditional_on_the_library_version(
    client: httpx.Client, fake: FakeZotero
) -> None:
    version = fake.library_version
    first = post(
        client,
        f"{USER}/collections",
        [{"name": "Lab"}],
        headers={"If-Unmodified-Since-Version": str(version)},
    )
    assert first.status_code == 200 and first.json()["successful"]["0"]["data"]["name"] == "Lab"
    second = post(
        client,
        f"{USER}/collections",
        [{"name": "Lab"}],
        headers={"If-Unmodified-Since-Version": str(version)},
    )
    assert second.status_code == 412
    assert second.headers["Last-Modified-Version"] == str(fake.library_version)
    assert len(fake.collections) == 1


def test_rendezvous_holds_requests_until_all_arrive(client: httpx.Client, fake: FakeZotero) -> None:
    gate = fake.rendezvous("POST", "/collections", 2, timeout=10)
    answers: list[int] = []

    def create(name: str) -> None:
        with httpx.Client(base_url=fake.url, trust_env=False, timeout=15) as c:
            answer = post(
                c, f"{USER}/collections", [{"name": name}], headers={"Zotero-API-Key": "good-key"}
            )
            answers.append(answer.status_code)

    first = threading.Thread(target=create, args=("A",))
    first.start()
    time.sleep(0.3)
    assert answers == [] and not fake.collections  # held until the second one comes
    create("B")
    first.join(timeout=10)
    assert gate.met and sorted(answers) == [200, 200] and len(fake.collections) == 2
    # Used up: the next request passes straight through.
    assert post(client, f"{USER}/collections", [{"name": "C"}]).status_code == 200
