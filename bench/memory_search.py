"""Memory search and ingest over HTTP, against one tenant holding 100,000 memories of one user.

    OPENBLAS_NUM_THREADS=1 HF_HUB_OFFLINE=1 python bench/memory_search.py \
        [--memories N] [--database-url URL] [--workdir DIR] [--requests N]

What is measured, and how:

1. Load (in-process, through the service's own write path, no raw SQL). A tenant, its main user,
   five partners of that user and a few other users are created with ``TenantService``,
   ``UserService`` and ``Conversations``. Synthetic sentences from templates (names, activities,
   places, hobbies, dates, numbers) are embedded with the real ``MiniLMEmbedder`` and written with
   ``write_memories`` (duplicate check, supersession, links, change feed) in batches of 1,000 per
   transaction, until the main user has ``--memories`` *created* memories (near-duplicates that
   the writer merges do not count). Embedding and writing are timed separately.
2. Search. The real API runs as a subprocess (``python -m persona_api serve``) on a loopback port.
   The embedding model is first loaded through a throw-away tenant, so the first search of the
   loaded tenant times the build of its index from the table (plus one query). Then 200 distinct
   questions are sent to ``POST /v1/users/{id}/memories/search`` (k=10) with httpx keep-alive
   clients: one client in sequence, then ``--clients`` concurrent clients. Latency is the client-side time of
   one request; the client shares the machine's cores with the server.
3. Ingest. For a second user: a partner, a session, then batches of conversation turns
   (alternating speakers) through ``POST .../sessions/{sid}/turns``, which extracts, embeds and
   writes memories; then single explicit memories (``POST .../memories``) for the main user, each
   checked for duplicates against its 100,000 memories.

Prints progress on stderr, then one table and, as the last line, one JSON object with the headline
figures. Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import json
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from httpbench import Run, checked, code_version, drive, serving
from sqlalchemy import func, select

from persona_api.config import Settings, apply_process_defaults
from persona_api.kernel.embed import MiniLMEmbedder
from persona_api.memory.context import MemoryContext, MemoryRuntime
from persona_api.memory.conversations import Conversations
from persona_api.memory.extract import RuleExtractor
from persona_api.memory.feed import MemoryIndexes
from persona_api.memory.tables import Memory, MemoryLink
from persona_api.memory.writer import NewMemory, WritePolicy, write_memories
from persona_api.store import migrate
from persona_api.store.db import create_engine, session_factory
from persona_api.store.tenants import TenantService
from persona_api.store.userdata import UserDataRegistry
from persona_api.store.users import UserService

MAIN_USER, OWNER = "main", "Caroline"
PARTNERS = ("Melanie", "Jon", "Gina", "Audrey", "Nate")
HIS = frozenset({"Jon", "Nate", "Tomas", "Daniel"})
OTHER_NAMES = ("Priya", "Tomas", "Yuki", "Daniel", "Amara", "Lena")
WRITE_BATCH = 1_000
QUERIES = 200


# --- synthetic text ----------------------------------------------------------------------------------
def phrases(text: str) -> tuple[str, ...]:
    """A comma-separated vocabulary written as a paragraph."""
    return tuple(" ".join(part.split()) for part in text.split(",") if part.strip())


VOCABULARY: dict[str, tuple[str, ...]] = {
    "activity": phrases(
        """hiking, kayaking, camping, rock climbing, birdwatching, skiing, snorkeling, fishing, cycling,
        surfing, paddleboarding, horseback riding, sailing, stargazing, trail running, canoeing,
        ice skating, snowboarding, mountain biking, scuba diving, bouldering, swimming"""
    ),
    "place": phrases(
        """Lake Tahoe, Yosemite, Central Park, the Grand Canyon, Big Sur, Zion National Park,
        Lake Michigan, the Blue Ridge Mountains, Cape Cod, Mount Rainier, the Everglades, Banff,
        Olympic National Park, the Outer Banks, Joshua Tree, Acadia, Lake Placid, the Smoky Mountains,
        Moab, Crater Lake, Glacier National Park, Sedona, Key West, the Adirondacks, Bryce Canyon, Maui,
        the Catskills, Mount Hood, Monterey Bay, Aspen"""
    ),
    "companion": phrases(
        """sister, brother, mom, dad, best friend Maria, coworkers, kids, husband, wife, neighbor Tom,
        college roommate, dog Luna, book club, cousin Dana, grandparents, running group, boss,
        aunt Rosa, nephew Leo, old friend Sam, therapist, piano teacher, yoga class, team"""
    ),
    "hobby": phrases(
        """painting watercolor landscapes, playing the violin, baking sourdough bread, knitting scarves,
        learning Spanish, practicing yoga, writing short stories, restoring old furniture,
        growing tomatoes, playing chess online, making pottery, taking film photographs,
        brewing kombucha, building model trains, learning the guitar, doing crossword puzzles,
        volunteering at the animal shelter, coaching youth soccer, singing in a choir, sketching birds"""
    ),
    "habit": phrases("every morning, on weekends, twice a week, most evenings, before work, on Sundays"),
    "favorite": phrases(
        """book is Becoming, book is The Hobbit, book is Dune, book is Little Women, book is Circe,
        food is pad thai, food is lasagna, food is sushi, food is tacos al pastor, food is ramen,
        food is paella, band is Fleetwood Mac, band is Radiohead, band is ABBA, band is The Beatles,
        movie is Spirited Away, movie is Inception, movie is Amelie, movie is Moonlight,
        season is autumn, season is spring, board game is Catan, board game is Ticket to Ride,
        board game is Codenames, flower is sunflowers, flower is peonies, flower is lavender"""
    ),
    "reason": phrases(
        """it reminds them of childhood, a friend recommended it in college, it came up on a trip to
        Italy, it helped through a hard year, the whole family loves it, it was a gift from grandma"""
    ),
    "pet": phrases("puppy, kitten, rabbit, parrot, golden retriever, tabby cat, hamster, turtle, beagle"),
    "pet_name": phrases("Oscar, Bella, Milo, Pepper, Ziggy, Luna, Biscuit, Mochi, Rex, Willow, Juniper"),
    "job": phrases("nurse, teacher, software engineer, counselor, graphic designer, chef, accountant"),
    "company": phrases(
        "a children's hospital, a public library, a small bakery, a startup, the city council"
    ),
    "city": phrases("Boston, Denver, Austin, Seattle, Chicago, Portland, Atlanta, Phoenix, Miami, Detroit"),
    "dish": phrases(
        "lemon chicken, vegetable curry, a chocolate cake, homemade dumplings, beef stew, lasagna"
    ),
    "occasion": phrases("a birthday, a promotion, an anniversary, a graduation, the new house, Thanksgiving"),
    "feeling": phrases("hopeful, nervous, proud, worried, excited, grateful, overwhelmed"),
    "topic": phrases(
        "the adoption process, changing careers, moving abroad, going back to school, the wedding, retiring"
    ),
    "course": phrases("photography, woodworking, first aid, Italian cooking, public speaking, ceramics"),
    "race": phrases("5K charity run, chess tournament, baking contest, triathlon, trivia night, art fair"),
    "ordinal": phrases("first, second, third"),
    "friend": phrases("Maria, Tom, Dana, Sam, Priya, Kenji, Lucia, Omar, Hannah, Felix, Grace, Mateo, Zoe"),
    "band": phrases("Fleetwood Mac, Radiohead, ABBA, The Beatles, Coldplay, Tame Impala, Adele, Queen"),
    "book": phrases("Becoming, The Hobbit, Dune, Little Women, Circe, Educated, The Road, Beloved"),
    "animal": phrases("a deer, a bald eagle, a moose, a red fox, an owl, seals, dolphins, a black bear"),
    "weather": phrases("pouring rain, heat wave, first snow, strong wind, thick fog, thunderstorm"),
    "gift": phrases("a handmade quilt, concert tickets, a vintage camera, a cookbook, a bicycle, a necklace"),
    "meal": phrases("breakfast, brunch, lunch, dinner, coffee"),
    "cuisine": phrases("Thai, Ethiopian, Italian, Mexican, Korean, Greek, Peruvian, Lebanese"),
}
MEMORY_TEMPLATES: tuple[tuple[int, str], ...] = (
    (4, "{s} went {activity} at {place} with {pronoun} {companion} on {date} {detail}."),
    (2, "{s} has been {hobby} for {years} years, usually {habit}, {detail}."),
    (1, "{s}'s favorite {favorite}, because {reason}, {pronoun} {companion} says, {detail}."),
    (1, "{s} adopted a {pet} named {pet_name} from a shelter in {city} in {month} {detail}."),
    (1, "{s} started working as a {job} at {company} in {city} in {month} {detail}."),
    (2, "{s} is planning a {days}-day trip to {place} with {pronoun} {companion} in {month} {detail}."),
    (2, "{s} cooked {dish} for {pronoun} {companion} on {date} to celebrate {occasion} {detail}."),
    (2, "{s} feels {feeling} about {topic} after talking to {pronoun} {companion} on {date} {detail}."),
    (1, "{s} signed up for a {weeks}-week {course} course in {city} starting {date} {detail}."),
    (2, "{s} won {ordinal} place in a {race} in {city} on {date} {detail}."),
    (2, "{s} met {pronoun} {companion} for {meal} at a {cuisine} restaurant in {city} on {date} {detail}."),
    (2, "{s}'s {companion} gave {s} {gift} for {occasion} on {date} {detail}."),
)
DETAILS = (
    "and talked about {topic} the whole time",
    "and then had {cuisine} food in {city} with {friend}",
    "while listening to {band} on the way",
    "and saw {animal} on the way back",
    "to take {pronoun} mind off {topic}",
    "and finally finished reading {book}",
    "together with {friend}, who brought {dish}",
    "despite the {weather}",
    "and bought {gift} for {friend}",
)
QUERY_TEMPLATES = (
    "When did {s} go {activity} at {place}?",
    "Who went {activity} with {s}?",
    "What is {s}'s favorite {favorite_kind}?",
    "What pet did {s} adopt in {city}?",
    "Where does {s} work as a {job}?",
    "How long has {s} been {hobby}?",
    "What did {s} cook to celebrate {occasion}?",
    "How does {s} feel about {topic}?",
    "Which course did {s} take in {city}?",
    "Did {s} win the {race}?",
    "Is {s} planning a trip to {place}?",
    "Where did {s} have {meal} with {pronoun} {companion}?",
    "What gift did {s} get for {occasion}?",
)
LINE_TEMPLATES = (
    "I went {activity} at {place} with my {companion} last weekend and it was wonderful.",
    "I've been {hobby} for {years} years now, it really helps me relax.",
    "We adopted a {pet} named {pet_name} last month, the kids adore it!",
    "I just started a new job as a {job} at {company} in {city}.",
    "I signed up for a {course} course in {city}, it starts next spring.",
    "My {companion} gave me {gift} for {occasion}, I almost cried.",
    "That sounds amazing! How was the weather at {place}?",
    "Wow, that's great to hear.",
)
START = datetime(2021, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Draft:
    text: str
    subject: str
    observed_at: datetime


class Corpus:
    """Deterministic sentences from templates; the slot combinations keep most of them distinct."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self._weights = [w for w, _ in MEMORY_TEMPLATES]

    def _slots(self, subject: str, when: datetime) -> dict[str, str]:
        r = self.rng
        slots = {name: r.choice(words) for name, words in VOCABULARY.items()}
        month = calendar.month_name[when.month]
        slots.update(
            s=subject,
            detail=r.choice(DETAILS),
            pronoun="his" if subject in HIS else "her",
            date=f"{when.day} {month} {when.year}",
            month=f"{month} {when.year}",
            favorite_kind=slots["favorite"].split(" is ")[0],
            years=str(r.randint(2, 30)),
            days=str(r.randint(3, 21)),
            weeks=str(r.randint(4, 12)),
            score=str(r.randint(10, 990)),
        )
        return slots

    def memory(self, names: tuple[str, ...]) -> Draft:
        when = START + timedelta(days=self.rng.randrange(1_400), hours=self.rng.randrange(8, 22))
        subject = self.rng.choice(names)
        [(_, template)] = self.rng.choices(MEMORY_TEMPLATES, weights=self._weights)
        slots = self._slots(subject, when)
        slots["detail"] = slots["detail"].format_map(slots)
        return Draft(template.format_map(slots), subject, when)

    def query(self) -> str:
        return self.rng.choice(QUERY_TEMPLATES).format_map(
            self._slots(self.rng.choice((OWNER, *PARTNERS)), START)
        )

    def line(self) -> str:
        """One first-person conversation line; a quarter carry no memory (a question, a filler)."""
        return self.rng.choice(LINE_TEMPLATES).format_map(self._slots(OWNER, START))


