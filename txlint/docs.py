"""docs/rules.md, generated from the rules' own docstrings: `python -m txlint.docs`."""

from __future__ import annotations

import sys
from pathlib import Path

from txlint.registry import all_rules

HEADER = """# txlint rules

Generated from the rules' docstrings by `python -m txlint.docs`; do not edit by hand.
`txlint --explain CODE` prints the same text.

| code | name | default | fix | summary |
|---|---|---|---|---|
"""


def render() -> str:
    rules = all_rules()
    table = "".join(
        f"| [{r.code}](#{r.code.lower()}) | {r.name} | {'opt-in' if r.opt_in else 'on'} | "
        f"{r.fix_safety.value if r.fix_safety else 'none'} | {r.summary} |\n"
        for r in rules
    )
    sections = "".join(
        f"\n## {r.code}\n\n**{r.name}**: {r.summary}\n\n{_demote(r.documentation())}\n" for r in rules
    )
    return HEADER + table + sections


def _demote(doc: str) -> str:
    """The rule's `## Section` headings become `###` under the rule's own heading."""
    return "\n".join("#" + line if line.startswith("## ") else line for line in doc.splitlines())


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/rules.md")
    target.write_text(render(), encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    main()
