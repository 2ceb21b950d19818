from __future__ import annotations

from collections.abc import Iterator

from txlint.diagnostics import FixSafety
from txlint.django import DjangoModule
from txlint.django.caches import (
    WRITER_TOKENS,
    fresh_value_fix,
    instance_caches,
    may_hold_instance_cache,
    snippet,
    why_no_fresh_value_fix,
)
from txlint.rule import Finding, Invalid, Rule, Valid, dedent
from txlint.settings import Settings, contains_any


class InstanceCountMadeStale(Rule):
    """
    ## What it does
    Finds a property or method that caches a database aggregate on the instance
    (`.count()`, `.exists()`, `.aggregate(...)`, `len(qs)`) through `hasattr` /
    `getattr(self, "_x", None)` / `self._x is None` caching, `cached_property`
    (functools' or Django's) or `lru_cache` on the method, while a method of the same
    class writes to the relation it counts (`self.tasks.create/add/remove/clear/set/
    bulk_create/update/delete`, `Task.objects.create(upload=self)`,
    `Task.objects.filter(upload=self).delete()`), and nothing in the class resets the
    cache.

    ## Why is this bad?
    The class itself changes the value it cached: after `upload.attach(rows)` the
    object still reports the count it read before, for as long as it lives. A view
    that creates and then renders the same object shows the old number; a job that
    loops `while obj.has_pending: obj.process_next()` never ends.

    ## Example
    ```python
    class FileUpload(models.Model):
        @cached_property
        def task_count(self):
            return self.tasks.count()

        def attach(self, rows):
            self.tasks.bulk_create([Task(upload=self, data=row) for row in rows])
    ```

    ## Use instead
    ```python
    class FileUpload(models.Model):
        @property
        def task_count(self):
            return self.tasks.count()
    ```
    or reset the cache in the writer (`self.__dict__.pop("task_count", None)`), or
    annotate the count in the queryset that loads the objects.

    ## Fix safety
    Unsafe: the fix returns the fresh value and drops the cache (`@cached_property`
    becomes `@property`, `@lru_cache` goes, a `hasattr`/`getattr`/`is None` caching body
    becomes `return <aggregate>`), so every access runs a query. The old
    `cached_property` import may be left unused. No fix when code anywhere in the
    project assigns the cached attribute on an instance from outside the class (a
    prefetch: `obj.__dict__["x"] = ...`, `obj._x = ...`), which a `@property` would
    ignore or refuse. Bodies that do more than cache the value get no fix.

    ## Options
    None.

    Reported only where staleness is demonstrable: the cache and the writer are in the
    same class and name the same relation (`self.tasks` and `self.tasks`, or the same
    model and keyword with `self`), and the write surely changes the value. Deletes,
    `add`/`remove`/`clear`/`set` always do. A created row changes an unfiltered
    aggregate, and a filtered one only when the write sets a field the query filters on
    (`refunds.create(state=DONE)` for `refunds.filter(state__in=...)`); otherwise the new
    row may not match (weblate's `component_set.create(name=...)` and
    `component_set.filter(locked=True).count()`). `update(...)` counts only through a
    field the query filters on or aggregates. A cache with no writer in its class is TXL303
    (opt-in): most such objects live for one request. Anything in the class that could
    reset the cache keeps the rule quiet: an assignment to or `del` of the attribute,
    its name where names of attributes to reset are given (`__dict__.pop("task_count")`,
    `delattr`/`setattr`, a list or tuple of names), `self.__dict__`/`vars(self)`
    manipulated with computed names, `delattr(self, name)`, and `cache_clear()` on the
    method. Writes through other objects (`task.upload =
    self; task.save()`) are not followed.
    """

    code = "TXL302"
    name = "instance-count-made-stale"
    summary = "Instance-cached count that the same class makes stale"
    fix_title = "Return the fresh value and drop the cache"
    fix_safety = FixSafety.UNSAFE
    valid = (
        Valid(
            "writer_resets_the_cached_property",
            dedent("""
                from django.db import models
                from django.utils.functional import cached_property


                class FileUpload(models.Model):
                    file = models.FileField(upload_to="upload")

                    @cached_property
                    def task_count(self):
                        return self.tasks.count()

                    def attach_tasks(self, rows):
                        self.tasks.bulk_create([Task(file_upload=self, data=row) for row in rows])
                        self.__dict__.pop("task_count", None)
            """),
            path="data_import/models.py",
        ),
        Valid(
            "writer_deletes_the_cached_property",
            dedent("""
                from functools import cached_property

                from django.db import models


                class Team(models.Model):
                    name = models.CharField(max_length=100)
                    members = models.ManyToManyField("auth.User", related_name="teams")

                    @cached_property
                    def member_count(self):
                        return self.members.count()

                    def join(self, user):
                        self.members.add(user)
                        del self.member_count
            """),
            path="teams/models.py",
        ),
        Valid(
            "writer_keeps_the_cached_count_up_to_date",
            dedent("""
                from django.db import models


                class Survey(models.Model):
                    title = models.CharField(max_length=200)

                    @property
                    def answer_count(self):
                        if not hasattr(self, "_answer_count"):
                            self._answer_count = self.answers.count()
                        return self._answer_count

                    def record_answer(self, user, payload):
                        answer = self.answers.create(user=user, payload=payload)
                        if hasattr(self, "_answer_count"):
                            self._answer_count += 1
                        return answer
            """),
            path="surveys/models.py",
        ),
        Valid(
            "request_scoped_report_helper_without_writer",
            dedent("""
                from django.utils.functional import cached_property

                from tickets.models import Ticket


                class DashboardStats:
                    \"\"\"Built per request by the dashboard view; discarded with the response.\"\"\"

                    def __init__(self, request, project):
                        self.request = request
                        self.project = project

                    @cached_property
                    def open_tickets(self):
                        return Ticket.objects.filter(project=self.project, closed=False).count()

                    @cached_property
                    def has_overdue(self):
                        return self.project.tickets.filter(overdue=True).exists()
            """),
            path="dashboard/stats.py",
        ),
        Valid(
            "writer_changes_another_relation",
            dedent("""
                from django.db import models
                from django.utils.functional import cached_property


                class Article(models.Model):
                    title = models.CharField(max_length=200)

                    @cached_property
                    def tag_count(self):
                        return self.tags.count()

                    def add_comment(self, author, text):
                        return self.comments.create(author=author, text=text)
            """),
            path="blog/models.py",
        ),
        Valid(
            "writer_lives_in_a_service_function",
            dedent("""
                from django.db import models
                from django.utils.functional import cached_property


                class Order(models.Model):
                    number = models.CharField(max_length=32)

                    @cached_property
                    def line_count(self):
                        return self.lines.count()


                def add_line(order, product, quantity):
                    return order.lines.create(product=product, quantity=quantity)
            """),
            path="orders/models.py",
        ),
        Valid(
            "refresh_from_db_override_clears_cached_counts",
            dedent("""
                from django.db import models
                from django.utils.functional import cached_property

                CACHED_COUNTS = ("open_issue_count", "has_releases")


                class Repository(models.Model):
                    name = models.CharField(max_length=200)

                    @cached_property
                    def open_issue_count(self):
                        return self.issues.filter(state="open").count()

                    @cached_property
                    def has_releases(self):
                        return self.releases.exists()

                    def open_issue(self, title):
                        return self.issues.create(title=title, state="open")

                    def refresh_from_db(self, *args, **kwargs):
                        super().refresh_from_db(*args, **kwargs)
                        for name in CACHED_COUNTS:
                            self.__dict__.pop(name, None)
            """),
            path="repos/models.py",
        ),
        Valid(
            "lru_cached_method_cleared_by_the_writer",
            dedent("""
                from functools import lru_cache

                from django.db import models


                class Playlist(models.Model):
                    name = models.CharField(max_length=100)

                    @lru_cache(maxsize=None)
                    def track_count(self):
                        return self.tracks.count()

                    def add_track(self, song):
                        self.tracks.create(song=song)
                        self.track_count.cache_clear()
            """),
            path="music/models.py",
        ),
        Valid(
            "cached_settings_value_not_a_database_aggregate",
            dedent("""
                from django.conf import settings
                from django.db import models
                from django.utils.functional import cached_property


                class Mailbox(models.Model):
                    address = models.EmailField()

                    @cached_property
                    def quota(self):
                        return settings.MAILBOX_QUOTAS.get(self.address.split("@")[1], settings.DEFAULT_QUOTA)

                    def receive(self, message):
                        self.messages.create(raw=message)
            """),
            path="mail/models.py",
        ),
        Valid(
            "count_of_another_objects_relation",
            dedent("""
                from django.db import models
                from django.utils.functional import cached_property


                class Membership(models.Model):
                    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE)
                    user = models.ForeignKey("auth.User", on_delete=models.CASCADE)

                    @cached_property
                    def project_task_count(self):
                        return Task.objects.filter(project=self.project).count()

                    def assign(self, title):
                        return Task.objects.create(project=self.project, assignee=self.user, title=title)
            """),
            path="projects/models.py",
        ),
        Valid(
            "cached_local_list_length",
            dedent("""
                from django.utils.functional import cached_property


                class Cart:
                    def __init__(self, request):
                        self.request = request
                        self.items = list(request.session.get("cart", []))

                    @cached_property
                    def size(self):
                        return len(self.items)

                    def add(self, product_id):
                        self.items.append(product_id)
                        self.request.session["cart"] = self.items
            """),
            path="shop/cart.py",
        ),
        Valid(
            "view_counts_its_queryset_and_saves_a_form",
            dedent("""
                from django.utils.functional import cached_property
                from django.views.generic import CreateView

                from events.models import Attendee


                class RegisterView(CreateView):
                    model = Attendee
                    fields = ["name", "email"]

                    @cached_property
                    def seats_taken(self):
                        return self.get_queryset().filter(event=self.kwargs["event"]).count()

                    def form_valid(self, form):
                        form.instance.event_id = self.kwargs["event"]
                        return super().form_valid(form)
            """),
            path="events/views.py",
        ),
        Valid(
            "created_row_may_not_match_the_filtered_count",
            dedent("""
                from django.db import models
                from django.utils.functional import cached_property


                class Project(models.Model):
                    name = models.CharField(max_length=100)

                    @cached_property
                    def locked_components(self) -> int:
                        return self.component_set.filter(locked=True).count()

                    def scratch_create_component(self, name, slug, **kwargs):
                        return self.component_set.create(name=name, slug=slug, **kwargs)
            """),
            path="trans/models/project.py",
        ),
        Valid(
            "update_of_a_field_the_count_ignores",
            dedent("""
                from django.db import models
                from django.db.models import Value
                from django.db.models.functions import Replace
                from django.utils.functional import cached_property


                class Project(models.Model):
                    name = models.CharField(max_length=100)

                    @cached_property
                    def unlocked_components(self) -> int:
                        return self.component_set.filter(locked=False).count()

                    def rename_glossaries(self, old):
                        renamed = Replace("name", Value(old.name), Value(self.name))
                        self.component_set.filter(is_glossary=True).update(name=renamed)
            """),
            path="trans/models/project.py",
        ),
        Valid(
            "created_row_has_a_state_the_sum_skips",
            dedent("""
                from decimal import Decimal

                from django.db.models import Sum
                from django.utils.functional import cached_property

                from orders.models import OrderPayment


                class OrderChangeManager:
                    def __init__(self, order):
                        self.order = order

                    @cached_property
                    def completed_payment_sum(self):
                        return self.order.payments.filter(
                            state__in=(OrderPayment.PAYMENT_STATE_CONFIRMED, OrderPayment.PAYMENT_STATE_REFUNDED)
                        ).aggregate(s=Sum("amount"))["s"] or Decimal("0.00")

                    def mark_free(self):
                        self.order.payments.create(state=OrderPayment.PAYMENT_STATE_CREATED, provider="free", amount=0)
            """),
            path="orders/services.py",
        ),
    )
    invalid = (
        Invalid(
            "hasattr_cached_task_count_and_task_writer",
            dedent("""
                from django.db import models


                class FileUpload(models.Model):
                    file = models.FileField(upload_to="upload")

                    @property
                    def task_count(self):  # TXL302
                        if not hasattr(self, "_task_count_cache"):
                            self._task_count_cache = self.tasks.count()
                        return self._task_count_cache

                    def attach_tasks(self, rows):
                        for row in rows:
                            self.tasks.create(data=row)
            """),
            fixed=dedent("""
                from django.db import models


                class FileUpload(models.Model):
                    file = models.FileField(upload_to="upload")

                    @property
                    def task_count(self):  # TXL302
                        return self.tasks.count()

                    def attach_tasks(self, rows):
                        for row in rows:
                            self.tasks.create(data=row)
            """),
            path="data_import/models.py",
        ),
        Invalid(
            "cached_property_and_bulk_create_through_the_relation",
            dedent("""
                from django.db import models
                from django.utils.functional import cached_property


                class FileUpload(models.Model):
                    file = models.FileField(upload_to="upload")

                    @cached_property
                    def task_count(self):  # TXL302
                        return self.tasks.count()

                    def attach_tasks(self, rows):
                        self.tasks.bulk_create([Task(file_upload=self, data=row) for row in rows])
            """),
            fixed=dedent("""
                from django.db import models
                from django.utils.functional import cached_property


                class FileUpload(models.Model):
                    file = models.FileField(upload_to="upload")

                    @property
                    def task_count(self):  # TXL302
                        return self.tasks.count()

                    def attach_tasks(self, rows):
                        self.tasks.bulk_create([Task(file_upload=self, data=row) for row in rows])
            """),
            path="data_import/models.py",
        ),
        Invalid(
            "model_manager_create_with_self_as_foreign_key",
            dedent("""
                from functools import cached_property

                from django.db import models

                from tasks.models import Task


                class FileUpload(models.Model):
                    file = models.FileField(upload_to="upload")

                    @cached_property
                    def has_tasks(self):  # TXL302
                        return Task.objects.filter(file_upload=self).exists()

                    def import_rows(self, rows):
                        for row in rows:
                            Task.objects.create(file_upload=self, project_id=self.project_id, data=row)
            """),
            fixed=dedent("""
                from functools import cached_property

                from django.db import models

                from tasks.models import Task


                class FileUpload(models.Model):
                    file = models.FileField(upload_to="upload")

                    @property
                    def has_tasks(self):  # TXL302
                        return Task.objects.filter(file_upload=self).exists()

                    def import_rows(self, rows):
                        for row in rows:
                            Task.objects.create(file_upload=self, project_id=self.project_id, data=row)
            """),
            path="data_import/models.py",
        ),
        Invalid(
            "many_to_many_add_and_remove",
            dedent("""
                from django.db import models
                from django.utils.functional import cached_property


                class Team(models.Model):
                    name = models.CharField(max_length=100)
                    members = models.ManyToManyField("auth.User", related_name="teams")

                    @cached_property
                    def member_count(self):  # TXL302
                        return self.members.count()

                    def join(self, user):
                        self.members.add(user)

                    def leave(self, user):
                        self.members.remove(user)
            """),
            fixed=dedent("""
                from django.db import models
                from django.utils.functional import cached_property


                class Team(models.Model):
                    name = models.CharField(max_length=100)
                    members = models.ManyToManyField("auth.User", related_name="teams")

                    @property
                    def member_count(self):  # TXL302
                        return self.members.count()

                    def join(self, user):
                        self.members.add(user)

                    def leave(self, user):
                        self.members.remove(user)
            """),
            path="teams/models.py",
        ),
        Invalid(
            "exists_cached_and_delete_through_filtered_relation",
            dedent("""
                from django.db import models
                from django.utils import timezone
                from django.utils.functional import cached_property


                class Inbox(models.Model):
                    owner = models.OneToOneField("auth.User", on_delete=models.CASCADE)

                    @cached_property
                    def has_expired_messages(self):  # TXL302
                        return self.messages.filter(expires_at__lt=timezone.now()).exists()

                    def purge_expired(self):
                        self.messages.filter(expires_at__lt=timezone.now()).delete()
            """),
            fixed=dedent("""
                from django.db import models
                from django.utils import timezone
                from django.utils.functional import cached_property


                class Inbox(models.Model):
                    owner = models.OneToOneField("auth.User", on_delete=models.CASCADE)

                    @property
                    def has_expired_messages(self):  # TXL302
                        return self.messages.filter(expires_at__lt=timezone.now()).exists()

                    def purge_expired(self):
                        self.messages.filter(expires_at__lt=timezone.now()).delete()
            """),
            path="inbox/models.py",
        ),
        Invalid(
            "aggregate_cached_with_getattr_and_update_through_relation",
            dedent("""
                from decimal import Decimal

                from django.db import models
                from django.db.models import F, Sum


                class Invoice(models.Model):
                    number = models.CharField(max_length=32)

                    @property
                    def total(self):  # TXL302
                        value = getattr(self, "_total", None)
                        if value is None:
                            value = self._total = self.lines.aggregate(s=Sum("amount"))["s"] or Decimal("0.00")
                        return value

                    def apply_discount(self, percent):
                        self.lines.update(amount=F("amount") * (100 - percent) / 100)
            """),
            fixed=dedent("""
                from decimal import Decimal

                from django.db import models
                from django.db.models import F, Sum


                class Invoice(models.Model):
                    number = models.CharField(max_length=32)

                    @property
                    def total(self):  # TXL302
                        return self.lines.aggregate(s=Sum("amount"))["s"] or Decimal("0.00")

                    def apply_discount(self, percent):
                        self.lines.update(amount=F("amount") * (100 - percent) / 100)
            """),
            path="billing/models.py",
        ),
        Invalid(
            "lru_cached_method_and_relation_clear",
            dedent("""
                import functools

                from django.db import models


                class Board(models.Model):
                    title = models.CharField(max_length=100)

                    @functools.lru_cache(maxsize=None)
                    def card_count(self):  # TXL302
                        return self.cards.count()

                    def archive_all(self):
                        self.cards.clear()
            """),
            fixed=dedent("""
                import functools

                from django.db import models


                class Board(models.Model):
                    title = models.CharField(max_length=100)

                    def card_count(self):  # TXL302
                        return self.cards.count()

                    def archive_all(self):
                        self.cards.clear()
            """),
            path="boards/models.py",
        ),
        Invalid(
            "request_scoped_basket_that_adds_lines",
            dedent("""
                from django.utils.functional import cached_property

                from basket.models import Basket


                class BasketSession:
                    \"\"\"Wraps the request's basket; lives for one request.\"\"\"

                    def __init__(self, request):
                        self.basket, _ = Basket.objects.get_or_create(owner=request.user, status="open")

                    @cached_property
                    def num_lines(self):  # TXL302
                        return len(self.basket.lines.all())

                    def add_product(self, product, quantity=1):
                        self.basket.lines.create(product=product, quantity=quantity)
            """),
            fixed=dedent("""
                from django.utils.functional import cached_property

                from basket.models import Basket


                class BasketSession:
                    \"\"\"Wraps the request's basket; lives for one request.\"\"\"

                    def __init__(self, request):
                        self.basket, _ = Basket.objects.get_or_create(owner=request.user, status="open")

                    @property
                    def num_lines(self):  # TXL302
                        return len(self.basket.lines.all())

                    def add_product(self, product, quantity=1):
                        self.basket.lines.create(product=product, quantity=quantity)
            """),
            path="basket/session.py",
        ),
        Invalid(
            "is_none_cache_initialised_in_init",
            dedent("""
                from django.db import models


                class Poll(models.Model):
                    question = models.CharField(max_length=200)

                    def __init__(self, *args, **kwargs):
                        super().__init__(*args, **kwargs)
                        self._vote_count = None

                    def vote_count(self):  # TXL302
                        if self._vote_count is None:
                            self._vote_count = self.votes.count()
                        return self._vote_count

                    def vote(self, user, choice):
                        return self.votes.create(user=user, choice=choice)
            """),
            fixed=dedent("""
                from django.db import models


                class Poll(models.Model):
                    question = models.CharField(max_length=200)

                    def __init__(self, *args, **kwargs):
                        super().__init__(*args, **kwargs)
                        self._vote_count = None

                    def vote_count(self):  # TXL302
                        return self.votes.count()

                    def vote(self, user, choice):
                        return self.votes.create(user=user, choice=choice)
            """),
            path="polls/models.py",
        ),
        Invalid(
            "hasattr_cache_with_early_return_and_get_or_create",
            dedent("""
                from django.db import models


                class Course(models.Model):
                    title = models.CharField(max_length=200)

                    @property
                    def enrolled(self):  # TXL302
                        \"\"\"Number of enrolled students.\"\"\"
                        if hasattr(self, "_enrolled"):
                            return self._enrolled
                        self._enrolled = self.enrollments.filter(active=True).count()
                        return self._enrolled

                    def enroll(self, student):
                        enrollment, _ = self.enrollments.get_or_create(student=student, defaults={"active": True})
                        return enrollment
            """),
            fixed=dedent("""
                from django.db import models


                class Course(models.Model):
                    title = models.CharField(max_length=200)

                    @property
                    def enrolled(self):  # TXL302
                        \"\"\"Number of enrolled students.\"\"\"
                        return self.enrollments.filter(active=True).count()

                    def enroll(self, student):
                        enrollment, _ = self.enrollments.get_or_create(student=student, defaults={"active": True})
                        return enrollment
            """),
            path="courses/models.py",
        ),
        Invalid(
            "guarded_cache_body_has_no_fix",
            dedent("""
                from django.db import models


                class Project(models.Model):
                    name = models.CharField(max_length=100)

                    @property
                    def open_task_count(self):  # TXL302
                        if self.pk is None:
                            return 0
                        if not hasattr(self, "_open_task_count"):
                            self._open_task_count = self.tasks.filter(done=False).count()
                        return self._open_task_count

                    def close_all(self):
                        self.tasks.filter(done=False).update(done=True)
            """),
            fixed=None,  # the body does more than cache the value
            path="projects/models.py",
        ),
        Invalid(
            "cache_filled_by_a_list_prefetch_has_no_fix",
            dedent("""
                from django.db import models
                from django.db.models import Count


                class Board(models.Model):
                    name = models.CharField(max_length=100)

                    @property
                    def card_count(self):  # TXL302
                        if not hasattr(self, "_card_count"):
                            self._card_count = self.cards.count()
                        return self._card_count

                    def archive_cards(self):
                        self.cards.all().delete()


                def with_card_counts(boards):
                    for board in boards.annotate(cards_total=Count("cards")):
                        board._card_count = board.cards_total
                        yield board
            """),
            fixed=None,  # returning a fresh count would make the prefetch pointless
            path="boards/models.py",
        ),
        Invalid(
            "local_queryset_then_count",
            dedent("""
                from django.db import models


                class Warehouse(models.Model):
                    code = models.CharField(max_length=12)

                    @property
                    def low_stock_count(self):  # TXL302
                        if getattr(self, "_low_stock_count", None) is None:
                            low = self.stock_items.filter(quantity__lt=models.F("reorder_level"))
                            self._low_stock_count = low.count()
                        return self._low_stock_count

                    def restock(self, quantity):
                        self.stock_items.update(quantity=models.F("quantity") + quantity)
            """),
            fixed=dedent("""
                from django.db import models


                class Warehouse(models.Model):
                    code = models.CharField(max_length=12)

                    @property
                    def low_stock_count(self):  # TXL302
                        low = self.stock_items.filter(quantity__lt=models.F("reorder_level"))
                        return low.count()

                    def restock(self, quantity):
                        self.stock_items.update(quantity=models.F("quantity") + quantity)
            """),
            path="inventory/models.py",
        ),
        Invalid(
            "order_change_manager_offsets_with_a_refund",
            dedent("""
                from decimal import Decimal

                from django.db.models import Sum
                from django.utils.functional import cached_property

                from orders.models import OrderRefund


                class OrderChangeManager:
                    \"\"\"Collects changes to one order and applies them in `commit()`.\"\"\"

                    def __init__(self, order):
                        self.order = order

                    @cached_property
                    def completed_refund_sum(self):  # TXL302
                        return self.order.refunds.filter(
                            state__in=(OrderRefund.REFUND_STATE_DONE, OrderRefund.REFUND_STATE_TRANSIT)
                        ).aggregate(s=Sum("amount"))["s"] or Decimal("0.00")

                    def offset_split(self, amount):
                        self.order.refunds.create(state=OrderRefund.REFUND_STATE_DONE, amount=amount, provider="offsetting")
            """),
            fixed=dedent("""
                from decimal import Decimal

                from django.db.models import Sum
                from django.utils.functional import cached_property

                from orders.models import OrderRefund


                class OrderChangeManager:
                    \"\"\"Collects changes to one order and applies them in `commit()`.\"\"\"

                    def __init__(self, order):
                        self.order = order

                    @property
                    def completed_refund_sum(self):  # TXL302
                        return self.order.refunds.filter(
                            state__in=(OrderRefund.REFUND_STATE_DONE, OrderRefund.REFUND_STATE_TRANSIT)
                        ).aggregate(s=Sum("amount"))["s"] or Decimal("0.00")

                    def offset_split(self, amount):
                        self.order.refunds.create(state=OrderRefund.REFUND_STATE_DONE, amount=amount, provider="offsetting")
            """),
            path="orders/services.py",
        ),
    )

    def could_match(self, source: str, settings: Settings) -> bool:
        return contains_any(source, WRITER_TOKENS) and may_hold_instance_cache(source)

    def check(self, django: DjangoModule) -> Iterator[Finding]:
        model = django.model
        for cache in instance_caches(model):
            if cache.writer is None or cache.reset:
                continue
            yield self.finding(
                cache.function.node,
                f"`{cache.label}` caches `{snippet(model, cache.aggregate)}` on the instance, but "
                f"`{snippet(model, cache.writer)}` in the same class changes it; return the fresh value",
                fresh_value_fix(model, cache, self.fix_title or ""),
                why_no_fresh_value_fix(model, cache),
            )
