"""The lossless .bib layer: parsing, refusing, finding, appending and editing in place."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import corpus_files

from readlist.bibfile import (
    BibIndex,
    appended_text,
    field_spans,
    parse_entries,
    read_bib,
    replace_spans,
    set_field,
    wide_encoding,
    write_atomic,
)
from readlist.errors import BibFileError
from readlist.models import ArxivId

SAMPLE = """% my refs
@string{acl = "Proc. of ACL"}

@misc{he2021deberta,
  title={DeBERTa: Decoding-enhanced BERT with Disentangled Attention},
  author={Pengcheng He and Xiaodong Liu},
  year={2021},
  eprint={2006.03654},
  archivePrefix={arXiv},
  primaryClass={cs.CL}
}

@article{gpt3,
  title = "Language Models are {Few-Shot} Learners",
  journal = {arXiv preprint arXiv:2005.14165},
  keywords = {llm, scaling},
}

@inproceedings(bert,
  title = {{BERT}: Pre-training of Deep Bidirectional Transformers},
  doi = {10.18653/v1/N19-1423},
  booktitle = acl
)
"""


def test_parse_entries_finds_keys_lines_and_offsets() -> None:
    entries = parse_entries(SAMPLE, "refs.bib")
    assert [e.key for e in entries] == ["he2021deberta", "gpt3", "bert"]
    assert [e.line for e in entries] == [4, 13, 19]
    for e in entries:
        assert SAMPLE[e.start] == "@"
        assert SAMPLE[e.end - 1] in "})"
    assert entries[1].fields["title"] == "Language Models are {Few-Shot} Learners"
    assert entries[1].tags == ["llm", "scaling"]


def test_index_finds_every_arxiv_form_doi_and_title() -> None:
    index = BibIndex(parse_entries(SAMPLE, "refs.bib"))
    assert index.find(arxiv_id=ArxivId("2006.03654", 2))[0].key == "he2021deberta"
    assert index.find(arxiv_id=ArxivId("2005.14165"))[0].key == "gpt3"
    assert index.find(doi="https://doi.org/10.18653/V1/N19-1423")[0].key == "bert"
    hit = index.find(title="BERT: Pre-Training of deep bidirectional transformers")
    assert hit is not None and hit[0].key == "bert" and hit[1] == "same title"
    assert index.find(arxiv_id=ArxivId("2401.00001"), title="Something else") is None


def test_index_matches_the_arxiv_doi_of_an_entry() -> None:
    entries = parse_entries("@misc{k, doi = {10.48550/arXiv.2504.10479}}\n", "x.bib")
    assert BibIndex(entries).find(arxiv_id=ArxivId("2504.10479"))[0].key == "k"


def test_block_bibtexparser_cannot_read_is_skipped_and_described() -> None:
    text = "@misc{ok, title = {Fine}}\n\n@misc{broken,\n  title = {Unclosed\n\n@misc{next, title={x}}\n"
    problems: list[tuple[int, str]] = []
    keys = [e.key for e in parse_entries(text, "bad.bib", problems=problems)]
    assert keys[0] == "ok"
    assert problems and problems[0][0] == 3
    assert problems[0][1].startswith("cannot parse `@misc{broken,`")


def test_comment_bodies_may_hold_any_braces() -> None:
    text = (
        "@comment{ a } b { }\n@comment{ unbalanced { here\n@COMMENT( ) } {\n@misc{a, title={A}}\n"
    )
    problems: list[tuple[int, str]] = []
    entries = parse_entries(text, "x.bib", problems=problems)
    assert [e.key for e in entries] == ["a"]
    assert entries[0].fields["title"] == "A"
    assert problems == []


@pytest.mark.parametrize("entry_type", ["commentary", "Comments", "commentx"])
def test_types_that_only_start_with_comment_are_entries(entry_type: str) -> None:
    text = f"@{entry_type}{{k,\n  title = {{Said}},\n  year = 2020\n}}\n@misc{{a, title={{A}}}}\n"
    entries = parse_entries(text, "x.bib")
    assert [(e.key, e.entry_type) for e in entries] == [("k", entry_type.lower()), ("a", "misc")]
    assert entries[0].fields == {"title": "Said", "year": "2020"}
    assert text[entries[0].start : entries[0].end].endswith("2020\n}")


@pytest.mark.parametrize(
    "between",
    [
        "  % a comment\n",
        "  % year = 1999,\n",
        "% two\n% lines, with = signs\n",
        "  %\n",
    ],
)
def test_percent_lines_between_fields_are_comments(between: str) -> None:
    text = "@article{x,\n  title = {T},\n" + between + "  year = 2020,\n  note = {50% off}\n}\n"
    entries = parse_entries(text, "x.bib")
    assert [e.key for e in entries] == ["x"]
    assert entries[0].fields == {"title": "T", "year": "2020", "note": "50% off"}
    assert text[entries[0].start : entries[0].end] == text.rstrip("\n")


def test_percent_comment_with_a_brace_never_gives_a_wrong_value() -> None:
    text = "@article{x,\n  title={T}, % a {comment\n  year = 2020,\n}\n@misc{y}\n"
    problems: list[tuple[int, str]] = []
    entries = parse_entries(text, "x.bib", problems=problems)
    for entry in entries:
        assert entry.fields.get("year") in (None, "2020")
    assert "y" in [e.key for e in entries]


def test_comment_block_that_does_not_close_is_not_an_error() -> None:
    text = "@Comment{\n  @Book{steward03,\n    title = {Cooking}\n  }\n}\n@misc{a, title={A}}\n"
    keys = [e.key for e in parse_entries(text, "x.bib")]
    assert "a" in keys


def test_appended_text_keeps_prefix_and_style() -> None:
    assert appended_text("", "\n", ["@misc{a}"]) == "@misc{a}\n"
    assert appended_text("x\n", "\n", ["@misc{a}", "@misc{b}"]) == "x\n\n@misc{a}\n\n@misc{b}\n"
    assert appended_text("x\n\n", "\n", ["@misc{a}"]) == "x\n\n@misc{a}\n"
    # no final newline before: none after either, and the original bytes are a prefix
    assert appended_text("x}", "\r\n", ["@misc{a}"]) == "x}\r\n\r\n@misc{a}"
    assert appended_text("x\r\n", "\r\n", ["@misc{a}"]) == "x\r\n\r\n@misc{a}\r\n"


def test_eol_bom_and_undecodable_bytes_survive(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    original = b"\xef\xbb\xbf% caf\xe9 in latin-1\r\n@misc{a,\r\n  title = {A}\r\n}\r\n"
    path.write_bytes(original)
    bib = read_bib(path)
    assert bib.bom and bib.eol == "\r\n"
    assert bib.encode() == original
    new = bib.encode(appended_text(bib.text, bib.eol, ["@misc{b,\r\n  title = {B}\r\n}"]))
    assert new.startswith(original)
    assert new.endswith(b"\r\n@misc{b,\r\n  title = {B}\r\n}\r\n")


def test_read_bib_missing_directory_and_binary(tmp_path: Path) -> None:
    assert read_bib(tmp_path / "none.bib").exists is False
    with pytest.raises(BibFileError, match="is a directory"):
        read_bib(tmp_path)
    (tmp_path / "bin.bib").write_bytes(b"\x00\x01\x02@misc{")
    with pytest.raises(BibFileError, match="binary"):
        read_bib(tmp_path / "bin.bib")


SMALL = "@misc{a,\n  title = {Caf\u00e9 and more text to tell the encoding by}\n}\n"


@pytest.mark.parametrize(
    ("codec", "bom", "described", "iconv"),
    [
        ("utf-16-le", b"\xff\xfe", "UTF-16 (little-endian, with BOM)", "UTF-16"),
        ("utf-16-be", b"\xfe\xff", "UTF-16 (big-endian, with BOM)", "UTF-16"),
        ("utf-16-le", b"", "UTF-16 (little-endian, no BOM)", "UTF-16LE"),
        ("utf-16-be", b"", "UTF-16 (big-endian, no BOM)", "UTF-16BE"),
        ("utf-32-le", b"\xff\xfe\x00\x00", "UTF-32 (little-endian, with BOM)", "UTF-32"),
        ("utf-32-be", b"\x00\x00\xfe\xff", "UTF-32 (big-endian, with BOM)", "UTF-32"),
        ("utf-32-le", b"", "UTF-32 (little-endian, no BOM)", "UTF-32LE"),
        ("utf-32-be", b"", "UTF-32 (big-endian, no BOM)", "UTF-32BE"),
    ],
)
def test_utf16_and_utf32_files_are_refused_with_how_to_convert(
    tmp_path: Path, codec: str, bom: bytes, described: str, iconv: str
) -> None:
    path = tmp_path / "refs.bib"
    path.write_bytes(bom + SMALL.encode(codec))
    assert wide_encoding(path.read_bytes()) is not None
    with pytest.raises(BibFileError) as info:
        read_bib(path)
    assert str(info.value) == (
        f"{path}: is {described} text, which BibTeX cannot read; convert it to UTF-8 with "
        f"`iconv -f {iconv} -t UTF-8 {path} > refs-utf8.bib` and use that file "
        "(nothing was written)"
    )


@pytest.mark.parametrize("codec", ["utf-8", "latin-1", "cp1252"])
def test_eight_bit_files_are_not_taken_for_wide_ones(codec: str) -> None:
    assert wide_encoding(SMALL.encode(codec)) is None


def test_non_utf8_file_knows_its_first_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    path.write_bytes(b"@misc{a, title={A}}\n% caf\xc3\xa9\n@misc{b, title={Caf\xe9}}\n")
    bib = read_bib(path)
    assert bib.not_utf8_line == 3
    assert [e.key for e in bib.entries] == ["a", "b"]
    path.write_bytes(SMALL.encode("utf-8"))
    assert read_bib(path).not_utf8_line is None


def test_field_spans_and_set_field_edit_only_the_value() -> None:
    raw = '@article{gpt3,\n  title = "A {B} C",\n  keywords = {llm, scaling},\n}'
    spans = {s.name: raw[s.value_start : s.value_end] for s in field_spans(raw)}
    assert spans == {"title": '"A {B} C"', "keywords": "{llm, scaling}"}
    assert set_field(raw, "keywords", "llm, scaling, rag", "\n") == raw.replace(
        "{llm, scaling}", "{llm, scaling, rag}"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "@misc{a,\n  title = {A}\n}",
            "@misc{a,\n  title = {A},\n  keywords = {x}\n}",
        ),
        (
            "@misc{a,\n\ttitle = {A},\n}",
            "@misc{a,\n\ttitle = {A},\n\tkeywords = {x},\n}",
        ),
        (
            "@misc(a,\r\n    title = {A}\r\n)",
            "@misc(a,\r\n    title = {A},\r\n    keywords = {x}\r\n)",
        ),
        ("@misc{a,}", "@misc{a,\n  keywords = {x}\n}"),
    ],
)
def test_set_field_adds_a_missing_field_in_the_entrys_style(raw: str, expected: str) -> None:
    eol = "\r\n" if "\r\n" in raw else "\n"
    assert set_field(raw, "keywords", "x", eol) == expected


def test_replace_spans_rejects_overlaps() -> None:
    assert replace_spans("abcdef", [(4, 5, "E"), (0, 1, "A")]) == "AbcdEf"
    with pytest.raises(ValueError):
        replace_spans("abcdef", [(0, 3, ""), (2, 4, "")])


def test_write_atomic_keeps_mode_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "out" / "refs.bib"
    path.parent.mkdir()
    path.write_text("old")
    path.chmod(0o640)
    write_atomic(path, b"new")
    assert path.read_bytes() == b"new"
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in path.parent.iterdir()] == ["refs.bib"]


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_corpus_files_parse_or_are_refused_with_a_line(path: Path) -> None:
    if wide_encoding(path.read_bytes()):
        with pytest.raises(BibFileError, match=r"is UTF-16 .* `iconv -f UTF-16"):
            read_bib(path)
        return
    bib = read_bib(path)
    if path.name.startswith("malformed"):
        assert bib.problems and all(line > 1 for line, _ in bib.problems)
    assert bib.entries
    assert bib.encode() == path.read_bytes()
