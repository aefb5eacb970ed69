"""IR expressions (sympy) -> numba-Python source text.

One expression is printed in three steps:

1. `canonical`: the expression is put into the form the reference executor evaluates
   (backends/reference/evaluate.py): every Float becomes a symbol `_cK` (numbered by value),
   every name a symbol `_aK` (numbered in sorted order). sympy orders the terms of a sum or
   product by symbol names, and the order decides how floating-point operations associate, so
   printing this form makes the kernels do the same operations in the same order as the oracle.
2. `KernelPrinter` prints it with sympy's NumPy printer (so sums, products, quotients and powers
   come out exactly as NumPy evaluates them in the reference), with the built-ins of
   snnlang/ir/functions.py as scalar code: comparisons and logic as Python conditions, the
   stochastic functions as calls of the inlined counter-based RNG (helpers.py), population
   functions as the names of values computed before the neuron loop.
3. Hoisting: a sub-expression that reads only parameters and `dt` (e.g. `exp(-dt/tau)`) is not
   printed into the loop; it is registered with the `Context`, evaluated on the host with NumPy
   whenever a parameter changes, and read from the constants vector by the kernel. A parameter
   set at runtime therefore never needs new code, and the value is bit-identical to the
   reference's (the same NumPy function on the same Python floats).
4. Linear forms: a sum, product or parameter-selected `Where` that is linear in its
   per-element values, with parameter-only coefficients that the reference order would divide
   or select in the loop (the exact propagators of linear ODEs: `I*R*dt*exp(-dt/tau)/tau`, one
   branch per case of equal time constants), is printed as `k1*x1 + k2*x2 + k0` with each
   coefficient hoisted. The loop then does one multiply-add per variable and no division or
   select, so LLVM can vectorise it; the result differs from the reference's by rounding only
   (a few ulps), like a backend that sums in another order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import sympy
from sympy.core.function import AppliedUndef
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.str import StrPrinter

from snnlang.ir import functions as F

from ..canonical import Canonical, canonical
from ..canonical import float_literal as _float_literal


def float_literal(value: float) -> str:
    """An exact Python literal for a double (numpy.nan / numpy.inf for the others)."""
    return _float_literal(value, "numpy")



_SETTINGS = {"fully_qualified_modules": True, "inline": True, "allow_unknown_functions": True}

COMPARE = {"Gt": ">", "Ge": ">=", "Lt": "<", "Le": "<=", "Eq": "==", "Ne": "!="}
STOCHASTIC = {f.__name__ for f in F.STOCHASTIC_FUNCTIONS}
POPULATION = {f.__name__ for f in F.POPULATION_FUNCTIONS}


class PrintError(ValueError):
    """An expression uses something the numba backend cannot print in this place."""


@dataclass
class Context:
    """Where an expression is printed: how its names, random draws and constants are reached.

    symbol(name)        code of an IR name in this kernel (a local, or `a_w[_i, _j]`)
    constant(name)      True if the name is a parameter or `dt` (host-known, hoistable)
    host_symbol(name)   its code on the host (in `derive_constants`)
    hoist(code, label)  registers a host-evaluated constant; returns the kernel's local name
    rng_index           code of the RNG element index of the current element (None: no RNG here)
    key(stream)         local name of the per-(stream, step) RNG key
    population(node)    code of a population-function call (given in its IR form) computed
                        before the loop
    """

    symbol: Callable[[str], str]
    constant: Callable[[str], bool] = lambda name: False
    host_symbol: Callable[[str], str] | None = None
    hoist: Callable[[str, str], str] | None = None
    rng_index: str | None = None
    key: Callable[[int], str] | None = None
    population: Callable[[sympy.Expr], str] | None = None
    what: str = "expression"
    used: set[str] = field(default_factory=set)   # IR names read


class KernelPrinter(NumPyPrinter):
    """Prints one canonical expression as numba-Python (or, with `host=True`, as NumPy host code)."""

    def __init__(self, canon: Canonical, ctx: Context, host: bool = False) -> None:
        super().__init__(dict(_SETTINGS))
        self.canon = canon
        self.ctx = ctx
        self.host = host

    # ------------------------------------------------------------ atoms

    def _print_Symbol(self, expr, **kwargs) -> str:
        name = expr.name
        if name in self.canon.floats:
            return float_literal(self.canon.floats[name])
        original = self.canon.names.get(name, name)
        self.ctx.used.add(original)
        if self.host:
            return self.ctx.host_symbol(original)
        return self.ctx.symbol(original)

    def _print_Float(self, expr, **kwargs) -> str:
        return float_literal(float(expr))

    # ------------------------------------------------------------ hoisting

    def _hoistable(self, expr) -> bool:
        if self.host or self.ctx.hoist is None or not isinstance(expr, sympy.Expr) or expr.is_Atom:
            return False
        for f in expr.atoms(sympy.Function):
            name = type(f).__name__
            if name in STOCHASTIC or name in POPULATION or (isinstance(f, AppliedUndef) and not _is_op(f)):
                return False
        for s in expr.free_symbols:
            if s.name in self.canon.floats:
                continue
            if not self.ctx.constant(self.canon.names.get(s.name, s.name)):
                return False
        return True

    def _print(self, expr, **kwargs) -> str:
        linear = self._print_linear(expr)
        if linear is not None:
            return linear
        if self._hoistable(expr):
            host = KernelPrinter(self.canon, self.ctx, host=True).doprint(expr)
            label = describe(self.canon.original(expr))
            for s in expr.free_symbols:
                if s.name in self.canon.names:
                    self.ctx.used.add(self.canon.names[s.name])
            return self.ctx.hoist(host, label)
        if isinstance(expr, F._Op):   # NumPyPrinter has methods for some of these names (sympy.stats)
            return self._print_Function(expr)
        return super()._print(expr, **kwargs)

    # ------------------------------------------------------------ linear forms

    def _constant(self, expr) -> bool:
        """A number, a parameter or a hoistable parameter-only expression."""
        if isinstance(expr, sympy.Number):
            return True
        if isinstance(expr, sympy.Symbol):
            if expr.name in self.canon.floats:
                return True
            return self.ctx.constant(self.canon.names.get(expr.name, expr.name))
        return self._hoistable(expr)

    def _linear_form(self, expr) -> tuple[dict, sympy.Expr] | None:
        """({symbol: coefficient}, constant) with parameter-only coefficients when `expr` is linear
        in its per-element symbols (built from sums, products and parameter-selected `Where`)."""
        if self._constant(expr):
            return {}, expr
        if isinstance(expr, sympy.Symbol):
            return {expr: sympy.Integer(1)}, sympy.Integer(0)
        if isinstance(expr, sympy.Add):
            coefs: dict = {}
            const = sympy.Integer(0)
            for arg in expr.args:
                part = self._linear_form(arg)
                if part is None:
                    return None
                for s, c in part[0].items():
                    coefs[s] = coefs.get(s, sympy.Integer(0)) + c
                const = const + part[1]
            return coefs, const
        if isinstance(expr, sympy.Mul):
            scale = [a for a in expr.args if self._constant(a)]
            rest = [a for a in expr.args if not self._constant(a)]
            if len(rest) != 1:
                return None
            part = self._linear_form(rest[0])
            if part is None:
                return None
            k = sympy.Mul(*scale)
            return {s: k * c for s, c in part[0].items()}, k * part[1]
        if type(expr).__name__ == "Where" and self._constant(expr.args[0]):
            yes, no = self._linear_form(expr.args[1]), self._linear_form(expr.args[2])
            if yes is None or no is None:
                return None
            zero = sympy.Integer(0)
            cond = expr.args[0]
            coefs = {s: F.Where(cond, yes[0].get(s, zero), no[0].get(s, zero)) for s in {*yes[0], *no[0]}}
            return coefs, F.Where(cond, yes[1], no[1])
        return None

    def _loop_work(self, expr) -> bool:
        """True if printing `expr` as written would divide by a parameter or select between
        parameter cases inside the loop (what the linear form removes)."""
        if self._constant(expr) or expr.is_Atom:
            return False
        if type(expr).__name__ == "Where" and self._constant(expr.args[0]):
            return True
        if isinstance(expr, sympy.Mul) and any(isinstance(a, sympy.Pow) and a.exp.is_negative
                                               and self._constant(a) for a in expr.args):
            return True
        return any(self._loop_work(a) for a in expr.args)

    def _print_linear(self, expr) -> str | None:
        if (self.host or self.ctx.hoist is None or not isinstance(expr, (sympy.Add, sympy.Mul, F.Where))
                or not self._loop_work(expr)):
            return None
        form = self._linear_form(expr)
        if form is None or not form[0]:
            return None
        coefs, const = form
        terms = []
        for s in sorted(coefs, key=lambda s: s.name):
            c = coefs[s]
            if c == 0:
                continue
            x = self._print(s)
            terms.append(x if c == 1 else f"-{x}" if c == -1 else f"{self._print(c)}*{x}")
        if const != 0:
            terms.append(self._print(const))
        return "(" + " + ".join(terms or ["0.0"]) + ")"

    # ------------------------------------------------------------ arithmetic

    def _print_Pow(self, expr, rational=False):
        # NumPy evaluates x**3 with pow(); numba would multiply out an integer exponent.
        if (not self.host and expr.exp.is_Integer and int(expr.exp) > 2):
            return self._print(sympy.Pow(expr.base, sympy.Float(int(expr.exp)), evaluate=False))
        return super()._print_Pow(expr, rational=rational)

    def _fold(self, fn: str, args) -> str:
        out = self._print(args[0])
        for a in args[1:]:
            out = f"numpy.{fn}({out}, {self._print(a)})"
        return out

    def _print_Max(self, expr) -> str:
        return self._fold("maximum", expr.args)

    def _print_Min(self, expr) -> str:
        return self._fold("minimum", expr.args)

    # ------------------------------------------------------------ built-ins

    def cond(self, expr) -> str:
        """`expr` (a 0/1 number) as a Python condition."""
        if self._hoistable(expr):
            return f"({self._print(expr)} != 0)"
        name = type(expr).__name__
        a = expr.args
        if name in COMPARE:
            return f"({self._print(a[0])} {COMPARE[name]} {self._print(a[1])})"
        if name == "And":
            return f"({self.cond(a[0])} and {self.cond(a[1])})"
        if name == "Or":
            return f"({self.cond(a[0])} or {self.cond(a[1])})"
        if name == "Xor":
            return f"({self.cond(a[0])} != {self.cond(a[1])})"
        if name == "Not":
            return f"(not {self.cond(a[0])})"
        if name == "Heaviside1":
            return f"({self._print(a[0])} > 0)"
        if name == "Bernoulli":
            return f"({self._uniform(a[1])} < {self._print(a[0])})"
        if expr.is_Integer:
            return "True" if int(expr) != 0 else "False"
        return f"({self._print(expr)} != 0)"

    def _uniform(self, stream) -> str:
        if self.host or self.ctx.rng_index is None or self.ctx.key is None:
            raise PrintError(f"{self.ctx.what}: random draws are not available here")
        return f"_uniform({self.ctx.key(int(stream))}, {self.ctx.rng_index})"

    def _print_Function(self, expr) -> str:
        name = type(expr).__name__
        a = expr.args
        if name in COMPARE or name in ("And", "Or", "Xor", "Not", "Heaviside1", "Bernoulli"):
            return f"(1.0 if {self.cond(expr)} else 0.0)"
        if name == "Where":
            return f"({self._print(a[1])} if {self.cond(a[0])} else {self._print(a[2])})"
        if name == "Clip":
            return f"numpy.minimum(numpy.maximum({self._print(a[0])}, {self._print(a[1])}), {self._print(a[2])})"
        if name == "Relu":
            return f"numpy.maximum({self._print(a[0])}, 0)"
        if name == "Sigmoid":
            return f"(1 / (1 + numpy.exp(-({self._print(a[0])}))))"
        if name == "RoundNearest":
            return f"numpy.rint({self._print(a[0])})"
        if name == "Uniform":
            return self._uniform(a[0])
        if name == "Normal":
            if self.host or self.ctx.rng_index is None:
                raise PrintError(f"{self.ctx.what}: random draws are not available here")
            s = int(a[0])
            # rng.normal_np: two uniforms from the streams 2s + 0x10000 and 2s + 0x10001
            return (f"_normal({self.ctx.key(2 * s + 0x10000)}, {self.ctx.key(2 * s + 0x10001)}, "
                    f"{self.ctx.rng_index})")
        if name == "PoissonCount":
            return f"_poisson({self._print(a[0])}, {self._uniform(a[1])})"
        if name == "KaimingUniform":
            return f"((2.0 * {self._uniform(a[0])} - 1.0) / numpy.sqrt({self.ctx.symbol('fan_in')}))"
        if name == "XavierUniform":
            fi, fo = self.ctx.symbol("fan_in"), self.ctx.symbol("fan_out")
            return f"((2.0 * {self._uniform(a[0])} - 1.0) * numpy.sqrt(6.0 / ({fi} + {fo})))"
        if name in POPULATION:
            if self.host or self.ctx.population is None:
                raise PrintError(f"{self.ctx.what}: `{name}` is a population function; it is only "
                                 "available in a neuron population's own expressions")
            return self.ctx.population(self.canon.original(expr))
        if isinstance(expr, AppliedUndef):
            raise PrintError(f"{self.ctx.what}: unknown function `{name}`")
        return super()._print_Function(expr)


class _Describe(StrPrinter):
    """sympy's str printer, with the IR's built-ins printed as calls (sympy.stats would claim
    `Uniform`/`Normal` and fail)."""

    def _print(self, expr, **kwargs):
        if isinstance(expr, F._Op):
            return f"{type(expr).__name__}({', '.join(self._print(a) for a in expr.args)})"
        return super()._print(expr, **kwargs)


def describe(expr) -> str:
    """An IR expression as text, for comments."""
    return _Describe().doprint(sympy.sympify(expr))


def _is_op(f) -> bool:
    return isinstance(f, F._Op)


def print_expr(expr, ctx: Context) -> str:
    """Kernel code of one IR expression (canonicalised on its own, like a reference `Compiled`)."""
    canon = canonical(expr)
    return KernelPrinter(canon, ctx).doprint(canon.expr)


def print_cond(expr, ctx: Context) -> str:
    """Kernel code of one IR expression used as a condition (mask, trigger)."""
    canon = canonical(expr)
    return KernelPrinter(canon, ctx).cond(canon.expr)


def print_host(expr, ctx: Context) -> str:
    """Host (NumPy) code of a parameter-only expression, e.g. a parameter default."""
    canon = canonical(expr)
    return KernelPrinter(canon, ctx, host=True).doprint(canon.expr)


def population_calls(expr) -> list[tuple[sympy.Expr, Canonical]]:
    """The population-function calls of `expr` (canonical form), innermost first."""
    canon = canonical(expr)
    found: list[sympy.Expr] = []

    def walk(node):
        for arg in node.args:
            walk(arg)
        if type(node).__name__ in POPULATION and node not in found:
            found.append(node)

    walk(canon.expr)
    return [(node, canon) for node in found]


def uses(expr, names) -> bool:
    """True if `expr` calls any function whose class name is in `names`."""
    if expr is None:
        return False
    return any(type(f).__name__ in names for f in sympy.sympify(expr).atoms(sympy.Function))


def streams_of(expr) -> list[int]:
    """Stream numbers of the stochastic calls in `expr`."""
    out = []
    if expr is None:
        return out
    for f in sympy.sympify(expr).atoms(sympy.Function):
        if type(f).__name__ in STOCHASTIC:
            out.append(int(f.args[-1]))
    return sorted(out)
