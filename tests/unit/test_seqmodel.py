"""The sequential recommender on a synthetic catalogue with an obvious "next item" rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp  # type: ignore[import-untyped]
from numpy.typing import NDArray

from persona_api.kernel import ranking as metrics
from persona_api.recsys.als import ALSConfig, ALSModel
from persona_api.recsys.itemknn import ItemKNN
from persona_api.recsys.seqmodel import SeqConfig, SeqRecommender, SeqTrainingData

N_ITEMS = 30


def _unit(x: NDArray[np.float64]) -> NDArray[np.float32]:
    unit: NDArray[np.float32] = (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)
    return unit


def _item_text(rng: np.random.Generator) -> NDArray[np.float32]:
    # Neighbouring items on the cycle have similar "titles", as products in one line would.
    base = rng.normal(size=(N_ITEMS, 384))
    return _unit(base + 0.8 * np.roll(base, 1, axis=0))


def _dataset(seed: int = 0, users: int = 300) -> tuple[SeqTrainingData, list[int]]:
    """Users walk the cycle 0 -> 1 -> ... -> N_ITEMS - 1 -> 0 from a random start."""
    rng = np.random.default_rng(seed)
    sequences, validation = [], []
    for _ in range(users):
        start, length = int(rng.integers(N_ITEMS)), int(rng.integers(4, 9))
        walk = (start + np.arange(length + 1)) % N_ITEMS
        sequences.append(walk[:-1].astype(np.int64))
        validation.append(int(walk[-1]))
    return SeqTrainingData(n_items=N_ITEMS, item_text=_item_text(rng), sequences=sequences), validation


@pytest.fixture(scope="module")
def trained() -> SeqRecommender:
    data, validation = _dataset()
    return SeqRecommender.train(data, config=SeqConfig.fast(), validation=validation)


def test_ranks_the_next_item_of_the_pattern_first(trained: SeqRecommender) -> None:
    for start in range(0, N_ITEMS, 3):
        history = [(start + i) % N_ITEMS for i in range(5)]
        scores = trained.score(history)
        scores[history] = -np.inf
        assert int(np.argmax(scores)) == (start + 5) % N_ITEMS
    assert trained.n_items == N_ITEMS


def test_report_records_validation_and_choices(trained: SeqRecommender) -> None:
    report = trained.report
    assert report["selection"] == "validation"
    assert float(report["val.blend.recall@10"]) > 0.9
    assert (
        float(report["val.blend.ndcg@10"])
        >= max(
            float(v)
            for k, v in report.items()
            if k.startswith("val.") and k.endswith(".ndcg@10") and "blend" not in k and "[" not in k
        )
        - 1e-9
    )
    assert "usercode" in report and report["retrained"] == 1
    assert sum(trained.weights.values()) > 0


def test_score_batch_matches_score(trained: SeqRecommender) -> None:
    histories = [[1, 2, 3], [10, 11], [], [5]]
    batch = trained.score_batch(histories)
    assert batch.shape == (4, N_ITEMS)
    for row, history in zip(batch, histories, strict=True):
        np.testing.assert_allclose(row, trained.score(history), rtol=1e-4, atol=1e-4)


def test_save_load_round_trip_gives_identical_scores(trained: SeqRecommender, tmp_path: Path) -> None:
    trained.save(tmp_path / "model")
    loaded = SeqRecommender.load(tmp_path / "model")
    history = [4, 5, 6, 7]
    np.testing.assert_array_equal(loaded.score(history), trained.score(history))
    np.testing.assert_array_equal(loaded.item_vectors(), trained.item_vectors())
    assert loaded.report == trained.report and loaded.weights == trained.weights
    assert loaded.user_code(history) == trained.user_code(history)


def test_new_items_are_scored_from_their_text(trained: SeqRecommender) -> None:
    rng = np.random.default_rng(5)
    history = [8, 9, 10, 11]
    text = _item_text(np.random.default_rng(0))  # the catalogue's own titles, as if re-listed
    fresh = np.concatenate([text[[12]], _unit(rng.normal(size=(3, 384)))])
    scores = trained.score_new_items(history, fresh)
    assert scores.shape == (4,)
    assert scores[0] > scores[1:].max()
    # Same scale as score(): a re-listed next item lands well above the catalogue's median.
    assert scores[0] > np.median(trained.score(history))


def test_explain_points_at_the_driving_history_item(trained: SeqRecommender) -> None:
    explanation = trained.explain([20, 3, 14, 15], 16, k=2)
    assert explanation[0] == 15 and len(explanation) == 2 and 16 not in explanation


def test_similar_items_excludes_the_item_and_is_sorted(trained: SeqRecommender) -> None:
    items, sims = trained.similar_items(7, 5)
    assert len(items) == 5 and 7 not in items.tolist()
    assert np.all(np.diff(sims) <= 0)
    norms = np.linalg.norm(trained.item_vectors(), axis=1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)


def test_trains_without_validation_using_default_weights(tmp_path: Path) -> None:
    data, _ = _dataset(seed=1, users=120)
    model = SeqRecommender.train(data, config=SeqConfig.fast())
    assert str(model.report["selection"]).startswith("none")
    assert set(model.weights) == {"sasrec", "text", "als", "knn"}
    # The text component scores in a reduced subspace (fast(): 16 of 384 dimensions), which must
    # survive a save/load round trip, for catalogue and new items alike.
    model.save(tmp_path / "m")
    assert "text_basis" in np.load(tmp_path / "m" / "arrays.npz", allow_pickle=False).files
    loaded = SeqRecommender.load(tmp_path / "m")
    history = [1, 2, 3]
    np.testing.assert_array_equal(loaded.score(history), model.score(history))
    fresh = data.item_text[[4, 20]]
    np.testing.assert_allclose(loaded.score_new_items(history, fresh), model.score_new_items(history, fresh))
    assert model.score_new_items(history, fresh)[0] > model.score_new_items(history, fresh)[1]


def test_rejects_out_of_range_items() -> None:
    data, validation = _dataset(users=40)
    bad = SeqTrainingData(
        n_items=N_ITEMS,
        item_text=data.item_text,
        sequences=[*data.sequences[:-1], np.array([N_ITEMS], dtype=np.int64)],
    )
    with pytest.raises(ValueError, match="out of range"):
        SeqRecommender.train(bad, config=SeqConfig.fast(), validation=validation)


def test_item_knn_prefers_the_item_that_follows() -> None:
    data, _ = _dataset()
    knn = ItemKNN.fit(data.sequences, N_ITEMS)
    assert int(np.argmax(knn.score([3, 4]))) == 5
    np.testing.assert_allclose(knn.score_batch([[3, 4]])[0], knn.score([3, 4]), rtol=1e-5)


def test_als_request_time_user_matches_implicit_recalculate_user() -> None:
    from implicit.cpu.als import AlternatingLeastSquares

    data, _ = _dataset()
    model = ALSModel.fit(data.sequences, N_ITEMS, config=ALSConfig(factors=8, iterations=5, threads=1))
    reference = AlternatingLeastSquares(
        factors=8, regularization=model.regularization, alpha=model.alpha, num_threads=1
    )
    reference.item_factors = model.item_factors
    history = [3, 4, 4, 9]
    row = sp.csr_matrix((np.ones(4, dtype=np.float32), ([0, 0, 0, 0], history)), shape=(1, N_ITEMS))
    row.sum_duplicates()
    expected = reference.recalculate_user(0, row)
    np.testing.assert_allclose(model.user_factors(history), expected, rtol=1e-3, atol=1e-4)


def test_ranks_split_ties_and_ignore_masked_history() -> None:
    scores = np.array([[0.5, 0.9, 0.1, 0.1, 0.1]], dtype=np.float32)
    metrics.mask_history(scores, [[1]])
    assert metrics.target_ranks(scores, np.array([0]))[0] == 0
    # Three items tied at 0.1: the target is placed in the middle of them.
    assert metrics.target_ranks(scores, np.array([2]))[0] == 2
    ranks = np.array([0, 4, 20])
    assert metrics.recall_at(ranks, 5) == pytest.approx(2 / 3)
    assert metrics.ndcg_at(ranks, 10) == pytest.approx((1 + 1 / np.log2(6)) / 3)


def test_user_code_comes_from_the_model_and_defaults_to_the_history(trained: SeqRecommender) -> None:
    history = [2, 3, 4]
    code = trained.user_code(history)
    assert trained.quantizer is not None and len(code) == trained.quantizer.levels
    np.testing.assert_array_equal(trained.score(history, user_code=code), trained.score(history))
