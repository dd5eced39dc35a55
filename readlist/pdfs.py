"""Download arXiv PDFs for `--attach-pdf`, politely: one at a time, paced like the arXiv API.

The caller owns the `httpx.Client` (User-Agent, timeouts) and the clock; nothing here prints.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from readlist.errors import ApiError
from readlist.models import ArxivId

# arXiv serves PDFs of a few MB; anything far larger is not the paper.
MAX_PDF_BYTES = 100 * 1024 * 1024


class PdfError(ApiError):
    """A PDF could not be downloaded, or what came back was not a PDF."""

    service = "arXiv PDF"


class PdfFetcher:
    """Fetch `<base_url>/<id>` for each paper, waiting `delay_seconds` between requests."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        base_url: str,
        delay_seconds: float = 3.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.delay_seconds = max(0.0, delay_seconds)
        self.requests = 0
        self._sleep = sleep
        self._clock = clock
        # The arXiv API was probably just used for these papers: wait before the first PDF too.
        self._last: float | None = clock()

    def url(self, aid: ArxivId) -> str:
        """Where the paper's latest PDF is."""
        return f"{self.base_url}/{aid.id}"

    def fetch(self, aid: ArxivId) -> bytes:
        """Return the PDF's bytes; raise PdfError for a failure or something not a PDF."""
        url = self.url(aid)
        if self._last is not None:
            wait = self._last + self.delay_seconds - self._clock()
            if wait > 0:
                self._sleep(wait)
        self.requests += 1
        try:
            response = self.client.get(url)
        except httpx.HTTPError as exc:
            raise PdfError(url, f"download failed ({type(exc).__name__})") from None
        finally:
            self._last = self._clock()
        if response.status_code != 200:
            raise PdfError(url, f"download failed (HTTP {response.status_code})", None)
        content = response.content
        if len(content) > MAX_PDF_BYTES:
            raise PdfError(url, f"the file is larger than {MAX_PDF_BYTES // 2**20} MB")
        if not content.startswith(b"%PDF"):
            kind = response.headers.get("Content-Type", "unknown type")
            raise PdfError(url, f"the answer is not a PDF ({kind})")
        return content
