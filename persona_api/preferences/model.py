"""The shared ideal-point mixture (PAL-A) the API serves, and what it does for one user.

Options (texts or catalog items) arrive as MiniLM embeddings ``e``. A learnt projection maps them to
``f(e) = A e + W2 gelu(W1 e + b1)`` in a small latent space holding K prototype ideal points ``U``.
A user is a weighting ``w`` over the prototypes, ideal point ``a = U^T w``, with a Gaussian
posterior fitted per user by :func:`.latent.fit_latent` against the population prior. The re-index
job trains the projection, the prototypes and the prior (:mod:`.training`); before it has, a
tenant gets :meth:`PreferenceModel.bootstrap`, a fixed random projection whose axes are the
prototypes, so comparisons already move scores the right way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from persona_api.preferences.latent import (
    Component,
    Evidence,
    Latent,
    fit_latent,
    fit_mixture,
    group_information,
    information_gain,
    probit_probability,
)
from persona_api.preferences.projection import Projection

BOOTSTRAP_VERSION = "bootstrap"
BOOTSTRAP_DIM = 24
BOOTSTRAP_SCALE = 1.0


@dataclass(frozen=True)
class Scored:
    """Utilities of candidates for one user, relative to each other (only differences matter)."""

    utility: NDArray[np.float64]
    std: NDArray[np.float64]
    win_probability: NDArray[np.float64]
    """Mean probability of being preferred to each other candidate."""


@dataclass(frozen=True)
class Query:
    """The comparison to pose next and the information (bits) its answer is expected to give."""

    first: int
    second: int
    gain: float
    probability: float
    """Predicted probability that ``first`` is preferred."""


class PreferenceModel:
    """A trained (or bootstrap) population model; immutable once built."""

    def __init__(
        self,
        *,
        projection: Projection,
        prototypes: NDArray[np.float64],
        prior_mean: NDArray[np.float64],
        prior_covariance: NDArray[np.float64],
        version: str,
        ideal_point: bool = True,
        option_keys: Sequence[str] = (),
        residuals: NDArray[np.float64] | None = None,
        components: Sequence[Component] = (),
        report: dict[str, Any] | None = None,
    ) -> None:
        self.projection = projection
        self.option_keys = list(option_keys)
        dim = self.projection.linear.shape[0]
        self.residuals = np.zeros((0, dim)) if residuals is None else np.asarray(residuals, np.float64)
        self._option_row = {key: i for i, key in enumerate(self.option_keys)}
        self.prototypes = np.asarray(prototypes, dtype=np.float64)
        self.prior_mean = np.asarray(prior_mean, dtype=np.float64)
        self.prior_covariance = np.asarray(prior_covariance, dtype=np.float64)
        self.prior_precision = np.asarray(np.linalg.inv(self.prior_covariance), dtype=np.float64)
        self.components = list(components) or [Component(self.prior_mean, self.prior_precision, 0.0)]
        self.version = version
        self.uses_distance = ideal_point
        self.report = report or {}

    @property
    def k(self) -> int:
        """Number of prototypes."""
        return len(self.prototypes)

    @classmethod
    def bootstrap(cls, dim: int, *, seed: int = 0) -> PreferenceModel:
        """The untrained model: a fixed orthonormal projection to ``BOOTSTRAP_DIM`` axes, each a
        prototype, with a standard normal prior: a Bayesian linear reward in a random subspace.

        It drops the ideal-point model's ``-||f(x)||^2`` term, which with an untrained projection
        would only prefer options that happen to project near the origin.
        """
        rng = np.random.default_rng(seed)
        q, _ = np.linalg.qr(rng.standard_normal((dim, BOOTSTRAP_DIM)))
        k = BOOTSTRAP_DIM
        projection = Projection(
            linear=q.T * np.sqrt(dim / k),
            hidden=np.zeros((0, dim)),
            bias=np.zeros(0),
            out=np.zeros((k, 0)),
        )
        return cls(
            projection=projection,
            prototypes=np.eye(k) * BOOTSTRAP_SCALE,
            prior_mean=np.zeros(k),
            prior_covariance=np.eye(k),
            version=BOOTSTRAP_VERSION,
            ideal_point=False,
            report={"kind": "bootstrap", "k": k},
        )

    def project(
        self, embeddings: NDArray[np.floating[Any]], keys: Sequence[str | None] | None = None
    ) -> NDArray[np.float64]:
        """Latent position of each option: the projection of its embedding, plus the residual
        learnt for it in training when ``keys`` names an option the population compared."""
        f = self.projection(embeddings)
        if keys is not None and self._option_row:
            found = [(i, self._option_row.get(k)) for i, k in enumerate(keys) if k is not None]
            known = [(i, r) for i, r in found if r is not None]
            if known:
                f[[i for i, _ in known]] += self.residuals[[r for _, r in known]]
        return f

    # ----------------------------------------------------------------------------- fitting
    def evidence(
        self,
        chosen: NDArray[np.floating[Any]],
        rejected: NDArray[np.floating[Any]],
        target: NDArray[np.float64],
        weight: NDArray[np.float64],
        chosen_keys: Sequence[str | None] | None = None,
        rejected_keys: Sequence[str | None] | None = None,
    ) -> Evidence:
        """Comparisons (embeddings of the chosen and rejected options) in latent coordinates;
        ``*_keys`` name the options (see :meth:`project`)."""
        fc, fr = self.project(chosen, chosen_keys), self.project(rejected, rejected_keys)
        z = 2.0 * (fc - fr) @ self.prototypes.T
        c = (fr * fr).sum(axis=1) - (fc * fc).sum(axis=1) if self.uses_distance else np.zeros(len(fc))
        return Evidence(
            z=z, c=c, target=np.asarray(target, np.float64), weight=np.asarray(weight, np.float64)
        )

    def prior(self) -> Latent:
        """The latent of a user without comparisons: the population prior (under a mixture, its
        components are the modes, weighted by their share of the training users)."""
        if len(self.components) > 1:
            empty = np.zeros(0)
            return fit_mixture(Evidence(np.zeros((0, self.k)), empty, empty, empty), self.components)
        return Latent(self.prior_mean.copy(), self.prior_covariance.copy(), 0)

    def fit(self, evidence: Evidence, start: Latent | None = None) -> Latent:
        """The user's posterior given all of their comparisons (``start``: the last one, if any).

        A trained model's prior is a mixture over the groups of its training users
        (:func:`.latent.fit_mixture`); the bootstrap's is one Gaussian.
        """
        if len(self.components) > 1:
            return fit_mixture(evidence, self.components, start)
        begin = None if start is None or len(start.mean) != self.k else start.mean
        return fit_latent(evidence, self.prior_mean, self.prior_precision, begin)

    def ideal_point(self, latent: Latent) -> NDArray[np.float64]:
        result: NDArray[np.float64] = self.prototypes.T @ latent.mean
        return result

    # ----------------------------------------------------------------------------- scoring
    def _linear(
        self, embeddings: NDArray[np.floating[Any]], keys: Sequence[str | None] | None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Per option ``g`` and ``h`` with relative utility ``g . w + h``."""
        f = self.project(embeddings, keys)
        h = -(f * f).sum(axis=1) if self.uses_distance else np.zeros(len(f))
        return 2.0 * f @ self.prototypes.T, h

    def score(
        self,
        latent: Latent,
        embeddings: NDArray[np.floating[Any]],
        keys: Sequence[str | None] | None = None,
    ) -> Scored:
        """Expected relative utility of each option, its std, and its mean pairwise win probability."""
        g, h = self._linear(embeddings, keys)
        utility = g @ latent.mean + h
        std = np.sqrt(np.clip(np.einsum("ik,kl,il->i", g, latent.covariance, g), 0.0, None))
        n = len(utility)
        if n < 2:
            return Scored(utility, std, np.full(n, 0.5))
        diff_g = g[:, None, :] - g[None, :, :]
        variance = np.einsum("ijk,kl,ijl->ij", diff_g, latent.covariance, diff_g)
        pairwise = probit_probability(utility[:, None] - utility[None, :], variance)
        np.fill_diagonal(pairwise, 0.0)
        return Scored(utility, std, pairwise.sum(axis=1) / (n - 1))

    def next_query(
        self,
        latent: Latent,
        embeddings: NDArray[np.floating[Any]],
        keys: Sequence[str | None] | None = None,
    ) -> Query:
        """The pair of options whose comparison is expected to tell most about the user.

        Under a mixture posterior (a trained model) that is the pair whose answer tells most about
        which group the user belongs to, judged at each group's mode; under one Gaussian (the
        bootstrap), the pair whose answer tells most about the weights (BALD).
        """
        g, h = self._linear(embeddings, keys)
        first, second = np.triu_indices(len(h), k=1)
        dz = g[first] - g[second]
        offset = h[first] - h[second]
        if latent.modes and len(latent.modes) > 1:
            modes = np.asarray(latent.modes, dtype=np.float64)
            weights = np.asarray(latent.responsibilities, dtype=np.float64)
            gains, predicted = group_information(dz @ modes.T + offset[:, None], weights)
            best = int(np.argmax(gains))
            return Query(int(first[best]), int(second[best]), float(gains[best]), float(predicted[best]))
        mean = dz @ latent.mean + offset
        variance = np.clip(np.einsum("ik,kl,il->i", dz, latent.covariance, dz), 0.0, None)
        gains = information_gain(mean, variance)
        best = int(np.argmax(gains))
        probability = float(probit_probability(mean[best : best + 1], variance[best : best + 1])[0])
        return Query(int(first[best]), int(second[best]), float(gains[best]), probability)

    # ----------------------------------------------------------------------------- storage
    def save(self, folder: Path) -> None:
        """``arrays.npz`` (projection, prototypes, prior) and ``model.json`` (version, report)."""
        folder.mkdir(parents=True, exist_ok=True)
        p = self.projection
        np.savez(
            folder / "arrays.npz",
            linear=p.linear,
            hidden=p.hidden,
            bias=p.bias,
            out=p.out,
            prototypes=self.prototypes,
            prior_mean=self.prior_mean,
            prior_covariance=self.prior_covariance,
            residuals=self.residuals,
            component_means=np.array([c.mean for c in self.components]),
            component_precisions=np.array([c.precision for c in self.components]),
            component_log_weights=np.array([c.log_weight for c in self.components]),
        )
        meta = {
            "version": self.version,
            "ideal_point": self.uses_distance,
            "option_keys": self.option_keys,
            "report": self.report,
        }
        (folder / "model.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> PreferenceModel:
        meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        with np.load(folder / "arrays.npz", allow_pickle=False) as arrays:
            a = {key: arrays[key].astype(np.float64) for key in arrays.files}
        return cls(
            projection=Projection(a["linear"], a["hidden"], a["bias"], a["out"]),
            prototypes=a["prototypes"],
            prior_mean=a["prior_mean"],
            prior_covariance=a["prior_covariance"],
            version=str(meta["version"]),
            ideal_point=bool(meta["ideal_point"]),
            option_keys=[str(k) for k in meta["option_keys"]],
            residuals=a["residuals"],
            components=[
                Component(mean, precision, float(log_weight))
                for mean, precision, log_weight in zip(
                    a["component_means"], a["component_precisions"], a["component_log_weights"], strict=True
                )
            ],
            report=meta["report"],
        )
