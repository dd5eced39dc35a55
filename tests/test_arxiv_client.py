"""The arXiv API client: pacing, batching, retries and errors, against a MockTransport.

A fake clock stands in for time: `sleep` advances it, and the fake server can make a
response take a while, so every wait the client makes is visible and nothing waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from readlist.errors import ArxivError
from readlist.models import ArxivId
from readlist.resolve.arxiv import ArxivClient, search_query, title_phrase, user_agent

API = "https://export.arxiv.org/api/query"


class FakeClock:
    """A monotonic clock that only moves when someone sleeps (or a response takes time)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Seen:
    """One request as the fake server saw it."""

    method: str
    url: httpx.URL
    params: dict[str, str]
    start: float
    end: float
    headers: httpx.Headers
    timeout: dict[str, float | None] = field(default_factory=dict)


Reply = httpx.Response | Exception | Callable[[dict[str, str]], httpx.Response]
MakeClient = Callable[["FakeArxiv"], httpx.Client]


class FakeArxiv:
    """A MockTransport handler replaying canned replies; the last one repeats forever."""

    def __init__(self, clock: FakeClock, replies: list[Reply], duration: float = 0.0) -> None:
        self.clock = clock
        self.replies = list(replies)
        self.duration = duration
        self.seen: list[Seen] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            assert request.headers["content-type"] == "application/x-www-form-urlencoded"
            form = parse_qs(request.content.decode(), keep_blank_values=True)
            params = {key: values[0] for key, values in form.items()}
        else:
            params = dict(request.url.params)
        start = self.clock.now
        self.clock.now += self.duration
        self.seen.append(
            Seen(
                request.method,
                request.url,
                params,
                start,
                self.clock.now,
                request.headers,
                dict(request.extensions.get("timeout", {})),
            )
        )
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, httpx.Response):
            return reply
        return reply(params)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fixtures(data: Path) -> Path:
    return data / "fixtures" / "arxiv"


@pytest.fixture
def http() -> Iterator[MakeClient]:
    clients: list[httpx.Client] = []

    def make(server: FakeArxiv) -> httpx.Client:
        client = httpx.Client(
            transport=httpx.MockTransport(server), headers={"User-Agent": "readlist-tests"}
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def arxiv(
    http: MakeClient,
    clock: FakeClock,
    server: FakeArxiv,
    **kwargs: object,
) -> ArxivClient:
    return ArxivClient(
        http(server),
        api_url=API,
        sleep=clock.sleep,
        clock=clock.clock,
        **kwargs,  # type: ignore[arg-type]
    )


def entry_xml(arxiv_id: str, title: str = "A title") -> str:
    return (
        f"<entry><id>http://arxiv.org/abs/{arxiv_id}</id><title>{title}</title>"
        "<published>2024-01-02T03:04:05Z</published><updated>2024-01-02T03:04:05Z</updated>"
        "<summary>An abstract.</summary><author><name>A. Author</name></author>"
        '<arxiv:primary_category term="cs.LG"/><category term="cs.LG"/></entry>'
    )


def feed(*ids: str) -> httpx.Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom"'
        ' xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
        f"<opensearch:totalResults>{len(ids)}</opensearch:totalResults>"
        + "".join(entry_xml(i) for i in ids)
        + "</feed>"
    )
    return httpx.Response(
        200, content=body.encode(), headers={"content-type": "application/atom+xml"}
    )


def echo_ids(params: dict[str, str]) -> httpx.Response:
    """Answer an id_list query with one v1 entry per requested ID (bare ones become v1)."""
    if "id_list" not in params:
        return feed()
    ids = [i if "v" in i.split("/")[-1] else f"{i}v1" for i in params["id_list"].split(",")]
    return feed(*ids)


def new_ids(count: int, start: int = 1) -> list[ArxivId]:
    return [ArxivId(f"2401.{n:05d}") for n in range(start, start + count)]


# --- pacing -----------------------------------------------------------------------------


def test_pacing_measures_from_end_of_previous_response(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [echo_ids], duration=5.0)  # a slow server: 5 s per response
    client = arxiv(http, clock, server)
    for arxiv_id in new_ids(4):
        client.fetch_ids([arxiv_id])
    assert len(server.seen) == 4
    assert clock.sleeps == [3.0, 3.0, 3.0]
    gaps = [b.start - a.end for a, b in zip(server.seen, server.seen[1:], strict=False)]
    assert gaps == [3.0, 3.0, 3.0]


