"""Make citation keys such as ``zhu2025internvl3`` from a configurable formula.

Placeholders in the formula:

- ``{auth}``: the first author's last name, without particles or suffixes
  (``Laurens van der Maaten`` -> ``maaten``, ``Martin Luther King Jr.`` -> ``king``), the
  way BibTeX's ``{ll}`` name part and Better BibTeX's ``auth`` read it;
- ``{authors}``: one author's last name, two authors' last names, or the first one's
  followed by ``etal``;
- ``{year}``: the year;
- ``{shorttitle}``: the first title word that is not a stopword (``InternVL3:`` ->
  ``internvl3``, ``4M-21`` -> ``4m21``);
- ``{title}``: the first three such words, concatenated;
- ``{eprint}``: the arXiv identifier without ``.`` and ``/`` (``250410479``).

Text is transliterated to ASCII (``Schölkopf`` -> ``scholkopf``, ``Łukasz`` -> ``lukasz``);
letters with no Latin spelling (CJK, Arabic...) are dropped. A part with no value is left
out; an empty key becomes ``arxiv<digits>`` or ``paper``. Keys already taken (compared
without case, as BibTeX does) get ``a``, ``b``, ... ``z``, ``aa``, ``ab``, ...
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable, Iterator

from readlist.latex import plain_text
from readlist.models import Paper

__all__ = ["DEFAULT_FORMULA", "PLACEHOLDERS", "make_citekey", "to_ascii"]


def _words(text: str) -> frozenset[str]:
    """Return the whitespace-separated words of `text`."""
    return frozenset(text.split())


DEFAULT_FORMULA = "{auth}{year}{shorttitle}"
PLACEHOLDERS = ("auth", "authors", "year", "shorttitle", "title", "eprint")

STOPWORDS = _words(
    """
    a an the
    about above across after against along among around as at before behind below beneath
    beside besides between beyond by down during for from in inside into like near of off on
    onto out outside over past per since than through throughout to toward towards under
    underneath until unto up upon via vs versus with within without
    and but nor or so yet
    """
)
_PARTICLES = _words("van von der den de del della di da dos das du la le lo ter ten zu zum zur")
_SUFFIXES = _words("jr jr. sr sr. ii iii iv")
# Letters NFKD does not decompose into ASCII.
_TRANSLITERATIONS = str.maketrans(
    {
        "ł": "l",
        "Ł": "L",
        "ø": "o",
        "Ø": "O",
        "ß": "ss",
        "ẞ": "SS",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "Th",
        "ı": "i",
        "ȷ": "j",
        "ħ": "h",
        "Ħ": "H",
        "ŧ": "t",
        "Ŧ": "T",
        "ŋ": "ng",
        "Ŋ": "Ng",
        "ĸ": "k",
        "ŀ": "l",
        "Ŀ": "L",
    }
)
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_LITERAL_ALLOWED = re.compile(r"[^A-Za-z0-9_:.-]")
_SEPARATORS = "_:.-"
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
# The longest value a placeholder contributes to a key; real names and title words are shorter.
MAX_VALUE_CHARS = 40


def make_citekey(
    paper: Paper,
    formula: str = DEFAULT_FORMULA,
    *,
    lowercase: bool = True,
    taken: Collection[str] = (),
) -> str:
    """Return a citation key for `paper` built from `formula`, unique among `taken`.

    Raises:
        ValueError: If `formula` names an unknown placeholder or has a stray brace.
    """
    values = _placeholder_values(paper)
    if not paper.authors and ("{auth}" in formula or "{authors}" in formula):
        # No author known yet (a paper added offline): `{auth}{year}{shorttitle}` would shrink
        # to one generic title word ("multimodal"), and keys are never renamed later. Three
        # title words, or the arXiv ID when the title is only a placeholder, stay distinctive.
        formula = "arxiv{eprint}" if _title_is_placeholder(paper) else "{title}"
    parts: list[str] = []
    pos = 0
    for match in _PLACEHOLDER.finditer(formula):
        parts.append(_literal(formula[pos : match.start()]))
        name = match.group(1)
        if name not in values:
            raise ValueError(
                f"unknown placeholder {{{name}}} in citation key formula {formula!r}; "
                f"use {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
            )
        parts.append(values[name])
        pos = match.end()
    parts.append(_literal(formula[pos:]))
    key = "".join(parts).strip(_SEPARATORS)
    if lowercase:
        key = key.lower()
    if not any(char.isalnum() for char in key):
        key = "arxiv" + values["eprint"] if values["eprint"] else "paper"
    return _unique(key, taken)


def to_ascii(text: str) -> str:
    """Transliterate `text` to ASCII, dropping what has no Latin spelling."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATIONS))
    return decomposed.encode("ascii", "ignore").decode("ascii")


