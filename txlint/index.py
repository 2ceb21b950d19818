"""The project index: which functions dispatch a job, directly or through a chain of calls.

Built by the adapters (it reads files); the engine receives the result as data in
`Settings.dispatch_chains`. Only files that can matter are parsed: first those that
contain a dispatch token, then, round by round, those whose text names a function
already known to dispatch, until no new file can add a link. And of a file, only the
functions that may be in a chain by what is known so far (see txlint.django.reach).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from txlint.django import DjangoModule
from txlint.django.model import build_model
from txlint.django.names import last_segment, resolve_callee
from txlint.django.summary import LOCALS, SIGNAL_SENDS, Chain, FunctionSummary, mention_name, short_name, summarise
from txlint.django.outline import Outline
from txlint.django.reach import KnownChains, may_reach_a_dispatch, open_names
from txlint.lazy import cst
from txlint.parsing import parse_pruned, python_verdict
from txlint.prescan import search_word
from txlint.pruning import Pruned, pruned_source
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
        # A callee resolves only to a chain of its own last name (`resolve_callee`).
        last_names = {last_segment(name) for name in chains}
        changed = True
        while changed:
            changed = False
            for name, summary in sorted(self.functions.items()):
                if name in chains or summary.defers:
                    continue
                for callee in summary.calls:
                    target = resolve_callee(callee, chains) if last_segment(callee) in last_names else None
                    if target is not None:
                        chains[name] = (short_name(name), *chains[target])
                        last_names.add(last_segment(name))
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
    # `dispatch_shaped` said so of the source (it needs punctuation the words lack).
    dispatch_shaped: bool
    # For a file not read again, the words `word_lists` says it may call (`text` is the source otherwise).
    called: str | None = None


# A chain is reached only through a call of its name (`notify(`, `order_paid.send(`,
# `(notify)(`) or an import renaming it (`import notify as alert`): a name followed so.
CALLED = r"[\s\\]*(?:[(.)]|as\b)"
# Each word once, with what follows it if that is as in CALLED: `re` runs this one fast.
WORD_AND_FOLLOWER = re.compile(r"(\w+)[\s\\]*([(.)]|as\b)?")


def word_lists(source: str) -> tuple[str, str]:
    """The words of the source, and those followed as in `CALLED`, each space-separated:
    what the index searches in a file it does not read again (a chain's name in the second).
    `as` is among the first only where it is not what follows a word (`x as`): it names nothing."""
    found = WORD_AND_FOLLOWER.findall(source)
    return " ".join(sorted({word for word, _ in found})), " ".join(sorted({word for word, follower in found if follower}))


@dataclass(frozen=True)
class FileSummary:
    """What the index learns from a file: the summaries of its functions that may be in a
    chain, given the chains known when it was made. Each summary is exact, so it stands
    for the file until a new chain ends in a name that its other functions call."""

    functions: Mapping[str, FunctionSummary] = field(default_factory=dict)
    # The last names of what the file's other functions call.
    open_names: frozenset[str] = frozenset()
    # The chains known when it was made, of those ending in an open name.
    considered: frozenset[str] = frozenset()

    def stands_for(self, chains: Iterable[str]) -> bool:
        """Summarising the file again, knowing `chains`, would find the same."""
        return all(name in self.considered for name in chains if name.rpartition(".")[2] in self.open_names)


def summarise_source(
    path: str, source: str, module_name: str | None, is_package: bool, settings: Settings
) -> tuple[FileSummary, bool]:
    """The file's summary, given the chains known so far (`settings.dispatch_chains`):
    functions that cannot be in a chain are not parsed. The flag says whether libcst parsed the file."""
    verdict = python_verdict(source)
    if verdict.refused:
        return FileSummary(), False
    try:
        code: Pruned | None = Pruned(source)  # syntax newer than this Python: libcst's tree of all of it
        left_out = FileSummary()
        if verdict.tree is not None:
            code, left_out = _chained_code(verdict.tree, source, path, module_name, is_package, settings)
        if code is None:
            return left_out, False
        model = build_model(parse_pruned(code, source)[0], path, module_name, is_package, settings)
    except (cst.ParserSyntaxError, RecursionError, MemoryError, ValueError):
        return FileSummary(), True
    functions = summarise(DjangoModule(model))
    model.forget()
    return replace(left_out, functions=functions), True


def _chained_code(
    tree: ast.Module, source: str, path: str, module_name: str | None, is_package: bool, settings: Settings
) -> tuple[Pruned | None, FileSummary]:
    """The source pruned to the functions that may be in a chain (None when there are none),
    and a summary without functions telling what the others may call."""
    outline = Outline(tree, source, path, module_name, is_package, settings)
    known = KnownChains(outline)
    sends = set(SIGNAL_SENDS) if outline.has_receivers() else set()
    chained = may_reach_a_dispatch(outline, known, sends)
    names = open_names(outline, known, chained)
    left_out = FileSummary({}, names, frozenset(k for k in settings.dispatch_chains if k.rpartition(".")[2] in names))
    if not chained:
        return None, left_out
    return pruned_source(outline, [*(info.node for info in chained), *outline.connections()]), left_out


# Dispatch shapes, stricter than the rules' prescan tokens (a method may be taken as an
# alias: `enqueue = queue.enqueue`). `.send(` alone is every Django signal, so it counts
# only in a file that names tasks or actors after it. (See txlint.prescan for the form.)
METHOD_SHAPE = re.compile(r"\.(?:(?:delay|apply_async|send_task|enqueue\w*|aenqueue|send_with_options)\b|schedule\s*\()")
FUNCTION_SHAPE = re.compile(r"async_task\s*\(|huey\b")
SEND_SHAPE = re.compile(r"\.send\s*\(")
TASK_WORDS = re.compile(r"(?:actor|tasks|jobs)\b")


def dispatch_shaped(source: str) -> bool:
    """The source may dispatch a job (by the shapes above)."""
    if METHOD_SHAPE.search(source):
        return True
    if ("async_task" in source or "huey" in source) and search_word(FUNCTION_SHAPE, source):
        return True
    send = SEND_SHAPE.search(source)
    return send is not None and search_word(TASK_WORDS, source, send.end()) is not None


def may_dispatch(record: SourceRecord, settings: Settings) -> bool:
    configured = [name.rsplit(".", 1)[-1] for name in settings.dispatchers]
    return record.dispatch_shaped or contains_any(record.text, tuple(configured))


# The summaries of a batch of files, in order, each made knowing (at least) the chains
# given (parsed, or from the cache).
Summariser = Callable[[list[SourceRecord], Mapping[str, Chain]], Sequence[FileSummary]]


def build_index(records: Iterable[SourceRecord], settings: Settings, summaries_of: Summariser) -> ProjectIndex:
    """Summarise dispatching files, then files that name a dispatching function, and
    again any summarised file a newly found chain may add to, until nothing changes.

    `summaries_of` parses the file or answers from the cache. Only module-level
    functions are followed into other files: a method is reached through `self` in
    its own (already summarised) module.
    """
    records = list(records)
    summarised: dict[str, FileSummary] = {}
    chains: dict[str, Chain] = {}
    # A file not summarised yet did not name any of these (else it would have been).
    searched: frozenset[str] = frozenset()
    batch = [r for r in records if may_dispatch(r, settings)]
    while batch:
        for record, summary in zip(batch, summaries_of(batch, chains)):
            summarised[record.path] = summary
        chains = _index_of(records, summarised).chains()
        names = _mention_names(chains)
        mentions = _Mentions(names - searched)
        searched = names
        batch = [
            r for r in records
            if (r.path in summarised and not summarised[r.path].stands_for(chains))
            or (r.path not in summarised and mentions.called_in(r))
        ]  # fmt: skip
    return _index_of(records, summarised)


def _index_of(records: list[SourceRecord], summarised: Mapping[str, FileSummary]) -> ProjectIndex:
    """The summaries merged in the files' order, so that the rounds' order cannot matter."""
    index = ProjectIndex(summarised_files=len(summarised))
    for record in records:
        if record.path in summarised:
            index.add(summarised[record.path].functions)
    return index


def _mention_names(chains: Mapping[str, Chain]) -> frozenset[str]:
    """The words naming a chain that another file can call: a module-level function's
    (not a method's or a nested function's)."""
    return frozenset(mention_name(name) for name in chains if "." not in short_name(name) and LOCALS not in name)


class _Mentions:
    """Whether a file may call any of some words (see `CALLED`)."""

    def __init__(self, words: frozenset[str]) -> None:
        self.words = sorted(words)
        alternatives = "(?:" + "|".join(map(re.escape, self.words)) + r")\b"
        self.named = re.compile(alternatives)
        self.called = re.compile(alternatives + CALLED)

    def called_in(self, record: SourceRecord) -> bool:
        # An alternation has no literal prefix for `re` to scan for: `in` rules most texts out first.
        # A file not read again: its called words, searched for the words alone.
        text, pattern = (record.text, self.called) if record.called is None else (record.called, self.named)
        return any(word in text for word in self.words) and search_word(pattern, text) is not None
