"""txlint: static analysis for transaction safety in Django code.

    >>> from txlint import lint_source, default_rules
    >>> lint_source(source, default_rules())

The names below are imported when first used: the command line imports this package, and
a run that the cache answers must not pay for libcst.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from txlint.diagnostics import Diagnostic, Fix, FixSafety
    from txlint.engine import FixResult, SourceFile, fix_source, lint_source
    from txlint.registry import all_rules, selected_rules
    from txlint.rule import Rule
    from txlint.settings import Settings

_HOMES = {
    "Diagnostic": "txlint.diagnostics", "Fix": "txlint.diagnostics", "FixSafety": "txlint.diagnostics",
    "FixResult": "txlint.engine", "SourceFile": "txlint.engine", "fix_source": "txlint.engine",
    "lint_source": "txlint.engine", "all_rules": "txlint.registry", "selected_rules": "txlint.registry",
    "Rule": "txlint.rule", "Settings": "txlint.settings",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'txlint' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)


def default_rules() -> list[Rule]:
    """An instance of every rule that runs by default."""
    from txlint.registry import selected_rules

    return [rule() for rule in selected_rules()]


__all__ = [
    "Diagnostic", "Fix", "FixResult", "FixSafety", "Rule", "Settings", "SourceFile",
    "__version__", "all_rules", "default_rules", "fix_source", "lint_source", "selected_rules",
]  # fmt: skip
