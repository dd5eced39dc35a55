"""A lab's shared reading list: several members writing one Zotero group library at once.

Every test here runs members with their own API keys (and their own caches) against one
group library of the loopback Zotero double. They race on purpose: a `threading.Barrier`
starts them together, and the double's `rendezvous` holds their first collection and item
writes until every member has sent one, so all of them write against the same stale view,
every run, instead of only when the scheduler happens to interleave them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
from click.testing import CliRunner

from readlist.cli import cli
from readlist.config import ZoteroConfig
from readlist.models import ArxivId, Paper
from readlist.testing.fakezotero import (
    FakeZotero,
    ZoteroFault,
    backoff,
    locked,
    lost,
    on,
    preprint_data,
    rate_limited,
)
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
    items = group.library(GROUP).top_items
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
    items = group.library(GROUP).top_items
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


# --------------------------------------------------------------------------- doctor


def seed_duplicates(fake: FakeZotero) -> dict[str, str]:
    """Lab/Reading twice (as another tool made it), items in both copies, one trashed."""
    keys: dict[str, str] = {}
    keys["lab"] = fake.seed_collection("Lab", library=GROUP)["key"]
    keys["reading"] = fake.seed_collection("Reading", keys["lab"], library=GROUP)["key"]
    keys["lab2"] = fake.seed_collection("Lab", library=GROUP)["key"]
    keys["reading2"] = fake.seed_collection("Reading", keys["lab2"], library=GROUP)["key"]
    keys["other"] = fake.seed_collection("Other", keys["lab2"], library=GROUP)["key"]
    for name, number, where in (
        ("a", 1, ["reading"]),
        ("b", 2, ["reading", "reading2"]),
        ("c", 3, ["reading2"]),
        ("d", 4, ["reading2"]),
        ("e", 5, ["other"]),
    ):
        data = preprint_data(
            f"2502.{number:05d}",
            f"A Shared Study of Things, Part {number}",
            collections=[keys[w] for w in where],
        )
        keys[name] = fake.seed_item(data, library=GROUP)["key"]
    fake.edit_item(keys["d"], {"deleted": 1}, library=GROUP)  # in the trash, still filed
    return keys


def test_doctor_merges_into_the_oldest_and_deletes_only_empty_copies(
    group: FakeZotero, tmp_path: Path
) -> None:
    keys = seed_duplicates(group)
    with member(group, "ada-key", tmp_path) as library:
        found = library.find_duplicate_collections()
        assert [(g.path, g.keys) for g in found] == [
            ("Lab", (keys["lab"], keys["lab2"])),
            ("Lab/Reading", (keys["reading"], keys["reading2"])),
        ]
        assert found[1].items == (2, 2)  # the trashed item is not counted, but it is there
        assert not writes(group)
        report = library.merge_duplicate_collections()
    assert sorted(report.merged) == sorted(
        [("Lab", keys["lab2"], keys["lab"]), ("Lab/Reading", keys["reading2"], keys["reading"])]
    )
    assert report.subcollections_moved == 2  # Reading and Other, from the younger Lab
    collections = group.library(GROUP).collections
    assert set(collections) == {keys["lab"], keys["reading"], keys["other"]}
    assert collections[keys["other"]]["data"]["parentCollection"] == keys["lab"]
    items = group.library(GROUP).top_items
    for name in "abcd":
        assert items[keys[name]]["data"]["collections"] == [keys["reading"]], name
    assert items[keys["d"]]["data"]["deleted"]
    assert items[keys["e"]]["data"]["collections"] == [keys["other"]]
    group.check_invariants()
    # Every write named the version it was based on.
    for request in group.requests:
        if request.method == "DELETE":
            assert request.header("If-Unmodified-Since-Version")
        elif request.method == "POST":
            assert all("version" in obj for obj in request.body)
    with member(group, "bob-key", tmp_path) as library:
        assert library.find_duplicate_collections() == []


def test_an_item_filed_into_a_copy_while_merging_is_not_lost(
    group: FakeZotero, tmp_path: Path
) -> None:
    keys = seed_duplicates(group)
    late: list[str] = []

    def another_member_files_a_paper(request: str) -> None:
        # After the copy was emptied and found empty, just before it is deleted: someone
        # files a new paper into it.
        if request.startswith("DELETE ") and keys["reading2"] in request and not late:
            data = preprint_data("2502.00009", "A Late Paper", collections=[keys["reading2"]])
            late.append(group.seed_item(data, library=GROUP)["key"])

    config = ZoteroConfig(
        api_url=group.url, library_id=GROUP, library_type="group", api_key="cy-key"
    )
    with ZoteroLibrary(
        config, tmp_path / "cache", on_request=another_member_files_a_paper
    ) as library:
        report = library.merge_duplicate_collections()
    assert len(late) == 1
    # The copy's first delete was refused (412: the library changed since the emptiness
    # check), so the paper was moved and the copy deleted on the second try.
    deletes = [r for r in group.requests if r.method == "DELETE"]
    assert [keys["reading2"] in r.params["collectionKey"] for r in deletes] == [False, True, True]
    (item,) = group.items_with_arxiv_id("2502.00009", library=GROUP)
    assert item["data"]["collections"] == [keys["reading"]]
    assert report.items_moved == 4  # b, c, d (trashed), and the late paper
    assert set(group.library(GROUP).collections) == {keys["lab"], keys["reading"], keys["other"]}
    group.check_invariants()


def cli_env(fake: FakeZotero, key: str, home: Path, **extra: str) -> dict[str, str]:
    """The environment of one member's machine: their key, config and cache."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "config.toml"
    config.write_text(f'[zotero]\nlibrary_type = "group"\ncollection = "{PATH}"\n')
    return {
        "READLIST_CONFIG": str(config),
        "READLIST_CACHE_DIR": str(home / "cache"),
        "READLIST_ZOTERO_API_URL": fake.url,
        "ZOTERO_API_KEY": key,
        "ZOTERO_LIBRARY_ID": GROUP,
        **extra,
    }


