"""Facts about the whole project that one file cannot tell, gathered by the adapters.

Which tasks defer to on_commit by their class (pretix's
`@app.task(base=TransactionAwareTask)`), so that `mail_send_task.apply_async()` in
another module is not reported; which caches some module clears (`_cache.clear()`,
`get_site.cache_clear()` in a signal receiver), so that TXL301 stays quiet on them;
which attributes code sets on other objects (`item.has_variations = ...`), so that
TXL302/TXL303 do not turn a prefetched cache into a `@property`; which functions open a
transaction for their caller (`core.db.traced_atomic`), so that `with traced_atomic():`
in another module is an atomic context; and which functions dispatch a job through a
chain of calls (TXL102). One read of each file,
and a parse only where a text prescan says the file can contribute.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from typing import TYPE_CHECKING

from txlint.cache import Entry, Stamp, Store, canonical, content_hash, digest, stamp_of
from txlint.config import config_for_directory
from txlint.discovery import DEFAULT_EXCLUDES, discover, files_below
from txlint.parallel import Workers
from txlint.paths import package_of
from txlint.settings import Settings

if TYPE_CHECKING:
    from txlint.django.summary import Chain, PlainSummary

    PlainFacts = tuple[list[str], list[str], dict[str, Chain], bool, list[str], list[str]]
    # A FileSummary as the cache stores it: (settings key, open names, considered chains, functions).
    CachedSummaries = tuple[str, list[str], list[str], dict[str, PlainSummary]]
    FileFactsPlain = tuple[str, str, bool, bool, tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]

PROJECT_MARKERS = ("manage.py", "pyproject.toml", "setup.cfg", "setup.py", ".git")


def project_root(path: str) -> str:
    """The nearest folder above `path` with a project marker; else its top-level package's parent."""
    return project_root_of(os.path.dirname(os.path.abspath(path)))


@lru_cache(maxsize=4096)
def project_root_of(directory: str) -> str:
    """`project_root` of the files in `directory` (an absolute path)."""
    marked = _marked_folder(directory)
    if marked is not None:
        return marked
    top = directory
    while os.path.isfile(os.path.join(top, "__init__.py")):
        top = os.path.dirname(top)
    return top


def forget_roots() -> None:
    """Forget the project roots and packages found: a new run in this process may see new
    markers and `__init__.py` files."""
    project_root_of.cache_clear()
    package_of.cache_clear()
    _marked_folder.cache_clear()


@lru_cache(maxsize=4096)
def _marked_folder(directory: str) -> str | None:
    """The nearest folder at or above `directory` with a project marker (each folder looked at once)."""
    if any(os.path.exists(os.path.join(directory, marker)) for marker in PROJECT_MARKERS):
        return directory
    parent = os.path.dirname(directory)
    return None if parent == directory else _marked_folder(parent)


@dataclass(frozen=True)
class ProjectFacts:
    deferring_tasks: frozenset[str] = frozenset()
    cleared_caches: frozenset[str] = frozenset()
    dispatch_chains: Mapping[str, Chain] = field(default_factory=dict)
    atomic_requests: bool = False
    files: int = 0
    # Files read (not answered by the cache) and files parsed to build these facts.
    read: int = 0
    parsed: int = 0
    assigned_attributes: frozenset[str] = frozenset()
    atomic_wrappers: frozenset[str] = frozenset()

    def to_plain(self) -> PlainFacts:
        return (
            sorted(self.deferring_tasks), sorted(self.cleared_caches), dict(self.dispatch_chains),
            self.atomic_requests, sorted(self.assigned_attributes), sorted(self.atomic_wrappers),
        )  # fmt: skip

    @classmethod
    def from_plain(cls, plain: PlainFacts) -> ProjectFacts:
        deferring, cleared, chains, atomic_requests, assigned, wrappers = plain
        return cls(
            frozenset(deferring), frozenset(cleared), {k: tuple(v) for k, v in chains.items()}, atomic_requests,
            assigned_attributes=frozenset(assigned), atomic_wrappers=frozenset(wrappers),
        )  # fmt: skip

    def applied_to(self, settings: Settings) -> Settings:
        return replace(
            settings,
            deferring_tasks=self.deferring_tasks,
            cleared_caches=self.cleared_caches,
            assigned_attributes=self.assigned_attributes,
            atomic_wrappers=self.atomic_wrappers,
            dispatch_chains=self.dispatch_chains,
            atomic_requests=self.atomic_requests if settings.atomic_requests is None else settings.atomic_requests,
        )


@dataclass(frozen=True)
class FileFacts:
    """What one file tells the project by itself, whatever the other files say."""

    # Every word of the source and those it may call (`word_lists`): enough for the
    # index's prescans later. None until the cache needs them (a run without cache never does).
    words: str | None
    called: str | None
    dispatch_shaped: bool
    atomic_requests: bool
    deferring_tasks: tuple[str, ...]
    cleared_caches: tuple[str, ...]
    # Attributes the file sets on objects other than self (`item.has_variations = ...`).
    assigned_attributes: tuple[str, ...]
    # Qualified names of the file's functions that open a transaction for their caller.
    atomic_wrappers: tuple[str, ...]

    def to_plain(self) -> FileFactsPlain:
        assert self.words is not None and self.called is not None
        return (
            self.words, self.called, self.dispatch_shaped, self.atomic_requests,
            self.deferring_tasks, self.cleared_caches, self.assigned_attributes, self.atomic_wrappers,
        )  # fmt: skip

    @classmethod
    def from_plain(cls, plain: FileFactsPlain) -> FileFacts:
        words, called, shaped, atomic_requests, deferring, cleared, assigned, wrappers = plain
        return cls(
            words, called, shaped, atomic_requests, tuple(deferring), tuple(cleared), tuple(assigned), tuple(wrappers)
        )


