"""A lab's shared reading list: several members writing one Zotero group library at once.

Every test here runs members with their own API keys (and their own caches) against one
group library of the loopback Zotero double. They race on purpose: a `threading.Barrier`
starts them together, and the double's `rendezvous` holds their first collection and item
writes until every member has sent one, so all of them write against the same stale view,
every run, instead of only when the scheduler happens to interleave them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fakezotero import FakeZotero, preprint_data

from readlist.config import ZoteroConfig
from readlist.models import ArxivId, Paper
from readlist.zotero import SyncReport, ZoteroLibrary

T = TypeVar("T")

GROUP = "456"
MEMBERS = {"ada-key": "101", "bob-key": "102", "cy-key": "103"}
PATH = "Lab/Reading"
# Overlapping listings: each member brings papers the others bring too.
LISTINGS = {
    "ada-key": [1, 2, 3, 4, 5, 6, 7, 8],
    "bob-key": [5, 6, 7, 8, 9, 10, 11, 12],
    "cy-key": [1, 9, 10, 11, 12, 13, 14, 15, 16],
}
EVERY_PAPER = sorted({n for numbers in LISTINGS.values() for n in numbers})
RUNS = 5


def paper(number: int) -> Paper:
    return Paper(
        title=f"A Shared Study of Things, Part {number}",
        abstract=f"We study shared thing {number}.",
        arxiv_id=ArxivId(f"2502.{number:05d}"),
        authors=("Ada Lovelace", "Grace Hopper"),
        year=2025,
        month=2,
        primary_category="cs.CL",
        resolved=True,
    )


def triples(numbers: Sequence[int]) -> list[tuple[str, Paper, tuple[str, ...]]]:
    return [(f"lovelace2025shared{n}", paper(n), ("to-read",)) for n in numbers]


@pytest.fixture
def group() -> Iterator[FakeZotero]:
    with FakeZotero(api_key="owner-key", group_ids=(GROUP,), member_keys=MEMBERS) as fake:
        yield fake


def member(fake: FakeZotero, key: str, tmp_path: Path) -> ZoteroLibrary:
    config = ZoteroConfig(api_url=fake.url, library_id=GROUP, library_type="group", api_key=key)
    return ZoteroLibrary(config, tmp_path / f"cache-{key}", timeout=30.0)


def race(work: Callable[[str], T], keys: Sequence[str] = tuple(MEMBERS)) -> dict[str, T]:
    """Run `work(key)` for every member in its own thread, all released by one barrier."""
    start = threading.Barrier(len(keys))
    results: dict[str, T] = {}
    errors: list[BaseException] = []

    def run(key: str) -> None:
        try:
            start.wait(timeout=20)
            results[key] = work(key)
        except BaseException as error:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert set(results) == set(keys)
    return results


def collections_named(fake: FakeZotero, name: str) -> list[dict[str, Any]]:
    return [c for c in fake.library(GROUP).collections.values() if c["data"]["name"] == name]


def writes(fake: FakeZotero) -> list[str]:
    return [f"{r.method} {r.path}" for r in fake.requests if r.method != "GET"]


def add_all(fake: FakeZotero, tmp_path: Path) -> dict[str, SyncReport]:
    def work(key: str) -> SyncReport:
        with member(fake, key, tmp_path) as library:
            return library.sync(triples(LISTINGS[key]), PATH)

    return race(work)


@pytest.mark.parametrize("run", range(RUNS))
def test_members_adding_at_once_make_one_path_and_one_item_each(
    group: FakeZotero, tmp_path: Path, run: int
) -> None:
    collections_race = group.rendezvous("POST", "/collections", len(MEMBERS))
    items_race = group.rendezvous("POST", "/items", len(MEMBERS))
    reports = add_all(group, tmp_path)
    # The race took place: every member sent a collection and an item write on the same view.
    assert collections_race.met and items_race.met
    assert [r.failed for r in reports.values()] == [[], [], []]
    (lab,) = collections_named(group, "Lab")
    (reading,) = collections_named(group, "Reading")
    assert lab["data"]["parentCollection"] is False
    assert reading["data"]["parentCollection"] == lab["key"]
    assert len(group.library(GROUP).collections) == 2  # nothing outside the path
    # Exactly one member created each level; the others reused it after their 412.
    created = [path for r in reports.values() for path in r.collections_created]
    assert sorted(created) == ["Lab", "Lab/Reading"]
    assert {r.collection_key for r in reports.values()} == {reading["key"]}
    items = group.library(GROUP).items
    assert len(items) == len(EVERY_PAPER)
    for number in EVERY_PAPER:
        (item,) = group.items_with_arxiv_id(f"2502.{number:05d}", library=GROUP)
        assert item["data"]["collections"] == [reading["key"]]
    assert sum(len(r.created) for r in reports.values()) == len(EVERY_PAPER)
    group.check_invariants()

    # Each member pulls the whole shared list, each paper once.
    def pull(key: str) -> list[str]:
        with member(group, key, tmp_path) as library:
            return sorted(str(p.arxiv_id) for _, p in library.collection_items(PATH))

    pulled = race(pull)
    assert all(numbers == [f"2502.{n:05d}" for n in EVERY_PAPER] for numbers in pulled.values())

    # A rerun by everyone, racing again, writes nothing.
    before = len(writes(group))
    again = add_all(group, tmp_path)
    assert writes(group)[before:] == []
    for key, report in again.items():
        assert report.created == [] and report.updated == [] and report.failed == []
        assert len(report.unchanged) == len(LISTINGS[key])


def test_duplicates_made_elsewhere_the_oldest_is_used_by_everyone(
    group: FakeZotero, tmp_path: Path
) -> None:
    # Another tool made the path twice; the younger copy is listed first by key and by
    # modification date, so only the creation order tells them apart.
    old_lab = group.seed_collection("Lab", library=GROUP, date_added="2024-01-01T00:00:00Z")
    young_lab = group.seed_collection("Lab", library=GROUP, date_added="2025-01-01T00:00:00Z")
    young = group.seed_collection("Reading", young_lab["key"], library=GROUP)
    old = group.seed_collection(
        "Reading", old_lab["key"], library=GROUP, date_added="2024-06-01T00:00:00Z"
    )
    theirs = group.seed_item(
        preprint_data(
            "2502.00001",
            "A Shared Study of Things, Part 1",
            collections=[young["key"]],
            tags=["to-read"],
        ),
        library=GROUP,
    )
    reports = add_all(group, tmp_path)
    assert len(group.library(GROUP).collections) == 4  # nothing new
    for report in reports.values():
        assert report.collection_key == old["key"]
        assert report.collections_created == []
        (warning,) = report.warnings
        assert "2 Zotero collections are named 'Lab/Reading'" in warning
        assert f"using the oldest, {old['key']}" in warning
    items = group.library(GROUP).items
    # Paper 1 was already in a copy of the path: left where it is, not filed twice.
    assert items[theirs["key"]]["data"]["collections"] == [young["key"]]
    # Every new paper went to the oldest copy only: never spread over the duplicates.
    new = [i for k, i in items.items() if k != theirs["key"]]
    assert len(new) == len(EVERY_PAPER) - 1
    assert all(i["data"]["collections"] == [old["key"]] for i in new)
    group.check_invariants(unique_collection_names=False)
    with member(group, "ada-key", tmp_path) as library:
        pulled = library.collection_items(PATH)
        assert len(library.warnings) == 1
    assert sorted(str(p.arxiv_id) for _, p in pulled) == [f"2502.{n:05d}" for n in EVERY_PAPER]
