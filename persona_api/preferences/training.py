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
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from persona_api.preferences.latent import Component, Evidence
from persona_api.preferences.model import PreferenceModel, Projection

MIN_GROUP = 3
"""Fewest training users a prototype needs to become a component of the prior."""
PRIOR_FLOOR = 0.01


@dataclass(frozen=True)
class Comparisons:
    """All comparisons of a population over a table of option embeddings."""

    options: NDArray[np.float32]
    """``n_options x d`` embeddings."""
    keys: list[str]
    """A stable name per option (the stored option key), for the residuals learnt per option."""
    user: NDArray[np.int64]
    chosen: NDArray[np.int64]
    rejected: NDArray[np.int64]
    target: NDArray[np.float64]
    """1 for a preference, 0.5 for a tie."""
    weight: NDArray[np.float64]

    @property
    def n_users(self) -> int:
        return int(self.user.max()) + 1 if len(self.user) else 0

    def take(self, rows: NDArray[np.int64], users: NDArray[np.int64] | None = None) -> Comparisons:
        """Some rows, optionally with users renumbered by ``users`` (old id -> new id)."""
        user = self.user[rows] if users is None else users[self.user[rows]]
        return replace(
            self,
            user=user,
            chosen=self.chosen[rows],
            rejected=self.rejected[rows],
            target=self.target[rows],
            weight=self.weight[rows],
        )


@dataclass(frozen=True)
class TrainConfig:
    ks: tuple[int, ...] = (4, 8, 16)
    dim: int = 32
    hidden: int = 256
    epochs: int = 400
    learning_rate: float = 0.05
    l2: float = 1e-4
    residuals: bool = False
    """Learn a residual position per option seen in training (see the module docstring)."""
    residual_l2: float = 3.0
    users: str = "classes"
    """``classes``: each training user is one prototype, marginalised (a latent-class model);
    ``weights``: each has free softmax weights over the prototypes (PAL-A as published)."""
    prior_scales: tuple[float, ...] = (0.5, 1.0, 2.0)
    temperatures: tuple[float, ...] = (0.35, 0.5, 0.7, 1.0)
    """Factors on every comparison's logit when a user is fitted (see :func:`_to_model`)."""
    shots: int = 8
    """Comparisons a held-out user is fitted from when choosing K."""
    validation_share: float = 0.2
    min_validation_users: int = 10
    seed: int = 0
    cosine: bool = True
    """Anneal the learning rate to zero over the epochs (cosine)."""
    extra: dict[str, Any] = field(default_factory=dict)


_UNPENALISED = ("user_logits", "mix_logits", "residual")


class _Mixture(nn.Module):
    def __init__(self, d: int, config: TrainConfig, k: int, n_users: int, n_options: int) -> None:
        super().__init__()
        self.linear = nn.Linear(d, config.dim, bias=False)
        self.hidden = nn.Linear(d, config.hidden) if config.hidden else None
        self.out = nn.Linear(config.hidden, config.dim, bias=False) if config.hidden else None
        self.prototypes = nn.Parameter(torch.randn(k, config.dim) * 0.5)
        self.user_logits = nn.Parameter(torch.zeros(n_users, k))
        self.mix_logits = nn.Parameter(torch.zeros(k))
        self.residual = nn.Parameter(torch.zeros(n_options, config.dim)) if config.residuals else None

    def project(self, e: torch.Tensor) -> torch.Tensor:
        f: torch.Tensor = self.linear(e)
        if self.hidden is not None and self.out is not None:
            f = f + self.out(nn.functional.gelu(self.hidden(e), approximate="tanh"))
        return f

    def per_prototype(self, f: torch.Tensor, chosen: torch.Tensor, rejected: torch.Tensor) -> torch.Tensor:
        """``comparisons x K`` logits of preferring the chosen option, for each prototype alone."""
        fc, fr = f[chosen], f[rejected]
        offset = (fr * fr).sum(dim=1) - (fc * fc).sum(dim=1)
        return 2.0 * (fc - fr) @ self.prototypes.T + offset[:, None]

    def user_log_likelihood(
        self,
        f: torch.Tensor,
        user: torch.Tensor,
        chosen: torch.Tensor,
        rejected: torch.Tensor,
        target: torch.Tensor,
        weight: torch.Tensor,
    ) -> torch.Tensor:
        """``users x K``: each user's log-likelihood if they were exactly prototype k."""
        logits = self.per_prototype(f, chosen, rejected)
        ll = -nn.functional.binary_cross_entropy_with_logits(
            logits, target[:, None].expand_as(logits), reduction="none"
        )
        per_user = torch.zeros(self.user_logits.shape[0], logits.shape[1], dtype=logits.dtype)
        return per_user.index_add(0, user, ll * weight[:, None])

    def logits(
        self, f: torch.Tensor, user: torch.Tensor, chosen: torch.Tensor, rejected: torch.Tensor
    ) -> torch.Tensor:
        ideal = torch.softmax(self.user_logits[user], dim=1) @ self.prototypes
        fc, fr = f[chosen], f[rejected]
        return ((ideal - fr) ** 2).sum(dim=1) - ((ideal - fc) ** 2).sum(dim=1)


