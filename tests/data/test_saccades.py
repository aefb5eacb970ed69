"""The SYNTHETIC saccade event set: the camera model does what docs/data.md says, the fast
many-image path equals binning the single-image event stream, and a seed fixes everything."""

from __future__ import annotations

import numpy as np
import pytest

from snnlang.data import SaccadeCamera, bin_events, load, saccade_events, saccade_frames
from snnlang.data.offline import load_mnist_offline

CAMERA = SaccadeCamera()


@pytest.fixture(scope="module")
def digits():
    train, _ = load_mnist_offline(seed=0)
    return train.x[:12].reshape(-1, 28, 28)


def test_path_is_n_mnists_triangle_centred_on_the_sensor():
    base = (-0.5, -0.5)  # 28 + 7 pixels of travel on 34: half a pixel over on each side
    for t, (x, y) in ((0, (0, 0)), (50_000, (1.75, 3.5)), (100_000, (3.5, 7)), (200_000, (7, 0)),
                      (300_000, (0, 0))):
        assert CAMERA.offset(t) == pytest.approx((x + base[0], y + base[1]))
    assert CAMERA.duration_us == 300_000


def test_a_still_or_blank_scene_emits_nothing():
    assert len(saccade_events(np.zeros((28, 28)))) == 0
    assert len(saccade_events(np.full((28, 28), 0.5))) > 0  # its border moves; the inside does not
    inside = saccade_events(np.full((28, 28), 0.5))
    assert not np.any((inside["x"] > 8) & (inside["x"] < 26) & (inside["y"] > 8) & (inside["y"] < 26))


def test_a_moving_edge_gives_the_closed_form_number_of_events_per_pixel():
    """A bright block, image columns 4..13 and rows 6..21. The path starts at (-0.5, -0.5), so on
    the sensor the block spans x in [3.5, 13.5); the first saccade moves it by (3.5, 7) to
    [7, 17). In rows 13..20 (inside the block all along) only the horizontal motion shows: pixel
    intensities change monotonically from I0 to I1, so a pixel emits exactly
    floor(|log(0.1 + I1) - log(0.1 + I0)| / its threshold) events, ON where it brightens."""
    image = np.zeros((28, 28))
    image[6:22, 4:14] = 1.0
    ev = saccade_events(image, CAMERA, seed=0)
    first = ev[(ev["t"] < 100_000) & (ev["y"] >= 13) & (ev["y"] <= 20)]
    on_th, off_th = CAMERA.thresholds(seed=0)
    changes = {1: {13: (0.5, 1.0), 14: (0.0, 1.0), 15: (0.0, 1.0), 16: (0.0, 1.0)},   # leading edge
               0: {3: (0.5, 0.0), 4: (1.0, 0.0), 5: (1.0, 0.0), 6: (1.0, 0.0)}}    # trailing edge
    for polarity, pixels in changes.items():
        got = first[first["p"] == polarity]
        assert set(got["x"].tolist()) == set(pixels)
        th = on_th if polarity == 1 else off_th
        for x, (i0, i1) in pixels.items():
            for y in range(13, 21):
                want = int(np.floor(abs(np.log(0.1 + i1) - np.log(0.1 + i0)) / th[y, x]))
                assert np.sum((got["x"] == x) & (got["y"] == y)) == want, (polarity, x, y)


def test_fast_path_equals_binning_each_images_events(digits):
    frames = saccade_frames(digits, 15, CAMERA, seed=4)
    assert frames.shape == (12, 15, 2312) and frames.dtype == np.uint8
    for k in (0, 5, 11):
        np.testing.assert_array_equal(
            frames[k], bin_events(saccade_events(digits[k], CAMERA, seed=4), 15, CAMERA.duration_us))


def test_deterministic_given_a_seed_and_the_seed_matters(digits):
    a = saccade_frames(digits[:4], 10, seed=1)
    np.testing.assert_array_equal(a, saccade_frames(digits[:4], 10, seed=1))
    b = saccade_frames(digits[:4], 10, seed=2)
    assert not np.array_equal(a, b)
    assert np.mean(a != b) < 0.01  # only the thresholds' fixed pattern changes


def test_the_set_says_synthetic_everywhere_and_has_n_mnists_shape():
    train, test = load("synthetic-saccades", frames=8, limit=(20, 10), seed=0)
    assert train.x.shape == (20, 8, 2 * 34 * 34) and train.x.dtype == np.uint8
    assert train.class_counts().tolist() == [2] * 10 and len(test) == 10
    for data in (train, test):
        assert data.name.startswith("synthetic-saccades/")
        assert "SYNTHETIC" in data.description and "not N-MNIST" in data.description
    assert 0.01 < train.x.mean() < 0.5  # events, but not everywhere
