"""What :class:`~.service.Preferences` returns: a user's latent as the API shows it, the outcome
of recording a batch of comparisons, and the scores of candidates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from persona_api.preferences.latent import Latent
from persona_api.preferences.model import PreferenceModel, Scored
from persona_api.preferences.options import Resolved


@dataclass(frozen=True)
class LatentView:
    """A user's current latent as the API shows it."""

    latent: Latent
    model: PreferenceModel
    version: int
    """0 for a user without any stored version (the population prior)."""
    objective: dict[str, float] | None
    updated_at: datetime | None

    @property
    def prior(self) -> bool:
        return self.latent.n_comparisons == 0


@dataclass(frozen=True)
class Added:
    created: int
    duplicates: int
    view: LatentView


@dataclass(frozen=True)
class CandidateScores:
    options: list[Resolved]
    scored: Scored
    objective: NDArray[np.float64] | None
    view: LatentView
