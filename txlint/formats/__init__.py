"""Output formats. Each turns the run's findings into the text the CLI prints."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from txlint.diagnostics import Diagnostic


@dataclass(frozen=True)
class Reported:
    """One finding as output sees it.

    `source` is the file's text as checked; `fixed` the text after applying this
    finding's fix alone (None without a fix). Only the SARIF format needs them, so
    the CLI fills them in for it alone.
    """

    path: str
    diagnostic: Diagnostic
    source: str | None = None
    fixed: str | None = None


Formatter = Callable[[Sequence[Reported]], str]


# Each format's module: only the one asked for is imported.
FORMATS = {"text": "text", "json": "json_lines", "github": "github", "sarif": "sarif"}


def formatter(name: str) -> Formatter:
    render: Formatter = importlib.import_module(f"txlint.formats.{FORMATS[name]}").render
    return render
