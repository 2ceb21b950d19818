"""How a fix names `transaction.on_commit`, `transaction.atomic` or `partial` at a given spot.

Reuse what the module already imports (`tx.on_commit`, `functools.partial`); otherwise
ask for an import, unless the name it would bind is already taken where the fix goes
(payment code often has a local `transaction` variable).
"""

from __future__ import annotations

from dataclasses import dataclass

from txlint.diagnostics import ImportRequest
from txlint.django.model import CallSite, Frame, ModuleModel
from txlint.lazy import cst


@dataclass(frozen=True)
class Reference:
    expression: cst.BaseExpression
    imports: tuple[ImportRequest, ...]


def _is_free(model: ModuleModel, frame: Frame, name: str, qualified: str) -> bool:
    """Whether `name` at `frame` can only mean `qualified` (or nothing yet)."""
    if any(name in function.bound_names for function in frame.enclosing_functions()):
        return False
    if name in model.root.bound_names:
        return False
    return model.imports.bindings.get(name, qualified) == qualified


def _expression(text: str) -> cst.BaseExpression:
    return cst.parse_expression(text)


def _existing(model: ModuleModel, frame: Frame, module: str, name: str) -> Reference | None:
    """`name` or `module_alias.name` through an import the module already has."""
    qualified = f"{module}.{name}"
    for local in model.imports.local_names_for(qualified):
        if _is_free(model, frame, local, qualified):
            return Reference(_expression(local), ())
    for local in model.imports.local_names_for(module):
        if _is_free(model, frame, local, module):
            return Reference(_expression(f"{local}.{name}"), ())
    return None


def reference(model: ModuleModel, frame: Frame, module: str, name: str, alias: str) -> Reference | None:
    """An expression for `module.name` (e.g. django.db.transaction + on_commit) at `frame`.

    Tries, in order: an existing import of the object itself, an existing import of its
    module, a new `from <parent> import <module>` and the same under `alias`.
    """
    existing = _existing(model, frame, module, name)
    if existing is not None:
        return existing
    parent, _, module_name = module.rpartition(".")
    for local in (module_name, alias):
        if _is_free(model, frame, local, module):
            request = ImportRequest(parent, module_name, None if local == module_name else local)
            return Reference(_expression(f"{local}.{name}"), (request,))
    return None


def function_reference(model: ModuleModel, frame: Frame, module: str, name: str) -> Reference | None:
    """An expression for a function such as functools.partial: `partial` or `functools.partial`."""
    existing = _existing(model, frame, module, name)
    if existing is not None:
        return existing
    if _is_free(model, frame, name, f"{module}.{name}"):
        return Reference(_expression(name), (ImportRequest(module, name),))
    if _is_free(model, frame, module, module):
        return Reference(_expression(f"{module}.{name}"), (ImportRequest(module),))
    return None


def deferred_until_commit(
    model: ModuleModel, frame: Frame, call: cst.Call, using: cst.BaseExpression | None = None
) -> Reference | None:
    """`transaction.on_commit(partial(f, *args, **kwargs))` for the call `f(*args, **kwargs)`.

    The arguments are still evaluated where the call stood; only the call itself waits
    for the commit. A call without arguments becomes `transaction.on_commit(f)`. Inside
    `atomic(using=alias)` the callback must be registered on that alias too, or Django
    attaches it to the default database (and runs it at once when no transaction is
    open there): the alias is passed on when it is a literal or a plain name.
    """
    if using is not None and not isinstance(using, (cst.SimpleString, cst.Name, cst.Attribute)):
        return None
    on_commit = reference(model, frame, "django.db.transaction", "on_commit", "db_transaction")
    if on_commit is None:
        return None
    extra = [] if using is None else [keyword("using", using)]
    if not call.args:
        return Reference(cst.Call(on_commit.expression, [cst.Arg(call.func), *extra]), on_commit.imports)
    partial = function_reference(model, frame, "functools", "partial")
    if partial is None:
        return None
    opening = call.whitespace_before_args
    if isinstance(opening, cst.ParenthesizedWhitespace):
        # A multi-line call keeps its layout: the callable takes its own line like the
        # arguments below it; a comment after the opening bracket stays there, once.
        after_callable: cst.BaseParenthesizableWhitespace = opening.with_changes(
            first_line=cst.TrailingWhitespace(), empty_lines=()
        )
    else:
        opening, after_callable = cst.SimpleWhitespace(""), cst.SimpleWhitespace(" ")
    callback = cst.Call(
        func=partial.expression,
        args=[cst.Arg(call.func, comma=cst.Comma(whitespace_after=after_callable)), *map(_parenthesized, call.args)],
        whitespace_before_args=opening,
    )
    return Reference(
        cst.Call(on_commit.expression, [cst.Arg(callback), *extra]), on_commit.imports + partial.imports
    )


def _parenthesized(argument: cst.Arg) -> cst.Arg:
    """The argument, a generator expression in parentheses: only a sole argument may go without."""
    value = argument.value
    if isinstance(value, cst.GeneratorExp) and not value.lpar:
        return argument.with_changes(value=value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()]))
    return argument


def why_not_deferred(site: CallSite, using: cst.BaseExpression | None) -> str:
    """Why a call inside a transaction cannot become `on_commit(partial(...))`."""
    if site.awaited:
        return "the call is awaited"
    if site.statement is None:
        return "the call's result is used"
    if using is not None and not isinstance(using, (cst.SimpleString, cst.Name, cst.Attribute)):
        return "the transaction's `using=` alias is computed"
    return "`transaction` or `partial` is shadowed here"


def keyword(name: str, value: cst.BaseExpression) -> cst.Arg:
    no_space = cst.SimpleWhitespace("")
    return cst.Arg(value, keyword=cst.Name(name), equal=cst.AssignEqual(no_space, no_space))
