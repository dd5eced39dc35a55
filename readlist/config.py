"""Configuration: one frozen `Config`, built once from defaults, a TOML file, the environment and
command-line flags.

Precedence, lowest first: defaults < config file < environment variables < command-line flags.

Nothing here reads `os.environ`: the caller passes the environment in, so tests and the CLI
decide what it holds.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from readlist.errors import ConfigError
from readlist.tags import check_tag, compile_rules

ARXIV_API_URL = "https://export.arxiv.org/api/query"
ARXIV_PDF_URL = "https://arxiv.org/pdf"
HF_API_URL = "https://huggingface.co/api"
ZOTERO_API_URL = "https://api.zotero.org"
DOI_API_URL = "https://doi.org"
# arXiv's API terms of use: no more than one request every three seconds.
ARXIV_MIN_DELAY = 3.0
MAX_CONCURRENCY = 16
# The most retries `[arxiv] max_retries` allows: each waits twice as long as the one before.
MAX_RETRIES = 8
CITEKEY_PLACEHOLDERS: tuple[str, ...] = ("auth", "authors", "year", "shorttitle", "title", "eprint")
TAGGING_FIELDS: tuple[str, ...] = ("title", "abstract")
SECRET_MASK = "********"
ENVIRONMENT = "environment"
COMMAND_LINE = "command line"

Destination = Literal["bib", "zotero", "both"]
BibStyle = Literal["bibtex", "biblatex"]
PreprintForm = Literal["eprint", "journal"]
LibraryType = Literal["user", "group"]
DateChoice = Literal["first", "latest"]


@dataclass(frozen=True)
class LibraryConfig:
    """Where papers go: the .bib file, Zotero, or both."""

    bib: Path | None = None
    to: Destination = "bib"


@dataclass(frozen=True)
class BibtexConfig:
    """How BibTeX entries and their keys are written."""

    style: BibStyle = "bibtex"
    citekey: str = "{auth}{year}{shorttitle}"
    lowercase_keys: bool = True
    abstract: bool = True
    # "eprint": arXiv's export (@misc + eprint). "journal": Google Scholar's form (@article,
    # journal = {arXiv preprint arXiv:ID}), which every classic .bst prints.
    preprint_form: PreprintForm = "eprint"


@dataclass(frozen=True)
class TaggingConfig:
    """Keyword rules (the `[tags]` table, in file order) and where they look."""

    rules: tuple[tuple[str, tuple[str, ...]], ...] = ()
    fields: tuple[str, ...] = TAGGING_FIELDS
    always: tuple[str, ...] = ()
    # Reading status, as tags: `readlist mark read` swaps unread_tag for read_tag.
    unread_tag: str = "to-read"
    read_tag: str = "read"


@dataclass(frozen=True)
class ArxivConfig:
    """The arXiv API endpoint and how politely to use it."""

    api_url: str = ARXIV_API_URL
    delay_seconds: float = ARXIV_MIN_DELAY
    timeout_seconds: float = 30.0  # for the whole answer of one request
    contact: str = ""  # an e-mail address or URL for the User-Agent
    pdf_url: str = ARXIV_PDF_URL  # where `--attach-pdf` downloads <pdf_url>/<id> from
    max_retries: int = 4  # after arXiv's own 429/503/5xx; stalls and HTML pages get one


@dataclass(frozen=True)
class HuggingFaceConfig:
    """The Hugging Face API endpoint, token and request concurrency."""

    api_url: str = HF_API_URL
    token: str = field(default="", repr=False)
    concurrency: int = 4


@dataclass(frozen=True)
class DoiConfig:
    """Where `upgrade` asks for a published DOI's metadata (content negotiation, CSL JSON)."""

    api_url: str = DOI_API_URL


