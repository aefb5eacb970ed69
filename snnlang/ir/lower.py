"""Checked model -> IR. Runs only on a model without errors.

Compartments disappear (names are unique per neuron), ODEs become discrete
updates chosen by snnlang.ir.solvers, refractoriness and running means become
explicit hidden state, `if` statements become masks, and the network gets its
step order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import sympy

from snnlang.diagnostics import Diagnostic, Span, error
from snnlang.ir import functions as F
from snnlang.ir.expressions import ConstantError, ExprLowering, StreamCounter
from snnlang.ir.model import (
    Assign, ConnectionIR, EventIR, HandlerIR, HookIR, ModelIR, NetworkIR, NeuronIR, OdeBlock,
    PhaseIR, PopulationIR, ScheduleIR, SynapseIR, TieIR, TraceIR, TraceOnIR, Update, Var,
)
from snnlang.ir.solvers import OdeSystem, SolverError, solve
from snnlang.semantics.checker import CheckResult
from snnlang.semantics.definitions import synapse_trace_side
from snnlang.semantics.network import DEFAULT_UNIT_DT
from snnlang.semantics.symbols import BOOL, FLOAT, INT
from snnlang.semantics.units import UNITS
from snnlang.syntax import ast as A

DT = sympy.Symbol("dt")
T = sympy.Symbol("t")
REFRACTORY = "refractory_left"


class LoweringError(Exception):
    """Carries diagnostics for what the checker allows but a solver cannot do."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("; ".join(d.message for d in diagnostics))
        self.diagnostics = diagnostics


def lower(checked: CheckResult) -> ModelIR:
    """The IR of a checked model without errors; LoweringError for what the checker allows
    but lowering cannot do."""
    try:
        return _lower(checked)
    except ConstantError as exc:
        raise LoweringError([error("E107", str(exc), exc.span)]) from None


def _lower(checked: CheckResult) -> ModelIR:
    if not checked.ok:
        raise ValueError("lower() needs a model without errors; check it first")
    streams = StreamCounter()
    diags: list[Diagnostic] = []
    neurons = {name: _NeuronLowering(d.node, streams, diags).run()
               for name, d in checked.neurons.items()}
    synapses = {name: _SynapseLowering(s.node, streams, diags).run()
                for name, s in checked.synapses.items()}
    networks = {name: _NetworkLowering(n.node, neurons, synapses, streams, n.durations).run()
                for name, n in checked.networks.items()}
    if diags:
        raise LoweringError(diags)
    origins = tuple(streams.origins.get(i) for i in range(streams.next))
    return ModelIR(checked.file, neurons, synapses, networks, streams.next, origins)


# ------------------------------------------------------------------ statements


def _and(a: sympy.Expr | None, b: sympy.Expr) -> sympy.Expr:
    return b if a is None else F.And(a, b)


def lower_statements(stmts, expr: ExprLowering, target_name, mask: sympy.Expr | None = None
                     ) -> list[Assign]:
    """Statements -> masked assignments in order; `if` becomes masks, preserving sequencing."""
    out: list[Assign] = []
    for s in stmts:
        if isinstance(s, A.Assign):
            out.append(Assign(target_name(s.target), s.op, expr(s.value), mask, s.span))
            continue
        taken: sympy.Expr | None = None
        branches = [(s.cond, s.body)] + list(s.elifs)
        for cond, body in branches:
            c = expr(cond)
            here = c if taken is None else F.And(F.Not(taken), c)
            out.extend(lower_statements(body, expr, target_name, _and(mask, here)))
            taken = c if taken is None else F.Or(taken, c)
        if s.orelse:
            out.extend(lower_statements(s.orelse, expr, target_name, _and(mask, F.Not(taken))))
    return out


def _walk(members, phases=()):
    for m in members:
        if isinstance(m, A.Compartment):
            yield from _walk(m.members, phases)
        elif isinstance(m, A.During):
            yield from _walk(m.members, phases + m.phases)
        else:
            yield m, phases


def _dtype(typ, is_bool: bool = False):
    if isinstance(typ, A.FixedType):
        from snnlang.semantics.types import resolve_type
        vtype, _ = resolve_type(typ, [], UNITS.get)
        return vtype
    if isinstance(typ, A.NamedType) and isinstance(typ.expr, A.Name) and typ.expr.dotted in (
            "float32", "float64", "bool", "int"):
        word = typ.expr.dotted
        return BOOL if word == "bool" else INT if word == "int" else FLOAT.__class__("float", precision=word)
    return BOOL if is_bool else FLOAT


