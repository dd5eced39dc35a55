"""The HTTP layer under `ZoteroLibrary`: one session with its hooks, waits and retries.

Settings are checked before anything is sent; every request waits out `Backoff` and
`Retry-After`; status codes become `ZoteroError`, `_Transient` (retry) or `_Precondition`
(412); every message is scrubbed of the API key; write reports are parsed object by object.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import httpx

from readlist.config import ZoteroConfig
from readlist.http import retry_after as http_retry_after
from readlist.zotero.base import (
    _NOT_FOUND_MESSAGE,
    AUTH_MESSAGE,
    BACKOFF_BASE_SECONDS,
    DEFAULT_TIMEOUT,
    MAX_ATTEMPTS,
    MAX_WAIT_SECONDS,
    T,
    ZoteroError,
    _Precondition,
    _Transient,
)

if TYPE_CHECKING:
    from readlist.zotero.collections import _Collection
    from readlist.zotero.index import _Index


@dataclass
class _Outcome:
    status: str  # "ok", "unchanged" or "failed"
    key: str | None = None
    data: dict[str, Any] | None = None
    code: int | None = None
    message: str = ""


def _check_settings(config: ZoteroConfig) -> None:
    url = _scrub(config.api_url.strip() or "https://api.zotero.org", config.api_key.strip())
    if not config.library_id.strip():
        raise ZoteroError(
            url,
            "no Zotero library configured: set [zotero] library_id (your numeric user ID "
            "from zotero.org/settings/keys, or a group ID)",
        )
    if not config.library_id.strip().isdigit():
        raise ZoteroError(
            url,
            f"[zotero] library_id must be the numeric user or group ID, got "
            f"{config.library_id.strip()!r}",
        )
    if not config.api_key.strip():
        raise ZoteroError(
            url,
            "no Zotero API key: set the ZOTERO_API_KEY environment variable (preferred) or "
            "[zotero] api_key",
        )
    if config.library_type not in ("user", "group"):
        raise ZoteroError(
            url, f"[zotero] library_type must be user or group, got {config.library_type!r}"
        )
    if urlsplit(config.api_url.strip()).scheme not in ("http", "https"):
        raise ZoteroError(url, "[zotero] api_url must be an http(s) URL")


def check_settings(config: ZoteroConfig) -> None:
    """Raise `ConfigError` when the Zotero settings cannot work, before any request."""
    from readlist.errors import ConfigError

    try:
        _check_settings(config)
    except ZoteroError as exc:
        raise ConfigError(None, None, exc.message) from None


def _ignore_backoff(duration: object) -> None:
    """Stand in for pyzotero's timer-thread backoff; our response hook reads the headers."""


def _no_wait() -> None:
    """Stand in for pyzotero's time.sleep backoff; our request hook does the waiting."""


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def _scrub(text: str, secret: str) -> str:
    """Remove an API key, and anything that looks like one, from text bound for users."""
    if secret:
        text = text.replace(secret, "<redacted>")
    text = re.sub(r"(?i)\b(key=)[^&\s\"'<>]+", r"\1<redacted>", text)
    text = re.sub(r"(?i)\b(bearer\s+)[^\s\"'<>]+", r"\1<redacted>", text)
    text = re.sub(r"(?i)\b(zotero-api-key:\s*)[^\s\"'<>]+", r"\1<redacted>", text)
    return re.sub(r"(?i)(https?://)[^/@\s]+@", r"\1", text)


def _snippet(response: httpx.Response, secret: str, limit: int = 200) -> str:
    try:
        text = " ".join(response.text.split())
    except (UnicodeDecodeError, LookupError):
        return ""
    return _scrub(text[:limit], secret)


def _seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _header_int(response: httpx.Response | None, name: str) -> int | None:
    if response is None:
        return None
    value = response.headers.get(name, "").strip()
    return int(value) if value.isdigit() else None


