"""Reading the project's files: what each one tells by itself (`file_facts`, parsed only
where a text prescan says so), and the index of dispatch chains over them.

`txlint.project` imports this module only when some file must be read: a run that the
cache answers imports neither it nor libcst.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from txlint.cache import Entry, Store, canonical, content_hash, digest
from txlint.django import DjangoModule
from txlint.django.caches import CLEARING_METHODS, assigned_attribute_names, cleared_names
from txlint.django.dispatch import TRANSACTION_AWARE_BASE
from txlint.django.model import ModuleModel, build_model
from txlint.django.outline import Outline
from txlint.django.project_settings import is_settings_path, turns_on_atomic_requests
from txlint.django.summary import Chain, FunctionSummary
from txlint.index import FileSummary, SourceRecord, build_index, dispatch_shaped, may_dispatch, summarise_source, word_lists
from txlint.lazy import cst
from txlint.parallel import Workers
from txlint.parsing import parse_module, parse_pruned, python_verdict
from txlint.paths import module_name_for
from txlint.prescan import finditer_word, search_word
from txlint.project import FileFacts, ProjectFacts, ProjectFile, Unread, read_bytes
from txlint.pruning import Pruned, pruned_source
from txlint.settings import DEFAULT_SETTINGS, Settings

if TYPE_CHECKING:
    from txlint.project import CachedSummaries, FileFactsPlain


# `base=TransactionAwareTask` in a task decorator: only such files are parsed. The search
# runs from the `=`: a case-insensitive `base` gives `re` no literal prefix (see txlint.prescan).
DEFERRING_VALUE = re.compile(r"=\s*[\w.]*(?:" + TRANSACTION_AWARE_BASE.pattern + ")", re.IGNORECASE)
BASE = re.compile("base", re.IGNORECASE)


def names_a_deferring_base(source: str) -> bool:
    """`base\\s*=\\s*[\\w.]*(?:TransactionAware|OnCommit|AfterCommit)`, ignoring case, matches."""
    for match in DEFERRING_VALUE.finditer(source):
        end = match.start()
        while end and source[end - 1].isspace():  # as `\s` in `re`: str.isspace()
            end -= 1
        if end >= 4 and BASE.fullmatch(source, end - 4, end):
            return True
    return False


# Another module's cache can only be cleared through a name imported here: parse a file
# only when it calls `.clear()` / `.cache_clear()` on an imported name, or makes a
# `cache`-named imported container lose entries (`.pop()`, `del ...[...]`).
CLEARING_CALL = re.compile(r"\.(cache_clear|clear|pop|popitem)\b")
DELETED_ITEM = re.compile(r"del\s+([A-Za-z_][\w.]*)\[")
RECEIVER = re.compile(r"(?<![\w.])[A-Za-z_][\w.]*$")
IMPORTED_NAMES = re.compile(r"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+)?import[ \t]+(\([^)]*\)|[^\n]*)", re.MULTILINE)
# `cache.clear()` empties Django's cache framework, `sys.modules.pop()` unloads a module.
NOT_CONTAINERS = frozenset({"self", "cls", "cache", "caches", "sys"})


def _clears_an_imported_name(source: str) -> bool:
    if ".clear" not in source and not (("pop" in source or "del " in source) and "cache" in source.lower()):
        return False
    imported: set[str] | None = None
    for start, method, named in _clearings(source):
        if named is not None:
            receiver = named
        else:
            found = RECEIVER.search(source, max(0, start - 200), start)
            if found is None:
                continue
            receiver = found.group(0)
        root = receiver.split(".", 1)[0]
        if root in NOT_CONTAINERS or (method in ("pop", "popitem", "del") and "cache" not in receiver.lower()):
            continue
        if imported is None:
            imported = {word for block in IMPORTED_NAMES.findall(source) for word in re.findall(r"\w+", block)}
        if root in imported:
            return True
    return False


def _clearings(source: str) -> Iterator[tuple[int, str, str | None]]:
    """(start, method, receiver if `del`) of each clearing call or `del` of an item: the
    matches of `CLEARING_CALL|\\b` + `DELETED_ITEM`, found by two scans that `re` runs fast
    (see `prescan`). As in one scan, a call inside a `del` statement's match is skipped."""
    calls = [(match.start(), match.end(), match.group(1), None) for match in CLEARING_CALL.finditer(source)]
    deletions = [(match.start(), match.end(), "del", match.group(1)) for match in finditer_word(DELETED_ITEM, source)]
    end = 0
    for start, stop, method, receiver in sorted(calls + deletions) if deletions else calls:
        if start >= end:
            end = stop
            yield start, method, receiver


