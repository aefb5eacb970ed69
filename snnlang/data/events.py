"""Event-camera streams -> event frames, the input of an `events` population.

Binning rule (one rule for N-MNIST and the synthetic saccade set): `frames` bins of equal
length split [0, duration); an event at time t (microseconds from the start of the recording)
falls in bin floor(t * frames / duration), and events at t >= duration are dropped. Frame value
1 where at least one event of that pixel and polarity fell in the bin, else 0 (uint8). With
`duration_us=None` the window is each recording's own [0, last event], so no event is dropped.

Feature layout (n, frames, P*H*W): feature = p * H * W + y * W + x, the order of tonic's
`ToFrame` output (frames, P, H, W) flattened. Frame k is presented at step k of the phase.
"""

from __future__ import annotations

import numpy as np

# (width, height, polarities), tonic's `sensor_size` convention
NMNIST_SENSOR = (34, 34, 2)
# tonic's N-MNIST event record (tonic.datasets.NMNIST.dtype); p = 1 is ON (brighter), 0 OFF
EVENT_DTYPE = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])


def features_of(sensor: tuple[int, int, int]) -> int:
    """Input size an `events` population needs for this sensor: W * H * P."""
    w, h, p = sensor
    return int(w * h * p)


def feature_index(x: np.ndarray, y: np.ndarray, p: np.ndarray,
                  sensor: tuple[int, int, int]) -> np.ndarray:
    """Flat feature of each event: p * H * W + y * W + x."""
    w, h, _ = sensor
    return (np.asarray(p, np.int64) * h + np.asarray(y, np.int64)) * w + np.asarray(x, np.int64)


def time_bin(t: np.ndarray, frames: int, duration_us: float) -> np.ndarray:
    """Bin of each time: floor(t * frames / duration), -1 where t is outside [0, duration)."""
    t = np.asarray(t, dtype=np.float64)
    k = np.floor(t * frames / duration_us).astype(np.int64)
    return np.where((t >= 0) & (t < duration_us), k, -1)


def check_events(events: np.ndarray, sensor: tuple[int, int, int]) -> None:
    """ValueError naming the first field out of the sensor's range (callers add the file)."""
    w, h, p = sensor
    for field, limit in (("x", w), ("y", h), ("p", p)):
        values = events[field]
        if len(values) and (values.min() < 0 or values.max() >= limit):
            raise ValueError(f"event field `{field}` spans {values.min()}..{values.max()}, "
                             f"outside the {w}x{h}x{p} sensor (0..{limit - 1})")
    if len(events) and events["t"].min() < 0:
        raise ValueError(f"negative event time {events['t'].min()}")


def bin_into(out: np.ndarray, events: np.ndarray, duration_us: float | None,
             sensor: tuple[int, int, int] = NMNIST_SENSOR) -> None:
    """Write one recording's frames into `out` (frames, W*H*P), which is zeroed first."""
    check_events(events, sensor)
    frames = out.shape[0]
    out[...] = 0
    if len(events) == 0:
        return
    duration = float(events["t"].max()) + 1.0 if duration_us is None else float(duration_us)
    k = time_bin(events["t"], frames, duration)
    keep = k >= 0
    out[k[keep], feature_index(events["x"][keep], events["y"][keep], events["p"][keep], sensor)] = 1


def frames_array(samples: int, frames: int, features: int, what: str) -> np.ndarray:
    """A zeroed uint8 array (samples, frames, features) for event frames, or a DataError when
    it cannot fit in memory (the machine's, or $SNNLANG_MEMORY_LIMIT): a phase of a million
    steps over 60,000 samples must be refused before the allocation, not by the OOM killer."""
    from snnlang.runtime.memory import ENV_VAR, limit, show_bytes
    from snnlang.runtime.model import DataError
    need = int(samples) * int(frames) * int(features)
    allowed, source = limit()
    if allowed is not None and need > allowed:
        have = f"{source} {show_bytes(allowed)}" if source.startswith("the ") else f"{source} allows {show_bytes(allowed)}"
        raise DataError(f"{what}: {samples:,} samples x {frames:,} frames x {features:,} features need "
                        f"{show_bytes(need)} of event frames, but {have}; present each sample for fewer "
                        f"steps (the phase length sets the frames), or take fewer samples (--samples, "
                        f"limit=...), or raise ${ENV_VAR}")
    try:
        return np.zeros((samples, frames, features), dtype=np.uint8)
    except MemoryError:
        raise DataError(f"{what}: not enough memory for {show_bytes(need)} of event frames; use fewer "
                        "frames or fewer samples") from None


def bin_events(events: np.ndarray, frames: int, duration_us: float | None,
               sensor: tuple[int, int, int] = NMNIST_SENSOR) -> np.ndarray:
    """One recording (structured array with fields x, y, t, p) as event frames (frames, W*H*P) uint8."""
    if frames < 1:
        raise ValueError(f"frames must be at least 1, got {frames}")
    out = np.zeros((frames, features_of(sensor)), dtype=np.uint8)
    bin_into(out, events, duration_us, sensor)
    return out
