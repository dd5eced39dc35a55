"""Stop signals at any moment of a real `readlist add` process: nothing half-written, nothing lost.

Each case starts `python -m readlist add` of a 300-paper listing into a generated 7,000-entry
.bib against the loopback API doubles (slowed a little so the run lasts), sends SIGINT,
SIGTERM or SIGHUP at one moment (while Hugging Face is searched, while arXiv is asked, while
the .bib is written), and checks: the exit code is 128 + signal, stderr ends with the one
`Interrupted…` line, the .bib is byte-identical or exactly what an uninterrupted run writes,
no temporary or lock file is left, and running the command again finishes the job without
repeating any request the interrupted run got an answer to.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from readlist.bibfile import read_bib
from readlist.testing.fakeapis import FakeArxiv, FakeHf, FakePaper, Fault, RecordedRequest

PAPERS = 300
OLD_ENTRIES = 7000
HF_LATENCY = 0.005  # each Hugging Face search answers after this long
ARXIV_LATENCY = 0.1  # and each arXiv request after this long
ARXIV_DELAY = 0.05
ROOT = Path(__file__).resolve().parents[1]

_WORDS = [
    "sparse",
    "dense",
    "latent",
    "visual",
    "temporal",
    "causal",
    "robust",
    "efficient",
    "scalable",
    "adaptive",
    "neural",
    "graph",
    "token",
    "video",
    "audio",
    "retrieval",
    "reasoning",
    "planning",
    "alignment",
    "diffusion",
    "transformer",
    "memory",
    "agent",
    "policy",
    "reward",
    "contrastive",
    "multilingual",
    "medical",
    "spatial",
    "streaming",
]


def make_papers(count: int) -> list[FakePaper]:
    """Distinct papers; every tenth is on arXiv only, so the arXiv title search is used."""
    papers = []
    n = len(_WORDS)
    for i in range(count):
        a, b, c = _WORDS[i % n], _WORDS[(i // n) % n], _WORDS[(i * 7 + 3) % n]
        title = f"{a.title()} {b} {c} learning, study number {i}"
        abstract = (
            f"We study {a} {b} models for {c} tasks in setting {i}. Our method improves "
            f"{b} {c} baselines on {i % 13 + 2} benchmarks and we release the code."
        )
        papers.append(
            FakePaper(
                arxiv_id=f"2401.{i + 10:05d}",
                title=title,
                abstract=abstract,
                authors=[f"Ada {a.title()}{i}", "Bo Chen"],
                published="2024-01-15T10:00:00Z",
                updated="2024-01-15T10:00:00Z",
                primary_category="cs.LG",
                in_hf=i % 10 != 3,
            )
        )
    return papers


def listing_text(papers: list[FakePaper]) -> str:
    return "".join(f"{p.title}\n\n{p.abstract}\n\n" for p in papers)


def old_bib(count: int) -> bytes:
    """A user's library: comments, a @string, and `count` entries readlist must not touch."""
    parts = ["% my library\n@string{jml = {Journal of Machine Learning}}\n"]
    for i in range(count):
        parts.append(
            f"\n@article{{old{i},\n  title = {{An Older Result Number {i} on Things}},\n"
            f"  author = {{Smith, Jane and Doe, John}},\n  journal = jml,\n"
            f"  year = {{{1990 + i % 30}}},\n  pages = {{{i}--{i + 9}}}\n}}\n"
        )
    return "".join(parts).encode()


def request_keys(requests: list[RecordedRequest]) -> set[str]:
    """What each request asked for: HF queries, arXiv IDs, arXiv title phrases."""
    keys = set()
    for request in requests:
        if "q" in request.params:
            keys.add(f"hf:{request.params['q']}")
        for arxiv_id in filter(None, request.params.get("id_list", "").split(",")):
            keys.add(f"id:{arxiv_id}")
        for phrase in re.findall(r'ti:"([^"]*)"', request.params.get("search_query", "")):
            keys.add(f"ti:{phrase}")
    return keys


