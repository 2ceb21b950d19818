"""Fuzz tests: generated and mutated programs through lint and fix, every rule, unsafe fixes on.

Whatever the program: linting and fixing raise nothing; every finding lies inside the
file; a fix that changes the source compiles (the engine's compile guard never has to
discard one) and is a fixed point; no finding with an applicable fix survives `fix`.
The programs are hypothesmith's, alone and inside Django transaction code (so that the
rules get past their prescan and really analyse them), and the repository's fixtures
with statements wrapped in `with transaction.atomic():` and dispatches inserted, where
each dispatch put directly inside such a block must be TXL101 at its line and become
`transaction.on_commit(...)` under `fix`.

Deterministic by default: derandomized, a fixed number of examples per test. To hunt
for bugs, `TXLINT_FUZZ_EXAMPLES=2000 python -m pytest tests/test_fuzz.py` runs that many
random examples per test (`--hypothesis-seed=N` replays a run).
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import hypothesmith
import libcst as cst
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from libcst.metadata import MetadataWrapper, PositionProvider

from txlint.diagnostics import Diagnostic, FixSafety
from txlint.engine import FixResult, SourceFile, fix_source, lint_source
from txlint.registry import selected_rules

# Generated code is compiled, by hypothesmith and by the engine: its warnings are noise here.
pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning", "ignore::DeprecationWarning")

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RULES = [rule() for rule in selected_rules(strict=True)]
MARKER = re.compile(r"#\s*(TXL\d{3})\b")
# Lines as CPython counts them: `str.splitlines` also splits at form feeds and more.
LINE_END = re.compile(r"\r\n|\r|\n")
HUNT_EXAMPLES = int(os.environ.get("TXLINT_FUZZ_EXAMPLES", "0"))


def fuzzing(examples: int) -> settings:
    """`examples` derandomized examples, or TXLINT_FUZZ_EXAMPLES random ones when it is set."""
    return settings(
        max_examples=HUNT_EXAMPLES or examples,
        derandomize=not HUNT_EXAMPLES,
        database=None,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )


# The invariants every program keeps


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def engine_warnings() -> Iterator[list[str]]:
    """The engine's warnings meanwhile: a discarded fix is only logged, never raised."""
    recorder = _Recorder()
    logger = logging.getLogger("txlint.engine")
    logger.addHandler(recorder)
    try:
        yield recorder.messages
    finally:
        logger.removeHandler(recorder)


def python_lines(source: str) -> list[str]:
    lines = LINE_END.split(source)
    return lines[:-1] if lines[-1] == "" else lines


def assert_inside(diagnostics: list[Diagnostic], source: str) -> None:
    lines = python_lines(source) or [""]
    for d in diagnostics:
        assert 1 <= d.line <= d.end_line <= len(lines), d
        assert 0 <= d.column <= len(lines[d.line - 1]), d
        assert d.end_column <= len(lines[d.end_line - 1]), d


def fixable(diagnostic: Diagnostic) -> bool:
    return diagnostic.fix is not None and diagnostic.fix.safety is not FixSafety.DISPLAY_ONLY


def fix(source: str, source_file: SourceFile) -> FixResult:
    return fix_source(source, RULES, source_file, unsafe=True)


def assert_lints_and_fixes_cleanly(source: str, source_file: SourceFile = SourceFile()) -> tuple[list[Diagnostic], FixResult]:
    """Lint and fix `source`, check the invariants of both, and return them for more checks."""
    with engine_warnings() as warnings:
        diagnostics = lint_source(source, RULES, source_file)
        fixed = fix(source, source_file)
    assert_inside(diagnostics, source)
    assert_inside(fixed.remaining, fixed.source)
    assert not [warning for warning in warnings if "discarded a fix" in warning], warnings
    if fixed.source != source:
        compile(fixed.source, source_file.path, "exec", dont_inherit=True)
        again = fix(fixed.source, source_file)
        assert (again.source, again.applied) == (fixed.source, 0)
    if not [warning for warning in warnings if "does not reproduce" in warning]:
        assert not [d for d in fixed.remaining if fixable(d)], fixed.remaining
    return diagnostics, fixed


def marked(source: str) -> set[tuple[str, int]]:
    return {(code, number) for number, line in enumerate(python_lines(source), start=1) for code in MARKER.findall(line)}


def reported(diagnostics: list[Diagnostic]) -> set[tuple[str, int]]:
    return {(d.code, d.line) for d in diagnostics}


# 1. hypothesmith's programs


@fuzzing(examples=150)
@given(hypothesmith.from_grammar())
def test_program_from_the_grammar_lints_and_fixes_cleanly(source: str) -> None:
    assert_lints_and_fixes_cleanly(source)


