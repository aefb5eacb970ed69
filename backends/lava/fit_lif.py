"""Does a neuron population behave exactly like Loihi's LIF?  (lava.proc.lif, both tags)

Loihi's LIF, per step:   u <- (1 - du) u + a_in;   v <- (1 - dv) v + u + bias;
                         spike = v > vth;  v <- 0 where it spiked.
A neuron fits when its IR is that map up to constant factors: either two states
    u <- alpha * u + gamma * I           (I: the input synapses deliver into)
    v <- beta * v + kappa * u + b        (reading this step's u)
or one state  v <- beta * v + gamma * I + b  (Loihi's u then holds just the input: du = 1),
with `spike when v > theta: v = 0` and nothing else (no other event, trace, phase, refractory
mask or compartment-level extra). Discrete updates and single-variable ODE blocks both qualify;
the coefficients may be any expressions of parameters and dt (evaluated at build). Lava's
states are then  U = kappa * u / sigma,  V = v / sigma  for a voltage scale sigma (fixed.py's
conversion picks it from the weights that drive the neuron), and an input d reaches U as
kappa * gamma * d: that factor is the neuron's input gain.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from snnlang.ir.model import NeuronIR, OdeBlock, Update

from .rules import Misfit


@dataclass(frozen=True)
class LifFit:
    v: str                 # the model's voltage state
    u: str | None          # the model's current state (None: one-state form, du = 1)
    port: str              # what incoming synapses deliver into (an input port or a state)
    alpha: float           # u decay factor (0 in the one-state form)
    beta: float            # v decay factor
    gain: float            # kappa * gamma: d(U) per unit delivered
    kappa: float           # U = kappa * u
    bias: float            # b
    theta: float           # threshold


def _value(expr, values: dict[str, float]) -> float | None:
    expr = sympy.sympify(expr)
    if any(str(s) not in values for s in expr.free_symbols) or expr.atoms(sympy.Function) - expr.atoms(sympy.exp):
        return None
    try:
        return float(expr.xreplace({sympy.Symbol(k): sympy.Float(v) for k, v in values.items()}))
    except (TypeError, ValueError):
        return None


def _linear(expr, variables: list[str], values: dict[str, float]) -> dict[str, float] | None:
    """expr = sum_k c_k * variables[k] + c_0 with constant c's: {name: c, "": c_0}, else None."""
    expr = sympy.expand(sympy.sympify(expr))
    out = {}
    rest = expr
    for name in variables:
        s = sympy.Symbol(name)
        c = sympy.diff(expr, s)
        if any(str(x) in variables for x in c.free_symbols):
            return None
        value = _value(c, values)
        if value is None:
            return None
        out[name] = value
        rest = rest - c * s
    rest = sympy.simplify(rest)
    if any(str(x) in variables for x in rest.free_symbols):
        return None
    value = _value(rest, values)
    if value is None:
        return None
    out[""] = value
    return out


