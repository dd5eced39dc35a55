"""Tests for readlist.ids: arXiv identifiers in every form users paste."""

from __future__ import annotations

import time

import pytest

from readlist.ids import OLD_ARCHIVES, find_arxiv_ids, is_arxiv_id, parse_arxiv_id
from readlist.models import ArxivId


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # New style, with and without version.
        ("2504.10479", ArxivId("2504.10479")),
        ("2504.10479v3", ArxivId("2504.10479", 3)),
        ("2504.10479V3", ArxivId("2504.10479", 3)),
        ("2504.10479v12", ArxivId("2504.10479", 12)),
        ("  2504.10479\n", ArxivId("2504.10479")),
        # Four-digit numbers 0704-1412, five-digit from 1501.
        ("0704.0001", ArxivId("0704.0001")),
        ("1412.9999v2", ArxivId("1412.9999", 2)),
        ("1501.00001", ArxivId("1501.00001")),
        ("0912.5678", ArxivId("0912.5678")),
        # The arXiv: label, in any case, with or without a space.
        ("arXiv:2504.10479", ArxivId("2504.10479")),
        ("arxiv:2504.10479v2", ArxivId("2504.10479", 2)),
        ("ARXIV:2504.10479", ArxivId("2504.10479")),
        ("arXiv: 2504.10479", ArxivId("2504.10479")),
        ("arXiv 2504.10479", ArxivId("2504.10479")),
        # Old style.
        ("hep-th/9901001", ArxivId("hep-th/9901001")),
        ("hep-th/9901001v2", ArxivId("hep-th/9901001", 2)),
        ("astro-ph/0601001v1", ArxivId("astro-ph/0601001", 1)),
        ("arXiv:hep-th/9901001", ArxivId("hep-th/9901001")),
        ("quant-ph/0703001", ArxivId("quant-ph/0703001")),
        ("cs/9812001", ArxivId("cs/9812001")),
        ("alg-geom/9108001", ArxivId("alg-geom/9108001")),
        ("solv-int/9901001", ArxivId("solv-int/9901001")),
        ("HEP-TH/9901001", ArxivId("hep-th/9901001")),
        # A subject class is dropped: arXiv's canonical id is archive/YYMMNNN.
        ("math.GT/0309136", ArxivId("math/0309136")),
        ("math.GT/0309136v1", ArxivId("math/0309136", 1)),
        ("cond-mat.mes-hall/0601001", ArxivId("cond-mat/0601001")),
        ("cs.AI/0101001", ArxivId("cs/0101001")),
        # arxiv.org URLs.
        ("https://arxiv.org/abs/2504.10479", ArxivId("2504.10479")),
        ("http://arxiv.org/abs/2504.10479v2", ArxivId("2504.10479", 2)),
        ("https://www.arxiv.org/abs/2504.10479", ArxivId("2504.10479")),
        ("https://export.arxiv.org/abs/2504.10479", ArxivId("2504.10479")),
        ("arxiv.org/abs/2504.10479", ArxivId("2504.10479")),
        ("https://arxiv.org/abs/2504.10479/", ArxivId("2504.10479")),
        ("https://arxiv.org/abs/2504.10479v2?context=cs", ArxivId("2504.10479", 2)),
        ("https://arxiv.org/abs/2504.10479#section", ArxivId("2504.10479")),
        ("https://arxiv.org/pdf/2504.10479", ArxivId("2504.10479")),
        ("https://arxiv.org/pdf/2504.10479v1", ArxivId("2504.10479", 1)),
        ("https://arxiv.org/pdf/2504.10479v1.pdf", ArxivId("2504.10479", 1)),
        ("https://arxiv.org/pdf/2504.10479.pdf", ArxivId("2504.10479")),
        ("https://arxiv.org/html/2504.10479v1", ArxivId("2504.10479", 1)),
        ("https://arxiv.org/html/2504.10479v1/", ArxivId("2504.10479", 1)),
        ("https://arxiv.org/html/2504.10479v1#S3", ArxivId("2504.10479", 1)),
        ("https://arxiv.org/format/2504.10479", ArxivId("2504.10479")),
        ("HTTPS://ARXIV.ORG/ABS/2504.10479", ArxivId("2504.10479")),
        ("https://arxiv.org/abs/hep-th/9901001", ArxivId("hep-th/9901001")),
        ("https://arxiv.org/abs/hep-th/9901001v3", ArxivId("hep-th/9901001", 3)),
        ("https://arxiv.org/pdf/math.GT/0309136", ArxivId("math/0309136")),
        ("https://arxiv.org/abs/arXiv:2504.10479", ArxivId("2504.10479")),
        # Hugging Face papers URLs.
        ("https://huggingface.co/papers/2504.10479", ArxivId("2504.10479")),
        ("http://huggingface.co/papers/2504.10479", ArxivId("2504.10479")),
        ("https://www.huggingface.co/papers/2504.10479", ArxivId("2504.10479")),
        ("huggingface.co/papers/2504.10479", ArxivId("2504.10479")),
        ("https://hf.co/papers/2504.10479", ArxivId("2504.10479")),
        ("hf.co/papers/2504.10479", ArxivId("2504.10479")),
        ("https://huggingface.co/papers/2504.10479/", ArxivId("2504.10479")),
        ("https://huggingface.co/papers/2504.10479?q=x#community", ArxivId("2504.10479")),
        # The arXiv DOI.
        ("10.48550/arXiv.2504.10479", ArxivId("2504.10479")),
        ("10.48550/ARXIV.2504.10479", ArxivId("2504.10479")),
        ("10.48550/arxiv.2504.10479", ArxivId("2504.10479")),
        ("doi:10.48550/arXiv.2504.10479", ArxivId("2504.10479")),
        ("DOI: 10.48550/arXiv.2504.10479", ArxivId("2504.10479")),
        ("https://doi.org/10.48550/arXiv.2504.10479", ArxivId("2504.10479")),
        ("http://dx.doi.org/10.48550/arXiv.2504.10479", ArxivId("2504.10479")),
        ("10.48550/arXiv.hep-th/9901001", ArxivId("hep-th/9901001")),
    ],
)
def test_parse_arxiv_id_accepts(text: str, expected: ArxivId) -> None:
    assert parse_arxiv_id(text) == expected
    assert is_arxiv_id(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "arXiv:",
        "2504",
        "2504.1047",  # too short
        "2504.104790",  # too long
        "2513.12345",  # month 13
        "2500.12345",  # month 0
        "0703.1234",  # before the new scheme started (0704)
        "0001.12345",
        "1501.1234",  # four digits after 1412
        "1412.12345",  # five digits before 1501
        "0704.00001",
        "2504.00000",  # no paper number zero
        "2504.10479v0",  # versions start at 1
        "2504.10479v",
        "2504.10479 v2",
        "2504.10479 extra",
        "see 2504.10479",
        "2504.10479.",
        "2504-10479",
        "foo/9901001",  # unknown archive
        "hep-th/99010011",
        "hep-th/990100",
        "hep-th/9913001",  # month 13
        "hep-th/9101001",  # before arXiv (August 1991)
        "hep-th/0704001",  # after the old scheme ended (March 2007)
        "hep-th/9901000",
        "hep-th.XX.YY/9901001",
        "https://arxiv.org/abs/",
        "https://arxiv.org/list/cs.CL/recent",
        "https://arxiv.org/abs/2513.12345",
        "https://example.org/abs/2504.10479",
        "https://huggingface.co/2504.10479",
        "https://huggingface.co/papers/trending",
        "https://huggingface.co/models/2504.10479",
        "10.48550/arXiv.",
        "10.1145/3503161.3548208",
        "10.48550/zenodo.2504.10479",
        "arXiv:2504.10479 arXiv:2312.06647",
        "InternVL3: Exploring Advanced Training",
        "1234.5678",  # month 34
    ],
)
def test_parse_arxiv_id_rejects(text: str) -> None:
    assert parse_arxiv_id(text) is None
    assert not is_arxiv_id(text)


