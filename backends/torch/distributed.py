"""Batch reduction within one process and across the processes of a data-parallel run.

Plasticity reduces the change every batch row wants over the batch (`batch sum|mean` of the
schedule, backends/reference/connections.py). With data parallelism the batch is split over
processes (torchrun, one shard of rows each), so the sum runs over every row of every process:
the generated code sums its own rows and `Reducer.reduce` all-reduces that partial sum (gloo on
CPU, nccl on GPU), then divides by the global number of rows for `mean`. Every process then
applies the same change to the same weights, so the weights stay identical everywhere, as in
one process that holds the combined batch (up to the order of the additions).

The RNG index of a batch row is its global row number (`offset + b`), so a process draws exactly
the numbers its rows would draw in the combined batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Reducer:
    batch: int                   # rows in this process
    mode: str = "sum"            # the schedule's `batch sum|mean`
    world: int = 1               # processes
    rank: int = 0
    device: str = "cpu"          # where the all-reduced tensors live (nccl needs CUDA tensors)

    @property
    def rows(self) -> int:
        """Rows of the combined batch."""
        return self.batch * self.world

    @property
    def offset(self) -> int:
        """The global number of this process's first row."""
        return self.batch * self.rank

    def all_sum(self, x: torch.Tensor) -> torch.Tensor:
        """x summed over the processes (a new tensor; x itself when there is one process)."""
        if self.world == 1:
            return x
        import torch.distributed as dist
        x = torch.as_tensor(x, device=self.device).clone()
        dist.all_reduce(x, op=dist.ReduceOp.SUM)
        return x

    def reduce(self, per_process_sum: torch.Tensor) -> torch.Tensor:
        """The batch reduction of a change already summed over this process's rows."""
        total = self.all_sum(per_process_sum)
        return total / self.rows if self.mode == "mean" and self.rows > 1 else total
