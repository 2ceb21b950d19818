"""SIGINT and SIGTERM stop a run between files, never in the middle of writing one.

SIGTERM's default action kills the process on the spot, leaving a half-written
temporary file behind; while `handled()` is in force both signals raise `Interrupted`
instead, so that cleanup runs. Inside `deferred()` (writing and renaming a fixed file)
a signal is held until the block ends, so a file is always either old or new.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """A signal asked txlint to stop; like KeyboardInterrupt, no `except Exception` catches it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)  # the only argument, so that it pickles (from pool workers)
        self.signum = signum

    def __str__(self) -> str:
        return f"interrupted by {signal.Signals(self.signum).name}"


def interruption_behind(error: BaseException) -> Interrupted | None:
    """The `Interrupted` that `error` was raised while unwinding from, if any.

    Code that a signal interrupts can fail in its own cleanup: libcst's position
    provider raises a KeyError from a `finally` clause when `Interrupted` passes through
    it. That error then replaces the signal, and `except Exception` would swallow it."""
    seen: set[int] = set()
    context = error.__context__
    while context is not None and id(context) not in seen:
        if isinstance(context, Interrupted):
            return context
        seen.add(id(context))
        context = context.__context__
    return None


_held: list[int] = []
_deferring = 0


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if _deferring:
        _held.append(signum)
    else:
        raise Interrupted(signum)


@contextmanager
def handled() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into `Interrupted`; the previous handlers come back after."""
    try:
        previous = {signum: signal.signal(signum, _on_signal) for signum in HANDLED}
    except ValueError:  # not the main thread: signals are the embedding program's business
        yield
        return
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block is done, then stop as they asked."""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if not _deferring and _held:
            signum = _held[0]
            _held.clear()
            raise Interrupted(signum)
