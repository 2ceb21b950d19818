"""An outline of a module from CPython's `ast`: what the rules' gates look at before libcst.

libcst costs five times `ast.parse`, and on most files that pass the text prescans no
rule can report anything. One walk of the `ast` tree records the calls, `try`
statements, functions and classes, each with the lexical frame it stands in (the
Scanner's frames: see txlint.django.model). Each rule's `sites` then names, from the
outline alone, the nodes where it could report and the code its verdict depends on; a
rule without a site is not run, and the engine parses only the functions that hold one.

Every predicate here is a necessary condition of what it mirrors (a superset): it
may say yes where the rule stays quiet, never no where the rule reports. Names
resolve through every import of the module at once: the ImportTable keeps one binding
per name, and which one wins depends on the order of the walk.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from txlint.django.caches import EMPTY_CONTAINER_CALLS, MANAGERS, RELATION_WRITES, is_short_lived_module
from txlint.django.dispatch import (
    CELERY_CANVAS,
    CELERY_METHODS,
    DJANGO_TASK_METHODS,
    DRAMATIQ_METHODS,
    FUNCTION_DISPATCHERS,
    RQ_METHODS,
    SIGNATURE_METHODS,
    TASK_DECORATORS,
    TASK_MODULE,
    TASK_NAME,
    TRANSACTION_AWARE_BASE,
)
from txlint.django.imports import resolve_relative
from txlint.django.model import BOUNDARY_KINDS, FrameKind
from txlint.django.names import CONTEXT_MANAGER_DECORATORS, matches_any
from txlint.django.transactions import is_migration_path
from txlint.settings import Settings, last_names

# Methods that may hand work to a worker, whatever their receiver (Dispatches also
# checks the receiver): Celery, RQ, Django tasks, Huey's `.schedule()`.
DISPATCH_METHODS = frozenset({"send_task", "schedule", *CELERY_METHODS, *RQ_METHODS, *DJANGO_TASK_METHODS})
DISPATCH_FUNCTIONS = frozenset(name.rsplit(".", 1)[-1] for name in FUNCTION_DISPATCHERS)
CANVAS_NAMES = frozenset(name.rsplit(".", 1)[-1] for name in CELERY_CANVAS)
# `is_orm_write` only accepts a call of one of these attributes.
WRITE_METHODS = frozenset({"save", "delete", "create", "update", "bulk_create", "bulk_update", "execute", "executemany"})
BROAD_NAMES = frozenset({"Exception", "BaseException"})
CACHE_DECORATORS = frozenset({"cached_property", "lru_cache", "cache"})
LRU_DECORATORS = frozenset({"lru_cache", "cache"})
CONTEXT_MANAGERS = frozenset(name.rsplit(".", 1)[-1] for name in CONTEXT_MANAGER_DECORATORS)
EMPTY_CONTAINER_NAMES = frozenset(name.rsplit(".", 1)[-1] for name in EMPTY_CONTAINER_CALLS)
# Last names of what `catches_database_errors` accepts (django.db.Error included).
DATABASE_ERROR_NAMES = frozenset(
    {"Exception", "BaseException", "Error", "IntegrityError", "DatabaseError", "OperationalError", "DataError",
     "InternalError", "ProgrammingError", "NotSupportedError"}
)  # fmt: skip

Stack = list[tuple[ast.AST, "OutlineFrame"]]
Function = ast.FunctionDef | ast.AsyncFunctionDef


class OutlineFrame:
    """A lexical frame, as the Scanner makes them (see `Frame`)."""

    __slots__ = ("kind", "node", "parent", "unit", "has_raise")

    def __init__(self, kind: FrameKind, node: ast.AST, parent: OutlineFrame | None, unit: Function | None) -> None:
        self.kind = kind
        self.node = node
        self.parent = parent
        # The outermost function whose body holds this frame (see `Outline.units`).
        self.unit = unit
        self.has_raise = False

    def ancestors(self) -> Iterator[OutlineFrame]:
        """This frame and its parents up to (and including) the nearest boundary."""
        frame: OutlineFrame | None = self
        while frame is not None:
            yield frame
            if frame.kind in BOUNDARY_KINDS:
                return
            frame = frame.parent

    def scope(self) -> OutlineFrame:
        frame = self
        while frame.kind not in BOUNDARY_KINDS and frame.parent is not None:
            frame = frame.parent
        return frame

    def within(self, kind: FrameKind) -> list[OutlineFrame]:
        """The frames of `kind` among the ancestors."""
        return [frame for frame in self.ancestors() if frame.kind is kind]


@dataclass(eq=False)
class FunctionOutline:
    node: Function
    frame: OutlineFrame  # the FUNCTION frame of its body
    parent: OutlineFrame  # where the def statement stands


@dataclass(eq=False)
class TryOutline:
    node: ast.Try
    frame: OutlineFrame
    body_frame: OutlineFrame
    handler_frames: list[OutlineFrame] = field(default_factory=list)


class Outline:
    """The facts of one module that the rules' gates need, from one walk of its `ast` tree."""

    def __init__(
        self, tree: ast.Module, source: str, path: str, module_name: str | None, is_package: bool, settings: Settings
    ) -> None:
        self.tree = tree
        self.source = source
        self.path = path
        self.module_name = module_name
        self.is_package = is_package
        self.settings = settings
        self.calls: list[tuple[ast.Call, OutlineFrame]] = []
        self.tries: list[TryOutline] = []
        self.functions: list[FunctionOutline] = []
        self.classes: list[tuple[ast.ClassDef, OutlineFrame]] = []
        # Every binding an import makes anywhere in the module: local name -> qualified names.
        self.imports: dict[str, set[str]] = {}
        # Module-level functions (also in module-level `if` blocks), the last of each name.
        self.module_defs: dict[str, FunctionOutline] = {}
        # Imports in the bodies of the outermost functions: the pruner keeps them.
        self.unit_imports: list[tuple[Function, ast.Import | ast.ImportFrom]] = []
        # Names assigned a possible dispatch method, to be called later (`enqueue = q.enqueue`).
        self.method_aliases: set[str] = set()
        self.root = OutlineFrame(FrameKind.MODULE, tree, None, None)
        self._walk()

    @property
    def units(self) -> list[Function]:
        """The outermost functions: the pruner keeps or drops their bodies whole."""
        return [info.node for info in self.functions if info.parent.unit is None]

    # the walk ---------------------------------------------------------------------------
    def _walk(self) -> None:
        stack: Stack = [(statement, self.root) for statement in reversed(self.tree.body)]
        while stack:
            node, frame = stack.pop()
            handler = _HANDLERS.get(type(node))
            if handler is None:
                _push_children(node, frame, stack)
            else:
                handler(self, node, frame, stack)

    def _frame(self, kind: FrameKind, node: ast.AST, parent: OutlineFrame) -> OutlineFrame:
        return OutlineFrame(kind, node, parent, parent.unit)

    def _function(self, node: Function, frame: OutlineFrame, stack: Stack) -> None:
        info = FunctionOutline(node, OutlineFrame(FrameKind.FUNCTION, node, frame, frame.unit or node), frame)
        self.functions.append(info)
        if frame.kind is FrameKind.MODULE:
            self.module_defs[node.name] = info
        body = info.frame
        _push_all(node.body, body, stack)
        _push_all([*node.decorator_list, node.args, *([node.returns] if node.returns else [])], frame, stack)

    def _lambda(self, node: ast.Lambda, frame: OutlineFrame, stack: Stack) -> None:
        stack.append((node.body, self._frame(FrameKind.LAMBDA, node, frame)))
        stack.append((node.args, frame))

    def _class(self, node: ast.ClassDef, frame: OutlineFrame, stack: Stack) -> None:
        body = self._frame(FrameKind.CLASS, node, frame)
        self.classes.append((node, body))
        _push_all(node.body, body, stack)
        _push_all([*node.decorator_list, *node.bases, *node.keywords], frame, stack)

    def _with(self, node: ast.With | ast.AsyncWith, frame: OutlineFrame, stack: Stack) -> None:
        _push_all(node.body, self._frame(FrameKind.WITH, node, frame), stack)
        _push_all(node.items, frame, stack)

    def _loop(self, node: ast.For | ast.AsyncFor | ast.While, frame: OutlineFrame, stack: Stack) -> None:
        _push_all(node.orelse, frame, stack)
        _push_all(node.body, self._frame(FrameKind.LOOP, node, frame), stack)
        _push_all([node.test] if isinstance(node, ast.While) else [node.target, node.iter], frame, stack)

    def _try(self, node: ast.Try, frame: OutlineFrame, stack: Stack) -> None:
        site = TryOutline(node, frame, self._frame(FrameKind.TRY_BODY, node, frame))
        self.tries.append(site)
        _push_all([*node.orelse, *node.finalbody], frame, stack)
        for handler in reversed(node.handlers):
            handler_frame = self._frame(FrameKind.HANDLER, handler, frame)
            site.handler_frames.insert(0, handler_frame)
            _push_all(handler.body, handler_frame, stack)
            if handler.type is not None:
                stack.append((handler.type, frame))
        _push_all(node.body, site.body_frame, stack)

    def _raise(self, node: ast.Raise, frame: OutlineFrame, stack: Stack) -> None:
        for current in frame.within(FrameKind.HANDLER):
            current.has_raise = True
        _push_children(node, frame, stack)

    def _call(self, node: ast.Call, frame: OutlineFrame, stack: Stack) -> None:
        self.calls.append((node, frame))
        _push_children(node, frame, stack)

    def _assign(self, node: ast.Assign | ast.AnnAssign, frame: OutlineFrame, stack: Stack) -> None:
        if node.value is not None and _may_be_dispatch_method(node.value):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            self.method_aliases.update(target.id for target in targets if isinstance(target, ast.Name))
        _push_children(node, frame, stack)

    def _import(self, node: ast.Import | ast.ImportFrom, frame: OutlineFrame, stack: Stack) -> None:
        if frame.unit is not None:
            self.unit_imports.append((frame.unit, node))
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".", 1)[0]
                self.imports.setdefault(local, set()).add(alias.name if alias.asname else local)
            return
        source = node.module or ""
        if node.level:
            source = resolve_relative(self.module_name, self.is_package, node.level, source)
        for alias in node.names:
            if alias.name != "*":
                self.imports.setdefault(alias.asname or alias.name, set()).add(f"{source}.{alias.name}")

    # names ------------------------------------------------------------------------------
    def qualified_names(self, node: ast.AST) -> set[str]:
        """Every value `ModuleModel.qualify` may give the expression; empty where it gives None."""
        dotted = dotted_name(node)
        if dotted is None:
            return set()
        root, _, rest = dotted.partition(".")
        bound = self.imports.get(root)
        if bound:
            return {f"{name}.{rest}" if rest else name for name in bound}
        if root in self.module_defs and self.module_name:
            return {f"{self.module_name}.{dotted}"}
        return {dotted}

    def last_names(self, node: ast.AST) -> set[str]:
        return {name.rsplit(".", 1)[-1] for name in self.qualified_names(node)}

    def local_function(self, name: str) -> FunctionOutline | None:
        """A module-level function not shadowed by an import (`Dispatches._local_function`)."""
        return None if name in self.imports else self.module_defs.get(name)

    def segment(self, node: ast.expr) -> str:
        """The source text of an expression (`ast.get_source_segment`, without splitting the source again)."""
        start, end = node.lineno, node.end_lineno or node.lineno
        first, last = self.lines[start - 1], self.lines[end - 1]
        begin, finish = char_column(first, node.col_offset), char_column(last, node.end_col_offset or 0)
        if start == end:
            return first[begin:finish]
        return first[begin:] + "".join(self.lines[start : end - 1]) + last[:finish]

    # transactions (mirrors txlint.django.transactions) -----------------------------------
    @cached_property
    def _atomic_names(self) -> frozenset[str]:
        return frozenset(
            {"atomic", "method_decorator", *last_names(self.settings.atomic_contexts | self.settings.atomic_wrappers)}
        )

    def may_be_atomic(self, expr: ast.expr, wrappers: Container[str] | None = None) -> bool:
        """`Transactions.is_atomic`: atomic, a configured context, method_decorator, a wrapper."""
        target = expr.func if isinstance(expr, ast.Call) else expr
        if self.last_names(target) & self._atomic_names:
            return True
        return isinstance(target, ast.Name) and target.id in (self._wrappers if wrappers is None else wrappers)

    @cached_property
    def _wrappers(self) -> dict[str, FunctionOutline]:
        """Module-level functions that may be atomic wrappers (`Transactions.is_wrapper`): a
        `@contextmanager` that yields inside an atomic `with`, or a function that returns an
        atomic call; where atomic may also be such a wrapper."""
        defs = [info for name, info in self.module_defs.items() if name not in self.imports]
        found: dict[str, FunctionOutline] = {}
        while True:
            words = {*self._atomic_names, *found}
            more = {
                info.node.name: info
                for info in defs
                if info.node.name not in found
                and _names_any(self.text_of(info.node), words)
                and self._may_wrap(info, found)
            }
            if not more:
                return found
            found.update(more)

    def possible_wrappers(self) -> list[ast.AST]:
        """The functions that may be atomic wrappers (see `_wrappers`)."""
        return [info.node for info in self._wrappers.values()]

    def _may_wrap(self, info: FunctionOutline, wrappers: Container[str]) -> bool:
        """`_yields_inside_atomic` or `_returns_atomic`, with `wrappers` known so far."""
        nodes = list(_own_nodes(info.node))
        if self.decorated(info, CONTEXT_MANAGERS) and any(isinstance(node, ast.Yield) for node in nodes):
            withs = [node for node in nodes if isinstance(node, (ast.With, ast.AsyncWith))]
            if any(self.may_be_atomic(item.context_expr, wrappers) for node in withs for item in node.items):
                return True
        returned = [node.value for node in nodes if isinstance(node, ast.Return) and node.value is not None]
        values = [part for value in returned for part in _branches(value)]
        return any(isinstance(value, ast.Call) and self.may_be_atomic(value, wrappers) for value in values)

    def may_be_in_transaction(self, frame: OutlineFrame) -> bool:
        """`Transactions.opened_at`: an atomic `with` up to the function, or the function's own."""
        for current in frame.ancestors():
            if current.kind is FrameKind.WITH:
                assert isinstance(current.node, (ast.With, ast.AsyncWith))
                if any(self.may_be_atomic(item.context_expr) for item in current.node.items):
                    return True
            elif current.kind is FrameKind.FUNCTION:
                return self._function_may_open(current)
        return False

    def _function_may_open(self, frame: OutlineFrame) -> bool:
        """`Transactions._function_transaction`: decorators, the class's `method_decorator`,
        RunPython in a migration, a request handler under ATOMIC_REQUESTS."""
        node, parent = frame.node, frame.parent
        assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and parent is not None
        if any(self.may_be_atomic(decorator) for decorator in node.decorator_list):
            return True
        if isinstance(parent.node, ast.ClassDef) and any(
            isinstance(d, ast.Call) and "method_decorator" in self.last_names(d.func) for d in parent.node.decorator_list
        ):
            return True
        if parent.kind is FrameKind.MODULE and node.name in self._run_python_targets:
            return True
        if self.settings.atomic_requests and isinstance(node, ast.FunctionDef):
            params = [arg.arg for arg in node.args.args][1 if isinstance(parent.node, ast.ClassDef) else 0 :]
            return params[:1] == ["request"]
        return False

    @cached_property
    def _run_python_calls(self) -> list[tuple[ast.Call, OutlineFrame]]:
        if not is_migration_path(self.path):
            return []
        return [(call, frame) for call, frame in self.calls if "RunPython" in self.last_names(call.func)]

    @cached_property
    def _run_python_targets(self) -> frozenset[str]:
        return frozenset(
            arg.id
            for call, _ in self._run_python_calls
            for arg in [*call.args, *(keyword.value for keyword in call.keywords)]
            if isinstance(arg, ast.Name)
        )

    def transaction_sources(self) -> list[ast.AST]:
        """What `Transactions` reads outside the code it is asked about: the bodies of
        module-level functions that may be atomic wrappers, and RunPython calls."""
        return [*(info.node for info in self._wrappers.values()), *(call for call, _ in self._run_python_calls)]

    # dispatches (mirrors txlint.django.dispatch) -----------------------------------------
    @cached_property
    def _dispatch_functions(self) -> frozenset[str]:
        return frozenset({*DISPATCH_FUNCTIONS, *last_names(self.settings.dispatchers)})

    def may_dispatch(self, call: ast.Call) -> bool:
        """`Dispatches.of(...) is not None`, from the call's shape and names alone."""
        func = call.func
        if self.last_names(func) & self._dispatch_functions:
            return True
        if isinstance(func, ast.Name):
            info = self.local_function(func.id)
            return func.id in self.method_aliases or (info is not None and bool(self._task_decorators(info)))
        if not isinstance(func, ast.Attribute):
            return False
        method, receiver = func.attr, func.value
        if method == "send_task":
            return True
        if method in CELERY_METHODS and (self._may_be_signature(receiver) or self._may_be_task(receiver, True)):
            return True
        if method in RQ_METHODS and _may_be_queue(receiver):
            return True
        if method in DJANGO_TASK_METHODS or method == "schedule":
            return self._may_be_task(receiver, True)
        return method in DRAMATIQ_METHODS and self._may_be_task(receiver, False)

    def _may_be_task(self, receiver: ast.AST, by_name: bool) -> bool:
        """`Dispatches.is_task`: a local task that does not defer itself, or something
        imported from a tasks module or named like a task (never a signal or a deferring task)."""
        if isinstance(receiver, ast.Name):
            info = self.local_function(receiver.id)
            if info is not None:
                return bool(self._task_decorators(info)) and not self._transaction_aware(info)
        head = receiver
        while isinstance(head, ast.Attribute):
            head = head.value
        if not (isinstance(head, ast.Name) and head.id in self.imports):
            return False
        for qualified in self.qualified_names(receiver):
            segments = [segment for segment in qualified.split(".") if segment]
            if "signals" in segments or matches_any(qualified, self.settings.deferring_tasks):
                continue
            if (by_name and TASK_NAME.search(segments[-1])) or any(TASK_MODULE.search(s) for s in segments[:-1]):
                return True
        return False

    def _may_be_signature(self, receiver: ast.AST) -> bool:
        """`Dispatches._is_signature`: `task.s(...)`, `chain(...)`, `a.s() | b.s()`."""
        if isinstance(receiver, ast.BinOp) and isinstance(receiver.op, ast.BitOr):
            return self._may_be_signature(receiver.left) or self._may_be_signature(receiver.right)
        if not isinstance(receiver, ast.Call):
            return False
        func = receiver.func
        if isinstance(func, ast.Attribute) and func.attr in SIGNATURE_METHODS:
            info = self.local_function(func.value.id) if isinstance(func.value, ast.Name) else None
            return info is None or not self._transaction_aware(info)
        return bool(self.last_names(func) & CANVAS_NAMES)

    def _task_decorators(self, info: FunctionOutline) -> list[ast.expr]:
        return [
            decorator
            for decorator in info.node.decorator_list
            if self.last_names(decorator.func if isinstance(decorator, ast.Call) else decorator) & TASK_DECORATORS
        ]

    def _transaction_aware(self, info: FunctionOutline) -> bool:
        """`Dispatches._transaction_aware`, only where certain, since it makes a dispatch
        safe: a task decorator under every binding, with `base=TransactionAwareTask`."""
        for decorator in self._task_decorators(info):
            if not isinstance(decorator, ast.Call):
                continue
            base = _keyword(decorator, "base")
            if (
                base is not None
                and TRANSACTION_AWARE_BASE.search(self.segment(base))
                and all(name.rsplit(".", 1)[-1] in TASK_DECORATORS for name in self.qualified_names(decorator.func))
            ):
                return True
        return False

    def is_on_commit(self, call: ast.Call) -> bool:
        """`Dispatches.is_on_commit`: a method named `on_commit`, or a name bound to it."""
        func = call.func
        if isinstance(func, ast.Attribute):
            return func.attr == "on_commit"
        return "on_commit" in self.last_names(func)

    # exceptions ---------------------------------------------------------------------------
    def is_broad(self, handler: ast.ExceptHandler) -> bool:
        """`exceptions.is_broad`: bare, or a caught type resolving to (Base)Exception."""
        if handler.type is None:
            return True
        return any(self.last_names(element) & BROAD_NAMES for element in _caught(handler.type))

    def may_catch_database_errors(self, handler: ast.ExceptHandler) -> bool:
        """`orm.catches_database_errors`; an expression that is not a dotted name may be anything."""
        if handler.type is None:
            return True
        return any(
            dotted_name(element) is None or self.last_names(element) & DATABASE_ERROR_NAMES
            for element in _caught(handler.type)
        )

    # functions ------------------------------------------------------------------------------
    @cached_property
    def calls_by_scope(self) -> dict[int, list[ast.Call]]:
        """The calls whose code belongs to each function, lambda, class or the module, by frame id."""
        found: dict[int, list[ast.Call]] = {}
        for call, frame in self.calls:
            found.setdefault(id(frame.scope()), []).append(call)
        return found

    def calling(self, names: Iterable[str], functions: Iterable[FunctionOutline]) -> list[FunctionOutline]:
        """The functions among `functions` with a call of their own to one of `names` (by last name)."""
        wanted = set(names)
        return [
            info
            for info in functions
            if any(self.last_names(call.func) & wanted for call in self.calls_by_scope.get(id(info.frame), ()))
        ]

    def mentioning(self, names: Iterable[str]) -> list[FunctionOutline]:
        """The functions whose text holds one of `names` as a word."""
        words = sorted(set(names))
        if not words:
            return []
        pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b")
        return [info for info in self.functions if pattern.search(self.text_of(info.node))]

    @cached_property
    def lines(self) -> list[str]:
        return split_lines(self.source)

    def text_of(self, node: ast.stmt) -> str:
        """The lines of a statement."""
        return "".join(self.lines[node.lineno - 1 : node.end_lineno or node.lineno])

    def connections(self) -> list[ast.Call]:
        """`signal.connect(receiver)` calls: what `signal_receivers` and `_in_receiver` read."""
        return [call for call, _ in self.calls if isinstance(call.func, ast.Attribute) and call.func.attr == "connect"]

    def has_receivers(self) -> bool:
        """`@receiver(signal)` on a function, or a `.connect(...)` call."""
        return bool(self.connections()) or any(
            isinstance(d, ast.Call) and "receiver" in self.last_names(d.func)
            for info in self.functions
            for d in info.node.decorator_list
        )

    # caches (mirrors txlint.django.caches) ------------------------------------------------
    @cached_property
    def _function_by_frame(self) -> dict[int, FunctionOutline]:
        return {id(info.frame): info for info in self.functions}

    def enclosing_methods(self, frame: OutlineFrame) -> list[FunctionOutline]:
        """The methods (functions defined in a class body) around `frame`, innermost first."""
        found: list[FunctionOutline] = []
        current: OutlineFrame | None = frame
        while current is not None:
            if current.kind is FrameKind.FUNCTION:
                info = self._function_by_frame[id(current)]
                if isinstance(info.parent.node, ast.ClassDef):
                    found.append(info)
            current = current.parent
        return found

    def decorated(self, info: FunctionOutline, names: frozenset[str]) -> bool:
        return any(
            self.last_names(d.func if isinstance(d, ast.Call) else d) & names for d in info.node.decorator_list
        )

    def instance_cache_sites(self, with_writer: bool) -> list[ast.AST]:
        """Classes with a method that may cache an aggregate on the instance (`instance_caches`)
        and, `with_writer`, a method that may write to a relation of the instance; with every
        function that names an `lru_cache` method among them (it may clear it)."""
        counting: set[int] = set()
        writing: set[int] = set()
        for call, frame in self.calls:
            func = call.func
            if _is_aggregate(call):
                methods = self.enclosing_methods(frame)
                if methods:
                    counting.add(id(methods[0]))
            elif with_writer and isinstance(func, ast.Attribute) and func.attr in RELATION_WRITES:
                writing.update(
                    id(method.parent) for method in self.enclosing_methods(frame) if _may_write_relation(call, method)
                )
        caches = [
            info
            for info in self.functions
            if id(info) in counting
            and info.node.args.args
            and (not with_writer or id(info.parent) in writing)
            and (self.decorated(info, CACHE_DECORATORS) or _may_cache_on_attribute(info.node))
        ]
        if not caches:
            return []
        lru = [info.node.name for info in caches if self.decorated(info, LRU_DECORATORS)]
        # A function filling a cache from outside its class (a prefetch through `__dict__`,
        # `setattr`, `obj._count = ...`) takes the fresh-value fix away (`why_no_fresh_value_fix`).
        fillers = [info.node for info in self.functions if _may_fill_from_outside(info.node)]
        return [*(info.parent.node for info in caches), *(info.node for info in self.mentioning(lru)), *fillers]

    def process_cache_sites(self) -> list[ast.AST]:
        """`lru_cache` functions that call something, the empty containers of the module and
        its classes and the functions that name them (they may fill, read or clear them);
        with what clears them and the receivers that keep them fresh (`ModuleCaches`)."""
        if is_short_lived_module(self.path):
            return []
        lru = [
            info
            for info in self.functions
            if self.decorated(info, LRU_DECORATORS) and self.calls_by_scope.get(id(info.frame))
        ]
        containers = self._empty_containers(self.tree.body)
        users = self.mentioning({*containers, *(info.node.name for info in lru)})
        if not lru and not users:
            return []
        # An `lru_cache` method may be TXL302's, with its class: only in a class TXL302 may report.
        methods = any(isinstance(info.parent.node, ast.ClassDef) for info in lru)
        claims = self.instance_cache_sites(with_writer=True) if methods else []
        return [*(info.node for info in lru), *containers.values(), *(info.node for info in users), *self.connections(), *claims]

    def _empty_containers(self, body: list[ast.stmt]) -> dict[str, ast.stmt]:
        """`_find_containers`: module- and class-level assignments of an empty container."""
        found: dict[str, ast.stmt] = {}
        for statement in body:
            if isinstance(statement, ast.ClassDef):
                found.update(self._empty_containers(statement.body))
            elif isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
                if self._is_empty_container(statement.value):
                    targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                    found.update((target.id, statement) for target in targets if isinstance(target, ast.Name))
        return found

    def _is_empty_container(self, value: ast.expr) -> bool:
        if isinstance(value, ast.Dict):
            return not value.keys
        if isinstance(value, ast.List):
            return not value.elts
        return isinstance(value, ast.Call) and bool(self.last_names(value.func) & EMPTY_CONTAINER_NAMES)


