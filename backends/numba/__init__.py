"""The numba backend: one generated, readable Python module of @njit kernels per network.

    from snnlang_backends.numba import build
    exe = build(model_ir, "net", Options(seed=1, batch=2))      # an Executable
    exe.run_phase(PhaseRun("train", 20, None, frozenset({"W"}), {"x": intensities}, ("out.v",)))

    emit(model_ir, "net", Path("out"))   # a standalone package: snnc compile FILE --target numba -o out

Modules, one idea each:
  printer      sympy IR expression -> numba-Python (canonical form, built-ins, hoisted constants)
  helpers      source of the helpers every module starts with (the RNG of snnlang/ir/rng.py, ...)
  code         indented source with `# file.snn:LINE` comments; unique identifiers
  plan         the network's arrays, parameters, constants vector and phases
  scope        one kernel's loaded constants, RNG keys and phase flags
  gen_neurons  neuron populations: fused step, reset, hooks
  gen_inputs   input and label encoders
  conn_common  name resolution and pair loops of a connection
  gen_transmit deliveries (event-driven, sums in NumPy's order), delays
  gen_learning synapse traces and plasticity (rank-1, batch-reduced), connection hooks
  gen_conn_init initial values of connections, sparse masks
  gen_module   the whole module: tables, `_run` (a phase in one njit call), wrappers; the manifest
  host         `Simulation`: the Executable on top of a generated module (numpy + numba only)
  cache        generated modules stored by content hash; corrupt entries rebuilt
  package      the standalone package of `snnc compile` (a module named `emit` would shadow
               the `emit` function once imported)
"""

from __future__ import annotations

from pathlib import Path

from snnlang.ir.model import ModelIR
from snnlang.runtime.executable import NumericalError, Options

from . import cache
from .gen_module import FORMAT, generate
from .host import Simulation
from .plan import BuildError


def _version() -> str:
    from snnlang import __version__
    return __version__


def source(model: ModelIR, network: str) -> str:
    """The generated module of `network` (deterministic: the same IR gives the same text)."""
    return generate(model, network, _version())[0]


def load_module(model: ModelIR, network: str):
    """The generated module of `network`, imported through the compile cache. An IR with a
    fingerprint (snnlang.runtime.ir_cache) finds its module without generating the source."""
    if model.fingerprint:
        module = cache.load_indexed(f"{model.fingerprint[:32]}-{network}", FORMAT)
        if module is not None:
            return module
    module = cache.load(source(model, network), _version(), FORMAT)
    if model.fingerprint:
        cache.write_index(f"{model.fingerprint[:32]}-{network}", module)
    return module


def build(model: ModelIR, network: str, options: Options | None = None) -> Simulation:
    """An `Executable` (snnlang/runtime/executable.py) for `network` of `model`."""
    options = options or Options()
    if options.dtype not in ("float32", "float64"):
        raise BuildError(f"dtype must be float32 or float64, not {options.dtype!r}")
    if options.batch < 1:
        raise BuildError("batch must be at least 1")
    module = load_module(model, network)
    return Simulation(module, seed=options.seed, batch=options.batch, dtype=options.dtype,
                      numerical_error=NumericalError)


def emit(model: ModelIR, network: str | None, out_dir: Path, force: bool = False) -> Path:
    """Write a standalone package for `network` (every network when None) under `out_dir`;
    a folder there that snnc did not write is replaced only with `force` (package_dir.py)."""
    from .package import write_package
    return write_package(model, network, Path(out_dir), _version(), force)


__all__ = ["build", "emit", "source", "load_module", "BuildError", "Simulation"]
