"""What an assignment operator does, and when a phase-restricted op runs."""

from __future__ import annotations

import numpy as np


def runs(phases: tuple[str, ...], phase: str | None) -> bool:
    """An op with `phases` runs only while one of them runs; without phases, always."""
    return not phases or (phase is not None and phase in phases)


def combine(op: str, old, value):
    """The new value of `target op value` (`=`, `+=`, `-=`, `*=`, `/=`)."""
    if op == "=":
        return value
    with np.errstate(all="ignore"):
        if op == "+=":
            return old + value
        if op == "-=":
            return old - value
        if op == "*=":
            return old * value
        if op == "/=":
            return old / value
    raise ValueError(f"unknown assignment operator {op!r}")


def as_mask(value, shape: tuple[int, ...]) -> np.ndarray:
    """A 0/1 expression value as a boolean array of `shape`."""
    return np.broadcast_to(np.asarray(value) != 0, shape)
