"""The warm index of a .bib (readlist.libindex): answers without parsing, takes up a file that
only grew by reading its tail, and never changes what readlist reads or writes."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import DATA, corpus_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from readlist import bibparse, libindex
from readlist.bibfile import decode_bib, read_bib
from readlist.cli import cli
from readlist.errors import BibFileError
from readlist.library import BibOptions, add_papers, mark_in_place
from readlist.models import ArxivId, Paper


def state(snapshot: libindex.Snapshot) -> dict[str, Any]:
    """Everything a snapshot tells, whatever parts it is stored in."""
    merged = (
        libindex._merged(snapshot.parts).lookups
        if snapshot.parts
        else libindex.Lookups({}, {}, {}, (), None)
    )
    fields = {name: getattr(snapshot, name) for name in libindex._HEADER_FIELDS}
    return {
        **fields,
        "rows": snapshot.rows,
        "arxiv": merged.arxiv,
        "doi": merged.doi,
        "title": merged.title,
        "keys": merged.keys,
        "bibtex_keys": snapshot.bibtex_keys,
        "declared": snapshot.declared,
        "tail_declared": snapshot.tail_declared,
    }


def fresh_state(path: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="readlist-fresh-") as folder:
        bib = read_bib(path, Path(folder))
        assert bib.snapshot is not None
        return state(bib.snapshot)


def warm_state(path: Path, cache: Path) -> dict[str, Any]:
    bib = read_bib(path, cache)
    assert bib.snapshot is not None
    return state(bib.snapshot)


class ParseLog:
    """Records the length of every text parsed, to tell a full parse from a tail's."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sizes: list[int] = []
        real = bibparse.parse_entries

        def logged(text: str, *args: Any, **kwargs: Any) -> Any:
            self.sizes.append(len(text))
            return real(text, *args, **kwargs)

        for module in ("readlist.bibfile", "readlist.libindex"):
            monkeypatch.setattr(f"{module}.parse_entries", logged)


def entry(key: str, title: str, *, eprint: str | None = None, year: int = 2020) -> str:
    extra = f"  eprint = {{{eprint}}},\n  archivePrefix = {{arXiv}},\n" if eprint else ""
    return f"@article{{{key},\n  title = {{{title}}},\n  year = {{{year}}},\n{extra}}}\n\n"


def library(count: int) -> str:
    return "".join(
        entry(f"key{i}", f"Paper Number {i} on Things", eprint=f"2301.{10000 + i}")
        for i in range(count)
    )


def test_an_unchanged_file_is_answered_without_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "refs.bib"
    path.write_text(library(300))
    cache = tmp_path / "cache"
    before = warm_state(path, cache)
    log = ParseLog(monkeypatch)
    bib = read_bib(path, cache)
    assert bib.snapshot is not None and state(bib.snapshot) == before
    assert [row.key for row in bib.rows][:2] == ["key0", "key1"]
    hit = bib.index.find(arxiv_id=ArxivId("2301.10007"))
    assert hit is not None and hit[0].key == "key7" and hit[0].get("year") == "2020"
    hit = bib.index.find(title="paper number 9 on {T}hings")
    assert hit is not None and hit[0].key == "key9"
    # Only the one entry that was found was read, from its own span.
    assert log.sizes and max(log.sizes) < 200


def test_a_grown_file_is_read_from_its_last_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "refs.bib"
    path.write_text(library(300))
    cache = tmp_path / "cache"
    read_bib(path, cache)
    added = entry("byhand", "A Paper Someone Appended By Hand")
    with path.open("a") as out:
        out.write(added)
    log = ParseLog(monkeypatch)
    bib = read_bib(path, cache)
    assert log.sizes and max(log.sizes) <= len(added) + 10
    assert bib.rows[-1].key == "byhand"
    assert state(bib.snapshot) == fresh_state(path)  # type: ignore[arg-type]


