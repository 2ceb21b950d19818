"""Benchmark txlint against flake8 on real Django code, in one run.

    python bench/bench.py                       # build the tree from PyPI, 3 repetitions
    python bench/bench.py --tree DIR --repeat 5 # an existing tree

The tree is the source of real Django applications, downloaded from PyPI as wheels
(no dependencies, nothing else from the network) and unpacked under bench/.work/.
Peers run from their own virtual environment, so that "flake8" is flake8 with its
default plugins only. Prints the median wall time of each command and the ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
PACKAGES = ("django", "pretix", "weblate", "wagtail", "django-oscar", "django-cms", "mayan-edms")


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload, no-any-return]


def build_tree(python: Path) -> Path:
    tree = WORK / "tree"
    if tree.exists():
        return tree
    wheels = WORK / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    download = ["download", "--quiet", "--no-deps", "--only-binary", ":all:", "-d", str(wheels)]
    result = run([str(python), "-m", "pip", *download, *PACKAGES])
    if result.returncode != 0:
        sys.exit(f"pip download failed:\n{result.stderr}")
    for wheel in sorted(wheels.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(tree / wheel.name.split("-")[0])
    return tree


def peers_environment() -> Path:
    environment = WORK / "peers"
    python = environment / "bin" / "python"
    if not python.exists():
        venv.create(environment, with_pip=True)
        result = run([str(python), "-m", "pip", "install", "--quiet", "flake8", "ruff"])
        if result.returncode != 0:
            sys.exit(f"installing peers failed:\n{result.stderr}")
    return environment


def count_lines(tree: Path) -> tuple[int, int]:
    files = lines = 0
    for path in tree.rglob("*.py"):
        files += 1
        with open(path, "rb") as handle:
            lines += handle.read().count(b"\n")
    return files, lines


def median_seconds(command: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = run(command)
        times.append(time.perf_counter() - start)
        if result.returncode not in (0, 1):
            sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, help="lint this tree instead of building one")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    peers = peers_environment()
    tree = args.tree or build_tree(peers / "bin" / "python")
    files, lines = count_lines(tree)
    print(f"tree: {tree} ({files} files, {lines / 1000:.0f}k lines), {args.repeat} repetitions, {os.cpu_count()} CPUs")

    here_bin = Path(sys.executable).parent
    commands = {
        "txlint": [str(here_bin / "txlint"), str(tree)],
        "flake8 --jobs 1 (default plugins)": [str(peers / "bin" / "flake8"), "--jobs", "1", "--exit-zero", str(tree)],
        "flake8 --jobs 1 + txlint plugin": [str(here_bin / "flake8"), "--jobs", "1", "--exit-zero", str(tree)],
        "ruff check --no-cache": [str(peers / "bin" / "ruff"), "check", "--no-cache", "--exit-zero", "--quiet", str(tree)],
    }
    medians = {name: median_seconds(command, args.repeat) for name, command in commands.items()}
    print(f"\n{'command':<38} {'median s':>9} {'ms/kloc':>8}")
    for name, seconds in medians.items():
        print(f"{name:<38} {seconds:9.2f} {seconds * 1e6 / lines:8.1f}")
    flake8 = medians["flake8 --jobs 1 (default plugins)"]
    print("\nratios")
    print(f"  txlint / flake8:                  {medians['txlint'] / flake8:.2f}x  (target <= 0.2x)")
    print(f"  flake8+txlint / flake8 (overhead): {medians['flake8 --jobs 1 + txlint plugin'] / flake8:.2f}x  (target <= 1.2x)")
    print(f"  txlint / ruff:                    {medians['txlint'] / medians['ruff check --no-cache']:.1f}x")


if __name__ == "__main__":
    main()
