"""Choosing papers from a numbered listing: `--pick 1,4-6`, `--match TEXT`, `--all`."""

from __future__ import annotations

import re
from collections.abc import Sequence

from readlist.errors import SelectionError
from readlist.models import Listing
from readlist.normalize import normalize_whitespace

_RANGE = re.compile(r"^(\d+)?\s*-\s*(\d+)?$")


def parse_pick(spec: str, count: int) -> list[int]:
    """Turn `1,4-6` into 0-based indexes into a listing of `count` papers.

    Ranges may be open (`7-` to the end, `-3` from the start); `all` or `*` picks everything.
    Order follows the listing, and each index appears once.
    """
    chosen: set[int] = set()
    for raw_part in re.split(r"[,\s]+", spec.strip()):
        part = raw_part.strip()
        if not part:
            continue
        if part.lower() in {"all", "*"}:
            chosen.update(range(count))
            continue
        if part.isdigit():
            first = last = int(part)
        else:
            m = _RANGE.match(part)
            if not m or (m.group(1) is None and m.group(2) is None):
                raise SelectionError(
                    f"--pick: '{part}' is not a number or range (use e.g. 1,4-6 or 7-)"
                )
            first = int(m.group(1)) if m.group(1) else 1
            last = int(m.group(2)) if m.group(2) else count
        if first < 1 or last < first:
            raise SelectionError(f"--pick: '{part}' is not a valid range")
        if last > count:
            raise SelectionError(
                f"--pick: {last} is out of range; the listing has {count} "
                f"paper{'s' if count != 1 else ''}"
            )
        chosen.update(range(first - 1, last))
    if not chosen:
        raise SelectionError("--pick: no paper numbers given")
    return sorted(chosen)


def matches(listing: Listing, needle: str) -> bool:
    """Whether `needle` occurs in the title or abstract, ignoring case and line breaks."""
    wanted = normalize_whitespace(needle).casefold()
    haystack = " ".join(
        filter(None, (listing.title, listing.abstract, str(listing.arxiv_id or "")))
    )
    return wanted in normalize_whitespace(haystack).casefold()


def select(
    listings: Sequence[Listing],
    *,
    pick: Sequence[str] = (),
    match: Sequence[str] = (),
    take_all: bool = False,
) -> list[Listing]:
    """Return the listings chosen by `--pick` and `--match` (their union), or all of them."""
    if take_all:
        return list(listings)
    chosen: set[int] = set()
    for spec in pick:
        chosen.update(parse_pick(spec, len(listings)))
    for needle in match:
        hits = [i for i, listing in enumerate(listings) if matches(listing, needle)]
        if not hits:
            raise SelectionError(f"--match '{needle}' matched none of the {len(listings)} papers")
        chosen.update(hits)
    return [listings[i] for i in sorted(chosen)]
