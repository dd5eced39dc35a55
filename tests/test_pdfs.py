"""Downloading arXiv PDFs for --attach-pdf (readlist.pdfs), against httpx.MockTransport."""

from __future__ import annotations

import httpx
import pytest

from readlist.models import ArxivId
from readlist.pdfs import PdfError, PdfFetcher


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


def fetcher(handler: httpx.MockTransport, clock: Clock) -> PdfFetcher:
    client = httpx.Client(transport=handler)
    return PdfFetcher(
        client, base_url="http://mirror/pdf/", delay_seconds=3.0, sleep=clock.sleep, clock=clock
    )


def test_pdfs_are_fetched_one_every_three_seconds() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, content=b"%PDF-1.4 " + request.url.path.encode())

    clock = Clock()
    pdfs = fetcher(httpx.MockTransport(handler), clock)
    assert pdfs.fetch(ArxivId("2501.00001")) == b"%PDF-1.4 /pdf/2501.00001"
    clock.now += 1.0
    pdfs.fetch(ArxivId("hep-th/9901001", 2))
    assert seen == ["http://mirror/pdf/2501.00001", "http://mirror/pdf/hep-th/9901001"]
    assert clock.slept == [3.0, 2.0]
    assert pdfs.requests == 2


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(404, text="Not Found"), "download failed (HTTP 404)"),
        (
            httpx.Response(200, text="<html>captcha</html>", headers={"Content-Type": "text/html"}),
            "the answer is not a PDF (text/html)",
        ),
    ],
)
def test_a_failure_or_a_page_that_is_not_a_pdf_is_an_error(
    response: httpx.Response, message: str
) -> None:
    pdfs = fetcher(httpx.MockTransport(lambda request: response), Clock())
    with pytest.raises(PdfError) as caught:
        pdfs.fetch(ArxivId("2501.00001"))
    assert caught.value.message == message
    assert caught.value.url == "http://mirror/pdf/2501.00001"


def test_a_connection_failure_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(PdfError, match="download failed \\(ConnectError\\)"):
        fetcher(httpx.MockTransport(handler), Clock()).fetch(ArxivId("2501.00001"))
