"""Lava `Process` classes and their `ProcessModel`s around the generated kernels.

Every custom owner (population, input, connection) becomes one Process with
  * a Var per variable of the kernel (`v_<name>`), a `params` Var and a `control` Var
    (runtime.CONTROL: the global step, phase, active / plastic flags, commands, NaN report);
  * ports from wiring.py's `Ports` (values for connections, deliveries, spikes for native
    neighbours);
and two ProcessModels, tagged `floating_pt` and `fixed_pt`. Both run the kernel's arithmetic --
the IR's own, including its `fixed<...>` types -- and differ only in how they convert what
native Loihi processes send them (`GAINS`, per tag, from the float-to-fixed conversion).

Order inside one time step (what makes same-step delivery and cycles work in Lava, where a
`recv` blocks until the sender's message of this step arrived):
  population: send values-before -> receive deliveries, add them in the reference's order ->
              step -> send values and spikes
  connection: [cycle-closing: send what is due] -> receive pre values -> [same-step: receive
              post values-before, transmit, send] -> receive post values -> [cycle-closing:
              transmit, queue] -> traces and learning
"""

from __future__ import annotations

from .code import Code
from .wiring import OwnerPorts


def _lava_type(kind: str, prec: str | None = None) -> str:
    if kind == "in":
        return "LavaPyType(PyInPort.VEC_DENSE, numpy.float64)"
    if kind == "out":
        return "LavaPyType(PyOutPort.VEC_DENSE, numpy.float64)"
    return f"LavaPyType(numpy.ndarray, numpy.{prec or 'float64'})"


def _var_rows(ports: OwnerPorts) -> list[tuple[str, str | None]]:
    return [(name, prec) for name, prec in ports.vars]


def generate_process(ports: OwnerPorts, kernel: str) -> tuple[str, str, str]:
    """(process class, model base class, source) for one custom owner."""
    proc = f"{kernel}Process"
    model = f"{kernel}Model"
    code = Code()
    with code.block(f"class {proc}(AbstractProcess):"):
        code.line(f'"""Lava Process of {ports.what} (custom: {ports.reason})."""')
        code.line()
        with code.block("def __init__(self, arrays, params, control, batch, seed, gains, exchange, extra=None, **kw):"):
            code.line("super().__init__(batch=batch, seed=seed, gains=gains, exchange=exchange, extra=extra or {}, "
                      "**kw)")
            code.line("self.control = Var(shape=(R.CONTROL_SIZE,), init=control)")
            code.line("self.failure = Var(shape=(R.ERROR_TEXT,), init=numpy.zeros(R.ERROR_TEXT))")
            code.line("self.params = Var(shape=(max(1, len(params)),), init=numpy.array(params or [0.0]))")
            for name, _ in _var_rows(ports):
                code.line(f"self.v_{name} = Var(shape=arrays[{name!r}].shape, init=arrays[{name!r}])")
            for extra, shape in ports.extra_vars:
                code.line(f"self.{extra} = Var(shape={shape}, init=numpy.zeros({shape}))")
            for p in ports.inputs:
                code.line(f"self.{p.name} = InPort(shape={p.shape})  # {p.comment}")
            for p in ports.outputs:
                code.line(f"self.{p.name} = OutPort(shape={p.shape})  # {p.comment}")
    code.line()
    code.line()
    with code.block(f"class {model}(PyLoihiProcessModel):"):
        code.line(f'"""Runs {kernel} in a Lava process (both tags: see the module docstring)."""')
        code.line()
        code.line(f"control: numpy.ndarray = {_lava_type('var')}")
        code.line(f"failure: numpy.ndarray = {_lava_type('var')}")
        code.line(f"params: numpy.ndarray = {_lava_type('var')}")
        for name, prec in _var_rows(ports):
            code.line(f"v_{name}: numpy.ndarray = {_lava_type('var', prec)}")
        for extra, _ in ports.extra_vars:
            code.line(f"{extra}: numpy.ndarray = {_lava_type('var')}")
        for p in ports.inputs:
            code.line(f"{p.name}: PyInPort = {_lava_type('in')}")
        for p in ports.outputs:
            code.line(f"{p.name}: PyOutPort = {_lava_type('out')}")
        code.line()
        with code.block("def __init__(self, proc_params):"):
            code.line("super().__init__(proc_params)")
            code.line("self.gains = proc_params['gains']")
            code.line("self.exchange = proc_params['exchange']")
            code.line("extra = proc_params['extra']")
            code.line(f"self.K = {kernel}(proc_params['batch'], proc_params['seed'], 'float64', **extra)")
        code.line()
        with code.block("def _arrays(self):"):
            code.line("return {" + ", ".join(f"{n!r}: self.v_{n}" for n, _ in _var_rows(ports)) + "}")
        code.line()
        with code.block("def _exchanged(self, arg):"):
            code.line('"""The array a DUMP / LOAD command names (runtime.ARG)."""')
            extras = dict(ports.extra_vars)
            if "data" in extras:
                code.line("if arg == R.DATA:")
                code.line("    return self.data")
            if "pending" in extras:
                code.line("if arg == R.PENDING:")
                code.line("    return self.pending")
            code.line(f"return getattr(self, 'v_' + {kernel}.VARS[arg][0])")
        code.line()
        with code.block("def _params(self):"):
            code.line(f"return dict(zip({kernel}.PARAMS, (float(x) for x in self.params)))")
        code.line()
        with code.block("def _phase(self):"):
            code.line("k = int(self.control[R.PHASE])")
            code.line("return PHASES[k] if k >= 0 else None")
        code.line()
        _on_var_update(code, ports)
        code.line()
        _run_spk(code, ports)
    return proc, model, code.text()


