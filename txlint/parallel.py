"""Mapping a function over items in worker processes, results in the items' order."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from txlint.lazy import import_libcst

if TYPE_CHECKING:  # imported when a pool starts: a run the cache answers starts none
    from concurrent.futures import ProcessPoolExecutor

Item = TypeVar("Item")
Result = TypeVar("Result")
Value = TypeVar("Value")

# Where multiprocessing offers the "fork" start method (not on Windows), without importing it.
FORKS = hasattr(os, "fork")


class Inherited(Generic[Value]):
    """A value that the forked workers inherit with their work (the cache's store). A worker
    that was not forked receives None instead: the value would go with every batch."""

    def __init__(self, value: Value | None) -> None:
        self.value = value

    def __reduce__(self) -> tuple[type[Inherited[Value]], tuple[None]]:
        return Inherited, (None,)


class _Shared(Generic[Item, Result]):
    """The work of one forked map: the workers inherit it, so only indices are sent."""

    def __init__(self, function: Callable[[Item], Result], items: Sequence[Item]) -> None:
        self.function, self.items = function, items


_shared: _Shared[Any, Any] | None = None


def _call_shared(index: int) -> Any:
    assert _shared is not None
    return _shared.function(_shared.items[index])


class Workers:
    """A process pool, started by the first map worth it (two items or more) and kept for
    the next maps.

    Where the platform forks, the workers are forked once the first map's items exist:
    they inherit those items and the function with the parent's state (project facts,
    loaded rules, the cache's store), so nothing of the first map is pickled; the later
    maps send their items. Elsewhere every map sends its items.
    """

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self._pool: ProcessPoolExecutor | None = None

    def map(self, function: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
        if self.jobs <= 1 or len(items) < 2:
            return [function(item) for item in items]
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        chunk = max(1, min(8, len(items) // (self.jobs * 8)))
        if self._pool is not None:
            return list(self._pool.map(function, items, chunksize=chunk))
        if not FORKS:
            self._pool = ProcessPoolExecutor(self.jobs)
            return list(self._pool.map(function, items, chunksize=chunk))
        global _shared
        # Work worth a pool parses: libcst imported here once, not by each worker.
        import_libcst()
        # A worker may map in turn: its own work is back in place when that map ends.
        outer, _shared = _shared, _Shared(function, items)
        # The parent's objects move out of the collector's reach: a collection in a worker
        # would otherwise write to every page of them and copy what the fork shares.
        gc.freeze()
        try:
            self._pool = ProcessPoolExecutor(self.jobs, mp_context=multiprocessing.get_context("fork"))
            return list(self._pool.map(_call_shared, range(len(items)), chunksize=chunk))
        finally:
            _shared = outer
            gc.unfreeze()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=error is not None)
            self._pool = None
