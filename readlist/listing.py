"""Parse input (Hugging Face Papers text, title lists, arXiv identifiers) into `Listing`s.

A Hugging Face Papers page copied as text reads: page chrome, a date line, then for each paper
a title line, a blank line, an abstract paragraph and a blank line. Users edit and re-wrap
such text, so the parser does not count lines; it tells titles from abstracts by their shape
(see `_split_paragraph`).
"""

from __future__ import annotations

import codecs
import io
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, cast

from readlist.errors import InputError
from readlist.ids import parse_arxiv_id
from readlist.models import ArxivId, Listing
from readlist.normalize import normalize_title, normalize_whitespace

STDIN_SOURCE = "<stdin>"
ARGUMENT_SOURCE = "<argument>"

# A title is at most this long; every abstract line in the samples is longer than either.
_MAX_TITLE_CHARS = 300
_MAX_TITLE_WORDS = 40
# A title in a typed list may end with a period if it is this short.
_MAX_DOTTED_TITLE_WORDS = 25


# Page chrome, compared casefolded with punctuation runs as single spaces.
_CHROME: frozenset[str] = frozenset(
    {
        "new",
        "get trending papers in your email inbox",
        "subscribe",
        "byak and the research community",
        "by ak and the research community",
        "daily papers",
        "trending papers",
        "papers",
        "upvote",
        "load more",
        "previous",
        "next",
        "search",
    }
)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE_RE = re.compile(
    rf"{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|\d{{4}}-\d{{2}}-\d{{2}}",
    re.IGNORECASE,
)
_COUNT_RE = re.compile(r"\d+")
_NON_ALNUM_RE = re.compile(r"[\W_]+")
_INLINE_COMMENT_RE = re.compile(r"\s+#.*\Z")
_ID_SEPARATOR_RE = re.compile(r"[\s,;]+")
# "1. Title", "- Title", "* Title": list markers a user may type in front of a title.
_LIST_MARKER_RE = re.compile(r"\A(?:[-*\u2022\u00b7]|\d{1,3}[.)])\s+(?=\S)")

# Words after which a sentence cannot end, so a line ending with one continues on the next.
_FUNCTION_WORDS: frozenset[str] = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "its",
        "of",
        "on",
        "or",
        "our",
        "than",
        "that",
        "the",
        "their",
        "these",
        "this",
        "to",
        "via",
        "was",
        "we",
        "were",
        "which",
        "while",
        "whose",
        "with",
    }
)
# Words that end with a period without ending the sentence.
_ABBREVIATIONS: frozenset[str] = frozenset(
    {
        "al",
        "approx",
        "cf",
        "e.g",
        "eg",
        "eq",
        "eqs",
        "etc",
        "fig",
        "figs",
        "i.e",
        "ie",
        "inc",
        "ltd",
        "no",
        "nos",
        "resp",
        "sec",
        "vol",
        "vs",
    }
)
_SENTENCE_BREAK_RE = re.compile(r"\.\s+(?=[A-Z])")
# "4M-21: An Any-to-Any...", "Eyes Wide Shut? Exploring...": a name, then a capitalized subtitle.
_SUBTITLE_RE = re.compile(r"\S[:?]\s+[\"'\u201c]?[A-Z]")
_WORD_RE = re.compile(r"[^\W_][\w'-]*")
# "low- and high-resolution": a hyphen at a line's end before these words keeps its space.
_SUSPENDED_HYPHEN_FOLLOWERS: frozenset[str] = frozenset({"and", "or", "to", "nor", "vs", "vs."})
_CLOSERS = "\"')]}\u201d\u2019"


def _is_chrome(text: str) -> bool:
    """Tell whether a line is Hugging Face page furniture rather than a paper."""
    if len(text) > 60:
        return False
    if _COUNT_RE.fullmatch(text) or _DATE_RE.fullmatch(text):
        return True
    return _NON_ALNUM_RE.sub(" ", text.casefold()).strip() in _CHROME


