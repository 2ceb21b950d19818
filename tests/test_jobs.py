"""`--jobs N` checks files in parallel: the same findings, fixes and order as one process."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

from txlint import cli, parallel
from txlint.cache import Store
from txlint.cli import _Checker
from txlint.parallel import Inherited
from txlint.project import project_facts

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("TXLINT_")}
    command = [sys.executable, "-m", "txlint", "--no-cache", *args]
    return subprocess.run(command, capture_output=True, text=True, env=environment, cwd=cwd, timeout=600)


def test_parallel_findings_equal_serial_ones_in_the_same_order() -> None:
    serial, parallel = run("--strict", "-j", "1", str(FIXTURES)), run("--strict", "-j", "2", str(FIXTURES))
    assert serial.returncode == parallel.returncode == 1
    assert serial.stdout.count("\n") > 50 and parallel.stdout == serial.stdout


def test_parallel_fixes_equal_serial_ones(tmp_path: Path) -> None:
    trees = []
    for jobs in ("1", "2"):
        tree = tmp_path / f"jobs{jobs}"
        shutil.copytree(FIXTURES, tree)
        result = run("--fix", "--unsafe-fixes", "-j", jobs, str(tree))
        assert "fixed" in result.stderr
        trees.append({path.relative_to(tree): path.read_bytes() for path in sorted(tree.rglob("*.py"))})
    assert trees[0] == trees[1]


def test_flake8_parallel_workers_share_the_project_index(tmp_path: Path) -> None:
    """flake8 --jobs 2 runs the plugin in two processes; each builds or loads the same index."""
    tree = tmp_path / "seed"
    shutil.copytree(FIXTURES / "seed_import", tree)
    environment = {**os.environ, "TXLINT_CACHE_DIR": str(tmp_path / "cache")}
    outputs = []
    for jobs in ("1", "2", "2"):
        command = [sys.executable, "-m", "flake8", "--isolated", "--select", "TXL", "--jobs", jobs, "."]
        result = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=tree, timeout=600)
        outputs.append(sorted(result.stdout.splitlines()))
    assert "TXL102" in "".join(outputs[0]) and outputs[0] == outputs[1] == outputs[2]
    cli = run(".", cwd=tree)
    assert sorted(line.removeprefix("./") for line in cli.stdout.splitlines()) == sorted(
        line.removeprefix("./") for line in outputs[0]
    )


def test_workers_that_are_not_forked_are_sent_the_work_and_find_the_same(tmp_path: Path, monkeypatch, capsys) -> None:
    """Where processes are spawned, not forked, the items and the function go to the
    workers pickled: without the cache's store, which would go with every batch."""
    tree = shutil.copytree(FIXTURES, tmp_path / "fixtures")
    outputs = []
    for forks in (True, False):
        monkeypatch.setattr(parallel, "FORKS", forks)
        project_facts.cache_clear()
        assert cli.main(["--no-cache", "--strict", "-j", "2", str(tree)]) == 1
        outputs.append(capsys.readouterr().out)
    assert outputs[0].count("\n") > 50 and outputs[0] == outputs[1]
    checker = pickle.loads(pickle.dumps(_Checker(Inherited(Store("cache")), Namespace(jobs=2))))
    assert checker.store.value is None and checker.args.jobs == 2
