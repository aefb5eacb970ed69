"""Data parallelism of the torch backend: 2 processes (torchrun, gloo on CPU) with 4 rows each
train models/biograd.snn's `biograd` network to the same weights as 1 process with the combined
batch of 8, both with the model's own rules and with BPTT (examples/train_distributed.py).

Why the weights agree to 1e-9 (the cross-backend tolerance) and not bit for bit:
  * every row computes its own dynamics with the same elementwise operations in both runs, and
    draws the same random numbers (the RNG index of a row is its row number in the combined
    batch), so the spike trains are the same unless a value lies within a few ulps of a
    threshold (the matmuls may sum in another order for another batch size);
  * a plastic step's change is summed over 8 rows as 4 + 4 (an all-reduce) instead of 8 at
    once: the same numbers added in another order, a relative difference of a few ulps
    (~1e-16) of each change; over the ~120 plastic steps of the run the weights (|w| ~ 0.05)
    differ by < 1e-13;
  * BPTT: the gradient is the same sum split the same way, and Adam's update g / sqrt(v) is a
    smooth function of it, so the weights differ by a few ulps per step as well (measured:
    3e-14).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import snnlang

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "train_distributed.py"
sys.path.insert(0, str(EXAMPLE.parent))
import train_distributed  # noqa: E402

MODEL = ROOT / "models" / "biograd.snn"
SAMPLES = 24          # 3 combined batches of 8


def _torchrun(tmp_path: Path, learning: str) -> dict[str, np.ndarray]:
    out = tmp_path / f"{learning}.npz"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(EXAMPLE),
           str(MODEL), "--network", "biograd", "--batch", "4", "--samples", str(SAMPLES), "--learning", learning,
           "--save", str(out)]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[2 processes x batch 4]" in done.stdout
    with np.load(out) as saved:
        return {k: saved[k] for k in saved.files}


@pytest.mark.parametrize("learning", ["local", "bptt"])
def test_two_processes_train_like_one_with_the_combined_batch(tmp_path, learning):
    parallel = _torchrun(tmp_path, learning)
    extra = {"learning": "bptt"} if learning == "bptt" else {}
    single = snnlang.compile(MODEL, target="torch", network="biograd", batch=8, seed=0, device="cpu", **extra)
    before = {name: single.get(name) for name in parallel}
    single.train(train_distributed.data("random", SAMPLES, 784, 10, 0), progress=False)
    weights = [c.name + ".w" for c in single.network.connections if c.synapse != "Teach"]
    assert set(weights) <= set(parallel)
    changed = 0
    for name in weights:
        np.testing.assert_allclose(parallel[name], single.get(name), rtol=1e-9, atol=1e-9, err_msg=name)
        changed += not np.array_equal(single.get(name), before[name])
    assert changed >= 3, "training changed too few weights for the comparison to mean much"
