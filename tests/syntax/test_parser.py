"""Parser unit tests: text -> AST nodes (fields and spans), error recovery, and layout details."""

from __future__ import annotations

import textwrap

import pytest

from snnlang.diagnostics import CODES, Span
from snnlang.syntax import ast as A
from snnlang.syntax.parser import parse

# One file that uses every construct of the language notes.
FULL = '''\
"""Every construct once.

A second paragraph of the file docstring.
"""

import "lif.snn"
from "stdp.snn" import STDP, LIF2

neuron MC:
    """Multi-compartment neuron.

    Indented second paragraph.
    """
    param theta: float32 = 0.4
    state v = 0
    state q: fixed<8, scale = 2^-6, round = stochastic> = 0
    input I
    compartment basal:
        """Basal dendrite."""
        state c = 0
        input I_b
        c <- 0.5 * c + I_b
    dv/dt = -v / 10 + basal.c using exact
    spike when v > theta:
        v -= theta
    event pos when v >= 1:
        v -= 1
    event neg when v <= -1
    refractory 2
    trace x: tau 20 on spike += 1
    trace d: decay 0.5 on spike += 1 as fixed<7>
    trace n: sum on spike += 1
    trace psi: sum abs(v - theta) < 1
    trace m: mean spike
    during forward, feedback:
        trace e: sum I
    at start of forward:
        v = 0

synapse FB:
    param lr = 1e-3
    state w = 0
    on pre:
        post.I += w
    on post.pos:
        if w > 1:
            w = 1
        elif w < -1:
            w = -1
        else:
            w *= 0.5
    every step:
        post.I += w * pre.x
    during feedback:
        on post:
            w += lr * post.x * pre.x
    at end of feedback:
        w = 0

network demo:
    """The network."""
    param T_f = 20
    input x = poisson(784)
    label y = onehot(10)
    layer hid = MC(500)
    population out = MC(10, theta = 0.4)
    connect W1: x -> hid.basal with FB(dense)
    connect B1: out.pos -> hid with FB(sparse(p = 0.1), lr = 1e-3):
        init w = uniform(-0.1, 0.1)
        tie w = transpose(W1.w)
        delay 1
        connectivity dense
        param lr = 0.1
    connect x -> out with FB
    readout argmax(out.n)
    metric align = angle(B1.w, transpose(W1.w))
    timestep 0.1 ms
    simulate 1 s at dt = 0.1 ms
    schedule:
        phase forward(T_f):
            active x, W1
            plastic none
            reset all
        phase sleep(50) every 1000 samples
        infer forward
        batch mean
'''


def ok(text: str, file: str = "t.snn") -> A.Module:
    module, diags = parse(text, file)
    assert diags == [], [(d.code, str(d.span), d.message) for d in diags]
    return module


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def expr_of(source: str) -> A.Expr:
    """The value of `param a = SOURCE` in a neuron."""
    m = ok(f"neuron N:\n    param a = {source}\n")
    return m.definitions[0].members[0].value


def at(span: Span) -> tuple[int, int, int, int]:
    return span.line, span.col, span.end_line, span.end_col


def where(needle: str, line_text: str | None = None, text: str = None) -> tuple[int, int, int, int]:
    """(line, col, end_line, end_col) of `needle` in FULL, on the first line containing `line_text`."""
    text = FULL if text is None else text
    for n, line in enumerate(text.split("\n"), start=1):
        if (line_text or needle) in line:
            col = line.index(needle) + 1
            return n, col, n, col + len(needle)
    raise AssertionError(f"{needle!r} not in the text")


@pytest.fixture(scope="module")
def full() -> A.Module:
    return ok(FULL, "full.snn")


def members(defn, kind):
    return [m for m in defn.members if isinstance(m, kind)]


# ------------------------------------------------------------------ file level


def test_file_docstring_and_imports(full):
    assert full.file == "full.snn"
    assert full.doc == "Every construct once.\n\nA second paragraph of the file docstring."
    imp_all, imp_names = full.imports
    assert imp_all.path == "lif.snn" and imp_all.names is None
    assert at(imp_all.path_span) == where('"lif.snn"')
    assert imp_names.path == "stdp.snn" and imp_names.names == ("STDP", "LIF2")
    assert [at(s) for s in imp_names.name_spans] == [where("STDP"), where("LIF2")]
    assert [type(d).__name__ for d in full.definitions] == ["NeuronDef", "SynapseDef", "NetworkDef"]
    assert all(s.file == "full.snn" for s in (imp_all.span, full.definitions[0].span))


