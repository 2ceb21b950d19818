"""Which variables a piece of code reads: the free names of an expression or block."""

from __future__ import annotations

from txlint.django.model import children, target_names
from txlint.lazy import cst


def names_read(*nodes: cst.CSTNode) -> set[str]:
    """The variables `nodes` read from outside themselves.

    `obj.e` does not read `e`; `f(e=1)` names a keyword, not a variable; parameters and
    comprehension targets are bound inside.
    """
    read: set[str] = set()
    bound: set[str] = set()
    for node in nodes:
        _collect(node, read, bound)
    return read - bound


def _collect(node: cst.CSTNode, read: set[str], bound: set[str]) -> None:
    if isinstance(node, cst.Name):
        read.add(node.value)
    elif isinstance(node, (cst.Attribute, cst.Arg)):
        _collect(node.value, read, bound)
    elif isinstance(node, cst.Param):
        bound.add(node.name.value)
        if node.default is not None:
            _collect(node.default, read, bound)
    elif isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
        # A comprehension binds its targets in a scope of its own.
        read |= names_read(*children(node))
    else:
        if isinstance(node, cst.CompFor):
            bound.update(target_names(node.target))
        for child in children(node):
            _collect(child, read, bound)
