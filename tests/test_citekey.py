"""Citation keys: the formula's placeholders, transliteration, fallbacks and collisions."""

from __future__ import annotations

import re

import pytest

from readlist.bibtex import format_entry
from readlist.citekey import PLACEHOLDERS, _suffix, make_citekey, to_ascii
from readlist.config import CITEKEY_PLACEHOLDERS
from readlist.models import ArxivId, Paper

INTERNVL3 = Paper(
    title="InternVL3: Exploring Advanced Training and Test-Time Recipes for Open-Source "
    "Multimodal Models",
    arxiv_id=ArxivId("2504.10479", 3),
    authors=("Jinguo Zhu", "Weiyun Wang", "Zhe Chen"),
    year=2025,
)


def test_design_example() -> None:
    assert make_citekey(INTERNVL3) == "zhu2025internvl3"


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("{auth}{year}{shorttitle}", "zhu2025internvl3"),
        ("{authors}{year}", "zhuetal2025"),
        ("{title}", "internvl3exploringadvanced"),
        ("{eprint}", "250410479"),
        ("arxiv-{eprint}", "arxiv-250410479"),
        ("{auth}_{year}:{shorttitle}", "zhu_2025:internvl3"),
        ("{title}.{year}_x", "internvl3exploringadvanced.2025_x"),
        ("{auth} {year}!", "zhu2025"),  # characters a key cannot hold are dropped
    ],
)
def test_placeholders(formula: str, expected: str) -> None:
    assert make_citekey(INTERNVL3, formula) == expected


def test_case_is_kept_when_asked() -> None:
    assert make_citekey(INTERNVL3, lowercase=False) == "Zhu2025InternVL3"


@pytest.mark.parametrize(
    ("authors", "expected"),
    [
        (("Jacob Devlin",), "devlin"),
        (("Jacob Devlin", "Ming-Wei Chang"), "devlinchang"),
        (("Jacob Devlin", "Ming-Wei Chang", "Kenton Lee"), "devlinetal"),
    ],
)
def test_authors_placeholder(authors: tuple[str, ...], expected: str) -> None:
    paper = Paper(title="T", authors=authors)
    assert make_citekey(paper, "{authors}x") == expected + "x"


@pytest.mark.parametrize(
    ("author", "expected"),
    [
        ("Laurens van der Maaten", "maaten"),  # particles are not the name BibTeX sorts by
        ("Ludwig von Mises", "mises"),
        ("van der Maaten, Laurens", "maaten"),
        ("Martin Luther King Jr.", "king"),
        ("Henry Ford III", "ford"),
        ("Bernhard Schölkopf", "scholkopf"),
        ("Łukasz Kaiser", "kaiser"),
        ("José Hernández-Orallo", "hernandezorallo"),
        ("Zoë O'Brien", "obrien"),
        ("Søren Hauberg", "hauberg"),
        ("Çağlar Gülçehre", "gulcehre"),
        ('Erwin Schr\\"odinger', "schrodinger"),
        ("Wei Zhu", "zhu"),
        ("张伟", ""),  # no Latin spelling: the part is left out
        ("Plato", "plato"),
    ],
)
def test_auth_placeholder(author: str, expected: str) -> None:
    paper = Paper(title="Zeta", authors=(author,), year=2020)
    assert make_citekey(paper) == f"{expected}2020zeta"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("InternVL3: Exploring Advanced", "internvl3"),
        ("4M-21: An Any-to-Any Vision Model", "4m21"),
        ("The Dawn of LMMs", "dawn"),
        ("A Survey on Multimodal LLMs", "survey"),
        ("On the Hidden Mystery of OCR", "hidden"),
        ("Towards Self-Improving Systematic Cognition", "selfimproving"),
        ("AstroM$^3$: A self-supervised multimodal model", "astrom3"),
        ('No "Zero-Shot" Without Exponential Data', "no"),
        ("2.5 Years in Class", "25"),
        ("Über Alles", "uber"),
        ("The Of And", ""),
        ("张伟的论文", ""),
    ],
)
def test_shorttitle_placeholder(title: str, expected: str) -> None:
    paper = Paper(title=title, authors=("Ann Lee",), year=2024)
    assert make_citekey(paper) == f"lee2024{expected}"


def test_title_placeholder_takes_three_significant_words() -> None:
    paper = Paper(title="The Dawn of LMMs: Preliminary Explorations with GPT-4V(ision)")
    assert make_citekey(paper, "{title}") == "dawnlmmspreliminary"


