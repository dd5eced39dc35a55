"""Compile what readlist writes with real pdfLaTeX + bibtex (natbib) and pdfLaTeX + biber.

One document per style and scenario: the sample listings as unresolved papers (title and
abstract only) and as complete ones (deterministic fake metadata with non-ASCII names),
adversarial titles and abstracts, and every character and math macro the escaper can emit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import bibtexparser
import pytest
from latex_tools import CompileResult, compile_biblatex, compile_natbib

from readlist import latex
from readlist.bibtex import entry_fields, format_entry
from readlist.citekey import make_citekey
from readlist.library import _preamble_for
from readlist.models import ArxivId, Paper, Venue

LISTINGS = Path(__file__).resolve().parent / "data" / "listings"
_DATE_LINE = re.compile(r"[A-Z][a-z]{2} \d{1,2}")

NAMES = (
    "Łukasz Kaiser",
    "Jürgen Schmidhuber",
    "Sébastien Bubeck",
    "Zoë O'Brien",
    "José Hernández-Orallo",
    "Ilya Sutskever",
    "Nguyễn Văn A",
    "张伟",
    "Laurens van der Maaten",
    "Bernhard Schölkopf",
    "Søren Hauberg",
    "Çağlar Gülçehre",
    "François Chollet",
    "Jiří Matas",
    "Ming-Wei Chang",
    "Martin Luther King Jr.",
    "Smith, Jr., John",
    "Research and Development Team",
    "Yann LeCun",
    "Ólafur Ragnar Grímsson",
    "Dmitrij Šeškin",
    "Ayşe Kaya",
    "Mikołaj Bińkowski",
)
TAGS = ("multimodal", "to-read", "vision_language", "C++ & CUDA", "100%")

Compiler = Callable[..., CompileResult]


# --- inputs ----------------------------------------------------------------------------------


def read_listing(path: Path) -> list[tuple[str, str | None]]:
    """Return (title, abstract) pairs: after the date line, non-empty lines alternate."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    start = next(i for i, line in enumerate(lines) if _DATE_LINE.fullmatch(line)) + 1
    body = [line for line in lines[start:] if line]
    return [(body[i], body[i + 1] if i + 1 < len(body) else None) for i in range(0, len(body), 2)]


def sample_listings() -> list[tuple[str, str | None]]:
    """Return the distinct (title, abstract) pairs of all sample listings."""
    seen: dict[str, tuple[str, str | None]] = {}
    for path in sorted(LISTINGS.glob("*.txt")):
        for title, abstract in read_listing(path):
            seen.setdefault(title.lower(), (title, abstract))
    return list(seen.values())


def unresolved_papers() -> list[Paper]:
    return [Paper(title=title, abstract=abstract) for title, abstract in sample_listings()]


def complete_paper(index: int, title: str, abstract: str | None) -> Paper:
    """Give a listing deterministic, plausible metadata."""
    authors = tuple(NAMES[(index * 7 + k) % len(NAMES)] for k in range(1 + index % 12))
    year, month = 2019 + index % 7, 1 + index % 12
    published = index % 5 == 0
    return Paper(
        title=title,
        abstract=abstract,
        arxiv_id=ArxivId(f"{year % 100:02d}{month:02d}.1{index:04d}", 1 + index % 3),
        authors=authors,
        year=year,
        month=month,
        primary_category="cs.CV",
        doi=f"10.1007/978-3-031-{72000 + index}-1_{index}" if published else None,
        journal_ref=f"ECCV {year} Workshops & Proc., pp. {index}--{index + 9}"
        if published
        else None,
        tags=TAGS[: 1 + index % len(TAGS)],
        resolved=True,
    )


def complete_papers() -> list[Paper]:
    return [complete_paper(i, t, a) for i, (t, a) in enumerate(sample_listings())]


def published_papers() -> list[Paper]:
    """Published versions as `pull` writes them: @article/@inproceedings keeping the eprint."""
    venues = [
        Venue("journal", "Mon. Not. R. Astron. Soc. & Friends", "419", "2", "1795-1803", 2012),
        Venue("conference", "Proceedings of CVPR 2024", pages="1021-1030", year=2024),
        Venue("journal", "Transactions on Machine Learning Research (TMLR)", year=2025),
        Venue("conference", "SIGGRAPH Asia 2023 Conference Papers", year=2023),
    ]
    papers = []
    for i, (title, abstract) in enumerate(sample_listings()[:12]):
        paper = complete_paper(i, title, abstract)
        papers.append(
            replace(paper, venue=venues[i % len(venues)], doi=f"10.1145/{3600000 + i}.{i}")
        )
    return papers


