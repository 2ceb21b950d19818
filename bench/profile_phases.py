"""Where txlint's cold, single-process time goes, phase by phase, in CPU seconds.

    python bench/profile_phases.py corpus/pretix corpus/django   # one project per folder
    python bench/profile_phases.py --strict --exact corpus/*     # exact path, no gates

Each folder is linted as `txlint FOLDER` would (same CLI code path, cold caches), with
the engine's phases wrapped in timers that count exclusive CPU time
(`time.process_time`, robust to other jobs on the machine). Also counts how many lines
reach libcst: the fraction of the code txlint really parses. `--exact` turns the
engine's fast path off (`txlint.engine.FAST_PATH = False`), for before/after figures.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import libcst

from txlint import cli, engine, project
from txlint.discovery import DEFAULT_EXCLUDES, discover
from txlint.registry import all_rules

# Engine functions timed as phases, by attribute name; missing ones are skipped, so the
# script works across versions of the engine.
ENGINE_PHASES = {
    "candidate_rules": "prescan",
    "python_verdict": "ast.parse",
    "Outline": "ast outline",
    "pruned_source": "prune",
    "build_model": "model",
    "positions_of": "positions",
    "all_positions": "positions",
}


INDEX = "index (project facts)"


class Timers:
    """Exclusive CPU time per phase: a phase's time excludes the phases it calls."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self._stack: list[tuple[str, list[float]]] = []

    def inside(self, name: str) -> bool:
        return any(outer == name for outer, _ in self._stack)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.process_time()
        self._stack.append((name, [0.0]))
        try:
            yield
        finally:
            elapsed = time.process_time() - start
            children = self._stack.pop()[1][0]
            self.seconds[name] += elapsed - children
            if self._stack:
                self._stack[-1][1][0] += elapsed

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.phase(name):
                return function(*args, **kwargs)

        return timed


def instrument(timers: Timers) -> None:
    for attribute, phase in ENGINE_PHASES.items():
        if hasattr(engine, attribute):
            setattr(engine, attribute, timers.wrap(phase, getattr(engine, attribute)))
    parse = libcst.parse_module

    def counting_parse(source: str, *args: Any, **kwargs: Any) -> Any:
        where = "index " if timers.inside(INDEX) else ""
        timers.counts[f"{where}libcst files"] += 1
        timers.counts[f"{where}libcst lines"] += sum(1 for line in source.splitlines() if line.strip())
        with timers.phase(f"{where}libcst parse"):
            return parse(source, *args, **kwargs)

    libcst.parse_module = counting_parse  # type: ignore[assignment]
    for rule in all_rules():
        sites = rule.sites

        def timed_sites(self: Any, outline: Any, sites: Callable[..., Any] = sites, code: str = rule.code) -> Any:
            with timers.phase("ast sites (all rules)"):
                found = sites(self, outline)
            timers.counts[f"files gated in: {code}"] += bool(found)
            return found

        rule.sites = timed_sites  # type: ignore[method-assign]
        check = rule.check

        def timed_check(self: Any, django: Any, check: Callable[..., Any] = check, code: str = rule.code) -> Any:
            with timers.phase(f"rule {code}"):
                return list(check(self, django))

        rule.check = timed_check  # type: ignore[method-assign]


def lines_in(paths: list[str]) -> int:
    total = 0
    for path in paths:
        with open(path, "rb") as handle:
            total += sum(1 for line in handle if line.strip())
    return total


def profile(folder: str, strict: bool, timers: Timers) -> dict[str, Any]:
    project.project_facts.cache_clear()
    cli._rules.cache_clear()
    args = cli.build_parser().parse_args([folder, *(["--strict"] if strict else [])])
    files = sorted(discover([folder], DEFAULT_EXCLUDES))
    start = time.process_time()
    with timers.phase(INDEX):
        project.project_facts(project.project_root(files[0])) if files else None
    findings = 0
    with timers.phase("other (read, config, engine glue)"):
        for path in files:
            with open(path, "rb") as handle:
                report = cli._check_source(path, handle.read(), args, write=False)
            findings += len(report.diagnostics)
            if report.error:
                print(f"{path}: {report.error}", file=sys.stderr)
    return {"cpu": time.process_time() - start, "files": len(files), "lines": lines_in(files), "findings": findings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", help="project folders, each linted on its own")
    parser.add_argument("--strict", action="store_true", help="run the opt-in rules too")
    parser.add_argument("--exact", action="store_true", help="turn the engine's fast path off")
    args = parser.parse_args()
    if args.exact:
        engine.FAST_PATH = False
    timers = Timers()
    instrument(timers)
    totals: Counter[str] = Counter()
    print(f"{'project':<16} {'files':>6} {'klines':>7} {'cpu s':>7} {'findings':>8} {'cst klines':>10} {'parsed':>7}")
    for folder in args.folders:
        before = Counter(timers.counts)
        result = profile(folder, args.strict, timers)
        parsed = timers.counts["libcst lines"] - before["libcst lines"]
        totals.update({key: value for key, value in result.items()})
        totals["parsed"] += parsed
        name = os.path.basename(os.path.normpath(folder))
        print(
            f"{name:<16} {result['files']:6d} {result['lines'] / 1000:7.1f} {result['cpu']:7.2f} "
            f"{result['findings']:8d} {parsed / 1000:10.1f} {parsed / max(result['lines'], 1):7.1%}"
        )
    print(
        f"{'total':<16} {totals['files']:6d} {totals['lines'] / 1000:7.1f} {totals['cpu']:7.2f} "
        f"{totals['findings']:8d} {totals['parsed'] / 1000:10.1f} {totals['parsed'] / max(totals['lines'], 1):7.1%}"
    )
    print(f"\n{'phase':<36} {'cpu s':>8} {'share':>6}")
    for name, seconds in timers.seconds.most_common():
        print(f"{name:<36} {seconds:8.2f} {seconds / max(totals['cpu'], 1e-9):6.1%}")
    counts = timers.counts
    print(f"\nlibcst parses while linting: {counts['libcst files']} files, {counts['libcst lines'] / 1000:.1f}k lines")
    print(f"libcst parses in the index:  {counts['index libcst files']} files, {counts['index libcst lines'] / 1000:.1f}k lines")
    gated = sorted(name for name in counts if name.startswith("files gated in"))
    print(", ".join(f"{name.rsplit(' ', 1)[-1]} {counts[name]}" for name in gated) or "no gates")


if __name__ == "__main__":
    main()
