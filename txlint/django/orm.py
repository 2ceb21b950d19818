"""ORM calls that write to the database, and the exceptions a failed write raises."""

from __future__ import annotations

from txlint.django.model import ModuleModel
from txlint.django.names import keyword_argument, last_segment, positional_arguments
from txlint.lazy import cst

# Writes that hold their own savepoint: a failure there leaves the transaction usable.
SELF_PROTECTED_WRITES = frozenset({"get_or_create", "update_or_create"})
QUERYSET_WRITES = frozenset({"create", "update", "delete", "bulk_create", "bulk_update"})
QUERYSET_STEPS = frozenset(
    {"objects", "filter", "exclude", "all", "select_for_update", "using", "get_queryset", "select_related", "only", "defer"}
)
ALWAYS_ORM = frozenset({"bulk_create", "bulk_update"})

# django.db's DatabaseError subclasses (PEP 249 names, also raised by the drivers).
DATABASE_ERRORS = frozenset(
    {"IntegrityError", "DatabaseError", "OperationalError", "DataError",
     "InternalError", "ProgrammingError", "NotSupportedError"}
)  # fmt: skip
DATABASE_ERROR_BASES = frozenset(
    {"django.db.DatabaseError", "django.db.utils.DatabaseError", "django.db.Error", "django.db.utils.Error"}
)
BROAD_EXCEPTIONS = frozenset({"Exception", "BaseException"})


def is_orm_write(model: ModuleModel, call: cst.Call) -> bool:
    """`obj.save()`, `Model.objects.create(...)`, `qs.filter(...).update(...)`, `cursor.execute()`.

    `.create()`/`.update()` count on querysets and on relations of local objects
    (`order.lines.create(...)`). `.save()` and `.delete()` count only without positional arguments: that is how a
    model instance is saved, while `image.save(path)` and `storage.delete(name)` are not
    database writes. `form.save(commit=False)` does not write.
    """
    if not isinstance(call.func, cst.Attribute):
        return False
    method = call.func.attr.value
    receiver = call.func.value
    if method in ALWAYS_ORM:
        return True
    if method == "save":
        commit = keyword_argument(call, "commit")
        committed = not (commit is not None and isinstance(commit.value, cst.Name) and commit.value.value == "False")
        return not positional_arguments(call) and committed
    if method == "delete" and not call.args:
        return True
    if method in QUERYSET_WRITES:
        return _is_queryset(receiver) or _is_related_manager(model, receiver)
    if method in ("execute", "executemany"):
        return _names_cursor(receiver)
    return False


def _is_queryset(node: cst.BaseExpression) -> bool:
    while True:
        if isinstance(node, cst.Call):
            if isinstance(node.func, cst.Attribute) and node.func.attr.value in QUERYSET_STEPS:
                return True
            node = node.func
        elif isinstance(node, cst.Attribute):
            if node.attr.value in QUERYSET_STEPS or node.attr.value.endswith("_set"):
                return True
            node = node.value
        else:
            return False


def _is_related_manager(model: ModuleModel, node: cst.BaseExpression) -> bool:
    """`order.lines`, `self.tasks`: a relation on a local object, not an imported API.

    `stripe.Customer.create(...)` has an imported root and a class attribute: not ORM.
    """
    return (
        isinstance(node, cst.Attribute)
        and isinstance(node.value, cst.Name)
        and node.value.value not in model.imports.bindings
        and node.attr.value.islower()
    )


def _names_cursor(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.Name):
        return "cursor" in node.value.lower()
    if isinstance(node, cst.Attribute):
        return "cursor" in node.attr.value.lower()
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return node.func.attr.value == "cursor"
    return False


def caught_types(model: ModuleModel, handler: cst.ExceptHandler) -> list[str] | None:
    """Qualified names an `except` clause names; None for a bare `except:`."""
    if handler.type is None:
        return None
    elements = (
        [element.value for element in handler.type.elements]
        if isinstance(handler.type, cst.Tuple)
        else [handler.type]
    )
    return [model.qualify(element) or model.code(element) for element in elements]


def catches_database_errors(types: list[str] | None) -> bool:
    """Bare, Exception, BaseException, or a DatabaseError subclass."""
    if types is None:
        return True
    return any(
        last_segment(name) in BROAD_EXCEPTIONS | DATABASE_ERRORS or name in DATABASE_ERROR_BASES for name in types
    )


def catches_every_database_error(types: list[str] | None) -> bool:
    """A handler that sees every database error: bare, broad, DatabaseError or django.db.Error."""
    if types is None:
        return True
    return any(
        last_segment(name) in BROAD_EXCEPTIONS or last_segment(name) == "DatabaseError" or name in DATABASE_ERROR_BASES
        for name in types
    )
