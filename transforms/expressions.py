"""A small, safe expression language for derived columns, e.g.
``where(amount > 100, "big", "small")`` or ``round(price * qty, 2)``.

The text is parsed with ``ast.parse(mode="eval")`` and checked node by node against a
whitelist when the spec loads; evaluation walks the same tree over whole columns. Nothing
is ever compiled to code or passed to eval. Numbers are fixed-width numpy scalars, ``**``
needs a literal exponent of at most ``MAX_EXPONENT`` and strings cannot be repeated, so no
expression can make Python build a huge number or string.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.transforms import frame as fr
from assay.transforms.frame import Frame

MAX_LENGTH = 2000
MAX_DEPTH = 50
MAX_EXPONENT = 64
MAX_ROUND_DIGITS = 15

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


def is_column(value: Any) -> bool:
    """A pandas or cuDF Series (numpy scalars have no index, str has no dtype)."""
    return hasattr(value, "index") and hasattr(value, "dtype")


def _text(method: str) -> Callable[[Any], Any]:
    def call(value: Any) -> Any:
        if is_column(value):
            return getattr(value.str, method)()
        return None if value is None else getattr(str(value), method)()

    return call


def _length(value: Any) -> Any:
    if is_column(value):
        return fr.to_nullable(value.str.len(), "int64")  # nulls would make it float
    return None if value is None else np.int64(len(str(value)))


def _round(value: Any, digits: Any = 0) -> Any:
    return value.round(int(digits)) if is_column(value) else np.round(value, int(digits))


def _coalesce(*values: Any) -> Any:
    out = values[0]
    for value in values[1:]:
        out = out.fillna(value) if is_column(out) else (value if out is None else out)
    return out


def _is_null(value: Any) -> Any:
    return value.isna() if is_column(value) else value is None


def _where(cond: Any, then: Any, otherwise: Any) -> Any:
    if not is_column(cond):
        return then if cond else otherwise
    cond = cond.fillna(False).astype(bool)
    if not is_column(then):
        then = fr.broadcast(then, cond)
    return then.where(cond, otherwise)


def _part(field: str) -> Callable[[Any], Any]:
    def call(value: Any) -> Any:
        if not is_column(value):
            raise ValueError(f"{field}() needs a timestamp column")
        return fr.to_nullable(getattr(value.dt, field), "int32")  # NaT would make it float

    return call


# name -> (implementation, least arguments, most arguments)
FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int]] = {
    "abs": (abs, 1, 1),
    "round": (_round, 1, 2),
    "lower": (_text("lower"), 1, 1),
    "upper": (_text("upper"), 1, 1),
    "strip": (_text("strip"), 1, 1),
    "len": (_length, 1, 1),
    "coalesce": (_coalesce, 1, 16),
    "is_null": (_is_null, 1, 1),
    "where": (_where, 3, 3),
    "year": (_part("year"), 1, 1),
    "month": (_part("month"), 1, 1),
    "day": (_part("day"), 1, 1),
    "hour": (_part("hour"), 1, 1),
    "col": (None, 1, 1),  # col("a column name with spaces"): resolved by the evaluator
}


@dataclass(frozen=True)
class Expression:
    """A checked expression: its source text, its tree and the columns it reads."""

    text: str
    tree: ast.expr
    columns: frozenset[str]

    def evaluate(self, frame: Frame) -> Any:
        """The expression over ``frame``: a column, or a scalar if it reads no column."""
        missing = sorted(self.columns - set(frame.columns))
        if missing:
            raise ValueError(f"expression {self.text!r}: no such column(s) {missing}")
        return _Evaluator(frame).visit(self.tree)


def parse_expression(text: str) -> Expression:
    """Parse and check ``text``; raise ValueError naming what is not allowed."""
    if len(text) > MAX_LENGTH:
        raise ValueError(f"expression longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ValueError(f"expression {text!r} is not valid syntax: {exc.msg}") from None
    columns: set[str] = set()
    _check(tree, columns, depth=0)
    return Expression(text, tree, frozenset(columns))


def _check(node: ast.AST, columns: set[str], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"expression nested deeper than {MAX_DEPTH}")
    match node:
        case ast.Constant(value=value):
            _check_constant(value)
        case ast.Name(id=name):
            if name.startswith("__"):
                raise ValueError(f"name {name!r} is not allowed")
            columns.add(name)
        case ast.BinOp(op=op, left=left, right=right):
            if type(op) not in _BINARY:
                raise ValueError(f"operator {type(op).__name__} is not allowed")
            if isinstance(op, ast.Pow):
                _check_exponent(right)
            texts = [
                n for n in (left, right) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            ]
            if texts and not isinstance(op, ast.Add):
                raise ValueError("strings only support + with another string")
            _check_all([left, right], columns, depth)
        case ast.UnaryOp(op=ast.USub() | ast.UAdd() | ast.Not(), operand=operand):
            _check(operand, columns, depth + 1)
        case ast.BoolOp(values=values):
            _check_all(values, columns, depth)
        case ast.Compare(ops=ops, left=left, comparators=rest):
            if any(type(op) not in _COMPARE for op in ops):
                raise ValueError("only ==, !=, <, <=, >, >= comparisons are allowed")
            _check_all([left, *rest], columns, depth)
        case ast.Call(func=ast.Name(id=name), args=args, keywords=[]):
            _check_call(name, args, columns, depth)
        case ast.Call(func=ast.Attribute(attr=attr)):
            raise ValueError(f"attribute access (.{attr}) is not allowed")
        case ast.Call():
            raise ValueError("only calls of known functions by name, without keywords or *")
        case ast.Attribute(attr=attr):
            raise ValueError(f"attribute access (.{attr}) is not allowed")
        case _:
            raise ValueError(f"{type(node).__name__} is not allowed in an expression")


def _check_all(nodes: list[ast.expr], columns: set[str], depth: int) -> None:
    for child in nodes:
        _check(child, columns, depth + 1)


def _check_constant(value: Any) -> None:
    if value is not None and not isinstance(value, bool | int | float | str):
        raise ValueError(f"constant {value!r} is not allowed")
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        raise ValueError(f"integer {value} does not fit in 64 bits")


def _literal_number(node: ast.expr) -> Any:
    """The value of a (possibly negated) int or float literal, else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _literal_number(node.operand)
        return None if inner is None else -inner
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    return None