def test_definition_docstrings_are_dedented(full):
    neuron, synapse, network = full.definitions
    assert neuron.doc == "Multi-compartment neuron.\n\nIndented second paragraph."
    assert synapse.doc is None
    assert network.doc == "The network."
    comp = members(neuron, A.Compartment)[0]
    assert comp.doc == "Basal dendrite."


# ---------------------------------------------------------------------- neuron


def test_neuron_declarations(full):
    neuron = full.definitions[0]
    assert neuron.name == "MC" and at(neuron.name_span) == where("MC", "neuron MC")
    theta, = members(neuron, A.ParamDecl)
    assert theta.name == "theta" and at(theta.name_span) == where("theta", "param theta")
    assert isinstance(theta.type, A.NamedType) and theta.type.expr == A.Name(("float32",), theta.type.expr.span)
    assert theta.value.value == 0.4 and theta.value.text == "0.4"
    # a declaration's span is its own line: it ends where the text ends, not on the next line
    line, _, _, _ = where("theta", "param theta")
    assert at(theta.span) == (line, 5, line, 31)

    v, q = members(neuron, A.StateDecl)
    assert v.name == "v" and v.type is None and v.value.value == 0
    assert isinstance(q.type, A.FixedType)
    assert q.type.bits.value == 8
    scale, rnd = q.type.options
    assert scale.name == "scale" and isinstance(scale.value, A.BinOp) and scale.value.op == "^"
    assert isinstance(scale.value.right, A.UnaryOp) and scale.value.right.op == "-"
    assert rnd.name == "round" and rnd.value == A.Name(("stochastic",), rnd.value.span)

    port, = members(neuron, A.InputDecl)
    assert port.name == "I" and port.type is None


def test_compartment(full):
    comp, = members(full.definitions[0], A.Compartment)
    assert comp.name == "basal" and at(comp.name_span) == where("basal", "compartment basal")
    kinds = [type(m).__name__ for m in comp.members]
    assert kinds == ["StateDecl", "InputDecl", "UpdateDecl"]
    update = comp.members[2]
    assert update.var == "c" and at(update.var_span) == where("c", "c <- 0.5")
    assert isinstance(update.rhs, A.BinOp) and update.rhs.op == "+"


def test_ode_with_solver(full):
    ode, = members(full.definitions[0], A.OdeDecl)
    assert ode.var == "v" and ode.method == "exact"
    assert at(ode.var_span) == where("dv/dt")  # the `dv/dt` text
    assert at(ode.method_span) == where("exact")
    assert isinstance(ode.rhs, A.BinOp) and ode.rhs.op == "+"
    assert ode.rhs.right == A.Name(("basal", "c"), ode.rhs.right.span)
    assert at(ode.rhs.right.span) == where("basal.c", "dv/dt")


def test_ode_lhs_with_spaces_and_without_solver():
    m = ok("neuron N:\n    state v = 0\n    dv / dt = -v\n")
    ode = m.definitions[0].members[1]
    assert isinstance(ode, A.OdeDecl) and ode.var == "v" and ode.method is None and ode.method_span is None


def test_events_and_refractory(full):
    neuron = full.definitions[0]
    spike, pos, neg = members(neuron, A.EventDecl)
    assert spike.name == "spike" and spike.is_spike
    assert at(spike.name_span) == where("spike", "spike when")
    assert isinstance(spike.cond, A.Compare) and spike.cond.op == ">"
    reset, = spike.body
    assert reset.op == "-=" and reset.target.parts == ("v",) and reset.value.parts == ("theta",)
    assert pos.name == "pos" and not pos.is_spike and at(pos.name_span) == where("pos", "event pos")
    assert pos.cond.op == ">=" and len(pos.body) == 1
    assert neg.name == "neg" and neg.body == ()
    assert isinstance(neg.cond.right, A.UnaryOp)
    refr, = members(neuron, A.RefractoryDecl)
    assert refr.period.value == 2


def test_traces(full):
    traces = {t.name: t for t in members(full.definitions[0], A.TraceDecl)}
    assert set(traces) == {"x", "d", "n", "psi", "m"}
    x = traces["x"]
    assert x.kind == "tau" and x.arg.value == 20 and x.type is None
    on, = x.on
    assert on.event.parts == ("spike",) and on.op == "+=" and on.value.value == 1
    d = traces["d"]
    assert d.kind == "decay" and d.arg.value == 0.5
    assert isinstance(d.type, A.FixedType) and d.type.bits.value == 7 and d.type.options == ()
    n = traces["n"]
    assert n.kind == "sum" and n.arg is None and len(n.on) == 1
    psi = traces["psi"]
    assert psi.kind == "sum" and isinstance(psi.arg, A.Compare) and psi.on == ()
    assert isinstance(psi.arg.left, A.Call) and psi.arg.left.func == "abs"
    m = traces["m"]
    assert m.kind == "mean" and m.arg == A.Name(("spike",), m.arg.span)


