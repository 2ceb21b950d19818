"""Where a transaction is open: Django's atomic contexts, resolved through imports.

See RULES.md, "Where a transaction is open". Code inside a nested `def` or a `lambda`
is only defined there, so the search for an enclosing transaction stops at the
nearest function boundary; a decorated function opens its own transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from txlint.django.model import Frame, FrameKind, FunctionInfo, ModuleModel
from txlint.django.names import (
    ATOMIC,
    CONTEXT_MANAGER_DECORATORS,
    METHOD_DECORATOR,
    keyword_argument,
    last_segment,
    matches_any,
    positional_arguments,
    resolve_callee,
    string_value,
)
from txlint.lazy import cst

# Aliases that name a replica by convention: a transaction there never writes.
READ_ONLY_ALIAS = re.compile(r"replica|read|follower|slave|standby", re.IGNORECASE)

NON_ATOMIC_REQUESTS = "django.db.transaction.non_atomic_requests"
# Class-based views and DRF views/viewsets: their handler methods take `request`.
VIEW_BASE = re.compile(r"(View|APIView|ViewSet|ViewSetMixin)$")
# Modules that hold request handlers: views.py, api.py, views/…, viewsets.py, api_views.py.
VIEW_MODULE = re.compile(r"^(views?|api|viewsets?)$|^(views|api)_|_(views|api)$")

# Methods that `dispatch()` calls, so `@method_decorator(atomic, name="dispatch")` on the
# class puts them inside the transaction.
HANDLER_METHODS = frozenset(
    {
        "get", "post", "put", "patch", "delete", "head", "options",
        "form_valid", "form_invalid",
        "create", "update", "partial_update", "destroy",
        "perform_create", "perform_update", "perform_destroy",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Transaction:
    """What opened the transaction a piece of code runs in."""

    opener: cst.CSTNode
    description: str
    # The `using=` database alias expression, None for the default database.
    using: cst.BaseExpression | None = None


class Transactions:
    def __init__(self, model: ModuleModel) -> None:
        self.model = model
        self._functions: dict[int, Transaction | None] = {}
        self._wrappers: dict[int, bool] = {}
        self._run_python = self._run_python_targets()

    def opened_at(self, frame: Frame) -> Transaction | None:
        """The innermost transaction the code of `frame` runs in, if any is lexically open."""
        for current in frame.ancestors():
            if current.kind is FrameKind.WITH:
                assert isinstance(current.node, cst.With)
                for item in current.node.items:
                    if self.is_atomic(item.item):
                        return Transaction(item.item, f"with {self.model.short(item.item)}", self._using(item.item))
            elif current.kind is FrameKind.FUNCTION:
                info = self.model.function_for(current)
                return self.opened_by_function(info) if info else None
        return None

    def opens_transaction(self, frame: Frame) -> bool:
        """Whether a WITH frame's items include an atomic context."""
        if frame.kind is not FrameKind.WITH:
            return False
        assert isinstance(frame.node, cst.With)
        return any(self.is_atomic(item.item) for item in frame.node.items)

    def is_savepoint(self, frame: Frame) -> bool:
        """Whether a WITH frame opens `atomic()` with a savepoint (not `savepoint=False`)."""
        if frame.kind is not FrameKind.WITH:
            return False
        assert isinstance(frame.node, cst.With)
        return any(self.is_atomic(item.item) and _creates_savepoint(item.item) for item in frame.node.items)

    def opened_by_function(self, info: FunctionInfo) -> Transaction | None:
        key = id(info)
        if key not in self._functions:
            self._functions[key] = self._function_transaction(info)
        return self._functions[key]

    def is_atomic(self, expr: cst.BaseExpression) -> bool:
        """`transaction.atomic(...)`, `atomic`, a configured or project-defined wrapper."""
        target = expr.func if isinstance(expr, cst.Call) else expr
        if isinstance(expr, cst.Call) and self.model.qualify(target) == METHOD_DECORATOR:
            arguments = positional_arguments(expr)
            return bool(arguments) and self.is_atomic(arguments[0].value)
        qualified = self.model.qualify(target)
        if qualified == ATOMIC or matches_any(qualified, self.model.settings.atomic_contexts) or self._imports_wrapper(qualified):
            return not (isinstance(expr, cst.Call) and self._is_read_only(expr))
        if isinstance(target, cst.Name):
            info = self.model.module_level_defs.get(target.value)
            return info is not None and target.value not in self.model.imports.bindings and self.is_wrapper(info)
        return False

    def _imports_wrapper(self, qualified: str | None) -> bool:
        """A wrapper that the project index found in another module (or its package's re-export)."""
        wrappers = self.model.settings.atomic_wrappers
        if qualified is None or not wrappers:
            return False
        return matches_any(qualified, wrappers) or resolve_callee(qualified.lstrip("."), wrappers) is not None

    def module_wrappers(self) -> list[str]:
        """The module-level functions of this module that open a transaction for their caller."""
        return sorted(name for name, info in self.model.module_level_defs.items() if self.is_wrapper(info))

    def is_wrapper(self, info: FunctionInfo) -> bool:
        """A project function that opens a transaction for its caller.

        A `@contextmanager` whose `yield` sits inside `atomic()`, or a function that
        returns `atomic(...)`, possibly under a condition (`conditional_atomic`).
        """
        key = id(info)
        if key in self._wrappers:
            return self._wrappers[key]
        self._wrappers[key] = False  # a wrapper calling itself is not a wrapper
        result = self._yields_inside_atomic(info) or self._returns_atomic(info)
        self._wrappers[key] = result
        return result

    def _yields_inside_atomic(self, info: FunctionInfo) -> bool:
        decorators = {self.model.qualify(d.decorator) for d in info.node.decorators}
        if not decorators & CONTEXT_MANAGER_DECORATORS:
            return False
        for frame in self.model.yield_frames:
            if frame.scope() is info.frame and self._inside_atomic_with(frame):
                return True
        return False

    def _inside_atomic_with(self, frame: Frame) -> bool:
        return any(self.opens_transaction(current) for current in frame.ancestors())

    def _returns_atomic(self, info: FunctionInfo) -> bool:
        for site in self.model.returns:
            if site.frame.scope() is not info.frame:
                continue
            values = [site.value.body, site.value.orelse] if isinstance(site.value, cst.IfExp) else [site.value]
            if any(isinstance(value, cst.Call) and self.is_atomic(value) for value in values):
                return True
        return False

    def _function_transaction(self, info: FunctionInfo) -> Transaction | None:
        for decorator in info.node.decorators:
            if self.is_atomic(decorator.decorator):
                return Transaction(decorator, f"@{self.model.short(decorator.decorator)}", self._using(decorator.decorator))
        class_node = info.class_node
        if class_node is not None:
            for decorator in class_node.decorators:
                if self._class_decorator_covers(decorator.decorator, info.name):
                    return Transaction(decorator, f"@{self.model.short(decorator.decorator)}", self._using(decorator.decorator))
        run_python = self._run_python.get(info.name)
        if run_python is not None and info.parent.kind is FrameKind.MODULE:
            return Transaction(run_python, self.model.short(run_python))
        if self.model.settings.atomic_requests and self._is_request_handler(info) and not self._opts_out(info):
            return Transaction(info.node.name, "ATOMIC_REQUESTS")
        return None

    def _is_request_handler(self, info: FunctionInfo) -> bool:
        """First parameter (after `self`) named `request`, in a views/api module or a view class.

        Django refuses ATOMIC_REQUESTS for async views, so they are never handlers here.
        """
        params = [param.name.value for param in info.node.params.params]
        if info.class_node is not None:
            params = params[1:]
        if info.is_async or not params or params[0] != "request":
            return False
        class_node = info.class_node
        if class_node is not None and any(
            VIEW_BASE.search(self.model.code(base.value)) for base in class_node.bases
        ):
            return True
        segments = re.split(r"[/\\]", self.model.path.removesuffix(".py"))
        return any(VIEW_MODULE.search(segment) for segment in segments)

    def _opts_out(self, info: FunctionInfo) -> bool:
        """`@transaction.non_atomic_requests`, directly or through `method_decorator`."""
        decorators = [d.decorator for d in info.node.decorators]
        if info.class_node is not None:
            decorators += [
                d.decorator
                for d in info.class_node.decorators
                if isinstance(d.decorator, cst.Call) and self.model.qualify(d.decorator.func) == METHOD_DECORATOR
            ]
        for decorator in decorators:
            target = decorator
            if isinstance(target, cst.Call) and self.model.qualify(target.func) == METHOD_DECORATOR:
                arguments = positional_arguments(target)
                target = arguments[0].value if arguments else target
            func = target.func if isinstance(target, cst.Call) else target
            if self.model.qualify(func) == NON_ATOMIC_REQUESTS:
                return True
        return False

    def _class_decorator_covers(self, decorator: cst.BaseExpression, method: str) -> bool:
        """`@method_decorator(transaction.atomic, name="dispatch")` on a view class."""
        if not isinstance(decorator, cst.Call) or self.model.qualify(decorator.func) != METHOD_DECORATOR:
            return False
        name_arg = keyword_argument(decorator, "name")
        name = string_value(name_arg.value) if name_arg else None
        if not self.is_atomic(decorator):
            return False
        return name == method or (name == "dispatch" and method in HANDLER_METHODS)

    def _run_python_targets(self) -> dict[str, cst.Call]:
        """Functions a migration runs with `RunPython` inside its transaction."""
        if not is_migration_path(self.model.path) or _migration_is_non_atomic(self.model):
            return {}
        targets: dict[str, cst.Call] = {}
        for site in self.model.calls:
            qualified = self.model.qualify(site.node.func)
            if qualified is None or last_segment(qualified) != "RunPython":
                continue
            atomic_arg = keyword_argument(site.node, "atomic")
            if atomic_arg is not None and isinstance(atomic_arg.value, cst.Name) and atomic_arg.value.value == "False":
                continue
            for arg in site.node.args:
                if isinstance(arg.value, cst.Name) and (arg.keyword is None or arg.keyword.value in ("code", "reverse_code")):
                    targets[arg.value.value] = site.node
        return targets

    def _using(self, expr: cst.BaseExpression) -> cst.BaseExpression | None:
        """The alias of `atomic(using=...)`, `atomic("alias")`, `method_decorator(atomic(...))`."""
        if not isinstance(expr, cst.Call):
            return None
        arguments = positional_arguments(expr)
        if self.model.qualify(expr.func) == METHOD_DECORATOR:
            return self._using(arguments[0].value) if arguments else None
        using = keyword_argument(expr, "using")
        # Only Django's own `atomic(using=None, ...)` takes the alias first; a project
        # wrapper's first argument means something else (`conditional_atomic(flag)`).
        positional = arguments[0].value if arguments and self.model.qualify(expr.func) == ATOMIC else None
        value = using.value if using else positional
        return None if isinstance(value, cst.Name) and value.value == "None" else value

    def _is_read_only(self, call: cst.Call) -> bool:
        value = self._using(call)
        alias = string_value(value) if value is not None else None
        if alias is None:
            return False
        return alias in self.model.settings.read_only_databases or bool(READ_ONLY_ALIAS.search(alias))


def _creates_savepoint(expr: cst.BaseExpression) -> bool:
    if not isinstance(expr, cst.Call):
        return True
    savepoint = keyword_argument(expr, "savepoint")
    return not (savepoint is not None and isinstance(savepoint.value, cst.Name) and savepoint.value.value == "False")


def is_migration_path(path: str) -> bool:
    parts = path.replace("\\", "/").split("/")
    return len(parts) >= 2 and parts[-2] == "migrations"


def _migration_is_non_atomic(model: ModuleModel) -> bool:
    """`class Migration: atomic = False` runs each operation outside a transaction."""
    for class_node, _ in model.classes:
        if class_node.name.value != "Migration" or not isinstance(class_node.body, cst.IndentedBlock):
            continue
        for statement in class_node.body.body:
            if not isinstance(statement, cst.SimpleStatementLine):
                continue
            for small in statement.body:
                if (
                    isinstance(small, cst.Assign)
                    and any(isinstance(t.target, cst.Name) and t.target.value == "atomic" for t in small.targets)
                    and isinstance(small.value, cst.Name)
                    and small.value.value == "False"
                ):
                    return True
    return False
