from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from txlint import cli
from txlint.registry import all_rules
from tests.conftest import DISPATCH_IN_ATOMIC


def run(args: list[str], capsys) -> tuple[int, str, str]:
    status = cli.main(args)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_reports_in_flake8_format_and_exits_one(write, capsys, monkeypatch) -> None:
    root = write({"app/services.py": DISPATCH_IN_ATOMIC})
    monkeypatch.chdir(root)
    status, out, _ = run([], capsys)
    assert status == 1
    assert out.splitlines() == [
        "./app/services.py:8:9: TXL101 `send_receipt.delay()` dispatches a job inside "
        "`with transaction.atomic()`; defer it with `transaction.on_commit()`"
    ]


def test_clean_tree_exits_zero(write, capsys) -> None:
    root = write({"app/models.py": "from django.db import models\n"})
    assert run([str(root)], capsys)[0] == 0


def test_missing_path_is_a_usage_error(tmp_path, capsys) -> None:
    status, _, err = run([str(tmp_path / "nope")], capsys)
    assert status == 2
    assert "no such file or directory" in err


def test_unknown_option_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--no-such-flag"])
    assert exit_info.value.code == 2


def test_noqa_with_code_silences_only_that_code(write, capsys) -> None:
    source = DISPATCH_IN_ATOMIC.replace("send_receipt.delay(order.pk)", "send_receipt.delay(order.pk)  # noqa: TXL101")
    root = write({"app/services.py": source})
    assert run([str(root)], capsys)[0] == 0
    other = DISPATCH_IN_ATOMIC.replace("send_receipt.delay(order.pk)", "send_receipt.delay(order.pk)  # noqa: E501")
    write({"app/services.py": other})
    assert run([str(root)], capsys)[0] == 1


def test_disable_noqa_reports_silenced_lines(write, capsys) -> None:
    source = DISPATCH_IN_ATOMIC.replace("send_receipt.delay(order.pk)", "send_receipt.delay(order.pk)  # noqa")
    root = write({"app/services.py": source})
    assert run([str(root), "--disable-noqa"], capsys)[0] == 1


def test_select_and_ignore_by_prefix(write, capsys) -> None:
    root = write({"app/services.py": DISPATCH_IN_ATOMIC})
    assert run([str(root), "--ignore", "TXL1"], capsys)[0] == 0
    assert run([str(root), "--select", "TXL105"], capsys)[0] == 0
    assert run([str(root), "--select", "TXL1", "--ignore", "TXL105"], capsys)[0] == 1


def test_json_format_carries_positions_and_fix_safety(write, capsys) -> None:
    root = write({"app/services.py": DISPATCH_IN_ATOMIC})
    _, out, _ = run([str(root), "--format", "json"], capsys)
    [item] = json.loads(out)
    assert item["code"] == "TXL101"
    assert (item["line"], item["column"], item["end_line"]) == (8, 9, 8)
    assert item["fix_available"] is True and item["fix_safety"] == "safe"


def test_json_format_says_why_a_finding_has_no_fix(write, capsys) -> None:
    source = DISPATCH_IN_ATOMIC.replace("send_receipt.delay(order.pk)", "job = send_receipt.delay(order.pk)")
    root = write({"app/services.py": source})
    [item] = json.loads(run([str(root), "--format", "json"], capsys)[1])
    assert item["fix_available"] is False and item["no_fix_reason"] == "the call's result is used"
    root = write({"app/other.py": DISPATCH_IN_ATOMIC})
    [item] = json.loads(run([str(root / "app" / "other.py"), "--format", "json"], capsys)[1])
    assert item["no_fix_reason"] is None


def test_fix_rewrites_file_and_second_fix_changes_nothing(write, capsys) -> None:
    root = write({"app/services.py": DISPATCH_IN_ATOMIC})
    target = root / "app/services.py"
    target.chmod(0o640)
    status, _, err = run([str(root), "--fix"], capsys)
    assert status == 0 and "fixed 1 finding(s) in 1 file(s); 0 remaining" in err
    fixed = target.read_text()
    assert "transaction.on_commit(partial(send_receipt.delay, order.pk))" in fixed
    assert "from functools import partial" in fixed
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    run([str(root), "--fix"], capsys)
    assert target.read_text() == fixed


def test_fix_keeps_bom_and_crlf(write, capsys) -> None:
    root = write({})
    target = root / "services.py"
    target.write_bytes(b"\xef\xbb\xbf" + DISPATCH_IN_ATOMIC.lstrip("\n").replace("\n", "\r\n").encode())
    run([str(target), "--fix"], capsys)
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"on_commit" in data and data.count(b"\r\n") == data.count(b"\n")


