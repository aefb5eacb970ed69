"""A connection: its arrays, transmission (deliveries), traces and learning (docs/_ir_notes.md).

Names a synapse expression reads, in the *pair domain* (batch, *pair shape) (layouts.py):
  own states / syn-side traces   the pair-shaped array (shared by all batch rows)
  own pre- / post-side traces    (batch, N_pre) / (batch, N_post), gathered to the pairs
  `pre.X` / `post.X`             the source / target population's X, gathered to the pairs
                                 (`pre.spike` is the connection's source event, e.g. `err.pos`)
  params, `t`, `dt`              scalars
RNG index of a pair: b * (N_post * N_pre) + i * N_pre + j, in every connectivity.

Transmission (right after the source population stepped, if the connection is active):
  post.X[b, i] += sum over the pairs (i, j) of the handler where its trigger fired and the
  statement's mask holds, of expr(b, i, j). Triggers: `on pre[.E]` the source flag
  (`on pre` = the source event), `on post.E` the target's flag E as it is at that moment,
  `every step` always. Pairs outside the mask contribute exactly 0 (a NaN there is ignored).
  Delay: the target sees the delivery D = max(delay_steps, 0 if same_step else 1) steps after
  it was sent; D equal to that natural minimum adds into the target at once, a longer D adds
  it at the start of step `step + D` (before any population steps).

After all populations stepped, per connection in declaration order:
  1. if active: traces decay (x <- decay * x + per_step; `mean` as in neurons);
  2. if plastic: the learning statements of the handlers whose phase runs, in written order.
     Each batch row b works on its own copy W_b of every connection-shaped variable it writes,
     starting from the shared W, and sees its own newest values; statements apply where the
     trigger fired and the mask holds. Then W <- W + reduce_b(W_b - W) (sum or mean by
     `ScheduleIR.batch`; exactly W_1 when batch = 1), written (and quantised) only where it
     changed;
  3. if active: trace `on` clauses where their event fired.
Pre/post-side traces have a batch row each. A syn-side trace (no pre/post clause) is shared
by the batch like a state: its decay is applied once and its per-step argument is reduced
over rows like a learning change.
`at start/end of PHASE` handlers: deliveries if the connection is active (every pair),
learning statements if it is plastic in that phase (every pair), batch-reduced as above.
"""

from __future__ import annotations

import numpy as np

from snnlang.ir import rng
from snnlang.ir.model import ConnectionIR, SynapseIR

from .errors import BuildError
from .evaluate import Domain, element_index
from .layouts import Dense, OneToOne, Sparse
from .slots import Params, Slot, storage_dtype
from .statements import as_mask, combine, runs

STEP_TRIGGERS = ("pre", "post", "step")


