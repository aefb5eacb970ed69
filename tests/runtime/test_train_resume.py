"""Training stops and resumes bit-exactly (hardening item 6).

A run of N epochs and a run stopped after k epochs (by returning, by SIGINT/SIGTERM, or by
killing `snnc train`) then resumed from its checkpoint end with identical states, parameters,
step counter, samples seen and history: the checkpoint holds everything the next epoch reads
(the shuffle generator of `fit`, the epoch number `Model.train` derives its order from, a
BPTT optimiser's moments). Models: tests/runtime/perceptron.snn (two classes, 16 inputs) and
digits_perceptron.snn (the same for `--data digits`).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import snnlang
from snnlang.cli import main
from snnlang.runtime import checkpoint as ckpt
from snnlang.runtime.checkpoint import CheckpointError, TrainingInterrupted
from snnlang.runtime.fit import fit

HERE = Path(__file__).parent
PERCEPTRON = HERE / "perceptron.snn"
DIGITS_MODEL = HERE / "digits_perceptron.snn"
TIMING = ("seconds", "samples_per_s")      # wall-clock fields of fit's history


def two_class_data(n: int, seed: int) -> snnlang.Dataset:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = np.zeros((n, 16))
    for k in range(n):
        x[k, 8 * y[k]:8 * y[k] + 8] = rng.uniform(0.5, 1.0, 8)
    return snnlang.Dataset(x, y)


TRAIN, TEST = two_class_data(24, 0), two_class_data(8, 1)


def assert_identical(a, b) -> None:
    assert a.state_names() == b.state_names()
    for name in a.state_names():
        np.testing.assert_array_equal(a.get(name), b.get(name), err_msg=name)
    assert a.get_param("W", "lr") == b.get_param("W", "lr")
    assert (a.exe.step, a.samples_seen) == (b.exe.step, b.samples_seen)


def without_timing(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in entry.items() if k not in TIMING} for entry in history]


@pytest.mark.parametrize("target", ["numba", "torch"])
def test_model_train_resumed_after_an_epoch_matches_the_uninterrupted_run(target, tmp_path):
    pytest.importorskip(target)
    whole = snnlang.compile(PERCEPTRON, target=target, seed=3)
    expected = whole.train(TRAIN, epochs=2, progress=False, validation=TEST)

    first = snnlang.compile(PERCEPTRON, target=target, seed=3)
    first.train(TRAIN, epochs=1, progress=False, validation=TEST, checkpoint=tmp_path / "run.ckpt")
    resumed = snnlang.compile(PERCEPTRON, target=target, seed=3)   # a new process, as it were
    history = resumed.train(TRAIN, epochs=2, progress=False, validation=TEST, resume=tmp_path / "run.ckpt")

    assert history == expected
    assert_identical(resumed, whole)
    assert ckpt.read(tmp_path / "run.ckpt").meta["training"]["epoch"] == 2, "resume keeps writing its file"


def test_fit_resumed_restores_the_shuffle_generator_and_the_history(tmp_path):
    """fit draws each epoch's order from one generator: epoch 3 after a resume must draw the
    third permutation, not the first; the history holds the pre-training entry and the chunks."""
    whole = snnlang.compile(PERCEPTRON, target="numba", seed=3)
    expected = fit(whole, TRAIN, TEST, epochs=3, log_every=10, progress=False, seed=7)

    first = snnlang.compile(PERCEPTRON, target="numba", seed=3)
    fit(first, TRAIN, TEST, epochs=2, log_every=10, progress=False, seed=7, checkpoint=tmp_path / "fit.ckpt")
    resumed = snnlang.compile(PERCEPTRON, target="numba", seed=3)
    history = fit(resumed, TRAIN, TEST, epochs=3, log_every=10, progress=False, seed=7,
                  resume=tmp_path / "fit.ckpt")

    assert without_timing(history) == without_timing(expected)
    assert_identical(resumed, whole)


def test_bptt_resume_restores_the_optimiser_moments(tmp_path):
    pytest.importorskip("torch")
    options = dict(target="torch", seed=3, learning="bptt", batch=4, device="cpu")
    whole = snnlang.compile(PERCEPTRON, **options)
    expected = whole.train(TRAIN, epochs=2, progress=False)

    first = snnlang.compile(PERCEPTRON, **options)
    first.train(TRAIN, epochs=1, progress=False, checkpoint=tmp_path / "bptt.ckpt")
    saved = ckpt.read(tmp_path / "bptt.ckpt")
    assert saved.meta["optimizer"]["class"] == "Adam" and "optim:0:exp_avg" in saved.optim
    resumed = snnlang.compile(PERCEPTRON, **options)
    history = resumed.train(TRAIN, epochs=2, progress=False, resume=tmp_path / "bptt.ckpt")

    assert history == expected
    assert_identical(resumed, whole)
    with pytest.raises(CheckpointError, match="optimiser"):      # and it is needed to continue
        snnlang.compile(PERCEPTRON, target="torch", seed=3, batch=4).train(
            TRAIN, epochs=2, progress=False, resume=tmp_path / "bptt.ckpt")


def _signal_during_epoch(model, monkeypatch, epoch: int, signum: int) -> None:
    """Send `signum` to this process in the middle of epoch `epoch` (1-based)."""
    run_phase = model._run_phase
    start = (epoch - 1) * len(TRAIN) + len(TRAIN) // 2

    def run(phase, data, learn, record=()):
        if learn and model.samples_seen == start and phase.name == "learn":
            os.kill(os.getpid(), signum)
        return run_phase(phase, data, learn, record)

    monkeypatch.setattr(model, "_run_phase", run)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_epoch_keeps_the_last_completed_epoch_and_resumes_exactly(signum, tmp_path, monkeypatch):
    whole = snnlang.compile(PERCEPTRON, target="numba", seed=3)
    expected = whole.train(TRAIN, epochs=3, progress=False)

    stopped = snnlang.compile(PERCEPTRON, target="numba", seed=3)
    _signal_during_epoch(stopped, monkeypatch, epoch=2, signum=signum)
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    path = tmp_path / "stopped.ckpt"
    with pytest.raises(TrainingInterrupted) as info:
        stopped.train(TRAIN, epochs=3, progress=False, checkpoint=path)
    assert info.value.epoch == 1 and info.value.path == path and info.value.signum == signum
    assert f"resume='{path}'" in str(info.value) and signal.Signals(signum).name in str(info.value)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers, "put back"
    assert ckpt.read(path).meta["training"]["epoch"] == 1

    resumed = snnlang.compile(PERCEPTRON, target="numba", seed=3)
    assert resumed.train(TRAIN, epochs=3, progress=False, resume=path) == expected
    assert_identical(resumed, whole)


def test_fit_interrupted_without_a_checkpoint_saves_to_its_fallback(tmp_path, monkeypatch):
    model = snnlang.compile(PERCEPTRON, target="numba", seed=3)
    _signal_during_epoch(model, monkeypatch, epoch=2, signum=signal.SIGINT)
    with pytest.raises(TrainingInterrupted) as info:
        fit(model, TRAIN, TEST, epochs=3, progress=False, interrupt_to=tmp_path / "fallback.ckpt")
    assert info.value.path == tmp_path / "fallback.ckpt" and info.value.epoch == 1
    assert ckpt.read(tmp_path / "fallback.ckpt").meta["training"]["epoch"] == 1


def test_a_signal_while_a_checkpoint_is_written_waits_for_the_write(tmp_path, monkeypatch):
    real_write = ckpt.write

    def write(path, data):
        os.kill(os.getpid(), signal.SIGINT)       # arrives mid-write: must not cut it short
        real_write(path, data)

    monkeypatch.setattr(ckpt, "write", write)
    model = snnlang.compile(PERCEPTRON, target="numba", seed=3)
    with pytest.raises(TrainingInterrupted) as info:
        model.train(TRAIN, epochs=2, progress=False, checkpoint=tmp_path / "w.ckpt")
    assert info.value.epoch == 0                  # the first write is the starting point
    assert ckpt.read(tmp_path / "w.ckpt").meta["training"]["epoch"] == 0


def test_resuming_something_else_is_refused_with_the_reason(tmp_path):
    model = snnlang.compile(PERCEPTRON, target="numba", seed=3)
    model.train(TRAIN, epochs=1, progress=False, checkpoint=tmp_path / "t.ckpt")
    model.save(tmp_path / "plain.ckpt")
    fresh = lambda **kw: snnlang.compile(PERCEPTRON, target="numba", **{"seed": 3, **kw})  # noqa: E731
    cases = [
        (lambda: fresh().train(TEST, epochs=2, progress=False, resume=tmp_path / "t.ckpt"), "other data"),
        (lambda: fresh().train(TRAIN, epochs=2, progress=False, resume=tmp_path / "plain.ckpt"),
         "no training progress"),
        (lambda: fresh(seed=4).train(TRAIN, epochs=2, progress=False, resume=tmp_path / "t.ckpt"), "seed=3"),
        (lambda: fresh(batch=2).train(TRAIN, epochs=2, progress=False, resume=tmp_path / "t.ckpt"), "batch=1"),
        (lambda: fit(fresh(), TRAIN, epochs=2, progress=False, resume=tmp_path / "t.ckpt"), "train()"),
    ]
    for call, reason in cases:
        with pytest.raises(CheckpointError, match=reason.replace("(", r"\(").replace(")", r"\)")):
            call()


# --------------------------------------------------------------------------------- snnc

def _digits_args(epochs: int, *more: str) -> list[str]:
    return ["train", str(DIGITS_MODEL), "--data", "digits", "--samples", "60", "--test-samples", "20",
            "--seed", "2", "--epochs", str(epochs), "-q", *more]


def _states(path: Path) -> dict[str, np.ndarray]:
    return ckpt.read(path).states


def test_snnc_train_resume_continues_exactly(tmp_path, capsys):
    assert main(_digits_args(2, "--save", str(tmp_path / "whole.ckpt"))) == 0
    assert main(_digits_args(1, "--save", str(tmp_path / "part.ckpt"))) == 0
    capsys.readouterr()
    assert main(_digits_args(2, "--resume", str(tmp_path / "part.ckpt"))) == 0
    out = capsys.readouterr().out
    assert "resuming from" in out and "epoch 2/2" in out and "epoch 1/2" not in out
    whole, part = ckpt.read(tmp_path / "whole.ckpt"), ckpt.read(tmp_path / "part.ckpt")
    assert set(whole.states) == set(part.states)
    for name in whole.states:
        np.testing.assert_array_equal(part.states[name], whole.states[name], err_msg=name)
    assert part.meta["step"] == whole.meta["step"]
    assert without_timing(part.meta["training"]["history"]) == without_timing(whole.meta["training"]["history"])


def test_sigint_stops_snnc_train_cleanly_and_its_resume_command_works(tmp_path, capsys):
    """A real `snnc train` process killed by SIGINT mid-run: one message naming the checkpoint
    and the command that resumes; that command, run to one more epoch, matches a run that was
    never stopped."""
    save = tmp_path / "run.ckpt"
    proc = subprocess.Popen([sys.executable, "-m", "snnlang.cli", *_digits_args(100000, "--save", str(save))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        for line in proc.stdout:
            if line.startswith("epoch 2/"):
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.startswith("snnc: training stopped during epoch")
    assert f"is saved in {save}" in err
    done = ckpt.read(save).meta["training"]["epoch"]
    assert done >= 2
    command = shlex.split(err.split("resume with: ", 1)[1])
    assert command[:2] == ["snnc", "train"] and command[-2:] == ["--resume", str(save)]
    command[command.index("--epochs") + 1] = str(done + 1)
    capsys.readouterr()
    assert main(command[1:]) == 0
    assert f"epoch {done + 1}/{done + 1}" in capsys.readouterr().out

    assert main(_digits_args(done + 1, "--save", str(tmp_path / "whole.ckpt"))) == 0
    whole, resumed = _states(tmp_path / "whole.ckpt"), _states(save)
    for name in whole:
        np.testing.assert_array_equal(resumed[name], whole[name], err_msg=name)
