"""Which owners map to Lava's native processes, with the diagnostics that say why (not).

A population is native (Lava's LIF) when fit_lif finds Loihi's LIF in its IR, every connection
into it is native, and nothing but its spike is read by others. A connection is native (Lava's
Dense, or LearningDense with a Loihi2FLearningRule) when
  * it is dense (one_to_one too if it does not learn: a diagonal Dense), not tied;
  * it delivers its weight (`post.X += w`) on the presynaptic spike and nothing else;
  * it delivers one step after the spike, as Lava's Dense does (a cycle-closing connection, or
    one with `delay 1`): a same-step connection would arrive a step late on Loihi;
  * the schedule never switches it off (Loihi's Dense cannot be; plasticity can be, through
    the rule strings);
  * its plasticity is a Loihi rule (rules.py) whose products are exact under both tags
    (fixed.py), and exact approximations are allowed only with approximate=True.
Everything else is custom: generated from the IR, exact by construction. Each decision comes
with a one-line reason (explain, the generated module's header) and, for a misfit, a note (an
error under native="require") at the `.snn` line, with what Loihi would need instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import sympy

from snnlang.diagnostics import Diagnostic, Severity
from snnlang.ir import functions as F
from snnlang.ir.model import ConnectionIR, ModelIR, NetworkIR

from .fit_lif import LifFit, fit_lif, lif_config
from .fixed import convert
from .gen_connection import delivery_list, peer_reads
from .rules import RulePlan, translate
from .wiring import delays

TAGS = ("floating_pt", "fixed_pt")


@dataclass
class NativeChoice:
    kind: str                                  # lif | dense | learning_dense
    lava_class: str
    reason: str
    table_data: dict = field(default_factory=dict)
    gains: dict = field(default_factory=dict)  # tag -> model units per unit of a_out
    rule: RulePlan | None = None
    conversions: dict = field(default_factory=dict)   # tag -> Conversion
    lif: LifFit | None = None
    lif_configs: dict = field(default_factory=dict)   # tag -> LifConfig
    weight_scales: dict = field(default_factory=dict)  # tag -> s_w (Dense)

    def table(self) -> dict:
        return self.table_data

    def activation_gain(self) -> dict:
        return dict(self.gains)


def _note(code: str, message: str, span, hint: str, severity=Severity.NOTE) -> Diagnostic:
    return Diagnostic(severity, code, message, span, (hint,) if hint else ())


def param_values(decls, overrides: dict[str, float], dt: float) -> dict[str, float]:
    """Parameter values as the reference derives them (defaults in order, overrides win)."""
    values: dict[str, float] = {"dt": dt}
    for v in decls:
        if v.name in overrides:
            values[v.name] = float(overrides[v.name])
            continue
        expr = sympy.sympify(v.init).xreplace({sympy.Symbol(k): sympy.Float(x) for k, x in values.items()})
        try:
            values[v.name] = float(expr)
        except (TypeError, ValueError):
            values[v.name] = math.nan
    return values


def init_range(expr, values: dict[str, float], fan_in: float, fan_out: float) -> tuple[float, float] | None:
    """Bounds of an initialiser (uniform draws over [0, 1), Kaiming / Xavier over their ranges)."""
    unit = sympy.AccumBounds(0, 1)
    sym = sympy.AccumBounds(-1, 1)
    expr = sympy.sympify(expr)
    expr = expr.replace(lambda e: isinstance(e, F.Uniform), lambda e: unit)
    expr = expr.replace(lambda e: isinstance(e, F.Normal), lambda e: sympy.AccumBounds(-4, 4))
    expr = expr.replace(lambda e: isinstance(e, F.KaimingUniform), lambda e: sym / sympy.sqrt(fan_in))
    expr = expr.replace(lambda e: isinstance(e, F.XavierUniform),
                        lambda e: sym * sympy.sqrt(sympy.Float(6) / (fan_in + fan_out)))
    subs = {sympy.Symbol(k): sympy.Float(v) for k, v in values.items()}
    subs[sympy.Symbol("fan_in")] = sympy.Float(fan_in)
    subs[sympy.Symbol("fan_out")] = sympy.Float(fan_out)
    try:
        value = expr.xreplace(subs)
        value = sympy.simplify(value) if not value.is_number else value
        if isinstance(value, sympy.AccumBounds):
            return float(value.min), float(value.max)
        return float(value), float(value)
    except (TypeError, ValueError, AttributeError):
        return None


# --------------------------------------------------------------------------- connections


def _weight_of(syn) -> tuple[str | None, str, object]:
    """(weight state, target variable, origin) of a synapse whose only delivery is `post.X += w` on
    the presynaptic spike; else (None, what differs, where)."""
    deliveries = [(h, a) for h in syn.handlers for a in h.deliveries]
    if len(deliveries) != 1:
        where = deliveries[1][1].origin if len(deliveries) > 1 else (syn.handlers[0].origin if syn.handlers else None)
        return None, f"it has {len(deliveries)} delivery statements", where
    h, a = deliveries[0]
    if h.trigger != "pre" or h.event != "spike":
        trig = {"post": f"on post.{h.event}", "step": "every step"}.get(h.trigger, f"on pre.{h.event}")
        return None, f"it delivers `{trig}`", a.origin
    if h.phases:
        return None, f"it delivers only during {', '.join(h.phases)}", a.origin
    if a.mask is not None or a.op != "+=":
        return None, "its delivery is conditional or not `+=`", a.origin
    expr = sympy.sympify(a.expr)
    per_pair = {v.name for v in syn.vars if v.kind == "state" and v.side not in ("pre", "post")}
    if not (isinstance(expr, sympy.Symbol) and expr.name in per_pair):
        return None, f"it delivers `{a.target} += {expr}`, not a weight", a.origin
    return expr.name, a.target[len("post."):], a.origin


def _connection(model: ModelIR, net: NetworkIR, c: int, conn: ConnectionIR, approximate: bool
                ) -> tuple[NativeChoice | None, str, list[Diagnostic]]:
    syn = model.synapses[conn.synapse]
    where = conn.origin
    pops = {p.name: p for p in net.populations}
    delay, natural = delays(conn)
    plastic = syn.plastic
    weight, var, origin = _weight_of(syn)
    if weight is None:
        return None, var, [_note(
            "L711", f"connection `{conn.name}` ({syn.name}) is not a Dense projection: {var}", origin or where,
            "Loihi's Dense adds its weight w into the target at every presynaptic spike (`on pre: post.X += w`, "
            "in every phase); graded, conditional or phase-restricted deliveries run in a custom process")]
    if conn.connectivity not in ("dense", "one_to_one") or (conn.connectivity == "one_to_one" and plastic):
        return None, f"{conn.connectivity} connectivity", [_note(
            "L711", f"connection `{conn.name}` is {conn.connectivity}" + (" and learns" if plastic else ""), where,
            "snnlang maps dense connections (and static one_to_one ones, as a diagonal Dense) onto Lava's "
            "Dense; a learning one_to_one connection would learn the off-diagonal zeros too")]
    if delay != 1:
        return None, "it delivers in the same step", [_note(
            "L711", f"connection `{conn.name}` delivers {delay} step(s) after the spike; Lava's Dense always "
            "delivers one step after it", where,
            f"add `delay 1` to `{conn.name}` to map it onto Lava's Dense (a same-step delivery on Loihi "
            "would arrive a step late)" if delay == 0 else "Loihi's axonal delays are not mapped by snnlang")]
    if net.schedule is not None:
        off = [ph.name for ph in net.schedule.phases if ph.active is not None and conn.name not in ph.active]
        if off:
            return None, f"the schedule switches it off in {', '.join(off)}", [_note(
                "L711", f"connection `{conn.name}` is inactive in phase {off[0]}", where,
                "Loihi's Dense transmits in every step; keep it active in every phase (plasticity can still be "
                "switched by `plastic`)")]
    values = param_values(syn.of_kind("param"), dict(conn.params), net.dt)
    src, tgt = pops[conn.source], pops[conn.target]
    fan_in = float(src.size) if conn.connectivity == "dense" else 1.0
    init = dict(conn.init).get(weight, next(v.init for v in syn.vars if v.name == weight))
    bounds = init_range(init, values, fan_in, float(tgt.size))
    if bounds is None:
        return None, "its initial weights have no computable range", [_note(
            "L715", f"the initial weights of `{conn.name}` have no computable range", where,
            "use constants, uniform(), kaiming_uniform() or xavier_uniform() in `init`")]
    absmax = max(abs(bounds[0]), abs(bounds[1]))
    pre_reads, post_reads = peer_reads(conn, syn)
    extra = [f"pre.{n}" for n in pre_reads if n != conn.source_event] + [f"post.{n}" for n in post_reads
                                                                           if n != "spike"]
    if not plastic and extra:
        return None, f"it reads `{extra[0]}`", [_note(
            "L711", f"connection `{conn.name}` reads `{extra[0]}`", where,
            "Loihi's synapses see only the spikes of their two neurons")]
    if not plastic:
        choice = NativeChoice("dense", "Dense", "static weights delivered one step after the spike")
        sign = "EXCITATORY" if bounds[0] >= 0 else ("INHIBITORY" if bounds[1] <= 0 else "MIXED")
        for tag in TAGS:
            if tag == "floating_pt":
                s_w = 1.0
            else:
                s_w = (absmax / (254.0 if sign == "MIXED" else 255.0)) if absmax > 0 else 1.0
            choice.weight_scales[tag] = s_w
            choice.gains[tag] = s_w
        choice.table_data = {"kind": "dense", "weight": weight, "var": var, "sign_mode": sign,
                             "scales": dict(choice.weight_scales), "traces": {}, "tag": None}
        return choice, choice.reason, []
    rule, misfits = translate(conn, syn, weight, values, net.dt)
    if rule is None:
        diags = [_note("L712", f"the plasticity of `{conn.name}` ({syn.name}) is not a Loihi learning rule: "
                       f"{m.message}", m.origin or where, m.hint) for m in misfits]
        return None, f"its plasticity is not a Loihi rule ({misfits[0].message})", diags
    diags = []
    if rule.approximations:
        for m in rule.approximations:
            diags.append(_note("L714", f"`{conn.name}` on Loihi: {m.message}", m.origin or where, m.hint,
                               Severity.WARNING if approximate else Severity.NOTE))
        if not approximate:
            return None, "Loihi would only approximate its rule (approximate=True accepts that)", diags
    choice = NativeChoice("learning_dense", "LearningDense (Loihi2FLearningRule)",
                          "plasticity is a Loihi sum-of-products rule", rule=rule)
    for tag in TAGS:
        conv, bad = convert(rule, tag, absmax)
        if conv is None:
            diags += [_note("L713", f"`{conn.name}`: {m.message}", m.origin or where, m.hint) for m in bad]
            return None, f"a coefficient is not m * 2^e under {tag}", diags
        choice.conversions[tag] = conv
        choice.gains[tag] = conv.weight_scale
        choice.weight_scales[tag] = conv.weight_scale
    choice.table_data = {
        "kind": "learning_dense", "weight": weight, "var": var, "sign_mode": rule.sign_mode, "tag": rule.tag,
        "scales": dict(choice.weight_scales),
        "tag_scales": {t: c.tag_scale for t, c in choice.conversions.items()},
        "traces": {tr.name: (tr.lava, {t: c.trace_scales[tr.lava] for t, c in choice.conversions.items()})
                   for tr in rule.traces},
        "rules": {t: c.rule_kwargs(0) for t, c in choice.conversions.items()},
        "seed_offset": c,
    }
    return choice, choice.reason, diags


# --------------------------------------------------------------------------- populations


def _population(model: ModelIR, net: NetworkIR, pop, port: str | None) -> tuple[LifFit | None, list[Diagnostic]]:
    neuron = model.neurons[pop.neuron]
    values = param_values(neuron.of_kind("param"), dict(pop.params), net.dt)
    fit, bad = fit_lif(neuron, values, port)
    if fit is None:
        return None, [_note("L710", f"population `{pop.name}` ({neuron.name}) is not Loihi's LIF: {bad.message}",
                            bad.origin or pop.origin, bad.hint)]
    return fit, []


def choose_natives(model: ModelIR, net: NetworkIR, options: dict
                   ) -> tuple[dict[str, NativeChoice], dict[str, str], list[Diagnostic]]:
    """(native owners, a reason per owner, diagnostics) for `net`."""
    reasons: dict[str, str] = {}
    diags: list[Diagnostic] = []
    natives: dict[str, NativeChoice] = {}
    mode = options.get("native", "auto")
    for p in net.populations:
        if p.kind != "neuron":
            reasons[p.name] = "encoders draw from snnlang's counter-based RNG (no Loihi block does)"
    if mode == "off":
        for p in net.populations:
            reasons.setdefault(p.name, "native mapping switched off (native='off')")
        for c in net.connections:
            reasons[c.name] = "native mapping switched off (native='off')"
        return {}, reasons, []
    approximate = bool(options.get("approximate", False))
    for c, conn in enumerate(net.connections):
        choice, why, found = _connection(model, net, c, conn, approximate)
        diags += found
        reasons[conn.name] = why
        if choice is not None:
            natives[conn.name] = choice
    # populations: LIF fits, then consistency with their connections (iterated to a fixed point)
    fits: dict[str, LifFit] = {}
    for p in net.populations:
        if p.kind != "neuron":
            continue
        incoming = [c for c in net.connections if c.target == p.name]
        ports = {d[2] for c in incoming for d in delivery_list(model.synapses[c.synapse])}
        if len(ports) > 1:
            reasons[p.name] = f"its synapses deliver into {len(ports)} variables"
            diags.append(_note("L710", f"population `{p.name}` receives into {', '.join(sorted(ports))}",
                               p.origin, "Loihi's LIF has one synaptic input"))
            continue
        fit, found = _population(model, net, p, next(iter(ports)) if ports else None)
        diags += found
        if fit is None:
            reasons[p.name] = found[0].message.split(": ", 1)[-1] if found else "not Loihi's LIF"
            continue
        fits[p.name] = fit
    changed = True
    while changed:
        changed = False
        for name in list(fits):
            why = _lif_blocker(model, net, name, natives, fits[name])
            if why:
                reasons[name] = why
                diags.append(_note("L710", f"population `{name}` fits Loihi's LIF but stays custom: {why}",
                                   net.population(name).origin, ""))
                del fits[name]
                changed = True
    for name, fit in fits.items():
        choice = NativeChoice("lif", "LIF", "its dynamics are Loihi's LIF", lif=fit)
        incoming = [c for c in net.connections if c.target == name]
        for tag in TAGS:
            s_w = natives[incoming[0].name].weight_scales[tag] if incoming else 1.0
            sigma = fit.gain * s_w if tag == "floating_pt" else fit.gain * s_w / 64.0
            config, bad = lif_config(fit, tag, sigma)
            if config is None:
                reasons[name] = bad.message
                diags.append(_note("L715", f"population `{name}` under {tag}: {bad.message}",
                                   net.population(name).origin, bad.hint))
                choice = None
                break
            choice.lif_configs[tag] = config
        if choice is None:
            continue
        neuron = model.neurons[net.population(name).neuron]
        choice.table_data = {
            "kind": "lif", "size": net.population(name).size, "v": fit.v, "u": fit.u, "kappa": fit.kappa,
            "tags": {t: {"du": cfg.du, "dv": cfg.dv, "vth": cfg.vth, "bias_mant": cfg.bias_mant,
                         "bias_exp": cfg.bias_exp, "sigma": cfg.sigma} for t, cfg in choice.lif_configs.items()},
            "vars": [v.name for v in neuron.vars if v.kind != "param"],
        }
        natives[name] = choice
        reasons[name] = choice.reason
    for name, choice in natives.items():
        if choice.kind != "lif":
            conn = next(c for c in net.connections if c.name == name)
            target = natives.get(conn.target)
            if target is not None:
                choice.table_data["into_lif"] = {t: target.lif_configs[t].sigma for t in TAGS}
    if mode == "require":
        diags = [Diagnostic(Severity.ERROR, d.code, d.message, d.span, d.hints) if d.severity is Severity.NOTE
                 else d for d in diags]
    return natives, reasons, diags


def _lif_blocker(model: ModelIR, net: NetworkIR, name: str, natives: dict, fit: LifFit) -> str | None:
    """Why a population that fits LIF cannot be native in this network (None: it can)."""
    for c in net.connections:
        if c.target == name and c.name not in natives:
            return f"the custom connection `{c.name}` delivers into it"
        if c.source == name and c.source_event != "spike":
            return f"`{c.name}` reads its event `{c.source_event}`"
        if name in (c.source, c.target) and c.name not in natives:
            pre, post = peer_reads(c, model.synapses[c.synapse])
            reads = pre if c.source == name else post
            if any(r != "spike" for r in reads):
                return f"`{c.name}` reads more than its spikes"
    incoming = [natives[c.name] for c in net.connections if c.target == name]
    for tag in TAGS:
        scales = {round(math.log2(ch.weight_scales[tag]), 9) for ch in incoming}
        if len(scales) > 1:
            return f"its native inputs use different weight scales under {tag}"
    if net.readout is not None or net.metrics:
        used = set()
        for expr in [net.readout, *[e for _, e in net.metrics]]:
            if expr is not None:
                used |= {str(s) for s in sympy.sympify(expr).free_symbols}
        bad = [u for u in used if u.startswith(name + ".") and u not in (f"{name}.spike", f"{name}.{fit.v}")
               and (fit.u is None or u != f"{name}.{fit.u}")]
        if bad:
            return f"the network reads `{bad[0]}`"
    return None


def native_param_handler(model: ModelIR, network: str, options: dict):
    """set_param on a native owner: Loihi's configuration was derived from the old value. The
    weights, scales and rule strings would all change; say so instead of changing silently."""
    def handler(exe, owner: str, name: str, value: float) -> None:
        from . import BuildError
        raise BuildError(f"`{owner}.{name}` is compiled into the native Loihi configuration of `{owner}` "
                         "(its scales or learning rule); compile again with the new value, or build "
                         "with native='off' to keep it a runtime parameter")
    return handler
