"""Trained population models as they live in an artifact version, and the loaded component.

Layout under ``<version>/preferences/``::

    tenants.json          trained tenants and the ones skipped (with why)
    <tenant>/model/       the PreferenceModel (its own format)

A tenant without a trained model is served :meth:`PreferenceModel.bootstrap`.
"""

from __future__ import annotations

import json
from pathlib import Path

from persona_api.kernel.manifest import Manifest
from persona_api.preferences.model import PreferenceModel

STEP = "preferences"
DIRECTORY = "tenants.json"


class PreferenceModels:
    """The loaded artifact component: each trained tenant's population model."""

    def __init__(self, version: str, tenants: dict[str, PreferenceModel], skipped: dict[str, str]) -> None:
        self.version = version
        self.tenants = tenants
        self.skipped = skipped

    def get(self, tenant_id: str) -> PreferenceModel | None:
        return self.tenants.get(tenant_id)


def load_preferences(version_dir: Path, manifest: Manifest) -> PreferenceModels:
    """Artifact loader: every trained tenant, loaded eagerly so the swap is all or nothing."""
    folder = version_dir / STEP
    path = folder / DIRECTORY
    directory = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    tenants = {}
    for tenant in directory.get("trained", []):
        model = PreferenceModel.load(folder / str(tenant) / "model")
        # Latents record the version they were fitted with; a new artifact means a refit.
        model.version = manifest.version
        tenants[str(tenant)] = model
    return PreferenceModels(
        manifest.version, tenants, {str(k): str(v) for k, v in directory.get("skipped", {}).items()}
    )
