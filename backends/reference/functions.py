"""NumPy implementations of the IR built-ins (snnlang/ir/functions.py), bound to a Domain.

`namespace(domain)` returns the mapping `sympy.lambdify` uses for the `_Op` functions.
Booleans are 0.0/1.0 in the domain's dtype. Stochastic functions draw from the counter-based
RNG (snnlang/ir/rng.py) with the domain's seed, its current step and its index array
(one index per element, see evaluate.Domain); their last argument is the stream number.
Population functions work along the neuron axis (the last axis of a (batch, size) domain).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from snnlang.ir import functions as F
from snnlang.ir import rng


def poisson_count(lam: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF Poisson draw: the smallest k with CDF(k) > u (lam <= 0 gives 0).

    The terms are exp(-lam + k log lam - lgamma(k + 1)), summed in order k = 0, 1, ...
    (log form so that large means do not underflow exp(-lam)).
    """
    lam = np.asarray(lam, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    lam, u = np.broadcast_arrays(lam, u)
    k = np.zeros(u.shape)
    positive = lam > 0
    safe = np.where(positive, lam, 1.0)
    log_lam = np.log(safe)
    cdf = np.where(positive, np.exp(-safe), 1.0)
    todo = positive & (cdf <= u)
    n = 0
    limit = int(np.max(lam, initial=0.0) + 40.0 * math.sqrt(np.max(lam, initial=0.0)) + 100.0)
    while np.any(todo) and n < limit:
        n += 1
        term = np.exp(-safe + n * log_lam - math.lgamma(n + 1))
        k = np.where(todo, n, k)
        cdf = cdf + term
        todo = todo & (cdf <= u)
    return k


def softmax(x: np.ndarray) -> np.ndarray:
    """Max-subtracted softmax along the neuron axis."""
    z = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return z / np.sum(z, axis=-1, keepdims=True)


def one_hot_argmax(x: np.ndarray) -> np.ndarray:
    """1 at the first maximum of each row, 0 elsewhere."""
    out = np.zeros(x.shape)
    np.put_along_axis(out, np.argmax(x, axis=-1)[..., None], 1.0, axis=-1)
    return out


def categorical(p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One-hot per row: the first i with cumsum(p / sum p) > u[row] (none if no such i)."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(all="ignore"):
        c = np.cumsum(p / np.sum(p, axis=-1, keepdims=True), axis=-1)
    above = c > u[..., None]
    first = np.argmax(above, axis=-1)
    out = np.zeros(p.shape)
    np.put_along_axis(out, first[..., None], 1.0, axis=-1)
    return out * np.any(above, axis=-1, keepdims=True)


def namespace(domain) -> dict[str, Callable]:
    """Implementations for every `_Op` of snnlang.ir.functions, bound to `domain`."""
    dt = domain.dtype

    def flag(x):
        return np.asarray(x, dtype=dt)

    def truth(x):
        return np.asarray(x) != 0

    def cast(x):
        return np.asarray(x, dtype=dt)

    def population(x):
        if not domain.population_axis:
            raise ValueError(f"population function outside a neuron population ({domain.name})")
        return np.broadcast_to(np.asarray(x, dtype=np.float64), domain.shape)

    def pop_reduce(fn):
        return lambda x: cast(fn(population(x), axis=-1, keepdims=True))

    def kaiming(s):
        u = domain.uniform(s).astype(np.float64)
        return cast((2.0 * u - 1.0) / np.sqrt(domain.fan_in))

    def xavier(s):
        u = domain.uniform(s).astype(np.float64)
        return cast((2.0 * u - 1.0) * np.sqrt(6.0 / (domain.fan_in + domain.fan_out)))

    def categorical_draw(p, s):
        rows = np.arange(domain.shape[0], dtype=np.uint64)
        u = rng.uniform_np(domain.seed, int(s), domain.step, rows)
        return flag(categorical(population(p), u))

    ns: dict[str, Callable] = {
        F.Gt.__name__: lambda a, b: flag(np.greater(a, b)),
        F.Ge.__name__: lambda a, b: flag(np.greater_equal(a, b)),
        F.Lt.__name__: lambda a, b: flag(np.less(a, b)),
        F.Le.__name__: lambda a, b: flag(np.less_equal(a, b)),
        F.Eq.__name__: lambda a, b: flag(np.equal(a, b)),
        F.Ne.__name__: lambda a, b: flag(np.not_equal(a, b)),
        F.And.__name__: lambda a, b: flag(truth(a) & truth(b)),
        F.Or.__name__: lambda a, b: flag(truth(a) | truth(b)),
        F.Xor.__name__: lambda a, b: flag(truth(a) ^ truth(b)),
        F.Not.__name__: lambda a: flag(~truth(a)),
        F.Where.__name__: lambda c, a, b: np.where(truth(c), a, b),
        F.Clip.__name__: lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
        F.Relu.__name__: lambda x: np.maximum(x, 0),
        F.Heaviside.__name__: lambda x: flag(np.greater(x, 0)),
        F.Sigmoid.__name__: lambda x: 1 / (1 + np.exp(-x)),
        F.Round.__name__: np.rint,                       # half to even
        F.Bernoulli.__name__: lambda p, s: flag(domain.uniform(s) < p),
        F.Uniform.__name__: lambda s: domain.uniform(s),
        F.Normal.__name__: lambda s: domain.normal(s),
        F.Poisson.__name__: lambda lam, s: cast(poisson_count(lam, domain.uniform(s))),
        F.Softmax.__name__: lambda x: cast(softmax(population(x))),
        F.Categorical.__name__: categorical_draw,
        F.Wta.__name__: lambda x: flag(one_hot_argmax(population(x))),
        F.PopSum.__name__: pop_reduce(np.sum),
        F.PopMean.__name__: pop_reduce(np.mean),
        F.PopMax.__name__: pop_reduce(np.max),
        F.PopMin.__name__: pop_reduce(np.min),
        F.KaimingUniform.__name__: kaiming,
        F.XavierUniform.__name__: xavier,
    }
    return ns


def op_names() -> set[str]:
    """Every `_Op` class of snnlang.ir.functions (to check that `namespace` covers them)."""
    return {v.__name__ for v in vars(F).values()
            if isinstance(v, type) and issubclass(v, F._Op) and v is not F._Op}