def _literal(text: str) -> str:
    """Return literal formula text with characters a key cannot hold removed."""
    if "{" in text or "}" in text:
        raise ValueError(f"stray brace in citation key formula near {text!r}")
    return _LITERAL_ALLOWED.sub("", text)


def _alnum(text: str) -> str:
    """Return the ASCII letters and digits of `text` (TeX decoded, transliterated)."""
    if text.isascii() and "\\" not in text and "$" not in text:
        # No TeX to decode and nothing to transliterate: the letters and digits as they are.
        return _NOT_ALNUM.sub("", text)
    return _NOT_ALNUM.sub("", to_ascii(plain_text(text)))


def _title_is_placeholder(paper: Paper) -> bool:
    """Whether the title only repeats the arXiv ID (an identifier added offline)."""
    if paper.arxiv_id is None:
        return False
    title = paper.title.strip().lower()
    return title.startswith("arxiv:") and paper.arxiv_id.id.lower() in title


def _placeholder_values(paper: Paper) -> dict[str, str]:
    """Compute every placeholder's value for `paper` ("" when unknown)."""
    last_names = [_last_name(author) for author in paper.authors]
    last_names = [name for name in last_names if name]
    authors = last_names[0] + "etal" if len(last_names) > 2 else "".join(last_names)
    words = [_alnum(word) for word in plain_text(paper.title).split()]
    words = [word for word in words if word and word.lower() not in STOPWORDS]
    eprint = re.sub(r"[^A-Za-z0-9]", "", paper.arxiv_id.id) if paper.arxiv_id else ""
    values = {
        "auth": last_names[0] if last_names else "",
        "authors": authors,
        "year": str(paper.year) if paper.year is not None else "",
        "shorttitle": words[0] if words else "",
        "title": "".join(words[:3]),
        "eprint": eprint,
    }
    # A key is typed in \cite: a 20,000-letter "word" from a hostile title must not become one.
    return {name: value[:MAX_VALUE_CHARS] for name, value in values.items()}


def _last_name(author: str) -> str:
    """Return the last name of display name `author`, as ASCII letters and digits."""
    author = plain_text(author)
    if "," in author:
        # "Last, First" (or "von Last, Jr., First") as BibTeX writes it.
        tokens = author.split(",", 1)[0].split()
        kept = [token for token in tokens if token.lower() not in _PARTICLES]
        return _alnum("".join(kept or tokens))
    tokens = author.split()
    while len(tokens) > 1 and tokens[-1].lower() in _SUFFIXES:
        tokens.pop()
    return _alnum(tokens[-1]) if tokens else ""


def _suffix(index: int) -> str:
    """Return the `index`-th collision suffix: a, b, ..., z, aa, ab, ..."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return letters


class KeySet:
    """Citation keys in use, compared case-insensitively, as `make_citekey` wants them.

    Passing one (and adding each new key to it) keeps a run that adds many papers linear:
    any other collection is folded again on every call.
    """

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._folded = {key.casefold() for key in keys}
        # key -> the suffix index below which every suffix was found taken (keys stay taken)
        self._probed: dict[str, int] = {}

    def add(self, key: str) -> None:
        self._folded.add(key.casefold())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.casefold() in self._folded

    def __iter__(self) -> Iterator[str]:
        return iter(self._folded)

    def __len__(self) -> int:
        return len(self._folded)

    def free(self, key: str) -> str:
        """Return `key`, or `key` plus the first collision suffix not taken."""
        if key not in self:
            return key
        folded = key.casefold()
        index = self._probed.get(folded, 0)
        while key + _suffix(index) in self:
            index += 1
        self._probed[folded] = index
        return key + _suffix(index)


def _unique(key: str, taken: Collection[str]) -> str:
    """Return `key`, or `key` plus the first suffix not in `taken` (case-insensitive)."""
    return (taken if isinstance(taken, KeySet) else KeySet(taken)).free(key)
