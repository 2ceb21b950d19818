"""Which calls hand work to a background worker ("dispatch"), and which defer it safely.

Method names alone (`.delay`, `.enqueue`, `.send`) are not enough: `.send` is also a
Django signal, `.delay` an attribute of many things. A method counts only when its
receiver is plausibly a task or a queue: decorated as a task in this module, imported
from a tasks/jobs module, named like a task, or obtained from `get_queue()`.
See RULES.md, "What is a dispatch".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from txlint.django.model import CallSite, Frame, FunctionInfo, ModuleModel, callee_text
from txlint.django.names import (
    ON_COMMIT,
    keyword_argument,
    last_segment,
    matches_any,
)
from txlint.lazy import cst

# Module path segments that hold background jobs: `app.tasks`, `core.jobs`, `celery_tasks`.
TASK_MODULE = re.compile(r"^(tasks?|jobs?|workers?|actors?|celery|queues?)$|_(tasks|jobs|actors)$|^(tasks|jobs)_")
# Names that say "I am a task": mayan's `task_document_upload`, pretix's `mail_send_task`.
TASK_NAME = re.compile(r"^task_|_task$|^task$")
TASK_DECORATORS = frozenset(
    {"task", "shared_task", "job", "actor", "db_task", "periodic_task", "db_periodic_task"}
)
# A task class that enqueues on commit by itself (pretix's TransactionAwareTask).
TRANSACTION_AWARE_BASE = re.compile(r"TransactionAware|OnCommit|AfterCommit", re.IGNORECASE)

CELERY_METHODS = frozenset({"delay", "apply_async"})
SIGNATURE_METHODS = frozenset({"s", "si", "signature"})
CELERY_CANVAS = frozenset(
    {"celery.chain", "celery.group", "celery.chord", "celery.signature",
     "celery.canvas.chain", "celery.canvas.group", "celery.canvas.chord", "celery.canvas.signature",
     "celery.canvas.Signature"}
)  # fmt: skip
RQ_METHODS = frozenset({"enqueue", "enqueue_call", "enqueue_in", "enqueue_at", "enqueue_many", "enqueue_job"})
DJANGO_TASK_METHODS = frozenset({"enqueue", "aenqueue"})
DRAMATIQ_METHODS = frozenset({"send", "send_with_options"})
QUEUE_FACTORIES = frozenset(
    {"rq.Queue", "rq.queue.Queue", "django_rq.get_queue", "django_rq.queues.get_queue"}
)
FUNCTION_DISPATCHERS = {
    "django_rq.enqueue": "django-rq",
    "django_rq.queues.enqueue": "django-rq",
    "django_q.tasks.async_task": "django-q",
    "celery.current_app.send_task": "Celery",
    "celery.execute.send_task": "Celery",
}


@dataclass(frozen=True)
class Dispatch:
    call: cst.Call
    framework: str
    # How the dispatch reads in a chain: `queue.enqueue`, also when called through a
    # local alias (`enqueue = queue.enqueue; enqueue(job)`).
    description: str


class Dispatches:
    def __init__(self, model: ModuleModel) -> None:
        self.model = model

    def of(self, site: CallSite) -> Dispatch | None:
        """The dispatch a call performs, or None when it is not one."""
        framework = self._framework(site.node, site.frame)
        if framework is None:
            return None
        func = site.node.func
        bound = self._bound_method(func, site.frame) if isinstance(func, cst.Name) else None
        return Dispatch(site.node, framework, callee_text(self.model, bound or func))

    def is_on_commit(self, call: cst.Call) -> bool:
        """`transaction.on_commit(...)`, `on_commit(...)`, `connection.on_commit(...)`."""
        qualified = self.model.qualify(call.func)
        if qualified == ON_COMMIT:
            return True
        if not (isinstance(call.func, cst.Attribute) and call.func.attr.value == "on_commit"):
            return False
        receiver = call.func.value
        if isinstance(receiver, cst.Subscript):  # connections["billing"].on_commit(...)
            return self.model.qualify(receiver.value) == "django.db.connections"
        return qualified is not None and qualified.startswith("django.db.")

    def _framework(self, call: cst.Call, frame: Frame) -> str | None:
        qualified = self.model.qualify(call.func)
        if matches_any(qualified, self.model.settings.dispatchers):
            return "configured dispatcher"
        if qualified in FUNCTION_DISPATCHERS:
            return FUNCTION_DISPATCHERS[qualified]
        if isinstance(call.func, cst.Name):
            bound = self._bound_method(call.func, frame)
            if bound is not None:
                return self._method_framework(bound, frame)
            info = self._local_function(call.func)
            return "Huey" if info is not None and self._huey_task(info) else None
        if not isinstance(call.func, cst.Attribute):
            return None
        return self._method_framework(call.func, frame)

    def _bound_method(self, name: cst.Name, frame: Frame) -> cst.Attribute | None:
        """`enqueue = queue.enqueue` or `enqueue = partial(queue.enqueue_in, delay)`, called later."""
        for function in frame.enclosing_functions():
            value = function.assignments.get(name.value)
            if value is None:
                continue
            if isinstance(value, cst.Call) and self.model.qualify(value.func) == "functools.partial" and value.args:
                value = value.args[0].value
            return value if isinstance(value, cst.Attribute) else None
        return None

    def _method_framework(self, func: cst.Attribute, frame: Frame) -> str | None:
        method = func.attr.value
        receiver = func.value
        if method == "send_task":
            return "Celery"
        if method in CELERY_METHODS and (self._is_signature(receiver) or self.is_task(receiver)):
            return "Celery"
        if method in RQ_METHODS and self._is_queue(receiver, frame):
            return "RQ"
        if method in DJANGO_TASK_METHODS and self.is_task(receiver):
            return "Django tasks"
        if method in DRAMATIQ_METHODS and self.is_task(receiver, by_name=False):
            return "Dramatiq"
        if method == "schedule" and self.is_task(receiver):
            return "Huey"
        return None

    def is_task(self, receiver: cst.BaseExpression, by_name: bool = True) -> bool:
        """A function that is plausibly a task: decorated as one here, or imported as one.

        `.send()` is also how Django signals fire, so for it (`by_name=False`) a name like
        `task_approved` is no evidence: only a decorator or a tasks/actors module is.
        Anything imported from a `signals` module is a signal.
        """
        if isinstance(receiver, cst.Name):
            info = self._local_function(receiver)
            if info is not None:
                return self._decorated_as_task(info) and not self._transaction_aware(info)
        qualified = self.model.qualify(receiver)
        head = receiver
        while isinstance(head, cst.Attribute):
            head = head.value
        if qualified is None or not (isinstance(head, cst.Name) and head.value in self.model.imports.bindings):
            return False
        segments = [segment for segment in qualified.split(".") if segment]
        if "signals" in segments or matches_any(qualified, self.model.settings.deferring_tasks):
            return False
        named_like_task = by_name and bool(TASK_NAME.search(segments[-1]))
        return named_like_task or any(TASK_MODULE.search(s) for s in segments[:-1])

    def _is_signature(self, receiver: cst.BaseExpression) -> bool:
        """`task.s(...)`, `chain(...)`, `group(...)`, `a.s() | b.s()`: a Celery canvas."""
        if isinstance(receiver, cst.BinaryOperation) and isinstance(receiver.operator, cst.BitOr):
            return self._is_signature(receiver.left) or self._is_signature(receiver.right)
        if not isinstance(receiver, cst.Call):
            return False
        if isinstance(receiver.func, cst.Attribute) and receiver.func.attr.value in SIGNATURE_METHODS:
            return not self._transaction_aware_name(receiver.func.value)
        return self.model.qualify(receiver.func) in CELERY_CANVAS

    def _is_queue(self, receiver: cst.BaseExpression, frame: Frame) -> bool:
        """`get_queue(...)`, `Queue(...)`, a local assigned from one, or a `*queue*` name."""
        if isinstance(receiver, cst.Call):
            qualified = self.model.qualify(receiver.func)
            return qualified is not None and (
                qualified in QUEUE_FACTORIES or last_segment(qualified) == "get_queue"
            )
        if isinstance(receiver, cst.Name):
            for function in frame.enclosing_functions():
                value = function.assignments.get(receiver.value)
                if value is not None:
                    return self._is_queue(value, frame)
            return "queue" in receiver.value.lower()
        if isinstance(receiver, cst.Attribute):
            return "queue" in receiver.attr.value.lower()
        return False

    def _transaction_aware_name(self, task: cst.BaseExpression) -> bool:
        info = self._local_function(task) if isinstance(task, cst.Name) else None
        return info is not None and self._transaction_aware(info)

    def _local_function(self, name: cst.Name) -> FunctionInfo | None:
        if name.value in self.model.imports.bindings:
            return None
        return self.model.module_level_defs.get(name.value)

    def _task_decorators(self, info: FunctionInfo) -> list[cst.BaseExpression]:
        found = []
        for decorator in info.node.decorators:
            target = decorator.decorator
            func = target.func if isinstance(target, cst.Call) else target
            qualified = self.model.qualify(func)
            if qualified is not None and last_segment(qualified) in TASK_DECORATORS:
                found.append(target)
        return found

    def _decorated_as_task(self, info: FunctionInfo) -> bool:
        return bool(self._task_decorators(info))

    def _transaction_aware(self, info: FunctionInfo) -> bool:
        for decorator in self._task_decorators(info):
            if isinstance(decorator, cst.Call):
                base = keyword_argument(decorator, "base")
                if base is not None and TRANSACTION_AWARE_BASE.search(self.model.code(base.value)):
                    return True
        return False

    def _huey_task(self, info: FunctionInfo) -> bool:
        """Calling a Huey task enqueues it: `@huey.task()` / `@db_task()` from huey."""
        for decorator in self._task_decorators(info):
            func = decorator.func if isinstance(decorator, cst.Call) else decorator
            if "huey" in (self.model.qualify(func) or "").split("."):
                return True
        return False

    def deferring_tasks(self) -> list[str]:
        """Qualified names of this module's tasks whose class defers to on_commit."""
        if not self.model.module_name:
            return []
        return [
            f"{self.model.module_name}.{name}"
            for name, info in self.model.module_level_defs.items()
            if self._transaction_aware(info)
        ]
