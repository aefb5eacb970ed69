"""The whole generated module of one network: kernels, Lava processes, wiring tables.

Layout of the text (deterministic for the same IR and plan):
  header       what it is, which owners are native / custom and why
  imports      numpy, the Lava classes, the runtime (runtime.py)
  constants    DT, UNIT_FREE, PHASES, BATCH_MODE_OF_NETWORK
  kernels      one class per custom owner (gen_neuron, gen_input, gen_connection)
  processes    one Process + ProcessModel (+ the floating_pt / fixed_pt subclasses) per custom owner
  tables       OWNERS (what the host builds), WIRES (port connections), NATIVE (how each native
               owner is configured per tag, from the float-to-fixed conversion)
host.py reads only the tables; it never needs to know the model.
"""

from __future__ import annotations

from snnlang.ir.model import ModelIR

from ..codegen import file_name, source_text
from .code import Code, class_name
from .gen_connection import PeerView, generate_connection
from .gen_input import generate_input
from .gen_neuron import generate_neuron
from .gen_process import generate_process
from .plan import NetworkPlan
from .wiring import delays

FORMAT = 1

HEADER = '''"""Network `{network}` of {file}, compiled for Lava by snnlang {version}.

{summary}

Run it through snnlang (`snnlang.compile(path, target="lava")`) or, standalone, through the
package `snnc compile --target lava` writes (its `load()` builds the network under Loihi2SimCfg).
"""
'''

IMPORTS = '''
import functools  # noqa: F401 - sympy's NumPy printer writes max/min as functools.reduce
import math  # noqa: F401

import numpy

try:  # inside a package written by `snnc compile --target lava`
    from . import compat as _compat
    from . import runtime as R
except ImportError:  # loaded by snnlang itself
    from snnlang import _lava_shim as _compat
    from snnlang_backends.lava import runtime as R
_compat.apply()
R.prepare_lava_import()

from lava.magma.core.decorator import implements, requires, tag  # noqa: E402
from lava.magma.core.model.py.model import PyLoihiProcessModel  # noqa: E402
from lava.magma.core.model.py.ports import PyInPort, PyOutPort  # noqa: E402
from lava.magma.core.model.py.type import LavaPyType  # noqa: E402
from lava.magma.core.process.ports.ports import InPort, OutPort  # noqa: E402
from lava.magma.core.process.process import AbstractProcess  # noqa: E402
from lava.magma.core.process.variable import Var  # noqa: E402
from lava.magma.core.resources import CPU  # noqa: E402
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol  # noqa: E402
'''


def generate(model: ModelIR, plan: NetworkPlan, version: str) -> str:
    net = plan.net
    code = Code()
    summary = "\n".join(source_text(line) for line in plan.summary_lines())
    code.lines.extend(HEADER.format(network=source_text(net.name), file=file_name(model.file), version=version,
                                    summary=summary).rstrip("\n").split("\n"))
    code.lines.extend(IMPORTS.rstrip("\n").split("\n"))
    code.line()
    code.line(f"NETWORK = {net.name!r}")
    code.line(f"DT = {net.dt!r}")
    code.line(f"UNIT_FREE = {net.unit_free!r}")
    phases = tuple(ph.name for ph in net.schedule.phases) if net.schedule else ()
    code.line(f"PHASES = {phases!r}")
    code.line(f"BATCH_MODE_OF_NETWORK = {(net.schedule.batch if net.schedule else 'sum')!r}")
    code.line(f"FORMAT = {FORMAT}")
    pops = {p.name: p for p in net.populations}
    kernels: dict[str, str] = {}
    sources: list[str] = []
    # every owner has a kernel: a native one's gives its initial values and parameter defaults
    for k, p in enumerate(net.populations):
        if p.kind == "neuron":
            name, text = generate_neuron(p, k, model.neurons[p.neuron])
        else:
            name, text = generate_input(p, k)
        kernels[p.name] = name
        sources.append(text)
    for c, conn in enumerate(net.connections):
        src, tgt = pops[conn.source], pops[conn.target]
        delay, natural = delays(conn)
        name, text = generate_connection(
            conn, c, len(net.populations), model.synapses[conn.synapse],
            PeerView(src, model.neurons.get(src.neuron) if src.kind == "neuron" else None),
            PeerView(tgt, model.neurons.get(tgt.neuron) if tgt.kind == "neuron" else None), delay, natural)
        kernels[conn.name] = name
        sources.append(text)
    for text in sources:
        code.line()
        code.line()
        code.lines.extend(text.rstrip("\n").split("\n"))
    owners = []
    for name, ports in plan.ports.items():
        kernel = kernels[name]
        proc, base, text = generate_process(ports, kernel)
        code.line()
        code.line()
        code.lines.extend(text.rstrip("\n").split("\n"))
        models = {}
        for tag_name, suffix in (("floating_pt", "Float"), ("fixed_pt", "Fixed")):
            cls = f"{base}{suffix}"
            code.line()
            code.line()
            code.line(f"@implements(proc={proc}, protocol=LoihiProtocol)")
            code.line("@requires(CPU)")
            code.line(f"@tag({tag_name!r})")
            with code.block(f"class {cls}({base}):"):
                code.line(f'"""{kernel} under `{tag_name}`."""')
            models[tag_name] = cls
        owners.append((name, ports.role, kernel, proc, models))
    code.line()
    code.line()
    code.comment("--------------------------------------------------------------- tables for the host")
    code.line("OWNERS = {")
    for name, role, kernel, proc, models in owners:
        code.line(f"    {name!r}: {{'role': {role!r}, 'kernel': {kernel}, 'process': {proc}, "
                  f"'models': {{'floating_pt': {models['floating_pt']}, 'fixed_pt': {models['fixed_pt']}}}}},")
    code.line("}")
    code.line("WIRES = (")
    for w in plan.wires:
        code.line(f"    ({w.sender!r}, {w.out_port!r}, {w.receiver!r}, {w.in_port!r}),")
    code.line(")")
    code.line("KERNELS = {" + ", ".join(f"{name!r}: {cls}" for name, cls in kernels.items()) + "}")
    code.line(f"POPULATIONS = {tuple((p.name, p.kind, p.size) for p in net.populations)!r}")
    code.line(f"CONNECTIONS = {tuple((c.name, c.source, c.target, c.connectivity) for c in net.connections)!r}")
    code.line(f"NATIVE = {plan.native_table()!r}")
    code.line(f"GAINS = {plan.gains_table()!r}")
    code.line(f"GAINS_NATIVE = {({n: c.activation_gain() for n, c in plan.natives.items() if c.kind != 'lif'})!r}")
    code.line(f"IN_FLIGHT = {plan.in_flight_table()!r}")
    return code.text()


__all__ = ["generate", "FORMAT", "class_name"]
