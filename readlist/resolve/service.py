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

Every answer is committed to the cache as it arrives (each Hugging Face search, each arXiv
batch), not at the end, and the work runs in a helper thread that a stop signal asks to end
after the requests in flight (`readlist.signals.run_stoppable`): a run interrupted at any
moment keeps every answer it received, and running it again repeats none of those requests.
"""

from __future__ import annotations

import contextlib
import json
import queue
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from readlist.errors import ApiError
from readlist.models import ArxivId, Listing, Paper
from readlist.normalize import normalize_title, normalize_whitespace
from readlist.resolve import Resolution, paper_from_listing
from readlist.signals import Stopped, run_stoppable, stoppable_sleep

if TYPE_CHECKING:
    import httpx

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
# IDs per arXiv id_list request; each batch's metadata is cached as soon as it arrives.
METADATA_BATCH = 100
# Cache keys of Hugging Face's own "no match" for a listing (`HF_STAGE` + lookup_key): kept so
# that a run interrupted before the arXiv title search does not ask Hugging Face again. The
# listing's final answer is stored under the plain lookup_key, as before.
HF_STAGE = "hf:"
# The longest Hugging Face rate-limit wait worth sitting out (see build_resolver).
HF_MAX_WAIT_SECONDS = 10.0
OFFLINE_REASON = "offline, and not in the cache"
_ISO_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


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
    stored: tuple[str | None] | None = None  # the answer already cached for it in this run


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
        date=_iso_date(entry.published),
        latest_date=_iso_date(entry.updated) or _iso_date(entry.published),
        categories=tuple(
            dict.fromkeys(c for c in (entry.primary_category, *entry.categories) if c and c.strip())
        ),
        comment=entry.comment or None,
    )


def _iso_date(stamp: str) -> str | None:
    """The `YYYY-MM-DD` of an arXiv Atom timestamp (``2025-04-14T17:59:25Z``), if it has one."""
    match = _ISO_DATE_RE.match(stamp or "")
    if match is None or not 1 <= int(match.group(2)) <= 12 or not 1 <= int(match.group(3)) <= 31:
        return None
    return match.group(0)


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
        stop: threading.Event | None = None,
    ) -> None:
        self.arxiv = arxiv
        self.hf = hf
        self.cache = cache
        self.refresh = refresh
        self.hf_concurrency = hf_concurrency
        self.progress = progress or (lambda label, done, total: None)
        # Set by a stop signal (see `resolve`): end after the requests in flight.
        self.stop = stop or threading.Event()
        self.saved = 0  # answers committed to the cache in this run

    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise Stopped()

    @property
    def offline(self) -> bool:
        return self.arxiv is None

    def resolve(self, listings: Sequence[Listing]) -> list[Resolution]:
        """Return one resolution per listing, in order.

        A stop signal (KeyboardInterrupt) while this runs ends it after the requests in flight,
        whose answers are cached first; the signal's exception then goes on.
        """
        if self.offline:
            return self._resolve(listings)
        return run_stoppable(lambda: self._resolve(listings), self.stop)

    def _resolve(self, listings: Sequence[Listing]) -> list[Resolution]:
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
        """Search Hugging Face for each title; return the listings it could not answer.

        Each answer is decided and cached as it arrives. A "no match" kept from an earlier,
        interrupted run is used instead of asking again.
        """
        if self.hf is None or not todo:
            return todo
        still = [item for item in todo if self._hf_said_no(item)]
        answered = {id(item) for item in still}
        by_query: dict[str, list[_Pending]] = {}
        for item in todo:
            if id(item) not in answered:
                by_query.setdefault(normalize_whitespace(item.listing.title or ""), []).append(item)
        hf = self.hf

        def ask(query: str) -> object:
            if self.stop.is_set():
                raise Stopped()
            return hf.search(query)

        answers = _unordered(ask, list(by_query), self.hf_concurrency)
        for done, (query, answer) in enumerate(answers, 1):
            if isinstance(answer, Stopped):
                continue  # not asked; the answers that did come are still saved
            if isinstance(answer, BaseException) and not isinstance(answer, ApiError):
                raise answer
            for item in by_query[query]:
                if not self._take_hf_answer(item, answer):
                    still.append(item)
            self.progress("Hugging Face", done, len(by_query))
        self._check_stop()
        return sorted(still, key=lambda it: it.index)

    def _hf_said_no(self, item: _Pending) -> bool:
        """Take Hugging Face's cached "no match" for this listing, if there is one."""
        if self.cache is None or self.refresh:
            return False
        from readlist.resolve.cache import lookup_key

        key = lookup_key(item.listing.title or "", item.listing.abstract)
        hit = self.cache.get_lookup(HF_STAGE + key)
        if hit is None or hit.arxiv_id:
            return False
        try:
            said = json.loads(hit.reason)
            item.reason, item.near = str(said["reason"]), [str(n) for n in said["near"]]
        except (ValueError, KeyError, TypeError):
            return False
        return True

    def _take_hf_answer(self, item: _Pending, answer: object) -> bool:
        """Judge Hugging Face's answer for one listing and cache it; True when accepted."""
        from readlist.resolve.match import candidates_from_hf, choose

        if isinstance(answer, ApiError):
            item.reason, item.api_failed = str(answer), True
            return False
        verdict = choose(item.listing, candidates_from_hf(answer))  # type: ignore[arg-type]
        if verdict.accepted is not None:
            item.arxiv_id, item.via = verdict.accepted.arxiv_id, "hf"
            self._remember(item, item.arxiv_id)
            return True
        self._note(item, verdict, "Hugging Face")
        if self.cache is not None and item.listing.title:
            from readlist.resolve.cache import lookup_key

            key = lookup_key(item.listing.title, item.listing.abstract)
            said = json.dumps({"reason": item.reason, "near": item.near})
            self.cache.put_lookup(HF_STAGE + key, None, reason=said, ttl=NOT_FOUND_TTL)
            self.saved += 1
        return False

    def _from_arxiv_search(self, todo: list[_Pending]) -> None:
        """Search arXiv titles for what HF could not answer, many titles per request.

        Each batch's answers are decided and cached before the next request.
        """
        if not todo or self.arxiv is None:
            return
        titles = list(dict.fromkeys(normalize_whitespace(it.listing.title or "") for it in todo))
        by_title: dict[str, list[_Pending]] = {}
        for item in todo:
            by_title.setdefault(normalize_whitespace(item.listing.title or ""), []).append(item)
        self.progress("arXiv search", 0, len(titles))
        for start in range(0, len(titles), SEARCH_BATCH):
            self._check_stop()
            batch = titles[start : start + SEARCH_BATCH]
            try:
                found = self.arxiv.search_titles(batch, batch_size=SEARCH_BATCH)
            except ApiError as exc:
                # The client already retried; the batches left would fail the same way.
                for title in titles[start:]:
                    for item in by_title[title]:
                        item.reason = f"{item.reason or 'not found'}; {exc}"
                        item.api_failed = True
                return
            self._take_search_answers([it for t in batch for it in by_title[t]], found)
            self.progress("arXiv search", min(start + SEARCH_BATCH, len(titles)), len(titles))

    def _take_search_answers(self, items: list[_Pending], found: list[AtomEntry]) -> None:
        """Judge one search batch's hits for its listings, and cache each final answer."""
        from readlist.resolve.match import Candidate, choose

        by_title: dict[str, list[Candidate]] = {}
        everything = []
        for entry in found:
            candidate = Candidate(entry.arxiv_id.id, entry.title, entry.summary, "arxiv")
            by_title.setdefault(normalize_title(entry.title), []).append(candidate)
            everything.append(candidate)
        for item in items:
            same = by_title.get(normalize_title(item.listing.title or ""))
            verdict = choose(item.listing, same or everything[:50])
            if verdict.accepted is not None:
                item.arxiv_id, item.via = verdict.accepted.arxiv_id, "arxiv search"
                item.reason, item.near, item.api_failed = None, [], False
            else:
                self._note(item, verdict, "arXiv")
            # The last source asked: its answer is the listing's answer, found or not.
            self._remember(item, item.arxiv_id)

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
            offline = set(missing)  # a set: a listing of a million IDs stays linear
            for item in items:
                if item.arxiv_id in offline:
                    item.reason = item.reason or OFFLINE_REASON
            return entries
        self.progress("arXiv metadata", 0, len(missing))
        for start in range(0, len(missing), METADATA_BATCH):
            self._check_stop()
            batch = missing[start : start + METADATA_BATCH]
            try:
                fetched = self.arxiv.fetch_ids([ArxivId(i) for i in batch])
            except ApiError as exc:
                # The client already retried; the batches left would fail the same way.
                failed = set(missing[start:])
                for item in items:
                    if item.arxiv_id in failed:
                        item.reason, item.api_failed = str(exc), True
                return entries
            if self.cache is not None and fetched:
                self.cache.put_entries({k: json.dumps(v.to_dict()) for k, v in fetched.items()})
                self.saved += len(fetched)
            entries.update(fetched)
            self.progress("arXiv metadata", min(start + METADATA_BATCH, len(missing)), len(missing))
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
            missing = bool(item.arxiv_id) and not item.reason and item.via == "input"
            if item.arxiv_id and not item.reason:
                item.reason = f"arXiv has no paper arXiv:{item.arxiv_id}"
            self._remember(item, None)
            return Resolution(
                listing,
                paper_from_listing(listing),
                reason=item.reason or "not found",
                candidates=tuple(item.near[:3]),
                missing=missing,
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

        if item.stored == (arxiv_id,):
            return  # cached as it arrived
        key = lookup_key(item.listing.title, item.listing.abstract)
        if arxiv_id:
            self.cache.put_lookup(key, arxiv_id, ttl=None)
        else:
            self.cache.put_lookup(key, None, reason=item.reason or "not found", ttl=NOT_FOUND_TTL)
        if item.stored is None:
            self.saved += 1
        item.stored = (arxiv_id,)


def _unordered(
    work: Callable[[str], object], queries: list[str], workers: int
) -> Iterator[tuple[str, object]]:
    """Run `work` on each query with `workers` threads; yield (query, result or exception)
    as each one ends.

    The threads are daemons (a ThreadPoolExecutor's are not): after a stop signal a request
    hanging on a dead server must not keep the process alive until its timeout.
    """
    jobs: queue.SimpleQueue[str] = queue.SimpleQueue()
    ended: queue.SimpleQueue[tuple[str, object]] = queue.SimpleQueue()
    for query in queries:
        jobs.put(query)
    # Workers run at most this many answers ahead of the consumer, so that a stop seen by
    # the consumer (which saves each answer) leaves few requests sent but not yet handled.
    ahead = threading.Semaphore(2 * max(1, workers))

    def worker() -> None:
        while True:
            ahead.acquire()
            try:
                query = jobs.get_nowait()
            except queue.Empty:
                ahead.release()
                return
            try:
                ended.put((query, work(query)))
            except BaseException as error:  # handed to the consumer
                ended.put((query, error))

    for n in range(min(max(1, workers), len(queries))):
        threading.Thread(target=worker, name=f"readlist-hf-{n}", daemon=True).start()
    try:
        for _ in queries:
            result = ended.get()
            ahead.release()
            yield result
    finally:
        # The consumer gave up (an error): the queries not started yet are not sent.
        with contextlib.suppress(queue.Empty):
            while True:
                jobs.get_nowait()
        for _ in range(max(1, workers)):
            ahead.release()  # wake any worker waiting for room: it finds no job and ends


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


def hf_http_client(config: Config) -> httpx.Client:
    """The HTTP client for the Hugging Face API: readlist's User-Agent, the token if any, and
    at most `[huggingface] concurrency` connections."""
    import httpx

    from readlist import __version__
    from readlist.resolve.arxiv import user_agent

    headers = {"User-Agent": user_agent(__version__, config.arxiv.contact)}
    if config.huggingface.token:
        headers["Authorization"] = f"Bearer {config.huggingface.token}"
    concurrency = config.huggingface.concurrency
    return httpx.Client(
        headers=headers,
        timeout=config.arxiv.timeout_seconds,
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        follow_redirects=True,
    )


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

    # One stop flag for the run: set by a stop signal, it also cuts the clients' waits short.
    stop = threading.Event()
    sleep = stoppable_sleep(stop)

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
    concurrency = config.huggingface.concurrency
    hf_http = hf_http_client(config)
    arxiv = ArxivClient(
        arxiv_http,
        api_url=config.arxiv.api_url,
        delay_seconds=config.arxiv.delay_seconds,
        timeout_seconds=config.arxiv.timeout_seconds,
        max_retries=config.arxiv.max_retries,
        on_request=on_request,
        sleep=sleep,
    )
    hf = HfClient(
        hf_http,
        api_url=config.huggingface.api_url,
        concurrency=concurrency,
        on_request=on_request,
        # HF's rate limit can ask for minutes; rather than wait, the titles it cannot answer
        # now go to the arXiv title search (which is batched, so it costs a few requests).
        max_wait=HF_MAX_WAIT_SECONDS,
        sleep=sleep,
        deadline_seconds=config.arxiv.timeout_seconds,
    )
    resolver = NetworkResolver(
        arxiv=arxiv,
        hf=hf,
        cache=cache,
        refresh=refresh,
        hf_concurrency=concurrency,
        progress=progress,
        stop=stop,
    )

    def close() -> None:
        arxiv_http.close()
        hf_http.close()
        close_cache()

    return resolver, close


def with_cached_details(papers: Sequence[Paper], cache: Cache, date: str = "first") -> list[Paper]:
    """Complete papers read from a .bib with what the arXiv cache knows, without a request.

    A .bib entry carries year and month, not the full dates, categories or comment a Zotero
    item shows; the cached arXiv record of the same paper does. Only those details are
    taken, and the full date only when it agrees with the entry's year and month: the
    entry's own fields (title, authors, DOI, venue) stay as the user has them.
    """
    from dataclasses import replace

    from readlist.resolve._atom import AtomEntry

    wanted = [p.arxiv_id.id for p in papers if p.arxiv_id is not None]
    if not wanted:
        return list(papers)
    entries: dict[str, AtomEntry] = {}
    for arxiv_id, text in cache.get_entries(wanted).items():
        try:
            entries[arxiv_id] = AtomEntry.from_dict(json.loads(text))
        except ValueError:
            continue  # a damaged cache row costs the details, nothing else
    completed: list[Paper] = []
    for paper in papers:
        entry = entries.get(paper.arxiv_id.id) if paper.arxiv_id is not None else None
        if entry is None:
            completed.append(paper)
            continue
        first, latest = _iso_date(entry.published), _iso_date(entry.updated)
        chosen = latest if date == "latest" and latest else first
        month = f"{paper.year:04d}-{paper.month:02d}" if paper.year and paper.month else None
        agrees = chosen is not None and month is not None and chosen.startswith(month)
        cached = paper_from_entry(entry, Listing())
        completed.append(
            replace(
                paper,
                date=paper.date or (chosen if agrees else None),
                latest_date=paper.latest_date or latest,
                categories=paper.categories or cached.categories,
                comment=paper.comment or cached.comment,
                primary_category=paper.primary_category or cached.primary_category,
            )
        )
    return completed
