"""Compile .bib text with real pdfLaTeX + bibtex (natbib) or pdfLaTeX + biber (biblatex).

The tests use this to prove that what readlist writes works in the toolchains users have.
When a tool is missing the calling test is skipped, except under CI (env ``CI`` set), where
missing tools are a failure: CI must have them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

TIMEOUT_SECONDS = 180

PREAMBLE = "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n"
_LATEX_FLAGS = ("-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape")
# Without -halt-on-error: to count every error of a document that is expected to have some.
_LATEX_FLAGS_ALL_ERRORS = ("-interaction=nonstopmode", "-no-shell-escape")


@dataclass
class CompileResult:
    """What a compilation produced: return codes, logs, the .bbl, and parsed problems."""

    workdir: Path
    steps: list[tuple[str, int]] = field(default_factory=list)  # (command, return code)
    log: str = ""  # the final pdflatex .log
    blg: str = ""  # bibtex's or biber's .blg
    bbl: str = ""
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every step exited 0 and no error was reported."""
        return not self.errors and all(code == 0 for _, code in self.steps)

    def summary(self) -> str:
        """Describe the result for an assertion message."""
        steps = ", ".join(f"{name}={code}" for name, code in self.steps)
        lines = [f"steps: {steps}", f"workdir: {self.workdir}"]
        lines += [f"error: {line}" for line in self.errors[:40]]
        lines += [f"warning: {line}" for line in self.warnings[:40]]
        return "\n".join(lines)


def require_tools(*names: str) -> None:
    """Skip the calling test when a tool is missing; fail instead when ``CI`` is set."""
    missing = [name for name in names if shutil.which(name) is None]
    if not missing:
        return
    message = f"LaTeX tools not installed: {', '.join(missing)}"
    if os.environ.get("CI"):
        pytest.fail(message + " (required in CI)")
    pytest.skip(message)


def has_package(name: str) -> bool:
    """Tell whether LaTeX package `name` (``name.sty``) is installed."""
    if shutil.which("kpsewhich") is None:
        return False
    found = subprocess.run(
        ["kpsewhich", f"{name}.sty"], capture_output=True, text=True, timeout=30, check=False
    )
    return bool(found.stdout.strip())


def compile_natbib(
    bib_text: str, keys: Sequence[str], workdir: Path, *, texmfvar: Path | None = None
) -> CompileResult:
    """Cite `keys` from `bib_text` with natbib + plainnat; run pdflatex, bibtex, pdflatex x2."""
    return compile_bibtex(bib_text, keys, workdir, texmfvar=texmfvar)


def compile_bibtex(
    bib_text: str,
    keys: Sequence[str],
    workdir: Path,
    *,
    style: str = "plainnat",
    natbib: str | None = "",
    fontenc: str = "T1",
    documentclass: str = "article",
    texmfvar: Path | None = None,
    halt_on_error: bool = True,
) -> CompileResult:
    """Cite `keys` with bibtex style `style`; run pdflatex, bibtex, pdflatex x2.

    `natbib` holds natbib's options (None: no natbib, for styles that bring their own).
    """
    require_tools("pdflatex", "bibtex", "kpsewhich")
    packages = "\\usepackage{url}\n"
    if natbib is not None:
        packages = f"\\usepackage[{natbib}]{{natbib}}\n" + packages
    if has_package("hyperref"):
        packages += "\\usepackage{hyperref}\n"
    preamble = PREAMBLE.replace("article", documentclass).replace("[T1]", f"[{fontenc}]")
    body = _citations(keys) + f"\\bibliographystyle{{{style}}}\n\\bibliography{{refs}}\n"
    _write_sources(workdir, bib_text, preamble + packages, body)
    result = CompileResult(workdir=workdir)
    env = _environment(workdir, texmfvar)
    flags = _LATEX_FLAGS if halt_on_error else _LATEX_FLAGS_ALL_ERRORS
    _run(result, ["pdflatex", *flags, "doc.tex"], env)
    if result.steps[-1][1] == 0:
        _run(result, ["bibtex", "doc"], env)
        for _ in range(2):
            if result.steps[-1][1] not in (0, 1) and halt_on_error:  # bibtex: 1 = warnings
                break
            _run(result, ["pdflatex", *flags, "doc.tex"], env)
    _collect(result, "bibtex")
    return result


