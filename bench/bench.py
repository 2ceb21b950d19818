"""Benchmark txlint against its peers on real Django code: every target of issue 6, in one run.

    .ci/venv/bin/python bench/bench.py                        # build the tree from PyPI, 3 repetitions
    .ci/venv/bin/python bench/bench.py --tree DIR --repeat 5  # an existing tree (only read)
    .ci/venv/bin/python bench/bench.py --only warm,edit       # some scenarios (see --help)

Run it with the Python of txlint's environment: that environment's `txlint` and `flake8`
(with the txlint plugin) are measured. The peers (flake8 with its default plugins, pinned
to the versions beside txlint, so the two flake8 runs differ only by the plugin; ruff;
Fixit 2) live in their own environment under bench/.work/. Everything the benchmark
writes is there too: the tree (wheels of Django applications from PyPI, no
dependencies, unpacked; each application is its own project), the copy that the edit
scenario changes, the caches, a sample for Fixit and a generated 500-file project.
Commands run from an empty folder outside the repository, and flake8 and ruff with
--isolated, so no configuration of this repository applies.

Prints the machine, the tree, the median wall time, CPU time (user + system, child
processes included) and peak memory of every command, then each target with its value.
The commands whose ratio is a target run in turn, round after round (txlint --jobs 1
and 2; flake8 with and without the txlint plugin), so that both sides of a ratio see
the machine's drift alike.
"""

from __future__ import annotations

import argparse
import compileall
import operator
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
PACKAGES = ("django", "pretix", "weblate", "wagtail", "django-oscar", "django-cms", "mayan-edms")
# flake8 and its default plugins: the peers' copies are pinned to the versions beside txlint.
FLAKE8_DISTRIBUTIONS = ("flake8", "pyflakes", "pycodestyle", "mccabe")
PEERS = ("ruff", "fixit")
# txlint's index covers a file's project: the nearest folder with such a marker above it.
MARKER = "pyproject.toml"
MARKER_TEXT = "# txlint bench: this folder is one project, as in its own repository\n"
# txlint re-hashes a file modified within 2 s of its cache's last write (git's racy rule).
RACY_SECONDS = 2.1
DISPATCH = re.compile(rb"\.(?:delay|apply_async)\(")
# Text that may make the project index parse a file: kept out of the "plain" edit.
INDEX_WORDS = re.compile(rb"delay|apply_async|send|signal|receiver|connect|task|cache|atomic|on_commit")
PROJECT_LINE = re.compile(r"project .*: (\d+) file\(s\) indexed, (\d+) read, (\d+) parsed")
CHECKED_LINE = re.compile(r"(\d+) file\(s\) checked: (\d+) answered by the cache, (\d+) read")
COMPARE: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, "==": operator.eq}


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float
    rss_mb: float
    stderr: str


@dataclass(frozen=True)
class Check:
    name: str
    value: float
    op: str
    limit: float
    unit: str
    basis: str

    @property
    def met(self) -> bool:
        return COMPARE[self.op](self.value, self.limit)


@dataclass(frozen=True)
class CacheStats:
    """Summed over projects, from `txlint -v`'s standard error."""

    indexed: int
    index_read: int
    parsed: int
    checked: int
    answered: int
    read: int

    def __str__(self) -> str:
        return (
            f"index {self.indexed} files, {self.index_read} read, {self.parsed} parsed; "
            f"check {self.checked} files, {self.answered} from the cache, {self.read} read"
        )


@dataclass(frozen=True)
class Tools:
    txlint: str
    flake8_txlint: str
    flake8: str
    ruff: str
    fixit: str


