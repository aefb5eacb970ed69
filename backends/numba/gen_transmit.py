"""Transmission: a connection's delivery statements (`post.X += expr`), event-driven.

As backends/reference/connections.py: right after the source population stepped (if the
connection is active), each delivery of each handler whose phase runs adds
    post.X[b, i] += sum over the pairs (i, j) where the trigger fired and the mask holds of expr
into the target. The kernels visit only what can contribute:
  dense,  on pre    the presynaptic neurons that fired: each adds its row of the (N_pre, N_post)
                    storage (contiguous, vectorised) into per-target sums, in increasing j (the
                    reference sums all N_pre terms pairwise, so the results agree to a few ulps,
                    as the torch backend's matmuls do; events are compared exactly);
  dense,  every step  every row, the same way;
  dense,  on post   the post neurons whose event fired, each summing its column;
  sparse, on pre    the fired columns (contiguous in the pre-major storage) through the column
                    index, adding in increasing j, which is the order of the reference's
                    `bincount` over the CSR order, into the targets reached only;
  one_to_one        pair i alone.
A delay longer than the natural one (0 steps when the target steps later in the order, else 1)
goes through a ring buffer per statement that is added into the target at the start of step
`step + D` (`pending_C`).
"""

from __future__ import annotations

from snnlang.ir.model import Assign, HandlerIR

from ..codegen import source_text
from .code import Code, Kernel, decorator
from .conn_common import INDICES, ConnNames
from .plan import BuildError, ConnPlan, Plan
from .printer import describe
from .scope import Scope

STEP_TRIGGERS = ("pre", "post", "step")


