"""Which functions of a module may be in a dispatch chain, from its `ast` outline alone.

TXL102 runs only where such a function is called in a transaction, and the project index
summarises (parses with libcst) only these functions: both must never miss one, so the
answers here over-approximate `summarise` and `resolve_callee`.
"""

from __future__ import annotations

import ast

from txlint.django.model import FrameKind
from txlint.django.outline import FunctionOutline, Outline, OutlineFrame


class KnownChains:
    """The project's chains (`Settings.dispatch_chains`), matched as `resolve_callee` does."""

    def __init__(self, outline: Outline) -> None:
        self.outline = outline
        self.by_name: dict[str, list[str]] = {}
        for key in outline.settings.dispatch_chains:
            self.by_name.setdefault(key.rsplit(".", 1)[-1], []).append(key)

    def may_resolve(self, call: ast.Call, frame: OutlineFrame) -> bool:
        """Whether `callee_name` of the call may resolve to a known chain."""
        if not self.by_name:
            return False
        for callee in self.callees(call, frame):
            package, _, name = callee.rpartition(".")
            keys = self.by_name.get(name, [])
            if callee in keys or (package and any(key.startswith(package + ".") for key in keys)):
                return True
        return False

    def callees(self, call: ast.Call, frame: OutlineFrame) -> set[str]:
        """The qualified names `callee_name` may give the call (chains are keyed by them)."""
        func, scope = call.func, frame.scope()
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "self"
            and scope.kind is FrameKind.FUNCTION
            and scope.parent is not None
            and isinstance(scope.parent.node, ast.ClassDef)
        ):
            prefix = f"{self.outline.module_name}." if self.outline.module_name else ""
            return {f"{prefix}{scope.parent.node.name}.{func.attr}"}
        return {name.lstrip(".") for name in self.outline.qualified_names(func)}


def may_reach_a_dispatch(outline: Outline, known: KnownChains, sends: set[str]) -> list[FunctionOutline]:
    """Functions that may dispatch, directly or through calls to a known chain or (by last
    name) to a function of the module that may."""
    found = [
        info
        for info in outline.functions
        if any(
            outline.may_dispatch(call) or known.may_resolve(call, info.frame)
            for call in outline.calls_by_scope.get(id(info.frame), ())
        )
    ]
    while True:
        names = sends | {info.node.name for info in found}
        more = [info for info in outline.calling(names, outline.functions) if info not in found]
        if not more:
            return found
        found += more


def open_names(outline: Outline, known: KnownChains, found: list[FunctionOutline]) -> frozenset[str]:
    """The last names of what the functions not `found` call: with the chains known, only
    a new chain ending in one of them can add to `found`."""
    kept = {id(info) for info in found}
    return frozenset(
        callee.rpartition(".")[2]
        for info in outline.functions
        if id(info) not in kept
        for call in outline.calls_by_scope.get(id(info.frame), ())
        for callee in known.callees(call, info.frame)
    )
