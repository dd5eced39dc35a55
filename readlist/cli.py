"""The command line. The only module that imports Click.

Each command parses its options, gets the config from the context, calls one core
function, renders the result (data on stdout, messages on stderr) and exits. Errors from
the core are `ReadlistError`s, turned into one `Error: ...` line in `ReadlistGroup.invoke`.
Core modules are imported inside the commands so that `readlist --help` starts fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from readlist import __version__
from readlist.errors import ConfigError, InputError, ReadlistError, UnsafeTextError, UsageError
from readlist.models import dated

if TYPE_CHECKING:
    from readlist.config import Config
    from readlist.libindex import Row
    from readlist.library import AddOutcome
    from readlist.models import Listing, Paper, Venue
    from readlist.resolve import Resolution, Resolver
    from readlist.zotero import ZoteroLibrary

OFFLINE = "added offline"


class ReadlistGroup(click.Group):
    """A group that reports errors as one line, with tracebacks only when debugging."""

    def invoke(self, ctx: click.Context) -> Any:
        from readlist.signals import Interrupted, raising_handlers

        try:
            with raising_handlers():
                return super().invoke(ctx)
        except (Interrupted, click.Abort) as exc:
            # click.prompt turns Ctrl-C into Abort; the signal is still its context.
            stop = exc if isinstance(exc, Interrupted) else exc.__context__
            if not isinstance(stop, Interrupted):
                raise
            state = ctx.obj if isinstance(ctx.obj, AppState) else AppState()
            _err(state.interrupted_line(stop.signum))
            raise click.exceptions.Exit(128 + stop.signum) from None
        except (UsageError, ConfigError) as exc:
            # Configuration and usage problems exit 2, and are found before any request.
            if _debugging():
                raise
            raise click.UsageError(str(exc)) from exc
        except ReadlistError as exc:
            if _debugging():
                raise
            raise click.ClickException(str(exc)) from exc
        except (click.ClickException, click.exceptions.Exit):
            raise
        except BrokenPipeError:
            # `readlist list | head`: the reader left; nothing is wrong.
            sys.stderr.close()
            raise click.exceptions.Exit(0) from None
        except KeyboardInterrupt:
            raise click.Abort() from None
        except Exception as exc:
            if _debugging():
                raise
            raise click.ClickException(
                f"unexpected {type(exc).__name__}: {exc} (set READLIST_DEBUG=1 for a traceback)"
            ) from exc


def _debugging() -> bool:
    return os.environ.get("READLIST_DEBUG", "") not in ("", "0")


class _BibUsageError(click.ClickException):
    """A .bib option that cannot be right (a directory): one `Error:` line, exit 2."""

    exit_code = 2


def _fingerprint(path: Path) -> tuple[int, int, int, int] | None:
    """What changes when a file is written (replaced or changed in place); links followed."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


@dataclass
class AppState:
    """What the group passes to its commands: where the config comes from, and what a stop
    signal must report (the .bib this command writes, the resolver that fills the cache)."""

    config_path: Path | None = None
    _cache: dict[tuple[Any, ...], Config] = field(default_factory=dict)
    bib: Path | None = None
    bib_before: tuple[int, int, int, int] | None = None
    resolver: Any = None  # a NetworkResolver, for its count of answers saved
    more_after_bib: bool = False  # the command has more to do once the .bib is written

    def watch_bib(self, path: Path, *, more_after: bool = False) -> None:
        """Note the .bib this command writes, as it is now."""
        self.bib, self.bib_before = path, _fingerprint(path)
        self.more_after_bib = more_after

    def interrupted_line(self, signum: int) -> str:
        """The one line a stop signal leaves: what was kept, and how to go on."""
        import signal

        name = "" if signum == signal.SIGINT else f" ({signal.Signals(signum).name})"
        parts = []
        finished = False
        if self.bib is not None:
            if _fingerprint(self.bib) == self.bib_before:
                parts.append(f"{self.bib} unchanged")
            else:
                parts.append(f"{self.bib} was written in full before stopping")
                finished = not self.more_after_bib
        if self.resolver is not None:
            saved = self.resolver.saved
            parts.append(
                f"{plural(saved, 'fetched result')} kept in the cache"
                if saved
                else "nothing fetched yet"
            )
        if not parts:
            return f"Interrupted{name}."
        line = f"Interrupted{name}: " + "; ".join(parts)
        if not finished:
            line += " — run the same command again to continue"
        return line + "."

    def config(self, **overrides: Any) -> Config:
        """Load the config once per set of flag overrides (defaults < file < env < flags)."""
        return self.load(overrides)

    def load(self, overrides: dict[str, Any], *, must_exist: bool = True) -> Config:
        """Load the config; `must_exist=False` lets READLIST_CONFIG name a file not made yet."""
        from readlist.config import load_config

        key = (must_exist, *sorted(overrides.items()))
        if key not in self._cache:
            self._cache[key] = load_config(
                os.environ, overrides, path=self.config_path, must_exist=must_exist
            )
        return self._cache[key]


def _err(message: str) -> None:
    click.echo(message, err=True)


# A failure summary shows at most this many papers; -v or --json shows every one.
MAX_FAILURE_LINES = 20


def _width() -> int:
    """The terminal's width (COLUMNS when set, 80 when not a terminal)."""
    import shutil

    return max(20, shutil.get_terminal_size((80, 24)).columns)


def _fit(text: str, width: int) -> str:
    """Cut `text` to `width` characters, marking the cut with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _mark(sign: str, color: str, text: str, *, err: bool = True) -> None:
    """Echo `sign text` cut to the terminal width, the sign coloured on a terminal."""
    body = _fit(text, _width() - len(sign) - 1)
    click.echo(f"{click.style(sign, fg=color, bold=True)} {body}", err=err)


def _failures(title: str, rows: Sequence[tuple[str, Sequence[str]]], *, verbose: bool) -> None:
    """Report failed papers: one line each, at most MAX_FAILURE_LINES unless verbose.

    `rows` holds a one-line description per paper and the extra lines -v shows below it
    (full reasons, candidates).
    """
    if not rows:
        return
    _err(click.style(f"{title} ({len(rows)}):", fg="yellow", bold=True))
    shown = rows if verbose else rows[:MAX_FAILURE_LINES]
    for line, details in shown:
        if verbose:
            _err(f"  {line}")
            for detail in details:
                _err(f"      {detail}")
        else:
            _err("  " + _fit(line, _width() - 2))
    if len(rows) > len(shown):
        rest = len(rows) - len(shown)
        _err(f"  … and {rest} more (-v or --json shows every one, with the full reasons)")


@click.group(cls=ReadlistGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="readlist")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file to use (default: $READLIST_CONFIG or ~/.config/readlist/config.toml).",
)
@click.option(
    "--no-color", is_flag=True, help="No colour (also when NO_COLOR is set or not a terminal)."
)
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, no_color: bool) -> None:
    """Turn Hugging Face Papers listings and arXiv IDs into BibTeX you can cite.

    Data (added keys, BibTeX, --json) goes to stdout; progress and messages to stderr.
    """
    ctx.obj = AppState(config_path=config_path)
    if no_color or os.environ.get("NO_COLOR"):
        ctx.color = False


def _complete_sources(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Complete listing files, and the `hf:` page forms with this day, week and month."""
    import datetime as dt

    from click.shell_completion import CompletionItem

    today = dt.date.today()
    year, week, _ = today.isocalendar()
    forms = [
        ("hf:daily", "the latest day of Hugging Face papers"),
        (f"hf:daily/{today.isoformat()}", "a day"),
        (f"hf:week/{year}-W{week:02d}", "an ISO week"),
        (f"hf:month/{today:%Y-%m}", "a month"),
        ("hf:collection/", "a collection: OWNER/SLUG"),
    ]
    items = [CompletionItem(v, help=h) for v, h in forms if v.startswith(incomplete)]
    if not incomplete.startswith("hf:"):
        items.append(CompletionItem(incomplete, type="file"))
    return items


