"""Mapping a function over items in worker processes, results in the items' order."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Workers:
    """A process pool started on first use, only for work worth it (two items or more).

    Workers fork where the platform allows, so they start with the parent's state
    (project facts, loaded rules) instead of rebuilding it.
    """

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self._pool: ProcessPoolExecutor | None = None

    def map(self, function: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
        if self.jobs <= 1 or len(items) < 2:
            return [function(item) for item in items]
        if self._pool is None:
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else None)
            self._pool = ProcessPoolExecutor(self.jobs, mp_context=context)
        chunk = max(1, min(8, len(items) // (self.jobs * 8)))
        return list(self._pool.map(function, items, chunksize=chunk))

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=error is not None)
            self._pool = None


SERIAL = Workers(1)
