"""SASRec (Kang & McAuley, 2018) over item IDs fused with title embeddings, trained with full softmax.

An item's vector is its ID embedding plus a learned projection of its title embedding, and the same
vectors score the output (tied weights), so the model sees what items *are*, as ULMRec does with
titles, and an item nobody has bought yet still has a meaningful vector from its text alone.
During training each item's ID part is dropped with probability ``id_dropout`` so that the text
part learns to stand on its own.

The loss is cross-entropy over the whole catalogue at every position of every sequence, which on
Amazon-sized catalogues (~10^4 items) is affordable on a CPU and is known to beat the original
sampled binary loss by a wide margin. Padding is internal: item ``i`` is token ``i + 1``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from numpy.typing import NDArray

from persona_api.recsys.sasrec_net import SASRecConfig, SASRecNet


class _SoftmaxCrossEntropy(torch.autograd.Function):
    """Per-row cross-entropy over all items with label smoothing, with a hand-written backward.

    ``F.cross_entropy`` makes several passes over the ``(rows, n_items)`` logits forwards and
    backwards; this one works in place on one float32 copy of the (possibly bfloat16) logits, keeps
    the exponentials from the forward pass and reuses their memory for the gradient, which makes the
    loss about three times cheaper on CPU. The gradient is returned in the logits' dtype.
    """

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        logits: torch.Tensor,
        target: torch.Tensor,
        smoothing: float,
    ) -> torch.Tensor:
        exp = logits.float()
        if exp.data_ptr() == logits.data_ptr():
            exp = exp.clone()  # float32 input: never overwrite the caller's tensor
        picked = exp.gather(1, target[:, None]).squeeze(1)
        mean = exp.mean(dim=1) if smoothing > 0 else None
        top = exp.amax(dim=1, keepdim=True)
        exp.sub_(top).exp_()
        total = exp.sum(dim=1, keepdim=True)
        log_z = (total.log() + top).squeeze(1)
        loss = log_z - picked
        if mean is not None:
            loss = (1 - smoothing) * loss + smoothing * (log_z - mean)
        ctx.save_for_backward(exp, total, target)
        ctx.smoothing = smoothing  # type: ignore[attr-defined]
        ctx.dtype = logits.dtype  # type: ignore[attr-defined]
        return loss

    @staticmethod
    def backward(
        ctx: torch.autograd.function.FunctionCtx,
        grad_out: torch.Tensor,
    ) -> tuple[torch.Tensor, None, None]:
        exp, total, target = ctx.saved_tensors  # type: ignore[attr-defined]
        smoothing: float = ctx.smoothing  # type: ignore[attr-defined]
        grad = exp.div_(total).mul_(grad_out[:, None])
        if smoothing > 0:
            grad.sub_(grad_out[:, None] * (smoothing / grad.shape[1]))
        grad.scatter_add_(1, target[:, None], -(1 - smoothing) * grad_out[:, None])
        return grad.to(ctx.dtype), None, None  # type: ignore[attr-defined]


def _batches(
    lengths: NDArray[np.int64], batch_size: int, rng: np.random.Generator
) -> list[NDArray[np.int64]]:
    """Shuffled batches of sequences of similar length: most sequences are short, and padding every
    batch to its longest member would make the encoder several times slower."""
    order = rng.permutation(len(lengths))
    pool = batch_size * 32
    batches: list[NDArray[np.int64]] = []
    for start in range(0, len(order), pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def _pad_left(seqs: Sequence[NDArray[np.int64]], length: int) -> NDArray[np.int64]:
    out = np.zeros((len(seqs), length), dtype=np.int64)
    for row, s in enumerate(seqs):
        if len(s):
            out[row, length - len(s) :] = s
    return out


class SASRec:
    """A trained network plus the precomputed output item matrix (numpy) for fast scoring."""

    def __init__(self, net: SASRecNet) -> None:
        self.net = net.eval()
        with torch.inference_mode():
            self._vectors = net.item_vectors()
        self.item_matrix: NDArray[np.float32] = self._vectors[1:].numpy().copy()

    @property
    def config(self) -> SASRecConfig:
        return self.net.config

    @classmethod
    def fit(
        cls,
        sequences: Sequence[NDArray[np.int64]],
        n_items: int,
        text: NDArray[np.float32],
        *,
        weights: Sequence[NDArray[np.float32]] | None = None,
        config: SASRecConfig = SASRecConfig(),  # noqa: B008 (frozen: a shared default is safe)
        epochs: int | None = None,
        validate: Callable[[SASRec], float] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> tuple[SASRec, list[float]]:
        """Train; with ``validate`` (higher is better) keep the best epoch and stop after ``patience``
        epochs without improvement. Returns the model and the validation value of every epoch run."""
        torch.manual_seed(config.seed)
        rng = np.random.default_rng(config.seed)
        net = SASRecNet(n_items, torch.from_numpy(np.ascontiguousarray(text, dtype=np.float32)), config)
        optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        window = config.max_len + 1
        usable = [i for i, s in enumerate(sequences) if len(s) >= 2]
        tokens = [np.asarray(sequences[i][-window:], dtype=np.int64) + 1 for i in usable]
        event_w = [
            np.asarray(weights[i][-window:], dtype=np.float32)
            if weights is not None
            else np.ones(len(tokens[j]), dtype=np.float32)
            for j, i in enumerate(usable)
        ]
        lengths = np.array([len(t) for t in tokens], dtype=np.int64)
        # Batches hold sequences of similar length, so their target counts differ a lot: dividing every
        # batch by one constant (the mean weight per batch) keeps each target's weight equal.
        weight_per_batch = sum(float(w[1:].sum()) for w in event_w) * config.batch_size / max(len(tokens), 1)
        scores: list[float] = []
        best_state: dict[str, torch.Tensor] | None = None
        for epoch in range(epochs if epochs is not None else config.epochs):
            started = time.perf_counter()
            net.train()
            total, count = 0.0, 0
            for batch in _batches(lengths, config.batch_size, rng):
                length = max(len(tokens[i]) for i in batch) - 1
                seq = torch.from_numpy(_pad_left([tokens[i] for i in batch], length + 1))
                wts = torch.from_numpy(_pad_left([event_w[i] for i in batch], length + 1).astype(np.float32))
                inputs, targets, target_w = seq[:, :-1], seq[:, 1:], wts[:, 1:]
                keep = None
                if config.id_dropout > 0:
                    keep = (torch.rand(n_items + 1) >= config.id_dropout).float()
                # The two catalogue-sized products (title projection, output logits) dominate a step;
                # bfloat16 makes them several times faster, everything else stays float32.
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16):
                    vectors = net.item_vectors(keep)
                hidden = net.encode(inputs, vectors)
                valid = (targets > 0) & (inputs > 0)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.bf16):
                    logits = hidden[valid] @ vectors[1:].T
                loss_each = _SoftmaxCrossEntropy.apply(  # type: ignore[no-untyped-call]
                    logits, targets[valid] - 1, config.label_smoothing
                )
                w = target_w[valid]
                loss = (loss_each * w).sum() / weight_per_batch
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(batch)
                count += len(batch)
            model = cls(net)
            seconds = time.perf_counter() - started
            message = f"sasrec epoch {epoch + 1} loss {total / max(count, 1):.4f} {seconds:.1f}s"
            if validate is not None:
                scores.append(validate(model))
                message += f" val {scores[-1]:.4f}"
                if len(scores) == 1 or scores[-1] > max(scores[:-1]):  # the first best epoch is kept
                    best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            if progress is not None:
                progress(message)
            if validate is not None and len(scores) - 1 - int(np.argmax(scores)) >= config.patience:
                break
        if best_state is not None:
            net.load_state_dict(best_state)
        return cls(net), scores

    def user_states(self, histories: Sequence[Sequence[int]]) -> NDArray[np.float32]:
        """``(n, dim)`` state after each history (its last ``max_len`` items)."""
        max_len = self.config.max_len
        cut = [np.asarray(h, dtype=np.int64)[-max_len:] + 1 for h in histories]
        length = max([len(c) for c in cut] + [1])
        with torch.inference_mode():
            tokens = torch.from_numpy(_pad_left(cut, length))
            hidden = self.net.encode(tokens, self._vectors)[:, -1]
        return hidden.numpy().astype(np.float32, copy=False)

    def score_batch(self, histories: Sequence[Sequence[int]]) -> NDArray[np.float32]:
        return np.asarray(self.user_states(histories) @ self.item_matrix.T, dtype=np.float32)

    def score(self, history: Sequence[int]) -> NDArray[np.float32]:
        return np.asarray(self.item_matrix @ self.user_states([history])[0], dtype=np.float32)

    def text_item_vectors(self, text: NDArray[np.float32]) -> NDArray[np.float32]:
        """Output vectors for items known only by their title embedding."""
        with torch.inference_mode():
            return self.net.text_vectors(
                torch.from_numpy(np.ascontiguousarray(text, dtype=np.float32))
            ).numpy()

    def state_arrays(self) -> dict[str, NDArray[np.float32]]:
        return {k: v.detach().numpy().copy() for k, v in self.net.state_dict().items()}

    @classmethod
    def from_arrays(
        cls,
        arrays: dict[str, NDArray[np.float32]],
        n_items: int,
        text: NDArray[np.float32],
        config: SASRecConfig,
    ) -> SASRec:
        net = SASRecNet(n_items, torch.from_numpy(np.ascontiguousarray(text, dtype=np.float32)), config)
        net.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in arrays.items()})
        return cls(net)
