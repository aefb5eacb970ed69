"""What the generated module holds for one network: arrays, parameters, constants, phases.

The plan is computed from the IR once and is the vocabulary of every code generator:

  states     every array of the Executable contract (snnlang/runtime/executable.py), in the
             order of `state_names()`: populations in step order (their `NeuronIR.vars` without
             params; an input population has `spike` and, for `regular`, `accumulator`), then
             connections in declaration order (`SynapseIR.vars` without params, a tied variable
             last), then `C.indptr` / `C.indices` of sparse connections;
  params     parameter slots: `derive_params` gives [dt, every parameter] (Constants);
  blocks     per population/connection its block of the constants vector the kernels read
             (OwnerConstants: parameters, peers' parameters, hoisted parameter-only expressions);
  phases     schedule phase -> id (0 means "no phase": a plain run, where `during` ops are off).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from snnlang.errors import BackendError
from snnlang.ir import rng
from snnlang.ir.model import ConnectionIR, ModelIR, NeuronIR, PopulationIR, SynapseIR, Var
from snnlang.semantics.symbols import ValueType

from .code import NameTable
from .helpers import ROUNDING

ENCODERS = {"poisson", "bernoulli", "regular", "latency", "events", "onehot"}


class BuildError(BackendError):
    """The IR asks for something this backend does not (or cannot) do; the message says what."""


@dataclass
class StatePlan:
    name: str                        # "POP.var"
    owner: str
    var: Var
    shape: tuple                     # ints, "B" (batch) or "nnz"
    arg: str                         # identifier of the array in the generated module
    dtype: str | None                # explicit float32/float64, else the backend's dtype
    stream: int | None = None        # rounding stream (fixed point)
    rindex: str = "flat"             # rounding RNG index: flat | one_to_one | sparse | transposed
    tie: tuple["StatePlan", bool] | None = None   # (original, transposed) for a tied variable
    side: str = "self"               # neuron: self; synapse: syn | pre | post

    @property
    def fixed(self) -> ValueType | None:
        return self.var.dtype if self.var.dtype.kind == "fixed" else None

    @property
    def checked(self) -> bool:
        return self.tie is None

    @property
    def storage(self) -> str | None:
        """How this owned per-pair state is stored, if not as the Executable's array: "transposed"
        (dense: (N_pre, N_post)) or "columns" (sparse: the pairs in column order, pre neuron by
        pre neuron), so that the pairs of one presynaptic neuron (what its spike delivers through,
        what an `on pre` rule changes) are contiguous. The host converts at the boundary."""
        if self.tie is not None or self.side != "syn":
            return None
        if len(self.shape) == 2:
            return "transposed"
        return "columns" if self.shape == ("nnz",) else None

    @property
    def storage_shape(self) -> tuple:
        return tuple(reversed(self.shape)) if self.storage == "transposed" else self.shape

    @property
    def layout(self) -> str | None:
        """How the Executable's array is obtained from the stored one: "transposed", "columns"
        (permuted from column to row order), or None (as stored). A tie through a transposition
        of a transposed original is stored as it is read."""
        if self.tie is not None:
            base, transposed = self.tie
            flipped = len(self.shape) == 2 and (base.storage == "transposed") != transposed
            return "transposed" if flipped else None
        return self.storage


@dataclass
class ParamPlan:
    owner: str
    name: str
    slot: int                        # index in the constants vector
    var: Var
    override: float | None


@dataclass
class PopPlan:
    index: int
    ir: PopulationIR
    neuron: NeuronIR | None
    states: dict[str, StatePlan] = field(default_factory=dict)
    params: dict[str, ParamPlan] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.ir.name

    @property
    def size(self) -> int:
        return self.ir.size

    @property
    def kind(self) -> str:
        return self.ir.kind


@dataclass
class ConnPlan:
    index: int
    ir: ConnectionIR
    syn: SynapseIR
    source: PopPlan
    target: PopPlan
    states: dict[str, StatePlan] = field(default_factory=dict)
    params: dict[str, ParamPlan] = field(default_factory=dict)
    sides: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.ir.name

    @property
    def layout(self) -> str:
        return self.ir.connectivity

    @property
    def n_post(self) -> int:
        return self.target.size

    @property
    def n_pre(self) -> int:
        return self.source.size

    @property
    def delay(self) -> int:
        return max(int(self.ir.delay_steps), self.natural_delay)

    @property
    def natural_delay(self) -> int:
        return 0 if self.ir.same_step else 1

    @property
    def init_names(self) -> set[str]:
        return {var for var, _ in self.ir.init}

    def owned(self) -> list[StatePlan]:
        return [s for s in self.states.values() if s.tie is None]


class Constants:
    """Parameter slots: `derive_params` computes [dt, every parameter] (slot 0 is dt)."""

    def __init__(self) -> None:
        self.labels: list[str] = ["dt"]

    def add_param(self, label: str) -> int:
        self.labels.append(label)
        return len(self.labels) - 1

    def __len__(self) -> int:
        return len(self.labels)


class OwnerConstants:
    """The block of the constants vector one population or connection's kernels read.

    Entries are host expressions over the parameter slots (`c[k]`): the owner's parameters,
    peers' parameters it reads, `dt`, and hoisted parameter-only expressions, in order of first
    use. Kernels index the block relatively, so two owners of the same type get the same kernel
    text (and share the compiled function)."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.entries: list[tuple[str, str]] = []     # (host code, label)
        self._index: dict[str, int] = {}

    def add(self, code: str, label: str) -> int:
        if code not in self._index:
            self._index[code] = len(self.entries)
            self.entries.append((code, label))
        return self._index[code]


