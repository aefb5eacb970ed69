"""Which ports every process of a network has and how they are connected.

Messages between processes (one per port per time step, so Lava's blocking `recv` orders the
step, see gen_process.py):
  values   population -> connection: the stack (k, batch, N) of the variables the connection
           reads of it (pre side: after the population stepped; `before`: the target's values
           before it stepped, for a same-step delivery that reads `post.*`)
  delivery connection -> population: (2, batch, N_post) = (amount, sent flag) per delivery
           statement, so the target adds them one by one in the reference's order
  native   what Lava's own processes send: spikes (N,) of a LIF, activations (N,) of a Dense
Owners that are native (plan.py) get no generated process; their ports are Lava's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from snnlang.ir.model import ModelIR, NetworkIR

from .gen_connection import delivery_list, peer_reads, transmit_reads_post


class _Batch:
    """The batch size inside a generated shape: printed as the name `batch` (a runtime value)."""

    def __repr__(self) -> str:
        return "batch"


BATCH = _Batch()


@dataclass
class Port:
    name: str
    kind: str                      # values | before | spikes | delivery | pre | post | native
    shape: tuple[int, ...]
    names: tuple[str, ...] = ()    # the variables a values message carries
    var: str | None = None         # a delivery's target variable (receiving population)
    order: tuple = ()              # the order in which the target adds deliveries
    side: str | None = None        # connection inputs: pre | post
    slot: int = 0                  # the delivery statement's index in the connection's DELIVERIES
    comment: str = ""


@dataclass
class OwnerPorts:
    name: str
    role: str                      # neuron | input | connection
    what: str
    reason: str
    vars: list[tuple[str, str | None]]
    param_names: set[str]
    any_var: str
    checked: list[str]
    inputs: list[Port] = field(default_factory=list)
    outputs: list[Port] = field(default_factory=list)
    extra_vars: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)
    same_step: bool = True
    pending: bool = False
    natural_pending: bool = False


@dataclass(frozen=True)
class Wire:
    """`sender.out_port` -> `receiver.in_port` (names of processes as the host knows them)."""

    sender: str
    out_port: str
    receiver: str
    in_port: str


def delays(conn) -> tuple[int, int]:
    """(effective delay, natural delay) of a connection, as the reference computes them."""
    natural = 0 if conn.same_step else 1
    return max(int(conn.delay_steps), natural), natural


def delivery_order(net: NetworkIR, conn_index: int, slot: int) -> tuple:
    """The reference adds deliveries into a target in this order: those of cycle-closing
    connections from the step before (by source position, then declaration), the delayed ones
    that are due (declaration order), then this step's same-step ones (by source, declaration)."""
    conn = net.connections[conn_index]
    src = [p.name for p in net.populations].index(conn.source)
    delay, natural = delays(conn)
    if delay > natural:
        return (1, 0, conn_index, slot)
    return (0 if not conn.same_step else 2, src, conn_index, slot)


def max_frames(net: NetworkIR) -> int:
    """Frames an `events` input can hold: the longest phase (or the default run length)."""
    lengths = [ph.steps for ph in net.schedule.phases] if net.schedule else []
    return max(lengths + [net.simulate_steps if net.simulate_steps is not None else 1000])


