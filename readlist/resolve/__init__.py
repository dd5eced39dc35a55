"""Resolution: from what a listing says to a citable paper.

This package is the seam between the pure pipeline and the network. A `Resolver` takes
listings and returns one `Resolution` each; `service.NetworkResolver` is the one the CLI
uses (with the cache alone under `--offline`); what a listing alone describes is
`paper_from_listing`, written unresolved for `readlist resolve` to finish later.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from readlist.models import Listing, Paper


@dataclass(frozen=True)
class Resolution:
    """The outcome for one listing: a paper (resolved or not) and, if not, why."""

    listing: Listing
    paper: Paper
    reason: str | None = None  # why the paper stayed unresolved; None when resolved
    candidates: tuple[str, ...] = ()  # near misses the user may want to look at
    # The input named an arXiv ID that arXiv says does not exist: nothing to write for it.
    missing: bool = False

    @property
    def resolved(self) -> bool:
        return self.paper.resolved


class Resolver(Protocol):
    """Anything that turns listings into resolutions, one per listing, in order."""

    def resolve(self, listings: Sequence[Listing]) -> list[Resolution]: ...


def paper_from_listing(listing: Listing, *, today: datetime.date | None = None) -> Paper:
    """Build the unresolved paper the listing alone describes.

    An identifier given directly is kept as the paper's eprint; its year and month come
    from the identifier itself, which encodes when the first version was submitted.
    Otherwise the listing's date line dates it ("Apr 28": the last Apr 28 up to `today`),
    else the year it is written: author-year styles need a year to cite it at all.
    """
    today = today or datetime.date.today()
    year = month = None
    if listing.arxiv_id is not None:
        ym = listing.arxiv_id.year_month
        if ym:
            year, month = ym
    if year is None and listing.date is not None:
        listed_year, month, day = listing.date
        year = listed_year or (
            today.year if (month, day) <= (today.month, today.day) else today.year - 1
        )
    if year is None:
        year = today.year
    title = listing.title or f"arXiv:{listing.arxiv_id}"
    return Paper(
        title=title,
        abstract=listing.abstract,
        arxiv_id=listing.arxiv_id,
        year=year,
        month=month,
        resolved=False,
        listing=listing,
    )
