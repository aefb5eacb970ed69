"""Accuracy tables for the shipped learning rules against their baselines, on the offline data.

    python benchmarks/accuracy.py biograd  [--epochs 10] [--samples 4000] [--test-samples 1000]
    python benchmarks/accuracy.py bioleaf
    python benchmarks/accuracy.py ssnn_bp            # includes the accuracy-vs-T sweep
    python benchmarks/accuracy.py biograd --quick    # a few hundred samples: checks the script

For every row of the model's table (its configurations, the BPTT baseline of the same
network on the torch backend, and an ANN of the same size) and every data set (the offline
MNIST subset and the synthetic saccade event set made from it), the script trains for
--epochs epochs and reports the test accuracy after the last epoch and the best epoch. It
writes docs/results/MODEL.md (or --out) with the table, the command, the machine and the
time each row took. Everything a learning rule does is in its model file; a row only names a
network, runtime parameters (`set_param`) and a backend.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ("mnist-offline", "synthetic-saccades")


@dataclass(frozen=True)
class Row:
    """One line of a table: a network of the model file (per data set), run a given way."""

    label: str
    networks: dict[str, str]                       # data set -> network name
    params: dict[str, float] = field(default_factory=dict)   # runtime params: NAME (the network's) or OWNER.NAME
    target: str = "numba"
    batch: int = 1
    learning: str = "local"
    options: dict = field(default_factory=dict)    # compile options (bptt: lr, optimizer, ...)


@dataclass(frozen=True)
class AnnRow:
    """A conventional ANN of the given layer sizes (first = input size per data set), SGD on CE."""

    label: str
    hidden: tuple[int, ...]
    lr: float = 0.05
    batch: int = 32
    weight_decay: float = 0.0


def _nets(mnist: str, events: str) -> dict[str, str]:
    return {"mnist-offline": mnist, "synthetic-saccades": events}


GRADED = {"hid1.graded": 1, "hid2.graded": 1, "out.graded": 1}   # BioGrad's linear regime
BPTT = dict(learning="bptt", target="torch", batch=32, options={"lr": 1e-3, "optimizer": "adam"})
BPTT_FAST = dict(learning="bptt", target="torch", batch=32,
                 options={"lr": 1e-3, "optimizer": "adam", "surrogate": "fast_sigmoid", "surrogate_width": 0.5})

TABLES: dict[str, dict] = {
    "biograd": {
        "file": "biograd.snn",
        "rows": [
            Row("BioGrad, float, spiking errors, with sleep", _nets("biograd", "biograd_nmnist")),
            Row("BioGrad, float, graded error spikes, with sleep", _nets("biograd", "biograd_nmnist"), GRADED),
            Row("BioGrad, float, spiking errors, no sleep", _nets("biograd", "biograd_nmnist"), {"T_s": 0}),
            Row("BioGrad, 8-bit weights, spiking errors, with sleep", _nets("biograd_8bit", "biograd_nmnist_8bit")),
            Row("BPTT of the same network, the model's surrogate (rectangular window)",
                _nets("biograd", "biograd_nmnist"), **BPTT),
            Row("BPTT of the same network, fast-sigmoid surrogate", _nets("biograd", "biograd_nmnist"), **BPTT_FAST),
            AnnRow("ANN 500-500 (ReLU, SGD)", (500, 500)),
        ],
    },
    "bioleaf": {
        "file": "bioleaf.snn",
        "rows": [
            Row("BioLeaF, random feedback B", _nets("bioleaf", "bioleaf_nmnist")),
            Row("BioLeaF, B tied to W^T (the special case)", {"mnist-offline": "bioleaf_tied"}),
            Row("BPTT of the same network, the model's surrogate (rectangular window)",
                _nets("bioleaf", "bioleaf_nmnist"), **BPTT),
            Row("BPTT of the same network, fast-sigmoid surrogate", _nets("bioleaf", "bioleaf_nmnist"), **BPTT_FAST),
            AnnRow("ANN 800 (ReLU, SGD)", (800,)),
        ],
    },
    "ssnn_bp": {
        "file": "ssnn_bp.snn",
        "rows": [
            Row("SSNN-BP, T = 8", _nets("ssnn_bp", "ssnn_bp_nmnist"), {"T": 8}),
            Row("SSNN-BP, T = 32", _nets("ssnn_bp", "ssnn_bp_nmnist"), {"T": 32}),
            Row("SSNN-BP, T = 128", _nets("ssnn_bp", "ssnn_bp_nmnist"), {"T": 128}),
            Row("SSNN-BP, T = 256", _nets("ssnn_bp", "ssnn_bp_nmnist"), {"T": 256}),
            # the model file has no device variant of its event network (the float one would
            # repeat the T = 128 row under this label)
            Row("SSNN-BP, T = 128, 255-level device", {"mnist-offline": "ssnn_bp_device"}, {"T": 128}),
            AnnRow("ANN 500 (ReLU, SGD, L2 1e-4 as the model)", (500,), weight_decay=1e-4),
        ],
    },
}


def frames_for(network_params: dict) -> int:
    """An event data set is binned into as many frames as the sample's (first) phase has steps."""
    for name in ("T_f", "T"):
        if name in network_params:
            return int(network_params[name])
    return 20


