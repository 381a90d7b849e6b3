"""What erasing one user from the artifacts costs: the memory snapshot and the recommender's user
table of one tenant rewritten without them, in one published version.

Per size: a tenant of ``users`` users with 100 memories each (random L2-normalised 384-d vectors,
12 random tokens per memory) and a user table of the same users; one version published, then one
user erased from it through the kernel's scrub pass (load, drop, save, fsync, rename, reseal).
Prints wall seconds per pass and the snapshot's size, then one JSON line.

    OPENBLAS_NUM_THREADS=1 python bench/erasure.py [--sizes 100,1000,5000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from persona_api.kernel.artifacts import ArtifactStore
from persona_api.kernel.scrub import ErasedUsers, Scrubber, scrub_versions
from persona_api.memory.index import MemoryIndex
from persona_api.memory.index_types import IndexEntry
from persona_api.memory.step import MemoryIndexStep
from persona_api.recsys.step import SeqRecStep

DIM = 384
PER_USER = 100
TENANT = "ten_bench"
VOCAB = [f"w{i:04d}" for i in range(5_000)]


def publish(store: ArtifactStore, users: int, rng: np.random.Generator) -> str:
    index = MemoryIndex(dim=DIM)
    vectors = rng.standard_normal((users * PER_USER, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    entries = [
        IndexEntry(
            id=i + 1,
            user_id=i // PER_USER + 1,
            subject_id=0,
            session_id=0,
            observed_at=float(i),
            current=True,
            vector=vectors[i],
            tokens=tuple(VOCAB[j] for j in rng.integers(0, len(VOCAB), 12)),
        )
        for i in range(users * PER_USER)
    ]
    index.upsert(entries)
    with store.stage() as staged:
        index.save(staged.path / "memory" / TENANT)
        (staged.path / "seqrec" / TENANT).mkdir(parents=True)
        np.savez(
            staged.path / "seqrec" / TENANT / "users.npz",
            user_pks=np.arange(1, users + 1, dtype=np.int64),
            user_external=np.array([f"user-{u}" for u in range(users)], dtype=np.str_),
            user_codes=rng.integers(0, 64, (users, 3)),
        )
        store.publish(staged, code_version="bench", input_rows={}, metrics={}, steps=["memory", "seqrec"])
    return staged.version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000", help="users per tenant, comma-separated")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    scrubbers: list[Scrubber] = [MemoryIndexStep(), SeqRecStep()]
    rows = []
    print(f"{'users':>7} {'memories':>9} {'snapshot MB':>12} {'pass s':>8} {'files':>6}")
    for users in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            store = ArtifactStore(Path(tmp), keep=3)
            version = publish(store, users, rng)
            size = sum(p.stat().st_size for p in (store.path(version) / "memory").rglob("*") if p.is_file())
            started = time.perf_counter()
            result = scrub_versions(store, scrubbers, ErasedUsers({TENANT: frozenset({users // 2})}))
            seconds = time.perf_counter() - started
            store.verify(version)
            files = sum(len(f) for f in result.changed.values())
        rows.append(
            {"users": users, "memories": users * PER_USER, "snapshot_mb": size / 1e6, "seconds": seconds}
        )
        print(f"{users:>7} {users * PER_USER:>9} {size / 1e6:>12.1f} {seconds:>8.2f} {files:>6}")
    print(json.dumps({"bench": "erasure", "rows": rows}))


if __name__ == "__main__":
    main()
