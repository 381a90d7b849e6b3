"""Preference options and latents as the API's Structs."""

from __future__ import annotations

from typing import Any

import numpy as np

from persona_api.http.preference_schemas import (
    LatentOut,
    OptionBody,
    OptionOut,
)
from persona_api.preferences.latent import Latent
from persona_api.preferences.options import OptionIn, Resolved
from persona_api.preferences.results import LatentView
from persona_api.preferences.tables import PreferenceOption


def option_in(body: OptionBody) -> OptionIn:
    return OptionIn(text=body.text, item=body.item)


def option_out(option: Resolved | PreferenceOption) -> OptionOut:
    return OptionOut(item=option.item_id) if option.kind == "item" else OptionOut(text=option.text)


def _uncertainty(latent: Latent) -> float:
    return round(float(np.sqrt(max(float(np.trace(latent.covariance)), 0.0))), 6)


def _floats(values: Any) -> list[float]:
    return [round(float(v), 6) for v in values]


def latent_out(user: str, view: LatentView) -> LatentOut:
    return LatentOut(
        user=user,
        model_version=view.model.version,
        version=view.version,
        n_comparisons=view.latent.n_comparisons,
        prototype_weights=_floats(view.latent.mean),
        weights_std=_floats(view.latent.std),
        ideal_point=_floats(view.model.ideal_point(view.latent)),
        uncertainty=_uncertainty(view.latent),
        objective=view.objective,
        updated_at=view.updated_at,
        prior=view.prior,
    )
