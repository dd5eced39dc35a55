"""Journal references and DOIs read as venues (readlist.venue)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from readlist.models import Venue
from readlist.venue import is_conference, parse_journal_ref


@pytest.mark.parametrize(
    ("ref", "doi", "venue"),
    [
        (
            "Mon.Not.Roy.Astron.Soc. 419 (2012) 1795-1803",
            "10.1111/j.1365-2966.2011.19851.x",
            Venue("journal", "Mon.Not.Roy.Astron.Soc", "419", None, "1795-1803", 2012),
        ),
        (
            "Astrophys.J.652:1617-1625,2006",
            "10.1086/507935",
            Venue("journal", "Astrophys.J", "652", None, "1617-1625", 2006),
        ),
        (
            "Phys. Rev. Lett. 104, 251301 (2010)",
            None,
            Venue("journal", "Phys. Rev. Lett", "104", None, "251301", 2010),
        ),
        (
            "J. Mach. Learn. Res. 21(140):1-67, 2020",
            None,
            Venue("journal", "J. Mach. Learn. Res", "21", "140", "1-67", 2020),
        ),
        (
            "IEEE Transactions on Pattern Analysis and Machine Intelligence 47(3), 2025",
            None,
            Venue(
                "journal",
                "IEEE Transactions on Pattern Analysis and Machine Intelligence",
                "47",
                "3",
                None,
                2025,
            ),
        ),
        (
            "SIGGRAPH Asia 2023 Conference Papers",
            "10.1145/3610548.3618154",
            Venue("conference", "SIGGRAPH Asia 2023 Conference Papers", year=2023),
        ),
        (
            "Proceedings of the 40th International Conference on Machine Learning, "
            "PMLR 202:1234-1245, 2023",
            None,
            Venue(
                "conference",
                "Proceedings of the 40th International Conference on Machine Learning",
                pages="1234-1245",
                year=2023,
            ),
        ),
        (
            "Proceedings of CVPR 2024, pp. 1021-1030",
            None,
            Venue("conference", "Proceedings of CVPR 2024", pages="1021-1030", year=2024),
        ),
        ("ACL 2024 Findings", None, Venue("conference", "ACL 2024 Findings", year=2024)),
    ],
)
def test_journal_refs_are_read_field_by_field(ref: str, doi: str | None, venue: Venue) -> None:
    assert parse_journal_ref(ref, doi) == venue


def test_nothing_is_guessed_from_nothing() -> None:
    assert parse_journal_ref(None) is None
    assert parse_journal_ref("  ") is None
    # A year span in the text is not a page range.
    assert parse_journal_ref("Nature 599 (2021), observations 2000--2005").pages is None


def test_conference_dois() -> None:
    assert is_conference(None, "10.18653/v1/2023.acl-long.1")
    assert is_conference(None, "10.1109/CVPR52688.2022.01042")
    assert not is_conference(None, "10.1109/TPAMI.2023.1234567")
    assert not is_conference("Nature 599, 45-67 (2021)", "10.1038/s41586-021-03819-2")


def test_the_translators_journal_items_get_their_venue(data: Path) -> None:
    path = data / "fixtures" / "zotero" / "translators_arXiv.org.js_testCases.json"
    cases = json.loads(path.read_text(encoding="utf-8"))
    # Zotero's own test cases, with the journal refs arXiv lists for them.
    refs = {
        "10.1111/j.1365-2966.2011.19851.x": "Mon.Not.Roy.Astron.Soc. 419 (2012) 1795-1803",
        "10.1086/507935": "Astrophys.J.652:1617-1625,2006",
        "10.1086/672573": "PASP 125 (2013) 1021-1030",
        "10.1145/3610548.3618154": "SIGGRAPH Asia 2023 Conference Papers",
    }
    checked = 0
    for case in cases:
        for item in case["items"] if isinstance(case.get("items"), list) else []:
            ref = refs.get(item.get("DOI", ""))
            if ref is None:
                continue
            venue = parse_journal_ref(ref, item["DOI"])
            assert venue is not None
            kind = "conferencePaper" if venue.kind == "conference" else "journalArticle"
            assert kind == item["itemType"]
            assert venue.pages in (item.get("pages"), None)
            assert venue.volume == item.get("volume")
            checked += 1
    assert checked == 4


@given(st.text(max_size=120), st.one_of(st.none(), st.text(max_size=40)))
def test_any_reference_is_read_without_error(ref: str, doi: str | None) -> None:
    venue = parse_journal_ref(ref, doi)
    if venue is not None:
        assert venue.name.strip() and venue.kind in ("journal", "conference")
        assert venue.pages is None or not re.fullmatch(r"(19|20)\d\d-(19|20)\d\d", venue.pages)
