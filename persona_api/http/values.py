"""Value-profile routes: a user's own profile and per-partner overrides, each versioned.

``PUT /v1/users/{user_id}/values`` stores a new version of the user's profile;
``PUT /v1/users/{user_id}/values/partners/{partner_id}`` one of the override used when the
user talks with (or about) that partner. ``GET`` returns the latest version, ``.../history``
all versions (newest first), ``DELETE .../partners/{partner_id}`` removes an override.
"""

from __future__ import annotations

from litestar import Controller, delete, get, put
from litestar.di import NamedDependency
from litestar.pagination import OffsetPagination
from litestar.params import JSONBody

from persona_api.http.pagination import PageRequest
from persona_api.http.paths import IdPath
from persona_api.http.values_schemas import PreferenceOut, ValuesIn, ValuesOut
from persona_api.values.service import Preference, ValueProfiles, Values


def values_out(v: Values) -> ValuesOut:
    return ValuesOut(
        version=v.version,
        partner=v.partner,
        preferences=[
            PreferenceOut(
                dimension=p.dimension,
                subdimension=p.subdimension,
                preference=p.preference,
                description=p.description,
            )
            for p in v.preferences
        ],
        note=v.note,
        created_at=v.created_at,
    )


def _preferences(data: ValuesIn) -> list[Preference]:
    return [
        Preference(
            dimension=p.dimension,
            subdimension=p.subdimension,
            preference=p.preference,
            description=p.description,
        )
        for p in data.preferences
    ]


def _page(rows: list[Values], total: int, page: PageRequest) -> OffsetPagination[ValuesOut]:
    return OffsetPagination(
        items=[values_out(v) for v in rows], limit=page.limit, offset=page.offset, total=total
    )


class ValuesController(Controller):
    path = "/v1/users/{user_id:str}/values"
    tags = ["values"]

    @put("/", operation_id="putValues", summary="Store a new version of the user's value profile")
    async def put_values(
        self, user_id: IdPath, data: JSONBody[ValuesIn], value_profiles: NamedDependency[ValueProfiles]
    ) -> ValuesOut:
        return values_out(await value_profiles.put(user_id, _preferences(data), data.note))

    @get("/", operation_id="getValues", summary="The latest version of the user's value profile")
    async def get_values(self, user_id: IdPath, value_profiles: NamedDependency[ValueProfiles]) -> ValuesOut:
        return values_out(await value_profiles.latest(user_id))

    @get("/history", operation_id="listValueVersions", summary="Every version of the profile, newest first")
    async def history(
        self,
        user_id: IdPath,
        value_profiles: NamedDependency[ValueProfiles],
        page: NamedDependency[PageRequest],
    ) -> OffsetPagination[ValuesOut]:
        rows, total = await value_profiles.history(user_id, limit=page.limit, offset=page.offset)
        return _page(rows, total, page)

    @put(
        "/partners/{partner_id:str}",
        operation_id="putPartnerValues",
        summary="Store a new version of the override used with one conversation partner",
    )
    async def put_partner_values(
        self,
        user_id: IdPath,
        partner_id: IdPath,
        data: JSONBody[ValuesIn],
        value_profiles: NamedDependency[ValueProfiles],
    ) -> ValuesOut:
        return values_out(
            await value_profiles.put(user_id, _preferences(data), data.note, partner=partner_id)
        )

    @get("/partners/{partner_id:str}", operation_id="getPartnerValues", summary="The latest partner override")
    async def get_partner_values(
        self,
        user_id: IdPath,
        partner_id: IdPath,
        value_profiles: NamedDependency[ValueProfiles],
    ) -> ValuesOut:
        return values_out(await value_profiles.latest(user_id, partner=partner_id))

    @get(
        "/partners/{partner_id:str}/history",
        operation_id="listPartnerValueVersions",
        summary="Every version of a partner override, newest first",
    )
    async def partner_history(
        self,
        user_id: IdPath,
        partner_id: IdPath,
        value_profiles: NamedDependency[ValueProfiles],
        page: NamedDependency[PageRequest],
    ) -> OffsetPagination[ValuesOut]:
        rows, total = await value_profiles.history(
            user_id, partner=partner_id, limit=page.limit, offset=page.offset
        )
        return _page(rows, total, page)

    @delete(
        "/partners/{partner_id:str}",
        operation_id="deletePartnerValues",
        summary="Remove a partner override and its history",
    )
    async def delete_partner_values(
        self,
        user_id: IdPath,
        partner_id: IdPath,
        value_profiles: NamedDependency[ValueProfiles],
    ) -> None:
        await value_profiles.delete_override(user_id, partner_id)
