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
from readlist.errors import InputError, ReadlistError, UnsafeTextError

if TYPE_CHECKING:
    from readlist.config import Config
    from readlist.library import AddOutcome
    from readlist.models import Listing, Paper
    from readlist.resolve import Resolution, Resolver
    from readlist.zotero import ZoteroLibrary

OFFLINE = "added offline"


class ReadlistGroup(click.Group):
    """A group that reports errors as one line, with tracebacks only when debugging."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ReadlistError as exc:
            if _debugging():
                raise
            raise click.ClickException(str(exc)) from exc
        except (click.ClickException, click.exceptions.Exit, click.Abort):
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


@dataclass
class AppState:
    """What the group passes to its commands: where the config comes from."""

    config_path: Path | None = None
    _cache: dict[tuple[tuple[str, Any], ...], Config] = field(default_factory=dict)

    def config(self, **overrides: Any) -> Config:
        """Load the config once per set of flag overrides (defaults < file < env < flags)."""
        from readlist.config import load_config

        key = tuple(sorted(overrides.items()))
        if key not in self._cache:
            self._cache[key] = load_config(os.environ, overrides, path=self.config_path)
        return self._cache[key]


def _err(message: str) -> None:
    click.echo(message, err=True)


@click.group(cls=ReadlistGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="readlist")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file to use (default: $READLIST_CONFIG or ~/.config/readlist/config.toml).",
)
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """Turn Hugging Face Papers listings and arXiv IDs into BibTeX you can cite."""
    ctx.obj = AppState(config_path=config_path)


bib_option = click.option(
    "--bib",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The .bib file (default: $READLIST_BIB or [library] bib in the config).",
)


def _bib_path(config: Config, *, required: bool = True) -> Path | None:
    path = config.library.bib
    if path is None and required:
        raise click.UsageError(
            f"no .bib file given: use --bib FILE, set READLIST_BIB, or set [library] bib "
            f"in {config.path}"
        )
    return path


def _existing_bib(config: Config) -> Path:
    """The configured .bib, which must exist (for commands that only read or edit it)."""
    path = _bib_path(config)
    assert path is not None
    if not path.exists():
        raise InputError(str(path), "no such .bib file")
    return path


def _read_listings(sources: Sequence[str]) -> list[Listing]:
    """Read every source, refuse one that holds no paper, and drop repeated papers."""
    from readlist.listing import dedupe, read_sources

    listings = read_sources(sources, lambda: sys.stdin.buffer.read())
    found = {item.source for item in listings}
    for source in dict.fromkeys("<stdin>" if s == "-" else s for s in sources):
        if source not in found and (source == "<stdin>" or Path(source).exists()):
            raise InputError(
                source,
                "no papers found (expected a Hugging Face Papers listing, titles, "
                "or arXiv IDs/URLs)",
            )
    if not listings:
        raise InputError(", ".join(sources), "no papers found")
    return dedupe(listings)


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
    for n, item in enumerate(listings, 1):
        mark = "[x]" if n - 1 in known else "[ ]"
        line = f"{n:>{width}}. {mark} {item.label}"
        if n - 1 in known:
            line += f"  (in .bib as {known[n - 1]})"
        click.echo(line, err=err)


def _known_in_bib(listings: Sequence[Listing], bib: Path | None) -> dict[int, str]:
    """Map listing positions to the key of the .bib entry that already holds them."""
    if bib is None:
        return {}
    from readlist.bibfile import BibIndex, read_bib

    index = BibIndex(read_bib(bib).entries)
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
) -> int:
    for added in outcome.added:
        _err(f"+ {added.key}  {added.paper.title}")
    for present in outcome.present:
        merged = f"; tags added: {', '.join(present.new_tags)}" if present.new_tags else ""
        _err(
            f"= {present.key}  {present.paper.title}  "
            f"(already in {outcome.path.name}:{present.line}, {present.reason}{merged})"
        )
    for skipped in outcome.skipped:
        _err(_skip_warning(skipped.paper, skipped.reason))
    unresolved = outcome.unresolved
    parts = [f"{len(outcome.added)} added", f"{len(outcome.present)} already present"]
    if unresolved:
        parts.append(f"{len(unresolved)} unresolved")
    if outcome.skipped:
        parts.append(f"{len(outcome.skipped)} skipped")
    summary = ", ".join(parts)
    if requests:
        summary += f" ({requests} request{'s' if requests != 1 else ''})"
    if dry_run:
        summary += " (dry run: nothing written)"
    elif not outcome.added and not any(p.new_tags for p in outcome.present):
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
    for added in unresolved:
        _err(f"unresolved: {added.key}  {added.paper.title}: {_reason(added.paper, reasons)}")
        for candidate in _candidates(added.paper, reasons):
            _err(f"    candidate: {candidate}")
    _err("Unresolved entries were written from the listing; `readlist resolve` retries them.")
    return 1


def _collection(config: Config) -> str:
    if not config.zotero.collection.strip():
        raise click.UsageError(
            "no Zotero collection: use --collection NAME or set [zotero] collection "
            f"in {config.path}"
        )
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
) -> int:
    """File the papers into the Zotero collection and report; 1 if any paper failed."""
    with _zotero(config) as library:
        report = library.sync(triples, collection, dry_run=dry_run)
    for created in report.collections_created:
        _err(f"Zotero: {'would create' if dry_run else 'created'} collection {created}")
    for key, item_key in report.created:
        _err(f"+ Zotero {key}" + (f" (item {item_key})" if item_key else ""))
    for key, item_key, what in report.updated:
        _err(f"~ Zotero {key} (item {item_key}): {what}")
    for title, reason in report.failed:
        _err(f"failed: {title}: {reason}")
    note = " (dry run: nothing written)" if dry_run else ""
    _err(
        f"Zotero collection {collection}: {len(report.created)} created, "
        f"{len(report.updated)} updated, {len(report.unchanged)} unchanged, "
        f"{len(report.failed)} failed ({report.requests} requests){note}"
    )
    return 1 if report.failed else 0


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
            self.bar = click.progressbar(length=total, label=label, file=sys.stderr)
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
    config: Config, *, offline: bool, refresh: bool
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
    try:
        yield resolver, requests
    finally:
        progress.close()
        close()


@cli.command()
@click.argument("sources", nargs=-1, required=True)
@bib_option
@click.option("-p", "--pick", multiple=True, help="Paper numbers to add, e.g. 1,4-6 or 7-.")
@click.option(
    "-m", "--match", multiple=True, help="Add papers whose title or abstract contains TEXT."
)
@click.option("-a", "--all", "take_all", is_flag=True, help="Add every paper of the listing.")
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
    "-n", "--dry-run", is_flag=True, help="Print the entries and Zotero plan; write nothing."
)
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON on stdout.")
@click.pass_obj
def add(
    state: AppState,
    sources: tuple[str, ...],
    bib: Path | None,
    pick: tuple[str, ...],
    match: tuple[str, ...],
    take_all: bool,
    tags: tuple[str, ...],
    offline: bool,
    refresh: bool,
    style: str | None,
    merge_tags: bool,
    to: str | None,
    collection: str | None,
    include_unresolved: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Add papers from listings, arXiv IDs or URLs (`-` reads stdin) to the .bib or Zotero.

    \b
    Examples:
      readlist add listing.txt --pick 1,4-6
      readlist add listing.txt --match retrieval --tag rag
      readlist add 2504.10479 https://arxiv.org/abs/2312.06647v2
    """
    from readlist.library import add_papers
    from readlist.select import select

    config = state.config(
        **{
            "library.bib": bib,
            "bibtex.style": style,
            "library.to": to,
            "zotero.collection": collection,
        }
    )
    to_bib = config.library.to in ("bib", "both")
    to_zotero = config.library.to in ("zotero", "both")
    path = _bib_path(config, required=to_bib)
    collection_path = _collection(config) if to_zotero else ""
    listings = _read_listings(sources)
    if pick or match or take_all or _only_identifiers(sources):
        chosen = select(listings, pick=pick, match=match, take_all=take_all or not (pick or match))
    elif "-" not in sources and _stdin_is_interactive():
        chosen = _pick_interactively(listings, _known_in_bib(listings, path if to_bib else None))
        if not chosen:
            _err("Nothing selected; nothing written.")
            return
    else:
        raise click.UsageError(
            f"{len(listings)} papers found; choose with --pick 1,4-6, --match TEXT or --all "
            "(or run in a terminal to pick interactively)"
        )
    with _resolver(config, offline=offline, refresh=refresh) as (resolver, requests):
        resolutions = resolver.resolve(chosen)
    reasons = {id(r.listing): r for r in resolutions}
    papers = _tagged([r.paper for r in resolutions], config, tags)
    code = 0
    keys: dict[int, str] = {}
    if to_bib:
        assert path is not None
        outcome = add_papers(path, papers, config.bibtex, merge_tags=merge_tags, dry_run=dry_run)
        keys = {id(a.paper): a.key for a in outcome.added}
        keys.update({id(p.paper): p.key for p in outcome.present})
        if as_json:
            data = {**_add_json(outcome, reasons), "requests": len(requests)}
            click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        elif dry_run and outcome.text:
            click.echo(outcome.text, nl=False)
        code = _report_add(
            outcome, offline=offline, dry_run=dry_run, reasons=reasons, requests=len(requests)
        )
    if to_zotero:
        from readlist.bibtex import check_writable
        from readlist.citekey import KeySet, make_citekey

        taken = KeySet()
        triples = []
        for paper in papers:
            if not paper.resolved and not include_unresolved:
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
        code = max(code, _sync_to_zotero(config, triples, collection_path, dry_run=dry_run))
        if not to_bib and any(not p.resolved for p in papers) and not offline:
            code = 1
    sys.exit(code)


