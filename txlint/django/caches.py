"""Caches of database values: what reads the database, how code caches it, what clears it.

Three kinds of cache keep database results alive past the moment they were read:
- a module-level or class-level dict/list filled with ORM results inside functions
  (`if pk not in _cache: _cache[pk] = Site.objects.get(pk=pk)`): lives as long as the
  process, shared by every request a worker serves;
- `functools.lru_cache`/`cache` on a function or method that queries the database: same;
- an instance cache of an aggregate (`.count()`, `.exists()`, `.aggregate()`, `len(qs)`):
  `hasattr`/`getattr(..., None)`/`is None` caching on `self`, `cached_property`, or
  `lru_cache` on a method. Lives as long as the object, usually one request.

What clears a cache is looked up in the module itself (`.clear()`, `.pop()`, `del`,
`cache_clear()`, reassignment, any write that is not a database fill, as signal receivers
do) and, for other modules, in `Settings.cleared_caches`, which the adapters gather with
`cleared_names` over the project (see `txlint.project.cleared_caches`).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from txlint.diagnostics import Fix, FixSafety, NodeEdit
from txlint.django.imports import dotted_name
from txlint.django.model import FunctionInfo, ModuleModel, children, nodes_in
from txlint.django.names import matches_any, string_value
from txlint.lazy import cst
from txlint.prescan import NAME_CHAR, line_start, search_after, search_indented, search_word
from txlint.settings import contains_any

_MEMO_KEY = ("txlint.django.caches", 0)

# Managers whose methods query the database (`Site.objects.get(...)`).
MANAGERS = frozenset({"objects", "_default_manager", "_base_manager"})
# Queryset methods that, on a relation or queryset, build or run a query (aggregates aside:
# `aggregate_call` knows them, and `text.count("x")` is not one).
QUERY_METHODS = frozenset(
    {"all", "filter", "exclude", "get", "first", "last", "values", "values_list", "select_related",
     "prefetch_related", "annotate", "order_by", "in_bulk", "only", "defer", "distinct", "latest", "earliest",
     "iterator", "none"}
)  # fmt: skip
# Steps that show a chain is a queryset even without a manager (`self.tasks.filter(...)`).
QUERYSET_STEPS = frozenset(
    {"all", "filter", "exclude", "select_related", "prefetch_related", "annotate", "order_by", "only", "defer",
     "distinct", "values", "values_list", "using"}
)  # fmt: skip
# ContentType lookups are cached by Django itself for the life of the process
# (ContentTypeManager._cache); caching them again adds no staleness.
SELF_CACHED_LOOKUPS = frozenset({"get_for_model", "get_for_models", "get_for_id"})
# `self.path.exists()` is pathlib, not a queryset.
PATH_WORDS = ("path", "file", "dir", "folder", "root", "location", "storage", "image", "media", "url")
QUERY_SHORTCUTS = frozenset({"django.shortcuts.get_object_or_404", "django.shortcuts.get_list_or_404"})

CACHED_PROPERTIES = frozenset({"functools.cached_property", "django.utils.functional.cached_property"})
LRU_CACHES = frozenset({"functools.lru_cache", "functools.cache"})

# Methods that empty a container or drop entries from it: the cache can be refreshed.
CLEARING_METHODS = frozenset({"clear", "pop", "popitem", "remove", "discard", "cache_clear"})
# Methods that put values into a container.
FILLING_METHODS = frozenset({"setdefault", "update", "append", "extend", "add", "insert"})
# Writes through a relation that change its count / existence / aggregate.
RELATION_WRITES = frozenset(
    {"create", "add", "remove", "clear", "set", "bulk_create", "bulk_update", "update", "delete",
     "get_or_create", "update_or_create"}
)  # fmt: skip
# Writes that add rows.
CREATING_WRITES = frozenset({"create", "bulk_create", "get_or_create", "update_or_create"})
# Writes that must be called on the relation manager itself (`self.tags.add(tag)`).
MANAGER_ONLY_WRITES = frozenset({"add", "remove", "clear", "set"})
EMPTY_CONTAINER_CALLS = frozenset({"dict", "list", "defaultdict", "OrderedDict", "collections.defaultdict",
                                   "collections.OrderedDict"})  # fmt: skip

# Modules whose process ends with the job: migrations, management commands, tests.
_SHORT_LIVED_PATH = re.compile(
    r"(^|[/\\])(migrations|management[/\\]commands|tests?)[/\\]"
    r"|(^|[/\\])(test_[^/\\]*|[^/\\]*_tests?|tests|conftest)\.py$"
)


def is_short_lived_module(path: str) -> bool:
    """Migrations, management commands and tests: a cache there dies with the run."""
    return bool(_SHORT_LIVED_PATH.search(path))


# what reads the database ------------------------------------------------------------------
@dataclass(frozen=True)
class Chain:
    """`self.tasks.filter(done=True).count()` as its root and its steps."""

    root: cst.BaseExpression
    steps: tuple[tuple[str, cst.Call | None], ...]  # (attribute, the call applied to it)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.steps]


def chain_of(expression: cst.BaseExpression) -> Chain:
    steps: list[tuple[str, cst.Call | None]] = []
    node = expression
    call: cst.Call | None = None
    while True:
        if isinstance(node, cst.Call):
            call = node
            node = node.func
        elif isinstance(node, cst.Attribute):
            steps.append((node.attr.value, call))
            call = None
            node = node.value
        else:
            break
    steps.reverse()
    return Chain(node, tuple(steps))


def _is_imported(model: ModuleModel, root: cst.BaseExpression) -> bool:
    return isinstance(root, cst.Name) and root.value in model.imports.bindings


def _looks_like_queryset(
    model: ModuleModel, expression: cst.BaseExpression, assignments: dict[str, cst.BaseExpression], explicit: bool
) -> bool:
    """A queryset or relation: a manager or queryset step in the chain, `x_set`, or a
    local name assigned one. With `explicit`, a bare relation (`self.tasks`) is not enough."""
    chain = chain_of(expression)
    names = chain.names
    if any(name in MANAGERS or name in QUERYSET_STEPS or name.endswith("_set") for name in names):
        return not (_is_imported(model, chain.root) and not any(name in MANAGERS for name in names))
    if isinstance(chain.root, cst.Name) and not names:
        value = assignments.get(chain.root.value)
        return value is not None and value is not expression and _looks_like_queryset(model, value, {}, explicit)
    if explicit or not names or _is_imported(model, chain.root) or not isinstance(chain.root, cst.Name):
        return False
    last = names[-1]
    return chain.steps[-1][1] is None and not any(word in last.lower() for word in PATH_WORDS)


def aggregate_call(
    model: ModuleModel, node: cst.CSTNode, assignments: dict[str, cst.BaseExpression]
) -> cst.Call | None:
    """`qs.count()`, `qs.exists()`, `qs.aggregate(...)` or `len(qs)` when `node` is one."""
    if not isinstance(node, cst.Call):
        return None
    func = node.func
    if isinstance(func, cst.Name) and func.value == "len" and len(node.args) == 1:
        if "len" not in model.root.bound_names and _looks_like_queryset(model, node.args[0].value, assignments, True):
            return node
        return None
    if not isinstance(func, cst.Attribute):
        return None
    method = func.attr.value
    receiver = func.value
    chain = chain_of(receiver)
    if _is_imported(model, chain.root) and not any(name in MANAGERS for name in chain.names):
        return None
    if isinstance(chain.root, (cst.SimpleString, cst.List, cst.Dict, cst.Tuple, cst.FormattedString)):
        return None
    if method == "count" and not node.args:
        return node if chain.names or isinstance(chain.root, cst.Name) else None
    if method == "exists" and not node.args:
        return node if _looks_like_queryset(model, receiver, assignments, False) else None
    if method == "aggregate" and node.args:
        return node
    return None


def find_aggregates(
    model: ModuleModel, expression: cst.BaseExpression, assignments: dict[str, cst.BaseExpression]
) -> list[cst.Call]:
    """The aggregates in `expression`, in order, following names to their local assignment once."""
    found: list[cst.Call] = []
    names: list[cst.Name] = []
    for node in (expression, *nodes_in(expression)):
        aggregate = aggregate_call(model, node, assignments)
        if aggregate is not None and not any(aggregate in nodes_in(outer) for outer in found):
            found.append(aggregate)
        if isinstance(node, cst.Name) and node.value in assignments:
            names.append(node)
    for name in names:
        value = assignments[name.value]
        if value is not expression:
            found.extend(find_aggregates(model, value, {}))
    return found


def is_query_call(model: ModuleModel, node: cst.CSTNode, assignments: dict[str, cst.BaseExpression]) -> bool:
    """A call that reads the database: a manager or relation query, an aggregate, a shortcut."""
    if not isinstance(node, cst.Call):
        return False
    if aggregate_call(model, node, assignments) is not None:
        return True
    if isinstance(node.func, cst.Name):
        return model.qualify(node.func) in QUERY_SHORTCUTS
    if not isinstance(node.func, cst.Attribute):
        return False
    method = node.func.attr.value
    chain = chain_of(node.func.value)
    names = chain.names
    if method in SELF_CACHED_LOOKUPS:
        return False
    if any(name in MANAGERS for name in names):
        return True
    if method not in QUERY_METHODS or method in ("get", "values", "first", "last", "none"):
        # `.get()`/`.values()` are dict methods too: a relation needs a queryset step first.
        return method in QUERY_METHODS and any(name in QUERYSET_STEPS or name.endswith("_set") for name in names)
    if _is_imported(model, chain.root) or not names:
        return False
    return isinstance(chain.root, cst.Name)


def queries_database(
    model: ModuleModel, expression: cst.CSTNode, assignments: dict[str, cst.BaseExpression]
) -> cst.Call | None:
    """The first database query evaluated by `expression`, following names to their local assignment once."""
    names: list[cst.Name] = []
    for node in (expression, *nodes_in(expression)):
        if is_query_call(model, node, assignments):
            assert isinstance(node, cst.Call)
            return node
        if isinstance(node, cst.Name) and node.value in assignments:
            names.append(node)
    for name in names:
        value = assignments[name.value]
        found = None if value is expression else queries_database(model, value, {})
        if found is not None:
            return found
    return None


def snippet(model: ModuleModel, node: cst.CSTNode, limit: int = 60) -> str:
    """The node's code on one line for a message, without the gap a line break leaves after `(`."""
    return re.sub(r"([(\[{]) ", r"\1", model.short(node, limit))


