"""The kernel of a custom connection: transmission, synapse traces and learning.

This is backends/reference/connections.py statement for statement, so a custom connection
process computes what the oracle computes. Names a synapse expression reads, in the pair
domain (batch, *pair shape):
  own states / syn-side traces     `A['w']` (shared by the batch rows)
  own pre- / post-side traces      `L.pre(A['x'])` / `L.post(A['y'])`
  `pre.X` / `post.X`               the peer's value as received this step (`Vp` / `Vq`), gathered
                                   to the pairs (`pre.spike` is the connection's source event);
                                   a peer parameter arrives as a number
  params, `t`, `dt`                `P[...]`, `t`, `DT`
Transmission returns one amount per delivery statement (None where its handler did not run),
so the target adds them one by one, in the reference's order.
"""

from __future__ import annotations

import sympy

from snnlang.ir.model import ConnectionIR, NeuronIR, PopulationIR, SynapseIR

from .code import Code, class_name
from .gen_common import Leaves, fixed_spec, param_defaults, precision
from .gen_neuron import GenerationError

STEP_TRIGGERS = ("pre", "post", "step")


class PeerView:
    """What a connection reads of one of its two populations."""

    def __init__(self, pop: PopulationIR, neuron: NeuronIR | None) -> None:
        self.pop = pop
        self.neuron = neuron

    def has(self, var: str) -> bool:
        if self.neuron is None:
            return var in ("spike", "accumulator")
        return any(v.name == var for v in self.neuron.vars)

    def is_param(self, var: str) -> bool:
        return self.neuron is not None and any(v.name == var and v.kind == "param" for v in self.neuron.vars)

    def is_event(self, var: str) -> bool:
        if self.neuron is None:
            return var == "spike"
        return any(v.name == var and v.kind == "event" for v in self.neuron.vars)


def peer_reads(conn: ConnectionIR, syn: SynapseIR) -> tuple[list[str], list[str]]:
    """The peer variables the connection reads: (pre names, post names), in a stable order.
    `pre.spike` is the source event; trigger and trace-clause events are included."""
    pre: set[str] = set()
    post: set[str] = set()

    def take(expr):
        if expr is None:
            return
        for s in sympy.sympify(expr).free_symbols:
            peer, _, var = s.name.partition(".")
            if peer == "pre" and var:
                pre.add(conn.source_event if var == "spike" else var)
            elif peer == "post" and var:
                post.add(var)

    for v in syn.vars:
        take(v.init)
    for tr in syn.traces:
        take(tr.decay)
        take(tr.per_step)
        for on in tr.on:
            take(on.expr)
            peer, _, event = on.event.partition(".")
            (pre if peer == "pre" else post).add(conn.source_event if (peer == "pre" and event == "spike") else event)
    for h in syn.handlers:
        if h.trigger == "pre":
            pre.add(conn.source_event if h.event == "spike" else h.event)
        elif h.trigger == "post":
            post.add(h.event)
        for a in h.body:
            take(a.expr)
            take(a.mask)
    return sorted(pre), sorted(post)


def transmit_reads_post(syn: SynapseIR) -> bool:
    """True if a delivery reads the target (its expression, mask or an `on post` trigger)."""
    for h in syn.handlers:
        if not h.deliveries or h.trigger not in STEP_TRIGGERS:
            continue
        if h.trigger == "post":
            return True
        for a in h.deliveries:
            for e in (a.expr, a.mask):
                if e is not None and any(s.name.startswith("post.") for s in sympy.sympify(e).free_symbols):
                    return True
    return False


def delivery_list(syn: SynapseIR) -> list[tuple[int, int, str, str]]:
    """(handler index, statement index, target var, op) of every transmitting delivery."""
    out = []
    for k, h in enumerate(syn.handlers):
        if h.trigger in STEP_TRIGGERS:
            for j, a in enumerate(h.deliveries):
                out.append((k, j, a.target[len("post."):], a.op))
    return out