# --- load --------------------------------------------------------------------------------------------
@dataclass
class Loaded:
    tenant_id: str
    main_created: int = 0
    merged: int = 0
    embedded: int = 0
    embed_seconds: float = 0.0
    write_seconds: float = 0.0
    model_seconds: float = 0.0
    links: int = 0
    rows: int = 0


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def fill(
    sessions: Any,
    runtime: MemoryRuntime,
    loaded: Loaded,
    user_id: int,
    names: tuple[str, ...],
    subjects: dict[str, int],
    target: int,
    corpus: Corpus,
) -> int:
    """Embed and write batches until ``user_id`` has ``target`` created memories; returns that count."""
    created, rounds, reported = 0, 0, 0
    while created < target:
        rounds += 1
        if rounds > 3 * (target // WRITE_BATCH + 1) + 10:
            raise RuntimeError(
                f"too many near-duplicates: {created} of {target} memories after {rounds} rounds"
            )
        drafts = [corpus.memory(names) for _ in range(min(WRITE_BATCH, target - created))]
        t0 = time.perf_counter()
        vectors = await asyncio.to_thread(runtime.embedder.encode, [d.text for d in drafts])
        loaded.embed_seconds += time.perf_counter() - t0
        loaded.embedded += len(drafts)
        items = [
            NewMemory(
                text=d.text,
                subject_partner_id=subjects.get(d.subject),
                vector=vectors[i],
                observed_at=d.observed_at,
                origin="client",
            )
            for i, d in enumerate(drafts)
        ]
        t0 = time.perf_counter()
        async with sessions() as db:
            results = await write_memories(
                db,
                tenant_id=loaded.tenant_id,
                user_id=user_id,
                items=items,
                indexes=runtime.indexes,
                policy=runtime.policy,
            )
            await db.commit()
        loaded.write_seconds += time.perf_counter() - t0
        fresh = sum(r.outcome == "created" for r in results)
        created += fresh
        loaded.merged += len(items) - fresh
        if created - reported >= 5_000 or created >= target:
            reported = created
            progress(
                f"  {created:>7,}/{target:,} memories  embed {loaded.embedded / loaded.embed_seconds:5.0f}/s"
                f"  write {loaded.embedded / loaded.write_seconds:5.0f}/s  merged {loaded.merged}"
            )
    return created


async def load(url: str, memories: int, other_users: int, other_memories: int, max_links: int) -> Loaded:
    engine = create_engine(Settings(database_url=url))
    sessions = session_factory(engine)
    embedder = MiniLMEmbedder()
    runtime = MemoryRuntime(
        embedder=embedder,
        indexes=MemoryIndexes(dim=embedder.dim),
        extractor=RuleExtractor(),
        policy=WritePolicy(max_links=max_links),
    )
    t0 = time.perf_counter()
    await asyncio.to_thread(embedder.encode, ["warm up"])
    model_seconds = time.perf_counter() - t0
    corpus = Corpus(seed=7)
    try:
        async with sessions() as db:
            tenant = await TenantService(db).create_tenant("bench-memory-search")
            await db.commit()
            loaded = Loaded(tenant.id, model_seconds=model_seconds)
            users = UserService(db, tenant.id, UserDataRegistry())
            owner = await users.create(MAIN_USER, {"name": OWNER})
            convs = Conversations(MemoryContext(runtime=runtime, session=db, tenant_id=tenant.id))
            partners = {n: (await convs.create_partner(owner, n.lower(), n, "person")).id for n in PARTNERS}
            others = [
                await users.create(f"other-{i}", {"name": OTHER_NAMES[i % len(OTHER_NAMES)]})
                for i in range(other_users)
            ]
            await db.commit()  # the services write into the caller's transaction
        progress(f"load: {memories:,} memories of user {MAIN_USER!r} (tenant {tenant.id})")
        loaded.main_created = await fill(
            sessions, runtime, loaded, owner.id, (OWNER, *PARTNERS), partners, memories, corpus
        )
        for other in others:
            progress(f"load: {other_memories:,} memories of user {other.external_id!r}")
            name = str(other.attributes["name"])
            await fill(sessions, runtime, loaded, other.id, (name,), {}, other_memories, corpus)
        async with sessions() as db:
            loaded.links = await db.scalar(select(func.count()).select_from(MemoryLink)) or 0
            loaded.rows = (
                await db.scalar(select(func.count()).select_from(Memory).where(Memory.tenant_id == tenant.id))
                or 0
            )
    finally:
        await engine.dispose()
    return loaded


async def issue_key(admin: httpx.AsyncClient, tenant_id: str) -> str:
    return str(
        checked(await admin.post(f"/v1/admin/tenants/{tenant_id}/keys", json={"name": "bench"}))["key"]
    )


@dataclass
class Measured:
    startup_seconds: float = 0.0
    code: str = ""
    model_seconds: float = 0.0
    first_search_seconds: float = 0.0
    first_hits: int = 0
    sequential: Run = field(default_factory=Run)
    concurrent: Run = field(default_factory=Run)
    ingest: Run = field(default_factory=Run)
    turns: int = 0
    turn_memories: int = 0
    turn_created: int = 0
    host_load: list[float] = field(default_factory=list)
    explicit: Run = field(default_factory=Run)
    explicit_created: int = 0


async def measure(base: str, admin_token: str, tenant_id: str, args: argparse.Namespace) -> Measured:
    out = Measured()
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    timeout = httpx.Timeout(300.0)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {admin_token}"}, timeout=timeout
    ) as admin:
        warm_tenant = checked(await admin.post("/v1/admin/tenants", json={"name": "bench-warm-up"}))["id"]
        warm_key = await issue_key(admin, warm_tenant)
        key = await issue_key(admin, tenant_id)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {warm_key}"}, timeout=timeout
    ) as warm:
        checked(await warm.post("/v1/users", json={"id": "warm"}))
        t0 = time.perf_counter()
        checked(await warm.post("/v1/users/warm/memories/search", json={"query": "warm up the model"}))
        out.model_seconds = time.perf_counter() - t0

    corpus = Corpus(seed=11)
    queries: list[str] = []
    while len(queries) < QUERIES:
        q = corpus.query()
        if q not in queries:
            queries.append(q)
    search = f"/v1/users/{MAIN_USER}/memories/search"
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=timeout, limits=limits
    ) as client:
        progress("search: first query (builds the tenant index from the table)")
        t0 = time.perf_counter()
        first = checked(await client.post(search, json={"query": queries[0], "k": 10}))
        out.first_search_seconds = time.perf_counter() - t0
        out.first_hits = len(first["results"])
        await drive(lambda i: client.post(search, json={"query": queries[i % QUERIES]}), 20, 1, 60)

        def ask(i: int) -> Awaitable[httpx.Response]:
            return client.post(search, json={"query": queries[i % QUERIES], "k": 10})

        out.host_load.append(os.getloadavg()[0])
        progress(f"search: {args.requests} requests, 1 client")
        out.sequential = await drive(ask, args.requests, 1, args.time_limit)
        progress(f"search: {args.concurrent_requests} requests, {args.clients} clients")
        out.concurrent = await drive(ask, args.concurrent_requests, args.clients, args.time_limit)

        progress(f"ingest: {args.turn_batches} batches of {args.turns_per_batch} turns")
        checked(await client.post("/v1/users", json={"id": "ingest", "metadata": {"name": "Jordan"}}))
        checked(await client.post("/v1/users/ingest/partners", json={"id": "riley", "name": "Riley"}))
        checked(await client.post("/v1/users/ingest/sessions", json={"id": "s1", "partners": ["riley"]}))
        lines = Corpus(seed=13)
        batches = [
            {
                "turns": [
                    {"speaker": "user" if t % 2 == 0 else "riley", "text": lines.line(), "id": f"b{b}t{t}"}
                    for t in range(args.turns_per_batch)
                ]
            }
            for b in range(args.turn_batches)
        ]
        written: list[str] = []

        async def append(i: int) -> httpx.Response:
            response = await client.post("/v1/users/ingest/sessions/s1/turns", json=batches[i])
            if response.is_success:
                written.extend(m["status"] for m in response.json()["memories"])
            return response

        out.ingest = await drive(append, len(batches), 1, args.time_limit)
        out.turns = len(out.ingest.latencies) * args.turns_per_batch
        out.turn_memories = len(written)
        out.turn_created = written.count("created")
        out.host_load.append(os.getloadavg()[0])

        progress(f"ingest: {args.explicit} explicit memories of user {MAIN_USER!r}")
        facts = Corpus(seed=17)
        texts = [facts.memory((OWNER,)).text for _ in range(args.explicit)]
        statuses: list[int] = []

        async def remember(i: int) -> httpx.Response:
            response = await client.post(f"/v1/users/{MAIN_USER}/memories", json={"text": texts[i]})
            statuses.append(response.status_code)
            return response

        out.explicit = await drive(remember, args.explicit, 1, args.time_limit)
        out.explicit_created = statuses.count(201)
    return out


