"""Resolve names through a module's imports: `tx.atomic` -> `django.db.transaction.atomic`.

A small purpose-built pass instead of libcst's QualifiedNameProvider, which needs the
Scope provider and costs several parses' worth of time on every file.
"""

from __future__ import annotations

from txlint.lazy import cst


def dotted_name(node: cst.BaseExpression) -> str | None:
    """`a.b.c` for a Name/Attribute chain, None for anything else."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted_name(node.value)
        return None if base is None else f"{base}.{node.attr.value}"
    return None


def resolve_relative(module: str | None, is_package: bool, level: int, target: str) -> str:
    """Absolute name of `from <level dots><target> import ...` inside `module`.

    When the importing module's own name is unknown the dots are kept (`.tasks`), so
    the path segments still carry their meaning.
    """
    if module is None:
        return "." * level + target
    parts = module.split(".")
    keep = len(parts) - level + (1 if is_package else 0)
    if keep < 0:
        return "." * level + target
    base = ".".join(parts[:keep])
    return f"{base}.{target}" if base and target else base or target


class ImportTable:
    """Local name -> qualified name, for every import in the module."""

    def __init__(self, module: str | None = None, is_package: bool = False) -> None:
        self.module = module
        self.is_package = is_package
        self.bindings: dict[str, str] = {}

    def add_import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = dotted_name(alias.name)
            if full is None:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.bindings[alias.asname.name.value] = full
            else:
                root = full.split(".", 1)[0]
                self.bindings[root] = root

    def add_import_from(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            return
        target = dotted_name(node.module) if node.module is not None else ""
        if target is None:
            return
        source = (
            resolve_relative(self.module, self.is_package, len(node.relative), target)
            if node.relative
            else target
        )
        for alias in node.names:
            if not isinstance(alias.name, cst.Name):
                continue
            local = alias.name.value
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            self.bindings[local] = f"{source}.{alias.name.value}"

    def local_names_for(self, qualified: str) -> list[str]:
        """Local names bound to `qualified` (`transaction` or `tx` for django.db.transaction)."""
        return [local for local, full in self.bindings.items() if full == qualified]
