"""The abstract syntax tree of a `.snn` file.

Frozen dataclasses, one per construct; every node carries the `Span` of the
text it came from, and declaration nodes also the span of their name, so that
later stages can point at exactly the right characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from snnlang.diagnostics import Span

# ------------------------------------------------------------------ expressions


@dataclass(frozen=True)
class Number:
    value: float
    text: str
    span: Span


@dataclass(frozen=True)
class Quantity:
    """A number with a unit written after it: `20 ms`."""

    value: float
    text: str
    unit: str
    unit_span: Span
    span: Span


@dataclass(frozen=True)
class Boolean:
    value: bool
    span: Span


@dataclass(frozen=True)
class Name:
    """A possibly dotted reference: `v`, `pre.x`, `post.apical.I`, `W2.w`."""

    parts: tuple[str, ...]
    span: Span

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Keyword:
    name: str
    value: "Expr"
    span: Span


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple["Expr", ...]
    kwargs: tuple[Keyword, ...]
    func_span: Span
    span: Span

    def kwarg(self, name: str) -> "Expr | None":
        for kw in self.kwargs:
            if kw.name == name:
                return kw.value
        return None


@dataclass(frozen=True)
class BinOp:
    """Arithmetic: `+ - * / % ^` (`**` is normalised to `^`)."""

    op: str
    left: "Expr"
    right: "Expr"
    span: Span


@dataclass(frozen=True)
class UnaryOp:
    """`-x`, `+x` or `not x`."""

    op: str
    operand: "Expr"
    span: Span


@dataclass(frozen=True)
class Compare:
    op: str
    left: "Expr"
    right: "Expr"
    span: Span


@dataclass(frozen=True)
class Logic:
    """`and`, `or`, `xor` on booleans (spikes are booleans)."""

    op: str
    left: "Expr"
    right: "Expr"
    span: Span


@dataclass(frozen=True)
class Conditional:
    """`a if cond else b`."""

    cond: "Expr"
    then: "Expr"
    orelse: "Expr"
    span: Span


Expr = Union[Number, Quantity, Boolean, Name, Call, BinOp, UnaryOp, Compare, Logic, Conditional]

# ------------------------------------------------------------------- statements


@dataclass(frozen=True)
class Assign:
    """`target op value` with op one of `= += -= *= /=`."""

    target: Name
    op: str
    value: Expr
    span: Span


@dataclass(frozen=True)
class If:
    cond: Expr
    body: tuple["Stmt", ...]
    elifs: tuple[tuple[Expr, tuple["Stmt", ...]], ...]
    orelse: tuple["Stmt", ...]
    span: Span


Stmt = Union[Assign, If]

# ------------------------------------------------------------------------ types


@dataclass(frozen=True)
class FixedType:
    """`fixed<bits, scale = ..., round = nearest|floor|stochastic, overflow = saturate|wrap>`."""

    bits: Expr
    options: tuple[Keyword, ...]
    span: Span


@dataclass(frozen=True)
class NamedType:
    """`float32`, `float64`, `bool`, `int`, or a unit expression such as `mV/ms`."""

    expr: Expr
    span: Span


TypeSpec = Union[FixedType, NamedType]

# ---------------------------------------------------------- neuron and synapse members


@dataclass(frozen=True)
class ParamDecl:
    name: str
    type: TypeSpec | None
    value: Expr
    name_span: Span
    span: Span


@dataclass(frozen=True)
class StateDecl:
    name: str
    type: TypeSpec | None
    value: Expr
    name_span: Span
    span: Span


@dataclass(frozen=True)
class InputDecl:
    """A named input port; whatever synapses deliver to it is summed each step."""

    name: str
    type: TypeSpec | None
    name_span: Span
    span: Span


@dataclass(frozen=True)
class OdeDecl:
    """`dv/dt = rhs [using method]`."""

    var: str
    rhs: Expr
    method: str | None
    var_span: Span
    span: Span
    method_span: Span | None = None  # the solver's name after `using`


@dataclass(frozen=True)
class UpdateDecl:
    """`v <- rhs`: the discrete-time update of `v`, once per step in written order."""

    var: str
    rhs: Expr
    var_span: Span
    span: Span


@dataclass(frozen=True)
class EventDecl:
    """`spike when cond: ...` (name "spike") or `event name when cond: ...`.

    The event's name is also a boolean variable: true in the steps the event fired.
    """

    name: str
    cond: Expr
    body: tuple[Stmt, ...]
    is_spike: bool
    name_span: Span
    span: Span


@dataclass(frozen=True)
class RefractoryDecl:
    """`refractory PERIOD [holds x, y]`: no spike for PERIOD after one; the listed variables
    (every ODE/update of the neuron when none are listed) are held meanwhile."""

    period: Expr
    span: Span
    holds: tuple[str, ...] = ()
    hold_spans: tuple[Span, ...] = ()


@dataclass(frozen=True)
class SurrogateDecl:
    """`surrogate KIND(width = W)`: the derivative that gradient training (BPTT) gives the
    neuron's spike `spike when a > b`, as a function of a - b."""

    call: Call
    span: Span


@dataclass(frozen=True)
class TraceOn:
    """`on event op value` inside a trace: what an event does to the trace."""

    event: Name
    op: str
    value: Expr
    span: Span


@dataclass(frozen=True)
class TraceDecl:
    """A trace: `tau` (exponential by time constant), `decay` (per-step factor),
    `sum` (accumulates its argument each step; a counter with `on`), `mean`
    (running mean of its argument since the last reset)."""

    name: str
    kind: str
    arg: Expr | None
    on: tuple[TraceOn, ...]
    type: TypeSpec | None
    name_span: Span
    span: Span


