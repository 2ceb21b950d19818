"""A module's code with fixes applied: the edits by node identity, then the imports.

Imported only to fix or to preview a fix: libcst.codemod loads libcst.matchers, half of
libcst's import time.
"""

from __future__ import annotations

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor

from txlint.diagnostics import Fix


class _ReplaceNodes(cst.CSTTransformer):
    def __init__(self, edits: dict[int, cst.CSTNode]) -> None:
        super().__init__()
        self.edits = edits

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> cst.CSTNode:  # type: ignore[override]
        return self.edits.get(id(original_node), updated_node)


def apply_fixes(module: cst.Module, fixes: list[Fix]) -> str:
    """The module's code with the fixes applied (edits by node identity, then imports)."""
    edits: dict[int, cst.CSTNode] = {}
    context = CodemodContext()
    for fix in fixes:
        for edit in fix.edits:
            edits[id(edit.target)] = edit.replacement
        for request in fix.imports:
            if request.name is None:
                AddImportsVisitor.add_needed_import(context, request.module, asname=request.alias)
            else:
                AddImportsVisitor.add_needed_import(context, request.module, request.name, request.alias)
    updated = module.visit(_ReplaceNodes(edits))
    assert isinstance(updated, cst.Module)
    return AddImportsVisitor(context).transform_module(updated).code
