"""`readlist upgrade`: a cited preprint becomes its published version, under the same key.

Only on a DOI that arXiv itself lists for the paper, or that the entry already names; never
on a title guess. The venue comes from the DOI's record (doi.org content negotiation) and,
failing that, from arXiv's journal reference. The entry is edited in place: its type becomes
`article`/`inproceedings`, the venue fields and the DOI are set, and everything else in it
(key, keywords, eprint, the user's own fields) and in the rest of the file stays as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from readlist.bibfile import (
    BibEntry,
    BibFile,
    locked,
    normalize_doi,
    read_bib,
    replace_spans,
    set_field,
)
from readlist.errors import ApiError
from readlist.latex import bibtex_escape
from readlist.library import listing_for_entry
from readlist.models import ArxivId, Listing, Venue
from readlist.resolve import Resolution, Resolver
from readlist.venue import parse_journal_ref

# The entry types a preprint is cited as (arXiv's @misc, biblatex's @online, and the like).
PREPRINT_TYPES = frozenset({"misc", "online", "unpublished", "preprint", "electronic"})

# A venue for a DOI (doi.org's record), None when it has none; may raise ApiError.
VenueLookup = Callable[[str], Venue | None]


@dataclass(frozen=True)
class Upgrade:
    """One entry to rewrite as its published version."""

    key: str
    line: int
    arxiv_id: ArxivId | None
    doi: str
    doi_from: str  # "arXiv" or "the entry"
    venue: Venue
    venue_from: str  # "doi.org" or "arXiv journal reference"

    @property
    def entry_type(self) -> str:
        return "inproceedings" if self.venue.kind == "conference" else "article"


@dataclass
class UpgradeOutcome:
    path: Path
    planned: list[Upgrade] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (key, why not)
    written: bool = False


def upgrade_in_place(
    path: Path,
    resolver: Resolver,
    lookup: VenueLookup | None,
    *,
    dry_run: bool = False,
    cache_dir: Path | None = None,
) -> UpgradeOutcome:
    """Rewrite every preprint entry with a known published DOI as the published entry."""
    outcome = UpgradeOutcome(path=path)
    with locked(path):
        bib = read_bib(path, cache_dir)
        candidates = [
            e
            for e in bib.entries
            if e.entry_type.lower() in PREPRINT_TYPES and e.arxiv_ids() and not e.is_unresolved
        ]
        if not candidates:
            return outcome
        results = resolver.resolve([listing_for_entry(e, str(path)) for e in candidates])
        edits = []
        for entry, result in zip(candidates, results, strict=True):
            found = _published(result, entry.get("doi") or "", lookup)
            if found is None:
                continue  # still a preprint as far as anyone can tell: nothing to do
            if isinstance(found, str):
                outcome.skipped.append((entry.key, found))
                continue
            doi, doi_from, venue, venue_from = found
            ids = entry.arxiv_ids()
            upgrade = Upgrade(entry.key, entry.line, ids[0], doi, doi_from, venue, venue_from)
            outcome.planned.append(upgrade)
            edits.append(_edit(bib, entry, upgrade))
        if edits and not dry_run:
            bib.write(replace_spans(bib.text, edits), edits)
            outcome.written = True
    return outcome


@dataclass
class ZoteroUpgradePlan:
    """What `upgrade --zotero` would write: (item data, upgrade) pairs, and the refusals."""

    planned: list[tuple[dict[str, Any], Upgrade]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (label, why not)


def plan_zotero_upgrades(
    items: Sequence[Mapping[str, Any]], resolver: Resolver, lookup: VenueLookup | None
) -> ZoteroUpgradePlan:
    """Find the preprint items of a collection that have a published version (same rules)."""
    from readlist.zotero import item_arxiv_id, item_citation_key, item_doi

    plan = ZoteroUpgradePlan()
    candidates = [
        dict(data)
        for data in items
        if data.get("itemType") == "preprint" and item_arxiv_id(data) is not None
    ]
    if not candidates:
        return plan
    listings = [
        Listing(title=str(d.get("title") or "") or None, arxiv_id=item_arxiv_id(d), source="Zotero")
        for d in candidates
    ]
    for data, result in zip(candidates, resolver.resolve(listings), strict=True):
        label = item_citation_key(data) or str(data.get("key"))
        found = _published(result, item_doi(data) or "", lookup)
        if found is None:
            continue
        if isinstance(found, str):
            plan.skipped.append((label, found))
            continue
        doi, doi_from, venue, venue_from = found
        upgrade = Upgrade(label, 0, item_arxiv_id(data), doi, doi_from, venue, venue_from)
        plan.planned.append((data, upgrade))
    return plan


def _published(
    result: Resolution, own_doi: str, lookup: VenueLookup | None
) -> tuple[str, str, Venue, str] | str | None:
    """The published DOI and venue of a preprint: (doi, from, venue, from), a reason, or None.

    None: neither arXiv nor the entry names a published DOI (nothing to upgrade). A string:
    there is a DOI, but no venue could be read for it (the reason).
    """
    arxiv_doi = normalize_doi(result.paper.doi or "") if result.resolved else ""
    own = normalize_doi(own_doi)
    if own.startswith("10.48550/"):
        own = ""
    doi, doi_from = (arxiv_doi, "arXiv") if arxiv_doi else (own, "the entry")
    if not doi:
        return None
    venue, venue_from = None, ""
    if lookup is not None:
        try:
            venue, venue_from = lookup(doi), "doi.org"
        except ApiError as error:
            return f"{doi}: {error.message}"
    if venue is None and result.resolved and result.paper.journal_ref:
        venue = parse_journal_ref(result.paper.journal_ref, doi)
        venue_from = "arXiv journal reference"
    if venue is None:
        return f"no venue known for {doi}"
    return doi, doi_from, venue, venue_from


def _edit(bib: BibFile, entry: BibEntry, upgrade: Upgrade) -> tuple[int, int, str]:
    """The entry's text as the published version: new type, venue fields, the DOI."""
    raw = bib.text[entry.start : entry.end]
    biblatex = entry.entry_type.lower() == "online"
    ascii_only = not biblatex and raw.isascii()
    raw = re.sub(r"^@\s*\w+", f"@{upgrade.entry_type}", raw, count=1)
    venue = upgrade.venue
    if venue.kind == "conference":
        name_field = "booktitle"
    else:
        name_field = "journaltitle" if biblatex else "journal"
    pages = re.sub(r"\s*(?:-+|–|—)\s*", "--", venue.pages or "")
    values = [
        (name_field, venue.name),
        ("volume", venue.volume or ""),
        ("number", venue.issue or ""),
        ("pages", pages),
    ]
    for name, value in values:
        if value:
            raw = set_field(raw, name, bibtex_escape(value, ascii_only=ascii_only), bib.eol)
    raw = set_field(raw, "doi", upgrade.doi, bib.eol)
    if venue.year is not None:
        year_field = "date" if biblatex and entry.get("date") else "year"
        raw = set_field(raw, year_field, str(venue.year), bib.eol)
    return entry.start, entry.end, raw
