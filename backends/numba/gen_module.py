"""The whole generated module of one network: tables for the host, kernels, and the step loop.

Layout of the module (read it top to bottom):
  header, imports (numpy, numba only), the RNG and other helpers (helpers.py);
  tables the host reads: STATES, PARAMS, PHASES, DATA, ... (host.py allocates from them);
  `derive_params` / `derive_constants`: parameter values and the constants vector (host, NumPy);
  per input population an encoder, per neuron population a step / reset / hooks, per connection
  its transmission, learning, initialisation (and sparse mask);
  `_run`: a whole phase (`steps` iterations) in one njit call, in the order of
  snnlang/ir/model.py; recorded states are copied from the flat state buffers into one flat record buffer;
  `_run` also does the initial values of any owners and the phase hooks (one compiled entry
  point for everything); Python wrappers (`run`, `init`, `hooks`) unpack the host's array dict.
Generation is deterministic: the same IR gives the same text, byte for byte.
"""

from __future__ import annotations

from snnlang.ir.model import ModelIR

from snnlang.ir import rng

from ..codegen import file_name, literal, source_text
from .code import Code, Kernel, KernelTable, where
from .gen_conn_init import init_source
from .gen_inputs import data_kind, encoder_kernel, needs_data
from .gen_learning import Learning
from .gen_neurons import NeuronKernels
from .gen_transmit import Deliveries
from .helpers import ROUNDING, helper_source
from .plan import BuildError, Plan
from .printer import Context, PrintError, print_host

FORMAT = 6   # bump when the generated module's interface with host.py (or its code) changes


