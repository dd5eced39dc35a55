from __future__ import annotations

import dataclasses
import json
import os
import stat
import tomllib
from pathlib import Path

import pytest
import tomli_w

from readlist.config import (
    ARXIV_API_URL,
    ENV_VARS,
    HF_API_URL,
    SECRET_MASK,
    ZOTERO_API_URL,
    ArxivConfig,
    BibtexConfig,
    Config,
    DoiConfig,
    HuggingFaceConfig,
    LibraryConfig,
    TaggingConfig,
    ZoteroConfig,
    config_to_dict,
    default_cache_dir,
    default_config_path,
    load_config,
    render_initial_config,
    write_initial_config,
)
from readlist.errors import ConfigError
from readlist.tags import assign_tags, compile_rules

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
SECTIONS = {
    "library": LibraryConfig,
    "bibtex": BibtexConfig,
    "tagging": TaggingConfig,
    "arxiv": ArxivConfig,
    "huggingface": HuggingFaceConfig,
    "zotero": ZoteroConfig,
    "doi": DoiConfig,
}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    return {"HOME": str(home)}


def write_config(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / "conf" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, env: dict[str, str], text: str, **kwargs: object) -> Config:
    return load_config(env, path=write_config(tmp_path, text), **kwargs)  # type: ignore[arg-type]


def config_error(tmp_path: Path, env: dict[str, str], text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, env, text)
    return info.value


# --- locations and defaults ----------------------------------------------------------------


def test_defaults_without_a_file(env: dict[str, str], home: Path) -> None:
    config = load_config(env)
    assert config.path == home / ".config" / "readlist" / "config.toml"
    assert config.file_exists is False
    assert config.cache_dir == home / ".cache" / "readlist"
    assert config.library == LibraryConfig(bib=None, to="bib")
    assert config.bibtex == BibtexConfig("bibtex", "{auth}{year}{shorttitle}", True, True)
    assert config.tagging == TaggingConfig(rules=(), fields=("title", "abstract"), always=())
    assert config.arxiv == ArxivConfig(ARXIV_API_URL, 3.0, 30.0, "")
    assert config.huggingface == HuggingFaceConfig(HF_API_URL, "", 4)
    assert config.zotero == ZoteroConfig(ZOTERO_API_URL, "", "user", "", "")


