"""A polite arXiv API client: canonical metadata by ID and batched title search.

Politeness is the point (arXiv's Terms of Use): one request at a time, at most one per
`delay_seconds` measured from the end of the previous response to the start of the next,
for the whole life of the client and across threads; 429/503 honour Retry-After; other
failures back off exponentially, never less than 3 s. Every wait goes through the injected
`sleep`, so tests run instantly with a fake clock. The caller owns the `httpx.Client`
(User-Agent, limits).

A broken answer costs seconds: the whole answer must arrive within `timeout_seconds`; a stall,
a refused connection or an HTML page from a proxy is retried once; and once a query has given
up, the client fails every later query at once with the same reason.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence

import httpx

from readlist.errors import ArxivError
from readlist.http import MAX_RESPONSE_BYTES, Stalled, retry_after, send_within
from readlist.models import ArxivId
from readlist.resolve import _atom
from readlist.resolve._atom import AtomEntry, AtomFeed

PROJECT_URL = "https://github.com/readlist/readlist"

# arXiv (and the proxies in front of it) answer 414 somewhere past a few thousand characters;
# past this length the parameters go in a form-encoded POST body instead.
MAX_GET_URL_LENGTH = 2000
# The API refuses more than 2000 results per call.
MAX_RESULTS_PER_CALL = 2000
# A 429 means arXiv already thinks we are too fast: never come back sooner than this.
MIN_BACKOFF_SECONDS = 10.0
# arXiv's terms of use: one request every 3 seconds.
ARXIV_DELAY_SECONDS = 3.0
# A long title is cut to this many words; a phrase prefix still matches the title.
MAX_PHRASE_WORDS = 12
# No wait after a failure is shorter than arXiv's own pacing, whatever `delay_seconds` is.
BACKOFF_FLOOR_SECONDS = 3.0
# A stall costs a whole `timeout_seconds`, a refused connection rarely heals within seconds,
# and a proxy's HTML error page rarely turns into a feed a few seconds later: after any of
# them, one retry is enough, whatever `max_retries` says (it bounds arXiv's own 429/503/5xx).
MAX_SLOW_RETRIES = 1

_RETRY_STATUSES = frozenset({429, 503})
# A word of a title phrase: letters/digits, joined by what the standard tokenizer keeps
# inside one token ("don't", "2.5", "1,000"); see `title_phrase`.
_WORD_RE = re.compile(r"[^\W_]+(?:(?:['.]|(?<=\d),(?=\d))[^\W_]+)*")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})


def user_agent(version: str, contact: str = "") -> str:
    """Build the descriptive User-Agent arXiv asks for, with an optional contact address."""
    contact = "".join(ch for ch in contact.strip() if ch.isprintable() and ch not in "();")
    if contact and "@" in contact and ":" not in contact:
        contact = f"mailto:{contact}"
    details = f"+{PROJECT_URL}; {contact}" if contact else f"+{PROJECT_URL}"
    return f"readlist/{version} ({details})"


def title_phrase(title: str) -> str:
    """Turn a title into the words of a safe `ti:"..."` phrase for the arXiv search API.

    arXiv indexes titles with Lucene's standard tokenizer and lowercasing, so only the
    words matter, and anything the query syntax could read as syntax must go: quotes,
    backslashes, brackets, colons, `?`/`*` (wildcards), `$` (switches to TeX matching),
    `_` (read as a space in author names), hyphens (the API has taken the word after a
    hyphen as NOT) and all other punctuation become spaces. Letters and digits stay,
    lowercased so that a title word AND/OR/NOT is never taken for an operator. An
    apostrophe or dot between two letters/digits and a comma between two digits stay,
    because the tokenizer keeps "don't", "2.5" and "1,000" as single tokens that the split
    halves would not match. Words with non-ASCII letters are dropped: arXiv's title field
    holds TeX (`Schr\\"odinger`) that no Unicode spelling matches, and the other words still
    find the paper. Only the first 12 words are kept: a prefix of the title still matches.
    """
    text = unicodedata.normalize("NFKC", title).translate(_APOSTROPHES).lower()
    words = [word for word in _WORD_RE.findall(text) if word.isascii()]
    return " ".join(words[:MAX_PHRASE_WORDS])


def search_query(phrases: Sequence[str]) -> str:
    """Join title phrases into one arXiv `search_query`: `ti:"a b" OR ti:"c d"`."""
    return " OR ".join(f'ti:"{phrase}"' for phrase in phrases)


class ArxivClient:
    """Talk to the arXiv API (Atom feeds) politely through a caller-owned httpx.Client."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        api_url: str,
        delay_seconds: float = 3.0,
        timeout_seconds: float = 30.0,
        max_retries: int = 4,
        backoff_cap_seconds: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_request: Callable[[str], None] | None = None,
    ) -> None:
        if delay_seconds < 0 or timeout_seconds <= 0 or max_retries < 0 or backoff_cap_seconds < 0:
            raise ValueError("arXiv client delays, timeout and retries must not be negative")
        self._client = client
        self._api_url = api_url
        self._delay = float(delay_seconds)
        self._timeout = float(timeout_seconds)
        self._max_retries = max_retries
        self._backoff_cap = float(backoff_cap_seconds)
        self._sleep = sleep
        self._clock = clock
        self._on_request = on_request
        self._lock = threading.Lock()
        self._last_end: float | None = None  # clock() when the previous response ended
        self._down: str | None = None  # why a query gave up after every retry, if one did

    @property
    def api_url(self) -> str:
        """Return the query endpoint this client talks to."""
        return self._api_url

    def fetch_ids(self, ids: Sequence[ArxivId], *, batch_size: int = 100) -> dict[str, AtomEntry]:
        """Fetch canonical metadata for IDs via `id_list`, keyed by bare ID; unknown IDs are absent.

        An ID without a version asks for the latest version; one with a version asks for that
        version. Each bare ID is requested once (the first form given wins).
        """
        if batch_size < 1 or batch_size > MAX_RESULTS_PER_CALL:
            raise ValueError(f"batch_size must be between 1 and {MAX_RESULTS_PER_CALL}")
        wanted: dict[str, ArxivId] = {}
        for arxiv_id in ids:
            wanted.setdefault(arxiv_id.id, arxiv_id)
        requested = list(wanted.values())
        found: dict[str, AtomEntry] = {}
        for start in range(0, len(requested), batch_size):
            batch = requested[start : start + batch_size]
            params = {
                "id_list": ",".join(str(arxiv_id) for arxiv_id in batch),
                "start": "0",
                # The default of 10 would silently drop the rest of a longer id_list.
                "max_results": str(len(batch)),
            }
            noun = "paper" if len(batch) == 1 else "papers"
            feed = self._query(params, f"arXiv metadata for {len(batch)} {noun}")
            for entry in feed.entries:
                asked = wanted.get(entry.arxiv_id.id)
                # Only what was asked for: a stray entry must never pass for another paper.
                if asked is None or asked.version not in (None, entry.arxiv_id.version):
                    continue
                found.setdefault(entry.arxiv_id.id, entry)
        return {key: found[key] for key in wanted if key in found}

    def search_titles(
        self, titles: Sequence[str], *, batch_size: int = 10, per_title: int = 5
    ) -> list[AtomEntry]:
        """Search arXiv titles, `batch_size` titles per request OR-ed together; return all hits.

        Each title becomes `ti:"<phrase>"` (see `title_phrase`); the hits of all batches come
        back in feed order without repeats. Candidates still have to be checked by the caller.
        """
        if batch_size < 1 or per_title < 1 or batch_size * per_title > MAX_RESULTS_PER_CALL:
            raise ValueError(
                f"batch_size and per_title must be positive, their product at most "
                f"{MAX_RESULTS_PER_CALL}"
            )
        phrases: list[str] = []
        for title in titles:
            phrase = title_phrase(title)
            if phrase and phrase not in phrases:
                phrases.append(phrase)
        results: dict[str, AtomEntry] = {}
        for start in range(0, len(phrases), batch_size):
            batch = phrases[start : start + batch_size]
            params = {
                "search_query": search_query(batch),
                "start": "0",
                "max_results": str(per_title * len(batch)),
            }
            noun = "title" if len(batch) == 1 else "titles"
            feed = self._query(params, f"arXiv title search for {len(batch)} {noun}")
            for entry in feed.entries:
                results.setdefault(entry.arxiv_id.id, entry)
        return list(results.values())

    def _query(self, params: dict[str, str], description: str) -> AtomFeed:
        """Send one API query with pacing and retries; return its feed or raise ArxivError."""
        try:
            parsed = httpx.URL(self._api_url, params=params)
        except httpx.InvalidURL as exc:
            raise ArxivError(self._api_url, f"invalid arXiv API URL: {exc}") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ArxivError(self._api_url, "invalid arXiv API URL: expected http(s)://host/path")
        get_url = str(parsed)
        use_post = len(get_url) > MAX_GET_URL_LENGTH
        url = self._api_url if use_post else get_url
        with self._lock:
            if self._down is not None:
                # It failed through every retry moments ago: asking again would cost the same.
                raise ArxivError(url, f"{self._down} (earlier in this run; not asked again)")
            try:
                return self._query_with_retries(url, use_post, params, description)
            except _GaveUp as exc:
                self._down = exc.error.message
                raise exc.error from None

    def _query_with_retries(
        self, url: str, use_post: bool, params: dict[str, str], description: str
    ) -> AtomFeed:
        """Ask until an answer, a definite error, or the retry budget runs out.

        Raises `_GaveUp` when arXiv (or what stands in front of it) keeps failing, and
        ArxivError for an answer that retrying would not change (4xx, an error feed).
        """
        failures = 0  # failed attempts so far, bounded by max_retries; sets the backoff
        slow = 0  # transport failures and foreign pages so far, bounded by MAX_SLOW_RETRIES
        attempt = 0
        while True:
            self._wait_turn()
            if self._on_request is not None:
                self._on_request(description if attempt == 0 else f"{description} (retry)")
            attempt += 1
            try:
                response = self._send(use_post, params)
            except httpx.UnsupportedProtocol as exc:
                raise ArxivError(url, f"cannot connect: {exc}") from None
            except (httpx.TransportError, httpx.DecodingError) as exc:
                reason = _transport_reason(exc, self._timeout)
                slow += 1  # nothing listening, or nothing answering: once more is enough
                if failures >= self._max_retries or slow > MAX_SLOW_RETRIES:
                    raise _GaveUp(ArxivError(url, self._gave_up(reason, attempt))) from None
                self._sleep(self._backoff(failures))
                failures += 1
                continue
            except httpx.HTTPError as exc:
                raise ArxivError(url, f"request failed: {exc}") from None

            status = response.status_code
            if status in _RETRY_STATUSES or status >= 500:
                reason = f"HTTP {status} {response.reason_phrase}".rstrip()
                if _is_html(response):
                    # A proxy's error page, not arXiv's throttling: one more try tells enough.
                    reason = f"{reason} ({_atom.html_description(response.content)})"
                    slow += 1
                if failures >= self._max_retries or slow > MAX_SLOW_RETRIES:
                    error = ArxivError(url, self._gave_up(reason, attempt), status)
                    raise _GaveUp(error)
                wait = self._backoff(failures)
                asked = retry_after(response.headers) if status in _RETRY_STATUSES else None
                if asked is not None:
                    if asked > self._backoff_cap:
                        raise _GaveUp(
                            ArxivError(
                                url,
                                f"arXiv asked to wait {asked:.0f} s before retrying, more "
                                f"than the {self._backoff_cap:.0f} s limit; try again later",
                                status,
                            )
                        )
                    # Honour Retry-After, but never come back sooner than the backoff.
                    wait = max(wait, asked)
                self._sleep(wait)
                failures += 1
                continue
            if status >= 400:
                raise ArxivError(url, _client_error_message(response, url), status)
            if status >= 300:
                location = response.headers.get("location", "")
                where = f" to {location}" if location else ""
                raise ArxivError(url, f"unexpected redirect{where}", status)

            try:
                root = _atom.parse_xml(response.content, url)
            except ArxivError as exc:
                # A mirror or proxy may cut a body short: ask once more (after the usual
                # pacing), then give up.
                slow += 1
                if slow > MAX_SLOW_RETRIES:
                    raise _GaveUp(exc) from None
                continue
            return _atom.feed_from_xml(root, url)

    def _send(self, use_post: bool, params: dict[str, str]) -> httpx.Response:
        """Make one HTTP request and note when it ended, however it ended.

        The whole answer must arrive within `timeout_seconds` (see `http.send_within`).
        """
        try:
            request = self._client.build_request(
                "POST" if use_post else "GET",
                self._api_url,
                params=None if use_post else params,
                data=params if use_post else None,
                timeout=self._timeout,
            )
            return send_within(
                self._client,
                request,
                self._timeout,
                clock=self._clock,
                max_bytes=MAX_RESPONSE_BYTES,
            )
        finally:
            self._last_end = self._clock()

    def _wait_turn(self) -> None:
        """Sleep until `delay_seconds` have passed since the previous response ended."""
        if self._last_end is None:
            return
        remaining = self._last_end + self._delay - self._clock()
        if remaining > 0:
            self._sleep(remaining)

    def _backoff(self, failures: int) -> float:
        """Return the wait before retry number `failures + 1`: doubling, capped, at least 3 s."""
        base = max(self._delay, MIN_BACKOFF_SECONDS)
        if self._delay < ARXIV_DELAY_SECONDS:
            # Only a mirror or test server may be paced faster than arXiv's 3 s (config.py
            # enforces it); its backoff starts lower, but never below arXiv's own pacing.
            base = BACKOFF_FLOOR_SECONDS
        wait = min(self._backoff_cap, base * 2.0 ** min(failures, 30))
        return max(wait, BACKOFF_FLOOR_SECONDS)

    def _gave_up(self, reason: str, attempts: int) -> str:
        """Describe a failure that persisted through every retry."""
        return f"{reason}; gave up after {attempts} attempts"


