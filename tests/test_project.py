from __future__ import annotations

from txlint.project import project_facts, project_root

TASKS = """
from pretix.celery_app import app
from pretix.base.services.tasks import TransactionAwareTask, ProfiledTask


@app.task(base=TransactionAwareTask, bind=True)
def mail_send_task(self, **kwargs):
    ...


@app.task(base=ProfiledTask)
def send_webhook(logentry_id):
    ...
"""


def test_transaction_aware_tasks_are_found_across_the_project(write) -> None:
    root = write(
        {
            "pyproject.toml": "[project]\nname = 'shop'\n",
            "shop/__init__.py": "",
            "shop/services/__init__.py": "",
            "shop/services/mail.py": TASKS,
            "shop/views.py": "x = 1\n",
        }
    )
    assert project_root(str(root / "shop/views.py")) == str(root)
    assert project_facts(str(root)).deferring_tasks == {"shop.services.mail.mail_send_task"}


def test_without_markers_the_top_level_package_bounds_the_project(write) -> None:
    root = write({"site/pkg/__init__.py": "", "site/pkg/sub/__init__.py": "", "site/pkg/sub/mod.py": ""})
    assert project_root(str(root / "site/pkg/sub/mod.py")) == str(root / "site")


# Every way a module clears another's cache, each in its own function among others that
# cannot (their code is not parsed for the file's facts), and a wrapper beside them.
CLEARING = '''
import contextlib

from django.db import transaction

from shop import registry, services
from shop.caches import SITE_CACHE, get_site, lookups


def render(request):
    return request.user.name


def on_settings_changed(**kwargs):
    get_site.cache_clear()


def forget(key):
    del lookups[key]


def reset():
    services._cache = {}


def drop(key):
    SITE_CACHE.pop(key, None)


class Admin:
    def save_model(self, request, obj, form, change):
        obj.save()
        registry.CACHE.clear()


@contextlib.contextmanager
def traced_atomic():
    with transaction.atomic():
        yield
'''


def test_file_facts_from_the_functions_that_may_clear_equal_those_of_the_whole_module() -> None:
    from txlint.django.caches import cleared_names
    from txlint.django.model import build_model
    from txlint.django.transactions import Transactions
    from txlint.parsing import parse_module
    from txlint.paths import module_name_for
    from txlint.indexing import file_facts
    from txlint.settings import DEFAULT_SETTINGS

    facts, parses = file_facts("/src/shop/admin.py", CLEARING)
    module = parse_module(CLEARING)
    assert module is not None
    whole = build_model(module, "/src/shop/admin.py", *module_name_for("/src/shop/admin.py"), DEFAULT_SETTINGS)
    assert facts.cleared_caches == tuple(sorted(cleared_names(whole)))
    assert {"shop.caches.get_site", "shop.caches.lookups", "shop.services._cache", "shop.registry.CACHE"} <= set(
        facts.cleared_caches
    )
    assert facts.atomic_wrappers == tuple(f"admin.{name}" for name in Transactions(whole).module_wrappers())
    assert facts.atomic_wrappers == ("admin.traced_atomic",) and parses == 1
