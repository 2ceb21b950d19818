"""The one engine behind the CLI and the flake8 plugin.

Per file: a text prescan asks each rule whether it could match at all; then CPython's
`ast` tree (five times cheaper than libcst's) is outlined and each rule names the sites
where it could report. Only then is the code around the sites parsed by libcst (see
txlint.pruning), scanned once into a model, and handed to the rules that have a site.
Positions, which cost more than the parse, are computed only for findings. A file that
CPython accepts but libcst cannot parse is reported (TXL000) only when a rule needs
libcst's tree of it. The engine never touches the file system: it takes source text and
returns data.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from txlint.diagnostics import PARSE_ERROR, Diagnostic, Fix, FixSafety, NodeEdit
from txlint.django import DjangoModule
from txlint.django.model import build_model
from txlint.django.outline import Outline
from txlint.lazy import cst
from txlint.noqa import NoqaFilter
from txlint.parsing import TOO_DEEP, PythonVerdict, parse_pruned, python_verdict
from txlint.pruning import Pruned, pruned_source
from txlint.rule import Finding, Rule
from txlint.settings import DEFAULT_SETTINGS, Settings

if TYPE_CHECKING:
    from libcst.metadata import CodeRange

LOG = logging.getLogger(__name__)

MAX_FIX_ROUNDS = 10

# The fast path: rules gated by their sites in the `ast` outline, code away from every
# site not parsed, positions regenerated for the statements holding findings only.
# Turned off only to check that it changes nothing (tests) and to measure it (bench).
FAST_PATH = True


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
    # Without `full_positions`, code away from every rule's sites is left out of it.
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

    `full_positions` is for applying fixes: the whole module is parsed (not only the
    functions that hold findings) and every node's position resolved (fixes need them
    to tell overlapping edits apart); otherwise only the statements holding findings are.
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
    parsed = Pruned(source)
    if FAST_PATH and tree is not None:
        outline = Outline(tree, source, *_location(source_file), settings)
        sites = {rule.code: rule.sites(outline) for rule in candidates}
        candidates = [rule for rule in candidates if sites[rule.code]]
        if not candidates:
            return Analysis([])
        if not full_positions:
            parsed = pruned_source(outline, [site for rule in candidates for site in sites[rule.code]])
    try:
        module, parsed = parse_pruned(parsed, source)
        model = build_model(module, source_file.path, source_file.module_name, source_file.is_package, settings)
    except cst.ParserSyntaxError as error:
        # CPython's message and position, where it has one, are the ones users know.
        return Analysis([syntax_error or _parse_error(error.raw_line, error.raw_column, str(error).splitlines()[0])])
    except (MemoryError, ValueError) as error:
        return Analysis([_parse_error(1, 0, f"{type(error).__name__}: {error}")])
    django = DjangoModule(model)
    findings = [finding for rule in candidates for finding in rule.check(django)]
    model.forget()
    if not findings:
        return Analysis([], module)
    from txlint.positions import all_positions, positions_of  # libcst's metadata, needed for findings only

    found = None if full_positions or tree is None or not FAST_PATH else positions_of(module, tree, [f.node for f in findings])
    positions = found if found is not None else source_positions(all_positions(module), parsed)
    diagnostics = sorted(
        (_diagnostic(finding, positions) for finding in findings),
        key=lambda d: (d.line, d.column, d.code),
    )
    return Analysis(diagnostics, module, positions)


def source_positions(positions: dict[int, CodeRange], parsed: Pruned) -> dict[int, CodeRange]:
    """Positions in the pruned code, moved to the source's lines (columns are the same)."""
    if parsed.lines is None:
        return positions
    from libcst.metadata import CodePosition, CodeRange

    line = parsed.source_line
    return {
        key: CodeRange(CodePosition(line(r.start.line), r.start.column), CodePosition(line(r.end.line), r.end.column))
        for key, r in positions.items()
    }


def _location(source_file: SourceFile) -> tuple[str, str | None, bool]:
    return source_file.path, source_file.module_name, source_file.is_package


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
    from txlint.rewriting import apply_fixes  # libcst's codemods, needed only to fix

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


def _compiles(source: str, path: str) -> bool:
    try:
        compile(source, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        LOG.warning("%s: discarded a fix whose result does not compile: %s", path, error)
        return False
    return True


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


__all__ = ["Analysis", "FixResult", "NodeEdit", "SourceFile", "analyse", "fix_source", "lint_source"]
