"""Code of one population's step, reset and hooks: neurons (their `NeuronIR`) and encoders.

A neuron population steps as backends/reference/neurons.py does, with every statement one
vectorised tensor expression over (batch, neurons):
  1. the program in order (an `Update` writes at once; an `OdeBlock` evaluates all its right-hand
     sides, then writes them); an op's `mask` selects the neurons it writes (`torch.where`);
  2. every event condition in written order, each flag set at once (later conditions see it);
     an event outside its phases does not fire; then the bodies of the events in written order;
  3. the traces; 4. the input ports are cleared.
Each event flag is kept twice: the 0/1 float state and a bool tensor that later masks and
triggers of the same step use without another comparison.

In BPTT mode (`mode == "bptt"`) the forward values are the same, but a spike condition that is a
comparison `a > b` (>=, <, <=) gets the surrogate derivative (ops.spike), and an additive update
masked by an event flag (`on spike += 1`, a subtractive reset) is written as `x + flag * e`,
so that gradients flow through the spikes into counts, traces and resets.

Encoders (backends/reference/encoders.py): poisson/bernoulli `u < p` in float64, regular
(accumulate, fire at 1 - 1e-9, subtract), latency, events, and the one-hot label.
"""

from __future__ import annotations

import sympy

from snnlang.ir import rng
from snnlang.ir.model import Assign, EventIR, OdeBlock, TraceIR, Update

from .code import Code
from .plan import BuildError, Plan, PopPlan, StatePlan
from .printer import POPULATION, STOCHASTIC, Context, PrintError, free_names, print_cond, print_expr, uses
from .scope import Scope, combine, phase_guard, write

REGULAR_THRESHOLD = 1 - 1e-9
REDUCTIONS = {"PopSum", "PopMean", "PopMax", "PopMin"}
SPIKE_COMPARISONS = {"Gt": (False, False), "Ge": (True, False), "Lt": (False, True), "Le": (True, True)}


def zeros(pop: PopPlan, scope: Scope, st: StatePlan | None = None, flag: bool = False) -> str:
    """A shared (batch, N) tensor of zeros (or False): the generated code never writes into it,
    so every cleared port and every event outside its phase can be the same tensor."""
    if st is not None and st.dtype is not None:
        return f"torch.zeros_like({st.local})"
    name = f"false{pop.size}" if flag else f"zeros{pop.size}"
    return scope.index(name, ("false" if flag else "zeros", pop.size))


def pop_index(pop: PopPlan, scope: Scope) -> str:
    """The hashed RNG indices b * N + i of a (batch, N) domain (also the rounding indices)."""
    return scope.index(f"n{pop.size}", ("pop", pop.size))


