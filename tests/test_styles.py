"""A real document per bibliography style: every entry compiles and shows its arXiv ID.

Each style cites resolved entries (names in many scripts) and unresolved ones (written from a
listing before their metadata is known), through the same `add_papers` a user's `add` runs.
"""

from __future__ import annotations

import datetime
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from latex_tools import CompileResult, compile_biblatex, compile_bibtex

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
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext not installed")
    done = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(result.workdir / "doc.pdf"), "-"],
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
