"""Finding backends: built-ins by name, third-party ones through the `snnlang.backends` entry points."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Callable

from snnlang.errors import UserError
from snnlang.ir.model import ModelIR
from snnlang.runtime.executable import Executable, Options

Builder = Callable[[ModelIR, str, Options], Executable]

BUILT_IN = {
    "reference": "snnlang_backends.reference",
    "numba": "snnlang_backends.numba",
    "torch": "snnlang_backends.torch",
    "lava": "snnlang_backends.lava",
}


class UnknownBackend(UserError, LookupError):
    pass


def available() -> list[str]:
    names = set(BUILT_IN)
    names.update(ep.name for ep in entry_points(group="snnlang.backends"))
    return sorted(names)


def builder(target: str) -> Builder:
    """The `build(model, network, options)` function of a backend."""
    for ep in entry_points(group="snnlang.backends"):
        if ep.name == target:
            return ep.load()
    module_name = BUILT_IN.get(target)
    if module_name is None:
        raise UnknownBackend(f"unknown target `{target}`; available: {', '.join(available())}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise UnknownBackend(f"target `{target}` is not available here ({exc.name} is not installed)") from exc
    return module.build