class _Names:
    def __init__(self, conn: ConnectionIR, syn: SynapseIR, pre: PeerView, post: PeerView) -> None:
        self.conn, self.syn, self.pre, self.post = conn, syn, pre, post
        self.sides = {v.name: (v.side if v.side in ("pre", "post") else "syn")
                      for v in syn.vars if v.kind != "param"}
        self.params = {v.name for v in syn.of_kind("param")}
        self.where = f"connection {conn.name} (synapse {syn.name})"

    def _peer(self, peer: str, var: str, gather: bool) -> str:
        view = self.pre if peer == "pre" else self.post
        if peer == "pre" and var == "spike":
            var = self.conn.source_event
        if not view.has(var):
            raise GenerationError(f"{self.where}: reads `{peer}.{var}`, which population "
                                  f"{view.pop.name} does not have")
        table = "Vp" if peer == "pre" else "Vq"
        if view.is_param(var):
            return f"{table}[{var!r}]"
        return f"L.{peer}({table}[{var!r}])" if gather else f"{table}[{var!r}]"

    def common(self, name: str) -> str | None:
        if name in self.params:
            return f"P[{name!r}]"
        if name == "t":
            return "t"
        if name == "dt":
            return "DT"
        return None

    def pair(self, rows: set[str] | None = None) -> Leaves:
        def code(name: str) -> str:
            side = self.sides.get(name)
            if side is not None:
                if side == "syn":
                    own = f"A[{name!r}]"
                    return f"(rows[{name!r}] if {name!r} in rows else {own})" if rows and name in rows else own
                return f"L.{side}(A[{name!r}])"
            peer, _, var = name.partition(".")
            if peer in ("pre", "post") and var:
                return self._peer(peer, var, gather=True)
            out = self.common(name)
            if out is None:
                raise GenerationError(f"{self.where}: reads `{name}`, which is not defined there")
            return out
        return Leaves(code)

    def side(self, side: str) -> Leaves:
        def code(name: str) -> str:
            if self.sides.get(name) == side:
                return f"A[{name!r}]"
            if name.startswith(side + "."):
                return self._peer(side, name[len(side) + 1:], gather=False)
            out = self.common(name)
            if out is None:
                raise GenerationError(f"{self.where}: the {side}-side trace reads `{name}`, which is not "
                                      "defined on that side")
            return out
        return Leaves(code, domain=f"self.side_domains[{side!r}]")

    def init(self) -> Leaves:
        def code(name: str) -> str:
            if name == "fan_in":
                return "L.fan_in"
            if name == "fan_out":
                return "L.fan_out"
            out = self.common(name)
            if out is None:
                raise GenerationError(f"{self.where}: an initial value reads `{name}`; only parameters, "
                                      "fan_in, fan_out, t and dt are defined there")
            return out
        return Leaves(code, domain="self.init_domain")


def generate_connection(conn: ConnectionIR, index: int, n_populations: int, syn: SynapseIR,
                        pre: PeerView, post: PeerView, delay: int, natural: int) -> tuple[str, str]:
    """(class name, source) of the kernel of connection `conn` (index in the declaration order)."""
    if conn.tie is not None:
        raise GenerationError(f"connection {conn.name}: `tie` is not supported by the Lava backend")
    names = _Names(conn, syn, pre, post)
    name = class_name("Conn", conn.name)
    pre_reads, post_reads = peer_reads(conn, syn)
    learn_targets = {a.target for h in syn.handlers for a in h.learning}
    for t in learn_targets:
        if names.sides.get(t) != "syn":
            raise GenerationError(f"connection {conn.name}: a handler of {syn.name} writes `{t}`; only "
                                  "per-pair states and syn-side traces can be written by handlers")
    code = Code()
    with code.block(f"class {name}:"):
        code.line(f'"""Connection `{conn.name}`: {conn.source}.{conn.source_event} -> {conn.target}'
                  f'{"." + conn.compartment if conn.compartment else ""} with {syn.name} ({conn.connectivity}) '
                  '(kernel of a custom process)."""')
        code.line()
        code.line(f"NAME = {conn.name!r}")
        code.line(f"INDEX = {index}")
        code.line(f"OWNER = {n_populations + index}")
        code.line(f"SOURCE, TARGET, SOURCE_EVENT = {conn.source!r}, {conn.target!r}, {conn.source_event!r}")
        code.line(f"LAYOUT, N_POST, N_PRE, P_SPARSE = {conn.connectivity!r}, {post.pop.size}, {pre.pop.size}, "
                  f"{conn.p!r}")
        rows = []
        for k, v in enumerate(syn.vars):
            if v.kind == "param":
                continue
            rows.append(f"({v.name!r}, {v.kind!r}, {names.sides[v.name]!r}, {fixed_spec(v.dtype)}, "
                        f"{precision(v)}, {k})")
        code.line("# (name, kind, side, fixed point, precision, index in SynapseIR.vars)")
        code.line("VARS = (" + "".join(r + ", " for r in rows) + ")")
        code.line(f"INIT = {tuple(v for v, _ in conn.init)!r}                 # states set by `init`")
        code.line(f"PARAMS = {tuple(v.name for v in syn.of_kind('param'))!r}")
        code.line(f"OVERRIDES = {dict(conn.params)!r}")
        code.line(f"PRE_READS = {tuple(pre_reads)!r}")
        code.line(f"POST_READS = {tuple(post_reads)!r}")
        code.line(f"PRE_PARAMS = {tuple(n for n in pre_reads if pre.is_param(n))!r}")
        code.line(f"POST_PARAMS = {tuple(n for n in post_reads if post.is_param(n))!r}")
        code.line(f"DELIVERIES = {tuple(delivery_list(syn))!r}   # (handler, statement, target, op)")
        code.line(f"SAME_STEP = {conn.same_step!r}")
        code.line(f"DELAY, NATURAL_DELAY = {delay}, {natural}")
        code.line(f"TRANSMIT_READS_POST = {transmit_reads_post(syn)!r}")
        code.line("BATCH_MODE = BATCH_MODE_OF_NETWORK")
        code.line()
        _constructor(code)
        code.line()
        param_defaults(code, syn.of_kind("param"))
        code.line()
        _initialise(code, conn, syn, names)
        code.line()
        _reset(code, syn, names)
        code.line()
        _transmit(code, syn, names)
        code.line()
        _learn(code, syn, names, learn_targets)
    return name, code.text()


