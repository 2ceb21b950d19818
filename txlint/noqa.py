"""`# noqa` exactly as flake8 handles it, for the CLI (under flake8, flake8 does this itself).

flake8 searches for `# noqa` in the text of the whole token range a line belongs to (a
multi-line string or backslash continuation counts as one range) and falls back to
the physical line when the file cannot be tokenized. `# flake8: noqa` on a line of its
own skips the file.
"""

from __future__ import annotations

import re
import tokenize
from functools import cached_property

# Copied from flake8.defaults so that both tools agree on every spelling.
NOQA_INLINE = re.compile(r"# noqa(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?", re.IGNORECASE)
NOQA_FILE = re.compile(r"\s*# flake8[:=]\s*noqa", re.IGNORECASE)
CODE_SEPARATOR = re.compile(r"[,\s]")
# A line ends as CPython (and flake8, reading the file) ends it; `str.splitlines` also
# ends lines at form feeds, NEL and more, shifting every `# noqa` after one.
PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def file_is_ignored(lines: list[str]) -> bool:
    return any(NOQA_FILE.match(line) for line in lines)


def noqa_lines(lines: list[str]) -> dict[int, str]:
    """Line number -> the text flake8 searches for `# noqa` when reporting on that line."""
    mapping: dict[int, str] = {}
    # Each line ends in "\n" for tokenize, so that its line numbers are CPython's also
    # where lines end in a lone carriage return (flake8 reads them as "\n").
    readline = iter([line.rstrip("\r\n") + "\n" for line in lines]).__next__
    try:
        tokens = list(tokenize.generate_tokens(readline))
    except (tokenize.TokenError, SyntaxError):
        return mapping
    first, last = len(lines) + 2, -1
    for token in tokens:
        if token.type in (tokenize.ENDMARKER, tokenize.DEDENT):
            continue
        first, last = min(first, token.start[0]), max(last, token.end[0])
        if token.type in (tokenize.NL, tokenize.NEWLINE):
            joined = "".join(lines[first - 1 : last])
            mapping.update(dict.fromkeys(range(first, last + 1), joined))
            first, last = len(lines) + 2, -1
    return mapping


def is_ignored(code: str, text: str) -> bool:
    match = NOQA_INLINE.search(text)
    if match is None:
        return False
    codes_text = match.group("codes")
    if codes_text is None:
        return True
    codes = {part.strip() for part in CODE_SEPARATOR.split(codes_text) if part.strip()}
    return code in codes or code.startswith(tuple(codes))


class NoqaFilter:
    """Decides, for one file, which diagnostics a `# noqa` comment silences."""

    def __init__(self, source: str) -> None:
        self.lines = PHYSICAL_LINE.findall(source)

    @cached_property  # asked once per finding: thousands of times in a big file
    def skips_file(self) -> bool:
        return file_is_ignored(self.lines)

    @cached_property
    def _noqa_texts(self) -> dict[int, str] | None:
        """The text each line's `# noqa` is looked for in; None when the file has none,
        since every such text is a run of its lines and tokenizing it would be wasted."""
        if NOQA_INLINE.search("".join(self.lines)) is None:
            return None
        return noqa_lines(self.lines)

    def silences(self, code: str, line: int) -> bool:
        noqa_texts = self._noqa_texts
        if noqa_texts is None:
            return False
        text = noqa_texts.get(line)
        if text is None:
            text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return is_ignored(code, text)
