"""Recognize arXiv identifiers in every form users paste: bare IDs, URLs, DOIs, BibTeX fields."""

from __future__ import annotations

import re

from readlist.models import ArxivId

# Archives that appear in old-style identifiers (archive/YYMMNNN), including the ones arXiv
# merged into others later (e.g. alg-geom -> math.AG); their papers keep the old name.
OLD_ARCHIVES: frozenset[str] = frozenset(
    {
        "acc-phys",
        "adap-org",
        "alg-geom",
        "ao-sci",
        "astro-ph",
        "atom-ph",
        "bayes-an",
        "chao-dyn",
        "chem-ph",
        "cmp-lg",
        "comp-gas",
        "cond-mat",
        "cs",
        "dg-ga",
        "econ",
        "eess",
        "funct-an",
        "gr-qc",
        "hep-ex",
        "hep-lat",
        "hep-ph",
        "hep-th",
        "math",
        "math-ph",
        "mtrl-th",
        "nlin",
        "nucl-ex",
        "nucl-th",
        "patt-sol",
        "physics",
        "plasm-ph",
        "q-alg",
        "q-bio",
        "q-fin",
        "quant-ph",
        "solv-int",
        "stat",
        "supr-con",
    }
)

# The identifier itself, loosely: validation (months, suffix widths, archive names) happens
# in `_validate`, so that one pattern serves both whole-string parsing and searching.
_CORE = r"""
(?:
    \d{4}\.\d{4,5}                              # new style: YYMM.NNNN(N)
  | [a-z]+(?:-[a-z]+)?(?:\.[a-z][a-z-]*)?/\d{7}  # old style: archive(.subject)/YYMMNNN
)
(?:v\d+)?
"""
_CORE_RE = re.compile(
    r"""
    (?P<new>(?P<yymm>\d{4})\.(?P<num>\d{4,5}))
    |
    (?P<archive>[a-z]+(?:-[a-z]+)?)(?:\.[a-z][a-z-]*)?/(?P<old>(?P<oyymm>\d{4})(?P<onum>\d{3}))
    """,
    re.IGNORECASE | re.VERBOSE,
)
_VERSION_RE = re.compile(r"(?P<id>.+?)(?:v(?P<version>\d+))?", re.IGNORECASE)

# Text that says "the following is an arXiv identifier".
_ABS_URL = r"(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html|format)/(?:arxiv:)?"
_HF_URL = r"(?:www\.)?(?:huggingface\.co|hf\.co)/papers/"
_DOI = r"10\.48550/arxiv\."
_DOI_URL = r"(?:dx\.)?doi\.org/" + _DOI
_ARXIV_PREFIX = r"arxiv\s*:?\s*"

# A whole string that is a URL: anything after the ID must be URL decoration.
_URL_FULL_RE = re.compile(
    rf"""
    (?:https?://)?(?:{_ABS_URL}|{_HF_URL}|{_DOI_URL})
    (?P<id>{_CORE})
    (?:\.pdf)?/?(?:[?\#].*)?
    """,
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)
# A whole string that is an identifier with an optional arXiv:/doi: label.
_PLAIN_FULL_RE = re.compile(
    rf"""
    (?:{_ARXIV_PREFIX}|(?:doi\s*:\s*)?{_DOI})?
    (?P<id>{_CORE})
    """,
    re.IGNORECASE | re.VERBOSE,
)

# After an identifier found inside text: no more digits, letters or a decimal continuation.
_END = r"(?!\w|\.\d)"
_CONTEXT_FIND_RE = re.compile(
    rf"""
    (?:
        (?<![\w.]){_DOI}
      | (?<!\w)(?:{_ABS_URL}|{_HF_URL}|{_ARXIV_PREFIX})
    )
    (?P<id>{_CORE}){_END}
    """,
    re.IGNORECASE | re.VERBOSE,
)
_BARE_FIND_RE = re.compile(
    rf"""
    (?:
        (?<![\w.]){_DOI}
      | (?<!\w)(?:{_ABS_URL}|{_HF_URL}|{_ARXIV_PREFIX})
    )
    (?P<id>{_CORE}){_END}
    |
    (?<![\w./-])(?P<bare>{_CORE}){_END}
    """,
    re.IGNORECASE | re.VERBOSE,
)
# Old-style IDs name their archive, so even bare they cannot be mistaken for ordinary numbers.
_OLD_BARE_FIND_RE = re.compile(
    r"(?<![\w./-])(?P<bare>[a-z]+(?:-[a-z]+)?(?:\.[a-z][a-z-]*)?/\d{7}(?:v\d+)?)" + _END,
    re.IGNORECASE,
)


