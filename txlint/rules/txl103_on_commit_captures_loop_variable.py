from __future__ import annotations

import ast
from collections.abc import Iterator

from txlint.diagnostics import Fix, FixSafety, NodeEdit
from txlint.django import DjangoModule
from txlint.django.model import CallSite, Frame, FrameKind, FunctionInfo, parameter_names
from txlint.django.outline import Outline
from txlint.django.reads import names_read
from txlint.django.names import keyword_argument, positional_arguments
from txlint.lazy import cst
from txlint.rule import Finding, Invalid, Rule, Valid, dedent
from txlint.settings import Settings


class OnCommitCapturesLoopVariable(Rule):
    """
    ## What it does
    Finds a `lambda` (or a nested function) handed to `transaction.on_commit()` inside
    a loop that reads, by closure, a variable the loop rebinds: the loop target or a
    name assigned in the loop body.

    ## Why is this bad?
    On-commit callbacks run after the transaction commits, long after the loop ended.
    A closure reads the variable when it runs, so every callback sees the last value:
    ten orders imported, ten e-mails about the last one.

    ## Example
    ```python
    with transaction.atomic():
        for order in orders:
            order.confirm()
            transaction.on_commit(lambda: send_confirmation.delay(order.pk))
    ```

    ## Use instead
    ```python
    with transaction.atomic():
        for order in orders:
            order.confirm()
            transaction.on_commit(lambda order=order: send_confirmation.delay(order.pk))
    ```
    or `transaction.on_commit(partial(send_confirmation.delay, order.pk))`.

    ## Fix safety
    Safe: the fix binds each captured variable as a default argument
    (`lambda order=order: ...`), so the callback keeps the value of its own iteration;
    nothing else about the call changes. Offered when the callback takes no
    parameters yet.

    ## Options
    None.
    """

    code = "TXL103"
    name = "on-commit-captures-loop-variable"
    summary = "`on_commit` callback captures a loop variable"
    fix_title = "Bind the loop variables as default arguments"
    fix_safety = FixSafety.SAFE
    valid = (
        Valid(
            "default_argument_binds_each_order",
            dedent("""
                from django.db import transaction

                from orders.models import Order
                from orders.tasks import send_confirmation


                def confirm_orders(order_ids):
                    with transaction.atomic():
                        for order in Order.objects.select_for_update().filter(pk__in=order_ids):
                            order.status = Order.Status.CONFIRMED
                            order.save(update_fields=["status"])
                            transaction.on_commit(lambda order=order: send_confirmation.delay(order.pk))
            """),
        ),
        Valid(
            "partial_binds_the_arguments_now",
            dedent("""
                from functools import partial

                from django.db import transaction

                from accounts.models import Invitation
                from accounts.tasks import send_invitation_email


                @transaction.atomic
                def invite_team(team, emails):
                    for email in emails:
                        invitation = Invitation.objects.create(team=team, email=email)
                        transaction.on_commit(partial(send_invitation_email.delay, invitation.pk))
            """),
        ),
        Valid(
            "functools_partial_in_management_command",
            dedent("""
                import csv
                import functools

                from django.core.management.base import BaseCommand
                from django.db import transaction

                from catalog.models import Product
                from catalog.tasks import generate_thumbnails


                class Command(BaseCommand):
                    help = "Import products from a supplier feed"

                    def add_arguments(self, parser):
                        parser.add_argument("path")

                    @transaction.atomic
                    def handle(self, *args, path, **options):
                        with open(path, newline="") as feed:
                            for row in csv.DictReader(feed):
                                product = Product.objects.create(sku=row["sku"], name=row["name"])
                                transaction.on_commit(functools.partial(generate_thumbnails.delay, product.pk, row["image_url"]))
            """),
        ),
        Valid(
            "retry_loop_callback_reads_only_the_parameter",
            dedent("""
                import time

                from django.db import OperationalError, transaction

                from billing.tasks import email_invoice

                MAX_ATTEMPTS = 3


                def finalize_invoice(invoice):
                    for attempt in range(MAX_ATTEMPTS):
                        try:
                            with transaction.atomic():
                                invoice.finalize()
                                transaction.on_commit(lambda: email_invoice.delay(invoice.pk))
                            break
                        except OperationalError:
                            time.sleep(2**attempt)
            """),
        ),
        Valid(
            "on_commit_after_the_loop_has_ended",
            dedent("""
                from django.db import transaction

                from search.tasks import reindex_products


                @transaction.atomic
                def apply_discount(products, percent):
                    for product in products:
                        product.price = product.price * (100 - percent) / 100
                        product.save(update_fields=["price"])
                    transaction.on_commit(lambda: reindex_products.delay([p.pk for p in products]))
            """),
        ),
        Valid(
            "comprehension_variable_shadows_the_loop_target",
            dedent("""
                from django.db import transaction

                from reports.tasks import send_rejection_report


                @transaction.atomic
                def import_contacts(rows, form_class, admin_emails):
                    for row in rows:
                        form = form_class(row)
                        if form.is_valid():
                            form.save()
                        else:
                            transaction.on_commit(
                                lambda: send_rejection_report.delay([row["email"] for row in rows if row.get("email")])
                            )
                            break
            """),
        ),
        Valid(
            "lambda_in_loop_is_a_sort_key",
            dedent("""
                from django.db import transaction

                from shipping.tasks import print_packing_slip


                @transaction.atomic
                def pack_orders(orders):
                    for order in orders:
                        lines = sorted(order.lines.all(), key=lambda line: line.position)
                        for position, line in enumerate(lines, start=1):
                            line.position = position
                            line.save(update_fields=["position"])
                    transaction.on_commit(print_packing_slip.delay)
            """),
        ),
        Valid(
            "loop_variable_only_in_using_argument",
            dedent("""
                from django.conf import settings
                from django.core.cache import cache
                from django.db import transaction


                def flush_all_databases():
                    for alias in settings.DATABASES:
                        with transaction.atomic(using=alias):
                            transaction.on_commit(lambda: cache.delete("site-stats"), using=alias)
            """),
        ),
        Valid(
            "bound_method_callback_is_evaluated_now",
            dedent("""
                from django.db import transaction

                from orders.models import Order


                @transaction.atomic
                def ship_orders(order_ids):
                    for order in Order.objects.filter(pk__in=order_ids):
                        order.mark_shipped()
                        transaction.on_commit(order.send_shipping_notification)
            """),
        ),
        Valid(
            "nested_def_binds_parcel_as_default",
            dedent("""
                from django.db import transaction
                from django.db.models.signals import post_save
                from django.dispatch import receiver

                from shipping.models import Shipment
                from shipping.tasks import notify_customer


                @receiver(post_save, sender=Shipment)
                def shipment_dispatched(sender, instance, created, **kwargs):
                    if created or instance.status != Shipment.Status.DISPATCHED:
                        return
                    for parcel in instance.parcels.all():

                        def notify(parcel=parcel):
                            notify_customer.delay(parcel.tracking_number)

                        transaction.on_commit(notify)
            """),
        ),
        Valid(
            "celery_delay_on_commit_in_loop",
            dedent("""
                from django.db import transaction

                from accounts.tasks import send_welcome_email


                @transaction.atomic
                def activate_users(users):
                    for user in users:
                        user.is_active = True
                        user.save(update_fields=["is_active"])
                        send_welcome_email.delay_on_commit(user.pk)
            """),
        ),
        Valid(
            "on_commit_without_a_loop_in_serializer_save",
            dedent("""
                from django.db import transaction
                from rest_framework import serializers

                from projects.models import Project
                from projects.tasks import provision_workspace


                class ProjectSerializer(serializers.ModelSerializer):
                    class Meta:
                        model = Project
                        fields = ["id", "name"]

                    @transaction.atomic
                    def create(self, validated_data):
                        project = Project.objects.create(owner=self.context["request"].user, **validated_data)
                        transaction.on_commit(lambda: provision_workspace.delay(project.pk))
                        return project
            """),
        ),
        Valid(
            "atomic_block_per_iteration_commits_each_pass",
            """
            from django.db import transaction

            from .tasks import send_confirmation


            def confirm_each(orders):
                for order in orders:
                    with transaction.atomic():
                        order.confirm()
                        transaction.on_commit(lambda: send_confirmation.delay(order.pk))
            """,
        ),
        Valid(
            "comprehension_variable_inside_lambda",
            """
            from django.db import transaction

            from .tasks import reindex


            @transaction.atomic
            def reindex_batches(batches):
                for batch in batches:
                    ids = [item.pk for item in batch]
                    transaction.on_commit(lambda ids=ids: reindex.delay([pk for pk in ids]))
            """,
        ),
    )
    invalid = (
        Invalid(
            "loop_target_captured_in_order_confirmation",
            dedent("""
                from django.db import transaction

                from orders.models import Order
                from orders.tasks import send_confirmation


                def confirm_orders(order_ids):
                    with transaction.atomic():
                        for order in Order.objects.select_for_update().filter(pk__in=order_ids):
                            order.status = Order.Status.CONFIRMED
                            order.save(update_fields=["status"])
                            transaction.on_commit(lambda: send_confirmation.delay(order.pk))  # TXL103
            """),
            fixed=dedent("""
                from django.db import transaction

                from orders.models import Order
                from orders.tasks import send_confirmation


                def confirm_orders(order_ids):
                    with transaction.atomic():
                        for order in Order.objects.select_for_update().filter(pk__in=order_ids):
                            order.status = Order.Status.CONFIRMED
                            order.save(update_fields=["status"])
                            transaction.on_commit(lambda order=order: send_confirmation.delay(order.pk))  # TXL103
            """),
        ),
        Invalid(
            "object_created_in_loop_body_in_management_command",
            dedent("""
                import csv

                from django.core.management.base import BaseCommand
                from django.db import transaction

                from accounts.models import Invitation
                from accounts.tasks import send_invitation_email


                class Command(BaseCommand):
                    help = "Invite the users listed in a CSV file"

                    def add_arguments(self, parser):
                        parser.add_argument("path")

                    @transaction.atomic
                    def handle(self, *args, path, **options):
                        with open(path, newline="") as handle:
                            for row in csv.DictReader(handle):
                                invitation = Invitation.objects.create(email=row["email"], team_id=row["team"])
                                transaction.on_commit(lambda: send_invitation_email.delay(invitation.pk))  # TXL103
            """),
            fixed=dedent("""
                import csv

                from django.core.management.base import BaseCommand
                from django.db import transaction

                from accounts.models import Invitation
                from accounts.tasks import send_invitation_email


                class Command(BaseCommand):
                    help = "Invite the users listed in a CSV file"

                    def add_arguments(self, parser):
                        parser.add_argument("path")

                    @transaction.atomic
                    def handle(self, *args, path, **options):
                        with open(path, newline="") as handle:
                            for row in csv.DictReader(handle):
                                invitation = Invitation.objects.create(email=row["email"], team_id=row["team"])
                                transaction.on_commit(lambda invitation=invitation: send_invitation_email.delay(invitation.pk))  # TXL103
            """),
        ),
        Invalid(
            "tuple_unpacking_targets_in_stock_import",
            dedent("""
                from django.db import transaction

                from inventory.models import StockLevel
                from inventory.tasks import notify_low_stock


                @transaction.atomic
                def import_stock_counts(counts, warehouse):
                    for sku, quantity in counts.items():
                        StockLevel.objects.filter(warehouse=warehouse, sku=sku).update(quantity=quantity)
                        if quantity < warehouse.reorder_threshold:
                            transaction.on_commit(lambda: notify_low_stock.delay(sku, quantity))  # TXL103
            """),
            fixed=dedent("""
                from django.db import transaction

                from inventory.models import StockLevel
                from inventory.tasks import notify_low_stock


                @transaction.atomic
                def import_stock_counts(counts, warehouse):
                    for sku, quantity in counts.items():
                        StockLevel.objects.filter(warehouse=warehouse, sku=sku).update(quantity=quantity)
                        if quantity < warehouse.reorder_threshold:
                            transaction.on_commit(lambda quantity=quantity, sku=sku: notify_low_stock.delay(sku, quantity))  # TXL103
            """),
        ),
        Invalid(
            "while_loop_over_api_pages",
            dedent("""
                from django.db import transaction

                from billing.models import Customer
                from billing.tasks import sync_customers


                @transaction.atomic
                def import_stripe_customers(stripe):
                    page = stripe.Customer.list(limit=100)
                    while page.data:
                        created = Customer.objects.bulk_create(
                            [Customer(stripe_id=item.id, email=item.email) for item in page.data]
                        )
                        transaction.on_commit(lambda: sync_customers.delay([c.pk for c in created]))  # TXL103
                        page = page.next_page()
            """),
            fixed=dedent("""
                from django.db import transaction

                from billing.models import Customer
                from billing.tasks import sync_customers


                @transaction.atomic
                def import_stripe_customers(stripe):
                    page = stripe.Customer.list(limit=100)
                    while page.data:
                        created = Customer.objects.bulk_create(
                            [Customer(stripe_id=item.id, email=item.email) for item in page.data]
                        )
                        transaction.on_commit(lambda created=created: sync_customers.delay([c.pk for c in created]))  # TXL103
                        page = page.next_page()
            """),
        ),
        Invalid(
            "nested_def_passed_by_name_in_signal_handler",
            dedent("""
                from django.db import transaction
                from django.db.models.signals import post_save
                from django.dispatch import receiver

                from shipping.models import Shipment
                from shipping.tasks import notify_customer


                @receiver(post_save, sender=Shipment)
                def shipment_dispatched(sender, instance, created, **kwargs):
                    if created or instance.status != Shipment.Status.DISPATCHED:
                        return
                    for parcel in instance.parcels.all():

                        def notify():
                            notify_customer.delay(parcel.tracking_number)

                        transaction.on_commit(notify)  # TXL103
            """),
            fixed=dedent("""
                from django.db import transaction
                from django.db.models.signals import post_save
                from django.dispatch import receiver

                from shipping.models import Shipment
                from shipping.tasks import notify_customer


                @receiver(post_save, sender=Shipment)
                def shipment_dispatched(sender, instance, created, **kwargs):
                    if created or instance.status != Shipment.Status.DISPATCHED:
                        return
                    for parcel in instance.parcels.all():

                        def notify(parcel=parcel):
                            notify_customer.delay(parcel.tracking_number)

                        transaction.on_commit(notify)  # TXL103
            """),
        ),
        Invalid(
            "connection_on_commit_purges_cdn",
            dedent("""
                from django.db import connection, transaction
                from django.utils import timezone

                from cms.tasks import purge_cdn_cache


                @transaction.atomic
                def publish_articles(articles):
                    for article in articles:
                        article.published_at = timezone.now()
                        article.save(update_fields=["published_at"])
                        connection.on_commit(lambda: purge_cdn_cache.delay(article.get_absolute_url()))  # TXL103
            """),
            fixed=dedent("""
                from django.db import connection, transaction
                from django.utils import timezone

                from cms.tasks import purge_cdn_cache


                @transaction.atomic
                def publish_articles(articles):
                    for article in articles:
                        article.published_at = timezone.now()
                        article.save(update_fields=["published_at"])
                        connection.on_commit(lambda article=article: purge_cdn_cache.delay(article.get_absolute_url()))  # TXL103
            """),
        ),
        Invalid(
            "on_commit_imported_from_transaction_module",
            dedent("""
                from django.db.transaction import atomic, on_commit

                from payments.tasks import process_refund


                @atomic
                def refund_payments(payments):
                    for payment in payments:
                        refund = payment.refunds.create(amount=payment.amount)
                        on_commit(lambda: process_refund.delay(refund.pk))  # TXL103
            """),
            fixed=dedent("""
                from django.db.transaction import atomic, on_commit

                from payments.tasks import process_refund


                @atomic
                def refund_payments(payments):
                    for payment in payments:
                        refund = payment.refunds.create(amount=payment.amount)
                        on_commit(lambda refund=refund: process_refund.delay(refund.pk))  # TXL103
            """),
        ),
        Invalid(
            "nested_loops_capture_both_targets",
            dedent("""
                from django.db import transaction

                from notifications.models import Notification
                from notifications.tasks import push_notification


                def announce_maintenance(tenants, message):
                    with transaction.atomic():
                        for tenant in tenants:
                            for user in tenant.users.filter(is_active=True):
                                Notification.objects.create(user=user, message=message)
                                transaction.on_commit(lambda: push_notification.delay(tenant.pk, user.pk))  # TXL103
            """),
            fixed=dedent("""
                from django.db import transaction

                from notifications.models import Notification
                from notifications.tasks import push_notification


                def announce_maintenance(tenants, message):
                    with transaction.atomic():
                        for tenant in tenants:
                            for user in tenant.users.filter(is_active=True):
                                Notification.objects.create(user=user, message=message)
                                transaction.on_commit(lambda tenant=tenant, user=user: push_notification.delay(tenant.pk, user.pk))  # TXL103
            """),
        ),
        Invalid(
            "serializer_create_loops_over_members",
            dedent("""
                from django.db import transaction
                from rest_framework import serializers

                from projects.models import Membership, Project
                from projects.tasks import send_membership_email


                class ProjectSerializer(serializers.ModelSerializer):
                    members = serializers.ListField(child=serializers.EmailField(), write_only=True)

                    class Meta:
                        model = Project
                        fields = ["id", "name", "members"]

                    @transaction.atomic
                    def create(self, validated_data):
                        emails = validated_data.pop("members")
                        project = Project.objects.create(owner=self.context["request"].user, **validated_data)
                        for email in emails:
                            membership = Membership.objects.create(project=project, email=email)
                            transaction.on_commit(lambda: send_membership_email.delay(membership.pk))  # TXL103
                        return project
            """),
            fixed=dedent("""
                from django.db import transaction
                from rest_framework import serializers

                from projects.models import Membership, Project
                from projects.tasks import send_membership_email


                class ProjectSerializer(serializers.ModelSerializer):
                    members = serializers.ListField(child=serializers.EmailField(), write_only=True)

                    class Meta:
                        model = Project
                        fields = ["id", "name", "members"]

                    @transaction.atomic
                    def create(self, validated_data):
                        emails = validated_data.pop("members")
                        project = Project.objects.create(owner=self.context["request"].user, **validated_data)
                        for email in emails:
                            membership = Membership.objects.create(project=project, email=email)
                            transaction.on_commit(lambda membership=membership: send_membership_email.delay(membership.pk))  # TXL103
                        return project
            """),
        ),
        Invalid(
            "aliased_transaction_module_with_using",
            dedent("""
                from django.db import transaction as db

                from ledger.models import Payment
                from ledger.tasks import reconcile_payment


                @db.atomic(using="ledger")
                def match_statement(statement):
                    for line in statement.lines.all():
                        payment = Payment.objects.using("ledger").filter(reference=line.reference).first()
                        if payment is not None:
                            payment.statement_line = line
                            payment.save(update_fields=["statement_line"])
                            db.on_commit(lambda: reconcile_payment.delay(payment.pk, line.pk), using="ledger")  # TXL103
            """),
            fixed=dedent("""
                from django.db import transaction as db

                from ledger.models import Payment
                from ledger.tasks import reconcile_payment


                @db.atomic(using="ledger")
                def match_statement(statement):
                    for line in statement.lines.all():
                        payment = Payment.objects.using("ledger").filter(reference=line.reference).first()
                        if payment is not None:
                            payment.statement_line = line
                            payment.save(update_fields=["statement_line"])
                            db.on_commit(lambda line=line, payment=payment: reconcile_payment.delay(payment.pk, line.pk), using="ledger")  # TXL103
            """),
        ),
        Invalid(
            "func_keyword_and_multiline_lambda",
            dedent("""
                from django.db import transaction

                from webhooks.models import Delivery
                from webhooks.tasks import deliver_webhook


                @transaction.atomic
                def fan_out(event, endpoints):
                    for endpoint in endpoints:
                        delivery = Delivery.objects.create(event=event, endpoint=endpoint)
                        transaction.on_commit(
                            func=lambda: deliver_webhook.delay(  # TXL103
                                delivery.pk,
                                timeout=endpoint.timeout,
                            )
                        )
            """),
            fixed=dedent("""
                from django.db import transaction

                from webhooks.models import Delivery
                from webhooks.tasks import deliver_webhook


                @transaction.atomic
                def fan_out(event, endpoints):
                    for endpoint in endpoints:
                        delivery = Delivery.objects.create(event=event, endpoint=endpoint)
                        transaction.on_commit(
                            func=lambda delivery=delivery, endpoint=endpoint: deliver_webhook.delay(  # TXL103
                                delivery.pk,
                                timeout=endpoint.timeout,
                            )
                        )
            """),
        ),
        Invalid(
            "two_callbacks_in_one_iteration",
            dedent("""
                from django.db import transaction

                from orders.tasks import send_receipt, update_loyalty_points


                @transaction.atomic
                def complete_checkout(carts):
                    for cart in carts:
                        order = cart.checkout()
                        transaction.on_commit(lambda: send_receipt.delay(order.pk))  # TXL103
                        transaction.on_commit(lambda: update_loyalty_points.delay(cart.customer_id, order.total))  # TXL103
            """),
            fixed=dedent("""
                from django.db import transaction

                from orders.tasks import send_receipt, update_loyalty_points


                @transaction.atomic
                def complete_checkout(carts):
                    for cart in carts:
                        order = cart.checkout()
                        transaction.on_commit(lambda order=order: send_receipt.delay(order.pk))  # TXL103
                        transaction.on_commit(lambda cart=cart, order=order: update_loyalty_points.delay(cart.customer_id, order.total))  # TXL103
            """),
        ),
        Invalid(
            "enumerate_index_captured_in_data_export",
            dedent("""
                from django.db import transaction

                from exports.models import ExportChunk
                from exports.tasks import render_chunk


                @transaction.atomic
                def schedule_export(export, querysets):
                    for index, queryset in enumerate(querysets):
                        ExportChunk.objects.create(export=export, index=index, size=queryset.count())
                        transaction.on_commit(lambda: render_chunk.delay(export.pk, index))  # TXL103
            """),
            fixed=dedent("""
                from django.db import transaction

                from exports.models import ExportChunk
                from exports.tasks import render_chunk


                @transaction.atomic
                def schedule_export(export, querysets):
                    for index, queryset in enumerate(querysets):
                        ExportChunk.objects.create(export=export, index=index, size=queryset.count())
                        transaction.on_commit(lambda index=index: render_chunk.delay(export.pk, index))  # TXL103
            """),
        ),
        Invalid(
            "exception_name_from_handler_in_loop",
            dedent("""
                from django.db import transaction

                from imports.parsing import parse_row
                from imports.tasks import notify_importer


                @transaction.atomic
                def import_rows(batch, rows):
                    for number, row in enumerate(rows, start=1):
                        try:
                            batch.records.create(number=number, **parse_row(row))
                        except ValueError as error:
                            transaction.on_commit(lambda: notify_importer.delay(batch.pk, str(error)))  # TXL103
            """),
            fixed=dedent("""
                from django.db import transaction

                from imports.parsing import parse_row
                from imports.tasks import notify_importer


                @transaction.atomic
                def import_rows(batch, rows):
                    for number, row in enumerate(rows, start=1):
                        try:
                            batch.records.create(number=number, **parse_row(row))
                        except ValueError as error:
                            transaction.on_commit(lambda error=error: notify_importer.delay(batch.pk, str(error)))  # TXL103
            """),
        ),
        Invalid(
            "def_before_the_loop_is_reported_without_fix",
            """
            from django.db import transaction

            from .tasks import send_confirmation


            @transaction.atomic
            def confirm_all(orders):
                def notify():
                    send_confirmation.delay(order.pk)

                for order in orders:
                    order.confirm()
                    transaction.on_commit(notify)  # TXL103
            """,
        ),
        Invalid(
            "walrus_in_while_condition",
            """
            from django.db import transaction

            from .tasks import process_item


            @transaction.atomic
            def drain(queue):
                while (item := queue.pop()) is not None:
                    item.save()
                    transaction.on_commit(lambda: process_item.delay(item.pk))  # TXL103
            """,
            fixed="""
            from django.db import transaction

            from .tasks import process_item


            @transaction.atomic
            def drain(queue):
                while (item := queue.pop()) is not None:
                    item.save()
                    transaction.on_commit(lambda item=item: process_item.delay(item.pk))  # TXL103
            """,
        ),
        Invalid(
            "comprehension_reusing_the_loop_name_does_not_hide_the_capture",
            """
            from django.db import transaction

            from .tasks import reconcile


            @transaction.atomic
            def reconcile_rows(rows):
                for row in rows:
                    row.save()
                    transaction.on_commit(lambda: reconcile.delay(row.pk, [row.pk for row in rows]))  # TXL103
            """,
            fixed="""
            from django.db import transaction

            from .tasks import reconcile


            @transaction.atomic
            def reconcile_rows(rows):
                for row in rows:
                    row.save()
                    transaction.on_commit(lambda row=row: reconcile.delay(row.pk, [row.pk for row in rows]))  # TXL103
            """,
        ),
        Invalid(
            "connections_alias_on_commit",
            """
            from django.db import connections, transaction

            from .tasks import sync_invoice


            def sync(invoices):
                with transaction.atomic(using="billing"):
                    for invoice in invoices:
                        invoice.save(using="billing")
                        connections["billing"].on_commit(lambda: sync_invoice.delay(invoice.pk))  # TXL103
            """,
            fixed="""
            from django.db import connections, transaction

            from .tasks import sync_invoice


            def sync(invoices):
                with transaction.atomic(using="billing"):
                    for invoice in invoices:
                        invoice.save(using="billing")
                        connections["billing"].on_commit(lambda invoice=invoice: sync_invoice.delay(invoice.pk))  # TXL103
            """,
        ),
    )

    def could_match(self, source: str, settings: Settings) -> bool:
        return "on_commit" in source and ("for " in source or "while " in source)

    def sites(self, outline: Outline) -> list[ast.AST]:
        calls = [
            call
            for call, frame in outline.calls
            if outline.is_on_commit(call)
            and frame.within(FrameKind.LOOP)
            and isinstance(_outline_callback(call), (ast.Lambda, ast.Name))
        ]
        return [*calls, *outline.transaction_sources()] if calls else []

    def check(self, django: DjangoModule) -> Iterator[Finding]:
        for site in django.model.calls:
            if not django.dispatches.is_on_commit(site.node):
                continue
            loops = _loops_outliving_callbacks(django, site)
            loop_names = set().union(*(loop.bound_names for loop in loops))
            callback = _callback(site.node)
            if not loop_names or callback is None:
                continue
            if isinstance(callback, cst.Lambda):
                captured = _ordered(names_read(callback.body) - set(parameter_names(callback.params)), loop_names)
                target: cst.CSTNode = callback
                fix = self._lambda_fix(callback, captured)
                reason = "the lambda takes parameters"
            elif isinstance(callback, cst.Name) and (info := _local_function(django, site, callback.value)):
                captured = _ordered(names_read(info.node.body) - info.frame.bound_names, loop_names)
                target = callback
                inside = _defined_inside(info, loops)
                fix = self._def_fix(info, captured) if inside else None
                reason = "the callback takes parameters" if inside else "the callback is defined outside the loop"
            else:
                continue
            if captured:
                names = ", ".join(f"`{name}`" for name in captured)
                yield self.finding(
                    target,
                    f"`on_commit` callback reads loop {'variables' if len(captured) > 1 else 'variable'} {names} "
                    "when it runs, after the loop; bind it now",
                    fix,
                    reason,
                )

    def _lambda_fix(self, callback: cst.Lambda, captured: list[str]) -> Fix | None:
        if parameter_names(callback.params):
            return None
        replacement = callback.with_changes(
            params=_default_bindings(captured), whitespace_after_lambda=cst.SimpleWhitespace(" ")
        )
        return Fix(self.fix_title or "", FixSafety.SAFE, (NodeEdit(callback, replacement),))

    def _def_fix(self, info: FunctionInfo, captured: list[str]) -> Fix | None:
        if parameter_names(info.node.params):
            return None
        replacement = info.node.with_changes(params=_default_bindings(captured))
        return Fix(self.fix_title or "", FixSafety.SAFE, (NodeEdit(info.node, replacement),))