def test_doctor_command_lists_asks_and_merges(group: FakeZotero, tmp_path: Path) -> None:
    keys = seed_duplicates(group)
    env = cli_env(group, "ada-key", tmp_path / "ada")
    runner = CliRunner()
    listed = runner.invoke(cli, ["doctor", "--zotero", "--dry-run"], env=env)
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines() == [
        f"Lab: 2 collections, oldest first: {keys['lab']} (0 items, 1 subcollection), "
        f"{keys['lab2']} (0 items, 2 subcollections)",
        f"Lab/Reading: 2 collections, oldest first: {keys['reading']} (2 items), "
        f"{keys['reading2']} (2 items)",
    ]
    assert "2 paths with duplicates (dry run: nothing merged)" in listed.stderr
    declined = runner.invoke(cli, ["doctor", "--zotero"], env=env, input="n\n")
    assert declined.exit_code == 1
    assert "Merge the duplicates of 2 paths into the oldest of each?" in declined.stderr
    assert declined.stderr.strip().endswith("nothing merged")
    assert not writes(group)
    merged = runner.invoke(cli, ["doctor", "--zotero", "--yes"], env=env)
    assert merged.exit_code == 0, merged.output
    assert "2 duplicate collections merged: 3 items and 2 subcollections moved" in merged.stderr
    assert "ada-key" not in merged.output
    assert len(group.library(GROUP).collections) == 3
    group.check_invariants()
    clean = runner.invoke(cli, ["doctor", "--zotero"], env=env)
    assert clean.exit_code == 0 and clean.stdout == ""
    assert "no duplicate Zotero collections" in clean.stderr
    nothing = runner.invoke(cli, ["doctor"], env=env)
    assert nothing.exit_code == 2
    assert "Error: say what to check: readlist doctor --zotero" in nothing.stderr


def test_pull_and_sync_warn_about_duplicates_and_read_them_all(
    group: FakeZotero, tmp_path: Path
) -> None:
    keys = seed_duplicates(group)
    env = cli_env(group, "bob-key", tmp_path / "bob")
    runner = CliRunner()
    bib = tmp_path / "bob.bib"
    bib.write_text("% Bob's own\n", encoding="utf-8")
    pulled = runner.invoke(cli, ["pull", "--bib", str(bib)], env=env)
    assert pulled.exit_code == 0, pulled.output
    warning = (
        f"warning: 2 Zotero collections are named 'Lab/Reading' ({keys['reading']}, "
        f"{keys['reading2']}); using the oldest, {keys['reading']} "
        "(`readlist doctor --zotero` merges them)"
    )
    assert pulled.stderr.splitlines()[0] == warning
    assert "3 items in Zotero collection Lab/Reading" in pulled.stderr  # a, b once, c
    text = bib.read_text(encoding="utf-8")
    assert text.startswith("% Bob's own\n")
    assert sorted(re.findall(r"eprint = \{([^}]*)\}", text)) == [
        "2502.00001",
        "2502.00002",
        "2502.00003",
    ]
    synced = runner.invoke(cli, ["sync", "--bib", str(bib)], env=env)
    assert synced.exit_code == 0, synced.output
    assert synced.stderr.splitlines()[0] == warning
    assert "0 created, 0 updated, 3 unchanged" in synced.stderr
    assert not writes(group)


# --------------------------------------------------------------------------- three machines


CLI_RUNS = 3


