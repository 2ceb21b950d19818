"""The cache answers for unchanged files, re-reads only what changed, and never changes results."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from txlint.cache import CACHE_DIR_NAME, UNVERIFIED_SIZE, Store, stamp_of

TASKS = """
from celery import shared_task


@shared_task
def send_receipt(order_id):
    pass
"""

HELPERS = """
from .tasks import send_receipt


def notify(order):
    send_receipt.delay(order.pk)
"""

SERVICES = """
from django.db import transaction

from .helpers import notify


def place_order(order):
    with transaction.atomic():
        order.save()
        notify(order)
"""

QUIET = """
def total(order):
    return sum(line.price for line in order.lines)
"""


def project(root: Path, quiet_modules: int = 0) -> Path:
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'shop'\n")
    package = root / "shop"
    package.mkdir()
    files = {"__init__.py": "", "tasks.py": TASKS, "helpers.py": HELPERS, "services.py": SERVICES}
    files.update({f"quiet_{number}.py": QUIET for number in range(quiet_modules)})
    for name, text in files.items():
        (package / name).write_text(text.lstrip())
        age(package / name)
    return root


def age(path: Path) -> None:
    """Files edited an hour ago: the cache trusts their size and time (see the racy case below)."""
    old = os.stat(path).st_mtime_ns - 3600 * 10**9
    os.utime(path, ns=(old, old))


def txlint(root: Path, *args: str, cache: Path | None = None) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("TXLINT_")}
    if cache is not None:
        environment["TXLINT_CACHE_DIR"] = str(cache)
    command = [sys.executable, "-m", "txlint", "-v", *args]
    return subprocess.run(command, cwd=root, capture_output=True, text=True, env=environment, timeout=300)


def counts(result: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    """(project line, checked line) of `-v`, without the project's path."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("txlint: ")]
    project_line = next(line for line in lines if "indexed" in line).split(": ", 2)[2]
    checked_line = next(line for line in lines if "checked:" in line).split(": ", 1)[1]
    return project_line, checked_line


def test_second_run_reads_nothing_and_reports_the_same(tmp_path: Path) -> None:
    root = project(tmp_path / "p", quiet_modules=3)
    first, second = txlint(root, "."), txlint(root, ".")
    assert first.returncode == second.returncode == 1
    assert "TXL102" in first.stdout and first.stdout == second.stdout
    assert counts(first)[1] == "7 file(s) checked: 0 answered by the cache, 7 read"
    assert counts(second) == ("7 file(s) indexed, 0 read, 0 parsed", "7 file(s) checked: 7 answered by the cache, 0 read")


