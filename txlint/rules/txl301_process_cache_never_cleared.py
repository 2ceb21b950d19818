from __future__ import annotations

import ast
from collections.abc import Iterator

from txlint.diagnostics import FixSafety
from txlint.django import DjangoModule
from txlint.django.caches import (
    LRU_CACHES,
    QUERY_TOKENS,
    CacheKind,
    ModuleCaches,
    decorator_name,
    instance_caches,
    may_hold_process_cache,
    snippet,
)
from txlint.django.outline import Outline
from txlint.lazy import cst
from txlint.rule import Finding, Invalid, Rule, Valid, dedent
from txlint.settings import Settings, contains_any


class ProcessCacheNeverCleared(Rule):
    """
    ## What it does
    Finds caches of database results that live as long as the process and that
    nothing in the project clears:
    - a module-level or class-level dict or list filled with ORM results inside a
      function (`if pk not in _cache: _cache[pk] = Site.objects.get(pk=pk)`,
      `_cache.setdefault(key, ...)`), reported at the line that fills it;
    - `functools.lru_cache` / `functools.cache` on a function or method whose body
      queries the database, reported at its `def` line.

    ## Why is this bad?
    A web or Celery worker runs for days. The first request that fills the cache fixes
    the value for every later request the worker serves: a renamed site, a disabled
    currency, a deleted permission is served from memory until the next deploy, and
    each worker may hold a different version. In tests, rows cached by one test leak
    into the next one after the database was flushed.

    ## Example
    ```python
    _site_cache = {}

    def get_site(site_id):
        if site_id not in _site_cache:
            _site_cache[site_id] = Site.objects.get(pk=site_id)
        return _site_cache[site_id]
    ```

    ## Use instead
    ```python
    from django.core.cache import cache

    def get_site(site_id):
        return cache.get_or_set(f"site:{site_id}", lambda: Site.objects.get(pk=site_id), timeout=300)
    ```
    or a TTL cache (`cachetools.TTLCache`), or clear the cache from a `post_save` /
    `post_delete` receiver of the model.

    ## Fix safety
    Display-only: how long a value may be stale, and which writes must invalidate it,
    is a design decision. No fix is offered.

    ## Options
    None. Whether something clears a cache is looked up in the whole project: any
    `.clear()`, `.pop()`, `.popitem()`, `.remove()`, `del cache[...]`, reassignment
    (`global _cache; _cache = {}`, `Registry._cache = {}`), `func.cache_clear()`, or a
    write of a value that is not a query (a signal receiver doing
    `_cache[instance.pk] = instance`) keeps the rule quiet, in the module itself or in
    any module of the project (tests included) that clears it through an import
    (`from shop.lookups import _cache`, `lookups.get_site.cache_clear()`): the
    adapters scan the project for such calls and parse only the files that make one.
    `cache.clear()` on Django's cache framework is not a container clear.

    Quiet on purpose, from reading real code: containers that are neither named like a
    cache (`cache`, `memo`) nor read in the function that fills them; dicts that an
    instance replaces (`self._cache = {}`); `ContentType.objects.get_for_model()` and
    friends, which Django caches for the life of the process itself; a global set to
    a query result (`_settings = Model.objects.get()`), since its reassignment cannot
    be told from a reset; and modules whose process ends with the job: migrations,
    management commands, tests.
    """

    code = "TXL301"
    name = "process-cache-never-cleared"
    summary = "Process-lifetime cache of database results, never cleared"
    fix_title = None
    fix_safety = FixSafety.DISPLAY_ONLY
    valid = (
        Valid(
            "module_cache_cleared_by_signal_receiver",
            dedent("""
                from django.contrib.sites.models import Site
                from django.db.models.signals import post_delete, post_save
                from django.dispatch import receiver

                _site_cache = {}


                def get_site(site_id):
                    if site_id not in _site_cache:
                        _site_cache[site_id] = Site.objects.get(pk=site_id)
                    return _site_cache[site_id]


                @receiver([post_save, post_delete], sender=Site)
                def forget_site(sender, instance, **kwargs):
                    _site_cache.pop(instance.pk, None)
            """),
            path="core/sites.py",
        ),
        Valid(
            "lru_cache_on_a_pure_function",
            dedent("""
                import re
                from functools import lru_cache


                @lru_cache(maxsize=256)
                def slug_pattern(separator):
                    return re.compile(rf"[^a-z0-9{re.escape(separator)}]+")


                def slugify(text, separator="-"):
                    return slug_pattern(separator).sub(separator, text.lower()).strip(separator)
            """),
            path="core/text.py",
        ),
        Valid(
            "lru_cache_cleared_in_setting_changed_receiver",
            dedent("""
                from functools import lru_cache

                from django.core.signals import setting_changed
                from django.db.models.signals import post_save
                from django.dispatch import receiver

                from billing.models import Currency


                @lru_cache(maxsize=None)
                def default_currency():
                    return Currency.objects.get(is_default=True)


                @receiver(post_save, sender=Currency)
                @receiver(setting_changed)
                def reset_default_currency(**kwargs):
                    default_currency.cache_clear()
            """),
            path="billing/currency.py",
        ),
        Valid(
            "settings_backend_cache",
            dedent("""
                from functools import cache

                from django.conf import settings
                from django.utils.module_loading import import_string


                @cache
                def get_storage_backend():
                    return import_string(settings.EXPORT_STORAGE_BACKEND)(**settings.EXPORT_STORAGE_OPTIONS)
            """),
            path="exports/storage.py",
        ),
        Valid(
            "module_cache_of_compiled_templates",
            dedent("""
                from django.template import engines

                _template_cache = {}


                def render_snippet(source, context):
                    if source not in _template_cache:
                        _template_cache[source] = engines["django"].from_string(source)
                    return _template_cache[source].render(context)
            """),
            path="cms/snippets.py",
        ),
        Valid(
            "cache_cleared_in_another_module",
            dedent("""
                from plans.models import Plan

                _plan_cache = {}


                def plan_by_code(code):
                    if code not in _plan_cache:
                        _plan_cache[code] = Plan.objects.get(code=code)
                    return _plan_cache[code]
            """),
            path="plans/services.py",
            settings=Settings(cleared_caches=frozenset({"plans.services._plan_cache"})),
        ),
        Valid(
            "lru_cache_cleared_in_another_module",
            dedent("""
                from functools import lru_cache

                from accounts.models import User
                from django.conf import settings


                @lru_cache(maxsize=None)
                def get_anonymous():
                    return User.objects.select_related("profile").get(username=settings.ANONYMOUS_USER_NAME)
            """),
            path="accounts/anonymous.py",
            settings=Settings(cleared_caches=frozenset({"accounts.anonymous.get_anonymous"})),
        ),
        Valid(
            "cache_inside_a_management_command",
            dedent("""
                from django.core.management.base import BaseCommand

                from catalog.models import Category, Product

                _categories = {}


                def category_for(path):
                    if path not in _categories:
                        _categories[path] = Category.objects.get(path=path)
                    return _categories[path]


                class Command(BaseCommand):
                    def handle(self, *args, **options):
                        for row in self.read_rows(options["file"]):
                            Product.objects.create(name=row["name"], category=category_for(row["category"]))
            """),
            path="catalog/management/commands/import_products.py",
        ),
        Valid(
            "content_type_lookups_are_cached_by_django",
            dedent("""
                from functools import lru_cache

                from django.contrib.contenttypes.models import ContentType


                @lru_cache(maxsize=None)
                def content_type_id(model):
                    return ContentType.objects.get_for_model(model, for_concrete_model=False).pk
            """),
            path="activity/utils.py",
        ),
        Valid(
            "per_instance_dict_replaced_in_init",
            dedent("""
                from pricing.models import PriceRule


                class PriceCalculator:
                    _rules = {}

                    def __init__(self, channel):
                        self.channel = channel
                        self._rules = {}

                    def rules_for(self, product):
                        if product.pk not in self._rules:
                            self._rules[product.pk] = list(PriceRule.objects.filter(channel=self.channel, product=product))
                        return self._rules[product.pk]
            """),
            path="pricing/calculator.py",
        ),
        Valid(
            "global_cache_reset_by_reassignment",
            dedent("""
                from core.models import Feature

                _feature_cache = {}


                def feature_enabled(name):
                    if name not in _feature_cache:
                        _feature_cache[name] = Feature.objects.filter(name=name, enabled=True).exists()
                    return _feature_cache[name]


                def reset_features():
                    global _feature_cache
                    _feature_cache = {}
            """),
            path="core/features.py",
        ),
        Valid(
            "receiver_keeps_cache_up_to_date",
            dedent("""
                from django.db.models.signals import post_save
                from django.dispatch import receiver

                from shop.models import TaxRate

                _rates = {}


                def tax_rate(country):
                    if country not in _rates:
                        _rates[country] = TaxRate.objects.get(country=country)
                    return _rates[country]


                @receiver(post_save, sender=TaxRate)
                def update_rate(sender, instance, **kwargs):
                    _rates[instance.country] = instance
            """),
            path="shop/tax.py",
        ),
        Valid(
            "cachetools_ttl_cache",
            dedent("""
                from cachetools import TTLCache, cached

                from rates.models import ExchangeRate


                @cached(TTLCache(maxsize=64, ttl=300))
                def latest_rate(currency):
                    return ExchangeRate.objects.filter(currency=currency).latest("date").rate
            """),
            path="rates/services.py",
        ),
        Valid(
            "cache_in_test_helpers",
            dedent("""
                from functools import lru_cache

                from accounts.models import User


                @lru_cache(maxsize=None)
                def admin_user():
                    return User.objects.get(username="admin")
            """),
            path="accounts/tests/helpers.py",
        ),
        Valid(
            "connected_receiver_reloads_the_row",
            dedent("""
                from django.db.models.signals import post_save

                from flags.models import Flag

                _flag_cache = {}


                def flag(name):
                    if name not in _flag_cache:
                        _flag_cache[name] = Flag.objects.get(name=name)
                    return _flag_cache[name]


                def reload_flag(sender, instance, **kwargs):
                    _flag_cache[instance.name] = Flag.objects.get(pk=instance.pk)


                post_save.connect(reload_flag, sender=Flag)
            """),
            path="flags/lookup.py",
        ),
    )
    invalid = (
        Invalid(
            "module_dict_cache_of_sites",
            dedent("""
                from django.contrib.sites.models import Site

                _site_cache = {}


                def get_site(site_id):
                    if site_id not in _site_cache:
                        _site_cache[site_id] = Site.objects.get(pk=site_id)  # TXL301
                    return _site_cache[site_id]
            """),
            path="core/sites.py",
        ),
        Invalid(
            "lru_cache_on_default_currency",
            dedent("""
                from functools import lru_cache

                from billing.models import Currency


                @lru_cache(maxsize=None)
                def default_currency():  # TXL301
                    return Currency.objects.get(is_default=True)
            """),
            path="billing/currency.py",
        ),
        Invalid(
            "functools_cache_alias_on_anonymous_user",
            dedent("""
                from functools import cache as functools_cache

                from django.conf import settings

                from accounts.models import User


                @functools_cache
                def get_anonymous() -> User:  # TXL301
                    \"\"\"Return an anonymous user.\"\"\"
                    return User.objects.select_related("profile").get(username=settings.ANONYMOUS_USER_NAME)


                def is_anonymous(user):
                    return user.pk == get_anonymous().pk
            """),
            path="accounts/models.py",
        ),
        Invalid(
            "lru_cache_on_model_lookup_by_kwargs",
            dedent("""
                import functools


                @functools.lru_cache(maxsize=32)
                def object_id_to_string(model_class, **kwargs):  # TXL301
                    try:
                        return str(model_class.objects.get(**kwargs))
                    except model_class.DoesNotExist:
                        return "?"
            """),
            path="control/logdisplay.py",
        ),
        Invalid(
            "class_level_cache_filled_by_classmethod",
            dedent("""
                from django.db import models


                class Country(models.Model):
                    code = models.CharField(max_length=2, unique=True)
                    name = models.CharField(max_length=100)

                    _by_code = {}

                    @classmethod
                    def by_code(cls, code):
                        if code not in cls._by_code:
                            cls._by_code[code] = cls.objects.get(code=code)  # TXL301
                        return cls._by_code[code]
            """),
            path="geo/models.py",
        ),
        Invalid(
            "setdefault_nested_cache_of_settings_rows",
            dedent("""
                from collections import defaultdict

                from config.models import SiteSetting

                _SETTINGS_CACHE = defaultdict(dict)


                def site_setting(site_id, key, default=None):
                    site_settings = _SETTINGS_CACHE[site_id]
                    if key not in site_settings:
                        rows = SiteSetting.objects.filter(site_id=site_id, key=key)
                        _SETTINGS_CACHE[site_id][key] = rows.values_list("value", flat=True).first()  # TXL301
                    return site_settings.get(key) or default
            """),
            path="config/settings_store.py",
        ),
        Invalid(
            "query_through_local_variable",
            dedent("""
                from partners.models import Partner

                _partner_cache = {}


                def partner_for_host(host):
                    partner = _partner_cache.get(host)
                    if partner is None:
                        partner = Partner.objects.filter(domains__host=host).select_related("theme").first()
                        _partner_cache[host] = partner  # TXL301
                    return partner
            """),
            path="partners/resolve.py",
        ),
        Invalid(
            "lru_cache_on_method_without_writer",
            dedent("""
                from functools import lru_cache

                from django.db import models


                class Region(models.Model):
                    name = models.CharField(max_length=100)

                    @lru_cache(maxsize=128)
                    def store_count(self):  # TXL301
                        return self.stores.count()
            """),
            path="geo/models.py",
        ),
        Invalid(
            "permission_codenames_cached_per_user",
            dedent("""
                _permission_cache = {}


                def permission_codenames(user):
                    if user.pk not in _permission_cache:
                        _permission_cache[user.pk] = set(user.user_permissions.values_list("codename", flat=True))  # TXL301
                    return _permission_cache[user.pk]
            """),
            path="accounts/permissions.py",
        ),
        Invalid(
            "setdefault_fill_of_module_memo",
            dedent("""
                from tenants.models import Tenant

                _tenant_memo = {}


                def tenant_for(schema):
                    return _tenant_memo.setdefault(schema, Tenant.objects.get(schema_name=schema))  # TXL301
            """),
            path="tenants/lookup.py",
        ),
        Invalid(
            "another_cache_is_cleared_but_not_this_one",
            dedent("""
                from django.db.models.signals import post_save
                from django.dispatch import receiver

                from catalog.models import Brand, Category

                _brand_cache = {}
                _category_cache = {}


                def brand(slug):
                    if slug not in _brand_cache:
                        _brand_cache[slug] = Brand.objects.get(slug=slug)
                    return _brand_cache[slug]


                def category(slug):
                    if slug not in _category_cache:
                        _category_cache[slug] = Category.objects.get(slug=slug)  # TXL301
                    return _category_cache[slug]


                @receiver(post_save, sender=Brand)
                def forget_brands(**kwargs):
                    _brand_cache.clear()
            """),
            path="catalog/lookups.py",
        ),
        Invalid(
            "get_object_or_404_in_cached_function",
            dedent("""
                from functools import lru_cache

                from django.shortcuts import get_object_or_404

                from wiki.models import Space


                @lru_cache(maxsize=512)
                def space_by_key(key):  # TXL301
                    return get_object_or_404(Space, key=key)
            """),
            path="wiki/spaces.py",
        ),
        Invalid(
            "cache_initialised_at_import_then_filled_by_queries",
            dedent("""
                from geo.models import Country

                _country_cache = {}
                _country_cache["XX"] = None


                def country(code):
                    if code not in _country_cache:
                        _country_cache[code] = Country.objects.filter(code=code).first()  # TXL301
                    return _country_cache[code]
            """),
            path="geo/lookup.py",
        ),
    )

    def could_match(self, source: str, settings: Settings) -> bool:
        return contains_any(source, QUERY_TOKENS) and may_hold_process_cache(source)

    def sites(self, outline: Outline) -> list[ast.AST]:
        return outline.process_cache_sites()

    def check(self, django: DjangoModule) -> Iterator[Finding]:
        model = django.model
        caches = ModuleCaches.of(model)
        for container, statement, query in caches.uncleared_fills():
            yield self.finding(
                statement,
                f"`{container.name}` caches `{snippet(model, query, 50)}` for the life of the process and nothing "
                "clears it; use a TTL cache or Django's cache framework",
                no_fix_reason="display-only",
            )
        functions = list(caches.lru_functions())
        # An `lru_cache` method whose class writes what it counts is TXL302's, with its fix.
        claimed = {
            id(cache.function.node)
            for cache in (instance_caches(model) if functions else [])
            if cache.kind is CacheKind.LRU_CACHE and cache.writer is not None and not cache.reset
        }
        for found in functions:
            node = found.function.node
            if id(node) in claimed:
                continue
            decorator = next(d.decorator for d in node.decorators if decorator_name(model, d) in LRU_CACHES)
            if isinstance(decorator, cst.Call):
                decorator = decorator.func
            yield self.finding(
                node,
                f"`@{snippet(model, decorator, 40)}` on `{found.key}()` caches `{snippet(model, found.query, 50)}` "
                "for the life of the process and nothing calls `cache_clear()`; use a TTL cache or Django's cache framework",
                no_fix_reason="display-only",
            )
