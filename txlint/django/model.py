"""One traversal of a module that records what the rules ask about.

The scanner walks the tree once and keeps: the imports, every function and class, every
call with the lexical frame it runs in, every `try`, and the names each loop rebinds.
Rules then answer their questions from this model after the walk, when every import and
every local definition is known, without walking the tree again.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from txlint.django.imports import ImportTable, dotted_name
from txlint.lazy import cst
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

    def forget(self) -> None:
        """Drop what the rules memoised: it points back at the model, a reference cycle that
        would leave the model and its whole tree to the cyclic collector (in flake8's
        process, its older generations)."""
        self.memo.clear()

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


# Fields that hold only layout (whitespace, brackets, commas): never code to scan.
LAYOUT_FIELDS = frozenset(
    {"lpar", "rpar", "comma", "semicolon", "leading_lines", "lines_after_decorators", "header", "footer",
     "trailing_whitespace", "colon", "equal", "dot", "star", "newline", "indent", "asynchronous", "first_line",
     "empty_lines", "last_line", "lbracket", "rbracket", "lbrace", "rbrace", "relative", "operator",
     "default_indent", "default_newline", "encoding", "has_trailing_newline"}
)  # fmt: skip


@lru_cache(maxsize=None)
def code_fields(node_type: type[cst.CSTNode]) -> tuple[str, ...]:
    return tuple(
        f.name
        for f in dataclasses.fields(node_type)
        if f.name not in LAYOUT_FIELDS and not f.name.startswith("whitespace")
    )


def children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    for name in code_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            yield value
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, cst.CSTNode):
                    yield item


def nodes_in(node: cst.CSTNode, into_definitions: bool = False) -> Iterator[cst.CSTNode]:
    """Every node below `node`; nested `def`, `class` and `lambda` bodies only on request."""
    stack = list(children(node))
    stack.reverse()
    while stack:
        current = stack.pop()
        yield current
        if not into_definitions and isinstance(current, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        stack.extend(reversed(list(children(current))))


class Scanner:
    """Builds a ModuleModel in one walk of the tree.

    A purpose-built walk rather than a libcst visitor: libcst's visit rebuilds every
    node it passes and costs about three parses; this one reads fields and descends
    only into those that can hold code.
    """

    def __init__(self, model: ModuleModel) -> None:
        self.model = model
        self.frame = model.root
        self._statement_value: cst.BaseExpression | None = None
        self._statement: cst.Expr | None = None
        self._awaited: cst.BaseExpression | None = None
        self._handlers = _scanner_handlers()

    # walking ------------------------------------------------------------------------
    def walk(self, node: cst.CSTNode) -> None:
        handler = self._handlers.get(type(node))
        if handler is None:
            self.walk_children(node)
        else:
            handler(self, node)

    def _import(self, node: cst.Import) -> None:
        self.model.imports.add_import(node)

    def _import_from(self, node: cst.ImportFrom) -> None:
        self.model.imports.add_import_from(node)

    def walk_children(self, node: cst.CSTNode) -> None:
        for name in code_fields(type(node)):
            value = getattr(node, name)
            if isinstance(value, cst.CSTNode):
                self.walk(value)
            elif isinstance(value, (list, tuple)):
                for item in value:
                    if isinstance(item, cst.CSTNode):
                        self.walk(item)

    def _walk_all(self, nodes: Sequence[cst.CSTNode | None]) -> None:
        for node in nodes:
            if node is not None:
                self.walk(node)

    # frames -------------------------------------------------------------------------
    def _push(self, kind: FrameKind, node: cst.CSTNode) -> Frame:
        self.frame = Frame(kind, node, self.frame)
        return self.frame

    def _pop(self) -> None:
        assert self.frame.parent is not None
        self.frame = self.frame.parent

    def _in_frame(self, kind: FrameKind, node: cst.CSTNode, body: cst.CSTNode, names: Iterable[str] = ()) -> Frame:
        frame = self._push(kind, node)
        frame.bound_names.update(names)
        self.walk(body)
        self._pop()
        return frame

    def _bind(self, names: list[str]) -> None:
        """Record names bound at the current point: in enclosing loops and the function."""
        frame: Frame | None = self.frame
        while frame is not None:
            if frame.kind is not FrameKind.CLASS:
                frame.bound_names.update(names)
            if frame.kind in BOUNDARY_KINDS:
                break
            frame = frame.parent

    # definitions: decorators, bases and defaults run where the definition stands ------
    def _class(self, node: cst.ClassDef) -> None:
        self._walk_all([*node.decorators, *node.bases, *node.keywords])
        self.model.classes.append((node, self.frame))
        self._bind([node.name.value])
        self._in_frame(FrameKind.CLASS, node, node.body)

    def _function(self, node: cst.FunctionDef) -> None:
        self._walk_all([*node.decorators, node.params, node.returns])
        parent = self.frame
        self._bind([node.name.value])
        frame = self._push(FrameKind.FUNCTION, node)
        info = FunctionInfo(node, frame, parent)
        self.model.functions.append(info)
        self.model.function_by_frame[id(frame)] = info
        if parent.kind is FrameKind.MODULE:
            self.model.module_level_defs[node.name.value] = info
        frame.bound_names.update(parameter_names(node.params))
        self.walk(node.body)
        self._pop()

    def _lambda(self, node: cst.Lambda) -> None:
        self.walk(node.params)
        self._in_frame(FrameKind.LAMBDA, node, node.body, parameter_names(node.params))

    # blocks -------------------------------------------------------------------------
    def _with(self, node: cst.With) -> None:
        self._walk_all(node.items)
        for item in node.items:
            if item.asname is not None:
                self._bind(target_names(item.asname.name))
        self._in_frame(FrameKind.WITH, node, node.body)

    def _for(self, node: cst.For) -> None:
        self._walk_all([node.target, node.iter])
        names = target_names(node.target)
        self._bind(names)
        self._in_frame(FrameKind.LOOP, node, node.body, names)
        self._walk_all([node.orelse])

    def _while(self, node: cst.While) -> None:
        self.walk(node.test)
        # `while (item := queue.pop()) is not None:` rebinds `item` on every pass.
        walrus = [t.value for t in _walrus_targets(node.test) if isinstance(t, cst.Name)]
        self._in_frame(FrameKind.LOOP, node, node.body, walrus)
        self._walk_all([node.orelse])

    def _try(self, node: cst.Try) -> None:
        parent = self.frame
        body = self._in_frame(FrameKind.TRY_BODY, node, node.body)
        site = TrySite(node, parent, body, [])
        for handler in node.handlers:
            self._walk_all([handler.type])
            frame = self._push(FrameKind.HANDLER, handler)
            site.handler_frames.append(frame)
            if handler.name is not None:
                self._bind(target_names(handler.name.name))
            self.walk(handler.body)
            self._pop()
        self._walk_all([node.orelse, node.finalbody])
        self.model.tries.append(site)

    # statements and expressions -------------------------------------------------------
    def _expression_statement(self, node: cst.Expr) -> None:
        self._statement = node
        self._statement_value = node.value
        self.walk(node.value)

    def _await(self, node: cst.Await) -> None:
        self._awaited = node.expression
        self.walk(node.expression)

    def _call(self, node: cst.Call) -> None:
        statement = self._statement if node is self._statement_value else None
        self.model.calls.append(CallSite(node, self.frame, statement, node is self._awaited))
        self.walk_children(node)

    def _assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            names = target_names(target.target)
            self._bind(names)
            if len(names) == 1 and isinstance(target.target, cst.Name):
                self._record_assignment(names[0], node.value)
        self.walk_children(node)

    def _ann_assign(self, node: cst.AnnAssign) -> None:
        names = target_names(node.target)
        self._bind(names)
        if node.value is not None and len(names) == 1:
            self._record_assignment(names[0], node.value)
        self.walk_children(node)

    def _aug_assign(self, node: cst.AugAssign) -> None:
        self._bind(target_names(node.target))
        self.walk_children(node)

    def _named_expr(self, node: cst.NamedExpr) -> None:
        self._bind(target_names(node.target))
        self.walk_children(node)

    def _record_assignment(self, name: str, value: cst.BaseExpression) -> None:
        scope = self.frame.scope()
        if scope.kind is FrameKind.FUNCTION:
            scope.assignments[name] = value

    def _raise(self, node: cst.Raise) -> None:
        for frame in self.frame.ancestors():
            if frame.kind is FrameKind.HANDLER:
                frame.has_raise = True
        self.walk_children(node)

    def _yield(self, node: cst.Yield) -> None:
        self.model.yield_frames.append(self.frame)
        self.walk_children(node)

    def _return(self, node: cst.Return) -> None:
        if node.value is not None:
            self.model.returns.append(ReturnSite(node.value, self.frame))
        self.walk_children(node)


def _walrus_targets(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    return [found.target for found in (node, *nodes_in(node, into_definitions=True)) if isinstance(found, cst.NamedExpr)]


def parameter_names(params: cst.Parameters) -> list[str]:
    names = [param.name.value for param in (*params.posonly_params, *params.params, *params.kwonly_params)]
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            names.append(star.name.value)
    return names


@lru_cache(maxsize=None)
def _scanner_handlers() -> dict[type[cst.CSTNode], Callable[[Scanner, Any], None]]:
    """By node type, unbound: bound methods held by the Scanner would make it a reference
    cycle, and the whole tree with it garbage that only the cyclic collector frees."""
    return {
        cst.Import: Scanner._import,
        cst.ImportFrom: Scanner._import_from,
        cst.ClassDef: Scanner._class,
        cst.FunctionDef: Scanner._function,
        cst.Lambda: Scanner._lambda,
        cst.With: Scanner._with,
        cst.For: Scanner._for,
        cst.While: Scanner._while,
        cst.Try: Scanner._try,
        cst.Expr: Scanner._expression_statement,
        cst.Await: Scanner._await,
        cst.Call: Scanner._call,
        cst.Assign: Scanner._assign,
        cst.AnnAssign: Scanner._ann_assign,
        cst.AugAssign: Scanner._aug_assign,
        cst.NamedExpr: Scanner._named_expr,
        cst.Raise: Scanner._raise,
        cst.Yield: Scanner._yield,
        cst.Return: Scanner._return,
    }


def build_model(
    module: cst.Module,
    path: str,
    module_name: str | None,
    is_package: bool,
    settings: Settings,
) -> ModuleModel:
    model = ModuleModel(module, path, module_name, is_package, settings)
    Scanner(model).walk_children(module)
    return model
