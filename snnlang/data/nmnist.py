"""N-MNIST (Orchard et al. 2015) from a local folder, read by tonic, binned into event frames.

Layout (tonic's): `SAVE_TO/NMNIST/` holding either the original archives `train.zip` /
`test.zip` (checked by md5 and extracted there on first use), or their extracted folders
`Train/<digit>/*.bin` and `Test/<digit>/*.bin`. SAVE_TO is the `root` argument (or the NMNIST
folder itself), else `$SNNLANG_DATA`. The label is the last character of a file's folder name.

tonic's own presence check wants a zip *and* at least 10,000 .bin files, and otherwise starts a
download (URLError offline). We check the folder ourselves (any .bin files, or a valid zip) and
give tonic's `NMNIST` a check that always passes, so a partial copy works, nothing is ever
downloaded, and a missing folder gets one message saying what to put where. Reading the files
and labelling them is tonic's code.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from snnlang.data.dataset import Dataset, stratified_first
from snnlang.data.errors import DataCorrupt, DataMissing
from snnlang.data.events import NMNIST_SENSOR, bin_into, features_of, frames_array
from snnlang.data.mnist import ENV_VAR, data_root

# Each sample is three 100 ms saccades; tonic's stabilize() times them at 105 ms each.
NMNIST_DURATION_US = 315_000
PAGE = "https://www.garrickorchard.com/datasets/n-mnist"
MIRROR = "https://data.mendeley.com/datasets/468j46mzdv/1"
SPLITS = {  # split -> (archive, its md5 (tonic's), extracted folder)
    "train": ("train.zip", "20959b8e626244a1b502305a9e6e2031", "Train"),
    "test": ("test.zip", "69ca8762b2fe404d9b9bad1103e97832", "Test"),
}
EVENT_BYTES = 5  # one event = 40 bits: x, y, polarity bit + 23-bit time


def find_save_to(root: str | os.PathLike | None = None) -> Path:
    """The folder that holds `NMNIST/` (tonic's `save_to`)."""
    base = data_root(root)
    if base is None:
        raise DataMissing(_missing_message(None, "train"))
    base = base.resolve()
    if base.name == "NMNIST" and not (base / "NMNIST").is_dir():
        return base.parent
    return base


def prepare_split(save_to: Path, split: str) -> Path:
    """Make sure `save_to/NMNIST/<Train|Test>/` holds .bin files, extracting the zip if that is
    all there is; returns that folder."""
    archive, md5, folder_name = SPLITS[split]
    location = save_to / "NMNIST"
    folder = location / folder_name
    if folder.is_dir() and next(folder.glob("**/*.bin"), None) is not None:
        return folder
    zip_path = location / archive
    if not zip_path.is_file():
        raise DataMissing(_missing_message(save_to, split))
    from tonic.download_utils import check_integrity, extract_archive
    if not check_integrity(str(zip_path), md5):
        raise DataCorrupt(f"{zip_path}: md5 differs from the original ({md5}); the download is "
                          f"incomplete or another file; download it again from {PAGE}")
    extract_archive(str(zip_path), str(location))
    if next(folder.glob("**/*.bin"), None) is None:
        raise DataCorrupt(f"{zip_path} extracted, but {folder} holds no .bin files")
    return folder


def _missing_message(save_to: Path | None, split: str) -> str:
    archive, _, folder_name = SPLITS[split]
    if save_to is None:
        where = "SAVE_TO/NMNIST/"
        head = f"N-MNIST needs a folder: pass nmnist:PATH or set {ENV_VAR}"
    else:
        where = f"{save_to / 'NMNIST'}/"
        head = (f"N-MNIST {split} split not found: no .bin files under {save_to / 'NMNIST' / folder_name}"
                f" and no {save_to / 'NMNIST' / archive}")
    return "\n".join([
        head,
        f"download train.zip and test.zip from {PAGE} (or {MIRROR})",
        f"and put them in {where} as they are (checked by md5 and extracted on first use),",
        f"or put the extracted folders there: {where}Train/<digit>/*.bin and {where}Test/<digit>/*.bin",
        "for an offline stand-in that is NOT N-MNIST, use `synthetic-saccades`",
    ])


@lru_cache(maxsize=1)
def _local_nmnist_class():
    """tonic's NMNIST without its download: the presence check is `prepare_split`'s."""
    from tonic.datasets import NMNIST as TonicNMNIST

    class NMNIST(TonicNMNIST):  # the class name is the folder tonic reads: SAVE_TO/NMNIST
        def _check_exists(self) -> bool:
            return True

        def download(self) -> None:  # unreachable with the check above; never go online
            raise DataMissing(_missing_message(Path(self.location_on_system).parent,
                                               "train" if self.train else "test"))

    return NMNIST


def open_split(save_to: Path, split: str):
    """tonic's dataset for one split (file list and labels; events are read on indexing)."""
    folder = prepare_split(save_to, split)
    try:
        return _local_nmnist_class()(str(save_to), train=(split == "train"))
    except ValueError:
        raise DataCorrupt(f"{folder}: every .bin file must sit in a folder named after its digit "
                          f"({folder}/0/, ..., {folder}/9/)") from None


def load_split(save_to: Path, split: str, frames: int, duration_us: float | None = NMNIST_DURATION_US,
               limit: int | None = None, progress: bool = False) -> Dataset:
    """One split as event frames x (n, frames, 2312) uint8 and labels y (n,) int64, in tonic's file
    order; `limit` takes the first samples of each class in proportion (stratified)."""
    ds = open_split(save_to, split)
    labels = np.asarray(ds.targets, dtype=np.int64)
    full = limit is None or limit >= len(labels)
    picked = np.arange(len(labels)) if full else stratified_first(labels, limit)
    x = frames_array(len(picked), frames, features_of(NMNIST_SENSOR), f"N-MNIST {split}")
    items = picked
    if progress:
        from tqdm import tqdm
        items = tqdm(picked, desc=f"N-MNIST {split}", unit="file", leave=False)
    for row, index in enumerate(items):
        path = ds.data[index]
        size = os.path.getsize(path)
        if size % EVENT_BYTES:
            raise DataCorrupt(f"{path}: {size} bytes is not a whole number of 5-byte events; "
                              "the file is truncated")
        events, _ = ds[int(index)]
        try:
            bin_into(x[row], events, duration_us, NMNIST_SENSOR)
        except ValueError as exc:
            raise DataCorrupt(f"{path}: {exc}; not an N-MNIST event file") from None
    window = "each recording's own span" if duration_us is None else f"{duration_us / 1000:g} ms"
    return Dataset(x, labels[picked], f"nmnist/{split}",
                   f"N-MNIST {split} from {save_to / 'NMNIST'}: {frames} frames over {window}, "
                   "1 where >= 1 event per pixel and polarity")


def load_nmnist(root: str | os.PathLike | None = None, frames: int = 20,
                duration_us: float | None = NMNIST_DURATION_US, limit: int | None = None,
                progress: bool = False) -> tuple[Dataset, Dataset]:
    """(train, test) N-MNIST as event frames (n, frames, 2*34*34) uint8: the binning of
    `snnlang.data.events` over [0, duration_us). Memory: n * frames * 2312 bytes (60,000 train
    samples at 20 frames: 2.8 GB); `limit` caps each split, stratified, before any file is read."""
    save_to = find_save_to(root)
    return (load_split(save_to, "train", frames, duration_us, limit, progress),
            load_split(save_to, "test", frames, duration_us, limit, progress))
