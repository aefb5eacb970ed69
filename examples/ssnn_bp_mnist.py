"""Train SSNN-BP (models/ssnn_bp.snn) and watch accuracy grow with the spike-train length T.

    python examples/ssnn_bp_mnist.py                          # T = 8, 32, 128 on offline MNIST
    python examples/ssnn_bp_mnist.py --T 16 64 256 --epochs 3
    python examples/ssnn_bp_mnist.py --network ssnn_bp_device # weights on 255 conductance levels

Composite neurons emit their forward spikes, a derivative stream and +- gradient streams at
once; an output winner-take-all race samples the softmax; every weight update is a spike
coincidence. Longer trains mean smaller update quanta (dw = eta / T) and less noise, so the
accuracy approaches the ANN's. T is a network parameter: one compilation serves every T.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import snnlang
from snnlang.data import load
from snnlang.runtime.fit import fit

MODEL = Path(__file__).resolve().parents[1] / "models" / "ssnn_bp.snn"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--network", default="ssnn_bp", help="ssnn_bp, ssnn_bp_logistic, ssnn_bp_device, ssnn_bp_nmnist")
    ap.add_argument("--data", default="mnist-offline")
    ap.add_argument("--T", type=int, nargs="+", default=[8, 32, 128], help="spike-train lengths to try")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--test-samples", type=int, default=500)
    ap.add_argument("--target", default="numba")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=".")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args()

    results = []
    for T in args.T:
        model = snnlang.compile(MODEL, target=args.target, network=args.network, seed=args.seed)
        net = model.network.name
        model.set_param(net, "T", T)          # the phase length and dw = eta / T follow
        train, test = load(args.data, frames=T, seed=args.seed, limit=(args.samples, args.test_samples))
        history = fit(model, train, test, epochs=args.epochs, progress=not args.quiet, seed=args.seed)
        results.append((T, history[-1]["accuracy"]))
        print(f"T = {T:4d}: test accuracy {100 * results[-1][1]:.2f} % after {args.epochs} epochs "
              f"({history[-1]['samples_per_s']:.0f} samples/s)", flush=True)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot([t for t, _ in results], [100 * a for _, a in results], marker="o")
    ax.set(xscale="log", xlabel="spike-train length T (steps)", ylabel="test accuracy (%)",
           title=f"SSNN-BP {args.network} on {args.data}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "ssnn_bp_vs_T.png", dpi=120)
    print(f"accuracy against T written to {out / 'ssnn_bp_vs_T.png'}")


if __name__ == "__main__":
    main()
