"""Parse less: the source with the code that no rule needs blanked out.

The rules' sites (see `Rule.sites`) name the code that holds their findings and what
their verdicts read elsewhere. Two kinds of code away from every site are dropped:
- the body of an outermost function (a module-level function or a method, with
  everything nested in it) becomes `pass`. Its imports stay in place (re-indented to the
  body's level): the ImportTable is module-wide, so they can change how names resolve
  anywhere in the module;
- the value of a multi-line assignment or expression at module or class level (model
  and form fields, settings dicts) becomes `...`; its targets stay bound. Values the
  model reads there whatever the rules are kept: loggers, `RunPython`, `connect` and
  clearing calls, `:=`.
Dropped lines are left out, not padded blank: libcst makes a node of every blank line
it reads (an `EmptyLine`), and padding cost 9% of the parse. Kept lines keep their
text, so every column stays; `Pruned.lines` maps each line back to the source's
(positions normally come from CPython's `ast`, which has them: see txlint.positions).
"""

from __future__ import annotations

import ast
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import accumulate

from txlint.django.caches import CLEARING_METHODS
from txlint.django.logs import COMMON_LOGGER_NAMES, DERIVED_LOGGERS, LOGGER_FACTORIES
from txlint.django.outline import Function, Outline, char_column, dotted_name

INDENT = " \t\f"
# Names in a module- or class-level value that the model reads (see the module docstring).
READ_NAMES = frozenset(
    {"RunPython", "connect", *CLEARING_METHODS, *DERIVED_LOGGERS, *(name.rsplit(".", 1)[-1] for name in LOGGER_FACTORIES)}
)
# What may follow a dropped value on its last line: closing brackets and a comment.
CLOSING = re.compile(r"[\s)\]}]*(#.*)?[\r\n]*")


@dataclass(frozen=True)
class Pruned:
    """The code to parse; `lines[i]` is the source's number of its line i + 1 (None: every
    line is the source's own)."""

    text: str
    lines: tuple[int, ...] | None = None

    def source_line(self, line: int) -> int:
        """Past the last line (where the module ends) the lines are the source's last ones."""
        if self.lines is None:
            return line
        past = line - len(self.lines)
        return self.lines[line - 1] if past <= 0 else self.lines[-1] + past


def pruned_source(outline: Outline, sites: Iterable[ast.AST]) -> Pruned:
    """`outline.source` with the bodies of the outermost functions no site touches dropped."""
    spans = sorted(_span(site) for site in sites)
    if (0, 0) in spans:
        return Pruned(outline.source)
    starts = [start for start, _ in spans]
    reach = list(accumulate((end for _, end in spans), max))
    imports: dict[int, list[ast.Import | ast.ImportFrom]] = {}
    for unit, node in outline.unit_imports:
        imports.setdefault(id(unit), []).append(node)

    def away(node: ast.stmt) -> bool:
        """No site within the node's lines."""
        index = bisect_right(starts, node.end_lineno or node.lineno)
        return not index or reach[index - 1] < node.lineno

    lines = outline.lines
    # A dropped line is None.
    pruned: list[str | None] = list(lines)

    for unit in outline.units:
        rows = _dropped_body(unit, lines, imports.get(id(unit), [])) if away(unit) else None
        if rows is not None:
            first = _first_line(unit.body[0])
            pruned[first - 1 : first - 1 + len(rows)] = rows
    loggers = COMMON_LOGGER_NAMES | {name.rsplit(".", 1)[-1] for name in outline.settings.logger_names}
    for statement in _outside_functions(outline.tree.body):
        value = _droppable_value(statement, loggers)
        rows = _dropped_value(value, lines) if value is not None and away(statement) else None
        if value is not None and rows is not None:
            pruned[value.lineno - 1 : value.lineno - 1 + len(rows)] = rows
    kept = [number for number, row in enumerate(pruned, start=1) if row is not None]
    text = "".join(row for row in pruned if row is not None)
    return Pruned(text, None if len(kept) == len(pruned) else tuple(kept))