def _complete_keys(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Complete citation keys from the .bib the command would use; nothing when unsure."""
    from click.shell_completion import CompletionItem

    try:
        state = ctx.find_object(AppState) or AppState()
        config = state.config(**{"library.bib": ctx.params.get("bib")})
        path = config.library.bib
        if path is None or not path.is_file():
            return []
        from readlist.bibfile import read_bib

        folded = incomplete.casefold()
        return [
            CompletionItem(row.key)
            for row in read_bib(path, config.cache_dir).rows
            if row.key.casefold().startswith(folded)
        ]
    except Exception:  # completion must never print a traceback into the shell
        return []


verbose_option = click.option(
    "-v", "--verbose", is_flag=True, help="Say everything: each paper, full reasons, candidates."
)

bib_option = click.option(
    "--bib",
    # Directories are refused by `_bib_path` with one line (Click's own refusal takes three).
    type=click.Path(path_type=Path),
    help="The .bib file (default: $READLIST_BIB or [library] bib in the config).",
)

preprint_form_option = click.option(
    "--preprint-form",
    type=click.Choice(["eprint", "journal"]),
    help="How arXiv preprints are written: eprint (arXiv's @misc) or journal (Google "
    "Scholar's @article, printed by plain/unsrt/alpha/abbrv/apalike); default from "
    "[bibtex] preprint_form.",
)


def _bib_path(config: Config, *, required: bool = True) -> Path | None:
    path = config.library.bib
    if path is None and required:
        raise click.UsageError(
            f"no .bib file given: use --bib FILE, set READLIST_BIB, or set [library] bib "
            f"in {config.path}"
        )
    if path is not None and path.is_dir():
        raise _BibUsageError(
            f"{path}: is a directory, not a .bib file (name the file, e.g. {path / 'refs.bib'})"
        )
    return path


def _writable_bib(state: AppState, path: Path, *, dry_run: bool, more_after: bool = False) -> None:
    """Refuse a .bib that cannot be written before any request is made, and watch it."""
    from readlist.bibfile import check_writable

    if not dry_run:
        check_writable(path)
        state.watch_bib(path, more_after=more_after)


def _existing_bib(config: Config) -> Path:
    """The configured .bib, which must exist (for commands that only read or edit it)."""
    path = _bib_path(config)
    assert path is not None
    if not path.exists():
        from readlist.bibfile import write_target

        write_target(path)  # a dangling link says so
        raise InputError(str(path), "no such .bib file")
    return path


def _is_file(source: str) -> bool:
    try:
        return Path(source).exists()
    except (OSError, ValueError):
        return False


def _read_listings(
    sources: Sequence[str],
    config: Config,
    *,
    offline: bool = False,
    min_upvotes: int | None = None,
    requests: list[str] | None = None,
) -> list[Listing]:
    """Read every source, refuse one that holds no paper, and drop repeated papers.

    Hugging Face pages (`hf:daily`, page and collection URLs) are fetched from the Hub API;
    every page spec is checked before the first request.
    """
    from readlist.listing import dedupe, read_source
    from readlist.resolve.hfpages import fetch_page, open_hf_client, parse_page

    pages = {s: parse_page(s) for s in sources if s != "-" and not _is_file(s)}
    if offline and any(pages.values()):
        first = next(page for page in pages.values() if page)
        raise click.UsageError(f"{first.label} is read from Hugging Face: drop --offline")
    fetched = {}
    if any(pages.values()):
        on_request = requests.append if requests is not None else None
        with open_hf_client(config, on_request=on_request) as hf:
            for source, page in pages.items():
                if page is not None and source not in fetched:
                    result = fetch_page(hf, page)
                    if not result.listings:
                        raise InputError(page.label, _empty_page(page, result.skipped))
                    fetched[source] = result.listings
    listings: list[Listing] = []
    stdin_read = False
    for source in sources:
        if source in fetched:
            listings.extend(fetched.pop(source))
            continue
        if source == "-":
            if stdin_read:
                continue
            stdin_read = True
        if pages.get(source) is not None:
            continue  # the same page named twice
        found = read_source(source, lambda: sys.stdin.buffer)
        if not found and (source == "-" or _is_file(source)):
            raise InputError(
                "<stdin>" if source == "-" else source,
                "no papers found (expected a Hugging Face Papers listing, titles, "
                "or arXiv IDs/URLs)",
            )
        listings.extend(found)
    if not listings:
        raise InputError(", ".join(sources), "no papers found")
    if min_upvotes is not None:
        if all(item.upvotes is None for item in listings):
            raise click.UsageError(
                "--min-upvotes needs a Hugging Face page (hf:daily, hf:week/…, a collection): "
                "listings copied as text carry no upvotes"
            )
        listings = [x for x in listings if x.upvotes is None or x.upvotes >= min_upvotes]
        if not listings:
            raise InputError(", ".join(sources), f"no paper has {min_upvotes} upvotes or more")
    return dedupe(listings)


def _empty_page(page: Any, skipped: int) -> str:
    if page.kind == "collection":
        others = plural(skipped, "model, dataset or Space", "models, datasets or Spaces")
        return "the collection holds no papers" + (f" (only {others})" if skipped else "")
    what = {"daily": "day", "week": "week", "month": "month"}[page.kind]
    return f"Hugging Face lists no papers for this {what}"


def plural(count: int, one: str, many: str | None = None) -> str:
    """`1 paper`, `2 papers`: the count with the right form of the noun."""
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _only_identifiers(sources: Sequence[str]) -> bool:
    """Whether every source is an identifier or URL, so there is nothing to pick from."""
    from readlist.ids import parse_arxiv_id

    return all(s != "-" and not Path(s).exists() and parse_arxiv_id(s) for s in sources)


def _stdin_is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def _render_listing(
    listings: Sequence[Listing], known: dict[int, str], *, err: bool = False
) -> None:
    width = len(str(len(listings)))
    columns = _width()
    for n, item in enumerate(listings, 1):
        mark = "[x]" if n - 1 in known else "[ ]"
        head = f"{n:>{width}}. {mark} "
        tail = ""
        if item.upvotes is not None:
            tail += f"  ({plural(item.upvotes, 'upvote')})"
        if n - 1 in known:
            tail += f"  (in .bib as {known[n - 1]})"
        # Titles are cut to the terminal (… marks it) so that each paper keeps one line.
        title = _fit(item.label, max(columns - len(head) - len(tail), 20))
        click.echo(head + title + tail, err=err)


def _echo_entries(outcome: AddOutcome) -> None:
    """Print the entries `add` would append (`outcome.text`), one at a time."""
    for number, text in enumerate(outcome.entry_texts):
        click.echo((outcome.eol if number else "") + text + outcome.eol, nl=False)


def _known_in_bib(
    listings: Sequence[Listing], bib: Path | None, cache_dir: Path | None
) -> dict[int, str]:
    """Map listing positions to the key of the .bib entry that already holds them."""
    if bib is None:
        return {}
    from readlist.bibfile import read_bib

    index = read_bib(bib, cache_dir).index
    known = {}
    for i, item in enumerate(listings):
        hit = index.find(arxiv_id=item.arxiv_id, title=item.title)
        if hit:
            known[i] = hit[0].key
    return known


def _pick_interactively(listings: Sequence[Listing], known: dict[int, str]) -> list[Listing]:
    from readlist.errors import SelectionError
    from readlist.select import select

    _render_listing(listings, known, err=True)
    while True:
        answer = click.prompt(
            "Papers to add (e.g. 1,4-6 or all; empty to cancel)",
            default="",
            show_default=False,
            err=True,
        )
        if not answer.strip():
            return []
        try:
            return select(listings, pick=[answer])
        except SelectionError as exc:
            _err(f"Error: {str(exc).removeprefix('--pick: ')}")


def _tagger(
    config: Config, *, always: Sequence[str] = (), extra: Sequence[str] = ()
) -> Callable[[str, str | None], tuple[str, ...]]:
    """Return a function from (title, abstract) to tags, from the config's keyword rules."""
    from readlist.tags import assign_tags, compile_rules

    rules = compile_rules(config.tagging.rules)

    def tag(title: str, abstract: str | None) -> tuple[str, ...]:
        texts = {"title": title, "abstract": abstract}
        fields = config.tagging.fields
        return assign_tags(texts, rules, fields=fields, always=always, extra=extra)

    return tag


def _tagged(papers: Sequence[Paper], config: Config, extra: Sequence[str]) -> list[Paper]:
    tag = _tagger(config, always=config.tagging.always, extra=extra)
    return [replace(p, tags=tag(p.title, p.abstract)) for p in papers]


def _add_json(outcome: AddOutcome, reasons: dict[int, Resolution]) -> dict[str, Any]:
    def paper_json(paper: Paper) -> dict[str, Any]:
        return {
            "title": paper.title,
            "arxiv_id": paper.arxiv_id.id if paper.arxiv_id else None,
            "tags": list(paper.tags),
        }

    return {
        "bib": str(outcome.path),
        "written": outcome.written,
        "added": [
            {
                "key": a.key,
                **paper_json(a.paper),
                "resolved": a.paper.resolved,
                "reason": _reason(a.paper, reasons),
                "candidates": list(_candidates(a.paper, reasons)),
            }
            for a in outcome.added
        ],
        "present": [
            {
                "key": p.key,
                **paper_json(p.paper),
                "reason": p.reason,
                "line": p.line,
                "tags_added": list(p.new_tags),
                "completed": p.completed,
            }
            for p in outcome.present
        ],
        "skipped": [
            {
                **paper_json(s.paper),
                "source": s.paper.listing.source if s.paper.listing else None,
                "line": s.paper.listing.line if s.paper.listing else None,
                "reason": s.reason,
            }
            for s in outcome.skipped
        ],
        "bibtex": outcome.text,
    }


def _skip_warning(paper: Paper, reason: str) -> str:
    """Name a paper left out: its title cut to 80 characters and where the listing had it."""
    title = " ".join(paper.title.split())
    if len(title) > 80:
        title = title[:79] + "…"
    from readlist.listing import ARGUMENT_SOURCE

    where = ""
    if paper.listing is not None and paper.listing.source != ARGUMENT_SOURCE:
        line = paper.listing.line
        where = f" ({paper.listing.source}{f':{line}' if line else ''})"
    return f"skipped: {title}{where}: {reason}"


def _reason(paper: Paper, resolutions: dict[int, Resolution]) -> str | None:
    if paper.resolved:
        return None
    found = resolutions.get(id(paper.listing))
    return (found.reason if found else None) or OFFLINE


def _candidates(paper: Paper, resolutions: dict[int, Resolution]) -> tuple[str, ...]:
    found = resolutions.get(id(paper.listing))
    return found.candidates if found and not paper.resolved else ()


def _report_add(
    outcome: AddOutcome,
    *,
    offline: bool,
    dry_run: bool,
    reasons: dict[int, Resolution],
    requests: int = 0,
    verbose: bool = False,
    as_json: bool = False,
) -> int:
    """Print what `add` did: added keys on stdout, the rest on stderr; return the exit code."""
    if not as_json and not dry_run:
        tty = sys.stdout.isatty()
        for added in outcome.added:
            if tty:
                _mark("+", "green", f"{added.key}  {added.paper.title}", err=False)
            else:
                click.echo(added.key)
    completed = [p for p in outcome.present if p.completed]
    if verbose:
        for present in outcome.present:
            if present.completed:
                arxiv_id = present.paper.arxiv_id
                _err(f"~ {present.key}  {present.paper.title}  (completed: arXiv:{arxiv_id})")
                continue
            merged = f"; tags added: {', '.join(present.new_tags)}" if present.new_tags else ""
            _err(
                f"= {present.key}  {present.paper.title}  "
                f"(already in {outcome.path.name}:{present.line}, {present.reason}{merged})"
            )
    shown = outcome.skipped if verbose else outcome.skipped[:MAX_FAILURE_LINES]
    for skipped in shown:
        _err(_skip_warning(skipped.paper, skipped.reason))
    if len(outcome.skipped) > len(shown):
        _err(f"… and {len(outcome.skipped) - len(shown)} more skipped (-v or --json shows all)")
    unresolved = outcome.unresolved
    if unresolved and not offline:
        _failures(
            "unresolved",
            [
                (
                    f"{a.key}  {a.paper.title}: {_reason(a.paper, reasons)}",
                    [f"candidate: {c}" for c in _candidates(a.paper, reasons)],
                )
                for a in unresolved
            ],
            verbose=verbose,
        )
    parts = [
        f"{len(outcome.added)} added",
        f"{len(outcome.present) - len(completed)} already present",
    ]
    if completed:
        parts.append(f"{len(completed)} completed in place")
    retagged = sum(1 for p in outcome.present if p.new_tags)
    if retagged:
        parts.append(f"tags merged into {retagged}")
    if unresolved:
        parts.append(f"{len(unresolved)} unresolved")
    if outcome.skipped:
        parts.append(f"{len(outcome.skipped)} skipped")
    summary = ", ".join(parts)
    if requests:
        summary += f" ({plural(requests, 'request')})"
    if dry_run:
        summary += " (dry run: nothing written)"
    elif not outcome.added and not completed and not any(p.new_tags for p in outcome.present):
        summary += f"; nothing to add to {outcome.path}"
    else:
        summary += f" in {outcome.path}"
    _err(summary)
    # A skipped paper was not written, whether or not the run was offline.
    code = 1 if outcome.skipped else 0
    if not unresolved:
        return code
    if offline:
        _err(
            f"{len(unresolved)} entr{'y awaits' if len(unresolved) == 1 else 'ies await'} "
            "resolution: run `readlist resolve` when online."
        )
        return code
    _err("They were written from the listing alone; `readlist resolve` retries them.")
    return 1


def _collection(config: Config) -> str:
    """The Zotero collection to use, once the Zotero settings are known to be complete."""
    from readlist.zotero import check_settings

    if not config.zotero.collection.strip():
        raise click.UsageError(
            "no Zotero collection: use --collection NAME or set [zotero] collection "
            f"in {config.path}"
        )
    check_settings(config.zotero)  # before any request: exit 2 naming the missing setting
    return config.zotero.collection


@contextlib.contextmanager
def _zotero(config: Config) -> Iterator[ZoteroLibrary]:
    from readlist.zotero import ZoteroLibrary

    library = ZoteroLibrary(config.zotero, config.cache_dir)
    try:
        yield library
    finally:
        library.close()


def _sync_to_zotero(
    config: Config,
    triples: Sequence[tuple[str, Paper, Sequence[str]]],
    collection: str,
    *,
    dry_run: bool,
    verbose: bool = False,
    attach_pdf: bool = False,
) -> int:
    """File the papers into the Zotero collection and report; 1 if any paper failed."""
    status_tags = (config.tagging.read_tag, config.tagging.unread_tag)
    with _zotero(config) as library:
        report = library.sync(triples, collection, dry_run=dry_run, status_tags=status_tags)
        pdfs = _attach_pdfs(config, library, triples, report.created) if attach_pdf else []
    for warning in report.warnings:
        _err(f"warning: {warning}")
    for created in report.collections_created:
        _err(f"Zotero: {'would create' if dry_run else 'created'} collection {created}")
    if verbose:
        for key, item_key in report.created:
            _err(f"+ Zotero {key}" + (f" (item {item_key})" if item_key else ""))
            if attach_pdf and dry_run:
                _err(f"  would attach the PDF to {key}")
        for key, item_key, what in report.updated:
            _err(f"~ Zotero {key} (item {item_key}): {what}")
    failures: list[tuple[str, Sequence[str]]] = [
        (f"{title}: {reason}", []) for title, reason in report.failed
    ]
    pdf_failed = 0
    for key, attachment, size, problem in pdfs:
        if problem is None:
            if verbose:
                _err(f"+ PDF {key} (attachment {attachment}, {size // 1024} KB)")
        else:
            pdf_failed += 1
            failures.append((f"PDF of {key}: {problem}", []))
    _failures("not written to Zotero", failures, verbose=verbose)
    note = " (dry run: nothing written)" if dry_run else ""
    _err(
        f"Zotero collection {collection}: {len(report.created)} created, "
        f"{len(report.updated)} updated, {len(report.unchanged)} unchanged, "
        f"{len(report.failed)} failed ({plural(report.requests, 'request')}){note}"
    )
    if pdfs:
        _err(f"PDFs: {len(pdfs) - pdf_failed} attached, {pdf_failed} failed")
    return 1 if report.failed or pdf_failed else 0


def _with_cached_details(
    config: Config, triples: Sequence[tuple[str, Paper, Sequence[str]]]
) -> list[tuple[str, Paper, Sequence[str]]]:
    """Give papers read from the .bib the full dates, categories and comments the cache holds."""
    from readlist.resolve.cache import Cache, CacheError
    from readlist.resolve.service import with_cached_details

    try:
        cache = Cache.open(config.cache_dir)
    except CacheError:
        return list(triples)  # the details are a nicety; nothing to warn about
    try:
        papers = with_cached_details([p for _, p, _ in triples], cache, config.zotero.date)
    except CacheError:
        return list(triples)
    finally:
        cache.close()
    return [(key, paper, tags) for (key, _, tags), paper in zip(triples, papers, strict=True)]


def _attach_pdfs(
    config: Config,
    library: ZoteroLibrary,
    triples: Sequence[tuple[str, Paper, Sequence[str]]],
    created: Sequence[tuple[str, str | None]],
) -> list[tuple[str, str | None, int, str | None]]:
    """Download and upload the PDF of each created item: (citekey, attachment, size, error)."""
    import httpx

    from readlist.pdfs import PdfError, PdfFetcher
    from readlist.resolve.arxiv import user_agent
    from readlist.zotero import ZoteroError

    papers = {key: paper for key, paper, _ in triples}
    targets = [
        (key, item_key, papers[key].arxiv_id)
        for key, item_key in created
        if item_key and key in papers and papers[key].arxiv_id is not None
    ]
    if not targets:
        return []
    results: list[tuple[str, str | None, int, str | None]] = []
    headers = {"User-Agent": user_agent(__version__, config.arxiv.contact)}
    with httpx.Client(
        headers=headers, timeout=config.arxiv.timeout_seconds, follow_redirects=True
    ) as client:
        fetcher = PdfFetcher(
            client, base_url=config.arxiv.pdf_url, delay_seconds=config.arxiv.delay_seconds
        )
        for position, (key, item_key, aid) in enumerate(targets):
            assert item_key is not None and aid is not None
            try:
                content = fetcher.fetch(aid)
                attachment = library.attach_pdf(item_key, aid, content, url=fetcher.url(aid))
            except (PdfError, ZoteroError) as error:
                results.append((key, None, 0, error.message))
                if isinstance(error, ZoteroError) and error.status in (401, 403, 413):
                    # A full storage quota or a key without file access fails every one.
                    reason = "not attached after the error above"
                    results += [(k, None, 0, reason) for k, _, _ in targets[position + 1 :]]
                    break
                continue
            results.append((key, attachment, len(content), None))
    return results


class _Progress:
    """A progress bar per resolution phase on stderr, shown only on a terminal."""

    def __init__(self) -> None:
        self.label = ""
        self.bar: Any = None
        self.shown = 0
        self.enabled = sys.stderr.isatty()

    def __call__(self, label: str, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        if label != self.label:
            self.close()
            self.label, self.shown = label, 0
            self.bar = click.progressbar(
                length=total, label=label, file=sys.stderr, show_pos=True, show_eta=True
            )
            self.bar.__enter__()
        if self.bar is not None and done > self.shown:
            self.bar.update(done - self.shown)
            self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@contextlib.contextmanager
def _resolver(
    config: Config, *, offline: bool, refresh: bool, state: AppState | None = None
) -> Iterator[tuple[Resolver, list[str]]]:
    """Yield the resolver for this run and the list it appends each HTTP request to."""
    from readlist.resolve.service import build_resolver

    requests: list[str] = []
    progress = _Progress()
    resolver, close = build_resolver(
        config,
        offline=offline,
        refresh=refresh,
        progress=progress,
        on_request=requests.append,
        warn=_err,
    )
    if state is not None:
        state.resolver = resolver
    try:
        yield resolver, requests
    finally:
        progress.close()
        close()


@cli.command()
@click.argument("sources", nargs=-1, required=True, shell_complete=_complete_sources)
@bib_option
@click.option("-p", "--pick", multiple=True, help="Paper numbers to add, e.g. 1,4-6 or 7-.")
@click.option(
    "-m", "--match", multiple=True, help="Add papers whose title or abstract contains TEXT."
)
@click.option("-a", "--all", "take_all", is_flag=True, help="Add every paper of the listing.")
@click.option(
    "--min-upvotes",
    type=click.IntRange(min=0),
    metavar="N",
    help="Only papers with at least N upvotes on Hugging Face (hf: sources).",
)
@click.option("-t", "--tag", "tags", multiple=True, help="Add this tag to every paper (repeat).")
@click.option(
    "--offline", is_flag=True, help="No network: use the cache, else write what the listing knows."
)
@click.option("--refresh", is_flag=True, help="Ask the APIs again instead of using the cache.")
@click.option(
    "--style",
    type=click.Choice(["bibtex", "biblatex"]),
    help="Entry style (default from [bibtex] style).",
)
@preprint_form_option
@click.option("--merge-tags", is_flag=True, help="Merge new tags into entries already present.")
@click.option(
    "--to",
    "to",
    type=click.Choice(["bib", "zotero", "both"]),
    help="Where to file the papers (default from [library] to).",
)
@click.option("--collection", help="Zotero collection name or path (default [zotero] collection).")
@click.option("--include-unresolved", is_flag=True, help="Also send unresolved papers to Zotero.")
@click.option(
    "--attach-pdf",
    is_flag=True,
    help="Download each new Zotero item's PDF from arXiv and store it in Zotero.",
)
@click.option(
    "-n", "--dry-run", is_flag=True, help="Print the entries and Zotero plan; write nothing."
)
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON on stdout.")
@verbose_option
@click.pass_obj
def add(
    state: AppState,
    sources: tuple[str, ...],
    bib: Path | None,
    pick: tuple[str, ...],
    match: tuple[str, ...],
    take_all: bool,
    min_upvotes: int | None,
    tags: tuple[str, ...],
    offline: bool,
    refresh: bool,
    style: str | None,
    preprint_form: str | None,
    merge_tags: bool,
    to: str | None,
    collection: str | None,
    include_unresolved: bool,
    attach_pdf: bool,
    dry_run: bool,
    as_json: bool,
    verbose: bool,
) -> None:
    """Add papers from listings, arXiv IDs or URLs (`-` reads stdin) to the .bib or Zotero.

    \b
    Examples:
      readlist add listing.txt --pick 1,4-6
      readlist add listing.txt --match retrieval --tag rag
      readlist add 2504.10479 https://arxiv.org/abs/2312.06647v2
      readlist add hf:daily --min-upvotes 20 --all
      readlist add hf:week/2025-W18 https://huggingface.co/collections/OWNER/SLUG
    """
    from readlist.library import add_papers
    from readlist.select import select

    config = state.config(
        **{
            "library.bib": bib,
            "bibtex.style": style,
            "bibtex.preprint_form": preprint_form,
            "library.to": to,
            "zotero.collection": collection,
        }
    )
    if take_all and (pick or match):
        other = "--pick" if pick else "--match"
        raise click.UsageError(f"--all takes every paper: drop {other}, or drop --all")
    to_bib = config.library.to in ("bib", "both")
    to_zotero = config.library.to in ("zotero", "both")
    path = _bib_path(config, required=to_bib)
    if to_bib:
        assert path is not None
        _writable_bib(state, path, dry_run=dry_run, more_after=to_zotero)
    collection_path = _collection(config) if to_zotero else ""
    page_requests: list[str] = []
    listings = _read_listings(
        sources, config, offline=offline, min_upvotes=min_upvotes, requests=page_requests
    )
    if pick or match or take_all or _only_identifiers(sources):
        chosen = select(listings, pick=pick, match=match, take_all=take_all or not (pick or match))
    elif "-" not in sources and _stdin_is_interactive():
        chosen = _pick_interactively(
            listings, _known_in_bib(listings, path if to_bib else None, config.cache_dir)
        )
        if not chosen:
            _err("Nothing selected; nothing written.")
            return
    else:
        raise click.UsageError(
            f"{plural(len(listings), 'paper')} found; choose with --pick 1,4-6, --match TEXT or "
            "--all (or run in a terminal to pick interactively)"
        )
    with _resolver(config, offline=offline, refresh=refresh, state=state) as (resolver, requests):
        requests.extend(page_requests)
        resolutions = resolver.resolve(chosen)
    reasons = {id(r.listing): r for r in resolutions}
    code = 0
    missing = [r for r in resolutions if r.missing]
    for gone in missing:
        _err(f"not found: {gone.listing.label}: arXiv has no such paper; nothing written for it")
        code = 1
    papers = _tagged(
        [dated(r.paper, config.zotero.date) for r in resolutions if not r.missing], config, tags
    )
    keys: dict[int, str] = {}
    if to_bib:
        assert path is not None
        outcome = add_papers(
            path,
            papers,
            config.bibtex,
            merge_tags=merge_tags,
            dry_run=dry_run,
            cache_dir=config.cache_dir,
        )
        keys = {id(a.paper): a.key for a in outcome.added}
        keys.update({id(p.paper): p.key for p in outcome.present})
        if as_json:
            data = {
                **_add_json(outcome, reasons),
                "not_found": [r.listing.label for r in missing],
                "requests": len(requests),
            }
            click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        elif dry_run:
            _echo_entries(outcome)
        code = max(
            code,
            _report_add(
                outcome,
                offline=offline,
                dry_run=dry_run,
                reasons=reasons,
                requests=len(requests),
                verbose=verbose,
                as_json=as_json,
            ),
        )
    if to_zotero:
        from readlist.bibtex import check_writable
        from readlist.citekey import KeySet, make_citekey

        taken = KeySet()
        triples = []
        held_back = 0
        for paper in papers:
            if not paper.resolved and not include_unresolved:
                held_back += 1
                if verbose:
                    _err(f"not sent to Zotero (unresolved): {paper.title}")
                continue
            try:
                check_writable(paper)
            except UnsafeTextError as exc:
                if not to_bib:  # the .bib report already named it
                    _err(_skip_warning(paper, str(exc)))
                code = 1
                continue
            key = keys.get(id(paper)) or make_citekey(
                paper, config.bibtex.citekey, lowercase=config.bibtex.lowercase_keys, taken=taken
            )
            taken.add(key)
            triples.append((key, paper, paper.tags))
        if held_back:
            _err(
                f"{plural(held_back, 'unresolved paper')} not sent to Zotero "
                "(--include-unresolved sends them)"
            )
        code = max(
            code,
            _sync_to_zotero(
                config,
                triples,
                collection_path,
                dry_run=dry_run,
                verbose=verbose,
                attach_pdf=attach_pdf,
            ),
        )
        if not to_bib and any(not p.resolved for p in papers) and not offline:
            code = 1
    sys.exit(code)


@cli.command()
@click.argument("sources", nargs=-1, required=True, shell_complete=_complete_sources)
@bib_option
@click.option(
    "--min-upvotes",
    type=click.IntRange(min=0),
    metavar="N",
    help="Only papers with at least N upvotes on Hugging Face (hf: sources).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the listing as JSON.")
@click.pass_obj
def show(
    state: AppState,
    sources: tuple[str, ...],
    bib: Path | None,
    min_upvotes: int | None,
    as_json: bool,
) -> None:
    """Print the numbered listing, marking papers already in the .bib.

    \b
    Examples:
      readlist show listing.txt
      readlist show hf:daily/2025-04-28 --min-upvotes 10
    """
    config = state.config(**{"library.bib": bib})
    listings = _read_listings(sources, config, min_upvotes=min_upvotes)
    known = _known_in_bib(listings, _bib_path(config, required=False), config.cache_dir)
    if as_json:
        rows = [
            {
                "number": n,
                "title": item.title,
                "abstract": item.abstract,
                "arxiv_id": str(item.arxiv_id) if item.arxiv_id else None,
                "source": item.source,
                "line": item.line,
                "upvotes": item.upvotes,
                "in_bib": known.get(n - 1),
            }
            for n, item in enumerate(listings, 1)
        ]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    _render_listing(listings, known)
    _err(f"{plural(len(listings), 'paper')}, {len(known)} already in the .bib")


def _entry_row(row: Row, read_tag: str = "read") -> dict[str, Any]:
    read = any(t.casefold() == read_tag.casefold() for t in row.tags)
    return {
        "key": row.key,
        "type": row.entry_type,
        "title": row.title,
        "year": row.year,
        "arxiv_id": row.arxiv_ids[0] if row.arxiv_ids else None,
        "doi": row.doi,
        "tags": list(row.tags),
        "unresolved": row.unresolved,
        "read": read,
        # Everything not marked read is still to read, with the unread tag or without one.
        "to_read": not read,
        "line": row.line,
    }


@cli.command(name="list")
@bib_option
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON.")
@click.option("-t", "--tag", "tags", multiple=True, help="Only entries with this tag (repeat).")
@click.option("--unresolved", is_flag=True, help="Only entries that await resolution.")
@click.option(
    "--to-read", "to_read", is_flag=True, help="Only entries not marked read (yet to read)."
)
@click.option("--read", "read", is_flag=True, help="Only entries marked read.")
@click.pass_obj
def list_(
    state: AppState,
    bib: Path | None,
    as_json: bool,
    tags: tuple[str, ...],
    unresolved: bool,
    to_read: bool,
    read: bool,
) -> None:
    """List the reading list: keys, years, titles, tags, status."""
    from readlist.library import load_entries

    if to_read and read:
        raise click.UsageError("--to-read and --read exclude each other")
    config = state.config(**{"library.bib": bib})
    path = _existing_bib(config)
    library = load_entries(path, config.cache_dir)
    for line, problem in library.problems:
        _err(f"warning: {path}:{line}: {problem}; skipped")
    rows = [_entry_row(row, config.tagging.read_tag) for row in library.rows]
    wanted = {t.lower() for t in tags}
    rows = [
        r
        for r in rows
        if (not unresolved or r["unresolved"])
        and (not to_read or r["to_read"])
        and (not read or r["read"])
        and wanted <= {t.lower() for t in r["tags"]}
    ]
    if as_json:
        from readlist.jsontext import dumps_rows

        click.echo(dumps_rows(rows, lists=("tags",)))
        return
    width = _width()
    # Keys are what a user types: show them whole up to a third of the line.
    key_width = min(max((len(r["key"]) for r in rows), default=3), max(width // 3, 12))
    for r in rows:
        label = "unresolved" if r["unresolved"] else ("read" if r["read"] else "")
        tag_text = f"  [{', '.join(r['tags'])}]" if r["tags"] else ""
        year = r["year"] or ""
        key = _fit(r["key"], key_width)
        head = f"{key:<{key_width}}  {year:<4}  {label:<10}  "
        click.echo(head + _fit(f"{r['title']}{tag_text}", width - len(head)))
    pending = sum(r["unresolved"] for r in rows)
    _err(f"{plural(len(rows), 'entry', 'entries')}, {pending} unresolved")


@cli.command()
@click.argument("status", type=click.Choice(["read", "unread"]))
@click.argument("keys", nargs=-1, shell_complete=_complete_keys)
@bib_option
@click.option("-m", "--match", multiple=True, help="Also mark entries whose title contains TEXT.")
@click.option("-n", "--dry-run", is_flag=True, help="Say what would change; write nothing.")
@click.pass_obj
def mark(
    state: AppState,
    status: str,
    keys: tuple[str, ...],
    bib: Path | None,
    match: tuple[str, ...],
    dry_run: bool,
) -> None:
    """Mark entries read or unread (the [tagging] read_tag / unread_tag in `keywords`).

    \b
    Examples:
      readlist mark read zhu2025internvl3
      readlist mark unread --match "video"
    `readlist sync` carries the status to Zotero as tags.
    """

    if not keys and not match:
        raise click.UsageError("name the entries: KEY… or --match TEXT")
    config = state.config(**{"library.bib": bib})
    path = _existing_bib(config)
    outcome = _set_status(config, path, status, keys, match=match, dry_run=dry_run)
    for key in outcome.changed:
        click.echo(key)
    note = " (dry run: nothing written)" if dry_run else ""
    _err(
        f"{plural(len(outcome.changed), 'entry', 'entries')} marked {status}, "
        f"{len(outcome.unchanged)} already {status}{note}"
    )


@cli.command()
@bib_option
@click.option(
    "--zotero",
    "in_zotero",
    is_flag=True,
    help="Upgrade the preprint items of the Zotero collection instead of the .bib.",
)
@click.option("--collection", help="Zotero collection name or path (default [zotero] collection).")
@click.option("--offline", is_flag=True, help="No network: use only arXiv's cached records.")
@click.option("-n", "--dry-run", is_flag=True, help="Print the plan; write nothing.")
@click.pass_obj
def upgrade(
    state: AppState,
    bib: Path | None,
    in_zotero: bool,
    collection: str | None,
    offline: bool,
    dry_run: bool,
) -> None:
    """Rewrite cited preprints as their published versions, keeping their keys.

    Only entries whose arXiv record (or the entry itself) names a journal DOI are upgraded;
    the venue comes from doi.org, else from arXiv's journal reference. The plan goes to
    stdout, one line per entry. With --zotero, the collection's preprint items change type
    and fields in place (each write conditioned on the version read).
    """
    from readlist.upgrade import Upgrade, plan_zotero_upgrades, upgrade_in_place

    config = state.config(**{"library.bib": bib, "zotero.collection": collection})
    skipped: list[tuple[str, str]]
    zotero_requests = 0
    with contextlib.ExitStack() as stack:
        resolver, requests = stack.enter_context(_resolver(config, offline=offline, refresh=False))
        lookup = None if offline else _doi_lookup(config, stack, requests)
        if in_zotero:
            target = _collection(config)
            library = stack.enter_context(_zotero(config))
            plan = plan_zotero_upgrades(
                [data for data, _ in library.collection_objects(target)], resolver, lookup
            )
            planned: list[Upgrade] = [up for _, up in plan.planned]
            skipped = list(plan.skipped)
            if plan.planned and not dry_run:
                done, failed = library.upgrade_items(
                    [(data, up.doi, up.venue) for data, up in plan.planned]
                )
                labels = {str(data["key"]): up.key for data, up in plan.planned}
                planned = [up for data, up in plan.planned if data["key"] in set(done)]
                skipped += [(labels.get(key, key), reason) for key, reason in failed]
            where = f"Zotero collection {target}"
            zotero_requests = library.requests
            for warning in library.warnings:
                _err(f"warning: {warning}")
        else:
            path = _existing_bib(config)
            outcome = upgrade_in_place(
                path, resolver, lookup, dry_run=dry_run, cache_dir=config.cache_dir
            )
            planned, skipped, where = outcome.planned, outcome.skipped, str(path)
    for up in planned:
        kind = up.entry_type
        if in_zotero:
            kind = "conferencePaper" if up.venue.kind == "conference" else "journalArticle"
        click.echo(
            f"{up.key}: arXiv:{up.arxiv_id} -> {'' if in_zotero else '@'}{kind} {up.venue.name}"
            f"{f' ({up.venue.year})' if up.venue.year else ''}, doi {up.doi} "
            f"(DOI from {up.doi_from}, venue from {up.venue_from})"
        )
    for key, reason in skipped:
        _err(f"not upgraded: {key}: {reason}")
    verb = "would upgrade" if dry_run else "upgraded"
    _err(
        f"{verb} {len(planned)} entries, {len(skipped)} not upgraded "
        f"({len(requests) + zotero_requests} requests) in {where}"
    )
    sys.exit(1 if skipped else 0)


def _doi_lookup(
    config: Config, stack: contextlib.ExitStack, requests: list[str]
) -> Callable[[str], Venue | None]:
    """A venue lookup through doi.org content negotiation, closed with `stack`."""
    import httpx

    from readlist.resolve.arxiv import user_agent
    from readlist.resolve.doi import DoiClient, venue_from_csl

    http = stack.enter_context(
        httpx.Client(
            headers={"User-Agent": user_agent(__version__, config.arxiv.contact)},
            timeout=config.arxiv.timeout_seconds,
            follow_redirects=True,
        )
    )
    client = DoiClient(http, api_url=config.doi.api_url)

    def lookup(doi: str) -> Venue | None:
        requests.append(f"GET {config.doi.api_url}/{doi}")
        record = client.fetch_csl(doi)
        return venue_from_csl(record) if record is not None else None

    return lookup


@cli.command()
@bib_option
@click.option("--offline", is_flag=True, help="No network: complete only what is cached.")
@click.option("--refresh", is_flag=True, help="Ask the APIs again instead of using the cache.")
@click.option("-n", "--dry-run", is_flag=True, help="Resolve, but write nothing.")
@verbose_option
@click.pass_obj
def resolve(
    state: AppState, bib: Path | None, offline: bool, refresh: bool, dry_run: bool, verbose: bool
) -> None:
    """Complete the entries that were added unresolved, in place."""
    from readlist.library import resolve_in_place

    config = state.config(**{"library.bib": bib})
    path = _existing_bib(config)
    _writable_bib(state, path, dry_run=dry_run)
    with _resolver(config, offline=offline, refresh=refresh, state=state) as (resolver, _):
        outcome = resolve_in_place(
            path,
            resolver,
            config.bibtex,
            dry_run=dry_run,
            date=config.zotero.date,
            cache_dir=config.cache_dir,
        )
    for key, paper in outcome.resolved:
        _mark("~", "green", f"{key}  arXiv:{paper.arxiv_id}  {paper.title}")
    _failures(
        "still unresolved",
        [(f"{key}: {reason}", []) for key, reason in outcome.unresolved],
        verbose=verbose,
    )
    _err(f"{len(outcome.resolved)} resolved, {len(outcome.unresolved)} still unresolved")
    sys.exit(1 if outcome.unresolved and not offline else 0)


@cli.command()
@bib_option
@click.option("-n", "--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.pass_obj
def retag(state: AppState, bib: Path | None, dry_run: bool) -> None:
    """Re-apply the [tags] keyword rules to every entry, adding the tags it now matches.

    Tags are only added, never removed, and `[tagging] always` is not applied again (a
    `to-read` you removed stays removed). Nothing but `keywords` changes.
    """
    from readlist.library import retag_in_place

    config = state.config(**{"library.bib": bib})
    path = _existing_bib(config)
    _writable_bib(state, path, dry_run=dry_run)
    outcome = retag_in_place(
        path,
        _tagger(config),
        ascii_only=config.bibtex.style == "bibtex",
        dry_run=dry_run,
        cache_dir=config.cache_dir,
    )
    for key, tags in outcome.changed:
        click.echo(f"{key}: + {', '.join(tags)}")
    note = " (dry run: nothing written)" if dry_run else ""
    _err(
        f"{len(outcome.changed)} of {plural(outcome.checked, 'entry', 'entries')} gained tags{note}"
    )


@cli.command()
@click.argument("tex", type=click.Path(path_type=Path))
@bib_option
@click.pass_obj
def check(state: AppState, tex: Path, bib: Path | None) -> None:
    """Report \\cite keys of a .tex file that the .bib lacks (exit 1 if any).

    Without --bib, the .bib files are the document's own (\\bibliography{a,b},
    \\addbibresource{...}), else the configured one. Warns when the document's
    \\bibliographystyle would hide the arXiv ID of cited entries.
    """
    from readlist.library import load_entries
    from readlist.texcheck import cites_all, missing_keys, scan_tex

    document = scan_tex(tex)
    config = state.config(**{"library.bib": bib})
    if bib is None and document.setup.bib_files:
        paths = list(document.setup.bib_files)
        for path in paths:
            if not path.exists():
                raise InputError(str(path), f"no such .bib file (named by {tex})")
    else:
        paths = [_existing_bib(config)]
    libraries = [load_entries(path, config.cache_dir) for path in paths]
    keys = {row.key for library in libraries for row in library.rows}
    uses = document.uses
    cited = {u.key for u in uses if not u.is_all}
    style = document.setup.bibtex_style
    if style and document.setup.biblatex_style is None:
        from readlist.bibstyles import StyleWarning, find_bst, hidden_ids, style_prints_eprints

        if style_prints_eprints(style, lambda name: find_bst(name, tex.parent)) is False:
            every = cites_all(uses)
            shown = [
                library.entry_at(position)
                for library in libraries
                for position, row in enumerate(library.rows)
                if every or row.key in cited
            ]
            hidden = hidden_ids(shown)
            if hidden:
                _err("Warning: " + StyleWarning(style, tuple(hidden)).message())
    missing = missing_keys(uses, keys)
    for item in missing:
        hint = f" (the .bib has '{item.hint}')" if item.hint else ""
        click.echo(f"{item.path}:{item.line}: {item.key}{hint}")
    where = ", ".join(str(path) for path in paths)
    if missing:
        distinct = len({m.key for m in missing})
        raise click.ClickException(
            f"{distinct} of {len(cited)} cited key{'s' if len(cited) != 1 else ''} "
            f"missing from {where}"
        )
    _err(
        f"all {plural(len(cited), 'cited key')} are in {where}"
        if len(cited) != 1
        else f"the cited key is in {where}"
    )


@cli.group()
def config() -> None:
    """Create, show or locate the configuration file."""


@config.command(name="path")
@click.pass_obj
def config_path_cmd(state: AppState) -> None:
    """Print the path of the config file readlist reads."""
    from readlist.config import default_config_path

    click.echo(str(state.config_path or default_config_path(os.environ)))


@config.command(name="show")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON instead of TOML.")
@click.option("--show-secrets", is_flag=True, help="Print API keys and tokens in full.")
@click.pass_obj
def config_show(state: AppState, as_json: bool, show_secrets: bool) -> None:
    """Print the effective configuration (file, environment and defaults); secrets hidden."""
    import tomli_w

    from readlist.config import config_to_dict

    cfg = state.load({}, must_exist=False)
    data = config_to_dict(cfg, hide_secrets=not show_secrets)
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(f"# {cfg.path}{'' if cfg.file_exists else ' (not created yet)'}")
        click.echo(tomli_w.dumps(data), nl=False)


@config.command(name="init")
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
@click.pass_obj
def config_init(state: AppState, force: bool) -> None:
    """Write a starter config file with example tags."""
    from readlist.config import default_config_path, write_initial_config

    path = state.config_path or default_config_path(os.environ)
    written = write_initial_config(path, force=force)
    _err(f"wrote {written}")


@cli.command()
@bib_option
@click.option("--collection", help="Zotero collection name or path (default [zotero] collection).")
@click.option("--include-unresolved", is_flag=True, help="Also push unresolved entries.")
@click.option(
    "--attach-pdf",
    is_flag=True,
    help="Download each new Zotero item's PDF from arXiv and store it in Zotero.",
)
@click.option("-n", "--dry-run", is_flag=True, help="Show what would be created or updated.")
@click.pass_obj
def sync(
    state: AppState,
    bib: Path | None,
    collection: str | None,
    include_unresolved: bool,
    attach_pdf: bool,
    dry_run: bool,
) -> None:
    """Push every resolved entry of the .bib into the Zotero collection (never a duplicate)."""
    from readlist.library import load_entries, paper_from_bib_entry

    config = state.config(**{"library.bib": bib, "zotero.collection": collection})
    path = _existing_bib(config)
    target = _collection(config)
    triples = []
    skipped = 0
    for entry in load_entries(path).entries:
        paper = paper_from_bib_entry(entry)
        if not paper.resolved and not include_unresolved:
            skipped += 1
            continue
        triples.append((entry.key, paper, paper.tags))
    completed = _with_cached_details(config, triples)
    if skipped:
        _err(
            f"{plural(skipped, 'unresolved entry', 'unresolved entries')} not pushed "
            "(run `readlist resolve`, or pass "
            "--include-unresolved)"
        )
    sys.exit(_sync_to_zotero(config, completed, target, dry_run=dry_run, attach_pdf=attach_pdf))


@cli.command()
@click.argument("collection", required=False)
@bib_option
@preprint_form_option
@click.option("-n", "--dry-run", is_flag=True, help="Print the entries instead of writing.")
@click.pass_obj
def pull(
    state: AppState,
    collection: str | None,
    bib: Path | None,
    preprint_form: str | None,
    dry_run: bool,
) -> None:
    """Write a Zotero collection into the .bib (appended; nothing else changes)."""
    from readlist.library import add_papers

    config = state.config(
        **{
            "library.bib": bib,
            "zotero.collection": collection,
            "bibtex.preprint_form": preprint_form,
        }
    )
    path = _bib_path(config)
    assert path is not None
    target = _collection(config)
    _writable_bib(state, path, dry_run=dry_run)
    with _zotero(config) as library:
        pulled = library.collection_items(target)
        requests = library.requests
    for warning in library.warnings:
        _err(f"warning: {warning}")
    papers = [replace(paper, resolved=True) for _, paper in pulled]
    outcome = add_papers(
        path,
        papers,
        config.bibtex,
        dry_run=dry_run,
        preferred_keys=[k for k, _ in pulled],
        cache_dir=config.cache_dir,
    )
    if dry_run:
        _echo_entries(outcome)
    _err(f"{plural(len(pulled), 'item')} in Zotero collection {target}")
    code = _report_add(outcome, offline=True, dry_run=dry_run, reasons={}, requests=requests)
    _pull_status(config, path, outcome.present, dry_run=dry_run)
    sys.exit(code)


def _set_status(
    config: Config,
    path: Path,
    status: str,
    keys: Sequence[str],
    *,
    match: Sequence[str] = (),
    dry_run: bool,
) -> Any:
    """Mark entries `read` or `unread` with the configured status tags."""
    from readlist.library import mark_in_place

    read_tag, unread_tag = config.tagging.read_tag, config.tagging.unread_tag
    add, remove = (read_tag, unread_tag) if status == "read" else (unread_tag, read_tag)
    return mark_in_place(
        path,
        keys,
        add=add,
        remove=remove,
        match=match,
        ascii_only=config.bibtex.style == "bibtex",
        dry_run=dry_run,
        cache_dir=config.cache_dir,
    )


def _pull_status(config: Config, path: Path, present: Sequence[Any], *, dry_run: bool) -> None:
    """Give entries already in the .bib the reading status their Zotero items have."""
    read_tag, unread_tag = config.tagging.read_tag, config.tagging.unread_tag
    wanted: dict[str, list[str]] = {"read": [], "unread": []}
    for item in present:
        tags = {t.casefold() for t in item.paper.tags}
        if read_tag.casefold() in tags:
            wanted["read"].append(item.key)
        elif unread_tag.casefold() in tags:
            wanted["unread"].append(item.key)
    for status, keys in wanted.items():
        if not keys:
            continue
        outcome = _set_status(config, path, status, keys, dry_run=dry_run)
        if outcome.changed:
            _err(f"{plural(len(outcome.changed), 'entry', 'entries')} marked {status} as in Zotero")


@cli.command()
@click.option(
    "--zotero",
    "check_zotero",
    is_flag=True,
    help="Check the Zotero library: list duplicate collections and merge them.",
)
@click.option("-y", "--yes", is_flag=True, help="Merge without asking (for scripts).")
@click.option("-n", "--dry-run", is_flag=True, help="List what would be merged; change nothing.")
@click.pass_obj
def doctor(state: AppState, check_zotero: bool, yes: bool, dry_run: bool) -> None:
    """Find what went wrong in a library and repair it.

    With --zotero: sibling collections that share a name (two members of a group library
    creating `Lab/Reading` at once with another tool, say) are listed on stdout, oldest
    first; once confirmed, each set is merged into its oldest member: subcollections and
    items move there, and a duplicate is deleted only when it holds nothing.
    """
    if not check_zotero:
        raise click.UsageError("say what to check: readlist doctor --zotero")
    config = state.config()
    with _zotero(config) as library:
        groups = library.find_duplicate_collections()
        for group in groups:
            sizes = []
            for key, items, subs in zip(group.keys, group.items, group.subcollections, strict=True):
                what = plural(items, "item")
                if subs:
                    what += f", {plural(subs, 'subcollection')}"
                sizes.append(f"{key} ({what})")
            click.echo(
                f"{group.path}: {len(group.keys)} collections, oldest first: " + ", ".join(sizes)
            )
        if not groups:
            _err(f"no duplicate Zotero collections ({library.requests} requests)")
            return
        if dry_run:
            _err(f"{plural(len(groups), 'path')} with duplicates (dry run: nothing merged)")
            return
        question = f"Merge the duplicates of {plural(len(groups), 'path')} into the oldest of each?"
        if not yes and not click.confirm(question, err=True):
            _err("nothing merged")
            sys.exit(1)
        report = library.merge_duplicate_collections()
    for path, gone, kept in report.merged:
        _err(f"merged {path}: {gone} into {kept}, then deleted {gone}")
    _err(
        f"{plural(len(report.merged), 'duplicate collection')} merged: "
        f"{plural(report.items_moved, 'item')} and "
        f"{plural(report.subcollections_moved, 'subcollection')} moved "
        f"({report.requests} requests)"
    )


@cli.group()
def cache() -> None:
    """Inspect or clear the cache (arXiv metadata, title look-ups, .bib indexes)."""


@cache.command(name="info")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_obj
def cache_info(state: AppState, as_json: bool) -> None:
    """Print where the cache is and what it holds."""
    from readlist import libindex
    from readlist.resolve.cache import Cache

    cache_dir = state.config().cache_dir
    with Cache.open(cache_dir) as store:
        info = store.info()
    indexes = libindex.stored(cache_dir)
    data = {
        "path": str(info.path),
        "size_bytes": info.size_bytes,
        "arxiv_entries": info.entries,
        "lookups_found": info.lookups_found,
        "lookups_not_found": info.lookups_not_found,
        "lookups_expired": info.lookups_expired,
        "bib_indexes": len(indexes),
        "bib_indexes_bytes": sum(libindex.size_of(folder) for folder in indexes),
    }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for name, value in data.items():
        click.echo(f"{name}: {value}")


@cache.command(name="clear")
@click.pass_obj
def cache_clear(state: AppState) -> None:
    """Forget everything cached; the next run asks the APIs again and reads each .bib whole."""
    from readlist import libindex
    from readlist.resolve.cache import Cache

    cache_dir = state.config().cache_dir
    with Cache.open(cache_dir) as store:
        removed = store.clear()
    indexes = libindex.clear(cache_dir)
    _err(
        f"cache cleared: {removed} rows removed from {store.path}, "
        f"{plural(indexes, '.bib index', '.bib indexes')} removed"
    )


def main() -> None:
    """Entry point of the `readlist` console script."""
    cli(prog_name="readlist")
