"""Spell letters exactly for pdfLaTeX under T1: LaTeX macros where they exist, UTF-8 otherwise.

A letter is written so that it decodes back to itself and prints as itself, never as a
look-alike (Đ is ``{\\DJ}``, Ð is ``{\\DH}``, ű is ``{\\H{u}}``, ễ is ``{\\~{{\\^e}}}``).

- `spell_letter` gives the ASCII LaTeX of a Latin letter when T1's accents and letters can
  build it exactly; the BibTeX output uses it.
- Everything else is written as UTF-8. pdfLaTeX's ``utf8`` input encoding knows the letters
  the T1/TS1 tables declare (`t1_declares`); for the others, `preamble_entry` writes an
  ``@preamble`` that teaches LaTeX each one (`declaration`): the same accent macros
  (biber turns ``\\d{a}`` into UTF-8 ạ, which the T1 tables lack), an approximation for
  letters T1 has no glyph for (horn ư ơ, hook above ả, stroke Ħ, schwa Ə), and a visible
  ``?`` for scripts pdfLaTeX cannot set without extra packages (CJK, Arabic, emoji...).
  A document that already declares a character (``\\usepackage[T2A]{fontenc}``,
  ``\\DeclareUnicodeCharacter``) keeps its own definition: the preamble only fills gaps.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

__all__ = [
    "PREAMBLE_MARKER",
    "declaration",
    "declared_in",
    "needs_declaration",
    "preamble_entry",
    "spell_letter",
    "t1_declares",
]

# Code points pdfLaTeX's utf8 input encoding maps to T1/TS1 glyphs (t1enc.dfu and ts1enc.dfu
# of TeX Live 2022, plus the utf8enc.dfu punctuation that works in T1).
_T1_RANGES = (
    "00A0-00B7 00B9-0125 0128-0137 0139-013E 0141-0148 014A-0165 0168-017E 0192 01C4-01D4 "
    "01E2-01E3 01E6-01EB 01F0 01F4-01F5 0218-021B 0232-0233 0237 02C6-02C7 02D8-02D9 02DB-02DD "
    "0E3F 1E02-1E03 1E0D 1E1E-1E21 1E25 1E30-1E31 1E37 1E43 1E45 1E47 1E5B 1E63 1E6D 1E8E-1E91 "
    "1E9E 1EF2-1EF3 200C 2010-2016 2018-201A 201C-201E 2020-2022 2026 2030-2031 2039-203B 203D "
    "2044 204E 2052 20A1 20A4 20A6 20A9 20AB-20AC 20B1 2103 2116-2117 211E 2120 2122 2126-2127 "
    "212E 2190-2193 2329-232A 2422-2423 25E6 25EF 266A 27E8-27E9 3008-3009 FB00-FB06 FEFF"
)


def _parse_ranges(text: str) -> frozenset[int]:
    points: set[int] = set()
    for part in text.split():
        start, _, end = part.partition("-")
        points.update(range(int(start, 16), int(end or start, 16) + 1))
    return frozenset(points)


_T1_DECLARED = _parse_ranges(_T1_RANGES)

# Combining marks T1 puts on any letter, and their LaTeX accent commands.
_ABOVE = {
    "\u0300": "`",
    "\u0301": "'",
    "\u0302": "^",
    "\u0303": "~",
    "\u0304": "=",
    "\u0306": "u",
    "\u0307": ".",
    "\u0308": '"',
    "\u030a": "r",
    "\u030b": "H",
    "\u030c": "v",
}
_BELOW = {"\u0323": "d", "\u0327": "c", "\u0328": "k", "\u0331": "b"}
# Letters T1 has as glyphs of their own.
_LETTERS = {
    "Đ": "DJ",
    "đ": "dj",
    "Ð": "DH",
    "ð": "dh",
    "Þ": "TH",
    "þ": "th",
    "Ŋ": "NG",
    "ŋ": "ng",
    "Ł": "L",
    "ł": "l",
    "Ø": "O",
    "ø": "o",
    "ß": "ss",
    "Æ": "AE",
    "æ": "ae",
    "Œ": "OE",
    "œ": "oe",
    "ı": "i",
    "ȷ": "j",
}
# Letters T1 has no glyph for, drawn from a base letter in the declaration.
_STROKE = {"Ħ": "H", "ħ": "h", "Ŧ": "T", "ŧ": "t", "Ɨ": "I", "ɨ": "i", "Ƶ": "Z", "ƶ": "z"}
_TURNED = {"Ə": "e", "ə": "e", "Ǝ": "E", "ǝ": "e"}  # schwa: a turned e
_OVERLAY_MARKS = {"\u031b", "\u0309"}  # horn, hook above

PREAMBLE_MARKER = "readlistchar"
# \readlistchar{<char>}{<LaTeX>} declares <char> unless the document already did (inputenc
# keeps each character's definition in \csname u8:<bytes>\endcsname). The .bbl is read after
# \begin{document}, too late for \DeclareUnicodeCharacter and too late for author-year
# citations printed earlier in the text: so the declaration also goes to the .aux, which the
# next run reads at \begin{document}.
_HELPERS = (
    "\\providecommand{\\readlistchar}[2]{\\def\\readlisttmp{#2}"
    "\\expandafter\\ifx\\csname u8:\\detokenize{#1}\\endcsname\\relax"
    "\\expandafter\\global\\expandafter\\let\\csname u8:\\detokenize{#1}\\endcsname"
    "\\readlisttmp\\fi"
    "\\ifcsname blx@bbl@preamble\\endcsname\\else"  # biblatex runs this before citations
    "\\expandafter\\ifx\\csname u8:\\detokenize{#1}\\endcsname\\readlisttmp"
    "\\immediate\\write\\csname @auxout\\endcsname{\\string\\expandafter"
    "\\string\\gdef\\string\\csname\\space u8:\\string\\detokenize{\\unexpanded{#1}}"
    "\\string\\endcsname{\\unexpanded{#2}}}\\fi\\fi}"
    # Cyrillic is set up for T2A by LaTeX itself: without T2A it needs ours.
    "\\providecommand{\\readlistcyr}[2]{\\ifcsname T@T2A\\endcsname\\else"
    "\\expandafter\\global\\expandafter\\let\\csname u8:\\detokenize{#1}\\endcsname"
    "\\relax\\readlistchar{#1}{#2}\\fi}"
)
_CYRILLIC = range(0x0400, 0x0530)  # declared by utf8enc.dfu for T2A: fails under T1 alone
_PLAIN_ASCII = re.compile(r"[A-Za-z0-9 .,;:!?()'+=/-]+")
_DECLARED = re.compile(r"\\readlist(?:char|cyr)\{([^{}])\}")


def t1_declares(char: str) -> bool:
    """Tell whether pdfLaTeX (utf8, T1) typesets `char` written as UTF-8 with no help."""
    return char.isascii() or ord(char) in _T1_DECLARED


def _accent(macro: str, inner: str) -> str:
    """Return accent `macro` over `inner`; a nested accent gets extra braces for biber."""
    if len(inner) == 1 and not macro.isalpha():
        return f"\\{macro}{inner}"
    if inner.startswith("\\") and inner[1:].rstrip("{}").lstrip("\\") not in _LETTERS.values():
        # An accent on an accent: biber decodes the inner one only inside its own braces.
        return f"\\{macro}{{{{{inner}}}}}"
    return f"\\{macro}{{{inner}}}"


@lru_cache(maxsize=4096)
def spell_letter(char: str) -> str | None:
    """Return the braced ASCII LaTeX that prints exactly `char` under T1, or None.

    Only a spelling that pylatexenc reads back as `char` is used in a .bib field; TeX
    itself prints more (`_spell_for_tex`), which the ``@preamble`` declarations use.
    """
    spelled = _spell_for_tex(char)
    if spelled is None or not _decodes_to(spelled, unicodedata.normalize("NFC", char)):
        return None
    return spelled


def _spell_for_tex(char: str) -> str | None:
    """Return ASCII LaTeX that prints `char` under T1 from its letter and accents, or None."""
    if char in _LETTERS:
        return "{\\" + _LETTERS[char] + "}"
    decomposed = unicodedata.normalize("NFD", char)
    base, marks = decomposed[0], decomposed[1:]
    if not marks or not (base.isascii() and base.isalpha()) and base not in _LETTERS:
        return None
    if any(mark not in _ABOVE and mark not in _BELOW for mark in marks):
        return None
    inner = base if base.isascii() else "\\" + _LETTERS[base]
    for mark in (m for m in marks if m in _ABOVE):
        if inner == "i" and mark in _ABOVE:
            inner = "i"  # í, not \'\i: biber decodes \i into a dotless i plus a mark
        inner = _accent(_ABOVE[mark], inner)
    for mark in (m for m in marks if m in _BELOW):
        inner = _accent(_BELOW[mark], inner)
    return "{" + inner + "}"


def _decodes_to(latex: str, char: str) -> bool:
    """Tell whether pylatexenc, an independent reader, reads `latex` as exactly `char`."""
    from pylatexenc.latex2text import LatexNodes2Text

    decoded = LatexNodes2Text(math_mode="text").latex_to_text(latex)
    return unicodedata.normalize("NFC", decoded) == char


def _construct(char: str) -> str | None:
    """Return LaTeX drawing Latin letter `char` with T1 glyphs (approximate where T1 lacks it)."""
    spelled = _spell_for_tex(char)
    if spelled is not None:
        return spelled
    if char in _STROKE:
        return f"\\ooalign{{{_STROKE[char]}\\cr\\hidewidth\\raise.4ex\\hbox{{-}}\\hidewidth\\cr}}"
    if char in _TURNED:
        return (
            f"\\setbox0\\hbox{{{_TURNED[char]}}}\\hbox to\\wd0{{\\kern\\wd0\\raise\\ht0"
            "\\hbox{\\pdfsave\\pdfsetmatrix{-1 0 0 -1}\\rlap{\\box0}\\pdfrestore}\\hss}"
        )
    decomposed = unicodedata.normalize("NFD", char)
    base, marks = decomposed[0], decomposed[1:]
    if not (base.isascii() and base.isalpha()) or not marks:
        return None
    # Build the letter with the marks T1 knows, then draw horn and hook above around it.
    known = "".join(mark for mark in marks if mark not in _OVERLAY_MARKS)
    if any(mark not in _ABOVE and mark not in _BELOW for mark in known):
        return None
    core = unicodedata.normalize("NFC", base + known)
    inner = (_spell_for_tex(core) or base) if known else base
    if "\u031b" in marks:
        inner = f"{inner}\\kern-.12em\\raise.55ex\\hbox{{\\tiny\\textquoteright}}"
    if "\u0309" in marks:
        height = "1.2ex" if base.isupper() else ".55ex"
        mark = f"\\hidewidth\\raise{height}\\hbox{{\\tiny ?}}\\hidewidth"
        inner = f"\\ooalign{{{inner}\\cr{mark}\\cr}}"
    return "{" + inner + "}"


def needs_declaration(char: str) -> bool:
    """Tell whether `char` written as UTF-8 needs a preamble declaration under T1."""
    if t1_declares(char):
        return False
    return unicodedata.category(char) not in ("Cc", "Cs")


def declaration(char: str) -> str:
    """Return the LaTeX the preamble gives `char`: exact, approximate, or a visible ``?``."""
    category = unicodedata.category(char)
    if category.startswith("M") or category == "Cf":
        return ""  # a combining mark or invisible format character: nothing to draw
    compat = unicodedata.normalize("NFKC", char)
    if compat != char and _PLAIN_ASCII.fullmatch(compat):
        return compat  # Ａ, ①, ﬅ
    return _construct(char) or "\\textbf{?}"


def declared_in(text: str) -> set[str]:
    """Return the characters that readlist's ``@preamble`` entries in `text` declare."""
    return set(_DECLARED.findall(text))


def preamble_entry(texts: Iterable[str], *, already: Iterable[str] = ()) -> str | None:
    """Return an ``@preamble`` declaring every character of `texts` pdfLaTeX needs told about.

    Characters in `already` (see `declared_in`) are left out; None when nothing is left.
    """
    seen: set[str] = set()
    for text in texts:
        seen.update(text)
    chars: set[str] = set()
    for char in seen:
        if char.isascii():
            continue
        # Styles change case (\MakeUppercase, sentence case): declare both cases.
        for variant in (char, char.lower(), char.upper()):
            if len(variant) == 1 and needs_declaration(variant):
                chars.add(variant)
    if any(
        "\u0323" in (decomposed := unicodedata.normalize("NFD", char)) and len(decomposed) > 2
        for char in chars
    ):
        chars.add("\u0323")  # biber writes ộ as a combining dot below plus ô
    chars -= set(already)
    if not chars:
        return None
    parts = [
        f"\\readlist{'cyr' if ord(char) in _CYRILLIC else 'char'}{{{char}}}{{{declaration(char)}}}"
        for char in sorted(chars)
    ]
    return '@preamble{ "' + _HELPERS + " " + " ".join(parts) + '" }'
