"""Where findings are, without regenerating the code around them.

libcst's PositionProvider regenerates the code of everything it is given, twice the cost
of parsing it. A finding only needs the statement that holds it: the innermost one is
regenerated inside its ancestors, each reduced to the path down to it (so the indentation,
and with it every column, stays exact), and its lines are shifted to where CPython's
`ast` says that statement starts.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

import libcst as cst
from libcst.metadata import CodePosition, CodeRange, MetadataWrapper, PositionProvider

from txlint.django.model import code_fields

# libcst compound statements and the `ast` nodes they correspond to.
COUNTERPARTS: dict[type[cst.CSTNode], tuple[type[ast.AST], ...]] = {
    cst.FunctionDef: (ast.FunctionDef, ast.AsyncFunctionDef),
    cst.ClassDef: (ast.ClassDef,),
    cst.If: (ast.If,),
    cst.For: (ast.For, ast.AsyncFor),
    cst.While: (ast.While,),
    cst.With: (ast.With, ast.AsyncWith),
    cst.Try: (ast.Try,),
    cst.TryStar: (ast.TryStar,),
    cst.Match: (ast.Match,),
}


def all_positions(module: cst.Module) -> dict[int, CodeRange]:
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    return {id(node): code_range for node, code_range in wrapper.resolve(PositionProvider).items()}


def positions_of(module: cst.Module, tree: ast.Module, nodes: Sequence[cst.CSTNode]) -> dict[int, CodeRange] | None:
    """The positions of `nodes` in the source of `tree`, by id; None when a statement
    cannot be matched (then `all_positions` has them, in the module's own lines)."""
    paths = _paths(module, {id(node) for node in nodes})
    holders = {id(node): _innermost_statement(paths.get(id(node), [])) for node in nodes}
    starts = {key: _start(module, tree, paths[key]) for key, holder in holders.items() if holder is not None}
    if len(starts) < len(holders) or None in starts.values():
        return None
    keep = {id(ancestor) for path in paths.values() for ancestor in path}
    kept = {id(holder) for holder in holders.values()}
    reduced = module.with_changes(body=[_reduced(s, keep, kept) for s in module.body if id(s) in keep], header=[], footer=[])
    generated = MetadataWrapper(reduced, unsafe_skip_copy=True).resolve(PositionProvider)
    positions: dict[int, CodeRange] = {}
    for node in nodes:
        holder = holders[id(node)]
        assert holder is not None
        shift = (starts[id(node)] or 0) - generated[holder].start.line
        found = generated[node]
        positions[id(node)] = CodeRange(
            CodePosition(found.start.line + shift, found.start.column),
            CodePosition(found.end.line + shift, found.end.column),
        )
    return positions


def _paths(module: cst.Module, wanted: set[int]) -> dict[int, list[cst.CSTNode]]:
    """For each wanted node, its ancestors from a top-level statement down to itself."""
    paths: dict[int, list[cst.CSTNode]] = {}
    for statement in module.body:
        if len(paths) == len(wanted):
            break
        visited: list[cst.CSTNode] = [statement]
        parents = [-1]
        stack = [0]
        while stack:
            index = stack.pop()
            node = visited[index]
            if id(node) in wanted:
                paths[id(node)] = _chain(visited, parents, index)
            for name in code_fields(type(node)):
                value = getattr(node, name)
                for child in value if isinstance(value, (list, tuple)) else (value,):
                    if isinstance(child, cst.CSTNode):
                        visited.append(child)
                        parents.append(index)
                        stack.append(len(visited) - 1)
    return paths


def _chain(visited: list[cst.CSTNode], parents: list[int], index: int) -> list[cst.CSTNode]:
    chain = []
    while index >= 0:
        chain.append(visited[index])
        index = parents[index]
    chain.reverse()
    return chain


def _innermost_statement(path: list[cst.CSTNode]) -> cst.BaseStatement | None:
    return next((node for node in reversed(path) if isinstance(node, cst.BaseStatement)), None)


def _reduced(node: cst.CSTNode, keep: set[int], kept: set[int]) -> cst.CSTNode:
    """The node with the statements off the paths to the kept statements left out."""
    if id(node) in kept:
        return node
    changes: dict[str, object] = {}
    for name in code_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            if id(value) in keep:
                changes[name] = _reduced(value, keep, kept)
        elif isinstance(value, (list, tuple)) and any(id(item) in keep for item in value):
            changes[name] = [
                _reduced(item, keep, kept) if id(item) in keep else item
                for item in value
                if id(item) in keep or not isinstance(item, cst.BaseStatement)
            ]
        elif isinstance(value, (list, tuple)) and any(isinstance(item, cst.BaseStatement) for item in value):
            changes[name] = []
    return node.with_changes(**changes) if changes else node


def _start(module: cst.Module, tree: ast.Module, path: list[cst.CSTNode]) -> int | None:
    """The line where the innermost statement of `path` starts, from its `ast` counterpart."""
    statements = [node for node in path if isinstance(node, cst.BaseStatement)]
    counterpart = _counterpart(module.body, tree.body, statements[0])
    for parent, child in zip(statements, statements[1:]):
        if counterpart is None:
            return None
        counterpart = next(
            (_counterpart(mine, theirs, child) for mine, theirs in _clauses(parent, counterpart) if child in mine),
            None,
        )
    return None if counterpart is None else counterpart.lineno


def _counterpart(mine: Sequence[cst.BaseStatement], theirs: list[ast.stmt], child: cst.BaseStatement) -> ast.stmt | None:
    """`child`'s statement in `ast`: `a = 1; b = 2` is one libcst statement and two `ast` ones."""
    index = 0
    for statement in mine:
        if index >= len(theirs):
            return None
        if statement is child:
            return theirs[index] if _same_kind(statement, theirs[index]) else None
        index += len(statement.body) if isinstance(statement, cst.SimpleStatementLine) else 1
    return None


def _same_kind(statement: cst.BaseStatement, counterpart: ast.stmt) -> bool:
    kinds = COUNTERPARTS.get(type(statement))
    if kinds is None:
        return isinstance(statement, cst.SimpleStatementLine) and type(counterpart) not in _COMPOUND
    return isinstance(counterpart, kinds)


_COMPOUND = frozenset(kind for kinds in COUNTERPARTS.values() for kind in kinds)


def _clauses(statement: cst.BaseStatement, counterpart: ast.stmt) -> list[tuple[Sequence[cst.BaseStatement], list[ast.stmt]]]:
    """The statement lists of a compound statement, each with its `ast` counterpart."""
    suites: list[tuple[cst.CSTNode, list[ast.stmt]]] = []
    if isinstance(statement, cst.Match) and isinstance(counterpart, ast.Match):
        suites += [(case.body, theirs.body) for case, theirs in zip(statement.cases, counterpart.cases)]
    else:
        suites.append((getattr(statement, "body"), getattr(counterpart, "body")))
        handlers = zip(getattr(statement, "handlers", ()), getattr(counterpart, "handlers", ()))
        suites += [(handler.body, theirs.body) for handler, theirs in handlers]
        for name in ("orelse", "finalbody"):
            clause = getattr(statement, name, None)
            if clause is not None:
                suites.append((clause if isinstance(clause, cst.If) else clause.body, getattr(counterpart, name)))
    pairs: list[tuple[Sequence[cst.BaseStatement], list[ast.stmt]]] = []
    for suite, theirs in suites:
        if isinstance(suite, cst.If):  # `elif`: the `If` is the only statement of `orelse`
            pairs.append(([suite], theirs))
        elif isinstance(suite, cst.IndentedBlock):
            pairs.append((suite.body, theirs))
    return pairs
