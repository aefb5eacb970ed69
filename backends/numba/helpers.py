"""The helper functions a generated module starts with (source text; only the ones it uses).

* the counter-based RNG of snnlang/ir/rng.py as uint64 arithmetic: `_key(seed, stream, step)`
  mixes the per-call counters once, `_uniform(key, index)` finishes one draw. Draws are
  bit-identical to `rng.uniform_np` (the constants are printed from rng.py);
* `_normal` (Box-Muller, as rng.normal_np) and `_poisson` (inverse CDF, as the reference);
* `_pairwise` / `_pairwise_at`: NumPy's pairwise summation (what `ndarray.sum` does along a
  contiguous axis), the latter over a sparse set of positions with zeros elsewhere, so an
  event-driven sum over the neurons that spiked gives the very bits of the reference's dense sum.
  NumPy recurses; numba's cache cannot hold a recursive function (loading one segfaults in
  numba 0.68), so these walk the recursion with an explicit stack (scratch arrays from the caller);
* `_fixed`: fixed-point quantisation (rounding, then saturation or wrap-around);
* population reductions with NumPy's NaN behaviour;
* `_fired`: the positions of the events in a row (what event-driven kernels loop over).
The helpers are compiled as part of the kernels that call them (register_jitable), except those
the host calls (`_fixed_array`, `_connect`, `_columns`), which are njit functions of their own.
"""

from __future__ import annotations

import re

from snnlang.ir import rng

ROUNDING = {"nearest": 0, "floor": 1, "stochastic": 2}

# name -> (source, helpers it calls)
_HELPERS: dict[str, tuple[str, tuple[str, ...]]] = {}


def _helper(name: str, deps: tuple[str, ...], source: str) -> None:
    _HELPERS[name] = (source.strip("\n"), deps)


_helper("_hash32", (), '''
_M32 = numpy.uint64(0x{MASK32:08X})


@register_jitable
def _hash32(x):
    """lowbias32 on the low 32 bits of x (snnlang/ir/rng.py)."""
    x = x & _M32
    x ^= x >> numpy.uint64(16)
    x = (x * numpy.uint64(0x{MUL1:08X})) & _M32
    x ^= x >> numpy.uint64(15)
    x = (x * numpy.uint64(0x{MUL2:08X})) & _M32
    x ^= x >> numpy.uint64(16)
    return x
''')

_helper("_key", ("_hash32",), '''
@register_jitable
def _key(seed, stream, step):
    """The part of a draw shared by all its elements: hash(hash(seed ^ hash(stream*S1)) ^ hash(step*S2))."""
    h = _hash32(numpy.uint64(seed) ^ _hash32(numpy.uint64(stream) * numpy.uint64(0x{SALT_STREAM:08X})))
    return _hash32(h ^ _hash32(numpy.uint64(step) * numpy.uint64(0x{SALT_STEP:08X})))
''')

_helper("_uniform", ("_hash32",), '''
@register_jitable
def _uniform(key, index):
    """A uniform in [0, 1) with {BITS} bits: element `index` of the draw `key` (rng.uniform_np)."""
    bits = _hash32(key ^ _hash32(numpy.uint64(index) * numpy.uint64(0x{SALT_INDEX:08X})))
    return numpy.float64(bits >> numpy.uint64({SHIFT})) * {SCALE!r}
''')

_helper("_normal", ("_uniform",), '''
@register_jitable
def _normal(key1, key2, index):
    """A standard normal by Box-Muller from two streams (rng.normal_np)."""
    u1 = _uniform(key1, index)
    u2 = _uniform(key2, index)
    return numpy.sqrt(-2.0 * numpy.log1p(-u1)) * numpy.cos(2.0 * numpy.pi * u2)
''')