def test_version_is_kept_apart_from_the_id() -> None:
    parsed = parse_arxiv_id("https://arxiv.org/abs/2312.06647v2")
    assert parsed is not None
    assert parsed.id == "2312.06647"
    assert parsed.version == 2
    assert str(parsed) == "2312.06647v2"
    assert parsed.doi == "10.48550/arXiv.2312.06647"


def test_old_archives_include_current_and_retired_names() -> None:
    for name in ("hep-th", "astro-ph", "cond-mat", "math", "cs", "q-bio", "stat", "eess"):
        assert name in OLD_ARCHIVES
    for name in ("alg-geom", "funct-an", "cmp-lg", "supr-con", "acc-phys", "adap-org"):
        assert name in OLD_ARCHIVES
    assert all(parse_arxiv_id(f"{name}/9901001") is not None for name in OLD_ARCHIVES)


def test_find_in_bibtex_fields() -> None:
    assert find_arxiv_ids("arXiv preprint arXiv:2004.12681") == [ArxivId("2004.12681")]
    assert find_arxiv_ids("https://arxiv.org/abs/2312.06647v2") == [ArxivId("2312.06647", 2)]
    assert find_arxiv_ids("10.48550/ARXIV.2504.10479") == [ArxivId("2504.10479")]
    assert find_arxiv_ids("arXiv:hep-th/9901001") == [ArxivId("hep-th/9901001")]
    assert find_arxiv_ids("{arXiv:math.GT/0309136v2}") == [ArxivId("math/0309136", 2)]
    assert find_arxiv_ids("see https://huggingface.co/papers/2409.11402.") == [
        ArxivId("2409.11402")
    ]
    assert find_arxiv_ids("https://doi.org/10.48550/arXiv.2504.10479") == [ArxivId("2504.10479")]
    assert find_arxiv_ids("https://arxiv.org/pdf/2504.10479v2.pdf") == [ArxivId("2504.10479", 2)]
    assert find_arxiv_ids("https://arxiv.org/html/2504.10479v1/#S2") == [ArxivId("2504.10479", 1)]


