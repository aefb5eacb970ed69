"""The base of every error a user can cause (as opposed to a bug in snnlang).

`snnc` prints a `UserError` as one message and exits 1; anything else is an internal
error. Backends derive their build errors from `BackendError`, the data layer its
missing-file errors from `UserError`, so that callers can catch one type.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the model, the data, the options or the run, explained in the message."""


class BackendError(UserError, ValueError):
    """A backend cannot do what the IR asks (the message names the construct and the owner)."""
