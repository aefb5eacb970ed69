"""The IDX file format of MNIST (http://yann.lecun.com/exdb/mnist/), read and written.

A file is a 4-byte magic number 0x00 0x00 TYPE NDIM, then NDIM big-endian uint32 sizes, then
the values in C order. MNIST uses TYPE 0x08 (unsigned byte): images have NDIM 3 (magic 2051),
labels NDIM 1 (magic 2049). Files may be gzip-compressed (`.gz`), as they are distributed.

The header is read first and the data only up to the size it declares, so a damaged header
(sizes whose product is astronomically large) or a gzip bomb (a small .gz that inflates to
gigabytes) is refused before any large allocation: every problem is a `DataCorrupt`.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from snnlang.data.errors import DataCorrupt, DataError

# TYPE byte -> big-endian numpy dtype (the IDX definition)
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}
IMAGES_MAGIC = 0x0803  # ubyte, 3 dimensions (n, rows, cols)
LABELS_MAGIC = 0x0801  # ubyte, 1 dimension (n,)

# The largest data section read, in bytes. MNIST's biggest file holds 47 MB and EMNIST's 700 MB;
# a header that declares more is far likelier damaged than real, and reading it would exhaust
# memory. `$SNNLANG_IDX_MAX_BYTES` raises the limit for a genuinely larger set.
MAX_IDX_BYTES = 4 * 2 ** 30
MAX_ENV_VAR = "SNNLANG_IDX_MAX_BYTES"
# gzip (deflate) cannot compress better than about 1032:1, so a .gz that claims more data than
# this many times its own size cannot hold it
_MAX_DEFLATE_RATIO = 1100
_CHUNK = 1 << 20
_REDOWNLOAD = "download it again"


def max_idx_bytes() -> int:
    """The data-size limit: `$SNNLANG_IDX_MAX_BYTES` if set to a positive whole number, else MAX_IDX_BYTES."""
    raw = os.environ.get(MAX_ENV_VAR, "").strip()
    if raw.isascii() and raw.isdigit() and int(raw) > 0:
        return int(raw)
    return MAX_IDX_BYTES


def _read_exact(fh: BinaryIO, n: int) -> bytearray:
    """Up to `n` bytes (fewer only at the end of the data), read in chunks into one buffer so
    that a large file is held once, not once per chunk plus once joined."""
    buf = bytearray(n)
    view, pos = memoryview(buf), 0
    while pos < n:
        got = fh.readinto(view[pos:pos + _CHUNK])
        if not got:
            break
        pos += got
    view.release()
    del buf[pos:]
    return buf


def _describe_gz(path: Path, exc: BaseException) -> DataCorrupt:
    return DataCorrupt(f"{path}: cannot read it ({type(exc).__name__}: {exc}); the file is damaged or "
                       f"not gzip-compressed despite its .gz name; {_REDOWNLOAD}")


def _header(path: Path, fh: BinaryIO, expect_magic: int | None) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, header bytes) from the file's start, checked."""
    head = _read_exact(fh, 4)
    if len(head) < 4:
        raise DataCorrupt(f"{path}: {len(head)} bytes is too short for an IDX file (the header alone "
                          f"takes at least 4); the file is truncated or empty, {_REDOWNLOAD}")
    magic = struct.unpack(">I", head)[0]
    zero, type_code, ndim = magic >> 16, (magic >> 8) & 0xFF, magic & 0xFF
    if zero != 0 or type_code not in IDX_TYPES:
        hint = " (is it still gzip-compressed without a .gz name?)" if head[:2] == b"\x1f\x8b" else ""
        raise DataCorrupt(f"{path}: magic number 0x{magic:08x} is not an IDX header{hint}; "
                          "is it the right file?")
    if expect_magic is not None and magic != expect_magic:
        raise DataCorrupt(f"{path}: magic number {magic} (0x{magic:08x}), expected {expect_magic} "
                          f"(0x{expect_magic:08x}); is it the right file?")
    sizes = _read_exact(fh, 4 * ndim)
    if len(sizes) < 4 * ndim:
        raise DataCorrupt(f"{path}: truncated header ({4 + len(sizes)} bytes, but {ndim} dimensions "
                          f"need {4 + 4 * ndim}); {_REDOWNLOAD}")
    shape = struct.unpack(f">{ndim}I", sizes)
    return shape, IDX_TYPES[type_code], 4 + 4 * ndim


