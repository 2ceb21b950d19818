"""Parsing without node validation gives libcst's tree, and leaves validation on for the nodes fixes build."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from txlint.parsing import parse_pruned, unvalidated_parse
from txlint.pruning import Pruned

ROOT = Path(__file__).resolve().parent.parent


def test_unvalidated_parse_builds_the_tree_libcst_builds() -> None:
    for path in sorted((ROOT / "fixtures").rglob("*.py"))[:60]:
        source = path.read_text(encoding="utf-8")
        assert unvalidated_parse(source).deep_equals(cst.parse_module(source)), path


def test_validation_is_back_on_after_parsing_and_after_a_syntax_error() -> None:
    unvalidated_parse("x = 1\n")
    with pytest.raises(cst.ParserSyntaxError):
        source = "def (:\n"
        parse_pruned(Pruned(source), source)
    with pytest.raises(cst.CSTValidationError):
        cst.Name("not a name")
