"""How the generator names and treats each operation (see generate.py and docs/clients.md)."""

from __future__ import annotations

NAMES: dict[str, str] = {
    # health
    "healthz": "health.live",
    "readyz": "health.ready",
    # admin
    "listTenants": "admin.tenants.list",
    "createTenant": "admin.tenants.create",
    "getTenant": "admin.tenants.get",
    "updateTenant": "admin.tenants.update",
    "deleteTenant": "admin.tenants.delete",
    "listApiKeys": "admin.keys.list",
    "issueApiKey": "admin.keys.create",
    "revokeApiKey": "admin.keys.revoke",
    # users
    "listUsers": "users.list",
    "createUser": "users.create",
    "getUser": "users.get",
    "updateUser": "users.update",
    "deleteUser": "users.delete",
    "exportUser": "users.export",
    "getOwnTenant": "tenant.get",
    "createWebhook": "webhooks.create",
    "listWebhooks": "webhooks.list",
    "getWebhook": "webhooks.get",
    "deleteWebhook": "webhooks.delete",
    "rotateWebhookSecret": "webhooks.rotate_secret",
    "listWebhookDeliveries": "webhooks.deliveries",
    # memory
    "listPartners": "partners.list",
    "createPartner": "partners.create",
    "deletePartnerMemories": "partners.delete_memories",
    "listSessions": "sessions.list",
    "createSession": "sessions.create",
    "getSession": "sessions.get",
    "listTurns": "turns.list",
    "appendTurns": "turns.append",
    "listMemories": "memories.list",
    "createMemory": "memories.create",
    "getMemory": "memories.get",
    "deleteMemory": "memories.delete",
    "getMemoryHistory": "memories.history",
    "searchMemories": "memories.search",
    # recommendations
    "listItems": "items.list",
    "upsertItems": "items.upsert",
    "getItem": "items.get",
    "deleteItem": "items.delete",
    "similarItems": "items.similar",
    "addInteractions": "interactions.add",
    "listInteractions": "interactions.list",
    "addReviews": "reviews.add",
    "recommendForUser": "recommendations.for_user",
    "recommendForSession": "recommendations.for_session",
    "userCode": "recommendations.user_code",
    # pairings
    "listIngredients": "ingredients.list",
    "upsertIngredients": "ingredients.upsert",
    "getIngredient": "ingredients.get",
    "listRecipes": "recipes.list",
    "upsertRecipes": "recipes.upsert",
    "getRecipe": "recipes.get",
    "deleteRecipe": "recipes.delete",
    "getFoodPreferences": "food_preferences.get",
    "setFoodPreferences": "food_preferences.put",
    "checkIngredients": "pairings.check",
    "completeIngredients": "pairings.complete",
    "missingIngredient": "pairings.missing",
    # values and chat
    "getValues": "values.get",
    "putValues": "values.put",
    "listValueVersions": "values.history",
    "getPartnerValues": "values.get_for_partner",
    "putPartnerValues": "values.put_for_partner",
    "deletePartnerValues": "values.delete_for_partner",
    "listPartnerValueVersions": "values.history_for_partner",
    "renderSystemMessage": "system_message",
    "chat": "chat",
    # preferences
    "listComparisons": "comparisons.list",
    "addComparisons": "comparisons.add",
    "deleteComparison": "comparisons.delete",
    "getPreferences": "preferences.get",
    "preferenceHistory": "preferences.history",
    "getObjective": "preferences.get_objective",
    "setObjective": "preferences.set_objective",
    "clearObjective": "preferences.clear_objective",
    "scoreCandidates": "preferences.score",
    "nextQuery": "preferences.next_query",
    "listObjectives": "population.objectives",
    "getPopulationPrior": "population.prior",
    "scoreCandidatesForPopulation": "population.score",
    "nextQueryForPopulation": "population.next_query",
}

OPENAI_COMPATIBLE = frozenset({"createChatCompletion", "listModels"})
"""The OpenAI drop-in's operations: the ``openai`` package is their client, so they have no method."""

BULK: dict[str, tuple[str, int]] = {
    # operationId -> (the list's parameter name, records per request)
    "appendTurns": ("turns", 200),
    "addComparisons": ("comparisons", 500),
    "upsertItems": ("items", 1000),
    "addInteractions": ("interactions", 1000),
    "addReviews": ("reviews", 500),
    "upsertIngredients": ("ingredients", 1000),
    "upsertRecipes": ("recipes", 1000),
}
"""Uploads sent in chunks; every record carries its client id, so a repeated chunk is a duplicate."""

REPEATABLE_POSTS = {
    *BULK,
    "searchMemories",
    "recommendForSession",
    "checkIngredients",
    "completeIngredients",
    "missingIngredient",
    "renderSystemMessage",
    "scoreCandidates",
    "nextQuery",
    "scoreCandidatesForPopulation",
    "nextQueryForPopulation",
}
