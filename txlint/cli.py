"""`txlint [PATHS]`: the command-line adapter. It owns all file access and all output.

Exit status: 0 nothing found; 1 findings (files that could not be read, decoded, parsed
or written are TXL000 findings), or internal errors while other files were checked; 2
usage or configuration errors, or nothing could be checked at all (see `exit_status`).
"""

from __future__ import annotations

import argparse
import difflib
import errno
import io
import os
import stat
import sys
import tempfile
import tokenize
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from txlint import __version__, signals
from txlint.cache import (
    CACHE_DIR_ENV, CACHE_DIR_NAME, Entry, Stamp, Store, content_hash, default_cache_dir, digest, remembered_stamps, stamp_of,
)
from txlint.collector import fewer_collections
from txlint.config import Config, ConfigError, config_for_directory, config_for_file, with_overrides
from txlint.diagnostics import PARSE_ERROR, Diagnostic, Fix, FixSafety
from txlint.discovery import DEFAULT_EXCLUDES, discover, remembered_walks
from txlint.formats import FORMATS, Reported, formatter
from txlint.parallel import Inherited, Workers
from txlint.paths import module_name_for
from txlint.project import forget_roots, plain_settings, project_facts, project_root, project_root_of
from txlint.registry import all_rules, rule_for, rules_of, selected_codes
from txlint.settings import Settings

if TYPE_CHECKING:
    from txlint.rule import Rule

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
PACKAGE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class FileReport:
    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    source: str | None = None
    fixed: str | None = None
    # For SARIF: the file after each diagnostic's own fix, aligned with `diagnostics`.
    previews: list[str | None] | None = None
    fixes_applied: int = 0
    diff: str = ""
    error: str | None = None


def _codes(value: str) -> list[str]:
    return [code.strip().upper() for code in value.split(",") if code.strip()]


def _patterns(value: str) -> list[str]:
    return [pattern for pattern in value.split(",") if pattern]


