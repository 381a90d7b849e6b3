"""Pairing's state that outlives a request: the served models, and each tenant's names resolved so far."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from persona_api.pairing.bundle import PairingModels
from persona_api.pairing.names import ingredient_key


@dataclass(frozen=True)
class IngredientRef:
    id: int
    name: str


class PairingRuntime:
    """Process-wide parts: where the served models come from, and each tenant's known names.

    Ingredients are never renamed or deleted on their own (only with their tenant), so a name once
    resolved, or trained on, stays valid: requests that name only known ingredients skip the
    database lookup.
    """

    def __init__(self, models: Callable[[], PairingModels | None]) -> None:
        self.models = models
        self._names: dict[str, dict[str, IngredientRef]] = {}
        self._seeded: set[tuple[str, str]] = set()

    def known_names(self, tenant_id: str) -> dict[str, IngredientRef]:
        """The tenant's names resolved so far, seeded with every ingredient of its served model
        (once per model version), so that even the first request naming one needs no lookup."""
        known = self._names.setdefault(tenant_id, {})
        models = self.models()
        tenant = models.get(tenant_id) if models is not None else None
        if models is not None and tenant is not None and (tenant_id, models.version) not in self._seeded:
            self._seeded.add((tenant_id, models.version))
            for pk, name in zip(tenant.ingredient_pks.tolist(), tenant.model.ingredients, strict=True):
                known.setdefault(ingredient_key(name), IngredientRef(int(pk), name))
        return known

    def forget_tenant(self, tenant_id: str) -> None:
        self._names.pop(tenant_id, None)
        self._seeded = {seeded for seeded in self._seeded if seeded[0] != tenant_id}