def run_row(model_file: Path, row: Row, data: str, epochs: int, limit, seed: int, quick: bool) -> dict:
    import snnlang
    from snnlang.data import load
    network = row.networks[data]
    options = dict(target=row.target, network=network, seed=seed, batch=row.batch)
    if row.learning != "local":
        options.update(learning=row.learning, **row.options)
    model = snnlang.compile(model_file, **options)
    for name, value in row.params.items():
        owner, _, param = name.rpartition(".")
        model.set_param(owner or network, param, value)
    params = dict(model.network_params.values)
    train, test = load(data, frames=frames_for(params), seed=seed, limit=limit)
    start = time.perf_counter()
    accuracies = []
    for _ in range(epochs):
        model.train(train, epochs=1, progress=not quick)
        accuracies.append(model.evaluate(test, progress=False)["accuracy"])
    seconds = time.perf_counter() - start
    return {"final": accuracies[-1], "best": max(accuracies), "curve": accuracies, "seconds": seconds,
            "samples_per_s": epochs * len(train) / seconds, "train": len(train), "test": len(test)}


def run_ann(row: AnnRow, data: str, epochs: int, limit, seed: int) -> dict:
    """A plain MLP in torch: the conventional network of the same size, as papers compare with."""
    import torch
    from snnlang.data import load
    train, test = load(data, frames=20, seed=seed, limit=limit)
    flat = lambda ds: torch.tensor(np.asarray(ds.x, dtype=np.float32).reshape(len(ds), -1))
    xtr, xte = flat(train), flat(test)
    ytr, yte = torch.tensor(np.asarray(train.y)), torch.tensor(np.asarray(test.y))
    torch.manual_seed(seed)
    sizes = (xtr.shape[1], *row.hidden, 10)
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.SGD(net.parameters(), lr=row.lr, momentum=0.9, weight_decay=row.weight_decay)
    start = time.perf_counter()
    accuracies = []
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(xtr), generator=gen)
        for k in range(0, len(xtr), row.batch):
            idx = order[k:k + row.batch]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(xtr[idx]), ytr[idx]).backward()
            opt.step()
        with torch.no_grad():
            accuracies.append(float((net(xte).argmax(1) == yte).float().mean()))
    seconds = time.perf_counter() - start
    return {"final": accuracies[-1], "best": max(accuracies), "curve": accuracies, "seconds": seconds,
            "samples_per_s": epochs * len(xtr) / seconds, "train": len(xtr), "test": len(xte)}


