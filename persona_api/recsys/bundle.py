"""One tenant's trained recommender as it lives in an artifact version, and the loaded component.

Layout under ``<version>/seqrec/``::

    tenants.json                 trained tenants and the ones skipped (with why)
    <tenant>/model/              the SeqRecommender (its own format, with the user-code quantizer)
    <tenant>/catalog.npz         item row ids, external ids, title embeddings, recency popularity
    <tenant>/users.npz           user row ids, external ids and their codes at training time
    <tenant>/similar.faiss       ANN index over the model's item vectors (similar items)
    <tenant>/meta.json           counts, training time, validation report

Everything is read with ``allow_pickle=False``. Of these files only ``users.npz`` names users (row
and client ids): :func:`scrub_users` rewrites it without some. The model and catalog hold
aggregates over everyone's interactions, which the next training recomputes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from numpy.typing import NDArray

from persona_api.kernel.manifest import Manifest
from persona_api.kernel.scrub import FileReplacer
from persona_api.recsys.seqmodel import SeqRecommender

STEP = "seqrec"
DIRECTORY = "tenants.json"
HNSW_ABOVE = 50_000
"""Catalogs larger than this get an HNSW graph for similar items; smaller ones an exact scan."""


def build_ann(vectors: NDArray[np.float32]) -> Any:
    """Inner-product index over L2-normalised vectors: exact when small, HNSW when large."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    index: Any
    if len(vectors) > HNSW_ABOVE:
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 64
    else:
        index = faiss.IndexFlatIP(dim)
    index.add(vectors)
    return index


@dataclass
class TenantModel:
    """Everything the API needs to recommend for one tenant; immutable once loaded."""

    model: SeqRecommender
    item_pks: NDArray[np.int64]
    item_external: list[str]
    item_text: NDArray[np.float32]
    popularity: NDArray[np.float32]
    user_pks: NDArray[np.int64]
    user_external: list[str]
    user_codes: NDArray[np.int64]
    ann: Any
    meta: dict[str, Any]
    index_of: dict[int, int] = field(init=False)
    code_of: dict[int, tuple[int, ...]] = field(init=False)

    def __post_init__(self) -> None:
        self.index_of = {int(pk): i for i, pk in enumerate(self.item_pks)}
        self.code_of = {
            int(pk): tuple(int(c) for c in code)
            for pk, code in zip(self.user_pks, self.user_codes, strict=True)
        }

    @property
    def max_item_pk(self) -> int:
        return int(self.item_pks.max()) if len(self.item_pks) else 0

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save(folder / "model")
        np.savez(
            folder / "catalog.npz",
            item_pks=self.item_pks,
            item_external=np.array(self.item_external, dtype=np.str_),
            item_text=self.item_text,
            popularity=self.popularity,
        )
        np.savez(
            folder / "users.npz",
            user_pks=self.user_pks,
            user_external=np.array(self.user_external, dtype=np.str_),
            user_codes=self.user_codes,
        )
        faiss.write_index(self.ann, str(folder / "similar.faiss"))
        (folder / "meta.json").write_text(
            json.dumps(self.meta, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )

    @classmethod
    def load(cls, folder: Path) -> TenantModel:
        with (
            np.load(folder / "catalog.npz", allow_pickle=False) as cat,
            np.load(folder / "users.npz", allow_pickle=False) as users,
        ):
            return cls(
                model=SeqRecommender.load(folder / "model"),
                item_pks=cat["item_pks"].astype(np.int64),
                item_external=[str(x) for x in cat["item_external"]],
                item_text=cat["item_text"].astype(np.float32),
                popularity=cat["popularity"].astype(np.float32),
                user_pks=users["user_pks"].astype(np.int64),
                user_external=[str(x) for x in users["user_external"]],
                user_codes=users["user_codes"].astype(np.int64),
                ann=faiss.read_index(str(folder / "similar.faiss")),
                meta=json.loads((folder / "meta.json").read_text(encoding="utf-8")),
            )


def scrub_users(folder: Path, user_pks: frozenset[int], files: FileReplacer) -> bool:
    """Rewrite ``folder/users.npz`` (a tenant's) without ``user_pks``; False if none was in it."""
    path = folder / "users.npz"
    if not path.is_file():
        return False
    with np.load(path, allow_pickle=False) as users:
        columns = {name: users[name] for name in users.files}
    keep = ~np.isin(columns["user_pks"], np.fromiter(user_pks, np.int64, len(user_pks)))
    if keep.all():
        return False
    rewritten = files.scratch() / "users.npz"
    np.savez(rewritten, **{name: column[keep] for name, column in columns.items()})
    files.replace(path, rewritten)
    return True


class RecModels:
    """The loaded artifact component: the trained model of each tenant that has one."""

    def __init__(self, version: str, tenants: dict[str, TenantModel], skipped: dict[str, str]) -> None:
        self.version = version
        self.tenants = tenants
        self.skipped = skipped

    def get(self, tenant_id: str) -> TenantModel | None:
        return self.tenants.get(tenant_id)


def load_models(version_dir: Path, manifest: Manifest) -> RecModels:
    """Artifact loader: every trained tenant, loaded eagerly so the swap is all or nothing."""
    folder = version_dir / STEP
    path = folder / DIRECTORY
    directory = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    trained = directory.get("trained", [])
    return RecModels(
        manifest.version,
        {str(t): TenantModel.load(folder / str(t)) for t in trained},
        {str(k): str(v) for k, v in directory.get("skipped", {}).items()},
    )
