"""What clears a process-lifetime cache, across the project (TXL301's project fact)."""

from __future__ import annotations

from txlint import cli
from txlint.project import project_facts

LOOKUPS = """
from functools import lru_cache

from catalog.models import Brand, Category

_brand_cache = {}


def brand(slug):
    if slug not in _brand_cache:
        _brand_cache[slug] = Brand.objects.get(slug=slug)
    return _brand_cache[slug]


@lru_cache(maxsize=None)
def root_category():
    return Category.objects.get(parent=None)
"""

SIGNALS = """
from django.db.models.signals import post_save
from django.dispatch import receiver

from catalog.models import Brand, Category
from shop import lookups
from shop.lookups import root_category


@receiver(post_save, sender=Brand)
def forget_brands(**kwargs):
    lookups._brand_cache.clear()


@receiver(post_save, sender=Category)
def forget_root(**kwargs):
    root_category.cache_clear()
"""


def project(write, *, with_signals: bool):
    files = {"pyproject.toml": "[project]\nname = 'shop'\n", "shop/__init__.py": "", "shop/lookups.py": LOOKUPS}
    if with_signals:
        files["shop/signals.py"] = SIGNALS
    return write(files)


def test_caches_cleared_through_imports_are_found_across_the_project(write) -> None:
    root = project(write, with_signals=True)
    assert project_facts(str(root)).cleared_caches == {"shop.lookups._brand_cache", "shop.lookups.root_category"}


def test_clearing_a_name_defined_here_is_left_to_the_module_itself(write) -> None:
    local = "_cache = {}\n\n\ndef reset():\n    _cache.clear()\n"
    root = write({"pyproject.toml": "", "shop/__init__.py": "", "shop/local.py": local})
    assert project_facts(str(root)).cleared_caches == set()


def test_django_cache_framework_clear_is_not_a_container_clear(write) -> None:
    reset = "from django.core.cache import cache\n\n\ndef reset():\n    cache.clear()\n"
    root = write({"pyproject.toml": "", "shop/__init__.py": "", "shop/reset.py": reset})
    assert project_facts(str(root)).cleared_caches == set()


def test_cache_cleared_in_another_module_is_not_reported(write, capsys) -> None:
    root = project(write, with_signals=True)
    assert cli.main([str(root / "shop/lookups.py"), "--select", "TXL301"]) == 0
    assert capsys.readouterr().out == ""


def test_cache_cleared_nowhere_is_reported_at_the_fill_and_the_def(write, capsys) -> None:
    root = project(write, with_signals=False)
    assert cli.main([str(root / "shop/lookups.py"), "--select", "TXL301"]) == 1
    lines = [line.split(":")[1] for line in capsys.readouterr().out.splitlines() if "TXL301" in line]
    assert lines == ["10", "15"]


ITEMS = """
from django.db import models
from django.utils.functional import cached_property


class Item(models.Model):
    name = models.CharField(max_length=100)

    @cached_property
    def has_variations(self):
        return self.variations.exists()
"""

STATS = """
def order_overview(items):
    for item in items:
        item.all_variations = list(item.variations.all())
        item.has_variations = len(item.all_variations) > 0
    return items
"""


def test_attributes_assigned_on_other_objects_are_found_across_the_project(write) -> None:
    root = write({"pyproject.toml": "", "shop/__init__.py": "", "shop/models.py": ITEMS, "shop/stats.py": STATS})
    assigned = project_facts(str(root)).assigned_attributes
    assert {"all_variations", "has_variations"} <= assigned and "name" not in assigned


def test_cached_property_assigned_in_another_module_keeps_its_cache(write, capsys) -> None:
    # pretix's stats service sets `item.has_variations`: a `@property` would refuse it.
    root = write({"pyproject.toml": "", "shop/__init__.py": "", "shop/models.py": ITEMS, "shop/stats.py": STATS})
    models = root / "shop/models.py"
    assert cli.main([str(models), "--select", "TXL303", "--fix", "--unsafe-fixes"]) == 1
    assert "1 `has_variations` is assigned from outside the class" in capsys.readouterr().err
    assert "@cached_property" in models.read_text()


def test_cached_property_assigned_nowhere_becomes_a_property(write, capsys) -> None:
    root = write({"pyproject.toml": "", "shop/__init__.py": "", "shop/models.py": ITEMS})
    assert cli.main([str(root / "shop/models.py"), "--select", "TXL303", "--fix", "--unsafe-fixes"]) == 0
    assert "    @property\n    def has_variations" in (root / "shop/models.py").read_text()