class Run:
    """One world (API doubles, folder, cache) in which the command runs, maybe interrupted."""

    def __init__(self, folder: Path, papers: list[FakePaper], original: bytes) -> None:
        self.folder = folder
        self.arxiv = FakeArxiv(papers, min_interval=ARXIV_DELAY).start()
        self.hf = FakeHf(papers).start()
        folder.mkdir()
        (folder / "listing.txt").write_text(listing_text(papers))
        (folder / "refs.bib").write_bytes(original)
        (folder.parent / f"{folder.name}-config.toml").write_text("")
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "READLIST_CONFIG": str(folder.parent / f"{folder.name}-config.toml"),
            "READLIST_CACHE_DIR": str(folder.parent / f"{folder.name}-cache"),
            "READLIST_ARXIV_API_URL": self.arxiv.url,
            "READLIST_HF_API_URL": self.hf.url,
            "READLIST_ARXIV_DELAY": str(ARXIV_DELAY),
        }
        self.slow_down()

    def slow_down(self) -> None:
        self.hf.inject(
            *[Fault.timeout(HF_LATENCY, path="/api/papers/search") for _ in range(PAPERS)]
        )
        self.arxiv.inject(*[Fault.timeout(ARXIV_LATENCY) for _ in range(20)])

    def start(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "readlist", "add", "listing.txt", "--all", "--bib", "refs.bib"],
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    @property
    def cache(self) -> Path:
        return Path(self.env["READLIST_CACHE_DIR"])

    def requests(self) -> list[RecordedRequest]:
        return [*self.hf.requests, *self.arxiv.requests]

    def close(self) -> None:
        self.arxiv.stop()
        self.hf.stop()


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[list[FakePaper], bytes, bytes, Path]]:
    """The papers, the user's .bib, the .bib an uninterrupted run leaves, and its cache."""
    papers = make_papers(PAPERS)
    original = old_bib(OLD_ENTRIES)
    run = Run(tmp_path_factory.mktemp("reference") / "w", papers, original)
    try:
        done = run.start()
        out, err = done.communicate(timeout=120)
        assert done.returncode == 0, err[-2000:]
        assert err.endswith(
            f"{PAPERS} added, 0 already present ({len(run.requests())} requests) in refs.bib\n"
        )
        complete = (run.folder / "refs.bib").read_bytes()
    finally:
        run.close()
    assert complete.startswith(original)
    assert len(read_bib(run.folder / "refs.bib").entries) == OLD_ENTRIES + PAPERS
    yield papers, original, complete, run.cache


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen[str], poll: float) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert proc.poll() is None, "the run ended before the moment to interrupt it"
        assert time.monotonic() < deadline
        time.sleep(poll)


def temp_file_exists(folder: Path) -> Callable[[], bool]:
    return lambda: any(name.endswith(".tmp") for name in os.listdir(folder))


LINE = re.compile(
    r"Interrupted(?: \((?P<name>SIG[A-Z]+)\))?: refs\.bib "
    r"(?P<bib>unchanged|was written in full before stopping); "
    r"(?:(?P<saved>\d+) fetched results? kept in the cache|nothing fetched yet)"
    r"(?P<again> — run the same command again to continue)?\.\n"
)

# (signal, moment): the Hugging Face phase early and late, the arXiv requests, the write.
CASES = [
    (signal.SIGINT, "hf:5"),
    (signal.SIGTERM, "hf:150"),
    (signal.SIGHUP, "hf:280"),
    (signal.SIGINT, "arxiv:2"),
    (signal.SIGTERM, "write"),
    (signal.SIGHUP, "write"),
    (signal.SIGINT, "write"),
    (signal.SIGKILL, "write"),  # cannot be deferred: the rename still makes it all or nothing
]


