"""A JSON list of findings, 1-based columns, with fix availability and safety, or why there is no fix."""

from __future__ import annotations

import json
from collections.abc import Sequence

from txlint.formats import Reported


def render(findings: Sequence[Reported]) -> str:
    items = [
        {
            "code": f.diagnostic.code,
            "message": f.diagnostic.message,
            "path": f.path,
            "line": f.diagnostic.line,
            "column": f.diagnostic.column + 1,
            "end_line": f.diagnostic.end_line,
            "end_column": f.diagnostic.end_column + 1,
            "fix_available": f.diagnostic.fix is not None,
            "fix_safety": f.diagnostic.fix_safety.value if f.diagnostic.fix_safety else None,
            "no_fix_reason": f.diagnostic.no_fix_reason,
        }
        for f in findings
    ]
    return json.dumps(items, indent=2) + "\n"
