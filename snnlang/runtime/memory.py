"""How much memory a network needs, estimated from its IR before any backend allocates it.

A population of a billion neurons, an all-to-all connection between two large layers or a
run of 1e11 recorded steps used to reach a backend's `np.zeros`/`torch.zeros`, which either
failed with a raw MemoryError deep in the backend or, with memory overcommit, succeeded and
took the machine down while the arrays filled. Here the figure is computed first, from the
array layout every backend shares (snnlang/runtime/executable.py), and a build or run that
cannot fit is refused with a `MemoryLimitError` naming what takes the space.

The estimate counts, in the compile `dtype` (fixed-point states are counted as floats):
  * a neuron population: batch x size x (its states, ports, traces, event flags, counters);
  * an input or label population: batch x size (spikes; `regular` also an accumulator);
  * a connection: its per-pair states and synapse-side traces x the pairs (dense: target x
    source, one_to_one: target, sparse: p x target x source, plus an index per pair); pre- and
    post-side traces per batch row; a delay ring of delay x batch x target per delivery;
  * a sparse connection's pattern: every backend draws it over all target x source candidate
    pairs at once (snnlang.ir.rng.uniform_np, then `u < p`), which peaks at about
    SPARSE_DRAW_BYTES per candidate however small p is;
  * a run's recording: steps x the recorded arrays, once as float64 while running and once
    in the state's dtype when handed back.
It is an estimate ("about"): backends keep a few scalars and temporaries more.

The limit is the machine's physical memory (or the container's, if smaller), and the GPU's
for target torch on CUDA. `SNNLANG_MEMORY_LIMIT` (e.g. `64GiB`, `500MB`, a number of bytes;
`0` or `off`: no check) or `compile(..., memory_limit=...)` overrides it.
"""

from __future__ import annotations

import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from snnlang.diagnostics import Span
from snnlang.errors import UserError
from snnlang.ir.model import ConnectionIR, ModelIR, NetworkIR
from snnlang.runtime.executable import Executable, PhaseRun

ENV_VAR = "SNNLANG_MEMORY_LIMIT"

_UNITS = {"": 1, "b": 1, "k": 10 ** 3, "kb": 10 ** 3, "m": 10 ** 6, "mb": 10 ** 6, "g": 10 ** 9,
          "gb": 10 ** 9, "t": 10 ** 12, "tb": 10 ** 12, "kib": 2 ** 10, "mib": 2 ** 20,
          "gib": 2 ** 30, "tib": 2 ** 40}


class MemoryLimitError(UserError, MemoryError):
    """A build or run would need more memory than the limit; the message gives the figures."""


@dataclass(frozen=True)
class Item:
    """One thing that takes memory: what it is, how many values, how many bytes."""

    what: str
    values: int
    bytes: int
    origin: Span | None = None


@dataclass(frozen=True)
class Estimate:
    items: tuple[Item, ...]

    @property
    def total(self) -> int:
        return sum(item.bytes for item in self.items)

    def largest(self) -> Item | None:
        return max(self.items, key=lambda item: item.bytes, default=None)


# ------------------------------------------------------------------------------ the limit

def parse_size(text: str) -> int | None:
    """Bytes from `64GiB`, `500 MB`, `1e9`; None for `0`, `off`, `none` (no limit)."""
    value = str(text).strip().lower()
    if value in ("", "0", "off", "none", "no", "unlimited"):
        return None
    m = re.fullmatch(r"([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)", value)
    if m is None or m.group(2) not in _UNITS:
        raise UserError(f"memory limit `{text}`: write a size such as 64GiB, 500MB or a number of "
                        "bytes (0 or off: no limit)")
    number = float(m.group(1)) * _UNITS[m.group(2)]
    if not math.isfinite(number):
        raise UserError(f"memory limit `{text}` is not a finite size")
    return int(number) if number >= 1 else None


def physical_memory() -> int | None:
    """Bytes of memory this process can have: the machine's, or its container's if smaller."""
    total = None
    try:
        import psutil
        total = int(psutil.virtual_memory().total)
    except Exception:  # noqa: BLE001 - psutil is optional; sysconf is the fallback
        try:
            total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            total = None
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < (total or 2 ** 62):   # "max" or a huge number: none
            total = int(text)
    return total


def _gpu_memory(target: str, device: str) -> int | None:
    """Bytes of the GPU a torch model would live on, or None (not torch, CPU, no CUDA)."""
    if target != "torch" or device == "cpu" or not (device == "auto" or device.startswith("cuda")):
        return None
    torch = sys.modules.get("torch")     # imported by the backend already; never import it here
    try:
        if torch is None or not torch.cuda.is_available():
            return None
        index = int(device.split(":", 1)[1]) if ":" in device else torch.cuda.current_device()
        return int(torch.cuda.get_device_properties(index).total_memory)
    except Exception:  # noqa: BLE001 - a query that fails must not stop a build; the host limit stays
        return None


