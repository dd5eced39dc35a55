"""The loopback fakes speak the real protocols: checked with plain httpx against the fixtures."""

from __future__ import annotations

import json
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from readlist.ids import parse_arxiv_id
from readlist.normalize import normalize_title, normalize_whitespace
from readlist.testing.fakeapis import (
    ARXIV_NS,
    ATOM_NS,
    BILLION_LAUGHS,
    HTML_ERROR_PAGE,
    MALFORMED_XML,
    OPENSEARCH_NS,
    XXE,
    FakeArxiv,
    FakeHf,
    FakePaper,
    Fault,
    SampleWorld,
    parse_query,
    sample_papers,
)

NS = {"atom": ATOM_NS, "opensearch": OPENSEARCH_NS, "arxiv": ARXIV_NS}


def atom(tag: str) -> str:
    return f"{{{ATOM_NS}}}{tag}"


def paper(arxiv_id: str, title: str, abstract: str = "", **kw: object) -> FakePaper:
    fields: dict[str, object] = {
        "authors": ["Zoë Müller", "Wei Zhang"],
        "published": "2024-04-06T03:40:36Z",
        "updated": "2024-04-06T03:40:36Z",
        "categories": ["cs.CV", "cs.CL"],
    }
    fields.update(kw)
    return FakePaper(arxiv_id, title, abstract or f"We study {title.lower()}.", **fields)  # type: ignore[arg-type]


PAPERS = [
    paper("2404.04487", "KazQAD: Kazakh Open-Domain Question Answering Dataset"),
    paper("2403.19399", "KazParC: Kazakh Parallel Corpus for Machine Translation"),
    paper("2401.00001", "Quantum Criticality in Spin Chains", "Spin chains at criticality."),
    paper(
        "2401.00002",
        "Criticality, Quantum and Classical",
        "A survey of quantum phase transitions & their classical limits.",
        version=3,
        published="2024-01-01T10:00:00Z",
        updated="2024-03-01T10:00:00Z",
        doi="10.1000/xyz123",
        journal_ref="Phys. Rev. B 1 (2024)",
        comment="12 pages",
    ),
    paper("hep-th/9901001", "Brane Dynamics in Four Dimensions", primary_category="hep-th"),
    paper("2401.00003", "Only On Hugging Face Papers", in_arxiv=False),
    paper("2401.00004", "Only On arXiv", in_hf=False),
    paper(
        "2401.00005",
        "Wrapped Summary Paper: A Rather Long Title That the Server Has to Break",
        "A first sentence that is long enough to be wrapped by the server at eighty "
        "columns, and a second sentence that goes on and on about nothing at all.",
        hf_abstract="An older abstract, shown on Hugging Face only.",
    ),
]


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5, trust_env=False) as c:
        yield c


@pytest.fixture
def arxiv() -> Iterator[FakeArxiv]:
    with FakeArxiv(PAPERS, min_interval=0.0) as server:
        yield server


@pytest.fixture
def hf() -> Iterator[FakeHf]:
    with FakeHf(PAPERS) as server:
        yield server


def feed(response: httpx.Response) -> ET.Element:
    assert response.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    assert root.tag == atom("feed")
    return root


def entry_ids(root: ET.Element) -> list[str]:
    return [e.findtext("atom:id", namespaces=NS) or "" for e in root.findall("atom:entry", NS)]


def total(root: ET.Element) -> int:
    return int(root.findtext("opensearch:totalResults", namespaces=NS) or -1)


# arXiv: bodies like the recorded ones


def _papers_from_fixture(path: Path) -> list[FakePaper]:
    """Rebuild the papers of a recorded feed, so the fake can be asked to write it again."""
    papers = []
    for entry in ET.parse(path).getroot().findall("atom:entry", NS):
        vid = (entry.findtext("atom:id", namespaces=NS) or "").split("/abs/")[1]
        base, version = re.fullmatch(r"(.+)v(\d+)", vid).groups()  # type: ignore[union-attr]
        primary = entry.find("arxiv:primary_category", NS)
        assert primary is not None
        papers.append(
            FakePaper(
                arxiv_id=base,
                title=entry.findtext("atom:title", namespaces=NS) or "",
                abstract=entry.findtext("atom:summary", namespaces=NS) or "",
                authors=[
                    a.findtext("atom:name", namespaces=NS) or ""
                    for a in entry.findall("atom:author", NS)
                ],
                published=entry.findtext("atom:published", namespaces=NS) or "",
                updated=entry.findtext("atom:updated", namespaces=NS) or "",
                version=int(version),
                primary_category=primary.get("term", ""),
                categories=[c.get("term", "") for c in entry.findall("atom:category", NS)],
                doi=entry.findtext("arxiv:doi", namespaces=NS),
                journal_ref=entry.findtext("arxiv:journal_ref", namespaces=NS),
                comment=entry.findtext("arxiv:comment", namespaces=NS),
            )
        )
    return papers


