"""The model of BibTeX's .bib reader (readlist.bibreader), and refusing appends it cannot see.

The expected keys below are what real `bibtex` 0.99d printed for each text (with a style whose
`default.type` writes `cite$`); tests/test_bibtex_real.py checks the model against it live.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from readlist.bibfile import read_bib
from readlist.bibreader import read_like_bibtex
from readlist.errors import BibFileError
from readlist.library import BibOptions, add_papers
from readlist.models import Paper

Y = "@misc{y, title={U}}\n"

# (text, keys bibtex reads, whether it prints an error)
CASES = {
    "comment body braces": ("@comment{ a } b { }\n" + Y, ["y"], False),
    "entry inside comment": ("@comment{ @article{inner, title={T}} }\n" + Y, ["inner", "y"], False),
    "commentary is an entry": ("@commentary{k, title={T}, year=2020}\n", ["k"], False),
    "percent line": (
        "@article{x,\n  title={T},\n  % a comment\n  year = 2020,\n}\n" + Y,
        ["x", "y"],
        True,
    ),
    "unclosed entry eats next": ("@article{x,\n  title={T},\n  year = 2020,\n\n" + Y, ["x"], True),
    "backslash brace": ('@article{x, title="a \\{ b"}\n' + Y, ["x"], True),
    "lone at": ("text @\n" + Y, ["y"], False),
    "repeated key any case": (
        "@misc{Y, title={U}}\n" + Y + "@misc{w, title={U}}\n",
        ["Y", "w"],
        True,
    ),
    "paren entry key": ("@misc(a)b, title={U})\n" + Y, ["a)b", "y"], False),
    "empty key": ("@misc{, title={U}}\n" + Y, ["", "y"], False),
    "digit key": ("@misc{2020, title={U}}\n" + Y, ["2020", "y"], False),
    "quoted unbalanced": ('@string{ foo = "foo }\n' + Y, ["y"], True),
    "quoted unclosed": ('@misc{x, title = "foo,\n}\n' + Y, ["x", "y"], True),
    "number then junk": ("@misc{x, year = 2020a}\n" + Y, ["x", "y"], True),
    "type at brace": ("@misc{\n" + Y, ["@misc{y"], False),
    "cr line ends": ("@misc{x,\r title={T}}\r@misc{y, title={U}}\r", ["x", "y"], False),
    "control char": ("@misc{x,\x0c title={T}}\n" + Y, ["x", "y"], True),
    "macros and concatenation": (
        '@misc{x, month = jan # " 1", title = foo}\n' + Y,
        ["x", "y"],
        False,
    ),
    "bad macro": ('@misc{x, month = j"an, title = foo}\n' + Y, ["x", "y"], True),
    # An error at the start of the last line: bibtex checks for the end of the file before
    # each entry, and that line is already read, so the entry on it is lost.
    "error on last line": ("@misc{x,\n  title={T},\n  year = 2020\n\n" + Y, ["x"], True),
    "email then last line": ("contact me@foo.com\n" + Y, [], True),
    "preamble unclosed": ('@preamble{ "hello"\n' + Y, [], True),
    "two on the last line": ("@misc{x, title={U}} " + Y, ["x"], False),
    "two on a middle line": ("@misc{x, title={U}} " + Y + "\n", ["x", "y"], False),
    "crlf last line": (
        "@misc{x, title={U}}\r\n@misc{w, year=1a} " + Y.replace("\n", "\r\n"),
        ["x", "w", "y"],
        True,
    ),
    # JabRef's encodingWithoutNewline.bib: one line, no newline; bibtex stops after @PREAMBLE.
    "all on one line": (
        "% Encoding: US-ASCII@PREAMBLE{testPreamble}@article{testArticle}",
        [],
        False,
    ),
    # Found by the property test: bibtex never read past `@comment` on the old last line;
    # with more lines it reads `@misc{` there and takes the new entry's head for its key.
    "dangling head swallows next": (
        "@comment{@misc{\n\n@misc{new,\n  title = {N}\n}\n",
        ["@misc{new"],
        False,
    ),
    "same line after error": (
        "@misc{x, year = 2020a} @misc{y, title={U}}\n@misc{z}\n",
        ["x", "y", "z"],
        True,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_model_reads_what_bibtex_reads(name: str) -> None:
    text, keys, has_error = CASES[name]
    for fast in (True, False):
        view = read_like_bibtex(text, fast=fast)
        assert [e.key for e in view.entries] == keys
        assert bool(view.errors) == has_error
        for entry in view.entries:
            assert text[entry.start] == "@"


def test_model_tells_what_is_open_at_the_end() -> None:
    text = '@misc{a, title={A}}\n\n@article{b,\n  note = {ok},\n  title = "Quoted \\{ brace",\n'
    view = read_like_bibtex(text)
    assert [e.key for e in view.entries] == ["a", "b"]
    assert view.open_at_end is not None
    assert (view.open_at_end.line, view.open_at_end.head) == (3, "@article{b")
    assert (view.open_at_end.state, view.open_at_end.field_name) == ("value", "title")
    assert view.open_at_end.value_line == 5
    assert view.resume_at == text.index("@article")


def paper(title: str) -> Paper:
    return Paper(title=title)


@pytest.mark.parametrize(
    ("tail", "line", "message"),
    [
        (
            "@article{b,\n  title = {Unclosed brace,\n  year = 2020\n",
            4,
            "the `{` opening field `title` of `@article{b` (line 3) is never closed by a matching "
            "`}`: BibTeX reads the rest of the file into it",
        ),
        (
            '@article{b,\n  title = "A \\{ brace",\n  year = 2020\n}\n',
            4,
            'the `"` opening field `title` of `@article{b` (line 3) is never closed by a matching '
            '`"` (in a .bib a backslash does not escape a brace: write `{\\{}`): BibTeX reads the '
            "rest of the file into it",
        ),
        (
            "@article{b,\n  title = {T},\n",
            3,
            "`@article{b` (line 3) is not closed: BibTeX would take the next `@type` for one of "
            "its fields",
        ),
        (
            # from a real legacy bibliography: `\{'e` meant é, and swallowed 3,800 lines
            "@TECHREPORT(Thiebaux:93,\n\tAUTHOR = {Sylvie Thi\\{'ebaux and J. Hertzberg},\n"
            "\tYEAR = {1993}\n)\n",
            4,
            "the `{` opening field `AUTHOR` of `@TECHREPORT(Thiebaux:93` (line 3) is never closed "
            "by a matching `}` (in a .bib a backslash does not escape a brace: write `{\\{}`): "
            "BibTeX reads the rest of the file into it",
        ),
        (
            '@preamble{ "\\{" }\n',
            3,
            'the `"` opening the value of `@preamble{` (line 3) is never closed by a matching `"` '
            "(in a .bib a backslash does not escape a brace: write `{\\{}`): BibTeX reads the "
            "rest of the file into it",
        ),
        ("@string{foo = ", 3, "`@string{foo` (line 3) is not finished at the end of the file"),
        ("@misc{", 3, "`@misc{` (line 3) is not finished at the end of the file"),
        # bibtex stops after `@comment` on the last line; appending makes it read `@misc{`
        ("@comment{@misc{", 3, "`@misc{` (line 3) is not finished at the end of the file"),
        ("@", 3, "`@` (line 3) is not finished at the end of the file"),
    ],
)
def test_append_where_bibtex_cannot_see_it_is_refused_unchanged(
    tmp_path: Path, tail: str, line: int, message: str
) -> None:
    path = tmp_path / "refs.bib"
    original = ("@misc{a, title={A}}\n\n" + tail).encode()
    path.write_bytes(original)
    with pytest.raises(BibFileError) as info:
        add_papers(path, [paper("A New Paper")], BibOptions())
    assert info.value.line == line
    assert str(info.value) == (
        f"{path}:{line}: {message}, so BibTeX would not see a new entry; fix the file "
        "(nothing was written)"
    )
    assert path.read_bytes() == original


@pytest.mark.parametrize(
    "tail",
    [
        "@article{b,\n  title = {T},\n  year = 2020\n",  # BibTeX gives up at the new `@`
        "@article{b,\n  title = {A \\{ brace},\n  year = 2020\n}\n",  # swallows its own `}` only
        "@misc",
        '@string{ foo = "foo }\n',
        "@comment{ unbalanced { braces\n",
        "contact me@example.org",
    ],
)
def test_append_where_bibtex_sees_it_is_accepted(tmp_path: Path, tail: str) -> None:
    path = tmp_path / "refs.bib"
    original = "@misc{a, title={A}}\n\n" + tail
    path.write_text(original)
    outcome = add_papers(path, [paper("A New Paper")], BibOptions())
    text = path.read_text()
    assert text.startswith(original)
    key = outcome.added[0].key
    view = read_like_bibtex(text)
    assert view.entries[-1].key == key
    assert text[view.entries[-1].start :].startswith(f"@misc{{{key},")


def test_appending_after_a_one_line_file_lets_bibtex_read_all_of_it(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    original = "% Encoding: US-ASCII@PREAMBLE{testPreamble}@article{testArticle}"
    path.write_text(original)
    outcome = add_papers(path, [paper("A New Paper")], BibOptions())
    text = path.read_text()
    assert text.startswith(original + "\n\n@misc{")
    view = read_like_bibtex(text)
    assert [e.key for e in view.entries] == ["testArticle", outcome.added[0].key]


def test_new_key_avoids_keys_only_bibtex_reads(tmp_path: Path) -> None:
    # biber (and bibtexparser) skip the whole @comment body; BibTeX reads the entry inside it,
    # so a new entry with that key would be a "Repeated entry" BibTeX drops.
    path = tmp_path / "refs.bib"
    path.write_text("@comment{ see @misc{anewpaper, title={Old}} }\n\n")
    assert read_bib(path).keys == set()
    outcome = add_papers(path, [paper("A New Paper")], BibOptions(citekey="{shorttitle}"))
    key = outcome.added[0].key
    assert key.lower() != "anewpaper"
    assert [e.key for e in read_like_bibtex(path.read_text()).entries] == ["anewpaper", key]


# -- properties ----------------------------------------------------------------------------

_FRAGMENTS = [
    "@misc{",
    "@article(",
    "@comment",
    "@comment{",
    "@string{",
    "@preamble{",
    "k1,",
    "title = ",
    "year = 2020",
    "{",
    "}",
    '"',
    "(",
    ")",
    ",",
    "=",
    "#",
    "%",
    "\\{",
    "@",
    "\n",
    "\r\n",
    " ",
    "abc",
    "jan",
]
bib_like = st.lists(
    st.one_of(st.sampled_from(_FRAGMENTS), st.text('ab1{}"@,= \n%#()\\', max_size=4)),
    max_size=30,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(bib_like)
def test_fast_and_step_by_step_reading_agree(text: str) -> None:
    fast = read_like_bibtex(text)
    slow = read_like_bibtex(text, fast=False)
    assert fast.entries == slow.entries
    assert [e.offset for e in fast.errors] == [e.offset for e in slow.errors]
    assert fast.resume_at == slow.resume_at


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bib_like)
def test_appending_refuses_or_bibtex_sees_the_new_entry(text: str) -> None:
    with tempfile.TemporaryDirectory(prefix="readlist-prop-") as folder:
        path = Path(folder) / "refs.bib"
        original = text.encode()
        path.write_bytes(original)
        try:
            outcome = add_papers(path, [paper("A New Paper")], BibOptions())
        except BibFileError as exc:
            assert exc.line is not None and exc.line >= 1
            assert path.read_bytes() == original
            # Never refuse a file BibTeX reads cleanly (even once its last line is not the last).
            assert read_like_bibtex(text + "\n\n").errors
            return
        new = path.read_bytes()
        assert new.startswith(original)
        key = outcome.added[0].key
        view = read_like_bibtex(new.decode())
        seen = [e for e in view.entries if e.key == key]
        assert len(seen) == 1
        assert new.decode()[seen[0].start :].startswith(f"@misc{{{key},")
        assert seen[0].start >= len(text)
