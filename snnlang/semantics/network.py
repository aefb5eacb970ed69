"""Checks of a `network` block: populations, encoders, connections, readout, schedule."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from snnlang.diagnostics import Diagnostic, Span, did_you_mean, error, warning
from snnlang.semantics import builtins as B
from snnlang.semantics.definitions import CheckedDefinition, SynapseChecker, _uses_units, _walk_members
from snnlang.semantics.expressions import ExprChecker
from snnlang.semantics.symbols import FLOAT, INT, UNKNOWN, Info, NeuronScope, PeerBinding
from snnlang.semantics.units import DIMENSIONLESS, FREQUENCY, TIME, UNITS, describe
from snnlang.syntax import ast as A

# `dt` of a unit network without `timestep` (0.1 ms, as Brian2 and NEST default to); lowering
# uses this one, so the checker judges delays and durations in the steps the IR will have
DEFAULT_UNIT_DT = 1e-4
# A time step outside these bounds is a typo or a unit slip (`1e999 ms`, `1 ks`), not a model:
# exp(-dt/tau) of every ODE would be 0 or 1, and durations would round to 0 or ~1e300 steps.
DT_RANGE_UNITS = (1e-12, 1e3)       # seconds
DT_RANGE_UNIT_FREE = (1e-12, 1e12)  # multiples of one step
# Constants fold as floats, which count whole numbers exactly only up to 2^53: a size or step
# count beyond that is not even the number written, and no machine could hold or run it.
MAX_COUNT = 2 ** 53


@dataclass
class PopInfo:
    name: str
    kind: str                       # population | input | label
    size: int | None
    span: Span
    scope: NeuronScope | None = None
    node: object = None


@dataclass
class ConnInfo:
    name: str | None
    source: str
    target: str
    synapse: str
    node: A.Connect
    plastic: bool = False


@dataclass
class CheckedNetwork:
    node: A.NetworkDef
    params: dict[str, Info] = field(default_factory=dict)
    populations: dict[str, PopInfo] = field(default_factory=dict)
    connections: list[ConnInfo] = field(default_factory=list)
    phases: list[str] = field(default_factory=list)
    unit_free: bool = True
    # spans of phase lengths and delays that are times (not step counts): lowering divides
    # exactly these by dt, whatever their spelling (`phase train(T)` with `param T = 50 ms`)
    durations: set[Span] = field(default_factory=set)


class NetworkChecker:
    def __init__(self, node: A.NetworkDef, neurons: dict[str, CheckedDefinition],
                 synapses: dict[str, SynapseChecker], diags: list[Diagnostic]) -> None:
        self.node = node
        self.neurons = neurons
        self.synapses = synapses
        self.diags = diags
        self.out = CheckedNetwork(node)
        self.out.unit_free = not _uses_units(node)
        self.time_dim = DIMENSIONLESS if self.out.unit_free else TIME
        self.conn_names: dict[str, ConnInfo] = {}
        self.metrics: set[str] = set()
        self.names: dict[str, Span] = {}
        self.consts = ExprChecker(self._lookup_const, B.NET, diags, "network")
        self.exprs = ExprChecker(self._lookup_value, B.NET, diags, "network")

    # ------------------------------------------------------------------ driver
    def run(self) -> CheckedNetwork:
        members = self.node.members
        for m in members:
            if isinstance(m, A.ParamDecl):
                self._param(m)
        self._time_step(members)
        for m in members:
            if isinstance(m, A.InputPop):
                self._input(m)
            elif isinstance(m, A.LabelPop):
                self._label(m)
            elif isinstance(m, A.Population):
                self._population(m)
        for m in members:
            if isinstance(m, A.Connect) and m.name is not None:
                self._declare(m.name, m.name_span)
        for m in members:
            if isinstance(m, A.Connect):
                self._connect(m)
        for m in members:
            if isinstance(m, A.Readout):
                self.exprs.infer(m.expr)
            elif isinstance(m, A.Metric):
                self._declare(m.name, m.name_span)
                self.exprs.infer(m.expr)
                self.metrics.add(m.name)
            elif isinstance(m, A.Simulate):
                info = self.consts.infer(m.duration)
                self.consts.expect_dim(info, self.time_dim, m.duration.span,
                                       "the simulated duration", "E305")
                self._simulated(info, m.duration)
        schedules = [m for m in members if isinstance(m, A.Schedule)]
        for extra in schedules[1:]:
            self.diags.append(error("E603", "a network has at most one schedule", extra.span))
        if schedules:
            self._schedule(schedules[0])
        self._phase_references(schedules[0] if schedules else None)
        self._unused()
        return self.out

    def _declare(self, name: str, span: Span) -> bool:
        prior = self.names.get(name)
        if prior is not None:
            self.diags.append(error("E201", f"`{name}` is already defined in network `{self.node.name}` "
                                    f"(first at line {prior.line})", span))
            return False
        self.names[name] = span
        return True

    # ------------------------------------------------------------------ lookups
    def _lookup_const(self, name: A.Name) -> Info | None:
        if len(name.parts) == 1 and name.parts[0] in self.out.params:
            return self.out.params[name.parts[0]]
        if len(name.parts) == 1 and name.parts[0] in UNITS:
            scale, dim = UNITS[name.parts[0]]
            return Info(dim, FLOAT, scale)
        self.diags.append(error("E404", f"`{name.dotted}` is not a constant here", name.span,
                                did_you_mean(name.dotted, self.out.params) or
                                "use numbers and network parameters"))
        return None

    def _lookup_value(self, name: A.Name) -> Info | None:
        parts = name.parts
        if len(parts) == 1:
            if parts[0] in self.out.params:
                return self.out.params[parts[0]]
            if parts[0] in self.metrics:
                return Info(DIMENSIONLESS, FLOAT)
            if parts[0] in self.out.populations or parts[0] in self.conn_names:
                self.diags.append(error("E200", f"`{parts[0]}` is not a value", name.span,
                                        f"read one of its variables, e.g. `{parts[0]}.NAME`"))
                return None
            if parts[0] in UNITS:
                scale, dim = UNITS[parts[0]]
                return Info(dim, FLOAT, scale)
            self.diags.append(error("E200", f"unknown name `{parts[0]}`", name.span,
                                    did_you_mean(parts[0], list(self.names))))
            return None
        head, rest = parts[0], parts[1:]
        if head in self.out.populations:
            pop = self.out.populations[head]
            if pop.scope is None:
                if rest == ("spike",):
                    return Info(DIMENSIONLESS, FLOAT)
                self.diags.append(error("E200", f"{pop.kind} `{head}` has only `spike`", name.span))
                return None
            scope = pop.scope
            sym = scope.member(rest[0], rest[1]) if len(rest) == 2 and rest[0] in scope.compartments \
                else (scope.symbols.get(rest[0]) if len(rest) == 1 else None)
            if sym is None:
                self.diags.append(error("E200", f"neuron `{scope.name}` of `{head}` has no "
                                        f"`{'.'.join(rest)}`", name.span, did_you_mean(rest[-1], scope.symbols)))
                return None
            return Info(sym.dim or DIMENSIONLESS, sym.type, unknown=sym.dim_unknown)
        if head in self.conn_names:
            conn = self.conn_names[head]
            syn = self.synapses.get(conn.synapse)
            if syn is None:
                return UNKNOWN
            sym = syn.symbols.get(rest[0]) if len(rest) == 1 else None
            if sym is None:
                self.diags.append(error("E200", f"synapse `{conn.synapse}` of `{head}` has no "
                                        f"`{'.'.join(rest)}`", name.span, did_you_mean(rest[-1], syn.symbols)))
                return None
            return Info(sym.dim or DIMENSIONLESS, sym.type, unknown=sym.dim_unknown)
        self.diags.append(error("E211", f"unknown population or connection `{head}`", name.span,
                                did_you_mean(head, list(self.out.populations) + list(self.conn_names))))
        return None

    # ------------------------------------------------------------- time and steps
    def _time_step(self, members) -> None:
        """`dt` as lowering picks it (the last `timestep` or `simulate ... at dt`), checked before
        the rest because delays, durations and rates are judged in steps. `self.dt` is None when
        a step is wrong, so nothing else reports a follow-on error about it."""
        self.dt: float | None = 1.0 if self.out.unit_free else DEFAULT_UNIT_DT
        for m in members:
            expr = m.dt if isinstance(m, (A.Timestep, A.Simulate)) else None
            if expr is None:
                continue
            info = self.consts.infer(expr)
            self.consts.expect_dim(info, self.time_dim, expr.span, "the time step", "E305")
            if info.unknown or info.const is None or info.dim != self.time_dim:
                self.dt = None      # already reported (E305, E404, or a constant that is not finite)
                continue
            lo, hi = DT_RANGE_UNIT_FREE if self.out.unit_free else DT_RANGE_UNITS
            if info.const <= 0:
                self.diags.append(error("E608", f"the time step must be positive, but it is "
                                        f"{self._show_time(info.const)}", expr.span,
                                        "e.g. `timestep 0.1 ms`" if not self.out.unit_free else
                                        "a unit-free network counts in steps of 1: leave `timestep` out"))
                self.dt = None
            elif not lo <= info.const <= hi:
                self.diags.append(error("E608", f"a time step of {self._show_time(info.const)} is not "
                                        f"plausible: it must lie between {self._show_time(lo)} and "
                                        f"{self._show_time(hi)}", expr.span,
                                        "simulation steps are usually 0.01 ms to 1 ms" if not self.out.unit_free
                                        else ""))
                self.dt = None
            else:
                self.dt = info.const

    def _show_time(self, value: float) -> str:
        return f"{value:g}" if self.out.unit_free else f"{value:g} s"

    def _steps_of(self, info, expr: A.Expr) -> float | None:
        """A duration or step count as steps (unrounded), recording which it was for lowering;
        None when unknown (already reported) or when it depends on a time step that is wrong."""
        if info.unknown or info.const is None:
            return None
        if self.time_dim == TIME and info.dim == TIME:
            self.out.durations.add(expr.span)
            return None if self.dt is None else info.const / self.dt
        return info.const if info.dim.is_dimensionless else None

    def _simulated(self, info, expr: A.Expr) -> None:
        """`simulate DURATION`: at least one step, and a number of steps that can be counted."""
        if info.unknown or info.const is None or info.dim != self.time_dim:
            return
        if info.const <= 0:
            self.diags.append(error("E609", f"the simulated duration must be positive, but it is "
                                    f"{self._show_time(info.const)}", expr.span,
                                    "`snnc run --steps N` overrides it for one run"))
            return
        if self.dt is None:
            return
        steps = info.const / self.dt      # lowering divides even a unit-free duration by dt
        if not math.isfinite(steps) or steps > MAX_COUNT:     # 1e308 ms / 0.1 ms overflows to inf
            self.diags.append(error("E609", f"the simulated duration is {steps:.3g} steps; at most 2^53 "
                                    "steps can be counted", expr.span, "check the unit and the time step"))
        elif round(steps) < 1:
            self.diags.append(error("E609", f"the simulated duration {self._show_time(info.const)} is "
                                    f"shorter than one time step ({self._show_time(self.dt)})", expr.span))

    # ------------------------------------------------------------------ members
    def _param(self, m: A.ParamDecl) -> None:
        if not self._declare(m.name, m.name_span):
            return
        info = self.consts.infer(m.value)
        self.out.params[m.name] = info

    def _size(self, call: A.Call, what: str) -> int | None:
        if not call.args:
            self.diags.append(error("E600", f"{what} needs a size as its first argument", call.span,
                                    f"e.g. `{call.func}(100)`"))
            return None
        info = self.consts.infer(call.args[0])
        if info.unknown:
            return None
        value = info.const
        if value is None or value != int(value) or value < 1 or not info.dim.is_dimensionless:
            self.diags.append(error("E600", "a population size must be a positive whole number",
                                    call.args[0].span))
            return None
        if value > MAX_COUNT:
            self.diags.append(error("E600", f"a population of {value:.3g} neurons is beyond any machine: "
                                    "a size is at most 2^53", call.args[0].span))
            return None
        return int(value)

    def _input(self, m: A.InputPop) -> None:
        if not self._declare(m.name, m.name_span):
            return
        enc = B.ENCODERS.get(m.encoder.func)
        size = None
        if enc is None:
            self.diags.append(error("E604", f"unknown encoder `{m.encoder.func}`", m.encoder.func_span,
                                    did_you_mean(m.encoder.func, B.ENCODERS) or
                                    "encoders: " + ", ".join(B.ENCODERS)))
        else:
            size = self._size(m.encoder, "an input")
            self._encoder_args(m.encoder, enc)
        self.out.populations[m.name] = PopInfo(m.name, "input", size, m.name_span, None, m)

    def _label(self, m: A.LabelPop) -> None:
        if not self._declare(m.name, m.name_span):
            return
        enc = B.LABEL_ENCODERS.get(m.encoder.func)
        size = None
        if enc is None:
            self.diags.append(error("E604", f"unknown label encoder `{m.encoder.func}`", m.encoder.func_span,
                                    "labels use `onehot(CLASSES)`"))
        else:
            size = self._size(m.encoder, "a label")
            self._encoder_args(m.encoder, enc)
        self.out.populations[m.name] = PopInfo(m.name, "label", size, m.name_span, None, m)

    def _encoder_args(self, call: A.Call, enc: B.Encoder) -> None:
        for extra in call.args[1:]:
            self.diags.append(error("E206", f"`{call.func}` takes one positional argument (the size)",
                                    extra.span, "name the others, e.g. `rate = 15 Hz`"))
        for kw in call.kwargs:
            if kw.name not in enc.kwargs:
                self.diags.append(error("E207", f"`{call.func}` has no option `{kw.name}`", kw.span,
                                        did_you_mean(kw.name, enc.kwargs) or
                                        f"options: {', '.join(sorted(enc.kwargs)) or 'none'}"))
                continue
            info = self.consts.infer(kw.value)
            if kw.name == "rate":
                want = DIMENSIONLESS if self.out.unit_free else FREQUENCY
                self.consts.expect_dim(info, want, kw.value.span, "`rate`")
                if not info.unknown and info.dim == want and info.const is not None:
                    self._rate(info.const, kw.value)
            elif kw.name == "window":
                if not info.unknown and info.dim not in (DIMENSIONLESS, TIME):
                    self.diags.append(error("E305", "`window` must be a time or a number of steps",
                                            kw.value.span))
                elif not info.unknown and info.const is not None and info.const <= 0:
                    self.diags.append(error("E610", f"`window` must be positive, but it is "
                                            f"{info.const:g}", kw.value.span))
            else:
                self.consts.expect_dim(info, DIMENSIONLESS, kw.value.span, f"`{kw.name}`", "E302")
                if info.unknown or info.const is None or not info.dim.is_dimensionless:
                    continue
                if kw.name == "p" and not 0 <= info.const <= 1:
                    self.diags.append(error("E610", f"a spike probability must be in [0, 1], but it is "
                                            f"{info.const:g}", kw.value.span))
                elif kw.name == "gain" and info.const < 0:
                    self.diags.append(error("E610", f"`gain` scales intensities into spike probabilities; "
                                            f"it cannot be negative ({info.const:g})", kw.value.span))

    def _rate(self, rate: float, expr: A.Expr) -> None:
        """A data-free rate: not negative, and at most one spike per step (rate * dt is the
        probability of a spike in a step; above 1 the source would just fire every step)."""
        unit = "" if self.out.unit_free else " Hz"
        if rate < 0:
            self.diags.append(error("E610", f"a rate cannot be negative ({rate:g}{unit})", expr.span))
            return
        per_step = rate if self.out.unit_free else (None if self.dt is None else rate * self.dt)
        if per_step is not None and per_step > 1:
            limit = "1 (a spike every step)" if self.out.unit_free else \
                f"1/dt = {1 / self.dt:g} Hz (a spike every step)"
            self.diags.append(error("E610", f"a rate of {rate:g}{unit} is more than {limit}", expr.span,
                                    "in a unit-free network `rate` is the probability of a spike per step"
                                    if self.out.unit_free else "check the unit (`15 Hz`, not `15 MHz`)"))

    def _population(self, m: A.Population) -> None:
        if not self._declare(m.name, m.name_span):
            return
        neuron = self.neurons.get(m.neuron.func)
        size = self._size(m.neuron, "a population")
        scope = None
        if neuron is None:
            hint = did_you_mean(m.neuron.func, self.neurons)
            if m.neuron.func in self.synapses:
                hint = f"`{m.neuron.func}` is a synapse; populations are made of neurons"
            self.diags.append(error("E202", f"unknown neuron type `{m.neuron.func}`", m.neuron.func_span,
                                    hint))
        else:
            scope = neuron.scope
            for extra in m.neuron.args[1:]:
                self.diags.append(error("E206", "a population takes one positional argument (the size)",
                                        extra.span, "override parameters by name: `theta = 0.4`"))
            values = self._overrides(m.neuron.kwargs, scope.symbols, f"neuron `{scope.name}`")
            self._refractory_overrides(neuron, values)
            for opt in m.options:
                self._store(opt, scope.symbols, f"neuron `{scope.name}`", tied=set())
        self.out.populations[m.name] = PopInfo(m.name, "population", size, m.name_span, scope, m)

    def _overrides(self, kwargs, symbols, owner: str) -> dict[str, tuple[Info, A.Keyword]]:
        """Check parameter overrides; returns each valid one's value by parameter name."""
        values: dict[str, tuple[Info, A.Keyword]] = {}
        for kw in kwargs:
            sym = symbols.get(kw.name)
            if sym is None or sym.kind != "param":
                params = [s.name for s in symbols.values() if s.kind == "param"]
                self.diags.append(error("E212", f"{owner} has no parameter `{kw.name}`", kw.span,
                                        did_you_mean(kw.name, params)))
                continue
            info = self.consts.infer(kw.value)
            if sym.dim is not None and not sym.dim_unknown and not info.unknown and info.dim != sym.dim:
                self.diags.append(error("E300", f"`{kw.name}` is {describe(sym.dim)} but this value is "
                                        f"{describe(info.dim)}", kw.value.span))
            else:
                values[kw.name] = (info, kw)
        return values

    def _refractory_overrides(self, neuron: CheckedDefinition, values: dict[str, tuple[Info, A.Keyword]]) -> None:
        """A population's value for a parameter that is its neuron's refractory period cannot be
        negative either (E405, as for a constant period)."""
        for member, _comp, _phases in _walk_members(neuron.node.members):
            period = member.period if isinstance(member, A.RefractoryDecl) else None
            if not (isinstance(period, A.Name) and len(period.parts) == 1 and period.parts[0] in values):
                continue
            info, kw = values[period.parts[0]]
            if not info.unknown and info.const is not None and info.const < 0:
                unit = "" if info.dim.is_dimensionless else " s"
                self.diags.append(error("E405", f"`{kw.name}` is the refractory period of neuron "
                                        f"`{neuron.node.name}` and cannot be negative ({info.const:g}{unit})",
                                        kw.value.span))

    # -------------------------------------------------------------- connections
    def _endpoint(self, ref: A.Name, role: str) -> tuple[PopInfo | None, str | None]:
        head = ref.parts[0]
        pop = self.out.populations.get(head)
        if pop is None:
            self.diags.append(error("E211", f"unknown population `{head}`", ref.span,
                                    did_you_mean(head, self.out.populations)))
            return None, None
        if len(ref.parts) > 2:
            self.diags.append(error("E601", f"`{ref.dotted}`: an endpoint is `pop` or `pop.{'event' if role == 'source' else 'compartment'}`",
                                    ref.span))
            return None, None
        sub = ref.parts[1] if len(ref.parts) == 2 else None
        if role == "target":
            if pop.kind != "population":
                self.diags.append(error("E601", f"`{head}` is an {pop.kind}; it cannot receive connections",
                                        ref.span, "connect into a population of neurons"))
                return None, None
            if sub is not None and pop.scope is not None and sub not in pop.scope.compartments:
                self.diags.append(error("E203", f"neuron `{pop.scope.name}` has no compartment `{sub}`",
                                        ref.span, did_you_mean(sub, pop.scope.compartments)))
                return None, None
        elif sub is not None:
            events = ["spike"] if pop.scope is None else pop.scope.events()
            if sub not in events:
                owner = pop.scope.name if pop.scope else pop.kind
                self.diags.append(error("E204", f"`{sub}` is not an event of `{owner}`", ref.span,
                                        did_you_mean(sub, events) or f"its events: {', '.join(events)}"))
                return None, None
        return pop, sub

    def _connect(self, m: A.Connect) -> None:
        src, _event = self._endpoint(m.source, "source")
        dst, compartment = self._endpoint(m.target, "target")
        syn = self.synapses.get(m.synapse)
        if syn is None:
            hint = did_you_mean(m.synapse, self.synapses)
            if m.synapse in self.neurons:
                hint = f"`{m.synapse}` is a neuron; `with` names a synapse type"
            self.diags.append(error("E202", f"unknown synapse type `{m.synapse}`", m.synapse_span, hint))
        conn = ConnInfo(m.name, src.name if src else "?", dst.name if dst else "?", m.synapse, m,
                        bool(syn and syn.scope.plastic_states))
        self.out.connections.append(conn)
        if m.name is not None:
            self.conn_names[m.name] = conn
        connectivity = m.args[0] if m.args else None
        for extra in m.args[1:]:
            self.diags.append(error("E206", "only the connectivity is positional", extra.span,
                                    "override synapse parameters by name"))
        for opt in m.options:
            if isinstance(opt, A.ConnOption) and opt.kind == "connectivity":
                if connectivity is not None:
                    self.diags.append(error("E201", "connectivity is given twice", opt.span))
                connectivity = opt.value
        self._connectivity(connectivity, src, dst)
        if syn is None:
            return
        self._overrides(m.kwargs, syn.symbols, f"synapse `{m.synapse}`")
        overrides = [o for o in m.options if isinstance(o, A.ParamDecl)]
        for o in overrides:
            self._overrides([A.Keyword(o.name, o.value, o.span)], syn.symbols, f"synapse `{m.synapse}`")
        # a population whose neuron type is unknown (already reported, E202) has no scope:
        # binding it would make every `pre.X`/`post.X` a follow-on error
        unresolved = any(p is not None and p.kind == "population" and p.scope is None for p in (src, dst))
        if src is not None and dst is not None and not unresolved:
            syn.check(PeerBinding(src.scope, None, src.kind), PeerBinding(dst.scope, compartment, dst.kind))
        for opt in m.options:
            if not isinstance(opt, A.ConnOption):
                continue
            if opt.kind == "init":
                self._init(opt, syn, src, dst)
            elif opt.kind == "tie":
                self._tie(opt, syn, src, dst)
            elif opt.kind == "delay":
                info = self.consts.infer(opt.value)
                if not info.unknown and info.dim not in (DIMENSIONLESS, TIME):
                    self.diags.append(error("E305", "a delay is a time or a number of steps", opt.value.span))
                else:
                    self._delay(info, opt.value)
        tied = {o.var for o in m.options if isinstance(o, A.ConnOption) and o.kind == "tie"}
        for opt in m.options:
            if isinstance(opt, A.StoreOption):
                self._store(opt, syn.symbols, f"synapse `{m.synapse}`", tied)

    def _delay(self, info, expr: A.Expr) -> None:
        """A delay: a time, or a whole number of steps; never negative (a delivery cannot
        arrive before the spike that sends it)."""
        if info.unknown or info.const is None:
            return
        is_time = info.dim == TIME and self.time_dim == TIME
        if info.const < 0:
            what = f"{info.const:g} s" if is_time else f"{info.const:g} steps"
            self.diags.append(error("E611", f"a delay cannot be negative ({what})", expr.span))
            return
        steps = self._steps_of(info, expr)
        if steps is None:
            return
        if not is_time and steps != int(steps):
            self.diags.append(error("E611", f"a delay in steps must be a whole number, not {steps:g}",
                                    expr.span, "or give it as a time, e.g. `delay 1.5 ms`"
                                    if not self.out.unit_free else ""))
        elif steps > MAX_COUNT:
            self.diags.append(error("E611", f"a delay of {steps:.3g} steps is beyond any run: at most "
                                    "2^53 steps", expr.span))

    def _store(self, opt: A.StoreOption, symbols, owner: str, tied: set[str]) -> None:
        """`store x as TYPE`: x must be a state or trace of this population's neuron or this
        connection's synapse; a tied state has no storage of its own."""
        from snnlang.semantics.types import resolve_type
        vtype, dim = resolve_type(opt.type, self.diags, UNITS.get)
        seen: set[str] = set()
        for name, span in zip(opt.names, opt.name_spans):
            sym = symbols.get(name)
            if name in seen:
                self.diags.append(error("E201", f"`{name}` is listed twice", span))
            seen.add(name)
            if sym is None or sym.kind not in ("state", "trace"):
                values = [s.name for s in symbols.values() if s.kind in ("state", "trace")]
                what = f"a {sym.kind}, which has no per-element storage" if sym is not None else "unknown"
                self.diags.append(error("E607", f"{owner} has no state or trace `{name}` ({what})", span,
                                        did_you_mean(name, values) or "`store` changes how a state or "
                                        "trace is kept, e.g. `store w as fixed<8, scale = 2^-6>`"))
            elif name in tied:
                self.diags.append(error("E607", f"`{name}` is tied to another connection's state and "
                                        "has no storage of its own", span,
                                        "give the type to the connection it is tied to"))
            elif dim is not None and sym.dim is not None and not sym.dim_unknown and dim != sym.dim:
                self.diags.append(error("E300", f"`{name}` is {describe(sym.dim)} but the type is "
                                        f"{describe(dim)}", opt.type.span if hasattr(opt.type, "span")
                                        else span))

    def _connectivity(self, expr, src: PopInfo | None, dst: PopInfo | None) -> None:
        if expr is None:
            return
        if isinstance(expr, A.Name) and len(expr.parts) == 1:
            kind, kwargs, span = expr.parts[0], (), expr.span
        elif isinstance(expr, A.Call):
            kind, kwargs, span = expr.func, expr.kwargs, expr.func_span
            for extra in expr.args:
                self.diags.append(error("E605", "name the connectivity's arguments, e.g. `sparse(p = 0.1)`",
                                        extra.span))
        else:
            self.diags.append(error("E605", "connectivity must be dense, all_to_all, one_to_one or "
                                    "sparse(p = ...)", expr.span))
            return
        allowed = B.CONNECTIVITIES.get(kind)
        if allowed is None:
            self.diags.append(error("E605", f"unknown connectivity `{kind}`", span,
                                    did_you_mean(kind, B.CONNECTIVITIES) or
                                    "connectivities: " + ", ".join(B.CONNECTIVITIES)))
            return
        for kw in kwargs:
            if kw.name not in allowed:
                self.diags.append(error("E207", f"`{kind}` has no option `{kw.name}`", kw.span))
                continue
            info = self.consts.infer(kw.value)
            if kw.name == "p" and not info.unknown and (info.const is None or not 0 < info.const <= 1):
                self.diags.append(error("E605", "connection probability `p` must be in (0, 1]",
                                        kw.value.span))
        if kind == "sparse" and not any(kw.name == "p" for kw in kwargs):
            self.diags.append(error("E605", "`sparse` needs a connection probability", span,
                                    "e.g. `sparse(p = 0.02)`"))
        if kind == "one_to_one" and src and dst and src.size and dst.size and src.size != dst.size:
            self.diags.append(error("E605", f"`one_to_one` needs equal sizes, but `{src.name}` has "
                                    f"{src.size} and `{dst.name}` has {dst.size}", span))

    def _init(self, opt: A.ConnOption, syn: SynapseChecker, src, dst) -> None:
        sym = syn.symbols.get(opt.var)
        if sym is None or sym.kind != "state":
            states = [s.name for s in syn.symbols.values() if s.kind == "state"]
            self.diags.append(error("E212", f"synapse `{syn.node.name}` has no state `{opt.var}` to "
                                    "initialise", opt.span, did_you_mean(opt.var, states)))
            return
        local = {"fan_in": Info(DIMENSIONLESS, INT), "fan_out": Info(DIMENSIONLESS, INT)}
        for s in syn.symbols.values():
            if s.kind == "param":
                local[s.name] = Info(s.dim or DIMENSIONLESS, s.type)
        init = ExprChecker(self._lookup_const, B.INIT, self.diags, "init", local)
        info = init.infer(opt.value)
        if sym.dim is not None and not sym.dim_unknown and not info.unknown and info.dim != sym.dim \
                and info.const != 0:
            self.diags.append(error("E300", f"`{opt.var}` is {describe(sym.dim)} but its initial value is "
                                    f"{describe(info.dim)}", opt.value.span))

    def _tie(self, opt: A.ConnOption, syn: SynapseChecker, src, dst) -> None:
        sym = syn.symbols.get(opt.var)
        if sym is None or sym.kind != "state":
            self.diags.append(error("E602", f"synapse `{syn.node.name}` has no state `{opt.var}` to tie",
                                    opt.span))
            return
        expr, transposed = opt.value, False
        if isinstance(expr, A.Call) and expr.func == "transpose" and len(expr.args) == 1:
            expr, transposed = expr.args[0], True
        if not (isinstance(expr, A.Name) and len(expr.parts) == 2):
            self.diags.append(error("E602", "a tie names another connection's state, e.g. "
                                    "`tie w = transpose(W2.w)`", opt.value.span))
            return
        other = self.conn_names.get(expr.parts[0])
        if other is None:
            self.diags.append(error("E211", f"unknown connection `{expr.parts[0]}`", expr.span,
                                    did_you_mean(expr.parts[0], self.conn_names) or
                                    "only named connections (`connect NAME: ...`) can be tied to"))
            return
        other_syn = self.synapses.get(other.synapse)
        if other_syn is not None and expr.parts[1] not in other_syn.symbols:
            self.diags.append(error("E602", f"synapse `{other.synapse}` has no state `{expr.parts[1]}`",
                                    expr.span))
            return
        if src is None or dst is None:
            return
        want = (other.target, other.source) if transposed else (other.source, other.target)
        have = (src.name, dst.name)
        sizes = lambda a, b: (self.out.populations[a].size, self.out.populations[b].size) \
            if a in self.out.populations and b in self.out.populations else None
        if sizes(*want) != sizes(*have):
            self.diags.append(error("E602", f"tie shape mismatch: this connection is "
                                    f"{have[0]} -> {have[1]} but `{opt.value and expr.parts[0]}` "
                                    f"{'transposed ' if transposed else ''}is {want[0]} -> {want[1]}",
                                    opt.value.span, "use `transpose(...)` for a feedback matrix"
                                    if not transposed else ""))

    # ----------------------------------------------------------------- schedule
    def _schedule(self, sched: A.Schedule) -> None:
        phase_names: dict[str, Span] = {}
        selectable = set(self.out.populations) | set(self.conn_names)
        for ph in sched.phases:
            if ph.name in phase_names:
                self.diags.append(error("E201", f"phase `{ph.name}` is defined twice", ph.name_span))
            phase_names[ph.name] = ph.name_span
            info = self.consts.infer(ph.steps)
            if not info.unknown:
                steps = info.const
                if info.dim == self.time_dim and self.time_dim == TIME:
                    self._phase_duration(info, ph.steps)
                elif steps is None or steps != int(steps) or steps < 1 or not info.dim.is_dimensionless:
                    self.diags.append(error("E603", "a phase length must be a positive whole number of "
                                            "steps (or a duration)", ph.steps.span))
                elif steps > MAX_COUNT:
                    self.diags.append(error("E603", f"a phase of {steps:.3g} steps is beyond any run: at "
                                            "most 2^53 steps", ph.steps.span))
            if ph.every is not None:
                info = self.consts.infer(ph.every)
                if not info.unknown and (info.const is None or info.const != int(info.const) or info.const < 1):
                    self.diags.append(error("E603", "`every N samples` needs a positive whole number",
                                            ph.every.span))
            seen_kinds: set[str] = set()
            for st in ph.stmts:
                if st.kind in seen_kinds:
                    self.diags.append(error("E603", f"`{st.kind}` appears twice in phase `{ph.name}`",
                                            st.span, "list all names on one line"))
                seen_kinds.add(st.kind)
                for name, span in zip(st.names, st.name_spans):
                    if name not in selectable:
                        self.diags.append(error("E211", f"unknown population or connection `{name}`", span,
                                                did_you_mean(name, selectable)))
                    elif st.kind == "plastic" and name not in self.conn_names:
                        self.diags.append(error("E603", f"`{name}` is a population; `plastic` lists "
                                                "connections", span))
                    elif st.kind == "plastic" and not self.conn_names[name].plastic:
                        self.diags.append(warning("W601", f"connection `{name}` has no plasticity to enable",
                                                  span, f"synapse `{self.conn_names[name].synapse}` never "
                                                  "changes its state"))
        self.out.phases = list(phase_names)
        if sched.infer is not None:
            for name, span in zip(sched.infer.phases, sched.infer.phase_spans):
                if name not in phase_names:
                    self.diags.append(error("E209", f"unknown phase `{name}`", span,
                                            did_you_mean(name, phase_names)))
        if sched.batch is not None and sched.batch.mode not in B.BATCH_MODES:
            self.diags.append(error("E215", f"batch reduction must be `sum` or `mean`, not "
                                    f"`{sched.batch.mode}`", sched.batch.span))
        if not sched.phases:
            self.diags.append(error("E603", "a schedule needs at least one phase", sched.span))
        plastic_named = {n for ph in sched.phases for st in ph.stmts if st.kind == "plastic"
                         for n in st.names}
        for conn in self.out.connections:
            if conn.plastic and (conn.name is None or conn.name not in plastic_named):
                label = f"`{conn.name}`" if conn.name else f"{conn.source} -> {conn.target}"
                self.diags.append(warning("W601", f"connection {label} is plastic but no phase enables "
                                          "its plasticity", conn.node.span,
                                          "list it in a phase's `plastic` line" if conn.name else
                                          "name it (`connect NAME: ...`) and list it in a `plastic` line"))

    def _phase_duration(self, info, expr: A.Expr) -> None:
        """A phase length given as a time: positive, and at least one step once divided by dt."""
        if info.const is None:
            return
        if info.const <= 0:
            self.diags.append(error("E603", f"a phase must last a positive time, not {info.const:g} s",
                                    expr.span))
            return
        steps = self._steps_of(info, expr)
        if steps is None:
            return
        if round(steps) < 1:
            self.diags.append(error("E603", f"a phase of {info.const:g} s is shorter than one time step "
                                    f"({self.dt:g} s), so it would run for no step", expr.span))
        elif steps > MAX_COUNT:
            self.diags.append(error("E603", f"a phase of {steps:.3g} steps is beyond any run: at most 2^53 "
                                    "steps", expr.span, "check the unit and the time step"))

    def _phase_references(self, sched: A.Schedule | None) -> None:
        phases = {ph.name for ph in sched.phases} if sched else set()
        used = {p.scope.name for p in self.out.populations.values() if p.scope is not None}
        used_defs = [self.neurons[n] for n in used if n in self.neurons]
        used_defs += [self.synapses[c.synapse] for c in self.out.connections if c.synapse in self.synapses]
        seen: set[tuple[str, int, int]] = set()
        for d in used_defs:
            for ref in d.phase_refs:
                key = (ref.span.file, ref.span.line, ref.span.col)
                if ref.phase in phases or key in seen:
                    continue
                seen.add(key)
                near = did_you_mean(ref.phase, phases)
                if near:   # a phase of this network misspelt
                    self.diags.append(error("E209", f"unknown phase `{ref.phase}`: network "
                                            f"`{self.node.name}` has no such phase", ref.span, near))
                else:      # code for a phase this network does not run (a reused type): it never runs
                    self.diags.append(warning("W603", f"network `{self.node.name}` has no phase "
                                              f"`{ref.phase}`, so this code never runs in it", ref.span,
                                              ("its phases: " + ", ".join(sorted(phases))) if phases
                                              else "the network has no schedule"))

    def _unused(self) -> None:
        touched = {c.source for c in self.out.connections} | {c.target for c in self.out.connections}
        for pop in self.out.populations.values():
            if pop.name not in touched and len(self.out.populations) > 1:
                self.diags.append(warning("W600", f"{pop.kind} `{pop.name}` is never connected", pop.span))