def fit_lif(neuron: NeuronIR, values: dict[str, float], port: str | None) -> tuple[LifFit | None, Misfit | None]:
    """The LIF form of `neuron` (parameter values `values`, incl. dt), or why it has none."""
    def no(msg: str, origin=None, hint: str = "Loihi's LIF is u <- (1 - du) u + input; v <- (1 - dv) v + u + "
           "bias; spike when v > vth, then v = 0") -> tuple[None, Misfit]:
        return None, Misfit(msg, origin, hint)

    if neuron.traces:
        tr = neuron.traces[0]
        return no(f"neuron {neuron.name} keeps the trace `{tr.name}`", tr.origin,
                  "Loihi's LIF has no neuron trace; a trace of the synapse (x/y traces) or a custom "
                  "process can keep it")
    if neuron.hooks:
        return no(f"neuron {neuron.name} has phase hooks", neuron.hooks[0].origin)
    events = neuron.of_kind("event")
    if [e.name for e in events] != ["spike"]:
        return no(f"neuron {neuron.name} has the events {', '.join(e.name for e in events) or 'none'}",
                  events[0].origin if events else None, "Loihi's LIF has exactly one event, its spike")
    hidden = neuron.of_kind("hidden")
    if hidden:
        return no(f"neuron {neuron.name} needs the hidden state `{hidden[0].name}` (e.g. a refractory counter)",
                  hidden[0].origin, "Lava's LIFRefractory is not mapped by snnlang; drop `refractory` to map onto LIF")
    states = [v.name for v in neuron.of_kind("state")]
    ports = [v.name for v in neuron.of_kind("input")]
    updates: list[tuple[str, sympy.Expr, object]] = []
    for op in neuron.program:
        if op.phases:
            return no(f"`{neuron.name}` updates only during {', '.join(op.phases)}", op.origin,
                      "Loihi's LIF runs in every step")
        if op.mask is not None:
            return no(f"an update of `{neuron.name}` is held by a condition (e.g. refractoriness)", op.origin)
        if isinstance(op, Update):
            updates.append((op.var, op.expr, op.origin))
        elif isinstance(op, OdeBlock) and len(op.updates) == 1:
            updates.append((op.updates[0][0], op.updates[0][1], op.origin))
        else:
            return no("an ODE system updates several variables at once", op.origin,
                      "Loihi's LIF updates v from this step's u: integrate them as separate updates")
    ev = neuron.events[0]
    if ev.phases:
        return no("the spike is phase-dependent", ev.origin)
    cond = ev.cond
    if type(cond).__name__ != "Gt" or not isinstance(cond.args[0], sympy.Symbol):
        return no(f"the spike condition is `{cond}`, not `v > threshold`", ev.origin)
    v = cond.args[0].name
    theta = _value(cond.args[1], values)
    if theta is None or v not in states:
        return no("the spike threshold is not a constant", ev.origin)
    if len(ev.body) != 1 or ev.body[0].target != v or ev.body[0].op != "=" or ev.body[0].expr != 0:
        return no("the reset is not `v = 0`", ev.origin,
                  "Loihi's LIF resets v to 0 (a model with another reset can be shifted: measure v from it)")
    if port is None:
        port = ports[0] if len(ports) == 1 else None
    if port is None:
        return no(f"neuron {neuron.name} has {len(ports)} input ports", None,
                  "Loihi's LIF has one synaptic input")
    by_var = {var: (expr, origin) for var, expr, origin in updates}
    if len(by_var) != len(updates) or set(by_var) != set(states):
        return no(f"neuron {neuron.name} has the states {', '.join(states)} and updates "
                  f"{', '.join(u[0] for u in updates)}", None)
    if len(states) == 1:
        expr, origin = by_var[v]
        inputs = [port] if port not in states else []
        lin = _linear(expr, [v] + inputs, values)
        if lin is None:
            return no(f"`{v} <- {expr}` is not linear with constant coefficients", origin)
        gain = lin.get(port, 0.0) if port != v else lin[v]
        if port == v:   # deliveries add into v itself before the step: v <- beta (v + d) + b
            gain = lin[v]
        if gain == 0:
            return no("the input does not reach v", origin)
        return LifFit(v, None, port, 0.0, lin[v], gain, 1.0, lin[""], theta), None
    if len(states) != 2 or [u[0] for u in updates][-1] != v:
        return no(f"neuron {neuron.name} has {len(states)} states", None,
                  "Loihi's LIF has a current u updated before a voltage v")
    u = next(s for s in states if s != v)
    expr_u, origin_u = by_var[u]
    inputs = [port] if port not in states else []
    lin_u = _linear(expr_u, [u] + inputs, values)
    if lin_u is None or lin_u[""] != 0.0:
        return no(f"`{u} <- {expr_u}` is not `alpha * {u} + gamma * input`", origin_u)
    gamma = lin_u[u] if port == u else lin_u.get(port, 0.0)
    if gamma == 0:
        return no(f"the input does not reach `{u}`", origin_u)
    expr_v, origin_v = by_var[v]
    lin_v = _linear(expr_v, [v, u], values)
    if lin_v is None or lin_v[u] == 0:
        return no(f"`{v} <- {expr_v}` is not `beta * {v} + kappa * {u} + bias`", origin_v)
    if port == v:
        return no("the synapses deliver into v, not into the current", origin_v)
    return LifFit(v, u, port, lin_u[u], lin_v[v], lin_v[u] * gamma, lin_v[u], lin_v[""], theta), None


@dataclass(frozen=True)
class LifConfig:
    """Lava LIF arguments for one tag, and how its states map back to the model."""

    du: float
    dv: float
    vth: float
    bias_mant: float
    bias_exp: int
    sigma: float           # model volts (v) per Lava unit of V
    notes: tuple[str, ...] = ()


DECAY_UNITY = 4096


def lif_config(fit: LifFit, tag: str, sigma: float) -> tuple[LifConfig | None, Misfit | None]:
    """Loihi's LIF parameters for `fit` with the voltage scale `sigma` (model units per V unit)."""
    du_float = 1.0 - fit.alpha if fit.u is not None else 1.0
    dv_float = 1.0 - fit.beta
    if tag == "floating_pt":
        return LifConfig(du_float, dv_float, fit.theta / sigma, fit.bias / sigma, 0, sigma), None
    # fixed_pt: u <- u * (4096 - (du + 1)) >> 12 ; v <- v * (4096 - dv) >> 12 (12-bit decays)
    du = DECAY_UNITY - 1 - round(fit.alpha * DECAY_UNITY) if fit.u is not None else DECAY_UNITY - 1
    dv = DECAY_UNITY - round(fit.beta * DECAY_UNITY)
    if not 0 <= du <= 4095 or not 0 <= dv <= 4095:
        return None, Misfit(f"the decays (u x{fit.alpha:g}, v x{fit.beta:g}) do not fit Loihi's 12-bit du/dv",
                            None, "fixed_pt LIF keeps u * (4095 - du) / 4096 and v * (4096 - dv) / 4096 "
                            "per step: u must decay a little, v keep something")
    vth = round(fit.theta / (64 * sigma))
    if not 1 <= vth < 2 ** 17:
        return None, Misfit(f"the threshold {fit.theta:g} is {fit.theta / (64 * sigma):g} steps of 2^6 LSB, outside "
                            "Loihi's 17-bit vth", None, "scale the weights and the threshold together")
    b = fit.bias / sigma
    exp = 0
    while abs(b) / 2 ** exp > 4095 and exp < 7:
        exp += 1
    notes = (f"du = {du} (u keeps {(4095 - du) / 4096:.6f} per step, model {fit.alpha:.6f})" if fit.u else "du = 4095",
             f"dv = {dv} (v keeps {(4096 - dv) / 4096:.6f} per step, model {fit.beta:.6f})",
             f"vth = {vth} x 2^6 LSB = {vth * 64 * sigma:.6g} (model {fit.theta:.6g})")
    return LifConfig(du, dv, vth, round(b / 2 ** exp), exp, sigma, notes), None