def decorator_name(model: ModuleModel, decorator: cst.Decorator) -> str | None:
    node = decorator.decorator
    if isinstance(node, cst.Call):
        node = node.func
    return model.qualify(node)


def module_name(model: ModuleModel) -> str:
    """The module's dotted name; from its path when the adapters did not say."""
    if model.module_name:
        return model.module_name
    path = re.sub(r"\.pyi?$", "", model.path.replace("\\", "/"))
    parts = [part for part in path.split("/") if part.isidentifier()]
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) or "<module>"


# process-lifetime containers ---------------------------------------------------------------
@dataclass(eq=False)
class Container:
    """A module-level (`_cache = {}`) or class-level dict/list that may serve as a cache."""

    key: str  # `_cache` or `Registry._cache`
    name: str
    fills: list[tuple[cst.CSTNode, cst.Call]] = field(default_factory=list)  # (statement or call, the query)
    readers: set[int] = field(default_factory=set)  # ids of functions that read it
    fill_functions: dict[int, FunctionInfo] = field(default_factory=dict)  # by id of each fill node
    maintained: bool = False  # cleared, reassigned, or written without a query
    per_instance: bool = False  # `self._cache = {}` somewhere: not shared


@dataclass(frozen=True)
class LruFunction:
    function: FunctionInfo
    key: str  # `get_site` or `Event.get_quota`
    query: cst.Call


@dataclass
class _Context:
    class_path: str | None = None
    self_names: tuple[str, ...] = ()
    function: FunctionInfo | None = None
    globals_: frozenset[str] = frozenset()


def _empty_container(model: ModuleModel, value: cst.BaseExpression) -> bool:
    if isinstance(value, (cst.Dict, cst.List)):
        return not value.elements
    if isinstance(value, cst.Call):
        return model.qualify(value.func) in EMPTY_CONTAINER_CALLS
    return False


def _assigned_names(statement: cst.BaseStatement) -> list[tuple[str, cst.BaseExpression]]:
    found: list[tuple[str, cst.BaseExpression]] = []
    if not isinstance(statement, cst.SimpleStatementLine):
        return found
    for small in statement.body:
        if isinstance(small, cst.Assign):
            found.extend((t.target.value, small.value) for t in small.targets if isinstance(t.target, cst.Name))
        elif isinstance(small, cst.AnnAssign) and small.value is not None and isinstance(small.target, cst.Name):
            found.append((small.target.value, small.value))
    return found


