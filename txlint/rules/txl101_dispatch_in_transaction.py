from __future__ import annotations

import ast
from collections.abc import Iterator

from txlint.diagnostics import Fix, FixSafety, NodeEdit
from txlint.django import DjangoModule
from txlint.django.model import CallSite, Frame, FrameKind, callee_text
from txlint.django.outline import Outline
from txlint.django.transactions import Transaction
from txlint.django.references import deferred_until_commit, why_not_deferred
from txlint.lazy import cst
from txlint.rule import Finding, Invalid, Rule, Valid
from txlint.settings import Settings, contains_any


class JobDispatchedInTransaction(Rule):
    """
    ## What it does
    Finds background jobs dispatched while a database transaction is open: Celery
    `.delay()` / `.apply_async()` / `send_task()`, RQ and django-rq `enqueue*`,
    Dramatiq `.send()`, Huey task calls, django-q `async_task()`, Django's tasks
    framework `.enqueue()`, and any function listed in `dispatchers`, inside
    `transaction.atomic()` (as a block, a decorator, a project wrapper such as a
    `@contextmanager` around `atomic()`, in this module or imported from another
    module of the project, or a migration's `RunPython`).

    ## Why is this bad?
    The worker can pick the job up before the transaction commits. It then reads
    nothing (`DoesNotExist`, a file shown with 0 tasks) or stale rows, and if the
    transaction rolls back the job runs for rows that never existed.

    ## Example
    ```python
    with transaction.atomic():
        upload = FileUpload.objects.create(project=project, file=file)
        process_upload.delay(upload.pk)
    ```

    ## Use instead
    ```python
    with transaction.atomic():
        upload = FileUpload.objects.create(project=project, file=file)
        transaction.on_commit(partial(process_upload.delay, upload.pk))
    ```

    ## Fix safety
    Safe when the call is a statement of its own: it becomes
    `transaction.on_commit(partial(f, *args, **kwargs))`, so the arguments are still
    evaluated now and the job is sent after the commit (never, on rollback). Unsafe
    when a `try` inside the transaction has handlers around the call: a broker error
    is then raised by the commit, not caught there. No fix when the call's result is
    used (`job = queue.enqueue(...)`) or it is awaited.

    Tests that check a job was sent need one change after the fix: Django's
    `TestCase` runs each test in a transaction it never commits, so `on_commit`
    callbacks do not run there. Run the code under test inside
    `with self.captureOnCommitCallbacks(execute=True):` (Django 3.2+; pytest-django's
    `django_capture_on_commit_callbacks` fixture), or use `TransactionTestCase`.

    ## Options
    `dispatchers`: qualified names of project functions that enqueue jobs.
    `atomic_contexts`: extra context managers or decorators that open a transaction.
    `read_only_databases`: aliases whose transactions never write (replicas).

    A receiver counts as a task when it is decorated as one in the module, imported
    from a module named like `tasks`/`jobs`/`workers`, or named `task_*`/`*_task`;
    a queue when it comes from `get_queue()`/`Queue()` or is named `*queue*`. Other
    `.delay()`/`.send()` calls (signals, pools, your own classes) are not reported.
    Tasks whose decorator names a transaction-aware base class
    (`base=TransactionAwareTask`) defer by themselves and are not reported.
    """

    code = "TXL101"
    name = "dispatch-in-transaction"
    summary = "Job dispatched inside a transaction"
    fix_title = "Defer the dispatch with `transaction.on_commit`"
    fix_safety = FixSafety.SAFE

    valid = (
        Valid(
            "imported_context_manager_that_is_not_a_wrapper",
            """
            from core.db import timed, traced_atomic

            from .tasks import send_receipt


            def checkout(order):
                with traced_atomic("checkout"):
                    order.mark_paid()
                with timed("receipt"):
                    send_receipt.delay(order.pk)
            """,
            path="shop/services.py",
            # The project index found `traced_atomic`, not `timed`: it opens no transaction.
            settings=Settings(atomic_wrappers=frozenset({"core.db.traced_atomic"})),
        ),
        Valid(
            "on_commit_lambda_in_atomic_block",
            """
            from django.db import transaction

            from .models import FileUpload
            from .tasks import process_upload


            def create_upload(project, file):
                with transaction.atomic():
                    upload = FileUpload.objects.create(project=project, file=file)
                    transaction.on_commit(lambda: process_upload.delay(upload.pk))
                return upload
            """,
            path="app/services.py",
        ),
        Valid(
            "on_commit_partial_with_using",
            """
            from functools import partial

            from django.db import transaction

            from billing.tasks import render_invoice_pdf


            @transaction.atomic(using="billing")
            def finalize_invoice(invoice):
                invoice.finalize()
                transaction.on_commit(partial(render_invoice_pdf.apply_async, args=[invoice.pk]), using="billing")
            """,
            path="billing/services.py",
        ),
        Valid(
            "on_commit_named_callback_defined_in_block",
            """
            import django_rq
            from django.db import transaction

            from .jobs import import_contacts


            def start_import(batch):
                with transaction.atomic():
                    batch.status = batch.Status.QUEUED
                    batch.save(update_fields=["status"])

                    def enqueue_import():
                        django_rq.get_queue("imports").enqueue(import_contacts, batch.pk)

                    transaction.on_commit(enqueue_import)
            """,
            path="contacts/services.py",
        ),
        Valid(
            "on_commit_with_uncalled_task_delay",
            """
            from django.db import transaction

            from .tasks import rebuild_sitemap


            @transaction.atomic
            def publish_page(page, user):
                page.publish(by=user)
                transaction.on_commit(rebuild_sitemap.delay)
            """,
            path="cms/services.py",
        ),
        Valid(
            "celery_delay_on_commit",
            """
            from django.db import transaction
            from rest_framework import viewsets

            from .models import Export
            from .serializers import ExportSerializer
            from .tasks import build_export


            class ExportViewSet(viewsets.ModelViewSet):
                serializer_class = ExportSerializer
                queryset = Export.objects.all()

                @transaction.atomic
                def perform_create(self, serializer):
                    export = serializer.save(owner=self.request.user)
                    build_export.delay_on_commit(export.pk)
            """,
            path="exports/api.py",
        ),
        Valid(
            "dispatch_after_atomic_block_closed",
            """
            from django.db import transaction

            from .models import Comment
            from .tasks import notify_subscribers


            def post_comment(thread, author, body):
                with transaction.atomic():
                    comment = Comment.objects.create(thread=thread, author=author, body=body)
                    thread.last_activity = comment.created
                    thread.save(update_fields=["last_activity"])
                notify_subscribers.delay(comment.pk)
                return comment
            """,
            path="forum/services.py",
        ),
        Valid(
            "dispatch_in_nested_def_and_lambda_only_defined_in_block",
            """
            from django.db import transaction

            from .models import Order
            from .tasks import send_order_confirmation


            def place_orders(carts, callbacks):
                with transaction.atomic():
                    orders = [Order.objects.create_from_cart(cart) for cart in carts]

                    def notify():
                        for order in orders:
                            send_order_confirmation.delay(order.pk)

                    callbacks.append(notify)
                    callbacks.append(lambda: send_order_confirmation.delay(orders[0].pk))
                return orders
            """,
            path="orders/services.py",
        ),
        Valid(
            "django_signal_send_in_atomic_block",
            """
            from django.db import transaction

            from .models import Order
            from .signals import order_paid


            def mark_paid(order, payment):
                with transaction.atomic():
                    order.payment = payment
                    order.status = Order.Status.PAID
                    order.save(update_fields=["payment", "status"])
                    order_paid.send(sender=Order, order=order)
            """,
            path="shop/services.py",
        ),
        Valid(
            "multiprocessing_pool_apply_async_in_command",
            """
            from multiprocessing import Pool

            from django.core.management.base import BaseCommand
            from django.db import transaction

            from reports.models import Report
            from reports.rendering import render_chart


            class Command(BaseCommand):
                def handle(self, *args, **options):
                    with Pool(4) as pool, transaction.atomic():
                        for report in Report.objects.select_for_update().filter(chart__isnull=True):
                            pool.apply_async(render_chart, (report.data,))
                        pool.close()
                        pool.join()
            """,
            path="reports/management/commands/render_charts.py",
        ),
        Valid(
            "delay_on_non_task_object_from_utils",
            """
            import time

            from django.db import transaction

            from .models import Webhook
            from .utils import backoff


            def record_failed_delivery(webhook_id, attempt):
                with transaction.atomic():
                    webhook = Webhook.objects.select_for_update().get(pk=webhook_id)
                    webhook.failures += 1
                    webhook.save(update_fields=["failures"])
                    time.sleep(backoff.delay(attempt))
            """,
            path="webhooks/services.py",
        ),
        Valid(
            "transaction_on_read_only_replica",
            """
            from django.db import transaction

            from .models import Report
            from .tasks import email_report


            def send_monthly_reports(month):
                with transaction.atomic(using="replica"):
                    for report in Report.objects.using("replica").filter(month=month):
                        email_report.delay(report.pk)
            """,
            path="reports/services.py",
        ),
        Valid(
            "run_python_in_non_atomic_migration",
            """
            from django.db import migrations

            from search.tasks import reindex_project


            def forwards(apps, schema_editor):
                Project = apps.get_model("projects", "Project")
                for project in Project.objects.filter(search_vector__isnull=True).iterator():
                    reindex_project.delay(project.pk)


            class Migration(migrations.Migration):
                atomic = False

                dependencies = [("projects", "0003_project_search_vector")]

                operations = [
                    migrations.RunPython(forwards, migrations.RunPython.noop),
                ]
            """,
            path="app/migrations/0004_backfill.py",
        ),
        Valid(
            "run_python_with_atomic_false",
            """
            from django.db import migrations

            from search.tasks import reindex_project


            def forwards(apps, schema_editor):
                Project = apps.get_model("projects", "Project")
                for project in Project.objects.filter(search_vector__isnull=True).iterator():
                    reindex_project.delay(project.pk)


            class Migration(migrations.Migration):
                dependencies = [("projects", "0003_project_search_vector")]

                operations = [
                    migrations.RunPython(forwards, migrations.RunPython.noop, atomic=False),
                ]
            """,
            path="app/migrations/0004_backfill.py",
        ),
        Valid(
            "task_with_transaction_aware_base",
            """
            from django.db import transaction

            from pretix.base.services.tasks import TransactionAwareTask
            from pretix.celery_app import app


            @app.task(base=TransactionAwareTask)
            def mail_send_task(order_id, template):
                ...


            def mark_order_paid(order):
                with transaction.atomic():
                    order.status = order.STATUS_PAID
                    order.save(update_fields=["status"])
                    mail_send_task.apply_async(args=(order.pk, "order_paid"))
            """,
            path="pretix/base/services/orders.py",
        ),
        Valid(
            "outbox_row_written_in_transaction",
            """
            from django.db import transaction

            from .models import Order, OutboxMessage


            def place_order(cart, customer):
                with transaction.atomic():
                    order = Order.objects.create(customer=customer, total=cart.total)
                    OutboxMessage.objects.create(
                        topic="order.placed",
                        payload={"order_id": order.pk},
                    )
                return order
            """,
            path="orders/services.py",
        ),
        Valid(
            "non_atomic_requests_view",
            """
            from django.db import transaction
            from django.http import JsonResponse

            from .tasks import sync_inventory


            @transaction.non_atomic_requests
            def trigger_inventory_sync(request, warehouse_id):
                sync_inventory.delay(warehouse_id)
                return JsonResponse({"status": "queued"}, status=202)
            """,
        ),
        Valid(
            "redis_lock_atomic_is_not_a_transaction",
            """
            from .locks import redis_lock
            from .tasks import refresh_exchange_rates


            def refresh_rates_once():
                with redis_lock.atomic("exchange-rates"):
                    refresh_exchange_rates.delay()
            """,
            path="currency/services.py",
        ),
        Valid(
            "post_save_receiver_dispatch",
            """
            from django.db.models.signals import post_save
            from django.dispatch import receiver

            from .models import Profile
            from .tasks import sync_profile_to_crm


            @receiver(post_save, sender=Profile)
            def profile_saved(sender, instance, created, **kwargs):
                sync_profile_to_crm.delay(instance.pk)
            """,
            path="crm/signals.py",
        ),
        Valid(
            "connection_on_commit_in_atomic_decorated_function",
            """
            from django.db import connection, transaction

            from .tasks import warm_cache


            @transaction.atomic
            def update_menu(menu, items):
                menu.items.set(items)
                connection.on_commit(lambda: warm_cache.delay(menu.pk))
            """,
            path="menus/services.py",
        ),
        Valid(
            "transaction_on_configured_read_only_alias",
            """
            from django.db import transaction

            from .models import PageView
            from .tasks import export_page_views


            def export_traffic(site, day):
                with transaction.atomic(using="analytics"):
                    for view in PageView.objects.using("analytics").filter(site=site, day=day):
                        export_page_views.delay(view.pk)
            """,
            path="analytics/services.py",
            settings=Settings(read_only_databases=frozenset({"analytics"})),
        ),
        Valid(
            "signature_of_transaction_aware_task",
            """
            from django.db import transaction

            from pretix.celery_app import app
            from pretix.base.services.tasks import TransactionAwareTask


            @app.task(base=TransactionAwareTask)
            def mail_send_task(order_pk):
                ...


            def mark_paid(order):
                with transaction.atomic():
                    order.status = "p"
                    order.save()
                    mail_send_task.s(order.pk).apply_async()
            """,
        ),
        Valid(
            "signal_named_like_a_task_is_not_a_dispatch",
            """
            from django.db import transaction

            from wagtail.signals import task_approved


            class TaskState:
                @transaction.atomic
                def approve(self, user=None):
                    self.status = "approved"
                    self.save()
                    task_approved.send(sender=self.__class__, instance=self, user=user)
            """,
        ),
        Valid(
            "task_defined_elsewhere_with_transaction_aware_base",
            """
            from django.db import transaction

            from pretix.base.services.mail import mail_send_task


            @transaction.atomic
            def resend_order_mails(order):
                order.log_action("pretix.event.order.email.resent")
                mail_send_task.apply_async(kwargs={"order": order.pk})
            """,
            settings=Settings(deferring_tasks=frozenset({"pretix.base.services.mail.mail_send_task"})),
        ),
        Valid(
            "helper_taking_request_outside_views_is_not_a_handler",
            """
            from .tasks import audit_login


            def record_login(request, user):
                audit_login.delay(user.pk, request.META.get("REMOTE_ADDR"))
            """,
            path="accounts/services.py",
            settings=Settings(atomic_requests=True),
        ),
        Valid(
            "async_view_is_never_atomic",
            """
            from django.http import JsonResponse

            from .tasks import refresh_feed


            async def refresh(request):
                await refresh_feed.aenqueue(request.user.pk)
                return JsonResponse({"queued": True})
            """,
            settings=Settings(atomic_requests=True),
        ),
        Valid(
            "method_opted_out_with_method_decorator",
            """
            from django.db import transaction
            from django.utils.decorators import method_decorator
            from django.views import View

            from .tasks import export_report


            class ExportView(View):
                @method_decorator(transaction.non_atomic_requests)
                def post(self, request):
                    report = Report.objects.create(owner=request.user)
                    export_report.delay(report.pk)
            """,
            settings=Settings(atomic_requests=True),
        ),
    )
    invalid = (
        Invalid(
            "delay_in_atomic_block_of_service",
            """
            from django.db import transaction

            from .models import FileUpload
            from .tasks import process_upload


            def create_upload(project, file):
                with transaction.atomic():
                    upload = FileUpload.objects.create(project=project, file=file)
                    process_upload.delay(upload.pk)  # TXL101
                return upload
            """,
            fixed="""
            from django.db import transaction

            from .models import FileUpload
            from .tasks import process_upload
            from functools import partial


            def create_upload(project, file):
                with transaction.atomic():
                    upload = FileUpload.objects.create(project=project, file=file)
                    transaction.on_commit(partial(process_upload.delay, upload.pk))  # TXL101
                return upload
            """,
            path="app/services.py",
        ),
        Invalid(
            "apply_async_in_multi_item_with_lock",
            """
            from django.core.cache import cache
            from django.db import transaction

            from billing.models import Invoice
            from billing.tasks import render_invoice_pdf


            def finalize_invoice(invoice_id):
                with cache.lock(f"invoice:{invoice_id}"), transaction.atomic():
                    invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
                    invoice.status = Invoice.Status.FINAL
                    invoice.save(update_fields=["status"])
                    render_invoice_pdf.apply_async(args=[invoice.pk], countdown=5)  # TXL101
            """,
            fixed="""
            from django.core.cache import cache
            from django.db import transaction

            from billing.models import Invoice
            from billing.tasks import render_invoice_pdf
            from functools import partial


            def finalize_invoice(invoice_id):
                with cache.lock(f"invoice:{invoice_id}"), transaction.atomic():
                    invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
                    invoice.status = Invoice.Status.FINAL
                    invoice.save(update_fields=["status"])
                    transaction.on_commit(partial(render_invoice_pdf.apply_async, args=[invoice.pk], countdown=5))  # TXL101
            """,
            path="billing/services.py",
        ),
        Invalid(
            "django_rq_enqueue_in_atomic_decorated_view",
            """
            import django_rq
            from django.db import transaction
            from django.shortcuts import redirect

            from .forms import ImportForm
            from .jobs import import_contacts


            @transaction.atomic
            def upload_contacts(request):
                form = ImportForm(request.POST, request.FILES)
                if not form.is_valid():
                    return redirect("contacts:import")
                batch = form.save(commit=False)
                batch.owner = request.user
                batch.save()
                django_rq.enqueue(import_contacts, batch.pk)  # TXL101
                return redirect("contacts:batch", pk=batch.pk)
            """,
            fixed="""
            import django_rq
            from django.db import transaction
            from django.shortcuts import redirect

            from .forms import ImportForm
            from .jobs import import_contacts
            from functools import partial


            @transaction.atomic
            def upload_contacts(request):
                form = ImportForm(request.POST, request.FILES)
                if not form.is_valid():
                    return redirect("contacts:import")
                batch = form.save(commit=False)
                batch.owner = request.user
                batch.save()
                transaction.on_commit(partial(django_rq.enqueue, import_contacts, batch.pk))  # TXL101
                return redirect("contacts:batch", pk=batch.pk)
            """,
        ),
        Invalid(
            "delay_in_view_decorated_atomic_using_default",
            """
            from django.contrib.auth import login
            from django.db import transaction
            from django.shortcuts import redirect, render

            from accounts.forms import SignupForm
            from accounts.tasks import send_welcome_email


            @transaction.atomic(using="default")
            def signup(request):
                form = SignupForm(request.POST or None)
                if request.method == "POST" and form.is_valid():
                    user = form.save()
                    send_welcome_email.delay(user.pk)  # TXL101
                    login(request, user)
                    return redirect("dashboard")
                return render(request, "accounts/signup.html", {"form": form})
            """,
            fixed="""
            from django.contrib.auth import login
            from django.db import transaction
            from django.shortcuts import redirect, render

            from accounts.forms import SignupForm
            from accounts.tasks import send_welcome_email
            from functools import partial


            @transaction.atomic(using="default")
            def signup(request):
                form = SignupForm(request.POST or None)
                if request.method == "POST" and form.is_valid():
                    user = form.save()
                    transaction.on_commit(partial(send_welcome_email.delay, user.pk), using="default")  # TXL101
                    login(request, user)
                    return redirect("dashboard")
                return render(request, "accounts/signup.html", {"form": form})
            """,
            path="accounts/views.py",
        ),
        Invalid(
            "async_task_in_function_decorated_with_imported_atomic",
            """
            from django.db.transaction import atomic
            from django_q.tasks import async_task

            from orders.models import Order


            @atomic
            def place_order(cart, customer):
                order = Order.objects.create(customer=customer, total=cart.total)
                order.lines.bulk_create(cart.as_order_lines(order))
                async_task("orders.tasks.send_confirmation", order.pk)  # TXL101
                return order
            """,
            fixed="""
            from django.db.transaction import atomic
            from django_q.tasks import async_task

            from orders.models import Order
            from django.db import transaction
            from functools import partial


            @atomic
            def place_order(cart, customer):
                order = Order.objects.create(customer=customer, total=cart.total)
                order.lines.bulk_create(cart.as_order_lines(order))
                transaction.on_commit(partial(async_task, "orders.tasks.send_confirmation", order.pk))  # TXL101
                return order
            """,
            path="orders/services.py",
        ),
        Invalid(
            "delay_under_aliased_transaction_module",
            """
            from django.db import transaction as tx

            from .models import Comment
            from .tasks import notify_subscribers


            def post_comment(thread, author, body):
                with tx.atomic():
                    comment = Comment.objects.create(thread=thread, author=author, body=body)
                    thread.last_activity = comment.created
                    thread.save(update_fields=["last_activity"])
                    notify_subscribers.delay(comment.pk)  # TXL101
                return comment
            """,
            fixed="""
            from django.db import transaction as tx

            from .models import Comment
            from .tasks import notify_subscribers
            from functools import partial


            def post_comment(thread, author, body):
                with tx.atomic():
                    comment = Comment.objects.create(thread=thread, author=author, body=body)
                    thread.last_activity = comment.created
                    thread.save(update_fields=["last_activity"])
                    tx.on_commit(partial(notify_subscribers.delay, comment.pk))  # TXL101
                return comment
            """,
            path="forum/services.py",
        ),
        Invalid(
            "delay_in_contextmanager_atomic_wrapper",
            """
            from contextlib import contextmanager

            from django.db import transaction

            from .models import Checkout
            from .tasks import send_order_confirmation


            @contextmanager
            def traced_atomic_transaction():
                with transaction.atomic():
                    yield


            def complete_checkout(checkout_id):
                with traced_atomic_transaction():
                    checkout = Checkout.objects.select_for_update().get(pk=checkout_id)
                    order = checkout.create_order()
                    send_order_confirmation.delay(order.pk)  # TXL101
            """,
            fixed="""
            from contextlib import contextmanager

            from django.db import transaction

            from .models import Checkout
            from .tasks import send_order_confirmation
            from functools import partial


            @contextmanager
            def traced_atomic_transaction():
                with transaction.atomic():
                    yield


            def complete_checkout(checkout_id):
                with traced_atomic_transaction():
                    checkout = Checkout.objects.select_for_update().get(pk=checkout_id)
                    order = checkout.create_order()
                    transaction.on_commit(partial(send_order_confirmation.delay, order.pk))  # TXL101
            """,
            path="checkout/complete_checkout.py",
        ),
        Invalid(
            "delay_in_conditional_atomic_wrapper",
            """
            from contextlib import nullcontext

            from django.db import transaction

            from .models import Document
            from .tasks import task_index_document


            def conditional_atomic(use_transaction):
                return transaction.atomic() if use_transaction else nullcontext()


            def save_document(document, use_transaction=True):
                with conditional_atomic(use_transaction):
                    document.save()
                    Document.objects.filter(pk=document.pk).update(version=document.version + 1)
                    task_index_document.delay(document_id=document.pk)  # TXL101
            """,
            fixed="""
            from contextlib import nullcontext

            from django.db import transaction

            from .models import Document
            from .tasks import task_index_document
            from functools import partial


            def conditional_atomic(use_transaction):
                return transaction.atomic() if use_transaction else nullcontext()


            def save_document(document, use_transaction=True):
                with conditional_atomic(use_transaction):
                    document.save()
                    Document.objects.filter(pk=document.pk).update(version=document.version + 1)
                    transaction.on_commit(partial(task_index_document.delay, document_id=document.pk))  # TXL101
            """,
            path="documents/services.py",
        ),
        Invalid(
            "delay_in_run_python_of_atomic_migration",
            """
            from django.db import migrations

            from search.tasks import reindex_project


            def forwards(apps, schema_editor):
                Project = apps.get_model("projects", "Project")
                for project in Project.objects.filter(search_vector__isnull=True).iterator():
                    reindex_project.delay(project.pk)  # TXL101


            class Migration(migrations.Migration):
                dependencies = [("projects", "0003_project_search_vector")]

                operations = [
                    migrations.RunPython(forwards, migrations.RunPython.noop),
                ]
            """,
            fixed="""
            from django.db import transaction, migrations

            from search.tasks import reindex_project
            from functools import partial


            def forwards(apps, schema_editor):
                Project = apps.get_model("projects", "Project")
                for project in Project.objects.filter(search_vector__isnull=True).iterator():
                    transaction.on_commit(partial(reindex_project.delay, project.pk))  # TXL101


            class Migration(migrations.Migration):
                dependencies = [("projects", "0003_project_search_vector")]

                operations = [
                    migrations.RunPython(forwards, migrations.RunPython.noop),
                ]
            """,
            path="app/migrations/0004_backfill.py",
        ),
        Invalid(
            "delay_in_post_of_view_with_atomic_method_decorator",
            """
            from django.db import transaction
            from django.shortcuts import get_object_or_404, redirect
            from django.utils.decorators import method_decorator
            from django.views import View

            from .models import Report
            from .tasks import generate_report


            @method_decorator(transaction.atomic, name="dispatch")
            class RegenerateReportView(View):
                def post(self, request, pk):
                    report = get_object_or_404(Report, pk=pk, owner=request.user)
                    report.status = Report.Status.PENDING
                    report.save(update_fields=["status"])
                    generate_report.delay(report.pk)  # TXL101
                    return redirect(report)
            """,
            fixed="""
            from django.db import transaction
            from django.shortcuts import get_object_or_404, redirect
            from django.utils.decorators import method_decorator
            from django.views import View

            from .models import Report
            from .tasks import generate_report
            from functools import partial


            @method_decorator(transaction.atomic, name="dispatch")
            class RegenerateReportView(View):
                def post(self, request, pk):
                    report = get_object_or_404(Report, pk=pk, owner=request.user)
                    report.status = Report.Status.PENDING
                    report.save(update_fields=["status"])
                    transaction.on_commit(partial(generate_report.delay, report.pk))  # TXL101
                    return redirect(report)
            """,
            path="reports/views.py",
        ),
        Invalid(
            "signature_apply_async_in_viewset_perform_create",
            """
            from django.db import transaction
            from rest_framework import viewsets

            from .models import Export
            from .serializers import ExportSerializer
            from .tasks import build_export


            class ExportViewSet(viewsets.ModelViewSet):
                serializer_class = ExportSerializer

                def get_queryset(self):
                    return Export.objects.filter(owner=self.request.user)

                @transaction.atomic
                def perform_create(self, serializer):
                    export = serializer.save(owner=self.request.user)
                    build_export.s(export.pk).apply_async(countdown=2)  # TXL101
            """,
            fixed="""
            from django.db import transaction
            from rest_framework import viewsets

            from .models import Export
            from .serializers import ExportSerializer
            from .tasks import build_export
            from functools import partial


            class ExportViewSet(viewsets.ModelViewSet):
                serializer_class = ExportSerializer

                def get_queryset(self):
                    return Export.objects.filter(owner=self.request.user)

                @transaction.atomic
                def perform_create(self, serializer):
                    export = serializer.save(owner=self.request.user)
                    transaction.on_commit(partial(build_export.s(export.pk).apply_async, countdown=2))  # TXL101
            """,
            path="exports/api.py",
        ),
        Invalid(
            "celery_chain_apply_async_in_atomic_block",
            """
            from celery import chain, shared_task
            from django.db import transaction

            from .models import Video


            @shared_task
            def transcode(video_id):
                ...


            @shared_task
            def make_thumbnails(video_id):
                ...


            def publish_video(video):
                with transaction.atomic():
                    video.state = Video.State.PROCESSING
                    video.save(update_fields=["state"])
                    chain(transcode.si(video.pk), make_thumbnails.si(video.pk)).apply_async()  # TXL101
            """,
            fixed="""
            from celery import chain, shared_task
            from django.db import transaction

            from .models import Video


            @shared_task
            def transcode(video_id):
                ...


            @shared_task
            def make_thumbnails(video_id):
                ...


            def publish_video(video):
                with transaction.atomic():
                    video.state = Video.State.PROCESSING
                    video.save(update_fields=["state"])
                    transaction.on_commit(chain(transcode.si(video.pk), make_thumbnails.si(video.pk)).apply_async)  # TXL101
            """,
            path="media/services.py",
        ),
        Invalid(
            "send_task_by_name_in_management_command",
            """
            from django.core.management.base import BaseCommand
            from django.db import transaction

            from billing.models import Subscription
            from config.celery import app


            class Command(BaseCommand):
                help = "Renew subscriptions that expire today"

                def handle(self, *args, **options):
                    for subscription in Subscription.objects.expiring_today():
                        with transaction.atomic():
                            invoice = subscription.renew()
                            app.send_task("billing.tasks.charge_invoice", args=[invoice.pk])  # TXL101
            """,
            fixed="""
            from django.core.management.base import BaseCommand
            from django.db import transaction

            from billing.models import Subscription
            from config.celery import app
            from functools import partial


            class Command(BaseCommand):
                help = "Renew subscriptions that expire today"

                def handle(self, *args, **options):
                    for subscription in Subscription.objects.expiring_today():
                        with transaction.atomic():
                            invoice = subscription.renew()
                            transaction.on_commit(partial(app.send_task, "billing.tasks.charge_invoice", args=[invoice.pk]))  # TXL101
            """,
            path="billing/management/commands/renew_subscriptions.py",
        ),
        Invalid(
            "enqueue_on_django_rq_get_queue_result",
            """
            import django_rq
            from django.db import transaction

            from .models import Payout
            from .jobs import submit_payout


            def approve_payout(payout_id, approver):
                with transaction.atomic():
                    payout = Payout.objects.select_for_update().get(pk=payout_id)
                    payout.approve(by=approver)
                    django_rq.get_queue("high").enqueue(submit_payout, payout.pk)  # TXL101
            """,
            fixed="""
            import django_rq
            from django.db import transaction

            from .models import Payout
            from .jobs import submit_payout
            from functools import partial


            def approve_payout(payout_id, approver):
                with transaction.atomic():
                    payout = Payout.objects.select_for_update().get(pk=payout_id)
                    payout.approve(by=approver)
                    transaction.on_commit(partial(django_rq.get_queue("high").enqueue, submit_payout, payout.pk))  # TXL101
            """,
            path="payouts/services.py",
        ),
        Invalid(
            "enqueue_on_local_queue_in_loop",
            """
            import django_rq
            from django.db import transaction

            from .jobs import send_reminder
            from .models import Invoice


            def schedule_reminders(account):
                queue = django_rq.get_queue("mail")
                with transaction.atomic():
                    for invoice in Invoice.objects.overdue().filter(account=account):
                        invoice.reminders_sent += 1
                        invoice.save(update_fields=["reminders_sent"])
                        queue.enqueue(send_reminder, invoice.pk)  # TXL101
            """,
            fixed="""
            import django_rq
            from django.db import transaction

            from .jobs import send_reminder
            from .models import Invoice
            from functools import partial


            def schedule_reminders(account):
                queue = django_rq.get_queue("mail")
                with transaction.atomic():
                    for invoice in Invoice.objects.overdue().filter(account=account):
                        invoice.reminders_sent += 1
                        invoice.save(update_fields=["reminders_sent"])
                        transaction.on_commit(partial(queue.enqueue, send_reminder, invoice.pk))  # TXL101
            """,
            path="billing/services.py",
        ),
        Invalid(
            "dramatiq_actor_send_in_atomic_block",
            """
            import dramatiq
            from django.db import transaction

            from .models import Order


            @dramatiq.actor(max_retries=3)
            def send_receipt(order_id):
                order = Order.objects.get(pk=order_id)
                order.send_receipt()


            def mark_paid(order, payment):
                with transaction.atomic():
                    order.payment = payment
                    order.status = Order.Status.PAID
                    order.save(update_fields=["payment", "status"])
                    send_receipt.send(order.pk)  # TXL101
            """,
            fixed="""
            import dramatiq
            from django.db import transaction

            from .models import Order
            from functools import partial


            @dramatiq.actor(max_retries=3)
            def send_receipt(order_id):
                order = Order.objects.get(pk=order_id)
                order.send_receipt()


            def mark_paid(order, payment):
                with transaction.atomic():
                    order.payment = payment
                    order.status = Order.Status.PAID
                    order.save(update_fields=["payment", "status"])
                    transaction.on_commit(partial(send_receipt.send, order.pk))  # TXL101
            """,
            path="shop/services.py",
        ),
        Invalid(
            "huey_db_task_called_in_atomic_block",
            """
            from django.db import transaction
            from huey.contrib.djhuey import db_task

            from .models import Image


            @db_task()
            def generate_thumbnails(image_id):
                Image.objects.get(pk=image_id).generate_thumbnails()


            def store_image(gallery, upload):
                with transaction.atomic():
                    image = Image.objects.create(gallery=gallery, original=upload)
                    generate_thumbnails(image.pk)  # TXL101
                return image
            """,
            fixed="""
            from django.db import transaction
            from huey.contrib.djhuey import db_task

            from .models import Image
            from functools import partial


            @db_task()
            def generate_thumbnails(image_id):
                Image.objects.get(pk=image_id).generate_thumbnails()


            def store_image(gallery, upload):
                with transaction.atomic():
                    image = Image.objects.create(gallery=gallery, original=upload)
                    transaction.on_commit(partial(generate_thumbnails, image.pk))  # TXL101
                return image
            """,
            path="gallery/services.py",
        ),
        Invalid(
            "django_tasks_enqueue_in_atomic_block",
            """
            from django.core.mail import send_mail
            from django.db import transaction
            from django.tasks import task

            from .models import Newsletter


            @task
            def send_newsletter(newsletter_id):
                newsletter = Newsletter.objects.get(pk=newsletter_id)
                send_mail(newsletter.subject, newsletter.body, None, newsletter.recipients())


            def schedule_newsletter(form):
                with transaction.atomic():
                    newsletter = form.save()
                    send_newsletter.enqueue(newsletter.pk)  # TXL101
            """,
            fixed="""
            from django.core.mail import send_mail
            from django.db import transaction
            from django.tasks import task

            from .models import Newsletter
            from functools import partial


            @task
            def send_newsletter(newsletter_id):
                newsletter = Newsletter.objects.get(pk=newsletter_id)
                send_mail(newsletter.subject, newsletter.body, None, newsletter.recipients())


            def schedule_newsletter(form):
                with transaction.atomic():
                    newsletter = form.save()
                    transaction.on_commit(partial(send_newsletter.enqueue, newsletter.pk))  # TXL101
            """,
            path="newsletters/services.py",
        ),
        Invalid(
            "enqueued_job_kept_for_its_id",
            """
            import django_rq
            from django.db import transaction

            from .jobs import build_archive
            from .models import Archive


            def request_archive(user):
                queue = django_rq.get_queue("default")
                with transaction.atomic():
                    archive = Archive.objects.create(owner=user)
                    job = queue.enqueue(build_archive, archive.pk)  # TXL101
                    archive.job_id = job.id
                    archive.save(update_fields=["job_id"])
                return archive
            """,
            fixed=None,
            path="archives/services.py",
        ),
        Invalid(
            "multi_line_delay_with_hugged_list_argument",
            """
            from django.db import transaction

            from .models import Product
            from .tasks import index_products


            def import_products(rows):
                with transaction.atomic():
                    products = Product.objects.bulk_create(Product(**row) for row in rows)
                    index_products.delay([  # TXL101
                        product.pk
                        for product in products
                        if product.is_published
                    ])
                return products
            """,
            fixed="""
            from django.db import transaction

            from .models import Product
            from .tasks import index_products
            from functools import partial


            def import_products(rows):
                with transaction.atomic():
                    products = Product.objects.bulk_create(Product(**row) for row in rows)
                    transaction.on_commit(partial(index_products.delay, [  # TXL101
                        product.pk
                        for product in products
                        if product.is_published
                    ]))
                return products
            """,
            path="catalog/importers.py",
        ),
        Invalid(
            "delay_with_a_bare_generator_argument_keeps_it_parenthesized",
            """
            from django.db import transaction

            from .tasks import reserve_stock


            def place_order(order):
                with transaction.atomic():
                    order.save()
                    reserve_stock.delay(line.pk for line in order.lines.all())  # TXL101
            """,
            fixed="""
            from django.db import transaction

            from .tasks import reserve_stock
            from functools import partial


            def place_order(order):
                with transaction.atomic():
                    order.save()
                    transaction.on_commit(partial(reserve_stock.delay, (line.pk for line in order.lines.all())))  # TXL101
            """,
            path="shop/services.py",
        ),
        Invalid(
            "configured_dispatcher_in_atomic_block",
            """
            from django.db import transaction

            from core.redis import start_job_async_or_sync
            from projects.jobs import import_file


            def upload_file(project, file):
                with transaction.atomic():
                    upload = project.uploads.create(file=file)
                    start_job_async_or_sync(import_file, upload.pk, queue_name="high")  # TXL101
                return upload
            """,
            fixed="""
            from django.db import transaction

            from core.redis import start_job_async_or_sync
            from projects.jobs import import_file
            from functools import partial


            def upload_file(project, file):
                with transaction.atomic():
                    upload = project.uploads.create(file=file)
                    transaction.on_commit(partial(start_job_async_or_sync, import_file, upload.pk, queue_name="high"))  # TXL101
                return upload
            """,
            path="data_import/functions.py",
            settings=Settings(dispatchers=frozenset({"core.redis.start_job_async_or_sync"})),
        ),
        Invalid(
            "delay_in_configured_atomic_context",
            """
            from core.db import locked_atomic

            from .tasks import recalculate_balance


            def transfer(source, target, amount):
                with locked_atomic(source, target):
                    source.withdraw(amount)
                    target.deposit(amount)
                    recalculate_balance.delay(source.pk)  # TXL101
            """,
            fixed="""
            from core.db import locked_atomic

            from .tasks import recalculate_balance
            from django.db import transaction
            from functools import partial


            def transfer(source, target, amount):
                with locked_atomic(source, target):
                    source.withdraw(amount)
                    target.deposit(amount)
                    transaction.on_commit(partial(recalculate_balance.delay, source.pk))  # TXL101
            """,
            path="ledger/services.py",
            settings=Settings(atomic_contexts=frozenset({"core.db.locked_atomic"})),
        ),
        Invalid(
            "broker_error_caught_inside_the_transaction",
            """
            import logging

            from django.db import transaction
            from kombu.exceptions import OperationalError

            from .tasks import send_receipt

            logger = logging.getLogger(__name__)


            def checkout(order):
                with transaction.atomic():
                    order.mark_paid()
                    try:
                        send_receipt.delay(order.pk)  # TXL101
                    except OperationalError:
                        logger.warning("broker down, receipt for %s not sent", order.pk)
            """,
            # Unsafe: after the fix the broker error is raised by the commit, past the handler.
            fixed="""
            import logging

            from django.db import transaction
            from kombu.exceptions import OperationalError

            from .tasks import send_receipt
            from functools import partial

            logger = logging.getLogger(__name__)


            def checkout(order):
                with transaction.atomic():
                    order.mark_paid()
                    try:
                        transaction.on_commit(partial(send_receipt.delay, order.pk))  # TXL101
                    except OperationalError:
                        logger.warning("broker down, receipt for %s not sent", order.pk)
            """,
            path="shop/services.py",
        ),
        Invalid(
            "wrapper_imported_from_another_module",
            """
            from core.db import traced_atomic

            from .tasks import send_receipt


            @traced_atomic("checkout")
            def checkout(order):
                order.mark_paid()
                send_receipt.delay(order.pk)  # TXL101
            """,
            fixed="""
            from core.db import traced_atomic

            from .tasks import send_receipt
            from django.db import transaction
            from functools import partial


            @traced_atomic("checkout")
            def checkout(order):
                order.mark_paid()
                transaction.on_commit(partial(send_receipt.delay, order.pk))  # TXL101
            """,
            path="shop/services.py",
            # The project index found `core/db.py`: a `@contextmanager` yielding inside `atomic()`.
            settings=Settings(atomic_wrappers=frozenset({"core.db.traced_atomic"})),
        ),
        Invalid(
            "multiline_apply_async_with_comment_after_bracket",
            """
            from django.db import transaction

            from .tasks import notify_carrier


            def book_shipment(shipment):
                with transaction.atomic():
                    shipment.status = "booked"
                    shipment.save(update_fields=["status"])
                    notify_carrier.apply_async(  # TXL101 carriers poll slowly
                        args=[shipment.pk],
                        queue="carriers",
                    )
            """,
            fixed="""
            from django.db import transaction

            from .tasks import notify_carrier
            from functools import partial


            def book_shipment(shipment):
                with transaction.atomic():
                    shipment.status = "booked"
                    shipment.save(update_fields=["status"])
                    transaction.on_commit(partial(  # TXL101 carriers poll slowly
                        notify_carrier.apply_async,
                        args=[shipment.pk],
                        queue="carriers",
                    ))
            """,
        ),
        Invalid(
            "delay_in_transaction_on_another_database",
            """
            from django.db import transaction

            from analytics.tasks import export_page_views


            def record_views(views):
                with transaction.atomic(using="analytics"):
                    for view in views:
                        view.save(using="analytics")
                        export_page_views.delay(view.pk)  # TXL101
            """,
            fixed="""
            from django.db import transaction

            from analytics.tasks import export_page_views
            from functools import partial


            def record_views(views):
                with transaction.atomic(using="analytics"):
                    for view in views:
                        view.save(using="analytics")
                        transaction.on_commit(partial(export_page_views.delay, view.pk), using="analytics")  # TXL101
            """,
        ),
        Invalid(
            "delay_in_transaction_on_routed_database_has_no_fix",
            """
            from django.db import router, transaction

            from .tasks import reindex_invoice


            def close_invoice(invoice):
                with transaction.atomic(using=router.db_for_write(type(invoice))):
                    invoice.closed = True
                    invoice.save()
                    reindex_invoice.delay(invoice.pk)  # TXL101
            """,
        ),
        Invalid(
            "awaited_aenqueue_in_atomic_block_has_no_fix",
            """
            from django.db import transaction

            from .tasks import refresh_feed


            async def follow(user, author):
                with transaction.atomic():
                    user.following.add(author)
                    await refresh_feed.aenqueue(user.pk)  # TXL101
            """,
        ),
        Invalid(
            "partial_taken_by_parameters_has_no_fix",
            """
            from django.db import transaction

            from .tasks import render_report


            def schedule(report, partial, functools):
                with transaction.atomic():
                    report.save()
                    render_report.delay(report.pk, partial=partial)  # TXL101
            """,
        ),
        Invalid(
            "payment_code_with_a_local_named_transaction",
            """
            import functools

            from django.db.transaction import atomic

            from payments.models import Transaction
            from payments.tasks import capture_payment


            @atomic
            def charge(order):
                transaction = Transaction.objects.create(order=order, amount=order.total)
                capture_payment.delay(transaction.pk)  # TXL101
            """,
            fixed="""
            import functools

            from django.db.transaction import atomic

            from payments.models import Transaction
            from payments.tasks import capture_payment
            from django.db import transaction as db_transaction


            @atomic
            def charge(order):
                transaction = Transaction.objects.create(order=order, amount=order.total)
                db_transaction.on_commit(functools.partial(capture_payment.delay, transaction.pk))  # TXL101
            """,
        ),
        Invalid(
            "apiview_post_under_atomic_requests",
            """
            from rest_framework.response import Response
            from rest_framework.views import APIView

            from .tasks import process_upload


            class UploadAPI(APIView):
                def post(self, request):
                    upload = Upload.objects.create(file=request.FILES["file"], owner=request.user)
                    process_upload.delay(upload.pk)  # TXL101
                    return Response({"id": upload.pk}, status=201)
            """,
            fixed="""
            from rest_framework.response import Response
            from rest_framework.views import APIView

            from .tasks import process_upload
            from django.db import transaction
            from functools import partial


            class UploadAPI(APIView):
                def post(self, request):
                    upload = Upload.objects.create(file=request.FILES["file"], owner=request.user)
                    transaction.on_commit(partial(process_upload.delay, upload.pk))  # TXL101
                    return Response({"id": upload.pk}, status=201)
            """,
            path="uploads/endpoints.py",
            settings=Settings(atomic_requests=True),
        ),
    )

    def could_match(self, source: str, settings: Settings) -> bool:
        return contains_any(source, settings.atomic_tokens()) and contains_any(source, settings.dispatch_tokens())

    def sites(self, outline: Outline) -> list[ast.AST]:
        calls = [
            call for call, frame in outline.calls if outline.may_dispatch(call) and outline.may_be_in_transaction(frame)
        ]
        return [*calls, *outline.transaction_sources()] if calls else []

    def check(self, django: DjangoModule) -> Iterator[Finding]:
        model = django.model
        for site in model.calls:
            if django.dispatches.of(site) is None:
                continue
            transaction = django.transactions.opened_at(site.frame)
            if transaction is None:
                continue
            callee = callee_text(model, site.node.func)
            fix = self._fix(django, site, transaction)
            message = f"`{callee}()` dispatches a job inside `{transaction.description}`; defer it with `transaction.on_commit()`"
            reason = None if fix else _why_no_fix(django, site, transaction)
            if reason:
                message += f" (no autofix: {reason})"
            yield self.finding(site.node, message, fix, reason)

    def _fix(self, django: DjangoModule, site: CallSite, transaction: Transaction) -> Fix | None:
        if site.statement is None or _in_async_function(django, site):
            return None
        deferred = deferred_until_commit(django.model, site.frame, site.node, transaction.using)
        if deferred is None:
            return None
        safety = FixSafety.UNSAFE if _caught_inside_transaction(site, transaction) else FixSafety.SAFE
        return Fix(self.fix_title or "", safety, (NodeEdit(site.node, deferred.expression),), deferred.imports)


def _caught_inside_transaction(site: CallSite, transaction: Transaction) -> bool:
    """Whether a `try` inside the transaction has handlers around the dispatch.

    Deferred to the commit, a broker error is raised by the commit, out of reach of
    the handler that used to catch it (`except OperationalError: logger.warning(...)`).
    """
    for frame in site.frame.ancestors():
        if frame.kind is FrameKind.WITH and _opens(frame, transaction):
            return False
        if frame.kind is FrameKind.TRY_BODY and isinstance(frame.node, (cst.Try, cst.TryStar)) and frame.node.handlers:
            return True
    return False


def _opens(frame: Frame, transaction: Transaction) -> bool:
    assert isinstance(frame.node, cst.With)
    return any(item.item is transaction.opener for item in frame.node.items)


def _in_async_function(django: DjangoModule, site: CallSite) -> bool:
    functions = site.frame.enclosing_functions()
    info = django.model.function_for(functions[0]) if functions else None
    return info is not None and info.is_async


def _why_no_fix(django: DjangoModule, site: CallSite, transaction: Transaction) -> str:
    if site.statement is not None and not site.awaited and _in_async_function(django, site):
        return "inside an async function"
    return why_not_deferred(site, transaction.using)
