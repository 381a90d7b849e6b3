"""A user's preference latent: weights over the population's prototypes, fitted by Laplace's method.

Under the ideal-point model a user with ideal point ``a`` gets utility ``-||a - f(x)||^2`` from an
option with projected embedding ``f(x)``, and prefers ``x`` to ``y`` with probability
``sigmoid(u(x) - u(y))``. With ``a = U^T w`` (``U`` the prototypes) the difference is
``w . z + c`` where ``z = 2 U (f(x) - f(y))`` and ``c = ||f(y)||^2 - ||f(x)||^2``: a logistic
regression in the K prototype weights. A Gaussian prior learnt from the population makes the fit a
few Newton steps on a K x K system, and its Hessian gives the posterior covariance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

NEWTON_STEPS = 25
TOLERANCE = 1e-7
QUADRATURE_NODES = 24


@dataclass(frozen=True)
class Evidence:
    """Comparisons in the latent's coordinates: ``P(first preferred) = sigmoid(z @ w + c)``."""

    z: NDArray[np.float64]
    """``n x K`` features."""
    c: NDArray[np.float64]
    """``n`` offsets."""
    target: NDArray[np.float64]
    """``n`` labels: 1 for a clear preference, 0.5 for a tie."""
    weight: NDArray[np.float64]
    """``n`` observation weights (the stated strength)."""

    @property
    def n(self) -> int:
        return len(self.c)


