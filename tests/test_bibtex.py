"""BibTeX entries: exact layout, field rules, escaping, title protection, names, round trips."""

from __future__ import annotations

import random
import re
from pathlib import Path

import bibtexparser
import pytest

from readlist import latex
from readlist.bibtex import Field, entry_fields, format_authors, format_entry
from readlist.latex import (
    bibtex_escape,
    brace_depth_ok,
    escape_name,
    plain_text,
    protect_title,
)
from readlist.models import ArxivId, Paper, Venue, dated

LISTINGS = Path(__file__).resolve().parent / "data" / "listings"

BERT = Paper(
    title="BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding",
    abstract=(
        "We introduce a new language representation model called BERT, which stands for "
        "Bidirectional Encoder Representations from Transformers."
    ),
    arxiv_id=ArxivId("1810.04805", 2),
    authors=("Jacob Devlin", "Ming-Wei Chang", "Kenton Lee", "Kristina Toutanova"),
    year=2018,
    month=10,
    primary_category="cs.CL",
    tags=("nlp", "to-read"),
    resolved=True,
)

BERT_BIBTEX = """\
@misc{devlin2018bert,
  title = {{BERT}: Pre-training of Deep Bidirectional Transformers for Language Understanding},
  author = {Jacob Devlin and Ming-Wei Chang and Kenton Lee and Kristina Toutanova},
  year = {2018},
  month = oct,
  eprint = {1810.04805},
  archivePrefix = {arXiv},
  primaryClass = {cs.CL},
  doi = {10.48550/arXiv.1810.04805},
  url = {https://arxiv.org/abs/1810.04805},
  abstract = {We introduce a new language representation model called BERT, which stands for \
Bidirectional Encoder Representations from Transformers.},
  keywords = {nlp, to-read},
}"""

BERT_BIBLATEX = """\
@online{devlin2018bert,
  title = {{BERT}: Pre-training of Deep Bidirectional Transformers for Language Understanding},
  author = {Jacob Devlin and Ming-Wei Chang and Kenton Lee and Kristina Toutanova},
  date = {2018-10},
  eprint = {1810.04805},
  eprinttype = {arxiv},
  eprintclass = {cs.CL},
  doi = {10.48550/arXiv.1810.04805},
  url = {https://arxiv.org/abs/1810.04805},
  abstract = {We introduce a new language representation model called BERT, which stands for \
Bidirectional Encoder Representations from Transformers.},
  keywords = {nlp, to-read},
}"""


# --- whole entries ----------------------------------------------------------------------------


def test_bert_in_arxiv_style() -> None:
    assert format_entry(BERT, "devlin2018bert") == BERT_BIBTEX


def test_bert_in_biblatex_style() -> None:
    assert format_entry(BERT, "devlin2018bert", style="biblatex") == BERT_BIBLATEX


def test_eol_is_the_callers_and_there_is_no_final_newline() -> None:
    crlf = format_entry(BERT, "devlin2018bert", eol="\r\n")
    assert crlf == BERT_BIBTEX.replace("\n", "\r\n")
    assert not crlf.endswith(("\n", "\r"))


def test_unresolved_paper_writes_only_what_the_listing_knows() -> None:
    paper = Paper(title="COSMO: COntrastive Streamlined MultimOdal Model", abstract="Short.")
    text = format_entry(paper, "cosmo", extra_fields=[("readlist-status", "unresolved")])
    assert text == (
        "@misc{cosmo,\n"
        "  title = {{COSMO}: {COntrastive} Streamlined {MultimOdal} Model},\n"
        "  key = {COSMO},\n"  # what author-year styles cite it by
        "  abstract = {Short.},\n"
        "  readlist-status = {unresolved},\n"
        "}"
    )


