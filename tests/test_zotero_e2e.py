"""Zotero end to end: the real CLI against the loopback Zotero, arXiv and HF doubles."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import listing_files
from fakezotero import FakeZotero, backoff, locked, lost, preprint_data, rate_limited

from readlist.bibfile import read_bib
from readlist.cli import cli

KEY = "good-key"


@pytest.fixture
def zotero(servers, monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> Iterator[FakeZotero]:  # type: ignore[no-untyped-def]
    with FakeZotero(api_key=KEY) as fake:
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
    result = run("add", source, "--all", "--to", "zotero")
    assert result.exit_code == 0, result.stderr
    assert "12 created" in result.stderr
    collection = zotero.collection_key("Multimodal", parent=zotero.collection_key("Reading"))
    items = zotero.items_in(collection)
    assert len(items) == 12
    assert {i["data"]["itemType"] for i in items} == {"preprint"}
    assert all("Citation Key: " in i["data"]["extra"] for i in items)
    # the configured keyword tags ([tags] video = ["video"]) travel with the items
    for item in items:
        text = (item["data"]["title"] + " " + item["data"]["abstractNote"]).lower()
        tags = {t["tag"] for t in item["data"]["tags"]}
        if re.search(r"\bvideos?\b", text):
            assert "video" in tags
    assert any("video" in {t["tag"] for t in i["data"]["tags"]} for i in items)
    zotero.check_invariants()
    writes = [r for r in zotero.requests if r.method == "POST" and r.path.endswith("/items")]
    assert len(writes) == 1  # 12 papers, one batch
    again = run("add", source, "--all", "--to", "zotero")
    assert again.exit_code == 0, again.stderr
    assert "0 created" in again.stderr and "12 unchanged" in again.stderr
    assert len(zotero.items) == 12
    assert KEY not in result.output + again.output


def test_paper_already_in_library_is_filed_not_copied(world, zotero, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    listing = next(x for x in world.listings if world.expected(x))
    arxiv_id = world.expected(listing)
    zotero.seed_item(preprint_data(arxiv_id, listing.title))
    (tmp_path / "one.txt").write_text(f"{listing.title}\n\n{listing.abstract}\n")
    result = run("add", "one.txt", "--all", "--to", "both", "--bib", "refs.bib")
    assert result.exit_code == 0, result.stderr
    assert len(zotero.items_with_arxiv_id(arxiv_id)) == 1
    (item,) = zotero.items.values()
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
    assert len(zotero.items) == 5 + created
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
    assert not zotero.items and not zotero.collections
    assert not [r for r in zotero.requests if r.method != "GET"]


def test_missing_zotero_settings_are_clear_errors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "r.bib").write_text("@misc{a, title={A}, eprint={2401.00001}}\n")
    result = run("sync", "--bib", str(tmp_path / "r.bib"), "--collection", "X")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "library_id" in result.stderr
    no_collection = run("sync", "--bib", str(tmp_path / "r.bib"))
    assert no_collection.exit_code == 2 and "no Zotero collection" in no_collection.stderr


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
    assert "failed: A Fine Paper:" in result.stderr
    assert "Too Long" not in result.stderr.split("skipped:", 1)[1].split("\n", 1)[1]