def _without_feed_stamp(text: str) -> str:
    """Blank the feed's own id and timestamps, which differ on every request."""
    text = re.sub(r"<id>https://arxiv\.org/api/[^<]*</id>", "<id>FEED</id>", text)
    return re.sub(r"<updated>2026-[^<]*</updated>", "<updated>NOW</updated>", text)


@pytest.mark.parametrize(
    ("fixture", "query"),
    [
        ("id_1605.08386.xml", "id_list=1605.08386&start=0&max_results=100"),
        (
            "id_quant-ph_0201082v1_oldstyle_versioned.xml",
            "id_list=quant-ph%2F0201082v1&start=0&max_results=100",
        ),
        ("id_2104.12255v1_title_is_0.xml", "id_list=2104.12255v1&start=0&max_results=100"),
        ("id_0000.0000_nonexistent_empty.xml", "id_list=0000.0000&start=0&max_results=100"),
    ],
)
def test_id_list_feed_is_byte_for_byte_the_recorded_one(
    data: Path, client: httpx.Client, fixture: str, query: str
) -> None:
    path = data / "fixtures" / "arxiv" / fixture
    with FakeArxiv(_papers_from_fixture(path), min_interval=0, wrap=False) as server:
        response = client.get(f"{server.url}?{query}")
    assert response.status_code == 200
    assert _without_feed_stamp(response.text) == _without_feed_stamp(path.read_text("utf-8"))


def test_search_fixture_entries_are_rewritten_byte_for_byte(
    data: Path, client: httpx.Client
) -> None:
    # Ten entries with DOIs, journal refs, comments, v2/v3 and paragraph breaks.
    path = data / "fixtures" / "arxiv" / "search_all_testing_start0_max10.xml"
    recorded = path.read_text("utf-8")
    papers = _papers_from_fixture(path)
    with FakeArxiv(papers, min_interval=0, wrap=False) as server:
        for item in papers:
            response = client.get(server.url, params={"id_list": item.arxiv_id})
            served = re.search(r"  <entry>.*</entry>\n", response.text, re.S)
            assert served is not None
            assert served.group(0) in recorded, item.arxiv_id


def test_malformed_id_gets_the_recorded_400_error_feed(
    data: Path, arxiv: FakeArxiv, client: httpx.Client
) -> None:
    response = client.get(arxiv.url, params={"id_list": "abc", "start": 0, "max_results": 100})
    assert response.status_code == 400
    recorded = (data / "fixtures" / "arxiv" / "id_abc_malformed_http400.xml").read_text("utf-8")
    assert _without_feed_stamp(response.text) == _without_feed_stamp(recorded)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"id_list": "2401.00001,1234.1234"}, "incorrect id format for 1234.1234"),
        ({"id_list": "2401.00001v0"}, "incorrect id format for 2401.00001v0"),
        ({"id_list": "2401.00001", "start": "x"}, "start must be an integer"),
        ({"id_list": "2401.00001", "max_results": "-1"}, "max_results must be non-negative"),
        ({"search_query": "ti:(unbalanced"}, "parentheses"),
        ({"search_query": "ti:x", "sortBy": "citations"}, "sortBy must be in"),
    ],
)
def test_bad_requests_get_400_error_feeds(
    arxiv: FakeArxiv, client: httpx.Client, params: dict[str, str], message: str
) -> None:
    response = client.get(arxiv.url, params=params)
    assert response.status_code == 400
    root = feed(response)
    (error,) = root.findall("atom:entry", NS)
    assert (error.findtext("atom:id", namespaces=NS) or "").startswith(
        "https://arxiv.org/api/errors#"
    )
    assert error.findtext("atom:title", namespaces=NS) == "Error"
    assert message in (error.findtext("atom:summary", namespaces=NS) or "")