# --------------------------------------------------------------------- neurons


class _NeuronLowering:
    def __init__(self, node: A.NeuronDef, streams: StreamCounter, diags: list[Diagnostic]) -> None:
        self.node = node
        self.diags = diags
        self.expr = ExprLowering(self._resolve, streams)
        self.vars: list[Var] = []
        self.param_names: set[str] = set()

    def _resolve(self, name: A.Name) -> sympy.Expr:
        ident = name.parts[-1]
        if len(name.parts) == 1 and ident not in self._declared and ident in UNITS:
            return sympy.Float(UNITS[ident][0])
        return sympy.Symbol(ident)

    def _target(self, name: A.Name) -> str:
        return name.parts[-1]

    def run(self) -> NeuronIR:
        members = list(_walk(self.node.members))
        self._declared = {getattr(m, "name", None) for m, _ in members} - {None}
        refractory = next((m for m, _ in members if isinstance(m, A.RefractoryDecl)), None)
        for m, _ in members:
            if isinstance(m, A.ParamDecl):
                self.vars.append(Var(m.name, "param", _dtype(m.type), self.expr(m.value), m.span))
                self.param_names.add(m.name)
            elif isinstance(m, A.StateDecl):
                self.vars.append(Var(m.name, "state", _dtype(m.type), self.expr(m.value), m.span))
            elif isinstance(m, A.InputDecl):
                self.vars.append(Var(m.name, "input", _dtype(m.type), sympy.Integer(0), m.span))
            elif isinstance(m, A.TraceDecl):
                self.vars.append(Var(m.name, "trace", _dtype(m.type), sympy.Integer(0), m.span))
            elif isinstance(m, A.EventDecl):
                self.vars.append(Var(m.name, "event", BOOL, sympy.Integer(0), m.span))
        active = None
        if refractory is not None:
            self.vars.append(Var(REFRACTORY, "hidden", INT, sympy.Integer(0), refractory.span))
            active = F.Le(sympy.Symbol(REFRACTORY), 0)
        program = self._program(members, active, refractory)
        events = self._events(members, active, refractory)
        traces = self._traces(members)
        hooks = tuple(HookIR(m.edge, m.phase, tuple(lower_statements(m.body, self.expr, self._target)),
                             m.span) for m, _ in members if isinstance(m, A.PhaseHook))
        surrogate = next(((m.call.func, self.expr(m.call.kwarg("width") or m.call.args[0]))
                          for m, _ in members if isinstance(m, A.SurrogateDecl)), None)
        return NeuronIR(self.node.name, tuple(self.vars), program, events, traces, hooks, self.node.doc, surrogate)

    def _program(self, members, active, refractory) -> tuple:
        program: list = []
        if refractory is not None:
            program.append(Update(REFRACTORY, sympy.Max(sympy.Symbol(REFRACTORY) - 1, 0), (),
                                  refractory.span))
        # ODEs are solved together per set of phases, placed where the first of them is written
        groups: dict[tuple, list[A.OdeDecl]] = {}
        placeholder: dict[tuple, int] = {}
        for m, phases in members:
            if isinstance(m, A.OdeDecl):
                if phases not in groups:
                    groups[phases] = []
                    placeholder[phases] = len(program)
                    program.append(None)
                groups[phases].append(m)
            elif isinstance(m, A.UpdateDecl):
                held = active is not None and (not refractory.holds or m.var in refractory.holds)
                program.append(Update(m.var, self.expr(m.rhs), phases, m.span, active if held else None))
        holds = frozenset(refractory.holds) if refractory is not None and refractory.holds else None
        for phases, odes in groups.items():
            program[placeholder[phases]] = self._solve(odes, phases, active, holds)
        blocks = []
        for op in program:
            blocks.extend(op if isinstance(op, list) else [op])
        return tuple(blocks)

    def _solve(self, odes: list[A.OdeDecl], phases: tuple, active, holds: frozenset[str] | None = None
               ) -> list[OdeBlock]:
        """Solver blocks for these ODEs; `active` (not refractory) masks the variables in
        `holds` (all when None). A block that mixes held and free variables keeps each held
        variable's old value where not active: its update is Where(active, new, old)."""
        variables = tuple(sympy.Symbol(o.var) for o in odes)
        system = OdeSystem(variables, tuple(self.expr(o.rhs) for o in odes), tuple(o.method for o in odes))
        constants = frozenset(sympy.Symbol(v.name) for v in self.vars if v.kind in ("param", "input"))
        try:
            choices = solve(system, DT, constants)
        except SolverError as exc:
            var = getattr(exc, "variable", None)
            decl = next((o for o in odes if var is not None and o.var == str(var)), odes[0])
            self.diags.append(error("E213", str(exc), decl.span))
            return []
        by_var = {o.var: o for o in odes}
        blocks = []
        for c in choices:
            updates = tuple((str(v), e) for v, e in c.updates)
            mask = active
            if active is not None and holds is not None:
                held = [v in holds for v, _ in updates]
                if not any(held):
                    mask = None
                elif not all(held):
                    mask = None
                    updates = tuple((v, F.Where(active, e, sympy.Symbol(v)) if v in holds else e)
                                    for v, e in updates)
            blocks.append(OdeBlock(updates, c.method, c.reason, phases, by_var[str(c.variables[0])].span, mask))
        return blocks

    def _events(self, members, active, refractory) -> tuple[EventIR, ...]:
        events = []
        for m, phases in members:
            if not isinstance(m, A.EventDecl):
                continue
            cond = self.expr(m.cond)
            body = lower_statements(m.body, self.expr, self._target, sympy.Symbol(m.name))
            if m.is_spike and refractory is not None:
                cond = F.And(active, cond)
                steps = sympy.ceiling(self.expr(refractory.period) / DT - sympy.Float(1e-9))
                body.append(Assign(REFRACTORY, "=", steps + 1, sympy.Symbol(m.name), refractory.span))
            events.append(EventIR(m.name, cond, tuple(body), phases, m.span))
        return tuple(events)

    def _traces(self, members) -> tuple[TraceIR, ...]:
        return tuple(lower_trace(m, phases, self.expr, "self", self.vars)
                     for m, phases in members if isinstance(m, A.TraceDecl))


