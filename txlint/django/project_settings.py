"""What a Django settings module says about ATOMIC_REQUESTS.

Only `DATABASES[alias]["ATOMIC_REQUESTS"]` counts (Django ignores a top-level
`ATOMIC_REQUESTS = True`), and only a literal `True`: a value read from the environment
is unknown, and unknown is off unless `atomic_requests` is configured.
"""

from __future__ import annotations

import re

from txlint.django.names import string_value
from txlint.lazy import cst

SETTINGS_MODULE = re.compile(r"(^|[/\\])(settings[^/\\]*\.py|[^/\\]*_settings\.py|settings[/\\][^/\\]+\.py)$")


def is_settings_path(path: str) -> bool:
    return bool(SETTINGS_MODULE.search(path))


def turns_on_atomic_requests(module: cst.Module) -> bool:
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Assign) and _sets_atomic_requests(small):
                return True
    return False


def _sets_atomic_requests(assign: cst.Assign) -> bool:
    for target in assign.targets:
        if isinstance(target.target, cst.Name) and target.target.value == "DATABASES":
            return isinstance(assign.value, cst.Dict) and any(
                isinstance(element, cst.DictElement) and _alias_is_atomic(element.value)
                for element in assign.value.elements
            )
        if _is_databases_atomic_requests_key(target.target):
            return _is_true(assign.value)
    return False


def _alias_is_atomic(config: cst.BaseExpression) -> bool:
    if isinstance(config, cst.Dict):
        return any(
            isinstance(element, cst.DictElement)
            and string_value(element.key) == "ATOMIC_REQUESTS"
            and _is_true(element.value)
            for element in config.elements
        )
    if isinstance(config, cst.Call) and isinstance(config.func, cst.Name) and config.func.value == "dict":
        return any(
            arg.keyword is not None and arg.keyword.value == "ATOMIC_REQUESTS" and _is_true(arg.value)
            for arg in config.args
        )
    return False


def _is_databases_atomic_requests_key(target: cst.BaseExpression) -> bool:
    """`DATABASES["default"]["ATOMIC_REQUESTS"]`."""
    if not isinstance(target, cst.Subscript) or len(target.slice) != 1:
        return False
    index = target.slice[0].slice
    if not (isinstance(index, cst.Index) and string_value(index.value) == "ATOMIC_REQUESTS"):
        return False
    inner = target.value
    return isinstance(inner, cst.Subscript) and isinstance(inner.value, cst.Name) and inner.value.value == "DATABASES"


def _is_true(value: cst.BaseExpression) -> bool:
    return isinstance(value, cst.Name) and value.value == "True"