def _constructor(code: Code) -> None:
    with code.block("def __init__(self, batch, seed, dtype, indptr=None, indices=None):"):
        code.line("self.batch, self.seed, self.dtype = batch, int(seed), numpy.dtype(dtype)")
        with code.block("if self.LAYOUT == 'sparse' and indptr is None:"):
            code.line("indptr, indices = R.Sparse.draw(self.N_POST, self.N_PRE, self.P_SPARSE, seed, self.INDEX)")
        code.line("self.L = L = R.layout(self.LAYOUT, self.N_POST, self.N_PRE, indptr, indices)")
        code.line("self.full_shape = (batch,) + L.pair_shape")
        code.line("n = self.N_POST * self.N_PRE")
        code.line("self.pairs = R.Domain(self.full_shape, R.element_index(batch, L.dense_index, n), seed, self.dtype)")
        code.line("self.init_domain = R.Domain(L.pair_shape, L.dense_index, seed, self.dtype, "
                  "fan_in=L.fan_in, fan_out=L.fan_out)")
        code.line("side_index = {'pre': R.element_index(batch, numpy.arange(self.N_PRE), self.N_PRE),")
        code.line("              'post': R.element_index(batch, numpy.arange(self.N_POST), self.N_POST)}")
        code.line("self.side_domains = {s: R.Domain((batch, self.N_PRE if s == 'pre' else self.N_POST), "
                  "side_index[s], seed, self.dtype) for s in ('pre', 'post')}")
        code.line("self.shapes, self.specs = {}, {}")
        with code.block("for name, kind, side, fixed, prec, k in self.VARS:"):
            with code.block("if side == 'syn':"):
                code.line("shape, index = L.pair_shape, L.dense_index")
            with code.block("else:"):
                code.line("shape = (batch, self.N_PRE if side == 'pre' else self.N_POST)")
                code.line("index = side_index[side]")
            code.line("self.shapes[name] = (shape, numpy.dtype(prec or self.dtype))")
            code.line("self.specs[name] = (fixed, R.rounding_stream(self.OWNER, k), index)")
    code.line()
    with code.block("def arrays(self):"):
        code.line("return {name: numpy.zeros(shape, dtype=dtype) for name, (shape, dtype) in self.shapes.items()}")
    code.line()
    with code.block("def _at(self, step):"):
        code.line("for d in (self.pairs, self.init_domain, *self.side_domains.values()):")
        code.line("    d.step = step")
    code.line()
    with code.block("def _reduce(self, per_row):"):
        code.line('"""One value per batch row -> the shared one (sum or mean; row 0 when batch = 1)."""')
        with code.block("if self.batch == 1:"):
            code.line("return per_row[0]")
        code.line("return per_row.sum(axis=0) if self.BATCH_MODE == 'sum' else per_row.mean(axis=0)")