def _is_abbreviation(word: str) -> bool:
    """Tell whether a word (without its final period) is an abbreviation or an initial."""
    word = word.lstrip("(\"'").casefold()
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _ends_sentence(text: str) -> bool:
    """Tell whether a line ends with a sentence-final period."""
    text = text.rstrip(_CLOSERS)
    if not text.endswith("."):
        return False
    last = text.rsplit(None, 1)[-1][:-1]
    return not _is_abbreviation(last)


def _has_sentence_break(text: str) -> bool:
    """Tell whether a line holds the end of one sentence and the start of another."""
    for match in _SENTENCE_BREAK_RE.finditer(text):
        word = text[text.rfind(" ", 0, match.start()) + 1 : match.start()]
        if word and not _is_abbreviation(word):
            return True
    return False


def _has_url(text: str) -> bool:
    """Tell whether a line holds a URL, which titles never do."""
    return "://" in text or "www." in text or "github.com/" in text


def _ends_with_url(text: str) -> bool:
    """Tell whether a line ends with a URL (or a piece of one), as many abstracts do."""
    last = text.rsplit(None, 1)[-1]
    return "://" in last or last.startswith("www.") or ("/" in last and "." in last)


def _is_title_like(text: str) -> bool:
    """Tell whether a line could be a title: short, one sentence, no final period."""
    if len(text) > _MAX_TITLE_CHARS or _has_url(text):
        return False
    words = text.split()
    return (
        len(words) <= _MAX_TITLE_WORDS
        and not _has_sentence_break(text)
        and not _ends_sentence(text)
    )


def _is_dotted_title(text: str, awaiting: bool) -> bool:
    """Tell whether a line ending with a period is a title in a list a user typed.

    Right after a title without its abstract, a short sentence is more likely that abstract,
    unless it is written in Title Case.
    """
    if len(text) > _MAX_TITLE_CHARS or _has_url(text) or _has_sentence_break(text):
        return False
    if len(text.split()) > _MAX_DOTTED_TITLE_WORDS:
        return False
    return not awaiting or _is_strong_title(text)


def _is_strong_title(text: str) -> bool:
    """Tell whether a line has a title's marks: "Name: Subtitle", or Every Word Capitalized."""
    if _SUBTITLE_RE.search(text):
        return True
    words = [w for w in _WORD_RE.findall(text) if w.casefold() not in _FUNCTION_WORDS]
    return len(words) >= 3 and all(w[0].isupper() or w[0].isdigit() for w in words)


def _continues(line: str, next_line: str) -> bool:
    """Tell whether `next_line` carries on the sentence `line` breaks off."""
    if line.endswith(("-", ",", ";", ":", "(", "/", "&")):
        return True
    if line.rsplit(None, 1)[-1].casefold() in _FUNCTION_WORDS:
        return True
    first = next_line.split(None, 1)[0]
    if first[0] in "([{":
        return True  # "(LLMs) have...": titles do not start with a parenthesis
    # "featuring a native..." continues; "mPLUG-Owl: ..." and "xRAG: ..." start a title.
    first = first.lstrip("\"'\u201c\u2018") or "X"
    return first[0].islower() and not any(ch.isupper() for ch in first)


def _is_complete(line: str) -> bool:
    """Tell whether a line can be the last line of an abstract."""
    if len(line) > _MAX_TITLE_CHARS or len(line.split()) > _MAX_TITLE_WORDS:
        return True  # a whole abstract on one line
    return (
        _ends_sentence(line)
        or line.rstrip(_CLOSERS).endswith(("?", "!", ".", ")"))
        or _ends_with_url(line)
    )


@dataclass
class _Item:
    """A title line or a run of abstract lines found in one paragraph."""

    is_title: bool
    start: int
    stop: int