# A wrapper is a `@contextmanager` yielding inside `atomic()` or a function returning
# `atomic(...)`: only files of that shape are parsed for them (`wrapper_shaped`).
CONTEXT_MANAGER = re.compile(r"contextmanager\b")
YIELD = re.compile(r"yield\b")
RETURNED_ATOMIC = re.compile(r"return\b[^\n]*\batomic\s*\(")


def wrapper_shaped(source: str) -> bool:
    """`\\bcontextmanager\\b[\\s\\S]*\\byield\\b|\\breturn\\b[^\\n]*\\batomic\\s*\\(` matches,
    in searches that `re` runs fast (see txlint.prescan)."""
    if "atomic" not in source:
        return False
    manager = search_word(CONTEXT_MANAGER, source)
    if manager is not None and search_word(YIELD, source, manager.end()) is not None:
        return True
    return search_word(RETURNED_ATOMIC, source) is not None


def file_facts(path: str, source: str) -> tuple[FileFacts, int]:
    """The file's own facts and how many parses they took (only where a prescan says so)."""
    parsed = 0
    atomic_requests = False
    if "ATOMIC_REQUESTS" in source and is_settings_path(path):
        parsed += 1
        atomic_requests = _turns_on_atomic_requests(source)
    deferring: list[str] = []
    cleared: list[str] = []
    wrappers: list[str] = []
    wants_tasks, wants_caches = names_a_deferring_base(source), _clears_an_imported_name(source)
    wants_wrappers = wrapper_shaped(source)
    if wants_tasks or wants_caches or wants_wrappers:
        parsed += 1
        model = _model(source, path, wants_caches, wants_wrappers)
        if model is not None and wants_tasks:
            deferring = sorted(DjangoModule(model).dispatches.deferring_tasks())
        if model is not None and wants_caches:
            cleared = sorted(cleared_names(model))
        if model is not None and model.module_name and wants_wrappers:
            wrappers = [f"{model.module_name}.{name}" for name in DjangoModule(model).transactions.module_wrappers()]
        if model is not None:
            model.forget()
    shaped = dispatch_shaped(source)
    assigned = tuple(sorted(assigned_attribute_names(source)))
    facts = FileFacts(None, None, shaped, atomic_requests, tuple(deferring), tuple(cleared), assigned, tuple(wrappers))
    return facts, parsed


def read_files(
    store: Store, found: list[ProjectFile | None], unread: list[Unread], workers: Workers
) -> tuple[list[ProjectFile], int]:
    """`found` completed by reading the `unread` files (by the workers); and the parses that took."""
    parsed = 0
    for (position, *_), (project_file, parses) in zip(unread, workers.map(_read_facts, unread)):
        found[position] = project_file
        parsed += parses
        if project_file is None:
            continue
        store.reads += 1
        if store.enabled and project_file.stamp is not None:
            store.record(project_file.path, project_file.stamp, project_file.content, cache_value(project_file))
    return [project_file for project_file in found if project_file is not None], parsed


def cache_value(found: ProjectFile) -> tuple[FileFactsPlain, CachedSummaries | None]:
    """What the store keeps of a file: its facts, with the words the index's prescans need later."""
    if found.facts.words is None and found.source is not None:
        words, called = word_lists(found.source)
        found.facts = replace(found.facts, words=words, called=called)
    return found.facts.to_plain(), found.summaries