@cli.command()
@click.argument("sources", nargs=-1, required=True)
@bib_option
@click.option("--json", "as_json", is_flag=True, help="Print the listing as JSON.")
@click.pass_obj
def show(state: AppState, sources: tuple[str, ...], bib: Path | None, as_json: bool) -> None:
    """Print the numbered listing, marking papers already in the .bib."""
    config = state.config(**{"library.bib": bib})
    listings = _read_listings(sources)
    known = _known_in_bib(listings, _bib_path(config, required=False))
    if as_json:
        rows = [
            {
                "number": n,
                "title": item.title,
                "abstract": item.abstract,
                "arxiv_id": str(item.arxiv_id) if item.arxiv_id else None,
                "source": item.source,
                "line": item.line,
                "in_bib": known.get(n - 1),
            }
            for n, item in enumerate(listings, 1)
        ]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    _render_listing(listings, known)
    _err(f"{len(listings)} papers, {len(known)} already in the .bib")


def _entry_row(entry: Any) -> dict[str, Any]:
    from readlist.library import plain_field

    ids = entry.arxiv_ids()
    tags = entry.tags
    return {
        "key": entry.key,
        "type": entry.entry_type,
        "title": " ".join(plain_field(entry.get("title") or "").split()),
        "year": entry.get("year") or (entry.get("date") or "")[:4] or None,
        "arxiv_id": ids[0].id if ids else None,
        "doi": entry.get("doi"),
        "tags": tags,
        "unresolved": entry.is_unresolved,
        "read": any(t.lower() == "read" for t in tags),
        "line": entry.line,
    }