def compile_biblatex(
    bib_text: str,
    keys: Sequence[str],
    workdir: Path,
    *,
    style: str | None = None,
    fontenc: str = "T1",
    texmfvar: Path | None = None,
    halt_on_error: bool = True,
) -> CompileResult:
    """Cite `keys` from `bib_text` with biblatex; run pdflatex, biber, pdflatex."""
    require_tools("pdflatex", "biber", "kpsewhich")
    options = "backend=biber" + (f",style={style}" if style else "")
    packages = f"\\usepackage[{options}]{{biblatex}}\n\\addbibresource{{refs.bib}}\n"
    if style == "apa":
        packages = "\\usepackage[american]{babel}\n\\usepackage{csquotes}\n" + packages
    if has_package("hyperref"):
        packages += "\\usepackage{hyperref}\n"
    preamble = PREAMBLE.replace("[T1]", f"[{fontenc}]")
    body = _citations(keys) + "\\printbibliography\n"
    _write_sources(workdir, bib_text, preamble + packages, body)
    result = CompileResult(workdir=workdir)
    env = _environment(workdir, texmfvar)
    flags = _LATEX_FLAGS if halt_on_error else _LATEX_FLAGS_ALL_ERRORS
    _run(result, ["pdflatex", *flags, "doc.tex"], env)
    if result.steps[-1][1] == 0:
        _run(result, ["biber", "doc"], env)
        if result.steps[-1][1] == 0:
            _run(result, ["pdflatex", *flags, "doc.tex"], env)
            if "Please rerun LaTeX" in _read(workdir / "doc.log"):
                _run(result, ["pdflatex", *flags, "doc.tex"], env)
    _collect(result, "biber")
    return result


def _citations(keys: Sequence[str]) -> str:
    """Return a document body citing every key, a few per paragraph."""
    lines = ["\\begin{document}"]
    for start in range(0, len(keys), 8):
        lines.append("See \\cite{" + ",".join(keys[start : start + 8]) + "}.\n")
    if not keys:
        lines.append("No citations.\n")
    return "\n".join(lines) + "\n"


def _write_sources(workdir: Path, bib_text: str, preamble: str, body: str) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "refs.bib").write_text(bib_text, encoding="utf-8")
    (workdir / "doc.tex").write_text(preamble + body + "\\end{document}\n", encoding="utf-8")


