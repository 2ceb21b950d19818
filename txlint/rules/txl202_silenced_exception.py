from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from txlint.diagnostics import Fix, FixSafety, NodeEdit
from txlint.django import DjangoModule
from txlint.django.exceptions import (
    SILENT_BROAD_HANDLER,
    bound_name,
    clause_text,
    explanations,
    expression_call,
    is_broad,
    is_placeholder,
    may_have,
    statements,
    uses_name,
    with_statements,
)
from txlint.django.logs import Loggers
from txlint.django.imports import dotted_name
from txlint.django.model import Frame, FrameKind, ModuleModel, TrySite
from txlint.django.orm import is_orm_write
from txlint.django.outline import Outline, ast_expression_call, is_ast_placeholder
from txlint.lazy import cst
from txlint.rule import Finding, Invalid, Rule, Valid, dedent
from txlint.settings import Settings


class SilencedException(Rule):
    """
    ## What it does
    Finds handlers of a broad exception (bare `except:`, `except Exception`,
    `except BaseException`) that leave no trace: their body only does `pass`,
    `continue`, `print(...)` or logs below WARNING (`logger.debug`, `logger.info`).

    ## Why is this bad?
    Any failure of the `try` body, including the bugs nobody anticipated, reaches no
    error monitor, no log kept in production and no caller. The code after the
    handler runs as if the body had succeeded: the record was saved, the job was
    enqueued, the file was read. The seed's `except: pass` around reading an
    upload's format turned every failure into "no format" without a word.

    ## Example
    ```python
    def sync_avatar(profile):
        try:
            profile.avatar_url = gravatar.fetch(profile.email)
            profile.save(update_fields=["avatar_url"])
        except Exception:
            pass
    ```

    ## Use instead
    ```python
    def sync_avatar(profile):
        try:
            profile.avatar_url = gravatar.fetch(profile.email)
            profile.save(update_fields=["avatar_url"])
        except gravatar.NotFound:
            pass
    ```
    or, when the failure is really to be tolerated, leave a visible trace:
    `logger.warning(...)` or `logger.exception(...)`.

    ## Fix safety
    Unsafe: the fix replaces the silent body with `<logger>.exception(...)` and
    `raise`, or with `raise` alone when no logger is in scope. The exception now
    propagates, which is the point, but changes what the caller sees. A
    `logger.debug(...)`/`logger.info(...)` call in the body becomes
    `logger.exception(...)` with the same arguments; comments in the body are kept.

    ## Options
    `logger_names`: extra names of logger objects.

    Not reported: handlers that do anything else (return a fallback value, assign a
    default, count or record the failure, call any other function), that log at
    WARNING or above (`logger.warning`, `logger.error`, `logger.exception`: visible,
    see TXL203 and TXL204), or that raise. Narrow handlers (`except KeyError: pass`)
    say what they expect and are not reported.

    Also quiet, from reading real code (Django, pretix, mayan-edms), where the
    silence is a decision rather than an oversight:
    - a handler with a comment (on the `except` line or in its body) or a string
      explaining why the error is ignored; `# noqa`, `# TODO`, `# FIXME`,
      `# type: ignore` and lint codes explain nothing and do not count;
    - best-effort cleanup: every statement of the `try` body is a call that
      releases something (`close()`, `closer()`, `delete(name)`, `unlink()`,
      `shutdown()`, `release()`...); ORM writes such as `obj.delete()` are not
      cleanup: the row that stays is data;
    - an implicit `return None`: the `try` is the function's last statement and its
      body returns a value, so falling out of the handler returns None, a fallback
      the caller sees (`parse_http_date_safe`);
    - `print(...)` in a management command (`management/commands/`): that is the
      command's output, which the operator reads.
    """

    code = "TXL202"
    name = "silenced-exception"
    summary = "Broad exception handler leaves no trace"
    fix_title = "Log the exception and re-raise it"
    fix_safety = FixSafety.UNSAFE

    valid = (
        Valid(
            "warning_is_a_visible_trace",
            dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def refresh_exchange_rates(client):
                    try:
                        client.refresh()
                    except Exception:
                        logger.warning("exchange rates not refreshed", exc_info=True)
            """),
        ),
        Valid(
            "logger_exception_in_celery_task",
            dedent("""
                import logging

                from celery import shared_task

                logger = logging.getLogger(__name__)


                @shared_task
                def rebuild_thumbnails(image_ids):
                    for image_id in image_ids:
                        try:
                            rebuild_thumbnail(image_id)
                        except Exception:
                            logger.exception("thumbnail rebuild failed for image %s", image_id)
            """),
        ),
        Valid(
            "fallback_value_returned",
            dedent("""
                from django.utils.dateparse import parse_datetime


                def published_at(entry):
                    try:
                        return parse_datetime(entry["published"])
                    except Exception:
                        return None
            """),
        ),
        Valid(
            "handler_records_a_default",
            dedent("""
                def read_version(dist):
                    version = "unknown"
                    try:
                        version = dist.read_text("VERSION").strip()
                    except Exception:
                        version = "unknown"
                    return version
            """),
        ),
        Valid(
            "handler_counts_skipped_rows",
            dedent("""
                def import_contacts(rows):
                    skipped = 0
                    for row in rows:
                        try:
                            create_contact(row)
                        except Exception:
                            skipped += 1
                            continue
                    return skipped
            """),
        ),
        Valid(
            "narrow_exception_with_pass",
            dedent("""
                def remove_from_cart(cart, item_id):
                    try:
                        del cart.items[item_id]
                    except KeyError:
                        pass
            """),
        ),
        Valid(
            "explained_with_a_comment",
            dedent("""
                from django.contrib.sessions.backends.db import SessionStore


                def parent_session(key):
                    store = SessionStore(key)
                    try:
                        return store.load()
                    except Exception:
                        # the parent session may have expired meanwhile: start a new one
                        pass
                    return {}
            """),
        ),
        Valid(
            "best_effort_close_of_a_response",
            dedent("""
                class StreamingExport:
                    def close(self):
                        for closer in self._resource_closers:
                            try:
                                closer()
                            except Exception:
                                pass
                        self._resource_closers.clear()
            """),
        ),
        Valid(
            "implicit_none_from_a_safe_parser",
            dedent("""
                from django.utils.http import parse_http_date


                def parse_http_date_safe(date):
                    try:
                        return parse_http_date(date)
                    except Exception:
                        pass
            """),
        ),
        Valid(
            "management_command_prints_to_the_operator",
            dedent("""
                import stripe
                from django.core.management.base import BaseCommand

                from payments.models import Account


                class Command(BaseCommand):
                    def handle(self, *args, **options):
                        for account in Account.objects.filter(country=""):
                            try:
                                remote = stripe.Account.retrieve(account.stripe_id)
                            except Exception as e:
                                print(e)
                            else:
                                account.country = remote["country"]
                                account.save(update_fields=["country"])
            """),
            path="payments/management/commands/fill_countries.py",
        ),
        Valid(
            "user_is_told_with_a_message",
            dedent("""
                from django.contrib import messages
                from django.shortcuts import redirect


                def resend_invitation(request, invitation):
                    try:
                        invitation.send()
                    except Exception:
                        messages.error(request, "The invitation could not be sent.")
                    return redirect("team:members")
            """),
        ),
        Valid(
            "reraised_as_validation_error",
            dedent("""
                from django import forms


                class ImportForm(forms.Form):
                    file = forms.FileField()

                    def clean_file(self):
                        try:
                            return parse_upload(self.cleaned_data["file"])
                        except Exception as e:
                            raise forms.ValidationError("Unreadable file") from e
            """),
        ),
    )
    invalid = (
        Invalid(
            "seed_upload_format_property",
            dedent("""
                import logging
                import os

                from django.db import models

                logger = logging.getLogger(__name__)


                class FileUpload(models.Model):
                    file = models.FileField(upload_to="upload")

                    @property
                    def format(self):
                        file_format = None
                        try:
                            file_format = os.path.splitext(self.file.name)[-1]
                        except:  # noqa: E722  # TXL202
                            pass
                        return file_format
            """),
            fixed=dedent("""
                import logging
                import os

                from django.db import models

                logger = logging.getLogger(__name__)


                class FileUpload(models.Model):
                    file = models.FileField(upload_to="upload")

                    @property
                    def format(self):
                        file_format = None
                        try:
                            file_format = os.path.splitext(self.file.name)[-1]
                        except:  # noqa: E722  # TXL202
                            logger.exception("format failed")
                            raise
                        return file_format
            """),
        ),
        Invalid(
            "webhook_loop_continues_on_any_error",
            dedent("""
                import logging

                import requests

                logger = logging.getLogger(__name__)


                def deliver_webhooks(event, endpoints):
                    for endpoint in endpoints:
                        try:
                            requests.post(endpoint.url, json=event.payload, timeout=5).raise_for_status()
                        except Exception:  # TXL202
                            continue
                        endpoint.last_success = event.created
            """),
            fixed=dedent("""
                import logging

                import requests

                logger = logging.getLogger(__name__)


                def deliver_webhooks(event, endpoints):
                    for endpoint in endpoints:
                        try:
                            requests.post(endpoint.url, json=event.payload, timeout=5).raise_for_status()
                        except Exception:  # TXL202
                            logger.exception("deliver_webhooks failed")
                            raise
                        endpoint.last_success = event.created
            """),
        ),
        Invalid(
            "print_in_a_view",
            dedent("""
                from django.http import JsonResponse

                from geo.client import geocode


                def locate(request):
                    point = None
                    try:
                        point = geocode(request.GET.get("address", ""))
                    except Exception as e:  # TXL202
                        print(f"geocoding failed: {e}")
                    return JsonResponse({"point": point})
            """),
            fixed=dedent("""
                from django.http import JsonResponse

                from geo.client import geocode


                def locate(request):
                    point = None
                    try:
                        point = geocode(request.GET.get("address", ""))
                    except Exception:  # TXL202
                        raise
                    return JsonResponse({"point": point})
            """),
        ),
        Invalid(
            "debug_log_with_traceback_is_below_warning",
            dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def sync_avatar(profile, gravatar):
                    try:
                        profile.avatar_url = gravatar.fetch(profile.email)
                        profile.save(update_fields=["avatar_url"])
                    except Exception:  # TXL202
                        logger.debug("avatar sync failed for %s", profile.pk, exc_info=True)
            """),
            fixed=dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def sync_avatar(profile, gravatar):
                    try:
                        profile.avatar_url = gravatar.fetch(profile.email)
                        profile.save(update_fields=["avatar_url"])
                    except Exception:  # TXL202
                        logger.exception("avatar sync failed for %s", profile.pk)
                        raise
            """),
        ),
        Invalid(
            "no_logger_in_the_module",
            dedent("""
                def attach_all(email, attachments):
                    for attachment in attachments:
                        try:
                            email.attach(*attachment)
                        except:  # TXL202
                            pass
                    return email
            """),
            fixed=dedent("""
                def attach_all(email, attachments):
                    for attachment in attachments:
                        try:
                            email.attach(*attachment)
                        except:  # TXL202
                            raise
                    return email
            """),
        ),
        Invalid(
            "logging_module_info",
            dedent("""
                import logging

                from search.backend import index


                def reindex(document):
                    try:
                        index.update(document)
                    except Exception:  # TXL202
                        logging.info("could not reindex %s", document.pk)
            """),
            fixed=dedent("""
                import logging

                from search.backend import index


                def reindex(document):
                    try:
                        index.update(document)
                    except Exception:  # TXL202
                        logging.exception("could not reindex %s", document.pk)
                        raise
            """),
        ),
        Invalid(
            "one_line_suite",
            dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def warm_cache(keys, cache):
                    for key in keys:
                        try: cache.get(key)
                        except Exception: pass  # TXL202
            """),
            fixed=dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def warm_cache(keys, cache):
                    for key in keys:
                        try: cache.get(key)
                        except Exception:  # TXL202
                            logger.exception("warm_cache failed")
                            raise
            """),
        ),
        Invalid(
            "base_exception_in_async_consumer",
            dedent("""
                import logging

                logger = logging.getLogger(__name__)


                class ProgressConsumer:
                    async def receive_json(self, content):
                        try:
                            await self.channel_layer.group_send(content["group"], {"type": "progress"})
                        except BaseException:  # TXL202
                            ...
            """),
            fixed=dedent("""
                import logging

                logger = logging.getLogger(__name__)


                class ProgressConsumer:
                    async def receive_json(self, content):
                        try:
                            await self.channel_layer.group_send(content["group"], {"type": "progress"})
                        except BaseException:  # TXL202
                            logger.exception("receive_json failed")
                            raise
            """),
        ),
        Invalid(
            "tuple_with_exception",
            dedent("""
                import logging

                log = logging.getLogger("billing")


                def tax_rate(country, rates):
                    rate = rates.default
                    try:
                        rate = rates.lookup(country)
                    except (ValueError, Exception):  # TXL202
                        log.debug("no rate for %s", country)
                    return rate
            """),
            fixed=dedent("""
                import logging

                log = logging.getLogger("billing")


                def tax_rate(country, rates):
                    rate = rates.default
                    try:
                        rate = rates.lookup(country)
                    except (ValueError, Exception):  # TXL202
                        log.exception("no rate for %s", country)
                        raise
                    return rate
            """),
        ),
        Invalid(
            "self_logger_info_in_service_class",
            dedent("""
                class InventorySync:
                    def __init__(self, client, logger):
                        self.client = client
                        self.logger = logger

                    def push(self, product):
                        try:
                            self.client.update_stock(product.sku, product.stock)
                        except Exception as exc:  # TXL202
                            self.logger.info("stock push failed: %s", exc)
            """),
            fixed=dedent("""
                class InventorySync:
                    def __init__(self, client, logger):
                        self.client = client
                        self.logger = logger

                    def push(self, product):
                        try:
                            self.client.update_stock(product.sku, product.stock)
                        except Exception as exc:  # TXL202
                            self.logger.exception("stock push failed: %s", exc)
                            raise
            """),
        ),
        Invalid(
            "module_level_optional_plugin_setup",
            dedent("""
                import logging

                logger = logging.getLogger(__name__)

                try:
                    from plugins.registry import register_all

                    register_all()
                except Exception:  # TXL202
                    pass
            """),
            fixed=dedent("""
                import logging

                logger = logging.getLogger(__name__)

                try:
                    from plugins.registry import register_all

                    register_all()
                except Exception:  # TXL202
                    logger.exception("Unexpected error")
                    raise
            """),
        ),
        Invalid(
            "todo_comment_does_not_explain",
            dedent("""
                def session_user(store):
                    user = None
                    try:
                        user = store.load()["user"]
                    except Exception:  # TODO: narrow down  # TXL202
                        pass
                    return user
            """),
            fixed=dedent("""
                def session_user(store):
                    user = None
                    try:
                        user = store.load()["user"]
                    except Exception:  # TODO: narrow down  # TXL202
                        raise
                    return user
            """),
        ),
        Invalid(
            "orm_delete_is_not_cleanup",
            dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def forget_device(device):
                    try:
                        device.delete()
                    except Exception:  # TXL202
                        pass
            """),
            fixed=dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def forget_device(device):
                    try:
                        device.delete()
                    except Exception:  # TXL202
                        logger.exception("forget_device failed")
                        raise
            """),
        ),
    )

    def could_match(self, source: str, settings: Settings) -> bool:
        return may_have(SILENT_BROAD_HANDLER, source)

    def sites(self, outline: Outline) -> list[ast.AST]:
        return [
            handler
            for site in outline.tries
            for handler, frame in zip(site.node.handlers, site.handler_frames)
            if not frame.has_raise and outline.is_broad(handler) and all(map(_may_leave_no_trace, handler.body))
        ]

    def check(self, django: DjangoModule) -> Iterator[Finding]:
        model = django.model
        loggers = Loggers.of(model)
        for site in model.tries:
            for handler, frame in zip(site.node.handlers, site.handler_frames):
                if frame.has_raise or not is_broad(model, handler):
                    continue
                body = statements(handler.body)
                printing = _is_management_command(model)
                if not all(self._leaves_no_trace(loggers, statement, frame, printing) for statement in body):
                    continue
                if explanations(handler) or _cleanup_only(model, site.node) or _falls_back_to_none(site):
                    continue
                yield self.finding(
                    handler,
                    f"`{clause_text(model, handler)}` silences every error of the `try` body; "
                    "log it at WARNING or above, or catch what you expect",
                    self._fix(model, loggers, handler, frame),
                )

    @staticmethod
    def _leaves_no_trace(loggers: Loggers, statement: cst.CSTNode, frame: Frame, printing: bool) -> bool:
        """`printing`: in a management command, where `print` is the output the operator reads."""
        if is_placeholder(statement) or isinstance(statement, cst.Continue):
            return True
        call = expression_call(statement)
        if call is None:
            return False
        if loggers.is_print(call):
            return not printing
        log = loggers.log_call_at(call, frame)
        return log is not None and not log.visible

    def _fix(self, model: ModuleModel, loggers: Loggers, handler: cst.ExceptHandler, frame: Frame) -> Fix:
        raise_line = cst.SimpleStatementLine([cst.Raise()])
        log_line = self._log_line(model, loggers, handler, frame)
        new_body = [raise_line] if log_line is None else [log_line, raise_line]
        fixed = with_statements(handler, new_body)
        name = bound_name(handler)
        if name is not None and not uses_name(new_body, name):
            fixed = fixed.with_changes(name=None)  # `except Exception as e:` with `e` no longer used
        return Fix(self.fix_title or "", FixSafety.UNSAFE, (NodeEdit(handler, fixed),))

    @staticmethod
    def _log_line(
        model: ModuleModel, loggers: Loggers, handler: cst.ExceptHandler, frame: Frame
    ) -> cst.SimpleStatementLine | None:
        """`logger.exception(...)`: the body's own debug/info call raised to it, else a new one."""
        for statement in statements(handler.body):
            call = expression_call(statement)
            if call is not None and isinstance(call.func, cst.Attribute) and loggers.log_call_at(call, frame):
                if call.func.attr.value != "log":
                    # `exception()` carries the traceback itself: an `exc_info=` argument is redundant.
                    args = [arg for arg in call.args if not (arg.keyword and arg.keyword.value == "exc_info")]
                    if args and len(args) < len(call.args):
                        args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                    upgraded = call.with_changes(func=call.func.with_changes(attr=cst.Name("exception")), args=args)
                    return cst.SimpleStatementLine([cst.Expr(upgraded)])
        name = loggers.logger_in_scope(frame)
        if name is None:
            return None
        function = _function_name(model, frame)
        message = f'"{function} failed"' if function else '"Unexpected error"'
        call = cst.Call(cst.Attribute(cst.Name(name), cst.Name("exception")), [cst.Arg(cst.SimpleString(message))])
        return cst.SimpleStatementLine([cst.Expr(call)])