@dataclass(frozen=True)
class Latent:
    """Posterior over a user's prototype weights (Gaussian), with how many comparisons it rests on."""

    mean: NDArray[np.float64]
    covariance: NDArray[np.float64]
    n_comparisons: int
    responsibilities: tuple[float, ...] = ()
    """Posterior probability of each component of a mixture prior (empty for a single Gaussian)."""
    modes: tuple[tuple[float, ...], ...] = ()
    """The posterior mode under each component (with ``responsibilities``)."""

    def preference(self, evidence: Evidence) -> NDArray[np.float64]:
        """Probability that the first option of each comparison is preferred.

        Under a mixture the components vote with their posterior probabilities; a single Gaussian
        uses its mean.
        """
        if not self.modes:
            return _sigmoid(evidence.z @ self.mean + evidence.c)
        modes = np.asarray(self.modes, dtype=np.float64)
        weights = np.asarray(self.responsibilities, dtype=np.float64)
        result: NDArray[np.float64] = _sigmoid(evidence.z @ modes.T + evidence.c[:, None]) @ weights
        return result

    def to_json(self) -> dict[str, Any]:
        return {
            "mean": [float(v) for v in self.mean],
            "covariance": [[float(v) for v in row] for row in self.covariance],
            "n_comparisons": self.n_comparisons,
            "responsibilities": [float(r) for r in self.responsibilities],
            "modes": [[float(v) for v in mode] for mode in self.modes],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Latent:
        return cls(
            mean=np.asarray(data["mean"], dtype=np.float64),
            covariance=np.asarray(data["covariance"], dtype=np.float64),
            n_comparisons=int(data["n_comparisons"]),
            responsibilities=tuple(float(r) for r in data.get("responsibilities", ())),
            modes=tuple(tuple(float(v) for v in mode) for mode in data.get("modes", ())),
        )

    @property
    def std(self) -> NDArray[np.float64]:
        """Posterior standard deviation of each weight."""
        result: NDArray[np.float64] = np.sqrt(np.clip(np.diag(self.covariance), 0.0, None))
        return result


def _inverse(matrix: NDArray[np.float64]) -> NDArray[np.float64]:
    result: NDArray[np.float64] = np.asarray(np.linalg.inv(matrix), dtype=np.float64)
    return result


def _sigmoid(x: NDArray[np.float64]) -> NDArray[np.float64]:
    out: NDArray[np.float64] = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out


@dataclass(frozen=True)
class Component:
    """One Gaussian of the population prior over prototype weights."""

    mean: NDArray[np.float64]
    precision: NDArray[np.float64]
    log_weight: float


def fit_latent(
    evidence: Evidence,
    prior_mean: NDArray[np.float64],
    prior_precision: NDArray[np.float64],
    start: NDArray[np.float64] | None = None,
) -> Latent:
    """The posterior mode of the weights under one Gaussian prior, and the Laplace covariance.

    With no evidence this is the prior itself. ``start`` (e.g. the previous mode) saves steps.
    """
    if evidence.n == 0:
        return Latent(np.array(prior_mean, dtype=np.float64), _inverse(prior_precision), 0)
    begin = None if start is None else np.asarray(start, dtype=np.float64)[None, :]
    w, hessian, _ = _modes(evidence, prior_mean[None, :], prior_precision[None, :, :], begin)
    return Latent(w[0], _inverse(hessian[0]), evidence.n)


def _modes(
    evidence: Evidence,
    mu: NDArray[np.float64],
    precision: NDArray[np.float64],
    start: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Posterior modes under each of C Gaussian priors (damped Newton, batched over the priors):
    ``C x K`` modes, ``C x K x K`` Hessians there and the ``C`` objectives. ``start``, if given,
    is where the search begins (``C x K``; default the prior means)."""
    z, c, y, s = evidence.z, evidence.c, evidence.target, evidence.weight

    def objectives(w: NDArray[np.float64]) -> NDArray[np.float64]:
        t = z @ w.T + c[:, None]
        loss = s @ (np.logaddexp(0.0, t) - y[:, None] * t)
        d = w - mu
        quadratic = (d[:, None, :] @ precision @ d[:, :, None])[:, 0, 0]
        result: NDArray[np.float64] = loss + 0.5 * quadratic
        return result

    w = mu.copy() if start is None else start.copy()
    current = objectives(w)
    hessians = precision
    for _ in range(NEWTON_STEPS):
        p = _sigmoid(z @ w.T + c[:, None])
        gradients = (s[:, None] * (p - y[:, None])).T @ z + (precision @ (w - mu)[:, :, None])[:, :, 0]
        hessians = _hessians(z, s[:, None] * p * (1.0 - p)) + precision
        steps = np.linalg.solve(hessians, gradients[:, :, None])[:, :, 0]
        # Newton's step overshoots on nearly separable comparisons: halve each prior's step until
        # its objective falls.
        size = np.ones(len(w))
        candidate = objectives(w - size[:, None] * steps)
        while True:
            worse = (candidate > current) & (size > 1e-4)
            if not worse.any():
                break
            size = np.where(worse, size * 0.5, size)
            candidate = objectives(w - size[:, None] * steps)
        moved = size[:, None] * steps
        w = w - moved
        current = objectives(w)
        if float(np.max(np.abs(moved))) < TOLERANCE:
            break
    p = _sigmoid(z @ w.T + c[:, None])
    hessians = _hessians(z, s[:, None] * p * (1.0 - p)) + precision
    return w, hessians, current


def _hessians(z: NDArray[np.float64], curvature: NDArray[np.float64]) -> NDArray[np.float64]:
    """``z^T diag(curvature[:, c]) z`` for every component c (``C x K x K``), as one matmul."""
    result: NDArray[np.float64] = (z.T[None, :, :] * curvature.T[:, None, :]) @ z
    return result


def fit_mixture(evidence: Evidence, components: Sequence[Component], start: Latent | None = None) -> Latent:
    """The posterior under a mixture-of-Gaussians prior, moment-matched to one Gaussian.

    Each component gets its own Laplace fit; its posterior probability is its prior weight times
    its Laplace evidence ``exp(-objective) * sqrt(|precision| / |Hessian|)``. Users of a
    population that falls into groups are told apart from a few comparisons this way, where a
    single Gaussian prior would average the groups. ``start``: the user's previous posterior;
    its modes (one per component) are where the search begins, which after one new comparison is
    a step or two from the new ones (each component's objective is convex: same optimum).
    """
    if len(components) == 1:
        only = components[0]
        latent = fit_latent(evidence, only.mean, only.precision)
        return Latent(latent.mean, latent.covariance, latent.n_comparisons, (1.0,))
    mu = np.array([c.mean for c in components])
    precision = np.array([c.precision for c in components])
    if evidence.n == 0:
        modes, hessians, values = mu, precision, np.zeros(len(components))
    else:
        begin = np.asarray(start.modes, dtype=np.float64) if start is not None and start.modes else None
        modes, hessians, values = _modes(
            evidence, mu, precision, begin if begin is not None and begin.shape == mu.shape else None
        )
    _, log_det_prior = np.linalg.slogdet(precision)
    _, log_det_post = np.linalg.slogdet(hessians)
    covariances = np.linalg.inv(hessians)
    log_weights = np.array([c.log_weight for c in components])
    scores = log_weights - values + 0.5 * (log_det_prior - log_det_post)
    log_r = scores - scores.max()
    r = np.exp(log_r) / np.exp(log_r).sum()
    means = modes
    mean = r @ means
    centred = means - mean
    covariance = np.einsum("j,jkl->kl", r, covariances) + (centred * r[:, None]).T @ centred
    return Latent(
        mean,
        covariance,
        evidence.n,
        tuple(float(v) for v in r),
        tuple(tuple(float(v) for v in mode) for mode in means),
    )


def probit_probability(mean: NDArray[np.float64], variance: NDArray[np.float64]) -> NDArray[np.float64]:
    """``E[sigmoid(t)]`` for ``t ~ N(mean, variance)`` (MacKay's probit approximation)."""
    return _sigmoid(mean / np.sqrt(1.0 + np.pi * variance / 8.0))


def binary_entropy(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Entropy in bits of answers that are "yes" with probability ``p``."""
    p = np.clip(p, 1e-12, 1.0 - 1e-12)
    out: NDArray[np.float64] = -(p * np.log2(p) + (1.0 - p) * np.log2(1.0 - p))
    return out


def group_information(
    logits: NDArray[np.float64], responsibilities: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Expected information (bits) each comparison's answer gives about which component of a
    mixture posterior the user belongs to, and the predicted probability of its first option.

    ``logits`` is ``comparisons x components``: the comparison's logit at each component's mode.
    The gain is the entropy of the mixture's predicted answer minus the components' mean entropy:
    the mutual information between the answer and the component.
    """
    p = _sigmoid(logits)
    predicted = p @ responsibilities
    gains: NDArray[np.float64] = np.clip(
        binary_entropy(predicted) - binary_entropy(p) @ responsibilities, 0.0, None
    )
    return gains, predicted


def information_gain(mean: NDArray[np.float64], variance: NDArray[np.float64]) -> NDArray[np.float64]:
    """Expected information (bits) the answer to each comparison gives about the weights (BALD).

    ``mean`` and ``variance`` are those of the comparison's logit under the posterior: the gain is
    the entropy of the predicted answer minus the expected entropy of the answer given the
    weights, the latter by Gauss-Hermite quadrature over the logit.
    """
    nodes, node_weights = np.polynomial.hermite_e.hermegauss(QUADRATURE_NODES)
    node_weights = node_weights / node_weights.sum()
    logits = mean[:, None] + np.sqrt(np.clip(variance, 0.0, None))[:, None] * nodes[None, :]
    probabilities = _sigmoid(logits)
    marginal = binary_entropy(probabilities @ node_weights)
    expected = binary_entropy(probabilities) @ node_weights
    result: NDArray[np.float64] = np.clip(marginal - expected, 0.0, None)
    return result
