"""Errors of the data layer: one message each, printable by the CLI without a traceback.

All derive from `snnlang.runtime.model.DataError` (a ValueError), so one `except DataError`
catches data that is missing, data that is damaged, a spec that names nothing, and data that
does not fit the network.
"""

from __future__ import annotations

from snnlang.runtime.model import DataError


class DataMissing(DataError):
    """Files a data source needs are not there; the message says what to put where."""


class DataCorrupt(DataError):
    """Files are there but are not what they claim to be (bad magic number, truncated, ...)."""


class UnknownDataSpec(DataError):
    """A data spec (`snnc train --data SPEC`) that names no source; the message lists the valid ones."""


__all__ = ["DataError", "DataMissing", "DataCorrupt", "UnknownDataSpec"]
