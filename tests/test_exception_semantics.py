"""What txlint.django.exceptions and txlint.django.logs answer about handlers and loggers."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from txlint.django.exceptions import explanations, narrowest_exceptions
from txlint.django.logs import Loggers
from txlint.django.model import ModuleModel, build_model
from txlint.settings import Settings


def model_of(source: str, settings: Settings = Settings()) -> ModuleModel:
    return build_model(cst.parse_module(textwrap.dedent(source).lstrip()), "shop/views.py", "shop.views", False, settings)


def narrowed(body: str, header: str = "") -> tuple[str, ...] | None:
    source = f"{header}\ntry:\n{textwrap.indent(textwrap.dedent(body).strip(), '    ')}\nexcept:\n    pass\n"
    model = model_of(source)
    return narrowest_exceptions(model, model.tries[0].node.body)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("import ujson as json", ("ImportError",)),
        ("from local_settings import BATCH\nHAS_LOCAL = True", ("ImportError",)),
        ("page = int(request.GET['page'])", ("KeyError", "ValueError", "TypeError")),
        ("ratio = float(value)", ("ValueError", "TypeError")),
        ("first = rows[0]", ("IndexError",)),
        ("last = rows[-1]", ("IndexError",)),
        ("sale = info['transactions'][0]['id']", ("LookupError",)),
        ("item = mapping[key]", ("LookupError",)),
        ("payload = json.loads(request.body)", ("ValueError",)),
        ("order = Order.objects.get(pk=pk)", ("Order.DoesNotExist",)),
        ("order = Order.objects.select_related('customer').get(number=number)", ("Order.DoesNotExist",)),
        ("return shop.models.Order.objects.get(pk=request.GET['id'])", ("shop.models.Order.DoesNotExist", "KeyError")),
    ],
)
def test_narrowest_exception_of_understood_bodies(body: str, expected: tuple[str, ...]) -> None:
    assert narrowed(body, header="import json") == expected


@pytest.mark.parametrize(
    "body",
    [
        "os.path.splitext(name)",  # any other call
        "order = self.model.objects.get(pk=pk)",  # not a model class
        "rows[1:]",  # slices do not raise IndexError
        "obj.attr = 1",  # a property setter can raise anything
        "if x:\n    y = d['k']",  # compound statements
        "x = 1",  # nothing known is raised: no narrowing to an empty tuple
        "value = int(*args)",
    ],
)
def test_bodies_that_are_not_understood_are_not_narrowed(body: str) -> None:
    assert narrowed(body) is None


def test_subscript_of_an_imported_container_is_not_narrowed() -> None:
    assert narrowed("cache = caches['redis']", header="from django.core.cache import caches") is None


def test_int_shadowed_by_an_import_is_not_the_builtin() -> None:
    assert narrowed("x = int(value)", header="from numpy import int") is None


def handler_of(source: str) -> cst.ExceptHandler:
    return model_of(source).tries[0].node.handlers[0]


def test_a_comment_in_the_handler_explains_it() -> None:
    handler = handler_of("""
        try:
            store.load()
        except Exception:
            # the parent session may have expired meanwhile
            pass
    """)
    assert explanations(handler) == ["# the parent session may have expired meanwhile"]


@pytest.mark.parametrize("comment", ["# noqa: E722", "# TODO: narrow down", "# type: ignore", "# TXL202", "#"])
def test_tool_and_todo_comments_explain_nothing(comment: str) -> None:
    handler = handler_of(f"try:\n    x()\nexcept:  {comment}\n    pass\n")
    assert explanations(handler) == []


def log_levels(source: str, settings: Settings = Settings()) -> list[tuple[str, int]]:
    model = model_of(source, settings)
    loggers = Loggers.of(model)
    found = []
    for site in model.calls:
        log = loggers.log_call(site)
        if log is not None:
            found.append((model.code(site.node.func), log.level))
    return found


def test_loggers_are_recognised_by_how_they_are_reached() -> None:
    source = """
        import logging
        import structlog
        from celery.utils.log import get_task_logger

        audit = logging.getLogger("audit")
        events = structlog.get_logger()
        task_log = get_task_logger(__name__)


        class Service:
            def run(self):
                self.logger.info("a")
                logging.getLogger(__name__).warning("b")
                events.bind(user=1).error("c")
                task_log.critical("d")
                audit.log(logging.ERROR, "e")
                logger.debug("f")
                logging.exception("g")
    """
    assert log_levels(source) == [
        ("self.logger.info", 20),
        ("logging.getLogger(__name__).warning", 30),
        ("events.bind(user=1).error", 40),
        ("task_log.critical", 50),
        ("audit.log", 40),
        ("logger.debug", 10),
        ("logging.exception", 40),
    ]


def test_things_with_level_named_methods_that_are_not_loggers() -> None:
    source = """
        from math import log
        from django.contrib import messages


        def view(request, form):
            messages.error(request, "no")
            form.add_error(None, "no")
            record = ImportLog.objects.create()
            record.error("no")
            log = ImportLog.objects.create()
            log.error("no")
    """
    assert log_levels(source) == []


def test_configured_logger_names_are_loggers() -> None:
    source = """
        def charge(self, card):
            self.audit.error("declined")
            payments_log.info("charged")
    """
    settings = Settings(logger_names=frozenset({"self.audit", "payments_log"}))
    assert log_levels(source, settings) == [("self.audit.error", 40), ("payments_log.info", 20)]
    assert log_levels(source) == []


def test_a_fix_finds_the_module_logger_in_scope() -> None:
    model = model_of("""
        import logging

        log = logging.getLogger(__name__)


        def f():
            try:
                x()
            except Exception:
                pass
    """)
    assert Loggers.of(model).logger_in_scope(model.tries[0].handler_frames[0]) == "log"