def test_old_style_eprint() -> None:
    paper = Paper(title="T", arxiv_id=ArxivId("hep-th/9901001"))
    assert make_citekey(paper, "{eprint}") == "hepth9901001"


@pytest.mark.parametrize(
    ("paper", "expected"),
    [
        (Paper(title="The Of", arxiv_id=ArxivId("2504.10479")), "arxiv250410479"),
        (Paper(title="张伟的论文"), "paper"),
        (Paper(title="Zeta"), "zeta"),  # no author, no year: those parts are left out
        (Paper(title="0"), "0"),
    ],
)
def test_missing_parts_and_empty_keys(paper: Paper, expected: str) -> None:
    assert make_citekey(paper) == expected


def test_collisions_get_letter_suffixes_and_the_first_keeps_the_bare_key() -> None:
    taken: list[str] = []
    for _ in range(30):
        taken.append(make_citekey(INTERNVL3, taken=taken))
    assert taken[:4] == [
        "zhu2025internvl3",
        "zhu2025internvl3a",
        "zhu2025internvl3b",
        "zhu2025internvl3c",
    ]
    assert taken[26:] == [
        "zhu2025internvl3z",
        "zhu2025internvl3aa",
        "zhu2025internvl3ab",
        "zhu2025internvl3ac",
    ]


def test_collisions_ignore_case_as_bibtex_does() -> None:
    taken = {"ZHU2025InternVL3", "zhu2025internvl3A"}
    assert make_citekey(INTERNVL3, taken=taken) == "zhu2025internvl3b"
    assert make_citekey(INTERNVL3, lowercase=False, taken=taken) == "Zhu2025InternVL3b"


def test_suffixes() -> None:
    assert [_suffix(i) for i in (0, 1, 25, 26, 27, 51, 52, 701, 702)] == [
        "a", "b", "z", "aa", "ab", "az", "ba", "zz", "aaa",
    ]  # fmt: skip


def test_keys_are_deterministic() -> None:
    assert make_citekey(INTERNVL3, taken=["x"]) == make_citekey(INTERNVL3, taken=["x"])


@pytest.mark.parametrize("formula", ["{author}{year}", "{auth}{year", "{auth}}", "{}"])
def test_bad_formulas_are_refused(formula: str) -> None:
    with pytest.raises(ValueError, match="citation key formula"):
        make_citekey(INTERNVL3, formula)


def test_placeholders_match_what_the_config_accepts() -> None:
    assert PLACEHOLDERS == CITEKEY_PLACEHOLDERS


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Schölkopf", "Scholkopf"), ("Łukasz", "Lukasz"), ("Straße", "Strasse"), ("Æsir", "AEsir"),
     ("Đorđe", "Dorde"), ("ﬁne", "fine"), ("张伟", ""), ("Ａ１", "A1")],
)  # fmt: skip
def test_to_ascii(text: str, expected: str) -> None:
    assert to_ascii(text) == expected


def test_keys_only_use_safe_characters_and_are_accepted_by_format_entry() -> None:
    titles = ["Über: ÉCOLE", "$x^2$ & {weird} \\macro", "😀 emoji", "—", "a/b.c-d_e"]
    authors = ["Zoë O'Brien", "张伟", "{Braced}", "Ludwig van Beethoven", ""]
    taken: list[str] = []
    for title in titles:
        for author in authors:
            paper = Paper(title=title, authors=(author,), arxiv_id=ArxivId("2504.10479"))
            for lowercase in (True, False):
                key = make_citekey(paper, "{auth}-{year}:{shorttitle}.{title}_{eprint}",
                                   lowercase=lowercase, taken=taken)  # fmt: skip
                pattern = r"[a-z0-9_:.-]+" if lowercase else r"[A-Za-z0-9_:.-]+"
                assert re.fullmatch(pattern, key), key
                assert key.casefold() not in {t.casefold() for t in taken}
                taken.append(key)
                format_entry(paper, key)


def test_no_author_key_uses_three_title_words_or_the_arxiv_id() -> None:
    listing_only = Paper(title="Multimodal Needle in a Haystack: Benchmarking Long-Context")
    assert make_citekey(listing_only) == "multimodalneedlehaystack"
    assert make_citekey(listing_only, "{authors}x") == "multimodalneedlehaystack"
    by_id = Paper(title="arXiv:2504.10479v2", arxiv_id=ArxivId("2504.10479", 2), year=2025)
    assert make_citekey(by_id) == "arxiv250410479"
    # a formula without author placeholders is taken as written
    assert make_citekey(by_id, "{year}{eprint}") == "2025250410479"
