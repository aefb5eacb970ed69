"""The native owners of a Lava network: Lava's own LIF, Dense and LearningDense processes.

`NativeOwners` is the part of host.LavaNetwork that builds them from the generated module's
NATIVE table and converts between their Lava units and the model's: model value = Lava value
times the owner's scale for the tag (weights: the weight step; traces: the trace unit; LIF:
the voltage scale, with U = kappa * u). A native LIF's spikes are kept readable by a small tap
process (`POP.spike`). `snnc compile --target lava` copies this file next to host.py.
"""

from __future__ import annotations

import numpy

try:
    from . import runtime as R
except ImportError:  # pragma: no cover - loaded as a top-level file
    import runtime as R  # type: ignore


class NativeOwners:
    """Mixin of LavaNetwork (self.m, self.tag, self.seed, self.L, self.procs, self.kernels, ...)."""

    def _rule_seed(self, name: str) -> int:
        """The seed of a learning connection's stochastic rounding (Lava draws with numpy's PCG64)."""
        return (self.seed * 1009 + int(self.m.NATIVE[name]["seed_offset"])) % (2 ** 31)

    def _lava_weights(self, name: str, spec: dict, weights: numpy.ndarray) -> numpy.ndarray:
        """Model weights -> Lava's weight matrix (fixed_pt: 8-bit integers of its sign mode)."""
        kernel = self.kernels[name]
        w = numpy.asarray(weights, dtype=float) / spec["scales"][self.tag]
        if kernel.LAYOUT == "one_to_one":
            w = numpy.diag(w)
        if self.tag == "fixed_pt":
            lo, hi = {"EXCITATORY": (0, 255), "INHIBITORY": (-255, 0), "MIXED": (-256, 255)}[spec["sign_mode"]]
            w = numpy.clip(numpy.round(w), lo, hi)
        return w

    def _lif_states(self, name: str, spec: dict, arrays: dict) -> tuple[numpy.ndarray, numpy.ndarray]:
        sigma = spec["tags"][self.tag]["sigma"]
        v = arrays[spec["v"]][0] / sigma
        u = spec["kappa"] * arrays[spec["u"]][0] / sigma if spec["u"] else numpy.zeros_like(v)
        if self.tag == "fixed_pt":
            v, u = numpy.round(v), numpy.round(u)
        return u, v

    def _native(self, name: str, spec: dict):
        L, arrays = self.L, self.arrays[name]
        if spec["kind"] == "lif":
            t = spec["tags"][self.tag]
            u, v = self._lif_states(name, spec, arrays)
            return L["LIF"](shape=(spec["size"],), u=u, v=v, du=t["du"], dv=t["dv"], bias_mant=t["bias_mant"],
                            bias_exp=t["bias_exp"], vth=t["vth"], name=name)
        weights = self._lava_weights(name, spec, arrays[spec["weight"]])
        kwargs = dict(weights=weights, weight_exp=0, num_weight_bits=8, sign_mode=L["SignMode"][spec["sign_mode"]],
                      name=name)
        if spec["kind"] == "dense":
            return L["Dense"](**kwargs)
        rule = L["Loihi2FLearningRule"](**{**spec["rules"][self.tag], "rng_seed": self._rule_seed(name)})
        return L["LearningDense"](learning_rule=rule, **kwargs)

    def _native_map(self, owner: str, var: str) -> tuple[str | None, float]:
        """(Lava variable, model units per Lava unit) of a native owner's model variable."""
        spec = self.m.NATIVE[owner]
        if spec["kind"] == "lif":
            sigma = spec["tags"][self.tag]["sigma"]
            if var == spec["v"]:
                return "v", sigma
            if var == spec["u"]:
                return "u", sigma / spec["kappa"]
            return None, 1.0
        if var == spec["weight"]:
            return "weights", spec["scales"][self.tag]
        if var == spec.get("tag"):
            return "tag_1", spec["tag_scales"][self.tag]
        if var in spec["traces"]:
            lava, scales = spec["traces"][var]
            return lava, scales[self.tag]
        return None, 1.0

    def _native_get(self, owner: str, var: str) -> numpy.ndarray:
        spec = self.m.NATIVE[owner]
        shape = self.arrays[owner][var].shape
        lava, scale = self._native_map(owner, var)
        if spec["kind"] == "lif" and var == "spike":
            return numpy.asarray(self.taps[owner].spike.get(), dtype=float).reshape(shape)
        if lava is None:        # a LIF's input port: cleared every step; deliveries in flight show
            value = numpy.zeros(shape)
            return self._with_in_flight(owner, var, value)
        raw = numpy.asarray(getattr(self.procs[owner], lava).get(), dtype=float)
        if lava == "weights" and self.kernels[owner].LAYOUT == "one_to_one":
            raw = numpy.diag(raw)
        return (raw * scale).reshape(shape)

    def _native_set(self, owner: str, var: str, value: numpy.ndarray) -> None:
        spec = self.m.NATIVE[owner]
        shape = self.arrays[owner][var].shape
        if value.shape != shape:
            raise ValueError(f"`{owner}.{var}` has shape {shape}, got {value.shape}")
        lava, scale = self._native_map(owner, var)
        if lava is None:
            raise ValueError(f"`{owner}.{var}` has no counterpart in Lava's {spec['kind']} process")
        if lava == "weights":
            raw = self._lava_weights(owner, spec, value)
        else:
            raw = value / scale
            if self.tag == "fixed_pt":
                raw = numpy.round(raw)
        target = getattr(self.procs[owner], lava)
        target.set(numpy.asarray(raw, dtype=float).reshape(target.shape))

    def _native_reset(self, owner: str, cmd: int = R.RESET_STATES) -> None:
        spec = self.m.NATIVE[owner]
        kernel, arrays, params = self.kernels[owner], self.arrays[owner], self.params[owner]
        proc = self.procs[owner]
        if spec["kind"] == "lif":
            kernel.init(arrays, params, self._step)
            u, v = self._lif_states(owner, spec, arrays)
            proc.u.set(u.astype(float))
            proc.v.set(v.astype(float))
            self.taps[owner].spike.set(numpy.zeros(self.taps[owner].spike.shape))
            return
        if cmd & R.RESET_TRACES and spec["kind"] == "learning_dense":
            for lava in ("x1", "x2", "y1", "y2", "y3"):
                var = getattr(proc, lava)
                var.set(numpy.zeros(var.shape))
        if cmd & R.RESET_SYN_STATES and spec.get("tag") and spec["tag"] not in kernel.INIT:
            kernel.reset(arrays, params, self._step, True)
            self._native_set(owner, spec["tag"], arrays[spec["tag"]])
        delay, natural = kernel.DELAY, kernel.NATURAL_DELAY
        if cmd & (R.DROP_NATURAL if delay == natural else R.DROP_DELAYED):
            proc.a_buff.set(numpy.zeros(proc.a_buff.shape))


