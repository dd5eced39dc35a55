"""The user's .bib file: lossless reading, appending and in-place edits.

Every byte outside the entries readlist touches stays as it was. The file is decoded with
`surrogateescape`, so even bytes that are not UTF-8 survive a read/write round trip; a BOM and
the file's line-ending style are remembered and reused for what we add.

Parsing uses bibtexparser 2's splitter only (no middlewares): it gives each block's raw text
and line, which is all a merge needs, at a fraction of a full parse's cost.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from readlist.errors import BibFileError
from readlist.ids import find_arxiv_ids
from readlist.models import ArxivId
from readlist.normalize import normalize_title

BOM = "\ufeff"

# Fields whose whole value may be a bare arXiv number (`eprint = {2006.03654}`).
_BARE_ID_FIELDS = ("eprint", "arxivid", "arxiv")
# Fields that mention an arXiv ID only with context (`arXiv:…`, an arxiv.org URL, the DOI).
_CONTEXT_ID_FIELDS = ("url", "doi", "journal", "journaltitle", "note", "howpublished", "ids")

STATUS_FIELD = "readlist-status"
UNRESOLVED = "unresolved"


@dataclass(frozen=True)
class BibEntry:
    """One entry of a .bib file, with where it stands in the file's text."""

    key: str
    entry_type: str
    fields: dict[str, str]  # lower-cased field name -> value with one enclosing layer removed
    line: int  # 1-based line of the `@`
    start: int  # offset of the `@` in BibFile.text
    end: int  # offset just past the closing delimiter

    def get(self, name: str) -> str | None:
        return self.fields.get(name)

    @property
    def tags(self) -> list[str]:
        from readlist.tags import parse_keywords

        return parse_keywords(self.fields.get("keywords", ""))

    @property
    def is_unresolved(self) -> bool:
        return self.fields.get(STATUS_FIELD, "").strip().lower() == UNRESOLVED

    def arxiv_ids(self) -> list[ArxivId]:
        """Every arXiv identifier this entry names, in any of its forms."""
        found: list[ArxivId] = []
        for name in _BARE_ID_FIELDS:
            value = self.fields.get(name)
            if value:
                found.extend(find_arxiv_ids(value, bare_ok=True))
        for name in _CONTEXT_ID_FIELDS:
            value = self.fields.get(name)
            if value:
                found.extend(find_arxiv_ids(value))
        return found


@dataclass
class BibFile:
    """A .bib file as read from disk, ready for lossless edits."""

    path: Path
    text: str  # decoded text without the BOM
    bom: bool = False
    exists: bool = True
    entries: list[BibEntry] = field(default_factory=list)

    @property
    def eol(self) -> str:
        """The file's dominant line ending, reused for everything we add."""
        crlf = self.text.count("\r\n")
        return "\r\n" if crlf and crlf * 2 >= self.text.count("\n") else "\n"

    @property
    def keys(self) -> set[str]:
        return {e.key for e in self.entries}

    def entry(self, key: str) -> BibEntry | None:
        for e in self.entries:
            if e.key == key:
                return e
        return None

    def encode(self, text: str | None = None) -> bytes:
        """Encode `text` (default: the current text) the way the file was stored."""
        body = self.text if text is None else text
        return ((BOM if self.bom else "") + body).encode("utf-8", "surrogateescape")


def decode_bib(data: bytes) -> tuple[str, bool]:
    """Decode .bib bytes losslessly; return the text without BOM and whether there was one."""
    text = data.decode("utf-8", "surrogateescape")
    if text.startswith(BOM):
        return text[1:], True
    return text, False


