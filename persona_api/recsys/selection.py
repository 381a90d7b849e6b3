"""Model selection on a validation split (each user's held-out next item) for SeqRecommender.

Chooses, in order: the co-occurrence popularity penalty, SASRec's epoch count (early stopping),
and the blend weights (coordinate ascent on NDCG@10 over candidate pools). Everything it chose
and every validation figure goes into the report, including whether the user code earned weight.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from persona_api.kernel import ranking as metrics
from persona_api.recsys import blend
from persona_api.recsys.components import Components, FitPlan
from persona_api.recsys.itemknn import ItemKNN
from persona_api.recsys.sasrec import SASRec

if TYPE_CHECKING:
    from persona_api.recsys.seqconfig import Report, SeqConfig, SeqTrainingData

_CHUNK = 1000


def target_ranks_in_chunks(
    score_batch: Callable[[Sequence[Sequence[int]]], NDArray[np.float32]],
    histories: Sequence[Sequence[int]],
    targets: NDArray[np.int64],
) -> NDArray[np.int64]:
    out = []
    for start in range(0, len(histories), _CHUNK):
        chunk = histories[start : start + _CHUNK]
        scores = np.array(score_batch(chunk), dtype=np.float32)
        metrics.mask_history(scores, chunk)
        out.append(metrics.target_ranks(scores, targets[start : start + _CHUNK]))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def _record(report: Report, key: str, ranks: NDArray[np.int64]) -> None:
    for name, value in metrics.summarize(ranks).items():
        report[f"val.{key}.{name}"] = round(value, 5)


def select(
    data: SeqTrainingData,
    val: NDArray[np.int64],
    plan: FitPlan,
    config: SeqConfig,
    say: Callable[[str], None],
) -> tuple[Components, FitPlan, dict[str, float], Report]:
    """Fit on ``data.sequences``, choose settings on ``val``; returns the fitted components, the plan
    with the choices filled in (for a refit), the blend weights and the report."""
    rng = np.random.default_rng(config.seed)
    users = rng.permutation(np.flatnonzero(val >= 0))[: config.selection_users]
    histories = [data.sequences[u] for u in users]
    targets = val[users]
    report: Report = {"selection": "validation", "val_users": len(users)}

    if "knn" in plan.names and len(config.knn_target_exponents) > 1:
        best = (-1.0, plan.knn)
        for exponent in config.knn_target_exponents:
            knn_config = replace(plan.knn, target_exponent=exponent)
            knn = ItemKNN.fit(data.sequences, data.n_items, weights=data.weights, config=knn_config)
            value = metrics.ndcg_at(target_ranks_in_chunks(knn.score_batch, histories, targets), 10)
            report[f"val.knn[target_exponent={exponent}].ndcg@10"] = round(value, 5)
            best = max(best, (value, knn_config), key=lambda pair: pair[0])
        plan = replace(plan, knn=best[1])
        say(f"item-kNN target exponent {best[1].target_exponent}: val ndcg@10 {best[0]:.4f}")
    report["knn.target_exponent"] = plan.knn.target_exponent

    early = slice(0, config.epoch_selection_users)

    def validate(model: SASRec) -> float:
        return metrics.ndcg_at(
            target_ranks_in_chunks(model.score_batch, histories[early], targets[early]), 10
        )

    parts, curve = Components.fit(
        data.sequences,
        data.weights,
        data.user_text,
        data.item_text,
        plan,
        text_decay=config.text_decay,
        validate=validate,
        progress=say,
    )
    if curve:
        plan = replace(plan, sasrec_epochs=int(np.argmax(curve)) + 1)
        report["sasrec.epochs"] = plan.sasrec_epochs or 0
        report["sasrec.val_curve"] = " ".join(f"{v:.4f}" for v in curve)

    pools = []
    for start in range(0, len(users), _CHUNK):
        chunk = users[start : start + _CHUNK]
        chunk_h = histories[start : start + _CHUNK]
        codes = None
        if parts.quantizer is not None:
            codes = np.stack(
                [
                    parts.user_code(h, None if data.user_text is None else data.user_text[u])
                    for u, h in zip(chunk, chunk_h, strict=True)
                ]
            )
        z = {name: blend.z_normalize(raw) for name, raw in parts.raw(chunk_h, codes, parts.names).items()}
        for scores in z.values():
            metrics.mask_history(scores, chunk_h)
        pools.append(blend.build_pool(z, val[chunk], config.candidates))
    pool = blend.merge_pools(pools)
    names = pool.names
    for c, name in enumerate(names):
        _record(report, name, pool.ranks(np.eye(len(names))[c]))
    weights, _ = blend.search_weights(pool, config.weight_grid)
    _record(report, "blend", pool.ranks([weights[n] for n in names]))
    if "code" in names:
        # The user code earns its place only if the blend is worse without it.
        without = {n: (0.0 if n == "code" else w) for n, w in weights.items()}
        _record(report, "blend_without_code", pool.ranks([without[n] for n in names]))
        report["usercode"] = (
            "used, weight {:.2f}".format(weights["code"])
            if weights["code"] > 0
            else "not used: no validation gain"
        )
    say(f"validation: blend ndcg@10 {report['val.blend.ndcg@10']}, weights {weights}")
    return parts, plan, weights, report
