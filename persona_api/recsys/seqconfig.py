"""Inputs and settings of :class:`~persona_api.recsys.seqmodel.SeqRecommender` (re-exported there)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from persona_api.recsys.als import ALSConfig
from persona_api.recsys.components import COMPONENTS
from persona_api.recsys.itemknn import ItemKNNConfig
from persona_api.recsys.sasrec_net import SASRecConfig

Report = dict[str, float | int | str]
"""Validation metrics, choices and timings of a training run (JSON-serialisable)."""


@dataclass(frozen=True, kw_only=True)
class SeqTrainingData:
    """What :meth:`SeqRecommender.train` learns from; users are rows, items are ``0 .. n_items - 1``."""

    n_items: int
    item_text: NDArray[np.float32]
    """``(n_items, 384)`` L2-normalised embeddings of each item's "title. description"."""
    sequences: list[NDArray[np.int64]]
    """Per user, chronological item indices in ``[0, n_items)``, positive events only."""
    weights: list[NDArray[np.float32]] | None = None
    """Per-event confidence, shaped like ``sequences``; ``None`` means all 1."""
    user_text: NDArray[np.float32] | None = None
    """``(n_users, 384)`` embedding of each user's reviews; a zero row means none."""


@dataclass(frozen=True, kw_only=True)
class SeqConfig:
    """Every hyperparameter, with defaults chosen on Amazon Beauty's validation split; the blend
    weights themselves are chosen per training run when validation items are given."""

    components: tuple[str, ...] = COMPONENTS
    """Components to fit and consider for the blend (see :mod:`persona_api.recsys.components`)."""
    sasrec: SASRecConfig = field(default_factory=SASRecConfig)
    knn: ItemKNNConfig = field(default_factory=ItemKNNConfig)
    knn_target_exponents: tuple[float, ...] = (0.0, 0.15, 0.3)
    """Popularity penalties of co-occurrence neighbours tried on validation."""
    als: ALSConfig = field(default_factory=ALSConfig)
    text_decay: float = 0.6
    text_dims: int = 256
    """Dimensions the ``text`` component scores in (0 = all); fewer make a request cheaper."""
    code_levels: int = 3
    code_size: int = 16
    selection_users: int = 12000
    """Validation users sampled for choosing blend weights and the co-occurrence setting."""
    epoch_selection_users: int = 8000
    """Validation users scored after every SASRec epoch for early stopping."""
    candidates: int = 100
    weight_grid: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0)
    default_weights: tuple[tuple[str, float], ...] = (
        ("sasrec", 1.0),
        ("text", 0.6),
        ("als", 0.1),
        ("knn", 0.1),
    )
    """Blend used when training without validation data (close to what validation picks on Amazon
    Beauty); only these components are fitted then."""
    retrain: bool = True
    threads: int = 2
    """torch threads used for training (set process-wide when training starts)."""
    seed: int = 0

    @classmethod
    def fast(cls) -> SeqConfig:
        """A tiny configuration for tests: seconds, not minutes."""
        return cls(
            sasrec=SASRecConfig(
                dim=16,
                layers=1,
                max_len=10,
                dropout=0.1,
                id_dropout=0.0,
                epochs=30,
                patience=30,
                lr=0.01,
                batch_size=32,
                bf16=False,
            ),
            als=ALSConfig(factors=8, iterations=5, threads=1),
            knn_target_exponents=(0.0, 0.3),
            text_dims=16,
            code_levels=2,
            code_size=4,
            selection_users=500,
            epoch_selection_users=200,
            candidates=20,
            threads=1,
        )


def config_from_dict(raw: dict[str, Any]) -> SeqConfig:
    """Rebuild a :class:`SeqConfig` from ``dataclasses.asdict`` output (JSON turns tuples into lists)."""
    values = dict(raw)
    values["sasrec"] = _dataclass_from(SASRecConfig, values["sasrec"])
    values["knn"] = _dataclass_from(ItemKNNConfig, values["knn"])
    values["als"] = _dataclass_from(ALSConfig, values["als"])
    values["default_weights"] = tuple((str(n), float(w)) for n, w in values["default_weights"])
    config: SeqConfig = _dataclass_from(SeqConfig, values)
    return config


def _dataclass_from(kind: Any, raw: dict[str, Any]) -> Any:
    return kind(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})
