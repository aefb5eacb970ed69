"""The Lava backend: a network as Lava processes for Loihi (Lava's `Loihi2SimCfg` simulates them).

    from snnlang_backends.lava import build, emit, explain
    exe = build(model_ir, "net", Options(seed=1, extra={"tag": "fixed_pt"}))   # an Executable
    print(explain(model_ir, "net"))         # `snnc explain FILE --target lava`
    emit(model_ir, "net", Path("out"))      # `snnc compile FILE --target lava -o out`

Populations and projections that fit Loihi's native blocks become Lava's own processes (LIF,
Dense, LearningDense with a Loihi2FLearningRule whose `dw`/`dt` strings are derived from the
`.snn` plasticity); everything else becomes a custom Process + ProcessModel pair generated from
the IR. Options (`snnlang.compile(..., target="lava", tag=..., native=...)`):
  tag      "floating_pt" (default) or "fixed_pt": which ProcessModels Lava selects
  native   "auto" (default): native where the model fits exactly, custom otherwise;
           "off": everything custom; "require": a misfit is an error (its diagnostic)
  approximate  True: accept a native mapping that is exact only up to a documented
           approximation (each such choice is a warning); default False

Modules, one idea each:
  runtime       the IR's semantics in NumPy, imported by generated modules (no snnlang)
  printer       sympy IR expression -> NumPy source, in the reference executor's operation order
  code          indented source with `# file.snn:LINE` comments
  gen_common / gen_neuron / gen_input / gen_connection   the plain-NumPy kernels of custom owners
  gen_process   Lava Process + ProcessModel (floating_pt, fixed_pt) around a kernel
  wiring        ports and port connections of every process
  fit_lif       does a population behave exactly like Loihi's LIF (and its configuration per tag)?
  rules         plasticity -> Loihi sum-of-products (dependencies, traces, factors)
  fixed         float-to-fixed conversion: weight exponent/mantissa, impulses, taus, 12-bit decays,
                coefficients m*2^e, and the Loihi strings
  emulate       bit-accurate emulation of Lava's fixed-point learning engine
  natives       the decision per owner (LIF, Dense, LearningDense or custom), with its diagnostics
  plan          the network plan: natives, reasons, diagnostics, ports, wires
  gen_module    the whole generated module (kernels, processes, tables)
  host          `LavaNetwork`: the Executable over a generated module (numpy + Lava only)
  host_native   its native owners: Lava's LIF / Dense / LearningDense, unit conversions, spike taps
  cache         generated modules stored by content hash
  report        the `--target lava` section of `snnc explain`
  emit          the standalone package of `snnc compile --target lava`
"""

from __future__ import annotations

from pathlib import Path

from snnlang.errors import BackendError
from snnlang.ir.model import ModelIR
from snnlang.runtime.executable import NumericalError, Options

from .plan import NetworkPlan, PlanError, plan_network

TAGS = ("floating_pt", "fixed_pt")


class BuildError(BackendError):
    """A request the Lava backend cannot honour (the message says what and how to fix it)."""


def _version() -> str:
    from snnlang import __version__
    return __version__


def lava_available() -> bool:
    """True if lava-nc is installed and imports on this Python (see snnlang/_lava_shim.py)."""
    from snnlang import _lava_shim
    return _lava_shim.available()


def _plan_options(options: Options) -> dict:
    extra = dict(options.extra)
    native = extra.get("native", "auto")
    if native not in ("auto", "off", "require"):
        raise BuildError(f"option native={native!r}: use 'auto', 'off' or 'require'")
    return {"native": native, "approximate": bool(extra.get("approximate", False))}


def plan(model: ModelIR, network: str, options: Options | None = None) -> NetworkPlan:
    """The plan of `network` (which owners are native, why, the fixed-point conversion)."""
    return plan_network(model, network, _plan_options(options or Options()))


def source(model: ModelIR, network: str, options: Options | None = None) -> str:
    """The generated module of `network` (deterministic: the same IR gives the same text)."""
    from .gen_module import generate
    return generate(model, plan(model, network, options), _version())


def build(model: ModelIR, network: str, options: Options | None = None):
    """An `Executable` (snnlang/runtime/executable.py) for `network`, running under Lava.

    Raises CompileError (with the diagnostics, rendered) when the network cannot run on Lava,
    `BuildError` for a bad option or a missing Lava installation."""
    from snnlang.runtime.model import CompileError
    options = options or Options()
    tag = str(options.extra.get("tag", "floating_pt"))
    if tag not in TAGS:
        raise BuildError(f"option tag={tag!r}: Lava's CPU models are tagged 'floating_pt' or 'fixed_pt'")
    if options.dtype != "float64":
        raise BuildError("the Lava backend computes in float64 (Lava's floating_pt models do); use "
                         "dtype='float64'")
    if not lava_available():
        raise BuildError("the Lava backend needs lava-nc 0.10.0: install it with "
                         "`pip install --no-deps --ignore-requires-python lava-nc==0.10.0` "
                         "(scripts/install.sh does)")
    from . import cache
    from .host import LavaNetwork
    try:
        the_plan = plan(model, network, options)
    except PlanError as exc:
        raise CompileError(exc.diagnostics, str(exc)) from None
    if the_plan.natives and options.batch != 1:
        raise BuildError(f"Lava's native processes ({', '.join(sorted(the_plan.natives))}) run one sample at a "
                         "time: use batch=1, or native='off' to run batches as custom processes")
    accepted = [d for d in the_plan.diagnostics if d.severity.value == "warning"]
    if accepted:   # approximations the caller accepted (approximate=True): said, never silent
        import warnings
        from .report import render_diagnostics
        warnings.warn("Lava mapping approximates the model:\n" + render_diagnostics(accepted), stacklevel=2)
    from .gen_module import generate
    module = cache.load(generate(model, the_plan, _version()), _version())
    on_param = None
    if any(True for _ in module.NATIVE):
        from .natives import native_param_handler
        on_param = native_param_handler(model, network, _plan_options(options))
    return LavaNetwork(module, seed=options.seed, batch=options.batch, tag=tag,
                       numerical_error=NumericalError, on_native_param=on_param)


def explain(model: ModelIR, network: str | None = None, options: Options | None = None) -> str:
    """The `--target lava` section of `snnc explain`: native vs custom and why, the Loihi rule
    strings, the float-to-fixed scales; every network of the model when `network` is None."""
    from .report import explain_lava
    return explain_lava(model, network, _plan_options(options or Options()))


def emit(model: ModelIR, network: str | None, out_dir: Path, force: bool = False) -> Path:
    """Write a standalone package for `network` (every network when None) under `out_dir`;
    returns the package folder. `snnc compile FILE --target lava -o DIR` calls this. A folder
    there that snnc did not write is replaced only with `force` (backends/package_dir.py)."""
    from .package import write_package
    return write_package(model, network, Path(out_dir), _version(), force)


__all__ = ["build", "emit", "explain", "plan", "source", "lava_available", "BuildError", "PlanError",
           "TAGS"]
