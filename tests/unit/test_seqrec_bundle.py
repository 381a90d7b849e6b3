"""The recommender's re-index pieces without a database: popularity, training a tenant, and the
bundle's save/load round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from persona_api.recsys.bundle import TenantModel, build_ann
from persona_api.recsys.seqmodel import SeqConfig
from persona_api.recsys.signals import History
from persona_api.recsys.step import TenantData, recency_popularity, train_tenant

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def synthetic(users: int = 60, themes: int = 3, per_theme: int = 6, seed: int = 0) -> TenantData:
    """Users walk one theme's items in order; item text encodes the theme."""
    rng = np.random.default_rng(seed)
    n = themes * per_theme
    centres = rng.normal(size=(themes, 384)).astype(np.float32)
    text = np.repeat(centres, per_theme, axis=0) + 0.3 * rng.normal(size=(n, 384)).astype(np.float32)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    data = TenantData(
        item_pks=np.arange(100, 100 + n, dtype=np.int64),
        item_external=[f"i{i}" for i in range(n)],
        item_text=text,
    )
    for u in range(users):
        theme, start = u % themes, int(rng.integers(0, 2))
        items = [theme * per_theme + s for s in range(start, per_theme)]
        data.user_pks.append(u + 1)
        data.user_external.append(f"u{u}")
        data.histories.append(History(items=items, weights=[1.0] * len(items), rejected=set()))
        data.last_event.append(T0 + timedelta(days=u))
        data.events += len(items)
    return data


def test_recency_popularity_favours_recent_users() -> None:
    data = TenantData(
        item_pks=np.arange(2, dtype=np.int64),
        item_external=["a", "b"],
        item_text=np.zeros((2, 384), np.float32),
    )
    data.user_pks = [1, 2]
    data.user_external = ["old", "new"]
    data.histories = [
        History(items=[0], weights=[1.0], rejected=set()),
        History(items=[1], weights=[1.0], rejected=set()),
    ]
    data.last_event = [T0, T0 + timedelta(days=60)]  # two half-lives apart
    pop = recency_popularity(data, 2)
    assert pop[1] == 1.0 and pop[0] == pytest.approx(0.25)


def test_too_little_data_is_skipped_with_a_reason() -> None:
    data = synthetic(users=3)
    data.histories = [History(items=[0], weights=[1.0], rejected=set())] * 3
    assert isinstance(train_tenant(data, SeqConfig.fast()), str)


def test_trained_tenant_round_trips_and_follows_themes(tmp_path: Path) -> None:
    data = synthetic()
    bundle = train_tenant(data, SeqConfig.fast())
    assert isinstance(bundle, TenantModel)
    assert bundle.meta["selected_on_validation"] is True and bundle.meta["items"] == 18
    assert bundle.model.quantizer is not None and bundle.user_codes.shape == (60, 2)
    # Users of one theme share the first code level more than users of different themes do.
    first = bundle.user_codes[:, 0]
    same = np.mean([first[u] == first[u + 3] for u in range(57)])
    other = np.mean([first[u] == first[u + 1] for u in range(57)])
    assert same > other
    history = [bundle.index_of[100 + 6], bundle.index_of[100 + 7]]  # theme 1, steps 0 and 1
    scores = bundle.model.score(history)
    assert 6 <= int(np.argmax(np.where(np.isin(np.arange(18), history), -np.inf, scores))) < 12

    bundle.save(tmp_path / "t")
    loaded = TenantModel.load(tmp_path / "t")
    np.testing.assert_allclose(loaded.model.score(history), scores, rtol=1e-5, atol=1e-6)
    assert loaded.item_external == bundle.item_external and loaded.code_of == bundle.code_of
    assert loaded.ann.ntotal == 18 and loaded.max_item_pk == 117


def test_ann_switches_to_hnsw_for_large_catalogs(monkeypatch: pytest.MonkeyPatch) -> None:
    vectors = np.random.default_rng(1).normal(size=(300, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert type(build_ann(vectors)).__name__ == "IndexFlatIP"
    monkeypatch.setattr("persona_api.recsys.bundle.HNSW_ABOVE", 100)
    index = build_ann(vectors)
    assert type(index).__name__ == "IndexHNSWFlat"
    _, ids = index.search(vectors[:5], 1)
    assert list(ids[:, 0]) == [0, 1, 2, 3, 4]
