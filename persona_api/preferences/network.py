"""The population network in torch (the ideal-point mixture): fitting it to a tenant's
comparisons, and turning a fitted network into the served :class:`~.model.PreferenceModel`,
whose prior is a mixture over the groups of training users (see :mod:`.training`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from persona_api.preferences.latent import Component
from persona_api.preferences.model import PreferenceModel
from persona_api.preferences.projection import Projection
from persona_api.preferences.training_inputs import Comparisons, TrainConfig

MIN_GROUP = 3
"""Fewest training users a prototype needs to become a component of the prior."""
PRIOR_FLOOR = 0.01

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
