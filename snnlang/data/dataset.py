"""`Dataset`: samples and labels in the shapes the runtime feeds to input encoders.

`x` is either intensities (n, features) in [0, 1], for `poisson`/`bernoulli`/`regular`/`latency`
inputs, or event frames (n, frames, features), for `events` inputs; `y` holds integer labels
(n,). The runtime slices a batch (`x[idx]`) and converts only that batch to floats, so event
frames can stay uint8 (or a read-only memory map) however many samples there are.

This module imports nothing from snnlang: the runtime imports it (`snnlang.Dataset`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, repr=False)
class Dataset:
    """Samples for training/evaluation: `x` intensities (n, features) in [0, 1] or event frames
    (n, frames, features); `y` integer labels (n,). `name` says which source and split
    (e.g. "mnist-offline/train"); `description` says how it was made, in one line."""

    x: np.ndarray
    y: np.ndarray
    name: str = "data"
    description: str = ""

    def __post_init__(self) -> None:
        xs, ys = np.shape(self.x), np.shape(self.y)
        if len(ys) != 1 or len(xs) not in (2, 3) or xs[0] != ys[0]:
            from snnlang.runtime.model import DataError  # here: the runtime imports this module
            raise DataError(f"dataset `{self.name}`: x has shape {xs} and y {ys}; expected x "
                            "(n, features) or (n, frames, features) and y (n,) with the same n")
        bad = _bad_labels(self.y)
        if bad is not None:
            from snnlang.runtime.model import DataError
            raise DataError(f"dataset `{self.name}`: label {bad[1]!r} at index {bad[0]} is not a class "
                            "number; labels must be whole numbers 0, 1, 2, ... (one per sample)")

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:  # the arrays' summary, not their values
        return (f"Dataset({self.name!r}, {len(self)} samples, {self.kind} x{tuple(np.shape(self.x))} "
                f"{getattr(self.x, 'dtype', '?')})")

    @property
    def kind(self) -> str:
        """"events" for event frames (n, frames, features), "intensities" for (n, features)."""
        return "events" if np.ndim(self.x) == 3 else "intensities"

    @property
    def frames(self) -> int | None:
        """Frames per sample (one per simulation step of an `events` input); None for intensities."""
        return int(self.x.shape[1]) if self.kind == "events" else None

    @property
    def features(self) -> int:
        """Values per sample and step: the size the network's input population must have."""
        return int(self.x.shape[-1])

    def check_classes(self, classes: int, where: str = "the network") -> None:
        """DataError unless every label is below `classes` (the size of the readout or label
        population the labels index): a label beyond it would be silently dropped by a one-hot
        encoder or crash a loss. Call before training or evaluating."""
        y = np.asarray(self.y)
        if not len(y) or classes <= 0:
            return
        top = int(np.max(y))
        if top >= classes:
            from snnlang.runtime.model import DataError
            index = int(np.argmax(y))
            raise DataError(f"dataset `{self.name}`: label {top} (sample {index}) but {where} has "
                            f"{classes} classes (0..{classes - 1}); give the output layer at least "
                            f"{top + 1} neurons, or use a data set with labels 0..{classes - 1}")

    def class_counts(self, classes: int | None = None) -> np.ndarray:
        """Samples per class, index = label."""
        return np.bincount(np.asarray(self.y, dtype=np.int64), minlength=classes or 0)

    def select(self, indices: np.ndarray | list[int], name: str | None = None) -> Dataset:
        """The samples at `indices`, in that order."""
        idx = np.asarray(indices, dtype=np.int64)
        return Dataset(self.x[idx], np.asarray(self.y)[idx], name or self.name, self.description)

    def subset(self, n: int, stratified: bool = False) -> Dataset:
        """The first `n` samples. With `stratified=True`, the first samples of each class in
        proportion to the class sizes (largest remainders get the leftover places), kept in
        dataset order: a small balanced subset of a class-sorted set, too."""
        if not 0 <= n <= len(self):
            from snnlang.runtime.model import DataError
            raise DataError(f"dataset `{self.name}` has {len(self)} samples; cannot take {n}")
        if not stratified:
            return self.select(np.arange(n))
        return self.select(stratified_first(np.asarray(self.y), n))

    def shuffled(self, seed: int) -> Dataset:
        """All samples in an order drawn from `seed` (numpy's PCG64)."""
        return self.select(np.random.default_rng(seed).permutation(len(self)))


def _bad_labels(y) -> tuple[int, object] | None:
    """(index, value) of the first label that is not a class number (negative, fractional,
    non-finite, not a number at all), or None when all are."""
    y = np.asarray(y)
    if y.size == 0 or y.dtype.kind in "ub":
        return None
    if y.dtype.kind == "i":
        bad = np.flatnonzero(y < 0)
    elif y.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            bad = np.flatnonzero(~np.isfinite(y) | (y < 0) | (y != np.floor(y)))
    else:
        return 0, y.flat[0]
    return (int(bad[0]), y.flat[bad[0]].item()) if bad.size else None


def stratified_quota(counts: np.ndarray, n: int) -> np.ndarray:
    """How many of each class a stratified sample of `n` takes: n * share rounded down, then one
    more for the largest remainders (ties to the smaller label) until the total is `n`."""
    counts = np.asarray(counts, dtype=np.int64)
    exact = counts * n / max(int(counts.sum()), 1)
    quota = np.floor(exact).astype(np.int64)
    order = np.lexsort((np.arange(len(counts)), -(exact - quota)))
    for c in order[: n - int(quota.sum())]:
        quota[c] += 1
    return quota


def stratified_first(y: np.ndarray, n: int) -> np.ndarray:
    """Indices of the first samples of each class by `stratified_quota`, in ascending order."""
    y = np.asarray(y, dtype=np.int64)
    counts = np.bincount(y) if len(y) else np.zeros(0, dtype=np.int64)
    quota = stratified_quota(counts, n)
    picked = [np.flatnonzero(y == c)[:q] for c, q in enumerate(quota)]
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


def stratified_split(y: np.ndarray, test_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, test indices): each class is shuffled by `seed` and its first quota goes to
    test; both index lists are then shuffled by the same seed, so neither is sorted by class."""
    y = np.asarray(y, dtype=np.int64)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    test_mask = np.zeros(len(y), dtype=bool)
    test_mask[order[stratified_first(y[order], test_size)]] = True
    train, test = np.flatnonzero(~test_mask), np.flatnonzero(test_mask)
    return rng.permutation(train), rng.permutation(test)


def subset(data: Dataset, n: int, seed: int | None = None, stratified: bool = True) -> Dataset:
    """`n` samples of `data`, kept in dataset order. seed None: the first ones (`data.subset`);
    with a seed: a random choice drawn from it. Stratified (default): each class in proportion
    to its size, so a subset of a class-sorted set (N-MNIST's file order) is still balanced."""
    if seed is None or n >= len(data):
        return data.subset(min(n, len(data)), stratified=stratified)
    if n < 0:
        return data.subset(n)  # raises the DataError
    order = np.random.default_rng(seed).permutation(len(data))
    y = np.asarray(data.y)[order]
    chosen = order[stratified_first(y, n)] if stratified else order[:n]
    return data.select(np.sort(chosen))
