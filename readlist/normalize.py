"""Normalize titles and whitespace so that two renderings of one paper compare equal."""

from __future__ import annotations

import functools
import re
import unicodedata

# Letters that Unicode does not decompose into a base letter plus a combining mark.
_FOLD = str.maketrans(
    {
        "ł": "l",
        "ø": "o",
        "ß": "ss",
        "æ": "ae",
        "œ": "oe",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "ı": "i",
        "ȷ": "j",
        "ħ": "h",
        "ŀ": "l",
        # Greek letters become their names, as the TeX macros ($\alpha$) do.
        "α": " alpha ",
        "β": " beta ",
        "γ": " gamma ",
        "δ": " delta ",
        "ε": " epsilon ",
        "ϵ": " epsilon ",
        "ζ": " zeta ",
        "η": " eta ",
        "θ": " theta ",
        "ϑ": " theta ",
        "ι": " iota ",
        "κ": " kappa ",
        "λ": " lambda ",
        "μ": " mu ",
        "ν": " nu ",
        "ξ": " xi ",
        "ο": " omicron ",
        "π": " pi ",
        "ρ": " rho ",
        "σ": " sigma ",
        "ς": " sigma ",
        "τ": " tau ",
        "υ": " upsilon ",
        "φ": " phi ",
        "ϕ": " phi ",
        "χ": " chi ",
        "ψ": " psi ",
        "ω": " omega ",
    }
)

# TeX macros that stand for a letter: \ss, \o, \l, \ae, \i ...
_LETTER_MACROS: dict[str, str] = {
    "ss": "ss",
    "o": "o",
    "O": "o",
    "l": "l",
    "L": "l",
    "ae": "ae",
    "AE": "ae",
    "oe": "oe",
    "OE": "oe",
    "aa": "a",
    "AA": "a",
    "i": "i",
    "j": "j",
    "dh": "d",
    "DH": "d",
    "th": "th",
    "TH": "th",
    "dj": "d",
    "DJ": "d",
    "varepsilon": "epsilon",
    "vartheta": "theta",
    "varphi": "phi",
    "varsigma": "sigma",
    "varrho": "rho",
    "varpi": "pi",
}
# Macros that only format their argument; the argument stays, the name goes.
_FORMAT_MACROS: frozenset[str] = frozenset(
    {
        "bf",
        "bm",
        "boldsymbol",
        "emph",
        "hbox",
        "it",
        "mathbb",
        "mathbf",
        "mathcal",
        "mathit",
        "mathnormal",
        "mathrm",
        "mathsf",
        "mathtt",
        "mbox",
        "operatorname",
        "protect",
        "rm",
        "sc",
        "textbf",
        "textit",
        "textnormal",
        "textrm",
        "textsc",
        "textsf",
        "textsl",
        "texttt",
        "textup",
        "text",
        "tt",
        "underline",
        "url",
    }
)

# Accents: \'e \"{u} {\"u} \`a \^o \~n \=a \.z, and letter-named ones \v{c} \u{g} \H{o} ...
_ACCENT_RE = re.compile(r"""\\(?:['"`^~=.]|[uvHckrdbt](?![A-Za-z]))\s*""")
_MACRO_RE = re.compile(r"\\([A-Za-z]+)\s*")
_ESCAPED_RE = re.compile(r"\\(.)", re.DOTALL)
# Characters that only structure TeX: dropped without leaving a gap, so that AstroM$^3$,
# AstroM^3 and AstroM³ (NFKD: AstroM3) all read "astrom3" and {B}ERT reads "bert".
_TEX_GLUE = str.maketrans("", "", "{}$^")
_NON_ALNUM_RE = re.compile(r"[\W_]+")
# Characters str.split() does not treat as whitespace, but copy-paste produces between words.
_INVISIBLE_SPACE = str.maketrans({"\u200b": " ", "\ufeff": " ", "\u2060": " "})


