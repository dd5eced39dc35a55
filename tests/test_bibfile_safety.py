"""Writing the user's .bib safely: links, hard links, modes, read-only files, stop signals."""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from readlist import bibfile
from readlist.bibfile import check_writable, locked, read_bib, write_atomic
from readlist.cli import cli
from readlist.errors import BibFileError
from readlist.signals import Interrupted, deferred, raising_handlers

OLD = b"% my library\n@misc{old,\n  title = {Old},\n  keywords = {a}\n}\n"
APPENDED = OLD + b"\n@misc{new,\n  title = {New}\n}\n"
EDITED = OLD.replace(b"{a}", b"{a, b}") + b"\n@misc{new,\n  title = {New}\n}\n"


def leftovers(*folders: Path) -> list[str]:
    """Temporary files a write left behind."""
    return [
        p.name
        for folder in folders
        for p in folder.iterdir()
        if p.name.endswith((".tmp", ".readlist-new"))
    ]


def make_link(kind: str, root: Path) -> tuple[Path, Path]:
    """Return (the name the user passes, the file it stands for) for one kind of link."""
    central = root / "library"
    paper = root / "paper"
    central.mkdir()
    paper.mkdir()
    target = central / "refs.bib"
    target.write_bytes(OLD)
    link = paper / "refs.bib"
    if kind == "absolute":
        link.symlink_to(target)
    elif kind == "relative":
        link.symlink_to(Path("..") / "library" / "refs.bib")
    elif kind == "chain":
        middle = root / "middle.bib"
        middle.symlink_to(Path("library") / "refs.bib")
        link.symlink_to(middle)
    elif kind == "same-folder":
        target = paper / "central.bib"
        target.write_bytes(OLD)
        link.symlink_to("central.bib")
    return link, target


@pytest.mark.parametrize("kind", ["absolute", "relative", "chain", "same-folder"])
@pytest.mark.parametrize("data", [APPENDED, EDITED], ids=["append", "edit"])
def test_a_symlink_writes_its_target_and_stays_a_link(
    tmp_path: Path, kind: str, data: bytes
) -> None:
    link, target = make_link(kind, tmp_path)
    before = os.readlink(link)
    target.chmod(0o640)
    with locked(link):
        write_atomic(link, data)
    assert link.is_symlink() and os.readlink(link) == before
    assert target.read_bytes() == data
    assert target.stat().st_mode & 0o777 == 0o640
    assert leftovers(link.parent, target.parent) == []


def test_the_lock_is_taken_beside_the_target(tmp_path: Path) -> None:
    import fcntl

    link, target = make_link("absolute", tmp_path)
    with locked(link):
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)


@pytest.mark.parametrize("data", [APPENDED, EDITED, OLD[:20]], ids=["append", "edit", "shrink"])
def test_a_hard_linked_file_keeps_its_inode(tmp_path: Path, data: bytes) -> None:
    first = tmp_path / "refs.bib"
    first.write_bytes(OLD)
    first.chmod(0o600)
    other = tmp_path / "sync" / "refs.bib"
    other.parent.mkdir()
    os.link(first, other)
    inode = first.stat().st_ino
    write_atomic(first, data)
    assert first.stat().st_ino == other.stat().st_ino == inode
    assert first.stat().st_nlink == 2
    assert other.read_bytes() == data
    assert first.stat().st_mode & 0o777 == 0o600
    assert leftovers(tmp_path, other.parent) == []


def test_a_hard_linked_append_never_rewrites_the_original_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "refs.bib"
    path.write_bytes(OLD)
    os.link(path, tmp_path / "other.bib")
    offsets: list[int] = []
    real = bibfile._write_all

    def spy(fd: int, data: bytes, offset: int) -> None:
        offsets.append(offset)
        real(fd, data, offset)

    monkeypatch.setattr(bibfile, "_write_all", spy)
    write_atomic(path, APPENDED)
    assert offsets == [len(OLD)]  # only the tail, no safety copy needed


