"""Facts about the whole project that one file cannot tell, gathered by the adapters.

Today: which tasks defer to on_commit by their class (pretix's
`@app.task(base=TransactionAwareTask)`), so that `mail_send_task.apply_async()` in
another module is not reported. Only files that mention such a base are parsed.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

import libcst as cst

from txlint.discovery import DEFAULT_EXCLUDES, discover
from txlint.django import DjangoModule
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
