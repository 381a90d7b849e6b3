"""Preference-latent routes: pairwise comparisons, the user's latent, scoring, active queries and
objective directions.

Reads for a user the tenant has not created (latent, score, next query) answer with the population
prior rather than a 404 (a personalization API should work for a first-time visitor) and create
nothing; listing comparisons or history of an unknown user is a 404. Writes create the user.
"""

from __future__ import annotations

import numpy as np
from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.pagination import OffsetPagination
from litestar.params import FromPath, JSONBody

from persona_api.http.deps import CREATES_USER
from persona_api.http.pagination import PageRequest
from persona_api.http.preference_schemas import (
    ComparisonBatch,
    ComparisonOut,
    ComparisonsAdded,
    LatentOut,
    LatentVersionOut,
    NextQueryOut,
    ObjectiveBody,
    ObjectiveInfo,
    ObjectiveOut,
    ObjectivesOut,
    QueryRequest,
    ScoredOut,
    ScoreRequest,
    ScoresOut,
)
from persona_api.http.preference_views import _floats, _uncertainty, latent_out, option_in, option_out
from persona_api.preferences.comparisons import ComparisonIn
from persona_api.preferences.latent import Latent
from persona_api.preferences.objectives import OBJECTIVES
from persona_api.preferences.service import Preferences
from persona_api.store.tables import User
from persona_api.store.users import UserService


