from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from numpy.typing import NDArray

from persona_api.kernel.embed import BatchingEmbedder, from_bytes, to_bytes


class SlowEmbedder:
    """Encodes a text as [len(text), 1, 0, ...]; each call takes 20 ms and is recorded."""

    dim = 4

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail_on = fail_on
        self.lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        with self.lock:
            self.calls.append(list(texts))
        time.sleep(0.02)
        if self.fail_on in texts:
            raise RuntimeError("model failure")
        return np.array([[len(t), 1, 0, 0] for t in texts], dtype=np.float32)


def test_concurrent_requests_share_model_calls_and_get_their_own_rows() -> None:
    inner = SlowEmbedder()
    batching = BatchingEmbedder(inner)
    texts = [["a" * i, "b" * (i + 1)] for i in range(1, 17)]
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(batching.encode, texts))
    for request, result in zip(texts, results, strict=True):
        assert result.shape == (2, 4)
        assert result[:, 0].tolist() == [len(t) for t in request]
    assert sum(len(c) for c in inner.calls) == 32
    assert len(inner.calls) < 16  # requests that arrived together were encoded together


def test_a_failing_batch_fails_its_callers_and_the_worker_survives() -> None:
    batching = BatchingEmbedder(SlowEmbedder(fail_on="boom"))
    with pytest.raises(RuntimeError, match="model failure"):
        batching.encode(["boom"])
    assert batching.encode(["fine"])[0, 0] == 4
    assert batching.encode([]).shape == (0, 4)


def test_vectors_round_trip_through_bytes() -> None:
    vector = np.array([0.25, -1.5, 3.0], dtype=np.float32)
    assert np.array_equal(from_bytes(to_bytes(vector)), vector)


@pytest.mark.parametrize("runtime", ["onnx", "torch"])
def test_the_direct_pipeline_matches_sentence_transformers(runtime: str) -> None:
    from persona_api.kernel.embed import MiniLMEmbedder, load_sentence_transformer

    embedder = MiniLMEmbedder(batch_size=3, runtime=runtime)
    texts = [
        "Hi!",
        "Caroline moved to Lisbon last month and started a new job as a nurse on night shifts.",
        "What should I read next?",
        "",
        "word " * 400,  # longer than the model's 256 tokens: truncated alike
    ]
    ours = embedder.encode(texts)
    reference = load_sentence_transformer().encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert ours.shape == (len(texts), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, atol=2e-6)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-5)
    # The ONNX export really ran (a failed export falls back to torch with only a log line).
    assert embedder.uses_onnx == (runtime == "onnx")


def test_an_unknown_runtime_is_refused() -> None:
    from persona_api.kernel.embed import MiniLMEmbedder

    with pytest.raises(ValueError, match="runtime"):
        MiniLMEmbedder(runtime="tensorflow")