def lower_trace(m: A.TraceDecl, phases, expr: ExprLowering, side: str, vars_out: list[Var]) -> TraceIR:
    decay = per_step = None
    count_var = None
    if m.kind == "tau":
        decay = sympy.exp(-DT / expr(m.arg))
    elif m.kind == "decay":
        decay = expr(m.arg)
    elif m.kind == "sum":
        per_step = expr(m.arg) if m.arg is not None else None
    elif m.kind == "mean":
        per_step = expr(m.arg)
        count_var = f"{m.name}__count"
        vars_out.append(Var(count_var, "hidden", INT, sympy.Integer(0), m.span, side))
    on = tuple(TraceOnIR(_event_name(o.event), o.op, expr(o.value)) for o in m.on)
    return TraceIR(m.name, m.kind, decay, per_step, on, side, phases, m.span, count_var)


def _event_name(ref: A.Name) -> str:
    """`spike` -> "spike"; `pre` -> "pre.spike"; `post.pos` -> "post.pos"."""
    if ref.parts[0] in ("pre", "post"):
        return f"{ref.parts[0]}.{ref.parts[1] if len(ref.parts) > 1 else 'spike'}"
    return ref.parts[-1]


# -------------------------------------------------------------------- synapses


class _SynapseLowering:
    def __init__(self, node: A.SynapseDef, streams: StreamCounter, diags: list[Diagnostic]) -> None:
        self.node = node
        self.expr = ExprLowering(self._resolve, streams)
        self.vars: list[Var] = []

    def _resolve(self, name: A.Name) -> sympy.Expr:
        if name.parts[0] in ("pre", "post"):
            return sympy.Symbol(f"{name.parts[0]}.{name.parts[-1]}")
        ident = name.parts[0]
        if ident not in self._declared and ident in UNITS:
            return sympy.Float(UNITS[ident][0])
        return sympy.Symbol(ident)

    def _target(self, name: A.Name) -> str:
        if name.parts[0] == "post":
            return f"post.{name.parts[-1]}"
        return name.parts[0]

    def run(self) -> SynapseIR:
        members = list(_walk_synapse(self.node.members))
        self._declared = {getattr(m, "name", None) for m, _ in members} - {None}
        traces = []
        own_values = {m.name for m, _ in members if isinstance(m, (A.StateDecl, A.TraceDecl))}
        for m, phases in members:
            if isinstance(m, A.ParamDecl):
                self.vars.append(Var(m.name, "param", _dtype(m.type), self.expr(m.value), m.span))
            elif isinstance(m, A.StateDecl):
                self.vars.append(Var(m.name, "state", _dtype(m.type), self.expr(m.value), m.span))
            elif isinstance(m, A.TraceDecl):
                side = synapse_trace_side(m, own_values)
                self.vars.append(Var(m.name, "trace", _dtype(m.type), sympy.Integer(0), m.span, side))
                traces.append(lower_trace(m, phases, self.expr, side, self.vars))
        handlers = []
        for m, phases in members:
            if isinstance(m, A.OnHandler):
                side = m.event.parts[0]
                event = m.event.parts[1] if len(m.event.parts) > 1 else "spike"
                handlers.append(HandlerIR(side, event, tuple(lower_statements(m.body, self.expr, self._target)),
                                          phases, m.span))
            elif isinstance(m, A.StepHandler):
                handlers.append(HandlerIR("step", None, tuple(lower_statements(m.body, self.expr, self._target)),
                                          phases, m.span))
            elif isinstance(m, A.PhaseHook):
                handlers.append(HandlerIR(m.edge, m.phase, tuple(lower_statements(m.body, self.expr,
                                                                                  self._target)),
                                          phases, m.span))
        return SynapseIR(self.node.name, tuple(self.vars), tuple(traces), tuple(handlers), self.node.doc)