def _span(site: ast.AST) -> tuple[int, int]:
    """The lines of a site; (0, 0) for the whole module."""
    if isinstance(site, (ast.stmt, ast.expr, ast.excepthandler)):
        return site.lineno, site.end_lineno or site.lineno
    return 0, 0


def _dropped_body(
    unit: Function, lines: list[str], imports: list[ast.Import | ast.ImportFrom]
) -> list[str | None] | None:
    """The body's lines as `pass` and its imports, dropped (None) elsewhere; None to keep it
    whole (a body that starts on the line of its `def`, imports sharing a line)."""
    statement = unit.body[0]
    first, last = _first_line(statement), unit.end_lineno or unit.lineno
    head = lines[first - 1]
    decorators = _decorators(statement)
    column = decorators[0].col_offset if decorators else statement.col_offset
    # Before a decorator's expression stands its `@`.
    if head[: char_column(head, column)].strip(INDENT) not in (("@",) if decorators else ("",)):
        return None
    indent = head[: len(head) - len(head.lstrip(INDENT))]
    rows: list[str | None] = [None] * (last - first + 1)
    for node in imports:
        start, end = node.lineno, node.end_lineno or node.lineno
        if any(rows[row - first] is not None for row in range(start, end + 1)):
            return None
        opening, closing = lines[start - 1], lines[end - 1]
        begin, finish = char_column(opening, node.col_offset), char_column(closing, node.end_col_offset or 0)
        if start == end:
            rows[start - first] = indent + opening[begin:finish] + _ending(opening)
            continue
        rows[start - first] = indent + opening[begin:]
        for row in range(start + 1, end):
            rows[row - first] = lines[row - 1]
        rows[end - first] = closing[:finish] + _ending(closing)
    if rows[0] is None:
        rows[0] = indent + "pass" + _ending(head)
    return rows


def _decorators(statement: ast.stmt) -> list[ast.expr]:
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return statement.decorator_list
    return []


def _first_line(statement: ast.stmt) -> int:
    """Where the statement starts: a decorated `def` or `class` at its first decorator."""
    decorators = _decorators(statement)
    return decorators[0].lineno if decorators else statement.lineno


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :]


def _outside_functions(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements of the module and of its classes (and theirs), not in functions."""
    for statement in body:
        if isinstance(statement, ast.ClassDef):
            yield from _outside_functions(statement.body)
        else:
            yield statement


def _droppable_value(statement: ast.stmt, loggers: frozenset[str]) -> ast.expr | None:
    """The multi-line value of an assignment or expression statement that nothing reads."""
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, (ast.AugAssign, ast.AnnAssign)):
        targets = [statement.target]
    elif isinstance(statement, ast.Expr):
        targets = []
    else:
        return None
    value = statement.value
    if value is None or value.lineno == value.end_lineno or dotted_name(value) is not None:
        return None
    if any(isinstance(target, ast.Name) and target.id in loggers for target in targets):
        return None
    for node in ast.walk(value):
        if isinstance(node, ast.NamedExpr):
            return None
        name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else None
        if name is not None and (name in READ_NAMES or name in loggers or name == "logging"):
            return None
    return value


def _dropped_value(value: ast.expr, lines: list[str]) -> list[str | None] | None:
    """The value's lines as `...`, dropped (None) lines and what follows it on its last line;
    None where something else shares that line."""
    first, last = value.lineno, value.end_lineno or value.lineno
    opening, closing = lines[first - 1], lines[last - 1]
    rest = closing[char_column(closing, value.end_col_offset or 0) :]
    if not CLOSING.fullmatch(rest):
        return None
    head = opening[: char_column(opening, value.col_offset)] + "..." + _ending(opening)
    return [head, *([None] * (last - 1 - first)), rest if rest.strip() else None]
