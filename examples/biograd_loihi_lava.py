"""Train BioGrad's Loihi network (models/biograd.snn, network `biograd_loihi`) under Lava.

    python examples/biograd_loihi_lava.py                          # 200 offline MNIST digits, 1 epoch
    python examples/biograd_loihi_lava.py --tag fixed_pt --samples 500 --test-samples 200
    python examples/biograd_loihi_lava.py --samples 20 --check     # and the reference executor beside it

The 784-100-10 network of the paper's Loihi experiment (8-bit stochastically rounded weights,
7-bit traces) is compiled with target="lava": every population and projection becomes a Lava
process -- here all of them custom processes generated from the IR, because BioGrad's graded
error events and its learning from neuron variables are not Loihi's native blocks (the script
prints why, from `snnc explain --target lava`) -- and the schedule runs phase by phase under
Lava's Loihi2SimCfg. That is slow (each time step is a round of messages between 11 processes),
so the defaults are small. With --check the reference executor trains the same network on the
same samples, and the script reports whether every weight came out identical.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import snnlang
from snnlang.data import load

MODEL = Path(__file__).resolve().parents[1] / "models" / "biograd.snn"
NETWORK = "biograd_loihi"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="mnist-offline", help="see `snnc train --help` (default mnist-offline)")
    ap.add_argument("--samples", type=int, default=200, help="training samples (stratified)")
    ap.add_argument("--test-samples", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--tag", default="floating_pt", choices=("floating_pt", "fixed_pt"),
                    help="which ProcessModels Lava selects")
    ap.add_argument("--sleep-every", type=int, default=None,
                    help="run the sleep phase every N samples (the network's N_s; default: the model's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check", action="store_true", help="train with the reference executor too and compare")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    args = ap.parse_args()

    train, test = load(args.data)
    train = train.subset(args.samples, stratified=True).shuffled(args.seed)
    test = test.subset(args.test_samples, stratified=True)

    from snnlang.ir.lower import lower
    from snnlang.semantics.checker import check_path
    from snnlang_backends import lava
    plan = lava.plan(lower(check_path(MODEL)), NETWORK)
    print(f"{NETWORK} on Lava ({args.tag}): " + ", ".join(
        f"{name} {'native ' + c.lava_class if (c := plan.natives.get(name)) else 'custom'}" for name in plan.reasons))
    print("  (snnc explain models/biograd.snn --target lava --network biograd_loihi says why)")

    models = {"lava": snnlang.compile(MODEL, target="lava", network=NETWORK, seed=args.seed, tag=args.tag)}
    if args.check:
        models["reference"] = snnlang.compile(MODEL, target="reference", network=NETWORK, seed=args.seed)
    try:
        for model in models.values():
            if args.sleep_every is not None:
                model.set_param(NETWORK, "N_s", args.sleep_every)
        for name, model in models.items():
            start = time.perf_counter()
            for epoch in range(args.epochs):
                model.train(train, epochs=1, progress=not args.quiet)
                accuracy = model.evaluate(test, progress=not args.quiet)["accuracy"]
                print(f"{name}: epoch {epoch + 1}: test accuracy {accuracy:.3f} on {len(test)} digits "
                      f"({len(train)} training samples, {time.perf_counter() - start:.1f} s so far)")
        if args.check:
            lava_model, ref = models["lava"], models["reference"]
            same = all(np.array_equal(lava_model.get(s), ref.get(s)) for s in ref.state_names())
            print(f"every state identical to the reference executor: {'yes' if same else 'NO'}")
    finally:
        models["lava"].exe.close()   # stop Lava's processes


if __name__ == "__main__":
    main()
