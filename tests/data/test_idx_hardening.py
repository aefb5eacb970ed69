"""Damaged and hostile IDX files: each is refused with one DataCorrupt (a UserError) naming the
file and what to do, never a numpy/zlib/struct exception or a MemoryError. Every file is written
here, in tmp_path; the hostile ones are built from headers, so none costs memory or time."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from data_files import write_mnist_files

from snnlang.data import DataCorrupt, DataError, Dataset, read_idx, write_idx
from snnlang.data.idx import IMAGES_MAGIC, LABELS_MAGIC, MAX_ENV_VAR
from snnlang.data.mnist import load_mnist
from snnlang.errors import UserError


def _header(type_code: int, *shape: int) -> bytes:
    return struct.pack(">I", (type_code << 8) | len(shape)) + struct.pack(f">{len(shape)}I", *shape)


def _refused(path, match: str, magic: int | None = None) -> str:
    with pytest.raises(DataCorrupt, match=match) as info:
        read_idx(path, magic)
    assert isinstance(info.value, UserError)
    msg = str(info.value)
    assert str(path) in msg and ("download it again" in msg or "right file" in msg)
    return msg


@pytest.mark.parametrize("gz", [False, True])
def test_sizes_whose_product_overflows_are_refused_before_reading(tmp_path, gz):
    # 2^31 cubed = 2^93 bytes: in int64 the product wraps around; it must be compared exactly
    body = _header(0x08, 2 ** 31, 2 ** 31, 2 ** 31) + bytes(64)
    path = tmp_path / ("a-idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(body) if gz else body)
    _refused(path, r"header says shape \(2147483648, 2147483648, 2147483648\)", IMAGES_MAGIC)


@pytest.mark.parametrize("shape", [(2 ** 32 - 1, 2 ** 32 - 1, 2 ** 32 - 1), (2 ** 16, 2 ** 16, 2 ** 16),
                                   (0, 2 ** 32 - 1, 2 ** 32 - 1)])
def test_every_declared_size_is_checked_against_the_file_length(tmp_path, shape):
    path = tmp_path / "a-idx3-ubyte"
    path.write_bytes(_header(0x08, *shape) + bytes(100))
    _refused(path, r"header says shape", IMAGES_MAGIC)


def test_a_header_cut_short_is_refused(tmp_path):
    path = tmp_path / "a"
    path.write_bytes(_header(0x08, 5, 28, 28)[:9])
    _refused(path, r"truncated header", IMAGES_MAGIC)


def test_a_gzip_bomb_is_refused_without_inflating_it(tmp_path):
    # a header declaring 4 images of 28x28, then 1 GiB of zeros (64 gzip members of 16 MiB each:
    # a valid gzip file of about 1 MB); the reader must stop one byte past the declared 3,136
    # bytes instead of inflating the rest
    member = gzip.compress(bytes(1 << 24), compresslevel=9)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(_header(0x08, 4, 28, 28)) + member * 64)
    assert path.stat().st_size < 2 * 2 ** 20
    _refused(path, r"header says shape \(4, 28, 28\) \(3136 bytes of data\) but it decompresses to "
                   r"more than 3136", IMAGES_MAGIC)


def test_a_gzip_header_declaring_more_than_the_file_can_hold_is_refused_early(tmp_path):
    path = tmp_path / "x-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(_header(0x08, 60000, 2000, 2000) + bytes(1000)))  # 240 GB claimed
    _refused(path, r"more than snnlang reads|cannot hold that much", IMAGES_MAGIC)
    path.write_bytes(gzip.compress(_header(0x08, 1000, 100, 100) + bytes(1000)))  # 10 MB in ~1 kB
    _refused(path, r"cannot hold that much", IMAGES_MAGIC)


def test_the_size_limit_can_be_raised_or_lowered(tmp_path, monkeypatch):
    path = tmp_path / "a"
    write_idx(path, np.zeros((10, 4, 4), dtype=np.uint8))
    monkeypatch.setenv(MAX_ENV_VAR, "100")
    _refused(path, rf"more than snnlang reads \(100 bytes\).*\${MAX_ENV_VAR}", IMAGES_MAGIC)
    monkeypatch.setenv(MAX_ENV_VAR, "160")
    assert read_idx(path, IMAGES_MAGIC).shape == (10, 4, 4)


def test_a_gzip_cut_short_or_with_a_damaged_stream_is_refused(tmp_path):
    good = gzip.compress(_header(0x08, 4, 28, 28) + bytes(range(256)) * 13)
    path = tmp_path / "a.gz"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataCorrupt, match="a.gz"):
        read_idx(path, IMAGES_MAGIC)
    damaged = bytearray(good)
    damaged[20:30] = b"\xff" * 10
    path.write_bytes(bytes(damaged))
    with pytest.raises(DataCorrupt, match="a.gz"):
        read_idx(path, IMAGES_MAGIC)
    path.write_bytes(good + b"trailing junk")
    with pytest.raises(DataCorrupt, match="a.gz"):
        read_idx(path, IMAGES_MAGIC)


def test_a_gzip_that_inflates_to_less_than_declared_is_refused(tmp_path):
    path = tmp_path / "a.gz"
    path.write_bytes(gzip.compress(_header(0x08, 4, 28, 28) + bytes(100)))
    _refused(path, r"\(3136 bytes of data\) but it decompresses to 100", IMAGES_MAGIC)


@pytest.mark.parametrize("head", [b"", b"\0\0", b"\0\0\x08", b"\xff\xff\xff\xff", b"\0\0\x07\x03",
                                  b"\x01\0\x08\x03"])
def test_wrong_or_missing_magic_is_refused(tmp_path, head):
    path = tmp_path / "a"
    path.write_bytes(head)
    _refused(path, r"too short|not an IDX header", IMAGES_MAGIC)


def test_a_directory_or_unreadable_path_is_refused(tmp_path):
    with pytest.raises(DataCorrupt, match="cannot read it"):
        read_idx(tmp_path)


def _split_files(tmp_path, images: np.ndarray, labels: np.ndarray):
    write_mnist_files(tmp_path / "mnist", 3, 3, gz=False)
    write_idx(tmp_path / "mnist" / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "mnist" / "train-labels-idx1-ubyte", labels)


def test_zero_images_are_refused(tmp_path):
    _split_files(tmp_path, np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8))
    with pytest.raises(DataCorrupt, match=r"train-images-idx3-ubyte holds 0 images.*download it again"):
        load_mnist(tmp_path)


def test_images_without_pixels_are_refused(tmp_path):
    _split_files(tmp_path, np.zeros((3, 0, 28), np.uint8), np.zeros(3, np.uint8))
    with pytest.raises(DataCorrupt, match=r"images of 0 x 28 pixels"):
        load_mnist(tmp_path)


def test_mismatched_counts_name_both_files(tmp_path):
    _split_files(tmp_path, np.zeros((3, 28, 28), np.uint8), np.zeros(7, np.uint8))
    with pytest.raises(DataCorrupt, match=r"train-images-idx3-ubyte holds 3 images but .*"
                                          r"train-labels-idx1-ubyte holds 7 labels"):
        load_mnist(tmp_path)


def test_labels_outside_0_to_9_are_refused(tmp_path):
    _split_files(tmp_path, np.zeros((3, 28, 28), np.uint8), np.array([1, 200, 10], np.uint8))
    with pytest.raises(DataCorrupt, match=r"train-labels-idx1-ubyte: label 200 at index 1 \(2 labels in "
                                          r"all\) is not a digit 0..9"):
        load_mnist(tmp_path)


def test_a_labels_file_of_another_type_is_refused(tmp_path):
    write_mnist_files(tmp_path / "mnist", 3, 3, gz=False)
    write_idx(tmp_path / "mnist" / "train-labels-idx1-ubyte", np.array([1, -2, 3], np.int32))
    with pytest.raises(DataCorrupt, match=r"magic number 3073 .*expected 2049"):
        load_mnist(tmp_path)


@pytest.mark.parametrize("labels", [np.array([0, -1, 2]), np.array([0.0, 1.5, 2.0]),
                                    np.array([0.0, np.nan, 1.0]), np.array(["a", "b", "c"])])
def test_a_dataset_refuses_labels_that_are_not_class_numbers(labels):
    with pytest.raises(DataError, match=r"dataset `bad`: label .* at index \d is not a class number"):
        Dataset(np.zeros((3, 4)), labels, "bad")


def test_labels_beyond_the_networks_classes_are_refused():
    data = Dataset(np.zeros((4, 2)), np.array([0, 3, 11, 2]), "four")
    data.check_classes(12)
    with pytest.raises(DataError, match=r"dataset `four`: label 11 \(sample 2\) but the network has 10 "
                                        r"classes \(0..9\); give the output layer at least 12 neurons"):
        data.check_classes(10)


def test_labels_file_read_whole_numbers(tmp_path):
    # the reader keeps the labels' own values (int64), so a class check sees them as they are
    write_idx(tmp_path / "l", np.array([9, 0, 4], np.uint8))
    assert read_idx(tmp_path / "l", LABELS_MAGIC).tolist() == [9, 0, 4]


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
    input x = poisson(784)
    layer out = Counter(10)
    connect W: x -> out with Fixed(dense):
        init w = uniform(0, 0.05)
    readout argmax(out.n)
    schedule:
        phase present(5):
            active x, W
            reset all
        infer present
"""