def _is_aggregate(call: ast.Call) -> bool:
    """The shapes `aggregate_call` accepts: `x.count()`, `x.exists()`, `x.aggregate(...)`, `len(x)`."""
    func, arguments = call.func, len(call.args) + len(call.keywords)
    if isinstance(func, ast.Name):
        return func.id == "len" and arguments == 1
    if not isinstance(func, ast.Attribute):
        return False
    return (func.attr in ("count", "exists") and not arguments) or (func.attr == "aggregate" and arguments > 0)


def _may_write_relation(call: ast.Call, method: FunctionOutline) -> bool:
    """`_relation_writers`: a write through a relation of the method's instance
    (`self.tasks.add(...)`) or a manager filtered on it (`Task.objects.create(upload=self)`)."""
    assert isinstance(call.func, ast.Attribute)
    if not method.node.args.args or (call.func.attr == "delete" and (call.args or call.keywords)):
        return False
    self_name = method.node.args.args[0].arg
    steps: list[str] = []
    calls = [call]
    node: ast.expr = call.func.value
    while isinstance(node, (ast.Attribute, ast.Call)):
        if isinstance(node, ast.Call):
            calls.append(node)
            node = node.func
        else:
            steps.append(node.attr)
            node = node.value
    if isinstance(node, ast.Name) and node.id == self_name:
        return True
    return bool(steps) and steps[-1] in MANAGERS and any(
        isinstance(keyword.value, ast.Name) and keyword.value.id == self_name for found in calls for keyword in found.keywords
    )


