"""A model of BibTeX's own .bib reader, to know what `bibtex` will see in a file.

bibtexparser reads a .bib the way biber does; BibTeX 0.99 reads it differently, and a file
that one accepts can hide an entry from the other. This module follows bibtex.web's
`get_bib_command_or_entry_and_process` step by step:

- Between entries everything is skipped up to the next `@`; `%` means nothing to BibTeX.
- `@` is followed by an identifier (letters and most punctuation, not `"#%'(),={}`, not
  starting with a digit). `comment` is a command that reads nothing more: its "body" is
  skipped like any text between entries, so braces in it never matter (and an `@` in it
  starts an entry). `preamble` and `string` read one value, other names start an entry.
- An entry is `{` or `(`, a key (up to white space, `,` or, after `{`, `}`), then
  `, name = value` pairs up to the matching close. A value is tokens joined by `#`: a
  number, a macro name, `{...}` with balanced braces, or `"..."` whose braces must balance
  too (a `}` that closes nothing there is an error). A backslash escapes nothing, so `\\{`
  opens a group that only a later `}` closes.
- On an error BibTeX skips to the next `@` after the point where it stopped; an entry whose
  key was read stays an entry. A key read before (in any case) is a "Repeated entry".
- A value or entry still open when the file ends swallows everything up to there.

Line ends and blanks are the only white space; any other control character is an error where
an identifier or delimiter is expected, just as in bibtex.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Characters BibTeX never allows in an identifier (entry type, field or macro name).
_ID = re.compile(r"[^\x00-\x20\x7f\"#%'(),={}]*")
_WHITE = re.compile(r"[ \t\r\n]*")
_WHITE_CHARS = " \t\r\n"
_DIGITS = re.compile(r"[0-9]*")
_BRACES = re.compile(r"[{}]")
_QUOTED = re.compile(r'[{}"]')
_KEY_BRACE = re.compile(r"[^ \t\r\n,}]*")
_KEY_PAREN = re.compile(r"[^ \t\r\n,]*")

# A whole `@type{key, name = value, ...}` entry that BibTeX reads without error, matched in one
# go by the regular-expression engine: most entries of most files are like that, and the
# step-by-step reader below takes over wherever this does not match.
# Possessive quantifiers and an atomic group: none of these parts could match differently by
# giving characters back, so the engine need not remember how to.
_W = r"[ \t\r\n]*+"
_IDENT = r"[^\x00-\x20\x7f\"#%'(),={}0-9][^\x00-\x20\x7f\"#%'(),={}]*+"
_GROUP = r"\{[^{}]*+(?:\{[^{}]*+(?:\{[^{}]*+\}[^{}]*+)*+\}[^{}]*+)*+\}"
_QUOTE = r'"[^"{}]*+(?:\{[^{}]*+(?:\{[^{}]*+\}[^{}]*+)*+\}[^"{}]*+)*+"'
_TOKEN = rf"(?>{_GROUP}|{_QUOTE}|[0-9]++|{_IDENT})"
_FIELD = rf"{_IDENT}{_W}={_W}{_TOKEN}{_W}(?:#{_W}{_TOKEN}{_W})*+"
_SIMPLE_ENTRY = re.compile(
    rf"@{_W}(?P<type>{_IDENT}){_W}\{{{_W}(?P<key>[^ \t\r\n,}}]*+){_W}"
    rf"(?:,{_W}{_FIELD})*+(?:,{_W})?\}}"
)
_COMMANDS = frozenset({"comment", "preamble", "string"})


@dataclass(frozen=True)
class SeenEntry:
    """An entry BibTeX reads: its type, key and where its `@` stands (`BibtexView.line_of`)."""

    entry_type: str  # lower-cased, as BibTeX looks it up
    key: str
    start: int


@dataclass(frozen=True)
class ReaderError:
    """One error message BibTeX would print, and where it would stop reading the construct."""

    offset: int
    line: int
    message: str


@dataclass(frozen=True)
class OpenConstruct:
    """What BibTeX was still reading when the text ran out."""

    start: int  # offset of the construct's `@`
    line: int
    head: str  # how the construct begins, e.g. `@article{smith2020`
    state: str  # "value", "field name", "delimiter", "key", "type", "equals"
    value_start: int = -1  # the open value's `{` or `"`, for state "value"
    value_line: int = 0
    field_name: str = ""


@dataclass
class BibtexView:
    """The result of reading a text the way BibTeX does."""

    text: str
    entries: list[SeenEntry] = field(default_factory=list)
    errors: list[ReaderError] = field(default_factory=list)
    open_at_end: OpenConstruct | None = None
    # Where reading would go on if more text followed: the `@` of the construct still open at
    # the end, where bibtex stopped on the last line, or the end of the text.
    resume_at: int = 0
    # Whether reading stopped because the text's last line was in the buffer (see `run`): then
    # more text read only if it starts a new line before `resume_at` is passed.
    stopped_on_last_line: bool = False

    @property
    def keys_folded(self) -> set[str]:
        return {e.key.lower() for e in self.entries}

    def line_of(self, offset: int) -> int:
        """The 1-based line of `offset` in the text."""
        return self.text.count("\n", 0, offset) + 1


class _Eof(Exception):
    pass


class _Error(Exception):
    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


class _Reader:
    def __init__(self, text: str, seen: Iterable[str], *, fast: bool = True) -> None:
        self.fast = fast
        self.text = text
        self.n = len(text)
        self.view = BibtexView(text=text)
        self.seen = set(seen)
        # What the current construct is doing, for OpenConstruct when the text runs out.
        self.head_end = 0
        self.state = "type"
        self.value_start = -1
        self.field_name = ""
        self.line_at = 0
        self.line_no = 1
        self.last_line_start = last_line_start(text)

    def line(self, offset: int) -> int:
        # Offsets mostly grow: count newlines from the last offset asked about, not from 0.
        if offset < self.line_at:
            self.line_at, self.line_no = 0, 1
        self.line_no += self.text.count("\n", self.line_at, offset)
        self.line_at = offset
        return self.line_no

    def white(self, pos: int) -> int:
        """Skip white space; the text ending here is BibTeX's "Illegal end of database file"."""
        end = _WHITE.match(self.text, pos).end()  # type: ignore[union-attr]
        if end >= self.n:
            raise _Eof
        return end

    def assignment(self, pos: int, close: str, what: str, *, head: bool = False) -> int:
        """Read `name = value` (a field, or a @string's `head`) at `pos`; return what follows."""
        text = self.text
        end = self.identifier(pos, "=", what)
        if head:
            self.head_end = end
        self.field_name = text[pos:end]
        self.state = "equals"
        pos = self.white(end)
        if text[pos] != "=":
            raise _Error(pos, "expected `=`")
        self.state = "value"
        return self.value(self.white(pos + 1), close)

    def identifier(self, pos: int, allowed: str, what: str) -> int:
        """Scan an identifier that must be followed by white space or one of `allowed`."""
        text = self.text
        end = pos if text[pos] in "0123456789" else _ID.match(text, pos).end()  # type: ignore[union-attr]
        if end == pos:
            raise _Error(pos, f"expected {what}")
        if end < self.n and text[end] not in _WHITE_CHARS and text[end] not in allowed:
            raise _Error(end, f"expected {what}, found `{text[pos : end + 1]}`")
        return end

    def run(self, start: int) -> BibtexView:
        text = self.text
        view = self.view
        entries = view.entries
        seen = self.seen
        pos = start
        view.resume_at = self.n
        while True:
            at = text.find("@", pos)
            if at == -1:
                break
            simple = _SIMPLE_ENTRY.match(text, at) if self.fast else None
            if simple is not None:
                kind, key = simple.group("type", "key")
                kind = kind.lower()
                folded = key.lower()
                if kind not in _COMMANDS and folded not in seen:
                    seen.add(folded)
                    entries.append(SeenEntry(kind, key, at))
                    pos = simple.end()
                    if pos >= self.last_line_start:
                        view.resume_at = pos
                        view.stopped_on_last_line = True
                        break
                    continue
            self.state = "type"
            self.value_start = -1
            self.field_name = ""
            self.head_end = at + 1
            try:
                pos = self.construct(at)
            except _Error as exc:
                view.errors.append(ReaderError(exc.offset, self.line(exc.offset), exc.message))
                pos = exc.offset
            except _Eof:
                view.errors.append(
                    ReaderError(self.n, self.line(self.n), "illegal end of database file")
                )
                view.open_at_end = OpenConstruct(
                    start=at,
                    line=self.line(at),
                    head=" ".join(text[at : self.head_end].split()),
                    state=self.state,
                    value_start=self.value_start,
                    value_line=self.line(self.value_start) if self.value_start >= 0 else 0,
                    field_name=self.field_name,
                )
                view.resume_at = at
                break
            if self.on_last_line(pos):
                # bibtex checks for the end of the file before each entry, and the last line
                # is already in its buffer: whatever follows on that line is never read.
                view.resume_at = pos
                view.stopped_on_last_line = True
                break
        return view

    def on_last_line(self, pos: int) -> bool:
        return pos >= self.last_line_start

    def construct(self, at: int) -> int:
        """Read one command or entry from its `@`; return where the search for `@` goes on."""
        text = self.text
        pos = self.white(at + 1)
        end = self.identifier(pos, "{(", "an entry type")
        kind = text[pos:end].lower()
        self.head_end = end
        if kind == "comment":
            return end
        self.state = "delimiter"
        pos = self.white(end)
        if text[pos] == "{":
            close = "}"
        elif text[pos] == "(":
            close = ")"
        else:
            raise _Error(pos, "expected `{` or `(`")
        self.head_end = pos + 1
        pos = self.white(pos + 1)
        if kind == "preamble":
            self.state = "value"
            pos = self.value(pos, close)
            if text[pos] != close:
                raise _Error(pos, f"missing `{close}` in @preamble")
            return pos + 1
        if kind == "string":
            self.state = "string name"
            pos = self.assignment(pos, close, "a string name", head=True)
            if text[pos] != close:
                raise _Error(pos, f"missing `{close}` in @string")
            return pos + 1
        self.state = "key"
        end = (_KEY_PAREN if close == ")" else _KEY_BRACE).match(text, pos).end()  # type: ignore[union-attr]
        key = text[pos:end]
        self.head_end = end
        folded = key.lower()
        if folded in self.seen:
            raise _Error(end, f"repeated entry `{key}`")
        self.seen.add(folded)
        self.view.entries.append(SeenEntry(kind, key, at))
        self.state = "delimiter"
        pos = self.white(end)
        while text[pos] != close:
            if text[pos] != ",":
                raise _Error(pos, f"expected `,` or `{close}`")
            self.state = "field name"
            pos = self.white(pos + 1)
            if text[pos] == close:
                break
            pos = self.assignment(pos, close, "a field name")
            self.state = "delimiter"
        return pos + 1

    def value(self, pos: int, close: str) -> int:
        """Read `token # token ...`; return the offset of the first character after it."""
        text = self.text
        while True:
            ch = text[pos]
            if ch == "{" or ch == '"':
                self.value_start = pos
                pos = self.delimited(pos)
                self.value_start = -1
            elif ch in "0123456789":
                pos = _DIGITS.match(text, pos).end()  # type: ignore[union-attr]
            else:
                pos = self.identifier(pos, "," + close + "#", "a field part")
            pos = self.white(pos)
            if text[pos] != "#":
                return pos
            pos = self.white(pos + 1)

    def delimited(self, pos: int) -> int:
        """Read `{...}` or `"..."` from its opening delimiter; return the offset past it."""
        text = self.text
        depth = 0
        if text[pos] == "{":
            for match in _BRACES.finditer(text, pos + 1):
                if match.group() == "{":
                    depth += 1
                elif depth == 0:
                    return match.end()
                else:
                    depth -= 1
            raise _Eof
        for match in _QUOTED.finditer(text, pos + 1):
            ch = match.group()
            if ch == "{":
                depth += 1
            elif ch == "}":
                if depth == 0:
                    raise _Error(match.start(), "unbalanced braces")
                depth -= 1
            elif depth == 0:
                return match.end()
        raise _Eof


