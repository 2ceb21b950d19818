"""The project index: which functions dispatch a job, directly or through a chain of calls.

Built by the adapters (it reads files); the engine receives the result as data in
`Settings.dispatch_chains`. Only files that can matter are parsed: first those that
contain a dispatch token, then, round by round, those whose text names a function
already known to dispatch, until no new file can add a link.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from txlint.django import DjangoModule
from txlint.django.model import build_model
from txlint.django.names import resolve_callee
from txlint.django.summary import LOCALS, Chain, FunctionSummary, mention_name, short_name, summarise
from txlint.parsing import parse_module
from txlint.settings import Settings, contains_any


@dataclass
class ProjectIndex:
    functions: dict[str, FunctionSummary] = field(default_factory=dict)
    summarised_files: int = 0

    def add(self, summaries: Mapping[str, FunctionSummary]) -> None:
        """Merge: a signal's receivers come from every module that connects one."""
        for name, summary in summaries.items():
            known = self.functions.get(name)
            if known is None:
                self.functions[name] = FunctionSummary(list(summary.dispatches), list(summary.calls), summary.defers)
            else:
                known.dispatches.extend(summary.dispatches)
                known.calls.extend(summary.calls)
                known.defers = known.defers or summary.defers

    def chains(self, known: Mapping[str, Chain] | None = None) -> dict[str, Chain]:
        """Function -> the call chain to its dispatch, for every function that dispatches.

        A fixed point over the call graph, so recursion and cycles need no special
        case; round by round the chains found are the shortest. A transaction-aware
        function (it defers when a transaction is open) ends every chain through it.
        """
        chains: dict[str, Chain] = dict(known or {})
        chains.update(
            (name, (short_name(name), summary.dispatches[0]))
            for name, summary in sorted(self.functions.items())
            if summary.dispatches and not summary.defers
        )
        changed = True
        while changed:
            changed = False
            for name, summary in sorted(self.functions.items()):
                if name in chains or summary.defers:
                    continue
                for callee in summary.calls:
                    target = resolve_callee(callee, chains)
                    if target is not None:
                        chains[name] = (short_name(name), *chains[target])
                        changed = True
                        break
        return chains


@dataclass(frozen=True)
class SourceRecord:
    """A file as the index prescans it, from its source or from the cache.

    `text` is the source, or for a file not read again the space-separated words of
    its source: every prescan below looks for whole identifiers, which both answer alike.
    """

    path: str
    text: str
    module_name: str | None
    is_package: bool
    # DISPATCH_SHAPE matched the source (it needs punctuation the words lack).
    dispatch_shaped: bool


def summarise_source(
    path: str, source: str, module_name: str | None, is_package: bool, settings: Settings
) -> dict[str, FunctionSummary]:
    module = parse_module(source)
    if module is None:
        return {}
    try:
        model = build_model(module, path, module_name, is_package, settings)
    except (RecursionError, MemoryError, ValueError):
        return {}
    return summarise(DjangoModule(model))


# Dispatch shapes, stricter than the rules' prescan tokens (a method may be taken as an
# alias: `enqueue = queue.enqueue`). `.send(` alone is every Django signal, so it counts
# only in a file that also names tasks or actors.
DISPATCH_SHAPE = re.compile(
    r"\.(?:delay|apply_async|send_task|enqueue\w*|aenqueue|send_with_options)\b|\.schedule\s*\("
    r"|\basync_task\s*\(|\bhuey\b|\.send\s*\((?=[\s\S]*\b(?:actor|tasks|jobs)\b)"
)


def _may_dispatch(record: SourceRecord, settings: Settings) -> bool:
    configured = [name.rsplit(".", 1)[-1] for name in settings.dispatchers]
    return record.dispatch_shaped or contains_any(record.text, tuple(configured))


# The summaries of a batch of files, in order (parsed, or from the cache).
Summariser = Callable[[list[SourceRecord]], Sequence[Mapping[str, FunctionSummary]]]


def build_index(records: Iterable[SourceRecord], settings: Settings, summaries_of: Summariser) -> ProjectIndex:
    """Summarise dispatching files, then only files that name a dispatching function.

    `summaries_of` parses the file or answers from the cache. Only module-level
    functions are followed into other files: a method is reached through `self` in
    its own (already summarised) module.
    """
    pending = list(records)
    index = ProjectIndex()
    batch = [r for r in pending if _may_dispatch(r, settings)]
    while batch:
        for summaries in summaries_of(batch):
            index.add(summaries)
        index.summarised_files += len(batch)
        done = {id(record) for record in batch}
        pending = [r for r in pending if id(r) not in done]
        # Another file can call a module-level function, not a method or a nested function.
        names = {mention_name(name) for name in index.chains() if "." not in short_name(name) and LOCALS not in name}
        if not names:
            break
        mentions = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, names))) + r")\b")
        batch = [r for r in pending if mentions.search(r.text)]
    return index