class Deliveries:
    def __init__(self, plan: Plan, c: ConnPlan) -> None:
        self.plan = plan
        self.c = c
        self.statements: list[tuple[HandlerIR, Assign, int]] = []   # (handler, statement, number)
        for h in c.syn.handlers:
            for a in h.deliveries:
                var = a.target[len("post."):]
                if a.op not in ("+=", "-=") or var not in c.target.states:
                    raise BuildError(f"connection {c.name}: `{a.target} {a.op}` is not a delivery into a "
                                     f"variable of population {c.target.name}")
                if c.target.states[var].fixed is not None:
                    raise BuildError(f"connection {c.name}: delivers into the fixed-point `{c.target.name}.{var}`; "
                                     "delivery targets must be floats")
                self.statements.append((h, a, len(self.statements)))

    @property
    def delayed(self) -> bool:
        return self.c.delay != self.c.natural_delay

    def ring(self, names: ConnNames, number: int) -> str:
        return names.internal(f"_ring{number}", (self.c.delay, "B", self.c.n_post), "float64")

    # ------------------------------------------------------------ one statement

    def emit(self, code: Code, scope: Scope, names: ConnNames, h: HandlerIR, a: Assign, number: int,
             trigger: str | None) -> None:
        """Code for one delivery statement; `trigger` is "pre", "post" or None (every pair)."""
        c = self.c
        var = a.target[len("post."):]
        target = names.array(f"post_{var}", c.target.states[var].arg)
        ctx = names.pair_context(f"delivery `{a.target} {a.op} ...`")
        value = scope.expr(a.expr, ctx)
        mask = None if a.mask is None else scope.cond(a.mask, ctx)
        sign = "+" if a.op == "+=" else "-"

        def sink(amount: str) -> None:
            if self.delayed:
                ring = self.ring(names, number)
                code.line(f"{ring}[_slot, _b, _i] = {'' if sign == '+' else '-'}{amount}")
            else:
                code.line(f"{target}[_b, _i] = {target}[_b, _i] {sign} {amount}", a.origin)
                code.line(f"bad |= not numpy.isfinite({target}[_b, _i])")

        masked = value if mask is None else f"({value}) if {mask} else 0.0"
        code.comment(f"{a.target} {a.op} {describe(a.expr)}", a.origin)
        with code.block("for _b in range(_B):"):
            if c.layout == "dense" and trigger == "pre":
                # the presynaptic neurons that fired, each adding its contiguous row of the
                # (N_pre, N_post) storage into the sums
                acc = names.internal("_acc", (c.n_post,), "float64")
                js = names.internal("_js", (c.n_pre,), "int64")
                code.line(f"_m = _fired({names.flag('pre', h.event)}[_b], {js})")
                with code.block("if _m > 0:"):
                    with code.block(f"for _i in range({names.n_post}):"):
                        code.line(f"{acc}[_i] = 0.0")
                    with code.block("for _q in range(_m):"):
                        code.line(f"_j = {js}[_q]")
                        with code.block(f"for _i in range({names.n_post}):"):
                            code.line(f"{acc}[_i] += {masked}", a.origin)
                    with code.block(f"for _i in range({names.n_post}):"):
                        sink(f"{acc}[_i]")
            elif c.layout == "dense" and trigger is None:
                # every row of the (N_pre, N_post) storage into the sums, in increasing j
                acc = names.internal("_acc", (c.n_post,), "float64")
                with code.block(f"for _i in range({names.n_post}):"):
                    code.line(f"{acc}[_i] = 0.0")
                with code.block(f"for _j in range({names.n_pre}):"):
                    with code.block(f"for _i in range({names.n_post}):"):
                        code.line(f"{acc}[_i] += {masked}", a.origin)
                with code.block(f"for _i in range({names.n_post}):"):
                    sink(f"{acc}[_i]")
            elif c.layout == "dense":
                with code.block(f"for _i in range({names.n_post}):"):
                    flag = names.flag("post", h.event)
                    with code.block(f"if {flag}[_b, _i] != 0:"):
                        code.line("_a = 0.0")
                        with code.block(f"for _j in range({names.n_pre}):"):
                            code.line(f"_a += {masked}", a.origin)
                        sink("_a")
            elif c.layout == "one_to_one":
                with code.block(f"for _i in range({names.n_post}):"):
                    code.line("_j = _i")
                    test = []
                    if trigger is not None:
                        test.append(f"{names.flag(trigger, h.event)}[_b, _i] != 0")
                    if mask is not None:
                        test.append(mask)
                    if test:
                        with code.block(f"if {' and '.join(test)}:"):
                            sink(f"({value})")
                    else:
                        sink(f"({value})")
            elif trigger == "pre":   # sparse, through the column index
                # per-target sums of the targets the spikes reach (listed as first reached): a step
                # costs the scan of the sources plus its synaptic events, not O(N_post)
                ptr, row = names.csc_arrays()
                acc = names.internal("_acc", (c.n_post,), "float64")
                reached = names.internal("_reached", (c.n_post,), "bool")
                targets = names.internal("_targets", (c.n_post,), "int64")
                js = names.internal("_js", (c.n_pre,), "int64")
                code.line(f"_m = _fired({names.flag('pre', h.event)}[_b], {js})")
                code.line("_n = 0")
                with code.block("for _q in range(_m):"):
                    code.line(f"_j = {js}[_q]")
                    with code.block(f"for _k in range({ptr}[_j], {ptr}[_j + 1]):"):   # contiguous
                        code.line(f"_i = {row}[_k]")
                        block = code.block(f"if {mask}:") if mask is not None else None
                        if block:
                            block.__enter__()
                        with code.block(f"if {reached}[_i]:"):
                            code.line(f"{acc}[_i] += {value}", a.origin)
                        with code.block("else:"):
                            code.line(f"{reached}[_i] = True")
                            code.line(f"{targets}[_n] = _i")
                            code.line("_n += 1")
                            code.line(f"{acc}[_i] = {value}", a.origin)
                        if block:
                            block.__exit__(None, None, None)
                with code.block("for _q in range(_n):"):
                    code.line(f"_i = {targets}[_q]")
                    code.line(f"{reached}[_i] = False")
                    sink(f"{acc}[_i]")
            else:                    # sparse, row by row
                with code.block(f"for _i in range({names.n_post}):"):
                    test = f"{names.flag('post', h.event)}[_b, _i] != 0" if trigger == "post" else None
                    body = code.block(f"if {test}:") if test else None
                    if body:
                        body.__enter__()
                    code.line("_s = 0.0")

                    def add(cd, value=value, mask=mask):
                        if mask is None:
                            cd.line(f"_s += {value}", a.origin)
                        else:
                            with cd.block(f"if {mask}:"):
                                cd.line(f"_s += {value}", a.origin)
                    names.csr_loop(code, add)
                    sink("_s")
                    if body:
                        body.__exit__(None, None, None)

    # ------------------------------------------------------------ kernels

    def has_transmit(self) -> bool:
        return any(h.trigger in STEP_TRIGGERS for h, _, _ in self.statements)

    def kernels(self) -> dict[tuple, Kernel]:
        out = {}
        if self.has_transmit():
            out[("transmit",)] = self._transmit()
        if self.delayed and self.statements:
            out[("pending",)] = self._pending()
        return out

    def _transmit(self) -> str:
        c = self.c
        scope = Scope(self.plan, c.name, "transmit", INDICES)
        names = ConnNames(self.plan, c, scope)
        body = Code(1)
        for h, a, number in self.statements:
            if h.trigger not in STEP_TRIGGERS:
                continue
            flag = scope.phase_flag(h.phases)
            trigger = h.trigger if h.trigger in ("pre", "post") else None
            if flag is None:
                self.emit(body, scope, names, h, a, number, trigger)
            else:
                with body.block(f"if {flag}:"):
                    self.emit(body, scope, names, h, a, number, trigger)
        return self._function(f"transmit_{c.syn.name}_{c.layout}", ["phase", "step"], scope, names, body,
                              f"Synapse {c.syn.name} ({c.layout}): one step's deliveries of a connection. "
                              "True if a target became NaN/Inf.", "transmit")

    def _function(self, base: str, lead: list[str], scope: Scope, names: ConnNames, body: Code, doc: str,
                  role: str) -> Kernel:
        head = Code(1)
        head.line(f'"""{source_text(doc)}"""')
        scope.header(head, scope.needs_t)
        if "_slot" in body.text():
            head.line(f"_slot = step % {scope.scalar('delay', str(self.c.delay))}")
        if "_pairwise" in body.text():
            head.line("_tasks = numpy.empty((64, 5), numpy.int64)   # scratch of the pairwise sums")
            head.line("_sums = numpy.empty(64)")
        head.line("bad = False")
        params = [(x, ("ctx", x)) for x in lead] + [("seed", ("ctx", "seed")), ("consts", ("consts", self.c.name)),
                                                    ("_B", ("ctx", "batch"))]
        params += [(name, ("lit", actual)) for name, actual in scope.extra]
        params += [(name, ("array", actual)) for name, actual in names.args]
        out = Code()
        out.line(decorator(role))
        out.line(f"def __KERNEL__({', '.join(p for p, _ in params)}):")
        out.extend(head)
        out.extend(body)
        out.line("    return bad")
        return Kernel(base, out.text(), params)

    def _pending(self) -> str:
        c = self.c
        scope = Scope(self.plan, c.name, "pending", INDICES)
        names = ConnNames(self.plan, c, scope)
        body = Code(1)
        for h, a, number in self.statements:
            var = a.target[len('post.'):]
            target = names.array(f"post_{var}", c.target.states[var].arg)
            ring = self.ring(names, number)
            body.comment(f"delayed {a.target} {a.op} ... ({c.delay} steps)", a.origin)
            with body.block("for _b in range(_B):"):
                with body.block(f"for _i in range({names.n_post}):"):
                    body.line(f"{target}[_b, _i] = {target}[_b, _i] + {ring}[_slot, _b, _i]")
                    body.line(f"{ring}[_slot, _b, _i] = 0.0")
                    body.line(f"bad |= not numpy.isfinite({target}[_b, _i])")
        return self._function(f"pending_{c.syn.name}", ["step"], scope, names, body,
                              f"Synapse {c.syn.name}: the delayed deliveries of a connection due at this step.",
                              "pending")
