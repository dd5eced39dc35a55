"""End to end: `readlist add` on every sample listing, then real LaTeX toolchains cite it all."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import listing_files
from latex_tools import compile_biblatex, compile_natbib, require_tools

from readlist.bibfile import read_bib
from readlist.cli import cli

# What an entry that only knows its title and abstract cannot avoid: bibtex styles want an
# author (or key) and a year. Anything else is a defect in what readlist wrote.
EXPECTED_FOR_UNRESOLVED = ("empty author", "empty year", "need key to sort", "need author")


@pytest.mark.parametrize(
    ("style", "toolchain"),
    [("bibtex", "natbib"), ("bibtex", "biblatex"), ("biblatex", "biblatex")],
)
def test_offline_entries_from_all_listings_compile(
    data: Path, tmp_path: Path, texmfvar: Path, style: str, toolchain: str
) -> None:
    require_tools("pdflatex", "bibtex" if toolchain == "natbib" else "biber")
    bib = tmp_path / "refs.bib"
    files = [str(p) for p in listing_files()]
    result = CliRunner().invoke(
        cli, ["add", *files, "--all", "--offline", "--style", style, "--bib", str(bib)]
    )
    assert result.exit_code == 0, result.output
    keys = [e.key for e in read_bib(bib).entries]
    assert len(keys) == 167
    compile_ = compile_natbib if toolchain == "natbib" else compile_biblatex
    outcome = compile_(bib.read_text(), keys, tmp_path / "doc", texmfvar=texmfvar)
    assert outcome.ok, outcome.summary()
    unexpected = [
        w for w in outcome.warnings if not any(e in w.lower() for e in EXPECTED_FOR_UNRESOLVED)
    ]
    assert not unexpected, outcome.summary()
    # every title made it into the typeset bibliography
    assert outcome.bbl.count("InternVL3") >= 1