# --- report ------------------------------------------------------------------------------------------
def report(loaded: Loaded, m: Measured, args: argparse.Namespace, url: str) -> dict[str, Any]:
    embed_rate = loaded.embedded / loaded.embed_seconds
    write_rate = loaded.embedded / loaded.write_seconds
    load_rate = loaded.embedded / (loaded.embed_seconds + loaded.write_seconds)
    rows: list[tuple[str, str]] = [
        ("database", url.split("://", 1)[0]),
        ("code at server start", m.code),
        ("memories of the searched user", f"{loaded.main_created:,}"),
        ("memories in the tenant", f"{loaded.rows:,} ({args.other_users} other users)"),
        ("load: sentences embedded", f"{loaded.embedded:,} ({loaded.merged:,} merged as near-duplicates)"),
        ("load: embedding (MiniLM)", f"{embed_rate:,.0f} memories/s ({loaded.embed_seconds:,.0f} s)"),
        (
            f"load: write_memories (max_links={args.max_links})",
            f"{write_rate:,.0f} memories/s ({loaded.write_seconds:,.0f} s, {loaded.links:,} links)",
        ),
        ("load: overall", f"{load_rate:,.0f} memories/s (model load {loaded.model_seconds:.1f} s)"),
        ("server start-up (to /healthz)", f"{m.startup_seconds:.1f} s"),
        ("first search, model load (other tenant)", f"{m.model_seconds:.2f} s"),
        ("first search, index build", f"{m.first_search_seconds:.2f} s ({m.first_hits} hits)"),
    ]
    for label, run in (("search, 1 client", m.sequential), (f"search, {args.clients} clients", m.concurrent)):
        rows.append(
            (
                label,
                f"p50 {run.pct(50):.1f}  p95 {run.pct(95):.1f}  p99 {run.pct(99):.1f} ms"
                f"  {run.rate:.1f} req/s  ({len(run.latencies)} ok, {len(run.errors)} errors)",
            )
        )
    ingest_seconds = m.ingest.seconds or float("nan")
    rows += [
        (
            f"ingest turns ({args.turns_per_batch}/request)",
            f"{m.turns / ingest_seconds:.1f} turns/s  {m.turn_memories / ingest_seconds:.1f} memories/s"
            f"  p50 {m.ingest.pct(50):.0f} ms/request  ({m.turn_created} created,"
            f" {m.turn_memories - m.turn_created} merged, {len(m.ingest.errors)} errors)",
        ),
        (
            "explicit memory POST, 1 client",
            f"p50 {m.explicit.pct(50):.1f}  p95 {m.explicit.pct(95):.1f} ms  "
            f"({m.explicit_created} created, {len(m.explicit.latencies) - m.explicit_created} merged,"
            f" {len(m.explicit.errors)} errors)",
        ),
    ]
    rows.append(
        ("host load average, 1 min", "  ".join(f"{x:.1f}" for x in m.host_load) + "  (load, search, end)")
    )
    width = max(len(label) for label, _ in rows)
    print(f"\n{'metric':<{width}}  value")
    print(f"{'-' * width}  {'-' * 60}")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    for run in (m.sequential, m.concurrent, m.ingest, m.explicit):
        for error in run.errors[:3]:
            print(f"error: {error}")

    def ms(value: float) -> float:
        return round(value, 2)

    return {
        "memories": loaded.main_created,
        "tenant_memories": loaded.rows,
        "load_embed_per_s": round(embed_rate, 1),
        "load_write_per_s": round(write_rate, 1),
        "load_per_s": round(load_rate, 1),
        "first_search_s": round(m.first_search_seconds, 3),
        "search_p50_ms_1": ms(m.sequential.pct(50)),
        "search_p95_ms_1": ms(m.sequential.pct(95)),
        "search_p99_ms_1": ms(m.sequential.pct(99)),
        f"search_p50_ms_{args.clients}": ms(m.concurrent.pct(50)),
        f"search_p95_ms_{args.clients}": ms(m.concurrent.pct(95)),
        f"search_p99_ms_{args.clients}": ms(m.concurrent.pct(99)),
        f"search_rps_{args.clients}": round(m.concurrent.rate, 1),
        "ingest_turns_per_s": round(m.turns / ingest_seconds, 1),
        "ingest_memories_per_s": round(m.turn_memories / ingest_seconds, 1),
        "explicit_p50_ms": ms(m.explicit.pct(50)),
        "explicit_p95_ms": ms(m.explicit.pct(95)),
    }


