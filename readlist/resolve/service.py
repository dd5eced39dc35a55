"""The network resolver: listings to verified arXiv papers, with as few requests as possible.

Order of work, cheapest first:
1. identifiers given directly are taken as they are;
2. titles already answered are read from the cache;
3. the rest go to the Hugging Face papers search (bounded concurrency; an HF paper's id is
   its arXiv ID), and a candidate is accepted only by `match.choose`;
4. titles HF could not answer go to the arXiv title search, many per request;
5. canonical metadata for every accepted ID comes from arXiv `id_list`, many per request
   (cached, so a re-run makes no request at all).
An API failure never stops the run: the papers it concerns stay unresolved with the error as
their reason, and everything else is still resolved.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from readlist.errors import ApiError
from readlist.models import ArxivId, Listing, Paper
from readlist.normalize import normalize_title, normalize_whitespace
from readlist.resolve import Resolution, paper_from_listing

if TYPE_CHECKING:
    from readlist.config import Config
    from readlist.resolve._atom import AtomEntry
    from readlist.resolve.arxiv import ArxivClient
    from readlist.resolve.cache import Cache
    from readlist.resolve.hf import HfClient
    from readlist.resolve.match import Candidate, Verdict

# What the CLI is told as work advances: (phase label, done, total).
Progress = Callable[[str, int, int], None]

NOT_FOUND_TTL = 7 * 24 * 3600.0
# Titles per arXiv search request: few requests (each costs 3 s of pacing) against result
# slots per title (the API returns at most per_title * batch entries).
SEARCH_BATCH = 20
# The longest Hugging Face rate-limit wait worth sitting out (see build_resolver).
HF_MAX_WAIT_SECONDS = 10.0
OFFLINE_REASON = "offline, and not in the cache"


@dataclass
class _Pending:
    """One listing on its way through the phases."""

    index: int
    listing: Listing
    arxiv_id: str | None = None  # bare ID once known
    via: str = ""  # how the ID was found: "input", "cache", "hf", "arxiv search"
    reason: str | None = None  # why it is (so far) unresolved
    near: list[str] = field(default_factory=list)
    api_failed: bool = False  # the reason is an API failure: do not cache a 'not found'


def paper_from_entry(entry: AtomEntry, listing: Listing) -> Paper:
    """Build the resolved paper from arXiv's canonical metadata."""
    return Paper(
        title=entry.title,
        abstract=entry.summary or None,
        arxiv_id=ArxivId(entry.arxiv_id.id),
        authors=tuple(entry.authors),
        year=entry.year,
        month=entry.month,
        primary_category=entry.primary_category,
        doi=entry.doi,
        journal_ref=entry.journal_ref,
        resolved=True,
        listing=listing,
    )


