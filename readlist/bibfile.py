"""The user's .bib file: lossless reading, appending and in-place edits.

Every byte outside the entries readlist touches stays as it was. The file is decoded with
`surrogateescape`, so even bytes that are not UTF-8 survive a read/write round trip; a BOM and
the file's line-ending style are remembered and reused for what we add.

Entries are read by `readlist.bibparse` (each one's fields, line and span: all a merge
needs), BibTeX's own reading is modelled by `readlist.bibreader`, and what a run learns of the
file is kept between runs by `readlist.libindex`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator, Sequence, Set
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from readlist import libindex
from readlist.bibparse import (  # noqa: F401 (re-exported)
    STATUS_FIELD,
    UNRESOLVED,
    BibEntry,
    parse_entries,
)
from readlist.errors import BibFileError
from readlist.libindex import BibIndex, Row, Snapshot, normalize_doi  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    from readlist.bibreader import BibtexView

BOM = "\ufeff"


@dataclass
class BibFile:
    """A .bib file as read from disk, ready for lossless edits.

    Read with a cache directory, it carries a `Snapshot` (readlist.libindex) of its state, and
    its entries are parsed only when asked for: `rows`, `index` and `entry_at` answer from the
    snapshot, and a write keeps the snapshot in step (`written`).
    """

    path: Path
    bom: bool = False
    exists: bool = True
    # Blocks bibtexparser could not read: (line, description). BibTeX skips such a block and
    # reads on, and so do we; whether a new entry can still be appended is `bibtex_view`'s call.
    problems: list[tuple[int, str]] = field(default_factory=list)
    snapshot: Snapshot | None = field(default=None, repr=False)
    # Where the snapshot is kept (None: not kept), and the file it stands for.
    cache_dir: Path | None = field(default=None, repr=False)
    # The file's bytes as read, and how it stood on disk then (for appending by copy).
    data: bytes = field(default=b"", repr=False)
    stat: os.stat_result | None = field(default=None, repr=False)
    hasher: hashlib._Hash | None = field(default=None, repr=False)  # SHA-256 of `data`
    _text: str | None = field(default=None, repr=False)
    _entries: list[BibEntry] | None = field(default=None, repr=False)
    _bibtex_view: BibtexView | None = field(default=None, repr=False)
    _index: BibIndex | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        """The decoded text, without the BOM (decoded when first asked for: a snapshot that
        answers for the file needs none of it)."""
        if self._text is None:
            self._text, _ = decode_bib(self.data)
        return self._text

    @property
    def not_utf8_line(self) -> int | None:
        """The line of the first byte that is not UTF-8 (a Latin-1 file, say), or None."""
        return _first_non_utf8_line(self.data) if not self.data.isascii() else None

    @property
    def entries(self) -> list[BibEntry]:
        """Every entry, parsed (once) from the text."""
        if self._entries is None:
            self._entries = parse_entries(self.text, self.path)
        return self._entries

    @property
    def rows(self) -> tuple[Row, ...]:
        """Every entry as `list` and the look-ups see it, from the snapshot when there is one."""
        if self.snapshot is None:
            self.snapshot = libindex.build(
                self.text, len(self.data), b"", self.entries, self.problems
            )
        return self.snapshot.rows

    @property
    def keys(self) -> set[str]:
        return {row.key for row in self.rows}

    def entry_at(self, position: int) -> BibEntry:
        """The entry of `rows[position]`, read from its own span of the text."""
        if self._entries is not None:
            return self._entries[position]
        row = self.snapshot.row(position) if self.snapshot else self.rows[position]
        found = parse_entries(self.text[row.start : row.end], self.path)
        if len(found) == 1 and found[0].key == row.key:
            return replace(found[0], line=row.line, start=row.start, end=row.end)
        return self.entries[position]  # pragma: no cover - a span reads as its entry

    @property
    def index(self) -> BibIndex:
        """Look-ups by arXiv ID, DOI and title over the file's entries."""
        if self._index is None:
            if self._entries is not None and self.snapshot is None:
                self._index = BibIndex(self._entries)
            else:
                if self.snapshot is None:
                    self.rows  # noqa: B018 - makes the snapshot
                self._index = BibIndex(snapshot=self.snapshot, entry_at=self.entry_at)
        return self._index

    @property
    def bibtex_view(self) -> BibtexView:
        """The file as BibTeX itself reads it (computed once)."""
        if self._bibtex_view is None:
            from readlist.bibreader import read_like_bibtex

            self._bibtex_view = read_like_bibtex(self.text)
        return self._bibtex_view

    @property
    def bibtex_keys_folded(self) -> Set[str]:
        """The keys BibTeX reads in the file, lower-cased."""
        if self.snapshot is not None and self._bibtex_view is None:
            return self.snapshot.bibtex_keys
        return self.bibtex_view.keys_folded

    def bibtex_resume(self) -> tuple[int, list[str], bool]:
        """How BibTeX's reading of the text ended (`bibreader.read_on` takes it up)."""
        if self.snapshot is not None and self._bibtex_view is None:
            snapshot = self.snapshot
            return snapshot.bibtex_resume, list(snapshot.bibtex_keys), snapshot.bibtex_last_line
        from readlist.bibreader import resume_state

        return resume_state(self.bibtex_view)

    @property
    def declared(self) -> frozenset[str]:
        """The characters readlist's `@preamble`s in the file declare."""
        if self.snapshot is not None:
            return self.snapshot.declared
        from readlist.texletters import declared_in

        return frozenset(declared_in(self.text))

    @property
    def eol(self) -> str:
        """The file's dominant line ending, reused for everything we add."""
        if self.snapshot is not None:
            return self.snapshot.eol
        crlf = self.text.count("\r\n")
        return "\r\n" if crlf and crlf * 2 >= self.text.count("\n") else "\n"

    def encode(self, text: str | None = None) -> bytes:
        """Encode `text` (default: the current text) the way the file was stored."""
        body = self.text if text is None else text
        return ((BOM if self.bom else "") + body).encode("utf-8", "surrogateescape")

    def append(self, tail: str) -> None:
        """Add `tail` after the file's text (what `appended_tail` makes): the file's own bytes
        are copied on disk, and only the text from the last entry on is read for the index."""
        data = tail.encode("utf-8", "surrogateescape")
        append_atomic(self.path, self.data, self.stat, data)
        if self.cache_dir is None:
            return
        snapshot = self.snapshot
        if snapshot is None or not snapshot.digest or self.hasher is None:
            self._index_whole(self.text + tail, self.data + data)
            return
        hasher = self.hasher.copy()
        hasher.update(data)
        size = len(self.data) + len(data)
        del data  # a huge addition is held as text only from here on
        offset = min(snapshot.tail_from, snapshot.bibtex_resume)
        window = self.text[offset:] + tail
        grown = libindex.grown(snapshot, window, size, hasher.digest(), offset=offset)
        libindex.save(self.cache_dir, _index_target(self.path), grown)

    def _index_whole(self, text: str, data: bytes) -> None:
        """Index the file anew from its whole new text."""
        assert self.cache_dir is not None
        problems: list[tuple[int, str]] = []
        entries = parse_entries(text, self.path, problems=problems)
        digest = hashlib.sha256(data).digest()
        snapshot = libindex.build(text, len(data), digest, entries, problems)
        libindex.save(self.cache_dir, _index_target(self.path), snapshot)

    def write(self, text: str, edits: Sequence[tuple[int, int, str]] = ()) -> None:
        """Write `text` as the file's new content, and keep the snapshot in step.

        When `text` only adds to the file, the unchanged bytes are copied on disk, not
        written again. `edits`, when given, are the (start, end, new text) of the entries the
        text replaces, whatever it appends after them: the snapshot is then brought up to
        date entry by entry instead of by reading the text whole.
        """
        if self.exists and text.startswith(self.text):
            self.append(text[len(self.text) :])
            return
        data = self.encode(text)
        write_atomic(self.path, data)
        if self.cache_dir is None:
            return
        snapshot = None
        if self.snapshot is not None and self.snapshot.digest and edits:
            # `text` is the edited text, perhaps with an @preamble appended after it.
            edited_length = len(self.text) + sum(len(r) - (e - s) for s, e, r in edits)
            edited_text = text if len(text) == edited_length else text[:edited_length]
            snapshot = libindex.edited(self.snapshot, self.text, edited_text, edits)
            digest = hashlib.sha256(data).digest()
            if snapshot is not None and text != edited_text:
                snapshot = libindex.grown(snapshot, text, len(data), digest)
            if snapshot is not None:
                snapshot = replace(snapshot, size=len(data), digest=digest)
                libindex.save(self.cache_dir, _index_target(self.path), snapshot)
                return
        self._index_whole(text, data)


