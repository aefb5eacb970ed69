"""The ODE solver stage: which integrator each block gets, and that its updates are right.

Updates are evaluated with `sympy.lambdify` (numpy, float64) and chained the way the
IR program applies them: the choices one after another in the returned order, the
updates of one choice simultaneously. Exact propagators are compared with closed-form
solutions; RK4 / exponential Euler with `solve_ivp` at rtol 1e-10.
"""

import functools

import numpy as np
import pytest
import scipy.linalg
import sympy
from scipy.integrate import solve_ivp

from snnlang.ir.solvers import OdeSystem, SolverChoice, SolverError, solve

DT, T = sympy.symbols("dt t")
EPS = np.finfo(float).eps
# F.Where / F.Eq (runtime-safe degenerate branches) as numpy sees them
MODULES = [{"Where": lambda c, a, b: np.where(c, a, b), "Eq": lambda a, b: np.equal(a, b)}, "numpy"]


def syms(names: str):
    return sympy.symbols(names)


def choose(variables, rhs, constants, methods=None) -> tuple[SolverChoice, ...]:
    system = OdeSystem(tuple(variables), tuple(rhs), tuple(methods or (None,) * len(variables)))
    return solve(system, DT, frozenset(constants))


class Stepper:
    """Advance a state dict by one step per call, applying the choices as the IR program does."""

    def __init__(self, choices, params: dict):
        self.params = {str(k): v for k, v in params.items()}
        self.steps = []
        for c in choices:
            exprs = [e for _, e in c.updates]
            args = sorted(set().union(*(e.free_symbols for e in exprs)) | {DT, T}, key=str)
            self.steps.append(([str(v) for v, _ in c.updates], [str(a) for a in args],
                               sympy.lambdify(args, exprs, modules=MODULES)))

    def __call__(self, state: dict, dt: float, t: float) -> dict:
        state = dict(state)
        env = {**self.params, **state, "dt": dt, "t": t}
        with np.errstate(all="ignore"):  # np.where evaluates the generic branch at degenerate values too
            for names, args, f in self.steps:
                new = f(*[env[a] for a in args])
                env.update(zip(names, (float(x) for x in new)))
        return {k: env[k] for k in state}

    def run(self, state: dict, dt: float, n: int) -> dict:
        for k in range(n):
            state = self(state, dt, k * dt)
        return state


def rel(a, b):
    return abs(a - b) / abs(b)


# ------------------------------------------------------------------ exact propagators


def test_exponential_decay_is_the_exact_propagator():
    x, tau = syms("x tau")
    (c,) = choose([x], [-x / tau], {tau})
    assert c.method == "exact" and "exact propagator" in c.reason
    assert c.updates == ((x, x * sympy.exp(-DT / tau)),)  # printable and cheap as it stands
    step = Stepper([c], {tau: 20e-3})
    x0, dt = 1.7, 1e-4
    assert rel(step({"x": x0}, dt, 0.0)["x"], x0 * np.exp(-dt / 20e-3)) < 4 * EPS
    # 1000 chained steps: the propagator is exact, so the only error is rounding,
    # one rounding of exp(-dt/tau) raised to the 1000th power plus 1000 products:
    # <= ~2000 * eps/2 ~ 2.2e-13 relative, below the 1e-12 asked for.
    x1000 = step.run({"x": x0}, dt, 1000)["x"]
    assert rel(x1000, x0 * np.exp(-1000 * dt / 20e-3)) < 1e-12


def test_constant_drive_relaxes_to_its_steady_state():
    v, E, tau, I, C = syms("v E tau I C")
    (c,) = choose([v], [(E - v) / tau + I / C], {E, tau, I, C})
    assert c.method == "exact"
    p = {E: -65e-3, tau: 10e-3, I: 0.3e-9, C: 200e-12}
    v_inf = p[E] + p[I] * p[tau] / p[C]
    v0, dt, n = -70e-3, 1e-4, 1000
    closed = v_inf + (v0 - v_inf) * np.exp(-n * dt / p[tau])
    # exact propagator: rounding only (~n * few eps relative to |v| ~ 0.05)
    assert rel(Stepper([c], p).run({"v": v0}, dt, n)["v"], closed) < 1e-12


