"""Network edges end to end: proxy error pages, stalled and trickling arXiv answers, and the
"not found" cache, through the real CLI against the loopback doubles with the real 3 s floor.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from readlist.bibfile import read_bib
from readlist.cli import cli
from readlist.resolve.cache import FILENAME, NOT_FOUND_TTL
from readlist.testing.fakeapis import HTML_ERROR_PAGE, FakeArxiv, Fault

# The per-request deadline these tests configure: one stalled attempt costs this much.
DEADLINE = 1.5


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def deadline(isolated_env: Path) -> None:
    (isolated_env / "config.toml").write_text(f"[arxiv]\ntimeout_seconds = {DEADLINE}\n")


def _add_two(world) -> tuple[Result, float]:  # type: ignore[no-untyped-def]
    ids = [p.arxiv_id for p in world.papers if p.in_arxiv][:2]
    started = time.monotonic()
    result = run("add", *ids, "--bib", "refs.bib", "-v")  # -v: every reason in full
    return result, time.monotonic() - started


def _check_unresolved_with(result: Result, tmp_path: Path, reason: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "2 added, 0 already present, 2 unresolved" in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("  arxiv")]
    assert len(lines) == 2 and all(reason in line for line in lines), result.stderr
    assert len(read_bib(tmp_path / "refs.bib").entries) == 2


@pytest.mark.parametrize("status", [200, 502])
def test_an_html_error_page_costs_seconds(
    world, servers, tmp_path: Path, deadline: None, status: int
) -> None:  # type: ignore[no-untyped-def]
    arxiv, _ = servers
    arxiv.inject(*[Fault.body(HTML_ERROR_PAGE, "text/html", code=status)] * 10)
    result, elapsed = _add_two(world)
    _check_unresolved_with(result, tmp_path, "an HTML page (503 Service Temporarily Unavailable)")
    assert len(arxiv.requests) == 2  # one retry, then no more
    assert elapsed < 10
    if status == 502:
        assert elapsed >= 3.0  # the backoff floor held, though the double is paced at 0.05 s


def test_a_stalled_answer_costs_seconds(world, servers, tmp_path: Path, deadline: None) -> None:  # type: ignore[no-untyped-def]
    arxiv, _ = servers
    arxiv.inject(*[Fault.timeout(60)] * 10)
    result, elapsed = _add_two(world)
    _check_unresolved_with(result, tmp_path, f"no answer within {DEADLINE:g} s (ReadTimeout)")
    assert len(arxiv.requests) == 2
    assert 2 * DEADLINE + 3.0 <= elapsed < 10


def test_a_trickling_answer_costs_seconds(world, servers, tmp_path: Path, deadline: None) -> None:  # type: ignore[no-untyped-def]
    arxiv, _ = servers
    # A byte every 0.1 s keeps httpx's per-read timeout happy for a minute.
    arxiv.inject(*[Fault.trickle(60, every=0.1)] * 10)
    result, elapsed = _add_two(world)
    _check_unresolved_with(result, tmp_path, "the server stalled after")
    assert len(arxiv.requests) == 2
    assert elapsed < 10


def test_trickle_fault_sends_its_bytes_slowly(arxiv: FakeArxiv) -> None:
    arxiv.inject(Fault.trickle(0.5, every=0.1))
    started = time.monotonic()
    with httpx.Client(timeout=2, trust_env=False) as client:
        response = client.get(arxiv.url, params={"id_list": "2401.00001"})
    assert response.status_code == 200 and response.content == b" " * 5
    assert 0.5 <= time.monotonic() - started < 2


@pytest.fixture
def arxiv() -> FakeArxiv:  # type: ignore[misc]
    with FakeArxiv([], min_interval=0.0) as server:
        yield server


def _lookups(cache_dir: Path) -> list[tuple[str, float, float]]:
    # Each "not found": the title's answer, and Hugging Face's own (kept for interrupted runs).
    with sqlite3.connect(cache_dir / FILENAME) as db:
        return list(db.execute("SELECT reason, stored_at, expires_at FROM lookups ORDER BY key"))


def test_not_found_keeps_its_first_expiry_and_reason(world, servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    listing = tmp_path / "missing.txt"
    listing.write_text("A Paper That Neither Index Has Ever Heard Of\n")
    first = run("add", str(listing), "--all", "--bib", "refs.bib")
    assert first.exit_code == 1, first.output
    cache_dir = tmp_path / "cache"
    rows = _lookups(cache_dir)
    assert rows
    for _, stored_at, expires_at in rows:
        assert expires_at == pytest.approx(stored_at + NOT_FOUND_TTL)
    for n in range(3):
        time.sleep(0.01)
        again = run("add", str(listing), "--all", "--bib", f"again{n}.bib", "-v")
        assert "(cached answer; --refresh asks again)" in again.stderr
        assert _lookups(cache_dir) == rows
    refreshed = run("add", str(listing), "--all", "--refresh", "--bib", "refreshed.bib")
    assert refreshed.exit_code == 1
    assert _lookups(cache_dir) == rows