def _initialise(code: Code, conn: ConnectionIR, syn: SynapseIR, names: _Names) -> None:
    leaves = names.init()
    with code.block("def initialise(self, A, P):"):
        code.line('"""At build: every state from its declaration, then the connection\'s `init` (INIT_STEP)."""')
        code.line("step = R.INIT_STEP")
        code.line("self._at(step)")
        code.line("L = self.L")
        code.line("S = R.Store(A, self.specs, self.seed)")
        code.line("t = step * DT")
        with code.block("with numpy.errstate(all='ignore'):"):
            for v in syn.vars:
                if v.kind != "param":
                    code.line(f"S.write({v.name!r}, {leaves.expr(v.init)}, step)", v.origin)
            for var, expr in conn.init:
                if names.sides.get(var) != "syn":
                    raise GenerationError(f"connection {conn.name}: `init {var}` names no per-pair state of {syn.name}")
                code.line(f"S.write({var!r}, {leaves.expr(expr)}, step)", conn.origin)


def _reset(code: Code, syn: SynapseIR, names: _Names) -> None:
    leaves = names.init()
    with code.block("def reset(self, A, P, step, states):"):
        code.line('"""Traces and hidden counters back to their initial values; with `states`, also the '
                  'states\n        neither set by `init` nor tied (the weights are kept)."""')
        code.line("self._at(step)")
        code.line("L = self.L")
        code.line("S = R.Store(A, self.specs, self.seed)")
        code.line("t = step * DT")
        with code.block("with numpy.errstate(all='ignore'):"):
            for v in syn.vars:
                if v.kind in ("trace", "hidden"):
                    code.line(f"S.write({v.name!r}, {leaves.expr(v.init)}, step)", v.origin)
                elif v.kind == "state":
                    with code.block(f"if states and {v.name!r} not in self.INIT:"):
                        code.line(f"S.write({v.name!r}, {leaves.expr(v.init)}, step)", v.origin)


def _trigger(h, names: _Names) -> str | None:
    if h.trigger == "pre":
        event = names.conn.source_event if h.event == "spike" else h.event
        return f"L.pre(Vp[{event!r}] != 0)"
    if h.trigger == "post":
        return f"L.post(Vq[{h.event!r}] != 0)"
    return None


def _transmit(code: Code, syn: SynapseIR, names: _Names) -> None:
    leaves = names.pair()
    deliveries = delivery_list(syn)
    with code.block("def transmit(self, A, P, Vp, Vq, step, phase):"):
        code.line('"""The amounts of every delivery statement (None where its handler did not run)."""')
        code.line("self._at(step)")
        code.line("L, D, full = self.L, self.pairs, self.full_shape")
        code.line("t = step * DT")
        code.line(f"out = [None] * {len(deliveries)}")
        slot = 0
        with code.block("with numpy.errstate(all='ignore'):"):
            for h in syn.handlers:
                if h.trigger not in STEP_TRIGGERS or not h.deliveries:
                    continue
                guard = f"R.runs({tuple(h.phases)!r}, phase)" if h.phases else "True"
                with code.block(f"if {guard}:", h.origin):
                    trig = _trigger(h, names)
                    code.line(f"trigger = {trig if trig else 'None'}")
                    for a in h.deliveries:
                        code.line(f"value = D.full({leaves.expr(a.expr)})", a.origin)
                        code.line("keep = trigger")
                        if a.mask is not None:
                            code.line(f"m = R.as_mask({leaves.expr(a.mask)}, full)")
                            code.line("keep = m if keep is None else (keep & m)")
                        with code.block("if keep is not None:"):
                            code.line("value = numpy.where(numpy.broadcast_to(keep, full), value, 0)")
                        code.line("amount = L.to_post(value)")
                        code.line(f"out[{slot}] = {'-amount' if a.op == '-=' else 'amount'}")
                        slot += 1
        code.line("return out")


