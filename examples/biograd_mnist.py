"""Train BioGrad (models/biograd.snn) on MNIST and plot what it learns.

    python examples/biograd_mnist.py                    # the offline MNIST subset, no files needed
    python examples/biograd_mnist.py --data mnist:~/data --epochs 20 --samples 60000
    python examples/biograd_mnist.py --network biograd_loihi     # 8-bit weights, 784-100-10

Prints the test accuracy after every epoch and saves a figure into --out: the learning
curve, and the angle between each feedback matrix B and the transpose of the forward
matrix it should mirror (sleep phases pull it down; without sleep, --no-sleep, feedback
alignment turns W towards B instead). Everything BioGrad does is in the model file; this
script only feeds data, sets parameters and records metrics.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import snnlang
from snnlang.data import load
from snnlang.runtime.fit import fit
from snnlang.runtime.plots import learning_curves

MODEL = Path(__file__).resolve().parents[1] / "models" / "biograd.snn"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--network", default="biograd", help="biograd (784-500-500-10) or biograd_loihi")
    ap.add_argument("--data", default="mnist-offline", help="see `snnc train --help` (default mnist-offline)")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--samples", type=int, default=None, help="training samples (default: all)")
    ap.add_argument("--test-samples", type=int, default=None)
    ap.add_argument("--target", default="numba")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--lr", type=float, default=None, help="the network's `lr` (default: the model's)")
    ap.add_argument("--no-sleep", action="store_true", help="set the sleep length T_s to 0")
    ap.add_argument("--log-every", type=int, default=500, help="record the angles every N samples")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=".", help="folder for the plots")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args()

    model = snnlang.compile(MODEL, target=args.target, network=args.network, seed=args.seed, batch=args.batch)
    net = model.network.name
    if args.lr is not None:
        model.set_param(net, "lr", args.lr)
    if args.no_sleep:
        model.set_param(net, "T_s", 0)
    frames = model.get_param(net, "T_f")
    train, test = load(args.data, frames=int(frames), seed=args.seed, limit=(args.samples, args.test_samples))
    print(f"BioGrad `{net}` on {model.target}: {len(train)} training / {len(test)} test samples of {args.data}, "
          f"lr {model.get_param(net, 'lr'):g}, sleep {'off' if args.no_sleep else 'on'}")

    def report(entry: dict) -> None:
        angles = "  ".join(f"{k} {v:.1f} deg" for k, v in entry.items() if k.startswith("angle"))
        print(f"epoch {entry['epoch']}/{args.epochs}: test accuracy {100 * entry['accuracy']:.2f} %  "
              f"({entry['samples_per_s']:.0f} samples/s)  {angles}", flush=True)
    history = fit(model, train, test, epochs=args.epochs, log_every=args.log_every, progress=not args.quiet,
                  seed=args.seed, on_epoch=report)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    learning_curves(history, out / "biograd_training.png", title=f"BioGrad {net} on {args.data}")
    print(f"plot of the learning curve and the angles written to {out / 'biograd_training.png'}")


if __name__ == "__main__":
    main()
