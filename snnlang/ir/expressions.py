"""Checked AST expressions -> sympy expressions of the IR.

Quantities become SI floats, booleans become 0/1, every stochastic call site
gets its own stream number, and names are mapped to symbols by the caller
(a neuron names its variables plainly; a synapse reads `pre.x` / `post.x`).
"""

from __future__ import annotations

import math
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
        result = getattr(self, "_" + type(e).__name__.lower())(e)
        # sympy folds `x / 0` or `(v - v) ^ -1` to zoo or nan, which no backend can print or
        # compute with; they absorb whatever contains them, so the first node that has one is it
        if result in _NOT_FINITE:
            raise ConstantError("the expression has no finite value (it divides by zero)", e.span)
        return result

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
        return _power(a, b, e)

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
        if name == "tanh":
            return tanh(*args)
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


class tanh(sympy.tanh):  # noqa: N801 - printers and pickle know it by sympy's name
    """sympy's `tanh`, without symbolic rewriting of non-numeric arguments.

    sympy's own asks assumptions (is the argument real, finite, zero...) whenever a `tanh` is
    built, and answers them by splitting nested `tanh`s into real and imaginary parts: time
    exponential in the nesting. The solvers rebuild every expression (RK4 substitutes the
    right-hand side into itself), so `tanh(tanh(tanh(tanh(v))))` took 30 s to lower and one
    level more minutes. Numbers still evaluate; everything else stays as written."""

    @classmethod
    def eval(cls, arg):
        return sympy.tanh.eval(arg) if arg.is_Number else None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return 1 - type(self)(self.args[0]) ** 2

    def _no_answer(self) -> None:
        return None

    _eval_is_real = _eval_is_extended_real = _eval_is_finite = _eval_is_zero = _no_answer
    _eval_is_positive = _eval_is_negative = _no_answer
    _eval_is_extended_positive = _eval_is_extended_negative = _no_answer


_NOT_FINITE = (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)


# Exact integer powers are kept while the result has at most this many bits; beyond, sympy
# would build the exact integer (`10 ** 10 ** 10` never finishes) and no backend can use it.
MAX_EXACT_POWER_BITS = 1024


class ConstantError(ValueError):
    """A constant sub-expression without a finite value (the checker reports E107 first for
    literals; this guards what reaches lowering another way)."""

    def __init__(self, message: str, span: object) -> None:
        super().__init__(message)
        self.span = span


def _power(a: sympy.Expr, b: sympy.Expr, e: A.BinOp) -> sympy.Expr:
    """`a ^ b`, evaluated in floats when both are numbers and the exact result would be huge."""
    if not (isinstance(a, sympy.Number) and isinstance(b, sympy.Number)):
        if isinstance(b, sympy.Integer) and abs(int(b)) > MAX_EXACT_POWER_BITS:
            # a huge integer exponent of a symbol: substituting an integer later would build
            # the exact integer; a float exponent keeps that evaluation in floating point
            return sympy.Pow(a, sympy.Float(int(b)))
        return sympy.Pow(a, b)
    if isinstance(a, sympy.Rational) and isinstance(b, sympy.Integer):
        size = max(abs(a.p), a.q)
        if size <= 1 or math.log2(size) * abs(int(b)) <= MAX_EXACT_POWER_BITS:
            if a == 0 and b < 0:
                raise ConstantError(f"`{a} ^ {b}` divides by zero", e.span)
            return sympy.Pow(a, b)  # exact, as before: `2 ^ -1` stays 1/2
    try:
        value = float(a) ** float(b)
    except (OverflowError, ZeroDivisionError):
        value = math.inf
    if isinstance(value, complex) or not math.isfinite(value):
        raise ConstantError(f"`{a} ^ {b}` is not a finite number", e.span)
    return sympy.Pow(a, b) if isinstance(a, sympy.Float) or isinstance(b, sympy.Float) else sympy.Float(value)


def unit_value(name: str) -> sympy.Expr | None:
    unit = UNITS.get(name)
    return None if unit is None else sympy.Float(unit[0])
