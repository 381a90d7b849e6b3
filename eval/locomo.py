"""Evidence recall of the memory search on LoCoMo-format conversations.

    python eval/locomo.py [--data PATH] [--k 10]

For each conversation: a tenant and a user (speaker_a, the main speaker) with speaker_b as a
partner; every session is ingested with its date through the service's own ingest code
(``Conversations.add_turns``: extraction, embedding, dedupe, change feed); then every QA question of
categories 1-4 is asked through the service's own search code (``Memories.search``) with the
default settings. Evidence recall@k: the share of a question's evidence turns found among the
source turns of the top-k memories, counting at most 2k distinct source turns in rank order.
The last line printed is one JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from persona_api.config import Settings, apply_process_defaults  # noqa: E402
from persona_api.kernel.embed import MiniLMEmbedder  # noqa: E402
from persona_api.memory.context import MemoryContext, MemoryRuntime, SearchPolicy  # noqa: E402
from persona_api.memory.conversations import OWNER, Conversations, TurnIn  # noqa: E402
from persona_api.memory.extract import RuleExtractor  # noqa: E402
from persona_api.memory.feed import MemoryIndexes  # noqa: E402
from persona_api.memory.fusion import FusionWeights  # noqa: E402
from persona_api.memory.service import Memories, Query  # noqa: E402
from persona_api.store import migrate  # noqa: E402
from persona_api.store.db import create_engine, session_factory  # noqa: E402
from persona_api.store.tables import User  # noqa: E402
from persona_api.store.tenants import TenantService  # noqa: E402
from persona_api.store.userdata import UserDataRegistry  # noqa: E402
from persona_api.store.users import UserService  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "locomo" / "locomo_dev.json"
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
_DATE = re.compile(r"(\d{1,2}):(\d{2})\s*(am|pm)\s+on\s+(\d{1,2})\s+(\w+),?\s+(\d{4})", re.I)


def parse_session_date(text: str) -> datetime:
    """LoCoMo writes dates like ``1:56 pm on 8 May, 2023``."""
    match = _DATE.search(text)
    if not match:
        raise ValueError(f"unrecognised session date {text!r}")
    hour, minute, half, day, month, year = match.groups()
    hour_24 = int(hour) % 12 + (12 if half.lower() == "pm" else 0)
    parsed = datetime.strptime(f"{day} {month} {year}", "%d %B %Y")
    return parsed.replace(hour=hour_24, minute=int(minute), tzinfo=UTC)


def turn_text(turn: dict[str, Any]) -> str:
    text = str(turn.get("text", "")).strip()
    caption = turn.get("blip_caption")
    if caption:
        text = f"{text} [shared a photo: {caption}]".strip()
    return text or "..."


def evidence_ids(raw: list[Any]) -> list[str]:
    out: list[str] = []
    for item in raw:
        out += [part for part in re.split(r"[;,\s]+", str(item)) if part]
    return list(dict.fromkeys(out))


def recall(evidence: list[str], ranked_turns: list[list[str]], k: int) -> float:
    seen: list[str] = []
    for turns in ranked_turns[:k]:
        for turn in turns:
            if turn not in seen:
                seen.append(turn)
    counted = set(seen[: 2 * k])
    return sum(1 for e in evidence if e in counted) / len(evidence)


@dataclass
class Loaded:
    """One ingested conversation: its tenant, the main speaker, and its questions."""

    tenant_id: str
    user: User
    questions: list[tuple[int, str, list[str]]]


class CachingEmbedder:
    """Remembers query vectors, so a grid over fusion settings embeds each question once."""

    def __init__(self, inner: MiniLMEmbedder) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.cache: dict[str, NDArray[np.float32]] = {}

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        missing = [t for t in texts if t not in self.cache]
        if missing:
            for text, vector in zip(missing, self.inner.encode(missing), strict=True):
                self.cache[text] = vector
        return np.stack([self.cache[t] for t in texts])


async def ingest(conversations: list[dict[str, Any]], runtime: MemoryRuntime, sessions: Any) -> list[Loaded]:
    loaded: list[Loaded] = []
    for conv in conversations:
        sample = conv["conversation"]
        async with sessions() as db:
            tenant = await TenantService(db).create_tenant(f"locomo-{conv.get('sample_id', '?')}")
            await db.commit()
            ctx = MemoryContext(runtime=runtime, session=db, tenant_id=tenant.id)
            user = await UserService(db, tenant.id, UserDataRegistry()).create(
                "main", {"name": sample["speaker_a"]}
            )
            convs = Conversations(ctx)
            partner = await convs.create_partner(user, "partner", sample["speaker_b"], "person")
            await db.commit()
            numbers = sorted(int(key.split("_")[1]) for key in sample if re.fullmatch(r"session_\d+", key))
            for n in numbers:
                when = parse_session_date(sample[f"session_{n}_date_time"])
                row = await convs.create_session(
                    user, external_id=f"session-{n}", partner_ids=[partner.external_id], started_at=when
                )
                batch = [
                    TurnIn(
                        speaker=OWNER if t["speaker"] == sample["speaker_a"] else partner.external_id,
                        text=turn_text(t),
                        id=str(t["dia_id"]),
                        at=when,
                    )
                    for t in sample[f"session_{n}"]
                ]
                for i in range(0, len(batch), 256):
                    await convs.add_turns(user, row, batch[i : i + 256])
                    await db.commit()  # the services write into the caller's transaction
        questions = [
            (int(qa["category"]), str(qa["question"]), evidence_ids(qa.get("evidence", [])))
            for qa in conv["qa"]
            if int(qa.get("category", 0)) in CATEGORIES and evidence_ids(qa.get("evidence", []))
        ]
        loaded.append(Loaded(tenant.id, user, questions))
    return loaded


async def ask(
    runtime: MemoryRuntime, sessions: Any, loaded: list[Loaded], k: int
) -> tuple[dict[int, list[tuple[float, float]]], list[float]]:
    per_category: dict[int, list[tuple[float, float]]] = defaultdict(list)
    latencies: list[float] = []
    for item in loaded:
        async with sessions() as db:
            memories = Memories(MemoryContext(runtime=runtime, session=db, tenant_id=item.tenant_id))
            for category, question, evidence in item.questions:
                t0 = time.perf_counter()
                found = await memories.search(item.user, Query(text=question, k=max(k, 10)))
                latencies.append((time.perf_counter() - t0) * 1000)
                ranked = [list(f.item.memory.source_turn_ids) for f in found]
                per_category[category].append((recall(evidence, ranked, 5), recall(evidence, ranked, k)))
    return per_category, latencies


def overall(per_category: dict[int, list[tuple[float, float]]]) -> tuple[float, float, int]:
    every = [v for values in per_category.values() for v in values]
    return statistics.fmean(v[0] for v in every), statistics.fmean(v[1] for v in every), len(every)


# The settings compared by --grid; SearchPolicy()'s defaults are the winner on the dev file.
GRID = [
    SearchPolicy(fusion=FusionWeights(method="rrf", dense=d, rrf_k=rk), subject_boost=b)
    for d in (0.8, 1.0, 1.3)
    for rk in (2.0, 10.0, 60.0)
    for b in (0.0, 0.5)
] + [SearchPolicy(fusion=FusionWeights(method="linear", dense=d)) for d in (0.5, 1.0, 2.0)]


async def run(data: Path, k: int, grid: bool) -> dict[str, Any]:
    conversations = json.loads(await asyncio.to_thread(data.read_text))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/eval.db"
        await asyncio.to_thread(migrate.upgrade, url)
        engine = create_engine(Settings(database_url=url))
        sessions = session_factory(engine)
        base = MiniLMEmbedder()
        embedder = CachingEmbedder(base) if grid else base
        runtime = MemoryRuntime(
            embedder=embedder, indexes=MemoryIndexes(dim=base.dim), extractor=RuleExtractor()
        )
        await asyncio.to_thread(base.encode, ["warm up"])
        started = time.perf_counter()
        loaded = await ingest(conversations, runtime, sessions)
        ingest_seconds = time.perf_counter() - started
        turns_total = sum(
            len(v)
            for c in conversations
            for key, v in c["conversation"].items()
            if re.fullmatch(r"session_\d+", key)
        )
        if grid:
            print(f"{'fusion':<48} {'recall@5':>9} {f'recall@{k}':>10}")
            for policy in GRID:
                scores, _ = await ask(replace(runtime, search=policy), sessions, loaded, k)
                r5, rk, _n = overall(scores)
                f = policy.fusion
                name = f"{f.method} dense={f.dense} rrf_k={f.rrf_k} boost={policy.subject_boost}"
                print(f"{name:<48} {r5:>9.3f} {rk:>10.3f}")
        per_category, latencies = await ask(runtime, sessions, loaded, k)
        await engine.dispose()

    print(f"{'category':<12} {'questions':>9} {'recall@5':>9} {f'recall@{k}':>10}")
    for c, values in sorted(per_category.items()):
        print(
            f"{CATEGORIES[c]:<12} {len(values):>9} {statistics.fmean(v[0] for v in values):>9.3f}"
            f" {statistics.fmean(v[1] for v in values):>10.3f}"
        )
    r5, rk, n = overall(per_category)
    print(f"{'overall':<12} {n:>9} {r5:>9.3f} {rk:>10.3f}")
    ordered = sorted(latencies)
    p50 = ordered[len(ordered) // 2]
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    print(f"search latency: p50 {p50:.1f} ms, p95 {p95:.1f} ms over {len(ordered)} searches")
    print(
        f"ingest: {turns_total} turns in {ingest_seconds:.1f} s ({turns_total / ingest_seconds:.0f} turns/s)"
    )
    return {
        "recall@5": round(r5, 4),
        f"recall@{k}": round(rk, 4),
        "search_p95_ms": round(p95, 2),
        "questions": n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="LoCoMo-format JSON file")
    parser.add_argument("--k", type=int, default=10, help="cut-off for the second recall figure (default 10)")
    parser.add_argument(
        "--grid", action="store_true", help="also compare fusion settings (tuning, dev data only)"
    )
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"no LoCoMo file at {args.data}; pass --data PATH (see ../shared/data/locomo/SOURCE.md)")
    apply_process_defaults()
    print(json.dumps(asyncio.run(run(args.data, args.k, args.grid))))


if __name__ == "__main__":
    main()
