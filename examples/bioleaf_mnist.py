"""Train BioLeaF (models/bioleaf.snn) on MNIST or the synthetic event set.

    python examples/bioleaf_mnist.py                         # offline MNIST subset, no files needed
    python examples/bioleaf_mnist.py --data synthetic-saccades --network bioleaf_nmnist
    python examples/bioleaf_mnist.py --network bioleaf_tied  # B = W^T: the backprop-equivalent case

Error interneuron pairs compute the output error from the target and output spike trains,
route it down through the feedback synapses, and teach each principal cell's apical
compartment, where STDP updates the incoming weights. Prints the test accuracy after every
epoch and saves the learning curve (with the angle between B and W^T: feedback alignment
turns W2 towards the fixed random B).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import snnlang
from snnlang.data import load
from snnlang.runtime.fit import fit
from snnlang.runtime.plots import learning_curves

MODEL = Path(__file__).resolve().parents[1] / "models" / "bioleaf.snn"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--network", default="bioleaf", help="bioleaf, bioleaf_tied or bioleaf_nmnist")
    ap.add_argument("--data", default="mnist-offline")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--samples", type=int, default=None)
    ap.add_argument("--test-samples", type=int, default=None)
    ap.add_argument("--eta", type=float, default=None, help="the STDP rate (the network's `eta`)")
    ap.add_argument("--target", default="numba")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=".")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args()

    model = snnlang.compile(MODEL, target=args.target, network=args.network, seed=args.seed)
    net = model.network.name
    if args.eta is not None:
        model.set_param(net, "eta", args.eta)
    train, test = load(args.data, frames=int(model.get_param(net, "T")), seed=args.seed,
                       limit=(args.samples, args.test_samples))
    print(f"BioLeaF `{net}` on {model.target}: {len(train)} / {len(test)} samples of {args.data}, "
          f"eta {model.get_param(net, 'eta'):g}")
    history = fit(model, train, test, epochs=args.epochs, progress=not args.quiet, seed=args.seed,
                  on_epoch=lambda e: print(f"epoch {e['epoch']}/{args.epochs}: test accuracy "
                                           f"{100 * e['accuracy']:.2f} %  ({e['samples_per_s']:.0f} samples/s)",
                                           flush=True))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    learning_curves(history, out / "bioleaf_training.png", title=f"BioLeaF {net} on {args.data}")
    print(f"learning curve written to {out / 'bioleaf_training.png'}")


if __name__ == "__main__":
    main()