@cli.command(name="list")
@bib_option
@click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON.")
@click.option("-t", "--tag", "tags", multiple=True, help="Only entries with this tag (repeat).")
@click.option("--unresolved", is_flag=True, help="Only entries that await resolution.")
@click.pass_obj
def list_(
    state: AppState, bib: Path | None, as_json: bool, tags: tuple[str, ...], unresolved: bool
) -> None:
    """List the reading list: keys, years, titles, tags, status."""
    from readlist.library import load_entries

    config = state.config(**{"library.bib": bib})
    path = _existing_bib(config)
    rows = [_entry_row(e) for e in load_entries(path).entries]
    wanted = {t.lower() for t in tags}
    rows = [
        r
        for r in rows
        if (not unresolved or r["unresolved"]) and wanted <= {t.lower() for t in r["tags"]}
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    key_width = max((len(r["key"]) for r in rows), default=3)
    for r in rows:
        status = "unresolved" if r["unresolved"] else ("read" if r["read"] else "")
        tag_text = f"  [{', '.join(r['tags'])}]" if r["tags"] else ""
        year = r["year"] or ""
        click.echo(f"{r['key']:<{key_width}}  {year:<4}  {status:<10}  {r['title']}{tag_text}")
    pending = sum(r["unresolved"] for r in rows)
    _err(f"{len(rows)} entries, {pending} unresolved")


@cli.command()
@bib_option
@click.option("--offline", is_flag=True, help="No network: complete only what is cached.")
@click.option("--refresh", is_flag=True, help="Ask the APIs again instead of using the cache.")
@click.option("-n", "--dry-run", is_flag=True, help="Resolve, but write nothing.")
@click.pass_obj
def resolve(state: AppState, bib: Path | None, offline: bool, refresh: bool, dry_run: bool) -> None:
    """Complete the entries that were added unresolved, in place."""
    from readlist.library import resolve_in_place

    config = state.config(**{"library.bib": bib})
    path = _existing_bib(config)
    with _resolver(config, offline=offline, refresh=refresh) as (resolver, _):
        outcome = resolve_in_place(path, resolver, config.bibtex, dry_run=dry_run)
    for key, paper in outcome.resolved:
        _err(f"resolved: {key}  arXiv:{paper.arxiv_id}  {paper.title}")
    for key, reason in outcome.unresolved:
        _err(f"unresolved: {key}: {reason}")
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
    outcome = retag_in_place(
        path, _tagger(config), ascii_only=config.bibtex.style == "bibtex", dry_run=dry_run
    )
    for key, tags in outcome.changed:
        click.echo(f"{key}: + {', '.join(tags)}")
    note = " (dry run: nothing written)" if dry_run else ""
    _err(f"{len(outcome.changed)} of {outcome.checked} entries gained tags{note}")


@cli.command()
@click.argument("tex", type=click.Path(path_type=Path))
@bib_option
@click.pass_obj
def check(state: AppState, tex: Path, bib: Path | None) -> None:
    """Report \\cite keys of a .tex file that the .bib lacks (exit 1 if any)."""
    from readlist.library import load_entries
    from readlist.texcheck import cite_keys_in_tex, missing_keys

    config = state.config(**{"library.bib": bib})
    path = _existing_bib(config)
    keys = {e.key for e in load_entries(path).entries}
    uses = cite_keys_in_tex(tex)
    missing = missing_keys(uses, keys)
    for item in missing:
        hint = f" (the .bib has '{item.hint}')" if item.hint else ""
        click.echo(f"{item.path}:{item.line}: {item.key}{hint}")
    cited = {u.key for u in uses if not u.is_all}
    if missing:
        distinct = len({m.key for m in missing})
        raise click.ClickException(
            f"{distinct} of {len(cited)} cited key{'s' if len(cited) != 1 else ''} "
            f"missing from {path}"
        )
    _err(f"all {len(cited)} cited keys are in {path}")


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

    cfg = state.config()
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
@click.option("-n", "--dry-run", is_flag=True, help="Show what would be created or updated.")
@click.pass_obj
def sync(
    state: AppState,
    bib: Path | None,
    collection: str | None,
    include_unresolved: bool,
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
    if skipped:
        _err(
            f"{skipped} unresolved entries not pushed (run `readlist resolve`, or pass "
            "--include-unresolved)"
        )
    sys.exit(_sync_to_zotero(config, triples, target, dry_run=dry_run))


@cli.command()
@click.argument("collection", required=False)
@bib_option
@click.option("-n", "--dry-run", is_flag=True, help="Print the entries instead of writing.")
@click.pass_obj
def pull(state: AppState, collection: str | None, bib: Path | None, dry_run: bool) -> None:
    """Write a Zotero collection into the .bib (appended; nothing else changes)."""
    from readlist.library import add_papers

    config = state.config(**{"library.bib": bib, "zotero.collection": collection})
    path = _bib_path(config)
    assert path is not None
    target = _collection(config)
    with _zotero(config) as library:
        pulled = library.collection_items(target)
        requests = library.requests
    papers = [replace(paper, resolved=True) for _, paper in pulled]
    outcome = add_papers(
        path, papers, config.bibtex, dry_run=dry_run, preferred_keys=[k for k, _ in pulled]
    )
    if dry_run and outcome.text:
        click.echo(outcome.text, nl=False)
    _err(f"{len(pulled)} items in Zotero collection {target}")
    sys.exit(_report_add(outcome, offline=True, dry_run=dry_run, reasons={}, requests=requests))


@cli.group()
def cache() -> None:
    """Inspect or clear the resolution cache (arXiv metadata and title look-ups)."""


@cache.command(name="info")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_obj
def cache_info(state: AppState, as_json: bool) -> None:
    """Print where the cache is and what it holds."""
    from readlist.resolve.cache import Cache

    with Cache.open(state.config().cache_dir) as store:
        info = store.info()
    data = {
        "path": str(info.path),
        "size_bytes": info.size_bytes,
        "arxiv_entries": info.entries,
        "lookups_found": info.lookups_found,
        "lookups_not_found": info.lookups_not_found,
        "lookups_expired": info.lookups_expired,
    }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for name, value in data.items():
        click.echo(f"{name}: {value}")


@cache.command(name="clear")
@click.pass_obj
def cache_clear(state: AppState) -> None:
    """Forget everything cached; the next run asks the APIs again."""
    from readlist.resolve.cache import Cache

    with Cache.open(state.config().cache_dir) as store:
        removed = store.clear()
    _err(f"cache cleared: {removed} rows removed from {store.path}")


def main() -> None:
    """Entry point of the `readlist` console script."""
    cli(prog_name="readlist")
