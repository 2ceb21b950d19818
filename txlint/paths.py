"""What the adapters derive from a file's location: its module name, its project root."""

from __future__ import annotations

import os
from functools import lru_cache


def module_name_for(path: str) -> tuple[str | None, bool]:
    """Dotted module name from the package folders above the file, and whether it is a package.

    `core/redis.py` inside a folder without `__init__.py` is `core.redis`.
    """
    absolute = os.path.abspath(path)
    directory, filename = os.path.split(absolute)
    stem, extension = os.path.splitext(filename)
    if extension not in (".py", ".pyi") or not stem.isidentifier():
        return None, False
    is_package = stem == "__init__"
    parts = package_of(directory) if is_package else (*package_of(directory), stem)
    return (".".join(parts) or None), is_package


@lru_cache(maxsize=4096)
def package_of(directory: str) -> tuple[str, ...]:
    """The dotted name's parts of the package that `directory` (absolute) is; () if none."""
    if not os.path.isfile(os.path.join(directory, "__init__.py")):
        return ()
    parent, name = os.path.split(directory)
    if not name.isidentifier():
        return ()
    return (*package_of(parent), name)
