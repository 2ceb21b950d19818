"""Which calls write to a log, at what level, and whether they carry the traceback.

A logger is recognised by how it is reached, never by its text alone:
- the logging module itself (`logging.error(...)`, also through `import logging as lg`);
- the names projects conventionally give it (`logger`, `log`, `LOGGER`, `LOG`, `_logger`,
  `_log`, and `self.`/`cls.` with one of those), unless imported from elsewhere under
  that name as something else;
- any name assigned from `logging.getLogger(...)`, `structlog.get_logger(...)` or
  `structlog.getLogger(...)` at module level, in a class body or in the function;
- the names configured in `logger_names` (`audit_log`, `self.audit`);
- a logger reached through one of those (`logging.getLogger(__name__).error(...)`,
  `log.bind(user=u).warning(...)`, `logger.getChild("x").info(...)`).

A call is a log call when one of those receives a level method (`debug` ... `critical`,
`warn`, `fatal`, `exception`) or `log(level, ...)` with a level it can read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from txlint.django.imports import dotted_name
from txlint.django.model import CallSite, Frame, ModuleModel
from txlint.django.names import keyword_argument
from txlint.lazy import cst

# Numeric levels, as in the logging module.
LEVELS = {
    "debug": 10,
    "info": 20,
    "warning": 30,
    "warn": 30,
    "error": 40,
    "exception": 40,
    "critical": 50,
    "fatal": 50,
}
WARNING = 30
ERROR = 40
LEVEL_CONSTANTS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "WARN": 30, "ERROR": 40, "CRITICAL": 50, "FATAL": 50}
COMMON_LOGGER_NAMES = frozenset({"logger", "log", "LOGGER", "LOG", "_logger", "_log", "_LOGGER"})
SELF_NAMES = frozenset({"self", "cls"})
LOGGER_FACTORIES = frozenset(
    {"logging.getLogger", "structlog.get_logger", "structlog.getLogger", "structlog.stdlib.get_logger",
     "celery.utils.log.get_task_logger", "celery.utils.log.get_logger"}
)
# Methods that return another logger: `log.bind(...)`, `logger.getChild(...)`.
DERIVED_LOGGERS = frozenset({"bind", "new", "getChild", "opt"})
TRACEBACK_KEYWORDS = ("exc_info", "stack_info")
_MEMO_KEY = ("txlint.django.logs", 0)


@dataclass(frozen=True)
class LogCall:
    call: cst.Call
    method: str  # as written: `error`, `warn`, `log`...
    level: int

    @property
    def visible(self) -> bool:
        """WARNING or above: what error monitors and default log configurations keep."""
        return self.level >= WARNING

    @property
    def is_error(self) -> bool:
        return self.level >= ERROR

    @property
    def carries_traceback(self) -> bool:
        """`logger.exception(...)`, or `exc_info`/`stack_info` set to anything but False/None."""
        if self.method == "exception":
            return True
        for name in TRACEBACK_KEYWORDS:
            arg = keyword_argument(self.call, name)
            if arg is not None and not _is_false(arg.value):
                return True
        return False

    @property
    def names_traceback_keyword(self) -> bool:
        """An explicit `exc_info=`/`stack_info=` (even False: a choice), or `**kwargs` that may hold one."""
        return any(keyword_argument(self.call, name) is not None for name in TRACEBACK_KEYWORDS) or any(
            arg.star == "**" for arg in self.call.args
        )


class Loggers:
    """The logger objects of one module, and the log calls made through them."""

    def __init__(self, model: ModuleModel) -> None:
        self.model = model
        # Names assigned a logger at module level (in order) and in class bodies.
        self.module_loggers: list[str] = []
        self.assigned: set[str] = set()
        self._find_assigned_loggers(model.module.body, module_level=True)

    @staticmethod
    def of(model: ModuleModel) -> Loggers:
        """The module's Loggers, built once and shared by every rule that asks."""
        found = model.memo.get(_MEMO_KEY)
        if not isinstance(found, Loggers):
            found = Loggers(model)
            model.memo[_MEMO_KEY] = found
        return found

    def log_call(self, site: CallSite) -> LogCall | None:
        return self.log_call_at(site.node, site.frame)

    def log_call_at(self, call: cst.Call, frame: Frame | None = None) -> LogCall | None:
        func = call.func
        if not isinstance(func, cst.Attribute):
            return None
        method = func.attr.value
        if method == "log":
            level = self._level_argument(call)
        else:
            level = LEVELS.get(method)
        if level is None or not self.is_logger(func.value, frame):
            return None
        return LogCall(call, method, level)

    def is_print(self, call: cst.Call) -> bool:
        """The builtin `print(...)`: output that no error monitor sees."""
        return (
            isinstance(call.func, cst.Name)
            and call.func.value == "print"
            and "print" not in self.model.imports.bindings
            and "print" not in self.model.module_level_defs
        )

    def is_logger(self, node: cst.BaseExpression, frame: Frame | None = None) -> bool:
        if isinstance(node, cst.Call):
            if self.model.qualify(node.func) in LOGGER_FACTORIES:
                return True
            func = node.func
            return isinstance(func, cst.Attribute) and func.attr.value in DERIVED_LOGGERS and self.is_logger(func.value, frame)
        dotted = dotted_name(node)
        if dotted is None:
            return False
        if dotted in self.model.settings.logger_names or self.model.qualify(node) == "logging":
            return True
        if isinstance(node, cst.Name):
            return self._is_logger_name(node.value, frame)
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name):
            if node.value.value in SELF_NAMES:
                return node.attr.value in COMMON_LOGGER_NAMES
            # `logging.root`, `settings.LOGGER` are too rare to be worth guessing; only the
            # logging module's own root logger counts.
            return self.model.qualify(node) == "logging.root"
        return False

    def _is_logger_name(self, name: str, frame: Frame | None) -> bool:
        if frame is not None:
            for function in frame.enclosing_functions():
                value = function.assignments.get(name)
                if value is not None:
                    # `log = ImportLog.objects.create(...)` is a record, not a logger.
                    return self.is_logger(value, None) or (name in COMMON_LOGGER_NAMES and _looks_like_logger(value))
        bound = self.model.imports.bindings.get(name)
        if bound is not None:
            # `from app.logs import logger` is a logger; `from math import log` is not.
            return name in COMMON_LOGGER_NAMES and bound.rsplit(".", 1)[-1] == name and not bound.startswith("math.")
        return name in COMMON_LOGGER_NAMES or name in self.assigned

    def _level_argument(self, call: cst.Call) -> int | None:
        """`logger.log(logging.ERROR, ...)`, `log.log(40, ...)`."""
        if not call.args or call.args[0].keyword is not None or call.args[0].star:
            return None
        value = call.args[0].value
        if isinstance(value, cst.Integer):
            number = int(value.value, 0)
            return number if 0 < number <= 50 else None
        qualified = self.model.qualify(value)
        if qualified is None or not qualified.startswith("logging."):
            return None
        return LEVEL_CONSTANTS.get(qualified.rsplit(".", 1)[-1])

    def logger_in_scope(self, frame: Frame) -> str | None:
        """A name that reaches a logger where `frame`'s code runs, for fixes that log."""
        for function in frame.enclosing_functions():
            for name, value in function.assignments.items():
                if self.is_logger(value):
                    return name
        candidates = [*self.module_loggers]
        candidates += [name for name in self.model.imports.bindings if self._is_logger_name(name, None)]
        candidates += [name for name in ("logging",) if self.model.imports.bindings.get(name) == "logging"]
        shadowed = {name for function in frame.enclosing_functions() for name in function.bound_names}
        return next((name for name in candidates if name not in shadowed), None)

    def _find_assigned_loggers(self, body: Sequence[cst.BaseStatement], module_level: bool) -> None:
        """`name = logging.getLogger(...)` at module level and in class bodies (not in functions:
        their assignments are in the model's frames)."""
        for statement in body:
            if isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    self._record(small, module_level)
            elif isinstance(statement, cst.ClassDef) and isinstance(statement.body, cst.IndentedBlock):
                self._find_assigned_loggers(statement.body.body, module_level=False)
            elif isinstance(statement, (cst.If, cst.Try)) and isinstance(statement.body, cst.IndentedBlock):
                self._find_assigned_loggers(statement.body.body, module_level)

    def _record(self, small: cst.BaseSmallStatement, module_level: bool) -> None:
        if isinstance(small, cst.Assign):
            value: cst.BaseExpression | None = small.value
            targets = [target.target for target in small.targets]
        elif isinstance(small, cst.AnnAssign):
            value, targets = small.value, [small.target]
        else:
            return
        if value is None:
            return
        common = all(isinstance(target, cst.Name) and target.value in COMMON_LOGGER_NAMES for target in targets)
        if not (common or self.is_logger(value)):
            return
        for target in targets:
            if isinstance(target, cst.Name):
                self.assigned.add(target.value)
                if module_level and target.value not in self.module_loggers:
                    self.module_loggers.append(target.value)


def _is_false(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value in ("False", "None")


def _looks_like_logger(value: cst.BaseExpression) -> bool:
    """`self.logger`, `get_task_logger(...)`, `LoggerAdapter(...)`: a value named like a logger."""
    if isinstance(value, cst.Call):
        value = value.func
    dotted = dotted_name(value)
    if dotted is None:
        return False
    last = dotted.rsplit(".", 1)[-1]
    return last in COMMON_LOGGER_NAMES or "logger" in last.lower()