def test_alpha_kernel_with_equal_time_constants():
    g, h, tau = syms("g h tau")
    (c,) = choose([g, h], [-g / tau + h, -h / tau], {tau})
    assert c.method == "exact" and c.variables == (g, h)
    assert "coupled linear system {g, h}" in c.reason
    tau_v, g0, h0, dt, n = 5e-3, 0.2, 40.0, 1e-4, 1000
    out = Stepper([c], {tau: tau_v}).run({"g": g0, "h": h0}, dt, n)
    t = n * dt
    # repeated eigenvalue -1/tau: g(t) = (g0 + h0 t) e^{-t/tau}, h(t) = h0 e^{-t/tau}
    assert rel(out["h"], h0 * np.exp(-t / tau_v)) < 1e-12
    assert rel(out["g"], (g0 + h0 * t) * np.exp(-t / tau_v)) < 1e-12


def _membrane_closed_form(t, v0, g0, h0, R, tau, tau_m):
    """dv/dt = (-v + R g)/tau_m driven by the alpha kernel g = (g0 + h0 s) e^{-s/tau}."""
    k = 1 / tau - 1 / tau_m
    if k == 0:
        integral = g0 * t + h0 * t * t / 2
    else:  # int_0^t (g0 + h0 s) e^{-k s} ds
        integral = g0 * (1 - np.exp(-k * t)) / k + h0 * (1 - np.exp(-k * t) * (1 + k * t)) / k**2
    return np.exp(-t / tau_m) * (v0 + R / tau_m * integral)


@pytest.mark.parametrize("tau_m_value", [20e-3, 5e-3])
def test_alpha_synapse_into_membrane_is_one_exact_system(tau_m_value):
    # different symbols: the second case sets tau_m = tau at runtime, which the generic
    # propagator (it divides by tau - tau_m) cannot do; its Where branch must take over
    g, h, v, tau, tau_m, R = syms("g h v tau tau_m R")
    choices = choose([v, g, h], [(-v + R * g) / tau_m, -g / tau + h, -h / tau], {tau, tau_m, R})
    assert len(choices) == 1
    (c,) = choices
    assert c.method == "exact" and set(c.variables) == {g, h, v}
    assert "coupled linear system {v, g, h}" in c.reason and "tau_m = tau" in c.reason
    p = {tau: 5e-3, tau_m: tau_m_value, R: 1e-3}
    s0, dt, n = {"v": -2e-3, "g": 0.5, "h": 30.0}, 1e-4, 1000
    out = Stepper([c], p).run(s0, dt, n)
    closed = _membrane_closed_form(n * dt, s0["v"], s0["g"], s0["h"], p[R], p[tau], tau_m_value)
    # exact propagator; the generic form cancels between e^{-t/tau} and e^{-t/tau_m}
    # terms of similar size (tau/(tau_m - tau) = 1/3 here), so a few more roundings:
    # still ~1e3 * eps ~ 2e-13 relative
    assert rel(out["v"], closed) < 1e-12


def test_alpha_synapse_into_membrane_with_one_shared_time_constant():
    g, h, v, tau, R = syms("g h v tau R")
    (c,) = choose([g, h, v], [-g / tau + h, -h / tau, (-v + R * g) / tau], {tau, R})
    assert c.method == "exact" and "Where" not in str(c.updates)  # nothing to guard
    p = {tau: 8e-3, R: 2e-3}
    s0, dt, n = {"v": 1e-3, "g": 0.1, "h": 50.0}, 1e-4, 1000
    out = Stepper([c], p).run(s0, dt, n)
    closed = _membrane_closed_form(n * dt, s0["v"], s0["g"], s0["h"], p[R], p[tau], p[tau])
    assert rel(out["v"], closed) < 1e-12  # exact; rounding only, as above


