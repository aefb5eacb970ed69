"""Writers of small but real data files (IDX, N-MNIST .bin) for the data-layer tests.

A plain module (not conftest.py) with a name no other test folder uses, imported by the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from snnlang.data.events import EVENT_DTYPE
from snnlang.data.idx import write_idx


def encode_nmnist(events: np.ndarray) -> bytes:
    """N-MNIST's 40-bit event records: x, y, polarity bit 7 + time bits 22..16, time 15..8, 7..0."""
    t = events["t"].astype(np.int64)
    assert t.min() >= 0 and t.max() < 2 ** 23
    raw = np.empty((len(events), 5), dtype=np.uint8)
    raw[:, 0], raw[:, 1] = events["x"], events["y"]
    raw[:, 2] = (events["p"].astype(np.int64) << 7) | ((t >> 16) & 0x7F)
    raw[:, 3], raw[:, 4] = (t >> 8) & 0xFF, t & 0xFF
    return raw.tobytes()


def random_events(rng: np.random.Generator, n: int, t_max: int = 315_000) -> np.ndarray:
    ev = np.zeros(n, dtype=EVENT_DTYPE)
    ev["x"], ev["y"] = rng.integers(0, 34, n), rng.integers(0, 34, n)
    ev["p"], ev["t"] = rng.integers(0, 2, n), np.sort(rng.integers(0, t_max, n))
    return ev


def write_nmnist_folder(save_to: Path, per_class: dict[str, int], seed: int = 0) -> dict[str, list]:
    """SAVE_TO/NMNIST/{Train,Test}/<digit>/<k>.bin with random events; returns, per split, the
    (label, events) of every file in tonic's order (folders sorted, files sorted)."""
    rng = np.random.default_rng(seed)
    written: dict[str, list] = {}
    for split, folder in (("train", "Train"), ("test", "Test")):
        written[split] = []
        for digit in range(10):
            d = save_to / "NMNIST" / folder / str(digit)
            d.mkdir(parents=True)
            for k in range(per_class[split]):
                ev = random_events(rng, int(rng.integers(50, 400)))
                (d / f"{k:05d}.bin").write_bytes(encode_nmnist(ev))
                written[split].append((digit, ev))
    return written


def write_mnist_files(folder: Path, n_train: int, n_test: int, gz: bool, seed: int = 0,
                      dotted: bool = False) -> dict[str, np.ndarray]:
    """The four MNIST IDX files with random 28x28 images and labels 0..9."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte": rng.integers(0, 10, n_train).astype(np.uint8),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test).astype(np.uint8)}
    for name, array in arrays.items():
        stem = name.replace("-idx", ".idx") if dotted else name
        write_idx(folder / (stem + (".gz" if gz else "")), array)
    return arrays
