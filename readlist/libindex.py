"""What readlist knows of a .bib without reading it again: look-ups, list rows, reading state.

Every command used to parse the whole .bib, though most runs meet a library that has not
changed since the last one, or has only grown (readlist's own append, or one by hand). A
`Snapshot` holds what the commands need of one state of the file: each entry's key, type,
line and span, its title as `list` shows it and as duplicates are found by, its arXiv IDs, DOI,
year, tags and status; the problems found reading it; the characters its `@preamble`s
declare; where BibTeX's reading of it stops, with the keys read up to there; and, to take up a
file that only grew, where the last entry ends and what lies before that point.

A snapshot is kept per .bib (the file its links lead to) in the cache directory and stands for
the exact bytes it was made from: their length and SHA-256. On the next run:

- the same bytes: the snapshot answers, and no entry is parsed;
- the old bytes and more after them: only the text after the last old entry is read, the way
  it is read in the whole file (the splitter and BibTeX's reader are both sequential: whatever
  they finished before that point they finish the same way in a longer text);
- anything else: the file is read whole and a new snapshot made.

A missing, damaged, foreign or older-format snapshot is made again without a word: the .bib is
always the truth, and a snapshot only ever saves reading it. Nothing written depends on
whether one was used (tests compare every command with and without).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import marshal
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

from readlist.bibparse import BibEntry, iter_entries, parse_entries, plain_field
from readlist.models import ArxivId
from readlist.normalize import normalize_title

# Bump when what a snapshot holds, or how any of it is derived, changes.
FORMAT = 1
_MAGIC = b"readlist .bib index\n"


def normalize_doi(doi: str) -> str:
    """Lower-case a DOI and drop any resolver prefix, so equal DOIs compare equal."""
    value = doi.strip().lower()
    for prefix in ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    return value.strip()


_FALLBACK_RE = re.compile(r"\[U\+(10[0-9A-F]{4}|0?[0-9A-F]{4,5})\]")


def title_key(title: str) -> str:
    """Normalize a title read from a .bib or a listing the same way.

    `normalize_title` reads TeX through the one decoder the writer is tested against, so a
    title holding literal braces, backslashes, Greek or math finds its own entry either way.
    """
    if "[U+" in title:
        # How older readlist versions wrote a character pdfLaTeX cannot typeset (CJK, emoji).
        title = _FALLBACK_RE.sub(lambda m: chr(int(m.group(1), 16)), title)
    return normalize_title(title)


class Row(NamedTuple):
    """One entry as the commands see it without its text."""

    key: str
    entry_type: str
    line: int
    start: int
    end: int
    title: str  # plain text, white space collapsed (what `list` shows)
    title_key: str  # `title_key(title field)`, or "" without a title
    year: str | None
    arxiv_ids: tuple[str, ...]  # every arXiv ID the entry names, first first
    doi: str | None  # as written
    tags: tuple[str, ...]  # the `keywords`, as written
    unresolved: bool


def row_of(entry: BibEntry) -> Row:
    title = entry.get("title") or ""
    return Row(
        entry.key,
        entry.entry_type,
        entry.line,
        entry.start,
        entry.end,
        " ".join(plain_field(title).split()),
        title_key(title) if title else "",
        entry.get("year") or (entry.get("date") or "")[:4] or None,
        tuple(dict.fromkeys(i.id for i in entry.arxiv_ids())),
        entry.get("doi"),
        tuple(entry.tags),
        entry.is_unresolved,
    )


class Lookups(NamedTuple):
    """The look-ups over one run of rows, each to the position of the first row that has it."""

    arxiv: dict[str, int]  # lower-cased arXiv ID
    doi: dict[str, int]  # `normalize_doi`
    title: dict[str, int]  # `title_key`
    keys: tuple[str, ...]  # every key, lower-cased, in file order
    bibtex_keys: tuple[str, ...] | None  # lower-cased keys BibTeX reads here; None: `keys`

    @property
    def read_by_bibtex(self) -> tuple[str, ...]:
        return self.keys if self.bibtex_keys is None else self.bibtex_keys


def _index_one(
    maps: tuple[dict[str, Any], dict[str, Any], dict[str, Any]],
    ref: object,
    arxiv_ids: Iterable[str],
    doi: str | None,
    norm_title: str,
) -> None:
    """Point each look-up of one entry at `ref`, unless an earlier entry has it already."""
    by_arxiv, by_doi, by_title = maps
    for arxiv_id in arxiv_ids:
        by_arxiv.setdefault(arxiv_id.lower(), ref)
    if doi:
        by_doi.setdefault(normalize_doi(doi), ref)
    if norm_title:
        by_title.setdefault(norm_title, ref)


def lookups_of(rows: Sequence[Row], first: int, bibtex_keys: tuple[str, ...]) -> Lookups:
    maps: tuple[dict[str, int], dict[str, int], dict[str, int]] = ({}, {}, {})
    for position, row in enumerate(rows, first):
        _index_one(maps, position, row.arxiv_ids, row.doi, row.title_key)
    arxiv, doi, title = maps
    keys = tuple(row.key.lower() for row in rows)
    return Lookups(arxiv, doi, title, keys, None if bibtex_keys == keys else bibtex_keys)


class Part:
    """The rows read in one go (a whole file, or what it grew by) and their look-ups.

    Stored apart, so that a file that grew adds a part instead of storing everything again;
    the rows themselves are decoded only when a command asks for them.
    """

    def __init__(
        self,
        first: int,
        lookups: Lookups,
        *,
        rows: tuple[Row, ...] | None = None,
        rows_blob: bytes | memoryview | None = None,
        name: str | None = None,
    ) -> None:
        self.first = first
        self.lookups = lookups
        self.count = len(lookups.keys)
        self._rows = rows
        self._rows_blob = rows_blob
        self.name = name  # of the file it is stored in (see `index_path`), once stored

    @property
    def rows(self) -> tuple[Row, ...]:
        if self._rows is None:
            assert self._rows_blob is not None
            self._rows = tuple(map(Row._make, marshal.loads(self._rows_blob)))
        return self._rows

    def blobs(self) -> tuple[bytes, bytes]:
        """The part as stored: its look-ups and its rows, each marshalled."""
        rows = self._rows_blob
        if rows is None:
            rows = marshal.dumps(tuple(tuple(row) for row in self.rows))
        return marshal.dumps(tuple(self.lookups)), bytes(rows)


# A file that grew many times is stored again as one part.
_MAX_PARTS = 16


@dataclass(frozen=True)
class Snapshot:
    """What readlist knows of one state of a .bib (see the module docstring)."""

    size: int  # bytes, BOM included
    digest: bytes  # SHA-256 of those bytes
    text_len: int  # characters of the decoded text (no BOM)
    lf: int  # `\n` in the text
    crlf: int  # `\r\n` in the text
    parts: tuple[Part, ...]
    problems: tuple[tuple[int, str], ...]  # (line, what) of blocks that could not be read
    declared: frozenset[str]  # characters readlist's `@preamble`s declare
    bibtex_resume: int  # where BibTeX's reading would go on if text followed
    bibtex_last_line: bool  # it stopped there because that was the last line
    # A file that only grew is read on from `tail_from`, the end of the last entry; these
    # describe the text before that point.
    tail_from: int
    tail_lf: int
    tail_crlf: int
    tail_problems: int
    tail_declared: frozenset[str]

    @property
    def eol(self) -> str:
        """The file's dominant line ending (as `BibFile.eol` tells it)."""
        return "\r\n" if self.crlf and self.crlf * 2 >= self.lf else "\n"

    @property
    def count(self) -> int:
        return sum(part.count for part in self.parts)

    @functools.cached_property
    def rows(self) -> tuple[Row, ...]:
        if len(self.parts) == 1:
            return self.parts[0].rows
        return tuple(row for part in self.parts for row in part.rows)

    def row(self, position: int) -> Row:
        for part in self.parts:
            if position < part.first + part.count:
                return part.rows[position - part.first]
        raise IndexError(position)

    @functools.cached_property
    def keys_folded(self) -> frozenset[str]:
        return frozenset().union(*(part.lookups.keys for part in self.parts))

    @functools.cached_property
    def bibtex_keys(self) -> frozenset[str]:
        """The lower-cased keys BibTeX reads before `bibtex_resume`."""
        return frozenset().union(*(part.lookups.read_by_bibtex for part in self.parts))


