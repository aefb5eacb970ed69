"""Plasticity -> Loihi's sum of products: dependencies x0/y0/u0, factors x1, x2, y1..y3, w, t.

Loihi's learning engine updates a synaptic variable once per learning epoch (here every step,
t_epoch = 1) by  d = sum_i D_i * S_i * prod_j F_ij : a dependency D (x0: the presynaptic neuron
spiked, y0: the postsynaptic one did, u0: always), a scaling constant S = m * 2^e and factors
read from the synapse's own per-neuron traces (x1, x2 presynaptic; y1, y2, y3 postsynaptic),
its weight w, its tag t, or the other spike flag (anchors.md 1b).

`translate` rewrites the handlers of a synapse into that form with sympy, in *model units* (the
float-to-fixed conversion in fixed.py then picks the scales):
  * `on pre` learning gets the dependency x0, `on post` y0, `every step` u0;
  * each statement becomes an increment of its target (`w = max(w + e, 0)` -> e, bound 0:
    Loihi's excitatory sign mode); the weight is the variable the synapse delivers, a second
    per-pair state becomes the tag t (Loihi's eligibility variable);
  * each synapse trace maps to one Loihi trace (impulse = its increment, tau from its decay);
  * timing: a .snn handler reads a trace *before* this step's increment, Loihi's engine after
    it, so the rule reads  x_model = x1 - impulse * x0  (y likewise with y0): the expansion adds
    x0 * y0 products that remove the coincident-spike term exactly.
Whatever does not fit is a Misfit with the `.snn` span and what Loihi would need instead.
Approximations (exact only when two handlers do not fire in the same step) are returned
separately: they become warnings, and the caller accepts them only when asked to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import sympy

from snnlang.diagnostics import Span
from snnlang.ir import functions as F
from snnlang.ir.model import ConnectionIR, SynapseIR

from .printer import describe

PRE_TRACES = ("x1", "x2")
POST_TRACES = ("y1", "y2", "y3")
DEPENDENCIES = ("x0", "y0", "u0")
X0, Y0, U0 = (sympy.Symbol(n) for n in DEPENDENCIES)
W, T = sympy.Symbol("w"), sympy.Symbol("t")


@dataclass(frozen=True)
class Misfit:
    """Why a synapse is not a Loihi learning rule (becomes a diagnostic)."""

    message: str
    origin: Span | None
    hint: str


@dataclass(frozen=True)
class TraceMap:
    name: str                 # the synapse's trace
    side: str                 # pre | post
    lava: str                 # x1 | x2 | y1 | y2 | y3
    increment: float          # model units added per spike
    tau_steps: float          # decay time constant in steps (decay = exp(-1 / tau))
    origin: Span | None


@dataclass(frozen=True)
class Term:
    """One product, in model units: target += coefficient * dependency * prod(factors)."""

    target: str               # dw | dt
    dependency: str           # x0 | y0 | u0
    factors: tuple[str, ...]  # sorted; from x0 y0 x1 x2 y1 y2 y3 w t
    coefficient: float
    origins: tuple[Span, ...] = ()

    def describe(self) -> str:
        parts = [self.dependency, *self.factors]
        return f"{self.coefficient:.6g} * " + " * ".join(parts)


@dataclass
class RulePlan:
    weight: str                          # the synapse state that is Lava's `weights`
    tag: str | None                      # the synapse state that is Lava's tag t (tag_1)
    traces: tuple[TraceMap, ...]
    terms: tuple[Term, ...]
    sign_mode: str                       # MIXED | EXCITATORY | INHIBITORY
    approximations: list[Misfit] = field(default_factory=list)
    origins: dict = field(default_factory=dict)   # target -> spans of its statements

    def trace_of(self, lava: str) -> TraceMap | None:
        return next((t for t in self.traces if t.lava == lava), None)


def _evaluate(expr, values: dict[str, float]) -> float | None:
    """A parameter-only expression's value, or None when it reads something else."""
    expr = sympy.sympify(expr)
    if any(str(s) not in values for s in expr.free_symbols):
        return None
    try:
        return float(expr.xreplace({sympy.Symbol(k): sympy.Float(v) for k, v in values.items()}))
    except (TypeError, ValueError):
        return None


