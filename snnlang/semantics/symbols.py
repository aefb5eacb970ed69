"""Symbols, value types and scopes: what a name means inside a neuron, synapse or network."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from snnlang.diagnostics import Span
from snnlang.semantics.units import DIMENSIONLESS, Dimension


@dataclass(frozen=True)
class ValueType:
    """`float` (backend dtype unless `precision` is set), `bool`, `int` or `fixed`."""

    kind: str
    precision: str | None = None      # "float32" | "float64" for explicit floats
    bits: int | None = None           # fixed only
    scale: float | None = None        # fixed only: value = q * scale
    rounding: str = "nearest"         # fixed only
    overflow: str = "saturate"        # fixed only
    signed: bool = True               # fixed only: q in [-(2^(bits-1)-1), 2^(bits-1)-1], else [0, 2^bits-1]

    def __str__(self) -> str:
        if self.kind == "fixed":
            return f"fixed<{self.bits}>" if self.signed else f"fixed<{self.bits}, signed = false>"
        return self.precision or self.kind


FLOAT = ValueType("float")
BOOL = ValueType("bool")
INT = ValueType("int")


@dataclass(frozen=True)
class Info:
    """What the checker knows about an expression: dimension, type, constant value (SI)."""

    dim: Dimension
    type: ValueType
    const: float | None = None
    unknown: bool = False  # depends on something not known here; suppresses follow-on errors

    @property
    def is_bool(self) -> bool:
        return self.type.kind == "bool"


UNKNOWN = Info(DIMENSIONLESS, FLOAT, None, unknown=True)


@dataclass
class Symbol:
    """A declared name. `dim` is filled lazily (params may refer to each other)."""

    name: str
    kind: str                 # param | state | input | trace | event | implicit | metric ...
    span: Span | None
    compartment: str | None = None
    decl: object = None       # the AST node
    type: ValueType = FLOAT
    dim: Dimension | None = None
    trace_side: str | None = None  # synapse traces: "pre" | "post" | "syn"
    phases: tuple[str, ...] = ()   # declared inside `during`
    dim_unknown: bool = False      # its value mentions something already reported (E301...)

    @property
    def writable(self) -> bool:
        return self.kind in ("state", "trace")


@dataclass
class NeuronScope:
    """All members of one neuron type, compartments flattened with their owner."""

    name: str
    symbols: dict[str, Symbol] = field(default_factory=dict)
    compartments: dict[str, Span] = field(default_factory=dict)
    time_dim: Dimension = DIMENSIONLESS
    unit_free: bool = True

    def visible(self, name: str, compartment: str | None) -> Symbol | None:
        sym = self.symbols.get(name)
        if sym is None:
            return None
        if sym.compartment is None or sym.compartment == compartment:
            return sym
        return None

    def member(self, compartment: str, name: str) -> Symbol | None:
        sym = self.symbols.get(name)
        if sym is not None and sym.compartment == compartment:
            return sym
        return None

    def events(self) -> list[str]:
        return [s.name for s in self.symbols.values() if s.kind == "event"]


@dataclass
class SynapseScope:
    name: str
    symbols: dict[str, Symbol] = field(default_factory=dict)
    time_dim: Dimension = DIMENSIONLESS
    unit_free: bool = True
    plastic_states: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class PeerBinding:
    """The neuron on the other side of a connection, as seen by a synapse body."""

    scope: NeuronScope | None          # None: an input/label population (only `spike`)
    compartment: str | None            # target compartment for `post`
    kind: str                          # "population" | "input" | "label"


DimResolver = Callable[[Symbol], Dimension]
