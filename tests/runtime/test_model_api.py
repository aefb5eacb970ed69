"""The Python API of issue 3, item 5: compile, run, record, reset, parameters, train,
evaluate, save/load — on the numba backend (the default) and the reference where it matters.

The model is tests/runtime/perceptron.snn: a two-class spiking perceptron with a forward
phase and a one-step learning phase, small enough to train in a fraction of a second.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import snnlang
from snnlang.runtime.model import DataError

PERCEPTRON = Path(__file__).with_name("perceptron.snn")
LIF_TEXT = """
neuron LIF:
    param tau = 20
    param v_th = 1.0
    input I
    state v = 0
    dv/dt = -v / tau + I
    spike when v > v_th:
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


def two_class_data(n: int, seed: int) -> snnlang.Dataset:
    """Class k lights up inputs 8k..8k+7 with intensities in [0.5, 1]."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = np.zeros((n, 16))
    for k in range(n):
        x[k, 8 * y[k]:8 * y[k] + 8] = rng.uniform(0.5, 1.0, 8)
    return snnlang.Dataset(x, y, "two-class")


@pytest.fixture(scope="module")
def data():
    return two_class_data(60, 0), two_class_data(40, 1)


def test_compile_from_text_and_run_records_spikes_and_states():
    model = snnlang.compile(LIF_TEXT, target="numba", seed=2)
    rec = model.run(200, record=("out.v", "out.spike", "x.spike"))
    assert rec["out.v"].shape == (200, 1, 3)
    assert rec["x.spike"].shape == (200, 1, 5)
    steps, neurons = rec.spikes("out")
    assert len(steps) > 0, "0.2 spikes/step * 5 inputs * 0.3 drive makes the neurons fire"
    # a spike step is a step where v crossed the threshold and was reset to exactly 0
    assert np.all(rec["out.v"][steps, 0, neurons] == 0.0)


def test_default_recording_is_every_neuron_population_spikes():
    model = snnlang.compile(LIF_TEXT, target="numba", seed=2)
    rec = model.run(50)
    assert set(rec.data) == {"out.spike"}


def test_same_seed_same_run_and_reset_restarts_the_states():
    a = snnlang.compile(LIF_TEXT, target="numba", seed=5)
    b = snnlang.compile(LIF_TEXT, target="numba", seed=5)
    ra, rb = a.run(100, record=("out.v",)), b.run(100, record=("out.v",))
    np.testing.assert_array_equal(ra["out.v"], rb["out.v"])
    a.reset()
    np.testing.assert_array_equal(a.get("out.v"), np.zeros((1, 3)))


def test_parameter_changed_at_runtime_changes_the_run_without_recompiling():
    model = snnlang.compile(LIF_TEXT, target="numba", seed=2)
    module = model.exe.m            # the generated module the numba Simulation drives
    quiet = model.run(300)["out.spike"].sum()
    connection = model.network.connections[0].name
    model.set_param(connection, "w", 0.0)
    assert model.get_param(connection, "w") == 0.0
    model.reset()
    assert model.run(300)["out.spike"].sum() == 0, "no drive, no spikes"
    model.set_param(connection, "w", 3.0)
    model.reset()
    assert model.run(300)["out.spike"].sum() > quiet
    assert model.exe.m is module, "a parameter change must not load new code"


def test_train_improves_and_evaluate_reports_accuracy(data):
    train, test = data
    model = snnlang.compile(PERCEPTRON, target="numba", seed=3)
    before = model.evaluate(test, progress=False)["accuracy"]
    history = model.train(train, epochs=2, progress=False)
    after = model.evaluate(test, progress=False)
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[-1]["samples"] == 2 * len(train)
    assert "weight_norm" in history[-1]
    assert after["predictions"].shape == (len(test),)
    # two linearly separable classes with 8 informative inputs each: a delta rule separates
    # them within 120 samples; chance is 0.5, so 0.9 leaves room for Poisson noise only
    assert after["accuracy"] >= 0.9 > before


def test_train_with_a_validation_set_records_accuracy_per_epoch(data):
    train, test = data
    model = snnlang.compile(PERCEPTRON, target="numba", seed=3)
    history = model.train(train, epochs=1, progress=False, validation=test)
    assert 0.0 <= history[0]["accuracy"] <= 1.0


def test_progress_bar_is_shown_while_training(data, capsys):
    train, _ = data
    model = snnlang.compile(PERCEPTRON, target="numba", seed=3)
    model.train(snnlang.Dataset(train.x[:5], train.y[:5]), epochs=1, progress=True)
    assert "epoch 1/1" in capsys.readouterr().err


def test_batched_training_matches_the_reference(data):
    """batch = 4 with the model's batch reduction on numba and on the reference: same weights."""
    train, _ = data
    small = snnlang.Dataset(train.x[:12], train.y[:12])
    models = [snnlang.compile(PERCEPTRON, target=t, seed=3, batch=4) for t in ("numba", "reference")]
    for m in models:
        m.train(small, epochs=1, progress=False)
    # the same arithmetic in a different program: equal to rounding (float64)
    np.testing.assert_allclose(models[0].get("W.w"), models[1].get("W.w"), rtol=1e-12, atol=1e-12)


