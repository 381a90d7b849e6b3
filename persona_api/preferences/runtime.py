"""The process-wide parts of preference latents, built once by the composition root and shared
by every request's :class:`~.service.Preferences`."""

from __future__ import annotations

from collections.abc import Callable

from persona_api.kernel.embed import Embedder
from persona_api.preferences.bundle import PreferenceModels
from persona_api.preferences.model import PreferenceModel
from persona_api.preferences.objectives import ObjectiveSpace
from persona_api.preferences.options import EmbeddingCache, ItemSource


class PreferenceRuntime:
    """Process-wide parts: the embedder, the served population models, the objective anchors."""

    def __init__(
        self, *, embedder: Embedder, models: Callable[[], PreferenceModels | None], items: ItemSource
    ) -> None:
        self.embedder = embedder
        self.models = models
        self.items = items
        """Catalog items, for options that name an item (the composition root passes the catalog)."""
        self.objectives = ObjectiveSpace(embedder)
        self.text_embeddings = EmbeddingCache()
        self._bootstrap: PreferenceModel | None = None

    def model_for(self, tenant_id: str) -> PreferenceModel:
        """The tenant's trained model, or the (cached) bootstrap model before any training."""
        served = self.models()
        model = served.get(tenant_id) if served is not None else None
        if model is not None:
            return model
        if self._bootstrap is None:
            self._bootstrap = PreferenceModel.bootstrap(self.embedder.dim)
        return self._bootstrap
