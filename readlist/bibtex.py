"""Write a `Paper` as one BibTeX entry: arXiv's ``@misc`` recommendation or biblatex's ``@online``.

Style ``"bibtex"`` is what arXiv itself recommends for eprints (``eprint``, ``archivePrefix``,
``primaryClass``), in pure ASCII so pdfLaTeX with bibtex (natbib) and biber both accept it.
Style ``"biblatex"`` writes ``@online`` with ``eprinttype``/``eprintclass`` and keeps text as
UTF-8 where pdfLaTeX can typeset it. Text escaping lives in `readlist.latex`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from readlist.errors import UnsafeTextError
from readlist.latex import bibtex_escape, brace_depth_ok, escape_name, protect_title
from readlist.models import Paper

__all__ = [
    "MAX_FIELD_CHARS",
    "MAX_WRITTEN_CHARS",
    "MAX_WRITTEN_MACROS",
    "PREPRINT_FORMS",
    "STYLES",
    "Field",
    "check_writable",
    "entry_fields",
    "entry_type_for",
    "format_authors",
    "format_entry",
]

STYLES = ("bibtex", "biblatex")
PREPRINT_FORMS = ("eprint", "journal")

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# Keys readlist writes; narrower than what BibTeX allows, and safe for biber and \cite.
_KEY = re.compile(r"[A-Za-z0-9_:.+/-]+")
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.:+-]*")
# DOIs as they appear in the wild, minus anything TeX or \url would trip over (% # { } \ ~ ^).
_DOI = re.compile(r"10\.\d{4,9}/[-._;()/:<>\[\]+A-Za-z0-9]+")
_ARXIV_ID = re.compile(r"[A-Za-z0-9.-]+(/[0-9]+)?")
_AND = re.compile(r"(?:^|\s)and(?:\s|$)", re.IGNORECASE)

# The longest title, abstract, author list or journal reference read. arXiv caps abstracts
# at 1,920 characters; a longer text is a listing gone wrong (a whole page glued together, a
# 10 MB line), and nobody can read or cite it.
MAX_FIELD_CHARS = 100_000
# The longest field value written, and the most macros in it. Escaping can multiply a text's
# length by 16 (every "{" is "{\textbraceleft}"); BibTeX refuses strings over 200,000
# characters, and biber's time grows with the square of a field's macros (1,000 of them: 5 s,
# 2,200: 19 s, 4,400: 2 minutes). A real abstract has a few dozen.
MAX_WRITTEN_CHARS = 100_000
MAX_WRITTEN_MACROS = 1_000


class Field(NamedTuple):
    """One field as written: ``name = {value}``, or ``name = value`` when `bare` (a macro)."""

    name: str
    value: str
    bare: bool = False


def format_entry(
    paper: Paper,
    key: str,
    *,
    style: str = "bibtex",
    abstract: bool = True,
    extra_fields: Sequence[tuple[str, str]] = (),
    eol: str = "\n",
    preprint_form: str = "eprint",
) -> str:
    """Return one complete BibTeX entry for `paper`, lines joined by `eol`, no final newline.

    Args:
        paper: What is known about the paper; fields without a value are left out.
        key: The citation key (see `readlist.citekey.make_citekey`).
        style: ``"bibtex"`` (``@misc``, ASCII) or ``"biblatex"`` (``@online``, UTF-8).
        abstract: Whether to write the abstract.
        extra_fields: ``(name, value)`` pairs appended last; values must already be safe
            BibTeX text (e.g. from `readlist.latex.bibtex_escape`).
        eol: Line separator, so entries match the file they are appended to.
        preprint_form: For style ``"bibtex"``: ``"eprint"`` (arXiv's ``@misc`` export) or
            ``"journal"`` (Google Scholar's ``@article`` with ``journal = {arXiv preprint
            arXiv:ID}``, which plain, unsrt, alpha, abbrv and apalike print; the eprint fields
            stay for styles that link them).

    Raises:
        UnsafeTextError: When the paper's text cannot be written safely: too long to read (see
            `check_writable`), or too long once escaped (`MAX_WRITTEN_CHARS`).
        ValueError: On an unknown style, a key BibTeX or biber would reject, or an extra field
            whose name is invalid or whose value spans lines or has unbalanced braces.
    """
    if not _KEY.fullmatch(key):
        raise ValueError(f"invalid citation key: {key!r}")
    entry_type = entry_type_for(paper, style, preprint_form)
    check_writable(paper)
    try:
        fields = entry_fields(
            paper,
            style=style,
            abstract=abstract,
            extra_fields=extra_fields,
            preprint_form=preprint_form,
        )
    except RecursionError:
        # The escaper bounds its nesting (latex.MAX_TEX_NESTING); should some input still
        # recurse too deep, the paper is skipped rather than the whole run lost.
        raise UnsafeTextError("text", "nests too deeply to be written safely") from None
    lines = [f"@{entry_type}{{{key},"]
    for field in fields:
        value = field.value if field.bare else f"{{{field.value}}}"
        lines.append(f"  {field.name} = {value},")
    lines.append("}")
    return eol.join(lines)


def entry_type_for(paper: Paper, style: str = "bibtex", preprint_form: str = "eprint") -> str:
    """The entry type: the published version's (`article`, `inproceedings`) when its venue is
    known field by field, else arXiv's `misc` (BibTeX; `article` in Google Scholar's
    `preprint_form = "journal"`) or `online` (biblatex)."""
    if paper.venue is not None and paper.venue.name.strip():
        return "inproceedings" if paper.venue.kind == "conference" else "article"
    if style != "bibtex":
        return "online"
    has_id = paper.arxiv_id is not None and _ARXIV_ID.fullmatch(paper.arxiv_id.id)
    return "article" if preprint_form == "journal" and has_id else "misc"


def entry_fields(
    paper: Paper,
    *,
    style: str = "bibtex",
    abstract: bool = True,
    extra_fields: Sequence[tuple[str, str]] = (),
    preprint_form: str = "eprint",
) -> list[Field]:
    """Return the fields `format_entry` writes for `paper`, in order, values as written."""
    if style not in STYLES:
        raise ValueError(f"unknown BibTeX style {style!r}; expected one of {', '.join(STYLES)}")
    if preprint_form not in PREPRINT_FORMS:
        raise ValueError(
            f"unknown preprint form {preprint_form!r}; expected one of {', '.join(PREPRINT_FORMS)}"
        )
    ascii_only = style == "bibtex"
    fields: list[Field] = []

    def add(name: str, value: str | None, *, bare: bool = False) -> None:
        if value:
            fields.append(Field(name, value, bare))

    add("title", protect_title(paper.title, ascii_only=ascii_only))
    add("author", format_authors(paper.authors, ascii_only=ascii_only))
    venue = paper.venue if paper.venue is not None and paper.venue.name.strip() else None
    arxiv_id = paper.arxiv_id if paper.arxiv_id and _ARXIV_ID.fullmatch(paper.arxiv_id.id) else None
    if venue is not None:
        # The published version: its venue, then the eprint fields it keeps.
        if venue.kind == "conference":
            venue_field = "booktitle"
        else:
            venue_field = "journal" if style == "bibtex" else "journaltitle"
        add(venue_field, bibtex_escape(venue.name, ascii_only=ascii_only))
        add("volume", bibtex_escape(venue.volume or "", ascii_only=ascii_only))
        add("number", bibtex_escape(venue.issue or "", ascii_only=ascii_only))
        pages = re.sub(r"\s*(?:-+|–|—)\s*", "--", venue.pages or "")
        add("pages", bibtex_escape(pages, ascii_only=ascii_only))
    elif style == "bibtex" and preprint_form == "journal" and arxiv_id is not None:
        # Google Scholar's form: the one locator every classic .bst prints.
        add("journal", f"arXiv preprint arXiv:{arxiv_id.id}")

    year, month = paper.year, paper.month
    if year is None and paper.arxiv_id is not None and paper.arxiv_id.year_month:
        # The identifier encodes the month of the first version (2504.10479: April 2025).
        year, month = paper.arxiv_id.year_month
    if month is not None and not 1 <= month <= 12:
        month = None
    if style == "bibtex":
        add("year", str(year) if year is not None else None)
        add("month", _MONTHS[month - 1] if month else None, bare=True)
    elif year is not None:
        add("date", f"{year:04d}-{month:02d}" if month else f"{year:04d}")

    category = bibtex_escape(paper.primary_category or "", ascii_only=True)
    if arxiv_id is not None:
        add("eprint", arxiv_id.id)
        if style == "bibtex":
            add("archivePrefix", "arXiv")
            add("primaryClass", category)
        else:
            add("eprinttype", "arxiv")
            add("eprintclass", category)
    doi = paper.doi.strip() if paper.doi else ""
    if not _DOI.fullmatch(doi):
        # No published DOI, or one TeX cannot carry: the arXiv DataCite DOI still resolves.
        doi = arxiv_id.doi if arxiv_id is not None else ""
    add("doi", doi)
    add("url", arxiv_id.abs_url if arxiv_id is not None else None)
    if venue is None:
        add("note", bibtex_escape(paper.journal_ref or "", ascii_only=ascii_only))
    if not paper.authors:
        # What natbib's author-year styles and biblatex sort and label by in place of an author
        # (without it, "Bibliography not compatible with author-year citations").
        # Not brace-protected: alpha takes its label's first letters from it.
        add("key", bibtex_escape(_short_title(paper.title), ascii_only=ascii_only))
    if abstract:
        add("abstract", bibtex_escape(paper.abstract or "", ascii_only=ascii_only))
    tags = (bibtex_escape(tag, ascii_only=ascii_only) for tag in paper.tags)
    add("keywords", ", ".join(tag for tag in tags if tag))

    for name, value in extra_fields:
        if not _FIELD_NAME.fullmatch(name):
            raise ValueError(f"invalid BibTeX field name: {name!r}")
        if "\n" in value or "\r" in value or not brace_depth_ok(value):
            raise ValueError(f"field {name} needs a one-line value with balanced braces")
        add(name, value)

    for field in fields:
        # Escaping guarantees this; a slip here would corrupt the user's whole .bib file.
        if not brace_depth_ok(field.value):
            raise AssertionError(f"unbalanced braces in {field.name}: {field.value!r}")
        if len(field.value) > MAX_WRITTEN_CHARS:
            raise UnsafeTextError(
                field.name,
                f"would take {len(field.value):,} characters of BibTeX (at most "
                f"{MAX_WRITTEN_CHARS:,}: BibTeX refuses much longer ones)",
            )
        macros = field.value.count("\\")
        if macros > MAX_WRITTEN_MACROS:
            raise UnsafeTextError(
                field.name,
                f"would take {macros:,} TeX macros (at most {MAX_WRITTEN_MACROS:,}: biber "
                "takes minutes over more)",
            )
    return fields


def check_writable(paper: Paper) -> None:
    """Raise `UnsafeTextError` when a text of `paper` is too long to be written as BibTeX."""
    texts = {
        "title": paper.title,
        "abstract": paper.abstract or "",
        "author list": " and ".join(paper.authors),
        "journal reference": paper.journal_ref or "",
    }
    for name, text in texts.items():
        if len(text) > MAX_FIELD_CHARS:
            raise UnsafeTextError(
                name, f"is {len(text):,} characters long (at most {MAX_FIELD_CHARS:,} are written)"
            )


def format_authors(authors: Sequence[str], *, ascii_only: bool) -> str:
    """Return display names ("First Last") as a BibTeX name list joined by `` and ``."""
    names: list[str] = []
    for author in authors:
        name = escape_name(author, ascii_only=ascii_only)
        if not name:
            continue
        if "," in name or _AND.search(name):
            # BibTeX would read "Smith, Jr." as "Last, First" and split on a bare "and".
            name = f"{{{name}}}"
        names.append(name)
    return " and ".join(names)


def _short_title(title: str) -> str:
    """Return what a citation shows for a paper without authors: the title's head.

    Only its first words, as plain words (no TeX, at most 40 characters): the `key` field
    sorts and labels the entry, and bibtex copies it into `\bibitem[...]`, where a bracket or a
    long hostile "word" would break the document.
    """
    head = title.split(":", 1)[0]
    words = re.findall(r"[^\W_]+", head)
    short = " ".join(words[:4])
    if len(words) > 4:
        short += "..."
    if len(short) > 40:
        short = short[:39].rstrip() + "..."
    return short