@dataclass
class Bench:
    tree: Path
    sources: list[tuple[Path, int]]
    tools: Tools
    repeat: int
    fixit_kloc: int
    cwd: str
    env: dict[str, str]
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def timed(
        self, label: str, command: Sequence[str], repeat: int = 0, env: dict[str, str] | None = None,
        before: Callable[[int], None] | None = None,
    ) -> list[Sample]:
        """`repeat` runs of `command` (once per label: scenarios share runs), `before(i)` untimed."""
        if label not in self.samples:
            runs = []
            for index in range(repeat or self.repeat):
                print(f"  {label} [{index + 1}/{repeat or self.repeat}]", file=sys.stderr, flush=True)
                if before is not None:
                    before(index)
                runs.append(measure(command, self.cwd, env or self.env))
            self.samples[label] = runs
        return self.samples[label]

    def alternated(self, runs: Sequence[tuple[str, Sequence[str], dict[str, str] | None]]) -> list[list[Sample]]:
        """The samples of each (label, command, env), the commands run in turn, round after
        round: this machine's speed drifts by 15% within minutes, and a ratio of two commands
        measured in the same rounds sees the same drift on both sides. Every other round
        runs them in the reverse order, so that neither always runs first."""
        missing = [run for run in runs if run[0] not in self.samples]
        for index in range(self.repeat):
            for label, command, env in missing if index % 2 == 0 else reversed(missing):
                print(f"  {label} [{index + 1}/{self.repeat}]", file=sys.stderr, flush=True)
                self.samples.setdefault(label, []).append(measure(command, self.cwd, env or self.env))
        return [self.samples[label] for label, _, _ in runs]

    def once(self, command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        """An untimed run that prepares the next ones (fills a cache)."""
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.cwd, env=self.env)
        if result.returncode not in (0, 1):
            sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
        return result

    def settle(self, command: Sequence[str]) -> None:
        """Let the last changed file become older than the cache, so the next run reads only its own change."""
        time.sleep(RACY_SECONDS)
        self.once(command)


def measure(command: Sequence[str], cwd: str, env: dict[str, str]) -> Sample:
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, cwd=cwd, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    if process.returncode not in (0, 1):
        sys.exit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr[-2000:]}")
    # ru_maxrss is in KiB on Linux: the largest of the process and its waited-for children.
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stderr)


def median(samples: list[Sample], basis: str) -> float:
    return statistics.median(float(getattr(sample, basis)) for sample in samples)


def ratio(numerator: list[Sample], denominator: list[Sample], basis: str) -> float:
    return median(numerator, basis) / median(denominator, basis)


def cache_stats(stderr: str) -> CacheStats:
    projects = [tuple(map(int, found)) for found in PROJECT_LINE.findall(stderr)]
    checked = [tuple(map(int, found)) for found in CHECKED_LINE.findall(stderr)]
    indexed, index_read, parsed = (sum(column) for column in zip(*projects)) if projects else (0, 0, 0)
    files, answered, read = checked[-1] if checked else (0, 0, 0)
    return CacheStats(indexed, index_read, parsed, files, answered, read)


def edited(original: bytes, index: int) -> bytes:
    """Two contents to alternate, each a real change from the one before."""
    newline = b"" if original.endswith(b"\n") or not original else b"\n"
    return original + newline + f"# bench edit {index % 2}\n".encode()


def alternating_edit(path: Path) -> Callable[[int], None]:
    original = path.read_bytes()

    def edit(index: int) -> None:
        path.write_bytes(edited(original, index))

    return edit