def _may_fill_from_outside(function: Function) -> bool:
    """Assigns an attribute of something other than its first parameter, writes into a
    `__dict__`, or calls `setattr`: a superset of `caches._filled_outside_class`."""
    first = function.args.args[0].arg if function.args.args else None
    for node in ast.walk(function):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if not (isinstance(node.value, ast.Name) and node.value.id == first):
                return True
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Attribute) and node.value.attr == "__dict__":
                return True
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr":
            return True
    return False


def _may_cache_on_attribute(method: Function) -> bool:
    """`_caches_in_method` without a decorator: the method tests an attribute of its instance
    (`_checked_attributes`) and assigns that attribute."""
    self_name = method.args.args[0].arg
    checked: set[str] = set()
    assigned: set[str] = set()
    for node in _own_nodes(method):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("hasattr", "getattr"):
            arguments = node.args
            if len(arguments) >= 2 and isinstance(arguments[0], ast.Name) and arguments[0].id == self_name:
                if isinstance(arguments[1], ast.Constant) and isinstance(arguments[1].value, str):
                    checked.add(arguments[1].value)
        elif isinstance(node, ast.Compare) and len(node.ops) == 1:
            operator, right = node.ops[0], node.comparators[0]
            if isinstance(operator, (ast.Is, ast.IsNot)) and isinstance(right, ast.Constant) and right.value is None:
                checked.update(_self_attributes(node.left, self_name))
            elif isinstance(operator, (ast.In, ast.NotIn)) and isinstance(node.left, ast.Constant):
                if isinstance(node.left.value, str) and isinstance(right, ast.Attribute) and right.attr == "__dict__":
                    checked.add(node.left.value)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                assigned.update(_self_attributes(target, self_name))
    return bool(checked & assigned)


