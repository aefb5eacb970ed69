"""A parameter of 0 that the model divides by is one clear error naming it, on every backend,
when the network is built and when set_param sets it (which then keeps the old value)."""

from __future__ import annotations

import pytest

import snnlang
from snnlang.cli import main
from snnlang.runtime.parameter_values import ParameterValueError

MODEL = """\
neuron N:
    param tau = {tau}
    param I = 1
    state v = 0
    dv/dt = (I - v) / tau
    spike when v > 0.5:
        v = 0

network net:
    layer a = N(3)
    simulate 10 ms at dt = 1 ms
"""

TARGETS = ["reference", "numba", "torch"]


@pytest.mark.parametrize("target", TARGETS)
def test_a_zero_time_constant_names_the_parameter_and_its_line(tmp_path, target):
    path = tmp_path / "zero.snn"
    path.write_text(MODEL.format(tau="0 ms"))
    with pytest.raises(ParameterValueError) as info:
        model = snnlang.compile(path, target=target)
        model.run(3)                       # the reference derives its constants while stepping
    message = str(info.value)
    assert "`a.tau` = 0" in message and "zero.snn:2:5" in message
    assert "must not be 0" in message


@pytest.mark.parametrize("target", TARGETS)
def test_set_param_to_zero_is_refused_and_the_old_value_kept(tmp_path, target):
    path = tmp_path / "ok.snn"
    path.write_text(MODEL.format(tau="5 ms"))
    model = snnlang.compile(path, target=target)
    try:
        model.set_param("a", "tau", 0.0)
    except ParameterValueError as exc:
        assert "a.tau = 0" in str(exc) and "previous value was kept" in str(exc)
        assert model.get_param("a", "tau") == pytest.approx(0.005)
        model.run(3)                       # still runs with the old value
    else:
        # the reference derives constants lazily: the refusal comes at the next run
        with pytest.raises(ParameterValueError, match="`a.tau` = 0"):
            model.run(3)


def test_snnc_run_prints_one_message(tmp_path, capsys):
    path = tmp_path / "zero.snn"
    path.write_text(MODEL.format(tau="0 ms"))
    assert main(["run", str(path), "--target", "numba"]) == 1
    err = capsys.readouterr().err
    assert "`a.tau` = 0" in err and "Traceback" not in err and "internal" not in err


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e999"])
def test_a_non_finite_parameter_is_refused(tmp_path, capsys, value):
    # `--set out.tau=1e999` ran silently; nan stopped at step 0 with advice about learning rates
    path = tmp_path / "ok.snn"
    path.write_text(MODEL.format(tau="5 ms"))
    model = snnlang.compile(path, target="numba")
    with pytest.raises(ParameterValueError, match="finite"):
        model.set_param("a", "tau", float(value))
    assert model.get_param("a", "tau") == pytest.approx(0.005)
    assert main(["run", str(path), "--set", f"a.tau={value}"]) == 1
    assert "finite" in capsys.readouterr().err
