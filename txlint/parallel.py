"""Mapping a function over items in worker processes, results in the items' order."""

from __future__ import annotations

import gc
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

FORKS = "fork" in multiprocessing.get_all_start_methods()


class _Shared(Generic[Item, Result]):
    """The work of one forked map: the workers inherit it, so only indices are sent."""

    def __init__(self, function: Callable[[Item], Result], items: Sequence[Item]) -> None:
        self.function, self.items = function, items


_shared: _Shared[Any, Any] | None = None


def _call_shared(index: int) -> Any:
    assert _shared is not None
    return _shared.function(_shared.items[index])


class Workers:
    """A process pool, only for work worth it (two items or more).

    Where the platform forks, each map forks its own workers once its items exist: they
    inherit the items, the function and the parent's state (project facts, loaded rules),
    so no file's text is pickled and sent. Elsewhere one pool, started on first use,
    receives the items.
    """

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self._pool: ProcessPoolExecutor | None = None

    def map(self, function: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
        if self.jobs <= 1 or len(items) < 2:
            return [function(item) for item in items]
        chunk = max(1, min(8, len(items) // (self.jobs * 8)))
        if FORKS:
            return _forked_map(function, items, min(self.jobs, len(items)), chunk)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.jobs)
        return list(self._pool.map(function, items, chunksize=chunk))

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=error is not None)
            self._pool = None


def _forked_map(function: Callable[[Item], Result], items: Sequence[Item], jobs: int, chunk: int) -> list[Result]:
    global _shared
    # A worker may map in turn: its own work is back in place when that map ends.
    outer, _shared = _shared, _Shared(function, items)
    # The parent's objects move out of the collector's reach: a collection in a worker
    # would otherwise write to every page of them and copy what the fork shares.
    gc.freeze()
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"))
    try:
        return list(pool.map(_call_shared, range(len(items)), chunksize=chunk))
    finally:
        pool.shutdown(cancel_futures=True)
        _shared = outer
        gc.unfreeze()