def test_default_config_path(tmp_path: Path, home: Path) -> None:
    assert default_config_path({"HOME": str(home)}) == home / ".config/readlist/config.toml"
    xdg = {"HOME": str(home), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert default_config_path(xdg) == tmp_path / "xdg/readlist/config.toml"
    # The XDG spec says a relative value is invalid and must be ignored.
    relative = {"HOME": str(home), "XDG_CONFIG_HOME": "rel"}
    assert default_config_path(relative) == home / ".config/readlist/config.toml"
    named = {**xdg, "READLIST_CONFIG": "~/my.toml"}
    assert default_config_path(named) == home / "my.toml"
    assert (
        default_config_path({**xdg, "READLIST_CONFIG": ""}) == tmp_path / "xdg/readlist/config.toml"
    )
    assert default_config_path({}) == Path.home() / ".config/readlist/config.toml"


def test_default_cache_dir(tmp_path: Path, home: Path) -> None:
    assert default_cache_dir({"HOME": str(home)}) == home / ".cache/readlist"
    xdg = {"HOME": str(home), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert default_cache_dir(xdg) == tmp_path / "cache/readlist"


def test_cache_dir_precedence(tmp_path: Path, env: dict[str, str]) -> None:
    env = {**env, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert load_config(env).cache_dir == tmp_path / "xdg/readlist"
    path = write_config(tmp_path, '[cache]\ndir = "c"\n')
    assert load_config(env, path=path).cache_dir == path.parent / "c"
    env["READLIST_CACHE_DIR"] = "from-env"
    assert load_config(env, path=path).cache_dir == Path("from-env")
    flags = {"cache.dir": Path("from-flag")}
    assert load_config(env, flags, path=path).cache_dir == Path("from-flag")


def test_empty_cache_dir_in_file_means_default(tmp_path: Path, env: dict[str, str]) -> None:
    config = load_text(tmp_path, env, '[cache]\ndir = ""\n')
    assert config.cache_dir == Path(env["HOME"]) / ".cache/readlist"


def test_readlist_config_names_the_file(tmp_path: Path, env: dict[str, str]) -> None:
    path = write_config(tmp_path, '[library]\nto = "both"\n')
    config = load_config({**env, "READLIST_CONFIG": str(path)})
    assert config.path == path
    assert config.file_exists
    assert config.library.to == "both"


def test_path_argument_beats_readlist_config(tmp_path: Path, env: dict[str, str]) -> None:
    first = write_config(tmp_path, '[library]\nto = "both"\n', "first.toml")
    second = write_config(tmp_path, '[library]\nto = "zotero"\n', "second.toml")
    config = load_config({**env, "READLIST_CONFIG": str(first)}, path=second)
    assert (config.path, config.library.to) == (second, "zotero")


def test_missing_default_file_is_fine(env: dict[str, str]) -> None:
    assert load_config(env).file_exists is False


def test_missing_explicit_file_is_an_error(tmp_path: Path, env: dict[str, str]) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError) as info:
        load_config(env, path=missing)
    assert str(info.value) == f"{missing}: no such file (`readlist config init` creates one)"
    assert (info.value.path, info.value.key) == (missing, None)
    # A file READLIST_CONFIG names must exist too: a typo there is not "no config" ...
    with pytest.raises(ConfigError, match="no such file"):
        load_config({**env, "READLIST_CONFIG": str(missing)})
    # ... except for `config show`, which says it is not created yet.
    shown = load_config({**env, "READLIST_CONFIG": str(missing)}, must_exist=False)
    assert shown.file_exists is False and shown.path == missing


def test_config_file_is_a_directory(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(env, path=tmp_path)
    assert str(info.value) == f"{tmp_path}: is a directory, not a config file"


def test_config_file_not_utf8(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[zotero]\ncollection = "Lektüre"\n'.encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_config(env, path=path)
    assert str(info.value) == f"{path}: not UTF-8 text (byte 0xfc on line 2)"


def test_config_file_with_bom(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes('\ufeff[library]\nto = "both"\n'.encode())
    assert load_config(env, path=path).library.to == "both"


def test_does_not_read_os_environ(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("READLIST_CONFIG", str(tmp_path / "nope.toml"))
    monkeypatch.setenv("ZOTERO_API_KEY", "from-os-environ")
    monkeypatch.setenv("READLIST_CACHE_DIR", "/nope")
    config = load_config(env)
    assert config.zotero.api_key == ""
    assert config.cache_dir == Path(env["HOME"]) / ".cache/readlist"


# --- reading values ------------------------------------------------------------------------

FULL = """
[library]
bib = "refs/main.bib"
to = "both"

[bibtex]
style = "biblatex"
citekey = "{auth}_{year}"
lowercase_keys = false
abstract = false

[tags]
video = "video"
retrieval = ["retrieval", "RAG", "re-rank*"]
"3D" = ["3D", "point cloud"]

[tagging]
fields = ["title"]
always = ["to-read", "inbox"]

[arxiv]
api_url = "http://127.0.0.1:8000/api/query/"
delay_seconds = 0.5
timeout_seconds = 5
contact = "me@example.org"
max_retries = 2

[huggingface]
api_url = "http://127.0.0.1:8001/api"
token = "hf_secret"
concurrency = 2

[zotero]
api_url = "http://127.0.0.1:8002"
library_id = 12345
library_type = "group"
api_key = "zot_secret"
collection = "Reading/Multimodal"

[cache]
dir = "~/cache"
"""


def test_every_option_is_read(tmp_path: Path, env: dict[str, str], home: Path) -> None:
    config = load_text(tmp_path, env, FULL)
    base = tmp_path / "conf"
    assert config.library == LibraryConfig(bib=base / "refs/main.bib", to="both")
    assert config.bibtex == BibtexConfig("biblatex", "{auth}_{year}", False, False)
    assert config.tagging == TaggingConfig(
        rules=(
            ("video", ("video",)),
            ("retrieval", ("retrieval", "RAG", "re-rank*")),
            ("3D", ("3D", "point cloud")),
        ),
        fields=("title",),
        always=("to-read", "inbox"),
    )
    assert config.arxiv == ArxivConfig(
        "http://127.0.0.1:8000/api/query", 0.5, 5.0, "me@example.org", max_retries=2
    )
    assert isinstance(config.arxiv.timeout_seconds, float)
    assert config.huggingface == HuggingFaceConfig("http://127.0.0.1:8001/api", "hf_secret", 2)
    assert config.zotero == ZoteroConfig(
        "http://127.0.0.1:8002", "12345", "group", "zot_secret", "Reading/Multimodal"
    )
    assert config.cache_dir == home / "cache"


def test_config_rules_feed_the_tagger(tmp_path: Path, env: dict[str, str]) -> None:
    config = load_text(tmp_path, env, FULL)
    rules = compile_rules(config.tagging.rules)
    texts = {"title": "3D video re-ranking", "abstract": "RAG"}
    tags = assign_tags(
        texts, rules, fields=config.tagging.fields, always=config.tagging.always, extra=["x"]
    )
    assert tags == ("video", "retrieval", "3D", "to-read", "inbox", "x")


def test_paths_in_the_file_are_relative_to_it(tmp_path: Path, env: dict[str, str]) -> None:
    config = load_text(tmp_path, env, '[library]\nbib = "../refs.bib"\n')
    assert config.library.bib == tmp_path / "conf" / ".." / "refs.bib"
    absolute = tmp_path / "abs.bib"
    config = load_text(tmp_path, env, f'[library]\nbib = "{absolute}"\n')
    assert config.library.bib == absolute
    config = load_text(tmp_path, env, '[library]\nbib = "~/refs.bib"\n')
    assert config.library.bib == Path(env["HOME"]) / "refs.bib"
    config = load_text(tmp_path, env, '[library]\nbib = ""\n')
    assert config.library.bib is None


def test_environment_and_flag_paths_are_left_as_given(tmp_path: Path, env: dict[str, str]) -> None:
    path = write_config(tmp_path, '[library]\nbib = "file.bib"\n')
    config = load_config({**env, "READLIST_BIB": "env.bib"}, path=path)
    assert config.library.bib == Path("env.bib")
    config = load_config({**env, "READLIST_BIB": "~/env.bib"}, path=path)
    assert config.library.bib == Path(env["HOME"]) / "env.bib"
    config = load_config(env, {"library.bib": Path("flag.bib")}, path=path)
    assert config.library.bib == Path("flag.bib")
    config = load_config(env, {"library.bib": "~/flag.bib"}, path=path)
    assert config.library.bib == Path(env["HOME"]) / "flag.bib"


def test_precedence_defaults_file_environment_flags(tmp_path: Path, env: dict[str, str]) -> None:
    path = write_config(
        tmp_path,
        '[arxiv]\napi_url = "http://file/api"\n[bibtex]\nstyle = "biblatex"\n'
        '[zotero]\napi_key = "file-key"\nlibrary_id = "1"\n',
    )
    assert load_config(env, path=path).arxiv.api_url == "http://file/api"
    environment = {
        **env,
        "READLIST_ARXIV_API_URL": "http://env/api",
        "ZOTERO_API_KEY": "env-key",
        "ZOTERO_LIBRARY_ID": "2",
    }
    config = load_config(environment, path=path)
    assert config.arxiv.api_url == "http://env/api"
    assert config.zotero.api_key == "env-key"  # the environment wins over the file
    assert config.zotero.library_id == "2"
    assert config.bibtex.style == "biblatex"
    flags = {"arxiv.api_url": "http://flag/api", "bibtex.style": "bibtex", "library.bib": None}
    config = load_config(environment, flags, path=path)
    assert config.arxiv.api_url == "http://flag/api"
    assert config.bibtex.style == "bibtex"
    assert config.library.bib is None  # None flags are ignored


def test_every_environment_variable(tmp_path: Path, env: dict[str, str]) -> None:
    environment = {
        **env,
        "READLIST_CACHE_DIR": "/tmp/rl-cache",
        "READLIST_BIB": "/tmp/refs.bib",
        "READLIST_ARXIV_API_URL": "http://127.0.0.1:9/api/query",
        "READLIST_ARXIV_DELAY": "0.25",
        "READLIST_ARXIV_PDF_URL": "http://127.0.0.1:9/pdf/",
        "READLIST_HF_API_URL": "http://127.0.0.1:9/hf/",
        "HF_TOKEN": "hf_x",
        "READLIST_ZOTERO_API_URL": "http://127.0.0.1:9/zotero",
        "READLIST_DOI_URL": "http://127.0.0.1:9/doi/",
        "ZOTERO_API_KEY": "k",
        "ZOTERO_LIBRARY_ID": "42",
    }
    assert set(environment) - {"HOME"} == set(ENV_VARS)
    config = load_config(environment)
    assert config.cache_dir == Path("/tmp/rl-cache")
    assert config.library.bib == Path("/tmp/refs.bib")
    assert config.arxiv.api_url == "http://127.0.0.1:9/api/query"
    assert config.arxiv.delay_seconds == 0.25
    assert config.arxiv.pdf_url == "http://127.0.0.1:9/pdf"
    assert config.huggingface.api_url == "http://127.0.0.1:9/hf"
    assert config.huggingface.token == "hf_x"
    assert config.zotero.api_url == "http://127.0.0.1:9/zotero"
    assert config.doi.api_url == "http://127.0.0.1:9/doi"
    assert config.zotero.api_key == "k"
    assert config.zotero.library_id == "42"


def test_empty_environment_variables_count_as_unset(tmp_path: Path, env: dict[str, str]) -> None:
    path = write_config(tmp_path, '[zotero]\napi_key = "file-key"\n')
    config = load_config({**env, "ZOTERO_API_KEY": "", "READLIST_ARXIV_DELAY": ""}, path=path)
    assert config.zotero.api_key == "file-key"
    assert config.arxiv.delay_seconds == 3.0


def test_config_is_frozen_and_hides_secrets_in_repr(tmp_path: Path, env: dict[str, str]) -> None:
    config = load_text(tmp_path, env, FULL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.library = LibraryConfig()  # type: ignore[misc]
    assert "hf_secret" not in repr(config)
    assert "zot_secret" not in repr(config)


# --- errors -------------------------------------------------------------------------------


def test_invalid_toml(tmp_path: Path, env: dict[str, str]) -> None:
    error = config_error(tmp_path, env, "[library]\nbib refs.bib\n")
    path = tmp_path / "conf" / "config.toml"
    assert str(error) == (
        f"{path}: invalid TOML: Expected '=' after a key in a key/value pair (at line 2, column 5)"
    )
    assert (error.path, error.key) == (path, None)


def test_wrong_type_names_file_key_and_types(tmp_path: Path, env: dict[str, str]) -> None:
    error = config_error(tmp_path, env, '[arxiv]\ndelay_seconds = "fast"\n')
    path = tmp_path / "conf" / "config.toml"
    assert str(error) == f"{path}: arxiv.delay_seconds: expected a number, got a string"
    assert (error.path, error.key) == (path, "arxiv.delay_seconds")


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        (
            '[tagging]\nfields = "title"',
            "tagging.fields",
            "expected an array of strings, got a string",
        ),
        ("[tagging]\nalways = [1]", "tagging.always", "expected an array of strings, got an array"),
        (
            '[bibtex]\nlowercase_keys = "yes"',
            "bibtex.lowercase_keys",
            "expected true or false, got a string",
        ),
        ("[bibtex]\nabstract = 1", "bibtex.abstract", "expected true or false, got an integer"),
        (
            "[huggingface]\nconcurrency = 2.5",
            "huggingface.concurrency",
            "expected an integer, got a float",
        ),
        (
            "[huggingface]\nconcurrency = 0",
            "huggingface.concurrency",
            "must be between 1 and 16, got 0",
        ),
        (
            "[huggingface]\nconcurrency = true",
            "huggingface.concurrency",
            "expected an integer, got a boolean",
        ),
        ("[arxiv]\ntimeout_seconds = 0", "arxiv.timeout_seconds", "must be greater than 0, got 0"),
        ("[arxiv]\nmax_retries = 9", "arxiv.max_retries", "must be between 0 and 8, got 9"),
        ("[arxiv]\nmax_retries = -1", "arxiv.max_retries", "must be between 0 and 8, got -1"),
        ("[arxiv]\nmax_retries = 1.0", "arxiv.max_retries", "expected an integer, got a float"),
        (
            "[arxiv]\ntimeout_seconds = -1.5",
            "arxiv.timeout_seconds",
            "must be greater than 0, got -1.5",
        ),
        (
            "[arxiv]\ntimeout_seconds = inf",
            "arxiv.timeout_seconds",
            "expected a finite number, got inf",
        ),
        (
            "[arxiv]\ndelay_seconds = 1979-05-27",
            "arxiv.delay_seconds",
            "expected a number, got a date",
        ),
        ("[library]\nbib = 3", "library.bib", "expected a string, got an integer"),
        (
            '[zotero]\nlibrary_id = "me"',
            "zotero.library_id",
            "expected a numeric Zotero library ID, got 'me'",
        ),
        (
            '[zotero]\napi_key = "a\\nb"',
            "zotero.api_key",
            "must be a single line without control characters",
        ),
        (
            '[arxiv]\napi_url = "export.arxiv.org"',
            "arxiv.api_url",
            "expected an http:// or https:// URL, got 'export.arxiv.org'",
        ),
        (
            '[zotero]\napi_url = "ftp://x"',
            "zotero.api_url",
            "expected an http:// or https:// URL, got 'ftp://x'",
        ),
        (
            '[library]\nto = "disk"',
            "library.to",
            "expected one of 'bib', 'zotero', 'both', got 'disk'",
        ),
        (
            '[bibtex]\nstyle = "natbib"',
            "bibtex.style",
            "expected one of 'bibtex', 'biblatex', got 'natbib'",
        ),
        (
            '[zotero]\nlibrary_type = "users"',
            "zotero.library_type",
            "expected one of 'user', 'group', got 'users'",
        ),
        (
            '[tagging]\nfields = ["title", "body"]',
            "tagging.fields",
            "'body' is not one of 'title', 'abstract'",
        ),
        (
            '[tagging]\nalways = ["a,b"]',
            "tagging.always",
            "tag 'a,b' contains ,, which cannot appear in a tag",
        ),
    ],
)
def test_bad_values(tmp_path: Path, env: dict[str, str], text: str, key: str, message: str) -> None:
    error = config_error(tmp_path, env, text + "\n")
    assert error.key == key
    assert str(error) == f"{tmp_path / 'conf' / 'config.toml'}: {key}: {message}"


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("[librar]\nbib = 'x'", "librar", "unknown section; did you mean [library]?"),
        ("[tag]\nx = 'y'", "tag", "unknown section; did you mean [tags]?"),
        (
            "[output]\nx = 1",
            "output",
            "unknown section; the sections are [library], [bibtex], [tagging], [arxiv],"
            " [huggingface], [zotero], [doi], [cache], [tags]",
        ),
        (
            "[arxiv]\ndealy_seconds = 3",
            "arxiv.dealy_seconds",
            "unknown key; did you mean 'delay_seconds'?",
        ),
        (
            "[library]\nformat = 'x'",
            "library.format",
            "unknown key; [library] accepts bib, to",
        ),
        ("bib = 'x'", "bib", "options belong in a section; did you mean bib in [library]?"),
        (
            "colour = 'x'",
            "colour",
            "unknown key outside any section; options belong in a section such as [library]",
        ),
        ("library = 'x'", "library", "expected a table, got a string"),
        (
            "api_url = 'x'",
            "api_url",
            "options belong in a section; api_url is an option of [arxiv], [huggingface], [zotero],"
            " [doi]",
        ),
    ],
)
def test_unknown_names(
    tmp_path: Path, env: dict[str, str], text: str, key: str, message: str
) -> None:
    error = config_error(tmp_path, env, text + "\n")
    assert (error.key, str(error)) == (
        key,
        f"{tmp_path / 'conf' / 'config.toml'}: {key}: {message}",
    )


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("[tags]\nx = 3", "tags.x", "expected a string or an array of strings, got an integer"),
        (
            "[tags]\nx = ['a', 2]",
            "tags.x",
            "expected a string or an array of strings, got an array",
        ),
        ("[tags.x]\ny = 'a'", "tags.x", "expected a string or an array of strings, got a table"),
        ("[tags]\nx = []", "tags.x", "needs at least one pattern"),
        (
            "[tags]\nx = ['re*rank']",
            "tags.x",
            "pattern 're*rank': '*' is allowed only at the end of a pattern",
        ),
        (
            "[tags]\n\"a;b\" = ['x']",
            "tags.a;b",
            "tag 'a;b' contains ;, which cannot appear in a tag",
        ),
        (
            "[tags]\nok = 'fine'\nbad = ['x', 're:(unclosed']",
            "tags.bad",
            "pattern 're:(unclosed' is not a valid regex:"
            " missing ), unterminated subpattern at position 0",
        ),
    ],
)
def test_bad_tags(tmp_path: Path, env: dict[str, str], text: str, key: str, message: str) -> None:
    error = config_error(tmp_path, env, text + "\n")
    assert (error.key, str(error)) == (
        key,
        f"{tmp_path / 'conf' / 'config.toml'}: {key}: {message}",
    )


PLACEHOLDERS = "{auth}, {authors}, {year}, {shorttitle}, {title}, {eprint}"


@pytest.mark.parametrize(
    ("citekey", "message"),
    [
        ("{author}{year}", f"unknown placeholder {{author}}; use {PLACEHOLDERS}"),
        ("{}{year}", f"unknown placeholder {{}}; use {PLACEHOLDERS}"),
        ("static", f"needs at least one placeholder: {PLACEHOLDERS}"),
        ("{auth}{year", "unbalanced brace in '{auth}{year'"),
        (
            "{auth} {year}",
            "text besides placeholders may use only ASCII letters, digits and _-:., got"
            " '{auth} {year}'",
        ),
        (
            "{auth},{year}",
            "text besides placeholders may use only ASCII letters, digits and _-:., got"
            " '{auth},{year}'",
        ),
    ],
)
def test_bad_citekey_formula(
    tmp_path: Path, env: dict[str, str], citekey: str, message: str
) -> None:
    error = config_error(tmp_path, env, f"[bibtex]\ncitekey = '{citekey}'\n")
    assert str(error) == f"{tmp_path / 'conf' / 'config.toml'}: bibtex.citekey: {message}"


@pytest.mark.parametrize(
    "citekey",
    [
        "{auth}{year}{shorttitle}",
        "{authors}:{year}",
        "{eprint}",
        "arxiv-{eprint}",
        "{title}.{year}_x",
    ],
)
def test_good_citekey_formulas(tmp_path: Path, env: dict[str, str], citekey: str) -> None:
    assert load_text(tmp_path, env, f"[bibtex]\ncitekey = '{citekey}'\n").bibtex.citekey == citekey


# --- the arXiv delay ---------------------------------------------------------------------


def test_arxiv_delay_below_three_seconds_is_refused_for_arxiv(
    tmp_path: Path, env: dict[str, str]
) -> None:
    error = config_error(tmp_path, env, "[arxiv]\ndelay_seconds = 1\n")
    assert str(error) == (
        f"{tmp_path / 'conf' / 'config.toml'}: arxiv.delay_seconds: must be at least 3 seconds"
        " for the official arXiv API (its terms allow one request every 3 seconds); a shorter"
        " delay is allowed only with arxiv.api_url pointing at a mirror or test server"
    )
    text = '[arxiv]\napi_url = "http://arxiv.org/api/query"\ndelay_seconds = 2.9\n'
    assert config_error(tmp_path, env, text).key == "arxiv.delay_seconds"


def test_arxiv_delay_may_be_short_for_another_server(tmp_path: Path, env: dict[str, str]) -> None:
    text = '[arxiv]\napi_url = "http://127.0.0.1:8080/api/query"\ndelay_seconds = 0.01\n'
    assert load_text(tmp_path, env, text).arxiv.delay_seconds == 0.01
    assert load_text(tmp_path, env, "[arxiv]\ndelay_seconds = 10\n").arxiv.delay_seconds == 10


def test_arxiv_delay_checked_after_all_layers(tmp_path: Path, env: dict[str, str]) -> None:
    path = write_config(tmp_path, '[arxiv]\napi_url = "http://127.0.0.1:1/q"\ndelay_seconds = 1\n')
    assert load_config(env, path=path).arxiv.delay_seconds == 1
    # The environment points back at arXiv: the file's short delay is now refused.
    with pytest.raises(ConfigError) as info:
        load_config({**env, "READLIST_ARXIV_API_URL": ARXIV_API_URL}, path=path)
    assert (info.value.path, info.value.key) == (str(path), "arxiv.delay_seconds")
    # The environment's short delay is blamed on the environment variable.
    with pytest.raises(ConfigError) as info:
        load_config({**env, "READLIST_ARXIV_DELAY": "0.5"})
    assert (info.value.path, info.value.key) == ("environment", "READLIST_ARXIV_DELAY")
    # A flag fixes it.
    flags = {"arxiv.delay_seconds": 5.0}
    config = load_config({**env, "READLIST_ARXIV_API_URL": ARXIV_API_URL}, flags, path=path)
    assert config.arxiv.delay_seconds == 5.0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("fast", "expected a number, got 'fast'"),
        ("0", "must be greater than 0, got 0"),
        ("nan", "expected a finite number, got nan"),
    ],
)
def test_bad_environment_values(env: dict[str, str], value: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config({**env, "READLIST_ARXIV_DELAY": value})
    assert str(info.value) == f"environment: READLIST_ARXIV_DELAY: {message}"
    assert (info.value.path, info.value.key) == ("environment", "READLIST_ARXIV_DELAY")


def test_bad_environment_url_and_id(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_config({**env, "READLIST_HF_API_URL": "localhost:8000"})
    assert str(info.value) == (
        "environment: READLIST_HF_API_URL:"
        " expected an http:// or https:// URL, got 'localhost:8000'"
    )
    with pytest.raises(ConfigError, match="^environment: ZOTERO_LIBRARY_ID: "):
        load_config({**env, "ZOTERO_LIBRARY_ID": "abc"})


def test_bad_overrides(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(env, {"bibtex.styel": "bibtex"})
    assert (
        str(info.value)
        == "command line: bibtex.styel: unknown option; did you mean 'bibtex.style'?"
    )
    with pytest.raises(ConfigError) as info:
        load_config(env, {"bibtex.style": "natbib"})
    assert str(info.value) == (
        "command line: bibtex.style: expected one of 'bibtex', 'biblatex', got 'natbib'"
    )


# --- showing the effective config --------------------------------------------------------


def test_config_to_dict_masks_secrets(tmp_path: Path, env: dict[str, str]) -> None:
    config = load_text(tmp_path, env, FULL)
    shown = config_to_dict(config)
    assert shown["huggingface"]["token"] == SECRET_MASK
    assert shown["zotero"]["api_key"] == SECRET_MASK
    assert config_to_dict(config, hide_secrets=False)["zotero"]["api_key"] == "zot_secret"
    unset = config_to_dict(load_config(env))
    assert unset["zotero"]["api_key"] == ""
    assert unset["huggingface"]["token"] == ""
    assert unset["library"]["bib"] == ""
    assert unset["tags"] == {}
    assert shown["library"]["bib"] == str(tmp_path / "conf" / "refs/main.bib")
    assert shown["cache"]["dir"] == str(Path(env["HOME"]) / "cache")
    assert shown["tags"]["video"] == ["video"]
    assert list(shown) == [
        "library",
        "bibtex",
        "tags",
        "tagging",
        "arxiv",
        "huggingface",
        "zotero",
        "doi",
        "cache",
    ]


def test_config_to_dict_round_trips(tmp_path: Path, env: dict[str, str]) -> None:
    config = load_text(tmp_path, env, FULL)
    text = tomli_w.dumps(config_to_dict(config, hide_secrets=False))
    again = load_config(env, path=write_config(tmp_path, text, "again.toml"))
    assert dataclasses.replace(again, path=config.path) == config


# --- config init ---------------------------------------------------------------------------


def test_initial_config_loads_with_example_tags(tmp_path: Path, env: dict[str, str]) -> None:
    text = render_initial_config()
    assert text.startswith("# readlist configuration")
    config = load_text(tmp_path, env, text)
    assert config.tagging.always == ("to-read",)
    assert [tag for tag, _ in config.tagging.rules] == ["retrieval", "video", "medical"]
    assert config.library.bib is None
    assert config.library.to == "bib"


def test_initial_config_takes_values(tmp_path: Path, env: dict[str, str], monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    values = {
        "library.bib": Path("refs.bib"),
        "cache.dir": "~/c",
        "zotero.library_id": 123,
        "zotero.api_key": "secret",
        "tagging.always": ("inbox",),
        "bibtex.style": None,
    }
    text = render_initial_config(values)
    data = tomllib.loads(text)
    # A relative path from a flag is made absolute: in the file it would mean something else.
    assert data["library"]["bib"] == str(tmp_path / "refs.bib")
    assert data["cache"]["dir"] == "~/c"
    assert data["zotero"] == {"library_id": "123", "api_key": "secret"}
    assert data["tagging"]["always"] == ["inbox"]
    assert data["bibtex"]["style"] == "bibtex"
    config = load_text(tmp_path, env, text)
    assert config.library.bib == tmp_path / "refs.bib"
    assert config.zotero.api_key == "secret"


def test_initial_config_refuses_bad_values() -> None:
    with pytest.raises(ConfigError) as info:
        render_initial_config({"library.to": "disk"})
    assert (
        str(info.value)
        == "command line: library.to: expected one of 'bib', 'zotero', 'both', got 'disk'"
    )
    with pytest.raises(ConfigError, match="unknown option; did you mean 'library.bib'"):
        render_initial_config({"library.bibfile": "x"})
    with pytest.raises(ConfigError, match="arxiv.delay_seconds: must be at least 3"):
        render_initial_config({"arxiv.delay_seconds": 1.0})


def test_write_initial_config(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "a" / "b" / "config.toml"
    assert write_initial_config(path) == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="utf-8") == render_initial_config()
    assert load_config(env, path=path).file_exists
    assert os.listdir(path.parent) == ["config.toml"]  # no temporary file left behind


def test_write_initial_config_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("# mine\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        write_initial_config(path)
    assert str(info.value) == f"{path}: already exists; use --force to overwrite"
    assert path.read_text(encoding="utf-8") == "# mine\n"


def test_write_initial_config_force(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("# mine\n", encoding="utf-8")
    path.chmod(0o644)
    write_initial_config(path, force=True, values={"zotero.api_key": "secret"})
    assert 'api_key = "secret"' in path.read_text(encoding="utf-8")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_write_initial_config_to_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        write_initial_config(tmp_path, force=True)
    assert str(info.value) == f"{tmp_path}: is a directory"


def test_write_initial_config_bad_values_write_nothing(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    with pytest.raises(ConfigError):
        write_initial_config(path, values={"bibtex.style": "natbib"})
    assert not path.exists()


# --- config.example.toml -------------------------------------------------------------------


def test_example_config_loads(env: dict[str, str]) -> None:
    config = load_config(env, path=EXAMPLE)
    assert config.file_exists
    assert config.tagging.always == ("to-read",)


def test_example_config_lists_every_option() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    for section, cls in SECTIONS.items():
        for field in dataclasses.fields(cls):
            if (section, field.name) == ("tagging", "rules"):
                assert data["tags"], "config.example.toml needs [tags] examples"
            else:
                assert field.name in data[section], (
                    f"[{section}] {field.name} is not in the example"
                )
    top_level = (
        {f.name for f in dataclasses.fields(Config)} - set(SECTIONS) - {"path", "file_exists"}
    )
    assert top_level == {"cache_dir"}
    assert "dir" in data["cache"]


def test_example_config_comments_every_option_and_its_default(env: dict[str, str]) -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    defaults = config_to_dict(load_config(env))
    for section, options in defaults.items():
        if section == "tags":
            continue
        for key, value in options.items():
            comment = _comment_before(lines, section, key)
            assert "Default:" in comment, f"[{section}] {key}: the comment gives no default"
            if section == "cache" or (section, key) == ("library", "bib"):
                continue  # defaults that depend on the machine
            shown = json.dumps(value)  # the same as TOML for these values
            assert f"Default: {shown}" in comment, f"[{section}] {key}: default {shown} not stated"


def _comment_before(lines: list[str], section: str, key: str) -> str:
    current = ""
    for number, line in enumerate(lines):
        if line.startswith("["):
            current = line.strip("[]")
        elif current == section and line.startswith(f"{key} = "):
            comment: list[str] = []
            for previous in reversed(lines[:number]):
                if not previous.startswith("#"):
                    break
                comment.insert(0, previous.lstrip("# "))
            return " ".join(comment)
    raise AssertionError(f"[{section}] {key} not found")
