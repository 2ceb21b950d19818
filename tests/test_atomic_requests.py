"""ATOMIC_REQUESTS: read from the project's settings, or configured; handlers are atomic."""

from __future__ import annotations

import libcst as cst
import pytest

from txlint import cli
from txlint.django.project_settings import is_settings_path, turns_on_atomic_requests
from txlint.project import project_facts

VIEW = """
from django.db import transaction
from django.http import JsonResponse

from .tasks import import_rows


def import_view(request):
    upload = Upload.objects.create(file=request.FILES["file"])
    import_rows.delay(upload.pk)
    return JsonResponse({"id": upload.pk})


@transaction.non_atomic_requests
def streaming_import_view(request):
    upload = Upload.objects.create(file=request.FILES["file"])
    import_rows.delay(upload.pk)
    return JsonResponse({"id": upload.pk})
"""


@pytest.mark.parametrize(
    ("settings", "atomic"),
    [
        ('DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "ATOMIC_REQUESTS": True}}', True),
        ('DATABASES = {"default": dict(ENGINE="django.db.backends.sqlite3", ATOMIC_REQUESTS=True)}', True),
        ('DATABASES = {"default": env.db()}\nDATABASES["default"]["ATOMIC_REQUESTS"] = True', True),
        ('DATABASES = {"default": {"ATOMIC_REQUESTS": env.bool("ATOMIC", default=True)}}', False),
        ("ATOMIC_REQUESTS = True  # ignored by Django: only DATABASES[alias] counts", False),
        ('DATABASES = {"default": {"ATOMIC_REQUESTS": False}}', False),
    ],
)
def test_settings_module_decides_atomic_requests(settings: str, atomic: bool) -> None:
    assert turns_on_atomic_requests(cst.parse_module(settings + "\n")) is atomic


def test_settings_modules_are_recognised_by_path() -> None:
    assert all(is_settings_path(p) for p in ("proj/settings.py", "proj/settings/production.py", "proj/test_settings.py"))
    assert not any(is_settings_path(p) for p in ("proj/views.py", "proj/settings_helpers/x.py/y.py"))


def project(write, settings: str, config: str = "", folder: str = "site"):
    files = {"manage.py": "", "pyproject.toml": config, "shop/__init__.py": ""}
    files.update({"shop/settings.py": settings, "shop/views.py": VIEW})
    return write({f"{folder}/{name}": text for name, text in files.items()}) / folder


def reported_lines(capsys, root) -> list[int]:
    cli.main([str(root / "shop" / "views.py")])
    return [int(line.split(":")[1]) for line in capsys.readouterr().out.splitlines()]


def test_handlers_are_atomic_when_the_settings_say_so(write, capsys) -> None:
    root = project(write, 'DATABASES = {"default": {"ATOMIC_REQUESTS": True}}\n')
    assert project_facts(str(root)).atomic_requests is True
    assert reported_lines(capsys, root) == [9]  # the non_atomic_requests view stays quiet


def test_without_atomic_requests_handlers_are_not_atomic(write, capsys) -> None:
    root = project(write, 'DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3"}}\n')
    assert reported_lines(capsys, root) == []


def test_configuration_overrides_the_settings(write, capsys) -> None:
    on = project(write, "DATABASES = {}\n", "[tool.txlint]\natomic-requests = true\n", folder="on")
    assert reported_lines(capsys, on) == [9]
    settings = 'DATABASES = {"default": {"ATOMIC_REQUESTS": True}}\n'
    off = project(write, settings, "[tool.txlint]\natomic-requests = false\n", folder="off")
    assert reported_lines(capsys, off) == []