def _walk_synapse(members, phases=()):
    for m in members:
        if isinstance(m, A.During):
            yield from _walk_synapse(m.members, phases + m.phases)
        else:
            yield m, phases


# --------------------------------------------------------------------- networks


@dataclass
class _Const:
    """Constant evaluation of network expressions (sizes, phase lengths, overrides).

    `__call__` is for what is fixed at compile time: the network parameters it reads are
    recorded in `structural`. `runtime` is for what the runtime can re-derive (parameter
    overrides, phase lengths): it also returns the expression over the parameters' symbols."""

    params: dict[str, float]
    structural: set[str] = field(default_factory=set)

    def __call__(self, e: A.Expr) -> float:
        value, expr = self.runtime(e)
        self.structural.update(str(s) for s in expr.free_symbols) if expr is not None else None
        return value

    def runtime(self, e: A.Expr) -> tuple[float, sympy.Expr | None]:
        """(value, expression over network-parameter symbols or None when it uses none)."""
        symbolic = ExprLowering(self._resolve, StreamCounter())(e)
        names = {str(s) for s in symbolic.free_symbols}
        value = float(symbolic.subs({sympy.Symbol(n): self.params[n] for n in names}))
        return value, (symbolic if names else None)

    def _resolve(self, name: A.Name) -> sympy.Expr:
        ident = name.dotted
        if ident in self.params:
            return sympy.Symbol(ident)
        return sympy.Float(UNITS[ident][0])


