from __future__ import annotations

import ast
from collections.abc import Iterator

from txlint.diagnostics import Fix, FixSafety, NodeEdit
from txlint.django import DjangoModule
from txlint.django.exceptions import BROAD_BOUND_HANDLER, bound_name, is_broad, may_have, uses_name
from txlint.django.logs import LogCall, Loggers
from txlint.django.model import FrameKind
from txlint.django.outline import Outline, OutlineFrame, names_in
from txlint.django.references import keyword
from txlint.lazy import cst
from txlint.rule import Finding, Invalid, Rule, Valid, dedent
from txlint.settings import Settings


# Methods that can log at ERROR or above (`log(level, ...)` when its level says so).
ERROR_METHODS = frozenset({"error", "critical", "fatal", "log"})


class ErrorLoggedWithoutTraceback(Rule):
    """
    ## What it does
    Finds error-level log calls (`logger.error`, `logging.error`, `log.critical`) in
    a broad handler (`except Exception as e`, `except BaseException as e`) that
    format the caught exception into the message (`logger.error("sync failed: %s",
    e)`, `f"... {e}"`) without `exc_info`, in a handler that does not re-raise.

    ## Why is this bad?
    `str(e)` is often all but useless: `KeyError('id')` logs as `'id'`, an
    `AttributeError` says nothing of where it happened. The traceback, which says
    which line failed and through which calls, is lost for good, because the
    handler swallows the exception: nobody else will log it. Error monitors (Sentry's
    logging integration) also group such events by message instead of by failure.

    ## Example
    ```python
    try:
        invoice = render_invoice(order)
    except Exception as e:
        logger.error(f"invoice rendering failed for order {order.pk}: {e}")
        return None
    ```

    ## Use instead
    ```python
    try:
        invoice = render_invoice(order)
    except Exception:
        logger.exception(f"invoice rendering failed for order {order.pk}")
        return None
    ```

    ## Fix safety
    Safe: `logger.error(...)` becomes `logger.exception(...)`, which logs at the
    same ERROR level with the same message and arguments and adds the traceback of
    the exception being handled. `critical`/`fatal`/`log(level, ...)` calls get
    `exc_info=True` instead. The message keeps the exception text (remove it by hand
    if you like: the traceback repeats it).

    ## Options
    `logger_names`: extra names of logger objects.

    Only broad handlers are reported: they catch the failures nobody expected, whose
    traceback is the only clue. A narrow handler (`except HTTPError as e`,
    `except ImportError as e`) names an expected failure whose message says it all
    (on real code, mayan-edms, wagtail and Django, every narrow-handler finding read
    as noise: HTTP status codes, missing optional backends, GDAL transform errors).

    Not reported: handlers with a `raise` of any kind (the exception, or one chained
    to it, travels on and is logged with its traceback where it is handled); calls
    that pass `exc_info` or `stack_info` (even `exc_info=False`: a decision) or
    `**kwargs`; calls whose message does not mention the exception (the author chose
    a plain message, e.g. for an expected failure); warning-level calls; calls in a
    function or lambda defined inside the handler (they run later, maybe outside it);
    `.error()` on something that is not a logger (`messages.error(request, ...)`, a
    local `log = ImportLog.objects.create(...)`).
    """

    code = "TXL203"
    name = "error-logged-without-traceback"
    summary = "Caught exception logged at error level without its traceback"
    fix_title = "Log with `logger.exception()`"
    fix_safety = FixSafety.SAFE

    valid = (
        Valid(
            "logger_exception_keeps_the_traceback",
            dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def render_invoice_pdf(invoice):
                    try:
                        return invoice.render_pdf()
                    except Exception as e:
                        logger.exception("invoice %s could not be rendered: %s", invoice.number, e)
                        return None
            """),
        ),
        Valid(
            "exc_info_passed_explicitly",
            dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def process_pdf(upload):
                    try:
                        upload.convert()
                    except Exception as e:
                        logger.error(f"PDF processing failed: {e}", exc_info=True)
            """),
        ),
        Valid(
            "handler_reraises_after_logging",
            dedent("""
                import logging

                from celery import shared_task

                logger = logging.getLogger(__name__)


                @shared_task(bind=True)
                def sync_contacts(self, account_id):
                    try:
                        crm_client(account_id).sync()
                    except Exception as exc:
                        logger.error("contact sync failed for account %s: %s", account_id, exc)
                        raise self.retry(exc=exc)
            """),
        ),
        Valid(
            "handler_raises_from",
            dedent("""
                import logging

                from rest_framework.exceptions import APIException

                logger = logging.getLogger(__name__)


                def charge(card, amount):
                    try:
                        return card.charge(amount)
                    except Exception as e:
                        logger.error("charge of %s failed: %s", amount, e)
                        raise APIException("payment failed") from e
            """),
        ),
        Valid(
            "narrow_expected_error_message_is_enough",
            dedent("""
                import logging
                from urllib.error import HTTPError
                from urllib.request import urlopen

                logger = logging.getLogger(__name__)


                def purge(url):
                    try:
                        urlopen(url)
                    except HTTPError as e:
                        logger.error("Couldn't purge '%s' from HTTP cache. HTTPError: %d %s", url, e.code, e.reason)
            """),
        ),
        Valid(
            "optional_backend_import_error",
            dedent("""
                import logging

                from django.utils.module_loading import import_string

                logger = logging.getLogger(__name__)


                def get_backend_class(path):
                    try:
                        return import_string(path)
                    except ImportError as exception:
                        logger.error(exception)
                        return None
            """),
        ),
        Valid(
            "message_does_not_mention_the_exception",
            dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def send_digest(user):
                    try:
                        user.send_digest()
                    except Exception:
                        logger.error("digest for user %s not sent", user.pk)
            """),
        ),
        Valid(
            "warning_level",
            dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def geocode_address(address, client):
                    try:
                        return client.geocode(address)
                    except Exception as e:
                        logger.warning("geocoding failed: %s", e)
                        return None
            """),
        ),
        Valid(
            "log_call_in_a_callback_defined_in_the_handler",
            dedent("""
                import logging

                from django.db import transaction

                logger = logging.getLogger(__name__)


                def cancel(order):
                    try:
                        order.payment.refund()
                    except Exception as e:
                        transaction.on_commit(lambda: logger.error("refund failed: %s", e))
                        order.mark_refund_failed()
            """),
        ),
        Valid(
            "django_messages_error_is_not_a_logger",
            dedent("""
                from django.contrib import messages
                from django.shortcuts import redirect


                def import_csv(request):
                    try:
                        rows = parse_csv(request.FILES["file"])
                    except Exception as e:
                        messages.error(request, f"Import failed: {e}")
                        return redirect("import")
                    return redirect("import-preview", len(rows))
            """),
        ),
        Valid(
            "exc_info_false_is_a_decision",
            dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def check_license(key):
                    try:
                        return validate(key)
                    except Exception as e:
                        logger.error("license check failed: %s", e, exc_info=False)
                        return False
            """),
        ),
        Valid(
            "local_log_record_is_not_a_logger",
            dedent("""
                from imports.models import ImportLog


                def import_rows(run, rows):
                    for row in rows:
                        log = ImportLog.objects.create(run=run, line=row.number)
                        try:
                            row.apply()
                        except Exception as e:
                            log.error(f"row {row.number}: {e}")
            """),
        ),
    )
    invalid = (
        Invalid(
            "fstring_with_the_exception",
            dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def render_invoice(order):
                    try:
                        return order.invoice.render()
                    except Exception as e:
                        logger.error(f"invoice rendering failed for order {order.pk}: {e}")  # TXL203
                        return None
            """),
            fixed=dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def render_invoice(order):
                    try:
                        return order.invoice.render()
                    except Exception as e:
                        logger.exception(f"invoice rendering failed for order {order.pk}: {e}")  # TXL203
                        return None
            """),
        ),
        Invalid(
            "logging_module_error",
            dedent("""
                import logging


                def load_plugins(registry):
                    for plugin in registry.discover():
                        try:
                            plugin.load()
                        except Exception as exc:
                            logging.error("plugin %s failed to load: %s", plugin.name, exc)  # TXL203
            """),
            fixed=dedent("""
                import logging


                def load_plugins(registry):
                    for plugin in registry.discover():
                        try:
                            plugin.load()
                        except Exception as exc:
                            logging.exception("plugin %s failed to load: %s", plugin.name, exc)  # TXL203
            """),
        ),
        Invalid(
            "critical_gets_exc_info",
            dedent("""
                import logging

                log = logging.getLogger("payments")


                def settle(batch):
                    try:
                        batch.settle()
                    except Exception as exc:
                        log.critical("settlement of batch %s failed: %s", batch.pk, exc)  # TXL203
                        batch.flag_for_review()
            """),
            fixed=dedent("""
                import logging

                log = logging.getLogger("payments")


                def settle(batch):
                    try:
                        batch.settle()
                    except Exception as exc:
                        log.critical("settlement of batch %s failed: %s", batch.pk, exc, exc_info=True)  # TXL203
                        batch.flag_for_review()
            """),
        ),
        Invalid(
            "multi_line_critical_with_trailing_comma",
            dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def purge_partitions(cache):
                    for partition in cache.partitions.all():
                        try:
                            partition.purge()
                        except Exception as exception:
                            logger.critical(  # TXL203
                                "Unable to purge partition ID: %d; %s",
                                partition.pk,
                                exception,
                            )
            """),
            fixed=dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def purge_partitions(cache):
                    for partition in cache.partitions.all():
                        try:
                            partition.purge()
                        except Exception as exception:
                            logger.critical(  # TXL203
                                "Unable to purge partition ID: %d; %s",
                                partition.pk,
                                exception,
                                exc_info=True,
                            )
            """),
        ),
        Invalid(
            "string_concatenation_in_banktransfer_view",
            dedent("""
                import logging

                from django.contrib import messages

                logger = logging.getLogger("pretix.plugins.banktransfer")


                class ImportView:
                    def process_csv_hint(self, data):
                        try:
                            hint = parse_hint(self.request.POST)
                        except Exception as e:
                            logger.error("Parsing hint failed: " + str(e))  # TXL203
                            messages.error(self.request, "We were unable to process your input.")
                            return self.assign_view(data)
                        return self.start_processing(data, hint)
            """),
            fixed=dedent("""
                import logging

                from django.contrib import messages

                logger = logging.getLogger("pretix.plugins.banktransfer")


                class ImportView:
                    def process_csv_hint(self, data):
                        try:
                            hint = parse_hint(self.request.POST)
                        except Exception as e:
                            logger.exception("Parsing hint failed: " + str(e))  # TXL203
                            messages.error(self.request, "We were unable to process your input.")
                            return self.assign_view(data)
                        return self.start_processing(data, hint)
            """),
        ),
        Invalid(
            "self_logger_in_a_service",
            dedent("""
                class Synchronizer:
                    def __init__(self, logger):
                        self.logger = logger

                    def run(self, items):
                        for item in items:
                            try:
                                self.push(item)
                            except Exception as error:
                                self.logger.error("push of %s failed (%r)", item, error)  # TXL203
            """),
            fixed=dedent("""
                class Synchronizer:
                    def __init__(self, logger):
                        self.logger = logger

                    def run(self, items):
                        for item in items:
                            try:
                                self.push(item)
                            except Exception as error:
                                self.logger.exception("push of %s failed (%r)", item, error)  # TXL203
            """),
        ),
        Invalid(
            "log_method_with_error_level",
            dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def compute_hash(transformations, hash_object):
                    for transformation in transformations:
                        try:
                            hash_object.update(transformation.cache_hash())
                        except Exception as exception:
                            logger.log(logging.ERROR, "Unable to hash %s; %s", transformation, exception)  # TXL203
                    return hash_object.hexdigest()
            """),
            fixed=dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def compute_hash(transformations, hash_object):
                    for transformation in transformations:
                        try:
                            hash_object.update(transformation.cache_hash())
                        except Exception as exception:
                            logger.log(logging.ERROR, "Unable to hash %s; %s", transformation, exception, exc_info=True)  # TXL203
                    return hash_object.hexdigest()
            """),
        ),
        Invalid(
            "structlog_keyword_event_field",
            dedent("""
                import structlog

                log = structlog.get_logger()


                def refresh_token(account):
                    try:
                        account.oauth.refresh()
                    except Exception as e:
                        log.error("token_refresh_failed", account=account.pk, error=str(e))  # TXL203
                        account.needs_reauth = True
                        account.save(update_fields=["needs_reauth"])
            """),
            fixed=dedent("""
                import structlog

                log = structlog.get_logger()


                def refresh_token(account):
                    try:
                        account.oauth.refresh()
                    except Exception as e:
                        log.exception("token_refresh_failed", account=account.pk, error=str(e))  # TXL203
                        account.needs_reauth = True
                        account.save(update_fields=["needs_reauth"])
            """),
        ),
        Invalid(
            "async_view_handler",
            dedent("""
                import logging

                from django.http import JsonResponse

                logger = logging.getLogger(__name__)


                async def weather(request):
                    try:
                        forecast = await fetch_forecast(request.GET["city"])
                    except Exception as e:
                        logger.error("forecast failed: %s", e)  # TXL203
                        forecast = None
                    return JsonResponse({"forecast": forecast})
            """),
            fixed=dedent("""
                import logging

                from django.http import JsonResponse

                logger = logging.getLogger(__name__)


                async def weather(request):
                    try:
                        forecast = await fetch_forecast(request.GET["city"])
                    except Exception as e:
                        logger.exception("forecast failed: %s", e)  # TXL203
                        forecast = None
                    return JsonResponse({"forecast": forecast})
            """),
        ),
        Invalid(
            "logger_assigned_in_the_function",
            dedent("""
                import logging


                def migrate_storage(apps, schema_editor):
                    logger = logging.getLogger("migrations")
                    Cache = apps.get_model("file_caching", "Cache")
                    for cache in Cache.objects.all():
                        try:
                            cache.move_files()
                        except Exception as exception:
                            logger.error("Storage %s not moved: %s", cache.pk, exception)  # TXL203
            """),
            fixed=dedent("""
                import logging


                def migrate_storage(apps, schema_editor):
                    logger = logging.getLogger("migrations")
                    Cache = apps.get_model("file_caching", "Cache")
                    for cache in Cache.objects.all():
                        try:
                            cache.move_files()
                        except Exception as exception:
                            logger.exception("Storage %s not moved: %s", cache.pk, exception)  # TXL203
            """),
        ),
        Invalid(
            "base_exception_args_formatted",
            dedent("""
                import logging
                import sys

                logger = logging.getLogger(__name__)


                def safe_call(callback):
                    try:
                        callback()
                    except BaseException as exc:
                        logger.error("callback %r failed: %s", callback, exc.args)  # TXL203
                        sys.stderr.flush()
            """),
            fixed=dedent("""
                import logging
                import sys

                logger = logging.getLogger(__name__)


                def safe_call(callback):
                    try:
                        callback()
                    except BaseException as exc:
                        logger.exception("callback %r failed: %s", callback, exc.args)  # TXL203
                        sys.stderr.flush()
            """),
        ),
    )

    def could_match(self, source: str, settings: Settings) -> bool:
        if not ("error(" in source or "critical(" in source or "fatal(" in source or ".log(" in source):
            return False
        return may_have(BROAD_BOUND_HANDLER, source)

    def sites(self, outline: Outline) -> list[ast.AST]:
        found: list[ast.AST] = []
        for call, frame in outline.calls:
            if not (isinstance(call.func, ast.Attribute) and call.func.attr in ERROR_METHODS):
                continue
            handlers = frame.within(FrameKind.HANDLER)
            if not handlers:
                continue
            used = names_in([*call.args, *call.keywords])
            if any(_may_report(outline, frame, used) for frame in handlers):
                found.append(call)
        return found

    def check(self, django: DjangoModule) -> Iterator[Finding]:
        model = django.model
        loggers = Loggers.of(model)
        for site in model.calls:
            func = site.node.func
            if not (isinstance(func, cst.Attribute) and func.attr.value in ERROR_METHODS):
                continue
            handlers = [frame for frame in site.frame.ancestors() if frame.kind is FrameKind.HANDLER]
            if not handlers:
                continue
            log = loggers.log_call(site)
            if log is None or not log.is_error or log.carries_traceback or log.names_traceback_keyword:
                continue
            for frame in handlers:
                assert isinstance(frame.node, cst.ExceptHandler)
                name = bound_name(frame.node)
                if name is not None and uses_name(site.node.args, name):
                    break
            else:
                continue
            if frame.has_raise or not is_broad(model, frame.node):
                continue
            receiver = model.short(site.node.func)
            yield self.finding(
                site.node,
                f"`{receiver}()` logs `{name}` without its traceback; use `{_fixed_text(model.short(site.node.func), log)}`",
                Fix(self.fix_title or "", FixSafety.SAFE, (NodeEdit(site.node, _with_traceback(log)),)),
            )


def _may_report(outline: Outline, frame: OutlineFrame, used: set[str]) -> bool:
    """A broad handler that binds a name the log call reads, and raises nothing."""
    handler = frame.node
    assert isinstance(handler, ast.ExceptHandler)
    return handler.name in used and not frame.has_raise and outline.is_broad(handler)


def _fixed_text(func: str, log: LogCall) -> str:
    if log.method == "error":
        return func.rsplit(".", 1)[0] + ".exception()"
    return "exc_info=True"


def _with_traceback(log: LogCall) -> cst.Call:
    call = log.call
    assert isinstance(call.func, cst.Attribute)
    if log.method == "error":
        return call.with_changes(func=call.func.with_changes(attr=cst.Name("exception")))
    return add_keyword(call, keyword("exc_info", cst.Name("True")))


def add_keyword(call: cst.Call, arg: cst.Arg) -> cst.Call:
    """`f(a, b)` -> `f(a, b, k=v)`, keeping a multi-line call's trailing comma and layout."""
    args = list(call.args)
    if not args:
        return call.with_changes(args=[arg])
    last = args[-1]
    if isinstance(last.comma, cst.Comma):
        # The trailing comma (and the line break before `)`) moves to the new last argument;
        # the old last argument is separated from it like the arguments before it.
        between = args[-2].comma if len(args) > 1 and isinstance(args[-2].comma, cst.Comma) else None
        if between is None:
            between = cst.Comma(whitespace_after=call.whitespace_before_args) if isinstance(
                call.whitespace_before_args, cst.ParenthesizedWhitespace) else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        args[-1] = last.with_changes(comma=between)
        return call.with_changes(args=[*args, arg.with_changes(comma=last.comma)])
    args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    return call.with_changes(args=[*args, arg])
