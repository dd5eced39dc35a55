"""Real `bibtex` against readlist's model of it, and against what `readlist add` writes.

Skipped when bibtex is not installed (a failure under CI, see tests/latex_tools.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import corpus_files
from latex_tools import bibtex_reads
from test_bibreader import CASES

from readlist.bibfile import decode_bib, wide_encoding
from readlist.bibreader import read_like_bibtex
from readlist.cli import cli

LISTING = "Zyxwv Probe Paper for Appending Checks\n\nA made-up paper that no corpus file holds.\n"


@pytest.mark.parametrize("name", list(CASES))
def test_model_agrees_with_real_bibtex_on_each_case(tmp_path: Path, name: str) -> None:
    text, keys, has_error = CASES[name]
    real = bibtex_reads(text.encode(), tmp_path)
    assert real.keys == keys, real.blg
    assert bool(real.errors) == has_error, real.blg


def _path(param: object) -> Path:
    return param.values[0] if hasattr(param, "values") else param  # type: ignore[attr-defined,return-value]


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: getattr(p, "name", p))
def test_appended_entry_is_seen_by_bibtex_or_refused_with_a_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: Path, path: Path
) -> None:
    original = path.read_bytes()
    before = bibtex_reads(original, tmp_path / "before")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "listing.txt").write_text(LISTING)
    target = tmp_path / "copy.bib"
    target.write_bytes(original)
    if wide_encoding(original):
        result = CliRunner().invoke(cli, ["add", "listing.txt", "--all", "--bib", "copy.bib"])
        assert result.exit_code == 1
        assert re.match(r"Error: copy\.bib: is UTF-(16|32) .*`iconv -f UTF-", result.stderr)
        assert target.read_bytes() == original
        assert before.keys == []  # bibtex finds nothing it can use in such a file
        return
    text, _ = decode_bib(original)
    model = read_like_bibtex(text)
    assert [e.key.encode("utf-8", "surrogateescape").decode("latin-1") for e in model.entries] == (
        before.keys
    )
    assert bool(model.errors) == bool(before.errors), before.errors

    result = CliRunner().invoke(
        cli, ["add", "listing.txt", "--all", "--offline", "--bib", "copy.bib"]
    )
    assert "Traceback" not in result.output
    if result.exit_code == 1:
        assert re.match(r"Error: copy\.bib:\d+: ", result.stderr), result.stderr
        assert target.read_bytes() == original
        assert before.errors, "refused a file bibtex reads without error"
        return
    assert result.exit_code == 0, result.output
    new = target.read_bytes()
    assert new.startswith(original)
    key = re.search(r"^(\S+)$", result.stdout, re.MULTILINE)  # the added key, on stdout
    assert key is not None, result.stderr
    after = bibtex_reads(new, tmp_path / "after")
    assert after.keys[-1] == key.group(1), after.blg
    if model.resume_at < len(text) and "@" in text[model.resume_at :]:
        # bibtex never reads past the first entry on a file's last line; once that line is no
        # longer the last, it reads the rest of it too (our model says which entries).
        predicted = read_like_bibtex(new.decode("utf-8", "surrogateescape").lstrip("\ufeff"))
        assert after.keys == [
            e.key.encode("utf-8", "surrogateescape").decode("latin-1") for e in predicted.entries
        ]
    else:
        assert after.keys == [*before.keys, key.group(1)], after.blg
