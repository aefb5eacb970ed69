"""Dimension and type inference for expressions, with diagnostics.

`ExprChecker.infer` returns an `Info` for every expression. A name it cannot
resolve has already been reported, and comes back as `UNKNOWN`, which
silences every follow-on error that would only repeat the first one.
"""

from __future__ import annotations

import math
from typing import Callable

from snnlang.diagnostics import Diagnostic, Span, did_you_mean, error
from snnlang.semantics import builtins as B
from snnlang.semantics.symbols import BOOL, FLOAT, INT, UNKNOWN, Info
from snnlang.semantics.units import DIMENSIONLESS, UNITS, Dimension, conversion_hint, describe
from snnlang.syntax import ast as A

Lookup = Callable[[A.Name], "Info | None"]


def show(expr: A.Expr) -> str:
    """A short source-like rendering of an expression for messages."""
    if isinstance(expr, A.Number):
        return expr.text
    if isinstance(expr, A.Quantity):
        return f"{expr.text} {expr.unit}"
    if isinstance(expr, A.Name):
        return expr.dotted
    if isinstance(expr, A.Boolean):
        return "true" if expr.value else "false"
    if isinstance(expr, A.Call):
        return f"{expr.func}(...)"
    if isinstance(expr, A.BinOp):
        return f"{_operand(expr.left, expr.op, 'left')} {expr.op} {_operand(expr.right, expr.op, 'right')}"
    if isinstance(expr, A.UnaryOp):
        inner = show(expr.operand)
        if isinstance(expr.operand, (A.BinOp, A.Compare, A.Logic, A.Conditional)):
            inner = f"({inner})"
        return f"{expr.op}{' ' if expr.op == 'not' else ''}{inner}"
    if isinstance(expr, (A.Compare, A.Logic)):
        return f"{show(expr.left)} {expr.op} {show(expr.right)}"
    return "expression"


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "%": 2, "^": 3}


def _operand(expr: A.Expr, op: str, side: str) -> str:
    """An operand of `op`, parenthesised where the source needed it (`(a - b) / c`)."""
    text = show(expr)
    if isinstance(expr, (A.Compare, A.Logic, A.Conditional)):
        return f"({text})"
    if isinstance(expr, A.BinOp):
        inner, outer = _PRECEDENCE.get(expr.op, 0), _PRECEDENCE.get(op, 0)
        # equal precedence: `+ - * / %` group to the left, `^` to the right
        if inner < outer or (inner == outer and (side == "right") != (op == "^")):
            return f"({text})"
    if isinstance(expr, A.UnaryOp) and op == "^" and side == "left":
        return f"({text})"
    return text


def dim_text(info: Info) -> str:
    return describe(info.dim)