class BibIndex:
    """Look-ups from arXiv ID, DOI and normalized title to the entry that holds them.

    Over a snapshot, it hands out the `BibEntry` of a hit only when asked (`entry_at` reads
    that one entry); entries added later (papers about to be written) are held as they are,
    and found after the file's own.
    """

    def __init__(
        self,
        entries: Sequence[BibEntry] = (),
        *,
        snapshot: Snapshot | None = None,
        entry_at: Callable[[int], BibEntry] | None = None,
    ) -> None:
        self._snapshot = snapshot
        self._parts = [part.lookups for part in snapshot.parts] if snapshot else []
        self._entry_at = entry_at
        self.by_arxiv: dict[str, BibEntry] = {}
        self.by_doi: dict[str, BibEntry] = {}
        self.by_title: dict[str, BibEntry] = {}
        self.keys_folded: set[str] = set(snapshot.keys_folded) if snapshot else set()
        for entry in entries:
            self.add(entry)

    def add(self, entry: BibEntry) -> None:
        """Index `entry` (one read from the file, or a paper about to be written)."""
        self.keys_folded.add(entry.key.lower())
        title = entry.get("title")
        _index_one(
            (self.by_arxiv, self.by_doi, self.by_title),
            entry,
            [i.id for i in entry.arxiv_ids()],
            entry.get("doi"),
            title_key(title) if title else "",
        )

    def _get(self, kind: str, key: str) -> int | BibEntry | None:
        for lookups in self._parts:
            position = getattr(lookups, kind).get(key)
            if position is not None:
                return position
        held: dict[str, BibEntry] = getattr(self, f"by_{kind}")
        return held.get(key)

    def _entry(self, ref: int | BibEntry) -> BibEntry:
        if isinstance(ref, BibEntry):
            return ref
        assert self._entry_at is not None
        return self._entry_at(ref)

    def _arxiv_ids(self, ref: int | BibEntry) -> set[str]:
        if isinstance(ref, BibEntry):
            return {i.id.lower() for i in ref.arxiv_ids()}
        assert self._snapshot is not None
        return {i.lower() for i in self._snapshot.row(ref).arxiv_ids}

    def find(
        self,
        *,
        arxiv_id: ArxivId | None = None,
        doi: str | None = None,
        title: str | None = None,
    ) -> tuple[BibEntry, str] | None:
        """Return the entry already holding this paper and what matched, if any."""
        if arxiv_id is not None:
            hit = self._get("arxiv", arxiv_id.id.lower())
            if hit is None:
                hit = self._get("doi", arxiv_id.doi.lower())
            if hit is not None:
                return self._entry(hit), f"arXiv:{arxiv_id.id}"
        if doi:
            hit = self._get("doi", normalize_doi(doi))
            if hit is not None:
                return self._entry(hit), f"DOI {doi}"
        if title:
            norm = title_key(title)
            hit = self._get("title", norm) if norm else None
            # Distinct papers can share a title: two arXiv IDs that differ tell them apart.
            if hit is not None and arxiv_id is not None:
                theirs = self._arxiv_ids(hit)
                if theirs and arxiv_id.id.lower() not in theirs:
                    hit = None
            if hit is not None:
                return self._entry(hit), "same title"
        return None