def _on_var_update(code: Code, ports: OwnerPorts) -> None:
    with code.block("def on_var_update(self):"):
        code.line('"""Host commands arrive as a write of `control` (runtime.CONTROL): execute them now."""')
        code.line("cmd = int(self.control[R.CMD])")
        with code.block("if cmd == 0:"):
            code.line("return")
        code.line("self.control[R.CMD] = 0")
        code.line("step = int(self.control[R.STEP])")
        with code.block("if cmd & (R.DUMP | R.LOAD):"):
            code.line("arg = int(self.control[R.ARG])")
            code.line("array = self._exchanged(arg)")
            code.line("path = R.exchange_path(self.exchange, self.K.NAME, arg)")
            with code.block("if cmd & R.DUMP:"):
                code.line("numpy.save(path, array)")
            with code.block("else:"):
                code.line("array[...] = numpy.load(path)")
        if ports.role == "connection":
            with code.block("if cmd & (R.RESET_TRACES | R.RESET_SYN_STATES):"):
                code.line("self.K.reset(self._arrays(), self._params(), step, bool(cmd & R.RESET_SYN_STATES))")
            if ports.pending:
                kind = "R.DROP_NATURAL" if ports.natural_pending else "R.DROP_DELAYED"
                with code.block(f"if cmd & {kind}:"):
                    code.line("self.pending[...] = 0")
        else:
            with code.block("if cmd & R.RESET_STATES:"):
                code.line("self.K.init(self._arrays(), self._params(), step)")


def _run_spk(code: Code, ports: OwnerPorts) -> None:
    with code.block("def run_spk(self):"):
        code.line('"""One time step. A failure must not escape: Lava would then wait forever for the other')
        code.line('processes, which wait for this one. It is reported through `failure` instead, and the')
        code.line('process keeps the message protocol going (zeros out) until the host stops the network."""')
        code.line("c = self.control")
        with code.block("if c[R.ERR_FLAG] == R.FAILED:"):
            code.line("self._idle()")
            code.line("return")
        with code.block("try:"):
            code.line("self._step()")
        with code.block("except Exception:  # noqa: BLE001 - reported to the host, see above"):
            code.line("import traceback")
            code.line("c[R.ERR_FLAG] = R.FAILED")
            code.line("self.failure[...] = R.encode_text(traceback.format_exc())")
            code.line("self._idle()")
    code.line()
    with code.block("def _idle(self):"):
        code.line('"""The step\'s messages in the normal order, with zeros: the neighbours must not block."""')

        def send(ports_):
            for p in ports_:
                code.line(f"self.{p.name}.send(numpy.zeros(self.{p.name}.shape))")

        def recv(ports_):
            for p in ports_:
                code.line(f"self.{p.name}.recv()")

        outs, ins = ports.outputs, ports.inputs
        if ports.role == "input":
            send(outs)
        elif ports.role == "neuron":
            send([p for p in outs if p.kind == "before"])
            recv(ins)
            send([p for p in outs if p.kind != "before"])
        else:
            if not ports.same_step:
                send(outs)
            recv([p for p in ins if p.side == "pre"])
            if ports.same_step:
                recv([p for p in ins if p.kind == "before"])
                send(outs)
            recv([p for p in ins if p.side == "post" and p.kind != "before"])
    code.line()
    with code.block("def _step(self):"):
        code.line("c = self.control")
        code.line("step = int(c[R.STEP])")
        code.line("phase = self._phase()")
        code.line("batch = self.K.batch")
        code.line("A, P = self._arrays(), self._params()")
        if ports.role == "input":
            _input_step(code, ports)
        elif ports.role == "neuron":
            _neuron_step(code, ports)
        else:
            _connection_step(code, ports)
        code.line("c[R.STEP] = step + 1")


def _send_values(code: Code, ports: OwnerPorts, which: str) -> None:
    for p in ports.outputs:
        if p.kind == which:
            rows = ", ".join(
                (f"numpy.broadcast_to(P[{n!r}], A[{ports.any_var!r}].shape)" if n in ports.param_names
                 else f"A[{n!r}]") for n in p.names)
            code.line(f"self.{p.name}.send(numpy.stack([{rows}]).astype(numpy.float64))")
        elif p.kind == "spikes" and which == "values":
            code.line(f"self.{p.name}.send(A[{p.names[0]!r}][0].astype(numpy.float64))")


