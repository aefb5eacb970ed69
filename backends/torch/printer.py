"""IR expressions (sympy) -> torch source text (vectorised over a domain) or NumPy host text.

One expression is printed in three steps, as in the numba backend:

1. `canonical`: every Float becomes a symbol `_cK` (numbered by value) and every name a symbol
   `_aK` (numbered in sorted order). sympy orders the terms of sums and products by symbol
   names, and that order decides how floating-point operations associate, so printing this
   form makes the generated code do the reference executor's operations in the reference's
   order (backends/reference/evaluate.py lambdifies the same form with NumPy). Elementwise
   +, -, *, / are correctly rounded in torch as in NumPy, so they give the same bits.
2. `TorchPrinter` prints it with sympy's NumPy printer (sums, products, quotients and powers
   come out as NumPy evaluates them), with tensors where NumPy has arrays: the built-ins of
   snnlang/ir/functions.py become torch calls or the helpers of ops.py, comparisons become
   bool tensors (`cond`) or 0/1 floats of the backend dtype `DT` (values).
3. Hoisting: a sub-expression that reads only parameters, `dt` and numbers (e.g. `exp(-dt/tau)`)
   is registered with the `Context`, evaluated on the host with NumPy whenever a parameter
   changes (bit-identical to the reference, which evaluates it with NumPy too) and read by the
   generated code from the constants tuple. A parameter set at runtime never needs new code.
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
    """An exact Python literal for a double (math.nan / math.inf for the others)."""
    return _float_literal(value, "math")



_SETTINGS = {"fully_qualified_modules": True, "inline": True, "allow_unknown_functions": True}

COMPARE = {"Gt": ">", "Ge": ">=", "Lt": "<", "Le": "<=", "Eq": "==", "Ne": "!="}
LOGIC = ("And", "Or", "Xor", "Not", "Heaviside1", "Bernoulli")
STOCHASTIC = {f.__name__ for f in F.STOCHASTIC_FUNCTIONS}
POPULATION = {f.__name__ for f in F.POPULATION_FUNCTIONS}
_TORCH_FUNCS = {"exp": "torch.exp", "log": "torch.log", "sin": "torch.sin", "cos": "torch.cos",
                "tanh": "torch.tanh", "Abs": "torch.abs", "floor": "torch.floor", "ceiling": "torch.ceil"}
_POP_HELPERS = {"Softmax": "ops.softmax", "Wta": "ops.wta", "PopSum": "ops.popsum", "PopMean": "ops.popmean",
                "PopMax": "ops.popmax", "PopMin": "ops.popmin"}


class PrintError(ValueError):
    """An expression uses something that cannot be printed in this place."""


@dataclass
class Context:
    """Where an expression is printed: how its names, random draws and constants are reached.

    symbol(name)      code of an IR name here (a local tensor, a gathered view, a constant)
    constant(name)    True if the name is a parameter, `dt` or another host-known value
    host_symbol(name) its code on the host (in `derive_constants`)
    hoist(code, lbl)  registers a host-evaluated constant; returns the code that reads it
    draw(stream, dt)  code of this step's uniforms over the domain, of dtype `dt` (None: no randomness)
    normal(stream)    code of this step's standard normals over the domain
    row_draw(stream)  code of one uniform per batch row (categorical)
    flag(name)        code of a bool tensor already holding name != 0 (event flags), or None
    population        code of (shape, dtype, device) for population functions (None: not allowed)
    fan               code of sqrt(fan_in) and sqrt(6 / (fan_in + fan_out)) (initialisers)
    """

    symbol: Callable[[str], str]
    constant: Callable[[str], bool] = lambda name: False
    host_symbol: Callable[[str], str] | None = None
    hoist: Callable[[str, str], str] | None = None
    draw: Callable[[int, str], str] | None = None
    normal: Callable[[int], str] | None = None
    row_draw: Callable[[int], str] | None = None
    flag: Callable[[str], str | None] = lambda name: None
    population: str | None = None
    fan: tuple[str, str] | None = None
    what: str = "expression"
    used: set[str] = field(default_factory=set)   # IR names read
    tensors: Callable[[str], bool] = lambda name: True


class TorchPrinter(NumPyPrinter):
    """Prints one canonical expression as torch code (or, with `host=True`, as NumPy host code)."""

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
            if self.ctx.host_symbol is None:
                raise PrintError(f"{self.ctx.what}: `{original}` is not known on the host")
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
            if name in STOCHASTIC or name in POPULATION or (isinstance(f, AppliedUndef) and not isinstance(f, F._Op)):
                return False
        for s in expr.free_symbols:
            if s.name in self.canon.floats:
                continue
            if not self.ctx.constant(self.canon.names.get(s.name, s.name)):
                return False
        return True

    def _print(self, expr, **kwargs) -> str:
        if self._hoistable(expr):
            host = TorchPrinter(self.canon, self.ctx, host=True).doprint(expr)
            for s in expr.free_symbols:
                if s.name in self.canon.names:
                    self.ctx.used.add(self.canon.names[s.name])
            return self.ctx.hoist(host, describe(self.canon.original(expr)))
        if isinstance(expr, F._Op):   # NumPyPrinter has methods for some of these names (sympy.stats)
            return self._print_Function(expr)
        return super()._print(expr, **kwargs)

    # ------------------------------------------------------------ arithmetic

    def _print_Pow(self, expr, rational=False):
        if self.host:
            return super()._print_Pow(expr, rational=rational)
        # the base is printed only where it is used: printing it here and again in the
        # superclass doubled the work at every level of a nested power (2^depth)
        if expr.exp == sympy.S.Half:
            return f"torch.sqrt({self._print(expr.base)})"
        if expr.exp == -sympy.S.Half:
            return f"1/torch.sqrt({self._print(expr.base)})"
        return super()._print_Pow(expr, rational=rational)

    def _fold(self, fn: str, args) -> str:
        out = self._print(args[0])
        for a in args[1:]:
            out = f"{fn}({out}, {self._print(a)})"
        return out

    def _print_Max(self, expr) -> str:
        return self._fold("numpy.maximum" if self.host else "ops.maximum", expr.args)

    def _print_Min(self, expr) -> str:
        return self._fold("numpy.minimum" if self.host else "ops.minimum", expr.args)

    def _print_Mod(self, expr) -> str:
        a, b = (self._print(x) for x in expr.args)
        return f"numpy.mod({a}, {b})" if self.host else f"torch.remainder({a}, {b})"

    def _print_sign(self, expr) -> str:
        arg = self._print(expr.args[0])
        return f"numpy.sign({arg})" if self.host else f"ops.sign({arg})"

    def _print_known(self, expr) -> str:
        name = type(expr).__name__
        arg = self._print(expr.args[0])
        if self.host:
            return f"numpy.{ {'Abs': 'abs', 'ceiling': 'ceil'}.get(name, name)}({arg})"
        return f"{_TORCH_FUNCS[name]}({arg})"

    _print_exp = _print_log = _print_sin = _print_cos = _print_tanh = _print_known
    _print_Abs = _print_floor = _print_ceiling = _print_known

    # ------------------------------------------------------------ built-ins

    def cond(self, expr) -> str:
        """`expr` (a 0/1 number) as a bool tensor."""
        if self._hoistable(expr):
            return f"({self._print(expr)} != 0)"
        name = type(expr).__name__
        a = expr.args
        if name in COMPARE:
            return f"({self._print(a[0])} {COMPARE[name]} {self._print(a[1])})"
        if name == "And":
            return f"({self.cond(a[0])} & {self.cond(a[1])})"
        if name == "Or":
            return f"({self.cond(a[0])} | {self.cond(a[1])})"
        if name == "Xor":
            return f"({self.cond(a[0])} ^ {self.cond(a[1])})"
        if name == "Not":
            return f"(~{self.cond(a[0])})"
        if name == "Heaviside1":
            return f"({self._print(a[0])} > 0)"
        if name == "Bernoulli":
            return f"({self._draw(a[1])} < {self._print(a[0])})"
        if isinstance(expr, sympy.Symbol) and expr.name in self.canon.names:
            cached = self.ctx.flag(self.canon.names[expr.name])
            if cached is not None:
                self.ctx.used.add(self.canon.names[expr.name])
                return cached
        return f"({self._print(expr)} != 0)"

    def _draw(self, stream, dtype: str = "DT") -> str:
        if self.host or self.ctx.draw is None:
            raise PrintError(f"{self.ctx.what}: random draws are not available here")
        return self.ctx.draw(int(stream), dtype)

    def _host_function(self, name: str, a) -> str:
        p = self._print
        if name in COMPARE:
            return f"ops.host_flag({p(a[0])} {COMPARE[name]} {p(a[1])})"
        if name in ("And", "Or", "Xor"):
            op = {"And": "&", "Or": "|", "Xor": "^"}[name]
            return f"ops.host_flag(({p(a[0])} != 0) {op} ({p(a[1])} != 0))"
        if name == "Not":
            return f"ops.host_flag({p(a[0])} == 0)"
        if name == "Heaviside1":
            return f"ops.host_flag({p(a[0])} > 0)"
        if name == "Where":
            return f"ops.host_where({p(a[0])}, {p(a[1])}, {p(a[2])})"
        if name == "Clip":
            return f"numpy.minimum(numpy.maximum({p(a[0])}, {p(a[1])}), {p(a[2])})"
        if name == "Relu":
            return f"numpy.maximum({p(a[0])}, 0)"
        if name == "Sigmoid":
            return f"ops.host_sigmoid({p(a[0])})"
        if name == "RoundNearest":
            return f"numpy.rint({p(a[0])})"
        raise PrintError(f"{self.ctx.what}: `{name}` cannot be evaluated on the host (it is random or "
                         "works on a whole population)")

    def _print_Function(self, expr) -> str:
        name = type(expr).__name__
        a = expr.args
        if self.host:
            if isinstance(expr, F._Op):
                return self._host_function(name, a)
            if isinstance(expr, AppliedUndef):
                raise PrintError(f"{self.ctx.what}: unknown function `{name}`")
            return super()._print_Function(expr)
        if name in COMPARE or name in LOGIC:
            return f"{self.cond(expr)}.to(DT)"
        if name == "Where":
            return f"torch.where({self.cond(a[0])}, {self._print(a[1])}, {self._print(a[2])})"
        if name == "Clip":
            return f"ops.clip({self._print(a[0])}, {self._print(a[1])}, {self._print(a[2])})"
        if name == "Relu":
            return f"ops.maximum({self._print(a[0])}, 0)"
        if name == "Sigmoid":
            return f"(1 / (1 + torch.exp(-({self._print(a[0])}))))"
        if name == "RoundNearest":
            return f"torch.round({self._print(a[0])})"
        if name == "Uniform":
            return self._draw(a[0])
        if name == "Normal":
            if self.ctx.normal is None:
                raise PrintError(f"{self.ctx.what}: random draws are not available here")
            return self.ctx.normal(int(a[0]))
        if name == "PoissonCount":
            return f"ops.poisson({self._print(a[0])}, {self._draw(a[1])})"
        if name in ("KaimingUniform", "XavierUniform"):
            if self.ctx.fan is None:
                raise PrintError(f"{self.ctx.what}: `{name}` is an initialiser; use it in `init` or in a "
                                 "synapse state's initial value")
            u = f"(2.0 * {self._draw(a[0], 'torch.float64')} - 1.0)"
            sqrt_fan_in, xavier = self.ctx.fan
            value = f"{u} / {sqrt_fan_in}" if name == "KaimingUniform" else f"{u} * {xavier}"
            return f"({value}).to(DT)"
        if name in POPULATION:
            if self.ctx.population is None:
                raise PrintError(f"{self.ctx.what}: `{name}` is a population function; it is only "
                                 "available in a neuron population's own expressions")
            if name == "Categorical":
                if self.ctx.row_draw is None:
                    raise PrintError(f"{self.ctx.what}: random draws are not available here")
                return f"ops.categorical({self._print(a[0])}, {self.ctx.row_draw(int(a[1]))}, {self.ctx.population})"
            return f"{_POP_HELPERS[name]}({self._print(a[0])}, {self.ctx.population})"
        if isinstance(expr, AppliedUndef) or isinstance(expr, F._Op):
            raise PrintError(f"{self.ctx.what}: unknown function `{name}`")
        raise PrintError(f"{self.ctx.what}: the function `{name}` is not supported by the torch backend")


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


def print_expr(expr, ctx: Context) -> str:
    """torch code of one IR expression (canonicalised on its own, like a reference `Compiled`)."""
    canon = canonical(expr)
    return TorchPrinter(canon, ctx).doprint(canon.expr)


def print_cond(expr, ctx: Context) -> str:
    """torch code (a bool tensor) of one IR expression used as a condition (mask, trigger)."""
    canon = canonical(expr)
    return TorchPrinter(canon, ctx).cond(canon.expr)


def print_host(expr, ctx: Context) -> str:
    """Host (NumPy) code of a parameter-only expression, e.g. a parameter default."""
    canon = canonical(expr)
    return TorchPrinter(canon, ctx, host=True).doprint(canon.expr)


def free_names(*exprs) -> set[str]:
    out: set[str] = set()
    for e in exprs:
        if e is not None:
            out |= {str(s) for s in sympy.sympify(e).free_symbols}
    return out


def uses(expr, names) -> bool:
    """True if `expr` calls any function whose class name is in `names`."""
    if expr is None:
        return False
    return any(type(f).__name__ in names for f in sympy.sympify(expr).atoms(sympy.Function))
