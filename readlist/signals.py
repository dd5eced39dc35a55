"""Stopping on SIGINT, SIGTERM and SIGHUP without losing or half-writing anything.

Three pieces, each small:

- `Interrupted`: what a stop signal becomes (a `KeyboardInterrupt`, so code that already lets
  Ctrl-C through lets SIGTERM and SIGHUP through too). The CLI installs `raising_handlers`.
- `deferred`: a block that no stop signal can cut in half (the .bib write, a cache commit).
  Signals that arrive meanwhile are delivered right after the block.
- `run_stoppable`: run network work in a helper thread, so that a signal never lands in the
  middle of a request or of the commit of its answer; on a signal the work is asked to stop
  after what is in flight, given a moment to save it, and the signal goes on.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TypeVar

_T = TypeVar("_T")

# The signals that mean "stop" to a command-line tool.
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
# How long in-flight requests get to finish (and be saved) after a stop signal.
GRACE_SECONDS = 5.0


class Interrupted(KeyboardInterrupt):
    """A stop signal (SIGINT, SIGTERM, SIGHUP) arrived."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


class Stopped(BaseException):
    """Work was asked to stop (see `run_stoppable`); a BaseException so no handler eats it."""


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def raising_handlers() -> Iterator[None]:
    """Turn SIGINT, SIGTERM and SIGHUP into `Interrupted` for the duration of the block.

    A signal the process ignores (SIGHUP under `nohup`) stays ignored.
    """
    if not _in_main_thread():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signum)

    previous = {}
    for signum in STOP_SIGNALS:
        current = signal.getsignal(signum)
        if current is signal.SIG_IGN or current is None:
            continue
        previous[signum] = signal.signal(signum, stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP until the block ends; then deliver them.

    The signals are blocked in this thread (so no system call in the block is interrupted),
    and, in the main thread, their handlers are swapped for one that only takes note, because
    a process-directed signal may be delivered to another thread that does not block it. On
    leaving, the original handlers come back first, then the mask, then whatever was noted
    is raised again: a Python handler then raises right after the block, a default one ends
    the process right after the block, an ignored one stays ignored.
    """
    can_mask = hasattr(signal, "pthread_sigmask")
    if not _in_main_thread():
        if not can_mask:  # pragma: no cover - not POSIX
            yield
            return
        thread_mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, thread_mask)
        return

    noted: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        noted.append(signum)

    previous: dict[int, object] = {}
    for signum in STOP_SIGNALS:
        current = signal.getsignal(signum)
        if current is signal.SIG_IGN or current is None:
            continue  # ignored (nothing to defer) or set outside Python (cannot restore)
        previous[signum] = signal.signal(signum, note)
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS) if can_mask else None
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]
        if old_mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        for pending in dict.fromkeys(noted):
            signal.raise_signal(pending)


def run_stoppable(
    work: Callable[[], _T], stop: threading.Event, *, grace: float = GRACE_SECONDS
) -> _T:
    """Run `work()` in a helper thread and return its result, or raise its exception.

    When the waiting thread is interrupted (Ctrl-C, or an `Interrupted` from
    `raising_handlers`), `stop` is set so that `work` ends after what it has in flight (it
    checks `stop` between requests), the helper gets up to `grace` seconds to save that, and
    the interruption goes on. Outside the main thread no signal arrives: `work` runs here.
    """
    if not _in_main_thread():
        return work()
    outcome: dict[str, object] = {}
    # Waited on instead of Thread.join: a join that a signal interrupts marks the thread as
    # ended although it still runs (CPython bpo-45274's fix), and a second join returns at once.
    finished = threading.Event()

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # handed to the waiting thread below
            outcome["error"] = error
        finally:
            finished.set()

    helper = threading.Thread(target=target, name="readlist-work", daemon=True)
    helper.start()
    try:
        finished.wait()
    except BaseException:
        stop.set()
        finished.wait(grace)
        raise
    if "error" in outcome:
        error = outcome["error"]
        assert isinstance(error, BaseException)
        raise error
    return outcome["value"]  # type: ignore[return-value]


def stoppable_sleep(stop: threading.Event) -> Callable[[float], None]:
    """A `time.sleep` for API clients that raises `Stopped` as soon as `stop` is set."""

    def sleep(seconds: float) -> None:
        if stop.wait(max(seconds, 0.0)):
            raise Stopped()

    return sleep
