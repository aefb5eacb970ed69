"""Checked AST expressions -> sympy expressions of the IR.

Quantities become SI floats, booleans become 0/1, every stochastic call site
gets its own stream number, and names are mapped to symbols by the caller
(a neuron names its variables plainly; a synapse reads `pre.x` / `post.x`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import sympy

from snnlang.ir import functions as F
from snnlang.semantics.units import UNITS
from snnlang.syntax import ast as A

NameResolver = Callable[[A.Name], sympy.Expr]


@dataclass
class StreamCounter:
    """Hands out RNG stream numbers; remembers which source position each came from."""

    next: int = 0
    origins: dict[int, object] = field(default_factory=dict)

    def take(self, span: object) -> int:
        n = self.next
        self.origins[n] = span
        self.next += 1
        return n


class ExprLowering:
    def __init__(self, resolve: NameResolver, streams: StreamCounter) -> None:
        self.resolve = resolve
        self.streams = streams

    def __call__(self, e: A.Expr) -> sympy.Expr:
        return getattr(self, "_" + type(e).__name__.lower())(e)

    def _number(self, e: A.Number) -> sympy.Expr:
        if e.value == int(e.value) and "." not in e.text and "e" not in e.text.lower():
            return sympy.Integer(int(e.value))
        return sympy.Float(e.value)

    def _quantity(self, e: A.Quantity) -> sympy.Expr:
        scale, _dim = UNITS[e.unit]
        return sympy.Float(e.value * scale)

    def _boolean(self, e: A.Boolean) -> sympy.Expr:
        return sympy.Integer(1 if e.value else 0)

    def _name(self, e: A.Name) -> sympy.Expr:
        return self.resolve(e)

    def _binop(self, e: A.BinOp) -> sympy.Expr:
        a, b = self(e.left), self(e.right)
        if e.op == "+":
            return a + b
        if e.op == "-":
            return a - b
        if e.op == "*":
            return a * b
        if e.op == "/":
            return a / b
        if e.op == "%":
            return sympy.Mod(a, b, evaluate=False)
        return sympy.Pow(a, b)

    def _unaryop(self, e: A.UnaryOp) -> sympy.Expr:
        x = self(e.operand)
        if e.op == "not":
            return F.Not(x)
        return -x if e.op == "-" else x

    def _compare(self, e: A.Compare) -> sympy.Expr:
        return F.COMPARISONS[e.op](self(e.left), self(e.right))

    def _logic(self, e: A.Logic) -> sympy.Expr:
        return F.LOGIC[e.op](self(e.left), self(e.right))

    def _conditional(self, e: A.Conditional) -> sympy.Expr:
        return F.Where(self(e.cond), self(e.then), self(e.orelse))

    def _call(self, e: A.Call) -> sympy.Expr:
        args = [self(a) for a in e.args]
        name = e.func
        if name in F.SIMPLE:
            return F.SIMPLE[name](*args)
        if name in F.STOCHASTIC:
            return F.STOCHASTIC[name](*args, self.streams.take(e.span))
        if name == "uniform":
            u = F.Uniform(self.streams.take(e.span))
            return u if not args else args[0] + (args[1] - args[0]) * u
        if name == "normal":
            z = F.Normal(self.streams.take(e.span))
            return z if not args else args[0] + args[1] * z
        # network-level and initialiser functions are lowered where they are allowed
        return sympy.Function(name)(*args)


def unit_value(name: str) -> sympy.Expr | None:
    unit = UNITS.get(name)
    return None if unit is None else sympy.Float(unit[0])
