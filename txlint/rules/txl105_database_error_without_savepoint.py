from __future__ import annotations

import ast
from collections.abc import Iterator

from txlint.diagnostics import Fix, FixSafety, NodeEdit
from txlint.django import DjangoModule
from txlint.django.model import FrameKind, ModuleModel, TrySite
from txlint.django.names import SET_ROLLBACK, keyword_argument, last_segment
from txlint.django.orm import (
    catches_database_errors,
    catches_every_database_error,
    caught_types,
    is_orm_write,
)
from txlint.django.outline import WRITE_METHODS, Outline
from txlint.django.references import keyword, reference
from txlint.django.transactions import Transaction
from txlint.lazy import cst
from txlint.rule import Finding, Invalid, Rule, Valid, dedent
from txlint.settings import Settings, contains_any


class DatabaseErrorCaughtWithoutSavepoint(Rule):
    """
    ## What it does
    Finds `except` clauses inside a transaction that catch a database error
    (`IntegrityError`, `DatabaseError` and its subclasses, `Exception`, a bare
    `except:`) raised by ORM writes in the `try` body, without re-raising it and
    without a savepoint (`atomic()`) around those writes.

    ## Why is this bad?
    After a failed query the database transaction is broken. On PostgreSQL every
    later query fails ("current transaction is aborted") and Django raises
    `TransactionManagementError`; on other databases the writes before the failure
    are committed without the one that failed. The handler looks like recovery but
    the transaction cannot recover without a savepoint.

    ## Example
    ```python
    @transaction.atomic
    def import_rows(rows):
        for row in rows:
            try:
                Contact.objects.create(email=row["email"])
            except IntegrityError:
                duplicates += 1
    ```

    ## Use instead
    ```python
    @transaction.atomic
    def import_rows(rows):
        for row in rows:
            try:
                with transaction.atomic():
                    Contact.objects.create(email=row["email"])
            except IntegrityError:
                duplicates += 1
    ```

    ## Fix safety
    Unsafe: the fix wraps the `try` body in `with transaction.atomic():`, which adds a
    savepoint per execution (one more round trip each) and rolls back the writes of
    the failed body, which is what the handler assumed but may change behaviour.

    ## Options
    `atomic_contexts` and `read_only_databases` as for TXL101.

    Quiet when the only writes are `get_or_create`/`update_or_create` (they hold their
    own savepoint), when the handler re-raises or calls `transaction.set_rollback()`,
    when an earlier handler of the same `try` re-raises every database error, and for
    `DoesNotExist`, which is not a database error. `.save()`/`.delete()` count as writes
    only without positional arguments (`image.save(path)` is not an ORM write).

    Also quiet, from reading real code (pretix):
    - `except DatabaseError` around `save(force_update=True)` / `save(update_fields=...)`
      only: Django raises that error itself when the row is gone, no query failed;
    - a `try` that is the whole outermost `atomic()` block, around one single-statement
      write, with a handler that writes nothing: the block ends right after, and there
      is nothing half-written to commit.
    A `try` around `atomic(savepoint=False)` is reported: that block has no savepoint.
    """

    code = "TXL105"
    name = "database-error-without-savepoint"
    summary = "Database error caught inside a transaction without a savepoint"
    fix_title = "Wrap the `try` body in `transaction.atomic()`"
    fix_safety = FixSafety.UNSAFE
    valid = (
        Valid(
            "handler_logs_and_reraises",
            dedent("""
                import logging

                from django.db import IntegrityError, transaction

                from accounts.models import Profile

                logger = logging.getLogger(__name__)


                @transaction.atomic
                def create_profile(user, data):
                    try:
                        Profile.objects.create(user=user, **data)
                    except IntegrityError:
                        logger.warning("profile already exists for user %s", user.pk)
                        raise
            """),
        ),
        Valid(
            "serializer_create_raises_validation_error_from",
            dedent("""
                from django.db import IntegrityError, transaction
                from rest_framework import serializers

                from teams.models import Membership


                class MembershipSerializer(serializers.ModelSerializer):
                    class Meta:
                        model = Membership
                        fields = ["id", "team", "user", "role"]

                    @transaction.atomic
                    def create(self, validated_data):
                        try:
                            return Membership.objects.create(**validated_data)
                        except IntegrityError as exc:
                            raise serializers.ValidationError({"user": "Already a member of this team."}) from exc
            """),
        ),
        Valid(
            "try_body_wrapped_in_savepoint",
            dedent("""
                from django.db import IntegrityError, transaction

                from contacts.models import Contact


                @transaction.atomic
                def import_contacts(rows):
                    duplicates = 0
                    for row in rows:
                        try:
                            with transaction.atomic():
                                Contact.objects.create(email=row["email"], name=row["name"])
                        except IntegrityError:
                            duplicates += 1
                    return duplicates
            """),
        ),
        Valid(
            "only_get_or_create_in_try_body",
            dedent("""
                from django.db import IntegrityError, transaction

                from catalog.models import Tag


                def tag_product(product, names):
                    with transaction.atomic():
                        for name in names:
                            try:
                                tag, _ = Tag.objects.get_or_create(slug=name.strip().lower(), defaults={"name": name})
                            except IntegrityError:
                                tag = Tag.objects.get(slug=name.strip().lower())
                            product.tags.add(tag)
            """),
        ),
        Valid(
            "only_update_or_create_in_sync_command",
            dedent("""
                import logging

                from django.core.management.base import BaseCommand
                from django.db import transaction

                from billing.models import Plan

                logger = logging.getLogger(__name__)


                class Command(BaseCommand):
                    help = "Sync plans from the payment provider"

                    @transaction.atomic
                    def handle(self, *args, **options):
                        for remote in self.provider.list_plans():
                            try:
                                Plan.objects.update_or_create(external_id=remote["id"], defaults={"price": remote["amount"]})
                            except Exception:
                                logger.exception("could not sync plan %s", remote["id"])
            """),
        ),
        Valid(
            "except_does_not_exist_creates_instead",
            dedent("""
                from django.db import transaction

                from billing.models import Subscription


                @transaction.atomic
                def change_plan(user, plan):
                    try:
                        subscription = Subscription.objects.select_for_update().get(user=user)
                        subscription.plan = plan
                        subscription.save(update_fields=["plan"])
                    except Subscription.DoesNotExist:
                        Subscription.objects.create(user=user, plan=plan)
            """),
        ),
        Valid(
            "except_object_does_not_exist",
            dedent("""
                from django.core.exceptions import ObjectDoesNotExist
                from django.db import transaction


                @transaction.atomic
                def touch_profile(user):
                    try:
                        profile = user.profile
                        profile.save()
                    except ObjectDoesNotExist:
                        return None
                    return profile
            """),
        ),
        Valid(
            "except_value_error_while_parsing_rows",
            dedent("""
                from decimal import Decimal, InvalidOperation

                from django.db import transaction


                @transaction.atomic
                def update_prices(products, rows):
                    errors = []
                    for product, row in zip(products, rows):
                        try:
                            product.price = Decimal(row["price"])
                            product.save(update_fields=["price"])
                        except (ValueError, InvalidOperation):
                            errors.append(row)
                    return errors
            """),
        ),
        Valid(
            "try_after_the_atomic_block_closed",
            dedent("""
                import logging

                from django.db import transaction

                from audit.models import AuditEntry

                logger = logging.getLogger(__name__)


                def cancel_order(order, user):
                    with transaction.atomic():
                        order.status = order.Status.CANCELLED
                        order.save(update_fields=["status"])
                    try:
                        AuditEntry.objects.create(actor=user, action="cancel", target=order)
                    except Exception:
                        logger.exception("could not audit cancellation of order %s", order.pk)
            """),
        ),
        Valid(
            "handler_marks_transaction_for_rollback",
            dedent("""
                import logging

                from django.db import DatabaseError, transaction

                logger = logging.getLogger(__name__)


                def close_accounting_period(period):
                    with transaction.atomic():
                        try:
                            period.entries.filter(posted=False).update(posted=True)
                            period.closed = True
                            period.save(update_fields=["closed"])
                        except DatabaseError:
                            logger.exception("closing period %s failed", period.pk)
                            transaction.set_rollback(True)
            """),
        ),
        Valid(
            "earlier_handler_reraises_database_errors",
            dedent("""
                import logging

                from django.db import DatabaseError, transaction

                from shipping.models import Label

                logger = logging.getLogger(__name__)


                @transaction.atomic
                def buy_label(shipment, carrier):
                    try:
                        response = carrier.purchase_label(shipment)
                        Label.objects.create(shipment=shipment, tracking_number=response["tracking_number"])
                    except DatabaseError:
                        raise
                    except Exception:
                        logger.exception("carrier %s refused shipment %s", carrier.name, shipment.pk)
            """),
        ),
        Valid(
            "image_save_and_storage_delete_are_not_orm_writes",
            dedent("""
                import logging
                from io import BytesIO

                from django.core.files.storage import default_storage
                from django.db import transaction
                from PIL import Image

                logger = logging.getLogger(__name__)


                @transaction.atomic
                def replace_avatar(profile, upload):
                    old_name = profile.avatar.name
                    buffer = BytesIO()
                    try:
                        image = Image.open(upload)
                        image.thumbnail((256, 256))
                        image.save(buffer, format="PNG")
                        default_storage.delete(old_name)
                    except Exception:
                        logger.exception("could not process avatar for profile %s", profile.pk)
                        return
                    profile.avatar.save(f"avatars/{profile.pk}.png", buffer)
            """),
        ),
        Valid(
            "form_save_without_commit_does_not_write",
            dedent("""
                import logging

                from django.db import transaction
                from django.shortcuts import redirect, render

                from blog.forms import ArticleForm

                logger = logging.getLogger(__name__)


                @transaction.atomic
                def create_article(request):
                    form = ArticleForm(request.POST)
                    try:
                        article = form.save(commit=False)
                    except Exception:
                        logger.exception("invalid article form")
                        return render(request, "blog/article_form.html", {"form": form})
                    article.author = request.user
                    article.save()
                    return redirect(article)
            """),
        ),
        Valid(
            "on_commit_callback_defined_inside_atomic_block",
            dedent("""
                from django.db import IntegrityError, transaction

                from events.models import Attendee


                def publish_event(event, emails):
                    with transaction.atomic():
                        event.published = True
                        event.save(update_fields=["published"])

                        def register_attendees():
                            for email in emails:
                                try:
                                    Attendee.objects.create(event=event, email=email)
                                except IntegrityError:
                                    pass

                        transaction.on_commit(register_attendees)
            """),
        ),
        Valid(
            "non_atomic_data_migration",
            dedent("""
                from django.db import IntegrityError, migrations


                def deduplicate_slugs(apps, schema_editor):
                    Article = apps.get_model("blog", "Article")
                    for article in Article.objects.filter(slug=""):
                        article.slug = f"article-{article.pk}"
                        try:
                            article.save(update_fields=["slug"])
                        except IntegrityError:
                            continue


                class Migration(migrations.Migration):
                    atomic = False

                    dependencies = [("blog", "0007_article_slug")]

                    operations = [migrations.RunPython(deduplicate_slugs, migrations.RunPython.noop)]
            """),
            path="blog/migrations/0008_deduplicate_slugs.py",
        ),
        Valid(
            "payment_api_create_is_not_an_orm_write",
            """
            import logging

            import stripe
            from django.db import transaction

            logger = logging.getLogger(__name__)


            @transaction.atomic
            def start_subscription(account):
                account.plan = "pro"
                try:
                    stripe.Customer.create(email=account.email)
                except Exception:
                    logger.exception("stripe customer creation failed")
            """,
        ),
        Valid(
            "claiming_a_queue_row_in_its_own_transaction",
            """
            from django.db import DatabaseError, transaction


            def claim(queued):
                for item in queued:
                    with transaction.atomic():
                        try:
                            row = SyncQueue.objects.select_for_update(nowait=True).get(pk=item.pk)
                            row.in_flight = True
                            row.save()
                        except DatabaseError:
                            continue
            """,
        ),
        Valid(
            "best_effort_update_of_a_row_that_may_be_gone",
            """
            from django.db import DatabaseError, transaction


            @transaction.atomic(durable=True)
            def extend_positions(positions, expiry):
                for position in positions:
                    position.expires = expiry
                    try:
                        position.save(force_update=True, update_fields=["expires"])
                    except DatabaseError:
                        pass
            """,
        ),
    )
    invalid = (
        Invalid(
            "atomic_block_save_integrity_error_pass",
            dedent("""
                from django.db import IntegrityError, transaction

                from catalog.models import Tag


                def tag_product(product, names):
                    with transaction.atomic():
                        for name in names:
                            tag = Tag(slug=name.strip().lower(), name=name)
                            try:
                                tag.save()
                            except IntegrityError:  # TXL105
                                pass
                            product.tags.add(Tag.objects.get(slug=tag.slug))
            """),
            fixed=dedent("""
                from django.db import IntegrityError, transaction

                from catalog.models import Tag


                def tag_product(product, names):
                    with transaction.atomic():
                        for name in names:
                            tag = Tag(slug=name.strip().lower(), name=name)
                            try:
                                with transaction.atomic():
                                    tag.save()
                            except IntegrityError:  # TXL105
                                pass
                            product.tags.add(Tag.objects.get(slug=tag.slug))
            """),
        ),
        Invalid(
            "decorated_function_logs_exception_around_create",
            dedent("""
                import logging

                from django.db import transaction

                from audit.models import AuditEntry

                logger = logging.getLogger(__name__)


                @transaction.atomic
                def record_login(user, ip_address):
                    user.last_login_ip = ip_address
                    user.save(update_fields=["last_login_ip"])
                    try:
                        AuditEntry.objects.create(actor=user, action="login", ip_address=ip_address)
                    except Exception:  # TXL105
                        logger.exception("could not write audit entry for user %s", user.pk)
            """),
            fixed=dedent("""
                import logging

                from django.db import transaction

                from audit.models import AuditEntry

                logger = logging.getLogger(__name__)


                @transaction.atomic
                def record_login(user, ip_address):
                    user.last_login_ip = ip_address
                    user.save(update_fields=["last_login_ip"])
                    try:
                        with transaction.atomic():
                            AuditEntry.objects.create(actor=user, action="login", ip_address=ip_address)
                    except Exception:  # TXL105
                        logger.exception("could not write audit entry for user %s", user.pk)
            """),
        ),
        Invalid(
            "bare_except_in_legacy_import_command",
            dedent("""
                from django.core.management.base import BaseCommand
                from django.db import transaction

                from crm.models import Customer, LegacyCustomer


                class Command(BaseCommand):
                    help = "Copy customers from the legacy database"

                    @transaction.atomic
                    def handle(self, *args, **options):
                        for legacy in LegacyCustomer.objects.using("legacy").iterator():
                            try:
                                Customer.objects.create(email=legacy.email, name=legacy.full_name)
                            except:  # TXL105
                                self.stderr.write(f"skipped legacy customer {legacy.pk}")
            """),
            fixed=dedent("""
                from django.core.management.base import BaseCommand
                from django.db import transaction

                from crm.models import Customer, LegacyCustomer


                class Command(BaseCommand):
                    help = "Copy customers from the legacy database"

                    @transaction.atomic
                    def handle(self, *args, **options):
                        for legacy in LegacyCustomer.objects.using("legacy").iterator():
                            try:
                                with transaction.atomic():
                                    Customer.objects.create(email=legacy.email, name=legacy.full_name)
                            except:  # TXL105
                                self.stderr.write(f"skipped legacy customer {legacy.pk}")
            """),
        ),
        Invalid(
            "tuple_of_integrity_and_value_error",
            dedent("""
                from django.db import IntegrityError, transaction

                from bookings.models import Booking


                @transaction.atomic
                def book_seat(user, seat, party_size):
                    try:
                        booking = Booking.objects.create(user=user, seat=seat, party_size=int(party_size))
                    except (IntegrityError, ValueError):  # TXL105
                        return None
                    seat.mark_taken()
                    return booking
            """),
            fixed=dedent("""
                from django.db import IntegrityError, transaction

                from bookings.models import Booking


                @transaction.atomic
                def book_seat(user, seat, party_size):
                    try:
                        with transaction.atomic():
                            booking = Booking.objects.create(user=user, seat=seat, party_size=int(party_size))
                    except (IntegrityError, ValueError):  # TXL105
                        return None
                    seat.mark_taken()
                    return booking
            """),
        ),
        Invalid(
            "database_error_imported_from_django_db",
            dedent("""
                import logging

                from django.db import DatabaseError
                from django.db.transaction import atomic

                from inventory.models import Reservation

                logger = logging.getLogger(__name__)


                @atomic
                def release_expired(reservations):
                    for reservation in reservations:
                        try:
                            reservation.delete()
                        except DatabaseError as exc:  # TXL105
                            logger.warning("could not release reservation %s: %s", reservation.pk, exc)
            """),
            fixed=dedent("""
                import logging

                from django.db import DatabaseError
                from django.db.transaction import atomic

                from inventory.models import Reservation

                logger = logging.getLogger(__name__)


                @atomic
                def release_expired(reservations):
                    for reservation in reservations:
                        try:
                            with atomic():
                                reservation.delete()
                        except DatabaseError as exc:  # TXL105
                            logger.warning("could not release reservation %s: %s", reservation.pk, exc)
            """),
        ),
        Invalid(
            "cursor_execute_in_data_migration",
            dedent("""
                from django.db import ProgrammingError, migrations


                def enable_trigram_search(apps, schema_editor):
                    with schema_editor.connection.cursor() as cursor:
                        try:
                            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                        except ProgrammingError:  # TXL105
                            pass


                class Migration(migrations.Migration):
                    dependencies = [("search", "0011_document_body")]

                    operations = [migrations.RunPython(enable_trigram_search, migrations.RunPython.noop)]
            """),
            fixed=dedent("""
                from django.db import transaction, ProgrammingError, migrations


                def enable_trigram_search(apps, schema_editor):
                    with schema_editor.connection.cursor() as cursor:
                        try:
                            with transaction.atomic():
                                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                        except ProgrammingError:  # TXL105
                            pass


                class Migration(migrations.Migration):
                    dependencies = [("search", "0011_document_body")]

                    operations = [migrations.RunPython(enable_trigram_search, migrations.RunPython.noop)]
            """),
            path="search/migrations/0012_enable_trigram.py",
        ),
        Invalid(
            "queryset_filter_update_catches_data_error",
            dedent("""
                from django.db import DataError, transaction

                from catalog.models import PriceChange, Product


                @transaction.atomic
                def apply_price_changes(changes):
                    for change in changes:
                        try:
                            Product.objects.filter(sku=change.sku).update(price=change.new_price)
                        except DataError:  # TXL105
                            change.status = PriceChange.Status.REJECTED
                        else:
                            change.status = PriceChange.Status.APPLIED
                        change.save(update_fields=["status"])
            """),
            fixed=dedent("""
                from django.db import DataError, transaction

                from catalog.models import PriceChange, Product


                @transaction.atomic
                def apply_price_changes(changes):
                    for change in changes:
                        try:
                            with transaction.atomic():
                                Product.objects.filter(sku=change.sku).update(price=change.new_price)
                        except DataError:  # TXL105
                            change.status = PriceChange.Status.REJECTED
                        else:
                            change.status = PriceChange.Status.APPLIED
                        change.save(update_fields=["status"])
            """),
        ),
        Invalid(
            "bulk_create_of_tracking_events",
            dedent("""
                import logging

                from django.db import IntegrityError, transaction

                from analytics.models import Event

                logger = logging.getLogger(__name__)


                def store_events(batch_id, payloads):
                    with transaction.atomic():
                        events = [Event(batch_id=batch_id, **payload) for payload in payloads]
                        try:
                            Event.objects.bulk_create(events, batch_size=1000)
                        except IntegrityError:  # TXL105
                            logger.warning("duplicate events in batch %s", batch_id)
            """),
            fixed=dedent("""
                import logging

                from django.db import IntegrityError, transaction

                from analytics.models import Event

                logger = logging.getLogger(__name__)


                def store_events(batch_id, payloads):
                    with transaction.atomic():
                        events = [Event(batch_id=batch_id, **payload) for payload in payloads]
                        try:
                            with transaction.atomic():
                                Event.objects.bulk_create(events, batch_size=1000)
                        except IntegrityError:  # TXL105
                            logger.warning("duplicate events in batch %s", batch_id)
            """),
        ),
        Invalid(
            "api_view_returns_conflict_response",
            dedent("""
                from django.db import IntegrityError, transaction
                from rest_framework import status
                from rest_framework.response import Response
                from rest_framework.views import APIView

                from billing.models import Plan, Subscription


                class SubscribeView(APIView):
                    def post(self, request, plan_id):
                        with transaction.atomic():
                            plan = Plan.objects.select_for_update().get(pk=plan_id)
                            plan.seats_taken += 1
                            plan.save(update_fields=["seats_taken"])
                            try:
                                Subscription.objects.create(user=request.user, plan=plan)
                            except IntegrityError:  # TXL105
                                return Response({"detail": "Already subscribed."}, status=status.HTTP_409_CONFLICT)
                        return Response(status=status.HTTP_201_CREATED)
            """),
            fixed=dedent("""
                from django.db import IntegrityError, transaction
                from rest_framework import status
                from rest_framework.response import Response
                from rest_framework.views import APIView

                from billing.models import Plan, Subscription


                class SubscribeView(APIView):
                    def post(self, request, plan_id):
                        with transaction.atomic():
                            plan = Plan.objects.select_for_update().get(pk=plan_id)
                            plan.seats_taken += 1
                            plan.save(update_fields=["seats_taken"])
                            try:
                                with transaction.atomic():
                                    Subscription.objects.create(user=request.user, plan=plan)
                            except IntegrityError:  # TXL105
                                return Response({"detail": "Already subscribed."}, status=status.HTTP_409_CONFLICT)
                        return Response(status=status.HTTP_201_CREATED)
            """),
        ),
        Invalid(
            "handler_in_loop_counts_skipped_rows",
            dedent("""
                from django.db import IntegrityError, transaction

                from contacts.models import Contact


                @transaction.atomic
                def import_contacts(rows):
                    duplicates = 0
                    for row in rows:
                        try:
                            Contact.objects.create(email=row["email"], name=row["name"])
                        except IntegrityError:  # TXL105
                            duplicates += 1
                    return duplicates
            """),
            fixed=dedent("""
                from django.db import IntegrityError, transaction

                from contacts.models import Contact


                @transaction.atomic
                def import_contacts(rows):
                    duplicates = 0
                    for row in rows:
                        try:
                            with transaction.atomic():
                                Contact.objects.create(email=row["email"], name=row["name"])
                        except IntegrityError:  # TXL105
                            duplicates += 1
                    return duplicates
            """),
        ),
        Invalid(
            "run_python_migration_continues_on_duplicate",
            dedent("""
                from django.db import IntegrityError, migrations


                def deduplicate_slugs(apps, schema_editor):
                    Article = apps.get_model("blog", "Article")
                    for article in Article.objects.filter(slug=""):
                        article.slug = f"article-{article.pk}"
                        try:
                            article.save(update_fields=["slug"])
                        except IntegrityError:  # TXL105
                            continue


                class Migration(migrations.Migration):
                    dependencies = [("blog", "0007_article_slug")]

                    operations = [migrations.RunPython(deduplicate_slugs, migrations.RunPython.noop)]
            """),
            fixed=dedent("""
                from django.db import transaction, IntegrityError, migrations


                def deduplicate_slugs(apps, schema_editor):
                    Article = apps.get_model("blog", "Article")
                    for article in Article.objects.filter(slug=""):
                        article.slug = f"article-{article.pk}"
                        try:
                            with transaction.atomic():
                                article.save(update_fields=["slug"])
                        except IntegrityError:  # TXL105
                            continue


                class Migration(migrations.Migration):
                    dependencies = [("blog", "0007_article_slug")]

                    operations = [migrations.RunPython(deduplicate_slugs, migrations.RunPython.noop)]
            """),
            path="blog/migrations/0008_deduplicate_slugs.py",
        ),
        Invalid(
            "local_transaction_variable_in_payment_import",
            dedent("""
                import logging

                from django.db import IntegrityError, transaction

                from payments.models import BankTransaction

                logger = logging.getLogger(__name__)


                @transaction.atomic
                def import_statement(statement):
                    for transaction in statement.transactions:
                        try:
                            BankTransaction.objects.create(reference=transaction.reference, amount=transaction.amount)
                        except IntegrityError:  # TXL105
                            logger.info("transaction %s already imported", transaction.reference)
            """),
            fixed=dedent("""
                import logging

                from django.db import transaction as db_transaction, IntegrityError, transaction

                from payments.models import BankTransaction

                logger = logging.getLogger(__name__)


                @transaction.atomic
                def import_statement(statement):
                    for transaction in statement.transactions:
                        try:
                            with db_transaction.atomic():
                                BankTransaction.objects.create(reference=transaction.reference, amount=transaction.amount)
                        except IntegrityError:  # TXL105
                            logger.info("transaction %s already imported", transaction.reference)
            """),
        ),
        Invalid(
            "project_atomic_wrapper_with_one_line_try",
            dedent("""
                from contextlib import contextmanager

                from django.db import IntegrityError, transaction

                from core.tracing import tracer


                @contextmanager
                def traced_atomic_transaction():
                    with tracer.start_as_current_span("transaction"), transaction.atomic():
                        yield


                def merge_customers(primary, duplicate):
                    with traced_atomic_transaction():
                        duplicate.orders.update(customer=primary)
                        try: duplicate.delete()
                        except IntegrityError: pass  # TXL105
            """),
            fixed=None,  # a one-line `try:` suite has no block to wrap
        ),
        Invalid(
            "earlier_integrity_handler_reraises_but_exception_handler_swallows",
            dedent("""
                import logging

                from django.db import IntegrityError, transaction

                from shipping.models import Label

                logger = logging.getLogger(__name__)


                @transaction.atomic
                def buy_label(shipment, carrier):
                    try:
                        response = carrier.purchase_label(shipment)
                        Label.objects.create(shipment=shipment, tracking_number=response["tracking_number"])
                    except IntegrityError:
                        raise
                    except Exception:  # TXL105
                        logger.exception("carrier %s refused shipment %s", carrier.name, shipment.pk)
            """),
            fixed=dedent("""
                import logging

                from django.db import IntegrityError, transaction

                from shipping.models import Label

                logger = logging.getLogger(__name__)


                @transaction.atomic
                def buy_label(shipment, carrier):
                    try:
                        with transaction.atomic():
                            response = carrier.purchase_label(shipment)
                            Label.objects.create(shipment=shipment, tracking_number=response["tracking_number"])
                    except IntegrityError:
                        raise
                    except Exception:  # TXL105
                        logger.exception("carrier %s refused shipment %s", carrier.name, shipment.pk)
            """),
        ),
        Invalid(
            "conditional_atomic_wrapper_with_aliased_transaction",
            dedent("""
                from contextlib import nullcontext

                from django.db import IntegrityError
                from django.db import transaction as tx

                from crm.models import Lead


                def conditional_atomic(enabled):
                    return tx.atomic() if enabled else nullcontext()


                def import_leads(rows, use_transaction=True):
                    skipped = []
                    with conditional_atomic(use_transaction):
                        for row in rows:
                            lead = Lead(email=row["email"], source=row.get("source", "csv"))
                            try:
                                lead.save()
                            except IntegrityError:  # TXL105
                                skipped.append(row["email"])
                    return skipped
            """),
            fixed=dedent("""
                from contextlib import nullcontext

                from django.db import IntegrityError
                from django.db import transaction as tx

                from crm.models import Lead


                def conditional_atomic(enabled):
                    return tx.atomic() if enabled else nullcontext()


                def import_leads(rows, use_transaction=True):
                    skipped = []
                    with conditional_atomic(use_transaction):
                        for row in rows:
                            lead = Lead(email=row["email"], source=row.get("source", "csv"))
                            try:
                                with tx.atomic():
                                    lead.save()
                            except IntegrityError:  # TXL105
                                skipped.append(row["email"])
                    return skipped
            """),
        ),
        Invalid(
            "view_class_decorated_atomic_on_dispatch",
            dedent("""
                from django.contrib import messages
                from django.db import IntegrityError, transaction
                from django.shortcuts import redirect
                from django.utils.decorators import method_decorator
                from django.views import View

                from newsletter.models import Subscriber


                @method_decorator(transaction.atomic, name="dispatch")
                class SubscribeView(View):
                    def post(self, request):
                        try:
                            Subscriber.objects.create(email=request.POST["email"], list_id=request.POST["list"])
                        except IntegrityError:  # TXL105
                            messages.info(request, "You are already subscribed.")
                        return redirect("newsletter:thanks")
            """),
            fixed=dedent("""
                from django.contrib import messages
                from django.db import IntegrityError, transaction
                from django.shortcuts import redirect
                from django.utils.decorators import method_decorator
                from django.views import View

                from newsletter.models import Subscriber


                @method_decorator(transaction.atomic, name="dispatch")
                class SubscribeView(View):
                    def post(self, request):
                        try:
                            with transaction.atomic():
                                Subscriber.objects.create(email=request.POST["email"], list_id=request.POST["list"])
                        except IntegrityError:  # TXL105
                            messages.info(request, "You are already subscribed.")
                        return redirect("newsletter:thanks")
            """),
        ),
        Invalid(
            "related_manager_create_on_another_database",
            """
            from django.db import IntegrityError, transaction


            def copy_lines(order, lines):
                with transaction.atomic(using="orders"):
                    for line in lines:
                        try:
                            order.lines.create(**line)
                        except IntegrityError:  # TXL105
                            continue
            """,
            fixed="""
            from django.db import IntegrityError, transaction


            def copy_lines(order, lines):
                with transaction.atomic(using="orders"):
                    for line in lines:
                        try:
                            with transaction.atomic(using="orders"):
                                order.lines.create(**line)
                        except IntegrityError:  # TXL105
                            continue
            """,
        ),
        Invalid(
            "handler_writes_again_after_the_failure",
            """
            import logging

            from django.db import transaction

            logger = logging.getLogger(__name__)


            def send_scheduled(mail_ids):
                for mail_id in mail_ids:
                    with transaction.atomic(durable=True):
                        mail = ScheduledMail.objects.select_for_update().get(pk=mail_id)
                        try:
                            mail.state = "completed"
                            mail.save(update_fields=["state"])
                        except Exception:  # TXL105
                            logger.exception("Could not send emails, will retry")
                            mail.state = "failed"
                            mail.save(update_fields=["state"])
            """,
            fixed="""
            import logging

            from django.db import transaction

            logger = logging.getLogger(__name__)


            def send_scheduled(mail_ids):
                for mail_id in mail_ids:
                    with transaction.atomic(durable=True):
                        mail = ScheduledMail.objects.select_for_update().get(pk=mail_id)
                        try:
                            with transaction.atomic():
                                mail.state = "completed"
                                mail.save(update_fields=["state"])
                        except Exception:  # TXL105
                            logger.exception("Could not send emails, will retry")
                            mail.state = "failed"
                            mail.save(update_fields=["state"])
            """,
        ),
    )

    def could_match(self, source: str, settings: Settings) -> bool:
        return "except" in source and contains_any(source, settings.atomic_tokens())

    def sites(self, outline: Outline) -> list[ast.AST]:
        writing = {
            id(body)
            for call, frame in outline.calls
            if isinstance(call.func, ast.Attribute) and call.func.attr in WRITE_METHODS
            for body in frame.within(FrameKind.TRY_BODY)
        }
        tries = [
            site.node
            for site in outline.tries
            if id(site.body_frame) in writing
            and any(
                not frame.has_raise and outline.may_catch_database_errors(handler)
                for handler, frame in zip(site.node.handlers, site.handler_frames)
            )
            and outline.may_be_in_transaction(site.frame)
        ]
        return [*tries, *outline.transaction_sources()] if tries else []

    def check(self, django: DjangoModule) -> Iterator[Finding]:
        model = django.model
        writes = _writes_by_frame(django)
        rolling_back = {id(f) for call in model.calls if model.qualify(call.node.func) == SET_ROLLBACK
                        for f in call.frame.ancestors() if f.kind is FrameKind.HANDLER}  # fmt: skip
        for site in model.tries:
            body_writes = writes.get(id(site.body_frame), [])
            if not body_writes:
                continue
            transaction = django.transactions.opened_at(site.frame)
            if transaction is None:
                continue
            fix = self._fix(model, site, transaction)
            reason = None if fix else _why_no_fix(site)
            for handler, frame in zip(site.node.handlers, site.handler_frames):
                types = caught_types(model, handler)
                if frame.has_raise:
                    if catches_every_database_error(types):
                        break  # later handlers never see a database error
                    continue
                if (
                    not catches_database_errors(types)
                    or id(frame) in rolling_back
                    or _only_unmatched_update_errors(types, body_writes)
                    or _transaction_ends_at_once(django, site, body_writes, handler_writes=writes.get(id(frame), []))
                ):
                    continue
                caught = "except:" if handler.type is None else f"except {model.short(handler.type)}"
                yield self.finding(
                    handler,
                    f"`{caught}` swallows a database error inside `{transaction.description}` without a savepoint; "
                    "wrap the `try` body in `transaction.atomic()`",
                    fix,
                    reason,
                )

    def _fix(self, model: ModuleModel, site: TrySite, transaction: Transaction) -> Fix | None:
        """The savepoint must be on the transaction's own database (`using=`)."""
        atomic = reference(model, site.frame, "django.db.transaction", "atomic", "db_transaction")
        if atomic is None or not isinstance(site.node.body, cst.IndentedBlock):
            return None
        using = [] if transaction.using is None else [keyword("using", transaction.using)]
        savepoint = cst.With(
            items=[cst.WithItem(cst.Call(atomic.expression, using))],
            body=cst.IndentedBlock(body=site.node.body.body),
        )
        new_body = site.node.body.with_changes(body=[savepoint])
        return Fix(self.fix_title or "", FixSafety.UNSAFE, (NodeEdit(site.node.body, new_body),), atomic.imports)


