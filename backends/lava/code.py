"""Building Python source for the lava backend: the shared builder (backends/codegen.py) and
the class names of the generated processes."""

from __future__ import annotations

from ..codegen import INDENT, Code, identifier, where

__all__ = ["INDENT", "Code", "class_name", "identifier", "where"]


def class_name(prefix: str, name: str) -> str:
    """`Pop_hid`, `Conn_W1`: a class name for an owner of the network."""
    return prefix + "_" + identifier(name)
