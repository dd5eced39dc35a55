"""Hugging Face papers API client: title search and single-paper lookup.

A HF paper's `id` is its arXiv ID, which is why search results can become candidates for
`match.choose`. Parsing is pure (`parse_search`, `parse_paper`); `HfClient` adds the network
side: bounded concurrency, HF's `RateLimit` headers, retries with backoff.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from readlist.errors import HuggingFaceError
from readlist.http import retry_after, send_within
from readlist.ids import parse_arxiv_id
from readlist.normalize import normalize_whitespace

# Retries of 5xx answers and timeouts wait BACKOFF_BASE * 2**attempt seconds, at most
# BACKOFF_CAP. A 429 without any header saying how long to wait backs off the same way.
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
# HF counts requests over 5-minute windows, so no honest wait is longer than one window.
# When the server asks for a longer one, requests fail at once until then (none is sent),
# rather than hanging the CLI.
MAX_WAIT = 300.0

_T = TypeVar("_T")
# Failures worth another try: the request may never have reached HF, or HF dropped it.
_TRANSIENT = (httpx.TimeoutException, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)


@dataclass(frozen=True)
class HfPaper:
    """One paper as the Hugging Face papers API describes it."""

    arxiv_id: str  # bare arXiv ID, no version: "2404.04487"
    title: str  # whitespace normalized
    summary: str  # the abstract, whitespace normalized (HF keeps arXiv's hard line breaks)
    authors: tuple[str, ...] = ()  # display names, in order
    published_at: str | None = None  # ISO-8601 UTC timestamp


class _ShapeError(ValueError):
    """A JSON body that does not have the shape the API documents."""


def _text(value: object) -> str | None:
    """Return a non-blank string with its whitespace normalized, else None."""
    if isinstance(value, str):
        text = normalize_whitespace(value)
        return text or None
    return None


def _paper_from_json(paper: Mapping[str, Any], outer: Mapping[str, Any]) -> HfPaper:
    """Build an `HfPaper` from a paper object, falling back to its search-result wrapper."""
    raw_id = paper.get("id", outer.get("id"))
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise _ShapeError("a paper has no 'id'")
    arxiv_id = parse_arxiv_id(raw_id)
    if arxiv_id is None:
        raise _ShapeError(f"a paper's id {raw_id!r} is not an arXiv identifier")
    title = _text(paper.get("title")) or _text(outer.get("title"))
    if title is None:
        raise _ShapeError(f"paper {raw_id} has no 'title'")
    summary = _text(paper.get("summary")) or _text(outer.get("summary")) or ""
    raw_authors = paper.get("authors")
    if raw_authors is None:
        raw_authors = []
    if not isinstance(raw_authors, list):
        raise _ShapeError(f"paper {raw_id} has 'authors' that is not a list")
    authors: list[str] = []
    for author in raw_authors:
        name = _text(author.get("name")) if isinstance(author, dict) else _text(author)
        if name:
            authors.append(name)
    published = paper.get("publishedAt") or outer.get("publishedAt")
    return HfPaper(
        arxiv_id=arxiv_id.id,
        title=title,
        summary=summary,
        authors=tuple(authors),
        published_at=published if isinstance(published, str) else None,
    )


def parse_search(data: object) -> list[HfPaper]:
    """Parse the JSON of `/api/papers/search`; raise ValueError when its shape is wrong."""
    if not isinstance(data, list):
        raise _ShapeError(f"expected a JSON array of results, got {type(data).__name__}")
    papers: list[HfPaper] = []
    for item in data:
        if not isinstance(item, dict):
            raise _ShapeError(f"expected a result object, got {type(item).__name__}")
        inner = item.get("paper")
        if inner is not None and not isinstance(inner, dict):
            raise _ShapeError("a result's 'paper' is not an object")
        papers.append(_paper_from_json(inner or {}, item))
    return papers


def parse_paper(data: object) -> HfPaper:
    """Parse the JSON of `/api/papers/{id}`; raise ValueError when its shape is wrong."""
    if not isinstance(data, dict):
        raise _ShapeError(f"expected a JSON object, got {type(data).__name__}")
    return _paper_from_json(data, {})


# A `key=value` parameter of a structured field; the value may be a quoted string.
_PARAM_RE = re.compile(r"""\s*([A-Za-z*][A-Za-z0-9_.*-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s"]*)\s*""")


def _split_unquoted(value: str, separator: str) -> list[str]:
    """Split a header value on `separator` wherever it is not inside a quoted string."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def _number(text: str | None) -> float | None:
    """Parse a non-negative finite number (seconds or a request count), else None."""
    if text is None:
        return None
    try:
        value = float(text.strip().strip('"'))
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def rate_limit_wait(headers: Mapping[str, str]) -> float | None:
    """Return how long to pause when a response says the quota is spent, else None.

    Reads HF's `RateLimit: "api";r=<remaining>;t=<seconds to reset>` (IETF draft 9, possibly
    several policies in one list), the draft-7 dictionary `RateLimit: limit=500, remaining=0,
    reset=60`, and the older `RateLimit-Remaining` / `RateLimit-Reset` pair. Malformed parts
    are ignored: a header we cannot read never stops a request.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    waits: list[float] = []

    def note(remaining: float | None, reset: float | None) -> None:
        if remaining is not None and remaining < 1 and reset is not None:
            waits.append(reset)

    combined = lowered.get("ratelimit")
    if combined:
        dictionary: dict[str, str] = {}
        for member in _split_unquoted(combined, ","):
            params: dict[str, str] = {}
            # The member's first part is the policy name ("api") in draft 9, or a key=value
            # pair in draft 7; every part with an "=" is a parameter either way.
            for part in _split_unquoted(member, ";"):
                match = _PARAM_RE.fullmatch(part)
                if match:
                    params[match.group(1).lower()] = match.group(2)
            note(_number(params.get("r")), _number(params.get("t")))
            dictionary.update(params)
        note(_number(dictionary.get("remaining")), _number(dictionary.get("reset")))
    note(_number(lowered.get("ratelimit-remaining")), _number(lowered.get("ratelimit-reset")))
    return max(waits) if waits else None