def test_diff_prints_and_writes_nothing(write, capsys) -> None:
    root = write({"app/services.py": DISPATCH_IN_ATOMIC})
    before = (root / "app/services.py").read_text()
    status, out, _ = run([str(root), "--diff"], capsys)
    assert status == 1
    assert "+        transaction.on_commit(partial(send_receipt.delay, order.pk))" in out
    assert (root / "app/services.py").read_text() == before


def test_unsafe_fix_needs_the_flag(write, capsys) -> None:
    source = """
    from django.db import IntegrityError, transaction


    @transaction.atomic
    def import_rows(rows):
        for row in rows:
            try:
                row.save()
            except IntegrityError:
                pass
    """
    root = write({"app/importer.py": source})
    status, _, err = run([str(root), "--fix"], capsys)
    assert status == 1 and "1 need --unsafe-fixes" in err
    assert run([str(root), "--fix", "--unsafe-fixes"], capsys)[0] == 0


def test_fix_summary_counts_what_remains_by_reason(write, capsys) -> None:
    source = """
    from django.db import IntegrityError, transaction
    from .tasks import convert_pdf


    @transaction.atomic
    def import_rows(rows):
        job = convert_pdf.delay(rows[0].pk)
        for row in rows:
            try:
                row.save()
            except IntegrityError:
                pass
        return job
    """
    broken = "from django.db import transaction\nwith transaction.atomic(:\n    task.delay()\n"
    root = write({"app/importer.py": source, "app/broken.py": broken})
    err = run([str(root), "--fix"], capsys)[2]
    assert (
        "3 remaining (2 without an applicable fix: 1 file not parsed, 1 the call's result is used; 1 need --unsafe-fixes)"
    ) in err


def test_syntax_error_is_reported_and_run_continues(write, capsys) -> None:
    bad = "from django.db import transaction\ndef f(:\n    with transaction.atomic():\n        task.delay()\n"
    root = write({"a_bad.py": bad, "b_good.py": DISPATCH_IN_ATOMIC})
    status, out, _ = run([str(root)], capsys)
    assert status == 1
    lines = out.splitlines()
    assert "TXL000 cannot parse file" in lines[0]
    assert "b_good.py:8:9: TXL101" in lines[1]


def test_syntax_error_in_a_file_no_rule_needs_is_not_parsed(write, capsys) -> None:
    root = write({"broken.py": "def f(:\n    return 1\n"})
    assert run([str(root)], capsys)[0] == 0


def test_undecodable_file_is_reported(write, capsys) -> None:
    root = write({})
    (root / "latin.py").write_bytes(b"# -*- coding: utf-8 -*-\nname = '\xe9'\n")
    status, out, _ = run([str(root)], capsys)
    assert status == 1 and "TXL000 cannot decode file" in out


def test_explain_prints_rule_docs(capsys) -> None:
    status, out, _ = run(["--explain", "txl101"], capsys)
    assert status == 0
    assert "## Why is this bad?" in out and "TXL101" in out


def test_explain_unknown_code_is_an_error(capsys) -> None:
    assert run(["--explain", "TXL999"], capsys)[0] == 2


def test_list_rules_shows_every_rule(capsys) -> None:
    _, out, _ = run(["--list-rules"], capsys)
    assert [line.split()[0] for line in out.splitlines()] == [rule.code for rule in all_rules()]
    assert {"TXL101", "TXL103", "TXL105", "TXL201", "TXL202", "TXL203", "TXL204"} <= {rule.code for rule in all_rules()}


def test_configured_dispatcher_from_pyproject(write, capsys) -> None:
    root = write(
        {
            "pyproject.toml": '[tool.txlint]\ndispatchers = ["core.redis.start_job"]\n',
            "core/__init__.py": "",
            "core/redis.py": "def start_job(job, *args):\n    pass\n",
            "api.py": """
            from django.db import transaction
            from core.redis import start_job

            def import_view(request):
                with transaction.atomic():
                    start_job(run_import, 1)
            """,
        }
    )
    status, out, _ = run([str(root / "api.py")], capsys)
    assert status == 1 and "`start_job()` dispatches a job" in out


def test_unknown_config_key_is_an_error(write, capsys) -> None:
    root = write({"pyproject.toml": "[tool.txlint]\ndispatcher = []\n", "a.py": DISPATCH_IN_ATOMIC})
    status, _, err = run([str(root / "a.py")], capsys)
    assert status == 2 and "unknown option `dispatcher`" in err


def test_console_script_runs_as_a_module(write) -> None:
    root = write({"app/services.py": DISPATCH_IN_ATOMIC})
    result = subprocess.run(
        [sys.executable, "-m", "txlint.cli", str(root)], capture_output=True, text=True, env={**os.environ}
    )
    assert result.returncode == 1 and "TXL101" in result.stdout