def test_an_entry_appended_by_hand_is_present_for_the_next_add(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    path.write_text(library(50))
    cache = tmp_path / "cache"
    options = BibOptions()
    add_papers(path, [Paper(title="Warm Up Paper")], options, cache_dir=cache)
    with path.open("a") as out:
        out.write(entry("mine", "Attention Is All You Need"))
    outcome = add_papers(path, [Paper(title="Attention is all you need")], options, cache_dir=cache)
    assert not outcome.added
    assert [p.key for p in outcome.present] == ["mine"]


def test_a_file_edited_in_the_middle_is_read_again_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "refs.bib"
    text = library(300)
    path.write_text(text)
    cache = tmp_path / "cache"
    read_bib(path, cache)
    # Same size, same line count: only the content tells.
    path.write_text(text.replace("Paper Number 150 on", "Paper Number 150 in"))
    log = ParseLog(monkeypatch)
    bib = read_bib(path, cache)
    assert max(log.sizes) == len(text)
    assert bib.index.find(title="Paper Number 150 in Things") is not None
    assert bib.index.find(title="Paper Number 150 on Things") is None
    assert state(bib.snapshot) == fresh_state(path)  # type: ignore[arg-type]


@pytest.mark.parametrize("which", ["state", "part"])
@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: b"",
        lambda raw: raw[: len(raw) // 2],
        lambda raw: raw[:-1] + bytes([raw[-1] ^ 1]),
        lambda raw: b"garbage" * 100,
        None,  # the file is gone
    ],
    ids=["empty", "truncated", "flipped", "garbage", "missing"],
)
def test_a_damaged_index_is_made_again_silently(tmp_path: Path, damage: Any, which: str) -> None:
    path = tmp_path / "refs.bib"
    path.write_text(library(40))
    cache = tmp_path / "cache"
    read_bib(path, cache)
    folder = libindex.index_path(cache, path.resolve())
    stored = folder / "state" if which == "state" else next(folder.glob("*.part"))
    if damage is None:
        stored.unlink()
    else:
        stored.write_bytes(damage(stored.read_bytes()))
    assert libindex.load(cache, path.resolve()) is None
    assert warm_state(path, cache) == fresh_state(path)
    assert libindex.load(cache, path.resolve()) is not None


def test_a_grown_file_adds_a_part_and_leaves_the_others(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    path.write_text(library(200))
    cache = tmp_path / "cache"
    add_papers(path, [Paper(title="First Addition")], BibOptions(), cache_dir=cache)
    folder = libindex.index_path(cache, path.resolve())
    before = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.part")}
    add_papers(path, [Paper(title="Second Addition")], BibOptions(), cache_dir=cache)
    after = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.part")}
    assert len(after) == len(before) + 1
    assert all(after[name] == when for name, when in before.items())
    # Many additions later the parts are merged into one, and the rest removed.
    for number in range(20):
        add_papers(path, [Paper(title=f"Addition {number}")], BibOptions(), cache_dir=cache)
    assert len(list(folder.glob("*.part"))) <= libindex._MAX_PARTS
    assert warm_state(path, cache) == fresh_state(path)


def test_an_index_of_another_format_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "refs.bib"
    path.write_text(library(40))
    cache = tmp_path / "cache"
    read_bib(path, cache)
    monkeypatch.setattr(libindex, "FORMAT", libindex.FORMAT + 1)
    assert libindex.load(cache, path.resolve()) is None
    assert warm_state(path, cache) == fresh_state(path)


def test_a_cache_that_cannot_be_written_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    path.write_text(library(40))
    cache = tmp_path / "cache"
    cache.write_text("a file where the cache folder should be")
    outcome = add_papers(path, [Paper(title="A New One")], BibOptions(), cache_dir=cache)
    assert [a.key for a in outcome.added]
    assert cache.read_text().startswith("a file")


def test_links_share_one_index(tmp_path: Path) -> None:
    real = tmp_path / "central" / "library.bib"
    real.parent.mkdir()
    real.write_text(library(20))
    link = tmp_path / "paper" / "refs.bib"
    link.parent.mkdir()
    link.symlink_to(real)
    cache = tmp_path / "cache"
    add_papers(link, [Paper(title="Through The Link")], BibOptions(), cache_dir=cache)
    assert link.is_symlink()
    assert libindex.index_path(cache, real.resolve()).exists()
    assert len(list((cache / "bib-index").iterdir())) == 1
    assert warm_state(real, cache) == fresh_state(real)


# -- whatever happens to the file, the index tells what a full read tells ---------------------

_PIECES = [
    entry("a", "First Paper", eprint="2401.00001"),
    entry("b", "Second {P}aper $\\alpha$", eprint="2401.00002"),
    "@misc{c, title = {Third}, doi = {10.1000/x}, keywords = {read, vision}}\n",
    '@string{s = "x"}\n',
    "@comment{ note }\n",
    '@preamble{ "\\providecommand{\\readlistchar}[1]{}\\readlistchar{ą}" }\n',
    "@misc{broken, title = {never closed\n",
    "}\n",
    "% a comment line\n",
    '@misc{d, title = "Quoted \\"x\\" title", year = 2021}\n',
    "@misc(e, title = {Paren})\n",
    "text between entries with an email@example.org\n",
    "\r\n",
    "\n",
    "@misc{a, title = {Duplicate Key}}\n",
    "@misc{f, title = {Ünïcödé Tïtle}, eprint = {hep-th/9901001}}\n",
    "@misc{g, title = {x}",
]
pieces = st.lists(st.sampled_from(_PIECES), max_size=8).map("".join)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=pieces, steps=st.lists(st.tuples(st.sampled_from("agemtk"), pieces), max_size=4))
def test_the_index_always_tells_what_a_full_read_tells(
    start: str, steps: list[tuple[str, str]]
) -> None:
    with tempfile.TemporaryDirectory(prefix="readlist-index-") as folder:
        path = Path(folder) / "refs.bib"
        cache = Path(folder) / "cache"
        path.write_bytes(start.encode())
        assert warm_state(path, cache) == fresh_state(path)
        for number, (how, more) in enumerate(steps):
            data = path.read_bytes()
            if how == "a":  # appended by hand, or by another program
                path.write_bytes(data + more.encode())
            elif how == "g":  # grown without a line end before
                path.write_bytes(data.rstrip(b"\r\n") + more.encode())
            elif how == "e":  # edited in the middle
                middle = len(data) // 2
                path.write_bytes(data[:middle] + more.encode() + data[middle:])
            else:  # readlist adds to it, or edits entries in place (or refuses)
                paper = Paper(
                    title=f"Added Paper {number}",
                    arxiv_id=ArxivId(f"2402.{number:05d}"),
                    tags=("new",),
                )
                known = Paper(title="First Paper", tags=("merged", f"t{number}"))
                try:
                    if how == "m":
                        add_papers(path, [paper], BibOptions(), cache_dir=cache)
                    elif how == "t":
                        add_papers(
                            path, [known, paper], BibOptions(), cache_dir=cache, merge_tags=True
                        )
                    else:
                        keys = [row.key for row in read_bib(path).rows][:2]
                        mark_in_place(path, keys, add="read", remove="unread", cache_dir=cache)
                except Exception as exc:  # noqa: BLE001 - a refusal, checked below
                    assert path.read_bytes() == data, exc
            assert warm_state(path, cache) == fresh_state(path)


