"""Pieces every generated kernel shares: variable tables, parameter defaults, statements.

A kernel is a plain-NumPy class in the generated module (no Lava in it); the custom Lava
ProcessModels call it, and the host uses it for initial values. Expressions are printed by
printer.py; `Leaves` says how the names of one evaluation domain are reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from snnlang.ir.model import Assign, Var
from snnlang.semantics.symbols import ValueType

from .code import Code
from .printer import describe, float_literal, print_expr


def fixed_spec(vtype: ValueType) -> str:
    """The runtime's fixed-point tuple (bits, scale, rounding, overflow, signed), or None."""
    if vtype.kind != "fixed":
        return "None"
    return (f"({vtype.bits}, {float_literal(vtype.scale)}, {vtype.rounding!r}, {vtype.overflow!r}, "
            f"{bool(getattr(vtype, 'signed', True))!r})")


def precision(var: Var) -> str:
    """An explicit float32/float64 keeps its precision; everything else uses the backend's."""
    if var.dtype.kind == "float" and var.dtype.precision in ("float32", "float64"):
        return repr(var.dtype.precision)
    return "None"


@dataclass
class Leaves:
    """How an IR name is reached in one evaluation domain (code of the leaf)."""

    code: Callable[[str], str]
    domain: str = "D"

    def expr(self, expr) -> str:
        return print_expr(expr, self.code, self.domain)


def param_defaults(code: Code, params: tuple[Var, ...]) -> None:
    """`params(explicit, dt)`: each default evaluated with the parameters declared before it, in
    order; explicit values (network overrides, set_param) win (backends/reference/slots.py)."""
    code.line("@staticmethod")
    with code.block("def params(explicit, dt):"):
        code.line('"""Parameter values: explicit ones, else the defaults (in declaration order)."""')
        code.line("P = {}")
        code.line("D = R.Domain((), 0, 0, numpy.float64)")
        leaves = Leaves(lambda n: "dt" if n == "dt" else f"P[{n!r}]")
        for v in params:
            value = leaves.expr(v.init)
            code.line(f"P[{v.name!r}] = float(explicit[{v.name!r}]) if {v.name!r} in explicit "
                      f"else float(numpy.asarray({value}))", v.origin)
        code.line("return P")


def assign(code: Code, a: Assign, leaves: Leaves, shape: str, store: str = "S",
           arrays: str = "A") -> None:
    """`target op expr [where mask]` written through the store (combine, then masked write)."""
    value = f"R.combine({a.op!r}, {arrays}[{a.target!r}], {leaves.expr(a.expr)})"
    if a.mask is None:
        code.line(f"{store}.write({a.target!r}, {value}, step)", a.origin)
    else:
        mask = f"R.as_mask({leaves.expr(a.mask)}, {arrays}[{a.target!r}].shape)"
        code.line(f"{store}.write({a.target!r}, {value}, step, {mask})", a.origin)


def runs_guard(phases: tuple[str, ...]) -> str | None:
    """The condition under which an op with `phases` runs (None: always)."""
    if not phases:
        return None
    return f"R.runs({tuple(phases)!r}, phase)"


def comment_of(text: str, expr=None) -> str:
    return text if expr is None else f"{text}: {describe(expr)}"
