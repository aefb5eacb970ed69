"""What the generated torch modules call: the counter-based RNG, fixed point, population
functions and the surrogate spike function.

Everything here works on tensors of any device and keeps the IR's conventions
(docs/_ir_notes.md): booleans are 0/1 in the backend's float dtype, randomness is a pure
function of (seed, stream, step, index) and equals snnlang/ir/rng.py bit for bit.

The RNG runs on int64 tensors holding 32-bit values: xor and shifts of non-negative values are
exact, and a product of two 32-bit values wraps modulo 2^64, which keeps its low 32 bits right
(the mask then drops the rest). A draw is split in two: `index_hash` (the part that depends
only on the element index, computed once per domain at build) and `uniform` (one xor with the
per-(stream, step) key, then one more hash), so a draw costs about a dozen elementwise ops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from snnlang.ir import rng

_MASK = rng.MASK32
_SHIFT = 32 - rng.UNIFORM_BITS


# ----------------------------------------------------------------------------- RNG


def hash32(x: torch.Tensor) -> torch.Tensor:
    """lowbias32 of int64 values in [0, 2^32) (rng.hash32)."""
    x = x ^ (x >> 16)
    x = (x * rng.MUL1) & _MASK
    x = x ^ (x >> 15)
    x = (x * rng.MUL2) & _MASK
    return x ^ (x >> 16)


def index_hash(index: torch.Tensor) -> torch.Tensor:
    """hash32(index * SALT_INDEX): the per-element half of a draw (int64 in, int64 out)."""
    return hash32((index * rng.SALT_INDEX) & _MASK)


def key(seed: int, stream: int, step: int) -> int:
    """The per-(stream, step) half of a draw, on the host (rng.draw_bits without the index)."""
    h = rng.hash32(seed ^ rng.hash32(stream * rng.SALT_STREAM))
    return rng.hash32(h ^ rng.hash32(step * rng.SALT_STEP))


def uniform(k: int, hashed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Uniforms in [0, 1) with 24 bits (exact in float32 and float64): rng.uniform_np."""
    bits = hash32(hashed ^ k) >> _SHIFT
    return bits.to(dtype) * rng.UNIFORM_SCALE


