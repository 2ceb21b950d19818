"""`txlint [PATHS]`: the command-line adapter. It owns all file access and all output.

Exit status: 0 nothing found, 1 findings (or files that could not be read or parsed),
2 usage, configuration or internal error.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import io
import os
import stat
import subprocess
import sys
import tempfile
import tokenize
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from txlint import __version__, signals
from txlint.config import Config, ConfigError, config_for_file, with_overrides
from txlint.diagnostics import Diagnostic, FixSafety
from txlint.discovery import DEFAULT_EXCLUDES, discover
from txlint.engine import PARSE_ERROR, SourceFile, analyse, apply_fixes, fix_source
from txlint.formats import Reported, formatters
from txlint.paths import module_name_for
from txlint.project import project_facts, project_root
from txlint.registry import all_rules, rule_for, selected_rules
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
    parser.add_argument("--format", choices=sorted(formatters()), default="text", help="output format (default: text)")
    parser.add_argument("--output-file", metavar="PATH", help="write the findings to PATH instead of standard output")
    parser.add_argument("--changed-since", metavar="REF", help="check only files changed since a git ref (and untracked ones)")
    parser.add_argument("--stdin-filename", metavar="NAME", help="read the source from standard input, as if it were NAME")
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
        with signals.handled():
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
    if args.stdin_filename:
        return _run_stdin(args)
    paths = args.paths or ["."]
    missing = [path for path in paths if not os.path.exists(path)]
    for path in missing:
        print(f"txlint: error: {path}: no such file or directory", file=sys.stderr)
    base = _effective_config(config_for_file(os.path.join(os.getcwd(), "-")), args)
    excludes = [*(base.exclude if base.exclude is not None else DEFAULT_EXCLUDES), *base.extend_exclude]
    unreadable: list[tuple[str, OSError]] = []
    found = discover([p for p in paths if os.path.exists(p)], excludes, base.respect_gitignore, _collect(unreadable))
    files = sorted(set(found))
    if args.changed_since:
        files = [path for path in files if os.path.abspath(path) in changed_files(args.changed_since)]
    reports = [_check_file(path, args) for path in files]
    _output(reports, args)
    internal_errors = [report for report in reports if report.error]
    for report in internal_errors:
        print(f"txlint: error: {report.path}: {report.error}", file=sys.stderr)
    for directory, error in unreadable:
        print(f"txlint: error: {directory}: cannot read directory: {error.strerror or error}", file=sys.stderr)
    return exit_status(reports, usage_error=bool(missing), walk_error=bool(unreadable), diff=args.diff)


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


def _run_stdin(args: argparse.Namespace) -> int:
    """Editors pipe the buffer in: findings name `--stdin-filename`; `--fix` prints the fixed code."""
    data = sys.stdin.buffer.read()
    report = _check_source(args.stdin_filename, data, args, write=False)
    if args.fix and report.fixed is not None:
        sys.stdout.write(report.fixed)
        for reported in _reported([report], args):
            print(formatters()["text"]([reported]), end="", file=sys.stderr)
    else:
        _output([report], args)
    if report.error:
        print(f"txlint: error: {report.path}: {report.error}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_FINDINGS if report.diagnostics or report.diff else EXIT_CLEAN


def changed_files(ref: str) -> frozenset[str]:
    """Absolute paths of files changed since `ref` (committed or not) plus untracked ones."""
    try:
        top = _git(["rev-parse", "--show-toplevel"], os.getcwd()).strip()
        names = _git(["diff", "--name-only", "--diff-filter=ACMR", ref], top).splitlines()
        names += _git(["ls-files", "--others", "--exclude-standard"], top).splitlines()
    except (OSError, subprocess.CalledProcessError) as error:
        raise UsageError(f"--changed-since {ref}: git failed: {error}") from error
    return frozenset(os.path.abspath(os.path.join(top, name)) for name in names if name)


def _git(arguments: list[str], cwd: str) -> str:
    return subprocess.run(["git", *arguments], cwd=cwd, capture_output=True, text=True, check=True).stdout


class UsageError(Exception):
    """A request txlint cannot carry out; the CLI exits 2 with this message."""


def _effective_config(config: Config, args: argparse.Namespace) -> Config:
    return with_overrides(
        config,
        select=tuple(args.select) if args.select else None,
        ignore=tuple(args.ignore) if args.ignore else None,
        extend_select=tuple(args.extend_select) if args.extend_select else None,
        strict=args.strict,
        exclude=tuple(args.exclude) if args.exclude is not None else None,
        extend_exclude=tuple(args.extend_exclude) if args.extend_exclude else None,
        respect_gitignore=args.respect_gitignore,
    )


@lru_cache(maxsize=64)
def _rules(select: tuple[str, ...], ignore: tuple[str, ...], extend: tuple[str, ...], strict: bool) -> tuple[Rule, ...]:
    return tuple(rule() for rule in selected_rules(select, ignore, extend, strict))


def _check_file(path: str, args: argparse.Namespace) -> FileReport:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        return FileReport(path, [_file_error(f"cannot read file: {_read_problem(path, error)}")])
    return _check_source(path, data, args, write=not args.diff)


def _read_problem(path: str, error: OSError) -> str:
    if error.errno == errno.ENOENT and os.path.islink(path):
        return "dangling symbolic link"
    return error.strerror or str(error)


def _check_source(path: str, data: bytes, args: argparse.Namespace, write: bool) -> FileReport:
    report = FileReport(path)
    try:
        config = _effective_config(config_for_file(path), args)
        rules = _rules(config.select, config.ignore, config.extend_select, config.strict)
        try:
            source, encoding = decode_source(data)
        except (SyntaxError, UnicodeDecodeError, LookupError) as error:
            report.diagnostics = [_file_error(f"cannot decode file: {error}")]
            return report
        report.source = source
        module_name, is_package = module_name_for(path)
        source_file = SourceFile(path, module_name, is_package)
        settings = project_facts(project_root(path)).applied_to(config.settings)
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
                        report.fixed, report.fixes_applied = None, 0
                        unfixed = analyse(source, rules, source_file, settings, respect_noqa).diagnostics
                        report.diagnostics = [_file_error(f"cannot write fixes: {problem}"), *unfixed]
            report.diagnostics = [d for d in report.diagnostics if not config.ignores(path, d.code)]
        else:
            analysis = analyse(source, rules, source_file, settings, respect_noqa)
            report.diagnostics = [d for d in analysis.diagnostics if not config.ignores(path, d.code)]
            module = analysis.module
            if args.format == "sarif" and module is not None:
                report.previews = [apply_fixes(module, [d.fix]) if d.fix else None for d in report.diagnostics]
    except Exception as error:  # one broken file must not stop the run
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
        text = formatters()[args.format](_reported(reports, args))
    if args.output_file:
        with open(args.output_file, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    if args.fix or args.diff:
        print(_fix_summary(reports, args), file=sys.stderr)


def _fix_summary(reports: list[FileReport], args: argparse.Namespace) -> str:
    applied = sum(report.fixes_applied for report in reports)
    files = sum(1 for report in reports if report.fixes_applied)
    remaining = [d for report in reports for d in report.diagnostics]
    unsafe = sum(1 for d in remaining if d.fix_safety is FixSafety.UNSAFE and not args.unsafe_fixes)
    verb = "would fix" if args.diff else "fixed"
    summary = f"txlint: {verb} {applied} finding(s) in {files} file(s); {len(remaining)} remaining"
    if remaining:
        summary += f" ({len(remaining) - unsafe} without an applicable fix, {unsafe} need --unsafe-fixes)"
    return summary


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
