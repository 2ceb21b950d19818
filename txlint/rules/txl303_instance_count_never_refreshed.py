from __future__ import annotations

from collections.abc import Iterator

from txlint.diagnostics import FixSafety
from txlint.django import DjangoModule
from txlint.django.caches import (
    CacheKind,
    fresh_value_fix,
    instance_caches,
    may_hold_instance_cache,
    snippet,
    why_no_fresh_value_fix,
)
from txlint.rule import Finding, Invalid, Rule, Valid, dedent
from txlint.settings import Settings


class InstanceCountNeverRefreshed(Rule):
    """
    ## What it does
    Finds a property or method that caches a database aggregate on the instance
    (`.count()`, `.exists()`, `.aggregate(...)`, `len(qs)`) through `hasattr` /
    `getattr(self, "_x", None)` / `self._x is None` caching or `cached_property`, when
    nothing in the class can reset the cache and no method of the class writes to
    what it counts (that case is TXL302). This is the seed's `task_count`:
    `if not hasattr(self, "_task_count_cache"): self._task_count_cache = self.tasks.count()`.

    ## Why is this bad?
    The object keeps the first value it read for the rest of its life. Rows added by
    another request, a worker, or a transaction that commits later (the seed's files
    table showed imported files with 0 tasks) are never seen by that object, and there
    is no way to ask it for a fresh value short of loading it again.

    ## Example
    ```python
    class FileUpload(models.Model):
        @property
        def task_count(self):
            if not hasattr(self, "_task_count_cache"):
                self._task_count_cache = self.tasks.count()
            return self._task_count_cache
    ```

    ## Use instead
    ```python
    class FileUpload(models.Model):
        @property
        def task_count(self):
            return self.tasks.count()
    ```
    or annotate the count in the queryset that loads the objects
    (`FileUpload.objects.annotate(task_count=Count("tasks"))`), or give the class a way
    to reset the cache (`refresh_from_db` that pops it).

    ## Fix safety
    Unsafe: the fix returns the fresh value and drops the cache (`@cached_property`
    becomes `@property`; a `hasattr`/`getattr`/`is None` caching body becomes
    `return <aggregate>`), so every access runs a query. No fix when code anywhere in
    the project assigns the cached attribute from outside the class (weblate's prefetch
    writing `project.__dict__["has_alerts"]`, pretix's stats setting
    `item.has_variations`, a queryset helper setting `_task_count_cache` from an
    annotation), which a `@property` would ignore or refuse. Bodies that do more than
    cache the value get no fix.

    ## Options
    Opt-in: on with `strict = true`, `--strict` or `--select TXL303`. Most instance
    caches live on objects that last one request, where a cached count is harmless.

    `lru_cache` on a method is a process-lifetime cache and belongs to TXL301. The
    same resets as TXL302 keep it quiet: an assignment to or `del` of the attribute
    outside `__init__`, its name where names of attributes to reset are given
    (`__dict__.pop("x")`, `delattr`/`setattr`, a list or tuple of names), `__dict__`
    manipulated with computed names, `delattr(self, name)`. The same name as a context
    key (`context["submission_count"]`) is not a reset. A cached queryset (not an aggregate), a cached
    `len()` of a plain list and `path.exists()` are not reported.
    """

    code = "TXL303"
    name = "instance-count-never-refreshed"
    summary = "Instance-cached count with no invalidation path"
    fix_title = "Return the fresh value and drop the cache"
    fix_safety = FixSafety.UNSAFE
    opt_in = True
    valid = (
        Valid(
            "refresh_from_db_override_pops_the_cache",
            dedent("""
                from django.db import models


                class FileUpload(models.Model):
                    file = models.FileField(upload_to="upload")

                    @property
                    def task_count(self):
                        if not hasattr(self, "_task_count_cache"):
                            self._task_count_cache = self.tasks.count()
                        return self._task_count_cache

                    def refresh_from_db(self, *args, **kwargs):
                        super().refresh_from_db(*args, **kwargs)
                        self.__dict__.pop("_task_count_cache", None)
            """),
            path="data_import/models.py",
        ),
        Valid(
            "invalidate_method_deletes_cached_property",
            dedent("""
                from django.db import models
                from django.utils.functional import cached_property


                class Forum(models.Model):
                    name = models.CharField(max_length=100)

                    @cached_property
                    def topic_count(self):
                        return self.topics.count()

                    def invalidate_counts(self):
                        try:
                            del self.topic_count
                        except AttributeError:
                            pass
            """),
            path="forum/models.py",
        ),
        Valid(
            "reset_to_none_after_import",
            dedent("""
                from django.db import models


                class Catalog(models.Model):
                    name = models.CharField(max_length=100)
                    _product_count = None

                    @property
                    def product_count(self):
                        if self._product_count is None:
                            self._product_count = Product.objects.filter(catalog_id=self.pk).count()
                        return self._product_count

                    def mark_dirty(self):
                        self._product_count = None
            """),
            path="catalog/models.py",
        ),
        Valid(
            "generic_reset_of_cached_names",
            dedent("""
                from django.db import models
                from django.utils.functional import cached_property


                class Project(models.Model):
                    name = models.CharField(max_length=100)

                    @cached_property
                    def source_string_count(self):
                        return self.units.filter(source=True).count()

                    def invalidate_cache(self):
                        for name in list(self.__dict__):
                            if name.endswith("_count"):
                                delattr(self, name)
            """),
            path="trans/models.py",
        ),
        Valid(
            "writer_in_the_class_is_txl302",
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
            """),
            path="data_import/models.py",
        ),
        Valid(
            "cached_word_count_not_a_query",
            dedent("""
                from django.db import models


                class Post(models.Model):
                    body = models.TextField()

                    @property
                    def word_count(self):
                        if not hasattr(self, "_word_count"):
                            self._word_count = len(self.body.split())
                        return self._word_count
            """),
            path="blog/models.py",
        ),
        Valid(
            "count_computed_eagerly_in_init",
            dedent("""
                class ImportSummary:
                    def __init__(self, upload):
                        self.upload = upload
                        self.task_count = upload.tasks.count()
                        self.annotation_count = upload.tasks.filter(is_labeled=True).count()

                    def as_dict(self):
                        return {"tasks": self.task_count, "annotations": self.annotation_count}
            """),
            path="data_import/summary.py",
        ),
        Valid(
            "cached_queryset_not_an_aggregate",
            dedent("""
                from django.utils.functional import cached_property
                from django.views.generic import DetailView

                from shop.models import Product


                class ProductDetailView(DetailView):
                    model = Product

                    @cached_property
                    def related_products(self):
                        return self.object.category.products.exclude(pk=self.object.pk)[:4]
            """),
            path="shop/views.py",
        ),
        Valid(
            "lru_cache_on_method_is_txl301",
            dedent("""
                from functools import lru_cache

                from django.db import models


                class Region(models.Model):
                    name = models.CharField(max_length=100)

                    @lru_cache(maxsize=128)
                    def store_count(self):
                        return self.stores.count()
            """),
            path="geo/models.py",
        ),
        Valid(
            "thumbnail_path_exists_is_the_file_system",
            dedent("""
                from django.db import models
                from django.utils.functional import cached_property


                class Photo(models.Model):
                    original = models.ImageField(upload_to="photos")

                    @cached_property
                    def has_thumbnail(self):
                        return self.thumbnail_path.exists()
            """),
            path="gallery/models.py",
        ),
        Valid(
            "reset_by_name_in_a_list",
            dedent("""
                from django.db import models
                from django.utils.functional import cached_property


                class Event(models.Model):
                    name = models.CharField(max_length=200)

                    @cached_property
                    def has_subevents(self):
                        return self.subevents.exists()

                    def clear_cache(self):
                        for attr in ("has_subevents", "settings"):
                            self.__dict__.pop(attr, None)
            """),
            path="events/models.py",
        ),
    )
    invalid = (
        Invalid(
            "seed_task_count_cached_forever",
            dedent("""
                import os

                from django.conf import settings
                from django.db import models


                class FileUpload(models.Model):
                    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="file_uploads", on_delete=models.CASCADE)
                    project = models.ForeignKey("projects.Project", related_name="file_uploads", on_delete=models.CASCADE)
                    file = models.FileField(upload_to="upload")

                    @property
                    def file_name(self):
                        return os.path.basename(self.file.name)

                    @property
                    def task_count(self):  # TXL303
                        if not hasattr(self, "_task_count_cache"):
                            self._task_count_cache = self.tasks.count()
                        return self._task_count_cache
            """),
            fixed=dedent("""
                import os

                from django.conf import settings
                from django.db import models


                class FileUpload(models.Model):
                    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="file_uploads", on_delete=models.CASCADE)
                    project = models.ForeignKey("projects.Project", related_name="file_uploads", on_delete=models.CASCADE)
                    file = models.FileField(upload_to="upload")

                    @property
                    def file_name(self):
                        return os.path.basename(self.file.name)

                    @property
                    def task_count(self):  # TXL303
                        return self.tasks.count()
            """),
            path="data_import/models.py",
        ),
        Invalid(
            "cached_property_exists_on_a_model",
            dedent("""
                from django.db import models
                from django.utils.functional import cached_property


                class Item(models.Model):
                    name = models.CharField(max_length=200)

                    @cached_property
                    def has_variations(self):  # TXL303
                        return self.variations.exists()
            """),
            fixed=dedent("""
                from django.db import models
                from django.utils.functional import cached_property


                class Item(models.Model):
                    name = models.CharField(max_length=200)

                    @property
                    def has_variations(self):  # TXL303
                        return self.variations.exists()
            """),
            path="items/models.py",
        ),
        Invalid(
            "functools_cached_property_aggregate_on_order",
            dedent("""
                from decimal import Decimal
                from functools import cached_property

                from django.db import models
                from django.db.models import Sum


                class Order(models.Model):
                    code = models.CharField(max_length=16)

                    @cached_property
                    def pending_sum(self):  # TXL303
                        paid = self.payments.filter(state="confirmed").aggregate(s=Sum("amount"))["s"] or Decimal("0.00")
                        return self.total - paid
            """),
            fixed=dedent("""
                from decimal import Decimal
                from functools import cached_property

                from django.db import models
                from django.db.models import Sum


                class Order(models.Model):
                    code = models.CharField(max_length=16)

                    @property
                    def pending_sum(self):  # TXL303
                        paid = self.payments.filter(state="confirmed").aggregate(s=Sum("amount"))["s"] or Decimal("0.00")
                        return self.total - paid
            """),
            path="orders/models.py",
        ),
        Invalid(
            "getattr_variable_cache",
            dedent("""
                from django.db import models


                class Organization(models.Model):
                    name = models.CharField(max_length=100)

                    @property
                    def seat_count(self):  # TXL303
                        seats = getattr(self, "_seat_count", None)
                        if seats is None:
                            seats = self._seat_count = self.memberships.filter(active=True).count()
                        return seats
            """),
            fixed=dedent("""
                from django.db import models


                class Organization(models.Model):
                    name = models.CharField(max_length=100)

                    @property
                    def seat_count(self):  # TXL303
                        return self.memberships.filter(active=True).count()
            """),
            path="orgs/models.py",
        ),
        Invalid(
            "len_of_evaluated_queryset",
            dedent("""
                from django.db import models


                class Album(models.Model):
                    title = models.CharField(max_length=200)

                    @property
                    def photo_count(self):  # TXL303
                        if not hasattr(self, "_photo_count"):
                            self._photo_count = len(self.photos.all())
                        return self._photo_count
            """),
            fixed=dedent("""
                from django.db import models


                class Album(models.Model):
                    title = models.CharField(max_length=200)

                    @property
                    def photo_count(self):  # TXL303
                        return len(self.photos.all())
            """),
            path="gallery/models.py",
        ),
        Invalid(
            "request_scoped_view_counts_its_queryset",
            dedent("""
                from django.utils.functional import cached_property
                from django.views.generic import ListView

                from tickets.models import Ticket


                class TicketListView(ListView):
                    model = Ticket
                    paginate_by = 50

                    @cached_property
                    def unassigned_count(self):  # TXL303
                        return Ticket.objects.filter(assignee__isnull=True, closed=False).count()

                    def get_context_data(self, **kwargs):
                        context = super().get_context_data(**kwargs)
                        context["unassigned"] = self.unassigned_count
                        return context
            """),
            fixed=dedent("""
                from django.utils.functional import cached_property
                from django.views.generic import ListView

                from tickets.models import Ticket


                class TicketListView(ListView):
                    model = Ticket
                    paginate_by = 50

                    @property
                    def unassigned_count(self):  # TXL303
                        return Ticket.objects.filter(assignee__isnull=True, closed=False).count()

                    def get_context_data(self, **kwargs):
                        context = super().get_context_data(**kwargs)
                        context["unassigned"] = self.unassigned_count
                        return context
            """),
            path="tickets/views.py",
        ),
        Invalid(
            "early_return_cache_with_docstring",
            dedent("""
                from django.db import models


                class Customer(models.Model):
                    email = models.EmailField()

                    @property
                    def order_count(self):  # TXL303
                        \"\"\"Orders placed by the customer.\"\"\"
                        if hasattr(self, "_order_count"):
                            return self._order_count
                        self._order_count = Order.objects.filter(customer=self).count()
                        return self._order_count
            """),
            fixed=dedent("""
                from django.db import models


                class Customer(models.Model):
                    email = models.EmailField()

                    @property
                    def order_count(self):  # TXL303
                        \"\"\"Orders placed by the customer.\"\"\"
                        return Order.objects.filter(customer=self).count()
            """),
            path="crm/models.py",
        ),
        Invalid(
            "is_none_cache_in_a_plain_method",
            dedent("""
                class ProjectStats:
                    def __init__(self, project):
                        self.project = project
                        self._finished = None

                    def finished_tasks(self):  # TXL303
                        if self._finished is None:
                            qs = self.project.tasks.filter(is_labeled=True)
                            self._finished = qs.count()
                        return self._finished
            """),
            fixed=dedent("""
                class ProjectStats:
                    def __init__(self, project):
                        self.project = project
                        self._finished = None

                    def finished_tasks(self):  # TXL303
                        qs = self.project.tasks.filter(is_labeled=True)
                        return qs.count()
            """),
            path="projects/stats.py",
        ),
        Invalid(
            "cache_with_extra_guard_has_no_fix",
            dedent("""
                from django.db import models


                class Dataset(models.Model):
                    name = models.CharField(max_length=100)

                    @property
                    def row_count(self):  # TXL303
                        if not self.pk:
                            return 0
                        if not hasattr(self, "_row_count"):
                            self._row_count = self.rows.count()
                        return self._row_count
            """),
            fixed=None,  # the body does more than cache the value
            path="datasets/models.py",
        ),
        Invalid(
            "cached_property_prefetched_through_dict_has_no_fix",
            dedent("""
                from django.db import models
                from django.db.models import Count
                from django.utils.functional import cached_property


                def prefetch_alert_flags(projects):
                    counts = dict(
                        Project.objects.filter(pk__in=[p.pk for p in projects])
                        .annotate(alerts=Count("component__alert"))
                        .values_list("pk", "alerts")
                    )
                    for project in projects:
                        project.__dict__["has_alerts"] = bool(counts.get(project.pk))


                class Project(models.Model):
                    name = models.CharField(max_length=100)

                    @cached_property
                    def has_alerts(self):  # TXL303
                        return self.alerts.exists()
            """),
            fixed=None,  # a `@property` would ignore the prefetched value in `__dict__`
            path="projects/models.py",
        ),
        Invalid(
            "two_cached_counts_on_one_model",
            dedent("""
                from django.db import models
                from django.utils.functional import cached_property


                class Question(models.Model):
                    title = models.CharField(max_length=300)

                    @cached_property
                    def answer_count(self):  # TXL303
                        return self.answers.count()

                    @cached_property
                    def has_accepted_answer(self):  # TXL303
                        return self.answers.filter(accepted=True).exists()
            """),
            fixed=dedent("""
                from django.db import models
                from django.utils.functional import cached_property


                class Question(models.Model):
                    title = models.CharField(max_length=300)

                    @property
                    def answer_count(self):  # TXL303
                        return self.answers.count()

                    @property
                    def has_accepted_answer(self):  # TXL303
                        return self.answers.filter(accepted=True).exists()
            """),
            path="qa/models.py",
        ),
        Invalid(
            "aggregate_dict_cached_with_getattr_is_none",
            dedent("""
                from django.db import models
                from django.db.models import Avg, Count


                class Survey(models.Model):
                    title = models.CharField(max_length=200)

                    @property
                    def rating_stats(self):  # TXL303
                        if getattr(self, "_rating_stats", None) is None:
                            self._rating_stats = self.responses.aggregate(average=Avg("rating"), total=Count("id"))
                        return self._rating_stats
            """),
            fixed=dedent("""
                from django.db import models
                from django.db.models import Avg, Count


                class Survey(models.Model):
                    title = models.CharField(max_length=200)

                    @property
                    def rating_stats(self):  # TXL303
                        return self.responses.aggregate(average=Avg("rating"), total=Count("id"))
            """),
            path="surveys/models.py",
        ),
        Invalid(
            "panel_count_with_a_context_key_of_the_same_name",
            dedent("""
                from django.utils.functional import cached_property

                from wagtail.admin.panels import Panel


                class FormSubmissionsPanel(Panel):
                    class BoundPanel(Panel.BoundPanel):
                        template_name = "wagtailforms/panels/form_responses_panel.html"

                        @cached_property
                        def submissions(self):
                            submission_class = self.panel.model().get_submission_class()
                            return submission_class.objects.filter(page=self.instance)

                        @cached_property
                        def submission_count(self):  # TXL303
                            return self.submissions.count()

                        def get_context_data(self, parent_context=None):
                            context = super().get_context_data(parent_context)
                            context["submission_count"] = self.submission_count
                            return context
            """),
            fixed=dedent("""
                from django.utils.functional import cached_property

                from wagtail.admin.panels import Panel


                class FormSubmissionsPanel(Panel):
                    class BoundPanel(Panel.BoundPanel):
                        template_name = "wagtailforms/panels/form_responses_panel.html"

                        @cached_property
                        def submissions(self):
                            submission_class = self.panel.model().get_submission_class()
                            return submission_class.objects.filter(page=self.instance)

                        @property
                        def submission_count(self):  # TXL303
                            return self.submissions.count()

                        def get_context_data(self, parent_context=None):
                            context = super().get_context_data(parent_context)
                            context["submission_count"] = self.submission_count
                            return context
            """),
            path="contrib/forms/panels.py",
        ),
    )

    def could_match(self, source: str, settings: Settings) -> bool:
        return may_hold_instance_cache(source)

    def check(self, django: DjangoModule) -> Iterator[Finding]:
        model = django.model
        for cache in instance_caches(model):
            if cache.writer is not None or cache.reset or cache.kind is CacheKind.LRU_CACHE:
                continue
            yield self.finding(
                cache.function.node,
                f"`{cache.label}` caches `{snippet(model, cache.aggregate)}` on the instance and nothing in the class "
                "resets it; return the fresh value",
                fresh_value_fix(model, cache, self.fix_title or ""),
                why_no_fresh_value_fix(model, cache),
            )
