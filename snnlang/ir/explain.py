"""A readable dump of the IR for `snnc explain`: what the compiler decided and why."""

from __future__ import annotations

import sympy

from snnlang.ir.model import Assign, ModelIR, NetworkIR, NeuronIR, OdeBlock, SynapseIR, TraceIR, Update


def _src(origin) -> str:
    return f"  # line {origin.line}" if origin is not None else ""


def _e(expr: sympy.Expr) -> str:
    return sympy.sstr(expr)


def _phases(phases: tuple[str, ...]) -> str:
    return f" [during {', '.join(phases)}]" if phases else ""


def _assign(a: Assign, indent: str) -> str:
    mask = f"  where {_e(a.mask)}" if a.mask is not None else ""
    return f"{indent}{a.target} {a.op} {_e(a.expr)}{mask}{_src(a.origin)}"


def _trace(tr: TraceIR, indent: str) -> list[str]:
    parts = []
    if tr.decay is not None:
        parts.append(f"{tr.name} *= {_e(tr.decay)}")
    if tr.per_step is not None:
        if tr.kind == "mean":
            parts.append(f"{tr.name} += ({_e(tr.per_step)} - {tr.name}) / ({tr.count_var} + 1)")
        else:
            parts.append(f"{tr.name} += {_e(tr.per_step)}")
    for on in tr.on:
        parts.append(f"on {on.event}: {tr.name} {on.op} {_e(on.expr)}")
    side = "" if tr.side == "self" else f" ({tr.side}-synaptic)"
    head = f"{indent}trace {tr.name}: {tr.kind}{side}{_phases(tr.phases)}{_src(tr.origin)}"
    return [head] + [f"{indent}    {p}" for p in parts]


def explain_neuron(n: NeuronIR) -> list[str]:
    out = [f"neuron {n.name}"]
    for kind in ("param", "state", "input", "trace", "event", "hidden"):
        vs = n.of_kind(kind)
        if vs:
            out.append(f"  {kind}s: " + ", ".join(
                f"{v.name}" + (f" = {_e(v.init)}" if kind in ("param", "state") else "") for v in vs))
    out.append("  each step, in order:")
    for op in n.program:
        if isinstance(op, OdeBlock):
            names = ", ".join(v for v, _ in op.updates)
            out.append(f"    solve {names} by {op.method}: {op.reason}{_phases(op.phases)}{_src(op.origin)}")
            for var, expr in op.updates:
                out.append(f"      {var} <- {_e(expr)}")
        elif isinstance(op, Update):
            out.append(f"    {op.var} <- {_e(op.expr)}{_phases(op.phases)}{_src(op.origin)}")
        if getattr(op, "mask", None) is not None:
            out.append(f"      (held while {_e(op.mask)} is false)")
    for ev in n.events:
        out.append(f"    event {ev.name} when {_e(ev.cond)}{_phases(ev.phases)}{_src(ev.origin)}")
        out.extend(_assign(a, "      ") for a in ev.body)
    for tr in n.traces:
        out.extend(_trace(tr, "    "))
    for h in n.hooks:
        out.append(f"  at {h.edge} of {h.phase}:{_src(h.origin)}")
        out.extend(_assign(a, "    ") for a in h.body)
    return out


def explain_synapse(s: SynapseIR) -> list[str]:
    out = [f"synapse {s.name}" + (" (plastic)" if s.plastic else "")]
    for kind in ("param", "state", "trace"):
        vs = s.of_kind(kind)
        if vs:
            out.append(f"  {kind}s: " + ", ".join(v.name for v in vs))
    for tr in s.traces:
        out.extend(_trace(tr, "  "))
    for h in s.handlers:
        trig = {"pre": f"on pre.{h.event}", "post": f"on post.{h.event}", "step": "every step",
                "start": f"at start of {h.event}", "end": f"at end of {h.event}"}[h.trigger]
        out.append(f"  {trig}{_phases(h.phases)}{_src(h.origin)}")
        if h.deliveries:
            out.append("    transmit (before the target population steps):")
            out.extend(_assign(a, "      ") for a in h.deliveries)
        if h.learning:
            out.append("    learn (after all populations stepped, when plasticity is enabled):")
            out.extend(_assign(a, "      ") for a in h.learning)
    return out


def explain_network(net: NetworkIR) -> list[str]:
    unit = "steps (unit-free)" if net.unit_free else f"{net.dt * 1e3:g} ms"
    out = [f"network {net.name}: dt = {unit}" +
           (f", simulate {net.simulate_steps} steps" if net.simulate_steps else "")]
    out.append("  step order:")
    for i, p in enumerate(net.populations, 1):
        what = p.neuron if p.kind == "neuron" else f"{p.kind} {p.encoder}"
        out.append(f"    {i}. {p.name} ({what}, {p.size})")
    out.append("  connections:")
    for c in net.connections:
        timing = "same step" if c.same_step else "next step (closes a cycle)"
        extra = f", p={c.p:g}" if c.p is not None else ""
        tie = (f", {c.tie.var} tied to {'transpose of ' if c.tie.transposed else ''}{c.tie.other}."
               f"{c.tie.other_var}") if c.tie else ""
        target = c.target + (f".{c.compartment}" if c.compartment else "")
        out.append(f"    {c.name}: {c.source}.{c.source_event} -> {target} with {c.synapse} "
                   f"({c.connectivity}{extra}{tie}); delivers {timing}")
    if net.schedule:
        out.append(f"  schedule (plastic updates over a batch: {net.schedule.batch}):")
        for ph in net.schedule.phases:
            when = f" every {ph.every} samples" if ph.every else ""
            active = "all" if ph.active is None else ", ".join(sorted(ph.active)) or "none"
            plastic = ", ".join(sorted(ph.plastic)) or "none"
            reset = "all" if ph.reset_all else (", ".join(sorted(ph.reset)) if ph.reset else "none")
            out.append(f"    phase {ph.name}: {ph.steps} steps{when}; active {active}; plastic {plastic}; "
                       f"reset {reset}")
        out.append(f"    evaluate runs: {', '.join(net.schedule.infer) or '(none)'}")
    if net.readout is not None:
        out.append(f"  readout: {_e(net.readout)}")
    for name, expr in net.metrics:
        out.append(f"  metric {name} = {_e(expr)}")
    return out


def explain(model: ModelIR) -> str:
    lines: list[str] = []
    for n in model.neurons.values():
        lines += explain_neuron(n) + [""]
    for s in model.synapses.values():
        lines += explain_synapse(s) + [""]
    for net in model.networks.values():
        lines += explain_network(net) + [""]
    lines.append(f"random streams: {model.streams}")
    return "\n".join(lines)
