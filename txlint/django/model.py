"""One traversal of a module that records what the rules ask about.

The scanner walks the tree once and keeps: the imports, every function and class, every
call with the lexical frame it runs in, every `try`, and the names each loop rebinds.
Rules then answer their questions from this model after the walk, when every import and
every local definition is known, without walking the tree again.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import libcst as cst

from txlint.django.imports import ImportTable, dotted_name
from txlint.settings import Settings


class FrameKind(enum.Enum):
    MODULE = "module"
    CLASS = "class"
    FUNCTION = "function"
    LAMBDA = "lambda"
    WITH = "with"
    LOOP = "loop"
    TRY_BODY = "try"
    HANDLER = "except"


# Code in these frames is only defined where it stands, not run there.
BOUNDARY_KINDS = frozenset({FrameKind.MODULE, FrameKind.CLASS, FrameKind.FUNCTION, FrameKind.LAMBDA})


@dataclass(eq=False)
class Frame:
    """A lexical region: a function body, a `with` body, a loop body, a handler..."""

    kind: FrameKind
    node: cst.CSTNode
    parent: Frame | None
    # LOOP: names rebound on every iteration. FUNCTION, LAMBDA, MODULE: names bound there
    # (imports excepted: they live in the ImportTable).
    bound_names: set[str] = field(default_factory=set)
    # FUNCTION: `name = <call>` assignments, for local data flow (`q = get_queue()`).
    assignments: dict[str, cst.BaseExpression] = field(default_factory=dict)
    # HANDLER: a `raise` of any kind somewhere in the handler.
    has_raise: bool = False

    def ancestors(self) -> list[Frame]:
        """This frame and its parents up to (and including) the nearest boundary."""
        chain: list[Frame] = []
        frame: Frame | None = self
        while frame is not None:
            chain.append(frame)
            if frame.kind in BOUNDARY_KINDS:
                break
            frame = frame.parent
        return chain

    def scope(self) -> Frame:
        """The function, lambda, class or module this frame's code belongs to."""
        return self.ancestors()[-1]

    def enclosing_functions(self) -> list[Frame]:
        frames: list[Frame] = []
        frame: Frame | None = self
        while frame is not None:
            if frame.kind is FrameKind.FUNCTION:
                frames.append(frame)
            frame = frame.parent
        return frames


@dataclass(eq=False)
class FunctionInfo:
    node: cst.FunctionDef
    frame: Frame  # the FUNCTION frame of its body
    parent: Frame  # where the def statement stands

    @property
    def name(self) -> str:
        return self.node.name.value

    @property
    def is_async(self) -> bool:
        return self.node.asynchronous is not None

    @property
    def class_node(self) -> cst.ClassDef | None:
        return self.parent.node if isinstance(self.parent.node, cst.ClassDef) else None


@dataclass(eq=False)
class CallSite:
    node: cst.Call
    frame: Frame
    # The expression statement when the call is one on its own (`task.delay(x)`).
    statement: cst.Expr | None
    awaited: bool = False


@dataclass(eq=False)
class TrySite:
    node: cst.Try
    frame: Frame
    body_frame: Frame
    handler_frames: list[Frame]


@dataclass(eq=False)
class ReturnSite:
    value: cst.BaseExpression
    frame: Frame


