"""Operations on the user's .bib as a reading list: add, find, resolve in place, list."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from readlist.bibfile import (
    STATUS_FIELD,
    UNRESOLVED,
    BibEntry,
    BibFile,
    append_entries,
    appended_tail,
    appended_text,
    check_bibtex_sees,
    locked,
    read_bib,
    replace_spans,
    set_field,
)
from readlist.bibparse import plain_field, plain_tags
from readlist.config import BibtexConfig
from readlist.errors import BibFileError, UnsafeTextError
from readlist.models import Listing, Paper, Venue
from readlist.normalize import normalize_whitespace
from readlist.resolve import Resolver

# A citation key readlist will write as given (what bibtex.format_entry accepts).
_KEY_OK = re.compile(r"[A-Za-z0-9_:.+/-]+")

# How new entries are written: the config's `[bibtex]` section, as it is.
BibOptions = BibtexConfig


@dataclass(frozen=True)
class Added:
    key: str
    paper: Paper


@dataclass(frozen=True)
class Present:
    """A paper the file already held, under `key`, found by `reason`."""

    key: str
    paper: Paper
    reason: str
    line: int
    new_tags: tuple[str, ...] = ()  # tags merged into the existing entry
    completed: bool = False  # an unresolved entry, rewritten in place with `paper`


@dataclass(frozen=True)
class Skipped:
    """A paper left out because its text cannot be written safely; `reason` says why."""

    paper: Paper
    reason: str


@dataclass
class AddOutcome:
    path: Path
    added: list[Added] = field(default_factory=list)
    present: list[Present] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    written: bool = False
    # The entries appended, and the line ending between them (see `text`).
    entry_texts: list[str] = field(default_factory=list, repr=False)
    eol: str = "\n"

    @property
    def text(self) -> str:
        """The BibTeX appended, for --dry-run and tests (joined when asked: a huge listing's
        entries are held once, not twice)."""
        if not self.entry_texts:
            return ""
        return (self.eol + self.eol).join(self.entry_texts) + self.eol

    @property
    def unresolved(self) -> list[Added]:
        return [a for a in self.added if not a.paper.resolved]


def _format(paper: Paper, key: str, options: BibOptions, eol: str) -> str:
    from readlist.bibtex import format_entry

    extra = () if paper.resolved else ((STATUS_FIELD, UNRESOLVED),)
    return format_entry(
        paper,
        key,
        style=options.style,
        abstract=options.abstract,
        extra_fields=extra,
        eol=eol,
        preprint_form=options.preprint_form,
    )


def _placeholder_entry(key: str, paper: Paper) -> BibEntry:
    """An index entry for a paper added in this run, so a later duplicate finds it."""
    fields = {"title": paper.title}
    if paper.arxiv_id:
        fields["eprint"] = paper.arxiv_id.id
    if paper.doi:
        fields["doi"] = paper.doi
    return BibEntry(key=key, entry_type="misc", fields=fields, line=0, start=-1, end=-1)


def _preamble_for(already: Iterable[str], entry_texts: Sequence[str]) -> str | None:
    """Return the ``@preamble`` the new entries need under T1 that the file lacks, if any.

    `already` holds the characters the file's own ``@preamble``s declare (`BibFile.declared`).

    Both the entries as written and as biber decodes them count: biber turns ``{\\d{a}}``
    into UTF-8 ``ạ``, which pdfLaTeX's T1 tables lack.
    """
    from readlist.latex import plain_text
    from readlist.texletters import preamble_entry

    # A generator: one decoded entry at a time, not a second copy of everything added.
    texts = itertools.chain(entry_texts, (plain_text(text) for text in entry_texts))
    return preamble_entry(texts, already=already)


def add_papers(
    path: Path,
    papers: Sequence[Paper],
    options: BibOptions,
    *,
    merge_tags: bool = False,
    dry_run: bool = False,
    preferred_keys: Sequence[str | None] = (),
    cache_dir: Path | None = None,
) -> AddOutcome:
    """Append the papers the .bib does not hold yet; never change what is already there.

    A paper is already there when an entry names the same arXiv ID (any form), the same
    DOI, or the same normalized title. With `merge_tags`, its new tags are merged into that
    entry's `keywords` in place. Existing keys are never renamed; new keys avoid them.
    `preferred_keys` (parallel to `papers`) are used when free, e.g. a Zotero item's own
    citation key; otherwise the key formula decides. A paper whose text cannot be written
    safely (`bibtex.check_writable`) is skipped and listed in `skipped`; the rest are added.
    With a `cache_dir`, the file's snapshot there answers the look-ups (readlist.libindex).
    """
    from readlist.citekey import KeySet, make_citekey
    from readlist.tags import merge_tags as union_tags

    outcome = AddOutcome(path=path)
    with locked(path):
        bib = read_bib(path, cache_dir)
        index = bib.index
        # BibTeX may read entries bibtexparser does not (inside an `@comment{...}` body, say);
        # a new key equal to one of those would be a "Repeated entry" that BibTeX skips.
        taken = KeySet(index.keys_folded | bib.bibtex_keys_folded if papers else index.keys_folded)
        eol = bib.eol
        new_texts: list[str] = []
        # key -> (entry, tags to append to its keywords), for --merge-tags
        tag_updates: dict[str, tuple[BibEntry, list[str]]] = {}
        # key -> (entry, resolved paper): unresolved entries this run can finish in place
        completions: dict[str, tuple[BibEntry, Paper]] = {}
        # key -> position in new_texts and outcome.added, for entries this run appends
        appended: dict[str, int] = {}
        for position, paper in enumerate(papers):
            hit = index.find(arxiv_id=paper.arxiv_id, doi=paper.doi, title=paper.title)
            if hit is not None:
                entry, reason = hit
                earlier = appended.get(entry.key) if entry.start < 0 else None
                if (
                    earlier is not None
                    and paper.resolved
                    and not outcome.added[earlier].paper.resolved
                ):
                    # The same paper twice in one run, resolved the second time: write that.
                    first = outcome.added[earlier].paper
                    done = replace(paper, tags=union_tags(first.tags, paper.tags))
                    try:
                        new_texts[earlier] = _format(done, entry.key, options, eol)
                    except UnsafeTextError:
                        done = first  # the record found cannot be written: keep the first
                    outcome.added[earlier] = Added(entry.key, done)
                    index.add(_placeholder_entry(entry.key, done))
                    outcome.present.append(Present(entry.key, paper, reason, entry.line))
                    continue
                if (
                    paper.resolved
                    and entry.is_unresolved
                    and entry.start >= 0
                    and entry.key not in completions
                ):
                    done = replace(paper, tags=union_tags(plain_tags(entry), paper.tags))
                    completions[entry.key] = (entry, done)
                    outcome.present.append(
                        Present(entry.key, done, reason, entry.line, completed=True)
                    )
                    continue
                added_tags: tuple[str, ...] = ()
                if merge_tags and entry.start >= 0 and paper.tags:
                    _, pending = tag_updates.setdefault(entry.key, (entry, []))
                    have = {t.casefold() for t in [*plain_tags(entry), *pending]}
                    added_tags = tuple(t for t in paper.tags if t.casefold() not in have)
                    pending.extend(added_tags)
                outcome.present.append(Present(entry.key, paper, reason, entry.line, added_tags))
                continue
            wanted = preferred_keys[position] if position < len(preferred_keys) else None
            if wanted and _KEY_OK.fullmatch(wanted) and wanted not in taken:
                key = wanted
            else:
                key = make_citekey(
                    paper, options.citekey, lowercase=options.lowercase_keys, taken=taken
                )
            try:
                text = _format(paper, key, options, eol)
            except UnsafeTextError as exc:
                outcome.skipped.append(Skipped(paper, str(exc)))
                continue
            taken.add(key)
            index.add(_placeholder_entry(key, paper))
            appended[key] = len(new_texts)
            new_texts.append(text)
            outcome.added.append(Added(key, paper))

        edits = [
            _tags_edit(bib, entry, pending, ascii_only=options.style == "bibtex")
            for entry, pending in tag_updates.values()
            if pending and entry.key not in completions
        ]
        edits += [
            (entry.start, entry.end, _format(paper, entry.key, options, eol))
            for entry, paper in completions.values()
        ]
        edits.sort(key=lambda edit: edit[0])
        preamble = _preamble_for(bib.declared, [*new_texts, *(text for _, _, text in edits)])
        if preamble is not None:
            new_texts.insert(0, preamble)
        outcome.entry_texts, outcome.eol = new_texts, eol
        if not new_texts and not edits:
            return outcome
        keys = [a.key for a in outcome.added]
        inserted = [*new_texts, *(replacement for _, _, replacement in edits)]
        if edits:
            text, spans = append_entries(replace_spans(bib.text, edits), eol, new_texts)
            # The @preamble goes first; BibTeX must see every entry after it, under its key.
            check_bibtex_sees(bib, text, spans[1:] if preamble else spans, keys, edited=True)
            _check_encoding(bib, inserted)
            if not dry_run:
                bib.write(text, edits)
                outcome.written = True
            return outcome
        # Only appending: BibTeX's reading is taken up where it stopped, and only what follows
        # that point is put together (a big library's text is not copied).
        tail, spans = appended_tail(bib.text, eol, new_texts)
        resume = bib.bibtex_resume()[0]
        window = bib.text[resume:] + tail
        check_bibtex_sees(bib, window, spans[1:] if preamble else spans, keys, offset=resume)
        _check_encoding(bib, inserted)
        if not dry_run:
            bib.append(tail)
            outcome.written = True
    return outcome


def _check_encoding(bib: BibFile, inserted: Sequence[str]) -> None:
    """Refuse to write non-ASCII text into a file that is not UTF-8: it would mix encodings.

    ASCII is the same bytes in Latin-1, Windows-1252 and UTF-8 alike, so an ASCII entry (what
    the `bibtex` style writes: accents as LaTeX escapes) is appended in the file's own encoding.
    """
    if bib.not_utf8_line is None:
        return
    # An edited entry's own bytes are not UTF-8 either: only what we add must be ASCII.
    if all(_without_undecodable(text).isascii() for text in inserted):
        return
    raise BibFileError(
        bib.path,
        "is not UTF-8 (Latin-1 or another 8-bit encoding?) and the new entries need non-ASCII "
        "characters, which would mix two encodings in one file; convert it with "
        f"`iconv -f LATIN1 -t UTF-8 {bib.path} > {bib.path.stem}-utf8.bib`, or set "
        '`style = "bibtex"` in [bibtex] to write ASCII (nothing was written)',
        line=bib.not_utf8_line,
    )


def _without_undecodable(text: str) -> str:
    """Drop the surrogate escapes that stand for a non-UTF-8 file's own bytes."""
    if text.isascii():
        return text
    return "".join(ch for ch in text if not "\udc80" <= ch <= "\udcff")


