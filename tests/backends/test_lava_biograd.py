"""BioGrad's Loihi network (models/biograd.snn, `biograd_loihi`) trains under Lava's Loihi2SimCfg.

On a handful of offline MNIST digits, with the sleep phase every 3 samples so that all three
phases run: every state after training and every prediction equal the reference executor's,
under both tags (BioGrad's owners are custom processes, whose arithmetic is the reference's and
is the same under floating_pt and fixed_pt). The example script runs too.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import snnlang
from snnlang.data import load
from snnlang_backends import lava

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "biograd.snn"

pytestmark = pytest.mark.skipif(not lava.lava_available(),
                                reason="lava-nc is not installed (scripts/install.sh installs it)")


@pytest.fixture(scope="module")
def digits():
    train, test = load("mnist-offline")
    return train.subset(6, stratified=True).shuffled(1), test.subset(4, stratified=True)


@pytest.mark.parametrize("tag", ["floating_pt", "fixed_pt"])
def test_biograd_loihi_trains_under_lava_like_the_reference(digits, tag):
    train, test = digits
    ref = snnlang.compile(MODEL, target="reference", network="biograd_loihi", seed=2)
    model = snnlang.compile(MODEL, target="lava", network="biograd_loihi", seed=2, tag=tag)
    try:
        for m in (ref, model):
            m.set_param("biograd_loihi", "N_s", 3)          # sleep after samples 3 and 6
        before, feedback = model.get("W1.w"), model.get("B1.w")
        history = model.train(train, progress=False)
        ref_history = ref.train(train, progress=False)
        assert history == ref_history                     # metrics (angle of B1 to W2^T) included
        assert np.sum(model.get("W1.w") != before) > 100   # it learned (8-bit stochastic updates)
        assert np.any(model.get("B1.w") != feedback)      # the sleep phase trained B1
        for name in ref.state_names():
            np.testing.assert_array_equal(model.get(name), ref.get(name), err_msg=name)
        np.testing.assert_array_equal(model.predict(test.x), ref.predict(test.x))
    finally:
        model.exe.close()
    assert multiprocessing.active_children() == []


def test_example_script_runs_and_matches_the_reference(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "biograd_loihi_lava.py"), "--samples", "4",
                           "--test-samples", "3", "--sleep-every", "2", "--check", "-q"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "every state identical to the reference executor: yes" in proc.stdout
    assert "W1 custom" in proc.stdout and "test accuracy" in proc.stdout