def _declared(path: Path, shape: tuple[int, ...], dtype: np.dtype, available: int | None) -> int:
    """Bytes of data the header declares (Python ints: no overflow), refused when beyond the
    limit or beyond what the file (`available` bytes after the header, if known) can hold."""
    want = dtype.itemsize
    for size in shape:
        want *= size
    limit = max_idx_bytes()
    if want > limit:
        raise DataCorrupt(f"{path}: header says shape {tuple(shape)}, {want:,} bytes of data, more than "
                          f"snnlang reads ({limit:,} bytes); the header is damaged, {_REDOWNLOAD} (for a "
                          f"genuinely larger set, raise ${MAX_ENV_VAR})")
    if available is not None and want != available:
        raise DataCorrupt(f"{path}: header says shape {tuple(shape)} ({want} bytes of data) but the "
                          f"file has {available}; it is truncated or damaged, {_REDOWNLOAD}")
    return want


def _check_memory(path: Path, shape: tuple[int, ...], want: int) -> None:
    """DataError when the data, read and then converted, would not fit in memory (the file is
    fine; the machine is too small), before anything is allocated."""
    from snnlang.runtime.memory import ENV_VAR as MEMORY_VAR
    from snnlang.runtime.memory import limit as memory_limit
    from snnlang.runtime.memory import show_bytes
    allowed, source = memory_limit()
    if allowed is not None and 2 * want > allowed:  # the raw bytes and the array made from them
        have = f"{source} {show_bytes(allowed)}" if source.startswith("the ") else f"{source} allows {show_bytes(allowed)}"
        raise DataError(f"{path}: its {show_bytes(want)} of data (shape {tuple(shape)}) need about "
                        f"{show_bytes(2 * want)} to read, but {have}; use a machine with more memory "
                        f"or raise ${MEMORY_VAR}")


def _read_plain(path: Path, expect_magic: int | None) -> np.ndarray:
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        shape, dtype, header = _header(path, fh, expect_magic)
        want = _declared(path, shape, dtype, max(size - header, 0))
        _check_memory(path, shape, want)
        data = _read_exact(fh, want)
    if len(data) != want:  # the file shrank while being read
        raise DataCorrupt(f"{path}: ended after {len(data)} of {want} bytes of data; {_REDOWNLOAD}")
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def _read_gz(path: Path, expect_magic: int | None) -> np.ndarray:
    compressed = path.stat().st_size
    with gzip.open(path, "rb") as fh:
        shape, dtype, _ = _header(path, fh, expect_magic)
        want = _declared(path, shape, dtype, None)
        if want > compressed * _MAX_DEFLATE_RATIO + _CHUNK:
            raise DataCorrupt(f"{path}: header says shape {tuple(shape)} ({want:,} bytes of data) but a "
                              f"{compressed:,}-byte gzip file cannot hold that much; the header is damaged, "
                              f"{_REDOWNLOAD}")
        _check_memory(path, shape, want)
        # inflate only as much as the header declares, plus one byte to notice a longer stream
        data = _read_exact(fh, want)
        extra = fh.read(1)
    if len(data) != want or extra:
        got = f"{len(data)}" if len(data) != want else f"more than {want}"
        raise DataCorrupt(f"{path}: header says shape {tuple(shape)} ({want} bytes of data) but it "
                          f"decompresses to {got}; it is truncated or damaged, {_REDOWNLOAD}")
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def read_idx(path: str | Path, expect_magic: int | None = None) -> np.ndarray:
    """The array stored in an IDX file (plain or .gz), checked against its own header.

    `expect_magic` (e.g. IMAGES_MAGIC) also checks the type and number of dimensions. Any file
    that is not a well-formed IDX file raises `DataCorrupt` naming the file and the problem; one
    too large for memory, a `DataError`."""
    path = Path(path)
    try:
        if path.name.endswith(".gz"):
            array = _read_gz(path, expect_magic)
        else:
            array = _read_plain(path, expect_magic)
    except DataError:  # DataCorrupt included: already says which file and what to do
        raise
    except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
        raise _describe_gz(path, exc) from None
    except OSError as exc:
        raise DataCorrupt(f"{path}: cannot read it ({exc}); check that it is a readable file, or "
                          f"{_REDOWNLOAD}") from None
    except MemoryError:
        raise DataError(f"{path}: not enough memory to read it; free memory or use a smaller "
                        "subset of the data") from None
    return array.astype(array.dtype.newbyteorder("="))


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
