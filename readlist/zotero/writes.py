"""Versioned writes: `sync`, item upgrades and PDF attachments.

Writes are sent with the library version they were planned against and a write token that
is reused when retried; a 412 re-reads and re-plans. `attach_pdf` speaks the file-upload
protocol.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import httpx

from readlist.models import ArxivId, Paper, Venue
from readlist.zotero.base import (
    _KEY_ALPHABET,
    MAX_BATCH,
    MAX_PRECONDITION_ROUNDS,
    SyncReport,
    ZoteroError,
    _Precondition,
    _Transient,
)
from readlist.zotero.collections import split_collection_path
from readlist.zotero.index import _Index, _IndexReads
from readlist.zotero.items import (
    _CITATION_KEY_RE,
    ITEM_TYPE_FIELDS,
    _clean_tags,
    _tag_names,
    item_citation_key,
    paper_children,
    paper_identities,
    paper_to_item,
)
from readlist.zotero.session import (
    _as_int,
    _header_int,
    _is_loopback,
    _Outcome,
    _parse_write_report,
    _scrub,
    _snippet,
)


@dataclass
class _Job:
    citekey: str
    paper: Paper
    tags: list[str]
    settled: bool = False
    maybe_written: bool = False  # a write of it failed in a way that may have gone through
    attempted: str = ""  # "create" or the update's description, once a write was sent


@dataclass
class _Op:
    job: _Job
    payload: dict[str, Any]
    what: str = ""  # for updates: what changes
    child: bool = False  # a note or attachment created with its parent, in the same request


def new_object_key() -> str:
    """A random Zotero object key (8 characters of Zotero's alphabet), chosen by the client."""
    return "".join(secrets.choice(_KEY_ALPHABET) for _ in range(8))


def _batches(ops: list[_Op]) -> Iterator[list[_Op]]:
    """Cut create operations into requests of at most 50 objects, never splitting an item
    from its children (a child must follow its parent in the same request)."""
    batch: list[_Op] = []
    for position, op in enumerate(ops):
        if not op.child:
            group = 1
            while position + group < len(ops) and ops[position + group].child:
                group += 1
            if batch and len(batch) + group > MAX_BATCH:
                yield batch
                batch = []
        batch.append(op)
    if batch:
        yield batch


def _status_drop(tags: Sequence[str], status_tags: tuple[str, str] | None) -> frozenset[str]:
    """The status tag a paper must lose: `unread` when it is read, `read` when unread."""
    if not status_tags:
        return frozenset()
    read, unread = status_tags
    folded = {t.casefold() for t in tags}
    if read.casefold() in folded:
        return frozenset({unread.casefold()})
    if unread.casefold() in folded:
        return frozenset({read.casefold()})
    return frozenset()


def _changes(
    data: Mapping[str, Any],
    collection: str | None,
    label: str,
    tags: Sequence[str],
    equivalent: frozenset[str] = frozenset(),
    citekey: str = "",
    drop: frozenset[str] = frozenset(),
) -> tuple[dict[str, Any], str]:
    """What an existing item lacks: the collection and tags, as full new lists (PATCH rules).

    `label` is the collection path; with no `collection` key (a dry run that would create
    the collection), the item is reported as joining it all the same. An item in one of the
    `equivalent` collections (duplicates of the path) is already in it. An item whose
    Extra names this very key as `Citation Key:` (how readlist wrote keys before; Better
    BibTeX 8+ no longer reads it) has it moved into the `citationKey` field. Items made
    elsewhere keep their keys, or their lack of one: never two disagreeing keys. Tags in
    `drop` (folded) are removed: the reading-status tag the .bib no longer has.
    """
    changes: dict[str, Any] = {}
    what: list[str] = []
    collections = [c for c in data.get("collections") or [] if isinstance(c, str)]
    inside = collection is not None and (
        collection in collections or not equivalent.isdisjoint(collections)
    )
    if label and not inside:
        if collection is not None:
            changes["collections"] = [*collections, collection]
        what.append(f"added to {label}")
    existing = [dict(t) for t in data.get("tags") or [] if isinstance(t, Mapping)]
    gone = [t for t in existing if str(t.get("tag", "")).casefold() in drop]
    kept = [t for t in existing if t not in gone]
    have = set(_tag_names(kept))
    missing = [tag for tag in tags if tag not in have]
    if missing or gone:
        changes["tags"] = kept + [{"tag": tag} for tag in missing]
        what.append(
            "tags "
            + ", ".join([*(f"+{tag}" for tag in missing), *(f"-{t.get('tag')}" for t in gone)])
        )
    key_change = _citation_key_change(data, citekey.strip())
    if key_change:
        changes.update(key_change)
        what.append(f"citation key {citekey.strip()} in its field")
    if what and not changes:
        changes["collections"] = collections  # dry run: the collection does not exist yet
    return changes, "; ".join(what)


def _citation_key_change(data: Mapping[str, Any], citekey: str) -> dict[str, str]:
    """Move readlist's old `Citation Key:` line into `citationKey`; {} when nothing changes."""
    item_type = str(data.get("itemType") or "")
    if not citekey or "citationKey" not in ITEM_TYPE_FIELDS.get(item_type, ()):
        return {}
    if str(data.get("citationKey") or "").strip():
        return {}
    extra = str(data.get("extra") or "")
    found = _CITATION_KEY_RE.search(extra)
    if found is None or found.group(1) != citekey:
        return {}  # no key, or the item's own key from another tool: left as it is
    lines = [line for line in extra.splitlines() if not _CITATION_KEY_RE.fullmatch(line)]
    return {"citationKey": citekey, "extra": "\n".join(lines)}


def _upgrade_payload(data: Mapping[str, Any], doi: str, venue: Venue) -> dict[str, Any]:
    """The partial write that makes a preprint item its published version."""
    item_type = "conferencePaper" if venue.kind == "conference" else "journalArticle"
    payload: dict[str, Any] = {
        "key": data["key"],
        "version": _as_int(data.get("version")),
        "itemType": item_type,
        "DOI": doi,
        # What the preprint's repository would become as the publisher: cleared.
        "publisher": "",
    }
    payload["proceedingsTitle" if item_type == "conferencePaper" else "publicationTitle"] = (
        venue.name
    )
    for name, value in (("volume", venue.volume), ("issue", venue.issue), ("pages", venue.pages)):
        if value:
            payload[name] = value
    if venue.year is not None:
        payload["date"] = str(venue.year)
    return payload


def _is_ours(data: Mapping[str, Any], job: _Job, collection: str | None) -> bool:
    """Tell whether an item is the one our lost-answer create made (citekey, collection)."""
    if collection is not None and collection not in (data.get("collections") or []):
        return False
    return not job.citekey or item_citation_key(data) == job.citekey


def _refusal(paper: Paper) -> str | None:
    if not paper.resolved:
        return "not resolved: its arXiv metadata was never verified (run `readlist resolve`)"
    if paper.arxiv_id is None and not paper.doi:
        return "no arXiv ID or DOI to identify it by"
    return None


class _Writes(_IndexReads):
    """Versioned writes: sync, item upgrades and PDF attachments."""

    def sync(
        self,
        papers: Sequence[tuple[str, Paper, Sequence[str]]],
        collection_path: str,
        *,
        dry_run: bool = False,
        status_tags: tuple[str, str] | None = None,
    ) -> SyncReport:
        """File (citekey, paper, tags) triples into the collection; never a second copy.

        A paper already in the library gets the collection and the tags it lacks; a new
        one is created (batches of 50, one write token each, reused on retries). With
        `dry_run`, the same report is computed and nothing is written. `status_tags` is
        (read, unread): a paper carrying one of them loses the other in Zotero, so the
        reading status follows the .bib.
        """
        self._status_tags = status_tags
        start_requests = self.requests
        report = SyncReport(dry_run=dry_run)
        jobs: list[_Job] = []
        by_identity: dict[str, _Job] = {}
        for citekey, paper, tags in papers:
            reason = _refusal(paper)
            if reason:
                report.failed.append((paper.title, reason))
                continue
            identities = paper_identities(paper)
            twin = next((by_identity[i] for i in identities if i in by_identity), None)
            if twin is not None:
                # The same paper twice: one item, with both sets of tags.
                twin.tags += [tag for tag in _clean_tags(tags) if tag not in twin.tags]
                report.unchanged.append(citekey)
                continue
            job = _Job(citekey, paper, _clean_tags(tags))
            jobs.append(job)
            by_identity.update(dict.fromkeys(identities, job))
        if jobs:
            self._collections = None  # one fresh listing per sync: it also names the version
            first_created = len(self.created_collections)
            first_warning = len(self.warnings)
            collection = self.ensure_collection(collection_path, create=True, dry_run=dry_run)
            report.collection_key = collection
            report.collections_created = self.created_collections[first_created:]
            report.warnings = self.warnings[first_warning:]
            label = "/".join(split_collection_path(collection_path))
            # An item already in a duplicate of the collection is in the path: no write.
            # New items go to the one collection, never spread over the duplicates.
            self._equivalent = frozenset(self.collection_paths(collection_path))
            self._refresh_index()
            self._run(jobs, collection, label, report)
        report.requests = self.requests - start_requests
        return report

    def _run(
        self, jobs: list[_Job], collection: str | None, label: str, report: SyncReport
    ) -> None:
        """Write what the jobs need; on 412, re-read the library and plan the rest again."""
        rounds = 0
        pending = jobs
        while pending:
            creates, updates = self._plan(pending, collection, label, report)
            if report.dry_run:
                report.updated += [(op.job.citekey, op.payload["key"], op.what) for op in updates]
                report.created += [(op.job.citekey, None) for op in creates if not op.child]
                return
            try:
                for start in range(0, len(updates), MAX_BATCH):
                    self._write_batch(updates[start : start + MAX_BATCH], report, create=False)
                for batch in _batches(creates):
                    self._write_batch(batch, report, create=True)
            except _Precondition as problem:
                rounds += 1
                pending = [job for job in pending if not job.settled]
                if rounds >= MAX_PRECONDITION_ROUNDS:
                    reason = f"the library kept changing while writing ({problem.message})"
                    self._fail(pending, reason, report)
                    return
                self._refresh_index()
                continue
            except ZoteroError as error:
                nothing_written = not report.created and not report.updated
                if error.status in (401, 403) and nothing_written:
                    raise
                reason = f"not written after an earlier failure: {error.message}"
                self._fail([job for job in pending if not job.settled], reason, report)
                return
            pending = [job for job in pending if not job.settled]

    def _plan(
        self, pending: list[_Job], collection: str | None, label: str, report: SyncReport
    ) -> tuple[list[_Op], list[_Op]]:
        """Split the jobs into creates and updates; settle those with nothing to do."""
        creates: list[_Op] = []
        updates: list[_Op] = []
        for job in pending:
            data = self._match_data(job.paper, collection)
            if data is None:
                creates += self._create_ops(job, [collection] if collection else [])
            else:
                changes, what = _changes(
                    data,
                    collection,
                    label,
                    job.tags,
                    self._equivalent,
                    job.citekey,
                    drop=_status_drop(job.tags, self._status_tags),
                )
                created = job.attempted == "create"
                if job.maybe_written and (
                    _is_ours(data, job, collection) if created else not changes
                ):
                    # An earlier attempt whose answer was lost did go through.
                    self._settle_written(job, data, report)
                    continue
                if not changes:
                    report.unchanged.append(job.citekey)
                    job.settled = True
                    continue
                payload = {"key": data["key"], "version": data.get("version", 0), **changes}
                updates.append(_Op(job, payload, what))
        return creates, updates

    def _create_ops(self, job: _Job, collections: list[str]) -> list[_Op]:
        """The new item and its children (Comment note, PDF link), under a key chosen here.

        Choosing the item's key lets its children name it as their parent in the same
        request; `version: 0` says the key must be new.
        """
        item = paper_to_item(
            job.paper, job.citekey, job.tags, collections, access_date=self._access_date()
        )
        key = new_object_key()
        ops = [_Op(job, {"key": key, "version": 0, **item})]
        ops += [
            _Op(job, {**child, "parentItem": key}, child=True)
            for child in paper_children(job.paper)
        ]
        return ops

    def _access_date(self) -> str:
        return self._now().strftime("%Y-%m-%dT%H:%M:%SZ")

    def _settle_written(self, job: _Job, data: Mapping[str, Any], report: SyncReport) -> None:
        if job.attempted == "create":
            report.created.append((job.citekey, str(data["key"])))
        else:
            report.updated.append((job.citekey, str(data["key"]), job.attempted))
        job.settled = True

    def _write_batch(self, ops: list[_Op], report: SyncReport, *, create: bool) -> None:
        index = self._load_index()
        url = self._url("/items")
        body = [op.payload for op in ops]
        headers: dict[str, str] = {}
        if create:
            # One token per batch, reused on every retry of it: if an attempt whose answer
            # was lost did go through, the retry gets 412 "token already used", not a copy.
            headers["Zotero-Write-Token"] = secrets.token_hex(16)
        if index.built:
            headers["If-Unmodified-Since-Version"] = str(index.version)
        for op in ops:
            op.job.attempted = "create" if create else op.what

        def attempt() -> tuple[httpx.Response, dict[int, _Outcome]]:
            try:
                response = self._send("POST", "/items", headers=headers, body=body)
                return response, _parse_write_report(response, len(body))
            except _Transient as problem:
                if problem.uncertain:
                    for op in ops:
                        op.job.maybe_written = True
                raise

        try:
            response, outcomes = self._retrying(url, attempt)
        except _Precondition as problem:
            uncertain = any(op.job.maybe_written for op in ops)
            raise _Precondition(problem.message, uncertain=uncertain) from None
        except ZoteroError as error:
            for op in ops:
                if op.child:
                    continue  # its parent's failure says it all
                reason = error.message
                if op.job.maybe_written:
                    reason += " (the write may have gone through: sync again to check)"
                report.failed.append((op.job.paper.title, reason))
                op.job.settled = True
            raise
        stale = False
        for position, op in enumerate(ops):
            outcome = outcomes.get(position)
            job = op.job
            if op.child:
                if outcome is None or outcome.status == "failed":
                    what = "note" if op.payload.get("itemType") == "note" else "PDF link"
                    reason = outcome.message if outcome is not None else "no report"
                    reason = _scrub(reason, self._secret)
                    report.warnings.append(f"{job.citekey}: its {what} was not written ({reason})")
                continue
            if outcome is None:
                reason = "the server did not report on this item; it may not have been written"
                report.failed.append((job.paper.title, reason))
            elif outcome.status == "failed":
                if outcome.code == 412:
                    stale = True  # this item changed under us: re-read it and try again
                    continue
                code = f" (HTTP {outcome.code})" if outcome.code else ""
                reason = _scrub(outcome.message or "refused", self._secret) + code
                report.failed.append((job.paper.title, reason))
            elif create and outcome.status == "ok":
                if not outcome.key:
                    report.failed.append((job.paper.title, "the write report names no item key"))
                else:
                    report.created.append((job.citekey, outcome.key))
                    self._remember_written(index, op, outcome, response)
            elif create:
                report.unchanged.append(job.citekey)
            elif outcome.status == "ok":
                report.updated.append((job.citekey, op.payload["key"], op.what))
                self._remember_written(index, op, outcome, response)
            else:
                report.unchanged.append(job.citekey)
            job.settled = True
        new_version = _header_int(response, "Last-Modified-Version")
        # The write was conditional on the index's version, so nothing else happened in
        # between: the index is current as of the version this write produced.
        if "If-Unmodified-Since-Version" in headers and new_version is not None and not stale:
            index.version = new_version
        self._seen_version = None
        self._save_index()
        if stale:
            raise _Precondition("an item changed since it was read")

    def _remember_written(
        self, index: _Index, op: _Op, outcome: _Outcome, response: httpx.Response
    ) -> None:
        data = dict(outcome.data) if outcome.data else {}
        if not data.get("itemType"):
            base = dict(index.items.get(op.payload.get("key", ""), {}))
            data = {**base, **op.payload, **data}
        data["key"] = outcome.key or op.payload.get("key")
        if not isinstance(data.get("version"), int):
            data["version"] = _header_int(response, "Last-Modified-Version") or 0
        index.put(data)

    def _fail(self, jobs: list[_Job], reason: str, report: SyncReport) -> None:
        for job in jobs:
            if not job.settled:
                note = " (the write may have gone through: sync again to check)"
                report.failed.append(
                    (job.paper.title, reason + (note if job.maybe_written else ""))
                )
                job.settled = True

    def upgrade_items(
        self, upgrades: Sequence[tuple[Mapping[str, Any], str, Venue]]
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """Turn preprint items into their published versions, in place.

        Each (item data, published DOI, venue) becomes a `journalArticle`/`conferencePaper`
        with that DOI and venue; its key, citation key, tags, collections, Extra (the arXiv
        ID) and URL stay. Every write names the version the item was read at, so an item
        changed since is refused (412), reported, and left alone. Returns the keys upgraded
        and (key, reason) for the others.
        """
        done: list[str] = []
        failed: list[tuple[str, str]] = []
        bodies = [_upgrade_payload(data, doi, venue) for data, doi, venue in upgrades]
        url = self._url("/items")
        for start in range(0, len(bodies), MAX_BATCH):
            chunk = bodies[start : start + MAX_BATCH]
            try:
                response = self._retrying(url, partial(self._send, "POST", "/items", body=chunk))
            except _Precondition as problem:
                failed += [(body["key"], problem.message) for body in chunk]
                continue
            except ZoteroError as error:
                failed += [(body["key"], error.message) for body in chunk]
                continue
            outcomes = _parse_write_report(response, len(chunk))
            for position, body in enumerate(chunk):
                outcome = outcomes.get(position)
                if outcome is None:
                    failed.append((body["key"], "the server did not report on it"))
                elif outcome.status == "failed":
                    reason = _scrub(outcome.message, self._secret)
                    if outcome.code == 412:
                        reason = f"changed in Zotero since it was read ({reason}); run again"
                    failed.append((body["key"], reason))
                else:
                    done.append(body["key"])
        self._seen_version = None
        return done, failed

    def attach_pdf(self, parent_key: str, aid: ArxivId, content: bytes, *, url: str) -> str:
        """Store a PDF under an item in Zotero File Storage; return the attachment's key.

        The Web API's upload protocol: create the attachment item (`imported_url`, as Zotero
        saves a downloaded PDF), ask for an upload authorization (`If-None-Match: *`, md5,
        size, mtime), send the bytes to the URL it names (without the API key), register the
        upload. A file the library already stores is not sent again (`exists`). A full
        storage quota (413) is a ZoteroError that says so.
        """
        if not content.startswith(b"%PDF"):
            raise self._error(url, "not a PDF file")
        filename = f"{aid.id.replace('/', '_')}.pdf"
        item = {
            "itemType": "attachment",
            "parentItem": parent_key,
            "linkMode": "imported_url",
            "title": "Preprint PDF",
            "url": url,
            "accessDate": self._access_date(),
            "contentType": "application/pdf",
            "filename": filename,
            "tags": [],
            "relations": {},
        }
        key, version = self._create_one(
            item,
            f"PDF attachment of {parent_key}",
            recover=partial(self._find_new_attachment, parent_key, filename),
        )
        try:
            self._upload_file(key, filename, content)
        except (ZoteroError, _Precondition, _Transient) as problem:
            # No empty attachment left behind: Zotero would show it as a missing file.
            with contextlib.suppress(ZoteroError, _Precondition, _Transient):
                self._send(
                    "DELETE",
                    f"/items/{key}",
                    headers={"If-Unmodified-Since-Version": str(version)},
                )
            if isinstance(problem, ZoteroError):
                raise
            message = problem.message if isinstance(problem, _Precondition) else problem.reason
            raise self._error(self._url(f"/items/{key}/file"), message, 412) from None
        self._seen_version = None
        return key

    def _upload_file(self, key: str, filename: str, content: bytes) -> None:
        """Authorize, send and register one new file for the attachment item `key`."""
        file_path = f"/items/{key}/file"
        file_url = self._url(file_path)
        md5 = hashlib.md5(content).hexdigest()
        mtime = str(int(self._now().timestamp() * 1000))
        fields = {"md5": md5, "filename": filename, "filesize": str(len(content)), "mtime": mtime}
        new_file = {"If-None-Match": "*"}
        response = self._retrying(
            file_url,
            lambda: self._send("POST", file_path, headers=new_file, form=fields, expect_json=True),
        )
        answer = response.json()
        if not isinstance(answer, dict):
            raise self._error(file_url, "malformed upload authorization")
        if answer.get("exists"):
            return
        upload_key = answer.get("uploadKey")
        if not all(isinstance(answer.get(n), str) for n in ("url", "prefix", "suffix")) or not (
            isinstance(upload_key, str) and upload_key
        ):
            raise self._error(file_url, "malformed upload authorization")
        body = answer["prefix"].encode("utf-8") + content + answer["suffix"].encode("utf-8")
        self._upload(answer["url"], body, str(answer.get("contentType") or ""))
        try:
            self._retrying(
                file_url,
                lambda: self._send(
                    "POST", file_path, headers=new_file, form={"upload": upload_key}
                ),
            )
        except _Precondition:
            # "If-None-Match: * set but file exists": an attempt whose answer was lost did
            # register it. Anything else (another file) is a real conflict.
            if self._stored_md5(key) != md5:
                raise

    def _stored_md5(self, key: str) -> str | None:
        """The md5 of the file an attachment item has in storage, if any."""
        path = f"/items/{key}"
        response = self._retrying(
            self._url(path), lambda: self._send("GET", path, expect_json=True)
        )
        body = response.json()
        data = body.get("data", body) if isinstance(body, dict) else {}
        md5 = data.get("md5") if isinstance(data, dict) else None
        return md5 if isinstance(md5, str) else None

    def _find_new_attachment(self, parent_key: str, filename: str) -> tuple[str, int] | None:
        """The file attachment without a file yet that we made under `parent_key`, if any."""
        path = f"/items/{parent_key}/children"
        response = self._retrying(
            self._url(path), lambda: self._send("GET", path, expect_json=True)
        )
        for obj in response.json() if isinstance(response.json(), list) else []:
            data = obj.get("data", obj) if isinstance(obj, dict) else {}
            if (
                data.get("itemType") == "attachment"
                and data.get("linkMode") == "imported_url"
                and data.get("filename") == filename
                and not data.get("md5")
                and isinstance(data.get("key"), str)
            ):
                return data["key"], _as_int(data.get("version"))
        return None

    def _create_one(
        self,
        item: dict[str, Any],
        label: str,
        *,
        recover: Callable[[], tuple[str, int] | None] | None = None,
    ) -> tuple[str, int]:
        """Create one object (one write token, reused on retries); return key and version.

        When an attempt whose answer was lost did go through, the retry gets 412 "write
        token already used": `recover` then finds the object that attempt made.
        """
        url = self._url("/items")
        headers = {"Zotero-Write-Token": secrets.token_hex(16)}

        def attempt() -> tuple[str, int]:
            response = self._send("POST", "/items", headers=headers, body=[item])
            outcome = _parse_write_report(response, 1).get(0)
            if outcome is None or outcome.status == "failed" or not outcome.key:
                reason = outcome.message if outcome is not None else "no report"
                raise self._error(url, f"could not create the {label}: {reason}", None)
            version = _header_int(response, "Last-Modified-Version") or 0
            return outcome.key, version

        try:
            return self._retrying(url, attempt)
        except _Precondition as problem:
            found = recover() if recover is not None else None
            if found is not None:
                return found
            raise self._error(
                url, f"could not create the {label}: {problem.message}", 412
            ) from None

    def _upload(self, target: str, body: bytes, content_type: str) -> None:
        """Send the file to the storage URL Zotero named: a plain session, no API key."""
        if urlsplit(target).scheme not in ("http", "https"):
            raise self._error(target, "the upload URL is not http(s)")
        with httpx.Client(
            timeout=self._timeout,
            transport=self._transport,
            trust_env=not _is_loopback(target),
            event_hooks={"request": [self._before_request], "response": [self._after_response]},
        ) as client:

            def attempt() -> None:
                try:
                    response = client.post(
                        target, content=body, headers={"Content-Type": content_type}
                    )
                except httpx.TransportError as exc:
                    raise _Transient(f"upload failed ({type(exc).__name__})") from None
                if response.status_code in (429, 503) or response.status_code >= 500:
                    raise _Transient(f"upload failed (HTTP {response.status_code})")
                if response.status_code != 201:
                    detail = _snippet(response, self._secret) or response.reason_phrase
                    raise self._error(_scrub(target, self._secret), f"upload refused: {detail}")

            self._retrying(_scrub(target, self._secret), attempt)
