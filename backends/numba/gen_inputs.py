"""Input and label populations: this step's spikes from data or noise (docs/_ir_notes.md, encoders).

An input/label population at index k of `NetworkIR.populations` draws from stream
`rng.encoder_stream(k)` at the global step with index b * size + i:
  poisson / bernoulli   spike = u < p,  p = gain * x; with `rate = R`: R * dt (unit network) or R;
                        with `p = P`: P
  regular               a += gain * x; spike = a >= 1 - 1e-9; a -= spike
  latency               x > 0 spikes once, at phase step floor((1 - x) * (W - 1))
  events                data (batch, frames, size): spike = frame[k] > 0 while k < frames
  onehot (label)        the class neuron spikes every step (with `rate`: where u < p)
An inactive population emits no spikes (its accumulator is held). `k` is the step in the phase.
"""

from __future__ import annotations

from snnlang.ir import rng

from ..codegen import source_text
from .code import Code, Kernel, decorator
from .plan import Plan, PopPlan

REGULAR_THRESHOLD = 1 - 1e-9


def data_kind(pop: PopPlan) -> str:
    """How the population's data array looks: labels (batch,) int64, events (batch, frames, size),
    intensities (batch, size)."""
    if pop.kind == "label":
        return "labels"
    if pop.ir.encoder == "events":
        return "events"
    return "intensities"


def needs_data(pop: PopPlan) -> bool:
    options = dict(pop.ir.encoder_options)
    return {"poisson": "rate", "bernoulli": "p"}.get(pop.ir.encoder) not in options


def steps_of(value: float, dt: float, unit_free: bool) -> int:
    """A length option (`window`) in steps (as the reference: whole numbers >= 1 are steps)."""
    if unit_free or (value == int(value) and value >= 1):
        return int(round(value))
    return int(round(value / dt))


def encoder_kernel(plan: Plan, pop: PopPlan) -> Kernel:
    net = plan.net
    options = dict(pop.ir.encoder_options)
    enc = pop.ir.encoder
    spike = "spike"
    params = [(x, ("ctx", x)) for x in ("active", "step", "k", "phase_steps", "seed")]
    params += [("stream", ("lit", str(rng.encoder_stream(pop.index)))), ("spike", ("array", pop.states["spike"].arg))]
    if "accumulator" in pop.states:
        params.append(("acc", ("array", pop.states["accumulator"].arg)))
    params.append(("data", ("array", f"data_{pop.name}")))
    if "rate" in options:
        p = options["rate"] if net.unit_free else options["rate"] * net.dt
        prob = repr(float(p))
    elif "p" in options:
        prob = repr(float(options["p"]))
    else:
        prob = f"{float(options.get('gain', 1.0))!r} * data[_b, _i]"
    code = Code()
    code.line(decorator("encode"))
    with code.block(f"def __KERNEL__({', '.join(p for p, _ in params)}):"):
        shown = ", ".join(f"{k}={v!r}" for k, v in pop.ir.encoder_options)
        code.line(f'"""{source_text(f"{pop.kind.capitalize()} encoder {enc}({shown})")}: this step\'s spikes."""')
        code.line(f"_B, _N = {spike}.shape")
        with code.block("if not active:"):
            code.line(f"{spike}[:, :] = 0.0")
            code.line("return")
        code.line("key = _key(seed, stream, step)")
        with code.block("for _b in range(_B):"):
            if pop.kind == "label":
                code.line("c = data[_b]")
                with code.block("for _i in range(_N):"):
                    fire = "_i == c"
                    if "rate" in options:
                        fire = f"_i == c and _uniform(key, _b * _N + _i) < {prob}"
                    code.line(f"{spike}[_b, _i] = 1.0 if {fire} else 0.0")
                return Kernel(f"encode_{enc}", code.text(), params)
            with code.block("for _i in range(_N):"):
                if enc in ("poisson", "bernoulli"):
                    code.line(f"{spike}[_b, _i] = 1.0 if _uniform(key, _b * _N + _i) < {prob} else 0.0")
                elif enc == "regular":
                    acc = "acc"
                    code.line(f"a = {acc}[_b, _i] + {float(options.get('gain', 1.0))!r} * data[_b, _i]")
                    code.line(f"fired = 1.0 if a >= {REGULAR_THRESHOLD!r} else 0.0")
                    code.line(f"{acc}[_b, _i] = a - fired")
                    code.line(f"{spike}[_b, _i] = fired")
                elif enc == "latency":
                    window = options.get("window")
                    w = "phase_steps" if window is None else str(steps_of(window, net.dt, net.unit_free))
                    code.line("x = data[_b, _i]")
                    code.line(f"when = numpy.floor((1.0 - x) * ({w} - 1))")
                    code.line(f"{spike}[_b, _i] = 1.0 if (x > 0 and when == k) else 0.0")
                elif enc == "events":
                    code.line(f"{spike}[_b, _i] = 1.0 if (k < data.shape[1] and data[_b, k, _i] > 0) else 0.0")
    return Kernel(f"encode_{enc}", code.text(), params)
