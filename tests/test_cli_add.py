"""`readlist add` and `readlist show` through the command line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import corpus_files, listing_files

from readlist.bibfile import read_bib, wide_encoding
from readlist.bibreader import read_like_bibtex
from readlist.cli import cli

LISTING = """new

Get trending papers in your email inbox!

Subscribe

byAK and the research community

Apr 28

Re-ranking the Context for Multimodal Retrieval Augmented Generation

Retrieval-augmented generation (RAG) enhances large language models (LLMs) by incorporating external knowledge to generate a response within a context with improved accuracy and reduced hallucinations.

Token-Efficient Long Video Understanding for Multimodal LLMs

Recent advances in video-based multimodal large language models (Video-LLMs) have significantly improved video understanding by processing videos as sequences of image frames.

AstroM$^3$: A self-supervised multimodal model for astronomy

While machine-learned models are now routinely employed to facilitate astronomical inquiry, model inputs tend to be limited to a primary data source (namely images or time series) and, in the more advanced approaches, some metadata.
"""

CONFIG = """
[tags]
retrieval = ["retrieval", "RAG", "re-rank*"]
video = ["video"]
astro = ["re:astro\\\\w*"]

[tagging]
always = ["to-read"]
"""


def run(*args: str, input: str | bytes | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "listing.txt").write_text(LISTING)
    (isolated_env / "config.toml").write_text(CONFIG)
    return tmp_path


def test_add_all_offline_writes_tagged_unresolved_entries(workdir: Path) -> None:
    result = run("add", "listing.txt", "--all", "--offline", "--bib", "refs.bib")
    assert result.exit_code == 0, result.output
    assert "3 added, 0 already present, 3 unresolved" in result.stderr
    assert "run `readlist resolve`" in result.stderr
    # stdout carries data: the added keys, one per line when piped
    assert result.stdout.splitlines() == [e.key for e in read_bib(workdir / "refs.bib").entries]
    entries = read_bib(workdir / "refs.bib").entries
    assert len(entries) == 3
    tags = {e.fields["title"][:12]: e.tags for e in entries}
    assert tags["Re-ranking t"] == ["retrieval", "to-read"]
    assert ["video", "to-read"] in tags.values()
    assert all(e.is_unresolved for e in entries)


def test_second_identical_run_adds_nothing_and_says_so(workdir: Path) -> None:
    run("add", "listing.txt", "--all", "--offline", "--bib", "refs.bib")
    before = (workdir / "refs.bib").read_bytes()
    result = run("add", "listing.txt", "--all", "--offline", "--bib", "refs.bib")
    assert result.exit_code == 0, result.output
    assert "0 added, 3 already present" in result.stderr
    assert "nothing to add" in result.stderr
    assert (workdir / "refs.bib").read_bytes() == before


def test_pick_and_match_select_papers(workdir: Path) -> None:
    result = run(
        "add", "listing.txt", "--pick", "3", "--match", "VIDEO", "--offline", "--bib", "refs.bib"
    )
    assert result.exit_code == 0, result.output
    titles = [e.fields["title"] for e in read_bib(workdir / "refs.bib").entries]
    assert len(titles) == 2
    assert any("Video" in t for t in titles) and any("Astro" in t for t in titles)


def test_listing_without_selection_is_a_usage_error(workdir: Path) -> None:
    result = run("add", "listing.txt", "--offline", "--bib", "refs.bib")
    assert result.exit_code == 2
    assert "choose with --pick" in result.stderr
    assert not (workdir / "refs.bib").exists()


def test_interactive_picker(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("readlist.cli._stdin_is_interactive", lambda: True)
    result = run("add", "listing.txt", "--offline", "--bib", "refs.bib", input="9\n2\n")
    assert result.exit_code == 0, result.output
    assert "1. [ ] Re-ranking the Context" in result.stderr
    assert "out of range" in result.stderr
    assert len(read_bib(workdir / "refs.bib").entries) == 1


def test_identifiers_are_added_without_selection_and_kept_as_eprint(workdir: Path) -> None:
    result = run(
        "add",
        "2504.10479",
        "https://arxiv.org/abs/2312.06647v2",
        "https://huggingface.co/papers/2409.11402",
        "--offline",
        "--bib",
        "refs.bib",
    )
    assert result.exit_code == 0, result.output
    entries = read_bib(workdir / "refs.bib").entries
    assert [e.fields["eprint"] for e in entries] == ["2504.10479", "2312.06647", "2409.11402"]
    assert entries[0].fields["year"] == "2025"
    again = run("add", "arXiv:2504.10479v2", "--offline", "--bib", "refs.bib")
    assert "0 added, 1 already present" in again.stderr


def test_without_offline_unresolved_papers_exit_1(workdir: Path) -> None:
    result = run("add", "2504.10479", "--bib", "refs.bib")
    assert result.exit_code == 1
    assert "unresolved (1):\n  arxiv250410479 arXiv:2504.10479: arXiv API" in result.stderr
    assert len(read_bib(workdir / "refs.bib").entries) == 1


def test_stdin_and_duplicates_across_sources(workdir: Path) -> None:
    result = run(
        "add", "-", "listing.txt", "--all", "--offline", "--bib", "refs.bib", input=LISTING
    )
    assert result.exit_code == 0, result.output
    assert len(read_bib(workdir / "refs.bib").entries) == 3


def test_dry_run_prints_and_writes_nothing(workdir: Path) -> None:
    result = run("add", "listing.txt", "--all", "--offline", "--bib", "refs.bib", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("@misc{") == 3
    assert "dry run" in result.stderr
    assert not (workdir / "refs.bib").exists()


def test_merge_tags_only_when_asked(workdir: Path) -> None:
    run("add", "listing.txt", "--pick", "1", "--offline", "--bib", "refs.bib")
    before = (workdir / "refs.bib").read_bytes()
    run("add", "listing.txt", "--pick", "1", "--tag", "thesis", "--offline", "--bib", "refs.bib")
    assert (workdir / "refs.bib").read_bytes() == before
    result = run(
        "add",
        "listing.txt",
        "--pick",
        "1",
        "--tag",
        "thesis",
        "--merge-tags",
        "--offline",
        "--bib",
        "refs.bib",
        "-v",
    )
    assert "tags added: thesis" in result.stderr
    assert "0 added, 1 already present, tags merged into 1 in refs.bib" in result.stderr
    after = (workdir / "refs.bib").read_bytes()
    assert after.replace(b"to-read, thesis", b"to-read") == before


def test_biblatex_style(workdir: Path) -> None:
    result = run(
        "add", "listing.txt", "--all", "--offline", "--bib", "refs.bib", "--style", "biblatex"
    )
    assert result.exit_code == 0, result.output
    assert {e.entry_type for e in read_bib(workdir / "refs.bib").entries} == {"online"}


def test_show_marks_papers_already_in_the_bib(workdir: Path) -> None:
    run("add", "listing.txt", "--pick", "2", "--offline", "--bib", "refs.bib")
    result = run("show", "listing.txt", "--bib", "refs.bib")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("1. [ ] Re-ranking")
    assert lines[1].startswith("2. [x] Token-Efficient") and "(in .bib as " in lines[1]
    assert "3 papers, 1 already in the .bib" in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "no papers found"),
        (b"\n\n   \n", "no papers found"),
        (b"\x00\x01\x02\x03binary\x00", "binary"),
        (b"caf\xe9 au lait\n", "not UTF-8"),
    ],
)
def test_bad_input_is_one_error_line_and_bib_untouched(
    workdir: Path, content: bytes, message: str
) -> None:
    bib = workdir / "refs.bib"
    bib.write_bytes(b"@misc{keep, title = {Keep me}}")
    (workdir / "bad.txt").write_bytes(content)
    result = run("add", "bad.txt", "--all", "--offline", "--bib", "refs.bib")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: bad.txt")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert bib.read_bytes() == b"@misc{keep, title = {Keep me}}"


def test_missing_source_is_an_error(workdir: Path) -> None:
    result = run("add", "nope.txt", "--all", "--bib", "refs.bib")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: nope.txt")


def test_malformed_config_is_one_error_line(workdir: Path, isolated_env: Path) -> None:
    (isolated_env / "config.toml").write_text("[tags\nx = 1\n")
    result = run("add", "listing.txt", "--all", "--offline", "--bib", "refs.bib")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")
    assert "config.toml" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (workdir / "refs.bib").exists()


def test_bib_that_would_swallow_the_new_entry_is_refused_untouched(workdir: Path) -> None:
    bad = workdir / "bad.bib"
    original = b'@misc{ok, title={Fine}}\n\n@article{x,\n  title = "A \\{ brace",\n}\n'
    bad.write_bytes(original)
    result = run("add", "listing.txt", "--all", "--offline", "--bib", "bad.bib")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        'Error: bad.bib:4: the `"` opening field `title` of `@article{x` (line 3) is never '
        'closed by a matching `"` (in a .bib a backslash does not escape a brace: write '
        "`{\\{}`): BibTeX reads the rest of the file into it, so BibTeX would not see a new "
        "entry; fix the file (nothing was written)\n"
    )
    assert bad.read_bytes() == original


def test_malformed_corpus_file_is_refused_where_bibtex_loses_the_rest(
    workdir: Path, data: Path
) -> None:
    # Line 15 is `@string{ foo = "foo{" }`: the `{` never closes, so real bibtex reads the
    # rest of the file, and anything appended, into that string ("Illegal end of database").
    target = workdir / "bad.bib"
    original = (data / "corpora/bib/malformed_syntax_errors.bib").read_bytes()
    target.write_bytes(original)
    result = run("add", "listing.txt", "--all", "--offline", "--bib", "bad.bib")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        'Error: bad.bib:15: the `"` opening field `foo` of `@string{ foo` (line 15) is never closed'
    )
    assert target.read_bytes() == original


def test_bib_with_errors_bibtex_reads_past_is_appended(workdir: Path) -> None:
    # BibTeX reports errors here (a `}` that closes nothing in a quoted value, a missing `,`)
    # but reads on to the end of the file, so a new entry is seen.
    target = workdir / "bad.bib"
    original = b'@string{ foo = "foo }\n\n@book{key,\n\tauthor = "An Author"\n\ttitle = "T"\n}\n'
    target.write_bytes(original)
    result = run("add", "listing.txt", "--all", "--offline", "--bib", "bad.bib")
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(original)


def test_dry_run_refuses_the_same_way(workdir: Path) -> None:
    bad = workdir / "bad.bib"
    original = b"@misc{ok, title={Fine}}\n\n@article{x,\n  title = {Open,\n"
    bad.write_bytes(original)
    result = run("add", "listing.txt", "--all", "--offline", "--dry-run", "--bib", "bad.bib")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("Error: bad.bib:4: the `{` opening field `title` of ")
    assert bad.read_bytes() == original


def test_utf16_bib_is_refused_with_the_conversion(workdir: Path) -> None:
    original = "@misc{a, title={A}}\n".encode("utf-16")
    (workdir / "wide.bib").write_bytes(original)
    result = run("add", "listing.txt", "--all", "--offline", "--bib", "wide.bib")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: wide.bib: is UTF-16 (little-endian, with BOM) text, which BibTeX cannot read; "
        "convert it to UTF-8 with `iconv -f UTF-16 -t UTF-8 wide.bib > wide-utf8.bib` and use "
        "that file (nothing was written)\n"
    )
    assert (workdir / "wide.bib").read_bytes() == original


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: getattr(p, "name", p))
def test_add_keeps_every_byte_of_each_corpus_file(workdir: Path, path: Path) -> None:
    target = workdir / path.name
    original = path.read_bytes()
    target.write_bytes(original)
    result = run("add", "listing.txt", "--all", "--offline", "--bib", str(target))
    if wide_encoding(original):
        assert result.exit_code == 1
        assert "iconv -f UTF-16" in result.stderr
        assert target.read_bytes() == original
        return
    if read_like_bibtex(read_bib(target).text).open_at_end is not None:
        # The file ends inside a value or entry that would swallow what we append (both
        # legacy_ai_bibliography_paren_entries.bib and malformed_syntax_errors.bib do).
        assert result.exit_code == 1
        assert re.match(rf"Error: {re.escape(str(target))}:\d+: ", result.stderr)
        assert target.read_bytes() == original
        return
    assert result.exit_code == 0, result.output
    new = target.read_bytes()
    assert new.startswith(original)
    assert new.count(b"readlist-status") - original.count(b"readlist-status") == 3
    if b"\r\n" in original[-200:]:
        assert b"\r\n" in new[len(original) :]
    read_bib(target)  # what we wrote parses again


def test_all_sample_listings_give_one_entry_per_distinct_paper(workdir: Path, data: Path) -> None:
    files = [str(p) for p in listing_files()]
    result = run("add", *files, "--all", "--offline", "--bib", "refs.bib")
    assert result.exit_code == 0, result.output
    entries = read_bib(workdir / "refs.bib").entries
    assert len(entries) == 167
    assert len({e.key for e in entries}) == 167
    again = run("add", *files, "--all", "--offline", "--bib", "refs.bib")
    assert "0 added, 167 already present" in again.stderr


def test_add_json_summary(workdir: Path) -> None:
    import json

    result = run("add", "listing.txt", "--pick", "1", "--offline", "--bib", "refs.bib", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["written"] is True and data["present"] == []
    (added,) = data["added"]
    assert added["title"].startswith("Re-ranking the Context")
    assert added["tags"] == ["retrieval", "to-read"]
    assert added["resolved"] is False and added["reason"] == "offline, and not in the cache"
    again = json.loads(
        run("add", "listing.txt", "--pick", "1", "--offline", "--bib", "refs.bib", "--json").stdout
    )
    assert again["added"] == [] and again["present"][0]["key"] == added["key"]


def test_colour_on_a_terminal_and_never_when_asked_not_to(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def add(*extra: str, **kw: str) -> str:
        target = f"c{len(list(workdir.glob('*.bib')))}.bib"
        result = CliRunner().invoke(
            cli, [*extra, "add", "2504.10479", "--bib", target], color=True, **kw
        )
        return result.stderr

    assert "\x1b[" in add()  # the failure header is coloured
    assert "\x1b[" not in add("--no-color")
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in add()


def test_plurals_are_right(workdir: Path) -> None:
    (workdir / "one.txt").write_text("A Single Paper Title\n\nIts abstract.\n")
    shown = run("show", "one.txt")
    assert shown.stderr.strip() == "1 paper, 0 already in the .bib"
    unpicked = run("add", "one.txt", "--bib", "refs.bib")
    assert unpicked.exit_code == 2 and "1 paper found; choose with" in unpicked.stderr
    run("add", "listing.txt", "--pick", "1", "--offline", "--bib", "x.bib")
    assert "1 entry, 1 unresolved" in run("list", "--bib", "x.bib").stderr


def test_show_keeps_each_paper_on_one_line_of_the_terminal(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    result = run("show", "listing.txt")
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and all(len(line) <= 60 for line in lines)
    assert lines[0].startswith("1. [ ] Re-ranking the Context") and lines[0].endswith("…")