def _self_attributes(node: ast.expr, self_name: str) -> list[str]:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == self_name:
        return [node.attr]
    return []


def _own_nodes(function: Function) -> Iterator[ast.AST]:
    """The nodes of a function's body, not those of the functions, classes and lambdas in it."""
    stack: list[ast.AST] = list(reversed(function.body))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))


def _names_any(text: str, words: Iterable[str]) -> bool:
    return any(word in text for word in words)


def dotted_name(node: ast.AST) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def names_in(nodes: Iterable[ast.AST]) -> set[str]:
    return {found.id for node in nodes for found in ast.walk(node) if isinstance(found, ast.Name)}


def ast_expression_call(statement: ast.stmt) -> ast.Call | None:
    """The call of an expression statement that is one call, awaited or not (`expression_call`)."""
    if not isinstance(statement, ast.Expr):
        return None
    value = statement.value
    if isinstance(value, ast.Await):
        value = value.value
    return value if isinstance(value, ast.Call) else None


def is_ast_placeholder(statement: ast.stmt) -> bool:
    """`pass`, `...` or a lone string or bytes literal (`exceptions.is_ast_placeholder`)."""
    if isinstance(statement, ast.Pass):
        return True
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and (statement.value.value is Ellipsis or isinstance(statement.value.value, (str, bytes)))
    )


