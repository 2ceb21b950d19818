"""The fixtures are realistic Django code with a `# TXLnnn` mark on every line that
must be reported (opt-in rules included: the marks are checked under `--strict`).
txlint must report exactly those lines, with each file's own configuration (the seed
project configures its dispatcher in its pyproject.toml)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from txlint import cli

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MARKER = re.compile(r"#\s*(TXL\d{3})\b")
# The output of `--fix` keeps the marks of the code it fixed: tests/test_seed_fix.py checks it.
FIX_OUTPUTS = ("seed_import_fixed",)
FILES = sorted(path for path in FIXTURES.rglob("*.py") if path.relative_to(FIXTURES).parts[0] not in FIX_OUTPUTS)


def marked(path: Path) -> list[tuple[int, str]]:
    return [
        (number, code)
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        for code in MARKER.findall(line)
    ]


def reported(capsys, *args: str) -> list[tuple[str, int, str]]:
    cli.main([*args])
    findings = []
    for line in capsys.readouterr().out.splitlines():
        path, number, _column, rest = line.split(":", 3)
        findings.append((path, int(number), rest.split()[0]))
    return findings


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture_reports_exactly_its_marked_lines(path: Path, capsys) -> None:
    found = [(number, code) for _, number, code in reported(capsys, str(path), "--strict")]
    assert sorted(found) == sorted(marked(path))


def test_seed_import_flow_reports_the_seed_race_conditions(capsys) -> None:
    seed = FIXTURES / "seed_import"
    found = {(Path(path).relative_to(seed).as_posix(), code) for path, _, code in reported(capsys, str(seed))}
    # race #2: the import job enqueued inside the request's transaction
    assert ("data_import/api.py", "TXL101") in found
    # race #3: one PDF page job per page, enqueued inside the transaction
    assert ("data_import/services.py", "TXL101") in found
    # the upload path dispatching PDF processing before the commit
    assert ("data_import/uploader.py", "TXL101") in found


def test_fix_over_every_fixture_compiles_and_is_a_fixed_point(tmp_path: Path, capsys) -> None:
    copy = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, copy)
    assert cli.main([str(copy), "--strict", "--fix", "--unsafe-fixes"]) in (0, 1)
    fixed = {path: path.read_text() for path in copy.rglob("*.py")}
    for path, text in fixed.items():
        compile(text, str(path), "exec")
    cli.main([str(copy), "--strict", "--fix", "--unsafe-fixes"])
    assert {path: path.read_text() for path in copy.rglob("*.py")} == fixed
    capsys.readouterr()
    cli.main([str(copy), "--strict", "--format", "json"])
    remaining = json.loads(capsys.readouterr().out)
    # only findings without an applicable fix may remain (a dispatch whose result is
    # used, a display-only cache finding)
    assert all(not item["fix_available"] or item["fix_safety"] == "display-only" for item in remaining), remaining
