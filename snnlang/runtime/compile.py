"""`snnlang.compile`: source -> checked model -> IR -> backend executable -> `Model`."""

from __future__ import annotations

from pathlib import Path

from snnlang.diagnostics import error, render_all
from snnlang.errors import UserError
from snnlang.runtime.executable import Options
from snnlang.runtime.model import CompileError, Model
from snnlang.runtime.expression_depth import deepest_expression, exceeds_python_nesting, too_deep
from snnlang.runtime.parameter_values import is_arithmetic_failure, undefined_constants


def _looks_like_path(source: str | Path) -> bool:
    if isinstance(source, Path):
        return True
    return "\n" not in source and (source.endswith(".snn") or Path(source).is_file())


def compile_model(source: str | Path, target: str = "numba", network: str | None = None,
                  **options) -> Model:
    """Compile a `.snn` file (path) or source text for `target` and return a runnable Model.

    options: seed (int), batch (int), dtype ("float32" | "float64"), device ("auto", "cpu",
    "cuda"), memory_limit (bytes or a size such as "64GiB"; 0: no check; default: the machine's
    memory or SNNLANG_MEMORY_LIMIT, see snnlang/runtime/memory.py), and backend-specific
    extras. `learning`: "local" (default: the model's own
    plasticity) or "bptt" (target "torch": surrogate-gradient backpropagation through time of
    the same network; with loss, optimizer, lr, surrogate, surrogate_width, see
    docs/backends/torch.md). Raises CompileError with rendered diagnostics when the model has
    errors, and MemoryLimitError (before allocating anything) when the network, or later a
    run's recording, cannot fit in memory.
    """
    from snnlang.ir.lower import LoweringError
    from snnlang.runtime.ir_cache import lower_cached
    from snnlang.runtime import memory
    from snnlang.runtime.backends import builder
    from snnlang.semantics.checker import check_path, check_text

    checked = check_path(source) if _looks_like_path(source) else check_text(str(source))
    if not checked.ok:
        raise CompileError(checked.errors, render_all(checked.errors, checked.sources))
    try:
        ir = lower_cached(checked)
    except LoweringError as exc:
        raise CompileError(exc.diagnostics, render_all(exc.diagnostics, checked.sources)) from None
    except RecursionError:
        diag = too_deep("the solvers", None)
        raise CompileError([diag], render_all([diag], checked.sources)) from None
    if not ir.networks:
        diag = error("E606", "the file defines no network to run", None,
                     "add a `network NAME:` block, or import this file from one that has it")
        raise CompileError([diag], render_all([diag], checked.sources))
    if network is None:
        if len(ir.networks) > 1:
            names = ", ".join(ir.networks)
            diag = error("E606", f"the file defines several networks ({names})", None,
                         "choose one with network=NAME")
            raise CompileError([diag], render_all([diag], checked.sources))
        network = next(iter(ir.networks))
    elif network not in ir.networks:
        diag = error("E606", f"no network `{network}`; the file defines {', '.join(ir.networks)}", None)
        raise CompileError([diag], render_all([diag], checked.sources))
    extra = {k: v for k, v in options.items() if k not in ("seed", "batch", "dtype", "device", "memory_limit")}
    opts = Options(seed=int(options.get("seed", 0)), batch=int(options.get("batch", 1)),
                   dtype=str(options.get("dtype", "float64")), device=str(options.get("device", "auto")),
                   extra=extra)
    build = builder(target)     # imports the backend first: a GPU's size is known only then
    bytes_allowed, source = memory.limit(options.get("memory_limit"), target, opts.device)
    budget = memory.Budget(bytes_allowed, source, target)
    estimate = memory.check_build(ir, network, opts.batch, opts.dtype, budget)
    try:
        executable = build(ir, network, opts)
    except Exception as exc:
        if exceeds_python_nesting(exc):
            levels, span = deepest_expression(ir, network)
            diag = too_deep(f"the {target} backend's code generator", span, levels)
            raise CompileError([diag], render_all([diag], checked.sources)) from None
        if not is_arithmetic_failure(exc):
            raise
        raise undefined_constants(exc, ir, network, target) from None
    memory.guard_runs(executable, ir, network, opts.batch, opts.dtype, budget, estimate)
    sources = checked.sources.texts()
    return Model(ir, network, target, opts, executable, sources, _trainer(executable, target, extra))


def _trainer(executable, target: str, extra: dict):
    """None for `learning="local"` (the model's own plasticity), else the backend's trainer."""
    learning = str(extra.get("learning", "local"))
    if learning == "local":
        return None
    make = getattr(executable, "make_trainer", None)
    if make is None:
        raise UserError(f"target `{target}` trains only by the model's own rules (learning='local'); "
                        f"learning='{learning}' needs target='torch'")
    return make(learning, extra)
