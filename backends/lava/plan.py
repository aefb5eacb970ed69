"""The plan of one network for Lava: which owners map to Loihi's native blocks, the rest custom.

`plan_network(model, network)` decides, for every population and connection, whether it maps
to one of Lava's own processes (LIF, Dense, LearningDense with a Loihi2F rule; natives.py says
when and why) or becomes a custom process generated from the IR; it collects the diagnostics
that explain each decision, the float-to-fixed conversion of the native ones (per tag), the
ports and the wiring. Everything the generated module and `snnc explain --target lava` say
comes from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from snnlang.diagnostics import Diagnostic, error
from snnlang.errors import UserError
from snnlang.ir.model import ModelIR, NetworkIR

from .natives import NativeChoice, choose_natives
from .wiring import OwnerPorts, Wire, delays, plan_ports


class PlanError(UserError):
    """The network cannot run on the Lava backend; `diagnostics` say why and where (`str()`
    renders them with their `.snn` lines)."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        from .report import render_diagnostics
        errors = [d for d in diagnostics if d.is_error]
        super().__init__(render_diagnostics(errors or diagnostics))
        self.diagnostics = diagnostics


@dataclass
class NetworkPlan:
    model: ModelIR
    net: NetworkIR
    natives: dict[str, NativeChoice]
    reasons: dict[str, str]                 # owner -> why it is native / custom (one line)
    diagnostics: list[Diagnostic]
    ports: dict[str, OwnerPorts] = field(default_factory=dict)
    wires: list[Wire] = field(default_factory=list)

    # ------------------------------------------------------------ text
    def summary_lines(self) -> list[str]:
        out = []
        for p in self.net.populations:
            out.append(self._line(p.name, "population"))
        for c in self.net.connections:
            out.append(self._line(c.name, "connection"))
        return out

    def _line(self, name: str, what: str) -> str:
        choice = self.natives.get(name)
        kind = f"native {choice.lava_class}" if choice else "custom"
        return f"  {what} {name}: {kind} -- {self.reasons.get(name, '')}"

    # ------------------------------------------------------------ tables for the module
    def native_table(self) -> dict:
        return {name: choice.table() for name, choice in self.natives.items()}

    def gains_table(self) -> dict:
        """owner -> port -> tag -> factor from what a native neighbour sends to model units."""
        out: dict = {}
        for name, ports in self.ports.items():
            for port in ports.inputs:
                if port.kind == "native" and port.var is not None:
                    conn = port.name[len("in_"):]
                    out.setdefault(name, {})[port.name] = self.natives[conn].activation_gain()
        return out

    def in_flight_table(self) -> dict:
        """Deliveries of cycle-closing connections that the reference has already added into their
        target when a step ends: `get()` of the target adds them (connection -> (target, slots))."""
        out = {}
        for c in self.net.connections:
            delay, natural = delays(c)
            if c.name in self.ports and self.ports[c.name].natural_pending:
                slots = tuple((p.slot, p.var) for p in self.ports[c.name].outputs if p.kind == "delivery")
                out[c.name] = (c.target, slots)
            elif c.name in self.natives and delay == natural and c.target not in self.natives:
                out[c.name] = (c.target, ((None, self.natives[c.name].table()["var"]),))
        return out


def plan_network(model: ModelIR, network: str, options: dict | None = None) -> NetworkPlan:
    """The plan of `network`; raises PlanError when something cannot run on Lava at all."""
    options = dict(options or {})
    net = model.networks[network]
    diags: list[Diagnostic] = []
    for c in net.connections:
        syn = model.synapses[c.synapse]
        if c.tie is not None:
            diags.append(error(
                "L701", f"connection `{c.name}` ties `{c.tie.var}` to `{c.tie.other}.{c.tie.other_var}`, "
                "which the Lava backend cannot run", c.origin,
                "on Loihi (and in Lava) every connection owns its synaptic memory; a tied matrix would "
                f"need every write to `{c.tie.other}` mirrored into `{c.name}`. Drop the `tie` and give "
                f"`{c.name}` its own weights (a local rule can train them to mirror the other matrix)"))
        for h in syn.handlers:
            if h.trigger in ("start", "end"):
                diags.append(error(
                    "L702", f"synapse {syn.name} has an `at {h.trigger} of {h.event}` handler, which the Lava "
                    "backend does not run", h.origin,
                    "Lava processes only advance in time steps; express the boundary action as an "
                    "`every step` handler restricted with `during`, or use another target"))
    for p in net.populations:
        if p.kind == "neuron":
            for h in model.neurons[p.neuron].hooks:
                diags.append(error(
                    "L702", f"neuron {p.neuron} has an `at {h.edge} of {h.phase}` block, which the Lava "
                    "backend does not run", h.origin,
                    "Lava processes only advance in time steps; use an update restricted with `during`, "
                    "or another target"))
    diags = _unique(diags)
    if any(d.is_error for d in diags):
        raise PlanError(diags)
    natives, reasons, native_diags = choose_natives(model, net, options)
    diags = _unique(diags + native_diags)
    if any(d.is_error for d in diags):
        raise PlanError(diags)
    plan = NetworkPlan(model, net, natives, reasons, diags)
    plan.ports, plan.wires = plan_ports(model, net, {k: v.kind for k, v in natives.items()}, reasons)
    return plan


def _unique(diags: list[Diagnostic]) -> list[Diagnostic]:
    """One diagnostic per (code, place, message): a synapse type used twice is reported once."""
    seen, out = set(), []
    for d in diags:
        key = (d.code, d.span, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out
