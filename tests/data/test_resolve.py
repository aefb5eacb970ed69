"""`snnlang.data.load(spec)` and the Dataset helpers scripts use (subset, stratified takes)."""

from __future__ import annotations

import numpy as np
import pytest

import snnlang
from snnlang.data import (SPECS, DataError, Dataset, UnknownDataSpec, is_event_spec, load,
                          parse_spec, subset)
from snnlang.data.dataset import stratified_quota
from snnlang.errors import UserError


def test_dataset_is_the_runtimes_dataset():
    from snnlang.runtime.model import Dataset as RuntimeDataset
    assert snnlang.Dataset is RuntimeDataset is Dataset


def test_unknown_spec_lists_every_valid_one():
    with pytest.raises(UnknownDataSpec) as info:
        load("cifar10")
    msg = str(info.value)
    assert "unknown data `cifar10`" in msg
    for name in SPECS:
        assert name in msg
    assert "mnist:PATH" in msg and "nmnist:PATH" in msg
    assert isinstance(info.value, UserError)  # snnc prints it as one message


def test_spec_spellings_and_paths():
    assert parse_spec("mnist-offline") == ("mnist-offline", None)
    assert parse_spec("Synthetic_Saccades") == ("synthetic-saccades", None)
    assert parse_spec("mnist:/data/x") == ("mnist", "/data/x")
    assert is_event_spec("nmnist:/x") and not is_event_spec("digits")
    with pytest.raises(UnknownDataSpec, match="takes no path"):
        parse_spec("digits:/x")
    with pytest.raises(UnknownDataSpec, match="path after `:` is empty"):
        parse_spec("mnist:")


def test_event_sources_need_frames():
    with pytest.raises(DataError, match="needs frames=N"):
        load("synthetic-saccades")
    with pytest.raises(DataError, match="needs frames=N"):
        load("synthetic-saccades", frames=0)


def test_intensity_sources_ignore_frames_and_limit_per_split():
    train, test = load("digits", frames=20, limit=(50, 20))
    assert train.x.shape == (50, 64) and len(test) == 20
    assert train.class_counts().tolist() == [5] * 10
    with pytest.raises(DataError, match="limit must be a positive whole number"):
        load("digits", limit=0)


def test_default_is_the_offline_mnist_subset():
    train, test = load()
    assert train.name == "mnist-offline/train" and (len(train), len(test)) == (4000, 1000)


def _sorted_by_class(per_class: list[int]) -> Dataset:
    y = np.repeat(np.arange(len(per_class)), per_class)
    return Dataset(np.arange(len(y), dtype=np.float32)[:, None], y, "sorted")


def test_subset_first_n_and_stratified_first_n():
    data = _sorted_by_class([6, 6, 3])
    assert data.subset(4).y.tolist() == [0, 0, 0, 0]
    taken = data.subset(5, stratified=True)
    # quotas 5 * (6, 6, 3) / 15 = (2, 2, 1): the first of each class, in dataset order
    assert taken.x[:, 0].tolist() == [0, 1, 6, 7, 12]
    with pytest.raises(DataError, match="has 15 samples; cannot take 16"):
        data.subset(16)


def test_stratified_quota_uses_largest_remainders():
    assert stratified_quota(np.array([5, 3, 2]), 5).tolist() == [3, 1, 1]  # 2.5, 1.5, 1.0
    assert stratified_quota(np.array([500] * 10), 1000).sum() == 1000
    assert stratified_quota(np.array([1, 1, 1]), 2).tolist() == [1, 1, 0]  # ties: smaller label


def test_seeded_subset_is_random_stratified_and_reproducible():
    data = _sorted_by_class([40, 40, 20])
    a, b = subset(data, 10, seed=3), subset(data, 10, seed=3)
    np.testing.assert_array_equal(a.x, b.x)
    assert a.class_counts().tolist() == [4, 4, 2]
    assert np.all(np.diff(a.x[:, 0]) > 0)  # kept in dataset order
    assert not np.array_equal(a.x, subset(data, 10, seed=4).x)
    assert subset(data, 3).x[:, 0].tolist() == [0, 40, 80]
    assert len(subset(data, 500, seed=1)) == 100


def test_dataset_checks_its_shapes_and_describes_itself():
    with pytest.raises(DataError, match=r"x has shape \(3, 2\) and y \(4,\)"):
        Dataset(np.zeros((3, 2)), np.zeros(4, dtype=int), "bad")
    events = Dataset(np.zeros((4, 5, 6), dtype=np.uint8), np.zeros(4, dtype=int), "ev")
    assert (events.kind, events.frames, events.features) == ("events", 5, 6)
    assert repr(events) == "Dataset('ev', 4 samples, events x(4, 5, 6) uint8)"
    assert events.shuffled(0).x.shape == (4, 5, 6)


def test_docs_describe_every_spec():
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[2] / "docs" / "data.md").read_text()
    for name, (takes_path, _, _) in SPECS.items():
        assert f"`{name}:PATH`" in doc if takes_path else f"`{name}`" in doc, name