# (title, abstract, fragment that must reach the printed bibliography)
ADVERSARIAL: list[tuple[str, str, str]] = [
    ("0", "0", "0"),
    (
        "Every Special: % & # _ ~ ^ \\ { } $ @ < > | \" ' `",
        "Every special: % & # _ ~ ^ \\ { } $ @ < > | \" ' ` -- --- ``x'' ?` !` << >> ,,",
        "Every",
    ),
    ("Unbalanced {Braces Open", "open { only {{ twice", "Unbalanced"),
    ("Closing}} Braces", "close }} only, { and }{ inverted", "Closing"),
    ("Cost $5 and a Lone $ Sign", "Unbalanced $x^2 math, $$ display and $", "Cost"),
    (
        "\\ModelName: Stray Macros in \\VideoDatasetName",
        "We propose \\ModelName and \\OurMethod{} with \\url{https://x.org/a_b%20c#frag}, "
        "\\url{x_y}, \\url{unbalanced and \\href{http://y.org/~z}{a link}",
        "ModelName",
    ),
    (
        "Early \\end{document} in a Title",
        "\\end{document} \\input{/etc/passwd} \\include{evil} \\def\\x{y} "
        "\\catcode`\\%=11 \\csname relax\\endcsname \\makeatletter \\@@end \\bye \\end",
        "Early",
    ),
    ("Percent at the End 100%", "ends with a percent 100%", "Percent"),
    ("Macro Parameter #1 and ##2", "#1 #2 ## \\# escaped # alone", "Parameter"),
    ("Caret Notation ^^M and ^^5c", "^^M ^^J ^^5c ^^^^0041 \\^^M ^ at end ^", "Caret"),
    ("Emoji 😀 and ❤️ and 👨‍👩‍👧 Families", "Emoji 🤖🚀 in text 🏳️‍🌈", "😀"),
    (
        "Right-to-Left \u202eevil\u202c שלום مرحبا",
        "RTL \u200f mark and עברית \u061c",
        "ש",
    ),
    (
        "Control\u0000Chars\u0007Here\u001b[31m",
        "tab\there\x0bvertical\x0cform\rcarriage\u0085next\u2028line\u2029para\x7fdel",
        "Control",
    ),
    (
        "@misc{evil, title={x}}",
        "@misc{inner, title = {x}} and @comment{y} and a line\n@article{z,\n}",
        "misc",
    ),
    (
        "Math $\\alpha$-Entmax, $x^{2}_{i}$ and AstroM$^3$",
        "$\\frac{1}{2}$ $\\mathbb{R}^n$ $\\text{GPT}$ $x^2^3$ $\\input{x}$ $a&b$ $\\left( x$ "
        "$\\sum_{i=1}^n$ \\(\\%\\) $\\$$ $x'^2$ $\\{a\\}$ $%$ $#$ $\\verb|x|$ $^$ $_$ $\\frac$",
        "Entmax",
    ),
    (
        'Accents: Schr\\"odinger, Erd\\H{o}s, G\\"{o}del and \\\'Ecole',
        "Nguyễn ễ ạ ả ơ ư Ħ ŉ ſ ﬅ Ａ ① ǅ α → ≤ ∑ ℵ ʁ ə x\u0301 \u0301alone ı̀ İ",
        "Accents",
    ),
    ("Tilde~Ties and ~Approximate ~10x", "e.g.~this and ~5% and a~b and ~", "Tilde"),
    ("Very Long " + "Title Words " * 80, "Long abstract " + "x" * 30000, "Very"),
    (
        "Longtoken " + "ab\\_cd~{}%&#" * 30,
        "nospace" + "\\ModelName" * 40 + "ö" * 40,
        "Longtoken",
    ),
    ("Backslash at the End \\", "backslash at end \\", "Backslash"),
    ("Double Backslash \\\\ Break", "line\\\\break \\\\", "Double"),
    (
        "Verbatim \\verb|x| and \\begin{verbatim}",
        "\\verb+%+ \\begin{itemize}\\item x \\end{itemize} \\[ display \\]",
        "Verbatim",
    ),
    ("Comment %% Inside and \\% Escaped", "%\n% newline after comment", "Comment"),
    ("Braces {{{{Deep}}}} and }{", "{{{{}}}} }}}}{{{{", "Braces"),
    ("Entities &amp; &lt;tag&gt;", "<script>alert(1)</script> &amp; &#x27;", "Entities"),
    (
        "Quotes “Smart” ‘Single’ „Low“ «Guillemets» — – …",
        "— – … ‰ ′ ″ • · ¶ § © ® ™ € £ ¥ ¢ ° ± × ÷ ¹ ² ³ ¼ ½ ¾",
        "Quotes",
    ),
    (
        "URL https://example.com/a_b%20c?x=1&y=2#frag",
        "https://example.com/~user/%7E/{x}",
        "example",
    ),
    ("\\", "\\", "textbackslash"),
    ("Zalgo Z̷̢̛̛̤͓̙" + "́" * 300, "a" + "̖̀" * 200, "Zalgo"),
]
ADVERSARIAL_AUTHORS = (
    "Smith, Jr.",
    "Anderson and Sons",
    "AND Collective",
    "{Braced} Name",
    "\\ModelName Author",
    "O'Brien",
    "",
    "   ",
    "张伟",
    "😀",
    "others",
    "Percent % Sign",
    "Hash # Tag",
    "Under_score",
    "Tilde ~ Person",
)