def _tags_edit(
    bib: BibFile, entry: BibEntry, additions: Sequence[str], *, ascii_only: bool
) -> tuple[int, int, str]:
    """The edit that appends `additions` to an entry's `keywords`, keeping the rest as written."""
    from readlist.latex import bibtex_escape
    from readlist.tags import format_keywords

    value = format_keywords(
        [
            *filter(None, [entry.fields.get("keywords", "").strip()]),
            *(bibtex_escape(tag, ascii_only=ascii_only) for tag in additions),
        ]
    )
    raw = bib.text[entry.start : entry.end]
    return entry.start, entry.end, set_field(raw, "keywords", value, bib.eol)


@dataclass
class RetagOutcome:
    path: Path
    changed: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (key, new tags)
    checked: int = 0
    written: bool = False


def retag_in_place(
    path: Path,
    tagger: Callable[[str, str | None], Sequence[str]],
    *,
    ascii_only: bool = True,
    dry_run: bool = False,
    cache_dir: Path | None = None,
) -> RetagOutcome:
    """Add the tags `tagger(title, abstract)` finds to every entry's `keywords`, in place.

    Tags are only ever added: a tag the user removed by hand stays removed unless a rule
    matches again, and no other byte of the file changes.
    """
    outcome = RetagOutcome(path=path)
    with locked(path):
        bib = read_bib(path, cache_dir)
        edits = []
        for entry in bib.entries:
            title = plain_field(entry.get("title") or "")
            if not title:
                continue
            outcome.checked += 1
            abstract = plain_field(entry.get("abstract") or "") or None
            have = {t.casefold() for t in plain_tags(entry)}
            additions = tuple(
                dict.fromkeys(t for t in tagger(title, abstract) if t.casefold() not in have)
            )
            if additions:
                edits.append(_tags_edit(bib, entry, additions, ascii_only=ascii_only))
                outcome.changed.append((entry.key, additions))
        outcome.written = _write_edits(path, bib, edits, dry_run=dry_run)
    return outcome