def _backoff(attempt: int) -> float:
    """Return the capped exponential backoff before retry number `attempt` (0-based)."""
    return min(BACKOFF_CAP, BACKOFF_BASE * 2.0**attempt)


class HfClient:
    """Talk to the Hugging Face papers API politely through the caller's `httpx.Client`."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        api_url: str,
        concurrency: int = 4,
        max_retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_request: Callable[[str], None] | None = None,
        max_wait: float = MAX_WAIT,
        deadline_seconds: float = 30.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if max_retries < 0:
            raise ValueError("max_retries must not be negative")
        self.client = client
        self.api_url = api_url.rstrip("/")
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.deadline = deadline_seconds  # for the whole answer of one request
        self._sleep = sleep
        self._clock = clock
        self._on_request = on_request
        # Every request, from any thread, takes a slot: the bound holds client-wide.
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._not_before = -math.inf  # clock() time before which no request may start
        self._refused_until = -math.inf  # ...and before which requests fail without being sent

    def search(self, query: str, *, limit: int = 10) -> list[HfPaper]:
        """Search HF's paper index; return the results in HF's order."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        url = f"{self.api_url}/papers/search"
        response = self._get(url, {"q": query, "limit": str(limit)})
        assert response is not None  # only paper() tolerates a 404
        return self._parse(response, parse_search)

    def paper(self, arxiv_id: str) -> HfPaper | None:
        """Fetch one paper by arXiv ID (any version); return None when HF has not indexed it."""
        parsed = parse_arxiv_id(arxiv_id)
        if parsed is None:
            raise ValueError(f"not an arXiv identifier: {arxiv_id!r}")
        url = f"{self.api_url}/papers/{parsed.id}"
        response = self._get(url, None, missing_ok=True)
        if response is None:
            return None
        return self._parse(response, parse_paper)

    def fetch(
        self, path: str, params: Mapping[str, str] | None, parse: Callable[[object], _T]
    ) -> _T:
        """GET `api_url/path` (e.g. `daily_papers`) and parse its JSON with `parse`."""
        response = self._get(f"{self.api_url}/{path}", params)
        assert response is not None  # only paper() tolerates a 404
        return self._parse(response, parse)

    def search_many(
        self, queries: Sequence[str], *, limit: int = 10
    ) -> dict[str, list[HfPaper] | HuggingFaceError]:
        """Search each distinct query, `concurrency` at a time; keep a failure as its value."""
        unique = list(dict.fromkeys(queries))
        results: dict[str, list[HfPaper] | HuggingFaceError] = {}
        if not unique:
            return results

        def one(query: str) -> list[HfPaper] | HuggingFaceError:
            try:
                return self.search(query, limit=limit)
            except HuggingFaceError as error:
                return error

        workers = min(self.concurrency, len(unique))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hf-search") as pool:
            for query, result in zip(unique, pool.map(one, unique), strict=True):
                results[query] = result
        return results

    # -- the network side ---------------------------------------------------------------

    def _parse(self, response: httpx.Response, parse: Callable[[object], _T]) -> _T:
        """Decode a JSON body and parse it, turning any surprise into a HuggingFaceError."""
        url = str(response.request.url)
        try:
            data = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            kind = response.headers.get("content-type", "unknown content type")
            raise HuggingFaceError(
                url, f"the answer is not JSON ({kind})", response.status_code
            ) from None
        try:
            return parse(data)
        except ValueError as error:
            raise HuggingFaceError(
                url, f"unexpected answer: {error}", response.status_code
            ) from error

    def _wait_turn(self, url: str) -> None:
        """Sleep until the shared rate-limit pause is over; fail if the server refuses us."""
        while True:
            with self._lock:
                now = self._clock()
                if now < self._refused_until:
                    left = self._refused_until - now
                    raise HuggingFaceError(
                        url, f"rate limited; the server asks to wait another {left:.0f} s", 429
                    )
                delay = self._not_before - now
            if delay <= 0:
                return
            self._sleep(delay)

    def _pause_all(self, seconds: float) -> None:
        """Let no request, from any thread, start for `seconds` (none at all if too long)."""
        with self._lock:
            until = self._clock() + seconds
            if seconds > self.max_wait:
                self._refused_until = max(self._refused_until, until)
            else:
                self._not_before = max(self._not_before, until)

    def _send(self, url: str, params: Mapping[str, str] | None, shown: str) -> httpx.Response:
        """Send one GET once the rate limit allows, holding a concurrency slot."""
        with self._slots:
            self._wait_turn(shown)
            request = self.client.build_request(
                "GET", url, params=params, headers={"Accept": "application/json"}
            )
            if self._on_request is not None:
                self._on_request(f"GET {request.url}")
            # A stalled or trickling answer ends at the deadline, as a (transient) timeout.
            return send_within(self.client, request, self.deadline, clock=self._clock)

    def _get(
        self, url: str, params: Mapping[str, str] | None, *, missing_ok: bool = False
    ) -> httpx.Response | None:
        """GET with retries; return the 2xx response (None for a tolerated 404) or raise."""
        shown = str(httpx.URL(url, params=params)) if params else url
        attempt = 0
        while True:
            try:
                response = self._send(url, params, shown)
            except _TRANSIENT as error:
                if attempt >= self.max_retries:
                    what = "timed out" if isinstance(error, httpx.TimeoutException) else "failed"
                    raise HuggingFaceError(
                        shown, f"{what} after {attempt + 1} attempts ({error})"
                    ) from error
                self._sleep(_backoff(attempt))
                attempt += 1
                continue
            except httpx.HTTPError as error:
                # Connection refused, DNS failure...: retrying would only make the user wait.
                raise HuggingFaceError(shown, f"cannot reach the server ({error})") from error

            status = response.status_code
            spent = rate_limit_wait(response.headers)
            if spent is not None:
                self._pause_all(spent)
            if 200 <= status < 300:
                return response
            if status == 404 and missing_ok:
                return None
            if status != 429 and status < 500:
                raise HuggingFaceError(shown, _describe(response), status)
            if attempt >= self.max_retries:
                what = "rate limited" if status == 429 else "server error"
                raise HuggingFaceError(
                    shown, f"{what}, still failing after {attempt + 1} attempts", status
                )
            asked = retry_after(response.headers)
            if status == 429:
                waits = [w for w in (spent, asked) if w is not None]
                wait = max(waits) if waits else _backoff(attempt)
                # The limit is per client (IP or token), so every thread waits.
                self._pause_all(wait)
                if wait > self.max_wait:
                    raise HuggingFaceError(
                        shown, f"rate limited; the server asks to wait {wait:.0f} s", status
                    )
            else:
                wait = asked if asked is not None else _backoff(attempt)
                self._sleep(min(wait, self.max_wait))
            attempt += 1


def _describe(response: httpx.Response) -> str:
    """Summarize an unexpected HTTP answer in a few words for the user."""
    detail = ""
    try:
        data = json.loads(response.content)
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            detail = normalize_whitespace(data["error"])[:200]
    except (ValueError, UnicodeDecodeError):
        pass
    reason = response.reason_phrase or "unexpected status"
    return f"{reason}: {detail}" if detail else reason