def test_entry_structure_and_namespaces(arxiv: FakeArxiv, client: httpx.Client) -> None:
    root = feed(client.get(arxiv.url, params={"id_list": "2401.00002", "max_results": 1}))
    assert (root.findtext("atom:title", namespaces=NS) or "").startswith("arXiv Query: ")
    link = root.find("atom:link", NS)
    assert link is not None and "rel" not in link.attrib
    (entry,) = root.findall("atom:entry", NS)
    children = [child.tag for child in entry]
    expected = (
        ["id", "title", "updated", "link", "link", "summary", "category", "category"]
        + ["published", "arxiv:comment", "arxiv:primary_category", "arxiv:journal_ref"]
        + ["author", "author", "arxiv:doi", "link"]
    )
    assert children == [
        f"{{{ARXIV_NS}}}{t[6:]}" if t.startswith("arxiv:") else atom(t) for t in expected
    ]
    assert entry.findtext("atom:id", namespaces=NS) == "http://arxiv.org/abs/2401.00002v3"
    assert entry.findtext("atom:published", namespaces=NS) == "2024-01-01T10:00:00Z"
    assert entry.findtext("atom:updated", namespaces=NS) == "2024-03-01T10:00:00Z"
    assert normalize_whitespace(entry.findtext("atom:summary", namespaces=NS) or "") == (
        "A survey of quantum phase transitions & their classical limits."
    )
    names = [a.findtext("atom:name", namespaces=NS) for a in entry.findall("atom:author", NS)]
    assert names == ["Zoë Müller", "Wei Zhang"]
    links = {
        (lk.get("rel"), lk.get("title")): lk.get("href") for lk in entry.findall("atom:link", NS)
    }
    assert links[("alternate", None)] == "https://arxiv.org/abs/2401.00002v3"
    assert links[("related", "pdf")] == "https://arxiv.org/pdf/2401.00002v3"
    assert links[("related", "doi")] == "https://doi.org/10.1000/xyz123"


def test_titles_and_summaries_are_hard_wrapped(arxiv: FakeArxiv, client: httpx.Client) -> None:
    root = feed(client.get(arxiv.url, params={"id_list": "2404.04487,2401.00005"}))
    texts = {
        e.findtext("atom:id", namespaces=NS): (
            e.findtext("atom:title", namespaces=NS) or "",
            e.findtext("atom:summary", namespaces=NS) or "",
        )
        for e in root.findall("atom:entry", NS)
    }
    title, summary = texts["http://arxiv.org/abs/2401.00005v1"]
    assert "\n  " in title
    assert normalize_whitespace(title) == PAPERS[-1].title
    short_title, _ = texts["http://arxiv.org/abs/2404.04487v1"]
    assert short_title == PAPERS[0].title
    assert "\n" in summary and max(len(line) for line in summary.splitlines()) <= 80
    assert normalize_whitespace(summary) == PAPERS[-1].abstract  # arXiv, not HF's old abstract


# arXiv: id_list semantics


def _many(count: int) -> list[FakePaper]:
    return [paper(f"2402.{n:05d}", f"Paper Number {n}") for n in range(1, count + 1)]


def test_max_results_defaults_to_ten_and_truncates(client: httpx.Client) -> None:
    papers = _many(15)
    ids = ",".join(p.arxiv_id for p in papers)
    with FakeArxiv(papers, min_interval=0) as server:
        root = feed(client.get(server.url, params={"id_list": ids}))
        assert len(entry_ids(root)) == 10
        assert total(root) == 15
        assert root.findtext("opensearch:itemsPerPage", namespaces=NS) == "10"
        root = feed(client.get(server.url, params={"id_list": ids, "max_results": 15}))
        assert len(entry_ids(root)) == 15
        first = feed(client.get(server.url, params={"id_list": ids, "max_results": 8}))
        rest = feed(client.get(server.url, params={"id_list": ids, "start": 8, "max_results": 8}))
        assert root.findtext("opensearch:startIndex", namespaces=NS) == "0"
        assert rest.findtext("opensearch:startIndex", namespaces=NS) == "8"
        assert sorted(entry_ids(first) + entry_ids(rest)) == sorted(entry_ids(root))


def test_id_list_order_is_shuffled_but_stable_and_unknown_ids_drop(client: httpx.Client) -> None:
    papers = _many(12)
    asked = [p.arxiv_id for p in papers] + ["0000.0000", "2412.99999", "hep-th/9901002"]
    params: dict[str, str | int] = {"id_list": ",".join(asked), "max_results": len(asked)}
    with FakeArxiv(papers, min_interval=0) as server:
        root = feed(client.get(server.url, params=params))
        again = feed(client.get(server.url, params=params))
    got = [i.split("/abs/")[1] for i in entry_ids(root)]
    assert sorted(got) == sorted(f"{p.arxiv_id}v1" for p in papers)
    assert got != [f"{p.arxiv_id}v1" for p in papers]  # not request order
    assert entry_ids(again) == entry_ids(root)
    assert total(root) == 12