def test_published_version_keeps_eprint_and_adds_doi_and_venue() -> None:
    paper = Paper(
        title="T",
        arxiv_id=ArxivId("2005.14165"),
        year=2020,
        month=5,
        primary_category="cs.CL",
        doi="10.1007/978-3-030-58452-8_13",
        journal_ref="NeurIPS 2020 & Workshops, 50% faster",
    )
    fields = {f.name: f.value for f in entry_fields(paper)}
    assert fields["eprint"] == "2005.14165"
    assert fields["archivePrefix"] == "arXiv"
    assert fields["doi"] == "10.1007/978-3-030-58452-8_13"
    assert fields["note"] == "NeurIPS 2020 \\& Workshops, 50\\% faster"
    biblatex = {f.name: f.value for f in entry_fields(paper, style="biblatex")}
    assert biblatex["doi"] == "10.1007/978-3-030-58452-8_13"
    assert biblatex["note"] == fields["note"]


@pytest.mark.parametrize("doi", ["10.1000/a%20b", "10.1000/{x}", "not a doi", "10.1/x", " "])
def test_a_doi_tex_cannot_carry_falls_back_to_the_arxiv_doi(doi: str) -> None:
    paper = Paper(title="T", arxiv_id=ArxivId("2504.10479"), doi=doi)
    assert {f.name: f.value for f in entry_fields(paper)}["doi"] == "10.48550/arXiv.2504.10479"


def test_published_doi_without_arxiv_id() -> None:
    fields = entry_fields(Paper(title="T", doi="10.1145/3386569.3392408"))
    assert [(f.name, f.value) for f in fields] == [
        ("title", "T"),
        ("doi", "10.1145/3386569.3392408"),
        ("key", "T"),
    ]


def test_year_and_month_come_from_the_identifier_when_unknown() -> None:
    new = {f.name: f for f in entry_fields(Paper(title="T", arxiv_id=ArxivId("2504.10479")))}
    assert new["year"].value == "2025"
    assert new["month"] == Field("month", "apr", bare=True)
    old = {
        f.name: f.value
        for f in entry_fields(
            Paper(title="T", arxiv_id=ArxivId("hep-th/9901001")), style="biblatex"
        )
    }
    assert old["date"] == "1999-01"
    assert old["eprint"] == "hep-th/9901001"
    assert old["url"] == "https://arxiv.org/abs/hep-th/9901001"


@pytest.mark.parametrize(
    ("year", "month", "bibtex", "biblatex"),
    [
        (2024, None, [("year", "2024")], [("date", "2024")]),
        (2024, 12, [("year", "2024"), ("month", "dec")], [("date", "2024-12")]),
        (2024, 13, [("year", "2024")], [("date", "2024")]),
        (None, 3, [("month", "mar")], []),
    ],
)
def test_dates(
    year: int | None,
    month: int | None,
    bibtex: list[tuple[str, str]],
    biblatex: list[tuple[str, str]],
) -> None:
    paper = Paper(title="T", year=year, month=month)
    assert [(f.name, f.value) for f in entry_fields(paper)][1:-1] == bibtex
    assert [(f.name, f.value) for f in entry_fields(paper, style="biblatex")][1:-1] == biblatex


def test_abstract_can_be_left_out() -> None:
    names = [f.name for f in entry_fields(BERT, abstract=False)]
    assert "abstract" not in names and "keywords" in names


def test_keywords_are_escaped_tags() -> None:
    paper = Paper(title="T", tags=("to-read", "vision_language", "C++ & CUDA", "100%"))
    (keywords,) = [f.value for f in entry_fields(paper) if f.name == "keywords"]
    assert keywords == "to-read, vision\\_language, C++ \\& CUDA, 100\\%"


@pytest.mark.parametrize("key", ["", "a b", "a,b", "a{b", "a}b", "a%b", "a#b", 'a"b', "a=b", "ü"])
def test_keys_bibtex_or_biber_would_reject_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="invalid citation key"):
        format_entry(BERT, key)


