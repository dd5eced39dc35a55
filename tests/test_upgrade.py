"""`readlist upgrade`: cited preprints become their published versions, keys kept.

End to end against the arXiv double and a doi.org double (content negotiation, CSL JSON);
the upgraded .bib is compiled with pdfLaTeX + bibtex.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from latex_tools import compile_natbib

from readlist.bibfile import read_bib
from readlist.cli import cli
from readlist.models import Venue
from readlist.resolve.doi import DoiClient, DoiError, venue_from_csl
from readlist.testing.fakeapis import FakeDoi, Fault
from readlist.testing.fakezotero import FakeZotero, preprint_data

HAND_WRITTEN = """% my own entries, kept byte for byte
@string{acl = "Proceedings of ACL"}

@misc{mine2020,
  title = {A Preprint That Names Its Journal DOI},
  author = {Doe, Jane},
  year = {2020},
  eprint = {2001.00001},
  archivePrefix = {arXiv},
  doi = {10.9999/own.2020.1},
  file = {mine.pdf},
}

@article{published2019,
  title = {Already Published},
  author = {Roe, Rick},
  journal = {Nature},
  year = {2019},
}
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def csl(name: str, kind: str = "article-journal") -> dict[str, object]:
    return {
        "type": kind,
        "container-title": [name],
        "volume": "12",
        "issue": "3",
        "page": "100-120",
        "issued": {"date-parts": [[2025, 3]]},
    }


@pytest.fixture
def doi_server(world, servers, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDoi]:  # type: ignore[no-untyped-def]
    published = [p for p in world.papers if p.doi]
    records = {
        p.doi: csl(f"Journal of Paper {p.arxiv_id}")
        # One published paper doi.org does not know: its venue comes from arXiv's reference.
        for p in published[1:]
    }
    records["10.9999/own.2020.1"] = csl("Own Journal & Letters", "paper-conference")
    with FakeDoi(records) as fake:
        monkeypatch.setenv("READLIST_DOI_URL", fake.url)
        yield fake


def make_bib(world, tmp_path: Path) -> tuple[Path, set[str]]:  # type: ignore[no-untyped-def]
    findable = [x for x in world.listings if world.expected(x)][:24]
    source = tmp_path / "some.txt"
    source.write_text("\n\n".join(f"{x.title}\n\n{x.abstract}" for x in findable) + "\n")
    bib = tmp_path / "refs.bib"
    bib.write_text(HAND_WRITTEN)
    added = run("add", str(source), "--all", "--bib", str(bib))
    assert added.exit_code == 0, added.stderr
    known = {p.arxiv_id: p for p in world.papers}
    journal = {
        e.key
        for e in read_bib(bib).entries
        if e.arxiv_ids() and e.arxiv_ids()[0].id in known and known[e.arxiv_ids()[0].id].doi
    }
    return bib, journal | {"mine2020"}


def test_dry_run_lists_exactly_the_entries_arxiv_links_to_a_journal_doi(  # type: ignore[no-untyped-def]
    world, doi_server, tmp_path: Path
) -> None:
    bib, expected = make_bib(world, tmp_path)
    assert len(expected) >= 3
    before = bib.read_bytes()
    result = run("upgrade", "--bib", str(bib), "--dry-run")
    assert result.exit_code == 0, result.stderr
    listed = {line.split(":", 1)[0] for line in result.stdout.splitlines()}
    assert listed == expected
    assert f"would upgrade {len(expected)} entries, 0 not upgraded" in result.stderr
    assert bib.read_bytes() == before


def test_upgrade_rewrites_in_place_keeping_keys_and_every_other_byte(  # type: ignore[no-untyped-def]
    world, doi_server, tmp_path: Path, texmfvar: Path
) -> None:
    bib, expected = make_bib(world, tmp_path)
    old = read_bib(bib)
    result = run("upgrade", "--bib", str(bib))
    assert result.exit_code == 0, result.stderr
    new = read_bib(bib)
    assert [e.key for e in new.entries] == [e.key for e in old.entries]
    # Every byte outside the upgraded entries is unchanged.
    rebuilt = old.text
    for entry in sorted(old.entries, key=lambda e: -e.start):
        if entry.key in expected:
            (now,) = [e for e in new.entries if e.key == entry.key]
            rebuilt = rebuilt[: entry.start] + new.text[now.start : now.end] + rebuilt[entry.end :]
    assert rebuilt == new.text
    by_key = {e.key: e for e in new.entries}
    olds = {e.key: e for e in old.entries}
    for key in expected:
        entry = by_key[key]
        assert entry.entry_type in ("article", "inproceedings")
        assert entry.get("keywords") == olds[key].get("keywords")  # the tags stay
        if key == "mine2020":
            assert entry.entry_type == "inproceedings"
            assert entry.get("booktitle") == r"Own Journal \& Letters"
            assert entry.get("file") == "mine.pdf" and entry.get("doi") == "10.9999/own.2020.1"
            continue
        arxiv_id = entry.arxiv_ids()[0].id
        paper = world.paper(arxiv_id)
        assert entry.get("doi") == paper.doi.lower()
        assert entry.get("eprint") == arxiv_id
        venue = entry.get("journal") or entry.get("booktitle")
        assert venue == f"Journal of Paper {arxiv_id}" or venue in paper.journal_ref
    # The document citing every entry still compiles, with no errors.
    compiled = compile_natbib(
        new.text, [e.key for e in new.entries], tmp_path / "tex", texmfvar=texmfvar
    )
    assert compiled.ok and compiled.errors == [], compiled.summary()
    # Nothing left to do.
    again = run("upgrade", "--bib", str(bib), "--dry-run")
    assert again.stdout == "" and "would upgrade 0 entries" in again.stderr


