"""Rules register by living in `txlint.rules`: every `txlNNN_*.py` module holds one.

Which rules a selection chooses is known from the modules' names and `txlint.rules.OPT_IN`
alone, so that a run the cache answers imports no rule (nor libcst, which they need).
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from typing import TYPE_CHECKING

import txlint.rules

if TYPE_CHECKING:
    from txlint.rule import Rule


@lru_cache(maxsize=1)
def rule_modules() -> dict[str, str]:
    """Each rule's module name, by its code: `txl101_dispatch_in_transaction` holds TXL101."""
    return {
        info.name.partition("_")[0].upper(): info.name
        for info in pkgutil.iter_modules(txlint.rules.__path__)
        if info.name.startswith("txl")
    }


@lru_cache(maxsize=1)
def all_rules() -> tuple[type[Rule], ...]:
    from txlint.rule import Rule

    found: dict[str, type[Rule]] = {}
    for code, name in rule_modules().items():
        module = importlib.import_module(f"txlint.rules.{name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Rule) and value.__module__ == module.__name__:
                if value.code in found:
                    raise RuntimeError(f"rule code {value.code} is defined twice")
                if value.code != code:
                    raise RuntimeError(f"rule {value.code} lives in {name}, the module of {code}")
                if value.opt_in != (code in txlint.rules.OPT_IN):
                    raise RuntimeError(f"rule {code}: its opt_in and txlint.rules.OPT_IN disagree")
                found[code] = value
    if missing := set(rule_modules()) - set(found):
        raise RuntimeError(f"no rule in the module of {', '.join(sorted(missing))}")
    return tuple(found[code] for code in sorted(found))


def rule_for(code: str) -> type[Rule] | None:
    return next((rule for rule in all_rules() if rule.code == code.upper()), None)


def selected_codes(
    select: tuple[str, ...] = (),
    ignore: tuple[str, ...] = (),
    extend_select: tuple[str, ...] = (),
    strict: bool = False,
) -> tuple[str, ...]:
    """Codes of the rules chosen by code prefixes, as flake8 does: the longest matching prefix wins.

    With no `select`, every default rule runs. Opt-in rules behave like flake8's
    default-ignored codes: only `strict` or their exact code selects them.
    """
    explicit = {prefix.upper() for prefix in (*select, *extend_select)}
    chosen = []
    for code in sorted(rule_modules()):
        selected_by = _longest_prefix(code, select) if select else 0
        selected_by = max(selected_by, _longest_prefix(code, extend_select))
        if code in txlint.rules.OPT_IN and not strict and code not in explicit:
            continue
        if selected_by > _longest_prefix(code, ignore):
            chosen.append(code)
    return tuple(chosen)


def selected_rules(
    select: tuple[str, ...] = (),
    ignore: tuple[str, ...] = (),
    extend_select: tuple[str, ...] = (),
    strict: bool = False,
) -> tuple[type[Rule], ...]:
    """The rules of `selected_codes`."""
    return rules_of(selected_codes(select, ignore, extend_select, strict))


def rules_of(codes: tuple[str, ...]) -> tuple[type[Rule], ...]:
    return tuple(rule for rule in all_rules() if rule.code in codes)


def _longest_prefix(code: str, prefixes: tuple[str, ...]) -> int:
    return max((len(prefix) for prefix in prefixes if code.startswith(prefix.upper())), default=-1)