def test_a_failed_in_place_edit_puts_the_old_text_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "refs.bib"
    path.write_bytes(OLD)
    os.link(path, tmp_path / "other.bib")
    real_fsync = os.fsync
    calls = []

    def failing_fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:  # the safety copy is synced; the in-place write is not
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(BibFileError, match="No space left"):
        write_atomic(path, EDITED)
    assert path.read_bytes() == OLD
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o604, 0o660])
def test_the_mode_is_kept(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "refs.bib"
    path.write_bytes(OLD)
    path.chmod(mode)
    write_atomic(path, APPENDED)
    assert path.stat().st_mode & 0o777 == mode


@pytest.mark.parametrize("mode", [0o444, 0o400, 0o044])
def test_a_read_only_file_is_refused_and_left_alone(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "refs.bib"
    path.write_bytes(OLD)
    path.chmod(mode)
    with pytest.raises(BibFileError, match=r"refs.bib: is read-only \(mode 0[0-7]{3}\)"):
        write_atomic(path, APPENDED)
    assert path.read_bytes() == OLD
    assert path.stat().st_mode & 0o777 == mode
    assert leftovers(tmp_path) == []


def test_a_read_only_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "refs.bib"
    path.write_bytes(OLD)
    folder.chmod(0o555)
    try:
        with pytest.raises(BibFileError, match="its folder .*ro is read-only"):
            write_atomic(path, APPENDED)
        assert path.read_bytes() == OLD
        assert leftovers(folder) == []
    finally:
        folder.chmod(0o755)


def test_a_dangling_link_is_refused_not_replaced(tmp_path: Path) -> None:
    link = tmp_path / "refs.bib"
    link.symlink_to(tmp_path / "unmounted" / "refs.bib")
    with pytest.raises(BibFileError, match="symbolic link to .*unmounted/refs.bib, which does"):
        write_atomic(link, APPENDED)
    assert link.is_symlink() and not (tmp_path / "unmounted").exists()
    loop = tmp_path / "loop.bib"
    loop.symlink_to(loop)
    with pytest.raises(BibFileError, match="cannot follow the symbolic link"):
        check_writable(loop)


def test_a_directory_or_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BibFileError, match="is a directory"):
        check_writable(tmp_path)
    with pytest.raises(BibFileError, match="folder .*nope does not exist"):
        check_writable(tmp_path / "nope" / "refs.bib")


def test_temp_files_of_a_killed_writer_are_removed_under_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    path.write_bytes(OLD)
    stale = tmp_path / ".refs.bib.k1ll3d_9.tmp"
    stale.write_bytes(b"half")
    others = [tmp_path / ".other.bib.abcdefgh.tmp", tmp_path / ".refs.bib.tmp"]
    for other in others:
        other.write_bytes(b"not ours to remove")
    with locked(path):
        assert not stale.exists()
    assert all(other.exists() for other in others)


# -- stop signals during the write ----------------------------------------------------------


def test_deferred_delivers_a_signal_after_the_block() -> None:
    steps: list[str] = []
    with raising_handlers(), pytest.raises(Interrupted) as info:
        with deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            steps.append("still running")
        steps.append("after the block")  # pragma: no cover - the signal lands before
    assert steps == ["still running"]
    assert info.value.signum == signal.SIGTERM


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
@pytest.mark.parametrize("hard_link", [False, True], ids=["rename", "in-place"])
def test_a_signal_in_the_middle_of_the_write_waits_for_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: int, hard_link: bool
) -> None:
    path = tmp_path / "refs.bib"
    path.write_bytes(OLD)
    if hard_link:
        os.link(path, tmp_path / "other.bib")
    real: Callable[[int, bytes, int], None] = bibfile._write_all

    def interrupted_write(fd: int, data: bytes, offset: int) -> None:
        real(fd, data[:5], offset)
        os.kill(os.getpid(), signum)  # the signal arrives with the write half done
        real(fd, data[5:], offset + 5)

    monkeypatch.setattr(bibfile, "_write_all", interrupted_write)
    with raising_handlers(), pytest.raises(Interrupted):
        write_atomic(path, EDITED)
    assert path.read_bytes() == EDITED
    assert leftovers(tmp_path) == []


# -- through the command line ---------------------------------------------------------------


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_add_through_a_symlink_fills_the_central_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    link, target = make_link("relative", tmp_path)
    result = run("add", "2504.10479", "--offline", "--bib", str(link))
    assert result.exit_code == 0, result.output
    assert link.is_symlink()
    assert [e.key for e in read_bib(target).entries] == ["old", "arxiv250410479"]


