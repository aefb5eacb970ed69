"""The IDX file format of MNIST (http://yann.lecun.com/exdb/mnist/), read and written.

A file is a 4-byte magic number 0x00 0x00 TYPE NDIM, then NDIM big-endian uint32 sizes, then
the values in C order. MNIST uses TYPE 0x08 (unsigned byte): images have NDIM 3 (magic 2051),
labels NDIM 1 (magic 2049). Files may be gzip-compressed (`.gz`), as they are distributed.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from snnlang.data.errors import DataCorrupt

# TYPE byte -> big-endian numpy dtype (the IDX definition)
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}
IMAGES_MAGIC = 0x0803  # ubyte, 3 dimensions (n, rows, cols)
LABELS_MAGIC = 0x0801  # ubyte, 1 dimension (n,)


def _read_bytes(path: Path) -> bytes:
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataCorrupt(f"{path}: cannot read it ({exc}); download it again") from None


def read_idx(path: str | Path, expect_magic: int | None = None) -> np.ndarray:
    """The array stored in an IDX file (plain or .gz), checked against its own header.

    `expect_magic` (e.g. IMAGES_MAGIC) also checks the type and number of dimensions."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataCorrupt(f"{path}: {len(raw)} bytes is too short for an IDX file")
    magic = struct.unpack(">I", raw[:4])[0]
    zero, type_code, ndim = magic >> 16, (magic >> 8) & 0xFF, magic & 0xFF
    if zero != 0 or type_code not in IDX_TYPES:
        hint = " (is it still gzip-compressed without a .gz name?)" if raw[:2] == b"\x1f\x8b" else ""
        raise DataCorrupt(f"{path}: magic number 0x{magic:08x} is not an IDX header{hint}")
    if expect_magic is not None and magic != expect_magic:
        raise DataCorrupt(f"{path}: magic number {magic} (0x{magic:08x}), expected {expect_magic} "
                          f"(0x{expect_magic:08x}); is it the right file?")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataCorrupt(f"{path}: truncated header ({len(raw)} bytes, {ndim} dimensions)")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = IDX_TYPES[type_code]
    want = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != want:
        raise DataCorrupt(f"{path}: header says shape {tuple(shape)} ({want} bytes of data) but the "
                          f"file has {len(raw) - header}; it is truncated or damaged, download it again")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write `array` as an IDX file (gzip-compressed when the name ends in .gz)."""
    array = np.asarray(array)
    codes = {v.newbyteorder("="): k for k, v in IDX_TYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    body = struct.pack(">I", (code << 8) | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    body += np.ascontiguousarray(array, dtype=IDX_TYPES[code]).tobytes()
    path = Path(path)
    if path.name.endswith(".gz"):
        with gzip.open(path, "wb") as fh:
            fh.write(body)
    else:
        path.write_bytes(body)