def _caught(expr: ast.expr) -> list[ast.expr]:
    return list(expr.elts) if isinstance(expr, ast.Tuple) else [expr]


def _branches(value: ast.expr) -> tuple[ast.expr, ...]:
    """A returned value, or both values of `a if c else b`."""
    return (value.body, value.orelse) if isinstance(value, ast.IfExp) else (value,)


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((keyword.value for keyword in call.keywords if keyword.arg == name), None)


def _may_be_queue(receiver: ast.AST) -> bool:
    """`Dispatches._is_queue`: a call, a name (it may be assigned one), a `*queue*` attribute."""
    if isinstance(receiver, ast.Attribute):
        return "queue" in receiver.attr.lower()
    return isinstance(receiver, (ast.Call, ast.Name))


def _may_be_dispatch_method(value: ast.expr) -> bool:
    """`queue.enqueue` or `partial(queue.enqueue_in, delay)`, assigned to be called later."""
    if isinstance(value, ast.Call) and value.args:
        value = value.args[0]
    return isinstance(value, ast.Attribute) and (value.attr in DISPATCH_METHODS or value.attr in DRAMATIQ_METHODS)


def char_column(line: str, offset: int) -> int:
    """`ast` counts columns in UTF-8 bytes."""
    return offset if line.isascii() else len(line.encode("utf-8")[:offset].decode("utf-8", "replace"))


