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

from txlint.cache import Stamp, Store, digest, folder_stamp_of, stamp_of

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


class IgnoreFile:
    """A .gitignore (or .git/info/exclude), read when a decision first needs its patterns:
    a walk the listings cache answers reads none."""

    def __init__(self, base: str, path: str, stamp: Stamp | None) -> None:
        self.base = base  # the folder the patterns are relative to
        self.path = path
        self.stamp = stamp

    def folder(self, directory: str) -> str | None:
        """`directory` relative to this file's folder, `/`-separated ("" for the folder itself); None outside it."""
        relative = os.path.relpath(directory, self.base).replace(os.sep, "/")
        if relative == os.curdir:
            return ""
        return None if relative == os.pardir or relative.startswith(os.pardir + "/") else relative

    @cached_property
    def patterns(self) -> list[IgnorePattern]:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                return parse_gitignore(handle.read())
        except OSError:
            return []

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


def _read_ignore_file(directory: str, name: str = ".gitignore", base: str | None = None) -> IgnoreFile | None:
    """The ignore file `name` in `directory` if there is one (its patterns are read later)."""
    path = os.path.join(directory, name)
    stamp = stamp_of(path)
    return IgnoreFile(base or directory, path, stamp) if stamp is not None else None


def _enclosing_ignore_files(directory: str) -> list[IgnoreFile]:
    """The .gitignore files of the folders above `directory`, up to the repository root."""
    found: list[IgnoreFile] = []
    current = os.path.abspath(directory)
    while True:
        parent = os.path.dirname(current)
        if os.path.isdir(os.path.join(current, ".git")) or parent == current:
            info = _read_ignore_file(os.path.join(current, ".git", "info"), "exclude", base=current)
            if info is not None:
                found.append(info)
            break
        current = parent
        ignore = _read_ignore_file(current)
        if ignore is not None:
            found.append(ignore)
    return list(reversed(found))


@dataclass(frozen=True)
class Applying:
    """An ignore file that applies in the walk, and how a path relative to the walk's root
    reads relative to the ignore file's folder: `prefix + path[offset:]`."""

    ignore_file: IgnoreFile
    offset: int
    prefix: str

    def decision(self, relative: str, is_dir: bool) -> bool | None:
        return self.ignore_file.decision(self.prefix + relative[self.offset :], is_dir)


def _ignored(relative: str, is_dir: bool, applying: tuple[Applying, ...]) -> bool:
    """The deepest ignore file with a verdict on the entry at `relative` (to the root) decides."""
    for ignore_file in reversed(applying):
        decision = ignore_file.decision(relative, is_dir)
        if decision is not None:
            return decision
    return False


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
    cache_dir: str | None = None,
) -> Iterator[str]:
    """Files to check, in a stable order: named files as given, folders walked.

    Symbolic links to folders are not followed (a link to a parent would loop), links
    to files are. A folder that cannot be listed goes to `on_error` and is skipped. With
    a `cache_dir`, what the walk kept of each folder is cached (see `_Listings`).
    """
    for root in paths:
        if not os.path.isdir(root):
            yield root
            continue
        listings = _Listings.open(cache_dir, root, excludes, respect_gitignore)
        walk = _walk(root, Excludes.of(excludes), respect_gitignore, on_error, listings)
        if _walks is None or tuple(excludes) != DEFAULT_EXCLUDES or not respect_gitignore:
            yield from walk
        else:
            found = []
            cwd = os.getcwd()  # os.path.abspath asks for it again at every call
            for path in walk:
                found.append(os.path.normpath(os.path.join(cwd, path)))
                yield path
            _walks[os.path.abspath(root)] = found
        # A cache folder that cannot be written is reported by the results' store.
        listings.store.save()


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


# What the walk keeps of a folder: its Python files, its folders to walk, and the stamp of
# its own .gitignore (None without one, or when .gitignore files are disregarded).
Listing = tuple[list[str], list[str], Stamp | None]


