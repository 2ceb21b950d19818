"""The pre-commit hooks, run by the real pre-commit client against this repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DISPATCH_IN_ATOMIC

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="pre-commit needs git")


def git(root: Path, *args: str) -> None:
    identity = ["-c", "user.email=ci@example.com", "-c", "user.name=ci"]
    subprocess.run(["git", *identity, *args], cwd=root, check=True, capture_output=True)


@pytest.fixture(scope="module")
def precommit_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "shop").mkdir(parents=True)
    (root / "shop" / "services.py").write_text(DISPATCH_IN_ATOMIC.lstrip())
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-qm", "initial")
    return root


def pre_commit(root: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=root, env=env, capture_output=True, text=True)


def test_check_hook_reports_the_finding(project: Path, precommit_home: Path) -> None:
    result = pre_commit(project, precommit_home, "try-repo", str(REPO), "txlint", "--all-files")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "shop/services.py:8:9: TXL101" in result.stdout


def test_fix_hook_rewrites_the_file(project: Path, precommit_home: Path) -> None:
    result = pre_commit(project, precommit_home, "try-repo", str(REPO), "txlint-fix", "--all-files")
    assert result.returncode == 1, result.stdout + result.stderr  # pre-commit fails a hook that changed files
    fixed = (project / "shop" / "services.py").read_text()
    assert "transaction.on_commit(partial(send_receipt.delay, order.pk))" in fixed
    again = pre_commit(project, precommit_home, "try-repo", str(REPO), "txlint", "--all-files")
    assert again.returncode == 0, again.stdout


def test_flake8_hook_with_txlint_as_additional_dependency(project: Path, precommit_home: Path) -> None:
    (project / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        "  - repo: local\n"
        "    hooks:\n"
        "      - id: flake8\n"
        "        name: flake8\n"
        "        entry: flake8 --select TXL\n"
        "        language: python\n"
        "        types: [python]\n"
        f"        additional_dependencies: [flake8, '{REPO}']\n"
    )
    git(project, "add", ".")
    result = pre_commit(project, precommit_home, "run", "--all-files")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "shop/services.py:8:9: TXL101" in result.stdout
