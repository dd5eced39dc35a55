"""Error types. Each carries the data a user needs to fix the problem.

The CLI turns any `ReadlistError` into one `Error: ...` line and exit code 1 (see cli.py);
nothing else catches them.
"""

from __future__ import annotations

from pathlib import Path


class ReadlistError(Exception):
    """Base class for every error readlist reports to the user (exit code 1)."""


class UsageError(ReadlistError):
    """The command line asks for something malformed (exit code 2, before any request)."""


class InputError(ReadlistError):
    """A listing, identifier or file given as input cannot be used."""

    def __init__(self, source: str, message: str, line: int | None = None) -> None:
        self.source = source
        self.line = line
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {message}")


class ConfigError(ReadlistError):
    """The configuration file or environment holds a bad value."""

    def __init__(self, path: Path | str | None, key: str | None, message: str) -> None:
        self.path = path
        self.key = key
        parts = [str(p) for p in (path, key) if p]
        super().__init__(f"{': '.join(parts)}: {message}" if parts else message)


class BibFileError(ReadlistError):
    """A .bib file cannot be read, parsed or written."""

    def __init__(self, path: Path | str, message: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")


class UnsafeTextError(ReadlistError):
    """A paper's text cannot be written as BibTeX that is sure to compile (`add` skips it)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"its {field} {message}")


class SelectionError(ReadlistError):
    """A --pick/--match selection does not fit the listing."""


class TexFileError(ReadlistError):
    """A .tex file given to `readlist check` cannot be read."""


class ApiError(ReadlistError):
    """A remote API (arXiv, Hugging Face, Zotero) did not give a usable answer."""

    service = "API"

    def __init__(self, url: str, message: str, status: int | None = None) -> None:
        self.url = url
        self.status = status
        self.message = message
        code = f" (HTTP {status})" if status else ""
        super().__init__(f"{self.service}{code}: {message} [{url}]")


class ArxivError(ApiError):
    """The arXiv API failed: an HTTP error after retries, a timeout, or a bad feed."""

    service = "arXiv API"


class HuggingFaceError(ApiError):
    """The Hugging Face papers API failed after retries, or answered nonsense."""

    service = "Hugging Face API"
