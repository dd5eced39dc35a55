"""Zotero item <-> `Paper` mapping.

Item types and their fields, creators (people and organisations), citation keys, venue and
date fields, the identities (arXiv ID, DOI, title) an item is matched by, and validation of
an item against the schema.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from readlist.ids import find_arxiv_ids, parse_arxiv_id
from readlist.models import ArxivId, Paper, Venue
from readlist.zotero.base import _OBJECT_KEY_RE

_CITATION_KEY_RE = re.compile(r"^\s*Citation Key:\s*(\S+)\s*$", re.IGNORECASE | re.MULTILINE)
_EXTRA_DOI_RE = re.compile(r"^\s*DOI:\s*(\S+)\s*$", re.IGNORECASE | re.MULTILINE)
_FULL_DATE_RE = re.compile(r"\b\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])\b")
# arXiv category codes as Zotero's translator tags them: cs.CL, math-ph, hep-th, q-bio.NC.
_CATEGORY_RE = re.compile(r"[a-z]+(?:-[a-z]+)?(?:\.[A-Za-z]+(?:-[a-z]+)?)?")
_PRIMARY_RE = re.compile(r"arXiv:\S+\s+\[([^\]\s]+)\]", re.IGNORECASE)
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}

# Fields and creator types of the item types readlist writes or reads, from Zotero's schema
# (zotero/zotero-schema, version 41). Generated from shared/zotero/schema.json by
# `schema_subset` in tests/test_zotero.py, which also fails when they drift apart.
# fmt: off
ITEM_TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    "preprint": (
        "title", "abstractNote", "genre", "repository", "archiveID", "place", "date", "series",
        "seriesNumber", "DOI", "citationKey", "url", "accessDate", "archive", "archiveLocation",
        "shortTitle", "language", "libraryCatalog", "callNumber", "rights", "extra"
    ),
    "journalArticle": (
        "title", "abstractNote", "publicationTitle", "publisher", "place", "date", "volume",
        "issue", "section", "partNumber", "partTitle", "pages", "series", "seriesTitle",
        "seriesText", "journalAbbreviation", "DOI", "citationKey", "url", "accessDate", "PMID",
        "PMCID", "ISSN", "archive", "archiveLocation", "shortTitle", "language", "libraryCatalog",
        "callNumber", "rights", "extra"
    ),
    "conferencePaper": (
        "title", "abstractNote", "proceedingsTitle", "conferenceName", "publisher", "place",
        "date", "eventPlace", "volume", "issue", "numberOfVolumes", "pages", "series",
        "seriesNumber", "DOI", "ISBN", "citationKey", "url", "accessDate", "ISSN", "archive",
        "archiveLocation", "shortTitle", "language", "libraryCatalog", "callNumber", "rights",
        "extra"
    ),
}
ITEM_TYPE_CREATORS: dict[str, tuple[str, ...]] = {
    "preprint": (
        "author", "contributor", "editor", "translator", "reviewedAuthor"
    ),
    "journalArticle": (
        "author", "contributor", "editor", "translator", "reviewedAuthor"
    ),
    "conferencePaper": (
        "author", "contributor", "editor", "translator", "seriesEditor"
    ),
}
# fmt: on
# Properties every item accepts besides its type's fields (`key`... only on updates).
BASE_PROPERTIES = frozenset(
    {
        "itemType",
        "creators",
        "tags",
        "collections",
        "relations",
        "key",
        "version",
        "dateAdded",
        "dateModified",
    }
)


def paper_to_item(
    paper: Paper,
    citekey: str,
    tags: Sequence[str],
    collection_keys: Sequence[str],
    *,
    access_date: str | None = None,
) -> dict[str, Any]:
    """Build the Zotero item Zotero's own arXiv import would make, plus tags and citation key.

    A paper whose arXiv record names a published DOI becomes a `journalArticle` (or a
    `conferencePaper` when its journal reference names proceedings) with that DOI and the
    venue read from the reference, keeping the arXiv ID in Extra and the abs URL; any other
    paper with an arXiv ID is a `preprint` (repository arXiv, archive ID, arXiv DOI). The key
    goes into the native `citationKey` field (which Better BibTeX 8+ reads); Extra carries a
    `Citation Key:` line only for an item type without that field. arXiv categories become
    automatic tags (type 1), as Zotero's translator names them (the raw code, `cs.CL`).
    """
    aid = paper.arxiv_id
    item_type, venue = _item_type(paper)
    extra: list[str] = []
    if aid is not None:
        head = f"arXiv:{aid.id}"
        # Zotero's translator names the primary category only for new-style identifiers.
        if paper.primary_category and not aid.is_old_style:
            head += f" [{paper.primary_category}]"
        extra.append(head)
    title = " ".join(paper.title.split())
    item: dict[str, Any] = {
        "itemType": item_type,
        "title": title,
        "creators": [c for c in (split_creator(name) for name in paper.authors) if c],
    }
    if paper.abstract and paper.abstract.strip():
        item["abstractNote"] = paper.abstract.strip()
    date = _paper_date(paper, venue)
    if date:
        item["date"] = date
    short = short_title(title)
    if short:
        item["shortTitle"] = short
    if item_type == "preprint" and aid is not None:
        item.update({"repository": "arXiv", "archiveID": f"arXiv:{aid.id}", "DOI": aid.doi})
    elif paper.doi:
        item["DOI"] = paper.doi
    if venue is not None:
        item["proceedingsTitle" if item_type == "conferencePaper" else "publicationTitle"] = (
            venue.name
        )
        for name, value in (("volume", venue.volume), ("issue", venue.issue)):
            if value:
                item[name] = value
        if venue.pages:
            item["pages"] = venue.pages
    if aid is not None:
        item["url"] = aid.abs_url
        item["libraryCatalog"] = "arXiv.org"
    elif paper.doi:
        item["url"] = f"https://doi.org/{paper.doi}"
    if access_date and "url" in item:
        item["accessDate"] = access_date
    key = citekey.strip()
    if key and "citationKey" in ITEM_TYPE_FIELDS.get(item_type, ()):
        item["citationKey"] = key
    elif key:
        extra.append(f"Citation Key: {key}")
    if extra:
        item["extra"] = "\n".join(extra)
    manual = _clean_tags(tags)
    automatic = [c for c in _clean_tags(paper.categories) if c not in manual]
    item["tags"] = [{"tag": tag} for tag in manual] + [{"tag": tag, "type": 1} for tag in automatic]
    item["collections"] = list(collection_keys)
    item["relations"] = {}
    return item


def paper_children(paper: Paper) -> list[dict[str, Any]]:
    """The child items Zotero's arXiv import adds: the `Comment:` note and the PDF link.

    Each lacks its `parentItem`, which the caller sets. The PDF is a linked URL (nothing is
    stored in Zotero's file storage); `--attach-pdf` uploads the file itself.
    """
    children: list[dict[str, Any]] = []
    comment = " ".join((paper.comment or "").split())
    if comment:
        children.append(
            {
                "itemType": "note",
                "note": f"Comment: {html.escape(comment, quote=False)}",
                "tags": [],
                "relations": {},
            }
        )
    if paper.arxiv_id is not None:
        children.append(
            {
                "itemType": "attachment",
                "linkMode": "linked_url",
                "title": "Preprint PDF",
                "url": pdf_url(paper.arxiv_id),
                "contentType": "application/pdf",
                "tags": [],
                "relations": {},
            }
        )
    return children


def pdf_url(aid: ArxivId, base: str = "https://arxiv.org/pdf") -> str:
    """The URL of a paper's latest PDF on arXiv (or a mirror at `base`)."""
    return f"{base.rstrip('/')}/{aid.id}"


def short_title(title: str) -> str:
    """The short title Zotero derives: the part before a subtitle (`BERT` of `BERT: Pre-...`)."""
    match = re.match(r"^(.+?)\s*[:?!]\s+\S", title)
    if match is None:
        return ""
    head = match.group(1).strip()
    return head if head and head != title else ""


def _item_type(paper: Paper) -> tuple[str, Venue | None]:
    """The item type and venue: journal/conference only when a published DOI is known."""
    from readlist.venue import is_conference, parse_journal_ref

    if paper.arxiv_id is not None and not paper.doi:
        return "preprint", None
    venue = paper.venue or parse_journal_ref(paper.journal_ref, paper.doi)
    if venue is not None:
        kind = "conferencePaper" if venue.kind == "conference" else "journalArticle"
        return kind, venue
    if is_conference(paper.journal_ref, paper.doi):
        return "conferencePaper", None
    return "journalArticle", None


_ORGANISATION_RE = re.compile(
    r"(?i)\b(?:collaboration|team|consortium|group|lab|laboratory|labs|inc|ltd|llc|corp|"
    r"corporation|institute|university|project|initiative|committee|organi[sz]ation|"
    r"foundation|council|society|association|alliance|network|centre|center)\b\.?"
)
# Name particles that belong to the family name ("van der Putten", "de la Cruz", "Ó Briain").
_LOWER_PARTICLES = frozenset(
    [
        "van",
        "von",
        "der",
        "den",
        "de",
        "del",
        "della",
        "dello",
        "dei",
        "degli",
        "da",
        "dal",
        "dalla",
        "di",
        "du",
        "dos",
        "das",
        "do",
        "la",
        "le",
        "les",
        "lo",
        "ter",
        "ten",
        "te",
        "op",
        "zu",
        "zur",
        "af",
        "av",
        "bin",
        "ibn",
        "bint",
        "al",
        "el",
        "y",
        "e",
        "d'",
        "l'",
    ]
)
_CAPITAL_PARTICLES = frozenset(
    [
        "Van",
        "Von",
        "De",
        "Del",
        "Della",
        "Da",
        "Dal",
        "Dalla",
        "Di",
        "Du",
        "Dos",
        "Das",
        "Ter",
        "Ten",
        "Ó",
        "Ní",
        "Nic",
        "Ua",
        "Mac",
        "Al",
        "El",
    ]
)


def split_creator(name: str, creator_type: str = "author") -> dict[str, str] | None:
    """Split a display name ("First Middle Last") into a Zotero creator.

    Particles join the family name, lowercase ("Vincent van Gogh", "Juan de la Cruz") or
    capitalized ("Daniel Van der Putten", "Dara Ó Briain"), which Zotero's own split at the
    last space gets wrong. A suffix goes after the first name with a comma ("Martin Luther,
    Jr."), as Zotero's documentation asks. Only organisations ("The ATLAS Collaboration",
    "OpenAI") get a single-field name; a one-word personal name is a last name.
    """
    name = " ".join(name.split())
    if not name:
        return None
    if _is_organisation(name):
        return {"creatorType": creator_type, "name": name}
    suffix = ""
    match = re.fullmatch(r"(.+?),?\s+(Jr\.?|Sr\.?|II|III|IV)", name)
    if match and " " in match.group(1):
        name, suffix = match.group(1), match.group(2)
    words = name.split(" ")
    if len(words) == 1:
        return {"creatorType": creator_type, "firstName": "", "lastName": name}
    cut = len(words) - 1
    while cut > 1 and (words[cut - 1] in _LOWER_PARTICLES or words[cut - 1] in _CAPITAL_PARTICLES):
        cut -= 1
    # A lowercase particle starts the family name even before more names ("da Silva Santos").
    cut = next((i for i in range(1, cut) if words[i] in _LOWER_PARTICLES), cut)
    first = " ".join(words[:cut])
    if suffix:
        first += f", {suffix}"
    return {"creatorType": creator_type, "firstName": first, "lastName": " ".join(words[cut:])}


def _is_organisation(name: str) -> bool:
    """Tell an organisation ("Gemini Team", "DeepSeek-AI", "OpenAI") from a person's name."""
    if _ORGANISATION_RE.search(name):
        return True
    if " " in name:
        return False
    # One word: a person's name unless it is written like a brand (OpenAI, GPT4, NVIDIA).
    letters = re.sub(r"[^A-Za-z]", "", name)
    camel = re.search(r"[a-z][A-Z]", name) is not None
    shouting = len(letters) >= 3 and letters.isupper()
    return camel or shouting or any(ch.isdigit() for ch in name)


def validate_item(item: Mapping[str, Any], schema: Mapping[str, Any] | None = None) -> list[str]:
    """List what Zotero's schema would refuse in an item (empty when it is valid).

    `schema` is Zotero's schema JSON (its `itemTypes` list); without it, the subset built
    into this module (preprint, journalArticle, conferencePaper) is used.
    """
    fields, creator_types = _schema_tables(schema)
    problems: list[str] = []
    item_type = item.get("itemType")
    if not isinstance(item_type, str) or item_type not in fields:
        return [f"unknown itemType {item_type!r}"]
    allowed = fields[item_type]
    for name, value in item.items():
        if name in BASE_PROPERTIES:
            continue
        if name not in allowed:
            problems.append(f"field {name!r} is not valid for {item_type}")
        elif not isinstance(value, str):
            problems.append(f"field {name!r} must be a string")
    creators = item.get("creators", [])
    if not isinstance(creators, list):
        problems.append("creators must be a list")
        creators = []
    for index, creator in enumerate(creators):
        if not isinstance(creator, Mapping):
            problems.append(f"creator {index} must be an object")
            continue
        ctype = creator.get("creatorType")
        if ctype not in creator_types[item_type]:
            problems.append(f"creator {index}: creatorType {ctype!r} is not valid for {item_type}")
        has_name = "name" in creator
        has_split = "firstName" in creator or "lastName" in creator
        if has_name == has_split:
            problems.append(f"creator {index}: give either name or firstName/lastName")
        extra_keys = set(creator) - {"creatorType", "name", "firstName", "lastName"}
        if extra_keys:
            problems.append(f"creator {index}: unknown properties {sorted(extra_keys)}")
        for key in ("name", "firstName", "lastName"):
            if key in creator and not isinstance(creator[key], str):
                problems.append(f"creator {index}: {key} must be a string")
    tags = item.get("tags", [])
    if not isinstance(tags, list):
        problems.append("tags must be a list")
        tags = []
    for index, tag in enumerate(tags):
        if not isinstance(tag, Mapping) or not isinstance(tag.get("tag"), str) or not tag["tag"]:
            problems.append(f"tag {index} must be an object with a non-empty 'tag'")
        elif tag.get("type", 0) not in (0, 1) or set(tag) - {"tag", "type"}:
            problems.append(f"tag {index}: only 'tag' and 'type' (0 or 1) are allowed")
    collections = item.get("collections", [])
    if not isinstance(collections, list) or not all(
        isinstance(key, str) and _OBJECT_KEY_RE.fullmatch(key) for key in collections
    ):
        problems.append("collections must be a list of collection keys")
    if not isinstance(item.get("relations", {}), Mapping):
        problems.append("relations must be an object")
    return problems


def item_to_paper(data: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> Paper:
    """Read a Zotero item's data (and `meta.parsedDate`, when given) back as a Paper.

    A journal article or conference paper keeps its venue field by field, so it is written
    to the .bib as the published entry. Manual tags (type 0) are the paper's tags; automatic
    ones (type 1) that name arXiv categories are its categories.
    """
    creators = [c for c in data.get("creators") or [] if isinstance(c, Mapping)]
    authors = [c for c in creators if c.get("creatorType") == "author"] or creators
    year, month = None, None
    parsed = (meta or {}).get("parsedDate")
    if isinstance(parsed, str):
        year, month = _parse_date(parsed)
    if year is None:
        year, month = _parse_date(str(data.get("date") or ""))
    full_date = _FULL_DATE_RE.search(str(data.get("date") or ""))
    aid = item_arxiv_id(data)
    extra = str(data.get("extra") or "")
    primary = _PRIMARY_RE.search(extra)
    tags: list[str] = []
    categories: list[str] = []
    for tag in data.get("tags") or []:
        if not isinstance(tag, Mapping) or not isinstance(tag.get("tag"), str) or not tag["tag"]:
            continue
        if tag.get("type") == 1:
            if _CATEGORY_RE.fullmatch(tag["tag"]):
                categories.append(tag["tag"])
        else:
            tags.append(tag["tag"])
    abstract = str(data.get("abstractNote") or "").strip()
    return Paper(
        title=" ".join(str(data.get("title") or "").split()) or "(untitled)",
        abstract=abstract or None,
        arxiv_id=aid,
        authors=tuple(name for name in (_display_name(c) for c in authors) if name),
        year=year,
        month=month,
        primary_category=primary.group(1) if primary and aid else None,
        doi=item_doi(data),
        journal_ref=_journal_ref(data),
        tags=tuple(tags),
        resolved=True,
        date=full_date.group(0) if full_date else None,
        categories=tuple(categories),
        venue=_item_venue(data, year),
    )


def _item_venue(data: Mapping[str, Any], year: int | None) -> Venue | None:
    """The venue of a journal article or conference paper, field by field."""
    item_type = data.get("itemType")
    if item_type == "journalArticle":
        kind, name = "journal", str(data.get("publicationTitle") or "").strip()
    elif item_type == "conferencePaper":
        kind = "conference"
        name = str(data.get("proceedingsTitle") or data.get("conferenceName") or "").strip()
    else:
        return None
    if not name:
        return None

    def text(field_name: str) -> str | None:
        return str(data.get(field_name) or "").strip() or None

    return Venue(kind, name, text("volume"), text("issue"), text("pages"), year)


def item_citation_key(data: Mapping[str, Any]) -> str | None:
    """The citation key an item carries: the `citationKey` field, else `Citation Key:` in Extra."""
    field_value = str(data.get("citationKey") or "").strip()
    if field_value:
        return field_value
    match = _CITATION_KEY_RE.search(str(data.get("extra") or ""))
    return match.group(1) if match else None


def item_arxiv_id(data: Mapping[str, Any]) -> ArxivId | None:
    """The arXiv identifier an item names in archiveID, URL, DOI or Extra (version dropped)."""
    for name in ("archiveID", "url", "DOI", "extra"):
        value = data.get(name)
        if isinstance(value, str) and value:
            found = find_arxiv_ids(value)
            if found:
                return ArxivId(found[0].id)
    return None


def item_doi(data: Mapping[str, Any]) -> str | None:
    """The item's published DOI (not arXiv's own 10.48550 DOI), from DOI or a `DOI:` line."""
    candidates = [str(data.get("DOI") or "")]
    candidates += _EXTRA_DOI_RE.findall(str(data.get("extra") or ""))
    for candidate in candidates:
        doi = _normalize_doi(candidate)
        if doi and not doi.startswith("10.48550/"):
            return doi
    return None


def item_identities(data: Mapping[str, Any]) -> set[str]:
    """Every identity an item can be matched by: `arxiv:<id>` and `doi:<doi>` strings."""
    identities: set[str] = set()
    for name in ("url", "DOI", "archiveID", "extra"):
        value = data.get(name)
        if isinstance(value, str) and value:
            identities.update(f"arxiv:{aid.id}" for aid in find_arxiv_ids(value))
    doi = item_doi(data)
    if doi:
        identities.add(f"doi:{doi.lower()}")
    return identities


def paper_identities(paper: Paper) -> list[str]:
    """The identities a paper is matched by, strongest first."""
    identities: list[str] = []
    if paper.arxiv_id is not None:
        identities.append(f"arxiv:{paper.arxiv_id.id}")
    doi = _normalize_doi(paper.doi or "")
    if doi:
        as_arxiv = parse_arxiv_id(doi)
        identities.append(f"arxiv:{as_arxiv.id}" if as_arxiv else f"doi:{doi.lower()}")
    return list(dict.fromkeys(identities))


def _tag_names(tags: Any) -> Iterator[str]:
    for tag in tags or []:
        if isinstance(tag, Mapping) and isinstance(tag.get("tag"), str):
            yield tag["tag"]


def _clean_tags(tags: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(tag.strip() for tag in tags if tag and tag.strip()))


def _paper_date(paper: Paper, venue: Venue | None = None) -> str:
    """The item's date: the venue's year when it differs from arXiv's, else the full date."""
    year, month = paper.year, paper.month
    if year is None and paper.arxiv_id is not None and paper.arxiv_id.year_month:
        year, month = paper.arxiv_id.year_month
    if venue is not None and venue.year is not None and venue.year != year:
        return f"{venue.year:04d}"
    if paper.date and (year is None or paper.date.startswith(f"{year:04d}-")):
        return paper.date
    if year is None:
        return ""
    return f"{year:04d}-{month:02d}" if month else f"{year:04d}"


def _parse_date(text: str) -> tuple[int | None, int | None]:
    """Year and month from the dates Zotero holds: ISO, `MM/YYYY`, `March 2020`, `2020`."""
    iso = re.search(r"\b(\d{4})-(\d{1,2})(?:-\d{1,2})?\b", text)
    if iso and 1 <= int(iso.group(2)) <= 12:
        return int(iso.group(1)), int(iso.group(2))
    slashed = re.search(r"\b(\d{1,2})/(\d{4})\b", text)
    if slashed and 1 <= int(slashed.group(1)) <= 12:
        return int(slashed.group(2)), int(slashed.group(1))
    year = re.search(r"\b(1[5-9]\d{2}|2\d{3})\b", text)
    if year is None:
        return None, None
    month = None
    for word in re.findall(r"[A-Za-z]+", text):
        if word.lower() in _MONTHS:
            month = _MONTHS[word.lower()]
            break
    return int(year.group(1)), month


def _display_name(creator: Mapping[str, Any]) -> str:
    name = str(creator.get("name") or "").strip()
    if name:
        return name
    first = str(creator.get("firstName") or "").strip()
    last = str(creator.get("lastName") or "").strip()
    suffix = ""
    if ", " in first:
        first, suffix = (part.strip() for part in first.split(", ", 1))
    return " ".join(part for part in (first, last, suffix) if part)


def _journal_ref(data: Mapping[str, Any]) -> str | None:
    venue = str(
        data.get("publicationTitle")
        or data.get("proceedingsTitle")
        or data.get("conferenceName")
        or ""
    ).strip()
    if not venue:
        return None
    volume = str(data.get("volume") or "").strip()
    issue = str(data.get("issue") or "").strip()
    pages = str(data.get("pages") or "").strip()
    ref = venue
    if volume:
        ref += f" {volume}" + (f"({issue})" if issue else "")
    if pages:
        ref += f", {pages}"
    return ref


def _normalize_doi(text: str) -> str:
    doi = text.strip()
    doi = re.sub(r"(?i)^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", "", doi)
    return doi if doi.startswith("10.") else ""


def _schema_tables(
    schema: Mapping[str, Any] | None,
) -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    if schema is None:
        fields = {name: frozenset(values) for name, values in ITEM_TYPE_FIELDS.items()}
        creators = {name: frozenset(values) for name, values in ITEM_TYPE_CREATORS.items()}
        return fields, creators
    fields, creators = {}, {}
    for entry in schema.get("itemTypes", []):
        name = entry.get("itemType")
        fields[name] = frozenset(f["field"] for f in entry.get("fields", []))
        creators[name] = frozenset(c["creatorType"] for c in entry.get("creatorTypes", []))
    return fields, creators
