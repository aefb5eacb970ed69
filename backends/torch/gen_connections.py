"""Code of one connection: transmission, synapse traces, plasticity, hooks, initial values.

Semantics of backends/reference/connections.py, vectorised:

Transmission (right after the source population stepped, if the connection is active): each
delivery `post.X += expr` of a handler whose phase runs adds sum_j over the pairs where the
trigger fired (and the mask holds) of expr into the target. Dense: a separable expression is a
matmul (pairs.py), anything else a masked sum over (batch, N_post, N_pre); one_to_one:
elementwise; sparse: the pairs' values (batch, nnz) gathered from the neurons and summed into
their rows (index_add). A delay longer than the natural one queues the amount in `Q` until the
start of step `step + D`.

After all populations stepped: if active, the traces decay; if plastic, the learning statements
of the handlers whose phase runs; if active, the traces' `on` clauses. Learning follows the
reference: each batch row b updates its own copy W_b of what it writes, starting from the shared
W; then W <- W_1 (one row) or W + reduce_b(W_b - W), `reduce` being the model's `batch sum|mean`
over every row of every process (G.R, see distributed.py). For dense connections whose
statements are additive and separable (`w += lr * post.e * pre.a`, error-times-rate rules) the reduced
change is computed directly as a batched outer product (no per-row copies); statements that
read what an earlier one wrote, masks, and non-linear rules (`w = clip(...)`) take the per-row
path. Syn-side traces are shared by the batch; their per-step argument is reduced like a change.
"""

from __future__ import annotations

import math

import sympy

from snnlang.ir.model import Assign, HandlerIR, TraceIR

from .code import Code
from .pairs import PAIR, POST, PRE, SCALAR, separate, sum_over_batch, sum_over_pre, times
from .plan import BuildError, ConnPlan, Plan, StatePlan, fixed_args
from .printer import STOCHASTIC, Context, PrintError, float_literal, free_names, print_cond, print_expr, uses
from .scope import Scope, combine, phase_guard, write

STEP_TRIGGERS = ("pre", "post", "step")