def _fit_mixture(data: Comparisons, k: int, config: TrainConfig) -> _Mixture:
    torch.manual_seed(config.seed)
    net = _Mixture(data.options.shape[1], config, k, data.n_users, len(data.options))
    options = torch.from_numpy(np.asarray(data.options, dtype=np.float32))
    user, chosen, rejected = (torch.from_numpy(a) for a in (data.user, data.chosen, data.rejected))
    target = torch.from_numpy(data.target.astype(np.float32))
    weight = torch.from_numpy(data.weight.astype(np.float32))
    optimiser = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, config.epochs) if config.cosine else None
    for _ in range(config.epochs):
        optimiser.zero_grad()
        f = net.project(options)
        if net.residual is not None:
            f = f + net.residual
        if config.users == "classes":
            # Each user is one prototype, unknown: maximise the likelihood with it marginalised out.
            per_user = net.user_log_likelihood(f, user, chosen, rejected, target, weight)
            mix = torch.log_softmax(net.mix_logits, dim=0)
            loss = -torch.logsumexp(per_user + mix, dim=1).sum() / max(len(data.user), 1)
        else:
            logits = net.logits(f, user, chosen, rejected)
            loss = (
                weight * nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")
            ).mean()
        penalty = sum((p * p).sum() for name, p in net.named_parameters() if name not in _UNPENALISED)
        if net.residual is not None:
            loss = loss + config.residual_l2 * (net.residual**2).sum(dim=1).mean()
        (loss + config.l2 * penalty).backward()  # type: ignore[no-untyped-call]
        optimiser.step()
        if schedule is not None:
            schedule.step()
    return net


def _to_model(
    net: _Mixture,
    data: Comparisons,
    version: str,
    prior_scale: float,
    report: dict[str, Any],
    config: TrainConfig,
    temperature: float = 1.0,
) -> PreferenceModel:
    """The served model from a trained network.

    ``temperature`` scales every comparison's logit (projection and prototypes both by its square
    root). Trained to convergence, the prototypes' logits are sharper than a new user's few answers
    warrant: one noisy answer would then outweigh the others when the user's group is judged, and a
    factor below one, chosen on held-out users, tempers that.
    """
    keys: list[str] = []
    residuals = None
    if net.residual is not None:
        # Only options some comparison used learnt anything.
        used = np.unique(np.concatenate([data.chosen, data.rejected]))
        keys = [data.keys[i] for i in used]
        residuals = net.residual.detach().double().numpy()[used]
    with torch.no_grad():
        if config.users == "classes":
            options = torch.from_numpy(np.asarray(data.options, dtype=np.float32))
            f = net.project(options) + (net.residual if net.residual is not None else 0.0)
            tensors = (torch.from_numpy(a) for a in (data.user, data.chosen, data.rejected))
            user, chosen, rejected = tensors
            per_user = net.user_log_likelihood(
                f,
                user,
                chosen,
                rejected,
                torch.from_numpy(data.target.astype(np.float32)),
                torch.from_numpy(data.weight.astype(np.float32)),
            )
            # A user's weights: the posterior probability of each prototype.
            mix = torch.log_softmax(net.mix_logits, dim=0)
            weights = torch.softmax(per_user + mix, dim=1).double().numpy()
        else:
            weights = torch.softmax(net.user_logits, dim=1).double().numpy()
        linear = net.linear.weight.double().numpy()
        if net.hidden is not None and net.out is not None:
            hidden, bias = net.hidden.weight.double().numpy(), net.hidden.bias.double().numpy()
            out = net.out.weight.double().numpy()
        else:
            hidden, bias, out = np.zeros((0, linear.shape[1])), np.zeros(0), np.zeros((linear.shape[0], 0))
        prototypes = net.prototypes.double().numpy()
    root = float(np.sqrt(temperature))
    linear, out, prototypes = linear * root, out * root, prototypes * root
    if residuals is not None:
        residuals = residuals * root
    k = weights.shape[1]
    covariance = _covariance(weights, prior_scale)
    # The prior is a mixture over the groups of training users, grouped by their main prototype.
    components = []
    group = weights.argmax(axis=1)
    for j in range(k):
        members = weights[group == j]
        if len(members) >= MIN_GROUP:
            precision = np.asarray(np.linalg.inv(_covariance(members, prior_scale)), dtype=np.float64)
            components.append(
                Component(members.mean(axis=0), precision, float(np.log(len(members) / len(weights))))
            )
    return PreferenceModel(
        projection=Projection(linear, hidden, bias, out),
        prototypes=prototypes,
        prior_mean=weights.mean(axis=0),
        prior_covariance=covariance,
        version=version,
        option_keys=keys,
        residuals=residuals,
        components=components if len(components) > 1 else (),
        report=report,
    )


def _covariance(weights: NDArray[np.float64], scale: float) -> NDArray[np.float64]:
    """Scaled covariance of users' weights; the floor keeps it proper when they are nearly
    collinear (they sum to one) or few."""
    k = weights.shape[1]
    covariance = np.cov(weights, rowvar=False).reshape(k, k) if len(weights) > 1 else np.zeros((k, k))
    result: NDArray[np.float64] = scale * (covariance + PRIOR_FLOOR * np.eye(k))
    return result


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
    n_val = round(config.validation_share * len(users))
    trials: list[dict[str, Any]] = []
    k_best, scale_best, temperature_best = config.ks[len(config.ks) // 2], 1.0, 1.0
    if n_val >= config.min_validation_users and len(config.ks) > 1:
        held = rng.choice(users, size=n_val, replace=False)
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
