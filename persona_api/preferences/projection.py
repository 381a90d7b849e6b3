"""The learnt map from option embeddings to the latent space, ``f(e) = A e + W2 gelu(W1 e + b1)``,
as served in numpy (:mod:`.network` trains it in torch)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray


def gelu(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """GELU, tanh form (the training code uses the same, so serving matches it exactly)."""
    out: NDArray[np.float64] = 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))
    return out


@dataclass(frozen=True)
class Projection:
    """``f(e) = linear e + out gelu(hidden e + bias)``; ``hidden`` may have zero rows (linear only)."""

    linear: NDArray[np.float64]
    hidden: NDArray[np.float64]
    bias: NDArray[np.float64]
    out: NDArray[np.float64]

    def __call__(self, embeddings: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
        e = np.asarray(embeddings, dtype=np.float64)
        result: NDArray[np.float64] = e @ self.linear.T
        if len(self.hidden):
            result = result + gelu(e @ self.hidden.T + self.bias) @ self.out.T
        return result
