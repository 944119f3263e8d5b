"""Brute-force reference implementations, deliberately computed differently from acd.

They are slow and only work for small systems, which is the point: exact rational
arithmetic (Erlang B/C), direct lgamma sums, and dense linear algebra on the truncated
Erlang A birth–death chain plus a transient analysis (uniformization) of the tagged
caller — none of them shares code or formulas with ``acd.planning.erlang``.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np


def erlang_b_exact(agents: int, traffic: Fraction) -> Fraction:
    """``B = (A^N/N!) / Σ_{k≤N} A^k/k!`` in exact rational arithmetic."""
    terms = [traffic**k / math.factorial(k) for k in range(agents + 1)]
    return terms[-1] / sum(terms)


def erlang_c_exact(agents: int, traffic: Fraction) -> Fraction:
    """``C = (A^N/N! · N/(N−A)) / (Σ_{k<N} A^k/k! + A^N/N! · N/(N−A))`` exactly (needs A < N)."""
    assert traffic < agents
    top = traffic**agents / math.factorial(agents) * Fraction(agents) / (agents - traffic)
    return top / (sum(traffic**k / math.factorial(k) for k in range(agents)) + top)


def _logsumexp(values: list[float]) -> float:
    m = max(values)
    return m + math.log(sum(math.exp(v - m) for v in values))


def erlang_c_lgamma(agents: int, traffic: float) -> float:
    """Erlang C from the Poisson-term definition with ``math.lgamma``, summed in log space."""
    log_terms = [k * math.log(traffic) - math.lgamma(k + 1) for k in range(agents)]
    log_top = agents * math.log(traffic) - math.lgamma(agents + 1) + math.log(agents / (agents - traffic))
    return math.exp(log_top - _logsumexp(log_terms + [log_top]))


def erlang_a_chain(agents: int, traffic: float, g: float, tau: float, queue_states: int = 400) -> dict[str, float]:
    """Erlang A by brute force, time in AHT units (μ = 1, abandonment rate g, threshold τ).

    * the stationary law solves ``πQ = 0, Σπ = 1`` on the truncated generator (dense solve);
    * abandonment is the *rate* ``g·E[queue]/λ``;
    * service level: the tagged caller's position is a CTMC (positions 0..K plus the
      absorbing states answered/abandoned), solved in time τ by uniformization;
    * ASA: expected time to answer on the answered paths, from the fundamental matrix.
    """
    size = agents + queue_states + 1
    q = np.zeros((size, size))
    for n in range(size):
        if n + 1 < size:
            q[n, n + 1] = traffic
        if n > 0:
            q[n, n - 1] = min(n, agents) + max(n - agents, 0) * g
        q[n, n] = -q[n].sum()
    system = q.T.copy()
    system[-1, :] = 1.0
    rhs = np.zeros(size)
    rhs[-1] = 1.0
    pi = np.linalg.solve(system, rhs)
    p_wait = float(pi[agents:].sum())
    queue = np.arange(size) - agents
    p_abandon = float(g * np.sum(pi * np.maximum(queue, 0)) / traffic)

    # Tagged caller: transient position j = callers ahead (0..K), then answered (K+1), abandoned (K+2).
    k_max = queue_states
    m = k_max + 3
    answered, abandoned = k_max + 1, k_max + 2
    t = np.zeros((m, m))
    for j in range(k_max + 1):
        if j > 0:
            t[j, j - 1] = agents + j * g
        else:
            t[j, answered] = agents
        t[j, abandoned] = g
        t[j, j] = -(agents + (j + 1) * g)
    start = np.zeros(m)
    start[: k_max + 1] = pi[agents : agents + k_max + 1]
    p_now = float(pi[:agents].sum())

    # Uniformization: P(answered by τ) = Σ_m Poisson(m; Λτ) · (start · P^m)[answered].
    rate = float(-t.diagonal().min())
    step = np.eye(m) + t / rate
    vector = start.copy()
    mean = rate * tau
    answered_by_tau = 0.0
    for count in range(int(mean + 12 * math.sqrt(mean + 1) + 50)):
        log_weight = -mean + count * math.log(mean) - math.lgamma(count + 1) if mean > 0 else (0.0 if count == 0 else -math.inf)
        answered_by_tau += math.exp(log_weight) * vector[answered]
        vector = vector @ step
    service_level = p_now + answered_by_tau

    transient = -t[: k_max + 1, : k_max + 1]
    to_answered = t[: k_max + 1, answered]
    p_answered_from = np.linalg.solve(transient, to_answered)  # P(answered | start at j)
    time_on_answered_paths = np.linalg.solve(transient, p_answered_from)  # E[T · 1{answered} | j]
    p_answered = p_now + float(start[: k_max + 1] @ p_answered_from)
    asa = float(start[: k_max + 1] @ time_on_answered_paths) / p_answered
    return {
        "p_wait": p_wait,
        "abandonment_rate": p_abandon,
        "service_level": service_level,
        "asa": asa,
        "occupancy": traffic * p_answered / agents,
    }
