"""The kernel of a custom neuron population: `init` and one `step` of its `NeuronIR`.

The step is the reference executor's (backends/reference/neurons.py), statement for statement:
  1. `program` in order (an Update writes at once; an OdeBlock evaluates all right-hand sides,
     then writes them together; masks are evaluated when the op runs);
  2. `events`: every condition in written order, each setting its flag at once (an event outside
     its phases does not fire), then the bodies in written order;
  3. `traces` in written order (decay / per-step argument / running mean, then `on` clauses);
  4. the input ports are cleared.
Deliveries are added into their targets by the process before `step` runs.
"""

from __future__ import annotations

from snnlang.ir.model import NeuronIR, OdeBlock, PopulationIR, Update

from ..codegen import source_text
from .code import Code, class_name
from .gen_common import Leaves, assign, fixed_spec, param_defaults, precision, runs_guard
from .printer import describe


class GenerationError(ValueError):
    """The IR asks for something this backend cannot generate (the message says what)."""


def neuron_leaves(neuron: NeuronIR, where: str) -> Leaves:
    states = {v.name for v in neuron.vars if v.kind != "param"}
    params = {v.name for v in neuron.of_kind("param")}

    def code(name: str) -> str:
        if name in states:
            return f"A[{name!r}]"
        if name in params:
            return f"P[{name!r}]"
        if name == "t":
            return "t"
        if name == "dt":
            return "DT"
        raise GenerationError(f"{where}: reads `{name}`, which neuron {neuron.name} does not define")

    return Leaves(code)


def generate_neuron(pop: PopulationIR, index: int, neuron: NeuronIR) -> tuple[str, str]:
    """(class name, source) of the kernel of population `pop` (at `index` in the step order)."""
    name = class_name("Pop", pop.name)
    where = f"population {pop.name} (neuron {neuron.name})"
    leaves = neuron_leaves(neuron, where)
    code = Code()
    with code.block(f"class {name}:"):
        code.line(f'"""Population `{source_text(pop.name)}`: {pop.size} neurons of type {source_text(neuron.name)} '
                  '(kernel of a custom process, plain NumPy)."""')
        code.line()
        code.line(f"NAME = {pop.name!r}")
        code.line(f"INDEX = {index}")
        code.line(f"SIZE = {pop.size}")
        rows = []
        for k, v in enumerate(neuron.vars):
            if v.kind == "param":
                continue
            rows.append(f"({v.name!r}, {v.kind!r}, {fixed_spec(v.dtype)}, {precision(v)}, {k})")
        code.line("# (name, kind, fixed point, precision, index in NeuronIR.vars): the rounding stream")
        code.line("VARS = (" + "".join(r + ", " for r in rows) + ")")
        code.line(f"PARAMS = {tuple(v.name for v in neuron.of_kind('param'))!r}")
        code.line(f"OVERRIDES = {dict(pop.params)!r}")
        code.line(f"PORTS = {tuple(v.name for v in neuron.of_kind('input'))!r}")
        code.line(f"EVENTS = {tuple(v.name for v in neuron.of_kind('event'))!r}")
        code.line()
        with code.block("def __init__(self, batch, seed, dtype):"):
            code.line("self.batch, self.seed, self.dtype = batch, int(seed), numpy.dtype(dtype)")
            code.line("index = R.element_index(batch, numpy.arange(self.SIZE), self.SIZE)")
            code.line("self.shape = (batch, self.SIZE)")
            code.line("self.D = R.Domain(self.shape, index, seed, self.dtype, population_axis=True)")
            code.line("self.specs = {v[0]: (v[2], R.rounding_stream(self.INDEX, v[4]), index) "
                      "for v in self.VARS}")
        code.line()
        with code.block("def arrays(self):"):
            code.line('"""A fresh zero array for every variable."""')
            code.line("return {v[0]: numpy.zeros(self.shape, dtype=numpy.dtype(v[3] or self.dtype)) "
                      "for v in self.VARS}")
        code.line()
        param_defaults(code, neuron.of_kind("param"))
        code.line()
        _init(code, neuron, leaves)
        code.line()
        _step(code, neuron, leaves)
    return name, code.text()


