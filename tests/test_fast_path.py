"""The fast path (rules gated by their `ast` sites, unneeded function bodies not parsed)
changes nothing: every rule case and every fixture gives the same diagnostics, fixes
and output with it on and off."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from txlint import cli, engine, positions
from txlint.django.outline import Outline
from txlint.engine import SourceFile, fix_source, lint_source
from txlint.pruning import Pruned, pruned_source
from txlint.registry import all_rules
from txlint.rule import dedent
from txlint.settings import DEFAULT_SETTINGS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CASES = [
    pytest.param(rule, case, id=f"{rule.code}-{case.name}")
    for rule in all_rules()
    for case in (*rule.valid, *rule.invalid)
]


def both_ways(monkeypatch, run):
    monkeypatch.setattr(engine, "FAST_PATH", False)
    exact = run()
    monkeypatch.setattr(engine, "FAST_PATH", True)
    return exact, run()


def described(diagnostics):
    return [
        (d.code, d.message, d.line, d.column, d.end_line, d.end_column, d.fix and (d.fix.title, d.fix.safety))
        for d in diagnostics
    ]


@pytest.mark.parametrize(("rule", "case"), CASES)
def test_rule_case_reports_the_same_with_and_without_the_fast_path(monkeypatch, rule, case) -> None:
    code = dedent(case.code)
    for rules in ([rule()], [every() for every in all_rules()]):
        exact, fast = both_ways(monkeypatch, lambda: described(lint_source(code, rules, SourceFile(case.path), case.settings)))
        assert fast == exact


@pytest.mark.parametrize(("rule", "case"), CASES)
def test_rule_case_fixes_the_same_with_and_without_the_fast_path(monkeypatch, rule, case) -> None:
    code = dedent(case.code)
    rules = [every() for every in all_rules()]
    exact, fast = both_ways(monkeypatch, lambda: fix_source(code, rules, SourceFile(case.path), case.settings, unsafe=True))
    assert (fast.source, fast.applied, described(fast.remaining)) == (exact.source, exact.applied, described(exact.remaining))


@pytest.mark.parametrize("output", ["text", "json", "sarif"])
def test_fixtures_report_the_same_with_and_without_the_fast_path(monkeypatch, capsys, output) -> None:
    def run():
        cli.main([str(FIXTURES), "--strict", "--format", output])
        return capsys.readouterr().out

    exact, fast = both_ways(monkeypatch, run)
    assert fast == exact
    assert exact.strip()


def test_fixtures_fix_the_same_with_and_without_the_fast_path(monkeypatch, capsys) -> None:
    def run():
        cli.main([str(FIXTURES), "--strict", "--diff", "--unsafe-fixes"])
        return capsys.readouterr().out

    exact, fast = both_ways(monkeypatch, run)
    assert fast == exact
    assert exact.strip()


def pruned(code: str, keep: str | None = None) -> Pruned:
    """The code with every function body dropped but the one of function `keep`."""
    source = dedent(code)
    outline = Outline(ast.parse(source), source, "app/views.py", "app.views", False, DEFAULT_SETTINGS)
    sites = [info.node for info in outline.functions if info.node.name == keep]
    return pruned_source(outline, sites)


def in_place(result: Pruned, source: str) -> str:
    """The pruned code with each line put back at its source line by `Pruned.lines`, the
    lines left out blank (with the source's line endings)."""
    rows = [line[len(line.rstrip("\r\n")) :] for line in source.splitlines(keepends=True)]
    for number, line in enumerate(result.text.splitlines(keepends=True), start=1):
        rows[result.source_line(number) - 1] = line
    return "".join(rows)


def test_pruning_leaves_dropped_lines_out() -> None:
    code = """
    class Order:
        def pay(self):
            self.status = "paid"

            self.save()
        items = [
            1,
            2,
        ]
    """
    result = pruned(code)
    assert result.text == "class Order:\n    def pay(self):\n        pass\n    items = ...\n"
    assert result.lines == (1, 2, 3, 6)
    assert [result.source_line(number) for number in (1, 3, 4)] == [1, 3, 6]


def test_pruning_keeps_every_line_in_place() -> None:
    code = """
    import logging

    class Order:
        status = "new"

        def pay(self):
            self.status = "paid"
            self.save()

        def ship(self):
            for line in self.lines:
                line.ship()
    """
    assert in_place(pruned(code, keep="ship"), dedent(code)) == dedent(
        """
    import logging

    class Order:
        status = "new"

        def pay(self):
            pass


        def ship(self):
            for line in self.lines:
                line.ship()
    """
    )


def test_pruning_keeps_imports_of_dropped_bodies() -> None:
    code = """
    def pay(order):
        if order.total:
            from django.db import transaction as tx
        from .tasks import (
            send_receipt,
        )
        send_receipt.delay(order.pk)
    """
    assert in_place(pruned(code), dedent(code)) == "def pay(order):\n    pass\n    from django.db import transaction as tx\n" \
        "    from .tasks import (\n        send_receipt,\n    )\n\n"


@pytest.mark.parametrize(
    "code",
    [
        "def one_liner(): return 1\n",
        "def continued(): \\\n    return 1\n",
        "def first_import():\n    import os; x = os.sep\n    return x\n",
        "def shared():\n    x = 1\n    import os; import sys\n",
        "class A:\n\tdef tabs(self):\n\t\treturn 'é'; import os\n",
        "def crlf():\r\n    x = 1\r\n    return x\r\n",
        "async def coroutine():\n    async with lock:\n        await go()\n",
    ],
)
def test_pruned_code_compiles_with_its_lines_mapped_back(code: str) -> None:
    result = pruned(code)
    compile(result.text, "<pruned>", "exec")
    kept = in_place(result, code)
    assert kept.count("\n") == code.count("\n")
    assert [line for line in kept.splitlines() if "def " in line] == [line for line in code.splitlines() if "def " in line]


@pytest.mark.parametrize(
    "code",
    [
        # factory_boy's mute_signals.wrap_method: the body starts with a decorated def
        "def wrap(method):\n    @classmethod\n    @wraps(method)\n    def wrapped(*args):\n        return method(*args)\n"
        "    return wrapped\n",
        "def build():\n    @ dataclass\n    class Row:\n        x: int\n    return Row\n",
        "def one_line_decorator():\n    @cache\n    def f(): return 1\n    return f\n",
    ],
)
def test_a_body_starting_with_a_decorated_statement_is_dropped_from_its_first_decorator(code: str) -> None:
    result = pruned(code)
    compile(result.text, "<pruned>", "exec")
    assert "@" not in result.text
    assert result.text.splitlines()[:2] == [code.splitlines()[0], "    pass"]


def test_a_site_on_the_module_keeps_everything() -> None:
    source = "def f():\n    return 1\n"
    outline = Outline(ast.parse(source), source, "m.py", "m", False, DEFAULT_SETTINGS)
    assert pruned_source(outline, [outline.tree]) == Pruned(source)


TRICKY = '''\
import os  # the header comment
x = 1; y = [
    f(a) for a in range(3)
]


@decorator
@other(
    1)
def decorated(a, b=lambda: g()):
    """Docstring."""
    if a: h(a); i(b)
    elif b:
        try:
            j()
        except (KeyError, ValueError) as error:  # comment
            k(error)
        except:
            pass
        else:
            m()
        finally:
            n()
    else:
        for item in a:
            while item:
                with open(item) as handle, ctx():
                    o(handle)
            else:
                p()
        else:
            q()
    match a:
        case [first, *rest]:
            r(first)
        case _:
            s()


class Outer:
\tclass Inner:
\t\tdef method(self):  # é
\t\t\treturn t("é", u=(v
\t\t\t\t))

\tasync def coroutine(self):
\t\tasync with lock:
\t\t\tawait w()
\t\tasync for chunk in stream:
\t\t\tyield chunk
'''


@pytest.mark.parametrize("source", [TRICKY, TRICKY.replace("\n", "\r\n")], ids=["lf", "crlf"])
def test_positions_of_each_node_match_the_whole_module(source: str) -> None:
    from txlint.positions import all_positions, positions_of

    import libcst as cst

    module = cst.parse_module(source)
    everything = all_positions(module)
    kinds = (cst.Call, cst.ExceptHandler, cst.BaseStatement, cst.Lambda, cst.Name)
    nodes = [node for node in _walk(module) if isinstance(node, kinds)]
    assert len(nodes) > 80
    tree = ast.parse(source)
    for node in nodes:
        assert positions_of(module, tree, [node]) == {id(node): everything[id(node)]}
    together = positions_of(module, tree, nodes)
    assert together == {id(node): everything[id(node)] for node in nodes}


def _walk(node):
    from txlint.django.model import code_fields

    yield node
    for name in code_fields(type(node)):
        value = getattr(node, name)
        for child in value if isinstance(value, (list, tuple)) else (value,):
            if hasattr(child, "children"):
                yield from _walk(child)


# A function no rule needs (pruning drops its body's lines), then one TXL101 reports.
DISPATCH_AFTER_UNRELATED = """
from django.db import transaction

from .tasks import send_receipt


def unrelated(order):
    order.total = 1
    order.tax = 2

    return order


def save(order):
    with transaction.atomic():
        order.save()
        send_receipt.delay(order.pk)
"""


def test_a_pruned_module_libcst_refuses_is_analysed_whole_not_reported_as_a_syntax_error(monkeypatch) -> None:
    code = dedent(DISPATCH_AFTER_UNRELATED)
    rules = [rule() for rule in all_rules()]
    expected = described(lint_source(code, rules))
    monkeypatch.setattr(engine, "pruned_source", lambda outline, sites: Pruned("def broken(:\n", (1,)))
    assert described(lint_source(code, rules)) == expected
    assert expected and "TXL000" not in expected[0]


def test_positions_from_the_whole_pruned_module_are_mapped_back_to_the_source_lines(monkeypatch) -> None:
    code = dedent(DISPATCH_AFTER_UNRELATED)
    rules = [rule() for rule in all_rules()]
    expected = described(lint_source(code, rules))
    assert [d[2] for d in expected] == [16]
    # A statement `ast` cannot match: the engine falls back to positions in the pruned module.
    monkeypatch.setattr(positions, "positions_of", lambda module, tree, nodes: None)
    assert described(lint_source(code, rules)) == expected