# -- making snapshots ---------------------------------------------------------------------


def build(
    text: str,
    size: int,
    digest: bytes,
    entries: Sequence[BibEntry],
    problems: Sequence[tuple[int, str]],
) -> Snapshot:
    """The snapshot of a text read whole into `entries` and `problems`."""
    from readlist.bibreader import read_like_bibtex, resume_state

    resume, keys, last_line = resume_state(read_like_bibtex(text))
    empty = Snapshot(
        size=0,
        digest=b"",
        text_len=0,
        lf=0,
        crlf=0,
        parts=(),
        problems=(),
        declared=frozenset(),
        bibtex_resume=0,
        bibtex_last_line=False,
        tail_from=0,
        tail_lf=0,
        tail_crlf=0,
        tail_problems=0,
        tail_declared=frozenset(),
    )
    return _extend(
        empty,
        text,
        size,
        digest,
        (),
        (tuple(map(row_of, entries)), list(problems)),
        (resume, tuple(keys), last_line),
    )


def edited(
    old: Snapshot, old_text: str, text: str, edits: Sequence[tuple[int, int, str]]
) -> Snapshot | None:
    """The snapshot of `text`: `old_text` with whole entries replaced by `edits`.

    Each edit is (start, end, new text) of one entry's span. Only the new entries are read,
    the rows after each move along, and BibTeX's reading is done again (an entry it read with
    an error may read cleanly now). None where that does not hold (an edit that is not one
    entry, or a file with unreadable blocks, whose lines would move unseen): then the caller
    reads the text whole. `size` and `digest` are left for the caller to set.
    """
    from readlist.bibreader import read_like_bibtex, resume_state
    from readlist.texletters import declared_in

    if old.problems or not edits:
        return None
    rows = old.rows
    by_span = {(row.start, row.end): position for position, row in enumerate(rows)}
    replaced: dict[int, tuple[BibEntry, int, int]] = {}
    crlf = 0  # `\r\n` the edits add (an entry's span starts at `@` and ends at `}`: no
    # line end is cut in two at its edges)
    declarations = False  # whether an edit touches text `declared_in` reads
    for start, end, replacement in edits:
        position = by_span.get((start, end))
        read = parse_entries(replacement, "") if position is not None else []
        if (
            position is None
            or len(read) != 1
            or (read[0].start, read[0].end)
            != (
                0,
                len(replacement),
            )
        ):
            return None
        lines = replacement.count("\n") - old_text.count("\n", start, end)
        crlf += replacement.count("\r\n") - old_text.count("\r\n", start, end)
        declarations = declarations or _DECLARES in replacement or _DECLARES in old_text[start:end]
        replaced[position] = (read[0], len(replacement) - (end - start), lines)
    new_rows: list[Row] = []
    shift = lines = 0
    for position, row in enumerate(rows):
        change = replaced.get(position)
        if change is not None:
            entry, more, more_lines = change
            start = row.start + shift
            new_rows.append(
                row_of(replace(entry, line=row.line + lines, start=start, end=start + entry.end))
            )
            shift += more
            lines += more_lines
        elif shift or lines:
            new_rows.append(
                row._replace(line=row.line + lines, start=row.start + shift, end=row.end + shift)
            )
        else:
            new_rows.append(row)
    resume, keys, last_line = resume_state(read_like_bibtex(text))
    part = Part(0, lookups_of(new_rows, 0, tuple(keys)), rows=tuple(new_rows))
    tail_from = old.tail_from + shift
    # Every edit lies before `tail_from`: what it adds to the counts, it adds before it too.
    declared, tail_declared = old.declared, old.tail_declared
    if declarations:
        tail_declared = frozenset(declared_in(text[:tail_from]))
        declared = frozenset(tail_declared | declared_in(text[tail_from:]))
    return Snapshot(
        size=0,
        digest=b"",
        text_len=len(text),
        lf=old.lf + lines,
        crlf=old.crlf + crlf,
        parts=(part,),
        problems=(),
        declared=declared,
        bibtex_resume=resume,
        bibtex_last_line=last_line,
        tail_from=tail_from,
        tail_lf=old.tail_lf + lines,
        tail_crlf=old.tail_crlf + crlf,
        tail_problems=0,
        tail_declared=tail_declared,
    )


