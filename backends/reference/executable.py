"""The reference `Executable`: arrays of a whole network and the step loop (snnlang/ir/model.py).

One step (global step counter `step`, t = step * dt):
  0. pending delayed deliveries due at this step are added into their targets;
  1. for each population in `NetworkIR.order`: an input/label population encodes (no spikes
     when inactive), a neuron population steps (neurons.py; neuron populations always step,
     `active` names only connections and inputs/labels); then every active connection whose
     source it is transmits, in declaration order;
  2. every connection, in declaration order: traces, learning (if plastic), trace events;
  3. the NaN/Inf check; the recordings; step += 1.
`run_phase` runs the `at start of PHASE` hooks before the first step and the `at end of PHASE`
hooks after the last (populations in step order, then connections), each followed by the check.

NaN/Inf check: all variables except parameters and sparse index arrays, in `state_names()`
order (populations in step order, each in `NeuronIR.vars` order; then connections in
declaration order, each in `SynapseIR.vars` order, tied views skipped); the first non-finite
element (C order) raises NumericalError("POP.var", step, index). `step` is the step that
produced it (for hooks: the counter at the boundary); the counter is not advanced past it.
"""

from __future__ import annotations

import numpy as np

from snnlang.ir.model import ModelIR, NetworkIR
from snnlang.runtime.executable import NumericalError, Options, PhaseRun

from .connections import Connection
from .encoders import InputPopulation
from .errors import BuildError
from .neurons import NeuronPopulation