def render(model: str, table: dict, results: dict, args, command: str) -> str:
    lines = [f"# {model}: accuracy on the offline data sets", "",
             f"Produced by `{command}` (seed {args.seed}, {args.epochs} epochs) on "
             f"{platform.machine()} with {os.cpu_count()} cores, Python {platform.python_version()}, "
             f"{time.strftime('%Y-%m-%d')}. Test accuracy after the last epoch (best epoch in brackets); "
             "every configuration sees the same training and test samples of each data set. "
             f"What the figures say, and where they fall short of the paper: docs/models/{model}.md, "
             "section Results.", "",
             "| configuration | " + " | ".join(DATASETS) + " | time |", "|---|" + "---|" * len(DATASETS) + "---|"]
    for row in table["rows"]:
        cells, seconds = [], 0.0
        for data in DATASETS:
            r = results.get((row.label, data))
            if r is None:
                cells.append("not run")
                continue
            cells.append(f"{100 * r['final']:.2f} % ({100 * r['best']:.2f})")
            seconds += r["seconds"]
        lines.append(f"| {row.label} | " + " | ".join(cells) + f" | {seconds / 60:.1f} min |")
    sizes = {(r["train"], r["test"]) for r in results.values()}
    lines += ["", "Samples (train, test) per data set: " + ", ".join(f"{a} / {b}" for a, b in sorted(sizes)) + ".",
              "", "Learning curves (test accuracy per epoch):", "", "```"]
    for (label, data), r in results.items():
        lines.append(f"{label} / {data}: " + " ".join(f"{100 * a:.1f}" for a in r["curve"]))
    lines += ["```", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", choices=sorted(TABLES))
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--samples", type=int, default=4000)
    ap.add_argument("--test-samples", type=int, default=1000)
    ap.add_argument("--data", nargs="+", default=list(DATASETS), choices=DATASETS)
    ap.add_argument("--rows", nargs="*", default=None, help="only rows whose label contains one of these")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="set a network parameter in every row of the model (e.g. lr=5e-4), for tuning")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="200/100 samples, 1 epoch: a smoke run")
    ap.add_argument("--out", default=None, help="markdown output (default docs/results/MODEL.md; - for stdout)")
    ap.add_argument("--json", default=None, help="also write the raw results here")
    args = ap.parse_args()
    if args.quick:
        args.samples, args.test_samples, args.epochs = 200, 100, 1
    table = TABLES[args.model]
    model_file = ROOT / "models" / table["file"]
    limit = (args.samples, args.test_samples)
    results = {}
    extra = {k: float(v) for k, v in (s.split("=", 1) for s in args.set)}
    for row in table["rows"]:
        if args.rows and not any(r in row.label for r in args.rows):
            continue
        if extra and isinstance(row, Row) and row.learning == "local":
            row = Row(row.label, row.networks, {**extra, **row.params}, row.target, row.batch, row.learning,
                      row.options)
        for data in args.data:
            if isinstance(row, Row) and data not in row.networks:
                continue                 # the model file has no network of this row for this data
            start = time.perf_counter()
            if isinstance(row, AnnRow):
                r = run_ann(row, data, args.epochs, limit, args.seed)
            else:
                r = run_row(model_file, row, data, args.epochs, limit, args.seed, args.quick)
            results[(row.label, data)] = r
            print(f"{row.label:<52} {data:<20} {100 * r['final']:6.2f} % (best {100 * r['best']:.2f})  "
                  f"{time.perf_counter() - start:7.1f} s", flush=True)
            if args.out != "-":
                write(args, table, results, quiet=True)   # a long run interrupted keeps its rows
    write(args, table, results)


def write(args, table: dict, results: dict, quiet: bool = False) -> None:
    """The markdown table (rows not run yet say so) and, with --json, the raw results."""
    shown, skip = [], False      # the command that makes this table: without where its output goes
    for a in sys.argv[1:]:
        if skip:
            skip = False
        elif a in ("--out", "--json"):
            skip = True
        else:
            shown.append(a)
    command = "python benchmarks/accuracy.py " + " ".join(shown)
    text = render(args.model, table, results, args, command)
    if args.out == "-":
        print(text)
    else:
        out = Path(args.out) if args.out else ROOT / "docs" / "results" / f"{args.model}.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        if not quiet:
            print(f"written to {out}")
    if args.json:
        Path(args.json).write_text(json.dumps({f"{k[0]} | {k[1]}": v for k, v in results.items()}, indent=1))


if __name__ == "__main__":
    main()
