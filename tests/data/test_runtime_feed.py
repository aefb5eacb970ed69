"""The data sets feed compiled models directly: event frames into an `events` input and
intensities into a `poisson` input, through `Model.run` and `Model.evaluate` on the reference
backend. Nothing is trained; the point is that shapes and layouts fit end to end."""

from __future__ import annotations

import numpy as np

import snnlang
from snnlang.data import load

FRAMES = 6
BATCH = 4

MODEL = """
neuron Counter:
    input I
    state v = 0
    v <- 0.5 * v * (1 - spike) + I
    spike when v > 0.5
    trace n: sum on spike += 1

synapse Fixed:
    state w = 0
    on pre:
        post.I += w

network classify:
    input x = {encoder}
    layer out = Counter(10)
    connect W: x -> out with Fixed(dense):
        init w = uniform(0, 0.05)
    readout argmax(out.n)
    schedule:
        phase present({steps}):
            active x, W
            reset all
        infer present
"""


def _compile(encoder: str, steps: int):
    return snnlang.compile(MODEL.format(encoder=encoder, steps=steps), target="reference",
                           batch=BATCH, seed=1)


def test_event_frames_drive_an_events_input_spike_for_spike():
    train, test = load("synthetic-saccades", frames=FRAMES, limit=(10, 6))
    model = _compile(f"events({train.features}, polarity = 2)", FRAMES)
    rec = model.run(FRAMES + 2, inputs=train.x[:BATCH], record=("x.spike",))
    spikes = rec["x.spike"]  # (steps, batch, 2312)
    # frame k is step k's input spikes, exactly; after the last frame the input is silent
    np.testing.assert_array_equal(spikes[:FRAMES] > 0, np.swapaxes(train.x[:BATCH], 0, 1) > 0)
    assert not spikes[FRAMES:].any()
    result = model.evaluate(test, progress=False)  # 6 samples: a full batch and a padded one
    assert result["predictions"].shape == (6,)
    assert 0.0 <= result["accuracy"] <= 1.0


def test_intensities_drive_a_poisson_input_at_their_rate():
    steps = 200
    train, test = load("mnist-offline", limit=(10, 5))
    model = _compile(f"poisson({train.features})", steps)
    x = train.x[:BATCH]
    spikes = model.run(steps, inputs=x, record=("x.spike",))["x.spike"]
    counts = spikes.sum(axis=(0, 2))  # per sample: Binomial sums with mean steps * sum(x)
    mean = steps * x.sum(axis=1)
    sd = np.sqrt(steps * (x * (1 - x)).sum(axis=1))
    assert np.all(np.abs(counts - mean) < 5 * sd)  # 5 sigma; deterministic for seed 1
    # pixels at 0 never fire: the feature layout is the image's
    assert not spikes[:, x == 0].any()
    assert model.evaluate(test, progress=False)["predictions"].shape == (5,)
