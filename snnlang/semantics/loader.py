"""Reading `.snn` files and following their imports."""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path

from snnlang.diagnostics import Diagnostic, SourceCache, Span, did_you_mean, error
from snnlang.syntax import ast as A
from snnlang.syntax.parser import parse


def stdlib_dirs() -> list[Path]:
    """Where `import "lif.snn"` looks after the importing file's own folder."""
    dirs = []
    try:
        dirs.append(Path(str(importlib.resources.files("snnlang.models"))))
    except ModuleNotFoundError:
        pass
    source_tree = Path(__file__).resolve().parents[2] / "models"
    if source_tree.is_dir() and source_tree not in dirs:
        dirs.append(source_tree)
    return dirs


@dataclass
class LoadedModule:
    module: A.Module
    path: Path | None
    visible: dict[str, A.Definition] = field(default_factory=dict)


@dataclass
class Loaded:
    main: LoadedModule | None
    modules: dict[str, LoadedModule]
    sources: SourceCache
    diagnostics: list[Diagnostic]


def load_text(text: str, file: str = "<string>", base: Path | None = None) -> Loaded:
    loader = _Loader()
    main = loader.load_source(text, file, base or Path.cwd(), chain=())
    return Loaded(main, loader.modules, loader.sources, loader.diags)


def load_path(path: str | Path) -> Loaded:
    loader = _Loader()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        loader.diags.append(error("E700", f"cannot read `{path}`: {reason}", None,
                                  "check the path" if isinstance(exc, FileNotFoundError) else ""))
        return Loaded(None, {}, loader.sources, loader.diags)
    main = loader.load_source(text, str(path), p.resolve().parent, chain=(str(p.resolve()),))
    return Loaded(main, loader.modules, loader.sources, loader.diags)


class _Loader:
    def __init__(self) -> None:
        self.modules: dict[str, LoadedModule] = {}
        self.sources = SourceCache()
        self.diags: list[Diagnostic] = []

    def load_source(self, text: str, file: str, base: Path, chain: tuple[str, ...]) -> LoadedModule:
        self.sources.add(file, text)
        module, diags = parse(text, file)
        self.diags.extend(diags)
        loaded = LoadedModule(module, Path(file) if file != "<string>" else None)
        key = chain[-1] if chain else file
        self.modules[key] = loaded
        for imp in module.imports:
            self._import(imp, loaded, base, chain)
        for d in module.definitions:
            prior = loaded.visible.get(d.name)
            if prior is not None and prior is not d:
                where = prior.name_span
                self.diags.append(error("E201", f"`{d.name}` is already defined (at {where})", d.name_span,
                                        "rename one of them"))
                continue
            loaded.visible[d.name] = d
        return loaded

    def _resolve(self, imp: A.Import, base: Path) -> Path | None:
        candidates = [base / imp.path] + [d / imp.path for d in stdlib_dirs()]
        for c in candidates:
            try:
                if c.is_file():
                    return c.resolve()
            except (OSError, ValueError):  # e.g. a name too long for the file system: not found
                continue
        return None

    def _import(self, imp: A.Import, into: LoadedModule, base: Path, chain: tuple[str, ...]) -> None:
        path = self._resolve(imp, base)
        if path is None:
            self.diags.append(error("E701", f"cannot find `{imp.path}`", imp.path_span,
                                    f"looked in {base} and the shipped models folder"))
            return
        key = str(path)
        if key in chain:
            self.diags.append(error("E702", f"`{imp.path}` imports this file back (a cycle)", imp.span,
                                    "move the shared definitions into a third file"))
            return
        loaded = self.modules.get(key)
        if loaded is None:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                self.diags.append(error("E700", f"cannot read `{imp.path}`: {exc}", imp.path_span))
                return
            loaded = self.load_source(text, _display(path), path.parent, chain + (key,))
        exported = {d.name: d for d in loaded.module.definitions
                    if isinstance(d, (A.NeuronDef, A.SynapseDef))}
        # definitions a file itself imported are exported too, so libraries can re-export
        for name, d in loaded.visible.items():
            if isinstance(d, (A.NeuronDef, A.SynapseDef)):
                exported.setdefault(name, d)
        if imp.names is None:
            wanted = list(exported.items())
        else:
            wanted = []
            for name, span in zip(imp.names, imp.name_spans):
                if name in exported:
                    wanted.append((name, exported[name]))
                else:
                    self.diags.append(error("E703", f"`{imp.path}` has no neuron or synapse `{name}`", span,
                                            did_you_mean(name, exported)))
        for name, d in wanted:
            prior = into.visible.get(name)
            if prior is not None and prior is not d:
                self.diags.append(error("E201", f"`{name}` is imported twice from different files",
                                        imp.span))
                continue
            into.visible[name] = d


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


__all__ = ["load_path", "load_text", "Loaded", "LoadedModule", "stdlib_dirs", "Span"]