class ConnectionCode:
    def __init__(self, plan: Plan, c: ConnPlan, mode: str, ties: dict[str, list[StatePlan]]) -> None:
        self.plan = plan
        self.c = c
        self.mode = mode
        self.ties = ties
        for h in c.syn.handlers:
            for a in h.deliveries:
                var = a.target[len("post."):]
                if a.op not in ("+=", "-=") or var not in c.target.states:
                    raise BuildError(f"connection {c.name}: `{a.target} {a.op}` is not a delivery into a "
                                     f"variable of population {c.target.name}")
            for a in h.learning:
                if c.sides.get(a.target) != "syn":
                    raise BuildError(
                        f"connection {c.name}: a handler of {c.syn.name} writes `{a.target}`; handlers may write "
                        "only per-pair states and syn-side traces (a pre/post-side trace would need a rule for "
                        "combining the pairs of a neuron)")
            if h.trigger == "pre":
                c.source_flag(h.event)
            elif h.trigger == "post":
                c.target_flag(h.event)
        for tr in c.syn.traces:
            side = c.sides[tr.name]
            for on in tr.on:
                peer, _, event = on.event.partition(".")
                if peer != side:
                    raise BuildError(f"connection {c.name}: trace `{tr.name}` ({side} side) counts `{on.event}`")
                (c.source_flag if peer == "pre" else c.target_flag)(event)
            if side == "syn" and tr.decay is not None:
                if any(n.startswith(("pre.", "post.")) for n in free_names(tr.decay)) or uses(tr.decay, STOCHASTIC):
                    raise BuildError(f"connection {c.name}: the decay of the per-pair trace `{tr.name}` must not "
                                     "depend on the batch row (pre./post. values)")
        self.form = {"dense": "full", "one_to_one": "o2o", "sparse": "sparse"}[c.layout]

    # ------------------------------------------------------------ names

    def _peer(self, side: str, var: str):
        c = self.c
        pop = c.source if side == "pre" else c.target
        if side == "pre" and var == "spike":
            var = c.ir.source_event
        return pop, var

    def kind_of(self, name: str) -> str | None:
        """What a name in a pair expression depends on (pairs.py)."""
        c = self.c
        side = c.sides.get(name)
        if side is not None:
            return {"syn": PAIR, "pre": PRE, "post": POST}[side]
        peer, _, var = name.partition(".")
        if peer in ("pre", "post") and var:
            pop, var = self._peer(peer, var)
            if var in pop.params:
                return SCALAR
            return PRE if peer == "pre" else POST
        return SCALAR

    def view(self, local: str, side: str, form: str, scope: Scope) -> str:
        """A (batch, N_side) tensor seen from the pairs."""
        if form == "full":
            return f"{local}[:, None, :]" if side == "pre" else f"{local}[:, :, None]"
        if form == "sparse":
            which = "cols" if side == "pre" else "rows"
            return f"{local}[:, {scope.index(f'{self.c.name}.{which}', ('csr', self.c.name, which))}]"
        return local

    def _common(self, scope: Scope, name: str, what: str) -> str:
        c = self.c
        if name in c.params:
            return scope.param(c.name, name)
        if name == "dt":
            return scope.dt()
        if name == "t":
            return scope.t()
        raise BuildError(f"connection {c.name}: {what} reads `{name}`, which is not defined there")

    def _constant(self, name: str) -> bool:
        if name in self.c.params or name == "dt":
            return True
        peer, _, var = name.partition(".")
        if peer in ("pre", "post") and var:
            pop, var = self._peer(peer, var)
            return var in pop.params
        return False

    def _host(self, name: str) -> str:
        if name == "dt":
            return "c[0]"
        if name in self.c.params:
            return f"c[{self.c.params[name].slot}]"
        peer, _, var = name.partition(".")
        pop, var = self._peer(peer, var)
        return f"c[{pop.params[var].slot}]"

    def _flag_view(self, flags: dict, name: str, form: str, scope: Scope) -> str | None:
        peer, _, var = name.partition(".")
        if peer not in ("pre", "post") or not var:
            return None
        pop, var = self._peer(peer, var)
        cached = flags.get(pop.name, {}).get(var)
        return None if cached is None else self.view(cached, peer, form, scope)

    def pair_context(self, scope: Scope, flags: dict, what: str, form: str | None = None,
                     rows: dict[str, str] | None = None, part: str | None = None) -> Context:
        """Names over the pairs (`form`: full | o2o | sparse), or one factor group of a separable
        dense expression (`part`: POST and PRE as (batch, N), PAIR as the matrix, SCALAR)."""
        c = self.c
        form = form or self.form
        rows = rows or {}

        def symbol(name: str) -> str:
            if name in rows:
                return rows[name]
            side = c.sides.get(name)
            if side == "syn":
                return c.states[name].local
            if side in ("pre", "post"):
                local = c.states[name].local
                return local if part is not None else self.view(local, side, form, scope)
            peer, _, var = name.partition(".")
            if peer in ("pre", "post") and var:
                pop, var = self._peer(peer, var)
                if var in pop.params:
                    return scope.param(pop.name, var)
                st = pop.states.get(var)
                if st is None:
                    raise BuildError(f"connection {c.name}: {what} reads `{name}`, which {pop.name} does not have")
                return st.local if part is not None else self.view(st.local, peer, form, scope)
            return self._common(scope, name, what)

        def draw(stream: int, dtype: str) -> str:
            return f"ops.uniform({scope.key(stream)}, {self._pair_index(scope)}, {dtype})"

        def normal(stream: int) -> str:
            return (f"ops.normal({scope.key(2 * stream + 0x10000)}, {scope.key(2 * stream + 0x10001)}, "
                    f"{self._pair_index(scope)}, DT)")

        flag = (lambda n: None) if part is not None else (lambda n: self._flag_view(flags, n, form, scope))
        return Context(symbol=symbol, constant=self._constant, host_symbol=self._host, hoist=scope.hoist,
                       draw=None if part is not None else draw, normal=None if part is not None else normal,
                       flag=flag, what=f"connection {c.name}: {what}")

    def side_context(self, scope: Scope, flags: dict, side: str, what: str) -> Context:
        """Names of a pre- or post-side trace's domain (batch, N_side)."""
        c = self.c
        n = c.n_pre if side == "pre" else c.n_post

        def symbol(name: str) -> str:
            if c.sides.get(name) == side:
                return c.states[name].local
            if name.startswith(side + "."):
                pop, var = self._peer(side, name[len(side) + 1:])
                if var in pop.params:
                    return scope.param(pop.name, var)
                if var in pop.states:
                    return pop.states[var].local
                raise BuildError(f"connection {c.name}: {what} reads `{name}`, which {pop.name} does not have")
            return self._common(scope, name, what)

        def draw(stream: int, dtype: str) -> str:
            return f"ops.uniform({scope.key(stream)}, {scope.index(f'n{n}', ('pop', n))}, {dtype})"

        def normal(stream: int) -> str:
            return (f"ops.normal({scope.key(2 * stream + 0x10000)}, {scope.key(2 * stream + 0x10001)}, "
                    f"{scope.index(f'n{n}', ('pop', n))}, DT)")

        def flag(name: str) -> str | None:
            if not name.startswith(side + "."):
                return None
            pop, var = self._peer(side, name[len(side) + 1:])
            return flags.get(pop.name, {}).get(var)

        return Context(symbol=symbol, constant=self._constant, host_symbol=self._host, hoist=scope.hoist,
                       draw=draw, normal=normal, flag=flag,
                       what=f"connection {c.name} ({side}synaptic side): {what}")

    def init_context(self, scope: Scope, what: str, random: bool = True) -> Context:
        c = self.c
        if c.layout == "sparse":
            fan_in = scope.index(f"{c.name}.fan_in", ("fan", c.name, "fan_in"))
            fan = (scope.index(f"{c.name}.sqrt_fan_in", ("fan", c.name, "sqrt_fan_in")),
                   scope.index(f"{c.name}.xavier", ("fan", c.name, "xavier")))
        else:
            n_in = float(c.n_pre if c.layout == "dense" else 1)
            fan_in = float_literal(n_in)
            fan = (float_literal(math.sqrt(n_in)), float_literal(math.sqrt(6.0 / (n_in + c.n_post))))

        def symbol(name: str) -> str:
            if name == "fan_in":
                return fan_in
            if name == "fan_out":
                return float_literal(float(c.n_post))
            return self._common(scope, name, what)

        def host(name: str) -> str:
            if name == "fan_in":
                return fan_in
            if name == "fan_out":
                return float_literal(float(c.n_post))
            return self._host(name)

        def constant(name: str) -> bool:
            if name == "fan_in":
                return c.layout != "sparse"
            return name == "fan_out" or name in c.params or name == "dt"

        def draw(stream: int, dtype: str) -> str:
            return f"ops.uniform({scope.key(stream)}, {self._dense_index(scope)}, {dtype})"

        def normal(stream: int) -> str:
            return (f"ops.normal({scope.key(2 * stream + 0x10000)}, {scope.key(2 * stream + 0x10001)}, "
                    f"{self._dense_index(scope)}, DT)")

        return Context(symbol=symbol, constant=constant, host_symbol=host, hoist=scope.hoist,
                       draw=draw if random else None, normal=normal if random else None,
                       fan=fan if random else None, what=f"connection {c.name}: {what}")

    def _pair_index(self, scope: Scope) -> str:
        """RNG indices of the pairs: b * N_post * N_pre + i * N_pre + j (every connectivity)."""
        return scope.index(f"{self.c.name}.pairs", ("pairs", self.c.name))

    def _dense_index(self, scope: Scope, st: StatePlan | None = None) -> str:
        """i * N_pre + j of every pair (initialisers, rounding of per-pair states). A tied view
        rounds with the original's indices, viewed the same way."""
        if st is not None and st.tie is not None:
            base, transposed = st.tie
            index = scope.index(f"{base.owner}.dense", ("dense", base.owner))
            return f"{index}.transpose(0, 1)" if transposed else index
        return scope.index(f"{self.c.name}.dense", ("dense", self.c.name))

    # ------------------------------------------------------------ printing

    def _print(self, expr, ctx: Context) -> str:
        try:
            return print_expr(expr, ctx)
        except PrintError as exc:
            raise BuildError(str(exc)) from None

    def _print_cond(self, expr, ctx: Context) -> str:
        try:
            return print_cond(expr, ctx)
        except PrintError as exc:
            raise BuildError(str(exc)) from None

    def _full_pairs(self, scope: Scope) -> str:
        """The shape of the pair domain (batch, *pair shape)."""
        c = self.c
        if c.layout == "dense":
            return f"(B, {c.n_post}, {c.n_pre})"
        if c.layout == "one_to_one":
            return f"(B, {c.n_post})"
        return f"(B, {scope.index(f'{c.name}.rows', ('csr', c.name, 'rows'))}.shape[0])"

    def _trigger_bool(self, scope: Scope, flags: dict, h: HandlerIR, form: str | None = None) -> str | None:
        c = self.c
        if h.trigger == "pre":
            st = c.source_flag(h.event)
            local = flags.get(c.source.name, {}).get(st.var.name) or f"({st.local} != 0)"
            return self.view(local, "pre", form or self.form, scope)
        if h.trigger == "post":
            st = c.target_flag(h.event)
            local = flags.get(c.target.name, {}).get(st.var.name) or f"({st.local} != 0)"
            return self.view(local, "post", form or self.form, scope)
        return None

    def _trigger_float(self, h: HandlerIR) -> tuple[str | None, str | None]:
        """(post factor, pre factor) of a trigger in a separable product: the 0/1 event flag."""
        if h.trigger == "pre":
            return None, self.c.source_flag(h.event).local
        if h.trigger == "post":
            return self.c.target_flag(h.event).local, None
        return None, None

    def _groups(self, scope: Scope, flags: dict, term, what: str) -> dict[str, str | None]:
        out = {}
        for kind in (SCALAR, POST, PRE, PAIR):
            expr = term.group(kind)
            out[kind] = None if expr is None else self._print(expr, self.pair_context(scope, flags, what, part=kind))
        return out

    # ------------------------------------------------------------ writes

    def _assign_syn(self, code: Code, scope: Scope, st: StatePlan, value: str, changed_only: bool,
                    origin=None) -> None:
        """A per-pair state gets `value` (shared by the batch); through a tie, the original does.
        Fixed point: quantised where the value changed (unchanged elements are not re-rounded)."""
        target, transposed = st, False
        if st.tie is not None:
            target, transposed = st.tie
        new = value
        if transposed:
            tmp = scope.temp("w")
            code.line(f"{tmp} = ({value}).transpose(0, 1)")
            new = tmp
        rindex = self._dense_index(scope, target) if target.fixed else None
        if target.fixed is not None and changed_only:
            tmp = scope.temp("w")
            code.line(f"{tmp} = {new}")
            write(code, scope, target, target.local, tmp, rindex, f"{tmp} != {target.local}", origin,
                  ste=self.mode == "bptt")
        else:
            write(code, scope, target, target.local, new, rindex, None, origin, ste=self.mode == "bptt")
        for tie in self.ties.get(target.name, []):
            code.line(f"{tie.local} = {target.local}.transpose(0, 1)" if tie.tie[1] else f"{tie.local} = {target.local}")

    def _write_side(self, code: Code, scope: Scope, st: StatePlan, value: str, mask: str | None = None,
                    origin=None) -> None:
        n = self.c.n_pre if st.side == "pre" else self.c.n_post
        rindex = scope.index(f"n{n}", ("pop", n)) if st.fixed else None
        write(code, scope, st, st.local, value, rindex, mask, origin, ste=self.mode == "bptt")

    def _add_to_target(self, code: Code, scope: Scope, var: str, sign: str, amount: str, origin=None) -> None:
        st = self.c.target.states[var]
        n = self.c.target.size
        rindex = scope.index(f"n{n}", ("pop", n)) if st.fixed else None
        write(code, scope, st, st.local, f"{st.local} {sign} {amount}", rindex, None, origin,
              ste=self.mode == "bptt")

    # ------------------------------------------------------------ transmission

    def delivery_vars(self) -> list[str]:
        out = []
        for h in self.c.syn.handlers:
            for a in h.deliveries:
                var = a.target[len("post."):]
                if var not in out:
                    out.append(var)
        return out

    def _amount(self, scope: Scope, flags: dict, h: HandlerIR | None, a: Assign, what: str) -> str:
        """Code of sum_j over the pairs where the trigger fired and the mask holds: (B, N_post)."""
        c = self.c
        if c.layout == "dense" and a.mask is None:
            terms = separate(a.expr, self.kind_of)
            if terms is not None:
                post_t, pre_t = self._trigger_float(h) if h is not None else (None, None)
                parts = []
                for term in terms:
                    g = self._groups(scope, flags, term, what)
                    parts.append(sum_over_pre(times(g[POST], post_t), times(g[PRE], pre_t), g[PAIR], g[SCALAR],
                                              c.n_pre))
                return " + ".join(parts) if len(parts) == 1 else " + ".join(f"({p})" for p in parts)
        ctx = self.pair_context(scope, flags, what)
        value = self._print(a.expr, ctx)
        full = self._full_pairs(scope)
        if self.mode == "bptt" and a.mask is None and h is not None and h.trigger in ("pre", "post"):
            # a product with the 0/1 spike instead of a selection, so the gradient reaches the spike
            post_t, pre_t = self._trigger_float(h)
            flag = self.view(pre_t, "pre", self.form, scope) if pre_t else self.view(post_t, "post", self.form, scope)
            value = f"ops.broadcast({value}, {full}, DT, {scope.device()}) * {flag}"
            return self._to_post(value, scope)
        keep = self._trigger_bool(scope, flags, h) if h is not None else None
        if a.mask is not None:
            mask = self._print_cond(a.mask, ctx)
            keep = mask if keep is None else f"({keep} & {mask})"
        value = f"ops.broadcast({value}, {full}, DT, {scope.device()})"
        if keep is not None:
            value = f"torch.where({keep}, {value}, 0.0)"
        return self._to_post(value, scope)

    def _to_post(self, value: str, scope: Scope) -> str:
        """Per-pair values (batch, *pair shape) summed into their post neurons: (batch, N_post)."""
        c = self.c
        if c.layout == "dense":
            return f"({value}).sum(-1)"
        if c.layout == "one_to_one":
            return value
        rows = scope.index(f"{c.name}.rows", ("csr", c.name, "rows"))
        return f"ops.to_post({value}, {rows}, {c.n_post})"

    def emit_delivery(self, code: Code, scope: Scope, flags: dict, h: HandlerIR | None, a: Assign) -> None:
        c = self.c
        var = a.target[len("post."):]
        code.comment(f"{a.target} {a.op} {a.expr}".replace("\n", " "), a.origin)
        amount = self._amount(scope, flags, h, a, f"delivery `{a.target} {a.op} ...`")
        sign = "+" if a.op == "+=" else "-"
        if c.delayed:
            target = c.target.states[var].local
            code.line(f"Q[{c.name!r}].append((step + {c.delay}, {self.delivery_vars().index(var)}, "
                      f"ops.broadcast({sign if sign == '-' else ''}({amount}), {target}.shape, DT, "
                      f"{scope.device()})))", a.origin)
        else:
            self._add_to_target(code, scope, var, sign, f"({amount})", a.origin)

    def emit_transmit(self, code: Code, scope: Scope, flags: dict) -> None:
        handlers = [h for h in self.c.syn.handlers if h.trigger in STEP_TRIGGERS and h.deliveries]
        if not handlers:
            return
        with code.block(f"if {self.c.name!r} in A:"):
            code.comment(f"connection {self.c.name}: {self.c.ir.source} -> {self.c.ir.target} with "
                         f"{self.c.syn.name}({self.c.layout})", self.c.ir.origin)
            for h in handlers:
                with code.block(phase_guard(h.phases)):
                    for a in h.deliveries:
                        self.emit_delivery(code, scope, flags, h, a)

    def emit_pending(self, code: Code, scope: Scope) -> None:
        """The delayed deliveries due at this step (before anything else steps)."""
        c = self.c
        if not c.delayed:
            return
        code.comment(f"connection {c.name}: deliveries sent {c.delay} steps ago", c.ir.origin)
        with code.block(f"for _var, _amount in ops.due(Q, {c.name!r}, step):"):
            for k, var in enumerate(self.delivery_vars()):
                with code.block(f"if _var == {k}:"):
                    self._add_to_target(code, scope, var, "+", "_amount")

    # ------------------------------------------------------------ learning

    def _learning_plan(self, handlers: list[HandlerIR]):
        """[(handler, statement, terms or "free")] if the dense fast path applies, else None."""
        if self.c.layout != "dense":
            return None
        written: set[str] = set()
        out = []
        for h in handlers:
            for a in h.learning:
                if free_names(a.expr, a.mask) & written or a.mask is not None:
                    return None
                batch_free = h.trigger == "step" and not uses(a.expr, STOCHASTIC) and all(
                    self.kind_of(n) in (PAIR, SCALAR) for n in free_names(a.expr))
                terms = separate(a.expr, self.kind_of) if a.op in ("+=", "-=") else None
                if terms is not None:
                    out.append((h, a, terms))
                elif batch_free and a.target not in written:
                    out.append((h, a, "free"))
                else:
                    return None
                written.add(a.target)
        return out

    def _ran_flag(self, code: Code, handlers: list[HandlerIR]) -> str | None:
        if any(not h.phases for h in handlers):
            return None
        code.line("_ran = False")
        return "_ran"

    def emit_learning(self, code: Code, scope: Scope, flags: dict, handlers: list[HandlerIR]) -> None:
        """The handlers' learning statements for every batch row, then the reduction over the batch."""
        c = self.c
        fast = self._learning_plan(handlers)
        targets = list(dict.fromkeys(a.target for h in handlers for a in h.learning))
        if fast is not None:
            code.comment("learning: batched outer products, reduced over the batch (in place)")
            terms = {v: scope.temp("c") for v in targets}
            free = {v: scope.temp("f") for v in targets}
            for v in targets:
                code.line(f"{terms[v]}, {free[v]} = [], []")
            for h, a, sep in fast:
                st = c.states[a.target]
                with code.block(phase_guard(h.phases)):
                    what = f"`{a.target} {a.op} ...`"
                    if sep == "free":
                        ctx = self.pair_context(scope, flags, what, part=PAIR)
                        value = combine(a.op, st.local, self._print(a.expr, ctx))
                        code.line(f"{free[a.target]}.append(B * (({value}) - {st.local}))", a.origin)
                        continue
                    post_t, pre_t = self._trigger_float(h)
                    for term in sep:
                        g = self._groups(scope, flags, term, what)
                        post, pre, pair = times(g[POST], post_t), times(g[PRE], pre_t), g[PAIR]
                        scalar = g[SCALAR]
                        if a.op == "-=":
                            scalar = "-1" if scalar is None else f"-({scalar})"
                        if scalar is not None:
                            if post is not None:
                                post = times(post, scalar)
                            elif pre is not None:
                                pre = times(pre, scalar)
                            else:
                                pair = times(pair, scalar)
                        code.line(f"{terms[a.target]}.append(({post}, {pre}, {pair}))", a.origin)
            for v in targets:
                st = c.states[v]
                with code.block(f"if {terms[v]} or {free[v]}:"):
                    code.line(f"_change = ops.outer_change(G.R, {terms[v]}, {free[v]}, {c.n_post}, B, G.row_updates)")
                    with code.block("if _change is not None:"):
                        base = st.tie[0] if st.tie is not None else st
                        extra = ""
                        if base.fixed is not None:
                            key = scope.key(base.stream) if base.fixed.rounding == "stochastic" else "None"
                            extra = f", ({fixed_args(base.fixed)}), {key}, {self._dense_index(scope, st)}"
                        code.line(f"ops.apply_change({st.local}, _change{extra})")
            return
        code.comment("learning: every batch row on its own copy, then reduced over the batch")
        full = self._full_pairs(scope)
        rows = {v: scope.temp("rows") for v in targets}
        ran = self._ran_flag(code, handlers)
        for v in targets:
            code.line(f"{rows[v]} = {c.states[v].local}.expand({full})")
        for h in handlers:
            with code.block(phase_guard(h.phases)):
                if ran:
                    code.line(f"{ran} = True")
                trigger = self._trigger_bool(scope, flags, h)
                for a in h.learning:
                    st = c.states[a.target]
                    what = f"`{a.target} {a.op} ...`"
                    ctx = self.pair_context(scope, flags, what, rows=rows)
                    new = combine(a.op, rows[a.target], self._print(a.expr, ctx))
                    keep = trigger
                    if a.mask is not None:
                        mask = self._print_cond(a.mask, ctx)
                        keep = mask if keep is None else f"({keep} & {mask})"
                    value = (f"torch.where({keep}, {new}, {rows[a.target]})" if keep is not None
                             else f"ops.broadcast({new}, {full}, DT, {scope.device()})")
                    if st.dtype is not None:
                        value = f"({value}).to(torch.{st.dtype})"
                    code.line(f"{rows[a.target]} = {value}", a.origin)
        with code.block(f"if {ran}:" if ran else None):
            for v in targets:
                st = c.states[v]
                code.line(f"_new = {rows[v]}[0] if G.R.rows == 1 else {st.local} + G.R.reduce(({rows[v]} - {st.local}).sum(0))")
                self._assign_syn(code, scope, st, "_new", True)

    # ------------------------------------------------------------ traces

    def emit_trace_dynamics(self, code: Code, scope: Scope, flags: dict) -> None:
        c = self.c
        for tr in c.syn.traces:
            if tr.kind != "mean" and tr.decay is None and tr.per_step is None:
                continue
            side = c.sides[tr.name]
            st = c.states[tr.name]
            with code.block(phase_guard(tr.phases)):
                code.comment(f"trace {tr.name}: {tr.kind} ({side} side)", tr.origin)
                if side == "syn":
                    self._syn_trace(code, scope, flags, tr, st)
                    continue
                ctx = self.side_context(scope, flags, side, f"trace `{tr.name}`")
                x = st.local
                if tr.kind == "mean":
                    count = c.states[tr.count_var]
                    arg = self._print(tr.per_step, ctx)
                    self._write_side(code, scope, st, f"{x} + (({arg}) - {x}) / ({count.local} + 1)", None, tr.origin)
                    self._write_side(code, scope, count, f"{count.local} + 1")
                else:
                    new = x if tr.decay is None else f"({self._print(tr.decay, ctx)}) * {x}"
                    if tr.per_step is not None:
                        new = f"{new} + ({self._print(tr.per_step, ctx)})"
                    self._write_side(code, scope, st, new if tr.decay is not None else f"ops.full({new}, {x})", None,
                                     tr.origin)

    def _reduced(self, scope: Scope, flags: dict, expr, what: str, code: Code) -> str:
        """Code of reduce_b(expr) over the pairs (one row: that row exactly)."""
        if self.c.layout == "dense":
            terms = separate(expr, self.kind_of)
            if terms is not None:
                parts = []
                for term in terms:
                    g = self._groups(scope, flags, term, what)
                    parts.append(sum_over_batch(g[POST], g[PRE], g[PAIR], g[SCALAR]))
                total = " + ".join(f"({p})" for p in parts)
                return f"G.R.reduce({total})"
        value = scope.temp("v")
        code.line(f"{value} = ops.broadcast({self._print(expr, self.pair_context(scope, flags, what))}, "
                  f"{self._full_pairs(scope)}, DT, {scope.device()})")
        return f"({value}[0] if G.R.rows == 1 else G.R.reduce({value}.sum(0)))"

    def _syn_trace(self, code: Code, scope: Scope, flags: dict, tr: TraceIR, st: StatePlan) -> None:
        c = self.c
        x = st.local
        what = f"trace `{tr.name}`"
        if tr.kind == "mean":
            count = c.states[tr.count_var]
            change = sympy.Mul(sympy.Add(tr.per_step, -sympy.Symbol(tr.name)),
                               sympy.Pow(sympy.Add(sympy.Symbol(tr.count_var), 1), -1))
            reduced = self._reduced(scope, flags, change, what, code)
            self._assign_syn(code, scope, st, f"{x} + {reduced}", False, tr.origin)
            self._assign_syn(code, scope, count, f"{count.local} + 1", False)
            return
        new = x
        if tr.decay is not None:
            new = f"({self._print(tr.decay, self.pair_context(scope, flags, what, part=PAIR))}) * {x}"
        if tr.per_step is not None:
            new = f"{new} + {self._reduced(scope, flags, tr.per_step, what, code)}"
        self._assign_syn(code, scope, st, new if tr.decay is not None else f"ops.full({new}, {x})", False, tr.origin)

    def emit_trace_events(self, code: Code, scope: Scope, flags: dict) -> None:
        c = self.c
        for tr in c.syn.traces:
            if not tr.on:
                continue
            side = c.sides[tr.name]
            st = c.states[tr.name]
            with code.block(phase_guard(tr.phases)):
                for on in tr.on:
                    peer, _, event = on.event.partition(".")
                    flag_st = c.source_flag(event) if peer == "pre" else c.target_flag(event)
                    pop = c.source if peer == "pre" else c.target
                    ctx = self.side_context(scope, flags, side, f"`on {on.event}` of trace `{tr.name}`")
                    value = self._print(on.expr, ctx)
                    if self.mode == "bptt" and on.op in ("+=", "-="):
                        sign = "+" if on.op == "+=" else "-"
                        self._write_side(code, scope, st, f"{st.local} {sign} {flag_st.local} * ({value})", None,
                                         tr.origin)
                    else:
                        mask = flags.get(pop.name, {}).get(flag_st.var.name) or f"({flag_st.local} != 0)"
                        self._write_side(code, scope, st, combine(on.op, st.local, value), mask, tr.origin)

    def emit_learn_step(self, code: Code, scope: Scope, flags: dict) -> None:
        """The connection's part of the step after all populations stepped."""
        c = self.c
        dynamics = any(tr.kind == "mean" or tr.decay is not None or tr.per_step is not None for tr in c.syn.traces)
        learning = [h for h in c.syn.handlers if h.trigger in STEP_TRIGGERS and h.learning]
        events = any(tr.on for tr in c.syn.traces)
        if not (dynamics or learning or events):
            return
        code.comment(f"connection {c.name}: traces and plasticity", c.ir.origin)
        if dynamics:
            with code.block(f"if {c.name!r} in A:"):
                self.emit_trace_dynamics(code, scope, flags)
        if learning:
            with code.block(f"if {c.name!r} in P:"):
                self.emit_learning(code, scope, flags, learning)
        if events:
            with code.block(f"if {c.name!r} in A:"):
                self.emit_trace_events(code, scope, flags)

    # ------------------------------------------------------------ hooks and initial values

    def hooks(self) -> set[tuple[str, str]]:
        return {(h.trigger, h.event) for h in self.c.syn.handlers if h.trigger in ("start", "end")}

    def emit_hook(self, code: Code, scope: Scope, edge: str, phase: str) -> None:
        """`at EDGE of PHASE`: deliveries on every pair if active, learning on every pair if plastic."""
        c = self.c
        handlers = [h for h in c.syn.handlers if h.trigger == edge and h.event == phase
                    and (not h.phases or phase in h.phases)]
        flags: dict = {}
        delivering = [(h, a) for h in handlers for a in h.deliveries]
        if delivering:
            with code.block(f"if {c.name!r} in A:"):
                for h, a in delivering:
                    self.emit_delivery(code, scope, flags, None, a)
        learning = [h for h in handlers if h.learning]
        if learning:
            stripped = [HandlerIR("step", None, h.body, (), h.origin) for h in learning]
            with code.block(f"if {c.name!r} in P:"):
                self.emit_learning(code, scope, flags, stripped)

    def emit_init(self, code: Code, scope: Scope) -> None:
        """`mode` 0 (build): every variable from `Var.init`, then the connection's `init`; 1 (reset
        all): traces and hidden counters; 2 (reset by name): also its states that are neither
        `init`-initialised nor tied. Pending deliveries are dropped."""
        c = self.c
        for st in c.owned():
            v = st.var
            if v.kind in ("trace", "hidden"):
                when = None
            elif v.name in c.init_names:
                when = "if mode == 0:"
            else:
                when = "if mode != 1:"
            with code.block(when):
                if st.side == "syn":
                    ctx = self.init_context(scope, f"initial value of `{v.name}`")
                    value = self._print(v.init, ctx)
                    write(code, scope, st, st.local, f"ops.full({value}, {st.local})",
                          self._dense_index(scope) if st.fixed else None, None, v.origin)
                else:
                    ctx = self.init_context(scope, f"initial value of `{v.name}`", random=False)
                    try:
                        value = print_expr(v.init, ctx)
                    except PrintError as exc:
                        raise BuildError(f"connection {c.name}: the initial value of the {st.side}-side `{v.name}` "
                                         "must not be random") from exc
                    self._write_side(code, scope, st, f"ops.full({value}, {st.local})", None, v.origin)
        if c.ir.init:
            with code.block("if mode == 0:"):
                for var, expr in c.ir.init:
                    st = c.states[var]
                    value = self._print(expr, self.init_context(scope, f"`init {var}`"))
                    write(code, scope, st, st.local, f"ops.full({value}, {st.local})",
                          self._dense_index(scope) if st.fixed else None, None, c.ir.origin)
        if c.delayed:
            code.line(f"Q[{c.name!r}] = []")
