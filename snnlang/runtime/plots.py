"""Plots of recordings (matplotlib, without a display)."""

from __future__ import annotations

from pathlib import Path

from snnlang.ir.model import NetworkIR
from snnlang.runtime.model import Recording


def raster(rec: Recording, network: NetworkIR, path: str | Path, row: int = 0) -> None:
    """One panel per neuron population: a dot per spike, time on the x axis."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pops = [p for p in network.populations if f"{p.name}.spike" in rec.data]
    fig, axes = plt.subplots(len(pops), 1, figsize=(8, 1.5 + 2 * len(pops)), sharex=True, squeeze=False)
    scale, unit = (1.0, "step") if network.unit_free else (rec.dt * 1e3, "ms")
    for ax, pop in zip(axes[:, 0], pops):
        steps, neurons = rec.spikes(pop.name, row=row)
        ax.scatter(steps * scale, neurons, s=2, marker="|", color="black")
        ax.set_ylabel(f"{pop.name}\n(neuron)")
        ax.set_ylim(-0.5, pop.size - 0.5)
    axes[-1, 0].set_xlabel(f"time ({unit})")
    fig.suptitle(f"network {network.name}: spike raster")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def learning_curves(history: list[dict], path: str | Path, title: str = "training") -> None:
    """Test accuracy per epoch and, in a second panel, every metric the model declares
    (e.g. the angle between feedback and feed-forward weights), against samples seen."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    skip = {"epoch", "samples", "seconds", "samples_per_s", "accuracy", "loss"}
    metrics = sorted({k for h in history for k, v in h.items() if k not in skip and isinstance(v, (int, float))})
    x = [h["samples"] if "samples" in h else h["epoch"] for h in history]
    panels = 1 + bool(metrics) + any("loss" in h for h in history)
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.6), squeeze=False)
    ax = axes[0, 0]
    scored = [(xi, h["accuracy"]) for xi, h in zip(x, history) if "accuracy" in h]
    if scored:
        ax.plot([a for a, _ in scored], [100 * b for _, b in scored], marker="o")
    ax.set_xlabel("training samples seen")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    k = 1
    if any("loss" in h for h in history):
        lossy = [(xi, h["loss"]) for xi, h in zip(x, history) if "loss" in h]
        axes[0, k].plot([a for a, _ in lossy], [b for _, b in lossy], marker="o", color="C3")
        axes[0, k].set_xlabel("training samples seen")
        axes[0, k].set_ylabel("training loss")
        axes[0, k].grid(alpha=0.3)
        k += 1
    if metrics:
        for name in metrics:
            axes[0, k].plot(x, [h.get(name, float("nan")) for h in history], marker=".", label=name)
        axes[0, k].set_xlabel("training samples seen")
        axes[0, k].set_ylabel("metric")
        axes[0, k].legend()
        axes[0, k].grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
