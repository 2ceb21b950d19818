"""The one engine behind the CLI and the flake8 plugin.

Per file: a text prescan asks each rule whether it could match at all; only then is
the file parsed (once, by libcst), scanned once into a model, and handed to the rules.
Positions, which cost more than the parse, are computed only for files with findings.
The engine never touches the file system: it takes source text and returns data.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import CodePosition, CodeRange, MetadataWrapper, PositionProvider

from txlint.diagnostics import Diagnostic, Fix, FixSafety, NodeEdit
from txlint.django import DjangoModule
from txlint.django.model import build_model, code_fields
from txlint.noqa import NoqaFilter
from txlint.parsing import TOO_DEEP, PythonVerdict, python_verdict
from txlint.rule import Finding, Rule
from txlint.settings import DEFAULT_SETTINGS, Settings

LOG = logging.getLogger(__name__)

PARSE_ERROR = "TXL000"
MAX_FIX_ROUNDS = 10


@dataclass(frozen=True)
class SourceFile:
    """What the adapters know about a file besides its text."""

    path: str = "<string>"
    module_name: str | None = None
    is_package: bool = False
    # The source's `ast` tree when the caller already has it (flake8 does).
    tree: ast.Module | None = None


@dataclass
class Analysis:
    """The result of linting one source: diagnostics, and the tree when one was parsed."""

    diagnostics: list[Diagnostic]
    module: cst.Module | None = None
    positions: dict[int, CodeRange] = field(default_factory=dict)


def candidate_rules(source: str, rules: Sequence[Rule], settings: Settings) -> list[Rule]:
    return [rule for rule in rules if rule.could_match(source, settings)]


def analyse(
    source: str,
    rules: Sequence[Rule],
    source_file: SourceFile = SourceFile(),
    settings: Settings = DEFAULT_SETTINGS,
    respect_noqa: bool = False,
    full_positions: bool = False,
) -> Analysis:
    """Lint one source. With `respect_noqa`, `# noqa` comments silence findings as in flake8.

    `full_positions` resolves the position of every node (fixes need them to tell
    overlapping edits apart); otherwise only the statements holding findings are.
    """
    try:
        return _lint(source, rules, source_file, settings, respect_noqa, full_positions)
    except RecursionError:
        return Analysis([_parse_error(1, 0, TOO_DEEP)])


def _lint(
    source: str,
    rules: Sequence[Rule],
    source_file: SourceFile,
    settings: Settings,
    respect_noqa: bool,
    full_positions: bool,
) -> Analysis:
    """`analyse`, except that code nested too deeply for libcst's recursive walks raises RecursionError."""
    analysis = _analyse(source, rules, source_file, settings, full_positions)
    if respect_noqa and analysis.diagnostics:
        noqa = NoqaFilter(source)
        analysis.diagnostics = [
            d for d in analysis.diagnostics
            if d.code == PARSE_ERROR or not (noqa.skips_file or noqa.silences(d.code, d.line))
        ]
    return analysis


def _analyse(
    source: str, rules: Sequence[Rule], source_file: SourceFile, settings: Settings, full_positions: bool
) -> Analysis:
    candidates = candidate_rules(source, rules, settings)
    if not candidates:
        return Analysis([])
    verdict = PythonVerdict(source_file.tree) if source_file.tree else python_verdict(source)
    tree, problem = verdict.tree, verdict.problem
    syntax_error = _parse_error(problem.line, problem.column, problem.reason) if problem else None
    if verdict.refused and syntax_error is not None:
        return Analysis([syntax_error])
    try:
        module = cst.parse_module(source)
        model = build_model(module, source_file.path, source_file.module_name, source_file.is_package, settings)
    except cst.ParserSyntaxError as error:
        # CPython's message and position, where it has one, are the ones users know.
        return Analysis([syntax_error or _parse_error(error.raw_line, error.raw_column, str(error).splitlines()[0])])
    except (MemoryError, ValueError) as error:
        return Analysis([_parse_error(1, 0, f"{type(error).__name__}: {error}")])
    django = DjangoModule(model)
    findings = [finding for rule in candidates for finding in rule.check(django)]
    if not findings:
        return Analysis([], module)
    if full_positions or tree is None:
        positions = _positions(module)
    else:
        positions = _positions_of(module, tree, [finding.node for finding in findings])
    diagnostics = sorted(
        (_diagnostic(finding, positions) for finding in findings),
        key=lambda d: (d.line, d.column, d.code),
    )
    return Analysis(diagnostics, module, positions)


