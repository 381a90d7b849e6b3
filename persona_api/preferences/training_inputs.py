"""What population training reads and how it is set: a tenant's comparisons as arrays
(:class:`Comparisons`) and the settings of :func:`.training.train_population`
(:class:`TrainConfig`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray


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
    """Learn a residual position per option seen in training (see :mod:`.training`)."""
    residual_l2: float = 3.0
    users: str = "classes"
    """``classes``: each training user is one prototype, marginalised (a latent-class model);
    ``weights``: each has free softmax weights over the prototypes (PAL-A as published)."""
    prior_scales: tuple[float, ...] = (0.5, 1.0, 2.0)
    temperatures: tuple[float, ...] = (0.35, 0.5, 0.7, 1.0)
    """Factors on every comparison's logit when a user is fitted (see :func:`.network._to_model`)."""
    shots: int = 8
    """Comparisons a held-out user is fitted from when choosing K."""
    validation_share: float = 0.2
    min_validation_users: int = 10
    seed: int = 0
    cosine: bool = True
    """Anneal the learning rate to zero over the epochs (cosine)."""
    extra: dict[str, Any] = field(default_factory=dict)
