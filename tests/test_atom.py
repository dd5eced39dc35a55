"""The arXiv Atom feed parser: recorded responses, both formats, and hostile or broken XML."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from readlist.errors import ArxivError
from readlist.models import ArxivId
from readlist.resolve._atom import AtomEntry, AtomFeed, parse_feed
from readlist.testing.fakeapis import BILLION_LAUGHS, XXE

URL = "https://export.arxiv.org/api/query?id_list=x"


@pytest.fixture
def fixtures(data: Path) -> Path:
    return data / "fixtures" / "arxiv"


def load(fixtures: Path, name: str) -> AtomFeed:
    return parse_feed((fixtures / name).read_bytes(), URL)


def test_single_paper_every_field(fixtures: Path) -> None:
    feed = load(fixtures, "id_1605.08386.xml")
    assert (feed.total_results, feed.start_index, feed.items_per_page) == (1, 0, 100)
    (entry,) = feed.entries
    assert entry.arxiv_id == ArxivId("1605.08386", 1)
    assert entry.title == "Heat-bath random walks with Markov bases"
    assert entry.summary.startswith("Graphs on lattice points are studied whose edges come")
    assert entry.summary.endswith("is an expander in fixed dimension.")
    assert entry.authors == ("Caprice Stanley", "Tobias Windisch")
    assert entry.published == "2016-05-26T17:59:46Z"
    assert entry.updated == "2016-05-26T17:59:46Z"
    assert entry.primary_category == "math.CO"
    assert entry.categories == ("math.CO", "math.ST")
    assert entry.comment == "20 pages, 3 figures"
    assert entry.doi is None
    assert entry.journal_ref is None
    assert (entry.year, entry.month) == (2016, 5)


def test_title_zero_and_versioned_id(fixtures: Path) -> None:
    (entry,) = load(fixtures, "id_2104.12255v1_title_is_0.xml").entries
    assert entry.title == "0"
    assert entry.arxiv_id == ArxivId("2104.12255", 1)
    assert str(entry.arxiv_id) == "2104.12255v1"
    assert entry.authors == ("Quan Thoi Minh Nguyen",)
    assert entry.primary_category == "cs.CR"
    assert entry.categories == ("cs.CR",)
    assert entry.comment is None
    assert 'we develop "splitting zero" attacks' in entry.summary


def test_old_style_id_with_affiliations_and_journal_ref(fixtures: Path) -> None:
    (entry,) = load(fixtures, "id_astro-ph_0601001_oldstyle.xml").entries
    assert entry.arxiv_id == ArxivId("astro-ph/0601001", 1)
    assert entry.arxiv_id.is_old_style
    assert entry.title == (
        "Frequency of Hot Jupiters and Very Hot Jupiters from the OGLE-III Transit Surveys "
        "Toward the Galactic Bulge and Carina"
    )
    # Affiliations are children of <author>, not part of the name.
    assert entry.authors == ("Andrew Gould", "Susan Dorsher", "B. Scott Gaudi", "Andrzej Udalski")
    assert entry.journal_ref == "ActaAstron.56:1-50,2006"
    assert entry.primary_category == "astro-ph"
    assert entry.categories == ("astro-ph",)
    assert entry.comment is not None and entry.comment.startswith("62 pages including 16 figures")
    # The leading two spaces of older abstracts are gone; entities are decoded.
    assert entry.summary.startswith("We derive the frequencies of hot Jupiters (HJs)")
    assert "following Gould & Morgan (2003)" in entry.summary
    assert "V_max<17.5" in entry.summary
    assert (entry.year, entry.month) == (2006, 1)


def test_old_style_versioned_two_categories(fixtures: Path) -> None:
    (entry,) = load(fixtures, "id_quant-ph_0201082v1_oldstyle_versioned.xml").entries
    assert entry.arxiv_id == ArxivId("quant-ph/0201082", 1)
    assert entry.title == (
        "Quantum Computers and Quantum Computer Languages: Quantum Assembly Language and "
        "Quantum C Language"
    )
    assert entry.authors == ("Stephen Blaha",)
    assert entry.primary_category == "quant-ph"
    assert entry.categories == ("quant-ph", "cs.PL")
    assert entry.comment == "32 pages"
    assert entry.summary.startswith("We show a representation of Quantum Computers")


def test_batch_drops_unknown_id_and_keeps_author_order(fixtures: Path) -> None:
    feed = load(fixtures, "id_batch_0808.05394_1707.08567.xml")
    assert feed.total_results == 1
    (entry,) = feed.entries
    assert entry.arxiv_id == ArxivId("1707.08567", 1)
    assert len(entry.authors) == 34
    assert entry.authors[:3] == ("Kees A. Schouhamer Immink", "Stan Baggen", "Ferdaous Chaabane")
    assert entry.authors[-2:] == ("Dirk Wübben", "Hirosuke Yamamoto")
    assert entry.primary_category == "cs.IT"


def test_nonexistent_id_gives_an_empty_feed(fixtures: Path) -> None:
    feed = load(fixtures, "id_0000.0000_nonexistent_empty.xml")
    assert feed == AtomFeed(total_results=0, start_index=0, items_per_page=100, entries=())


def test_search_feed_with_dois_and_journal_refs(fixtures: Path) -> None:
    feed = load(fixtures, "search_all_testing_start0_max10.xml")
    assert (feed.total_results, feed.start_index, feed.items_per_page) == (214881, 0, 10)
    assert [str(e.arxiv_id) for e in feed.entries] == [
        "2202.12139v1",
        "2405.13786v1",
        "2005.14124v2",
        "2204.08348v3",
        "2302.03287v3",
        "1202.4527v1",
        "2503.05378v2",
        "1205.1866v1",
        "2502.07719v2",
        "1812.11470v1",
    ]
    by_id = {e.arxiv_id.id: e for e in feed.entries}
    first = by_id["2202.12139"]
    assert first.doi == "10.1109/ICSTW55395.2022.00035"
    assert first.journal_ref == (
        "Artificial Intelligence in Software Testing @ 2022 IEEE International Conference on "
        "Software Testing, Verification and Validation Workshops (ICSTW)"
    )
    assert first.authors == ("Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker")
    assert first.categories == ("cs.SE", "cs.LG")
    assert by_id["2405.13786"].authors[:3] == (
        "Aurora Ramírez",
        "Mario Berrios",
        "José Raúl Romero",
    )
    # A later version: published is v1's date, updated this version's.
    fuzz = by_id["2005.14124"]
    assert fuzz.arxiv_id.version == 2
    assert (fuzz.published, fuzz.updated) == ("2020-05-28T16:19:50Z", "2020-07-16T08:15:48Z")
    assert (fuzz.year, fuzz.month) == (2020, 5)
    assert fuzz.doi == "10.1145/3395363.3397376"
    assert fuzz.categories == ("cs.SE", "cs.CR", "cs.LG")
    assert by_id["2302.03287"].title == "ChatGPT and Software Testing Education: Promises & Perils"
    assert by_id["1202.4527"].doi is None
    assert by_id["1202.4527"].journal_ref == (
        "International Journal of Software Engineering & Applications (IJSEA), Vol.3, No.1, "
        "January 2012"
    )
    assert by_id["1205.1866"].doi == "10.5121/vlsic.2012.3205"
    assert by_id["1205.1866"].journal_ref is None
    assert by_id["1205.1866"].primary_category == "cs.AR"
    assert by_id["2503.05378"].doi is None
    assert sum(e.doi is not None for e in feed.entries) == 6


def test_classic_format(fixtures: Path) -> None:
    feed = load(fixtures, "classic_format_user_manual_example.xml")
    assert (feed.total_results, feed.start_index, feed.items_per_page) == (1000, 0, 1)
    (entry,) = feed.entries
    # The classic id carries no version.
    assert entry.arxiv_id == ArxivId("hep-ex/0307015", None)
    # The title wraps across lines in the XML.
    assert entry.title == (
        "Multi-Electron Production at High Transverse Momenta in ep Collisions at HERA"
    )
    assert entry.summary.startswith("Multi-electron production is studied at high electron")
    assert "\n" not in entry.summary and "  " not in entry.summary
    assert entry.summary.endswith("of 0.30 \\pm 0.04 and 0.23 \\pm 0.04, respectively.")
    assert entry.authors == ("H1 Collaboration",)
    assert entry.published == "2003-07-07T13:46:39-04:00"
    assert entry.updated == "2003-07-07T13:46:39-04:00"
    assert (entry.year, entry.month) == (2003, 7)
    assert entry.comment == "23 pages, 8 figures and 4 tables"
    assert entry.journal_ref == "Eur.Phys.J. C31 (2003) 17-29"
    assert entry.primary_category == "hep-ex"
    assert entry.categories == ("hep-ex",)
    assert entry.doi is None


def test_error_feed_raises_with_arxiv_message(fixtures: Path) -> None:
    with pytest.raises(ArxivError) as info:
        load(fixtures, "id_abc_malformed_http400.xml")
    assert info.value.message == "incorrect id format for abc"
    assert info.value.url == URL
    assert info.value.status is None


def test_error_entry_recognized_by_title_when_id_is_not_a_paper() -> None:
    body = feed_xml(
        "<entry><id>https://arxiv.org/api/oops</id><title>Error</title>"
        "<summary>max_results must be non-negative</summary></entry>"
    )
    with pytest.raises(ArxivError, match="max_results must be non-negative"):
        parse_feed(body, URL)


def test_a_paper_titled_error_is_not_an_error() -> None:
    body = feed_xml(
        "<entry><id>http://arxiv.org/abs/2401.01234v2</id><title>Error</title>"
        "<summary>On errors.</summary></entry>"
    )
    (entry,) = parse_feed(body).entries
    assert entry.title == "Error"
    assert entry.arxiv_id == ArxivId("2401.01234", 2)


def test_elements_found_by_name_in_any_order_and_prefix() -> None:
    body = (
        b'<?xml version="1.0"?>'
        b'<a:feed xmlns:a="http://www.w3.org/2005/Atom" xmlns:x="http://arxiv.org/schemas/atom"'
        b' xmlns:o="http://a9.com/-/spec/opensearch/1.1/">'
        b"<a:entry><x:doi>10.1000/xyz</x:doi><a:author><a:name>B</a:name></a:author>"
        b"<a:published>2024-12-31T23:00:00Z</a:published>"
        b'<x:primary_category term="cs.LG"/><a:author><a:name>  A  \n  Z </a:name></a:author>'
        b"<a:title>\n  T  \n</a:title><a:id>http://arxiv.org/abs/2412.00001v3</a:id></a:entry>"
        b"<o:totalResults>7</o:totalResults></a:feed>"
    )
    feed = parse_feed(body)
    assert feed.total_results == 7
    assert feed.start_index is None
    (entry,) = feed.entries
    assert entry.arxiv_id == ArxivId("2412.00001", 3)
    assert entry.authors == ("B", "A Z")
    assert entry.title == "T"
    assert entry.doi == "10.1000/xyz"
    assert entry.primary_category == "cs.LG"
    assert entry.categories == ()
    assert (entry.year, entry.month) == (2024, 12)
    assert entry.updated == ""


def test_mirror_host_in_entry_id() -> None:
    body = feed_xml("<entry><id>http://xxx.lanl.gov/abs/math.GT/0309136v1</id></entry>")
    (entry,) = parse_feed(body).entries
    assert entry.arxiv_id == ArxivId("math/0309136", 1)


def test_entry_without_arxiv_id_is_refused() -> None:
    body = feed_xml("<entry><id>urn:uuid:1234</id><title>Something</title></entry>")
    with pytest.raises(ArxivError, match="no arXiv identifier"):
        parse_feed(body, URL)


def test_to_dict_round_trips_through_json(fixtures: Path) -> None:
    entries = [
        entry
        for name in sorted(p.name for p in fixtures.glob("*.xml"))
        if "abc_malformed" not in name
        for entry in load(fixtures, name).entries
    ]
    assert len(entries) == 16
    for entry in entries:
        data = json.loads(json.dumps(entry.to_dict()))
        assert AtomEntry.from_dict(data) == entry


def test_to_dict_shape(fixtures: Path) -> None:
    (entry,) = load(fixtures, "id_2104.12255v1_title_is_0.xml").entries
    data = entry.to_dict()
    assert data["arxiv_id"] == "2104.12255"
    assert data["version"] == 1
    assert data["title"] == "0"
    assert data["authors"] == ["Quan Thoi Minh Nguyen"]
    assert data["categories"] == ["cs.CR"]
    assert data["doi"] is None


@pytest.mark.parametrize(
    "change",
    [
        {"arxiv_id": 2104.12255},
        {"version": "1"},
        {"version": True},
        {"authors": "Quan Thoi Minh Nguyen"},
        {"categories": [1]},
        {"doi": 5},
    ],
)
def test_from_dict_rejects_bad_records(fixtures: Path, change: dict[str, object]) -> None:
    (entry,) = load(fixtures, "id_2104.12255v1_title_is_0.xml").entries
    with pytest.raises(ValueError):
        AtomEntry.from_dict({**entry.to_dict(), **change})


def test_from_dict_rejects_non_objects() -> None:
    with pytest.raises(ValueError, match="must be an object"):
        AtomEntry.from_dict(["2104.12255"])  # type: ignore[arg-type]


def test_from_dict_rejects_missing_field(fixtures: Path) -> None:
    (entry,) = load(fixtures, "id_2104.12255v1_title_is_0.xml").entries
    data = entry.to_dict()
    del data["title"]
    with pytest.raises(ValueError, match="title"):
        AtomEntry.from_dict(data)


# --- hostile XML: any DOCTYPE is refused before anything is expanded or fetched ---------

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE feed SYSTEM "http://127.0.0.1:9/evil.dtd">
<feed xmlns="http://www.w3.org/2005/Atom"></feed>
"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x.dtd"> %remote;]>
<feed xmlns="http://www.w3.org/2005/Atom"></feed>
"""