# -- the index never changes what is written or shown ----------------------------------------


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: getattr(p, "name", str(p)))
def test_adding_with_or_without_the_index_writes_the_same(path: Path, tmp_path: Path) -> None:
    papers = [
        Paper(title="A Paper Nobody Has", arxiv_id=ArxivId("2409.99999")),
        Paper(title="Another Paper Nobody Has", authors=("Đorđe Đoković",), year=2024),
    ]
    results = []
    for cache in (None, tmp_path / "cold", tmp_path / "cold"):  # no index, cold, warm
        copy = tmp_path / "copy.bib"
        shutil.copyfile(path, copy)
        try:
            outcome = add_papers(copy, papers, BibOptions(), cache_dir=cache)
            results.append((copy.read_bytes(), [a.key for a in outcome.added]))
        except Exception as exc:  # noqa: BLE001 - the refusal must be the same too
            results.append((copy.read_bytes(), [str(exc)]))
    assert results[0] == results[1] == results[2]


def test_commands_print_the_same_with_a_cold_a_warm_or_no_cache(tmp_path: Path) -> None:
    source = DATA / "corpora" / "bib"
    bib = tmp_path / "refs.bib"
    files = [p.read_bytes() for p in sorted(source.glob("*.bib"))]
    text = "".join(decode_bib(data)[0] for data in files if b"\x00" not in data)
    bib.write_text(text + library(30), encoding="utf-8", errors="surrogateescape")
    listing = tmp_path / "listing.txt"
    listing.write_text("2301.10003\nhttps://arxiv.org/abs/2301.10011\n2409.12345\n")
    tex = tmp_path / "paper.tex"
    tex.write_text("\\documentclass{article}\\begin{document}\\cite{key3,nokey}\\end{document}\n")
    runner = CliRunner()
    config = tmp_path / "config.toml"
    config.write_text("")
    commands = [
        ["list", "--json"],
        ["list", "--to-read"],
        ["show", str(listing), "--json"],
        ["check", str(tex)],
        ["mark", "read", "key4"],
        ["list", "--read", "--json"],
        ["add", str(listing), "--all", "--offline"],
        ["list", "--json"],
    ]

    def run_all(cache: Path) -> list[tuple[int, str, str]]:
        shutil.copyfile(bib, tmp_path / "work.bib")
        env = {"READLIST_CONFIG": str(config), "READLIST_CACHE_DIR": str(cache)}
        out = []
        for command in commands:
            result = runner.invoke(cli, [*command, "--bib", str(tmp_path / "work.bib")], env=env)
            out.append((result.exit_code, result.stdout, result.stderr))
        out.append((0, (tmp_path / "work.bib").read_text(errors="surrogateescape"), ""))
        return out

    cold = run_all(tmp_path / "cache-a")
    warm = run_all(tmp_path / "cache-a")  # the same cache, now holding the final state
    shutil.rmtree(tmp_path / "cache-a")
    again = run_all(tmp_path / "cache-b")
    assert cold == warm == again
    rows = json.loads(cold[0][1])
    assert any(row["key"] == "key3" for row in rows)


