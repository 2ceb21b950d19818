"""An interrupted `--fix` leaves every file old or new, never half-written, and no temporary file.

The end-to-end tests run a real `txlint --fix` over many files, interrupt it with
SIGINT or SIGTERM once it has fixed some of them, and compare every file with its
original and its fixed version.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from txlint import cli, engine, signals
from tests.conftest import DISPATCH_IN_ATOMIC

FILES = 24


def module(functions: int) -> str:
    body = DISPATCH_IN_ATOMIC.split("\n\n\n", 1)[1]
    header = "from django.db import transaction\nfrom .tasks import send_receipt\n"
    return header + "".join("\n\n" + body.replace("place_order", f"place_order_{n}") for n in range(functions))


@pytest.fixture(scope="module")
def versions(tmp_path_factory) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Each file's original and fixed bytes (the fixed ones from an uninterrupted run)."""
    root = tmp_path_factory.mktemp("versions")
    for index in range(FILES):
        (root / f"orders_{index:02}.py").write_text(module(30))
    originals = {path.name: path.read_bytes() for path in root.iterdir()}
    assert cli.main([str(root), "--fix", "--no-cache"]) == 0
    fixed = {path.name: path.read_bytes() for path in root.iterdir()}
    assert all(fixed[name] != originals[name] for name in originals)
    return originals, fixed


def interrupt_fix(tree: Path, originals: dict[str, bytes], signum: int, group: bool, options: list[str]) -> int:
    for name, data in originals.items():
        (tree / name).write_bytes(data)
    process = subprocess.Popen(
        [sys.executable, "-m", "txlint.cli", "--fix", *options, str(tree)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while not any((tree / name).read_bytes() != data for name, data in originals.items()):
        assert process.poll() is None and time.monotonic() < deadline, "no file was fixed"
        time.sleep(0.005)
    time.sleep(random.Random(signum * 10 + group).uniform(0, 0.5))
    if group:  # as Ctrl-C in a terminal: the whole process group
        os.killpg(process.pid, signum)
    else:
        process.send_signal(signum)
    _, stderr = process.communicate(timeout=300)
    assert b"Traceback" not in stderr, stderr.decode()
    return process.returncode


@pytest.mark.parametrize(
    ("signum", "group", "jobs"),
    [(signal.SIGINT, False, "1"), (signal.SIGINT, True, "2"), (signal.SIGTERM, False, "2"), (signal.SIGTERM, True, "1")],
    ids=["sigint", "sigint-group-pool", "sigterm-pool", "sigterm-group"],
)
def test_interrupted_fix_leaves_every_file_old_or_new(tmp_path, versions, signum, group, jobs) -> None:
    originals, fixed = versions
    tree, cache = tmp_path / "tree", tmp_path / "cache"
    tree.mkdir()
    status = interrupt_fix(tree, originals, signum, group, ["--jobs", jobs, "--cache-dir", str(cache)])
    after = {path.name: path.read_bytes() for path in tree.iterdir()}
    assert sorted(after) == sorted(originals), "a temporary file was left behind"
    assert not [path for path in cache.rglob("*") if path.name.startswith(".tmp-")]
    assert all(after[name] in (originals[name], fixed[name]) for name in originals)
    changed = sum(after[name] == fixed[name] for name in originals)
    if changed < FILES:  # the signal came before the end of the run
        assert status == 128 + signum


def test_signal_while_writing_waits_for_the_file(tmp_path) -> None:
    target = tmp_path / "a.py"
    target.write_text("old\n")
    after_block = []
    with pytest.raises(signals.Interrupted) as stopped, signals.handled():
        with signals.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            target.write_text("new\n")  # still runs: the signal is held
        after_block.append(True)
    assert stopped.value.signum == signal.SIGTERM and target.read_text() == "new\n"
    assert not after_block


def test_handlers_are_restored_after_the_run() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with signals.handled():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


def test_outside_the_main_thread_signals_are_left_alone() -> None:
    import threading

    seen = []

    def run() -> None:
        with signals.handled():
            seen.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [signal.getsignal(signal.SIGTERM)]


def test_interrupted_main_exits_with_the_signal_status(tmp_path, capsys, monkeypatch) -> None:
    (tmp_path / "a.py").write_text(DISPATCH_IN_ATOMIC)

    def interrupted(*args, **kwargs):
        raise signals.Interrupted(signal.SIGINT)

    monkeypatch.setattr(cli, "check_files", interrupted)
    assert cli.main([str(tmp_path), "--fix"]) == 130
    assert "txlint: interrupted by SIGINT; no file was left half-written" in capsys.readouterr().err


def test_temporary_file_is_removed_when_interrupted_mid_write(tmp_path, monkeypatch) -> None:
    target = tmp_path / "a.py"
    target.write_text("old\n")

    def replace(source, destination):
        raise signals.Interrupted(signal.SIGTERM)

    monkeypatch.setattr(cli.os, "replace", replace)
    with pytest.raises(signals.Interrupted):
        cli._write_atomically(str(target), b"new\n", b"old\n")
    assert [path.name for path in tmp_path.iterdir()] == ["a.py"] and target.read_text() == "old\n"


def test_an_error_raised_while_unwinding_from_a_signal_does_not_hide_it(tmp_path, capsys, monkeypatch) -> None:
    # libcst's position provider raises a KeyError from a `finally` that a signal passes
    # through; `except Exception` (one broken file must not stop the run) would swallow it.
    (tmp_path / "a.py").write_text(DISPATCH_IN_ATOMIC)

    def cleanup_fails(*args, **kwargs):
        try:
            raise signals.Interrupted(signal.SIGINT)
        finally:
            raise KeyError("a node")  # noqa: B012

    monkeypatch.setattr(engine, "analyse", cleanup_fails)
    assert cli.main([str(tmp_path), "--no-cache"]) == 130
    assert "txlint: interrupted by SIGINT" in capsys.readouterr().err


def test_an_error_of_its_own_is_reported_for_its_file_and_the_run_goes_on(tmp_path, capsys, monkeypatch) -> None:
    (tmp_path / "a.py").write_text(DISPATCH_IN_ATOMIC)
    monkeypatch.setattr(engine, "analyse", lambda *args, **kwargs: {}["missing"])
    assert cli.main([str(tmp_path), "--no-cache"]) == 2  # an internal error
    assert "internal error: KeyError: 'missing'" in capsys.readouterr().err