def lint_source(
    source: str,
    rules: Sequence[Rule],
    source_file: SourceFile = SourceFile(),
    settings: Settings = DEFAULT_SETTINGS,
    respect_noqa: bool = False,
) -> list[Diagnostic]:
    return analyse(source, rules, source_file, settings, respect_noqa).diagnostics


@dataclass(frozen=True)
class FixResult:
    source: str
    applied: int
    remaining: list[Diagnostic]


def fix_source(
    source: str,
    rules: Sequence[Rule],
    source_file: SourceFile = SourceFile(),
    settings: Settings = DEFAULT_SETTINGS,
    unsafe: bool = False,
    respect_noqa: bool = False,
) -> FixResult:
    """Apply fixes until the code stops changing; each round re-parses and re-lints.

    Overlapping edits wait for the next round, so a fix never works on a stale tree.
    The result always parses: a round whose output does not is discarded. Findings
    silenced by `# noqa` (with `respect_noqa`) are not fixed.
    """
    try:
        return _fix_rounds(source, rules, source_file, settings, unsafe, respect_noqa)
    except RecursionError:
        # Fixes need every node's position and a transform of the whole tree: code
        # nested too deeply for those recursive walks is reported as linting sees it.
        return FixResult(source, 0, analyse(source, rules, source_file, settings, respect_noqa).diagnostics)


def _fix_rounds(
    source: str, rules: Sequence[Rule], source_file: SourceFile, settings: Settings, unsafe: bool, respect_noqa: bool
) -> FixResult:
    applied = 0
    analysis = _lint(source, rules, source_file, settings, respect_noqa, full_positions=True)
    for _ in range(MAX_FIX_ROUNDS):
        fixes = [d.fix for d in analysis.diagnostics if _applicable(d.fix, unsafe)]
        if not fixes or analysis.module is None:
            break
        if analysis.module.code != source:
            # libcst drops the last newline of a file whose lines end in a lone CR.
            LOG.warning("%s: not fixed: libcst does not reproduce this file exactly", source_file.path)
            break
        chosen = _non_overlapping(fixes, analysis.positions)
        new_source = apply_fixes(analysis.module, chosen)
        if new_source == source or not _compiles(new_source, source_file.path):
            break
        source = new_source
        applied += len(chosen)
        analysis = _lint(source, rules, source_file, settings, respect_noqa, full_positions=True)
    return FixResult(source, applied, analysis.diagnostics)


def _applicable(fix: Fix | None, unsafe: bool) -> bool:
    if fix is None or fix.safety is FixSafety.DISPLAY_ONLY:
        return False
    return unsafe or fix.safety is FixSafety.SAFE


def _non_overlapping(fixes: Iterable[Fix | None], positions: dict[int, CodeRange]) -> list[Fix]:
    chosen: list[Fix] = []
    taken: list[tuple[tuple[int, int], tuple[int, int]]] = []
    seen_targets: set[int] = set()
    for fix in fixes:
        assert fix is not None
        spans = [_span(positions[id(edit.target)]) for edit in fix.edits]
        if all(id(edit.target) in seen_targets for edit in fix.edits):
            continue  # several findings sharing one edit (handlers of one `try`)
        if any(_overlaps(span, other) for span in spans for other in taken):
            continue
        chosen.append(fix)
        taken.extend(spans)
        seen_targets.update(id(edit.target) for edit in fix.edits)
    return chosen


def _span(code_range: CodeRange) -> tuple[tuple[int, int], tuple[int, int]]:
    return (
        (code_range.start.line, code_range.start.column),
        (code_range.end.line, code_range.end.column),
    )


