"""A published DOI's metadata from doi.org content negotiation (CSL JSON), and its venue.

The client takes an injected `httpx.Client`; `venue_from_csl` is pure. A DOI that doi.org
does not know is None, never a guess; anything that is not CSL JSON is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from readlist.errors import ApiError
from readlist.models import Venue

CSL_JSON = "application/vnd.citationstyles.csl+json"
_JOURNAL_TYPES = frozenset({"article-journal", "article", "article-magazine", "review"})
_CONFERENCE_TYPES = frozenset({"paper-conference", "proceedings-article", "chapter"})


class DoiError(ApiError):
    """doi.org failed, or answered with something that is not a CSL JSON record."""

    service = "doi.org"


class DoiClient:
    """Read CSL JSON records from doi.org (or a mirror at `api_url`)."""

    def __init__(self, client: httpx.Client, *, api_url: str = "https://doi.org") -> None:
        self.client = client
        self.api_url = api_url.rstrip("/")
        self.requests = 0

    def fetch_csl(self, doi: str) -> dict[str, Any] | None:
        """Return the DOI's CSL JSON record, or None when doi.org does not know the DOI."""
        url = f"{self.api_url}/{quote(doi.strip(), safe='/:;()._-')}"
        self.requests += 1
        try:
            response = self.client.get(url, headers={"Accept": CSL_JSON})
        except httpx.HTTPError as exc:
            raise DoiError(url, f"request failed ({type(exc).__name__})") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise DoiError(url, f"unexpected answer (HTTP {response.status_code})")
        kind = response.headers.get("Content-Type", "")
        if "json" not in kind:
            raise DoiError(url, f"not CSL JSON ({kind or 'no content type'})")
        try:
            data = response.json()
        except ValueError:
            raise DoiError(url, "malformed CSL JSON") from None
        if not isinstance(data, dict):
            raise DoiError(url, "malformed CSL JSON")
        return data


def venue_from_csl(record: Mapping[str, Any]) -> Venue | None:
    """The venue a CSL JSON record names (journal or proceedings), or None."""
    kind = str(record.get("type") or "")
    if kind in _JOURNAL_TYPES:
        venue_kind = "journal"
    elif kind in _CONFERENCE_TYPES:
        venue_kind = "conference"
    else:
        return None
    name = _text(record.get("container-title"))
    if not name:
        return None
    year = None
    issued = record.get("issued") or record.get("published-print") or record.get("published")
    if isinstance(issued, Mapping):
        parts = issued.get("date-parts")
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            first = parts[0][0]
            if isinstance(first, int) or (isinstance(first, str) and first.isdigit()):
                year = int(first)
    return Venue(
        venue_kind,
        name,
        _text(record.get("volume")) or None,
        _text(record.get("issue")) or None,
        _text(record.get("page")) or None,
        year,
    )


def _text(value: object) -> str:
    """A CSL field as one line of text (some are lists: `container-title`)."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str | int) and str(v).strip()), "")
    if isinstance(value, int):
        return str(value)
    return " ".join(value.split()) if isinstance(value, str) else ""