def test_unknown_style_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown BibTeX style 'apa'"):
        format_entry(BERT, "k", style="apa")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("bad name", "x", "invalid BibTeX field name"),
        ("1st", "x", "invalid BibTeX field name"),
        ("note", "a}b{", "balanced braces"),
        ("note", "{", "balanced braces"),
        ("note", "two\nlines", "one-line value"),
    ],
)
def test_bad_extra_fields_are_refused(name: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        format_entry(BERT, "k", extra_fields=[(name, value)])


def test_extra_fields_come_last_in_order() -> None:
    fields = entry_fields(BERT, extra_fields=[("readlist-status", "unresolved"), ("x", "{y}")])
    assert [f.name for f in fields][-2:] == ["readlist-status", "x"]


def test_empty_title_is_left_out() -> None:
    assert entry_fields(Paper(title="  \u200b ")) == []


# --- titles -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        (
            "InternVL3: Exploring Advanced Training and Test-Time Recipes",
            "{InternVL3}: Exploring Advanced Training and Test-Time Recipes",
        ),
        ("The Dawn of LMMs with GPT-4V(ision)", "The Dawn of {LMMs} with {GPT-4V(ision)}"),
        (
            "COSMO: COntrastive Streamlined MultimOdal Model",
            "{COSMO}: {COntrastive} Streamlined {MultimOdal} Model",
        ),
        ("MM1.5: Methods, Analysis", "{MM1.5}: Methods, Analysis"),
        ("4M-21: An Any-to-Any Vision Model", "{4M-21}: An Any-to-Any Vision Model"),
        ("ViT-Lens and CLIP", "{ViT-Lens} and {CLIP}"),
        ("NoteLLM-2: Multimodal Large", "{NoteLLM-2}: Multimodal Large"),
        ("mOSCAR and xRAG", "{mOSCAR} and {xRAG}"),
        ("Qwen2 and 3D Vision", "{Qwen2} and {3D} Vision"),
        ("U-Net for X-Decoder", "{U-Net} for {X-Decoder}"),
        ("AstroM$^3$: A self-supervised model", "{AstroM$^3$}: A self-supervised model"),
        ("The $\\alpha$-Entmax Trick", "The {$\\alpha$-Entmax} Trick"),
        ('No "Zero-Shot" Without Data', 'No "Zero-Shot" Without Data'),
        ("(LLMs) and [CLIP]:", "({LLMs}) and [{CLIP}]:"),
        ("Is It Really Long Context?", "Is It Really Long Context?"),
        ("\\ModelName: A Stray Macro", "{{\\textbackslash}ModelName}: A Stray Macro"),
        ("100%LLM", "{100\\%LLM}"),
        ("%LLM at the start", "{{\\%}LLM} at the start"),
        ("Über ÉCOLE", "{\\\"U}ber {{\\'E}COLE}"),
        ("0", "0"),
        ("  Extra   spaces\n here ", "Extra spaces here"),
    ],
)
def test_protect_title(title: str, expected: str) -> None:
    assert protect_title(title, ascii_only=True) == expected


def test_protect_title_keeps_utf8_in_biblatex_style() -> None:
    assert protect_title("Über ÉCOLE: Łukasz", ascii_only=False) == "Über {ÉCOLE}: Łukasz"