def test_save_and_load_round_trip_bit_exactly(data, tmp_path):
    train, test = data
    model = snnlang.compile(PERCEPTRON, target="numba", seed=3)
    model.train(snnlang.Dataset(train.x[:20], train.y[:20]), epochs=1, progress=False)
    model.set_param("W", "lr", 0.02)
    path = tmp_path / "perceptron.ckpt"
    model.save(path)
    restored = snnlang.load(path)
    assert restored.get_param("W", "lr") == 0.02
    for name in model.state_names():
        np.testing.assert_array_equal(restored.get(name), model.get(name), err_msg=name)
    # and they continue identically: same RNG counter, same samples seen
    rest = snnlang.Dataset(train.x[20:], train.y[20:])
    model.train(rest, epochs=1, progress=False)
    restored.train(rest, epochs=1, progress=False)
    np.testing.assert_array_equal(restored.get("W.w"), model.get("W.w"))
    np.testing.assert_array_equal(restored.evaluate(test, progress=False)["predictions"],
                                  model.evaluate(test, progress=False)["predictions"])


def test_checkpoint_loads_on_another_backend(data, tmp_path):
    train, _ = data
    model = snnlang.compile(PERCEPTRON, target="numba", seed=3)
    model.train(snnlang.Dataset(train.x[:10], train.y[:10]), epochs=1, progress=False)
    model.save(tmp_path / "p.ckpt")
    other = snnlang.load(tmp_path / "p.ckpt", target="reference")
    assert other.target == "reference"
    np.testing.assert_array_equal(other.get("W.w"), model.get("W.w"))


def test_bad_model_raises_compile_error_with_location():
    with pytest.raises(snnlang.CompileError) as info:
        snnlang.compile(LIF_TEXT.replace("-v / tau", "-v / tau_m"), target="numba")
    text = str(info.value)
    assert "E200" in text and ":7:" in text and "tau_m" in text
    assert info.value.diagnostics[0].code == "E200"


def test_data_of_the_wrong_shape_is_a_clear_error():
    model = snnlang.compile(PERCEPTRON, target="numba")
    with pytest.raises(DataError, match="16 neurons but the data has 15"):
        model.evaluate(snnlang.Dataset(np.zeros((3, 15)), np.zeros(3, int)), progress=False)


def test_running_without_the_data_an_input_needs_is_a_clear_error():
    model = snnlang.compile(PERCEPTRON, target="numba")
    with pytest.raises(DataError, match="input `x` needs data"):
        model.run(10)


def test_unknown_backend_is_a_clear_error():
    from snnlang.runtime.backends import UnknownBackend
    with pytest.raises(UnknownBackend, match="available"):
        snnlang.compile(LIF_TEXT, target="nonesuch")


def test_network_parameters_rederive_overrides_and_phase_lengths():
    model = snnlang.compile(PERCEPTRON, target="numba", seed=3)
    assert model.get_param("perceptron", "lr") == 0.05 == model.get_param("W", "lr")
    model.set_param("perceptron", "lr", 0.01)
    assert model.get_param("W", "lr") == 0.01
    model.set_param("perceptron", "T_f", 20)
    assert model.get_param("out", "T_f") == 20
    forward = next(p for p in model.network_params.phases if p.name == "forward")
    assert forward.steps == 20
    # the new phase length is what runs: with a drive of 16 per step the outputs spike in every
    # one of the 20 forward steps, which their spike-count trace counts
    model.set("W.w", np.ones((2, 16)))
    model.evaluate(snnlang.Dataset(np.ones((1, 16)), np.zeros(1, int)), progress=False)
    np.testing.assert_array_equal(model.get("out.n"), [[20, 20]])


def test_a_structural_network_parameter_cannot_change_at_runtime():
    from snnlang.errors import UserError
    model = snnlang.compile(PERCEPTRON, target="numba")
    with pytest.raises(UserError, match="fixed at compile time"):
        model.set_param("perceptron", "n_in", 20)


def test_an_invalid_phase_length_is_refused_and_nothing_changes():
    from snnlang.errors import UserError
    model = snnlang.compile(PERCEPTRON, target="numba")
    with pytest.raises(UserError, match="whole number of steps"):
        model.set_param("perceptron", "T_f", 2.5)
    assert model.get_param("perceptron", "T_f") == 10


def test_network_parameters_survive_a_checkpoint(tmp_path):
    model = snnlang.compile(PERCEPTRON, target="numba")
    model.set_param("perceptron", "T_f", 15)
    model.save(tmp_path / "p.ckpt")
    restored = snnlang.load(tmp_path / "p.ckpt")
    assert restored.get_param("perceptron", "T_f") == 15 == restored.get_param("out", "T_f")
    assert next(p.steps for p in restored.network_params.phases if p.name == "forward") == 15


@pytest.mark.parametrize("use", ["train", "evaluate"])
def test_a_label_beyond_the_label_population_is_a_clear_error(use):
    # the reference's one-hot encoder dropped label 2 of a 2-class network without a word
    model = snnlang.compile(PERCEPTRON, target="reference")
    bad = snnlang.Dataset(np.full((3, 16), 0.5), np.array([0, 2, 1]), "three-labels")
    with pytest.raises(DataError, match="label 2 .*has 2 classes"):
        getattr(model, use)(bad, progress=False)