def test_find_bare_numbers_only_when_allowed() -> None:
    assert find_arxiv_ids("2006.03654") == []
    assert find_arxiv_ids("{2006.03654}", bare_ok=True) == [ArxivId("2006.03654")]
    assert find_arxiv_ids("2006.03654v2", bare_ok=True) == [ArxivId("2006.03654", 2)]
    assert find_arxiv_ids("pages 1234.5678 and 2006.03654") == []
    # Even where bare numbers are allowed, impossible ones are not identifiers.
    assert find_arxiv_ids("1234.5678", bare_ok=True) == []
    assert find_arxiv_ids("3.14159", bare_ok=True) == []
    assert find_arxiv_ids("12006.03654", bare_ok=True) == []
    assert find_arxiv_ids("2006.036541", bare_ok=True) == []
    assert find_arxiv_ids("2006.03654.1", bare_ok=True) == []
    assert find_arxiv_ids("v1.2006.03654", bare_ok=True) == []


def test_find_old_style_ids_name_their_archive() -> None:
    assert find_arxiv_ids("note = {hep-th/9901001}") == [ArxivId("hep-th/9901001")]
    assert find_arxiv_ids("see math.GT/0309136v1 and") == [ArxivId("math/0309136", 1)]
    assert find_arxiv_ids("https://example.org/hep-th/9901001") == []
    assert find_arxiv_ids("foo/9901001") == []
    assert find_arxiv_ids("hep-th/9901001234") == []


def test_find_reports_each_id_once_in_order() -> None:
    text = (
        "eprint = {2006.03654}, journal = {arXiv preprint arXiv:2004.12681}, "
        "url = {https://arxiv.org/abs/2312.06647v2}, doi = {10.48550/ARXIV.2504.10479}, "
        "note = {arXiv:hep-th/9901001, again arXiv:2004.12681}"
    )
    assert find_arxiv_ids(text) == [
        ArxivId("2004.12681"),
        ArxivId("2312.06647", 2),
        ArxivId("2504.10479"),
        ArxivId("hep-th/9901001"),
    ]
    assert find_arxiv_ids(text, bare_ok=True)[0] == ArxivId("2006.03654")
    assert len(find_arxiv_ids(text, bare_ok=True)) == 5


def test_find_ignores_lookalikes() -> None:
    assert find_arxiv_ids("") == []
    assert find_arxiv_ids("arXiv:2513.12345 and arXiv:1501.1234") == []
    assert find_arxiv_ids("doi = {10.1145/3503161.3548208}") == []
    assert find_arxiv_ids("myarxiv:2504.10479") == []
    assert find_arxiv_ids("https://example.org/abs/2504.10479") == []


def test_pathological_input_is_fast() -> None:
    texts = [
        "a" * 200_000,
        "a-" * 100_000,
        "arXiv:" * 50_000,
        "1" * 200_000,
        "1234." * 50_000,
        "https://arxiv.org/abs/" * 10_000,
    ]
    start = time.perf_counter()
    for text in texts:
        assert find_arxiv_ids(text) == []
        find_arxiv_ids(text, bare_ok=True)
        assert parse_arxiv_id(text) is None
    assert time.perf_counter() - start < 2.0