@dataclass
class MarkOutcome:
    path: Path
    changed: list[str] = field(default_factory=list)  # keys whose status changed
    unchanged: list[str] = field(default_factory=list)  # keys that had it already
    written: bool = False


def mark_in_place(
    path: Path,
    keys: Sequence[str],
    *,
    add: str,
    remove: str,
    match: Sequence[str] = (),
    ascii_only: bool = True,
    dry_run: bool = False,
    cache_dir: Path | None = None,
) -> MarkOutcome:
    """Give the entries named by `keys` (or whose title contains a `match`) the status tag
    `add` instead of `remove`, editing only their `keywords`.

    Keys are matched ignoring case. An unknown key is an error and nothing is written.
    """
    from readlist.errors import SelectionError
    from readlist.latex import bibtex_escape
    from readlist.tags import format_keywords

    outcome = MarkOutcome(path=path)
    with locked(path):
        bib = read_bib(path, cache_dir)
        by_key: dict[str, int] = {}
        for position, row in enumerate(bib.rows):
            by_key.setdefault(row.key.casefold(), position)
        unknown = [k for k in keys if k.casefold() not in by_key]
        if unknown:
            raise SelectionError(
                f"not in {path}: {', '.join(unknown)} (`readlist list` shows the keys)"
            )
        picked = [by_key[k.casefold()] for k in keys]
        needles = [m.casefold() for m in match if m.strip()]
        if needles:
            picked += [
                position
                for position, row in enumerate(bib.rows)
                if any(n in row.title.casefold() for n in needles)
            ]
        chosen: dict[str, BibEntry] = {}
        for position in picked:
            entry = bib.entry_at(position)
            chosen.setdefault(entry.key, entry)
        if not chosen:
            raise SelectionError(f"no entry of {path} matches {', '.join(match)}")
        edits = []
        for key, entry in chosen.items():
            raw_items = [t for t in _split_keywords(entry.fields.get("keywords", "")) if t]
            kept = [t for t in raw_items if plain_field(t).casefold() != remove.casefold()]
            if not any(plain_field(t).casefold() == add.casefold() for t in kept):
                kept.append(bibtex_escape(add, ascii_only=ascii_only))
            if kept == raw_items:
                outcome.unchanged.append(key)
                continue
            raw = bib.text[entry.start : entry.end]
            edits.append(
                (entry.start, entry.end, set_field(raw, "keywords", format_keywords(kept), bib.eol))
            )
            outcome.changed.append(key)
        edits.sort(key=lambda edit: edit[0])
        if edits and not dry_run:
            bib.write(replace_spans(bib.text, edits), edits)
            outcome.written = True
    return outcome