def limit(override: str | int | float | None = None, target: str = "", device: str = "cpu"
          ) -> tuple[int | None, str]:
    """(bytes allowed or None for no check, where that figure comes from)."""
    if override is not None:
        value = parse_size(str(override)) if isinstance(override, str) else (
            int(override) if override and override > 0 else None)
        return value, "memory_limit"
    env = os.environ.get(ENV_VAR)
    if env is not None:
        return parse_size(env), ENV_VAR
    gpu = _gpu_memory(target, device)
    if gpu is not None:
        return gpu, "the GPU has"
    return physical_memory(), "the machine has"


def show_bytes(n: float) -> str:
    """`96 GiB`, `1.5 KiB`, `8.7e6 TiB`."""
    for unit, size in (("TiB", 2 ** 40), ("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= size:
            value = n / size
            if value < 1000:
                return f"{value:.3g} {unit}"
            return f"{_count(value) if value >= 1e6 else round(value)} {unit}"
    return f"{int(n)} bytes"


def _count(n: float) -> str:
    """`1,000` or `4e10`: the way a size is written in a model."""
    if n < 1e6:
        return f"{n:,.0f}"
    exponent = int(math.floor(math.log10(n)))
    return f"{round(n / 10 ** exponent, 2):g}e{exponent}"


# ---------------------------------------------------------------------------- the estimate

# measured peak of the draw per candidate pair (the index array, the uniforms, the mask)
SPARSE_DRAW_BYTES = 24


def _itemsize(dtype: str) -> int:
    return 4 if str(dtype) == "float32" else 8


def pairs(net: NetworkIR, conn: ConnectionIR) -> int:
    """How many (pre, post) pairs a connection has (its per-pair array length)."""
    src, dst = net.population(conn.source).size, net.population(conn.target).size
    if conn.connectivity == "one_to_one":
        return dst
    if conn.connectivity == "sparse":
        return int(math.ceil((conn.p or 0.0) * src * dst))
    return src * dst


def estimate_build(ir: ModelIR, network: str, batch: int = 1, dtype: str = "float64") -> Estimate:
    """What a backend will allocate for `network`, item by item (nothing is allocated here)."""
    net = ir.networks[network]
    size_of = _itemsize(dtype)
    items: list[Item] = []
    for pop in net.populations:
        if pop.kind == "neuron":
            neuron = ir.neurons[pop.neuron]
            per = len([v for v in neuron.vars if v.kind != "param"])
            what = f"population `{pop.name}` ({_count(pop.size)} neurons x {per} values)"
        else:
            per = 2 if pop.encoder == "regular" else 1
            what = f"{pop.kind} `{pop.name}` ({_count(pop.size)} channels)"
        n = batch * pop.size * per
        items.append(Item(what, n, n * size_of, pop.origin))
    for conn in net.connections:
        syn = ir.synapses[conn.synapse]
        src, dst = net.population(conn.source).size, net.population(conn.target).size
        tied = {conn.tie.var} if conn.tie is not None else set()
        per_pair = len([v for v in syn.vars if v.kind == "state" and v.name not in tied])
        per_pair += len([t for t in syn.traces if t.side == "syn"])
        n_pairs = pairs(net, conn)
        n = n_pairs * per_pair
        index = n_pairs * 8 if conn.connectivity == "sparse" else 0
        sided = sum(batch * (src if t.side == "pre" else dst) for t in syn.traces if t.side in ("pre", "post"))
        deliveries = len({a.target for h in syn.handlers for a in h.deliveries})
        ring = conn.delay_steps * batch * dst * max(deliveries, 1) if conn.delay_steps > 0 else 0
        if n + index + sided + ring == 0:
            continue
        noun = "weights" if per_pair == 1 else "per-pair values"
        what = (f"connection `{conn.name}` ({conn.source} -> {conn.target}, "
                f"{_count(n)} {noun})" if n else f"connection `{conn.name}` ({conn.source} -> {conn.target})")
        items.append(Item(what, n + sided + ring, (n + sided + ring) * size_of + index, conn.origin))
        if conn.connectivity == "sparse":
            candidates = src * dst
            items.append(Item(f"drawing the pattern of sparse connection `{conn.name}` "
                              f"({_count(candidates)} candidate pairs)", candidates,
                              candidates * SPARSE_DRAW_BYTES, conn.origin))
    return Estimate(tuple(items))


def _recorded_values(ir: ModelIR, net: NetworkIR, name: str, batch: int) -> int:
    """Values one step of recording `name` ("POP.var" / "CONN.var") holds; 0 if unknown (the
    backend reports an unknown name itself)."""
    owner, _, var = name.partition(".")
    pops = {p.name: p for p in net.populations}
    if owner in pops:
        return batch * pops[owner].size
    conn = next((c for c in net.connections if c.name == owner), None)
    if conn is None:
        return 0
    trace = next((t for t in ir.synapses[conn.synapse].traces if t.name == var), None)
    if trace is not None and trace.side in ("pre", "post"):
        return batch * net.population(conn.source if trace.side == "pre" else conn.target).size
    return pairs(net, conn)


def estimate_run(ir: ModelIR, network: str, steps: int, record: Iterable[str], batch: int = 1,
                 dtype: str = "float64") -> Estimate:
    """The recording of a run of `steps` steps (the states themselves exist already)."""
    net = ir.networks[network]
    per_value = 8 + _itemsize(dtype)      # a float64 buffer while running, then the handed-back copy
    items = []
    for name in dict.fromkeys(record):
        per_step = _recorded_values(ir, net, name, batch)
        n = per_step * max(int(steps), 0)
        if n:
            items.append(Item(f"`{name}` ({_count(per_step)} values a step)", n, n * per_value))
    return Estimate(tuple(items))


# ------------------------------------------------------------------------------ the checks

@dataclass(frozen=True)
class Budget:
    """The limit a model was compiled under, kept for the checks of its runs."""

    bytes: int | None
    source: str
    target: str = ""

    def refuse(self, what: str, estimate: Estimate, already: int = 0,
               remedy: str = "sizes, connectivity or batch") -> None:
        """Raise MemoryLimitError if `estimate` on top of `already` (bytes the model holds)
        exceeds the limit."""
        need = estimate.total + already
        if self.bytes is None or need <= self.bytes:
            return
        held = f" on top of the {show_bytes(already)} the network holds" if already else ""
        big = estimate.largest()
        where = ""
        if big is not None and big.origin is not None:
            where = f" at line {big.origin.line} of {Path(big.origin.file).name}"
        if big is None:
            share = ""
        elif big.bytes >= 0.99 * estimate.total:
            share = f", for {big.what}{where}"
        else:
            share = f"; {big.what}{where} alone needs {show_bytes(big.bytes)}"
        if self.source in ("the machine has", "the GPU has"):
            have = f"{self.source} {show_bytes(self.bytes)}"
        else:
            have = f"the limit ({self.source}) is {show_bytes(self.bytes)}"
        raise MemoryLimitError(
            f"{what} needs about {show_bytes(estimate.total)}{held}{share}; {have}. Nothing was "
            f"allocated. Make it smaller ({remedy}), use dtype=float32, "
            f"or, if the estimate is wrong for this machine, set {ENV_VAR} (e.g. {ENV_VAR}=64GiB; "
            f"0 turns the check off)")


def check_build(ir: ModelIR, network: str, batch: int, dtype: str, budget: Budget) -> Estimate:
    """Refuse (MemoryLimitError) a build whose arrays cannot fit; returns the estimate."""
    estimate = estimate_build(ir, network, batch, dtype)
    budget.refuse(f"network `{network}` on {budget.target or 'this target'}", estimate)
    return estimate


def guard_runs(executable: Executable, ir: ModelIR, network: str, batch: int, dtype: str, budget: Budget,
               built: Estimate) -> None:
    """Make `executable.run_phase` refuse a run whose recording cannot fit, before the backend
    allocates it. Done on the instance so that every backend, built-in or third-party, is
    covered without each one repeating the check."""
    if budget.bytes is None:
        return
    inner = executable.run_phase

    def run_phase(run: PhaseRun) -> dict:
        record = tuple(run.record or ())
        if record:
            estimate = estimate_run(ir, network, run.steps, record, batch, dtype)
            budget.refuse(f"recording {len(record)} variable{'s' * (len(record) != 1)} for "
                          f"{_count(run.steps)} steps", estimate, built.total,
                          "fewer steps, fewer recorded variables, or several shorter runs")
        return inner(run)

    try:
        executable.run_phase = run_phase
    except (AttributeError, TypeError):   # an executable with __slots__ keeps its own behaviour
        pass


__all__ = ["ENV_VAR", "MemoryLimitError", "Item", "Estimate", "Budget", "parse_size", "physical_memory",
           "limit", "show_bytes", "pairs", "estimate_build", "estimate_run", "check_build", "guard_runs"]