def _strip_enclosing(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and (
        (value[0] == "{" and value[-1] == "}") or (value[0] == '"' and value[-1] == '"')
    ):
        return value[1:-1]
    return value


def _line_offsets(text: str) -> list[int]:
    offsets = [0]
    pos = text.find("\n")
    while pos != -1:
        offsets.append(pos + 1)
        pos = text.find("\n", pos + 1)
    return offsets


def parse_entries(text: str, path: Path | str) -> list[BibEntry]:
    """Split `text` into entries; refuse it with file:line when BibTeX could not read it.

    Raises:
        BibFileError: a block is malformed (an unterminated value, a missing comma...).
    """
    from bibtexparser.model import (
        DuplicateBlockKeyBlock,
        DuplicateFieldKeyBlock,
        Entry,
        ParsingFailedBlock,
    )
    from bibtexparser.splitter import Splitter

    # Splitting allocates hundreds of thousands of small acyclic objects; the cyclic garbage
    # collector would scan them over and over for nothing (~10% of the parse).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        library = _quiet_split(Splitter, text)
    finally:
        if gc_was_enabled:
            gc.enable()
    entries: list[BibEntry] = []
    line_starts: list[int] | None = None
    cursor = 0
    for block in library.blocks:
        if isinstance(block, ParsingFailedBlock) and not isinstance(
            block, DuplicateBlockKeyBlock | DuplicateFieldKeyBlock
        ):
            raw = block.raw or ""
            # BibTeX itself skips whatever follows `@comment`, so a block bibtexparser could
            # not close there is no error to BibTeX, biber or the user.
            if raw.lstrip("@").lower().startswith("comment"):
                continue
            raise BibFileError(path, _describe_failure(block), line=(block.start_line or 0) + 1)
        entry = block
        if isinstance(block, DuplicateBlockKeyBlock | DuplicateFieldKeyBlock):
            entry = block.ignore_error_block
        if not isinstance(entry, Entry):
            continue
        raw = entry.raw or ""
        start = text.find(raw, cursor) if raw else -1
        if start == -1:  # pragma: no cover - the splitter's raw is always a slice of the text
            if line_starts is None:
                line_starts = _line_offsets(text)
            start = line_starts[min(entry.start_line or 0, len(line_starts) - 1)]
        end = start + len(raw)
        cursor = end
        fields = {}
        for f in entry.fields:
            name = f.key.lower()
            if name not in fields:
                fields[name] = _strip_enclosing(f.value) if isinstance(f.value, str) else ""
        entries.append(
            BibEntry(
                key=entry.key,
                entry_type=entry.entry_type.lower(),
                fields=fields,
                line=(entry.start_line or 0) + 1,
                start=start,
                end=end,
            )
        )
    return entries


def _quiet_split(splitter_cls: type, text: str):  # type: ignore[no-untyped-def]
    """Run the splitter with its per-block log warnings silenced; we report failures ourselves."""
    import logging

    logger = logging.getLogger("bibtexparser")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        return splitter_cls(text).split()
    finally:
        logger.setLevel(previous)


def _describe_failure(block: object) -> str:
    error = getattr(block, "error", None)
    reason = getattr(error, "abort_reason", None) or str(error or "syntax error")
    reason = " ".join(reason.split()).rstrip(". ")
    raw = (getattr(block, "raw", "") or "").strip().splitlines()
    head = raw[0][:60] if raw else ""
    return f"cannot parse `{head}`: {reason}; fix the file (nothing was written)"


def read_bib(path: Path) -> BibFile:
    """Read and parse `path`; a file that does not exist yet reads as empty."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return BibFile(path=path, text="", exists=False)
    except IsADirectoryError:
        raise BibFileError(path, "is a directory, not a .bib file") from None
    except OSError as exc:
        raise BibFileError(path, f"cannot read: {exc.strerror or exc}") from None
    if b"\x00" in data:
        raise BibFileError(path, "looks like a binary file, not BibTeX; nothing was written")
    text, bom = decode_bib(data)
    return BibFile(path=path, text=text, bom=bom, entries=parse_entries(text, path))


# -- finding what the file already holds --------------------------------------------------


def normalize_doi(doi: str) -> str:
    """Lower-case a DOI and drop any resolver prefix, so equal DOIs compare equal."""
    value = doi.strip().lower()
    for prefix in ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "doi:"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    return value.strip()


# A backslash the decoder left (``\\alpha``, ``{\\textbackslash}``) is text: its word stands alone.
_LITERAL_MACRO_RE = re.compile(r"\\([A-Za-z]*)")
_FALLBACK_RE = re.compile(r"\[U\+(10[0-9A-F]{4}|0?[0-9A-F]{4,5})\]")


def _title_key(title: str, *, field: bool) -> str:
    """Normalize a title read from a .bib (`field`) or a listing the same way.

    TeX is decoded first by the decoder the writer is tested against, so a title holding
    literal braces or backslashes (written ``{\\textbraceleft}``...) finds its own entry; a
    title without a backslash decodes to itself, and skips that work. What the decoder left
    is literal text: a backslash in it separates words and escapes nothing.
    """
    if "\\" in title:
        from readlist.latex import plain_text

        # Accents go first (the key ignores them anyway), so that a letter after a literal
        # backslash word reads the same whether the writer kept its accent or dropped it.
        decoded = unicodedata.normalize("NFD", plain_text(title, field=field))
        decoded = "".join(char for char in decoded if not unicodedata.combining(char))
        title = _LITERAL_MACRO_RE.sub(r" \1 ", decoded)
    if "[U+" in title:
        # latex.FALLBACK_FORMAT: how a character pdfLaTeX cannot typeset (CJK, emoji) is written.
        title = _FALLBACK_RE.sub(lambda m: chr(int(m.group(1), 16)), title)
    return normalize_title(title)


class BibIndex:
    """Look-ups from arXiv ID, DOI and normalized title to the entry that holds them."""

    def __init__(self, entries: Sequence[BibEntry]) -> None:
        self.by_arxiv: dict[str, BibEntry] = {}
        self.by_doi: dict[str, BibEntry] = {}
        self.by_title: dict[str, BibEntry] = {}
        self.keys_folded: set[str] = set()
        for entry in entries:
            self.add(entry)

    def add(self, entry: BibEntry, *, tex: bool = True) -> None:
        """Index `entry`; without `tex`, its title is plain text (a paper not yet written)."""
        self.keys_folded.add(entry.key.lower())
        for arxiv_id in entry.arxiv_ids():
            self.by_arxiv.setdefault(arxiv_id.id.lower(), entry)
        doi = entry.get("doi")
        if doi:
            self.by_doi.setdefault(normalize_doi(doi), entry)
        title = entry.get("title")
        if title:
            norm = _title_key(title, field=tex)
            if norm:
                self.by_title.setdefault(norm, entry)

    def find(
        self,
        *,
        arxiv_id: ArxivId | None = None,
        doi: str | None = None,
        title: str | None = None,
    ) -> tuple[BibEntry, str] | None:
        """Return the entry already holding this paper and what matched, if any."""
        if arxiv_id is not None:
            hit = self.by_arxiv.get(arxiv_id.id.lower()) or self.by_doi.get(arxiv_id.doi.lower())
            if hit:
                return hit, f"arXiv:{arxiv_id.id}"
        if doi:
            hit = self.by_doi.get(normalize_doi(doi))
            if hit:
                return hit, f"DOI {doi}"
        if title:
            norm = _title_key(title, field=False)
            hit = self.by_title.get(norm) if norm else None
            if hit:
                return hit, "same title"
        return None


# -- editing -------------------------------------------------------------------------------


def appended_text(text: str, eol: str, entry_texts: Sequence[str]) -> str:
    """Return `text` with `entry_texts` appended and nothing before them changed.

    Entries are separated by a blank line; a file that did not end in a newline still does
    not, so the user's own style is kept.
    """
    if not entry_texts:
        return text
    block = (eol + eol).join(entry_texts)
    if not text.strip():
        return text + block + eol
    if text.endswith(("\n", "\r")):
        blank_already = text.endswith(("\n\n", "\r\n\r\n", "\r\r"))
        return text + ("" if blank_already else eol) + block + eol
    return text + eol + eol + block


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


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock for editing `path`.

    The lock is taken on the directory, not the file: the file is replaced by rename on every
    write, and a directory lock leaves no lock file behind in the user's folder.
    """
    directory = path.parent if str(path.parent) else Path(".")
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no locking
        yield
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError as exc:
        raise BibFileError(path, f"cannot open its folder: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically: temp file in the same folder, fsync, rename."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise BibFileError(path, f"cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise BibFileError(path, f"cannot write: {exc.strerror or exc}") from None
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