def index_neutral(
    files: list[ProjectFile], previous: Mapping[str, Entry], settings: Settings, known: ProjectFacts
) -> tuple[dict[str, str], int]:
    """The former content of each file read again whose change cannot change the project's
    facts (`known`): its own facts are the same, it calls the same words, and it may
    dispatch as before, so `build_index` takes it up as before; and if the index
    summarised it, summarising it again knowing the same chains finds the same. Its
    other words may differ: a comment edited, a string, a name only assigned, the body
    of a function that cannot be in a chain. With the parses that took."""
    neutral = {}
    parsed = 0
    for found in files:
        before = previous.get(found.path)
        if before is None or found.facts.called is None:
            continue
        facts = FileFacts.from_plain(before.value[0])
        if replace(facts, words=None) != replace(found.facts, words=None):
            continue
        old = ProjectFile(found.path, before.stamp, before.content, facts)
        if may_dispatch(_source_record(found), settings) != may_dispatch(_source_record(old), settings):
            continue
        if before.value[1] is not None:
            alike, parses = _summarises_alike(found, before.value[1], settings, known)
            parsed += parses
            if not alike:
                continue
        neutral[found.path] = before.content
    return neutral, parsed


def _summarises_alike(
    found: ProjectFile, cached: CachedSummaries, configured: Settings, known: ProjectFacts
) -> tuple[bool, int]:
    """Whether the file summarised knowing the chains of `known` is the same as its former
    content was; and the parses that took. The new summary is the file's from now on:
    made knowing the chains of the last run, as the index's own are (its `hint`), it
    serves a rebuild wherever it stands for the chains found."""
    key = _summary_key(replace(configured, deferring_tasks=known.deferring_tasks))
    former = _decoded(cached, key)
    if former is None or found.source is None:
        return False, 0
    module_name, is_package = module_name_for(found.path)
    settings = replace(configured, deferring_tasks=known.deferring_tasks, dispatch_chains=known.dispatch_chains)
    summary, parsed = summarise_source(found.path, found.source, module_name, is_package, settings)
    found.summaries = _encoded(summary, key)
    return summary == former, parsed


def _source_record(found: ProjectFile) -> SourceRecord:
    module_name, is_package = module_name_for(found.path)
    if found.source is not None:
        return SourceRecord(found.path, found.source, module_name, is_package, found.facts.dispatch_shaped)
    words, called = found.facts.words or "", found.facts.called or ""
    return SourceRecord(found.path, words, module_name, is_package, found.facts.dispatch_shaped, called)


def _read_facts(unread: Unread) -> tuple[ProjectFile | None, int]:
    """A file's facts from one read, and the parses they took; None if it cannot be read."""
    _, path, stamp, data = unread
    data = data if data is not None else read_bytes(path)
    if data is None:
        return None, 0
    source = data.decode("utf-8", errors="replace")
    facts, parses = file_facts(path, source)
    return ProjectFile(path, stamp, content_hash(data), facts, None, source), parses


@dataclass
class _Summariser:
    """The index's summaries of files: the cache's when made with the same settings and
    standing for the chains known now, else parsed (in parallel)."""

    store: Store
    settings: Settings
    files: dict[str, ProjectFile]
    workers: Workers
    # The chains of the last run: a file parsed knowing them too is seldom parsed again
    # in a later round (a summary made knowing more chains is as exact).
    hint: Mapping[str, Chain]
    parsed: int = 0

    def __call__(self, records: list[SourceRecord], chains: Mapping[str, Chain]) -> list[FileSummary]:
        key = _summary_key(self.settings)
        cached = {r.path: _decoded(self.files[r.path].summaries, key) for r in records}
        missing = [r for r in records if not _stands_for(cached[r.path], chains)]
        settings = replace(self.settings, dispatch_chains={**self.hint, **chains})
        jobs = [(r.path, self._source(r.path), r.module_name, r.is_package, settings) for r in missing]
        for record, (summary, parsed) in zip(missing, self.workers.map(_summarise_job, jobs)):
            self.parsed += parsed
            found = self.files[record.path]
            found.summaries = _encoded(summary, key)
            cached[record.path] = summary
            if self.store.enabled:
                self.store.record(found.path, found.stamp, found.content, cache_value(found))
        return [cached[record.path] or FileSummary() for record in records]

    def _source(self, path: str) -> str:
        source = self.files[path].source
        return source if source is not None else _read_text(path)


