"""Which files a run checks: `.py` files under the given paths, minus excludes and .gitignore.

Excludes apply to what is found while walking; a path named on the command line is
always checked, as in flake8 and ruff.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

DEFAULT_EXCLUDES = (
    ".bzr", ".direnv", ".eggs", ".git", ".hg", ".mypy_cache", ".nox", ".pytest_cache",
    ".ruff_cache", ".svn", ".tox", ".txlint_cache", ".venv", "__pycache__", "__pypackages__",
    "_build", "buck-out", "build", "dist", "node_modules", "venv",
)  # fmt: skip


@dataclass(frozen=True)
class IgnorePattern:
    regex: re.Pattern[str]
    negated: bool
    directory_only: bool


def _translate(glob: str) -> str:
    """A gitignore glob as a regex over `/`-separated paths."""
    out, index = [], 0
    while index < len(glob):
        char = glob[index]
        if glob.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif glob.startswith("/**", index) and index + 3 == len(glob):
            out.append("(?:/.*)?")
            index += 3
        elif glob.startswith("**", index):
            out.append(".*")
            index += 2
        elif char == "*":
            out.append("[^/]*")
            index += 1
        elif char == "?":
            out.append("[^/]")
            index += 1
        elif char == "[" and "]" in glob[index + 1 :]:
            end = glob.index("]", index + 1)
            body = glob[index + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
            index = end + 1
        else:
            out.append(re.escape(char))
            index += 1
    return "".join(out)


def parse_gitignore(text: str) -> list[IgnorePattern]:
    patterns = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if negated or line.startswith("\\"):
            line = line[1:]
        directory_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        body = _translate(line.lstrip("/"))
        regex = re.compile(("^" if anchored else "^(?:.*/)?") + body + "$")
        patterns.append(IgnorePattern(regex, negated, directory_only))
    return patterns


@dataclass(frozen=True)
class IgnoreFile:
    base: str  # the folder holding the .gitignore
    patterns: list[IgnorePattern]

    def _relative(self, path: str) -> str | None:
        """`path` relative to this file's folder, None outside it (string work: the walk's hot path)."""
        prefix = "" if self.base == os.curdir else self.base.rstrip(os.sep) + os.sep
        if os.path.isabs(path) == os.path.isabs(self.base) and path.startswith(prefix):
            return path[len(prefix):].replace(os.sep, "/")
        relative = os.path.relpath(path, self.base).replace(os.sep, "/")
        return None if relative.startswith("..") else relative

    def decision(self, path: str, is_dir: bool) -> bool | None:
        """True ignored, False re-included by `!`, None when no pattern speaks."""
        relative = self._relative(path)
        if relative is None:
            return None
        verdict = None
        for pattern in self.patterns:
            if pattern.directory_only and not is_dir:
                continue
            if pattern.regex.match(relative):
                verdict = not pattern.negated
        return verdict


def _read_ignore_file(directory: str, name: str = ".gitignore") -> IgnoreFile | None:
    path = os.path.join(directory, name)
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return IgnoreFile(directory, parse_gitignore(handle.read()))
    except OSError:
        return None


def _enclosing_ignore_files(directory: str) -> list[IgnoreFile]:
    """The .gitignore files of the folders above `directory`, up to the repository root."""
    found: list[IgnoreFile] = []
    current = os.path.abspath(directory)
    while True:
        parent = os.path.dirname(current)
        if os.path.isdir(os.path.join(current, ".git")) or parent == current:
            info = _read_ignore_file(os.path.join(current, ".git", "info"), "exclude")
            if info is not None:
                found.append(IgnoreFile(current, info.patterns))
            break
        current = parent
        ignore = _read_ignore_file(current)
        if ignore is not None:
            found.append(ignore)
    return list(reversed(found))


def _ignored(path: str, is_dir: bool, ignore_files: Sequence[IgnoreFile]) -> bool:
    verdict = False
    for ignore_file in ignore_files:
        decision = ignore_file.decision(path, is_dir)
        if decision is not None:
            verdict = decision
    return verdict


@dataclass(frozen=True)
class Excludes:
    """Exclude patterns: plain names are a set lookup, globs are matched on name and path."""

    names: frozenset[str]
    globs: tuple[str, ...]

    @classmethod
    def of(cls, patterns: Sequence[str]) -> Excludes:
        is_glob = re.compile(r"[*?\[/]")
        return cls(
            frozenset(p for p in patterns if not is_glob.search(p)),
            tuple(p for p in patterns if is_glob.search(p)),
        )

    def match(self, name: str, relative: str) -> bool:
        if name in self.names:
            return True
        return any(fnmatch.fnmatch(name, glob) or fnmatch.fnmatch(relative, glob) for glob in self.globs)


OnError = Callable[[str, OSError], None]


def _skip(path: str, error: OSError) -> None:
    pass


def discover(
    paths: Sequence[str],
    excludes: Sequence[str] = DEFAULT_EXCLUDES,
    respect_gitignore: bool = True,
    on_error: OnError = _skip,
) -> Iterator[str]:
    """Files to check, in a stable order: named files as given, folders walked.

    Symbolic links to folders are not followed (a link to a parent would loop), links
    to files are. A folder that cannot be listed goes to `on_error` and is skipped.
    """
    for root in paths:
        if not os.path.isdir(root):
            yield root
            continue
        yield from _walk(root, Excludes.of(excludes), respect_gitignore, on_error)


def _walk(root: str, excludes: Excludes, respect_gitignore: bool, on_error: OnError) -> Iterator[str]:
    inherited = _enclosing_ignore_files(root) if respect_gitignore else []
    stack: list[tuple[str, list[IgnoreFile]]] = [(root, inherited)]
    while stack:
        directory, ignore_files = stack.pop()
        if respect_gitignore:
            own = _read_ignore_file(directory)
            if own is not None:
                ignore_files = [*ignore_files, own]
        try:
            entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        except OSError as error:
            on_error(directory, error)
            continue
        subdirectories = []
        folder = os.path.relpath(directory, root).replace(os.sep, "/")
        for entry in entries:
            relative = entry.name if folder == "." else f"{folder}/{entry.name}"
            try:
                is_dir = entry.is_dir()
            except OSError:  # a symbolic link loop: reading it will tell
                is_dir = False
            if excludes.match(entry.name, relative) or _ignored(entry.path, is_dir, ignore_files):
                continue
            if is_dir:
                if not entry.is_symlink():
                    subdirectories.append((entry.path, ignore_files))
            elif entry.name.endswith(".py"):
                yield entry.path
        stack.extend(reversed(subdirectories))
