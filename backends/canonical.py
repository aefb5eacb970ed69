"""The form in which every backend evaluates an IR expression, so that all of them do the same
floating-point operations in the same order as the reference executor.

Every Float becomes a symbol `_cK` (numbered by value) and every name a symbol `_aK` (numbered
in sorted order). sympy orders the terms of a sum or product by symbol names, and that order
decides how the operations associate; with the names and numbers replaced by these stand-ins,
the order no longer depends on what a model calls its variables or which constants it uses.
The reference lambdifies this form with NumPy (backends/reference/evaluate.py); the printers of
numba, torch and lava print it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy


@dataclass(frozen=True)
class Canonical:
    expr: sympy.Expr                 # with _aK / _cK symbols
    names: dict[str, str]            # "_aK" -> the IR name ("v", "pre.a", "dt", ...), K in sorted order
    floats: dict[str, float]         # "_cK" -> its exact value, K in increasing value

    def original(self, node: sympy.Expr) -> sympy.Expr:
        """`node` with the IR names and numbers back (for comments)."""
        back = {sympy.Symbol(k): sympy.Symbol(v) for k, v in self.names.items()}
        back.update({sympy.Symbol(k): sympy.Float(v) for k, v in self.floats.items()})
        return node.xreplace(back)


def canonical(expr) -> Canonical:
    """`expr` in the reference executor's form (see the module docstring)."""
    expr = sympy.sympify(expr)
    floats = sorted(expr.atoms(sympy.Float), key=lambda f: float(f))
    consts = {f: sympy.Symbol(f"_c{k}") for k, f in enumerate(floats)}
    names = sorted(str(s) for s in expr.free_symbols)
    args = {sympy.Symbol(n): sympy.Symbol(f"_a{k}") for k, n in enumerate(names)}
    body = expr.xreplace(consts).xreplace(args)
    return Canonical(body, {f"_a{k}": n for k, n in enumerate(names)},
                     {f"_c{k}": float(f) for k, f in enumerate(floats)})


def float_literal(value: float, module: str = "numpy") -> str:
    """An exact Python literal for a double (parenthesised when negative); nan and inf as
    `module.nan` / `module.inf`."""
    if math.isnan(value):
        return f"{module}.nan"
    if math.isinf(value):
        return f"{module}.inf" if value > 0 else f"(-{module}.inf)"
    text = repr(float(value))
    return f"({text})" if text.startswith("-") else text