def test_during_and_phase_hook(full):
    neuron = full.definitions[0]
    during, = members(neuron, A.During)
    assert during.phases == ("forward", "feedback")
    assert [at(s) for s in during.phase_spans] == [where("forward", "during forward"), where("feedback", "during forward")]
    trace, = during.members
    assert isinstance(trace, A.TraceDecl) and trace.name == "e"
    hook, = members(neuron, A.PhaseHook)
    assert hook.edge == "start" and hook.phase == "forward" and at(hook.phase_span) == where("forward", "at start of")
    assert hook.body[0].op == "=" and hook.body[0].target.parts == ("v",)


# --------------------------------------------------------------------- synapse


def test_synapse_handlers(full):
    syn = full.definitions[1]
    assert syn.name == "FB"
    pre, post_pos = members(syn, A.OnHandler)
    assert pre.event.parts == ("pre",)
    deliver, = pre.body
    assert deliver.target.parts == ("post", "I") and deliver.op == "+="
    assert at(deliver.target.span) == where("post.I", "post.I += w")
    assert post_pos.event.parts == ("post", "pos") and at(post_pos.event.span) == where("post.pos")
    step, = members(syn, A.StepHandler)
    assert step.body[0].value.right.parts == ("pre", "x")
    during, = members(syn, A.During)
    assert during.phases == ("feedback",)
    inner, = during.members
    assert isinstance(inner, A.OnHandler) and inner.event.parts == ("post",)
    hook, = members(syn, A.PhaseHook)
    assert hook.edge == "end" and hook.phase == "feedback"


def test_if_elif_else(full):
    post_pos = members(full.definitions[1], A.OnHandler)[1]
    stmt, = post_pos.body
    assert isinstance(stmt, A.If)
    assert stmt.cond.op == ">" and stmt.body[0].value.value == 1
    (elif_cond, elif_body), = stmt.elifs
    assert elif_cond.op == "<" and elif_body[0].value.operand.value == 1
    assert stmt.orelse[0].op == "*=" and stmt.orelse[0].value.value == 0.5


# --------------------------------------------------------------------- network


def test_network_populations(full):
    net = full.definitions[2]
    param, = members(net, A.ParamDecl)
    assert param.name == "T_f" and param.value.value == 20
    x, = members(net, A.InputPop)
    assert x.name == "x" and x.encoder.func == "poisson" and x.encoder.args[0].value == 784
    assert at(x.encoder.func_span) == where("poisson")
    y, = members(net, A.LabelPop)
    assert y.name == "y" and y.encoder.func == "onehot"
    hid, out = members(net, A.Population)
    assert hid.name == "hid" and hid.neuron.func == "MC" and hid.neuron.args[0].value == 500
    assert out.name == "out" and out.neuron.kwargs[0].name == "theta" and out.neuron.kwargs[0].value.value == 0.4


def test_connect_forms(full):
    net = full.definitions[2]
    w1, b1, plain = members(net, A.Connect)
    assert w1.name == "W1" and at(w1.name_span) == where("W1", "connect W1")
    assert w1.source.parts == ("x",) and w1.target.parts == ("hid", "basal")
    assert w1.synapse == "FB" and at(w1.synapse_span) == where("FB", "connect W1")
    assert w1.args == (A.Name(("dense",), w1.args[0].span),) and w1.kwargs == () and w1.options == ()

    assert b1.source.parts == ("out", "pos")
    conn = b1.args[0]
    assert isinstance(conn, A.Call) and conn.func == "sparse" and conn.kwarg("p").value == 0.1
    assert b1.kwargs[0].name == "lr"
    kinds = [(o.kind, o.var) if isinstance(o, A.ConnOption) else ("param", o.name) for o in b1.options]
    assert kinds == [("init", "w"), ("tie", "w"), ("delay", None), ("connectivity", None), ("param", "lr")]
    init, tie = b1.options[:2]
    assert init.value.func == "uniform" and len(init.value.args) == 2
    assert tie.value.func == "transpose" and tie.value.args[0].parts == ("W1", "w")

    assert plain.name is None and plain.name_span is None and plain.args == () and plain.kwargs == ()


