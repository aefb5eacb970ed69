"""Bit-accurate emulation of Lava's fixed-point learning engine (LearningDense, fixed_pt).

`LearningEngine(conversion, weights, seed)` replays what
`lava.magma.core.model.py.connection.LearningConnectionModelBitApproximate` does for a
Loihi2F rule with t_epoch = 1, step by step, from the spikes the connection receives -- so a
user sees the weights the fixed-point engine produces without running Lava (and a test checks
the two agree to the bit). What it reproduces (lava-nc 0.10.0):

  * random numbers: a trace generator per side (numpy PCG64 seeded rng_seed, rng_seed + 1 for
    x; rng_seed + 2, + 3 for y), advanced twice per step (after the pre and after the post
    spikes are received), one number per step shared by all neurons; the synaptic-variable
    generator is numpy's PCG64 seeded 2 (Lava ignores rng_seed there), advanced once per epoch;
  * traces (7 bits, 0..127): decay x * exp(-1 / tau), floor, +1 where the shared uniform is
    below the fraction; a spike adds the integer impulse (its fraction would round up when a
    7-bit random integer is below the 8-bit fraction: Lava's quirk; impulses here are integers);
  * learning: the variable is shifted left by 7 into a 15-bit accumulator; each product
    D * prod(factors) * m (factors clipped to their widths) is shifted right by
    max(0, sum of widths + 4 - 15), left by e + 7, clipped to +-(2^15 - 1) (Lava's lower bound is
    -(2^15) - 1) and accumulated with the same clip; the result is clipped by the sign mode,
    divided by 2^7, stochastically rounded with one shared uniform, shifted back and clipped to
    the weight range (mixed -256..255, excitatory 0..255, inhibitory -255..0);
  * initial weights of a mixed-sign connection lose their lowest bit (Lava truncates them to
    7 magnitude bits when the connection first runs).
"""

from __future__ import annotations

import numpy as np

from .fixed import WIDTH, Conversion

W_TRACE = 7
ACC = 15
SYN_SHIFT = 7            # 16-bit signed accumulator - 9-bit signed weight / tag
LIMITS = {"MIXED": (-256, 255), "EXCITATORY": (0, 255), "INHIBITORY": (-255, 0)}


class _TraceRandom:
    def __init__(self, seed_decay: int, seed_impulse: int) -> None:
        self._decay = np.random.default_rng(seed=seed_decay)
        self._impulse = np.random.default_rng(seed=seed_impulse)
        self.decay = self._decay.random(1)[0]
        self.impulse = self._impulse.integers(0, 2 ** W_TRACE, size=1, dtype=int)[0]

    def advance(self) -> None:
        self.decay = self._decay.random(1)[0]
        self.impulse = self._impulse.integers(0, 2 ** W_TRACE, size=1, dtype=int)[0]


def _stochastic_round(values, random, probabilities):
    return (values + (random < probabilities).astype(int)).astype(int)


