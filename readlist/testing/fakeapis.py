"""Loopback fakes of the arXiv API and the Hugging Face papers API for end-to-end tests.

Test-only (used by tests/ and bench/run.py): production code never imports this module.

Each fake is a real HTTP server on 127.0.0.1 (a free port) that speaks the real protocol, so
the CLI under test is pointed at it by URL, exactly as a user would point it at a mirror:

    with FakeArxiv(papers, min_interval=0.1) as arxiv, FakeHf(papers) as hf:
        env = {"READLIST_ARXIV_API_URL": arxiv.url, "READLIST_HF_API_URL": hf.url}

The bodies follow the recorded responses in shared/fixtures/ (the 2026 arXiv Atom format and
the HF JSON) and the facts in shared/protocols.md sections 1 and 2, including the unkind
parts: arXiv's default `max_results=10` truncation, silently dropped unknown IDs, shuffled
entry order, HTTP 400 error feeds, and a 429 "Rate exceeded" for any request that comes
sooner than `min_interval` after the previous one ended or overlaps another; Hugging Face's
fixed-window quota with `RateLimit` headers and no `Retry-After`. `inject` queues faults
(statuses, delays, hostile bodies, dropped connections) for the next requests.

`sample_papers` builds a paper database from the shared listings, with traps (twins with the
same title, look-alike titles, papers only on arXiv or on neither, older abstracts on HF) and
the truth a resolver must reproduce.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import math
import random
import re
import select
import socket
import sys
import textwrap
import threading
import time
import unicodedata
import urllib.parse
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Literal, Self
from xml.sax.saxutils import escape

from readlist.listing import dedupe, read_sources
from readlist.models import Listing
from readlist.normalize import normalize_title

ATOM_NS = "http://www.w3.org/2005/Atom"
OPENSEARCH_NS = "http://a9.com/-/spec/opensearch/1.1/"
ARXIV_NS = "http://arxiv.org/schemas/atom"

# Hostile or broken bodies for `Fault.body`.
MALFORMED_XML = (
    b"<?xml version='1.0' encoding='UTF-8'?>\n"
    b'<feed xmlns="http://www.w3.org/2005/Atom">\n  <entry>\n'
    b"    <id>http://arxiv.org/abs/2401.00001v1</id>\n    <title>Cut off in the mid"
)
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2401.00001v1</id>
<title>&lol9;</title></entry></feed>
"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE feed [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2401.00001v1</id>
<title>&xxe;</title><summary>&xxe;</summary></entry></feed>
"""
HTML_ERROR_PAGE = b"""<!DOCTYPE html>
<html><head><title>503 Service Temporarily Unavailable</title></head>
<body><center><h1>503 Service Temporarily Unavailable</h1></center>
<hr><center>nginx</center></body></html>
"""

_TOKEN_RE = re.compile(r"[\W_]+")


def tokens(text: str) -> list[str]:
    """Split text into search tokens: accents folded, lowercase, punctuation as spaces."""
    return list(_tokens(text))


@functools.lru_cache(maxsize=1 << 16)
def _tokens(text: str) -> tuple[str, ...]:
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return tuple(_TOKEN_RE.sub(" ", folded).split())


@functools.lru_cache(maxsize=1 << 16)
def _token_set(text: str) -> frozenset[str]:
    return frozenset(_tokens(text))


