from __future__ import annotations

from txlint.paths import module_name_for
from txlint.project import forget_roots


def test_module_name_follows_package_folders(write) -> None:
    root = write({"core/__init__.py": "", "core/jobs/__init__.py": "", "core/jobs/redis.py": "", "script.py": ""})
    assert module_name_for(str(root / "core/jobs/redis.py")) == ("core.jobs.redis", False)
    assert module_name_for(str(root / "core/jobs/__init__.py")) == ("core.jobs", True)
    assert module_name_for(str(root / "script.py")) == ("script", False)


def test_non_module_files_have_no_name(write) -> None:
    root = write({"my-script.py": "", "notes.txt": ""})
    assert module_name_for(str(root / "my-script.py")) == (None, False)
    assert module_name_for(str(root / "notes.txt")) == (None, False)


def test_a_folder_that_is_no_identifier_ends_the_package(write) -> None:
    root = write({"my-app/__init__.py": "", "my-app/core/__init__.py": "", "my-app/core/tasks.py": ""})
    assert module_name_for(str(root / "my-app/core/tasks.py")) == ("core.tasks", False)
    assert module_name_for(str(root / "my-app/core/__init__.py")) == ("core", True)
    assert module_name_for(str(root / "my-app/__init__.py")) == (None, True)


def test_packages_are_looked_up_again_after_a_run_forgets_them(write) -> None:
    root = write({"shop/orders.py": ""})
    assert module_name_for(str(root / "shop/orders.py")) == ("orders", False)
    (root / "shop/__init__.py").write_text("")
    forget_roots()
    assert module_name_for(str(root / "shop/orders.py")) == ("shop.orders", False)
