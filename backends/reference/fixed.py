"""Fixed-point quantisation: `fixed<bits, scale, round, overflow>` (docs/_ir_notes.md, "Fixed point").

A fixed-point variable holds q * scale with an integer q. Every write quantises:
  q = value / scale, rounded      nearest: floor(q + 0.5); floor: floor(q); stochastic: floor(q + u)
  then saturated to [-(2^(bits-1) - 1), 2^(bits-1) - 1]            (overflow = saturate)
  or wrapped to two's complement of `bits`, [-2^(bits-1), 2^(bits-1) - 1]  (overflow = wrap);
  unsigned (`signed = false`): saturated to [0, 2^bits - 1] or wrapped modulo 2^bits.
`u` is drawn from `rng.rounding_stream(owner_index, var_index)` at the current step with the
element's index (see `Slot` in slots.py for which index that is).
"""

from __future__ import annotations

import numpy as np

from snnlang.semantics.symbols import ValueType


def is_fixed(vtype: ValueType) -> bool:
    return vtype.kind == "fixed"


def max_code(vtype: ValueType) -> int:
    """The largest integer q of a `bits`-bit fixed-point type (saturation bound)."""
    return 2 ** (vtype.bits - 1) - 1 if vtype.signed else 2 ** vtype.bits - 1


def quantise(value: np.ndarray, vtype: ValueType, u: np.ndarray | None = None) -> np.ndarray:
    """The value after a write to a variable of fixed-point type `vtype` (float array out).

    `u` (uniforms in [0, 1), same shape as `value`) is needed for `round = stochastic` only.
    NaN stays NaN so that the NumericalError check still sees it.
    """
    value = np.asarray(value, dtype=np.float64)
    q = value / vtype.scale
    if vtype.rounding == "nearest":
        q = np.floor(q + 0.5)
    elif vtype.rounding == "floor":
        q = np.floor(q)
    elif vtype.rounding == "stochastic":
        if u is None:
            raise ValueError("stochastic rounding needs uniforms")
        q = np.floor(q + u)
    else:
        raise ValueError(f"unknown rounding mode {vtype.rounding!r}")
    hi = max_code(vtype)
    if vtype.overflow == "saturate":
        q = np.clip(q, -hi if vtype.signed else 0, hi)
    elif vtype.overflow == "wrap":
        span = 2.0 ** vtype.bits
        half = 2.0 ** (vtype.bits - 1) if vtype.signed else 0.0
        q = np.mod(q + half, span) - half
    else:
        raise ValueError(f"unknown overflow mode {vtype.overflow!r}")
    return q * vtype.scale