# --- escaping ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("50% & more", "50\\% \\& more"),
        ("#1 and _x_", "\\#1 and \\_x\\_"),
        ("a ~ b ~9 ~10x", "a {\\textasciitilde} b {\\textasciitilde}9 {\\textasciitilde}10x"),
        ("e.g.~this, solving~Our", "e.g.~this, solving~Our"),  # TeX ties stay ties
        ("https://x.org/~user/a~b", "https://x.org/{\\textasciitilde}user/a{\\textasciitilde}b"),
        ("M^2IXT, DC^2", "M{\\textasciicircum}2IXT, DC{\\textasciicircum}2"),
        ("x \\1 y, a\\ b", "x {\\textbackslash}1 y, a b"),  # \ is a control space
        ("{x} }{", "{\\textbraceleft}x{\\textbraceright} {\\textbraceright}{\\textbraceleft}"),
        ("costs $5 and $10", "costs \\$5 and \\$10"),
        ("8times and sim20times", "8times and sim20times"),
        ("@misc{x,", "@misc{\\textbraceleft}x,"),
        ("< > | \" ' ` @ = + * / ! ? ( ) [ ] : ;", "< > | \" ' ` @ = + * / ! ? ( ) [ ] : ;"),
        ("", ""),
    ],
)
def test_ascii_specials(text: str, expected: str) -> None:
    assert bibtex_escape(text, ascii_only=True) == expected
    assert bibtex_escape(text, ascii_only=False) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # What the sample listings hold.
        (
            "(\\ModelName), \\VideoDatasetName",
            "({\\textbackslash}ModelName), {\\textbackslash}VideoDatasetName",
        ),
        ("we propose \\OurMethod{} here", "we propose {\\textbackslash}OurMethod here"),
        (
            "at \\url{https://github.com/DAMO-NLP-SG/multimodal_textbook}.",
            "at https://github.com/DAMO-NLP-SG/multimodal\\_textbook.",
        ),
        ("18\\% relative, 65.\\%", "18\\% relative, 65.\\%"),
        ("achieves 76\\(\\%\\) accuracy", "achieves 76$\\%$ accuracy"),
        ("model \\& task", "model \\& task"),
        ("these models\\' decisions", "these models' decisions"),
        ("textbf{A}uxiliary", "textbf{\\textbraceleft}A{\\textbraceright}uxiliary"),
        ('our "{SkillNet}" model', 'our "{\\textbraceleft}SkillNet{\\textbraceright}" model'),
        ("AstroM$^3$", "AstroM$^3$"),
        # Decoded TeX.
        ('Schr\\"odinger, Erd\\H{o}s, G\\"{o}del', 'Schr{\\"o}dinger, Erd{\\H{o}}s, G{\\"o}del'),
        ("Bj\\o rn and Stra\\ss e", "Bj{\\o}rn and Stra{\\ss}e"),
        ("\\textbf{bold} \\emph{it}", "bold it"),
        ("\\href{https://a.org}{site}", "site (https://a.org)"),
        ("line\\\\break", "line break"),
        ("\\LaTeX{} and \\ldots", "LaTeX and {\\textellipsis}"),
        ("trailing \\", "trailing {\\textbackslash}"),
        (
            "\\input{/etc/passwd}",
            "{\\textbackslash}input{\\textbraceleft}/etc/passwd{\\textbraceright}",
        ),
    ],
)
def test_tex_in_input(text: str, expected: str) -> None:
    assert bibtex_escape(text, ascii_only=True) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$x^2$", "$x^2$"),
        ("$x_{i}^{2}$", "$x_{i}^{2}$"),
        ("$\\alpha$-entmax", "$\\alpha$-entmax"),
        ("$8\\times$ and $\\sim 20\\times$", "$8\\times$ and $\\sim20\\times$"),
        ("$\\frac{1}{2}$", "$\\frac{1}{2}$"),
        ("$\\mathcal{O}(n \\log n)$", "$\\mathcal{O}(n\\log n)$"),
        ("$\\mathbb{R}^d$", "$\\mathbf{R}^d$"),  # amssymb is not needed
        ("$\\text{GPT-4}$", "$\\textrm{GPT-4}$"),  # neither is amsmath
        ("$x''$ and $x'_1$", "$x''$ and $x'_1$"),
        ("$$y$$", "$y$"),
        ("$a$$b$", "$a${}$b$"),
        ("\\(x\\)", "$x$"),
        # Unsafe math is text.
        ("$x^2^3$", "\\$x{\\textasciicircum}2{\\textasciicircum}3\\$"),
        ("$a_b_c$", "\\$a\\_b\\_c\\$"),
        ("$x^$", "\\$x{\\textasciicircum}\\$"),
        ("$\\frac$", "\\${\\textbackslash}frac\\$"),
        ("$a&b$", "\\$a\\&b\\$"),
        ("$\\input{x}$", "\\${\\textbackslash}input{\\textbraceleft}x{\\textbraceright}\\$"),
        ("$\\left( x$", "\\${\\textbackslash}left( x\\$"),
        ("$\\{a\\}$", "\\${\\textbraceleft}a{\\textbraceright}\\$"),
        ("$x^2'$", "\\$x{\\textasciicircum}2'\\$"),
        ("$é$", "\\${\\'e}\\$"),
        ("$ x$", "\\$ x\\$"),
        ("$x^{2$", "\\$x{\\textasciicircum}{\\textbraceleft}2\\$"),
    ],
)
def test_math(text: str, expected: str) -> None:
    assert bibtex_escape(text, ascii_only=True) == expected


