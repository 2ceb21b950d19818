from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest


@pytest.fixture
def write(tmp_path: Path):
    """Write dedented files under tmp_path: write({"app/views.py": "..."})."""

    def _write(files: dict[str, str]) -> Path:
        for name, text in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"))
        return tmp_path

    return _write


# 2001: a stamp this old is trusted by the cache (not racy).
OLD_NS = 10**18


def age(root: Path) -> None:
    """Every file and folder below `root` (itself included) modified long ago."""
    for folder, subfolders, files in os.walk(root):
        for name in (*subfolders, *files):
            os.utime(os.path.join(folder, name), ns=(OLD_NS, OLD_NS))
    os.utime(root, ns=(OLD_NS, OLD_NS))


DISPATCH_IN_ATOMIC = """
from django.db import transaction
from .tasks import send_receipt


def place_order(order):
    with transaction.atomic():
        order.save()
        send_receipt.delay(order.pk)
"""


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory):
    """In-process runs share one cache of their own, never the checkout's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TXLINT_CACHE_DIR", str(tmp_path_factory.mktemp("txlint-cache")))
        yield
