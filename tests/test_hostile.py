"""Hostile listings: thousands-deep nesting, unbalanced TeX, megabyte lines, any bytes.

No input may crash `add`: every stage (parse, select, tags, citation key, escaping, the
duplicate check, reading the .bib back) finishes in linear time and bounded stack, and a
paper whose text cannot be written safely is skipped with a warning while the rest is added.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from readlist.bibfile import BibIndex, read_bib
from readlist.bibtex import MAX_FIELD_CHARS, check_writable, format_entry
from readlist.citekey import make_citekey
from readlist.cli import cli
from readlist.config import BibtexConfig
from readlist.errors import InputError, UnsafeTextError
from readlist.latex import (
    MAX_MATH_NESTING,
    bibtex_escape,
    brace_depth_ok,
    plain_text,
    protect_title,
)
from readlist.library import add_papers
from readlist.listing import dedupe, parse_source, parse_text
from readlist.models import Listing, Paper
from readlist.normalize import normalize_title
from readlist.select import select
from readlist.tags import assign_tags, compile_rules

DEEP = 5000


def _nest(opening: str, core: str, closing: str, depth: int) -> str:
    return opening * depth + core + closing * depth


def _hostile(depth: int) -> dict[str, str]:
    """Texts nested or repeated `depth` times, by what they attack."""
    return {
        "braces": _nest("{", "x", "}", depth),
        "frac": "$" + _nest("\\frac{", "1", "}{2}", depth) + "$",
        "frac-unbraced": "$" + "\\frac" * depth + "1" * (depth + 1) + "$",
        "math-braces": "$" + _nest("{", "x", "}", depth) + "$",
        "sqrt": "$" + _nest("\\sqrt{", "x", "}", depth) + "$",
        "superscripts": "$" + _nest("x^{", "y", "}", depth) + "$",
        "textbf": _nest("\\textbf{", "x", "}", depth),
        "href": _nest("\\href{u}{", "x", "}", depth),
        "unbalanced-open": "{" * depth + " x",
        "unbalanced-close": "x " + "}" * depth,
        "unclosed-macro-groups": "\\foo{" * depth,
        "unclosed-urls": "\\url{" * depth,
        "unclosed-accents": "\\'{" * depth,
        "unclosed-inline-math": "\\(" * depth,
        "unclosed-display-math": "\\[" * depth,
        "dollars": "$" * (depth + 1),
        "ties": "a~b" * depth * 4,
        "closing-parens": "GPT" + "(" * depth + ")" * depth,
        "backslashes": "\\" * depth,
        "specials": "%&#_~^\\$" * depth,
    }


# Each of these crashed `add` with a RecursionError, or took minutes, before they were guarded.
HOSTILE = _hostile(DEEP)
# Nested less deeply: every one of these is written (and compiles).
SHALLOW = _hostile(100)


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_escaping_survives_hostile_text_quickly(text: str) -> None:
    started = time.perf_counter()
    for ascii_only in (True, False):
        for value in (
            bibtex_escape(text, ascii_only=ascii_only),
            protect_title(text, ascii_only=ascii_only),
        ):
            assert brace_depth_ok(value)
            assert "\n" not in value
    plain_text(text)
    normalize_title(text)
    # All of it, ten calls on 5,000-deep input, is linear: a second at most on a slow runner
    # (the quadratic versions took minutes).
    assert time.perf_counter() - started < 10


def test_deep_math_is_written_as_text_and_shallow_math_stays_math() -> None:
    deep = "$" + _nest("\\frac{", "1", "}{2}", MAX_MATH_NESTING + 1) + "$"
    assert "$" not in bibtex_escape(deep, ascii_only=True).replace("\\$", "")
    shallow = "$\\frac{\\frac{a}{b}}{c}$ and $x^{y^{z}}$"
    assert bibtex_escape(shallow, ascii_only=True) == shallow


def test_deep_formatting_is_decoded_to_a_limit_then_kept_visibly() -> None:
    assert plain_text(_nest("\\textbf{", "x", "}", 3)) == "x"
    deep = plain_text(_nest("\\textbf{", "x", "}", 100))
    assert deep.endswith("x" + "}" * (100 - 16)) and "\\textbf{" in deep


def test_megabyte_lines_cost_linear_time() -> None:
    texts = [
        "word " * 200_000,
        "X" * 1_000_000,
        "$x$ " * 250_000,
        "\\(" * 500_000,
        "a~b" * 300_000,
        "\\foo{" * 200_000,
    ]
    started = time.perf_counter()
    for text in texts:
        bibtex_escape(text, ascii_only=True)
    assert time.perf_counter() - started < 30


def _paper(title: str, abstract: str | None = None, line: int = 1) -> Paper:
    return Paper(
        title=title, abstract=abstract, listing=Listing(title, abstract, source="l.txt", line=line)
    )


@pytest.mark.parametrize("text", SHALLOW.values(), ids=SHALLOW.keys())
def test_hostile_title_and_abstract_are_added_and_found_again(tmp_path: Path, text: str) -> None:
    bib = tmp_path / "refs.bib"
    paper = _paper(f"Hostile {text}", f"It says {text}.")
    outcome = add_papers(bib, [paper, _paper("A Plain Title")], BibtexConfig())
    assert [a.paper.title for a in outcome.added] == [paper.title, "A Plain Title"]
    entries = read_bib(bib).entries
    assert len(entries) == 2
    again = add_papers(bib, [paper], BibtexConfig())
    assert not again.added and again.present[0].reason == "same title"


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_deep_hostile_text_is_added_or_skipped(tmp_path: Path, text: str) -> None:
    bib = tmp_path / "refs.bib"
    paper = _paper(f"Hostile {text}", f"It says {text}.")
    outcome = add_papers(bib, [paper, _paper("A Plain Title")], BibtexConfig())
    assert [a.paper.title for a in outcome.added][-1] == "A Plain Title"
    if outcome.skipped:
        assert re.fullmatch(
            r"its (title|abstract) would take [\d,]+ (characters of BibTeX|TeX macros) .*",
            outcome.skipped[0].reason,
        )
        assert len(read_bib(bib).entries) == 1
    else:
        again = add_papers(bib, [paper], BibtexConfig())
        assert not again.added and again.present[0].reason == "same title"


def test_shallow_hostile_entries_compile_with_bibtex(tmp_path: Path, texmfvar: Path) -> None:
    from latex_tools import compile_natbib, require_tools

    require_tools("pdflatex", "bibtex")
    bib = tmp_path / "refs.bib"
    papers = [
        _paper(f"Hostile {name} {text}", f"It says {text}.") for name, text in SHALLOW.items()
    ]
    outcome = add_papers(bib, papers, BibtexConfig())
    assert not outcome.skipped
    keys = [a.key for a in outcome.added]
    result = compile_natbib(bib.read_text(), keys, tmp_path / "doc", texmfvar=texmfvar)
    assert result.ok, result.summary()
    # No author or year: what an unresolved entry cannot avoid. Anything else is a defect.
    expected = ("empty author", "empty year", "need key to sort", "need author")
    assert not [w for w in result.warnings if not any(e in w.lower() for e in expected)]


def test_pipeline_stages_take_hostile_listings() -> None:
    text = "".join(f"Paper {name}\n\n{value}\n\n" for name, value in HOSTILE.items())
    listings = parse_text(text, "l.txt")
    assert len(listings) == len(HOSTILE)
    assert len(dedupe(listings)) == len(HOSTILE)
    assert select(listings, match=["frac"])
    rules = compile_rules((("math", ("frac", "re:\\bsqrt\\b")),))
    for listing in listings:
        assert listing.title is not None
        assign_tags({"title": listing.title, "abstract": listing.abstract}, rules)
        key = make_citekey(_paper(listing.title, listing.abstract), "{auth}{year}{shorttitle}")
        assert key.isascii() and key


def test_too_long_text_is_refused_with_its_length() -> None:
    paper = _paper("Fine", "x" * (MAX_FIELD_CHARS + 1))
    with pytest.raises(UnsafeTextError, match=r"its abstract is 100,001 characters long"):
        format_entry(paper, "key")
    check_writable(_paper("Fine", "x" * MAX_FIELD_CHARS))


def test_unsafe_paper_is_skipped_and_the_rest_written(tmp_path: Path) -> None:
    bib = tmp_path / "refs.bib"
    huge = _paper("Huge", "word " * 2_000_000, line=3)
    outcome = add_papers(bib, [_paper("First"), huge, _paper("Last")], BibtexConfig())
    assert [a.paper.title for a in outcome.added] == ["First", "Last"]
    assert [(s.paper.title, s.reason) for s in outcome.skipped] == [
        ("Huge", "its abstract is 10,000,000 characters long (at most 100,000 are written)")
    ]
    assert [e.key for e in read_bib(bib).entries] == [a.key for a in outcome.added]


def test_a_recursion_error_skips_the_paper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import readlist.bibtex

    real = readlist.bibtex.protect_title

    def recursing(title: str, *, ascii_only: bool) -> str:
        if title == "Deep":
            raise RecursionError("maximum recursion depth exceeded")
        return real(title, ascii_only=ascii_only)

    monkeypatch.setattr(readlist.bibtex, "protect_title", recursing)
    outcome = add_papers(tmp_path / "r.bib", [_paper("Deep"), _paper("Fine")], BibtexConfig())
    assert [a.paper.title for a in outcome.added] == ["Fine"]
    assert outcome.skipped[0].reason == "its text nests too deeply to be written safely"


# -- through the command line ---------------------------------------------------------------


def run(*args: str, input: str | bytes | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def _hostile_listing(texts: dict[str, str]) -> str:
    papers = [
        f"Hostile Paper About {name.title()}\n\n{text} here.\n" for name, text in texts.items()
    ]
    return "\n".join(papers) + "\nA Perfectly Ordinary Paper\n\nIt says ordinary things.\n"


def test_add_writes_every_shallow_hostile_paper(tmp_path: Path) -> None:
    listing = tmp_path / "listing.txt"
    listing.write_text(_hostile_listing(SHALLOW))
    bib = tmp_path / "refs.bib"
    result = run("add", str(listing), "--all", "--offline", "--bib", str(bib))
    assert result.exit_code == 0, result.output
    total = len(SHALLOW) + 1
    assert len(result.stdout.splitlines()) == total  # the added keys, on stdout
    assert f"{total} added, 0 already present" in result.stderr
    assert len(read_bib(bib).entries) == total
    again = run("add", str(listing), "--all", "--offline", "--bib", str(bib))
    assert f"0 added, {total} already present" in again.stderr
    listed = run("list", "--bib", str(bib))
    assert listed.exit_code == 0 and f"{total} entries" in listed.stderr


def test_add_writes_or_skips_each_deep_hostile_paper(tmp_path: Path) -> None:
    listing = tmp_path / "listing.txt"
    listing.write_text(_hostile_listing(HOSTILE))
    bib = tmp_path / "refs.bib"
    result = run("add", str(listing), "--all", "--offline", "--bib", str(bib))
    assert "Traceback" not in result.output
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped: ")]
    added = result.stdout.splitlines()  # the added keys
    assert len(skipped) + len(added) == len(HOSTILE) + 1
    assert added[-1] == read_bib(bib).entries[-1].key
    assert read_bib(bib).entries[-1].fields["title"] == "A Perfectly Ordinary Paper"
    assert result.exit_code == (1 if skipped else 0), result.output
    for line in skipped:
        assert re.fullmatch(
            rf"skipped: Hostile Paper About [-\w]+ \({re.escape(str(listing))}:\d+\): its "
            r"(title|abstract) would take [\d,]+ .*",
            line,
        ), line
    assert len(read_bib(bib).entries) == len(added)
    again = run("add", str(listing), "--all", "--offline", "--bib", str(bib))
    assert f"0 added, {len(added)} already present, {len(skipped)} skipped" in again.stderr


def test_add_skips_a_paper_it_cannot_write_and_adds_the_rest(tmp_path: Path) -> None:
    title = "An Extremely Long Title That Goes On And On About Many Things In Great Detail Indeed"
    text = (
        f"First Paper\n\nIt is fine.\n\n{title}\n\n{'word ' * 2_000_000}\n\nLast Paper\n\nFine.\n"
    )
    listing = tmp_path / "listing.txt"
    listing.write_text(text)
    bib = tmp_path / "refs.bib"
    started = time.perf_counter()
    result = run("add", str(listing), "--all", "--offline", "--bib", str(bib))
    elapsed = time.perf_counter() - started
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [e.key for e in read_bib(bib).entries]
    cut = title[:79] + "…"
    assert (
        f"skipped: {cut} ({listing}:5): its abstract is 9,999,999 characters long "
        "(at most 100,000 are written)\n"
    ) in result.stderr
    assert "2 added, 0 already present, 2 unresolved, 1 skipped in" in result.stderr
    assert "Traceback" not in result.output
    assert [e.fields["title"] for e in read_bib(bib).entries] == ["First Paper", "Last Paper"]
    assert elapsed < 30  # a 10 MB line: a few seconds of linear work


def test_add_json_lists_skipped_papers(tmp_path: Path) -> None:
    listing = tmp_path / "listing.txt"
    listing.write_text(f"Huge One\n\n{'x' * (MAX_FIELD_CHARS + 1)}\n\nSmall One\n\nFine.\n")
    result = run(
        "add", str(listing), "--all", "--offline", "--json", "--bib", str(tmp_path / "r.bib")
    )
    assert result.exit_code == 1, result.output
    import json

    data = json.loads(result.stdout)
    assert [p["title"] for p in data["added"]] == ["Small One"]
    assert data["skipped"] == [
        {
            "title": "Huge One",
            "arxiv_id": None,
            "tags": [],
            "source": str(listing),
            "line": 1,
            "reason": "its abstract is 100,001 characters long (at most 100,000 are written)",
        }
    ]


def test_add_refuses_binary_input_with_one_line(tmp_path: Path) -> None:
    result = run("add", "-", "--all", "--offline", "--bib", str(tmp_path / "r.bib"), input=b"\0\1")
    assert result.exit_code == 1
    assert result.stderr == "Error: <stdin>: looks like a binary file, not a text listing\n"


# -- properties ------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_parse_or_give_a_clear_error(data: bytes) -> None:
    try:
        listings = parse_source(data, "x.txt")
    except InputError as exc:
        assert str(exc).startswith("x.txt: ")
        return
    for listing in listings:
        assert listing.title or listing.arxiv_id


_PIECES = st.sampled_from(
    [
        "$", "{", "}", "\\", "%", "&", "#", "_", "~", "^", " ", "a", "Z", "0", "α", "Ω", "é",
        "ü", "ß", "\\frac", "\\alpha", "\\textbf{", "\\'", "\\\"", "$x$", "\\(", "\\)", "\\[",
        "\\]", "\\url{", "\\href{", "--", "LLM", "GPT-4V", "x^{", "\\sqrt{", "\\%", "\\&", "`",
        "''", "\u0301", "中", "😀",
    ]
)  # fmt: skip


@st.composite
def _tex_text(draw: st.DrawFn) -> str:
    """Text made of TeX-ish pieces, sometimes wrapped in deep nesting, balanced or not."""
    text = "".join(draw(st.lists(_PIECES, max_size=40)))
    depth = draw(st.sampled_from([0, 0, 3, 40, 1500]))
    if depth:
        opening, closing = draw(
            st.sampled_from(
                [("{", "}"), ("$\\frac{", "}{2}$"), ("\\textbf{", "}"), ("{", ""), ("", "}")]
            )
        )
        text = opening * depth + text + closing * depth
    return text


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(title=_tex_text(), abstract=_tex_text())
def test_any_title_and_abstract_read_back_or_are_skipped(
    tmp_path: Path, title: str, abstract: str
) -> None:
    title = "P " + title  # a title with no letters at all has nothing to compare
    bib = tmp_path / "prop.bib"
    bib.unlink(missing_ok=True)
    paper = _paper(title, abstract)
    for style in ("bibtex", "biblatex"):
        bib.unlink(missing_ok=True)
        outcome = add_papers(bib, [paper], BibtexConfig(style=style))  # type: ignore[arg-type]
        if outcome.skipped:
            assert not outcome.added and outcome.skipped[0].reason
            continue
        entries = read_bib(bib).entries
        assert len(entries) == 1
        for value in entries[0].fields.values():
            assert brace_depth_ok(value)
        hit = BibIndex(entries).find(title=title)
        assert hit is not None and hit[1] == "same title"


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.one_of(
        st.binary(max_size=400),
        st.text(alphabet=st.sampled_from(list("{}$\\%&#_~^ \nabcXY.:α中")), max_size=400).map(
            str.encode
        ),
    )
)
def test_add_takes_any_bytes_on_stdin(tmp_path: Path, data: bytes) -> None:
    bib = tmp_path / "any.bib"
    bib.unlink(missing_ok=True)
    result = run("add", "-", "--all", "--offline", "--bib", str(bib), input=data)
    assert result.exit_code in (0, 1), result.output
    assert "unexpected" not in result.stderr and "Traceback" not in result.output
    if result.exit_code == 1:
        assert result.stderr.startswith("Error: <stdin>: "), result.stderr
        assert len(result.stderr.splitlines()) == 1
    else:
        entries = read_bib(bib).entries
        assert entries and len(entries) == len(result.stdout.splitlines())


def test_thousands_of_papers_with_colliding_keys_cost_linear_time(tmp_path: Path) -> None:
    # Keys of papers without authors take three title words: every one of these collides
    # ("samethreewords", "samethreewordsa", ... "samethreewordsklm").
    papers = [_paper(f"Same Three Words, number {n}") for n in range(8000)]
    started = time.perf_counter()
    outcome = add_papers(tmp_path / "many.bib", papers, BibtexConfig())
    elapsed = time.perf_counter() - started
    keys = [a.key for a in outcome.added]
    assert len(set(keys)) == 8000
    assert keys[:3] == ["samethreewords", "samethreewordsa", "samethreewordsb"]
    assert elapsed < 20  # folding every key and probing every suffix again took minutes


def test_key_set_compares_case_insensitively() -> None:
    from readlist.citekey import KeySet

    taken = KeySet(["Zhu2025InternVL3"])
    taken.add("ZHU2025INTERNVL3A")
    assert "zhu2025internvl3" in taken and "zhu2025internvl3a" in taken
    assert len(taken) == 2 and 3 not in taken
    paper = Paper(title="InternVL3", authors=("Jinguo Zhu",), year=2025)
    assert make_citekey(paper, taken=taken) == "zhu2025internvl3b"
