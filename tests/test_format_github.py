"""`--format github`: GitHub Actions workflow commands, escaped as the runner expects."""

from __future__ import annotations

from txlint import cli
from txlint.diagnostics import Diagnostic
from txlint.formats import Reported
from txlint.formats.github import escape_data, escape_property, render
from tests.conftest import DISPATCH_IN_ATOMIC

MESSAGE = "`send_receipt.delay()` dispatches a job inside `with transaction.atomic()`; defer it with `transaction.on_commit()`"


def test_cli_prints_one_error_command_per_finding(write, capsys, monkeypatch) -> None:
    monkeypatch.chdir(write({"app/services.py": DISPATCH_IN_ATOMIC}))
    assert cli.main(["--format", "github", "app/services.py"]) == 1
    assert capsys.readouterr().out == (
        f"::error file=app/services.py,line=8,col=9,endLine=8,endColumn=37,title=TXL101::TXL101 {MESSAGE}\n"
    )


def test_message_escapes_percent_cr_and_lf_but_not_colon_or_comma() -> None:
    finding = Reported("app/views.py", Diagnostic("TXL101", "100% sure: a, b\r\nnext\rline\nend", 3, 4, 5, 6))
    assert render([finding]) == (
        "::error file=app/views.py,line=3,col=5,endLine=5,endColumn=7,title=TXL101"
        "::TXL101 100%25 sure: a, b%0D%0Anext%0Dline%0Aend\n"
    )


def test_properties_also_escape_colon_and_comma() -> None:
    finding = Reported("C:/src/a,b/100%\n.py", Diagnostic("TXL105", "message", 1, 0, 2, 10))
    assert render([finding]) == (
        "::error file=C%3A/src/a%2Cb/100%25%0A.py,line=1,col=1,endLine=2,endColumn=11,title=TXL105::TXL105 message\n"
    )


def test_percent_is_escaped_first_so_escapes_are_not_doubled() -> None:
    assert escape_data("%0A\n") == "%250A%0A"
    assert escape_property("%3A:,%2C") == "%253A%3A%2C%252C"


def test_one_line_per_finding_and_nothing_for_none() -> None:
    findings = [Reported(f"app/m{n}.py", Diagnostic("TXL103", f"m{n}", n, 0, n, 1)) for n in (1, 2)]
    assert render(findings).splitlines() == [
        "::error file=app/m1.py,line=1,col=1,endLine=1,endColumn=2,title=TXL103::TXL103 m1",
        "::error file=app/m2.py,line=2,col=1,endLine=2,endColumn=2,title=TXL103::TXL103 m2",
    ]
    assert render([]) == ""
