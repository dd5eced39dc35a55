"""Reading entries: the fast reading of plain entries gives exactly what bibtexparser's splitter
gives (readlist.bibparse), on real files and on generated text."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from conftest import corpus_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bibreader import _FRAGMENTS as READER_FRAGMENTS

from readlist import bibparse
from readlist.bibfile import decode_bib
from readlist.bibparse import BibEntry, parse_entries


def splitter_only(text: str) -> tuple[list[BibEntry], list[tuple[int, str]]]:
    """What the splitter alone reads from `text`, with true line numbers."""
    problems: list[tuple[int, str]] = []
    entries, _ = bibparse._split_region(text, problems)
    return entries, problems


def both_ways(text: str) -> None:
    problems: list[tuple[int, str]] = []
    fast = parse_entries(text, "x.bib", problems=problems)
    slow, slow_problems = splitter_only(text)
    assert fast == slow
    assert problems == slow_problems
    for entry in fast:
        assert entry.line == text.count("\n", 0, entry.start) + 1


def test_block_start_is_the_splitters() -> None:
    from bibtexparser import splitter

    assert bibparse._BLOCK_START.pattern == splitter._BLOCK_START


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: getattr(p, "name", str(p)))
def test_corpus_files_read_as_the_splitter_reads_them(path: Path) -> None:
    text, _ = decode_bib(path.read_bytes())
    both_ways(text)  # UTF-16 files are refused before reading, but read alike all the same


@pytest.mark.parametrize(
    "text",
    [
        '@misc{a, title = "A {"} quote", year = 2020}\n',
        '@misc{a, title = "Back\\"slash, quote", year = 2020}\n',
        "@misc{a, title = {Escaped \\} brace}}, year = 2020}\n@misc{b, title = {x}}\n",
        "@misc{a, title = {x},\n  @misc{b, title = {y}}\n",
        "@misc{a, title = {x\n @misc{b, title = {y}}\n}}\n",
        "@misc{a, title = {x}, }\n@misc{b,}\n@misc{c}\n@misc{d, = {x}}\n",
        "@misc{a, title = {x}, title = {y}, TITLE = {z}}\n",
        "@misc{a, month = jan # { 1}, note = LeQua @ {CLEF}}\n",
        "@misc{a, title = {{{{{deep}}}}}}\n@misc{b, title = {ok}}\n",
        "@misc{ key with space , title={x}}\n",
        "@string{x = {y}}\n@preamble{ {z} }\n@comment{ { }\n@misc{a, title={x}}\n",
        "@commentary{k, title = {x}}\n@misc{a, % note\n title = {x}}\n",
        "@misc(a, title = {x})\n@misc{b, title = {x}}\n",
        "text with an email@example.org{ in it\n@misc{a, title={x}}\n",
        "@misc{a, title = {x}\\\n}\n@misc{b, title = {y}}\n",
        "@misc{a, title = {unclosed}\n\n@misc{b, title = {y}}\n@misc{c, title = {z}}\n",
        "@misc{a, title = {é ü}, author = {Đorđe}}\r\n@misc{b, title = {y}}\r\n",
    ],
)
def test_hard_cases_read_as_the_splitter_reads_them(text: str) -> None:
    both_ways(text)


# The BibTeX reader's fragments, and what only the splitter treats specially.
_FRAGMENTS = [
    *READER_FRAGMENTS,
    '{"}',
    "\\",
    "}\n\n",
    "@misc{k2, title = {A {B} c}, year = {2020}}\n",
    '@misc{k3, title = "q {x} \\" y", note = a # "b"}\n',
]
bib_like = st.lists(
    st.one_of(st.sampled_from(_FRAGMENTS), st.text('ab1{}"@,= \n%#()\\', max_size=4)),
    max_size=40,
).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bib_like)
def test_generated_text_reads_as_the_splitter_reads_it(text: str) -> None:
    both_ways(text)


def test_plain_entries_skip_the_splitter(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = bibparse._split_region

    def counting(text: str, problems: list[tuple[int, str]] | None) -> object:
        calls.append(text)
        return real(text, problems)

    monkeypatch.setattr(bibparse, "_split_region", counting)
    plain = "".join(f"@misc{{k{i}, title = {{T {i}}}, year = {i}}}\n\n" for i in range(200))
    text = '@string{s = "x"}\n' + plain + "@comment{odd}\n" + plain.replace("{k", "{j")
    entries = parse_entries(text, "x.bib")
    assert len(entries) == 400
    # Only the @string and the @comment go to the splitter, each on its own small region.
    assert [c.split("{")[0] for c in calls] == ["@string", "@comment"]
    assert all(len(c) < 40 for c in calls)
    assert entries[0] == dataclasses.replace(
        entries[0], key="k0", entry_type="misc", fields={"title": "T 0", "year": "0"}, line=2
    )
