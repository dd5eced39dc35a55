"""Names and titles survive exactly: LaTeX that prints the same letter under T1, or UTF-8.

Every name and title readlist writes decodes back (pylatexenc, an independent decoder) to the
source text, and readlist's own duplicate check recognizes every title it wrote.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from latex_tools import compile_biblatex, compile_natbib
from pylatexenc.latex2text import LatexNodes2Text

from readlist.bibtex import format_authors, format_entry
from readlist.latex import brace_depth_ok, escape_name, protect_title
from readlist.library import BibOptions, _preamble_for, add_papers
from readlist.models import ArxivId, Paper
from readlist.normalize import normalize_title
from readlist.texletters import (
    declaration,
    declared_in,
    needs_declaration,
    preamble_entry,
    spell_letter,
)

LISTINGS = Path(__file__).resolve().parent / "data" / "listings"
NAMES = (
    "Đorđe Đoković",
    "Ðorđe",
    "Nguyễn Thị Minh Khai",
    "Trần Hưng Đạo",
    "Phạm Văn Đồng",
    "Erdős Pál",
    "Łukasz Ślęczka",
    "Ørsted",
    "Straße",
    "Şükrü Ștefan Țiriac",
    "Dvořák",
    "Ağaoğlu",
    "Jiří Hajič",
    "Ó Briain",
    "Þórunn",
    "Ħal",
    "Əliyev",
    "Ngô Bảo Châu",
    "李飞飞",
    "Дмитрий",
    "Γιώργος",
    "محمد",
    # generated: every Vietnamese tone on every vowel, and more stacked or rare letters
    "Trương Dương Phượng Hồ Lưu Ngữ Vũ Đỗ Bùi Huỳnh Võ Lý Quỳnh Ỷ Ỹ Ẫ Ặ Ẵ Ử Ỡ Ợ",
    "Ǿ ǿ Ǻ ǻ Ǖ ǖ Ǘ ǘ Ǚ ǚ Ǜ ǜ Ḗ ḗ Ṓ ṓ Ȫ ȫ Ȭ ȭ",
    "İlkay Işık Ğ ğ Ő ő Ű ű Ů ů Ŕ ŕ Ľ ľ Ŧ ŧ Ŋ ŋ Ĳ ĳ Œ œ Æ æ",
    "Ąžuolas Ėglė Įveta Ųla Ūla Čaplin Šarūnas",
    "Hǎo Lǐ Měi Lǚ Nǜ",
)
DECODE = LatexNodes2Text(math_mode="verbatim").latex_to_text


def listing_titles() -> list[str]:
    titles = []
    for path in sorted(LISTINGS.glob("*.txt")):
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        start = (
            next(
                i
                for i, line in enumerate(lines)
                if line[:3].isalpha() and line[3:4] == " " and line[4:].strip().isdigit()
            )
            + 1
        )
        body = [line for line in lines[start:] if line]
        titles += body[0::2]
    return titles


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("style", ["bibtex", "biblatex"])
def test_every_name_decodes_to_itself(name: str, style: str) -> None:
    written = escape_name(name, ascii_only=style == "bibtex")
    assert DECODE(written) == name
    assert "[U+" not in written


@pytest.mark.parametrize(
    ("char", "spelling"),
    [
        ("Đ", "{\\DJ}"),
        ("đ", "{\\dj}"),
        ("Ð", "{\\DH}"),  # a look-alike of Đ, kept apart
        ("ű", "{\\H{u}}"),  # not pylatexenc's \'{u}
        ("ễ", "{\\~{{\\^e}}}"),  # braces so that biber decodes both accents
        ("ầ", "{\\`{{\\^a}}}"),
        ("ộ", "{\\d{{\\^o}}}"),
        ("ạ", "{\\d{a}}"),
        ("ą", "{\\k{a}}"),
        ("č", "{\\v{c}}"),
        ("ł", "{\\l}"),
        ("ø", "{\\o}"),
        ("ß", "{\\ss}"),
        ("í", "{\\'i}"),
        ("ư", None),  # no T1 glyph: UTF-8
        ("ả", None),
        ("Ħ", None),
        ("Ə", None),
        ("Ș", None),  # pylatexenc reads \textcommabelow{S} as S; T1's UTF-8 table has Ș
    ],
)
def test_spellings(char: str, spelling: str | None) -> None:
    assert spell_letter(char) == spelling
    if spelling:
        assert DECODE(spelling) == char


def test_bibtex_output_is_ascii_where_t1_can_spell_the_letter() -> None:
    assert format_authors(["Nguyễn Đạo", "Erdős Pál"], ascii_only=True).isascii()
    # UTF-8 letters are braced so that bibtex's initials and labels never cut one in half.
    assert format_authors(["Trương"], ascii_only=True) == "Tr{\\relax{}ư}{\\relax{}ơ}ng"


def test_listing_titles_decode_to_themselves_and_are_recognized() -> None:
    titles = listing_titles()
    assert len(titles) > 150
    for title in titles:
        for ascii_only in (True, False):
            written = protect_title(title, ascii_only=ascii_only)
            assert normalize_title(written) == normalize_title(title), (title, written)
            if "$" not in title and "\\" not in title:
                assert DECODE(written) == " ".join(title.split()), (title, written)


HARD = st.lists(
    st.sampled_from(
        list("abcXYZ019 -:&%#_~$^{}\\'\"()[]γΓαΩ∑≤→“”‘’«»éễạĐðłŁøßçŞşțư李😀")
        + ["$\\gamma$", "$x^2$", "\\&", "\\%", "{\\ensuremath{\\gamma}}", "\\'e", "GPT-4V"]
    ),
    max_size=30,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(HARD)
def test_generated_hard_titles_are_recognized_after_writing(title: str) -> None:
    for ascii_only in (True, False):
        written = protect_title(title, ascii_only=ascii_only)
        assert normalize_title(written) == normalize_title(title), written


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("abcXYZ019 -'.’–ʼγΓéễạĐðłŁøßçŞşțưảĦƏ李Дم")), max_size=30)
)
def test_generated_names_decode_to_themselves(name: str) -> None:
    assume("--" not in name and "''" not in name)  # TeX ligatures, not names
    expected = " ".join(name.split())
    for ascii_only in (True, False):
        assert DECODE(escape_name(name, ascii_only=ascii_only)) == expected


@pytest.mark.parametrize(
    "title", ["γ-MoD: Mixture", "$\\gamma$-MoD: Mixture", "Ωmega ∑ “Q” & 100%"]
)
@pytest.mark.parametrize("style", ["bibtex", "biblatex"])
def test_rerunning_add_adds_nothing_and_keeps_the_file(
    tmp_path: Path, title: str, style: str
) -> None:
    path = tmp_path / "refs.bib"
    options = BibOptions(style=style)
    first = add_papers(path, [Paper(title=title, authors=("Trương Đạo",))], options)
    assert len(first.added) == 1
    before = path.read_bytes()
    again = add_papers(path, [Paper(title=title.replace("$\\gamma$", "γ"))], options)
    assert again.added == [] and path.read_bytes() == before


def test_preamble_declares_each_letter_once(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    add_papers(path, [Paper(title="A", authors=("Trương Ngô Bảo",))], BibOptions())
    text = path.read_text(encoding="utf-8")
    assert declared_in(text) >= {"ư", "ơ", "ả"}
    add_papers(path, [Paper(title="B", authors=("Dương Bảo",))], BibOptions())
    assert path.read_text(encoding="utf-8").count("@preamble{") == 1  # nothing new to declare
    assert preamble_entry(["Dương"], already=declared_in(text)) is None


def _bib(style: str) -> tuple[str, list[str]]:
    papers = [
        Paper(
            title=f"Names {index}",
            authors=(name, "Ann Other"),
            year=2020 + index % 5,
            arxiv_id=ArxivId(f"2401.{index:05d}"),
            resolved=True,
        )
        for index, name in enumerate(NAMES)
    ]
    keys = [f"key{index}" for index in range(len(papers))]
    entries = [format_entry(p, k, style=style) for p, k in zip(papers, keys, strict=True)]
    preamble = _preamble_for("", entries)
    return (preamble or "") + "\n\n" + "\n\n".join(entries) + "\n", keys


def test_names_compile_under_t1_with_bibtex(tmp_path: Path, texmfvar: Path) -> None:
    bib, keys = _bib("bibtex")
    result = compile_natbib(bib, keys, tmp_path, texmfvar=texmfvar)
    assert result.ok, result.summary()
    assert "[U+" not in result.bbl


def test_names_compile_under_t1_with_biber(tmp_path: Path, texmfvar: Path) -> None:
    bib, keys = _bib("biblatex")
    result = compile_biblatex(bib, keys, tmp_path, texmfvar=texmfvar)
    assert result.ok, result.summary()
    assert "Nguyễn" in result.bbl and "Đorđe" in result.bbl and "Ðorđe" in result.bbl


def test_every_latin_greek_and_cyrillic_letter_decodes_to_itself() -> None:
    blocks = [(0x00C0, 0x0250), (0x0370, 0x0530), (0x1E00, 0x1F00)]
    letters = [
        chr(code)
        for start, end in blocks
        for code in range(start, end)
        if unicodedata.category(chr(code)).startswith("L")
    ]
    assert len(letters) > 1000
    wrong = []
    for letter in letters:
        text = unicodedata.normalize("NFC", f"A{letter}b {letter}x")
        for ascii_only in (True, False):
            for written in (
                escape_name(text, ascii_only=ascii_only),
                protect_title(text, ascii_only=ascii_only),
            ):
                if DECODE(written) != text or "[U+" in written:
                    wrong.append((letter, written))
    assert wrong == []


def test_no_declaration_uses_the_character_it_declares() -> None:
    # \readlistchar{Ḹ}{...Ḹ...} would make TeX expand Ḹ forever.
    for code in [*range(0x00A0, 0x0530), *range(0x1E00, 0x2000), 0x5F20, 0x1F600]:
        char = chr(code)
        if needs_declaration(char):
            body = declaration(char)
            assert body.isascii(), (char, body)
            assert brace_depth_ok(body), (char, body)