def run(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    url = args.database_url or f"sqlite+aiosqlite:///{workdir}/bench.db"
    migrate.upgrade(url)
    started, host_load = time.perf_counter(), os.getloadavg()[0]
    loaded = asyncio.run(load(url, args.memories, args.other_users, args.other_memories, args.max_links))
    progress(f"load done in {time.perf_counter() - started:.0f} s; starting the server")
    admin_token = secrets.token_urlsafe(24)
    version = code_version()
    with serving(workdir, url, admin_token) as (base, startup):
        measured = asyncio.run(measure(base, admin_token, loaded.tenant_id, args))
        measured.startup_seconds = startup
        measured.code = version
        measured.host_load.insert(0, host_load)
    return report(loaded, measured, args, url)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--memories", type=int, default=100_000, help="memories of the searched user")
    parser.add_argument("--database-url", help="default: SQLite in the work directory")
    parser.add_argument("--workdir", type=Path, help="kept afterwards (default: a temporary directory)")
    parser.add_argument("--requests", type=int, default=500, help="searches by the single client")
    parser.add_argument("--concurrent-requests", type=int, default=2_000, help="searches by all clients")
    parser.add_argument("--clients", type=int, default=16, help="concurrent search clients")
    parser.add_argument("--time-limit", type=float, default=300.0, help="seconds per measured phase")
    parser.add_argument("--other-users", type=int, default=3, help="further users of the tenant")
    parser.add_argument("--other-memories", type=int, default=1_000, help="memories per further user")
    parser.add_argument(
        "--max-links", type=int, default=WritePolicy().max_links, help="WritePolicy.max_links"
    )
    parser.add_argument("--turn-batches", type=int, default=20)
    parser.add_argument("--turns-per-batch", type=int, default=50)
    parser.add_argument("--explicit", type=int, default=200, help="single explicit memory POSTs")
    args = parser.parse_args()
    apply_process_defaults()
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        headline = run(args.workdir.resolve(), args)
    else:
        with tempfile.TemporaryDirectory(prefix="memory-search-") as tmp:
            headline = run(Path(tmp), args)
    print(json.dumps(headline))


if __name__ == "__main__":
    main()
