"""The contract between the runtime `Model` and a backend.

A backend turns one `NetworkIR` (with the `ModelIR` it belongs to) into an
`Executable`: arrays for every population and connection, and a way to run
a phase for some steps. The runtime owns the schedule (which phase, how many
steps, resets, sample order, batching of the data set); the backend owns the
inner loop, so a compiled backend can run a whole phase in one call.

Array layout every backend shares (so recordings and checkpoints are portable):
  * a neuron variable of population P:   shape (batch, P.size)
  * a synapse variable of connection C:   dense (C.target.size, C.source.size);
    one_to_one (C.target.size,); sparse: CSR values in row order (`C.indptr`, `C.indices`
    are part of the state); pre-side traces (batch, source.size), post-side (batch, target.size)
  * parameters: one float per population/connection, settable at runtime.
State names are "POP.var" and "CONN.var"; `state_names()` lists them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol

import numpy as np

from snnlang.errors import UserError


@dataclass(frozen=True)
class Options:
    """What every backend accepts."""

    seed: int = 0
    batch: int = 1
    dtype: str = "float64"          # float32 | float64
    device: str = "auto"            # torch only
    extra: Mapping[str, object] = field(default_factory=dict)


@dataclass
class PhaseRun:
    """One call of `Executable.run_phase`."""

    phase: str | None               # None: a network without schedule (plain simulation)
    steps: int
    active: frozenset[str] | None   # connections and input/label populations that are on; None: all
    plastic: frozenset[str]         # connections whose learning statements run
    data: Mapping[str, np.ndarray]  # input population -> intensities (batch, size) or events
                                    # (batch, steps, size); label population -> class (batch,)
    record: tuple[str, ...] = ()    # "POP.var" / "CONN.var" to record every step


class Executable(Protocol):
    step: int                       # global step counter (the RNG's `step` argument)

    def state_names(self) -> list[str]: ...

    def get(self, name: str) -> np.ndarray: ...

    def set(self, name: str, value: np.ndarray) -> None: ...

    def get_param(self, owner: str, name: str) -> float: ...

    def set_param(self, owner: str, name: str, value: float) -> None: ...

    def reset(self, owners: frozenset[str] | None) -> None:
        """Put the states of these populations/connections back to their initial values
        (None: every population and every connection's non-weight state)."""

    def run_phase(self, run: PhaseRun) -> dict[str, np.ndarray]:
        """Run `run.steps` steps; returns recordings, each (steps, *shape)."""


class NumericalError(UserError, RuntimeError):
    """A state became NaN or infinite: says which, where and when."""

    def __init__(self, name: str, step: int, index: tuple[int, ...]) -> None:
        super().__init__(f"`{name}` became NaN or infinite at step {step} (index {index}); "
                         "the run was stopped before the bad value could spread. Lower the learning "
                         "rate or the time step, or bound the variable with clip().")
        self.name, self.step_number, self.index = name, step, index