# What readlist's `@preamble` declarations start with (`texletters.declared_in`).
_DECLARES = "\\readlist"


def grown(old: Snapshot, text: str, size: int, digest: bytes, offset: int = 0) -> Snapshot:
    """The snapshot of `text`, which is `old`'s text with more after it.

    Only the text from the old last entry's end is read: entries, problems, the `@preamble`
    declarations and line ends there, and BibTeX's reading from where it stopped. So `text`
    may be the new text from `offset` on, if that is at most `old.tail_from` and
    `old.bibtex_resume`; offsets stay the whole text's.
    """
    from readlist.bibreader import read_on

    start = old.tail_from
    tail_problems: list[tuple[int, str]] = []
    lines_before = old.tail_lf
    # Entry by entry into rows: a huge addition is not held twice, as entries and as rows.
    rows = tuple(
        row._replace(line=row.line + lines_before, start=row.start + start, end=row.end + start)
        for row in map(row_of, iter_entries(text[start - offset :], tail_problems))
    )
    before = (old.bibtex_resume, old.bibtex_keys, old.bibtex_last_line)
    resume, seen, _, last_line = read_on(before, text, offset)
    bibtex_keys = tuple(e.key.lower() for e in seen if e.start < resume)
    problems = [(line + lines_before, why) for line, why in tail_problems]
    return _extend(
        old,
        text,
        size,
        digest,
        old.problems[: old.tail_problems],
        (rows, problems),
        (resume, bibtex_keys, last_line),
        offset,
    )