def last_line_start(text: str) -> int:
    """Where the last line of `text` starts, as bibtex reads lines.

    bibtex's input_ln ends a line at one `\r` or `\n` (web2c's eoln), so the `\n` of a final
    CRLF is one more, empty, line.
    """
    body_end = len(text) - 1 if text.endswith(("\r", "\n")) else len(text)
    newline = text.rfind("\n", 0, body_end)
    return max(newline, text.rfind("\r", newline + 1, body_end)) + 1


def read_like_bibtex(
    text: str, *, start: int = 0, seen: Iterable[str] = (), fast: bool = True
) -> BibtexView:
    """Read `text` from `start` as BibTeX does, with `seen` (lower-cased) keys already read.

    `fast=False` reads every entry step by step (the tests compare both ways).
    """
    # Like parse_entries: what is allocated here is acyclic, and a cyclic collection now would
    # walk every object of the already parsed library again and again.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _Reader(text, seen, fast=fast).run(start)
    finally:
        if gc_was_enabled:
            gc.enable()


def resume_state(view: BibtexView) -> tuple[int, list[str], bool]:
    """Where BibTeX's reading would go on, the keys read before, and why it stopped there."""
    resume = view.resume_at
    keys = [e.key.lower() for e in view.entries if e.start < resume]
    return resume, keys, view.stopped_on_last_line