def _overlaps(a: tuple[tuple[int, int], tuple[int, int]], b: tuple[tuple[int, int], tuple[int, int]]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


class _ReplaceNodes(cst.CSTTransformer):
    def __init__(self, edits: dict[int, cst.CSTNode]) -> None:
        super().__init__()
        self.edits = edits

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> cst.CSTNode:  # type: ignore[override]
        return self.edits.get(id(original_node), updated_node)


def apply_fixes(module: cst.Module, fixes: list[Fix]) -> str:
    """The module's code with the fixes applied (edits by node identity, then imports)."""
    # libcst.codemod loads libcst.matchers: half of libcst's import time, needed only here.
    from libcst.codemod import CodemodContext
    from libcst.codemod.visitors import AddImportsVisitor

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


def _compiles(source: str, path: str) -> bool:
    try:
        compile(source, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        LOG.warning("%s: discarded a fix whose result does not compile: %s", path, error)
        return False
    return True


def _positions_of(module: cst.Module, tree: ast.Module, nodes: list[cst.CSTNode]) -> dict[int, CodeRange]:
    """Positions of the statements that hold `nodes`, without a pass over the whole module.

    libcst's PositionProvider regenerates the code of the entire module, twice the
    cost of parsing it. Instead each top-level statement holding a finding becomes a
    module of its own, and its lines are shifted to where `ast` says it starts.
    """
    starts = _statement_starts(module, tree)
    if starts is None:
        return _positions(module)
    wanted = {id(node) for node in nodes}
    positions: dict[int, CodeRange] = {}
    for statement, start in zip(module.body, starts):
        if not wanted or not _holds_any(statement, wanted):
            continue
        single = MetadataWrapper(module.with_changes(body=[statement], header=[], footer=[]), unsafe_skip_copy=True)
        local = single.resolve(PositionProvider)
        shift = start - local[statement].start.line
        for node, code_range in local.items():
            positions[id(node)] = CodeRange(
                CodePosition(code_range.start.line + shift, code_range.start.column),
                CodePosition(code_range.end.line + shift, code_range.end.column),
            )
            wanted.discard(id(node))
    return positions if not wanted else _positions(module)


def _statement_starts(module: cst.Module, tree: ast.Module) -> list[int] | None:
    """The line of each top-level statement's own position, from `ast`.

    Both start a decorated definition at `def`/`class`, not at its decorators.
    `a = 1; b = 2` is one statement line for libcst and two statements for `ast`.
    """
    starts, index = [], 0
    for statement in module.body:
        if index >= len(tree.body):
            return None
        starts.append(tree.body[index].lineno)
        index += len(statement.body) if isinstance(statement, cst.SimpleStatementLine) else 1
    return starts if index == len(tree.body) else None


def _holds_any(node: cst.CSTNode, wanted: set[int]) -> bool:
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in wanted:
            return True
        for name in code_fields(type(current)):
            value = getattr(current, name)
            if isinstance(value, cst.CSTNode):
                stack.append(value)
            elif isinstance(value, (list, tuple)):
                stack.extend(item for item in value if isinstance(item, cst.CSTNode))
    return False


def _positions(module: cst.Module) -> dict[int, CodeRange]:
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    return {id(node): code_range for node, code_range in wrapper.resolve(PositionProvider).items()}


def _diagnostic(finding: Finding, positions: dict[int, CodeRange]) -> Diagnostic:
    code_range = positions[id(finding.node)]
    return Diagnostic(
        code=finding.code,
        message=finding.message,
        line=code_range.start.line,
        column=code_range.start.column,
        end_line=code_range.end.line,
        end_column=code_range.end.column,
        fix=finding.fix,
        no_fix_reason=finding.no_fix_reason,
    )


def _parse_error(line: int, column: int, reason: str) -> Diagnostic:
    return Diagnostic(PARSE_ERROR, f"cannot parse file: {reason}", line, column, line, column)


__all__ = ["Analysis", "FixResult", "NodeEdit", "SourceFile", "analyse", "apply_fixes", "fix_source", "lint_source"]