@dataclass
class ProjectFile:
    path: str
    stamp: Stamp | None
    content: str
    facts: FileFacts
    # The cache's summaries, if it has them.
    summaries: CachedSummaries | None = None
    # The text, when it was read in this run.
    source: str | None = None


# A file to read: its place among the project's files, path, stamp, and its bytes if
# the main process read them already.
Unread = tuple[int, str, Stamp | None, bytes | None]


@dataclass
class _Read:
    files: list[ProjectFile]
    # The parses the facts of the files read took.
    parsed: int
    # The cache's entry of each file read again, as it was.
    previous: dict[str, Entry]


def _project_files(store: Store, paths: list[str], workers: Workers) -> _Read:
    """Each file's facts: the cache's for an unchanged file (by its stamp, else by its
    content), else from one read (by the workers)."""
    found: list[ProjectFile | None] = []
    unread: list[Unread] = []
    previous = {}
    for path in paths:
        stamp = stamp_of(path)
        entry = store.fresh(path, stamp)
        if entry is not None:
            store.hits += 1
            found.append(_from_entry(path, entry))
            continue
        recorded = store.recorded(path)
        # A run after an edit reads the edited file again (its stamp was racy): if the
        # cache knows its content, it needs no parse (nor libcst).
        data = read_bytes(path) if recorded is not None else None
        if recorded is not None and data is not None and content_hash(data) == recorded.content:
            touched = _from_entry(path, recorded)
            touched.stamp, touched.source = stamp, data.decode("utf-8", errors="replace")
            store.reads += 1
            store.record(path, stamp, touched.content, (touched.facts.to_plain(), touched.summaries))
            found.append(touched)
            continue
        unread.append((len(found), path, stamp, data))
        found.append(None)
        if recorded is not None:
            previous[path] = recorded
    if not unread:
        return _Read([project_file for project_file in found if project_file is not None], 0, previous)
    from txlint import indexing  # the index's modules: a run the cache answers does without them

    return _Read(*indexing.read_files(store, found, unread, workers), previous)


def read_bytes(path: str) -> bytes | None:
    """The file's bytes; None if it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _from_entry(path: str, entry: Entry) -> ProjectFile:
    facts, summaries = entry.value
    return ProjectFile(path, entry.stamp, entry.content, FileFacts.from_plain(facts), summaries)


@lru_cache(maxsize=64)
def project_facts(root: str, cache_dir: str | None = None, jobs: int = 1) -> ProjectFacts:
    """Every project-wide fact, from one read of each file below `root`.

    Files are parsed only where a text prescan says they can contribute: a
    transaction-aware task base, a clearing call on an imported name, a dispatch, or
    (round by round) the name of a function already known to dispatch. With a cache
    (`cache_dir`), a file that did not change is not read at all: its facts and its
    summaries are the cache's. With `jobs` > 1, reads and parses run in that many processes.
    """
    with Workers(jobs) as workers:
        return _project_facts(root, cache_dir, workers)


def _project_facts(root: str, cache_dir: str | None, workers: Workers) -> ProjectFacts:
    store = Store.open(cache_dir, f"project-{digest(root)}")
    paths = files_below(root)
    read = _project_files(store, paths if paths is not None else list(discover([root], DEFAULT_EXCLUDES)), workers)
    configured = config_for_directory(root).settings
    signature = _signature(configured, read.files, {})
    remembered = store.meta.get("facts")
    known = facts = None
    parsed = read.parsed
    if remembered is not None:
        known = ProjectFacts.from_plain(remembered[1])
        same = remembered[0] == signature
        if not same:
            neutral, parses = _index_neutral(store, read, configured, known)
            parsed += parses
            same = bool(neutral) and remembered[0] == _signature(configured, read.files, neutral)
        if same:
            facts = replace(known, files=len(read.files), read=store.reads, parsed=parsed)
    if facts is None:
        hint = known.dispatch_chains if known is not None else {}
        from txlint import indexing  # the index's modules: a run the cache answers does without them

        facts = indexing.indexed_facts(store, read.files, configured, workers, parsed, hint)
    store.remember("facts", (signature, facts.to_plain()))
    warning = store.save()
    if warning is not None:
        print(f"txlint: warning: {warning}", file=sys.stderr)
    return facts


def _index_neutral(store: Store, read: _Read, configured: Settings, known: ProjectFacts) -> tuple[dict[str, str], int]:
    """`indexing.index_neutral`; the summaries it made of the files read again are kept
    by the store (an index rebuilt next uses them)."""
    if not read.previous:
        return {}, 0
    from txlint import indexing  # imported already: files were read

    neutral, parsed = indexing.index_neutral(read.files, read.previous, configured, known)
    for found in read.files:
        if found.path in read.previous and found.summaries is not None:
            store.record(found.path, found.stamp, found.content, indexing.cache_value(found))
    return neutral, parsed


def _signature(configured: Settings, files: list[ProjectFile], contents: Mapping[str, str]) -> str:
    """The same files with the same configuration make the same facts: a digest of both,
    with the files' content hashes (`contents`' where it has one)."""
    return digest(plain_settings(configured), [(found.path, contents.get(found.path, found.content)) for found in files])


def plain_settings(settings: Settings) -> object:
    return canonical({name.name: getattr(settings, name.name) for name in fields(settings)})
