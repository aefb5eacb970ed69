"""Reading `.snn` files and following their imports.

Imports may read only `.snn` files inside the folder of the model being checked (and its
subfolders), the folders of the import search path (the `import_path` argument, then the
environment variable `SNNLANG_PATH`) and the shipped models. Containment is decided on
the fully resolved path, so `../` and symbolic links cannot lead out (docs/language.md §3).
"""

from __future__ import annotations

import importlib.resources
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable

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


PATH_VARIABLE = "SNNLANG_PATH"
# each level of an import chain is a level of recursion in the loader (docs/language.md §3)
MAX_IMPORT_DEPTH = 32

ImportPath = Iterable["str | Path"]


def search_dirs(import_path: ImportPath | None = None) -> list[Path]:
    """The import search path: `import_path`, then the folders listed in `SNNLANG_PATH`
    (separated by `os.pathsep`), in that order; empty entries are ignored."""
    dirs = [Path(d) for d in (import_path or ()) if str(d)]
    dirs += [Path(d) for d in os.environ.get(PATH_VARIABLE, "").split(os.pathsep) if d]
    return dirs


def _real(path: Path) -> Path | None:
    try:
        return Path(os.path.realpath(path))
    except (OSError, ValueError):  # e.g. a NUL byte or a name too long for the file system
        return None


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
    # imported files that failed to parse: the one diagnostic each may show (the first
    # syntax error), so that a file that is not a model is never echoed line by line
    quiet_files: dict[str, Diagnostic] = field(default_factory=dict)


def load_text(text: str, file: str = "<string>", base: Path | None = None,
              import_path: ImportPath | None = None) -> Loaded:
    """Parse `text` and its imports; `base` (default: the working directory) is the model's folder."""
    base = base or Path.cwd()
    loader = _Loader(base, import_path)
    main = loader.load_source(text, file, base, chain=())
    return Loaded(main, loader.modules, loader.sources, loader.diags, loader.quiet_files)


def load_path(path: str | Path, import_path: ImportPath | None = None) -> Loaded:
    """Read and parse the model file `path` and its imports."""
    p = Path(path)
    loader = _Loader(p.resolve().parent, import_path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        loader.diags.append(error("E700", f"cannot read `{path}`: {reason}", None,
                                  "check the path" if isinstance(exc, FileNotFoundError) else ""))
        return Loaded(None, {}, loader.sources, loader.diags)
    main = loader.load_source(text, str(path), p.resolve().parent, chain=(str(p.resolve()),))
    return Loaded(main, loader.modules, loader.sources, loader.diags, loader.quiet_files)


class _Loader:
    def __init__(self, model_dir: Path, import_path: ImportPath | None = None) -> None:
        self.modules: dict[str, LoadedModule] = {}
        self.sources = SourceCache()
        self.diags: list[Diagnostic] = []
        self.quiet_files: dict[str, Diagnostic] = {}
        self.search = search_dirs(import_path)
        self.stdlib = stdlib_dirs()
        roots = [_real(d) for d in [model_dir, *self.search, *self.stdlib]]
        self.roots = [r for r in roots if r is not None]

    def _allowed(self, real: Path) -> bool:
        return any(real == root or real.is_relative_to(root) for root in self.roots)

    def load_source(self, text: str, file: str, base: Path, chain: tuple[str, ...],
                    imported: bool = False) -> LoadedModule:
        self.sources.add(file, text)
        module, diags = parse(text, file)
        if imported and diags:
            first = replace(diags[0], hints=diags[0].hints + (
                f"this imported file does not parse; check it on its own (`snnc check {file}`)",))
            self.quiet_files[file] = first
            diags = [first]
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

    def _resolve(self, imp: A.Import, base: Path) -> tuple[Path | None, bool]:
        """The file an import names and whether a candidate lay outside the allowed folders
        (only files inside them are even looked at: nothing is revealed about the others)."""
        outside = False
        for folder in [base, *self.search, *self.stdlib]:
            real = _real(folder / imp.path)
            if real is None:
                continue
            if not self._allowed(real):
                outside = True
                continue
            try:
                if real.is_file():
                    return real, False
            except (OSError, ValueError):  # e.g. a name too long for the file system: not found
                continue
        return None, outside

    def _import(self, imp: A.Import, into: LoadedModule, base: Path, chain: tuple[str, ...]) -> None:
        if not imp.path.lower().endswith(".snn"):
            self.diags.append(error("E705", f"`{imp.path}` is not a `.snn` file", imp.path_span,
                                    "imports name `.snn` model files"))
            return
        path, outside = self._resolve(imp, base)
        if path is None and outside:
            self.diags.append(error(
                "E704", f"`{imp.path}` is outside the folders imports may read", imp.path_span,
                "imports read the model's own folder and its subfolders, the folders listed in "
                f"{PATH_VARIABLE} and the shipped models; add the library's folder to {PATH_VARIABLE}"))
            return
        if path is None:
            self.diags.append(error("E701", f"cannot find `{imp.path}`", imp.path_span,
                                    f"looked in {base}"
                                    + (f", the {PATH_VARIABLE} folders" if self.search else "")
                                    + " and the shipped models folder"))
            return
        key = str(path)
        if key in chain:
            self.diags.append(error("E702", f"`{imp.path}` imports this file back (a cycle)", imp.span,
                                    "move the shared definitions into a third file"))
            return
        loaded = self.modules.get(key)
        if loaded is None:
            if len(chain) >= MAX_IMPORT_DEPTH:
                self.diags.append(error(
                    "E706", f"import chain too deep: more than {MAX_IMPORT_DEPTH} files import one another "
                    "in a row", imp.span, "import the library files from one file instead of in a chain"))
                return
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
                self.diags.append(error("E700", f"cannot read `{imp.path}`: {reason}", imp.path_span))
                return
            loaded = self.load_source(text, _display(path), path.parent, chain + (key,), imported=True)
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


__all__ = ["load_path", "load_text", "Loaded", "LoadedModule", "stdlib_dirs", "search_dirs",
           "PATH_VARIABLE", "MAX_IMPORT_DEPTH", "Span"]