def _split_keywords(value: str) -> list[str]:
    """Split a raw `keywords` value on top-level commas/semicolons, keeping each item's TeX."""
    items: list[str] = []
    current: list[str] = []
    depth = 0
    for char in value:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        if char in ",;" and depth <= 0:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    items.append("".join(current).strip())
    return items


def _write_edits(
    path: Path, bib: BibFile, edits: list[tuple[int, int, str]], *, dry_run: bool
) -> bool:
    """Write in-place `edits` (with the @preamble their letters need); True if written."""
    _check_encoding(bib, [replacement for _, _, replacement in edits])
    if not edits or dry_run:
        return False
    text = replace_spans(bib.text, edits)
    preamble = _preamble_for(bib.declared, [edit[2] for edit in edits])
    if preamble is not None:
        text = appended_text(text, bib.eol, [preamble])
    bib.write(text, edits)
    return True


def listing_for_entry(entry: BibEntry, source: str) -> Listing:
    """The listing an unresolved entry stands for, so it can be resolved again."""
    ids = entry.arxiv_ids()
    title = plain_field(entry.get("title") or "").strip() or None
    if title and title.startswith("arXiv:") and ids:
        title = None  # the placeholder title of an identifier added offline
    return Listing(
        title=title,
        abstract=normalize_whitespace(plain_field(entry.get("abstract") or "")) or None,
        arxiv_id=ids[0] if ids else None,
        source=source,
        line=entry.line,
    )


@dataclass
class ResolveOutcome:
    path: Path
    resolved: list[tuple[str, Paper]] = field(default_factory=list)
    unresolved: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)
    written: bool = False


