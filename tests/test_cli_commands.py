"""`readlist list`, `check`, `resolve`, `config`, and what every command shares."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from readlist import __version__
from readlist.cli import cli

BIB = """% my library
@misc{zhu2025internvl3,
  title = {{InternVL3}: Exploring Advanced Training},
  author = {Jinguo Zhu and Weiyun Wang},
  year = {2025},
  eprint = {2504.10479},
  archivePrefix = {arXiv},
  keywords = {multimodal, read}
}

@misc{pending,
  title = {Some Pending Paper},
  keywords = {to-read},
  readlist-status = {unresolved}
}
"""


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def bib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "refs.bib"
    path.write_text(BIB)
    return path


def all_commands() -> list[list[str]]:
    found: list[list[str]] = [[]]

    def walk(group: object, prefix: list[str]) -> None:
        for name, command in getattr(group, "commands", {}).items():
            found.append([*prefix, name])
            walk(command, [*prefix, name])

    walk(cli, [])
    return found


@pytest.mark.parametrize("command", all_commands(), ids=lambda c: " ".join(c) or "readlist")
def test_every_command_has_help(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.stdout
    assert run(*command, "-h").exit_code == 0


def test_version() -> None:
    assert run("--version").stdout.strip() == f"readlist, version {__version__}"


def test_list_shows_entries_tags_and_status(bib: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    result = run("list", "--bib", str(bib))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert re.match(r"zhu2025internvl3\s+2025\s+read\s+InternVL3: Exploring", lines[0])
    assert lines[0].endswith("[multimodal, read]")
    assert re.match(r"pending\s+unresolved\s+Some Pending Paper", lines[1])
    assert "2 entries, 1 unresolved" in result.stderr
    monkeypatch.setenv("COLUMNS", "80")
    narrow = run("list", "--bib", str(bib)).stdout.splitlines()
    assert all(len(line) <= 80 for line in narrow)
    assert narrow[0].startswith("zhu2025internvl3") and narrow[0].endswith("…")


def test_list_json_and_filters(bib: Path) -> None:
    rows = json.loads(run("list", "--bib", str(bib), "--json").stdout)
    assert rows[0]["key"] == "zhu2025internvl3"
    assert rows[0]["arxiv_id"] == "2504.10479"
    assert rows[0]["read"] is True and rows[1]["unresolved"] is True
    only = json.loads(run("list", "--bib", str(bib), "--json", "--unresolved").stdout)
    assert [r["key"] for r in only] == ["pending"]
    tagged = json.loads(run("list", "--bib", str(bib), "--json", "-t", "MULTIMODAL").stdout)
    assert [r["key"] for r in tagged] == ["zhu2025internvl3"]


def test_list_shows_unknown_types_and_keeps_fields_past_percent_lines(tmp_path: Path) -> None:
    path = tmp_path / "odd.bib"
    path.write_text(
        "@comment{ notes { with } unbalanced { braces }\n"
        "@commentary{smith2020, title = {A Commentary}, year = 2020}\n"
        "@article{doe2019,\n  title = {Percent Lines},\n  % year = 1999,\n  % a note\n"
        "  year = 2019\n}\n"
    )
    result = run("list", "--bib", str(path), "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["key"], r["year"], r["title"]) for r in rows] == [
        ("smith2020", "2020", "A Commentary"),
        ("doe2019", "2019", "Percent Lines"),
    ]


def test_list_skips_a_block_it_cannot_read_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "odd.bib"
    path.write_text("@misc{a, title={A}}\n\n@misc{broken,\n  title {B}\n}\n\n@misc{c, title={C}}\n")
    result = run("list", "--bib", str(path))
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["a", "c"]
    assert result.stderr.startswith(f"warning: {path}:3: cannot parse `@misc{{broken,`: ")
    assert result.stderr.endswith("; skipped\n2 entries, 0 unresolved\n")


def test_list_missing_bib_and_no_bib(tmp_path: Path) -> None:
    result = run("list", "--bib", str(tmp_path / "none.bib"))
    assert result.exit_code == 1
    assert result.stderr == f"Error: {tmp_path / 'none.bib'}: no such .bib file\n"
    result = run("list")
    assert result.exit_code == 2
    assert "no .bib file given" in result.stderr


def test_bib_from_environment(bib: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("READLIST_BIB", str(bib))
    assert "2 entries" in run("list").stderr


def test_check_reports_missing_keys(bib: Path) -> None:
    tex = bib.parent / "paper.tex"
    tex.write_text(
        "\\documentclass{article}\n\\begin{document}\n"
        "See \\citep[p.~3]{zhu2025internvl3, Pending}.\n% \\cite{commented}\n"
        "\\cite{nothere}\n\\end{document}\n"
    )
    result = run("check", str(tex), "--bib", str(bib))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{tex}:3: Pending (the .bib has 'pending')",
        f"{tex}:5: nothere",
    ]
    assert result.stderr == f"Error: 2 of 3 cited keys missing from {bib}\n"


def test_check_passes_when_all_keys_present(bib: Path) -> None:
    tex = bib.parent / "paper.tex"
    tex.write_text("\\cite{zhu2025internvl3,pending}\\nocite{*}\n")
    result = run("check", str(tex), "--bib", str(bib))
    assert result.exit_code == 0, result.output
    assert "all 2 cited keys are in" in result.stderr


def test_check_missing_tex_is_one_error_line(bib: Path) -> None:
    result = run("check", "nope.tex", "--bib", str(bib))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: nope.tex")
    assert len(result.stderr.splitlines()) == 1


def test_resolve_offline_counts_pending_and_changes_nothing(bib: Path) -> None:
    result = run("resolve", "--bib", str(bib), "--offline")
    assert result.exit_code == 0, result.output
    assert "0 resolved, 1 still unresolved" in result.stderr
    assert bib.read_text() == BIB


def test_resolve_without_a_resolver_exits_1(bib: Path) -> None:
    result = run("resolve", "--bib", str(bib))
    assert result.exit_code == 1
    assert "still unresolved (1):\n  pending: " in result.stderr
    assert bib.read_text() == BIB


def test_config_path_init_show(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = isolated_env / "config.toml"
    path.unlink()  # READLIST_CONFIG names a file that does not exist yet
    assert run("config", "path").stdout.strip() == str(path)
    listed = run("list", "--bib", "x.bib")
    assert listed.exit_code == 2
    assert listed.stderr == (f"Error: {path}: no such file (`readlist config init` creates one)\n")
    show = run("config", "show")
    assert show.exit_code == 0 and "(not created yet)" in show.stdout
    result = run("config", "init")
    assert result.exit_code == 0, result.output
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    again = run("config", "init")
    assert again.exit_code == 2 and "already exists" in again.stderr
    monkeypatch.setenv("ZOTERO_API_KEY", "sekrit-key-123")
    shown = run("config", "show")
    assert "sekrit" not in shown.stdout and "********" in shown.stdout
    data = json.loads(run("config", "show", "--json").stdout)
    assert data["zotero"]["api_key"] == "********"


def test_config_flag_must_name_an_existing_file(tmp_path: Path) -> None:
    result = run("--config", str(tmp_path / "nope.toml"), "config", "show")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {tmp_path / 'nope.toml'}: no such file (`readlist config init` creates one)\n"
    )


def test_bad_config_value_names_file_and_key(isolated_env: Path, bib: Path) -> None:
    (isolated_env / "config.toml").write_text('[arxiv]\ndelay_seconds = "fast"\n')
    result = run("list", "--bib", str(bib))
    assert result.exit_code == 2  # a configuration error is a usage error
    assert result.stderr.startswith(f"Error: {isolated_env / 'config.toml'}: arxiv.delay_seconds")


def test_unexpected_errors_have_no_traceback(bib: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr("readlist.library.load_entries", boom)
    result = CliRunner().invoke(cli, ["list", "--bib", str(bib)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "unexpected RuntimeError: kaboom" in result.stderr
    monkeypatch.setenv("READLIST_DEBUG", "1")
    result = CliRunner().invoke(cli, ["list", "--bib", str(bib)])
    assert isinstance(result.exception, RuntimeError)


def test_readme_commands_are_the_ones_ci_runs() -> None:
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    blocks = re.findall(r"```(?:sh|bash|console)\n(.*?)```", readme, re.S)
    setup = [line for line in blocks[0].splitlines() if line.strip()]
    assert len(setup) == 2, "the README's set-up block has exactly two commands"
    run_example, test_command = setup
    assert test_command in (root / ".ci" / "run").read_text()
    assert "readlist add examples/" in run_example
    example = re.search(r"readlist (add .*)$", run_example)
    assert example is not None
    assert (root / example.group(1).split()[1]).is_file()


def test_readme_example_command_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    example = re.search(r"readlist (add examples/\S+ [^`\n]*)", readme)
    assert example is not None
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(root / "examples")
    result = run(*example.group(1).split())
    assert result.exit_code == 0, result.output
    assert os.path.getsize(tmp_path / "refs.bib") > 0


def test_retag_adds_matching_tags_in_place(bib: Path, isolated_env: Path) -> None:
    (isolated_env / "config.toml").write_text(
        '[tags]\nmllm = ["InternVL*"]\npending = ["pending"]\nnever = ["zebra"]\n'
        '[tagging]\nalways = ["to-read"]\n'
    )
    dry = run("retag", "--bib", str(bib), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines() == ["zhu2025internvl3: + mllm", "pending: + pending"]
    assert bib.read_text() == BIB
    result = run("retag", "--bib", str(bib))
    assert "2 of 2 entries gained tags" in result.stderr
    text = bib.read_text()
    assert "keywords = {multimodal, read, mllm}" in text  # `always` is not re-applied
    assert "keywords = {to-read, pending}" in text
    assert text.replace(", mllm}", "}").replace(", pending}", "}") == BIB
    assert "0 of 2 entries gained tags" in run("retag", "--bib", str(bib)).stderr


def test_mark_keeps_every_other_byte_and_refuses_unknown_keys(bib: Path) -> None:
    before = bib.read_text()
    unknown = run("mark", "read", "nosuchkey", "--bib", str(bib))
    assert unknown.exit_code == 1 and "nosuchkey" in unknown.stderr
    assert bib.read_text() == before
    assert run("mark", "read", "--bib", str(bib)).exit_code == 2
    done = run("mark", "read", "--match", "pending paper", "--bib", str(bib))
    assert done.exit_code == 0, done.stderr
    assert done.stdout.split() == ["pending"]
    after = bib.read_text()
    # only the one entry's keywords changed
    assert after == before.replace("keywords = {to-read},", "keywords = {read},")
    again = run("mark", "read", "pending", "--bib", str(bib))
    assert "0 entries marked read, 1 already read" in again.stderr
    assert bib.read_text() == after
    unread = run("mark", "unread", "pending", "--bib", str(bib))
    assert "1 entry marked unread" in unread.stderr
    rows = json.loads(run("list", "--bib", str(bib), "--json", "--to-read").stdout)
    assert [r["key"] for r in rows] == ["pending"]


def complete(words: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What bash completion offers for the last word of `words`."""
    env = {
        "_READLIST_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - 1),
    }
    result = CliRunner().invoke(cli, [], prog_name="readlist", env=env)
    return [line.split(",", 1)[1] for line in result.stdout.splitlines() if line]