def adversarial_papers() -> list[Paper]:
    papers = []
    for index, (title, abstract, _) in enumerate(ADVERSARIAL):
        papers.append(
            Paper(
                title=title,
                abstract=abstract,
                # plainnat prints no abstracts: the note field carries the text there too.
                journal_ref=abstract[:2000],
                arxiv_id=ArxivId(f"2504.2{index:04d}"),
                authors=tuple(
                    ADVERSARIAL_AUTHORS[(index + k) % len(ADVERSARIAL_AUTHORS)] for k in range(3)
                ),
                year=2025,
                month=4,
                primary_category="cs.CL",
                tags=("odd & weird", "x_y"),
                resolved=True,
            )
        )
    return papers


def character_coverage_papers() -> list[Paper]:
    """Papers whose titles and notes hold every character the escaper may meet."""
    code_points = [
        *range(0x00A0, 0x0530),  # Latin, IPA, Greek, Cyrillic
        *range(0x1E00, 0x2000),  # Latin Extended Additional (Vietnamese), Greek Extended
        *range(0x2000, 0x2C00),  # punctuation, symbols, arrows, math operators
        *range(0xFB00, 0xFB07),
        *range(0xFF01, 0xFF5F),  # full-width forms
        *range(0x1D400, 0x1D800),  # math alphanumerics
        0x1F600,
        0x5F20,
        0xE000,
        0x10FFFD,
    ]
    text = "".join(
        chr(cp) for cp in code_points if unicodedata.category(chr(cp)) not in ("Cn", "Cs")
    )
    chunks = [text[start : start + 120] for start in range(0, len(text), 120)]
    return [
        Paper(
            title=f"Chars {index} {chunk[:40]}",
            journal_ref=chunk,
            abstract=chunk,
            authors=("Ann Author",),
            year=1900 + index,  # plainnat has only a-z to tell same-author-year apart
            resolved=True,
        )
        for index, chunk in enumerate(chunks)
    ]


def math_coverage_paper() -> Paper:
    """A paper using every math command the escaper keeps as math."""
    parts = [f"$x \\{name} y$" for name in sorted(latex._MATH_SYMBOLS)]
    parts += [f"$\\{name}{{ab}}^2$" for name in sorted(latex._MATH_ONE_ARG)]
    parts += [f"$\\{name}{{a}}{{b}}$" for name in sorted(latex._MATH_TWO_ARGS)]
    parts += [f"$\\{name}{{GPT-4 (v2)}}$" for name in sorted(latex._MATH_TEXT)]
    parts += ["$a\\,b\\;c\\:d\\!e\\ f\\%\\#\\&\\|$", "$x'' + x'_1 + {a}^{b}_{c} + [0,1)$"]
    return Paper(
        title="Math " + " ".join(parts[:6]),
        journal_ref=" ".join(parts),
        abstract=" ".join(parts),
        authors=("Ann Author",),
        year=2020,
        resolved=True,
    )


