"""Sweep txlint over every `.py` file of a tree (a site-packages folder): no crash, no bad fix.

    python bench/sweep.py /path/to/site-packages [--chunk 1000] [--work DIR] [--json FILE]

Copies the tree's `.py` files, each top-level package made a project of its own (in
site-packages every file's project would be the whole tree, indexed by every process),
lints the copy, then runs `--fix --unsafe-fixes` over it twice, all with the strict
profile. Files go to txlint in chunks, by name, so every file
is checked whatever the excludes say. Reports files, lines, seconds, crashes (an exit
status other than 0 or 1, a signal, a time-out, a traceback or an internal error),
fixes that do not compile where the original did, fixes that the second run changes
again (not idempotent), and findings per code. Exits 1 if it finds any of those.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

# Without the cache, so that the second fix run really checks every file again.
TXLINT = [sys.executable, "-m", "txlint.cli", "--strict", "--no-cache"]
TIME_LIMIT = 1800


@dataclass
class Run:
    """What one txlint process over some files said."""

    files: Sequence[Path]
    status: int
    stdout: str
    stderr: str
    seconds: float


@dataclass
class Sweep:
    files: int = 0
    lines: int = 0
    lint_seconds: float = 0.0
    fix_seconds: float = 0.0
    crashes: list[str] = field(default_factory=list)
    bad_fixes: list[str] = field(default_factory=list)
    not_idempotent: list[str] = field(default_factory=list)
    fixed_files: int = 0
    findings: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)


def python_files(tree: Path) -> list[Path]:
    found: list[Path] = []
    for directory, subdirectories, names in os.walk(tree):
        subdirectories.sort()
        found.extend(Path(directory, name) for name in sorted(names) if name.endswith(".py"))
    return [path for path in found if path.is_file()]


def chunks(files: Sequence[Path], size: int) -> Iterator[Sequence[Path]]:
    for start in range(0, len(files), size):
        yield files[start : start + size]


def run_txlint(files: Sequence[Path], options: Sequence[str]) -> Run:
    start = time.perf_counter()
    try:
        result = subprocess.run(
            [*TXLINT, *options, *map(str, files)], capture_output=True, text=True, errors="replace", timeout=TIME_LIMIT
        )
    except subprocess.TimeoutExpired:
        return Run(files, -1, "", f"timed out after {TIME_LIMIT} s", time.perf_counter() - start)
    return Run(files, result.returncode, result.stdout, result.stderr, time.perf_counter() - start)


def died(run: Run) -> bool:
    """Killed by a signal, timed out, or ended by an uncaught exception (exit 1 and a traceback)."""
    return run.status < 0 or run.status > 2 or "Traceback (most recent call last)" in run.stderr


def crashes(run: Run) -> list[str]:
    """One line per crash: internal errors name their file, a dead process its chunk."""
    found = [line for line in run.stderr.splitlines() if "internal error" in line]
    if died(run):
        last = run.stderr.strip().splitlines()[-1:] or [""]
        found.append(f"{len(run.files)} files from {run.files[0]}: exit {run.status}: {last[0]}")
    elif run.status == 2 and not found:
        found.append(f"{len(run.files)} files from {run.files[0]}: exit 2: {run.stderr.strip()[-300:]}")
    return found


def isolate(files: Sequence[Path], options: Sequence[str]) -> list[str]:
    """The crashes of a chunk whose process died, narrowed down to single files."""
    run = run_txlint(files, options)
    if not died(run) or len(files) == 1:
        return crashes(run)
    middle = len(files) // 2
    return isolate(files[:middle], options) + isolate(files[middle:], options)


def run_all(files: Sequence[Path], options: Sequence[str], size: int, workers: int) -> tuple[list[Run], list[str]]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        runs = list(pool.map(lambda chunk: run_txlint(chunk, options), chunks(files, size)))
    found = []
    for run in runs:
        found.extend(isolate(run.files, options) if died(run) and len(run.files) > 1 else crashes(run))
    return runs, found


def compiles(data: bytes, path: Path) -> bool:
    try:
        compile(data, str(path), "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def copy_projects(files: Sequence[Path], tree: Path, work: Path) -> list[Path]:
    """Copies of `files` under `work`; a project marker in each top-level folder, modules under `_modules/`."""
    copies = []
    for path in files:
        parts = path.relative_to(tree).parts
        copy = work.joinpath(*parts) if len(parts) > 1 else work / "_modules" / parts[0]
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
        copies.append(copy)
    for project in work.iterdir():
        (project / "setup.cfg").touch()
    return copies


def note_lines(runs: Sequence[Run]) -> Counter[str]:
    """Fixes txlint declined to write, by reason (informational)."""
    notes: Counter[str] = Counter()
    for run in runs:
        for line in run.stderr.splitlines():
            if "discarded a fix" in line:
                notes["fix discarded: result does not compile"] += 1
            elif "not fixed:" in line:
                notes["not fixed: " + line.split("not fixed:", 1)[1].strip()] += 1
    return notes


def sweep(tree: Path, work: Path, size: int, workers: int) -> Sweep:
    result = Sweep()
    files = python_files(tree)
    result.files = len(files)
    originals = {path: path.read_bytes() for path in files}
    result.lines = sum(data.count(b"\n") for data in originals.values())

    copies = copy_projects(files, tree, work)
    runs, found = run_all(copies, ["--format", "json"], size, workers)
    result.lint_seconds = sum(run.seconds for run in runs)
    result.crashes += found
    for run in runs:
        if run.stdout.strip():
            result.findings.update(item["code"] for item in json.loads(run.stdout))

    fix = ["--fix", "--unsafe-fixes"]
    runs, found = run_all(copies, fix, size, workers)
    result.fix_seconds = sum(run.seconds for run in runs)
    result.crashes += found
    result.notes = note_lines(runs)
    first = {copy: copy.read_bytes() for copy in copies}
    for original, copy in zip(files, copies):
        if first[copy] == originals[original]:
            continue
        result.fixed_files += 1
        if compiles(originals[original], original) and not compiles(first[copy], copy):
            result.bad_fixes.append(str(copy))

    runs, found = run_all(copies, fix, size, workers)
    result.crashes += found
    result.not_idempotent = [str(copy) for copy in copies if copy.read_bytes() != first[copy]]
    return result


def report(result: Sweep, tree: Path) -> str:
    lines = [
        f"tree: {tree}",
        f"files: {result.files}, lines: {result.lines}",
        f"lint: {result.lint_seconds:.1f} s, fix (first run): {result.fix_seconds:.1f} s (summed over processes)",
        f"crashes: {len(result.crashes)}",
        *(f"  {crash}" for crash in result.crashes),
        f"files changed by --fix --unsafe-fixes: {result.fixed_files}",
        f"fixes that do not compile: {len(result.bad_fixes)}",
        *(f"  {path}" for path in result.bad_fixes),
        f"fixes changed again by a second run: {len(result.not_idempotent)}",
        *(f"  {path}" for path in result.not_idempotent),
        "findings per code:",
        *(f"  {code}: {count}" for code, count in sorted(result.findings.items())),
        "fixes declined:",
        *(f"  {reason}: {count}" for reason, count in sorted(result.notes.items())),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tree", type=Path, help="a site-packages folder, or any tree of .py files")
    parser.add_argument("--chunk", type=int, default=1000, help="files per txlint process (default: 1000)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="txlint processes at once")
    parser.add_argument("--work", type=Path, help="where to copy the tree for --fix (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="also write the result as JSON")
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="txlint-sweep-"))
    start = time.perf_counter()
    result = sweep(args.tree.resolve(), work / "tree", args.chunk, args.workers)
    print(report(result, args.tree))
    print(f"wall time: {time.perf_counter() - start:.1f} s; fixed copy in {work / 'tree'}")
    if args.json:
        args.json.write_text(json.dumps(result.__dict__, indent=2, default=str) + "\n")
    sys.exit(1 if result.crashes or result.bad_fixes or result.not_idempotent else 0)


if __name__ == "__main__":
    main()
