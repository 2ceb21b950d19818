"""flake8's format: `path:line:col: CODE message`, with 1-based columns."""

from __future__ import annotations

from collections.abc import Sequence

from txlint.formats import Reported


def render(findings: Sequence[Reported]) -> str:
    return "".join(
        f"{f.path}:{f.diagnostic.line}:{f.diagnostic.column + 1}: {f.diagnostic.code} {f.diagnostic.message}\n"
        for f in findings
    )