# --- building .bib text ------------------------------------------------------------------


def build_bib(
    papers: Sequence[Paper], style: str, *, unresolved: bool = False
) -> tuple[str, list[str]]:
    """Format `papers` as one .bib text; return it with the keys, in order."""
    keys: list[str] = []
    entries: list[str] = []
    extra = (("readlist-status", "unresolved"),) if unresolved else ()
    for paper in papers:
        key = make_citekey(paper, taken=keys)
        keys.append(key)
        entries.append(format_entry(paper, key, style=style, extra_fields=extra))
    bib = "\n\n".join(entries) + "\n"
    check_roundtrip(bib, papers, keys, style, extra)
    preamble = _preamble_for("", entries)
    return (preamble + "\n\n" if preamble else "") + bib, keys


def check_roundtrip(
    bib: str,
    papers: Sequence[Paper],
    keys: Sequence[str],
    style: str,
    extra: Sequence[tuple[str, str]],
) -> None:
    """Parse `bib` with bibtexparser 2 and check every entry and field comes back unchanged."""
    library = bibtexparser.parse_string(bib)
    assert library.failed_blocks == []
    assert [entry.key for entry in library.entries] == list(keys)
    for paper, entry in zip(papers, library.entries, strict=True):
        expected = entry_fields(paper, style=style, extra_fields=extra)
        assert [(f.key, f.value) for f in entry.fields] == [(f.name, f.value) for f in expected]


def normalized(text: str) -> str:
    return " ".join(text.split()).lower()


# --- fixtures: one compilation per style and scenario ----------------------------------------


def _compile(
    tmp_path_factory: pytest.TempPathFactory,
    texmfvar: Path,
    name: str,
    papers: Sequence[Paper],
    style: str,
    compiler: Compiler,
    *,
    unresolved: bool = False,
) -> tuple[CompileResult, list[str]]:
    bib, keys = build_bib(papers, style, unresolved=unresolved)
    workdir = tmp_path_factory.mktemp(name)
    return compiler(bib, keys, workdir, texmfvar=texmfvar), keys


SCENARIOS = {
    # name: (papers, style, compiler, unresolved)
    "unresolved-natbib": (unresolved_papers, "bibtex", compile_natbib, True),
    "unresolved-biblatex": (unresolved_papers, "biblatex", compile_biblatex, True),
    "complete-natbib": (complete_papers, "bibtex", compile_natbib, False),
    "complete-biblatex": (complete_papers, "biblatex", compile_biblatex, False),
    # arXiv-style @misc entries are also read by biber: users switch to biblatex.
    "complete-bibtex-style-biber": (complete_papers, "bibtex", compile_biblatex, False),
    "adversarial-natbib": (adversarial_papers, "bibtex", compile_natbib, False),
    "adversarial-biblatex": (adversarial_papers, "biblatex", compile_biblatex, False),
    "adversarial-bibtex-style-biber": (adversarial_papers, "bibtex", compile_biblatex, False),
    "characters-natbib": (character_coverage_papers, "bibtex", compile_natbib, False),
    "characters-biblatex": (character_coverage_papers, "biblatex", compile_biblatex, False),
    "characters-bibtex-style-biber": (character_coverage_papers, "bibtex", compile_biblatex, False),
    "published-natbib": (published_papers, "bibtex", compile_natbib, False),
    "published-biblatex": (published_papers, "biblatex", compile_biblatex, False),
    "published-bibtex-style-biber": (published_papers, "bibtex", compile_biblatex, False),
    "math-natbib": (lambda: [math_coverage_paper()], "bibtex", compile_natbib, False),
    "math-biblatex": (lambda: [math_coverage_paper()], "biblatex", compile_biblatex, False),
}


