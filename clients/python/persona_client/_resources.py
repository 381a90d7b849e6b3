"""The API's operations as methods of the clients' namespaces.

Written by clients/python/generate.py: do not edit.
"""

# ruff: noqa: E501

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from persona_client._models import (
    CheckOut,
    ComparisonBody,
    ComparisonOut,
    ComparisonsAdded,
    DeletedCount,
    DeliveryOut,
    FoodPreferences,
    Health,
    Ingested,
    IngestOut,
    IngredientBody,
    IngredientDetail,
    IngredientOut,
    InteractionBody,
    InteractionOut,
    IssuedKeyOut,
    ItemBody,
    ItemOut,
    KeyOut,
    LatentOut,
    LatentVersionOut,
    MemoryCreated,
    MemoryHistory,
    MemoryOut,
    NextQueryOut,
    ObjectiveOut,
    ObjectivesOut,
    OptionBody,
    PartnerOut,
    PreferenceIn,
    Readiness,
    RecipeBody,
    RecipeOut,
    Recommendations,
    ReviewBody,
    ScoresOut,
    SearchResponse,
    SessionOut,
    SuggestionsOut,
    SystemMessageOut,
    TenantOut,
    TurnBody,
    TurnOut,
    UpsertOut,
    UserCodeOut,
    UserExport,
    UserOut,
    ValuesOut,
    WebhookCreated,
    WebhookOut,
    WebhookSecret,
    WriteOut,
)
from persona_client._paging import AsyncPage, Page
from persona_client._spec import OperationSpec
from persona_client._transport import AsyncTransport, SyncTransport

