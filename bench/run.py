"""Benchmarks for readlist, each printed as a ratio to a baseline measured in the same run.

Run from the repository root with the project installed:

    .venv/bin/python bench/run.py            # all benchmarks
    .venv/bin/python bench/run.py --quick    # fewer repetitions

1. add: `readlist add` of 10 papers to a generated 20,000-entry .bib, against a bare
   `bibtexparser.parse_file` of the same file. Both run as fresh processes, so both pay
   interpreter start-up; peak memory (max RSS) is reported for both. Target: ratio <= 1.5.
2. start-up: `readlist --help` against `python -c pass`. Target: <= 150 ms.
3. resolve: `readlist add` of every sample listing against loopback arXiv and Hugging Face
   doubles (readlist/testing/fakeapis.py) that enforce arXiv's real 3 s pacing: requests per
   listing and wall time against the pacing floor ((arXiv requests - 1) x 3 s), cold and warm.
   Targets: cold <= 45 s, warm < 2 s with no requests, zero wrong arXiv IDs.
4. zotero: `readlist sync` of a .bib with N=200 resolved papers into a new collection of a
   loopback Zotero double (readlist/testing/fakezotero.py), then a re-sync of the unchanged library:
   requests made, against the floor ceil(N/50) item writes. Targets: writes = ceil(N/50) plus a
   small constant of reads; re-sync <= 3 requests.
5. library: warm and cold `add`/`show`/`list --json` on generated 20,000- and 100,000-entry
   libraries, and a 5,000-paper listing into 20,000 entries, as ratios (time, peak RSS) to a
   bare parse of the same file in the same run (`--sizes` picks the sizes).
6. listing: `readlist show BIG` and `readlist add BIG --all --offline --dry-run` of a generated
   Hugging Face text listing (`--listing-mb`, default 200 MB) and of a file of arXiv IDs and
   URLs (`--ids-mb`, default 20 MB: each ID becomes a whole entry): peak RSS as a multiple of
   the file's size, and time against a bare read of the file in chunks.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable
READLIST = [PYTHON, "-m", "readlist"]
WORDS = [
    "multimodal",
    "retrieval",
    "language",
    "model",
    "vision",
    "video",
    "learning",
    "scaling",
    "benchmark",
    "dataset",
    "transformer",
    "attention",
    "diffusion",
    "graph",
    "reasoning",
    "agent",
    "policy",
    "robust",
    "efficient",
    "sparse",
    "contrastive",
    "generation",
    "alignment",
    "instruction",
    "tuning",
    "evaluation",
    "open",
    "large",
    "small",
]


def generate_bib(path: Path, count: int, seed: int = 7) -> None:
    """Write a realistic .bib of `count` entries (mixed types, abstracts, @string, comments)."""
    rng = random.Random(seed)
    out = ["% generated for the readlist benchmark\n", '@string{neurips = "NeurIPS"}\n\n']
    for i in range(count):
        title = " ".join(rng.choice(WORDS).capitalize() for _ in range(rng.randint(5, 12)))
        authors = " and ".join(
            f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS).capitalize()}"
            for _ in range(rng.randint(1, 8))
        )
        abstract = " ".join(rng.choice(WORDS) for _ in range(rng.randint(60, 180)))
        year = rng.randint(1990, 2025)
        if i % 3 == 0:
            arxiv = f"{year % 100:02d}{rng.randint(1, 12):02d}.{rng.randint(10000, 99999)}"
            out.append(
                f"@misc{{key{i},\n  title = {{{title}}},\n  author = {{{authors}}},\n"
                f"  year = {{{year}}},\n  eprint = {{{arxiv}}},\n  archivePrefix = {{arXiv}},\n"
                f"  primaryClass = {{cs.CL}},\n  abstract = {{{abstract}}},\n"
                f"  keywords = {{{rng.choice(WORDS)}, {rng.choice(WORDS)}}}\n}}\n\n"
            )
        else:
            out.append(
                f"@inproceedings{{key{i},\n  title = {{{title}}},\n  author = {{{authors}}},\n"
                f"  booktitle = neurips,\n  year = {year},\n  month = jun,\n"
                f"  pages = {{{i}--{i + 9}}},\n  doi = {{10.1000/bench.{i}}},\n"
                f"  abstract = {{{abstract}}}\n}}\n\n"
            )
    path.write_text("".join(out), encoding="utf-8")


def run_timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Run `cmd`; return wall seconds and the child's max RSS in KiB."""
    elapsed, rss, _ = run_measured(cmd, env)
    return elapsed, rss


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[float, int, float]:
    """Run `cmd`; return wall seconds, the child's max RSS in KiB and its CPU seconds."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, rusage = os.wait4(proc.pid, 0)[1:]
    elapsed = time.perf_counter() - start
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    status = proc.poll()
    if status not in (0, None):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{stderr}")
    return elapsed, rusage.ru_maxrss, rusage.ru_utime + rusage.ru_stime


def bench_add(workdir: Path, repeats: int, env: dict[str, str]) -> None:
    big = workdir / "big.bib"
    generate_bib(big, 20_000)
    size_mb = big.stat().st_size / 1e6
    baseline_cmd = [PYTHON, "-c", f"import bibtexparser; bibtexparser.parse_file({str(big)!r})"]
    ids = [f"2501.{10000 + i}" for i in range(10)]
    base_times, base_rss, ours_times, ours_rss = [], [], [], []
    for _ in range(repeats):
        t, rss = run_timed(baseline_cmd, env)
        base_times.append(t)
        base_rss.append(rss)
        target = workdir / "target.bib"
        shutil.copyfile(big, target)
        t, rss = run_timed([*READLIST, "add", *ids, "--offline", "--bib", str(target)], env)
        ours_times.append(t)
        ours_rss.append(rss)
        added = target.read_text(encoding="utf-8").count("readlist-status")
        if added != 10:
            raise SystemExit(f"benchmark add wrote {added} entries, expected 10")
    base, ours = statistics.median(base_times), statistics.median(ours_times)
    print(f"add 10 papers to a 20,000-entry .bib ({size_mb:.1f} MB), median of {repeats}:")
    print(
        f"  baseline bibtexparser.parse_file : {base:6.2f} s  peak {max(base_rss) / 1024:6.0f} MiB"
    )
    print(
        f"  readlist add (whole CLI run)     : {ours:6.2f} s  peak {max(ours_rss) / 1024:6.0f} MiB"
    )
    verdict = "ok" if ours / base <= 1.5 else "OVER TARGET"
    print(f"  ratio readlist/baseline          : {ours / base:6.2f}   (target <= 1.5: {verdict})")
    print(f"  memory ratio                     : {max(ours_rss) / max(base_rss):6.2f}")


def bench_startup(repeats: int, env: dict[str, str]) -> None:
    """`readlist --help` against `python -c pass`, and against `pubs --help` when pubs is
    installed (on PATH, or named by READLIST_BENCH_PUBS): wall and CPU time, interleaved."""
    pubs = os.environ.get("READLIST_BENCH_PUBS") or shutil.which("pubs")
    commands = {
        "python -c pass": [PYTHON, "-c", "pass"],
        "readlist --help": [*READLIST, "--help"],
    }
    if pubs:
        commands["pubs --help"] = [pubs, "--help"]
    walls: dict[str, list[float]] = {label: [] for label in commands}
    cpus: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(repeats):
        for label, cmd in commands.items():
            wall, _, cpu = run_measured(cmd, env)
            walls[label].append(wall)
            cpus[label].append(cpu)
    print(f"start-up, median of {repeats} (wall / CPU):")
    for label in commands:
        wall, cpu = statistics.median(walls[label]), statistics.median(cpus[label])
        print(f"  {label:17s}: {wall * 1000:6.1f} ms / {cpu * 1000:6.1f} ms CPU")
    cpu = statistics.median(cpus["readlist --help"])
    verdict = "ok" if cpu <= 0.060 else "OVER TARGET"
    print(f"  readlist --help CPU time       : target <= 60 ms: {verdict}")
    if pubs:
        ratio = cpu / statistics.median(cpus["pubs --help"])
        print(f"  ratio readlist/pubs (CPU)      : {ratio:6.2f}   (target < 1)")
    else:
        print("  pubs --help: pubs is not installed (pip install pubs, or READLIST_BENCH_PUBS)")


def bench_resolve(workdir: Path, env: dict[str, str]) -> None:
    root = Path(__file__).resolve().parents[1]
    listings = root / "tests" / "data" / "listings"
    from readlist.bibfile import read_bib
    from readlist.library import plain_field
    from readlist.normalize import normalize_title
    from readlist.testing.fakeapis import FakeArxiv, FakeHf, sample_papers

    world = sample_papers(listings)
    files = [str(p) for p in sorted(listings.glob("*.txt"))]
    delay = 3.0
    with FakeArxiv(world.papers, min_interval=delay) as arxiv, FakeHf(world.papers) as hf:
        run_env = {
            **env,
            "READLIST_ARXIV_API_URL": arxiv.url,
            "READLIST_HF_API_URL": hf.url,
            "READLIST_CACHE_DIR": str(workdir / "resolve-cache"),
        }
        bib = workdir / "resolved.bib"
        cmd = [*READLIST, "add", *files, "--all", "--bib", str(bib)]
        timings = []
        for label in ("cold", "warm"):
            before = (len(arxiv.requests), len(hf.requests))
            start = time.perf_counter()
            subprocess.run(cmd, env=run_env, capture_output=True, check=False)
            elapsed = time.perf_counter() - start
            counts = (len(arxiv.requests) - before[0], len(hf.requests) - before[1])
            timings.append((label, elapsed, counts))
            if label == "cold":
                bib.unlink(missing_ok=True)  # warm: same listings, fresh .bib, full cache
        entries = read_bib(bib).entries
    wrong = resolved = 0
    for entry in entries:
        truth = world.truth.get(normalize_title(plain_field(entry.fields.get("title", ""))))
        if not entry.is_unresolved:
            resolved += 1
            wrong += entry.fields.get("eprint") != truth
    findable = sum(1 for t in world.truth.values() if t)
    listings = len(world.truth)
    print(f"resolve {listings} distinct listings against loopback APIs with {delay:.0f} s pacing:")
    for label, elapsed, (n_arxiv, n_hf) in timings:
        floor = max(0, n_arxiv - 1) * delay
        print(
            f"  {label}: {elapsed:6.1f} s  arXiv requests {n_arxiv:3d}  HF requests {n_hf:4d}  "
            f"({(n_arxiv + n_hf) / listings:.2f} per listing)  pacing floor {floor:5.1f} s  "
            f"ratio {elapsed / floor if floor else float('nan'):.2f}"
        )
    print(
        f"  resolved {resolved} of {findable} findable ({resolved / findable:.1%}), "
        f"wrong arXiv IDs: {wrong}, pacing violations: {arxiv.violations}"
    )
    cold, warm = timings[0][1], timings[1][1]
    ok = cold <= 45 and warm < 2 and wrong == 0 and sum(timings[1][2]) == 0
    verdict = "ok" if ok else "MISSED"
    print(f"  targets (cold <= 45 s, warm < 2 s with 0 requests, 0 wrong): {verdict}")


def bench_zotero(workdir: Path, env: dict[str, str], count: int = 200) -> None:
    from readlist.library import BibOptions, add_papers
    from readlist.models import ArxivId, Paper
    from readlist.testing.fakezotero import FakeZotero

    bib = workdir / "zotero.bib"
    papers = [
        Paper(
            title=f"Benchmark Paper Number {i}: On Syncing",
            authors=("Ada Lovelace", "Alan Turing"),
            arxiv_id=ArxivId(f"2401.{10000 + i}"),
            year=2024,
            month=1,
            primary_category="cs.DL",
            abstract="An abstract.",
            tags=("bench",),
            resolved=True,
        )
        for i in range(count)
    ]
    add_papers(bib, papers, BibOptions())
    with FakeZotero(api_key="bench-key") as fake:
        run_env = {
            **env,
            "READLIST_ZOTERO_API_URL": fake.url,
            "ZOTERO_API_KEY": "bench-key",
            "ZOTERO_LIBRARY_ID": "123",
            "READLIST_CACHE_DIR": str(workdir / "zotero-cache"),
        }
        cmd = [*READLIST, "sync", "--bib", str(bib), "--collection", "Bench/Sync"]
        rows = []
        for label in ("first sync", "re-sync"):
            before = len(fake.requests)
            start = time.perf_counter()
            subprocess.run(cmd, env=run_env, capture_output=True, check=False)
            elapsed = time.perf_counter() - start
            made = fake.requests[before:]
            writes = sum(1 for r in made if r.method == "POST" and r.path.endswith("/items"))
            rows.append((label, len(made), writes, elapsed))
        items = len(fake.top_items)
        objects = len(fake.items)  # the papers and their children (PDF links, notes)
    # 50 objects per write; an item travels with its children in the same request.
    floor = -(-objects // 50)
    print(f"zotero sync of {count} new papers (loopback Zotero double):")
    for label, total, writes, elapsed in rows:
        print(
            f"  {label:10s}: {total:3d} requests, {writes} item writes "
            f"(floor {floor if label == 'first sync' else 0}), {elapsed:5.2f} s"
        )
    ok = rows[0][2] == floor and rows[1][1] <= 3 and items == count
    print(
        f"  items in the library: {items} (+ {objects - items} notes and PDF links); "
        f"targets: {'ok' if ok else 'MISSED'}"
    )


def bench_library(workdir: Path, repeats: int, env: dict[str, str], sizes: list[int]) -> None:
    """Warm and cold `add`/`show`/`list --json` on big generated libraries (issue: big libraries).

    Each command runs as a fresh process, interleaved with a bare `bibtexparser.parse_file` of
    the same file, and is printed as a ratio to it (time and peak RSS). "cold" runs with an
    empty cache directory; "warm" runs after a `readlist list --json` of the unchanged file in
    the same cache directory (what a readlist that keeps an index of the .bib can answer
    without parsing). A 5,000-paper offline listing into 20,000 entries is measured cold.
    """
    ids = [f"2501.{20000 + i}" for i in range(10)]
    listing = workdir / "ten.txt"
    listing.write_text("\n".join(ids) + "\n")
    big_listing = workdir / "five-thousand.txt"
    big_listing.write_text(
        "\n\n".join(
            f"Generated Paper Number {i} On {WORDS[i % len(WORDS)].title()} Methods\n\n"
            f"An abstract about {WORDS[(i * 7) % len(WORDS)]} and {WORDS[(i * 3) % len(WORDS)]}."
            for i in range(5000)
        )
        + "\n"
    )
    for count in sizes:
        big = workdir / f"lib{count}.bib"
        generate_bib(big, count)
        target = workdir / "target.bib"
        baseline_cmd = [
            PYTHON,
            "-c",
            f"import bibtexparser; bibtexparser.parse_file({str(target)!r})",
        ]
        commands = {
            "add 10 (cold)": ([*READLIST, "add", *ids, "--offline", "--bib", str(target)], False),
            "add 10 (warm)": ([*READLIST, "add", *ids, "--offline", "--bib", str(target)], True),
            "show (cold)": ([*READLIST, "show", str(listing), "--bib", str(target)], False),
            "show (warm)": ([*READLIST, "show", str(listing), "--bib", str(target)], True),
            "list --json (cold)": ([*READLIST, "list", "--json", "--bib", str(target)], False),
            "list --json (warm)": ([*READLIST, "list", "--json", "--bib", str(target)], True),
        }
        if count == 20_000:
            commands["add 5,000 (cold)"] = (
                [*READLIST, "add", str(big_listing), "--all", "--offline", "--bib", str(target)],
                False,
            )
        base_t: list[float] = []
        base_m: list[int] = []
        ours: dict[str, tuple[list[float], list[int]]] = {k: ([], []) for k in commands}
        for round_ in range(repeats):
            shutil.copyfile(big, target)
            t, rss = run_timed(baseline_cmd, env)
            base_t.append(t)
            base_m.append(rss)
            for label, (cmd, warm) in commands.items():
                shutil.copyfile(big, target)
                cache = workdir / f"cache-{count}-{round_}-{label.split()[0]}"
                shutil.rmtree(cache, ignore_errors=True)
                run_env = {**env, "READLIST_CACHE_DIR": str(cache)}
                if warm:
                    run_timed([*READLIST, "list", "--json", "--bib", str(target)], run_env)
                t, rss = run_timed(cmd, run_env)
                ours[label][0].append(t)
                ours[label][1].append(rss)
        base = statistics.median(base_t)
        peak = max(base_m)
        size_mb = big.stat().st_size / 1e6
        print(f"library of {count:,} entries ({size_mb:.0f} MB), median of {repeats}:")
        print(f"  bare bibtexparser.parse_file : {base:6.2f} s  peak {peak / 1024:6.0f} MiB")
        for label, (times, peaks) in ours.items():
            t = statistics.median(times)
            print(
                f"  {label:28s} : {t:6.2f} s  ratio {t / base:5.2f}  "
                f"peak {max(peaks) / 1024:6.0f} MiB  ratio {max(peaks) / peak:5.2f}"
            )


def generate_listing(path: Path, size: int, seed: int = 11) -> None:
    """Write a Hugging Face Papers text listing of about `size` bytes (chrome, title, abstract)."""
    rng = random.Random(seed)
    abstracts = []
    for _ in range(200):
        sentences = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 25))).capitalize() + "."
            for _ in range(rng.randint(6, 12))
        ]
        abstracts.append(" ".join(sentences))
    written = 0
    with path.open("w", encoding="utf-8") as out:
        out.write("Daily Papers\nby AK and the research community\nApr 28\n\n")
        number = 0
        while written < size:
            words = " ".join(rng.choice(WORDS).capitalize() for _ in range(rng.randint(4, 9)))
            block = f"{words}: Paper {number}\n\n{abstracts[number % len(abstracts)]}\n\n"
            if number % 7 == 0:
                block += f"{rng.randint(1, 99)}\nupvote\n\n"
            out.write(block)
            written += len(block)
            number += 1


def generate_ids(path: Path, size: int) -> None:
    """Write about `size` bytes of arXiv IDs and URLs in the forms users paste, with comments."""
    forms = (
        "{}",
        "{}v2",
        "arXiv:{}",
        "https://arxiv.org/abs/{}",
        "https://arxiv.org/pdf/{}v1",
        "https://huggingface.co/papers/{}",
    )
    written = 0
    with path.open("w", encoding="utf-8") as out:
        number = 0
        while written < size:
            arxiv_id = f"{2301 + number // 90000 % 12:04d}.{10000 + number % 90000:05d}"
            line = forms[number % len(forms)].format(arxiv_id) + "\n"
            if number % 1000 == 0:
                line = f"# batch {number // 1000}\n" + line
            out.write(line)
            written += len(line)
            number += 1


def bench_listing(workdir: Path, env: dict[str, str], listing_mb: float, ids_mb: float) -> None:
    """Peak RSS and time of `show` and an offline dry-run `add` of a huge listing."""
    cases = []
    if listing_mb > 0:
        text = workdir / "huge-listing.txt"
        generate_listing(text, int(listing_mb * 1e6))
        cases.append(("text listing", text))
    if ids_mb > 0:
        ids = workdir / "huge-ids.txt"
        generate_ids(ids, int(ids_mb * 1e6))
        cases.append(("arXiv IDs/URLs", ids))
    for label, path in cases:
        size = path.stat().st_size
        bare = [
            PYTHON,
            "-c",
            "import sys\nwith open(sys.argv[1], 'rb') as f:\n    while f.read(1 << 20): pass",
            str(path),
        ]
        base_t, base_rss = run_timed(bare, env)
        bib = workdir / "listing-new.bib"
        commands = {
            "show": [*READLIST, "show", str(path)],
            "add --all --offline --dry-run": [
                *READLIST,
                "add",
                str(path),
                "--all",
                "--offline",
                "--bib",
                str(bib),
                "--dry-run",
            ],  # fmt: skip
        }
        print(f"{label} of {size / 1e6:.0f} MB, one run each:")
        print(f"  bare chunked read of the file : {base_t:6.2f} s  peak {base_rss / 1024:6.0f} MiB")
        for name, cmd in commands.items():
            t, rss = run_timed(cmd, env)
            print(
                f"  readlist {name:29s}: {t:6.2f} s  ratio {t / base_t:6.1f}  peak "
                f"{rss / 1024:6.0f} MiB = {rss * 1024 / size:5.2f} x the file"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument(
        "only",
        nargs="*",
        help="benchmarks to run: add, startup, resolve, zotero, library, listing (default: all)",
    )
    parser.add_argument(
        "--listing-mb",
        type=float,
        default=200,
        help="size of the generated text listing for the listing benchmark (default: 200)",
    )
    parser.add_argument(
        "--ids-mb",
        type=float,
        default=20,
        help="size of the generated file of IDs for the listing benchmark (default: 20)",
    )
    parser.add_argument(
        "--sizes",
        default="20000,100000",
        help="library sizes for the library benchmark (default: 20000,100000)",
    )
    args = parser.parse_args()
    # Compiled bytecode is cached as in an installed tool, for readlist and baselines alike.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("READLIST_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    with tempfile.TemporaryDirectory(prefix="readlist-bench-") as tmp:
        workdir = Path(tmp)
        (workdir / "config.toml").write_text("")
        env["READLIST_CONFIG"] = str(workdir / "config.toml")
        env["READLIST_CACHE_DIR"] = str(workdir / "cache")
        selected = args.only or ["add", "startup", "resolve", "zotero", "library", "listing"]
        if "add" in selected:
            bench_add(workdir, 3 if args.quick else 5, env)
        if "startup" in selected:
            bench_startup(5 if args.quick else 20, env)
        if "resolve" in selected:
            bench_resolve(workdir, env)
        if "zotero" in selected:
            bench_zotero(workdir, env)
        if "library" in selected:
            sizes = [int(n) for n in args.sizes.split(",") if n.strip()]
            bench_library(workdir, 1 if args.quick else 3, env, sizes)
        if "listing" in selected:
            bench_listing(workdir, env, args.listing_mb, args.ids_mb)


if __name__ == "__main__":
    main()
