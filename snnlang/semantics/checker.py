"""The semantic stage: AST -> checked model, with every error of a file reported at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from snnlang.diagnostics import (
    MAX_DIAGNOSTICS_PER_FILE, Diagnostic, SourceCache, Span, error, hint_budget, sort_key,
)
from snnlang.semantics.definitions import CheckedDefinition, NeuronChecker, SynapseChecker
from snnlang.semantics.loader import ImportPath, Loaded, load_path, load_text
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
    # diagnostics left out of `diagnostics` per file, past MAX_DIAGNOSTICS_PER_FILE, and how
    # many of them are errors
    omitted: dict[str, int] = field(default_factory=dict)
    omitted_errors: int = 0

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors and not self.omitted_errors


def check_path(path: str | Path, import_path: ImportPath | None = None) -> CheckResult:
    """Parse and check a `.snn` file and everything it imports.

    Imports may read the file's folder tree, the folders of `import_path` and of the
    environment variable SNNLANG_PATH, and the shipped models (docs/language.md §3)."""
    with hint_budget():
        return _check(load_path(path, import_path), str(path))


def check_text(text: str, file: str = "<string>", base: Path | None = None,
               import_path: ImportPath | None = None) -> CheckResult:
    """Parse and check `.snn` source given as a string (imports resolve from `base`)."""
    with hint_budget():
        return _check(load_text(text, file, base, import_path), file)


def _check(loaded: Loaded, file: str) -> CheckResult:
    try:
        return _check_all(loaded, file)
    except RecursionError:
        # the parser bounds nesting (E105) so this should not happen; if some construct still
        # recurses too deeply, say so as a diagnostic rather than crash
        result = CheckResult(file, loaded.main.module if loaded.main else None, sources=loaded.sources)
        result.diagnostics = _dedupe(list(loaded.diagnostics)) + [error(
            "E105", "the model is nested too deeply to check", Span(file, 1, 1, 1, 2),
            "split long expressions and deeply nested blocks or definitions")]
        return result


def _check_all(loaded: Loaded, file: str) -> CheckResult:
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
    if loaded.quiet_files:
        diags = [d for d in diags if d.span is None or loaded.quiet_files.get(d.span.file, d) is d]
    every = _dedupe(diags)
    result.diagnostics, result.omitted = _capped(every)
    result.omitted_errors = sum(d.is_error for d in every) - len(result.errors)
    return result


def _capped(diags: list[Diagnostic]) -> tuple[list[Diagnostic], dict[str, int]]:
    """At most MAX_DIAGNOSTICS_PER_FILE diagnostics of each file (the first, in file order):
    thousands of errors help nobody, and rendering them all would dominate the run."""
    shown: dict[str, int] = {}
    omitted: dict[str, int] = {}
    out = []
    for d in diags:
        key = d.span.file if d.span else ""
        if shown.get(key, 0) < MAX_DIAGNOSTICS_PER_FILE:
            shown[key] = shown.get(key, 0) + 1
            out.append(d)
        else:
            omitted[key] = omitted.get(key, 0) + 1
    return out, omitted


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