def _macro(match: re.Match[str]) -> str:
    """Replace one TeX control word by the letters it stands for."""
    name = match.group(1)
    if name in _LETTER_MACROS:
        return _LETTER_MACROS[name]
    if name in _FORMAT_MACROS:
        return ""
    # Unknown macros (\alpha, \LaTeX, a paper's \ModelName) keep their name as a word.
    return f" {name} "


def _strip_decoded(text: str) -> str:
    """Reduce decoded text to letters: macros the decoder kept as text become words."""
    # A macro the decoder kept (\\ModelName) reads as the text {\\textbackslash}ModelName does.
    return text.replace("\\", " ").replace("~", " ").translate(_TEX_GLUE)


def _strip_tex(text: str) -> str:
    """Remove TeX markup from a title, keeping the letters it stands for."""
    if "\\" in text:
        text = _ACCENT_RE.sub("", text)
        text = _MACRO_RE.sub(_macro, text)
        text = _ESCAPED_RE.sub(r"\1", text)  # \& \% \_ \{ ... become the plain character
    text = text.replace("~", " ")  # a TeX non-breaking space
    return text.translate(_TEX_GLUE)


_ENSUREMATH = re.compile(r"\{\\ensuremath\{\\([A-Za-z]+)\}\}")


@functools.lru_cache(maxsize=4096)
def _symbol_word(char: str) -> str:
    """Return a math symbol as the name of its TeX macro (``∑`` reads as ``$\\sum$`` does)."""
    from readlist.latex import latex_for_char

    match = _ENSUREMATH.fullmatch(latex_for_char(char) or "")
    return f" {match.group(1)} " if match and unicodedata.category(char)[0] == "S" else char


def _symbols_as_words(text: str) -> str:
    """Replace each math symbol in `text` by its TeX macro name."""
    if text.isascii():
        return text
    return "".join(_symbol_word(char) if not char.isascii() else char for char in text)


def normalize_title(title: str) -> str:
    """Reduce a title to the key that decides whether two titles name the same paper.

    TeX is read by `readlist.latex.decode`, the decoder readlist's writer is tested against,
    so ``{\\ensuremath{\\gamma}}-MoD``, ``$\\gamma$-MoD`` and ``γ-MoD`` all read ``gamma mod``.
    What it leaves (unknown macros, math source, grouping braces) is reduced to its letters.
    """
    if "\\" in title or "$" in title:
        from readlist.latex import decode

        title = "".join(
            _math_words(content) if is_math else _strip_decoded(_symbols_as_words(content))
            for is_math, content in decode(title)
        )
        text = title.casefold()
    else:
        text = _strip_tex(_symbols_as_words(title)).casefold()

    if not text.isascii():  # most titles are ASCII: skip the per-character work for them
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
        text = text.translate(_FOLD)
    return _NON_ALNUM_RE.sub(" ", text).strip()


# Math accents (``\\acute\\alpha`` for ά, ``\\vec{v}``): plain text loses its combining marks
# (`normalize_title`), so math loses its accents.
_MATH_ACCENT_RE = re.compile(
    r"\\(?:acute|grave|hat|check|tilde|bar|vec|dot|ddot|dddot|breve|mathring|widehat"
    r"|widetilde)(?![A-Za-z])\s*"
)


def _math_words(source: str) -> str:
    """Math as title words: a symbol macro (``\\gamma``) is a word of its own, as the letter
    γ is in plain text; anything else (``^3``) keeps to its neighbours (``AstroM$^3$``)."""
    if "\\" in source:
        source = _MATH_ACCENT_RE.sub("", source)
    stripped = source.strip().lstrip("{")
    words = _strip_tex(source)
    if len(stripped) > 1 and stripped[0] == "\\" and stripped[1].isalpha():
        return f" {words} "
    return words


def normalize_whitespace(text: str) -> str:
    """Collapse every run of whitespace (line breaks, tabs, NBSP...) to one space and strip."""
    if "\u200b" in text or "\ufeff" in text or "\u2060" in text:
        text = text.translate(_INVISIBLE_SPACE)
    return " ".join(text.split())
