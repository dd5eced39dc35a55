"""The resolver caches each answer as it arrives, and stops between requests when asked."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence

import pytest
from conftest import DELAY

from readlist.config import load_config
from readlist.models import ArxivId, Listing
from readlist.resolve import Resolution, service
from readlist.resolve.service import build_resolver
from readlist.signals import Stopped


def resolve(
    listings: Sequence[Listing], stop_when: Callable[[str, int], bool] | None = None
) -> tuple[list[Resolution] | None, int]:
    """Resolve with a fresh resolver; `stop_when(phase, done)` asks it to stop (as a signal
    would). Return the resolutions (None when stopped) and the answers it saved."""
    holder: list[service.NetworkResolver] = []

    def progress(label: str, done: int, total: int) -> None:
        if stop_when is not None and stop_when(label, done):
            holder[0].stop.set()

    resolver, close = build_resolver(load_config(os.environ, {}), offline=False, progress=progress)
    holder.append(resolver)
    try:
        try:
            return resolver.resolve(listings), resolver.saved
        except Stopped:
            return None, resolver.saved
    finally:
        close()


def queries(requests: Sequence[object]) -> list[str]:
    return [r.params["q"] for r in requests if "q" in r.params]  # type: ignore[attr-defined]


def test_hugging_face_answers_are_kept_when_stopped(world, servers) -> None:  # type: ignore[no-untyped-def]
    arxiv, hf = servers
    listings = [item for item in world.listings if item.title][:30]
    stopped, saved = resolve(listings, lambda phase, done: phase == "Hugging Face" and done == 8)
    assert stopped is None
    first = queries(hf.requests)
    assert 8 <= len(first) < 30  # the rest were never sent
    assert saved >= len(first)  # one answer per query (plus a search's own "no")
    assert arxiv.requests == []  # stopped before arXiv was asked anything

    results, _ = resolve(listings)
    assert results is not None
    second = queries(hf.requests)[len(first) :]
    assert not set(first) & set(second)  # nothing answered is asked again
    for result in results:
        found = result.paper.arxiv_id.id if result.resolved and result.paper.arxiv_id else None
        assert found == world.expected(result.listing), result.listing.title


def test_hugging_face_misses_are_kept_for_the_arxiv_search(world, servers) -> None:  # type: ignore[no-untyped-def]
    arxiv, hf = servers
    only_arxiv = [p for p in world.papers if p.in_arxiv and not p.in_hf][:4]
    listings = [Listing(title=p.title, abstract=p.abstract) for p in only_arxiv]
    stopped, _ = resolve(listings, lambda phase, done: phase == "arXiv search")
    assert stopped is None and arxiv.requests == []
    asked = len(hf.requests)
    results, _ = resolve(listings)
    assert results is not None and all(r.resolved for r in results)
    assert len(hf.requests) == asked  # Hugging Face's "no" was remembered
    assert [r.paper.arxiv_id.id for r in results if r.paper.arxiv_id] == [
        p.arxiv_id for p in only_arxiv
    ]


def test_arxiv_metadata_is_cached_batch_by_batch(
    world, servers, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    arxiv, _ = servers
    monkeypatch.setattr(service, "METADATA_BATCH", 4)
    ids = [p.arxiv_id for p in world.papers if p.in_arxiv][:10]
    listings = [Listing(arxiv_id=ArxivId(i)) for i in ids]
    stopped, saved = resolve(listings, lambda phase, done: phase == "arXiv metadata" and done == 4)
    assert stopped is None
    assert len(arxiv.requests) == 1 and saved == 4  # the first batch, saved at once
    time.sleep(2 * DELAY)  # a new resolver does not know when the last one asked arXiv
    results, _ = resolve(listings)
    assert results is not None and all(r.resolved for r in results)
    asked_again = [r.params["id_list"].split(",") for r in arxiv.requests[1:]]
    assert sorted(i for batch in asked_again for i in batch) == sorted(ids[4:])


def test_an_arxiv_failure_keeps_the_batches_before_it(
    world, servers, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from readlist.testing.fakeapis import Fault

    arxiv, _ = servers
    monkeypatch.setattr(service, "METADATA_BATCH", 3)
    ids = [p.arxiv_id for p in world.papers if p.in_arxiv][:6]
    listings = [Listing(arxiv_id=ArxivId(i)) for i in ids]

    def fail_later(phase: str, done: int) -> bool:
        if phase == "arXiv metadata" and done == 3:
            arxiv.inject(Fault.status(400, "bad request"))
        return False

    results, saved = resolve(listings, fail_later)
    assert results is not None
    assert [r.resolved for r in results] == [True] * 3 + [False] * 3
    assert saved == 3
    again, _ = resolve(listings)
    assert again is not None and all(r.resolved for r in again)
    assert arxiv.requests[-1].params["id_list"].split(",") == ids[3:]
