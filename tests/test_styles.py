"""A real document per bibliography style: every entry compiles and shows its arXiv ID.

Each style cites resolved entries (names in many scripts) and unresolved ones (written from a
listing before their metadata is known), through the same `add_papers` a user's `add` runs.
"""

from __future__ import annotations

import datetime
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from latex_tools import CompileResult, compile_biblatex, compile_bibtex, require_tools

from readlist.library import BibOptions, add_papers
from readlist.models import ArxivId, Listing, Paper
from readlist.resolve import paper_from_listing

TODAY = datetime.date(2026, 3, 1)
NAMES = (
    "Đorđe Đoković",
    "Ðorđe Ðukić",
    "Nguyễn Thị Minh Khai",
    "Trần Hưng Đạo",
    "Phạm Văn Đồng",
    "Trương Dương",
    "Ngô Bảo Châu",
    "Erdős Pál",
    "Łukasz Ślęczka",
    "Søren Ørsted",
    "Jiří Hajič",
    "Şükrü Ștefan Țiriac",
    "Ağaoğlu Ó Briain",
    "Þórunn Straße",
    "Ħal Əliyev",
    "李飞飞",
    "Дмитрий Иванов",
    "Γιώργος Παπαδόπουλος",
    "محمد علي",
    "Yann LeCun",
)
RESOLVED_IDS = ("2406.12345", "2504.10479", "2312.06647", "1706.03762", "hep-th/9901001")
UNRESOLVED = (
    Listing(title="InternVL3: Exploring Advanced Training", abstract="We introduce InternVL3."),
    Listing(title="γ-MoD: Mixture of Depth", abstract="Dynamic depth.", date=(None, 4, 28)),
    Listing(arxiv_id=ArxivId("2409.11402")),
)


def resolved_papers() -> list[Paper]:
    return [
        Paper(
            title=f"Paper {index} on $\\gamma$-Things for {name.split()[0]}",
            authors=(name, NAMES[(index + 3) % len(NAMES)], "Ann Author"),
            arxiv_id=ArxivId(arxiv_id),
            year=2024,
            month=1 + index,
            primary_category="cs.CL",
            resolved=True,
        )
        for index, (arxiv_id, name) in enumerate(zip(RESOLVED_IDS, NAMES[::4], strict=True))
    ] + [
        Paper(
            title=f"Names {index}",
            authors=(name,),
            arxiv_id=ArxivId(f"2401.{index:05d}"),
            year=2024,
            primary_category="cs.LG",
            resolved=True,
        )
        for index, name in enumerate(NAMES)
    ]


def unresolved_papers() -> list[Paper]:
    return [paper_from_listing(listing, today=TODAY) for listing in UNRESOLVED]


def write_bib(tmp_path: Path, papers: Sequence[Paper], options: BibOptions) -> list[str]:
    (tmp_path / "src").mkdir(exist_ok=True)
    outcome = add_papers(tmp_path / "src" / "refs.bib", papers, options)
    assert len(outcome.added) == len(papers)
    return [added.key for added in outcome.added]


