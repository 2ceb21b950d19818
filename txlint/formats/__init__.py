"""Output formats. Each turns the run's findings into the text the CLI prints."""

from __future__ import annotations

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


def formatters() -> dict[str, Formatter]:
    from txlint.formats import github, json_lines, sarif, text

    return {"text": text.render, "json": json_lines.render, "github": github.render, "sarif": sarif.render}