def _split_paragraph(texts: list[str], awaiting: bool) -> list[_Item]:
    """Split a paragraph (lines without blank lines between them) into titles and abstracts.

    Titles are short single lines without a final period; abstracts are prose, possibly
    hard-wrapped. A paragraph without any prose is a list of titles. Otherwise a line starts
    a title only where the line before may end a sentence and the line after does not carry
    on from it. Where a wrapped line could as well be the first of a new sentence (right
    after a title still lacking its abstract, or after a short line inside prose), it must
    also look like a title: "Name: Subtitle", or Every Word Capitalized.
    """
    count = len(texts)
    if count == 1:
        text = texts[0]
        return [_Item(_is_title_like(text) or _is_dotted_title(text, awaiting), 0, 1)]
    titles = [_Item(True, index, index + 1) for index in range(count)]
    if all(_is_title_like(text) for text in texts):
        return titles
    # A typed list may end some titles with a period; prose would carry on across lines.
    if all(_is_title_like(t) or _is_dotted_title(t, awaiting=True) for t in texts) and not any(
        _continues(text, following) for text, following in zip(texts, texts[1:], strict=False)
    ):
        return titles

    # Hard-wrapped prose fills its lines: the wrap width is the longest line that the next
    # line carries on. A line with room left for the next line's first word ends a unit.
    # Lines holding a long URL (or its broken-off piece) may overshoot the width.
    wrapped = [
        len(text)
        for text, following in zip(texts, texts[1:], strict=False)
        if len(text) <= _MAX_TITLE_CHARS
        and " " in text.strip()
        and not _has_url(text)
        and _continues(text, following)
    ]
    width = max(wrapped) if len(wrapped) >= 3 else None

    def shape(index: int) -> str | None:
        """Say whether a line is "wrapped" (full), "standalone", or unknown."""
        if width is None or index + 1 >= count:
            return None
        length = len(texts[index])
        if length + 1 + len(texts[index + 1].split(None, 1)[0]) <= width:
            return "standalone"
        return "wrapped" if length <= width else "standalone"

    def starts_title(index: int, strict: bool) -> bool:
        text = texts[index]
        if not _is_title_like(text):
            return False
        if index + 1 < count and _continues(text, texts[index + 1]):
            return False
        if not strict:
            return True
        line_shape = shape(index)
        if line_shape == "standalone":
            return True
        if line_shape == "wrapped":
            # Acronym expansions make Title Case common in prose; "Name: Subtitle" is not.
            return _SUBTITLE_RE.search(text) is not None
        return _is_strong_title(text)

    items: list[_Item] = []
    index = 0
    while index < count:
        if starts_title(index, strict=awaiting):
            items.append(_Item(True, index, index + 1))
            awaiting = True
            index += 1
            continue
        stop = index + 1
        while stop < count:
            previous = texts[stop - 1]
            # After a whole one-line abstract, or at the paragraph's end (an abstract's last
            # line ends its last sentence), any title-like line is a title.
            standalone = shape(stop - 1) == "standalone"
            strict = len(previous) <= _MAX_TITLE_CHARS and stop < count - 1 and not standalone
            ended = _is_complete(previous) or standalone
            if ended and not _continues(previous, texts[stop]) and starts_title(stop, strict):
                break
            stop += 1
        items.append(_Item(False, index, stop))
        awaiting = False
        index = stop
    return items


def _join_wrapped(texts: Iterable[str]) -> str:
    """Join hard-wrapped lines into one paragraph, mending words broken after a hyphen."""
    joined = ""
    for text in texts:
        if not joined:
            joined = text
        elif (
            joined.endswith("-")
            and joined[-2:-1].isalnum()
            and text.split(None, 1)[0] not in _SUSPENDED_HYPHEN_FOLLOWERS
        ):
            joined += text
        else:
            joined += " " + text
    return joined


def _parse_id_line(text: str) -> list[ArxivId] | None:
    """Parse a line of one or more identifiers (with an optional `# comment`), else None."""
    if len(text) > 2000 or ("." not in text and "/" not in text):
        return None  # every form of identifier has a dot or a slash
    if " #" in text:
        text = _INLINE_COMMENT_RE.sub("", text)
    arxiv_id = parse_arxiv_id(text)
    if arxiv_id is not None:
        return [arxiv_id]
    # Several identifiers on one line; checking the first one keeps prose lines cheap.
    head = text.split(" ", 1)[0].rstrip(",;")
    if head == text or parse_arxiv_id(head) is None:
        return None
    ids = [parse_arxiv_id(token) for token in _ID_SEPARATOR_RE.split(text) if token]
    return [i for i in ids if i is not None] if all(ids) else None