def _environment(workdir: Path, texmfvar: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    # Generated bitmap fonts (T1 without cm-super) are cached here; share it across runs.
    env["TEXMFVAR"] = str(texmfvar or workdir / ".texmf-var")
    # Keep TeX from wrapping log lines at 79 columns, which splits error messages.
    env["max_print_line"] = "10000"
    env["error_line"] = "254"
    env["half_error_line"] = "238"
    # Never read or write outside the working directory.
    env["openout_any"] = "p"
    env["openin_any"] = "p"
    return env


def _run(result: CompileResult, command: list[str], env: dict[str, str]) -> None:
    name = command[0]
    if name == "bibtex":
        # bibtex's own line wrapping is what users get; don't let our setting change the .bbl.
        env = {k: v for k, v in env.items() if k != "max_print_line"}
    try:
        done = subprocess.run(
            command,
            cwd=result.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
        code = done.returncode
    except subprocess.TimeoutExpired:
        code = -1
        result.errors.append(f"{name} timed out after {TIMEOUT_SECONDS} s")
    result.steps.append((name, code))


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


_LATEX_WARNING = re.compile(
    r"^(?:LaTeX|Package \w+) Warning: .*(?:[Cc]itation|undefined|[Rr]erun|Label\(s\)|"
    r"[Ee]mpty bibliography|[Bb]iber|BibTeX).*$",
    re.MULTILINE,
)
_MISSING_CHAR = re.compile(r"^Missing character: .*$", re.MULTILINE)


def _collect(result: CompileResult, backend: str) -> None:
    """Fill `errors`, `warnings` and the texts from the files the tools left behind."""
    workdir = result.workdir
    result.log = _read(workdir / "doc.log")
    result.blg = _read(workdir / "doc.blg")
    result.bbl = _read(workdir / "doc.bbl")
    lines = result.log.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("! "):
            context = " | ".join(lines[index + 1 : index + 3])
            result.errors.append(f"LaTeX: {line} | {context}")
    result.warnings += [f"LaTeX: {m.group()}" for m in _LATEX_WARNING.finditer(result.log)]
    # A glyph the font lacks is dropped silently from the PDF: count it.
    result.warnings += [f"LaTeX: {m.group()}" for m in _MISSING_CHAR.finditer(result.log)]
    if backend == "bibtex":
        _collect_bibtex(result)
    else:
        _collect_biber(result)
    for name, code in result.steps:
        if code != 0 and not (name == "bibtex" and code == 1):
            result.errors.append(f"{name} exited with {code}")


def _collect_bibtex(result: CompileResult) -> None:
    lines = result.blg.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("Warning--"):
            result.warnings.append(f"bibtex: {line}")
        elif "---line" in line or line.startswith(("I'm skipping", "Sorry---", "Aborted")):
            before = lines[index - 1] if index else ""
            result.errors.append(f"bibtex: {before} | {line}")
        elif re.match(r"\(There (?:was|were) \d+ error messages?\)", line):
            result.errors.append(f"bibtex: {line}")


def _collect_biber(result: CompileResult) -> None:
    for line in result.blg.splitlines():
        if "] ERROR - " in line:
            result.errors.append(f"biber: {line}")
        elif "] WARN - " in line:
            result.warnings.append(f"biber: {line}")


# A style that writes one `K:<key>` line per entry BibTeX reads, whatever its type (every type
# falls back to `default.type`), so the .bbl lists exactly the entries of the .bib.
_KEYS_BST = """ENTRY {} {} {}
FUNCTION {default.type} { "K:" cite$ * write$ newline$ }
READ
ITERATE {call.type$}
"""
_BIBTEX_ERROR = re.compile(r"---line \d+ of file|^Illegal end of database file", re.MULTILINE)


@dataclass
class BibtexReading:
    """What real bibtex read from a .bib: the keys in file order and its error messages."""

    keys: list[str]
    errors: list[str]
    blg: str


def bibtex_reads(data: bytes, workdir: Path) -> BibtexReading:
    """Run real bibtex over `data` with `\\citation{*}` and a style that lists every key."""
    require_tools("bibtex")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "refs.bib").write_bytes(data)
    (workdir / "keys.bst").write_text(_KEYS_BST)
    (workdir / "doc.aux").write_text("\\citation{*}\n\\bibdata{refs}\n\\bibstyle{keys}\n")
    env = _environment(workdir, None)
    env.pop("max_print_line", None)
    subprocess.run(
        ["bibtex", "-terse", "doc"],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    bbl = (workdir / "doc.bbl").read_bytes().decode("latin-1")
    blg = (workdir / "doc.blg").read_bytes().decode("latin-1")
    lines = blg.splitlines()
    errors = [
        f"{lines[i - 1] if i else ''} {line}".strip()
        for i, line in enumerate(lines)
        if _BIBTEX_ERROR.search(line) and "cross reference" not in lines[i - 1 if i else 0]
    ]
    keys = [line[2:] for line in bbl.split("\n") if line.startswith("K:")]
    return BibtexReading(keys=keys, errors=errors, blg=blg)
