"""Screening a policy's proposals with a Gaussian-process model of the history.

The policy's proposal distribution says *where* to search next (around the incumbent, with a
spread that follows the evidence); it cannot say *which* point in that region the history
favours, because it reads the history through an LSTM summary, not as a map of the landscape.
Screening adds that map: draw ``k`` candidates from the policy's distribution, fit a GP to the
finished trials and play the candidate with the highest expected improvement. The policy's
distribution acts as a learned trust region, the GP chooses inside it. On validation tasks this
lowered the default policy's regret at 20 trials by a fifth (held-out synthetic functions) to a
half (held-out lcbench instances); numbers in ``metahpo/policies/README.md``.

The model is deliberately plain and scale-free, like the policy's own inputs: losses become
normal scores of their ranks (``Φ⁻¹((rank - 0.5) / n)``, so outliers and the objective's units do
not matter), the kernel is a squared exponential in the unit cube with length scale
``lengthscale * sqrt(D)`` and a fixed noise of 1% of the prior variance. No hyperparameters are
fitted, so scoring the draws costs one Cholesky factorization and one triangular solve (about
0.1 ms at 50 trials; with drawing and snapping the candidates the screen adds about 0.35 ms to
a proposal, ``benchmarks/results/ask_latency``).

Because nothing is fitted, the Gram matrix of a search's first trials never changes as the
search goes on, and a long search need not factor it afresh for every proposal (cubic in the
trials: 150 ms at 2000 trials): past :data:`FRESH_FACTOR_UP_TO` trials a search keeps the
factor of its leading trials (:class:`GramFactors`) and extends it as trials finish
(``benchmarks/results/long_search_latency``). Past :data:`SCREENED_UP_TO` trials the GP reads
only those nearest the incumbent, so that neither time nor memory grows further.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

import numpy as np
from scipy.linalg.lapack import dtrtrs
from scipy.special import ndtr, ndtri
from threadpoolctl import LibController, ThreadpoolController

LENGTHSCALE = 0.2
NOISE = 0.01
MIN_TRIALS = 3
#: Up to this many finished trials the Gram matrix is factored afresh for every proposal; past
#: it, :class:`GramFactors` keeps the factor of the leading trials.
FRESH_FACTOR_UP_TO = 256
#: The kept factor grows by this many finished trials at a time; those after its last whole
#: block, and pending trials, join it per proposal.
FACTOR_BLOCK = 16
#: Past this many finished trials the GP reads only the :data:`NEAREST_SCREENED` nearest the
#: incumbent (:func:`pick`), so that a proposal's time and memory stop growing with the search.
SCREENED_UP_TO = 2048
NEAREST_SCREENED = 512
_blas: list[LibController] | None = None
_blas_lock = threading.Lock()


class GramFactors:
    """The Cholesky factor of the screen GP's Gram matrix of one search's leading trials, kept
    from proposal to proposal (see the module docstring).

    The kept factor covers the first ``FRESH_FACTOR_UP_TO + j * FACTOR_BLOCK`` trials, as many
    as have finished, and is built the same way however it was reached: the first
    ``FRESH_FACTOR_UP_TO`` factored at once, then one block of ``FACTOR_BLOCK`` at a time. A
    search resumed from its history (a fresh optimizer told the trials) therefore scores its
    candidates to the last bit as the search that ran on, and a history that changed (a
    rewound search, another search's trials) is factored anew from the part that still
    matches.
    """

    def __init__(self) -> None:
        #: The kept points ``(n, D)``, their factor ``(n, n)`` and the kernel width.
        self._kept: tuple[np.ndarray, np.ndarray, float] | None = None

    def leading(self, points: np.ndarray, width: float) -> tuple[np.ndarray, int]:
        """The factor of the Gram matrix of ``points[:n]`` ``(n, n)`` and ``n``, the kept
        prefix of the finished trials' unit-cube ``points`` ``(N, D)``, ``N`` past
        :data:`FRESH_FACTOR_UP_TO`, under the kernel ``width``."""
        n = FRESH_FACTOR_UP_TO + (len(points) - FRESH_FACTOR_UP_TO) // FACTOR_BLOCK * FACTOR_BLOCK
        kept_points, kept_chol, kept_width = self._kept or (points[:0], points[:0], None)
        have = min(len(kept_points), n)
        if (kept_width == width and have >= FRESH_FACTOR_UP_TO
                and (have - FRESH_FACTOR_UP_TO) % FACTOR_BLOCK == 0
                and np.array_equal(kept_points[:have], points[:have])):
            chol = kept_chol if have == len(kept_chol) else kept_chol[:have, :have].copy()
        else:
            have = FRESH_FACTOR_UP_TO
            chol = _gram_cholesky(points[:have], width)
        while have < n:
            chol = _extended(chol, points[:have], points[have:have + FACTOR_BLOCK], width)
            have += FACTOR_BLOCK
        self._kept = (points[:n].copy(), chol, width)
        return chol, n


def _gram_cholesky(points: np.ndarray, width: float) -> np.ndarray:
    """Lower Cholesky factor of the kernel's Gram matrix of ``points`` plus the noise."""
    gram = np.exp(-_squared_distances(points, points) / width)
    gram[np.diag_indices(len(points))] += NOISE
    return np.linalg.cholesky(gram)


def _extended(chol: np.ndarray, points: np.ndarray, new: np.ndarray, width: float) -> np.ndarray:
    """The factor ``chol`` of ``points`` extended by the rows of ``new`` points ``(b, D)``:
    ``[[chol, 0], [C.T, L]]`` with ``C = chol⁻¹ K(points, new)`` and ``L`` the factor of the
    Schur complement ``K(new, new) + noise - C.T C``."""
    n, b = len(points), len(new)
    cross = _solve_lower(chol, np.exp(-_squared_distances(points, new) / width))
    schur = np.exp(-_squared_distances(new, new) / width) - cross.T @ cross
    schur[np.diag_indices(b)] += NOISE
    out = np.zeros((n + b, n + b))
    out[:n, :n] = chol
    out[n:, :n] = cross.T
    out[n:, n:] = np.linalg.cholesky(schur)
    return out


def expected_improvement(points: np.ndarray, losses: np.ndarray, candidates: np.ndarray,
                         lengthscale: float = LENGTHSCALE,
                         pending: np.ndarray | None = None,
                         factors: GramFactors | None = None) -> np.ndarray:
    """Expected improvement over the best loss of each candidate, ``(k,)``, in normal-score units.

    Args:
        points: unit-cube points of the finished trials, ``(n, D)``, ``n >= 1``.
        losses: their losses (lower is better), ``(n,)``.
        candidates: unit-cube points to score, ``(k, D)``.
        lengthscale: kernel length scale per ``sqrt(D)`` of the unit cube.
        pending: unit-cube points of running trials, ``(m, D)`` (see :func:`pick`).
        factors: the search's kept factor (see :class:`GramFactors`), ``None``: none kept.
    """
    y = normal_scores(losses)
    mean, std = posterior(points, y, candidates, lengthscale, pending, factors)
    gap = y.min() - mean
    z = gap / std
    return gap * ndtr(z) + std * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)