@dataclass
class _Draft:
    """A text listing while its abstract is still being collected."""

    title: str
    line: int
    abstract: list[str] = field(default_factory=list)
    date: tuple[int | None, int, int] | None = None


_MONTH_NUMBERS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


def parse_date_line(text: str) -> tuple[int | None, int, int] | None:
    """Return (year or None, month, day) of a date line ("Apr 28", "2025-04-28"), else None."""
    if not _DATE_RE.fullmatch(text):
        return None
    numbers = [int(part) for part in re.findall(r"\d+", text)]
    year: int | None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        year, month, day = numbers
    else:
        month = _MONTH_NUMBERS[text[:3].lower()]
        day = numbers[0]
        year = numbers[1] if len(numbers) > 1 else None
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return year, month, day


def parse_text(text: str, source: str) -> list[Listing]:
    """Parse one source's text into listings, in the order they appear."""
    return list(iter_listings(lambda: iter(_split_lines(text)), source))


def _split_lines(text: str) -> list[str]:
    """Split `text` at ``\\r\\n``, ``\\r`` and ``\\n`` (not at other Unicode line breaks)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _kind(line: str) -> tuple[str, list[ArxivId] | None]:
    """Classify a normalized line: blank, id (with its identifiers), hash, chrome or text."""
    if not line:
        return "blank", None
    if line.startswith("#"):
        return "hash", None
    found = _parse_id_line(line)
    if found is not None:
        return "id", found
    if _is_chrome(line):
        return "chrome", None
    return "text", None


def _only_ids(lines: Iterable[str]) -> bool:
    """Whether `lines` hold identifiers and no text line (then every "#" line is a comment)."""
    seen_id = False
    for raw in lines:
        kind, _ = _kind(normalize_whitespace(raw))
        if kind == "text":
            return False  # a "#word" line is a title in a file with prose: stop reading
        seen_id = seen_id or kind == "id"
    return seen_id


def iter_listings(lines: Callable[[], Iterator[str]], source: str) -> Iterator[Listing]:
    """Parse a source's lines into listings, in order, holding one paragraph at a time.

    `lines` opens the source's lines (split as `_split_lines` does) and is called twice when
    a line starts with "#": whether "#..." is a comment depends on whether the source holds
    any prose, which may come later.
    """
    only_ids: bool | None = None
    pending: _Draft | None = None  # the text listing an abstract would belong to
    # The paragraph being read: (line number, line, line without its list marker).
    paragraph: list[tuple[int, str, str]] = []
    date: tuple[int | None, int, int] | None = None  # the last date line seen

    def flush() -> Iterator[Listing]:
        nonlocal pending
        if not paragraph:
            return
        texts = [core for _, _, core in paragraph]
        awaiting = pending is not None and not pending.abstract
        for item in _split_paragraph(texts, awaiting):
            if item.is_title:
                if pending is not None:
                    yield _finished(pending, source)
                pending = _Draft(texts[item.start], paragraph[item.start][0] + 1, date=date)
            elif pending is not None:
                # A second prose paragraph after an abstract continues that abstract.
                pending.abstract.extend(line for _, line, _ in paragraph[item.start : item.stop])
            # Prose before the first title (an introduction, a note) names no paper.
        paragraph.clear()

    for number, raw in enumerate(lines()):
        line = normalize_whitespace(raw)
        kind, ids = _kind(line)
        if kind == "hash":
            # "#" starts a comment in a file of identifiers, and in any file when it is not
            # glued to a word: "# from the reading group" is a comment, "#InsTag: ..." is a
            # paper's title.
            if line[1:2].isalnum():
                if only_ids is None:
                    only_ids = _only_ids(lines())
                kind = "comment" if only_ids else "text"
            else:
                kind = "comment"
        if kind == "text":
            # What a line says without a list marker ("1. ", "- ") typed in front of a title.
            paragraph.append((number, line, _LIST_MARKER_RE.sub("", line, count=1)))
        elif kind == "chrome":
            # Upvote counts and dates may sit anywhere; they split nothing. A date line dates
            # the listings below it (their year while unresolved).
            date = parse_date_line(line) or date
        else:
            yield from flush()
            if kind == "id":
                assert ids is not None
                if pending is not None:
                    yield _finished(pending, source)
                    pending = None
                for arxiv_id in ids:
                    yield Listing(arxiv_id=arxiv_id, source=source, line=number + 1)
    yield from flush()
    if pending is not None:
        yield _finished(pending, source)


def _finished(draft: _Draft, source: str) -> Listing:
    """The listing a draft stands for once its abstract is complete."""
    return Listing(
        title=draft.title,
        abstract=_join_wrapped(draft.abstract) or None,
        source=source,
        line=draft.line,
        date=draft.date,
    )


def _control_byte_table() -> bytes:
    """Return the bytes that text files do not contain: C0 controls except whitespace, DEL."""
    allowed = {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1B}
    return bytes(b for b in (*range(0x20), 0x7F) if b not in allowed)


_CONTROL_BYTES = _control_byte_table()
_TEXT_BYTES = bytes(b for b in range(256) if b not in _CONTROL_BYTES)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def decode_input(data: bytes, source: str) -> str:
    """Decode a listing's bytes as UTF-8 text, refusing binary files and other encodings."""
    stream = io.BytesIO(data)
    encoding, start = _check_encoding(stream, source)
    return "".join(_decoded_chunks(stream, encoding, start))


