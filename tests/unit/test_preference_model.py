"""The preference model on synthetic embeddings: prior, online fitting, uncertainty, ties,
active queries, storage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from persona_api.preferences.latent import Component, Latent
from persona_api.preferences.model import PreferenceModel
from persona_api.preferences.options import EmbeddingCache
from persona_api.preferences.projection import Projection

DIM = 64


def _unit(rng: np.random.Generator, n: int) -> NDArray[np.float32]:
    x = rng.standard_normal((n, DIM)).astype(np.float32)
    out: NDArray[np.float32] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def _fit(
    model: PreferenceModel,
    chosen: NDArray[np.float32],
    rejected: NDArray[np.float32],
    *,
    tie: bool = False,
    start: Latent | None = None,
) -> Latent:
    n = len(chosen)
    target = np.full(n, 0.5 if tie else 1.0)
    return model.fit(model.evidence(chosen, rejected, target, np.ones(n)), start=start)


def _taste_pairs(rng: np.random.Generator, taste: NDArray[np.float32], n: int) -> tuple[Any, Any]:
    """``n`` comparisons answered by a user whose utility is ``taste . x``."""
    a, b = _unit(rng, n), _unit(rng, n)
    first_wins = (a @ taste) > (b @ taste)
    chosen = np.where(first_wins[:, None], a, b)
    rejected = np.where(first_wins[:, None], b, a)
    return chosen, rejected


def test_no_evidence_is_the_prior() -> None:
    model = PreferenceModel.bootstrap(DIM)
    empty = np.zeros((0, DIM), dtype=np.float32)
    latent = _fit(model, empty, empty)
    prior = model.prior()
    assert latent.n_comparisons == 0
    np.testing.assert_allclose(latent.mean, prior.mean)
    np.testing.assert_allclose(latent.covariance, prior.covariance)
    scored = model.score(latent, _unit(np.random.default_rng(0), 3))
    np.testing.assert_allclose(scored.win_probability, 0.5)


def test_uncertainty_shrinks_and_scores_follow_the_taste() -> None:
    rng = np.random.default_rng(1)
    model = PreferenceModel.bootstrap(DIM)
    # A taste the bootstrap model can represent: a direction within its projection's span.
    taste = (model.projection.linear.T @ rng.standard_normal(model.k)).astype(np.float32)
    taste /= np.linalg.norm(taste)
    chosen, rejected = _taste_pairs(rng, taste, 80)
    traces = [float(np.trace(model.prior().covariance))]
    for n in (5, 20, 80):
        traces.append(float(np.trace(_fit(model, chosen[:n], rejected[:n]).covariance)))
    assert traces == sorted(traces, reverse=True) and traces[-1] < 0.8 * traces[0]
    latent = _fit(model, chosen, rejected)
    test = _unit(rng, 200)
    utility = model.score(latent, test).utility
    truth = test @ taste
    assert np.corrcoef(utility, truth)[0, 1] > 0.8


def test_an_online_update_moves_the_pair_the_right_way() -> None:
    rng = np.random.default_rng(2)
    model = PreferenceModel.bootstrap(DIM)
    a, b = _unit(rng, 2)
    chosen, rejected = _taste_pairs(rng, _unit(rng, 1)[0], 10)
    before = _fit(model, chosen, rejected)
    after = _fit(
        model, np.concatenate([chosen, a[None, :]]), np.concatenate([rejected, b[None, :]]), start=before
    )
    assert after.n_comparisons == before.n_comparisons + 1

    def gap(latent: Latent) -> float:
        return float(np.diff(model.score(latent, np.stack([b, a])).utility)[0])

    assert gap(after) > gap(before)


def test_ties_pull_utilities_together() -> None:
    rng = np.random.default_rng(3)
    model = PreferenceModel.bootstrap(DIM)
    a, b = _unit(rng, 2)
    chosen, rejected = np.repeat(a[None, :], 4, axis=0), np.repeat(b[None, :], 4, axis=0)
    preferred = _fit(model, chosen, rejected)
    both = model.evidence(
        np.concatenate([chosen, chosen]),
        np.concatenate([rejected, rejected]),
        np.array([1.0] * 4 + [0.5] * 4),
        np.ones(8),
    )
    with_ties = model.fit(both)

    def gap(latent: Latent) -> float:
        return float(np.diff(model.score(latent, np.stack([b, a])).utility)[0])

    assert gap(preferred) > gap(with_ties) > 0


def test_next_query_skips_an_option_compared_with_its_twin() -> None:
    rng = np.random.default_rng(4)
    model = PreferenceModel.bootstrap(DIM)
    a, c = _unit(rng, 2)
    query = model.next_query(model.prior(), np.stack([a, a, c]))
    assert {query.first, query.second} in ({0, 2}, {1, 2})
    assert query.gain > 0 and 0 < query.probability < 1


def test_next_query_prefers_the_uncertain_pair() -> None:
    rng = np.random.default_rng(5)
    model = PreferenceModel.bootstrap(DIM)
    x, y, u, v = _unit(rng, 4)
    # The user answered x over y many times: that question is settled, (u, v) is not.
    latent = _fit(model, np.repeat(x[None, :], 40, axis=0), np.repeat(y[None, :], 40, axis=0))
    query = model.next_query(latent, np.stack([x, y, u, v]))
    assert {query.first, query.second} != {0, 1}


def test_latent_and_model_roundtrip(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    model = PreferenceModel.bootstrap(DIM)
    chosen, rejected = _taste_pairs(rng, _unit(rng, 1)[0], 10)
    latent = _fit(model, chosen, rejected)
    again = Latent.from_json(latent.to_json())
    np.testing.assert_allclose(again.mean, latent.mean)
    np.testing.assert_allclose(again.covariance, latent.covariance)
    assert again.n_comparisons == 10
    model.save(tmp_path / "m")
    loaded = PreferenceModel.load(tmp_path / "m")
    test = _unit(rng, 5)
    np.testing.assert_allclose(loaded.score(again, test).utility, model.score(latent, test).utility)
    assert loaded.version == model.version


def test_embedding_cache_keeps_the_newest_entries() -> None:
    cache = EmbeddingCache(size=2)
    vectors = _unit(np.random.default_rng(7), 3)
    cache.put("a", vectors[0])
    cache.put("b", vectors[1])
    assert cache.get("a") is not None  # "a" is now the most recently used
    cache.put("c", vectors[2])
    assert cache.get("b") is None
    np.testing.assert_array_equal(cache.get("a"), vectors[0])
    np.testing.assert_array_equal(cache.get("c"), vectors[2])


def _two_group_model() -> PreferenceModel:
    """Options in the plane; two prototypes at (1, 0) and (-1, 0), and a prior with one tight
    component on each: group 0 likes options to the right, group 1 to the left; both are
    indifferent along the vertical axis."""
    tight = np.eye(2) * 100.0
    return PreferenceModel(
        projection=Projection(np.eye(2), np.zeros((0, 2)), np.zeros(0), np.zeros((2, 0))),
        prototypes=np.array([[1.0, 0.0], [-1.0, 0.0]]),
        prior_mean=np.array([0.5, 0.5]),
        prior_covariance=np.eye(2),
        version="two-groups",
        components=[
            Component(np.array([1.0, 0.0]), tight, float(np.log(0.7))),
            Component(np.array([0.0, 1.0]), tight, float(np.log(0.3))),
        ],
    )


def test_under_a_mixture_the_next_query_asks_which_group_the_user_is_in() -> None:
    model = _two_group_model()
    prior = model.prior()
    np.testing.assert_allclose(prior.responsibilities, [0.7, 0.3])
    up, down, right, left = np.array([[0.0, 1.0], [0.0, -1.0], [1.0, 0.0], [-1.0, 0.0]])
    query = model.next_query(prior, np.stack([up, down, right, left]))
    assert {query.first, query.second} == {2, 3}
    # The groups disagree about it: the answer tells up to the entropy of 0.7 / 0.3 (0.88 bits)
    # about the group, less the noise of each group's answer (logit 4: 0.13 bits).
    assert 0.7 < query.gain < 0.8
    # Once the answers have settled the group, no question tells much more.
    chosen, rejected = np.repeat(right[None, :], 5, axis=0), np.repeat(left[None, :], 5, axis=0)
    settled = _fit(model, chosen, rejected, start=prior)
    assert settled.responsibilities[0] > 0.99
    assert model.next_query(settled, np.stack([up, down, right, left])).gain < 0.05