def _parse_write_report(response: httpx.Response, count: int) -> dict[int, _Outcome]:
    """Read a multi-object write report; anything but a well-formed one is a failure."""
    try:
        body = response.json()
    except ValueError:
        raise _Transient("the write report was not JSON", uncertain=True) from None
    sections = ("successful", "success", "unchanged", "failed")
    if not isinstance(body, dict) or not any(name in body for name in sections):
        raise _Transient("the write report was malformed", uncertain=True)
    outcomes: dict[int, _Outcome] = {}
    for name in ("unchanged", "success", "successful", "failed"):  # later ones win
        section = body.get(name) or {}
        if not isinstance(section, dict):
            raise _Transient(f"the write report's {name!r} was malformed", uncertain=True)
        for position, value in section.items():
            if not str(position).isdigit() or int(position) >= count:
                continue
            index = int(position)
            if name == "failed":
                value = value if isinstance(value, dict) else {}
                code = value.get("code")
                outcomes[index] = _Outcome(
                    "failed",
                    key=value.get("key") if isinstance(value.get("key"), str) else None,
                    code=code if isinstance(code, int) else None,
                    message=str(value.get("message") or "refused"),
                )
            elif name == "successful" and isinstance(value, dict):
                data: dict[str, Any] = value.get("data") or value
                if not isinstance(data, dict):
                    data = value
                key = value.get("key") or data.get("key")
                outcomes[index] = _Outcome(
                    "ok", key=key if isinstance(key, str) else None, data=dict(data)
                )
            elif name in ("successful", "success"):
                if index not in outcomes or outcomes[index].status != "ok":
                    key = value if isinstance(value, str) else None
                    outcomes[index] = _Outcome("ok", key=key)
            else:
                outcomes[index] = _Outcome(
                    "unchanged", key=value if isinstance(value, str) else None
                )
    return outcomes


