"""User codes: residual quantization of user vectors, and the prefix-popularity feature."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from persona_api.recsys.usercode import PrefixPopularity, ResidualQuantizer, prefix_ids, user_vector


def _unit(x: NDArray[np.float64]) -> NDArray[np.float32]:
    unit: NDArray[np.float32] = (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)
    return unit


def _clustered(
    rng: np.random.Generator, clusters: int = 4, per: int = 50
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    centres = rng.normal(size=(clusters, 384))
    labels = np.repeat(np.arange(clusters), per)
    return _unit(centres[labels] + 0.15 * rng.normal(size=(len(labels), 384))), labels


def test_similar_vectors_share_prefixes_and_dissimilar_ones_do_not() -> None:
    vectors, labels = _clustered(np.random.default_rng(0))
    quantizer = ResidualQuantizer.fit(vectors, levels=3, codebook_size=4, seed=0)
    codes = quantizer.encode(vectors)
    assert codes.shape == (len(vectors), 3)
    for cluster in range(4):
        assert len(set(codes[labels == cluster, 0].tolist())) == 1
    assert len(set(codes[:, 0].tolist())) == 4


def test_each_level_reduces_the_reconstruction_error() -> None:
    vectors, _ = _clustered(np.random.default_rng(1))
    errors = []
    for levels in (1, 2, 3):
        q = ResidualQuantizer.fit(vectors, levels=levels, codebook_size=8, seed=0)
        errors.append(float(np.mean(np.sum((q.decode(q.encode(vectors)) - vectors) ** 2, axis=1))))
    assert errors[0] > errors[1] > errors[2]


def test_save_load_round_trip(tmp_path: Path) -> None:
    vectors, _ = _clustered(np.random.default_rng(2))
    quantizer = ResidualQuantizer.fit(vectors, levels=2, codebook_size=4)
    quantizer.save(tmp_path / "q.npz")
    loaded = ResidualQuantizer.load(tmp_path / "q.npz")
    np.testing.assert_array_equal(loaded.encode(vectors), quantizer.encode(vectors))


def test_fit_needs_enough_vectors() -> None:
    with pytest.raises(ValueError, match="at least"):
        ResidualQuantizer.fit(np.ones((3, 384), dtype=np.float32), codebook_size=4)


def test_user_vector_weights_recent_history_and_reviews() -> None:
    rng = np.random.default_rng(3)
    old, recent, review = _unit(rng.normal(size=(3, 384)))
    v = user_vector(np.stack([old, recent]), None)
    assert np.isclose(np.linalg.norm(v), 1.0)
    assert float(v @ recent) > float(v @ old)
    with_review = user_vector(np.stack([old, recent]), review)
    assert float(with_review @ review) > float(v @ review)
    # Several reviews (one row each) are averaged; no history and no reviews gives the zero vector.
    assert np.isclose(
        np.linalg.norm(user_vector(np.zeros((0, 384), np.float32), np.stack([review, old]))), 1.0
    )
    assert not user_vector(np.zeros((0, 384), np.float32), None).any()


def test_prefix_popularity_recommends_what_code_mates_bought() -> None:
    codes = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.int64)
    sequences = [np.array([0, 1]), np.array([1]), np.array([2, 3]), np.array([3])]
    table = PrefixPopularity.fit(codes, sequences, 4, codebook_size=2)
    scores = table.score_batch(np.array([[0, 1], [1, 1]]))
    assert scores[0, 1] > scores[0, 2] and scores[1, 3] > scores[1, 0]
    restored = PrefixPopularity.from_arrays(table.arrays())
    np.testing.assert_array_equal(restored.score_batch(codes), table.score_batch(codes))
    assert prefix_ids(np.array([[1, 1]]), 2).tolist() == [[1, 3]]
