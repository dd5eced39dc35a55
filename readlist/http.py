"""Small HTTP helpers shared by the API clients (arXiv, Hugging Face, Zotero)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

# The largest answer read: arXiv's 2,000 entries of a few kilobytes each, with room to spare.
MAX_RESPONSE_BYTES = 64_000_000
# Headers that describe the body as it travelled, not the decoded body `send_within` returns.
_TRANSFER_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class Stalled(httpx.ReadTimeout):
    """The answer did not finish within the deadline, though bytes may have arrived."""

    def __init__(self, received: int, request: httpx.Request) -> None:
        self.received = received
        super().__init__(f"{received} bytes received", request=request)


def send_within(
    client: httpx.Client,
    request: httpx.Request,
    seconds: float,
    *,
    clock: Callable[[], float],
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> httpx.Response:
    """Send `request` and read the whole answer within `seconds` of now, else raise `Stalled`.

    httpx's timeouts bound each read, so a server trickling a byte at a time would otherwise
    hold the request open for ever. A body over `max_bytes` raises httpx.DecodingError. The
    response returned holds the decoded body, ready for `.content`.
    """
    started = clock()
    response = client.send(request, stream=True)
    try:
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if clock() - started > seconds:
                raise Stalled(len(body), request)
            if len(body) > max_bytes:
                raise httpx.DecodingError(
                    f"the answer is larger than {max_bytes // 1_000_000} MB", request=request
                )
        if clock() - started > seconds:
            raise Stalled(len(body), request)
    finally:
        response.close()
    headers = [
        (name, value)
        for name, value in response.headers.multi_items()
        if name.lower() not in _TRANSFER_HEADERS
    ]
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=bytes(body),
        request=request,
        extensions=response.extensions,
    )


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