class PreferenceController(Controller):
    path = "/v1/users/{user_id:str}"
    tags = ["preferences"]

    @post(
        "/comparisons",
        operation_id="addComparisons",
        summary="Record pairwise comparisons (up to 500) and refit the user's latent",
        status_code=200,
        dependencies=CREATES_USER,
    )
    async def add_comparisons(
        self,
        user_id: FromPath[str],
        data: JSONBody[ComparisonBatch],
        user: NamedDependency[User],
        preferences: NamedDependency[Preferences],
    ) -> ComparisonsAdded:
        batch = [
            ComparisonIn(
                client_id=c.id,
                chosen=option_in(c.chosen),
                rejected=option_in(c.rejected),
                context=c.context,
                strength=c.strength,
                tie=c.tie,
            )
            for c in data.comparisons
        ]
        added = await preferences.add(user, batch)
        return ComparisonsAdded(
            created=added.created, duplicates=added.duplicates, preferences=latent_out(user_id, added.view)
        )

    @get("/comparisons", operation_id="listComparisons", summary="A user's comparisons, newest first")
    async def list_comparisons(
        self,
        user: NamedDependency[User],
        preferences: NamedDependency[Preferences],
        page: NamedDependency[PageRequest],
    ) -> OffsetPagination[ComparisonOut]:
        rows, total = await preferences.comparisons.list_comparisons(
            user.id, limit=page.limit, offset=page.offset
        )
        items = [
            ComparisonOut(
                id=c.client_id,
                chosen=option_out(a),
                rejected=option_out(b),
                context=c.context,
                strength=c.strength,
                tie=c.tie,
                created_at=c.created_at,
            )
            for c, a, b in rows
        ]
        return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total)

    @delete(
        "/comparisons/{comparison_id:str}",
        operation_id="deleteComparison",
        summary="Delete a comparison and refit the user's latent",
    )
    async def delete_comparison(
        self,
        comparison_id: FromPath[str],
        user: NamedDependency[User],
        preferences: NamedDependency[Preferences],
    ) -> None:
        await preferences.delete_comparison(user, comparison_id)

    @get("/preferences", operation_id="getPreferences", summary="The user's preference latent")
    async def get_latent(
        self,
        user_id: FromPath[str],
        users: NamedDependency[UserService],
        preferences: NamedDependency[Preferences],
    ) -> LatentOut:
        return latent_out(user_id, await preferences.current(await users.find(user_id)))

    @get(
        "/preferences/history",
        operation_id="preferenceHistory",
        summary="The user's stored latent versions, newest first",
    )
    async def history(
        self,
        user: NamedDependency[User],
        preferences: NamedDependency[Preferences],
        page: NamedDependency[PageRequest],
    ) -> OffsetPagination[LatentVersionOut]:
        rows, total = await preferences.history(user.id, limit=page.limit, offset=page.offset)
        items = []
        for r in rows:
            latent = Latent.from_json(r.latent)
            items.append(
                LatentVersionOut(
                    version=r.version,
                    model_version=r.model_version,
                    n_comparisons=r.n_comparisons,
                    reason=r.reason,
                    prototype_weights=_floats(latent.mean),
                    uncertainty=_uncertainty(latent),
                    objective=r.objective,
                    created_at=r.created_at,
                )
            )
        return OffsetPagination(items=items, limit=page.limit, offset=page.offset, total=total)

    @post(
        "/preferences/score",
        operation_id="scoreCandidates",
        summary="Rank 2-200 candidates for the user, with uncertainty",
        status_code=200,
    )
    async def score(
        self,
        user_id: FromPath[str],
        data: JSONBody[ScoreRequest],
        users: NamedDependency[UserService],
        preferences: NamedDependency[Preferences],
    ) -> ScoresOut:
        result = await preferences.score(await users.find(user_id), [option_in(c) for c in data.candidates])
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
            user=user_id,
            model_version=view.model.version,
            n_comparisons=view.latent.n_comparisons,
            prior=view.prior,
            candidates=candidates,
        )

    @post(
        "/preferences/next-query",
        operation_id="nextQuery",
        summary="The comparison among 2-100 candidates whose answer would tell most about the user",
        status_code=200,
    )
    async def next_query(
        self,
        user_id: FromPath[str],
        data: JSONBody[QueryRequest],
        users: NamedDependency[UserService],
        preferences: NamedDependency[Preferences],
    ) -> NextQueryOut:
        options, query = await preferences.next_query(
            await users.find(user_id), [option_in(c) for c in data.candidates]
        )
        return NextQueryOut(
            first=query.first,
            second=query.second,
            first_option=option_out(options[query.first]),
            second_option=option_out(options[query.second]),
            expected_information_bits=round(query.gain, 6),
            probability_first=round(query.probability, 6),
            model_version=preferences.model.version,
        )

    @get("/preferences/objective", operation_id="getObjective", summary="The user's objective direction")
    async def get_objective(
        self,
        user_id: FromPath[str],
        users: NamedDependency[UserService],
        preferences: NamedDependency[Preferences],
    ) -> ObjectiveOut:
        view = await preferences.current(await users.find(user_id))
        return ObjectiveOut(user=user_id, weights=view.objective)

    @put(
        "/preferences/objective",
        operation_id="setObjective",
        summary="Set the user's objective direction (normalised to a unit vector)",
        dependencies=CREATES_USER,
    )
    async def set_objective(
        self,
        user_id: FromPath[str],
        data: JSONBody[ObjectiveBody],
        user: NamedDependency[User],
        preferences: NamedDependency[Preferences],
    ) -> ObjectiveOut:
        view = await preferences.set_objective(user, data.weights)
        return ObjectiveOut(user=user_id, weights=view.objective)

    @delete("/preferences/objective", operation_id="clearObjective", summary="Clear the objective direction")
    async def clear_objective(
        self,
        user_id: FromPath[str],
        preferences: NamedDependency[Preferences],
        users: NamedDependency[UserService],
    ) -> None:
        await preferences.set_objective(await users.get(user_id), None)


class ObjectiveController(Controller):
    path = "/v1/preferences"
    tags = ["preferences"]

    @get("/objectives", operation_id="listObjectives", summary="The named objectives a direction can weight")
    async def objectives(self) -> ObjectivesOut:
        return ObjectivesOut(
            objectives=[
                ObjectiveInfo(
                    name=o.name,
                    description=o.description,
                    positive_anchor=o.positive,
                    negative_anchor=o.negative,
                )
                for o in OBJECTIVES
            ]
        )
