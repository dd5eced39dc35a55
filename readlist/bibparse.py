"""Reading the entries of .bib text: key, type, fields and span of each, the way biber does.

The reference is bibtexparser 2's splitter (no middlewares), which reads a .bib the way biber
does and gives each block's raw text and line. It walks the text mark by mark in Python, and on a
big library that walk is most of a command's time. Most entries are plain, though: `@type{key,`
then `name = {value}` pairs with balanced braces. Those are read here with one regular expression
per field, which gives exactly what the splitter would; everything else (comments, @string,
@preamble, `(...)` entries, quoted values with escapes, deep nesting, a broken entry) is handed to
the splitter itself, a region at a time. A region ends where the next plain entry begins, and is
accepted only if the splitter finished its last block inside it, untouched by the cut; otherwise
the splitter reads the rest of the file. So the result is the splitter's, only faster; a test
compares the two on every corpus file and on generated text.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from readlist.ids import find_arxiv_ids
from readlist.models import ArxivId

STATUS_FIELD = "readlist-status"
UNRESOLVED = "unresolved"

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


def plain_field(value: str) -> str:
    """A field's text without TeX: escapes decoded, grouping braces dropped."""
    if "\\" not in value and "$" not in value:
        return value.replace("{", "").replace("}", "")
    from pylatexenc.latex2text import LatexNodes2Text

    try:
        # pylatexenc recurses once per nested group: a hostile .bib could exhaust the stack,
        # and a macro missing its arguments (`\href{x}` at the end) fails inside it.
        return str(LatexNodes2Text(math_mode="verbatim").latex_to_text(value))
    except (RecursionError, IndexError, ValueError, TypeError, AttributeError):
        from readlist.latex import plain_text

        return plain_text(value, field=True)


def plain_tags(entry: BibEntry) -> list[str]:
    """The entry's `keywords` as plain tags (`vision\\_language` -> `vision_language`)."""
    return [plain_field(tag) for tag in entry.tags]


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


def parse_entries(
    text: str, path: Path | str, *, problems: list[tuple[int, str]] | None = None
) -> list[BibEntry]:
    """Split `text` into entries the way biber reads them.

    Three things bibtexparser's splitter gets wrong are put right here: an `@comment` body may
    hold any braces (a block it could not close there is skipped, as BibTeX and biber do);
    `@commentary{k, ...}` and other types that merely start with "comment" are entries; a
    `%` line between fields is a comment (biber skips it), not part of the next field's name.
    A block that cannot be read at all is skipped and described in `problems` (line, text):
    BibTeX skips it too, and whether appending is still safe is for `bibreader` to tell.

    Plain entries are read by `_plain_entry`; the splitter reads the rest (module docstring).
    """
    return list(iter_entries(text, problems))


def iter_entries(text: str, problems: list[tuple[int, str]] | None = None) -> Iterator[BibEntry]:
    """`parse_entries`, one entry at a time (what is done with each need not be kept)."""
    search = _BLOCK_START.search
    count = text.count
    pos = 0
    line_at, line_no = 0, 1  # offset `line_at` is on line `line_no`
    # Entries allocate many small acyclic objects: the cyclic collector would only slow us.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        while (found := search(text, pos)) is not None:
            at = found.start()
            line_no += count("\n", line_at, at)
            line_at = at
            plain = _plain_entry(text, at, line_no)
            if plain is not None:
                yield plain
                pos = plain.end
                continue
            # Hand the splitter everything up to the next plain entry, or to the end.
            stop = len(text)
            for later in _BLOCK_START.finditer(text, found.end()):
                if _plain_entry(text, later.start(), 0) is not None:
                    stop = later.start()
                    break
            region_problems: list[tuple[int, str]] = []
            region, clean = _split_region(text[at:stop], region_problems)
            if not clean and stop < len(text):
                stop = len(text)
                region_problems = []
                region, _ = _split_region(text[at:], region_problems)
            for entry in region:
                yield _moved(entry, at, line_no - 1)
            if problems is not None:
                problems.extend((line + line_no - 1, why) for line, why in region_problems)
            pos = stop
    finally:
        if gc_was_enabled:
            gc.enable()


def _moved(entry: BibEntry, offset: int, lines: int) -> BibEntry:
    """`entry`, read from a region of the text, placed at `offset` and `lines` lines down."""
    return BibEntry(
        key=entry.key,
        entry_type=entry.entry_type,
        fields=entry.fields,
        line=entry.line + lines,
        start=entry.start + offset,
        end=entry.end + offset,
    )