def normal(k1: int, k2: int, hashed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Box-Muller from two streams (rng.normal_np), computed in float64 and rounded to `dtype`."""
    u1 = uniform(k1, hashed, torch.float64)
    u2 = uniform(k2, hashed, torch.float64)
    return (torch.sqrt(-2.0 * torch.log1p(-u1)) * torch.cos(2.0 * math.pi * u2)).to(dtype)


def poisson(lam, u: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF Poisson count: the smallest k with CDF(k) > u (0 where lam <= 0), summing the
    terms exp(-lam + k log lam - lgamma(k + 1)) in order, like the reference."""
    dtype = u.dtype
    lam = torch.as_tensor(lam, dtype=torch.float64, device=u.device)
    u = u.to(torch.float64)
    lam, u = torch.broadcast_tensors(lam, u)
    positive = lam > 0
    safe = torch.where(positive, lam, torch.ones_like(lam))
    log_lam = torch.log(safe)
    cdf = torch.where(positive, torch.exp(-safe), torch.ones_like(lam))
    k = torch.zeros_like(u)
    todo = positive & (cdf <= u)
    top = float(lam.max()) if lam.numel() else 0.0
    limit = int(max(top, 0.0) + 40.0 * math.sqrt(max(top, 0.0)) + 100.0)
    n = 0
    while n < limit and bool(todo.any()):
        n += 1
        term = torch.exp(-safe + n * log_lam - math.lgamma(n + 1))
        k = torch.where(todo, torch.full_like(k, float(n)), k)
        cdf = cdf + term
        todo = todo & (cdf <= u)
    return k.to(dtype)


# ----------------------------------------------------------------------------- arithmetic


def maximum(a, b):
    """numpy.maximum for tensors and Python numbers (NaN propagates)."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return torch.maximum(a, b)
    if isinstance(a, torch.Tensor):
        return torch.clamp(a, min=b)
    if isinstance(b, torch.Tensor):
        return torch.clamp(b, min=a)
    return float(np.maximum(a, b))


def minimum(a, b):
    """numpy.minimum for tensors and Python numbers (NaN propagates)."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return torch.minimum(a, b)
    if isinstance(a, torch.Tensor):
        return torch.clamp(a, max=b)
    if isinstance(b, torch.Tensor):
        return torch.clamp(b, max=a)
    return float(np.minimum(a, b))


def clip(x, lo, hi):
    """minimum(maximum(x, lo), hi), as the reference evaluates clip()."""
    return minimum(maximum(x, lo), hi)


def sign(x: torch.Tensor) -> torch.Tensor:
    """numpy.sign: NaN stays NaN (torch.sign gives 0)."""
    return torch.where(torch.isnan(x), x, torch.sign(x))


def full(value, like: torch.Tensor) -> torch.Tensor:
    """`value` (a number or a tensor that broadcasts) as a tensor of `like`'s shape and dtype
    (with storage of its own: states are updated in place by plasticity)."""
    if isinstance(value, torch.Tensor):
        value = value.to(like.dtype)
        return value if value.shape == like.shape else value.expand(like.shape).contiguous()
    return torch.full_like(like, float(value))


def broadcast(value, shape: tuple, dtype: torch.dtype, device) -> torch.Tensor:
    """`value` (a number or a tensor) broadcast to `shape` (a view when it is a tensor)."""
    if isinstance(value, torch.Tensor):
        return value.to(dtype).expand(shape)
    return torch.full(shape, float(value), dtype=dtype, device=device)


def to_post(values: torch.Tensor, rows: torch.Tensor, n_post: int) -> torch.Tensor:
    """Per-pair values (batch, nnz) of a sparse connection summed into their post neurons
    (in storage order, like the reference's bincount)."""
    out = values.new_zeros(values.shape[:-1] + (n_post,))
    return out.index_add(values.dim() - 1, rows, values)


def acc(total, change):
    """total + change, where total None means nothing yet (a learning change accumulated over the
    statements that ran this step)."""
    return change if total is None else total + change


def outer_change(reducer, terms: list, free: list, n_post: int, batch: int, select_rows: bool = True):
    """The change of a dense per-pair state from separable learning statements, reduced over
    the batch (and over processes): sum_b post[b, i] * pre[b, j] * pair[i, j] for every term
    (post, pre, pair; None where absent), plus batch-free changes `free` (already summed over
    the batch). Terms that share `pre` and `pair` are merged first (one matmul for `on post.pos`
    and `on post.neg` together). Returns (rows, change): when every term has a post factor and
    few post neurons have an event, only those rows are computed (`rows` their indices, None
    for the whole matrix); None when nothing fired. `select_rows=False` always computes the whole
    matrix (no data-dependent shapes, for torch.compile)."""
    groups: list[list] = []
    for post, pre, pair in terms:
        for g in groups:
            if g[0] is pre and g[1] is pair and (g[2] is None) == (post is None):
                if post is not None:
                    g[2] = g[2] + post
                break
        else:
            groups.append([pre, pair, post])
    rows = None
    # row selection needs the host to look at the events (a device sync): CPU, one process only
    if (select_rows and reducer.world == 1 and not free and groups and all(g[2] is not None for g in groups)
            and groups[0][2].device.type == "cpu"):
        fired = None
        for g in groups:
            f = (g[2] != 0).any(0)
            fired = f if fired is None else fired | f
        index = torch.nonzero(fired).squeeze(1)
        if index.numel() == 0:
            return None
        if 4 * index.numel() <= n_post:
            rows = index
    change = None
    for pre, pair, post in groups:
        if post is not None and rows is not None:
            post = post[:, rows]
        if post is not None and pre is not None:
            d = torch.matmul(post.transpose(0, 1), pre)
        elif post is not None:
            d = post.sum(0)[:, None]
        elif pre is not None:
            d = pre.sum(0)[None, :]
        else:
            d = torch.tensor(float(batch), device=reducer.device)
        if pair is not None:
            d = d * (pair[rows] if rows is not None else pair)
        change = acc(change, d)
    for f in free:
        change = acc(change, f)
    return rows, reducer.reduce(change)


@torch.no_grad()
def apply_change(w: torch.Tensor, change, fixed: tuple | None = None, k: int | None = None,
                 rindex: torch.Tensor | None = None) -> torch.Tensor:
    """w += change (from `outer_change`), in place. Fixed point (`fixed` = scale, rounding,
    saturate, bits, signed): quantised where the value changed
    (stochastic rounding with uniforms of key `k` at the rounding indices `rindex`)."""
    rows, delta = change
    if fixed is None:
        if rows is None:
            w.add_(delta.to(w.dtype))
        else:
            w.index_add_(0, rows, delta.to(w.dtype).expand((rows.numel(),) + tuple(w.shape[1:])))
        return w
    old = w if rows is None else w[rows]
    new = (old + delta).to(w.dtype)
    u = None
    if fixed[1] == 2:
        u = uniform(k, rindex if rows is None else rindex[rows], torch.float64)
    value = torch.where(new != old, quantise(new, *fixed, u=u), old)
    if rows is None:
        w.copy_(value)
    else:
        w[rows] = value
    return w


def due(pending: dict, connection: str, step: int) -> list:
    """The (variable, amount) deliveries of `connection` due at `step`, in the order they were
    sent; they are removed from the queue."""
    queue = pending[connection]
    if not queue:
        return []
    now = [(var, amount) for when, var, amount in queue if when == step]
    if now:
        pending[connection] = [entry for entry in queue if entry[0] != step]
    return now


# ----------------------------------------------------------------------------- fixed point


def quantise(x, scale: float, rounding: int, saturate: bool, bits: int, signed: bool = True, u=None) -> torch.Tensor:
    """q * scale with integer q (rounding 0 nearest, 1 floor, 2 stochastic with `u`), saturated to
    +-(2^(bits-1) - 1) or wrapped to two's complement of `bits`; unsigned: saturated to
    [0, 2^bits - 1] or wrapped modulo 2^bits (backends/reference/fixed.py). Computed in float64;
    NaN stays NaN."""
    dtype = x.dtype if isinstance(x, torch.Tensor) else torch.float64
    q = torch.as_tensor(x, dtype=torch.float64) / scale
    if rounding == 0:
        q = torch.floor(q + 0.5)
    elif rounding == 1:
        q = torch.floor(q)
    else:
        q = torch.floor(q + u.to(torch.float64))
    if saturate:
        hi = 2.0 ** (bits - 1) - 1.0 if signed else 2.0 ** bits - 1.0
        q = torch.clamp(q, -hi if signed else 0.0, hi)
    else:
        half = 2.0 ** (bits - 1) if signed else 0.0
        q = torch.remainder(q + half, 2.0 ** bits) - half
    return (q * scale).to(dtype)


def quantise_ste(x, scale: float, rounding: int, saturate: bool, bits: int, signed: bool = True,
                 u=None) -> torch.Tensor:
    """`quantise` in the forward pass, identity in the backward pass (straight-through), so that
    BPTT can train fixed-point weights."""
    q = quantise(x, scale, rounding, saturate, bits, signed, u)
    if isinstance(x, torch.Tensor) and x.requires_grad:
        return x + (q - x).detach()
    return q


# ----------------------------------------------------------------------------- populations


def _pop(x, shape: tuple[int, ...], device) -> torch.Tensor:
    return torch.as_tensor(x, dtype=torch.float64, device=device).expand(shape)


def softmax(x, shape, dtype, device) -> torch.Tensor:
    """Max-subtracted softmax over the neurons (last axis), in float64 like the reference."""
    x = _pop(x, shape, device)
    z = torch.exp(x - torch.amax(x, dim=-1, keepdim=True))
    return (z / z.sum(dim=-1, keepdim=True)).to(dtype)


def wta(x, shape, dtype, device) -> torch.Tensor:
    """One-hot of each row's first maximum."""
    x = _pop(x, shape, device)
    return torch.nn.functional.one_hot(torch.argmax(x, dim=-1), shape[-1]).to(dtype)


def categorical(p, u_rows: torch.Tensor, shape, dtype, device) -> torch.Tensor:
    """One-hot per row: the first i with cumsum(p / sum p) > u[row]; no spike if there is none."""
    p = _pop(p, shape, device)
    c = torch.cumsum(p / p.sum(dim=-1, keepdim=True), dim=-1)
    above = c > u_rows.to(torch.float64)[..., None]
    first = torch.argmax(above.to(torch.int8), dim=-1)
    hot = torch.nn.functional.one_hot(first, shape[-1]).to(dtype)
    return hot * above.any(dim=-1, keepdim=True).to(dtype)


def popsum(x, shape, dtype, device) -> torch.Tensor:
    return _pop(x, shape, device).sum(dim=-1, keepdim=True).to(dtype)


def popmean(x, shape, dtype, device) -> torch.Tensor:
    return _pop(x, shape, device).mean(dim=-1, keepdim=True).to(dtype)


def popmax(x, shape, dtype, device) -> torch.Tensor:
    return torch.amax(_pop(x, shape, device), dim=-1, keepdim=True).to(dtype)


def popmin(x, shape, dtype, device) -> torch.Tensor:
    return torch.amin(_pop(x, shape, device), dim=-1, keepdim=True).to(dtype)


# ----------------------------------------------------------------------------- host side


def host_flag(x) -> float:
    """A 0/1 host value (parameter defaults, hoisted constants)."""
    return 1.0 if bool(np.asarray(x) != 0) else 0.0


def host_where(c, a, b):
    return a if bool(np.asarray(c) != 0) else b


def host_sigmoid(x):
    return 1 / (1 + np.exp(-x))


# ----------------------------------------------------------------------------- surrogate gradients


@dataclass(frozen=True)
class Surrogate:
    """The derivative a spike `x > 0` (x = v - threshold) gets in the backward pass of BPTT.

    Each kind is the derivative of a smooth step P with P(-inf) = 0 and P(+inf) = 1, so its
    integral is 1 and `width` sets how far from the threshold a neuron still gets gradient:
      fast_sigmoid  P = 1/2 + x / (2 (w + |x|)),   P' = w / (2 (w + |x|)^2)   (SuperSpike)
      sigmoid       P = sigmoid(x / w),            P' = P (1 - P) / w
      rectangular   P' = 1[|x| < w] / (2 w)                                   (1 at w = 1/2: the
                                                                               Tang lab's window)
    `relaxed`: the forward pass uses P itself instead of the step (a smooth network; used to
    check the gradients against finite differences).
    """

    kind: str = "fast_sigmoid"
    width: float = 0.5
    relaxed: bool = False
    explicit: bool = False          # chosen by the trainer's options: overrides a model's declaration

    KINDS = ("fast_sigmoid", "sigmoid", "rectangular")

    def or_declared(self, kind: str, width) -> "Surrogate":
        """This surrogate when the trainer was told one explicitly, else the neuron's declared
        `surrogate KIND(width = W)` (W evaluated with the current parameters)."""
        if self.explicit:
            return self
        return Surrogate(kind, width, self.relaxed)

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        w = self.width
        if self.kind == "fast_sigmoid":
            return w / (2.0 * (w + x.abs()) ** 2)
        if self.kind == "sigmoid":
            s = torch.sigmoid(x / w)
            return s * (1.0 - s) / w
        return (x.abs() < w).to(x.dtype) / (2.0 * w)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        w = self.width
        if self.kind == "fast_sigmoid":
            return 0.5 + x / (2.0 * (w + x.abs()))
        if self.kind == "sigmoid":
            return torch.sigmoid(x / w)
        return torch.clamp(x / (2.0 * w) + 0.5, 0.0, 1.0)


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, surrogate: Surrogate, inclusive: bool):
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x >= 0 if inclusive else x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ctx.surrogate.derivative(x), None, None


def spike(x: torch.Tensor, surrogate: Surrogate, inclusive: bool = False) -> torch.Tensor:
    """1.0 where x > 0 (x >= 0 when `inclusive`), with the surrogate derivative in the backward
    pass (or, when `surrogate.relaxed`, the smooth step itself)."""
    if surrogate.relaxed:
        return surrogate.primitive(x)
    if not (isinstance(x, torch.Tensor) and x.requires_grad):
        return (x >= 0 if inclusive else x > 0).to(x.dtype)
    return _Spike.apply(x, surrogate, inclusive)
