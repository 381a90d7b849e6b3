"""Preference options and latents as the API's Structs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from persona_api.http.preference_schemas import (
    LatentOut,
    NextQueryOut,
    OptionBody,
    OptionOut,
    ScoredOut,
    ScoresOut,
)
from persona_api.preferences.latent import Latent
from persona_api.preferences.model import Query
from persona_api.preferences.options import OptionIn, Resolved
from persona_api.preferences.results import CandidateScores, LatentView
from persona_api.preferences.tables import PreferenceOption


def option_in(body: OptionBody) -> OptionIn:
    return OptionIn(text=body.text, item=body.item)


def option_out(option: Resolved | PreferenceOption) -> OptionOut:
    return OptionOut(item=option.item_id) if option.kind == "item" else OptionOut(text=option.text)


def _uncertainty(latent: Latent) -> float:
    return round(float(np.sqrt(max(float(np.trace(latent.covariance)), 0.0))), 6)


def _floats(values: Any) -> list[float]:
    return [round(float(v), 6) for v in values]


def latent_out(user: str | None, view: LatentView) -> LatentOut:
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


def scores_out(user: str | None, result: CandidateScores) -> ScoresOut:
    """``user`` is None for the population's scores (no user's latent)."""
    s = result.scored
    order = np.argsort(-s.utility, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(1, len(order) + 1)
    candidates = [
        ScoredOut(
            index=i,
            option=option_out(o),
            utility=round(float(s.utility[i]), 6),
            std=round(float(s.std[i]), 6),
            win_probability=round(float(s.win_probability[i]), 6),
            rank=int(rank[i]),
            objective_score=None if result.objective is None else round(float(result.objective[i]), 6),
        )
        for i, o in enumerate(result.options)
    ]
    view = result.view
    return ScoresOut(
        user=user,
        model_version=view.model.version,
        n_comparisons=view.latent.n_comparisons,
        prior=view.prior,
        candidates=candidates,
    )


def next_query_out(options: Sequence[Resolved], query: Query, model_version: str) -> NextQueryOut:
    return NextQueryOut(
        first=query.first,
        second=query.second,
        first_option=option_out(options[query.first]),
        second_option=option_out(options[query.second]),
        expected_information_bits=round(query.gain, 6),
        probability_first=round(query.probability, 6),
        model_version=model_version,
    )