class _NetworkLowering:
    def __init__(self, node: A.NetworkDef, neurons: dict[str, NeuronIR], synapses: dict[str, SynapseIR],
                 streams: StreamCounter, durations: set | frozenset = frozenset()) -> None:
        self.node = node
        # phase lengths and delays the checker found to be times (by dimension, so also
        # `phase train(T)` with `param T = 50 ms`); the others count steps
        self.durations = durations
        self.neurons = neurons
        self.synapses = synapses
        self.streams = streams
        self.const = _Const({})

    def run(self) -> NetworkIR:
        members = self.node.members
        for m in members:
            if isinstance(m, A.ParamDecl):
                self.const.params[m.name] = self.const(m.value)
        unit_free = not _network_uses_units(self.node, self.neurons)
        dt = 1.0 if unit_free else DEFAULT_UNIT_DT
        duration = None
        for m in members:
            if isinstance(m, A.Timestep):
                dt = self.const(m.dt)
            elif isinstance(m, A.Simulate):
                duration = self.const(m.duration)
                if m.dt is not None:
                    dt = self.const(m.dt)
        pops = [self._population(m) for m in members if isinstance(m, (A.InputPop, A.LabelPop, A.Population))]
        conns_ast = [m for m in members if isinstance(m, A.Connect)]
        order = _step_order(pops, conns_ast)
        index = {p.name: i for i, p in enumerate(order)}
        conns = self._connections(conns_ast, index, dt)
        schedule = next((self._schedule(m, dt) for m in members if isinstance(m, A.Schedule)), None)
        readout = next((self._net_expr(m.expr) for m in members if isinstance(m, A.Readout)), None)
        metrics = tuple((m.name, self._net_expr(m.expr)) for m in members if isinstance(m, A.Metric))
        steps = None if duration is None else int(round(duration / dt))
        return NetworkIR(self.node.name, dt, tuple(order), conns, schedule, readout, metrics, steps,
                         unit_free, self.node.doc, tuple(self.const.params.items()),
                         frozenset(self.const.structural))

    def _population(self, m) -> PopulationIR:
        call = m.encoder if isinstance(m, (A.InputPop, A.LabelPop)) else m.neuron
        size = int(self.const(call.args[0]))
        if isinstance(m, (A.InputPop, A.LabelPop)):   # encoder options are compiled in
            options = tuple((kw.name, self.const(kw.value)) for kw in call.kwargs)
        if isinstance(m, A.InputPop):
            return PopulationIR(m.name, "input", size, None, (), call.func, options, m.span)
        if isinstance(m, A.LabelPop):
            return PopulationIR(m.name, "label", size, None, (), call.func, options, m.span)
        neuron = self._stored(self.neurons, call.func, m.name, m.options)
        params, exprs = self._overrides(call.kwargs)
        return PopulationIR(m.name, "neuron", size, neuron, params, None, (), m.span, exprs)

    def _overrides(self, keywords) -> tuple[tuple, tuple]:
        """Parameter overrides: their values, and the expressions of those written in terms of
        network parameters (re-derived by the runtime when one of them changes)."""
        params, exprs = [], []
        for kw in keywords:
            value, expr = self.const.runtime(kw.value)
            params.append((kw.name, value))
            if expr is not None:
                exprs.append((kw.name, expr))
        return tuple(params), tuple(exprs)

    @staticmethod
    def _stored(types: dict, name: str, owner: str, options) -> str:
        """The neuron/synapse type `owner` uses: `name`, or, where `store x as T` options change
        how some of its variables are kept, a copy `name__owner` with those types. Backends see
        just another type (so per-connection 8-bit weights need nothing of them)."""
        overrides = {var: _dtype(opt.type) for opt in options if isinstance(opt, A.StoreOption)
                     for var in opt.names}
        if not overrides:
            return name
        base = types[name]
        derived = f"{name}__{owner}"
        types[derived] = replace(base, name=derived, vars=tuple(
            replace(v, dtype=overrides[v.name]) if v.name in overrides else v for v in base.vars))
        return derived

    def _connections(self, conns: list[A.Connect], index: dict[str, int], dt: float) -> tuple[ConnectionIR, ...]:
        out = []
        used: set[str] = {c.name for c in conns if c.name}
        for c in conns:
            name = c.name
            if name is None:
                base = f"{c.source.parts[0]}_to_{c.target.parts[0]}"
                name, k = base, 2
                while name in used:
                    name, k = f"{base}_{k}", k + 1
                used.add(name)
            connectivity, p = "dense", None
            conn_expr = c.args[0] if c.args else next(
                (o.value for o in c.options if isinstance(o, A.ConnOption) and o.kind == "connectivity"), None)
            if isinstance(conn_expr, A.Name):
                connectivity = conn_expr.dotted
            elif isinstance(conn_expr, A.Call):
                connectivity = conn_expr.func
                p_expr = conn_expr.kwarg("p")
                p = self.const(p_expr) if p_expr is not None else None
            if connectivity == "all_to_all":
                connectivity = "dense"
            params, param_exprs = self._overrides(
                list(c.kwargs) + [A.Keyword(o.name, o.value, o.span) for o in c.options if isinstance(o, A.ParamDecl)])
            init, tie, delay = [], None, 0

            def init_name(n: A.Name, own={v.name for v in self.synapses[c.synapse].vars}) -> sympy.Expr:
                # network params are constants here (fixed at compile time); synapse params shadow them
                if n.dotted in self.const.params and n.dotted not in own:
                    self.const.structural.add(n.dotted)
                    return sympy.Float(self.const.params[n.dotted])
                return _plain_symbol(n)
            init_lowering = ExprLowering(init_name, self.streams)
            for o in c.options:
                if not isinstance(o, A.ConnOption):
                    continue
                if o.kind == "init":
                    init.append((o.var, init_lowering(o.value)))
                elif o.kind == "tie":
                    target, transposed = o.value, False
                    if isinstance(target, A.Call):
                        target, transposed = target.args[0], True
                    tie = TieIR(o.var, target.parts[0], target.parts[1], transposed)
                elif o.kind == "delay":
                    value = self.const(o.value)
                    delay = int(round(value / dt)) if o.value.span in self.durations else int(round(value))
            src, dst = c.source.parts[0], c.target.parts[0]
            synapse = self._stored(self.synapses, c.synapse, name, c.options)
            out.append(ConnectionIR(
                name, src, c.source.parts[1] if len(c.source.parts) > 1 else "spike", dst,
                c.target.parts[1] if len(c.target.parts) > 1 else None, synapse, connectivity, p,
                params, tuple(init), tie, delay, index[src] < index[dst], c.span, param_exprs))
        return tuple(out)

    def _schedule(self, s: A.Schedule, dt: float) -> ScheduleIR:
        phases = []
        for ph in s.phases:
            steps, steps_expr = self.const.runtime(ph.steps)
            if ph.steps.span in self.durations:  # a duration such as `50 ms`
                steps = round(steps / dt)
                steps_expr = None if steps_expr is None else steps_expr / dt
            every, every_expr = self.const.runtime(ph.every) if ph.every else (None, None)
            active = plastic = reset = None
            reset_all = False
            for st in ph.stmts:
                names = frozenset(st.names)
                if st.kind == "active":
                    active = None if st.everything else names
                elif st.kind == "plastic":
                    plastic = names
                elif st.kind == "reset":
                    reset_all = st.everything
                    reset = names
            phases.append(PhaseIR(ph.name, int(steps), int(every) if every is not None else None,
                                  active, plastic or frozenset(), reset, reset_all, ph.span,
                                  steps_expr, every_expr))
        infer = s.infer.phases if s.infer else tuple(p.name for p in phases if not p.plastic and p.every is None)
        return ScheduleIR(tuple(phases), tuple(infer), s.batch.mode if s.batch else "sum")

    def _net_expr(self, e: A.Expr) -> sympy.Expr:
        def resolve(name: A.Name) -> sympy.Expr:
            if len(name.parts) == 1 and name.parts[0] in self.const.params:
                self.const.structural.add(name.parts[0])
                return sympy.Float(self.const.params[name.parts[0]])
            if len(name.parts) == 1 and name.parts[0] in UNITS:
                return sympy.Float(UNITS[name.parts[0]][0])
            return sympy.Symbol(f"{name.parts[0]}.{name.parts[-1]}")
        return ExprLowering(resolve, StreamCounter())(e)


