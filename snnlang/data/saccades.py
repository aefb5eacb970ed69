"""`synthetic-saccades`: event streams SIMULATED from still MNIST images. This is not N-MNIST.

It imitates how N-MNIST was recorded (Orchard et al. 2015: an ATIS camera made three saccades
in front of a monitor showing each digit) with a simple model of an event camera:

* The 28x28 image (intensities in [0, 1]) moves across a 34x34 sensor along N-MNIST's triangle:
  offsets (x, y) (0, 0) -> (3.5, 7) -> (7, 0) -> (0, 0) pixels, one 100 ms leg per saccade (the
  path is centred, so it starts at (-0.5, -0.5)). Sub-pixel positions are rendered bilinearly.
* Each pixel sees log(I + floor) (floor = the monitor's black level) and keeps the level of its
  last event. Whenever the log intensity has risen by its ON threshold since then it emits an ON
  event (p = 1) and moves that level up by the threshold (OFF, p = 0, likewise downwards), as
  many times as the change allows.
* Thresholds differ per pixel (fixed-pattern mismatch, a normal spread drawn from the seed) -
  the only randomness, so a seed fixes the whole set.
* Time is simulated in `substeps` steps per saccade; an event is stamped at the middle of its
  step. The frames are then binned by the rule of `snnlang.data.events` (over the 300 ms).

What it lacks compared with N-MNIST: sensor noise, refractory periods, the monitor's refresh and
the real optics and motion, so accuracies on it are not N-MNIST accuracies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnlang.data.dataset import Dataset
from snnlang.data.events import EVENT_DTYPE, NMNIST_SENSOR, feature_index, features_of, frames_array, time_bin

NAME = "synthetic-saccades"
_CAMERA_STREAM = 0x5ACC  # seeds the mismatch map apart from the split's shuffle


@dataclass(frozen=True)
class SaccadeCamera:
    """The simulated camera and its motion (defaults as described in the module docstring)."""

    sensor: tuple[int, int, int] = NMNIST_SENSOR       # (width, height, polarities)
    path: tuple[tuple[float, float], ...] = ((0.0, 0.0), (3.5, 7.0), (7.0, 0.0), (0.0, 0.0))
    saccade_us: int = 100_000                            # one leg of the path
    substeps: int = 32                                   # simulation steps per leg
    threshold: float = 0.2                               # log-intensity change per event
    mismatch: float = 0.03                               # relative std of per-pixel thresholds
    floor: float = 0.1                                   # black level added before the log

    @property
    def duration_us(self) -> int:
        return self.saccade_us * (len(self.path) - 1)

    @property
    def step_us(self) -> float:
        return self.saccade_us / self.substeps

    def offset(self, t_us: float) -> tuple[float, float]:
        """(x, y) of the image's top-left corner on the sensor at time t, centred path."""
        legs = len(self.path) - 1
        u = min(max(t_us / self.saccade_us, 0.0), float(legs))
        leg = min(int(u), legs - 1)
        frac = u - leg
        (x0, y0), (x1, y1) = self.path[leg], self.path[leg + 1]
        return x0 + frac * (x1 - x0) + self._base[0], y0 + frac * (y1 - y0) + self._base[1]

    @property
    def _base(self) -> tuple[float, float]:
        xs, ys = [p[0] for p in self.path], [p[1] for p in self.path]
        w, h, _ = self.sensor
        return ((w - 28 - (max(xs) - min(xs))) / 2 - min(xs), (h - 28 - (max(ys) - min(ys))) / 2 - min(ys))

    def thresholds(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(ON, OFF) thresholds per pixel (height, width), fixed by `seed`."""
        w, h, _ = self.sensor
        rng = np.random.default_rng((seed, _CAMERA_STREAM))
        spread = 1.0 + self.mismatch * rng.standard_normal((2, h, w))
        on, off = self.threshold * np.clip(spread, 0.5, None)
        return on.astype(np.float32), off.astype(np.float32)


def render(images: np.ndarray, x: float, y: float, sensor: tuple[int, int, int]) -> np.ndarray:
    """Images (n, h, w) drawn on the sensor (n, H, W) with top-left corner at (x, y), bilinear."""
    n, h, w = images.shape
    width, height, _ = sensor
    out = np.zeros((n, height, width), dtype=np.float32)
    ix, iy = int(np.floor(x)), int(np.floor(y))
    fx, fy = x - ix, y - iy
    for dy, wy in ((0, 1.0 - fy), (1, fy)):
        for dx, wx in ((0, 1.0 - fx), (1, fx)):
            weight, top, left = wy * wx, iy + dy, ix + dx
            if weight == 0.0:
                continue
            y0, y1 = max(top, 0), min(top + h, height)
            x0, x1 = max(left, 0), min(left + w, width)
            if y0 < y1 and x0 < x1:
                out[:, y0:y1, x0:x1] += np.float32(weight) * images[:, y0 - top:y1 - top, x0 - left:x1 - left]
    return out


def _simulate(images: np.ndarray, camera: SaccadeCamera, seed: int):
    """Yield (time in us, ON counts (n, H, W), OFF counts (n, H, W)) for every simulation step."""
    on_th, off_th = camera.thresholds(seed)
    floor = np.float32(camera.floor)
    reference = np.log(floor + render(images, *camera.offset(0.0), camera.sensor))
    steps = camera.substeps * (len(camera.path) - 1)
    for k in range(steps):
        level = np.log(floor + render(images, *camera.offset((k + 1) * camera.step_us), camera.sensor))
        change = level - reference
        n_on = np.floor(np.maximum(change, 0) / on_th)
        n_off = np.floor(np.maximum(-change, 0) / off_th)
        reference += n_on * on_th - n_off * off_th
        yield int(k * camera.step_us + camera.step_us // 2), n_on.astype(np.int32), n_off.astype(np.int32)


def _as_images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 2 and images.shape[-1] == 784:
        images = images.reshape(-1, 28, 28)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"expected 28x28 images (n, 28, 28) or (n, 784), got shape {images.shape}")
    return images


def saccade_events(image: np.ndarray, camera: SaccadeCamera = SaccadeCamera(), seed: int = 0) -> np.ndarray:
    """One image's simulated events, a structured array (x, y, t, p) in time order, like tonic's
    N-MNIST records (one record per threshold crossing)."""
    images = _as_images(np.asarray(image)[None])
    parts = []
    for t, n_on, n_off in _simulate(images, camera, seed):
        for polarity, counts in ((1, n_on[0]), (0, n_off[0])):
            ys, xs = np.nonzero(counts)
            reps = counts[ys, xs]
            rec = np.zeros(int(reps.sum()), dtype=EVENT_DTYPE)
            rec["x"], rec["y"] = np.repeat(xs, reps), np.repeat(ys, reps)
            rec["t"], rec["p"] = t, polarity
            parts.append(rec)
    events = np.concatenate(parts) if parts else np.zeros(0, dtype=EVENT_DTYPE)
    return events[np.argsort(events["t"], kind="stable")]


def saccade_frames(images: np.ndarray, frames: int, camera: SaccadeCamera = SaccadeCamera(),
                   seed: int = 0, chunk: int = 500) -> np.ndarray:
    """Event frames (n, frames, W*H*P) uint8 of the simulated events of each image (n, 28, 28) or
    (n, 784) in [0, 1]: what `bin_events(saccade_events(image), frames, camera.duration_us)`
    gives, computed for many images at once."""
    images = _as_images(images)
    width, height, _ = camera.sensor
    out = frames_array(len(images), frames, features_of(camera.sensor), "synthetic saccades")
    on_idx = feature_index(*np.meshgrid(np.arange(width), np.arange(height)), 1, camera.sensor).ravel()
    off_idx = feature_index(*np.meshgrid(np.arange(width), np.arange(height)), 0, camera.sensor).ravel()
    for start in range(0, len(images), chunk):
        block = out[start:start + chunk]
        for t, n_on, n_off in _simulate(images[start:start + chunk], camera, seed):
            k = int(time_bin(np.array([t]), frames, camera.duration_us)[0])
            if k < 0:
                continue
            block[:, k, on_idx] |= (n_on.reshape(len(block), -1) > 0).astype(np.uint8)
            block[:, k, off_idx] |= (n_off.reshape(len(block), -1) > 0).astype(np.uint8)
    return out


def synthetic_saccades(images: Dataset, frames: int, seed: int = 0,
                       camera: SaccadeCamera = SaccadeCamera()) -> Dataset:
    """A Dataset of 28x28 intensity images turned into simulated saccade event frames."""
    x = saccade_frames(images.x, frames, camera, seed)
    base = images.name.split("/")
    name = f"{NAME}/{base[-1]}" if len(base) > 1 else NAME
    return Dataset(x, np.asarray(images.y).copy(), name,
                   f"SYNTHETIC events simulated from {images.name} by 3 saccades (not N-MNIST): "
                   f"{frames} frames over {camera.duration_us / 1000:g} ms, camera seed {seed}")