@dataclass(frozen=True)
class ZoteroConfig:
    """The Zotero Web API endpoint, library and target collection."""

    api_url: str = ZOTERO_API_URL
    library_id: str = ""
    library_type: LibraryType = "user"
    api_key: str = field(default="", repr=False)
    collection: str = ""
    # Which arXiv version dates a paper: "first" (v1, as the arXiv ID does) or "latest".
    # Drives the Zotero item's date and the BibTeX year/month alike.
    date: DateChoice = "first"


@dataclass(frozen=True, kw_only=True)
class Config:
    """The effective configuration of one readlist run."""

    library: LibraryConfig = LibraryConfig()
    bibtex: BibtexConfig = BibtexConfig()
    tagging: TaggingConfig = TaggingConfig()
    arxiv: ArxivConfig = ArxivConfig()
    huggingface: HuggingFaceConfig = HuggingFaceConfig()
    zotero: ZoteroConfig = ZoteroConfig()
    doi: DoiConfig = DoiConfig()
    cache_dir: Path
    path: Path  # the config file that was, or would have been, read
    file_exists: bool


class _Invalid(Exception):
    """A value is wrong; the caller adds where it came from."""


@dataclass(frozen=True)
class _Option:
    kind: Literal[
        "citekey", "line", "path", "bool", "number", "int", "count", "choice", "list", "url", "id"
    ]
    choices: tuple[str, ...] = ()
    secret: bool = False


# The TOML layout. `[tags]` is free-form and handled apart; `[cache] dir` becomes
# `Config.cache_dir`; every other option is `Config.<section>.<key>`.
_SCHEMA: dict[str, dict[str, _Option]] = {
    "library": {
        "bib": _Option("path"),
        "to": _Option("choice", ("bib", "zotero", "both")),
    },
    "bibtex": {
        "style": _Option("choice", ("bibtex", "biblatex")),
        "citekey": _Option("citekey"),
        "lowercase_keys": _Option("bool"),
        "abstract": _Option("bool"),
        "preprint_form": _Option("choice", ("eprint", "journal")),
    },
    "tagging": {
        "fields": _Option("list", TAGGING_FIELDS),
        "always": _Option("list"),
        "unread_tag": _Option("line"),
        "read_tag": _Option("line"),
    },
    "arxiv": {
        "api_url": _Option("url"),
        "pdf_url": _Option("url"),
        "delay_seconds": _Option("number"),
        "timeout_seconds": _Option("number"),
        "max_retries": _Option("count"),
        "contact": _Option("line"),
    },
    "huggingface": {
        "api_url": _Option("url"),
        "token": _Option("line", secret=True),
        "concurrency": _Option("int"),
    },
    "zotero": {
        "api_url": _Option("url"),
        "library_id": _Option("id"),
        "library_type": _Option("choice", ("user", "group")),
        "api_key": _Option("line", secret=True),
        "collection": _Option("line"),
        "date": _Option("choice", ("first", "latest")),
    },
    "doi": {
        "api_url": _Option("url"),
    },
    "cache": {
        "dir": _Option("path"),
    },
}
_SECTIONS = (*_SCHEMA, "tags")

# Environment variable -> option. Empty variables count as unset.
ENV_VARS: dict[str, str] = {
    "READLIST_CACHE_DIR": "cache.dir",
    "READLIST_BIB": "library.bib",
    "READLIST_ARXIV_API_URL": "arxiv.api_url",
    "READLIST_ARXIV_PDF_URL": "arxiv.pdf_url",
    "READLIST_ARXIV_DELAY": "arxiv.delay_seconds",
    "READLIST_HF_API_URL": "huggingface.api_url",
    "HF_TOKEN": "huggingface.token",
    "READLIST_ZOTERO_API_URL": "zotero.api_url",
    "READLIST_DOI_URL": "doi.api_url",
    "ZOTERO_API_KEY": "zotero.api_key",
    "ZOTERO_LIBRARY_ID": "zotero.library_id",
}


@dataclass
class _Value:
    value: object
    source: str  # file path, "environment" or "command line"
    name: str  # the option as that source spells it: "arxiv.delay_seconds", "READLIST_..."