def plan_ports(model: ModelIR, net: NetworkIR, natives: dict[str, str],
               reasons: dict[str, str]) -> tuple[dict[str, OwnerPorts], list[Wire]]:
    """Ports of every custom owner and every wire of the network. `natives` maps an owner to
    its native kind ("lif", "dense", "learning_dense"); everything else is custom. Shapes hold
    `BATCH` where the batch size goes."""
    batch = BATCH
    owners: dict[str, OwnerPorts] = {}
    pops = {p.name: p for p in net.populations}
    for p in net.populations:
        if p.name in natives:
            continue
        if p.kind == "neuron":
            neuron = model.neurons[p.neuron]
            names = [v.name for v in neuron.vars if v.kind != "param"]
            precs = [(v.name, v.dtype.precision if v.dtype.kind == "float" else None)
                     for v in neuron.vars if v.kind != "param"]
            owners[p.name] = OwnerPorts(p.name, "neuron", f"population `{p.name}` ({neuron.name}, {p.size})",
                                        reasons.get(p.name, ""), precs,
                                        {v.name for v in neuron.of_kind("param")}, names[0], names)
        else:
            names = ["spike", "accumulator"] if p.encoder == "regular" else ["spike"]
            o = OwnerPorts(p.name, "input", f"{p.kind} `{p.name}` ({p.encoder}, {p.size})",
                           reasons.get(p.name, "encoders draw from snnlang's counter-based RNG"),
                           [(n, None) for n in names], set(), "spike", names)
            shape = (batch, p.size) if p.kind == "input" and p.encoder != "events" else (batch,)
            if p.encoder == "events":
                shape = (batch, max_frames(net), p.size)
            o.extra_vars.append(("data", shape))
            owners[p.name] = o
    wires: list[Wire] = []
    spike_ports: dict[tuple[str, str], str] = {}

    def spikes_of(pop: str, event: str) -> str:
        """The port a native consumer reads `pop.event` from (one per event, fanned out)."""
        if pop in natives:
            return "s_out"
        key = (pop, event)
        if key not in spike_ports:
            name = f"out_spikes_{event}"
            owners[pop].outputs.append(Port(name, "spikes", (pops[pop].size,), (event,),
                                            comment=f"`{event}` for native consumers"))
            spike_ports[key] = name
        return spike_ports[key]

    for c, conn in enumerate(net.connections):
        syn = model.synapses[conn.synapse]
        src, tgt = pops[conn.source], pops[conn.target]
        delay, natural = delays(conn)
        deliveries = delivery_list(syn)
        if conn.name in natives:
            # Lava's Dense / LearningDense: s_in (spikes), a_out, s_in_bap (post spikes)
            wires.append(Wire(conn.source, spikes_of(conn.source, conn.source_event), conn.name, "s_in"))
            if natives[conn.name] == "learning_dense":
                wires.append(Wire(conn.target, spikes_of(conn.target, "spike"), conn.name, "s_in_bap"))
            var = deliveries[0][2]
            if conn.target in natives:
                wires.append(Wire(conn.name, "a_out", conn.target, "a_in"))
            else:
                port = f"in_{conn.name}"
                owners[conn.target].inputs.append(Port(
                    port, "native", (tgt.size,), var=var, order=delivery_order(net, c, 0),
                    comment=f"activations of native {conn.name} into `{var}`"))
                wires.append(Wire(conn.name, "a_out", conn.target, port))
            continue
        pre_reads, post_reads = peer_reads(conn, syn)
        neuron = model.neurons[tgt.neuron] if tgt.kind == "neuron" else None
        names = [v.name for v in syn.vars if v.kind != "param"]
        precs = [(v.name, v.dtype.precision if v.dtype.kind == "float" else None)
                 for v in syn.vars if v.kind != "param"]
        o = OwnerPorts(conn.name, "connection", f"connection `{conn.name}` ({syn.name}, {conn.connectivity})",
                       reasons.get(conn.name, ""), precs, {v.name for v in syn.of_kind("param")},
                       names[0] if names else "", names, same_step=conn.same_step)
        owners[conn.name] = o
        n_post = tgt.size
        if delay > 0:
            o.pending = True
            o.natural_pending = delay == natural
            o.extra_vars.append(("pending", (delay, max(1, len(deliveries)), 2, batch, n_post)))
        # pre side
        if pre_reads:
            if conn.source in natives:
                o.inputs.append(Port("in_pre", "native", (src.size,), ("spike",), side="pre",
                                     comment=f"spikes of native {conn.source}"))
                wires.append(Wire(conn.source, "s_out", conn.name, "in_pre"))
            else:
                out = f"out_{conn.name}_pre"
                owners[conn.source].outputs.append(Port(out, "values", (len(pre_reads), batch, src.size),
                                                        tuple(pre_reads), comment=f"what {conn.name} reads"))
                o.inputs.append(Port("in_pre", "pre", (len(pre_reads), batch, src.size), tuple(pre_reads),
                                     side="pre", comment=f"values of {conn.source}"))
                wires.append(Wire(conn.source, out, conn.name, "in_pre"))
        # post side
        if post_reads:
            if conn.target in natives:
                o.inputs.append(Port("in_post", "native", (tgt.size,), ("spike",), side="post",
                                     comment=f"spikes of native {conn.target}"))
                wires.append(Wire(conn.target, "s_out", conn.name, "in_post"))
            else:
                out = f"out_{conn.name}_post"
                owners[conn.target].outputs.append(Port(out, "values", (len(post_reads), batch, tgt.size),
                                                        tuple(post_reads), comment=f"what {conn.name} reads"))
                o.inputs.append(Port("in_post", "post", (len(post_reads), batch, tgt.size), tuple(post_reads),
                                     side="post", comment=f"values of {conn.target}"))
                wires.append(Wire(conn.target, out, conn.name, "in_post"))
                if conn.same_step and transmit_reads_post(syn):
                    out = f"out_{conn.name}_before"
                    owners[conn.target].outputs.append(Port(out, "before", (len(post_reads), batch, tgt.size),
                                                            tuple(post_reads),
                                                            comment=f"values before the step, for {conn.name}"))
                    o.inputs.append(Port("in_before", "before", (len(post_reads), batch, tgt.size),
                                         tuple(post_reads), side="post", comment=f"values of {conn.target} "
                                         "before its step"))
                    wires.append(Wire(conn.target, out, conn.name, "in_before"))
        # deliveries
        for j, (_, _, var, _) in enumerate(deliveries):
            out = f"out_d{j}"
            # natives.py keeps a LIF custom when a custom connection delivers into it
            o.outputs.append(Port(out, "delivery", (2, batch, n_post), var=var, slot=j,
                                  comment=f"into `{var}` of {conn.target}"))
            port = f"in_{conn.name}_d{j}"
            owners[conn.target].inputs.append(Port(port, "delivery", (2, batch, n_post), var=var,
                                                   order=delivery_order(net, c, j),
                                                   comment=f"{conn.name} delivers into `{var}`"))
            wires.append(Wire(conn.name, out, conn.target, port))
        del neuron
    return owners, wires
