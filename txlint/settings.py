"""The options every rule may read; built by the adapters from configuration files and flags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Settings:
    # Qualified names of project functions that hand work to a queue
    # (`core.redis.start_job_async_or_sync`).
    dispatchers: frozenset[str] = frozenset()
    # Qualified names of extra context managers / decorators that open a transaction.
    atomic_contexts: frozenset[str] = frozenset()
    # Database aliases whose transactions never write (replicas): TXL101 stays quiet there.
    read_only_databases: frozenset[str] = frozenset()
    # Request handlers run in a transaction (`DATABASES[alias]["ATOMIC_REQUESTS"]`): True or
    # False when configured; None lets the project's settings modules decide.
    atomic_requests: bool | None = None
    # Extra names of logger objects, beyond `logger`, `log`, `LOGGER`, `self.logger` and
    # names assigned from `logging.getLogger(...)` / `structlog.get_logger(...)`.
    logger_names: frozenset[str] = frozenset()
    # Found by the adapters in the project, not configured: qualified names of tasks
    # whose class defers sending to on_commit (`@app.task(base=TransactionAwareTask)`).
    deferring_tasks: frozenset[str] = frozenset()
    # Found by the adapters in the project, not configured: qualified names of caches that
    # some module clears (`app.services._cache.clear()`, `get_site.cache_clear()`).
    cleared_caches: frozenset[str] = frozenset()
    # Found by the adapters in the project, not configured: attribute names that code
    # assigns on objects other than `self` (`item.has_variations = ...`,
    # `project.__dict__["has_alerts"] = ...`): prefetches filling an instance cache.
    assigned_attributes: frozenset[str] = frozenset()
    # Found by the adapters in the project, not configured: qualified names of project
    # functions that open a transaction for their caller, for the modules that import them
    # (`core.db.traced_atomic`: a `@contextmanager` yielding inside `atomic()`).
    atomic_wrappers: frozenset[str] = frozenset()
    # Found by the adapters' project index: function -> the call chain to its dispatch
    # (`core.redis.start_job` -> ("start_job", "Queue.enqueue")), for TXL102.
    dispatch_chains: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    def atomic_tokens(self) -> tuple[str, ...]:
        """Text that must appear in a file for a transaction to be opened in it.

        Under ATOMIC_REQUESTS a view opens one without naming it: its `request` is enough.
        """
        requests = ("request",) if self.atomic_requests else ()
        return ("atomic", "RunPython", *requests, *last_names(self.atomic_contexts | self.atomic_wrappers))

    def dispatch_tokens(self) -> tuple[str, ...]:
        """Text that must appear in a file for it to dispatch a job."""
        return (
            "delay", "apply_async", "send_task", "enqueue", "send", "async_task", "schedule", "huey",
            *last_names(self.dispatchers),
        )  # fmt: skip


DEFAULT_SETTINGS = Settings()


def last_names(qualified_names: frozenset[str]) -> list[str]:
    return sorted(name.rsplit(".", 1)[-1] for name in qualified_names)


def contains_any(source: str, tokens: tuple[str, ...]) -> bool:
    return any(token in source for token in tokens)
