from __future__ import annotations

import ast
from collections.abc import Iterator

from txlint.diagnostics import Fix, FixSafety, NodeEdit
from txlint.django import DjangoModule
from txlint.django.exceptions import (
    BROAD_CLAUSE,
    append_to_body,
    clause_text,
    expression_call,
    is_broad,
    is_placeholder,
    may_have,
    statements,
)
from txlint.django.logs import LEVELS, Loggers
from txlint.django.model import Frame, FrameKind
from txlint.django.orm import is_orm_write
from txlint.django.outline import WRITE_METHODS, Outline, ast_expression_call, is_ast_placeholder
from txlint.lazy import cst
from txlint.rule import Finding, Invalid, Rule, Valid, dedent
from txlint.settings import Settings


class FailureLoggedNotPropagated(Rule):
    """
    ## What it does
    Finds broad handlers (bare `except:`, `except Exception`, `except BaseException`)
    around code that writes to the database or dispatches a job, whose body only logs
    the failure (at any level, with or without the traceback) and carries on:
    nothing else but `pass`, `continue`, `break` or a bare `return`.

    ## Why is this bad?
    The seed's "silent error logging": `create_file_uploads` logged a failed PDF
    dispatch with `logger.error(..., exc_info=True)` and went on, so the caller
    returned the upload as if its pages were being rendered. A log line is read by
    an operator, maybe, later; the code that called this function, the user who
    waits for the record or the job, and the transaction that continues see a
    success. The row that was not saved or the job that was not enqueued is found
    missing only downstream.

    ## Example
    ```python
    def create_file_uploads(user, project, files):
        for file in files:
            upload = FileUpload.objects.create(user=user, project=project, file=file)
            try:
                start_job_async_or_sync(convert_pdf, upload.id)
            except Exception as e:
                logger.error(f"PDF processing failed: {e}", exc_info=True)
    ```

    ## Use instead
    ```python
    def create_file_uploads(user, project, files):
        for file in files:
            upload = FileUpload.objects.create(user=user, project=project, file=file)
            try:
                start_job_async_or_sync(convert_pdf, upload.id)
            except Exception as e:
                logger.error(f"PDF processing failed: {e}", exc_info=True)
                raise
    ```
    or record the failure where the caller and the user see it
    (`upload.status = FileUpload.Status.FAILED`), or return a value that says so.

    ## Fix safety
    Unsafe: the fix appends `raise` to the handler (dropping a trailing `pass`,
    `continue`, `break` or bare `return`). The failure now reaches the caller and
    rolls back an enclosing transaction, which is the point, but a loop that used to
    skip a bad item now stops at it.

    ## Options
    Opt-in (off by default, on with `--select TXL204`, `extend-select` or `strict`):
    best-effort handlers around writes are common and often deliberate (audit rows,
    notifications, statistics). Writes are the ORM writes of TXL105 (`save()`,
    `create()`, `update()`, `delete()`, `bulk_*`, `cursor.execute()`); dispatches are
    those of TXL101, including the configured `dispatchers`. `logger_names` adds
    logger names.

    Not reported: handlers that re-raise; that do anything besides logging (record
    the failure in a variable or a field, count it, return a value, show a message,
    report to a monitor); narrow handlers (`except IntegrityError`), which name an
    expected failure; writes only inside a function defined in the `try` body. Only
    calls written in the `try` body count: a call to a project function that writes
    or dispatches is not followed (the cross-module index of TXL102 does not exist
    yet).
    """

    code = "TXL204"
    name = "failure-logged-not-propagated"
    summary = "Failed write or dispatch logged but not propagated"
    fix_title = "Re-raise after logging"
    fix_safety = FixSafety.UNSAFE
    opt_in = True

    valid = (
        Valid(
            "handler_reraises_after_logging",
            dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def create_order(cart):
                    try:
                        order = Order.objects.create(customer=cart.customer, total=cart.total)
                    except Exception:
                        logger.exception("order creation failed for cart %s", cart.pk)
                        raise
                    return order
            """),
        ),
        Valid(
            "seed_job_records_the_failed_import",
            dedent("""
                import logging
                import traceback

                logger = logging.getLogger(__name__)


                def async_import_background(project_import, serializer):
                    try:
                        serializer.save(project_id=project_import.project_id)
                    except Exception:
                        logger.error("import %s failed while saving tasks", project_import.pk, exc_info=True)
                        project_import.status = "failed"
                        project_import.traceback = traceback.format_exc()
                        project_import.save(update_fields=["status", "traceback"])
                        return
            """),
        ),
        Valid(
            "handler_counts_failures",
            dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def import_contacts(rows):
                    failed = 0
                    for row in rows:
                        try:
                            Contact.objects.create(email=row["email"])
                        except Exception:
                            logger.warning("contact %s not imported", row["email"], exc_info=True)
                            failed += 1
                    return failed
            """),
        ),
        Valid(
            "handler_returns_a_failure_value",
            dedent("""
                import logging

                from notifications.tasks import send_push

                logger = logging.getLogger(__name__)


                def notify(device, message):
                    try:
                        send_push.delay(device.token, message)
                    except Exception:
                        logger.exception("push not enqueued for device %s", device.pk)
                        return False
                    return True
            """),
        ),
        Valid(
            "narrow_integrity_error_is_expected",
            dedent("""
                import logging

                from django.db import IntegrityError

                logger = logging.getLogger(__name__)


                def subscribe(newsletter, email):
                    try:
                        newsletter.subscribers.create(email=email)
                    except IntegrityError:
                        logger.info("%s already subscribed", email)
            """),
        ),
        Valid(
            "no_write_in_the_try_body",
            dedent("""
                import logging

                import requests

                logger = logging.getLogger(__name__)


                def fetch_rates(url):
                    rates = {}
                    try:
                        rates = requests.get(url, timeout=5).json()
                    except Exception:
                        logger.exception("rates not fetched")
                    return rates
            """),
        ),
        Valid(
            "user_is_shown_the_failure",
            dedent("""
                import logging

                from django.contrib import messages
                from django.shortcuts import redirect

                logger = logging.getLogger(__name__)


                def archive_project(request, project):
                    try:
                        project.archived = True
                        project.save(update_fields=["archived"])
                    except Exception:
                        logger.exception("archiving project %s failed", project.pk)
                        messages.error(request, "The project could not be archived.")
                    return redirect("projects:list")
            """),
        ),
        Valid(
            "write_only_inside_a_function_defined_in_the_try",
            dedent("""
                import logging

                from django.db import transaction

                logger = logging.getLogger(__name__)


                def schedule_cleanup(upload):
                    try:
                        def cleanup():
                            upload.delete()

                        transaction.on_commit(cleanup)
                    except Exception:
                        logger.exception("cleanup not scheduled")
            """),
        ),
        Valid(
            "silent_handler_is_txl202_territory",
            dedent("""
                def touch(session):
                    try:
                        session.save()
                    except Exception:
                        pass
            """),
        ),
        Valid(
            "failure_reported_to_the_error_monitor",
            dedent("""
                import logging

                import sentry_sdk

                logger = logging.getLogger(__name__)


                def record_view(article):
                    try:
                        article.views.create()
                    except Exception as e:
                        logger.warning("view not recorded")
                        sentry_sdk.capture_exception(e)
            """),
        ),
        Valid(
            "signal_send_is_not_a_dispatch",
            dedent("""
                import logging

                from accounts.signals import user_activated

                logger = logging.getLogger(__name__)


                def activate(user):
                    try:
                        user_activated.send(sender=type(user), user=user)
                    except Exception:
                        logger.exception("activation receivers failed")
            """),
        ),
    )
    invalid = (
        Invalid(
            "seed_pdf_dispatch_logged_and_swallowed",
            dedent("""
                import logging

                from core.redis import start_job_async_or_sync

                from .models import FileUpload
                from .services import convert_pdf_to_images_parallel

                logger = logging.getLogger(__name__)


                def create_file_upload(user, project, file):
                    instance = FileUpload(user=user, project=project, file=file)
                    instance.save()
                    if instance.is_pdf:
                        try:
                            start_job_async_or_sync(convert_pdf_to_images_parallel, instance.id, queue_name="high")
                        except Exception as e:  # TXL204
                            logger.error(f"PDF processing failed: {e}", exc_info=True)
                    return instance
            """),
            fixed=dedent("""
                import logging

                from core.redis import start_job_async_or_sync

                from .models import FileUpload
                from .services import convert_pdf_to_images_parallel

                logger = logging.getLogger(__name__)


                def create_file_upload(user, project, file):
                    instance = FileUpload(user=user, project=project, file=file)
                    instance.save()
                    if instance.is_pdf:
                        try:
                            start_job_async_or_sync(convert_pdf_to_images_parallel, instance.id, queue_name="high")
                        except Exception as e:  # TXL204
                            logger.error(f"PDF processing failed: {e}", exc_info=True)
                            raise
                    return instance
            """),
            path="data_import/uploader.py",
            settings=Settings(dispatchers=frozenset({"core.redis.start_job_async_or_sync"})),
        ),
        Invalid(
            "order_save_logged_with_traceback",
            dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def mark_paid(order, payment):
                    try:
                        order.status = "paid"
                        order.save(update_fields=["status"])
                    except Exception:  # TXL204
                        logger.exception("could not mark order %s paid", order.pk)
                    payment.confirm()
            """),
            fixed=dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def mark_paid(order, payment):
                    try:
                        order.status = "paid"
                        order.save(update_fields=["status"])
                    except Exception:  # TXL204
                        logger.exception("could not mark order %s paid", order.pk)
                        raise
                    payment.confirm()
            """),
        ),
        Invalid(
            "celery_delay_warning_then_return",
            dedent("""
                import logging

                from mail.tasks import send_welcome_email

                logger = logging.getLogger(__name__)


                def register(form):
                    user = form.save()
                    try:
                        send_welcome_email.delay(user.pk)
                    except Exception:  # TXL204
                        logger.warning("welcome email not queued for %s", user.pk)
                        return
                    user.profile.welcome_sent = True
            """),
            fixed=dedent("""
                import logging

                from mail.tasks import send_welcome_email

                logger = logging.getLogger(__name__)


                def register(form):
                    user = form.save()
                    try:
                        send_welcome_email.delay(user.pk)
                    except Exception:  # TXL204
                        logger.warning("welcome email not queued for %s", user.pk)
                        raise
                    user.profile.welcome_sent = True
            """),
        ),
        Invalid(
            "import_loop_logs_and_continues",
            dedent("""
                import logging

                from catalog.models import Product

                logger = logging.getLogger(__name__)


                def import_products(rows):
                    for row in rows:
                        try:
                            Product.objects.create(sku=row["sku"], name=row["name"])
                        except Exception:  # TXL204
                            logger.exception("row %s skipped", row.get("sku"))
                            continue
            """),
            fixed=dedent("""
                import logging

                from catalog.models import Product

                logger = logging.getLogger(__name__)


                def import_products(rows):
                    for row in rows:
                        try:
                            Product.objects.create(sku=row["sku"], name=row["name"])
                        except Exception:  # TXL204
                            logger.exception("row %s skipped", row.get("sku"))
                            raise
            """),
        ),
        Invalid(
            "bare_except_info_log_around_update",
            dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def close_expired(queryset, now):
                    try:
                        queryset.filter(expires__lt=now).update(state="closed")
                    except:  # TXL204
                        logger.info("expired reservations not closed")
            """),
            fixed=dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def close_expired(queryset, now):
                    try:
                        queryset.filter(expires__lt=now).update(state="closed")
                    except:  # TXL204
                        logger.info("expired reservations not closed")
                        raise
            """),
        ),
        Invalid(
            "send_task_base_exception",
            dedent("""
                import logging

                from celery import current_app

                log = logging.getLogger(__name__)


                def trigger_report(report_id):
                    try:
                        current_app.send_task("reports.build", args=[report_id])
                    except BaseException:  # TXL204
                        log.error("report %s not triggered", report_id)
            """),
            fixed=dedent("""
                import logging

                from celery import current_app

                log = logging.getLogger(__name__)


                def trigger_report(report_id):
                    try:
                        current_app.send_task("reports.build", args=[report_id])
                    except BaseException:  # TXL204
                        log.error("report %s not triggered", report_id)
                        raise
            """),
        ),
        Invalid(
            "rq_queue_enqueue",
            dedent("""
                import logging

                import django_rq

                logger = logging.getLogger(__name__)


                def start_export(export):
                    queue = django_rq.get_queue("low")
                    try:
                        queue.enqueue("exports.jobs.build", export.pk)
                    except Exception as e:  # TXL204
                        logger.error("export %s not enqueued: %s", export.pk, e)
                    return export
            """),
            fixed=dedent("""
                import logging

                import django_rq

                logger = logging.getLogger(__name__)


                def start_export(export):
                    queue = django_rq.get_queue("low")
                    try:
                        queue.enqueue("exports.jobs.build", export.pk)
                    except Exception as e:  # TXL204
                        logger.error("export %s not enqueued: %s", export.pk, e)
                        raise
                    return export
            """),
        ),
        Invalid(
            "one_line_handler_with_return",
            dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def save_draft(draft):
                    try:
                        draft.save()
                    except Exception as e: logger.error("draft not saved: %s", e, exc_info=True); return  # TXL204
                    draft.notify_editors()
            """),
            fixed=dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def save_draft(draft):
                    try:
                        draft.save()
                    except Exception as e:  # TXL204
                        logger.error("draft not saved: %s", e, exc_info=True)
                        raise
                    draft.notify_editors()
            """),
        ),
        Invalid(
            "async_view_dispatches_through_actor",
            dedent("""
                import logging

                import dramatiq
                from django.http import JsonResponse

                logger = logging.getLogger(__name__)


                @dramatiq.actor
                def transcode(video_id):
                    ...


                async def upload_done(request, video_id):
                    try:
                        transcode.send(video_id)
                    except Exception:  # TXL204
                        logger.exception("transcode not queued")
                    return JsonResponse({"status": "processing"})
            """),
            fixed=dedent("""
                import logging

                import dramatiq
                from django.http import JsonResponse

                logger = logging.getLogger(__name__)


                @dramatiq.actor
                def transcode(video_id):
                    ...


                async def upload_done(request, video_id):
                    try:
                        transcode.send(video_id)
                    except Exception:  # TXL204
                        logger.exception("transcode not queued")
                        raise
                    return JsonResponse({"status": "processing"})
            """),
        ),
        Invalid(
            "raw_sql_in_management_command",
            dedent("""
                import logging

                from django.core.management.base import BaseCommand
                from django.db import connection

                logger = logging.getLogger(__name__)


                class Command(BaseCommand):
                    def handle(self, *args, **options):
                        with connection.cursor() as cursor:
                            try:
                                cursor.execute("DELETE FROM sessions WHERE expire_date < now()")
                            except Exception:  # TXL204
                                logger.exception("session cleanup failed")
                                pass
            """),
            fixed=dedent("""
                import logging

                from django.core.management.base import BaseCommand
                from django.db import connection

                logger = logging.getLogger(__name__)


                class Command(BaseCommand):
                    def handle(self, *args, **options):
                        with connection.cursor() as cursor:
                            try:
                                cursor.execute("DELETE FROM sessions WHERE expire_date < now()")
                            except Exception:  # TXL204
                                logger.exception("session cleanup failed")
                                raise
            """),
            path="core/management/commands/clear_sessions.py",
        ),
        Invalid(
            "bulk_create_in_nested_helper",
            dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def record_events(batch):
                    def store(events):
                        try:
                            Event.objects.bulk_create(events, batch_size=500)
                        except Exception:  # TXL204
                            logger.exception("events of batch %s lost", batch.pk)

                    store([Event(**payload) for payload in batch.payloads])
            """),
            fixed=dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def record_events(batch):
                    def store(events):
                        try:
                            Event.objects.bulk_create(events, batch_size=500)
                        except Exception:  # TXL204
                            logger.exception("events of batch %s lost", batch.pk)
                            raise

                    store([Event(**payload) for payload in batch.payloads])
            """),
        ),
    )

    def could_match(self, source: str, settings: Settings) -> bool:
        return may_have(BROAD_CLAUSE, source)

    def sites(self, outline: Outline) -> list[ast.AST]:
        effects = {
            id(body)
            for call, frame in outline.calls
            for body in frame.within(FrameKind.TRY_BODY)
            if (isinstance(call.func, ast.Attribute) and call.func.attr in WRITE_METHODS) or outline.may_dispatch(call)
        }
        return [
            site.node
            for site in outline.tries
            if id(site.body_frame) in effects
            and any(
                not frame.has_raise and outline.is_broad(handler) and _may_only_log(handler.body)
                for handler, frame in zip(site.node.handlers, site.handler_frames)
            )
        ]

    def check(self, django: DjangoModule) -> Iterator[Finding]:
        model = django.model
        loggers = Loggers.of(model)
        if not any(is_broad(model, handler) for site in model.tries for handler in site.node.handlers):
            return
        effects = self._effects_by_body(django)
        for site in model.tries:
            effect = effects.get(id(site.body_frame))
            if effect is None:
                continue
            for handler, frame in zip(site.node.handlers, site.handler_frames):
                if frame.has_raise or not is_broad(model, handler):
                    continue
                if not self._only_logs(loggers, statements(handler.body), frame):
                    continue
                yield self.finding(
                    handler,
                    f"`{clause_text(model, handler)}` logs the failure of `{effect}` and carries on; "
                    "re-raise it or record the failure",
                    self._fix(site.node, handler),
                )

    def _fix(self, node: cst.Try, handler: cst.ExceptHandler) -> Fix:
        """The edit claims the whole `try`, not just the handler: a fix inside the body in the
        same round (TXL101 deferring the dispatch to on_commit) can take away the write or
        dispatch this finding is about, and the next round checks again."""
        raising = append_to_body(handler, cst.SimpleStatementLine([cst.Raise()]))
        fixed = node.with_changes(handlers=[raising if h is handler else h for h in node.handlers])
        return Fix(self.fix_title or "", FixSafety.UNSAFE, (NodeEdit(node, fixed),))

    @staticmethod
    def _effects_by_body(django: DjangoModule) -> dict[int, str]:
        """Try bodies (by frame id) that write or dispatch, with the first such call for the message."""
        model = django.model
        found: dict[int, str] = {}
        for site in model.calls:
            bodies = [frame for frame in site.frame.ancestors() if frame.kind is FrameKind.TRY_BODY]
            if not bodies or not (is_orm_write(model, site.node) or django.dispatches.of(site)):
                continue
            text = f"{model.short(site.node.func, limit=50)}()"
            for frame in bodies:
                found.setdefault(id(frame), text)
        return found

    @staticmethod
    def _only_logs(loggers: Loggers, body: list[cst.CSTNode], frame: Frame) -> bool:
        logged = False
        for statement in body:
            if is_placeholder(statement) or isinstance(statement, (cst.Continue, cst.Break)):
                continue
            if isinstance(statement, cst.Return) and statement.value is None:
                continue
            call = expression_call(statement)
            if call is None or loggers.log_call_at(call, frame) is None:
                return False
            logged = True
        return logged


def _may_only_log(body: list[ast.stmt]) -> bool:
    """`_only_logs` on the `ast` tree: placeholders and flow aside, only calls of logging methods."""
    logged = False
    for statement in body:
        if is_ast_placeholder(statement) or isinstance(statement, (ast.Continue, ast.Break)):
            continue
        if isinstance(statement, ast.Return) and statement.value is None:
            continue
        call = ast_expression_call(statement)
        if call is None or not (isinstance(call.func, ast.Attribute) and (call.func.attr in LEVELS or call.func.attr == "log")):
            return False
        logged = True
    return logged
