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
