from __future__ import annotations

import ast
from collections.abc import Iterator

from txlint.diagnostics import Fix, FixSafety, NodeEdit
from txlint.django import DjangoModule
from txlint.django.exceptions import BARE_CLAUSE, ends_with_bare_raise, may_have, narrowest_exceptions
from txlint.django.outline import Outline
from txlint.lazy import cst
from txlint.rule import Finding, Invalid, Rule, Valid, dedent
from txlint.settings import Settings


class BareExcept(Rule):
    """
    ## What it does
    Finds bare `except:` clauses.

    ## Why is this bad?
    A bare `except:` catches `BaseException`: `SystemExit` (a worker being stopped),
    `KeyboardInterrupt`, `GeneratorExit`, `asyncio.CancelledError`, and every bug in
    the `try` body (a `NameError`, a misspelled attribute). In the seed's import flow,
    `except:` around `os.path.splitext(...)` hid every failure to read an upload's
    format, and the one around `import ujson as json` would hide a broken `ujson`
    install as well as a missing one.

    ## Example
    ```python
    try:
        import ujson as json
    except:
        import json

    try:
        page = int(request.GET["page"])
    except:
        page = 1
    ```

    ## Use instead
    ```python
    try:
        import ujson as json
    except ImportError:
        import json

    try:
        page = int(request.GET["page"])
    except (KeyError, ValueError, TypeError):
        page = 1
    ```

    ## Fix safety
    The fix names the narrowest exception the `try` body can raise when every
    statement of the body is understood: only imports give `ImportError`;
    `Model.objects.get(...)` (also after `filter()`, `select_related()`...) gives
    `Model.DoesNotExist`; `int(x)`/`float(x)` give `(ValueError, TypeError)`;
    `json.loads(x)` gives `ValueError`; subscripts of a local value give `KeyError`
    with a string key, `IndexError` with an integer index and `LookupError`
    otherwise (not subscripts of an imported object: `caches["redis"]` raises
    `InvalidCacheBackendError`); plain assignments to names, names, attributes and
    literals raise nothing. This narrowing is
    unsafe: an attribute read can run a property that raises something else,
    `get()` can raise `MultipleObjectsReturned`, and those now propagate.
    Everywhere else the fix writes `except Exception:`, which is safe: it only
    stops catching `SystemExit`, `KeyboardInterrupt`, `GeneratorExit` and
    cancellation, which no handler means to swallow. When an earlier handler of
    the same `try` already catches something, the fix does not narrow.

    ## Options
    None.

    Not reported when the handler ends with a bare `raise` (a `raise` among the
    handler's own statements, not nested in an `if`: whatever follows it cannot
    run): whatever it does before (cleanup, logging, a rollback), the exception goes
    on unchanged and nothing is hidden. This matches pycodestyle's E722 as ruff
    implements it. A handler that only sometimes re-raises (`if ...: raise`) or
    raises another exception (`raise Http404`) is reported: it still turns
    `KeyboardInterrupt` into something else, or into nothing. `except BaseException:`
    is explicit and not reported here (TXL202 reports it when it silences the error).
    """

    code = "TXL201"
    name = "bare-except"
    summary = "Bare `except:` catches `SystemExit`, `KeyboardInterrupt` and every bug"
    fix_title = "Catch the narrowest exception the `try` body raises, else `Exception`"
    fix_safety = FixSafety.SAFE

    valid = (
        Valid(
            "rollback_then_bare_raise",
            dedent("""
                from django.db import connection


                def run_raw_migration(statements):
                    cursor = connection.cursor()
                    try:
                        for statement in statements:
                            cursor.execute(statement)
                    except:
                        connection.rollback()
                        raise
                    finally:
                        cursor.close()
            """),
        ),
        Valid(
            "log_then_bare_raise_in_celery_task",
            dedent("""
                import logging

                from celery import shared_task

                from billing.models import Invoice

                logger = logging.getLogger(__name__)


                @shared_task
                def send_invoice(invoice_id):
                    invoice = Invoice.objects.get(pk=invoice_id)
                    try:
                        invoice.send()
                    except:
                        logger.exception("could not send invoice %s", invoice_id)
                        raise
            """),
        ),
        Valid(
            "optional_import_catches_import_error",
            dedent("""
                try:
                    import ujson as json
                except ImportError:
                    import json


                def load_tasks(file):
                    return json.load(file)
            """),
        ),
        Valid(
            "except_exception_is_not_bare",
            dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def render_preview(template, context):
                    try:
                        return template.render(context)
                    except Exception:
                        logger.exception("preview rendering failed")
                        return ""
            """),
        ),
        Valid(
            "narrow_lookup_errors_with_fallback",
            dedent("""
                def client_ip(request):
                    try:
                        return request.META["HTTP_X_FORWARDED_FOR"].split(",")[0].strip()
                    except (KeyError, IndexError):
                        return request.META.get("REMOTE_ADDR")
            """),
        ),
        Valid(
            "bare_except_only_mentioned_in_a_docstring",
            dedent('''
                def parse_amount(value):
                    """Never write `except:` here: a typo would become a zero amount."""
                    return int(value)
            '''),
        ),
        Valid(
            "async_cleanup_then_bare_raise",
            dedent("""
                async def stream_export(request, export):
                    connection = await export.open_connection()
                    try:
                        async for chunk in connection.rows():
                            await request.send(chunk)
                    except:
                        await connection.close()
                        raise
            """),
        ),
        Valid(
            "generator_releases_lock_and_reraises",
            dedent("""
                def locked_rows(lock, queryset):
                    lock.acquire()
                    try:
                        for row in queryset.iterator():
                            yield row
                    except:
                        lock.release()
                        raise
                    lock.release()
            """),
        ),
        Valid(
            "management_command_base_exception_reraised",
            dedent("""
                from django.core.management.base import BaseCommand


                class Command(BaseCommand):
                    def handle(self, *args, **options):
                        try:
                            self.rebuild_index()
                        except BaseException:
                            self.stderr.write("index rebuild interrupted")
                            raise
            """),
            path="search/management/commands/rebuild_index.py",
        ),
        Valid(
            "try_star_with_named_group",
            dedent("""
                import asyncio


                async def fetch_all(clients):
                    try:
                        async with asyncio.TaskGroup() as group:
                            for client in clients:
                                group.create_task(client.fetch())
                    except* ConnectionError:
                        return None
            """),
        ),
    )
    invalid = (
        Invalid(
            "seed_optional_ujson_import",
            dedent("""
                import logging
                import os

                try:
                    import ujson as json
                except:  # noqa: E722  # TXL201
                    import json

                logger = logging.getLogger(__name__)
            """),
            fixed=dedent("""
                import logging
                import os

                try:
                    import ujson as json
                except ImportError:  # noqa: E722  # TXL201
                    import json

                logger = logging.getLogger(__name__)
            """),
        ),
        Invalid(
            "seed_upload_format_property",
            dedent("""
                import os

                from django.db import models


                class FileUpload(models.Model):
                    file = models.FileField(upload_to="upload")

                    @property
                    def format(self):
                        file_format = None
                        try:
                            file_format = os.path.splitext(self.file.name)[-1]
                        except:  # TXL201
                            pass
                        return file_format
            """),
            fixed=dedent("""
                import os

                from django.db import models


                class FileUpload(models.Model):
                    file = models.FileField(upload_to="upload")

                    @property
                    def format(self):
                        file_format = None
                        try:
                            file_format = os.path.splitext(self.file.name)[-1]
                        except Exception:  # TXL201
                            pass
                        return file_format
            """),
        ),
        Invalid(
            "page_number_from_query_string",
            dedent("""
                from django.core.paginator import Paginator
                from django.shortcuts import render

                from blog.models import Article


                def article_list(request):
                    try:
                        page = int(request.GET["page"])
                    except:  # TXL201
                        page = 1
                    paginator = Paginator(Article.objects.order_by("-published"), 25)
                    return render(request, "blog/list.html", {"page": paginator.get_page(page)})
            """),
            fixed=dedent("""
                from django.core.paginator import Paginator
                from django.shortcuts import render

                from blog.models import Article


                def article_list(request):
                    try:
                        page = int(request.GET["page"])
                    except (KeyError, ValueError, TypeError):  # TXL201
                        page = 1
                    paginator = Paginator(Article.objects.order_by("-published"), 25)
                    return render(request, "blog/list.html", {"page": paginator.get_page(page)})
            """),
        ),
        Invalid(
            "model_get_turned_into_404",
            dedent("""
                from django.http import Http404
                from django.shortcuts import render

                from billing.models import Invoice


                def invoice_detail(request, number):
                    try:
                        invoice = Invoice.objects.select_related("customer").get(number=number)
                    except:  # TXL201
                        raise Http404("No such invoice")
                    return render(request, "billing/invoice.html", {"invoice": invoice})
            """),
            fixed=dedent("""
                from django.http import Http404
                from django.shortcuts import render

                from billing.models import Invoice


                def invoice_detail(request, number):
                    try:
                        invoice = Invoice.objects.select_related("customer").get(number=number)
                    except Invoice.DoesNotExist:  # TXL201
                        raise Http404("No such invoice")
                    return render(request, "billing/invoice.html", {"invoice": invoice})
            """),
        ),
        Invalid(
            "webhook_json_body",
            dedent("""
                import json

                from django.http import HttpResponse, HttpResponseBadRequest
                from django.views.decorators.csrf import csrf_exempt

                from payments.tasks import process_event


                @csrf_exempt
                def stripe_webhook(request):
                    try:
                        event = json.loads(request.body)
                    except:  # TXL201
                        return HttpResponseBadRequest("invalid payload")
                    process_event.delay(event)
                    return HttpResponse(status=202)
            """),
            fixed=dedent("""
                import json

                from django.http import HttpResponse, HttpResponseBadRequest
                from django.views.decorators.csrf import csrf_exempt

                from payments.tasks import process_event


                @csrf_exempt
                def stripe_webhook(request):
                    try:
                        event = json.loads(request.body)
                    except ValueError:  # TXL201
                        return HttpResponseBadRequest("invalid payload")
                    process_event.delay(event)
                    return HttpResponse(status=202)
            """),
        ),
        Invalid(
            "first_item_of_a_list",
            dedent("""
                def primary_email(user):
                    emails = [address.email for address in user.emailaddress_set.all()]
                    try:
                        return emails[0]
                    except:  # TXL201
                        return user.email
            """),
            fixed=dedent("""
                def primary_email(user):
                    emails = [address.email for address in user.emailaddress_set.all()]
                    try:
                        return emails[0]
                    except IndexError:  # TXL201
                        return user.email
            """),
        ),
        Invalid(
            "payment_info_nested_lookup",
            dedent("""
                def paypal_sale_id(payment):
                    info = payment.info_data
                    try:
                        return info["transactions"][0]["related_resources"][0]["sale"]["id"]
                    except:  # TXL201
                        return ""
            """),
            fixed=dedent("""
                def paypal_sale_id(payment):
                    info = payment.info_data
                    try:
                        return info["transactions"][0]["related_resources"][0]["sale"]["id"]
                    except LookupError:  # TXL201
                        return ""
            """),
        ),
        Invalid(
            "async_handler_swallows_cancellation",
            dedent("""
                import logging

                import httpx

                logger = logging.getLogger(__name__)


                async def notify_partner(order):
                    async with httpx.AsyncClient(timeout=5) as client:
                        try:
                            await client.post(order.partner.webhook_url, json={"order": order.pk})
                        except:  # TXL201
                            logger.warning("partner webhook failed for order %s", order.pk)
            """),
            fixed=dedent("""
                import logging

                import httpx

                logger = logging.getLogger(__name__)


                async def notify_partner(order):
                    async with httpx.AsyncClient(timeout=5) as client:
                        try:
                            await client.post(order.partner.webhook_url, json={"order": order.pk})
                        except Exception:  # TXL201
                            logger.warning("partner webhook failed for order %s", order.pk)
            """),
        ),
        Invalid(
            "class_body_optional_setting",
            dedent("""
                class ExportConfig:
                    try:
                        from local_settings import EXPORT_BATCH_SIZE as batch_size
                    except:  # TXL201
                        batch_size = 500
            """),
            fixed=dedent("""
                class ExportConfig:
                    try:
                        from local_settings import EXPORT_BATCH_SIZE as batch_size
                    except ImportError:  # TXL201
                        batch_size = 500
            """),
        ),
        Invalid(
            "bare_except_after_a_narrow_handler",
            dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def parse_quantity(value):
                    try:
                        return int(value)
                    except ValueError:
                        return 0
                    except:  # TXL201
                        logger.exception("unexpected quantity %r", value)
                        return 0
            """),
            fixed=dedent("""
                import logging

                logger = logging.getLogger(__name__)


                def parse_quantity(value):
                    try:
                        return int(value)
                    except ValueError:
                        return 0
                    except Exception:  # TXL201
                        logger.exception("unexpected quantity %r", value)
                        return 0
            """),
        ),
        Invalid(
            "loop_skips_rows_on_any_error",
            dedent("""
                from catalog.models import Product


                def import_prices(rows):
                    updated = 0
                    for row in rows:
                        try:
                            Product.objects.filter(sku=row["sku"]).update(price=row["price"])
                            updated += 1
                        except: continue  # TXL201
                    return updated
            """),
            fixed=dedent("""
                from catalog.models import Product


                def import_prices(rows):
                    updated = 0
                    for row in rows:
                        try:
                            Product.objects.filter(sku=row["sku"]).update(price=row["price"])
                            updated += 1
                        except Exception: continue  # TXL201
                    return updated
            """),
        ),
        Invalid(
            "conditional_reraise_is_not_a_reraise",
            dedent("""
                from importlib import import_module

                from django.apps import apps
                from django.utils.module_loading import module_has_submodule


                def autodiscover_cms_config():
                    for app_config in apps.get_app_configs():
                        try:
                            import_module(f"{app_config.name}.cms_config")
                        except:  # TXL201
                            if module_has_submodule(app_config.module, "cms_config"):
                                raise
            """),
            fixed=dedent("""
                from importlib import import_module

                from django.apps import apps
                from django.utils.module_loading import module_has_submodule


                def autodiscover_cms_config():
                    for app_config in apps.get_app_configs():
                        try:
                            import_module(f"{app_config.name}.cms_config")
                        except Exception:  # TXL201
                            if module_has_submodule(app_config.module, "cms_config"):
                                raise
            """),
        ),
        Invalid(
            "nested_function_in_view",
            dedent("""
                from django.http import JsonResponse


                def stats(request):
                    def safe_ratio(done, total):
                        try:
                            return done / total
                        except:  # TXL201
                            return 0.0

                    project = request.user.current_project
                    return JsonResponse({"progress": safe_ratio(project.done_count, project.task_count)})
            """),
            fixed=dedent("""
                from django.http import JsonResponse


                def stats(request):
                    def safe_ratio(done, total):
                        try:
                            return done / total
                        except Exception:  # TXL201
                            return 0.0

                    project = request.user.current_project
                    return JsonResponse({"progress": safe_ratio(project.done_count, project.task_count)})
            """),
        ),
        Invalid(
            "cache_alias_lookup_is_not_a_dict",
            dedent("""
                from django.core.cache import caches

                try:
                    widget_cache = caches["redis"]
                except:  # TXL201
                    widget_cache = caches["default"]
            """),
            fixed=dedent("""
                from django.core.cache import caches

                try:
                    widget_cache = caches["redis"]
                except Exception:  # TXL201
                    widget_cache = caches["default"]
            """),
        ),
    )

    def could_match(self, source: str, settings: Settings) -> bool:
        return may_have(BARE_CLAUSE, source)

    def sites(self, outline: Outline) -> list[ast.AST]:
        return [
            handler
            for site in outline.tries
            for handler in site.node.handlers
            if handler.type is None and not any(isinstance(s, ast.Raise) and s.exc is None for s in handler.body)
        ]

    def check(self, django: DjangoModule) -> Iterator[Finding]:
        model = django.model
        for site in model.tries:
            for position, handler in enumerate(site.node.handlers):
                if handler.type is not None or ends_with_bare_raise(handler):
                    continue
                # After an earlier handler the body's exceptions are partly taken: do not narrow.
                narrowed = narrowest_exceptions(model, site.node.body) if position == 0 else None
                caught = ("Exception",) if narrowed is None else narrowed
                text = caught[0] if len(caught) == 1 else f"({', '.join(caught)})"
                safety = FixSafety.SAFE if narrowed is None else FixSafety.UNSAFE
                fixed = handler.with_changes(type=_caught(caught), whitespace_after_except=cst.SimpleWhitespace(" "))
                yield self.finding(
                    handler,
                    f"Bare `except:` also catches `SystemExit` and `KeyboardInterrupt`; catch `{text}`",
                    Fix(f"Catch `{text}`", safety, (NodeEdit(handler, fixed),)),
                )


def _caught(names: tuple[str, ...]) -> cst.BaseExpression:
    """`ImportError`, `Invoice.DoesNotExist` or `(KeyError, ValueError)`, built without a parse."""
    expressions = [_dotted(name) for name in names]
    if len(expressions) == 1:
        return expressions[0]
    space = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    elements = [cst.Element(e, comma=space if i < len(expressions) - 1 else cst.MaybeSentinel.DEFAULT)
                for i, e in enumerate(expressions)]
    return cst.Tuple(elements)


def _dotted(name: str) -> cst.BaseExpression:
    head, *rest = name.split(".")
    expression: cst.BaseExpression = cst.Name(head)
    for part in rest:
        expression = cst.Attribute(expression, cst.Name(part))
    return expression
