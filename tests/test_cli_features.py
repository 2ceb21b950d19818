"""CLI features for editors and CI: stdin, output files, changed files, per-file ignores."""

from __future__ import annotations

import io
import subprocess
import sys

from txlint import cli
from tests.conftest import DISPATCH_IN_ATOMIC


def run(args, capsys, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    status = cli.main(args)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_stdin_is_reported_under_the_given_name(capsys, monkeypatch) -> None:
    status, out, _ = run(["--stdin-filename", "app/services.py"], capsys, DISPATCH_IN_ATOMIC.lstrip(), monkeypatch)
    assert status == 1 and out.startswith("app/services.py:8:9: TXL101")


def test_stdin_fix_prints_the_fixed_source(capsys, monkeypatch) -> None:
    status, out, err = run(["--stdin-filename", "a.py", "--fix"], capsys, DISPATCH_IN_ATOMIC.lstrip(), monkeypatch)
    assert "transaction.on_commit(partial(send_receipt.delay, order.pk))" in out
    assert status == 0 and "TXL101" not in err


def test_output_file_receives_the_findings(write, capsys, tmp_path) -> None:
    root = write({"app/services.py": DISPATCH_IN_ATOMIC})
    target = tmp_path / "out" / "findings.txt"
    target.parent.mkdir()
    status, out, _ = run([str(root / "app"), "--output-file", str(target)], capsys)
    assert status == 1 and out == ""
    assert "TXL101" in target.read_text()


def test_github_format_annotates_each_finding(write, capsys) -> None:
    root = write({"app/services.py": DISPATCH_IN_ATOMIC})
    _, out, _ = run([str(root / "app"), "--format", "github"], capsys)
    assert out.startswith("::error file=") and ",line=8,col=9,endLine=8,endColumn=37,title=TXL101::TXL101 " in out


def git(root, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_changed_since_checks_only_changed_and_untracked_files(write, capsys, monkeypatch) -> None:
    root = write({"old.py": DISPATCH_IN_ATOMIC, "changed.py": "x = 1\n"})
    git(root, "init", "-q")
    git(root, "-c", "user.email=a@b", "-c", "user.name=a", "add", ".")
    git(root, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "base")
    (root / "changed.py").write_text(DISPATCH_IN_ATOMIC)
    (root / "new.py").write_text(DISPATCH_IN_ATOMIC)
    monkeypatch.chdir(root)
    _, out, _ = run([".", "--changed-since", "HEAD"], capsys)
    assert sorted(line.split(":")[0] for line in out.splitlines()) == ["./changed.py", "./new.py"]


def test_changed_since_outside_git_is_a_usage_error(write, capsys, monkeypatch) -> None:
    root = write({"a.py": "x = 1\n"})
    monkeypatch.chdir(root)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(root.parent))
    status, _, err = run([".", "--changed-since", "HEAD"], capsys)
    assert status == 2 and "--changed-since HEAD" in err


def test_per_file_ignores_from_pyproject(write, capsys) -> None:
    root = write(
        {
            "pyproject.toml": '[tool.txlint.per-file-ignores]\n"legacy/*.py" = ["TXL1"]\n',
            "legacy/services.py": DISPATCH_IN_ATOMIC,
            "app/services.py": DISPATCH_IN_ATOMIC,
        }
    )
    _, out, _ = run([str(root)], capsys)
    assert [line.split(":")[0].split("/")[-2] for line in out.splitlines()] == ["app"]


def test_per_file_ignores_from_setup_cfg(write, capsys) -> None:
    setup_cfg = "[txlint]\nper-file-ignores =\n    */migrations/*.py: TXL101\n"
    root = write({"setup.cfg": setup_cfg, "app/migrations/0002_x.py": DISPATCH_IN_ATOMIC})
    assert run([str(root)], capsys)[0] == 0


def test_sarif_fix_previews_stay_aligned_with_per_file_ignores(write, capsys) -> None:
    import json

    source = """
    from django.db import IntegrityError, transaction

    from .tasks import reindex


    @transaction.atomic
    def backfill(rows):
        for row in rows:
            try:
                row.save()
            except IntegrityError:
                pass
        reindex.delay()
    """
    root = write({"pyproject.toml": '[tool.txlint.per-file-ignores]\n"*.py" = ["TXL105"]\n', "app.py": source})
    _, out, _ = run([str(root / "app.py"), "--format", "sarif"], capsys)
    [result] = json.loads(out)["runs"][0]["results"]
    assert result["ruleId"] == "TXL101"
    inserted = "".join(r["insertedContent"]["text"] for r in result["fixes"][0]["artifactChanges"][0]["replacements"])
    assert "on_commit" in inserted and "atomic():" not in inserted
