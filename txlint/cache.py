"""The on-disk cache: what txlint learnt about each file, so that unchanged files are not read again.

A store is one file of entries keyed by absolute path. An entry is trusted without
reading the file when its size and modification time are those recorded; otherwise
the file is read and its content hash decides. A file modified less than two seconds
before txlint looked at it may change again without its time changing (coarse file
system clocks), so its stamp is recorded as unverified and it is hashed next time:
git's "racily clean" rule.

Stores are written atomically (temporary file + rename) and merged with what another
run wrote meanwhile, so concurrent runs never corrupt one another; the worst they can
do is lose each other's newest entries, which only costs a re-read. A store from
another txlint or Python version is never read (the folder name carries both), and a
damaged one is ignored. Cached data never changes results: every value is keyed by
everything it depends on.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from txlint import __version__, signals

CACHE_DIR_NAME = ".txlint_cache"
CACHE_DIR_ENV = "TXLINT_CACHE_DIR"
NO_CACHE_ENV = "TXLINT_NO_CACHE"
# A file modified this recently (nanoseconds) may change again within its clock's resolution.
RACY_NS = 2_000_000_000
UNVERIFIED_SIZE = -1
# Bumped whenever what a store holds changes shape: a store of another format is not read.
FORMAT = 6

# (size, mtime_ns) of a file as `os.stat` saw it; size UNVERIFIED_SIZE for a racy one.
Stamp = tuple[int, int]


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def digest(*parts: object) -> str:
    """A stable hash of plain data (str, int, bool, None, and sorted containers of them)."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


# The files' stamps taken in the current run (see `remembered_stamps`), by absolute path.
_stamps: dict[str, Stamp | None] | None = None


@contextmanager
def remembered_stamps() -> Iterator[None]:
    """Within the block, each file is stamped once: the project index stamps a project's
    files, and checking them takes the same stamps. A stamp taken earlier in the run is
    still taken before the file is read, all a stamp needs to be: a later change shows
    in the next run. Forgotten after the block."""
    global _stamps
    _stamps = {}
    try:
        yield
    finally:
        _stamps = None


def stamp_of(path: str) -> Stamp | None:
    """Take the stamp before reading the file: then any later change shows in it (unless racy).
    Within `remembered_stamps`, stamps are kept by the path as given: the index and the
    check name a file by the same absolute path, and so share its stamp."""
    if _stamps is not None and path in _stamps:
        return _stamps[path]
    try:
        status = os.stat(path)
    except OSError:
        stamp = None
    else:
        stamp = _stamp(status.st_size, status.st_mtime_ns)
    if _stamps is not None:
        _stamps[path] = stamp
    return stamp