def test_pure_integrator_and_drive_linear_in_time():
    x, I, C, tau, k = syms("x I C tau k")
    (c,) = choose([x], [I / C], {I, C})
    assert c.method == "exact" and sympy.simplify(c.updates[0][1] - (x + DT * I / C)) == 0
    # t enters linearly: integrated exactly as a state with dt/dt = 1
    (c,) = choose([x], [-x / tau + k * T], {tau, k})
    assert c.method == "exact"
    p = {tau: 10e-3, k: 3.0}
    x0, dt, n = 0.4, 1e-4, 1000
    t = n * dt
    closed = p[k] * p[tau] * (t - p[tau]) + (x0 + p[k] * p[tau] ** 2) * np.exp(-t / p[tau])
    # exact; 1e-11 since the two terms of the closed form cancel to ~1/4 of their size
    assert rel(Stepper([c], p).run({"x": x0}, dt, n)["x"], closed) < 1e-11


def _augmented(A, b):
    n = len(b)
    M = np.zeros((n + 1, n + 1))
    M[:n, :n], M[:n, n] = A, b
    return M


@functools.cache
def _two_synapses():
    v, g1, h1, g2, h2, t1, t2, tm, R, I = syms("v g1 h1 g2 h2 tau1 tau2 tau_m R I")
    rhs = [(-v + R * (g1 + g2)) / tm + I, -g1 / t1 + h1, -h1 / t1, -g2 / t2 + h2, -h2 / t2]
    return choose([v, g1, h1, g2, h2], rhs, {t1, t2, tm, R, I}), (t1, t2, tm, R, I)


@pytest.mark.parametrize("taus", [(5e-3, 3e-3, 20e-3), (5e-3, 5e-3, 20e-3), (5e-3, 3e-3, 5e-3),
                                  (4e-3, 4e-3, 4e-3)])
def test_two_alpha_synapses_into_a_membrane_match_the_matrix_exponential(taus):
    # every runtime coincidence of the three time constants takes its own branch
    (c,), (t1, t2, tm, R, I) = _two_synapses()
    a1, a2, am = taus
    A = np.array([[-1 / am, 1e-3 / am, 0, 1e-3 / am, 0], [0, -1 / a1, 1, 0, 0], [0, 0, -1 / a1, 0, 0],
                  [0, 0, 0, -1 / a2, 1], [0, 0, 0, 0, -1 / a2]])
    b = np.array([0.5, 0, 0, 0, 0])
    dt, s0 = 2e-4, np.array([-1e-3, 0.3, 20.0, -0.1, 10.0])
    want = (scipy.linalg.expm(_augmented(A, b) * dt) @ np.append(s0, 1))[:5]
    got = Stepper([c], {t1: a1, t2: a2, tm: am, R: 1e-3, I: 0.5})(dict(zip("v g1 h1 g2 h2".split(), s0)), dt, 0)
    # expm is accurate to ~1e-15 here; the closed forms lose a few digits to the
    # cancellation of tau_i/(tau_i - tau_j) terms (ratios up to 2.5): 1e-12 leaves margin
    for name, w in zip("v g1 h1 g2 h2".split(), want):
        assert rel(got[name], w) < 1e-12, name


def test_oscillatory_linear_system_gets_a_real_propagator():
    v, w, tau, om = syms("v w tau omega")
    (c,) = choose([v, w], [-v / tau - om * w, om * v - w / tau], {tau, om})
    assert c.method == "exact" and not c.updates[0][1].has(sympy.I)
    p = {tau: 10e-3, om: 2 * np.pi * 40}
    A = np.array([[-1 / p[tau], -p[om]], [p[om], -1 / p[tau]]])
    dt, s0 = 1e-4, np.array([1.0, -0.5])
    want = scipy.linalg.expm(A * dt) @ s0
    got = Stepper([c], p)({"v": s0[0], "w": s0[1]}, dt, 0)
    assert rel(got["v"], want[0]) < 1e-13 and rel(got["w"], want[1]) < 1e-13  # one step, exact


def test_linear_system_whose_spectrum_depends_on_parameter_signs_uses_rk4():
    v, w, a, b, k, tau = syms("v w a b k tau")
    (c,) = choose([v, w], [a * v + b * w, k * v - w / tau], {a, b, k, tau})
    assert c.method == "rk4" and "sqrt" in c.reason
    with pytest.raises(SolverError, match="no closed-form real propagator"):
        choose([v, w], [a * v + b * w, k * v - w / tau], {a, b, k, tau}, ["exact", None])


