"""The one error the reference raises at build time (besides the IR's own)."""

from __future__ import annotations

from snnlang.errors import BackendError


class BuildError(BackendError):
    """The IR asks for something the reference executor does not (or cannot) do.

    The message names the population/connection and the construct, so that a gap in the
    IR or the lowering is visible instead of being silently approximated.
    """
