"""The sequential recommender the service ships: a validated blend of SASRec with title fusion,
item co-occurrence, ALS, title similarity, user-code popularity and popularity.

Training fits every component on the users' sequences, then, given each user's held-out next
item, picks the co-occurrence normalisation, SASRec's epoch count and the blend weights on that
validation split; components that earn no weight are dropped. With ``retrain`` the chosen
setup is refitted on the sequences plus the validation items, since the most recent purchases
say the most about the next one. ``report`` records what was chosen and why.

Item indices are ``0 .. n_items - 1`` throughout; scores are not masked, so callers remove items
they do not want to recommend again (the evaluation removes the user's whole history).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from persona_api.recsys import blend
from persona_api.recsys.components import COMPONENTS, Components, FitPlan
from persona_api.recsys.seqconfig import Report, SeqConfig, SeqTrainingData, config_from_dict
from persona_api.recsys.usercode import ResidualQuantizer

_FORMAT = 1
_DEFAULT_CONFIG = SeqConfig()


class SeqRecommender:
    """A trained blend; see the module docstring. Build with :meth:`train` or :meth:`load`."""

    def __init__(
        self, parts: Components, weights: dict[str, float], config: SeqConfig, report: Report
    ) -> None:
        self._parts = parts
        # A fixed order keeps the float sums, hence the scores, identical after a save/load round trip.
        self._weights = {
            n: float(weights[n]) for n in COMPONENTS if weights.get(n, 0.0) > 0 and n in parts.names
        }
        self._config = config
        self._report = report
        self._vectors: NDArray[np.float32] | None = None

    @property
    def n_items(self) -> int:
        return self._parts.n_items

    @property
    def report(self) -> Report:
        """Validation metrics per component and for the blend, the choices made, training seconds."""
        return dict(self._report)

    @property
    def weights(self) -> dict[str, float]:
        return dict(self._weights)

    @property
    def quantizer(self) -> ResidualQuantizer | None:
        """The user-code quantizer fitted on the training users (``None`` with too few users)."""
        return self._parts.quantizer

    def user_code(self, history: Sequence[int], review_text: NDArray[np.float32] | None = None) -> list[int]:
        """The user code (one entry per level) this model's ``code`` component expects."""
        return [int(c) for c in self._parts.user_code(history, review_text)]

    # -- training -----------------------------------------------------------------------------------

    @classmethod
    def train(
        cls,
        data: SeqTrainingData,
        *,
        config: SeqConfig = _DEFAULT_CONFIG,
        validation: Sequence[int] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> SeqRecommender:
        """Train components, choose blend weights (and anything else) on ``validation`` if given
        (per user, the held-out next item or -1); if validation is given and ``config.retrain``,
        retrain on sequences + validation items with the chosen settings."""
        from persona_api.recsys.selection import select

        started = time.perf_counter()

        def say(message: str) -> None:
            if progress is not None:
                progress(f"[{time.perf_counter() - started:6.1f}s] {message}")

        _check(data, validation)
        torch.set_num_threads(config.threads)
        plan = FitPlan(
            names=tuple(c for c in config.components if c in COMPONENTS),
            sasrec=replace(config.sasrec, seed=config.seed),
            knn=config.knn,
            als=replace(config.als, seed=config.seed, threads=config.threads),
            code_levels=config.code_levels,
            code_size=config.code_size,
            seed=config.seed,
            text_dims=config.text_dims,
        )
        val = None if validation is None else np.asarray(validation, dtype=np.int64)
        if val is None or not (val >= 0).any():
            defaults = dict(config.default_weights)
            parts, _ = Components.fit(
                data.sequences,
                data.weights,
                data.user_text,
                data.item_text,
                replace(
                    plan, names=tuple(n for n in plan.names if defaults.get(n, 0.0) > 0 or n == "sasrec")
                ),
                text_decay=config.text_decay,
                progress=say,
            )
            report: Report = {"selection": "none (default weights)", "retrained": 0}
            weights = dict(config.default_weights)
        else:
            parts, plan, weights, report = select(data, val, plan, config, say)
            if config.retrain:
                say("retraining on sequences + validation items")
                keep = tuple(n for n in plan.names if weights.get(n, 0.0) > 0 or n == "sasrec")
                sequences, event_w = _append(data, val)
                parts, _ = Components.fit(
                    sequences,
                    event_w,
                    data.user_text,
                    data.item_text,
                    replace(plan, names=keep),
                    text_decay=config.text_decay,
                    progress=say,
                )
            report["retrained"] = int(config.retrain)
        report["train_seconds"] = round(time.perf_counter() - started, 1)
        report.update({f"weight.{name}": round(weights.get(name, 0.0), 3) for name in plan.names})
        say(f"trained in {report['train_seconds']}s, weights {weights}")
        return cls(parts, weights, config, report)

    # -- scoring ------------------------------------------------------------------------------------

    def score(self, history: Sequence[int], *, user_code: Sequence[int] | None = None) -> NDArray[np.float32]:
        """``(n_items,)`` scores (higher = better) for the next item after ``history`` (chronological).
        ``user_code`` must come from :meth:`user_code` (this model's quantizer); it defaults to the
        code of the history alone, and is ignored when the blend gives the code no weight."""
        codes = None
        if user_code is not None and "code" in self._weights:
            codes = np.asarray([user_code], dtype=np.int64)
            quantizer = self._parts.quantizer
            if (
                quantizer is None
                or codes.shape[1] != quantizer.levels
                or not ((codes >= 0) & (codes < quantizer.codebook_size)).all()
            ):
                raise ValueError("user_code does not come from this model's quantizer (see user_code())")
        return np.asarray(self._blend(self._parts.raw([list(history)], codes, tuple(self._weights)))[0])

    def score_batch(self, histories: Sequence[Sequence[int]]) -> NDArray[np.float32]:
        """``(len(histories), n_items)`` scores; codes come from the histories."""
        return self._blend(self._parts.raw([list(h) for h in histories], None, tuple(self._weights)))

    def score_new_items(self, history: Sequence[int], item_text: NDArray[np.float32]) -> NDArray[np.float32]:
        """Scores, on the scale of :meth:`score`, for ``(m, 384)`` title embeddings of items not in
        the training data; components that need interactions rate them like an unseen item."""
        names = tuple(self._weights)
        known = self._parts.raw([list(history)], None, names)
        new = self._parts.raw_new(
            list(history),
            np.asarray(item_text, dtype=np.float32).reshape(-1, self._parts.item_text.shape[1]),
            names,
        )
        total = np.zeros(len(new[names[0]]) if names else 0, dtype=np.float32)
        for name in names:
            mean, std = blend.z_stats(known[name])
            total += self._weights[name] * (new[name] - mean[0]) / std[0]
        return total

    def _blend(self, raw: dict[str, NDArray[np.float32]]) -> NDArray[np.float32]:
        first = next(iter(raw.values()))
        total = np.zeros(first.shape, dtype=np.float32)
        for name, scores in raw.items():
            total += self._weights[name] * blend.z_normalize(scores)
        return total

    # -- items --------------------------------------------------------------------------------------

    def item_vectors(self) -> NDArray[np.float32]:
        """``(n_items, d)`` L2-normalised item vectors (SASRec's fused ID + title vectors, or the
        title embeddings without SASRec) for an ANN index of similar items."""
        if self._vectors is None:
            base = self._parts.sasrec.item_matrix if self._parts.sasrec is not None else self._parts.item_text
            norms = np.linalg.norm(base, axis=1, keepdims=True)
            self._vectors = np.asarray(base / np.maximum(norms, 1e-12), dtype=np.float32)
        return self._vectors

    def similar_items(self, item: int, k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """The ``k`` nearest items to ``item`` by cosine of :meth:`item_vectors` (``item`` excluded)."""
        vectors = self.item_vectors()
        sims = vectors @ vectors[item]
        sims[item] = -np.inf
        k = min(k, self.n_items - 1)
        top = np.argpartition(-sims, k - 1)[:k] if k > 0 else np.zeros(0, dtype=np.int64)
        top = top[np.argsort(-sims[top], kind="stable")]
        return top.astype(np.int64), sims[top].astype(np.float32)

    def explain(self, history: Sequence[int], item: int, *, k: int = 3) -> list[int]:
        """The history items that most drove ``item``: co-occurrence contribution (when that
        component is used) plus vector similarity, most influential first, without repeats."""
        h = [int(i) for i in history if int(i) != item]
        if not h:
            return []
        vectors = self.item_vectors()
        strength = vectors[h] @ vectors[item]
        if self._parts.knn is not None:
            contrib = self._parts.knn.contributions(h, item)
            if contrib.max() > 0:
                strength = strength + contrib / contrib.max()
        best: dict[int, float] = {}
        for i, s in zip(h, strength.tolist(), strict=True):
            best[i] = max(best.get(i, -np.inf), s)
        return sorted(best, key=lambda i: -best[i])[:k]

    # -- persistence --------------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write ``model.json`` and ``arrays.npz`` into ``folder`` (created if needed); no pickle."""
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "arrays.npz", allow_pickle=False, **self._parts.arrays())
        meta = {
            "format": _FORMAT,
            "config": asdict(self._config),
            "weights": self._weights,
            "report": self._report,
            **self._parts.meta(),
        }
        (folder / "model.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, folder: Path) -> SeqRecommender:
        """Read a folder written by :meth:`save` (``allow_pickle=False``)."""
        meta = json.loads((folder / "model.json").read_text())
        if meta.get("format") != _FORMAT:
            raise ValueError(f"unsupported model format in {folder}")
        with np.load(folder / "arrays.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        return cls(
            Components.from_arrays(arrays, meta),
            meta["weights"],
            config_from_dict(meta["config"]),
            meta["report"],
        )


def _append(
    data: SeqTrainingData, val: NDArray[np.int64]
) -> tuple[list[NDArray[np.int64]], list[NDArray[np.float32]] | None]:
    sequences = [np.append(s, v) if v >= 0 else s for s, v in zip(data.sequences, val, strict=True)]
    if data.weights is None:
        return sequences, None
    weights = [
        np.append(w, np.float32(1.0)).astype(np.float32) if v >= 0 else w
        for w, v in zip(data.weights, val, strict=True)
    ]
    return sequences, weights


def _check(data: SeqTrainingData, validation: Sequence[int] | None) -> None:
    if data.item_text.shape[0] != data.n_items:
        raise ValueError("item_text must have one row per item")
    for s in data.sequences:
        if len(s) and (s.min() < 0 or s.max() >= data.n_items):
            raise ValueError("item index out of range")
    if validation is not None and len(validation) != len(data.sequences):
        raise ValueError("validation must have one entry per user")
    if data.weights is not None and [len(w) for w in data.weights] != [len(s) for s in data.sequences]:
        raise ValueError("weights must be shaped like sequences")


__all__ = ["Report", "SeqConfig", "SeqRecommender", "SeqTrainingData", "config_from_dict"]