def test_versions_and_old_style_ids(arxiv: FakeArxiv, client: httpx.Client) -> None:
    # hep-th%2F9901001 is how arxiv.py sends old-style IDs; 2401.00002 is at v3.
    url = f"{arxiv.url}?id_list=2401.00002v1,2401.00002v4,hep-th%2F9901001,2401.00001v1&max_results=10"
    root = feed(client.get(url))
    entries = {e.findtext("atom:id", namespaces=NS): e for e in root.findall("atom:entry", NS)}
    assert set(entries) == {
        "http://arxiv.org/abs/2401.00002v1",
        "http://arxiv.org/abs/hep-th/9901001v1",
        "http://arxiv.org/abs/2401.00001v1",
    }
    v1 = entries["http://arxiv.org/abs/2401.00002v1"]
    assert v1.findtext("atom:updated", namespaces=NS) == v1.findtext(
        "atom:published", namespaces=NS
    )
    root = feed(client.get(arxiv.url, params={"id_list": "2401.00002v2,2401.00002"}))
    stamps = {
        e.findtext("atom:id", namespaces=NS): e.findtext("atom:updated", namespaces=NS)
        for e in root.findall("atom:entry", NS)
    }
    assert stamps["http://arxiv.org/abs/2401.00002v3"] == "2024-03-01T10:00:00Z"
    assert "2024-01-01" < (stamps["http://arxiv.org/abs/2401.00002v2"] or "") < "2024-03-01"


def test_papers_not_on_arxiv_are_unknown_there(arxiv: FakeArxiv, client: httpx.Client) -> None:
    root = feed(client.get(arxiv.url, params={"id_list": "2401.00003"}))
    assert entry_ids(root) == [] and total(root) == 0


def test_post_with_a_form_body(arxiv: FakeArxiv, client: httpx.Client) -> None:
    response = client.post(arxiv.url, data={"id_list": "2401.00001,2404.04487", "max_results": "2"})
    assert response.status_code == 200
    assert len(entry_ids(feed(response))) == 2
    request = arxiv.requests[-1]
    assert request.method == "POST" and request.path == "/api/query"
    assert request.params["id_list"] == "2401.00001,2404.04487"


def test_too_long_get_url_is_refused(client: httpx.Client) -> None:
    papers = _many(700)
    ids = ",".join(p.arxiv_id for p in papers)
    with FakeArxiv(papers, min_interval=0) as server:
        assert client.get(server.url, params={"id_list": ids}).status_code == 414
        response = client.post(server.url, data={"id_list": ids, "max_results": "700"})
        assert len(entry_ids(feed(response))) == 700


def test_unknown_path_is_404(arxiv: FakeArxiv, client: httpx.Client) -> None:
    assert client.get(f"{arxiv.base_url}/api/other").status_code == 404


# arXiv: search_query


def search(server: FakeArxiv, client: httpx.Client, query: str, **params: str | int) -> ET.Element:
    response = client.get(server.url, params={"search_query": query, **params})
    assert response.status_code == 200, response.text
    return feed(response)


def ids_of(root: ET.Element) -> set[str]:
    return {i.split("/abs/")[1].rsplit("v", 1)[0] for i in entry_ids(root)}


def test_title_phrase_search(arxiv: FakeArxiv, client: httpx.Client) -> None:
    assert ids_of(search(arxiv, client, 'ti:"quantum criticality"')) == {"2401.00001"}
    # Punctuation and case do not matter; word order and adjacency do.
    assert ids_of(search(arxiv, client, 'ti:"CRITICALITY, quantum"')) == {"2401.00002"}
    assert ids_of(search(arxiv, client, 'ti:"quantum chains"')) == set()
    assert ids_of(search(arxiv, client, "ti:criticality")) == {"2401.00001", "2401.00002"}
    # A title with a colon, quoted as a user would.
    assert ids_of(search(arxiv, client, 'ti:"KazQAD: Kazakh Open-Domain"')) == {"2404.04487"}


def test_boolean_operators_and_parentheses(arxiv: FakeArxiv, client: httpx.Client) -> None:
    either = 'ti:"Quantum Criticality in Spin Chains" OR ti:"KazParC: Kazakh Parallel Corpus"'
    assert ids_of(search(arxiv, client, either)) == {"2401.00001", "2403.19399"}
    assert ids_of(search(arxiv, client, "ti:kazakh AND ti:corpus")) == {"2403.19399"}
    assert ids_of(search(arxiv, client, "ti:kazakh ANDNOT ti:corpus")) == {"2404.04487"}
    grouped = "(ti:kazakh OR ti:criticality) ANDNOT (ti:corpus OR abs:spin)"
    assert ids_of(search(arxiv, client, grouped)) == {"2404.04487", "2401.00002"}
    assert ids_of(search(arxiv, client, "abs:transitions")) == {"2401.00002"}
    assert ids_of(search(arxiv, client, "all:transitions")) == {"2401.00002"}
    assert ids_of(search(arxiv, client, 'au:"Zoë Müller" AND ti:brane')) == {"hep-th/9901001"}


