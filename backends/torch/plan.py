"""What the generated module holds for one network: states, parameters, constants, phases.

The plan is computed from the IR once and is the vocabulary of the code generators:

  states     every array of the Executable contract (snnlang/runtime/executable.py), in the
             order of `state_names()`: populations in step order (their `NeuronIR.vars` without
             params; an input population has `spike` and, for `regular`, `accumulator`), then
             connections in declaration order (`SynapseIR.vars` without params, a tied variable
             last), then `C.indptr` / `C.indices` of sparse connections;
  params     parameter slots of `derive_params` (slot 0 is dt);
  constants  what the generated code reads from the constants tuple K: host expressions over
             the parameter slots (parameters, hoisted parameter-only sub-expressions), evaluated
             with NumPy by `derive_constants` whenever a parameter changes;
  indices    the RNG index tensors the code draws with (built once per batch size and device).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from snnlang.errors import BackendError
from snnlang.ir import rng
from snnlang.ir.model import ConnectionIR, ModelIR, NeuronIR, PopulationIR, SynapseIR, Var
from snnlang.semantics.symbols import BOOL, FLOAT, ValueType

from .code import NameTable

ENCODERS = {"poisson", "bernoulli", "regular", "latency", "events", "onehot"}
ROUNDING = {"nearest": 0, "floor": 1, "stochastic": 2}


class BuildError(BackendError):
    """The IR asks for something the torch backend does not (or cannot) do; the message says what."""


@dataclass
class StatePlan:
    name: str                        # "POP.var"
    owner: str
    var: Var
    shape: tuple                     # ints, "B" (batch) or "nnz"
    dtype: str | None                # explicit float32/float64, else the backend's dtype
    local: str                       # its identifier in generated code
    stream: int | None = None        # rounding stream (fixed point)
    side: str = "self"               # neuron: self; synapse: syn | pre | post
    tie: tuple["StatePlan", bool] | None = None   # (original, transposed) for a tied variable

    @property
    def fixed(self) -> ValueType | None:
        return self.var.dtype if self.var.dtype.kind == "fixed" else None


@dataclass
class ParamPlan:
    owner: str
    name: str
    slot: int                        # index in derive_params' list
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

    def flag(self, event: str) -> StatePlan | None:
        st = self.states.get(event)
        return st if st is not None and st.var.kind == "event" else None


@dataclass
class ConnPlan:
    index: int
    ir: ConnectionIR
    syn: SynapseIR
    source: PopPlan
    target: PopPlan
    owner_index: int                 # len(populations) + index: the rounding streams' owner
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
    def natural_delay(self) -> int:
        return 0 if self.ir.same_step else 1

    @property
    def delay(self) -> int:
        return max(int(self.ir.delay_steps), self.natural_delay)

    @property
    def delayed(self) -> bool:
        return self.delay != self.natural_delay

    @property
    def init_names(self) -> set[str]:
        return {var for var, _ in self.ir.init}

    def owned(self) -> list[StatePlan]:
        return [s for s in self.states.values() if s.tie is None]

    def source_flag(self, event: str) -> StatePlan:
        """The source's flag an `on pre[.E]` trigger (or `pre.spike`) reads: `spike` means the
        connection's source event (e.g. `err.pos`)."""
        name = self.ir.source_event if event == "spike" else event
        st = self.source.flag(name)
        if st is None:
            raise BuildError(f"connection {self.name}: `pre.{event}` is not an event of {self.source.name}")
        return st

    def target_flag(self, event: str) -> StatePlan:
        st = self.target.flag(event)
        if st is None:
            raise BuildError(f"connection {self.name}: `post.{event}` is not an event of {self.target.name}")
        return st