def test_every_whitelisted_math_command_is_kept_as_math() -> None:
    for name in latex._MATH_SYMBOLS:
        assert bibtex_escape(f"$x \\{name} y$", ascii_only=True).startswith("$"), name
    for name in latex._MATH_ONE_ARG:
        assert bibtex_escape(f"$\\{name}{{ab}}$", ascii_only=True).startswith("$"), name


@pytest.mark.parametrize(
    ("text", "ascii", "utf8"),
    [
        (
            "Jürgen Łukasz Sébastien",
            "J{\\\"u}rgen {\\L}ukasz S{\\'e}bastien",
            "Jürgen Łukasz Sébastien",
        ),
        ("José Martín", "Jos{\\'e} Mart{\\'i}n", "José Martín"),  # not \'\i: biber breaks on it
        # Stacked accents nest, with the extra braces biber needs to decode them.
        ("Nguyễn Văn ạ", "Nguy{\\~{{\\^e}}}n V{\\u{a}}n {\\d{a}}", "Nguyễn Văn ạ"),
        ("Đorđe Ðorđe", "{\\DJ}or{\\dj}e {\\DH}or{\\dj}e", "Đorđe Ðorđe"),  # look-alikes kept apart
        ("Erdős Ștefan", "Erd{\\H{o}}s Ștefan", "Erdős Ștefan"),  # T1's UTF-8 table has Ș
        ("张伟 😀", "张伟 😀", "张伟 😀"),  # no spelling: UTF-8, declared in the @preamble
        (
            "α ≤ β → γ",
            "{\\ensuremath{\\alpha}} {\\ensuremath{\\leq}} {\\ensuremath{\\beta}} "
            "{\\textrightarrow} {\\ensuremath{\\gamma}}",
            None,
        ),
        (
            "– — “x” …",
            "{\\textendash} {\\textemdash} {\\textquotedblleft}x{\\textquotedblright} "
            "{\\textellipsis}",
            "– — “x” …",
        ),
        ("ﬁ ﬅ Ａ", "ﬁ ﬅ Ａ", "ﬁ ﬅ Ａ"),  # never a look-alike
        ("Ħ ŉ ư ả Ə", "Ħ ŉ ư ả Ə", "Ħ ŉ ư ả Ə"),  # no T1 glyph: UTF-8
        ("e\u0301 x\u0301", "{\\'e} {\\'x}", "é x\u0301"),
    ],
)
def test_non_ascii(text: str, ascii: str, utf8: str | None) -> None:
    assert bibtex_escape(text, ascii_only=True) == ascii
    if utf8 is not None:
        assert bibtex_escape(text, ascii_only=False) == utf8


def test_invisible_and_control_characters_are_dropped_and_whitespace_collapsed() -> None:
    text = "a\u0000b\u0007c\u200fd\u202ee\ufeff f\t\tg\r\nh\u00a0i\u2028j"
    assert bibtex_escape(text, ascii_only=True) == "abcde f g h i j"


def test_plain_text_decodes_tex() -> None:
    assert plain_text('AstroM$^3$: Schr\\"odinger \\url{a_b} 18\\%') == (
        "AstroM^3: Schrödinger a_b 18%"
    )


# --- names ------------------------------------------------------------------------------------


