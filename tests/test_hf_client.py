"""Tests for readlist.resolve.hf: the Hugging Face papers API client (no network)."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from readlist.errors import HuggingFaceError
from readlist.normalize import normalize_whitespace
from readlist.resolve.hf import (
    BACKOFF_CAP,
    HfClient,
    HfPaper,
    parse_paper,
    parse_search,
    rate_limit_wait,
    retry_after,
)

FIXTURE = (
    Path(__file__).resolve().parent / "data" / "fixtures" / "hf" / "papers_search_q_kazakh.json"
)
API = "https://huggingface.co/api"

Handler = Callable[[httpx.Request], httpx.Response]


def search_body() -> list[dict[str, Any]]:
    """The recorded answer to /api/papers/search?q=kazakh, freshly parsed."""
    data: list[dict[str, Any]] = json.loads(FIXTURE.read_text("utf-8"))
    return data


def paper_body() -> dict[str, Any]:
    """A /api/papers/{id} answer: the paper object without the search wrapper."""
    paper: dict[str, Any] = copy.deepcopy(search_body()[0]["paper"])
    return paper


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


class Recorder:
    """A MockTransport handler that answers from a script and records each request."""

    def __init__(self, *answers: httpx.Response | Exception, clock: FakeTime | None = None):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.times: list[float] = []
        self.clock = clock

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.clock is not None:
            self.times.append(self.clock.clock())
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def ok(body: object = None, **headers: str) -> httpx.Response:
    content = json.dumps(search_body() if body is None else body).encode()
    return httpx.Response(200, content=content, headers=headers)


def status(code: int, **headers: str) -> httpx.Response:
    return httpx.Response(code, text=f"error {code}", headers=headers)


def make_client(
    handler: Handler, fake: FakeTime | None = None, **options: Any
) -> tuple[HfClient, FakeTime]:
    fake = fake or FakeTime()
    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = HfClient(http, api_url=API, sleep=fake.sleep, clock=fake.clock, **options)
    return client, fake


# -- parsing --------------------------------------------------------------------------------


def test_search_parses_the_recorded_answer() -> None:
    handler = Recorder(ok())
    client, fake = make_client(handler)
    papers = client.search("kazakh")

    (request,) = handler.requests
    assert request.method == "GET"
    assert request.url.path == "/api/papers/search"
    assert dict(request.url.params) == {"q": "kazakh", "limit": "10"}
    assert request.headers["accept"] == "application/json"
    assert fake.sleeps == []

    assert [p.arxiv_id for p in papers] == [
        "2404.04487",
        "2403.19399",
        "2403.19335",
        "2111.13419",
        "2404.01033",
        "2502.13640",
        "2503.01493",
        "2108.01280",
        "2107.10637",
    ]
    first = papers[0]
    assert first.title == "KazQAD: Kazakh Open-Domain Question Answering Dataset"
    assert first.authors == (
        "Rustem Yeshpanov",
        "Pavel Efimov",
        "Leonid Boytsov",  # the paper's author name, not the HF user's profile name
        "Ardak Shalkarbayuli",
        "Pavel Braslavski",
    )
    # paper.publishedAt, not the wrapper's (which is hours off).
    assert first.published_at == "2024-04-06T03:40:36.000Z"
    assert first.summary.startswith("We introduce KazQAD -- a Kazakh open-domain question")
    assert first.summary == normalize_whitespace(search_body()[0]["paper"]["summary"])
    assert all("\n" not in p.summary and "  " not in p.summary for p in papers)
    # HF keeps arXiv's hard line breaks in some titles too.
    assert papers[8].title == (
        "A baseline model for computationally inexpensive speech recognition for Kazakh "
        "using the Coqui STT framework"
    )
    assert "\n" not in papers[7].title


def test_search_sends_the_limit_and_tolerates_a_trailing_slash() -> None:
    handler = Recorder(ok([]))
    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = HfClient(http, api_url=API + "/")
    assert client.search("a b & c", limit=3) == []
    assert str(handler.requests[0].url) == f"{API}/papers/search?q=a+b+%26+c&limit=3"
    with pytest.raises(ValueError):
        client.search("x", limit=0)


def test_paper_fields_are_preferred_over_the_wrapper() -> None:
    body = search_body()[:1]
    body[0]["title"] = "A different top-level title"
    body[0]["summary"] = "A different top-level summary."
    papers = parse_search(body)
    assert papers[0].title == "KazQAD: Kazakh Open-Domain Question Answering Dataset"
    assert papers[0].summary.startswith("We introduce KazQAD")

    del body[0]["paper"]["title"]
    del body[0]["paper"]["summary"]
    del body[0]["paper"]["publishedAt"]
    fallback = parse_search(body)[0]
    assert fallback.title == "A different top-level title"
    assert fallback.summary == "A different top-level summary."
    assert fallback.published_at == "2024-04-05T23:40:36.000Z"


def test_authors_keep_hidden_names_and_skip_nameless_entries() -> None:
    paper = paper_body()
    paper["authors"] = [
        {"_id": "1", "name": "Ann  Lee", "hidden": True},
        {"_id": "2", "hidden": False},
        {"_id": "3", "name": "Bo\nKim", "hidden": False},
        "Cy Doe",
    ]
    assert parse_paper(paper).authors == ("Ann Lee", "Bo Kim", "Cy Doe")
    paper["authors"] = None
    paper.pop("summary")
    parsed = parse_paper(paper)
    assert parsed.authors == ()
    assert parsed.summary == ""


def test_paper_returns_the_unwrapped_object() -> None:
    handler = Recorder(ok(paper_body()))
    client, _ = make_client(handler)
    paper = client.paper("arXiv:2404.04487v2")
    assert handler.requests[0].url == f"{API}/papers/2404.04487"
    assert isinstance(paper, HfPaper)
    assert paper.arxiv_id == "2404.04487"
    assert paper.title == "KazQAD: Kazakh Open-Domain Question Answering Dataset"
    assert len(paper.authors) == 5


def test_paper_not_indexed_is_none() -> None:
    handler = Recorder(httpx.Response(404, json={"error": "Paper not found"}))
    client, fake = make_client(handler)
    assert client.paper("2404.04487") is None
    assert len(handler.requests) == 1
    assert fake.sleeps == []


def test_paper_rejects_what_is_not_an_arxiv_id() -> None:
    client, _ = make_client(Recorder(ok(paper_body())))
    with pytest.raises(ValueError, match="not an arXiv identifier"):
        client.paper("../search")


def test_search_404_is_an_error() -> None:
    client, _ = make_client(Recorder(status(404)))
    with pytest.raises(HuggingFaceError) as info:
        client.search("x")
    assert info.value.status == 404


def _missing(field: str) -> list[dict[str, Any]]:
    body = search_body()[:2]
    body[1]["paper"].pop(field)
    body[1].pop(field, None)
    return body


def _blank_titles() -> list[dict[str, Any]]:
    body = search_body()[:2]
    body[1]["paper"]["title"] = " \n "
    body[1]["title"] = None
    return body


def _replaced(field: str, value: object) -> list[dict[str, Any]]:
    body = search_body()[:2]
    body[1]["paper"][field] = value
    return body


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<!DOCTYPE html><html><body>We'll be right back</body></html>", "not JSON"),
        (b"", "not JSON"),
        (b"\xff\xfe[]", "not JSON"),
        (json.dumps({"error": "Invalid"}).encode(), "expected a JSON array"),
        (json.dumps(search_body()[0]).encode(), "expected a JSON array"),
        (json.dumps([1, 2]).encode(), "expected a result object"),
        (json.dumps(_missing("id")).encode(), "no 'id'"),
        (json.dumps(_missing("title")).encode(), "no 'title'"),
        (json.dumps(_blank_titles()).encode(), "no 'title'"),
        (json.dumps(_replaced("id", "not-an-id")).encode(), "not an arXiv identifier"),
        (json.dumps(_replaced("id", 2404.04487)).encode(), "no 'id'"),
        (json.dumps(_replaced("authors", "Ann Lee")).encode(), "'authors' that is not a list"),
        (json.dumps([{"paper": "2404.04487"}]).encode(), "'paper' is not an object"),
    ],
)
def test_search_answers_of_the_wrong_shape_are_errors(content: bytes, message: str) -> None:
    handler = Recorder(httpx.Response(200, content=content, headers={"content-type": "text/html"}))
    client, _ = make_client(handler)
    with pytest.raises(HuggingFaceError, match=message) as info:
        client.search("kazakh")
    assert info.value.status == 200
    assert info.value.url == f"{API}/papers/search?q=kazakh&limit=10"
    assert len(handler.requests) == 1


@pytest.mark.parametrize("body", [search_body(), "a string", None, {"id": "2404.04487"}])
def test_paper_answers_of_the_wrong_shape_are_errors(body: object) -> None:
    client, _ = make_client(Recorder(httpx.Response(200, content=json.dumps(body).encode())))
    with pytest.raises(HuggingFaceError, match="unexpected answer"):
        client.paper("2404.04487")


@pytest.mark.parametrize("code", [400, 401, 403, 410, 422])
def test_client_errors_are_not_retried(code: int) -> None:
    handler = Recorder(httpx.Response(code, json={"error": "Invalid  credentials\n"}))
    client, fake = make_client(handler)
    with pytest.raises(HuggingFaceError, match="Invalid credentials") as info:
        client.search("x")
    assert info.value.status == code
    assert len(handler.requests) == 1
    assert fake.sleeps == []


# -- rate limits and retries ----------------------------------------------------------------


def test_429_waits_the_ratelimit_reset_and_retries() -> None:
    fake = FakeTime()
    handler = Recorder(
        status(
            429,
            RateLimit='"api";r=0;t=42',
            **{"RateLimit-Policy": '"fixed window";"api";q=500;w=300'},
        ),
        ok(),
        clock=fake,
    )
    client, _ = make_client(handler, fake)
    assert len(client.search("kazakh")) == 9
    assert fake.sleeps == [42.0]
    assert handler.times == [1000.0, 1042.0]


def test_429_honours_retry_after() -> None:
    handler = Recorder(status(429, **{"Retry-After": "7"}), ok())
    client, fake = make_client(handler)
    client.search("x")
    assert fake.sleeps == [7.0]


def test_429_takes_the_longer_of_retry_after_and_ratelimit() -> None:
    handler = Recorder(status(429, RateLimit='"api";r=0;t=20', **{"Retry-After": "5"}), ok())
    client, fake = make_client(handler)
    client.search("x")
    assert fake.sleeps == [20.0]


def test_429_with_an_http_date_retry_after() -> None:
    headers = {
        "Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT",
        "Date": "Wed, 21 Oct 2015 07:28:00 GMT",
    }
    handler = Recorder(status(429, **headers), ok())
    client, fake = make_client(handler)
    client.search("x")
    assert fake.sleeps == [30.0]


def test_429_without_headers_backs_off() -> None:
    handler = Recorder(status(429), status(429), ok())
    client, fake = make_client(handler)
    client.search("x")
    assert fake.sleeps == [1.0, 2.0]


def test_429_gives_up_after_max_retries() -> None:
    handler = Recorder(status(429, RateLimit='"api";r=0;t=3'))
    client, fake = make_client(handler, max_retries=2)
    with pytest.raises(HuggingFaceError, match="rate limited") as info:
        client.search("x")
    assert info.value.status == 429
    assert len(handler.requests) == 3
    assert fake.sleeps == [3.0, 3.0]


def test_429_asking_for_too_long_a_wait_fails_at_once() -> None:
    handler = Recorder(status(429, RateLimit='"api";r=0;t=86400'))
    client, fake = make_client(handler)
    with pytest.raises(HuggingFaceError, match="asks to wait 86400 s"):
        client.search("x")
    assert len(handler.requests) == 1
    assert fake.sleeps == []


def test_a_long_ban_fails_later_requests_without_sending_them() -> None:
    fake = FakeTime()
    handler = Recorder(status(429, RateLimit='"api";r=0;t=3600'), ok(), clock=fake)
    client, _ = make_client(handler, fake)
    with pytest.raises(HuggingFaceError):
        client.search("x")
    with pytest.raises(HuggingFaceError, match="wait another 3600 s") as info:
        client.search("y")
    assert info.value.status == 429
    assert len(handler.requests) == 1
    fake.sleep(3600)
    assert len(client.search("z")) == 9
    assert len(handler.requests) == 2


def test_spent_quota_for_longer_than_max_wait_refuses_the_next_request() -> None:
    handler = Recorder(ok(RateLimit='"api";r=0;t=100'))
    client, fake = make_client(handler, max_wait=60)
    client.search("x")
    results = client.search_many(["a", "b"])
    assert all(isinstance(r, HuggingFaceError) for r in results.values())
    assert len(handler.requests) == 1
    assert fake.sleeps == []


def test_spent_quota_blocks_the_next_request_until_reset() -> None:
    fake = FakeTime()
    handler = Recorder(
        ok(RateLimit='"api";r=0;t=30'), ok(RateLimit='"api";r=499;t=300'), clock=fake
    )
    client, _ = make_client(handler, fake)
    client.search("first")
    assert fake.sleeps == []  # the answer itself is fine: only the next request waits
    client.search("second")
    assert handler.times == [1000.0, 1030.0]
    client.search("third")
    assert handler.times[2] == 1030.0  # r=499: no waiting
    assert fake.sleeps == [30.0]


def test_remaining_quota_does_not_slow_anything() -> None:
    handler = Recorder(ok(RateLimit='"api";r=1;t=300'))
    client, fake = make_client(handler)
    for _ in range(3):
        client.search("x")
    assert fake.sleeps == []


def test_spent_quota_blocks_every_thread() -> None:
    fake = FakeTime()
    handler = Recorder(ok(RateLimit='"api";r=0;t=60'), ok(), clock=fake)
    client, _ = make_client(handler, fake, concurrency=4)
    client.search("first")
    results = client.search_many([f"q{i}" for i in range(8)])
    assert all(isinstance(r, list) for r in results.values())
    assert handler.times[0] == 1000.0
    assert len(handler.times) == 9
    assert min(handler.times[1:]) >= 1060.0


def test_server_errors_retry_with_backoff_then_fail() -> None:
    handler = Recorder(status(503))
    seen: list[str] = []
    client, fake = make_client(handler, on_request=seen.append)
    with pytest.raises(HuggingFaceError, match="server error") as info:
        client.search("x")
    assert info.value.status == 503
    assert len(handler.requests) == 4  # one try and max_retries=3 retries
    assert fake.sleeps == [1.0, 2.0, 4.0]
    assert seen == [f"GET {API}/papers/search?q=x&limit=10"] * 4


def test_server_error_then_success() -> None:
    handler = Recorder(status(500), status(502), ok())
    client, fake = make_client(handler)
    assert len(client.search("x")) == 9
    assert fake.sleeps == [1.0, 2.0]


def test_503_honours_retry_after() -> None:
    handler = Recorder(status(503, **{"Retry-After": "12"}), ok())
    client, fake = make_client(handler)
    client.search("x")
    assert fake.sleeps == [12.0]


def test_backoff_is_capped() -> None:
    handler = Recorder(status(500))
    client, fake = make_client(handler, max_retries=8)
    with pytest.raises(HuggingFaceError):
        client.search("x")
    assert fake.sleeps == [1.0, 2.0, 4.0, 8.0, 16.0, BACKOFF_CAP, BACKOFF_CAP, BACKOFF_CAP]


def test_timeouts_are_retried() -> None:
    handler = Recorder(httpx.ReadTimeout("slow"), httpx.ConnectTimeout("slow"), ok())
    client, fake = make_client(handler)
    assert len(client.search("x")) == 9
    assert fake.sleeps == [1.0, 2.0]


def test_dropped_connections_are_retried() -> None:
    handler = Recorder(
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("Connection reset by peer"),
        ok(),
    )
    client, fake = make_client(handler)
    assert len(client.search("x")) == 9
    assert fake.sleeps == [1.0, 2.0]


def test_persistent_timeouts_fail() -> None:
    handler = Recorder(httpx.ReadTimeout("slow"))
    client, fake = make_client(handler, max_retries=1)
    with pytest.raises(HuggingFaceError, match="timed out after 2 attempts") as info:
        client.search("x")
    assert info.value.status is None
    assert len(handler.requests) == 2
    assert fake.sleeps == [1.0]


def test_connection_failure_is_not_retried() -> None:
    handler = Recorder(httpx.ConnectError("refused"))
    client, fake = make_client(handler)
    with pytest.raises(HuggingFaceError, match="cannot reach the server"):
        client.search("x")
    assert len(handler.requests) == 1
    assert fake.sleeps == []


def test_no_retries_at_all() -> None:
    handler = Recorder(status(500))
    client, fake = make_client(handler, max_retries=0)
    with pytest.raises(HuggingFaceError):
        client.search("x")
    assert len(handler.requests) == 1
    assert fake.sleeps == []


def test_on_request_is_called_once_per_request() -> None:
    handler = Recorder(status(429, RateLimit='"api";r=0;t=1'), ok(), ok(paper_body()))
    seen: list[str] = []
    client, _ = make_client(handler, on_request=seen.append)
    client.search("kazakh qa")
    client.paper("2404.04487")
    assert seen == [
        f"GET {API}/papers/search?q=kazakh+qa&limit=10",
        f"GET {API}/papers/search?q=kazakh+qa&limit=10",
        f"GET {API}/papers/2404.04487",
    ]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"RateLimit": '"api";r=0;t=120'}, 120.0),
        ({"ratelimit": '"api";r=0;t=120'}, 120.0),
        ({"RateLimit": '"api";r=5;t=120'}, None),
        ({"RateLimit": '"api" ; r=0 ; t=7'}, 7.0),
        ({"RateLimit": "api;r=0;t=7"}, 7.0),
        ({"RateLimit": '"api";t=9;r=0;pk=:cHJvcGVydHk=:'}, 9.0),
        ({"RateLimit": '"burst";r=0;t=5, "api";r=3;t=200'}, 5.0),
        ({"RateLimit": '"burst";r=0;t=5, "day";r=0;t=50'}, 50.0),
        ({"RateLimit": '"a;b,c=d";r=0;t=5'}, 5.0),
        ({"RateLimit": "limit=500, remaining=0, reset=60"}, 60.0),
        ({"RateLimit": "limit=500, remaining=10, reset=60"}, None),
        ({"RateLimit-Remaining": "0", "RateLimit-Reset": "17"}, 17.0),
        ({"ratelimit-remaining": "0", "ratelimit-reset": "2.5"}, 2.5),
        ({"ratelimit-remaining": "4", "ratelimit-reset": "17"}, None),
        ({"RateLimit": '"api";r=0'}, None),
        ({"RateLimit": '"api";r=0;t=-5'}, None),
        ({"RateLimit": '"api";r=0;t=soon'}, None),
        ({"RateLimit": '"api";r=0;t=inf'}, None),
        ({"RateLimit": ";;,,=;r=;t="}, None),
        ({"RateLimit": ""}, None),
        ({}, None),
    ],
)
def test_rate_limit_headers(headers: dict[str, str], expected: float | None) -> None:
    assert rate_limit_wait(headers) == expected
    assert rate_limit_wait(httpx.Headers(headers)) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "120"}, 120.0),
        ({"retry-after": " 3 "}, 3.0),
        (
            {
                "Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT",
                "Date": "Wed, 21 Oct 2015 07:27:00 GMT",
            },
            60.0,
        ),
        (
            {
                "Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT",
                "Date": "Wed, 21 Oct 2015 07:29:00 GMT",
            },
            0.0,
        ),
        # no Date header: measured against the local clock (long past: no wait)
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
        # "-0000" (no zone) is read as UTC, like the server's Date
        (
            {
                "Retry-After": "Wed, 21 Oct 2015 07:28:00 -0000",
                "Date": "Wed, 21 Oct 2015 07:27:00 GMT",
            },
            60.0,
        ),
        ({"Retry-After": "later"}, None),
        ({}, None),
    ],
)
def test_retry_after_header(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after(headers) == expected


# -- concurrency ------------------------------------------------------------------------------


class InFlight:
    """A handler that sleeps a little per request and records how many overlap."""

    def __init__(self, fail: frozenset[str] = frozenset()) -> None:
        self.lock = threading.Lock()
        self.current = 0
        self.peak = 0
        self.queries: list[str] = []
        self.fail = fail

    def __call__(self, request: httpx.Request) -> httpx.Response:
        query = request.url.params["q"]
        with self.lock:
            self.current += 1
            self.peak = max(self.peak, self.current)
            self.queries.append(query)
        try:
            time.sleep(0.02)
        finally:
            with self.lock:
                self.current -= 1
        if query in self.fail:
            return status(500)
        body = search_body()[:1]
        body[0]["paper"]["title"] = f"Result for {query}"
        return ok(body)


@pytest.mark.parametrize("concurrency", [1, 3, 4])
def test_search_many_never_exceeds_the_concurrency(concurrency: int) -> None:
    handler = InFlight()
    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = HfClient(http, api_url=API, concurrency=concurrency)
    queries = [f"q{i}" for i in range(16)]
    results = client.search_many(queries)
    assert handler.peak == concurrency
    assert list(results) == queries
    for query, papers in results.items():
        assert isinstance(papers, list)
        assert papers[0].title == f"Result for {query}"


def test_the_bound_holds_for_callers_using_their_own_threads() -> None:
    handler = InFlight()
    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = HfClient(http, api_url=API, concurrency=2)
    threads = [threading.Thread(target=client.search, args=(f"q{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(handler.queries) == 8
    assert handler.peak == 2


def test_search_many_isolates_failures_and_dedupes_queries() -> None:
    handler = InFlight(fail=frozenset({"bad"}))
    http = httpx.Client(transport=httpx.MockTransport(handler))
    fake = FakeTime()
    client = HfClient(http, api_url=API, max_retries=1, sleep=fake.sleep, clock=fake.clock)
    results = client.search_many(["a", "bad", "b", "a", "c"], limit=5)
    assert list(results) == ["a", "bad", "b", "c"]
    assert isinstance(results["bad"], HuggingFaceError)
    assert results["bad"].status == 500
    for query in ("a", "b", "c"):
        papers = results[query]
        assert isinstance(papers, list)
        assert papers[0].title == f"Result for {query}"
    assert sorted(handler.queries) == ["a", "b", "bad", "bad", "c"]
    assert fake.sleeps == [1.0]


def test_search_many_with_nothing_to_do() -> None:
    client, _ = make_client(Recorder(ok()))
    assert client.search_many([]) == {}


def test_bugs_are_not_swallowed_by_search_many() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("bug")

    client, _ = make_client(broken)
    with pytest.raises(RuntimeError):
        client.search_many(["a"])


def test_bad_settings_are_refused() -> None:
    http = httpx.Client(transport=httpx.MockTransport(Recorder(ok())))
    with pytest.raises(ValueError):
        HfClient(http, api_url=API, concurrency=0)
    with pytest.raises(ValueError):
        HfClient(http, api_url=API, max_retries=-1)


def test_a_trickling_answer_ends_at_the_deadline_and_is_retried() -> None:
    fake = FakeTime()

    def trickle() -> Iterator[bytes]:
        for _ in range(1000):
            fake.now += 1.0  # a byte a second: every read is well within httpx's timeout
            yield b" "

    handler = Recorder(httpx.Response(200, content=trickle()), ok(), clock=fake)
    client, _ = make_client(handler, fake, deadline_seconds=5.0)
    assert client.search("retrieval")  # the second answer came whole
    assert len(handler.requests) == 2
    assert fake.now < 1000.0 + 10 + sum(fake.sleeps)  # cut off after 6 s, not 1000 s
