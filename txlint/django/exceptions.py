"""What an `except` clause catches, what its handler does, and what a `try` body can raise.

Shared by the exception-handling rules (TXL2xx). The scanner records every `try` and
whether a handler raises; the questions here are answered from the handler's and the
body's own (small) subtrees.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from txlint.django.imports import dotted_name
from txlint.django.model import ModuleModel
from txlint.django.orm import QUERYSET_STEPS, caught_types
from txlint.django.reads import names_read
from txlint.lazy import cst
from txlint.prescan import search_word

BROAD = frozenset({"Exception", "BaseException", "builtins.Exception", "builtins.BaseException"})
# Text prescans (see txlint.prescan: each pattern follows a word boundary).
# A broad clause: `except:`, `except Exception`, `except (ValueError, Exception)`.
BROAD_CLAUSE = re.compile(r"except(?:\s*:|\b[^:]*Exception\b)")
# A broad handler whose first statement already leaves no trace (TXL202 needs all of
# them to): `pass`, `continue`, `...`, a string, `print(`, a debug/info/`.log(` call.
SILENT_BROAD_HANDLER = re.compile(
    r"except\b(?:\s*|[^:]*Exception\b[^:]*):[ \t]*(?:#[^\n]*)?\s*"
    r"(?:pass\b|continue\b|\.\.\.|print\s*\(|[rRbBuUfF]*['\"]|[^\n]*?\.(?:debug|info|log)\s*\()"
)
# A broad handler that binds the exception (`except Exception as e:`): TXL203 needs it.
BROAD_BOUND_HANDLER = re.compile(r"except\b[^:]*Exception\b[^:]*\bas\s+\w+\s*:")
BARE_CLAUSE = re.compile(r"except\s*:")


def may_have(handler_text: re.Pattern[str], source: str) -> bool:
    """A prescan above matches somewhere in `source`."""
    return "except" in source and search_word(handler_text, source) is not None


# ---------------------------------------------------------------------------------------
# the `except` clause


def is_broad(model: ModuleModel, handler: cst.ExceptHandler) -> bool:
    """A bare `except:`, `except Exception` or `except BaseException` (also inside a tuple)."""
    types = caught_types(model, handler)
    return types is None or any(name in BROAD for name in types)


def clause_text(model: ModuleModel, handler: cst.ExceptHandler) -> str:
    """`except:` or `except Exception` (the caught types on one line), for messages."""
    if handler.type is None:
        return "except:"
    return f"except {model.short(handler.type, limit=50)}"


def bound_name(handler: cst.ExceptHandler) -> str | None:
    """`e` in `except Exception as e`."""
    if handler.name is not None and isinstance(handler.name.name, cst.Name):
        return handler.name.name.value
    return None


# ---------------------------------------------------------------------------------------
# the handler's body


def statements(block: cst.BaseSuite) -> list[cst.CSTNode]:
    """The handler's statements, small statements of one line split apart.

    `except: pass` on one line and `except:\\n    x = 1; continue` both read as a list
    of small statements; compound statements (`if`, `for`, `with`...) stay whole.
    """
    found: list[cst.CSTNode] = []
    if isinstance(block, cst.SimpleStatementSuite):
        found.extend(block.body)
        return found
    assert isinstance(block, cst.IndentedBlock)
    for statement in block.body:
        if isinstance(statement, cst.SimpleStatementLine):
            found.extend(statement.body)
        else:
            found.append(statement)
    return found


def ends_with_bare_raise(handler: cst.ExceptHandler) -> bool:
    """The handler ends with `raise` on its own: whatever it did, the error goes on.

    A bare `raise` among the handler's own statements (not nested in an `if`) ends it:
    whatever follows cannot run. This is also where pycodestyle's E722 (as ruff
    implements it) stops reporting a bare `except:`.
    """
    return any(isinstance(statement, cst.Raise) and statement.exc is None for statement in statements(handler.body))


def is_placeholder(statement: cst.CSTNode) -> bool:
    """`pass`, `...` or a lone string: a statement that does nothing."""
    if isinstance(statement, cst.Pass):
        return True
    return isinstance(statement, cst.Expr) and isinstance(
        statement.value, (cst.Ellipsis, cst.SimpleString, cst.ConcatenatedString)
    )


# Comments addressed to tools or to later work: they do not explain a decision.
TOOL_COMMENT = re.compile(
    r"^#\s*(?:(?:noqa|pragma|pylint|nosec|nosemgrep|isort|TODO|FIXME|XXX|HACK)\b|type:|fmt:|[A-Z]{1,3}[0-9]{3}\b|$)",
    re.IGNORECASE,
)


def explanations(handler: cst.ExceptHandler) -> list[str]:
    """Comments (and strings standing as statements) in the handler that explain it.

    `except Exception:  # the parent session may be gone` or a comment line in the
    body records a decision; `# noqa: E722`, `# TODO` and `# type: ignore` do not.
    """
    found: list[str] = []
    block = handler.body
    if isinstance(block, cst.SimpleStatementSuite):
        comments = [block.trailing_whitespace.comment]
        body: Sequence[cst.CSTNode] = ()
    else:
        assert isinstance(block, cst.IndentedBlock)
        comments = [block.header.comment]
        body = block.body
        for line in block.footer:
            comments.append(line.comment)
    for statement in body:
        if isinstance(statement, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            comments.extend(line.comment for line in statement.leading_lines)
        if isinstance(statement, cst.SimpleStatementLine):
            comments.append(statement.trailing_whitespace.comment)
            found.extend(
                small.value.value for small in statement.body
                if isinstance(small, cst.Expr) and isinstance(small.value, cst.SimpleString) and len(small.value.value) > 8
            )
    found.extend(comment.value for comment in comments if comment is not None and not TOOL_COMMENT.match(comment.value))
    return found


def expression_call(statement: cst.CSTNode) -> cst.Call | None:
    """The call of an expression statement that is one call (`logger.debug(...)`), awaited or not."""
    if not isinstance(statement, cst.Expr):
        return None
    value = statement.value
    if isinstance(value, cst.Await):
        value = value.expression
    return value if isinstance(value, cst.Call) else None


def with_statements(handler: cst.ExceptHandler, lines: Sequence[cst.BaseStatement]) -> cst.ExceptHandler:
    """The handler with its body replaced by `lines`, keeping its comments.

    The comment after `except ...:` stays there; comment lines above the first old
    statement stay above the first new one. A one-line body (`except: pass`) becomes
    an indented block.
    """
    block = handler.body
    if isinstance(block, cst.SimpleStatementSuite):
        return handler.with_changes(body=cst.IndentedBlock(body=list(lines), header=block.trailing_whitespace))
    assert isinstance(block, cst.IndentedBlock)
    new = list(lines)
    if block.body and new and isinstance(block.body[0], (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
        first = block.body[0]
        if first.leading_lines and isinstance(new[0], cst.SimpleStatementLine):
            new[0] = new[0].with_changes(leading_lines=first.leading_lines)
    return handler.with_changes(body=block.with_changes(body=new))


def append_to_body(handler: cst.ExceptHandler, line: cst.SimpleStatementLine) -> cst.ExceptHandler:
    """The handler with `line` appended, after dropping a trailing `pass`/`continue`/`break`/bare `return`
    that would make it unreachable or pointless."""
    block = handler.body
    if isinstance(block, cst.SimpleStatementSuite):
        block = cst.IndentedBlock(body=[cst.SimpleStatementLine(body=block.body)], header=block.trailing_whitespace)
    assert isinstance(block, cst.IndentedBlock)
    lines: list[cst.BaseStatement] = list(block.body)
    while lines and isinstance(lines[-1], cst.SimpleStatementLine):
        last = lines[-1]
        kept = list(last.body)
        while kept and _ends_flow(kept[-1]):
            kept.pop()
        if kept == list(last.body):
            break
        if kept:
            kept[-1] = kept[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
            lines[-1] = last.with_changes(body=kept)
            break
        lines.pop()
    first = block.body[0] if block.body else None
    if not lines and isinstance(first, cst.SimpleStatementLine):
        line = line.with_changes(leading_lines=first.leading_lines)
    return handler.with_changes(body=block.with_changes(body=[*lines, line]))


def _ends_flow(statement: cst.BaseSmallStatement) -> bool:
    if isinstance(statement, cst.Return):
        return statement.value is None or (isinstance(statement.value, cst.Name) and statement.value.value == "None")
    return isinstance(statement, (cst.Pass, cst.Continue, cst.Break))


def uses_name(nodes: Sequence[cst.CSTNode], name: str) -> bool:
    """Whether the variable `name` is read anywhere in `nodes` (an f-string part counts)."""
    return name in names_read(*nodes)


# ---------------------------------------------------------------------------------------
# the narrowest exception a `try` body can raise (TXL201's fix)

IMPORT_ERROR, KEY_ERROR, INDEX_ERROR, LOOKUP_ERROR = "ImportError", "KeyError", "IndexError", "LookupError"
VALUE_ERROR, TYPE_ERROR = "ValueError", "TypeError"
CONVERSIONS = frozenset({"int", "float"})
JSON_LOADS = frozenset({"json.loads", "simplejson.loads", "ujson.loads", "orjson.loads"})
# Order in which inferred exceptions are written in the tuple.
_ORDER = (IMPORT_ERROR, KEY_ERROR, INDEX_ERROR, LOOKUP_ERROR, VALUE_ERROR, TYPE_ERROR)


class _Unknown(Exception):
    """The body does something whose exceptions cannot be told."""


def narrowest_exceptions(model: ModuleModel, body: cst.BaseSuite) -> tuple[str, ...] | None:
    """The exceptions a `try` body can raise, when every statement of it is understood.

    Understood: imports (ImportError); `Model.objects.get(...)`, also after `filter()`
    and friends (`Model.DoesNotExist`); `int(x)`/`float(x)` of a value (ValueError,
    TypeError); subscripts of a value (KeyError with a string key, IndexError with an
    integer index, LookupError when the key could be either); `json.loads(x)`
    (ValueError); names, attributes and literals (nothing). Statements are plain
    assignments to names, expression statements, `return` and `pass`. Anything else,
    or a body that raises nothing known, gives None: catch `Exception`.
    """
    try:
        found: set[str] = set()
        for statement in statements(body):
            found |= _statement(model, statement)
    except _Unknown:
        return None
    if not found:
        return None
    if KEY_ERROR in found and INDEX_ERROR in found:
        found |= {LOOKUP_ERROR}
    if LOOKUP_ERROR in found:
        found -= {KEY_ERROR, INDEX_ERROR}
    specific = sorted(name for name in found if name not in _ORDER)  # Model.DoesNotExist
    return tuple(name for name in _ORDER[:1] if name in found) + tuple(specific) + tuple(
        name for name in _ORDER[1:] if name in found
    )


def _statement(model: ModuleModel, statement: cst.CSTNode) -> set[str]:
    if isinstance(statement, (cst.Import, cst.ImportFrom)):
        return {IMPORT_ERROR}
    if is_placeholder(statement):
        return set()
    if isinstance(statement, cst.Assign):
        if not all(isinstance(target.target, cst.Name) for target in statement.targets):
            raise _Unknown
        return _expression(model, statement.value)
    if isinstance(statement, cst.AnnAssign) and isinstance(statement.target, cst.Name):
        return set() if statement.value is None else _expression(model, statement.value)
    if isinstance(statement, cst.Expr):
        return _expression(model, statement.value)
    if isinstance(statement, cst.Return):
        return set() if statement.value is None else _expression(model, statement.value)
    raise _Unknown


def _expression(model: ModuleModel, node: cst.BaseExpression) -> set[str]:
    if isinstance(node, (cst.Name, cst.SimpleString, cst.Integer, cst.Float, cst.Imaginary, cst.ConcatenatedString)):
        return set()
    if isinstance(node, cst.Attribute):
        # Reading an attribute of a value is taken not to fail (a property could).
        return _expression(model, node.value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.expression, (cst.Integer, cst.Float)):
        return set()
    if isinstance(node, (cst.Tuple, cst.List)):
        return set().union(*(_expression(model, element.value) for element in node.elements))
    if isinstance(node, cst.FormattedString):
        return set().union(
            *(_expression(model, part.expression) for part in node.parts if isinstance(part, cst.FormattedStringExpression))
        )
    if isinstance(node, cst.Subscript):
        return _subscript(model, node)
    if isinstance(node, cst.Call):
        return _call(model, node)
    raise _Unknown


def _subscript(model: ModuleModel, node: cst.Subscript) -> set[str]:
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        raise _Unknown  # slices, multi-dimensional indexing
    index = node.slice[0].slice.value
    root = node.value
    while isinstance(root, (cst.Attribute, cst.Subscript)):
        root = root.value
    if not isinstance(root, cst.Name) or root.value in model.imports.bindings:
        # `caches["redis"]`, `connections[alias]`, `settings.X[k]`: containers of a library
        # that raise their own errors (InvalidCacheBackendError, ConnectionDoesNotExist).
        raise _Unknown
    found = _expression(model, node.value) | _expression(model, index)
    if isinstance(index, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
        return found | {KEY_ERROR}
    if isinstance(index, cst.Integer) or (
        isinstance(index, cst.UnaryOperation) and isinstance(index.expression, cst.Integer)
    ):
        return found | {INDEX_ERROR}
    return found | {LOOKUP_ERROR}


def _call(model: ModuleModel, call: cst.Call) -> set[str]:
    arguments: set[str] = set()
    for arg in call.args:
        if arg.star:
            raise _Unknown
        arguments |= _expression(model, arg.value)
    func = call.func
    if isinstance(func, cst.Name) and func.value in CONVERSIONS and _is_builtin(model, func.value):
        if not call.args:
            raise _Unknown
        return arguments | {VALUE_ERROR, TYPE_ERROR}
    if model.qualify(func) in JSON_LOADS:
        return arguments | {VALUE_ERROR}
    model_class = _model_of_get(model, call)
    if model_class is not None:
        return arguments | {f"{model_class}.DoesNotExist"}
    raise _Unknown


def _model_of_get(model: ModuleModel, call: cst.Call) -> str | None:
    """`Order` in `Order.objects.get(...)` / `Order.objects.filter(...).get(...)`."""
    if not (isinstance(call.func, cst.Attribute) and call.func.attr.value == "get"):
        return None
    node = call.func.value
    while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in QUERYSET_STEPS:
        for arg in node.args:
            if arg.star:
                return None
            try:
                if _expression(model, arg.value):
                    return None
            except _Unknown:
                return None
        node = node.func.value
    if not (isinstance(node, cst.Attribute) and node.attr.value == "objects"):
        return None
    name = dotted_name(node.value)
    if name is None or not name.rsplit(".", 1)[-1][:1].isupper():
        return None
    return name


def _is_builtin(model: ModuleModel, name: str) -> bool:
    return name not in model.imports.bindings and name not in model.root.bound_names
