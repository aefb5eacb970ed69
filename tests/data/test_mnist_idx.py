"""MNIST from IDX files: the format (plain and gzip), where files are looked for, and one clear
message for every way they can be missing or damaged. The files are written by the tests."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from data_files import write_mnist_files

from snnlang.data import DataCorrupt, DataMissing, load, read_idx, write_idx
from snnlang.data.idx import IMAGES_MAGIC, LABELS_MAGIC
from snnlang.data.mnist import URLS, find_files, load_mnist


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip_keeps_shape_dtype_and_values(tmp_path, gz):
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    path = tmp_path / ("a-idx3-ubyte" + (".gz" if gz else ""))
    write_idx(path, images)
    raw = gzip.open(path).read() if gz else path.read_bytes()
    # the header exactly as the MNIST page defines it: magic 2051, then sizes, big-endian
    assert raw[:16] == bytes([0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5])
    got = read_idx(path, IMAGES_MAGIC)
    assert got.dtype == np.uint8 and got.shape == (3, 4, 5)
    np.testing.assert_array_equal(got, images)


def test_idx_reads_big_endian_wider_types(tmp_path):
    values = np.array([[-2, 70000], [3, -4]], dtype=np.int32)
    write_idx(tmp_path / "w", values)
    assert (tmp_path / "w").read_bytes()[:4] == bytes([0, 0, 0x0C, 2])
    np.testing.assert_array_equal(read_idx(tmp_path / "w"), values)


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_loads_both_splits_as_intensities(tmp_path, gz):
    arrays = write_mnist_files(tmp_path / "mnist", 30, 12, gz=gz)
    train, test = load_mnist(tmp_path)
    assert (len(train), len(test)) == (30, 12)
    assert train.x.shape == (30, 784) and train.x.dtype == np.float32 and train.kind == "intensities"
    np.testing.assert_array_equal(train.x * 255, arrays["train-images-idx3-ubyte"].reshape(30, 784))
    np.testing.assert_array_equal(test.y, arrays["t10k-labels-idx1-ubyte"])
    assert train.x.min() >= 0 and train.x.max() <= 1
    assert train.name == "mnist/train" and test.name == "mnist/test"


def test_mnist_is_found_through_the_environment_variable(tmp_path, monkeypatch):
    write_mnist_files(tmp_path / "mnist", 5, 5, gz=True)
    monkeypatch.setenv("SNNLANG_DATA", str(tmp_path))
    train, test = load("mnist")
    assert len(train) == 5 and len(test) == 5


def test_mnist_files_directly_in_the_root_and_dotted_names(tmp_path, no_data_env):
    write_mnist_files(tmp_path, 4, 3, gz=False, dotted=True)  # Kaggle-style train-images.idx3-ubyte
    files = find_files(tmp_path)
    assert files["train_images"].name == "train-images.idx3-ubyte"
    train, _ = load(f"mnist:{tmp_path}")
    assert len(train) == 4


def test_missing_mnist_names_every_file_the_source_and_the_place(tmp_path, no_data_env):
    with pytest.raises(DataMissing) as info:
        load(f"mnist:{tmp_path}")
    msg = str(info.value)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert name in msg
    assert all(url in msg for url in URLS)
    assert str(tmp_path / "mnist") in msg and "mnist-offline" in msg


def test_missing_mnist_without_any_directory_says_how_to_give_one(no_data_env):
    with pytest.raises(DataMissing, match="SNNLANG_DATA is not set"):
        load("mnist")


def test_partial_mnist_lists_what_is_there_and_what_is_not(tmp_path, no_data_env):
    write_mnist_files(tmp_path / "mnist", 4, 3, gz=True)
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataMissing) as info:
        load(f"mnist:{tmp_path}")
    msg = str(info.value)
    assert "not found: t10k-labels-idx1-ubyte.gz" in msg and "found only:" in msg


def _images_file(tmp_path):
    return tmp_path / "mnist" / "train-images-idx3-ubyte"


def test_wrong_magic_number_is_reported_with_the_file(tmp_path):
    write_mnist_files(tmp_path / "mnist", 4, 3, gz=False)
    # swap the images and labels files of the train split
    images, labels = _images_file(tmp_path), tmp_path / "mnist" / "train-labels-idx1-ubyte"
    a, b = images.read_bytes(), labels.read_bytes()
    images.write_bytes(b), labels.write_bytes(a)
    with pytest.raises(DataCorrupt, match=r"train-images-idx3-ubyte: magic number 2049 \(0x00000801\), "
                                          r"expected 2051"):
        load_mnist(tmp_path)


def test_truncated_file_is_reported(tmp_path):
    write_mnist_files(tmp_path / "mnist", 4, 3, gz=False)
    path = _images_file(tmp_path)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataCorrupt, match=r"header says shape \(4, 28, 28\) .* truncated"):
        load_mnist(tmp_path)


def test_garbage_and_a_gzip_without_gz_name_are_reported(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"\x89PNG....")
    with pytest.raises(DataCorrupt, match="is not an IDX header"):
        read_idx(path)
    path.write_bytes(gzip.compress(b"\0\0\x08\x01\0\0\0\x01\x05"))
    with pytest.raises(DataCorrupt, match="still gzip-compressed"):
        read_idx(path, LABELS_MAGIC)
    bad = tmp_path / "y.gz"
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(DataCorrupt, match="cannot read it"):
        read_idx(bad)


def test_images_and_labels_of_different_lengths_are_reported(tmp_path):
    write_mnist_files(tmp_path / "mnist", 4, 3, gz=False)
    write_idx(tmp_path / "mnist" / "train-labels-idx1-ubyte", np.zeros(5, dtype=np.uint8))
    with pytest.raises(DataCorrupt, match="holds 4 images but .* holds 5 labels"):
        load_mnist(tmp_path)