def test_snnc_train_reports_a_damaged_file_in_one_line(tmp_path, capsys, no_data_env):
    from snnlang.cli import main
    write_mnist_files(tmp_path / "mnist", 3, 3, gz=True)
    bomb = tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz"
    bomb.write_bytes(gzip.compress(_header(0x08, 3, 28, 28)) + gzip.compress(bytes(1 << 24)) * 4)
    model = tmp_path / "m.snn"
    model.write_text(MODEL)
    assert main(["train", str(model), "--target", "reference", "--data", f"mnist:{tmp_path}", "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"snnc: {bomb}: header says shape (3, 28, 28)") and "Traceback" not in err


def test_event_frames_that_cannot_fit_are_refused_before_allocating(monkeypatch):
    from snnlang.data import load
    monkeypatch.setenv("SNNLANG_MEMORY_LIMIT", "1MB")
    # 10 samples x 1,000 frames x 2,312 features = 23 MB of frames, over the 1 MB limit
    with pytest.raises(DataError, match=r"synthetic saccades: 10 samples x 1,000 frames x 2,312 features "
                                        r"need 22 MiB of event frames, but SNNLANG_MEMORY_LIMIT allows 977 KiB; present each "
                                        r"sample for fewer steps"):
        load("synthetic-saccades", frames=1000, limit=(10, 10))


def test_a_file_larger_than_memory_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "a"
    write_idx(path, np.zeros((100, 28, 28), np.uint8))
    monkeypatch.setenv("SNNLANG_MEMORY_LIMIT", "100KB")
    with pytest.raises(DataError, match=r"a: its 76\.6 KiB of data \(shape \(100, 28, 28\)\) need about 153 KiB "
                                        r"to read, but SNNLANG_MEMORY_LIMIT allows 97\.7 KiB"):
        read_idx(path, IMAGES_MAGIC)