def _learn(code: Code, syn: SynapseIR, names: _Names, learn_targets: set[str]) -> None:
    pair_rows = names.pair(rows=learn_targets)
    with code.block("def learn(self, A, P, Vp, Vq, step, phase, active, plastic):"):
        code.line('"""After all populations stepped: traces, learning (if plastic), trace events."""')
        code.line("self._at(step)")
        code.line("L, D, full = self.L, self.pairs, self.full_shape")
        code.line("S = R.Store(A, self.specs, self.seed)")
        code.line("t = step * DT")
        with code.block("with numpy.errstate(all='ignore'):"):
            with code.block("if active:"):
                for tr in syn.traces:
                    _trace_dynamics(code, tr, names)
            has_learning = any(h.learning and h.trigger in STEP_TRIGGERS for h in syn.handlers)
            if has_learning:
                with code.block("if plastic:"):
                    code.line("rows = {}")
                    for h in syn.handlers:
                        if h.trigger not in STEP_TRIGGERS or not h.learning:
                            continue
                        guard = f"R.runs({tuple(h.phases)!r}, phase)" if h.phases else "True"
                        with code.block(f"if {guard}:", h.origin):
                            trig = _trigger(h, names)
                            code.line(f"trigger = {trig if trig else 'None'}")
                            for a in h.learning:
                                tgt = repr(a.target)
                                with code.block(f"if {tgt} not in rows:"):
                                    code.line(f"rows[{tgt}] = numpy.array(numpy.broadcast_to(A[{tgt}], full))")
                                code.line(f"old = rows[{tgt}]")
                                code.line(f"new = numpy.broadcast_to(R.combine({a.op!r}, old, "
                                          f"{pair_rows.expr(a.expr)}), full)", a.origin)
                                code.line("keep = trigger")
                                if a.mask is not None:
                                    code.line(f"m = R.as_mask({pair_rows.expr(a.mask)}, full)")
                                    code.line("keep = m if keep is None else (keep & m)")
                                with code.block("if keep is not None:"):
                                    code.line("new = numpy.where(numpy.broadcast_to(keep, full), new, old)")
                                code.line(f"rows[{tgt}] = numpy.array(new, dtype=A[{tgt}].dtype)")
                    with code.block("for var, per_row in rows.items():"):
                        code.line("old = A[var]")
                        code.line("new = per_row[0] if self.batch == 1 else old + self._reduce(per_row - old)")
                        code.line("S.write(var, new, step, mask=numpy.asarray(new != old))")
            with code.block("if active:"):
                for tr in syn.traces:
                    _trace_events(code, tr, names)


def _trace_dynamics(code: Code, tr, names: _Names) -> None:
    side = names.sides[tr.name]
    leaves = names.pair() if side == "syn" else names.side(side)
    x = f"A[{tr.name!r}]"
    full = "full" if side == "syn" else f"{x}.shape"
    dom = leaves.domain

    def body():
        if tr.kind == "mean":
            change = f"({dom}.full({leaves.expr(tr.per_step)}, {full}) - {x}) / (A[{tr.count_var!r}] + 1)"
            code.line(f"change = {change}", tr.origin)
            code.line(f"S.write({tr.name!r}, {x} + {'self._reduce(change)' if side == 'syn' else 'change'}, step)")
            code.line(f"S.write({tr.count_var!r}, A[{tr.count_var!r}] + 1, step)")
            return
        if tr.decay is None and tr.per_step is None:
            code.line("pass")
            return
        if side == "syn" and tr.decay is not None and any(n.startswith(("pre.", "post."))
                                                           for n in map(str, sympy.sympify(tr.decay).free_symbols)):
            raise GenerationError(f"the decay of the per-pair trace `{tr.name}` must not depend on the batch "
                                  "row (pre./post. values)")
        new = x if tr.decay is None else f"({leaves.expr(tr.decay)}) * {x}"
        if tr.per_step is not None:
            code.line(f"arg = {dom}.full({leaves.expr(tr.per_step)}, {full})", tr.origin)
            new = f"{new} + {'self._reduce(arg)' if side == 'syn' else 'arg'}"
        code.line(f"S.write({tr.name!r}, {new}, step)", tr.origin)

    if tr.phases:
        with code.block(f"if R.runs({tuple(tr.phases)!r}, phase):"):
            body()
    else:
        body()


def _trace_events(code: Code, tr, names: _Names) -> None:
    side = names.sides[tr.name]
    if not tr.on:
        return
    leaves = names.side(side) if side != "syn" else names.pair()

    def body():
        for on in tr.on:
            peer, _, event = on.event.partition(".")
            if peer != side:
                raise GenerationError(f"trace `{tr.name}` ({side} side) counts `{on.event}`")
            if peer == "pre":
                flag = f"Vp[{(names.conn.source_event if event == 'spike' else event)!r}] != 0"
            else:
                flag = f"Vq[{event!r}] != 0"
            code.line(f"S.write({tr.name!r}, R.combine({on.op!r}, A[{tr.name!r}], {leaves.expr(on.expr)}), "
                      f"step, {flag})", tr.origin)

    if tr.phases:
        with code.block(f"if R.runs({tuple(tr.phases)!r}, phase):"):
            body()
    else:
        body()
