"""Storage of one variable (`Slot`) and of a population's or connection's parameters (`Params`).

Every write to a state goes through `Slot.write`, which casts to the slot's dtype and, for a
fixed-point variable, quantises (fixed.py). Elements outside `mask` are not written (so they
are not re-rounded). A tie (`tie w = transpose(C.w)`) is a Slot whose array is a view of C's:
reads and writes go to C's storage, and its rounding indices are C's, viewed the same way.
"""

from __future__ import annotations

import numpy as np

from snnlang.ir import rng
from snnlang.ir.model import Var

from .errors import BuildError
from .evaluate import scalar_domain
from .fixed import is_fixed, quantise


def storage_dtype(var: Var, default: np.dtype) -> np.dtype:
    """An explicit `float32`/`float64` keeps its precision; everything else uses the backend's."""
    if var.dtype.kind == "float" and var.dtype.precision in ("float32", "float64"):
        return np.dtype(var.dtype.precision)
    return default


class Slot:
    def __init__(self, name: str, array: np.ndarray, var: Var, seed: int,
                 stream: int | None, rounding_index: np.ndarray) -> None:
        self.name = name
        self.array = array
        self.var = var
        self.vtype = var.dtype
        self.seed = seed
        self.stream = stream              # rounding stream (fixed point, stochastic rounding)
        self.rounding_index = rounding_index

    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape

    def write(self, value, step: int, mask=None) -> None:
        value = np.broadcast_to(np.asarray(value), self.array.shape)
        if is_fixed(self.vtype):
            u = None
            if self.vtype.rounding == "stochastic":
                u = rng.uniform_np(self.seed, self.stream, step, self.rounding_index)
            value = quantise(value, self.vtype, u)
        if mask is None:
            self.array[...] = value
        else:
            self.array[...] = np.where(np.broadcast_to(mask, self.array.shape) != 0, value, self.array)

    def tied(self, name: str, transposed: bool) -> "Slot":
        """The view a tying connection sees (`transpose(C.w)` or `C.w`)."""
        view = self.array.T if transposed else self.array
        index = self.rounding_index.T if transposed else self.rounding_index
        return Slot(name, view, self.var, self.seed, self.stream, index)


class Params:
    """Parameter values of one population or connection.

    A parameter's value is, in this order of precedence: a `set_param` value, the network's
    override (PopulationIR.params / ConnectionIR.params), or its default `Var.init` evaluated
    with the parameters declared before it. Defaults are re-derived after every `set`, so a
    default that depends on a changed parameter follows it.
    """

    def __init__(self, owner: str, decls: tuple[Var, ...], overrides: dict[str, float],
                 dt: float, seed: int, dtype: np.dtype) -> None:
        self.owner = owner
        self.decls = decls
        self.dt = dt
        unknown = set(overrides) - {v.name for v in decls}
        if unknown:
            raise BuildError(f"{owner}: overrides unknown parameter(s) {sorted(unknown)}")
        self.explicit = dict(overrides)
        domain = scalar_domain(f"{owner} (parameters)", seed, np.dtype(np.float64))
        names = [v.name for v in decls]
        self.defaults = {}
        for k, v in enumerate(decls):
            before = set(names[:k]) | {"dt"}
            self.defaults[v.name] = domain.compile(v.init, lambda n, b=before: n in b,
                                                   f"default of parameter `{v.name}`")
        self.values: dict[str, float] = {}
        self._derive()

    def _derive(self) -> None:
        self.values = {}
        lookup = lambda n: self.dt if n == "dt" else self.values[n]  # noqa: E731
        for v in self.decls:
            if v.name in self.explicit:
                self.values[v.name] = float(self.explicit[v.name])
            else:
                self.values[v.name] = float(np.asarray(self.defaults[v.name](lookup)))

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def __getitem__(self, name: str) -> float:
        return self.values[name]

    def set(self, name: str, value: float) -> None:
        if name not in self.values:
            raise KeyError(f"{self.owner} has no parameter `{name}` (it has: {', '.join(self.values) or 'none'})")
        self.explicit[name] = float(value)
        self._derive()