# Listings are read in chunks of this many bytes, so a huge one is never held whole.
_CHUNK_BYTES = 1 << 20


def _chunks(stream: BinaryIO, start: int) -> Iterator[bytes]:
    """Yield the bytes of `stream` from `start` on, seeking before each read.

    Each reader keeps its own position, so two readers of one stream can interleave.
    """
    position = start
    while True:
        stream.seek(position)
        chunk = stream.read(_CHUNK_BYTES)
        if not chunk:
            return
        position += len(chunk)
        yield chunk


def _check_encoding(stream: BinaryIO, source: str) -> tuple[str, int]:
    """Refuse binary and non-UTF-8 input in one pass; return its encoding and first text byte.

    Windows tools (PowerShell's `>`, Notepad's "Unicode") write UTF-16 with a BOM. Otherwise the
    input must be UTF-8 (a BOM is skipped) with no NUL byte and few control bytes; a binary
    file is named so before any encoding error, wherever that is.
    """
    stream.seek(0)
    head = stream.read(3)
    if head.startswith(_UTF16_BOMS):
        wide = codecs.getincrementaldecoder("utf-16")()
        try:
            for chunk in _chunks(stream, 0):
                wide.decode(chunk)
            wide.decode(b"", final=True)
        except UnicodeDecodeError:
            raise InputError(source, "looks like a binary file, not a text listing") from None
        return "utf-16", 0
    start = 3 if head == b"\xef\xbb\xbf" else 0
    decoder = codecs.getincrementaldecoder("utf-8")()
    size = control = line_feeds = returns = 0
    nul = has_line_feed = False
    bad: tuple[int, int, int, int] | None = None  # offset, byte, \n and \r before it

    def failed(error: UnicodeDecodeError, buffered: int, before: bytes) -> None:
        nonlocal bad
        offset = size - buffered + error.start
        before = before[: max(0, offset - size)]
        bad = (
            offset,
            error.object[error.start],
            line_feeds + before.count(b"\n"),
            returns + before.count(b"\r"),
        )

    for chunk in _chunks(stream, start):
        control += len(chunk.translate(None, _TEXT_BYTES))
        nul = nul or b"\x00" in chunk
        has_line_feed = has_line_feed or b"\n" in chunk
        if bad is None:
            buffered = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                failed(error, buffered, chunk)
            else:
                line_feeds += chunk.count(b"\n")
                returns += chunk.count(b"\r")
        size += len(chunk)
    if bad is None:
        buffered = len(decoder.getstate()[0])
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as error:  # the input ends inside a character
            failed(error, buffered, b"")
    if nul or (size and control / size > 0.05):
        raise InputError(source, "looks like a binary file, not a text listing")
    if bad is not None:
        _, byte, line_feeds, returns = bad
        line = (line_feeds if has_line_feed else returns) + 1
        raise InputError(
            source,
            f"is not UTF-8 text (byte 0x{byte:02x} at line {line}); save it as UTF-8 and retry",
        )
    return "utf-8", start