@fuzzing(examples=25)
@given(hypothesmith.from_node())
def test_program_from_libcst_nodes_lints_and_fixes_cleanly(source: str) -> None:
    assert_lints_and_fixes_cleanly(source)


# Django code with a slot for a generated module body; `# TXLnnn` marks what each must report.
TRANSACTION_CODE = {
    "atomic-block": """
from django.db import transaction

from shop.tasks import send_receipt


def place_order(order):
    with transaction.atomic():
        __generated__
        send_receipt.delay(order.pk)  # TXL101
""",
    "atomic-decorator-swallowing-errors": """
from django.db import transaction

from shop.tasks import send_receipt


@transaction.atomic
def import_rows(order):
    try:
        __generated__
        order.save()
    except Exception:  # TXL105 # TXL202
        pass
    send_receipt.delay(order.pk)  # TXL101
""",
    "on-commit-in-a-loop": """
from django.db import transaction

from shop.notifications import notify_line


def ship(order):
    with transaction.atomic():
        for line in order.lines.all():
            __generated__
            transaction.on_commit(lambda: notify_line(line))  # TXL103
""",
    "handlers": """
import logging

logger = logging.getLogger(__name__)


def sync(order):
    try:
        __generated__
    except:  # TXL201 # TXL202
        pass
    try:
        order.sync()
    except Exception as error:
        logger.error("sync failed: %s", error)  # TXL203
""",
    "instance-cache": """
from django.db import models


class Project(models.Model):
    @property
    def task_count(self):  # TXL302
        if not hasattr(self, "_task_count"):
            __generated__
            self._task_count = self.tasks.count()
        return self._task_count

    def add_task(self, name):
        self.tasks.create(name=name)
""",
}
# Where a generated module cannot become a function body (`from __future__ import`,
# `import *`), Django code after it still engages the rules on the whole file.
DISPATCH_AFTER = """
from django.db import transaction

from shop.tasks import send_receipt


def place_order(order):
    with transaction.atomic():
        send_receipt.delay(order.pk)  # TXL101
"""


class _FillSlot(cst.CSTTransformer):
    def __init__(self, statements: list[cst.BaseStatement]) -> None:
        super().__init__()
        self.statements = statements

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        [statement] = updated_node.body
        if isinstance(statement, cst.Expr) and isinstance(statement.value, cst.Name) and statement.value.value == "__generated__":
            return cst.FlattenSentinel(self.statements)
        return updated_node


def in_slot(template: str, generated: cst.Module) -> str:
    """`template` with the generated module's statements (and comments) in its slot."""
    statements = list(generated.body) or [cst.SimpleStatementLine([cst.Pass()])]
    comments = [*generated.header, *statements[0].leading_lines, *generated.footer]
    statements[0] = statements[0].with_changes(leading_lines=comments)
    return cst.parse_module(template.lstrip("\n")).visit(_FillSlot(statements)).code


def compiles(source: str) -> bool:
    try:
        compile(source, "<fuzz>", "exec", dont_inherit=True)
    except SyntaxError:
        return False
    return True


def in_django_code(generated: str, template: str) -> tuple[str, str]:
    """The generated program inside `template`, or followed by a dispatch where it cannot be;
    and which of the two it is."""
    try:
        source = in_slot(template, cst.parse_module(generated))
    except cst.ParserSyntaxError:
        source = ""
    if compiles(source):
        return source, "in a transaction"
    separator = "" if generated.endswith(("\n", "\r")) else "\n"
    source = generated + separator + DISPATCH_AFTER.lstrip("\n")
    return (source, "followed by a dispatch") if compiles(source) else (generated, "alone")


def test_program_inside_django_code_is_analysed_and_fixed_cleanly() -> None:
    placements: Counter[str] = Counter()

    @fuzzing(examples=100)
    @given(hypothesmith.from_grammar(), st.sampled_from(sorted(TRANSACTION_CODE)))
    def check(generated: str, template: str) -> None:
        source, placement = in_django_code(generated, TRANSACTION_CODE[template])
        placements[placement] += 1
        diagnostics, _ = assert_lints_and_fixes_cleanly(source, SourceFile("shop/services.py"))
        assert marked(source) <= reported(diagnostics)

    check()
    # The generated code really sits in the analysed function most of the time.
    assert placements["in a transaction"] >= 0.8 * sum(placements.values()), placements


NOQA_CODE = """
from django.db import transaction

from shop.tasks import send_receipt


def place_order(order):
    with transaction.atomic():
        __generated__
        send_receipt.delay(order.pk)  # noqa: TXL101
        send_receipt.delay(order.pk, 2)  # TXL101
"""


