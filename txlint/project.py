"""Facts about the whole project that one file cannot tell, gathered by the adapters.

Today: which tasks defer to on_commit by their class (pretix's
`@app.task(base=TransactionAwareTask)`), so that `mail_send_task.apply_async()` in
another module is not reported; and which caches some module clears (`_cache.clear()`,
`get_site.cache_clear()` in a signal receiver), so that TXL301 stays quiet on them. Only
files that mention such a base, or such a clearing call, are parsed.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

import libcst as cst

from txlint.discovery import DEFAULT_EXCLUDES, discover
from txlint.django import DjangoModule
from txlint.django.caches import cleared_names
from txlint.django.dispatch import TRANSACTION_AWARE_BASE
from txlint.django.model import build_model
from txlint.paths import module_name_for
from txlint.settings import DEFAULT_SETTINGS

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


def deferring_tasks_in_source(source: str, path: str) -> list[str]:
    if not DEFERRING_BASE_ARGUMENT.search(source):
        return []
    try:
        module = cst.parse_module(source)
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return []
    module_name, is_package = module_name_for(path)
    model = build_model(module, path, module_name, is_package, DEFAULT_SETTINGS)
    return DjangoModule(model).dispatches.deferring_tasks()


@lru_cache(maxsize=64)
def deferring_tasks(root: str) -> frozenset[str]:
    names: set[str] = set()
    for path in discover([root], DEFAULT_EXCLUDES):
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                source = handle.read()
        except OSError:
            continue
        names.update(deferring_tasks_in_source(source, path))
    return frozenset(names)


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


def cleared_caches_in_source(source: str, path: str) -> list[str]:
    if not _clears_an_imported_name(source):
        return []
    try:
        module = cst.parse_module(source)
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return []
    module_name, is_package = module_name_for(path)
    model = build_model(module, path, module_name, is_package, DEFAULT_SETTINGS)
    return cleared_names(model)


@lru_cache(maxsize=64)
def cleared_caches(root: str) -> frozenset[str]:
    names: set[str] = set()
    for path in discover([root], DEFAULT_EXCLUDES):
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                source = handle.read()
        except OSError:
            continue
        names.update(cleared_caches_in_source(source, path))
    return frozenset(names)
