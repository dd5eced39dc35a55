"""Decide whether a search candidate IS the listed paper.

A wrong arXiv ID is worse than none, so `choose` accepts a candidate only when its title is
the listing's title after normalization, its abstract (when both sides have one) agrees with
the listing's, and no other arXiv ID passes the same test. Everything else is refused with a
reason and the near misses the user may want to look at.

Abstracts are compared by `abstract_similarity`: the overlap coefficient of the character
20-grams of both texts, taken after TeX, case, digits and every space and punctuation mark
are removed. Removing the spaces makes the measure blind to the ways one abstract gets
rendered differently (hard line breaks, `multi-modal` / `multimodal`, HF's math rendering
`8times` for arXiv's `8$\\times$`); removing digits forgives changed numbers between versions;
the overlap coefficient (shared / smaller set) forgives sentences added in a later version.
On the 167 distinct sample abstracts (shared/listings), two different papers score at most
0.10 (13,861 pairs), while "older version" variants of one abstract (20-40% of sentences
dropped, replaced or reworded, every number changed) score at least 0.38 (about 15,000
variants). `ABSTRACT_THRESHOLD` sits between, nearer the second: a doubtful match is
refused rather than risked.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from readlist.ids import parse_arxiv_id
from readlist.models import Listing
from readlist.normalize import normalize_title, normalize_whitespace

if TYPE_CHECKING:
    from readlist.resolve.hf import HfPaper

# Abstracts at or above this similarity describe the same paper (see the module docstring).
ABSTRACT_THRESHOLD = 0.3
# Length of the character shingles: about three words, rarely shared by chance.
SHINGLE_CHARS = 20
# Shared shingles are divided by at least this many, so that a very short text (a stub
# abstract, a title pasted as abstract) cannot vouch for a paper on its own.
MIN_SHINGLES = 100
# At most this many refused candidates are shown to the user.
MAX_NEAR = 3

_DIGITS_RE = re.compile(r"\d+")
# The HF page renders some math as words: $\times$ as "times", $\sim$ as "sim".
_MATH_SYMBOLS = str.maketrans({"×": " times ", "∼": " sim "})


@dataclass(frozen=True)
class Candidate:
    """A paper a search returned, as far as matching needs to know it."""

    arxiv_id: str  # bare arXiv ID, no version
    title: str
    abstract: str | None
    source: str  # "hf" or "arxiv"


@dataclass(frozen=True)
class Verdict:
    """The outcome of `choose`: the accepted candidate, or why none was."""

    accepted: Candidate | None
    reason: str | None = None  # one user-facing sentence; None when a candidate was accepted
    near: tuple[str, ...] = ()  # the best refused candidates, described, at most MAX_NEAR


def titles_match(a: str, b: str) -> bool:
    """Tell whether two titles name the same paper (case, punctuation, TeX, unicode aside)."""
    key = normalize_title(a)
    return bool(key) and key == normalize_title(b)


def _abstract_key(text: str) -> str:
    """Reduce an abstract to its letters, lower case, without TeX, digits or any spacing."""
    key = normalize_title(text.translate(_MATH_SYMBOLS))
    return _DIGITS_RE.sub("", key).replace(" ", "")


# A listing's abstract is compared with every candidate's: keep a few recent shingle sets
# (each takes about 200 kB).
@functools.lru_cache(maxsize=32)
def _shingles(text: str) -> frozenset[str]:
    """Return the set of SHINGLE_CHARS-long substrings of an abstract's key."""
    key = _abstract_key(text)
    if len(key) <= SHINGLE_CHARS:
        return frozenset({key} if key else ())
    return frozenset(key[i : i + SHINGLE_CHARS] for i in range(len(key) - SHINGLE_CHARS + 1))


def abstract_similarity(a: str, b: str) -> float:
    """Score how surely two abstracts describe the same paper, from 0.0 to 1.0."""
    left, right = _shingles(a), _shingles(b)
    if not left or not right:
        return 0.0
    shared = len(left & right)
    return shared / max(min(len(left), len(right)), MIN_SHINGLES)


def candidates_from_hf(papers: Iterable[HfPaper]) -> list[Candidate]:
    """Turn Hugging Face search results into candidates, in order."""
    return [Candidate(p.arxiv_id, p.title, p.summary or None, "hf") for p in papers]


def _clean(text: str | None) -> str | None:
    """Return the text with its whitespace normalized, or None when it is blank."""
    if text is None:
        return None
    return normalize_whitespace(text) or None


def _short(title: str, limit: int = 60) -> str:
    """Shorten a title for a one-line description."""
    title = normalize_whitespace(title)
    if len(title) <= limit:
        return title
    cut = title[: limit - 3]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]  # end on a whole word
    return cut.rstrip(" ,:;-") + "..."


def _describe(candidate: Candidate, why: str) -> str:
    """Describe a refused candidate in one line: ID, title and why it was refused."""
    return f'arXiv:{candidate.arxiv_id} "{_short(candidate.title)}" ({why})'


def _join_ids(ids: Sequence[str]) -> str:
    """List arXiv IDs for a sentence: "arXiv:A, arXiv:B"."""
    return ", ".join(f"arXiv:{i}" for i in ids)