class NetworkResolver:
    """Resolve listings through the cache, Hugging Face and arXiv (or the cache alone)."""

    def __init__(
        self,
        *,
        arxiv: ArxivClient | None,
        hf: HfClient | None,
        cache: Cache | None,
        refresh: bool = False,
        hf_concurrency: int = 4,
        progress: Progress | None = None,
    ) -> None:
        self.arxiv = arxiv
        self.hf = hf
        self.cache = cache
        self.refresh = refresh
        self.hf_concurrency = hf_concurrency
        self.progress = progress or (lambda label, done, total: None)

    @property
    def offline(self) -> bool:
        return self.arxiv is None

    def resolve(self, listings: Sequence[Listing]) -> list[Resolution]:
        """Return one resolution per listing, in order."""
        items = [_Pending(i, listing) for i, listing in enumerate(listings)]
        for item in items:
            if item.listing.arxiv_id is not None:
                item.arxiv_id, item.via = item.listing.arxiv_id.id, "input"
            elif not item.listing.title:
                item.reason = "the listing has neither a title nor an arXiv ID"
        todo = [it for it in items if it.arxiv_id is None and it.reason is None]
        todo = self._from_cache(todo)
        if self.offline:
            for item in todo:
                item.reason = OFFLINE_REASON
        else:
            todo = self._from_hf(todo)
            self._from_arxiv_search(todo)
        entries = self._metadata([it for it in items if it.arxiv_id])
        return [self._finish(item, entries) for item in items]

    # -- phases ----------------------------------------------------------------------------

    def _from_cache(self, todo: list[_Pending]) -> list[_Pending]:
        """Answer titles looked up before; return those still open."""
        if self.cache is None or self.refresh:
            return todo
        from readlist.resolve.cache import lookup_key

        still = []
        for item in todo:
            hit = self.cache.get_lookup(lookup_key(item.listing.title or "", item.listing.abstract))
            if hit is None:
                still.append(item)
            elif hit.arxiv_id:
                item.arxiv_id, item.via = hit.arxiv_id, "cache"
            else:
                item.reason = f"{hit.reason or 'not found'} (cached answer; --refresh asks again)"
        return still

    def _from_hf(self, todo: list[_Pending]) -> list[_Pending]:
        """Search Hugging Face for each title; return the listings it could not answer."""
        if self.hf is None or not todo:
            return todo
        from readlist.resolve.match import candidates_from_hf, choose

        hf = self.hf
        queries = {normalize_whitespace(item.listing.title or "") for item in todo}
        answers: dict[str, object] = {}
        with ThreadPoolExecutor(max_workers=max(1, self.hf_concurrency)) as pool:
            futures = {pool.submit(hf.search, q): q for q in queries}
            for done, future in enumerate(as_completed(futures), 1):
                query = futures[future]
                try:
                    answers[query] = future.result()
                except ApiError as exc:
                    answers[query] = exc
                self.progress("Hugging Face", done, len(queries))
        still = []
        for item in todo:
            answer = answers[normalize_whitespace(item.listing.title or "")]
            if isinstance(answer, ApiError):
                item.reason, item.api_failed = str(answer), True
                still.append(item)
                continue
            verdict = choose(item.listing, candidates_from_hf(answer))  # type: ignore[arg-type]
            if verdict.accepted is not None:
                item.arxiv_id, item.via = verdict.accepted.arxiv_id, "hf"
            else:
                self._note(item, verdict, "Hugging Face")
                still.append(item)
        return still

    def _from_arxiv_search(self, todo: list[_Pending]) -> None:
        """Search arXiv titles for what HF could not answer, many titles per request."""
        if not todo or self.arxiv is None:
            return
        from readlist.resolve.match import Candidate, choose

        titles = list(dict.fromkeys(normalize_whitespace(it.listing.title or "") for it in todo))
        self.progress("arXiv search", 0, len(titles))
        try:
            found = self.arxiv.search_titles(titles, batch_size=SEARCH_BATCH)
        except ApiError as exc:
            for item in todo:
                item.reason, item.api_failed = f"{item.reason or 'not found'}; {exc}", True
            return
        self.progress("arXiv search", len(titles), len(titles))
        by_title: dict[str, list[Candidate]] = {}
        everything = []
        for entry in found:
            candidate = Candidate(entry.arxiv_id.id, entry.title, entry.summary, "arxiv")
            by_title.setdefault(normalize_title(entry.title), []).append(candidate)
            everything.append(candidate)
        for item in todo:
            same = by_title.get(normalize_title(item.listing.title or ""))
            verdict = choose(item.listing, same or everything[:50])
            if verdict.accepted is not None:
                item.arxiv_id, item.via = verdict.accepted.arxiv_id, "arxiv search"
                item.reason, item.near, item.api_failed = None, [], False
            else:
                self._note(item, verdict, "arXiv")

    def _metadata(self, items: list[_Pending]) -> dict[str, AtomEntry]:
        """Canonical metadata for every ID found: from the cache, else from arXiv id_list."""
        from readlist.resolve._atom import AtomEntry

        wanted = list(dict.fromkeys(it.arxiv_id for it in items if it.arxiv_id))
        entries: dict[str, AtomEntry] = {}
        if self.cache is not None and not self.refresh:
            for arxiv_id, text in self.cache.get_entries(wanted).items():
                try:
                    entries[arxiv_id] = AtomEntry.from_dict(json.loads(text))
                except (ValueError, KeyError, TypeError):
                    continue  # an unreadable cache row is fetched again
        missing = [i for i in wanted if i not in entries]
        if not missing:
            return entries
        if self.arxiv is None:
            for item in items:
                if item.arxiv_id in missing:
                    item.reason = item.reason or OFFLINE_REASON
            return entries
        self.progress("arXiv metadata", 0, len(missing))
        try:
            fetched = self.arxiv.fetch_ids([ArxivId(i) for i in missing])
        except ApiError as exc:
            for item in items:
                if item.arxiv_id in missing:
                    item.reason, item.api_failed = str(exc), True
            return entries
        self.progress("arXiv metadata", len(missing), len(missing))
        if self.cache is not None and fetched:
            self.cache.put_entries({k: json.dumps(v.to_dict()) for k, v in fetched.items()})
        entries.update(fetched)
        return entries

    # -- results ---------------------------------------------------------------------------

    @staticmethod
    def _note(item: _Pending, verdict: Verdict, where: str) -> None:
        """Record why `where` could not answer, after what earlier sources said."""
        said = f"{where}: {verdict.reason or 'not found'}"
        item.reason = f"{item.reason}; {said}" if item.reason else said
        item.near.extend(n for n in verdict.near if n not in item.near)

    def _finish(self, item: _Pending, entries: dict[str, AtomEntry]) -> Resolution:
        listing = item.listing
        entry = entries.get(item.arxiv_id) if item.arxiv_id else None
        if entry is not None and item.via in ("hf", "arxiv search", "cache"):
            problem = _disagreement(listing, entry)
            if problem:
                item.reason = problem
                item.near.append(f'arXiv:{entry.arxiv_id.id} "{_short(entry.title)}"')
                entry = None
        if entry is None:
            if item.arxiv_id and not item.reason:
                item.reason = f"arXiv has no paper arXiv:{item.arxiv_id}"
            self._remember(item, None)
            return Resolution(
                listing,
                paper_from_listing(listing),
                reason=item.reason or "not found",
                candidates=tuple(item.near[:3]),
            )
        self._remember(item, entry.arxiv_id.id)
        return Resolution(listing, paper_from_entry(entry, listing))

    def _remember(self, item: _Pending, arxiv_id: str | None) -> None:
        """Cache a title's answer: found for good, 'not found' for a while."""
        if self.cache is None or self.offline or item.via in ("input", "cache"):
            return
        if not item.listing.title or item.api_failed:
            return
        from readlist.resolve.cache import lookup_key

        key = lookup_key(item.listing.title, item.listing.abstract)
        if arxiv_id:
            self.cache.put_lookup(key, arxiv_id, ttl=None)
        else:
            self.cache.put_lookup(key, None, reason=item.reason or "not found", ttl=NOT_FOUND_TTL)


