"""What the peer benchmarks share: the machine line, medians, fresh worker processes, the
E/I network at any size, and tables.

The benchmark scripts (simulate_vs_brian2.py, simulate_vs_nest.py, train_vs_pytorch.py) run
every measurement in a new Python process (`worker`), so that compile times include what a
user waits for (code generation, C++ or LLVM compilation, cache loads) and one tool's global
state (Brian2's device, NEST's kernel, numba's dispatchers) cannot leak into another's.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EI_MODEL = ROOT / "models" / "ei_stdp_net.snn"


def machine() -> str:
    """CPU model, logical CPUs, OS, Python, and the load average (the machine may be shared)."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = "load average %.1f %.1f %.1f" % os.getloadavg()
    except OSError:
        load = "load average unknown"
    return (f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}; {load}")


def ei_network(n: int, plastic: bool = True) -> str:
    """models/ei_stdp_net.snn with `param N = n` (and without STDP on E -> E if not `plastic`)."""
    text = EI_MODEL.read_text(encoding="utf-8")
    text, found = re.subn(r"param N = \d+", f"param N = {int(n)}", text)
    if found != 1:
        raise SystemExit(f"{EI_MODEL}: expected one `param N = ...` line")
    if not plastic:
        text, found = re.subn(r"with ExcSTDP\(sparse\(p = p\), w_max = 2 \* J_E\)", "with Exc(sparse(p = p))", text)
        if found != 1:
            raise SystemExit(f"{EI_MODEL}: expected the E -> E connection `with ExcSTDP(...)`")
    return text


def ei_network_file(n: int, plastic: bool = True) -> Path:
    """`ei_network(n, plastic)` as a file under the model's name, in a folder of the system's
    temporary directory that is the same for every run of a variant: snnlang's compile caches
    key a model by its path and text, so a second process finds the lowered IR and the
    machine code, as it would for a user's file. (At the shipped size the generated module is
    also models/ei_stdp_net.snn's own, in the cache once the test suite has run.)"""
    import tempfile
    folder = Path(tempfile.gettempdir()) / "snnlang-peer-benchmarks" / f"N{int(n)}{'' if plastic else '-static'}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / EI_MODEL.name
    text = ei_network(n, plastic)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def ei_constants(n: int) -> dict[str, float]:
    """The E/I network's constants in SI units, read from the lowered .snn (so the hand-written
    Brian2 and NEST versions cannot drift from it): the network parameters (N, p, rate_ext,
    J_ext, J_E, J_I), the LIFEI neuron's and the ExcSTDP synapse's parameters, and the sizes."""
    from snnlang.ir.lower import lower
    from snnlang.semantics.checker import check_text
    ir = lower(check_text(ei_network(n)))
    net = ir.networks["ei_stdp"]
    out = {name: float(value) for name, value in net.params}
    for v in (*ir.neurons["LIFEI"].of_kind("param"), *ir.synapses["ExcSTDP"].of_kind("param")):
        out[v.name] = float(v.init)
    conns = {c.name: c for c in net.connections}
    out.update({k: float(v) for k, v in conns["EE"].params})          # w_max = 2 J_E
    out["N_E"] = float(net.population("E").size)
    out["N_I"] = float(net.population("I").size)
    out["dt"] = float(net.dt)
    out["duration"] = float(net.simulate_steps) * float(net.dt)
    return out


def worker(script: Path, args: list[str], env: dict[str, str] | None = None, timeout: float = 3600) -> dict:
    """Run `script --worker ARGS` in a new process; its last stdout line is a JSON object."""
    cmd = [sys.executable, str(script), "--worker", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=timeout, cwd=ROOT)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-15:]
        raise RuntimeError(f"worker {' '.join(args)} failed (exit {done.returncode}):\n" + "\n".join(tail))
    return json.loads(lines[-1])


def emit(result: dict) -> None:
    """A worker's result: one JSON line on stdout."""
    print(json.dumps(result), flush=True)


def median(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def spread(values) -> str:
    values = [v for v in values if v is not None]
    if len(values) < 2:
        return ""
    return f"{min(values):.3g}..{max(values):.3g}"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table (what docs/performance.md shows), columns padded for the terminal."""
    widths = [max(len(str(r[k])) for r in [header, *rows]) for k in range(len(header))]
    fmt = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    return "\n".join([fmt(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(fmt, rows)])


def seconds(x: float | None) -> str:
    if x is None or x != x:
        return "-"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def ratio(other: float | None, ours: float | None) -> str:
    """How many times `ours` is faster than `other` (other / ours)."""
    if not other or not ours or other != other or ours != ours:
        return "-"
    return f"{other / ours:.2f}x"
