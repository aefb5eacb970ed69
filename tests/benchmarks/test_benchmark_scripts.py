"""The peer benchmarks run (at a tiny size, from a fresh interpreter) and print their tables, so
they do not rot; they are not timed here (benchmarks/ print medians and ratios, tests do not).

Each case runs one script with the smallest arguments that still exercise every tool it
compares: about 45 s together once the test suite has compiled BioGrad and the shipped E/I
network (tests/backends does; the Brian2 case runs the shipped size, N = 400, so it finds that
module in the cache). The NEST case compiles its static variant and, by design, times one
compile with an empty cache.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))

import peer_common  # noqa: E402


def run(script: str, *args: str, timeout: float = 300) -> str:
    done = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def rows(out: str, first_cell: str) -> list[list[str]]:
    """The cells of every Markdown table row whose first cell starts with `first_cell`."""
    found = []
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0].startswith(first_cell):
            found.append(cells)
    return found


def test_the_network_constants_follow_the_snn_file():
    """Brian2 and NEST read their constants from the lowered model: check the scaling rule
    (weights x 4000 / N) and the sizes the scripts rely on."""
    k4, k1 = peer_common.ei_constants(4000), peer_common.ei_constants(1000)
    assert (k4["N_E"], k4["N_I"]) == (3200, 800)
    assert k4["J_E"] == pytest.approx(10e-12) and k1["J_E"] == pytest.approx(40e-12)
    assert k4["J_I"] == pytest.approx(40e-12) and k4["w_max"] == pytest.approx(2 * k4["J_E"])
    assert k4["dt"] == pytest.approx(1e-4) and k4["duration"] == pytest.approx(1.0)
    static = peer_common.ei_network(1000, plastic=False)
    assert "ExcSTDP(sparse" not in static and "param N = 1000" in static


def test_simulate_vs_brian2_prints_its_table():
    out = run("simulate_vs_brian2.py", "--sizes", "400", "--repeat", "1", "--duration", "0.05",
              "--tools", "numba", "numpy", "--no-cold", "--tolerance", "1", "--quiet")
    ours, = rows(out, "snnlang numba, warm cache")
    brian, = rows(out, "Brian2 numpy")
    assert float(ours[2]) > 0 and float(brian[2]) > 0              # run times
    assert "mean rates: every tool within" in out


def test_simulate_vs_nest_prints_its_tables():
    out = run("simulate_vs_nest.py", "--sizes", "200", "--repeat", "1", "--duration", "0.05", "--no-cold",
              "--tolerance", "1", "--quiet")
    assert rows(out, "NEST 3.10 iaf_psc_exp") and rows(out, "snnlang numba, warm cache")
    nestml, = rows(out, "NESTML 9.0")
    assert int(nestml[3]) > 1000                                    # lines of C++ generated
    assert rows(out, "snnc compile") and "mean rates: NEST within" in out


def test_train_vs_pytorch_prints_its_tables_and_the_hand_version_matches():
    out = run("train_vs_pytorch.py", "--batches", "2", "--samples", "2", "--repeat", "1", "--check", "--quiet")
    for label in ("snnlang numba", "snnlang torch (CPU)", "snnlang torch (CPU), compile=True", "PyTorch by hand", "snnlang torch, learning=bptt", "snnTorch"):
        assert rows(out, label), label
    # same weights, 8 samples: the forward rates differ only by the Poisson input draws. hid1/hid2
    # average 8 x 500 x 20 spike indicators (sd ~ 0.002 at a rate of 0.17), out 8 x 10 x 20 (sd ~ 0.01)
    rates = {m[0]: (float(m[1]), float(m[2])) for m in
             re.findall(r"(\w+) forward rate by hand ([\d.]+), snnlang ([\d.]+)", out)}
    assert set(rates) == {"hid1", "hid2", "out"}
    for layer, tol in (("hid1", 0.015), ("hid2", 0.015), ("out", 0.06)):
        hand, ours = rates[layer]
        assert ours > 0.02 and abs(hand - ours) < tol, (layer, hand, ours)


def test_accuracy_prints_its_table_and_keeps_rows_as_it_goes(tmp_path):
    """The results script at its smoke size on two rows: the markdown lists every row of the
    model's table (those not run say so) and the command that made it."""
    out, raw = tmp_path / "ssnn_bp.md", tmp_path / "ssnn_bp.json"
    run("accuracy.py", "ssnn_bp", "--quick", "--data", "mnist-offline", "--rows", "T = 8", "ANN",
        "--out", str(out), "--json", str(raw))
    text = out.read_text()
    assert "python benchmarks/accuracy.py ssnn_bp --quick" in text and str(out) not in text
    ran = rows(text, "SSNN-BP, T = 8")[0]
    assert ran[1].endswith(")") and "%" in ran[1] and ran[2] == "not run"    # mnist ran, events not
    assert rows(text, "SSNN-BP, T = 256")[0][1] == "not run"
    assert set(json.loads(raw.read_text())) == {"SSNN-BP, T = 8 | mnist-offline",
                                                "ANN 500 (ReLU, SGD, L2 1e-4 as the model) | mnist-offline"}