class Connection:
    def __init__(self, index: int, conn: ConnectionIR, syn: SynapseIR, source, target, n_populations: int,
                 dt: float, seed: int, batch: int, dtype: np.dtype, batch_mode: str) -> None:
        self.index = index
        self.ir = conn
        self.syn = syn
        self.name = conn.name
        self.source = source
        self.target = target
        self.dt = dt
        self.batch = batch
        self.dtype = dtype
        self.batch_mode = batch_mode
        n_post, n_pre = target.size, source.size
        if conn.connectivity == "dense":
            self.layout = Dense(n_post, n_pre)
        elif conn.connectivity == "one_to_one":
            self.layout = OneToOne(n_post, n_pre)
        elif conn.connectivity == "sparse":
            if conn.p is None:
                raise BuildError(f"connection {conn.name}: sparse connectivity without `p`")
            self.layout = Sparse.draw(n_post, n_pre, conn.p, seed, index)
        else:
            raise BuildError(f"connection {conn.name}: unknown connectivity `{conn.connectivity}`")
        self.params = Params(f"connection {conn.name}", syn.of_kind("param"), dict(conn.params), dt, seed, dtype)
        lay = self.layout
        self.full_shape = (batch,) + lay.pair_shape
        self.pairs = Domain(f"connection {conn.name}", self.full_shape,
                            element_index(batch, lay.dense_index, n_post * n_pre), seed, dtype)
        self.init_domain = Domain(f"connection {conn.name} (init)", lay.pair_shape, lay.dense_index, seed, dtype,
                                  fan_in=lay.fan_in, fan_out=lay.fan_out)
        side_index = {"pre": element_index(batch, np.arange(n_pre), n_pre),
                      "post": element_index(batch, np.arange(n_post), n_post)}
        self.side_domains = {
            s: Domain(f"connection {conn.name} ({s}synaptic side)", (batch, n), side_index[s], seed, dtype)
            for s, n in (("pre", n_pre), ("post", n_post))}
        self.domains = [self.pairs, self.init_domain, *self.side_domains.values()]

        # ------------------------------------------------------------ storage
        self.tied_var = conn.tie.var if conn.tie else None
        self.init_names = {var for var, _ in conn.init}
        self.sides: dict[str, str] = {}
        self.slots: dict[str, Slot] = {}
        owner = n_populations + index
        for k, v in enumerate(syn.vars):
            if v.kind == "param":
                continue
            side = v.side if v.side in ("pre", "post") else "syn"
            self.sides[v.name] = side
            if v.name == self.tied_var:
                continue  # resolved by `tie`
            if side == "syn":
                shape, rindex = lay.pair_shape, lay.dense_index
            else:
                shape, rindex = (batch, source.size if side == "pre" else target.size), side_index[side]
            self.slots[v.name] = Slot(f"{conn.name}.{v.name}", np.zeros(shape, dtype=storage_dtype(v, dtype)),
                                      v, seed, rng.rounding_stream(owner, k), rindex)
        if self.tied_var is not None and self.tied_var not in self.sides:
            raise BuildError(f"connection {conn.name}: ties `{self.tied_var}`, which synapse {syn.name} lacks")
        if self.tied_var in self.init_names:
            raise BuildError(f"connection {conn.name}: `{self.tied_var}` is both tied and initialised")
        natural = 0 if conn.same_step else 1
        self.natural_delay = natural
        self.delay = max(int(conn.delay_steps), natural)
        self.pending: list[tuple[int, str, np.ndarray]] = []

        # ------------------------------------------------------------ expressions
        def c(expr, what, domain=self.pairs, known=self._known_pair):
            return None if expr is None else domain.compile(expr, known, f"{what} of synapse {syn.name}")

        self.var_inits = {v.name: c(v.init, f"initial value of `{v.name}`", self.init_domain, self._known_init)
                          for v in syn.vars if v.kind != "param" and v.name != self.tied_var}
        self.inits = []
        for var, expr in conn.init:
            if var not in self.sides or self.sides[var] != "syn":
                raise BuildError(f"connection {conn.name}: `init {var}` names no per-pair state of {syn.name}")
            self.inits.append((var, c(expr, f"`init {var}`", self.init_domain, self._known_init)))
        self.handlers = []
        for h in syn.handlers:
            deliveries, learning = [], []
            for a in h.deliveries:
                var = a.target[len("post."):]
                if a.op not in ("+=", "-=") or var not in target.slots:
                    raise BuildError(f"connection {conn.name}: `{a.target} {a.op}` is not a delivery into "
                                     f"a variable of population {target.name}")
                deliveries.append((a, c(a.expr, f"delivery `{a.target}`"), c(a.mask, "mask")))
            for a in h.learning:
                if self.sides.get(a.target) != "syn":
                    raise BuildError(
                        f"connection {conn.name}: a handler of {syn.name} writes `{a.target}`; the reference "
                        "executor lets handlers write only per-pair states and syn-side traces (a pre/post-side "
                        "trace would need a rule for combining the pairs of a neuron)")
                learning.append((a, c(a.expr, f"`{a.target} {a.op} ...`"), c(a.mask, "mask")))
            if h.trigger in ("pre", "post"):
                self._flag(h.trigger, h.event)  # exists?
            self.handlers.append((h, deliveries, learning))
        self.traces = []
        for tr in syn.traces:
            side = self.sides[tr.name]
            if side == "syn":
                domain, known = self.pairs, self._known_pair
            else:
                domain, known = self.side_domains[side], (lambda n, s=side: self._known_side(s, n))
            decay = c(tr.decay, f"decay of trace `{tr.name}`", domain, known)
            if side == "syn" and decay is not None and any(n.startswith(("pre.", "post.")) for n in decay.names):
                raise BuildError(f"connection {conn.name}: the decay of the per-pair trace `{tr.name}` must not "
                                 "depend on the batch row (pre./post. values)")
            ons = []
            for on in tr.on:
                peer, _, event = on.event.partition(".")
                if peer != side:
                    raise BuildError(f"connection {conn.name}: trace `{tr.name}` ({side} side) counts `{on.event}`")
                self._flag(peer, event)
                ons.append((on, c(on.expr, f"`on {on.event}` of trace `{tr.name}`", domain, known)))
            self.traces.append((tr, side, decay, c(tr.per_step, f"argument of trace `{tr.name}`", domain, known), ons))

    # ------------------------------------------------------------------ ties

    def tie(self, other: "Connection") -> None:
        """`tie w = [transpose(]C.w[)]`: this connection's `w` is a view of C's storage."""
        t = self.ir.tie
        if "sparse" in (self.layout.kind, other.layout.kind):
            raise BuildError(f"connection {self.name}: ties with sparse connectivity are not supported "
                             "(the two masks are drawn independently)")
        base = other.slots.get(t.other_var)
        if base is None:
            raise BuildError(f"connection {self.name}: ties to `{t.other}.{t.other_var}`, which has no storage yet "
                             "(a tie to a tie must name the original)")
        slot = base.tied(f"{self.name}.{t.var}", t.transposed)
        if slot.shape != self.layout.pair_shape:
            raise BuildError(f"connection {self.name}: `{t.var}` has shape {self.layout.pair_shape} but the tied "
                             f"`{t.other}.{t.other_var}` is {slot.shape} (transposed: {t.transposed})")
        self.slots[t.var] = slot

    # ------------------------------------------------------------------ names

    def _known_init(self, name: str) -> bool:
        return name in self.params or name in ("fan_in", "fan_out", "dt", "t")

    def _known_pair(self, name: str) -> bool:
        if name in self.sides or name in self.params or name in ("t", "dt"):
            return True
        peer, _, var = name.partition(".")
        pop = {"pre": self.source, "post": self.target}.get(peer)
        if pop is None:
            return False
        if peer == "pre" and var == "spike":
            var = self.ir.source_event
        return var in pop.slots or var in pop.params

    def _known_side(self, side: str, name: str) -> bool:
        if self.sides.get(name) == side or name in self.params or name in ("t", "dt"):
            return True
        return name.startswith(side + ".") and self._known_pair(name)

    def _peer(self, peer: str, var: str):
        pop = self.source if peer == "pre" else self.target
        if peer == "pre" and var == "spike":
            var = self.ir.source_event
        slot = pop.slots.get(var)
        return slot.array if slot is not None else pop.params[var]

    def _common(self, name: str, domain: Domain):
        if name in self.params:
            return self.params[name]
        if name == "dt":
            return self.dt
        if name == "t":
            return domain.step * self.dt
        raise KeyError(f"connection {self.name} has no `{name}`")

    def _pair(self, name: str, rows: dict | None = None):
        if rows is not None and name in rows:
            return rows[name]
        side = self.sides.get(name)
        if side is not None:
            array = self.slots[name].array
            return array if side == "syn" else getattr(self.layout, side)(array)
        peer, _, var = name.partition(".")
        if peer in ("pre", "post") and var:
            value = self._peer(peer, var)
            return getattr(self.layout, peer)(value) if isinstance(value, np.ndarray) else value
        return self._common(name, self.pairs)

    def _side(self, side: str, name: str):
        if self.sides.get(name) == side:
            return self.slots[name].array
        if name.startswith(side + "."):
            return self._peer(side, name[len(side) + 1:])
        return self._common(name, self.side_domains[side])

    def _init_lookup(self, name: str):
        if name == "fan_in":
            return self.layout.fan_in
        if name == "fan_out":
            return self.layout.fan_out
        return self._common(name, self.init_domain)

    def _flag(self, peer: str, event: str) -> np.ndarray:
        """The (batch, N) event flag a trigger or trace clause reads (`pre` = the source event)."""
        pop = self.source if peer == "pre" else self.target
        name = self.ir.source_event if (peer == "pre" and event == "spike") else event
        slot = pop.slots.get(name)
        if slot is None or slot.var.kind != "event":
            raise BuildError(f"connection {self.name}: `{peer}.{event}` is not an event of {pop.name}")
        return slot.array

    def _trigger(self, h) -> np.ndarray | None:
        if h.trigger in ("pre", "post"):
            return getattr(self.layout, h.trigger)(self._flag(h.trigger, h.event) != 0)
        return None

    def _at(self, step: int) -> None:
        for d in self.domains:
            d.step = step
        self.init_domain.step = step

    # ------------------------------------------------------------------ state

    def owned_slots(self) -> dict[str, Slot]:
        return {n: s for n, s in self.slots.items() if n != self.tied_var}

    def initialise(self) -> None:
        """At build: states from `Var.init`, then the connection's `init` (step INIT_STEP); the rest 0."""
        self._at(rng.INIT_STEP)
        for name, slot in self.owned_slots().items():
            slot.write(self.var_inits[name](self._init_lookup), rng.INIT_STEP)
        for var, expr in self.inits:
            self.slots[var].write(expr(self._init_lookup), rng.INIT_STEP)

    def reset(self, step: int, states: bool) -> None:
        """Traces and hidden counters back to `Var.init`, pending deliveries dropped; with `states`,
        also the states that are neither initialised by `init` nor tied (the weights are kept)."""
        self._at(step)
        for name, slot in self.owned_slots().items():
            kind = slot.var.kind
            if kind in ("trace", "hidden") or (states and kind == "state" and name not in self.init_names):
                slot.write(self.var_inits[name](self._init_lookup), step)
        self.pending.clear()

    # ------------------------------------------------------------------ transmission

    def apply_pending(self, step: int) -> None:
        due = [p for p in self.pending if p[0] == step]
        self.pending = [p for p in self.pending if p[0] != step]
        for _, var, amount in due:
            self._add(var, amount, step)

    def _add(self, var: str, amount: np.ndarray, step: int) -> None:
        slot = self.target.slots[var]
        slot.write(slot.array + amount, step)

    def _send(self, var: str, amount: np.ndarray, step: int) -> None:
        if self.delay == self.natural_delay:
            self._add(var, amount, step)
        else:
            self.pending.append((step + self.delay, var, amount))

    def _deliver(self, h, deliveries, step: int) -> None:
        trigger = self._trigger(h)
        for a, expr, mask in deliveries:
            value = expr.full(self._pair)
            keep = trigger
            if mask is not None:
                m = as_mask(mask(self._pair), self.full_shape)
                keep = m if keep is None else (keep & m)
            if keep is not None:
                value = np.where(np.broadcast_to(keep, self.full_shape), value, 0)
            amount = self.layout.to_post(value)
            self._send(a.target[len("post."):], -amount if a.op == "-=" else amount, step)

    def transmit(self, phase: str | None, step: int) -> None:
        """The deliveries of `on pre`, `on post` and `every step` handlers (the connection is active)."""
        self._at(step)
        for h, deliveries, _ in self.handlers:
            if h.trigger in STEP_TRIGGERS and deliveries and runs(h.phases, phase):
                self._deliver(h, deliveries, step)

    # ------------------------------------------------------------------ learning

    def _reduce(self, per_row: np.ndarray) -> np.ndarray:
        """Combine one value per batch row into the shared one (sum or mean; row 0 when batch = 1)."""
        if self.batch == 1:
            return per_row[0]
        return per_row.sum(axis=0) if self.batch_mode == "sum" else per_row.mean(axis=0)

    def _learn(self, items, step: int) -> None:
        rows: dict[str, np.ndarray] = {}
        lookup = lambda n: self._pair(n, rows)  # noqa: E731
        for h, learning in items:
            trigger = self._trigger(h)
            for a, expr, mask in learning:
                slot = self.slots[a.target]
                if a.target not in rows:
                    rows[a.target] = np.array(np.broadcast_to(slot.array, self.full_shape))
                old = rows[a.target]
                new = np.broadcast_to(combine(a.op, old, expr(lookup)), self.full_shape)
                keep = trigger
                if mask is not None:
                    m = as_mask(mask(lookup), self.full_shape)
                    keep = m if keep is None else (keep & m)
                if keep is not None:
                    new = np.where(np.broadcast_to(keep, self.full_shape), new, old)
                rows[a.target] = np.array(new, dtype=slot.array.dtype)
        for var, per_row in rows.items():
            slot = self.slots[var]
            old = slot.array
            new = per_row[0] if self.batch == 1 else old + self._reduce(per_row - old)
            slot.write(new, step, mask=np.asarray(new != old))

    def _trace_dynamics(self, phase: str | None, step: int) -> None:
        for tr, side, decay, per_step, _ in self.traces:
            if not runs(tr.phases, phase):
                continue
            slot = self.slots[tr.name]
            x = slot.array
            if side == "syn":
                lookup, full = self._pair, self.full_shape
            else:
                lookup, full = (lambda n, s=side: self._side(s, n)), x.shape
            if tr.kind == "mean":
                count = self.slots[tr.count_var]
                step_change = (per_step.full(lookup, full) - x) / (count.array + 1)
                slot.write(x + (self._reduce(step_change) if side == "syn" else step_change), step)
                count.write(count.array + 1, step)
                continue
            if decay is None and per_step is None:
                continue
            new = x if decay is None else decay(lookup) * x
            if per_step is not None:
                arg = per_step.full(lookup, full)
                new = new + (self._reduce(arg) if side == "syn" else arg)
            slot.write(new, step)

    def _trace_events(self, phase: str | None, step: int) -> None:
        for tr, side, _, _, ons in self.traces:
            if not runs(tr.phases, phase):
                continue
            slot = self.slots[tr.name]
            for on, expr in ons:
                peer, _, event = on.event.partition(".")
                flag = self._flag(peer, event) != 0
                value = expr(lambda n, s=side: self._side(s, n))
                slot.write(combine(on.op, slot.array, value), step, flag)

    def learn(self, phase: str | None, step: int, active: bool, plastic: bool) -> None:
        """The connection's part of the step after all populations stepped."""
        self._at(step)
        if active:
            self._trace_dynamics(phase, step)
        if plastic:
            items = [(h, learning) for h, _, learning in self.handlers
                     if h.trigger in STEP_TRIGGERS and learning and runs(h.phases, phase)]
            if items:
                self._learn(items, step)
        if active:
            self._trace_events(phase, step)

    def run_hooks(self, edge: str, phase: str, step: int, active: bool, plastic: bool) -> None:
        self._at(step)
        hooks = [(h, d, lrn) for h, d, lrn in self.handlers
                 if h.trigger == edge and h.event == phase and runs(h.phases, phase)]
        if active:
            for h, deliveries, _ in hooks:
                if deliveries:
                    self._deliver(h, deliveries, step)
        if plastic:
            items = [(h, lrn) for h, _, lrn in hooks if lrn]
            if items:
                self._learn(items, step)