def default_config_path(env: Mapping[str, str]) -> Path:
    """Return the config file to read: READLIST_CONFIG, else the XDG config location."""
    if named := env.get("READLIST_CONFIG"):
        return _expand_user(named, env)
    return _xdg_dir(env, "XDG_CONFIG_HOME", ".config") / "readlist" / "config.toml"


def default_cache_dir(env: Mapping[str, str]) -> Path:
    """Return the cache directory used when neither the file nor READLIST_CACHE_DIR sets one."""
    return _xdg_dir(env, "XDG_CACHE_HOME", ".cache") / "readlist"


def load_config(
    env: Mapping[str, str],
    overrides: Mapping[str, object] | None = None,
    path: Path | None = None,
    *,
    must_exist: bool = True,
) -> Config:
    """Build the effective configuration from defaults, file, environment and flags.

    Args:
        env: the process environment (the caller's `os.environ`, or a test's dict).
        overrides: options from command-line flags as dotted keys (``"library.bib"``,
            ``"cache.dir"``); None values are ignored.
        path: the file named by `--config`; it beats READLIST_CONFIG.
        must_exist: the file READLIST_CONFIG names must exist (a typo there must not silently
            mean "no config"); `config show` passes False. A `--config` file always must.
    """
    # The XDG default may be missing (no config yet); a file the user named may not.
    explicit = path is not None or (must_exist and bool(env.get("READLIST_CONFIG")))
    config_path = _expand_user(str(path), env) if path is not None else default_config_path(env)
    document, file_exists = _read_document(config_path, explicit=explicit)

    # Precedence, lowest first: defaults < file < environment < flags. Each layer only adds
    # the keys it sets, so a later layer replaces an earlier one key by key.
    values: dict[str, _Value] = {}
    rules = _file_layer(document, config_path, env, values)
    _env_layer(env, values)
    _override_layer(overrides or {}, env, values)
    _check_combination(values)
    return _build(values, rules, config_path, file_exists, env)


def config_to_dict(config: Config, *, hide_secrets: bool = True) -> dict[str, Any]:
    """Return the effective configuration as a TOML-ready dict (for `readlist config show`)."""
    result: dict[str, Any] = {}
    for section, options in _SCHEMA.items():
        table: dict[str, Any] = {}
        for key, option in options.items():
            value = _get(config, section, key)
            if isinstance(value, Path):
                value = str(value)
            elif value is None:
                value = ""
            elif isinstance(value, tuple):
                value = list(value)
            if option.secret and hide_secrets and value:
                value = SECRET_MASK
            table[key] = value
        result[section] = table
        if section == "bibtex":
            result["tags"] = {tag: list(patterns) for tag, patterns in config.tagging.rules}
    return result


def render_initial_config(values: Mapping[str, object] | None = None) -> str:
    """Return the text of a starter config file; `values` are dotted keys that replace examples."""
    document: dict[str, dict[str, Any]] = {
        "library": {"bib": "", "to": "bib"},
        "bibtex": {"style": "bibtex", "citekey": BibtexConfig.citekey},
        "tags": {
            "retrieval": ["retrieval", "RAG", "re-rank*"],
            "video": ["video"],
            "medical": ["medical", "radiology", "pathology", "re:\\bbio-?medical\\b"],
        },
        "tagging": {"fields": list(TAGGING_FIELDS), "always": ["to-read"]},
    }
    given: dict[str, _Value] = {}
    for dotted, raw in (values or {}).items():
        if raw is None:
            continue
        section, key = _split_option(dotted, COMMAND_LINE)
        text = os.fspath(raw) if isinstance(raw, os.PathLike) else raw
        try:
            value = _convert(_SCHEMA[section][key], text)
        except _Invalid as error:
            raise ConfigError(COMMAND_LINE, dotted, str(error)) from None
        given[dotted] = _Value(value, COMMAND_LINE, dotted)
        if isinstance(value, tuple):
            value = list(value)
        elif value is None:
            value = ""
        elif isinstance(value, Path):
            # A path from a flag is relative to the cwd, but in the file it would be relative
            # to the file: write it absolute. `~` stays `~`.
            value = str(text if str(text).startswith("~") else value.absolute())
        document.setdefault(section, {})[key] = value
    import tomli_w  # a dependency needed only by `config init`

    header = (
        "# readlist configuration; config.example.toml documents every option.\n"
        "# Precedence, lowest first: defaults < this file < environment < command-line flags.\n"
        "# Relative paths here are relative to this file's directory.\n\n"
    )
    text = header + tomli_w.dumps(document)
    _check_combination(given)
    # Refuse to write what could not be read back.
    _file_layer(tomllib.loads(text), Path("<new config>"), {}, {})
    return text