@fuzzing(examples=100)
@given(hypothesmith.from_grammar())
def test_noqa_silences_its_own_line_whatever_comes_before(generated: str) -> None:
    source, placement = in_django_code(generated, NOQA_CODE)
    assume(placement == "in a transaction")
    dispatches = [d for d in lint_source(source, RULES, respect_noqa=True) if d.code == "TXL101"]
    assert reported(dispatches) == marked(source)


# Dispatches in a transaction whose arguments are generated expressions
ARGUMENT_SITES = {
    "only-argument": "send_receipt.delay(__expression__)",
    "second-argument": "send_receipt.delay(order.pk, __expression__)",
    "keyword-argument": "send_receipt.apply_async(args=[order.pk], countdown=__expression__)",
    "generator-argument": "send_receipt.delay(__expression__ for line in order.lines.all())",
    "multi-line-call": "send_receipt.delay(\n            order.pk,\n            __expression__,\n        )",
}
ARGUMENT_CODE = """
from django.db import transaction

from shop.tasks import send_receipt


def place_order(order):
    with transaction.atomic():
        order.save()
        __dispatch__
""".lstrip("\n")
DISPATCH_LINE = ARGUMENT_CODE.splitlines().index("        __dispatch__") + 1


def with_argument(site: str, expression: str) -> str | None:
    """The dispatch with `expression` in it, parenthesized where it must be; None if it cannot be."""
    for argument in (expression, f"({expression})", f"({expression}\n)"):
        source = ARGUMENT_CODE.replace("__dispatch__", site.replace("__expression__", argument))
        if compiles(source):
            return source
    return None


@fuzzing(examples=80)
@given(hypothesmith.from_grammar("eval_input"), st.sampled_from(sorted(ARGUMENT_SITES)))
def test_dispatch_with_generated_arguments_is_reported_and_deferred(expression: str, site: str) -> None:
    source = with_argument(ARGUMENT_SITES[site], expression.strip())
    assume(source is not None)
    assert source is not None
    diagnostics, fixed = assert_lints_and_fixes_cleanly(source, SourceFile("shop/services.py"))
    [dispatch] = [d for d in diagnostics if d.code == "TXL101"]
    assert dispatch.line == DISPATCH_LINE and fixable(dispatch)
    assert "transaction.on_commit(partial(send_receipt." in fixed.source


# 2. The fixtures, mutated: statements wrapped in new transactions, dispatches inserted

# Imported from a tasks module, so a plausible task (RULES.md); named like nothing in the fixtures.
DEFERRED_TASK, OTHER_TASK = "notify_courier", "refresh_search_index"
MUTATION_IMPORTS = f"from django.db import transaction\nfrom shop.tasks import {DEFERRED_TASK}, {OTHER_TASK}\n"
# Bare statements, so TXL101 has a safe fix for each (RULES.md).
DEFERRABLE_DISPATCHES = (
    f"{DEFERRED_TASK}.delay(order.pk)",
    f"{DEFERRED_TASK}.delay()",
    f"{DEFERRED_TASK}.delay(order.pk, priority='high')",
    f"{DEFERRED_TASK}.apply_async(args=[order.pk], countdown=30)",
    f"{DEFERRED_TASK}.delay(*order_ids, **options)",
    f"{DEFERRED_TASK}.s(order.pk).apply_async()",
    f"{DEFERRED_TASK}.delay(line.pk for line in order.lines.all())",
    f"{DEFERRED_TASK}.delay(\n    order.pk,  # the courier reads the order\n    urgent=True,\n)",
    f"{DEFERRED_TASK}.delay(order.pk); order.refresh_from_db()",
)
# Anywhere: in a transaction or not, used result or not; only the invariants apply.
OTHER_DISPATCHES = (f"{OTHER_TASK}.delay(order.pk)", f"job = {OTHER_TASK}.delay(order.pk)")
MUTABLE_FIXTURES = sorted(
    path.relative_to(FIXTURES).as_posix() for path in FIXTURES.rglob("*.py") if "def " in path.read_text()
)


@dataclass(frozen=True)
class Block:
    node: cst.IndentedBlock
    # Code in it runs in a sync function (not in a class body inside one): a new
    # transaction there holds what is put in it.
    in_sync_function: bool


class _Blocks(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.scopes: list[bool] = []  # per enclosing def or class: a sync function?
        self.found: list[Block] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scopes.append(node.asynchronous is None)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.scopes.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.scopes.append(False)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.scopes.pop()

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self.found.append(Block(node, bool(self.scopes) and self.scopes[-1]))


def blocks(module: cst.Module) -> list[Block]:
    visitor = _Blocks()
    module.visit(visitor)
    return visitor.found


class _ReplaceBlock(cst.CSTTransformer):
    def __init__(self, target: cst.IndentedBlock, body: list[cst.BaseStatement]) -> None:
        super().__init__()
        self.target = target
        self.body = body

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock) -> cst.IndentedBlock:
        return updated_node.with_changes(body=self.body) if original_node is self.target else updated_node


