"""`snnc`: the command-line front end of snnlang.

Exit codes: 0 clean (warnings allowed), 1 errors in a model, 2 usage or unreadable file.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path
from typing import Callable, Sequence

from snnlang import __version__
from snnlang.diagnostics import render
from snnlang.semantics.checker import CheckResult, check_path

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


def _print_result(result: CheckResult, quiet: bool) -> None:
    for d in result.diagnostics:
        if quiet and not d.is_error:
            continue
        print(render(d, result.sources), file=sys.stderr)
        print(file=sys.stderr)


def cmd_check(args: argparse.Namespace) -> int:
    """Check every file; report every diagnostic; exit 1 if any file has errors."""
    status = EXIT_OK
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            print(f"snnc: cannot read `{name}`: "
                  f"{'it is a directory' if path.is_dir() else 'no such file'}", file=sys.stderr)
            status = max(status, EXIT_USAGE)
            continue
        result = check_path(path)
        _print_result(result, args.quiet)
        if any(d.code == "E700" for d in result.diagnostics):
            status = max(status, EXIT_USAGE)
        elif not result.ok:
            status = max(status, EXIT_ERRORS)
        errors = len(result.errors)
        warnings = len(result.diagnostics) - errors
        if not args.quiet:
            verdict = "ok" if errors == 0 else f"{errors} error{'s' * (errors != 1)}"
            extra = f", {warnings} warning{'s' * (warnings != 1)}" if warnings else ""
            print(f"{name}: {verdict}{extra}")
    return status


def cmd_doc(args: argparse.Namespace) -> int:
    """Show the docstrings of a model file's definitions."""
    result = check_path(args.file)
    if result.module is None:
        _print_result(result, quiet=True)
        return EXIT_USAGE
    if result.module.doc and not args.name:
        print(result.module.doc, end="\n\n")
    shown = 0
    for d in result.module.definitions:
        if args.name and d.name != args.name:
            continue
        kind = type(d).__name__.replace("Def", "").lower()
        print(f"{kind} {d.name}")
        print("    " + (d.doc or "(no docstring)").replace("\n", "\n    "), end="\n\n")
        shown += 1
    if args.name and not shown:
        print(f"snnc: `{args.file}` has no definition `{args.name}`", file=sys.stderr)
        return EXIT_ERRORS
    return EXIT_OK


def _compile_or_report(args: argparse.Namespace, target: str):
    """Compile for `target`; on a model error print the diagnostics and return None."""
    from snnlang.runtime.model import CompileError
    from snnlang.runtime.compile import compile_model
    try:
        return compile_model(args.file, target=target, network=args.network, seed=args.seed,
                             batch=getattr(args, "batch", 1), dtype=getattr(args, "dtype", "float64"))
    except CompileError as exc:
        print(str(exc), file=sys.stderr)
        return None


def cmd_explain(args: argparse.Namespace) -> int:
    """Print what the compiler decided: solvers and why, discrete updates, step order, phases."""
    from snnlang.diagnostics import render_all
    from snnlang.ir.explain import explain
    from snnlang.ir.lower import LoweringError, lower
    if not Path(args.file).is_file():
        print(f"snnc: cannot read `{args.file}`: no such file", file=sys.stderr)
        return EXIT_USAGE
    result = check_path(args.file)
    _print_result(result, quiet=True)
    if not result.ok:
        return EXIT_ERRORS
    try:
        ir = lower(result)
    except LoweringError as exc:
        print(render_all(exc.diagnostics, result.sources), file=sys.stderr)
        return EXIT_ERRORS
    print(explain(ir))
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """Simulate a network and print spike counts and rates per population."""
    if not Path(args.file).is_file():
        print(f"snnc: cannot read `{args.file}`: no such file", file=sys.stderr)
        return EXIT_USAGE
    model = _compile_or_report(args, args.target)
    if model is None:
        return EXIT_ERRORS
    from snnlang.runtime.executable import NumericalError
    try:
        rec = model.run(args.steps)
    except NumericalError as exc:
        print(f"snnc: {exc}", file=sys.stderr)
        return EXIT_ERRORS
    steps = next(iter(rec.data.values())).shape[0] if rec.data else 0
    seconds = steps * model.network.dt
    unit = "steps" if model.network.unit_free else "s"
    duration = steps if model.network.unit_free else seconds
    print(f"network {model.network.name}: {steps} steps ({duration:g} {unit}) on {model.target}")
    print(f"{'population':<16}{'size':>7}{'spikes':>10}{'rate':>14}")
    for pop in model.network.populations:
        key = f"{pop.name}.spike"
        if key not in rec.data:
            continue
        count = int(rec.data[key][:, 0].sum())
        rate = count / pop.size / (duration if duration else 1)
        per = "/step" if model.network.unit_free else " Hz"
        print(f"{pop.name:<16}{pop.size:>7}{count:>10}{rate:>10.3g}{per}")
    if args.plot:
        from snnlang.runtime.plots import raster
        raster(rec, model.network, args.plot)
        print(f"raster written to {args.plot}")
    return EXIT_OK


