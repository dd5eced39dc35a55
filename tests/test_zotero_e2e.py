"""Zotero end to end: the real CLI against the loopback Zotero, arXiv and HF doubles."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import listing_files

from readlist.bibfile import read_bib
from readlist.cli import cli
from readlist.testing.fakeapis import fake_pdf
from readlist.testing.fakezotero import (
    FakeZotero,
    backoff,
    locked,
    lost,
    preprint_data,
    rate_limited,
)

KEY = "good-key"


@pytest.fixture
def zotero(servers, monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> Iterator[FakeZotero]:  # type: ignore[no-untyped-def]
    arxiv, _ = servers
    with FakeZotero(api_key=KEY) as fake:
        monkeypatch.setenv("READLIST_ARXIV_PDF_URL", arxiv.pdf_url())
        monkeypatch.setenv("READLIST_ZOTERO_API_URL", fake.url)
        monkeypatch.setenv("ZOTERO_API_KEY", KEY)
        monkeypatch.setenv("ZOTERO_LIBRARY_ID", "123")
        (isolated_env / "config.toml").write_text(
            '[zotero]\ncollection = "Reading/Multimodal"\n[tags]\nvideo = ["video"]\n'
        )
        yield fake


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def listing_file(world, tmp_path: Path, count: int) -> str:  # type: ignore[no-untyped-def]
    findable = [x for x in world.listings if world.expected(x)][:count]
    path = tmp_path / "some.txt"
    path.write_text("\n\n".join(f"{x.title}\n\n{x.abstract}" for x in findable) + "\n")
    return str(path)


def test_add_to_zotero_creates_one_item_per_paper_once(world, zotero, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = listing_file(world, tmp_path, 12)
    bib = tmp_path / "refs.bib"
    result = run("add", source, "--all", "--to", "both", "--bib", str(bib))
    assert result.exit_code == 0, result.stderr
    assert "12 created" in result.stderr
    collection = zotero.collection_key("Multimodal", parent=zotero.collection_key("Reading"))
    items = zotero.items_in(collection)
    assert len(items) == 12
    keys = {e.arxiv_ids()[0].id: e.key for e in read_bib(bib).entries}
    children: dict[str, list[dict]] = {}  # type: ignore[type-arg]
    for obj in zotero.items.values():
        if obj["data"].get("parentItem"):
            children.setdefault(obj["data"]["parentItem"], []).append(obj["data"])
    published = 0
    for item in items:
        data = item["data"]
        arxiv_id = data["url"].removeprefix("https://arxiv.org/abs/")
        paper = world.paper(arxiv_id)
        # The key Better BibTeX keeps: the native field, equal to the .bib key, never in Extra.
        assert data["citationKey"] == keys[arxiv_id]
        assert "Citation Key" not in data["extra"]
        assert data["extra"].startswith(f"arXiv:{arxiv_id}")
        if paper.doi:
            published += 1
            assert data["itemType"] in ("journalArticle", "conferencePaper")
            assert data["DOI"] == paper.doi
            venue = data.get("publicationTitle") or data.get("proceedingsTitle")
            assert venue and venue in paper.journal_ref
        else:
            assert data["itemType"] == "preprint"
            assert data["DOI"] == f"10.48550/arXiv.{arxiv_id}"
            assert data["archiveID"] == f"arXiv:{arxiv_id}"
            assert data["date"] == paper.published[:10]
        automatic = [t["tag"] for t in data["tags"] if t.get("type") == 1]
        assert automatic == paper.all_categories
        notes = [c["note"] for c in children[item["key"]] if c["itemType"] == "note"]
        assert notes == (
            [f"Comment: {html.escape(paper.comment, quote=False)}"] if paper.comment else []
        )
        (link,) = [c for c in children[item["key"]] if c["itemType"] == "attachment"]
        assert link["linkMode"] == "linked_url"
        assert link["url"] == f"https://arxiv.org/pdf/{arxiv_id}"
        assert data["accessDate"]
    assert published  # the sample has journal papers among the twelve
    # the configured keyword tags ([tags] video = ["video"]) travel with the items
    for item in items:
        text = (item["data"]["title"] + " " + item["data"]["abstractNote"]).lower()
        tags = {t["tag"] for t in item["data"]["tags"]}
        if re.search(r"\bvideos?\b", text):
            assert "video" in tags
    assert any("video" in {t["tag"] for t in i["data"]["tags"]} for i in items)
    zotero.check_invariants()
    writes = [r for r in zotero.requests if r.method == "POST" and r.path.endswith("/items")]
    assert len(writes) == 1  # 12 papers with their notes and links: one batch
    again = run("add", source, "--all", "--to", "zotero")
    assert again.exit_code == 0, again.stderr
    assert "0 created" in again.stderr and "12 unchanged" in again.stderr
    assert len(zotero.top_items) == 12
    assert KEY not in result.output + again.output


def test_paper_already_in_library_is_filed_not_copied(world, zotero, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    listing = next(x for x in world.listings if world.expected(x))
    arxiv_id = world.expected(listing)
    zotero.seed_item(preprint_data(arxiv_id, listing.title))
    (tmp_path / "one.txt").write_text(f"{listing.title}\n\n{listing.abstract}\n")
    result = run("add", "one.txt", "--all", "--to", "both", "--bib", "refs.bib")
    assert result.exit_code == 0, result.stderr
    assert len(zotero.items_with_arxiv_id(arxiv_id)) == 1
    (item,) = zotero.top_items.values()
    assert item["data"]["collections"]
    assert "1 updated" in result.stderr
    zotero.check_invariants()


@pytest.mark.parametrize(
    "fault",
    [
        rate_limited(retry_after=0, method="POST"),
        backoff(0.1, method="POST"),
        locked(method="POST"),
        lost(method="POST"),
    ],
    ids=["429", "backoff", "409", "lost-answer"],
)
def test_faults_never_duplicate_or_misreport(world, zotero, tmp_path: Path, fault) -> None:  # type: ignore[no-untyped-def]
    first = run("add", listing_file(world, tmp_path, 5), "--all", "--to", "zotero")
    assert "5 created" in first.stderr
    zotero.inject(fault)  # the next write: 3 new papers (the first 5 are already there)
    result = run("add", listing_file(world, tmp_path, 8), "--all", "--to", "zotero")
    assert "Traceback" not in result.output
    zotero.check_invariants()  # never a duplicate
    summary = result.stderr.strip().splitlines()[-1]
    created = int(summary.split(" created")[0].rsplit(" ", 1)[-1])
    failed = int(summary.split(" failed")[0].rsplit(" ", 1)[-1])
    # what it reports as created is exactly what the server holds; the rest is reported failed
    assert len(zotero.top_items) == 5 + created
    assert created + failed == 3
    assert result.exit_code == (1 if failed else 0)


def test_bad_key_is_one_clear_error(
    zotero, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ZOTERO_API_KEY", "wrong-secret-key")
    (tmp_path / "r.bib").write_text("@misc{a, title={A}, eprint={2401.00001}}\n")
    result = run("sync", "--bib", str(tmp_path / "r.bib"))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: ") and "key" in lines[-1].lower()
    assert "wrong-secret-key" not in result.output


def test_sync_then_resync_is_cheap(world, zotero, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    files = [str(p) for p in listing_files()][:1]
    run("add", *files, "--all", "--bib", "refs.bib")
    result = run("sync", "--bib", "refs.bib")
    assert result.exit_code == 0, result.stderr
    resolved = sum(not e.is_unresolved for e in read_bib(tmp_path / "refs.bib").entries)
    assert f"{resolved} created" in result.stderr
    before = len(zotero.requests)
    again = run("sync", "--bib", "refs.bib")
    assert again.exit_code == 0, again.stderr
    assert len(zotero.requests) - before <= 3
    zotero.check_invariants()


def test_pull_writes_the_collection_to_a_bib(world, zotero, tmp_path: Path, texmfvar: Path) -> None:  # type: ignore[no-untyped-def]
    from latex_tools import compile_biblatex, compile_natbib, require_tools

    source = listing_file(world, tmp_path, 6)
    run("add", source, "--all", "--to", "zotero")
    mine = tmp_path / "mine.bib"
    mine.write_text("% my own\n@misc{keep, title = {Keep}}\n")
    result = run("pull", "Reading/Multimodal", "--bib", str(mine))
    assert result.exit_code == 0, result.stderr
    text = mine.read_text()
    assert text.startswith("% my own\n@misc{keep, title = {Keep}}\n")
    entries = read_bib(mine).entries
    assert len(entries) == 7
    require_tools("pdflatex", "bibtex", "biber")
    keys = [e.key for e in entries if e.key != "keep"]
    for compile_ in (compile_natbib, compile_biblatex):
        outcome = compile_(text, keys, tmp_path / compile_.__name__, texmfvar=texmfvar)
        assert outcome.ok, outcome.summary()
    again = run("pull", "Reading/Multimodal", "--bib", str(mine))
    assert "0 added, 6 already present" in again.stderr


def test_dry_run_shows_and_writes_nothing(world, zotero, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("add", listing_file(world, tmp_path, 3), "--all", "--to", "zotero", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "would create collection Reading" in result.stderr
    assert "3 created" in result.stderr and "dry run" in result.stderr
    assert not zotero.top_items and not zotero.collections
    assert not [r for r in zotero.requests if r.method != "GET"]


def test_missing_zotero_settings_are_clear_errors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "r.bib").write_text("@misc{a, title={A}, eprint={2401.00001}}\n")
    result = run("sync", "--bib", str(tmp_path / "r.bib"), "--collection", "X")
    assert result.exit_code == 2  # a configuration problem, found before any request
    assert result.stderr.startswith("Error: ") and "library_id" in result.stderr
    no_collection = run("sync", "--bib", str(tmp_path / "r.bib"))
    assert no_collection.exit_code == 2 and "no Zotero collection" in no_collection.stderr


def test_mark_read_carries_to_zotero_on_sync(
    world, zotero, tmp_path: Path, isolated_env: Path
) -> None:  # type: ignore[no-untyped-def]
    config = isolated_env / "config.toml"
    config.write_text(config.read_text() + '[tagging]\nalways = ["to-read"]\n')
    source = listing_file(world, tmp_path, 3)
    added = run("add", source, "--all", "--to", "both", "--bib", "refs.bib")
    assert added.exit_code == 0, added.stderr
    first, second, third = read_bib(tmp_path / "refs.bib").entries
    (tmp_path / "laptop.bib").write_bytes((tmp_path / "refs.bib").read_bytes())
    marked = run("mark", "read", first.key, second.key.upper(), "--bib", "refs.bib")
    assert marked.exit_code == 0, marked.stderr
    assert marked.stdout.split() == [first.key, second.key]
    assert "2 entries marked read, 0 already read" in marked.stderr
    to_read = run("list", "--to-read", "--bib", "refs.bib", "--json").stdout
    assert [r["key"] for r in __import__("json").loads(to_read)] == [third.key]
    read = run("list", "--read", "--bib", "refs.bib", "--json").stdout
    assert {r["key"] for r in __import__("json").loads(read)} == {first.key, second.key}
    synced = run("sync", "--bib", "refs.bib")
    assert synced.exit_code == 0, synced.stderr
    assert "2 updated" in synced.stderr
    by_key = {}
    for item in zotero.items_in(
        zotero.collection_key("Multimodal", parent=zotero.collection_key("Reading"))
    ):
        by_key[item["data"].get("citationKey")] = {t["tag"] for t in item["data"]["tags"]}
    assert "read" in by_key[first.key] and "to-read" not in by_key[first.key]
    assert "to-read" in by_key[third.key] and "read" not in by_key[third.key]
    # another copy of the .bib learns the status on pull
    pulled = run("pull", "--bib", "laptop.bib")
    assert pulled.exit_code == 0, pulled.stderr
    assert "2 entries marked read as in Zotero" in pulled.stderr
    assert (tmp_path / "laptop.bib").read_bytes() == (tmp_path / "refs.bib").read_bytes()
    # unread again: the status flips back, and a second sync has nothing to do
    run("mark", "unread", first.key, "--bib", "refs.bib")
    assert "1 updated" in run("sync", "--bib", "refs.bib").stderr
    assert "0 updated" in run("sync", "--bib", "refs.bib").stderr
    zotero.check_invariants()


def test_sync_pull_sync_writes_nothing_and_pulls_published_entries(
    world, zotero, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    source = listing_file(world, tmp_path, 16)
    first = tmp_path / "first.bib"
    added = run("add", source, "--all", "--to", "both", "--bib", str(first))
    assert added.exit_code == 0, added.stderr
    synced = run("sync", "--bib", str(first))
    assert synced.exit_code == 0, synced.stderr
    assert "0 created, 0 updated" in synced.stderr

    pulled_bib = tmp_path / "pulled.bib"
    pulled = run("pull", "--bib", str(pulled_bib))
    assert pulled.exit_code == 0, pulled.stderr
    entries = {e.arxiv_ids()[0].id: e for e in read_bib(pulled_bib).entries}
    originals = {e.arxiv_ids()[0].id: e for e in read_bib(first).entries}
    assert set(entries) == set(originals)
    journals = 0
    for arxiv_id, entry in entries.items():
        paper = world.paper(arxiv_id)
        (item,) = zotero.items_with_arxiv_id(arxiv_id)
        # The key is the item's citationKey, which is the key the first .bib cites.
        assert entry.key == item["data"]["citationKey"] == originals[arxiv_id].key
        assert entry.fields["eprint"] == arxiv_id
        if paper.doi:
            journals += 1
            assert entry.entry_type in ("article", "inproceedings")
            assert entry.fields["doi"] == paper.doi
            venue = entry.fields.get("journal") or entry.fields.get("booktitle")
            assert venue and venue.replace("{", "").replace("}", "") in paper.journal_ref
        else:
            assert entry.entry_type == "misc"
    assert journals

    before = len([r for r in zotero.requests if r.method != "GET"])
    again = run("sync", "--bib", str(pulled_bib))
    assert again.exit_code == 0, again.stderr
    assert "0 created, 0 updated, 16 unchanged" in again.stderr
    assert len([r for r in zotero.requests if r.method != "GET"]) == before
    zotero.check_invariants()


def pdf_attachments(zotero: FakeZotero) -> list[dict]:  # type: ignore[type-arg]
    return [
        o["data"]
        for o in zotero.items.values()
        if o["data"]["itemType"] == "attachment" and o["data"]["linkMode"] == "imported_url"
    ]


def test_attach_pdf_uploads_each_new_items_pdf(world, zotero, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = listing_file(world, tmp_path, 3)
    result = run("add", source, "--all", "--to", "zotero", "--attach-pdf")
    assert result.exit_code == 0, result.stderr
    assert "PDFs: 3 attached, 0 failed" in result.stderr
    attachments = pdf_attachments(zotero)
    assert len(attachments) == 3
    for data in attachments:
        parent = zotero.items[data["parentItem"]]["data"]
        arxiv_id = parent["url"].removeprefix("https://arxiv.org/abs/")
        assert data["url"].endswith(f"/pdf/{arxiv_id}")
        assert data["contentType"] == "application/pdf" and data["md5"]
        stored = zotero.stored_file(data["key"])
        assert stored == fake_pdf(arxiv_id, world.paper(arxiv_id).title)
    # The protocol: authorization with If-None-Match: *, the bytes without the API key,
    # then the registration.
    file_posts = [r for r in zotero.requests if r.path.endswith("/file")]
    assert len(file_posts) == 6
    assert all(r.header("If-None-Match") == "*" for r in file_posts)
    uploads = [r for r in zotero.requests if r.path.startswith("/storage-upload/")]
    assert len(uploads) == 3
    assert all(r.header("Zotero-API-Key") is None for r in uploads)
    assert all(KEY not in str(r.headers) for r in uploads)
    # Nothing new: no PDF is downloaded or uploaded again.
    again = run("add", source, "--all", "--to", "zotero", "--attach-pdf")
    assert again.exit_code == 0, again.stderr
    assert len(pdf_attachments(zotero)) == 3
    zotero.check_invariants()


def test_full_storage_quota_is_a_clear_error_and_leaves_no_empty_attachment(
    world, zotero, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    zotero.storage_quota_mb = 0.0001  # 100 bytes: no PDF fits
    source = listing_file(world, tmp_path, 2)
    result = run("add", source, "--all", "--to", "zotero", "--attach-pdf", "-v")  # full reasons
    assert result.exit_code == 1, result.stderr
    assert "2 created" in result.stderr  # the items themselves are filed
    lines = [line for line in result.stderr.splitlines() if line.startswith("  PDF of ")]
    assert len(lines) == 2
    assert "Zotero file storage is full: File would exceed quota" in lines[0]
    assert "the library's storage quota is 0.0001 MB" in lines[0]
    assert "not attached after the error above" in lines[1]
    assert "PDFs: 0 attached, 2 failed" in result.stderr
    assert pdf_attachments(zotero) == []
    assert "Traceback" not in result.stderr


def test_sync_from_the_bib_gives_items_the_cached_details(world, zotero, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = listing_file(world, tmp_path, 8)
    bib = tmp_path / "refs.bib"
    assert run("add", source, "--all", "--bib", str(bib)).exit_code == 0
    before = len(zotero.requests)
    synced = run("sync", "--bib", str(bib))
    assert synced.exit_code == 0, synced.stderr
    assert "8 created" in synced.stderr
    item_writes = [
        r for r in zotero.requests[before:] if r.method == "POST" and r.path.endswith("/items")
    ]
    assert len(item_writes) == 1  # 8 items with their notes and links: one request
    notes = {
        o["data"]["parentItem"]: o["data"]["note"]
        for o in zotero.items.values()
        if o["data"]["itemType"] == "note"
    }
    for key, obj in zotero.top_items.items():
        data = obj["data"]
        arxiv_id = data["url"].removeprefix("https://arxiv.org/abs/")
        paper = world.paper(arxiv_id)
        if data["itemType"] == "preprint":
            assert data["date"] == paper.published[:10]  # the .bib has only year and month
        assert [t["tag"] for t in data["tags"] if t.get("type") == 1] == paper.all_categories
        assert notes.get(key) == (
            f"Comment: {html.escape(paper.comment, quote=False)}" if paper.comment else None
        )


def test_attachment_whose_create_answer_was_lost_is_used_not_left_empty(
    world, zotero, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    source = listing_file(world, tmp_path, 1)
    bib = tmp_path / "refs.bib"
    assert run("add", source, "--all", "--bib", str(bib)).exit_code == 0
    # The sync's item write goes through; then the attachment is created, its answer lost.
    real_write = FakeZotero._multi_write
    calls = []

    def lose_second(self, req, lib, kind):  # type: ignore[no-untyped-def]
        calls.append(kind)
        if calls.count("item") == 1 and kind == "item":
            self.inject(lost(method="POST", path="/users/123/items"))
        return real_write(self, req, lib, kind)

    FakeZotero._multi_write = lose_second  # type: ignore[method-assign]
    try:
        result = run("sync", "--bib", str(bib), "--attach-pdf")
    finally:
        FakeZotero._multi_write = real_write  # type: ignore[method-assign]
    assert result.exit_code == 0, result.stderr
    assert "PDFs: 1 attached, 0 failed" in result.stderr
    item_posts = [r for r in zotero.requests if r.method == "POST" and r.path.endswith("/items")]
    assert len(item_posts) == 3  # the item batch, the lost attachment create, its retry
    (attachment,) = pdf_attachments(zotero)
    assert attachment["md5"] and zotero.stored_file(attachment["key"])


def test_registration_whose_answer_was_lost_is_not_undone(world, zotero, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = listing_file(world, tmp_path, 1)
    # Queued while the authorization is answered, the fault takes the next request to the
    # file endpoint: the registration, which is carried out and its answer lost.
    real_file = FakeZotero._file_request

    def queue_on_authorization(self, req, lib, key):  # type: ignore[no-untyped-def]
        answer = real_file(self, req, lib, key)
        if b"upload=" not in req.raw_body:
            self.inject(lost(method="POST", path=f"/users/123/items/{key}/file"))
            FakeZotero._file_request = real_file  # type: ignore[method-assign]
        return answer

    FakeZotero._file_request = queue_on_authorization  # type: ignore[method-assign]
    try:
        result = run("add", source, "--all", "--to", "zotero", "--attach-pdf")
    finally:
        FakeZotero._file_request = real_file  # type: ignore[method-assign]
    assert result.exit_code == 0, result.stderr
    assert "PDFs: 1 attached, 0 failed" in result.stderr
    registrations = [
        r for r in zotero.requests if r.path.endswith("/file") and b"upload=" in r.raw_body
    ]
    assert len(registrations) == 2  # the lost one, and the retry that found it done
    (attachment,) = pdf_attachments(zotero)
    assert zotero.stored_file(attachment["key"])


def test_date_setting_latest_dates_items_and_entries_by_the_latest_version(
    world, zotero, isolated_env: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    revised = next(
        p
        for p in world.papers
        if p.in_arxiv and p.in_hf and not p.doi and p.updated[:7] != p.published[:7]
    )
    config = isolated_env / "config.toml"
    config.write_text(config.read_text().replace("[zotero]\n", '[zotero]\ndate = "latest"\n'))
    bib = tmp_path / "refs.bib"
    result = run("add", revised.arxiv_id, "--to", "both", "--bib", str(bib))
    assert result.exit_code == 0, result.stderr
    (entry,) = read_bib(bib).entries
    months = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    assert entry.get("year") == revised.updated[:4]
    assert entry.get("month") == months[int(revised.updated[5:7]) - 1]
    (item,) = zotero.top_items.values()
    assert item["data"]["date"] == revised.updated[:10]


PULLED_NAMES = (
    "Đorđe Đoković",
    "Ðorđe Ðukić",
    "Nguyễn Thị Minh Khai",
    "Trương Dương",
    "Phạm Văn Đồng",
    "Łukasz Ślęczka",
    "Ştefan Țiriac",
    "Ħal Əliyev",
    "Zoë O’Brien",
    "李飞飞",
    "Γιώργος Παπαδόπουλος",
)


def test_pulled_names_are_exact_and_compile(world, zotero, tmp_path: Path, texmfvar: Path) -> None:  # type: ignore[no-untyped-def]
    from latex_tools import compile_bibtex
    from pylatexenc.latex2text import LatexNodes2Text

    reading = zotero.seed_collection("Reading")["key"]
    target = zotero.seed_collection("Multimodal", parent=reading)["key"]
    for index, name in enumerate(PULLED_NAMES):
        zotero.seed_item(
            preprint_data(
                f"2501.{index:05d}", f"Paper {index}", authors=(name,), collections=(target,)
            )
        )
    mine = tmp_path / "mine.bib"
    result = run("pull", "Reading/Multimodal", "--bib", str(mine), "--preprint-form", "journal")
    assert result.exit_code == 0, result.stderr
    entries = read_bib(mine).entries
    decode = LatexNodes2Text().latex_to_text
    # Zotero's "first" and "last" come back as "First Last", exactly, in every script.
    assert sorted(decode(e.get("author") or "") for e in entries) == sorted(PULLED_NAMES)
    text = mine.read_text(encoding="utf-8")
    assert "[U+" not in text
    outcome = compile_bibtex(
        text,
        [e.key for e in entries],
        tmp_path / "tex",
        style="plain",
        natbib=None,
        texmfvar=texmfvar,
    )
    assert outcome.ok, outcome.summary()
    again = run("pull", "Reading/Multimodal", "--bib", str(mine), "--preprint-form", "journal")
    assert again.exit_code == 0, again.stderr
    assert mine.read_text(encoding="utf-8") == text


def test_add_to_zotero_skips_a_paper_it_cannot_write(world, zotero, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "hostile.txt").write_text(
        f"A Paper Too Long To Write\n\n{'word ' * 30_000}\n\nA Fine Paper\n\nIt is fine.\n"
    )
    result = run(
        "add", "hostile.txt", "--all", "--offline", "--include-unresolved", "--to", "zotero"
    )
    assert result.exit_code == 1, result.stderr
    assert (
        "skipped: A Paper Too Long To Write (hostile.txt:1): its abstract is 149,999 characters "
        "long (at most 100,000 are written)\n"
    ) in result.stderr
    # Only the fine paper reached the Zotero step (which refuses it: no arXiv ID offline).
    assert "0 created, 0 updated, 0 unchanged, 1 failed" in result.stderr
    assert "not written to Zotero (1):\n  A Fine Paper:" in result.stderr
    assert "Too Long" not in result.stderr.split("skipped:", 1)[1].split("\n", 1)[1]