def test_authors_are_joined_with_and() -> None:
    assert format_authors(BERT.authors, ascii_only=True) == (
        "Jacob Devlin and Ming-Wei Chang and Kenton Lee and Kristina Toutanova"
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Smith, Jr.", "{Smith, Jr.}"),
        ("Research and Development Team", "{Research and Development Team}"),
        ("AND Collective", "{AND Collective}"),
        ("Johnson & Johnson", "{Johnson and Johnson}"),
        ("Andrea Anderson", "Andrea Anderson"),
        ("Laurens van der Maaten", "Laurens van der Maaten"),
        ("Zoë O’Brien", 'Zo{\\"e} O{\\relax{}’}Brien'),  # exact, never a look-alike
        ("Gerard 't Hooft", "Gerard 't Hooft"),
        ("Jean–Pierre", "Jean{\\relax{}–}Pierre"),
        ("{Braced} \\Macro_Name 100%", "Braced Macro Name 100"),
        # UTF-8, the first letter braced so that bibtex abbreviates it whole (not a byte).
        ("张伟", "{\\relax{}张}{\\relax{}伟}"),
        ("α-Team", "{\\relax{}α}-Team"),  # biber cannot take an initial from \ensuremath
        ("   ", None),
    ],
)
def test_names(name: str, expected: str | None) -> None:
    assert format_authors([name], ascii_only=True) == (expected or "")


def test_names_keep_utf8_in_biblatex_style() -> None:
    assert escape_name("Łukasz Kaiser", ascii_only=False) == "Łukasz Kaiser"
    assert escape_name("Łukasz Kaiser", ascii_only=True) == "{\\L}ukasz Kaiser"


# --- safety of arbitrary input ----------------------------------------------------------------

_TOKENS = [
    *"abcXYZ 019 %&#_~^\\{}$@<>|\"'`-.,:;!?()[]",
    *"éŁ张😀\u0301\u200f\x00\n\t",
    "\\alpha",
    "\\frac",
    "\\url{",
    "\\textbf{",
    "$x^2$",
    "\\(",
    "\\)",
    "\\'",
    '\\"',
    "\\c{",
    "\\ss",
    "\\ModelName",
    "$$",
    "\\\\",
    "{}",
    "}{",
    "^^M",
]
_SAFE_MACROS = (
    latex._TEXT_MACROS_OK
    | latex._ENSUREMATH_MACROS_OK
    | latex._MATH_SYMBOLS
    | set(latex._MATH_ONE_ARG.values())
    | set(latex._MATH_TWO_ARGS.values())
    | set(latex._MATH_TEXT.values())
    | {"textbackslash", "textbraceleft", "textbraceright", "textasciicircum", "textasciitilde"}
    | {"relax"}
    | set(",;:! %#&|_$")
)


def assert_tex_safe(text: str, *, ascii_only: bool) -> None:
    """Check `text` only uses known macros, escapes every special, and balances braces."""
    assert brace_depth_ok(text), text
    # Non-ASCII only where nothing ASCII spells the character exactly (张, Ħ, ư, emoji...).
    assert not ascii_only or all(
        char.isascii() or latex.spell_letter(char) is None for char in text
    ), text
    assert all(char.isprintable() for char in text), text
    in_math = False
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            match = re.match(r"\\([A-Za-z]+|.)", text[i:])
            assert match and match.group(1) in _SAFE_MACROS, (text, text[i : i + 20])
            i += len(match.group())
            continue
        if char == "$":
            in_math = not in_math
        else:
            assert char not in "%#&", (text, i)
            assert in_math or char not in "^_", (text, i)
        i += 1
    assert not in_math, text


def test_random_input_always_gives_safe_tex() -> None:
    rng = random.Random(20250428)
    for _ in range(3000):
        text = "".join(rng.choice(_TOKENS) for _ in range(rng.randrange(0, 30)))
        for ascii_only in (True, False):
            assert_tex_safe(bibtex_escape(text, ascii_only=ascii_only), ascii_only=ascii_only)
            assert_tex_safe(protect_title(text, ascii_only=ascii_only), ascii_only=ascii_only)
            assert_tex_safe(escape_name(text, ascii_only=ascii_only), ascii_only=ascii_only)


# --- the sample listings ----------------------------------------------------------------------


