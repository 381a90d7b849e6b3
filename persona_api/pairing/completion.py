"""A masked-ingredient network: given part of a recipe (and its cuisine), predict one more ingredient.

The input is a normalised sum of ingredient embeddings plus a cuisine embedding; two LayerNorm/GELU
layers map it to logits over all ingredients, and the ones already in the recipe are masked out of
the softmax. :mod:`.completion_training` trains it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from scipy import special  # type: ignore[import-untyped]
from torch import nn


@dataclass(frozen=True, kw_only=True)
class CompletionConfig:
    """Size and training schedule of the completion network."""

    hidden: int = 1024
    epochs: int = 20
    batch_size: int = 512
    learning_rate: float = 2e-3
    weight_decay: float = 0.01
    dropout: float = 0.4
    extra_drop_probability: float = 0.3
    """Share of examples that lose some further inputs."""
    extra_drop_rate: float = 0.2
    """Share of the remaining inputs such an example loses."""
    members: int = 2
    """Networks trained from different seeds, their softmaxes averaged. Two cost twice the
    network's training time and about 0.3 ms more per query, and lift the default mode's HR@20
    over 10 splits from 0.850 to 0.852 (see docs/benchmarks.md)."""


class CompletionNet(nn.Module):
    """Bag of ingredient embeddings + cuisine embedding -> logits over ingredients."""

    def __init__(self, n_ingredients: int, n_cuisines: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.n_ingredients = n_ingredients
        self.ingredient = nn.EmbeddingBag(n_ingredients, hidden, mode="sum")
        # Row 0 is "unknown cuisine", so code c is stored at c + 1.
        self.cuisine = nn.Embedding(n_cuisines + 1, hidden)
        self.body = nn.Sequential(
            nn.LayerNorm(hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.LayerNorm(hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_ingredients),
        )

    def forward(self, flat: torch.Tensor, offsets: torch.Tensor, cuisines: torch.Tensor) -> torch.Tensor:
        counts = torch.diff(offsets, append=torch.tensor([flat.numel()]))
        # Dividing by sqrt(n) keeps the input scale similar for short and long recipes.
        bag = self.ingredient(flat, offsets) / counts.clamp(min=1).float().sqrt()[:, None]
        out: torch.Tensor = self.body(bag + self.cuisine(cuisines + 1))
        return out


class FrozenNet:
    """A trained :class:`CompletionNet`'s forward pass in numpy, for one or a few queries.

    For a single query torch's per-operation overhead costs more than the arithmetic; this copy of
    the weights gives the same logits (to float32 rounding) in about half the time.
    """

    def __init__(self, net: CompletionNet) -> None:
        def arr(t: torch.Tensor) -> NDArray[np.float32]:
            return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np.float32)

        norms = [m for m in net.body if isinstance(m, nn.LayerNorm)]
        linears = [m for m in net.body if isinstance(m, nn.Linear)]
        self.ingredient = arr(net.ingredient.weight)
        self.cuisine = arr(net.cuisine.weight)
        self.norms = [(arr(n.weight), arr(n.bias), float(n.eps)) for n in norms]
        self.linear1 = (arr(linears[0].weight.T), arr(linears[0].bias))
        self.linear2 = (arr(linears[1].weight.T), arr(linears[1].bias))

    def logits(
        self, sets: Sequence[NDArray[np.int64]], cuisine_codes: NDArray[np.int64]
    ) -> NDArray[np.float32]:
        bag = np.stack([self.ingredient[s].sum(axis=0) / np.sqrt(max(len(s), 1)) for s in sets])
        x = bag.astype(np.float32) + self.cuisine[np.asarray(cuisine_codes) + 1]
        x = _gelu(_layer_norm(x, *self.norms[0]))
        x = _gelu(_layer_norm(x @ self.linear1[0] + self.linear1[1], *self.norms[1]))
        out: NDArray[np.float32] = x @ self.linear2[0] + self.linear2[1]
        return out


def _layer_norm(
    x: NDArray[np.float32], weight: NDArray[np.float32], bias: NDArray[np.float32], eps: float
) -> NDArray[np.float32]:
    centred = x - x.mean(axis=1, keepdims=True)
    scale = 1.0 / np.sqrt((centred * centred).mean(axis=1, keepdims=True) + eps)
    out: NDArray[np.float32] = (centred * scale * weight + bias).astype(np.float32)
    return out


def _gelu(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """The exact (erf) GELU, as ``nn.GELU()``."""
    out = 0.5 * x * (1.0 + special.erf(x * np.float32(np.sqrt(0.5))))
    return np.asarray(out, dtype=np.float32)


class CompletionEnsemble(nn.Module):
    """Several :class:`CompletionNet` whose predicted distributions are averaged.

    ``forward`` returns the log of the mean softmax, so masking and a softmax afterwards give the
    mean distribution renormalised over the ingredients not yet present.
    """

    def __init__(self, nets: Sequence[CompletionNet]) -> None:
        super().__init__()
        self.nets = nn.ModuleList(nets)
        self.n_ingredients = nets[0].n_ingredients
        self._frozen: list[FrozenNet] | None = None

    def frozen(self) -> list[FrozenNet]:
        """Numpy copies of the trained members (made on first use: call only once trained)."""
        if self._frozen is None:
            self._frozen = [FrozenNet(net) for net in self.nets]  # type: ignore[arg-type]
        return self._frozen

    def forward(self, flat: torch.Tensor, offsets: torch.Tensor, cuisines: torch.Tensor) -> torch.Tensor:
        logs = torch.stack([torch.log_softmax(net(flat, offsets, cuisines), dim=1) for net in self.nets])
        out: torch.Tensor = torch.logsumexp(logs, dim=0) - float(np.log(len(self.nets)))
        return out


def build_ensemble(n_ingredients: int, n_cuisines: int, config: CompletionConfig) -> CompletionEnsemble:
    """An untrained ensemble shaped by ``config`` (what
    :func:`.completion_training.train_completion` returns)."""
    return CompletionEnsemble(
        [
            CompletionNet(n_ingredients, n_cuisines, config.hidden, config.dropout)
            for _ in range(max(1, config.members))
        ]
    )


def pack(sets: Sequence[NDArray[np.int64]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat indices and offsets for :class:`torch.nn.EmbeddingBag`."""
    lengths = np.fromiter((len(s) for s in sets), dtype=np.int64, count=len(sets))
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(sets) else np.zeros(0, np.int64)
    flat = np.concatenate(list(sets)) if len(sets) else np.zeros(0, np.int64)
    return torch.from_numpy(flat.astype(np.int64)), torch.from_numpy(offsets.astype(np.int64))


