"""txlint: static analysis for transaction safety in Django code.

    >>> from txlint import lint_source, default_rules
    >>> lint_source(source, default_rules())
"""

from __future__ import annotations

__version__ = "0.1.0"

from txlint.diagnostics import Diagnostic, Fix, FixSafety  # noqa: E402
from txlint.engine import FixResult, SourceFile, fix_source, lint_source  # noqa: E402
from txlint.registry import all_rules, selected_rules  # noqa: E402
from txlint.rule import Rule  # noqa: E402
from txlint.settings import Settings  # noqa: E402


def default_rules() -> list[Rule]:
    """An instance of every rule that runs by default."""
    return [rule() for rule in selected_rules()]


__all__ = [
    "Diagnostic", "Fix", "FixResult", "FixSafety", "Rule", "Settings", "SourceFile",
    "__version__", "all_rules", "default_rules", "fix_source", "lint_source", "selected_rules",
]  # fmt: skip
