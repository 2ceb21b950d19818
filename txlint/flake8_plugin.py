"""The flake8 adapter: `flake8 --select TXL`. Same engine, same findings as the CLI.

flake8 handles selection, `# noqa` and output; this plugin only runs the rules. The
opt-in rules are registered as default-ignored codes, so `--extend-select TXL204`
turns one on exactly as for any flake8 plugin. Analysis settings (dispatchers, atomic
contexts, read-only databases) come from the project's txlint configuration, extended
by the `--txlint-*` options.
"""

from __future__ import annotations

import ast
import os
from dataclasses import replace
from collections.abc import Iterable, Iterator
from typing import Any

from txlint import __version__
from txlint.cache import default_cache_dir
from txlint.collector import fewer_collections
from txlint.config import config_for_file, extended_settings
from txlint.diagnostics import Diagnostic
from txlint.engine import SourceFile, lint_source
from txlint.paths import module_name_for
from txlint.project import PROJECT_MARKERS, project_facts, project_root, project_root_of
from txlint.registry import all_rules
from txlint.rules import OPT_IN
from txlint.rule import Rule
from txlint.settings import Settings

OPTIONS = {
    "logger_names": "extra names of logger objects",
    "dispatchers": "qualified names of project functions that enqueue jobs",
    "atomic_contexts": "qualified names of extra context managers/decorators that open a transaction",
    "read_only_databases": "database aliases whose transactions never write",
}


class Flake8Plugin:
    name = "txlint"
    version = __version__
    options: dict[str, tuple[str, ...]] = {}
    atomic_requests = False
    rules: tuple[Rule, ...] = ()
    # The settings of each folder's files, with the project's facts: made once per folder.
    folder_settings: dict[tuple[str, str | None], Settings] = {}

    def __init__(self, tree: ast.Module, filename: str, lines: list[str]) -> None:
        self.tree = tree
        self.filename = filename
        self.lines = lines

    @classmethod
    def add_options(cls, manager: Any) -> None:
        for key, help_text in OPTIONS.items():
            manager.add_option(
                f"--txlint-{key.replace('_', '-')}",
                default="",
                parse_from_config=True,
                comma_separated_list=True,
                help=f"txlint: {help_text}",
            )
        manager.add_option(
            "--txlint-atomic-requests",
            action="store_true",
            parse_from_config=True,
            help="txlint: request handlers run in a transaction (ATOMIC_REQUESTS), whatever the settings say",
        )
        manager.add_option(
            "--txlint-strict",
            action="store_true",
            parse_from_config=True,
            help="txlint: also report the opt-in rules (the strict profile)",
        )
        manager.extend_default_ignore(sorted(OPT_IN))

    @classmethod
    def parse_options(cls, options: Any) -> None:
        cls.folder_settings = {}
        cls.options = {key: tuple(getattr(options, f"txlint_{key}", ()) or ()) for key in OPTIONS}
        cls.atomic_requests = bool(getattr(options, "txlint_atomic_requests", False))
        strict = bool(getattr(options, "txlint_strict", False))
        named = {code.upper() for attribute in ("select", "extend_select") for code in getattr(options, attribute, None) or ()}
        # An explicit `--select TXL` overrides flake8's default ignore, so the opt-in
        # rules stay out unless strict or named by their exact code, as in the CLI.
        cls.rules = tuple(rule() for rule in all_rules() if not rule.opt_in or strict or rule.code in named)
        if strict:
            # flake8 builds its style guide after this call: lifting the default
            # ignore here is how a plugin's profile switch reaches selection.
            options.extended_default_ignore = [c for c in options.extended_default_ignore if c not in OPT_IN]
        if _forks_workers():
            _index_projects(getattr(options, "filenames", None) or ())

    def run(self) -> Iterator[tuple[int, int, str, type[Flake8Plugin]]]:
        # flake8's own code runs with the collector as flake8 set it.
        with fewer_collections():
            diagnostics = self._diagnostics()
        for diagnostic in diagnostics:
            yield diagnostic.line, diagnostic.column, diagnostic.flake8_text(), type(self)

    def _diagnostics(self) -> list[Diagnostic]:
        rules = self.rules or tuple(rule() for rule in all_rules() if not rule.opt_in)
        path = self.filename if self.filename not in ("-", "stdin") else os.path.join(os.getcwd(), "stdin.py")
        module_name, is_package = module_name_for(path)
        source_file = SourceFile(self.filename, module_name, is_package, tree=self.tree)
        return lint_source("".join(self.lines), rules, source_file, self._settings(path))

    def _settings(self, path: str) -> Settings:
        key = (os.path.dirname(os.path.abspath(path)), _cache_dir())
        settings = self.folder_settings.get(key)
        if settings is None:
            configured = extended_settings(config_for_file(path).settings, **self.options)
            if self.atomic_requests:
                configured = replace(configured, atomic_requests=True)
            settings = self.folder_settings[key] = project_facts(project_root(path), key[1]).applied_to(configured)
        return settings


def _forks_workers() -> bool:
    """flake8's worker processes (`--jobs`, on by default) are forked from this one: each
    would otherwise index every project it meets, all of them the same."""
    import multiprocessing

    # Asked without `allow_none`, multiprocessing would fix its start method for the host.
    method = multiprocessing.get_start_method(allow_none=True) or multiprocessing.get_all_start_methods()[0]
    return multiprocessing.parent_process() is None and method == "fork"


def _index_projects(paths: Iterable[str]) -> None:
    """Index the projects of the paths to check now, in the process the workers fork from:
    they inherit the facts (`project_facts` keeps them). A folder given counts only when
    it is in a project with a marker, which its files share but for nested projects;
    these are indexed when their first file is checked, as without this."""
    for path in paths:
        if os.path.isfile(path):
            project_facts(project_root(path), _cache_dir())
        elif os.path.isdir(path):
            root = project_root_of(os.path.abspath(path))
            if any(os.path.exists(os.path.join(root, marker)) for marker in PROJECT_MARKERS):
                project_facts(root, _cache_dir())


def _cache_dir() -> str | None:
    """The CLI's cache: flake8's worker processes load the project index instead of each building it."""
    return default_cache_dir(project_root(os.path.join(os.getcwd(), "-")))
