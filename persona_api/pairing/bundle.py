"""One tenant's trained pairing model as it lives in an artifact version, and the loaded component.

Layout under ``<version>/pairing/``::

    tenants.json          trained tenants and the ones skipped (with why)
    <tenant>/model/       the PairingModel (its own format)
    <tenant>/index.npz    ingredient row id of every model index
    <tenant>/meta.json    counts, training time, validation report
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from persona_api.kernel.manifest import Manifest
from persona_api.pairing.model import PairingModel

STEP = "pairing"
DIRECTORY = "tenants.json"


@dataclass
class TenantPairing:
    """A tenant's model and the ingredient rows its indices stand for; immutable once loaded."""

    model: PairingModel
    ingredient_pks: NDArray[np.int64]
    meta: dict[str, Any]
    index_of: dict[int, int] = field(init=False)

    def __post_init__(self) -> None:
        self.index_of = {int(pk): i for i, pk in enumerate(self.ingredient_pks)}

    @property
    def n_recipes(self) -> int:
        return int(self.meta["recipes"])

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save(folder / "model")
        np.savez(folder / "index.npz", ingredient_pks=self.ingredient_pks)
        (folder / "meta.json").write_text(json.dumps(self.meta, indent=2, sort_keys=True) + "\n", "utf-8")

    @classmethod
    def load(cls, folder: Path) -> TenantPairing:
        with np.load(folder / "index.npz", allow_pickle=False) as index:
            pks = index["ingredient_pks"].astype(np.int64)
        return cls(
            model=PairingModel.load(folder / "model"),
            ingredient_pks=pks,
            meta=json.loads((folder / "meta.json").read_text(encoding="utf-8")),
        )


class PairingModels:
    """The loaded artifact component: the trained pairing model of each tenant that has one."""

    def __init__(self, version: str, tenants: dict[str, TenantPairing], skipped: dict[str, str]) -> None:
        self.version = version
        self.tenants = tenants
        self.skipped = skipped

    def get(self, tenant_id: str) -> TenantPairing | None:
        return self.tenants.get(tenant_id)


def load_pairings(version_dir: Path, manifest: Manifest) -> PairingModels:
    """Artifact loader: every trained tenant, loaded eagerly so the swap is all or nothing."""
    folder = version_dir / STEP
    path = folder / DIRECTORY
    directory = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return PairingModels(
        manifest.version,
        {str(t): TenantPairing.load(folder / str(t)) for t in directory.get("trained", [])},
        {str(k): str(v) for k, v in directory.get("skipped", {}).items()},
    )