def _index_target(path: Path) -> Path:
    """The file a snapshot of `path` is kept for: links followed."""
    return Path(os.path.realpath(path))


def decode_bib(data: bytes) -> tuple[str, bool]:
    """Decode .bib bytes losslessly; return the text without BOM and whether there was one."""
    text = data.decode("utf-8", "surrogateescape")
    if text.startswith(BOM):
        return text[1:], True
    return text, False


_WIDE_BOMS = (  # longest first: a UTF-32LE BOM starts like a UTF-16LE one
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian, with BOM)", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian, with BOM)", "UTF-32"),
    (b"\xff\xfe", "UTF-16 (little-endian, with BOM)", "UTF-16"),
    (b"\xfe\xff", "UTF-16 (big-endian, with BOM)", "UTF-16"),
)


def wide_encoding(data: bytes) -> tuple[str, str] | None:
    """Tell a UTF-16 or UTF-32 file by its BOM or its NUL bytes: (description, iconv name).

    BibTeX reads bytes, and in these encodings every ASCII character comes with NUL bytes, so
    it sees no `@` it can use; without a BOM the NULs give the encoding away: text in UTF-16LE
    has them at odd offsets, UTF-32BE at three of every four, and so on.
    """
    for bom, description, name in _WIDE_BOMS:
        if data.startswith(bom):
            return description, name
    sample = data[:4096]
    if len(sample) < 4 or b"\x00" not in sample:
        return None
    sample = sample[: len(sample) - len(sample) % 4]
    zero = [sample[i::4].count(0) / (len(sample) // 4) for i in range(4)]
    if zero[1] > 0.6 and zero[2] > 0.6 and zero[3] > 0.6 and zero[0] < 0.1:
        return "UTF-32 (little-endian, no BOM)", "UTF-32LE"
    if zero[0] > 0.6 and zero[1] > 0.6 and zero[2] > 0.6 and zero[3] < 0.1:
        return "UTF-32 (big-endian, no BOM)", "UTF-32BE"
    odd, even = (zero[1] + zero[3]) / 2, (zero[0] + zero[2]) / 2
    if odd > 0.6 and even < 0.1:
        return "UTF-16 (little-endian, no BOM)", "UTF-16LE"
    if even > 0.6 and odd < 0.1:
        return "UTF-16 (big-endian, no BOM)", "UTF-16BE"
    return None


def _first_non_utf8_line(data: bytes) -> int | None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data.count(b"\n", 0, exc.start) + 1
    return None


def read_bib(path: Path, cache_dir: Path | None = None) -> BibFile:
    """Read and parse `path`; a file that does not exist yet reads as empty.

    With a `cache_dir`, the file's snapshot kept there answers for it where it can (see
    readlist.libindex), and is made or brought up to date where it cannot.
    """
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            data = handle.read()
    except FileNotFoundError:
        bib = BibFile(path=path, exists=False, cache_dir=cache_dir, _text="")
        if cache_dir is not None:  # what is added to it is indexed as a file that grew
            bib.hasher = hashlib.sha256()
            bib.snapshot = libindex.build("", 0, bib.hasher.digest(), [], [])
        return bib
    except IsADirectoryError:
        raise BibFileError(path, "is a directory, not a .bib file") from None
    except OSError as exc:
        raise BibFileError(path, f"cannot read: {exc.strerror or exc}") from None
    wide = wide_encoding(data)
    if wide is not None:
        description, name = wide
        raise BibFileError(
            path,
            f"is {description} text, which BibTeX cannot read; convert it to UTF-8 with "
            f"`iconv -f {name} -t UTF-8 {path} > {Path(path).stem}-utf8.bib` and use that "
            "file (nothing was written)",
        )
    if b"\x00" in data:
        raise BibFileError(path, "looks like a binary file, not BibTeX; nothing was written")
    bib = BibFile(
        path=path,
        bom=data.startswith(BOM.encode()),
        cache_dir=cache_dir,
        data=data,
        stat=stat,
    )
    if cache_dir is None:
        bib._entries = parse_entries(bib.text, path, problems=bib.problems)
        return bib
    target = _index_target(path)
    snapshot, bib.hasher = libindex.matching(libindex.load(cache_dir, target), data)
    if snapshot is not None and snapshot.size != len(data):
        snapshot = libindex.grown(snapshot, bib.text, len(data), bib.hasher.digest())
        libindex.save(cache_dir, target, snapshot)
    elif snapshot is None:
        bib._entries = parse_entries(bib.text, path, problems=bib.problems)
        snapshot = libindex.build(
            bib.text, len(data), bib.hasher.digest(), bib._entries, bib.problems
        )
        libindex.save(cache_dir, target, snapshot)
    bib.snapshot = snapshot
    bib.problems = list(snapshot.problems)
    return bib


# -- editing -------------------------------------------------------------------------------


def appended_text(text: str, eol: str, entry_texts: Sequence[str]) -> str:
    """Return `text` with `entry_texts` appended and nothing before them changed.

    Entries are separated by a blank line; a file that did not end in a newline still does
    not, so the user's own style is kept.
    """
    return append_entries(text, eol, entry_texts)[0]


def append_entries(
    text: str, eol: str, entry_texts: Sequence[str]
) -> tuple[str, list[tuple[int, int]]]:
    """`appended_text`, and the (start, end) of each appended entry in the result."""
    tail, spans = appended_tail(text, eol, entry_texts)
    # (Copying a big library's text is the cost here: it is copied once, by the join.)
    return "".join([text, tail]), spans


def appended_tail(
    text: str, eol: str, entry_texts: Sequence[str]
) -> tuple[str, list[tuple[int, int]]]:
    """What `append_entries` adds after `text`, and where each entry lands in the result."""
    if not entry_texts:
        return "", []
    if not text or text.isspace():
        separator, end = "", eol
    elif text.endswith(("\n", "\r")):
        blank_already = text.endswith(("\n\n", "\r\n\r\n", "\r\r"))
        separator, end = ("" if blank_already else eol), eol
    else:
        separator, end = eol + eol, ""
    spans: list[tuple[int, int]] = []
    pos = len(text) + len(separator)
    for index, entry in enumerate(entry_texts):
        if index:
            pos += 2 * len(eol)
        spans.append((pos, pos + len(entry)))
        pos += len(entry)
    return "".join([separator, (eol + eol).join(entry_texts), end]), spans


def check_bibtex_sees(
    bib: BibFile,
    text: str,
    spans: Sequence[tuple[int, int]],
    keys: Sequence[str],
    *,
    edited: bool = False,
    offset: int = 0,
) -> None:
    """Refuse, with the line that swallows them, appended entries BibTeX would not read.

    `text` is what would be written: the file's text (`edited` in place if so) and the new
    entries at `spans`, under `keys`; or, not edited, that text from `offset` on, where
    offset is at most where BibTeX's reading of the file stopped (`BibFile.bibtex_resume`).

    Raises:
        BibFileError: BibTeX would not read one of the new entries as an entry of its own.
    """
    from readlist.bibreader import read_like_bibtex, resume_state, unseen_entries

    if not spans:
        return
    before_end = spans[0][0]
    # Tags merged in place: read the edited text again.
    resume = resume_state(read_like_bibtex(text[:before_end])) if edited else bib.bibtex_resume()
    appended = [(start, end, key) for (start, end), key in zip(spans, keys, strict=True)]
    unseen = unseen_entries(resume, text, appended, offset)
    if not unseen:
        return
    if offset:
        text = bib.text[:offset] + text
    _, why = unseen[0]
    # Explain with everything before the new entries, separator included: once the file's last
    # line is no longer its last, bibtex reads on along it (see bibreader), and what it then
    # has open at the end is what takes the new entry in.
    explained = read_like_bibtex(text[:before_end])
    line, reason = _swallow_reason(explained, text[:before_end], why)
    message = f"{reason}, so BibTeX would not see a new entry; fix the file (nothing was written)"
    raise BibFileError(bib.path, message, line=line)


def _swallow_reason(view: BibtexView, text: str, why: str) -> tuple[int, str]:
    """Where and why BibTeX, reading `text`, would not take what follows for a new entry."""
    open_at_end = view.open_at_end
    if open_at_end is None:  # not expected: a new entry after a finished one is read
        return text.count("\n", 0, view.resume_at) + 1, f"the new entry is {why}"
    where = f"`{open_at_end.head}` (line {open_at_end.line})"
    if open_at_end.state == "value" and open_at_end.value_start >= 0:
        opener = text[open_at_end.value_start]
        name = f"field `{open_at_end.field_name}`" if open_at_end.field_name else "the value"
        value = text[open_at_end.value_start : open_at_end.value_start + 2000]
        hint = ""
        if "\\{" in value or "\\}" in value:
            hint = " (in a .bib a backslash does not escape a brace: write `{\\{}`)"
        elif opener == '"':
            hint = " (its braces do not balance)"
        closer = "}" if opener == "{" else '"'
        return open_at_end.value_line, (
            f"the `{opener}` opening {name} of {where} is never closed by a matching "
            f"`{closer}`{hint}: BibTeX reads the rest of the file into it"
        )
    if open_at_end.state == "field name":
        return open_at_end.line, (
            f"{where} is not closed: BibTeX would take the next `@type` for one of its fields"
        )
    return open_at_end.line, f"{where} is not finished at the end of the file"


@dataclass(frozen=True)
class FieldSpan:
    """Where one field of an entry stands in the entry's raw text."""

    name: str
    name_start: int
    value_start: int  # first character of the value (its `{` or `"` or token)
    value_end: int  # just past the value


def field_spans(raw: str) -> list[FieldSpan]:
    """Locate each `name = value` of an entry's raw text (from `@type{key,` to the close)."""
    opener = min((i for i in (raw.find("{"), raw.find("(")) if i != -1), default=-1)
    if opener == -1:
        return []
    close_char = "}" if raw[opener] == "{" else ")"
    comma = _skip_key(raw, opener + 1, close_char)
    spans: list[FieldSpan] = []
    pos = comma + 1 if comma != -1 else len(raw)
    n = len(raw)
    while pos < n:
        while pos < n and (raw[pos].isspace() or raw[pos] == ","):
            pos += 1
        if pos >= n or raw[pos] == close_char:
            break
        name_start = pos
        eq = raw.find("=", pos)
        if eq == -1:
            break
        name = raw[name_start:eq].strip().lower()
        pos = eq + 1
        while pos < n and raw[pos].isspace():
            pos += 1
        value_start = pos
        pos = _skip_value(raw, pos, close_char)
        value_end = pos
        while value_end > value_start and raw[value_end - 1].isspace():
            value_end -= 1
        spans.append(FieldSpan(name, name_start, value_start, value_end))
    return spans


def _skip_key(raw: str, pos: int, close_char: str) -> int:
    while pos < len(raw):
        if raw[pos] == ",":
            return pos
        if raw[pos] == close_char:
            return -1
        pos += 1
    return -1


def _skip_value(raw: str, pos: int, close_char: str) -> int:
    """Return the offset of the `,` or closing delimiter that ends the value at `pos`."""
    depth = 0
    in_quotes = False
    n = len(raw)
    while pos < n:
        ch = raw[pos]
        if ch == "\\" and pos + 1 < n:
            pos += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return pos
            depth -= 1
        elif ch == '"' and depth == 0:
            in_quotes = not in_quotes
        elif depth == 0 and not in_quotes and (ch == "," or ch == close_char):
            return pos
        pos += 1
    return pos


def set_field(raw: str, name: str, value: str, eol: str) -> str:
    """Return the entry's raw text with field `name` set to `{value}`, all else unchanged.

    An existing field keeps its position and spacing; a new one goes after the last field,
    indented like it.
    """
    spans = field_spans(raw)
    for span in spans:
        if span.name == name.lower():
            return raw[: span.value_start] + "{" + value + "}" + raw[span.value_end :]
    close = len(raw) - 1
    while close > 0 and raw[close] not in "})":
        close -= 1
    if not spans:
        head = raw[:close].rstrip()
        sep = "" if head.endswith(",") else ","
        return f"{head}{sep}{eol}  {name} = {{{value}}}{eol}{raw[close:]}"
    last = spans[-1]
    line_start = raw.rfind("\n", 0, last.name_start) + 1
    indent = raw[line_start : last.name_start]
    if indent.strip():
        indent = "  "
    after = raw[last.value_end : close]
    trailing_comma = after.lstrip().startswith(",")
    insert_at = last.value_end + (after.index(",") + 1 if trailing_comma else 0)
    new_field = f"{eol}{indent}{name} = {{{value}}}" + ("," if trailing_comma else "")
    return raw[:insert_at] + ("" if trailing_comma else ",") + new_field + raw[insert_at:]


def replace_spans(text: str, edits: Sequence[tuple[int, int, str]]) -> str:
    """Apply non-overlapping (start, end, replacement) edits to `text`."""
    out: list[str] = []
    cursor = 0
    for start, end, replacement in sorted(edits):
        if start < cursor:
            raise ValueError("overlapping edits")
        out.append(text[cursor:start])
        out.append(replacement)
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


# -- writing -------------------------------------------------------------------------------
#
# The .bib is the user's, and often not a plain file: one central library symlinked into every
# paper folder, a hard link shared with a sync folder, a 0600 file, a file made read-only on
# purpose. A write goes to the file the name stands for and keeps what the user set up:
#
# - a symbolic link (a chain, relative, into another folder) is followed; the target is
#   written, with its lock and temporary file beside it, and the link stays a link;
# - a dangling link is refused rather than "repaired": the central library it points to may
#   be on a disk that is not mounted, and a new file there would silently split the library;
# - a hard-linked file (more than one name) keeps its inode, so every name sees the new
#   entries: it is changed in place (see `_write_in_place`) instead of replaced by rename;
# - mode, and owner where permitted, are kept; a read-only file or folder is refused, judged
#   by its mode bits too, since root passes every `access()` check;
# - the write itself runs with SIGINT, SIGTERM and SIGHUP deferred, so it is never cut in half.


def write_target(path: Path) -> Path:
    """Return the file a write to `path` changes: symbolic links followed, else `path`.

    Raises:
        BibFileError: `path` is a dangling link or a link loop.
    """
    if not path.is_symlink():
        return path
    try:
        return Path(os.path.realpath(path, strict=True))
    except FileNotFoundError:
        where = os.path.realpath(path)
        raise BibFileError(
            path,
            f"is a symbolic link to {where}, which does not exist; create that file or fix "
            "the link (nothing was written)",
        ) from None
    except OSError as exc:
        raise BibFileError(
            path, f"cannot follow the symbolic link: {exc.strerror or exc} (nothing was written)"
        ) from None


def _folder(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def _read_only(path: Path, st: os.stat_result) -> bool:
    """Whether `path` is read-only for us, by its mode bits as well as by `access()`."""
    import stat as stat_module

    if not os.access(path, os.W_OK):
        return True
    if st.st_mode & 0o222 == 0:
        return True  # `chmod a-w`: root may write it, but the user said no
    return st.st_uid == os.geteuid() and not st.st_mode & stat_module.S_IWUSR


def check_writable(path: Path) -> Path:
    """Check that the .bib at `path` can be written; return the file a write changes.

    Called before any network request, and again under the lock just before writing.

    Raises:
        BibFileError: a dangling link, a directory, a pipe or device, a missing or read-only
            folder, a read-only file.
    """
    import stat as stat_module

    target = write_target(path)
    shown = path if target == path else f"{path} (-> {target})"
    try:
        st = target.stat()
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise BibFileError(shown, f"cannot check: {exc.strerror or exc}") from None
    if st is not None and stat_is_dir(st):
        raise BibFileError(shown, "is a directory, not a .bib file")
    if st is not None and not stat_module.S_ISREG(st.st_mode):
        raise BibFileError(shown, "is not a regular file (a pipe or device?); nothing was written")
    if st is not None and _read_only(target, st):
        raise BibFileError(
            shown,
            f"is read-only (mode {st.st_mode & 0o7777:04o}); nothing was written (make it "
            "writable, e.g. chmod u+w, to add to it)",
        )
    folder = _folder(target)
    try:
        folder_st = folder.stat()
    except OSError:
        raise BibFileError(shown, f"its folder {folder} does not exist") from None
    if not stat_is_dir(folder_st):
        raise BibFileError(shown, f"{folder} is not a folder")
    # Replacing (and, for edits, the in-place path's safety copy) needs a temporary file
    # beside the target.
    if not os.access(folder, os.W_OK | os.X_OK) or folder_st.st_mode & 0o222 == 0:
        raise BibFileError(
            shown,
            f"its folder {folder} is read-only, so no temporary file can be written beside it; "
            "nothing was written",
        )
    return target


def stat_is_dir(st: os.stat_result) -> bool:
    import stat as stat_module

    return stat_module.S_ISDIR(st.st_mode)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock for editing `path` (the file its links lead to).

    The lock is taken on the target's folder, not on the file: the file is replaced by rename
    on most writes, and a folder lock leaves no lock file behind in the user's folder. Every
    name of a symlinked file leads to the same folder, so its writers take the same lock.
    """
    directory = _folder(write_target(path))
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no locking
        yield
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError as exc:
        raise BibFileError(path, f"cannot open its folder: {exc.strerror or exc}") from None
    file_fd: int | None = None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        target = write_target(path)
        _remove_stale_temps(target)
        _check_cut_edit(path, target)
        # A hard-linked file may be reached through a name in another folder, whose writers
        # take another folder lock; as it is changed in place (never replaced), its inode is
        # locked too. Always folder first, then file: no two writers can wait on each other.
        with contextlib.suppress(OSError):
            if target.stat().st_nlink > 1:
                file_fd = os.open(target, os.O_RDONLY)
        if file_fd is not None:
            fcntl.flock(file_fd, fcntl.LOCK_EX)
        yield
    finally:
        if file_fd is not None:
            os.close(file_fd)
        os.close(fd)  # closing releases the lock


def _remove_stale_temps(target: Path) -> None:
    """Remove temporary files a killed writer (SIGKILL, power cut) left beside `target`.

    Only called with the lock held: every live writer holds it while its temp file exists,
    so any such file now is stale. The safety copy of an in-place edit (`.readlist-new`) is
    left alone: after a crash it may be the only complete copy of the new text.
    """
    pattern = re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}\.tmp")
    with contextlib.suppress(OSError):
        for name in os.listdir(_folder(target)):
            if pattern.fullmatch(name):
                with contextlib.suppress(OSError):
                    os.unlink(_folder(target) / name)


def write_atomic(path: Path, data: bytes) -> None:
    """Make the file `path` stands for hold `data`, all or nothing, keeping links and mode.

    A plain file is replaced: temporary file beside it, fsync, rename, fsync of the folder.
    A hard-linked file is changed in place (`_write_in_place`). Stop signals are held until
    the write is over.
    """
    append_atomic(path, b"", None, data)


def append_atomic(path: Path, head: bytes, head_stat: os.stat_result | None, tail: bytes) -> None:
    """`write_atomic` of `head + tail`, where `head` is the file's content as it stood at
    `head_stat`: while it still stands so, `head` is copied on disk by the kernel rather than
    written again, which for a big library is most of the cost of adding to it.
    """
    from readlist.signals import deferred

    target = check_writable(path)
    with deferred():
        try:
            st = target.stat()
        except FileNotFoundError:
            st = None
        if st is not None and st.st_nlink > 1:
            _write_in_place(path, target, head + tail)
        elif head and st is not None and _same_state(head_stat, st):
            _replace(path, target, tail, st, head)
        else:
            _replace(path, target, head + tail, st)


def _temp_beside(path: Path, target: Path, suffix: str = ".tmp") -> tuple[int, str]:
    try:
        return tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=_folder(target))
    except OSError as exc:
        raise BibFileError(path, f"cannot write a temporary file: {exc.strerror or exc}") from None


def _check_cut_edit(path: Path, target: Path) -> None:
    """Refuse to build on a hard-linked file whose in-place edit a crash cut short.

    The safety copy `.<name>.*.readlist-new` outlives its edit only after SIGKILL or a power
    cut. If the file holds exactly that text, the edit had finished and the copy goes;
    otherwise the file may be torn and the copy is the complete new text: the user decides.
    """
    folder = _folder(target)
    pattern = re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}\.readlist-new")
    try:
        copies = sorted(name for name in os.listdir(folder) if pattern.fullmatch(name))
    except OSError:
        return
    for name in copies:
        copy = folder / name
        try:
            finished = copy.read_bytes() == target.read_bytes()
        except OSError:
            continue
        if finished:
            with contextlib.suppress(OSError):
                copy.unlink()
            continue
        raise BibFileError(
            path,
            f"an earlier edit was cut short (kill -9 or a crash); the complete new text is in "
            f"{copy}: compare, keep the right one, and delete that file (nothing was written)",
        )


def _write_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def _fsync_folder(directory: Path) -> None:
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _same_state(then: os.stat_result | None, now: os.stat_result) -> bool:
    if then is None:
        return False
    return (then.st_dev, then.st_ino, then.st_size, then.st_mtime_ns, then.st_ctime_ns) == (
        now.st_dev,
        now.st_ino,
        now.st_size,
        now.st_mtime_ns,
        now.st_ctime_ns,
    )


def _copy_head(target: Path, fd: int, count: int, expected: os.stat_result) -> int:
    """Copy the first `count` bytes of `target` into `fd` in the kernel; how many were copied.

    Only from the very file that stood as `expected` (a file put in its place since is not
    copied from). Anything short of all of them (no `copy_file_range`, another file system)
    returns 0, and the caller writes everything itself.
    """
    copy = getattr(os, "copy_file_range", None)
    if copy is None or count <= 0:
        return 0
    try:
        source = os.open(target, os.O_RDONLY)
    except OSError:
        return 0
    done = 0
    try:
        if not _same_state(expected, os.fstat(source)):
            return 0
        while done < count:
            step = copy(source, fd, count - done, done, done)
            if step <= 0:
                return 0
            done += step
    except OSError:
        return 0
    finally:
        os.close(source)
    return done


def _replace(
    path: Path, target: Path, data: bytes, st: os.stat_result | None, head: bytes = b""
) -> None:
    """Replace `target` by rename: temp file beside it, fsync, same mode and owner, rename.

    The new content is `head + data`, where `head` is what `target` holds now: it is copied
    from there where the kernel can.
    """
    if st is not None:
        mode = st.st_mode & 0o7777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = _temp_beside(path, target)
    try:
        try:
            os.fchmod(fd, mode)
            if st is not None and (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                # root editing a user's file must not hand it to root; others cannot chown
                with contextlib.suppress(OSError):
                    os.fchown(fd, st.st_uid, st.st_gid)
            if head and (st is None or _copy_head(target, fd, len(head), st) < len(head)):
                _write_all(fd, head, 0)
            _write_all(fd, data, len(head))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise BibFileError(path, f"cannot write: {exc.strerror or exc}") from None
        raise
    _fsync_folder(_folder(target))


def _common_prefix(a: bytes, b: bytes) -> int:
    """Length of the longest common prefix of `a` and `b` (compared in blocks, then bytes)."""
    limit = min(len(a), len(b))
    pos = 0
    block = 1 << 16
    while pos + block <= limit and a[pos : pos + block] == b[pos : pos + block]:
        pos += block
    while pos < limit and a[pos] == b[pos]:
        pos += 1
    return pos


def _write_in_place(path: Path, target: Path, data: bytes) -> None:
    """Change a hard-linked file in place, so every one of its names sees the change.

    Why in place and not refused: a rename would give the new text to this name only and
    leave the other names on the old inode, which is exactly the silent split the user linked
    the files to avoid. In place is made safe this way:
    - nothing before the first changed byte is rewritten; an `add` only appends, so the
      original bytes are never touched, and a failed append (a full disk) is truncated back;
    - an edit inside the file (`--merge-tags`, `retag`, `resolve`) first writes the complete
      new text to a temporary file beside the target and fsyncs it, and only then overwrites
      the changed tail in place, fsyncs, and removes the copy; a failure in between puts the
      old tail back;
    - stop signals are deferred by the caller, so only SIGKILL or a power cut can land in the
      middle, and then the complete new text is still in `.<name>.*.readlist-new` beside the
      file (never removed automatically).
    """
    try:
        fd = os.open(target, os.O_RDWR)
    except OSError as exc:
        raise BibFileError(path, f"cannot write: {exc.strerror or exc}") from None
    tmp: str | None = None
    try:
        old = b""
        while chunk := os.pread(fd, 1 << 20, len(old)):
            old += chunk
        if old == data:
            return
        start = _common_prefix(old, data)
        if start < len(old):
            tmp_fd, tmp = _temp_beside(path, target, ".readlist-new")
            try:
                _write_all(tmp_fd, data, 0)
                os.fsync(tmp_fd)
            finally:
                os.close(tmp_fd)
        try:
            _write_all(fd, data[start:], start)
            if len(data) < len(old):
                os.ftruncate(fd, len(data))
            os.fsync(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                _write_all(fd, old[start:], start)
                os.ftruncate(fd, len(old))
                os.fsync(fd)
            raise BibFileError(path, f"cannot write: {exc.strerror or exc}") from None
        if tmp is not None:
            os.unlink(tmp)
            tmp = None
    except OSError as exc:
        raise BibFileError(path, f"cannot write: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