class ModuleCaches:
    """Process-lifetime caches of one module, and everything the module clears."""

    def __init__(self, model: ModuleModel) -> None:
        self.model = model
        self.module = module_name(model)
        self.containers: dict[str, Container] = {}
        self.cleared: set[str] = set()  # local keys cleared here (`_cache`, `get_site`, `Event.quota`)
        self.cleared_qualified: set[str] = set()  # the same, qualified, plus imported names
        self.functions = {id(info.node): info for info in model.functions}
        self._find_containers(model.module.body, None)
        self._walked = False
        self._receivers: set[int] | None = None

    def ensure_walked(self) -> None:
        """What fills and clears what: one walk of the module, only when a rule asks."""
        if not self._walked:
            self._walked = True
            self._walk(self.model.module, _Context())

    @staticmethod
    def of(model: ModuleModel) -> ModuleCaches:
        found = model.memo.get(_MEMO_KEY)
        if not isinstance(found, ModuleCaches):
            found = ModuleCaches(model)
            model.memo[_MEMO_KEY] = found
        return found

    def qualified(self, key: str) -> str:
        return f"{self.module}.{key}"

    def is_cleared(self, key: str) -> bool:
        self.ensure_walked()
        return key in self.cleared or matches_any(self.qualified(key), self.model.settings.cleared_caches)

    def _find_containers(self, body: Sequence[cst.BaseStatement], class_path: str | None) -> None:
        for statement in body:
            if isinstance(statement, cst.ClassDef) and isinstance(statement.body, cst.IndentedBlock):
                path = statement.name.value if class_path is None else f"{class_path}.{statement.name.value}"
                self._find_containers(statement.body.body, path)
                continue
            for name, value in _assigned_names(statement):
                key = name if class_path is None else f"{class_path}.{name}"
                if _empty_container(self.model, value):
                    self.containers[key] = Container(key, name)
                else:
                    self.containers.pop(key, None)

    # keys ------------------------------------------------------------------------------------
    def _key(self, node: cst.BaseExpression, context: _Context) -> str | None:
        """The local key an expression names (`_cache`, `cls._cache` -> `Event._cache`)."""
        if (
            isinstance(node, cst.Attribute)
            and isinstance(node.value, (cst.Attribute, cst.Call))
            and context.class_path is not None
            and self._is_own_class(node.value, context)
        ):
            return f"{context.class_path}.{node.attr.value}"
        dotted = dotted_name(node)
        if dotted is None:
            return None
        root, _, rest = dotted.partition(".")
        if root in context.self_names and context.class_path is not None and rest:
            return f"{context.class_path}.{rest}"
        if root in self.model.imports.bindings or root not in self.model.root.bound_names:
            return None
        if self._shadowed(root, context):
            return None
        return dotted

    def _is_own_class(self, node: cst.BaseExpression, context: _Context) -> bool:
        """`self.__class__` or `type(self)`."""
        if isinstance(node, cst.Attribute):
            return node.attr.value == "__class__" and isinstance(node.value, cst.Name) and (
                node.value.value in context.self_names
            )
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "type":
            return len(node.args) == 1 and isinstance(node.args[0].value, cst.Name) and (
                node.args[0].value.value in context.self_names
            )
        return False

    def _shadowed(self, name: str, context: _Context) -> bool:
        if context.function is None or name in context.globals_:
            return False
        return any(name in frame.bound_names for frame in context.function.frame.enclosing_functions())

    def _qualified_target(self, node: cst.BaseExpression, context: _Context) -> str | None:
        key = self._key(node, context)
        if key is not None:
            return self.qualified(key)
        dotted = dotted_name(node)
        if dotted is None:
            return None
        root, _, rest = dotted.partition(".")
        bound = self.model.imports.bindings.get(root)
        if bound is None:
            return None
        return f"{bound}.{rest}" if rest else bound

    # the walk --------------------------------------------------------------------------------
    def _walk(self, node: cst.CSTNode, context: _Context) -> None:
        for child in children(node):
            self._visit(child, context)

    def _visit(self, node: cst.CSTNode, context: _Context) -> None:
        if isinstance(node, cst.ClassDef):
            for item in (*node.decorators, *node.bases, *node.keywords):
                self._visit(item, context)
            path = node.name.value if context.class_path is None else f"{context.class_path}.{node.name.value}"
            self._walk(node.body, _Context(path))
            return
        if isinstance(node, cst.FunctionDef):
            self._function(node, context)
            return
        if isinstance(node, (cst.Assign, cst.AugAssign, cst.AnnAssign)):
            self._assignment(node, context)
            # Stores are not reads: only the value and the subscripts are visited.
            for target in [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]:
                self._visit_subscripts(target, context)
            if node.value is not None:
                self._visit(node.value, context)
            return
        if isinstance(node, cst.Del):
            self._delete(node.target, context)
        elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            if self._method_call(node, node.func, context):
                for arg in node.args:
                    self._visit(arg, context)
                return
        elif isinstance(node, cst.Attribute) and node.attr.value in CLEARING_METHODS:
            self._clear(node.value, context)  # `post_save.connect(lambda **kw: _cache.clear())`, `atexit.register(_cache.clear)`
        elif isinstance(node, (cst.Name, cst.Attribute)):
            self._read(node, context)
            if isinstance(node, cst.Name):
                return
        self._walk(node, context)

    def _visit_subscripts(self, target: cst.BaseExpression, context: _Context) -> None:
        while isinstance(target, cst.Subscript):
            for element in target.slice:
                self._visit(element, context)
            target = target.value
        if isinstance(target, cst.Call):
            if isinstance(target.func, cst.Attribute) and target.func.attr.value in ("setdefault", "get"):
                for arg in target.args:  # `_cache.setdefault(site, {})[key] = ...`: part of the fill
                    self._visit(arg, context)
            else:
                self._visit(target, context)

    def _function(self, node: cst.FunctionDef, context: _Context) -> None:
        for decorator in node.decorators:
            self._visit(decorator, context)
        info = self.functions.get(id(node))
        self_names: tuple[str, ...] = context.self_names
        if context.class_path is not None and context.function is None:
            params = node.params.params
            static = any(decorator_name(self.model, d) == "staticmethod" for d in node.decorators)
            self_names = () if static or not params else (params[0].name.value,)
        global_names = frozenset(
            name.name.value
            for statement in nodes_in(node.body)
            if isinstance(statement, cst.Global)
            for name in statement.names
        )
        self._walk(node.body, _Context(context.class_path, self_names, info or context.function, global_names))

    def _container(self, node: cst.BaseExpression, context: _Context) -> Container | None:
        key = self._key(node, context)
        return None if key is None else self.containers.get(key)

    def _read(self, node: cst.BaseExpression, context: _Context) -> None:
        container = self._container(node, context)
        if container is not None and context.function is not None:
            container.readers.add(id(context.function))

    def _clear(self, target: cst.BaseExpression, context: _Context) -> None:
        key = self._key(target, context)
        if key is not None:
            self.cleared.add(key)
            if key in self.containers:
                self.containers[key].maintained = True
        dotted = dotted_name(target) or ""
        root, _, rest = dotted.partition(".")
        if root in context.self_names and "." in rest:
            return  # `self.event.settings.x`: another object's attribute, no cache of this class
        qualified = self._qualified_target(target, context)
        if qualified is not None:
            self.cleared_qualified.add(qualified)

    def _subscript_root(self, node: cst.BaseExpression) -> cst.BaseExpression | None:
        """`_cache[a][b]`, `_cache.setdefault(a, {})[b]` -> `_cache`."""
        if not isinstance(node, cst.Subscript):
            return None
        while True:
            if isinstance(node, cst.Subscript):
                node = node.value
            elif (
                isinstance(node, cst.Call)
                and isinstance(node.func, cst.Attribute)
                and node.func.attr.value in ("setdefault", "get")
            ):
                node = node.func.value
            else:
                return node

    def _fill_or_write(
        self, container: Container, statement: cst.CSTNode, value: cst.BaseExpression | None, context: _Context
    ) -> None:
        """A value put into a container. At import time it only initialises the cache; in a
        signal receiver it keeps the cache fresh, query or not; elsewhere a query fills it."""
        function = context.function
        if function is None:
            return
        query = None if value is None else queries_database(self.model, value, function.frame.assignments)
        if query is None or self._in_receiver(function):
            container.maintained = True
        else:
            container.fills.append((statement, query))
            container.fill_functions[id(statement)] = function

    def _in_receiver(self, function: FunctionInfo) -> bool:
        """`@receiver(post_save, ...)`, or a function handed to `signal.connect(...)`."""
        if self._receivers is None:
            self._receivers = {
                id(self.model.module_level_defs[arg.value.value].node)
                for site in self.model.calls
                if isinstance(site.node.func, cst.Attribute) and site.node.func.attr.value == "connect"
                for arg in site.node.args[:1]
                if isinstance(arg.value, cst.Name) and arg.value.value in self.model.module_level_defs
            }
        for frame in function.frame.enclosing_functions():
            info = self.model.function_for(frame)
            if info is None:
                continue
            if id(info.node) in self._receivers:
                return True
            if any((decorator_name(self.model, d) or "").endswith("receiver") for d in info.node.decorators):
                return True
        return False

    def _assignment(self, node: cst.Assign | cst.AugAssign | cst.AnnAssign, context: _Context) -> None:
        targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
        value = None if isinstance(node, cst.AugAssign) else node.value
        for target in targets:
            root = self._subscript_root(target)
            if root is not None:
                container = self._container(root, context)
                if container is not None:
                    self._fill_or_write(container, node, value, context)
                continue
            if context.function is None:
                continue
            if isinstance(target, cst.Name) and target.value in context.globals_:
                self._clear(target, context)  # `global _cache; _cache = {}`
            elif isinstance(target, cst.Attribute):
                if isinstance(target.value, cst.Name) and target.value.value in context.self_names:
                    # `self._cache = {}`: an instance attribute, not the class's shared dict.
                    own = self.containers.get(f"{context.class_path}.{target.attr.value}")
                    if own is not None:
                        own.per_instance = True
                else:
                    self._clear(target, context)  # `Registry._cache = {}`, `services._cache = {}`

    def _delete(self, target: cst.BaseExpression, context: _Context) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._delete(element.value, context)
            return
        root = self._subscript_root(target)
        self._clear(root if root is not None else target, context)

    def _method_call(self, call: cst.Call, func: cst.Attribute, context: _Context) -> bool:
        """Record a clear or a fill; True when the call's receiver needs no further visit."""
        method = func.attr.value
        if method in CLEARING_METHODS:
            root = self._subscript_root(func.value) or func.value
            self._clear(root, context)
            return True
        if method in FILLING_METHODS:
            root = self._subscript_root(func.value) or func.value
            container = self._container(root, context)
            if container is not None:
                value = call.args[-1].value if call.args else None
                self._fill_or_write(container, call, value, context)
                return True
        return False

    # results ---------------------------------------------------------------------------------
    def uncleared_fills(self) -> Iterator[tuple[Container, cst.CSTNode, cst.Call]]:
        if is_short_lived_module(self.model.path) or not self.containers:
            return
        self.ensure_walked()
        for container in self.containers.values():
            if container.maintained or container.per_instance or not container.fills:
                continue
            if self.is_cleared(container.key):
                continue
            named_cache = "cache" in container.name.lower() or "memo" in container.name.lower()
            for statement, query in container.fills:
                function = container.fill_functions[id(statement)]
                if named_cache or id(function) in container.readers:
                    yield container, statement, query

    def lru_functions(self) -> Iterator[LruFunction]:
        """Functions and methods under `lru_cache`/`cache` that query the database."""
        if is_short_lived_module(self.model.path):
            return
        for info in self.model.functions:
            if not any(decorator_name(self.model, d) in LRU_CACHES for d in info.node.decorators):
                continue
            key = self._function_key(info)
            if key is None:
                continue
            query = queries_database(self.model, info.node.body, info.frame.assignments)
            if query is not None and not self.is_cleared(key):
                yield LruFunction(info, key, query)

    def _function_key(self, info: FunctionInfo) -> str | None:
        if info.parent is self.model.root:
            return info.name
        if info.class_node is not None and info.parent.parent is self.model.root:
            return f"{info.class_node.name.value}.{info.name}"
        return None


