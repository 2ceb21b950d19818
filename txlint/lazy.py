"""libcst, imported on first use.

Importing libcst takes longer than a warm run's whole check (about 0.15 s), and most
runs never need it: a warm run, or one where the files changed hold nothing a rule
looks for. txlint's modules import `cst` from here: a plain module whose `__getattr__`
(PEP 562) imports libcst at the first attribute read, copies libcst's names in and
removes itself, so every later read is an ordinary module lookup. (A module subclass
defining `__getattr__` would cost every read eight times as much.)
"""

from __future__ import annotations

import importlib
import types
from typing import TYPE_CHECKING, Any

__all__ = ["cst", "import_libcst"]


def lazy_module(name: str) -> types.ModuleType:
    """A module standing for `name` until an attribute is read, then holding its names."""
    stand_in = types.ModuleType(name)

    def load(attribute: str) -> Any:
        module = importlib.import_module(name)
        del stand_in.__getattr__
        vars(stand_in).update((key, value) for key, value in vars(module).items() if not key.startswith("__"))
        return getattr(module, attribute)

    stand_in.__getattr__ = load  # type: ignore[method-assign]
    return stand_in


def import_libcst() -> None:
    """Import libcst now: before forking workers that would each import it."""
    importlib.import_module("libcst")


if TYPE_CHECKING:
    import libcst as cst
else:
    cst = lazy_module("libcst")
