"""The pairing model on synthetic recipes: known answers, persistence, tiny tenants, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from persona_api.pairing.completion import (
    FEW_QUERIES,
    CompletionConfig,
    build_ensemble,
    completion_probabilities,
)
from persona_api.pairing.data import PairingData, recipe_matrix
from persona_api.pairing.model import PairingModel
from persona_api.pairing.neighbours import SOFT_KERNEL

GROUPS = [["a0", "a1", "a2", "a3", "a4"], ["b0", "b1", "b2", "b3", "b4"], ["c0", "c1", "c2", "c3", "c4"]]
NAMES = [n for g in GROUPS for n in g] + ["lonely"]


def cookbook(per_group: int = 60, seed: int = 0) -> PairingData:
    """Each recipe is its group minus one or two ingredients; groups never mix. ``lonely`` is in no
    recipe but shares all its compounds with group ``a``."""
    rng = np.random.default_rng(seed)
    recipes, cuisines = [], []
    for g, group in enumerate(GROUPS):
        for _ in range(per_group):
            keep = rng.permutation(len(group))[: len(group) - int(rng.integers(1, 3))]
            recipes.append(np.array(sorted(NAMES.index(group[k]) for k in keep), dtype=np.int64))
            cuisines.append(f"cuisine{g}")
    compounds = [
        np.array([g * 10, g * 10 + 1, 100 + i], dtype=np.int64)
        for g, grp in enumerate(GROUPS)
        for i, _ in enumerate(grp)
    ]
    compounds.append(np.array([0, 1], dtype=np.int64))
    return PairingData(
        ingredients=NAMES,
        categories=["x"] * len(NAMES),
        recipes=recipes,
        cuisines=list[str | None](cuisines),
        compounds=compounds,
    )


@pytest.fixture(scope="module")
def model() -> PairingModel:
    return PairingModel.fit(cookbook(), seed=0)


def _top(scores: np.ndarray, k: int) -> set[str]:
    return {NAMES[i] for i in np.argsort(-scores)[:k]}


def test_completion_stays_within_the_group(model: PairingModel) -> None:
    present = [NAMES.index("b0"), NAMES.index("b1"), NAMES.index("b2")]
    for mode in ("recipe", "blend"):
        scores = model.scores(present, mode=mode)
        assert np.all(np.isneginf(scores[present]))
        assert _top(scores, 2) == {"b3", "b4"}


def test_flavor_mode_finds_what_no_recipe_has(model: PairingModel) -> None:
    scores = model.scores([NAMES.index("a0"), NAMES.index("a1")], mode="flavor")
    assert "lonely" in _top(scores, 4)
    recipe = model.scores([NAMES.index("a0"), NAMES.index("a1")], mode="recipe")
    assert "lonely" not in _top(recipe, 3)


def test_recipe_parts_cover_only_ingredients_that_occur_in_recipes(model: PairingModel) -> None:
    lonely = NAMES.index("lonely")
    assert lonely not in model.active and model.position[lonely] == -1
    assert len(model.active) == len(NAMES) - 1 and model.ease.shape == (len(NAMES) - 1,) * 2
    # Asking with an ingredient no recipe has still scores the rest, as if it were absent.
    with_lonely = model.scores([NAMES.index("b0"), lonely], mode="recipe")
    without = model.scores([NAMES.index("b0")], mode="recipe")
    assert np.isneginf(with_lonely[lonely])
    others = [i for i in range(len(NAMES)) if i != lonely]
    np.testing.assert_allclose(with_lonely[others], without[others], rtol=1e-6)


def test_compatibility_separates_groups(model: PairingModel) -> None:
    a, b = NAMES.index("a0"), NAMES.index("a1")
    c = NAMES.index("c0")
    same, cross = model.compatibility(np.array([a, a]), np.array([b, c]))
    assert same > 0 > cross


def test_own_recipes_add_evidence(model: PairingModel) -> None:
    present = [NAMES.index("a0")]
    own = [np.array([NAMES.index("a0"), NAMES.index("c3")], dtype=np.int64)] * 3
    plain = model.scores(present, mode="recipe")
    personal = model.scores(present, mode="recipe", extra_recipes=own, extra_weight=2.0)
    c3 = NAMES.index("c3")
    assert personal[c3] > plain[c3]


def test_save_and_load_give_the_same_scores(model: PairingModel, tmp_path: Path) -> None:
    model.save(tmp_path / "m")
    loaded = PairingModel.load(tmp_path / "m")
    present = [NAMES.index("c1"), NAMES.index("c2")]
    for mode in ("recipe", "flavor", "blend"):
        np.testing.assert_allclose(
            loaded.scores(present, mode=mode), model.scores(present, mode=mode), rtol=1e-5
        )
    assert loaded.default_mode == model.default_mode
    np.testing.assert_array_equal(loaded.active, model.active)
    assert loaded.report == json.loads(json.dumps(model.report))


def test_a_tiny_tenant_trains_and_fitting_is_deterministic() -> None:
    tiny = cookbook(per_group=3, seed=1)
    first = PairingModel.fit(tiny, seed=3)
    second = PairingModel.fit(tiny, seed=3)
    present = [NAMES.index("a0")]
    np.testing.assert_allclose(first.scores(present), second.scores(present))
    assert np.isfinite(first.scores(present)[NAMES.index("a1")])


def test_votes_of_both_kernels_in_one_pass_match_the_sparse_kernel(model: PairingModel) -> None:
    # The neighbour index is over the ingredients that occur in recipes.
    sets = [model.position[np.array([0, 1])], model.position[np.array([5, 6, 7])]]
    assert all((s >= 0).all() for s in sets)
    queries = recipe_matrix(sets, len(model.active))
    codes = np.array([-1, 1], dtype=np.int64)
    sharp, soft = model.neighbours.votes_sets(sets, codes, [model.neighbours.config, SOFT_KERNEL])
    # One pass per query over the inverted index; ``votes`` goes through sparse products (float32).
    np.testing.assert_allclose(sharp, model.neighbours.votes(queries, codes), rtol=1e-4)
    np.testing.assert_allclose(soft, model.neighbours.votes(queries, codes, SOFT_KERNEL), rtol=1e-4)
    assert (soft > 0).sum() >= (sharp > 0).sum()


def test_few_queries_through_numpy_match_the_torch_network() -> None:
    torch.manual_seed(0)
    ensemble = build_ensemble(12, 3, CompletionConfig(hidden=16, members=2))
    for param in ensemble.parameters():  # untrained LayerNorms are the identity: make them not
        param.data.normal_(0.0, 0.5)
    ensemble.eval()
    rng = np.random.default_rng(2)
    sets = [rng.choice(12, size=int(rng.integers(1, 5)), replace=False) for _ in range(FEW_QUERIES + 3)]
    codes = np.array([-1, 0, 1, 2] * 4, dtype=np.int64)[: len(sets)]
    batched = completion_probabilities(ensemble, sets, codes)  # more than FEW_QUERIES: torch
    for i, s in enumerate(sets):
        single = completion_probabilities(ensemble, [s], codes[i : i + 1])  # numpy
        np.testing.assert_allclose(single[0], batched[i], rtol=1e-4, atol=1e-7)
        assert (single[0][s] == 0).all()
        assert single[0].sum() == pytest.approx(1.0)