def cleared_names(model: ModuleModel) -> list[str]:
    """Qualified names of the caches a module clears (`app.services._cache`, `app.utils.get_site`)."""
    caches = ModuleCaches.of(model)
    caches.ensure_walked()
    return sorted(caches.cleared_qualified)


# instance caches ------------------------------------------------------------------------------
class CacheKind(enum.Enum):
    ATTRIBUTE = "attribute"  # hasattr / getattr(..., None) / `is None` on self
    CACHED_PROPERTY = "cached_property"
    LRU_CACHE = "lru_cache"


RelationKey = tuple[str, ...]  # ("self", "tasks") or ("model", "tasks.models.Task", "file_upload")


@dataclass(frozen=True, eq=False)
class CachedQuery:
    """One aggregate a cache holds, and what it reads."""

    aggregate: cst.Call
    relation: RelationKey | None
    fields: frozenset[str]  # fields it filters on or aggregates
    filters: frozenset[str]  # fields it filters on, the relation to `self` aside
    # Fields the query requires to be one of the listed values: `state__in=(DONE, TRANSIT)`.
    values: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass(eq=False)
class InstanceCache:
    function: FunctionInfo
    class_node: cst.ClassDef
    kind: CacheKind
    attribute: str  # where the value lives: `_task_count_cache`; the method name for decorators
    self_name: str
    queries: list[CachedQuery]
    decorator: cst.Decorator | None = None
    writer: cst.Call | None = None  # a write in the class that changes what is counted
    changed: CachedQuery | None = None  # the query that write changes
    reset: bool = False  # something in the class can reset the cache

    @property
    def label(self) -> str:
        return f"{self.class_node.name.value}.{self.function.name}"

    @property
    def aggregate(self) -> cst.Call:
        return (self.changed or self.queries[0]).aggregate


def instance_caches(model: ModuleModel) -> list[InstanceCache]:
    """Instance caches of database aggregates in the module's classes, with writers and resets."""
    key = ("txlint.django.caches.instance", 0)
    found = model.memo.get(key)
    if not isinstance(found, list):
        found = _instance_caches(model)
        model.memo[key] = found
    return found


def _self_name(info: FunctionInfo, model: ModuleModel) -> str | None:
    params = info.node.params.params
    names = {decorator_name(model, d) for d in info.node.decorators}
    if not params or names & {"staticmethod", "classmethod"}:
        return None
    return params[0].name.value


def _instance_caches(model: ModuleModel) -> list[InstanceCache]:
    methods: dict[int, list[FunctionInfo]] = {}
    for info in model.functions:
        if info.class_node is not None:
            methods.setdefault(id(info.class_node), []).append(info)
    # Only methods that compute an aggregate can cache one: the scanner's calls say which.
    counting: set[int] = set()
    for site in model.calls:
        func = site.node.func
        name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
        if name not in ("count", "exists", "aggregate", "len"):
            continue
        for frame in site.frame.enclosing_functions():
            method = model.function_for(frame)
            if method is not None and method.class_node is not None:
                counting.add(id(method))
                break
    caches: list[InstanceCache] = []
    for class_node, _frame in model.classes:
        own = methods.get(id(class_node), [])
        found = [
            cache for info in own if id(info) in counting for cache in _caches_in_method(model, class_node, info)
        ]
        if not found:
            continue
        writers = _relation_writers(model, own)
        for cache in found:
            for query in cache.queries:
                candidates = [] if query.relation is None else writers.get(query.relation, [])
                cache.writer = next((call for call in candidates if _changes(model, call, query)), None)
                if cache.writer is not None:
                    cache.changed = query
                    break
            cache.reset = _can_reset(model, class_node, cache)
        caches.extend(found)
    return caches