def _strip_bound(new: sympy.Expr, target: sympy.Symbol, origin) -> tuple[sympy.Expr, str | None, Misfit | None]:
    """`max(inner, 0)` -> (inner, "lower"), `min(inner, 0)` -> (inner, "upper0"), clip(inner, 0, inf)."""
    if isinstance(new, sympy.Max) and len(new.args) == 2:
        consts = [a for a in new.args if a.is_number]
        if len(consts) == 1 and float(consts[0]) == 0.0:
            return next(a for a in new.args if not a.is_number), "EXCITATORY", None
    if isinstance(new, sympy.Min) and len(new.args) == 2:
        consts = [a for a in new.args if a.is_number]
        if len(consts) == 1 and float(consts[0]) == 0.0:
            return next(a for a in new.args if not a.is_number), "INHIBITORY", None
    if isinstance(new, F.Clip):
        inner, lo, hi = new.args
        hint = ("Loihi bounds a weight only by its sign mode (>= 0 or <= 0) and, in fixed point, by the "
                "8-bit weight range; Lava's floating_pt model has no upper bound at all. Drop the upper "
                "bound (`max(w + ..., 0)`), or run this connection as a custom process")
        if lo.is_number and float(lo) == 0.0 and hi == sympy.oo:
            return inner, "EXCITATORY", None
        return new, None, Misfit(f"`{target}` is clipped to [{describe(lo)}, {describe(hi)}]", origin, hint)
    return new, None, None


def _combine(op: str, target: sympy.Symbol, expr: sympy.Expr) -> sympy.Expr:
    return {"=": expr, "+=": target + expr, "-=": target - expr, "*=": target * expr,
            "/=": target / expr}[op]


def _boolean_power(expr: sympy.Expr) -> sympy.Expr:
    """x0^k = x0, y0^k = y0 (spike flags are 0 or 1)."""
    return expr.replace(lambda e: isinstance(e, sympy.Pow) and e.base in (X0, Y0) and e.exp.is_Integer
                        and int(e.exp) >= 1, lambda e: e.base)


def map_traces(syn: SynapseIR, conn: ConnectionIR, values: dict[str, float], dt: float
               ) -> tuple[list[TraceMap], list[Misfit]]:
    """Each synapse trace -> one Loihi trace (x1, x2 presynaptic; y1..y3 postsynaptic)."""
    traces, misfits = [], []
    free = {"pre": list(PRE_TRACES), "post": list(POST_TRACES)}
    for tr in syn.traces:
        hint_shape = ("a Loihi trace decays exponentially (`tau` or `decay`) and jumps by a constant at "
                      "each spike of its own side (`on pre += c` / `on post += c`)")
        if tr.side not in ("pre", "post"):
            misfits.append(Misfit(f"trace `{tr.name}` is per connection (it reads both sides)", tr.origin,
                                  "Loihi keeps traces per neuron (x1, x2 presynaptic, y1..y3 postsynaptic); a "
                                  "per-pair quantity belongs in the tag t: make it a `state` updated by the "
                                  "handlers"))
            continue
        if tr.phases:
            misfits.append(Misfit(f"trace `{tr.name}` runs only during {', '.join(tr.phases)}", tr.origin,
                                  "Loihi's traces run in every step; drop the `during`"))
            continue
        if tr.kind not in ("tau", "decay") or tr.per_step is not None or tr.decay is None:
            misfits.append(Misfit(f"trace `{tr.name}` is a `{tr.kind}` trace", tr.origin, hint_shape))
            continue
        decay = _evaluate(tr.decay, values | {"dt": dt})
        if decay is None or not 0.0 < decay < 1.0:
            misfits.append(Misfit(f"trace `{tr.name}` decays by {describe(tr.decay)}, not a constant in (0, 1)",
                                  tr.origin, hint_shape))
            continue
        event = f"{tr.side}.spike"
        ons = [on for on in tr.on]
        if len(ons) != 1 or ons[0].event != event or ons[0].op != "+=":
            misfits.append(Misfit(f"trace `{tr.name}` does not jump at `{event}` only", tr.origin,
                                  f"Loihi's {'x' if tr.side == 'pre' else 'y'} traces jump at the "
                                  f"{tr.side}synaptic spike (the one this connection carries): `on {tr.side} += c`"))
            continue
        if tr.side == "pre" and conn.source_event != "spike":
            pass  # the Dense sees the source event as its spikes: x traces follow it
        inc = _evaluate(ons[0].expr, values | {"dt": dt})
        if inc is None or inc <= 0:
            misfits.append(Misfit(f"trace `{tr.name}` jumps by {describe(ons[0].expr)}, not a positive constant",
                                  tr.origin, "Loihi's trace impulses are positive constants"))
            continue
        if not free[tr.side]:
            n = len(PRE_TRACES) if tr.side == "pre" else len(POST_TRACES)
            misfits.append(Misfit(f"trace `{tr.name}` is one {tr.side}synaptic trace too many", tr.origin,
                                  f"Loihi has {n} {tr.side}synaptic traces per synapse "
                                  f"({', '.join(PRE_TRACES if tr.side == 'pre' else POST_TRACES)}); combine "
                                  "traces with the same time constant"))
            continue
        traces.append(TraceMap(tr.name, tr.side, free[tr.side].pop(0), inc, -1.0 / math.log(decay), tr.origin))
    return traces, misfits


