"""Rules register by living in `txlint.rules`: every `txlNNN_*.py` module holds one."""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

import txlint.rules
from txlint.rule import Rule


@lru_cache(maxsize=1)
def all_rules() -> tuple[type[Rule], ...]:
    found: dict[str, type[Rule]] = {}
    for info in pkgutil.iter_modules(txlint.rules.__path__):
        if not info.name.startswith("txl"):
            continue
        module = importlib.import_module(f"txlint.rules.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Rule) and value.__module__ == module.__name__:
                if value.code in found:
                    raise RuntimeError(f"rule code {value.code} is defined twice")
                found[value.code] = value
    return tuple(found[code] for code in sorted(found))


def rule_for(code: str) -> type[Rule] | None:
    return next((rule for rule in all_rules() if rule.code == code.upper()), None)


def selected_rules(
    select: tuple[str, ...] = (),
    ignore: tuple[str, ...] = (),
    extend_select: tuple[str, ...] = (),
    strict: bool = False,
) -> tuple[type[Rule], ...]:
    """Rules chosen by code prefixes, as flake8 does: the longest matching prefix wins.

    With no `select`, every default rule runs. Opt-in rules behave like flake8's
    default-ignored codes: only `strict` or their exact code selects them.
    """
    explicit = {prefix.upper() for prefix in (*select, *extend_select)}
    chosen = []
    for rule in all_rules():
        selected_by = _longest_prefix(rule.code, select) if select else 0
        selected_by = max(selected_by, _longest_prefix(rule.code, extend_select))
        if rule.opt_in and not strict and rule.code not in explicit:
            continue
        if selected_by > _longest_prefix(rule.code, ignore):
            chosen.append(rule)
    return tuple(chosen)


def _longest_prefix(code: str, prefixes: tuple[str, ...]) -> int:
    return max((len(prefix) for prefix in prefixes if code.startswith(prefix.upper())), default=-1)