def folder_stamp_of(path: str) -> Stamp | None:
    """A folder's stamp, by the time its inode changed where that is what `st_ctime` means
    (POSIX): it moves when an entry is added, removed or renamed, and when the folder's
    permissions change, which may make it unreadable. Elsewhere by its modification time."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return _stamp(status.st_size, status.st_ctime_ns if os.name == "posix" else status.st_mtime_ns)


def _stamp(size: int, changed_ns: int) -> Stamp:
    racy = changed_ns >= time.time_ns() - RACY_NS
    return (UNVERIFIED_SIZE if racy else size), changed_ns


def default_cache_dir(project_directory: str) -> str | None:
    """`$TXLINT_CACHE_DIR`, else `.txlint_cache` in the project folder; None when caching is off."""
    if os.environ.get(NO_CACHE_ENV, "").strip() not in ("", "0"):
        return None
    return os.environ.get(CACHE_DIR_ENV) or os.path.join(project_directory, CACHE_DIR_NAME)


@dataclass
class Entry:
    stamp: Stamp
    content: str
    value: Any


# An entry as the store file holds it: (stamp, content, value).
RawEntry = tuple[Stamp, str, Any]


@dataclass
class Store:
    """One cache file: path -> Entry. `lookup` and `record` count what was reused and read."""

    path: str | None
    # As loaded: an Entry is made only for the paths asked for.
    entries: dict[str, RawEntry] = field(default_factory=dict)
    # Values about the whole store (a project's combined facts), keyed by name.
    meta: dict[str, Any] = field(default_factory=dict)
    dirty: bool = False
    hits: int = 0
    reads: int = 0
    # The store file as this run read it (see `save`), and the paths this run asked about.
    loaded: FileIdentity | None = None
    seen: set[str] = field(default_factory=set)

    @classmethod
    def open(cls, cache_dir: str | None, name: str) -> Store:
        if cache_dir is None:
            return cls(None)
        path = os.path.join(cache_dir, f"{__version__}-py{sys.version_info[0]}{sys.version_info[1]}-f{FORMAT}", f"{name}.marshal")
        loaded = _identity(path)
        entries, meta = _load(path)
        return cls(path, entries, meta, loaded=loaded)

    def fresh(self, path: str, stamp: Stamp | None) -> Entry | None:
        """The entry for `path` if the file surely did not change since it was recorded."""
        self.seen.add(path)
        raw = self._raw(path)
        if raw is None or stamp is None or stamp[0] == UNVERIFIED_SIZE or raw[0] != stamp:
            return None
        return Entry(stamp, raw[1], raw[2])

    def matching(self, path: str, content: str) -> Entry | None:
        """The entry for `path` if it was recorded for this content (a touched file)."""
        entry = self.recorded(path)
        return entry if entry is not None and entry.content == content else None

    def recorded(self, path: str) -> Entry | None:
        """The entry for `path` as recorded, whatever the file is now."""
        raw = self._raw(path)
        return Entry(*raw) if raw is not None else None

    def _raw(self, path: str) -> RawEntry | None:
        """The entry as loaded; None for one of another shape (a damaged store is not trusted)."""
        raw = self.entries.get(path)
        return raw if isinstance(raw, tuple) and len(raw) == 3 else None

    @property
    def enabled(self) -> bool:
        """Whether the store keeps what is recorded (not with --no-cache)."""
        return self.path is not None

    def record(self, path: str, stamp: Stamp | None, content: str, value: Any) -> None:
        if self.path is None or stamp is None:
            return
        self.entries[path] = (stamp, content, value)
        self.seen.add(path)
        self.dirty = True

    def remember(self, name: str, value: Any) -> None:
        if self.path is not None and self.meta.get(name) != value:
            self.meta[name] = value
            self.dirty = True

    def save(self) -> str | None:
        """Write the store (merged with entries another run saved meanwhile); an error message or None."""
        if self.path is None or not self.dirty:
            return None
        # Unchanged since this run read it: no other run saved entries to keep.
        theirs, their_meta = ({}, {}) if _identity(self.path) == self.loaded else _load(self.path)
        merged = {**theirs, **self.entries}
        # The paths this run asked about were there; the others may have gone.
        entries = {p: e for p, e in merged.items() if p in self.seen or os.path.exists(p)}
        data = marshal.dumps((entries, {**their_meta, **self.meta}))
        try:
            _ensure_cache_dir(os.path.dirname(self.path))
            _replace(self.path, data)
        except OSError as error:
            return f"cannot write the cache {self.path}: {error.strerror or error}"
        self.dirty = False
        return None


def _replace(path: str, data: bytes) -> None:
    """Write `path` in one rename; no temporary file stays behind, even on a signal."""
    with signals.deferred():
        descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise


def _load(path: str) -> tuple[dict[str, RawEntry], dict[str, Any]]:
    try:
        with open(path, "rb") as handle:
            # marshal.load reads a file object a value at a time: ten times slower.
            entries, meta = marshal.loads(handle.read())
    except (OSError, EOFError, ValueError, TypeError):
        return {}, {}
    if not (isinstance(entries, dict) and isinstance(meta, dict)):
        return {}, {}
    return entries, meta


# (device, inode, size, mtime_ns) of a store file: another run's save replaces it.
FileIdentity = tuple[int, int, int, int]


def _identity(path: str) -> FileIdentity | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


def _ensure_cache_dir(directory: str) -> None:
    """Create the folder, and make the cache folder invisible to git and to backups."""
    cache_root = os.path.dirname(directory)
    os.makedirs(directory, exist_ok=True)
    for name, text in (
        (".gitignore", "# Created by txlint.\n*\n"),
        ("CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n# This is a txlint cache folder.\n"),
    ):
        marker = os.path.join(cache_root, name)
        if not os.path.exists(marker):
            with open(marker, "w", encoding="utf-8") as handle:
                handle.write(text)


def canonical(value: object) -> object:
    """Sets and mappings as sorted tuples, so that `digest` does not depend on hash order."""
    if isinstance(value, (set, frozenset)):
        return tuple(sorted((canonical(item) for item in value), key=repr))
    if isinstance(value, Mapping):
        return tuple(sorted(((canonical(k), canonical(v)) for k, v in value.items()), key=repr))
    if isinstance(value, (list, tuple)):
        return tuple(canonical(item) for item in value)
    return value