def read_on(
    before: tuple[int, Iterable[str], bool], text: str, offset: int = 0
) -> tuple[int, list[SeenEntry], list[ReaderError], bool]:
    """Read `text`, which extends a text BibTeX has read, only as far as is new.

    `before` tells how BibTeX read the shorter text: where its reading would go on
    (`BibtexView.resume_at`), the lower-cased keys it read up to there, and whether it stopped
    because that was the last line. Returns the same for `text`, with the entries and errors
    read after the old point: what reading the whole of `text` gives.

    `text` may be the text from `offset` on (`offset` at most where the reading goes on):
    offsets in and out are the whole text's all the same. (Its last line is the whole text's,
    or starts before `offset`; either way every position read is on it or not alike.)
    """
    resume, seen, stopped = before
    if stopped and resume - offset >= last_line_start(text):
        return resume, [], [], True  # still the last line: bibtex reads nothing more
    view = read_like_bibtex(text, start=resume - offset, seen=seen)
    entries = view.entries
    errors = view.errors
    if offset:
        entries = [SeenEntry(e.entry_type, e.key, e.start + offset) for e in entries]
        errors = [ReaderError(e.offset + offset, e.line, e.message) for e in errors]
    return view.resume_at + offset, entries, errors, view.stopped_on_last_line


def unseen_entries(
    before: tuple[int, Iterable[str], bool],
    text: str,
    appended: Iterable[tuple[int, int, str]],
    offset: int = 0,
) -> list[tuple[int, str]]:
    """Which appended entries BibTeX would not read intact, and why.

    `before` tells how BibTeX read the text that `text` extends, and `text` may start at
    `offset` (see `read_on`); `appended` holds each new entry's (start, end, key).
    """
    _, entries, errors, _ = read_on(before, text, offset)
    after = BibtexView(text=text, entries=entries, errors=errors)
    found = {(e.start, e.key) for e in after.entries}
    problems: list[tuple[int, str]] = []
    for start, end, key in appended:
        # An error *at* the new `@` is the unfinished entry before it giving up: BibTeX then
        # reads on from that `@`. One inside the new entry would be ours.
        if (start, key) not in found:
            problems.append((start, "not read as an entry"))
            continue
        inside = [e for e in after.errors if start < e.offset < end]
        if inside:
            problems.append((start, inside[0].message))
    return problems
