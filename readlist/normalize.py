"""Normalize titles and whitespace so that two renderings of one paper compare equal."""

from __future__ import annotations

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


def _strip_tex(text: str) -> str:
    """Remove TeX markup from a title, keeping the letters it stands for."""
    if "\\" in text:
        text = _ACCENT_RE.sub("", text)
        text = _MACRO_RE.sub(_macro, text)
        text = _ESCAPED_RE.sub(r"\1", text)  # \& \% \_ \{ ... become the plain character
    text = text.replace("~", " ")  # a TeX non-breaking space
    return text.translate(_TEX_GLUE)


def normalize_title(title: str) -> str:
    """Reduce a title to the key that decides whether two titles name the same paper."""
    text = _strip_tex(title).casefold()
    if not text.isascii():  # most titles are ASCII: skip the per-character work for them
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
        text = text.translate(_FOLD)
    return _NON_ALNUM_RE.sub(" ", text).strip()


def normalize_whitespace(text: str) -> str:
    """Collapse every run of whitespace (line breaks, tabs, NBSP...) to one space and strip."""
    if "\u200b" in text or "\ufeff" in text or "\u2060" in text:
        text = text.translate(_INVISIBLE_SPACE)
    return " ".join(text.split())
