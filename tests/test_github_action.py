"""action.yml and the README's workflow example validate against GitHub's schemas
(vendored by check-jsonschema, so no network is needed)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


REPO = Path(__file__).resolve().parent.parent


def check(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)]
    return subprocess.run(command, capture_output=True, text=True)


def test_action_yml_is_a_valid_composite_action() -> None:
    result = check("vendor.github-actions", REPO / "action.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_workflow_example_is_a_valid_workflow(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    [workflow] = [block for block in blocks if block.startswith("name: txlint")]
    path = tmp_path / "txlint.yml"
    path.write_text(workflow)
    result = check("vendor.github-workflows", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_action_runs_txlint_with_github_annotations() -> None:
    action = (REPO / "action.yml").read_text()
    assert "txlint --format github" in action and "upload-sarif" in action
