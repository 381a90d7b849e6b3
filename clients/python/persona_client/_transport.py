"""Sending one operation: URL, query, JSON body, retries with backoff, errors, decoding.

Retried: connection errors, 429 and 503, up to ``max_retries`` times, with exponential backoff and
full jitter (a random wait between 0 and ``0.5 * 2**attempt`` seconds, at most 8), or the server's
``Retry-After`` when it sends one; only for operations safe to repeat (GET, PUT, PATCH, DELETE, the
POSTs that only read, and uploads whose records carry client ids). Every attempt carries the same
``X-Request-ID``.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from persona_client._errors import APIConnectionError, APITimeoutError, status_error
from persona_client._errors import retry_after as retry_after_seconds
from persona_client._paging import AsyncPage, Page
from persona_client._spec import OperationSpec
from persona_client._version import __version__

T = TypeVar("T")

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
MAX_BODY_BYTES = 1_000_000
"""Bytes per upload request: under the server's default ``PERSONA_MAX_BODY_BYTES`` (1 MiB)."""
RETRIED_STATUSES = frozenset({429, 503})


class NotGiven:
    """A parameter left out: the server applies its default."""

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> bool:
        return False


NOT_GIVEN = NotGiven()


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    """Leave out parameters not given (None and NOT_GIVEN: the server's default applies)."""
    return {k: v for k, v in values.items() if v is not None and not isinstance(v, NotGiven)}


def _query(values: Mapping[str, Any]) -> list[tuple[str, str | int | float | bool | None]]:
    pairs: list[tuple[str, str | int | float | bool | None]] = []
    for key, value in _clean(values).items():
        for one in value if isinstance(value, list | tuple) else [value]:
            pairs.append((key, "true" if one is True else "false" if one is False else str(one)))
    return pairs


def _url(spec: OperationSpec, path: Mapping[str, Any]) -> str:
    url = spec.path
    for name in spec.path_params:
        url = url.replace("{" + name + "}", quote(str(path[name]), safe=""))
    return url


def _encode(body: Any) -> bytes:
    return msgspec.json.encode(body)


def chunks(records: Iterable[Any], *, count: int, max_bytes: int = MAX_BODY_BYTES) -> Iterator[list[bytes]]:
    """Records, encoded, in lists of at most ``count`` whose JSON array stays under ``max_bytes``."""
    batch: list[bytes] = []
    size = 2
    for record in records:
        encoded = _encode(_clean(record) if isinstance(record, Mapping) else record)
        if batch and (len(batch) >= count or size + len(encoded) + 1 > max_bytes):
            yield batch
            batch, size = [], 2
        batch.append(encoded)
        size += len(encoded) + 1
    if batch:
        yield batch


def merge(results: list[Any]) -> Any:
    """One result of several chunks': counts add up, lists concatenate, anything else is the last's."""
    if len(results) == 1:
        return results[0]
    first = results[0]
    if not isinstance(first, msgspec.Struct):
        return results[-1]
    fields: dict[str, Any] = {}
    for name in first.__struct_fields__:
        values = [getattr(r, name) for r in results]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            fields[name] = sum(values)
        elif all(isinstance(v, list) for v in values):
            fields[name] = [x for v in values for x in v]
        else:
            fields[name] = values[-1]
    return type(first)(**fields)


def _decode(response: httpx.Response, type_: Any) -> Any:
    if type_ is None or response.status_code == 204 or not response.content:
        return None
    return msgspec.json.decode(response.content, type=type_, strict=False)