def test_search_feed_title_echoes_the_canonical_query(
    arxiv: FakeArxiv, client: httpx.Client
) -> None:
    root = search(arxiv, client, "testing")
    assert root.findtext("atom:title", namespaces=NS) == (
        "arXiv Query: search_query=all:testing&id_list=&start=0&max_results=10"
    )
    assert str(parse_query('ti:"a b"  OR (ti:c  ANDNOT abs:d)').render()) == (
        'ti:"a b" OR (ti:c ANDNOT abs:d)'
    )


def test_search_with_id_list_is_a_filter(arxiv: FakeArxiv, client: httpx.Client) -> None:
    root = search(arxiv, client, "ti:criticality", id_list="2401.00001,2404.04487")
    assert ids_of(root) == {"2401.00001"}
    assert total(root) == 1


def test_search_sorting_and_paging(client: httpx.Client) -> None:
    papers = [
        paper(f"2403.{n:05d}", f"Common Words {n}", published=f"2024-03-{n:02d}T00:00:00Z")
        for n in range(1, 14)
    ]
    with FakeArxiv(papers, min_interval=0) as server:
        root = search(server, client, 'ti:"common words"')
        assert total(root) == 13 and len(entry_ids(root)) == 10
        root = search(
            server,
            client,
            'ti:"common words"',
            sortBy="submittedDate",
            sortOrder="ascending",
            max_results=3,
        )
        assert [i.split("/abs/")[1] for i in entry_ids(root)] == [
            "2403.00001v1",
            "2403.00002v1",
            "2403.00003v1",
        ]


# arXiv: the 3-second rule


def test_requests_closer_than_min_interval_get_429(client: httpx.Client) -> None:
    with FakeArxiv(PAPERS, min_interval=0.5) as server:
        assert client.get(server.url, params={"id_list": "2401.00001"}).status_code == 200
        response = client.get(server.url, params={"id_list": "2401.00001"})
        assert response.status_code == 429
        assert response.text == "Rate exceeded"
        assert "Retry-After" not in response.headers
        assert server.violations == 1
        time.sleep(0.5)  # counted from the end of the refused request
        assert client.get(server.url, params={"id_list": "2401.00001"}).status_code == 200
        assert server.violations == 1
        assert [r.params["id_list"] for r in server.requests] == ["2401.00001"] * 3
        assert server.requests[1].time - server.requests[0].time < 0.5


def test_overlapping_requests_get_429(client: httpx.Client) -> None:
    with FakeArxiv(PAPERS, min_interval=0.05) as server:
        server.inject(Fault.timeout(0.4))
        statuses: list[int] = []

        def slow() -> None:
            with httpx.Client(timeout=5, trust_env=False) as own:
                statuses.append(own.get(server.url, params={"id_list": "2401.00001"}).status_code)

        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.15)  # the first request is still being answered
        assert client.get(server.url, params={"id_list": "2404.04487"}).status_code == 429
        thread.join()
        assert statuses == [200]
        assert server.violations == 1
        assert server.max_in_flight == 2


def test_a_polite_client_never_trips_the_rule(client: httpx.Client) -> None:
    with FakeArxiv(PAPERS, min_interval=0.05) as server:
        for _ in range(5):
            assert client.get(server.url, params={"id_list": "2401.00001"}).status_code == 200
            time.sleep(0.05)
        assert server.violations == 0


# Hugging Face


@pytest.fixture
def kazakh(data: Path) -> list[dict[str, object]]:
    return json.loads((data / "fixtures" / "hf" / "papers_search_q_kazakh.json").read_text("utf-8"))