@pytest.fixture(scope="module")
def compiled(
    tmp_path_factory: pytest.TempPathFactory, texmfvar: Path
) -> Callable[[str], tuple[CompileResult, list[str]]]:
    """Compile a scenario on first use and remember the result for the module."""
    cache: dict[str, tuple[CompileResult, list[str]]] = {}

    def get(name: str) -> tuple[CompileResult, list[str]]:
        if name not in cache:
            make_papers, style, compiler, unresolved = SCENARIOS[name]
            cache[name] = _compile(
                tmp_path_factory,
                texmfvar,
                name,
                make_papers(),
                style,
                compiler,
                unresolved=unresolved,
            )
        return cache[name]

    return get


# --- tests -------------------------------------------------------------------------------------


def test_reader_finds_every_distinct_sample_listing() -> None:
    listings = sample_listings()
    assert len(listings) == 167
    assert all(title and abstract for title, abstract in listings)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_compiles_without_errors(
    name: str, compiled: Callable[[str], tuple[CompileResult, list[str]]]
) -> None:
    result, keys = compiled(name)
    assert result.ok, result.summary()
    assert result.bbl, result.summary()
    for key in keys:
        assert key in result.bbl, f"{key} missing from the bibliography"


@pytest.mark.parametrize("name", [name for name in SCENARIOS if not name.startswith("unresolved")])
def test_complete_entries_compile_without_warnings(
    name: str, compiled: Callable[[str], tuple[CompileResult, list[str]]]
) -> None:
    result, _ = compiled(name)
    assert result.warnings == [], result.summary()


@pytest.mark.parametrize("name", ["unresolved-natbib", "unresolved-biblatex"])
def test_unresolved_entries_only_warn_about_missing_metadata(
    name: str, compiled: Callable[[str], tuple[CompileResult, list[str]]]
) -> None:
    result, _ = compiled(name)
    allowed = re.compile(
        r"bibtex: Warning--(?:to sort, need author or key|empty year|"
        r"need key to make a label) in |"
        r"biber: .*WARN - .*(?:[Mm]issing|[Nn]o \w+ field)"
    )
    unexpected = [line for line in result.warnings if not allowed.search(line)]
    assert unexpected == [], result.summary()


@pytest.mark.parametrize(
    "name", ["complete-natbib", "complete-biblatex", "complete-bibtex-style-biber"]
)
def test_sample_titles_reach_the_bibliography(
    name: str, compiled: Callable[[str], tuple[CompileResult, list[str]]]
) -> None:
    result, _ = compiled(name)
    bbl = normalized(result.bbl)
    for fragment in ("{internvl3}", "{astrom$^3$}", "{cosmo}", "{gpt-4v(ision)}", "{4m-21}"):
        assert fragment in bbl, fragment
    # Non-ASCII names survive as LaTeX (bibtex) or UTF-8 (biber), CJK as UTF-8 (each letter
    # braced as {\relax{}张} in the BibTeX output, so that bibtex never cuts one in half).
    assert "张伟" in bbl or "{\\relax{}张}{\\relax{}伟}" in bbl
    assert any(name in bbl for name in ("{\\l}ukasz", "łukasz", "{ł}ukasz"))
    assert ('j{\\"u}rgen' in bbl) or ("jürgen" in bbl)


@pytest.mark.parametrize(
    "name", ["adversarial-natbib", "adversarial-biblatex", "adversarial-bibtex-style-biber"]
)
def test_adversarial_text_is_printed_not_executed(
    name: str, compiled: Callable[[str], tuple[CompileResult, list[str]]]
) -> None:
    result, _ = compiled(name)
    bbl = normalized(result.bbl)
    for _, _, fragment in ADVERSARIAL:
        assert fragment.lower() in bbl, fragment
    assert "(/etc/passwd" not in result.log  # \input{/etc/passwd} stayed text
    assert "\\input{" not in result.bbl
    assert "{\\textbackslash}input{\\textbraceleft}/etc/passwd{\\textbraceright}" in result.bbl
    assert "\\end{document}" not in result.bbl.replace("\\end{thebibliography}", "")


def test_every_character_is_kept_exactly(
    compiled: Callable[[str], tuple[CompileResult, list[str]]],
) -> None:
    result, _ = compiled("characters-natbib")
    # CJK, emoji, private use and the last code point are not dropped, nor replaced.
    for char in ("\u5f20", "\U0001f600", "\ue000", "\U0010fffd"):
        assert char in result.bbl
    assert "[U+" not in result.bbl