def _validate(token: str) -> ArxivId | None:
    """Turn a loosely matched identifier into an `ArxivId`, or None when arXiv never issued it."""
    split = _VERSION_RE.fullmatch(token)
    if split is None:
        return None
    body, version_text = split.group("id"), split.group("version")
    version = int(version_text) if version_text is not None else None
    if version == 0:
        return None
    match = _CORE_RE.fullmatch(body)
    if match is None:
        return None
    if match.group("new"):
        yymm, num = match.group("yymm"), match.group("num")
        month = int(yymm[2:])
        if not 1 <= month <= 12 or int(yymm) < 704 or int(num) == 0:
            return None
        # Four-digit sequence numbers ran from 0704 to 1412, five-digit ones since 1501.
        if (len(num) == 4) != (int(yymm) <= 1412):
            return None
        return ArxivId(f"{yymm}.{num}", version)
    archive = match.group("archive").lower()
    yymm = match.group("oyymm")
    year, month = int(yymm[:2]), int(yymm[2:])
    if archive not in OLD_ARCHIVES or not 1 <= month <= 12 or int(match.group("onum")) == 0:
        return None
    # Old-style numbering ran from August 1991 (9108) to March 2007 (0703).
    ordinal = (1900 + year if year >= 91 else 2000 + year) * 12 + month
    if not 1991 * 12 + 8 <= ordinal <= 2007 * 12 + 3:
        return None
    # arXiv's canonical form drops the subject class: math.GT/0309136 is math/0309136.
    return ArxivId(f"{archive}/{match.group('old')}", version)


def parse_arxiv_id(text: str) -> ArxivId | None:
    """Parse a string that is exactly one arXiv identifier, URL or DOI; return None otherwise."""
    text = text.strip()
    if not text or len(text) > 2000:
        return None
    match = _PLAIN_FULL_RE.fullmatch(text) or _URL_FULL_RE.fullmatch(text)
    return _validate(match.group("id")) if match else None


def is_arxiv_id(text: str) -> bool:
    """Tell whether a string is exactly one arXiv identifier, URL or DOI."""
    return parse_arxiv_id(text) is not None


def find_arxiv_ids(text: str, bare_ok: bool = False) -> list[ArxivId]:
    """Find every arXiv identifier mentioned in free text, in order, without repeats.

    New-style numbers such as ``2006.03654`` count only after ``arXiv:``, inside an arxiv.org
    or Hugging Face papers URL, or in the ``10.48550/arXiv.`` DOI, unless `bare_ok` is set
    (for fields such as ``eprint`` that hold nothing else). Old-style IDs
    (``hep-th/9901001``) name their archive and are always recognized.
    """
    found: list[tuple[int, ArxivId]] = []
    pattern = _BARE_FIND_RE if bare_ok else _CONTEXT_FIND_RE
    for match in pattern.finditer(text):
        arxiv_id = _validate(match.group("id") or match.group("bare"))
        if arxiv_id is not None:
            found.append((match.start(), arxiv_id))
    if not bare_ok:
        for match in _OLD_BARE_FIND_RE.finditer(text):
            arxiv_id = _validate(match.group("bare"))
            if arxiv_id is not None:
                found.append((match.start(), arxiv_id))
        found.sort(key=lambda item: item[0])
    seen: set[ArxivId] = set()
    unique: list[ArxivId] = []
    for _, arxiv_id in found:
        if arxiv_id not in seen:
            seen.add(arxiv_id)
            unique.append(arxiv_id)
    return unique