class _Base:
    def __init__(self, base_url: str | None, api_key: str | None, timeout: float, max_retries: int) -> None:
        self.base_url = (base_url or os.environ.get("PERSONA_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("PERSONA_API_KEY")
        self.timeout = timeout
        self.max_retries = max_retries

    def _headers(self, request_id: str, json_body: bool) -> dict[str, str]:
        headers = {
            "User-Agent": f"persona-client/{__version__}",
            "X-Request-ID": request_id,
            "Accept": "application/json",
        }
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        if json_body:
            headers["Content-Type"] = "application/json"
        return headers

    def _backoff(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None and (after := retry_after_seconds(response)) is not None:
            return float(min(after, 60.0))
        return random.uniform(0, min(8.0, 0.5 * 2**attempt))

    def _retry(self, spec: OperationSpec, attempt: int, response: httpx.Response | None) -> bool:
        if attempt >= self.max_retries or not spec.repeatable:
            return False
        return response is None or response.status_code in RETRIED_STATUSES

    def _wait_or_raise(
        self,
        spec: OperationSpec,
        attempt: int,
        request: httpx.Request,
        response: httpx.Response | None,
        error: httpx.TransportError | None,
    ) -> float:
        """Seconds to wait before the next attempt, or the error of this one if there is none."""
        if self._retry(spec, attempt, response):
            return self._backoff(attempt, response)
        if response is not None:
            raise status_error(response)
        if isinstance(error, httpx.TimeoutException):
            raise APITimeoutError(
                f"{spec.method} {request.url}: no answer in time", request=request
            ) from error
        raise APIConnectionError(f"{spec.method} {request.url}: {error}", request=request) from error

    def _request(
        self,
        spec: OperationSpec,
        path: Mapping[str, Any],
        query: Mapping[str, Any],
        body: bytes | None,
        request_id: str,
        stream: bool = False,
    ) -> httpx.Request:
        return httpx.Request(
            spec.method,
            self.base_url + _url(spec, path),
            params=_query(query),
            content=body,
            headers=self._headers(request_id, body is not None)
            | ({"Accept": "text/event-stream"} if stream else {}),
        )


class SyncTransport(_Base):
    """The sync client's sending half."""

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        *,
        timeout: float,
        max_retries: int,
        http_client: httpx.Client | None,
    ) -> None:
        super().__init__(base_url, api_key, timeout, max_retries)
        self._owns_http = http_client is None
        self.http = http_client or httpx.Client(timeout=timeout)

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def send(
        self,
        spec: OperationSpec,
        path: Mapping[str, Any],
        query: Mapping[str, Any],
        body: bytes | None,
        *,
        stream: bool = False,
    ) -> httpx.Response:
        request_id = str(uuid.uuid4())
        attempt = 0
        while True:
            request = self._request(spec, path, query, body, request_id, stream)
            response: httpx.Response | None = None
            error: httpx.TransportError | None = None
            try:
                response = self.http.send(request, stream=stream, follow_redirects=False)
            except httpx.TransportError as exc:
                error = exc
            if response is not None:
                if response.status_code < 400:
                    return response
                response.read()  # the problem's body, read before the connection is let go
                response.close()
            time.sleep(self._wait_or_raise(spec, attempt, request, response, error))
            attempt += 1

    def _call(
        self,
        spec: OperationSpec,
        path: Mapping[str, Any],
        *,
        query: Mapping[str, Any],
        body: Mapping[str, Any] | None = None,
        type: type[T],
    ) -> T:
        encoded = _encode(_clean(body)) if body is not None else None
        result: T = _decode(self.send(spec, path, query, encoded), type)
        return result

    def _void(
        self,
        spec: OperationSpec,
        path: Mapping[str, Any],
        *,
        query: Mapping[str, Any],
        body: Mapping[str, Any] | None = None,
    ) -> None:
        encoded = _encode(_clean(body)) if body is not None else None
        response = self.send(spec, path, query, encoded)
        response.close()

    def _bulk(
        self,
        spec: OperationSpec,
        path: Mapping[str, Any],
        *,
        query: Mapping[str, Any],
        records: Iterable[Any],
        fields: Mapping[str, Any],
        type: type[T],
    ) -> T:
        results = [
            _decode(self.send(spec, path, query, _batch_body(spec, batch, fields)), type)
            for batch in chunks(records, count=spec.chunk_records)
        ]
        if not results:
            raise ValueError(f"{spec.operation_id}: nothing to send (the records are empty)")
        merged: T = merge(results)
        return merged

    def _page(
        self, spec: OperationSpec, path: Mapping[str, Any], *, query: Mapping[str, Any], item: type[T]
    ) -> Page[T]:
        return Page(self, spec, path, query, item)


class AsyncTransport(_Base):
    """The async client's sending half."""

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        *,
        timeout: float,
        max_retries: int,
        http_client: httpx.AsyncClient | None,
    ) -> None:
        super().__init__(base_url, api_key, timeout, max_retries)
        self._owns_http = http_client is None
        self.http = http_client or httpx.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    async def send(
        self,
        spec: OperationSpec,
        path: Mapping[str, Any],
        query: Mapping[str, Any],
        body: bytes | None,
        *,
        stream: bool = False,
    ) -> httpx.Response:
        request_id = str(uuid.uuid4())
        attempt = 0
        while True:
            request = self._request(spec, path, query, body, request_id, stream)
            response: httpx.Response | None = None
            error: httpx.TransportError | None = None
            try:
                response = await self.http.send(request, stream=stream, follow_redirects=False)
            except httpx.TransportError as exc:
                error = exc
            if response is not None:
                if response.status_code < 400:
                    return response
                await response.aread()  # the problem's body, read before the connection is let go
                await response.aclose()
            await asyncio.sleep(self._wait_or_raise(spec, attempt, request, response, error))
            attempt += 1

    async def _call(
        self,
        spec: OperationSpec,
        path: Mapping[str, Any],
        *,
        query: Mapping[str, Any],
        body: Mapping[str, Any] | None = None,
        type: type[T],
    ) -> T:
        encoded = _encode(_clean(body)) if body is not None else None
        result: T = _decode(await self.send(spec, path, query, encoded), type)
        return result

    async def _void(
        self,
        spec: OperationSpec,
        path: Mapping[str, Any],
        *,
        query: Mapping[str, Any],
        body: Mapping[str, Any] | None = None,
    ) -> None:
        encoded = _encode(_clean(body)) if body is not None else None
        response = await self.send(spec, path, query, encoded)
        await response.aclose()

    async def _bulk(
        self,
        spec: OperationSpec,
        path: Mapping[str, Any],
        *,
        query: Mapping[str, Any],
        records: Iterable[Any],
        fields: Mapping[str, Any],
        type: type[T],
    ) -> T:
        results = [
            _decode(await self.send(spec, path, query, _batch_body(spec, batch, fields)), type)
            for batch in chunks(records, count=spec.chunk_records)
        ]
        if not results:
            raise ValueError(f"{spec.operation_id}: nothing to send (the records are empty)")
        merged: T = merge(results)
        return merged

    def _page(
        self, spec: OperationSpec, path: Mapping[str, Any], *, query: Mapping[str, Any], item: type[T]
    ) -> AsyncPage[T]:
        return AsyncPage(self, spec, path, query, item)


def _batch_body(spec: OperationSpec, batch: list[bytes], fields: Mapping[str, Any]) -> bytes:
    array = b"[" + b",".join(batch) + b"]"
    if spec.body_is_list:
        return array
    rest = _encode(_clean(fields))
    key = _encode(spec.chunk_field)
    return b"{" + key + b":" + array + (b"," + rest[1:] if rest != b"{}" else b"}")
