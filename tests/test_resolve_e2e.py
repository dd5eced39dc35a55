"""Resolution end to end: the real CLI against loopback arXiv and Hugging Face doubles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import listing_files

from readlist.bibfile import read_bib
from readlist.cli import cli
from readlist.normalize import normalize_title
from readlist.testing.fakeapis import BILLION_LAUGHS, HTML_ERROR_PAGE, FakeArxiv, Fault


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def arxiv_requests(arxiv: FakeArxiv) -> int:
    return len(arxiv.requests)


def check_no_wrong_ids(world, bib: Path) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Assert no entry carries a wrong arXiv ID; return (resolved, findable)."""
    resolved = 0
    by_title = {normalize_title(x.title or ""): x for x in world.listings}
    for entry in read_bib(bib).entries:
        listing_title = entry.fields["title"]
        truth = world.truth.get(normalize_title(_plain(listing_title)))
        if entry.is_unresolved:
            continue
        resolved += 1
        assert truth is not None, f"{entry.key} resolved, but its paper is in neither index"
        assert entry.fields["eprint"] == truth, f"{entry.key}: wrong arXiv ID"
    findable = sum(1 for t in by_title if world.truth.get(t))
    return resolved, findable


def _plain(value: str) -> str:
    from readlist.library import plain_field

    return plain_field(value)


