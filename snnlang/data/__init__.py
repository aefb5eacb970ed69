"""snnlang.data: the data sets every model trains on, in the shapes input encoders read.

    train, test = snnlang.data.load("mnist-offline")                 # no download, no network
    train, test = snnlang.data.load("mnist:~/data")                  # the IDX files
    train, test = snnlang.data.load("nmnist:~/data", frames=20)      # N-MNIST through tonic
    train, test = snnlang.data.load("synthetic-saccades", frames=20) # SYNTHETIC events, offline
    small = train.subset(500, stratified=True)

See docs/data.md for where files go, the splits, the binning rule and the synthetic set.

The runtime imports `snnlang.data.dataset` (for `Dataset`), so this package loads its other
modules on first use: importing snnlang stays cheap and free of import cycles.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from snnlang.data.dataset import Dataset, subset

_EXPORTS = {
    "load": "resolve", "parse_spec": "resolve", "is_event_spec": "resolve", "spec_help": "resolve",
    "SPECS": "resolve", "DEFAULT_SPEC": "resolve",
    "DataError": "errors", "DataMissing": "errors", "DataCorrupt": "errors", "UnknownDataSpec": "errors",
    "load_mnist": "mnist", "load_mnist_offline": "offline", "load_digits": "offline",
    "load_nmnist": "nmnist", "bin_events": "events", "NMNIST_SENSOR": "events",
    "synthetic_saccades": "saccades", "saccade_events": "saccades", "saccade_frames": "saccades",
    "SaccadeCamera": "saccades", "read_idx": "idx", "write_idx": "idx",
}

__all__ = ["Dataset", "subset", *_EXPORTS]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time __getattr__ imports on demand
    from snnlang.data.errors import DataCorrupt, DataError, DataMissing, UnknownDataSpec  # noqa: F401
    from snnlang.data.events import NMNIST_SENSOR, bin_events  # noqa: F401
    from snnlang.data.idx import read_idx, write_idx  # noqa: F401
    from snnlang.data.mnist import load_mnist  # noqa: F401
    from snnlang.data.nmnist import load_nmnist  # noqa: F401
    from snnlang.data.offline import load_digits, load_mnist_offline  # noqa: F401
    from snnlang.data.resolve import (DEFAULT_SPEC, SPECS, is_event_spec, load,  # noqa: F401
                                      parse_spec, spec_help)
    from snnlang.data.saccades import (SaccadeCamera, saccade_events, saccade_frames,  # noqa: F401
                                       synthetic_saccades)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'snnlang.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"snnlang.data.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
