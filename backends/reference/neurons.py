"""A population of neurons: its arrays (batch, size) and one time step of its `NeuronIR`.

Per step (snnlang/ir/model.py, docs/_ir_notes.md):
  1. `program` in order. An `Update` writes its variable at once (later ops see it); an
     `OdeBlock` evaluates all its right-hand sides first, then writes them together. An op's
     `mask` (e.g. "not refractory") is evaluated when the op runs; masked-out neurons keep
     their values.
  2. `events`: first every condition, in written order, each setting its flag at once (so a
     later condition sees this step's earlier flags); an event outside its phases does not
     fire (flag 0). Then the bodies of the events, in written order; every body statement
     carries its event flag in its mask.
  3. `traces`, in written order: x <- decay * x + per_step (a `mean` trace:
     x <- x + (arg - x) / (count + 1), count <- count + 1), then each `on` clause where its
     event flag is set.
  4. the input ports are cleared.
Ops, events and traces with `phases` run only in those phases (held otherwise).
"""

from __future__ import annotations

import numpy as np

from snnlang.ir import rng
from snnlang.ir.model import NeuronIR, OdeBlock, PopulationIR, Update

from .errors import BuildError
from .evaluate import Domain, element_index
from .slots import Params, Slot, storage_dtype
from .statements import as_mask, combine, runs


