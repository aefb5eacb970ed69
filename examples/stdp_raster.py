"""Song, Miller & Abbott (2000) pair STDP: simulate, plot a raster and the weight histogram.

    python examples/stdp_raster.py [--seconds 5] [--target numba] [--out stdp.png]

The 20 output neurons start from uniform weights in [0, w_max]; STDP with slightly stronger
depression pushes the weights towards the bounds and lowers the output rate (Song et al.
report the bimodal split after ~100 s of simulated time; a few seconds already show the drift).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import snnlang

MODEL = Path(__file__).resolve().parents[1] / "models" / "stdp.snn"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--target", default="numba")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="stdp.png")
    args = ap.parse_args()

    model = snnlang.compile(MODEL, target=args.target, seed=args.seed)
    w_max = model.get_param("S", "w_max")
    w0 = model.get("S.w").copy()
    steps_per_second = round(1.0 / model.network.dt)
    rates = []
    for second in range(max(1, round(args.seconds))):
        rec = model.run(steps_per_second)
        rates.append(rec["out.spike"].sum() / 20)            # spikes per neuron in this second
        print(f"t = {second + 1:3d} s: output rate {rates[-1]:6.1f} Hz, "
              f"weights at the bounds {np.mean((model.get('S.w') < 0.1 * w_max) | (model.get('S.w') > 0.9 * w_max)):.0%}")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(14, 3.6))
    steps, neurons = rec.spikes("out")
    ax1.scatter(steps * model.network.dt * 1e3, neurons, s=2, marker="|", color="black")
    ax1.set(xlabel="time in the last second (ms)", ylabel="output neuron", title="raster")
    ax2.plot(np.arange(1, len(rates) + 1), rates, marker="o")
    ax2.set(xlabel="time (s)", ylabel="output rate (Hz)", title="rate")
    bins = np.linspace(0, w_max, 21)
    ax3.hist(w0.ravel() / w_max, bins=bins / w_max, alpha=0.5, label="start")
    ax3.hist(model.get("S.w").ravel() / w_max, bins=bins / w_max, alpha=0.5, label=f"after {len(rates)} s")
    ax3.set(xlabel="w / w_max", ylabel="synapses", title="weights")
    ax3.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"figure written to {args.out}")


if __name__ == "__main__":
    main()
