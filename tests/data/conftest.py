"""Fixtures of the data-layer tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def no_data_env(monkeypatch):
    """No $SNNLANG_DATA, whatever the machine has."""
    monkeypatch.delenv("SNNLANG_DATA", raising=False)