def test_hf_search_has_the_recorded_shape(
    hf: FakeHf, client: httpx.Client, kazakh: list[dict[str, object]]
) -> None:
    response = client.get(f"{hf.url}/papers/search", params={"q": "kazakh"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    results = response.json()
    assert isinstance(results, list) and len(results) >= 2
    recorded_paper_keys = [set(item["paper"]) for item in kazakh]  # type: ignore[call-overload]
    for item in results:
        assert set(item) == set(kazakh[0])
        assert set(item["paper"]) in recorded_paper_keys
        assert {"_id", "name", "hidden"} <= set(item["paper"]["authors"][0])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", item["paper"]["publishedAt"])
        assert [run["type"] for run in item["highlightedTitle"]].count("highlight") >= 1
        assert "".join(run["text"] for run in item["highlightedTitle"]) == item["title"]
    top = results[0]["paper"]
    assert top["id"] in {"2404.04487", "2403.19399"}
    assert top["authors"][0]["name"] == "Zoë Müller"


def test_hf_search_ranks_the_title_first_and_returns_near_misses(
    hf: FakeHf, client: httpx.Client
) -> None:
    q = "Quantum Criticality in Spin Chains"
    results = client.get(f"{hf.url}/papers/search", params={"q": q}).json()
    assert results[0]["paper"]["id"] == "2401.00001"
    assert len(results) > 1  # near misses come along
    ids = {r["paper"]["id"] for r in results}
    assert "2401.00004" not in ids  # not on HF
    limited = client.get(f"{hf.url}/papers/search", params={"q": q, "limit": 1}).json()
    assert len(limited) == 1


def test_hf_default_limit_is_twenty(client: httpx.Client) -> None:
    with FakeHf(_many(30)) as server:
        results = client.get(f"{server.url}/papers/search", params={"q": "paper number 7"}).json()
    assert len(results) == 20
    assert results[0]["paper"]["id"] == "2402.00007"


def test_hf_summary_keeps_line_breaks_and_old_abstracts(hf: FakeHf, client: httpx.Client) -> None:
    results = client.get(f"{hf.url}/papers/search", params={"q": PAPERS[-1].title}).json()
    assert results[0]["paper"]["summary"] == "An older abstract, shown on Hugging Face only."
    long = client.get(f"{hf.url}/papers/2404.04487").json()
    assert long["summary"] == PAPERS[0].abstract  # short: no break needed
    body = client.get(f"{hf.url}/papers/search", params={"q": "KazQAD"}).json()
    assert body[0]["publishedAt"] != body[0]["paper"]["publishedAt"]


def test_hf_paper_by_id_and_404(hf: FakeHf, client: httpx.Client) -> None:
    response = client.get(f"{hf.url}/papers/2404.04487")
    assert response.status_code == 200
    data = response.json()
    assert "paper" not in data
    assert data["id"] == "2404.04487"
    assert data["title"] == PAPERS[0].title
    assert {"id", "authors", "publishedAt", "title", "summary", "upvotes", "discussionId"} <= set(
        data
    )
    for missing in ("2401.00004", "2404.04487v1", "9999.99999"):
        response = client.get(f"{hf.url}/papers/{missing}")
        assert response.status_code == 404
        assert response.json() == {"error": "Paper not found"}


def test_hf_quota_headers_and_429(client: httpx.Client) -> None:
    with FakeHf(PAPERS, quota=3, window=300) as server:
        seen = []
        for _ in range(4):
            response = client.get(f"{server.url}/papers/2404.04487")
            seen.append((response.status_code, response.headers["RateLimit"]))
            assert response.headers["RateLimit-Policy"] == '"fixed window";"api";q=3;w=300'
            assert "Retry-After" not in response.headers
        assert [s for s, _ in seen] == [200, 200, 200, 429]
        assert [h.split(";")[1] for _, h in seen] == ["r=2", "r=1", "r=0", "r=0"]
        for _, header in seen:
            match = re.fullmatch(r'"api";r=\d+;t=(\d+)', header)
            assert match is not None and 299 <= int(match.group(1)) <= 300
        assert server.refused == 1
        # Faults and searches count against the quota too, and carry the headers.
        server.inject(Fault.status(503, "busy"))
        response = client.get(f"{server.url}/papers/2404.04487")
        assert response.status_code == 429 and server.pending_faults == 1


def test_hf_quota_window_resets(client: httpx.Client) -> None:
    with FakeHf(PAPERS, quota=1, window=0.5) as server:
        assert client.get(f"{server.url}/papers/2404.04487").status_code == 200
        response = client.get(f"{server.url}/papers/2404.04487")
        assert response.status_code == 429
        assert response.headers["RateLimit-Policy"] == '"fixed window";"api";q=1;w=0.5'
        time.sleep(0.55)
        response = client.get(f"{server.url}/papers/2404.04487")
        assert response.status_code == 200
        assert response.headers["RateLimit"].startswith('"api";r=0;')


def test_hf_without_quota_sends_no_rate_headers(hf: FakeHf, client: httpx.Client) -> None:
    response = client.get(f"{hf.url}/papers/2404.04487")
    assert "RateLimit" not in response.headers


def test_hf_counts_concurrent_requests(hf: FakeHf) -> None:
    hf.inject(*[Fault.timeout(0.2) for _ in range(4)])

    def fetch() -> None:
        with httpx.Client(timeout=5, trust_env=False) as own:
            assert own.get(f"{hf.url}/papers/2404.04487").status_code == 200

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert hf.max_in_flight == 4
    # the server thread lets go of a request just after the client has its answer
    deadline = time.monotonic() + 2
    while hf.in_flight and time.monotonic() < deadline:
        time.sleep(0.01)
    assert hf.in_flight == 0


# Faults


def test_fault_status_with_headers(arxiv: FakeArxiv, client: httpx.Client) -> None:
    arxiv.inject(Fault.status(503, "busy", {"Retry-After": "2"}))
    response = client.get(arxiv.url, params={"id_list": "2401.00001"})
    assert (response.status_code, response.text, response.headers["Retry-After"]) == (
        503,
        "busy",
        "2",
    )
    assert client.get(arxiv.url, params={"id_list": "2401.00001"}).status_code == 200
    assert arxiv.pending_faults == 0


def test_fault_timeout_makes_the_client_time_out_and_ends_with_it(arxiv: FakeArxiv) -> None:
    arxiv.inject(Fault.timeout(5))
    started = time.monotonic()
    with httpx.Client(timeout=0.2, trust_env=False) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.get(arxiv.url, params={"id_list": "2401.00001"})
    deadline = time.monotonic() + 2
    while arxiv.in_flight and time.monotonic() < deadline:
        time.sleep(0.01)
    assert arxiv.in_flight == 0  # the server noticed the hang-up, not after 5 s
    assert time.monotonic() - started < 2


def test_fault_timeout_shorter_than_client_timeout_answers(
    arxiv: FakeArxiv, client: httpx.Client
) -> None:
    arxiv.inject(Fault.timeout(0.1))
    started = time.monotonic()
    response = client.get(arxiv.url, params={"id_list": "2401.00001"})
    assert response.status_code == 200 and time.monotonic() - started >= 0.1


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (MALFORMED_XML, "application/atom+xml"),
        (BILLION_LAUGHS, "application/atom+xml"),
        (XXE, "application/atom+xml"),
        (HTML_ERROR_PAGE, "text/html"),
        (b"", "application/atom+xml"),
    ],
    ids=["malformed", "billion-laughs", "xxe", "html", "empty"],
)
def test_fault_body_is_served_verbatim(
    arxiv: FakeArxiv, client: httpx.Client, data: bytes, content_type: str
) -> None:
    arxiv.inject(Fault.body(data, content_type))
    response = client.get(arxiv.url, params={"id_list": "2401.00001"})
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == content_type


