"""Offline evaluation of the ingredient-pairing model (missing-ingredient retrieval).

Protocol (Food Pairing Unveiled): remove one random ingredient from a random 10% of the recipes
(only recipes with at least two ingredients), train on everything else (shortened recipes stay in
training), and ask each method to retrieve the removed ingredient among all ingredients not
already in the recipe. Reported: mAP (= mean reciprocal rank) and HR@20, mean and std over splits.
Training and scoring go through ``PairingModel.fit`` / ``PairingModel.score_modes``, the code the
API runs.

Also reported: the flavor mode restricted to the removed ingredient's category, the default mode
under the sampled protocol (target against 100 random absent ingredients), and the "advise
against" ROC AUC of the compatibility score: pairs within the held-out real recipes versus random
pairs whose ingredients come from the same popularity deciles.

    python eval/pairing.py --data DIR [--splits N] [--seed S] [--epochs E]

Progress goes to stderr, a table to stdout, and the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from persona_api.kernel.ranking import target_ranks
from persona_api.pairing.data import PairingData, hold_out, read_flavor_network
from persona_api.pairing.model import PairingModel
from persona_api.pairing.options import PairingConfig
from persona_api.pairing.service import ADVISE_BELOW

MODES = ("recipe", "blend", "flavor", "knn", "mlp", "ease", "popularity")
BATCH = 1024


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def rank_figures(ranks: NDArray[np.int64]) -> dict[str, float]:
    return {"map": float(np.mean(1.0 / (ranks + 1.0))), "hr@20": float(np.mean(ranks < 20))}


def sampled_ranks(
    scores: NDArray[np.float32], targets: NDArray[np.int64], rng: np.random.Generator, negatives: int = 100
) -> NDArray[np.int64]:
    """Rank of the target among ``negatives`` random absent ingredients (ties count half)."""
    ranks = np.empty(len(targets), dtype=np.int64)
    for k, row in enumerate(scores):
        pool = np.flatnonzero(np.isfinite(row))
        pool = pool[pool != targets[k]]
        sample = rng.choice(pool, size=min(negatives, len(pool)), replace=False)
        t = row[targets[k]]
        ranks[k] = int((row[sample] > t).sum()) + int((row[sample] == t).sum()) // 2
    return ranks


def roc_auc(positive: NDArray[np.float64], negative: NDArray[np.float64]) -> float:
    """Probability that a positive outscores a negative (ties count half), via average ranks."""
    values = np.concatenate([positive, negative])
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    sorted_values = values[order]
    # Average rank within groups of equal values.
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    for s, e in zip(starts, ends, strict=True):
        ranks[order[s:e]] = (s + e + 1) / 2.0
    n_pos, n_neg = len(positive), len(negative)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def advise_against_auc(
    model: PairingModel,
    recipes: list[NDArray[np.int64]],
    targets: NDArray[np.int64],
    rng: np.random.Generator,
) -> dict[str, float]:
    """AUC over all pairs of the full held-out recipes, and over pairs with the removed ingredient;
    and the share of real and of random pairs the API would advise against (score below
    ``ADVISE_BELOW``): the first is the false-alarm rate on combinations cooks actually use."""
    pop = model.popularity.astype(np.float64)
    edges = np.quantile(pop, np.linspace(0, 1, 11)[1:-1])
    decile = np.searchsorted(edges, pop, side="right")
    members = [np.flatnonzero(decile == d) for d in range(10)]
    a_list, b_list, held_list = [], [], []
    for recipe, target in zip(recipes, targets, strict=True):
        i, j = np.triu_indices(len(recipe), k=1)
        a_list.append(recipe[i])
        b_list.append(recipe[j])
        held_list.append((recipe[i] == target) | (recipe[j] == target))
    a, b, held = np.concatenate(a_list), np.concatenate(b_list), np.concatenate(held_list)
    ra = np.array([rng.choice(members[decile[x]]) for x in a])
    rb = np.array([rng.choice(members[decile[x]]) for x in b])
    same = ra == rb
    while same.any():
        rb[same] = [rng.choice(members[decile[x]]) for x in b[same]]
        same = (ra == rb) & (np.array([len(members[decile[x]]) for x in b]) > 1)
    real = model.compatibility(a, b).astype(np.float64)
    fake = model.compatibility(ra, rb).astype(np.float64)
    return {
        "advise_auc": roc_auc(real, fake),
        "advise_auc_heldout_pairs": roc_auc(real[held], fake[held]),
        "advised_real": float(np.mean(real < ADVISE_BELOW)),
        "advised_random": float(np.mean(fake < ADVISE_BELOW)),
    }


def run_split(data: PairingData, seed: int, config: PairingConfig) -> dict[str, float]:
    split = hold_out(data.recipes, 0.1, seed)
    train = data.subset(split.recipes, data.cuisines)
    log(f"split {seed}: {len(split.rows)} held-out ingredients, fitting")
    started = time.perf_counter()
    model = PairingModel.fit(train, seed=seed, config=config, progress=lambda m: log(f"  {m}"))
    fit_seconds = time.perf_counter() - started
    sets = [split.recipes[i] for i in split.rows]
    cuisines = [data.cuisines[i] for i in split.rows]
    targets = split.targets
    modes = [m for m in MODES if m != "mlp" or model.net is not None]
    ranks: dict[str, list[NDArray[np.int64]]] = {m: [] for m in [*modes, "flavor_category", "sampled"]}
    category = np.array(model.categories)
    rng = np.random.default_rng(10_000 + seed)
    started = time.perf_counter()
    for start in range(0, len(sets), BATCH):
        chunk = slice(start, start + BATCH)
        scores = model.score_modes(sets[chunk], cuisines[chunk], modes)
        t = targets[chunk]
        for mode in modes:
            ranks[mode].append(target_ranks(scores[mode], t))
        restricted = scores["flavor"].copy()
        restricted[category[None, :] != category[t][:, None]] = -np.inf
        ranks["flavor_category"].append(target_ranks(restricted, t))
        ranks["sampled"].append(sampled_ranks(scores[model.default_mode], t, rng))
    score_seconds = time.perf_counter() - started
    out: dict[str, float] = {"fit_seconds": fit_seconds, "ms_per_query": 1000 * score_seconds / len(sets)}
    for name, parts in ranks.items():
        for key, value in rank_figures(np.concatenate(parts)).items():
            out[f"{name}/{key}"] = value
    for key, value in rank_figures(np.concatenate(ranks[model.default_mode])).items():
        out[f"default/{key}"] = value
    full = [data.recipes[i] for i in split.rows]
    out.update(advise_against_auc(model, full, targets, rng))
    out["default_is_blend"] = float(model.default_mode == "blend")
    log(
        f"split {seed}: default {model.default_mode} "
        f"mAP {out['default/map']:.4f} HR@20 {out['default/hr@20']:.4f}"
    )
    log(f"  validation report: {json.dumps(model.report.get('validation', {}))}")
    log(f"  weights {model.weights} flavor weight {model.flavor_weight}; fit {fit_seconds:.0f} s")
    return out


def main() -> None:
    default_data = Path(__file__).resolve().parent.parent / ".." / "shared" / "data" / "flavor-network"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=default_data.resolve())
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="first split seed")
    parser.add_argument("--epochs", type=int, default=None, help="override the network's epochs (quick runs)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    config = PairingConfig()
    if args.epochs is not None:
        config = dataclasses.replace(
            config, completion=dataclasses.replace(config.completion, epochs=args.epochs)
        )
    data = read_flavor_network(args.data)
    log(f"{len(data.recipes)} recipes, {data.n_ingredients} ingredients")
    results = [run_split(data, args.seed + k, config) for k in range(args.splits)]
    keys = list(results[0])
    mean = {k: float(np.mean([r[k] for r in results])) for k in keys}
    std = {k: float(np.std([r[k] for r in results])) for k in keys}
    print(f"ingredient retrieval, {args.splits} split(s) from seed {args.seed}: mean ± std")
    print(f"{'method':<28}{'mAP':>18}{'HR@20':>18}")
    labels = {"flavor_category": "flavor (same category)", "default": "default mode (API)"}
    for name in [*MODES, "flavor_category", "default"]:
        if f"{name}/map" not in mean:
            continue
        cells = [f"{mean[f'{name}/{k}']:.4f} ± {std[f'{name}/{k}']:.4f}" for k in ("map", "hr@20")]
        print(f"{labels.get(name, name):<28}{cells[0]:>18}{cells[1]:>18}")
    print(
        f"SAMPLED protocol (default mode, target vs 100 random absent ingredients): "
        f"mAP {mean['sampled/map']:.4f} ± {std['sampled/map']:.4f}, "
        f"HR@20 {mean['sampled/hr@20']:.4f} ± {std['sampled/hr@20']:.4f}"
    )
    print(
        f"advise-against ROC AUC (compatibility, real pairs vs popularity-matched random pairs): "
        f"{mean['advise_auc']:.4f} ± {std['advise_auc']:.4f}; pairs with the removed ingredient only: "
        f"{mean['advise_auc_heldout_pairs']:.4f} ± {std['advise_auc_heldout_pairs']:.4f}"
    )
    print(
        f"advised against (compatibility below {ADVISE_BELOW}): {mean['advised_real']:.2%} of the pairs in "
        f"held-out real recipes, {mean['advised_random']:.2%} of the popularity-matched random pairs"
    )
    print(
        f"fit {mean['fit_seconds']:.0f} s per split; scoring {mean['ms_per_query']:.2f} ms per query "
        f"(batched, all modes); default mode blend in {mean['default_is_blend'] * args.splits:.0f} split(s)"
    )
    summary = {
        "map": mean["default/map"],
        "hr@20": mean["default/hr@20"],
        "flavor_map": mean["flavor/map"],
        "flavor_hr@20": mean["flavor/hr@20"],
        "advise_auc": mean["advise_auc"],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
