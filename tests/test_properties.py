"""Properties that must hold for any input: rerunning `add` adds nothing and changes no byte."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from readlist.bibfile import read_bib
from readlist.library import BibOptions, add_papers
from readlist.models import ArxivId, Paper

# Text that is hard to write as BibTeX: TeX specials, math, Greek, accents, quotes, braces.
_HARD = list("&%#_~^\\{}$\"'`-:;,.!?()[]<>|/@=+*") + list("αβγδΓΔλμπσΩ") + list("éèêëñøåßłđĐ")
_WORD = st.text(
    alphabet=st.sampled_from(
        list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") + _HARD
    ),
    min_size=1,
    max_size=12,
)
_TITLE = (
    st.lists(_WORD, min_size=1, max_size=8)
    .map(" ".join)
    .filter(lambda t: any(c.isalnum() for c in t))
)
_NAME = st.builds(
    lambda first, last: f"{first} {last}",
    st.sampled_from(["Ana", "Đorđe", "Nguyễn", "Łukasz", "Jiří", "Zoë", "Søren", "Ömer", "Li"]),
    st.sampled_from(
        ["Smith", "Đoković", "Trần", "Ślęczka", "Hajič", "de la Cruz", "Erdős", "O'Neil"]
    ),
)
_ID = st.builds(
    lambda yymm, n: ArxivId(f"{yymm}.{n:05d}"),
    st.sampled_from(["2301", "2406", "2504", "1912"]),
    st.integers(min_value=0, max_value=99999),
)


def _id_of(title: str) -> ArxivId:
    """One arXiv ID per title, as in reality: an ID names one paper, with one title."""
    import hashlib

    digest = int(hashlib.sha1(title.encode()).hexdigest(), 16)
    return ArxivId(f"{2301 + digest % 5:04d}.{digest % 100000:05d}")


@st.composite
def papers(draw: st.DrawFn) -> Paper:
    resolved = draw(st.booleans())
    title = draw(_TITLE)
    return Paper(
        title=title,
        abstract=draw(st.none() | _TITLE),
        arxiv_id=_id_of(title) if resolved or draw(st.booleans()) else None,
        authors=tuple(draw(st.lists(_NAME, max_size=4))) if resolved else (),
        year=2024 if resolved else None,
        month=6 if resolved else None,
        tags=tuple(draw(st.lists(st.sampled_from(["to-read", "rag", "c++", "a_b"]), max_size=2))),
        resolved=resolved,
    )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    batch=st.lists(papers(), min_size=1, max_size=6), style=st.sampled_from(["bibtex", "biblatex"])
)
def test_rerunning_add_adds_nothing_and_keeps_every_byte(batch: list[Paper], style: str) -> None:
    options = BibOptions(style=style)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "refs.bib"
        path.write_text("% my library\n", encoding="utf-8")
        first = add_papers(path, batch, options)
        after_first = path.read_bytes()
        entries = read_bib(path).entries
        assert len(entries) == len(first.added)
        second = add_papers(path, batch, options)
        assert second.added == [], [a.paper.title for a in second.added]
        assert path.read_bytes() == after_first
