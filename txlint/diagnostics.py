"""What a rule reports: diagnostics, fixes and their safety, as plain data."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a run answered by the cache never imports libcst
    import libcst as cst

# A file txlint cannot read or parse: reported whatever the selection.
PARSE_ERROR = "TXL000"


class FixSafety(enum.Enum):
    """How sure txlint is that a fix keeps the program's behaviour (ruff's applicability)."""

    SAFE = "safe"
    UNSAFE = "unsafe"
    DISPLAY_ONLY = "display-only"


@dataclass(frozen=True)
class ImportRequest:
    """An import a fix needs: `from module import name [as alias]`, or `import module`."""

    module: str
    name: str | None = None
    alias: str | None = None


@dataclass(frozen=True)
class NodeEdit:
    """Replace one node of the parsed module (matched by identity) with another."""

    target: cst.CSTNode
    replacement: cst.CSTNode


@dataclass(frozen=True)
class Fix:
    title: str
    safety: FixSafety
    edits: tuple[NodeEdit, ...]
    imports: tuple[ImportRequest, ...] = ()


@dataclass(frozen=True)
class Diagnostic:
    """One finding. Lines are 1-based, columns 0-based (flake8 prints column + 1)."""

    code: str
    message: str
    line: int
    column: int
    end_line: int
    end_column: int
    fix: Fix | None = None
    # Why the rule offers no fix, when it can tell: "the call's result is used".
    no_fix_reason: str | None = None

    @property
    def fix_safety(self) -> FixSafety | None:
        return self.fix.safety if self.fix else None

    def flake8_text(self) -> str:
        return f"{self.code} {self.message}"
