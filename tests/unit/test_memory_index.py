"""The memory search index: tokenizer, BM25, dense + lexical fusion, filters, mutations, persistence."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from persona_api.errors import ArtifactError
from persona_api.memory.fusion import FusionWeights, Hit
from persona_api.memory.index import DENSE_FILE, LEXICAL_FILE, MemoryIndex
from persona_api.memory.index_types import IndexEntry, SearchFilter
from persona_api.memory.lexical import BM25Index, tokenize

DIM = 8


def vec(*weights: float) -> NDArray[np.float32]:
    """A unit vector from its first components, e.g. ``vec(0.6, 0.8)``."""
    v = np.zeros(DIM, np.float32)
    v[: len(weights)] = weights
    return v / np.linalg.norm(v)


def axis(i: int) -> NDArray[np.float32]:
    v = np.zeros(DIM, np.float32)
    v[i] = 1.0
    return v


def entry(
    mid: int,
    vector: NDArray[np.float32],
    *,
    user: int = 1,
    text: str = "",
    subject: int = 0,
    session: int = 0,
    at: float = 0.0,
    current: bool = True,
) -> IndexEntry:
    return IndexEntry(mid, user, subject, session, at, current, vector, tuple(tokenize(text)))


def ids(hits: list[Hit]) -> list[int]:
    return [hit.id for hit in hits]


def near_ids(pairs: list[tuple[int, float]]) -> list[int]:
    return [mid for mid, _ in pairs]


@pytest.fixture
def index() -> MemoryIndex:
    """User 1 owns 1-6 (5 superseded); user 2 owns 100, close to what user 1 is asked and sharing terms."""
    idx = MemoryIndex(dim=DIM)
    idx.upsert(
        [
            entry(1, axis(0), text="walks the dog every morning", subject=0, session=10, at=100.0),
            entry(2, vec(0.8, 0.6), text="likes spicy ramen", subject=7, session=10, at=200.0),
            entry(3, vec(0.6, 0.8), text="plays tennis on sundays", subject=0, session=11, at=300.0),
            entry(4, axis(1), text="sister lives in Lisbon", subject=7, session=11, at=400.0),
            entry(5, vec(0.9, 0.1), text="used to live in Porto", at=50.0, current=False),
            entry(6, axis(3), text="allergic to peanuts", session=12, at=500.0),
            entry(100, vec(1.0, 0.05), user=2, text="walks the dog and loves peanuts"),
        ]
    )
    return idx


# ---------------------------------------------------------------- tokenizer and BM25


def test_tokenize_drops_stopwords_possessives_and_short_tokens() -> None:
    assert tokenize("Caroline's dog and I went to the park in 2019, a b 7 x") == [
        "caroline",
        "dog",
        "went",
        "park",
        "2019",
    ]
    assert tokenize("I don't think it's THAT bad") == ["think", "bad"]
    assert tokenize("the sisters\u2019 houses") == ["sister", "house"]


def test_tokenize_stems_conservatively() -> None:
    assert tokenize("running swimming hiking cooked visited baked loved") == [
        "run",
        "swim",
        "hike",
        "cook",
        "visit",
        "bake",
        "love",
    ]
    assert tokenize("boxes dishes berries glasses recipes horses tried") == [
        "box",
        "dish",
        "berry",
        "glass",
        "recipe",
        "horse",
        "try",
    ]
    # short or ambiguous words are left alone
    assert tokenize("bus status analysis thing need bed red sing") == [
        "bus",
        "status",
        "analysis",
        "thing",
        "need",
        "bed",
        "red",
        "sing",
    ]
    assert tokenize("cook cooks cooking cooked") == ["cook"] * 4


def test_bm25_prefers_rarer_terms() -> None:
    bm25 = BM25Index()
    bm25.add(1, ["coffee", "morning"])
    bm25.add(2, ["tea", "morning"])
    bm25.add(3, ["juice", "morning"])
    bm25.add(4, ["coffee", "evening"])
    scores = bm25.scores(["tea", "coffee"])
    assert scores[2] > scores[1] == pytest.approx(scores[4])
    assert set(scores) == {1, 2, 4}


def test_bm25_prefers_shorter_documents_and_more_occurrences() -> None:
    bm25 = BM25Index()
    bm25.add(1, ["ramen", "noodle"])
    bm25.add(2, ["ramen", "noodle", "broth", "pork", "egg", "scallion"])
    bm25.add(3, ["ramen", "ramen", "broth", "pork", "egg", "scallion"])
    bm25.add(4, ["salad"])
    scores = bm25.scores(["ramen"])
    assert scores[1] > scores[3] > scores[2] > 0


def test_bm25_add_replaces_remove_forgets_and_candidates_restrict() -> None:
    bm25 = BM25Index()
    bm25.add(1, ["tennis"])
    bm25.add(2, ["tennis", "club"])
    bm25.add(1, ["golf"])
    assert set(bm25.scores(["tennis"])) == {2}
    assert set(bm25.scores(["golf", "tennis"], candidates={1})) == {1}
    assert bm25.scores(["golf", "tennis"], candidates={2, 99}) == bm25.scores(["tennis"])
    bm25.remove(2)
    bm25.remove(42)
    assert len(bm25) == 1
    assert bm25.scores(["tennis"]) == {}
    assert bm25.document_frequency("golf") == 1


def test_bm25_state_round_trip_scores_identically() -> None:
    bm25 = BM25Index()
    for doc_id, text in enumerate(["spicy ramen noodles", "ramen again", "tennis on sundays", ""]):
        bm25.add(doc_id, tokenize(text))
    copy = BM25Index.from_state(json.loads(json.dumps(bm25.to_state())))
    assert len(copy) == len(bm25) == 4
    assert copy.scores(["ramen", "sunday"]) == bm25.scores(["ramen", "sunday"])
    with pytest.raises(ValueError):
        BM25Index.from_state({"format": 1, "k1": 1.2, "b": 0.75, "docs": [[1, []], [1, []]]})


# ---------------------------------------------------------------- search basics


def test_upsert_search_and_remove(index: MemoryIndex) -> None:
    assert len(index) == 7
    assert 3 in index and 99 not in index
    hits = index.search(1, axis(0), [], k=3)
    assert ids(hits) == [1, 2, 3]
    assert [h.dense for h in hits] == pytest.approx([1.0, 0.8, 0.6], abs=1e-3)
    assert all(h.lexical == 0.0 for h in hits)

    index.remove([1, 12345])
    assert 1 not in index and len(index) == 6
    assert ids(index.search(1, axis(0), [], k=3)) == [2, 3, 4]
    assert index.ids_for_user(1) == [2, 3, 4, 5, 6]

    index.remove([100])
    assert index.ids_for_user(2) == [] and index.search(2, axis(0), ["dog"], k=3) == []
    index.upsert([entry(101, axis(2), user=2)])
    assert index.nearest(2, axis(2), 3) == [(101, 1.0)]


def test_other_users_entries_are_never_returned(index: MemoryIndex) -> None:
    query = vec(1.0, 0.05)  # identical to user 2's memory
    for hits in (
        index.search(1, query, tokenize("walks the dog, peanuts"), k=10),
        index.search(1, query, [], k=10, flt=SearchFilter(include_superseded=True)),
    ):
        assert 100 not in ids(hits)
    assert 100 not in near_ids(index.nearest(1, query, 10))
    assert ids(index.search(2, axis(3), tokenize("peanuts"), k=5)) == [100]
    assert index.search(3, query, ["dog"], k=5) == []
    assert index.nearest(3, query, 5) == []


def test_superseded_excluded_by_default_and_included_on_request(index: MemoryIndex) -> None:
    query = vec(0.9, 0.1)
    assert 5 not in ids(index.search(1, query, tokenize("Porto"), k=10))
    hits = index.search(1, query, tokenize("Porto"), k=10, flt=SearchFilter(include_superseded=True))
    assert ids(hits)[0] == 5
    assert near_ids(index.nearest(1, query, 1, SearchFilter(include_superseded=True))) == [5]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (SearchFilter(subject_ids=frozenset({7})), {2, 4}),
        (SearchFilter(subject_ids=frozenset({0})), {1, 3, 6}),
        (SearchFilter(subject_ids=frozenset({0}), include_superseded=True), {1, 3, 5, 6}),
        (SearchFilter(session_ids=frozenset({11, 12})), {3, 4, 6}),
        (SearchFilter(session_ids=frozenset({10}), subject_ids=frozenset({7})), {2}),
        (SearchFilter(observed_from=200.0, observed_to=400.0), {2, 3}),  # [from, to)
        (SearchFilter(observed_from=400.0), {4, 6}),
        (SearchFilter(observed_to=100.0, include_superseded=True), {5}),
        (SearchFilter(subject_ids=frozenset()), set()),
    ],
)
def test_each_filter_restricts_both_lists(index: MemoryIndex, flt: SearchFilter, expected: set[int]) -> None:
    # k and both candidate lists exceed user 1's memories, so only the filter limits the result
    hits = index.search(1, axis(0), tokenize("Lisbon dog peanuts"), k=10, flt=flt)
    assert set(ids(hits)) == expected
    assert set(near_ids(index.nearest(1, axis(0), 10, flt))) == expected


# ---------------------------------------------------------------- fusion


def test_lexical_only_match_is_found() -> None:
    idx = MemoryIndex(dim=DIM)
    idx.upsert(
        [
            entry(1, axis(0), text="went hiking in the mountains"),
            entry(2, vec(0.9, 0.3), text="went hiking by the lake"),
            entry(3, axis(5), text="her cat is called Mirabelle"),  # orthogonal to the query
        ]
    )
    weights = FusionWeights(candidates=1)
    hits = idx.search(1, axis(0), tokenize("what is Mirabelle?"), k=2, weights=weights)
    assert ids(hits) == [1, 3]  # equal RRF share: the dense match wins the tie
    assert hits[1].dense == 0.0 and hits[1].lexical > 0.0
    assert hits[0].lexical == 0.0


def test_dense_only_match_is_found() -> None:
    idx = MemoryIndex(dim=DIM)
    idx.upsert(
        [
            entry(1, axis(2), text="owns a golden retriever"),
            entry(2, axis(4), text="favourite food is pizza"),
            entry(3, axis(5), text="works as a nurse"),
        ]
    )
    hits = idx.search(1, vec(0.1, 0.0, 0.99), tokenize("which pet does she have?"), k=1)
    assert ids(hits) == [1]
    assert hits[0].lexical == 0.0 and hits[0].dense == pytest.approx(0.995, abs=1e-3)


def test_fusion_combines_both_lists_and_is_deterministic() -> None:
    def build(order: list[int]) -> MemoryIndex:
        entries = {
            1: entry(1, vec(1.0, 0.2), text="spicy ramen"),
            2: entry(2, vec(1.0, 0.2), text="quiet library"),  # same vector as 1
            3: entry(3, vec(0.2, 1.0), text="ramen ramen ramen"),
            4: entry(4, axis(6), text="garden"),
        }
        idx = MemoryIndex(dim=DIM)
        idx.upsert([entries[i] for i in order])
        return idx

    query, tokens = axis(0), tokenize("ramen")
    first = build([1, 2, 3, 4]).search(1, query, tokens, k=4)
    # 1 is top of both lists; 2 ties 1 on cosine but loses the id tie-break on rank 2; 3 leads BM25
    assert ids(first) == [1, 3, 2, 4]
    assert first[0].score == pytest.approx(1 / 61 + 1 / 62)
    assert build([4, 3, 2, 1]).search(1, query, tokens, k=4) == first
    assert build([2, 4, 1, 3]).search(1, query, tokens, k=4) == first

    lexical_heavy = FusionWeights(dense=0.1, lexical=1.0)
    assert ids(build([1, 2, 3, 4]).search(1, query, tokens, k=2, weights=lexical_heavy)) == [3, 1]


def test_linear_fusion_uses_min_max_normalised_scores() -> None:
    idx = MemoryIndex(dim=DIM)
    idx.upsert(
        [
            entry(1, axis(0), text="coffee"),
            entry(2, vec(0.6, 0.8), text="tea tea"),
            entry(3, axis(1), text="tea"),
        ]
    )
    weights = FusionWeights(method="linear", dense=1.0, lexical=0.5)
    hits = {h.id: h for h in idx.search(1, axis(0), tokenize("tea"), k=3, weights=weights)}
    # dense 1.0 / 0.6 / 0.0 -> 1 / 0.6 / 0; BM25 of 2 > 3 -> 1 / 0
    assert hits[1].score == pytest.approx(1.0, abs=1e-3)
    assert hits[2].score == pytest.approx(0.6 + 0.5, abs=1e-3)
    assert hits[3].score == pytest.approx(0.0, abs=1e-3)
    with pytest.raises(ValueError):
        FusionWeights(candidates=0)


# ---------------------------------------------------------------- mutations


def test_upsert_replaces_vector_flags_tokens_and_owner(index: MemoryIndex) -> None:
    index.upsert([entry(6, axis(0), text="allergic to shellfish", session=12, at=500.0)])
    nearest = index.nearest(1, axis(0), 2)
    assert near_ids(nearest) == [1, 6] and [score for _, score in nearest] == pytest.approx([1.0, 1.0])
    assert ids(index.search(1, axis(7), tokenize("shellfish"), k=1)) == [6]
    assert all(hit.lexical == 0.0 for hit in index.search(1, axis(7), tokenize("peanuts"), k=10))

    index.upsert([entry(1, axis(0), text="walks the dog every morning", current=False)])
    assert near_ids(index.nearest(1, axis(0), 1)) == [6]

    index.upsert([entry(2, vec(0.8, 0.6), user=2, text="likes spicy ramen")])
    assert 2 not in index.ids_for_user(1) and 2 in index.ids_for_user(2)
    assert len(index) == 7


def test_remove_user(index: MemoryIndex) -> None:
    assert index.remove_user(1) == [1, 2, 3, 4, 5, 6]
    assert index.ids_for_user(1) == [] and index.search(1, axis(0), ["dog"], k=5) == []
    assert len(index) == 1 and index.remove_user(1) == []
    assert ids(index.search(2, axis(0), tokenize("dog"), k=5)) == [100]


def test_nearest_orders_by_cosine_and_respects_k_and_filter(index: MemoryIndex) -> None:
    result = index.nearest(1, axis(0), 3)
    assert near_ids(result) == [1, 2, 3]
    assert [score for _, score in result] == pytest.approx([1.0, 0.8, 0.6], abs=1e-3)
    assert index.nearest(1, axis(0), 0) == []
    assert near_ids(index.nearest(1, axis(0), 2, SearchFilter(subject_ids=frozenset({7})))) == [2, 4]


def test_vectors_of_the_wrong_shape_are_rejected(index: MemoryIndex) -> None:
    with pytest.raises(ValueError):
        index.upsert([entry(9, np.ones(DIM + 1, np.float32))])
    with pytest.raises(ValueError):
        index.search(1, np.ones(3, np.float32), [], k=1)
    assert 9 not in index


def _brute_force(
    vectors: NDArray[np.float32],
    meta: dict[int, tuple[int, int, bool]],
    query: NDArray[np.float32],
    flt: SearchFilter,
) -> list[int]:
    rounded = vectors.astype(np.float16).astype(np.float32)  # the index stores fp16
    sims = rounded @ query
    keep = [
        i
        for i, (subject, session, current) in meta.items()
        if (current or flt.include_superseded)
        and (flt.subject_ids is None or subject in flt.subject_ids)
        and (flt.session_ids is None or session in flt.session_ids)
    ]
    return sorted(keep, key=lambda i: (-sims[i], i))


@pytest.mark.parametrize(
    "flt",
    [
        SearchFilter(),  # ~90% pass: over-fetch without a selector
        SearchFilter(subject_ids=frozenset({1})),  # ~50%
        SearchFilter(session_ids=frozenset({3, 4, 5})),  # ~15%: FAISS bitmap selector
        SearchFilter(session_ids=frozenset({3}), subject_ids=frozenset({2})),  # a few dozen: gathered
        SearchFilter(include_superseded=True),  # everything
    ],
)
def test_large_shard_matches_brute_force_through_every_dense_path(flt: SearchFilter) -> None:
    rng = np.random.default_rng(7)
    n, dim = 2000, 16
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    meta = {
        i: (int(rng.integers(1, 3)), int(rng.integers(0, 20)), bool(rng.random() > 0.1)) for i in range(n)
    }
    idx = MemoryIndex(dim=dim)
    idx.upsert(
        [IndexEntry(i, 1, s, ss, 0.0, cur, vectors[i], ()) for i, (s, ss, cur) in meta.items()]
        + [IndexEntry(n + i, 2, 1, 3, 0.0, True, vectors[i], ()) for i in range(100)]
    )
    removals = rng.permutation(n)
    for gone in (removals[:0], removals[:300], removals[300:700]):  # then tombstones, then a compaction
        idx.remove(gone.tolist())
        for i in gone:
            del meta[int(i)]
        for _ in range(5):
            query = rng.standard_normal(dim).astype(np.float32)
            query /= np.linalg.norm(query)
            expected = _brute_force(vectors, meta, query, flt)[:20]
            assert near_ids(idx.nearest(1, query, 20, flt)) == expected
            assert ids(idx.search(1, query, [], k=20, flt=flt)) == expected


def test_filtered_search_is_exact_when_the_closest_rows_are_filtered_out() -> None:
    rng = np.random.default_rng(11)
    dim = 16
    query = np.zeros(dim, np.float32)
    query[0] = 1.0
    near = rng.normal(0.0, 0.05, (300, dim)).astype(np.float32) + query  # superseded, all close
    far = rng.normal(0.0, 1.0, (700, dim)).astype(np.float32)  # current, mostly far
    vectors = np.concatenate([near, far])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    idx = MemoryIndex(dim=dim)
    idx.upsert([IndexEntry(i, 1, 0, 0, 0.0, i >= 300, vectors[i], ()) for i in range(1000)])

    sims = vectors[300:].astype(np.float16).astype(np.float32) @ query
    expected = (300 + np.lexsort((np.arange(700), -sims)))[:10].tolist()
    assert near_ids(idx.nearest(1, query, 10)) == expected
    assert near_ids(idx.nearest(1, query, 10, SearchFilter(include_superseded=True)))[0] < 300


def test_lexical_scores_survive_tombstones_and_compaction() -> None:
    idx = MemoryIndex(dim=DIM)
    texts = {i: f"common tag{i % 10}" + " filler" * (i % 3) for i in range(200)}
    idx.upsert([entry(i, vec(1.0, i / 200), text=t) for i, t in texts.items()])
    idx.remove(list(range(0, 200, 7)))  # 29 tombstones
    idx.upsert([entry(i, vec(0.5, i / 200), text=texts[i]) for i in range(1, 200, 7)])  # 58 of 229: compacts
    idx.remove(list(range(2, 200, 3)))  # compacts again: sequence numbers no longer equal rows
    live = {i: t for i, t in texts.items() if i % 7 and (i - 2) % 3}
    assert idx.ids_for_user(1) == sorted(live)

    fresh = BM25Index()
    for i, t in live.items():
        fresh.add(i, tokenize(t))
    expected = fresh.scores(["tag3"])
    hits = idx.search(1, axis(7), ["tag3"], k=200, weights=FusionWeights(candidates=200))
    assert {h.id: h.lexical for h in hits if h.lexical > 0} == pytest.approx(expected)
    assert set(expected) == {i for i in live if i % 10 == 3}


def test_last_entry_wins_within_one_upsert() -> None:
    idx = MemoryIndex(dim=DIM)
    idx.upsert([entry(1, axis(0), text="first"), entry(1, axis(1), text="second")])
    assert len(idx) == 1
    assert idx.nearest(1, axis(1), 1) == [(1, 1.0)]
    assert idx.search(1, axis(5), ["second"], k=1)[0].lexical > 0
    assert idx.search(1, axis(5), ["first"], k=1)[0].lexical == 0


# ---------------------------------------------------------------- persistence and concurrency


def test_save_load_round_trip_gives_identical_results(index: MemoryIndex, tmp_path: Path) -> None:
    index.remove([3])
    index.applied_seq = 42
    index.save(tmp_path / "snap")
    loaded = MemoryIndex.load(tmp_path / "snap")
    assert loaded.applied_seq == 42 and len(loaded) == len(index)
    assert loaded.ids_for_user(1) == index.ids_for_user(1)
    for user in (1, 2):
        for query, text, flt in [
            (axis(0), "dog Lisbon", SearchFilter()),
            (vec(0.5, 0.5, 0.5), "Porto", SearchFilter(include_superseded=True)),
            (axis(1), "ramen", SearchFilter(subject_ids=frozenset({7}), observed_to=300.0)),
        ]:
            assert loaded.search(user, query, tokenize(text), 5, flt) == index.search(
                user, query, tokenize(text), 5, flt
            )
            assert loaded.nearest(user, query, 5, flt) == index.nearest(user, query, 5, flt)

    loaded.upsert([entry(7, axis(4), text="new after load")])
    assert near_ids(loaded.nearest(1, axis(4), 1)) == [7]


def test_load_rejects_incomplete_artifacts(index: MemoryIndex, tmp_path: Path) -> None:
    index.save(tmp_path / "snap")
    lexical = json.loads((tmp_path / "snap" / LEXICAL_FILE).read_text())
    lexical["users"]["1"]["docs"].pop()
    (tmp_path / "snap" / LEXICAL_FILE).write_text(json.dumps(lexical))
    with pytest.raises(ArtifactError, match="differ on the memories of user 1"):
        MemoryIndex.load(tmp_path / "snap")

    index.save(tmp_path / "other")
    (tmp_path / "other" / DENSE_FILE).write_bytes(b"not a faiss index")
    with pytest.raises(ArtifactError):
        MemoryIndex.load(tmp_path / "other")
    with pytest.raises(ArtifactError):
        MemoryIndex.load(tmp_path / "missing")


def test_empty_index_round_trips(tmp_path: Path) -> None:
    MemoryIndex(dim=DIM).save(tmp_path)
    loaded = MemoryIndex.load(tmp_path)
    assert len(loaded) == 0 and loaded.search(1, axis(0), ["x"], k=3) == []


def test_searches_stay_consistent_while_the_feed_applies_changes() -> None:
    rng = np.random.default_rng(3)
    idx = MemoryIndex(dim=DIM)
    idx.upsert([entry(i, vec(*rng.random(DIM)), text=f"word{i % 7}") for i in range(300)])
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer() -> None:
        try:
            for i in range(300, 600):
                idx.upsert([entry(i, vec(*rng.random(DIM)), text=f"word{i % 7}")])
                idx.remove([i - 300])
        except BaseException as exc:
            errors.append(exc)
        finally:
            stop.set()

    def reader() -> None:
        try:
            while not stop.is_set():
                hits = idx.search(1, axis(0), ["word3"], k=10)
                assert len(hits) == 10 and len(set(ids(hits))) == 10
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert idx.ids_for_user(1) == list(range(300, 600))


@pytest.mark.parametrize("n", [50, 3_000])
def test_dense_ranking_is_exact_on_embedding_like_vectors(n: int) -> None:
    """Unit vectors with small components, as sentence embeddings have, on both the gathering path
    (few rows) and the FAISS scan path: the ranking must match brute force."""
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(n, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = MemoryIndex(dim=384)
    index.upsert(
        [
            IndexEntry(id=i + 1, user_id=1, subject_id=0, session_id=0, observed_at=0.0, current=True,
                       vector=vectors[i], tokens=("word",))
            for i in range(n)
        ]
    )  # fmt: skip
    for q in range(5):
        query = vectors[q * 7] * 0.6 + vectors[q * 7 + 1] * 0.4
        query /= np.linalg.norm(query)
        expected = (np.argsort(-(vectors @ query))[:10] + 1).tolist()
        assert [mid for mid, _ in index.nearest(1, query, 10)] == expected
        dense_only = FusionWeights(lexical=0.0)
        assert [h.id for h in index.search(1, query, [], 10, SearchFilter(), dense_only)] == expected
