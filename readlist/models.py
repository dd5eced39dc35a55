"""Frozen value types that flow through the pipeline: parse -> select -> resolve -> tag -> write."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True, order=True)
class ArxivId:
    """An arXiv identifier with its version kept apart.

    `id` is the bare identifier without version: ``2504.10479`` or ``hep-th/9901001``.
    """

    id: str
    version: int | None = None

    def __str__(self) -> str:
        return self.id if self.version is None else f"{self.id}v{self.version}"

    @property
    def is_old_style(self) -> bool:
        return "/" in self.id

    @property
    def doi(self) -> str:
        """The DataCite DOI arXiv registers for every paper (no version)."""
        return f"10.48550/arXiv.{self.id}"

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.id}"

    @property
    def year_month(self) -> tuple[int, int] | None:
        """Year and month of the first version, as encoded in the identifier itself."""
        digits = self.id.split("/")[-1][:4]
        if not digits.isdigit():
            return None
        yy, mm = int(digits[:2]), int(digits[2:4])
        if not 1 <= mm <= 12:
            return None
        # Old-style IDs start in 1991; new-style ones in 2007 (0704).
        year = 1900 + yy if yy >= 91 else 2000 + yy
        return year, mm


@dataclass(frozen=True)
class Listing:
    """One paper as the input names it, before resolution.

    A Hugging Face text listing gives a title and usually an abstract; an identifier or URL
    gives an arXiv ID; a plain title list gives only a title.
    """

    title: str | None = None
    abstract: str | None = None
    arxiv_id: ArxivId | None = None
    source: str = "<input>"  # file name, "<stdin>" or "<argument>"
    line: int = 0  # 1-based line of the title (or identifier) in `source`
    upvotes: int | None = None  # Hugging Face upvotes, for papers from a Hugging Face page
    # The page's date line above the listing: (year or None, month, day). "Apr 28" has no year.
    date: tuple[int | None, int, int] | None = field(default=None, compare=False)

    @property
    def label(self) -> str:
        """A short human label: the title, else the identifier."""
        if self.title:
            return self.title
        return f"arXiv:{self.arxiv_id}" if self.arxiv_id else "(untitled)"


@dataclass(frozen=True)
class Paper:
    """A paper ready to be written: what resolution (or the listing alone) knows about it."""

    title: str
    abstract: str | None = None
    arxiv_id: ArxivId | None = None
    authors: tuple[str, ...] = ()  # display names, "First Last", in order
    year: int | None = None  # year of the first version
    month: int | None = None
    primary_category: str | None = None
    doi: str | None = None  # published (journal) DOI, not the arXiv DataCite DOI
    journal_ref: str | None = None
    tags: tuple[str, ...] = ()
    resolved: bool = False  # True once arXiv metadata (authors, dates...) was fetched
    listing: Listing | None = field(default=None, compare=False)
    date: str | None = None  # full ISO date (YYYY-MM-DD) the paper is dated by (v1 by default)
    latest_date: str | None = None  # full ISO date of the latest arXiv version
    categories: tuple[str, ...] = ()  # arXiv categories, the primary one first
    comment: str | None = None  # the authors' arXiv comment ("12 pages, accepted at ACL")
    venue: Venue | None = None  # where it was published, when known field by field


@dataclass(frozen=True)
class Venue:
    """A published version's venue, field by field (from a Zotero item or a journal ref)."""

    kind: str  # "journal" or "conference"
    name: str
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    year: int | None = None


DATE_CHOICES = ("first", "latest")


def dated(paper: Paper, which: str) -> Paper:
    """Date a paper by its first (default) or latest arXiv version: `date`, `year`, `month`."""
    if which != "latest" or not paper.latest_date:
        return paper
    year, month = int(paper.latest_date[:4]), int(paper.latest_date[5:7])
    return replace(paper, date=paper.latest_date, year=year, month=month)