def tap_classes():
    """A small process that keeps a native LIF's last spikes readable (`POP.spike`)."""
    global _TAPS
    if _TAPS is None:
        from lava.magma.core.decorator import implements, requires, tag
        from lava.magma.core.model.py.model import PyLoihiProcessModel
        from lava.magma.core.model.py.ports import PyInPort
        from lava.magma.core.model.py.type import LavaPyType
        from lava.magma.core.process.ports.ports import InPort
        from lava.magma.core.process.process import AbstractProcess
        from lava.magma.core.process.variable import Var
        from lava.magma.core.resources import CPU
        from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

        class SpikeTap(AbstractProcess):
            def __init__(self, size: int, **kw) -> None:
                super().__init__(**kw)
                self.a_in = InPort(shape=(size,))
                self.spike = Var(shape=(1, size), init=0.0)

        @implements(proc=SpikeTap, protocol=LoihiProtocol)
        @requires(CPU)
        @tag("floating_pt", "fixed_pt")
        class SpikeTapModel(PyLoihiProcessModel):
            a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, numpy.float64)
            spike: numpy.ndarray = LavaPyType(numpy.ndarray, numpy.float64)

            def run_spk(self) -> None:
                self.spike[0] = self.a_in.recv() != 0

        _TAPS = (SpikeTap, SpikeTapModel)
    return _TAPS


_TAPS = None