def test_hostile_bodies_are_what_they_claim() -> None:
    with pytest.raises(ET.ParseError):
        ET.fromstring(MALFORMED_XML)
    assert b"<!ENTITY lol9" in BILLION_LAUGHS
    assert b'SYSTEM "file:///etc/passwd"' in XXE
    assert HTML_ERROR_PAGE.startswith(b"<!DOCTYPE html>")


def test_fault_drop_closes_without_a_response(hf: FakeHf, client: httpx.Client) -> None:
    hf.inject(Fault.drop())
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(f"{hf.url}/papers/2404.04487")
    assert client.get(f"{hf.url}/papers/2404.04487").status_code == 200
    assert len(hf.requests) == 2


def test_faults_can_target_a_path(hf: FakeHf, client: httpx.Client) -> None:
    hf.inject(Fault.status(500, "oops", path="/api/papers/search"))
    assert client.get(f"{hf.url}/papers/2404.04487").status_code == 200
    assert hf.pending_faults == 1
    assert client.get(f"{hf.url}/papers/search", params={"q": "x"}).status_code == 500
    assert hf.pending_faults == 0


def test_faults_are_used_in_order(hf: FakeHf, client: httpx.Client) -> None:
    hf.inject(Fault.status(502), Fault.status(429, headers={"Retry-After": "1"}))
    codes = [client.get(f"{hf.url}/papers/2404.04487").status_code for _ in range(3)]
    assert codes == [502, 429, 200]


# Lifecycle


def test_stop_is_quick_and_final(client: httpx.Client) -> None:
    server = FakeArxiv(PAPERS, min_interval=0).start()
    url = server.url
    assert client.get(url, params={"id_list": "2401.00001"}).status_code == 200  # keep-alive open
    server.inject(Fault.timeout(30))
    outcome: list[BaseException] = []

    def stalled_request() -> None:
        try:
            httpx.get(url, timeout=10, trust_env=False)
        except httpx.HTTPError as error:
            outcome.append(error)

    stalled = threading.Thread(target=stalled_request)
    stalled.start()
    time.sleep(0.1)
    started = time.monotonic()
    server.stop()
    server.stop()  # twice is fine
    assert time.monotonic() - started < 2
    stalled.join(timeout=5)
    assert len(outcome) == 1  # the stalled request ended with the server, not after 30 s
    with httpx.Client(trust_env=False) as fresh, pytest.raises(httpx.ConnectError):
        fresh.get(url)


