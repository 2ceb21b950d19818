"""The Rule base class: detection, fix, docs and test cases of one rule live together."""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from txlint.diagnostics import Fix, FixSafety
from txlint.django import DjangoModule
from txlint.django.outline import Outline
from txlint.lazy import cst
from txlint.settings import DEFAULT_SETTINGS, Settings


@dataclass(frozen=True)
class Valid:
    """Code the rule must stay silent on. `name` says which real-world shape it is."""

    name: str
    code: str
    path: str = "app/views.py"
    settings: Settings = DEFAULT_SETTINGS


@dataclass(frozen=True)
class Invalid:
    """Code the rule must report, on every line marked `# TXLnnn`.

    `fixed` is the source after applying this rule's fix (safe and unsafe), or None
    when the rule offers no fix for this case.
    """

    name: str
    code: str
    fixed: str | None = None
    path: str = "app/views.py"
    settings: Settings = DEFAULT_SETTINGS


def dedent(code: str) -> str:
    return textwrap.dedent(code).lstrip("\n")


@dataclass(frozen=True)
class Finding:
    """What a rule returns: the node to report at; the engine turns it into a Diagnostic."""

    code: str
    node: cst.CSTNode
    message: str
    fix: Fix | None
    no_fix_reason: str | None = None


class Rule:
    """One rule. Subclasses set the class attributes and implement `check`.

    The class docstring is the rule's documentation, in ruff's sections: What it does,
    Why is this bad?, Example, Use instead, Fix safety, Options.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    fix_title: ClassVar[str | None] = None
    fix_safety: ClassVar[FixSafety | None] = None
    opt_in: ClassVar[bool] = False
    valid: ClassVar[tuple[Valid, ...]] = ()
    invalid: ClassVar[tuple[Invalid, ...]] = ()

    def could_match(self, source: str, settings: Settings) -> bool:
        """A cheap text test: False means the rule cannot report anything on `source`."""
        raise NotImplementedError

    def sites(self, outline: Outline) -> list[ast.AST]:
        """Where, by the module's `ast` outline, the rule could report: nodes whose lines
        hold every finding and everything the verdict reads outside them. Empty: it cannot.

        The engine runs a rule only with a site, and parses only the code holding one;
        so this must never miss a finding. The default is the whole module.
        """
        return [outline.tree]

    def check(self, django: DjangoModule) -> Iterator[Finding]:
        raise NotImplementedError

    def finding(
        self, node: cst.CSTNode, message: str, fix: Fix | None = None, no_fix_reason: str | None = None
    ) -> Finding:
        return Finding(self.code, node, message, fix, None if fix else no_fix_reason)

    @classmethod
    def documentation(cls) -> str:
        return textwrap.dedent(cls.__doc__ or "").strip()
