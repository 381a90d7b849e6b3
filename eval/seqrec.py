"""Offline evaluation of the sequential recommender (issue 4) on Amazon reviews in the LlamaRec /
ULMRec leave-one-out format (``sequences.tsv`` + ``items.tsv``, e.g. ``../shared/data/amazon-beauty``).

Protocol: train on each user's training sequence, choose settings on the validation item (the model
may then retrain on train + validation), and rank *all* items for the test item, excluding the
user's history (train + validation). Baselines go through the same component classes.

    python eval/seqrec.py [--data DIR] [--seed 0] [--max-users N] [--no-retrain] [--save DIR]

The last line printed is one JSON object with the model's test metrics and training seconds.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import cast

import numpy as np
from numpy.typing import NDArray

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/amazon-beauty"
_CHUNK = 1000


def say(message: str) -> None:
    print(message, flush=True)


def load(folder: Path) -> tuple[list[str], list[NDArray[np.int64]], NDArray[np.int64], NDArray[np.int64]]:
    """Titles (index = 0-based item), train sequences, validation and test items per user."""
    with (folder / "items.tsv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    rows.sort(key=lambda r: int(r["item_idx"]))
    index = {int(r["item_idx"]): i for i, r in enumerate(rows)}
    titles = [html.unescape(r["title"]).strip() for r in rows]
    sequences, val, test = [], [], []
    with (folder / "sequences.tsv").open(newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            sequences.append(np.array([index[int(x)] for x in r["train_item_idxs"].split()], dtype=np.int64))
            val.append(index[int(r["val_item_idx"])])
            test.append(index[int(r["test_item_idx"])])
    return titles, sequences, np.array(val, dtype=np.int64), np.array(test, dtype=np.int64)


def evaluate(
    score_batch: Callable[[Sequence[Sequence[int]]], NDArray[np.float32]],
    histories: Sequence[NDArray[np.int64]],
    targets: NDArray[np.int64],
) -> dict[str, float]:
    from persona_api.kernel import ranking as metrics
    from persona_api.recsys.selection import target_ranks_in_chunks

    # The arrays are indexed like sequences of ints, which is all the ranking reads of them.
    rows = cast(Sequence[Sequence[int]], histories)
    return metrics.summarize(target_ranks_in_chunks(score_batch, rows, targets))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="folder with sequences.tsv, items.tsv"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-users", type=int, default=None, help="evaluate a random subset of users")
    parser.add_argument("--no-retrain", action="store_true", help="keep the model fitted on train only")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for training and scoring")
    parser.add_argument("--save", type=Path, default=None, help="also save the trained model to this folder")
    args = parser.parse_args(argv)
    if not (args.data / "sequences.tsv").is_file() or not (args.data / "items.tsv").is_file():
        print(
            f"data not found: {args.data} needs sequences.tsv and items.tsv "
            "(see ../shared/data/amazon-beauty/SOURCE.md); pass --data DIR",
            file=sys.stderr,
        )
        return 2

    import torch

    from persona_api.kernel.embed import MiniLMEmbedder
    from persona_api.recsys.als import ALSModel
    from persona_api.recsys.itemknn import ItemKNN
    from persona_api.recsys.seqmodel import SeqConfig, SeqRecommender, SeqTrainingData

    torch.set_num_threads(args.threads)
    titles, sequences, val, test = load(args.data)
    if args.max_users is not None and args.max_users < len(sequences):
        keep = np.sort(np.random.default_rng(args.seed).choice(len(sequences), args.max_users, replace=False))
        sequences, val, test = [sequences[u] for u in keep], val[keep], test[keep]
    say(f"{len(sequences)} users, {len(titles)} items, {sum(map(len, sequences))} training events")

    started = time.perf_counter()
    item_text = MiniLMEmbedder().encode(titles)
    embed_s = time.perf_counter() - started
    say(f"embedded {len(titles)} titles in {embed_s:.1f}s")
    config = SeqConfig(seed=args.seed, retrain=not args.no_retrain, threads=args.threads)
    data = SeqTrainingData(n_items=len(titles), item_text=item_text, sequences=sequences)
    model = SeqRecommender.train(data, config=config, validation=val.tolist(), progress=say)
    train_s = time.perf_counter() - started
    if args.save is not None:
        model.save(args.save)
        say(f"model saved to {args.save}")

    histories = [np.append(s, v) for s, v in zip(sequences, val, strict=True)]
    results = {"ULMRec-style blend (this model)": evaluate(model.score_batch, histories, test)}
    # Baselines, fitted on train + validation like the retrained model.
    counts = np.bincount(np.concatenate(histories), minlength=len(titles)).astype(np.float32)
    results["popularity"] = evaluate(
        lambda h: np.broadcast_to(counts, (len(h), len(counts))), histories, test
    )
    als_config = replace(config.als, seed=args.seed, threads=args.threads)
    results["ALS"] = evaluate(
        ALSModel.fit(histories, len(titles), config=als_config).score_batch, histories, test
    )
    knn_config = replace(
        config.knn, target_exponent=float(model.report.get("knn.target_exponent", config.knn.target_exponent))
    )
    results["item-kNN"] = evaluate(
        ItemKNN.fit(histories, len(titles), config=knn_config).score_batch, histories, test
    )

    say("\nvalidation / selection report:")
    for key, value in model.report.items():
        say(f"  {key}: {value}")
    say(f"\ntest, full ranking over {len(titles)} items, {len(histories)} users (history excluded)")
    say(f"{'model':<34}{'R@5':>8}{'R@10':>8}{'N@5':>8}{'N@10':>8}")
    for name, m in results.items():
        say(f"{name:<34}{m['recall@5']:>8.4f}{m['recall@10']:>8.4f}{m['ndcg@5']:>8.4f}{m['ndcg@10']:>8.4f}")
    ours = results["ULMRec-style blend (this model)"]
    say(f"train_s {train_s:.1f} (titles {embed_s:.1f}s + SeqRecommender.train)")
    say(
        json.dumps(
            {
                "recall@10": round(ours["recall@10"], 5),
                "ndcg@10": round(ours["ndcg@10"], 5),
                "recall@5": round(ours["recall@5"], 5),
                "ndcg@5": round(ours["ndcg@5"], 5),
                "train_s": round(train_s, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
