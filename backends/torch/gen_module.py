"""The whole generated module of one network: tables for the host, then the functions.

Layout (read it top to bottom):
  header and imports (math, numpy, torch, the helpers of ops.py);
  tables the host reads: STATES, PARAMS, INDICES, SPARSE, DATA, RESET, INIT, HOOKS, ...;
  `derive_params` / `derive_constants`: parameter values and the constants tuple (NumPy, host);
  `step`: one time step of the whole network in the order of snnlang/ir/model.py, every
  statement a tensor expression over the batch (the host calls it once per step);
  per population `reset_P`, per connection `init_C`, per phase boundary `hook_EDGE_PHASE`.
Every function has the signature (S, K, X, G, Q) of scope.py and rebinds the tensors of S
instead of writing into them, so a step can be differentiated (BPTT) and the state before a
phase is kept by a shallow copy of S.

`mode` "exact" is the executable's step; "bptt" differs only in how spikes and event-masked
additions are written (gen_populations.py) and in straight-through quantisation.
Generation is deterministic: the same IR gives the same text, byte for byte.
"""

from __future__ import annotations

from snnlang.ir.model import ModelIR

from ..codegen import file_name, source_text
from .code import Code, where
from .gen_connections import ConnectionCode
from .gen_populations import InputCode, NeuronCode
from .plan import BuildError, Plan, StatePlan, fixed_args
from .printer import Context, PrintError, print_host
from .scope import Scope

FORMAT = 1      # bump when the generated module's interface with host.py changes
MODES = ("exact", "bptt")


