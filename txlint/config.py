"""Configuration files: `[tool.txlint]` in pyproject.toml, `[txlint]` in setup.cfg.

Each file uses the nearest configuration above it (as ruff does), so a project's
settings apply wherever txlint is started from, and the flake8 plugin sees the same.
Unknown keys are errors: a misspelt option must not be silently ignored.
"""

from __future__ import annotations

import configparser
import fnmatch
import os
import sys
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from txlint.settings import Settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

LIST_KEYS = frozenset(
    {"select", "ignore", "extend_select", "exclude", "extend_exclude",
     "dispatchers", "atomic_contexts", "read_only_databases", "logger_names"}  # fmt: skip
)
BOOL_KEYS = frozenset({"strict", "respect_gitignore", "atomic_requests"})
MAPPING_KEYS = frozenset({"per_file_ignores"})


class ConfigError(Exception):
    """A configuration file txlint cannot use; the CLI exits 2 with this message."""


@dataclass(frozen=True)
class Config:
    source: str | None = None
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    exclude: tuple[str, ...] | None = None
    extend_exclude: tuple[str, ...] = ()
    strict: bool = False
    respect_gitignore: bool = True
    # (glob relative to the configuration's folder, code prefixes ignored there)
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    settings: Settings = field(default_factory=Settings)

    def ignores(self, path: str, code: str) -> bool:
        """Whether `per-file-ignores` silences `code` in `path`."""
        if not self.per_file_ignores:
            return False
        base = os.path.dirname(self.source) if self.source else os.getcwd()
        relative = os.path.relpath(os.path.abspath(path), base).replace(os.sep, "/")
        return any(
            (fnmatch.fnmatch(relative, glob) or fnmatch.fnmatch(os.path.basename(path), glob))
            and code.startswith(prefixes)
            for glob, prefixes in self.per_file_ignores
        )


def _as_list(key: str, value: Any, source: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part.strip() for part in value.replace("\n", ",").split(",")]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{source}: `{key}` must be a list of strings")
    return tuple(item for item in value if item)


def _as_bool(key: str, value: Any, source: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "false", "no", "0"):
        return value.strip().lower() in ("true", "yes", "1")
    raise ConfigError(f"{source}: `{key}` must be true or false")


def _as_per_file_ignores(key: str, value: Any, source: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A TOML table `{"glob" = ["TXL101"]}` or setup.cfg lines `glob: TXL101,TXL105`."""
    if isinstance(value, str):
        entries: dict[str, Any] = {}
        for line in value.splitlines():
            glob, separator, codes = line.rpartition(":")
            if line.strip() and not separator:
                raise ConfigError(f"{source}: `{key}` lines must read `glob: CODES`")
            if glob.strip():
                entries[glob.strip()] = codes
        value = entries
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: `{key}` must map file globs to lists of codes")
    return tuple(
        (glob, tuple(code.upper() for code in _as_list(f"{key}.{glob}", codes, source)))
        for glob, codes in value.items()
    )


def config_from_mapping(raw: dict[str, Any], source: str) -> Config:
    values: dict[str, Any] = {}
    for raw_key, value in raw.items():
        key = raw_key.replace("-", "_")
        if key in MAPPING_KEYS:
            values[key] = _as_per_file_ignores(raw_key, value, source)
        elif key in LIST_KEYS:
            values[key] = _as_list(raw_key, value, source)
        elif key in BOOL_KEYS:
            values[key] = _as_bool(raw_key, value, source)
        else:
            known = ", ".join(sorted(k.replace("_", "-") for k in LIST_KEYS | BOOL_KEYS | MAPPING_KEYS))
            raise ConfigError(f"{source}: unknown option `{raw_key}` (known: {known})")
    settings = Settings(
        dispatchers=frozenset(values.pop("dispatchers", ())),
        atomic_contexts=frozenset(values.pop("atomic_contexts", ())),
        read_only_databases=frozenset(values.pop("read_only_databases", ())),
        logger_names=frozenset(values.pop("logger_names", ())),
        atomic_requests=values.pop("atomic_requests", None),
    )
    return Config(source=source, settings=settings, **values)


def _read_pyproject(path: str) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError:
        return None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from error
    section = data.get("tool", {}).get("txlint")
    if section is not None and not isinstance(section, dict):
        raise ConfigError(f"{path}: [tool.txlint] must be a table")
    return section


def _read_setup_cfg(path: str) -> dict[str, Any] | None:
    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: {error}") from error
    return dict(parser["txlint"]) if parser.has_section("txlint") else None


def read_config_file(path: str) -> Config | None:
    """The txlint section of one file, or None when it has none."""
    raw = _read_setup_cfg(path) if path.endswith(".cfg") else _read_pyproject(path)
    return None if raw is None else config_from_mapping(raw, path)


@lru_cache(maxsize=4096)
def config_for_directory(directory: str) -> Config:
    """The nearest configuration at or above `directory` (defaults when there is none)."""
    for name in ("pyproject.toml", "setup.cfg"):
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            config = read_config_file(candidate)
            if config is not None:
                return config
    parent = os.path.dirname(directory)
    return Config() if parent == directory else config_for_directory(parent)


def config_for_file(path: str) -> Config:
    return config_for_directory(os.path.dirname(os.path.abspath(path)))


def with_overrides(config: Config, **overrides: Any) -> Config:
    """Command-line values win over the file's; None means "not given"."""
    return replace(config, **{key: value for key, value in overrides.items() if value is not None})


def extended_settings(settings: Settings, **extra: tuple[str, ...]) -> Settings:
    """The file's settings plus names given on the command line (flake8 options)."""
    return replace(settings, **{key: getattr(settings, key) | frozenset(names) for key, names in extra.items() if names})