def _why_no_fix(site: TrySite) -> str:
    if not isinstance(site.node.body, cst.IndentedBlock):
        return "the `try` body shares the `try:` line"
    return "`atomic` cannot be named here without shadowing a name"


def _writes_by_frame(django: DjangoModule) -> dict[int, list[cst.Call]]:
    """ORM writes outside any savepoint, by the try bodies and handlers they stand in."""
    writes: dict[int, list[cst.Call]] = {}
    for call in django.model.calls:
        if not is_orm_write(django.model, call.node):
            continue
        for frame in call.frame.ancestors():
            if django.transactions.is_savepoint(frame):
                break
            if frame.kind in (FrameKind.TRY_BODY, FrameKind.HANDLER):
                writes.setdefault(id(frame), []).append(call.node)
    return writes


def _only_unmatched_update_errors(types: list[str] | None, body_writes: list[cst.Call]) -> bool:
    """`except DatabaseError` around `save(force_update=True)` / `save(update_fields=...)` only.

    Django itself raises DatabaseError when such a save matches no row (the row was
    deleted meanwhile); no query failed, so the transaction is still usable. This is
    how pretix writes best-effort updates.
    """
    if types is None or [last_segment(name) for name in types] != ["DatabaseError"]:
        return False
    return all(
        isinstance(call.func, cst.Attribute)
        and call.func.attr.value == "save"
        and (keyword_argument(call, "update_fields") is not None or keyword_argument(call, "force_update") is not None)
        for call in body_writes
    )