def _contains(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    """Tell whether `needle` occurs as a contiguous run in `haystack`."""
    if not needle:
        return False
    size = len(needle)
    first = needle[0]
    return any(
        haystack[i] == first and haystack[i : i + size] == needle
        for i in range(len(haystack) - size + 1)
    )


def _hex_id(*parts: str, length: int = 24) -> str:
    """Return a stable hex identifier (like a MongoDB _id) derived from `parts`."""
    return hashlib.sha1("\x00".join(parts).encode()).hexdigest()[:length]


def _parse_time(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# The papers


@dataclass
class FakePaper:
    """One paper as arXiv knows it, and how Hugging Face shows it."""

    arxiv_id: str  # bare: 2404.04487 or hep-th/9901001
    title: str
    abstract: str
    authors: list[str]
    published: str  # v1, e.g. 2024-04-06T03:40:36Z
    updated: str  # the current version
    version: int = 1
    primary_category: str = "cs.CV"
    categories: list[str] = field(default_factory=list)  # all, primary first; [] = primary only
    doi: str | None = None
    journal_ref: str | None = None
    comment: str | None = None
    in_hf: bool = True
    in_arxiv: bool = True
    hf_title: str | None = None  # what HF shows, when it differs (e.g. hard line breaks)
    hf_abstract: str | None = None  # e.g. an older version's abstract

    @property
    def all_categories(self) -> list[str]:
        """The categories with the primary first, as arXiv lists them."""
        rest = [c for c in self.categories if c != self.primary_category]
        return [self.primary_category, *rest]

    def updated_at(self, version: int) -> str:
        """Return the date of `version`: v1 is `published`, the current one `updated`."""
        if version <= 1:
            return self.published
        if version >= self.version:
            return self.updated
        start, end = _parse_time(self.published), _parse_time(self.updated)
        return _format_time(start + (end - start) * (version - 1) / (self.version - 1))


@dataclass(frozen=True)
class RecordedRequest:
    """One request as a fake server received it."""

    time: float  # time.monotonic() when the request arrived
    method: str
    path: str  # without the query string
    params: dict[str, str]  # query string and form body, decoded (first value of each)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Fault:
    """A misbehaviour queued with `inject`, used up by the next matching request."""

    kind: Literal["status", "timeout", "body", "drop", "trickle"]
    code: int = 200
    payload: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    path: str | None = None  # only requests whose path starts with this

    @classmethod
    def status(
        cls,
        code: int,
        body: str | bytes = "",
        headers: Mapping[str, str] | None = None,
        *,
        content_type: str = "text/plain; charset=utf-8",
        path: str | None = None,
    ) -> Fault:
        """Answer with HTTP `code`, e.g. `Fault.status(503, headers={"Retry-After": "2"})`."""
        payload = body.encode() if isinstance(body, str) else body
        return cls("status", code, payload, content_type, dict(headers or {}), path=path)

    @classmethod
    def timeout(cls, seconds: float, *, path: str | None = None) -> Fault:
        """Wait `seconds` before answering normally (a client that hangs up ends the wait)."""
        return cls("timeout", delay=seconds, path=path)

    @classmethod
    def body(
        cls,
        data: bytes,
        content_type: str = "application/atom+xml; charset=utf-8",
        *,
        code: int = 200,
        path: str | None = None,
    ) -> Fault:
        """Answer `code` with these exact bytes: malformed or hostile XML, HTML, nothing."""
        return cls("body", code, data, content_type, path=path)

    @classmethod
    def trickle(
        cls,
        seconds: float,
        *,
        every: float = 0.1,
        content_type: str = "application/atom+xml; charset=utf-8",
        path: str | None = None,
    ) -> Fault:
        """Send the headers at once, then one byte of a feed every `every` s for `seconds` s."""
        return cls(
            "trickle", payload=b" " * max(1, int(seconds / every)), content_type=content_type,
            delay=every, path=path,
        )  # fmt: skip

    @classmethod
    def drop(cls, *, path: str | None = None) -> Fault:
        """Close the connection without sending any response."""
        return cls("drop", path=path)

    def matches(self, path: str) -> bool:
        return self.path is None or path.startswith(self.path)


@dataclass
class _Response:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real clients use it
    timeout = 30
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.connections_opened(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.connection_closed(self.connection)

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        self.server.fake._serve(self)

    def do_POST(self) -> None:  # noqa: N802
        self.server.fake._serve(self)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # keep test output clean


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: _FakeServer) -> None:
        self.fake = fake
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def connections_opened(self, sock: socket.socket) -> None:
        with self._open_lock:
            self._open.add(sock)

    def connection_closed(self, sock: socket.socket) -> None:
        with self._open_lock:
            self._open.discard(sock)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client hangs up; report anything else."""
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError | TimeoutError):
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Hang up every open connection, so idle keep-alive threads end."""
        with self._open_lock:
            open_now = list(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _FakeServer:
    """A loopback HTTP server in a daemon thread; subclasses answer the requests."""

    root = ""  # the path prefix that `url` names

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle

    def start(self) -> Self:
        """Start serving on 127.0.0.1 at a free port."""
        if self._server is not None:
            raise RuntimeError("already started")
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and hang up open connections."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The URL to configure the client with."""
        return self.base_url + self.root

    # Faults

    def inject(self, *faults: Fault) -> None:
        """Queue faults; each is used by the next request whose path it matches."""
        with self._lock:
            self._faults.extend(faults)

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.matches(path):
                self._faults.remove(fault)
                return fault
        return None

    # Serving

    def _admit(self, started: float) -> tuple[_Response | None, dict[str, str]]:
        """Decide (under the lock) whether to refuse; return a refusal and extra headers."""
        return None, {}

    def _ended(self, when: float) -> None:
        """Note (under the lock) that a request ended."""

    def _answer(self, request: RecordedRequest, target: str) -> _Response:
        raise NotImplementedError

    def _serve(self, handler: _Handler) -> None:
        started = time.monotonic()
        split = urllib.parse.urlsplit(handler.path)
        params = {k: v[0] for k, v in urllib.parse.parse_qs(split.query, True).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        raw_body = handler.rfile.read(length) if length else b""
        content_type = handler.headers.get("Content-Type", "")
        if raw_body and content_type.startswith("application/x-www-form-urlencoded"):
            form = urllib.parse.parse_qs(raw_body.decode("utf-8", "replace"), True)
            for key, values in form.items():
                params.setdefault(key, values[0])
        request = RecordedRequest(
            time=started,
            method=handler.command,
            path=urllib.parse.unquote(split.path),
            params=params,
            headers=dict(handler.headers.items()),
        )
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            refusal, extra = self._admit(started)
            fault = None if refusal is not None else self._take_fault(request.path)
        ended = False
        try:
            response = refusal
            if response is None and fault is not None:
                if fault.kind == "drop":
                    handler.close_connection = True
                    return
                if fault.kind == "timeout":
                    if not self._wait(handler.connection, fault.delay):
                        handler.close_connection = True
                        return  # the client hung up while we stalled
                elif fault.kind == "trickle":
                    handler.close_connection = True
                    self._trickle(handler, fault)
                    return
                else:
                    response = _Response(
                        fault.code, fault.payload, fault.content_type, dict(fault.headers)
                    )
            if response is None:
                try:
                    response = self._answer(request, handler.path)
                except Exception as error:  # a bug in the fake must not look like a hang
                    response = _Response(500, repr(error).encode(), "text/plain; charset=utf-8")
            headers = {**extra, **response.headers}
            # The request counts as ended before the client can see the answer, so a client
            # that waits `min_interval` after reading it is never early.
            with self._lock:
                self._ended(time.monotonic())
                ended = True
            self._send(handler, response, headers)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True
        finally:
            with self._lock:
                self.in_flight -= 1
                if not ended:  # dropped, or the client hung up
                    self._ended(time.monotonic())

    def _trickle(self, handler: _Handler, fault: Fault) -> None:
        """Answer 200 with a body that arrives one byte per `fault.delay` seconds."""
        handler.send_response(200)
        handler.send_header("Content-Type", fault.content_type)
        handler.send_header("Content-Length", str(len(fault.payload)))
        handler.end_headers()
        handler.wfile.flush()
        for index in range(len(fault.payload)):
            if not self._wait(handler.connection, fault.delay):
                return  # the client gave up on us
            handler.wfile.write(fault.payload[index : index + 1])
            handler.wfile.flush()

    def _wait(self, sock: socket.socket, seconds: float) -> bool:
        """Stall for `seconds`; return False early if the client hangs up or the server stops."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            if self._stopping.is_set():
                return False
            readable, _, _ = select.select([sock], [], [], min(remaining, 0.02))
            if readable:
                try:
                    if not sock.recv(1, socket.MSG_PEEK):
                        return False
                except OSError:
                    return False
                # Pipelined data: keep stalling without spinning on the readable socket.
                time.sleep(min(max(remaining, 0), 0.02))
        return True

    @staticmethod
    def _send(handler: _Handler, response: _Response, headers: Mapping[str, str]) -> None:
        handler.send_response(response.status)
        handler.send_header("Content-Type", response.content_type)
        handler.send_header("Content-Length", str(len(response.body)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(response.body)
        handler.wfile.flush()


# arXiv


_NEW_ID_RE = re.compile(r"(?P<id>\d{2}(?P<mm>\d{2})\.\d{4,5})(?:v(?P<v>\d+))?")
_OLD_ID_RE = re.compile(r"(?P<id>[a-z]+(?:-[a-z]+)?)(?:\.[A-Z]{2})?/(?P<num>\d{7})(?:v(?P<v>\d+))?")
_QUERY_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<open>\()
      | (?P<close>\))
      | (?P<field>[a-z]+):(?:"(?P<fphrase>[^"]*)"|(?P<fword>[^\s()"]+))
      | "(?P<phrase>[^"]*)"
      | (?P<word>[^\s()"]+)
    )""",
    re.VERBOSE,
)
_OPERATORS = ("AND", "OR", "ANDNOT")
_SORT_BY = ("relevance", "lastUpdatedDate", "submittedDate")
_SORT_ORDER = ("ascending", "descending")
_MAX_PAGE = 2000  # the most entries one call returns
_MAX_RESULTS = 30000  # beyond this the API refuses the query


class QuerySyntaxError(ValueError):
    """A `search_query` the fake cannot parse."""


@dataclass(frozen=True)
class Term:
    """One `field:word` or `field:"a phrase"` in a search query."""

    field: str
    text: str
    phrase: bool

    def render(self) -> str:
        return f'{self.field}:"{self.text}"' if self.phrase else f"{self.field}:{self.text}"


@dataclass(frozen=True)
class BoolOp:
    """`left AND right`, `left OR right` or `left ANDNOT right`."""

    op: str
    left: Query
    right: Query

    def render(self) -> str:
        return f"{self.left.render()} {self.op} {self.right.render()}"


@dataclass(frozen=True)
class Group:
    """A parenthesized query."""

    inner: Query

    def render(self) -> str:
        return f"({self.inner.render()})"


Query = Term | BoolOp | Group


def parse_query(text: str) -> Query:
    """Parse arXiv `search_query` syntax: fields, quotes, AND/OR/ANDNOT, parentheses."""
    items: list[tuple[str, str | Term]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _QUERY_TOKEN_RE.match(text, pos)
        if match is None or match.end() == pos:
            raise QuerySyntaxError(f"cannot parse search_query at {text[pos:]!r}")
        pos = match.end()
        if match.group("open"):
            items.append(("(", "("))
        elif match.group("close"):
            items.append((")", ")"))
        elif match.group("field") is not None:
            name = match.group("field")
            phrase = match.group("fphrase")
            value = phrase if phrase is not None else match.group("fword")
            items.append(("term", Term(name, value, phrase is not None)))
        elif match.group("phrase") is not None:
            items.append(("term", Term("all", match.group("phrase"), True)))
        else:
            word = match.group("word")
            if word in _OPERATORS:
                items.append(("op", word))
            else:
                items.append(("term", Term("all", word, False)))
    parser = _QueryParser(items)
    query = parser.parse_or()
    if parser.pos != len(items):
        raise QuerySyntaxError(f"unexpected {items[parser.pos][1]!r} in search_query")
    return query


class _QueryParser:
    """Recursive descent: OR binds loosest; AND, ANDNOT and juxtaposition bind tighter."""

    def __init__(self, items: list[tuple[str, str | Term]]) -> None:
        self.items = items
        self.pos = 0

    def _peek(self) -> tuple[str, str | Term] | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def parse_or(self) -> Query:
        left = self.parse_and()
        while (item := self._peek()) is not None and item == ("op", "OR"):
            self.pos += 1
            left = BoolOp("OR", left, self.parse_and())
        return left

    def parse_and(self) -> Query:
        left = self.parse_unary()
        while (item := self._peek()) is not None:
            if item in (("op", "AND"), ("op", "ANDNOT")):
                self.pos += 1
                left = BoolOp(str(item[1]), left, self.parse_unary())
            elif item[0] in ("term", "("):  # terms side by side must both match
                left = BoolOp("AND", left, self.parse_unary())
            else:
                break
        return left

    def parse_unary(self) -> Query:
        item = self._peek()
        if item is None:
            raise QuerySyntaxError("search_query ends too early")
        self.pos += 1
        if item[0] == "(":
            inner = self.parse_or()
            if self._peek() != (")", ")"):
                raise QuerySyntaxError("unbalanced parentheses in search_query")
            self.pos += 1
            return Group(inner)
        if item[0] == "term" and isinstance(item[1], Term):
            return item[1]
        raise QuerySyntaxError(f"unexpected {item[1]!r} in search_query")


def _field_texts(paper: FakePaper, name: str) -> list[str]:
    """Return the texts a query field searches in, each matched on its own."""
    if name == "ti":
        return [paper.title]
    if name == "abs":
        return [paper.abstract]
    if name == "au":
        return list(paper.authors)
    if name == "co":
        return [paper.comment or ""]
    if name == "jr":
        return [paper.journal_ref or ""]
    if name == "cat":
        return paper.all_categories
    if name == "id":
        return [paper.arxiv_id]
    if name == "all":
        return [
            text
            for part in ("ti", "au", "abs", "co", "jr", "cat", "id")
            for text in _field_texts(paper, part)
        ]
    return []  # rn: and unknown fields match nothing


def evaluate(query: Query, paper: FakePaper) -> int:
    """Return how well `paper` matches `query`: 0 for no match, else a relevance score."""
    if isinstance(query, Group):
        return evaluate(query.inner, paper)
    if isinstance(query, BoolOp):
        left = evaluate(query.left, paper)
        if query.op == "OR":
            return left + evaluate(query.right, paper)
        if not left:
            return 0
        right = evaluate(query.right, paper)
        if query.op == "ANDNOT":
            return 0 if right else left
        return left + right if right else 0
    needle = _tokens(query.text)
    if any(_contains(_tokens(text), needle) for text in _field_texts(paper, query.field)):
        return 3 if query.field == "ti" else 1
    return 0


@functools.lru_cache(maxsize=1 << 12)
def _wrap(text: str, width: int, joiner: str) -> str:
    """Hard-wrap at spaces only, as arXiv stores titles and abstracts."""
    lines = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)
    return joiner.join(lines)


def fake_pdf(arxiv_id: str, title: str) -> bytes:
    """A small, well-formed one-page PDF naming the paper (what arxiv.org/pdf/<id> serves)."""
    text = f"arXiv:{arxiv_id} {title}".encode("latin-1", "replace")
    text = text.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    stream = b"BT /F1 10 Tf 20 400 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += str(number).encode() + b" 0 obj\n" + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 " + str(len(objects) + 1).encode() + b"\n0000000000 65535 f \n"
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size " + str(len(objects) + 1).encode() + b" /Root 1 0 R >>\n"
    return out + b"startxref\n" + str(xref).encode() + b"\n%%EOF\n"


class FakeArxiv(_FakeServer):
    """The arXiv API (`/api/query`), Atom as the 2026 server writes it, with its rate rule."""

    root = "/api/query"
    max_url_length = 8000  # GET URLs beyond this get 414, as ~640 IDs did for arxiv.py

    def __init__(
        self,
        papers: Iterable[FakePaper],
        *,
        min_interval: float = 3.0,
        seed: int = 0,
        wrap: bool = True,
    ) -> None:
        super().__init__()
        self.papers: dict[str, FakePaper] = {p.arxiv_id: p for p in papers if p.in_arxiv}
        self.min_interval = min_interval
        self.seed = seed
        self.wrap = wrap
        self.violations = 0
        self._last_end: float | None = None

    def add(self, paper: FakePaper) -> None:
        """Add (or replace) a paper while serving."""
        with self._lock:
            if paper.in_arxiv:
                self.papers[paper.arxiv_id] = paper
            else:
                self.papers.pop(paper.arxiv_id, None)

    def _admit(self, started: float) -> tuple[_Response | None, dict[str, str]]:
        overlapping = self.in_flight > 1
        too_soon = self._last_end is not None and started - self._last_end < self.min_interval
        if overlapping or too_soon:
            self.violations += 1
            return _Response(429, b"Rate exceeded", "text/plain; charset=utf-8"), {}
        return None, {}

    def _ended(self, when: float) -> None:
        self._last_end = max(self._last_end or 0.0, when)

    def pdf_url(self) -> str:
        """Where this server serves PDFs (`<pdf_url>/<id>`, as arxiv.org/pdf does)."""
        return self.base_url + "/pdf"

    def _pdf(self, raw: str) -> _Response:
        parsed = _parse_id(raw)
        with self._lock:
            paper = self.papers.get(parsed[0]) if parsed else None
        if paper is None:
            return _Response(404, b"Not Found", "text/html; charset=utf-8")
        return _Response(200, fake_pdf(paper.arxiv_id, paper.title), "application/pdf")

    # Requests

    def _answer(self, request: RecordedRequest, target: str) -> _Response:
        if request.path.startswith("/pdf/") and request.method == "GET":
            return self._pdf(request.path.removeprefix("/pdf/"))
        if request.path != self.root:
            return _Response(404, b"Not Found", "text/plain; charset=utf-8")
        if request.method == "GET" and len(target) > self.max_url_length:
            return _Response(414, b"Request-URI Too Long", "text/plain; charset=utf-8")
        params = request.params
        numbers: dict[str, int] = {}
        for name, default in (("start", 0), ("max_results", 10)):
            raw = params.get(name, "").strip()
            if not raw:
                numbers[name] = default
                continue
            try:
                numbers[name] = int(raw)
            except ValueError:
                return self._error(f"{name} must be an integer")
            if numbers[name] < 0:
                return self._error(f"{name} must be non-negative")
        start, max_results = numbers["start"], numbers["max_results"]
        if start + max_results > _MAX_RESULTS:
            return self._error(f"start + max_results must not exceed {_MAX_RESULTS}")
        sort_by = params.get("sortBy") or "relevance"
        sort_order = params.get("sortOrder") or "descending"
        if sort_by not in _SORT_BY:
            return self._error(f"sortBy must be in {', '.join(_SORT_BY)}")
        if sort_order not in _SORT_ORDER:
            return self._error(f"sortOrder must be in {', '.join(_SORT_ORDER)}")

        raw_ids = [part.strip() for part in params.get("id_list", "").split(",") if part.strip()]
        wanted: list[tuple[FakePaper, int]] = []
        seen: set[tuple[str, int]] = set()
        with self._lock:
            papers = dict(self.papers)
        for raw in raw_ids:
            parsed = _parse_id(raw)
            if parsed is None:
                return self._error(f"incorrect id format for {raw}")
            base, version = parsed
            paper = papers.get(base)
            if paper is None:
                continue  # well formed but unknown: silently dropped
            version = paper.version if version is None else version
            if version > paper.version or (base, version) in seen:
                continue
            seen.add((base, version))
            wanted.append((paper, version))
        random.Random(f"{self.seed}:{','.join(raw_ids)}").shuffle(wanted)

        query_text = params.get("search_query", "").strip()
        canonical = ""
        if query_text:
            try:
                query = parse_query(query_text)
            except QuerySyntaxError as error:
                return self._error(str(error))
            canonical = query.render()
            pool = wanted if raw_ids else [(p, p.version) for p in papers.values()]
            scored = [(evaluate(query, paper), paper, v) for paper, v in pool]
            matches = [(score, paper, v) for score, paper, v in scored if score]
            if not raw_ids:
                matches = self._sorted(matches, sort_by, sort_order)
            found = [(paper, v) for _, paper, v in matches]
        elif raw_ids:
            found = wanted
        else:
            found = []
        page = found[start : start + min(max_results, _MAX_PAGE)]
        body = self._feed(canonical, raw_ids, start, max_results, len(found), page)
        return _Response(200, body, "application/atom+xml; charset=utf-8")

    @staticmethod
    def _sorted(
        matches: list[tuple[int, FakePaper, int]], sort_by: str, sort_order: str
    ) -> list[tuple[int, FakePaper, int]]:
        descending = sort_order == "descending"
        if sort_by == "submittedDate":
            return sorted(matches, key=lambda m: m[1].published, reverse=descending)
        if sort_by == "lastUpdatedDate":
            return sorted(matches, key=lambda m: m[1].updated, reverse=descending)
        ranked = sorted(matches, key=lambda m: (-m[0], m[1].arxiv_id))
        return ranked if descending else ranked[::-1]

    # Atom

    def _feed(
        self,
        query: str,
        ids: list[str],
        start: int,
        max_results: int,
        total: int,
        page: list[tuple[FakePaper, int]],
    ) -> bytes:
        id_text = ",".join(ids)
        title = f"search_query={query}&id_list={id_text}&start={start}&max_results={max_results}"
        href_query = (
            f"search_query={urllib.parse.quote(query, safe=':,/()')}&start={start}"
            f"&max_results={max_results}&id_list={urllib.parse.quote(id_text, safe=',/')}"
        )
        digest = hashlib.sha1(title.encode()).digest()
        feed_id = base64.b64encode(digest).decode().rstrip("=")
        lines = [
            "<?xml version='1.0' encoding='UTF-8'?>",
            f'<feed xmlns:opensearch="{OPENSEARCH_NS}" xmlns:arxiv="{ARXIV_NS}" xmlns="{ATOM_NS}">',
            f"  <id>https://arxiv.org/api/{feed_id}</id>",
            f"  <title>arXiv Query: {escape(title)}</title>",
            f"  <updated>{_format_time(datetime.now(UTC))}</updated>",
            f'  <link href="https://arxiv.org/api/query?{_attr(href_query)}"'
            ' type="application/atom+xml"/>',
            f"  <opensearch:itemsPerPage>{max_results}</opensearch:itemsPerPage>",
            f"  <opensearch:totalResults>{total}</opensearch:totalResults>",
            f"  <opensearch:startIndex>{start}</opensearch:startIndex>",
        ]
        for paper, version in page:
            lines.extend(self._entry(paper, version))
        lines.append("</feed>")
        return ("\n".join(lines) + "\n").encode("utf-8")

    def _entry(self, paper: FakePaper, version: int) -> list[str]:
        vid = f"{paper.arxiv_id}v{version}"
        title, summary = paper.title, paper.abstract
        if self.wrap:
            # arXiv keeps the submitter's line breaks: titles wrap with an indent, abstracts
            # wrap at 80 columns, and older abstracts start with two spaces.
            title = _wrap(title, 60, "\n  ") if len(title) > 60 else title
            summary = _wrap(summary, 80, "\n")
            if int(_hex_id(paper.arxiv_id, length=2), 16) % 2:
                summary = "  " + summary
        lines = [
            "  <entry>",
            f"    <id>http://arxiv.org/abs/{vid}</id>",
            f"    <title>{escape(title)}</title>",
            f"    <updated>{paper.updated_at(version)}</updated>",
            f'    <link href="https://arxiv.org/abs/{vid}" rel="alternate" type="text/html"/>',
            f'    <link href="https://arxiv.org/pdf/{vid}" rel="related"'
            ' type="application/pdf" title="pdf"/>',
            f"    <summary>{escape(summary)}</summary>",
        ]
        for category in paper.all_categories:
            lines.append(f'    <category term="{_attr(category)}" scheme="{ARXIV_NS}"/>')
        lines.append(f"    <published>{paper.published}</published>")
        if paper.comment is not None:
            lines.append(f"    <arxiv:comment>{escape(paper.comment)}</arxiv:comment>")
        lines.append(f'    <arxiv:primary_category term="{_attr(paper.primary_category)}"/>')
        if paper.journal_ref is not None:
            lines.append(f"    <arxiv:journal_ref>{escape(paper.journal_ref)}</arxiv:journal_ref>")
        for author in paper.authors:
            lines.extend(["    <author>", f"      <name>{escape(author)}</name>", "    </author>"])
        if paper.doi is not None:
            lines.append(f"    <arxiv:doi>{escape(paper.doi)}</arxiv:doi>")
            lines.append(
                f'    <link rel="related" href="https://doi.org/{_attr(paper.doi)}" title="doi"/>'
            )
        lines.append("  </entry>")
        return lines

    @staticmethod
    def _error(message: str) -> _Response:
        """Return the HTTP 400 error feed of the 2026 API (fixture id_abc_malformed_http400)."""
        slug = message.replace(" ", "_")
        now = _format_time(datetime.now(UTC))
        url = f"https://arxiv.org/api/errors#{slug}"
        lines = [
            "<?xml version='1.0' encoding='UTF-8'?>",
            f'<feed xmlns:opensearch="{OPENSEARCH_NS}" xmlns:arxiv="{ARXIV_NS}" xmlns="{ATOM_NS}">',
            "  <id>https://arxiv.org/</id>",
            "  <title>arXiv Search Results</title>",
            f"  <updated>{now}</updated>",
            "  <opensearch:itemsPerPage>1</opensearch:itemsPerPage>",
            "  <opensearch:totalResults>1</opensearch:totalResults>",
            "  <opensearch:startIndex>0</opensearch:startIndex>",
            "  <entry>",
            f"    <id>{escape(url)}</id>",
            "    <title>Error</title>",
            f"    <updated>{now}</updated>",
            f'    <link href="{_attr(url)}" rel="alternate" type="text/html"/>',
            f"    <summary>{escape(message)}</summary>",
            "    <author>",
            "      <name>arXiv api core</name>",
            "    </author>",
            "  </entry>",
            "</feed>",
        ]
        body = ("\n".join(lines) + "\n").encode("utf-8")
        return _Response(400, body, "application/atom+xml; charset=utf-8")


def _attr(value: str) -> str:
    """Escape text for a double-quoted XML attribute."""
    return escape(value, {'"': "&quot;"})


def _parse_id(raw: str) -> tuple[str, int | None] | None:
    """Split an `id_list` item into bare ID and version; None when arXiv calls it malformed.

    Like the real API, this checks the shape only: `0000.0000` is well formed (and unknown),
    `1234.1234` (month 34) and `abc` are not.
    """
    new = _NEW_ID_RE.fullmatch(raw)
    old = None if new else _OLD_ID_RE.fullmatch(raw)
    if new is not None:
        if int(new.group("mm")) > 12:
            return None
        base, version = new.group("id"), new.group("v")
    elif old is not None:
        # The subject class is not part of the identifier: math.GT/0309136 is math/0309136.
        base, version = f"{old.group('id')}/{old.group('num')}", old.group("v")
    else:
        return None
    if version is not None and int(version) == 0:
        return None
    return base, int(version) if version is not None else None


# Hugging Face


class FakeHf(_FakeServer):
    """The Hugging Face papers API (`/api/papers/search`, `/api/papers/{id}`), the daily
    papers pages (`/api/daily_papers` with `date`/`week`/`month`, `p` and `limit`) and
    collections (`/api/collections/{owner}/{slug}`), as huggingface_hub's `list_daily_papers`,
    `paper_info` and `get_collection` read them.

    `daily` maps a day (`2025-04-28`) to the arXiv IDs featured that day, in the page's order;
    `collections` maps a slug to `(title, [(type, id), ...])`.
    """

    root = "/api"
    max_limit: ClassVar[int] = 120

    def __init__(
        self,
        papers: Iterable[FakePaper],
        *,
        quota: int | None = None,
        window: float = 300,
        default_limit: int = 20,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.papers: dict[str, FakePaper] = {p.arxiv_id: p for p in papers if p.in_hf}
        self.quota = quota
        self.window = window
        self.default_limit = default_limit
        self.seed = seed
        self.refused = 0
        self._window_start: float | None = None
        self._used = 0
        self.daily: dict[str, list[str]] = {}
        self.collections: dict[str, tuple[str, list[tuple[str, str]]]] = {}

    def add(self, paper: FakePaper) -> None:
        """Add (or replace) a paper while serving."""
        with self._lock:
            if paper.in_hf:
                self.papers[paper.arxiv_id] = paper
            else:
                self.papers.pop(paper.arxiv_id, None)

    def _admit(self, started: float) -> tuple[_Response | None, dict[str, str]]:
        if self.quota is None:
            return None, {}
        if self._window_start is None or started - self._window_start >= self.window:
            self._window_start, self._used = started, 0
        self._used += 1
        remaining = max(self.quota - self._used, 0)
        # Requests timed on other threads may arrive out of order: never past the window.
        reset = min(
            max(math.ceil(self._window_start + self.window - started), 0), math.ceil(self.window)
        )
        window = int(self.window) if float(self.window).is_integer() else self.window
        headers = {
            "RateLimit": f'"api";r={remaining};t={reset}',
            "RateLimit-Policy": f'"fixed window";"api";q={self.quota};w={window}',
        }
        if self._used > self.quota:
            self.refused += 1
            body = {"error": "You have exceeded the rate limit for 'api'. Try again later."}
            return _Response(429, json.dumps(body).encode(), "application/json"), headers
        return None, headers

    def _answer(self, request: RecordedRequest, target: str) -> _Response:
        path = request.path
        if request.method != "GET":
            return _json({"error": "Not Found"}, 404)
        if path == "/api/papers/search":
            return self._search(request.params)
        if path == "/api/daily_papers":
            return self._daily_papers(request.params)
        if path.startswith("/api/collections/"):
            return self._collection(path.removeprefix("/api/collections/"))
        prefix = "/api/papers/"
        if path.startswith(prefix) and len(path) > len(prefix):
            with self._lock:
                paper = self.papers.get(path[len(prefix) :])
            if paper is None:
                return _json({"error": "Paper not found"}, 404)
            return _json(self._paper_object(paper, single=True))
        return _json({"error": "Not Found"}, 404)

    def _days(self, params: Mapping[str, str]) -> list[str] | _Response:
        """The days a daily-papers request selects, or the 400 the Hub answers."""
        days = sorted(self.daily)
        if "date" in params:
            try:
                datetime.strptime(params["date"], "%Y-%m-%d")
            except ValueError:
                return _json({"error": "Invalid date"}, 400)
            return [params["date"]]
        if "week" in params:
            match = re.fullmatch(r"(\d{4})-W(\d{2})", params["week"])
            if not match:
                return _json({"error": "Invalid week"}, 400)
            wanted = (int(match[1]), int(match[2]))
            return [d for d in days if datetime.fromisoformat(d).isocalendar()[:2] == wanted]
        if "month" in params:
            if not re.fullmatch(r"\d{4}-\d{2}", params["month"]):
                return _json({"error": "Invalid month"}, 400)
            return [d for d in days if d.startswith(params["month"] + "-")]
        return days[-1:]  # no selector: the latest day with papers

    def _daily_papers(self, params: Mapping[str, str]) -> _Response:
        days = self._days(params)
        if isinstance(days, _Response):
            return days
        try:
            page = int(params.get("p") or 0)
            limit = int(params.get("limit") or 50)
        except ValueError:
            return _json({"error": "Parameters 'p' and 'limit' must be integers"}, 400)
        limit = min(max(limit, 1), self.max_limit)
        items = []
        with self._lock:
            for day in days:
                for arxiv_id in self.daily.get(day, []):
                    paper = self.papers.get(arxiv_id)
                    if paper is not None:
                        items.append(self._daily_item(paper, day))
        return _json(items[page * limit : (page + 1) * limit])

    def _daily_item(self, paper: FakePaper, day: str) -> dict[str, Any]:
        obj = self._paper_object(paper)
        obj["submittedOnDailyAt"] = f"{day}T13:00:00.000Z"
        return {
            "paper": obj,
            "publishedAt": f"{day}T13:00:00.000Z",
            "title": self._title(paper),
            "summary": self._summary(paper),
            "mediaUrls": [],
            "thumbnail": (
                f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{paper.arxiv_id}.png"
            ),
            "numComments": 0,
            "submittedBy": {"_id": _hex_id(paper.arxiv_id, "user"), "user": "akhaliq"},
            "isAuthorParticipating": False,
        }

    def _collection(self, slug: str) -> _Response:
        with self._lock:
            found = self.collections.get(slug)
            papers = dict(self.papers)
        if found is None:
            return _json({"error": "Collection not found"}, 404)
        title, members = found
        items: list[dict[str, Any]] = []
        for position, (kind, item_id) in enumerate(members):
            item: dict[str, Any] = {
                "_id": _hex_id(slug, item_id),
                "position": position,
                "type": kind,
                "id": item_id,
            }
            paper = papers.get(item_id) if kind == "paper" else None
            if paper is not None:
                item.update(
                    title=self._title(paper),
                    upvotes=self._paper_object(paper)["upvotes"],
                    publishedAt=paper.published.replace("Z", ".000Z"),
                )
            items.append(item)
        owner = slug.split("/", 1)[0]
        return _json(
            {
                "slug": slug,
                "title": title,
                "owner": {"name": owner, "type": "user"},
                "items": items,
                "lastUpdated": "2025-05-01T12:00:00.000Z",
                "position": 0,
                "private": False,
                "theme": "green",
                "upvotes": 3,
                "description": None,
            }
        )

    def _search(self, params: Mapping[str, str]) -> _Response:
        q = params.get("q", "").strip()
        if not q:
            return _json({"error": "Parameter 'q' is required"}, 400)
        try:
            limit = int(params.get("limit") or self.default_limit)
        except ValueError:
            return _json({"error": "Parameter 'limit' must be an integer"}, 400)
        limit = min(max(limit, 1), self.max_limit)
        wanted = set(tokens(q))
        with self._lock:
            papers = list(self.papers.values())
        scored: list[tuple[float, float, FakePaper]] = []
        for paper in papers:
            title_hits = len(wanted & _token_set(self._title(paper)))
            abstract_hits = len(wanted & _token_set(self._summary(paper)))
            score = (3.0 * title_hits + abstract_hits) / max(len(wanted), 1)
            if normalize_title(self._title(paper)) == normalize_title(q):
                score += 10.0
            if score > 0:
                # Equal scores come back in no particular order, so twins trade places.
                tie = random.Random(f"{self.seed}:{q}:{paper.arxiv_id}").random()
                scored.append((score, tie, paper))
        scored.sort(key=lambda item: (-item[0], item[1]))
        results = [self._search_item(paper, wanted) for _, _, paper in scored[:limit]]
        return _json(results)

    @staticmethod
    def _title(paper: FakePaper) -> str:
        return paper.hf_title if paper.hf_title is not None else paper.title

    @staticmethod
    def _summary(paper: FakePaper) -> str:
        text = paper.hf_abstract if paper.hf_abstract is not None else paper.abstract
        return _wrap(text, 80, "\n")  # HF keeps arXiv's hard line breaks

    def _paper_object(self, paper: FakePaper, *, single: bool = False) -> dict[str, Any]:
        published = paper.published.replace("Z", ".000Z")
        obj: dict[str, Any] = {
            "id": paper.arxiv_id,
            "authors": [
                {"_id": _hex_id(paper.arxiv_id, name), "name": name, "hidden": False}
                for name in paper.authors
            ],
            "publishedAt": published,
        }
        if single:
            obj["submittedOnDailyAt"] = published
        obj.update(
            {
                "title": self._title(paper),
                "summary": self._summary(paper),
                "upvotes": int(_hex_id(paper.arxiv_id, "upvotes", length=4), 16) % 60,
                "discussionId": _hex_id(paper.arxiv_id, "discussion"),
            }
        )
        keywords = [w for w in tokens(paper.title) if len(w) > 5][:5]
        if keywords:
            obj["ai_keywords"] = keywords
        return obj

    def _search_item(self, paper: FakePaper, wanted: set[str]) -> dict[str, Any]:
        # Search results repeat title, summary and date outside `paper`; the date is the
        # daily-papers date, some hours off the arXiv one.
        outer_date = _parse_time(paper.published) - timedelta(hours=4)
        title, summary = self._title(paper), self._summary(paper)
        return {
            "paper": self._paper_object(paper),
            "publishedAt": outer_date.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "title": title,
            "summary": summary,
            "thumbnail": (
                f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{paper.arxiv_id}.png"
            ),
            "numComments": 0,
            "upvoted": False,
            "isAuthorParticipating": False,
            "highlightedTitle": _highlight(title, wanted),
            "highlightedSummary": _highlight(summary, wanted),
        }


def _highlight(text: str, wanted: set[str]) -> list[dict[str, str]]:
    """Split text into text/highlight runs, marking the words of the query."""
    runs: list[dict[str, str]] = []
    for piece in re.split(r"(\w+)", text):
        if not piece:
            continue
        kind = (
            "highlight"
            if piece.isalnum() and tokens(piece) and set(tokens(piece)) <= wanted
            else "text"
        )
        if runs and runs[-1]["type"] == kind == "text":
            runs[-1]["text"] += piece
        else:
            runs.append({"type": kind, "text": piece})
    return runs


def _json(value: object, status: int = 200) -> _Response:
    return _Response(status, json.dumps(value, ensure_ascii=False).encode(), "application/json")


# A realistic paper database


_FIRST_NAMES = [
    "Zoë", "José Raúl", "Łukasz", "Søren", "Björn", "Çağlar", "François", "Jürgen", "Anaïs",
    "Nguyễn Văn", "Seán", "Ana", "Wei", "Yuki", "Priya", "Ahmed", "Olga", "Chen", "Maria",
    "David", "Sarah", "Kenji", "Fatima", "Lars", "Ines", "Tomáš", "Zeynep", "Rafał", "Hyun-woo",
]  # fmt: skip
_LAST_NAMES = [
    "Müller", "Romero", "Kaiser", "Hauberg", "Ommer", "Gülçehre", "Fleuret", "Schmidhuber",
    "Dvořák", "Ó Briain", "García-López", "Zhang", "Tanaka", "Raman", "Hassan", "Petrova",
    "Li", "Rossi", "Smith", "Cohen", "Nakamura", "Al-Sayed", "Andersen", "Ferreira", "Novák",
    "Yılmaz", "Wójcik", "Kim", "de la Cruz", "van der Berg", "Ng", "Øvergaard",
]  # fmt: skip
_CATEGORIES = ["cs.CV", "cs.CL", "cs.LG", "cs.AI", "cs.IR", "cs.MM", "eess.IV", "stat.ML"]
_JOURNALS = [
    "Proceedings of CVPR 2024, pp. 1021-1030",
    "Transactions on Machine Learning Research (TMLR), 2025",
    "ACL 2024 Findings",
    "IEEE Transactions on Pattern Analysis and Machine Intelligence 47(3), 2025",
]
# Word swaps that turn an abstract into an older draft of itself.
_DRAFT_EDITS = [
    ("propose", "present"),
    ("novel", "new"),
    ("significantly", "substantially"),
    ("demonstrate", "show"),
    ("outperforms", "beats"),
    ("state-of-the-art", "SOTA"),
    ("framework", "method"),
    ("we", "here we"),
]


@dataclass
class SampleWorld:
    """A paper database built from listings, and the right answer for each listing."""

    papers: list[FakePaper]
    truth: dict[str, str | None]  # normalize_title(listing title) -> true bare arXiv ID or None
    listings: list[Listing]

    def paper(self, arxiv_id: str) -> FakePaper:
        """Return the paper with this bare ID."""
        for paper in self.papers:
            if paper.arxiv_id == arxiv_id:
                return paper
        raise KeyError(arxiv_id)

    def expected(self, listing: Listing) -> str | None:
        """Return the ID a resolver must find for `listing` (None: it must find none)."""
        return self.truth[normalize_title(listing.title or "")]


class _IdMaker:
    """Hands out unique, well-formed new-style IDs and matching dates."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def make(self, year: int | None = None) -> tuple[str, datetime]:
        while True:
            year_ = year if year is not None else self.rng.randint(2023, 2025)
            month = self.rng.randint(1, 12)
            number = self.rng.randint(1, 29999)
            arxiv_id = f"{year_ % 100:02d}{month:02d}.{number:05d}"
            if arxiv_id not in self.used:
                self.used.add(arxiv_id)
                moment = datetime(
                    year_,
                    month,
                    self.rng.randint(1, 28),
                    self.rng.randint(0, 23),
                    self.rng.randint(0, 59),
                    self.rng.randint(0, 59),
                    tzinfo=UTC,
                )
                return arxiv_id, moment


def _authors(rng: random.Random) -> list[str]:
    count = rng.choice([1, 2, 3, 3, 4, 5, 6, 8, 12])
    return [f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}" for _ in range(count)]


def _draft_of(abstract: str, rng: random.Random) -> str:
    """Return an older draft: the first half of the abstract, with some words changed."""
    words = abstract.split()
    half = words[: max(len(words) // 2, 8)]
    text = " ".join(half)
    for old, new in rng.sample(_DRAFT_EDITS, 3):
        text = re.sub(rf"\b{re.escape(old)}\b", new, text, count=1)
    if len(half) > 12:
        del_at = rng.randrange(3, len(half) - 3)
        text = " ".join(w for i, w in enumerate(text.split()) if i != del_at)
    return text


def _make_paper(
    arxiv_id: str,
    published: datetime,
    title: str,
    abstract: str,
    rng: random.Random,
    **overrides: Any,
) -> FakePaper:
    version = rng.choice([1, 1, 1, 2, 2, 3])
    updated = published + timedelta(days=rng.randint(5, 200), hours=rng.randint(0, 23))
    primary = rng.choice(_CATEGORIES)
    others = rng.sample([c for c in _CATEGORIES if c != primary], rng.randint(0, 2))
    has_doi = rng.random() < 0.15
    paper = FakePaper(
        arxiv_id=arxiv_id,
        title=title,
        abstract=abstract,
        authors=_authors(rng),
        published=_format_time(published),
        updated=_format_time(updated if version > 1 else published),
        version=version,
        primary_category=primary,
        categories=[primary, *others],
        doi=f"10.{rng.randint(1000, 9999)}/{arxiv_id.replace('.', '-')}" if has_doi else None,
        journal_ref=rng.choice(_JOURNALS) if has_doi else None,
        comment=rng.choice(
            [None, None, "Project page: https://example.org/", "12 pages, 5 figures"]
        ),
    )
    for name, value in overrides.items():
        setattr(paper, name, value)
    if paper.version == 1:
        paper.updated = paper.published
    return paper


def sample_papers(listing_dir: Path, *, seed: int = 0) -> SampleWorld:
    """Build a deterministic paper database from the listings in `listing_dir`, with traps.

    Every distinct listing becomes a paper, except that some are on arXiv only (not on HF) and
    some on neither (truth None). Extra papers that no listing names: a twin with the same
    title and a different abstract for some listings, a look-alike sibling "X-2: ..." for
    some "X: ..." titles, and two old-style papers. Some HF copies show an older, shorter
    abstract or a title with a hard line break.
    """
    files = sorted(str(path) for path in Path(listing_dir).glob("*.txt"))
    listings = dedupe(read_sources(files, lambda: b""))
    rng = random.Random(seed)
    ids = _IdMaker(rng)
    papers: list[FakePaper] = []
    truth: dict[str, str | None] = {}
    listed = {normalize_title(item.title) for item in listings if item.title}
    for index, listing in enumerate(listings):
        title = listing.title or f"Untitled {index}"
        abstract = listing.abstract or f"We study {title.lower()} in depth."
        arxiv_id, published = ids.make()
        paper = _make_paper(arxiv_id, published, title, abstract, rng)
        key = normalize_title(title)
        if index % 17 == 5:  # on neither site: nothing to find
            paper.in_hf = paper.in_arxiv = False
            truth[key] = None
        else:
            truth[key] = arxiv_id
            if index % 11 == 3:
                paper.in_hf = False  # only the arXiv title search finds it
        if index % 7 == 2 and paper.in_hf:
            paper.hf_abstract = _draft_of(abstract, rng)
            paper.version = max(paper.version, 2)
            paper.updated = _format_time(published + timedelta(days=rng.randint(20, 90)))
        if index % 6 == 1 and len(title) > 50:
            words = title.split()
            cut = len(words) // 2
            paper.hf_title = " ".join(words[:cut]) + "\n  " + " ".join(words[cut:])
        papers.append(paper)

        if index % 13 == 7:  # same title, another paper (an older workshop paper, say)
            other = listings[(index + 50) % len(listings)].abstract or "A different study."
            twin_id, twin_date = ids.make(year=rng.randint(2019, 2022))
            papers.append(_make_paper(twin_id, twin_date, title, other, rng))
        head, colon, rest = title.partition(": ")
        sibling_title = f"{head}-2: {rest}"
        if (
            colon
            and index % 5 == 0
            and " " not in head.strip()
            and normalize_title(sibling_title) not in listed
        ):
            sibling_id, sibling_date = ids.make()
            sibling_abstract = abstract.replace(head, f"{head}-2", 1)
            sibling_abstract += " Compared with its predecessor, it doubles the data and the tasks."
            papers.append(
                _make_paper(sibling_id, sibling_date, sibling_title, sibling_abstract, rng)
            )

    old_rng = random.Random(seed + 1)
    papers.append(
        FakePaper(
            arxiv_id="hep-th/9901001",
            title="Brane Dynamics and Gauge Theory in Four Dimensions",
            abstract="We study the low-energy dynamics of branes and its gauge theory.",
            authors=_authors(old_rng),
            published="1999-01-04T12:00:00Z",
            updated="1999-03-02T09:30:00Z",
            version=2,
            primary_category="hep-th",
            categories=["hep-th"],
            journal_ref="Nucl.Phys. B550 (1999) 1-20",
            in_hf=False,
        )
    )
    papers.append(
        FakePaper(
            arxiv_id="math/0309136",
            title="On the Khovanov Homology of Knots",
            abstract="  We compute Khovanov homology for a family of knots.",
            authors=_authors(old_rng),
            published="2003-09-08T17:01:02Z",
            updated="2003-09-08T17:01:02Z",
            primary_category="math.GT",
            categories=["math.GT", "math.QA"],
            in_hf=False,
        )
    )
    return SampleWorld(papers=papers, truth=truth, listings=listings)


class FakeDoi(_FakeServer):
    """doi.org's content negotiation: `GET /<doi>` with a CSL JSON `Accept` gives the record.

    Unknown DOIs are 404 "DOI Not Found" (HTML, as doi.org answers); a request that does not
    ask for CSL JSON gets the landing page (HTML), which a client must not take for data.
    """

    CSL = "application/vnd.citationstyles.csl+json"

    def __init__(self, records: Mapping[str, Mapping[str, object]] | None = None) -> None:
        super().__init__()
        self.records: dict[str, dict[str, object]] = {
            doi.lower(): dict(record) for doi, record in (records or {}).items()
        }

    def _answer(self, request: RecordedRequest, target: str) -> _Response:
        doi = urllib.parse.unquote(request.path.lstrip("/")).lower()
        record = self.records.get(doi)
        if record is None:
            return _Response(404, b"<html><title>DOI Not Found</title></html>", "text/html")
        accept = next((v for k, v in request.headers.items() if k.lower() == "accept"), "")
        if self.CSL not in accept:
            return _Response(200, b"<html><title>Landing page</title></html>", "text/html")
        body = json.dumps({"DOI": doi, **record}).encode()
        return _Response(200, body, f"{self.CSL}; charset=utf-8")