def test_removable_singularity_of_a_conductance_gets_its_own_branch():
    v, gL, EL, I, C = syms("v g_L E_L I C")
    (c,) = choose([v], [(gL * (EL - v) + I) / C], {gL, EL, I, C})
    assert "g_L = 0" in c.reason
    step = Stepper([c], {gL: 0.0, EL: -0.07, I: 1e-10, C: 1e-10})
    assert rel(step({"v": -0.07}, 1e-4, 0)["v"], -0.07 + 1e-4) < 4 * EPS  # a pure integrator


# ------------------------------------------------------------------ nonlinear neurons


def _integrate(choices, params, state0, dt, t_end):
    return Stepper(choices, params).run(dict(state0), dt, round(t_end / dt))


def _reference(f, y0, t_end):
    # DOP853 tighter than rtol 1e-10: at 1e-10 the reference's own error (~5e-9 mV at
    # |v| ~ 50 mV) exceeds RK4's at dt = 0.01 ms (~3e-10 mV) and would hide its order
    sol = solve_ivp(f, (0, t_end), y0, method="DOP853", rtol=1e-13, atol=1e-13)
    assert sol.success
    return sol.y[:, -1]


IZH = dict(a=0.02, b=0.2, I=10.0)  # ms, mV: regular spiking, strong drive


def test_izhikevich_is_rk4_and_matches_solve_ivp_to_fourth_order():
    v, u, a, b, I = syms("v u a b I")
    rhs = [sympy.Float(0.04) * v**2 + 5 * v + 140 - u + I, a * (b * v - u)]
    (c,) = choose([v, u], rhs, {a, b, I})
    # du/dt alone is linear in u, but it is coupled to v (v**2): one RK4 on the block
    assert c.method == "rk4" and c.variables == (v, u)
    assert "nonlinear in v (v**2)" in c.reason and "RK4" in c.reason
    p = {sympy.Symbol(k): x for k, x in IZH.items()}

    def f(_t, y):
        return [0.04 * y[0] ** 2 + 5 * y[0] + 140 - y[1] + IZH["I"], IZH["a"] * (IZH["b"] * y[0] - y[1])]

    # the upstroke before the first spike: v goes -70 -> about -47 mV in 2.4 ms
    # (solve_ivp says v first reaches -40 mV at 2.72 ms)
    t_end, s0 = 2.4, {"v": -70.0, "u": -14.0}
    ref = _reference(f, [-70.0, -14.0], t_end)
    assert ref[0] < -40
    err = {dt: abs(_integrate([c], p, s0, dt, t_end)["v"] - ref[0]) for dt in (0.02, 0.01)}
    # RK4's global error is C dt^4: halving dt divides it by 16 (12..20 allows for the
    # next-order term), which shows we are in that regime (measured: 15). At dt = 0.01 ms
    # it is then ~err(0.02)/16 ~ 3e-10 mV, 6e-12 relative; 1e-10 leaves a margin of 15
    # while a first-order scheme (~1e-4 relative) or a wrong stage fails by far.
    assert 12 < err[0.02] / err[0.01] < 20
    assert err[0.01] / abs(ref[0]) < 1e-10


ADEX = dict(C=0.281, g_L=0.030, E_L=-70.6, V_T=-50.4, Delta_T=2.0, a=0.004, tau_w=144.0, I=0.8)


