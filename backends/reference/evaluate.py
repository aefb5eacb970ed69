"""IR expressions (sympy) -> NumPy functions, compiled once per expression at build time.

A `Domain` is where expressions are evaluated: a neuron population (batch, size), the
pairs of a connection (batch, *pair shape), one side of a connection, or the elements of
a connection's matrix at initialisation. It fixes the shape of results, the RNG indices
of stochastic calls (one index per element), the seed, the current step, and `fan_in` /
`fan_out` for initialisers. `Compiled` holds one lambdified expression; calling it with a
`lookup(name) -> value` evaluates it with the newest values.

Float constants are passed to the generated function as their exact doubles (sympy
would print them with 15 significant digits, which is not always the same double).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import sympy
from sympy.core.function import AppliedUndef

from snnlang.ir import functions as F

from snnlang.ir import rng

from ..canonical import canonical

from .errors import BuildError
from .functions import namespace, op_names

Lookup = Callable[[str], object]


OP_PREFIX = "ir_"


def _rename_ops(expr: sympy.Expr) -> sympy.Expr:
    """Every IR built-in (`_Op`) becomes an undefined function `ir_<ClassName>`, which lambdify
    prints as a plain call resolved in the namespace of functions.py (some class names, e.g.
    `Uniform`, would otherwise hit sympy printers meant for sympy.stats)."""
    return expr.replace(lambda e: isinstance(e, F._Op),
                        lambda e: sympy.Function(OP_PREFIX + type(e).__name__)(*e.args))


def show(expr) -> str:
    """An IR expression as text for messages (plain `str` fails on `Uniform`: sympy's printer
    mistakes it for sympy.stats.Uniform)."""
    try:
        return sympy.sstr(_rename_ops(sympy.sympify(expr))).replace(OP_PREFIX, "")
    except Exception:  # pragma: no cover - messages only
        return sympy.srepr(expr)


@dataclass
class Domain:
    name: str                       # for messages: "population hid", "connection W2 (pairs)"
    shape: tuple[int, ...]          # shape of a full result
    index: np.ndarray               # uint64, `shape`: the RNG element index of each result element
    seed: int
    dtype: np.dtype
    population_axis: bool = False   # population functions allowed (the last axis is the neurons)
    step: int = 0                   # the RNG step of the current evaluation
    fan_in: object = None           # init domains only (scalar or per-element array)
    fan_out: object = None
    _ns: dict = field(default=None, repr=False)

    def uniform(self, stream: int) -> np.ndarray:
        return rng.uniform_np(self.seed, int(stream), self.step, self.index).astype(self.dtype)

    def normal(self, stream: int) -> np.ndarray:
        return rng.normal_np(self.seed, int(stream), self.step, self.index).astype(self.dtype)

    @property
    def namespace(self) -> dict:
        if self._ns is None:
            self._ns = {OP_PREFIX + k: f for k, f in namespace(self).items()}
        return self._ns

    def compile(self, expr: sympy.Expr, known: Callable[[str], bool] | None = None,
                what: str = "expression") -> "Compiled":
        return Compiled(expr, self, known, what)


class Compiled:
    """One IR expression as a NumPy function of the names it reads."""

    def __init__(self, expr: sympy.Expr, domain: Domain, known: Callable[[str], bool] | None,
                 what: str) -> None:
        expr = sympy.sympify(expr)
        self.expr = expr
        self.domain = domain
        unknown_fns = {type(f).__name__ for f in expr.atoms(AppliedUndef)}
        missing = ({type(f).__name__ for f in expr.atoms(sympy.Function)} & op_names()) - \
            {k[len(OP_PREFIX):] for k in domain.namespace}
        if unknown_fns or missing:
            raise BuildError(f"{domain.name}: {what} `{show(expr)}` calls {sorted(unknown_fns | missing)}, "
                             "which the reference executor does not implement")
        self.names = sorted(str(s) for s in expr.free_symbols)
        if known is not None:
            bad = [n for n in self.names if not known(n)]
            if bad:
                raise BuildError(f"{domain.name}: {what} `{show(expr)}` reads {', '.join(bad)}, "
                                 "which is not defined there")
        canon = canonical(expr)            # the order of operations every backend follows
        self.const_values = tuple(canon.floats.values())
        self.func = sympy.lambdify([sympy.Symbol(s) for s in (*canon.names, *canon.floats)],
                                   _rename_ops(canon.expr), modules=[domain.namespace, "numpy"])

    def __call__(self, lookup: Lookup):
        with np.errstate(all="ignore"):
            return self.func(*(lookup(n) for n in self.names), *self.const_values)

    def full(self, lookup: Lookup, shape: tuple[int, ...] | None = None) -> np.ndarray:
        """The value broadcast to the domain's shape (or `shape`), as a fresh array."""
        value = self(lookup)
        return np.array(np.broadcast_to(value, shape or self.domain.shape), dtype=self.domain.dtype)


def element_index(batch: int, per_row: np.ndarray, row_stride: int) -> np.ndarray:
    """RNG indices b * row_stride + per_row[...] for b in range(batch): shape (batch, *per_row.shape)."""
    b = np.arange(batch, dtype=np.uint64).reshape((batch,) + (1,) * per_row.ndim)
    return b * np.uint64(row_stride) + per_row.astype(np.uint64)[None]


def scalar_domain(name: str, seed: int, dtype: np.dtype) -> Domain:
    """For parameter defaults: one value, RNG index 0, step 0."""
    return Domain(name, (), np.zeros((), dtype=np.uint64), seed, dtype)