def _transaction_ends_at_once(
    django: DjangoModule, site: TrySite, body_writes: list[cst.Call], handler_writes: list[cst.Call]
) -> bool:
    """The `try` is the whole outermost `atomic()` block, with one single-statement write.

    Nothing was written before the failure and no query follows it: leaving the block
    ends the broken transaction with nothing to lose (pretix's queue claiming:
    `with atomic(): try: lock row; row.save() except DatabaseError: continue`). A
    multi-statement write (`bulk_create` in batches, a cascading `delete`, raw SQL)
    could have half succeeded, and SQLite or MySQL would commit that half: reported.
    """
    frame = site.frame
    if handler_writes or frame.kind is not FrameKind.WITH or frame.parent is None:
        return False
    if len(body_writes) != 1 or not _single_statement_write(body_writes[0]):
        return False
    assert isinstance(frame.node, cst.With)
    body = frame.node.body
    return (
        isinstance(body, cst.IndentedBlock)
        and len(body.body) == 1
        and body.body[0] is site.node
        and django.transactions.opens_transaction(frame)
        and django.transactions.opened_at(frame.parent) is None
    )


def _single_statement_write(call: cst.Call) -> bool:
    return isinstance(call.func, cst.Attribute) and call.func.attr.value in ("save", "update", "create")