def test_pacing_only_waits_for_what_is_left(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [echo_ids])
    client = arxiv(http, clock, server, delay_seconds=3.0)
    client.fetch_ids(new_ids(1))
    assert clock.sleeps == []  # the first request never waits
    clock.now += 1.0  # the caller spent a second elsewhere
    client.fetch_ids(new_ids(1, start=2))
    clock.now += 10.0  # ...and then ten
    client.fetch_ids(new_ids(1, start=3))
    assert clock.sleeps == [2.0]


def test_pacing_is_configurable_upward(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [echo_ids])
    client = arxiv(http, clock, server, delay_seconds=7.5)
    client.fetch_ids(new_ids(1))
    client.search_titles(["Attention Is All You Need"])
    assert clock.sleeps == [7.5]


def test_requests_from_threads_are_serialized(http: MakeClient, clock: FakeClock) -> None:
    lock = threading.Lock()
    active = 0
    most = 0

    def slow(params: dict[str, str]) -> httpx.Response:
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        time.sleep(0.01)  # real time, to give other threads a chance to overlap
        with lock:
            active -= 1
        return echo_ids(params)

    server = FakeArxiv(clock, [slow])
    client = arxiv(http, clock, server)
    threads = [
        threading.Thread(target=client.fetch_ids, args=(new_ids(1, start=n),)) for n in range(1, 7)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1
    assert len(server.seen) == 6
    assert clock.sleeps == [3.0] * 5
    starts = sorted(seen.start for seen in server.seen)
    assert all(b - a >= 3.0 for a, b in zip(starts, starts[1:], strict=False))


# --- fetch_ids ----------------------------------------------------------------------------


def test_fetch_ids_sends_max_results_equal_to_batch(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [echo_ids])
    client = arxiv(http, clock, server)
    ids = [ArxivId("2401.00001"), ArxivId("2312.06647", 2), ArxivId("hep-th/9901001")]
    result = client.fetch_ids(ids)
    (seen,) = server.seen
    assert seen.method == "GET"
    assert seen.params == {
        "id_list": "2401.00001,2312.06647v2,hep-th/9901001",
        "start": "0",
        "max_results": "3",
    }
    # Old-style IDs have their slash URL-encoded.
    assert b"hep-th%2F9901001" in seen.url.query
    assert list(result) == ["2401.00001", "2312.06647", "hep-th/9901001"]
    assert result["2312.06647"].arxiv_id == ArxivId("2312.06647", 2)


def test_fetch_ids_batches_of_100(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [echo_ids])
    client = arxiv(http, clock, server)
    result = client.fetch_ids(new_ids(250))
    assert [s.params["max_results"] for s in server.seen] == ["100", "100", "50"]
    assert [len(s.params["id_list"].split(",")) for s in server.seen] == [100, 100, 50]
    assert all(s.method == "GET" and s.params["start"] == "0" for s in server.seen)
    assert len(result) == 250
    assert clock.sleeps == [3.0, 3.0]


def test_fetch_ids_custom_batch_size(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [echo_ids])
    client = arxiv(http, clock, server)
    client.fetch_ids(new_ids(5), batch_size=2)
    assert [s.params["max_results"] for s in server.seen] == ["2", "2", "1"]


def test_fetch_ids_posts_long_lists(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [echo_ids])
    client = arxiv(http, clock, server)
    result = client.fetch_ids(new_ids(300), batch_size=300)
    (seen,) = server.seen
    assert seen.method == "POST"
    assert seen.url == httpx.URL(API)  # nothing in the query string
    assert seen.params["max_results"] == "300"
    assert seen.params["start"] == "0"
    assert seen.params["id_list"].split(",")[:2] == ["2401.00001", "2401.00002"]
    assert len(result) == 300


def test_old_style_id_from_recorded_feed(
    http: MakeClient, clock: FakeClock, fixtures: Path
) -> None:
    body = (fixtures / "id_astro-ph_0601001_oldstyle.xml").read_bytes()
    server = FakeArxiv(clock, [httpx.Response(200, content=body)])
    client = arxiv(http, clock, server)
    result = client.fetch_ids([ArxivId("astro-ph/0601001")])
    assert b"id_list=astro-ph%2F0601001&start=0&max_results=1" in server.seen[0].url.query
    assert list(result) == ["astro-ph/0601001"]
    assert result["astro-ph/0601001"].journal_ref == "ActaAstron.56:1-50,2006"


def test_versioned_request_keeps_its_version(
    http: MakeClient, clock: FakeClock, fixtures: Path
) -> None:
    body = (fixtures / "id_2104.12255v1_title_is_0.xml").read_bytes()
    server = FakeArxiv(clock, [httpx.Response(200, content=body)])
    client = arxiv(http, clock, server)
    result = client.fetch_ids([ArxivId("2104.12255", 1)])
    assert server.seen[0].params["id_list"] == "2104.12255v1"
    assert result["2104.12255"].title == "0"


def test_unknown_ids_are_simply_absent(http: MakeClient, clock: FakeClock, fixtures: Path) -> None:
    body = (fixtures / "id_batch_0808.05394_1707.08567.xml").read_bytes()
    server = FakeArxiv(clock, [httpx.Response(200, content=body)])
    client = arxiv(http, clock, server)
    result = client.fetch_ids([ArxivId("0808.05394"), ArxivId("1707.08567")])
    assert server.seen[0].params == {
        "id_list": "0808.05394,1707.08567",
        "start": "0",
        "max_results": "2",
    }
    assert list(result) == ["1707.08567"]
    assert len(result["1707.08567"].authors) == 34


def test_nonexistent_id_gives_empty_result(
    http: MakeClient, clock: FakeClock, fixtures: Path
) -> None:
    body = (fixtures / "id_0000.0000_nonexistent_empty.xml").read_bytes()
    server = FakeArxiv(clock, [httpx.Response(200, content=body)])
    client = arxiv(http, clock, server)
    assert client.fetch_ids([ArxivId("0000.0000")]) == {}


def test_entries_out_of_order_are_keyed_by_their_own_id(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [feed("2401.00003v2", "2401.00001v1", "2401.00002v5")])
    client = arxiv(http, clock, server)
    result = client.fetch_ids(new_ids(3))
    assert list(result) == ["2401.00001", "2401.00002", "2401.00003"]  # request order
    assert {k: v.arxiv_id.version for k, v in result.items()} == {
        "2401.00001": 1,
        "2401.00002": 5,
        "2401.00003": 2,
    }


def test_entries_not_asked_for_are_ignored(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [feed("2401.00001v1", "2401.09999v1", "2401.00002v3")])
    client = arxiv(http, clock, server)
    result = client.fetch_ids([ArxivId("2401.00001"), ArxivId("2401.00002", 2)])
    # 2401.09999 was never requested; 2401.00002 came back in another version than asked.
    assert list(result) == ["2401.00001"]


def test_duplicate_ids_are_requested_once(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [echo_ids])
    client = arxiv(http, clock, server)
    ids = [
        ArxivId("2401.00001"),
        ArxivId("2401.00002"),
        ArxivId("2401.00001"),
        ArxivId("2401.00001", 3),
    ]
    result = client.fetch_ids(ids)
    assert server.seen[0].params["id_list"] == "2401.00001,2401.00002"
    assert server.seen[0].params["max_results"] == "2"
    assert list(result) == ["2401.00001", "2401.00002"]


def test_no_ids_no_request(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [echo_ids])
    assert arxiv(http, clock, server).fetch_ids([]) == {}
    assert server.seen == []


def test_timeout_and_caller_headers_are_used(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [echo_ids])
    client = arxiv(http, clock, server, timeout_seconds=12.5)
    client.fetch_ids(new_ids(1))
    (seen,) = server.seen
    assert seen.timeout == {"connect": 12.5, "read": 12.5, "write": 12.5, "pool": 12.5}
    assert seen.headers["user-agent"] == "readlist-tests"


# --- retries ----------------------------------------------------------------------------


def test_429_honours_retry_after_seconds(http: MakeClient, clock: FakeClock) -> None:
    limited = httpx.Response(429, text="Rate exceeded.", headers={"Retry-After": "60"})
    server = FakeArxiv(clock, [limited, echo_ids])
    requests: list[str] = []
    client = arxiv(http, clock, server, on_request=requests.append)
    result = client.fetch_ids(new_ids(1))
    assert list(result) == ["2401.00001"]
    assert clock.sleeps == [60.0]
    assert server.seen[1].start - server.seen[0].end == 60.0
    assert len(requests) == 2


def test_429_honours_retry_after_http_date(http: MakeClient, clock: FakeClock) -> None:
    limited = httpx.Response(
        429,
        headers={
            "Date": "Wed, 21 Oct 2026 07:28:00 GMT",
            "Retry-After": "Wed, 21 Oct 2026 07:29:30 GMT",
        },
    )
    server = FakeArxiv(clock, [limited, echo_ids])
    arxiv(http, clock, server).fetch_ids(new_ids(1))
    assert clock.sleeps == [90.0]


def test_429_never_comes_back_within_ten_seconds(http: MakeClient, clock: FakeClock) -> None:
    limited = httpx.Response(429, headers={"Retry-After": "1"})
    server = FakeArxiv(clock, [limited, echo_ids])
    arxiv(http, clock, server).fetch_ids(new_ids(1))
    assert clock.sleeps == [10.0]


def test_429_without_retry_after_backs_off_exponentially(
    http: MakeClient, clock: FakeClock
) -> None:
    server = FakeArxiv(clock, [httpx.Response(429), httpx.Response(429), echo_ids])
    arxiv(http, clock, server).fetch_ids(new_ids(1))
    assert clock.sleeps == [10.0, 20.0]
    assert len(server.seen) == 3


def test_retry_after_beyond_the_cap_gives_up_at_once(http: MakeClient, clock: FakeClock) -> None:
    limited = httpx.Response(429, headers={"Retry-After": "3600"})
    server = FakeArxiv(clock, [limited, echo_ids])
    with pytest.raises(ArxivError) as info:
        arxiv(http, clock, server).fetch_ids(new_ids(1))
    assert info.value.status == 429
    assert "asked to wait 3600 s" in info.value.message
    assert len(server.seen) == 1
    assert clock.sleeps == []


def test_503_then_success(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [httpx.Response(503), echo_ids])
    result = arxiv(http, clock, server).fetch_ids(new_ids(2))
    assert len(result) == 2
    assert clock.sleeps == [10.0]


def test_503_with_retry_after(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [httpx.Response(503, headers={"Retry-After": "45"}), echo_ids])
    arxiv(http, clock, server).fetch_ids(new_ids(1))
    assert clock.sleeps == [45.0]


def test_repeated_500_gives_up_after_max_retries(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [httpx.Response(500)])
    client = arxiv(http, clock, server, max_retries=4, backoff_cap_seconds=30.0)
    with pytest.raises(ArxivError) as info:
        client.fetch_ids(new_ids(1))
    assert info.value.status == 500
    assert info.value.message == "HTTP 500 Internal Server Error; gave up after 5 attempts"
    assert len(server.seen) == 5
    assert clock.sleeps == [10.0, 20.0, 30.0, 30.0]  # doubling, each wait capped
    assert sum(clock.sleeps) == 90.0


def test_default_backoff_schedule_and_cap(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [httpx.Response(502)])
    client = arxiv(http, clock, server, max_retries=6)
    with pytest.raises(ArxivError):
        client.fetch_ids(new_ids(1))
    assert clock.sleeps == [10.0, 20.0, 40.0, 80.0, 120.0, 120.0]


def test_backoff_starts_at_the_delay_when_longer(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [httpx.Response(500), echo_ids])
    arxiv(http, clock, server, delay_seconds=15.0).fetch_ids(new_ids(1))
    assert clock.sleeps == [15.0]


def test_no_retries_at_all(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [httpx.Response(503)])
    with pytest.raises(ArxivError, match="gave up after 1 attempts"):
        arxiv(http, clock, server, max_retries=0).fetch_ids(new_ids(1))
    assert clock.sleeps == []


def test_a_timeout_is_retried_once(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [httpx.ReadTimeout("slow"), echo_ids], duration=30.0)
    result = arxiv(http, clock, server).fetch_ids(new_ids(1))
    assert list(result) == ["2401.00001"]
    assert clock.sleeps == [10.0]
    # The backoff counts from the end of the failed (timed-out) request.
    assert server.seen[1].start - server.seen[0].end == 10.0


def test_a_second_timeout_gives_up_whatever_max_retries_says(
    http: MakeClient, clock: FakeClock
) -> None:
    server = FakeArxiv(
        clock, [httpx.ReadTimeout("slow"), httpx.ConnectTimeout("slow"), echo_ids], duration=30.0
    )
    with pytest.raises(ArxivError) as info:
        arxiv(http, clock, server, max_retries=4).fetch_ids(new_ids(1))
    assert info.value.message == (
        "no answer within 30 s (ConnectTimeout); gave up after 2 attempts"
    )
    assert clock.sleeps == [10.0]


def test_persistent_connection_failure(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [httpx.ConnectError("connection refused")])
    with pytest.raises(ArxivError) as info:
        arxiv(http, clock, server, max_retries=2).fetch_ids(new_ids(1))
    assert info.value.status is None
    assert info.value.message == "connection failed: connection refused; gave up after 2 attempts"
    assert clock.sleeps == [10.0]


def test_persistent_timeout_message(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [httpx.ReadTimeout("timed out")])
    with pytest.raises(ArxivError) as info:
        arxiv(http, clock, server, max_retries=1, timeout_seconds=30).fetch_ids(new_ids(1))
    assert info.value.message == "no answer within 30 s (ReadTimeout); gave up after 2 attempts"


def test_unsupported_protocol_is_not_retried(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(
        clock, [httpx.UnsupportedProtocol("Request URL has an unsupported protocol")]
    )
    with pytest.raises(ArxivError, match="cannot connect"):
        arxiv(http, clock, server).fetch_ids(new_ids(1))
    assert len(server.seen) == 1


def test_400_error_feed_gives_arxivs_message(
    http: MakeClient, clock: FakeClock, fixtures: Path
) -> None:
    body = (fixtures / "id_abc_malformed_http400.xml").read_bytes()
    server = FakeArxiv(clock, [httpx.Response(400, content=body)])
    with pytest.raises(ArxivError) as info:
        arxiv(http, clock, server).fetch_ids([ArxivId("abc")])
    assert info.value.status == 400
    assert info.value.message == "incorrect id format for abc"
    assert info.value.url == f"{API}?id_list=abc&start=0&max_results=1"
    assert str(info.value) == (
        f"arXiv API (HTTP 400): incorrect id format for abc [{API}?id_list=abc&start=0&max_results=1]"
    )
    assert len(server.seen) == 1
    assert clock.sleeps == []


def test_4xx_without_a_feed(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [httpx.Response(404, html="<html><body>nope</body></html>")])
    with pytest.raises(ArxivError) as info:
        arxiv(http, clock, server).fetch_ids(new_ids(1))
    assert (info.value.status, info.value.message) == (404, "HTTP 404 Not Found")
    assert len(server.seen) == 1


def test_4xx_plain_text_is_quoted(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [httpx.Response(414, text="URI too long\n")])
    with pytest.raises(ArxivError) as info:
        arxiv(http, clock, server).fetch_ids(new_ids(1))
    assert info.value.message == "HTTP 414 Request-URI Too Long: URI too long"


def test_redirect_is_an_error(http: MakeClient, clock: FakeClock) -> None:
    moved = httpx.Response(301, headers={"Location": "https://export.arxiv.org/api/query"})
    server = FakeArxiv(clock, [moved])
    with pytest.raises(ArxivError) as info:
        arxiv(http, clock, server).fetch_ids(new_ids(1))
    assert info.value.status == 301
    assert info.value.message == "unexpected redirect to https://export.arxiv.org/api/query"


def test_truncated_200_is_retried_once(http: MakeClient, clock: FakeClock) -> None:
    good = feed("2401.00001v1")
    server = FakeArxiv(clock, [httpx.Response(200, content=good.content[:150]), good])
    requests: list[str] = []
    result = arxiv(http, clock, server, on_request=requests.append).fetch_ids(new_ids(1))
    assert list(result) == ["2401.00001"]
    assert clock.sleeps == [3.0]  # just the usual pacing
    assert requests == ["arXiv metadata for 1 paper", "arXiv metadata for 1 paper (retry)"]


def test_unparsable_200_twice_is_an_error(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [httpx.Response(200, html="<html><title>Oops</title></html>")])
    with pytest.raises(ArxivError) as info:
        arxiv(http, clock, server).fetch_ids(new_ids(1))
    assert info.value.message == "received an HTML page (Oops) instead of an Atom feed"
    assert len(server.seen) == 2


def test_error_feed_with_200_is_not_retried(
    http: MakeClient, clock: FakeClock, fixtures: Path
) -> None:
    body = (fixtures / "id_abc_malformed_http400.xml").read_bytes()
    server = FakeArxiv(clock, [httpx.Response(200, content=body)])
    with pytest.raises(ArxivError, match="incorrect id format for abc"):
        arxiv(http, clock, server).fetch_ids([ArxivId("abc")])
    assert len(server.seen) == 1


def test_invalid_api_url(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [echo_ids])
    client = ArxivClient(http(server), api_url="https://host:port/q", sleep=clock.sleep)
    with pytest.raises(ArxivError, match="invalid arXiv API URL"):
        client.fetch_ids(new_ids(1))
    assert server.seen == []


@pytest.mark.parametrize("url", ["export.arxiv.org/api/query", "ftp://export.arxiv.org/api", ""])
def test_api_url_must_be_http(http: MakeClient, clock: FakeClock, url: str) -> None:
    server = FakeArxiv(clock, [echo_ids])
    client = ArxivClient(http(server), api_url=url, sleep=clock.sleep)
    with pytest.raises(ArxivError, match="expected http"):
        client.fetch_ids(new_ids(1))
    assert server.seen == []


# --- search_titles ----------------------------------------------------------------------


def test_search_query_for_two_titles(http: MakeClient, clock: FakeClock, fixtures: Path) -> None:
    body = (fixtures / "search_all_testing_start0_max10.xml").read_bytes()
    server = FakeArxiv(clock, [httpx.Response(200, content=body)])
    titles = [
        'InternVL3: Exploring Advanced Training and "Test-Time" Recipes for Open-Source Models',
        "Attention Is All You Need",
    ]
    entries = arxiv(http, clock, server).search_titles(titles)
    (seen,) = server.seen
    assert seen.method == "GET"
    assert seen.params == {
        "search_query": (
            'ti:"internvl3 exploring advanced training and test time recipes for open source '
            'models" OR ti:"attention is all you need"'
        ),
        "start": "0",
        "max_results": "10",
    }
    assert seen.url.query.startswith(b"search_query=ti%3A%22internvl3+exploring+advanced")
    assert len(entries) == 10
    assert entries[0].arxiv_id == ArxivId("2202.12139", 1)


def test_search_titles_batches_and_deduplicates(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [feed("2401.00001v1", "2401.00002v2")])
    titles = [f"Paper number {n}" for n in range(25)]
    entries = arxiv(http, clock, server).search_titles(titles, batch_size=10, per_title=3)
    assert [s.params["max_results"] for s in server.seen] == ["30", "30", "15"]
    assert [s.params["search_query"].count(" OR ") for s in server.seen] == [9, 9, 4]
    assert server.seen[2].params["search_query"].startswith('ti:"paper number 20" OR ')
    # Every batch answered the same two papers: they come back once.
    assert [str(e.arxiv_id) for e in entries] == ["2401.00001v1", "2401.00002v2"]
    assert clock.sleeps == [3.0, 3.0]


def test_search_titles_default_batch_is_ten(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [feed()])
    arxiv(http, clock, server).search_titles([f"Title {n}" for n in range(11)])
    assert [s.params["max_results"] for s in server.seen] == ["50", "5"]


def test_search_titles_skips_empty_and_repeated_titles(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [feed()])
    client = arxiv(http, clock, server)
    assert client.search_titles(["", "  ", "???", "—"]) == []
    assert server.seen == []
    client.search_titles(["Deep Learning", "deep learning!", "DEEP  LEARNING"])
    assert server.seen[0].params["search_query"] == 'ti:"deep learning"'
    assert server.seen[0].params["max_results"] == "5"


def test_on_request_is_called_once_per_http_request(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [httpx.Response(503), echo_ids, feed()])
    calls: list[str] = []
    client = arxiv(http, clock, server, on_request=calls.append)
    client.fetch_ids(new_ids(3))
    client.search_titles(["One title", "Another title"])
    assert calls == [
        "arXiv metadata for 3 papers",
        "arXiv metadata for 3 papers (retry)",
        "arXiv title search for 2 titles",
    ]
    assert len(calls) == len(server.seen)


@pytest.mark.parametrize(
    ("title", "phrase"),
    [
        ("Attention Is All You Need", "attention is all you need"),
        (
            'InternVL3: Exploring "Test-Time" Recipes',
            "internvl3 exploring test time recipes",
        ),
        ("Qwen2.5-VL Technical Report", "qwen2.5 vl technical report"),
        ("Don\u2019t Stop Pretraining", "don't stop pretraining"),
        ("Scaling to 1,000 GPUs, fast", "scaling to 1,000 gpus fast"),
        ("AND OR NOT ANDNOT", "and or not andnot"),
        ("(Wild*card?) [brackets] {braces} <angle> a_b c\\d $x$ e~f g^h i/j k|l m&n", None),
        ("Schrödinger Bridges for $\\alpha$-Divergences", "bridges for alpha divergences"),
        ("ﬁne-tuning ＬＬＭｓ", "fine tuning llms"),
        ("0", "0"),
        ("'Quoted' ...dots... end.", "quoted dots end"),
        ("one two three four five six seven eight nine ten eleven twelve thirteen", None),
    ],
)
def test_title_phrase(title: str, phrase: str | None) -> None:
    result = title_phrase(title)
    if phrase is not None:
        assert result == phrase
    for char in '"\\()[]{}<>:*?$_~^/|&+-!':
        assert char not in result
    assert result == result.lower()
    assert len(result.split()) <= 12


def test_title_phrase_keeps_the_first_twelve_words() -> None:
    title = "One two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    assert title_phrase(title) == "one two three four five six seven eight nine ten eleven twelve"


def test_search_query_joins_phrases() -> None:
    assert search_query(["a b", "c"]) == 'ti:"a b" OR ti:"c"'


# --- construction and helpers -----------------------------------------------------------


def test_bad_arguments(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [echo_ids])
    with pytest.raises(ValueError):
        arxiv(http, clock, server, delay_seconds=-1)
    client = arxiv(http, clock, server)
    with pytest.raises(ValueError):
        client.fetch_ids(new_ids(1), batch_size=0)
    with pytest.raises(ValueError):
        client.search_titles(["x"], per_title=0)
    with pytest.raises(ValueError):
        client.search_titles(["x"], batch_size=100, per_title=50)
    assert server.seen == []


@pytest.mark.parametrize(
    ("contact", "expected"),
    [
        ("", "readlist/0.1.0 (+https://github.com/readlist/readlist)"),
        ("x@y", "readlist/0.1.0 (+https://github.com/readlist/readlist; mailto:x@y)"),
        ("mailto:x@y", "readlist/0.1.0 (+https://github.com/readlist/readlist; mailto:x@y)"),
        (
            "https://example.org/me",
            "readlist/0.1.0 (+https://github.com/readlist/readlist; https://example.org/me)",
        ),
        ("x@y\r\nEvil: 1", "readlist/0.1.0 (+https://github.com/readlist/readlist; x@yEvil: 1)"),
    ],
)
def test_user_agent(contact: str, expected: str) -> None:
    assert user_agent("0.1.0", contact) == expected


# --- hostile answers: stalls, trickles, proxy pages; the backoff floor ------------------------


def trickle(clock: FakeClock, chunks: int, seconds_each: float) -> httpx.Response:
    """A 200 whose body arrives a few bytes at a time, `seconds_each` apart (by the clock)."""

    def body() -> Iterator[bytes]:
        for _ in range(chunks):
            clock.now += seconds_each
            yield b"<"

    return httpx.Response(200, content=body(), headers={"content-type": "application/atom+xml"})


def test_a_trickling_answer_is_cut_off_at_the_deadline(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [lambda _: trickle(clock, 10_000, 1.0)])
    client = arxiv(http, clock, server, timeout_seconds=5.0)
    with pytest.raises(ArxivError) as info:
        client.fetch_ids(new_ids(1))
    assert info.value.message == (
        "no complete answer within 5 s (the server stalled after 6 bytes); gave up after 2 attempts"
    )
    assert len(server.seen) == 2
    assert clock.sleeps == [10.0]  # one backoff; each attempt lasted 6 s on the clock


def test_an_answer_slower_than_the_deadline_is_a_stall(http: MakeClient, clock: FakeClock) -> None:
    server = FakeArxiv(clock, [echo_ids], duration=8.0)
    with pytest.raises(ArxivError, match=r"no complete answer within 5 s \(the server stalled"):
        arxiv(http, clock, server, timeout_seconds=5.0).fetch_ids(new_ids(1))
    assert len(server.seen) == 2


def test_a_proxy_error_page_is_retried_once_and_named(http: MakeClient, clock: FakeClock) -> None:
    page = httpx.Response(
        502, html="<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    )
    server = FakeArxiv(clock, [page])
    with pytest.raises(ArxivError) as info:
        arxiv(http, clock, server, max_retries=4).fetch_ids(new_ids(1))
    assert info.value.status == 502
    assert info.value.message == (
        "HTTP 502 Bad Gateway (an HTML page (502 Bad Gateway)); gave up after 2 attempts"
    )
    assert clock.sleeps == [10.0]


def test_after_giving_up_the_client_asks_no_more(http: MakeClient, clock: FakeClock) -> None:
    down = httpx.Response(503, html="<html>down</html>")
    server = FakeArxiv(clock, [down, down, echo_ids])
    client = arxiv(http, clock, server)
    with pytest.raises(ArxivError):
        client.fetch_ids(new_ids(1))
    asked = len(server.seen)
    with pytest.raises(ArxivError) as info:
        client.search_titles(["Another title"])
    assert info.value.message.endswith("(earlier in this run; not asked again)")
    assert "HTTP 503" in info.value.message
    assert len(server.seen) == asked


def test_an_oversized_answer_is_refused(
    http: MakeClient, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import readlist.resolve.arxiv

    monkeypatch.setattr(readlist.resolve.arxiv, "MAX_RESPONSE_BYTES", 100)
    server = FakeArxiv(clock, [lambda _: trickle(clock, 1000, 0.0)])
    with pytest.raises(ArxivError, match="larger than"):
        arxiv(http, clock, server, max_retries=0).fetch_ids(new_ids(1))


@pytest.mark.parametrize("delay", [0.0, 0.05, 1.0, 2.9])
def test_backoff_never_drops_below_three_seconds(
    http: MakeClient, clock: FakeClock, delay: float
) -> None:
    server = FakeArxiv(clock, [httpx.Response(500), httpx.Response(500), echo_ids])
    arxiv(http, clock, server, delay_seconds=delay, backoff_cap_seconds=1.0).fetch_ids(new_ids(1))
    assert clock.sleeps == [3.0, 3.0]
    assert server.seen[1].start - server.seen[0].end == 3.0


def test_backoff_doubles_from_the_floor_for_a_fast_mirror(
    http: MakeClient, clock: FakeClock
) -> None:
    server = FakeArxiv(clock, [httpx.Response(500)])
    with pytest.raises(ArxivError):
        arxiv(http, clock, server, delay_seconds=0.05, max_retries=3).fetch_ids(new_ids(1))
    assert clock.sleeps == [3.0, 6.0, 12.0]


def test_short_retry_after_still_waits_the_floor(http: MakeClient, clock: FakeClock) -> None:
    limited = httpx.Response(429, headers={"Retry-After": "0"})
    server = FakeArxiv(clock, [limited, echo_ids])
    arxiv(http, clock, server, delay_seconds=0.05).fetch_ids(new_ids(1))
    assert clock.sleeps == [3.0]


def test_long_retry_after_is_honoured_for_a_fast_mirror(http: MakeClient, clock: FakeClock) -> None:
    limited = httpx.Response(503, headers={"Retry-After": "7"})
    server = FakeArxiv(clock, [limited, echo_ids])
    arxiv(http, clock, server, delay_seconds=0.05).fetch_ids(new_ids(1))
    assert clock.sleeps == [7.0]
