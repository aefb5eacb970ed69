"""`fit`: train epoch by epoch, test after each, and log the model's metrics along the way.

What `snnc train` and the example scripts share: the model's own `train` does the learning
(by its schedule, or by a trainer such as BPTT); this only orders the samples, splits an epoch
into chunks when metrics are wanted more often than once per epoch, times the epochs and
evaluates.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from snnlang.data.dataset import Dataset


def fit(model, train: Dataset, test: Dataset | None = None, epochs: int = 1, log_every: int | None = None,
        progress: bool = True, seed: int = 0, on_epoch: Callable[[dict], None] | None = None,
        checkpoint: str | Path | None = None, resume: str | Path | None = None,
        interrupt_to: str | Path | None = None) -> list[dict]:
    """Train `model` for `epochs` epochs on `train` (shuffled per epoch with `seed`).

    Returns the history: one entry before training (samples 0, with the test accuracy when
    `test` is given) and then one per `log_every` samples (the model's metrics, e.g. angles)
    or per epoch when `log_every` is None; an epoch's last entry also has `epoch`, `seconds`,
    `samples_per_s` and (with `test`) `accuracy`. `on_epoch` is called with that entry.

    `checkpoint`: written after every epoch (after its test), with the shuffle generator and the
    history; `resume`: continue from such a file bit-exactly (the same data and arguments; its
    epochs count towards `epochs`); without `checkpoint` it keeps writing to `resume`.
    SIGINT/SIGTERM stop training and raise `TrainingInterrupted`, the last completed epoch kept
    in `checkpoint`, or else in `interrupt_to`.
    """
    from snnlang.runtime import checkpoint as ckpt
    from snnlang.runtime.model import _whole_epochs
    epochs = _whole_epochs(epochs)

    def snapshot() -> dict:
        return {"samples": model.samples_seen, **model.metrics()}

    rng = np.random.default_rng(seed)
    if resume is not None:
        done = ckpt.resume(model, resume, "fit", train)
        start, history = done.epoch, done.history
        rng.bit_generator.state = done.rng
        checkpoint = resume if checkpoint is None else checkpoint
    else:
        first = snapshot()
        if test is not None:
            first["accuracy"] = model.evaluate(test, progress=False)["accuracy"]
        start, history = 0, [first]
    chunk = log_every or len(train)
    with ckpt.Session(model, checkpoint, "fit", train, epochs, fallback=interrupt_to,
                      extra=lambda: {"rng": rng.bit_generator.state}) as session:
        session.completed(start, history)
        for epoch in range(start, epochs):
            begin = time.perf_counter()
            order = rng.permutation(len(train))
            losses = []
            for lo in range(0, len(train), chunk):
                entries = model.train(train.select(order[lo:lo + chunk]), epochs=1, shuffle=False,
                                      progress=progress)
                losses += [e["loss"] for e in entries if "loss" in e]
                history.append(snapshot())
            entry = history[-1]
            entry["epoch"] = epoch + 1
            entry["seconds"] = time.perf_counter() - begin
            entry["samples_per_s"] = len(train) / entry["seconds"]
            if losses:
                entry["loss"] = float(np.mean(losses))
            if test is not None:
                entry["accuracy"] = model.evaluate(test, progress=False)["accuracy"]
            session.completed(epoch + 1, history)
            if on_epoch is not None:
                on_epoch(entry)
    return history