def test_readout_metric_timing(full):
    net = full.definitions[2]
    readout, = members(net, A.Readout)
    assert readout.expr.func == "argmax" and readout.expr.args[0].parts == ("out", "n")
    metric, = members(net, A.Metric)
    assert metric.name == "align" and metric.expr.func == "angle"
    ts, = members(net, A.Timestep)
    assert isinstance(ts.dt, A.Quantity) and ts.dt.unit == "ms" and ts.dt.value == 0.1
    sim, = members(net, A.Simulate)
    assert sim.duration.unit == "s" and sim.dt.unit == "ms"


def test_schedule(full):
    sched, = members(full.definitions[2], A.Schedule)
    forward, sleep = sched.phases
    assert forward.name == "forward" and forward.steps.parts == ("T_f",) and forward.every is None
    active, plastic, reset = forward.stmts
    assert active.kind == "active" and active.names == ("x", "W1") and not active.everything
    assert [at(s) for s in active.name_spans] == [where("x", "active x"), where("W1", "active x")]
    assert plastic.kind == "plastic" and plastic.names == () and not plastic.everything  # `none`
    assert reset.kind == "reset" and reset.names == () and reset.everything  # `all`
    assert sleep.name == "sleep" and sleep.steps.value == 50 and sleep.every.value == 1000 and sleep.stmts == ()
    assert sched.infer.phases == ("forward",)
    assert sched.batch.mode == "mean"


# ------------------------------------------------------------------ expressions


def test_quantity_and_unit_names():
    q = expr_of("20 ms")
    assert isinstance(q, A.Quantity) and q.value == 20 and q.text == "20" and q.unit == "ms"
    assert at(q.unit_span) == (2, 18, 2, 20) and at(q.span) == (2, 15, 2, 20)
    rate = expr_of("1/ms")
    assert isinstance(rate, A.BinOp) and rate.op == "/" and rate.right == A.Name(("ms",), rate.right.span)
    neg = expr_of("-65 mV")
    assert isinstance(neg, A.UnaryOp) and isinstance(neg.operand, A.Quantity)
    assert expr_of("1.5e-3").value == 1.5e-3 and expr_of(".5").value == 0.5


def test_arithmetic_precedence_and_associativity():
    e = expr_of("a + b * c ^ 2")
    assert e.op == "+" and e.right.op == "*" and e.right.right.op == "^"
    e = expr_of("a - b - c")
    assert e.op == "-" and e.left.op == "-" and e.right.parts == ("c",)  # left-associative
    e = expr_of("2 ^ 3 ^ 2")
    assert e.op == "^" and e.right.op == "^"  # right-associative
    e = expr_of("-2 ^ 2")
    assert isinstance(e, A.UnaryOp) and e.operand.op == "^"  # -(2^2)
    e = expr_of("2 ** -6")
    assert e.op == "^" and isinstance(e.right, A.UnaryOp)  # `**` is normalised to `^`
    e = expr_of("(a + b) * c")
    assert e.op == "*" and e.left.op == "+"
    assert expr_of("a % b").op == "%"


def test_logic_comparison_conditional():
    e = expr_of("not x and y or z xor w")
    assert isinstance(e, A.Logic) and e.op == "or"
    assert e.left.op == "and" and isinstance(e.left.left, A.UnaryOp) and e.left.left.op == "not"
    assert e.right.op == "xor"
    for op in ("<", ">", "<=", ">=", "==", "!="):
        c = expr_of(f"a {op} b")
        assert isinstance(c, A.Compare) and c.op == op
    cond = expr_of("a if b > 1 else c")
    assert isinstance(cond, A.Conditional)
    assert cond.then.parts == ("a",) and cond.cond.op == ">" and cond.orelse.parts == ("c",)
    assert expr_of("true") == A.Boolean(True, expr_of("true").span)
    assert expr_of("false").value is False


def test_calls_and_dotted_names():
    call = expr_of("clip(w + 1, lo, hi = 3,)")
    assert isinstance(call, A.Call) and call.func == "clip"
    assert len(call.args) == 2 and call.kwargs[0].name == "hi" and call.kwarg("hi").value == 3
    assert call.kwarg("nope") is None
    assert at(call.func_span) == (2, 15, 2, 19)
    name = expr_of("post.apical.u")
    assert name.parts == ("post", "apical", "u") and name.dotted == "post.apical.u"
    assert at(name.span) == (2, 15, 2, 28)
    assert expr_of("uniform()").args == ()


