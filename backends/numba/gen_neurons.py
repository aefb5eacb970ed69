"""Kernels of one neuron population: a fused step, a reset, and phase hooks.

The step follows backends/reference/neurons.py: the program (updates in order, an ODE block's
updates simultaneously), then every event condition (each flag set at once, later conditions see
it), then the bodies of the events whose phase runs, then the traces, then the input ports are
cleared. All of that is local to one neuron, so it runs as one loop per batch row that keeps
the neuron's variables in locals. A statement that calls a population function (softmax, wta,
popsum, categorical, ...) needs the whole population first: the loop is split there, and a
pre-pass computes the function's argument for every neuron (`_pop0`) and reduces it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from snnlang.ir.model import Assign, EventIR, HookIR, OdeBlock, TraceIR, Update

from ..codegen import source_text
from .code import Code, Kernel, NameTable, decorator
from .plan import Plan, PopPlan, BuildError
from .printer import POPULATION, KernelPrinter, population_calls, uses
from .scope import Scope, combine, free_names, write


@dataclass
class _Op:
    """One statement of the step, as the reference runs it."""

    kind: str                    # update | ode | cond | body | trace | clear | assign | init
    item: object
    phases: tuple[str, ...] = ()
    exprs: list = field(default_factory=list)    # every expression it evaluates
    writes: list[str] = field(default_factory=list)

    @property
    def unconditional(self) -> bool:
        """Writes every element whatever the phase and masks (so the old value is not needed)."""
        if self.kind in ("init", "cond", "clear"):
            return True
        if self.kind in ("update", "ode"):
            return not self.phases and self.item.mask is None
        return False

    @property
    def has_population(self) -> bool:
        return any(uses(e, POPULATION) for e in self.exprs)


class NeuronKernels:
    def __init__(self, plan: Plan, pop: PopPlan) -> None:
        self.plan = plan
        self.pop = pop
        self.neuron = pop.neuron
        self.states = pop.states
        table = NameTable()
        self.param_of = {var: table.get(var, f"a_{var}") for var in pop.states}   # kernel parameter names
        self.arrays = list(self.param_of.values())

    # ------------------------------------------------------------ names

    def _context(self, scope: Scope, local: dict[str, str], what: str, population=None):
        pop = self.pop

        def symbol(name: str) -> str:
            if name in local:
                return local[name]
            if name in pop.params:
                return scope.param(pop.params[name])
            if name == "dt":
                return scope.dt()
            if name == "t":
                scope.needs_t = True
                return "t"
            raise BuildError(f"population {pop.name}: {what} reads `{name}`, which is not defined there")

        def host_symbol(name: str) -> str:
            if name == "dt":
                return "c[0]"
            return f"c[{pop.params[name].slot}]"

        return scope.context(symbol, lambda n: n in pop.params or n == "dt", host_symbol,
                             "_b * _N + _i", population=population, what=f"population {pop.name}: {what}")

    def _scope(self, what: str) -> Scope:
        return Scope(self.plan, self.pop.name, what, set(self.arrays) | {"_B", "_N", "_b", "_i"})

    def _locals(self, scope: Scope) -> dict[str, str]:
        return {name: scope.names.get(("var", name), name) for name in self.states}

    # ------------------------------------------------------------ ops

    def step_ops(self) -> list[_Op]:
        ops: list[_Op] = []
        n = self.neuron
        for op in n.program:
            if isinstance(op, Update):
                self._writable(op.var)
                ops.append(_Op("update", op, op.phases, [op.expr, op.mask], [op.var]))
            elif isinstance(op, OdeBlock):
                for var, _ in op.updates:
                    self._writable(var)
                ops.append(_Op("ode", op, op.phases, [e for _, e in op.updates] + [op.mask],
                               [v for v, _ in op.updates]))
            else:
                raise BuildError(f"population {self.pop.name}: unknown program op {type(op).__name__}")
        for ev in n.events:
            ops.append(_Op("cond", ev, (), [ev.cond], [ev.name]))
        for ev in n.events:
            for a in ev.body:
                self._writable(a.target)
                ops.append(_Op("body", a, ev.phases, [a.expr, a.mask], [a.target]))
        for tr in n.traces:
            self._writable(tr.name)
            for on in tr.on:
                if on.event not in self.states or self.states[on.event].var.kind != "event":
                    raise BuildError(f"population {self.pop.name}: trace `{tr.name}` counts `{on.event}`, "
                                     "which is not an event of the neuron")
            writes = [tr.name] + ([tr.count_var] if tr.kind == "mean" else [])
            ops.append(_Op("trace", tr, tr.phases, [tr.decay, tr.per_step] + [o.expr for o in tr.on], writes))
        ports = [v.name for v in n.of_kind("input")]
        if ports:
            ops.append(_Op("clear", ports, (), [], ports))
        return ops

    def _writable(self, name: str) -> None:
        if name not in self.states:
            raise BuildError(f"population {self.pop.name}: writes `{name}`, which is not a variable of "
                             f"neuron {self.neuron.name}")

    # ------------------------------------------------------------ emission

    def _emit_op(self, code: Code, scope: Scope, op: _Op, local: dict, population=None) -> None:
        ctx = lambda what: self._context(scope, local, what, population)  # noqa: E731
        flag = scope.phase_flag(op.phases)
        if op.kind == "cond":
            ev: EventIR = op.item
            flag = scope.phase_flag(ev.phases)
            value = f"1.0 if {scope.cond(ev.cond, ctx(f'condition of `{ev.name}`'))} else 0.0"
            if flag is None:
                code.line(f"{local[ev.name]} = {value}", ev.origin)
            else:
                with code.block(f"if {flag}:"):
                    code.line(f"{local[ev.name]} = {value}", ev.origin)
                with code.block("else:"):
                    code.line(f"{local[ev.name]} = 0.0")
            return
        if op.kind == "clear":
            for port in op.item:
                code.line(f"{local[port]} = 0.0")
            return
        if flag is not None:
            with code.block(f"if {flag}:"):
                self._emit_body(code, scope, op, local, ctx)
        else:
            self._emit_body(code, scope, op, local, ctx)

    def _emit_body(self, code: Code, scope: Scope, op: _Op, local: dict, ctx) -> None:
        rindex = "_b * _N + _i"
        if op.kind == "update":
            u: Update = op.item
            value = scope.expr(u.expr, ctx(f"update of `{u.var}`"))
            if u.mask is None:
                write(code, scope, self.states[u.var], local[u.var], value, rindex, u.origin)
            else:
                with code.block(f"if {scope.cond(u.mask, ctx('mask'))}:", u.origin):
                    write(code, scope, self.states[u.var], local[u.var], value, rindex, u.origin)
        elif op.kind == "ode":
            o: OdeBlock = op.item
            code.comment(f"{', '.join(v for v, _ in o.updates)} by {o.method}: {o.reason}", o.origin)
            mask = None if o.mask is None else scope.cond(o.mask, ctx("mask"))
            new = []
            for var, e in o.updates:
                tmp = scope.names.get(("new", var), f"{var}_new")
                code.line(f"{tmp} = {scope.expr(e, ctx(f'ODE update of `{var}`'))}", o.origin)
                new.append((var, tmp))
            if mask is None:
                for var, tmp in new:
                    write(code, scope, self.states[var], local[var], tmp, rindex, o.origin)
            else:
                with code.block(f"if {mask}:", o.origin):
                    for var, tmp in new:
                        write(code, scope, self.states[var], local[var], tmp, rindex, o.origin)
        elif op.kind in ("body", "assign"):
            a: Assign = op.item
            value = combine(a.op, local[a.target], scope.expr(a.expr, ctx(f"`{a.target} {a.op} ...`")))
            if a.mask is None:
                write(code, scope, self.states[a.target], local[a.target], value, rindex, a.origin)
            else:
                with code.block(f"if {scope.cond(a.mask, ctx('mask'))}:", a.origin):
                    write(code, scope, self.states[a.target], local[a.target], value, rindex, a.origin)
        elif op.kind == "trace":
            self._emit_trace(code, scope, op.item, local, ctx, rindex)
        elif op.kind == "init":
            var, e = op.item
            value = scope.expr(e, ctx(f"initial value of `{var}`"))
            write(code, scope, self.states[var], local[var], value, rindex, self.states[var].var.origin)

    def _emit_trace(self, code: Code, scope: Scope, tr: TraceIR, local: dict, ctx, rindex: str) -> None:
        x = local[tr.name]
        st = self.states[tr.name]
        code.comment(f"trace {tr.name}: {tr.kind}", tr.origin)
        if tr.kind == "mean":
            count = local[tr.count_var]
            arg = scope.expr(tr.per_step, ctx(f"argument of trace `{tr.name}`"))
            write(code, scope, st, x, f"{x} + (({arg}) - {x}) / ({count} + 1)", rindex, tr.origin)
            write(code, scope, self.states[tr.count_var], count, f"{count} + 1", rindex, tr.origin)
        elif tr.decay is not None or tr.per_step is not None:
            new = x
            if tr.decay is not None:
                new = f"({scope.expr(tr.decay, ctx(f'decay of trace `{tr.name}`'))}) * {x}"
            if tr.per_step is not None:
                new = f"{new} + ({scope.expr(tr.per_step, ctx(f'argument of trace `{tr.name}`'))})"
            write(code, scope, st, x, new, rindex, tr.origin)
        for on in tr.on:
            value = combine(on.op, x, scope.expr(on.expr, ctx(f"`on {on.event}` of trace `{tr.name}`")))
            with code.block(f"if {local[on.event]} != 0:", tr.origin):
                write(code, scope, st, x, value, rindex, tr.origin)

    # ------------------------------------------------------------ loops

    def _read_names(self, ops: list[_Op]) -> set[str]:
        names: set[str] = set()
        for op in ops:
            names |= free_names(*op.exprs)
            if op.kind == "cond":
                names |= free_names(op.item.cond)
            if op.kind == "trace":
                names |= {o.event for o in op.item.on}
        return names

    def _segments(self, ops: list[_Op]) -> list[list[_Op]]:
        out: list[list[_Op]] = []
        for op in ops:
            if op.has_population or not out or out[-1][0].has_population:
                out.append([op])
            else:
                out[-1].append(op)
        return out

    def _loop(self, code: Code, scope: Scope, ops: list[_Op], local: dict, check: bool) -> None:
        """`for _i:` over the neurons of row `_b`: load, run `ops`, store (and check) what they wrote."""
        kept = set()           # written, but not everywhere: the old value must be loaded
        for op in ops:
            if not op.unconditional:
                kept |= set(op.writes)
        needed = self._read_names(ops) | kept
        read = [n for n in self.states if n in needed]
        written = [n for n in self.states if any(n in op.writes for op in ops)]
        population = None
        if ops[0].has_population:
            population = self._prepass(code, scope, ops[0], local)
        with code.block("for _i in range(_N):"):
            for n in read:
                code.line(f"{local[n]} = {self.param_of[n]}[_b, _i]")
            for op in ops:
                self._emit_op(code, scope, op, local, population)
            for n in written:
                code.line(f"{self.param_of[n]}[_b, _i] = {local[n]}")
            checked = [n for n in written if self.states[n].var.kind != "event"]   # events are 0.0 / 1.0
            if check and checked:
                # `|` of every test, no branch: the loop stays vectorisable
                code.line("bad |= " + " | ".join(f"(not numpy.isfinite({local[n]}))" for n in checked))

    def _prepass(self, code: Code, scope: Scope, op: _Op, local: dict):
        """Population functions of `op`: their values for row `_b`, computed before its loop.
        Returns the lookup the printer uses (IR form of a call -> code of its value)."""
        computed: dict[str, str] = {}
        for e in op.exprs:
            if e is None or not uses(e, POPULATION):
                continue
            for node, canon in population_calls(e):
                key = sympy.srepr(canon.original(node))
                if key in computed:
                    continue
                name = scope.names.fixed(("pop", key), f"_pop{len(scope.pops)}")
                scope.pops.append(name)
                computed[key] = self._reduce(code, scope, node, canon, name, local, computed)
        return lambda original: computed[sympy.srepr(original)]

    def _reduce(self, code: Code, scope: Scope, node, canon, name: str, local: dict, computed: dict) -> str:
        fn = type(node).__name__
        ctx = self._context(scope, local, f"argument of {fn}",
                            population=lambda original: computed[sympy.srepr(original)])
        arg = KernelPrinter(canon, ctx).doprint(node.args[0])
        names = {str(canon.names.get(s.name, s.name)) for s in node.args[0].free_symbols}
        code.line(f"{name} = numpy.empty(_N)")
        with code.block("for _i in range(_N):"):
            for n in self.states:
                if n in names:
                    code.line(f"{local[n]} = {self.param_of[n]}[_b, _i]")
            code.line(f"{name}[_i] = {arg}")
        if fn == "PopSum":
            code.line(f"{name}_v = _pairwise({name}, 0, _N, _tasks, _sums)")
            return f"{name}_v"
        if fn == "PopMean":
            code.line(f"{name}_v = _pairwise({name}, 0, _N, _tasks, _sums) / _N")
            return f"{name}_v"
        if fn in ("PopMax", "PopMin"):
            code.line(f"{name}_v = _{fn.lower()}({name})")
            return f"{name}_v"
        if fn == "Softmax":
            code.line(f"{name}_m = _popmax({name})")
            with code.block("for _i in range(_N):"):
                code.line(f"{name}[_i] = numpy.exp({name}[_i] - {name}_m)")
            code.line(f"{name}_s = _pairwise({name}, 0, _N, _tasks, _sums)")
            return f"({name}[_i] / {name}_s)"
        if fn == "Wta":
            code.line(f"{name}_w = _argmax({name})")
            return f"(1.0 if _i == {name}_w else 0.0)"
        if fn == "Categorical":
            stream = int(node.args[1])
            code.line(f"{name}_u = _uniform({scope.key(stream)}, _b)")
            code.line(f"{name}_s = _pairwise({name}, 0, _N, _tasks, _sums)")
            code.line(f"{name}_c = 0.0")
            code.line(f"{name}_w = -1")
            with code.block("for _i in range(_N):"):
                code.line(f"{name}_c = {name}_c + {name}[_i] / {name}_s")
                with code.block(f"if {name}_c > {name}_u:"):
                    code.line(f"{name}_w = _i")
                    code.line("break")
            return f"(1.0 if _i == {name}_w else 0.0)"
        raise BuildError(f"population {self.pop.name}: unknown population function {fn}")

    def _function(self, name: str, doc: str, ops: list[_Op], check: bool, lead: list[str], role: str) -> Kernel:
        scope = self._scope(name)
        local = self._locals(scope)
        body = Code(1)
        with body.block("for _b in range(_B):"):
            for seg in self._segments(ops):
                self._loop(body, scope, seg, local, check)
        head = Code(1)
        head.line(f'"""{source_text(doc)}"""')
        scope.header(head, scope.needs_t)
        head.line(f"_B, _N = {self.arrays[0]}.shape")
        if "_pairwise" in body.text():
            head.line("_tasks = numpy.empty((64, 5), numpy.int64)   # scratch of the pairwise sums")
            head.line("_sums = numpy.empty(64)")
        head.line("bad = False")
        params = [(x, ("ctx", x)) for x in lead] + [("seed", ("ctx", "seed")), ("consts", ("consts", self.pop.name))]
        params += [(name, ("lit", actual)) for name, actual in scope.extra]
        params += [(self.param_of[v], ("array", st.arg)) for v, st in self.states.items()]
        out = Code()
        out.line(decorator(role))
        out.line(f"def __KERNEL__({', '.join(p for p, _ in params)}):")
        out.extend(head)
        out.extend(body)
        out.line("    return bad")
        return Kernel(name, out.text(), params)

    # ------------------------------------------------------------ functions

    def kernels(self) -> dict[tuple, Kernel]:
        """("step",), ("reset",), ("hook", edge, phase) -> kernel (named after the neuron type)."""
        n = self.neuron
        out = {}
        doc = (f"Neuron {n.name}: one step of a population (batch rows x neurons). True if a value it wrote "
               "is NaN or infinite.")
        out[("step",)] = self._function(f"step_{n.name}", doc, self.step_ops(), True, ["phase", "step"], "step")
        inits = [_Op("init", (v.name, v.init), (), [v.init], [v.name]) for v in n.vars if v.kind != "param"]
        out[("reset",)] = self._function(f"reset_{n.name}", f"Neuron {n.name}: every variable of a population "
                                         "back to its initial value (at `step`).", inits, False, ["step"], "reset")
        for edge, phase, hooks in self.hooks():
            ops = [_Op("assign", a, (), [a.expr, a.mask], [a.target]) for h in hooks for a in h.body]
            for op in ops:
                self._writable(op.item.target)
            out[("hook", edge, phase)] = self._function(f"hook_{n.name}_{edge}_{phase}",
                                                        f"Neuron {n.name}: `at {edge} of {phase}`.", ops, False,
                                                        ["step"], "hook")
        return out

    def hooks(self) -> list[tuple[str, str, list[HookIR]]]:
        out: dict[tuple[str, str], list[HookIR]] = {}
        for h in self.neuron.hooks:
            out.setdefault((h.edge, h.phase), []).append(h)
        return [(e, p, hs) for (e, p), hs in out.items()]


__all__ = ["NeuronKernels"]