class ModuleModel:
    """Everything the rules need to know about one module."""

    def __init__(
        self,
        module: cst.Module,
        path: str,
        module_name: str | None,
        is_package: bool,
        settings: Settings,
    ) -> None:
        self.module = module
        self.path = path
        self.module_name = module_name
        self.settings = settings
        self.imports = ImportTable(module_name, is_package)
        self.root = Frame(FrameKind.MODULE, module, None)
        self.functions: list[FunctionInfo] = []
        self.function_by_frame: dict[int, FunctionInfo] = {}
        self.classes: list[tuple[cst.ClassDef, Frame]] = []
        self.calls: list[CallSite] = []
        self.tries: list[TrySite] = []
        self.yield_frames: list[Frame] = []
        self.returns: list[ReturnSite] = []
        self.module_level_defs: dict[str, FunctionInfo] = {}
        self.memo: dict[tuple[str, int], object] = {}

    def qualify(self, node: cst.BaseExpression) -> str | None:
        """The qualified name an expression refers to, through the module's imports.

        Names defined at module level resolve to `<module>.<name>` when the module's own
        name is known; other unbound names come back as written.
        """
        dotted = dotted_name(node)
        if dotted is None:
            return None
        root, _, rest = dotted.partition(".")
        bound = self.imports.bindings.get(root)
        if bound is None and root in self.module_level_defs and self.module_name:
            bound = f"{self.module_name}.{root}"
        if bound is None:
            return dotted
        return f"{bound}.{rest}" if rest else bound

    def function_for(self, frame: Frame) -> FunctionInfo | None:
        return self.function_by_frame.get(id(frame))

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def short(self, node: cst.CSTNode, limit: int = 60) -> str:
        """The node's code on one line, cut to `limit` characters, for messages."""
        text = " ".join(self.code(node).split())
        return text if len(text) <= limit else text[: limit - 3] + "..."


def callee_text(model: ModuleModel, node: cst.BaseExpression) -> str:
    """A called expression for messages, arguments elided: `chain(...).apply_async`."""
    if isinstance(node, cst.Attribute):
        return f"{callee_text(model, node.value)}.{node.attr.value}"
    if isinstance(node, cst.Call):
        return f"{callee_text(model, node.func)}(...)"
    return model.short(node, limit=40)


def target_names(target: cst.BaseExpression) -> list[str]:
    """Names bound by an assignment target (`a`, `a, (b, c)`, `*rest`)."""
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        names: list[str] = []
        for element in target.elements:
            names.extend(target_names(element.value))
        return names
    if isinstance(target, cst.StarredElement):
        return target_names(target.value)
    return []


