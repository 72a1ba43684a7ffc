r"""Column expressions for aliases and event selections, evaluated safely on awkward or numpy arrays.

NanoAOD-style trees hold jagged collections (``Photon_pt``, ``Photon_mvaID``, ``nJet``,
``PV_npvs``); hepgan's models read flat columns (``pho1_pt``, ``n_vtx``). An *alias* maps one to
the other, ``pho1_pt = Photon_pt[:, 0]``, and a *cut* selects events, ``nPhoton >= 2``. Both are
Python-like expressions over the file's branches, parsed with :mod:`ast` and evaluated by a
small interpreter that knows only what is listed below: nothing in an expression (nor in a
config file holding one) can run other code.

Allowed:

* names of branches or columns, and numbers;
* arithmetic ``+ - * / // % **``, comparisons ``< <= > >= == !=`` (chains included),
  ``and``/``or``/``not`` and ``& | ~`` (element-wise);
* indexing and slicing of jagged arrays: ``Photon_pt[:, 0]``, ``Jet_pt[:, :2]``;
* functions: ``abs, sqrt, exp, log, log10, sin, cos, tan, arctan2, sinh, cosh, tanh, where,
  minimum, maximum`` (element-wise) and ``num, sum, min, max, any, all, first`` (per event, over
  a collection: ``num(Jet_pt)`` is the number of jets, ``first(Photon_pt)`` the first value or
  NaN when there is none).

Example:
    >>> import awkward as ak
    >>> arrays = {"Photon_pt": ak.Array([[50.0, 30.0], [40.0], [70.0, 35.0, 20.0]]), "nPhoton": ak.Array([2, 1, 3])}
    >>> mask = evaluate("nPhoton >= 2", arrays)
    >>> evaluate("Photon_pt[:, 1]", {k: v[mask] for k, v in arrays.items()}).tolist()
    [30.0, 35.0]
    >>> sorted(names("sqrt(Photon_pt[:, 0] * x)"))
    ['Photon_pt', 'x']
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Mapping
from typing import Any

import numpy as np

from hepgan.exceptions import ConfigError

__all__ = ["evaluate", "names", "parse_alias", "check"]

_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
    ast.BitAnd: operator.and_, ast.BitOr: operator.or_,
}  # fmt: skip
_COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Eq: operator.eq, ast.NotEq: operator.ne}
_ELEMENTWISE = {
    name: getattr(np, name)
    for name in ("sqrt", "exp", "log", "log10", "sin", "cos", "tan", "arctan2", "sinh", "cosh", "tanh", "where", "minimum", "maximum")
}
_ELEMENTWISE["abs"] = np.abs


def _ak():
    import awkward as ak

    return ak


def _first(x):
    ak = _ak()
    return ak.fill_none(ak.firsts(x, axis=1), np.nan)


_PER_EVENT = {
    "num": lambda x: _ak().num(x, axis=1),
    "sum": lambda x: _ak().sum(x, axis=1),
    "min": lambda x: _ak().fill_none(_ak().min(x, axis=1), np.nan),
    "max": lambda x: _ak().fill_none(_ak().max(x, axis=1), np.nan),
    "any": lambda x: _ak().any(x, axis=1),
    "all": lambda x: _ak().all(x, axis=1),
    "first": _first,
}
FUNCTIONS = sorted([*_ELEMENTWISE, *_PER_EVENT])


def _parse(expr: str) -> ast.expr:
    if not isinstance(expr, str) or not expr.strip():
        raise ConfigError(f"expression {expr!r}: expected a non-empty expression, e.g. Photon_pt[:, 0]")
    try:
        return ast.parse(expr.strip(), mode="eval").body
    except SyntaxError as err:
        raise ConfigError(f"expression {expr!r}: not a valid expression ({err.msg})") from None


def names(expr: str) -> set[str]:
    """The branch or column names an expression reads (function names excluded)."""
    tree = _parse(expr)
    calls = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in calls}


def check(expr: str) -> None:
    """Raises ConfigError naming the first construct an expression may not use."""
    tree = _parse(expr)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                what = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                raise ConfigError(f"expression {expr!r}: unknown function '{what}' (known: {', '.join(FUNCTIONS)})")
            if node.keywords:
                raise ConfigError(f"expression {expr!r}: keyword arguments are not allowed")
        elif not isinstance(
            node,
            (ast.Name, ast.Constant, ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.Subscript, ast.Slice, ast.Tuple,
             ast.Load, ast.operator, ast.unaryop, ast.cmpop, ast.boolop),
        ):  # fmt: skip
            raise ConfigError(f"expression {expr!r}: '{ast.unparse(node)}' is not allowed in an expression")
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, bool)):
            raise ConfigError(f"expression {expr!r}: only numbers are allowed as constants, got {node.value!r}")


def evaluate(expr: str, arrays: Mapping[str, Any]) -> Any:
    """Evaluates an expression on a mapping of arrays (awkward or numpy, one entry per event).

    Raises:
        ConfigError: for a name that is not in ``arrays``, a construct that is not allowed, or
            an operation that fails on the data (e.g. ``Photon_pt[:, 1]`` on an event with one photon).
    """
    check(expr)
    tree = _parse(expr)
    try:
        return _eval(tree, arrays, expr)
    except ConfigError:
        raise
    except Exception as err:
        raise ConfigError(f"expression {expr!r}: cannot be evaluated on the data ({type(err).__name__}: {' '.join(str(err).split())[:200]})") from None


def _eval(node: ast.expr, arrays: Mapping[str, Any], expr: str) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in arrays:
            import difflib

            close = difflib.get_close_matches(node.id, list(arrays), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"expression {expr!r}: no branch or column '{node.id}'{hint}")
        return arrays[node.id]
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_eval(node.left, arrays, expr), _eval(node.right, arrays, expr))
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, arrays, expr)
        if isinstance(node.op, ast.USub):
            return -v
        if isinstance(node.op, ast.UAdd):
            return v
        return ~v if not isinstance(v, bool) else not v  # Not, Invert
    if isinstance(node, ast.Compare):
        left, out = _eval(node.left, arrays, expr), None
        for op, comp in zip(node.ops, node.comparators):
            right = _eval(comp, arrays, expr)
            part = _COMPARE[type(op)](left, right)
            out = part if out is None else out & part
            left = right
        return out
    if isinstance(node, ast.BoolOp):
        values = [_eval(v, arrays, expr) for v in node.values]
        out = values[0]
        for v in values[1:]:
            out = (out & v) if isinstance(node.op, ast.And) else (out | v)
        return out
    if isinstance(node, ast.Subscript):
        return _eval(node.value, arrays, expr)[_index(node.slice, arrays, expr)]
    if isinstance(node, ast.Call):
        args = [_eval(a, arrays, expr) for a in node.args]
        fn = _ELEMENTWISE.get(node.func.id) or _PER_EVENT[node.func.id]
        return fn(*args)
    raise ConfigError(f"expression {expr!r}: '{ast.unparse(node)}' is not allowed")  # check() catches it first


def _index(node: ast.expr, arrays: Mapping[str, Any], expr: str) -> Any:
    if isinstance(node, ast.Slice):
        part = [None if v is None else _eval(v, arrays, expr) for v in (node.lower, node.upper, node.step)]
        return slice(*part)
    if isinstance(node, ast.Tuple):
        return tuple(_index(e, arrays, expr) for e in node.elts)
    return _eval(node, arrays, expr)


def parse_alias(item: str) -> tuple[str, str]:
    """``"NAME=EXPRESSION"`` -> (name, expression), checked.

    Example:
        >>> parse_alias("pho1_pt = Photon_pt[:, 0]")
        ('pho1_pt', 'Photon_pt[:, 0]')
    """
    if "=" not in item:
        raise ConfigError(f"--alias {item}: expected NAME=EXPRESSION, e.g. pho1_pt=Photon_pt[:,0]")
    name, expr = (part.strip() for part in item.split("=", 1))
    if not name.isidentifier():
        raise ConfigError(f"--alias {item}: '{name}' is not a valid column name")
    check(expr)
    return name, expr