class Constants:
    """The constants tuple K: host expressions over the parameter list `c` (c[0] is dt)."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str]] = []     # (host code, label)
        self._index: dict[str, int] = {}

    def add(self, code: str, label: str) -> int:
        if code not in self._index:
            self._index[code] = len(self.entries)
            self.entries.append((code, label))
        return self._index[code]


def _precision(v: Var) -> str | None:
    if v.dtype.kind == "float" and v.dtype.precision in ("float32", "float64"):
        return v.dtype.precision
    return None


class Plan:
    def __init__(self, model: ModelIR, network: str) -> None:
        if network not in model.networks:
            raise BuildError(f"no network `{network}` in {model.file} (it has: {', '.join(model.networks)})")
        self.model = model
        self.net = model.networks[network]
        self.locals = NameTable()
        self.params: list[ParamPlan] = []
        self.n_params = 1                             # slot 0: dt
        self.constants = Constants()
        self.indices: dict[str, tuple] = {}          # name -> how the host builds it
        self.streams: dict[int, int] = {}            # RNG stream -> position in G.keys
        self.needs_t = False
        self.pops: list[PopPlan] = [self._population(k, p) for k, p in enumerate(self.net.populations)]
        by_name = {p.name: p for p in self.pops}
        self.conns: list[ConnPlan] = []
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
        self.batch_mode = self.net.schedule.batch if self.net.schedule is not None else "sum"
        self.phases = [p.name for p in self.net.schedule.phases] if self.net.schedule is not None else []

    # ------------------------------------------------------------------ states

    def _state(self, owner: str, var: Var, shape: tuple, dtype: str | None, stream: int | None,
               side: str = "self") -> StatePlan:
        local = self.locals.get(("state", owner, var.name), f"{owner}_{var.name}")
        return StatePlan(f"{owner}.{var.name}", owner, var, shape, dtype, local, stream, side)

    def _params(self, owner: str, decls: tuple[Var, ...], overrides: dict[str, float]) -> dict[str, ParamPlan]:
        unknown = set(overrides) - {v.name for v in decls}
        if unknown:
            raise BuildError(f"{owner}: overrides unknown parameter(s) {sorted(unknown)}")
        out = {}
        for v in decls:
            p = ParamPlan(owner, v.name, self.n_params, v, overrides.get(v.name))
            self.n_params += 1
            out[v.name] = p
            self.params.append(p)
        return out

    def _population(self, k: int, pop: PopulationIR) -> PopPlan:
        if pop.kind != "neuron":
            if pop.encoder not in ENCODERS:
                raise BuildError(f"{pop.kind} {pop.name}: unknown encoder `{pop.encoder}`")
            plan = PopPlan(k, pop, None)
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
        plan.params = self._params(pop.name, neuron.of_kind("param"), dict(pop.params))
        for vi, v in enumerate(neuron.vars):
            if v.kind != "param":
                plan.states[v.name] = self._state(pop.name, v, ("B", pop.size), _precision(v),
                                                  rng.rounding_stream(k, vi))
        return plan

    def _connection(self, c: int, conn: ConnectionIR, syn: SynapseIR, source: PopPlan, target: PopPlan) -> ConnPlan:
        if conn.connectivity not in ("dense", "one_to_one", "sparse"):
            raise BuildError(f"connection {conn.name}: unknown connectivity `{conn.connectivity}`")
        if conn.connectivity == "one_to_one" and source.size != target.size:
            raise BuildError(f"connection {conn.name}: one_to_one needs equal sizes, got {target.size} "
                             f"and {source.size}")
        if conn.connectivity == "sparse" and conn.p is None:
            raise BuildError(f"connection {conn.name}: sparse connectivity without `p`")
        owner = len(self.net.populations) + c
        plan = ConnPlan(c, conn, syn, source, target, owner)
        plan.params = self._params(conn.name, syn.of_kind("param"), dict(conn.params))
        pair = {"dense": (target.size, source.size), "one_to_one": (target.size,), "sparse": ("nnz",)}
        tied = conn.tie.var if conn.tie else None
        for vi, v in enumerate(syn.vars):
            if v.kind == "param":
                continue
            side = v.side if v.side in ("pre", "post") else "syn"
            plan.sides[v.name] = side
            if v.name == tied:
                continue
            if side == "syn":
                shape = pair[conn.connectivity]
            else:
                shape = ("B", source.size if side == "pre" else target.size)
            plan.states[v.name] = self._state(conn.name, v, shape, _precision(v), rng.rounding_stream(owner, vi), side)
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
            if base.side != "syn":
                raise BuildError(f"connection {c.name}: ties to `{t.other}.{t.other_var}`, which is not per pair")
            shape = base.shape[::-1] if t.transposed else base.shape
            want = {"dense": (c.n_post, c.n_pre), "one_to_one": (c.n_post,)}[c.layout]
            if tuple(shape) != want:
                raise BuildError(f"connection {c.name}: `{t.var}` has shape {want} but the tied "
                                 f"`{t.other}.{t.other_var}` is {tuple(shape)} (transposed: {t.transposed})")
            var = next(v for v in c.syn.vars if v.name == t.var)
            st = self._state(c.name, var, tuple(shape), _precision(var), base.stream, "syn")
            st.tie = (base, t.transposed)
            c.states[t.var] = st

    # ------------------------------------------------------------------ tables

    def index(self, name: str, spec: tuple) -> str:
        """Register an RNG index tensor (built by the host, see host.py) and return its name."""
        self.indices.setdefault(name, spec)
        return name

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


def fixed_args(vtype: ValueType) -> str:
    """`scale, rounding, saturate, bits, signed` of ops.quantise for a fixed-point type."""
    return (f"{float(vtype.scale)!r}, {ROUNDING[vtype.rounding]}, {vtype.overflow == 'saturate'}, "
            f"{int(vtype.bits)}, {bool(vtype.signed)}")


__all__ = ["Plan", "PopPlan", "ConnPlan", "StatePlan", "ParamPlan", "BuildError", "fixed_args"]
