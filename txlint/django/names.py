"""Qualified names txlint knows about, and how configured names are matched."""

from __future__ import annotations

import ast
from collections.abc import Collection

from txlint.lazy import cst

ATOMIC = "django.db.transaction.atomic"
ON_COMMIT = "django.db.transaction.on_commit"
SET_ROLLBACK = "django.db.transaction.set_rollback"
TRANSACTION_MODULE = "django.db.transaction"
METHOD_DECORATOR = "django.utils.decorators.method_decorator"
CONTEXT_MANAGER_DECORATORS = frozenset(
    {"contextlib.contextmanager", "contextlib.asynccontextmanager"}
)


def names_match(qualified: str, configured: str) -> bool:
    """Whether a resolved name is the configured one.

    Relative imports of an unnamed module resolve to `.core.redis.f`; a project may be
    linted from inside its `src/` folder. Both still match `core.redis.f`.
    """
    name = qualified.lstrip(".")
    if name == configured or name.endswith("." + configured):
        return True
    return "." in name and configured.endswith("." + name)


def matches_any(qualified: str | None, configured: frozenset[str]) -> bool:
    return qualified is not None and any(names_match(qualified, name) for name in configured)


def resolve_callee(callee: str, known: Collection[str]) -> str | None:
    """A callee as the index knows it: exactly, or through a package re-export.

    `from core import start_job` names `core.start_job`, defined in `core.redis`: a
    unique known function of that name below the package stands for it.
    """
    if callee in known:
        return callee
    package, _, name = callee.rpartition(".")
    if not package:
        return None
    candidates = [k for k in known if k.startswith(package + ".") and k.endswith("." + name)]
    return candidates[0] if len(candidates) == 1 else None


def string_value(node: cst.BaseExpression) -> str | None:
    """The value of a plain string literal, None for anything computed."""
    if isinstance(node, cst.SimpleString):
        # Not libcst's `evaluated_value`: `ast.literal_eval`'s nested recursive functions
        # leave a reference cycle behind at every call (garbage for the cyclic collector).
        literal = ast.parse(node.value, mode="eval").body
        return literal.value if isinstance(literal, ast.Constant) and isinstance(literal.value, str) else None
    return None


def keyword_argument(call: cst.Call, keyword: str) -> cst.Arg | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg
    return None


def positional_arguments(call: cst.Call) -> list[cst.Arg]:
    return [arg for arg in call.args if arg.keyword is None and not arg.star]


def last_segment(qualified: str) -> str:
    return qualified.rsplit(".", 1)[-1]