def _jobs(value: str) -> int:
    jobs = int(value)
    if jobs < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return jobs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="txlint",
        description="Find transaction-safety bugs in Django code: jobs dispatched before the commit, "
        "swallowed database errors, closures over loop variables.",
    )
    parser.add_argument("paths", nargs="*", help="files or folders to check (default: .)")
    parser.add_argument("--select", type=_codes, help="codes or prefixes to report, comma-separated (replaces the default)")
    parser.add_argument("--extend-select", type=_codes, help="codes or prefixes to report in addition")
    parser.add_argument("--ignore", type=_codes, help="codes or prefixes not to report")
    parser.add_argument("--strict", action="store_true", default=None, help="also run the opt-in rules")
    parser.add_argument("--exclude", type=_patterns, help="patterns to skip (replaces the defaults)")
    parser.add_argument("--extend-exclude", type=_patterns, help="patterns to skip in addition")
    parser.add_argument("--no-respect-gitignore", dest="respect_gitignore", action="store_false", default=None)
    parser.add_argument("--disable-noqa", action="store_true", help="report findings on `# noqa` lines too")
    parser.add_argument("--fix", action="store_true", help="apply safe fixes")
    parser.add_argument("--unsafe-fixes", action="store_true", help="with --fix or --diff, apply unsafe fixes too")
    parser.add_argument("--diff", action="store_true", help="print the fixes as a unified diff; write nothing")
    parser.add_argument("--format", choices=sorted(FORMATS), default="text", help="output format (default: text)")
    parser.add_argument("--output-file", metavar="PATH", help="write the findings to PATH instead of standard output")
    parser.add_argument("--changed-since", metavar="REF", help="check only files changed since a git ref (and untracked ones)")
    parser.add_argument("--stdin-filename", metavar="NAME", help="read the source from standard input, as if it were NAME")
    parser.add_argument(
        "--jobs", "-j", type=_jobs, default=os.cpu_count() or 1, metavar="N",
        help="check files in N processes (default: the number of CPUs)",
    )  # fmt: skip
    parser.add_argument("--no-cache", action="store_true", help="read and check every file; neither read nor write the cache")
    parser.add_argument(
        "--cache-dir", metavar="DIR",
        help=f"where the cache lives (default: ${CACHE_DIR_ENV}, else {CACHE_DIR_NAME} in the project folder)",
    )  # fmt: skip
    parser.add_argument("--verbose", "-v", action="store_true", help="say on standard error how much the cache answered")
    parser.add_argument("--list-rules", action="store_true", help="list every rule and exit")
    parser.add_argument("--explain", metavar="CODE", help="print a rule's documentation and exit")
    parser.add_argument("--version", action="version", version=f"txlint {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list_rules:
        print(_rule_table())
        return EXIT_CLEAN
    if args.explain:
        rule = rule_for(args.explain)
        if rule is None:
            print(f"txlint: error: unknown rule code {args.explain!r}", file=sys.stderr)
            return EXIT_ERROR
        print(f"# {rule.code} {rule.summary} ({rule.name})\n\n{rule.documentation()}")
        return EXIT_CLEAN
    try:
        with signals.handled(), fewer_collections():
            return _run(args)
    except (ConfigError, UsageError) as error:
        print(f"txlint: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except signals.Interrupted as interruption:
        print(f"txlint: {interruption}; no file was left half-written", file=sys.stderr)
        return 128 + interruption.signum


def _rule_table() -> str:
    rows = []
    for rule in all_rules():
        fix = rule.fix_safety.value if rule.fix_safety else "none"
        default = "opt-in" if rule.opt_in else "default"
        rows.append(f"{rule.code}  {rule.name:<36} {default:<8} fix: {fix:<7} {rule.summary}")
    return "\n".join(rows)


def _run(args: argparse.Namespace) -> int:
    args.cache_dir = _cache_dir(args)
    if args.stdin_filename:
        return _run_stdin(args)
    forget_roots()
    _directory_context.cache_clear()
    with remembered_walks(), remembered_stamps():
        return _run_paths(args)


def _run_paths(args: argparse.Namespace) -> int:
    paths = args.paths or ["."]
    missing = [path for path in paths if not os.path.exists(path)]
    for path in missing:
        print(f"txlint: error: {path}: no such file or directory", file=sys.stderr)
    base = _effective_config(config_for_file(os.path.join(os.getcwd(), "-")), args)
    excludes = [*(base.exclude if base.exclude is not None else DEFAULT_EXCLUDES), *base.extend_exclude]
    unreadable: list[tuple[str, OSError]] = []
    found = discover(
        [p for p in paths if os.path.exists(p)], excludes, base.respect_gitignore, _collect(unreadable), args.cache_dir
    )
    files = sorted(set(found))
    if args.changed_since:
        files = [path for path in files if os.path.abspath(path) in changed_files(args.changed_since)]
    reports = check_files(files, args)
    if args.fix and any(report.fixes_applied for report in reports):
        _recheck_chained_findings(reports, args)
    _output(reports, args)
    internal_errors = [report for report in reports if report.error]
    for report in internal_errors:
        print(f"txlint: error: {report.path}: {report.error}", file=sys.stderr)
    for directory, error in unreadable:
        print(f"txlint: error: {directory}: cannot read directory: {error.strerror or error}", file=sys.stderr)
    return exit_status(reports, usage_error=bool(missing), walk_error=bool(unreadable), diff=args.diff)


# Findings that depend on the project's call chains, which the fixes just written may cut.
CHAINED_CODES = frozenset({"TXL102", "TXL204"})


def _recheck_chained_findings(reports: list[FileReport], args: argparse.Namespace) -> None:
    """After fixes were written, check again the files whose findings follow a call chain.

    A fix in a helper (`transaction.on_commit(...)` around its dispatch) ends the chains
    through it, so a caller's TXL102 computed from the facts before the run is gone.
    """
    stale = [report for report in reports if any(d.code in CHAINED_CODES for d in report.diagnostics)]
    if not stale:
        return
    project_facts.cache_clear()
    _context_of.cache_clear()
    _directory_context.cache_clear()
    lint_only = argparse.Namespace(**{**vars(args), "fix": False, "verbose": False})
    for report, fresh in zip(stale, check_files([report.path for report in stale], lint_only)):
        if fresh.error is None:
            report.diagnostics = fresh.diagnostics


def _collect(problems: list[tuple[str, OSError]]) -> Callable[[str, OSError], None]:
    return lambda path, error: problems.append((path, error))


def exit_status(reports: Sequence[FileReport], usage_error: bool, walk_error: bool, diff: bool) -> int:
    """0 clean; 1 findings, or files or folders that failed while others were checked; 2 usage
    errors, or nothing could be checked at all (every file failed, or no folder could be read).

    Unreadable, undecodable and unparseable files are TXL000 findings, as in flake8 (E902, E999).
    """
    failed = sum(1 for report in reports if report.error)
    if usage_error or (failed == len(reports) and (failed or walk_error)):
        return EXIT_ERROR
    if failed or walk_error:
        return EXIT_FINDINGS
    if diff:
        return EXIT_FINDINGS if any(report.diff for report in reports) else EXIT_CLEAN
    return EXIT_FINDINGS if any(report.diagnostics for report in reports) else EXIT_CLEAN


def _cache_dir(args: argparse.Namespace) -> str | None:
    if args.no_cache:
        return None
    if args.cache_dir:
        return os.path.abspath(str(args.cache_dir))
    return default_cache_dir(project_root(os.path.join(os.getcwd(), "-")))


def _run_stdin(args: argparse.Namespace) -> int:
    """Editors pipe the buffer in: findings name `--stdin-filename`; `--fix` prints the fixed code."""
    data = sys.stdin.buffer.read()
    report = _check_source(args.stdin_filename, data, args, write=False)
    if args.fix and report.fixed is not None:
        sys.stdout.write(report.fixed)
        for reported in _reported([report], args):
            print(formatter("text")([reported]), end="", file=sys.stderr)
    else:
        _output([report], args)
    if report.error:
        print(f"txlint: error: {report.path}: {report.error}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_FINDINGS if report.diagnostics or report.diff else EXIT_CLEAN


def changed_files(ref: str) -> frozenset[str]:
    """Absolute paths of files changed since `ref` (committed or not) plus untracked ones."""
    import subprocess  # 10 ms that a run without --changed-since does without

    def git(arguments: list[str], cwd: str) -> str:
        return subprocess.run(["git", *arguments], cwd=cwd, capture_output=True, text=True, check=True).stdout

    try:
        top = git(["rev-parse", "--show-toplevel"], os.getcwd()).strip()
        names = git(["diff", "--name-only", "--diff-filter=ACMR", ref], top).splitlines()
        names += git(["ls-files", "--others", "--exclude-standard"], top).splitlines()
    except (OSError, subprocess.CalledProcessError) as error:
        raise UsageError(f"--changed-since {ref}: git failed: {error}") from error
    return frozenset(os.path.abspath(os.path.join(top, name)) for name in names if name)


class UsageError(Exception):
    """A request txlint cannot carry out; the CLI exits 2 with this message."""


def _effective_config(config: Config, args: argparse.Namespace) -> Config:
    return with_overrides(config, **dict(_overrides(args)))


def _overrides(args: argparse.Namespace) -> tuple[tuple[str, object], ...]:
    """The command line's configuration values, hashable (None: not given)."""
    return (
        ("select", tuple(args.select) if args.select else None),
        ("ignore", tuple(args.ignore) if args.ignore else None),
        ("extend_select", tuple(args.extend_select) if args.extend_select else None),
        ("strict", args.strict),
        ("exclude", tuple(args.exclude) if args.exclude is not None else None),
        ("extend_exclude", tuple(args.extend_exclude) if args.extend_exclude else None),
        ("respect_gitignore", args.respect_gitignore),
    )


@lru_cache(maxsize=64)
def _rules(codes: tuple[str, ...]) -> tuple[Rule, ...]:
    return tuple(rule() for rule in rules_of(codes))


@dataclass(frozen=True)
class FileContext:
    config: Config
    # The selected rules' codes: a file the cache answers needs no rule.
    codes: tuple[str, ...]
    settings: Settings
    # Everything besides the file's text that its findings depend on.
    key: str

    @property
    def rules(self) -> tuple[Rule, ...]:
        return _rules(self.codes)


def _context(path: str, args: argparse.Namespace, absolute: str | None = None) -> FileContext:
    directory = os.path.dirname(absolute or os.path.abspath(path))
    return _directory_context(directory, _overrides(args), args.cache_dir, not args.disable_noqa, args.jobs)


@lru_cache(maxsize=4096)
def _directory_context(
    directory: str, overrides: tuple[tuple[str, object], ...], cache_dir: str | None, respect_noqa: bool, jobs: int
) -> FileContext:
    """A file's context depends on its folder only (configuration and project are found from there)."""
    config = with_overrides(config_for_directory(directory), **dict(overrides))
    return _context_of(config, project_root_of(directory), cache_dir, respect_noqa, jobs)


@lru_cache(maxsize=256)
def _context_of(config: Config, root: str, cache_dir: str | None, respect_noqa: bool, jobs: int) -> FileContext:
    codes = selected_codes(config.select, config.ignore, config.extend_select, config.strict)
    settings = project_facts(root, cache_dir, jobs).applied_to(config.settings)
    key = digest(
        __version__,
        codes,
        plain_settings(settings),
        config.per_file_ignores,
        config.source,
        respect_noqa,
    )
    return FileContext(config, codes, settings, key)


def check_files(files: list[str], args: argparse.Namespace) -> list[FileReport]:
    """A report per file, in order: from the cache where it can answer, else checked (in parallel)."""
    store = Store.open(args.cache_dir if _cacheable(args) else None, "results")
    reports: list[FileReport | None] = [None] * len(files)
    pending: list[tuple[int, Pending]] = []
    cwd = os.getcwd()  # os.path.abspath asks for it again at every call
    for position, path in enumerate(files):
        absolute = os.path.normpath(os.path.join(cwd, path))
        found = _lookup(store, path, absolute, _context(path, args, absolute), args)
        if isinstance(found, Pending):
            pending.append((position, found))
        else:
            reports[position] = found
    store.reads += len(pending)
    for (position, job), checked in zip(pending, _check_all(store, [job for _, job in pending], args)):
        report = reports[position] = checked.report
        absolute = os.path.abspath(job.path)
        if checked.content is None:
            continue
        if checked.reused is not None:
            store.hits += 1
            store.record(absolute, job.stamp, checked.content, checked.reused)
        elif report.error is None and report.fixed is None:
            value = (_context(job.path, args).key, [_plain(d) for d in report.diagnostics])
            store.record(absolute, job.stamp, checked.content, value)
    warning = store.save()
    if warning is not None:
        print(f"txlint: warning: {warning}", file=sys.stderr)
    if args.verbose:
        _print_statistics(files, store, args)
    return [report for report in reports if report is not None]


def _print_statistics(files: list[str], store: Store, args: argparse.Namespace) -> None:
    for root in sorted({project_root(path) for path in files}):
        facts = project_facts(root, args.cache_dir, args.jobs)
        print(f"txlint: project {root}: {facts.files} file(s) indexed, {facts.read} read, {facts.parsed} parsed", file=sys.stderr)
    print(f"txlint: {len(files)} file(s) checked: {store.hits} answered by the cache, {store.reads} read", file=sys.stderr)


@dataclass(frozen=True)
class Pending:
    """A file the cache could not vouch for by its stamp: to read (by a worker)."""

    path: str
    stamp: Stamp | None


@dataclass(frozen=True)
class Checked:
    report: FileReport
    # The file's content hash; None if it could not be read.
    content: str | None
    # The cache's value when the file was only touched (same content) and checked alike before.
    reused: Any = None


def _lookup(store: Store, path: str, absolute: str, context: FileContext, args: argparse.Namespace) -> FileReport | Pending:
    """The cache's report when the file (at `absolute`), unchanged by its stamp, was checked alike before."""
    stamp = stamp_of(absolute)
    entry = store.fresh(absolute, stamp)
    cached = _cached_report(path, entry, context, args) if entry is not None else None
    if cached is not None:
        store.hits += 1
        return cached
    return Pending(path, stamp)


@dataclass(frozen=True)
class _Checker:
    """Reads and checks a pending file, unless it was only touched and checked alike before
    (a worker that was not forked has no store: there it checks the file again, alike)."""

    store: Inherited[Store]
    args: argparse.Namespace

    def __call__(self, job: Pending) -> Checked:
        path, args = job.path, self.args
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            return Checked(FileReport(path, [_file_error(f"cannot read file: {_read_problem(path, error)}")]), None)
        content = content_hash(data)
        store = self.store.value
        entry = store.matching(os.path.abspath(path), content) if store is not None else None
        cached = _cached_report(path, entry, _context(path, args), args) if entry is not None else None
        if entry is not None and cached is not None:
            return Checked(cached, content, entry.value)
        return Checked(_checked(path, data, args), content)


def _cacheable(args: argparse.Namespace) -> bool:
    """SARIF shows each fix's result, which only a parse gives: it always checks."""
    return args.cache_dir is not None and args.format != "sarif"


def _cached_report(path: str, entry: Entry, context: FileContext, args: argparse.Namespace) -> FileReport | None:
    key, plain = entry.value
    if key != context.key:
        return None
    diagnostics = [_from_plain(item) for item in plain]
    if (args.fix or args.diff) and any(_fixable(d, args.unsafe_fixes) for d in diagnostics):
        return None
    return FileReport(path, diagnostics)


def _fixable(diagnostic: Diagnostic, unsafe: bool) -> bool:
    safety = diagnostic.fix_safety
    return safety is FixSafety.SAFE or (unsafe and safety is FixSafety.UNSAFE)


PlainDiagnostic = tuple[str, str, int, int, int, int, str | None, str | None, str | None]


def _plain(diagnostic: Diagnostic) -> PlainDiagnostic:
    d, fix = diagnostic, diagnostic.fix
    title, safety = (fix.title, fix.safety.value) if fix else (None, None)
    return (d.code, d.message, d.line, d.column, d.end_line, d.end_column, title, safety, d.no_fix_reason)


def _from_plain(plain: PlainDiagnostic) -> Diagnostic:
    code, message, line, column, end_line, end_column, title, safety, no_fix_reason = plain
    fix = Fix(title, FixSafety(safety), ()) if title is not None and safety is not None else None
    return Diagnostic(code, message, line, column, end_line, end_column, fix, no_fix_reason)


def _check_all(store: Store, jobs: list[Pending], args: argparse.Namespace) -> list[Checked]:
    """Serially, or over a pool of processes; either way the results come in the order of `jobs`."""
    with Workers(args.jobs) as workers:
        return workers.map(_Checker(Inherited(store), args), jobs)


def _checked(path: str, data: bytes, args: argparse.Namespace) -> FileReport:
    report = _check_source(path, data, args, write=not args.diff)
    # Fixes hold parsed trees: what leaves here is plain data (title and safety kept).
    report.diagnostics = [_detached(d) for d in report.diagnostics]
    if args.format != "sarif" or not report.diagnostics:
        report.source = None  # only SARIF's snippets read it: not sent back from the workers
    return report


def _detached(diagnostic: Diagnostic) -> Diagnostic:
    fix = diagnostic.fix
    return replace(diagnostic, fix=Fix(fix.title, fix.safety, ()) if fix is not None else None)


def _read_problem(path: str, error: OSError) -> str:
    if error.errno == errno.ENOENT and os.path.islink(path):
        return "dangling symbolic link"
    return error.strerror or str(error)


def _check_source(path: str, data: bytes, args: argparse.Namespace, write: bool) -> FileReport:
    from txlint.engine import SourceFile, analyse, fix_source  # the engine and the rules: only when a file is checked

    report = FileReport(path)
    try:
        context = _context(path, args)
        config, rules = context.config, context.rules
        try:
            source, encoding = decode_source(data)
        except (SyntaxError, UnicodeDecodeError, LookupError) as error:
            report.diagnostics = [_file_error(f"cannot decode file: {error}")]
            return report
        report.source = source
        module_name, is_package = module_name_for(path)
        source_file = SourceFile(path, module_name, is_package)
        settings = context.settings
        respect_noqa = not args.disable_noqa
        if args.fix or args.diff:
            result = fix_source(source, rules, source_file, settings, args.unsafe_fixes, respect_noqa)
            report.diagnostics = result.remaining
            if result.source != source:
                report.fixes_applied = result.applied
                report.fixed = result.source
                if args.diff:
                    report.diff = "".join(
                        difflib.unified_diff(
                            source.splitlines(keepends=True), result.source.splitlines(keepends=True), path, path
                        )
                    )
                elif write:
                    problem = _write_fixed(path, result.source, encoding, data)
                    if problem is not None:
                        # `fixed` stays set: this report describes a fix attempt, not the file, so it is not cached.
                        report.fixes_applied = 0
                        unfixed = analyse(source, rules, source_file, settings, respect_noqa).diagnostics
                        report.diagnostics = [_file_error(f"cannot write fixes: {problem}"), *unfixed]
            report.diagnostics = [d for d in report.diagnostics if not config.ignores(path, d.code)]
        else:
            # SARIF carries each fix's result, and fixes apply to the whole module.
            analysis = analyse(source, rules, source_file, settings, respect_noqa, full_positions=args.format == "sarif")
            report.diagnostics = [d for d in analysis.diagnostics if not config.ignores(path, d.code)]
            module = analysis.module
            if args.format == "sarif" and module is not None:
                from txlint.rewriting import apply_fixes

                report.previews = [apply_fixes(module, [d.fix]) if d.fix else None for d in report.diagnostics]
    except Exception as error:  # one broken file must not stop the run, but a signal does
        interruption = signals.interruption_behind(error)
        if interruption is not None:
            raise interruption from None
        report.error = internal_error(error)
    return report


def internal_error(error: Exception) -> str:
    """One line for a bug report: the exception and where txlint raised it."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename.startswith(PACKAGE)]
    where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    return f"internal error: {type(error).__name__}: {error}{where}"


def decode_source(data: bytes) -> tuple[str, str]:
    """The text and the encoding to write it back with (PEP 263 coding line, BOM)."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding), encoding


def _file_error(message: str) -> Diagnostic:
    return Diagnostic(PARSE_ERROR, message, 1, 0, 1, 0)


class NotWritten(Exception):
    """A fixed file that txlint must not write; the message says why."""


class ConcurrentModification(NotWritten):
    pass


def _write_fixed(path: str, text: str, encoding: str, original: bytes) -> str | None:
    """Why the fixed text was not written, or None once it is."""
    try:
        _write_atomically(path, text.encode(encoding), original)
    except UnicodeEncodeError:
        return f"the fixed code cannot be encoded in {encoding}"
    except NotWritten as error:
        return str(error)
    except OSError as error:
        return error.strerror or str(error)
    return None


def _write_atomically(path: str, data: bytes, original: bytes) -> None:
    """Replace the file in one rename, keeping its mode; never over someone else's edit.

    A rename ignores the file's own permissions, so a read-only file is refused here.
    Signals wait until the file is replaced or the temporary file is gone.
    """
    directory = os.path.dirname(os.path.abspath(path))
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if not mode & 0o222 or not os.access(path, os.W_OK):
        raise NotWritten("the file is read-only")
    with signals.deferred():
        descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".txlint-", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, mode)
            with open(path, "rb") as handle:
                if handle.read() != original:
                    raise ConcurrentModification("the file changed while txlint was fixing it")
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise


def _reported(reports: list[FileReport], args: argparse.Namespace) -> list[Reported]:
    found = []
    for report in reports:
        previews = report.previews or [None] * len(report.diagnostics)
        for diagnostic, preview in zip(report.diagnostics, previews):
            found.append(Reported(report.path, diagnostic, report.source, preview))
    return found


def _output(reports: list[FileReport], args: argparse.Namespace) -> None:
    if args.diff:
        text = "".join(report.diff for report in reports)
    else:
        text = formatter(args.format)(_reported(reports, args))
    if args.output_file:
        with open(args.output_file, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    if args.fix or args.diff:
        print(_fix_summary(reports, args), file=sys.stderr)


def _fix_summary(reports: list[FileReport], args: argparse.Namespace) -> str:
    """`fixed N finding(s) in F file(s); R remaining (X without an applicable fix: counts by
    reason; U need --unsafe-fixes)`."""
    applied = sum(report.fixes_applied for report in reports)
    files = sum(1 for report in reports if report.fixes_applied)
    remaining = [d for report in reports for d in report.diagnostics]
    verb = "would fix" if args.diff else "fixed"
    summary = f"txlint: {verb} {applied} finding(s) in {files} file(s); {len(remaining)} remaining"
    if not remaining:
        return summary
    unsafe = sum(1 for d in remaining if d.fix_safety is FixSafety.UNSAFE and not args.unsafe_fixes)
    reasons = Counter(_why_unfixed(d) for d in remaining if not (d.fix_safety is FixSafety.UNSAFE and not args.unsafe_fixes))
    ranked = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    why = "".join(f"{', ' if i else ': '}{count} {reason}" for i, (reason, count) in enumerate(ranked))
    return summary + f" ({len(remaining) - unsafe} without an applicable fix{why}; {unsafe} need --unsafe-fixes)"


def _why_unfixed(diagnostic: Diagnostic) -> str:
    if diagnostic.code == PARSE_ERROR:
        return "file not parsed"
    if diagnostic.fix is None:
        return diagnostic.no_fix_reason or "no fix offered"
    if diagnostic.fix.safety is FixSafety.DISPLAY_ONLY:
        return "display-only"
    # An applicable fix that is still there: its output did not compile, or the rounds ran out.
    return "fix not applied"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