def _callback(call: cst.Call) -> cst.BaseExpression | None:
    keyword = keyword_argument(call, "func")
    if keyword is not None:
        return keyword.value
    arguments = positional_arguments(call)
    return arguments[0].value if arguments else None


def _outline_callback(call: ast.Call) -> ast.expr | None:
    """`_callback` on the `ast` tree."""
    for keyword in call.keywords:
        if keyword.arg == "func":
            return keyword.value
    arguments = [arg for arg in call.args if not isinstance(arg, ast.Starred)]
    return arguments[0] if arguments else None


def _loops_outliving_callbacks(django: DjangoModule, site: CallSite) -> list[Frame]:
    """Loops around the call whose iterations end before the callbacks run.

    An `atomic()` block opened inside a loop, with no transaction open outside it,
    commits (and runs its callbacks) on every pass: loops around that block are safe.
    """
    loops: list[Frame] = []
    for frame in site.frame.ancestors():
        if frame.kind is FrameKind.LOOP:
            loops.append(frame)
        elif (
            frame.kind is FrameKind.WITH
            and frame.parent is not None
            and django.transactions.opens_transaction(frame)
            and django.transactions.opened_at(frame.parent) is None
        ):
            break
    return loops


def _defined_inside(info: FunctionInfo, loops: list[Frame]) -> bool:
    """Default-argument binding works only where the def runs once per iteration."""
    return any(frame in loops for frame in info.parent.ancestors())


def _local_function(django: DjangoModule, site: CallSite, name: str) -> FunctionInfo | None:
    scope = site.frame.scope()
    for info in django.model.functions:
        if info.name == name and info.parent.scope() is scope:
            return info
    return None


def _ordered(names: set[str], loop_names: set[str]) -> list[str]:
    return sorted(names & loop_names)


def _default_bindings(names: list[str]) -> cst.Parameters:
    no_space = cst.SimpleWhitespace("")
    return cst.Parameters(
        params=[
            cst.Param(cst.Name(name), default=cst.Name(name), equal=cst.AssignEqual(no_space, no_space))
            for name in names
        ]
    )
