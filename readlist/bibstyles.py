"""Which bibliography styles print an arXiv preprint's ID, for `readlist check`.

arXiv's own export (``@misc`` with ``eprint``/``archivePrefix`` and ``url``) is printed by
natbib's styles, by most publishers' styles and by biblatex; the classic ``plain``,
``unsrt``, ``alpha``, ``abbrv`` and ``apalike`` (and any ``.bst`` without ``eprint`` or ``url``
handling) print neither, so the reader cannot find the paper. Google Scholar's form
(``journal = {arXiv preprint arXiv:ID}``, `readlist.bibtex` with ``preprint_form =
"journal"``) shows everywhere.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from readlist.bibfile import BibEntry

__all__ = ["CLASSIC_STYLES", "StyleWarning", "find_bst", "hidden_ids", "style_prints_eprints"]

CLASSIC_STYLES = frozenset({"plain", "unsrt", "alpha", "abbrv", "apalike"})
_BST_COMMENT = re.compile(r"%.*")
_LOCATOR_FIELD = re.compile(r"\b(?:eprint|url)\b", re.IGNORECASE)


@dataclass(frozen=True)
class StyleWarning:
    """A style that will hide the arXiv ID of `entries` (keys) the document cites."""

    style: str
    entries: tuple[str, ...]

    def message(self) -> str:
        count = len(self.entries)
        return (
            f"bibliography style {self.style} prints no arXiv ID or URL for {count} cited "
            f"arXiv entr{'y' if count == 1 else 'ies'} in arXiv's @misc form "
            f"({', '.join(self.entries[:3])}{', ...' if count > 3 else ''}); "
            'set [bibtex] preprint_form = "journal" (or pass --preprint-form journal to '
            "add/pull) so readlist writes journal = {arXiv preprint arXiv:ID}, which it prints"
        )


def find_bst(style: str, directory: Path) -> str | None:
    """Return the text of ``style.bst``: the document's own, else TeX's (kpsewhich), else None."""
    local = directory / f"{style}.bst"
    if local.is_file():
        return local.read_text(encoding="latin-1")
    if shutil.which("kpsewhich") is None:
        return None
    try:
        found = subprocess.run(
            ["kpsewhich", f"{style}.bst"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    path = found.stdout.strip()
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="latin-1")
    except OSError:
        return None


def style_prints_eprints(style: str, read_bst: Callable[[str], str | None]) -> bool | None:
    """Tell whether BibTeX style `style` prints an ``eprint`` or ``url``; None when unknown."""
    if style in CLASSIC_STYLES:
        return False
    text = read_bst(style)
    if text is None:
        return None
    return _LOCATOR_FIELD.search(_BST_COMMENT.sub("", text)) is not None


def hidden_ids(entries: Iterable[BibEntry]) -> list[str]:
    """Return the keys of arXiv entries whose ID only an eprint- or url-aware style prints."""
    keys = []
    for entry in entries:
        eprint = entry.get("eprint")
        if not eprint:
            continue
        shown = " ".join(entry.get(name) or "" for name in ("journal", "howpublished", "note"))
        if eprint.strip() not in shown:
            keys.append(entry.key)
    return keys