def translate(conn: ConnectionIR, syn: SynapseIR, weight: str, values: dict[str, float], dt: float
              ) -> tuple[RulePlan | None, list[Misfit]]:
    """The synapse's plasticity as Loihi products in model units, or the reasons it is not one."""
    traces, misfits = map_traces(syn, conn, values, dt)
    by_name = {t.name: t for t in traces}
    per_pair = [v.name for v in syn.vars if v.kind == "state" and v.side not in ("pre", "post")]
    targets = []
    for h in syn.handlers:
        for a in h.learning:
            if a.target not in targets:
                targets.append(a.target)
    tag = None
    for name in targets:
        if name == weight:
            continue
        if name in per_pair and tag is None:
            tag = name
        else:
            misfits.append(Misfit(f"the synapse learns `{name}` besides `{weight}`" +
                                  (f" and `{tag}`" if tag else ""), syn.vars[[v.name for v in syn.vars].index(name)].origin
                                  if name in [v.name for v in syn.vars] else None,
                                  "Loihi's learning engine changes a synapse's weight w, its tag t and its delay d; "
                                  "a synapse may learn the weight and one more per-pair state (the tag)"))
    symbols = {weight: W}
    if tag is not None:
        symbols[tag] = T
    sign_modes = set()
    sums: dict[tuple, float] = {}
    origins: dict[tuple, list] = {}
    writers: dict[str, int] = {}
    reads_targets = False
    bounded = False
    stmt_origins: dict[str, list] = {}
    for h in syn.handlers:
        if not h.learning:
            continue
        where = h.origin
        if h.trigger == "pre" and h.event == "spike":
            dep = X0
        elif h.trigger == "post" and h.event == "spike":
            dep = Y0
        elif h.trigger == "step":
            dep = U0
        else:
            what = {"pre": f"on pre.{h.event}", "post": f"on post.{h.event}"}.get(h.trigger, f"at {h.trigger} of {h.event}")
            misfits.append(Misfit(f"learning `{what}`", where,
                                  "Loihi's learning products depend on the presynaptic spike this connection "
                                  "carries (x0), the postsynaptic neuron's spike (y0, its back-propagating "
                                  "spike) or every epoch (u0); another event needs a three-factor rule where the "
                                  "post neuron supplies it as y2 / y3"))
            continue
        if h.phases:
            misfits.append(Misfit(f"learning only during {', '.join(h.phases)}", where,
                                  "Loihi's learning rule runs in every epoch; phases can switch plasticity on and "
                                  "off (`plastic` in the schedule) instead"))
            continue
        for a in h.learning:
            if a.mask is not None:
                misfits.append(Misfit(f"`{a.target} {a.op} ...` is conditional (`if`)", a.origin,
                                      "a Loihi product cannot be switched by a condition other than its "
                                      "dependency; write the condition as a factor"))
                continue
            if a.target not in symbols:
                continue
            target = sympy.Symbol(a.target)
            new = _combine(a.op, target, sympy.sympify(a.expr))
            inner, mode, bad = _strip_bound(new, target, a.origin)
            if bad is not None:
                misfits.append(bad)
                continue
            if mode is not None:
                if a.target != weight:
                    misfits.append(Misfit(f"the tag `{a.target}` is bounded", a.origin,
                                          "Loihi bounds only the weight (by its sign mode)"))
                    continue
                sign_modes.add(mode)
                bounded = True
            elif a.target == weight:
                sign_modes.add("MIXED")
            increment = sympy.expand(inner - target)
            term_map, bad = _substitute(increment, symbols, by_name, values, dt, a.origin, syn)
            if bad is not None:
                misfits.append(bad)
                continue
            if term_map.free_symbols & {W, T}:
                reads_targets = True
            writers[a.target] = writers.get(a.target, 0) + 1
            stmt_origins.setdefault(a.target, []).append(a.origin)
            expanded = sympy.expand(_boolean_power(sympy.expand(dep * term_map)))
            for mono, coeff in _monomials(expanded).items():
                key = ("dw" if a.target == weight else "dt",) + _canonical(mono)
                sums[key] = sums.get(key, 0.0) + coeff
                origins.setdefault(key, []).append(a.origin)
    if len(sign_modes) > 1:
        misfits.append(Misfit(f"the handlers bound `{weight}` differently ({', '.join(sorted(sign_modes))})",
                              syn.handlers[0].origin if syn.handlers else None,
                              "Loihi has one sign mode per connection: bound every update the same way"))
    if misfits:
        return None, misfits
    plan = RulePlan(weight, tag, tuple(traces), (), (sign_modes.pop() if sign_modes else "MIXED"))
    terms = []
    for key in sorted(sums, key=lambda k: (k[0], DEPENDENCIES.index(k[1]), k[2])):
        coeff = sums[key]
        if coeff == 0.0:
            continue
        terms.append(Term(key[0], key[1], key[2], coeff, tuple(o for o in origins[key] if o is not None)))
    plan.terms = tuple(terms)
    plan.origins = stmt_origins
    several = [t for t, n in writers.items() if n > 1] + ([weight] if (weight in writers and tag in writers
                                                                      and reads_targets) else [])
    if several and reads_targets:
        plan.approximations.append(Misfit(
            f"several handlers change `{several[0]}` and read the synapse's own state", syn.handlers[0].origin,
            "in .snn a later handler of the same step sees the earlier one's change; Loihi evaluates every "
            "product from the values at the start of the epoch. They differ only when the handlers fire in "
            "the same step"))
    if bounded and writers.get(weight, 0) > 1:
        plan.approximations.append(Misfit(
            f"`{weight}` is bounded in each of {writers[weight]} handlers", syn.handlers[0].origin,
            "in .snn the bound applies after each handler; Loihi applies it once per epoch to the sum of the "
            "products. They differ only when the handlers fire in the same step next to the bound"))
    return plan, []


