"""The IR: plain frozen data, the only contract between the language and the targets.

Expressions are sympy expressions (see snnlang.ir.functions for the built-ins).
Naming inside expressions:
  * a neuron's own variables, parameters and event flags by their plain names
    (names are unique per neuron, so compartments are gone after checking);
  * in a synapse: its own variables plainly, the pre/post neuron's as `pre.x` / `post.x`;
  * `t` and `dt` everywhere.
Booleans are 0/1 numbers. Every op carries the `.snn` span it came from, so
generated code can point back at the line that produced it.

Step semantics (what every backend implements; the reference executor is the oracle):
  for each step:
    for each population in `NetworkIR.order`:
      input/label population: its encoder produces this step's spikes;
      neuron population: run `NeuronIR.program` (updates in order; an OdeBlock's
        updates simultaneously), then `events` in order (condition -> flag, body
        under the flag), then `traces`; then clear its input ports;
      then every active connection whose source it is transmits: its delivery
        statements (`post.X += ...`) add into the target's ports; a target earlier
        in the order receives them in the next step (the ports are cleared only
        after their owner consumed them).
    then every connection whose plasticity is enabled runs its learning statements
    (handlers' non-delivery statements), then its synapse traces update.
Ops with non-empty `phases` run only while one of those phases runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from snnlang.diagnostics import Span
from snnlang.semantics.symbols import ValueType


@dataclass(frozen=True)
class Var:
    """A parameter, state, input port, trace or event flag of a neuron or synapse."""

    name: str
    kind: str                    # param | state | input | trace | event | hidden
    dtype: ValueType
    init: sympy.Expr             # params: default value; states: initial/reset value (may use params)
    origin: Span | None = None
    side: str = "self"           # synapse traces: "pre" | "post" | "syn"


@dataclass(frozen=True)
class Assign:
    """`target op expr`, applied only where `mask` is 1 (mask None: everywhere)."""

    target: str                  # own var, or `post.x` for a delivery
    op: str                      # = += -= *= /=
    expr: sympy.Expr
    mask: sympy.Expr | None
    origin: Span | None

    @property
    def is_delivery(self) -> bool:
        return self.target.startswith("post.")


@dataclass(frozen=True)
class Update:
    """`var <- expr`, in written order."""

    var: str
    expr: sympy.Expr
    phases: tuple[str, ...]
    origin: Span | None
    mask: sympy.Expr | None = None     # e.g. "not refractory"


@dataclass(frozen=True)
class OdeBlock:
    """Discrete-time updates of a group of ODE variables, applied simultaneously."""

    updates: tuple[tuple[str, sympy.Expr], ...]
    method: str
    reason: str
    phases: tuple[str, ...]
    origin: Span | None
    mask: sympy.Expr | None = None


@dataclass(frozen=True)
class EventIR:
    name: str
    cond: sympy.Expr
    body: tuple[Assign, ...]
    phases: tuple[str, ...]
    origin: Span | None


@dataclass(frozen=True)
class TraceOnIR:
    event: str                   # neuron: own event name; synapse: `pre.spike`, `post.pos`, ...
    op: str
    expr: sympy.Expr


@dataclass(frozen=True)
class TraceIR:
    """x <- decay * x + per_step, then event increments. `mean` keeps a hidden count."""

    name: str
    kind: str                    # tau | decay | sum | mean
    decay: sympy.Expr | None     # per-step factor (tau: exp(-dt/tau))
    per_step: sympy.Expr | None  # sum/mean argument
    on: tuple[TraceOnIR, ...]
    side: str                    # neuron: "self"; synapse: "pre" | "post" | "syn"
    phases: tuple[str, ...]
    origin: Span | None
    count_var: str | None = None  # mean: the hidden step counter


@dataclass(frozen=True)
class HookIR:
    edge: str                    # start | end
    phase: str
    body: tuple[Assign, ...]
    origin: Span | None


@dataclass(frozen=True)
class NeuronIR:
    name: str
    vars: tuple[Var, ...]
    program: tuple[Update | OdeBlock, ...]
    events: tuple[EventIR, ...]
    traces: tuple[TraceIR, ...]
    hooks: tuple[HookIR, ...]
    doc: str | None = None
    # `surrogate KIND(width = W)`: the derivative gradient training gives the spike, as a
    # function of a - b for `spike when a > b` (None: the trainer's default)
    surrogate: tuple[str, sympy.Expr] | None = None

    def var(self, name: str) -> Var:
        return next(v for v in self.vars if v.name == name)

    def of_kind(self, *kinds: str) -> tuple[Var, ...]:
        return tuple(v for v in self.vars if v.kind in kinds)


@dataclass(frozen=True)
class HandlerIR:
    """A synapse handler: `on pre[.E]`, `on post[.E]`, `every step`, or a phase hook."""

    trigger: str                 # pre | post | step | start | end
    event: str | None            # the event for pre/post (default "spike"); the phase for start/end
    body: tuple[Assign, ...]
    phases: tuple[str, ...]
    origin: Span | None

    @property
    def deliveries(self) -> tuple[Assign, ...]:
        return tuple(a for a in self.body if a.is_delivery)

    @property
    def learning(self) -> tuple[Assign, ...]:
        return tuple(a for a in self.body if not a.is_delivery)


@dataclass(frozen=True)
class SynapseIR:
    name: str
    vars: tuple[Var, ...]
    traces: tuple[TraceIR, ...]
    handlers: tuple[HandlerIR, ...]
    doc: str | None = None

    @property
    def plastic(self) -> bool:
        return any(h.learning for h in self.handlers)

    def of_kind(self, *kinds: str) -> tuple[Var, ...]:
        return tuple(v for v in self.vars if v.kind in kinds)


@dataclass(frozen=True)
class PopulationIR:
    name: str
    kind: str                    # neuron | input | label
    size: int
    neuron: str | None           # NeuronIR name for kind == "neuron"
    params: tuple[tuple[str, float], ...] = ()       # network overrides (SI)
    encoder: str | None = None   # input/label encoder name
    encoder_options: tuple[tuple[str, float], ...] = ()
    origin: Span | None = None
    # overrides written in terms of network parameters (symbols named after them), so that
    # the runtime can re-derive `params` when a network parameter changes
    param_exprs: tuple[tuple[str, sympy.Expr], ...] = ()


@dataclass(frozen=True)
class TieIR:
    var: str
    other: str                   # connection name
    other_var: str
    transposed: bool


@dataclass(frozen=True)
class ConnectionIR:
    name: str                    # user's name, or "src_to_dst" made unique
    source: str
    source_event: str            # which event of the source drives `on pre` ("spike" by default)
    target: str
    compartment: str | None
    synapse: str
    connectivity: str            # dense | one_to_one | sparse
    p: float | None              # sparse connection probability
    params: tuple[tuple[str, float], ...]
    init: tuple[tuple[str, sympy.Expr], ...]   # per-connection initialisers (may use fan_in, fan_out)
    tie: TieIR | None
    delay_steps: int
    same_step: bool              # target comes after source in the order
    origin: Span | None = None
    param_exprs: tuple[tuple[str, sympy.Expr], ...] = ()   # as PopulationIR.param_exprs


@dataclass(frozen=True)
class PhaseIR:
    name: str
    steps: int
    every: int | None            # None: every sample; N: after every N-th sample
    active: frozenset[str] | None     # None: everything
    plastic: frozenset[str]
    reset: frozenset[str] | None      # None: nothing; frozenset(): see reset_all
    reset_all: bool = False
    origin: Span | None = None
    # `steps` and `every` as expressions of network parameters (None: a plain number);
    # steps_expr is in steps (a duration already divided by dt), rounded when evaluated
    steps_expr: sympy.Expr | None = None
    every_expr: sympy.Expr | None = None


@dataclass(frozen=True)
class ScheduleIR:
    phases: tuple[PhaseIR, ...]
    infer: tuple[str, ...]
    batch: str = "sum"


@dataclass(frozen=True)
class NetworkIR:
    name: str
    dt: float
    populations: tuple[PopulationIR, ...]    # in step order
    connections: tuple[ConnectionIR, ...]
    schedule: ScheduleIR | None
    readout: sympy.Expr | None               # over `pop.var` symbols
    metrics: tuple[tuple[str, sympy.Expr], ...]
    simulate_steps: int | None
    unit_free: bool
    doc: str | None = None
    params: tuple[tuple[str, float], ...] = ()     # network parameters and their values (SI)
    # network parameters that something fixed at compile time depends on (sizes, encoder
    # options, delays, init expressions, readout, metrics): changing them needs a recompile
    structural: frozenset[str] = frozenset()

    def population(self, name: str) -> PopulationIR:
        return next(p for p in self.populations if p.name == name)


@dataclass(frozen=True)
class ModelIR:
    file: str
    neurons: dict[str, NeuronIR] = field(default_factory=dict)
    synapses: dict[str, SynapseIR] = field(default_factory=dict)
    networks: dict[str, NetworkIR] = field(default_factory=dict)
    streams: int = 0
    stream_origins: tuple[Span | None, ...] = ()
    # content hash of the sources and compiler that produced this IR (snnlang.runtime.ir_cache);
    # backends may key their own caches by it to skip code generation. None: not computed.
    fingerprint: str | None = None
