"""What the adapters derive from a file's location: its module name, its project root."""

from __future__ import annotations

import os


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
    parts = [] if is_package else [stem]
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        directory, package = os.path.split(directory)
        if not package.isidentifier():
            break
        parts.insert(0, package)
    return (".".join(parts) or None), is_package