class Plan:
    def __init__(self, model: ModelIR, network: str) -> None:
        if network not in model.networks:
            raise BuildError(f"no network `{network}` in {model.file} (it has: {', '.join(model.networks)})")
        self.model = model
        self.net = model.networks[network]
        self.arrays = NameTable({"step", "seed", "phase", "consts"})
        self.constants = Constants()
        self.params: list[ParamPlan] = []
        self.internal: dict[str, tuple[tuple, str]] = {}   # scratch / index arrays: name -> (shape, dtype)
        self.blocks: dict[str, OwnerConstants] = {}
        self.pops: list[PopPlan] = []
        self.conns: list[ConnPlan] = []
        for k, pop in enumerate(self.net.populations):
            self.pops.append(self._population(k, pop))
        by_name = {p.name: p for p in self.pops}
        for c, conn in enumerate(self.net.connections):
            for end in (conn.source, conn.target):
                if end not in by_name:
                    raise BuildError(f"connection {conn.name}: unknown population `{end}`")
            if conn.synapse not in model.synapses:
                raise BuildError(f"connection {conn.name}: unknown synapse `{conn.synapse}`")
            self.conns.append(self._connection(c, conn, model.synapses[conn.synapse],
                                               by_name[conn.source], by_name[conn.target]))
        self._ties()
        self.owners = {**{p.name: p for p in self.pops}, **{c.name: c for c in self.conns}}
        self.phases = self._phases()
        self.batch_mode = self.net.schedule.batch if self.net.schedule is not None else "sum"

    # ------------------------------------------------------------------ states

    def _state(self, owner: str, var: Var, shape: tuple, dtype: str | None, stream: int | None,
               rindex: str = "flat", side: str = "self") -> StatePlan:
        arg = self.arrays.get(("state", owner, var.name), f"{owner}_{var.name}")
        return StatePlan(f"{owner}.{var.name}", owner, var, shape, arg, dtype, stream, rindex, side=side)

    def _params(self, owner, decls: tuple[Var, ...], overrides: dict[str, float]) -> dict[str, ParamPlan]:
        unknown = set(overrides) - {v.name for v in decls}
        if unknown:
            raise BuildError(f"{owner}: overrides unknown parameter(s) {sorted(unknown)}")
        out = {}
        for v in decls:
            p = ParamPlan(owner, v.name, self.constants.add_param(f"{owner}.{v.name}"), v, overrides.get(v.name))
            out[v.name] = p
            self.params.append(p)
        return out

    def _population(self, k: int, pop: PopulationIR) -> PopPlan:
        if pop.kind != "neuron":
            if pop.encoder not in ENCODERS:
                raise BuildError(f"{pop.kind} {pop.name}: unknown encoder `{pop.encoder}`")
            plan = PopPlan(k, pop, None)
            from snnlang.semantics.symbols import BOOL, FLOAT
            plan.states["spike"] = self._state(pop.name, Var("spike", "event", BOOL, sympy.Integer(0)),
                                               ("B", pop.size), None, None)
            if pop.encoder == "regular":
                plan.states["accumulator"] = self._state(
                    pop.name, Var("accumulator", "hidden", FLOAT, sympy.Integer(0)), ("B", pop.size), None, None)
            return plan
        if pop.neuron not in self.model.neurons:
            raise BuildError(f"population {pop.name}: unknown neuron `{pop.neuron}`")
        neuron = self.model.neurons[pop.neuron]
        plan = PopPlan(k, pop, neuron)
        plan.params = self._params(f"{pop.name}", neuron.of_kind("param"), dict(pop.params))
        for vi, v in enumerate(neuron.vars):
            if v.kind == "param":
                continue
            plan.states[v.name] = self._state(pop.name, v, ("B", pop.size), _precision(v),
                                              rng.rounding_stream(k, vi))
        return plan

    def _connection(self, c: int, conn: ConnectionIR, syn: SynapseIR, source: PopPlan,
                    target: PopPlan) -> ConnPlan:
        if conn.connectivity not in ("dense", "one_to_one", "sparse"):
            raise BuildError(f"connection {conn.name}: unknown connectivity `{conn.connectivity}`")
        if conn.connectivity == "one_to_one" and source.size != target.size:
            raise BuildError(f"connection {conn.name}: one_to_one needs equal sizes, got {target.size} "
                             f"and {source.size}")
        if conn.connectivity == "sparse" and conn.p is None:
            raise BuildError(f"connection {conn.name}: sparse connectivity without `p`")
        plan = ConnPlan(c, conn, syn, source, target)
        plan.params = self._params(conn.name, syn.of_kind("param"), dict(conn.params))
        pair = {"dense": (target.size, source.size), "one_to_one": (target.size,), "sparse": ("nnz",)}
        rindex = {"dense": "flat", "one_to_one": "one_to_one", "sparse": "sparse"}[conn.connectivity]
        owner = len(self.net.populations) + c
        tied = conn.tie.var if conn.tie else None
        for vi, v in enumerate(syn.vars):
            if v.kind == "param":
                continue
            side = v.side if v.side in ("pre", "post") else "syn"
            plan.sides[v.name] = side
            if v.name == tied:
                continue
            if side == "syn":
                shape, ri = pair[conn.connectivity], rindex
            else:
                shape, ri = ("B", source.size if side == "pre" else target.size), "flat"
            plan.states[v.name] = self._state(conn.name, v, shape, _precision(v), rng.rounding_stream(owner, vi),
                                              ri, side)
        if tied is not None and tied not in plan.sides:
            raise BuildError(f"connection {conn.name}: ties `{tied}`, which synapse {syn.name} lacks")
        if tied is not None and tied in plan.init_names:
            raise BuildError(f"connection {conn.name}: `{tied}` is both tied and initialised")
        for var, _ in conn.init:
            if plan.sides.get(var) != "syn":
                raise BuildError(f"connection {conn.name}: `init {var}` names no per-pair state of {syn.name}")
        return plan

    def _ties(self) -> None:
        by_name = {c.name: c for c in self.conns}
        for c in self.conns:
            t = c.ir.tie
            if t is None:
                continue
            other = by_name.get(t.other)
            if other is None:
                raise BuildError(f"connection {c.name}: ties to unknown connection `{t.other}`")
            if "sparse" in (c.layout, other.layout):
                raise BuildError(f"connection {c.name}: ties with sparse connectivity are not supported "
                                 "(the two masks are drawn independently)")
            base = other.states.get(t.other_var)
            if base is None or base.tie is not None:
                raise BuildError(f"connection {c.name}: ties to `{t.other}.{t.other_var}`, which has no storage "
                                 "(a tie to a tie must name the original)")
            shape = tuple(reversed(base.shape)) if t.transposed else base.shape
            want = (c.n_post, c.n_pre) if c.layout == "dense" else (c.n_post,)
            if shape != want:
                raise BuildError(f"connection {c.name}: `{t.var}` has shape {want} but the tied "
                                 f"`{t.other}.{t.other_var}` is {shape} (transposed: {t.transposed})")
            var = next(v for v in c.syn.vars if v.name == t.var)
            c.states[t.var] = StatePlan(f"{c.name}.{t.var}", c.name, var, want, base.arg, base.dtype, base.stream,
                                        "transposed" if t.transposed else base.rindex, (base, t.transposed),
                                        side="syn")

    # ------------------------------------------------------------------ tables

    def _phases(self) -> dict[str, int]:
        names: list[str] = []
        if self.net.schedule is not None:
            names += [p.name for p in self.net.schedule.phases]

        def add(phases):
            for ph in phases:
                if ph not in names:
                    names.append(ph)
        for p in self.pops:
            if p.neuron is not None:
                for op in (*p.neuron.program, *p.neuron.events, *p.neuron.traces):
                    add(op.phases)
                add(h.phase for h in p.neuron.hooks)
        for c in self.conns:
            for h in c.syn.handlers:
                add(h.phases)
                if h.trigger in ("start", "end"):
                    add([h.event])
            for tr in c.syn.traces:
                add(tr.phases)
        return {name: k + 1 for k, name in enumerate(names)}

    def block(self, owner: str) -> OwnerConstants:
        if owner not in self.blocks:
            self.blocks[owner] = OwnerConstants(owner)
        return self.blocks[owner]

    def block_ranges(self) -> dict[str, tuple[int, int]]:
        """Where each owner's block lies in the constants vector (owners in step, then declaration order)."""
        out, at = {}, 0
        for owner in [*(p.name for p in self.pops), *(c.name for c in self.conns)]:
            n = len(self.blocks[owner].entries) if owner in self.blocks else 0
            out[owner] = (at, at + max(n, 1))
            at += max(n, 1)
        return out

    def internal_array(self, name: str, shape: tuple, dtype: str) -> str:
        """A kernel-internal array (not a state): allocated by the host, shape may use "B" / "nnz"."""
        self.internal.setdefault(name, (shape, dtype))
        return name

    def sparse_names(self, c: "ConnPlan") -> tuple[str, str]:
        return (self.arrays.get(("sparse", c.name, "indptr"), f"{c.name}_indptr"),
                self.arrays.get(("sparse", c.name, "indices"), f"{c.name}_indices"))

    @property
    def states(self) -> list[StatePlan]:
        return [s for owner in (*self.pops, *self.conns) for s in owner.states.values()]

    def state_names(self) -> list[str]:
        names = []
        for owner in (*self.pops, *self.conns):
            names += [s.name for s in owner.states.values()]
            if isinstance(owner, ConnPlan) and owner.layout == "sparse":
                names += [f"{owner.name}.indptr", f"{owner.name}.indices"]
        return names


def _precision(v: Var) -> str | None:
    if v.dtype.kind == "float" and v.dtype.precision in ("float32", "float64"):
        return v.dtype.precision
    return None


def fixed_args(vtype: ValueType) -> str:
    """`scale, rounding, saturate, bits, signed` of `_fixed` for a fixed-point type."""
    return (f"{float(vtype.scale)!r}, {ROUNDING[vtype.rounding]}, {vtype.overflow == 'saturate'}, "
            f"{int(vtype.bits)}, {bool(vtype.signed)}")


__all__ = ["Plan", "PopPlan", "ConnPlan", "StatePlan", "ParamPlan", "BuildError", "fixed_args"]
