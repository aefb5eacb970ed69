"""snnlang: a language and compiler for spiking neural networks that learn.

Public entry points so far: `check_path` / `check_text` (parse and check a model).
"""

__version__ = "0.1.0"

from snnlang.semantics.checker import CheckResult, check_path, check_text  # noqa: E402

__all__ = ["__version__", "CheckResult", "check_path", "check_text"]