def run_members(
    commands: Mapping[str, Sequence[str]], envs: Mapping[str, Mapping[str, str]], cwd: Path
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Start one `readlist` process per member at the same moment (a barrier), like three
    machines; return each one's outcome."""

    def work(key: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "readlist", *commands[key]],
            env={**os.environ, **envs[key]},
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return race(work, keys=tuple(commands))


@pytest.mark.parametrize("run", range(CLI_RUNS))
def test_three_machines_add_pull_and_rerun(world, servers, tmp_path: Path, run: int) -> None:  # type: ignore[no-untyped-def]
    ids = [world.expected(x) for x in world.listings if world.expected(x)][:12]
    listings = {"ada-key": ids[0:6], "bob-key": ids[3:9], "cy-key": [*ids[6:12], ids[0]]}
    shared = sorted(ids)
    with FakeZotero(api_key="owner-key", group_ids=(GROUP,), member_keys=MEMBERS) as fake:
        envs = {key: cli_env(fake, key, tmp_path / key) for key in MEMBERS}
        bibs = {key: tmp_path / f"{key}.bib" for key in MEMBERS}
        own = {key: f"% {key}'s notes\n@string{{lab = {{Lab}}}}\n\n" for key in MEMBERS}
        for key, bib in bibs.items():
            bib.write_text(own[key], encoding="utf-8")
            # Resolve once beforehand (into the member's cache), so that the race is the
            # members' Zotero writes, not their turns at the arXiv double.
            warm = CliRunner().invoke(
                cli, ["add", *listings[key], "--to", "bib", "--bib", str(bib), "-n"], env=envs[key]
            )
            assert warm.exit_code == 0, warm.output
        collections_race = fake.rendezvous("POST", "/collections", len(MEMBERS))
        added = run_members(
            {k: ["add", *listings[k], "--to", "both", "--bib", str(bibs[k])] for k in MEMBERS},
            envs,
            tmp_path,
        )
        for outcome in added.values():
            assert outcome.returncode == 0, outcome.stderr
            assert "Traceback" not in outcome.stderr
        assert collections_race.met
        (lab,) = collections_named(fake, "Lab")
        (reading,) = collections_named(fake, "Reading")
        assert reading["data"]["parentCollection"] == lab["key"]
        assert len(fake.library(GROUP).collections) == 2
        assert len(fake.library(GROUP).top_items) == len(shared)
        for arxiv_id in shared:
            (item,) = fake.items_with_arxiv_id(arxiv_id, library=GROUP)
            assert item["data"]["collections"] == [reading["key"]]
        fake.check_invariants()

        pulled = run_members(
            {k: ["pull", PATH, "--bib", str(bibs[k])] for k in MEMBERS}, envs, tmp_path
        )
        texts = {}
        for key, outcome in pulled.items():
            assert outcome.returncode == 0, outcome.stderr
            assert "warning" not in outcome.stderr
            texts[key] = bibs[key].read_text(encoding="utf-8")
            assert texts[key].startswith(own[key])  # the member's own bytes, kept
            eprints = re.findall(r"eprint = \{([^}]*)\}", texts[key])
            assert sorted(eprints) == shared  # the whole shared list, each paper once

        before = len(writes(fake))
        again = run_members(
            {k: ["add", *listings[k], "--to", "both", "--bib", str(bibs[k])] for k in MEMBERS},
            envs,
            tmp_path,
        )
        for key, outcome in again.items():
            assert outcome.returncode == 0, outcome.stderr
            assert f"0 created, 0 updated, {len(listings[key])} unchanged" in outcome.stderr
            assert bibs[key].read_text(encoding="utf-8") == texts[key]
        assert writes(fake)[before:] == []


@pytest.mark.parametrize(
    "fault",
    [
        rate_limited(retry_after=0, method="POST"),
        backoff(0.1, method="POST"),
        locked(method="POST"),
        lost(method="POST"),
    ],
    ids=["429", "backoff", "409", "lost-answer"],
)
@pytest.mark.parametrize("where", ["/collections", "/items"])
def test_racing_members_under_faults_still_make_one_of_everything(
    group: FakeZotero, tmp_path: Path, fault: ZoteroFault, where: str
) -> None:
    group.rendezvous("POST", "/collections", len(MEMBERS))
    group.inject(on("POST", fault, path=f"/groups/{GROUP}{where}"))
    reports = add_all(group, tmp_path)
    assert [r.failed for r in reports.values()] == [[], [], []]
    assert len(collections_named(group, "Lab")) == len(collections_named(group, "Reading")) == 1
    assert len(group.library(GROUP).collections) == 2
    assert len(group.library(GROUP).top_items) == len(EVERY_PAPER)
    # What the members report as created is exactly what the library holds.
    created = sorted(key for r in reports.values() for _, key in r.created)
    assert created == sorted(group.library(GROUP).top_items)
    group.check_invariants()