def normal_scores(losses: np.ndarray) -> np.ndarray:
    """Losses ``(n,)`` as normal scores of their ranks, ``Φ⁻¹((rank + 0.5) / n)`` (ties broken by
    order): the scale-free targets of the screen's GP."""
    n = len(losses)
    ranks = np.argsort(np.argsort(losses, kind="stable"), kind="stable")
    return ndtri((ranks + 0.5) / n)


def posterior(points: np.ndarray, y: np.ndarray, candidates: np.ndarray,
              lengthscale: float = LENGTHSCALE, pending: np.ndarray | None = None,
              factors: GramFactors | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation ``(k,)`` at ``candidates`` ``(k, D)`` of the screen's GP
    (prior mean 0, variance 1) given targets ``y`` ``(n,)`` at ``points`` ``(n, D)``.

    ``pending`` ``(m, D)``: points observed at the GP's own prediction (the kriging believer,
    see :func:`pick`). Such observations leave the mean where the finished trials put it and
    narrow the spread around them, so one Cholesky factor of all ``n + m`` points serves both:
    its leading ``n x n`` block is the factor of the finished trials alone, and the mean reads
    only the first ``n`` rows of the triangular solve.

    ``factors``: past :data:`FRESH_FACTOR_UP_TO` finished trials, the factor of the leading
    ones comes from there, and the rest (the trials after its last whole block, the pending
    ones) join it here: the same posterior, up to rounding, in time quadratic in the trials."""
    n, dim = points.shape
    finished = points
    if pending is not None and len(pending):
        points = np.concatenate([points, pending])
    width = 2.0 * (lengthscale * np.sqrt(dim)) ** 2
    cross = np.exp(-_squared_distances(candidates, points) / width)
    targets = np.zeros(len(points))
    targets[:n] = y
    rhs = np.column_stack([targets, cross.T])
    if factors is None or n <= FRESH_FACTOR_UP_TO:
        solved = _solve_lower(_gram_cholesky(points, width), rhs)
    else:
        solved = _solved_with_kept(factors.leading(finished, width), points, rhs, width)
    whitened_y, whitened_cross = solved[:n, 0], solved[:, 1:]
    mean = whitened_cross[:n].T @ whitened_y
    std = np.sqrt(np.maximum(1.0 + NOISE - (whitened_cross * whitened_cross).sum(0), 1e-12))
    return mean, std


def _solved_with_kept(kept: tuple[np.ndarray, int], points: np.ndarray, rhs: np.ndarray,
                      width: float) -> np.ndarray:
    """``chol⁻¹ rhs`` for the factor ``chol`` of the Gram matrix of ``points`` ``(N, D)``,
    given ``kept``, the factor of its leading ``n`` points and ``n``: the leading rows are
    solved with the kept factor, the other points' rows with the factor of their Schur
    complement (as :func:`_extended` would add them, without building the whole factor)."""
    chol, n = kept
    rest = points[n:]
    if not len(rest):
        return _solve_lower(chol, rhs)
    k = rhs.shape[1]
    head = _solve_lower(chol, np.column_stack([rhs[:n],
                                               np.exp(-_squared_distances(points[:n], rest) / width)]))
    solved, cross = head[:, :k], head[:, k:]
    schur = np.exp(-_squared_distances(rest, rest) / width) - cross.T @ cross
    schur[np.diag_indices(len(rest))] += NOISE
    tail = _solve_lower(np.linalg.cholesky(schur), rhs[n:] - cross.T @ solved)
    return np.concatenate([solved, tail])


def _solve_lower(chol: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``chol⁻¹ rhs`` for a lower-triangular ``chol`` ``(n, n)`` (C order) and ``rhs`` ``(n, m)``.

    LAPACK's ``trtrs`` called directly, on the Fortran view of ``chol`` (its transpose, upper
    triangular, solved transposed): the same computation as ``scipy.linalg.solve_triangular``
    without its per-call dispatch, which cost as much as the solve itself at these sizes."""
    solved, info = dtrtrs(chol.T, rhs, lower=0, trans=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"triangular solve failed (LAPACK info {info})")
    return solved


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances ``(len(a), len(b))``."""
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(sq, 0.0)


def pick(points: np.ndarray, losses: np.ndarray, failed: np.ndarray, candidates: np.ndarray,
         lengthscale: float = LENGTHSCALE, pending: np.ndarray | None = None,
         factors: GramFactors | None = None) -> int:
    """Index of the candidate to play: the highest expected improvement under a GP of the
    trials, or 0 (the first, an unscreened draw) while fewer than ``MIN_TRIALS`` trials have
    succeeded.

    A failed trial (``failed``, ``(n,)`` bool: an error, a divergence) enters the GP with the
    worst loss of the successful ones, as SMAC scores crashed runs, so that the screen steers
    away from where trials fail. Left out of the GP, failures looked like
    unexplored ground: next to a region of failures, expected improvement sent the default
    policy into it again and again (19 of 30 trials failed on a 3-D function whose optimum lies
    beside such a region; 6 of 30 without the screen).

    ``pending`` ``(k, D)``: points of trials still running (parallel workers). They enter the GP
    at its own posterior mean given the finished trials (the "kriging believer"): no better and
    no worse than the model expects, so they take the uncertainty, and with it the expected
    improvement, out of their neighbourhood without making it look bad. Entered with the worst
    loss (the constant liar), they pushed the screen away from the incumbent, near which the
    policy proposes: with three trials at a time on the lcbench validation instances, the
    default policy's regret after 150 completed trials was 0.075 with worst-loss lies and 0.045
    with believed ones (one trial at a time: 0.040; ``benchmarks/results/parallel_lies``).

    ``factors``: the search's kept factor (:class:`GramFactors`), for long searches; past
    :data:`SCREENED_UP_TO` finished trials the GP reads the :data:`NEAREST_SCREENED` nearest
    the incumbent instead (:func:`_near_incumbent`)."""
    ok = ~failed
    if int(ok.sum()) < MIN_TRIALS:
        return 0
    scores = np.where(failed, losses[ok].max(), losses)
    if len(points) > SCREENED_UP_TO:
        points, scores = _near_incumbent(points, scores)
        factors = None
    with _one_blas_thread():
        return int(np.argmax(expected_improvement(points, scores, candidates, lengthscale,
                                                  pending, factors)))


def _near_incumbent(points: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The :data:`NEAREST_SCREENED` of the finished trials' ``points`` ``(n, D)`` and
    ``scores`` ``(n,)`` nearest the incumbent (the first lowest score), in their order.

    A long search's GP needs the trials around the incumbent, where the policy draws its
    candidates, not the whole history: with all of it, an ask cost 18 ms at 2000 trials and
    81 ms at 5000, growing with the square of the trials as the kept factor's memory does (the
    factor alone 800 MB at 10000). Read afresh from the nearest 512, an ask costs 9 ms from
    2048 trials on, and a search of 5000 trials peaked at 378 MiB instead of 717, with the same
    best accuracy on three lcbench instances (``benchmarks/results/very_long_search``)."""
    incumbent = points[np.argmin(scores)]
    nearest = np.argsort(((points - incumbent) ** 2).sum(1), kind="stable")[:NEAREST_SCREENED]
    keep = np.sort(nearest)
    return points[keep], scores[keep]


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Context in which BLAS / LAPACK use one thread. The screen's matrices have a few dozen
    to a few hundred rows in most searches (at most about 2000, :data:`SCREENED_UP_TO`), where
    a BLAS thread pool adds only synchronization; worse, when several searches run side by
    side in processes (benchmark workers, Ray Tune trials) every process's pool spins on the
    same cores: with two processes on two cores a screened ask took 7 ms
    instead of 1 ms. Each loaded BLAS library (numpy's and scipy's) is set and restored through
    its threadpoolctl controller, about 5 microseconds in all (``ThreadpoolController.limit``
    re-inspects every library per call, 25). The thread count is process-wide, so screens in
    concurrent threads take turns: otherwise one thread could restore another's limit of one as
    the caller's setting."""
    global _blas
    with _blas_lock:
        if _blas is None:
            _blas = ThreadpoolController().select(user_api="blas").lib_controllers
        before = [lib.get_num_threads() for lib in _blas]
        for lib in _blas:
            lib.set_num_threads(1)
        try:
            yield
        finally:
            for lib, n in zip(_blas, before):
                lib.set_num_threads(n)
