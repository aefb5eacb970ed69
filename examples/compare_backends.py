"""Run one model on several backends with the same seed and show that they agree.

    python examples/compare_backends.py [models/stdp.snn] [--steps 2000] [--targets reference numba]

Every backend draws its random numbers from the same counter-based generator, so the runs
are the same simulation: spike counts must match exactly and states to rounding.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import snnlang

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?", default=str(ROOT / "models" / "stdp.snn"))
    ap.add_argument("--network", default=None)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--targets", nargs="+", default=["reference", "numba"])
    args = ap.parse_args()

    results = {}
    for target in args.targets:
        start = time.perf_counter()
        model = snnlang.compile(args.model, target=target, network=args.network, seed=7)
        built = time.perf_counter()
        rec = model.run(args.steps)
        ran = time.perf_counter()
        results[target] = (rec, model)
        counts = {k: int(v.sum()) for k, v in rec.data.items()}
        print(f"{target:<10} compile {built - start:6.2f} s  run {ran - built:6.2f} s  spikes {counts}")
    first, (rec0, model0) = next(iter(results.items()))
    for target, (rec, model) in list(results.items())[1:]:
        same = all(np.array_equal(rec0[k], rec[k]) for k in rec0.data)
        worst = max(float(np.max(np.abs(model0.get(n) - model.get(n)), initial=0.0)) for n in model0.state_names())
        print(f"{target} vs {first}: spike trains {'identical' if same else 'DIFFERENT'}; "
              f"largest state difference {worst:.2e}")


if __name__ == "__main__":
    main()