_LINE_END = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")


def split_lines(source: str) -> list[str]:
    """Lines as CPython counts them (`str.splitlines` also splits at form feeds and more)."""
    lines = _LINE_END.split(source)
    return lines[:-1] if lines and lines[-1] == "" else lines


# walking ----------------------------------------------------------------------------------
# Nodes that hold no code: operators, contexts, constants, import aliases.
def _concrete(*kinds: type[ast.AST]) -> frozenset[type[ast.AST]]:
    found: set[type[ast.AST]] = set()
    for kind in kinds:
        found.add(kind)
        found |= _concrete(*kind.__subclasses__())
    return frozenset(found)


# Nodes the walk has nothing to do with, nor with their children: names and constants
# (a third of all nodes), contexts, operators and import aliases. Matched by exact type.
_LEAVES = _concrete(
    ast.expr_context, ast.operator, ast.boolop, ast.cmpop, ast.unaryop, ast.alias, ast.Constant, ast.Name
)
_FIELDS: dict[type[ast.AST], tuple[str, ...]] = {}


def _push_children(node: ast.AST, frame: OutlineFrame, stack: Stack) -> None:
    fields = _FIELDS.get(type(node))
    if fields is None:
        fields = _FIELDS[type(node)] = tuple(reversed(node._fields))
    for name in fields:
        value = getattr(node, name, None)
        if isinstance(value, list):
            for item in reversed(value):
                if type(item) not in _LEAVES and isinstance(item, ast.AST):
                    stack.append((item, frame))
        elif type(value) not in _LEAVES and isinstance(value, ast.AST):
            stack.append((value, frame))


def _push_all(nodes: Iterable[ast.AST], frame: OutlineFrame, stack: Stack) -> None:
    stack.extend((node, frame) for node in reversed(list(nodes)))


_HANDLERS: dict[type[ast.AST], Callable[[Outline, Any, OutlineFrame, Stack], None]] = {
    ast.FunctionDef: Outline._function,
    ast.AsyncFunctionDef: Outline._function,
    ast.Lambda: Outline._lambda,
    ast.ClassDef: Outline._class,
    ast.With: Outline._with,
    ast.AsyncWith: Outline._with,
    ast.For: Outline._loop,
    ast.AsyncFor: Outline._loop,
    ast.While: Outline._loop,
    ast.Try: Outline._try,
    ast.Raise: Outline._raise,
    ast.Call: Outline._call,
    ast.Assign: Outline._assign,
    ast.AnnAssign: Outline._assign,
    ast.Import: Outline._import,
    ast.ImportFrom: Outline._import,
}