@dataclass(frozen=True)
class PhaseHook:
    """`at start of PHASE:` / `at end of PHASE:` statements."""

    edge: str
    phase: str
    body: tuple[Stmt, ...]
    phase_span: Span
    span: Span


@dataclass(frozen=True)
class During:
    """Members that exist only while one of the named phases runs."""

    phases: tuple[str, ...]
    members: tuple["Member", ...]
    phase_spans: tuple[Span, ...]
    span: Span


@dataclass(frozen=True)
class Compartment:
    name: str
    doc: str | None
    members: tuple["Member", ...]
    name_span: Span
    span: Span


@dataclass(frozen=True)
class OnHandler:
    """`on pre:`, `on post:`, `on pre.EVENT:`, `on post.EVENT:` in a synapse."""

    event: Name
    body: tuple[Stmt, ...]
    span: Span


@dataclass(frozen=True)
class StepHandler:
    """`every step:` in a synapse: runs once per step for every connection."""

    body: tuple[Stmt, ...]
    span: Span


Member = Union[
    ParamDecl, StateDecl, InputDecl, OdeDecl, UpdateDecl, EventDecl, RefractoryDecl,
    TraceDecl, PhaseHook, During, Compartment, OnHandler, StepHandler,
]

# ------------------------------------------------------------------ definitions


@dataclass(frozen=True)
class NeuronDef:
    name: str
    doc: str | None
    members: tuple[Member, ...]
    name_span: Span
    span: Span


@dataclass(frozen=True)
class SynapseDef:
    name: str
    doc: str | None
    members: tuple[Member, ...]
    name_span: Span
    span: Span


# ---------------------------------------------------------------------- network


@dataclass(frozen=True)
class InputPop:
    """`input x = poisson(784)`: a population whose spikes an encoder makes from data."""

    name: str
    encoder: Call
    name_span: Span
    span: Span


@dataclass(frozen=True)
class LabelPop:
    """`label y = onehot(10)`: the label of the current sample as a population."""

    name: str
    encoder: Call
    name_span: Span
    span: Span


@dataclass(frozen=True)
class StoreOption:
    """`store w as fixed<8, ...>` in a `connect` or `layer` block: these states/traces of this
    connection or population only are kept in another type (e.g. per-layer 8-bit weights)."""

    names: tuple[str, ...]
    name_spans: tuple[Span, ...]
    type: "TypeSpec"
    span: Span


@dataclass(frozen=True)
class Population:
    """`population h = MC(500, theta = 0.4)`; `layer` is a synonym."""

    name: str
    neuron: Call
    name_span: Span
    span: Span
    options: tuple[StoreOption, ...] = ()


@dataclass(frozen=True)
class ConnOption:
    """An option in a `connect ...:` block: connectivity, init, tie, delay."""

    kind: str
    var: str | None
    value: Expr
    span: Span


@dataclass(frozen=True)
class Connect:
    """`connect [name:] src -> dst with Synapse(connectivity, param = value): options`."""

    name: str | None
    source: Name
    target: Name
    synapse: str
    args: tuple[Expr, ...]
    kwargs: tuple[Keyword, ...]
    options: tuple[ConnOption | ParamDecl | StoreOption, ...]
    name_span: Span | None
    synapse_span: Span
    span: Span


@dataclass(frozen=True)
class Readout:
    expr: Expr
    span: Span


@dataclass(frozen=True)
class Metric:
    name: str
    expr: Expr
    name_span: Span
    span: Span


@dataclass(frozen=True)
class Timestep:
    dt: Expr
    span: Span


@dataclass(frozen=True)
class Simulate:
    duration: Expr
    dt: Expr | None
    span: Span


@dataclass(frozen=True)
class PhaseStmt:
    """`active`, `plastic` or `reset` followed by names, `all` or `none`."""

    kind: str
    names: tuple[str, ...]
    everything: bool
    name_spans: tuple[Span, ...]
    span: Span


@dataclass(frozen=True)
class PhaseDef:
    name: str
    steps: Expr
    every: Expr | None
    stmts: tuple[PhaseStmt, ...]
    name_span: Span
    span: Span


@dataclass(frozen=True)
class InferDecl:
    phases: tuple[str, ...]
    phase_spans: tuple[Span, ...]
    span: Span


@dataclass(frozen=True)
class BatchDecl:
    mode: str
    span: Span


@dataclass(frozen=True)
class Schedule:
    members: tuple[PhaseDef | InferDecl | BatchDecl, ...]
    span: Span

    @property
    def phases(self) -> tuple[PhaseDef, ...]:
        return tuple(m for m in self.members if isinstance(m, PhaseDef))

    @property
    def infer(self) -> InferDecl | None:
        return next((m for m in self.members if isinstance(m, InferDecl)), None)

    @property
    def batch(self) -> BatchDecl | None:
        return next((m for m in self.members if isinstance(m, BatchDecl)), None)


NetworkMember = Union[
    ParamDecl, InputPop, LabelPop, Population, Connect, Readout, Metric, Timestep, Simulate, Schedule
]


@dataclass(frozen=True)
class NetworkDef:
    name: str
    doc: str | None
    members: tuple[NetworkMember, ...]
    name_span: Span
    span: Span


# ------------------------------------------------------------------------ files


@dataclass(frozen=True)
class Import:
    """`import "file.snn"` (names is None: everything) or `from "file.snn" import A, B`."""

    path: str
    names: tuple[str, ...] | None
    name_spans: tuple[Span, ...]
    path_span: Span
    span: Span


Definition = Union[NeuronDef, SynapseDef, NetworkDef]


@dataclass(frozen=True)
class Module:
    file: str
    doc: str | None
    imports: tuple[Import, ...]
    definitions: tuple[Definition, ...]