def replaced(module: cst.Module, target: cst.IndentedBlock, body: list[cst.BaseStatement]) -> cst.Module:
    return module.visit(_ReplaceBlock(target, body))


ATOMIC_BLOCK = cst.ensure_type(cst.parse_statement("with transaction.atomic():\n    pass\n"), cst.With)


@st.composite
def wrapped_in_a_transaction(draw: st.DrawFn, module: cst.Module) -> cst.Module:
    """Some statements of a sync function's block moved into a new `with transaction.atomic():`,
    a deferrable dispatch among them, or just a dispatch in a new block."""
    candidates = [block for block in blocks(module) if block.in_sync_function]
    if not candidates:
        return module
    block = draw(st.sampled_from(candidates)).node
    body = list(block.body)
    start = draw(st.integers(0, len(body)))
    end = draw(st.integers(start, len(body)))
    inside = body[start:end]
    dispatch = cst.parse_statement(draw(st.sampled_from(DEFERRABLE_DISPATCHES)))
    inside.insert(draw(st.integers(0, len(inside))), dispatch)
    atomic = ATOMIC_BLOCK.with_changes(body=ATOMIC_BLOCK.body.with_changes(body=inside))
    return replaced(module, block, [*body[:start], atomic, *body[end:]])


@st.composite
def with_a_dispatch(draw: st.DrawFn, module: cst.Module) -> cst.Module:
    """A dispatch at any statement position of any block."""
    block = draw(st.sampled_from(blocks(module))).node
    body = list(block.body)
    body.insert(draw(st.integers(0, len(body))), cst.parse_statement(draw(st.sampled_from(OTHER_DISPATCHES))))
    return replaced(module, block, body)


@lru_cache(maxsize=None)
def fixture_module(path: str) -> cst.Module:
    """The fixture with the tasks' and `transaction`'s imports first (after a docstring)."""
    module = cst.parse_module((FIXTURES / path).read_text())
    docstring = 1 if module.get_docstring() is not None else 0
    imports = list(cst.parse_module(MUTATION_IMPORTS).body)
    return module.with_changes(body=[*module.body[:docstring], *imports, *module.body[docstring:]])


@st.composite
def mutated_fixtures(draw: st.DrawFn) -> tuple[str, str]:
    """A fixture's path and its code, mutated."""
    path = draw(st.sampled_from(MUTABLE_FIXTURES))
    module = fixture_module(path)
    for _ in range(draw(st.integers(1, 3))):
        mutation = draw(st.sampled_from([wrapped_in_a_transaction, wrapped_in_a_transaction, with_a_dispatch]))
        module = draw(mutation(module))
    return path, module.code


class _DeferredDispatches(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[int] = []

    def visit_Expr(self, node: cst.Expr) -> None:
        if isinstance(node.value, cst.Call) and DEFERRED_TASK in root_name(node.value):
            self.lines.append(self.get_metadata(PositionProvider, node).start.line)


def root_name(expression: cst.BaseExpression) -> str:
    while isinstance(expression, (cst.Call, cst.Attribute)):
        expression = expression.func if isinstance(expression, cst.Call) else expression.value
    return expression.value if isinstance(expression, cst.Name) else ""


def deferred_dispatch_lines(source: str) -> list[int]:
    """Lines of the statements that dispatch DEFERRED_TASK: each was put in a new transaction."""
    visitor = _DeferredDispatches()
    MetadataWrapper(cst.parse_module(source)).visit(visitor)
    return visitor.lines


ON_COMMIT_OF_DEFERRED_TASK = re.compile(rf"on_commit\(\s*((\w+\.)*partial\(\s*)?{DEFERRED_TASK}\.")


@fuzzing(examples=60)
@given(mutated_fixtures())
def test_mutated_fixture_reports_and_defers_each_dispatch_put_in_a_transaction(mutated: tuple[str, str]) -> None:
    path, source = mutated
    compile(source, path, "exec", dont_inherit=True)
    diagnostics, fixed = assert_lints_and_fixes_cleanly(source, SourceFile(path))
    expected = deferred_dispatch_lines(source)
    reported_dispatches = {d.line for d in diagnostics if d.code == "TXL101" and fixable(d)}
    assert set(expected) <= reported_dispatches, diagnostics
    assert not [d for d in fixed.remaining if d.code == "TXL101" and f"`{DEFERRED_TASK}." in d.message]
    assert len(ON_COMMIT_OF_DEFERRED_TASK.findall(fixed.source)) == len(expected)
