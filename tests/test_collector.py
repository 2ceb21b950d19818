"""txlint runs with fewer collections, and gives the caller's thresholds back."""

from __future__ import annotations

import ast
import gc
from pathlib import Path

import pytest

from txlint import cli
from txlint.collector import YOUNG_THRESHOLD, fewer_collections
from txlint.engine import lint_source
from txlint.flake8_plugin import Flake8Plugin
from txlint.index import summarise_source
from txlint.indexing import file_facts
from txlint.registry import all_rules
from txlint.settings import DEFAULT_SETTINGS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


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


def cyclic_garbage(run) -> int:
    """How many objects `run` leaves that only the cyclic collector frees."""
    gc.collect()
    gc.disable()
    try:
        run()
        return gc.collect()
    finally:
        gc.enable()


def test_linting_leaves_no_reference_cycles_behind() -> None:
    # In flake8's process such garbage (a module's whole libcst tree) outlives txlint's
    # own collections and is scanned again by flake8's, generation after generation.
    rules = [rule() for rule in all_rules()]
    sources = [path.read_text(encoding="utf-8") for path in sorted((FIXTURES / "rules").rglob("*.py"))]
    assert sum(len(lint_source(source, rules)) for source in sources) > 20
    assert cyclic_garbage(lambda: [lint_source(source, rules) for source in sources]) == 0


def test_the_project_index_leaves_no_reference_cycles_behind() -> None:
    intake = FIXTURES / "projects" / "intake"
    sources = [(str(path), path.read_text(encoding="utf-8")) for path in sorted(intake.rglob("*.py"))]
    clearing = "from app.lookups import _cache, get_site\n\n\ndef reset():\n    _cache.clear()\n    get_site.cache_clear()\n"
    sources.append(("app/signals.py", clearing))
    assert file_facts("app/signals.py", clearing)[0].cleared_caches

    def index() -> None:
        for path, source in sources:
            file_facts(path, source)
            summarise_source(path, source, "app.module", False, DEFAULT_SETTINGS)

    assert cyclic_garbage(index) == 0
