"""Shared fixtures: every test runs with its own config and cache, and no secrets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from readlist.testing.fakeapis import FakeArxiv, FakeHf, sample_papers

# Everything the tests need is in tests/data (origins and licences in tests/data/SOURCES.md).
DATA = Path(__file__).resolve().parent / "data"
# ../shared is optional: when it sits beside the checkout (or READLIST_TEST_SHARED names it),
# its larger .bib corpora join the corpus tests (marked `extra_corpus`); without it those cases
# are simply not generated.
SHARED = Path(
    os.environ.get("READLIST_TEST_SHARED") or Path(__file__).resolve().parents[2] / "shared"
)

_ENV_TO_CLEAR = (
    "ZOTERO_API_KEY",
    "ZOTERO_LIBRARY_ID",
    "HF_TOKEN",
    "READLIST_BIB",
    "READLIST_ARXIV_API_URL",
    "READLIST_ARXIV_DELAY",
    "READLIST_HF_API_URL",
    "READLIST_ZOTERO_API_URL",
    "READLIST_DEBUG",
    "XDG_CONFIG_HOME",
    "XDG_CACHE_HOME",
)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point config and cache into tmp_path and drop anything that could leak a secret."""
    home = tmp_path / "home"
    home.mkdir()
    for name in _ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    # READLIST_CONFIG must name an existing file: start each test with an empty one.
    (home / "config.toml").write_text("")
    monkeypatch.setenv("READLIST_CONFIG", str(home / "config.toml"))
    monkeypatch.setenv("READLIST_CACHE_DIR", str(tmp_path / "cache"))
    # Tests never reach the internet: unless a test points them at its own loopback server,
    # the APIs are a closed local port (connection refused at once), paced for speed.
    monkeypatch.setenv("READLIST_ARXIV_API_URL", "http://127.0.0.1:9/api/query")
    monkeypatch.setenv("READLIST_HF_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setenv("READLIST_ZOTERO_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("READLIST_ARXIV_DELAY", "0.01")
    return home


@pytest.fixture
def data() -> Path:
    """The test data shipped in the repository (listings, recorded responses, corpora)."""
    return DATA


@pytest.fixture(scope="session")
def texmfvar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A font cache shared by every LaTeX compilation of the session (fonts are made once)."""
    return tmp_path_factory.mktemp("texmf-var")


DELAY = 0.05  # the API doubles enforce the same pacing rule at this interval


@pytest.fixture
def world(data: Path):  # type: ignore[no-untyped-def]
    return sample_papers(data / "listings")


@pytest.fixture
def servers(
    world, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[FakeArxiv, FakeHf]]:
    with FakeArxiv(world.papers, min_interval=DELAY) as arxiv, FakeHf(world.papers) as hf:
        monkeypatch.setenv("READLIST_ARXIV_API_URL", arxiv.url)
        monkeypatch.setenv("READLIST_HF_API_URL", hf.url)
        monkeypatch.setenv("READLIST_ARXIV_DELAY", str(DELAY))
        monkeypatch.chdir(tmp_path)
        yield arxiv, hf


def listing_files() -> list[Path]:
    return sorted((DATA / "listings").glob("*.txt"))


def corpus_files() -> list[Any]:
    """The shipped .bib corpus, plus ../shared's larger files (marked) when present."""
    shipped = sorted((DATA / "corpora" / "bib").glob("*.bib"))
    names = {p.name for p in shipped}
    extra = sorted((SHARED / "corpora" / "bib").glob("*.bib")) if SHARED.is_dir() else []
    return [*shipped] + [
        pytest.param(p, marks=pytest.mark.extra_corpus, id=f"extra-{p.name}")
        for p in extra
        if p.name not in names
    ]
