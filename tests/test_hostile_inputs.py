"""Hostile input never crashes txlint nor loses code: one clear diagnostic, and the run goes on.

Each case puts one hostile file next to a good one (`good.py`, a TXL101 finding) and
checks both: the hostile file gets a TXL000 finding or a `txlint: error:` line, the
good one is still reported (or fixed). Cases that could kill the process (native
parser crashes) run txlint in a subprocess.
"""

from __future__ import annotations

import builtins
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from txlint import cli, engine
from txlint.cli import FileReport, exit_status
from txlint.diagnostics import Diagnostic
from txlint.engine import FixResult
from tests.conftest import DISPATCH_IN_ATOMIC

GOOD = textwrap.dedent(DISPATCH_IN_ATOMIC).lstrip("\n")
FIXED_LINE = "transaction.on_commit(partial(send_receipt.delay, order.pk))"
NEWER_THAN_INTERPRETER = sys.version_info < (3, 12)


def run(args: list[str], capsys) -> tuple[int, str, str]:
    # In this process, so that monkeypatched seams and logged warnings are seen.
    status = cli.main([*args, "--jobs", "1", "--no-cache"])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def lines_for(out: str, name: str) -> list[str]:
    return [line for line in out.splitlines() if line.split(":", 1)[0].endswith(name)]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "good.py").write_text(GOOD)
    return tmp_path


def good_still_reported(out: str) -> bool:
    return any("TXL101" in line for line in lines_for(out, "good.py"))


def no_temporary_files(root: Path) -> bool:
    return not [path for path in root.rglob("*") if path.name.startswith(".txlint-")]


# Source that does not parse, or not with this interpreter


def test_syntax_error_is_reported_with_cpythons_message_and_position(tree, capsys) -> None:
    (tree / "broken.py").write_text(GOOD + "def broken(:\n")
    status, out, _ = run([str(tree)], capsys)
    assert status == 1
    assert lines_for(out, "broken.py") == [f"{tree / 'broken.py'}:9:12: TXL000 cannot parse file: invalid syntax"]
    assert good_still_reported(out)


@pytest.mark.parametrize(
    "newer",
    ["type Price = int\n", "def first[T](items: list[T]) -> T:\n    return items[0]\n", "class Box[T]:\n    pass\n"],
    ids=["type-alias", "generic-function", "generic-class"],
)
def test_syntax_newer_than_the_interpreter_is_linted(tree, capsys, newer) -> None:
    (tree / "newer.py").write_text(GOOD + newer)
    status, out, _ = run([str(tree)], capsys)
    assert status == 1
    assert [line.split(": ")[1].split()[0] for line in lines_for(out, "newer.py")] == ["TXL101"]


def test_syntax_newer_than_the_interpreter_is_fixed_only_where_it_compiles(tree, capsys, caplog) -> None:
    target = tree / "newer.py"
    target.write_text(GOOD + "type Price = int\n")
    status, out, _ = run([str(tree), "--fix"], capsys)
    fixed = target.read_text()
    if NEWER_THAN_INTERPRETER:
        # The result cannot be compiled here, so it is not trusted: reported, not written.
        assert fixed == GOOD + "type Price = int\n"
        assert "discarded a fix whose result does not compile" in caplog.text
        assert status == 1 and "TXL101" in out
    else:
        assert FIXED_LINE in fixed
    assert FIXED_LINE in (tree / "good.py").read_text()


def test_match_statement_is_linted_and_fixed(tree, capsys) -> None:
    source = textwrap.dedent(
        """
        from django.db import transaction
        from .tasks import send_receipt


        def handle(event):
            match event:
                case {"kind": "order", "pk": pk}:
                    with transaction.atomic():
                        send_receipt.delay(pk)
                case _:
                    pass
        """
    ).lstrip()
    (tree / "matching.py").write_text(source)
    run([str(tree), "--fix"], capsys)
    assert "transaction.on_commit(partial(send_receipt.delay, pk))" in (tree / "matching.py").read_text()


@pytest.mark.parametrize("tail", ["x = 1\0\n", "\0"], ids=["in-a-line", "alone"])
def test_null_bytes_are_a_parse_finding(tree, capsys, tail) -> None:
    (tree / "nul.py").write_bytes(GOOD.encode() + tail.encode())
    status, out, _ = run([str(tree)], capsys)
    assert status == 1
    [line] = lines_for(out, "nul.py")
    assert "TXL000 cannot parse file:" in line and "null bytes" in line
    assert good_still_reported(out)


def test_empty_file_is_clean(tmp_path, capsys) -> None:
    (tmp_path / "empty.py").write_bytes(b"")
    assert run([str(tmp_path), "--fix"], capsys)[:2] == (0, "")
    assert (tmp_path / "empty.py").read_bytes() == b""


# Encodings and newlines: linted, and fixed byte for byte in the file's own conventions


def test_latin1_with_coding_line_is_linted_and_fixed_in_latin1(tree, capsys) -> None:
    target = tree / "latin.py"
    original = b"# -*- coding: latin-1 -*-\n" + GOOD.encode() + "GREETING = 'Grüße, café'\n".encode("latin-1")
    target.write_bytes(original)
    assert "TXL101" in run([str(target)], capsys)[1]
    status, _, _ = run([str(tree), "--fix"], capsys)
    data = target.read_bytes()
    assert status == 0
    assert data.startswith(b"# -*- coding: latin-1 -*-\n")
    assert "GREETING = 'Grüße, café'\n".encode("latin-1") in data
    assert FIXED_LINE in data.decode("latin-1")


def test_non_utf8_without_coding_line_is_a_decode_finding(tree, capsys) -> None:
    target = tree / "latin.py"
    original = GOOD.encode() + "GREETING = 'café'\n".encode("latin-1")
    target.write_bytes(original)
    status, out, _ = run([str(tree), "--fix"], capsys)
    [line] = lines_for(out, "latin.py")
    assert "TXL000 cannot decode file: 'utf-8' codec can't decode byte 0xe9" in line
    assert status == 1 and target.read_bytes() == original
    assert FIXED_LINE in (tree / "good.py").read_text()


def test_unknown_coding_is_a_decode_finding(tree, capsys) -> None:
    (tree / "odd.py").write_bytes(b"# -*- coding: no-such-codec -*-\n" + GOOD.encode())
    status, out, _ = run([str(tree)], capsys)
    [line] = lines_for(out, "odd.py")
    assert status == 1 and "TXL000 cannot decode file: unknown encoding" in line


def test_bom_is_kept_by_fix(tree, capsys) -> None:
    target = tree / "bom.py"
    target.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    run([str(tree), "--fix"], capsys)
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\xef\xbb\xbf") == 1
    assert FIXED_LINE.encode() in data


def test_crlf_is_kept_by_fix(tree, capsys) -> None:
    target = tree / "crlf.py"
    target.write_bytes(GOOD.replace("\n", "\r\n").encode())
    run([str(tree), "--fix"], capsys)
    data = target.read_bytes()
    assert FIXED_LINE.encode() + b"\r\n" in data
    assert data.count(b"\n") == data.count(b"\r\n")


def test_mixed_newlines_are_kept_by_fix(tree, capsys) -> None:
    lines = GOOD.splitlines(keepends=True)
    mixed = "".join(line.replace("\n", "\r\n") if index % 2 else line for index, line in enumerate(lines))
    target = tree / "mixed.py"
    target.write_bytes(mixed.encode())
    run([str(tree), "--fix"], capsys)
    data = target.read_bytes().decode()
    fixed_lines = data.splitlines(keepends=True)
    for line in lines:
        if "send_receipt.delay" not in line:
            expected = line.replace("\n", "\r\n") if lines.index(line) % 2 else line
            assert expected in fixed_lines
    assert FIXED_LINE in data


def test_form_feed_page_break_keeps_noqa_on_its_line(tree, capsys) -> None:
    # CPython and flake8 end lines at CR and LF only, not at a form feed (Emacs' ^L).
    silenced = GOOD.replace("order.pk)\n", "order.pk)  # noqa: TXL101\n")
    (tree / "paged.py").write_text("\x0c\n" + silenced + "\x0c\n")
    status, out, _ = run([str(tree)], capsys)
    assert status == 1 and lines_for(out, "paged.py") == [] and good_still_reported(out)


def test_lone_cr_newlines_are_linted_but_not_fixed(tree, capsys, caplog) -> None:
    # libcst drops such a file's last newline: a fix would change more than it says.
    target = tree / "classic_mac.py"
    original = GOOD.replace("\n", "\r").encode()
    target.write_bytes(original)
    run([str(tree), "--fix"], capsys)
    assert target.read_bytes() == original
    assert "TXL101" in lines_for(run([str(tree)], capsys)[1], "classic_mac.py")[0]
    assert "not fixed: libcst does not reproduce this file exactly" in caplog.text
    assert FIXED_LINE in (tree / "good.py").read_text()


# Size and depth


def big_module(functions: int) -> str:
    body = textwrap.dedent(
        """
        def place_order_{n}(order):
            total = 0
            for line in order.lines.all():
                total += line.price * line.quantity
            order.total = total
            with transaction.atomic():
                order.save()
                send_receipt.delay(order.pk)
            return total

        """
    )
    return "from django.db import transaction\nfrom .tasks import send_receipt\n\n" + "".join(
        body.format(n=n) for n in range(functions)
    )


def test_fifty_thousand_line_file_is_linted_and_fixed(tmp_path, capsys) -> None:
    source = big_module(4546)
    assert source.count("\n") >= 50_000
    target = tmp_path / "big.py"
    target.write_text(source)
    start = time.perf_counter()
    status, out, _ = run([str(target)], capsys)
    lint_seconds = time.perf_counter() - start
    assert status == 1 and len(out.splitlines()) == 4546
    start = time.perf_counter()
    status, out, _ = run([str(target), "--fix"], capsys)
    fix_seconds = time.perf_counter() - start
    assert status == 0 and target.read_text().count(FIXED_LINE) == 4546
    print(f"50k lines: lint {lint_seconds:.1f} s, fix {fix_seconds:.1f} s")
    # Bounds against quadratic blow-ups (a shared 2-CPU machine), not a benchmark.
    assert lint_seconds < 300 and fix_seconds < 900


DEEP = {
    "parentheses": "x = " + "(" * 1000 + "1" + ")" * 1000 + "\n",
    "parentheses-3000": "x = " + "(" * 3000 + "1" + ")" * 3000 + "\n",
    "lists": "x = " + "[" * 1000 + "]" * 1000 + "\n",
    "unary-minus": "x = " + "-" * 5000 + "1\n",
    "attribute-chain": "x = " + "a." * 5000 + "b\n",
    "not-chain": "x = " + "not " * 5000 + "b\n",
    "lambda-chain": "x = " + "lambda: " * 3000 + "b\n",
    "conditional-chain": "x = " + "a if b else " * 3000 + "c\n",
    "addition-chain": "x = 1" + " + 1" * 20000 + "\n",
}


def test_deep_nesting_is_refused_without_crashing(tmp_path) -> None:
    # In a subprocess: libcst's native parser kills the process on such input, and
    # the project index (which parses every file that dispatches) must refuse it too.
    for name, tail in DEEP.items():
        (tmp_path / f"{name}.py").write_text(GOOD + tail)
    (tmp_path / "good.py").write_text(GOOD)
    for mode in ([], ["--fix"]):
        result = subprocess.run(
            [sys.executable, "-m", "txlint.cli", *mode, str(tmp_path)], capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 1, result.stderr
        for name in DEEP:
            [line] = lines_for(result.stdout, f"{name}.py")
            assert "TXL000 cannot parse file: too" in line  # too many nested parentheses / too deeply nested
        assert good_still_reported(result.stdout) or FIXED_LINE in (tmp_path / "good.py").read_text()
        assert "error" not in result.stderr


def test_nesting_cpython_accepts_is_linted_and_fixed_or_reported(tree, capsys) -> None:
    # 150 nested calls parse, but libcst's recursive walks may not reach the bottom.
    target = tree / "calls.py"
    target.write_text(GOOD + "x = " + "f(" * 150 + ")" * 150 + "\n")
    status, out, err = run([str(tree), "--fix"], capsys)
    assert status in (0, 1) and "internal error" not in err
    assert FIXED_LINE in target.read_text() or "TXL101" in lines_for(out, "calls.py")[0]


# The file system


def test_directory_symlink_to_its_parent_is_not_followed(tree, capsys) -> None:
    (tree / "app").mkdir()
    (tree / "app" / "views.py").write_text(GOOD)
    (tree / "app" / "loop").symlink_to("..", target_is_directory=True)
    status, out, _ = run([str(tree)], capsys)
    assert status == 1
    assert sorted(os.path.relpath(line.split(":")[0], tree) for line in out.splitlines()) == ["app/views.py", "good.py"]


def test_symlink_loop_named_on_the_command_line_is_walked_once(tree, capsys) -> None:
    (tree / "loop").symlink_to(".", target_is_directory=True)
    status, out, _ = run([str(tree / "loop")], capsys)
    assert status == 1 and len(out.splitlines()) == 1


def test_file_symlinks_are_followed(tree, capsys) -> None:
    (tree / "alias.py").symlink_to(tree / "good.py")
    status, out, _ = run([str(tree)], capsys)
    assert status == 1 and lines_for(out, "alias.py")


def test_dangling_symlink_is_a_read_finding(tree, capsys) -> None:
    (tree / "gone.py").symlink_to(tree / "missing.py")
    status, out, _ = run([str(tree)], capsys)
    assert status == 1
    assert lines_for(out, "gone.py") == [f"{tree / 'gone.py'}:1:1: TXL000 cannot read file: dangling symbolic link"]
    assert good_still_reported(out)


def test_file_symlink_to_itself_is_a_read_finding(tree, capsys) -> None:
    (tree / "self.py").symlink_to(tree / "self.py")
    status, out, _ = run([str(tree)], capsys)
    [line] = lines_for(out, "self.py")
    assert status == 1 and "TXL000 cannot read file: Too many levels of symbolic links" in line


def test_paths_with_spaces_and_non_ascii_names(tmp_path, capsys) -> None:
    folder = tmp_path / "my app" / "bestellungen ü"
    folder.mkdir(parents=True)
    target = folder / "vues de commande é.py"
    target.write_text(GOOD)
    status, out, _ = run([str(tmp_path)], capsys)
    assert status == 1 and out.startswith(f"{target}:8:9: TXL101")
    assert run([str(target), "--fix"], capsys)[0] == 0
    assert FIXED_LINE in target.read_text()


def deny(monkeypatch, module, name: str, path: Path, error: OSError) -> None:
    """Make `module.name(path, ...)` fail with `error` for `path` alone (root can read anything)."""
    real = getattr(module, name, None) or getattr(builtins, name)

    def failing(target, *args, **kwargs):
        if os.fspath(target) == os.fspath(path):
            raise error
        return real(target, *args, **kwargs)

    monkeypatch.setattr(module, name, failing, raising=False)


def test_unreadable_file_is_a_read_finding(tree, capsys, monkeypatch) -> None:
    target = tree / "secret.py"
    target.write_text(GOOD)
    deny(monkeypatch, cli, "open", target, PermissionError(13, "Permission denied"))
    status, out, _ = run([str(tree)], capsys)
    assert status == 1
    assert lines_for(out, "secret.py") == [f"{target}:1:1: TXL000 cannot read file: Permission denied"]
    assert good_still_reported(out)


def test_unreadable_directory_is_an_error_and_the_rest_is_checked(tree, capsys, monkeypatch) -> None:
    from txlint import discovery

    locked = tree / "locked"
    locked.mkdir()
    (locked / "hidden.py").write_text(GOOD)
    deny(monkeypatch, discovery.os, "scandir", locked, PermissionError(13, "Permission denied"))
    status, out, err = run([str(tree)], capsys)
    assert status == 1 and good_still_reported(out) and "hidden.py" not in out
    assert f"txlint: error: {locked}: cannot read directory: Permission denied" in err


def test_nothing_readable_exits_two(tmp_path, capsys, monkeypatch) -> None:
    from txlint import discovery

    deny(monkeypatch, discovery.os, "scandir", tmp_path, PermissionError(13, "Permission denied"))
    status, _, err = run([str(tmp_path)], capsys)
    assert status == 2 and "cannot read directory" in err


def unprivileged(command: list[str]) -> list[str]:
    """`command` as a user whom file permissions bind: root reads and writes anything."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: the monkeypatched tests cover this")
    prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    if subprocess.run([*prefix, sys.executable, "-c", "import txlint"], capture_output=True).returncode != 0:
        pytest.skip("the unprivileged user cannot run this checkout's txlint")
    return [*prefix, *command]


@pytest.fixture
def open_tree():
    """A tree outside pytest's private temporary folder, which other users cannot enter."""
    root = Path(tempfile.mkdtemp(prefix="txlint-hostile-"))
    root.chmod(0o777)
    (root / "good.py").write_text(GOOD)
    (root / "good.py").chmod(0o666)
    yield root
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o777 if path.is_dir() else 0o666)
    shutil.rmtree(root)


def txlint_unprivileged(*args: str) -> subprocess.CompletedProcess[str]:
    command = unprivileged([sys.executable, "-m", "txlint.cli", *args])
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def test_unreadable_file_really_unreadable(open_tree) -> None:
    target = open_tree / "secret.py"
    target.write_text(GOOD)
    target.chmod(0o000)
    result = txlint_unprivileged(str(open_tree))
    assert result.returncode == 1
    assert lines_for(result.stdout, "secret.py") == [f"{target}:1:1: TXL000 cannot read file: Permission denied"]
    assert good_still_reported(result.stdout)


def test_unreadable_directory_really_unreadable(open_tree) -> None:
    locked = open_tree / "locked"
    locked.mkdir()
    (locked / "hidden.py").write_text(GOOD)
    locked.chmod(0o000)
    result = txlint_unprivileged(str(open_tree))
    assert result.returncode == 1 and good_still_reported(result.stdout)
    assert f"txlint: error: {locked}: cannot read directory: Permission denied" in result.stderr


def test_file_of_another_user_is_not_replaced_by_fix(open_tree) -> None:
    # The folder is writable, so a rename would succeed: txlint must not use it.
    target = open_tree / "theirs.py"
    target.write_text(GOOD)
    target.chmod(0o644)
    result = txlint_unprivileged("--fix", str(open_tree))
    assert target.read_text() == GOOD and result.returncode == 1
    assert f"{target}:1:1: TXL000 cannot write fixes: the file is read-only" in result.stdout
    assert FIXED_LINE in (open_tree / "good.py").read_text() and no_temporary_files(open_tree)


def test_file_in_read_only_directory_is_reported_not_fixed(open_tree) -> None:
    folder = open_tree / "sealed"
    folder.mkdir()
    target = folder / "views.py"
    target.write_text(GOOD)
    target.chmod(0o666)
    folder.chmod(0o555)
    result = txlint_unprivileged("--fix", str(open_tree))
    assert target.read_text() == GOOD and result.returncode == 1
    assert f"{target}:1:1: TXL000 cannot write fixes: Permission denied" in result.stdout
    assert FIXED_LINE in (open_tree / "good.py").read_text()


def test_file_deleted_between_discovery_and_read(tree, capsys, monkeypatch) -> None:
    doomed = tree / "doomed.py"
    doomed.write_text(GOOD)
    real_discover = cli.discover

    def discover_then_delete(*args, **kwargs):
        found = list(real_discover(*args, **kwargs))
        doomed.unlink()
        return found

    monkeypatch.setattr(cli, "discover", discover_then_delete)
    status, out, _ = run([str(tree)], capsys)
    assert status == 1
    assert lines_for(out, "doomed.py") == [f"{doomed}:1:1: TXL000 cannot read file: No such file or directory"]
    assert good_still_reported(out)


def interfere(monkeypatch, path: Path, action) -> None:
    """Run `action(path)` after txlint has read `path` and before it writes the fix."""
    real_fix_source = engine.fix_source

    def fix_source(source, rules, source_file, *args, **kwargs):
        if source_file.path == str(path):
            action(path)
        return real_fix_source(source, rules, source_file, *args, **kwargs)

    monkeypatch.setattr(engine, "fix_source", fix_source)


def test_file_changed_between_read_and_write_is_not_overwritten(tree, capsys, monkeypatch) -> None:
    target = tree / "busy.py"
    target.write_text(GOOD)
    theirs = GOOD + "# an edit made while txlint was fixing\n"
    interfere(monkeypatch, target, lambda path: path.write_text(theirs))
    status, out, err = run([str(tree), "--fix"], capsys)
    assert target.read_text() == theirs
    assert status == 1
    assert lines_for(out, "busy.py") == [
        f"{target}:1:1: TXL000 cannot write fixes: the file changed while txlint was fixing it",
        f"{target}:8:9: TXL101 `send_receipt.delay()` dispatches a job inside `with transaction.atomic()`; "
        "defer it with `transaction.on_commit()`",
    ]
    assert "fixed 1 finding(s) in 1 file(s)" in err  # good.py only
    assert FIXED_LINE in (tree / "good.py").read_text() and no_temporary_files(tree)


def test_file_deleted_between_read_and_write_is_not_recreated(tree, capsys, monkeypatch) -> None:
    target = tree / "gone.py"
    target.write_text(GOOD)
    interfere(monkeypatch, target, Path.unlink)
    status, out, _ = run([str(tree), "--fix"], capsys)
    assert not target.exists() and status == 1
    assert f"{target}:1:1: TXL000 cannot write fixes: No such file or directory" in out
    assert no_temporary_files(tree)


def test_read_only_file_is_reported_not_fixed(tree, capsys) -> None:
    target = tree / "frozen.py"
    target.write_text(GOOD)
    target.chmod(0o444)
    status, out, err = run([str(tree), "--fix"], capsys)
    assert target.read_text() == GOOD and status == 1
    assert f"{target}:1:1: TXL000 cannot write fixes: the file is read-only" in out
    assert "TXL101" in lines_for(out, "frozen.py")[1]
    assert FIXED_LINE in (tree / "good.py").read_text()


def test_unwritable_directory_is_reported_not_fixed(tree, capsys, monkeypatch) -> None:
    target = tree / "good.py"

    def mkstemp(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli.tempfile, "mkstemp", mkstemp)
    status, out, _ = run([str(tree), "--fix"], capsys)
    assert target.read_text() == GOOD and status == 1
    assert f"{target}:1:1: TXL000 cannot write fixes: Permission denied" in out


def test_fix_that_cannot_be_encoded_is_reported_not_written(tree, capsys, monkeypatch) -> None:
    target = tree / "ascii.py"
    original = b"# -*- coding: ascii -*-\n" + GOOD.encode()
    target.write_bytes(original)
    real_fix_source = engine.fix_source

    def non_ascii_fix(*args, **kwargs):
        result = real_fix_source(*args, **kwargs)
        return FixResult(result.source + "# é\n", result.applied, result.remaining)

    monkeypatch.setattr(engine, "fix_source", non_ascii_fix)
    status, out, _ = run([str(target), "--fix"], capsys)
    assert target.read_bytes() == original and status == 1
    assert "TXL000 cannot write fixes: the fixed code cannot be encoded in ascii" in out


# Internal errors and exit statuses