_helper("_poisson", (), '''
@register_jitable
def _poisson(lam, u):
    """Inverse-CDF Poisson count: the smallest k with CDF(k) > u (0 unless lam > 0)."""
    if not lam > 0:
        return 0.0
    log_lam = numpy.log(lam)
    cdf = numpy.exp(-lam)
    k = 0.0
    n = 0
    limit = int(lam + 40.0 * numpy.sqrt(lam) + 100.0)
    while cdf <= u and n < limit:
        n += 1
        cdf = cdf + numpy.exp(-lam + n * log_lam - math.lgamma(n + 1))
        k = float(n)
    return k
''')

_helper("_pairwise_block", (), '''
@register_jitable
def _pairwise_block(a, lo, n):
    """sum(a[lo:lo+n]) for n <= 128, as NumPy adds a block: 8 accumulators, then the rest."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - (n % 8):
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res
''')

_helper("_pairwise_at_block", (), '''
@register_jitable
def _pairwise_at_block(pos, val, k0, k1, lo, n):
    """`_pairwise_block` of a vector that is zero except at the sorted positions pos[k0:k1]
    (values val[k0:k1]): adding zeros changes nothing, so only the given positions are visited."""
    if n < 8:
        res = 0.0
        for k in range(k0, k1):
            res += val[k]
        return res
    r0 = r1 = r2 = r3 = r4 = r5 = r6 = r7 = 0.0
    tail = lo + n - (n % 8)
    k = k0
    while k < k1 and pos[k] < tail:
        m = (pos[k] - lo) % 8
        if m == 0:
            r0 += val[k]
        elif m == 1:
            r1 += val[k]
        elif m == 2:
            r2 += val[k]
        elif m == 3:
            r3 += val[k]
        elif m == 4:
            r4 += val[k]
        elif m == 5:
            r5 += val[k]
        elif m == 6:
            r6 += val[k]
        else:
            r7 += val[k]
        k += 1
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while k < k1:
        res += val[k]
        k += 1
    return res
''')

_helper("_pairwise_at", ("_pairwise_at_block",), '''
@register_jitable
def _pairwise_at(pos, val, k0, k1, lo, n, tasks, sums):
    """NumPy's pairwise sum of a length-n vector (from position lo) that is zero except at the
    sorted positions pos[k0:k1]. NumPy halves n (a multiple of 8) until a block has 128 or fewer;
    this walks the same tree with a task stack (rows: kind, lo, n, k0, k1; kind 1 adds the two
    sums on top of `sums`), so every addition happens in NumPy's order."""
    tasks[0, 0], tasks[0, 1], tasks[0, 2], tasks[0, 3], tasks[0, 4] = 0, lo, n, k0, k1
    nt = 1
    ns = 0
    while nt > 0:
        nt -= 1
        if tasks[nt, 0] == 1:
            ns -= 1
            sums[ns - 1] = sums[ns - 1] + sums[ns]
            continue
        lo, n, k0, k1 = tasks[nt, 1], tasks[nt, 2], tasks[nt, 3], tasks[nt, 4]
        if k0 == k1:
            sums[ns] = 0.0
            ns += 1
        elif n <= 128:
            sums[ns] = _pairwise_at_block(pos, val, k0, k1, lo, n)
            ns += 1
        else:
            n2 = n // 2
            n2 -= n2 % 8
            mid = k0
            while mid < k1 and pos[mid] < lo + n2:
                mid += 1
            tasks[nt, 0] = 1
            tasks[nt + 1, 0], tasks[nt + 1, 1], tasks[nt + 1, 2] = 0, lo + n2, n - n2
            tasks[nt + 1, 3], tasks[nt + 1, 4] = mid, k1
            tasks[nt + 2, 0], tasks[nt + 2, 1], tasks[nt + 2, 2] = 0, lo, n2
            tasks[nt + 2, 3], tasks[nt + 2, 4] = k0, mid
            nt += 3
    return sums[0]
''')

