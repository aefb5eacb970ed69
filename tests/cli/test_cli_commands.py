"""`snnc explain`, `snnc compile`, `snnc run`: output, files written, exit codes, and clear
messages (never a traceback) for a bad model, an unknown target or a bad --set."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from snnlang.cli import main

ROOT = Path(__file__).resolve().parents[2]
STDP = ROOT / "models" / "stdp.snn"
LIF = ROOT / "models" / "lif.snn"


def test_explain_names_solver_reason_updates_and_step_order(capsys):
    assert main(["explain", str(STDP)]) == 0
    out = capsys.readouterr().out
    assert "solve g_e by exact" in out and "matrix exponential" in out
    assert "exponential_euler" in out and "conditionally linear" in out
    assert "g_e <- g_e*exp(-dt/tau_e)" in out          # the discrete update it became
    assert "step order:" in out and "1. x (input poisson" in out
    assert "phase run: 10000 steps" in out
    assert "# line 45" in out                          # every decision points at its line


def test_explain_of_a_broken_model_prints_diagnostics(tmp_path, capsys):
    bad = tmp_path / "bad.snn"
    bad.write_text("neuron N:\n    state v = 0\n    dv/dt = -v / tau\n")
    assert main(["explain", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.snn:3:" in err and "E200" in err and "Traceback" not in err


def test_missing_file_is_a_usage_error(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.snn")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_run_prints_counts_and_rates_and_saves_a_raster(tmp_path, capsys):
    png = tmp_path / "raster.png"
    assert main(["run", str(STDP), "--steps", "2000", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "network stdp: 2000 steps (0.2 s) on numba" in out
    line = next(l for l in out.splitlines() if l.startswith("out "))
    assert int(line.split()[2]) > 0 and line.endswith("Hz")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_run_on_the_reference_gives_the_same_counts(capsys):
    assert main(["run", str(STDP), "--steps", "300", "--target", "numba"]) == 0
    numba_out = capsys.readouterr().out.split("\n", 1)[1]
    assert main(["run", str(STDP), "--steps", "300", "--target", "reference"]) == 0
    assert capsys.readouterr().out.split("\n", 1)[1] == numba_out


def test_set_changes_a_parameter_without_editing_the_model(capsys):
    assert main(["run", str(STDP), "--steps", "1000", "--set", "out.v_th=1.0"]) == 0
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if l.startswith("out "))
    assert int(line.split()[2]) == 0, "a 1 V threshold is never reached"


@pytest.mark.parametrize("setting, message", [
    ("out.nonesuch=1", "has no parameter `nonesuch`"),
    ("out.v_th", "write OWNER.PARAM=NUMBER"),
])
def test_bad_set_is_one_clear_message(setting, message, capsys):
    assert main(["run", str(STDP), "--steps", "10", "--set", setting]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and "internal" not in err


def test_unknown_target_is_one_clear_message(capsys):
    assert main(["run", str(STDP), "--steps", "10", "--target", "fpga"]) == 1
    err = capsys.readouterr().err
    assert "unknown target `fpga`" in err and "available:" in err


def test_compile_writes_a_package_with_a_manifest(tmp_path, capsys):
    import json
    assert main(["compile", str(STDP), "--target", "numba", "-o", str(tmp_path / "out")]) == 0
    package = tmp_path / "out" / "stdp"
    manifest = json.loads((package / "manifest.json").read_text())
    net = manifest["networks"]["stdp"]
    assert {p["name"] for p in net["params"]} >= {"tau_m", "a_plus"}
    assert (package / "__init__.py").is_file()
    # it imports and runs in a fresh interpreter (tests/backends/test_numba.py checks that it
    # needs nothing but numpy and numba)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import stdp; "
            "sim = stdp.load('stdp', seed=0); out = sim.run(phase=None, steps=100, record=('out.spike',)); "
            "print(out['out.spike'].shape)")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "out")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "(100, 1, 20)"


def test_compile_of_an_unknown_network_is_a_usage_error(tmp_path, capsys):
    assert main(["compile", str(STDP), "--network", "nope", "-o", str(tmp_path)]) == 2
    assert "no network `nope`" in capsys.readouterr().err


def test_snnc_is_installed_as_a_console_script():
    exe = Path(sys.executable).with_name("snnc")
    proc = subprocess.run([str(exe), "explain", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "solver" in proc.stdout


def test_run_reads_a_file_whose_name_has_a_newline(tmp_path, capsys):
    # compile_model treats a str with a newline as model text; the CLI always names a file
    odd = tmp_path / "a\nb.snn"
    odd.write_text(STDP.read_text())
    assert main(["run", str(odd), "--steps", "10", "--target", "reference"]) == 0
    assert "network stdp: 10 steps" in capsys.readouterr().out
