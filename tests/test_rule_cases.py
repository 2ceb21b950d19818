"""Every rule's own VALID and INVALID cases, run as tests (Fixit-style).

An invalid case marks each line the rule must report with a `# TXLnnn` comment; the
report lines must match exactly. Its `fixed` text is what `--fix --unsafe-fixes`
produces with that rule alone; the harness checks it parses, re-lints clean for the
rule, and is a fixed point.
"""

from __future__ import annotations

import re

import pytest

from txlint.engine import SourceFile, fix_source, lint_source
from txlint.registry import all_rules
from txlint.rule import Invalid, Valid, dedent

MARKER = re.compile(r"#\s*(TXL\d{3})\b")

VALID = [pytest.param(rule, case, id=f"{rule.code}-{case.name}") for rule in all_rules() for case in rule.valid]
INVALID = [pytest.param(rule, case, id=f"{rule.code}-{case.name}") for rule in all_rules() for case in rule.invalid]


def expected_lines(code: str, rule_code: str) -> list[int]:
    return [
        number
        for number, line in enumerate(code.splitlines(), start=1)
        for marker in MARKER.findall(line)
        if marker == rule_code
    ]


@pytest.mark.parametrize(("rule", "case"), VALID)
def test_valid_case_is_silent(rule, case: Valid) -> None:
    diagnostics = lint_source(dedent(case.code), [rule()], SourceFile(case.path), case.settings)
    assert [(d.line, d.message) for d in diagnostics] == []


@pytest.mark.parametrize(("rule", "case"), INVALID)
def test_invalid_case_is_reported_on_marked_lines(rule, case: Invalid) -> None:
    code = dedent(case.code)
    expected = expected_lines(code, rule.code)
    assert expected, "an invalid case must mark at least one line"
    diagnostics = lint_source(code, [rule()], SourceFile(case.path), case.settings)
    assert [d.line for d in diagnostics] == expected
    assert all(d.code == rule.code for d in diagnostics)


@pytest.mark.parametrize(("rule", "case"), INVALID)
def test_invalid_case_fix_matches_declared_output(rule, case: Invalid) -> None:
    code = dedent(case.code)
    result = fix_source(code, [rule()], SourceFile(case.path), case.settings, unsafe=True)
    if case.fixed is None:
        assert result.source == code
        assert result.applied == 0
        return
    fixed = dedent(case.fixed)
    assert result.source == fixed
    compile(fixed, case.path, "exec")
    assert lint_source(fixed, [rule()], SourceFile(case.path), case.settings) == []
    again = fix_source(fixed, [rule()], SourceFile(case.path), case.settings, unsafe=True)
    assert again.source == fixed and again.applied == 0


@pytest.mark.parametrize(("rule", "case"), [p for p in INVALID if p.values[1].fixed is None])
def test_invalid_case_without_a_fix_says_why(rule, case: Invalid) -> None:
    diagnostics = lint_source(dedent(case.code), [rule()], SourceFile(case.path), case.settings)
    assert all(d.fix is None and d.no_fix_reason for d in diagnostics), diagnostics


def test_every_rule_has_enough_cases() -> None:
    for rule in all_rules():
        minimum = 12 if rule.code == "TXL101" else 8
        assert len(rule.valid) >= minimum, rule.code
        assert len(rule.invalid) >= minimum, rule.code