def _caches_in_method(model: ModuleModel, class_node: cst.ClassDef, info: FunctionInfo) -> list[InstanceCache]:
    self_name = _self_name(info, model)
    if self_name is None:
        return []
    assignments = info.frame.assignments
    for decorator in info.node.decorators:
        name = decorator_name(model, decorator)
        kind = (
            CacheKind.CACHED_PROPERTY if name in CACHED_PROPERTIES else CacheKind.LRU_CACHE if name in LRU_CACHES else None
        )
        if kind is None:
            continue
        aggregates = [
            aggregate
            for node in nodes_in(info.node.body)
            if isinstance(node, cst.Return) and node.value is not None
            for aggregate in find_aggregates(model, node.value, assignments)
        ]
        if not aggregates:
            return []
        return [_instance_cache(model, info, class_node, kind, info.name, self_name, aggregates, decorator)]
    checked = _checked_attributes(info.node.body, self_name)
    if not checked:
        return []
    for node in nodes_in(info.node.body):
        if not isinstance(node, cst.Assign):
            continue
        for target in node.targets:
            attribute = _self_attribute(target.target, self_name)
            if attribute is None or attribute not in checked:
                continue
            aggregates = find_aggregates(model, node.value, assignments)
            if aggregates:
                return [_instance_cache(model, info, class_node, CacheKind.ATTRIBUTE, attribute, self_name, aggregates)]
    return []


def _instance_cache(
    model: ModuleModel,
    info: FunctionInfo,
    class_node: cst.ClassDef,
    kind: CacheKind,
    attribute: str,
    self_name: str,
    aggregates: list[cst.Call],
    decorator: cst.Decorator | None = None,
) -> InstanceCache:
    queries = []
    for aggregate in aggregates:
        queryset = queried(aggregate, self_name, info.frame.assignments)
        queries.append(
            CachedQuery(
                aggregate,
                relation_of(model, queryset, self_name),
                frozenset(_fields_read(aggregate) | _fields_read(queryset)),
                frozenset(_filter_fields(aggregate, self_name) | _filter_fields(queryset, self_name)),
                _filter_values(model, queryset),
            )
        )
    return InstanceCache(info, class_node, kind, attribute, self_name, queries, decorator)


def _self_attribute(node: cst.BaseExpression, self_name: str) -> str | None:
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == self_name:
        return node.attr.value
    return None


def _checked_attributes(body: cst.BaseSuite, self_name: str) -> set[str]:
    """Attributes the method tests for a cached value: `hasattr(self, "_x")`,
    `getattr(self, "_x", None)`, `self._x is None`, `"_x" in self.__dict__`."""
    found: set[str] = set()
    for node in nodes_in(body):
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value in ("hasattr", "getattr"):
            args = node.args
            if len(args) >= 2 and isinstance(args[0].value, cst.Name) and args[0].value.value == self_name:
                name = string_value(args[1].value)
                if name is not None and (node.func.value == "hasattr" or len(args) == 3):
                    found.add(name)
        elif isinstance(node, cst.Comparison) and len(node.comparisons) == 1:
            operator = node.comparisons[0].operator
            right = node.comparisons[0].comparator
            if isinstance(operator, (cst.Is, cst.IsNot)) and isinstance(right, cst.Name) and right.value == "None":
                attribute = _self_attribute(node.left, self_name)
                if attribute is not None:
                    found.add(attribute)
            elif isinstance(operator, (cst.In, cst.NotIn)):
                name = string_value(node.left)
                if name is not None and isinstance(right, cst.Attribute) and right.attr.value == "__dict__":
                    found.add(name)
    return found


def queried(aggregate: cst.Call, self_name: str, assignments: dict[str, cst.BaseExpression]) -> cst.BaseExpression:
    """The queryset an aggregate runs on, through one local assignment (`qs = self.tasks.filter(...)`)."""
    if isinstance(aggregate.func, cst.Name):  # len(qs)
        target: cst.BaseExpression = aggregate.args[0].value
    else:
        assert isinstance(aggregate.func, cst.Attribute)
        target = aggregate.func.value
    root = chain_of(target).root
    if isinstance(root, cst.Name) and root.value != self_name and root.value in assignments:
        value = assignments[root.value]
        if value is not target:
            return value
    return target


def relation_of(model: ModuleModel, queryset: cst.BaseExpression, self_name: str) -> RelationKey | None:
    """What a queryset counts: `self.tasks...` -> ("self", "tasks");
    `Task.objects.filter(upload=self)` -> ("model", "<Task>", "upload")."""
    return _relation(model, queryset, self_name)


def _relation(model: ModuleModel, expression: cst.BaseExpression, self_name: str) -> RelationKey | None:
    chain = chain_of(expression)
    if not chain.steps or not isinstance(chain.root, cst.Name):
        return None
    first, _first_call = chain.steps[0]
    if chain.root.value == self_name:
        # `self.tasks`, `self.basket.lines`: the attributes up to the first call or query step.
        path: list[str] = []
        for name, call in chain.steps:
            if name in MANAGERS or name in QUERYSET_STEPS:
                break
            path.append(name)
            if call is not None:
                return None  # `self.get_tasks()`: a method, not a relation
        return ("self", *path) if path else None
    if first in MANAGERS:
        for _name, call in chain.steps:
            if call is None:
                continue
            for arg in call.args:
                if arg.keyword is not None and isinstance(arg.value, cst.Name) and arg.value.value == self_name:
                    return ("model", model.qualify(chain.root) or chain.root.value, arg.keyword.value)
    return None


def _relation_writers(model: ModuleModel, methods: list[FunctionInfo]) -> dict[RelationKey, list[cst.Call]]:
    """Writes in the class's methods that change a relation, by what they change."""
    writers: dict[RelationKey, list[cst.Call]] = {}
    for info in methods:
        self_name = _self_name(info, model)
        if self_name is None:
            continue
        for node in nodes_in(info.node.body, into_definitions=True):
            if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
                continue
            method = node.func.attr.value
            if method not in RELATION_WRITES:
                continue
            receiver = node.func.value
            if method == "delete" and node.args:
                continue
            chain = chain_of(receiver)
            if method in MANAGER_ONLY_WRITES and len(chain.steps) != 1:
                continue
            relation = _relation(model, receiver, self_name)
            if relation is None and method in ("create", "get_or_create", "update_or_create"):
                relation = _relation(model, node, self_name)
            if relation is not None:
                writers.setdefault(relation, []).append(node)
    return writers


def _changes(model: ModuleModel, writer: cst.Call, cache: CachedQuery) -> bool:
    """Whether a write surely changes the cached aggregate.

    Deleting, adding, removing or clearing rows changes it. A created row changes an
    unfiltered aggregate, and a filtered one only when the write sets a field it filters
    on (`refunds.create(state=DONE)` for `refunds.filter(state__in=...)`): otherwise the
    new row may not match (`component_set.create(name=...)` and `filter(locked=True)`), and
    not when it sets such a field to a value the filter does not list
    (`payments.create(state=CREATED)` for `payments.filter(state__in=(CONFIRMED, REFUNDED))`).
    `update(...)` / `bulk_update(...)` change it only through a field it filters on or
    aggregates (`update(name=...)` leaves `filter(locked=True).count()`)."""
    assert isinstance(writer.func, cst.Attribute)
    method = writer.func.attr.value
    if method in CREATING_WRITES:
        if not cache.filters:
            return True
        if not _fields_read(writer) & cache.filters:
            return False
        for node in (writer, *nodes_in(writer)):
            if isinstance(node, cst.Arg) and node.keyword is not None:
                listed = cache.values.get(node.keyword.value)
                if listed is not None and _text(model, node.value) not in listed:
                    return False
        return True
    if method == "update":
        updated = {arg.keyword.value.split("__")[0] for arg in writer.args if arg.keyword is not None}
    elif method == "bulk_update":
        updated = {
            value.split("__")[0]
            for arg in writer.args[1:]
            for node in nodes_in(arg)
            if (value := string_value(node) if isinstance(node, cst.SimpleString) else None) is not None
        }
    else:
        return True
    return bool(updated & cache.fields)


