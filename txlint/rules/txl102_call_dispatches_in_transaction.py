from __future__ import annotations

import ast
from collections.abc import Iterator

from txlint.diagnostics import Fix, FixSafety, NodeEdit
from txlint.django import DjangoModule
from txlint.django.model import CallSite, callee_text
from txlint.django.outline import Outline
from txlint.django.reach import KnownChains, may_reach_a_dispatch
from txlint.django.references import deferred_until_commit, why_not_deferred
from txlint.django.names import resolve_callee
from txlint.django.summary import SIGNAL_SENDS, Chain, callee_name, mention_name, summarise
from txlint.django.transactions import Transaction
from txlint.index import ProjectIndex, dispatch_shaped
from txlint.rule import Finding, Invalid, Rule, Valid
from txlint.settings import Settings, contains_any


# What the adapters' project index reports for the cases that import a wrapper from
# another module (`core/redis.py`, and `core/jobs/redis.py` re-exported by `core.jobs`).
INDEXED_CHAINS = {
    "core.redis.start_job_async_or_sync": ("start_job_async_or_sync", "queue.enqueue"),
    "core.jobs.redis.start_job": ("start_job", "Queue.enqueue"),
}
PROJECT = Settings(dispatch_chains=INDEXED_CHAINS)


class CallDispatchesInTransaction(Rule):
    """
    ## What it does
    Finds calls, inside a transaction, to a project function that dispatches a
    background job, directly or through any chain of calls, without deferring to
    `on_commit` itself: `create_file_upload -> process_pdf_if_needed -> Queue.enqueue`.

    ## Why is this bad?
    The job reaches the queue before the transaction commits, exactly as if the view
    had enqueued it itself (TXL101), but no single line shows it: the enqueue sits
    two modules away. The worker reads nothing, or rows that are rolled back later.

    ## Example
    ```python
    # core/redis.py
    def start_job(job, *args):
        django_rq.get_queue("default").enqueue(job, *args)

    # data_import/api.py
    with transaction.atomic():
        project_import = ProjectImport.objects.create(project=project)
        start_job(async_import_background, project_import.id)
    ```

    ## Use instead
    Make the wrapper transaction-aware, which fixes every caller at once:
    ```python
    def start_job(job, *args):
        enqueue = partial(django_rq.get_queue("default").enqueue, job, *args)
        if connection.in_atomic_block:
            transaction.on_commit(enqueue)
        else:
            enqueue()
    ```
    or defer the call: `transaction.on_commit(partial(start_job, async_import_background, pk))`.

    ## Fix safety
    Unsafe: the fix defers the whole call with `transaction.on_commit(partial(...))`,
    which also moves whatever else the called function does (its own writes) out of
    the transaction. Offered only when the call is a statement of its own.

    ## Options
    None of its own: it follows the project's imports from the project root (the
    folder with manage.py, pyproject.toml or setup.cfg), re-exports in `__init__.py`,
    and `self.method()` calls. `dispatchers` names wrappers to treat as direct
    dispatches (then TXL101 reports their calls). A function that checks
    `connection.in_atomic_block` and calls `on_commit` is transaction-aware and ends
    every chain through it. A function nested in another is a link too, where it is
    called by name in the function that defines it (or deeper): `kick_off()` below
    `def kick_off(): start_job(...)`; passing it to `on_commit(kick_off)` is the safe form.
    Custom signals count as calls: `order_paid.send(...)` / `send_robust(...)` calls every
    receiver connected with `@receiver(order_paid)` or `order_paid.connect(f)` anywhere in
    the project, so a receiver that dispatches makes the send a TXL102.
    """

    code = "TXL102"
    name = "call-dispatches-in-transaction"
    summary = "Call to a function that dispatches a job, inside a transaction"
    fix_title = "Defer the call with `transaction.on_commit`"
    fix_safety = FixSafety.UNSAFE
    valid = (
        Valid(
            "nested_function_handed_to_on_commit",
            """
            from django.db import transaction

            from .tasks import rebuild_thumbnails


            def replace_images(product, images):
                def refresh():
                    rebuild_thumbnails.delay(product.pk)

                with transaction.atomic():
                    product.images.all().delete()
                    product.images.bulk_create(images)
                    transaction.on_commit(refresh)
                refresh_cache = refresh
                return refresh_cache
            """,
        ),
        Valid(
            "call_only_defined_in_block",
            """
            from django.db import transaction

            from .tasks import rebuild_index


            def rebuild(site):
                rebuild_index.delay(site.pk)


            def publish(page):
                with transaction.atomic():
                    page.publish()

                    def after():
                        rebuild(page.site)

                    transaction.on_commit(after)
            """,
        ),
        Valid(
            "chain_through_aware_wrapper",
            """
            import django_rq
            from django.db import connection, transaction


            def start_job(job, *args):
                def enqueue():
                    django_rq.get_queue("default").enqueue(job, *args)

                if connection.in_atomic_block:
                    transaction.on_commit(enqueue)
                else:
                    enqueue()


            def schedule_import(project_import):
                start_job(async_import_background, project_import.id)


            @transaction.atomic
            def create_import(project):
                project_import = ProjectImport.objects.create(project=project)
                schedule_import(project_import)
            """,
        ),
        Valid(
            "configured_dispatcher_is_txl101",
            """
            from django.db import transaction

            from core.redis import start_job_async_or_sync


            def async_import(request, project):
                with transaction.atomic():
                    project_import = ProjectImport.objects.create(project=project)
                    start_job_async_or_sync(async_import_background, project_import.id)
            """, settings=Settings(dispatch_chains=INDEXED_CHAINS, dispatchers=frozenset({"core.redis.start_job_async_or_sync"})),
        ),
        Valid(
            "helper_called_after_commit",
            """
            from django.db import transaction

            from .tasks import send_welcome_email


            def welcome(user):
                send_welcome_email.delay(user.pk)


            def signup(form):
                with transaction.atomic():
                    user = form.save()
                    user.profile.save()
                welcome(user)
            """,
        ),
        Valid(
            "helper_defers_with_lambda",
            """
            from django.db import transaction

            from .tasks import send_welcome_email


            def welcome_after_commit(user):
                transaction.on_commit(lambda: send_welcome_email.delay(user.pk))


            @transaction.atomic
            def signup(form):
                user = form.save()
                welcome_after_commit(user)
            """,
        ),
        Valid(
            "helper_without_dispatch",
            """
            from django.db import transaction


            def log_import(project_import):
                ImportLog.objects.create(project_import=project_import, message="created")


            @transaction.atomic
            def create_import(project):
                project_import = ProjectImport.objects.create(project=project)
                log_import(project_import)
            """,
        ),
        Valid(
            "read_only_replica",
            """
            from django.db import transaction

            from .tasks import warm_report_cache


            def warm(report):
                warm_report_cache.delay(report.pk)


            def show_report(report):
                with transaction.atomic(using="replica"):
                    rows = list(report.rows.all())
                    warm(report)
                return rows
            """,
        ),
        Valid(
            "transaction_aware_wrapper",
            """
            from functools import partial

            import django_rq
            from django.db import connection, transaction


            def start_job(job, *args):
                enqueue = partial(django_rq.get_queue("default").enqueue, job, *args)
                if connection.in_atomic_block:
                    transaction.on_commit(enqueue)
                else:
                    enqueue()


            def import_view(request, project):
                with transaction.atomic():
                    project_import = ProjectImport.objects.create(project=project)
                    start_job(async_import_background, project_import.id)
            """,
        ),
        Valid(
            "unrelated_imported_function",
            """
            from django.db import transaction

            from core.utils import slugify_unique


            @transaction.atomic
            def rename_project(project, title):
                project.title = title
                project.slug = slugify_unique(title)
                project.save()
            """,
        ),
        Valid(
            "wrapper_that_defers_except_in_tests",
            """
            from celery import chain
            from django.conf import settings
            from django.db import transaction

            from .tasks import invoice_pdf_task, mail_send_task


            def mail(outgoing, invoices):
                task_chain = [invoice_pdf_task.si(i.pk) for i in invoices]
                task_chain.append(mail_send_task.si(outgoing.pk))
                if "locmem" in settings.EMAIL_BACKEND:
                    chain(*task_chain).apply_async()  # tests: on_commit never fires there
                else:
                    transaction.on_commit(lambda: chain(*task_chain).apply_async())


            @transaction.atomic
            def invite(member):
                member.save()
                mail(member.outgoing, [])
            """,
        ),
    )
    invalid = (
        Invalid(
            "cross_module_wrapper",
            """
            from django.db import transaction
            from rest_framework.response import Response

            from core.redis import start_job_async_or_sync

            from .functions import async_import_background


            def async_import(request, project):
                with transaction.atomic():
                    project_import = ProjectImport.objects.create(project=project, status="created")
                    start_job_async_or_sync(  # TXL102
                        async_import_background,
                        project_import.id,
                        queue_name="high",
                    )
                return Response({"import": project_import.id}, status=201)
            """,
            fixed="""
            from django.db import transaction
            from rest_framework.response import Response

            from core.redis import start_job_async_or_sync

            from .functions import async_import_background
            from functools import partial


            def async_import(request, project):
                with transaction.atomic():
                    project_import = ProjectImport.objects.create(project=project, status="created")
                    transaction.on_commit(partial(  # TXL102
                        start_job_async_or_sync,
                        async_import_background,
                        project_import.id,
                        queue_name="high",
                    ))
                return Response({"import": project_import.id}, status=201)
            """, settings=PROJECT,
        ),
        Invalid(
            "helper_same_module",
            """
            import django_rq
            from django.db import transaction


            def start_job(job, *args):
                django_rq.get_queue("default").enqueue(job, *args)


            def import_view(request, project):
                with transaction.atomic():
                    project_import = ProjectImport.objects.create(project=project)
                    start_job(async_import_background, project_import.id)  # TXL102
            """,
            fixed="""
            import django_rq
            from django.db import transaction
            from functools import partial


            def start_job(job, *args):
                django_rq.get_queue("default").enqueue(job, *args)


            def import_view(request, project):
                with transaction.atomic():
                    project_import = ProjectImport.objects.create(project=project)
                    transaction.on_commit(partial(start_job, async_import_background, project_import.id))  # TXL102
            """,
        ),
        Invalid(
            "on_another_database",
            """
            from django.db import transaction

            from .tasks import push_invoice


            def export_invoice(invoice):
                push_invoice.apply_async(args=[invoice.pk], queue="billing")


            def close_invoice(invoice):
                with transaction.atomic(using="billing"):
                    invoice.closed = True
                    invoice.save(using="billing")
                    export_invoice(invoice)  # TXL102
            """,
            fixed="""
            from django.db import transaction

            from .tasks import push_invoice
            from functools import partial


            def export_invoice(invoice):
                push_invoice.apply_async(args=[invoice.pk], queue="billing")


            def close_invoice(invoice):
                with transaction.atomic(using="billing"):
                    invoice.closed = True
                    invoice.save(using="billing")
                    transaction.on_commit(partial(export_invoice, invoice), using="billing")  # TXL102
            """,
        ),
        Invalid(
            "recursive_helper",
            """
            from django.db import transaction

            from .tasks import reindex_document


            def reindex_tree(folder):
                for child in folder.children.all():
                    reindex_tree(child)
                for document in folder.documents.all():
                    reindex_document.delay(document.pk)


            def move_folder(folder, parent):
                with transaction.atomic():
                    folder.parent = parent
                    folder.save(update_fields=["parent"])
                    reindex_tree(folder)  # TXL102
            """,
            fixed="""
            from django.db import transaction

            from .tasks import reindex_document
            from functools import partial


            def reindex_tree(folder):
                for child in folder.children.all():
                    reindex_tree(child)
                for document in folder.documents.all():
                    reindex_document.delay(document.pk)


            def move_folder(folder, parent):
                with transaction.atomic():
                    folder.parent = parent
                    folder.save(update_fields=["parent"])
                    transaction.on_commit(partial(reindex_tree, folder))  # TXL102
            """,
        ),
        Invalid(
            "reexported_from_package",
            """
            from django.db import transaction

            from core.jobs import start_job


            @transaction.atomic
            def reimport(project, file_upload_ids):
                project.remove_tasks_by_file_uploads(file_upload_ids)
                start_job(reimport_background, project.id, file_upload_ids)  # TXL102
            """,
            fixed="""
            from django.db import transaction

            from core.jobs import start_job
            from functools import partial


            @transaction.atomic
            def reimport(project, file_upload_ids):
                project.remove_tasks_by_file_uploads(file_upload_ids)
                transaction.on_commit(partial(start_job, reimport_background, project.id, file_upload_ids))  # TXL102
            """, settings=PROJECT,
        ),
        Invalid(
            "result_used_has_no_fix",
            """
            import django_rq
            from django.db import transaction


            def render_pages(upload):
                return [django_rq.get_queue("high").enqueue(render_page, upload.pk, n) for n in range(upload.pages)]


            @transaction.atomic
            def convert_pdf(upload):
                upload.status = "processing"
                upload.save(update_fields=["status"])
                jobs = render_pages(upload)  # TXL102
                return len(jobs)
            """,
        ),
        Invalid(
            "runpython_migration",
            """
            from django.db import migrations

            from search.tasks import index_product


            def reindex(product):
                index_product.delay(product.pk)


            def forwards(apps, schema_editor):
                Product = apps.get_model("catalogue", "Product")
                for product in Product.objects.filter(is_public=True):
                    reindex(product)  # TXL102


            class Migration(migrations.Migration):
                dependencies = [("catalogue", "0007_product_is_public")]
                operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
            """,
            fixed="""
            from django.db import transaction, migrations

            from search.tasks import index_product
            from functools import partial


            def reindex(product):
                index_product.delay(product.pk)


            def forwards(apps, schema_editor):
                Product = apps.get_model("catalogue", "Product")
                for product in Product.objects.filter(is_public=True):
                    transaction.on_commit(partial(reindex, product))  # TXL102


            class Migration(migrations.Migration):
                dependencies = [("catalogue", "0007_product_is_public")]
                operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
            """, path="app/migrations/0008_reindex.py",
        ),
        Invalid(
            "nested_function_called_in_the_block",
            """
            from django.db import transaction

            from .tasks import rebuild_thumbnails


            def replace_images(product, images):
                def refresh():
                    rebuild_thumbnails.delay(product.pk)

                with transaction.atomic():
                    product.images.all().delete()
                    product.images.bulk_create(images)
                    refresh()  # TXL102
            """,
            fixed="""
            from django.db import transaction

            from .tasks import rebuild_thumbnails


            def replace_images(product, images):
                def refresh():
                    rebuild_thumbnails.delay(product.pk)

                with transaction.atomic():
                    product.images.all().delete()
                    product.images.bulk_create(images)
                    transaction.on_commit(refresh)  # TXL102
            """,
        ),
        Invalid(
            "self_method_chain",
            """
            from django.db import transaction

            from .tasks import send_import_report


            class ImportService:
                def _notify(self, project_import):
                    send_import_report.delay(project_import.pk)

                def _finish(self, project_import):
                    project_import.status = "done"
                    project_import.save(update_fields=["status"])
                    self._notify(project_import)

                @transaction.atomic
                def run(self, project):
                    project_import = ProjectImport.objects.create(project=project)
                    self._finish(project_import)  # TXL102
                    return project_import
            """,
            fixed="""
            from django.db import transaction

            from .tasks import send_import_report
            from functools import partial


            class ImportService:
                def _notify(self, project_import):
                    send_import_report.delay(project_import.pk)

                def _finish(self, project_import):
                    project_import.status = "done"
                    project_import.save(update_fields=["status"])
                    self._notify(project_import)

                @transaction.atomic
                def run(self, project):
                    project_import = ProjectImport.objects.create(project=project)
                    transaction.on_commit(partial(self._finish, project_import))  # TXL102
                    return project_import
            """,
        ),
    )

    def could_match(self, source: str, settings: Settings) -> bool:
        if not contains_any(source, settings.atomic_tokens()):
            return False
        if dispatch_shaped(source):
            return True  # a chain may start in this module
        return any(mention_name(name) in source for name in settings.dispatch_chains)

    def sites(self, outline: Outline) -> list[ast.AST]:
        """Calls in a transaction to a function that may be in a chain, and every function
        of the module that may be in one: the module's own chains are built from them."""
        known = KnownChains(outline)
        sends = set(SIGNAL_SENDS) if outline.has_receivers() else set()
        chained = may_reach_a_dispatch(outline, known, sends)
        names = sends | {info.node.name for info in chained}
        calls = [
            call
            for call, frame in outline.calls
            if (outline.last_names(call.func) & names or known.may_resolve(call, frame))
            and outline.may_be_in_transaction(frame)
        ]
        if not calls:
            return []
        return [*calls, *(info.node for info in chained), *outline.connections(), *outline.transaction_sources()]

    def check(self, django: DjangoModule) -> Iterator[Finding]:
        model = django.model
        chains = _chains(django)
        if not chains:
            return
        for site in model.calls:
            if django.dispatches.of(site) is not None:
                continue  # a dispatch itself: TXL101's
            target = callee_name(model, site.node, model.function_for(site.frame.scope()))
            known = resolve_callee(target, chains) if target else None
            if known is None:
                continue
            transaction = django.transactions.opened_at(site.frame)
            if transaction is None:
                continue
            fix = self._fix(django, site, transaction)
            message = (
                f"`{callee_text(model, site.node.func)}()` dispatches a job ({' -> '.join(chains[known])}) "
                f"inside `{transaction.description}`; defer it with `transaction.on_commit()`"
            )
            reason = None if fix else why_not_deferred(site, transaction.using)
            if reason:
                message += f" (no autofix: {reason})"
            yield self.finding(site.node, message, fix, reason)

    def _fix(self, django: DjangoModule, site: CallSite, transaction: Transaction) -> Fix | None:
        if site.statement is None or site.awaited:
            return None
        deferred = deferred_until_commit(django.model, site.frame, site.node, transaction.using)
        if deferred is None:
            return None
        return Fix(self.fix_title or "", FixSafety.UNSAFE, (NodeEdit(site.node, deferred.expression),), deferred.imports)


def _chains(django: DjangoModule) -> dict[str, Chain]:
    """The project's chains (from the adapters' index), completed with this module's own."""
    return ProjectIndex(functions=summarise(django)).chains(django.model.settings.dispatch_chains)