def test_cli_refuses_a_directory_in_one_line_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, servers
) -> None:
    arxiv, hf = servers
    (tmp_path / "papers").mkdir()
    result = run("add", "2504.10479", "--bib", "papers")
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "Error: papers: is a directory, not a .bib file (name the file, e.g. papers/refs.bib)\n"
    )
    monkeypatch.setenv("READLIST_BIB", "papers")
    assert run("add", "2504.10479").stderr == result.stderr
    assert arxiv.requests == [] and hf.requests == []


@pytest.mark.parametrize("command", ["add", "retag", "resolve"])
def test_cli_refuses_a_read_only_bib_before_any_request(
    tmp_path: Path, servers, command: str
) -> None:
    arxiv, hf = servers
    path = tmp_path / "refs.bib"
    text = b"@misc{k,\n  title = {Pending},\n  readlist-status = {unresolved}\n}\n"
    path.write_bytes(text)
    path.chmod(0o444)
    args = {"add": ["add", "2504.10479"], "retag": ["retag"], "resolve": ["resolve"]}[command]
    result = run(*args, "--bib", "refs.bib")
    assert result.exit_code == 1, result.output
    assert result.stderr == (
        "Error: refs.bib: is read-only (mode 0444); nothing was written (make it writable, "
        "e.g. chmod u+w, to add to it)\n"
    )
    assert path.read_bytes() == text
    assert arxiv.requests == [] and hf.requests == []
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("hard_link", [False, True], ids=["rename", "in-place"])
def test_cli_retag_interrupted_in_the_write_finishes_it_then_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: Path, hard_link: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    (isolated_env / "config.toml").write_text('[tags]\nnew = ["old"]\n')
    path = tmp_path / "refs.bib"
    path.write_bytes(OLD)
    if hard_link:
        os.link(path, tmp_path / "other.bib")
    real = bibfile._write_all

    def interrupted_write(fd: int, data: bytes, offset: int) -> None:
        real(fd, data[:5], offset)
        os.kill(os.getpid(), signal.SIGTERM)
        real(fd, data[5:], offset + 5)

    monkeypatch.setattr(bibfile, "_write_all", interrupted_write)
    result = run("retag", "--bib", "refs.bib")
    assert result.exit_code == 128 + signal.SIGTERM, result.output
    assert result.stderr == "Interrupted (SIGTERM): refs.bib was written in full before stopping.\n"
    assert path.read_bytes() == OLD.replace(b"{a}", b"{a, new}")
    assert leftovers(tmp_path) == []


def test_cli_interrupted_before_writing_says_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "refs.bib"
    path.write_bytes(OLD)

    def stop_while_reading(path: Path, cache_dir: Path | None = None) -> None:
        os.kill(os.getpid(), signal.SIGHUP)

    monkeypatch.setattr("readlist.library.read_bib", stop_while_reading)
    result = run("add", "2504.10479", "--offline", "--bib", "refs.bib")
    assert result.exit_code == 128 + signal.SIGHUP, result.output
    assert result.stderr == (
        "Interrupted (SIGHUP): refs.bib unchanged; nothing fetched yet — run the same command "
        "again to continue.\n"
    )
    assert path.read_bytes() == OLD


def _add_five(name: str, batch: int) -> None:
    from readlist.library import BibOptions, add_papers
    from readlist.models import ArxivId, Paper

    papers = [
        Paper(title=f"Paper {batch} number {i}", arxiv_id=ArxivId(f"2401.{batch}{i:04d}"))
        for i in range(5)
    ]
    add_papers(Path(name), papers, BibOptions())


