"""A connection's initial values: at build, and at a `reset` (backends/reference/connections.py).

`init_C(step, seed, consts, mode, ...)`:
  mode 0 (build, step INIT_STEP): every variable from its `Var.init`, then the connection's
         `init` statements (`init w = kaiming_uniform()`);
  mode 1 (reset all): traces and hidden counters;
  mode 2 (reset of this connection by name): also its states that are neither `init`-initialised
         nor tied (the weights are kept).
Initial values are evaluated per pair with the RNG index i * N_pre + j (no batch), `fan_in` =
N_pre (dense), the row's pair count (sparse) or 1 (one_to_one), `fan_out` = N_post.
A sparse connection's pairs are drawn by the helper `_connect` (helpers.py).
"""

from __future__ import annotations

from ..codegen import source_text
from .code import Code, Kernel, decorator
from .conn_common import INDICES, ConnNames
from .plan import ConnPlan, Plan
from .printer import PrintError
from .scope import Scope, write



def init_name(c: ConnPlan) -> str:
    return f"init_{c.name}"


def init_source(plan: Plan, c: ConnPlan) -> Kernel:
    scope = Scope(plan, c.name, "init", INDICES)
    names = ConnNames(plan, c, scope)
    body = Code(1)
    if c.layout == "dense":
        fan_in = f"float({names.n_pre})"
    elif c.layout == "one_to_one":
        fan_in = "1.0"
    else:
        indptr, _ = names.sparse_arrays()
        fan_in = f"float({indptr}[_i + 1] - {indptr}[_i])"
    for st in c.owned():
        v = st.var
        if v.kind in ("trace", "hidden"):
            when = None
        elif v.name in c.init_names:
            when = "mode == 0"
        else:
            when = "mode != 1"
        block = body.block(f"if {when}:") if when else None
        if block:
            block.__enter__()
        if st.side == "syn":
            ctx = names.init_context(f"initial value of `{v.name}`", fan_in)
            value = scope.expr(v.init, ctx)

            def pair(cd, st=st, value=value):
                write(cd, scope, st, "_a", value, f"_i * {names.n_pre} + _j", v.origin)
                cd.line(f"{names.at_pair(st.var.name)} = _a")
            names.pair_loop(body, pair)
        else:
            ctx = names.init_context(f"initial value of `{v.name}`", fan_in, with_rng=False)
            try:
                value = scope.expr(v.init, ctx)
            except PrintError as exc:
                from .plan import BuildError
                raise BuildError(f"connection {c.name}: the initial value of the {st.side}-side `{v.name}` "
                                 "must not be random") from exc
            n = names.n_pre if st.side == "pre" else names.n_post
            idx = "_j" if st.side == "pre" else "_i"
            array = names.own(v.name)
            with body.block(f"for _b in range({array}.shape[0]):"):
                with body.block(f"for {idx} in range({n}):"):
                    write(body, scope, st, "_a", value, f"_b * {n} + {idx}", v.origin)
                    body.line(f"{array}[_b, {idx}] = _a")
        if block:
            block.__exit__(None, None, None)
    if c.ir.init:
        with body.block("if mode == 0:"):
            for var, expr in c.ir.init:
                st = c.states[var]
                ctx = names.init_context(f"`init {var}`", fan_in)
                value = scope.expr(expr, ctx)

                def pair(cd, st=st, value=value):
                    write(cd, scope, st, "_a", value, f"_i * {names.n_pre} + _j", c.ir.origin)
                    cd.line(f"{names.at_pair(st.var.name)} = _a")
                names.pair_loop(body, pair)
    head = Code(1)
    head.line(f'"""Synapse {source_text(c.syn.name)} ({c.layout}): initial values of a connection (mode 0 build, 1 reset '
              'traces, 2 reset states too)."""')
    scope.header(head, scope.needs_t)
    params = [("step", ("ctx", "step")), ("seed", ("ctx", "seed")), ("consts", ("consts", c.name)),
              ("mode", ("ctx", "mode"))]
    params += [(name, ("lit", actual)) for name, actual in scope.extra]
    params += [(name, ("array", actual)) for name, actual in names.args]
    out = Code()
    out.line(decorator("init"))
    out.line(f"def __KERNEL__({', '.join(p for p, _ in params)}):")
    out.extend(head)
    out.extend(body)
    return Kernel(f"init_{c.syn.name}_{c.layout}", out.text(), params)
