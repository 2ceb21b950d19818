"""Every rule is documented: its docstring has ruff's sections and the README lists it."""

from __future__ import annotations

from pathlib import Path

import pytest

from txlint.registry import all_rules

SECTIONS = ("## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Fix safety", "## Options")
README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.mark.parametrize("rule", all_rules(), ids=lambda rule: rule.code)
def test_rule_documentation_has_every_section_in_order(rule) -> None:
    doc = rule.documentation()
    positions = [doc.find(section) for section in SECTIONS]
    assert -1 not in positions, [s for s, p in zip(SECTIONS, positions) if p == -1]
    assert positions == sorted(positions)


@pytest.mark.parametrize("rule", all_rules(), ids=lambda rule: rule.code)
def test_readme_rule_table_lists_the_rule(rule) -> None:
    default = "opt-in" if rule.opt_in else "on"
    fix = rule.fix_safety.value if rule.fix_safety else "none"
    assert f"| {rule.code} | {rule.name} | {default} | {fix} | {rule.summary} |" in README


def test_rule_codes_and_names_are_unique() -> None:
    rules = all_rules()
    assert len({rule.code for rule in rules}) == len({rule.name for rule in rules}) == len(rules)


def test_generated_rule_docs_are_current() -> None:
    from txlint import docs

    current = (Path(__file__).resolve().parent.parent / "docs" / "rules.md").read_text()
    assert current == docs.render(), "docs/rules.md is stale: run `python -m txlint.docs`"


def test_every_rule_has_a_section_in_the_generated_docs() -> None:
    from txlint import docs

    rendered = docs.render()
    for rule in all_rules():
        assert f"\n## {rule.code}\n" in rendered and "### Why is this bad?" in rendered