@pytest.mark.parametrize("kind", ["symlinks", "hard links"])
def test_eight_writers_through_different_names_lose_nothing(tmp_path: Path, kind: str) -> None:
    import multiprocessing

    target = tmp_path / "library" / "refs.bib"
    target.parent.mkdir()
    target.write_text("% mine\n")
    names = [target]
    for n in range(3):
        folder = tmp_path / f"paper{n}"
        folder.mkdir()
        name = folder / "refs.bib"
        if kind == "symlinks":
            name.symlink_to(Path("..") / "library" / "refs.bib")
        else:
            os.link(target, name)
        names.append(name)
    ctx = multiprocessing.get_context("fork")
    workers = [
        ctx.Process(target=_add_five, args=(str(names[b % len(names)]), b)) for b in range(1, 9)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    entries = read_bib(target).entries
    assert len(entries) == 40 and len({e.key for e in entries}) == 40
    assert target.read_text().startswith("% mine\n")
    for name in names[1:]:
        assert name.read_bytes() == target.read_bytes()
        assert kind == "hard links" or name.is_symlink()
    assert leftovers(target.parent, *(n.parent for n in names)) == []


def test_a_pipe_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "refs.bib"
    os.mkfifo(fifo)
    with pytest.raises(BibFileError, match="is not a regular file"):
        check_writable(fifo)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(old=st.binary(max_size=300), new=st.binary(max_size=300), cut=st.integers(0, 300))
def test_in_place_writes_give_exactly_the_new_bytes(
    tmp_path: Path, old: bytes, new: bytes, cut: int
) -> None:
    # Half of the examples share a prefix, as an append or an edit in the middle does.
    new = old[:cut] + new if cut % 2 else new
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    path = folder / "refs.bib"
    path.write_bytes(old)
    os.link(path, folder / "other.bib")
    inode = path.stat().st_ino
    write_atomic(path, new)
    assert (folder / "other.bib").read_bytes() == new
    assert path.stat().st_ino == inode
    assert leftovers(folder) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_root_editing_a_users_file_keeps_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    path.write_bytes(OLD)
    os.chown(path, 1234, 5678)
    write_atomic(path, APPENDED)
    assert (path.stat().st_uid, path.stat().st_gid) == (1234, 5678)
    assert path.read_bytes() == APPENDED


def test_a_cut_in_place_edit_is_reported_not_built_upon(tmp_path: Path) -> None:
    path = tmp_path / "refs.bib"
    torn = EDITED[:40] + OLD[40:]  # a crash in the middle of the in-place overwrite
    path.write_bytes(torn)
    os.link(path, tmp_path / "other.bib")
    copy = tmp_path / ".refs.bib.abcd1234.readlist-new"
    copy.write_bytes(EDITED)
    with (
        pytest.raises(BibFileError, match=r"earlier edit was cut short .*\.readlist-new: compare"),
        locked(path),
    ):
        pass  # pragma: no cover
    assert path.read_bytes() == torn and copy.exists()
    path.write_bytes(EDITED)  # the user restored it (or the edit had in fact finished)
    with locked(path):
        write_atomic(path, EDITED + b"% more\n")
    assert not copy.exists()
    assert (tmp_path / "other.bib").read_bytes() == EDITED + b"% more\n"


def test_appending_copies_the_unchanged_head_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from readlist.bibfile import append_atomic

    path = tmp_path / "refs.bib"
    head = b"@misc{a, title = {A}}\n" * 5000
    path.write_bytes(head)
    os.chmod(path, 0o640)
    copied: list[int] = []
    real = os.copy_file_range

    def counting(*args: int) -> int:
        copied.append(args[2])
        return real(*args)

    monkeypatch.setattr(os, "copy_file_range", counting)
    append_atomic(path, head, path.stat(), b"@misc{b, title = {B}}\n")
    assert path.read_bytes() == head + b"@misc{b, title = {B}}\n"
    assert copied and sum(copied) >= len(head)
    assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("how", ["changed", "replaced", "no copy_file_range"])
def test_appending_writes_the_head_it_read_when_it_cannot_copy_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    from readlist.bibfile import append_atomic

    path = tmp_path / "refs.bib"
    head = b"@misc{a, title = {A}}\n"
    path.write_bytes(head)
    seen = path.stat()
    if how == "changed":  # another program wrote the file after it was read
        path.write_bytes(b"@misc{z, title = {Z}}\n")
    elif how == "replaced":
        other = tmp_path / "other.bib"
        other.write_bytes(b"@misc{y, title = {Y}}\n")
        os.replace(other, path)
    else:
        monkeypatch.delattr(os, "copy_file_range")
    append_atomic(path, head, seen, b"@misc{b, title = {B}}\n")
    assert path.read_bytes() == head + b"@misc{b, title = {B}}\n"
