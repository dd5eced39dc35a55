"""Hugging Face paper pages as sources: daily, weekly and monthly papers, and collections.

`parse_page` recognizes what a user types or pastes (`hf:daily`, `hf:daily/2025-04-28`,
`hf:week/2025-W18`, `hf:month/2025-04`, `hf:collection/OWNER/SLUG`, and the matching
huggingface.co page URLs) and refuses malformed dates before any request is made. The parsers of
the Hub API's JSON (`/api/daily_papers`, `/api/collections/{slug}`) are pure; `fetch_page` drives
an `HfClient` through the pages of a listing.

Papers from these pages carry their arXiv IDs (a Hugging Face paper's `id` is its arXiv ID), so
they need no title search: resolution fetches their arXiv metadata in batches.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from readlist.errors import UsageError
from readlist.ids import parse_arxiv_id
from readlist.models import Listing
from readlist.normalize import normalize_whitespace

if TYPE_CHECKING:
    from readlist.config import Config
    from readlist.resolve.hf import HfClient

PageKind = Literal["daily", "week", "month", "collection"]

# The Hub serves daily papers in pages; `limit` above 100 is not documented, so stay at it.
PAGE_SIZE = 100
# A month holds a few hundred to ~2,000 papers; this bounds a misbehaving server's paging.
MAX_PAGES = 50

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_WEEK = re.compile(r"(\d{4})-W(\d{2})")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_SLUG = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_HF_HOSTS = ("huggingface.co", "www.huggingface.co", "hf.co")


@dataclass(frozen=True)
class HfPage:
    """A Hugging Face page of papers: a day (None: the latest), week, month or collection."""

    kind: PageKind
    value: str | None = None  # "2025-04-28", "2025-W18", "2025-04", "owner/slug-hex"

    @property
    def label(self) -> str:
        """How readlist names the page in messages and in `Listing.source`."""
        if self.kind == "daily":
            return f"hf:daily/{self.value}" if self.value else "hf:daily"
        return f"hf:{self.kind}/{self.value}"

    @property
    def params(self) -> dict[str, str]:
        """The `/api/daily_papers` query parameters that select this page (not collections)."""
        if self.kind == "daily":
            return {"date": self.value} if self.value else {}
        if self.kind in ("week", "month"):
            return {self.kind: self.value or ""}
        raise ValueError("a collection is not a daily-papers page")


@dataclass(frozen=True)
class PageResult:
    """What a page holds: its papers in Hugging Face's order, and what was left out."""

    page: HfPage
    listings: list[Listing]
    title: str | None = None  # a collection's title
    skipped: int = 0  # collection items that are not papers (models, datasets, Spaces…)


def _check_date(text: str, spec: str) -> str:
    if not _DATE.fullmatch(text):
        raise UsageError(f"{spec}: expected a date as YYYY-MM-DD, got {text!r}")
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{spec}: {text!r} is not a calendar date") from None
    return text


def _check_week(text: str, spec: str) -> str:
    match = _WEEK.fullmatch(text)
    if not match:
        raise UsageError(f"{spec}: expected an ISO week as YYYY-Www (e.g. 2025-W18), got {text!r}")
    year, week = int(match[1]), int(match[2])
    # The last ISO week of a year is the one holding 28 December: 52 or 53.
    last = dt.date(year, 12, 28).isocalendar().week
    if not 1 <= week <= last:
        raise UsageError(f"{spec}: {year} has ISO weeks 01 to {last}, not {match[2]}")
    return text


def _check_month(text: str, spec: str) -> str:
    match = _MONTH.fullmatch(text)
    if not match or not 1 <= int(match[2]) <= 12:
        raise UsageError(f"{spec}: expected a month as YYYY-MM (e.g. 2025-04), got {text!r}")
    return text


def _page(kind: str, value: str | None, spec: str) -> HfPage:
    if kind == "daily":
        return HfPage("daily", _check_date(value, spec) if value else None)
    if kind == "week" and value:
        return HfPage("week", _check_week(value, spec))
    if kind == "month" and value:
        return HfPage("month", _check_month(value, spec))
    if kind == "collection" and value:
        if not _SLUG.fullmatch(value):
            raise UsageError(f"{spec}: expected a collection as OWNER/SLUG, got {value!r}")
        return HfPage("collection", value)
    raise UsageError(
        f"{spec}: expected hf:daily, hf:daily/YYYY-MM-DD, hf:week/YYYY-Www, hf:month/YYYY-MM "
        "or hf:collection/OWNER/SLUG"
    )