def pdf_text(result: CompileResult) -> str:
    """The PDF's text with all whitespace removed (URLs and IDs may break across lines)."""
    require_tools("pdftotext")
    done = subprocess.run(
        # -raw: content-stream order, so a right-to-left name cannot move a URL elsewhere.
        ["pdftotext", "-raw", "-enc", "UTF-8", str(result.workdir / "doc.pdf"), "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return re.sub(r"\s+", "", done.stdout)


def bib_text(tmp_path: Path) -> str:
    return (tmp_path / "src" / "refs.bib").read_text(encoding="utf-8")


AUTHOR_YEAR = [
    ("bibtex", "apalike", ""),
    ("bibtex", "plainnat", ""),
    ("biblatex", "authoryear", None),
    ("biblatex", "apa", None),
]


@pytest.mark.parametrize(("backend", "style", "natbib"), AUTHOR_YEAR)
def test_unresolved_entries_are_citable_in_author_year_styles(
    tmp_path: Path, texmfvar: Path, backend: str, style: str, natbib: str | None
) -> None:
    options = BibOptions(style="bibtex" if backend == "bibtex" else "biblatex")
    keys = write_bib(tmp_path, [*unresolved_papers(), *resolved_papers()[:2]], options)
    if backend == "bibtex":
        result = compile_bibtex(
            bib_text(tmp_path),
            keys,
            tmp_path / "tex",
            style=style,
            natbib=natbib,
            texmfvar=texmfvar,
        )
    else:
        result = compile_biblatex(
            bib_text(tmp_path), keys, tmp_path / "tex", style=style, texmfvar=texmfvar
        )
    assert result.ok, result.summary()
    text = pdf_text(result)
    assert "InternVL3" in text and "2025" in text  # the listing's "Apr 28", read in 2026


# (style, natbib options or None, documentclass)
BIBTEX_STYLES = [
    ("plain", None, "article"),
    ("unsrt", None, "article"),
    ("alpha", None, "article"),
    ("abbrv", None, "article"),
    ("apalike", "", "article"),  # natbib author-year
    ("IEEEtran", None, "article"),
    ("ACM-Reference-Format", "", "article"),
    ("splncs04", None, "article"),
    ("elsarticle-num", "numbers", "article"),
    ("plainnat", "", "article"),
    ("unsrtnat", "numbers", "article"),
]
CLASSIC = {"plain", "unsrt", "alpha", "abbrv", "apalike"}
BIBLATEX_STYLES = ["ieee", "apa", "numeric", "authoryear", "nature"]


def _compile_style(
    tmp_path: Path,
    texmfvar: Path,
    style: str,
    options: BibOptions,
    fontenc: str = "T1",
    halt_on_error: bool = True,
) -> tuple[CompileResult, list[Paper]]:
    resolved = resolved_papers()
    keys = write_bib(tmp_path, [*resolved, *unresolved_papers()], options)
    if options.style == "biblatex":
        result = compile_biblatex(
            bib_text(tmp_path),
            keys,
            tmp_path / "tex",
            style=style,
            fontenc=fontenc,
            texmfvar=texmfvar,
            halt_on_error=halt_on_error,
        )
    else:
        natbib, documentclass = next((n, d) for s, n, d in BIBTEX_STYLES if s == style)
        result = compile_bibtex(
            bib_text(tmp_path),
            keys,
            tmp_path / "tex",
            style=style,
            natbib=natbib,
            fontenc=fontenc,
            documentclass=documentclass,
            texmfvar=texmfvar,
            halt_on_error=halt_on_error,
        )
    return result, resolved


def missing_ids(result: CompileResult, papers: Sequence[Paper]) -> list[str]:
    text = pdf_text(result)
    return [p.arxiv_id.id for p in papers if p.arxiv_id and p.arxiv_id.id not in text]


@pytest.mark.parametrize("style", [s for s, _, _ in BIBTEX_STYLES])
@pytest.mark.parametrize("form", ["eprint", "journal"])
def test_bibtex_styles_compile_and_show_arxiv_ids(
    tmp_path: Path, texmfvar: Path, style: str, form: str
) -> None:
    result, resolved = _compile_style(
        tmp_path, texmfvar, style, BibOptions(style="bibtex", preprint_form=form)
    )
    assert result.ok, result.summary()
    missing = missing_ids(result, resolved)
    if form == "journal" or style not in CLASSIC:
        assert missing == [], f"{style} hides {missing}"
    else:
        # Why preprint_form exists: arXiv's @misc export shows no locator in these.
        assert len(missing) == len(resolved), style


@pytest.mark.parametrize("style", BIBLATEX_STYLES)
def test_biblatex_styles_compile_and_show_arxiv_ids(
    tmp_path: Path, texmfvar: Path, style: str
) -> None:
    result, resolved = _compile_style(tmp_path, texmfvar, style, BibOptions(style="biblatex"))
    assert result.ok, result.summary()
    assert missing_ids(result, resolved) == []


# OT1 has no Đ đ Ð ð Þ þ Ŋ ŋ and no ogonek (ą ę ų): nothing can print them under OT1.
_OT1_ONLY = re.compile(r"\\(?:DH|dh|DJ|dj|TH|th|NG|ng|k) unavailable in encoding OT1")


@pytest.mark.parametrize(("backend", "style"), [("bibtex", "plainnat"), ("biblatex", "numeric")])
def test_under_ot1_only_letters_ot1_lacks_fail(
    tmp_path: Path, texmfvar: Path, backend: str, style: str
) -> None:
    result, _ = _compile_style(
        tmp_path, texmfvar, style, BibOptions(style=backend), "OT1", halt_on_error=False
    )
    latex_errors = [e for e in result.errors if e.startswith("LaTeX: ! ")]
    assert latex_errors, "the names include Đ, Ð and Þ, which OT1 cannot print"
    # Every error is one of those letters; nothing else breaks, and the document is made.
    assert all(_OT1_ONLY.search(error) for error in latex_errors), result.summary()
    assert (result.workdir / "doc.pdf").is_file()
