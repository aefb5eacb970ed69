"""The kernel of an input or label population: its encoder (backends/reference/encoders.py).

An input/label population at index k of the step order draws from stream
`encoder_stream(k)` at the global step with index b * size + i; its arrays are `spike` and,
for `regular`, `accumulator`. An inactive population emits no spikes.
"""

from __future__ import annotations

from snnlang.ir.model import PopulationIR

from .code import Code, class_name

KNOWN = {"poisson", "bernoulli", "regular", "latency", "events", "onehot"}
DATA_FREE = {"poisson": "rate", "bernoulli": "p"}


def needs_data(pop: PopulationIR) -> bool:
    return DATA_FREE.get(pop.encoder) not in dict(pop.encoder_options)


def generate_input(pop: PopulationIR, index: int) -> tuple[str, str]:
    name = class_name("Input", pop.name)
    code = Code()
    with code.block(f"class {name}:"):
        code.line(f'"""{pop.kind.capitalize()} `{pop.name}`: {pop.encoder}({pop.size}) '
                  '(kernel of a custom process)."""')
        code.line()
        code.line(f"NAME = {pop.name!r}")
        code.line(f"KIND = {pop.kind!r}")
        code.line(f"INDEX = {index}")
        code.line(f"SIZE = {pop.size}")
        code.line(f"ENCODER = {pop.encoder!r}")
        code.line(f"OPTIONS = {dict(pop.encoder_options)!r}")
        code.line(f"NEEDS_DATA = {needs_data(pop)!r}")
        names = ("spike", "accumulator") if pop.encoder == "regular" else ("spike",)
        code.line(f"VARS = {tuple((n, 'event' if n == 'spike' else 'hidden', None, None, k) for k, n in enumerate(names))!r}")
        code.line("PARAMS = ()")
        code.line("OVERRIDES = {}")
        code.line("PORTS = ()")
        code.line("EVENTS = ('spike',)")
        code.line()
        with code.block("def __init__(self, batch, seed, dtype):"):
            code.line("self.batch, self.seed, self.dtype = batch, int(seed), numpy.dtype(dtype)")
            code.line("self.shape = (batch, self.SIZE)")
            code.line("self.index = R.element_index(batch, numpy.arange(self.SIZE), self.SIZE)")
            code.line("self.stream = R.encoder_stream(self.INDEX)")
            code.line("self.specs = {v[0]: (None, None, self.index) for v in self.VARS}")
        code.line()
        with code.block("def arrays(self):"):
            code.line("return {v[0]: numpy.zeros(self.shape, dtype=self.dtype) for v in self.VARS}")
        code.line()
        code.line("@staticmethod")
        with code.block("def params(explicit, dt):"):
            code.line("return {}")
        code.line()
        with code.block("def init(self, A, P, step):"):
            code.line("for array in A.values():")
            code.line("    array[...] = 0")
        code.line()
        with code.block("def encode(self, A, active, data, frames, step_in_phase, phase_steps, step):"):
            code.line('"""This step\'s spikes (none while the population is inactive)."""')
            with code.block("if not active:"):
                code.line("A['spike'][...] = 0")
                code.line("return")
            code.line("R.encode(self.KIND, self.ENCODER, self.OPTIONS, A['spike'], A.get('accumulator'), data, "
                      "frames, step_in_phase, phase_steps, step, self.seed, self.stream, self.index, DT, UNIT_FREE)")
    return name, code.text()
