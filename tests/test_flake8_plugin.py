"""The plugin is a thin adapter: flake8 and the CLI print the same findings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import DISPATCH_IN_ATOMIC

REPO = Path(__file__).resolve().parent.parent


def flake8(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flake8", "--isolated", *args], cwd=cwd, capture_output=True, text=True)


def txlint(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "txlint.cli", *args], cwd=cwd, capture_output=True, text=True)


def test_plugin_is_registered_with_flake8() -> None:
    result = subprocess.run([sys.executable, "-m", "flake8", "--version"], capture_output=True, text=True)
    assert "txlint" in result.stdout


def test_flake8_and_cli_agree_on_fixtures() -> None:
    from_flake8 = flake8("--select", "TXL", "fixtures/", cwd=REPO)
    from_cli = txlint("fixtures/", cwd=REPO)
    assert from_flake8.returncode == from_cli.returncode == 1
    assert sorted(from_flake8.stdout.splitlines()) == sorted(from_cli.stdout.splitlines())
    assert len(from_cli.stdout.splitlines()) >= 10


def test_flake8_noqa_silences_plugin_findings(write) -> None:
    source = DISPATCH_IN_ATOMIC.replace("send_receipt.delay(order.pk)", "send_receipt.delay(order.pk)  # noqa: TXL101")
    root = write({"app/services.py": source})
    assert flake8("--select", "TXL", ".", cwd=root).stdout == ""


def test_flake8_format_option_applies_to_plugin_findings(write) -> None:
    root = write({"app/services.py": DISPATCH_IN_ATOMIC})
    result = flake8("--select", "TXL", "--format", "%(code)s@%(row)d", ".", cwd=root)
    assert result.stdout.strip() == "TXL101@8"


def test_flake8_option_adds_dispatchers(write) -> None:
    source = """
    from django.db import transaction
    from core.jobs import run_later

    def view(request):
        with transaction.atomic():
            run_later(1)
    """
    root = write({"api.py": source})
    assert flake8("--select", "TXL", ".", cwd=root).stdout == ""
    result = flake8("--select", "TXL", "--txlint-dispatchers", "core.jobs.run_later", ".", cwd=root)
    assert "TXL101 `run_later()` dispatches a job" in result.stdout


def test_plugin_run_yields_flake8_tuples_in_process(tmp_path) -> None:
    import ast

    from txlint.flake8_plugin import Flake8Plugin

    source = DISPATCH_IN_ATOMIC.lstrip("\n")
    path = tmp_path / "services.py"
    path.write_text(source)
    options = {"txlint_dispatchers": [], "txlint_atomic_contexts": [], "txlint_read_only_databases": []}
    Flake8Plugin.parse_options(type("Options", (), options)())
    plugin = Flake8Plugin(ast.parse(source), str(path), source.splitlines(keepends=True))
    [(line, column, text, kind)] = list(plugin.run())
    assert (line, column, kind) == (8, 8, Flake8Plugin)
    assert text.startswith("TXL101 `send_receipt.delay()`")


def test_plugin_makes_the_settings_of_a_folder_once(tmp_path, monkeypatch) -> None:
    import ast

    from txlint import flake8_plugin
    from txlint.flake8_plugin import Flake8Plugin

    made = []
    extended = flake8_plugin.extended_settings
    monkeypatch.setattr(flake8_plugin, "extended_settings", lambda *args, **kwargs: made.append(1) or extended(*args, **kwargs))
    source = DISPATCH_IN_ATOMIC.lstrip("\n")
    for number, folder in enumerate(("shop", "shop", "billing")):
        path = tmp_path / folder / f"services_{number}.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text(source)
        options = {"txlint_dispatchers": [], "txlint_atomic_contexts": [], "txlint_read_only_databases": []}
        if folder == "billing":
            # New options (flake8 parses them once per run): the settings are made again.
            Flake8Plugin.parse_options(type("Options", (), {**options, "txlint_dispatchers": ["core.jobs.run_later"]})())
        elif number == 0:
            Flake8Plugin.parse_options(type("Options", (), options)())
        plugin = Flake8Plugin(ast.parse(source), str(path), source.splitlines(keepends=True))
        assert [text.split()[0] for _, _, text, _ in plugin.run()] == ["TXL101"]
    assert len(made) == 2
    assert Flake8Plugin.options["dispatchers"] == ("core.jobs.run_later",)


def indexed_when_options_are_parsed(
    monkeypatch, filenames: list[str], start_method: str = "fork", worker: bool = False
) -> list[str]:
    """The project roots the plugin indexes as flake8 hands it its options."""
    import multiprocessing

    from txlint import flake8_plugin
    from txlint.flake8_plugin import Flake8Plugin

    roots: list[str] = []
    monkeypatch.setattr(flake8_plugin, "project_facts", lambda root, cache_dir: roots.append(root))
    monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: start_method)
    monkeypatch.setattr(multiprocessing, "parent_process", lambda: object() if worker else None)
    Flake8Plugin.parse_options(type("Options", (), {"filenames": filenames})())
    return roots


def test_the_projects_to_check_are_indexed_before_flake8_forks_its_workers(write, monkeypatch) -> None:
    root = write({"pyproject.toml": "", "shop/__init__.py": "", "shop/services.py": DISPATCH_IN_ATOMIC, "tools/run.py": ""})
    assert indexed_when_options_are_parsed(monkeypatch, [str(root), str(root / "shop" / "services.py")]) == [str(root)] * 2
    assert indexed_when_options_are_parsed(monkeypatch, [str(root / "shop")]) == [str(root)]


def test_no_project_is_indexed_ahead_where_it_would_not_be_shared(write, monkeypatch) -> None:
    import multiprocessing

    root = write({"pyproject.toml": "", "shop/services.py": DISPATCH_IN_ATOMIC})
    # Each worker is a new process (spawn), or this is one: the checks index as they go.
    assert indexed_when_options_are_parsed(monkeypatch, [str(root)], start_method="spawn") == []
    assert indexed_when_options_are_parsed(monkeypatch, [str(root)], worker=True) == []
    # Not chosen yet: the platform's default decides.
    forks_by_default = multiprocessing.get_all_start_methods()[0] == "fork"
    expected = [str(root)] if forks_by_default else []
    assert indexed_when_options_are_parsed(monkeypatch, [str(root)], start_method=None) == expected
    # Standard input, a missing path.
    assert indexed_when_options_are_parsed(monkeypatch, ["-", str(root / "missing.py")]) == []


def test_a_folder_outside_any_project_is_not_indexed_ahead(tmp_path, monkeypatch) -> None:
    """Its files' projects are their top-level packages' parents, not the folder: indexing
    all of it would be work no check uses."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "run.py").write_text(DISPATCH_IN_ATOMIC)
    from txlint.project import PROJECT_MARKERS

    assert not any((parent / marker).exists() for parent in tmp_path.parents for marker in PROJECT_MARKERS)
    assert indexed_when_options_are_parsed(monkeypatch, [str(tmp_path)]) == []


def test_flake8_workers_report_what_one_process_does(write) -> None:
    files = {"pyproject.toml": "", "shop/__init__.py": ""}
    files.update({f"shop/services_{n}.py": DISPATCH_IN_ATOMIC for n in range(4)})
    root = write(files)
    serial = flake8("--select", "TXL", "--jobs", "1", ".", cwd=root)
    forked = flake8("--select", "TXL", "--jobs", "2", ".", cwd=root)
    assert serial.returncode == forked.returncode == 1
    assert sorted(forked.stdout.splitlines()) == sorted(serial.stdout.splitlines())
    assert len(serial.stdout.splitlines()) == 4