class LearningEngine:
    """The fixed-point learning of one connection (shape (N_post, N_pre)), one step at a time."""

    def __init__(self, conversion: Conversion, weights: np.ndarray, rng_seed: int,
                 tag_values: np.ndarray | None = None) -> None:
        if conversion.tag != "fixed_pt":
            raise ValueError("the emulation is of the fixed_pt engine")
        self.c = conversion
        self.shape = weights.shape
        n_post, n_pre = self.shape
        w = np.asarray(weights).astype(np.int32)
        if conversion.sign_mode == "MIXED":          # Lava: truncate_weights(..., 8 bits) on the first step
            w = (w >> 1) << 1
        self.weights = w
        self.tag = np.zeros(self.shape, dtype=np.int32) if tag_values is None else np.asarray(tag_values, np.int32)
        self.x = np.zeros((2, n_pre), dtype=int)
        self.y = np.zeros((3, n_post), dtype=int)
        self.x_random = _TraceRandom(rng_seed, rng_seed + 1)
        self.y_random = _TraceRandom(rng_seed + 2, rng_seed + 3)
        self.syn_random = np.random.default_rng(seed=2)
        self.syn_value = self.syn_random.random(1)[0]
        names_x, names_y = ("x1", "x2"), ("y1", "y2", "y3")
        self.x_imp = np.array([conversion.impulses.get(n, 0.0) for n in names_x])
        self.y_imp = np.array([conversion.impulses.get(n, 0.0) for n in names_y])
        self.x_tau = np.array([conversion.taus.get(n, 0.0) for n in names_x])
        self.y_tau = np.array([conversion.taus.get(n, 0.0) for n in names_y])
        for imp in (*self.x_imp, *self.y_imp):
            if imp != int(imp):
                raise ValueError("the emulation assumes integer impulses (fixed.py chooses them so)")

    # ------------------------------------------------------------ traces
    @staticmethod
    def _decay(values, taus, random):
        out = np.zeros_like(values)
        active = taus != 0
        decayed = np.exp(-1 / taus[active])[:, None] * values[active]
        out[active] = _stochastic_round(np.floor(decayed), random, decayed % 1)
        return out

    @staticmethod
    def _impulse(values, impulses):
        new = values + impulses.astype(int)[:, None]
        return np.clip(new, 0, 2 ** W_TRACE - 1)

    def step(self, pre: np.ndarray, post: np.ndarray) -> None:
        """One time step: the presynaptic spikes the connection received (N_pre,) and the
        postsynaptic (back-propagating) spikes (N_post,); learning runs at the end (t_epoch = 1)."""
        pre = np.asarray(pre).astype(bool)
        post = np.asarray(post).astype(bool)
        self.x_random.advance()
        self.y_random.advance()
        self.x_random.advance()
        self.y_random.advance()
        self.syn_value = self.syn_random.random(1)[0]
        x_new = self._decay(self.x, self.x_tau, self.x_random.decay)
        y_new = self._decay(self.y, self.y_tau, self.y_random.decay)
        x_new[:, pre] = self._impulse(x_new[:, pre], self.x_imp)
        y_new[:, post] = self._impulse(y_new[:, post], self.y_imp)
        # every dependency samples its traces at this step (t_epoch = 1): the new values
        args = {"x0": pre[None, :], "y0": post[:, None], "u0": 1,
                "x1": x_new[0][None, :], "x2": x_new[1][None, :],
                "y1": y_new[0][:, None], "y2": y_new[1][:, None], "y3": y_new[2][:, None],
                "w": self.weights, "t": self.tag}
        for target, var in (("dw", "weights"), ("dt", "tag")):
            products = [p for p in self.c.products if p.term.target == target]
            if not products:
                continue
            acc = getattr(self, var).astype(np.int32) << SYN_SHIFT
            for p in products:
                current = np.ones(self.shape, dtype=np.int32)
                current *= args[p.term.dependency]
                width = 0
                for f in p.term.factors:
                    width += WIDTH[f]
                    value = np.clip(args[f], -(2 ** WIDTH[f]), 2 ** WIDTH[f] - 1)
                    current *= np.asarray(value).astype(np.int32)
                width += 4
                current *= p.mantissa
                current = np.right_shift(current, max(0, width - ACC))
                current = np.left_shift(current, p.exponent + p.shift + 7)
                current = np.clip(current, -(2 ** ACC) - 1, 2 ** ACC - 1)
                acc = np.clip(acc + current, -(2 ** ACC) - 1, 2 ** ACC - 1)
            if var == "weights":
                if self.c.sign_mode == "EXCITATORY":
                    acc = np.maximum(0, acc)
                elif self.c.sign_mode == "INHIBITORY":
                    acc = np.minimum(0, acc)
            unit = 2 ** (ACC - 8)
            integer = acc / unit
            acc = (_stochastic_round(np.floor(integer), self.syn_value, integer % 1) * unit).astype(acc.dtype)
            acc = acc >> SYN_SHIFT
            if var == "weights":
                lo, hi = LIMITS[self.c.sign_mode]
                acc = np.clip(acc, lo, hi)
            else:
                acc = np.clip(acc, -(2 ** 8) - 1, 2 ** 8 - 1)
            setattr(self, var, acc.astype(np.int32))
        self.x, self.y = x_new, y_new

    def run(self, pre: np.ndarray, post: np.ndarray) -> np.ndarray:
        """Every step of spike rasters pre (steps, N_pre) and post (steps, N_post); the weights."""
        for a, b in zip(pre, post):
            self.step(a, b)
        return self.weights

    def model_weights(self) -> np.ndarray:
        """The weights in model units."""
        return self.weights * self.c.weight_scale
