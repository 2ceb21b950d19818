"""Facts about the whole project that one file cannot tell, gathered by the adapters.

Which tasks defer to on_commit by their class (pretix's
`@app.task(base=TransactionAwareTask)`), so that `mail_send_task.apply_async()` in
another module is not reported; which caches some module clears (`_cache.clear()`,
`get_site.cache_clear()` in a signal receiver), so that TXL301 stays quiet on them; and
which functions dispatch a job through a chain of calls (TXL102). One read of each file,
and a parse only where a text prescan says the file can contribute.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache

from txlint.discovery import DEFAULT_EXCLUDES, discover
from txlint.django import DjangoModule
from txlint.django.caches import cleared_names
from txlint.django.dispatch import TRANSACTION_AWARE_BASE
from txlint.config import config_for_directory
from txlint.django.model import ModuleModel, build_model
from txlint.django.project_settings import is_settings_path, turns_on_atomic_requests
from txlint.django.summary import Chain
from txlint.index import SourceRecord, build_index
from txlint.parsing import parse_module
from txlint.paths import module_name_for
from txlint.settings import DEFAULT_SETTINGS, Settings

PROJECT_MARKERS = ("manage.py", "pyproject.toml", "setup.cfg", "setup.py", ".git")


def project_root(path: str) -> str:
    """The nearest folder above `path` with a project marker; else its top-level package's parent."""
    directory = os.path.dirname(os.path.abspath(path))
    current = directory
    while True:
        if any(os.path.exists(os.path.join(current, marker)) for marker in PROJECT_MARKERS):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    top = directory
    while os.path.isfile(os.path.join(top, "__init__.py")):
        top = os.path.dirname(top)
    return top


# `base=TransactionAwareTask` in a task decorator: only such files are parsed.
DEFERRING_BASE_ARGUMENT = re.compile(r"base\s*=\s*[\w.]*(?:" + TRANSACTION_AWARE_BASE.pattern + ")", re.IGNORECASE)


# Another module's cache can only be cleared through a name imported here: parse a file
# only when it calls `.clear()` / `.cache_clear()` on an imported name, or makes a
# `cache`-named imported container lose entries (`.pop()`, `del ...[...]`).
CLEARING_METHOD = re.compile(r"\.(cache_clear|clear|pop|popitem)\b|\bdel\s+([A-Za-z_][\w.]*)\[")
RECEIVER = re.compile(r"(?<![\w.])[A-Za-z_][\w.]*$")
IMPORTED_NAMES = re.compile(r"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+)?import[ \t]+(\([^)]*\)|[^\n]*)", re.MULTILINE)
# `cache.clear()` empties Django's cache framework, `sys.modules.pop()` unloads a module.
NOT_CONTAINERS = frozenset({"self", "cls", "cache", "caches", "sys"})


def _clears_an_imported_name(source: str) -> bool:
    if ".clear" not in source and not (("pop" in source or "del " in source) and "cache" in source.lower()):
        return False
    imported: set[str] | None = None
    for match in CLEARING_METHOD.finditer(source):
        method = match.group(1) or "del"
        if match.group(2) is not None:
            receiver = match.group(2)
        else:
            found = RECEIVER.search(source, max(0, match.start() - 200), match.start())
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


@dataclass(frozen=True)
class ProjectFacts:
    deferring_tasks: frozenset[str] = frozenset()
    cleared_caches: frozenset[str] = frozenset()
    dispatch_chains: Mapping[str, Chain] = field(default_factory=dict)
    atomic_requests: bool = False
    files: int = 0
    parsed: int = 0

    def applied_to(self, settings: Settings) -> Settings:
        return replace(
            settings,
            deferring_tasks=self.deferring_tasks,
            cleared_caches=self.cleared_caches,
            dispatch_chains=self.dispatch_chains,
            atomic_requests=self.atomic_requests if settings.atomic_requests is None else settings.atomic_requests,
        )


@lru_cache(maxsize=64)
def project_facts(root: str) -> ProjectFacts:
    """Every project-wide fact, from one read of each file below `root`.

    Files are parsed only where a text prescan says they can contribute: a
    transaction-aware task base, a clearing call on an imported name, a dispatch, or
    (round by round) the name of a function already known to dispatch.
    """
    settings = config_for_directory(root).settings
    records: list[SourceRecord] = []
    deferring: set[str] = set()
    cleared: set[str] = set()
    atomic_requests = False
    parsed = 0
    for path in discover([root], DEFAULT_EXCLUDES):
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                source = handle.read()
        except OSError:
            continue
        module_name, is_package = module_name_for(path)
        records.append(SourceRecord(path, source, module_name, is_package))
        if "ATOMIC_REQUESTS" in source and is_settings_path(path):
            parsed += 1
            atomic_requests = atomic_requests or _turns_on_atomic_requests(source)
        wants_tasks, wants_caches = bool(DEFERRING_BASE_ARGUMENT.search(source)), _clears_an_imported_name(source)
        if wants_tasks or wants_caches:
            parsed += 1
            model = _model(source, path)
            if model is not None and wants_tasks:
                deferring.update(DjangoModule(model).dispatches.deferring_tasks())
            if model is not None and wants_caches:
                cleared.update(cleared_names(model))
    # Transaction-aware tasks are not dispatches: the index must know them first.
    index = build_index(records, replace(settings, deferring_tasks=frozenset(deferring)))
    return ProjectFacts(
        frozenset(deferring),
        frozenset(cleared),
        index.chains(),
        atomic_requests,
        len(records),
        parsed + index.parsed_files,
    )


def _turns_on_atomic_requests(source: str) -> bool:
    module = parse_module(source)
    return module is not None and turns_on_atomic_requests(module)


def _model(source: str, path: str) -> ModuleModel | None:
    module = parse_module(source)
    if module is None:
        return None
    module_name, is_package = module_name_for(path)
    try:
        return build_model(module, path, module_name, is_package, DEFAULT_SETTINGS)
    except (RecursionError, MemoryError, ValueError):
        return None