class ReferenceExecutable:
    """Plain-NumPy executable of one network: the oracle the other backends are tested against."""

    def __init__(self, model: ModelIR, network: str, options: Options) -> None:
        if network not in model.networks:
            raise BuildError(f"no network `{network}` in {model.file} (it has: {', '.join(model.networks)})")
        if options.dtype not in ("float32", "float64"):
            raise BuildError(f"dtype must be float32 or float64, not {options.dtype!r}")
        if options.batch < 1:
            raise BuildError("batch must be at least 1")
        net: NetworkIR = model.networks[network]
        self.model = model
        self.network = net
        self.options = options
        self.batch = options.batch
        self.dtype = np.dtype(options.dtype)
        self.step = 0
        seed = int(options.seed)
        self.batch_mode = net.schedule.batch if net.schedule is not None else "sum"
        self.populations = []
        for k, pop in enumerate(net.populations):
            if pop.kind == "neuron":
                if pop.neuron not in model.neurons:
                    raise BuildError(f"population {pop.name}: unknown neuron `{pop.neuron}`")
                self.populations.append(NeuronPopulation(k, pop, model.neurons[pop.neuron], net.dt, seed,
                                                         self.batch, self.dtype))
            else:
                self.populations.append(InputPopulation(k, pop, net.dt, net.unit_free, seed, self.batch,
                                                        self.dtype))
        by_name = {p.name: p for p in self.populations}
        self.connections: list[Connection] = []
        for c, conn in enumerate(net.connections):
            if conn.synapse not in model.synapses:
                raise BuildError(f"connection {conn.name}: unknown synapse `{conn.synapse}`")
            self.connections.append(Connection(
                c, conn, model.synapses[conn.synapse], by_name[conn.source], by_name[conn.target],
                len(net.populations), net.dt, seed, self.batch, self.dtype, self.batch_mode))
        conns = {c.name: c for c in self.connections}
        for c in self.connections:
            if c.ir.tie is not None:
                if c.ir.tie.other not in conns:
                    raise BuildError(f"connection {c.name}: ties to unknown connection `{c.ir.tie.other}`")
                c.tie(conns[c.ir.tie.other])
        self.owners = {**by_name, **conns}
        self.outgoing = {p.name: [c for c in self.connections if c.ir.source == p.name] for p in self.populations}
        self._slots = {}
        for owner in [*self.populations, *self.connections]:
            for slot in owner.slots.values():
                self._slots[slot.name] = slot
        self._checked = [slot for owner in [*self.populations, *self.connections]
                         for slot in (owner.owned_slots() if isinstance(owner, Connection) else owner.slots).values()]
        self._sparse = {}
        for c in self.connections:
            if c.layout.kind == "sparse":
                self._sparse[f"{c.name}.indptr"] = c.layout.indptr
                self._sparse[f"{c.name}.indices"] = c.layout.indices
        for p in self.populations:
            p.reset(self.step)
        for c in self.connections:
            c.initialise()

    # ------------------------------------------------------------------ arrays

    def state_names(self) -> list[str]:
        names = []
        for owner in [*self.populations, *self.connections]:
            names += [slot.name for slot in owner.slots.values()]
            if isinstance(owner, Connection) and owner.layout.kind == "sparse":
                names += [f"{owner.name}.indptr", f"{owner.name}.indices"]
        return names

    def get(self, name: str) -> np.ndarray:
        if name in self._sparse:
            return self._sparse[name].copy()
        return self._slot(name).array.copy()

    def set(self, name: str, value: np.ndarray) -> None:
        if name in self._sparse:
            if not np.array_equal(np.asarray(value), self._sparse[name]):
                raise ValueError(f"`{name}`: the sparse connectivity is fixed when the network is built")
            return
        slot = self._slot(name)
        value = np.asarray(value)
        if value.shape != slot.shape:
            raise ValueError(f"`{name}` has shape {slot.shape}, got {value.shape}")
        slot.write(value, self.step)

    def _slot(self, name: str):
        try:
            return self._slots[name]
        except KeyError:
            raise KeyError(f"no state `{name}` (states: {', '.join(self.state_names())})") from None

    def _owner(self, owner: str):
        try:
            return self.owners[owner]
        except KeyError:
            raise KeyError(f"no population or connection `{owner}`") from None

    def get_param(self, owner: str, name: str) -> float:
        params = self._owner(owner).params
        if name not in params:
            raise KeyError(f"{owner} has no parameter `{name}`")
        return params[name]

    def set_param(self, owner: str, name: str, value: float) -> None:
        o = self._owner(owner)
        if isinstance(o, InputPopulation):
            raise KeyError(f"{owner} has no parameter `{name}`")
        o.params.set(name, value)

    def reset(self, owners: frozenset[str] | None) -> None:
        """None (`reset all`): every population completely, every connection's traces, hidden counters
        and pending deliveries. Named: those populations completely; those connections as with None
        plus their states that are neither initialised by `init` nor tied."""
        if owners is None:
            for p in self.populations:
                p.reset(self.step)
            for c in self.connections:
                c.reset(self.step, states=False)
            return
        for name in owners:
            self._owner(name)
        for p in self.populations:
            if p.name in owners:
                p.reset(self.step)
        for c in self.connections:
            if c.name in owners:
                c.reset(self.step, states=True)

    # ------------------------------------------------------------------ running

    def _check(self) -> None:
        for slot in self._checked:
            finite = np.isfinite(slot.array)
            if not finite.all():
                index = tuple(int(i) for i in np.argwhere(~finite)[0])
                raise NumericalError(slot.name, self.step, index)

    def _hooks(self, edge: str, run: PhaseRun, active, plastic) -> None:
        if run.phase is None:
            return
        for p in self.populations:
            if isinstance(p, NeuronPopulation):
                p.run_hooks(edge, run.phase, self.step)
        for c in self.connections:
            c.run_hooks(edge, run.phase, self.step, active(c.name), plastic(c.name))
        self._check()

    def run_phase(self, run: PhaseRun) -> dict[str, np.ndarray]:
        def active(name: str) -> bool:
            return run.active is None or name in run.active

        def plastic(name: str) -> bool:
            return run.plastic is None or name in run.plastic

        data = {}
        for p in self.populations:
            if isinstance(p, InputPopulation) and active(p.name):
                data[p.name] = p.check_data(run.data.get(p.name))
        unknown = set(run.data) - {p.name for p in self.populations if isinstance(p, InputPopulation)}
        if unknown:
            raise KeyError(f"data for unknown input/label populations: {sorted(unknown)}")
        for name in run.record:
            if name not in self._sparse:
                self._slot(name)
        records = {name: [] for name in run.record}

        self._hooks("start", run, active, plastic)
        for k in range(run.steps):
            step = self.step
            for c in self.connections:
                c.apply_pending(step)
            for p in self.populations:
                if isinstance(p, InputPopulation):
                    p.encode(active(p.name), data.get(p.name), k, run.steps, step)
                else:
                    p.step(run.phase, step)
                for c in self.outgoing[p.name]:
                    if active(c.name):
                        c.transmit(run.phase, step)
            for c in self.connections:
                c.learn(run.phase, step, active(c.name), plastic(c.name))
            self._check()
            for name, frames in records.items():
                frames.append(self.get(name))
            self.step += 1
        self._hooks("end", run, active, plastic)
        return {name: (np.stack(frames) if frames else np.zeros((0,) + self.get(name).shape, self.get(name).dtype))
                for name, frames in records.items()}
