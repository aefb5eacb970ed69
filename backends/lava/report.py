"""`snnc explain FILE --target lava`: which owners map to Loihi's native blocks and why, the Loihi
rule strings, and the float-to-fixed scales of both tags.

The text is made from the plan (plan.py) only; the diagnostics are rendered with their `.snn`
lines, read from the files the IR's spans name.
"""

from __future__ import annotations

import math
from pathlib import Path

from snnlang.diagnostics import Diagnostic, SourceCache, render
from snnlang.ir.model import ModelIR

from .fit_lif import DECAY_UNITY
from .plan import NetworkPlan, PlanError, plan_network


def sources_of(diags: list[Diagnostic]) -> SourceCache:
    """The source lines the diagnostics point at (files that cannot be read are left out)."""
    cache = SourceCache()
    for d in diags:
        if d.span is not None and d.span.file not in cache.texts():
            try:
                cache.add(d.span.file, Path(d.span.file).read_text(encoding="utf-8"))
            except OSError:
                pass
    return cache


def render_diagnostics(diags: list[Diagnostic]) -> str:
    cache = sources_of(diags)
    return "\n\n".join(render(d, cache) for d in diags)


def _pow2(x: float) -> str:
    """`2^-8 = 0.00390625` when x is a power of two, else the number."""
    k = math.log2(x) if x > 0 else 0.5
    return f"2^{int(k)} = {x:.6g}" if k == int(k) and k != 0 else f"{x:.6g}"


def _decay12(tau: float) -> str:
    """A trace decay factor exp(-1/tau) in Loihi's 12-bit form (x * k / 4096 per step)."""
    return f"{round(DECAY_UNITY * math.exp(-1.0 / tau))}/4096"


def explain_plan(plan: NetworkPlan) -> list[str]:
    net = plan.net
    out = [f"lava target, network {net.name}: Lava processes under Loihi2SimCfg (tags floating_pt, fixed_pt)"]
    out.append("  native owners run as Lava's own processes (Loihi's blocks); custom ones as generated "
               "Process/ProcessModel pairs")
    for p in net.populations:
        out.append(plan._line(p.name, "population"))
        choice = plan.natives.get(p.name)
        if choice is not None and choice.kind == "lif":
            fit = choice.lif
            out.append(f"      model: {fit.v} <- {fit.beta:g} {fit.v} + "
                       + (f"{fit.kappa:g} {fit.u}, {fit.u} <- {fit.alpha:g} {fit.u} + input" if fit.u else "input")
                       + f" (gain {fit.gain:g}), bias {fit.bias:g}, spike when {fit.v} > {fit.theta:g}")
            for tag, cfg in choice.lif_configs.items():
                out.append(f"      {tag}: du = {cfg.du:g}, dv = {cfg.dv:g}, vth = {cfg.vth:g}, "
                           f"bias = {cfg.bias_mant:g} * 2^{cfg.bias_exp}; one unit of Lava's v = {cfg.sigma:.6g} "
                           "model units")
                for note in cfg.notes:
                    out.append(f"        {note}")
    for c in net.connections:
        out.append(plan._line(c.name, "connection"))
        choice = plan.natives.get(c.name)
        if choice is None:
            continue
        if choice.kind == "dense":
            for tag, s in choice.weight_scales.items():
                out.append(f"      {tag}: one Lava weight unit = {s:.6g} model units"
                           + (" (8-bit integers, rounded)" if tag == "fixed_pt" else ""))
            continue
        rule = choice.rule
        out.append(f"      weight `{rule.weight}` -> w (sign mode {rule.sign_mode})"
                   + (f", `{rule.tag}` -> tag t" if rule.tag else ""))
        for tr in rule.traces:
            out.append(f"      trace `{tr.name}` -> {tr.lava}: +{tr.increment:g} per {tr.side} spike, tau "
                       f"{tr.tau_steps:.6g} steps (decay {math.exp(-1.0 / tr.tau_steps):.6f}, 12-bit "
                       f"{_decay12(tr.tau_steps)})")
        out.append("      rule in model units (a trace read in a handler is its value before this step's "
                   "jump, Loihi's after it: x = x1 - impulse * x0):")
        for term in rule.terms:
            out.append(f"        {term.target} += {term.describe()}")
        for tag, conv in choice.conversions.items():
            bits = ("; Dense weight_exp 0, 8 weight bits, range "
                    + {"MIXED": "-256..255", "EXCITATORY": "0..255", "INHIBITORY": "-255..0"}[rule.sign_mode]
                    if tag == "fixed_pt" else "")
            out.append(f"      {tag}: one weight unit = {_pow2(conv.weight_scale)} model units"
                       + (f", one tag unit = {_pow2(conv.tag_scale)}" if rule.tag else "") + bits)
            for lava, impulse in conv.impulses.items():
                scale = conv.trace_scales.get(lava)
                what = f"one unit = {scale:.6g} model units" if scale is not None else "a spike flag, see below"
                out.append(f"        {lava}: impulse {impulse:g} ({what}), tau {conv.taus[lava]:.6g}")
            for target, text in conv.strings().items():
                out.append(f"        {target} = \"{text}\"")
            for note in conv.notes:
                out.append(f"        {note}")
    if plan.diagnostics:
        out.append("  why the others are custom (and what Loihi would need instead):")
        for line in render_diagnostics(plan.diagnostics).split("\n"):
            out.append("    " + line if line else "")
    return out


def explain_lava(model: ModelIR, network: str | None, options: dict) -> str:
    """The report for one network (every network when None)."""
    names = [network] if network is not None else list(model.networks)
    lines: list[str] = []
    for name in names:
        if lines:
            lines.append("")
        try:
            plan = plan_network(model, name, options)
        except PlanError as exc:
            lines.append(f"lava target, network {name}: cannot run on Lava")
            lines += ["    " + line if line else "" for line in render_diagnostics(exc.diagnostics).split("\n")]
            continue
        lines += explain_plan(plan)
    return "\n".join(lines)
