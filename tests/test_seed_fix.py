"""fixtures/seed_import_fixed is the committed, reviewed output of
`txlint --fix --unsafe-fixes --strict` on fixtures/seed_import: regenerating it must give
the same bytes, and it must be a fixed point reporting only what its README leaves."""

from __future__ import annotations

import shutil
from pathlib import Path

from txlint import cli

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
BEFORE, AFTER = FIXTURES / "seed_import", FIXTURES / "seed_import_fixed"
FIX = ["--fix", "--unsafe-fixes", "--strict"]


def contents(root: Path) -> dict[str, bytes]:
    """Every file below `root` but the README (each folder has its own)."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != "README.md" and "__pycache__" not in path.parts
    }


def fixed_copy(tmp_path: Path, capsys) -> Path:
    copy = tmp_path / "seed_import"
    shutil.copytree(BEFORE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    cli.main([str(copy), *FIX])
    capsys.readouterr()
    return copy


def test_fix_of_the_seed_import_flow_matches_the_reviewed_fixture(tmp_path: Path, capsys) -> None:
    assert contents(fixed_copy(tmp_path, capsys)) == contents(AFTER)


def test_second_fix_of_the_seed_import_flow_changes_nothing(tmp_path: Path, capsys) -> None:
    copy = fixed_copy(tmp_path, capsys)
    once = contents(copy)
    cli.main([str(copy), *FIX])
    assert "fixed 0 finding(s) in 0 file(s)" in capsys.readouterr().err
    assert contents(copy) == once


def test_fixed_seed_reports_only_the_dispatch_whose_result_is_used(capsys) -> None:
    assert cli.main([str(AFTER), "--strict"]) == 1
    [line] = capsys.readouterr().out.splitlines()
    path, number, _column, message = line.split(":", 3)
    assert (Path(path).relative_to(AFTER).as_posix(), int(number)) == ("data_import/services.py", 26)
    assert message.startswith(" TXL101 ") and "the call's result is used" in message
