"""Every parse in txlint goes through here: CPython first, libcst only after it.

libcst's native parser overflows its stack, killing the process, on nesting that
CPython rejects cleanly (3,000 parentheses, 5,000 unary minuses), and it needs
gigabytes and seconds on chains CPython refuses with a RecursionError. So CPython's
verdict comes first. Other syntax errors do not stop libcst: it reads syntax newer
than the running interpreter (`type X = int` on 3.11).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from txlint.lazy import cst
from txlint.pruning import Pruned

TOO_DEEP = "too deeply nested to analyse"


@dataclass(frozen=True)
class SyntaxProblem:
    line: int
    column: int
    reason: str


@dataclass(frozen=True)
class PythonVerdict:
    """CPython's tree, or the problem it found; `refused` when libcst must not see the source."""

    tree: ast.Module | None
    problem: SyntaxProblem | None = None
    refused: bool = False


def python_verdict(source: str) -> PythonVerdict:
    try:
        return PythonVerdict(ast.parse(source))
    except (RecursionError, MemoryError):
        return PythonVerdict(None, SyntaxProblem(1, 0, TOO_DEEP), refused=True)
    except SyntaxError as error:
        line, column = error.lineno or 1, max((error.offset or 1) - 1, 0)
        refused = "too many nested" in str(error.msg) or "too many levels" in str(error.msg)
        # Null bytes are a SyntaxError from 3.12 on, a ValueError before.
        refused = refused or "null bytes" in str(error.msg)
        return PythonVerdict(None, SyntaxProblem(line, column, str(error.msg)), refused)
    except ValueError as error:
        return PythonVerdict(None, SyntaxProblem(1, 0, str(error)), refused=True)


def parse_module(source: str) -> cst.Module | None:
    """libcst's tree of `source`, or None when CPython refuses it or libcst cannot parse it."""
    if python_verdict(source).refused:
        return None
    try:
        return unvalidated_parse(source)
    except (cst.ParserSyntaxError, RecursionError, MemoryError, ValueError):
        return None


def parse_pruned(pruned: Pruned, source: str) -> tuple[cst.Module, Pruned]:
    """libcst's tree of the pruned code (see txlint.pruning) and that code; the whole
    `source`'s should pruning ever leave code libcst refuses: no pruning artefact is a
    syntax error."""
    try:
        return unvalidated_parse(pruned.text), pruned
    except cst.ParserSyntaxError:
        if pruned.text is source:
            raise
        return unvalidated_parse(source), Pruned(source)


def unvalidated_parse(source: str) -> cst.Module:
    """`libcst.parse_module`, without validating each node the parser builds.

    Every node runs `_validate()` as it is constructed (`CSTNode.__post_init__`), which
    guards trees built by hand; a tree libcst's parser builds from source is valid by
    construction, and validating it is 14% of the parse (libcst's own source notes the
    cost). Nodes built later (fixes) are validated as usual. Not for threads that build
    nodes meanwhile: txlint parses in one thread per process.
    """
    validate = cst.CSTNode.__post_init__
    cst.CSTNode.__post_init__ = _no_validation  # type: ignore[method-assign,assignment]
    try:
        return cst.parse_module(source)
    finally:
        cst.CSTNode.__post_init__ = validate  # type: ignore[method-assign]


def _no_validation(node: cst.CSTNode) -> None:
    return None