def sample_step(sources: list[tuple[Path, int]], lines: int) -> int:
    """Every how many files to take about `lines` lines spread over the whole tree."""
    return max(1, sum(count for _, count in sources) // max(1, lines))


def pick_plain(sources: list[tuple[Path, int]]) -> Path:
    """A mid-size module with nothing the project index looks at."""
    for path, lines in sources:
        if 150 <= lines <= 600 and not INDEX_WORDS.search(path.read_bytes()):
            return path
    return max(sources, key=lambda source: source[1])[0]


def pick_dispatching(sources: list[tuple[Path, int]]) -> Path | None:
    """A module that dispatches a Celery task, which the project index parses: a tasks module first."""
    dispatching = [path for path, _ in sources if DISPATCH.search(path.read_bytes())]
    return min(dispatching, key=lambda path: ("task" not in path.name, str(path))) if dispatching else None


def plugins(version_output: str) -> set[str]:
    """`7.5.0 (mccabe: 0.7.0, pyflakes: 4.1.0) CPython ...` -> {"mccabe: 0.7.0", "pyflakes: 4.1.0"}."""
    found = re.search(r"\((.*?)\)", version_output)
    return {plugin.strip() for plugin in found.group(1).split(",")} if found else set()


def flake8_command(flake8: str, tree: Path) -> list[str]:
    return [flake8, *FLAKE8_ARGUMENTS, str(tree)]


FLAKE8_ARGUMENTS = ("--isolated", "--jobs", "1", "--exit-zero")
# flake8 with the txlint plugin, clocking the plugin's own time in the same process: its
# import, its options (where it indexes the projects) and its checks. Two runs of a
# 3-minute command differ by up to 15% on this machine; a share within one run does not.
PLUGIN_CLOCK = """
import sys, time
start = time.perf_counter()
from txlint.flake8_plugin import Flake8Plugin
own = [time.perf_counter() - start]
run, parse_options = Flake8Plugin.run, Flake8Plugin.parse_options.__func__
def clocked_run(self):
    begin = time.perf_counter()
    found = list(run(self))
    own[0] += time.perf_counter() - begin
    return iter(found)
def clocked_parse_options(cls, options):
    begin = time.perf_counter()
    parse_options(cls, options)
    own[0] += time.perf_counter() - begin
Flake8Plugin.run, Flake8Plugin.parse_options = clocked_run, classmethod(clocked_parse_options)
from flake8.main.cli import main
try:
    main(sys.argv[1:])
finally:
    print(f"txlint plugin: {own[0]:.3f} s of its own", file=sys.stderr)
"""
OWN_TIME = re.compile(r"txlint plugin: ([\d.]+) s of its own")


def own_share(samples: list[Sample]) -> float:
    """The median of the plugin's own time over the rest of its run: 1 + its share."""
    shares = []
    for sample in samples:
        found = OWN_TIME.search(sample.stderr)
        own = float(found.group(1)) if found else float("nan")
        shares.append(sample.wall / (sample.wall - own))
    return statistics.median(shares)


def cold_txlint(bench: Bench, jobs: int) -> list[Sample]:
    """Cold txlint with `jobs` processes; --jobs 1 and 2 are measured together (`alternated`)."""
    runs = [
        (f"txlint --no-cache --jobs {count}", [bench.tools.txlint, "--no-cache", "--jobs", str(count), str(bench.tree)], None)
        for count in (1, 2)
    ]
    return bench.alternated(runs)[jobs - 1]


def flake8_runs(bench: Bench) -> tuple[list[Sample], list[Sample]]:
    """flake8 with its default plugins, and with the txlint plugin, measured together (`alternated`)."""
    # No txlint cache: like flake8 itself, the plugin starts from nothing (its index included).
    env = {**bench.env, "TXLINT_NO_CACHE": "1"}
    plugin_clock = [sys.executable, "-c", PLUGIN_CLOCK]
    plain, with_txlint = bench.alternated([
        ("flake8 --jobs 1 (default plugins)", flake8_command(bench.tools.flake8, bench.tree), None),
        ("flake8 --jobs 1 + txlint plugin (no cache)", [*plugin_clock, *FLAKE8_ARGUMENTS, str(bench.tree)], env),
    ])  # fmt: skip
    return plain, with_txlint


def peer_flake8(bench: Bench) -> list[Sample]:
    return flake8_runs(bench)[0]


def scenario_cold(bench: Bench) -> list[Check]:
    txlint, flake8 = cold_txlint(bench, 1), peer_flake8(bench)
    ruff = [bench.tools.ruff, "check", "--isolated", "--no-cache", "--exit-zero", "--quiet", str(bench.tree)]
    bench.timed("ruff check --no-cache (for reference)", ruff)
    return [
        Check("cold txlint --jobs 1 / flake8 --jobs 1", ratio(txlint, flake8, "wall"), "<=", 0.2, "x", "wall"),
        Check("cold txlint --jobs 1 / flake8 --jobs 1", ratio(txlint, flake8, "cpu"), "<=", 0.2, "x", "CPU"),
    ]


def scenario_memory(bench: Bench) -> list[Check]:
    peak = max(sample.rss_mb for sample in cold_txlint(bench, 1))
    return [Check("peak memory of cold txlint --jobs 1", peak, "<", 300, " MB", "max RSS")]


def scenario_jobs(bench: Bench) -> list[Check]:
    one, two = cold_txlint(bench, 1), cold_txlint(bench, 2)
    return [Check("cold txlint: --jobs 2 speed-up over --jobs 1", ratio(one, two, "wall"), ">=", 1.7, "x", "wall")]


def scenario_plugin(bench: Bench) -> list[Check]:
    plain, with_txlint = flake8_runs(bench)
    return [
        Check("flake8 + txlint plugin / flake8 (overhead)", ratio(with_txlint, plain, "wall"), "<=", 1.2, "x", "wall"),
        Check("flake8 + txlint plugin / flake8 (overhead)", ratio(with_txlint, plain, "cpu"), "<=", 1.2, "x", "CPU"),
        Check("flake8 + txlint plugin / its run less the plugin's time", own_share(with_txlint), "<=", 1.2, "x", "in-run"),
    ]


def scenario_fixit(bench: Bench) -> list[Check]:
    total = sum(lines for _, lines in bench.sources)
    step = sample_step(bench.sources, bench.fixit_kloc * 1000) if bench.fixit_kloc else 1
    chosen = bench.sources[::step]
    lines = sum(count for _, count in chosen)
    if step == 1:
        where, txlint, label = bench.tree, cold_txlint(bench, 1), "fixit lint (once)"
        bench.notes.append(f"fixit: ran once on the whole tree ({total / 1000:.0f}k lines)")
    else:
        where = copy_sources(bench.tree, [path for path, _ in chosen], WORK / "fixit-sample")
        command = [bench.tools.txlint, "--no-cache", "--jobs", "1", str(where)]
        txlint, label = bench.timed("txlint --no-cache --jobs 1, Fixit's sample", command), "fixit lint (once), its sample"
    fixit = bench.timed(label, [bench.tools.fixit, "lint", str(where)], repeat=1)
    per_kloc = median(fixit, "cpu") * 1000 / lines
    if step > 1:
        bench.notes.append(
            f"fixit: ran once on one file in {step} of the tree ({len(chosen)} files, {lines / 1000:.0f}k lines, "
            f"copied to {where.relative_to(HERE)}; txlint timed on the same copy): {per_kloc:.2f} s CPU "
            f"per 1,000 lines, so about {per_kloc * total / 1000:.0f} s CPU for the whole tree"
        )
    return [Check("Fixit / cold txlint --jobs 1, same files", ratio(fixit, txlint, "cpu"), ">=", 20, "x", "CPU")]


def scenario_warm(bench: Bench) -> list[Check]:
    cache = fresh_folder(WORK / "cache" / "warm")
    txlint = [bench.tools.txlint, "--cache-dir", str(cache / "txlint"), str(bench.tree)]
    ruff = [bench.tools.ruff, "check", "--isolated", "--exit-zero", "--quiet", "--cache-dir", str(cache / "ruff")]
    ruff.append(str(bench.tree))
    bench.notes.append(f"warm: the run filling txlint's cache: {cache_stats(bench.once([*txlint, '-v']).stderr)}")
    bench.once(ruff)
    warm_txlint = bench.timed("txlint, cache warm", txlint)
    warm_ruff = bench.timed("ruff check, cache warm", ruff)
    return [Check("warm txlint / warm ruff", ratio(warm_txlint, warm_ruff, "wall"), "<=", 1.5, "x", "wall")]


def scenario_edit(bench: Bench) -> list[Check]:
    copy = copy_tree(bench.tree, WORK / "tree-edit")
    sources = [(copy / path.relative_to(bench.tree), lines) for path, lines in bench.sources]
    command = [bench.tools.txlint, "-v", "--cache-dir", str(fresh_folder(WORK / "cache" / "edit")), str(copy)]
    dispatching = pick_dispatching(sources)
    if dispatching is None:
        bench.notes.append("edit: no module of the tree dispatches a Celery task: no edit of one")
    targets = [("a plain module", pick_plain(sources)), *([("a dispatching module", dispatching)] if dispatching else [])]
    bench.once(command)
    checks = []
    for kind, path in targets:
        samples = edit_runs(bench, f"txlint, cache warm, {kind} changed", command, path, copy)
        checks.append(Check(f"warm, {kind} changed: txlint on the tree", median(samples, "wall"), "<", 1.0, " s", "wall"))
    return checks


def scenario_index(bench: Bench) -> list[Check]:
    project = generate_project(WORK / "project500", quiet=496)
    command = [bench.tools.txlint, "-v", "--cache-dir", str(fresh_folder(WORK / "cache" / "index")), str(project)]
    findings = [line for line in bench.once(command).stdout.splitlines() if "TXL102" in line]
    bench.notes.append(f"index: the 500-file project's finding: {findings[0] if findings else 'NONE (expected TXL102)'}")
    checks = []
    for kind, name in (("a quiet module", "module_123.py"), ("the dispatching helper", "notify.py")):
        samples = edit_runs(bench, f"500-file project, {kind} changed", command, project / "shop" / name, project)
        stats = cache_stats(samples[-1].stderr)
        checks.append(Check(f"500 files, {kind} changed: check re-read", stats.read, "==", 1, " file", "-v"))
        checks.append(Check(f"500 files, {kind} changed: index re-read", stats.index_read, "==", 1, " file", "-v"))
    return checks


def edit_runs(bench: Bench, label: str, command: Sequence[str], path: Path, root: Path) -> list[Sample]:
    bench.settle(command)
    samples = bench.timed(label, command, before=alternating_edit(path))
    bench.notes.append(f"{label}: {path.relative_to(root)}; last run: {cache_stats(samples[-1].stderr)}")
    return samples


SCENARIOS: dict[str, tuple[str, Callable[[Bench], list[Check]]]] = {
    "cold": ("txlint --no-cache --jobs 1 vs flake8 --jobs 1 (and ruff, for reference)", scenario_cold),
    "memory": ("peak memory of cold txlint --jobs 1", scenario_memory),
    "jobs": ("txlint --no-cache --jobs 2 vs --jobs 1", scenario_jobs),
    "plugin": ("flake8 + txlint plugin vs flake8 with its default plugins", scenario_plugin),
    "fixit": ("Fixit 2 (fixit lint, default rules, once, on a sample) vs cold txlint", scenario_fixit),
    "warm": ("txlint with a warm cache vs ruff check with a warm cache", scenario_warm),
    "edit": ("one file changed after a warm run (a copy of the tree)", scenario_edit),
    "index": ("a generated 500-file project: one file changed, what is re-read", scenario_index),
}


# Files -----------------------------------------------------------------------------------


def fresh_folder(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def mark_project(folder: Path) -> None:
    if not (folder / MARKER).exists():
        (folder / MARKER).write_text(MARKER_TEXT)


def copy_tree(tree: Path, target: Path) -> Path:
    """All of `tree` with its times (the walk over non-Python files costs too), one project at least."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(tree, target, symlinks=True)
    mark_project(target)
    return target


def copy_sources(tree: Path, files: list[Path], target: Path) -> Path:
    """`files` of `tree` and its project markers, with their times, under `target`: one project at least."""
    fresh_folder(target)
    for path in [*files, *tree.glob(f"*/{MARKER}")]:
        destination = target / path.relative_to(tree)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
    mark_project(target)
    return target


def generate_project(root: Path, quiet: int) -> Path:
    """A task, a helper that dispatches it, a service calling the helper in `atomic()`, quiet modules."""
    package = fresh_folder(root) / "shop"
    package.mkdir()
    files = {
        root / MARKER: '[project]\nname = "shop"\n',
        package / "__init__.py": "",
        package / "tasks.py": TASKS,
        package / "notify.py": NOTIFY,
        package / "services.py": SERVICES,
        **{package / f"module_{number:03}.py": QUIET.format(number=number) for number in range(quiet)},
    }
    # Older than any cache write: only what a scenario changes is new.
    past = time.time() - 60
    for path, text in files.items():
        path.write_text(text)
        os.utime(path, (past, past))
    return root


TASKS = '''from celery import shared_task


@shared_task
def send_receipt(order_id):
    return order_id
'''
NOTIFY = '''from shop.tasks import send_receipt


def notify_paid(order):
    send_receipt.delay(order.pk)
'''
SERVICES = '''from django.db import transaction

from shop.notify import notify_paid


def pay(order):
    with transaction.atomic():
        order.paid = True
        order.save()
        notify_paid(order)
'''
QUIET = '''from decimal import Decimal


def total_{number}(items):
    return sum((item.price * item.quantity for item in items), Decimal(0))


class Basket{number}:
    def __init__(self, items):
        self.items = list(items)

    def add(self, item):
        self.items.append(item)

    def total(self):
        return total_{number}(self.items)
'''


# Setup -----------------------------------------------------------------------------------


def build_tree(python: Path) -> Path:
    tree = WORK / "tree"
    if not tree.exists():
        wheels = WORK / "wheels"
        wheels.mkdir(parents=True, exist_ok=True)
        download = ["download", "--quiet", "--no-deps", "--only-binary", ":all:", "-d", str(wheels)]
        result = subprocess.run([str(python), "-m", "pip", *download, *PACKAGES], capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"pip download failed:\n{result.stderr}")
        for wheel in sorted(wheels.glob("*.whl")):
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(tree / wheel.name.split("-")[0])
    for application in tree.iterdir():
        mark_project(application)
    return tree


def peers_environment() -> Path:
    environment = WORK / "peers"
    python = environment / "bin" / "python"
    if not python.exists():
        venv.create(environment, with_pip=True)
    pinned = [f"{name}=={metadata.version(name)}" for name in FLAKE8_DISTRIBUTIONS]
    result = subprocess.run([str(python), "-m", "pip", "install", "--quiet", *pinned, *PEERS], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"installing peers failed:\n{result.stderr}")
    return environment


def sources_of(tree: Path) -> list[tuple[Path, int]]:
    """Every .py file of the tree, in order, with its line count."""
    return [(path, path.read_bytes().count(b"\n")) for path in sorted(tree.rglob("*.py"))]


def version(command: Sequence[str]) -> str:
    """The first line of a `--version`, up to its list of plugins."""
    first = subprocess.run(command, capture_output=True, text=True).stdout.strip().splitlines()[0]
    return first.split(")")[0] + ")" if ")" in first else first


def describe_machine(tools: Tools, peers: Path) -> list[str]:
    flake8_txlint, flake8 = version([tools.flake8_txlint, "--version"]), version([tools.flake8, "--version"])
    fixit_libcst = version([str(peers / "bin" / "python"), "-c", "import importlib.metadata as m; print(m.version('libcst'))"])
    lines = [
        f"machine: {os.cpu_count()} CPUs, load average {' '.join(f'{load:.1f}' for load in os.getloadavg())}, "
        f"{platform.platform()}, {platform.python_implementation()} {platform.python_version()}",
        f"{version([tools.txlint, '--version'])}, libcst {metadata.version('libcst')}",
        f"flake8 beside txlint: {flake8_txlint}",
        f"flake8 (peers):       {flake8}",
        f"{version([tools.ruff, '--version'])}, {version([tools.fixit, '--version'])} "
        f"(libcst {fixit_libcst})",
    ]
    extra = plugins(flake8_txlint) ^ plugins(flake8)
    if {plugin.split(":")[0] for plugin in extra} != {"txlint"}:
        lines.append(f"WARNING: the two flake8 differ by more than the txlint plugin: {sorted(extra)}")
    return lines


def tools_of(peers: Path) -> Tools:
    here = Path(sys.executable).parent
    if not (here / "txlint").exists():
        sys.exit(f"no txlint beside {sys.executable}: run this script with the Python of txlint's environment")
    return Tools(str(here / "txlint"), str(here / "flake8"), *(str(peers / "bin" / name) for name in ("flake8", "ruff", "fixit")))


# Output ----------------------------------------------------------------------------------


def samples_table(samples: dict[str, list[Sample]]) -> list[str]:
    rows = [f"{'command':<58} {'runs':>4} {'wall s':>8} {'CPU s':>8} {'peak MB':>8}"]
    for label, runs in samples.items():
        peak = max(sample.rss_mb for sample in runs)
        rows.append(f"{label:<58} {len(runs):>4} {median(runs, 'wall'):8.2f} {median(runs, 'cpu'):8.2f} {peak:8.0f}")
    return rows


def checks_table(checks: list[Check]) -> list[str]:
    rows = [f"{'target':<58} {'basis':>7} {'measured':>10} {'target':>10}"]
    for check in checks:
        measured, target = f"{check.value:.3g}{check.unit}", f"{check.op} {check.limit:g}{check.unit}"
        rows.append(f"{check.name:<58} {check.basis:>7} {measured:>10} {target:>10}  {'met' if check.met else 'MISSED'}")
    return rows


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    scenarios = "\n".join(f"  {name:<7} {description}" for name, (description, _) in SCENARIOS.items())
    parser = argparse.ArgumentParser(
        description=__doc__, epilog=f"scenarios:\n{scenarios}", formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tree", type=Path, help="lint this tree instead of building one (it is only read)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each timed command (default: 3)")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios (default: all)")
    parser.add_argument(
        "--fixit-kloc", type=int, default=50, help="Fixit runs on a sample of about this many thousand lines; 0: the whole tree"
    )
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))} (choose from {', '.join(SCENARIOS)})")
    return args


def byte_compiled_txlint() -> str:
    """Compile txlint's modules as pip does when it installs a wheel (the peers' were, at
    install): an editable install under PYTHONDONTWRITEBYTECODE would compile them on every run."""
    import txlint

    package = Path(txlint.__file__).parent
    compileall.compile_dir(str(package), quiet=1)
    return f"txlint's modules byte-compiled in {package} (as a wheel install has them)"


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_arguments(argv)
    peers = peers_environment()
    tools = tools_of(peers)
    tree = (args.tree or build_tree(peers / "bin" / "python")).resolve()
    sources = sources_of(tree)
    print("\n".join(describe_machine(tools, peers)))
    lines = sum(count for _, count in sources)
    print(f"tree: {tree}: {len(sources)} files, {lines / 1000:.0f}k lines; {args.repeat} repetitions")
    env = {name: value for name, value in os.environ.items() if not name.startswith("TXLINT_")}
    print(byte_compiled_txlint())
    with tempfile.TemporaryDirectory(prefix="txlint-bench-") as cwd:
        bench = Bench(tree, sources, tools, args.repeat, args.fixit_kloc, cwd, env)
        checks = [check for name in SCENARIOS if name in args.only.split(",") for check in SCENARIOS[name][1](bench)]
    print("\nmedians (CPU: user + system, children included; peak: max RSS of the largest process)")
    print("\n".join(samples_table(bench.samples)))
    print("\ntargets")
    print("\n".join(checks_table(checks)))
    print("\nnotes")
    print("\n".join(f"  {note}" for note in bench.notes))


if __name__ == "__main__":
    main()
