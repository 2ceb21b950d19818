"""txlint runs with fewer collections, and gives the caller's thresholds back."""

from __future__ import annotations

import ast
import gc

import pytest

from txlint import cli
from txlint.collector import YOUNG_THRESHOLD, fewer_collections
from txlint.flake8_plugin import Flake8Plugin


def test_the_threshold_is_raised_inside_and_restored_after_even_on_error() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError):
        with fewer_collections():
            assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
            raise RuntimeError
    assert gc.get_threshold() == before


def test_the_cli_and_the_plugin_give_the_thresholds_back(write, monkeypatch) -> None:
    root = write({"shop/views.py": "try:\n    pay()\nexcept:\n    pass\n"})
    monkeypatch.chdir(root)
    before = gc.get_threshold()
    seen = []
    monkeypatch.setattr(cli, "_run_paths", lambda args: seen.append(gc.get_threshold()) or 0)
    assert cli.main(["--no-cache", "."]) == 0 and seen == [(YOUNG_THRESHOLD, *before[1:])]
    assert gc.get_threshold() == before
    source = (root / "shop/views.py").read_text()
    plugin = Flake8Plugin(ast.parse(source), str(root / "shop/views.py"), source.splitlines(True))
    assert [code.split()[0] for _, _, code, _ in plugin.run()] == ["TXL201", "TXL202"]
    assert gc.get_threshold() == before