def _as_int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class _Session:
    """The HTTP session: settings, request hooks, waits, retries and error translation."""

    def __init__(
        self,
        config: ZoteroConfig,
        cache_dir: Path,
        *,
        sleep: Callable[[float], None] = time.sleep,
        on_request: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_attempts: int = MAX_ATTEMPTS,
        max_wait: float = MAX_WAIT_SECONDS,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._secret = config.api_key.strip()
        _check_settings(config)
        from pyzotero import zotero as pyzotero

        self.config = config
        self.cache_dir = Path(cache_dir)
        self.requests = 0
        self.created_collections: list[str] = []
        self._sleep = sleep
        self._timeout = timeout
        self._transport = transport
        self._on_request = on_request
        self._clock = clock
        self._now = now or partial(datetime.now, UTC)
        self._max_attempts = max(1, max_attempts)
        self._max_wait = max_wait
        self._wait_until = 0.0
        self._collections: list[_Collection] | None = None
        self._seen_version: int | None = None  # library version named by the last list read
        # The library version our collection listing (plus our own creations) is current at.
        self._collections_version: int | None = None
        self.warnings: list[str] = []  # said once each: duplicate collections, and the like
        self._index: _Index | None = None
        self._status_tags: tuple[str, str] | None = None  # (read, unread) during a sync
        self._equivalent: frozenset[str] = frozenset()  # the duplicates of the sync's path

        zot = pyzotero.Zotero(config.library_id.strip(), config.library_type, self._secret)
        zot.endpoint = config.api_url.strip().rstrip("/")
        # Our own session (same default headers) so that every request, pyzotero's included,
        # passes the hooks that count it and wait out Backoff; pyzotero's own client goes.
        zot.client.close()
        zot.client = httpx.Client(
            headers=zot.default_headers(),
            follow_redirects=True,
            timeout=timeout,
            transport=transport,
            # A loopback endpoint (tests, a local mirror) must not go through HTTP_PROXY.
            trust_env=not _is_loopback(zot.endpoint),
            event_hooks={"request": [self._before_request], "response": [self._after_response]},
        )
        # pyzotero's backoff spawns a non-daemon threading.Timer per Backoff header (which
        # keeps the process alive until it fires) and sleeps with time.sleep: disable it.
        zot._set_backoff = _ignore_backoff
        zot._check_backoff = _no_wait
        self._zot = zot
        self._prefix = f"/{zot.library_type}/{zot.library_id}"

    def __repr__(self) -> str:
        return (
            f"ZoteroLibrary({self.config.library_type} {self.config.library_id} "
            f"at {_scrub(self.config.api_url, self._secret)})"
        )

    def close(self) -> None:
        """Close the HTTP session."""
        self._zot.client.close()

    def _url(self, path: str) -> str:
        return _scrub(f"{self._zot.endpoint}{self._prefix}{path}", self._secret)

    def _error(self, url: str, message: str, status: int | None = None) -> ZoteroError:
        return ZoteroError(_scrub(url, self._secret), _scrub(message, self._secret), status)

    def _before_request(self, request: httpx.Request) -> None:
        remaining = self._wait_until - self._clock()
        if remaining > self._max_wait:
            raise self._error(
                str(request.url.copy_with(query=None)),
                f"Zotero asked clients to wait {remaining:.0f} s, more than the "
                f"{self._max_wait:.0f} s limit; try again later",
            )
        if remaining > 0:
            self._sleep(remaining)
        self._wait_until = 0.0
        self.requests += 1
        if self._on_request is not None:
            target = request.url.raw_path.decode("ascii", "replace")
            self._on_request(_scrub(f"{request.method} {target}", self._secret))

    def _after_response(self, response: httpx.Response) -> None:
        # "Backoff" may come on any response, even a 200: the next request waits it out.
        seconds = _seconds(response.headers.get("Backoff"))
        if seconds:
            self._defer(seconds)

    def _defer(self, seconds: float) -> None:
        self._wait_until = max(self._wait_until, self._clock() + seconds)

    def _retrying(self, url: str, attempt: Callable[[], T]) -> T:
        """Run one request until it succeeds, retrying transient failures with backoff."""
        failures = 0
        while True:
            try:
                return attempt()
            except _Transient as problem:
                failures += 1
                if failures >= self._max_attempts:
                    raise self._error(
                        url, f"{problem.reason}; gave up after {failures} attempts", problem.status
                    ) from None
                wait = BACKOFF_BASE_SECONDS * 2 ** (failures - 1)
                if problem.retry_after is not None:
                    wait = max(wait, problem.retry_after)
                if wait > self._max_wait:
                    raise self._error(
                        url,
                        f"{problem.reason}; Zotero asked to wait {wait:.0f} s, more than the "
                        f"{self._max_wait:.0f} s limit; try again later",
                        problem.status,
                    ) from None
                self._defer(wait)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        form: Mapping[str, str] | None = None,
        expect_json: bool = False,
    ) -> httpx.Response:
        """Send one request through pyzotero's session, turning failures into our classes."""
        url = f"{self._zot.endpoint}{self._prefix}{path}"
        extra = dict(headers or {})
        content = None
        if body is not None:
            extra["Content-Type"] = "application/json"
            content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        elif form is not None:
            extra["Content-Type"] = "application/x-www-form-urlencoded"
            content = urlencode(form).encode("ascii")
        try:
            response = self._zot.client.request(
                method, url, params=params, headers=extra, content=content
            )
        except httpx.TimeoutException as exc:
            raise _Transient(
                "the request timed out", uncertain=not isinstance(exc, httpx.ConnectTimeout)
            ) from None
        except httpx.TransportError as exc:
            raise _Transient(
                f"could not reach the Zotero API ({type(exc).__name__})",
                uncertain=not isinstance(exc, httpx.ConnectError),
            ) from None
        self._check_status(response)
        if expect_json and response.status_code != 304:
            try:
                response.json()
            except ValueError:
                raise _Transient("the answer was not JSON") from None
        return response

    def _check_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status < 300 or status == 304:
            return
        url = _scrub(str(response.request.url.copy_with(query=None)), self._secret)
        retry_after = http_retry_after(response.headers)
        if status in (401, 403):
            raise self._error(url, AUTH_MESSAGE, status)
        if status == 412 and response.request.method != "GET":
            raise _Precondition(_snippet(response, self._secret) or "precondition failed")
        if status == 409:
            raise _Transient("the library is locked (HTTP 409)", 409, retry_after=retry_after)
        if status == 429:
            raise _Transient("rate limited (HTTP 429)", 429, retry_after=retry_after)
        if status >= 500:
            # 503 means "not now" before anything happened; other 5xx may hide a done write.
            raise _Transient(
                f"server error (HTTP {status})",
                status,
                retry_after=retry_after,
                uncertain=status != 503,
            )
        if status == 404:
            raise self._error(url, _NOT_FOUND_MESSAGE, 404)
        if status == 413:
            quota = response.headers.get("Zotero-Storage-Quota", "").strip()
            detail = _snippet(response, self._secret) or "request too large"
            if quota:
                detail += f"; the library's storage quota is {quota} MB"
            raise self._error(url, f"Zotero file storage is full: {detail}", 413)
        detail = _snippet(response, self._secret) or response.reason_phrase
        raise self._error(url, detail, status)

    def _read(
        self, url: str, call: Callable[[], Any], *, expect: type = list
    ) -> tuple[Any, httpx.Response]:
        """Run one pyzotero read, checking the status it may have swallowed; retry failures."""
        from pyzotero import zotero_errors as ze

        zot = self._zot
        # What pyzotero lets escape on a bad answer: its own errors, httpx's, and whatever
        # its parsing trips over (JSONDecodeError, a missing Content-Type's KeyError...).
        failures = (ze.PyZoteroError, httpx.HTTPError, ValueError, KeyError, TypeError)

        def attempt() -> tuple[Any, httpx.Response]:
            zot.request = None
            try:
                data = call()
            except failures as exc:
                raise self._translate(exc, zot.request) from None
            response = zot.request
            if not isinstance(response, httpx.Response):
                raise _Transient("no answer")
            # pyzotero returns the body of a 429 as data: the status decides, not the data.
            self._check_status(response)
            if not isinstance(data, expect):
                raise _Transient(f"malformed answer (expected a JSON {expect.__name__})")
            return data, response

        return self._retrying(_scrub(url, self._secret), attempt)

    def _read_all(
        self, path: str, fetch: Callable[[int], Any]
    ) -> tuple[list[dict[str, Any]], httpx.Response]:
        """Read every page of a listing (`limit=100`, following `Link: rel=next`)."""
        url = f"{self._zot.endpoint}{path}"
        objects: list[dict[str, Any]] = []
        first: httpx.Response | None = None
        start = 0
        while True:
            page, response = self._read(url, partial(fetch, start))
            first = first or response
            objects += [obj for obj in page if isinstance(obj, dict)]
            start += len(page)
            total = _header_int(response, "Total-Results")
            more = "next" in response.links or (total is not None and start < total)
            if not page or not more:
                return objects, first

    def _translate(self, exc: Exception, response: object) -> Exception:
        """Turn what a pyzotero call raised into ZoteroError, _Transient or _Precondition."""
        from pyzotero import zotero_errors as ze

        if isinstance(exc, httpx.TimeoutException):
            return _Transient("the request timed out")
        if isinstance(exc, httpx.TransportError):
            return _Transient(f"could not reach the Zotero API ({type(exc).__name__})")
        if isinstance(response, httpx.Response) and response.status_code >= 300:
            try:
                self._check_status(response)
            except (ZoteroError, _Transient, _Precondition) as problem:
                return problem
        url = self._url("")
        if isinstance(exc, ze.UserNotAuthorisedError):
            return self._error(url, AUTH_MESSAGE, 403)
        if isinstance(exc, ze.PreConditionFailedError):
            return _Precondition("the library changed")
        if isinstance(exc, ze.ConflictError):
            return _Transient("the library is locked (HTTP 409)", 409)
        if isinstance(exc, (ze.TooManyRetriesError, ze.TooManyRequestsError)):
            return _Transient("rate limited (HTTP 429)", 429)
        if isinstance(exc, ze.ResourceNotFoundError):
            return self._error(url, _NOT_FOUND_MESSAGE, 404)
        if isinstance(exc, ze.PyZoteroError):
            return self._error(url, f"{type(exc).__name__}: {exc}")
        return _Transient(f"malformed answer ({type(exc).__name__})")
