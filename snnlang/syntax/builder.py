"""Lark parse tree -> AST (snnlang.syntax.ast). One method per named grammar rule."""

from __future__ import annotations

import inspect

from lark import Token, Transformer, v_args

from snnlang.diagnostics import Span
from snnlang.syntax import ast as A


def _strip_string(raw: str) -> str:
    if raw.startswith('"""'):
        # like Python docstrings: the common indentation of the lines after the first goes
        # (the first line starts right after the quotes, so it has none to share)
        return inspect.cleandoc(raw[3:-3])
    return raw[1:-1]


def _is(tok: object, *types: str) -> bool:
    return isinstance(tok, Token) and tok.type in types


class AstBuilder(Transformer):
    """Builds frozen AST nodes; all positions become `Span`s in `file`."""

    def __init__(self, file: str, line_offset: int = 0) -> None:
        super().__init__(visit_tokens=False)
        self.file = file
        # a top-level block re-parsed on its own (error recovery) starts at line 1 for Lark;
        # shifting here keeps recovery linear (padding the text with newlines was quadratic)
        self.line_offset = line_offset

    # ---------------------------------------------------------------- helpers
    def _span(self, meta) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.file, 0, 0, 0, 0)
        off = self.line_offset
        return Span(self.file, meta.line + off, meta.column, meta.end_line + off, meta.end_column)

    def _tspan(self, tok: Token) -> Span:
        off = self.line_offset
        return Span(self.file, tok.line + off, tok.column, tok.end_line + off, tok.end_column)

    def _join(self, a: Span, b: Span) -> Span:
        return Span(self.file, a.line, a.col, b.end_line, b.end_col)

    @staticmethod
    def _members(children) -> tuple:
        return tuple(c for c in children if c is not None and not isinstance(c, (Token, str)))

    def _doc_and_members(self, children):
        doc = None
        rest = []
        for c in children:
            if isinstance(c, _Doc):
                doc = c.text
            elif c is not None and not isinstance(c, Token):
                rest.append(c)
        return doc, tuple(rest)

    # ------------------------------------------------------------- file level
    @v_args(meta=True)
    def start(self, meta, children):
        return [c for c in children if c is not None]

    @v_args(meta=True)
    def file_doc(self, meta, children):
        return _FileDoc(_strip_string(children[0]))

    @v_args(meta=True)
    def doc(self, meta, children):
        return _Doc(_strip_string(children[0]))

    @v_args(meta=True)
    def import_all(self, meta, children):
        tok = children[0]
        return A.Import(_strip_string(tok), None, (), self._tspan(tok), self._span(meta))

    @v_args(meta=True)
    def import_names(self, meta, children):
        tok, *names = children
        return A.Import(
            _strip_string(tok), tuple(str(n) for n in names),
            tuple(self._tspan(n) for n in names), self._tspan(tok), self._span(meta),
        )

    # ------------------------------------------------------------ definitions
    @v_args(meta=True)
    def neuron_def(self, meta, children):
        name, *rest = children
        doc, members = self._doc_and_members(rest)
        return A.NeuronDef(str(name), doc, members, self._tspan(name), self._span(meta))

    @v_args(meta=True)
    def synapse_def(self, meta, children):
        name, *rest = children
        doc, members = self._doc_and_members(rest)
        return A.SynapseDef(str(name), doc, members, self._tspan(name), self._span(meta))

    @v_args(meta=True)
    def network_def(self, meta, children):
        name, *rest = children
        doc, members = self._doc_and_members(rest)
        return A.NetworkDef(str(name), doc, members, self._tspan(name), self._span(meta))

    @v_args(meta=True)
    def compartment(self, meta, children):
        name, *rest = children
        doc, members = self._doc_and_members(rest)
        return A.Compartment(str(name), doc, members, self._tspan(name), self._span(meta))

    # ---------------------------------------------------------------- members
    @v_args(meta=True)
    def param_decl(self, meta, children):
        name, typ, value = children
        return A.ParamDecl(str(name), typ, value, self._tspan(name), self._span(meta))

    @v_args(meta=True)
    def state_decl(self, meta, children):
        name, typ, value = children
        return A.StateDecl(str(name), typ, value, self._tspan(name), self._span(meta))

    @v_args(meta=True)
    def input_decl(self, meta, children):
        name, typ = children
        return A.InputDecl(str(name), typ, self._tspan(name), self._span(meta))

    @v_args(meta=True)
    def type_ann(self, meta, children):
        return children[0]

    @v_args(meta=True)
    def type_spec(self, meta, children):
        return children[0]

    @v_args(meta=True)
    def named_or_unit_type(self, meta, children):
        return A.NamedType(children[0], self._span(meta))

    @v_args(meta=True)
    def fixed_type(self, meta, children):
        args = [c for c in children if not _is(c, "LT", "GT")]
        positional = [a for a in args if not isinstance(a, A.Keyword)]
        options = tuple(a for a in args if isinstance(a, A.Keyword))
        bits = positional[0] if positional else A.Number(8.0, "8", self._span(meta))
        # extra positional arguments are reported by the type checker
        extra = tuple(A.Keyword("_positional", p, p.span) for p in positional[1:])
        return A.FixedType(bits, options + extra, self._span(meta))

    @v_args(meta=True)
    def ode(self, meta, children):
        lhs, rhs, method = children
        var = lhs[1:lhs.index("/")].strip()
        return A.OdeDecl(var, rhs, str(method) if method is not None else None,
                         self._tspan(lhs), self._span(meta),
                         self._tspan(method) if method is not None else None)

    @v_args(meta=True)
    def update(self, meta, children):
        name, rhs = children
        return A.UpdateDecl(str(name), rhs, self._tspan(name), self._span(meta))

    @v_args(meta=True)
    def spike_decl(self, meta, children):
        cond, *rest = children
        body = rest[0] if rest and isinstance(rest[0], tuple) else ()
        span = self._span(meta)
        name_span = Span(self.file, span.line, span.col, span.line, span.col + len("spike"))
        return A.EventDecl("spike", cond, body, True, name_span, span)

    @v_args(meta=True)
    def event_decl(self, meta, children):
        name, cond, *rest = children
        body = rest[0] if rest and isinstance(rest[0], tuple) else ()
        return A.EventDecl(str(name), cond, body, False, self._tspan(name), self._span(meta))

    @v_args(meta=True)
    def surrogate(self, meta, children):
        return A.SurrogateDecl(children[0], self._span(meta))

    @v_args(meta=True)
    def refractory(self, meta, children):
        period, *names = children
        names = [n for n in names if n is not None]
        return A.RefractoryDecl(period, self._span(meta), tuple(str(n) for n in names),
                                tuple(self._tspan(n) for n in names))

    @v_args(meta=True)
    def trace_decl(self, meta, children):
        name, (kind, arg), *rest = children
        ons = tuple(c for c in rest if isinstance(c, A.TraceOn))
        typ = rest[-1] if rest and isinstance(rest[-1], (A.FixedType, A.NamedType)) else None
        return A.TraceDecl(str(name), kind, arg, ons, typ, self._tspan(name), self._span(meta))

    def trace_tau(self, children):
        return ("tau", children[0])

    def trace_decay(self, children):
        return ("decay", children[0])

    def trace_sum(self, children):
        return ("sum", children[0] if children else None)

    def trace_mean(self, children):
        return ("mean", children[0])

    @v_args(meta=True)
    def trace_on(self, meta, children):
        event, op, value = children
        return A.TraceOn(event, str(op), value, self._span(meta))

    @v_args(meta=True)
    def trace_as(self, meta, children):
        return children[0]

    @v_args(meta=True)
    def during(self, meta, children):
        names = [c for c in children if _is(c, "NAME")]
        members = self._members(children)
        return A.During(tuple(str(n) for n in names), members,
                        tuple(self._tspan(n) for n in names), self._span(meta))

    syn_during = during

    @v_args(meta=True)
    def phase_hook(self, meta, children):
        edge, phase, body = children
        return A.PhaseHook(str(edge), str(phase), body, self._tspan(phase), self._span(meta))

    @v_args(meta=True)
    def on_handler(self, meta, children):
        event, body = children
        return A.OnHandler(event, body, self._span(meta))

    @v_args(meta=True)
    def step_handler(self, meta, children):
        return A.StepHandler(children[0], self._span(meta))

    @v_args(meta=True)
    def event_ref(self, meta, children):
        return A.Name(tuple(str(c) for c in children), self._span(meta))

    # ------------------------------------------------------------- statements
    def block(self, children):
        return tuple(c for c in children if c is not None)

    @v_args(meta=True)
    def assign(self, meta, children):
        target, op, value = children
        return A.Assign(target, str(op), value, self._span(meta))

    @v_args(meta=True)
    def target(self, meta, children):
        return A.Name(tuple(str(c) for c in children), self._span(meta))

    @v_args(meta=True)
    def if_stmt(self, meta, children):
        cond, body, *rest = children
        elifs = tuple(c for c in rest if isinstance(c, _Elif))
        orelse = next((c.body for c in rest if isinstance(c, _Else)), ())
        return A.If(cond, body, tuple((e.cond, e.body) for e in elifs), orelse, self._span(meta))

    def elif_clause(self, children):
        return _Elif(children[0], children[1])

    def else_clause(self, children):
        return _Else(children[0])

    # ---------------------------------------------------------------- network
    @v_args(meta=True)
    def input_pop(self, meta, children):
        name, call = children
        return A.InputPop(str(name), call, self._tspan(name), self._span(meta))

    @v_args(meta=True)
    def label_pop(self, meta, children):
        name, call = children
        return A.LabelPop(str(name), call, self._tspan(name), self._span(meta))

    @v_args(meta=True)
    def population(self, meta, children):
        name, call, *options = children
        return A.Population(str(name), call, self._tspan(name), self._span(meta), tuple(options))

    @v_args(meta=True)
    def store_option(self, meta, children):
        *names, typ = children
        return A.StoreOption(tuple(str(n) for n in names), tuple(self._tspan(n) for n in names), typ,
                             self._span(meta))

    @v_args(meta=True)
    def connect(self, meta, children):
        name, source, target, synapse, call_args, *options = children
        args, kwargs = call_args if call_args is not None else ((), ())
        return A.Connect(
            str(name) if name is not None else None, source, target, str(synapse),
            args, kwargs, tuple(o for o in options if o is not None),
            self._tspan(name) if name is not None else None, self._tspan(synapse),
            self._span(meta),
        )

    def call_args(self, children):
        items = [c for c in children if c is not None]
        return (tuple(c for c in items if not isinstance(c, A.Keyword)),
                tuple(c for c in items if isinstance(c, A.Keyword)))

    @v_args(meta=True)
    def endpoint(self, meta, children):
        return A.Name(tuple(str(c) for c in children), self._span(meta))

    @v_args(meta=True)
    def conn_connectivity(self, meta, children):
        return A.ConnOption("connectivity", None, children[0], self._span(meta))

    @v_args(meta=True)
    def conn_init(self, meta, children):
        return A.ConnOption("init", str(children[0]), children[1], self._span(meta))

    @v_args(meta=True)
    def conn_tie(self, meta, children):
        return A.ConnOption("tie", str(children[0]), children[1], self._span(meta))

    @v_args(meta=True)
    def conn_delay(self, meta, children):
        return A.ConnOption("delay", None, children[0], self._span(meta))

    def conn_option(self, children):
        return children[0]

    @v_args(meta=True)
    def readout(self, meta, children):
        return A.Readout(children[0], self._span(meta))

    @v_args(meta=True)
    def metric(self, meta, children):
        name, expr = children
        return A.Metric(str(name), expr, self._tspan(name), self._span(meta))

    @v_args(meta=True)
    def timestep(self, meta, children):
        return A.Timestep(children[0], self._span(meta))

    @v_args(meta=True)
    def simulate(self, meta, children):
        duration, dt = children
        return A.Simulate(duration, dt, self._span(meta))

    @v_args(meta=True)
    def schedule(self, meta, children):
        return A.Schedule(tuple(c for c in children if c is not None), self._span(meta))

    @v_args(meta=True)
    def phase_def(self, meta, children):
        name, steps, every, *stmts = children
        return A.PhaseDef(str(name), steps, every, tuple(s for s in stmts if s is not None),
                          self._tspan(name), self._span(meta))

    def every(self, children):
        return children[0]

    def _phase_stmt(self, kind, meta, children):
        toks = [c for c in children if isinstance(c, Token)]
        everything = len(toks) == 1 and toks[0].type == "ALL"
        names = tuple(str(t) for t in toks if t.type == "NAME")
        return A.PhaseStmt(kind, names, everything,
                           tuple(self._tspan(t) for t in toks if t.type == "NAME"), self._span(meta))

    @v_args(meta=True)
    def phase_active(self, meta, children):
        return self._phase_stmt("active", meta, children)

    @v_args(meta=True)
    def phase_plastic(self, meta, children):
        return self._phase_stmt("plastic", meta, children)

    @v_args(meta=True)
    def phase_reset(self, meta, children):
        return self._phase_stmt("reset", meta, children)

    @v_args(meta=True)
    def infer_decl(self, meta, children):
        return A.InferDecl(tuple(str(c) for c in children),
                           tuple(self._tspan(c) for c in children), self._span(meta))

    @v_args(meta=True)
    def batch_decl(self, meta, children):
        return A.BatchDecl(str(children[0]), self._span(meta))

    # ------------------------------------------------------------ expressions
    @v_args(meta=True)
    def number(self, meta, children):
        tok = children[0]
        return A.Number(float(tok), str(tok), self._span(meta))

    @v_args(meta=True)
    def quantity(self, meta, children):
        num, unit = children
        return A.Quantity(float(num), str(num), str(unit), self._tspan(unit), self._span(meta))

    @v_args(meta=True)
    def name(self, meta, children):
        return A.Name((str(children[0]),), self._span(meta))

    @v_args(meta=True)
    def boolean(self, meta, children):
        return A.Boolean(str(children[0]) == "true", self._span(meta))

    @v_args(meta=True)
    def attr(self, meta, children):
        base, attr = children
        span = self._span(meta)
        if isinstance(base, A.Name):
            return A.Name(base.parts + (str(attr),), span)
        # attribute of a non-name (e.g. `(x).y`): keep it as a name the checker rejects
        return A.Name(("<expr>", str(attr)), span)

    @v_args(meta=True)
    def call(self, meta, children):
        func, *rest = children
        args = [c for c in rest if c is not None]
        return A.Call(
            str(func), tuple(a for a in args if not isinstance(a, A.Keyword)),
            tuple(a for a in args if isinstance(a, A.Keyword)), self._tspan(func), self._span(meta),
        )

    @v_args(meta=True)
    def kwarg(self, meta, children):
        name, value = children
        return A.Keyword(str(name), value, self._span(meta))

    @v_args(meta=True)
    def binop(self, meta, children):
        left, op, right = children
        op = "^" if op == "**" else str(op)
        return A.BinOp(op, left, right, self._span(meta))

    @v_args(meta=True)
    def unary(self, meta, children):
        op, operand = children
        return A.UnaryOp(str(op), operand, self._span(meta))

    @v_args(meta=True)
    def compare(self, meta, children):
        left, op, right = children
        return A.Compare(str(op), left, right, self._span(meta))

    @v_args(meta=True)
    def logic(self, meta, children):
        left, op, right = children
        return A.Logic(str(op), left, right, self._span(meta))

    @v_args(meta=True)
    def cond_expr(self, meta, children):
        then, cond, orelse = children
        return A.Conditional(cond, then, orelse, self._span(meta))


class _Doc:
    def __init__(self, text: str) -> None:
        self.text = text


class _FileDoc(_Doc):
    pass


class _Elif:
    def __init__(self, cond, body) -> None:
        self.cond, self.body = cond, body


class _Else:
    def __init__(self, body) -> None:
        self.body = body
