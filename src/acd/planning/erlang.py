"""Queueing formulas that turn a call forecast into a head-count.

Supervisors size each interval for a service level such as "75 % of calls answered
within 25 s".  Three textbook models are provided:

* **Erlang B** (M/M/N/N, blocked calls lost) is only a building block here, but its
  recursion is the numerically stable way into Erlang C and Erlang A::

      B(0, A) = 1,    B(n, A) = A·B(n−1, A) / (n + A·B(n−1, A))

  Every step maps a probability into (0, 1] with a contracting map, so rounding errors
  shrink instead of growing; there are no factorials or powers that overflow (5,000
  agents at 4,900 Erlangs is routine) and tiny values underflow harmlessly to 0.

* **Erlang C** (M/M/N, infinitely patient callers).  With ``A`` Erlangs offered to ``N``
  agents (``A < N``), the probability that a call waits is obtained from Erlang B
  (Cooper, *Introduction to Queueing Theory*, 1981)::

      C(N, A) = N·B / (N − A·(1 − B))

  and, with mean handle time ``AHT`` and threshold ``t``::

      SL(t) = P(wait ≤ t) = 1 − C·exp(−(N − A)·t / AHT)
      ASA   = C·AHT / (N − A)          (mean wait over all calls)
      occupancy = A / N

  With ``N ≤ A`` the queue has no steady state: the service level is 0, every call
  waits, ASA is infinite and agents are 100 % occupied.

* **Erlang A** (M/M/N+M, Palm 1943; Garnett, Mandelbaum & Reiman 2002, "Designing a call
  center with impatient customers") adds exponential patience with mean ``θ``: callers
  who are not answered within their patience hang up.  It is the honest model when the
  contract also limits abandonment, and it stays stable with ``N ≤ A``.  See
  :func:`erlang_a` for the derivation used here.

Time is measured internally in units of the AHT (service rate μ = 1), so the traffic
is ``A = calls·AHT/interval``, the abandonment rate per waiting caller is
``g = AHT/θ`` and the threshold is ``τ = t/AHT``.

The Erlang C search for many intervals at once is vectorised with numpy
(:func:`required_agents_array`), and the scalar functions run the very same kernel, so a
forecast and a one-off question give bit-identical answers.

Long on purpose: the three models, their numerical kernels and the input checks they
share are one derivation; the docstrings carry the formulas, and splitting them would
separate a kernel from the proof of its stability.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "MAX_AGENTS",
    "MAX_TRAFFIC",
    "MAX_QUEUE_STATES",
    "QueueTooLongError",
    "Staffing",
    "average_speed_of_answer",
    "erlang_a",
    "erlang_b",
    "erlang_b_array",
    "erlang_c",
    "erlang_c_arrays",
    "erlang_c_figures",
    "occupancy",
    "required_agents",
    "required_agents_array",
    "scheduled_agents",
    "service_level",
    "staffing_for_agents",
    "traffic_intensity",
]

#: The agent search gives up beyond this head-count (far beyond any contact centre).
MAX_AGENTS = 10_000_000
#: Offered load refused beyond this (100,000 agents busy at once): the searches are
#: linear in the head-count, and 1e12 calls would otherwise run for hours.
MAX_TRAFFIC = 100_000.0
#: Erlang A sums over queue lengths; beyond this many significant states we refuse
#: rather than allocate hundreds of megabytes (only reachable when patience is very
#: long compared with the AHT *and* the interval is heavily overloaded).
MAX_QUEUE_STATES = 2_000_000

# Terms smaller than exp(-_LOG_NEGLIGIBLE) times the largest term are dropped; the
# dropped tail is bounded geometrically, so truncation changes results by < 1e-20.
_LOG_NEGLIGIBLE = 46.0
# Occupancy caps such as 0.85 are not exact binary fractions; A/N is compared with this
# much slack so that 8.5 Erlangs on 10 agents counts as exactly 85 %.
_OCCUPANCY_SLACK = 1e-12
# ceil(N / (1 − shrinkage)) would turn 21 / (1 − 0.3) = 30.000000000000004 into 31.
_SHRINKAGE_SLACK = 1e-9


# --------------------------------------------------------------------------- validation


class QueueTooLongError(ValueError):
    """Erlang A would need more than :data:`MAX_QUEUE_STATES` queue states."""


def _require_finite(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number (got {value!r})")
    return value


def _check_agents(agents: int) -> int:
    if isinstance(agents, bool) or int(agents) != agents or agents < 0:
        raise ValueError(f"agents must be a non-negative integer (got {agents!r})")
    return int(agents)


def _check_traffic(traffic: float) -> float:
    traffic = _require_finite("traffic", traffic)
    if traffic < 0:
        raise ValueError(f"traffic must be >= 0 Erlangs (got {traffic!r})")
    if traffic > MAX_TRAFFIC:
        raise ValueError(f"offered load of {traffic:,.0f} Erlangs (calls x AHT / interval) is over the {MAX_TRAFFIC:,.0f} this calculator handles")
    return traffic


def _check_positive(name: str, value: float) -> float:
    value = _require_finite(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be > 0 (got {value!r})")
    return value


def _check_threshold(threshold_s: float) -> float:
    threshold_s = _require_finite("threshold_s", threshold_s)
    if threshold_s < 0:
        raise ValueError(f"threshold_s must be >= 0 seconds (got {threshold_s!r})")
    return threshold_s


def _check_target(target: float) -> float:
    target = _require_finite("target", target)
    if not 0 < target < 1:
        # 100 % within the threshold is unreachable with random (Poisson) arrivals.
        raise ValueError(f"target must be a fraction in (0, 1) (got {target!r})")
    return target


def _check_fraction_cap(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    value = _require_finite(name, value)
    if not 0 < value <= 1:
        raise ValueError(f"{name} must be in (0, 1] (got {value!r})")
    return value


def _check_shrinkage(shrinkage: float) -> float:
    shrinkage = _require_finite("shrinkage", shrinkage)
    if not 0 <= shrinkage < 1:
        raise ValueError(f"shrinkage must be in [0, 1) (got {shrinkage!r})")
    return shrinkage


def traffic_intensity(calls: float, interval_s: float, aht_s: float) -> float:
    """Offered load in Erlangs, ``A = calls · AHT / interval`` (Little's law).

    Example: 100 calls in 30 minutes with an AHT of 180 s is 10 Erlangs, i.e. on average
    ten agents are busy just to keep up.
    """
    calls = _require_finite("calls", calls)
    if calls < 0:
        raise ValueError(f"calls must be >= 0 (got {calls!r})")
    interval_s = _check_positive("interval_s", interval_s)
    aht_s = _check_positive("aht_s", aht_s)
    return _check_traffic(calls * aht_s / interval_s)


def scheduled_agents(agents: int, shrinkage: float) -> int:
    """Head-count to roster so that ``agents`` remain after shrinkage.

    Shrinkage (breaks, training, absence) removes that fraction of rostered time, so the
    roster needs ``ceil(N / (1 − shrinkage))``.  The quotient is rounded to the nearest
    integer first when it is within 1e-9 of it, because binary floating point turns
    e.g. 21 / (1 − 0.3) into 30.000000000000004, and rostering 31 people for 30 seats is a
    real cost.
    """
    agents = _check_agents(agents)
    shrinkage = _check_shrinkage(shrinkage)
    exact = agents / (1.0 - shrinkage)
    nearest = round(exact)
    if abs(exact - nearest) <= _SHRINKAGE_SLACK * max(1.0, exact):
        return int(nearest)
    return int(math.ceil(exact))


# ------------------------------------------------------------------------------ Erlang B


def erlang_b(agents: int, traffic: float) -> float:
    """Blocking probability of M/M/N/N by the stable recursion (see module docstring).

    ``B(0, A) = 1`` (no agent: every call is blocked), ``B(N, 0) = 0`` for ``N ≥ 1``.
    """
    agents = _check_agents(agents)
    traffic = _check_traffic(traffic)
    b = 1.0
    for n in range(1, agents + 1):
        ab = traffic * b
        b = ab / (n + ab)
    return b


def erlang_b_array(agents: ArrayLike, traffic: ArrayLike) -> NDArray[np.float64]:
    """Element-wise :func:`erlang_b` for arrays (one entry per interval).

    Runs the recursion once up to the largest head-count and freezes each element when
    its own ``N`` is reached, so the cost is ``max(N)`` vector steps.  The arithmetic is
    the same IEEE sequence as the scalar loop, so results are bit-identical.
    """
    n_arr = np.asarray(agents)
    a_arr = np.asarray(traffic, dtype=np.float64)
    n_arr, a_arr = np.broadcast_arrays(n_arr, a_arr)
    if n_arr.size and (np.any(n_arr < 0) or np.any(n_arr != np.floor(n_arr))):
        raise ValueError("agents must be non-negative integers")
    if a_arr.size and (not np.all(np.isfinite(a_arr)) or np.any(a_arr < 0)):
        raise ValueError("traffic must be finite and >= 0 Erlangs")
    n_arr = n_arr.astype(np.int64)
    b = np.ones(a_arr.shape, dtype=np.float64)
    top = int(n_arr.max()) if n_arr.size else 0
    for n in range(1, top + 1):
        ab = a_arr * b
        b = np.where(n <= n_arr, ab / (n + ab), b)
    return b


# ------------------------------------------------------------------------------ Erlang C


def _erlang_c_kernel(
    n: NDArray[Any], a: NDArray[np.float64], b: NDArray[np.float64], aht_s: NDArray[np.float64], threshold_s: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Erlang C figures from an Erlang B value: (P(wait), SL, ASA seconds, occupancy).

    Shared by the scalar functions and the vectorised search so both agree bit for bit.
    """
    n = np.asarray(n, dtype=np.float64)
    stable = n > a
    idle = a == 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        spare = n - a
        c = np.where(stable, n * b / (n - a * (1.0 - b)), 1.0)
        sl = np.where(stable, 1.0 - c * np.exp(-spare * threshold_s / aht_s), 0.0)
        asa = np.where(stable, c * aht_s / spare, np.inf)
        occ = np.where(n > 0, np.minimum(a / n, 1.0), 0.0)
    c = np.where(idle, 0.0, c)
    sl = np.where(idle, 1.0, sl)
    asa = np.where(idle, 0.0, asa)
    return c, sl, asa, occ


def erlang_c_arrays(
    agents: ArrayLike, traffic: ArrayLike, aht_s: ArrayLike, threshold_s: ArrayLike
) -> dict[str, NDArray[np.float64]]:
    """Erlang C figures for many intervals at once.

    Returns arrays ``p_wait``, ``service_level``, ``asa_seconds`` and ``occupancy``,
    broadcast over the inputs (formulas in the module docstring).
    """
    n_arr, a_arr, aht_arr, thr_arr = np.broadcast_arrays(
        np.asarray(agents), np.asarray(traffic, dtype=np.float64), np.asarray(aht_s, dtype=np.float64), np.asarray(threshold_s, dtype=np.float64)
    )
    if aht_arr.size and (not np.all(np.isfinite(aht_arr)) or np.any(aht_arr <= 0)):
        raise ValueError("aht_s must be finite and > 0")
    if thr_arr.size and (not np.all(np.isfinite(thr_arr)) or np.any(thr_arr < 0)):
        raise ValueError("threshold_s must be finite and >= 0")
    b = erlang_b_array(n_arr, a_arr)
    c, sl, asa, occ = _erlang_c_kernel(n_arr, a_arr, b, aht_arr, thr_arr)
    return {"p_wait": c, "service_level": sl, "asa_seconds": asa, "occupancy": occ}


def _scalar_c(agents: int, traffic: float, aht_s: float, threshold_s: float) -> tuple[float, float, float, float]:
    agents = _check_agents(agents)
    traffic = _check_traffic(traffic)
    aht_s = _check_positive("aht_s", aht_s)
    threshold_s = _check_threshold(threshold_s)
    b = erlang_b(agents, traffic)
    c, sl, asa, occ = _erlang_c_kernel(
        np.asarray(agents), np.asarray(traffic), np.asarray(b), np.asarray(aht_s), np.asarray(threshold_s)
    )
    return float(c), float(sl), float(asa), float(occ)


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a call has to wait, ``C = N·B / (N − A(1 − B))`` (1 when ``N ≤ A``)."""
    return _scalar_c(agents, traffic, 1.0, 0.0)[0]


def service_level(agents: int, traffic: float, aht_s: float, threshold_s: float) -> float:
    """Erlang C ``P(wait ≤ t) = 1 − C·exp(−(N − A)·t/AHT)``; 0 when ``N ≤ A``, 1 with no traffic."""
    return _scalar_c(agents, traffic, aht_s, threshold_s)[1]


def average_speed_of_answer(agents: int, traffic: float, aht_s: float) -> float:
    """Erlang C mean wait over all calls, ``ASA = C·AHT/(N − A)`` (infinite when ``N ≤ A``)."""
    return _scalar_c(agents, traffic, aht_s, 0.0)[2]


def occupancy(agents: int, traffic: float) -> float:
    """Fraction of agent time spent on calls, ``A/N``, capped at 1 (0 with no agents)."""
    return _scalar_c(agents, traffic, 1.0, 0.0)[3]


# ------------------------------------------------------------------------------ Erlang A


def _log_b(agents: int, traffic: float) -> float:
    """``log B(N, A)`` by the same recursion carried in log space, which cannot underflow.

    ``log B_n = log A + log B_{n−1} − log(n + A·B_{n−1})``: when ``B`` is far below the
    smallest float, ``A·B_{n−1}`` just vanishes next to ``n``, and the logarithm keeps the
    information Erlang A needs to weigh the waiting states against the idle ones.
    """
    if agents == 0:
        return 0.0
    log_a = math.log(traffic)
    lb = 0.0
    for n in range(1, agents + 1):
        lb = log_a + lb - math.log(n + math.exp(log_a + lb))
    return lb


def _queue_log_weights(agents: int, traffic: float, g: float) -> NDArray[np.float64]:
    """``log(π_{N+k}/π_N)`` for ``k = 0, 1, …`` until the rest is negligible.

    In the birth–death chain of Erlang A the state ``N + k`` (``k`` callers queued) is left
    downwards at rate ``N + k·g``, so ``π_{N+k}/π_N = Π_{j=1..k} A/(N + j·g)``.  The ratio
    of successive terms falls below 1 once ``N + k·g > A``; from then on the tail is
    bounded by a geometric series, which decides where to stop.  Cumulative sums of
    logarithms keep overloaded intervals (peak far from ``k = 0``) finite.
    """
    log_a = math.log(traffic)
    parts: list[NDArray[np.float64]] = [np.zeros(1)]
    last = 0.0
    best = 0.0
    start = 1
    peak = max(0.0, (traffic - agents) / g)
    size = int(min(MAX_QUEUE_STATES, 256.0 + 2.0 * peak))  # doubled below until the tail is negligible
    while True:
        j = np.arange(start, start + size, dtype=np.float64)
        seg = last + np.cumsum(log_a - np.log(agents + j * g))
        parts.append(seg)
        best = max(best, float(seg.max()))
        last = float(seg[-1])
        start += size
        ratio = traffic / (agents + start * g)
        if ratio < 1.0 and last + math.log(ratio / (1.0 - ratio)) < best - _LOG_NEGLIGIBLE:
            break
        if start > MAX_QUEUE_STATES:
            raise QueueTooLongError(
                f"Erlang A needs more than {MAX_QUEUE_STATES:,} queue states: patience is too long "
                "compared with the AHT for such an overloaded interval (use Erlang C or a shorter patience)"
            )
        size *= 2
    weights = np.concatenate(parts)
    keep = np.nonzero(weights >= best - _LOG_NEGLIGIBLE - 10.0)[0]
    return weights[: int(keep[-1]) + 1]


def _negbin_upper_tail(b: float, log_u: float, count: int) -> NDArray[np.float64]:
    """``P(X ≥ k+1)`` for ``k = 0..count−1``, X negative binomial (``b`` successes, success prob ``u``).

    ``X`` counts failures before the ``b``-th success: ``P(X = j) = Γ(b+j)/(Γ(b) j!) u^b (1−u)^j``.
    Small upper tails are summed from the far end (no cancellation); tails near 1 as
    ``1 − CDF`` (accurate there).
    """
    log_1mu = math.log(-math.expm1(log_u))
    log_q0 = b * log_u

    def log_pmf(stop: int) -> NDArray[np.float64]:
        j = np.arange(1, stop, dtype=np.float64)
        return np.concatenate(([log_q0], log_q0 + np.cumsum(np.log(b + j - 1.0) - np.log(j) + log_1mu)))

    lq = log_pmf(count)
    cdf = np.cumsum(np.exp(lq))
    tail = np.clip(1.0 - cdf, 0.0, 1.0)
    if cdf[-1] <= 0.5:
        return tail
    # Some tails are below one half: sum them from the far end.  The pmf ratio
    # q_{j+1}/q_j = (b+j)(1−u)/(j+1) decreases to (1−u) < 1, which bounds what is left.
    stop = count + max(count, 1024)
    while True:
        lq = log_pmf(stop)
        ratio = (b + stop - 1.0) * math.exp(log_1mu) / stop
        if ratio < 1.0 and lq[-1] + math.log(ratio / (1.0 - ratio)) < float(lq.max()) - _LOG_NEGLIGIBLE:
            break
        if stop > 4 * MAX_QUEUE_STATES:
            return tail  # absolute accuracy of 1 − CDF is still ~1e-16
        stop *= 2
    q = np.exp(lq)
    from_end = np.cumsum(q[::-1])[::-1]  # from_end[i] = Σ_{j ≥ i} q_j
    exact_tail = from_end[1 : count + 1]
    return np.where(cdf <= 0.5, tail, exact_tail)


def _erlang_a_kernel(agents: int, traffic: float, g: float, tau: float) -> tuple[float, float, float, float, float]:
    """Erlang A in AHT time units: (P(wait), P(abandon), SL, ASA in AHTs, occupancy).

    Steady state (PASTA: an arriving caller sees the time-stationary distribution):

    * ``π_n ∝ A^n/n!`` for ``n ≤ N``; the idle states sum to ``π_N·(1/B − 1)``.
    * ``π_{N+k} = π_N·Π_{j=1..k} A/(N + j·g)`` for queued callers.

    A caller who finds ``k`` callers queued ahead moves up one place at rate ``N + j·g``
    (a service ends or someone ahead hangs up) while abandoning at rate ``g`` itself.  For
    competing exponential clocks the duration of each step is independent of which clock
    rang, so:

    * ``P(answered | k) = Π_{j=0..k} (N+j·g)/(N+(j+1)·g) = N/(N+(k+1)·g)`` (telescoping);
    * the time to answer is a sum of exponentials with rates ``(a+i)·g``, ``a = N/g``,
      ``i = 1..k+1``: the ``(k+1)``-th order statistic of ``a+k+1`` exponential(g) clocks,
      whose CDF is ``I_{1−u}(k+1, a+1)`` with ``u = exp(−g·τ)``, i.e. the upper tail
      ``P(X ≥ k+1)`` of a negative binomial with ``a+1`` successes of probability ``u``;
    * the mean of that time is ``Σ_{j=0..k} 1/(N+(j+1)·g)``.
    """
    if traffic == 0.0:
        return 0.0, 0.0, 1.0, 0.0, 0.0
    log_b = _log_b(agents, traffic)
    # Idle states relative to π_N: 1/B − 1 = expm1(−log B), kept as a logarithm.
    y = -log_b
    log_idle = -math.inf if y == 0.0 else y + math.log(-math.expm1(-y))
    lw = _queue_log_weights(agents, traffic, g)
    top = max(float(lw.max()), log_idle)
    w = np.exp(lw - top)
    idle = math.exp(log_idle - top) if log_idle > -math.inf else 0.0
    total = idle + float(w.sum())
    p = w / total  # P(arrival finds k queued ahead), k = 0..K
    p_idle = idle / total  # P(arrival is answered at once)

    k1 = np.arange(1, p.size + 1, dtype=np.float64)  # k + 1
    step_rate = agents + k1 * g
    answered = agents / step_rate
    p_wait = float(p.sum())
    p_abandon = float(np.sum(p * (k1 * g / step_rate)))
    answered_after_wait = p * answered
    p_answered = p_idle + float(answered_after_wait.sum())
    if p_answered > 0:
        asa = float(np.sum(answered_after_wait * np.cumsum(1.0 / step_rate))) / p_answered
    else:
        asa = math.inf
    if tau == 0.0 or agents == 0:
        sl = p_idle
    else:
        within = _negbin_upper_tail(agents / g + 1.0, -g * tau, p.size)
        sl = p_idle + float(np.sum(answered_after_wait * within))
    occ = traffic * p_answered / agents if agents > 0 else 0.0
    # Sums of probabilities may land an ulp outside [0, 1]; the quantities cannot.
    return min(p_wait, 1.0), min(p_abandon, 1.0), min(sl, 1.0), asa, min(occ, 1.0)


# ------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class Staffing:
    """Figures for one interval at one head-count.

    ``asa_seconds`` is ``math.inf`` when the queue has no steady state (Erlang C with
    ``N ≤ A``); ``abandonment_rate`` is ``None`` for Erlang C, which has no abandonment.
    ``scheduled_agents`` is the roster after shrinkage (equal to ``agents`` without).
    """

    agents: int
    traffic_erlangs: float
    service_level: float
    p_wait: float
    asa_seconds: float
    occupancy: float
    abandonment_rate: float | None = None
    scheduled_agents: int | None = None

    def as_dict(self, *, include_scheduled: bool = True) -> dict[str, Any]:
        """JSON-ready mapping; an infinite ASA becomes ``None`` (JSON has no infinity)."""
        out: dict[str, Any] = {
            "agents": self.agents,
            "traffic_erlangs": self.traffic_erlangs,
            "service_level": self.service_level,
            "p_wait": self.p_wait,
            "asa_seconds": self.asa_seconds if math.isfinite(self.asa_seconds) else None,
            "occupancy": self.occupancy,
        }
        if self.abandonment_rate is not None:
            out["abandonment_rate"] = self.abandonment_rate
        if include_scheduled and self.scheduled_agents is not None:
            out["scheduled_agents"] = self.scheduled_agents
        return out


def erlang_c_figures(agents: int, traffic: float, aht_s: float, threshold_s: float) -> Staffing:
    """All Erlang C figures for ``agents`` agents at ``traffic`` Erlangs."""
    c, sl, asa, occ = _scalar_c(agents, traffic, aht_s, threshold_s)
    return Staffing(agents=int(agents), traffic_erlangs=float(traffic), service_level=sl, p_wait=c, asa_seconds=asa, occupancy=occ)


def erlang_a(agents: int, traffic: float, aht_s: float, patience_s: float, threshold_s: float) -> Staffing:
    """Erlang A (M/M/N+M) figures: P(wait), abandonment, service level, ASA, occupancy.

    Computed exactly from the birth–death chain with birth rate λ and death rate
    ``min(n, N)·μ + max(n − N, 0)/θ`` (Palm; Garnett, Mandelbaum & Reiman 2002), summed
    in log space and truncated only where the remaining probability is below 1e-20
    (details in ``_erlang_a_kernel``).  Definitions:

    * ``p_wait``: probability that a call finds all agents busy (waits at all);
    * ``abandonment_rate``: fraction of offered calls that hang up before an answer;
    * ``service_level``: **calls answered within t / calls offered**, i.e.
      ``P(answered and wait ≤ t)``.  A call that abandons never counts as a success,
      even if it hung up after 3 s: this is what the contract measures (abandoned calls
      are lost business), it cannot be flattered by callers giving up, and it tends to
      the Erlang C service level as patience grows;
    * ``asa_seconds``: mean wait of the *answered* calls (those answered at once count
      with 0), which is how an ACD reports average speed of answer;
    * ``occupancy``: carried load per agent, ``A·(1 − abandonment)/N`` — only answered
      calls occupy agents.
    """
    agents = _check_agents(agents)
    traffic = _check_traffic(traffic)
    aht_s = _check_positive("aht_s", aht_s)
    patience_s = _check_positive("patience_s", patience_s)
    threshold_s = _check_threshold(threshold_s)
    p_wait, p_ab, sl, asa, occ = _erlang_a_kernel(agents, traffic, aht_s / patience_s, threshold_s / aht_s)
    return Staffing(
        agents=agents,
        traffic_erlangs=traffic,
        service_level=sl,
        p_wait=p_wait,
        asa_seconds=asa * aht_s,
        occupancy=occ,
        abandonment_rate=p_ab,
    )


# ------------------------------------------------------------------------------ staffing


def _min_agents_for_occupancy(traffic: float, max_occupancy: float | None) -> int:
    """Smallest ``N`` with ``A/N ≤ max_occupancy`` (with the slack explained above)."""
    if max_occupancy is None or traffic == 0.0:
        return 0
    n = max(1, math.ceil(traffic / max_occupancy) - 1)
    while traffic / n > max_occupancy + _OCCUPANCY_SLACK:
        n += 1
    return n


def required_agents_array(
    traffic: ArrayLike,
    aht_s: ArrayLike,
    threshold_s: float,
    target: float,
    max_occupancy: float | None = None,
) -> NDArray[np.int64]:
    """Smallest Erlang C head-count per interval meeting ``target`` and ``max_occupancy``.

    All intervals advance the Erlang B recursion together, one agent per step; an
    interval is settled at the first ``N`` whose service level reaches the target and
    whose occupancy ``A/N`` is within the cap.  Both are monotone in ``N``, so the first
    hit is the minimum.  Intervals without traffic need no agent.
    """
    a, aht = np.broadcast_arrays(np.asarray(traffic, dtype=np.float64), np.asarray(aht_s, dtype=np.float64))
    if a.size and (not np.all(np.isfinite(a)) or np.any(a < 0)):
        raise ValueError("traffic must be finite and >= 0 Erlangs")
    if aht.size and (not np.all(np.isfinite(aht)) or np.any(aht <= 0)):
        raise ValueError("aht_s must be finite and > 0")
    thr = np.asarray(_check_threshold(threshold_s), dtype=np.float64)
    target = _check_target(target)
    max_occupancy = _check_fraction_cap("max_occupancy", max_occupancy)
    floor_occ = np.array([_min_agents_for_occupancy(float(x), max_occupancy) for x in a.ravel()], dtype=np.int64).reshape(a.shape)

    result = np.zeros(a.shape, dtype=np.int64)
    pending = a > 0
    b = np.ones(a.shape, dtype=np.float64)
    n = 0
    while pending.any():
        n += 1
        if n > MAX_AGENTS:
            raise ValueError(f"more than {MAX_AGENTS:,} agents would be needed")
        ab = a * b
        b = ab / (n + ab)
        if n <= float(a[pending].min()):
            continue  # N ≤ A: no steady state, service level 0
        _, sl, _, _ = _erlang_c_kernel(np.asarray(n), a, b, aht, thr)
        met = pending & (sl >= target) & (n >= floor_occ)
        result[met] = n
        pending &= ~met
    return result


def _meets_a(fig: Staffing, target: float, max_occupancy: float | None, max_abandonment: float | None) -> bool:
    if fig.service_level < target:
        return False
    if max_occupancy is not None and fig.occupancy > max_occupancy + _OCCUPANCY_SLACK:
        return False
    if max_abandonment is not None and (fig.abandonment_rate or 0.0) > max_abandonment:
        return False
    return True


def _required_agents_a(
    traffic: float,
    aht_s: float,
    patience_s: float,
    threshold_s: float,
    target: float,
    max_occupancy: float | None,
    max_abandonment: float | None,
) -> Staffing:
    """Smallest Erlang A head-count by doubling then bisection.

    Service level and abandonment improve with every extra agent, so the feasible set is
    ``{N ≥ N*}``.  Erlang A figures cost one chain evaluation each, so bisection needs only
    ``O(log A)`` of them.  Since at most ``N/A`` of the calls can be answered, any
    ``N < target·A`` fails and bounds the search from below, which keeps it away from
    heavily overloaded head-counts (long queues, expensive chains).
    """

    def figures(n: int) -> Staffing:
        return erlang_a(n, traffic, aht_s, patience_s, threshold_s)

    def ok(n: int) -> bool:
        try:
            return _meets_a(figures(n), target, max_occupancy, max_abandonment)
        except QueueTooLongError:
            if n < traffic:
                # Millions of callers queue ahead on average: waits are astronomically
                # longer than any threshold, so the target is certainly missed.
                return False
            raise

    if traffic == 0.0:
        return figures(0)
    lo = max(0, math.ceil(target * traffic) - 1)  # known to fail: throughput bound
    hi = max(1, math.ceil(traffic), lo + 1)
    while not ok(hi):
        lo = hi
        hi *= 2
        if hi > MAX_AGENTS:
            raise ValueError(f"more than {MAX_AGENTS:,} agents would be needed")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    # Guard against rounding making the figures non-monotone right at the boundary.
    while hi > 1 and ok(hi - 1):
        hi -= 1
    return figures(hi)


def required_agents(
    calls: float,
    interval_s: float,
    aht_s: float,
    threshold_s: float,
    target: float,
    max_occupancy: float | None = None,
    shrinkage: float = 0.0,
    *,
    patience_s: float | None = None,
    max_abandonment: float | None = None,
) -> Staffing:
    """Smallest head-count meeting the service-level target, plus the roster after shrinkage.

    Without ``patience_s`` the Erlang C service level is used; with it, the Erlang A one
    (answered within ``threshold_s`` over offered, see :func:`erlang_a`), and
    ``max_abandonment`` may cap the abandonment rate as well.  ``max_occupancy`` caps
    ``A/N`` (Erlang C) or the carried occupancy (Erlang A) because agents burn out when
    kept above ~85 % busy.  ``scheduled_agents = ceil(N / (1 − shrinkage))``.
    """
    traffic = traffic_intensity(calls, interval_s, aht_s)
    threshold_s = _check_threshold(threshold_s)
    target = _check_target(target)
    max_occupancy = _check_fraction_cap("max_occupancy", max_occupancy)
    shrinkage = _check_shrinkage(shrinkage)
    if patience_s is None:
        if max_abandonment is not None:
            raise ValueError("max_abandonment needs patience_s: Erlang C has no abandonment")
        n = int(required_agents_array(traffic, aht_s, threshold_s, target, max_occupancy))
        fig = erlang_c_figures(n, traffic, aht_s, threshold_s)
    else:
        patience_s = _check_positive("patience_s", patience_s)
        max_abandonment = _check_fraction_cap("max_abandonment", max_abandonment)
        fig = _required_agents_a(traffic, aht_s, patience_s, threshold_s, target, max_occupancy, max_abandonment)
    return _with_roster(fig, shrinkage)


def staffing_for_agents(
    agents: int,
    calls: float,
    interval_s: float,
    aht_s: float,
    threshold_s: float,
    shrinkage: float = 0.0,
    *,
    patience_s: float | None = None,
) -> Staffing:
    """Figures for a given head-count (Erlang C, or Erlang A when ``patience_s`` is given)."""
    traffic = traffic_intensity(calls, interval_s, aht_s)
    shrinkage = _check_shrinkage(shrinkage)
    if patience_s is None:
        fig = erlang_c_figures(agents, traffic, aht_s, threshold_s)
    else:
        fig = erlang_a(agents, traffic, aht_s, patience_s, threshold_s)
    return _with_roster(fig, shrinkage)


def _with_roster(fig: Staffing, shrinkage: float) -> Staffing:
    return Staffing(
        agents=fig.agents,
        traffic_erlangs=fig.traffic_erlangs,
        service_level=fig.service_level,
        p_wait=fig.p_wait,
        asa_seconds=fig.asa_seconds,
        occupancy=fig.occupancy,
        abandonment_rate=fig.abandonment_rate,
        scheduled_agents=scheduled_agents(fig.agents, shrinkage),
    )
