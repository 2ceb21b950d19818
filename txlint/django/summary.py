"""What one module tells the project index: per function, what it dispatches and calls.

A summary is plain data (JSON-able), computed from a scanned module, so that the
adapters can cache it per file and combine the summaries of a whole project.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from txlint.django import DjangoModule
from txlint.django.model import FrameKind, FunctionInfo, ModuleModel
from txlint.lazy import cst


# `create_file_upload -> process_pdf_if_needed -> Queue.enqueue`
Chain = tuple[str, ...]
# A summary as the cache stores it: (dispatches, calls, defers).
PlainSummary = tuple[list[str], list[str], bool]


@dataclass
class FunctionSummary:
    # How a direct dispatch in the body reads: ["Queue.enqueue"], [] when none.
    dispatches: list[str] = field(default_factory=list)
    # Qualified names of what the body calls (`core.redis.start_job`, `app.Model.save`).
    calls: list[str] = field(default_factory=list)
    # Calls on_commit: a transaction-aware wrapper (`if connection.in_atomic_block:
    # transaction.on_commit(...)`), or one that dispatches directly only on a side path
    # (pretix's `mail()` does so in tests alone). It and its callers are not reported.
    defers: bool = False

    def to_plain(self) -> PlainSummary:
        return list(self.dispatches), list(self.calls), self.defers

    @classmethod
    def from_plain(cls, plain: PlainSummary) -> FunctionSummary:
        dispatches, calls, defers = plain
        return cls(list(dispatches), list(calls), defers)


def _prefix(model: ModuleModel) -> str:
    # A module of unknown name (stdin, a single file) names its own functions bare,
    # as `ModuleModel.qualify` resolves them.
    return f"{model.module_name}." if model.module_name else ""


def qualified_function_name(model: ModuleModel, info: FunctionInfo) -> str | None:
    """`module.func`, `module.Class.method`, or `module.func.<locals>.inner` (Python's `__qualname__`)."""
    if info.parent.kind is FrameKind.MODULE:
        return f"{_prefix(model)}{info.name}"
    if info.parent.kind is FrameKind.CLASS and info.parent.parent is model.root:
        assert isinstance(info.parent.node, cst.ClassDef)
        return f"{_prefix(model)}{info.parent.node.name.value}.{info.name}"
    enclosing = model.function_for(info.parent.scope())
    outer = qualified_function_name(model, enclosing) if enclosing is not None else None
    return f"{outer}.{LOCALS}.{info.name}" if outer else None


LOCALS = "<locals>"


def _local_functions(model: ModuleModel) -> dict[tuple[int, str], FunctionInfo]:
    """Functions defined in a function body, by (that body's frame, name)."""
    key = ("local_functions", 0)
    if key not in model.memo:
        model.memo[key] = {
            (id(info.parent.scope()), info.name): info
            for info in model.functions
            if info.parent.scope().kind is FrameKind.FUNCTION
        }
    found = model.memo[key]
    assert isinstance(found, dict)
    return found


def _local_callee(model: ModuleModel, func: cst.BaseExpression, function: FunctionInfo | None) -> str | None:
    """`inner()` where `inner` is defined in the calling function or one around it."""
    if function is None or not isinstance(func, cst.Name):
        return None
    local = _local_functions(model)
    for frame in function.frame.enclosing_functions():
        found = local.get((id(frame), func.value))
        if found is not None:
            return qualified_function_name(model, found)
    return None


def callee_name(model: ModuleModel, call: cst.Call, function: FunctionInfo | None) -> str | None:
    """The qualified name a call targets, `self.method()` resolved to the enclosing class."""
    func = call.func
    if (
        function is not None
        and isinstance(func, cst.Attribute)
        and isinstance(func.value, cst.Name)
        and func.value.value == "self"
        and function.class_node is not None
    ):
        return f"{_prefix(model)}{function.class_node.name.value}.{func.attr.value}"
    local = _local_callee(model, func, function)
    if local is not None:
        return local
    qualified = model.qualify(func)
    return qualified.lstrip(".") if qualified else None


def short_name(qualified: str) -> str:
    """`module.Class.method` reads as `Class.method`; `module.func` as `func`."""
    parts = qualified.split(".")
    if len(parts) >= 2 and (parts[-2][:1].isupper() or parts[-1] in SIGNAL_SENDS):
        return ".".join(parts[-2:])
    return parts[-1]


def mention_name(qualified: str) -> str:
    """The word a caller's source must contain: `order_paid` for `...order_paid.send`."""
    parts = qualified.split(".")
    return parts[-2] if parts[-1] in SIGNAL_SENDS and len(parts) > 1 else parts[-1]


def summarise(django: DjangoModule) -> dict[str, FunctionSummary]:
    model = django.model
    summaries: dict[int, FunctionSummary] = {}
    names: dict[int, str] = {}
    for info in model.functions:
        name = qualified_function_name(model, info)
        if name is not None:
            names[id(info.frame)] = name
            summaries[id(info.frame)] = FunctionSummary()
    for site in model.calls:
        scope = site.frame.scope()
        summary = summaries.get(id(scope))
        if summary is None:
            continue
        function = model.function_for(scope)
        if django.dispatches.is_on_commit(site.node):
            summary.defers = True
            continue
        dispatch = django.dispatches.of(site)
        if dispatch is not None:
            summary.dispatches.append(dispatch.description)
            continue
        target = callee_name(model, site.node, function)
        if target is not None:
            summary.calls.append(target)
    result = {names[key]: summary for key, summary in summaries.items()}
    for signal, receiver in signal_receivers(model):
        for method in SIGNAL_SENDS:
            result.setdefault(f"{signal}.{method}", FunctionSummary()).calls.append(receiver)
    return result


# Sending a custom signal calls every receiver connected to it.
SIGNAL_SENDS = ("send", "send_robust")


def signal_receivers(model: ModuleModel) -> list[tuple[str, str]]:
    """(signal, receiver) pairs: `@receiver(signal)` / `@receiver([a, b])` and `signal.connect(f)`.

    Signals keep their qualified name (`shop.signals.order_paid`); receivers are this
    module's functions.
    """
    pairs: list[tuple[str, str]] = []
    for info in model.functions:
        name = qualified_function_name(model, info)
        for decorator in info.node.decorators:
            call = decorator.decorator
            if name is None or not isinstance(call, cst.Call) or not call.args:
                continue
            if (model.qualify(call.func) or "").rsplit(".", 1)[-1] != "receiver":
                continue
            first = call.args[0].value
            signals = [e.value for e in first.elements] if isinstance(first, (cst.List, cst.Tuple)) else [first]
            pairs.extend((signal, name) for signal in map(model.qualify, signals) if signal)
    for site in model.calls:
        func, args = site.node.func, site.node.args
        if not (isinstance(func, cst.Attribute) and func.attr.value == "connect" and args):
            continue
        handler = args[0].value
        connected = model.module_level_defs.get(handler.value) if isinstance(handler, cst.Name) else None
        signal = model.qualify(func.value)
        receiver = qualified_function_name(model, connected) if connected else None
        if signal and receiver:
            pairs.append((signal, receiver))
    return [(signal.lstrip("."), receiver) for signal, receiver in pairs]
