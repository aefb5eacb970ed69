"""The torch backend: the IR printed as vectorised torch code with a batch dimension.

    from snnlang_backends.torch import build
    exe = build(model_ir, "net", Options(seed=1, batch=64, device="auto"))   # an Executable
    exe.run_phase(PhaseRun("train", 20, None, frozenset({"W"}), {"x": intensities}, ("out.v",)))
    print(source(model_ir, "net"))                                          # the generated module

One generated, readable module per network (and mode): `step` runs one time step of every
batch row with tensor operations only (dense projections as matmuls, sparse ones as gathers and
index_add, plasticity as batched outer products reduced over the batch), on the CPU or a CUDA
device, in float32 or float64. Random draws equal the reference executor's bit for bit.

Options.extra understood here:
  compile      True: run `step` through torch.compile (default False; see docs/backends/torch.md)
  distributed  True: data-parallel over the processes of torch.distributed (torchrun); each
               process holds `batch` rows, plasticity and gradients are all-reduced
  threads      torch's CPU threads while the executable runs (default 1, None: leave torch's
               setting); see TorchExecutable.cpu_threads
Training by surrogate-gradient BPTT instead of the model's own rules: `make_trainer` (bptt.py),
which `snnlang.compile(..., target="torch", learning="bptt")` calls.

Modules, one idea each:
  printer          sympy IR expression -> torch code (and NumPy host code for constants)
  code, scope      source text with `.snn` line comments; one generated function's names and writes
  plan             the network's states, parameters, constants, index tensors
  pairs            separable pair expressions of dense connections as matmuls
  gen_populations  neuron populations and encoders
  gen_connections  transmission, traces, plasticity, hooks, initial values of connections
  gen_module       the whole module (tables, derive_params/derive_constants, step, resets, hooks)
  ops              what generated code calls: the RNG, fixed point, population functions, surrogates
  host             TorchExecutable: tensors, parameters, resets, the step loop, NaN checks
  distributed      batch reduction across processes (torch.distributed)
  bptt             BPTTTrainer: surrogate-gradient backpropagation through time of the same network
  cache            generated modules stored as files named by their hash
"""

from __future__ import annotations

import os

from snnlang.ir.model import ModelIR
from snnlang.runtime.executable import Options

from . import cache
from .distributed import Reducer
from .gen_module import FORMAT, generate
from .host import TorchExecutable, resolve_device
from .plan import BuildError



def _version() -> str:
    from snnlang import __version__
    return __version__


def source(model: ModelIR, network: str, mode: str = "exact") -> str:
    """The generated module of `network` (deterministic: the same IR gives the same text)."""
    return generate(model, network, mode, _version())


def load_module(model: ModelIR, network: str, mode: str = "exact"):
    """The generated module of `network`, imported through the cache folder."""
    return cache.load(source(model, network, mode), _version(), FORMAT)


def _reducer(options: Options, batch_mode: str, device) -> Reducer:
    if not options.extra.get("distributed"):
        return Reducer(options.batch, batch_mode, device=str(device))
    import torch.distributed as dist
    if not dist.is_available():
        raise BuildError("distributed=True needs torch.distributed, which this torch build lacks")
    if not dist.is_initialized():
        if "WORLD_SIZE" not in os.environ:
            raise BuildError("distributed=True: start the program with torchrun (it sets WORLD_SIZE, RANK, ...) "
                             "or call torch.distributed.init_process_group first")
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return Reducer(options.batch, batch_mode, dist.get_world_size(), dist.get_rank(), str(device))


def build(model: ModelIR, network: str, options: Options | None = None) -> TorchExecutable:
    """An `Executable` (snnlang/runtime/executable.py) for `network` of `model`."""
    options = options or Options()
    if options.dtype not in ("float32", "float64"):
        raise BuildError(f"dtype must be float32 or float64, not {options.dtype!r}")
    if options.batch < 1:
        raise BuildError("batch must be at least 1")
    module = load_module(model, network)
    device = resolve_device(options.device)
    exe = TorchExecutable(module, seed=options.seed, batch=options.batch, dtype=options.dtype,
                          device=str(device), reducer=_reducer(options, module.BATCH_MODE, device),
                          compile=bool(options.extra.get("compile", False)),
                          threads=options.extra.get("threads", 1))
    exe.ir, exe.network_name = model, network
    return exe


__all__ = ["build", "source", "load_module", "BuildError", "TorchExecutable"]
