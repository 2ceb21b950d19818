"""GitHub Actions workflow commands: one `::error ...::message` line per finding.

GitHub turns them into annotations on the pull request's diff. Escaping follows the
runner's rules: in the message `%`, CR and LF; in properties also `:` and `,`.
"""

from __future__ import annotations

from collections.abc import Sequence

from txlint.formats import Reported


def escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def render(findings: Sequence[Reported]) -> str:
    lines = []
    for finding in findings:
        d = finding.diagnostic
        properties = {
            "file": finding.path,
            "line": str(d.line),
            "col": str(d.column + 1),
            "endLine": str(d.end_line),
            "endColumn": str(d.end_column + 1),
            "title": d.code,
        }
        joined = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
        lines.append(f"::error {joined}::{escape_data(f'{d.code} {d.message}')}\n")
    return "".join(lines)