def _papers_have_title(ids: Sequence[str]) -> str:
    """Say that several papers share the listing's title, naming them."""
    count = "two" if len(ids) == 2 else str(len(ids))
    return f"{count} papers have this title: {_join_ids(ids)}"


@dataclass
class _Group:
    """Everything the candidates say about one arXiv ID."""

    arxiv_id: str
    candidates: list[Candidate]
    title_matches: bool = False
    best: Candidate | None = None  # the candidate that speaks for this ID
    similarity: float | None = None  # best abstract similarity, when both sides have one


def _group(candidates: Sequence[Candidate]) -> tuple[dict[str, _Group], list[Candidate]]:
    """Group candidates by canonical arXiv ID; set aside those whose ID is not valid."""
    groups: dict[str, _Group] = {}
    invalid: list[Candidate] = []
    for candidate in candidates:
        parsed = parse_arxiv_id(candidate.arxiv_id)
        if parsed is None:
            invalid.append(candidate)
            continue
        groups.setdefault(parsed.id, _Group(parsed.id, [])).candidates.append(candidate)
    return groups, invalid


def choose(listing: Listing, candidates: Sequence[Candidate]) -> Verdict:
    """Accept the one candidate that is the listed paper, or refuse and say why."""
    title = _clean(listing.title)
    if title is None:
        return Verdict(None, "the listing has no title to match")
    if not candidates:
        return Verdict(None, "the search found no candidates")
    abstract = _clean(listing.abstract)
    groups, invalid = _group(candidates)

    for group in groups.values():
        matching = [c for c in group.candidates if titles_match(title, c.title)]
        group.title_matches = bool(matching)
        with_abstract = [c for c in matching if _clean(c.abstract) is not None]
        group.best = (with_abstract or matching or group.candidates)[0]
        if not with_abstract or abstract is None:
            continue
        # One source may carry an older abstract than the other: the best agreement counts.
        for candidate in with_abstract:
            score = abstract_similarity(abstract, candidate.abstract or "")
            if group.similarity is None or score > group.similarity:
                group.similarity, group.best = score, candidate

    titled = [g for g in groups.values() if g.title_matches]
    if abstract is None:
        passed = titled
    else:
        passed = [g for g in titled if (g.similarity or 0.0) >= ABSTRACT_THRESHOLD]
    unconfirmed = [g for g in titled if abstract is not None and g.similarity is None]
    differing = [
        g for g in titled if g.similarity is not None and g.similarity < ABSTRACT_THRESHOLD
    ]

    if len(passed) == 1:
        group = passed[0]
        accepted = _best(group)
        if accepted.arxiv_id != group.arxiv_id:
            accepted = replace(accepted, arxiv_id=group.arxiv_id)
        return Verdict(accepted, None)

    near: list[str] = []
    if passed:
        ids = [g.arxiv_id for g in passed]
        reason = _papers_have_title(ids)
        if abstract is None:
            reason += ", and the listing has no abstract to tell them apart"
        else:
            reason += ", and both abstracts agree" if len(ids) == 2 else ", and all abstracts agree"
        near += [_describe(_best(g), "same title") for g in passed]
    elif unconfirmed:
        ids = [g.arxiv_id for g in unconfirmed]
        if len(ids) == 1:
            reason = f"title matches arXiv:{ids[0]} but there is no abstract to confirm it"
        else:
            reason = f"{_papers_have_title(ids)}, and no abstract to confirm either"
        near += [_describe(_best(g), "no abstract to confirm") for g in unconfirmed]
        for g in differing:
            near.append(_describe(_best(g), f"abstract differs, similarity {g.similarity:.2f}"))
    elif differing:
        differing.sort(key=lambda g: -(g.similarity or 0.0))
        if len(differing) == 1:
            g = differing[0]
            reason = (
                f"title matches arXiv:{g.arxiv_id} but the abstract differs "
                f"(similarity {g.similarity:.2f})"
            )
        else:
            scores = ", ".join(f"{g.similarity:.2f}" for g in differing)
            reason = (
                f"{_papers_have_title([g.arxiv_id for g in differing])}, "
                f"but no abstract agrees (similarity {scores})"
            )
        for g in differing:
            near.append(_describe(_best(g), f"abstract differs, similarity {g.similarity:.2f}"))
    else:
        reason = "no candidate has this title"

    near += [_describe(c, "not a valid arXiv ID") for c in invalid if titles_match(title, c.title)]
    if len(near) < MAX_NEAR:
        near += _title_near_misses(title, [g for g in groups.values() if not g.title_matches])
    return Verdict(None, reason, tuple(near[:MAX_NEAR]))


def _best(group: _Group) -> Candidate:
    """Return the candidate that speaks for a group."""
    return group.best if group.best is not None else group.candidates[0]


def _title_near_misses(title: str, groups: Sequence[_Group]) -> list[str]:
    """Describe the candidates whose titles come closest to the listing's, best first."""
    key = normalize_title(title)

    def closeness(group: _Group) -> float:
        return difflib.SequenceMatcher(None, key, normalize_title(_best(group).title)).ratio()

    ranked = sorted(groups, key=closeness, reverse=True)
    return [_describe(_best(g), "title differs") for g in ranked[:MAX_NEAR]]
