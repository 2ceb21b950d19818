"""txlint's exception rules next to ruff's: E722 (bare except), BLE001 (blind except) and
S110 (try-except-pass), over fixtures/comparison/exceptions.py.

TXL201 must agree with E722 on every bare `except:` (both are silent when the handler
re-raises); TXL202 must report where S110/BLE001 report a handler that leaves no
trace, and stay quiet on the broad handlers the fixture marks `# quieter: <why>`.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path


from txlint.engine import SourceFile, lint_source
from txlint.registry import rule_for

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "comparison" / "exceptions.py"
SOURCE = FIXTURE.read_text()


def ruff_lines(*codes: str) -> set[int]:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "--select", "E722,BLE001,S110",
         "--output-format", "json", str(FIXTURE)],
        capture_output=True,
        text=True,
    )
    assert result.returncode in (0, 1), result.stderr
    return {finding["location"]["row"] for finding in json.loads(result.stdout) if finding["code"] in codes}


def txlint_lines(code: str) -> set[int]:
    rule = rule_for(code)
    assert rule is not None
    return {d.line for d in lint_source(SOURCE, [rule()], SourceFile(str(FIXTURE)))}


def handlers() -> list[tuple[ast.FunctionDef, ast.ExceptHandler]]:
    tree = ast.parse(SOURCE)
    return [
        (function, node)
        for function in tree.body
        if isinstance(function, ast.FunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.ExceptHandler)
    ]


def reraises(handler: ast.ExceptHandler) -> bool:
    return any(isinstance(statement, ast.Raise) and statement.exc is None for statement in handler.body)


def quieter_reason(function: ast.FunctionDef) -> str | None:
    line = SOURCE.splitlines()[function.lineno - 2].strip()
    return line.removeprefix("# quieter:").strip() if line.startswith("# quieter:") else None


def test_txl201_agrees_with_e722_on_every_bare_except() -> None:
    bare = {handler.lineno: handler for _, handler in handlers() if handler.type is None}
    assert len(bare) >= 6
    e722, txl201 = ruff_lines("E722"), txlint_lines("TXL201")
    assert txl201 <= set(bare)
    for line, handler in bare.items():
        if reraises(handler):
            assert line not in txl201, f"line {line}: the handler re-raises, TXL201 must stay silent"
        else:
            assert line in txl201, f"line {line}: bare except not reported by TXL201"
        # E722 is silent on a re-raising handler too (ruff); where it reports, TXL201 does.
        assert (line in e722) == (line in txl201), f"line {line}: TXL201 and E722 disagree"


def test_txl202_reports_the_silent_handlers_ruff_reports() -> None:
    ruff_broad, txl202 = ruff_lines("BLE001", "S110"), txlint_lines("TXL202")
    assert txl202, "the fixture has silent handlers"
    assert txl202 <= ruff_broad | ruff_lines("E722")


def test_txl202_is_quieter_than_ruff_on_visible_traces_and_fallbacks() -> None:
    ruff_broad, txl202 = ruff_lines("BLE001", "S110"), txlint_lines("TXL202")
    quieter = [(function, handler) for function, handler in handlers() if quieter_reason(function)]
    assert len(quieter) >= 4
    for function, handler in quieter:
        assert quieter_reason(function), f"{function.name}: say why TXL202 is quieter"
        assert handler.lineno in ruff_broad, f"{function.name}: ruff no longer reports it"
        assert handler.lineno not in txl202, f"{function.name}: TXL202 reports it ({quieter_reason(function)})"
