from __future__ import annotations

from txlint.paths import module_name_for


def test_module_name_follows_package_folders(write) -> None:
    root = write({"core/__init__.py": "", "core/jobs/__init__.py": "", "core/jobs/redis.py": "", "script.py": ""})
    assert module_name_for(str(root / "core/jobs/redis.py")) == ("core.jobs.redis", False)
    assert module_name_for(str(root / "core/jobs/__init__.py")) == ("core.jobs", True)
    assert module_name_for(str(root / "script.py")) == ("script", False)


def test_non_module_files_have_no_name(write) -> None:
    root = write({"my-script.py": "", "notes.txt": ""})
    assert module_name_for(str(root / "my-script.py")) == (None, False)
    assert module_name_for(str(root / "notes.txt")) == (None, False)
