"""Which files a run checks: `.py` files under the given paths, minus excludes and .gitignore.

Excludes apply to what is found while walking; a path named on the command line is
always checked, as in flake8 and ruff.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

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

    def folder(self, directory: str) -> str | None:
        """`directory` relative to this file's folder, `/`-separated ("" for the folder itself); None outside it."""
        relative = os.path.relpath(directory, self.base).replace(os.sep, "/")
        if relative == os.curdir:
            return ""
        return None if relative == os.pardir or relative.startswith(os.pardir + "/") else relative

    @cached_property
    def _any(self) -> re.Pattern[str]:
        """Matches where some pattern does: most paths need no other test."""
        return re.compile("|".join(f"(?:{pattern.regex.pattern})" for pattern in self.patterns) or "(?!)")

    def decision(self, relative: str, is_dir: bool) -> bool | None:
        """For a path relative to this file's folder: True ignored, False re-included by `!`,
        None when no pattern speaks. The last matching pattern wins."""
        if not self._any.match(relative):
            return None
        for pattern in reversed(self.patterns):
            if (is_dir or not pattern.directory_only) and pattern.regex.match(relative):
                return not pattern.negated
        return None


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


# The ignore files that apply in a folder, each with the folder's path relative to its own.
Applying = tuple[tuple[IgnoreFile, str], ...]


def _ignored(name: str, is_dir: bool, applying: Applying) -> bool:
    """The deepest ignore file with a verdict on the entry `name` decides."""
    for ignore_file, folder in reversed(applying):
        decision = ignore_file.decision(f"{folder}/{name}" if folder else name, is_dir)
        if decision is not None:
            return decision
    return False


def _below(applying: Applying, name: str) -> Applying:
    return tuple((ignore_file, f"{folder}/{name}" if folder else name) for ignore_file, folder in applying)


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
        if _walks is None or tuple(excludes) != DEFAULT_EXCLUDES or not respect_gitignore:
            yield from _walk(root, Excludes.of(excludes), respect_gitignore, on_error)
            continue
        found = []
        for path in _walk(root, Excludes.of(excludes), respect_gitignore, on_error):
            found.append(os.path.abspath(path))
            yield path
        _walks[os.path.abspath(root)] = found


# The default walks of the current run (see `remembered_walks`), by folder: what they found.
_walks: dict[str, list[str]] | None = None


@contextmanager
def remembered_walks() -> Iterator[None]:
    """Within the block, `discover` remembers the folders it walks with the default
    excludes, and `files_below` answers from them: the project index lists a project's
    files without walking it again. Forgotten after, so that no later run sees stale files."""
    global _walks
    _walks = {}
    try:
        yield
    finally:
        _walks = None


def files_below(root: str) -> list[str] | None:
    """`discover([root])` for an absolute `root`, from a remembered walk of it or of a folder
    above it that found a file below it (so no folder on the way there was excluded);
    None when there is no such walk."""
    for walked, found in (_walks or {}).items():
        if root == walked:
            return list(found)
        if root.startswith(walked.rstrip(os.sep) + os.sep):
            prefix = root.rstrip(os.sep) + os.sep
            below = [path for path in found if path.startswith(prefix)]
            if below:
                return below
    return None


def _candidates(entries: list[os.DirEntry[str]]) -> list[tuple[str, str, bool]]:
    """Name, path and is-a-folder of the entries worth matching against the patterns
    (folders to walk, Python files to check), sorted by name: sorting only these is
    what keeps a folder of static assets cheap."""
    candidates = []
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:  # a symbolic link loop: reading it will tell
            is_dir = False
        if (entry.name.endswith(".py") and not is_dir) or (is_dir and not entry.is_symlink()):
            candidates.append((entry.name, entry.path, is_dir))
    candidates.sort()
    return candidates


def _walk(root: str, excludes: Excludes, respect_gitignore: bool, on_error: OnError) -> Iterator[str]:
    enclosing = _enclosing_ignore_files(root) if respect_gitignore else []
    inherited = tuple((found, folder) for found in enclosing if (folder := found.folder(root)) is not None)
    stack: list[tuple[str, str, Applying]] = [(root, "", inherited)]
    while stack:
        directory, folder, applying = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError as error:
            on_error(directory, error)
            continue
        if respect_gitignore and any(entry.name == ".gitignore" for entry in entries):
            own = _read_ignore_file(directory)
            if own is not None:
                applying = (*applying, (own, ""))
        subdirectories = []
        for name, path, is_dir in _candidates(entries):
            relative = f"{folder}/{name}" if folder else name
            if excludes.match(name, relative) or _ignored(name, is_dir, applying):
                continue
            if is_dir:
                subdirectories.append((path, relative, _below(applying, name)))
            else:
                yield path
        stack.extend(reversed(subdirectories))