def resolve_in_place(
    path: Path,
    resolver: Resolver,
    options: BibOptions,
    *,
    dry_run: bool = False,
    date: str = "first",
    cache_dir: Path | None = None,
) -> ResolveOutcome:
    """Complete the entries added unresolved, keeping their keys and everything else.

    `date` ("first" or "latest") says which arXiv version dates the entries (year, month).
    """
    from readlist.models import dated
    from readlist.tags import merge_tags

    outcome = ResolveOutcome(path=path)
    with locked(path):
        bib = read_bib(path, cache_dir)
        pending = [bib.entry_at(i) for i, row in enumerate(bib.rows) if row.unresolved]
        if not pending:
            return outcome
        results = resolver.resolve([listing_for_entry(e, str(path)) for e in pending])
        edits = []
        for entry, result in zip(pending, results, strict=True):
            if not result.resolved:
                outcome.unresolved.append((entry.key, result.reason or "not found"))
                continue
            paper = replace(
                dated(result.paper, date), tags=merge_tags(plain_tags(entry), result.paper.tags)
            )
            try:
                text = _format(paper, entry.key, options, bib.eol)
            except UnsafeTextError as exc:
                # A mirror's hostile record: the entry stays as it was, the others go on.
                outcome.unresolved.append((entry.key, f"the record found cannot be written: {exc}"))
                continue
            edits.append((entry.start, entry.end, text))
            outcome.resolved.append((entry.key, paper))
        outcome.written = _write_edits(path, bib, edits, dry_run=dry_run)
    return outcome


def paper_from_bib_entry(entry: BibEntry) -> Paper:
    """The paper an entry describes, as far as its fields tell (for pushing it to Zotero)."""
    from readlist.bibfile import normalize_doi

    ids = entry.arxiv_ids()
    arxiv_id = ids[0] if ids else None
    year = month = None
    year_text = (entry.get("year") or entry.get("date") or "")[:4]
    if year_text.isdigit():
        year = int(year_text)
    month_text = (entry.get("month") or "").strip().lower()[:3]
    if month_text in _MONTHS:
        month = _MONTHS.index(month_text) + 1
    elif month_text.isdigit() and 1 <= int(month_text) <= 12:
        month = int(month_text)
    doi = entry.get("doi")
    if doi and arxiv_id and normalize_doi(doi) == arxiv_id.doi.lower():
        doi = None  # the arXiv DOI is implied by the eprint
    venue = _entry_venue(entry, year)
    return Paper(
        title=normalize_whitespace(plain_field(entry.get("title") or "")) or entry.key,
        abstract=normalize_whitespace(plain_field(entry.get("abstract") or "")) or None,
        arxiv_id=arxiv_id,
        authors=tuple(_display_name(n) for n in _split_authors(entry.get("author") or "")),
        year=year,
        month=month,
        primary_category=entry.get("primaryclass") or entry.get("eprintclass"),
        doi=normalize_doi(doi) if doi else None,
        journal_ref=plain_field(entry.get("note") or "") or None,
        tags=tuple(plain_tags(entry)),
        resolved=not entry.is_unresolved,
        venue=venue,
    )


def _entry_venue(entry: BibEntry, year: int | None) -> Venue | None:
    """The venue of an `@article` or `@inproceedings`, field by field."""
    kind = entry.entry_type.lower()
    if kind == "article":
        name = entry.get("journal") or entry.get("journaltitle") or ""
    elif kind in ("inproceedings", "conference"):
        name = entry.get("booktitle") or ""
    else:
        return None
    name = normalize_whitespace(plain_field(name))
    if not name:
        return None

    def text(field_name: str) -> str | None:
        value = normalize_whitespace(plain_field(entry.get(field_name) or ""))
        return value.replace("--", "-") or None

    return Venue(
        "conference" if kind != "article" else "journal",
        name,
        text("volume"),
        text("number"),
        text("pages"),
        year,
    )


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _split_authors(value: str) -> list[str]:
    """Split a BibTeX author list on top-level ` and `."""
    names: list[str] = []
    current: list[str] = []
    depth = 0
    for token in re.split(r"(\s+and\s+|[{}])", value):
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
        if depth == 0 and re.fullmatch(r"\s+and\s+", token or ""):
            names.append("".join(current))
            current = []
        else:
            current.append(token)
    names.append("".join(current))
    return [n for n in (normalize_whitespace(plain_field(x)) for x in names) if n]


def _display_name(name: str) -> str:
    """`Last, First` -> `First Last`; other forms stay as they are."""
    if "," in name:
        last, _, first = name.partition(",")
        return f"{first.strip()} {last.strip()}".strip()
    return name


def load_entries(path: Path, cache_dir: Path | None = None) -> BibFile:
    """Read the .bib for listing and checking (no lock: nothing is written)."""
    return read_bib(path, cache_dir)