class NeuronCode:
    def __init__(self, plan: Plan, pop: PopPlan, mode: str) -> None:
        self.plan = plan
        self.pop = pop
        self.neuron = pop.neuron
        self.mode = mode
        for op in self.neuron.program:
            for var in ([op.var] if isinstance(op, Update) else [v for v, _ in op.updates]):
                self._writable(var)
        for ev in self.neuron.events:
            for a in ev.body:
                self._writable(a.target)
        for tr in self.neuron.traces:
            self._writable(tr.name)
            for on in tr.on:
                if pop.flag(on.event) is None:
                    raise BuildError(f"population {pop.name}: trace `{tr.name}` counts `{on.event}`, "
                                     "which is not an event of the neuron")
        for h in self.neuron.hooks:
            for a in h.body:
                self._writable(a.target)

    def _writable(self, name: str) -> None:
        if name not in self.pop.states:
            raise BuildError(f"population {self.pop.name}: writes `{name}`, which is not a variable of "
                             f"neuron {self.neuron.name}")

    # ------------------------------------------------------------ names

    def context(self, scope: Scope, flags: dict[str, str], what: str) -> Context:
        pop = self.pop

        def symbol(name: str) -> str:
            st = pop.states.get(name)
            if st is not None:
                return st.local
            if name in pop.params:
                return scope.param(pop.name, name)
            if name == "dt":
                return scope.dt()
            if name == "t":
                return scope.t()
            raise BuildError(f"population {pop.name}: {what} reads `{name}`, which is not defined there")

        def host(name: str) -> str:
            return "c[0]" if name == "dt" else f"c[{pop.params[name].slot}]"

        def draw(stream: int, dtype: str) -> str:
            return f"ops.uniform({scope.key(stream)}, {pop_index(pop, scope)}, {dtype})"

        def normal(stream: int) -> str:
            return (f"ops.normal({scope.key(2 * stream + 0x10000)}, {scope.key(2 * stream + 0x10001)}, "
                    f"{pop_index(pop, scope)}, DT)")

        def row_draw(stream: int) -> str:
            return f"ops.uniform({scope.key(stream)}, {scope.index('rows', ('rows',))}, torch.float64)"

        return Context(symbol=symbol, constant=lambda n: n in pop.params or n == "dt", host_symbol=host,
                       hoist=scope.hoist, draw=draw, normal=normal, row_draw=row_draw, flag=flags.get,
                       population=f"(B, {pop.size}), DT, {scope.device()}",
                       what=f"population {pop.name}: {what}")

    def _full(self, expr) -> bool:
        """Does `expr` already have the population's shape: it reads a state or draws per neuron
        outside a population reduction (popsum(v) is one value per row)?"""
        expr = sympy.sympify(expr)
        reductions = [f for f in expr.atoms(sympy.Function) if type(f).__name__ in REDUCTIONS]
        if reductions:
            expr = expr.xreplace({f: sympy.Symbol("_reduced") for f in reductions})
        return bool(free_names(expr) & set(self.pop.states)) or uses(expr, STOCHASTIC | POPULATION)

    def _value(self, scope: Scope, flags: dict, expr, what: str, like: str | None = None) -> str:
        try:
            code = print_expr(expr, self.context(scope, flags, what))
        except PrintError as exc:
            raise BuildError(str(exc)) from None
        if like is not None and not self._full(expr):
            return f"ops.full({code}, {like})"
        return code

    def _cond(self, scope: Scope, flags: dict, expr, what: str) -> str:
        try:
            return print_cond(expr, self.context(scope, flags, what))
        except PrintError as exc:
            raise BuildError(str(exc)) from None

    def _write(self, code: Code, scope: Scope, flags: dict, st: StatePlan, value: str, mask: str | None = None,
               origin=None) -> None:
        write(code, scope, st, st.local, value, pop_index(self.pop, scope) if st.fixed else None, mask, origin,
              ste=self.mode == "bptt")
        if st.var.kind == "event" and st.var.name in flags:   # a body that writes a flag: keep the bool right
            code.line(f"{flags[st.var.name]} = {st.local} != 0")

    def _additive_on_flag(self, flags: dict, op: str, mask) -> str | None:
        """In BPTT mode: the float flag of a `+=`/`-=` masked by exactly one event flag."""
        if self.mode != "bptt" or op not in ("+=", "-=") or not isinstance(mask, sympy.Symbol):
            return None
        st = self.pop.flag(mask.name)
        return st.local if st is not None else None

    def assign(self, code: Code, scope: Scope, flags: dict, a: Assign) -> None:
        st = self.pop.states[a.target]
        what = f"`{a.target} {a.op} ...`"
        flag = self._additive_on_flag(flags, a.op, a.mask)
        if flag is not None:
            value = self._value(scope, flags, a.expr, what)
            sign = "+" if a.op == "+=" else "-"
            self._write(code, scope, flags, st, f"{st.local} {sign} {flag} * ({value})", None, a.origin)
            return
        like = st.local if a.op == "=" and a.mask is None else None
        value = combine(a.op, st.local, self._value(scope, flags, a.expr, what, like))
        mask = None if a.mask is None else self._cond(scope, flags, a.mask, f"mask of {what}")
        self._write(code, scope, flags, st, value, mask, a.origin)

    # ------------------------------------------------------------ the step

    def emit_step(self, code: Code, scope: Scope, flags: dict[str, str]) -> None:
        pop, n = self.pop, self.neuron
        code.comment(f"population {pop.name} = {n.name}({pop.size})", pop.ir.origin)
        for op in n.program:
            with code.block(phase_guard(op.phases)):
                if isinstance(op, Update):
                    st = pop.states[op.var]
                    mask = None if op.mask is None else self._cond(scope, flags, op.mask, f"mask of `{op.var}`")
                    like = st.local if mask is None else None
                    value = self._value(scope, flags, op.expr, f"update of `{op.var}`", like)
                    self._write(code, scope, flags, st, value, mask, op.origin)
                elif isinstance(op, OdeBlock):
                    code.comment(f"{', '.join(v for v, _ in op.updates)} by {op.method}: {op.reason}", op.origin)
                    mask = None if op.mask is None else self._cond(scope, flags, op.mask, "mask of an ODE update")
                    temps = []
                    for var, e in op.updates:
                        tmp = scope.temp("n")
                        like = pop.states[var].local if mask is None else None
                        code.line(f"{tmp} = {self._value(scope, flags, e, f'ODE update of `{var}`', like)}", op.origin)
                        temps.append((var, tmp))
                    for var, tmp in temps:
                        self._write(code, scope, flags, pop.states[var], tmp, mask, op.origin)
                else:
                    raise BuildError(f"population {pop.name}: unknown program op {type(op).__name__}")
        for ev in n.events:
            self._condition(code, scope, flags, ev)
        for ev in n.events:
            if ev.body:
                with code.block(phase_guard(ev.phases)):
                    for a in ev.body:
                        self.assign(code, scope, flags, a)
        for tr in n.traces:
            with code.block(phase_guard(tr.phases)):
                self._trace(code, scope, flags, tr)
        for v in n.of_kind("input"):
            code.line(f"{pop.states[v.name].local} = {zeros(pop, scope, pop.states[v.name])}")

    def _condition(self, code: Code, scope: Scope, flags: dict, ev: EventIR) -> None:
        st = self.pop.states[ev.name]
        flag = f"{st.local}_b"
        guard = phase_guard(ev.phases)
        what = f"condition of `{ev.name}`"
        with code.block(guard):
            kind = type(ev.cond).__name__
            if self.mode == "bptt" and kind in SPIKE_COMPARISONS:
                inclusive, flipped = SPIKE_COMPARISONS[kind]
                lhs, rhs = ev.cond.args[::-1] if flipped else ev.cond.args
                a, b = scope.temp("a"), scope.temp("b")
                code.line(f"{a} = {self._value(scope, flags, lhs, what)}", ev.origin)
                code.line(f"{b} = {self._value(scope, flags, rhs, what)}")
                code.line(f"{flag} = {a} {'>=' if inclusive else '>'} {b}")
                surrogate = "G.surrogate"
                declared = self.pop.neuron.surrogate if ev.name == "spike" else None
                if declared is not None:     # the neuron's `surrogate KIND(width = W)`
                    width = self._value(scope, flags, declared[1], "the surrogate's width")
                    surrogate = f"G.surrogate.or_declared({declared[0]!r}, {width})"
                spike = f"ops.spike({a} - {b}, {surrogate}{', True' if inclusive else ''})"
                code.line(f"{st.local} = {spike}" if self._full(ev.cond) else f"{st.local} = ops.full({spike}, {st.local})")
            else:
                code.line(f"{flag} = {self._cond(scope, flags, ev.cond, what)}", ev.origin)
                code.line(f"{st.local} = {flag}.to(DT)" if self._full(ev.cond) else f"{st.local} = ops.full({flag}, {st.local})")
        if guard is not None:
            with code.block("else:"):
                code.line(f"{st.local} = {zeros(self.pop, scope, st)}")
                code.line(f"{flag} = {zeros(self.pop, scope, flag=True)}")
        flags[ev.name] = flag

    def _trace(self, code: Code, scope: Scope, flags: dict, tr: TraceIR) -> None:
        pop = self.pop
        st = pop.states[tr.name]
        x = st.local
        code.comment(f"trace {tr.name}: {tr.kind}", tr.origin)
        if tr.kind == "mean":
            count = pop.states[tr.count_var]
            arg = self._value(scope, flags, tr.per_step, f"argument of trace `{tr.name}`")
            self._write(code, scope, flags, st, f"{x} + (({arg}) - {x}) / ({count.local} + 1)", None, tr.origin)
            self._write(code, scope, flags, count, f"{count.local} + 1")
        elif tr.decay is not None or tr.per_step is not None:
            new = x
            if tr.decay is not None:
                new = f"({self._value(scope, flags, tr.decay, f'decay of trace `{tr.name}`')}) * {x}"
            if tr.per_step is not None:
                new = f"{new} + ({self._value(scope, flags, tr.per_step, f'argument of trace `{tr.name}`')})"
            self._write(code, scope, flags, st, new, None, tr.origin)
        for on in tr.on:
            self.assign(code, scope, flags, Assign(tr.name, on.op, on.expr, sympy.Symbol(on.event), tr.origin))

    # ------------------------------------------------------------ reset, hooks

    def emit_reset(self, code: Code, scope: Scope) -> None:
        """Every variable (states, ports, traces, event flags, hidden counters) back to `Var.init`."""
        flags: dict[str, str] = {}
        for v in self.neuron.vars:
            if v.kind == "param":
                continue
            st = self.pop.states[v.name]
            self._write(code, scope, flags, st,
                        self._value(scope, flags, v.init, f"initial value of `{v.name}`", st.local), None, v.origin)

    def emit_hook(self, code: Code, scope: Scope, edge: str, phase: str) -> bool:
        flags: dict[str, str] = {}
        found = False
        for h in self.neuron.hooks:
            if h.edge == edge and h.phase == phase:
                found = True
                for a in h.body:
                    self.assign(code, scope, flags, a)
        return found

    def hooks(self) -> set[tuple[str, str]]:
        return {(h.edge, h.phase) for h in self.neuron.hooks}