OPERATION_SPECS: dict[str, OperationSpec] = {
    "healthz": OperationSpec(
        "healthz", "GET", "/healthz", repeatable=True, body_is_list=False, path_params=()
    ),
    "readyz": OperationSpec("readyz", "GET", "/readyz", repeatable=True, body_is_list=False, path_params=()),
    "listTenants": OperationSpec(
        "listTenants", "GET", "/v1/admin/tenants", repeatable=True, body_is_list=False, path_params=()
    ),
    "createTenant": OperationSpec(
        "createTenant", "POST", "/v1/admin/tenants", repeatable=False, body_is_list=False, path_params=()
    ),
    "getTenant": OperationSpec(
        "getTenant",
        "GET",
        "/v1/admin/tenants/{tenant_id}",
        repeatable=True,
        body_is_list=False,
        path_params=("tenant_id",),
    ),
    "deleteTenant": OperationSpec(
        "deleteTenant",
        "DELETE",
        "/v1/admin/tenants/{tenant_id}",
        repeatable=True,
        body_is_list=False,
        path_params=("tenant_id",),
    ),
    "updateTenant": OperationSpec(
        "updateTenant",
        "PATCH",
        "/v1/admin/tenants/{tenant_id}",
        repeatable=True,
        body_is_list=False,
        path_params=("tenant_id",),
    ),
    "listApiKeys": OperationSpec(
        "listApiKeys",
        "GET",
        "/v1/admin/tenants/{tenant_id}/keys",
        repeatable=True,
        body_is_list=False,
        path_params=("tenant_id",),
    ),
    "issueApiKey": OperationSpec(
        "issueApiKey",
        "POST",
        "/v1/admin/tenants/{tenant_id}/keys",
        repeatable=False,
        body_is_list=False,
        path_params=("tenant_id",),
    ),
    "revokeApiKey": OperationSpec(
        "revokeApiKey",
        "DELETE",
        "/v1/admin/keys/{key_id}",
        repeatable=True,
        body_is_list=False,
        path_params=("key_id",),
    ),
    "listUsers": OperationSpec(
        "listUsers", "GET", "/v1/users", repeatable=True, body_is_list=False, path_params=()
    ),
    "createUser": OperationSpec(
        "createUser", "POST", "/v1/users", repeatable=False, body_is_list=False, path_params=()
    ),
    "getUser": OperationSpec(
        "getUser", "GET", "/v1/users/{user_id}", repeatable=True, body_is_list=False, path_params=("user_id",)
    ),
    "deleteUser": OperationSpec(
        "deleteUser",
        "DELETE",
        "/v1/users/{user_id}",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "updateUser": OperationSpec(
        "updateUser",
        "PATCH",
        "/v1/users/{user_id}",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "exportUser": OperationSpec(
        "exportUser",
        "GET",
        "/v1/users/{user_id}/export",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "getOwnTenant": OperationSpec(
        "getOwnTenant", "GET", "/v1/tenant", repeatable=True, body_is_list=False, path_params=()
    ),
    "listTurns": OperationSpec(
        "listTurns",
        "GET",
        "/v1/users/{user_id}/sessions/{session_id}/turns",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id", "session_id"),
    ),
    "appendTurns": OperationSpec(
        "appendTurns",
        "POST",
        "/v1/users/{user_id}/sessions/{session_id}/turns",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id", "session_id"),
        chunk_field="turns",
        chunk_records=200,
    ),
    "listMemories": OperationSpec(
        "listMemories",
        "GET",
        "/v1/users/{user_id}/memories",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "createMemory": OperationSpec(
        "createMemory",
        "POST",
        "/v1/users/{user_id}/memories",
        repeatable=False,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "listPartners": OperationSpec(
        "listPartners",
        "GET",
        "/v1/users/{user_id}/partners",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "createPartner": OperationSpec(
        "createPartner",
        "POST",
        "/v1/users/{user_id}/partners",
        repeatable=False,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "listSessions": OperationSpec(
        "listSessions",
        "GET",
        "/v1/users/{user_id}/sessions",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "createSession": OperationSpec(
        "createSession",
        "POST",
        "/v1/users/{user_id}/sessions",
        repeatable=False,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "getMemory": OperationSpec(
        "getMemory",
        "GET",
        "/v1/users/{user_id}/memories/{memory_id}",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id", "memory_id"),
    ),
    "deleteMemory": OperationSpec(
        "deleteMemory",
        "DELETE",
        "/v1/users/{user_id}/memories/{memory_id}",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id", "memory_id"),
    ),
    "deletePartnerMemories": OperationSpec(
        "deletePartnerMemories",
        "DELETE",
        "/v1/users/{user_id}/partners/{partner_id}/memories",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id", "partner_id"),
    ),
    "getSession": OperationSpec(
        "getSession",
        "GET",
        "/v1/users/{user_id}/sessions/{session_id}",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id", "session_id"),
    ),
    "getMemoryHistory": OperationSpec(
        "getMemoryHistory",
        "GET",
        "/v1/users/{user_id}/memories/{memory_id}/history",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id", "memory_id"),
    ),
    "searchMemories": OperationSpec(
        "searchMemories",
        "POST",
        "/v1/users/{user_id}/memories/search",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "getItem": OperationSpec(
        "getItem", "GET", "/v1/items/{item_id}", repeatable=True, body_is_list=False, path_params=("item_id",)
    ),
    "deleteItem": OperationSpec(
        "deleteItem",
        "DELETE",
        "/v1/items/{item_id}",
        repeatable=True,
        body_is_list=False,
        path_params=("item_id",),
    ),
    "listItems": OperationSpec(
        "listItems", "GET", "/v1/items", repeatable=True, body_is_list=False, path_params=()
    ),
    "upsertItems": OperationSpec(
        "upsertItems",
        "POST",
        "/v1/items",
        repeatable=True,
        body_is_list=True,
        path_params=(),
        chunk_field="items",
        chunk_records=1000,
    ),
    "similarItems": OperationSpec(
        "similarItems",
        "GET",
        "/v1/items/{item_id}/similar",
        repeatable=True,
        body_is_list=False,
        path_params=("item_id",),
    ),
    "addInteractions": OperationSpec(
        "addInteractions",
        "POST",
        "/v1/interactions",
        repeatable=True,
        body_is_list=True,
        path_params=(),
        chunk_field="interactions",
        chunk_records=1000,
    ),
    "addReviews": OperationSpec(
        "addReviews",
        "POST",
        "/v1/reviews",
        repeatable=True,
        body_is_list=True,
        path_params=(),
        chunk_field="reviews",
        chunk_records=500,
    ),
    "recommendForSession": OperationSpec(
        "recommendForSession",
        "POST",
        "/v1/recommendations/next",
        repeatable=True,
        body_is_list=False,
        path_params=(),
    ),
    "recommendForUser": OperationSpec(
        "recommendForUser",
        "GET",
        "/v1/users/{user_id}/recommendations",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "listInteractions": OperationSpec(
        "listInteractions",
        "GET",
        "/v1/users/{user_id}/interactions",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "userCode": OperationSpec(
        "userCode",
        "GET",
        "/v1/users/{user_id}/code",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "getIngredient": OperationSpec(
        "getIngredient",
        "GET",
        "/v1/ingredients/{name}",
        repeatable=True,
        body_is_list=False,
        path_params=("name",),
    ),
    "listIngredients": OperationSpec(
        "listIngredients", "GET", "/v1/ingredients", repeatable=True, body_is_list=False, path_params=()
    ),
    "upsertIngredients": OperationSpec(
        "upsertIngredients",
        "POST",
        "/v1/ingredients",
        repeatable=True,
        body_is_list=True,
        path_params=(),
        chunk_field="ingredients",
        chunk_records=1000,
    ),
    "getRecipe": OperationSpec(
        "getRecipe",
        "GET",
        "/v1/recipes/{recipe_id}",
        repeatable=True,
        body_is_list=False,
        path_params=("recipe_id",),
    ),
    "deleteRecipe": OperationSpec(
        "deleteRecipe",
        "DELETE",
        "/v1/recipes/{recipe_id}",
        repeatable=True,
        body_is_list=False,
        path_params=("recipe_id",),
    ),
    "listRecipes": OperationSpec(
        "listRecipes", "GET", "/v1/recipes", repeatable=True, body_is_list=False, path_params=()
    ),
    "upsertRecipes": OperationSpec(
        "upsertRecipes",
        "POST",
        "/v1/recipes",
        repeatable=True,
        body_is_list=True,
        path_params=(),
        chunk_field="recipes",
        chunk_records=1000,
    ),
    "getFoodPreferences": OperationSpec(
        "getFoodPreferences",
        "GET",
        "/v1/users/{user_id}/food-preferences",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "setFoodPreferences": OperationSpec(
        "setFoodPreferences",
        "PUT",
        "/v1/users/{user_id}/food-preferences",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "checkIngredients": OperationSpec(
        "checkIngredients", "POST", "/v1/pairings/check", repeatable=True, body_is_list=False, path_params=()
    ),
    "completeIngredients": OperationSpec(
        "completeIngredients",
        "POST",
        "/v1/pairings/complete",
        repeatable=True,
        body_is_list=False,
        path_params=(),
    ),
    "missingIngredient": OperationSpec(
        "missingIngredient",
        "POST",
        "/v1/pairings/missing",
        repeatable=True,
        body_is_list=False,
        path_params=(),
    ),
    "getPartnerValues": OperationSpec(
        "getPartnerValues",
        "GET",
        "/v1/users/{user_id}/values/partners/{partner_id}",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id", "partner_id"),
    ),
    "putPartnerValues": OperationSpec(
        "putPartnerValues",
        "PUT",
        "/v1/users/{user_id}/values/partners/{partner_id}",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id", "partner_id"),
    ),
    "deletePartnerValues": OperationSpec(
        "deletePartnerValues",
        "DELETE",
        "/v1/users/{user_id}/values/partners/{partner_id}",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id", "partner_id"),
    ),
    "getValues": OperationSpec(
        "getValues",
        "GET",
        "/v1/users/{user_id}/values",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "putValues": OperationSpec(
        "putValues",
        "PUT",
        "/v1/users/{user_id}/values",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "listValueVersions": OperationSpec(
        "listValueVersions",
        "GET",
        "/v1/users/{user_id}/values/history",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "listPartnerValueVersions": OperationSpec(
        "listPartnerValueVersions",
        "GET",
        "/v1/users/{user_id}/values/partners/{partner_id}/history",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id", "partner_id"),
    ),
    "listComparisons": OperationSpec(
        "listComparisons",
        "GET",
        "/v1/users/{user_id}/comparisons",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "addComparisons": OperationSpec(
        "addComparisons",
        "POST",
        "/v1/users/{user_id}/comparisons",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
        chunk_field="comparisons",
        chunk_records=500,
    ),
    "getObjective": OperationSpec(
        "getObjective",
        "GET",
        "/v1/users/{user_id}/preferences/objective",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "setObjective": OperationSpec(
        "setObjective",
        "PUT",
        "/v1/users/{user_id}/preferences/objective",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "clearObjective": OperationSpec(
        "clearObjective",
        "DELETE",
        "/v1/users/{user_id}/preferences/objective",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "deleteComparison": OperationSpec(
        "deleteComparison",
        "DELETE",
        "/v1/users/{user_id}/comparisons/{comparison_id}",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id", "comparison_id"),
    ),
    "getPreferences": OperationSpec(
        "getPreferences",
        "GET",
        "/v1/users/{user_id}/preferences",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "preferenceHistory": OperationSpec(
        "preferenceHistory",
        "GET",
        "/v1/users/{user_id}/preferences/history",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "nextQuery": OperationSpec(
        "nextQuery",
        "POST",
        "/v1/users/{user_id}/preferences/next-query",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "scoreCandidates": OperationSpec(
        "scoreCandidates",
        "POST",
        "/v1/users/{user_id}/preferences/score",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "nextQueryForPopulation": OperationSpec(
        "nextQueryForPopulation",
        "POST",
        "/v1/preferences/next-query",
        repeatable=True,
        body_is_list=False,
        path_params=(),
    ),
    "listObjectives": OperationSpec(
        "listObjectives",
        "GET",
        "/v1/preferences/objectives",
        repeatable=True,
        body_is_list=False,
        path_params=(),
    ),
    "getPopulationPrior": OperationSpec(
        "getPopulationPrior",
        "GET",
        "/v1/preferences/prior",
        repeatable=True,
        body_is_list=False,
        path_params=(),
    ),
    "scoreCandidatesForPopulation": OperationSpec(
        "scoreCandidatesForPopulation",
        "POST",
        "/v1/preferences/score",
        repeatable=True,
        body_is_list=False,
        path_params=(),
    ),
    "renderSystemMessage": OperationSpec(
        "renderSystemMessage",
        "POST",
        "/v1/users/{user_id}/system-message",
        repeatable=True,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "chat": OperationSpec(
        "chat",
        "POST",
        "/v1/users/{user_id}/chat",
        repeatable=False,
        body_is_list=False,
        path_params=("user_id",),
    ),
    "listWebhooks": OperationSpec(
        "listWebhooks", "GET", "/v1/webhooks", repeatable=True, body_is_list=False, path_params=()
    ),
    "createWebhook": OperationSpec(
        "createWebhook", "POST", "/v1/webhooks", repeatable=False, body_is_list=False, path_params=()
    ),
    "getWebhook": OperationSpec(
        "getWebhook",
        "GET",
        "/v1/webhooks/{webhook_id}",
        repeatable=True,
        body_is_list=False,
        path_params=("webhook_id",),
    ),
    "deleteWebhook": OperationSpec(
        "deleteWebhook",
        "DELETE",
        "/v1/webhooks/{webhook_id}",
        repeatable=True,
        body_is_list=False,
        path_params=("webhook_id",),
    ),
    "listWebhookDeliveries": OperationSpec(
        "listWebhookDeliveries",
        "GET",
        "/v1/webhooks/{webhook_id}/deliveries",
        repeatable=True,
        body_is_list=False,
        path_params=("webhook_id",),
    ),
    "rotateWebhookSecret": OperationSpec(
        "rotateWebhookSecret",
        "POST",
        "/v1/webhooks/{webhook_id}/rotate-secret",
        repeatable=False,
        body_is_list=False,
        path_params=("webhook_id",),
    ),
}

OPERATIONS: dict[str, str] = {
    "addComparisons": "comparisons.add",
    "addInteractions": "interactions.add",
    "addReviews": "reviews.add",
    "appendTurns": "turns.append",
    "chat": "chat",
    "checkIngredients": "pairings.check",
    "clearObjective": "preferences.clear_objective",
    "completeIngredients": "pairings.complete",
    "createMemory": "memories.create",
    "createPartner": "partners.create",
    "createSession": "sessions.create",
    "createTenant": "admin.tenants.create",
    "createUser": "users.create",
    "createWebhook": "webhooks.create",
    "deleteComparison": "comparisons.delete",
    "deleteItem": "items.delete",
    "deleteMemory": "memories.delete",
    "deletePartnerMemories": "partners.delete_memories",
    "deletePartnerValues": "values.delete_for_partner",
    "deleteRecipe": "recipes.delete",
    "deleteTenant": "admin.tenants.delete",
    "deleteUser": "users.delete",
    "deleteWebhook": "webhooks.delete",
    "exportUser": "users.export",
    "getFoodPreferences": "food_preferences.get",
    "getIngredient": "ingredients.get",
    "getItem": "items.get",
    "getMemory": "memories.get",
    "getMemoryHistory": "memories.history",
    "getObjective": "preferences.get_objective",
    "getOwnTenant": "tenant.get",
    "getPartnerValues": "values.get_for_partner",
    "getPopulationPrior": "population.prior",
    "getPreferences": "preferences.get",
    "getRecipe": "recipes.get",
    "getSession": "sessions.get",
    "getTenant": "admin.tenants.get",
    "getUser": "users.get",
    "getValues": "values.get",
    "getWebhook": "webhooks.get",
    "healthz": "health.live",
    "issueApiKey": "admin.keys.create",
    "listApiKeys": "admin.keys.list",
    "listComparisons": "comparisons.list",
    "listIngredients": "ingredients.list",
    "listInteractions": "interactions.list",
    "listItems": "items.list",
    "listMemories": "memories.list",
    "listObjectives": "population.objectives",
    "listPartnerValueVersions": "values.history_for_partner",
    "listPartners": "partners.list",
    "listRecipes": "recipes.list",
    "listSessions": "sessions.list",
    "listTenants": "admin.tenants.list",
    "listTurns": "turns.list",
    "listUsers": "users.list",
    "listValueVersions": "values.history",
    "listWebhookDeliveries": "webhooks.deliveries",
    "listWebhooks": "webhooks.list",
    "missingIngredient": "pairings.missing",
    "nextQuery": "preferences.next_query",
    "nextQueryForPopulation": "population.next_query",
    "preferenceHistory": "preferences.history",
    "putPartnerValues": "values.put_for_partner",
    "putValues": "values.put",
    "readyz": "health.ready",
    "recommendForSession": "recommendations.for_session",
    "recommendForUser": "recommendations.for_user",
    "renderSystemMessage": "system_message",
    "revokeApiKey": "admin.keys.revoke",
    "rotateWebhookSecret": "webhooks.rotate_secret",
    "scoreCandidates": "preferences.score",
    "scoreCandidatesForPopulation": "population.score",
    "searchMemories": "memories.search",
    "setFoodPreferences": "food_preferences.put",
    "setObjective": "preferences.set_objective",
    "similarItems": "items.similar",
    "updateTenant": "admin.tenants.update",
    "updateUser": "users.update",
    "upsertIngredients": "ingredients.upsert",
    "upsertItems": "items.upsert",
    "upsertRecipes": "recipes.upsert",
    "userCode": "recommendations.user_code",
}
"""Every operationId of the API to the dotted path of its method on a client."""


class AdminKeysResource:
    """``client.admin.keys``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client

    def list(self, tenant_id: str, /, *, limit: int = 50, offset: int = 0) -> Page[KeyOut]:
        """List a tenant's API keys (prefixes only) (``GET /v1/admin/tenants/{tenant_id}/keys``)."""
        return self._client._page(
            OPERATION_SPECS["listApiKeys"],
            {"tenant_id": tenant_id},
            query={"limit": limit, "offset": offset},
            item=KeyOut,
        )

    def create(
        self, tenant_id: str, /, *, name: str = "", scope: Literal["read", "write"] = "write"
    ) -> IssuedKeyOut:
        """Issue an API key for a tenant (the key is shown once) (``POST /v1/admin/tenants/{tenant_id}/keys``)."""
        return self._client._call(
            OPERATION_SPECS["issueApiKey"],
            {"tenant_id": tenant_id},
            query={},
            body={"name": name, "scope": scope},
            type=IssuedKeyOut,
        )

    def revoke(self, key_id: str, /) -> None:
        """Revoke an API key (``DELETE /v1/admin/keys/{key_id}``)."""
        self._client._void(OPERATION_SPECS["revokeApiKey"], {"key_id": key_id}, query={})


class AdminTenantsResource:
    """``client.admin.tenants``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client

    def list(self, *, limit: int = 50, offset: int = 0) -> Page[TenantOut]:
        """List tenants (``GET /v1/admin/tenants``)."""
        return self._client._page(
            OPERATION_SPECS["listTenants"], {}, query={"limit": limit, "offset": offset}, item=TenantOut
        )

    def create(
        self, *, name: str, rate_limit_per_minute: int | None = None, create_unknown_users: bool = True
    ) -> TenantOut:
        """Create a tenant (a client app) (``POST /v1/admin/tenants``)."""
        return self._client._call(
            OPERATION_SPECS["createTenant"],
            {},
            query={},
            body={
                "name": name,
                "rate_limit_per_minute": rate_limit_per_minute,
                "create_unknown_users": create_unknown_users,
            },
            type=TenantOut,
        )

    def get(self, tenant_id: str, /) -> TenantOut:
        """Get a tenant (``GET /v1/admin/tenants/{tenant_id}``)."""
        return self._client._call(
            OPERATION_SPECS["getTenant"], {"tenant_id": tenant_id}, query={}, type=TenantOut
        )

    def delete(self, tenant_id: str, /) -> None:
        """Delete a tenant with its keys and all its users' data (``DELETE /v1/admin/tenants/{tenant_id}``)."""
        self._client._void(OPERATION_SPECS["deleteTenant"], {"tenant_id": tenant_id}, query={})

    def update(
        self,
        tenant_id: str,
        /,
        *,
        rate_limit_per_minute: int | None = None,
        create_unknown_users: bool | None = None,
    ) -> TenantOut:
        """Change a tenant's settings: its rate limit, whether unknown users are created (``PATCH /v1/admin/tenants/{tenant_id}``)."""
        return self._client._call(
            OPERATION_SPECS["updateTenant"],
            {"tenant_id": tenant_id},
            query={},
            body={
                "rate_limit_per_minute": rate_limit_per_minute,
                "create_unknown_users": create_unknown_users,
            },
            type=TenantOut,
        )


class AdminResource:
    """``client.admin``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client
        self.keys = AdminKeysResource(client)
        self.tenants = AdminTenantsResource(client)


class ComparisonsResource:
    """``client.comparisons``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client

    def list(self, user_id: str, /, *, limit: int = 50, offset: int = 0) -> Page[ComparisonOut]:
        """A user's comparisons, newest first (``GET /v1/users/{user_id}/comparisons``)."""
        return self._client._page(
            OPERATION_SPECS["listComparisons"],
            {"user_id": user_id},
            query={"limit": limit, "offset": offset},
            item=ComparisonOut,
        )

    def add(
        self, user_id: str, /, *, comparisons: Iterable[ComparisonBody | Mapping[str, Any]]
    ) -> ComparisonsAdded:
        """Record pairwise comparisons (up to 500) and refit the user's latent (``POST /v1/users/{user_id}/comparisons``)."""
        return self._client._bulk(
            OPERATION_SPECS["addComparisons"],
            {"user_id": user_id},
            query={},
            records=comparisons,
            fields={},
            type=ComparisonsAdded,
        )

    def delete(self, user_id: str, comparison_id: str, /) -> None:
        """Delete a comparison and refit the user's latent (``DELETE /v1/users/{user_id}/comparisons/{comparison_id}``)."""
        self._client._void(
            OPERATION_SPECS["deleteComparison"],
            {"user_id": user_id, "comparison_id": comparison_id},
            query={},
        )


class FoodPreferencesResource:
    """``client.food_preferences``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client

    def get(self, user_id: str, /) -> FoodPreferences:
        """What a user dislikes or is allergic to (``GET /v1/users/{user_id}/food-preferences``)."""
        return self._client._call(
            OPERATION_SPECS["getFoodPreferences"], {"user_id": user_id}, query={}, type=FoodPreferences
        )

    def put(
        self, user_id: str, /, *, dislikes: Sequence[str] = [], allergies: Sequence[str] = []
    ) -> FoodPreferences:
        """Replace a user's dislikes and allergies (never suggested to them) (``PUT /v1/users/{user_id}/food-preferences``)."""
        return self._client._call(
            OPERATION_SPECS["setFoodPreferences"],
            {"user_id": user_id},
            query={},
            body={"dislikes": dislikes, "allergies": allergies},
            type=FoodPreferences,
        )


class HealthResource:
    """``client.health``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client

    def live(self) -> Health:
        """Liveness: the process is up (``GET /healthz``)."""
        return self._client._call(OPERATION_SPECS["healthz"], {}, query={}, type=Health)

    def ready(self) -> Readiness:
        """Readiness: database reachable and migrated, embedding model and artifacts loaded (``GET /readyz``)."""
        return self._client._call(OPERATION_SPECS["readyz"], {}, query={}, type=Readiness)


class IngredientsResource:
    """``client.ingredients``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client

    def get(self, name: str, /) -> IngredientDetail:
        """An ingredient with its flavor compounds (``GET /v1/ingredients/{name}``)."""
        return self._client._call(
            OPERATION_SPECS["getIngredient"], {"name": name}, query={}, type=IngredientDetail
        )

    def list(
        self, *, limit: int = 50, offset: int = 0, q: str | None = None, category: str | None = None
    ) -> Page[IngredientOut]:
        """List ingredients (``GET /v1/ingredients``)."""
        return self._client._page(
            OPERATION_SPECS["listIngredients"],
            {},
            query={"limit": limit, "offset": offset, "q": q, "category": category},
            item=IngredientOut,
        )

    def upsert(self, *, ingredients: Iterable[IngredientBody | Mapping[str, Any]]) -> WriteOut:
        """Create or update ingredients (JSON array or NDJSON, up to 1000) (``POST /v1/ingredients``)."""
        return self._client._bulk(
            OPERATION_SPECS["upsertIngredients"], {}, query={}, records=ingredients, fields={}, type=WriteOut
        )


class InteractionsResource:
    """``client.interactions``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client

    def add(self, *, interactions: Iterable[InteractionBody | Mapping[str, Any]]) -> Ingested:
        """Record interactions (JSON array or NDJSON, up to 5000) (``POST /v1/interactions``)."""
        return self._client._bulk(
            OPERATION_SPECS["addInteractions"], {}, query={}, records=interactions, fields={}, type=Ingested
        )

    def list(self, user_id: str, /, *, limit: int = 50, offset: int = 0) -> Page[InteractionOut]:
        """A user's interactions, newest first (``GET /v1/users/{user_id}/interactions``)."""
        return self._client._page(
            OPERATION_SPECS["listInteractions"],
            {"user_id": user_id},
            query={"limit": limit, "offset": offset},
            item=InteractionOut,
        )


class ItemsResource:
    """``client.items``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client

    def get(self, item_id: str, /) -> ItemOut:
        """Get a catalog item (``GET /v1/items/{item_id}``)."""
        return self._client._call(OPERATION_SPECS["getItem"], {"item_id": item_id}, query={}, type=ItemOut)

    def delete(self, item_id: str, /) -> None:
        """Delete an item with its interactions and reviews (``DELETE /v1/items/{item_id}``)."""
        self._client._void(OPERATION_SPECS["deleteItem"], {"item_id": item_id}, query={})

    def list(self, *, limit: int = 50, offset: int = 0) -> Page[ItemOut]:
        """List catalog items (``GET /v1/items``)."""
        return self._client._page(
            OPERATION_SPECS["listItems"], {}, query={"limit": limit, "offset": offset}, item=ItemOut
        )

    def upsert(self, *, items: Iterable[ItemBody | Mapping[str, Any]]) -> UpsertOut:
        """Create or replace catalog items (JSON array or NDJSON, up to 1000) (``POST /v1/items``)."""
        return self._client._bulk(
            OPERATION_SPECS["upsertItems"], {}, query={}, records=items, fields={}, type=UpsertOut
        )

    def similar(
        self, item_id: str, /, *, k: int = 10, filter: Sequence[str] | None = None
    ) -> Recommendations:
        """Items similar to an item (``GET /v1/items/{item_id}/similar``)."""
        return self._client._call(
            OPERATION_SPECS["similarItems"],
            {"item_id": item_id},
            query={"k": k, "filter": filter},
            type=Recommendations,
        )


class MemoriesResource:
    """``client.memories``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client

    def list(
        self,
        user_id: str,
        /,
        *,
        limit: int = 50,
        offset: int = 0,
        partner: str | None = None,
        include_superseded: bool = False,
    ) -> Page[MemoryOut]:
        """List the user's memories (``GET /v1/users/{user_id}/memories``)."""
        return self._client._page(
            OPERATION_SPECS["listMemories"],
            {"user_id": user_id},
            query={
                "limit": limit,
                "offset": offset,
                "partner": partner,
                "include_superseded": include_superseded,
            },
            item=MemoryOut,
        )

    def create(
        self,
        user_id: str,
        /,
        *,
        text: str,
        partner: str | None = None,
        session: str | None = None,
        turn_ids: Sequence[str] = [],
        observed_at: str | None = None,
        valid_from: str | None = None,
        key: str | None = None,
    ) -> MemoryCreated:
        """Store a memory (deduplicated, may supersede) (``POST /v1/users/{user_id}/memories``)."""
        return self._client._call(
            OPERATION_SPECS["createMemory"],
            {"user_id": user_id},
            query={},
            body={
                "text": text,
                "partner": partner,
                "session": session,
                "turn_ids": turn_ids,
                "observed_at": observed_at,
                "valid_from": valid_from,
                "key": key,
            },
            type=MemoryCreated,
        )

    def get(self, user_id: str, memory_id: int, /) -> MemoryOut:
        """Get a memory (``GET /v1/users/{user_id}/memories/{memory_id}``)."""
        return self._client._call(
            OPERATION_SPECS["getMemory"],
            {"user_id": user_id, "memory_id": memory_id},
            query={},
            type=MemoryOut,
        )

    def delete(self, user_id: str, memory_id: int, /) -> None:
        """Delete one memory (``DELETE /v1/users/{user_id}/memories/{memory_id}``)."""
        self._client._void(
            OPERATION_SPECS["deleteMemory"], {"user_id": user_id, "memory_id": memory_id}, query={}
        )

    def history(self, user_id: str, memory_id: int, /) -> MemoryHistory:
        """Every version of a memory, oldest first (``GET /v1/users/{user_id}/memories/{memory_id}/history``)."""
        return self._client._call(
            OPERATION_SPECS["getMemoryHistory"],
            {"user_id": user_id, "memory_id": memory_id},
            query={},
            type=MemoryHistory,
        )

    def search(
        self,
        user_id: str,
        /,
        *,
        query: str,
        k: int = 10,
        partner: str | None = None,
        subject: str | None = None,
        session: str | None = None,
        observed_from: str | None = None,
        observed_to: str | None = None,
        include_superseded: bool = False,
        include_linked: bool = False,
    ) -> SearchResponse:
        """Hybrid search over the user's memories (``POST /v1/users/{user_id}/memories/search``)."""
        return self._client._call(
            OPERATION_SPECS["searchMemories"],
            {"user_id": user_id},
            query={},
            body={
                "query": query,
                "k": k,
                "partner": partner,
                "subject": subject,
                "session": session,
                "observed_from": observed_from,
                "observed_to": observed_to,
                "include_superseded": include_superseded,
                "include_linked": include_linked,
            },
            type=SearchResponse,
        )


class PairingsResource:
    """``client.pairings``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client

    def check(self, *, ingredients: Sequence[str], user: str | None = None) -> CheckOut:
        """Pairwise compatibility, and pairs to advise against (``POST /v1/pairings/check``)."""
        return self._client._call(
            OPERATION_SPECS["checkIngredients"],
            {},
            query={},
            body={"ingredients": ingredients, "user": user},
            type=CheckOut,
        )

    def complete(
        self,
        *,
        ingredients: Sequence[str],
        k: int = 10,
        mode: Literal["blend", "flavor", "recipe"] | None = None,
        cuisine: str | None = None,
        exclude: Sequence[str] = [],
        categories: Sequence[str] = [],
        user: str | None = None,
    ) -> SuggestionsOut:
        """Ingredients to add (``POST /v1/pairings/complete``)."""
        return self._client._call(
            OPERATION_SPECS["completeIngredients"],
            {},
            query={},
            body={
                "ingredients": ingredients,
                "k": k,
                "mode": mode,
                "cuisine": cuisine,
                "exclude": exclude,
                "categories": categories,
                "user": user,
            },
            type=SuggestionsOut,
        )

    def missing(
        self, *, ingredients: Sequence[str], k: int = 3, cuisine: str | None = None, user: str | None = None
    ) -> SuggestionsOut:
        """The most likely missing ingredient of a recipe (``POST /v1/pairings/missing``)."""
        return self._client._call(
            OPERATION_SPECS["missingIngredient"],
            {},
            query={},
            body={"ingredients": ingredients, "k": k, "cuisine": cuisine, "user": user},
            type=SuggestionsOut,
        )


class PartnersResource:
    """``client.partners``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client

    def list(self, user_id: str, /, *, limit: int = 50, offset: int = 0) -> Page[PartnerOut]:
        """List the user's conversation partners (``GET /v1/users/{user_id}/partners``)."""
        return self._client._page(
            OPERATION_SPECS["listPartners"],
            {"user_id": user_id},
            query={"limit": limit, "offset": offset},
            item=PartnerOut,
        )

    def create(
        self, user_id: str, /, *, id: str, name: str, kind: Literal["agent", "bot", "person"] = "person"
    ) -> PartnerOut:
        """Add a conversation partner of the user (``POST /v1/users/{user_id}/partners``)."""
        return self._client._call(
            OPERATION_SPECS["createPartner"],
            {"user_id": user_id},
            query={},
            body={"id": id, "name": name, "kind": kind},
            type=PartnerOut,
        )

    def delete_memories(self, user_id: str, partner_id: str, /) -> DeletedCount:
        """Delete every memory about a partner (``DELETE /v1/users/{user_id}/partners/{partner_id}/memories``)."""
        return self._client._call(
            OPERATION_SPECS["deletePartnerMemories"],
            {"user_id": user_id, "partner_id": partner_id},
            query={},
            type=DeletedCount,
        )


class PopulationResource:
    """``client.population``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client

    def next_query(self, *, candidates: Sequence[OptionBody | Mapping[str, Any]]) -> NextQueryOut:
        """The first comparison to ask a new user, among 2-100 candidates (``POST /v1/preferences/next-query``)."""
        return self._client._call(
            OPERATION_SPECS["nextQueryForPopulation"],
            {},
            query={},
            body={"candidates": candidates},
            type=NextQueryOut,
        )

    def objectives(self) -> ObjectivesOut:
        """The named objectives a direction can weight (``GET /v1/preferences/objectives``)."""
        return self._client._call(OPERATION_SPECS["listObjectives"], {}, query={}, type=ObjectivesOut)

    def prior(self) -> LatentOut:
        """The population's prior latent (``GET /v1/preferences/prior``)."""
        return self._client._call(OPERATION_SPECS["getPopulationPrior"], {}, query={}, type=LatentOut)

    def score(
        self, *, candidates: Sequence[OptionBody | Mapping[str, Any]], context: str | None = None
    ) -> ScoresOut:
        """Rank 2-200 candidates under the population's prior (``POST /v1/preferences/score``)."""
        return self._client._call(
            OPERATION_SPECS["scoreCandidatesForPopulation"],
            {},
            query={},
            body={"candidates": candidates, "context": context},
            type=ScoresOut,
        )


class PreferencesResource:
    """``client.preferences``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client

    def get_objective(self, user_id: str, /) -> ObjectiveOut:
        """The user's objective direction (``GET /v1/users/{user_id}/preferences/objective``)."""
        return self._client._call(
            OPERATION_SPECS["getObjective"], {"user_id": user_id}, query={}, type=ObjectiveOut
        )

    def set_objective(self, user_id: str, /, *, weights: Mapping[str, float]) -> ObjectiveOut:
        """Set the user's objective direction (normalised to a unit vector) (``PUT /v1/users/{user_id}/preferences/objective``)."""
        return self._client._call(
            OPERATION_SPECS["setObjective"],
            {"user_id": user_id},
            query={},
            body={"weights": weights},
            type=ObjectiveOut,
        )

    def clear_objective(self, user_id: str, /) -> None:
        """Clear the objective direction (``DELETE /v1/users/{user_id}/preferences/objective``)."""
        self._client._void(OPERATION_SPECS["clearObjective"], {"user_id": user_id}, query={})

    def get(self, user_id: str, /) -> LatentOut:
        """The user's preference latent (``GET /v1/users/{user_id}/preferences``)."""
        return self._client._call(
            OPERATION_SPECS["getPreferences"], {"user_id": user_id}, query={}, type=LatentOut
        )

    def history(self, user_id: str, /, *, limit: int = 50, offset: int = 0) -> Page[LatentVersionOut]:
        """The user's stored latent versions, newest first (``GET /v1/users/{user_id}/preferences/history``)."""
        return self._client._page(
            OPERATION_SPECS["preferenceHistory"],
            {"user_id": user_id},
            query={"limit": limit, "offset": offset},
            item=LatentVersionOut,
        )

    def next_query(
        self, user_id: str, /, *, candidates: Sequence[OptionBody | Mapping[str, Any]]
    ) -> NextQueryOut:
        """The comparison among 2-100 candidates whose answer would tell most about the user (``POST /v1/users/{user_id}/preferences/next-query``)."""
        return self._client._call(
            OPERATION_SPECS["nextQuery"],
            {"user_id": user_id},
            query={},
            body={"candidates": candidates},
            type=NextQueryOut,
        )

    def score(
        self,
        user_id: str,
        /,
        *,
        candidates: Sequence[OptionBody | Mapping[str, Any]],
        context: str | None = None,
    ) -> ScoresOut:
        """Rank 2-200 candidates for the user, with uncertainty (``POST /v1/users/{user_id}/preferences/score``)."""
        return self._client._call(
            OPERATION_SPECS["scoreCandidates"],
            {"user_id": user_id},
            query={},
            body={"candidates": candidates, "context": context},
            type=ScoresOut,
        )


class RecipesResource:
    """``client.recipes``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client

    def get(self, recipe_id: str, /) -> RecipeOut:
        """A recipe (``GET /v1/recipes/{recipe_id}``)."""
        return self._client._call(
            OPERATION_SPECS["getRecipe"], {"recipe_id": recipe_id}, query={}, type=RecipeOut
        )

    def delete(self, recipe_id: str, /) -> None:
        """Delete a recipe (``DELETE /v1/recipes/{recipe_id}``)."""
        self._client._void(OPERATION_SPECS["deleteRecipe"], {"recipe_id": recipe_id}, query={})

    def list(self, *, limit: int = 50, offset: int = 0, user: str | None = None) -> Page[RecipeOut]:
        """List recipes, optionally one user's (``GET /v1/recipes``)."""
        return self._client._page(
            OPERATION_SPECS["listRecipes"],
            {},
            query={"limit": limit, "offset": offset, "user": user},
            item=RecipeOut,
        )

    def upsert(self, *, recipes: Iterable[RecipeBody | Mapping[str, Any]]) -> WriteOut:
        """Create or replace recipes (JSON array or NDJSON, up to 1000) (``POST /v1/recipes``)."""
        return self._client._bulk(
            OPERATION_SPECS["upsertRecipes"], {}, query={}, records=recipes, fields={}, type=WriteOut
        )


class RecommendationsResource:
    """``client.recommendations``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client

    def for_session(
        self,
        *,
        items: Sequence[str],
        k: int = 10,
        exclude_seen: bool = True,
        exclude: Sequence[str] = [],
        filters: Mapping[str, str] = {},
    ) -> Recommendations:
        """Next items for an anonymous session (``POST /v1/recommendations/next``)."""
        return self._client._call(
            OPERATION_SPECS["recommendForSession"],
            {},
            query={},
            body={
                "items": items,
                "k": k,
                "exclude_seen": exclude_seen,
                "exclude": exclude,
                "filters": filters,
            },
            type=Recommendations,
        )

    def for_user(
        self,
        user_id: str,
        /,
        *,
        k: int = 10,
        exclude_seen: bool = True,
        exclude: Sequence[str] | None = None,
        filter: Sequence[str] | None = None,
        rerank: Literal["preferences", None] | None = None,
    ) -> Recommendations:
        """Next items for a user (``GET /v1/users/{user_id}/recommendations``)."""
        return self._client._call(
            OPERATION_SPECS["recommendForUser"],
            {"user_id": user_id},
            query={
                "k": k,
                "exclude_seen": exclude_seen,
                "exclude": exclude,
                "filter": filter,
                "rerank": rerank,
            },
            type=Recommendations,
        )

    def user_code(self, user_id: str, /) -> UserCodeOut:
        """The user's quantized taste code (``GET /v1/users/{user_id}/code``)."""
        return self._client._call(
            OPERATION_SPECS["userCode"], {"user_id": user_id}, query={}, type=UserCodeOut
        )


class ReviewsResource:
    """``client.reviews``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client

    def add(self, *, reviews: Iterable[ReviewBody | Mapping[str, Any]]) -> Ingested:
        """Record reviews (JSON array or NDJSON, up to 500) (``POST /v1/reviews``)."""
        return self._client._bulk(
            OPERATION_SPECS["addReviews"], {}, query={}, records=reviews, fields={}, type=Ingested
        )


class SessionsResource:
    """``client.sessions``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client

    def list(self, user_id: str, /, *, limit: int = 50, offset: int = 0) -> Page[SessionOut]:
        """List the user's sessions in order (``GET /v1/users/{user_id}/sessions``)."""
        return self._client._page(
            OPERATION_SPECS["listSessions"],
            {"user_id": user_id},
            query={"limit": limit, "offset": offset},
            item=SessionOut,
        )

    def create(
        self,
        user_id: str,
        /,
        *,
        partners: Sequence[str],
        id: str | None = None,
        started_at: str | None = None,
    ) -> SessionOut:
        """Start a conversation session (``POST /v1/users/{user_id}/sessions``)."""
        return self._client._call(
            OPERATION_SPECS["createSession"],
            {"user_id": user_id},
            query={},
            body={"partners": partners, "id": id, "started_at": started_at},
            type=SessionOut,
        )

    def get(self, user_id: str, session_id: str, /) -> SessionOut:
        """Get a session (``GET /v1/users/{user_id}/sessions/{session_id}``)."""
        return self._client._call(
            OPERATION_SPECS["getSession"],
            {"user_id": user_id, "session_id": session_id},
            query={},
            type=SessionOut,
        )


class TenantResource:
    """``client.tenant``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client

    def get(self) -> TenantOut:
        """The API key's own tenant and its settings (``GET /v1/tenant``)."""
        return self._client._call(OPERATION_SPECS["getOwnTenant"], {}, query={}, type=TenantOut)


class TurnsResource:
    """``client.turns``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client

    def list(self, user_id: str, session_id: str, /, *, limit: int = 50, offset: int = 0) -> Page[TurnOut]:
        """List a session's turns in order (``GET /v1/users/{user_id}/sessions/{session_id}/turns``)."""
        return self._client._page(
            OPERATION_SPECS["listTurns"],
            {"user_id": user_id, "session_id": session_id},
            query={"limit": limit, "offset": offset},
            item=TurnOut,
        )

    def append(
        self, user_id: str, session_id: str, /, *, turns: Iterable[TurnBody | Mapping[str, Any]]
    ) -> IngestOut:
        """Append turns to a session; memories are extracted from them (``POST /v1/users/{user_id}/sessions/{session_id}/turns``)."""
        return self._client._bulk(
            OPERATION_SPECS["appendTurns"],
            {"user_id": user_id, "session_id": session_id},
            query={},
            records=turns,
            fields={},
            type=IngestOut,
        )


class UsersResource:
    """``client.users``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client

    def list(self, *, limit: int = 50, offset: int = 0) -> Page[UserOut]:
        """List users (``GET /v1/users``)."""
        return self._client._page(
            OPERATION_SPECS["listUsers"], {}, query={"limit": limit, "offset": offset}, item=UserOut
        )

    def create(self, *, id: str, metadata: Mapping[str, Any] = {}) -> UserOut:
        """Create a user (``POST /v1/users``)."""
        return self._client._call(
            OPERATION_SPECS["createUser"], {}, query={}, body={"id": id, "metadata": metadata}, type=UserOut
        )

    def get(self, user_id: str, /) -> UserOut:
        """Get a user (``GET /v1/users/{user_id}``)."""
        return self._client._call(OPERATION_SPECS["getUser"], {"user_id": user_id}, query={}, type=UserOut)

    def delete(self, user_id: str, /) -> None:
        """Delete a user and everything stored about them (``DELETE /v1/users/{user_id}``)."""
        self._client._void(OPERATION_SPECS["deleteUser"], {"user_id": user_id}, query={})

    def update(self, user_id: str, /, *, metadata: Mapping[str, Any]) -> UserOut:
        """Update a user's metadata (JSON merge patch) (``PATCH /v1/users/{user_id}``)."""
        return self._client._call(
            OPERATION_SPECS["updateUser"],
            {"user_id": user_id},
            query={},
            body={"metadata": metadata},
            type=UserOut,
        )

    def export(self, user_id: str, /) -> UserExport:
        """Export everything stored about a user (``GET /v1/users/{user_id}/export``)."""
        return self._client._call(
            OPERATION_SPECS["exportUser"], {"user_id": user_id}, query={}, type=UserExport
        )


class ValuesResource:
    """``client.values``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client

    def get_for_partner(self, user_id: str, partner_id: str, /) -> ValuesOut:
        """The latest partner override (``GET /v1/users/{user_id}/values/partners/{partner_id}``)."""
        return self._client._call(
            OPERATION_SPECS["getPartnerValues"],
            {"user_id": user_id, "partner_id": partner_id},
            query={},
            type=ValuesOut,
        )

    def put_for_partner(
        self,
        user_id: str,
        partner_id: str,
        /,
        *,
        preferences: Sequence[PreferenceIn | Mapping[str, Any]],
        note: str = "",
    ) -> ValuesOut:
        """Store a new version of the override used with one conversation partner (``PUT /v1/users/{user_id}/values/partners/{partner_id}``)."""
        return self._client._call(
            OPERATION_SPECS["putPartnerValues"],
            {"user_id": user_id, "partner_id": partner_id},
            query={},
            body={"preferences": preferences, "note": note},
            type=ValuesOut,
        )

    def delete_for_partner(self, user_id: str, partner_id: str, /) -> None:
        """Remove a partner override and its history (``DELETE /v1/users/{user_id}/values/partners/{partner_id}``)."""
        self._client._void(
            OPERATION_SPECS["deletePartnerValues"], {"user_id": user_id, "partner_id": partner_id}, query={}
        )

    def get(self, user_id: str, /) -> ValuesOut:
        """The latest version of the user's value profile (``GET /v1/users/{user_id}/values``)."""
        return self._client._call(
            OPERATION_SPECS["getValues"], {"user_id": user_id}, query={}, type=ValuesOut
        )

    def put(
        self, user_id: str, /, *, preferences: Sequence[PreferenceIn | Mapping[str, Any]], note: str = ""
    ) -> ValuesOut:
        """Store a new version of the user's value profile (``PUT /v1/users/{user_id}/values``)."""
        return self._client._call(
            OPERATION_SPECS["putValues"],
            {"user_id": user_id},
            query={},
            body={"preferences": preferences, "note": note},
            type=ValuesOut,
        )

    def history(self, user_id: str, /, *, limit: int = 50, offset: int = 0) -> Page[ValuesOut]:
        """Every version of the profile, newest first (``GET /v1/users/{user_id}/values/history``)."""
        return self._client._page(
            OPERATION_SPECS["listValueVersions"],
            {"user_id": user_id},
            query={"limit": limit, "offset": offset},
            item=ValuesOut,
        )

    def history_for_partner(
        self, user_id: str, partner_id: str, /, *, limit: int = 50, offset: int = 0
    ) -> Page[ValuesOut]:
        """Every version of a partner override, newest first (``GET /v1/users/{user_id}/values/partners/{partner_id}/history``)."""
        return self._client._page(
            OPERATION_SPECS["listPartnerValueVersions"],
            {"user_id": user_id, "partner_id": partner_id},
            query={"limit": limit, "offset": offset},
            item=ValuesOut,
        )


class WebhooksResource:
    """``client.webhooks``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client

    def list(self, *, limit: int = 50, offset: int = 0) -> Page[WebhookOut]:
        """The tenant's webhook endpoints (``GET /v1/webhooks``)."""
        return self._client._page(
            OPERATION_SPECS["listWebhooks"], {}, query={"limit": limit, "offset": offset}, item=WebhookOut
        )

    def create(
        self,
        *,
        url: str,
        events: Sequence[
            Literal[
                "artifacts.published",
                "memory.created",
                "memory.deleted",
                "memory.superseded",
                "preferences.updated",
                "user.deleted",
                "values.updated",
            ]
        ],
        description: str = "",
    ) -> WebhookCreated:
        """Subscribe an endpoint to event types (``POST /v1/webhooks``)."""
        return self._client._call(
            OPERATION_SPECS["createWebhook"],
            {},
            query={},
            body={"url": url, "events": events, "description": description},
            type=WebhookCreated,
        )

    def get(self, webhook_id: str, /) -> WebhookOut:
        """One webhook endpoint (``GET /v1/webhooks/{webhook_id}``)."""
        return self._client._call(
            OPERATION_SPECS["getWebhook"], {"webhook_id": webhook_id}, query={}, type=WebhookOut
        )

    def delete(self, webhook_id: str, /) -> None:
        """Delete an endpoint (its pending deliveries are dropped) (``DELETE /v1/webhooks/{webhook_id}``)."""
        self._client._void(OPERATION_SPECS["deleteWebhook"], {"webhook_id": webhook_id}, query={})

    def deliveries(self, webhook_id: str, /, *, limit: int = 50, offset: int = 0) -> Page[DeliveryOut]:
        """An endpoint's recent deliveries, newest first (``GET /v1/webhooks/{webhook_id}/deliveries``)."""
        return self._client._page(
            OPERATION_SPECS["listWebhookDeliveries"],
            {"webhook_id": webhook_id},
            query={"limit": limit, "offset": offset},
            item=DeliveryOut,
        )

    def rotate_secret(self, webhook_id: str, /) -> WebhookSecret:
        """Replace an endpoint's signing secret (the old one stops at once) (``POST /v1/webhooks/{webhook_id}/rotate-secret``)."""
        return self._client._call(
            OPERATION_SPECS["rotateWebhookSecret"], {"webhook_id": webhook_id}, query={}, type=WebhookSecret
        )


class RootResource:
    """``client``."""

    def __init__(self, client: SyncTransport) -> None:
        self._client = client
        self.admin = AdminResource(client)
        self.comparisons = ComparisonsResource(client)
        self.food_preferences = FoodPreferencesResource(client)
        self.health = HealthResource(client)
        self.ingredients = IngredientsResource(client)
        self.interactions = InteractionsResource(client)
        self.items = ItemsResource(client)
        self.memories = MemoriesResource(client)
        self.pairings = PairingsResource(client)
        self.partners = PartnersResource(client)
        self.population = PopulationResource(client)
        self.preferences = PreferencesResource(client)
        self.recipes = RecipesResource(client)
        self.recommendations = RecommendationsResource(client)
        self.reviews = ReviewsResource(client)
        self.sessions = SessionsResource(client)
        self.tenant = TenantResource(client)
        self.turns = TurnsResource(client)
        self.users = UsersResource(client)
        self.values = ValuesResource(client)
        self.webhooks = WebhooksResource(client)

    def system_message(
        self,
        user_id: str,
        /,
        *,
        query: str,
        partner: str | None = None,
        budget_tokens: int = 800,
        memories_k: int = 8,
    ) -> SystemMessageOut:
        """Render the user's system message for a message (no LLM is called) (``POST /v1/users/{user_id}/system-message``)."""
        return self._client._call(
            OPERATION_SPECS["renderSystemMessage"],
            {"user_id": user_id},
            query={},
            body={
                "query": query,
                "partner": partner,
                "budget_tokens": budget_tokens,
                "memories_k": memories_k,
            },
            type=SystemMessageOut,
        )


class AsyncAdminKeysResource:
    """``client.admin.keys``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client

    def list(self, tenant_id: str, /, *, limit: int = 50, offset: int = 0) -> AsyncPage[KeyOut]:
        """List a tenant's API keys (prefixes only) (``GET /v1/admin/tenants/{tenant_id}/keys``)."""
        return self._client._page(
            OPERATION_SPECS["listApiKeys"],
            {"tenant_id": tenant_id},
            query={"limit": limit, "offset": offset},
            item=KeyOut,
        )

    async def create(
        self, tenant_id: str, /, *, name: str = "", scope: Literal["read", "write"] = "write"
    ) -> IssuedKeyOut:
        """Issue an API key for a tenant (the key is shown once) (``POST /v1/admin/tenants/{tenant_id}/keys``)."""
        return await self._client._call(
            OPERATION_SPECS["issueApiKey"],
            {"tenant_id": tenant_id},
            query={},
            body={"name": name, "scope": scope},
            type=IssuedKeyOut,
        )

    async def revoke(self, key_id: str, /) -> None:
        """Revoke an API key (``DELETE /v1/admin/keys/{key_id}``)."""
        await self._client._void(OPERATION_SPECS["revokeApiKey"], {"key_id": key_id}, query={})


class AsyncAdminTenantsResource:
    """``client.admin.tenants``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client

    def list(self, *, limit: int = 50, offset: int = 0) -> AsyncPage[TenantOut]:
        """List tenants (``GET /v1/admin/tenants``)."""
        return self._client._page(
            OPERATION_SPECS["listTenants"], {}, query={"limit": limit, "offset": offset}, item=TenantOut
        )

    async def create(
        self, *, name: str, rate_limit_per_minute: int | None = None, create_unknown_users: bool = True
    ) -> TenantOut:
        """Create a tenant (a client app) (``POST /v1/admin/tenants``)."""
        return await self._client._call(
            OPERATION_SPECS["createTenant"],
            {},
            query={},
            body={
                "name": name,
                "rate_limit_per_minute": rate_limit_per_minute,
                "create_unknown_users": create_unknown_users,
            },
            type=TenantOut,
        )

    async def get(self, tenant_id: str, /) -> TenantOut:
        """Get a tenant (``GET /v1/admin/tenants/{tenant_id}``)."""
        return await self._client._call(
            OPERATION_SPECS["getTenant"], {"tenant_id": tenant_id}, query={}, type=TenantOut
        )

    async def delete(self, tenant_id: str, /) -> None:
        """Delete a tenant with its keys and all its users' data (``DELETE /v1/admin/tenants/{tenant_id}``)."""
        await self._client._void(OPERATION_SPECS["deleteTenant"], {"tenant_id": tenant_id}, query={})

    async def update(
        self,
        tenant_id: str,
        /,
        *,
        rate_limit_per_minute: int | None = None,
        create_unknown_users: bool | None = None,
    ) -> TenantOut:
        """Change a tenant's settings: its rate limit, whether unknown users are created (``PATCH /v1/admin/tenants/{tenant_id}``)."""
        return await self._client._call(
            OPERATION_SPECS["updateTenant"],
            {"tenant_id": tenant_id},
            query={},
            body={
                "rate_limit_per_minute": rate_limit_per_minute,
                "create_unknown_users": create_unknown_users,
            },
            type=TenantOut,
        )


class AsyncAdminResource:
    """``client.admin``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client
        self.keys = AsyncAdminKeysResource(client)
        self.tenants = AsyncAdminTenantsResource(client)


class AsyncComparisonsResource:
    """``client.comparisons``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client

    def list(self, user_id: str, /, *, limit: int = 50, offset: int = 0) -> AsyncPage[ComparisonOut]:
        """A user's comparisons, newest first (``GET /v1/users/{user_id}/comparisons``)."""
        return self._client._page(
            OPERATION_SPECS["listComparisons"],
            {"user_id": user_id},
            query={"limit": limit, "offset": offset},
            item=ComparisonOut,
        )

    async def add(
        self, user_id: str, /, *, comparisons: Iterable[ComparisonBody | Mapping[str, Any]]
    ) -> ComparisonsAdded:
        """Record pairwise comparisons (up to 500) and refit the user's latent (``POST /v1/users/{user_id}/comparisons``)."""
        return await self._client._bulk(
            OPERATION_SPECS["addComparisons"],
            {"user_id": user_id},
            query={},
            records=comparisons,
            fields={},
            type=ComparisonsAdded,
        )

    async def delete(self, user_id: str, comparison_id: str, /) -> None:
        """Delete a comparison and refit the user's latent (``DELETE /v1/users/{user_id}/comparisons/{comparison_id}``)."""
        await self._client._void(
            OPERATION_SPECS["deleteComparison"],
            {"user_id": user_id, "comparison_id": comparison_id},
            query={},
        )


class AsyncFoodPreferencesResource:
    """``client.food_preferences``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client

    async def get(self, user_id: str, /) -> FoodPreferences:
        """What a user dislikes or is allergic to (``GET /v1/users/{user_id}/food-preferences``)."""
        return await self._client._call(
            OPERATION_SPECS["getFoodPreferences"], {"user_id": user_id}, query={}, type=FoodPreferences
        )

    async def put(
        self, user_id: str, /, *, dislikes: Sequence[str] = [], allergies: Sequence[str] = []
    ) -> FoodPreferences:
        """Replace a user's dislikes and allergies (never suggested to them) (``PUT /v1/users/{user_id}/food-preferences``)."""
        return await self._client._call(
            OPERATION_SPECS["setFoodPreferences"],
            {"user_id": user_id},
            query={},
            body={"dislikes": dislikes, "allergies": allergies},
            type=FoodPreferences,
        )


class AsyncHealthResource:
    """``client.health``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client

    async def live(self) -> Health:
        """Liveness: the process is up (``GET /healthz``)."""
        return await self._client._call(OPERATION_SPECS["healthz"], {}, query={}, type=Health)

    async def ready(self) -> Readiness:
        """Readiness: database reachable and migrated, embedding model and artifacts loaded (``GET /readyz``)."""
        return await self._client._call(OPERATION_SPECS["readyz"], {}, query={}, type=Readiness)


class AsyncIngredientsResource:
    """``client.ingredients``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client

    async def get(self, name: str, /) -> IngredientDetail:
        """An ingredient with its flavor compounds (``GET /v1/ingredients/{name}``)."""
        return await self._client._call(
            OPERATION_SPECS["getIngredient"], {"name": name}, query={}, type=IngredientDetail
        )

    def list(
        self, *, limit: int = 50, offset: int = 0, q: str | None = None, category: str | None = None
    ) -> AsyncPage[IngredientOut]:
        """List ingredients (``GET /v1/ingredients``)."""
        return self._client._page(
            OPERATION_SPECS["listIngredients"],
            {},
            query={"limit": limit, "offset": offset, "q": q, "category": category},
            item=IngredientOut,
        )

    async def upsert(self, *, ingredients: Iterable[IngredientBody | Mapping[str, Any]]) -> WriteOut:
        """Create or update ingredients (JSON array or NDJSON, up to 1000) (``POST /v1/ingredients``)."""
        return await self._client._bulk(
            OPERATION_SPECS["upsertIngredients"], {}, query={}, records=ingredients, fields={}, type=WriteOut
        )


class AsyncInteractionsResource:
    """``client.interactions``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client

    async def add(self, *, interactions: Iterable[InteractionBody | Mapping[str, Any]]) -> Ingested:
        """Record interactions (JSON array or NDJSON, up to 5000) (``POST /v1/interactions``)."""
        return await self._client._bulk(
            OPERATION_SPECS["addInteractions"], {}, query={}, records=interactions, fields={}, type=Ingested
        )

    def list(self, user_id: str, /, *, limit: int = 50, offset: int = 0) -> AsyncPage[InteractionOut]:
        """A user's interactions, newest first (``GET /v1/users/{user_id}/interactions``)."""
        return self._client._page(
            OPERATION_SPECS["listInteractions"],
            {"user_id": user_id},
            query={"limit": limit, "offset": offset},
            item=InteractionOut,
        )


class AsyncItemsResource:
    """``client.items``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client

    async def get(self, item_id: str, /) -> ItemOut:
        """Get a catalog item (``GET /v1/items/{item_id}``)."""
        return await self._client._call(
            OPERATION_SPECS["getItem"], {"item_id": item_id}, query={}, type=ItemOut
        )

    async def delete(self, item_id: str, /) -> None:
        """Delete an item with its interactions and reviews (``DELETE /v1/items/{item_id}``)."""
        await self._client._void(OPERATION_SPECS["deleteItem"], {"item_id": item_id}, query={})

    def list(self, *, limit: int = 50, offset: int = 0) -> AsyncPage[ItemOut]:
        """List catalog items (``GET /v1/items``)."""
        return self._client._page(
            OPERATION_SPECS["listItems"], {}, query={"limit": limit, "offset": offset}, item=ItemOut
        )

    async def upsert(self, *, items: Iterable[ItemBody | Mapping[str, Any]]) -> UpsertOut:
        """Create or replace catalog items (JSON array or NDJSON, up to 1000) (``POST /v1/items``)."""
        return await self._client._bulk(
            OPERATION_SPECS["upsertItems"], {}, query={}, records=items, fields={}, type=UpsertOut
        )

    async def similar(
        self, item_id: str, /, *, k: int = 10, filter: Sequence[str] | None = None
    ) -> Recommendations:
        """Items similar to an item (``GET /v1/items/{item_id}/similar``)."""
        return await self._client._call(
            OPERATION_SPECS["similarItems"],
            {"item_id": item_id},
            query={"k": k, "filter": filter},
            type=Recommendations,
        )


class AsyncMemoriesResource:
    """``client.memories``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client

    def list(
        self,
        user_id: str,
        /,
        *,
        limit: int = 50,
        offset: int = 0,
        partner: str | None = None,
        include_superseded: bool = False,
    ) -> AsyncPage[MemoryOut]:
        """List the user's memories (``GET /v1/users/{user_id}/memories``)."""
        return self._client._page(
            OPERATION_SPECS["listMemories"],
            {"user_id": user_id},
            query={
                "limit": limit,
                "offset": offset,
                "partner": partner,
                "include_superseded": include_superseded,
            },
            item=MemoryOut,
        )

    async def create(
        self,
        user_id: str,
        /,
        *,
        text: str,
        partner: str | None = None,
        session: str | None = None,
        turn_ids: Sequence[str] = [],
        observed_at: str | None = None,
        valid_from: str | None = None,
        key: str | None = None,
    ) -> MemoryCreated:
        """Store a memory (deduplicated, may supersede) (``POST /v1/users/{user_id}/memories``)."""
        return await self._client._call(
            OPERATION_SPECS["createMemory"],
            {"user_id": user_id},
            query={},
            body={
                "text": text,
                "partner": partner,
                "session": session,
                "turn_ids": turn_ids,
                "observed_at": observed_at,
                "valid_from": valid_from,
                "key": key,
            },
            type=MemoryCreated,
        )

    async def get(self, user_id: str, memory_id: int, /) -> MemoryOut:
        """Get a memory (``GET /v1/users/{user_id}/memories/{memory_id}``)."""
        return await self._client._call(
            OPERATION_SPECS["getMemory"],
            {"user_id": user_id, "memory_id": memory_id},
            query={},
            type=MemoryOut,
        )

    async def delete(self, user_id: str, memory_id: int, /) -> None:
        """Delete one memory (``DELETE /v1/users/{user_id}/memories/{memory_id}``)."""
        await self._client._void(
            OPERATION_SPECS["deleteMemory"], {"user_id": user_id, "memory_id": memory_id}, query={}
        )

    async def history(self, user_id: str, memory_id: int, /) -> MemoryHistory:
        """Every version of a memory, oldest first (``GET /v1/users/{user_id}/memories/{memory_id}/history``)."""
        return await self._client._call(
            OPERATION_SPECS["getMemoryHistory"],
            {"user_id": user_id, "memory_id": memory_id},
            query={},
            type=MemoryHistory,
        )

    async def search(
        self,
        user_id: str,
        /,
        *,
        query: str,
        k: int = 10,
        partner: str | None = None,
        subject: str | None = None,
        session: str | None = None,
        observed_from: str | None = None,
        observed_to: str | None = None,
        include_superseded: bool = False,
        include_linked: bool = False,
    ) -> SearchResponse:
        """Hybrid search over the user's memories (``POST /v1/users/{user_id}/memories/search``)."""
        return await self._client._call(
            OPERATION_SPECS["searchMemories"],
            {"user_id": user_id},
            query={},
            body={
                "query": query,
                "k": k,
                "partner": partner,
                "subject": subject,
                "session": session,
                "observed_from": observed_from,
                "observed_to": observed_to,
                "include_superseded": include_superseded,
                "include_linked": include_linked,
            },
            type=SearchResponse,
        )


class AsyncPairingsResource:
    """``client.pairings``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client

    async def check(self, *, ingredients: Sequence[str], user: str | None = None) -> CheckOut:
        """Pairwise compatibility, and pairs to advise against (``POST /v1/pairings/check``)."""
        return await self._client._call(
            OPERATION_SPECS["checkIngredients"],
            {},
            query={},
            body={"ingredients": ingredients, "user": user},
            type=CheckOut,
        )

    async def complete(
        self,
        *,
        ingredients: Sequence[str],
        k: int = 10,
        mode: Literal["blend", "flavor", "recipe"] | None = None,
        cuisine: str | None = None,
        exclude: Sequence[str] = [],
        categories: Sequence[str] = [],
        user: str | None = None,
    ) -> SuggestionsOut:
        """Ingredients to add (``POST /v1/pairings/complete``)."""
        return await self._client._call(
            OPERATION_SPECS["completeIngredients"],
            {},
            query={},
            body={
                "ingredients": ingredients,
                "k": k,
                "mode": mode,
                "cuisine": cuisine,
                "exclude": exclude,
                "categories": categories,
                "user": user,
            },
            type=SuggestionsOut,
        )

    async def missing(
        self, *, ingredients: Sequence[str], k: int = 3, cuisine: str | None = None, user: str | None = None
    ) -> SuggestionsOut:
        """The most likely missing ingredient of a recipe (``POST /v1/pairings/missing``)."""
        return await self._client._call(
            OPERATION_SPECS["missingIngredient"],
            {},
            query={},
            body={"ingredients": ingredients, "k": k, "cuisine": cuisine, "user": user},
            type=SuggestionsOut,
        )


class AsyncPartnersResource:
    """``client.partners``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client

    def list(self, user_id: str, /, *, limit: int = 50, offset: int = 0) -> AsyncPage[PartnerOut]:
        """List the user's conversation partners (``GET /v1/users/{user_id}/partners``)."""
        return self._client._page(
            OPERATION_SPECS["listPartners"],
            {"user_id": user_id},
            query={"limit": limit, "offset": offset},
            item=PartnerOut,
        )

    async def create(
        self, user_id: str, /, *, id: str, name: str, kind: Literal["agent", "bot", "person"] = "person"
    ) -> PartnerOut:
        """Add a conversation partner of the user (``POST /v1/users/{user_id}/partners``)."""
        return await self._client._call(
            OPERATION_SPECS["createPartner"],
            {"user_id": user_id},
            query={},
            body={"id": id, "name": name, "kind": kind},
            type=PartnerOut,
        )

    async def delete_memories(self, user_id: str, partner_id: str, /) -> DeletedCount:
        """Delete every memory about a partner (``DELETE /v1/users/{user_id}/partners/{partner_id}/memories``)."""
        return await self._client._call(
            OPERATION_SPECS["deletePartnerMemories"],
            {"user_id": user_id, "partner_id": partner_id},
            query={},
            type=DeletedCount,
        )


class AsyncPopulationResource:
    """``client.population``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client

    async def next_query(self, *, candidates: Sequence[OptionBody | Mapping[str, Any]]) -> NextQueryOut:
        """The first comparison to ask a new user, among 2-100 candidates (``POST /v1/preferences/next-query``)."""
        return await self._client._call(
            OPERATION_SPECS["nextQueryForPopulation"],
            {},
            query={},
            body={"candidates": candidates},
            type=NextQueryOut,
        )

    async def objectives(self) -> ObjectivesOut:
        """The named objectives a direction can weight (``GET /v1/preferences/objectives``)."""
        return await self._client._call(OPERATION_SPECS["listObjectives"], {}, query={}, type=ObjectivesOut)

    async def prior(self) -> LatentOut:
        """The population's prior latent (``GET /v1/preferences/prior``)."""
        return await self._client._call(OPERATION_SPECS["getPopulationPrior"], {}, query={}, type=LatentOut)

    async def score(
        self, *, candidates: Sequence[OptionBody | Mapping[str, Any]], context: str | None = None
    ) -> ScoresOut:
        """Rank 2-200 candidates under the population's prior (``POST /v1/preferences/score``)."""
        return await self._client._call(
            OPERATION_SPECS["scoreCandidatesForPopulation"],
            {},
            query={},
            body={"candidates": candidates, "context": context},
            type=ScoresOut,
        )


class AsyncPreferencesResource:
    """``client.preferences``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client

    async def get_objective(self, user_id: str, /) -> ObjectiveOut:
        """The user's objective direction (``GET /v1/users/{user_id}/preferences/objective``)."""
        return await self._client._call(
            OPERATION_SPECS["getObjective"], {"user_id": user_id}, query={}, type=ObjectiveOut
        )

    async def set_objective(self, user_id: str, /, *, weights: Mapping[str, float]) -> ObjectiveOut:
        """Set the user's objective direction (normalised to a unit vector) (``PUT /v1/users/{user_id}/preferences/objective``)."""
        return await self._client._call(
            OPERATION_SPECS["setObjective"],
            {"user_id": user_id},
            query={},
            body={"weights": weights},
            type=ObjectiveOut,
        )

    async def clear_objective(self, user_id: str, /) -> None:
        """Clear the objective direction (``DELETE /v1/users/{user_id}/preferences/objective``)."""
        await self._client._void(OPERATION_SPECS["clearObjective"], {"user_id": user_id}, query={})

    async def get(self, user_id: str, /) -> LatentOut:
        """The user's preference latent (``GET /v1/users/{user_id}/preferences``)."""
        return await self._client._call(
            OPERATION_SPECS["getPreferences"], {"user_id": user_id}, query={}, type=LatentOut
        )

    def history(self, user_id: str, /, *, limit: int = 50, offset: int = 0) -> AsyncPage[LatentVersionOut]:
        """The user's stored latent versions, newest first (``GET /v1/users/{user_id}/preferences/history``)."""
        return self._client._page(
            OPERATION_SPECS["preferenceHistory"],
            {"user_id": user_id},
            query={"limit": limit, "offset": offset},
            item=LatentVersionOut,
        )

    async def next_query(
        self, user_id: str, /, *, candidates: Sequence[OptionBody | Mapping[str, Any]]
    ) -> NextQueryOut:
        """The comparison among 2-100 candidates whose answer would tell most about the user (``POST /v1/users/{user_id}/preferences/next-query``)."""
        return await self._client._call(
            OPERATION_SPECS["nextQuery"],
            {"user_id": user_id},
            query={},
            body={"candidates": candidates},
            type=NextQueryOut,
        )

    async def score(
        self,
        user_id: str,
        /,
        *,
        candidates: Sequence[OptionBody | Mapping[str, Any]],
        context: str | None = None,
    ) -> ScoresOut:
        """Rank 2-200 candidates for the user, with uncertainty (``POST /v1/users/{user_id}/preferences/score``)."""
        return await self._client._call(
            OPERATION_SPECS["scoreCandidates"],
            {"user_id": user_id},
            query={},
            body={"candidates": candidates, "context": context},
            type=ScoresOut,
        )


class AsyncRecipesResource:
    """``client.recipes``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client

    async def get(self, recipe_id: str, /) -> RecipeOut:
        """A recipe (``GET /v1/recipes/{recipe_id}``)."""
        return await self._client._call(
            OPERATION_SPECS["getRecipe"], {"recipe_id": recipe_id}, query={}, type=RecipeOut
        )

    async def delete(self, recipe_id: str, /) -> None:
        """Delete a recipe (``DELETE /v1/recipes/{recipe_id}``)."""
        await self._client._void(OPERATION_SPECS["deleteRecipe"], {"recipe_id": recipe_id}, query={})

    def list(self, *, limit: int = 50, offset: int = 0, user: str | None = None) -> AsyncPage[RecipeOut]:
        """List recipes, optionally one user's (``GET /v1/recipes``)."""
        return self._client._page(
            OPERATION_SPECS["listRecipes"],
            {},
            query={"limit": limit, "offset": offset, "user": user},
            item=RecipeOut,
        )

    async def upsert(self, *, recipes: Iterable[RecipeBody | Mapping[str, Any]]) -> WriteOut:
        """Create or replace recipes (JSON array or NDJSON, up to 1000) (``POST /v1/recipes``)."""
        return await self._client._bulk(
            OPERATION_SPECS["upsertRecipes"], {}, query={}, records=recipes, fields={}, type=WriteOut
        )


class AsyncRecommendationsResource:
    """``client.recommendations``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client

    async def for_session(
        self,
        *,
        items: Sequence[str],
        k: int = 10,
        exclude_seen: bool = True,
        exclude: Sequence[str] = [],
        filters: Mapping[str, str] = {},
    ) -> Recommendations:
        """Next items for an anonymous session (``POST /v1/recommendations/next``)."""
        return await self._client._call(
            OPERATION_SPECS["recommendForSession"],
            {},
            query={},
            body={
                "items": items,
                "k": k,
                "exclude_seen": exclude_seen,
                "exclude": exclude,
                "filters": filters,
            },
            type=Recommendations,
        )

    async def for_user(
        self,
        user_id: str,
        /,
        *,
        k: int = 10,
        exclude_seen: bool = True,
        exclude: Sequence[str] | None = None,
        filter: Sequence[str] | None = None,
        rerank: Literal["preferences", None] | None = None,
    ) -> Recommendations:
        """Next items for a user (``GET /v1/users/{user_id}/recommendations``)."""
        return await self._client._call(
            OPERATION_SPECS["recommendForUser"],
            {"user_id": user_id},
            query={
                "k": k,
                "exclude_seen": exclude_seen,
                "exclude": exclude,
                "filter": filter,
                "rerank": rerank,
            },
            type=Recommendations,
        )

    async def user_code(self, user_id: str, /) -> UserCodeOut:
        """The user's quantized taste code (``GET /v1/users/{user_id}/code``)."""
        return await self._client._call(
            OPERATION_SPECS["userCode"], {"user_id": user_id}, query={}, type=UserCodeOut
        )


class AsyncReviewsResource:
    """``client.reviews``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client

    async def add(self, *, reviews: Iterable[ReviewBody | Mapping[str, Any]]) -> Ingested:
        """Record reviews (JSON array or NDJSON, up to 500) (``POST /v1/reviews``)."""
        return await self._client._bulk(
            OPERATION_SPECS["addReviews"], {}, query={}, records=reviews, fields={}, type=Ingested
        )


class AsyncSessionsResource:
    """``client.sessions``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client

    def list(self, user_id: str, /, *, limit: int = 50, offset: int = 0) -> AsyncPage[SessionOut]:
        """List the user's sessions in order (``GET /v1/users/{user_id}/sessions``)."""
        return self._client._page(
            OPERATION_SPECS["listSessions"],
            {"user_id": user_id},
            query={"limit": limit, "offset": offset},
            item=SessionOut,
        )

    async def create(
        self,
        user_id: str,
        /,
        *,
        partners: Sequence[str],
        id: str | None = None,
        started_at: str | None = None,
    ) -> SessionOut:
        """Start a conversation session (``POST /v1/users/{user_id}/sessions``)."""
        return await self._client._call(
            OPERATION_SPECS["createSession"],
            {"user_id": user_id},
            query={},
            body={"partners": partners, "id": id, "started_at": started_at},
            type=SessionOut,
        )

    async def get(self, user_id: str, session_id: str, /) -> SessionOut:
        """Get a session (``GET /v1/users/{user_id}/sessions/{session_id}``)."""
        return await self._client._call(
            OPERATION_SPECS["getSession"],
            {"user_id": user_id, "session_id": session_id},
            query={},
            type=SessionOut,
        )


class AsyncTenantResource:
    """``client.tenant``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client

    async def get(self) -> TenantOut:
        """The API key's own tenant and its settings (``GET /v1/tenant``)."""
        return await self._client._call(OPERATION_SPECS["getOwnTenant"], {}, query={}, type=TenantOut)


class AsyncTurnsResource:
    """``client.turns``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client

    def list(
        self, user_id: str, session_id: str, /, *, limit: int = 50, offset: int = 0
    ) -> AsyncPage[TurnOut]:
        """List a session's turns in order (``GET /v1/users/{user_id}/sessions/{session_id}/turns``)."""
        return self._client._page(
            OPERATION_SPECS["listTurns"],
            {"user_id": user_id, "session_id": session_id},
            query={"limit": limit, "offset": offset},
            item=TurnOut,
        )

    async def append(
        self, user_id: str, session_id: str, /, *, turns: Iterable[TurnBody | Mapping[str, Any]]
    ) -> IngestOut:
        """Append turns to a session; memories are extracted from them (``POST /v1/users/{user_id}/sessions/{session_id}/turns``)."""
        return await self._client._bulk(
            OPERATION_SPECS["appendTurns"],
            {"user_id": user_id, "session_id": session_id},
            query={},
            records=turns,
            fields={},
            type=IngestOut,
        )


class AsyncUsersResource:
    """``client.users``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client

    def list(self, *, limit: int = 50, offset: int = 0) -> AsyncPage[UserOut]:
        """List users (``GET /v1/users``)."""
        return self._client._page(
            OPERATION_SPECS["listUsers"], {}, query={"limit": limit, "offset": offset}, item=UserOut
        )

    async def create(self, *, id: str, metadata: Mapping[str, Any] = {}) -> UserOut:
        """Create a user (``POST /v1/users``)."""
        return await self._client._call(
            OPERATION_SPECS["createUser"], {}, query={}, body={"id": id, "metadata": metadata}, type=UserOut
        )

    async def get(self, user_id: str, /) -> UserOut:
        """Get a user (``GET /v1/users/{user_id}``)."""
        return await self._client._call(
            OPERATION_SPECS["getUser"], {"user_id": user_id}, query={}, type=UserOut
        )

    async def delete(self, user_id: str, /) -> None:
        """Delete a user and everything stored about them (``DELETE /v1/users/{user_id}``)."""
        await self._client._void(OPERATION_SPECS["deleteUser"], {"user_id": user_id}, query={})

    async def update(self, user_id: str, /, *, metadata: Mapping[str, Any]) -> UserOut:
        """Update a user's metadata (JSON merge patch) (``PATCH /v1/users/{user_id}``)."""
        return await self._client._call(
            OPERATION_SPECS["updateUser"],
            {"user_id": user_id},
            query={},
            body={"metadata": metadata},
            type=UserOut,
        )

    async def export(self, user_id: str, /) -> UserExport:
        """Export everything stored about a user (``GET /v1/users/{user_id}/export``)."""
        return await self._client._call(
            OPERATION_SPECS["exportUser"], {"user_id": user_id}, query={}, type=UserExport
        )


class AsyncValuesResource:
    """``client.values``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client

    async def get_for_partner(self, user_id: str, partner_id: str, /) -> ValuesOut:
        """The latest partner override (``GET /v1/users/{user_id}/values/partners/{partner_id}``)."""
        return await self._client._call(
            OPERATION_SPECS["getPartnerValues"],
            {"user_id": user_id, "partner_id": partner_id},
            query={},
            type=ValuesOut,
        )

    async def put_for_partner(
        self,
        user_id: str,
        partner_id: str,
        /,
        *,
        preferences: Sequence[PreferenceIn | Mapping[str, Any]],
        note: str = "",
    ) -> ValuesOut:
        """Store a new version of the override used with one conversation partner (``PUT /v1/users/{user_id}/values/partners/{partner_id}``)."""
        return await self._client._call(
            OPERATION_SPECS["putPartnerValues"],
            {"user_id": user_id, "partner_id": partner_id},
            query={},
            body={"preferences": preferences, "note": note},
            type=ValuesOut,
        )

    async def delete_for_partner(self, user_id: str, partner_id: str, /) -> None:
        """Remove a partner override and its history (``DELETE /v1/users/{user_id}/values/partners/{partner_id}``)."""
        await self._client._void(
            OPERATION_SPECS["deletePartnerValues"], {"user_id": user_id, "partner_id": partner_id}, query={}
        )

    async def get(self, user_id: str, /) -> ValuesOut:
        """The latest version of the user's value profile (``GET /v1/users/{user_id}/values``)."""
        return await self._client._call(
            OPERATION_SPECS["getValues"], {"user_id": user_id}, query={}, type=ValuesOut
        )

    async def put(
        self, user_id: str, /, *, preferences: Sequence[PreferenceIn | Mapping[str, Any]], note: str = ""
    ) -> ValuesOut:
        """Store a new version of the user's value profile (``PUT /v1/users/{user_id}/values``)."""
        return await self._client._call(
            OPERATION_SPECS["putValues"],
            {"user_id": user_id},
            query={},
            body={"preferences": preferences, "note": note},
            type=ValuesOut,
        )

    def history(self, user_id: str, /, *, limit: int = 50, offset: int = 0) -> AsyncPage[ValuesOut]:
        """Every version of the profile, newest first (``GET /v1/users/{user_id}/values/history``)."""
        return self._client._page(
            OPERATION_SPECS["listValueVersions"],
            {"user_id": user_id},
            query={"limit": limit, "offset": offset},
            item=ValuesOut,
        )

    def history_for_partner(
        self, user_id: str, partner_id: str, /, *, limit: int = 50, offset: int = 0
    ) -> AsyncPage[ValuesOut]:
        """Every version of a partner override, newest first (``GET /v1/users/{user_id}/values/partners/{partner_id}/history``)."""
        return self._client._page(
            OPERATION_SPECS["listPartnerValueVersions"],
            {"user_id": user_id, "partner_id": partner_id},
            query={"limit": limit, "offset": offset},
            item=ValuesOut,
        )


class AsyncWebhooksResource:
    """``client.webhooks``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client

    def list(self, *, limit: int = 50, offset: int = 0) -> AsyncPage[WebhookOut]:
        """The tenant's webhook endpoints (``GET /v1/webhooks``)."""
        return self._client._page(
            OPERATION_SPECS["listWebhooks"], {}, query={"limit": limit, "offset": offset}, item=WebhookOut
        )

    async def create(
        self,
        *,
        url: str,
        events: Sequence[
            Literal[
                "artifacts.published",
                "memory.created",
                "memory.deleted",
                "memory.superseded",
                "preferences.updated",
                "user.deleted",
                "values.updated",
            ]
        ],
        description: str = "",
    ) -> WebhookCreated:
        """Subscribe an endpoint to event types (``POST /v1/webhooks``)."""
        return await self._client._call(
            OPERATION_SPECS["createWebhook"],
            {},
            query={},
            body={"url": url, "events": events, "description": description},
            type=WebhookCreated,
        )

    async def get(self, webhook_id: str, /) -> WebhookOut:
        """One webhook endpoint (``GET /v1/webhooks/{webhook_id}``)."""
        return await self._client._call(
            OPERATION_SPECS["getWebhook"], {"webhook_id": webhook_id}, query={}, type=WebhookOut
        )

    async def delete(self, webhook_id: str, /) -> None:
        """Delete an endpoint (its pending deliveries are dropped) (``DELETE /v1/webhooks/{webhook_id}``)."""
        await self._client._void(OPERATION_SPECS["deleteWebhook"], {"webhook_id": webhook_id}, query={})

    def deliveries(self, webhook_id: str, /, *, limit: int = 50, offset: int = 0) -> AsyncPage[DeliveryOut]:
        """An endpoint's recent deliveries, newest first (``GET /v1/webhooks/{webhook_id}/deliveries``)."""
        return self._client._page(
            OPERATION_SPECS["listWebhookDeliveries"],
            {"webhook_id": webhook_id},
            query={"limit": limit, "offset": offset},
            item=DeliveryOut,
        )

    async def rotate_secret(self, webhook_id: str, /) -> WebhookSecret:
        """Replace an endpoint's signing secret (the old one stops at once) (``POST /v1/webhooks/{webhook_id}/rotate-secret``)."""
        return await self._client._call(
            OPERATION_SPECS["rotateWebhookSecret"], {"webhook_id": webhook_id}, query={}, type=WebhookSecret
        )


class AsyncRootResource:
    """``client``."""

    def __init__(self, client: AsyncTransport) -> None:
        self._client = client
        self.admin = AsyncAdminResource(client)
        self.comparisons = AsyncComparisonsResource(client)
        self.food_preferences = AsyncFoodPreferencesResource(client)
        self.health = AsyncHealthResource(client)
        self.ingredients = AsyncIngredientsResource(client)
        self.interactions = AsyncInteractionsResource(client)
        self.items = AsyncItemsResource(client)
        self.memories = AsyncMemoriesResource(client)
        self.pairings = AsyncPairingsResource(client)
        self.partners = AsyncPartnersResource(client)
        self.population = AsyncPopulationResource(client)
        self.preferences = AsyncPreferencesResource(client)
        self.recipes = AsyncRecipesResource(client)
        self.recommendations = AsyncRecommendationsResource(client)
        self.reviews = AsyncReviewsResource(client)
        self.sessions = AsyncSessionsResource(client)
        self.tenant = AsyncTenantResource(client)
        self.turns = AsyncTurnsResource(client)
        self.users = AsyncUsersResource(client)
        self.values = AsyncValuesResource(client)
        self.webhooks = AsyncWebhooksResource(client)

    async def system_message(
        self,
        user_id: str,
        /,
        *,
        query: str,
        partner: str | None = None,
        budget_tokens: int = 800,
        memories_k: int = 8,
    ) -> SystemMessageOut:
        """Render the user's system message for a message (no LLM is called) (``POST /v1/users/{user_id}/system-message``)."""
        return await self._client._call(
            OPERATION_SPECS["renderSystemMessage"],
            {"user_id": user_id},
            query={},
            body={
                "query": query,
                "partner": partner,
                "budget_tokens": budget_tokens,
                "memories_k": memories_k,
            },
            type=SystemMessageOut,
        )
