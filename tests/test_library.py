"""Core operations on the .bib: add (dedupe, keys, tags) and resolve in place."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from readlist.bibfile import read_bib
from readlist.errors import BibFileError, SelectionError
from readlist.library import BibOptions, add_papers, resolve_in_place, retag_in_place
from readlist.models import ArxivId, Listing, Paper
from readlist.resolve import Resolution, paper_from_listing
from readlist.select import parse_pick, select

HEAD = "% keep me\n@string{x = {y}}\n\n@misc{zhu2025internvl3,\n  title = {Taken Key}\n}\n"


def paper(title: str, **kw: object) -> Paper:
    return Paper(title=title, **kw)  # type: ignore[arg-type]


def test_add_dedupes_by_id_doi_and_title_and_never_renames(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    path.write_text(HEAD)
    papers = [
        paper(
            "InternVL3: Exploring Advanced",
            authors=("Jinguo Zhu",),
            year=2025,
            arxiv_id=ArxivId("2504.10479"),
            resolved=True,
        ),
        paper("InternVL3: Exploring advanced!", arxiv_id=ArxivId("2504.10479", 3)),
        paper("Taken key", doi="10.1/x"),
        paper("Another", doi="10.1/X"),
        paper("InternVL3 again", authors=("Jinguo Zhu",), year=2025, resolved=True),
    ]
    outcome = add_papers(path, papers, BibOptions())
    assert [a.key for a in outcome.added] == ["zhu2025internvl3a", "another", "zhu2025internvl3b"]
    assert [(p.key, p.reason) for p in outcome.present] == [
        ("zhu2025internvl3a", "arXiv:2504.10479"),
        ("zhu2025internvl3", "same title"),
    ]
    text = path.read_text()
    assert text.startswith(HEAD)
    assert "readlist-status" in text.split("@misc{another")[1]  # unresolved are marked
    assert "readlist-status" not in text.split("@misc{zhu2025internvl3a")[1].split("@misc")[0]


def test_add_dry_run_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    outcome = add_papers(path, [paper("A Paper")], BibOptions(), dry_run=True)
    assert outcome.text.startswith("@misc{") and not outcome.written
    assert not path.exists()


def test_add_merges_tags_once_per_entry(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    path.write_text("@misc{a,\n  title = {A Paper},\n  keywords = {x}\n}\n")
    papers = [paper("A Paper", tags=("y",)), paper("A paper", tags=("z", "x"))]
    outcome = add_papers(path, papers, BibOptions(), merge_tags=True)
    assert [p.new_tags for p in outcome.present] == [("y",), ("z",)]
    assert path.read_text() == "@misc{a,\n  title = {A Paper},\n  keywords = {x, y, z}\n}\n"


class FakeResolver:
    """Resolve listings whose title is in `known`; leave the rest unresolved."""

    def __init__(self, known: dict[str, Paper]) -> None:
        self.known = known
        self.seen: list[Listing] = []

    def resolve(self, listings: Sequence[Listing]) -> list[Resolution]:
        self.seen.extend(listings)
        out = []
        for item in listings:
            hit = self.known.get(item.title or "")
            if hit:
                out.append(Resolution(item, hit))
            else:
                out.append(Resolution(item, paper_from_listing(item), reason="no match"))
        return out


def test_resolve_in_place_keeps_key_tags_and_everything_else(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    add_papers(
        path, [paper("Some Pending Paper", tags=("to-read",)), paper("Other One")], BibOptions()
    )
    path.write_text("% top\n" + path.read_text() + "% tail")
    before = path.read_text()
    first = read_bib(path).entries[0]
    key = first.key
    resolved = paper(
        "Some Pending Paper",
        authors=("Ada Lovelace",),
        year=2024,
        month=5,
        arxiv_id=ArxivId("2405.00001"),
        primary_category="cs.LG",
        tags=("ml",),
        resolved=True,
    )
    resolver = FakeResolver({"Some Pending Paper": resolved})
    outcome = resolve_in_place(path, resolver, BibOptions())
    assert [k for k, _ in outcome.resolved] == [key]
    assert [reason for _, reason in outcome.unresolved] == ["no match"]
    after = path.read_text()
    entries = read_bib(path).entries
    assert entries[0].key == key and not entries[0].is_unresolved
    assert entries[0].fields["eprint"] == "2405.00001"
    assert entries[0].tags == ["to-read", "ml"]
    assert entries[1].is_unresolved
    # nothing outside the resolved entry changed
    assert after.startswith(before[: first.start])
    assert after.endswith(before[first.end :])


def test_resolve_declares_new_letters_and_keeps_the_key(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    add_papers(path, [paper("Pending", tags=("to-read",))], BibOptions(preprint_form="journal"))
    before = path.read_text(encoding="utf-8")
    assert "@preamble" not in before and "key = {Pending}" in before
    (entry,) = read_bib(path).entries
    resolved = paper(
        "Pending",
        authors=("Trương Ngô Bảo", "Đorđe Đoković"),
        year=2024,
        arxiv_id=ArxivId("2405.00002"),
        resolved=True,
    )
    outcome = resolve_in_place(
        path, FakeResolver({"Pending": resolved}), BibOptions(preprint_form="journal")
    )
    assert [k for k, _ in outcome.resolved] == [entry.key]
    after = path.read_text(encoding="utf-8")
    (again,) = read_bib(path).entries
    assert again.key == entry.key and again.entry_type == "article"
    assert again.fields["journal"] == "arXiv preprint arXiv:2405.00002"
    assert "key" not in again.fields  # it has authors now
    assert after.rstrip().endswith('" }') and "\\readlistchar{ư}" in after  # declared at the end


def test_resolve_listing_for_offline_identifier(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    listing = Listing(arxiv_id=ArxivId("2504.10479", 2))
    add_papers(path, [paper_from_listing(listing)], BibOptions())
    resolver = FakeResolver({})
    resolve_in_place(path, resolver, BibOptions())
    assert resolver.seen[0].arxiv_id == ArxivId("2504.10479")
    assert resolver.seen[0].title is None


def test_paper_from_listing_is_unresolved_and_dates_identifiers() -> None:
    today = datetime.date(2026, 3, 1)
    assert paper_from_listing(Listing(title="T", abstract="A"), today=today) == paper(
        "T", abstract="A", year=2026
    )
    # "Apr 28" on a page read on 1 March 2026 is the last Apr 28: 2025.
    dated = paper_from_listing(Listing(title="T", date=(None, 4, 28)), today=today)
    assert (dated.year, dated.month) == (2025, 4)
    dated = paper_from_listing(Listing(title="T", date=(2019, 12, 2)), today=today)
    assert (dated.year, dated.month) == (2019, 12)
    by_id = paper_from_listing(Listing(arxiv_id=ArxivId("hep-th/9901001", 2)))
    assert (by_id.title, by_id.year, by_id.month) == ("arXiv:hep-th/9901001v2", 1999, 1)
    assert not by_id.resolved


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("1", [0]),
        ("1,4-6", [0, 3, 4, 5]),
        ("6,1 2", [0, 1, 5]),
        ("8-", [7, 8, 9]),
        ("-2", [0, 1]),
        ("all", list(range(10))),
        ("3-3", [2]),
    ],
)
def test_parse_pick(spec: str, expected: list[int]) -> None:
    assert parse_pick(spec, 10) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("11", "out of range; the listing has 10 papers"),
        ("0", "not a valid range"),
        ("5-2", "not a valid range"),
        ("x", "not a number or range"),
        (",", "no paper numbers"),
    ],
)
def test_parse_pick_errors(spec: str, message: str) -> None:
    with pytest.raises(SelectionError, match=message):
        parse_pick(spec, 10)


def test_select_union_of_pick_and_match() -> None:
    items = [
        Listing(title=t, abstract=a)
        for t, a in [("Alpha", "about video\nunderstanding"), ("Beta", "text"), ("Gamma", "x")]
    ]
    assert select(items, pick=["3"], match=["VIDEO understanding"]) == [items[0], items[2]]
    assert select(items, take_all=True) == items
    with pytest.raises(SelectionError, match="matched none of the 3 papers"):
        select(items, match=["audio"])


def test_merge_tags_compares_and_writes_escaped_tags(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    path.write_text("@misc{a,\n  title = {A Paper},\n  keywords = {Vision\\_Language}\n}\n")
    papers = [paper("A Paper", tags=("vision_language", "new_tag"))]
    outcome = add_papers(path, papers, BibOptions(), merge_tags=True)
    assert outcome.present[0].new_tags == ("new_tag",)
    assert "keywords = {Vision\\_Language, new\\_tag}" in path.read_text()


def _add_batch(path: str, batch: int) -> None:
    papers = [
        paper(f"Paper {batch} number {i}", arxiv_id=ArxivId(f"2401.{batch}{i:04d}"))
        for i in range(5)
    ]
    add_papers(Path(path), papers, BibOptions())


def test_concurrent_adds_lose_nothing(tmp_path: Path) -> None:
    import multiprocessing

    path = tmp_path / "refs.bib"
    path.write_text("% mine\n")
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_add_batch, args=(str(path), b)) for b in range(1, 7)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    entries = read_bib(path).entries
    assert len(entries) == 30
    assert len({e.key for e in entries}) == 30
    assert path.read_text().startswith("% mine\n")


def test_paper_from_bib_entry_reads_what_we_and_others_write(tmp_path: Path) -> None:
    from readlist.bibfile import parse_entries
    from readlist.library import paper_from_bib_entry

    text = (
        "@misc{a, title={{BERT}: Pre-training}, author={Devlin, Jacob and Ming-Wei Chang and "
        "{Google Brain}}, year={2019}, month=oct, eprint={1810.04805}, archivePrefix={arXiv}, "
        "primaryClass={cs.CL}, doi={10.48550/arXiv.1810.04805}, keywords={nlp, to-read}}"
    )
    (entry,) = parse_entries(text, "x.bib")
    got = paper_from_bib_entry(entry)
    assert got.title == "BERT: Pre-training"
    assert got.authors == ("Jacob Devlin", "Ming-Wei Chang", "Google Brain")
    assert (got.year, got.month, got.primary_category) == (2019, 10, "cs.CL")
    assert got.arxiv_id == ArxivId("1810.04805") and got.doi is None
    assert got.tags == ("nlp", "to-read") and got.resolved
    # and a round trip through our own writer
    path = tmp_path / "r.bib"
    add_papers(path, [replace(got, abstract="An abstract with 50% & more.")], BibOptions())
    again = paper_from_bib_entry(read_bib(path).entries[0])
    assert again.title == got.title and again.authors == got.authors
    assert again.abstract == "An abstract with 50% & more."


def test_preferred_keys_are_used_when_free(tmp_path: Path) -> None:
    path = tmp_path / "r.bib"
    path.write_text("@misc{taken, title={Old}}\n")
    papers = [paper("One"), paper("Two"), paper("Three")]
    outcome = add_papers(path, papers, BibOptions(), preferred_keys=["Mine2024", "TAKEN", None])
    assert [a.key for a in outcome.added] == ["Mine2024", "two", "three"]


def test_same_title_different_arxiv_ids_are_two_papers(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    path.write_text("")
    twins = [
        paper("Scaling Laws", arxiv_id=ArxivId("2401.00001"), resolved=True, authors=("A B",)),
        paper("Scaling Laws", arxiv_id=ArxivId("2402.00002"), resolved=True, authors=("C D",)),
    ]
    outcome = add_papers(path, twins, BibOptions())
    assert len(outcome.added) == 2
    # the title alone, or one of the two IDs, still finds an entry already there
    again = add_papers(path, [paper("Scaling Laws"), twins[1]], BibOptions())
    assert again.added == [] and len(again.present) == 2


LATIN1 = b"% Fran\xe7ais\n@misc{a,\n  title = {Caf\xe9}\n}\n"


def test_latin1_file_gets_ascii_entries_in_its_own_encoding(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    path.write_bytes(LATIN1)
    new = paper("Über Café Models", authors=("José Müller",), year=2024, resolved=True)
    outcome = add_papers(path, [new], BibOptions(style="bibtex"))
    data = path.read_bytes()
    assert data.startswith(LATIN1)
    appended = data[len(LATIN1) :]
    assert appended.isascii() and outcome.added
    assert b'\\"' in appended or b"{\\" in appended  # accents as LaTeX escapes
    data.decode("latin-1")  # still one 8-bit encoding throughout


def test_latin1_file_refuses_utf8_entries_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    path.write_bytes(LATIN1)
    new = paper("Über Café Models", authors=("José Müller",), year=2024, resolved=True)
    with pytest.raises(BibFileError) as info:
        add_papers(path, [new], BibOptions(style="biblatex"))
    assert info.value.line == 1
    assert "is not UTF-8" in str(info.value) and "iconv -f LATIN1 -t UTF-8" in str(info.value)
    assert path.read_bytes() == LATIN1


def test_latin1_file_takes_plain_ascii_entries_in_any_style(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    path.write_bytes(LATIN1)
    add_papers(path, [paper("Plain Title", year=2024)], BibOptions(style="biblatex"))
    assert path.read_bytes().startswith(LATIN1)
    assert path.read_bytes()[len(LATIN1) :].isascii()


def test_retag_of_a_latin1_file_writes_ascii_tags_or_refuses(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    path.write_bytes(LATIN1)
    with pytest.raises(BibFileError, match="is not UTF-8"):
        retag_in_place(path, lambda title, abstract: ["café"], ascii_only=False)
    assert path.read_bytes() == LATIN1
    outcome = retag_in_place(path, lambda title, abstract: ["café"], ascii_only=True)
    assert outcome.written
    data = path.read_bytes()
    assert b"title = {Caf\xe9}" in data and b"keywords = {caf{\\'e}}" in data
    assert data.replace(b"\xe9", b"").replace(b"\xe7", b"").isascii()


def test_resolve_in_place_leaves_an_entry_whose_record_cannot_be_written(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    add_papers(path, [paper("Hostile Record"), paper("Fine Record")], BibOptions())
    found = {
        title: paper(title, arxiv_id=ArxivId(f"2405.0000{n}"), resolved=True, abstract=abstract)
        for n, (title, abstract) in enumerate(
            [("Hostile Record", "{" * 20_000), ("Fine Record", "Fine.")], 1
        )
    }
    outcome = resolve_in_place(path, FakeResolver(found), BibOptions())
    assert [k for k, _ in outcome.resolved] == ["finerecord"]
    assert outcome.unresolved == [
        (
            "hostilerecord",
            "the record found cannot be written: its abstract would take 320,000 characters of "
            "BibTeX (at most 100,000: BibTeX refuses much longer ones)",
        )
    ]
    entries = read_bib(path).entries
    assert [e.is_unresolved for e in entries] == [True, False]