_helper("_pairwise", ("_pairwise_block",), '''
@register_jitable
def _pairwise(a, lo, n, tasks, sums):
    """NumPy's pairwise sum of a[lo:lo+n] (see `_pairwise_at` for the task stack)."""
    tasks[0, 0], tasks[0, 1], tasks[0, 2] = 0, lo, n
    nt = 1
    ns = 0
    while nt > 0:
        nt -= 1
        if tasks[nt, 0] == 1:
            ns -= 1
            sums[ns - 1] = sums[ns - 1] + sums[ns]
            continue
        lo, n = tasks[nt, 1], tasks[nt, 2]
        if n <= 128:
            sums[ns] = _pairwise_block(a, lo, n)
            ns += 1
        else:
            n2 = n // 2
            n2 -= n2 % 8
            tasks[nt, 0] = 1
            tasks[nt + 1, 0], tasks[nt + 1, 1], tasks[nt + 1, 2] = 0, lo + n2, n - n2
            tasks[nt + 2, 0], tasks[nt + 2, 1], tasks[nt + 2, 2] = 0, lo, n2
            nt += 3
    return sums[0]
''')

_helper("_popmax", (), '''
@register_jitable
def _popmax(a):
    """numpy.max: NaN if any element is NaN."""
    m = a[0]
    for i in range(a.shape[0]):
        if a[i] != a[i]:
            return a[i]
        if a[i] > m:
            m = a[i]
    return m
''')

_helper("_popmin", (), '''
@register_jitable
def _popmin(a):
    """numpy.min: NaN if any element is NaN."""
    m = a[0]
    for i in range(a.shape[0]):
        if a[i] != a[i]:
            return a[i]
        if a[i] < m:
            m = a[i]
    return m
''')

_helper("_argmax", (), '''
@register_jitable
def _argmax(a):
    """numpy.argmax: the first maximum (the first NaN, if any)."""
    best = 0
    for i in range(a.shape[0]):
        if a[i] != a[i]:
            return i
        if a[i] > a[best]:
            best = i
    return best
''')

_helper("_fixed", (), '''
@register_jitable
def _fixed(x, scale, rounding, saturate, bits, signed, u):
    """x quantised to q * scale: rounding 0 nearest, 1 floor, 2 stochastic (with u); then q
    saturated to +-(2^(bits-1) - 1) or wrapped to two's complement of `bits`; unsigned:
    saturated to [0, 2^bits - 1] or wrapped modulo 2^bits."""
    q = x / scale
    if rounding == 0:
        q = numpy.floor(q + 0.5)
    elif rounding == 1:
        q = numpy.floor(q)
    else:
        q = numpy.floor(q + u)
    if saturate:
        if signed:
            hi = 2.0 ** (bits - 1) - 1.0
            q = numpy.minimum(numpy.maximum(q, -hi), hi)
        else:
            q = numpy.minimum(numpy.maximum(q, 0.0), 2.0 ** bits - 1.0)
    else:
        half = 2.0 ** (bits - 1) if signed else 0.0
        q = numpy.mod(q + half, 2.0 ** bits) - half
    return q * scale
''')

_helper("_fixed_array", ("_key", "_fixed", "_uniform"), '''
@njit(cache=True, error_model="numpy")
def _fixed_array(dst, src, rindex, seed, stream, step, scale, rounding, saturate, bits, signed):
    """Quantise a whole (flattened) variable, e.g. for `set`; rindex: rounding RNG indices."""
    key = _key(seed, stream, step)
    for k in range(dst.shape[0]):
        u = _uniform(key, rindex[k]) if rounding == 2 else 0.0
        dst[k] = _fixed(src[k], scale, rounding, saturate, bits, signed, u)
''')

_helper("_fired_bits", (), '''
@register_jitable
def _fired_bits(row, bits, out):
    """`_fired` with `bits` the row's bit patterns (an integer view of the same memory)."""
    n_row = row.shape[0]
    n = 0
    full = n_row - n_row % 32
    for j0 in range(0, full, 32):
        hit = bits[j0] ^ bits[j0]
        for j in range(j0, j0 + 32):
            hit |= bits[j]
        if hit != 0:
            for j in range(j0, j0 + 32):
                if row[j] != 0:
                    out[n] = j
                    n += 1
    for j in range(full, n_row):
        if row[j] != 0:
            out[n] = j
            n += 1
    return n
''')