def parse_page(spec: str) -> HfPage | None:
    """Return the Hugging Face page `spec` names, None if it names none.

    Raises `UsageError` for a page spec or URL whose date, week, month or slug is malformed.
    A paper URL (`huggingface.co/papers/2504.10479`) is an identifier, not a page: None.
    """
    text = spec.strip()
    if text.lower().startswith("hf:"):
        body = text[3:].strip("/")
        kind, _, value = body.partition("/")
        kind = {"date": "daily", "day": "daily", "collections": "collection"}.get(
            kind.lower(), kind.lower()
        )
        return _page(kind, value or None, spec)
    if "://" not in text and not text.lower().startswith(_HF_HOSTS):
        return None
    url = urlsplit(text if "://" in text else f"https://{text}")
    if (url.hostname or "").lower() not in _HF_HOSTS:
        return None
    parts = [p for p in url.path.split("/") if p]
    if parts[:1] == ["papers"]:
        if len(parts) == 1 or parts[1:] == ["trending"]:
            return HfPage("daily")
        if len(parts) == 3 and parts[1] in ("date", "week", "month"):
            return _page("daily" if parts[1] == "date" else parts[1], parts[2], spec)
        return None  # /papers/<arXiv ID> is a paper, read as an identifier
    if parts[:1] == ["collections"]:
        if len(parts) != 3:
            raise UsageError(f"{spec}: expected https://huggingface.co/collections/OWNER/SLUG")
        return _page("collection", f"{parts[1]}/{parts[2]}", spec)
    return None


# -- the Hub API's JSON ----------------------------------------------------------------------


class PageShapeError(ValueError):
    """A JSON body that does not have the shape the Hub API documents."""


def _upvotes(*objects: Any) -> int | None:
    for obj in objects:
        value = obj.get("upvotes") if isinstance(obj, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _text(value: object) -> str | None:
    return (normalize_whitespace(value) or None) if isinstance(value, str) else None


def _listing(raw_id: object, title: object, summary: object, source: str, n: int) -> Listing:
    arxiv_id = parse_arxiv_id(raw_id) if isinstance(raw_id, str) else None
    if arxiv_id is None:
        raise PageShapeError(f"paper {n} has no arXiv id (got {raw_id!r})")
    return Listing(
        title=_text(title),
        abstract=_text(summary),
        arxiv_id=arxiv_id,
        source=source,
        line=n,
    )


def parse_daily_papers(data: object, source: str) -> list[Listing]:
    """Parse `/api/daily_papers`: an array of `{paper: {...}, title, summary, ...}`."""
    if not isinstance(data, list):
        raise PageShapeError(f"expected a JSON array of papers, got {type(data).__name__}")
    listings = []
    for n, item in enumerate(data, 1):
        if not isinstance(item, dict):
            raise PageShapeError(f"paper {n} is not an object")
        inner = item.get("paper")
        paper: dict[str, Any] = inner if isinstance(inner, dict) else {}
        listing = _listing(
            paper.get("id", item.get("id")),
            paper.get("title") or item.get("title"),
            paper.get("summary") or item.get("summary"),
            source,
            n,
        )
        listings.append(_with_upvotes(listing, _upvotes(paper, item)))
    return listings


def parse_collection(data: object, source: str) -> PageResult:
    """Parse `/api/collections/{slug}`: keep its paper items in their collection order."""
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise PageShapeError("expected a collection object with an 'items' array")
    items = [i for i in data["items"] if isinstance(i, dict)]
    items.sort(key=_position)
    listings: list[Listing] = []
    skipped = 0
    for item in items:
        if item.get("type") != "paper":
            skipped += 1
            continue
        n = len(listings) + 1
        listing = _listing(item.get("id"), item.get("title"), item.get("summary"), source, n)
        listings.append(_with_upvotes(listing, _upvotes(item)))
    page = HfPage("collection", str(data.get("slug") or source.removeprefix("hf:collection/")))
    return PageResult(page, listings, title=_text(data.get("title")), skipped=skipped)


def _position(item: dict[str, Any]) -> int:
    value = item.get("position")
    return value if isinstance(value, int) else 0


def _with_upvotes(listing: Listing, upvotes: int | None) -> Listing:
    return replace(listing, upvotes=upvotes) if upvotes is not None else listing


# -- fetching --------------------------------------------------------------------------------


def fetch_page(client: HfClient, page: HfPage) -> PageResult:
    """Fetch every paper of `page` over the network, following the daily-papers paging."""
    if page.kind == "collection":
        assert page.value is not None
        result = client.fetch(
            f"collections/{page.value}", None, lambda data: parse_collection(data, page.label)
        )
        return PageResult(page, result.listings, title=result.title, skipped=result.skipped)
    listings: list[Listing] = []
    seen: set[str] = set()
    for number in range(MAX_PAGES):
        params = {**page.params, "limit": str(PAGE_SIZE), "p": str(number)}
        batch = client.fetch(
            "daily_papers", params, lambda data: parse_daily_papers(data, page.label)
        )
        fresh = [x for x in batch if x.arxiv_id and x.arxiv_id.id not in seen]
        for listing in fresh:
            assert listing.arxiv_id is not None
            seen.add(listing.arxiv_id.id)
            listings.append(replace(listing, line=len(listings) + 1))
        # A short page is the last; a page of nothing new means the server ignores paging.
        if len(batch) < PAGE_SIZE or not fresh:
            break
    return PageResult(page, listings)


@contextlib.contextmanager
def open_hf_client(
    config: Config, on_request: Callable[[str], None] | None = None
) -> Iterator[HfClient]:
    """An `HfClient` for the configured Hub API, closed on exit."""
    from readlist.resolve.hf import HfClient
    from readlist.resolve.service import hf_http_client

    with hf_http_client(config) as http:
        yield HfClient(http, api_url=config.huggingface.api_url, on_request=on_request)