def test_two_servers_get_different_ports() -> None:
    with FakeArxiv(PAPERS) as first, FakeHf(PAPERS) as second:
        assert first.port != second.port
        assert first.url.endswith("/api/query") and second.url.endswith("/api")
        assert first.url.startswith("http://127.0.0.1:")


# The sample world


@pytest.fixture(scope="module")
def world() -> SampleWorld:
    listings = Path(__file__).resolve().parent / "data" / "listings"
    return sample_papers(listings)


def test_sample_world_is_deterministic_and_complete(world: SampleWorld) -> None:
    listings = Path(__file__).resolve().parent / "data" / "listings"
    again = sample_papers(listings)
    assert [(p.arxiv_id, p.title) for p in again.papers] == [
        (p.arxiv_id, p.title) for p in world.papers
    ]
    assert len(world.truth) == len(world.listings) == 167
    ids = [p.arxiv_id for p in world.papers]
    assert len(ids) == len(set(ids))
    for arxiv_id in ids:
        parsed = parse_arxiv_id(arxiv_id)
        assert parsed is not None and parsed.id == arxiv_id
    for listing in world.listings:
        expected = world.expected(listing)
        if expected is not None:
            assert normalize_title(world.paper(expected).title) == normalize_title(
                listing.title or ""
            )


def test_sample_world_has_its_traps(world: SampleWorld) -> None:
    truth_ids = {i for i in world.truth.values() if i}
    by_title: dict[str, list[FakePaper]] = {}
    for p in world.papers:
        by_title.setdefault(normalize_title(p.title), []).append(p)
    twins = [k for k, ps in by_title.items() if len(ps) > 1 and k in world.truth]
    assert len(twins) >= 5
    for key in twins:
        assert len({p.abstract for p in by_title[key]}) == len(by_title[key])
    lookalikes = [
        p
        for p in world.papers
        if re.match(r"^\S+-2: ", p.title) and normalize_title(p.title) not in world.truth
    ]
    assert len(lookalikes) >= 5 and not {p.arxiv_id for p in lookalikes} & truth_ids
    for p in lookalikes:  # the listing it imitates is in the world
        head, _, rest = p.title.partition("-2: ")
        assert normalize_title(f"{head}: {rest}") in world.truth
    assert sum(1 for v in world.truth.values() if v is None) >= 5
    arxiv_only = [world.paper(i) for i in truth_ids if not world.paper(i).in_hf]
    assert len(arxiv_only) >= 5 and all(p.in_arxiv for p in arxiv_only)
    for listing in world.listings:
        if world.expected(listing) is None:
            # Nothing with this title and abstract is served; a same-title twin may be.
            served = [
                p for p in by_title[normalize_title(listing.title or "")] if p.in_hf or p.in_arxiv
            ]
            assert all(p.abstract != listing.abstract for p in served)
    older = [p for p in world.papers if p.hf_abstract]
    assert len(older) >= 10
    for p in older:
        assert len(p.hf_abstract or "") < len(p.abstract) and p.version >= 2
        assert (p.hf_abstract or "") not in p.abstract  # edited, not just cut
    assert any("\n" in (p.hf_title or "") for p in world.papers)
    assert any(not a.isascii() for p in world.papers for a in p.authors)
    assert {"hep-th/9901001", "math/0309136"} <= {p.arxiv_id for p in world.papers}


def test_sample_world_served_end_to_end(world: SampleWorld, client: httpx.Client) -> None:
    truth_ids = sorted(i for i in world.truth.values() if i)
    with FakeArxiv(world.papers, min_interval=0) as arxiv, FakeHf(world.papers) as hf:
        root = feed(
            client.post(arxiv.url, data={"id_list": ",".join(truth_ids), "max_results": "500"})
        )
        assert ids_of(root) == set(truth_ids)
        for entry in root.findall("atom:entry", NS):
            assert ET.tostring(entry, encoding="unicode")  # every entry is well formed
        found_by_title = 0
        for listing in world.listings[:40]:
            expected = world.expected(listing)
            results = client.get(f"{hf.url}/papers/search", params={"q": listing.title}).json()
            if expected is not None and world.paper(expected).in_hf:
                assert expected in [r["paper"]["id"] for r in results[:3]]
                found_by_title += 1
        assert found_by_title >= 20
