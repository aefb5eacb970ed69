"""Data-parallel training of a .snn model over several processes (torchrun), on CPU or GPU.

    torchrun --standalone --nproc_per_node=2 examples/train_distributed.py models/biograd.snn \
        --network biograd --batch 16 --samples 256 --save weights.npz
    torchrun --standalone --nproc_per_node=2 examples/train_distributed.py models/biograd.snn \
        --network biograd --learning bptt --lr 1e-3 --save weights.npz

Each process holds `--batch` rows, so the combined batch is nproc x batch; the processes see the
same shuffled sample order and each takes its slice of every batch. With the model's own rules
(`--learning local`) the weight change of every plastic step is all-reduced (summed, or averaged
by `batch mean`); with `--learning bptt` the gradients are. The weights therefore stay the same
in every process, and equal those of one process trained with the combined batch (see
tests/backends/test_torch_distributed.py). gloo on CPU, nccl on CUDA (`--device cuda`, one GPU
per process: torchrun's LOCAL_RANK picks it).

Data: `--data digits` (scikit-learn's 8x8 digits, offline, upscaled to the input size when that
is 784) or `--data random` (uniform intensities, random labels; a fixed seed).
Rank 0 prints the per-epoch history and writes every state of every connection to `--save`.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import snnlang
from snnlang.runtime.model import Dataset


def data(kind: str, n: int, size: int, classes: int, seed: int) -> Dataset:
    if kind == "digits":
        from sklearn.datasets import load_digits
        digits = load_digits()
        images = digits.images[:n] / 16.0
        if size == 784:
            images = np.pad(np.kron(images, np.ones((1, 3, 3))), ((0, 0), (2, 2), (2, 2)))
        x = images.reshape(len(images), -1)
        if x.shape[1] != size:
            raise SystemExit(f"--data digits has {x.shape[1]} features, the network's input has {size}")
        return Dataset(x, digits.target[:n] % classes)
    rng = np.random.default_rng(seed)
    return Dataset(rng.uniform(0, 1, (n, size)), rng.integers(0, classes, n))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--network", default=None)
    ap.add_argument("--batch", type=int, default=8, help="rows per process")
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--learning", choices=("local", "bptt"), default="local")
    ap.add_argument("--lr", type=float, default=None, help="bptt: the optimiser's learning rate")
    ap.add_argument("--data", choices=("digits", "random"), default="random")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (one GPU per process)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", default=None, help="rank 0 writes the connections' states here (.npz)")
    args = ap.parse_args()

    device = args.device
    if device == "cuda":
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    extra = {"learning": args.learning} if args.learning != "local" else {}
    if args.lr is not None:
        extra["lr"] = args.lr
    model = snnlang.compile(args.file, target="torch", network=args.network, batch=args.batch, seed=args.seed,
                            device=device, distributed=True, **extra)
    world, rank = model.exe.data_parallel
    net = model.network
    inputs = [p for p in net.populations if p.kind == "input"
              and not any(k in ("rate", "p") for k, _ in p.encoder_options)]
    labels = [p for p in net.populations if p.kind == "label"]
    classes = labels[0].size if labels else 10
    train = data(args.data, args.samples, inputs[0].size, classes, args.seed)
    history = model.train(train, epochs=args.epochs, progress=False)
    if rank == 0:
        for entry in history:
            print(f"[{world} processes x batch {args.batch}] " + "  ".join(
                f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in entry.items()))
        if args.save:
            owners = {c.name for c in net.connections}
            states = {n: model.get(n) for n in model.state_names() if n.split(".")[0] in owners}
            np.savez(args.save, **states)


if __name__ == "__main__":
    main()