def _input_step(code: Code, ports: OwnerPorts) -> None:
    code.line("active = bool(c[R.ACTIVE])")
    code.line("k = step - int(c[R.PHASE_START])")
    code.line("self.K.encode(A, active, self.data, int(c[R.FRAMES]), k, int(c[R.PHASE_STEPS]), step)")
    _send_values(code, ports, "values")


def _neuron_step(code: Code, ports: OwnerPorts) -> None:
    _send_values(code, ports, "before")
    code.line("S = R.Store(A, self.K.specs, self.K.seed)")
    # receive every delivery first (a recv blocks), then add them in the reference's order
    for p in ports.inputs:
        code.line(f"m_{p.name} = self.{p.name}.recv()")
    for p in sorted(ports.inputs, key=lambda p: p.order):
        if p.kind == "delivery":
            code.line(f"if m_{p.name}[1].any():  # {p.comment}")
            code.line(f"    S.write({p.var!r}, A[{p.var!r}] + m_{p.name}[0], step)")
        elif p.kind == "native":
            code.line(f"S.write({p.var!r}, A[{p.var!r}] + self.gains[{p.name!r}] * m_{p.name}[None, :], step)"
                      f"  # {p.comment}")
    code.line("self.K.step(A, P, step, phase)")
    _send_values(code, ports, "values")
    code.line(f"R.record_error(c, step, R.first_bad(A, {tuple(ports.checked)!r}))")


def _unpack(code: Code, ports: OwnerPorts, port, target: str, params: str) -> None:
    """`target` = {name: value}: the message of `port` as arrays (batch, N), parameters as numbers."""
    if port.kind == "native":
        code.line(f"{target} = {{{port.names[0]!r}: self.{port.name}.recv()[None, :]}}")
        return
    code.line(f"m = self.{port.name}.recv()")
    code.line(f"{target} = {{n: (float(m[k].flat[0]) if n in self.K.{params} else m[k]) "
              f"for k, n in enumerate({tuple(port.names)!r})}}")


def _connection_step(code: Code, ports: OwnerPorts) -> None:
    code.line("active, plastic = bool(c[R.ACTIVE]), bool(c[R.PLASTIC])")
    pre = next((p for p in ports.inputs if p.kind in ("pre", "native") and p.side == "pre"), None)
    post_before = next((p for p in ports.inputs if p.kind == "before"), None)
    post = next((p for p in ports.inputs if p.side == "post" and p.kind in ("post", "native")), None)
    deliveries = [p for p in ports.outputs if p.kind == "delivery"]
    same_step = ports.same_step
    if not same_step:
        _send_due(code, ports, deliveries)
    if pre is not None:
        _unpack(code, ports, pre, "Vp", "PRE_PARAMS")
    else:
        code.line("Vp = {}")
    if same_step:
        if post_before is not None:
            _unpack(code, ports, post_before, "Vq", "POST_PARAMS")
        else:
            code.line("Vq = {}")
        code.line("out = self.K.transmit(A, P, Vp, Vq, step, phase) if active else None")
        if ports.pending:
            _send_due(code, ports, deliveries)
            _queue(code, ports)
        else:
            _send_now(code, ports, deliveries)
    if post is not None:
        _unpack(code, ports, post, "Vq", "POST_PARAMS")
    else:
        code.line("Vq = {}")
    if not same_step:
        code.line("out = self.K.transmit(A, P, Vp, Vq, step, phase) if active else None")
        _queue(code, ports)
    code.line("self.K.learn(A, P, Vp, Vq, step, phase, active, plastic)")
    code.line(f"R.record_error(c, step, R.first_bad(A, {tuple(ports.checked)!r}))")


def _send_now(code: Code, ports: OwnerPorts, deliveries) -> None:
    """Zero-delay deliveries: straight to the target."""
    for p in deliveries:
        code.line(f"a = out[{p.slot}] if out is not None else None")
        code.line(f"self.{p.name}.send(numpy.zeros({p.shape}) if a is None else "
                  f"numpy.stack([a, numpy.ones_like(a)]).astype(numpy.float64))")


def _queue(code: Code, ports: OwnerPorts) -> None:
    """Deliveries due `DELAY` steps later go into the ring buffer `pending` (slot = due step % DELAY)."""
    code.line("slot = (step + self.K.DELAY) % self.pending.shape[0]")
    with code.block("if out is not None:"):
        with code.block("for j, a in enumerate(out):"):
            with code.block("if a is not None:"):
                code.line("self.pending[slot, j, 0] = a")
                code.line("self.pending[slot, j, 1] = 1.0")


def _send_due(code: Code, ports: OwnerPorts, deliveries) -> None:
    """What is due at this step leaves the ring buffer (zeros where nothing is due)."""
    code.line("due = step % self.pending.shape[0]")
    for p in deliveries:
        code.line(f"self.{p.name}.send(self.pending[due, {p.slot}].copy())")
    code.line("self.pending[due] = 0")
