"""Hugging Face pages as sources: `hf:daily`, weeks, months, collections and their URLs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from readlist.bibfile import read_bib
from readlist.cli import cli
from readlist.errors import UsageError
from readlist.resolve.hfpages import (
    HfPage,
    PageShapeError,
    parse_collection,
    parse_daily_papers,
    parse_page,
)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# -- recognizing pages -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "page"),
    [
        ("hf:daily", HfPage("daily")),
        ("hf:daily/2025-04-28", HfPage("daily", "2025-04-28")),
        ("HF:Daily/2025-04-28/", HfPage("daily", "2025-04-28")),
        ("hf:week/2025-W18", HfPage("week", "2025-W18")),
        ("hf:week/2020-W53", HfPage("week", "2020-W53")),  # 2020 has 53 ISO weeks
        ("hf:month/2025-04", HfPage("month", "2025-04")),
        ("hf:collection/akhaliq/vlms-6612a1b2c3", HfPage("collection", "akhaliq/vlms-6612a1b2c3")),
        ("https://huggingface.co/papers", HfPage("daily")),
        ("https://huggingface.co/papers/date/2025-04-28", HfPage("daily", "2025-04-28")),
        ("huggingface.co/papers/week/2025-W18?sort=trending", HfPage("week", "2025-W18")),
        ("https://huggingface.co/papers/month/2025-04#top", HfPage("month", "2025-04")),
        (
            "https://huggingface.co/collections/akhaliq/vlms-6612a1b2c3",
            HfPage("collection", "akhaliq/vlms-6612a1b2c3"),
        ),
    ],
)
def test_pages_are_recognized(spec: str, page: HfPage) -> None:
    assert parse_page(spec) == page


@pytest.mark.parametrize(
    "spec",
    [
        "2504.10479",
        "https://huggingface.co/papers/2504.10479",  # a paper: an identifier, not a page
        "https://arxiv.org/abs/2504.10479",
        "listing.txt",
        "https://example.org/papers/date/2025-04-28",
    ],
)
def test_other_sources_are_not_pages(spec: str) -> None:
    assert parse_page(spec) is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("hf:daily/2025-02-30", "is not a calendar date"),
        ("hf:daily/25-04-28", "expected a date as YYYY-MM-DD"),
        ("hf:week/2025-W53", "2025 has ISO weeks 01 to 52"),
        ("hf:week/2025-18", "expected an ISO week as YYYY-Www"),
        ("hf:month/2025-13", "expected a month as YYYY-MM"),
        ("hf:week", "expected hf:daily"),
        ("hf:yearly/2025", "expected hf:daily"),
        ("hf:collection/noslug", "expected a collection as OWNER/SLUG"),
        ("https://huggingface.co/papers/date/2025-4-28", "expected a date"),
        ("https://huggingface.co/collections/akhaliq", "collections/OWNER/SLUG"),
    ],
)
def test_malformed_pages_are_usage_errors(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_page(spec)


# -- the Hub's JSON ---------------------------------------------------------------------------


DAILY_BODY = [
    {
        "paper": {
            "id": "2504.10479",
            "authors": [{"_id": "x", "name": "Jinguo Zhu", "hidden": False}],
            "publishedAt": "2025-04-14T17:59:25.000Z",
            "title": "InternVL3: Exploring Advanced Training\n  and Test-Time Recipes",
            "summary": "We introduce InternVL3,\na significant advancement.",
            "upvotes": 245,
            "discussionId": "67fd",
        },
        "publishedAt": "2025-04-15T01:37:04.000Z",
        "title": "InternVL3: Exploring Advanced Training and Test-Time Recipes",
        "summary": "We introduce InternVL3, a significant advancement.",
        "numComments": 3,
        "submittedBy": {"_id": "u", "user": "akhaliq"},
        "isAuthorParticipating": False,
    },
    {"paper": {"id": "2504.08791", "title": "Second", "summary": "Abstract."}, "title": "Second"},
]


def test_daily_papers_keep_order_ids_titles_and_upvotes() -> None:
    first, second = parse_daily_papers(DAILY_BODY, "hf:daily/2025-04-15")
    assert str(first.arxiv_id) == "2504.10479"
    assert first.title == "InternVL3: Exploring Advanced Training and Test-Time Recipes"
    assert first.abstract == "We introduce InternVL3, a significant advancement."
    assert (first.upvotes, first.source, first.line) == (245, "hf:daily/2025-04-15", 1)
    assert (str(second.arxiv_id), second.upvotes, second.line) == ("2504.08791", None, 2)


@pytest.mark.parametrize(
    "body",
    [{"error": "x"}, [1], [{"paper": {"id": "not-an-id", "title": "T"}}], [{"title": "no id"}]],
)
def test_daily_papers_of_the_wrong_shape_are_refused(body: object) -> None:
    with pytest.raises(PageShapeError):
        parse_daily_papers(body, "hf:daily")


def test_collection_keeps_its_papers_in_position_order() -> None:
    body = {
        "slug": "me/reading-abc",
        "title": "Reading",
        "items": [
            {"_id": "a", "position": 2, "type": "paper", "id": "2504.10479", "title": "B"},
            {"_id": "b", "position": 0, "type": "model", "id": "org/model"},
            {"_id": "c", "position": 1, "type": "paper", "id": "2312.06647", "upvotes": 7},
        ],
    }
    result = parse_collection(body, "hf:collection/me/reading-abc")
    assert [str(x.arxiv_id) for x in result.listings] == ["2312.06647", "2504.10479"]
    assert [x.line for x in result.listings] == [1, 2]
    assert result.listings[0].upvotes == 7 and result.listings[1].title == "B"
    assert (result.title, result.skipped) == ("Reading", 1)


# -- through the CLI, against the loopback Hub double -----------------------------------------


@pytest.fixture
def hub(world, servers):  # type: ignore[no-untyped-def]
    """The doubles with two days of papers, one in week 2025-W18, and a collection."""
    arxiv, hf = servers
    ids = [p.arxiv_id for p in world.papers if p.in_hf and p.in_arxiv]
    hf.daily = {"2025-04-28": ids[:130], "2025-04-29": ids[130:140]}
    hf.collections = {
        "lab/reading-6612": ("Reading", [("paper", ids[3]), ("model", "org/m"), ("paper", ids[1])])
    }
    return arxiv, hf, ids


def test_show_lists_a_day_in_hugging_faces_order_with_upvotes(hub) -> None:  # type: ignore[no-untyped-def]
    arxiv, hf, ids = hub
    result = run("show", "hf:daily/2025-04-28", "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["arxiv_id"] for r in rows] == ids[:130]
    assert all(isinstance(r["upvotes"], int) for r in rows)
    # 130 papers at 100 a page: two page requests, nothing else
    assert [r.params.get("p") for r in hf.requests] == ["0", "1"]
    assert arxiv.requests == []
    text = run("show", "https://huggingface.co/papers/date/2025-04-29")
    assert text.exit_code == 0
    assert "upvote" in text.stdout.splitlines()[0]
    assert text.stderr.strip() == "10 papers, 0 already in the .bib"


def test_add_a_week_needs_no_title_search_and_batches_arxiv(hub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    arxiv, hf, ids = hub
    result = run("add", "hf:week/2025-W18", "--all", "--bib", "refs.bib", "--json")
    assert result.exit_code == 0, result.stderr
    entries = read_bib(tmp_path / "refs.bib").entries
    assert [e.fields["eprint"] for e in entries] == ids[:140]
    assert not any(e.is_unresolved for e in entries)
    assert not any(r.path == "/api/papers/search" for r in hf.requests)
    # 140 papers: two id_list requests of at most 100, no search
    assert len(arxiv.requests) == 2
    assert all("search_query" not in r.params for r in arxiv.requests)
    assert json.loads(result.stdout)["requests"] == len(arxiv.requests) + len(hf.requests)


def test_min_upvotes_filters_and_the_picker_order_is_kept(hub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, _, ids = hub
    every = json.loads(run("show", "hf:daily/2025-04-29", "--json").stdout)
    result = run("show", "hf:daily/2025-04-29", "--min-upvotes", "30", "--json")
    kept = json.loads(result.stdout)
    assert [r["arxiv_id"] for r in kept] == [r["arxiv_id"] for r in every if r["upvotes"] >= 30]
    assert 0 < len(kept) < len(every)
    added = run(
        "add", "hf:daily/2025-04-29", "--min-upvotes", "30", "--pick", "1", "--bib", "r.bib"
    )
    assert added.exit_code == 0, added.stderr
    (entry,) = read_bib(tmp_path / "r.bib").entries
    assert entry.fields["eprint"] == kept[0]["arxiv_id"]


def test_min_upvotes_without_a_hugging_face_page_is_a_usage_error(hub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "l.txt").write_text("A Title\n\nAn abstract.\n")
    result = run("show", "l.txt", "--min-upvotes", "3")
    assert result.exit_code == 2
    assert "--min-upvotes needs a Hugging Face page" in result.stderr


def test_collection_url_adds_its_papers(hub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, _, ids = hub
    url = "https://huggingface.co/collections/lab/reading-6612"
    result = run("add", url, "--all", "--bib", "refs.bib")
    assert result.exit_code == 0, result.stderr
    assert [e.fields["eprint"] for e in read_bib(tmp_path / "refs.bib").entries] == [
        ids[3],
        ids[1],
    ]
    missing = run("show", "hf:collection/lab/nothing-here")
    assert missing.exit_code == 1
    assert "Collection not found" in missing.stderr


def test_an_empty_day_says_so_and_writes_nothing(hub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("add", "hf:daily/2025-05-03", "--all", "--bib", "refs.bib")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: hf:daily/2025-05-03: Hugging Face lists no papers for this day"
    )
    assert not (tmp_path / "refs.bib").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["add", "hf:daily/2025-02-30", "--all", "--bib", "refs.bib"],
        ["show", "https://huggingface.co/papers/week/2025-W60"],
        ["add", "2504.10479", "hf:month/2025-00", "--bib", "refs.bib"],
        ["add", "hf:daily", "--all", "--offline", "--bib", "refs.bib"],
    ],
)
def test_bad_page_specs_exit_2_before_any_request(hub, tmp_path: Path, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    arxiv, hf, _ = hub
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert result.stderr.count("Error:") == 1
    assert arxiv.requests == [] and hf.requests == []
    assert not (tmp_path / "refs.bib").exists()


def test_hf_daily_alone_is_the_latest_day(hub) -> None:  # type: ignore[no-untyped-def]
    _, hf, ids = hub
    rows = json.loads(run("show", "hf:daily", "--json").stdout)
    assert [r["arxiv_id"] for r in rows] == ids[130:140]
    assert "date" not in hf.requests[0].params