def _plain_symbol(name: A.Name) -> sympy.Expr:
    if len(name.parts) == 1 and name.parts[0] in UNITS:
        return sympy.Float(UNITS[name.parts[0]][0])
    return sympy.Symbol(name.dotted)


def _network_uses_units(node: A.NetworkDef, neurons: dict[str, NeuronIR]) -> bool:
    from snnlang.semantics.definitions import _uses_units
    return _uses_units(node)


def _step_order(pops: list[PopulationIR], conns: list[A.Connect]) -> list[PopulationIR]:
    """Inputs and labels first, then neurons in feed-forward order; a cycle is broken at the
    population declared first, and the connections that close it deliver one step later."""
    by_name = {p.name: p for p in pops}
    incoming: dict[str, set[str]] = {p.name: set() for p in pops}
    for c in conns:
        src, dst = c.source.parts[0], c.target.parts[0]
        if src in incoming and dst in incoming and src != dst:
            incoming[dst].add(src)
    done: list[str] = [p.name for p in pops if p.kind != "neuron"]
    remaining = [p.name for p in pops if p.kind == "neuron"]
    while remaining:
        ready = [n for n in remaining if incoming[n] <= set(done)]
        pick = ready[0] if ready else remaining[0]
        done.append(pick)
        remaining.remove(pick)
    return [by_name[n] for n in done]


__all__ = ["lower", "LoweringError", "lower_statements", "DT", "T", "REFRACTORY", "math"]