# Calls that release or discard something: their failure must not mask the main flow.
CLEANUP = re.compile(
    r"(^|_)(close|closer|cleanup|clean_up|delete|remove|unlink|rmtree|rmdir|terminate|kill|shutdown|"
    r"disconnect|release|unregister|stop|quit|logout|flush|cancel|unlock|detach)($|_)"
)


def _may_leave_no_trace(statement: ast.stmt) -> bool:
    """`_leaves_no_trace` on the `ast` tree: a placeholder, `continue`, `print(...)`, or a
    call of a method that logs below WARNING."""
    if is_ast_placeholder(statement) or isinstance(statement, ast.Continue):
        return True
    call = ast_expression_call(statement)
    if call is None:
        return False
    if isinstance(call.func, ast.Name):
        return call.func.id == "print"
    return isinstance(call.func, ast.Attribute) and call.func.attr in ("debug", "info", "log")


def _is_management_command(model: ModuleModel) -> bool:
    return "/management/commands/" in "/" + model.path.replace("\\", "/")


def _cleanup_only(model: ModuleModel, node: cst.Try) -> bool:
    """`try: resource.close() except Exception: pass`: best-effort cleanup.

    Every statement of the `try` body is a call (awaited or not) whose name says it
    releases something; ORM writes (`obj.delete()`) are not cleanup: a row that stays
    is data.
    """
    body = statements(node.body)
    for statement in body:
        call = expression_call(statement)
        if call is None or is_orm_write(model, call):
            return False
        name = call.func.attr.value if isinstance(call.func, cst.Attribute) else dotted_name(call.func)
        if name is None or not CLEANUP.search(name.rsplit(".", 1)[-1]):
            return False
    return bool(body)


def _falls_back_to_none(site: TrySite) -> bool:
    """`def parse_safe(v): try: return parse(v) except Exception: pass`: an implicit `return None`.

    The `try` is the function's last statement and its body ends with `return value`:
    falling out of the handler returns None, a fallback the caller sees.
    """
    function = site.frame
    if function.kind is not FrameKind.FUNCTION or not isinstance(function.node, cst.FunctionDef):
        return False
    block = function.node.body
    if not isinstance(block, cst.IndentedBlock) or not block.body or block.body[-1] is not site.node:
        return False
    body = statements(site.node.body)
    return bool(body) and isinstance(body[-1], cst.Return) and body[-1].value is not None and not site.node.finalbody


def _function_name(model: ModuleModel, frame: Frame) -> str | None:
    scope = frame.scope()
    if scope.kind is FrameKind.FUNCTION and isinstance(scope.node, cst.FunctionDef):
        return scope.node.name.value
    return None
