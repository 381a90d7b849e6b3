"""Training the completion network of :mod:`.completion` on a tenant's recipes.

Training turns every recipe into a fresh example each epoch by hiding one random ingredient, which
is exactly the retrieval task; the ingredients already in the recipe are masked out of the softmax
so the loss only ranks real candidates. Sometimes a few more inputs are dropped, so the network also
sees the short, partial recipes that users type.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from persona_api.pairing.completion import (
    CompletionConfig,
    CompletionEnsemble,
    CompletionNet,
    pack,
    present_mask,
)


def train_completion(
    recipes: Sequence[NDArray[np.int64]],
    cuisine_codes: NDArray[np.int64],
    n_ingredients: int,
    n_cuisines: int,
    config: CompletionConfig,
    *,
    seed: int,
    progress: Callable[[str], None] | None = None,
) -> CompletionEnsemble:
    """``config.members`` networks, each from its own seed (see :func:`train_network`)."""
    nets = []
    for member in range(max(1, config.members)):
        say = (
            None if progress is None else (lambda message, k=member: progress(f"network {k + 1}: {message}"))
        )
        nets.append(
            train_network(
                recipes,
                cuisine_codes,
                n_ingredients,
                n_cuisines,
                config,
                seed=seed + 1000 * member,
                progress=say,
            )
        )
    return CompletionEnsemble(nets)


def train_network(
    recipes: Sequence[NDArray[np.int64]],
    cuisine_codes: NDArray[np.int64],
    n_ingredients: int,
    n_cuisines: int,
    config: CompletionConfig,
    *,
    seed: int,
    progress: Callable[[str], None] | None = None,
) -> CompletionNet:
    """Train on every recipe with at least two ingredients, one hidden target per recipe and epoch."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = CompletionNet(n_ingredients, n_cuisines, config.hidden, config.dropout)
    usable = np.flatnonzero(np.fromiter((len(r) >= 2 for r in recipes), dtype=bool, count=len(recipes)))
    batch = max(1, min(config.batch_size, len(usable)))
    steps_per_epoch = max(1, len(usable) // batch)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, config.learning_rate, total_steps=config.epochs * steps_per_epoch + 1
    )
    net.train()
    for epoch in range(config.epochs):
        order = rng.permutation(usable)
        total = 0.0
        for step in range(steps_per_epoch):
            inputs, targets = _examples(
                [recipes[i] for i in order[step * batch : (step + 1) * batch]], rng, config
            )
            flat, offsets = pack(inputs)
            rows = order[step * batch : (step + 1) * batch]
            logits = net(flat, offsets, torch.from_numpy(cuisine_codes[rows]))
            logits = logits.masked_fill(present_mask(inputs, n_ingredients), -1e9)
            loss = nn.functional.cross_entropy(logits, torch.from_numpy(targets))
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]  # torch leaves backward unannotated
            optimiser.step()
            schedule.step()
            total += float(loss.item())
        if progress is not None:
            progress(f"completion epoch {epoch + 1}/{config.epochs} loss {total / steps_per_epoch:.3f}")
    net.eval()
    return net


def _examples(
    batch: Sequence[NDArray[np.int64]], rng: np.random.Generator, config: CompletionConfig
) -> tuple[list[NDArray[np.int64]], NDArray[np.int64]]:
    inputs: list[NDArray[np.int64]] = []
    targets = np.empty(len(batch), dtype=np.int64)
    for k, recipe in enumerate(batch):
        pick = int(rng.integers(len(recipe)))
        targets[k] = recipe[pick]
        rest = np.delete(recipe, pick)
        if len(rest) > 2 and rng.random() < config.extra_drop_probability:
            keep = rng.random(len(rest)) >= config.extra_drop_rate
            if keep.any():
                rest = rest[keep]
        inputs.append(rest)
    return inputs, targets