def write_initial_config(
    path: Path, *, force: bool = False, values: Mapping[str, object] | None = None
) -> Path:
    """Write a starter config to `path` (mode 0600, atomically) and return the path."""
    if path.is_dir():
        raise ConfigError(path, None, "is a directory")
    if path.exists() and not force:
        raise ConfigError(path, None, "already exists; use --force to overwrite")
    text = render_initial_config(values)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(path, None, f"cannot create its directory: {error.strerror}") from None
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        # 0600 from the start: the file may hold an API key or token, now or later.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise ConfigError(path, None, f"cannot write: {error.strerror}") from None
    return path


# --- reading the file -------------------------------------------------------------------


def _read_document(path: Path, *, explicit: bool) -> tuple[dict[str, Any], bool]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if explicit:
            raise ConfigError(
                path, None, "no such file (`readlist config init` creates one)"
            ) from None
        return {}, False
    except IsADirectoryError:
        raise ConfigError(path, None, "is a directory, not a config file") from None
    except OSError as error:
        raise ConfigError(path, None, f"cannot read: {error.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ConfigError(
            path, None, f"not UTF-8 text (byte 0x{data[error.start]:02x} on line {line})"
        ) from None
    try:
        return tomllib.loads(text), True
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(path, None, f"invalid TOML: {error}") from None