def _summary_key(settings: Settings) -> str:
    """What a summary depends on besides the file and the chains known."""
    return digest(canonical(settings.dispatchers), canonical(settings.deferring_tasks))


def _summarise_job(job: tuple[str, str, str | None, bool, Settings]) -> tuple[FileSummary, bool]:
    return summarise_source(*job)


def _stands_for(summary: FileSummary | None, chains: Mapping[str, Chain]) -> bool:
    return summary is not None and summary.stands_for(chains)


def _encoded(summary: FileSummary, key: str) -> CachedSummaries:
    functions = {name: function.to_plain() for name, function in summary.functions.items()}
    return key, sorted(summary.open_names), sorted(summary.considered), functions


def _decoded(cached: CachedSummaries | None, key: str) -> FileSummary | None:
    """The cached summary, if it was made with the settings of `key`."""
    if cached is None or cached[0] != key:
        return None
    _, names, considered, functions = cached
    plain = {name: FunctionSummary.from_plain(function) for name, function in functions.items()}
    return FileSummary(plain, frozenset(names), frozenset(considered))


def _read_text(path: str) -> str:
    data = read_bytes(path)
    return data.decode("utf-8", errors="replace") if data is not None else ""


def indexed_facts(
    store: Store,
    files: list[ProjectFile],
    configured: Settings,
    workers: Workers,
    parsed: int,
    hint: Mapping[str, Chain],
) -> ProjectFacts:
    deferring = frozenset(task for found in files for task in found.facts.deferring_tasks)
    # Transaction-aware tasks are not dispatches: the index must know them first.
    settings = replace(configured, deferring_tasks=deferring)
    summariser = _Summariser(store, settings, {found.path: found for found in files}, workers, hint)
    index = build_index([_source_record(found) for found in files], settings, summariser)
    return ProjectFacts(
        deferring,
        frozenset(name for found in files for name in found.facts.cleared_caches),
        index.chains(),
        any(found.facts.atomic_requests for found in files),
        len(files),
        store.reads,
        parsed + summariser.parsed,
        frozenset(name for found in files for name in found.facts.assigned_attributes),
        frozenset(name for found in files for name in found.facts.atomic_wrappers),
    )


def _turns_on_atomic_requests(source: str) -> bool:
    module = parse_module(source)
    return module is not None and turns_on_atomic_requests(module)


def _model(source: str, path: str, caches: bool, wrappers: bool) -> ModuleModel | None:
    """The module's model for its facts, parsed only where they can come from: the
    functions that may clear something (`caches`) or be atomic wrappers (`wrappers`).
    Decorators, imports and module-level code stay (deferring tasks need no more)."""
    verdict = python_verdict(source)
    if verdict.refused:
        return None
    module_name, is_package = module_name_for(path)
    try:
        code = Pruned(source)
        if verdict.tree is not None:
            outline = Outline(verdict.tree, source, path, module_name, is_package, DEFAULT_SETTINGS)
            sites = [*(_clearing_functions(outline) if caches else []), *(outline.possible_wrappers() if wrappers else [])]
            code = pruned_source(outline, sites)
        return build_model(parse_pruned(code, source)[0], path, module_name, is_package, DEFAULT_SETTINGS)
    except (cst.ParserSyntaxError, RecursionError, MemoryError, ValueError):
        return None


def _clearing_functions(outline: Outline) -> list[ast.AST]:
    """The outermost functions that may clear a cache (`ModuleCaches._clear` is reached
    from these nodes only): `del`, `global`, a clearing method, an attribute assigned."""
    return [unit for unit in outline.units if any(map(_may_clear, ast.walk(unit)))]


def _may_clear(node: ast.AST) -> bool:
    if isinstance(node, (ast.Delete, ast.Global)):
        return True
    if isinstance(node, ast.Attribute):
        return node.attr in CLEARING_METHODS
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        targets = [node.target]
    else:
        return False
    return any(isinstance(part, ast.Attribute) for target in targets for part in ast.walk(target))
