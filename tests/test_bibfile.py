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


def test_malformed_file_is_refused_with_its_line(tmp_path: Path) -> None:
    text = "@misc{ok, title = {Fine}}\n\n@misc{broken,\n  title = {Unclosed\n\n@misc{next, title={x}}\n"
    with pytest.raises(BibFileError) as info:
        parse_entries(text, tmp_path / "bad.bib")
    assert info.value.line == 3
    assert str(info.value).startswith(f"{tmp_path / 'bad.bib'}:3: cannot parse `@misc{{broken,`")


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
    if path.name.startswith("malformed"):
        with pytest.raises(BibFileError) as info:
            read_bib(path)
        assert info.value.line and info.value.line > 1
        return
    bib = read_bib(path)
    assert bib.entries
    assert bib.encode() == path.read_bytes()
