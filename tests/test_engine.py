from __future__ import annotations

import libcst as cst

from txlint import default_rules
from txlint.diagnostics import Fix, FixSafety, NodeEdit
from txlint.engine import PARSE_ERROR, SourceFile, analyse, fix_source, lint_source
from txlint.registry import selected_rules
from txlint.rule import Rule
from tests.conftest import DISPATCH_IN_ATOMIC

SOURCE = DISPATCH_IN_ATOMIC.lstrip("\n")


class CountingRule(Rule):
    """Reports nothing; records whether the engine asked it to check."""

    code = "TXL999"
    name = "counting"
    summary = "test double"
    checked = 0

    def could_match(self, source, settings):
        return "needle" in source

    def check(self, django):
        CountingRule.checked += 1
        return iter(())


class BreakingRule(Rule):
    """Offers a fix whose output does not compile."""

    code = "TXL998"
    name = "breaking"
    summary = "test double"

    def could_match(self, source, settings):
        return True

    def check(self, django):
        for site in django.model.calls:
            broken = cst.Yield()  # `yield` outside a function does not compile
            yield self.finding(site.node, "broken", Fix("break", FixSafety.SAFE, (NodeEdit(site.node, broken),)))


def test_files_without_any_rule_token_are_not_parsed() -> None:
    CountingRule.checked = 0
    assert lint_source("x = 1\n", [CountingRule()]) == []
    assert analyse("x = 1\n", [CountingRule()]).module is None
    lint_source("needle = 1\n", [CountingRule()])
    assert CountingRule.checked == 1


def test_diagnostic_positions_span_the_reported_call() -> None:
    [diagnostic] = lint_source(SOURCE, default_rules())
    assert (diagnostic.line, diagnostic.column, diagnostic.end_line, diagnostic.end_column) == (8, 8, 8, 36)


def test_syntax_error_becomes_a_parse_diagnostic_with_its_position() -> None:
    source = "from django.db import transaction\nwith transaction.atomic(:\n    task.delay()\n"
    [diagnostic] = lint_source(source, default_rules())
    assert diagnostic.code == PARSE_ERROR and diagnostic.line == 2


def test_deep_nesting_is_reported_not_raised() -> None:
    source = "from django.db import transaction\nx = " + "(" * 2000 + "1" + ")" * 2000 + "\ntask.delay()  # atomic\n"
    [diagnostic] = lint_source(source, default_rules())
    assert diagnostic.code == PARSE_ERROR


def test_fix_reaches_a_fixed_point_and_reports_nothing_left() -> None:
    result = fix_source(SOURCE, default_rules())
    assert result.applied == 1 and result.remaining == []
    assert fix_source(result.source, default_rules()).source == result.source


def test_fix_whose_output_does_not_compile_is_discarded() -> None:
    source = "task.delay()\n"
    result = fix_source(source, [BreakingRule()])
    assert result.source == source and result.applied == 0


def test_noqa_is_honoured_only_when_asked() -> None:
    source = SOURCE.replace("send_receipt.delay(order.pk)", "send_receipt.delay(order.pk)  # noqa: TXL101")
    assert lint_source(source, default_rules(), respect_noqa=True) == []
    assert len(lint_source(source, default_rules())) == 1
    assert fix_source(source, default_rules(), respect_noqa=True).source == source


def test_source_file_module_name_reaches_configured_dispatcher_matching() -> None:
    source = (
        "from django.db import transaction\n\ndef start_job(f):\n    pass\n\n"
        "def view():\n    with transaction.atomic():\n        start_job(1)\n"
    )
    from txlint.settings import Settings

    settings = Settings(dispatchers=frozenset({"core.redis.start_job"}))
    assert lint_source(source, default_rules(), SourceFile("core/redis.py", "core.redis"), settings)
    assert not lint_source(source, default_rules(), SourceFile("other.py", "other"), settings)