def present_mask(sets: Sequence[NDArray[np.int64]], n_ingredients: int) -> torch.Tensor:
    """Boolean ``len(sets) x n_ingredients`` mask of the ingredients in each set."""
    mask = torch.zeros(len(sets), n_ingredients, dtype=torch.bool)
    flat, offsets = pack(sets)
    rows = torch.repeat_interleave(
        torch.arange(len(sets)), torch.diff(offsets, append=torch.tensor([len(flat)]))
    )
    mask[rows, flat] = True
    return mask


def completion_probabilities(
    net: CompletionNet | CompletionEnsemble,
    sets: Sequence[NDArray[np.int64]],
    cuisine_codes: NDArray[np.int64],
    batch_size: int = 2048,
) -> NDArray[np.float64]:
    """Softmax over the ingredients not in each set (present ones get probability 0)."""
    n_ingredients = net.n_ingredients
    if len(sets) <= FEW_QUERIES and isinstance(net, CompletionEnsemble):
        return _few_probabilities(net.frozen(), sets, cuisine_codes)
    out = np.zeros((len(sets), n_ingredients), dtype=np.float64)
    with torch.inference_mode():
        for start in range(0, len(sets), batch_size):
            chunk = sets[start : start + batch_size]
            flat, offsets = pack(chunk)
            logits = net(flat, offsets, torch.from_numpy(cuisine_codes[start : start + batch_size]))
            logits = logits.masked_fill(present_mask(chunk, n_ingredients), float("-inf"))
            out[start : start + len(chunk)] = torch.softmax(logits.double(), dim=1).numpy()
    return out


FEW_QUERIES = 8
"""Up to this many queries at once take the single-query paths: the numpy copies of the network
(:class:`FrozenNet`) and direct row sums (:func:`.scoring.summed_rows`)."""


def _few_probabilities(
    members: Sequence[FrozenNet], sets: Sequence[NDArray[np.int64]], cuisine_codes: NDArray[np.int64]
) -> NDArray[np.float64]:
    """:func:`completion_probabilities` through the numpy copies: the members' mean softmax,
    renormalised over the absent ingredients (as the ensemble's ``forward`` and a masked softmax)."""
    mean = np.zeros((len(sets), members[0].linear2[1].shape[0]), dtype=np.float64)
    if not len(sets):
        return mean
    for member in members:
        logits = member.logits(sets, cuisine_codes[: len(sets)]).astype(np.float64)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        mean += p / p.sum(axis=1, keepdims=True)
    for row, s in enumerate(sets):
        mean[row, s] = 0.0
    total = mean.sum(axis=1, keepdims=True)
    result: NDArray[np.float64] = mean / np.where(total > 0, total, 1.0)
    return result
