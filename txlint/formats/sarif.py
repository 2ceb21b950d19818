"""SARIF 2.1.0: the log GitHub code scanning and SARIF viewers read.

One run; `tool.driver.rules` lists every registered rule, so a rule's `ruleIndex` does
not depend on which rules were selected. Results point at files relative to the working
directory (`%SRCROOT%`), carry a fingerprint that survives lines moving, and, when the
finding has a fix, that fix as whole-line replacements computed from the fixed text.

Lines end at CR LF, LF or CR, as Python (and so libcst) counts them; columns count
code points, 1-based.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from txlint import __version__
from txlint.formats import Reported
from txlint.registry import all_rules

if TYPE_CHECKING:
    from txlint.rule import Rule

Json = dict[str, Any]

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://github.com/txlint/txlint"
RULES_DOC_URI = "https://github.com/txlint/txlint/blob/main/docs/rules.md"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "txlint/v1"
NEWLINES = ["\r\n", "\n", "\r"]

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_SECTION = re.compile(r"^## What it does[ \t]*\n(.*?)(?=^## |\Z)", re.MULTILINE | re.DOTALL)


def render(findings: Sequence[Reported]) -> str:
    rules = all_rules()
    index = {rule.code: position for position, rule in enumerate(rules)}
    levels = {rule.code: _level(rule) for rule in rules}
    fingerprints = _fingerprints(findings)
    run: Json = {
        "tool": {"driver": _driver(rules)},
        "originalUriBaseIds": {SRCROOT: {"uri": _cwd_uri()}},
        "columnKind": "unicodeCodePoints",
        "newlineSequences": NEWLINES,
        "results": [_result(f, index.get(f.diagnostic.code), levels, fp) for f, fp in zip(findings, fingerprints)],
    }
    log: Json = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2) + "\n"


# -- the tool and its rules -------------------------------------------------------


def _driver(rules: Sequence[type[Rule]]) -> Json:
    return {
        "name": "txlint",
        "version": __version__,
        "informationUri": INFORMATION_URI,
        "rules": [_rule_descriptor(rule) for rule in rules],
    }


def _rule_descriptor(rule: type[Rule]) -> Json:
    doc = rule.documentation()
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": what_it_does(doc) or rule.summary},
        "help": {"text": doc, "markdown": doc},
        "helpUri": f"{RULES_DOC_URI}#{rule.code.lower()}",
        "defaultConfiguration": {"level": _level(rule)},
    }


def what_it_does(doc: str) -> str:
    """The "What it does" section of a rule's documentation, as one paragraph."""
    match = _SECTION.search(doc)
    return " ".join(match.group(1).split()) if match else ""


def _level(rule: type[Rule]) -> str:
    return "warning" if rule.opt_in else "error"


# -- results ------------------------------------------------------------------------


def _result(finding: Reported, rule_index: int | None, levels: dict[str, str], fingerprint: str) -> Json:
    d = finding.diagnostic
    result: Json = {"ruleId": d.code}
    if rule_index is not None:
        result["ruleIndex"] = rule_index
    result["level"] = levels.get(d.code, "error")
    result["message"] = {"text": d.message}
    region = {"startLine": d.line, "startColumn": d.column + 1, "endLine": d.end_line, "endColumn": d.end_column + 1}
    result["locations"] = [{"physicalLocation": {"artifactLocation": artifact_location(finding.path), "region": region}}]
    result["partialFingerprints"] = {FINGERPRINT_KEY: fingerprint}
    fix = _fix(finding)
    if fix is not None:
        result["fixes"] = [fix]
    if d.no_fix_reason is not None:
        result["properties"] = {"noFixReason": d.no_fix_reason}
    return result


def artifact_location(path: str) -> Json:
    """The file relative to `%SRCROOT%` (the working directory), or its file URI when outside it."""
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute)
    except ValueError:  # another drive, on Windows
        relative = os.pardir
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return {"uri": Path(absolute).as_uri()}
    return {"uri": quote(relative.replace(os.sep, "/"), safe="/"), "uriBaseId": SRCROOT}


def _cwd_uri() -> str:
    uri = Path.cwd().as_uri()
    return uri if uri.endswith("/") else uri + "/"


# -- fingerprints -------------------------------------------------------------------


def _fingerprints(findings: Sequence[Reported]) -> list[str]:
    """sha256 of code, path, the reported line's text and its rank among equal triples.

    Line numbers stay out, so a finding keeps its fingerprint when lines above it move.
    """
    seen: dict[tuple[str, str, str], int] = {}
    fingerprints = []
    for finding in findings:
        key = (finding.diagnostic.code, _relative_uri(finding.path), _line_text(finding))
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        digest = hashlib.sha256("\0".join((*key, str(occurrence))).encode("utf-8", "surrogatepass"))
        fingerprints.append(digest.hexdigest())
    return fingerprints


def _relative_uri(path: str) -> str:
    return str(artifact_location(path)["uri"])


def _line_text(finding: Reported) -> str:
    lines = split_lines(finding.source or "")
    number = finding.diagnostic.line
    return " ".join(lines[number - 1].split()) if 0 < number <= len(lines) else ""


def split_lines(text: str) -> list[str]:
    """The lines of `text`, each with its line ending (CR LF, LF or CR)."""
    return _LINE.findall(text)


# -- fixes --------------------------------------------------------------------------


def _fix(finding: Reported) -> Json | None:
    if finding.fixed is None or finding.source is None:
        return None
    replacements = replacements_between(finding.source, finding.fixed)
    if not replacements:
        return None
    change = {"artifactLocation": artifact_location(finding.path), "replacements": replacements}
    return {"description": {"text": _fix_title(finding)}, "artifactChanges": [change]}


def _fix_title(finding: Reported) -> str:
    fix = finding.diagnostic.fix
    if fix is not None:
        return fix.title
    rule = next((rule for rule in all_rules() if rule.code == finding.diagnostic.code), None)
    return (rule.fix_title if rule else None) or "Apply txlint's fix"


def replacements_between(source: str, fixed: str) -> list[Json]:
    """Whole-line replacements that turn `source` into `fixed`, from a line diff."""
    old, new = split_lines(source), split_lines(fixed)
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    replacements = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        replacement: Json = {"deletedRegion": _line_region(old, i1, i2)}
        if j2 > j1:
            replacement["insertedContent"] = {"text": "".join(new[j1:j2])}
        replacements.append(replacement)
    return replacements


def _line_region(lines: list[str], first: int, stop: int) -> Json:
    """Lines `first` to `stop` (0-based, exclusive) whole; empty at line `first` when equal."""
    end_line, end_column = stop + 1, 1
    if stop == len(lines) and lines and not lines[-1].endswith(("\n", "\r")):
        end_line, end_column = len(lines), len(lines[-1]) + 1  # the last line has no line ending
    start_line, start_column = (end_line, end_column) if first == stop else (first + 1, 1)
    return {"startLine": start_line, "startColumn": start_column, "endLine": end_line, "endColumn": end_column}