def test_json_rows_are_what_json_dumps_writes() -> None:
    from readlist.jsontext import dumps_rows

    rows = [
        {"key": 'a"b\\c\n', "n": 3, "x": None, "t": True, "f": False, "tags": ["é", "\x00"]},
        {"key": "}},\n    {", "n": -1, "x": 1.5, "t": False, "f": True, "tags": []},
        {"key": "\x00readlist list\x00", "n": 0, "x": "", "t": True, "f": True, "tags": ["x"]},
    ]
    for subset in (rows, rows[:1], rows[1:2], []):
        assert dumps_rows(subset, lists=("tags",)) == json.dumps(
            subset, indent=2, ensure_ascii=False
        )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "key": st.text(),
                "year": st.none() | st.text(max_size=4),
                "line": st.integers(),
                "read": st.booleans(),
                "tags": st.lists(st.text(max_size=5), max_size=3),
            }
        ),
        max_size=5,
    )
)
def test_json_rows_match_json_dumps_on_any_text(rows: list[dict[str, Any]]) -> None:
    from readlist.jsontext import dumps_rows

    assert dumps_rows(rows, lists=("tags",)) == json.dumps(rows, indent=2, ensure_ascii=False)


def test_index_files_are_kept_out_of_the_library_folder(tmp_path: Path) -> None:
    folder = tmp_path / "library"
    folder.mkdir()
    path = folder / "refs.bib"
    path.write_text(library(10))
    add_papers(path, [Paper(title="One More")], BibOptions(), cache_dir=tmp_path / "cache")
    add_papers(path, [Paper(title="And Another")], BibOptions(), cache_dir=tmp_path / "cache")
    assert os.listdir(folder) == ["refs.bib"]
    assert len(os.listdir(tmp_path / "cache" / "bib-index")) == 1


def test_edits_in_place_keep_the_index_in_step_entry_by_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "refs.bib"
    path.write_text(library(300))
    cache = tmp_path / "cache"
    read_bib(path, cache)
    log = ParseLog(monkeypatch)
    mark_in_place(path, ["key3", "key250"], add="read", remove="unread", cache_dir=cache)
    outcome = add_papers(
        path,
        [Paper(title="Paper Number 7 on Things", tags=("merged",)), Paper(title="Brand New")],
        BibOptions(),
        cache_dir=cache,
        merge_tags=True,
    )
    assert [p.new_tags for p in outcome.present] == [("merged",)]
    # Only the entries edited, and what was appended, were read: never the whole file.
    assert max(log.sizes) < 300
    bib = read_bib(path, cache)
    assert state(bib.snapshot) == fresh_state(path)  # type: ignore[arg-type]
    assert bib.rows[250].tags == ("read",)
    assert bib.rows[7].tags == ("merged",)


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: getattr(p, "name", str(p)))
def test_every_entry_reads_the_same_from_its_own_span(path: Path, tmp_path: Path) -> None:
    if b"\x00" in path.read_bytes():  # UTF-16: refused whether an index is kept or not
        with pytest.raises(BibFileError):
            read_bib(path, tmp_path)
        return
    whole = read_bib(path).entries
    read_bib(path, tmp_path)  # makes the index
    warm = read_bib(path, tmp_path)
    assert warm._entries is None
    assert [warm.entry_at(i) for i in range(len(whole))] == whole


def test_titles_pylatexenc_cannot_read_are_indexed_as_text(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    path.write_text(
        "@misc{a, title = {See \\href{https://example.org}}}\n"
        "@misc{b, title = {" + "{" * 3000 + "deep" + "}" * 3000 + "}}\n"
    )
    outcome = add_papers(path, [Paper(title="Fine")], BibOptions(), cache_dir=tmp_path / "c")
    assert [a.key for a in outcome.added]
    rows = read_bib(path, tmp_path / "c").rows
    assert [row.key for row in rows][:2] == ["a", "b"]
    assert "href" in rows[0].title or "example.org" in rows[0].title
    assert rows[1].title == "deep"
