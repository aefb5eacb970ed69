"""Input and label populations: data (or noise) -> this step's spikes (docs/_ir_notes.md, Randomness).

An input/label population at index k of `NetworkIR.populations` draws from stream
`rng.encoder_stream(k)` at the global step with index b * size + i. Its arrays are
`POP.spike` (batch, size) and, for `regular`, the accumulator `POP.accumulator`.

  poisson / bernoulli   spike = u < p,  p = gain * x   (x: the intensities, (batch, size))
                        with `rate = R`: p = R * dt in a unit network (R in Hz), R when unit-free;
                        with `p = P`: p = P.  (`gain` is not applied to `rate` / `p`.)
  regular               a += gain * x; spike = a >= 1 - 1e-9; a -= spike
  latency               x > 0 spikes once, at phase step floor((1 - x) * (W - 1)); W = `window`
                        (steps), else the phase length
  events                data (batch, frames, size): spike = frame[step_in_phase] > 0 while
                        step_in_phase < frames (`polarity` is the runtime's business: it
                        flattens polarities into `size`)
  onehot (label)        data (batch,) classes: the class neuron spikes every step
                        (with `rate`: where u < p as for poisson); a class outside
                        [0, size) gives no spike
An inactive population emits no spikes and its accumulator is held. `step_in_phase` counts
from 0 at the start of each `run_phase` call.
"""

from __future__ import annotations

import numpy as np

from snnlang.ir import rng
from snnlang.ir.model import PopulationIR, Var
from snnlang.semantics.symbols import BOOL, FLOAT

from .errors import BuildError
from .evaluate import element_index
from .slots import Slot

REGULAR_THRESHOLD = 1 - 1e-9
DATA_FREE = {"poisson": "rate", "bernoulli": "p"}
KNOWN = {"poisson", "bernoulli", "regular", "latency", "events", "onehot"}


def steps_of(value: float, dt: float, unit_free: bool) -> int:
    """A length option (`window`) in steps. The IR keeps only its SI value, so in a unit network
    a whole number >= 1 is read as steps and anything else as a time (the rule lower.py applies
    to `delay`); unit-free values are steps."""
    if unit_free or (value == int(value) and value >= 1):
        return int(round(value))
    return int(round(value / dt))


class InputPopulation:
    def __init__(self, index: int, pop: PopulationIR, dt: float, unit_free: bool, seed: int,
                 batch: int, dtype: np.dtype) -> None:
        if pop.encoder not in KNOWN:
            raise BuildError(f"{pop.kind} {pop.name}: unknown encoder `{pop.encoder}`")
        self.kind = pop.kind
        self.index = index
        self.name = pop.name
        self.size = pop.size
        self.batch = batch
        self.encoder = pop.encoder
        self.options = dict(pop.encoder_options)
        self.dt = dt
        self.unit_free = unit_free
        self.seed = seed
        self.stream = rng.encoder_stream(index)
        self.rng_index = element_index(batch, np.arange(pop.size), pop.size)
        shape = (batch, pop.size)
        self.slots = {"spike": Slot(f"{pop.name}.spike", np.zeros(shape, dtype=dtype),
                                    Var("spike", "event", BOOL, 0), seed, None, self.rng_index)}
        if self.encoder == "regular":
            self.slots["accumulator"] = Slot(f"{pop.name}.accumulator", np.zeros(shape, dtype=dtype),
                                             Var("accumulator", "hidden", FLOAT, 0), seed, None,
                                             self.rng_index)
        self.params = {}

    # ------------------------------------------------------------------ data

    @property
    def needs_data(self) -> bool:
        return DATA_FREE.get(self.encoder) not in self.options

    def check_data(self, data) -> np.ndarray | None:
        """The population's data in the shape the encoder reads, or an error that says why not."""
        if data is None:
            if self.needs_data:
                raise ValueError(f"{self.kind} `{self.name}` ({self.encoder}) is active but got no data")
            return None
        data = np.asarray(data)
        try:
            if self.kind == "label":
                return np.broadcast_to(data, (self.batch,)).astype(np.int64)
            if self.encoder == "events":
                if data.ndim != 3 or data.shape[0] != self.batch or data.shape[2] != self.size:
                    raise ValueError
                return data
            return np.broadcast_to(data, (self.batch, self.size)).astype(np.float64)
        except ValueError:
            want = {"label": "(batch,) classes", "events": "(batch, frames, size) events"}.get(
                self.kind if self.kind == "label" else self.encoder, "(batch, size) intensities")
            raise ValueError(f"{self.kind} `{self.name}`: data of shape {data.shape} is not {want} "
                             f"with batch {self.batch}, size {self.size}") from None

    # ------------------------------------------------------------------ one step

    def reset(self, step: int) -> None:
        for slot in self.slots.values():
            slot.array[...] = 0

    def _probability(self, data: np.ndarray | None) -> np.ndarray | float:
        if "rate" in self.options:
            rate = self.options["rate"]
            return rate if self.unit_free else rate * self.dt
        if "p" in self.options:
            return self.options["p"]
        return self.options.get("gain", 1.0) * data

    def encode(self, active: bool, data, step_in_phase: int, phase_steps: int, step: int) -> None:
        spike = self.slots["spike"].array
        if not active:
            spike[...] = 0
            return
        if self.kind == "label":
            onehot = np.zeros((self.batch, self.size), dtype=bool)
            if data is not None:
                rows = np.nonzero((data >= 0) & (data < self.size))[0]
                onehot[rows, data[rows]] = True
            if "rate" in self.options:
                onehot &= self._uniform(step) < self._probability(None)
            spike[...] = onehot
        elif self.encoder in ("poisson", "bernoulli"):
            spike[...] = self._uniform(step) < self._probability(data)
        elif self.encoder == "regular":
            acc = self.slots["accumulator"].array
            acc += self.options.get("gain", 1.0) * data
            fired = acc >= REGULAR_THRESHOLD
            acc -= fired
            spike[...] = fired
        elif self.encoder == "latency":
            window = self.options.get("window")
            w = phase_steps if window is None else steps_of(window, self.dt, self.unit_free)
            with np.errstate(all="ignore"):
                when = np.floor((1.0 - data) * (w - 1))
            spike[...] = (data > 0) & (when == step_in_phase)
        elif self.encoder == "events":
            frames = data.shape[1]
            spike[...] = (data[:, step_in_phase] > 0) if step_in_phase < frames else False

    def _uniform(self, step: int) -> np.ndarray:
        return rng.uniform_np(self.seed, self.stream, step, self.rng_index)

