"""Every script in examples/ runs (at a small size) from a fresh interpreter: examples that
rot are worse than none. Each case names the arguments that keep it short."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

# script -> (arguments for a short run, text its output must contain)
QUICK = {
    "stdp_raster.py": (["--seconds", "1", "--out", "{tmp}/stdp.png"], "figure written to"),
    "compare_backends.py": (["--steps", "300"], "spike trains identical"),
    "biograd_mnist.py": (["--epochs", "1", "--samples", "60", "--test-samples", "40", "--log-every", "30",
                          "-q", "--out", "{tmp}"], "written to"),
    "bioleaf_mnist.py": (["--epochs", "1", "--samples", "40", "--test-samples", "20", "-q", "--out", "{tmp}"],
                         "learning curve written to"),
    "ssnn_bp_mnist.py": (["--T", "4", "8", "--epochs", "1", "--samples", "40", "--test-samples", "20", "-q",
                          "--out", "{tmp}"], "accuracy against T written to"),
}


# scripts run elsewhere, under the conditions they need (the test named must run the script)
ELSEWHERE = {
    "train_distributed.py": ROOT / "tests" / "backends" / "test_torch_distributed.py",   # under torchrun
    "biograd_loihi_lava.py": ROOT / "tests" / "backends" / "test_lava_biograd.py",      # Lava runs it slowly
}


def test_every_example_has_a_quick_case():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted([*QUICK, *ELSEWHERE])
    for script, test in ELSEWHERE.items():
        assert script in test.read_text(), f"{test} must run examples/{script}"


@pytest.mark.parametrize("script", sorted(QUICK))
def test_example_runs(script, tmp_path):
    args, expected = QUICK[script]
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    proc = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True,
                          cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert expected in proc.stdout