def _filter_values(model: ModuleModel, expression: cst.BaseExpression) -> dict[str, frozenset[str]]:
    """`filter(state=DONE)` / `filter(state__in=(DONE, TRANSIT))`: the values a field must have."""
    values: dict[str, frozenset[str]] = {}
    for node in (expression, *nodes_in(expression)):
        if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "filter"):
            continue
        for arg in node.args:
            if arg.keyword is None:
                continue
            name, _, lookup = arg.keyword.value.partition("__")
            if not lookup and not isinstance(arg.value, (cst.List, cst.Tuple, cst.Set)):
                values[name] = frozenset({_text(model, arg.value)})
            elif lookup == "in" and isinstance(arg.value, (cst.List, cst.Tuple, cst.Set)):
                values[name] = frozenset(
                    _text(model, element.value) for element in arg.value.elements if isinstance(element, cst.Element)
                )
    return values


def _text(model: ModuleModel, node: cst.CSTNode) -> str:
    return " ".join(model.code(node).split())


def _filter_fields(expression: cst.BaseExpression, self_name: str) -> set[str]:
    """Fields a query filters on (`filter`, `exclude`, `Q(...)` in them), the `upload=self` relation aside."""
    fields: set[str] = set()
    for node in (expression, *nodes_in(expression)):
        if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)):
            continue
        if node.func.attr.value not in ("filter", "exclude"):
            continue
        for arg in node.args:
            keywords = [arg] if arg.keyword is not None else [a for a in nodes_in(arg) if isinstance(a, cst.Arg)]
            for keyword in keywords:
                if keyword.keyword is None:
                    continue
                if isinstance(keyword.value, cst.Name) and keyword.value.value == self_name:
                    continue
                fields.add(keyword.keyword.value.split("__")[0])
    return fields


def _fields_read(expression: cst.BaseExpression) -> set[str]:
    """Fields a query filters on or aggregates: keywords and field-name strings in its chain."""
    fields: set[str] = set()
    for node in nodes_in(expression, into_definitions=True):
        if isinstance(node, cst.Arg) and node.keyword is not None:
            fields.add(node.keyword.value.split("__")[0])
        elif isinstance(node, cst.SimpleString):
            value = string_value(node)
            if value is not None:
                fields.add(value.split("__")[0].lstrip("-"))
    return fields


def _can_reset(model: ModuleModel, class_node: cst.ClassDef, cache: InstanceCache) -> bool:
    """Whether anything in the class, besides the caching method, can reset the cache:
    `del self.x`, `self._x = ...`, `self.__dict__.pop("x")`, `delattr(self, "_x")`, a list of
    names to reset, `self.x.cache_clear()`, or `__dict__`/`delattr` with computed names."""
    if cache.kind is CacheKind.LRU_CACHE:
        caches = ModuleCaches.of(model)
        key = f"{class_node.name.value}.{cache.function.name}"
        return caches.is_cleared(key)
    stack = list(children(class_node.body))
    while stack:
        node = stack.pop()
        if node is cache.function.node:
            continue
        if isinstance(node, cst.FunctionDef) and node.name.value in ("__init__", "__new__"):
            continue  # runs once, before any value is cached
        if _resets(node, cache.attribute, cache.self_name):
            return True
        stack.extend(children(node))
    return False


def _resets(node: cst.CSTNode, attribute: str, self_name: str) -> bool:
    """One node that can reset `attribute`: its name is only evidence where names of
    attributes to reset are given (`pop`, `delattr`, `__dict__[...]`, a list of names)."""
    if isinstance(node, (cst.Assign, cst.AugAssign, cst.AnnAssign)):
        targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
        return any(_names_attribute(t, attribute) for t in targets)
    if isinstance(node, cst.Del):
        return any(_names_attribute(t, attribute) for t in _del_targets(node.target))
    if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
        return any(isinstance(e, cst.Element) and string_value(e.value) == attribute for e in node.elements)
    if not isinstance(node, cst.Call):
        return False
    func = node.func
    if isinstance(func, cst.Attribute) and _dict_of(func.value):
        if func.attr.value in ("clear", "update"):
            return True  # `self.__dict__.clear()`, `vars(self).update(...)`
        return func.attr.value == "pop" and bool(node.args) and _may_name(node.args[0].value, attribute)
    if isinstance(func, cst.Name) and func.value in ("delattr", "setattr") and len(node.args) >= 2:
        name = string_value(node.args[1].value)
        if name is not None:
            return name == attribute
        # A computed name on this object (`for name in cached: delattr(self, name)`).
        return isinstance(node.args[0].value, cst.Name) and node.args[0].value.value == self_name
    return False


def _names_attribute(target: cst.BaseExpression, attribute: str) -> bool:
    """`x._count` or `x.__dict__["_count"]` (or a computed key) as a target."""
    if isinstance(target, cst.Attribute):
        return target.attr.value == attribute
    if isinstance(target, cst.Subscript) and _dict_of(target.value):
        return any(
            isinstance(element.slice, cst.Index) and _may_name(element.slice.value, attribute)
            for element in target.slice
        )
    return False


def _may_name(node: cst.BaseExpression, attribute: str) -> bool:
    """A string that is `attribute`, or a computed name that may be."""
    value = string_value(node)
    if value is not None:
        return value == attribute
    return not isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.Integer))


def _del_targets(target: cst.BaseExpression) -> list[cst.BaseExpression]:
    if isinstance(target, (cst.Tuple, cst.List)):
        return [element.value for element in target.elements]
    return [target]


def _dict_of(node: cst.BaseExpression) -> bool:
    """`self.__dict__`, `vars(self)`, and `self.__dict__[...]`."""
    if isinstance(node, cst.Subscript):
        node = node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value == "__dict__"
    return isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "vars"


# the fix: return the fresh value --------------------------------------------------------------
def fresh_value_fix(model: ModuleModel, cache: InstanceCache, title: str) -> Fix | None:
    """Drop the cache: `@cached_property` becomes `@property`, `@lru_cache` goes, and the
    `if not hasattr(self, "_x"): self._x = <aggregate>` / `return self._x` body becomes
    `return <aggregate>`. Other bodies are left alone (no fix)."""
    node = cache.function.node
    replacement: cst.FunctionDef | None = None
    if _filled_outside_class(model, cache):
        return None
    if cache.kind is CacheKind.CACHED_PROPERTY and cache.decorator is not None:
        if "property" in model.root.bound_names or "property" in model.imports.bindings:
            return None
        decorators = [
            d.with_changes(decorator=cst.Name("property")) if d is cache.decorator else d for d in node.decorators
        ]
        replacement = node.with_changes(decorators=decorators)
    elif cache.kind is CacheKind.LRU_CACHE and cache.decorator is not None:
        replacement = node.with_changes(decorators=[d for d in node.decorators if d is not cache.decorator])
    elif cache.kind is CacheKind.ATTRIBUTE and isinstance(node.body, cst.IndentedBlock):
        body = _fresh_body(list(node.body.body), cache.attribute, cache.self_name)
        if body is not None:
            replacement = node.with_changes(body=node.body.with_changes(body=body))
    if replacement is None:
        return None
    return Fix(title, FixSafety.UNSAFE, (NodeEdit(node, replacement),))


