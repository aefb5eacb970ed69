"""Plasticity and synapse traces: the part of a connection's step after all populations stepped.

As backends/reference/connections.py, per connection in declaration order:
  1. if active: trace dynamics (x <- decay * x + per_step; `mean` with its hidden count);
  2. if plastic: the learning statements of the handlers whose phase runs, in written order,
     each where its trigger fired and its mask holds. Each batch row b starts from the shared
     value W and sees its own newest values; then W <- W_0 (batch 1) or W + reduce_b(W_b - W)
     (sum or mean), written (quantised) only where it changed;
  3. if active: the traces' `on` clauses where their event fired.
Learning is event-driven: an `on pre` rule can change only the columns of presynaptic neurons
that fired, an `on post` rule only the rows of postsynaptic ones, so only those pairs are
visited (outer-product rules become rank-1 updates); an `every step` rule visits every pair.
Hooks (`at start/end of P`) deliver to and learn on every pair.
"""

from __future__ import annotations

from snnlang.ir.model import HandlerIR, TraceIR

from .code import Code, Kernel
from .conn_common import INDICES, ConnNames
from .gen_transmit import STEP_TRIGGERS, Deliveries
from .plan import BuildError, ConnPlan, Plan
from .scope import Scope, combine, write



class Learning:
    def __init__(self, plan: Plan, c: ConnPlan, deliveries: Deliveries) -> None:
        self.plan = plan
        self.c = c
        self.deliveries = deliveries
        self.mean = plan.batch_mode == "mean"
        for h in c.syn.handlers:
            for a in h.learning:
                if c.sides.get(a.target) != "syn":
                    raise BuildError(
                        f"connection {c.name}: a handler of {c.syn.name} writes `{a.target}`; handlers may write "
                        "only per-pair states and syn-side traces (a pre/post-side trace would need a rule for "
                        "combining the pairs of a neuron)")
        for tr in c.syn.traces:
            side = c.sides[tr.name]
            for on in tr.on:
                peer = on.event.partition(".")[0]
                if peer != side:
                    raise BuildError(f"connection {c.name}: trace `{tr.name}` ({side} side) counts `{on.event}`")
            if side == "syn" and tr.decay is not None:
                from .scope import free_names
                from .printer import STOCHASTIC, uses
                if any(n.startswith(("pre.", "post.")) for n in free_names(tr.decay)) or uses(tr.decay, STOCHASTIC):
                    raise BuildError(f"connection {c.name}: the decay of the per-pair trace `{tr.name}` must not "
                                     "depend on the batch row (pre./post. values)")

    # ------------------------------------------------------------ learning on one pair

    def _targets(self, handlers: list[HandlerIR]) -> list[str]:
        out: list[str] = []
        for h in handlers:
            for a in h.learning:
                if a.target not in out:
                    out.append(a.target)
        return out

    def _pair(self, code: Code, scope: Scope, names: ConnNames, handlers: list[tuple[HandlerIR, str | None]],
              check: bool = True) -> None:
        """Every running handler's learning statements on pair (_i, _j), reduced over the batch."""
        targets = self._targets([h for h, _ in handlers])
        old = {v: scope.names.get(("old", v), f"{v}_old") for v in targets}
        row = {v: scope.names.get(("row", v), v) for v in targets}
        delta = {v: scope.names.get(("delta", v), f"{v}_change") for v in targets}
        for v in targets:
            code.line(f"{old[v]} = {names.at_pair(v)}")
        with code.block("for _b in range(_B):"):
            for v in targets:
                code.line(f"{row[v]} = {old[v]}")
            names.rows = row
            for h, flag in handlers:
                test = []
                if flag is not None:
                    test.append(flag)
                if h.trigger in ("pre", "post"):
                    index = "_j" if h.trigger == "pre" else "_i"
                    test.append(f"{names.flag(h.trigger, h.event)}[_b, {index}] != 0")
                block = code.block(f"if {' and '.join(test)}:", h.origin) if test else None
                if block:
                    block.__enter__()
                for a in h.learning:
                    ctx = names.pair_context(f"`{a.target} {a.op} ...`")
                    value = combine(a.op, row[a.target], scope.expr(a.expr, ctx))
                    if a.mask is None:
                        code.line(f"{row[a.target]} = {value}", a.origin)
                    else:
                        with code.block(f"if {scope.cond(a.mask, ctx)}:"):
                            code.line(f"{row[a.target]} = {value}", a.origin)
                if block:
                    block.__exit__(None, None, None)
            names.rows = {}
            for v in targets:
                with code.block("if _b == 0:"):
                    code.line(f"{delta[v]} = {row[v]} - {old[v]}")
                with code.block("else:"):
                    code.line(f"{delta[v]} = {delta[v]} + ({row[v]} - {old[v]})")
        for v in targets:
            new = scope.names.get(("new", v), f"{v}_new")
            reduce = f"{old[v]} + {delta[v]} / _B" if self.mean else f"{old[v]} + {delta[v]}"
            code.line(f"{new} = {row[v]} if _B == 1 else {reduce}")
            with code.block(f"if {new} != {old[v]}:"):
                st = names.state_for_write(v)
                write(code, scope, st, new, new, names.rounding_index(v))
                code.line(f"{names.at_pair(v)} = {new}")
                if check:
                    code.line(f"bad |= not numpy.isfinite({new})")

    def _running(self, scope: Scope, handlers: list[HandlerIR]) -> list[tuple[HandlerIR, str | None]]:
        return [(h, scope.phase_flag(h.phases)) for h in handlers]

    def emit_learning(self, code: Code, scope: Scope, names: ConnNames) -> None:
        c = self.c
        handlers = [h for h in c.syn.handlers if h.trigger in STEP_TRIGGERS and h.learning]
        if not handlers:
            return
        running = self._running(scope, handlers)
        code.comment("learning (rank-1 updates: only the rows and columns of neurons whose events fired)")
        # the neurons whose trigger fired in some batch row, listed once each; the marks are all
        # False between calls (cleared through the lists), so a step costs O(N) scans plus its pairs
        pre_any = names.internal("_pre_any", (c.n_pre,), "bool")
        post_any = names.internal("_post_any", (c.n_post,), "bool")
        pre_list = names.internal("_pre_list", (c.n_pre,), "int64")
        post_list = names.internal("_post_list", (c.n_post,), "int64")
        code.line("_n = 0")
        code.line("_m = 0")
        for h, flag in running:
            block = code.block(f"if {flag}:") if flag else None
            if block:
                block.__enter__()
            if h.trigger == "step":
                with code.block(f"for _q in range({names.n_pre}):", h.origin):
                    with code.block(f"if not {pre_any}[_q]:"):
                        code.line(f"{pre_any}[_q] = True")
                        code.line(f"{pre_list}[_n] = _q")
                        code.line("_n += 1")
            else:
                events = names.flag(h.trigger, h.event)
                marks, listed, count = (pre_any, pre_list, "_n") if h.trigger == "pre" else (post_any, post_list, "_m")
                n = c.n_pre if h.trigger == "pre" else c.n_post
                fired = names.internal(f"_{h.trigger}_fired", (n,), "int64")
                with code.block("for _b in range(_B):", h.origin):
                    code.line(f"_f = _fired({events}[_b], {fired})")
                    with code.block("for _q in range(_f):"):
                        code.line(f"_x = {fired}[_q]")
                        with code.block(f"if not {marks}[_x]:"):
                            code.line(f"{marks}[_x] = True")
                            code.line(f"{listed}[{count}] = _x")
                            code.line(f"{count} += 1")
            if block:
                block.__exit__(None, None, None)
        pair = lambda cd: self._pair(cd, scope, names, running)  # noqa: E731
        code.comment("the pairs of presynaptic neurons that fired (all of them for an `every step` rule), "
                     "then the other pairs of postsynaptic ones")
        if c.layout == "one_to_one":
            with code.block("for _q in range(_n):"):
                code.line(f"_i = {pre_list}[_q]")
                code.line("_j = _i")
                pair(code)
            with code.block("for _q in range(_m):"):
                code.line(f"_i = {post_list}[_q]")
                code.line("_j = _i")
                with code.block(f"if not {pre_any}[_i]:"):
                    pair(code)
        elif c.layout == "dense":      # storage (N_pre, N_post): row _j holds the pairs of pre neuron _j
            with code.block("for _q in range(_n):"):
                code.line(f"_j = {pre_list}[_q]")
                with code.block(f"for _i in range({names.n_post}):"):
                    pair(code)
            with code.block("if _m > 0:"):
                with code.block(f"for _j in range({names.n_pre}):"):
                    with code.block(f"if not {pre_any}[_j]:"):
                        with code.block("for _q in range(_m):"):
                            code.line(f"_i = {post_list}[_q]")
                            pair(code)
        else:                          # storage in column order: pre neuron _j's pairs are contiguous
            ptr, rows = names.csc_arrays()
            with code.block("for _q in range(_n):"):
                code.line(f"_j = {pre_list}[_q]")
                with code.block(f"for _k in range({ptr}[_j], {ptr}[_j + 1]):"):
                    code.line(f"_i = {rows}[_k]")
                    pair(code)
            with code.block("for _q in range(_m):"):
                code.line(f"_i = {post_list}[_q]")
                names.csr_loop(code, pair, f"not {pre_any}[_j]")
        with code.block("for _q in range(_n):"):
            code.line(f"{pre_any}[{pre_list}[_q]] = False")
        with code.block("for _q in range(_m):"):
            code.line(f"{post_any}[{post_list}[_q]] = False")

    # ------------------------------------------------------------ traces

    def emit_trace_dynamics(self, code: Code, scope: Scope, names: ConnNames) -> None:
        for tr in self.c.syn.traces:
            if tr.kind != "mean" and tr.decay is None and tr.per_step is None:
                continue
            flag = scope.phase_flag(tr.phases)
            block = code.block(f"if {flag}:") if flag else None
            if block:
                block.__enter__()
            side = self.c.sides[tr.name]
            code.comment(f"trace {tr.name}: {tr.kind} ({side} side)", tr.origin)
            if side == "syn":
                names.pair_loop(code, lambda cd: self._syn_trace(cd, scope, names, tr))
            else:
                self._side_loop(code, names, side, lambda cd: self._side_trace(cd, scope, names, tr, side))
            if block:
                block.__exit__(None, None, None)

    def _side_loop(self, code: Code, names: ConnNames, side: str, body) -> None:
        n = names.n_pre if side == "pre" else names.n_post
        with code.block("for _b in range(_B):"):
            with code.block(f"for {'_j' if side == 'pre' else '_i'} in range({n}):"):
                body(code)

    def _side_trace(self, code: Code, scope: Scope, names: ConnNames, tr: TraceIR, side: str) -> None:
        ctx = names.side_context(side, f"trace `{tr.name}`")
        st = self.c.states[tr.name]
        x = names.at_side(tr.name)
        ri = names.rounding_index(tr.name)
        if tr.kind == "mean":
            count = names.at_side(tr.count_var)
            arg = scope.expr(tr.per_step, ctx)
            write(code, scope, st, "_a", f"{x} + (({arg}) - {x}) / ({count} + 1)", ri, tr.origin)
            code.line(f"{x} = _a")
            write(code, scope, self.c.states[tr.count_var], "_a", f"{count} + 1", ri)
            code.line(f"{count} = _a")
        else:
            new = x if tr.decay is None else f"({scope.expr(tr.decay, ctx)}) * {x}"
            if tr.per_step is not None:
                new = f"{new} + ({scope.expr(tr.per_step, ctx)})"
            write(code, scope, st, "_a", new, ri, tr.origin)
            code.line(f"{x} = _a")
        code.line("bad |= not numpy.isfinite(_a)")

    def _syn_trace(self, code: Code, scope: Scope, names: ConnNames, tr: TraceIR) -> None:
        """A per-pair trace: shared by the batch; its per-step argument is reduced over the rows."""
        ctx = names.pair_context(f"trace `{tr.name}`")
        st = self.c.states[tr.name]
        x = names.at_pair(tr.name)
        ri = names.rounding_index(tr.name)
        reduce = "_s / _B" if self.mean else "_s"
        code.line(f"_a = {x}")
        if tr.kind == "mean":
            count = names.at_pair(tr.count_var)
            arg = scope.expr(tr.per_step, ctx)
            code.line("_s = 0.0")
            with code.block("for _b in range(_B):"):
                code.line(f"_v = (({arg}) - _a) / ({count} + 1)", tr.origin)
                code.line("_s = _v if _b == 0 else _s + _v")
            write(code, scope, st, "_n_", f"_a + (_v if _B == 1 else {reduce})", ri, tr.origin)
            code.line(f"{x} = _n_")
            write(code, scope, self.c.states[tr.count_var], "_c_", f"{count} + 1", ri)
            code.line(f"{count} = _c_")
        else:
            new = "_a"
            if tr.decay is not None:
                new = f"({scope.expr(tr.decay, ctx)}) * _a"
            if tr.per_step is not None:
                arg = scope.expr(tr.per_step, ctx)
                code.line("_s = 0.0")
                with code.block("for _b in range(_B):"):
                    code.line(f"_v = {arg}", tr.origin)
                    code.line("_s = _v if _b == 0 else _s + _v")
                new = f"{new} + (_v if _B == 1 else {reduce})"
            write(code, scope, st, "_n_", new, ri, tr.origin)
            code.line(f"{x} = _n_")
        code.line(f"bad |= not numpy.isfinite({x})")

    def emit_trace_events(self, code: Code, scope: Scope, names: ConnNames) -> None:
        for tr in self.c.syn.traces:
            if not tr.on:
                continue
            flag = scope.phase_flag(tr.phases)
            block = code.block(f"if {flag}:") if flag else None
            if block:
                block.__enter__()
            side = self.c.sides[tr.name]
            st = self.c.states[tr.name]
            for on in tr.on:
                peer, _, event = on.event.partition(".")
                events = names.flag(peer, event)
                index = "_j" if side == "pre" else "_i"
                ctx = names.side_context(side, f"`on {on.event}` of trace `{tr.name}`")
                x = names.at_side(tr.name)

                def body(cd, on=on, events=events, index=index, ctx=ctx, x=x):
                    value = combine(on.op, x, scope.expr(on.expr, ctx))
                    if st.fixed is None:    # a select, not a branch: the loop stays vectorisable
                        cd.line(f"_a = ({value}) if {events}[_b, {index}] != 0 else {x}", tr.origin)
                        cd.line(f"{x} = _a")
                        cd.line("bad |= not numpy.isfinite(_a)")
                        return
                    with cd.block(f"if {events}[_b, {index}] != 0:"):
                        write(cd, scope, st, "_a", value, names.rounding_index(tr.name), tr.origin)
                        cd.line(f"{x} = _a")
                        cd.line("bad |= not numpy.isfinite(_a)")
                self._side_loop(code, names, side, body)
            if block:
                block.__exit__(None, None, None)

    # ------------------------------------------------------------ kernels

    def has_learn(self) -> bool:
        c = self.c
        return bool(c.syn.traces) or any(h.learning and h.trigger in STEP_TRIGGERS for h in c.syn.handlers)

    def kernels(self) -> dict[tuple, "Kernel"]:
        out = {}
        if self.has_learn():
            out[("learn",)] = self._learn()
        for edge, phase, hs in self.hooks():
            out[("hook", edge, phase)] = self.hook_source(edge, phase, hs)
        return out

    def _learn(self):
        c = self.c
        scope = Scope(self.plan, c.name, "learn", INDICES | {"_v", "_n_", "_c_"})
        names = ConnNames(self.plan, c, scope)
        body = Code(1)
        if any(tr.kind == "mean" or tr.decay is not None or tr.per_step is not None for tr in c.syn.traces):
            with body.block("if active:"):
                self.emit_trace_dynamics(body, scope, names)
        if any(h.learning and h.trigger in STEP_TRIGGERS for h in c.syn.handlers):
            with body.block("if plastic:"):
                self.emit_learning(body, scope, names)
        if any(tr.on for tr in c.syn.traces):
            with body.block("if active:"):
                self.emit_trace_events(body, scope, names)
        doc = (f"Synapse {c.syn.name} ({c.layout}): a connection after all populations stepped: traces, "
               "learning (if plastic), trace events. True if a value it wrote is NaN/Inf.")
        return self.deliveries._function(f"learn_{c.syn.name}_{c.layout}", ["phase", "step", "active", "plastic"],
                                         scope, names, body, doc, "learn")

    def hooks(self) -> list[tuple[str, str, list[HandlerIR]]]:
        out: dict[tuple[str, str], list[HandlerIR]] = {}
        for h in self.c.syn.handlers:
            if h.trigger in ("start", "end"):
                out.setdefault((h.trigger, h.event), []).append(h)
        return [(e, p, hs) for (e, p), hs in out.items()]

    def hook_source(self, edge: str, phase: str, handlers: list[HandlerIR]) -> str:
        """`at EDGE of PHASE`: deliveries on every pair if active, learning on every pair if plastic."""
        c = self.c
        scope = Scope(self.plan, c.name, f"hook {edge} {phase}", INDICES | {"_v", "_n_", "_c_"})
        names = ConnNames(self.plan, c, scope)
        body = Code(1)
        handlers = [h for h in handlers if not h.phases or phase in h.phases]
        delivering = [(h, a, n) for h2, a, n in self.deliveries.statements for h in handlers if h2 is h]
        if delivering:
            with body.block("if active:"):
                for h, a, n in delivering:
                    self.deliveries.emit(body, scope, names, h, a, n, None)
        learning = [h for h in handlers if h.learning]
        if learning:
            with body.block("if plastic:"):
                names.pair_loop(body, lambda cd: self._pair(cd, scope, names, [(h, None) for h in learning]))
        return self.deliveries._function(f"hook_{c.syn.name}_{c.layout}_{edge}_{phase}",
                                         ["step", "active", "plastic"], scope, names, body,
                                         f"Synapse {c.syn.name}: a connection's `at {edge} of {phase}`.", "hook")


__all__ = ["Learning"]