def test_pathological_expressions_are_refused_without_crashing() -> None:
    for expression in ("a." * 30000 + "b", "-" * 50000 + "1", "not " * 50000 + "1", "+".join(["1"] * 100000)):
        source = f"from django.db import transaction\nx = {expression}\nwith transaction.atomic():\n    task.delay()\n"
        [diagnostic] = lint_source(source, default_rules())
        assert diagnostic.code == PARSE_ERROR


def test_null_bytes_are_reported() -> None:
    [diagnostic] = lint_source("from django.db import transaction\n\x00transaction.atomic(task.delay())\n", default_rules())
    assert diagnostic.code == PARSE_ERROR


def _sources_with_findings():
    from pathlib import Path

    from txlint.registry import all_rules
    from txlint.rule import dedent

    for rule in all_rules():
        for case in rule.invalid:
            yield case.path, dedent(case.code), case.settings
    for path in sorted((Path(__file__).resolve().parent.parent / "fixtures").rglob("*.py")):
        yield str(path), path.read_text(), None


def test_statement_positions_equal_whole_module_positions() -> None:
    from txlint.registry import all_rules
    from txlint.settings import Settings

    rules = [rule() for rule in all_rules()]
    compared = 0
    for path, source, settings in _sources_with_findings():
        settings = settings or Settings()
        partial = analyse(source, rules, SourceFile(path), settings).diagnostics
        full = analyse(source, rules, SourceFile(path), settings, full_positions=True).diagnostics
        assert [(d.code, d.line, d.column, d.end_line, d.end_column) for d in partial] == [
            (d.code, d.line, d.column, d.end_line, d.end_column) for d in full
        ], path
        compared += len(partial)
    assert compared > 50


def test_positions_after_decorators_semicolons_and_comments() -> None:
    source = (
        "# header comment\n"
        "import os; import sys\n"
        "from django.db import transaction\n"
        "from .tasks import send\n\n\n"
        "@transaction.atomic\n"
        "# a comment between decorator and def\n"
        "def f():\n"
        "    send.delay()\n"
    )
    [diagnostic] = lint_source(source, default_rules())
    assert (diagnostic.line, diagnostic.column) == (10, 4)


def test_fix_that_removes_another_findings_reason_wins_the_round() -> None:
    # Deferring the dispatch leaves the handler nothing to propagate: no `raise` is added.
    source = (
        "import logging\n\nfrom django.db import transaction\n\nfrom .tasks import convert_pdf\n\n"
        "logger = logging.getLogger(__name__)\n\n\n"
        "def upload(instance):\n"
        "    with transaction.atomic():\n"
        "        instance.save()\n"
        "        try:\n"
        "            convert_pdf.delay(instance.id)\n"
        "        except Exception:\n"
        "            logger.warning(\"conversion not queued\", exc_info=True)\n"
    )
    rules = [rule() for rule in selected_rules(strict=True)]
    result = fix_source(source, rules, SourceFile("app/uploads.py", "app.uploads"), unsafe=True)
    assert "transaction.on_commit(partial(convert_pdf.delay, instance.id))" in result.source
    assert "raise" not in result.source
    assert (result.applied, result.remaining) == (1, [])


CAUGHT_INSIDE_AND_AROUND = """
from django.db import transaction
from kombu.exceptions import OperationalError

from .tasks import send_receipt


def checkout(order):
    with transaction.atomic():
        try:
            send_receipt.delay(order.pk)
        except OperationalError:
            pass


def retry_checkout(order):
    try:
        with transaction.atomic():
            send_receipt.delay(order.pk)
    except OperationalError:
        pass
"""


def test_dispatch_fix_is_unsafe_only_where_a_handler_inside_the_transaction_catches_it() -> None:
    source_file = SourceFile("shop/services.py", "shop.services")
    safety = {d.line: d.fix_safety for d in lint_source(CAUGHT_INSIDE_AND_AROUND, default_rules(), source_file)}
    # Around the `with`: the outermost block commits, and runs the job, inside that `try`.
    assert safety == {11: FixSafety.UNSAFE, 19: FixSafety.SAFE}
