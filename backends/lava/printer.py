"""IR expressions (sympy) -> vectorised NumPy source for the generated Lava modules.

An expression is printed the way the reference executor evaluates it
(backends/reference/evaluate.py): every Float becomes a symbol `_cK` (numbered by value), every
name a symbol `_aK` (numbered in sorted order), the built-ins become calls `ir_<Name>(...)`, and
the result goes through sympy's NumPy printer with lambdify's settings. sympy orders the terms
of a sum or product by symbol names, and that order decides how floating-point operations
associate, so printing this form makes a custom process compute the very bits the oracle
computes. Only the leaves differ: `_aK` prints as the code that reaches the name in the
generated kernel (`A['v']`, `P['tau']`, `pre(V['a'])`), `_cK` as an exact literal, and
`ir_Clip(...)` as a method of the kernel's `Domain` (`D.Clip(...)`, runtime.py).
"""

from __future__ import annotations

from typing import Callable

import sympy
from sympy.core.function import AppliedUndef
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.str import StrPrinter

from snnlang.ir import functions as F

from ..canonical import canonical, float_literal

OP_PREFIX = "ir_"


def _rename_ops(expr: sympy.Expr) -> sympy.Expr:
    return expr.replace(lambda e: isinstance(e, F._Op),
                        lambda e: sympy.Function(OP_PREFIX + type(e).__name__)(*e.args))


class _Printer(NumPyPrinter):
    def __init__(self, names: dict[str, str], floats: dict[str, float], leaf: Callable[[str], str],
                 domain: str) -> None:
        super().__init__({"fully_qualified_modules": True, "inline": True,
                          "allow_unknown_functions": True, "user_functions": {}})
        self._names = names
        self._floats = floats
        self._leaf = leaf
        self._domain = domain

    def _print_Symbol(self, expr, **kwargs) -> str:
        if expr.name in self._floats:
            return float_literal(self._floats[expr.name])
        return self._leaf(self._names.get(expr.name, expr.name))

    def _print_Function(self, expr) -> str:
        name = type(expr).__name__
        if isinstance(expr, AppliedUndef) and name.startswith(OP_PREFIX):
            args = ", ".join(self._print(a) for a in expr.args)
            return f"{self._domain}.{name[len(OP_PREFIX):]}({args})"
        return super()._print_Function(expr)


def print_expr(expr, leaf: Callable[[str], str], domain: str = "D") -> str:
    """NumPy code of one IR expression; `leaf(name)` gives the code of an IR name."""
    canon = canonical(expr)
    return _Printer(canon.names, canon.floats, leaf, domain).doprint(_rename_ops(canon.expr))


class _Describe(StrPrinter):
    """sympy's str printer with the built-ins printed as calls (sympy.stats would claim
    `Uniform`/`Normal` and fail)."""

    def _print(self, expr, **kwargs):
        if isinstance(expr, F._Op):
            return f"{type(expr).__name__}({', '.join(self._print(a) for a in expr.args)})"
        return super()._print(expr, **kwargs)


def describe(expr) -> str:
    """An IR expression as text, for comments and messages."""
    return _Describe().doprint(sympy.sympify(expr))


def names_of(expr) -> set[str]:
    """The IR names an expression reads."""
    if expr is None:
        return set()
    return {str(s) for s in sympy.sympify(expr).free_symbols}