# `item.has_variations = ...` as a statement (`receiver.attribute =` at the start of a
# line), `obj.__dict__["has_alerts"] = ...`, `setattr(obj, "has_alerts", ...)`.
ASSIGNED_ATTRIBUTE = re.compile(r"\.(\w+)[ \t]*=(?!=)")
RECEIVER_AT_LINE_START = re.compile(r"[ \t]*([A-Za-z_][\w.]*)")
DICT_ASSIGNMENT = re.compile(r"__dict__\[\s*['\"](\w+)['\"]\s*\]\s*=(?!=)")
SETATTR_NAME = re.compile(r"\bsetattr\(\s*[\w.]+\s*,\s*['\"](\w+)['\"]")


def assigned_attribute_names(source: str) -> set[str]:
    """Attribute names a module assigns on objects other than `self`/`cls`, from its text."""
    names = {attribute for receiver, attribute in attribute_assignments(source) if receiver not in ("self", "cls")}
    if "__dict__" in source:
        names.update(DICT_ASSIGNMENT.findall(source))
    if "setattr(" in source:
        names.update(SETATTR_NAME.findall(source))
    return names


def attribute_assignments(source: str) -> Iterator[tuple[str, str]]:
    """(receiver, attribute) of each line that starts with `receiver.attribute =`: what
    `^[ \\t]*([A-Za-z_][\\w.]*)\\.(\\w+)[ \\t]*=(?!=)` finds in MULTILINE mode, searched
    from its literal `.` (see `prescan`)."""
    match = ASSIGNED_ATTRIBUTE.search(source)
    while match is not None:
        dot = match.start()
        receiver = RECEIVER_AT_LINE_START.fullmatch(source, line_start(source, dot), dot)
        if receiver is not None:
            yield receiver.group(1), match.group(1)
        match = ASSIGNED_ATTRIBUTE.search(source, dot + 1)


def why_no_fresh_value_fix(model: ModuleModel, cache: InstanceCache) -> str:
    """Why `fresh_value_fix` leaves `cache` alone."""
    if _filled_outside_class(model, cache):
        return f"`{cache.attribute}` is assigned from outside the class"
    if cache.kind is CacheKind.CACHED_PROPERTY and cache.decorator is not None:
        return "`property` is rebound in this module"
    return "the function does more than cache the value"


def _filled_outside_class(model: ModuleModel, cache: InstanceCache) -> bool:
    """`obj.__dict__["has_alerts"] = ...` or `obj._count = ...` outside the class: a prefetch
    fills the cache for a whole list (weblate's `prefetch_project_flags`). A `@property`
    ignores what `__dict__` holds and refuses assignment, so dropping the cache would
    break the prefetch. Other modules' assignments come from the project's facts."""
    if cache.attribute in model.settings.assigned_attributes:
        return True
    stack: list[cst.CSTNode] = [model.module]
    while stack:
        node = stack.pop()
        if node is cache.class_node:
            continue
        if isinstance(node, (cst.Assign, cst.AugAssign, cst.AnnAssign)):
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            if any(_names_attribute(target, cache.attribute) for target in targets):
                return True
        stack.extend(children(node))
    return False


def _fresh_body(
    statements: list[cst.BaseStatement], attribute: str, self_name: str
) -> list[cst.BaseStatement] | None:
    """The canonical caching bodies, rewritten to return the value they cached.

    A: `if <check>: ...; self._x = E` + `return self._x`  ->  `...; return E`
    B: `if <check>: return self._x` + `self._x = E` + `return self._x`  ->  `return E`
    C: `v = getattr(self, "_x", None)` + `if v is None: ...; v = self._x = E` + `return v`
    """
    docstring = statements[:1] if statements and _is_docstring(statements[0]) else []
    rest = statements[len(docstring):]
    if len(rest) == 2 and isinstance(rest[0], cst.If):
        variable = None
        check = rest[0]
    elif len(rest) == 3 and isinstance(rest[1], cst.If):
        variable = _getattr_variable(rest[0], attribute, self_name)
        if variable is None:
            return _shape_b(docstring, rest, attribute, self_name)
        check = rest[1]
    elif len(rest) == 3 and isinstance(rest[0], cst.If):
        return _shape_b(docstring, rest, attribute, self_name)
    else:
        return None
    if check.orelse is not None or not isinstance(check.body, cst.IndentedBlock):
        return None
    if not _is_cache_check(check.test, attribute, self_name, variable):
        return None
    returned = _returned(rest[-1])
    if returned is None or not _names_cache(returned, attribute, self_name, variable):
        return None
    inner = list(check.body.body)
    value = _cached_value(inner[-1] if inner else None, attribute, self_name) if inner else None
    if value is None:
        return None
    return [*docstring, *inner[:-1], _return(value, inner[-1])]


def _shape_b(
    docstring: list[cst.BaseStatement], rest: list[cst.BaseStatement], attribute: str, self_name: str
) -> list[cst.BaseStatement] | None:
    check = rest[0]
    if not isinstance(check, cst.If) or check.orelse is not None or not isinstance(check.body, cst.IndentedBlock):
        return None
    if not _is_cache_check(check.test, attribute, self_name, None, positive=True):
        return None
    if len(check.body.body) != 1:
        return None
    early = _returned(check.body.body[0])
    if early is None or not _names_cache(early, attribute, self_name, None):
        return None
    value = _cached_value(rest[1], attribute, self_name)
    returned = _returned(rest[2])
    if value is None or returned is None or not _names_cache(returned, attribute, self_name, None):
        return None
    return [*docstring, _return(value, rest[1])]


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _single(statement: cst.BaseStatement | None) -> cst.BaseSmallStatement | None:
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        return statement.body[0]
    return None


def _returned(statement: cst.BaseStatement) -> cst.BaseExpression | None:
    small = _single(statement)
    return small.value if isinstance(small, cst.Return) else None


def _names_cache(node: cst.BaseExpression, attribute: str, self_name: str, variable: str | None) -> bool:
    if variable is not None and isinstance(node, cst.Name):
        return node.value == variable
    return _self_attribute(node, self_name) == attribute


def _getattr_variable(statement: cst.BaseStatement, attribute: str, self_name: str) -> str | None:
    """`v = getattr(self, "_x", None)` -> `v`."""
    small = _single(statement)
    if not isinstance(small, cst.Assign) or len(small.targets) != 1 or not isinstance(small.targets[0].target, cst.Name):
        return None
    value = small.value
    if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value == "getattr"):
        return None
    args = value.args
    if len(args) != 3 or not (isinstance(args[0].value, cst.Name) and args[0].value.value == self_name):
        return None
    if string_value(args[1].value) != attribute or not _is_none(args[2].value):
        return None
    return small.targets[0].target.value


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


