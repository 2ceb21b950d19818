from __future__ import annotations

import pytest
from flake8.violation import Violation

from txlint.noqa import NoqaFilter, is_ignored


COMMENTS = [
    "# noqa", "# NOQA", "# NoQA:TXL101", "# noqa: TXL101", "# noqa:TXL101,E501", "# noqa: E501 TXL101",
    "# noqa: TXL1", "# noqa: TXL", "# noqa: E501", "# noqa : TXL101", "# noqa:  TXL101", "# not a noqa",
    "# noqa:TXL103", "#noqa",
]  # fmt: skip


@pytest.mark.parametrize("comment", COMMENTS)
def test_inline_noqa_decides_as_flake8_does(comment: str) -> None:
    line = f"task.delay()  {comment}\n"
    violation = Violation("TXL101", "x.py", 1, 1, "msg", line)
    assert is_ignored("TXL101", line) is violation.is_inline_ignored(disable_noqa=False)


def test_noqa_after_a_multiline_string_covers_every_line_of_it() -> None:
    source = 'x = f("""\na\n""")  # noqa: TXL101\ny = 1\n'
    noqa = NoqaFilter(source)
    assert noqa.silences("TXL101", 1) and noqa.silences("TXL101", 2)
    assert not noqa.silences("TXL101", 4)


def test_noqa_on_one_line_of_a_bracketed_call_covers_only_that_line() -> None:
    source = "task.delay(\n    x,  # noqa\n)\n"
    noqa = NoqaFilter(source)
    assert not noqa.silences("TXL101", 1)
    assert noqa.silences("TXL101", 2)


def test_file_level_noqa_must_stand_on_its_own_line() -> None:
    assert NoqaFilter("# flake8: noqa\nx = 1\n").skips_file
    assert not NoqaFilter("x = 1  # flake8: noqa\n").skips_file


def test_untokenizable_source_falls_back_to_the_physical_line() -> None:
    noqa = NoqaFilter('x = """\nunterminated  # noqa\n')
    assert noqa.silences("TXL101", 2)
    assert not noqa.silences("TXL101", 1)


@pytest.mark.parametrize(
    "character",
    ["\x0c", "\x0b", "\x1c", "\x85", "\u2028"],
    ids=["form-feed", "vertical-tab", "file-separator", "nel", "line-separator"],
)
def test_noqa_after_a_character_str_splitlines_splits_at_silences_its_own_line(character: str) -> None:
    # CPython ends lines at CR and LF only; a page break in a comment shifted nothing for flake8.
    noqa = NoqaFilter(f"# page {character} break\ntask.delay()  # noqa: TXL101\nother.delay()\n")
    assert noqa.silences("TXL101", 2)
    assert not noqa.silences("TXL101", 3)


def test_noqa_after_a_multiline_string_covers_every_line_of_it_with_lone_carriage_returns() -> None:
    noqa = NoqaFilter('x = f("""\ra\r""")  # noqa: TXL101\ry = 1\r')
    assert noqa.silences("TXL101", 1) and noqa.silences("TXL101", 2)
    assert not noqa.silences("TXL101", 4)
