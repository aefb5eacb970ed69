"""N-MNIST through tonic from a local folder of real-format .bin files written by the test.

tonic's own presence check needs >= 10,000 .bin files and a zip, else it downloads; the loader
replaces that check with its own (any .bin files, or a zip it verifies and extracts), so a few
files per digit exercise the whole path: tonic's file walk, labels and 40-bit event reader,
then the binning. The tests also make sure nothing is ever downloaded."""

from __future__ import annotations

import hashlib
import zipfile

import numpy as np
import pytest
from data_files import encode_nmnist, random_events, write_nmnist_folder

from snnlang.data import DataCorrupt, DataMissing, load
from snnlang.data import nmnist as nm
from snnlang.data.events import bin_events


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Any download attempt fails the test (tonic would otherwise try the network)."""
    import tonic.download_utils as du

    def refuse(*args, **kwargs):
        raise AssertionError("tried to download")
    monkeypatch.setattr(du, "download_url", refuse)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    save_to = tmp_path_factory.mktemp("nmnist")
    written = write_nmnist_folder(save_to, {"train": 3, "test": 2})
    return save_to, written


def test_loads_labels_and_frames_through_tonic(folder):
    save_to, written = folder
    train, test = load(f"nmnist:{save_to}", frames=6)
    assert (len(train), len(test)) == (30, 20)
    assert train.x.shape == (30, 6, 2312) and train.x.dtype == np.uint8 and train.kind == "events"
    assert train.y.tolist() == [label for label, _ in written["train"]]
    for row, (_, events) in enumerate(written["test"]):
        # the events survive the 40-bit encoding and tonic's reader; the frames follow the rule
        np.testing.assert_array_equal(test.x[row], bin_events(events, 6, nm.NMNIST_DURATION_US))
    assert train.name == "nmnist/train"


def test_the_nmnist_folder_itself_and_the_environment_variable_work(folder, monkeypatch):
    save_to, _ = folder
    a, _ = load(f"nmnist:{save_to / 'NMNIST'}", frames=2)
    monkeypatch.setenv("SNNLANG_DATA", str(save_to))
    b, _ = load("nmnist", frames=2)
    np.testing.assert_array_equal(a.x, b.x)


def test_limit_takes_a_stratified_subset_before_reading(folder, monkeypatch):
    save_to, written = folder
    train, test = load(f"nmnist:{save_to}", frames=3, limit=(10, 5))
    assert train.class_counts().tolist() == [1] * 10 and len(test) == 5
    np.testing.assert_array_equal(train.x[1], bin_events(written["train"][3][1], 3, nm.NMNIST_DURATION_US))


def test_missing_folder_says_what_to_put_where_and_never_downloads(tmp_path, no_data_env):
    with pytest.raises(DataMissing) as info:
        load(f"nmnist:{tmp_path}", frames=5)
    msg = str(info.value)
    assert f"{tmp_path / 'NMNIST'}/" in msg and "train.zip" in msg and "test.zip" in msg
    assert nm.PAGE in msg and "Train/<digit>/*.bin" in msg and "synthetic-saccades" in msg
    with pytest.raises(DataMissing, match="pass nmnist:PATH or set SNNLANG_DATA"):
        load("nmnist", frames=5)


def _zip_of_train(tmp_path, source):
    """A train.zip holding Train/<digit>/*.bin, as the original archive does."""
    location = tmp_path / "NMNIST"
    location.mkdir()
    with zipfile.ZipFile(location / "train.zip", "w") as zf:
        for path in sorted((source / "NMNIST" / "Train").glob("*/*.bin")):
            zf.write(path, path.relative_to(source / "NMNIST"))
    return location / "train.zip"


def test_a_zip_is_checked_by_md5_then_extracted(folder, tmp_path, monkeypatch):
    save_to, written = folder
    archive = _zip_of_train(tmp_path, save_to)
    with pytest.raises(DataCorrupt, match="md5 differs from the original"):
        nm.prepare_split(tmp_path, "train")
    # with the md5 of this archive declared as the original's, it is extracted and read
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    monkeypatch.setitem(nm.SPLITS, "train", ("train.zip", md5, "Train"))
    data = nm.load_split(tmp_path, "train", frames=4)
    assert (tmp_path / "NMNIST" / "Train" / "7").is_dir()
    assert data.y.tolist() == [label for label, _ in written["train"]]


def test_truncated_and_out_of_range_files_are_reported(tmp_path):
    digit = tmp_path / "NMNIST" / "Train" / "4"
    digit.mkdir(parents=True)
    good = encode_nmnist(random_events(np.random.default_rng(0), 20))
    (digit / "a.bin").write_bytes(good[:-2])
    with pytest.raises(DataCorrupt, match=r"a\.bin: 98 bytes is not a whole number of 5-byte events"):
        nm.load_split(tmp_path, "train", frames=2)
    bad = bytearray(good)
    bad[0] = 200  # x = 200 on a 34-pixel-wide sensor
    (digit / "a.bin").write_bytes(bytes(bad))
    with pytest.raises(DataCorrupt, match=r"a\.bin: event field `x` spans .*not an N-MNIST event file"):
        nm.load_split(tmp_path, "train", frames=2)


def test_files_outside_digit_folders_are_reported(tmp_path):
    folder = tmp_path / "NMNIST" / "Train"
    folder.mkdir(parents=True)
    (folder / "a.bin").write_bytes(b"")
    with pytest.raises(DataCorrupt, match="must sit in a folder named after its digit"):
        nm.load_split(tmp_path, "train", frames=2)
