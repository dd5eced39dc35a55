"""Small HTTP helpers shared by the API clients (arXiv, Hugging Face, Zotero)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value.strip()
    return ""


def _http_date(value: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Return the seconds `Retry-After` asks for (delay-seconds or HTTP-date), else None.

    An HTTP-date is measured against the server's own `Date` header when it sends one, so a
    skewed local clock does not shorten or stretch the wait.
    """
    value = _header(headers, "retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    when = _http_date(value)
    if when is None:
        return None
    now = _http_date(_header(headers, "date")) or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())
