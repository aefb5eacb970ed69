"""The binning rule of docs/data.md: frames of equal length over [0, duration), 1 where >= 1 event
of a pixel and polarity falls in the bin; feature = p*H*W + y*W + x; checked by hand and
against tonic's own ToFrame."""

from __future__ import annotations

import numpy as np
import pytest
from data_files import random_events

from snnlang.data.events import EVENT_DTYPE, NMNIST_SENSOR, bin_events, feature_index


def _events(*rows):
    ev = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for i, (x, y, t, p) in enumerate(rows):
        ev[i] = (x, y, t, p)
    return ev


def test_hand_example_bins_layout_and_the_window_edges():
    ev = _events((0, 0, 0, 0), (33, 0, 99, 1), (1, 2, 100, 0), (1, 2, 150, 0), (5, 6, 399, 1),
                 (7, 7, 400, 1))
    frames = bin_events(ev, frames=4, duration_us=400)
    assert frames.shape == (4, 2312) and frames.dtype == np.uint8
    on = 34 * 34
    want = np.zeros((4, 2312), dtype=np.uint8)
    want[0, 0] = 1                      # t 0 -> bin 0, OFF, pixel (0, 0)
    want[0, on + 33] = 1                # t 99 -> bin 0, ON, x 33
    want[1, 2 * 34 + 1] = 1             # t 100 and 150: one bin, two events -> still 1
    want[3, on + 6 * 34 + 5] = 1        # t 399 -> last bin; t 400 = duration is outside
    np.testing.assert_array_equal(frames, want)


def test_without_a_duration_the_window_is_the_recordings_own_span():
    ev = _events((0, 0, 0, 0), (1, 0, 400, 0))
    frames = bin_events(ev, frames=4, duration_us=None)  # [0, 401): t 400 is in the last bin
    assert frames[3, 1] == 1 and frames.sum() == 2


def test_feature_index_matches_tonics_frame_layout():
    assert feature_index(np.array([3]), np.array([2]), np.array([1]), NMNIST_SENSOR)[0] == \
        np.ravel_multi_index((1, 2, 3), (2, 34, 34))


@pytest.mark.parametrize("frames", [1, 7, 20])
def test_agrees_with_tonic_to_frame_on_random_recordings(frames):
    from tonic.functional import to_frame_numpy
    rng = np.random.default_rng(frames)
    duration = 3150 * frames  # a whole number of microseconds per bin, as tonic's windows need
    ev = random_events(rng, 3000, t_max=duration + 500)  # some events past the window
    ours = bin_events(ev, frames, duration)
    theirs = to_frame_numpy(ev, NMNIST_SENSOR, time_window=duration // frames, start_time=0,
                            end_time=duration)
    assert theirs.shape == (frames, 2, 34, 34)
    np.testing.assert_array_equal(ours, (theirs > 0).reshape(frames, -1).astype(np.uint8))


def test_events_outside_the_sensor_are_refused():
    with pytest.raises(ValueError, match="field `x` spans 0..34, outside the 34x34x2 sensor"):
        bin_events(_events((0, 0, 0, 0), (34, 0, 5, 0)), 2, 10)
    with pytest.raises(ValueError, match="field `p`"):
        bin_events(_events((0, 0, 0, 2)), 2, 10)
    with pytest.raises(ValueError, match="negative event time"):
        bin_events(_events((0, 0, -1, 0)), 2, 10)