def test_without_a_usable_doi_record_only_arxivs_reference_is_used(  # type: ignore[no-untyped-def]
    world, doi_server, tmp_path: Path
) -> None:
    bib, expected = make_bib(world, tmp_path)
    # doi.org knows every DOI, but as something that is no venue; and it fails once (500).
    doi_server.records = {
        doi: {"type": "dataset", "container-title": "x"} for doi in doi_server.records
    }
    first_arxiv_doi = min(
        world.paper(e.arxiv_ids()[0].id).doi
        for e in read_bib(bib).entries
        if e.key in expected - {"mine2020"}
    )
    doi_server.inject(Fault.status(500, "boom", path=f"/{first_arxiv_doi}"))
    result = run("upgrade", "--bib", str(bib))
    assert result.exit_code == 1, result.stderr
    assert "not upgraded: mine2020: no venue known for 10.9999/own.2020.1" in result.stderr
    failed = [line for line in result.stderr.splitlines() if "unexpected answer (HTTP 500)" in line]
    assert len(failed) == 1
    after = {e.key: e for e in read_bib(bib).entries}
    assert after["mine2020"].entry_type == "misc"
    upgraded = {line.split(":", 1)[0] for line in result.stdout.splitlines()}
    assert upgraded == expected - {"mine2020"} - {failed[0].split(": ")[1]}
    assert all("venue from arXiv journal reference" in line for line in result.stdout.splitlines())
    for key in upgraded:
        assert after[key].entry_type in ("article", "inproceedings")


def test_csl_records_are_read_as_venues() -> None:
    assert venue_from_csl(csl("Nature")) == Venue("journal", "Nature", "12", "3", "100-120", 2025)
    assert venue_from_csl({"type": "dataset", "container-title": "x"}) is None
    assert venue_from_csl({"type": "article-journal"}) is None

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("unknown"):
            return httpx.Response(404, text="DOI Not Found")
        assert request.headers["Accept"] == "application/vnd.citationstyles.csl+json"
        if request.url.path.endswith("html"):
            return httpx.Response(200, text="<html/>", headers={"Content-Type": "text/html"})
        return httpx.Response(200, json=csl("Nature"))

    client = DoiClient(httpx.Client(transport=httpx.MockTransport(handler)), api_url="http://d/")
    assert client.fetch_csl("10.1/unknown") is None
    assert client.fetch_csl("10.1/x") == csl("Nature")
    with pytest.raises(DoiError, match="not CSL JSON"):
        client.fetch_csl("10.1/html")


@pytest.fixture
def zotero(servers, monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> Iterator[FakeZotero]:  # type: ignore[no-untyped-def]
    with FakeZotero(api_key="good-key") as fake:
        monkeypatch.setenv("READLIST_ZOTERO_API_URL", fake.url)
        monkeypatch.setenv("ZOTERO_API_KEY", "good-key")
        monkeypatch.setenv("ZOTERO_LIBRARY_ID", "123")
        yield fake


def test_zotero_preprints_change_type_in_place_version_conditioned(  # type: ignore[no-untyped-def]
    world, doi_server, zotero, tmp_path: Path
) -> None:
    collection = zotero.seed_collection("Reading")["key"]
    chosen = [p for p in world.papers if p.in_arxiv and p.doi][:3] + [
        p for p in world.papers if p.in_arxiv and not p.doi
    ][:2]
    keys = {}
    for number, paper in enumerate(chosen):
        data = preprint_data(paper.arxiv_id, paper.title, collections=[collection], tags=["mine"])
        data["citationKey"] = f"key{number}"
        keys[paper.arxiv_id] = zotero.seed_item(data)["key"]
    published = [p for p in chosen if p.doi]
    dry = run("upgrade", "--zotero", "--collection", "Reading", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert {line.split(":", 1)[0] for line in dry.stdout.splitlines()} == {
        f"key{chosen.index(p)}" for p in published
    }
    assert all(zotero.items[k]["data"]["itemType"] == "preprint" for k in keys.values())
    # Someone edits one of them after readlist read it: that write is refused, not lost.
    edited = keys[published[0].arxiv_id]
    real_upgrade = FakeZotero._multi_write

    def edit_first(self, req, lib, kind):  # type: ignore[no-untyped-def]
        if kind == "item" and lib.items[edited]["data"].get("title") != "Edited":
            self.edit_item(edited, {"title": "Edited"})
        return real_upgrade(self, req, lib, kind)

    FakeZotero._multi_write = edit_first  # type: ignore[method-assign]
    try:
        result = run("upgrade", "--zotero", "--collection", "Reading")
    finally:
        FakeZotero._multi_write = real_upgrade  # type: ignore[method-assign]
    assert result.exit_code == 1, result.stderr
    assert "changed in Zotero since it was read" in result.stderr
    for paper in chosen:
        data = zotero.items[keys[paper.arxiv_id]]["data"]
        if not paper.doi:
            assert data["itemType"] == "preprint"
            continue
        if keys[paper.arxiv_id] == edited:
            assert data["itemType"] == "preprint" and data["title"] == "Edited"
            continue
        assert data["itemType"] in ("journalArticle", "conferencePaper")
        assert data["DOI"].lower() == paper.doi.lower()
        assert data["citationKey"] == f"key{chosen.index(paper)}"  # the key is kept
        assert data["extra"].startswith(f"arXiv:{paper.arxiv_id}")
        assert data["collections"] == [collection] and data["tags"] == [{"tag": "mine"}]
        assert "repository" not in data and "archiveID" not in data
    zotero.check_invariants()
