"""The SASRec network in torch and its settings: causal transformer blocks over item vectors that
fuse an ID embedding with a projection of the title embedding (see :mod:`.sasrec`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True, kw_only=True)
class SASRecConfig:
    dim: int = 64
    layers: int = 2
    heads: int = 1
    max_len: int = 50
    dropout: float = 0.3
    id_dropout: float = 0.1
    text_fusion: bool = True
    lr: float = 3e-3
    weight_decay: float = 0.0
    label_smoothing: float = 0.1
    batch_size: int = 128
    epochs: int = 15
    """Upper bound; with validation data training stops once it stops improving."""
    patience: int = 3
    bf16: bool = True
    """Compute the output layer's logits in bfloat16 (several times faster on CPUs with AVX-512
    BF16 or AMX); the softmax itself stays in float32."""
    seed: int = 0


class _Block(nn.Module):
    """Pre-norm transformer block with a causal, padding-aware attention mask."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(dim, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """``mask`` is ``(b, 1, length, length)``, True = may attend; ``None`` means plain causal."""
        b, length, dim = x.shape
        q, k, v = (
            self.qkv(self.norm1(x)).view(b, length, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        )
        attended = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0, is_causal=mask is None
        )
        x = x + self.drop(self.out(attended.transpose(1, 2).reshape(b, length, dim)))
        out: torch.Tensor = x + self.drop(self.ff(self.norm2(x)))
        return out


class SASRecNet(nn.Module):
    """The network; ``text`` is a fixed buffer (not saved in the state dict, the caller keeps it)."""

    def __init__(self, n_items: int, text: torch.Tensor, config: SASRecConfig) -> None:
        super().__init__()
        self.n_items = n_items
        self.config = config
        dim = config.dim
        self.item_id = nn.Embedding(n_items + 1, dim, padding_idx=0)
        nn.init.normal_(self.item_id.weight, std=0.02)
        with torch.no_grad():
            self.item_id.weight[0].zero_()
        self.text_proj = nn.Linear(text.shape[1], dim) if config.text_fusion else None
        self.register_buffer("text", text, persistent=False)
        self.position = nn.Embedding(config.max_len, dim)
        self.blocks = nn.ModuleList(_Block(dim, config.heads, config.dropout) for _ in range(config.layers))
        self.norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(config.dropout)

    def text_vectors(self, text: torch.Tensor) -> torch.Tensor:
        """The text part of item vectors for arbitrary title embeddings ``(m, 384) -> (m, dim)``."""
        if self.text_proj is None:
            return torch.zeros(text.shape[0], self.config.dim)
        return self.text_proj(text)  # type: ignore[no-any-return]

    def item_vectors(self, keep_id: torch.Tensor | None = None) -> torch.Tensor:
        """``(n_items + 1, dim)`` token vectors; row 0 (padding) is zero."""
        ids = self.item_id.weight
        if keep_id is not None:
            ids = ids * keep_id[:, None]
        text: torch.Tensor = self.text  # type: ignore[assignment]
        if self.text_proj is None:
            return ids
        fused = self.text_proj(text)
        return ids + torch.cat([torch.zeros(1, fused.shape[1]), fused])

    def encode(self, tokens: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        """Hidden states ``(b, length, dim)`` for left-padded ``tokens`` (0 = padding)."""
        length = tokens.shape[1]
        x = vectors[tokens] * math.sqrt(self.config.dim)
        # Position 0 is the most recent item, so every sequence ends on the same position embedding.
        x = x + self.position(torch.arange(length - 1, -1, -1))[None]
        x = self.drop(x)
        valid = tokens > 0
        mask = None  # without padding (e.g. one request) the plain causal kernel is cheaper
        if not bool(valid.all()):
            causal = torch.ones(length, length, dtype=torch.bool).tril()
            # A padding row attends to itself only, so no row is fully masked (which would give NaNs).
            mask = ((causal[None] & valid[:, None, :]) | torch.eye(length, dtype=torch.bool)[None])[:, None]
        for block in self.blocks:
            x = block(x, mask)
        return self.norm(x)  # type: ignore[no-any-return]