def test_shell_completion_of_commands_keys_and_hf_forms(
    bib: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "mark" in complete("readlist ma", monkeypatch)
    assert complete(f"readlist mark read --bib {bib} zhu", monkeypatch) == ["zhu2025internvl3"]
    assert complete(f"readlist mark read --bib {bib} P", monkeypatch) == ["pending"]
    forms = complete("readlist add hf:", monkeypatch)
    assert forms[0] == "hf:daily" and any(f.startswith("hf:week/") for f in forms)
    assert "--min-upvotes" in complete("readlist show --min", monkeypatch)
    # a broken .bib never breaks the shell
    bib.write_text("@misc{oops,\n")
    assert complete(f"readlist mark read --bib {bib} o", monkeypatch) == []


def test_add_preprint_form_journal_writes_google_scholars_form(tmp_path: Path) -> None:
    target = tmp_path / "refs.bib"
    result = CliRunner().invoke(
        cli,
        ["add", "2406.12345", "--offline", "--preprint-form", "journal", "--bib", str(target)],
    )
    assert result.exit_code == 0, result.output
    text = target.read_text(encoding="utf-8")
    assert text.startswith("@article{")
    assert "journal = {arXiv preprint arXiv:2406.12345}" in text
    assert "eprint = {2406.12345}" in text  # still linked by natbib and biblatex styles


def test_preprint_form_from_config_and_bad_values(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[bibtex]\npreprint_form = "journal"\n', encoding="utf-8")
    target = tmp_path / "refs.bib"
    result = run("--config", str(config), "add", "2406.12345", "--offline", "--bib", str(target))
    assert result.exit_code == 0, result.output
    assert "journal = {arXiv preprint arXiv:2406.12345}" in target.read_text(encoding="utf-8")
    config.write_text('[bibtex]\npreprint_form = "scholar"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "list", "--bib", str(target)])
    assert result.exit_code != 0
    assert result.stderr == (
        f"Error: {config}: bibtex.preprint_form: expected one of 'eprint', 'journal', "
        "got 'scholar'\n"
    )


MISC = "@misc{vaswani2017,\n  title = {Attention},\n  eprint = {1706.03762},\n}\n"
ARTICLE = (
    "@article{devlin2018,\n  title = {BERT},\n"
    "  journal = {arXiv preprint arXiv:1810.04805},\n  eprint = {1810.04805},\n}\n"
)


def _paper(tmp_path: Path, preamble: str, back: str, cites: str = "vaswani2017,devlin2018") -> Path:
    tex = tmp_path / "paper.tex"
    tex.write_text(
        f"\\documentclass{{article}}\n{preamble}\\begin{{document}}\n\\cite{{{cites}}}\n"
        f"{back}\\end{{document}}\n",
        encoding="utf-8",
    )
    (tmp_path / "refs.bib").write_text(MISC + "\n" + ARTICLE, encoding="utf-8")
    return tex


def test_check_warns_when_the_style_hides_arxiv_ids(tmp_path: Path) -> None:
    tex = _paper(tmp_path, "", "\\bibliographystyle{plain}\n\\bibliography{refs}\n")
    result = run("check", str(tex))  # no --bib: the document's \bibliography{refs}
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    warning, summary = result.stderr.splitlines()
    assert warning.startswith("Warning: bibliography style plain prints no arXiv ID or URL")
    assert "1 cited arXiv entry" in warning and "vaswani2017" in warning
    assert "devlin2018" not in warning  # Google Scholar's form shows in plain
    assert 'preprint_form = "journal"' in warning and "--preprint-form journal" in warning
    assert summary == f"all 2 cited keys are in {tmp_path / 'refs.bib'}"


@pytest.mark.parametrize(
    ("preamble", "back"),
    [
        ("", "\\bibliographystyle{plain}\n\\bibliography{refs}\n"),
        ("", "\\bibliographystyle{local}\n\\bibliography{refs}\n"),
    ],
)
def test_check_style_warning_keeps_exit_codes(tmp_path: Path, preamble: str, back: str) -> None:
    (tmp_path / "local.bst").write_text("ENTRY { author title year } {} {}\n% url eprint\n")
    tex = _paper(tmp_path, preamble, back, cites="vaswani2017,missing")
    result = run("check", str(tex))
    assert result.exit_code == 1
    assert result.stdout == f"{tex}:3: missing\n"
    assert "Warning: bibliography style" in result.stderr  # comments in a .bst don't count
    assert result.stderr.endswith(
        f"Error: 1 of 2 cited keys missing from {tmp_path / 'refs.bib'}\n"
    )


@pytest.mark.parametrize(
    ("preamble", "back"),
    [
        ("", "\\bibliographystyle{mine}\n\\bibliography{refs}\n"),  # a .bst with url handling
        ("\\usepackage[style=authoryear]{biblatex}\n\\addbibresource{refs.bib}\n", ""),
        ("", "\\bibliography{refs}\n"),  # no style named
        ("", "\\bibliographystyle{plainnat}\n\\bibliography{refs}\n"),  # read via kpsewhich
    ],
)
def test_check_stays_quiet_for_styles_that_print_ids(
    tmp_path: Path, preamble: str, back: str
) -> None:
    (tmp_path / "mine.bst").write_text("ENTRY { author title url year } {} {}\n")
    tex = _paper(tmp_path, preamble, back)
    result = run("check", str(tex))
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.stderr


def test_check_follows_every_bib_the_document_names(tmp_path: Path) -> None:
    tex = _paper(tmp_path, "", "\\bibliography{refs,more}\n", cites="vaswani2017,extra")
    result = run("check", str(tex))
    assert result.exit_code == 1
    assert result.stderr == f"Error: {tmp_path / 'more.bib'}: no such .bib file (named by {tex})\n"
    (tmp_path / "more.bib").write_text("@misc{extra, title = {X}}\n", encoding="utf-8")
    result = run("check", str(tex))
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"all 2 cited keys are in {tmp_path / 'refs.bib'}, {tmp_path / 'more.bib'}\n"
    )


def test_to_read_is_everything_not_marked_read(tmp_path: Path) -> None:
    bib = tmp_path / "refs.bib"
    bib.write_text(
        "@misc{plain, title = {No Tags}}\n@misc{done, title = {Done}, keywords = {read}}\n"
        "@misc{queued, title = {Queued}, keywords = {to-read}}\n"
    )
    to_read = json.loads(run("list", "--to-read", "--bib", str(bib), "--json").stdout)
    assert [r["key"] for r in to_read] == ["plain", "queued"]
    assert run("list", "--to-read", "--read", "--bib", str(bib)).exit_code == 2
    run("mark", "read", "plain", "--bib", str(bib))
    to_read = json.loads(run("list", "--to-read", "--bib", str(bib), "--json").stdout)
    assert [r["key"] for r in to_read] == ["queued"]
