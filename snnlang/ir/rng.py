"""The counter-based random number generator every backend prints.

A draw is a pure function of (seed, stream, step, index): no generator state,
so the reference, numba and torch backends produce identical samples in any
order, on any device, batched or not. Every stochastic call site in a model
gets its own `stream` number at lowering time.

The mixing function is Chris Wellons' "lowbias32" integer hash applied in a
chain; it uses only 32-bit xor, shift and multiply, which every target has
(torch: int64 tensors masked to 32 bits; numba/numpy: uint32/uint64).
Uniforms carry 24 bits, so they are exact in float32 and float64 alike.
"""

from __future__ import annotations

import numpy as np

MASK32 = 0xFFFFFFFF
MUL1 = 0x7FEB352D
MUL2 = 0x846CA68B
# odd constants that separate the four counters before mixing
SALT_STREAM = 0x9E3779B9
SALT_STEP = 0x85EBCA6B
SALT_INDEX = 0xC2B2AE35
UNIFORM_BITS = 24
UNIFORM_SCALE = 1.0 / (1 << UNIFORM_BITS)


def hash32(x: int) -> int:
    """lowbias32 on a Python int (the executable specification)."""
    x &= MASK32
    x ^= x >> 16
    x = (x * MUL1) & MASK32
    x ^= x >> 15
    x = (x * MUL2) & MASK32
    x ^= x >> 16
    return x


def draw_bits(seed: int, stream: int, step: int, index: int) -> int:
    """32 random bits for one (seed, stream, step, index)."""
    h = hash32(seed ^ hash32(stream * SALT_STREAM))
    h = hash32(h ^ hash32(step * SALT_STEP))
    return hash32(h ^ hash32(index * SALT_INDEX))


def uniform_scalar(seed: int, stream: int, step: int, index: int) -> float:
    """A uniform in [0, 1) with 24 bits of resolution."""
    return (draw_bits(seed, stream, step, index) >> (32 - UNIFORM_BITS)) * UNIFORM_SCALE


# ----------------------------------------------------------------- NumPy form


def _hash32_np(x: np.ndarray) -> np.ndarray:
    x = x & np.uint64(MASK32)
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(MUL1)) & np.uint64(MASK32)
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(MUL2)) & np.uint64(MASK32)
    x ^= x >> np.uint64(16)
    return x


def draw_bits_np(seed: int, stream: int, step: int, index: np.ndarray) -> np.ndarray:
    """`draw_bits` for an array of indices (uint64 holding 32-bit values)."""
    s = np.uint64(hash32(seed ^ hash32(stream * SALT_STREAM)))
    s = np.uint64(hash32(int(s) ^ hash32(step * SALT_STEP)))
    idx = np.asarray(index, dtype=np.uint64)
    return _hash32_np(s ^ _hash32_np((idx * np.uint64(SALT_INDEX)) & np.uint64(MASK32)))


def uniform_np(seed: int, stream: int, step: int, index: np.ndarray) -> np.ndarray:
    bits = draw_bits_np(seed, stream, step, index) >> np.uint64(32 - UNIFORM_BITS)
    return bits.astype(np.float64) * UNIFORM_SCALE


def normal_np(seed: int, stream: int, step: int, index: np.ndarray) -> np.ndarray:
    """Standard normal by Box-Muller from two sub-streams (2*stream, 2*stream+1 of a shifted space)."""
    u1 = uniform_np(seed, 2 * stream + 0x10000, step, index)
    u2 = uniform_np(seed, 2 * stream + 0x10001, step, index)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


# ------------------------------------------------------------ stream layout
# Streams 0 .. ModelIR.streams-1 belong to the stochastic call sites of the model
# (numbered at lowering). The runtime's own random decisions use fixed bases far above,
# so every backend numbers them the same way.
ENCODER_STREAM_BASE = 1 << 20       # + index of the input/label population in NetworkIR.populations
CONNECTIVITY_STREAM_BASE = 2 << 20  # + index of the connection in NetworkIR.connections (sparse masks)
ROUNDING_STREAM_BASE = 3 << 20      # + 256 * owner index + variable index (stochastic rounding)
INIT_STEP = 0                       # initialisers draw at step 0 with index = flat element index


def encoder_stream(population_index: int) -> int:
    return ENCODER_STREAM_BASE + population_index


def connectivity_stream(connection_index: int) -> int:
    return CONNECTIVITY_STREAM_BASE + connection_index


def rounding_stream(owner_index: int, var_index: int) -> int:
    return ROUNDING_STREAM_BASE + 256 * owner_index + var_index
