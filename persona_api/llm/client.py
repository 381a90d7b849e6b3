"""An OpenAI-compatible chat-completions client over one pooled ``httpx.AsyncClient``.

Public API: :class:`LLMConfig` (keyword-only), :class:`LLMClient` with :meth:`LLMClient.complete`,
:meth:`LLMClient.stream` and :meth:`LLMClient.aclose`, and the result types :class:`Completion`,
:class:`Chunk` and :class:`Usage`. Every failure is a domain error from ``persona_api.errors``:

- :class:`~persona_api.errors.UpstreamError` (502): the endpoint answered 4xx/5xx (``upstream_status``
  says which), could not be reached, sent something that is not the protocol, or dropped a stream.
- :class:`~persona_api.errors.UpstreamTimeout` (504): no answer (or no next chunk) within the timeout.

Retries: a 429, a 5xx, a connection failure (refused, reset or closed before any answer) or a
connect timeout is retried up to ``max_retries`` times with exponential backoff and jitter; a
``Retry-After`` of at most ``backoff_cap`` seconds is honoured, a longer one is not waited for.
Nothing is retried once a stream has yielded, and read timeouts are not retried (a slow model stays
slow). At most ``max_concurrency`` calls are in flight; the others wait for a slot (not held while
backing off).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from persona_api.config import Settings
from persona_api.errors import UpstreamError, UpstreamTimeout
from persona_api.llm.protocol import Chunk, Completion, Usage, parse_completion, sse_chunks

log = logging.getLogger("persona_api.llm")

Message = Mapping[str, Any]
"""One OpenAI-style chat message: ``{"role": "system" | "user" | "assistant", "content": "..."}``."""

__all__ = ["Chunk", "Completion", "LLMClient", "LLMConfig", "Message", "Usage", "config_from_settings"]


@dataclass(frozen=True, kw_only=True)
class LLMConfig:
    """Where the LLM is and how patiently to call it."""

    base_url: str
    """API root such as ``https://api.example.com/v1``; ``/chat/completions`` is appended."""
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 60.0
    """Seconds for reading, writing and waiting for a pooled connection (per chunk when streaming)."""
    connect_timeout: float = 5.0
    max_retries: int = 2
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    max_concurrency: int = 16

    @property
    def endpoint(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"


def config_from_settings(settings: Settings) -> LLMConfig | None:
    """The client configuration of ``PERSONA_LLM_*``, or ``None`` when no LLM is configured."""
    if not settings.llm_base_url or not settings.llm_model:
        return None
    return LLMConfig(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key,
        timeout=settings.llm_timeout_seconds,
        connect_timeout=settings.llm_connect_timeout_seconds,
        max_retries=settings.llm_max_retries,
        backoff_base=settings.llm_backoff_base_seconds,
        backoff_cap=settings.llm_backoff_cap_seconds,
        max_concurrency=settings.llm_max_concurrency,
    )


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (the HTTP-date form is treated as absent)."""
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


# Failures before any byte of an answer, worth another attempt: the endpoint refused or reset the
# connection, or closed a pooled one it had let idle. Read timeouts are not among them.
_NO_ANSWER = (httpx.ConnectTimeout, httpx.NetworkError, httpx.RemoteProtocolError)


@contextlib.contextmanager
def _transport_errors() -> Iterator[None]:
    """Map httpx's exceptions onto the domain tree (for errors after the request was sent)."""
    try:
        yield
    except httpx.TimeoutException:
        raise UpstreamTimeout("the LLM did not answer in time") from None
    except httpx.HTTPError as exc:
        raise UpstreamError(f"the LLM connection failed ({type(exc).__name__})") from None


class LLMClient:
    """Calls ``POST {base_url}/chat/completions``. Create one per process and :meth:`aclose` it."""

    def __init__(
        self,
        config: LLMConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config
        headers = {"Accept": "application/json"}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        self._http = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(config.timeout, connect=config.connect_timeout),
            limits=httpx.Limits(
                max_connections=config.max_concurrency, max_keepalive_connections=config.max_concurrency
            ),
            transport=transport,
        )
        self._slots = asyncio.Semaphore(config.max_concurrency)
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"LLMClient(base_url={self.config.base_url!r}, model={self.config.model!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def complete(self, messages: Sequence[Message], **options: Any) -> Completion:
        """One non-streaming completion. ``options`` (temperature, max_tokens, ...) go into the body."""
        body = self._body(messages, options, stream=False)
        async with self._post(body) as response:
            with _transport_errors():
                raw = await response.aread()
        return parse_completion(raw, default_model=self.config.model)

    async def stream(self, messages: Sequence[Message], **options: Any) -> AsyncIterator[Chunk]:
        """Content deltas as the endpoint sends them; ends at ``data: [DONE]``.

        The last chunk usually carries ``usage`` (``stream_options.include_usage`` is requested).
        A stream that breaks off before ``[DONE]`` raises :class:`UpstreamError`.
        """
        body = self._body(messages, options, stream=True)
        async with self._post(body) as response:
            with _transport_errors():
                async for chunk in sse_chunks(response.aiter_lines()):
                    yield chunk

    def _body(
        self, messages: Sequence[Message], options: Mapping[str, Any], *, stream: bool
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.config.model, **options}
        body["messages"] = [dict(m) for m in messages]
        body["stream"] = stream
        if stream:
            body.setdefault("stream_options", {"include_usage": True})
        return body

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.config.backoff_cap, self.config.backoff_base * 2.0**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    @contextlib.asynccontextmanager
    async def _post(self, body: dict[str, Any]) -> AsyncIterator[httpx.Response]:
        """Send ``body`` with retries; yield the first 2xx response while holding a concurrency slot.

        Hand-written rather than tenacity or stamina, because it is shorter here: a retry must end
        before the response is yielded (a stream cannot be replayed), the slot is given back for
        the pause, and an upstream's ``Retry-After`` is obeyed up to the cap and ends the retries
        above it. In tenacity that is a custom wait, a custom stop and a result predicate around an
        inner function, more code than this loop and no less to test.
        """
        attempt = 0
        while True:
            async with self._slots:
                request = self._http.build_request("POST", self.config.endpoint, json=body)
                status: int | None = None
                wait: float | None = None
                try:
                    response = await self._http.send(request, stream=True)
                except _NO_ANSWER as exc:
                    if attempt >= self.config.max_retries:
                        if isinstance(exc, httpx.ConnectTimeout):
                            raise UpstreamTimeout(
                                "the LLM endpoint did not accept a connection in time"
                            ) from None
                        if isinstance(exc, httpx.ConnectError):
                            raise UpstreamError("the LLM endpoint could not be reached") from None
                        raise UpstreamError(
                            f"the LLM connection failed before an answer ({type(exc).__name__})"
                        ) from None
                except httpx.TimeoutException:
                    raise UpstreamTimeout("the LLM did not answer in time") from None
                except httpx.HTTPError as exc:
                    raise UpstreamError(f"the LLM request failed ({type(exc).__name__})") from None
                else:
                    if response.is_success:
                        try:
                            yield response
                        finally:
                            await response.aclose()
                        return
                    status = response.status_code
                    wait = _retry_after(response.headers.get("retry-after"))
                    await response.aclose()
                    too_long = wait is not None and wait > self.config.backoff_cap
                    if not _retryable(status) or attempt >= self.config.max_retries or too_long:
                        raise UpstreamError(
                            f"the LLM endpoint answered HTTP {status}", upstream_status=status
                        )
            delay = wait if wait is not None else self._backoff(attempt)
            attempt += 1
            log.warning("llm.retry", extra={"attempt": attempt, "status": status, "delay": round(delay, 3)})
            await self._sleep(delay)