def _is_cache_check(
    test: cst.BaseExpression, attribute: str, self_name: str, variable: str | None, positive: bool = False
) -> bool:
    """Exactly a test for "not cached yet" (or, with `positive`, for "cached")."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        inner = test.expression
        if positive:
            return False
        if isinstance(inner, cst.Call) and isinstance(inner.func, cst.Name) and inner.func.value == "hasattr":
            return _hasattr_of(inner, attribute, self_name)
        return variable is not None and isinstance(inner, cst.Name) and inner.value == variable
    if positive and isinstance(test, cst.Call) and isinstance(test.func, cst.Name) and test.func.value == "hasattr":
        return _hasattr_of(test, attribute, self_name)
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        target = test.comparisons[0]
        wanted = cst.IsNot if positive else cst.Is
        if not isinstance(target.operator, wanted) or not _is_none(target.comparator):
            return False
        left = test.left
        if variable is not None:
            return isinstance(left, cst.Name) and left.value == variable
        if _self_attribute(left, self_name) == attribute:
            return True
        return (
            isinstance(left, cst.Call)
            and isinstance(left.func, cst.Name)
            and left.func.value == "getattr"
            and len(left.args) == 3
            and string_value(left.args[1].value) == attribute
            and _is_none(left.args[2].value)
        )
    return False


def _hasattr_of(call: cst.Call, attribute: str, self_name: str) -> bool:
    args = call.args
    return (
        len(args) == 2
        and isinstance(args[0].value, cst.Name)
        and args[0].value.value == self_name
        and string_value(args[1].value) == attribute
    )


def _cached_value(statement: cst.BaseStatement | None, attribute: str, self_name: str) -> cst.BaseExpression | None:
    """The value of `self._x = E` (also `v = self._x = E`)."""
    if statement is None:
        return None
    small = _single(statement)
    if not isinstance(small, cst.Assign):
        return None
    if not any(_self_attribute(t.target, self_name) == attribute for t in small.targets):
        return None
    return small.value


def _return(value: cst.BaseExpression, replaced: cst.BaseStatement) -> cst.SimpleStatementLine:
    leading = replaced.leading_lines if isinstance(replaced, cst.SimpleStatementLine) else ()
    return cst.SimpleStatementLine(body=[cst.Return(value=value)], leading_lines=leading)


# text prescans: a file without these cannot hold the pattern, and is never parsed ------------
# (see txlint.prescan for why no pattern starts with `\b`, `^` or a lookbehind)
AGGREGATE_METHOD = re.compile(r"\.(?:count\(\)|exists\(\)|aggregate\()")
LEN_OF_QUERY = re.compile(r"len\([\w.]*\.(?:all|filter|exclude)\(")
# At the start of a line, after blanks: `@lru_cache`, `@functools.cache`.
CACHE_DECORATOR = re.compile(r"@[\w.]*cache\b")
ATTRIBUTE_OF_SELF = re.compile(r"[gh][ea][st]attr\(\s*self\b")
SELF_IS_NONE = re.compile(r"self\.\w+ is None")
AGGREGATE_TOKENS = ("count()", "exists()", "aggregate(", "len(")
INSTANCE_CACHE_TOKENS = ("cache", "hasattr", "getattr", " is None", "__dict__")
WRITER_TOKENS = ("create(", "add(", "remove(", "clear(", "set(", "delete(", "update(")
QUERY_TOKENS = ("objects", "_manager", ".count()", ".exists()", ".aggregate(", "_or_404", ".filter(", ".all()",
                "values_list(", ".values(", ".exclude(", "select_related(")  # fmt: skip
EMPTY_CONTAINER_TEXT = re.compile(
    r"^([ \t]*)(\w+)[ \t]*(?::[^=\n]+)?=[ \t]*(?:\{\}|\[\]|dict\(\)|list\(\)|(?:collections\.)?(?:defaultdict|OrderedDict)\()",
    re.MULTILINE,
)
# Where EMPTY_CONTAINER_TEXT can match: the lines holding such a value.
EMPTY_CONTAINER_VALUE = re.compile(r"=[ \t]*(?:\{\}|\[\]|dict\(\)|list\(\)|(?:collections\.)?(?:defaultdict|OrderedDict)\()")
# After `(?<![\w.])` (a module-level container) or `\.` (an attribute).
_FILL_TEXT = r"{name}(?:(?:\[[^\]\n]*\])+\s*=[^=]|(?:\[[^\]\n]*\])*\.(?:setdefault|update|append|extend|add|insert)\()"


def may_hold_instance_cache(source: str) -> bool:
    """An aggregate and an instance-caching shape in the same file: substrings first, they are cheaper."""
    return (
        "self." in source
        and contains_any(source, AGGREGATE_TOKENS)
        and contains_any(source, INSTANCE_CACHE_TOKENS)
        and _has_aggregate_text(source)
        and _has_instance_cache_text(source)
    )


def _has_aggregate_text(source: str) -> bool:
    """`.count()`, `.exists()`, `.aggregate(`, `len(qs.all(`."""
    return AGGREGATE_METHOD.search(source) is not None or search_word(LEN_OF_QUERY, source) is not None


def _has_instance_cache_text(source: str) -> bool:
    """`cached_property`, `lru_cache`, a `@...cache` decorator, `hasattr(self`, `self.x is None`, `__dict__`."""
    return (
        contains_any(source, ("cached_property", "lru_cache", "__dict__"))
        or search_indented(CACHE_DECORATOR, source) is not None
        or search_word(ATTRIBUTE_OF_SELF, source) is not None
        or search_word(SELF_IS_NONE, source) is not None
    )


def may_hold_process_cache(source: str) -> bool:
    """An `lru_cache`/`cache` decorator, or an empty container that is filled somewhere:
    a module-level one by name (`_cache[key] = ...`, `_cache.setdefault(...)`), an indented
    one (a class attribute; function locals look the same) through an attribute
    (`cls._cache[key] = ...`)."""
    if "cache" in source and search_indented(CACHE_DECORATOR, source):
        return True
    if not contains_any(source, ("{}", "[]", "dict()", "list()", "defaultdict(", "OrderedDict(")):
        return False
    for module_level, name in _empty_containers(source):
        # A fill has `[` or `.` right after the name (and, unless module-level, `.` before it).
        head = name if module_level else "." + name
        if head + "[" not in source and head + "." not in source:
            continue
        fill = re.compile(_FILL_TEXT.format(name=name))
        if (search_after(fill, source, NAME_CHAR) if module_level else re.search(r"\." + fill.pattern, source)):
            return True
    return False


def _empty_containers(source: str) -> set[tuple[bool, str]]:
    """(module level, name) of each `name = {}` (or `[]`, `dict()`, ...) at the start of a line."""
    containers: set[tuple[bool, str]] = set()
    lines: set[int] = set()
    for value in EMPTY_CONTAINER_VALUE.finditer(source):
        first = line_start(source, value.start())
        match = EMPTY_CONTAINER_TEXT.match(source, first) if first not in lines else None
        lines.add(first)
        if match is not None:
            containers.add((match.group(1) == "", match.group(2)))
    return containers
    containers = {(match.group(1) == "", match.group(2)) for match in EMPTY_CONTAINER_TEXT.finditer(source)}
    for module_level, name in containers:
        prefix = r"(?<![\w.])" if module_level else r"\."
        if re.search(_FILL_TEXT.format(prefix=prefix, name=name), source):
            return True
    return False
