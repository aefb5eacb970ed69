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