def _prologue(code: Code) -> None:
    code.line("D = self.D")
    code.line("D.step = step")
    code.line("S = R.Store(A, self.specs, self.seed)")
    code.line("t = step * DT")


def _init(code: Code, neuron: NeuronIR, leaves: Leaves) -> None:
    with code.block("def init(self, A, P, step):"):
        code.line('"""Every variable back to its initial value (`reset`), in declaration order."""')
        _prologue(code)
        with code.block("with numpy.errstate(all='ignore'):"):
            for v in neuron.vars:
                if v.kind != "param":
                    code.line(f"S.write({v.name!r}, {leaves.expr(v.init)}, step)", v.origin)


def _guarded(code: Code, phases, body) -> None:
    guard = runs_guard(phases)
    if guard is None:
        body()
    else:
        with code.block(f"if {guard}:"):
            body()


def _step(code: Code, neuron: NeuronIR, leaves: Leaves) -> None:
    with code.block("def step(self, A, P, step, phase):"):
        code.line('"""One time step (deliveries were added into their targets before)."""')
        _prologue(code)
        code.line("shape = self.shape")
        with code.block("with numpy.errstate(all='ignore'):"):
            for op in neuron.program:
                _op(code, op, leaves)
            for ev in neuron.events:
                def fire(ev=ev):
                    code.line(f"S.write({ev.name!r}, R.as_mask({leaves.expr(ev.cond)}, shape), step)",
                              ev.origin)
                    code.line(f"fired_{ev.name} = True")
                code.line(f"fired_{ev.name} = False")
                if ev.phases:
                    with code.block(f"if {runs_guard(ev.phases)}:"):
                        fire()
                    with code.block("else:"):
                        code.line(f"S.write({ev.name!r}, 0.0, step)")
                else:
                    fire()
            for ev in neuron.events:
                if ev.body:
                    with code.block(f"if fired_{ev.name}:"):
                        for a in ev.body:
                            assign(code, a, leaves, "shape")
            for tr in neuron.traces:
                _guarded(code, tr.phases, lambda tr=tr: _trace(code, tr, leaves))
            for port in neuron.of_kind("input"):
                code.line(f"A[{port.name!r}][...] = 0")


def _op(code: Code, op, leaves: Leaves) -> None:
    def body():
        mask = "None"
        if op.mask is not None:
            code.line(f"mask = R.as_mask({leaves.expr(op.mask)}, shape).copy()")
            mask = "mask"
        if isinstance(op, Update):
            code.line(f"S.write({op.var!r}, {leaves.expr(op.expr)}, step, {mask})", op.origin)
        elif isinstance(op, OdeBlock):
            code.comment(f"{op.method}: {op.reason}")
            for k, (var, expr) in enumerate(op.updates):
                code.line(f"new_{k} = D.full({leaves.expr(expr)}, A[{var!r}].shape)", op.origin)
            for k, (var, _) in enumerate(op.updates):
                code.line(f"S.write({var!r}, new_{k}, step, {mask})")
        else:
            raise GenerationError(f"unknown program op {type(op).__name__}")

    _guarded(code, op.phases, body)


def _trace(code: Code, tr, leaves: Leaves) -> None:
    x = f"A[{tr.name!r}]"
    if tr.kind == "mean":
        code.line(f"S.write({tr.name!r}, {x} + (({leaves.expr(tr.per_step)}) - {x}) / "
                  f"(A[{tr.count_var!r}] + 1), step)", tr.origin)
        code.line(f"S.write({tr.count_var!r}, A[{tr.count_var!r}] + 1, step)")
    elif tr.decay is not None or tr.per_step is not None:
        new = x if tr.decay is None else f"({leaves.expr(tr.decay)}) * {x}"
        if tr.per_step is not None:
            new = f"{new} + ({leaves.expr(tr.per_step)})"
        code.line(f"S.write({tr.name!r}, {new}, step)", tr.origin)
    for on in tr.on:
        code.line(f"S.write({tr.name!r}, R.combine({on.op!r}, {x}, {leaves.expr(on.expr)}), step, "
                  f"R.as_mask(A[{on.event!r}], shape))", tr.origin)


def describe_neuron(neuron: NeuronIR) -> str:
    return ", ".join(describe(op.expr) for op in neuron.program if isinstance(op, Update))