# What bibtexparser's splitter takes for the start of a block (its `_BLOCK_START`; a test
# checks they agree).
_BLOCK_START = re.compile(r"@[\w]*( |\t)*(?=[{(])")
# `@type{key,` or `@type{key}`: the key runs to the first of the splitter's marks.
_PLAIN_HEAD = re.compile(r"@(\w+)[ \t]*\{([^{}\",=\n\\@]*)([,}])")
# Braces the splitter counts are those not preceded by a backslash (`\{` is text to it);
# groups nest at most four deep here.
_TEXT = r"(?:[^{}\\]++|\\[{}]?)*+"
_GROUP = rf"\{{{_TEXT}\}}"
for _ in range(3):
    _GROUP = rf"\{{{_TEXT}(?:{_GROUP}{_TEXT})*+\}}"
# A quoted value. Inside quotes the splitter counts no braces, and a `"` ends the value unless a
# backslash precedes it or it is the `{"}` escape.
_QUOTED = r'"(?:[^"\\{]++|\\"?|\{(?!")|\{"\})*+"'
# `name = value` up to the `,` or `}` after it, as the splitter delimits them.
_PLAIN_FIELD = re.compile(rf"([^{{}}\",=\\@%]*)=((?:{_GROUP}|{_QUOTED}|[^{{}}\",\\@]++)*+)([,}}])")
_TRAILING_BLOCK_START = re.compile(r"@\w*[ \t]*\Z")
_TRAILING_CLOSE = re.compile(r"\s*\}")
# An `@` first on a line makes the splitter give up the block it is in.
_AT_LINE_START = re.compile(r"\n\s*@")
_NOT_ENTRIES = ("comment", "preamble", "string")


def _plain_entry(text: str, at: int, line: int) -> BibEntry | None:
    """Read the entry at `at` if it is plain; None if the splitter must read it."""
    head = _PLAIN_HEAD.match(text, at)
    if head is None:
        return None
    entry_type = head.group(1).lower()
    if entry_type.startswith(_NOT_ENTRIES):
        return None
    fields: dict[str, str] = {}
    pos = head.end()
    closer = head.group(3)
    match_field = _PLAIN_FIELD.match
    while closer == ",":
        field = match_field(text, pos)
        if field is None:
            close = _TRAILING_CLOSE.match(text, pos)
            if close is None:
                return None
            pos = close.end()
            break
        name = field.group(1).strip().lower()
        if not name:
            return None
        if name not in fields:
            fields[name] = _strip_enclosing(field.group(2))
        pos = field.end()
        closer = field.group(3)
    if _AT_LINE_START.search(text, at, pos) is not None:
        return None
    return BibEntry(
        key=head.group(2).strip(),
        entry_type=entry_type,
        fields=fields,
        line=line,
        start=at,
        end=pos,
    )