@dataclass(frozen=True)
class _Listings:
    """Each folder's listing as the last walk kept it, trusted while the folder's stamp
    (`folder_stamp_of`: it changes when an entry is added, removed or renamed) and the
    ignore files that apply (by their stamps) are unchanged. A warm walk then stats the
    folders instead of listing them and matching every entry against the patterns: git's
    untracked cache. A folder modified within the last two seconds is listed again (see
    `txlint.cache`). A symbolic link whose target turns from a file into a folder (or back)
    without its own folder changing goes unnoticed until that folder changes."""

    store: Store

    @classmethod
    def open(cls, cache_dir: str | None, root: str, excludes: Sequence[str], respect_gitignore: bool) -> _Listings:
        return cls(Store.open(cache_dir, f"walk-{digest(os.path.abspath(root), tuple(excludes), respect_gitignore)}"))

    def cached(self, directory: str, stamp: Stamp | None, context: str) -> Listing | None:
        entry = self.store.fresh(directory, stamp)
        if entry is None or entry.content != context or not (isinstance(entry.value, tuple) and len(entry.value) == 3):
            return None
        return entry.value

    def record(self, directory: str, stamp: Stamp | None, context: str, listing: Listing) -> None:
        self.store.record(directory, stamp, context, listing)


def _context(applying: tuple[Applying, ...]) -> str:
    """What the decisions in a folder depend on besides its entries: the ignore files that
    apply, by their stamps (the excludes and the root are the store's)."""
    return digest([(os.path.abspath(found.ignore_file.path), found.ignore_file.stamp) for found in applying])


def _candidates(entries: list[os.DirEntry[str]]) -> list[tuple[str, bool]]:
    """Name and is-a-folder of the entries worth matching against the patterns (folders to
    walk, Python files to check), sorted by name: sorting only these is what keeps a folder
    of static assets cheap."""
    candidates = []
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:  # a symbolic link loop: reading it will tell
            is_dir = False
        if (entry.name.endswith(".py") and not is_dir) or (is_dir and not entry.is_symlink()):
            candidates.append((entry.name, is_dir))
    candidates.sort()
    return candidates


def _kept(
    folder: str, entries: list[os.DirEntry[str]], applying: tuple[Applying, ...], excludes: Excludes
) -> tuple[list[str], list[str]]:
    """The Python files and the folders the walk keeps, by the excludes and the ignore
    files (`applying` includes the folder's own)."""
    files: list[str] = []
    subdirectories: list[str] = []
    for name, is_dir in _candidates(entries):
        relative = folder + name
        if excludes.match(name, relative) or _ignored(relative, is_dir, applying):
            continue
        (subdirectories if is_dir else files).append(name)
    return files, subdirectories


def _walk(root: str, excludes: Excludes, respect_gitignore: bool, on_error: OnError, listings: _Listings) -> Iterator[str]:
    enclosing = _enclosing_ignore_files(root) if respect_gitignore else []
    inherited = tuple(
        Applying(found, 0, f"{folder}/" if folder else "") for found in enclosing if (folder := found.folder(root)) is not None
    )
    # Each folder to walk, with its path relative to the root ("" or ending in "/").
    stack: list[tuple[str, str, tuple[Applying, ...], str]] = [(root, "", inherited, _context(inherited))]
    # Listings are kept by absolute path: `txlint .` and `txlint /path/to/repo` share them.
    absolute_root = os.path.abspath(root)
    while stack:
        directory, folder, applying, context = stack.pop()
        key = absolute_root + os.sep + folder[:-1] if folder else absolute_root
        stamp = folder_stamp_of(directory) if listings.store.enabled else None
        listing = listings.cached(key, stamp, context)
        own = _read_ignore_file(directory) if listing is not None and listing[2] is not None else None
        entries = None
        if listing is None or (own.stamp if own else None) != listing[2]:
            try:
                entries = list(os.scandir(directory))
            except OSError as error:
                on_error(directory, error)
                continue
            has_own = respect_gitignore and any(entry.name == ".gitignore" for entry in entries)
            own = _read_ignore_file(directory) if has_own else None
        below = (*applying, Applying(own, len(folder), "")) if own else applying
        if entries is not None:
            listing = (*_kept(folder, entries, below, excludes), own.stamp if own else None)
            listings.record(key, stamp, context, listing)
        assert listing is not None
        files, subdirectories, _ = listing
        if own is not None:
            applying, context = below, _context(below)
        here = directory if directory.endswith(os.sep) else directory + os.sep
        for name in files:
            yield here + name
        stack.extend((here + name, f"{folder}{name}/", applying, context) for name in reversed(subdirectories))
