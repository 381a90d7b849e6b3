"""Training the ideal-point mixture on all users' comparisons of a tenant (PAL-A), choosing K.

Each training user gets free weights over the K prototypes (a softmax, so an ideal point lies in
the prototypes' hull); the projection, the prototypes and those weights are fitted jointly by
weighted logistic loss with Adam. The number of prototypes is chosen the way the model is used:
a fifth of the users are held out, each is fitted from a few of their comparisons against the
prior learnt from the others, and the K (and prior scale) predicting their remaining comparisons
best wins. The winner is refitted on every user.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import numpy as np
from numpy.typing import NDArray

from persona_api.preferences.latent import Evidence
from persona_api.preferences.model import PreferenceModel
from persona_api.preferences.network import _fit_mixture, _to_model
from persona_api.preferences.training_inputs import Comparisons, TrainConfig


def user_evidence(model: PreferenceModel, data: Comparisons, rows: NDArray[np.int64]) -> Evidence:
    """One user's comparisons (``rows`` of ``data``) in ``model``'s latent coordinates."""
    return model.evidence(
        data.options[data.chosen[rows]],
        data.options[data.rejected[rows]],
        data.target[rows],
        data.weight[rows],
        [data.keys[i] for i in data.chosen[rows]],
        [data.keys[i] for i in data.rejected[rows]],
    )


def few_shot_accuracy(model: PreferenceModel, data: Comparisons, shots: int, seed: int) -> float:
    """Mean accuracy on each user's comparisons after fitting on ``shots`` of them (ties ignored)."""
    rng = np.random.default_rng(seed)
    scores = []
    for u in np.unique(data.user):
        rows = rng.permutation(np.flatnonzero(data.user == u))
        context, rest = rows[:shots], rows[shots:]
        rest = rest[data.target[rest] != 0.5]
        if not len(rest):
            continue
        latent = model.fit(user_evidence(model, data, context))
        held = user_evidence(model, data, rest)
        scores.append(float(np.mean((latent.preference(held) > 0.5) == (held.target > 0.5))))
    return float(np.mean(scores)) if scores else 0.0


def train_population(
    data: Comparisons,
    version: str,
    config: TrainConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> PreferenceModel:
    """Choose K and the prior scale on held-out users, then fit the mixture on every user."""
    config = config or TrainConfig()
    say = progress or (lambda _m: None)
    started = time.perf_counter()
    users = np.unique(data.user)
    rng = np.random.default_rng(config.seed)
    # Only a user with more than ``shots`` comparisons can be scored after ``shots`` of them: with
    # too few such users every cell of the grid would score 0 and the search would pick blindly.
    counts = np.bincount(data.user, minlength=data.n_users)
    scoreable = users[counts[users] > config.shots]
    n_val = min(round(config.validation_share * len(users)), len(scoreable))
    trials: list[dict[str, Any]] = []
    k_best, scale_best, temperature_best = config.ks[len(config.ks) // 2], 1.0, 1.0
    if len(config.ks) > 1 and n_val < config.min_validation_users:
        say(
            f"model selection skipped: {len(scoreable)} users have more than {config.shots} comparisons, "
            f"{config.min_validation_users} are needed; K={k_best}"
        )
    if n_val >= config.min_validation_users and len(config.ks) > 1:
        held = rng.choice(scoreable, size=n_val, replace=False)
        is_held = np.isin(data.user, held)
        train = _renumbered(data, np.flatnonzero(~is_held))
        valid = data.take(np.flatnonzero(is_held))
        best = -1.0
        for k in config.ks:
            net = _fit_mixture(train, k, config)
            for scale in config.prior_scales:
                for temperature in config.temperatures:
                    model = _to_model(net, train, version, scale, {}, config, temperature)
                    accuracy = few_shot_accuracy(model, valid, config.shots, config.seed)
                    trials.append(
                        {
                            "k": k,
                            "prior_scale": scale,
                            "temperature": temperature,
                            f"accuracy@{config.shots}": round(accuracy, 4),
                        }
                    )
                    say(
                        f"K={k} prior x{scale} temperature {temperature}: held-out users' accuracy "
                        f"{accuracy:.3f} after {config.shots}"
                    )
                    if accuracy > best + 1e-9:
                        best, k_best, scale_best, temperature_best = accuracy, k, scale, temperature
    everyone = _renumbered(data, np.arange(len(data.user)))
    net = _fit_mixture(everyone, k_best, config)
    report = {
        "kind": "ideal_point_mixture",
        "k": k_best,
        "prior_scale": scale_best,
        "temperature": temperature_best,
        "users": len(users),
        "comparisons": len(data.user),
        "options": len(data.options),
        "validation": trials,
        "config": {key: list(v) if isinstance(v, tuple) else v for key, v in asdict(config).items()},
        "train_seconds": 0.0,
    }
    model = _to_model(net, everyone, version, scale_best, report, config, temperature_best)
    report["train_seconds"] = round(time.perf_counter() - started, 2)
    say(
        f"preference model: K={k_best}, prior x{scale_best}, temperature {temperature_best}, "
        f"{report['train_seconds']} s"
    )
    return model


def _renumbered(data: Comparisons, rows: NDArray[np.int64]) -> Comparisons:
    """Rows with their users numbered densely from 0 (each keeps its own weights in training)."""
    present = np.unique(data.user[rows])
    mapping = np.full(data.n_users, -1, dtype=np.int64)
    mapping[present] = np.arange(len(present))
    return data.take(rows, mapping)