def _disagreement(listing: Listing, entry: AtomEntry) -> str | None:
    """Why arXiv's own record refutes a match found elsewhere, if it does."""
    from readlist.resolve.match import ABSTRACT_THRESHOLD, abstract_similarity, titles_match

    if not listing.title or titles_match(listing.title, entry.title):
        return None
    agreeing = (
        listing.abstract
        and entry.summary
        and abstract_similarity(listing.abstract, entry.summary) >= ABSTRACT_THRESHOLD
    )
    if agreeing:
        return None  # retitled in a later version; the abstract confirms it
    return f'arXiv:{entry.arxiv_id.id} is titled "{_short(entry.title)}" on arXiv'


def _short(title: str, limit: int = 70) -> str:
    title = normalize_whitespace(title)
    return title if len(title) <= limit else title[: limit - 1] + "…"


def build_resolver(
    config: Config,
    *,
    offline: bool,
    refresh: bool = False,
    progress: Progress | None = None,
    on_request: Callable[[str], None] | None = None,
    warn: Callable[[str], None] = lambda message: None,
) -> tuple[NetworkResolver, Callable[[], None]]:
    """Make the resolver the config describes, and a function that closes what it opened.

    A cache that cannot be opened (a read-only home, a full disk) is worked around, with a
    warning: it only saves requests, and must not stop a run.
    """
    from readlist import __version__
    from readlist.resolve.cache import Cache, CacheError

    cache: Cache | None
    try:
        cache = Cache.open(config.cache_dir)
    except CacheError as exc:
        warn(f"warning: working without the cache: {exc}")
        cache = None

    def close_cache() -> None:
        if cache is not None:
            cache.close()

    if offline:
        return NetworkResolver(arxiv=None, hf=None, cache=cache, progress=progress), close_cache

    import httpx

    from readlist.resolve.arxiv import ArxivClient, user_agent
    from readlist.resolve.hf import HfClient

    headers = {"User-Agent": user_agent(__version__, config.arxiv.contact)}
    arxiv_http = httpx.Client(
        headers=headers,
        timeout=config.arxiv.timeout_seconds,
        # arXiv's terms: one connection at a time.
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        follow_redirects=True,
    )
    hf_headers = dict(headers)
    if config.huggingface.token:
        hf_headers["Authorization"] = f"Bearer {config.huggingface.token}"
    concurrency = config.huggingface.concurrency
    hf_http = httpx.Client(
        headers=hf_headers,
        timeout=config.arxiv.timeout_seconds,
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        follow_redirects=True,
    )
    arxiv = ArxivClient(
        arxiv_http,
        api_url=config.arxiv.api_url,
        delay_seconds=config.arxiv.delay_seconds,
        timeout_seconds=config.arxiv.timeout_seconds,
        max_retries=config.arxiv.max_retries,
        on_request=on_request,
    )
    hf = HfClient(
        hf_http,
        api_url=config.huggingface.api_url,
        concurrency=concurrency,
        on_request=on_request,
        # HF's rate limit can ask for minutes; rather than wait, the titles it cannot answer
        # now go to the arXiv title search (which is batched, so it costs a few requests).
        max_wait=HF_MAX_WAIT_SECONDS,
        deadline_seconds=config.arxiv.timeout_seconds,
    )
    resolver = NetworkResolver(
        arxiv=arxiv,
        hf=hf,
        cache=cache,
        refresh=refresh,
        hf_concurrency=concurrency,
        progress=progress,
    )

    def close() -> None:
        arxiv_http.close()
        hf_http.close()
        close_cache()

    return resolver, close
