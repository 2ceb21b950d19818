from __future__ import annotations

import libcst as cst
import pytest

from txlint.django.imports import ImportTable, resolve_relative
from txlint.django.model import build_model
from txlint.settings import Settings


def qualify(source: str, expression: str, module: str | None = "shop.orders.views", is_package: bool = False) -> str | None:
    model = build_model(cst.parse_module(source), "shop/orders/views.py", module, is_package, Settings())
    return model.qualify(cst.parse_expression(expression))


@pytest.mark.parametrize(
    ("source", "expression", "expected"),
    [
        ("from django.db import transaction\n", "transaction.atomic", "django.db.transaction.atomic"),
        ("from django.db import transaction as tx\n", "tx.atomic", "django.db.transaction.atomic"),
        ("from django.db.transaction import atomic\n", "atomic", "django.db.transaction.atomic"),
        ("from django.db.transaction import atomic as db_atomic\n", "db_atomic", "django.db.transaction.atomic"),
        ("import django.db.transaction\n", "django.db.transaction.atomic", "django.db.transaction.atomic"),
        ("import django.db.transaction as t\n", "t.on_commit", "django.db.transaction.on_commit"),
        ("from . import tasks\n", "tasks.send.delay", "shop.orders.tasks.send.delay"),
        ("from .tasks import send\n", "send", "shop.orders.tasks.send"),
        ("from ..billing.tasks import charge\n", "charge", "shop.billing.tasks.charge"),
        ("def local():\n    pass\n", "local", "shop.orders.views.local"),
        ("x = 1\n", "unknown.attr", "unknown.attr"),
        ("from .tasks import *\n", "send", "send"),
        ("import os\n", "f()", None),
    ],
)
def test_names_resolve_through_imports(source: str, expression: str, expected: str | None) -> None:
    assert qualify(source, expression) == expected


def test_relative_imports_of_a_package_resolve_from_the_package_itself() -> None:
    assert qualify("from .tasks import send\n", "send", module="shop.orders", is_package=True) == "shop.orders.tasks.send"


def test_relative_imports_of_an_unnamed_module_keep_their_dots() -> None:
    assert qualify("from .tasks import send\n", "send", module=None) == ".tasks.send"


def test_relative_import_above_the_top_package_keeps_its_dots() -> None:
    assert resolve_relative("shop", False, 3, "tasks") == "...tasks"


def test_local_names_for_lists_every_alias() -> None:
    table = ImportTable()
    statement = cst.parse_statement("from django.db import transaction as tx, transaction\n")
    table.add_import_from(cst.ensure_type(cst.ensure_type(statement, cst.SimpleStatementLine).body[0], cst.ImportFrom))
    assert sorted(table.local_names_for("django.db.transaction")) == ["transaction", "tx"]