def _decoded_chunks(stream: BinaryIO, encoding: str, start: int) -> Iterator[str]:
    """Yield the text of `stream` (checked by `_check_encoding`) chunk by chunk."""
    decoder = codecs.getincrementaldecoder(encoding)()
    for chunk in _chunks(stream, start):
        text = decoder.decode(chunk)
        if text:
            yield text
    text = decoder.decode(b"", final=True)
    if text:
        yield text


def _lines_of(chunks: Iterable[str]) -> Iterator[str]:
    """Split text arriving in chunks as `_split_lines` splits it whole."""
    carry: list[str] = []  # the start of a line still open (a list: lines can be megabytes)
    for text in chunks:
        carry.append(text)
        if "\n" not in text and "\r" not in text:
            continue
        buffer = "".join(carry)
        held = ""
        if buffer.endswith("\r"):
            held, buffer = "\r", buffer[:-1]  # the next chunk may start with its "\n"
        lines = _split_lines(buffer)
        last = lines.pop()
        yield from lines
        carry = [last + held]
    yield from _split_lines("".join(carry))


# Files people give by mistake where a listing belongs, told apart by their first bytes or
# by what only they contain, with what to do instead.
_MAGIC = (
    (b"%PDF-", "a PDF file"),
    (b"PK\x03\x04", "a ZIP archive (or a Word/OpenDocument file)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
)
_LATEX_RE = re.compile(r"\\documentclass\s*[\[{]|\\begin\s*\{document\}")
_BIBTEX_RE = re.compile(r"^[ \t]*@[A-Za-z]+[ \t]*[{(][ \t]*[^\s,{}()]+[ \t]*,", re.M)
_HTML_RE = re.compile(r"\A\s*(?:<!doctype\s+html|<html[\s>])", re.I)


# What `refuse_non_listing` reads of a source: its start.
_HEAD_BYTES = 200_000


def refuse_non_listing(data: bytes, source: str) -> None:
    """Raise `InputError` naming what `data` is when it is clearly not a listing.

    Only the first `_HEAD_BYTES` of `data` are read.
    """
    head = data[:8].removeprefix(b"\xef\xbb\xbf")
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise InputError(
                source,
                f"is {what}, not a listing: copy the page's text into a file, or give arXiv "
                "IDs or hf:daily/… instead",
            )
    text = data[:_HEAD_BYTES].decode("utf-8", "replace")
    if _HTML_RE.match(text):
        raise InputError(
            source,
            "is an HTML page, not a listing: copy the page's text instead, or read Hugging "
            "Face directly with hf:daily/YYYY-MM-DD (see `readlist add -h`)",
        )
    if _LATEX_RE.search(text):
        raise InputError(
            source,
            "is a LaTeX document, not a listing (`readlist check` finds its \\cite keys "
            "missing from a .bib)",
        )
    if len(_BIBTEX_RE.findall(text)) >= 1 and not _has_listing_shape(text):
        raise InputError(source, "is a BibTeX file, not a listing (give it with --bib)")


def _has_listing_shape(text: str) -> bool:
    """Whether most non-blank lines are prose rather than BibTeX fields."""
    lines = [line for line in text.splitlines() if line.strip()]
    fields = sum(1 for line in lines if re.match(r"\s*[\w-]+\s*=\s*[{\"\d]", line))
    return fields * 4 < len(lines)


def parse_source(data: bytes, source: str) -> list[Listing]:
    """Decode and parse one source's bytes into listings."""
    return parse_stream(io.BytesIO(data), source)


def parse_stream(stream: BinaryIO, source: str) -> list[Listing]:
    """Check, decode and parse a seekable binary stream chunk by chunk into listings.

    Only the listings are kept, and the paragraph being read: never the whole text.
    """
    stream.seek(0)
    refuse_non_listing(stream.read(_HEAD_BYTES), source)
    encoding, start = _check_encoding(stream, source)
    return list(iter_listings(lambda: _lines_of(_decoded_chunks(stream, encoding, start)), source))


def read_source(arg: str, read_stdin: Callable[[], bytes | BinaryIO]) -> list[Listing]:
    """Read one command-line argument: `-` for stdin, a file, or an identifier/URL.

    `read_stdin` returns standard input's bytes, or a binary stream to read them from.
    """
    if arg == "-":
        data = read_stdin()
        if isinstance(data, bytes):
            return parse_source(data, STDIN_SOURCE)
        # A pipe is read once: spooled (to disk when large) so it can be read in passes.
        with tempfile.SpooledTemporaryFile(max_size=_CHUNK_BYTES * 8) as spool:
            shutil.copyfileobj(data, spool, _CHUNK_BYTES)
            return parse_stream(cast(BinaryIO, spool), STDIN_SOURCE)
    path = Path(arg)
    try:
        exists = path.exists()
    except (OSError, ValueError):  # a name too long or with a NUL byte is no file
        exists = False
    if exists:
        if path.is_dir():
            raise InputError(arg, "is a directory, not a listing file")
        try:
            with path.open("rb") as stream:
                return parse_stream(stream, arg)
        except OSError as error:
            raise InputError(arg, f"cannot be read ({error.strerror or error})") from None
    arxiv_id = parse_arxiv_id(arg)
    if arxiv_id is None:
        raise InputError(arg, "no such file, and not an arXiv identifier or URL")
    return [Listing(arxiv_id=arxiv_id, source=ARGUMENT_SOURCE, line=0)]


def read_sources(args: Sequence[str], read_stdin: Callable[[], bytes | BinaryIO]) -> list[Listing]:
    """Read every argument in order; standard input is read once however often `-` appears."""
    listings: list[Listing] = []
    stdin_read = False
    for arg in args:
        if arg == "-":
            if stdin_read:
                continue
            stdin_read = True
        listings.extend(read_source(arg, read_stdin))
    return listings


def dedupe(listings: Iterable[Listing]) -> list[Listing]:
    """Keep each paper once, where it first appears, filling in what later copies add.

    Two listings are one paper when they share an arXiv ID (any version) or a normalized
    title, unless both carry arXiv IDs and those differ: distinct papers can share a title.
    """
    kept: list[Listing] = []
    by_id: dict[str, int] = {}
    by_title: dict[str, int] = {}
    for listing in listings:
        title_key = normalize_title(listing.title) if listing.title else ""
        index = by_id.get(listing.arxiv_id.id) if listing.arxiv_id else None
        if index is None and title_key:
            index = by_title.get(title_key)
            other = kept[index].arxiv_id if index is not None else None
            if other is not None and listing.arxiv_id is not None:
                index = None  # same title, different papers
        if index is None:
            index = len(kept)
            kept.append(listing)
        else:
            first = kept[index]
            kept[index] = replace(
                first,
                title=first.title or listing.title,
                abstract=first.abstract or listing.abstract,
                arxiv_id=first.arxiv_id or listing.arxiv_id,
            )
        # Register every name the kept paper now goes by, so later copies find it.
        if listing.arxiv_id is not None:
            by_id.setdefault(listing.arxiv_id.id, index)
        if title_key:
            by_title.setdefault(title_key, index)
    return kept
