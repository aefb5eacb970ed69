"""The Python API: `snnlang.compile(...)` returns a `Model` that runs, trains and evaluates.

The Model owns the schedule (phases per sample, periodic phases, resets, batching
of a data set) and drives a backend `Executable` phase by phase.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from functools import lru_cache
from typing import Callable, Iterable, Mapping, Protocol, Sequence

import numpy as np

from snnlang.diagnostics import Diagnostic, render_all
from snnlang.errors import UserError
from snnlang.ir.model import ModelIR, NetworkIR, PhaseIR
from snnlang.runtime.executable import Executable, Options, PhaseRun
from snnlang.runtime.network_params import NetworkParams
from snnlang.runtime.parameter_values import ParameterValueError, is_arithmetic_failure, undefined_constants
# Dataset lives with the data layer; re-exported here (snnlang.runtime.model.Dataset)
from snnlang.data.dataset import Dataset  # noqa: F401



class CompileError(UserError):
    """The model has errors; `diagnostics` holds them, `str()` renders them."""

    def __init__(self, diagnostics: Sequence[Diagnostic], rendered: str) -> None:
        super().__init__(rendered)
        self.diagnostics = list(diagnostics)


class DataError(UserError, ValueError):
    """Data that does not fit the network (shape, missing input)."""


@dataclass
class Recording:
    """Recorded variables: name -> array (steps, batch, ...)."""

    dt: float
    data: dict[str, np.ndarray] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[name]

    def spikes(self, population: str, event: str = "spike", row: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(step indices, neuron indices) of a population's events in one batch row."""
        flags = self.data[f"{population}.{event}"][:, row]
        steps, neurons = np.nonzero(flags > 0)
        return steps, neurons


class Trainer(Protocol):
    """Trains a Model by another method than its own plasticity (chosen by `learning=` in
    `snnlang.compile`, made by the backend's `Executable.make_trainer`), e.g. surrogate-gradient
    BPTT: `Model.train` hands it each batch instead of running the schedule's phases."""

    def train_batch(self, data: dict, labels: np.ndarray, real: int) -> float:
        """One update on a bound batch (the first `real` rows are real samples); returns its loss."""