def cmd_compile(args: argparse.Namespace) -> int:
    """Write a standalone package for a target (needs only the target's own libraries)."""
    import importlib
    from snnlang.diagnostics import render_all
    from snnlang.ir.lower import LoweringError, lower
    from snnlang.runtime.backends import BUILT_IN
    if not Path(args.file).is_file():
        print(f"snnc: cannot read `{args.file}`: no such file", file=sys.stderr)
        return EXIT_USAGE
    result = check_path(args.file)
    _print_result(result, quiet=True)
    if not result.ok:
        return EXIT_ERRORS
    try:
        ir = lower(result)
    except LoweringError as exc:
        print(render_all(exc.diagnostics, result.sources), file=sys.stderr)
        return EXIT_ERRORS
    try:
        backend = importlib.import_module(BUILT_IN[args.target])
    except ModuleNotFoundError:
        backend = None
    if backend is None or not hasattr(backend, "emit"):
        print(f"snnc: target `{args.target}` cannot write a standalone package yet", file=sys.stderr)
        return EXIT_USAGE
    written = backend.emit(ir, args.network, Path(args.output))
    print(f"wrote {written}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snnc",
        description="Compile and check .snn spiking-network models.",
        epilog="Exit codes: 0 ok, 1 errors in a model, 2 usage error or unreadable file.",
    )
    parser.add_argument("--version", action="version", version=f"snnc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("check", help="parse and check model files, reporting every error",
                       description="Parse and check .snn files (and their imports). Every error is "
                       "reported with file:line:col, the source line and a hint.")
    p.add_argument("files", nargs="+", metavar="FILE", help=".snn files to check")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only, no summary or warnings")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("explain", help="show the IR: solvers chosen and why, updates, step order",
                       description="Check and lower a model, then print what the compiler decided.")
    p.add_argument("file", metavar="FILE")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("run", help="simulate a network and summarise its spikes",
                       description="Compile and simulate the network of FILE; print spike counts and "
                       "rates per population; optionally save a raster plot.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--steps", type=int, default=None, help="steps to simulate (default: the `simulate` line)")
    p.add_argument("--target", default="numba", help="backend: numba (default), reference, torch")
    p.add_argument("--network", default=None, help="which network, if the file has several")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", metavar="PNG", default=None, help="save a spike raster to this file")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("compile", help="write a standalone importable package for a target",
                       description="Compile FILE for TARGET into the folder OUTPUT (a package with a "
                       "manifest describing states, parameters and shapes).")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--target", default="numba")
    p.add_argument("--network", default=None)
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("doc", help="show the docstrings of a model file",
                       description="Print the file docstring and each definition's docstring.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("name", nargs="?", help="only this neuron, synapse or network")
    p.set_defaults(func=cmd_doc)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return _guarded(args.func, args)


def _guarded(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """A bug in snnc must not look like the user's fault: say so plainly, keep the details short."""
    try:
        return func(args)
    except KeyboardInterrupt:
        print("snnc: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence for users
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        print(f"snnc: internal compiler error: {type(exc).__name__}: {exc}\n"
              f"  at {Path(frame.filename).name}:{frame.lineno}\n"
              "  This is a bug in snnc, not in your model; please report it with the model file.",
              file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