class ModuleGenerator:
    def __init__(self, model: ModelIR, network: str, version: str) -> None:
        self.plan = Plan(model, network)
        self.version = version
        self.table = KernelTable()
        self.owned: dict[tuple, tuple[Kernel, str]] = {}   # (owner, role...) -> (kernel, function name)

    # ------------------------------------------------------------------ kernels

    def _define(self, owner: str, kernels: dict[tuple, Kernel]) -> None:
        for role, kernel in kernels.items():
            self.owned[(owner, *role)] = (kernel, self.table.define(kernel))

    def _generate_kernels(self) -> None:
        plan = self.plan
        self.deliveries, self.learning, self.neurons = {}, {}, {}
        try:
            for p in plan.pops:
                if p.kind == "neuron":
                    nk = NeuronKernels(plan, p)
                    self.neurons[p.name] = nk
                    self._define(p.name, nk.kernels())
                else:
                    self._define(p.name, {("encode",): encoder_kernel(plan, p)})
            for c in plan.conns:
                d = Deliveries(plan, c)
                lrn = Learning(plan, c, d)
                self.deliveries[c.name], self.learning[c.name] = d, lrn
                self._define(c.name, d.kernels())
                self._define(c.name, lrn.kernels())
                self._define(c.name, {("init",): init_source(plan, c)})
        except PrintError as exc:
            raise BuildError(str(exc)) from None
        self.ranges = plan.block_ranges()

    def call(self, owner: str, role: tuple, ctx: dict[str, str], array=lambda name: name) -> str | None:
        """The call of `owner`'s kernel `role` with values from `ctx` (or None if it has none)."""
        found = self.owned.get((owner, *role))
        if found is None:
            return None
        kernel, name = found

        def render(actual):
            kind, value = actual
            if kind == "ctx":
                return ctx[value]
            if kind == "consts":
                lo, hi = self.ranges[value]
                return f"{ctx['consts']}[{lo}:{hi}]"
            if kind == "array":
                return array(value)
            return value
        return kernel.call(name, render)

    # ------------------------------------------------------------------ host tables

    def _all_arrays(self) -> list[str]:
        """Every array `_run` takes: owned states, sparse index arrays, internal arrays, data."""
        plan = self.plan
        out = [s.arg for s in plan.states if s.tie is None]
        for c in plan.conns:
            if c.layout == "sparse":
                out += list(plan.sparse_names(c))
        out += list(plan.internal)
        out += [f"data_{p.name}" for p in plan.pops if p.kind != "neuron"]
        return out

    def _tables(self) -> str:
        plan = self.plan
        code = Code()
        code.line(f"NETWORK = {plan.net.name!r}")
        code.line(f"SOURCE = {literal(plan.model.file.replace(chr(92), '/').rsplit('/', 1)[-1])}")
        code.line(f"DT = {plan.net.dt!r}")
        code.line(f"BATCH_MODE = {plan.batch_mode!r}")
        code.line(f"FORMAT = {FORMAT}")
        code.line("")
        code.line("# every state, in the order of state_names(): name, owner, variable, kind, stored shape ('B':")
        code.line("# batch, 'nnz:C': pairs of sparse C), explicit dtype, array, tie (original, transposed), fixed")
        code.line("# point (scale, rounding, saturate, bits, signed), rounding stream, rounding index, layout (how the")
        code.line("# Executable's array comes from the stored one: 'transposed' for dense pairs, stored (N_pre, N_post);")
        code.line("# 'columns' for sparse pairs, stored in column order; None: as stored)")
        with code.block("STATES = (", fill=False):
            for s in plan.states:
                tie = None if s.tie is None else (s.tie[0].name, s.tie[1])
                fx = s.fixed
                fixed = None if fx is None else (float(fx.scale), ROUNDING[fx.rounding], fx.overflow == "saturate",
                                                 int(fx.bits), bool(fx.signed))
                shape = tuple(f"nnz:{s.owner}" if d == "nnz" else d for d in s.storage_shape)
                code.line(f"({s.name!r}, {s.owner!r}, {s.var.name!r}, {s.var.kind!r}, {shape!r}, {s.dtype!r}, "
                          f"{s.arg!r}, {tie!r}, {fixed!r}, {s.stream!r}, {s.rindex!r}, {s.layout!r}),")
        code.line(")")
        with code.block("SPARSE = {", fill=False):
            for c in plan.conns:
                if c.layout == "sparse":
                    indptr, indices = plan.sparse_names(c)
                    code.line(f"{c.name!r}: ({indptr!r}, {indices!r}, {rng.connectivity_stream(c.index)}, "
                              f"{c.n_post}, {c.n_pre}, {float(c.ir.p)!r}),")
        code.line("}")
        with code.block("INTERNAL = {", fill=False):
            for name, (shape, dtype) in plan.internal.items():
                code.line(f"{name!r}: ({shape!r}, {dtype!r}),")
        code.line("}")
        code.line("# parameters: owner, name, slot in the constants vector, network override")
        with code.block("PARAMS = (", fill=False):
            for p in plan.params:
                code.line(f"({p.owner!r}, {p.name!r}, {p.slot}, {p.override!r}),")
        code.line(")")
        code.line(f"N_PARAMS = {len(plan.constants)}")
        code.line(f"PHASES = {plan.phases!r}")
        with code.block("POPULATIONS = (", fill=False):
            for p in plan.pops:
                code.line(f"({p.name!r}, {p.kind!r}, {p.ir.neuron or p.ir.encoder!r}, {p.size}),")
        code.line(")")
        with code.block("CONNECTIONS = (", fill=False):
            for c in plan.conns:
                code.line(f"({c.name!r}, {c.ir.source!r}, {c.ir.target!r}, {c.syn.name!r}, {c.layout!r}, "
                          f"{c.delay}),")
        code.line(")")
        code.line("# sparse connections: indptr, indices, connectivity stream, N_post, N_pre, p")
        code.line("# input/label populations: name, data array, data kind, size, needs data")
        with code.block("DATA = (", fill=False):
            for p in plan.pops:
                if p.kind != "neuron":
                    code.line(f"({p.name!r}, 'data_{p.name}', {data_kind(p)!r}, {p.size}, {needs_data(p)}),")
        code.line(")")
        code.line("# the `active` flags `_run` reads: connections in declaration order, then input/label populations")
        active = [c.name for c in plan.conns] + [p.name for p in plan.pops if p.kind != "neuron"]
        code.line(f"ACTIVE = {tuple(active)!r}")
        code.line(f"HOOKS = {self._hook_list()!r}")
        code.line(f"OWNERS = {tuple([*(p.name for p in plan.pops), *(c.name for c in plan.conns)])!r}")
        code.line(f"ARRAYS = {tuple(self._all_arrays())!r}")
        code.line(f"STATE_NAMES = {tuple(plan.state_names())!r}")
        return code.text()

    def _derive(self) -> str:
        plan = self.plan
        code = Code()
        with code.block("def derive_params(explicit):"):
            code.line('"""[dt, every parameter]: explicit[slot] where set (set_param, or the network\'s override),')
            code.line('else the declared default, evaluated with the parameters declared before it."""')
            code.line(f"c = [0.0] * {len(plan.params) + 1}")
            code.line("c[0] = DT")
            owner_params: dict[str, dict] = {}
            for p in plan.params:
                before = owner_params.setdefault(p.owner, {})

                def host(name, before=before, p=p):
                    if name == "dt":
                        return "c[0]"
                    if name not in before:
                        raise BuildError(f"{p.owner}: the default of parameter `{p.name}` reads `{name}`, "
                                         "which is not a parameter declared before it")
                    return f"c[{before[name]}]"
                try:
                    default = print_host(p.var.init, Context(symbol=host, host_symbol=host))
                except PrintError as exc:
                    raise BuildError(f"{p.owner}: the default of parameter `{p.name}` cannot be computed "
                                     f"on the host ({exc})") from None
                text = f"c[{p.slot}] = float(explicit[{p.slot}]) if {p.slot} in explicit else float({default})"
                tag = where(p.var.origin)
                code.line(text.ljust(68) + f"  # {p.owner}.{p.name}" + (f", {tag}" if tag else ""))
                before[p.name] = p.slot
            code.line("return c")
        code.line("")
        code.line("")
        with code.block("def derive_constants(c):"):
            code.line('"""The constants vector the kernels read, from c = derive_params(...): per population and')
            code.line('connection a block of its parameters, peers\' parameters and parameter-only expressions hoisted')
            code.line('out of the loops, evaluated with NumPy as the reference evaluates them."""')
            code.line("return numpy.array([")
            code.level += 1
            for owner, (lo, hi) in self.ranges.items():
                entries = plan.blocks[owner].entries if owner in plan.blocks else []
                code.line(f"# {owner}: consts[{lo}:{hi}]")
                for k, (host, label) in enumerate(entries):
                    code.line(f"float({host}),".ljust(60) + f"  # [{lo + k}] {label}")
                if not entries:
                    code.line("0.0,".ljust(60) + f"  # [{lo}] (unused)")
            code.level -= 1
            code.line("], dtype=numpy.float64)")
        return code.text()

    # ------------------------------------------------------------------ the step loop

    def _run(self) -> str:
        plan = self.plan
        arrays = self._all_arrays()
        active = {name: k for k, name in enumerate([c.name for c in plan.conns]
                                                     + [p.name for p in plan.pops if p.kind != "neuron"])}
        code = Code()
        code.line('@njit(cache=True, error_model="numpy")')
        code.line(f"def _run(task, which, steps, step, k0, seed, phase, phase_steps, active, plastic, consts, rec_spec, "
                  f"rec, flat64, flat32, {', '.join(arrays)}):")
        code.level = 1
        code.line('"""The one compiled entry point (one function: numba compiles each entry point\'s kernels anew).')
        code.line("task 0: `steps` steps of a phase from global step `step`, the first being step k0 of the phase")
        code.line("        (snnlang/ir/model.py); returns how many steps completed: fewer than `steps` when step")
        code.line("        `step + returned` made a value NaN/Inf;")
        code.line("task 1: initial values at `step` of the owners selected by `which` (see `init`);")
        code.line('task 2: the phase hook number which[0] of HOOKS (see `hooks`)."""')
        first = next(s for s in plan.states if s.tie is None and s.shape[0] == "B")
        code.line(f"batch = {first.arg}.shape[0]")
        with code.block("if task == 1:"):
            self._init_section(code)
            code.line("return 0")
        if self._hook_list():
            with code.block("if task == 2:"):
                self._hooks_section(code)
                code.line("return 0")
        with code.block("for _k in range(steps):"):
            code.line("_t = step + _k")
            code.line("bad = False")
            ctx = {"phase": "phase", "step": "_t", "seed": "seed", "consts": "consts", "k": "k0 + _k",
                   "phase_steps": "phase_steps", "batch": "batch"}
            for c in plan.conns:
                call = self.call(c.name, ("pending",), ctx)
                if call:
                    code.line(f"bad |= {call}", c.ir.origin)
            for k, p in enumerate(plan.pops):
                what = p.ir.neuron if p.kind == "neuron" else f"{p.kind} {p.ir.encoder}"
                code.comment(f"{k + 1}. {p.name}: {what} ({p.size})", p.ir.origin)
                if p.kind == "neuron":
                    code.line(f"bad |= {self.call(p.name, ('step',), ctx)}")
                else:
                    code.line(self.call(p.name, ("encode",), {**ctx, "active": f"active[{active[p.name]}] != 0"}))
                for c in plan.conns:
                    call = self.call(c.name, ("transmit",), ctx) if c.ir.source == p.name else None
                    if call:
                        with code.block(f"if active[{active[c.name]}] != 0:"):
                            code.line(f"bad |= {call}", c.ir.origin)
            code.comment("synapse traces and plasticity, connections in declaration order")
            for c in plan.conns:
                call = self.call(c.name, ("learn",), {**ctx, "active": f"active[{active[c.name]}] != 0",
                                                      "plastic": f"plastic[{c.index}] != 0"})
                if call:
                    code.line(f"bad |= {call}", c.ir.origin)
            with code.block("if bad:"):
                code.line("return _k")
            with code.block("for _r in range(rec_spec.shape[0]):"):
                code.comment("recording: rec_spec rows (buffer, start, size, offset): a state's slice of the flat")
                code.comment("buffer (0: float64, 1: float32) goes to rec[offset + k * size:]")
                code.line("_src, _lo, _n = rec_spec[_r, 0], rec_spec[_r, 1], rec_spec[_r, 2]")
                code.line("_o = rec_spec[_r, 3] + (k0 + _k) * _n")
                with code.block("for _i in range(_n):"):
                    code.line("rec[_o + _i] = flat64[_lo + _i] if _src == 0 else flat32[_lo + _i]")
        code.line("return steps")
        code.level = 0
        return code.text()

    def _wrappers(self) -> str:
        arrays = ", ".join(f"a[{n!r}]" for n in self._all_arrays())
        code = Code()
        with code.block("def run(a, steps, step, k0, seed, phase, phase_steps, active, plastic, consts, rec_spec, rec, "
                        "flat64, flat32):"):
            code.line('"""Steps of a phase (`_run` task 0), the arrays taken from the dict `a` (name -> array)."""')
            code.line("return _run(0, numpy.zeros(1, numpy.int64), steps, step, k0, seed, phase, phase_steps, active, "
                      "plastic, consts, rec_spec, rec, flat64, flat32,")
            code.line(f"            {arrays})")
        code.line("")
        code.line("")
        with code.block("def init(which, step, seed, consts, active, plastic, rec_spec, rec, flat64, flat32, a):"):
            code.line('"""Initial values (`_run` task 1); which[k] for owner k of OWNERS."""')
            code.line("_run(1, which, 0, step, 0, seed, 0, 0, active, plastic, consts, rec_spec, rec, flat64, flat32,")
            code.line(f"     {arrays})")
        code.line("")
        code.line("")
        with code.block("def hooks(edge, phase, step, seed, consts, active, plastic, rec_spec, rec, flat64, flat32, a):"):
            code.line('"""`at EDGE of PHASE` (`_run` task 2; nothing if no owner has such a hook)."""')
            with code.block("if (edge, phase) in HOOKS:"):
                code.line("which = numpy.array([HOOKS.index((edge, phase))], numpy.int64)")
                code.line("_run(2, which, 0, step, 0, seed, 0, 0, active, plastic, consts, rec_spec, rec, flat64, flat32,")
                code.line(f"         {arrays})")
        return code.text()

    def _init_section(self, code: Code) -> None:
        """which[k] for owner k of OWNERS (populations in step order, then connections): 0 skip;
        a population: 1 reset; a connection: 1 build, 2 traces and hidden counters (and pending
        deliveries), 3 also its states that no `init` sets."""
        plan = self.plan
        ctx = {"step": "step", "seed": "seed", "consts": "consts", "batch": "batch"}
        for k, p in enumerate(plan.pops):
            with code.block(f"if which[{k}] != 0:", p.ir.origin):
                if p.kind == "neuron":
                    code.line(self.call(p.name, ("reset",), ctx))
                else:
                    for st in p.states.values():
                        code.line(f"{st.arg}[:, :] = 0.0")
        for k, c in enumerate(plan.conns, start=len(plan.pops)):
            with code.block(f"if which[{k}] != 0:", c.ir.origin):
                code.line(self.call(c.name, ("init",), {**ctx, "mode": f"which[{k}] - 1"}))
                for n, _ in enumerate(self.deliveries[c.name].statements):
                    ring = f"_{c.name}_ring{n}"
                    if ring in plan.internal:
                        code.line(f"{ring}[:, :, :] = 0.0")

    def _hooks_section(self, code: Code) -> None:
        """Hook number which[0] of HOOKS (`at EDGE of PHASE`): populations in step order, then connections."""
        plan = self.plan
        ctx = {"step": "step", "seed": "seed", "consts": "consts", "batch": "batch"}
        for h, (edge, phase) in enumerate(self._hook_list()):
            with code.block(f"if which[0] == {h}:".ljust(30) + f"  # at {edge} of {phase}"):
                for p in plan.pops:
                    call = self.call(p.name, ("hook", edge, phase), ctx)
                    if call:
                        code.line(call)
                for c in plan.conns:
                    call = self.call(c.name, ("hook", edge, phase), {**ctx, "active": f"active[{c.index}] != 0",
                                                                    "plastic": f"plastic[{c.index}] != 0"})
                    if call:
                        code.line(call)

    def _hook_list(self) -> list[tuple[str, str]]:
        return sorted({(e, ph) for nk in self.neurons.values() for e, ph, _ in nk.hooks()}
                      | {(e, ph) for lrn in self.learning.values() for e, ph, _ in lrn.hooks()})

    # ------------------------------------------------------------------ all

    def source(self) -> str:
        self._generate_kernels()
        plan = self.plan
        run = self._run()
        tables = self._tables()
        derive = self._derive()     # after the kernels: they registered the hoisted constants
        header = Code()
        header.line(f'"""Network `{source_text(plan.net.name)}` of {file_name(plan.model.file)}, '
                    f"compiled by snnlang {self.version} for numba.")
        header.line("")
        header.line("Generated code: do not edit. Every statement ends with the `.snn` line it comes from.")
        header.line("Needs only numpy and numba; snnlang_backends/numba/host.py (or host.py next to this file)")
        header.line('drives it. Kernels are compiled on first use and cached by numba (cache=True)."""')
        header.line("")
        header.line("import math")
        header.line("")
        header.line("import numpy")
        header.line("from numba import njit")
        header.line("from numba.extending import register_jitable")
        sep = "\n\n# " + "-" * 98 + "\n"
        kernels = "\n\n".join(self.table.sources) + run
        wrappers = self._wrappers()
        extra = (("_fixed_array",) if any(s.fixed for s in plan.states) else ()) \
            + (("_connect", "_columns") if any(c.layout == "sparse" for c in plan.conns) else ())
        parts = [header.text(), "# " + "-" * 98 + "\n# helpers\n\n\n" + helper_source(kernels, extra),
                 "# tables for the host\n" + tables, derive,
                 sep + "# kernels\n\n\n" + "\n\n".join(self.table.sources), sep + "# the step loop\n\n\n" + run,
                 sep + "# host-side wrappers\n\n\n" + wrappers]
        return "\n\n".join(p.rstrip("\n") for p in parts) + "\n"

    def manifest(self) -> dict:
        plan = self.plan
        states = []
        for s in plan.states:
            states.append({"name": s.name, "owner": s.owner, "kind": s.var.kind,
                           "shape": ["batch" if d == "B" else ("pairs" if d == "nnz" else d) for d in s.shape],
                           "dtype": s.dtype or "backend",
                           "fixed": None if s.fixed is None else {"bits": s.fixed.bits, "scale": s.fixed.scale,
                                                                  "round": s.fixed.rounding,
                                                                  "overflow": s.fixed.overflow,
                                                                  "signed": s.fixed.signed},
                           "tied_to": None if s.tie is None else {"state": s.tie[0].name, "transposed": s.tie[1]},
                           "source": where(s.var.origin)})
        params = []
        defaults = _defaults(plan)
        for p in plan.params:
            params.append({"owner": p.owner, "name": p.name, "default": defaults[p.slot],
                           "override": p.override, "source": where(p.var.origin)})
        return {
            "format": FORMAT, "network": plan.net.name, "file": plan.model.file, "dt": plan.net.dt,
            "unit_free": plan.net.unit_free,
            "populations": [{"name": p.name, "kind": p.kind, "type": p.ir.neuron or p.ir.encoder, "size": p.size}
                            for p in plan.pops],
            "connections": [{"name": c.name, "source": c.ir.source, "event": c.ir.source_event,
                             "target": c.ir.target, "synapse": c.syn.name, "connectivity": c.layout,
                             "p": c.ir.p, "delay_steps": c.delay} for c in plan.conns],
            "states": states, "params": params,
            "phases": [] if plan.net.schedule is None else [
                {"name": ph.name, "id": plan.phases[ph.name], "steps": ph.steps, "every": ph.every,
                 "active": None if ph.active is None else sorted(ph.active), "plastic": sorted(ph.plastic),
                 "reset": "all" if ph.reset_all else (sorted(ph.reset) if ph.reset else [])}
                for ph in plan.net.schedule.phases],
            "batch_mode": plan.batch_mode, "simulate_steps": plan.net.simulate_steps,
        }


def _defaults(plan: Plan) -> dict[int, float | None]:
    """Parameter values without overrides (for the manifest), evaluated like `derive_params`."""
    import math as _math

    import numpy
    out: dict[int, float | None] = {}
    values: dict[str, dict[str, float]] = {}
    for p in plan.params:
        env = values.setdefault(p.owner, {})
        try:
            code = print_host(p.var.init, Context(symbol=str, host_symbol=lambda n, env=env: f"env[{n!r}]"
                                                  if n != "dt" else "dt"))
            value = float(eval(code, {"numpy": numpy, "math": _math, "env": env, "dt": plan.net.dt}))
        except Exception:   # noqa: BLE001 - a default that cannot be evaluated is reported as unknown
            value = None
        out[p.slot] = value
        env[p.name] = value if p.override is None else p.override
    return out


def generate(model: ModelIR, network: str, version: str) -> tuple[str, dict]:
    """(module source, manifest) of one network."""
    gen = ModuleGenerator(model, network, version)
    source = gen.source()
    return source, gen.manifest()


__all__ = ["generate", "ModuleGenerator", "FORMAT"]