class Scanner(cst.CSTVisitor):
    """Builds a ModuleModel in one walk of the tree."""

    def __init__(self, model: ModuleModel) -> None:
        super().__init__()
        self.model = model
        self.frame = model.root
        self._statement_value: cst.BaseExpression | None = None
        self._statement: cst.Expr | None = None
        self._awaited: cst.BaseExpression | None = None
        self._pending_tries: list[TrySite] = []

    # frames -------------------------------------------------------------------------
    def _push(self, kind: FrameKind, node: cst.CSTNode) -> Frame:
        self.frame = Frame(kind, node, self.frame)
        return self.frame

    def _pop(self) -> None:
        assert self.frame.parent is not None
        self.frame = self.frame.parent

    def _bind(self, names: list[str]) -> None:
        """Record names bound at the current point: in enclosing loops and the function."""
        frame: Frame | None = self.frame
        while frame is not None:
            if frame.kind is not FrameKind.CLASS:
                frame.bound_names.update(names)
            if frame.kind in BOUNDARY_KINDS:
                break
            frame = frame.parent

    # imports ------------------------------------------------------------------------
    def visit_Import(self, node: cst.Import) -> None:
        self.model.imports.add_import(node)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self.model.imports.add_import_from(node)

    # definitions --------------------------------------------------------------------
    def visit_ClassDef_body(self, node: cst.ClassDef) -> None:
        self.model.classes.append((node, self.frame))
        self._push(FrameKind.CLASS, node)

    def leave_ClassDef_body(self, node: cst.ClassDef) -> None:
        self._pop()

    def visit_FunctionDef_body(self, node: cst.FunctionDef) -> None:
        parent = self.frame
        self._bind([node.name.value])
        frame = self._push(FrameKind.FUNCTION, node)
        info = FunctionInfo(node, frame, parent)
        self.model.functions.append(info)
        self.model.function_by_frame[id(frame)] = info
        if parent.kind is FrameKind.MODULE:
            self.model.module_level_defs[node.name.value] = info
        frame.bound_names.update(_parameter_names(node.params))

    def leave_FunctionDef_body(self, node: cst.FunctionDef) -> None:
        self._pop()

    def visit_Lambda_body(self, node: cst.Lambda) -> None:
        frame = self._push(FrameKind.LAMBDA, node)
        frame.bound_names.update(_parameter_names(node.params))

    def leave_Lambda_body(self, node: cst.Lambda) -> None:
        self._pop()

    # blocks -------------------------------------------------------------------------
    def visit_With_body(self, node: cst.With) -> None:
        for item in node.items:
            if item.asname is not None:
                self._bind(target_names(item.asname.name))
        self._push(FrameKind.WITH, node)

    def leave_With_body(self, node: cst.With) -> None:
        self._pop()

    def visit_For_body(self, node: cst.For) -> None:
        frame = self._push(FrameKind.LOOP, node)
        names = target_names(node.target)
        frame.bound_names.update(names)
        self._bind(names)

    def leave_For_body(self, node: cst.For) -> None:
        self._pop()

    def visit_While_body(self, node: cst.While) -> None:
        frame = self._push(FrameKind.LOOP, node)
        # `while (item := queue.pop()) is not None:` rebinds `item` on every pass.
        frame.bound_names.update(
            target.value for target in _walrus_targets(node.test) if isinstance(target, cst.Name)
        )

    def leave_While_body(self, node: cst.While) -> None:
        self._pop()

    def visit_Try_body(self, node: cst.Try) -> None:
        parent = self.frame
        body = self._push(FrameKind.TRY_BODY, node)
        self._pending_tries.append(TrySite(node, parent, body, []))

    def leave_Try_body(self, node: cst.Try) -> None:
        self._pop()

    def leave_Try(self, original_node: cst.Try) -> None:
        self.model.tries.append(self._pending_tries.pop())

    def visit_ExceptHandler_body(self, node: cst.ExceptHandler) -> None:
        frame = self._push(FrameKind.HANDLER, node)
        if self._pending_tries and self._pending_tries[-1].node.handlers:
            site = self._pending_tries[-1]
            if any(handler is node for handler in site.node.handlers):
                site.handler_frames.append(frame)
        if node.name is not None:
            self._bind(target_names(node.name.name))

    def leave_ExceptHandler_body(self, node: cst.ExceptHandler) -> None:
        self._pop()

    # statements and expressions -------------------------------------------------------
    def visit_Expr(self, node: cst.Expr) -> None:
        self._statement = node
        self._statement_value = node.value

    def visit_Await(self, node: cst.Await) -> None:
        self._awaited = node.expression

    def visit_Call(self, node: cst.Call) -> None:
        statement = self._statement if node is self._statement_value else None
        self.model.calls.append(CallSite(node, self.frame, statement, node is self._awaited))

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            names = target_names(target.target)
            self._bind(names)
            if len(names) == 1 and isinstance(target.target, cst.Name):
                self._record_assignment(names[0], node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        names = target_names(node.target)
        self._bind(names)
        if node.value is not None and len(names) == 1:
            self._record_assignment(names[0], node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(target_names(node.target))

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(target_names(node.target))

    def _record_assignment(self, name: str, value: cst.BaseExpression) -> None:
        scope = self.frame.scope()
        if scope.kind is FrameKind.FUNCTION:
            scope.assignments[name] = value

    def visit_Raise(self, node: cst.Raise) -> None:
        for frame in self.frame.ancestors():
            if frame.kind is FrameKind.HANDLER:
                frame.has_raise = True

    def visit_Yield(self, node: cst.Yield) -> None:
        self.model.yield_frames.append(self.frame)

    def visit_Return(self, node: cst.Return) -> None:
        if node.value is not None:
            self.model.returns.append(ReturnSite(node.value, self.frame))


def _walrus_targets(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    found: list[cst.BaseExpression] = []

    class Walrus(cst.CSTVisitor):
        def visit_NamedExpr(self, named: cst.NamedExpr) -> None:
            found.append(named.target)

    node.visit(Walrus())
    return found


def _parameter_names(params: cst.Parameters) -> list[str]:
    names = [param.name.value for param in (*params.posonly_params, *params.params, *params.kwonly_params)]
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            names.append(star.name.value)
    return names


def build_model(
    module: cst.Module,
    path: str,
    module_name: str | None,
    is_package: bool,
    settings: Settings,
) -> ModuleModel:
    model = ModuleModel(module, path, module_name, is_package, settings)
    module.visit(Scanner(model))
    return model