def _substitute(expr: sympy.Expr, symbols: dict, traces: dict[str, TraceMap], values: dict[str, float],
                dt: float, origin, syn: SynapseIR) -> tuple[sympy.Expr | None, Misfit | None]:
    """Model names -> Loihi symbols (a trace read in a handler: its value before this step's jump)."""
    for f in expr.atoms(sympy.Function):
        return None, Misfit(f"`{describe(f)}` is not a sum of products", origin,
                            "Loihi's learning rules are sums of products of traces, w, t and spike flags with "
                            "constant coefficients m * 2^e; functions and divisions need a custom process")
    mapping = {}
    for s in expr.free_symbols:
        name = s.name
        if name in symbols:
            mapping[s] = symbols[name]
        elif name in traces:
            tr = traces[name]
            dep = X0 if tr.side == "pre" else Y0
            mapping[s] = sympy.Symbol(tr.lava) - sympy.Float(tr.increment) * dep
        elif name == "pre.spike":
            mapping[s] = X0
        elif name == "post.spike":
            mapping[s] = Y0
        elif name in values:
            mapping[s] = sympy.Float(values[name])
        elif name == "dt":
            mapping[s] = sympy.Float(dt)
        elif name == "t":
            return None, Misfit("the rule reads the time `t`", origin,
                                "Loihi's learning engine has no clock; use a trace")
        elif name.startswith(("pre.", "post.")):
            peer, _, var = name.partition(".")
            return None, Misfit(f"the rule reads `{name}`, a variable of the {peer}synaptic neuron", origin,
                                "Loihi's learning engine sees only the synapse's traces (x1, x2 / y1..y3), w, t "
                                f"and the spike flags x0, y0: make `{var}` a trace of this synapse (`trace "
                                f"{var}: tau ... on {peer} += ...`), or use a three-factor rule in which the post "
                                "neuron supplies it as y2 / y3")
        else:
            return None, Misfit(f"the rule reads `{name}`", origin,
                                "Loihi's learning engine sees only traces, w, t and spike flags")
    out = sympy.expand(expr.xreplace(mapping))
    gens = [sympy.Symbol(n) for n in ("x0", "y0", "x1", "x2", "y1", "y2", "y3", "w", "t")]
    try:
        poly = sympy.Poly(out, *gens)
    except sympy.PolynomialError:
        return None, Misfit(f"`{describe(expr)}` is not a polynomial in the traces, w and t", origin,
                            "Loihi's products cannot divide by a variable")
    for coeff in poly.coeffs():
        if not coeff.is_number:
            return None, Misfit(f"`{describe(expr)}` has a non-constant coefficient", origin,
                                "Loihi's coefficients are constants m * 2^e")
    del syn
    return out, None


def _monomials(expr: sympy.Expr) -> dict[tuple[str, ...], float]:
    """{sorted factor names (with repeats): coefficient} of a polynomial."""
    out: dict[tuple[str, ...], float] = {}
    gens = [sympy.Symbol(n) for n in ("x0", "y0", "u0", "x1", "x2", "y1", "y2", "y3", "w", "t")]
    poly = sympy.Poly(expr, *gens)
    for powers, coeff in poly.terms():
        names = []
        for g, k in zip(gens, powers):
            names += [g.name] * int(k)
        out[tuple(names)] = out.get(tuple(names), 0.0) + float(coeff)
    return out


def _canonical(names: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """(dependency, factors): x0 if the product has it, else y0, else u0 (every epoch); with t_epoch = 1
    all three sample the traces at the same time, so the choice does not change the value."""
    names = [n for n in names if n != "u0"]
    for dep in ("x0", "y0"):
        if dep in names:
            names.remove(dep)
            rest = tuple(sorted(n for n in names if n != dep))
            return dep, rest
    return "u0", tuple(sorted(names))
