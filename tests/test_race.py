"""The proof that TXL101's fix closes the race, on a real database.

fixtures/race_project is a minimal Django project in the seed's unsafe form: its import
service creates a FileUpload and its Tasks inside `transaction.atomic()` and enqueues a
job with `.delay()` before the commit. The project's queue runs every job at once, in a
worker thread with its own database connection, before `delay()` returns: a job
dispatched inside the transaction always runs before the commit. The project runs in a
fresh interpreter with its own settings, on a SQLite file, and on PostgreSQL when
TXLINT_TEST_POSTGRES holds a connection string (CI starts a server and sets it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from txlint import cli

PROJECT = Path(__file__).resolve().parent.parent / "fixtures" / "race_project"
POSTGRES = os.environ.get("TXLINT_TEST_POSTGRES", "")
TASKS = 7

BACKENDS = [
    pytest.param("sqlite"),
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not POSTGRES, reason="TXLINT_TEST_POSTGRES names no PostgreSQL database"),
    ),
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    copy = tmp_path / "race_project"
    shutil.copytree(PROJECT, copy, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3*"))
    return copy


def import_and_count(project: Path, backend: str) -> dict:
    """Run the project's import once; what the worker saw and what the import committed."""
    database = POSTGRES if backend == "postgresql" else str(project / "race.sqlite3")
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "race_project.settings",
        "RACE_DATABASE": database,
        "PYTHONPATH": str(project),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    completed = subprocess.run(
        [sys.executable, "manage.py", "import_and_count", "--tasks", str(TASKS)],
        cwd=project, env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def fix(project: Path, capsys) -> str:
    assert cli.main([str(project), "--fix"]) == 0
    return capsys.readouterr().err


@pytest.mark.parametrize("backend", BACKENDS)
def test_job_dispatched_inside_the_transaction_finds_no_upload_and_no_tasks(project: Path, backend: str) -> None:
    seen = import_and_count(project, backend)
    assert seen["worker"] == [{"upload": None, "tasks": 0}]
    assert seen["committed"] == {"upload": "tasks.json", "tasks": TASKS}


@pytest.mark.parametrize("backend", BACKENDS)
def test_job_deferred_by_txlint_fix_sees_the_upload_and_every_task(project: Path, backend: str, capsys) -> None:
    fix(project, capsys)
    seen = import_and_count(project, backend)
    assert seen["worker"] == [{"upload": "tasks.json", "tasks": TASKS}]
    assert seen["committed"] == {"upload": "tasks.json", "tasks": TASKS}


def test_fix_defers_the_dispatch_with_on_commit_and_leaves_nothing_to_report(project: Path, capsys) -> None:
    summary = fix(project, capsys)
    assert "fixed 1 finding(s) in 1 file(s); 0 remaining" in summary
    services = (project / "data_import" / "services.py").read_text()
    assert "        transaction.on_commit(partial(count_tasks.delay, upload.id))  # TXL101\n" in services
    assert "from functools import partial\n" in services
    assert cli.main([str(project)]) == 0
