"""The SQLite disk cache: round trips, expiry, housekeeping, recovery and concurrency."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import threading
from collections.abc import Iterator
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

from readlist.resolve.cache import (
    FILENAME,
    NOT_FOUND_TTL,
    SCHEMA_VERSION,
    Cache,
    CacheError,
    CacheInfo,
    Lookup,
    lookup_key,
)

DAY = 24 * 3600.0


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(tmp_path: Path, clock: FakeClock) -> Iterator[Cache]:
    with Cache.open(tmp_path / "cache", clock=clock) as opened:
        yield opened


def entry(arxiv_id: str, title: str = "A Title") -> str:
    return json.dumps({"id": arxiv_id, "title": title, "authors": ["Zoë Müller"]})


# Opening


def test_open_creates_directory_file_wal_and_schema(tmp_path: Path) -> None:
    directory = tmp_path / "deep" / "cache"
    with Cache.open(directory) as cache:
        assert cache.path == directory / FILENAME
        assert cache.path.is_file()
    db = sqlite3.connect(directory / FILENAME)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    finally:
        db.close()


def test_data_survives_reopening(tmp_path: Path) -> None:
    with Cache.open(tmp_path) as cache:
        cache.put_entries({"2504.10479": entry("2504.10479")})
        cache.put_lookup("k", "2504.10479", reason="hf")
    with Cache.open(tmp_path) as cache:
        assert cache.get_entries(["2504.10479"]) == {"2504.10479": entry("2504.10479")}
        found = cache.get_lookup("k")
        assert found is not None and found.arxiv_id == "2504.10479"


def test_closed_cache_refuses_use(tmp_path: Path) -> None:
    cache = Cache.open(tmp_path)
    cache.close()
    cache.close()  # twice is fine
    with pytest.raises(CacheError, match="closed"):
        cache.get_entries(["2504.10479"])


def test_directory_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CacheError, match="cannot create directory"):
        Cache.open(blocker / "cache")


# arXiv entries


def test_entries_round_trip_and_missing_ids_are_left_out(cache: Cache) -> None:
    items = {"2504.10479": entry("2504.10479"), "hep-th/9901001": entry("hep-th/9901001")}
    cache.put_entries(items)
    got = cache.get_entries(["2504.10479", "hep-th/9901001", "2401.00001", "2504.10479"])
    assert got == items
    assert cache.get_entries([]) == {}
    cache.put_entries({})  # nothing to do, no error


def test_entries_are_replaced(cache: Cache) -> None:
    cache.put_entries({"2504.10479": entry("2504.10479", "Old")})
    cache.put_entries({"2504.10479": entry("2504.10479", "New")})
    assert json.loads(cache.get_entries(["2504.10479"])["2504.10479"])["title"] == "New"
    assert cache.info().entries == 1


def test_entries_do_not_expire_but_max_age_filters(cache: Cache, clock: FakeClock) -> None:
    cache.put_entries({"2401.00001": entry("2401.00001")})
    clock.advance(10 * DAY)
    cache.put_entries({"2401.00002": entry("2401.00002")})
    clock.advance(365 * DAY)
    ids = ["2401.00001", "2401.00002"]
    assert set(cache.get_entries(ids)) == set(ids)
    assert set(cache.get_entries(ids, max_age=366 * DAY)) == {"2401.00002"}
    assert cache.get_entries(ids, max_age=DAY) == {}


def test_many_entries_in_one_call(cache: Cache) -> None:
    items = {f"2401.{n:05d}": entry(f"2401.{n:05d}") for n in range(1, 1301)}
    cache.put_entries(items)
    assert cache.get_entries(items) == items


# Title lookups


def test_found_lookup_round_trip_never_expires(cache: Cache, clock: FakeClock) -> None:
    cache.put_lookup("key", "2504.10479", reason="hf: title and abstract agree")
    clock.advance(1000 * DAY)
    assert cache.get_lookup("key") == Lookup(
        arxiv_id="2504.10479",
        reason="hf: title and abstract agree",
        stored_at=clock.now - 1000 * DAY,
    )
    assert cache.get_lookup("other") is None


def test_not_found_lookup_expires_after_default_ttl(cache: Cache, clock: FakeClock) -> None:
    cache.put_lookup("key", None, reason="no candidate matched")
    clock.advance(NOT_FOUND_TTL - 1)
    found = cache.get_lookup("key")
    assert found is not None and found.arxiv_id is None
    assert found.reason == "no candidate matched"
    clock.advance(1)
    assert cache.get_lookup("key") is None
    assert NOT_FOUND_TTL == 7 * DAY


def test_explicit_ttl_applies_to_found_and_not_found(cache: Cache, clock: FakeClock) -> None:
    cache.put_lookup("found", "2504.10479", ttl=60)
    cache.put_lookup("missing", None, ttl=3600)
    clock.advance(61)
    assert cache.get_lookup("found") is None
    assert cache.get_lookup("missing") is not None
    clock.advance(3600)
    assert cache.get_lookup("missing") is None
    with pytest.raises(ValueError):
        cache.put_lookup("bad", None, ttl=-1)


def test_a_new_answer_replaces_an_expired_one(cache: Cache, clock: FakeClock) -> None:
    cache.put_lookup("key", None)
    clock.advance(8 * DAY)
    assert cache.get_lookup("key") is None
    cache.put_lookup("key", "2504.10479")
    found = cache.get_lookup("key")
    assert found is not None and found.arxiv_id == "2504.10479" and found.stored_at == clock.now


def test_lookup_key_ignores_rendering_differences() -> None:
    title = "InternVL3: Exploring Advanced Training"
    abstract = "We introduce InternVL3,\na significant  advancement."
    key = lookup_key(title, abstract)
    assert len(key) == 64 and int(key, 16) >= 0
    assert lookup_key("  internvl3 -- exploring advanced TRAINING ", abstract) == key
    assert lookup_key(title, " We introduce InternVL3, a significant advancement.\n") == key
    assert lookup_key(title, "A different abstract.") != key
    assert lookup_key("InternVL2: Exploring Advanced Training", abstract) != key
    assert lookup_key(title, None) == lookup_key(title, "")
    assert lookup_key(title, None) != key


# Housekeeping


def test_info_counts_and_measures(cache: Cache, clock: FakeClock) -> None:
    empty = cache.info()
    assert empty == CacheInfo(
        path=cache.path,
        size_bytes=empty.size_bytes,
        entries=0,
        lookups_found=0,
        lookups_not_found=0,
        lookups_expired=0,
    )
    assert empty.size_bytes > 0
    cache.put_entries({f"2401.{n:05d}": entry(f"2401.{n:05d}") for n in range(1, 4)})
    cache.put_lookup("a", "2401.00001")
    cache.put_lookup("b", "2401.00002", ttl=10)
    cache.put_lookup("c", None)
    cache.put_lookup("d", None, ttl=10)
    clock.advance(11)
    info = cache.info()
    assert (info.entries, info.lookups_found, info.lookups_not_found, info.lookups_expired) == (
        3,
        1,
        1,
        2,
    )
    assert info.size_bytes >= empty.size_bytes


def test_clear_removes_rows_and_keeps_the_file_usable(cache: Cache) -> None:
    cache.put_entries({"2401.00001": entry("2401.00001"), "2401.00002": entry("2401.00002")})
    cache.put_lookup("a", "2401.00001")
    cache.put_lookup("b", None)
    assert cache.clear() == 4
    assert cache.info().entries == 0
    assert cache.get_lookup("a") is None
    assert cache.clear() == 0
    cache.put_lookup("a", "2401.00001")
    assert cache.get_lookup("a") is not None
    assert cache.path.is_file()


# Recovery


def test_garbage_file_is_moved_aside_and_recreated(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / FILENAME
    garbage = b"this is not an SQLite database\n" * 200
    path.write_bytes(garbage)
    with Cache.open(tmp_path, clock=clock) as cache:
        cache.put_lookup("k", "2504.10479")
        assert cache.get_lookup("k") is not None
    aside = tmp_path / f"{FILENAME}.corrupt-{int(clock.now)}"
    assert aside.read_bytes() == garbage


def test_damaged_database_is_moved_aside(tmp_path: Path, clock: FakeClock) -> None:
    with Cache.open(tmp_path, clock=clock) as cache:
        cache.put_entries({f"2401.{n:05d}": entry(f"2401.{n:05d}") * 20 for n in range(1, 200)})
    path = tmp_path / FILENAME
    data = bytearray(path.read_bytes())
    assert len(data) > 8192
    data[4096:8192] = b"\xff" * 4096  # trash a page in the middle
    path.write_bytes(bytes(data))
    with Cache.open(tmp_path, clock=clock) as cache:
        assert cache.info().entries == 0
    assert list(tmp_path.glob(f"{FILENAME}.corrupt-*"))


@pytest.mark.parametrize(
    "setup",
    [
        "CREATE TABLE schema_version (version INTEGER); INSERT INTO schema_version VALUES (99);",
        "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('someone else''s');",
        "CREATE TABLE schema_version (version INTEGER);",
    ],
    ids=["newer-schema", "foreign-database", "no-version-row"],
)
def test_unknown_database_is_moved_aside(tmp_path: Path, clock: FakeClock, setup: str) -> None:
    path = tmp_path / FILENAME
    db = sqlite3.connect(path)
    db.executescript(setup)
    db.close()
    with Cache.open(tmp_path, clock=clock) as cache:
        cache.put_lookup("k", "2504.10479")
    aside = tmp_path / f"{FILENAME}.corrupt-{int(clock.now)}"
    assert aside.is_file()
    kept = sqlite3.connect(aside)
    try:
        names = {row[0] for row in kept.execute("SELECT name FROM sqlite_master")}
    finally:
        kept.close()
    assert "lookups" not in names  # the old file was left as it was


def test_two_recoveries_in_one_second_do_not_collide(tmp_path: Path, clock: FakeClock) -> None:
    for _ in range(2):
        (tmp_path / FILENAME).write_bytes(b"garbage" * 100)
        Cache.open(tmp_path, clock=clock).close()
    assert len(list(tmp_path.glob(f"{FILENAME}.corrupt-*"))) == 2


# Concurrency


def test_threads_share_one_cache(cache: Cache) -> None:
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for n in range(50):
                arxiv_id = f"24{worker:02d}.{n + 1:05d}"
                cache.put_entries({arxiv_id: entry(arxiv_id)})
                cache.put_lookup(f"{worker}-{n}", arxiv_id)
                assert cache.get_entries([arxiv_id]) == {arxiv_id: entry(arxiv_id)}
                assert cache.get_lookup(f"{worker}-{n}") is not None
        except BaseException as error:  # noqa: BLE001 - reported to the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(1, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert cache.info().entries == 300
    assert cache.info().lookups_found == 300


def _write_from_process(directory: str, prefix: str, count: int, start: Event) -> None:
    """Open the cache in a child process and write `count` entries and lookups."""
    start.wait()
    with Cache.open(Path(directory)) as cache:
        for n in range(count):
            arxiv_id = f"{prefix}.{n + 1:05d}"
            cache.put_entries({arxiv_id: entry(arxiv_id)})
            cache.put_lookup(f"{prefix}-{n}", arxiv_id)


def test_processes_write_concurrently(tmp_path: Path) -> None:
    # Every process starts on a directory with no database yet, so they also race to
    # create the schema.
    directory = tmp_path / "shared-cache"
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    children = [
        context.Process(target=_write_from_process, args=(str(directory), prefix, 100, start))
        for prefix in ("2401", "2402", "2403")
    ]
    for child in children:
        child.start()
    start.set()
    _write_from_process(str(directory), "2404", 100, start)
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    with Cache.open(directory) as cache:
        info = cache.info()
        assert info.entries == 400
        assert info.lookups_found == 400
        assert cache.get_entries(["2401.00100", "2404.00001"]).keys() == {
            "2401.00100",
            "2404.00001",
        }
    assert not list(directory.glob("*.corrupt-*"))


def test_a_repeated_not_found_keeps_the_first_expiry(cache: Cache, clock: FakeClock) -> None:
    cache.put_lookup("key", None, reason="HF: no candidate")
    first = clock.now
    for _ in range(3):
        clock.advance(DAY)
        cache.put_lookup("key", None, reason="HF: no candidate (cached answer) (cached answer)")
    found = cache.get_lookup("key")
    assert found == Lookup(arxiv_id=None, reason="HF: no candidate", stored_at=first)
    clock.advance(NOT_FOUND_TTL - 3 * DAY)  # a week after the first failure, not the last
    assert cache.get_lookup("key") is None
    cache.put_lookup("key", None, reason="still missing")
    again = cache.get_lookup("key")
    assert again is not None and (again.reason, again.stored_at) == ("still missing", clock.now)


def test_a_found_answer_replaces_a_live_not_found(cache: Cache, clock: FakeClock) -> None:
    cache.put_lookup("key", None, reason="not yet on arXiv")
    clock.advance(DAY)
    cache.put_lookup("key", "2504.10479")
    found = cache.get_lookup("key")
    assert found is not None and found.arxiv_id == "2504.10479"
