"""snnlang: a language and compiler for spiking neural networks that learn.

    model = snnlang.compile("models/stdp.snn", target="numba")
    rec = model.run(10_000)
    model.save("stdp.ckpt"); model = snnlang.load("stdp.ckpt")

`check_path` / `check_text` parse and check a model without compiling it.
"""

__version__ = "0.1.0"

from snnlang.runtime.compile import compile_model as compile  # noqa: E402,A001
from snnlang.runtime.checkpoint import CheckpointError, TrainingInterrupted  # noqa: E402
from snnlang.runtime.model import CompileError, Dataset, Model, Recording, load  # noqa: E402
from snnlang.semantics.checker import CheckResult, check_path, check_text  # noqa: E402

__all__ = ["__version__", "compile", "load", "Model", "Recording", "Dataset", "CompileError",
           "CheckpointError", "TrainingInterrupted", "CheckResult", "check_path", "check_text"]