def test_contextual_keywords_are_ordinary_names_elsewhere():
    m = ok(dedent("""
        neuron N:
            param tau = 20
            state sum = 0
            state mean = 0
            input on
            sum <- sum + on * tau
            trace x: tau tau on spike += 1
            spike when x > 1
    """))
    names = [getattr(m_, "name", getattr(m_, "var", None)) for m_ in m.definitions[0].members]
    assert names == ["tau", "sum", "mean", "on", "sum", "x", "spike"]
    trace = m.definitions[0].members[5]
    assert trace.kind == "tau" and trace.arg.parts == ("tau",)


def test_line_continuation_and_newlines_in_parentheses():
    m = ok("neuron N:\n    param a = 1 + \\\n        2\n    param b = (1 +\n        2)\n    param c = 3\n")
    a, b, c = m.definitions[0].members
    assert a.value.op == "+" and a.value.right.span.line == 3
    assert b.value.op == "+" and b.value.right.span.line == 5
    assert c.value.value == 3 and c.span.line == 6


# ------------------------------------------------------------------ layout


def test_empty_and_blank_files():
    for text in ("", "\n", "   \n\n  \n", "\r\n\r\n"):
        m, diags = parse(text, "e.snn")
        assert diags == [] and m.definitions == () and m.imports == () and m.doc is None


def test_comments_only_file():
    m = ok("# a model file with nothing in it yet\n   # an indented comment\n\n# another\n")
    assert m.definitions == () and m.doc is None


def test_docstring_only_file_with_and_without_final_newline():
    assert ok('"""Only a docstring."""\n').doc == "Only a docstring."
    assert ok('"""Only a docstring."""').doc == "Only a docstring."
    assert ok('"""\n    Indented\n    lines.\n"""\n').doc == "Indented\nlines."


def test_comments_and_blank_lines_inside_blocks():
    m = ok("neuron N:\n    param a = 1\n# flush-left comment\n    param b = 2\n\n\n    param c = 3  # trailing\n")
    assert [p.name for p in m.definitions[0].members] == ["a", "b", "c"]
    assert m.definitions[0].members[2].span.line == 7


def test_tabs_indent_like_four_spaces():
    spaces = "neuron N:\n    param tau = 10\n    state v = 0\n    spike when v > 1:\n        v = 0\n"
    tabs = spaces.replace("        ", "\t\t").replace("    ", "\t")
    m_tabs, m_spaces = ok(tabs), ok(spaces)
    # a tab counts as four columns, so the two files give identical ASTs, spans included
    assert m_tabs == m_spaces
    assert m_tabs.definitions[0].members[0].name_span.col == 11


def test_mixed_tab_and_space_indentation_at_the_same_depth():
    m = ok("neuron N:\n\tparam a = 1\n    param b = 2\n")
    assert [p.name for p in m.definitions[0].members] == ["a", "b"]


def test_crlf_line_endings_parse_like_lf():
    lf = FULL
    crlf = FULL.replace("\n", "\r\n")
    assert ok(crlf, "full.snn") == ok(lf, "full.snn")


def test_crlf_errors_are_located_like_lf():
    text = "neuron N:\n    param a = 1\n    state v = \n"
    (_, [d_lf]), (_, [d_crlf]) = parse(text, "x.snn"), parse(text.replace("\n", "\r\n"), "x.snn")
    assert (d_lf.code, d_lf.span) == (d_crlf.code, d_crlf.span)


def test_file_without_final_newline():
    m = ok("neuron N:\n    state v = 0\n    dv/dt = -v")
    assert isinstance(m.definitions[0].members[1], A.OdeDecl)


# ------------------------------------------------------------------ errors and recovery


def test_missing_colon():
    _, [d] = parse("neuron N\n    param a = 1\n", "x.snn")
    assert d.code == "E100" and (d.span.line, d.span.col) == (1, 9)
    assert any("`:`" in h for h in d.hints)


def test_update_written_with_equals_gets_a_hint():
    _, [d] = parse("neuron N:\n    state v = 0\n    v = v + 1\n", "x.snn")
    assert d.code == "E100" and (d.span.line, d.span.col) == (3, 7)
    assert any("<-" in h for h in d.hints)


def test_unclosed_parenthesis_at_end_of_file():
    _, [d] = parse("neuron N:\n    param a = (1 + 2\n", "x.snn")
    assert d.code == "E101" and d.span.line == 2
    assert any("line 2, column 15" in h for h in d.hints), d.hints