def test_cache_lives_in_the_project_and_hides_from_git(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    txlint(root, ".")
    cache = root / CACHE_DIR_NAME
    assert (cache / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (cache / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")


def test_no_cache_neither_reads_nor_writes_it(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    txlint(root, ".")
    result = txlint(root, ".", "--no-cache")
    assert counts(result)[1].endswith("0 answered by the cache, 4 read")
    os.utime(root / "shop" / "tasks.py", ns=(10**9, 10**9))
    txlint(root, ".", "--no-cache")
    assert counts(txlint(root, "."))[0] == "4 file(s) indexed, 1 read, 0 parsed"


def test_touched_file_is_read_again_and_nothing_else(tmp_path: Path) -> None:
    root = project(tmp_path / "p", quiet_modules=496)
    txlint(root, ".")
    os.utime(root / "shop" / "quiet_7.py", ns=(10**9, 10**9))
    result = txlint(root, ".")
    assert counts(result) == ("500 file(s) indexed, 1 read, 0 parsed", "500 file(s) checked: 500 answered by the cache, 1 read")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_touched_files_are_answered_by_the_cache_in_the_workers_too(tmp_path: Path, jobs: str) -> None:
    root = project(tmp_path / "p", quiet_modules=40)
    first = txlint(root, ".", "--jobs", jobs)
    touched = [root / "shop" / "services.py", *(root / "shop" / f"quiet_{number}.py" for number in range(20))]
    for path in touched:
        os.utime(path, ns=(10**9, 10**9))
    second = txlint(root, ".", "--jobs", jobs)
    assert "TXL102" in first.stdout and second.stdout == first.stdout
    assert counts(second) == ("44 file(s) indexed, 21 read, 0 parsed", "44 file(s) checked: 44 answered by the cache, 21 read")
    assert counts(txlint(root, ".", "--jobs", jobs)) == (
        "44 file(s) indexed, 0 read, 0 parsed",
        "44 file(s) checked: 44 answered by the cache, 0 read",
    )


def test_an_edit_elsewhere_that_ends_the_chain_clears_the_finding(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    assert "TXL102" in txlint(root, ".").stdout
    helpers = root / "shop" / "helpers.py"
    helpers.write_text("def notify(order):\n    pass\n")
    age(helpers)
    result = txlint(root, ".")
    assert result.returncode == 0 and result.stdout == ""
    assert counts(result)[0] == "4 file(s) indexed, 1 read, 0 parsed"


WRAPPERS = """
from contextlib import contextmanager

from django.db import transaction


@contextmanager
def traced_atomic(name):
    with transaction.atomic():
        yield
"""

BATCH = """
from .db import traced_atomic
from .tasks import send_receipt


def close_batch(batch):
    with traced_atomic("close_batch"):
        batch.save()
        send_receipt.delay(batch.pk)
"""


def test_an_edit_of_an_atomic_wrapper_changes_findings_in_the_module_importing_it(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    for name, text in {"db.py": WRAPPERS, "batch.py": BATCH}.items():
        (root / "shop" / name).write_text(text.lstrip())
        age(root / "shop" / name)
    assert "batch.py:8:9: TXL101" in txlint(root, ".").stdout
    wrappers = root / "shop" / "db.py"
    wrappers.write_text(WRAPPERS.lstrip().replace("    with transaction.atomic():\n        yield", "    yield"))
    age(wrappers)
    result = txlint(root, ".")
    assert "batch.py" not in result.stdout
    assert counts(result)[0] == "6 file(s) indexed, 1 read, 1 parsed"


def test_same_size_same_time_edit_is_caught_while_the_time_is_recent(tmp_path: Path) -> None:
    """git's racily-clean case: a rewrite within the clock's resolution keeps size and mtime.

    A file modified less than two seconds before txlint stats it is never trusted by
    its stamp; a time in the future stands for "just now" however slow the machine.
    """
    root = project(tmp_path / "p")
    services = root / "shop" / "services.py"
    recent = os.stat(services).st_mtime_ns + 7200 * 10**9
    os.utime(services, ns=(recent, recent))
    assert "TXL102" in txlint(root, ".").stdout
    services.write_text(SERVICES.lstrip().replace("notify(order)\n", "notice(order)\n"))
    os.utime(services, ns=(recent, recent))
    result = txlint(root, ".")
    assert result.returncode == 0 and result.stdout == ""


def test_changed_configuration_checks_again(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    txlint(root, ".")
    result = txlint(root, ".", "--select", "TXL101")
    assert result.returncode == 0 and counts(result)[1].endswith("0 answered by the cache, 4 read")


def test_damaged_cache_is_ignored_and_rewritten(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    expected = txlint(root, ".").stdout
    for store in (root / CACHE_DIR_NAME).rglob("*.marshal"):
        store.write_bytes(b"\x00garbage")
    result = txlint(root, ".")
    assert result.stdout == expected and counts(result)[1].endswith("0 answered by the cache, 4 read")
    assert counts(txlint(root, "."))[1].endswith("4 answered by the cache, 0 read")


def test_unwritable_cache_warns_and_still_checks(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = txlint(root, ".", "--cache-dir", str(blocker / "cache"))
    assert result.returncode == 1 and "TXL102" in result.stdout
    assert "txlint: warning: cannot write the cache" in result.stderr


def test_concurrent_runs_share_the_cache_safely(tmp_path: Path) -> None:
    root = project(tmp_path / "p", quiet_modules=40)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("TXLINT_")}
    command = [sys.executable, "-m", "txlint", "."]
    runs = [subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, text=True, env=environment) for _ in range(4)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert len(set(outputs)) == 1 and "TXL102" in outputs[0]
    assert txlint(root, ".").stdout == outputs[0]


@pytest.mark.parametrize("fix_args", [["--fix"], ["--diff"]])
def test_fix_reuses_only_entries_with_nothing_to_fix(tmp_path: Path, fix_args: list[str]) -> None:
    root = project(tmp_path / "p")
    (root / "shop" / "direct.py").write_text(
        "from django.db import transaction\nfrom .tasks import send_receipt\n\n\n"
        "def pay(order):\n    with transaction.atomic():\n        send_receipt.delay(order.pk)\n"
    )
    age(root / "shop" / "direct.py")
    txlint(root, ".")
    result = txlint(root, ".", *fix_args)
    assert counts(result)[1].endswith("4 answered by the cache, 1 read")
    if fix_args == ["--fix"]:
        assert "transaction.on_commit" in (root / "shop" / "direct.py").read_text()


def test_store_entries_need_the_recorded_stamp(tmp_path: Path) -> None:
    target = tmp_path / "a.py"
    target.write_text("x = 1\n")
    store = Store.open(str(tmp_path / "cache"), "test")
    stamp = (6, 1)
    store.record(str(target), stamp, "hash", "value")
    assert store.save() is None
    store = Store.open(str(tmp_path / "cache"), "test")
    assert store.fresh(str(target), (6, 2)) is None
    assert store.matching(str(target), "hash") is not None and store.matching(str(target), "other") is None
    target.write_text("x = 2\n")  # just now: its stamp cannot be trusted yet
    assert stamp_of(str(target))[0] == UNVERIFIED_SIZE


def test_saving_keeps_what_another_run_saved_meanwhile_and_drops_files_that_are_gone(tmp_path: Path) -> None:
    files = [tmp_path / f"{name}.py" for name in ("a", "b", "c", "gone")]
    for path in files:
        path.write_text("x = 1\n")
    ours, theirs = (Store.open(str(tmp_path / "cache"), "test") for _ in range(2))
    theirs.record(str(files[1]), (6, 1), "b", "theirs")
    theirs.record(str(files[3]), (6, 1), "gone", "theirs")
    assert theirs.save() is None
    files[3].unlink()
    ours.record(str(files[0]), (6, 1), "a", "ours")
    assert ours.save() is None  # the store file changed since `ours` read it: merged
    again = Store.open(str(tmp_path / "cache"), "test")
    assert again.fresh(str(files[0]), (6, 1)) is not None and again.fresh(str(files[1]), (6, 1)) is not None
    assert again.matching(str(files[3]), "gone") is None
    # Unchanged since read: saved without reading it again, still whole.
    again.record(str(files[2]), (6, 1), "c", "again")
    assert again.save() is None
    final = Store.open(str(tmp_path / "cache"), "test")
    assert [final.fresh(str(path), (6, 1)) is not None for path in files[:3]] == [True, True, True]


def test_an_entry_of_another_shape_is_not_trusted(tmp_path: Path) -> None:
    target = tmp_path / "a.py"
    target.write_text("x = 1\n")
    store = Store.open(str(tmp_path / "cache"), "test")
    store.entries[str(target)] = ["not", "an entry"]  # type: ignore[assignment]
    assert store.fresh(str(target), (6, 1)) is None and store.matching(str(target), "an entry") is None


def test_a_file_is_stamped_once_in_a_run(tmp_path, monkeypatch) -> None:
    from txlint import cache

    path = tmp_path / "a.py"
    path.write_text("x = 1\n")
    statted: list[str] = []
    real = os.stat
    monkeypatch.setattr(cache.os, "stat", lambda p, *a, **k: statted.append(str(p)) or real(p, *a, **k))
    with cache.remembered_stamps():
        first = stamp_of(str(path))
        path.write_text("x = 22\n")
        assert stamp_of(str(path)) == first and stamp_of(str(tmp_path / "missing.py")) is None
        assert stamp_of(str(tmp_path / "missing.py")) is None
    assert statted == [str(path), str(tmp_path / "missing.py")]
    # After the run, a new stamp shows the change.
    assert stamp_of(str(path)) != first


def test_the_index_and_the_check_stamp_each_file_once(write, tmp_path_factory, monkeypatch) -> None:
    from txlint import cache
    from txlint.cli import main

    root = write({"pyproject.toml": "", "shop/__init__.py": "", "shop/views.py": "x = 1\n", "shop/tasks.py": "y = 2\n"})
    cache_dir = str(tmp_path_factory.mktemp("cache"))
    statted: list[str] = []
    real = os.stat
    monkeypatch.setattr(cache.os, "stat", lambda p, *a, **k: statted.append(str(p)) or real(p, *a, **k))
    assert main(["--cache-dir", cache_dir, str(root)]) == 0
    # The project's files, the ones a check and the index both stamp (markers and
    # package checks stat other paths).
    for name in ("views.py", "tasks.py"):
        assert statted.count(str(root / "shop" / name)) == 1