class ModuleGenerator:
    def __init__(self, model: ModelIR, network: str, mode: str, version: str) -> None:
        if mode not in MODES:
            raise BuildError(f"unknown generation mode {mode!r}")
        self.plan = plan = Plan(model, network)
        self.mode = mode
        self.version = version
        self.ties: dict[str, list[StatePlan]] = {}
        for st in plan.states:
            if st.tie is not None:
                self.ties.setdefault(st.tie[0].name, []).append(st)
        self.pops = [NeuronCode(plan, p, mode) if p.kind == "neuron" else InputCode(plan, p) for p in plan.pops]
        self.conns = [ConnectionCode(plan, c, mode, self.ties) for c in plan.conns]
        self.outgoing = {p.name: [cc for cc in self.conns if cc.c.ir.source == p.name] for p in plan.pops}

    # ------------------------------------------------------------------ functions

    def _function(self, name: str, doc: str, body_fn, args: str = "S, K, X, G, Q",
                  owner: str | None = None) -> str:
        """A function that loads the states (all, or `owner`'s), runs `body_fn` and stores them."""
        scope = Scope(self.plan, name)
        body = Code(1)
        body_fn(body, scope)
        out = Code()
        out.line(f"def {name}({args}):")
        out.level = 1
        out.line(f'"""{source_text(doc)}"""')
        scope.header(out)
        out.line("A, P, D, k, n_steps = G.active, G.plastic, G.data, G.k, G.n_steps")
        states = [st for st in self.plan.states if owner is None or st.owner == owner]
        for st in states:
            if st.tie is None:
                out.line(f"{st.local} = S[{st.name!r}]")
        for st in states:
            if st.tie is not None and owner is None:
                base, transposed = st.tie
                out.line(f"{st.local} = {base.local}.transpose(0, 1)" if transposed else f"{st.local} = {base.local}")
        out.extend(body)
        for st in states:
            if st.tie is None:
                out.line(f"S[{st.name!r}] = {st.local}")
        return out.text()

    def _step(self) -> str:
        def body(code: Code, scope: Scope) -> None:
            flags: dict[str, dict[str, str]] = {}
            for cc in self.conns:
                cc.emit_pending(code, scope)
            for pc in self.pops:
                code.line()
                pc.emit_step(code, scope, flags.setdefault(pc.pop.name, {}))
                for cc in self.outgoing[pc.pop.name]:
                    cc.emit_transmit(code, scope, flags)
            for cc in self.conns:
                code.line()
                cc.emit_learn_step(code, scope, flags)
        return self._function("step", f"One time step of network `{self.plan.net.name}` (every batch row).", body)

    def _resets(self) -> list[str]:
        out = []
        for pc in self.pops:
            out.append(self._function(f"reset_{pc.pop.name}", f"Population {pc.pop.name}: every variable back to its "
                                      "initial value (at the current step).",
                                      lambda code, scope, pc=pc: pc.emit_reset(code, scope), owner=pc.pop.name))
        for cc in self.conns:
            out.append(self._function(f"init_{cc.c.name}", f"Connection {cc.c.name}: initial values (mode 0 build, "
                                      "1 traces, 2 traces and non-weight states).",
                                      lambda code, scope, cc=cc: cc.emit_init(code, scope), "S, K, X, G, Q, mode",
                                      owner=cc.c.name))
        return out

    def hook_list(self) -> list[tuple[str, str]]:
        found = []
        for pc in self.pops:
            if isinstance(pc, NeuronCode):
                found += sorted(pc.hooks())
        for cc in self.conns:
            found += sorted(cc.hooks())
        return list(dict.fromkeys(found))

    def _hooks(self) -> list[str]:
        out = []
        for edge, phase in self.hook_list():
            def body(code: Code, scope: Scope, edge=edge, phase=phase) -> None:
                for pc in self.pops:
                    if isinstance(pc, NeuronCode) and (edge, phase) in pc.hooks():
                        code.comment(f"population {pc.pop.name}: at {edge} of {phase}")
                        pc.emit_hook(code, scope, edge, phase)
                for cc in self.conns:
                    if (edge, phase) in cc.hooks():
                        code.comment(f"connection {cc.c.name}: at {edge} of {phase}")
                        cc.emit_hook(code, scope, edge, phase)
            out.append(self._function(f"hook_{edge}_{phase}", f"`at {edge} of {phase}`: every population's, then "
                                      "every connection's statements.", body))
        return out

    # ------------------------------------------------------------------ host side

    def _derive(self) -> str:
        plan = self.plan
        code = Code()
        with code.block("def derive_params(explicit):"):
            code.line('"""[dt, every parameter]: explicit[slot] where set (set_param, or the network\'s override),')
            code.line('else the declared default, evaluated with the parameters declared before it."""')
            code.line(f"c = [0.0] * {plan.n_params}")
            code.line(f"c[0] = {float(plan.net.dt)!r}")
            owner_params: dict[str, dict[str, int]] = {}
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
                    default = print_host(p.var.init, Context(symbol=host, host_symbol=host,
                                                             what=f"{p.owner}: the default of `{p.name}`"))
                except PrintError as exc:
                    raise BuildError(f"{p.owner}: the default of parameter `{p.name}` cannot be computed "
                                     f"on the host ({exc})") from None
                text = f"c[{p.slot}] = float(explicit[{p.slot}]) if {p.slot} in explicit else float({default})"
                tag = where(p.var.origin)
                code.line(text.ljust(72) + f"  # {p.owner}.{p.name}" + (f", {tag}" if tag else ""))
                before[p.name] = p.slot
            code.line("return c")
        code.line()
        code.line()
        with code.block("def derive_constants(c):"):
            code.line('"""The constants tuple K from c = derive_params(...): parameters and the parameter-only')
            code.line('expressions hoisted out of the step, evaluated with NumPy as the reference evaluates them."""')
            code.line("return [")
            code.level += 1
            for k, (host, label) in enumerate(plan.constants.entries):
                code.line(f"float({host}),".ljust(60) + f"  # K[{k}] {label}")
            code.level -= 1
            code.line("]")
        return code.text()

    def _rounding_index(self, st: StatePlan) -> str | None:
        if st.fixed is None:
            return None
        base = st.tie[0] if st.tie is not None else st
        if base.side == "syn":
            return self.plan.index(f"{base.owner}.dense", ("dense", base.owner))
        n = base.shape[1]
        return self.plan.index(f"n{n}", ("pop", n))

    def _tables(self) -> str:
        plan = self.plan
        lines = [f"NETWORK = {plan.net.name!r}", f"MODE = {self.mode!r}", f"FORMAT = {FORMAT}",
                 f"BATCH_MODE = {plan.batch_mode!r}", f"PHASES = {tuple(plan.phases)!r}", ""]
        lines.append("# name, owner, kind, side, shape, explicit dtype, fixed (scale, rounding, saturate, bits),")
        lines.append("# rounding stream, rounding index, tie (original, transposed)")
        lines.append("STATES = (")
        for st in plan.states:
            fixed = f"({fixed_args(st.fixed)})" if st.fixed is not None else None
            tie = (st.tie[0].name, st.tie[1]) if st.tie is not None else None
            lines.append(f"    ({st.name!r}, {st.owner!r}, {st.var.kind!r}, {st.side!r}, {st.shape!r}, {st.dtype!r}, "
                         f"{fixed}, {st.stream!r}, {self._rounding_index(st)!r}, {tie!r}),")
        lines.append(")")
        lines.append(f"STATE_NAMES = {tuple(plan.state_names())!r}")
        lines.append("PARAMS = (   # owner, name, slot, network override")
        for p in plan.params:
            lines.append(f"    ({p.owner!r}, {p.name!r}, {p.slot}, {p.override!r}),")
        lines.append(")")
        sparse = {c.name: (c.index, c.n_post, c.n_pre, float(c.ir.p)) for c in plan.conns if c.layout == "sparse"}
        lines.append(f"SPARSE = {sparse!r}   # connection: (index, N_post, N_pre, p)")
        lines.append("DATA = (   # population, kind, encoder, size, needs data")
        for pc in self.pops:
            if isinstance(pc, InputCode):
                lines.append(f"    ({pc.pop.name!r}, {pc.pop.kind!r}, {pc.encoder!r}, {pc.pop.size}, {pc.needs_data}),")
        lines.append(")")
        lines.append(f"POPULATIONS = {tuple(p.name for p in plan.pops)!r}")
        lines.append(f"CONNECTIONS = {tuple(c.name for c in plan.conns)!r}")
        sizes = {c.name: (c.layout, c.n_post, c.n_pre) for c in plan.conns}
        lines.append(f"CONNECTION_SIZES = {sizes!r}   # connection: (connectivity, N_post, N_pre)")
        lines.append(f"DELAYED = {tuple(c.name for c in plan.conns if c.delayed)!r}")
        hooks = {key: f"hook_{key[0]}_{key[1]}" for key in self.hook_list()}
        lines.append(f"HOOKS = {hooks!r}")
        lines.append(f"INDICES = {dict(sorted(plan.indices.items()))!r}")
        lines.append(f"STREAMS = {tuple(plan.streams)!r}   # G.keys[k] is the key of STREAMS[k] at this step")
        lines.append(f"NEEDS_T = {plan.needs_t!r}")
        return "\n".join(lines) + "\n"

    def source(self) -> str:
        step = self._step()
        resets = self._resets()
        hooks = self._hooks()
        derive = self._derive()          # after the functions: they registered the constants
        for st in self.plan.states:
            self._rounding_index(st)     # registers the indices `set` quantises with
        tables = self._tables()
        net = self.plan.net
        head = (f'"""Network `{source_text(net.name)}` of {file_name(self.plan.model.file)}, generated by snnlang '
                f'{self.version} (torch backend, {self.mode} mode).\n\n'
                "Do not edit: regenerated from the .snn source. `# file.snn:LINE` comments point at the statement\n"
                'each line implements; snnlang_backends/torch/host.py runs it."""\n\n'
                "import math\n\nimport numpy\nimport torch\n\nfrom snnlang_backends.torch import ops\n\n")
        return "\n\n".join([head + tables, derive, step, *resets, *hooks])


def generate(model: ModelIR, network: str, mode: str, version: str) -> str:
    """The generated module's text (deterministic)."""
    return ModuleGenerator(model, network, mode, version).source()
