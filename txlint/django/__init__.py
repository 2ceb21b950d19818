"""What Django code means, in one place: transactions, dispatches, on_commit."""

from __future__ import annotations

from functools import cached_property

from txlint.django.dispatch import Dispatches
from txlint.django.model import ModuleModel
from txlint.django.transactions import Transactions


class DjangoModule:
    """A scanned module with its Django semantics, computed on first use and shared by rules."""

    def __init__(self, model: ModuleModel) -> None:
        self.model = model

    @cached_property
    def transactions(self) -> Transactions:
        return Transactions(self.model)

    @cached_property
    def dispatches(self) -> Dispatches:
        return Dispatches(self.model)


__all__ = ["DjangoModule", "ModuleModel"]