def test_adex_is_rk4_and_matches_solve_ivp_to_fourth_order():
    v, w, C, gL, EL, VT, DT_, a, tw, I = syms("v w C g_L E_L V_T Delta_T a tau_w I")
    rhs = [(-gL * (v - EL) + gL * DT_ * sympy.exp((v - VT) / DT_) - w + I) / C, (a * (v - EL) - w) / tw]
    (c,) = choose([v, w], rhs, {C, gL, EL, VT, DT_, a, tw, I})
    assert c.method == "rk4" and "nonlinear in v (exp((-V_T + v)/Delta_T))" in c.reason
    P = ADEX
    p = {sympy.Symbol(k): x for k, x in P.items()}

    def f(_t, y):
        dv = (-P["g_L"] * (y[0] - P["E_L"]) + P["g_L"] * P["Delta_T"] * np.exp((y[0] - P["V_T"]) / P["Delta_T"])
              - y[1] + P["I"]) / P["C"]
        return [dv, (P["a"] * (y[0] - P["E_L"]) - y[1]) / P["tau_w"]]

    # ms, mV, nA, uS, nF (Brette & Gerstner 2005); solve_ivp: v first reaches -45 mV at 17.1 ms
    t_end, s0 = 16.0, {"v": -70.6, "w": 0.0}
    ref = _reference(f, [-70.6, 0.0], t_end)
    assert ref[0] < -45
    err = {dt: abs(_integrate([c], p, s0, dt, t_end)["v"] - ref[0]) for dt in (0.04, 0.02, 0.01)}
    # O(dt^4) (measured ratio 18) on the coarser pair: at dt = 0.01 ms RK4's error
    # (~3e-12 mV) is near the reference's own (~5e-12 mV), so the ratio would be noise.
    assert 12 < err[0.04] / err[0.02] < 20
    # C dt^4 from the dt = 0.02 run: ~2e-12 mV at 0.01 ms, 4e-14 relative; 1e-12
    # covers it plus the reference's error with margin
    assert err[0.01] / abs(ref[0]) < 1e-12


def test_conductance_based_membrane_is_exponential_euler_fed_by_an_exact_conductance():
    v, ge, gL, EL, Ee, C, te = syms("v g_e g_L E_L E_e C tau_e")
    choices = choose([v, ge], [(gL * (EL - v) + ge * (Ee - v)) / C, -ge / te], {gL, EL, Ee, C, te})
    assert [(c.variables, c.method) for c in choices] == [((v,), "exponential_euler"), ((ge,), "exact")]
    assert "conditionally linear in v" in choices[0].reason
    assert "g_e solved separately, taken at the start of the step" in choices[0].reason
    P = dict(g_L=0.01, E_L=-65.0, E_e=0.0, C=0.2, tau_e=5.0)  # ms, mV, uS, nF
    p = {sympy.Symbol(k): x for k, x in P.items()}

    def f(_t, y):
        return [(P["g_L"] * (P["E_L"] - y[0]) + y[1] * (P["E_e"] - y[0])) / P["C"], -y[1] / P["tau_e"]]

    t_end, s0 = 10.0, {"v": -65.0, "g_e": 0.05}
    ref = _reference(f, [-65.0, 0.05], t_end)
    out = {dt: _integrate(choices, p, s0, dt, t_end) for dt in (0.02, 0.01)}
    # g_e is exact: 1000 chained roundings at most, ~1e-13 relative
    assert rel(out[0.01]["g_e"], 0.05 * np.exp(-t_end / P["tau_e"])) < 1e-12
    # v sees g_e frozen over each step: a first-order splitting, so the error halves
    # with dt (1.7..2.3). Size: per step ~ dt^2/2 |dg_e/dt| |E_e - v| / C ~ 1.6e-4 mV,
    # remembered over C/(g_L + g_e) ~ 3 ms ~ 300 steps: at most ~0.05 mV (1.5e-3
    # relative at v ~ -32 mV); measured 0.019 mV.
    err = {dt: abs(o["v"] - ref[0]) for dt, o in out.items()}
    assert 1.7 < err[0.02] / err[0.01] < 2.3
    assert err[0.01] / abs(ref[0]) < 1.5e-3


# ------------------------------------------------------------------ overrides and structure


def test_forced_euler_and_rk4_on_a_linear_ode():
    x, tau = syms("x tau")
    (c,) = choose([x], [-x / tau], {tau}, ["euler"])
    assert c.method == "euler" and c.reason == "user asked for euler"
    assert sympy.simplify(c.updates[0][1] - (x - DT * x / tau)) == 0
    (c,) = choose([x], [-x / tau], {tau}, ["rk4"])
    assert c.method == "rk4" and c.reason == "user asked for rk4"
    h = 0.05  # dt/tau: RK4 on a linear ODE is the degree-4 Taylor polynomial of e^{-h}
    got = Stepper([c], {tau: 2e-3})({"x": 1.0}, h * 2e-3, 0)["x"]
    assert rel(got, 1 - h + h**2 / 2 - h**3 / 6 + h**4 / 24) < 4 * EPS
    (c,) = choose([x], [-x / tau], {tau}, ["exponential_euler"])
    assert c.method == "exponential_euler" and sympy.simplify(c.updates[0][1] - x * sympy.exp(-DT / tau)) == 0


