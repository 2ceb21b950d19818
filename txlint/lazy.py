"""libcst, imported on first use.

Importing libcst takes longer than a warm run's whole check (about 0.15 s), and most
runs never need it: a warm run, or one where the files changed hold nothing a rule
looks for. txlint's modules import `cst` from here; the first attribute read imports
libcst and copies its names in, so later reads are plain module lookups.
"""

from __future__ import annotations

import importlib
import types
from typing import TYPE_CHECKING, Any

__all__ = ["cst"]


class LazyModule(types.ModuleType):
    """A module that imports the one it stands for when an attribute is first read."""

    def __getattr__(self, name: str) -> Any:
        module = importlib.import_module(self.__name__)
        self.__dict__.update((key, value) for key, value in vars(module).items() if not key.startswith("__"))
        return getattr(module, name)


if TYPE_CHECKING:
    import libcst as cst
else:
    cst = LazyModule("libcst")
