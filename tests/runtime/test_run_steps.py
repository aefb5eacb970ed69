"""A step count that means nothing is refused (hardening item 7): `Model.run(steps=-5)` used to
run no step and return an empty recording, `run(2.5)` ran 2; `snnc run --steps -5` printed a
summary of nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import snnlang
from snnlang.cli import main
from snnlang.errors import UserError

LIF = """
neuron LIF:
    param tau = 20
    input I
    state v = 0
    dv/dt = -v / tau + I
    spike when v > 1:
        v = 0

synapse Static:
    param w = 0.3
    on pre:
        post.I += w

network lif:
    input x = poisson(5, rate = 0.2)
    layer out = LIF(3)
    connect x -> out with Static(dense)
"""


@pytest.fixture(scope="module")
def model():
    return snnlang.compile(LIF, target="numba", seed=1)


@pytest.mark.parametrize("steps", [-5, 0, 2.5, float("nan"), "10", True, [5]])
def test_model_run_refuses_a_step_count_that_is_not_a_positive_whole_number(model, steps):
    with pytest.raises(UserError, match="whole number, at least 1"):
        model.run(steps)
    assert model.exe.step == 0, "nothing ran"


def test_model_run_takes_whole_numbers_of_any_integer_type(model):
    for steps in (3, np.int64(3), 3.0):
        assert model.run(steps)["out.spike"].shape[0] == 3


@pytest.fixture
def lif_file(tmp_path) -> Path:
    path = tmp_path / "lif.snn"
    path.write_text(LIF)
    return path


@pytest.mark.parametrize("steps", ["-5", "0", "2.5", "ten", "1e3"])
def test_snnc_run_refuses_a_bad_step_count_as_a_usage_error(steps, lif_file, capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", str(lif_file), "--steps", steps])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert "--steps" in err and "Traceback" not in err and err.strip().splitlines()[-1].startswith("snnc run: error:")


def test_snnc_run_with_a_good_step_count_still_runs(lif_file, capsys):
    assert main(["run", str(lif_file), "--steps", "20"]) == 0
    assert "20 steps" in capsys.readouterr().out


@pytest.mark.parametrize("option, value", [("--epochs", "0"), ("--epochs", "-1"), ("--samples", "0"),
                                           ("--test-samples", "-3"), ("--epochs", "two")])
def test_snnc_train_refuses_counts_below_one(option, value, capsys):
    """--epochs -1 used to train nothing silently, --samples 0 to use every sample."""
    with pytest.raises(SystemExit) as info:
        main(["train", "model.snn", option, value])
    err = capsys.readouterr().err
    assert info.value.code == 2 and option in err and "Traceback" not in err


@pytest.mark.parametrize("epochs", [-1, 1.5, "2"])
def test_train_and_fit_refuse_an_epoch_count_that_is_not_a_whole_number(epochs):
    from snnlang.runtime.fit import fit
    model = snnlang.compile(Path(__file__).with_name("perceptron.snn"), target="numba")
    data = snnlang.Dataset(np.zeros((2, 16)), np.zeros(2, int))
    for call in (lambda: model.train(data, epochs=epochs, progress=False),
                 lambda: fit(model, data, epochs=epochs, progress=False)):
        with pytest.raises(UserError, match="number of epochs"):
            call()
    assert model.samples_seen == 0