_helper("_fired", ("_fired_bits",), '''
@register_jitable
def _fired(row, out):
    """The positions j of a (contiguous) event row where row[j] != 0, in increasing order, written
    to out[:n]; returns n. Blocks of 32 are first tested by one OR of their bits, a vectorised
    loop, so a row with few events costs a fraction of a scalar scan (-0.0 passes that test and
    fails the exact one)."""
    if row.itemsize == 8:
        return _fired_bits(row, row.view(numpy.uint64), out)
    return _fired_bits(row, row.view(numpy.uint32), out)
''')

_helper("_connect", ("_key", "_uniform"), '''
@njit(cache=True, error_model="numpy")
def _connect(seed, stream, n_post, n_pre, p):
    """A sparse connection's pairs: mask[i, j] = u < p at step {INIT_STEP}, index i * n_pre + j; CSR.
    One pass into room for the mean number of pairs plus ten standard deviations; in the
    (practically impossible) case that more are drawn, a second pass counts first."""
    key = _key(seed, stream, {INIT_STEP})
    indptr = numpy.zeros(n_post + 1, numpy.int64)
    mean = float(n_post) * float(n_pre) * p
    room = min(n_post * n_pre, int(mean + 10.0 * math.sqrt(mean) + 1024.0))
    indices = numpy.empty(room, numpy.int64)
    k = 0
    for i in range(n_post):
        for j in range(n_pre):
            if _uniform(key, i * n_pre + j) < p:
                if k < room:
                    indices[k] = j
                k += 1
        indptr[i + 1] = k
    if k <= room:
        return indptr, indices[:k].copy()
    indices = numpy.empty(k, numpy.int64)
    k = 0
    for i in range(n_post):
        for j in range(n_pre):
            if _uniform(key, i * n_pre + j) < p:
                indices[k] = j
                k += 1
    return indptr, indices
''')

_helper("_columns", (), '''
@njit(cache=True)
def _columns(indptr, indices, n_pre, ptr, rows, order):
    """The column (pre-major) order of a CSR connection, by counting sort: pre neuron j's pairs
    are the positions ptr[j]:ptr[j + 1], their post neurons rows[...] in increasing order, and
    the pair at CSR position k is at position order[k]."""
    ptr[:] = 0
    for k in range(indices.shape[0]):
        ptr[indices[k] + 1] += 1
    for j in range(n_pre):
        ptr[j + 1] += ptr[j]
    fill = ptr[:n_pre].copy()
    for i in range(indptr.shape[0] - 1):
        for k in range(indptr[i], indptr[i + 1]):
            j = indices[k]
            rows[fill[j]] = i
            order[k] = fill[j]
            fill[j] += 1
''')

ALWAYS = ()   # the host uses `_fixed_array` when a state is fixed point, `_connect` / `_columns` when one is sparse


def helper_source(code: str, extra: tuple[str, ...] = ()) -> str:
    """The helpers `code` calls (and `extra`, and what the host always needs), in dependency order."""
    wanted: list[str] = []

    def need(name: str) -> None:
        if name in wanted:
            return
        for dep in _HELPERS[name][1]:
            need(dep)
        wanted.append(name)

    used = set(re.findall(r"\b(_[a-z0-9_]+)\(", code))
    for name in _HELPERS:
        if name in used or name in ALWAYS or name in extra:
            need(name)
    values = dict(MASK32=rng.MASK32, MUL1=rng.MUL1, MUL2=rng.MUL2, SALT_STREAM=rng.SALT_STREAM,
                  SALT_STEP=rng.SALT_STEP, SALT_INDEX=rng.SALT_INDEX, BITS=rng.UNIFORM_BITS,
                  SHIFT=32 - rng.UNIFORM_BITS, SCALE=rng.UNIFORM_SCALE, INIT_STEP=rng.INIT_STEP)
    parts = []
    for name in wanted:
        src = _HELPERS[name][0]
        if "{" in src:
            src = src.format(**values)
        parts.append(src)
    return "\n\n\n".join(parts)
