"""Which variables a piece of code reads: the free names of an expression or block."""

from __future__ import annotations

import libcst as cst

from txlint.django.model import target_names


class _Reads(cst.CSTVisitor):
    """Names read, and names bound inside (parameters, comprehension targets).

    `obj.e` does not read `e`; `f(e=1)` names a keyword, not a variable.
    """

    def __init__(self) -> None:
        super().__init__()
        self.read: set[str] = set()
        self.bound: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.read.add(node.value)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)
        return False

    def visit_Param(self, node: cst.Param) -> bool:
        self.bound.add(node.name.value)
        if node.default is not None:
            node.default.visit(self)
        return False

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self.bound.update(target_names(node.target))

    def _comprehension(self, node: cst.CSTNode) -> bool:
        """A comprehension binds its targets in a scope of its own."""
        self.read |= names_read(*node.children)
        return False

    def visit_ListComp(self, node: cst.ListComp) -> bool:
        return self._comprehension(node)

    def visit_SetComp(self, node: cst.SetComp) -> bool:
        return self._comprehension(node)

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> bool:
        return self._comprehension(node)

    def visit_DictComp(self, node: cst.DictComp) -> bool:
        return self._comprehension(node)


def names_read(*nodes: cst.CSTNode) -> set[str]:
    """The variables `nodes` read from outside themselves."""
    reads = _Reads()
    for node in nodes:
        node.visit(reads)
    return reads.read - reads.bound