def _split_region(text: str, problems: list[tuple[int, str]] | None) -> tuple[list[BibEntry], bool]:
    """Split `text` with bibtexparser's splitter; also say whether its last block ended cleanly.

    Lines and offsets are relative to `text`. The last block ended cleanly when it is not a
    block the splitter had to give up on: then reading stopped inside `text`, and the same
    blocks come out of any longer text that starts the same way. What the splitter gets
    wrong is put right here (see `parse_entries`).
    """
    from bibtexparser.model import (
        DuplicateBlockKeyBlock,
        DuplicateFieldKeyBlock,
        Entry,
        ExplicitComment,
        ImplicitComment,
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
    blocks = library.blocks
    last = next((b for b in reversed(blocks) if not isinstance(b, ImplicitComment)), None)
    clean = not isinstance(last, ParsingFailedBlock)
    entries: list[BibEntry] = []
    line_starts: list[int] | None = None
    # The splitter's own line count misses a newline after a backslash: count them here.
    line_at, line_no = 0, 1
    cursor = 0
    duplicate = (DuplicateBlockKeyBlock, DuplicateFieldKeyBlock)
    unread = (ParsingFailedBlock, ExplicitComment)
    for index, block in enumerate(blocks):
        raw = block.raw or ""
        entry = block
        if type(block) is Entry:  # nearly every block: keep its path short
            if "%" in raw and _has_comment_in_names(block):
                entry = _resplit_entry(Splitter, raw, None) or block
        elif isinstance(block, duplicate):
            entry = block.ignore_error_block
        elif isinstance(block, unread):
            # A block read no further is still text the next blocks come after (a failed
            # block's text may end with the start of the next: `@misc{@misc{k, ...`).
            skipped_at = text.find(raw, cursor) if raw else -1
            skipped_end = skipped_at + len(raw)
            if skipped_at != -1 and text[skipped_end : skipped_end + 1] in ("{", "("):
                overlap = _TRAILING_BLOCK_START.search(raw)
                if overlap is not None:
                    skipped_end = skipped_at + overlap.start()
            block_type = _block_type(raw)
            if block_type == "comment":
                # BibTeX and biber skip whatever follows `@comment`, braces or not.
                if skipped_at != -1:
                    cursor = skipped_end
                continue
            if isinstance(block, ParsingFailedBlock) and "%" in raw:
                # The splitter stopped inside the block: give it the text up to the next one.
                start = text.find(raw, cursor)
                later = (b for b in blocks[index + 1 :] if not isinstance(b, ImplicitComment))
                following = next((b.raw or "" for b in later), "")
                stop = text.find(following, start + len(raw)) if following else len(text)
                raw = text[start:stop] if start != -1 and stop != -1 else raw
            entry = _resplit_entry(Splitter, raw, block_type) or block
            if isinstance(entry, ParsingFailedBlock):
                if skipped_at != -1:
                    line_no += text.count("\n", line_at, skipped_at)
                    line_at = skipped_at
                    cursor = skipped_end
                if problems is not None:
                    problems.append((line_no, _describe_failure(block)))
                continue
            raw = raw[: len(getattr(entry, "raw", None) or raw)]
        if not isinstance(entry, Entry):
            continue
        start = text.find(raw, cursor) if raw else -1
        if start == -1:  # pragma: no cover - the splitter's raw is always a slice of the text
            if line_starts is None:
                line_starts = _line_offsets(text)
            start = line_starts[min(block.start_line or 0, len(line_starts) - 1)]
        end = start + len(raw)
        cursor = end
        line_no += text.count("\n", line_at, start)
        line_at = start
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
                line=line_no,
                start=start,
                end=end,
            )
        )
    return entries, clean


_BLOCK_TYPE = re.compile(r"@[ \t\r\n]*([^ \t\r\n{(]*)")


def _block_type(raw: str) -> str:
    match = _BLOCK_TYPE.match(raw)
    return match.group(1).lower() if match else ""


def _has_comment_in_names(entry: object) -> bool:
    return any("%" in f.key for f in getattr(entry, "fields", ()))


def _resplit_entry(splitter_cls: type, raw: str, block_type: str | None) -> object | None:
    """Split one block again as an entry, with `%` comments between its fields blanked out.

    A type the splitter takes for a comment (`@commentary`) is masked while splitting and put
    back after; blanking keeps every offset, so the entry's span in the file stays right.
    """
    from bibtexparser.model import Entry

    masked = _blank_field_comments(raw)
    original_type = None
    if block_type is not None and block_type.startswith("comment"):
        at = raw.index("@") + 1
        while masked[at] in " \t\r\n":
            at += 1
        original_type = raw[at : at + len(block_type)]
        masked = masked[:at] + "x" + masked[at + 1 :]
    library = _quiet_split(splitter_cls, masked)
    blocks = [b for b in library.blocks if isinstance(b, Entry)]
    if len(blocks) != 1:
        return None
    entry = blocks[0]
    if original_type is not None:
        entry.entry_type = original_type
    return entry


def _blank_field_comments(raw: str) -> str:
    """Replace each `%` comment between an entry's fields (not inside values) by spaces."""
    opener = min((i for i in (raw.find("{"), raw.find("(")) if i != -1), default=-1)
    if opener == -1 or "%" not in raw:
        return raw
    chars = list(raw)
    depth = 0
    in_quotes = False
    pos = opener + 1
    n = len(raw)
    while pos < n:
        ch = raw[pos]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                break
        elif ch == '"' and depth == 0:
            in_quotes = not in_quotes
        elif ch == "%" and depth == 0 and not in_quotes:
            while pos < n and raw[pos] not in "\r\n":
                chars[pos] = " "
                pos += 1
            continue
        pos += 1
    return "".join(chars)


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
    return f"cannot parse `{head}`: {reason}"