def _extend(
    base: Snapshot,
    text: str,
    size: int,
    digest: bytes,
    problems: tuple[tuple[int, str], ...],
    read: tuple[tuple[Row, ...], list[tuple[int, str]]],
    bibtex: tuple[int, tuple[str, ...], bool],
    offset: int = 0,
) -> Snapshot:
    """`base`'s head (its text before `base.tail_from`) followed by `read` after it.

    `text` is the whole text from `offset` on (`offset` <= `base.tail_from`).
    """
    from readlist.texletters import declared_in

    rows, new_problems = read
    start = base.tail_from
    tail_from = rows[-1].end if rows else start
    # What lies between the last entry's end and the end of the text is read again the next
    # time the file grows: count how many of the problems are there.
    after_problems: list[tuple[int, str]] = []
    # (Offsets are the whole text's; `text` starts at `offset`.)
    rel_start, rel_tail = start - offset, tail_from - offset
    if rel_tail < len(text):
        parse_entries(text[rel_tail:], "", problems=after_problems)
    all_problems = problems + tuple(new_problems)
    tail_lf = base.tail_lf + text.count("\n", rel_start, rel_tail)
    tail_crlf = base.tail_crlf + text.count("\r\n", rel_start, rel_tail)
    tail_declared = base.tail_declared | declared_in(text[rel_start:rel_tail])
    first = base.count
    parts = base.parts
    resume, bibtex_keys, last_line = bibtex
    if rows or bibtex_keys:
        parts = (*parts, Part(first, lookups_of(rows, first, bibtex_keys), rows=rows))
    if len(parts) > _MAX_PARTS:
        parts = (_merged(parts),)
    return Snapshot(
        size=size,
        digest=digest,
        text_len=offset + len(text),
        lf=tail_lf + text.count("\n", rel_tail),
        crlf=tail_crlf + text.count("\r\n", rel_tail),
        parts=parts,
        problems=all_problems,
        declared=frozenset(tail_declared | declared_in(text[rel_tail:])),
        bibtex_resume=resume,
        bibtex_last_line=last_line,
        tail_from=tail_from,
        tail_lf=tail_lf,
        tail_crlf=tail_crlf,
        tail_problems=len(all_problems) - len(after_problems),
        tail_declared=frozenset(tail_declared),
    )


def _merged(parts: Sequence[Part]) -> Part:
    """One part with the rows and look-ups of `parts` (the first part's hits first)."""
    arxiv: dict[str, int] = {}
    doi: dict[str, int] = {}
    title: dict[str, int] = {}
    for part in reversed(parts):  # earlier parts overwrite later ones: the first hit wins
        arxiv.update(part.lookups.arxiv)
        doi.update(part.lookups.doi)
        title.update(part.lookups.title)
    keys = tuple(key for part in parts for key in part.lookups.keys)
    bibtex_keys = tuple(key for part in parts for key in part.lookups.read_by_bibtex)
    rows = tuple(row for part in parts for row in part.rows)
    lookups = Lookups(arxiv, doi, title, keys, None if bibtex_keys == keys else bibtex_keys)
    return Part(parts[0].first, lookups, rows=rows)


def matching(old: Snapshot | None, data: bytes) -> tuple[Snapshot | None, hashlib._Hash]:
    """Return the snapshot `old` if it stands for `data`, and a SHA-256 of all of `data`.

    When `data` is `old`'s bytes with more after them, `old` is returned too: the caller
    takes it up with `grown` (its `size` tells where the old bytes end).
    """
    view = memoryview(data)
    if old is None or len(data) < old.size:
        return None, hashlib.sha256(view)
    hasher = hashlib.sha256(view[: old.size])
    if hasher.digest() != old.digest:
        return None, hashlib.sha256(view)
    if len(data) == old.size:
        return old, hasher
    # The old text must end on a whole character, so that it reads the same in the new one.
    if old.size and data[old.size - 1] >= 0x80:
        return None, hashlib.sha256(view)
    hasher.update(view[old.size :])
    return old, hasher


# -- the store ------------------------------------------------------------------------------

