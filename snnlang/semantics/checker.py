"""The semantic stage: AST -> checked model, with every error of a file reported at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from snnlang.diagnostics import Diagnostic, SourceCache, sort_key
from snnlang.semantics.definitions import CheckedDefinition, NeuronChecker, SynapseChecker
from snnlang.semantics.loader import Loaded, load_path, load_text
from snnlang.semantics.network import CheckedNetwork, NetworkChecker
from snnlang.syntax import ast as A


@dataclass
class CheckResult:
    """A checked model: definitions with their scopes, networks, and all diagnostics."""

    file: str
    module: A.Module | None
    neurons: dict[str, CheckedDefinition] = field(default_factory=dict)
    synapses: dict[str, SynapseChecker] = field(default_factory=dict)
    networks: dict[str, CheckedNetwork] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: SourceCache = field(default_factory=SourceCache)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors


def check_path(path: str | Path) -> CheckResult:
    """Parse and check a `.snn` file and everything it imports."""
    return _check(load_path(path), str(path))


def check_text(text: str, file: str = "<string>", base: Path | None = None) -> CheckResult:
    """Parse and check `.snn` source given as a string (imports resolve from `base`)."""
    return _check(load_text(text, file, base), file)


def _check(loaded: Loaded, file: str) -> CheckResult:
    diags = list(loaded.diagnostics)
    result = CheckResult(file, loaded.main.module if loaded.main else None, sources=loaded.sources)
    checked_defs: dict[int, CheckedDefinition | SynapseChecker] = {}
    # every definition of every loaded file is checked once on its own
    for lm in loaded.modules.values():
        for d in lm.module.definitions:
            if isinstance(d, A.NeuronDef):
                checked_defs[id(d)] = NeuronChecker(d, diags).run()
            elif isinstance(d, A.SynapseDef):
                syn = SynapseChecker(d, diags)
                syn.collect()
                syn.check(None, None)
                checked_defs[id(d)] = syn
    if loaded.main is not None:
        visible = loaded.main.visible
        result.neurons = {n: checked_defs[id(d)] for n, d in visible.items()
                          if isinstance(d, A.NeuronDef) and id(d) in checked_defs}
        result.synapses = {n: checked_defs[id(d)] for n, d in visible.items()
                           if isinstance(d, A.SynapseDef) and id(d) in checked_defs}
        for d in loaded.main.module.definitions:
            if isinstance(d, A.NetworkDef) and visible.get(d.name) is d:
                result.networks[d.name] = NetworkChecker(d, result.neurons, result.synapses, diags).run()
    result.diagnostics = _dedupe(diags)
    return result


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    """A synapse checked once per connection may repeat a finding; keep one of each."""
    seen = set()
    out = []
    for d in sorted(diags, key=sort_key):
        key = (d.code, d.span, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out