PLAIN_DOCTYPE = b'<?xml version="1.0"?><!DOCTYPE feed><feed xmlns="http://www.w3.org/2005/Atom"/>'


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        XXE,
        EXTERNAL_DTD,
        PARAMETER_ENTITY,
        PLAIN_DOCTYPE,
        XXE.decode().replace('"1.0"?>', '"1.0" encoding="utf-16"?>').encode("utf-16"),
    ],
    ids=["billion-laughs", "xxe", "external-dtd", "parameter-entity", "doctype", "utf16-xxe"],
)
def test_hostile_xml_is_refused_quickly(body: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(ArxivError) as info:
        parse_feed(body, URL)
    assert time.perf_counter() - started < 1.0
    assert "DOCTYPE" in info.value.message
    assert "root:" not in str(info.value)
    assert info.value.url == URL


# --- broken or foreign bodies -------------------------------------------------------------


def test_truncated_feed_is_malformed(fixtures: Path) -> None:
    data = (fixtures / "id_1605.08386.xml").read_bytes()
    with pytest.raises(ArxivError, match="malformed XML"):
        parse_feed(data[: len(data) // 2], URL)


@pytest.mark.parametrize("body", [b"", b"   \r\n  "])
def test_empty_body(body: bytes) -> None:
    with pytest.raises(ArxivError, match="empty response body"):
        parse_feed(body, URL)


def test_html_error_page_names_its_title() -> None:
    body = (
        b"<!DOCTYPE html>\n<html><head><title>503 Service Unavailable</title></head>"
        b"<body><h1>Service Unavailable</h1><p>Back soon<br></p></body></html>"
    )
    with pytest.raises(ArxivError) as info:
        parse_feed(body, URL)
    assert info.value.message == (
        "received an HTML page (503 Service Unavailable) instead of an Atom feed"
    )


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>Rate exceeded<br></body></html>",
        b"\n<HTML><HEAD><TITLE>Bad Gateway</TITLE></HEAD></HTML>",
        b'<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>',
    ],
)
def test_html_without_doctype(body: bytes) -> None:
    with pytest.raises(ArxivError, match="received an HTML page"):
        parse_feed(body, URL)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"Rate exceeded.", "malformed XML"),
        (b'{"error": "nope"}', "malformed XML"),
        (b"<feed><entry></feed>", "malformed XML"),
        (b"<rss><channel/></rss>", "expected an Atom <feed>, got <rss> in no namespace"),
        (b"<feed/>", "expected an Atom <feed>, got <feed> in no namespace"),
        (
            b'<entry xmlns="http://www.w3.org/2005/Atom"/>',
            "expected an Atom <feed>, got <entry> in namespace http://www.w3.org/2005/Atom",
        ),
    ],
)
def test_not_an_atom_feed(body: bytes, reason: str) -> None:
    with pytest.raises(ArxivError) as info:
        parse_feed(body, URL)
    assert info.value.message.startswith(reason)


def feed_xml(inner: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">'
        f"{inner}</feed>"
    ).encode()