class ExprChecker:
    """Infers `Info` for expressions in one context (dynamics, network or init)."""

    def __init__(self, lookup: Lookup, context: str, diags: list[Diagnostic],
                 where: str = "neuron", local_names: dict[str, Info] | None = None) -> None:
        self.lookup = lookup
        self.context = context
        self.diags = diags
        self.where = where
        self.local_names = local_names or {}

    # ------------------------------------------------------------ entry points
    def infer(self, expr: A.Expr) -> Info:
        method = getattr(self, "_" + type(expr).__name__.lower())
        return method(expr)

    def expect_same(self, a: Info, b: Info, span: Span, what: str) -> bool:
        """Report E300 unless the dimensions agree; True when it reported."""
        if a.unknown or b.unknown or a.dim == b.dim:
            return False
        self.diags.append(error(
            "E300", f"{what}: {describe(a.dim)} vs {describe(b.dim)}", span,
            conversion_hint(b.dim, a.dim)))
        return True

    def expect_dim(self, info: Info, want: Dimension, span: Span, what: str, code: str = "E300") -> None:
        if info.unknown or info.dim == want:
            return
        self.diags.append(error(
            code, f"{what} must be {describe(want)}, but it is {describe(info.dim)}", span,
            conversion_hint(info.dim, want)))

    def expect_bool(self, info: Info, span: Span, what: str) -> None:
        if info.unknown or info.is_bool:
            return
        self.diags.append(error("E402", f"{what} must be a boolean condition, but it is a number",
                                span, "compare it, e.g. `x > 0`, or use an event flag such as `spike`"))

    # ------------------------------------------------------------------ leaves
    def _number(self, e: A.Number) -> Info:
        is_int = "." not in e.text and "e" not in e.text.lower()
        if _finite(e.value) is None:
            return self._not_finite(e, DIMENSIONLESS)
        return Info(DIMENSIONLESS, INT if is_int else FLOAT, e.value)

    def _quantity(self, e: A.Quantity) -> Info:
        unit = UNITS.get(e.unit)
        if unit is None:
            as_var = self.lookup_quiet(A.Name((e.unit,), e.unit_span))
            hint = (f"to multiply by the variable `{e.unit}`, write `{e.text} * {e.unit}`"
                    if as_var is not None else did_you_mean(e.unit, UNITS))
            self.diags.append(error("E301", f"unknown unit `{e.unit}`", e.unit_span, hint))
            return UNKNOWN
        scale, dim = unit
        if _finite(e.value * scale) is None:
            return self._not_finite(e, dim)
        return Info(dim, FLOAT, e.value * scale)

    def _not_finite(self, e: A.Expr, dim: Dimension, why: str = "is not a finite number") -> Info:
        """E107: a constant every later stage would have to compute with (sympy, code
        generators, `int(...)` of sizes) must be a finite 64-bit float."""
        text = (f"{e.func}({show(e.args[0])})" if isinstance(e, A.Call) and len(e.args) == 1
                else show(e))
        self.diags.append(error("E107", f"`{text}` {why}", e.span,
                                "constants must be finite 64-bit floating-point numbers "
                                "(magnitude below about 1.8e308)"))
        return Info(dim, FLOAT, None, True)

    def _boolean(self, e: A.Boolean) -> Info:
        return Info(DIMENSIONLESS, BOOL, 1.0 if e.value else 0.0)

    def _name(self, e: A.Name) -> Info:
        if len(e.parts) == 1 and e.parts[0] in self.local_names:
            return self.local_names[e.parts[0]]
        info = self.lookup(e)
        return UNKNOWN if info is None else info

    def lookup_quiet(self, e: A.Name) -> Info | None:
        saved = len(self.diags)
        info = self.lookup(e)
        del self.diags[saved:]
        return info

    # ---------------------------------------------------------------- operators
    def _binop(self, e: A.BinOp) -> Info:
        left, right = self.infer(e.left), self.infer(e.right)
        unknown = left.unknown or right.unknown
        if e.op in "/%" and right.const == 0 and not right.unknown:
            # also `I / 0` of a variable: no value at all (lowering would make it sympy's zoo)
            dim = left.dim / right.dim if e.op == "/" else left.dim
            return self._not_finite(e, dim, "divides by zero")
        if left.const is not None and right.const is not None and _fold(e.op, left.const, right.const) is None:
            why = ("divides by zero" if e.op in "/%" and right.const == 0
                   else "has no real value" if e.op == "^" and left.const < 0
                   else "is not a finite number")
            dim = left.dim * right.dim if e.op == "*" else left.dim / right.dim if e.op == "/" else left.dim
            return self._not_finite(e, dim if e.op != "^" else DIMENSIONLESS, why)
        if e.op in "+-":
            # after a reported mismatch the sum has no meaningful dimension: mark it unknown so
            # that the enclosing ODE/assignment does not repeat the error (E304 after E300)
            unknown |= self.expect_same(left, right, e.span, f"cannot {'add' if e.op == '+' else 'subtract'} "
                                        f"`{show(e.right)}` {'to' if e.op == '+' else 'from'} `{show(e.left)}`")
            const = _fold(e.op, left.const, right.const)
            return Info(left.dim, _numeric(left, right), const, unknown)
        if e.op in "*/":
            dim = left.dim * right.dim if e.op == "*" else left.dim / right.dim
            return Info(dim, _numeric(left, right, e.op == "/"), _fold(e.op, left.const, right.const),
                        unknown)
        if e.op == "%":
            unknown |= self.expect_same(left, right, e.span, "operands of `%` differ")
            return Info(left.dim, _numeric(left, right), _fold("%", left.const, right.const), unknown)
        # power
        if not right.unknown and not right.dim.is_dimensionless:
            self.diags.append(error("E302", f"exponent `{show(e.right)}` must be dimensionless, "
                                    f"but it is {describe(right.dim)}", e.right.span))
            return UNKNOWN
        if left.dim.is_dimensionless or left.unknown:
            return Info(DIMENSIONLESS, FLOAT, _fold("^", left.const, right.const), unknown)
        if right.const is None:
            self.diags.append(error(
                "E303", f"`{show(e.left)}` has dimension {describe(left.dim)}, so its exponent must be "
                "a constant number", e.right.span, "write the exponent as a literal such as `2` or `0.5`"))
            return UNKNOWN
        return Info(left.dim ** right.const, FLOAT, _fold("^", left.const, right.const), unknown)

    def _unaryop(self, e: A.UnaryOp) -> Info:
        operand = self.infer(e.operand)
        if e.op == "not":
            self.expect_bool(operand, e.operand.span, "the operand of `not`")
            return Info(DIMENSIONLESS, BOOL, None, operand.unknown)
        const = None if operand.const is None else (-operand.const if e.op == "-" else operand.const)
        typ = FLOAT if operand.is_bool else operand.type
        return Info(operand.dim, typ, const, operand.unknown)

    def _compare(self, e: A.Compare) -> Info:
        left, right = self.infer(e.left), self.infer(e.right)
        self.expect_same(left, right, e.span, f"cannot compare `{show(e.left)}` with `{show(e.right)}`")
        return Info(DIMENSIONLESS, BOOL, None, left.unknown or right.unknown)

    def _logic(self, e: A.Logic) -> Info:
        left, right = self.infer(e.left), self.infer(e.right)
        self.expect_bool(left, e.left.span, f"the left operand of `{e.op}`")
        self.expect_bool(right, e.right.span, f"the right operand of `{e.op}`")
        return Info(DIMENSIONLESS, BOOL, None, left.unknown or right.unknown)

    def _conditional(self, e: A.Conditional) -> Info:
        cond = self.infer(e.cond)
        self.expect_bool(cond, e.cond.span, "the condition of `if ... else`")
        then, orelse = self.infer(e.then), self.infer(e.orelse)
        self.expect_same(then, orelse, e.span, "the two branches of `if ... else` differ")
        typ = then.type if then.type == orelse.type else FLOAT
        return Info(then.dim, typ, None, then.unknown or orelse.unknown)

    # ----------------------------------------------------------------- calls
    def _call(self, e: A.Call) -> Info:
        fn = B.FUNCTIONS.get(e.func)
        if fn is None:
            self.diags.append(error("E205", f"unknown function `{e.func}`", e.func_span,
                                    did_you_mean(e.func, self._functions_here())))
            for a in e.args:
                self.infer(a)
            return UNKNOWN
        if self.context not in fn.contexts:
            places = {B.DYN: "neuron and synapse dynamics", B.NET: "readout and metric expressions",
                      B.INIT: "`init` expressions"}
            allowed = ", ".join(places[c] for c in sorted(fn.contexts))
            self.diags.append(error("E205", f"`{e.func}` cannot be used here", e.func_span,
                                    f"`{e.func}` is for {allowed}"))
            return UNKNOWN
        if fn.population and self.where == "synapse":
            self.diags.append(error("E205", f"`{e.func}` works over a population and cannot be used "
                                    "in a synapse", e.func_span, "compute it in the neuron and read it "
                                    "through `pre.` or `post.`"))
            return UNKNOWN
        if e.kwargs:
            self.diags.append(error("E207", f"`{e.func}` takes no keyword arguments", e.kwargs[0].span))
        n = len(e.args)
        if not fn.min_args <= n <= fn.max_args:
            want = (str(fn.min_args) if fn.min_args == fn.max_args
                    else f"{fn.min_args} to {fn.max_args}")
            self.diags.append(error("E206", f"`{e.func}` takes {want} argument"
                                    f"{'s' if fn.max_args != 1 else ''}, got {n}", e.span,
                                    f"`{e.func}`: {fn.doc}"))
            for a in e.args:
                self.infer(a)
            return UNKNOWN
        args = [self.infer(a) for a in e.args]
        unknown = any(a.unknown for a in args)
        self._check_domain(fn.name, e, args)
        return self._apply_rule(fn, e, args, unknown)

    def _check_domain(self, name: str, e: A.Call, args: list[Info]) -> None:
        """E407 for constant arguments no draw or bound can honour: numba and torch would
        return NaN (or raise) at the first step, the reference a silently clipped value."""
        c = [a.const for a in args]
        problem = None
        if name == "bernoulli" and c[0] is not None and not 0 <= c[0] <= 1:
            problem = (e.args[0].span, f"the probability given to `bernoulli` is {c[0]:g}, outside [0, 1]")
        elif name == "poisson" and c[0] is not None and c[0] < 0:
            problem = (e.args[0].span, f"the mean count given to `poisson` is {c[0]:g}; it cannot be negative")
        elif name == "normal" and len(c) == 2 and c[1] is not None and c[1] < 0:
            problem = (e.args[1].span, f"the standard deviation given to `normal` is {c[1]:g}; "
                       "it cannot be negative")
        elif name in ("uniform", "clip") and len(c) >= 2:
            lo, hi = c[-2], c[-1]
            if lo is not None and hi is not None and lo > hi:
                problem = (e.span, f"`{name}` is given a lower bound {lo:g} above its upper bound {hi:g}")
        if problem is not None:
            self.diags.append(error("E407", problem[1], problem[0], "swap or correct the arguments"))

    def _functions_here(self) -> list[str]:
        return [n for n, f in B.FUNCTIONS.items() if self.context in f.contexts]

    def _apply_rule(self, fn: B.Builtin, e: A.Call, args: list[Info], unknown: bool) -> Info:
        rule = fn.rule
        if rule == "dimless":
            for a, node in zip(args, e.args):
                self.expect_dim(a, DIMENSIONLESS, node.span, f"the argument of `{fn.name}`", "E302")
            const = None
            if args and args[0].const is not None and fn.name in ("exp", "log"):
                try:
                    const = getattr(math, fn.name)(args[0].const)
                except (ValueError, OverflowError):
                    return self._not_finite(e, DIMENSIONLESS)
            return Info(DIMENSIONLESS, FLOAT, const, unknown)
        if rule == "same":
            for a, node in zip(args[1:], e.args[1:]):
                self.expect_same(args[0], a, node.span, f"arguments of `{fn.name}` differ")
            typ = FLOAT if args[0].is_bool else args[0].type
            return Info(args[0].dim, typ, args[0].const if fn.name == "abs" and args[0].const is not None
                        and args[0].const >= 0 else None, unknown)
        if rule == "sqrt":
            if args[0].const is not None and args[0].const < 0:
                return self._not_finite(e, args[0].dim ** 0.5, "has no real value")
            return Info(args[0].dim ** 0.5, FLOAT, None, unknown)
        if rule == "sign":
            return Info(DIMENSIONLESS, FLOAT, None, unknown)
        if rule == "bool_p":
            self.expect_dim(args[0], DIMENSIONLESS, e.args[0].span,
                            f"the probability given to `{fn.name}`", "E302")
            return Info(DIMENSIONLESS, BOOL, None, unknown)
        if rule == "bool_any":
            return Info(DIMENSIONLESS, BOOL, None, unknown)
        if rule == "count":
            self.expect_dim(args[0], DIMENSIONLESS, e.args[0].span,
                            "the mean count given to `poisson`", "E302")
            return Info(DIMENSIONLESS, INT, None, unknown)
        if rule == "rand":
            if len(args) == 1:
                self.diags.append(error("E206", f"`{fn.name}` takes 0 or 2 arguments, got 1", e.span))
                return UNKNOWN
            if len(args) == 2:
                self.expect_same(args[0], args[1], e.span, f"arguments of `{fn.name}` differ")
                return Info(args[0].dim, FLOAT, None, unknown)
            return Info(DIMENSIONLESS, FLOAT, None, unknown)
        if rule == "index":
            return Info(DIMENSIONLESS, INT, None, unknown)
        if rule == "matrix_same":
            return Info(args[0].dim if fn.name == "transpose" else args[0].dim, FLOAT, None, unknown)
        if rule == "matrix_angle":
            return Info(DIMENSIONLESS, FLOAT, None, unknown)
        raise AssertionError(f"unhandled builtin rule {rule}")  # a bug in builtins.py, not user input


def _numeric(a: Info, b: Info, division: bool = False):
    if a.type == INT and b.type == INT and not division:
        return INT
    return FLOAT


def _finite(value: float | None) -> float | None:
    """A constant the checker can compute with: `1e400` (inf) or `inf - inf` are not constants,
    so later `int(...)` conversions (sizes, bit widths) never see inf or nan."""
    return value if value is not None and math.isfinite(value) else None


def _fold(op: str, a: float | None, b: float | None) -> float | None:
    return _finite(_fold_raw(op, a, b))


def _fold_raw(op: str, a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return a / b if b != 0 else None
        if op == "%":
            return a % b if b != 0 else None
        if op == "^":
            result = a ** b
            return result if isinstance(result, float | int) and math.isfinite(result) else None
    except (OverflowError, ZeroDivisionError, ValueError):
        return None
    return None
