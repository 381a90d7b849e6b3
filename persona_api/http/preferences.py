"""Preference-latent routes: pairwise comparisons, the user's latent, scoring, active queries and
objective directions.

Reads for a user the tenant has not created (latent, score, next query) answer with the population
prior rather than a 404 (a personalization API should work for a first-time visitor) and create
nothing; listing comparisons or history of an unknown user is a 404. Writes create the user.
"""

from __future__ import annotations

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.pagination import OffsetPagination
from litestar.params import JSONBody

from persona_api.http.deps import CREATES_USER
from persona_api.http.openapi import reads_only
from persona_api.http.pagination import PageRequest
from persona_api.http.paths import IdPath
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
    ScoreRequest,
    ScoresOut,
)
from persona_api.http.preference_views import (
    _floats,
    _uncertainty,
    latent_out,
    next_query_out,
    option_in,
    option_out,
    scores_out,
)
from persona_api.preferences.comparisons import ComparisonIn
from persona_api.preferences.latent import Latent
from persona_api.preferences.objectives import OBJECTIVES
from persona_api.preferences.service import Preferences
from persona_api.store.tables import User


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
        user_id: IdPath,
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
        comparison_id: IdPath,
        user: NamedDependency[User],
        preferences: NamedDependency[Preferences],
    ) -> None:
        await preferences.delete_comparison(user, comparison_id)

    @get("/preferences", operation_id="getPreferences", summary="The user's preference latent")
    async def get_latent(
        self, user_id: IdPath, user: NamedDependency[User], preferences: NamedDependency[Preferences]
    ) -> LatentOut:
        return latent_out(user_id, await preferences.current(user))

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
        opt=reads_only(),
    )
    async def score(
        self,
        user_id: IdPath,
        data: JSONBody[ScoreRequest],
        user: NamedDependency[User],
        preferences: NamedDependency[Preferences],
    ) -> ScoresOut:
        return scores_out(user_id, await preferences.score(user, [option_in(c) for c in data.candidates]))

    @post(
        "/preferences/next-query",
        operation_id="nextQuery",
        summary="The comparison among 2-100 candidates whose answer would tell most about the user",
        status_code=200,
        opt=reads_only(),
    )
    async def next_query(
        self,
        user_id: IdPath,
        data: JSONBody[QueryRequest],
        user: NamedDependency[User],
        preferences: NamedDependency[Preferences],
    ) -> NextQueryOut:
        options, query = await preferences.next_query(user, [option_in(c) for c in data.candidates])
        return next_query_out(options, query, preferences.model.version)

    @get("/preferences/objective", operation_id="getObjective", summary="The user's objective direction")
    async def get_objective(
        self,
        user_id: IdPath,
        user: NamedDependency[User],
        preferences: NamedDependency[Preferences],
    ) -> ObjectiveOut:
        view = await preferences.current(user)
        return ObjectiveOut(user=user_id, weights=view.objective)

    @put(
        "/preferences/objective",
        operation_id="setObjective",
        summary="Set the user's objective direction (normalised to a unit vector)",
        dependencies=CREATES_USER,
    )
    async def set_objective(
        self,
        user_id: IdPath,
        data: JSONBody[ObjectiveBody],
        user: NamedDependency[User],
        preferences: NamedDependency[Preferences],
    ) -> ObjectiveOut:
        view = await preferences.set_objective(user, data.weights)
        return ObjectiveOut(user=user_id, weights=view.objective)

    @delete("/preferences/objective", operation_id="clearObjective", summary="Clear the objective direction")
    async def clear_objective(
        self,
        user_id: IdPath,
        user: NamedDependency[User],
        preferences: NamedDependency[Preferences],
    ) -> None:
        await preferences.set_objective(user, None)


class PopulationController(Controller):
    """The tenant's population, for what comes before a user exists: the prior, and scores and a
    first question under it (user routes answer 404 for a user the tenant does not have)."""

    path = "/v1/preferences"
    tags = ["preferences"]

    @get("/prior", operation_id="getPopulationPrior", summary="The population's prior latent")
    async def prior(self, preferences: NamedDependency[Preferences]) -> LatentOut:
        return latent_out(None, await preferences.current(None))

    @post(
        "/score",
        operation_id="scoreCandidatesForPopulation",
        summary="Rank 2-200 candidates under the population's prior",
        status_code=200,
        opt=reads_only(),
    )
    async def score(
        self, data: JSONBody[ScoreRequest], preferences: NamedDependency[Preferences]
    ) -> ScoresOut:
        return scores_out(None, await preferences.score(None, [option_in(c) for c in data.candidates]))

    @post(
        "/next-query",
        operation_id="nextQueryForPopulation",
        summary="The first comparison to ask a new user, among 2-100 candidates",
        status_code=200,
        opt=reads_only(),
    )
    async def next_query(
        self, data: JSONBody[QueryRequest], preferences: NamedDependency[Preferences]
    ) -> NextQueryOut:
        options, query = await preferences.next_query(None, [option_in(c) for c in data.candidates])
        return next_query_out(options, query, preferences.model.version)

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