@pytest.mark.parametrize(("signum", "moment"), CASES, ids=[f"{s.name}-{m}" for s, m in CASES])
def test_a_stop_signal_keeps_the_bib_whole_and_the_answers_cached(
    world: tuple[list[FakePaper], bytes, bytes, Path],
    tmp_path: Path,
    signum: signal.Signals,
    moment: str,
) -> None:
    papers, original, complete, warm_cache = world
    run = Run(tmp_path / "w", papers, original)
    if moment == "write":  # resolution is covered by the other moments: start with it done
        shutil.copytree(warm_cache, run.cache)
    try:
        proc = run.start()
        if moment == "write":
            wait_until(temp_file_exists(run.folder), proc, poll=0.0002)
        else:
            where, count = moment.split(":")
            seen = run.hf if where == "hf" else run.arxiv
            wait_until(lambda: len(seen.requests) >= int(count), proc, poll=0.002)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
        first = run.requests()
        hf_seen, arxiv_seen = len(run.hf.requests), len(run.arxiv.requests)
        if signum == signal.SIGKILL:
            assert proc.returncode == -signal.SIGKILL
            assert (run.folder / "refs.bib").read_bytes() in (original, complete)
            again = run.start()
            again.communicate(timeout=120)
            assert again.returncode == 0
            assert (run.folder / "refs.bib").read_bytes() == complete
            assert sorted(os.listdir(run.folder)) == ["listing.txt", "refs.bib"]
            return

        assert proc.returncode == 128 + signum, err[-2000:]
        line = err.splitlines(keepends=True)[-1]
        found = LINE.fullmatch(line)
        assert found, line
        assert found["name"] == (None if signum == signal.SIGINT else signum.name)
        after = (run.folder / "refs.bib").read_bytes()
        if found["bib"] == "unchanged":
            assert after == original
            assert found["again"]
            assert err == line  # nothing else was said
        else:
            assert after == complete
        assert moment != "write" or after == complete, "the write was cut short"
        assert moment == "write" or int(found["saved"] or 0) > 0
        assert sorted(os.listdir(run.folder)) == ["listing.txt", "refs.bib"]

        # Again, to the end: nothing asked twice, and the same .bib as an uninterrupted run.
        run.slow_down()
        again = run.start()
        out, err = again.communicate(timeout=120)
        assert again.returncode == 0, err[-2000:]
        assert (run.folder / "refs.bib").read_bytes() == complete
        rerun = [*run.hf.requests[hf_seen:], *run.arxiv.requests[arxiv_seen:]]
        repeated = request_keys(first) & request_keys(rerun)
        assert not repeated
        assert sorted(os.listdir(run.folder)) == ["listing.txt", "refs.bib"]
    finally:
        if proc.poll() is None:
            proc.kill()
        run.close()


@pytest.mark.parametrize("twice", [False, True], ids=["once", "twice"])
def test_a_hung_server_does_not_hold_a_stopped_run(
    world: tuple[list[FakePaper], bytes, bytes, Path], tmp_path: Path, twice: bool
) -> None:
    papers, original, _, _ = world
    run = Run(tmp_path / "w", papers[:20], original[:2000].rsplit(b"\n@", 1)[0] + b"\n")
    hang = 30.0
    try:
        run.hf._faults.clear()
        run.hf.inject(*[Fault.timeout(hang, path="/api/papers/search") for _ in range(20)])
        proc = run.start()
        wait_until(lambda: len(run.hf.requests) >= 4, proc, poll=0.01)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        if twice:  # a second Ctrl-C does not wait for the requests in flight
            time.sleep(0.5)
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=hang)
        took = time.monotonic() - started
        assert proc.returncode == 130, err
        assert LINE.fullmatch(err.splitlines(keepends=True)[-1]), err
        assert took < (2.0 if twice else 8.0)
    finally:
        run.close()


def test_resolve_stopped_keeps_the_bib_and_goes_on_where_it_stopped(
    world: tuple[list[FakePaper], bytes, bytes, Path], tmp_path: Path
) -> None:
    papers, original, _, _ = world
    run = Run(tmp_path / "w", papers[:120], original)
    try:
        offline = subprocess.run(
            [sys.executable, "-m", "readlist", "add", "listing.txt", "--all", "--offline"]
            + ["--bib", "refs.bib"],
            cwd=run.folder,
            env=run.env,
            capture_output=True,
            text=True,
        )
        assert offline.returncode == 0, offline.stderr
        pending = (run.folder / "refs.bib").read_bytes()
        command = [sys.executable, "-m", "readlist", "resolve", "--bib", "refs.bib"]
        proc = subprocess.Popen(
            command, cwd=run.folder, env=run.env, stderr=subprocess.PIPE, text=True
        )
        wait_until(lambda: len(run.hf.requests) >= 60, proc, poll=0.002)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 128 + signal.SIGTERM, err
        found = LINE.fullmatch(err)
        assert found and found["bib"] == "unchanged" and int(found["saved"]) >= 60, err
        assert (run.folder / "refs.bib").read_bytes() == pending
        first = request_keys(run.requests())
        seen = len(run.hf.requests), len(run.arxiv.requests)

        again = subprocess.run(command, cwd=run.folder, env=run.env, capture_output=True, text=True)
        assert again.returncode == 0, again.stderr
        assert again.stderr.endswith("120 resolved, 0 still unresolved\n")
        rerun = [*run.hf.requests[seen[0] :], *run.arxiv.requests[seen[1] :]]
        assert not first & request_keys(rerun)
        bib = read_bib(run.folder / "refs.bib")
        assert len(bib.entries) == OLD_ENTRIES + 120
        assert not any(e.is_unresolved for e in bib.entries)
        assert bib.encode().startswith(original)
        assert sorted(os.listdir(run.folder)) == ["listing.txt", "refs.bib"]
    finally:
        run.close()