def test_unclosed_parenthesis_before_next_line_names_the_parenthesis():
    _, [d] = parse("neuron N:\n    param a = min(1, 2\n    param b = 3\n", "x.snn")
    assert d.code == "E100" and d.span.line == 3
    assert any("line 2, column 18" in h and "never closed" in h for h in d.hints), d.hints


def test_block_header_at_end_of_file():
    _, [d] = parse("neuron N:\n", "x.snn")
    assert d.code == "E101"
    _, [d] = parse("neuron N:\n    state v = 0\n    spike when v > 1:\n", "x.snn")
    assert d.code == "E101" and d.span.line == 3


def test_inconsistent_dedent():
    _, [d] = parse("neuron N:\n    state v = 0\n    spike when v > 1:\n            v = 0\n        v = 1\n", "x.snn")
    assert d.code == "E102" and (d.span.line, d.span.col) == (5, 9)


def test_brace_after_block_header():
    _, [d] = parse("neuron N:\n    spike when v > 1: {\n        v = 0\n    }\n", "x.snn")
    assert d.code == "E103" and (d.span.line, d.span.col) == (2, 23)
    assert any("indentation" in h for h in d.hints)


@pytest.mark.parametrize("char", [";", "[", "$", "'", "@", "?"])
def test_unexpected_characters(char):
    _, [d] = parse(f"neuron N:\n    param a = 1 {char}\n", "x.snn")
    assert d.code == "E103" and (d.span.line, d.span.col) == (2, 17), d


def test_unterminated_string():
    _, [d] = parse('import "lif.snn\n', "x.snn")
    assert d.code == "E104" and (d.span.line, d.span.col) == (1, 8)


def test_recovery_two_broken_blocks_two_diagnostics_good_blocks_kept():
    text = dedent("""
        \"\"\"Docstring survives.\"\"\"
        import "lif.snn"

        neuron Good1:
            state v = 0

        neuron Broken1
            state v = 0

        synapse Good2:
            state w = 0
            on pre:
                post.I += w

        neuron Broken2:
            state v = 0
            v <- (v + 1

        network good3:
            layer a = Good1(3)
    """)
    module, diags = parse(text, "r.snn")
    assert [(d.code, d.span.line) for d in diags] == [("E100", 7), ("E100", 17)]
    assert any("`:`" in h for h in diags[0].hints)
    assert any("never closed" in h for h in diags[1].hints)
    assert [d.name for d in module.definitions] == ["Good1", "Good2", "good3"]
    assert module.doc == "Docstring survives." and module.imports[0].path == "lif.snn"
    # the recovered blocks keep their real line numbers
    assert module.definitions[1].name_span.line == 10
    assert module.definitions[2].members[0].span.line == 20


def test_recovery_keeps_flush_left_comments_and_docstrings_with_their_block():
    text = dedent('''
        neuron A:
            """Doc
        with a flush-left line."""
            state v = 0
        # a comment in column 1 does not start a block
            state w = 0

        neuron B
            state v = 0
    ''')
    module, diags = parse(text, "r.snn")
    assert [d.code for d in diags] == ["E100"]
    (a,) = module.definitions
    assert a.name == "A" and [m.name for m in a.members] == ["v", "w"]


def test_every_syntax_diagnostic_has_a_known_code_and_a_location():
    broken = ["neuron", "neuron N:\n    param", "network n:\n    layer = X(1)\n", "synapse S:\n    on pre\n",
              "from \"x.snn\" import\n", "neuron N:\n    dv/dt = \n", "\t\tneuron N:\n", ")", "neuron N:\n  a\n b\n"]
    for text in broken:
        _, diags = parse(text, "b.snn")
        assert diags, text
        for d in diags:
            assert d.code in CODES and d.code.startswith("E1"), (text, d)
            assert d.span is not None and d.span.file == "b.snn" and d.span.line >= 1 and d.span.col >= 1


def test_layer_right_after_a_network_param():
    m = ok("network n:\n    param T = 20\n    layer hid = LIF(10)\n")
    assert [type(x).__name__ for x in m.definitions[0].members] == ["ParamDecl", "Population"]


def test_layer_after_other_network_members():
    m = ok("network n:\n    param T = 20\n    input x = poisson(3)\n    layer hid = LIF(10)\n"
           "    population out = LIF(2)\n")
    assert [type(x).__name__ for x in m.definitions[0].members] == ["ParamDecl", "InputPop", "Population",
                                                                   "Population"]