class NeuronPopulation:
    kind = "neuron"

    def __init__(self, index: int, pop: PopulationIR, neuron: NeuronIR, dt: float, seed: int,
                 batch: int, dtype: np.dtype) -> None:
        self.index = index
        self.name = pop.name
        self.size = pop.size
        self.batch = batch
        self.neuron = neuron
        self.dt = dt
        self.params = Params(f"population {pop.name}", neuron.of_kind("param"), dict(pop.params),
                             dt, seed, dtype)
        rindex = element_index(batch, np.arange(pop.size), pop.size)
        self.domain = Domain(f"population {pop.name}", (batch, pop.size), rindex, seed, dtype,
                             population_axis=True)
        self.slots: dict[str, Slot] = {}
        for k, v in enumerate(neuron.vars):
            if v.kind == "param":
                continue
            array = np.zeros((batch, pop.size), dtype=storage_dtype(v, dtype))
            self.slots[v.name] = Slot(f"{pop.name}.{v.name}", array, v, seed,
                                      rng.rounding_stream(index, k), rindex)
        self.ports = [v.name for v in neuron.of_kind("input")]

        def known(name: str) -> bool:
            return name in self.slots or name in self.params or name in ("t", "dt")

        def c(expr, what):
            return None if expr is None else self.domain.compile(expr, known, f"{what} of neuron {neuron.name}")

        self.inits = [(v.name, c(v.init, f"initial value of `{v.name}`"))
                      for v in neuron.vars if v.kind != "param"]
        self.program = []
        for op in neuron.program:
            if isinstance(op, Update):
                self._writable(op.var)
                self.program.append((op, [(op.var, c(op.expr, f"update of `{op.var}`"))],
                                     c(op.mask, "mask")))
            elif isinstance(op, OdeBlock):
                for var, _ in op.updates:
                    self._writable(var)
                self.program.append((op, [(var, c(e, f"ODE update of `{var}`")) for var, e in op.updates],
                                     c(op.mask, "mask")))
            else:
                raise BuildError(f"population {self.name}: unknown program op {type(op).__name__}")
        self.events = [(ev, c(ev.cond, f"condition of event `{ev.name}`"),
                        [self._assign(a) for a in ev.body]) for ev in neuron.events]
        self.traces = []
        for tr in neuron.traces:
            self._writable(tr.name)
            ons = []
            for on in tr.on:
                if on.event not in self.slots or self.slots[on.event].var.kind != "event":
                    raise BuildError(f"population {self.name}: trace `{tr.name}` counts `{on.event}`, "
                                     "which is not an event of the neuron")
                ons.append((on, c(on.expr, f"`on {on.event}` of trace `{tr.name}`")))
            self.traces.append((tr, c(tr.decay, f"decay of trace `{tr.name}`"),
                                c(tr.per_step, f"argument of trace `{tr.name}`"), ons))
        self.hooks = [(h, [self._assign(a) for a in h.body]) for h in neuron.hooks]

    # ------------------------------------------------------------------ names

    def _writable(self, name: str) -> None:
        if name not in self.slots:
            raise BuildError(f"population {self.name}: writes `{name}`, which is not a variable of "
                             f"neuron {self.neuron.name}")

    def _assign(self, a):
        self._writable(a.target)
        known = lambda n: n in self.slots or n in self.params or n in ("t", "dt")  # noqa: E731
        what = f"`{a.target} {a.op} ...` of neuron {self.neuron.name}"
        return (a, self.domain.compile(a.expr, known, what),
                None if a.mask is None else self.domain.compile(a.mask, known, "mask of " + what))

    def lookup(self, name: str):
        slot = self.slots.get(name)
        if slot is not None:
            return slot.array
        if name in self.params:
            return self.params[name]
        if name == "t":
            return self.domain.step * self.dt
        if name == "dt":
            return self.dt
        raise KeyError(f"population {self.name} has no `{name}`")

    # ------------------------------------------------------------------ state

    def reset(self, step: int) -> None:
        """Every variable (states, ports, traces, event flags, hidden counters) back to `Var.init`."""
        self.domain.step = step
        for name, init in self.inits:
            self.slots[name].write(init(self.lookup), step)

    # ------------------------------------------------------------------ one step

    def _run_assign(self, item, step: int) -> None:
        a, expr, mask = item
        slot = self.slots[a.target]
        value = combine(a.op, slot.array, expr(self.lookup))
        slot.write(value, step, None if mask is None else as_mask(mask(self.lookup), slot.shape))

    def step(self, phase: str | None, step: int) -> None:
        self.domain.step = step
        shape = self.domain.shape
        for op, updates, mask_c in self.program:
            if not runs(op.phases, phase):
                continue
            mask = None if mask_c is None else as_mask(mask_c(self.lookup), shape).copy()
            if isinstance(op, Update):
                var, expr = updates[0]
                self.slots[var].write(expr(self.lookup), step, mask)
            else:  # OdeBlock: simultaneous
                values = [(var, expr.full(self.lookup, self.slots[var].shape)) for var, expr in updates]
                for var, value in values:
                    self.slots[var].write(value, step, mask)
        fired = []
        for ev, cond, body in self.events:
            slot = self.slots[ev.name]
            if runs(ev.phases, phase):
                slot.write(as_mask(cond(self.lookup), shape), step)
                fired.append(body)
            else:
                slot.write(0.0, step)
        for body in fired:
            for item in body:
                self._run_assign(item, step)
        for tr, decay, per_step, ons in self.traces:
            if runs(tr.phases, phase):
                self._trace(tr, decay, per_step, ons, step)
        for port in self.ports:
            self.slots[port].array[...] = 0

    def _trace(self, tr, decay, per_step, ons, step: int) -> None:
        slot = self.slots[tr.name]
        x = slot.array
        if tr.kind == "mean":
            count = self.slots[tr.count_var]
            arg = per_step(self.lookup)
            slot.write(x + (arg - x) / (count.array + 1), step)
            count.write(count.array + 1, step)
        elif decay is not None or per_step is not None:
            new = x if decay is None else decay(self.lookup) * x
            if per_step is not None:
                new = new + per_step(self.lookup)
            slot.write(new, step)
        for on, expr in ons:
            flag = as_mask(self.slots[on.event].array, slot.shape)
            slot.write(combine(on.op, slot.array, expr(self.lookup)), step, flag)

    def run_hooks(self, edge: str, phase: str, step: int) -> None:
        """`at start/end of PHASE`: the statements once, for every neuron (and batch row)."""
        self.domain.step = step
        for h, body in self.hooks:
            if h.edge == edge and h.phase == phase:
                for item in body:
                    self._run_assign(item, step)
