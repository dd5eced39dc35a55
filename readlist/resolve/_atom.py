"""Parse arXiv API Atom feeds into frozen entries: pure, no network, hostile input refused.

Elements are found by namespace and name, never by position, so both the 2026 feed and the
classic one (an ``xmlns`` on every element, ``rel="self"``, timestamps with offsets) parse.

XML safety: the document goes through ``defusedxml`` with ``forbid_dtd=True``. arXiv never
sends a DOCTYPE, so any DOCTYPE is refused outright, before a single entity is declared: no
entity expansion (billion laughs), no external entities or DTDs (XXE), no network access.
defusedxml is the maintained library for exactly this; a hand-rolled DOCTYPE check on the raw
bytes would miss other encodings (UTF-16) and declarations the stdlib parser still honours.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as _safe_fromstring

from readlist.errors import ArxivError
from readlist.ids import parse_arxiv_id
from readlist.models import ArxivId

ATOM_NS = "http://www.w3.org/2005/Atom"
OPENSEARCH_NS = "http://a9.com/-/spec/opensearch/1.1/"
ARXIV_NS = "http://arxiv.org/schemas/atom"

_A = f"{{{ATOM_NS}}}"
_OS = f"{{{OPENSEARCH_NS}}}"
_AX = f"{{{ARXIV_NS}}}"

_HTML_START_RE = re.compile(rb"^\s*(?:<\?xml[^>]*>\s*)?<(?:!doctype\s+html|html)\b", re.IGNORECASE)
_HTML_TITLE_RE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})")


@dataclass(frozen=True)
class AtomEntry:
    """One paper as the arXiv API describes it (the version named in `arxiv_id`)."""

    arxiv_id: ArxivId  # from <entry><id>, version kept
    title: str  # whitespace collapsed
    summary: str  # the abstract, whitespace collapsed
    authors: tuple[str, ...]  # display names, in order
    published: str  # ISO date-time of v1, as given
    updated: str  # ISO date-time of this version, as given
    primary_category: str | None = None
    categories: tuple[str, ...] = ()
    doi: str | None = None  # published (journal) DOI from arxiv:doi, not the arXiv DataCite DOI
    journal_ref: str | None = None
    comment: str | None = None

    @property
    def year(self) -> int | None:
        """Return the year the first version was submitted."""
        match = _DATE_RE.match(self.published)
        return int(match.group(1)) if match else None

    @property
    def month(self) -> int | None:
        """Return the month (1-12) the first version was submitted."""
        match = _DATE_RE.match(self.published)
        if not match:
            return None
        month = int(match.group(2))
        return month if 1 <= month <= 12 else None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict that `from_dict` turns back into an equal entry."""
        return {
            "arxiv_id": self.arxiv_id.id,
            "version": self.arxiv_id.version,
            "title": self.title,
            "summary": self.summary,
            "authors": list(self.authors),
            "published": self.published,
            "updated": self.updated,
            "primary_category": self.primary_category,
            "categories": list(self.categories),
            "doi": self.doi,
            "journal_ref": self.journal_ref,
            "comment": self.comment,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AtomEntry:
        """Rebuild an entry from `to_dict` output; raise ValueError when it is not one."""
        if not isinstance(data, Mapping):
            raise ValueError(f"cached arXiv entry must be an object, not {type(data).__name__}")
        try:
            version = data["version"]
            if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
                raise ValueError(f"version must be an integer or null, not {version!r}")
            return cls(
                arxiv_id=ArxivId(_req_str(data, "arxiv_id"), version),
                title=_req_str(data, "title"),
                summary=_req_str(data, "summary"),
                authors=_str_tuple(data, "authors"),
                published=_req_str(data, "published"),
                updated=_req_str(data, "updated"),
                primary_category=_opt_str(data, "primary_category"),
                categories=_str_tuple(data, "categories"),
                doi=_opt_str(data, "doi"),
                journal_ref=_opt_str(data, "journal_ref"),
                comment=_opt_str(data, "comment"),
            )
        except KeyError as exc:
            raise ValueError(f"cached arXiv entry lacks {exc}") from None


@dataclass(frozen=True)
class AtomFeed:
    """A parsed arXiv API response: the OpenSearch counters and the entries in feed order."""

    total_results: int | None
    start_index: int | None
    items_per_page: int | None
    entries: tuple[AtomEntry, ...]


def parse_feed(data: bytes, url: str = "") -> AtomFeed:
    """Parse an arXiv API response body; raise ArxivError for anything but a usable feed."""
    return feed_from_xml(parse_xml(data, url), url)


def parse_xml(data: bytes, url: str = "") -> ET.Element:
    """Parse the body safely into an Atom <feed> element; raise ArxivError if it is not one."""
    if not data or not data.strip():
        raise ArxivError(url, "empty response body instead of an Atom feed")
    if _HTML_START_RE.match(data[:1024]):
        raise ArxivError(url, _html_message(data))
    try:
        root: ET.Element = _safe_fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise ArxivError(
            url,
            f"refused XML with a DOCTYPE or entity declaration ({type(exc).__name__}); "
            "arXiv never sends one, and expanding it could be an attack",
        ) from None
    except ET.ParseError as exc:
        if b"<html" in data[:4096].lower():
            raise ArxivError(url, _html_message(data)) from None
        raise ArxivError(url, f"malformed XML in the response ({exc})") from None
    except (ValueError, LookupError) as exc:  # e.g. an unknown encoding in the XML declaration
        raise ArxivError(url, f"unreadable XML in the response ({exc})") from None
    if root.tag != f"{_A}feed":
        name = root.tag.rsplit("}", 1)[-1]
        if name.lower() == "html":
            raise ArxivError(url, _html_message(data))
        raise ArxivError(url, f"expected an Atom <feed>, got <{name}> in {_namespace(root.tag)}")
    return root


def feed_error(root: ET.Element) -> str | None:
    """Return arXiv's message when the feed is an API error report, else None."""
    for entry in root.iter(f"{_A}entry"):
        entry_id = _text(entry, f"{_A}id")
        title = _text(entry, f"{_A}title")
        if "/api/errors" in entry_id or (title == "Error" and _entry_id(entry_id) is None):
            return _text(entry, f"{_A}summary") or title or "unspecified arXiv API error"
    return None


def feed_from_xml(root: ET.Element, url: str = "") -> AtomFeed:
    """Read the counters and entries of a parsed feed; raise ArxivError for an error feed."""
    message = feed_error(root)
    if message is not None:
        raise ArxivError(url, message)
    entries = tuple(_entry(element, url) for element in root.findall(f"{_A}entry"))
    return AtomFeed(
        total_results=_int(root, f"{_OS}totalResults"),
        start_index=_int(root, f"{_OS}startIndex"),
        items_per_page=_int(root, f"{_OS}itemsPerPage"),
        entries=entries,
    )


def _entry(element: ET.Element, url: str) -> AtomEntry:
    """Build one entry; raise ArxivError when its <id> names no arXiv paper."""
    raw_id = _text(element, f"{_A}id")
    arxiv_id = _entry_id(raw_id)
    if arxiv_id is None:
        raise ArxivError(url, f"feed entry has no arXiv identifier in its <id>: {raw_id!r}")
    authors = tuple(
        name for author in element.findall(f"{_A}author") if (name := _text(author, f"{_A}name"))
    )
    categories = tuple(
        term
        for category in element.findall(f"{_A}category")
        if (term := (category.get("term") or "").strip())
    )
    primary = element.find(f"{_AX}primary_category")
    primary_term = (primary.get("term") or "").strip() if primary is not None else ""
    return AtomEntry(
        arxiv_id=arxiv_id,
        title=_text(element, f"{_A}title"),
        summary=_text(element, f"{_A}summary"),
        authors=authors,
        published=_text(element, f"{_A}published"),
        updated=_text(element, f"{_A}updated"),
        primary_category=primary_term or None,
        categories=categories,
        doi=_text(element, f"{_AX}doi") or None,
        journal_ref=_text(element, f"{_AX}journal_ref") or None,
        comment=_text(element, f"{_AX}comment") or None,
    )


def _entry_id(raw: str) -> ArxivId | None:
    """Read the identifier from an entry's <id> (an abs URL), also on mirrors' hosts."""
    if not raw:
        return None
    found = parse_arxiv_id(raw)
    if found is None and "/abs/" in raw:
        found = parse_arxiv_id(raw.split("/abs/", 1)[1])
    return found


def _text(parent: ET.Element, tag: str) -> str:
    """Return the child's text with all whitespace runs collapsed to single spaces."""
    child = parent.find(tag)
    if child is None:
        return ""
    return " ".join("".join(child.itertext()).split())


def _int(parent: ET.Element, tag: str) -> int | None:
    """Return the child's text as an integer, or None when absent or not a number."""
    text = _text(parent, tag)
    try:
        return int(text)
    except ValueError:
        return None


def _namespace(tag: str) -> str:
    """Describe the namespace of a Clark-notation tag for an error message."""
    return f"namespace {tag[1:].split('}', 1)[0]}" if tag.startswith("{") else "no namespace"


def looks_like_html(data: bytes) -> bool:
    """Tell whether a body is an HTML page, whatever its Content-Type says."""
    return bool(_HTML_START_RE.match(data[:1024]))


def html_description(data: bytes) -> str:
    """Describe an HTML page by its title: 'an HTML page (502 Bad Gateway)'."""
    match = _HTML_TITLE_RE.search(data[:65536])
    title = " ".join(match.group(1).decode("utf-8", "replace").split())[:120] if match else ""
    return f"an HTML page ({title})" if title else "an HTML page"


def _html_message(data: bytes) -> str:
    """Describe an HTML page received where a feed was expected, with its title if any."""
    return f"received {html_description(data)} instead of an Atom feed"


def _req_str(data: Mapping[str, Any], key: str) -> str:
    """Return a required string field of a cached entry."""
    value = data[key]
    if not isinstance(value, str):
        raise ValueError(f"cached arXiv entry field {key!r} must be a string, not {value!r}")
    return value


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    """Return an optional string field of a cached entry."""
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"cached arXiv entry field {key!r} must be a string, not {value!r}")
    return value


def _str_tuple(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """Return a list-of-strings field of a cached entry as a tuple."""
    value = data[key]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"cached arXiv entry field {key!r} must be a list of strings")
    return tuple(value)