class Model:
    """A compiled network: state, parameters, and the schedule that drives it."""

    def __init__(self, ir: ModelIR, network: str, target: str, options: Options,
                 executable: Executable, sources: Mapping[str, str], trainer: "Trainer | None" = None) -> None:
        self.ir = ir
        self.network: NetworkIR = ir.networks[network]
        self.target = target
        self.options = options
        self.exe = executable
        self.sources = dict(sources)
        self.samples_seen = 0
        self.trainer = trainer          # None: train by the model's own plasticity (learning="local")
        self.network_params = NetworkParams(self.network)   # the network's own `param`s, settable too

    # ------------------------------------------------------------ parameters
    def get_param(self, owner: str, name: str) -> float:
        if owner == self.network.name and name in self.network_params:
            return self.network_params.get(name)
        return self.exe.get_param(owner, name)

    def set_param(self, owner: str, name: str, value: float) -> None:
        """Change a parameter (e.g. a learning rate) without recompiling. `owner` is a population,
        a connection, or the network itself for its own `param`s: those re-derive the overrides
        and phase lengths written in terms of them (snnlang/runtime/network_params.py)."""
        previous = self.get_param(owner, name)
        if not math.isfinite(float(value)):
            raise ParameterValueError(f"{owner}.{name} = {float(value)}: a parameter must be a finite "
                                      "number; the previous value was kept")
        try:
            self._set_param(owner, name, float(value))
        except Exception as exc:
            if not is_arithmetic_failure(exc):
                raise
            self._set_param(owner, name, previous)     # the old value derived fine: keep it
            raise undefined_constants(exc, self.ir, self.network.name, self.target,
                                      changed=f"{owner}.{name} = {float(value):g}",
                                      value_of=self.exe.get_param) from None

    def _set_param(self, owner: str, name: str, value: float) -> None:
        if owner == self.network.name and name in self.network_params:
            self.network_params.set(name, value, self.exe)
        else:
            self.exe.set_param(owner, name, value)

    def state_names(self) -> list[str]:
        return self.exe.state_names()

    def get(self, name: str) -> np.ndarray:
        return self.exe.get(name)

    def set(self, name: str, value: np.ndarray) -> None:
        self.exe.set(name, np.asarray(value))

    def reset(self) -> None:
        """Every population and connection back to its initial state (weights kept)."""
        self.exe.reset(None)

    # -------------------------------------------------------------- running
    def _data_inputs(self) -> list[str]:
        return [p.name for p in self.network.populations
                if p.kind == "input" and not any(k in ("rate", "p") for k, _ in p.encoder_options)]

    def _labels(self) -> list[str]:
        return [p.name for p in self.network.populations if p.kind == "label"]

    def _check_classes(self, data: Dataset) -> None:
        # a label population one-hot encodes the class: a label beyond its size would be
        # dropped without a word (reference) or index out of range (a loss)
        for name in self._labels():
            data.check_classes(self.network.population(name).size, f"label population `{name}`")

    def _bind(self, x: np.ndarray | Mapping[str, np.ndarray] | None, y: np.ndarray | None) -> dict:
        data: dict[str, np.ndarray] = {}
        inputs = self._data_inputs()
        if isinstance(x, Mapping):
            unknown = set(x) - set(inputs)
            if unknown:
                raise DataError(f"no data input named {', '.join(sorted(unknown))}; "
                                f"the network's data inputs: {', '.join(inputs) or 'none'}")
            data.update({k: np.asarray(v, dtype=float) for k, v in x.items()})
        elif x is not None:
            if len(inputs) != 1:
                raise DataError(f"the network has {len(inputs)} data inputs ({', '.join(inputs)}); "
                                "pass a dict {input_name: array}")
            data[inputs[0]] = np.asarray(x, dtype=float)
        for name, arr in data.items():
            size = self.network.population(name).size
            if arr.shape[-1] != size:
                raise DataError(f"input `{name}` has {size} neurons but the data has {arr.shape[-1]} "
                                f"features per sample (shape {arr.shape})")
        if y is not None:
            for name in self._labels():
                data[name] = np.asarray(y, dtype=np.int64)
        return data

    def run(self, steps: int | None = None, inputs=None, record: Iterable[str] | None = None,
            plastic: bool = True, labels=None) -> Recording:
        """Simulate freely (every connection on; plasticity on unless `plastic=False`).

        `inputs`: intensities for the data input (batch, size) or {input: array}; `labels`: the
        class (one per batch row) for the network's label populations, which stay silent without
        it. Records every neuron population's spikes by default; name more states ("pop.v") in
        `record`. States carry on from where they are: call `reset()` to start afresh.
        """
        if steps is not None:
            steps = _whole_steps(steps)
        else:   # `simulate 0` is refused by the checker (E609): only an absent one defaults
            steps = self.network.simulate_steps if self.network.simulate_steps is not None else 1000
        names = tuple(record) if record is not None else tuple(
            f"{p.name}.spike" for p in self.network.populations if p.kind == "neuron")
        plastic_set = frozenset(c.name for c in self.network.connections) if plastic else frozenset()
        data = self._batched(self._bind(inputs, None if labels is None else np.atleast_1d(labels)))
        missing = [name for name in self._data_inputs() if name not in data]
        if missing:
            raise DataError(f"input `{missing[0]}` needs data in a free run: pass "
                            f"inputs=array of shape (batch, {self.network.population(missing[0]).size}) "
                            "with intensities in [0, 1], or {name: array}")
        out = self._execute(PhaseRun(None, int(steps), self._active(None, data), plastic_set, data, names))
        return Recording(self.network.dt, out)

    def _batched(self, data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        batch = self.options.batch
        out = {}
        for name, arr in data.items():
            is_label = self.network.population(name).kind == "label"
            single = arr.ndim == (0 if is_label else 1)
            if single:
                arr = np.repeat(arr[None], batch, axis=0)
            if arr.shape[0] != batch:
                raise DataError(f"`{name}`: {arr.shape[0]} samples given but the model was compiled with "
                                f"batch={batch}")
            out[name] = arr
        return out

    # ------------------------------------------------------------- schedule
    def _phases(self, periodic: bool) -> list[PhaseIR]:
        if self.network.schedule is None:
            raise DataError(f"network `{self.network.name}` has no schedule; use run()")
        return [p for p in self.network_params.phases if (p.every is not None) == periodic]

    def _run_phase(self, phase: PhaseIR, data: dict, learn: bool, record=()) -> dict:
        if phase.reset_all:
            self.exe.reset(None)
        elif phase.reset:
            self.exe.reset(phase.reset)
        plastic = phase.plastic if learn else frozenset()
        return self._execute(PhaseRun(phase.name, phase.steps, self._active(phase.active, data), plastic,
                                      data, record))

    def _execute(self, run: PhaseRun) -> dict:
        try:
            return self.exe.run_phase(run)
        except Exception as exc:
            # the reference evaluates parameter-only expressions with Python floats at each step,
            # where the compiled backends derived them at build: same failure, same message
            if not is_arithmetic_failure(exc):
                raise
            raise undefined_constants(exc, self.ir, self.network.name, self.target, running=True,
                                      value_of=self.exe.get_param) from None

    def _active(self, active: frozenset[str] | None, data: dict) -> frozenset[str] | None:
        """An active set (None: everything) without the labels when no labels are given
        (evaluation must not see the answer: a label population a phase turns on stays silent)."""
        labels = {p for p in self._labels() if p not in data}
        if not labels:
            return active
        everything = active if active is not None else frozenset(
            [c.name for c in self.network.connections] + [p.name for p in self.network.populations
                                                          if p.kind != "neuron"])
        return everything - labels

    def _batches(self, data: Dataset, shuffle: bool, epoch: int, shard: bool = False):
        """(sample indices, how many are real) per batch. `shard`: under data parallelism
        (an executable with `data_parallel` = (processes, rank)) a batch holds `batch` rows per
        process and this process gets its own slice; `real` then counts the whole batch."""
        n = len(data)
        order = np.arange(n)
        if shuffle:
            order = np.random.default_rng((self.options.seed, epoch)).permutation(n)
        batch = self.options.batch
        world, rank = getattr(self.exe, "data_parallel", (1, 0)) if shard else (1, 0)
        size = batch * world
        for start in range(0, n, size):
            idx = order[start:start + size]
            real = len(idx)
            if real < size:  # pad the last batch by repeating samples; their predictions are dropped
                idx = np.resize(np.concatenate([idx, order]), size)
            yield idx[rank * batch:(rank + 1) * batch], real

    def train(self, data: Dataset, epochs: int = 1, shuffle: bool = True, progress: bool = True,
              validation: Dataset | None = None, checkpoint: str | Path | None = None,
              resume: str | Path | None = None) -> list[dict]:
        """Train by the model's schedule: per sample its phases, periodic phases every N samples.

        `checkpoint`: a file written after every epoch (atomically) with everything the next
        epoch depends on; SIGINT/SIGTERM then stop training at once, leave the last completed
        epoch there and raise `TrainingInterrupted`. `resume`: such a file; training continues
        from it (its epochs count towards `epochs`) exactly as if it had not stopped, given the
        same data and arguments, and the history returned includes the epochs before; without
        `checkpoint`, it keeps writing to `resume`.
        """
        from snnlang.runtime import checkpoint as ckpt
        epochs = _whole_epochs(epochs)
        self._check_classes(data)
        if validation is not None:
            self._check_classes(validation)
        per_sample = self._phases(periodic=False)
        periodic = self._phases(periodic=True)
        history: list[dict] = []
        start = 0
        if resume is not None:
            done = ckpt.resume(self, resume, "train", data)
            start, history = done.epoch, done.history
            checkpoint = resume if checkpoint is None else checkpoint
        with ckpt.Session(self, checkpoint, "train", data, epochs) as session:
            session.completed(start, history)
            for epoch in range(start, epochs):
                self._train_epoch(data, epoch, epochs, shuffle, progress, per_sample, periodic, history)
                if validation is not None:
                    history[-1]["accuracy"] = self.evaluate(validation, progress=False)["accuracy"]
                session.completed(epoch + 1, history)
        return history

    def _train_epoch(self, data: Dataset, epoch: int, epochs: int, shuffle: bool, progress: bool,
                     per_sample: list[PhaseIR], periodic: list[PhaseIR], history: list[dict]) -> None:
        batches = list(self._batches(data, shuffle, epoch, shard=True))
        bar = _progress(batches, progress, f"epoch {epoch + 1}/{epochs}")
        losses = []
        for idx, real in bar:
            bound = self._bind(data.x[idx], data.y[idx])
            before = self.samples_seen
            self.samples_seen += real
            if self.trainer is not None:    # e.g. BPTT: the trainer replaces the phases' plasticity
                rank = getattr(self.exe, "data_parallel", (1, 0))[1]
                mine = min(max(real - rank * self.options.batch, 0), self.options.batch)
                losses.append(self.trainer.train_batch(bound, data.y[idx], mine))
                continue
            for phase in per_sample:
                self._run_phase(phase, bound, learn=True)
            for phase in periodic:
                if self.samples_seen // phase.every > before // phase.every:
                    self._run_phase(phase, {}, learn=True)
        entry = {"epoch": epoch + 1, "samples": self.samples_seen}
        if losses:
            entry["loss"] = float(np.mean(losses))
        entry.update(self.metrics())
        history.append(entry)

    def predict(self, x, progress: bool = False) -> np.ndarray:
        """Run the inference phases on each sample and apply the readout."""
        if self.network.readout is None:
            raise DataError(f"network `{self.network.name}` declares no readout")
        x = np.asarray(x)
        n = x.shape[0]
        phases = [p for p in self._phases(periodic=False) if p.name in self.network.schedule.infer]
        preds = np.empty(n, dtype=np.int64)
        dummy_y = np.zeros(n, dtype=np.int64)
        for idx, real in _progress(list(self._batches(Dataset(x, dummy_y), False, 0)), progress, "evaluate"):
            bound = self._bind(x[idx], None)
            for phase in phases:
                self._run_phase(phase, bound, learn=False)
            preds[idx[:real]] = self._readout()[:real]
        return preds

    def evaluate(self, data: Dataset, progress: bool = True) -> dict:
        self._check_classes(data)
        preds = self.predict(data.x, progress)
        return {"accuracy": float(np.mean(preds == np.asarray(data.y))), "predictions": preds}

    def _readout(self) -> np.ndarray:
        values = _evaluate_network_expr(self.network.readout, self.exe)
        return np.asarray(values).astype(np.int64).reshape(self.options.batch)

    def metrics(self) -> dict[str, float]:
        return {name: float(_evaluate_network_expr(expr, self.exe)) for name, expr in self.network.metrics}

    # ----------------------------------------------------------- checkpoints
    def save(self, path: str | Path) -> None:
        """Write every state, every parameter and the model source; `snnlang.load` restores it
        exactly. The file is replaced only once the new one is complete (a kill mid-write
        leaves the old checkpoint); CheckpointError if it cannot be written."""
        from snnlang.runtime import checkpoint
        checkpoint.save(self, path)


def _whole_steps(steps) -> int:
    """`steps` as a positive int: a negative count used to run nothing silently, and 2.5 steps
    to run 2."""
    if isinstance(steps, float) and steps.is_integer():
        steps = int(steps)
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise UserError(f"steps={steps!r}: the number of steps to simulate is a whole number, at least 1")
    return int(steps)


def _whole_epochs(epochs) -> int:
    """`epochs` as an int of at least 0 (a negative count trained nothing without a word)."""
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
        raise UserError(f"epochs={epochs!r}: the number of epochs is a whole number, at least 0")
    return int(epochs)


def _progress(items, enabled: bool, desc: str):
    if not enabled:
        return items
    from tqdm import tqdm
    return tqdm(items, desc=desc, unit="batch", leave=False)


def _param_names(ir: ModelIR, net: NetworkIR) -> dict[str, list[str]]:
    out = {}
    for p in net.populations:
        if p.kind == "neuron":
            out[p.name] = [v.name for v in ir.neurons[p.neuron].of_kind("param")]
    for c in net.connections:
        out[c.name] = [v.name for v in ir.synapses[c.synapse].of_kind("param")]
    return out


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    if denom == 0:
        return float("nan")
    return math.degrees(math.acos(max(-1.0, min(1.0, float(a @ b / denom)))))


_NET_FUNCS = {
    "argmax": lambda x: np.argmax(np.asarray(x), axis=-1),
    "transpose": lambda x: np.swapaxes(np.asarray(x), -1, -2),
    "angle": _angle,
    "norm": lambda x: float(np.linalg.norm(np.asarray(x))),
    "PopSum": lambda x: np.sum(x, axis=-1), "PopMean": lambda x: np.mean(x, axis=-1),
    "PopMax": lambda x: np.max(x, axis=-1), "PopMin": lambda x: np.min(x, axis=-1),
}


@lru_cache(maxsize=256)
def _network_function(expr) -> tuple[Callable, tuple[str, ...]]:
    """A readout/metric expression as a NumPy function of the states it names. Cached: the
    readout is evaluated after every batch, and lambdify costs milliseconds."""
    import sympy
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    return sympy.lambdify(symbols, expr, modules=[_NET_FUNCS, "numpy"]), tuple(s.name for s in symbols)


def _evaluate_network_expr(expr, exe: Executable):
    fn, names = _network_function(expr)
    return fn(*[exe.get(name) for name in names])


def load(path: str | Path, target: str | None = None) -> Model:
    """Restore a `Model.save` checkpoint: recompiles the stored source and restores every state.

    Everything in the file is checked first (snnlang/runtime/checkpoint.py); a damaged file or
    one that does not fit its own model raises CheckpointError (a UserError) naming the entry."""
    from snnlang.runtime import checkpoint
    return checkpoint.load(path, target)
