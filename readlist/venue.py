"""Read where a paper was published from arXiv's journal reference and DOI: pure, no network.

arXiv's `journal_ref` is free text written by authors (``Mon.Not.Roy.Astron.Soc. 419 (2012)
1795-1803``, ``Astrophys.J.652:1617-1625,2006``, ``SIGGRAPH Asia 2023 Conference Papers``),
so this reads what it can and never guesses a field it cannot see: the venue's name, volume,
issue, pages and year, and whether it is a journal or a conference.
"""

from __future__ import annotations

import re

from readlist.models import Venue

__all__ = ["is_conference", "parse_journal_ref"]

_YEAR = r"(?:1[89]\d{2}|20\d{2})"
_YEAR_RE = re.compile(rf"(?<![\d.]){_YEAR}(?![\d.])")
_PAGES_RE = re.compile(r"(?<![\w.])([A-Za-z]?\d+)\s*(?:-{1,2}|–|—)\s*([A-Za-z]?\d+)(?![\w.])")
_CONFERENCE_WORDS_RE = re.compile(
    r"(?i)\b(?:proc(?:eedings|\.)?|conf(?:erence|\.)?|workshops?|symposium|"
    r"colloquium|meeting|congress|summit)\b"
)
# Conferences commonly cited by acronym alone ("CVPR 2024", "NeurIPS 2023").
_CONFERENCE_ACRONYMS = frozenset(
    [
        "AAAI",
        "AAMAS",
        "ACL",
        "AISTATS",
        "ASPLOS",
        "BMVC",
        "CHI",
        "CIKM",
        "COLING",
        "COLT",
        "CONLL",
        "CORL",
        "CVPR",
        "DAC",
        "EACL",
        "ECAI",
        "ECCV",
        "ECIR",
        "EMNLP",
        "EUROSYS",
        "FOCS",
        "ICASSP",
        "ICCV",
        "ICDE",
        "ICDM",
        "ICLR",
        "ICML",
        "ICRA",
        "IJCAI",
        "IJCNLP",
        "INTERSPEECH",
        "IROS",
        "ISCA",
        "ISIT",
        "KDD",
        "LREC",
        "MICCAI",
        "MICRO",
        "MLSYS",
        "NAACL",
        "NEURIPS",
        "NIPS",
        "NSDI",
        "OSDI",
        "PLDI",
        "POPL",
        "RSS",
        "SIGGRAPH",
        "SIGIR",
        "SIGMOD",
        "SODA",
        "SOSP",
        "STOC",
        "UAI",
        "UIST",
        "USENIX",
        "VLDB",
        "WACV",
        "WSDM",
        "WWW",
    ]
)
# DOI prefixes whose registrants publish conference proceedings only (ACL Anthology, AAAI,
# IJCAI, PMLR), and IEEE's conference DOIs, which carry the acronym: 10.1109/CVPR52688.2022.
_CONFERENCE_DOI_RE = re.compile(
    r"(?i)^10\.(?:18653/|1609/aaai|24963/ijcai|5555/)|^10\.1109/([A-Z]+)[\d-]*\.\d{4}\."
)


def parse_journal_ref(journal_ref: str | None, doi: str | None = None) -> Venue | None:
    """Return the venue a journal reference names, or None when it names nothing readable."""
    text = " ".join((journal_ref or "").split()).strip(" .;,")
    if not text:
        return None
    conference = is_conference(text, doi)
    pages_match = _pages(text)
    pages = f"{pages_match.group(1)}-{pages_match.group(2)}" if pages_match else None
    rest = text
    if pages_match:
        rest = rest[: pages_match.start()] + " " + rest[pages_match.end() :]
    bracketed = re.findall(rf"\(\s*({_YEAR})\s*\)", rest)
    years = bracketed or _YEAR_RE.findall(rest)
    year = int(years[-1]) if years else None
    if conference:
        return Venue("conference", _conference_name(rest), pages=pages, year=year)
    name, numbers = _split_name(rest)
    # Years are not volumes, issues or article numbers ("47(3), 2025", "2000--2005").
    numbers = [n for i, n in enumerate(numbers) if i == 0 or not re.fullmatch(_YEAR, n)]
    volume = issue = None
    issue_match = re.search(r"\b\d+\s*\((\d+)\)", rest)
    if issue_match and not re.fullmatch(_YEAR, issue_match.group(1)):
        issue = issue_match.group(1)
        numbers = [n for n in numbers if n != issue]
    if numbers:
        volume = numbers[0]
        if len(numbers) > 1 and pages is None:
            # "Phys. Rev. Lett. 104, 251301 (2010)": an article number stands for pages.
            pages = numbers[1]
    return Venue("journal", name or text, volume=volume, issue=issue, pages=pages, year=year)


def is_conference(journal_ref: str | None, doi: str | None = None) -> bool:
    """Tell whether a journal reference or DOI names proceedings rather than a journal."""
    text = journal_ref or ""
    if _CONFERENCE_WORDS_RE.search(text):
        return True
    words = {w.upper() for w in re.findall(r"[A-Za-z]+", text)}
    if words & _CONFERENCE_ACRONYMS:
        return True
    match = _CONFERENCE_DOI_RE.search((doi or "").strip())
    if match is None:
        return False
    acronym = match.group(1)
    return acronym is None or acronym.upper() in _CONFERENCE_ACRONYMS


def _pages(text: str) -> re.Match[str] | None:
    """The last page range that is not a span of years (``2000--2005``)."""
    found = None
    for match in _PAGES_RE.finditer(text):
        first, last = match.group(1), match.group(2)
        if re.fullmatch(_YEAR, first) and re.fullmatch(_YEAR, last):
            continue
        found = match
    return found


def _split_name(text: str) -> tuple[str, list[str]]:
    """Split ``Astrophys.J.652: (2006)`` into the name and the numbers that follow it."""
    match = re.search(r"(?<![A-Za-z])\d", text)
    if match is None:
        return _tidy(text), []
    name = _tidy(text[: match.start()])
    numbers = re.findall(
        r"(?<![\w.])\d+(?![\w.])|(?<=[A-Za-z.])\d+(?![\w.])", text[match.start() :]
    )
    return name, numbers


def _conference_name(text: str) -> str:
    """A proceedings title: the reference without its trailing year in parentheses."""
    text = re.sub(rf"\(\s*{_YEAR}\s*\)", " ", text)
    # What pages and volume leave behind at the end: ", PMLR 202: , 2023", ", pp.", ", vol. 3".
    tail = (
        rf"(?:[,:;]\s*{_YEAR}|(?:[,:;]\s*|\s+)(?:PMLR|LNCS|vol\.?|volume|pp?\.)\s*\d*\s*[:,]?"
        r"|[,:;]\s*\d*\s*[:,]?)\s*$"
    )
    previous = None
    while previous != text:
        previous, text = text, re.sub(tail, "", text.strip(), flags=re.IGNORECASE)
    return _tidy(re.sub(r"(?i)^in:?\s+", "", text.strip()))


def _tidy(text: str) -> str:
    return " ".join(text.split()).strip(" .,;:(")