def test_all_listings_resolve_without_a_wrong_id(world, servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    arxiv, hf = servers
    files = [str(p) for p in listing_files()]
    result = run("add", *files, "--all", "--bib", "refs.bib", "--json")
    data = json.loads(result.stdout)
    assert arxiv.violations == 0
    resolved, findable = check_no_wrong_ids(world, tmp_path / "refs.bib")
    assert resolved >= 0.97 * findable, result.stderr
    unresolved = [a for a in data["added"] if not a["resolved"]]
    assert all(a["reason"] for a in unresolved)
    assert result.exit_code == (1 if unresolved else 0), result.stderr
    # every arXiv request is batched: a handful, not one per paper
    assert arxiv_requests(arxiv) <= 10, [r.params for r in arxiv.requests]
    assert hf.max_in_flight <= 4

    # a warm re-run makes no request at all and adds nothing
    before_a, before_h = len(arxiv.requests), len(hf.requests)
    again = run("add", *files, "--all", "--bib", "refs.bib")
    assert "0 added" in again.stderr
    assert (len(arxiv.requests), len(hf.requests)) == (before_a, before_h)


def test_resolved_entries_carry_arxiv_metadata(world, servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    listing = world.listings[0]
    paper = world.paper(world.expected(listing))
    (tmp_path / "one.txt").write_text(f"{listing.title}\n\n{listing.abstract}\n")
    result = run("add", "one.txt", "--all", "--bib", "refs.bib")
    assert result.exit_code == 0, result.stderr
    (entry,) = read_bib(tmp_path / "refs.bib").entries
    assert not entry.is_unresolved
    assert entry.fields["eprint"] == paper.arxiv_id
    assert entry.fields["year"] == paper.published[:4]
    assert entry.fields["primaryclass"] == paper.primary_category
    assert entry.fields["author"].count(" and ") == len(paper.authors) - 1


def test_identifiers_resolve_and_offline_uses_the_cache(world, servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    arxiv, _ = servers
    ids = [p.arxiv_id for p in world.papers if p.in_arxiv][:3]
    result = run("add", *ids, "--bib", "a.bib")
    assert result.exit_code == 0, result.stderr
    assert all(not e.is_unresolved for e in read_bib(tmp_path / "a.bib").entries)
    assert len(arxiv.requests) == 1  # one id_list request for all three
    offline = run("add", *ids, "--offline", "--bib", "b.bib")
    assert offline.exit_code == 0
    assert all(not e.is_unresolved for e in read_bib(tmp_path / "b.bib").entries)
    assert len(arxiv.requests) == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault.status(503, "Service Unavailable", headers={"Retry-After": "0"}),
        Fault.status(429, "Rate exceeded", headers={"Retry-After": "0"}),
        Fault.status(500, "oops"),
        Fault.body(b"<feed><unclosed"),
        Fault.body(BILLION_LAUGHS),
        Fault.body(HTML_ERROR_PAGE, content_type="text/html"),
        Fault.body(b""),
    ],
    ids=["503", "429", "500", "malformed", "hostile", "html", "empty"],
)
def test_arxiv_faults_end_cleanly(
    world, servers, tmp_path: Path, isolated_env: Path, fault: Fault
) -> None:  # type: ignore[no-untyped-def]
    arxiv, _ = servers
    # One retry, after the 3 s backoff floor: the rest of the budget would only add minutes.
    (isolated_env / "config.toml").write_text("[arxiv]\nmax_retries = 1\n")
    arxiv.inject(*[fault] * 8)
    ids = [p.arxiv_id for p in world.papers if p.in_arxiv][:2]
    result = run("add", *ids, "--bib", "refs.bib")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "2 added, 0 already present, 2 unresolved" in result.stderr  # the summary
    assert "arXiv API" in result.stderr  # the reason names the failure
    entries = read_bib(tmp_path / "refs.bib").entries
    assert len(entries) == 2  # every paper written, resolved or not
    assert arxiv.violations == 0


def test_arxiv_timeout_is_retried_then_reported(
    world, servers, tmp_path: Path, isolated_env: Path
) -> None:  # type: ignore[no-untyped-def]
    arxiv, _ = servers
    (isolated_env / "config.toml").write_text("[arxiv]\ntimeout_seconds = 0.3\n")
    arxiv.inject(Fault.timeout(1.0))
    ids = [p.arxiv_id for p in world.papers if p.in_arxiv][:2]
    result = run("add", *ids, "--bib", "refs.bib")
    assert result.exit_code == 0, result.output  # the retry succeeded
    assert all(not e.is_unresolved for e in read_bib(tmp_path / "refs.bib").entries)


def test_hugging_face_failures_fall_back_to_arxiv_search(world, servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    arxiv, hf = servers
    hf.inject(*[Fault.status(500, "down")] * 40)
    listing = world.listings[0]
    (tmp_path / "one.txt").write_text(f"{listing.title}\n\n{listing.abstract}\n")
    result = run("add", "one.txt", "--all", "--bib", "refs.bib")
    assert result.exit_code == 0, result.stderr
    (entry,) = read_bib(tmp_path / "refs.bib").entries
    assert entry.fields["eprint"] == world.expected(listing)
    assert any("search_query" in r.params for r in arxiv.requests)


def test_resolve_command_completes_offline_entries(world, servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    listing = world.listings[1]
    (tmp_path / "one.txt").write_text(f"{listing.title}\n\n{listing.abstract}\n")
    run("add", "one.txt", "--all", "--offline", "--bib", "refs.bib")
    before = (tmp_path / "refs.bib").read_text()
    (tmp_path / "refs.bib").write_text("% mine\n" + before)
    result = run("resolve", "--bib", "refs.bib")
    assert result.exit_code == 0, result.stderr
    assert "1 resolved, 0 still unresolved" in result.stderr
    text = (tmp_path / "refs.bib").read_text()
    assert text.startswith("% mine\n")
    (entry,) = read_bib(tmp_path / "refs.bib").entries
    assert entry.fields["eprint"] == world.expected(listing)
    assert entry.key == read_bib_key(before)


def read_bib_key(text: str) -> str:
    return text.split("{", 1)[1].split(",", 1)[0]


def test_cache_info_and_clear(world, servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = [p.arxiv_id for p in world.papers if p.in_arxiv][:2]
    run("add", *ids, "--bib", "refs.bib")
    info = json.loads(run("cache", "info", "--json").stdout)
    assert info["arxiv_entries"] == 2
    assert info["bib_indexes"] == 1 and info["bib_indexes_bytes"] > 0
    cleared = run("cache", "clear")
    assert cleared.exit_code == 0 and "rows removed" in cleared.stderr
    assert "1 .bib index removed" in cleared.stderr
    info = json.loads(run("cache", "info", "--json").stdout)
    assert info["arxiv_entries"] == 0 and info["bib_indexes"] == 0


@pytest.mark.parametrize("style", ["bibtex", "biblatex"])
def test_resolved_entries_compile_without_warnings(  # type: ignore[no-untyped-def]
    world, servers, tmp_path: Path, texmfvar: Path, style: str
) -> None:
    from latex_tools import compile_biblatex, compile_natbib, require_tools

    require_tools("pdflatex", "bibtex" if style == "bibtex" else "biber")
    files = [str(p) for p in listing_files()]
    run("add", *files, "--all", "--style", style, "--bib", "refs.bib")
    entries = read_bib(tmp_path / "refs.bib").entries
    keys = [e.key for e in entries if not e.is_unresolved]
    assert len(keys) > 150
    assert any(
        not e.fields["author"].isascii() or "\\" in e.fields["author"]
        for e in entries
        if not e.is_unresolved
    )
    compile_ = compile_natbib if style == "bibtex" else compile_biblatex
    outcome = compile_(
        (tmp_path / "refs.bib").read_text(), keys, tmp_path / "doc", texmfvar=texmfvar
    )
    assert outcome.ok, outcome.summary()
    assert not outcome.warnings, outcome.summary()


def test_hugging_face_quota_falls_back_to_arxiv_instead_of_waiting(  # type: ignore[no-untyped-def]
    world, servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from readlist.testing.fakeapis import FakeHf

    arxiv, _ = servers
    with FakeHf(world.papers, quota=5, window=300) as limited:
        monkeypatch.setenv("READLIST_HF_API_URL", limited.url)
        findable = [x for x in world.listings if world.expected(x)][:30]
        (tmp_path / "some.txt").write_text(
            "\n\n".join(f"{x.title}\n\n{x.abstract}" for x in findable) + "\n"
        )
        start = time.monotonic()
        result = run("add", "some.txt", "--all", "--bib", "refs.bib")
        elapsed = time.monotonic() - start
        # HF's quota is respected: after the first refusal nothing more is sent to it
        assert limited.refused <= 4
    assert elapsed < 30, result.stderr
    resolved = [e for e in read_bib(tmp_path / "refs.bib").entries if not e.is_unresolved]
    assert len(resolved) >= 28, result.stderr
    assert arxiv.violations == 0


def test_an_unusable_cache_does_not_stop_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("READLIST_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.chdir(tmp_path)
    result = run("add", "2504.10479", "--offline", "--bib", "refs.bib")
    assert result.exit_code == 0, result.output
    assert "warning: working without the cache" in result.stderr
    assert len(read_bib(tmp_path / "refs.bib").entries) == 1


def test_an_unknown_arxiv_id_is_reported_and_not_written(world, servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    known = next(p for p in world.papers if p.in_arxiv)
    result = run("add", "2501.99999", known.arxiv_id, "--bib", "refs.bib", "--json")
    assert result.exit_code == 1, result.stderr
    assert "not found: arXiv:2501.99999: arXiv has no such paper" in result.stderr
    assert json.loads(result.stdout)["not_found"] == ["arXiv:2501.99999"]
    (entry,) = read_bib(tmp_path / "refs.bib").entries
    assert entry.fields["eprint"] == known.arxiv_id
    # offline, an ID cannot be checked: it is written, unresolved, for `resolve` to finish
    offline = run("add", "2501.99998", "--offline", "--bib", "refs.bib")
    assert offline.exit_code == 0 and "1 added" in offline.stderr


def test_rerunning_add_online_completes_what_an_offline_run_left(
    world, servers, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    listing = world.listings[0]
    paper = world.paper(world.expected(listing))
    (tmp_path / "one.txt").write_text(f"{listing.title}\n\n{listing.abstract}\n")
    bib = tmp_path / "refs.bib"
    bib.write_text("% mine\n@misc{other, title = {Other}}\n")
    offline = run("add", "one.txt", "--all", "--offline", "--tag", "mine", "--bib", "refs.bib")
    assert offline.exit_code == 0, offline.stderr
    (_, pending) = read_bib(bib).entries
    assert pending.is_unresolved
    online = run("add", "one.txt", "--all", "--bib", "refs.bib", "--json")
    assert online.exit_code == 0, online.stderr
    assert "0 added, 0 already present, 1 completed in place" in online.stderr
    assert json.loads(online.stdout)["present"][0]["completed"] is True
    (other, done) = read_bib(bib).entries
    assert bib.read_text().startswith("% mine\n@misc{other, title = {Other}}\n")
    assert done.key == pending.key and not done.is_unresolved
    assert done.fields["eprint"] == paper.arxiv_id and "mine" in done.tags
    # and a third run has nothing left to do
    third = run("add", "one.txt", "--all", "--bib", "refs.bib")
    assert "0 added, 1 already present; nothing to add" in third.stderr


def test_fifty_failures_fit_on_a_screen(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    titles = [f"Quixotic Zebra Manifold Number {n} Of A Paper Nobody Wrote" for n in range(50)]
    abstract = "An abstract. " * 150  # 2,000 characters: reasons must not drag it along
    (tmp_path / "l.txt").write_text("".join(f"{t}\n\n{abstract}\n\n" for t in titles))
    result = run("add", "l.txt", "--all", "--bib", "refs.bib")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) <= 25, result.stderr
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert lines[0] == "unresolved (50):"
    assert "… and 30 more (-v or --json shows every one" in result.stderr
    assert "50 added, 0 already present, 50 unresolved" in result.stderr
    assert len(result.stdout.splitlines()) == 50  # the keys, data on stdout
    verbose = run("add", "l.txt", "--all", "--bib", "other.bib", "-v", "--refresh")
    assert verbose.stderr.count("Quixotic Zebra") == 50