def _check_exponent(node: ast.expr) -> None:
    value = _literal_number(node)
    if value is None:
        raise ValueError("the exponent of ** must be a number literal")
    if abs(value) > MAX_EXPONENT:
        raise ValueError(f"exponent {abs(value)} is larger than {MAX_EXPONENT}")


def _check_digits(node: ast.expr) -> None:
    """round()'s digits: an integer literal numpy can scale by (10**digits in a float)."""
    value = _literal_number(node)
    if type(value) is not int or abs(value) > MAX_ROUND_DIGITS:
        raise ValueError(f"round()'s digits must be an integer literal from "
                         f"-{MAX_ROUND_DIGITS} to {MAX_ROUND_DIGITS}")


def _check_call(name: str, args: list[ast.expr], columns: set[str], depth: int) -> None:
    if name not in FUNCTIONS:
        raise ValueError(f"unknown function {name!r} (known: {', '.join(sorted(FUNCTIONS))})")
    _, least, most = FUNCTIONS[name]
    if any(isinstance(a, ast.Starred) for a in args):
        raise ValueError(f"{name}(): arguments cannot be unpacked with *")
    if not least <= len(args) <= most:
        raise ValueError(f"{name}() takes {least} to {most} argument(s), got {len(args)}")
    if name == "round" and len(args) == 2:
        _check_digits(args[1])
    if name == "col":
        if not (isinstance(args[0], ast.Constant) and isinstance(args[0].value, str)):
            raise ValueError('col() takes a column name in quotes, e.g. col("unit price")')
        columns.add(args[0].value)
        return
    _check_all(args, columns, depth)


class _Evaluator:
    """Walks a checked tree over the columns of one partition."""

    def __init__(self, frame: Frame) -> None:
        self.frame = frame

    def visit(self, node: ast.expr) -> Any:
        match node:
            case ast.Constant(value=value):
                return _scalar(value)
            case ast.Name(id=name):
                return self.frame[name]
            case ast.BinOp(op=op, left=left, right=right):
                return _arithmetic(op, self.visit(left), self.visit(right))
            case ast.UnaryOp(op=op, operand=operand):
                return _unary(op, self.visit(operand))
            case ast.BoolOp(op=op, values=values):
                return self._logic(op, values)
            case ast.Compare(left=left, ops=ops, comparators=rest):
                return self._compare(left, ops, rest)
            case ast.Call(func=ast.Name(id="col"), args=[ast.Constant(value=name)]):
                return self.frame[name]
            case ast.Call(func=ast.Name(id=name), args=args):
                return FUNCTIONS[name][0](*(self.visit(a) for a in args))
        raise ValueError(f"{type(node).__name__} is not allowed")  # unreachable once checked

    def _logic(self, op: ast.boolop, values: list[ast.expr]) -> Any:
        combine = operator.and_ if isinstance(op, ast.And) else operator.or_
        out = self.visit(values[0])
        for value in values[1:]:
            out = combine(out, self.visit(value))
        return out

    def _compare(self, left: ast.expr, ops: list[ast.cmpop], rest: list[ast.expr]) -> Any:
        out, current = None, self.visit(left)
        for op, node in zip(ops, rest, strict=True):
            following = self.visit(node)
            result = _COMPARE[type(op)](current, following)
            out = result if out is None else out & result
            current = following
        return out


def _scalar(value: Any) -> Any:
    """Numbers as fixed-width numpy scalars: arithmetic on them cannot grow without bound."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    return np.int64(value) if isinstance(value, int) else np.float64(value)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) or (is_column(value) and fr.is_string_like(value))


def _arithmetic(op: ast.operator, left: Any, right: Any) -> Any:
    texts = (_is_text(left), _is_text(right))
    if any(texts) and not (isinstance(op, ast.Add) and all(texts)):
        raise ValueError("strings only support + with another string")
    with np.errstate(all="ignore"):
        return _BINARY[type(op)](left, right)


def _unary(op: ast.unaryop, value: Any) -> Any:
    if isinstance(op, ast.Not):
        return ~value if is_column(value) else not value
    return -value if isinstance(op, ast.USub) else value
