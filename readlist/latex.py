"""Turn titles, abstracts and names into BibTeX field text that can never break LaTeX.

Input text is what arXiv and Hugging Face give us: plain Unicode with bits of TeX in it
(``18\\%``, ``AstroM$^3$``, ``Schr\\"odinger``, ``\\url{...}``, stray ``\\ModelName``).
It is read in two steps:

1. *Decode* the TeX we understand into plain Unicode: escaped specials (``\\%`` -> ``%``),
   accents (``\\"o`` -> ``ö``), letters (``\\ss``), text symbols (``\\textasciitilde``),
   formatting wrappers (``\\textbf{A}`` -> ``A``, ``\\url{u}`` -> ``u``) and ``$...$`` /
   ``\\(...\\)`` math that passes a whitelist (see `_check_math`). Anything else -- stray
   macros, unbalanced braces, unsafe math -- is taken literally, as text.
2. *Encode* that text for the chosen style: ASCII specials become ``\\%``, ``\\&``, ``\\#``,
   ``\\_``, ``\\$``, ``{\\textbackslash}``, ``{\\textbraceleft}``, ``{\\textbraceright}``,
   ``{\\textasciicircum}``, ``{\\textasciitilde}`` (never ``\\{``: BibTeX counts it as a
   brace). Non-ASCII becomes LaTeX that reads back as the same character (letters from
   `readlist.texletters`, symbols from pylatexenc, braced like ``{\\"u}``) or UTF-8 (see
   `_encode_cluster`).

Decisions worth knowing:

- Math stays math only when every token is on a whitelist of base-LaTeX math (letters,
  digits, ``+-*/=<>()[]``, Greek, relations, arrows, ``\\frac``, ``\\mathcal``...), braces
  balance, and no ``^``/``_`` is doubled or dangling. ``\\mathbb`` is written ``\\mathbf`` and
  ``\\text`` ``\\textrm`` so no package is needed. Anything else is printed as text.
- A ``~`` between letters (``e.g.~the``) is a TeX tie and stays ``~``; elsewhere, and in URLs,
  it is a tilde.
- Letters are written exactly, never as a look-alike: LaTeX accents and letters where T1
  can build them (``{\\DJ}``, ``{\\~{{\\^e}}}``), UTF-8 otherwise (``ư``, ``Ħ``, CJK, Cyrillic,
  emoji). UTF-8 that pdfLaTeX's T1 tables lack is declared by the ``@preamble`` that
  `readlist.texletters.preamble_entry` writes. The biblatex style keeps Latin letters UTF-8.
- Invisible characters (controls, bidi marks, zero-width joiners) are removed; all whitespace
  becomes single spaces, so a field is always one line.
- Names (`escape_name`) are stricter still: biber takes initials from them, and bibtex
  counts bytes, so in the BibTeX output each UTF-8 letter of a name is ``{\\relax{}Ħ}``.

Every replacement used here was checked by compiling it with pdfLaTeX
(``\\usepackage[T1]{fontenc}``, ``\\usepackage[utf8]{inputenc}``) through both bibtex and
biber, which decodes macros back into UTF-8 on its way to the ``.bbl``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache

from readlist.texletters import spell_letter

__all__ = [
    "bibtex_escape",
    "brace_depth_ok",
    "decode",
    "escape_name",
    "plain_text",
    "protect_title",
]


def _names(text: str) -> frozenset[str]:
    """Return the whitespace-separated names in `text`."""
    return frozenset(text.split())


# One piece of decoded input: (is_math, text). Math pieces hold validated TeX math source.
_Piece = tuple[bool, str]

_ASCII_ESCAPES = {
    "\\": "{\\textbackslash}",
    "{": "{\\textbraceleft}",
    "}": "{\\textbraceright}",
    "%": "\\%",
    "&": "\\&",
    "#": "\\#",
    "_": "\\_",
    "$": "\\$",
    "^": "{\\textasciicircum}",
    "~": "{\\textasciitilde}",
}

# TeX accent macros and the Unicode combining mark each one puts on its argument.
_ACCENTS = {
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    '"': "\u0308",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
    "d": "\u0323",
    "b": "\u0331",
    "textcommabelow": "\u0326",
}

_LETTER_ACCENTS = frozenset(name for name in _ACCENTS if name.isalpha())

# Control words that stand for one letter; TeX users write them inside words (``Bj\o rn``).
_LETTERS = {
    "i": "ı",
    "j": "ȷ",
    "l": "ł",
    "L": "Ł",
    "o": "ø",
    "O": "Ø",
    "ss": "ß",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "aa": "å",
    "AA": "Å",
    "dh": "ð",
    "DH": "Ð",
    "th": "þ",
    "TH": "Þ",
    "ng": "ŋ",
    "NG": "Ŋ",
    "dj": "đ",
    "DJ": "Đ",
}

_SYMBOLS = {
    "textasciitilde": "~",
    "textasciicircum": "^",
    "textbackslash": "\\",
    "textbar": "|",
    "textless": "<",
    "textgreater": ">",
    "textunderscore": "_",
    "textbraceleft": "{",
    "textbraceright": "}",
    "textdollar": "$",
    "ldots": "…",
    "dots": "…",
    "textellipsis": "…",
    "textendash": "–",
    "textemdash": "—",
    "textquoteleft": "‘",
    "textquoteright": "’",
    "textquotedblleft": "“",
    "textquotedblright": "”",
    "textdegree": "°",
    "textregistered": "®",
    "texttrademark": "™",
    "copyright": "©",
    "textcopyright": "©",
    "pounds": "£",
    "S": "§",
    "P": "¶",
    "LaTeX": "LaTeX",
    "TeX": "TeX",
    "BibTeX": "BibTeX",
}

# Formatting wrappers whose argument is kept and the formatting dropped.
_WRAPPERS = _names(
    "textbf textit emph texttt textsc textrm textsf textsl textup textmd textnormal "
    "underline mbox text textsuperscript textsubscript ensuremath"
)


def _greek_letters() -> dict[str, str]:
    """Map Greek letter macros (``alpha``, ``Omega``, ``varphi``) to their characters."""
    letters: dict[str, str] = {}
    for char in map(chr, range(0x391, 0x3D7)):
        name = unicodedata.name(char, "")
        cases = (("GREEK SMALL LETTER ", str.lower), ("GREEK CAPITAL LETTER ", str.title))
        for prefix, case in cases:
            if name.startswith(prefix) and name[len(prefix) :].isalpha():
                letters.setdefault(case(name[len(prefix) :]), char)
    letters.update({"varepsilon": "\u03b5", "vartheta": "\u03d1", "varphi": "\u03c6"})
    letters.update({"varpi": "\u03d6", "varrho": "\u03f1", "varsigma": "\u03c2"})
    letters.update({"lambda": "\u03bb", "Lambda": "\u039b"})  # Unicode spells it LAMDA
    return letters


_GREEK = _greek_letters()
_MATH_ACCENT_NAMES = _names("acute grave tilde bar dot ddot hat breve check vec mathring")

# Control symbols that only adjust spacing or hyphenation.
_SPACING = {" ": " ", ",": " ", ";": " ", ":": " ", "\\": " ", "!": "", "-": "", "/": "", "@": ""}

# --- math whitelist ---------------------------------------------------------------------------
# Symbols (no arguments) from base LaTeX's fontmath: they need no package and never an argument.
_MATH_SYMBOLS = _names(
    """
    alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi
    pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega
    Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega
    times cdot cdots ldots dots vdots ddots sim simeq approx asymp cong equiv propto neq ne
    leq le geq ge ll gg prec succ preceq succeq subset supset subseteq supseteq in ni notin
    pm mp div ast star circ bullet oplus ominus otimes oslash odot setminus wr amalg
    cap cup sqcap sqcup vee wedge uplus
    infty partial nabla forall exists emptyset neg lnot aleph hbar ell wp Re Im imath jmath
    prime angle top bot perp parallel mid
    to gets rightarrow leftarrow leftrightarrow Rightarrow Leftarrow Leftrightarrow
    longrightarrow longleftarrow longleftrightarrow Longrightarrow Longleftarrow
    Longleftrightarrow mapsto longmapsto uparrow downarrow updownarrow Uparrow Downarrow
    Updownarrow nearrow searrow swarrow nwarrow hookrightarrow hookleftarrow
    leftharpoonup leftharpoondown rightharpoonup rightharpoondown rightleftharpoons
    langle rangle lceil rceil lfloor rfloor lbrace rbrace backslash vert Vert
    sum prod coprod int oint bigcap bigcup bigvee bigwedge bigoplus bigotimes bigodot
    log ln lg exp sin cos tan sinh cosh tanh arcsin arccos arctan max min sup inf lim liminf
    limsup arg det dim ker deg gcd hom Pr
    quad qquad triangleleft triangleright bigtriangleup bigtriangledown diamond
    dashv vdash models smile frown doteq bowtie
    """
)
# Commands of one argument; the values are what they are written as (amssymb/amsmath ones
# are mapped onto base LaTeX so the .bib needs no package).
_MATH_ONE_ARG = {
    **{
        name: name
        for name in _names(
            "mathrm mathbf mathit mathsf mathtt mathcal mathnormal hat tilde bar vec "
            "dot ddot acute grave breve check widehat widetilde overline underline sqrt"
        )
    },
    "mathbb": "mathbf",
    "boldsymbol": "mathbf",
    "bm": "mathbf",
    "operatorname": "mathrm",
}
_MATH_TWO_ARGS = {"frac": "frac", "tfrac": "frac", "dfrac": "frac"}
# Text inside math (\text{...}) is written with \textrm, which base LaTeX allows in math.
_MATH_TEXT = {name: "textrm" for name in ("text", "textrm", "mbox", "textnormal")}
_MATH_TEXT_CHARS = re.compile(r"[A-Za-z0-9 .,:;!?'()/+=-]*")
_MATH_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-*/=<>()[].,;:!?|@"
)
_MATH_CONTROL_SYMBOLS = frozenset(",;:! %#&|")

# --- non-ASCII -------------------------------------------------------------------------------
# Macros pylatexenc may use that compile in text mode under pdfLaTeX + T1 (checked one by
# one against every character pylatexenc knows), and math macros allowed inside its
# \ensuremath{...} conversions. A conversion using anything else (Cyrillic without T2A,
# amssymb symbols...) is not used.
_TEXT_MACROS_OK = _names(
    """
    " ' , - . ; = ^ ` ~ AE DH DJ H IJ L NG O OE Omega TH ae c dh dj ensuremath guillemotleft
    guillemotright guilsinglleft guilsinglright i ij k l ng o oe quotedblbase quotesinglbase r
    ss textacutedbl textasciiacute textasciibreve textasciicaron textasciicircum
    textasciidieresis textasciimacron textasciitilde textasteriskcentered textbaht textbigcircle
    textblank textbrokenbar textbullet textcelsius textcent textcircledP textcolonmonetary
    textcompwordmark textcopyright textcurrency textdagger textdaggerdbl textdegree textdiscount
    textdiv textdong textdownarrow textellipsis textemdash textendash textestimated texteuro
    textexclamdown textflorin textfractionsolidus textinterrobang textlangle textleftarrow
    textlira textlnot textmho textmu textmusicalnote textnaira textnumero textohm textonehalf
    textonequarter textonesuperior textopenbullet textordfeminine textordmasculine textparagraph
    textperiodcentered textpertenthousand textperthousand textpeso textquestiondown
    textquotedblleft textquotedblright textquoteleft textquoteright textrangle textrecipe
    textreferencemark textregistered textrightarrow textsc textsection textservicemark
    textsterling textsuperscript textthreequarters textthreesuperior texttimes texttrademark
    texttwosuperior textuparrow textvisiblespace textwon textyen th u v
    """
)
_ENSUREMATH_MACROS_OK = _names(
    """
    ! Delta Downarrow Gamma Lambda Leftarrow Leftrightarrow Longleftarrow Longleftrightarrow
    Longrightarrow Omega Phi Pi Psi Rightarrow Sigma Theta Uparrow Updownarrow Upsilon Vert Xi
    acute aleph alpha amalg angle approx asymp beta bigcap bigcirc bigcup bigtriangledown
    bigtriangleup bigvee bigwedge bowtie bullet cap cdot cdots chi circ cong coprod cup dashv
    ddot ddots delta diamond dot doteq ell epsilon equiv eta exists forall frown gamma geq gg
    hbar hookleftarrow hookrightarrow in infty int iota kappa kern lambda langle lceil
    leftharpoondown leftharpoonup leftrightarrow leq lfloor ll lmoustache longleftarrow
    longleftrightarrow longmapsto longrightarrow mapsto mathbf mathbin mathchar mathit mathsf
    mathtt mid mp mu nabla nearrow neq ni not notin nu nwarrow odot oint omega ominus oplus
    oslash otimes parallel partial perp phi pi pm prec preceq prod propto psi rangle rceil
    rfloor rho rightharpoondown rightharpoonup rightleftharpoons rmoustache searrow sigma sim
    simeq smile sqcap sqcup sqrt sqsubseteq sqsupseteq stackrel star subset subseteq succ
    succeq sum supset supseteq swarrow tau theta times top triangleleft triangleright
    updownarrow uplus upsilon varepsilon varphi varpi varrho varsigma vartheta vdash vdots vee
    wedge wp wr xi zeta
    """
)
# pylatexenc spellings that compile with bibtex but that biber decodes into characters
# pdfLaTeX cannot typeset (``\`\i`` -> dotless i + combining grave), or that are wrong
# (``\={H}`` for H-with-stroke). The accented i's get a spelling both accept.
_CONVERSION_OVERRIDES: dict[str, str | None] = {
    "ì": "{\\`i}",
    "í": "{\\'i}",
    "î": "{\\^i}",
    "ï": '{\\"i}',
    "Ħ": None,
    "ħ": None,
    "Ŀ": None,
    "ŀ": None,
    "Ŧ": None,
    "ŧ": None,
    "Ȩ": None,
    "ȩ": None,
    "˚": None,
    "˛": None,
}
# Characters written as UTF-8 in biblatex style: what pdfLaTeX's utf8 inputenc with T1 and
# TS1 sets up (Latin-1, Latin Extended-A, common punctuation); checked by compiling.
_RAW_PUNCTUATION = frozenset("–—‘’‚“”„†‡•…‰‹›€™")
_RAW_EXCLUDED = frozenset("\u00ad\u00b8ĦħĸĿŀŉŦŧſ")

_CONTROL_WORD = re.compile(r"[A-Za-z]+")
_MACRO_NAME = re.compile(r"\\([A-Za-z]+|.)")

# Hostile input (thousands of nested groups, megabytes on one line) must cost linear time and
# bounded stack. Formatting wrappers (``\\textbf{\\emph{...}}``) are decoded this many levels
# deep; deeper ones are kept as text. Math nests at most this many atoms deep (``\\frac`` in
# ``\\frac``, ``x^{y^{z}}``, ``{{x}}``); deeper math is printed as text. Real titles and
# abstracts stay far below both.
MAX_TEX_NESTING = 16
MAX_MATH_NESTING = 24


# --- public API ------------------------------------------------------------------------------


def bibtex_escape(text: str, *, ascii_only: bool) -> str:
    """Return `text` as BibTeX field content that pdfLaTeX and BibTeX/biber always accept."""
    return _render(_parse(_clean(text)), ascii_only=ascii_only)


def protect_title(title: str, *, ascii_only: bool) -> str:
    """Escape `title` and brace acronyms, mixed-case words and math so BibTeX keeps their case."""
    words = _split_words(_parse(_clean(title)))
    return " ".join(_render_title_word(word, ascii_only=ascii_only) for word in words)


def escape_name(name: str, *, ascii_only: bool) -> str:
    """Return a person's name as BibTeX text in which every name part starts with a letter.

    biber derives initials from the first character of each part and writes broken TeX when
    that is a macro it cannot decode (``\\%``, ``{\\textbraceleft}``, ``{\\ensuremath...}``).
    So a name keeps letters, digits and ``. , ' -`` (accents as LaTeX or UTF-8); other ASCII
    becomes a space (``&`` becomes ``and``); a Greek or CJK name stays UTF-8.
    """
    text = plain_text(name).replace("&", " and ").translate(_NAME_LOOKALIKES)
    encoded = " ".join(_encode_text(text, ascii_only=ascii_only, name=True).split())
    if ascii_only:
        # bibtex counts bytes: abbreviating Ħal or محمد, or taking alpha's three-letter label
        # from 李飞飞, cuts a UTF-8 character in half. A brace group that starts with a macro
        # is one "special character" to bibtex: {\relax{}Ħ} (the {} ends the macro name for
        # pylatexenc; biber reads no name delimiter in it, as it would in a space).
        encoded = _RAW_LETTER.sub(lambda m: "{\\relax{}" + m.group() + "}", encoded)
    return encoded


def decode(text: str) -> list[tuple[bool, str]]:
    """Return `text` as (is_math, content) pieces: TeX text decoded, valid math kept as source.

    The one TeX decoder: the duplicate check (`readlist.normalize.normalize_title`), citation
    keys and `plain_text` all read TeX through it, so what readlist writes reads back the same.
    """
    return _parse(_clean(text))


def plain_text(text: str, *, field: bool = False) -> str:
    """Return `text` with the TeX markup we understand decoded to plain Unicode.

    With `field`, `text` is a BibTeX field value: its bare braces only group, and are dropped
    (a literal brace is written ``\\{`` or ``{\\textbraceleft}`` and stays).
    """
    return "".join(content for _, content in _Decoder(_clean(text), field=field).run())


def brace_depth_ok(value: str) -> bool:
    """Tell whether `value`'s braces balance the way BibTeX counts them (every brace counts)."""
    depth = 0
    for match in _BRACE.finditer(value):
        if match.group() == "{":
            depth += 1
        else:
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


_BRACE = re.compile(r"[{}]")


# --- step 0: whitespace and invisible characters ---------------------------------------------


class _CleanTable(dict[int, int | None]):
    """`str.translate` table for `_clean`, filled in as characters are first seen.

    Whitespace becomes a space; invisible controls (NUL, ESC, bidi marks, zero-width joiners,
    soft hyphens) carry no text, several of them make TeX or BibTeX stop, and are dropped.
    One C-level pass per text instead of a Python loop over its characters.
    """

    def __missing__(self, code: int) -> int | None:
        char = chr(code)
        if char.isspace():
            value: int | None = 0x20
        elif unicodedata.category(char) in ("Cc", "Cf"):
            value = None
        else:
            value = code
        self[code] = value
        return value


_CLEAN_TABLE = _CleanTable()
_SPACE_RUN = re.compile(" {2,}")


def _clean(text: str) -> str:
    """Normalize to NFC, turn all whitespace into single spaces, drop control characters."""
    cleaned = unicodedata.normalize("NFC", text).translate(_CLEAN_TABLE)
    if "  " in cleaned:
        cleaned = _SPACE_RUN.sub(" ", cleaned)
    return cleaned.strip()


# --- step 1: decode the TeX we understand ----------------------------------------------------


def _parse(text: str, depth: int = 0) -> list[_Piece]:
    """Split `text` into plain-text and validated-math pieces, decoding known TeX."""
    return _Decoder(text, depth).run()


_GROUP_TOKEN = re.compile(r"\\.|[{}]", re.DOTALL)


class _Groups:
    """The balanced ``{...}`` groups of a text, found in one pass when first asked for.

    Reading each group by scanning forward would cost quadratic time on ``\\x{\\x{\\x{...``.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._close: dict[int, int] | None = None

    def read(self, i: int) -> tuple[str, int] | None:
        """Read the group opening at ``text[i]``; return (content, next index), else None.

        A backslash escapes the character after it, as TeX source does. Callers only ask
        at a ``{`` not preceded by a backslash, so the one left-to-right pass pairs
        backslashes the same way a scan from `i` would.
        """
        if self._close is None:
            self._close = {}
            opened: list[int] = []
            # A backslash and the character after it are one token: `\\{` opens nothing.
            for match in _GROUP_TOKEN.finditer(self.text):
                token = match.group()
                if token == "{":
                    opened.append(match.start())
                elif token == "}" and opened:
                    self._close[opened.pop()] = match.start()
        end = self._close.get(i)
        return None if end is None else (self.text[i + 1 : end], end + 1)


# What `_Decoder` acts on; everything between is copied as it is.
_TEXT_SPECIAL = re.compile(r"[$\\]")
_FIELD_SPECIAL = re.compile(r"[$\\{}]")


class _Decoder:
    """One left-to-right pass over TeX-ish text, collecting `_Piece`s."""

    def __init__(self, text: str, depth: int = 0, *, field: bool = False) -> None:
        self.text = text
        self.depth = depth  # how many formatting wrappers this text sits in
        self.field = field  # BibTeX field text: bare braces group and are dropped
        self.pieces: list[_Piece] = []
        self.buf: list[str] = []
        self.groups = _Groups(text)
        # needle -> (searched from, found at): each `\\(`/`\\[` closer is searched for once.
        self._found: dict[str, tuple[int, int]] = {}

    def find(self, needle: str, start: int) -> int:
        """Return ``text.find(needle, start)``, reusing the previous answer when it holds."""
        cached = self._found.get(needle)
        if cached is not None and cached[0] <= start and (cached[1] == -1 or cached[1] >= start):
            return cached[1]
        found = self.text.find(needle, start)
        self._found[needle] = (start, found)
        return found

    def run(self) -> list[_Piece]:
        text, i, n = self.text, 0, len(self.text)
        # Plain runs between the characters that mean something are copied as slices: one
        # regex search per TeX construct, not a Python step per character.
        special = _FIELD_SPECIAL if self.field else _TEXT_SPECIAL
        while i < n:
            match = special.search(text, i)
            stop = n if match is None else match.start()
            if stop > i:
                self.buf.append(text[i:stop])
                i = stop
                continue
            char = text[i]
            if char == "$":
                found = _scan_dollar_math(text, i)
                if found is None:
                    self.buf.append("$")
                    i += 1
                else:
                    self.math(found[0])
                    i = found[1]
            elif char == "\\":
                i = self.backslash(i)
            else:
                i += 1  # a bare brace of a field: it only groups
        self.flush()
        merged: list[_Piece] = []
        for is_math, content in self.pieces:
            if merged and not is_math and not merged[-1][0]:
                merged[-1] = (False, merged[-1][1] + content)
            elif content:
                merged.append((is_math, content))
        return merged

    def flush(self) -> None:
        if self.buf:
            self.pieces.append((False, "".join(self.buf)))
            self.buf.clear()

    def math(self, math: str) -> None:
        self.flush()
        self.pieces.append((True, math))

    def nested(self, text: str) -> None:
        self.flush()
        self.pieces.extend(_Decoder(text, self.depth + 1, field=self.field).run())

    def backslash(self, i: int) -> int:
        """Decode the control sequence at ``text[i]``; return the index after it."""
        text, buf = self.text, self.buf
        if i + 1 >= len(text):
            buf.append("\\")
            return i + 1
        nxt = text[i + 1]
        if nxt in "%&#_${}":
            buf.append(nxt)
            return i + 2
        if nxt in "([":
            end = self.find("\\)" if nxt == "(" else "\\]", i + 2)
            math = _check_math(text[i + 2 : end]) if end != -1 else None
            if math is None:
                buf.append("\\")
                return i + 1
            self.math(math)
            return end + 2
        if nxt in _ACCENTS and not nxt.isalpha():
            decoded = _read_accent(text, i + 2, nxt, self.groups)
            if decoded is None:
                # ``models\' decisions``: an escaped quote, not an accent.
                buf.append(nxt)
                return i + 2
            buf.append(decoded[0])
            return decoded[1]
        if nxt in _SPACING:
            buf.append(_SPACING[nxt])
            return i + 2
        match = _CONTROL_WORD.match(text, i + 1)
        if match is None:
            buf.append("\\")
            return i + 1
        return self.control_word(match.group(), match.end())

    def control_word(self, word: str, end: int) -> int:
        """Decode control word ``\\word`` ending at `end`; return the index after it."""
        text, buf = self.text, self.buf
        if word in _LETTER_ACCENTS:
            decoded = _read_accent(text, end, word, self.groups)
            if decoded is not None:
                buf.append(decoded[0])
                return decoded[1]
        if word in _LETTERS:
            buf.append(_LETTERS[word])
            if text.startswith("{}", end):
                return end + 2
            return end + 1 if text.startswith(" ", end) else end
        if word == "relax":
            if text.startswith("{}", end):
                return end + 2
            return end + 1 if text.startswith(" ", end) else end
        if self.field and word in _MATH_ACCENT_NAMES:
            # ``{\\ensuremath{\\acute\\alpha}}``: the letter reads back, its accent is lost.
            return end
        if self.field and word in _GREEK:
            # What `_encode_char` writes for Greek (``{\\ensuremath{\\alpha}}``) reads back.
            buf.append(_GREEK[word])
            return end + 2 if text.startswith("{}", end) else end
        if word in _SYMBOLS:
            buf.append(_SYMBOLS[word])
            return end + 2 if text.startswith("{}", end) else end
        first = self.groups.read(end) if text.startswith("{", end) else None
        if first is not None and word == "url":
            buf.append(_unescape_url(first[0]))
            return first[1]
        if first is not None and self.depth < MAX_TEX_NESTING:
            if word == "ensuremath":
                math = _check_math(first[0])
                if math is not None:
                    self.math(math)
                    return first[1]
            if word in _WRAPPERS:
                self.nested(first[0])
                return first[1]
            second = self.groups.read(first[1]) if text.startswith("{", first[1]) else None
            if word == "href" and second is not None:
                url = _unescape_url(first[0])
                label = _Decoder(second[0], self.depth + 1, field=self.field).run()
                self.flush()
                self.pieces.extend(label)
                if "".join(content for _, content in label).strip() != url:
                    buf.append(f" ({url})")
                return second[1]
        if word in _TEXT_MACROS_OK:
            symbol = _decode_symbol(word)
            if symbol:
                buf.append(symbol)
                return end + 2 if text.startswith("{}", end) else end
        # A macro we do not know (``\\ModelName``): keep it visibly, as text, without the
        # ``{}`` that only ends its name in TeX source.
        buf.append("\\" + word)
        return end + 2 if text.startswith("{}", end) else end


@lru_cache(maxsize=512)
def _decode_symbol(word: str) -> str:
    """Return the character text-symbol macro ``\\word`` prints (one the encoder may write)."""
    from pylatexenc.latex2text import LatexNodes2Text

    decoded: str = LatexNodes2Text().latex_to_text(f"\\{word}{{}}")
    return decoded if len(decoded) == 1 and not decoded.isascii() else ""


def _read_accent(text: str, i: int, accent: str, groups: _Groups) -> tuple[str, int] | None:
    """Read the argument of accent macro `accent` at ``text[i:]``; return (char, next index)."""
    n = len(text)
    j = i
    if j < n and text[j] == " " and accent.isalpha():
        j += 1
    base: str | None = None
    if j < n and text[j] == "{":
        group = groups.read(j)
        if group is None:
            return None
        inner, end = group
        inner = inner.strip()
        if inner in ("\\i", "\\j"):
            base = inner[1]
        elif len(inner) == 1 and inner.isalpha():
            base = inner
        elif "\\" in inner:
            # A nested accent (``\\~{{\\^e}}``, ``\\d{\\^o}``): decode it, then add this one.
            decoded = plain_text(inner).replace("{", "").replace("}", "")
            if not decoded[:1].isalpha() or len(list(_clusters(decoded))) != 1:
                return None
            base = decoded
        else:
            return None
        j = end
    elif text[j : j + 1] == "\\" and text[j + 1 : j + 2] in ("i", "j"):
        if text[j + 2 : j + 3].isalpha():
            return None
        base, j = text[j + 1], j + 2
    elif j < n and text[j].isalpha():
        base, j = text[j], j + 1
    if base is None:
        return None
    return unicodedata.normalize("NFC", base + _ACCENTS[accent]), j


def _unescape_url(url: str) -> str:
    """Undo the escapes TeX authors put in URLs (``\\_``, ``\\%``, ``\\#``, ``\\~``)."""
    return re.sub(r"\\([%&#_~$])", r"\1", url).strip()


def _scan_dollar_math(text: str, i: int) -> tuple[str, int] | None:
    """Find safe ``$...$`` (or ``$$...$$``) math at ``text[i]``; return (math, next index)."""
    if text.startswith("$$", i):
        end = text.find("$$", i + 2)
        if end == -1:
            return None
        math = _check_math(text[i + 2 : end])
        return None if math is None else (math, end + 2)
    j = i + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
            continue
        if text[j] == "$":
            break
        j += 1
    else:
        return None
    content = text[i + 1 : j]
    # Like pandoc: "costs $5 and $10" is not math.
    if not content or content[0] == " " or content[-1] == " ":
        return None
    if text[j + 1 : j + 2].isdigit():
        return None
    math = _check_math(content)
    return None if math is None else (math, j + 1)


# A lone backslash at the end of math: a token no whitelist holds, so the check fails there.
_BAD_TOKEN = "\\"


class _MathTokens:
    """Math source split into characters and control sequences (``\\alpha``, ``\\,``) on demand.

    Splitting lazily lets a check that fails early (as it does on most text between two
    ``\\(``) cost only the tokens it read.
    """

    def __init__(self, src: str) -> None:
        self.src = src
        self.end = 0  # where the next token starts in `src`
        self.tokens: list[str] = []

    def get(self, index: int) -> str | None:
        """Return token number `index`, or None past the end."""
        src = self.src
        while len(self.tokens) <= index:
            i = self.end
            if i >= len(src):
                return None
            if src[i] != "\\":
                self.tokens.append(src[i])
                self.end = i + 1
                continue
            match = _CONTROL_WORD.match(src, i + 1)
            if match:
                self.tokens.append("\\" + match.group())
                self.end = match.end()
            elif i + 1 < len(src):
                self.tokens.append(src[i : i + 2])
                self.end = i + 2
            else:
                self.tokens.append(_BAD_TOKEN)
                self.end = i + 1
        return self.tokens[index]


class _MathChecker:
    """Recursive-descent check that math compiles in base LaTeX; rebuilds it as it goes.

    Nesting deeper than `MAX_MATH_NESTING` fails the check, which bounds the recursion.
    """

    def __init__(self, src: str) -> None:
        self.tokens = _MathTokens(src)
        self.pos = 0
        self.depth = 0
        self.out: list[str] = []

    def peek(self) -> str | None:
        while self.tokens.get(self.pos) == " ":
            self.pos += 1
        return self.tokens.get(self.pos)

    def take(self) -> str:
        token = self.tokens.get(self.pos)
        assert token is not None, "take() after peek() returned None"
        self.pos += 1
        return token

    def write(self, token: str) -> None:
        if self.out and re.fullmatch(r"\\[A-Za-z]+", self.out[-1]) and token[:1].isalpha():
            self.out.append(" ")
        self.out.append(token)

    def check_list(self, in_group: bool) -> bool:
        has_sup = has_sub = False
        while True:
            token = self.peek()
            if token is None:
                return not in_group
            if token == "}":
                if not in_group:
                    return False
                self.write(self.take())
                return True
            if token in ("^", "_"):
                if (has_sup if token == "^" else has_sub) or not self.check_script():
                    return False
                has_sup, has_sub = has_sup or token == "^", has_sub or token == "_"
                continue
            if token == "'":
                if has_sup:
                    return False
                while self.peek() == "'":
                    self.write(self.take())
                has_sup = True
                if self.peek() == "^":
                    return False
                continue
            if not self.check_atom():
                return False
            has_sup = has_sub = False

    def check_script(self) -> bool:
        self.write(self.take())
        token = self.peek()
        if token is None or token in ("^", "_", "'", "}"):
            return False
        if token.startswith("\\") and token[1:] not in _MATH_SYMBOLS:
            return False  # x^\frac12 and friends only work by accident
        return self.check_atom()

    def check_atom(self) -> bool:
        if self.depth >= MAX_MATH_NESTING:
            return False
        self.depth += 1
        try:
            return self._check_atom()
        finally:
            self.depth -= 1

    def _check_atom(self) -> bool:
        token = self.peek()
        if token is None:
            return False
        if token == "{":
            self.write(self.take())
            return self.check_list(in_group=True)
        if not token.startswith("\\"):
            if token not in _MATH_CHARS:
                return False
            self.write(self.take())
            return True
        name = token[1:]
        self.take()
        if name in _MATH_SYMBOLS or (len(name) == 1 and name in _MATH_CONTROL_SYMBOLS):
            self.write(token)
            return True
        if name in _MATH_ONE_ARG:
            self.write("\\" + _MATH_ONE_ARG[name])
            return self.check_argument()
        if name in _MATH_TWO_ARGS:
            self.write("\\" + _MATH_TWO_ARGS[name])
            return self.check_argument() and self.check_argument()
        if name in _MATH_TEXT:
            return self.check_text_argument(_MATH_TEXT[name])
        return False

    def check_argument(self) -> bool:
        token = self.peek()
        if token is None or token in ("^", "_", "'", "}"):
            return False
        return self.check_atom()

    def check_text_argument(self, command: str) -> bool:
        if self.peek() != "{":
            return False
        self.take()
        text: list[str] = []
        while (token := self.tokens.get(self.pos)) is not None and token != "}":
            text.append(self.take())
        if token is None or not _MATH_TEXT_CHARS.fullmatch("".join(text)):
            return False
        self.take()
        self.write(f"\\{command}{{{''.join(text)}}}")
        return True


def _check_math(src: str) -> str | None:
    """Return `src` as math that compiles in base LaTeX, or None when it might not."""
    src = src.strip()
    if not src:
        return None
    checker = _MathChecker(src)
    if not checker.check_list(in_group=False):
        return None
    math = "".join(checker.out)
    return math if math and brace_depth_ok(math) else None


# --- step 2: encode -------------------------------------------------------------------------


def _render(pieces: Iterable[_Piece], *, ascii_only: bool) -> str:
    """Encode decoded pieces as BibTeX field text."""
    out: list[str] = []
    for is_math, content in pieces:
        if is_math:
            if out and out[-1].endswith("$"):
                out.append("{}")  # keep "$a$$b$" from reading as display math
            out.append(f"${content}$")
        else:
            out.append(_encode_text(content, ascii_only=ascii_only))
    return "".join(out)


def _clusters(text: str) -> Iterator[str]:
    """Yield each character together with the combining marks that follow it."""
    cluster = ""
    for char in text:
        if cluster and unicodedata.category(char).startswith("M"):
            cluster += char
            continue
        if cluster:
            yield cluster
        cluster = char
    if cluster:
        yield cluster


def _encode_text(text: str, *, ascii_only: bool, name: bool = False) -> str:
    """Encode plain text: ASCII specials escaped, non-ASCII exact (LaTeX or UTF-8)."""
    if name or "~" not in text:
        return _encode_characters(text, ascii_only=ascii_only, name=name)
    # Whether a tilde is a tie depends on its space-separated word alone (`_is_tie`,
    # `_url_words`): only the words holding one are read cluster by cluster.
    out: list[str] = []
    pos = 0
    for match in _TILDE_WORD.finditer(text):
        start, end = match.span()
        if (start > 0 and _is_mark(text[start])) or (
            end + 1 < len(text) and _is_mark(text[end + 1])
        ):
            # A combining mark on a space around the word: that space joins two words.
            return _encode_clusters(text, ascii_only=ascii_only, name=name)
        out.append(_encode_characters(text[pos:start], ascii_only=ascii_only, name=name))
        out.append(_encode_clusters(text[start:end], ascii_only=ascii_only, name=name))
        pos = end
    out.append(_encode_characters(text[pos:], ascii_only=ascii_only, name=name))
    return "".join(out)


def _encode_characters(text: str, *, ascii_only: bool, name: bool) -> str:
    """`_encode_text` of a text in which no tilde can be a tie (each character on its own).

    ASCII runs are encoded in one C-level pass, the clusters around non-ASCII characters
    one by one.
    """
    if not name and "~" in text:
        return _encode_clusters(text, ascii_only=ascii_only, name=name)
    table = _NAME_ASCII if name else _TEXT_ASCII
    if text.isascii():
        return text.translate(table)
    out: list[str] = []
    pos = 0
    for match in _NON_ASCII_RUN.finditer(text):
        start, end = match.span()
        if start > pos and unicodedata.category(text[start]).startswith("M"):
            start -= 1  # a combining mark belongs to the ASCII character before it
        out.append(text[pos:start].translate(table))
        out.append(_encode_clusters(text[start:end], ascii_only=ascii_only, name=name))
        pos = end
    out.append(text[pos:].translate(table))
    return "".join(out)


def _encode_clusters(text: str, *, ascii_only: bool, name: bool) -> str:
    """`_encode_text`, one character and its combining marks at a time."""
    out: list[str] = []
    clusters = list(_clusters(text))
    url_words: list[bool] | None = None  # per cluster: in a word holding "/" or "@"
    for index, cluster in enumerate(clusters):
        if (
            name
            and cluster[0].isascii()
            and not (cluster[0].isalnum() or cluster[0] in _NAME_PUNCTUATION)
        ):
            out.append(" ")
            continue
        if cluster.isascii() and len(cluster) == 1:
            if cluster == "~" and _is_tie(clusters, index):
                if url_words is None:
                    url_words = _url_words(clusters)
                out.append("{\\textasciitilde}" if url_words[index] else "~")
            else:
                out.append(_ASCII_ESCAPES.get(cluster, cluster))
            continue
        encoded = _encode_cluster(cluster, ascii_only)
        if name and encoded and not cluster[0].isascii() and not _starts_with_letter(encoded):
            # biber takes initials from the first character: a name keeps letters (a Greek or
            # CJK name stays UTF-8 rather than becoming {\ensuremath...}).
            encoded = unicodedata.normalize("NFC", cluster)
        out.append(encoded)
    return "".join(out)


def _is_mark(char: str) -> bool:
    """Tell whether `char` is a combining mark (it joins the character before it)."""
    return unicodedata.category(char).startswith("M")


_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_TILDE_WORD = re.compile(r"[^ ]*~[^ ]*")
_NAME_PUNCTUATION = frozenset(" .,'-")
# `_encode_text` of ASCII text, character by character, as `str.translate` tables.
_TEXT_ASCII = str.maketrans(_ASCII_ESCAPES)
_NAME_ASCII = str.maketrans(
    {
        chr(code): " "
        for code in range(128)
        if not (chr(code).isalnum() or chr(code) in _NAME_PUNCTUATION)
    }
)
# A UTF-8 character in a name, with the combining marks that follow it.
_RAW_LETTER = re.compile(r"[^\x00-\x7f][\u0300-\u036f\u1ab0-\u1aff\u20d0-\u20ff]*")
# A TeX-style backquote is an apostrophe; ’, ʼ and – are kept as their owner wrote them.
_NAME_LOOKALIKES = str.maketrans({"`": "'"})
_LETTER_MACRO = re.compile(r"\{\\(?:[A-Za-z]+|.)")


def _starts_with_letter(encoded: str) -> bool:
    """Tell whether biber reads the first character of `encoded` as a letter or digit."""
    if encoded.startswith("{\\"):
        match = _LETTER_MACRO.match(encoded)
        macro = match.group()[2:] if match else ""
        return macro in _ACCENTS or macro in _LETTERS
    return encoded[:1].isalnum()


def _is_tie(clusters: list[str], index: int) -> bool:
    """Tell whether the ``~`` at `index` sits where a TeX tie would (``e.g.~the``).

    It is still a tilde when its word is a URL or path (see `_url_words`).
    """
    before = clusters[index - 1] if index > 0 else ""
    after = clusters[index + 1] if index + 1 < len(clusters) else ""
    return (before.isalnum() or before in (".", ",", ";", ":", ")")) and after.isalpha()


def _url_words(clusters: list[str]) -> list[bool]:
    """Mark the clusters of each space-separated word holding "/" or "@" (a URL, a path).

    One pass for the whole text, so that a megabyte of ``a~b~c`` costs linear time.
    """
    marks = [False] * len(clusters)
    start = 0
    for end in range(len(clusters) + 1):
        if end == len(clusters) or clusters[end] == " ":
            if any(char in ("/", "@") for char in clusters[start:end]):
                marks[start:end] = [True] * (end - start)
            start = end + 1
    return marks


def _is_raw_ok(char: str) -> bool:
    """Tell whether pdfLaTeX (utf8 inputenc, T1) typesets `char` written as UTF-8."""
    if char in _RAW_PUNCTUATION:
        return True
    return "\u00a1" <= char <= "\u017f" and char not in _RAW_EXCLUDED


def latex_for_char(char: str) -> str | None:
    """Return the LaTeX readlist writes for symbol `char` in ASCII output, or None."""
    return _convert_char(char)


@lru_cache(maxsize=4096)
def _convert_char(char: str) -> str | None:
    """Return pylatexenc's LaTeX for `char` when it is known to compile, else None."""
    if char in _CONVERSION_OVERRIDES:
        return _CONVERSION_OVERRIDES[char]
    from pylatexenc.latexencode import unicode_to_latex

    latex: str = unicode_to_latex(
        char,
        non_ascii_only=True,
        replacement_latex_protection="braces-all",
        unknown_char_policy="keep",
        unknown_char_warning=False,
    )
    if latex == char or not latex.isascii():
        return None
    inner = latex[1:-1] if latex.startswith("{") and latex.endswith("}") else latex
    names = set(_MACRO_NAME.findall(inner))
    if inner.startswith("\\ensuremath{") and inner.endswith("}"):
        ok = set(_MACRO_NAME.findall(inner[len("\\ensuremath{") : -1])) <= _ENSUREMATH_MACROS_OK
    else:
        ok = names <= _TEXT_MACROS_OK
    if not ok or not brace_depth_ok(latex):
        return None
    if _decode_latex(latex) != char:
        return None  # a look-alike (Greek ό as \'o, ŉ as 'n): UTF-8 is exact
    return latex if latex.startswith("{") else "{" + latex + "}"


def _decode_latex(latex: str) -> str:
    """Decode `latex` with pylatexenc, the independent reader our spellings are checked by."""
    from pylatexenc.latex2text import LatexNodes2Text

    decoded: str = LatexNodes2Text(math_mode="text").latex_to_text(latex)
    return unicodedata.normalize("NFC", decoded.strip())


def _encode_char(char: str, ascii_only: bool) -> str | None:
    """Encode one precomposed character, or return None when it has no safe spelling."""
    if char.isascii():
        return _ASCII_ESCAPES.get(char, char) if char.isprintable() else None
    if not ascii_only and _is_raw_ok(char):
        return char
    return _convert_char(char)


def _is_latin_letter(char: str) -> bool:
    """Tell whether `char` is a letter of the Latin script (with or without marks)."""
    return unicodedata.category(char).startswith("L") and "LATIN" in unicodedata.name(char, "")


@lru_cache(maxsize=4096)
def _encode_cluster(cluster: str, ascii_only: bool) -> str:
    """Encode a character and its combining marks exactly, never as a look-alike.

    1. A Latin letter: LaTeX accents and letters when T1 can build it exactly
       (`readlist.texletters.spell_letter`; BibTeX output), otherwise UTF-8 (biblatex
       output, and letters T1 has no glyph for: ư, ả, Ħ, Ə).
    2. Anything else: UTF-8 where pdfLaTeX typesets it (biblatex output), else pylatexenc's
       LaTeX when it is known to compile (``{\\ensuremath{\\gamma}}``), else UTF-8.

    UTF-8 that pdfLaTeX's T1 tables lack is declared by the .bib's ``@preamble``
    (`readlist.texletters.preamble_entry`).
    """
    composed = unicodedata.normalize("NFC", cluster)
    if _is_latin_letter(composed[0]) or (
        len(composed) > 1 and composed[0].isascii() and composed[0].isalpha()
    ):
        if ascii_only:
            spelled = spell_letter(composed)
            if spelled is not None:
                return spelled
        return composed
    if len(composed) == 1:
        encoded = _encode_char(composed, ascii_only)
        if encoded is not None:
            return encoded
    if unicodedata.category(composed[0]).startswith("M"):
        return ""  # a combining mark with nothing to sit on
    if len(composed) > 1:
        # Marks on a symbol (``#́``, ``😀︎``): the symbol as usual, its marks as UTF-8.
        first = _encode_char(composed[0], ascii_only) if composed[0].isprintable() else None
        return (first if first is not None else composed[0]) + composed[1:]
    return composed


# --- titles ---------------------------------------------------------------------------------

_LEADING_PUNCT = "\"'([‘“«"
_TRAILING_PUNCT = "\"'.,:;!?)]’”»"


def _split_words(pieces: list[_Piece]) -> list[list[_Piece]]:
    """Split pieces into words at spaces in text; math never splits."""
    words: list[list[_Piece]] = [[]]
    for is_math, content in pieces:
        if is_math:
            words[-1].append((True, content))
            continue
        parts = content.split(" ")
        for index, part in enumerate(parts):
            if index:
                words.append([])
            if part:
                words[-1].append((False, part))
    return [word for word in words if word]


_WORD_RUN = re.compile(r"[^\W_]+")


def _needs_protection(text: str) -> bool:
    """Tell whether BibTeX's title lowercasing would damage word `text`."""
    runs = _WORD_RUN.findall(text)
    if text.isascii():
        # The tests of `_runs_need_protection` with str methods: in ASCII, a run of letters
        # and digits that is not all letters holds a digit, and capitals change in lower().
        for run in runs:
            tail = run[1:]
            if tail != tail.lower() or (run[0].isupper() and not run.isalpha()):
                return True
        return len(runs) > 1 and any(len(run) == 1 and run.isupper() for run in runs)
    return _runs_need_protection(runs)


def _runs_need_protection(runs: list[str]) -> bool:
    """Tell whether BibTeX's lowercasing would damage a word of these letter-and-digit runs."""
    for run in runs:
        has_upper = any(char.isupper() for char in run)
        if any(char.isupper() for char in run[1:]):
            return True  # acronyms and mixed case: CLIP, LLMs, InternVL, mOSCAR
        if has_upper and any(char.isdigit() for char in run):
            return True  # Qwen2, 4M
    # A one-letter capital joined by a hyphen is a name: U-Net, Q-Former.
    return len(runs) > 1 and any(len(run) == 1 and run.isupper() for run in runs)


def _render_title_word(word: list[_Piece], *, ascii_only: bool) -> str:
    """Encode one title word, bracing its core when BibTeX would change its case."""
    has_math = any(is_math for is_math, _ in word)
    text = "".join(content for _, content in word)
    if not has_math and not _needs_protection(text):
        return _render(word, ascii_only=ascii_only)
    lead = trail = ""
    core = list(word)
    if not core[0][0]:
        content = core[0][1]
        stripped = content.lstrip(_LEADING_PUNCT)
        lead, core[0] = content[: len(content) - len(stripped)], (False, stripped)
    if not core[-1][0]:
        content = core[-1][1]
        stripped = content.rstrip(_TRAILING_PUNCT)
        # Keep a closing bracket with its opener: {GPT-4V(ision)}, not {GPT-4V(ision}).
        unclosed = {")": stripped.count("(") - stripped.count(")")}
        unclosed["]"] = stripped.count("[") - stripped.count("]")
        while stripped != content and content[len(stripped)] in ")]":
            closer = content[len(stripped)]
            if unclosed[closer] <= 0:
                break
            unclosed[closer] -= 1
            stripped = content[: len(stripped) + 1]
        trail, core[-1] = content[len(stripped) :], (False, stripped)
    inner = _render([piece for piece in core if piece[1]], ascii_only=ascii_only)
    if inner.startswith("\\"):
        # "{\%..." would be a BibTeX special character, whose letters change case.
        inner = "{" + inner[:2] + "}" + inner[2:]
    return (
        _encode_text(lead, ascii_only=ascii_only)
        + "{"
        + inner
        + "}"
        + _encode_text(trail, ascii_only=ascii_only)
    )
