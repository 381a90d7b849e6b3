"""The population model: a mixture prior tells groups apart, and training recovers planted groups."""

from __future__ import annotations

import numpy as np

from persona_api.preferences.latent import Component, Evidence, fit_mixture
from persona_api.preferences.network import _fit_mixture, _to_model
from persona_api.preferences.training import few_shot_accuracy, train_population, user_evidence
from persona_api.preferences.training_inputs import Comparisons, TrainConfig


def _evidence(z: list[list[float]]) -> Evidence:
    n = len(z)
    return Evidence(np.array(z, dtype=np.float64), np.zeros(n), np.ones(n), np.ones(n))


def test_a_mixture_prior_moves_its_mass_to_the_component_the_comparisons_support() -> None:
    tight = np.eye(2) * 100.0
    components = [
        Component(np.array([1.0, 0.0]), tight, float(np.log(0.5))),
        Component(np.array([0.0, 1.0]), tight, float(np.log(0.5))),
    ]
    prior = fit_mixture(_evidence([]), components)
    np.testing.assert_allclose(prior.responsibilities, [0.5, 0.5])
    # Each comparison's logit is w0 - w1: the first prototype predicts "yes", the second "no".
    posterior = fit_mixture(_evidence([[3.0, -3.0]] * 3), components)
    assert posterior.responsibilities[0] > 0.95
    assert posterior.mean[0] > 0.9 > 0.1 > posterior.mean[1]
    assert np.trace(posterior.covariance) < np.trace(prior.covariance)


def _population(seed: int, users: int, per_user: int) -> tuple[Comparisons, np.ndarray]:
    """Two groups with opposite tastes along one direction of a 12-d option space (the options
    are the same for every seed; the users and their comparisons are not)."""
    options = np.random.default_rng(0).standard_normal((80, 12)).astype(np.float32)
    rng = np.random.default_rng(seed)
    options /= np.linalg.norm(options, axis=1, keepdims=True)
    taste = options[:, 0]
    group = rng.integers(2, size=users)
    rows: list[tuple[int, int, int]] = []
    for u in range(users):
        for _ in range(per_user):
            a, b = rng.choice(len(options), size=2, replace=False)
            better = a if (taste[a] > taste[b]) == (group[u] == 0) else b
            rows.append((u, int(better), int(b if better == a else a)))
    arr = np.array(rows)
    n = len(arr)
    data = Comparisons(
        options=options,
        keys=[f"o{i}" for i in range(len(options))],
        user=arr[:, 0],
        chosen=arr[:, 1],
        rejected=arr[:, 2],
        target=np.ones(n),
        weight=np.ones(n),
    )
    return data, group


def test_training_recovers_planted_groups_and_new_users_are_placed_from_few_comparisons() -> None:
    config = TrainConfig(
        ks=(2, 4), dim=6, epochs=120, prior_scales=(1.0,), temperatures=(1.0,), min_validation_users=5
    )
    data, _ = _population(1, users=50, per_user=12)
    model = train_population(data, "test", config)
    assert model.report["k"] in (2, 4) and len(model.report["validation"]) == 2
    assert len(model.components) >= 2
    # New users with the same tastes: four comparisons place them in their group.
    unseen, _ = _population(2, users=30, per_user=12)
    assert few_shot_accuracy(model, unseen, shots=4, seed=1) > 0.85
    assert few_shot_accuracy(model, unseen, shots=0, seed=1) < 0.7


def test_a_temperature_scales_every_comparison_logit() -> None:
    data, _ = _population(1, users=30, per_user=8)
    config = TrainConfig(ks=(2,), dim=4, epochs=20)
    net = _fit_mixture(data, 2, config)
    plain = _to_model(net, data, "t", 1.0, {}, config)
    tempered = _to_model(net, data, "t", 1.0, {}, config, temperature=0.25)
    rows = np.flatnonzero(data.user == 0)
    a, b = user_evidence(plain, data, rows), user_evidence(tempered, data, rows)
    np.testing.assert_allclose(b.z, 0.25 * a.z, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(b.c, 0.25 * a.c, rtol=1e-6, atol=1e-9)
    # The groups' weights (the prior) are the same: only the likelihood is tempered.
    np.testing.assert_allclose(tempered.prior_mean, plain.prior_mean)


def test_with_too_few_users_to_score_the_grid_is_skipped_not_searched_blindly() -> None:
    """60 users with 5 comparisons each: none can be scored after 8 (every cell would score 0), so
    no cell is fitted and the middle K is trained, saying why."""
    config = TrainConfig(ks=(2, 4, 8), dim=4, epochs=20, shots=8, min_validation_users=5)
    data, _ = _population(3, users=60, per_user=5)
    said: list[str] = []
    model = train_population(data, "test", config, progress=said.append)
    assert model.report["validation"] == [] and model.report["k"] == 4
    assert any(line.startswith("model selection skipped: 0 users have more than 8") for line in said)
    # A few users with enough comparisons but fewer than the minimum: still skipped.
    more, _ = _population(4, users=3, per_user=12)
    mixed = Comparisons(
        options=data.options,
        keys=data.keys,
        user=np.concatenate([data.user, more.user + 60]),
        chosen=np.concatenate([data.chosen, more.chosen]),
        rejected=np.concatenate([data.rejected, more.rejected]),
        target=np.ones(len(data.user) + len(more.user)),
        weight=np.ones(len(data.user) + len(more.user)),
    )
    assert train_population(mixed, "test", config).report["validation"] == []
