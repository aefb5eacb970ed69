"""README's tour must stay true: its model checks cleanly, and the error example is what
`snnc check` prints for the two mistakes the README describes."""

from __future__ import annotations

import re
from pathlib import Path

from snnlang.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"


def _block(lang: str, index: int = 0) -> str:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), re.S)[index]


def test_tour_model_checks_cleanly(tmp_path, capsys):
    path = tmp_path / "tour.snn"
    path.write_text(_block("snn"))
    assert main(["check", str(path)]) == 0
    assert "tour.snn: ok" in capsys.readouterr().out


def test_tour_error_example_is_what_snnc_prints(tmp_path, capsys, monkeypatch):
    broken = _block("snn").replace("dv/dt = (E_L - v + g_e * (E_ex - v)) / tau_m",
                                   "dv/dt = (E_L - v + g_e * (E_ex - v)) / tau_m + tau_e")
    broken = broken.replace("spike when v > v_th:", "spike when v > v_thresh:")
    (tmp_path / "broken.snn").write_text(broken)
    monkeypatch.chdir(tmp_path)
    assert main(["check", "broken.snn"]) == 1
    captured = capsys.readouterr()
    shown = _block("text").split("\n", 1)[1]          # without the `$ snnc check` line
    expected_diagnostics = shown.rsplit("\n\n", 1)[0]
    assert captured.err.strip() == expected_diagnostics.strip()
    assert captured.out.strip() == "broken.snn: 2 errors"
