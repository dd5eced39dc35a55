"""Citation keys used by a LaTeX document, for `readlist check paper.tex`.

The scan is lexical, not a TeX run: it knows comments, escapes, verbatim-like environments,
the natbib, biblatex and apacite citation commands (optional arguments, starred forms,
multicite lists) and `\\input`/`\\include`/`\\subfile`. Keys built by macros are skipped.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from readlist.errors import TexFileError

ALL_KEYS = "*"  # the key of `\nocite{*}`: every entry of the bibliography is cited

# Commands whose first mandatory argument is a comma-separated list of keys.
CITE_COMMANDS = frozenset(
    {
        # LaTeX kernel and natbib
        "cite", "nocite", "citep", "citet", "citealp", "citealt", "citeauthor",
        "citefullauthor", "citeyear", "citeyearpar", "citenum", "Citep", "Citet", "Citealp",
        "Citealt", "Citeauthor",
        # biblatex
        "Cite", "parencite", "Parencite", "footcite", "Footcite", "footcitetext",
        "Footcitetext", "textcite", "Textcite", "smartcite", "Smartcite", "supercite",
        "autocite", "Autocite", "citetitle", "Citetitle", "citedate", "citeurl", "fullcite",
        "footfullcite", "notecite", "Notecite", "pnotecite", "Pnotecite", "fnotecite",
        "citename", "citefield", "citelist",
        # apacite and friends
        "citeA", "citeN", "citeNP", "citeyearNP", "shortcite", "shortciteA", "shortciteN",
        "shortciteNP", "fullciteA", "fullciteN", "fullciteNP",
    }
)  # fmt: skip
# biblatex multicite commands: `\cites(pre)(post)[pre][post]{a}[pre][post]{b}...`.
MULTICITE_COMMANDS = frozenset(
    {
        "cites", "Cites", "parencites", "Parencites", "footcites", "footcitetexts",
        "textcites", "Textcites", "smartcites", "Smartcites", "supercites", "autocites",
        "Autocites",
    }
)  # fmt: skip
INCLUDE_COMMANDS = frozenset({"input", "include", "subfile"})
# Environments whose content is not TeX (or is thrown away).
VERBATIM_ENVIRONMENTS = frozenset(
    {"verbatim", "verbatim*", "Verbatim", "Verbatim*", "BVerbatim", "LVerbatim",
     "lstlisting", "minted", "comment"}
)  # fmt: skip

# Stands in for characters TeX never sees (a comment, the line end it eats, the next line's
# indentation), so the cleaned text keeps every offset of the original.
_GONE = "\x00"
_SPECIAL = re.compile(r"[\\%]")
_CONTROL_WORD = re.compile(r"\\([A-Za-z]+)")
_BEGIN = re.compile(r"begin\s*\{([A-Za-z]+\*?)\}")
_SPACE = " \t\r\n\f" + _GONE
_BARE_INPUT_NAME = re.compile(r"[^\s{}%\\]+")
_DOCUMENT = re.compile(r"\\begin\s*\{document\}")
_BIB_COMMANDS = frozenset(
    {"bibliographystyle", "bibliography", "addbibresource", "addglobalbib", "usepackage",
     "RequirePackage"}
)  # fmt: skip
# biblatex's `style=` (or `bibstyle=`, which decides the bibliography itself).
_BIBLATEX_STYLE = re.compile(r"(?:^|,)\s*(?:bib)?style\s*=\s*([^,]+)")


@dataclass(frozen=True)
class CiteUse:
    """One citation key as used in a .tex file, at the 1-based line where the key stands."""

    key: str
    path: Path
    line: int

    @property
    def is_all(self) -> bool:
        """Return whether this is `\\nocite{*}`, which cites every bibliography entry."""
        return self.key == ALL_KEYS

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.key}"


@dataclass(frozen=True)
class MissingKey:
    """A cited key the bibliography lacks; `hint` is a bib key differing only by case."""

    use: CiteUse
    hint: str | None = None

    @property
    def key(self) -> str:
        return self.use.key

    @property
    def path(self) -> Path:
        return self.use.path

    @property
    def line(self) -> int:
        return self.use.line


@dataclass(frozen=True)
class BibSetup:
    """How a document prints its bibliography, as far as its source says."""

    bibtex_style: str | None = None  # \bibliographystyle{...}
    biblatex_style: str | None = None  # \usepackage[style=...]{biblatex}; "" for the default
    bib_files: tuple[Path, ...] = ()  # \bibliography{a,b} / \addbibresource{...}, resolved


@dataclass(frozen=True)
class TexDocument:
    """What `scan_tex` found: citation uses and the bibliography setup."""

    uses: list[CiteUse]
    setup: BibSetup


def cite_keys_in_tex(path: Path) -> list[CiteUse]:
    """Return every citation key used by `path` and the files it includes, in document order.

    `\\nocite{*}` comes back as a use with key ``"*"`` (`CiteUse.is_all`), not as a key.
    Included files are looked up relative to the main file's directory.
    """
    return scan_tex(path).uses


def scan_tex(path: Path) -> TexDocument:
    """Return the citation uses and bibliography setup of `path` and the files it includes."""
    text = _read_tex(path)
    scanner = _Scanner(path.parent, in_preamble=_DOCUMENT.search(_strip_non_tex(text)) is not None)
    scanner.scan(path, text)
    setup = BibSetup(
        bibtex_style=scanner.bibtex_style,
        biblatex_style=scanner.biblatex_style,
        bib_files=tuple(dict.fromkeys(scanner.bib_files)),
    )
    return TexDocument(scanner.uses, setup)


def cites_all(uses: Iterable[CiteUse]) -> bool:
    """Return whether the document has `\\nocite{*}`."""
    return any(use.is_all for use in uses)


def missing_keys(uses: Iterable[CiteUse], bib_keys: Collection[str]) -> list[MissingKey]:
    """Return the uses whose key is not in `bib_keys`, compared case-sensitively as biber does."""
    present = set(bib_keys)
    by_folded: dict[str, str] = {}
    for key in sorted(present):
        by_folded.setdefault(key.casefold(), key)
    return [
        MissingKey(use, by_folded.get(use.key.casefold()))
        for use in uses
        if not use.is_all and use.key not in present
    ]


class _Scanner:
    def __init__(self, root: Path, *, in_preamble: bool) -> None:
        self.root = root
        self.in_preamble = in_preamble
        self.uses: list[CiteUse] = []
        self.seen: set[Path] = set()
        self.bibtex_style: str | None = None
        self.biblatex_style: str | None = None
        self.bib_files: list[Path] = []

    def scan(self, path: Path, text: str) -> None:
        self.seen.add(_identity(path))
        clean = _strip_non_tex(text)
        line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

        def line_at(offset: int) -> int:
            return bisect_right(line_starts, offset)

        for match in _CONTROL_WORD.finditer(clean):
            name = match.group(1)
            pos = match.end()
            if name in CITE_COMMANDS:
                pos = _skip_star(clean, pos)
                pos = _skip_groups(clean, pos, "[", "]", limit=2)
                self._add_keys(clean, pos, name, path, line_at)
            elif name in MULTICITE_COMMANDS:
                pos = _skip_star(clean, pos)
                pos = _skip_groups(clean, pos, "(", ")", limit=2)
                while True:
                    pos = _skip_groups(clean, pos, "[", "]", limit=2)
                    end = self._add_keys(clean, pos, name, path, line_at)
                    if end is None:
                        break
                    pos = end
                    after = _skip_space(clean, pos)
                    if after >= len(clean) or clean[after] not in "[{":
                        break
            elif name in INCLUDE_COMMANDS:
                self._include(clean, pos, name, path, line_at(match.start()))
            elif name in _BIB_COMMANDS:
                self._bibliography(clean, pos, name)
            elif name == "begin" and _DOCUMENT.match(clean, match.start()):
                self.in_preamble = False

    def _add_keys(
        self, clean: str, pos: int, name: str, path: Path, line_at: Callable[[int], int]
    ) -> int | None:
        group = _group(clean, pos, "{", "}")
        if group is None:
            return None
        start, end = group
        offset = start + 1
        for raw in clean[start + 1 : end - 1].split(","):
            key_offset = offset + (len(raw) - len(raw.lstrip(_SPACE)))
            offset += len(raw) + 1
            key = raw.replace(_GONE, "").strip()
            if not key or "#" in key or "\\" in key:
                continue  # a macro parameter or a key built by a macro: not ours to check
            if key == ALL_KEYS and name != "nocite":
                continue
            self.uses.append(CiteUse(key, path, line_at(key_offset)))
        return end

    def _bibliography(self, clean: str, pos: int, name: str) -> None:
        """Note a `\\bibliographystyle`, `\\bibliography`, `\\addbibresource` or biblatex."""
        options = ""
        if name in ("usepackage", "RequirePackage", "addbibresource", "addglobalbib"):
            bracket = _group(clean, pos, "[", "]")
            if bracket is not None:
                options, pos = clean[bracket[0] + 1 : bracket[1] - 1], bracket[1]
        group = _group(clean, pos, "{", "}")
        if group is None:
            return
        argument = clean[group[0] + 1 : group[1] - 1].replace(_GONE, "")
        items = [item.strip() for item in argument.split(",") if item.strip()]
        if any("\\" in item or "#" in item for item in items):
            return  # built by a macro
        if name == "bibliographystyle" and items:
            self.bibtex_style = items[0]
        elif name == "bibliography":
            self.bib_files += [
                self.root / (item if item.endswith(".bib") else f"{item}.bib") for item in items
            ]
        elif name in ("addbibresource", "addglobalbib") and "remote" not in options:
            self.bib_files += [self.root / item for item in items]
        elif "biblatex" in items:
            found = _BIBLATEX_STYLE.search(options.replace(_GONE, ""))
            self.biblatex_style = found.group(1).strip() if found else ""

    def _include(self, clean: str, pos: int, name: str, path: Path, line: int) -> None:
        group = _group(clean, pos, "{", "}")
        if group is not None:
            target = clean[group[0] + 1 : group[1] - 1].replace(_GONE, "").strip()
        elif name == "input":
            # The TeX primitive form: `\input chapter1`.
            bare = _BARE_INPUT_NAME.match(clean, _skip_space(clean, pos))
            target = bare.group(0) if bare else ""
        else:
            target = ""
        if not target or "#" in target or "\\" in target:
            return
        candidates = [target] if target.endswith(".tex") else [f"{target}.tex", target]
        dirs = [self.root] if path.parent == self.root else [self.root, path.parent]
        found = next(
            (d / c for d in dirs for c in candidates if (d / c).is_file()),
            None,
        )
        if found is None:
            if self.in_preamble and name == "input":
                return  # likely a file of the TeX distribution, such as `glyphtounicode`
            looked = ", ".join(str(self.root / c) for c in candidates)
            raise TexFileError(
                f"{path}:{line}: \\{name}{{{target}}} names a file that does not exist"
                f" (looked for {looked})"
            )
        if _identity(found) in self.seen:
            return  # included before, or an inclusion cycle
        self.scan(found, _read_tex(found))


def _read_tex(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TexFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise TexFileError(f"{path}: is a directory, not a .tex file") from None
    except OSError as error:
        raise TexFileError(f"{path}: cannot read it ({error.strerror})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise TexFileError(
            f"{path}: line {line} is not UTF-8 text (byte 0x{data[error.start]:02x});"
            " save the file as UTF-8"
        ) from None


def _identity(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def _strip_non_tex(text: str) -> str:
    """Blank out comments, escaped characters, `\\verb` and verbatim-like environments."""
    out: list[str] = []
    pos = 0
    length = len(text)
    while True:
        match = _SPECIAL.search(text, pos)
        if match is None:
            out.append(text[pos:])
            break
        at = match.start()
        out.append(text[pos:at])
        if text[at] == "%":
            end = text.find("\n", at)
            if end == -1:
                end = length
            else:
                # TeX also drops the line end and the next line's leading spaces.
                end += 1
                while end < length and text[end] in " \t":
                    end += 1
            out.append(_GONE * (end - at))
            pos = end
            continue
        word = _CONTROL_WORD.match(text, at)
        if word is None:
            # A control symbol such as `\%`, `\{` or `\\`: never a comment or a group.
            end = min(at + 2, length)
            out.append(" " * (end - at) if text[at + 1 : end] != "\n" else " \n")
            pos = end
            continue
        name = word.group(1)
        after = text[word.end() : word.end() + 1]
        if name == "verb" or (name == "lstinline" and after and after not in "[{"):
            end = _verb_end(text, word.end())
            out.append(_blank(text[at:end]))
            pos = end
            continue
        if name == "begin":
            env = _BEGIN.match(text, at + 1)
            if env is not None and env.group(1) in VERBATIM_ENVIRONMENTS:
                close = text.find(f"\\end{{{env.group(1)}}}", env.end())
                end = length if close == -1 else close + len(env.group(1)) + 6
                out.append(_blank(text[at:end]))
                pos = end
                continue
        out.append(word.group(0))
        pos = word.end()
    return "".join(out)


def _verb_end(text: str, pos: int) -> int:
    if pos < len(text) and text[pos] == "*":
        pos += 1
    if pos >= len(text):
        return pos
    delimiter = text[pos]
    end = text.find(delimiter, pos + 1)
    newline = text.find("\n", pos + 1)
    if end == -1 or (newline != -1 and newline < end):
        return pos + 1  # not a well-formed `\verb`; leave the rest alone
    return end + 1


def _blank(text: str) -> str:
    return "".join(c if c == "\n" else " " for c in text)


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _SPACE:
        pos += 1
    return pos


def _skip_star(text: str, pos: int) -> int:
    after = _skip_space(text, pos)
    return after + 1 if after < len(text) and text[after] == "*" else pos


def _skip_groups(text: str, pos: int, open_: str, close: str, *, limit: int) -> int:
    for _ in range(limit):
        group = _group(text, pos, open_, close)
        if group is None:
            break
        pos = group[1]
    return pos


def _group(text: str, pos: int, open_: str, close: str) -> tuple[int, int] | None:
    """Return (start, end) of the balanced group opening after optional space at `pos`."""
    start = _skip_space(text, pos)
    if start >= len(text) or text[start] != open_:
        return None
    depth = 0  # braces inside a bracket group protect brackets, as in `[{a]b}]`
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "{":
            depth += 1
        elif char == "}":
            if open_ == "{" and depth == 0:
                return start, i + 1
            depth -= 1
            if depth < 0:
                return None
        elif char == close and depth == 0:
            return start, i + 1
        i += 1
    return None
