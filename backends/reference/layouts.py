"""Connectivity: which (post i, pre j) pairs a connection has and how per-neuron arrays meet them.

A connection's per-pair arrays have the *pair shape*:
  dense       (N_post, N_pre)   pair (i, j) at [i, j]
  one_to_one  (N,)              pair (i, i) at [i]
  sparse      (nnz,)            CSR in row order (row = post neuron): `indptr` (N_post + 1),
                                `indices` (the pre neuron of each stored pair)
`pre(x)` / `post(x)` bring a (batch, N) array of the pre / post population to
(batch, *pair shape)-broadcastable form; `to_post(v)` sums pair values over the pre neurons
of each post neuron. `dense_index` is every pair's flat index in the dense matrix,
i * N_pre + j: the RNG element index of a pair in every connectivity (so a sparse
connection draws the same numbers as a dense one at the pairs it has).

`fan_in` (per pair) = N_pre (dense), the row's nnz (sparse), 1 (one_to_one);
`fan_out` = N_post (as docs/_ir_notes.md writes it, for every connectivity).
"""

from __future__ import annotations

import numpy as np

from snnlang.ir import rng


class Dense:
    kind = "dense"

    def __init__(self, n_post: int, n_pre: int) -> None:
        self.n_post, self.n_pre = n_post, n_pre
        self.pair_shape = (n_post, n_pre)
        self.dense_index = np.arange(n_post * n_pre, dtype=np.uint64).reshape(self.pair_shape)
        self.fan_in = float(n_pre)
        self.fan_out = float(n_post)

    def pre(self, x):
        return x[..., None, :]

    def post(self, x):
        return x[..., :, None]

    def to_post(self, v: np.ndarray) -> np.ndarray:
        return v.sum(axis=-1)


class OneToOne:
    kind = "one_to_one"

    def __init__(self, n_post: int, n_pre: int) -> None:
        if n_post != n_pre:
            raise ValueError(f"one_to_one needs equal sizes, got {n_post} and {n_pre}")
        self.n_post, self.n_pre = n_post, n_pre
        self.pair_shape = (n_post,)
        i = np.arange(n_post, dtype=np.uint64)
        self.dense_index = i * np.uint64(n_pre) + i
        self.fan_in = 1.0
        self.fan_out = float(n_post)

    def pre(self, x):
        return x

    def post(self, x):
        return x

    def to_post(self, v: np.ndarray) -> np.ndarray:
        return v


class Sparse:
    kind = "sparse"

    def __init__(self, n_post: int, n_pre: int, mask: np.ndarray) -> None:
        self.n_post, self.n_pre = n_post, n_pre
        rows, cols = np.nonzero(mask)            # row-major: CSR order
        self.rows = rows.astype(np.int64)
        self.indices = cols.astype(np.int64)
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(self.rows, minlength=n_post))]).astype(np.int64)
        self.pair_shape = (len(self.indices),)
        self.dense_index = self.rows.astype(np.uint64) * np.uint64(n_pre) + self.indices.astype(np.uint64)
        self.fan_in = np.diff(self.indptr).astype(np.float64)[self.rows]
        self.fan_out = float(n_post)

    @classmethod
    def draw(cls, n_post: int, n_pre: int, p: float, seed: int, connection_index: int) -> "Sparse":
        """mask[i, j] = u < p, stream `connectivity_stream(c)`, step INIT_STEP, index i * N_pre + j."""
        u = rng.uniform_np(seed, rng.connectivity_stream(connection_index), rng.INIT_STEP,
                           np.arange(n_post * n_pre, dtype=np.uint64)).reshape(n_post, n_pre)
        return cls(n_post, n_pre, u < p)

    def pre(self, x):
        return x[..., self.indices]

    def post(self, x):
        return x[..., self.rows]

    def to_post(self, v: np.ndarray) -> np.ndarray:
        out = np.zeros(v.shape[:-1] + (self.n_post,), dtype=v.dtype)
        for b in np.ndindex(v.shape[:-1]):
            out[b] = np.bincount(self.rows, weights=v[b], minlength=self.n_post)
        return out