class _GaveUp(Exception):
    """A query failed through its retries; `error` says how (the client stops asking)."""

    def __init__(self, error: ArxivError) -> None:
        super().__init__(str(error))
        self.error = error


def _is_html(response: httpx.Response) -> bool:
    """Tell whether the body is an HTML page (what proxies and load balancers answer)."""
    content_type = response.headers.get("content-type", "").lower()
    return content_type.startswith(("text/html", "application/xhtml")) or (
        _atom.looks_like_html(response.content)
    )


def _transport_reason(exc: Exception, timeout: float) -> str:
    """Describe a failed exchange in words a user can act on."""
    if isinstance(exc, Stalled):
        return (
            f"no complete answer within {timeout:g} s (the server stalled after "
            f"{exc.received} bytes)"
            if exc.received
            else f"no complete answer within {timeout:g} s (the server stalled)"
        )
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {timeout:g} s ({type(exc).__name__})"
    detail = str(exc) or type(exc).__name__
    return f"connection failed: {detail}"


def _client_error_message(response: httpx.Response, url: str) -> str:
    """Return arXiv's own message for a 4xx (from its error feed), else the status line."""
    try:
        root = _atom.parse_xml(response.content, url)
    except ArxivError:
        root = None
    if root is not None:
        message = _atom.feed_error(root)
        if message:
            return message
    status_line = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
    text = " ".join(response.text.split()) if _is_short_text(response) else ""
    return f"{status_line}: {text}" if text else status_line


def _is_short_text(response: httpx.Response) -> bool:
    """Tell whether the body is a short plain-text message worth quoting."""
    content_type = response.headers.get("content-type", "")
    return content_type.startswith("text/plain") and 0 < len(response.content) <= 300