_HEADER_FIELDS = tuple(
    name
    for name in Snapshot.__dataclass_fields__
    if name not in ("parts", "declared", "tail_declared")
)


def index_path(cache_dir: Path, target: Path) -> Path:
    """The folder where the snapshot of the .bib `target` (links followed) is kept.

    It holds `state` (the header and the names of the parts, small) and one `<sha256>.part`
    file per part, named by the SHA-256 of its content and never changed: a file that grew
    adds a part file and writes `state` again, and the big parts stay as they are.
    """
    name = hashlib.sha256(os.fsencode(os.path.abspath(target))).hexdigest()[:32]
    return cache_dir / "bib-index" / name


def _stamp(target: Path) -> tuple[int, str, str]:
    from readlist import __version__

    return FORMAT, __version__, os.path.abspath(target)


def load(cache_dir: Path, target: Path) -> Snapshot | None:
    """The stored snapshot of `target`, or None if there is none that can be trusted."""
    folder = index_path(cache_dir, target)
    try:
        raw = (folder / "state").read_bytes()
        head = len(_MAGIC) + 32
        if not raw.startswith(_MAGIC) or len(raw) < head:
            return None
        payload = memoryview(raw)[head:]
        if hashlib.sha256(payload).digest() != raw[len(_MAGIC) : head]:
            return None
        stamp, header, declared, names = marshal.loads(payload)
        if stamp != _stamp(target):
            return None
        parts = []
        first = 0
        for name in names:
            content = (folder / f"{name}.part").read_bytes()
            if hashlib.sha256(content).hexdigest() != name:
                return None
            view = memoryview(content)
            split = 8 + int.from_bytes(view[:8], "little")
            lookups = Lookups(*marshal.loads(view[8:split]))
            parts.append(Part(first, lookups, rows_blob=view[split:], name=name))
            first += len(lookups.keys)
        return Snapshot(
            **dict(zip(_HEADER_FIELDS, header, strict=True)),
            parts=tuple(parts),
            declared=frozenset(declared[0]),
            tail_declared=frozenset(declared[1]),
        )
    except (OSError, ValueError, TypeError, EOFError, KeyError):
        return None


def save(cache_dir: Path, target: Path, snapshot: Snapshot) -> None:
    """Keep `snapshot` for `target`; a cache that cannot be written is simply not kept."""
    folder = index_path(cache_dir, target)
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        names = []
        for part in snapshot.parts:
            if part.name is None:
                pieces = part.blobs()
                content = [len(pieces[0]).to_bytes(8, "little"), *pieces]
                hasher = hashlib.sha256()
                for piece in content:
                    hasher.update(piece)
                part.name = hasher.hexdigest()
                _write_file(folder / f"{part.name}.part", *content)
            names.append(part.name)
        header = tuple(getattr(snapshot, name) for name in _HEADER_FIELDS)
        declared = (sorted(snapshot.declared), sorted(snapshot.tail_declared))
        payload = marshal.dumps((_stamp(target), header, declared, names))
        _write_file(folder / "state", _MAGIC, hashlib.sha256(payload).digest(), payload)
        # Parts the state no longer names (a file read whole again, parts merged) go. A run
        # still reading an older state then finds a part missing, and reads its .bib whole.
        kept = {f"{name}.part" for name in names}
        for path in folder.glob("*.part"):
            if path.name not in kept:
                path.unlink(missing_ok=True)


def _write_file(path: Path, *pieces: bytes) -> None:
    """Write `pieces` as `path`, whole or not at all (temporary file beside it, then rename)."""
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.writelines(pieces)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def stored(cache_dir: Path) -> list[Path]:
    """The snapshots kept in `cache_dir`, one folder per .bib."""
    try:
        return sorted(p for p in (cache_dir / "bib-index").iterdir() if (p / "state").exists())
    except OSError:
        return []


def size_of(folder: Path) -> int:
    """Bytes a kept snapshot takes."""
    total = 0
    with contextlib.suppress(OSError):
        for path in folder.iterdir():
            with contextlib.suppress(OSError):
                total += path.stat().st_size
    return total


def clear(cache_dir: Path) -> int:
    """Forget every kept snapshot (the next run reads each .bib whole); how many went."""
    import shutil

    removed = 0
    for folder in stored(cache_dir):
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed
