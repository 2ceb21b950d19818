"""What a run the cache answers does without: libcst and the rules (not imported), the
project index (not rebuilt for an edit that cannot change it); what an edit of a file no
rule needs to parse does without: libcst."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

import txlint.rules
from txlint import indexing, registry
from txlint.project import project_facts
from txlint.registry import all_rules, selected_codes, selected_rules
from tests.conftest import DISPATCH_IN_ATOMIC, OLD_NS, age

SHOP = {
    "pyproject.toml": "",
    "shop/__init__.py": "",
    "shop/views.py": DISPATCH_IN_ATOMIC,
    "shop/tasks.py": "from celery import shared_task\n\n\n@shared_task\ndef send_receipt(pk):\n    pass\n",
    "shop/services.py": "from .tasks import send_receipt\n\n\ndef notify(order):\n    send_receipt.delay(order.pk)\n",
    "shop/orders.py": "from .services import notify\n\n\ndef pay(order):\n    notify(order)\n",
    "shop/utils.py": "def total(items):\n    return sum(items)  # a plain helper\n",
}


# The CLI in a new process; stderr ends with the heavy modules the run imported.
RUN = """
import sys
from txlint.cli import main
status = main(sys.argv[1:])
heavy = sorted(
    m for m in sys.modules if m == "libcst" or m.startswith(("txlint.rules.", "txlint.engine", "txlint.indexing"))
)
print("imported:", heavy, file=sys.stderr)
sys.exit(status)
"""


def run(root: Path, cache: Path) -> tuple[str, str]:
    command = [sys.executable, "-c", RUN, "--jobs", "1", "--cache-dir", str(cache), str(root)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 1, result.stderr
    return result.stdout, result.stderr.splitlines()[-1]


def test_a_run_the_cache_answers_imports_neither_libcst_nor_a_rule(write, tmp_path_factory) -> None:
    root = write(SHOP)
    age(root)
    cache = tmp_path_factory.mktemp("cache")
    findings, imported = run(root, cache)
    assert "shop/views.py:8:9: TXL101" in findings
    assert "'libcst'" in imported and "'txlint.engine'" in imported  # the cold run needs them
    again, imported = run(root, cache)
    assert again == findings
    assert imported == "imported: []"


@pytest.mark.parametrize(
    ("name", "needs_libcst"),
    [
        ("shop/utils.py", False),  # nothing a rule looks for: the prescan and `ast` answer
        ("shop/views.py", True),  # a dispatch in a transaction: libcst parses it to report
    ],
)
def test_an_edit_imports_what_checking_the_file_needs_and_the_next_run_does_not(
    write, tmp_path_factory, name, needs_libcst
) -> None:
    root = write(SHOP)
    age(root)
    cache = tmp_path_factory.mktemp("cache")
    findings, _ = run(root, cache)
    edited = root / name
    edited.write_text(edited.read_text() + "# edited\n")
    again, imported = run(root, cache)
    assert again == findings
    assert "'txlint.engine'" in imported
    assert ("'libcst'" in imported) is needs_libcst
    # The edited file is read again (its stamp was too recent to trust), and found unchanged.
    again, imported = run(root, cache)
    assert again == findings
    assert imported == "imported: []"


@pytest.fixture
def indexed(monkeypatch) -> list[int]:
    """How many times the project index is built from now on."""
    built: list[int] = []
    real = indexing.indexed_facts

    def counting(*args, **kwargs):
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(indexing, "indexed_facts", counting)
    return built


def facts_after_edit(root: Path, cache: Path, name: str, text: str, indexed: list[int]):
    """The project's facts after the edit, and whether the index was built for them."""
    project_facts.cache_clear()
    (root / name).write_text(text)
    os.utime(root / name, ns=(OLD_NS + 10**9, OLD_NS + 10**9))
    count = len(indexed)
    facts = project_facts(str(root), str(cache))
    rebuilt = len(indexed) > count
    project_facts.cache_clear()
    assert facts.dispatch_chains == project_facts(str(root)).dispatch_chains  # as without the cache
    return facts, rebuilt


SERVICES = SHOP["shop/services.py"]


@pytest.mark.parametrize(
    ("name", "edit"),
    [
        ("shop/utils.py", "def total(items):\n    return sum(items)  # a plain helper, edited\n"),
        # New words, none of them called: not even a chain's name in a comment or a string.
        ("shop/utils.py", "def total(items):\n    return sum(items)  # not notify, which dispatches\n"),
        ("shop/utils.py", "def total(items):\n    label = 'notify'\n    return sum(items)\n"),
        # A module the index summarised, summarised alike knowing the same chains.
        ("shop/services.py", SERVICES.replace("pk)", "pk)  # x")),
        ("shop/services.py", SERVICES.replace("    send", "    label = 'paid'\n    send")),
    ],
)
def test_an_edit_that_cannot_change_the_index_reuses_the_facts(
    write, tmp_path_factory, indexed: list[int], name, edit
) -> None:
    root = write(SHOP)
    age(root)
    cache = tmp_path_factory.mktemp("cache")
    before = project_facts(str(root), str(cache))
    assert "shop.orders.pay" in before.dispatch_chains and len(indexed) == 1
    facts, rebuilt = facts_after_edit(root, cache, name, edit, indexed)
    assert facts.dispatch_chains == before.dispatch_chains and facts.read == 1 and not rebuilt
    # The edit is remembered: the next run finds the facts by their signature.
    project_facts.cache_clear()
    count = len(indexed)
    assert project_facts(str(root), str(cache)).read == 0 and len(indexed) == count


def test_a_summary_kept_for_an_edit_serves_the_next_rebuild(write, tmp_path_factory, indexed: list[int]) -> None:
    """The summarised module edited alike keeps its summary in the cache, for the new
    content: a later edit elsewhere rebuilds the index from it, as without the cache."""
    root = write(SHOP)
    age(root)
    cache = tmp_path_factory.mktemp("cache")
    project_facts(str(root), str(cache))
    _, rebuilt = facts_after_edit(root, cache, "shop/services.py", SERVICES.replace("pk)", "pk)  # x"), indexed)
    assert not rebuilt
    call = "from .services import notify\n\n\ndef total(items):\n    notify(items)\n"
    facts, rebuilt = facts_after_edit(root, cache, "shop/utils.py", call, indexed)
    assert rebuilt and "shop.utils.total" in facts.dispatch_chains and facts.parsed == 1


@pytest.mark.parametrize(
    ("name", "text"),
    [
        # A new call may be of a chain: the index must look again.
        ("shop/utils.py", "from .services import notify\n\n\ndef total(items):\n    notify(items)\n"),
        ("shop/utils.py", "from .services import notify as alert\n\n\ndef total(items):\n    return sum(items)\n"),
        ("shop/utils.py", "def total(items):\n    return sum(items)\n\n\ndef later(order):\n    order.notify()\n"),
        # Now shaped as a dispatch.
        ("shop/utils.py", "def total(items):\n    items.delay()\n"),
        # A module the index summarised, whose summary changes.
        ("shop/services.py", "from .tasks import send_receipt\n\n\ndef notify(order):\n    pass  # send_receipt.delay\n"),
        ("shop/services.py", "from .tasks import send_receipt\n\n\ndef notify(order):\n    send_receipt.apply_async(order.pk)\n"),
        # The same words, each followed as before: only the summary tells the change.
        ("shop/services.py", SERVICES.replace("    send", "    send_receipt.delay(order.pk)\n    send")),
        # The same words, each followed as before: only the summary can tell that nothing is dispatched.
        ("shop/services.py", "from .tasks import send_receipt\n\n\ndef notify(order):\n    order.pk(send_receipt.delay)\n"),
    ],
)
def test_an_edit_that_may_change_the_index_rebuilds_it(write, tmp_path_factory, indexed: list[int], name, text) -> None:
    root = write(SHOP)
    age(root)
    cache = tmp_path_factory.mktemp("cache")
    project_facts(str(root), str(cache))
    facts, rebuilt = facts_after_edit(root, cache, name, text, indexed)
    assert rebuilt
    if name == "shop/services.py":
        # Parsed once at most: a summary made to compare with the former one serves the rebuild.
        assert facts.parsed <= 1


def test_opt_in_rules_are_known_without_importing_them() -> None:
    assert txlint.rules.OPT_IN == {rule.code for rule in all_rules() if rule.opt_in}


PREFIXES = ("", "TXL", "TXL1", "TXL10", "TXL101", "TXL2", "TXL204", "TXL3", "TXL303", "txl2")


def reference_selection(select, ignore, extend_select, strict) -> tuple[str, ...]:
    """The selection by the rule classes themselves (flake8's longest prefix wins)."""

    def longest(code, prefixes):
        return max((len(p) for p in prefixes if code.startswith(p.upper())), default=-1)

    explicit = {p.upper() for p in (*select, *extend_select)}
    chosen = []
    for rule in all_rules():
        by = max(longest(rule.code, select) if select else 0, longest(rule.code, extend_select))
        if rule.opt_in and not strict and rule.code not in explicit:
            continue
        if by > longest(rule.code, ignore):
            chosen.append(rule.code)
    return tuple(chosen)


@pytest.mark.parametrize("strict", [False, True])
def test_selected_codes_choose_as_the_rule_classes_would(strict: bool) -> None:
    for select, ignore, extend in itertools.product(PREFIXES, PREFIXES, ("", "TXL303", "TXL2")):
        args = tuple(p for p in (select,) if p), tuple(p for p in (ignore,) if p), tuple(p for p in (extend,) if p)
        expected = reference_selection(*args, strict)
        assert selected_codes(*args, strict) == expected, args
        assert tuple(rule.code for rule in selected_rules(*args, strict)) == expected


def test_an_edit_naming_a_configured_dispatcher_rebuilds_the_index(write, tmp_path_factory, indexed: list[int]) -> None:
    root = write({**SHOP, "pyproject.toml": '[tool.txlint]\ndispatchers = ["core.redis.start_job"]\n'})
    age(root)
    cache = tmp_path_factory.mktemp("cache")
    project_facts(str(root), str(cache))
    # No new call, but a configured dispatcher's name makes the file one the index summarises.
    edit = "def total(items):\n    return sum(items)  # start_job later\n"
    _, rebuilt = facts_after_edit(root, cache, "shop/utils.py", edit, indexed)
    assert rebuilt


@pytest.mark.parametrize(
    ("modules", "problem"),
    [
        ({"TXL101": "txl102_call_dispatches_in_transaction"}, "TXL102 lives in txl102"),
        ({"TXL101": "txl101_dispatch_in_transaction", "TXL199": "txl101_dispatch_in_transaction"}, "defined twice"),
    ],
)
def test_a_rule_module_holds_the_rule_its_name_says(monkeypatch, modules, problem) -> None:
    monkeypatch.setattr(registry, "rule_modules", lambda: modules)
    registry.all_rules.cache_clear()
    try:
        with pytest.raises(RuntimeError, match=problem):
            registry.all_rules()
    finally:
        registry.all_rules.cache_clear()


# Every module of txlint but those that exist to use libcst's metadata and codemods.
IMPORT_ALL = """
import importlib, pkgutil, sys
import txlint
for module in pkgutil.walk_packages(txlint.__path__, "txlint."):
    if module.name not in ("txlint.__main__", "txlint.positions", "txlint.rewriting"):
        importlib.import_module(module.name)
print(sorted(name for name in sys.modules if name.split(".")[0] == "libcst"))
"""


def test_importing_txlint_does_not_import_libcst() -> None:
    """libcst is imported when a rule first reads it (`txlint.lazy`): a name of libcst
    read when a module is imported (a base class, a table by node type) would import it
    for every run."""
    result = subprocess.run([sys.executable, "-c", IMPORT_ALL], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


LAZY = """
import sys
from txlint.lazy import lazy_module
stand_in = lazy_module("colorsys")
assert "colorsys" not in sys.modules
assert stand_in.rgb_to_hsv is sys.modules["colorsys"].rgb_to_hsv
# Loaded: the hook is gone and the names are the stand-in's own, read as in any module.
assert "__getattr__" not in vars(stand_in) and vars(stand_in)["hls_to_rgb"] is sys.modules["colorsys"].hls_to_rgb
try:
    stand_in.no_such_name
except AttributeError:
    print("ok")
"""


def test_a_lazy_module_imports_on_the_first_read_and_then_is_an_ordinary_module() -> None:
    result = subprocess.run([sys.executable, "-c", LAZY], capture_output=True, text=True, check=False)
    assert result.stdout.strip() == "ok", result.stderr