def sample_papers() -> list[Paper]:
    """Papers made from the sample listings: after the date line, title and abstract lines."""
    papers: dict[str, Paper] = {}
    for path in sorted(LISTINGS.glob("*.txt")):
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        start = next(i for i, line in enumerate(lines) if re.fullmatch(r"[A-Z][a-z]{2} \d+", line))
        body = [line for line in lines[start + 1 :] if line]
        for title, abstract in zip(body[::2], body[1::2], strict=False):
            papers.setdefault(title.lower(), Paper(title=title, abstract=abstract))
    return list(papers.values())


@pytest.mark.parametrize("style", ["bibtex", "biblatex"])
def test_sample_entries_parse_back_with_bibtexparser(style: str) -> None:
    papers = sample_papers()
    keys = [f"k{index}" for index in range(len(papers))]
    text = "\n\n".join(format_entry(p, k, style=style) for p, k in zip(papers, keys, strict=True))
    library = bibtexparser.parse_string(text)
    assert library.failed_blocks == []
    assert [entry.key for entry in library.entries] == keys
    for paper, entry in zip(papers, library.entries, strict=True):
        expected = [(f.name, f.value) for f in entry_fields(paper, style=style)]
        assert [(f.key, f.value) for f in entry.fields] == expected
        for field in entry.fields:
            assert_tex_safe(field.value, ascii_only=style == "bibtex")


def test_every_special_character_in_the_samples_is_covered() -> None:
    papers = sample_papers()
    text = " ".join(f"{p.title} {p.abstract}" for p in papers)
    specials = {char for char in text if not char.isalnum() and not char.isspace()}
    assert specials <= set("%&_~^\\{}$<>\"'-.,:;!?()[]/+=*|@#`"), specials
    for paper in papers:
        escaped = bibtex_escape(paper.abstract or "", ascii_only=True)
        assert_tex_safe(escaped, ascii_only=True)
        assert_tex_safe(protect_title(paper.title, ascii_only=True), ascii_only=True)


def test_published_version_is_an_article_that_keeps_its_eprint() -> None:
    paper = Paper(
        title="A Model for Dust",
        authors=("D. T. O'Dea",),
        arxiv_id=ArxivId("1107.4612"),
        year=2012,
        month=1,
        primary_category="astro-ph.CO",
        doi="10.1111/j.1365-2966.2011.19851.x",
        journal_ref="Mon.Not.Roy.Astron.Soc. 419 (2012) 1795-1803",
        venue=Venue("journal", "Monthly Notices & Co", "419", "2", "1795-1803", 2012),
        resolved=True,
    )
    text = format_entry(paper, "odea2012model", abstract=False)
    assert text.startswith("@article{odea2012model,")
    fields = {f.name: f.value for f in entry_fields(paper, abstract=False)}
    assert fields["journal"] == r"Monthly Notices \& Co"
    assert (fields["volume"], fields["number"], fields["pages"]) == ("419", "2", "1795--1803")
    assert fields["doi"] == "10.1111/j.1365-2966.2011.19851.x"
    assert (fields["eprint"], fields["archivePrefix"]) == ("1107.4612", "arXiv")
    assert "note" not in fields  # the venue is in its own fields
    biblatex = {f.name for f in entry_fields(paper, style="biblatex")}
    assert "journaltitle" in biblatex and "eprinttype" in biblatex
    talk = format_entry(
        Paper(title="T", venue=Venue("conference", "CVPR 2024", year=2024), year=2024), "t2024"
    )
    assert talk.startswith("@inproceedings{t2024,") and "booktitle = {CVPR 2024}" in talk


def test_latest_version_can_date_a_paper() -> None:
    paper = Paper(title="T", year=2024, month=4, date="2024-04-06", latest_date="2025-02-01")
    assert dated(paper, "first") == paper
    latest = dated(paper, "latest")
    assert (latest.year, latest.month, latest.date) == (2025, 2, "2025-02-01")
    assert dated(Paper(title="T", year=2024, month=4), "latest").year == 2024
