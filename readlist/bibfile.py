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


class BibIndex:
    """Look-ups from arXiv ID, DOI and normalized title to the entry that holds them."""

    def __init__(self, entries: Sequence[BibEntry]) -> None:
        self.by_arxiv: dict[str, BibEntry] = {}
        self.by_doi: dict[str, BibEntry] = {}
        self.by_title: dict[str, BibEntry] = {}
        self.keys_folded: set[str] = set()
        for entry in entries:
            self.add(entry)

    def add(self, entry: BibEntry) -> None:
        self.keys_folded.add(entry.key.lower())
        for arxiv_id in entry.arxiv_ids():
            self.by_arxiv.setdefault(arxiv_id.id.lower(), entry)
        doi = entry.get("doi")
        if doi:
            self.by_doi.setdefault(normalize_doi(doi), entry)
        title = entry.get("title")
        if title:
            norm = normalize_title(title)
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
            norm = normalize_title(title)
            hit = self.by_title.get(norm) if norm else None
            # Distinct papers can share a title: two arXiv IDs that differ tell them apart.
            if hit and arxiv_id is not None:
                theirs = {i.id.lower() for i in hit.arxiv_ids()}
                if theirs and arxiv_id.id.lower() not in theirs:
                    hit = None
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
    from readlist.signals import deferred

    target = check_writable(path)
    with deferred():
        try:
            st = target.stat()
        except FileNotFoundError:
            st = None
        if st is not None and st.st_nlink > 1:
            _write_in_place(path, target, data)
        else:
            _replace(path, target, data, st)


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


def _write_all(fd: int, data: bytes, offset: int) -> None:
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


def _replace(path: Path, target: Path, data: bytes, st: os.stat_result | None) -> None:
    """Replace `target` by rename: temp file beside it, fsync, same mode and owner, rename."""
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
            _write_all(fd, data, 0)
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