def test_internal_error_in_one_file_is_reported_and_the_run_goes_on(tree, capsys, monkeypatch) -> None:
    cursed = tree / "cursed.py"
    cursed.write_text(GOOD)
    real_analyse = engine.analyse

    def analyse(source, rules, source_file, *args, **kwargs):
        if source_file.path == str(cursed):
            raise KeyError("boom")
        return real_analyse(source, rules, source_file, *args, **kwargs)

    monkeypatch.setattr(engine, "analyse", analyse)
    status, out, err = run([str(tree)], capsys)
    assert status == 1 and good_still_reported(out) and not lines_for(out, "cursed.py")
    assert f"txlint: error: {cursed}: internal error: KeyError: 'boom' at cli.py:" in err
    (tree / "good.py").unlink()
    assert run([str(tree)], capsys)[0] == 2


def report(error: str | None = None, findings: int = 0, diff: str = "") -> FileReport:
    diagnostics = [Diagnostic("TXL101", "m", 1, 0, 1, 1)] * findings
    return FileReport("a.py", diagnostics, diff=diff, error=error)


@pytest.mark.parametrize(
    ("reports", "usage_error", "walk_error", "expected"),
    [
        ([], False, False, 0),
        ([report()], False, False, 0),
        ([report(findings=1)], False, False, 1),
        ([report(), report(error="internal error")], False, False, 1),
        ([report(error="internal error")], False, False, 2),
        ([report()], False, True, 1),
        ([], False, True, 2),
        ([report(findings=1)], True, False, 2),
    ],
    ids=[
        "nothing-to-check",
        "clean",
        "findings",
        "some-files-failed",
        "every-file-failed",
        "unreadable-folder",
        "no-folder-readable",
        "missing-path",
    ],
)
def test_exit_status(reports, usage_error, walk_error, expected) -> None:
    assert exit_status(reports, usage_error, walk_error, diff=False) == expected


def test_exit_status_with_diff_counts_diffs() -> None:
    assert exit_status([report(findings=1)], False, False, diff=True) == 0
    assert exit_status([report(diff="-a\n+b\n")], False, False, diff=True) == 1


# Standard input


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"x = '\xe9'\n" + GOOD.encode(), "cannot decode file"), (GOOD.encode() + b"\0", "null bytes")],
    ids=["undecodable", "null-bytes"],
)
def test_hostile_standard_input_is_a_finding(monkeypatch, capsys, data, message) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    status, out, _ = run(["--stdin-filename", "app/views.py"], capsys)
    assert status == 1 and "TXL000" in out and message in out


# The same files through flake8


def test_flake8_survives_the_hostile_files(tmp_path) -> None:
    files = {
        "good.py": GOOD.encode(),
        "broken.py": (GOOD + "def broken(:\n").encode(),
        "newer.py": (GOOD + "type Price = int\n").encode(),
        "latin.py": b"# -*- coding: latin-1 -*-\n" + GOOD.encode() + "N = 'é'\n".encode("latin-1"),
        "bom.py": b"\xef\xbb\xbf" + GOOD.encode(),
        "crlf.py": GOOD.replace("\n", "\r\n").encode(),
        "classic_mac.py": GOOD.replace("\n", "\r").encode(),
        "nul.py": GOOD.encode() + b"\0",
        "empty.py": b"",
        "parentheses.py": (GOOD + DEEP["parentheses"]).encode(),
        "calls.py": (GOOD + "x = " + "f(" * 150 + ")" * 150 + "\n").encode(),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    flake8 = shutil.which("flake8", path=os.path.dirname(sys.executable)) or "flake8"
    result = subprocess.run(
        [flake8, "--isolated", "--select", "TXL,E999,E902", str(tmp_path)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 1 and result.stderr == ""
    reported = {os.path.basename(line.split(":")[0]): line.split(": ", 1)[1].split()[0] for line in result.stdout.splitlines()}
    assert reported == {
        "good.py": "TXL101",
        "broken.py": "E999",
        "newer.py": "E999" if NEWER_THAN_INTERPRETER else "TXL101",
        "latin.py": "TXL101",
        "bom.py": "TXL101",
        "crlf.py": "TXL101",
        "classic_mac.py": "TXL101",
        "nul.py": "E999",
        "parentheses.py": "E999",
        "calls.py": "TXL101",
    }
