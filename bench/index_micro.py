"""Micro-benchmark of the memory search index (``persona_api.memory.index``).

One tenant: 100,000 memories of one user plus 20,000 of twenty others, random L2-normalised 384-d
vectors, 8 random tokens per memory from a 5,000-word vocabulary; 5% of the memories superseded.
Prints upsert throughput, resident memory, latency percentiles of 500 searches (k=10) in wall and
thread-CPU time (the difference is other processes on the host), and save/load times.

    OPENBLAS_NUM_THREADS=1 python bench/index_micro.py [--alternatives]

``--alternatives`` also times the dense retrieval designs the index chose between (see the module
docstring of ``persona_api.memory.shard``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from numpy.typing import NDArray

from persona_api.memory.fusion import FusionWeights
from persona_api.memory.index import MemoryIndex
from persona_api.memory.index_types import IndexEntry, SearchFilter

DIM = 384
BIG_USER = 1
BIG = 100_000
OTHERS = 20
PER_OTHER = 1_000
VOCAB = [f"w{i:04d}" for i in range(5_000)]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def unit_rows(rng: np.random.Generator, n: int) -> NDArray[np.float32]:
    x = rng.standard_normal((n, DIM), dtype=np.float32)
    norms: NDArray[np.float32] = np.linalg.norm(x, axis=1, keepdims=True)
    return x / norms


def entries(rng: np.random.Generator, first_id: int, user_id: int, n: int) -> list[IndexEntry]:
    vectors = unit_rows(rng, n)
    words = rng.integers(0, len(VOCAB), (n, 8))
    return [
        IndexEntry(
            id=first_id + i,
            user_id=user_id,
            subject_id=int(rng.integers(0, 6)),
            session_id=int(rng.integers(1, 500)),
            observed_at=1.7e9 + float(rng.integers(0, 10_000_000)),
            current=bool(rng.random() >= 0.05),
            vector=vectors[i],
            tokens=tuple(VOCAB[w] for w in words[i]),
        )
        for i in range(n)
    ]


Samples = list[tuple[float, float]]
"""(wall, thread CPU) seconds per call; CPU time shows what other processes on the host add."""


def percentiles(samples: Samples) -> str:
    wall = np.array([w for w, _ in samples]) * 1e3
    cpu = np.array([c for _, c in samples]) * 1e3
    p50, p95, p99 = np.percentile(wall, [50, 95, 99])
    cpu50, cpu95 = np.percentile(cpu, [50, 95])
    return f"p50 {p50:6.2f}  p95 {p95:6.2f}  p99 {p99:6.2f} ms   (cpu p50 {cpu50:5.2f}  p95 {cpu95:5.2f})"


def timed(calls: list[Callable[[], Any]], warmup: int = 5) -> Samples:
    for call in calls[:warmup]:
        call()
    samples = []
    for call in calls:
        wall, cpu = time.perf_counter(), time.thread_time()
        call()
        samples.append((time.perf_counter() - wall, time.thread_time() - cpu))
    return samples


def build(rng: np.random.Generator) -> MemoryIndex:
    index = MemoryIndex(dim=DIM)
    before = rss_mb()
    elapsed, added, batch = 0.0, 0, 1_000
    plan = [(BIG_USER, 1 + i * batch, batch) for i in range(BIG // batch)]
    plan += [(BIG_USER + 1 + u, BIG + 1 + u * PER_OTHER, PER_OTHER) for u in range(OTHERS)]
    for user_id, first_id, n in plan:
        chunk = entries(rng, first_id, user_id, n)  # generated outside the timing, dropped after
        start = time.perf_counter()
        index.upsert(chunk)
        elapsed += time.perf_counter() - start
        added += n
    print(f"bulk upsert      {added:,} entries in batches of {batch}: {added / elapsed:,.0f} entries/s")
    codes = len(index) * DIM / 2**20
    print(
        f"resident memory  +{rss_mb() - before:,.0f} MB for {len(index):,} entries "
        f"(of which vector codes: fp16 {2 * codes:,.0f} MB + int8 {codes:,.0f} MB)"
    )

    singles = entries(rng, 10_000_000, BIG_USER, 1_000)
    samples = timed([partial(index.upsert, [e]) for e in singles], warmup=0)
    print(f"single upsert    (change feed, 100k user): {percentiles(samples)}")
    index.remove([e.id for e in singles])
    return index


def bench_queries(index: MemoryIndex, rng: np.random.Generator, n_queries: int) -> None:
    queries = unit_rows(rng, n_queries)
    tokens = [[VOCAB[w] for w in rng.integers(0, len(VOCAB), 8)] for _ in range(n_queries)]

    def run(user: int, flt: SearchFilter | None = None) -> Samples:
        f = flt or SearchFilter()
        return timed([partial(index.search, user, q, t, 10, f) for q, t in zip(queries, tokens, strict=True)])

    print(f"\n{n_queries} searches, k=10, fused (RRF, {FusionWeights().candidates} candidates per list):")
    print(f"  100k user, current only (95k)      {percentiles(run(BIG_USER))}")
    everything = SearchFilter(include_superseded=True)
    print(f"  100k user, incl. superseded (100k) {percentiles(run(BIG_USER, everything))}")
    half = SearchFilter(subject_ids=frozenset({0, 1, 2}))
    print(f"  100k user, subject filter (~48k)   {percentiles(run(BIG_USER, half))}")
    narrow = SearchFilter(session_ids=frozenset({7, 8, 9, 10, 11}))
    print(f"  100k user, session filter (~1k)    {percentiles(run(BIG_USER, narrow))}")
    print(f"  1k user, current only              {percentiles(run(BIG_USER + 1))}")
    samples = timed([partial(index.nearest, BIG_USER, q, 10) for q in queries])
    print(f"  nearest(), 100k user, dense only   {percentiles(samples)}")

    fresh = entries(rng, 20_000_000, BIG_USER, n_queries)
    mixed: Samples = []
    for e, q, t in zip(fresh, queries, tokens, strict=True):
        index.upsert([e])
        mixed += timed([partial(index.search, BIG_USER, q, t, 10)], warmup=0)
    print(f"  100k user, each after an upsert    {percentiles(mixed)}")


def bench_alternatives(rng: np.random.Generator, reps: int = 50) -> None:
    """The dense designs considered, on the same shapes: a 100k user inside a 120k tenant."""
    vectors = unit_rows(rng, BIG + OTHERS * PER_OTHER)
    ids = rng.permutation(len(vectors)).astype(np.int64)
    user_ids, user_vectors = ids[:BIG], vectors[:BIG]
    current = rng.random(BIG) >= 0.05
    queries = unit_rows(rng, reps)

    def report(name: str, search: Callable[[NDArray[np.float32]], Any]) -> None:
        print(f"  {name:58s} {percentiles(timed([partial(search, q) for q in queries]))}")

    print(f"\ndense alternatives, top-100 of a {BIG:,}-vector user, one thread:")
    tenant = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
    tenant.add_with_ids(vectors, ids)

    def tenant_batch(q: NDArray[np.float32]) -> Any:
        params = faiss.SearchParameters()
        params.sel = faiss.IDSelectorBatch(user_ids[current])
        return tenant.search(q[None], 100, params=params)

    report("tenant IndexIDMap2(IndexFlatIP) + IDSelectorBatch", tenant_batch)
    report(
        "tenant IndexIDMap2(IndexFlatIP), no selector (lower bound)", lambda q: tenant.search(q[None], 100)
    )
    report(
        "per-user numpy float32 matmul + argpartition",
        lambda q: np.argpartition(-(user_vectors @ q), 100)[:100],
    )
    flat = faiss.IndexFlatIP(DIM)
    flat.add(user_vectors)
    report("per-user FAISS IndexFlatIP (float32), no selector", lambda q: flat.search(q[None], 100))
    fp16 = faiss.IndexScalarQuantizer(DIM, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
    fp16.add(user_vectors)
    report("per-user FAISS fp16 scalar quantizer, no selector", lambda q: fp16.search(q[None], 100))
    bits = np.packbits(current, bitorder="little")

    def fp16_bitmap(q: NDArray[np.float32]) -> Any:
        params = faiss.SearchParameters()
        params.sel = faiss.IDSelectorBitmap(BIG, faiss.swig_ptr(bits))
        return fp16.search(q[None], 100, params=params)

    report("per-user FAISS fp16 + IDSelectorBitmap (95% pass)", fp16_bitmap)
    int8 = faiss.IndexScalarQuantizer(
        DIM, faiss.ScalarQuantizer.QT_8bit_direct_signed, faiss.METRIC_INNER_PRODUCT
    )
    int8.add(np.rint(user_vectors * 127.0))
    report("per-user FAISS int8 (8bit_direct_signed), no selector", lambda q: int8.search(q[None], 164))

    def int8_then_fp16(q: NDArray[np.float32]) -> Any:
        rows = int8.search(q[None], 164)[1][0]
        return fp16.reconstruct_batch(rows) @ q

    report("per-user FAISS int8 top-164, fp16 rerank (the index's path)", int8_then_fp16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--alternatives", action="store_true", help="also time the rejected dense designs")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(0)
    index = build(rng)
    bench_queries(index, rng, args.queries)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        index.save(Path(tmp))
        saved = time.perf_counter() - start
        size = sum(f.stat().st_size for f in Path(tmp).iterdir()) / 2**20
        start = time.perf_counter()
        MemoryIndex.load(Path(tmp))
        print(f"\nsave {saved:.2f} s, load {time.perf_counter() - start:.2f} s, artifact {size:,.0f} MB")
    if args.alternatives:
        del index
        bench_alternatives(rng)


if __name__ == "__main__":
    main()