class InputCode:
    """An input or label population: this step's spikes from its data (or from noise)."""

    def __init__(self, plan: Plan, pop: PopPlan) -> None:
        self.plan = plan
        self.pop = pop
        self.options = dict(pop.ir.encoder_options)
        self.encoder = pop.ir.encoder

    @property
    def needs_data(self) -> bool:
        return {"poisson": "rate", "bernoulli": "p"}.get(self.encoder) not in self.options

    def _probability(self, data: str) -> str:
        if "rate" in self.options:
            rate = self.options["rate"]
            return repr(float(rate if self.plan.net.unit_free else rate * self.plan.net.dt))
        if "p" in self.options:
            return repr(float(self.options["p"]))
        return f"{float(self.options.get('gain', 1.0))!r} * {data}"

    def _window(self) -> str:
        window = self.options.get("window")
        if window is None:
            return "n_steps"
        unit_free = self.plan.net.unit_free
        if unit_free or (window == int(window) and window >= 1):
            return str(int(round(window)))
        return str(int(round(window / self.plan.net.dt)))

    def emit_step(self, code: Code, scope: Scope, flags: dict[str, str]) -> None:
        pop = self.pop
        spike = pop.states["spike"].local
        data = f"D[{pop.name!r}]"

        def u() -> str:
            return f"ops.uniform({scope.key(self._stream())}, {pop_index(pop, scope)}, torch.float64)"
        code.comment(f"{pop.kind} {pop.name} = {self.encoder}({pop.size})", pop.ir.origin)
        with code.block(f"if {pop.name!r} in A:"):
            if pop.kind == "label":
                hot = f"({data}[:, None] == {scope.index(f'arange{pop.size}', ('arange', pop.size))})"
                if "rate" in self.options:
                    hot = f"{hot} & ({u()} < {self._probability(data)})"
                code.line(f"{spike}_b = {hot}", pop.ir.origin)
            elif self.encoder in ("poisson", "bernoulli"):
                code.line(f"{spike}_b = {u()} < {self._probability(data)}", pop.ir.origin)
            elif self.encoder == "regular":
                acc = pop.states["accumulator"].local
                gain = float(self.options.get("gain", 1.0))
                code.line(f"{acc} = ({acc} + {gain!r} * {data}).to(DT)", pop.ir.origin)
                code.line(f"{spike}_b = {acc} >= {REGULAR_THRESHOLD!r}")
                code.line(f"{acc} = {acc} - {spike}_b.to(DT)")
            elif self.encoder == "latency":
                when = f"torch.floor((1.0 - {data}) * ({self._window()} - 1))"
                code.line(f"{spike}_b = ({data} > 0) & ({when} == k)", pop.ir.origin)
            elif self.encoder == "events":
                code.line(f"{spike}_b = ({data}[:, k] > 0) if k < {data}.shape[1] else "
                          f"{zeros(pop, scope, flag=True)}", pop.ir.origin)
            else:  # pragma: no cover - Plan rejects unknown encoders
                raise BuildError(f"{pop.kind} {pop.name}: unknown encoder `{self.encoder}`")
            code.line(f"{spike} = {spike}_b.to(DT)")
        with code.block("else:"):
            code.line(f"{spike} = {zeros(pop, scope)}")
            code.line(f"{spike}_b = {zeros(pop, scope, flag=True)}")
        flags["spike"] = f"{spike}_b"

    def _stream(self) -> int:
        return rng.encoder_stream(self.pop.index)

    def emit_reset(self, code: Code, scope: Scope) -> None:
        for st in self.pop.states.values():
            code.line(f"{st.local} = torch.zeros_like({st.local})")