def _file_layer(
    document: Mapping[str, Any], path: Path, env: Mapping[str, str], values: dict[str, _Value]
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Validate the parsed file into `values`; return the `[tags]` rules."""
    source = str(path)
    rules: tuple[tuple[str, tuple[str, ...]], ...] = ()
    for section, table in document.items():
        if section not in _SECTIONS:
            if not isinstance(table, dict):
                raise ConfigError(path, section, _top_level_hint(section))
            raise ConfigError(path, section, f"unknown section; {_suggest_section(section)}")
        if not isinstance(table, dict):
            raise ConfigError(path, section, f"expected a table, got {_describe(table)}")
        if section == "tags":
            rules = _parse_tags(table, path)
            continue
        options = _SCHEMA[section]
        for key, raw in table.items():
            dotted = f"{section}.{key}"
            if key not in options:
                raise ConfigError(path, dotted, f"unknown key; {_suggest_key(section, key)}")
            try:
                value = _convert(options[key], raw)
            except _Invalid as error:
                raise ConfigError(path, dotted, str(error)) from None
            if isinstance(value, Path):
                # Relative paths in the file are relative to the file, not to the cwd.
                value = path.parent / _expand_user(str(value), env)
            values[dotted] = _Value(value, source, dotted)
    return rules


def _parse_tags(table: Mapping[str, Any], path: Path) -> tuple[tuple[str, tuple[str, ...]], ...]:
    rules: list[tuple[str, tuple[str, ...]]] = []
    for tag, raw in table.items():
        if isinstance(raw, str):
            patterns: tuple[str, ...] = (raw,)
        elif isinstance(raw, list) and all(isinstance(item, str) for item in raw):
            patterns = tuple(raw)
        else:
            raise ConfigError(
                path,
                f"tags.{tag}",
                f"expected a string or an array of strings, got {_describe(raw)}",
            )
        rules.append((tag, patterns))
    try:
        compile_rules(rules)
    except ConfigError as error:
        raise ConfigError(path, error.key, _message_of(error)) from None
    return tuple(rules)


# --- environment and flags ----------------------------------------------------------------


def _env_layer(env: Mapping[str, str], values: dict[str, _Value]) -> None:
    for name, dotted in ENV_VARS.items():
        text = env.get(name)
        if not text:
            continue
        option = _option(dotted)
        try:
            value: object
            if option.kind == "number":
                value = _convert(option, _parse_number(text))
            elif option.kind == "path":
                value = _expand_user(text, env)
            else:
                value = _convert(option, text)
        except _Invalid as error:
            raise ConfigError(ENVIRONMENT, name, str(error)) from None
        values[dotted] = _Value(value, ENVIRONMENT, name)


def _override_layer(
    overrides: Mapping[str, object], env: Mapping[str, str], values: dict[str, _Value]
) -> None:
    for dotted, raw in overrides.items():
        if raw is None:
            continue
        option = _option(dotted, COMMAND_LINE)
        try:
            value = _convert(option, os.fspath(raw) if isinstance(raw, os.PathLike) else raw)
        except _Invalid as error:
            raise ConfigError(COMMAND_LINE, dotted, str(error)) from None
        if isinstance(value, Path):
            value = _expand_user(str(value), env)
        values[dotted] = _Value(value, COMMAND_LINE, dotted)


def _check_combination(values: Mapping[str, _Value]) -> None:
    """Check the rules that involve more than one option, once all layers are in."""
    delay = values.get("arxiv.delay_seconds")
    url = values.get("arxiv.api_url")
    api_url = str(url.value) if url else ARXIV_API_URL
    if delay is not None and cast(float, delay.value) < ARXIV_MIN_DELAY and _is_arxiv(api_url):
        raise ConfigError(
            delay.source,
            delay.name,
            f"must be at least {ARXIV_MIN_DELAY:g} seconds for the official arXiv API"
            " (its terms allow one request every 3 seconds); a shorter delay is allowed only"
            " with arxiv.api_url pointing at a mirror or test server",
        )


# --- building -----------------------------------------------------------------------------


def _build(
    values: Mapping[str, _Value],
    rules: tuple[tuple[str, tuple[str, ...]], ...],
    path: Path,
    file_exists: bool,
    env: Mapping[str, str],
) -> Config:
    def get(dotted: str, default: object) -> Any:
        found = values.get(dotted)
        return default if found is None else found.value

    library = LibraryConfig(bib=get("library.bib", None), to=get("library.to", "bib"))
    bibtex = BibtexConfig(
        style=get("bibtex.style", "bibtex"),
        citekey=get("bibtex.citekey", BibtexConfig.citekey),
        lowercase_keys=get("bibtex.lowercase_keys", True),
        abstract=get("bibtex.abstract", True),
        preprint_form=get("bibtex.preprint_form", "eprint"),
    )
    tagging = TaggingConfig(
        rules=rules,
        fields=tuple(get("tagging.fields", TAGGING_FIELDS)),
        always=tuple(get("tagging.always", ())),
        unread_tag=get("tagging.unread_tag", TaggingConfig.unread_tag).strip() or "to-read",
        read_tag=get("tagging.read_tag", TaggingConfig.read_tag).strip() or "read",
    )
    arxiv = ArxivConfig(
        api_url=get("arxiv.api_url", ARXIV_API_URL),
        pdf_url=get("arxiv.pdf_url", ARXIV_PDF_URL),
        delay_seconds=float(get("arxiv.delay_seconds", ARXIV_MIN_DELAY)),
        timeout_seconds=float(get("arxiv.timeout_seconds", ArxivConfig.timeout_seconds)),
        max_retries=get("arxiv.max_retries", ArxivConfig.max_retries),
        contact=get("arxiv.contact", ""),
    )
    huggingface = HuggingFaceConfig(
        api_url=get("huggingface.api_url", HF_API_URL),
        token=get("huggingface.token", ""),
        concurrency=get("huggingface.concurrency", HuggingFaceConfig.concurrency),
    )
    zotero = ZoteroConfig(
        api_url=get("zotero.api_url", ZOTERO_API_URL),
        library_id=get("zotero.library_id", ""),
        library_type=get("zotero.library_type", "user"),
        api_key=get("zotero.api_key", ""),
        collection=get("zotero.collection", ""),
        date=get("zotero.date", "first"),
    )
    cache_dir = get("cache.dir", None) or default_cache_dir(env)
    return Config(
        library=library,
        bibtex=bibtex,
        tagging=tagging,
        arxiv=arxiv,
        huggingface=huggingface,
        zotero=zotero,
        doi=DoiConfig(api_url=get("doi.api_url", DOI_API_URL)),
        cache_dir=cache_dir,
        path=path,
        file_exists=file_exists,
    )


def _get(config: Config, section: str, key: str) -> object:
    if section == "cache":
        return config.cache_dir
    return getattr(getattr(config, section), key)


# --- values -------------------------------------------------------------------------------


def _convert(option: _Option, raw: object) -> object:
    """Return `raw` checked and converted for `option`, or raise _Invalid."""
    kind = option.kind
    if kind == "bool":
        if not isinstance(raw, bool):
            raise _Invalid(f"expected true or false, got {_describe(raw)}")
        return raw
    if kind == "number":
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise _Invalid(f"expected a number, got {_describe(raw)}")
        if not math.isfinite(raw):
            raise _Invalid(f"expected a finite number, got {raw}")
        if raw <= 0:
            raise _Invalid(f"must be greater than 0, got {raw:g}")
        return float(raw)
    if kind == "int":
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise _Invalid(f"expected an integer, got {_describe(raw)}")
        if not 1 <= raw <= MAX_CONCURRENCY:
            raise _Invalid(f"must be between 1 and {MAX_CONCURRENCY}, got {raw}")
        return raw
    if kind == "count":
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise _Invalid(f"expected an integer, got {_describe(raw)}")
        if not 0 <= raw <= MAX_RETRIES:
            raise _Invalid(f"must be between 0 and {MAX_RETRIES}, got {raw}")
        return raw
    if kind == "list":
        if not isinstance(raw, list | tuple) or not all(isinstance(i, str) for i in raw):
            raise _Invalid(f"expected an array of strings, got {_describe(raw)}")
        return _check_list(option, raw)
    if kind == "id" and isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)  # `library_id = 123456` is how most people will write it
    if not isinstance(raw, str):
        raise _Invalid(f"expected a string, got {_describe(raw)}")
    if kind == "path":
        return Path(raw) if raw.strip() else None
    if kind == "choice":
        if raw not in option.choices:
            raise _Invalid(f"expected one of {_quoted(option.choices)}, got {raw!r}")
        return raw
    if kind == "url":
        return _check_url(raw)
    if kind in ("line", "id") and any(ord(c) < 32 or ord(c) == 127 for c in raw):
        raise _Invalid("must be a single line without control characters")
    if kind == "id" and raw and not raw.isdigit():
        raise _Invalid(f"expected a numeric Zotero library ID, got {raw!r}")
    if kind == "citekey":
        _check_citekey(raw)
    return raw


def _check_list(option: _Option, items: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    if option.choices:
        for item in items:
            if item not in option.choices:
                raise _Invalid(f"{item!r} is not one of {_quoted(option.choices)}")
        return tuple(dict.fromkeys(items))
    tags: list[str] = []
    for item in items:
        try:
            tags.append(check_tag(item))
        except ValueError as error:
            raise _Invalid(str(error)) from None
    return tuple(tags)


def _check_url(raw: str) -> str:
    url = raw.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _Invalid(f"expected an http:// or https:// URL, got {raw!r}")
    return url.rstrip("/")


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_KEY_TEXT = re.compile(r"[A-Za-z0-9_\-:.]*")


def _check_citekey(formula: str) -> None:
    known = ", ".join(f"{{{name}}}" for name in CITEKEY_PLACEHOLDERS)
    names = _PLACEHOLDER.findall(formula)
    for name in names:
        if name not in CITEKEY_PLACEHOLDERS:
            raise _Invalid(f"unknown placeholder {{{name}}}; use {known}")
    if not names:
        raise _Invalid(f"needs at least one placeholder: {known}")
    literal = _PLACEHOLDER.sub("", formula)
    if "{" in literal or "}" in literal:
        raise _Invalid(f"unbalanced brace in {formula!r}")
    if not _KEY_TEXT.fullmatch(literal):
        raise _Invalid(
            f"text besides placeholders may use only ASCII letters, digits and _-:.,"
            f" got {formula!r}"
        )


def _parse_number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise _Invalid(f"expected a number, got {text!r}") from None


def _is_arxiv(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "arxiv.org" or host.endswith(".arxiv.org")


def _describe(value: object) -> str:
    names: list[tuple[type | tuple[type, ...], str]] = [
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        ((list, tuple), "an array"),
        (dict, "a table"),
    ]
    for kind, name in names:
        if isinstance(value, kind):
            return name
    return f"a {type(value).__name__}"  # TOML dates and times


def _quoted(items: tuple[str, ...]) -> str:
    return ", ".join(repr(item) for item in items)


# --- names and hints ----------------------------------------------------------------------


def _option(dotted: str, source: str = ENVIRONMENT) -> _Option:
    section, key = _split_option(dotted, source)
    return _SCHEMA[section][key]


def _split_option(dotted: str, source: str) -> tuple[str, str]:
    section, _, key = dotted.partition(".")
    if section not in _SCHEMA or key not in _SCHEMA[section]:
        known = [f"{s}.{k}" for s, keys in _SCHEMA.items() for k in keys]
        close = difflib.get_close_matches(dotted, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(source, dotted, f"unknown option{hint}")
    return section, key


def _suggest_section(section: str) -> str:
    close = difflib.get_close_matches(section, _SECTIONS, n=1)
    if close:
        return f"did you mean [{close[0]}]?"
    return "the sections are " + ", ".join(f"[{s}]" for s in _SECTIONS)


def _suggest_key(section: str, key: str) -> str:
    keys = list(_SCHEMA[section])
    close = difflib.get_close_matches(key, keys, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"[{section}] accepts " + ", ".join(keys)


def _top_level_hint(key: str) -> str:
    homes = [section for section, keys in _SCHEMA.items() if key in keys]
    if len(homes) == 1:
        return f"options belong in a section; did you mean {key} in [{homes[0]}]?"
    if homes:
        where = ", ".join(f"[{home}]" for home in homes)
        return f"options belong in a section; {key} is an option of {where}"
    return "unknown key outside any section; options belong in a section such as [library]"


def _message_of(error: ConfigError) -> str:
    """Return the message of a ConfigError without its `key: ` prefix."""
    text = str(error)
    prefix = f"{error.key}: " if error.key else ""
    return text[len(prefix) :] if text.startswith(prefix) else text


# --- paths --------------------------------------------------------------------------------


def _home(env: Mapping[str, str]) -> Path:
    return Path(env["HOME"]) if env.get("HOME") else Path.home()


def _expand_user(text: str, env: Mapping[str, str]) -> Path:
    if text == "~" or text.startswith(("~/", "~" + os.sep)):
        return _home(env) / text[2:]
    return Path(text).expanduser() if text.startswith("~") else Path(text)


def _xdg_dir(env: Mapping[str, str], variable: str, fallback: str) -> Path:
    # The XDG spec says relative values are invalid and must be ignored.
    value = env.get(variable, "")
    if value and Path(value).is_absolute():
        return Path(value)
    return _home(env) / fallback