def test_forcing_exact_on_izhikevich_names_the_variable():
    v, u, a, b, I = syms("v u a b I")
    rhs = [sympy.Rational(1, 25) * v**2 + 5 * v + 140 - u + I, a * (b * v - u)]
    with pytest.raises(SolverError, match=r"`dv/dt` is not linear in v \(term v\*\*2\): exact") as e:
        choose([v, u], rhs, {a, b, I}, ["exact", None])
    assert e.value.variable == v and "use rk4" in str(e.value)
    with pytest.raises(SolverError, match="`du/dt` is solved together with `dv/dt`") as e:
        choose([v, u], rhs, {a, b, I}, [None, "exact"])
    assert e.value.variable == u
    with pytest.raises(SolverError, match="exponential Euler is impossible") as e:
        choose([v, u], rhs, {a, b, I}, ["exponential_euler", None])
    assert e.value.variable == v


def test_conflicting_overrides_in_one_block_raise():
    g, h, tau = syms("g h tau")
    with pytest.raises(SolverError, match="different methods") as e:
        choose([g, h], [-g / tau + h, -h / tau + g], {tau}, ["rk4", "euler"])
    assert e.value.variable == h
    # different blocks may differ
    (cg,), (ch,) = [c for c in choose([g, h], [-g / tau + h, -h / tau], {tau}, ["rk4", "euler"])
                    if c.variables == (g,)], [c for c in choose([g, h], [-g / tau + h, -h / tau], {tau},
                                                                 ["rk4", "euler"]) if c.variables == (h,)]
    assert (cg.method, ch.method) == ("rk4", "euler")


def test_exact_is_refused_when_a_coefficient_changes_during_the_step():
    v, ge, C, te = syms("v g_e C tau_e")
    with pytest.raises(SolverError, match="coefficient of v depends on g_e") as e:
        choose([v, ge], [-ge * v / C, -ge / te], {C, te}, ["exact", None])
    assert e.value.variable == v and "use exponential_euler or rk4" in str(e.value)


def test_unknown_method_is_a_solver_error():
    x, tau = syms("x tau")
    with pytest.raises(SolverError, match="unknown integration method 'rk5'"):
        choose([x], [-x / tau], {tau}, ["rk5"])


def test_linear_block_fed_by_a_nonlinear_one_reads_it_at_the_start_of_the_step():
    x, w, tau = syms("x w tau")
    choices = choose([w, x], [-(w**3), -x / tau + w], {tau})
    # dependents first, so that sequential application reads w before it is advanced
    assert [(c.variables, c.method) for c in choices] == [((x,), "exact"), ((w,), "rk4")]
    assert "w solved separately, taken at the start of the step" in choices[0].reason
    out = Stepper(choices, {tau: 1.0})({"x": 0.0, "w": 1.0}, 0.1, 0)
    assert rel(out["x"], 1.0 * (1 - np.exp(-0.1))) < 4 * EPS  # w = 1 held over the step


def test_other_states_are_held_constant_and_said_so():
    x, y, tau = syms("x y tau")
    (c,) = choose([x], [-x / tau + y], {tau})
    assert c.method == "exact" and "y held constant over the step" in c.reason


def test_time_dependent_nonlinear_drive_uses_rk4_with_staged_time():
    x = sympy.Symbol("x")
    (c,) = choose([x], [sympy.sin(T)], set())
    assert c.method == "rk4" and "nonlinear in t (sin(t))" in c.reason
    got = Stepper([c], {})({"x": 0.0}, 0.1, 0.3)["x"]
    want = np.cos(0.3) - np.cos(0.4)  # Simpson's rule, which RK4 reduces to: error ~ dt^5/2880
    assert abs(got - want) < 1e-8
