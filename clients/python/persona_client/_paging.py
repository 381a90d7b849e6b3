"""Pages of a list operation that iterate over every item, fetching later pages as they are reached.

    page = client.users.list(limit=50)   # one request: the first page
    page.items, page.total               # that page, and the number of items in all pages
    for user in page: ...                # every user, 50 a request

The async page is awaited for its first page, and iterated with ``async for``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from typing import Any, Generic, Protocol, TypeVar

import httpx
import msgspec

from persona_client._spec import OperationSpec

T = TypeVar("T")


class SyncTransport(Protocol):
    """What a sync page needs of its client: sending one request."""

    def send(
        self, spec: OperationSpec, path: Mapping[str, Any], query: Mapping[str, Any], body: bytes | None
    ) -> httpx.Response: ...


class AsyncTransport(Protocol):
    """What an async page needs of its client: sending one request."""

    async def send(
        self, spec: OperationSpec, path: Mapping[str, Any], query: Mapping[str, Any], body: bytes | None
    ) -> httpx.Response: ...


class _Listing(msgspec.Struct, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class _PageBase(Generic[T]):
    def __init__(
        self, spec: OperationSpec, path: Mapping[str, Any], query: Mapping[str, Any], item: type[T]
    ) -> None:
        self._spec, self._path, self._query, self._item = spec, dict(path), dict(query), item
        self._listing: _Listing[T] | None = None

    def _decode(self, content: bytes) -> _Listing[T]:
        return msgspec.json.decode(content, type=_Listing[self._item], strict=False)  # type: ignore[name-defined]

    def _next_query(self, listing: _Listing[T]) -> dict[str, Any] | None:
        following = listing.offset + len(listing.items)
        if not listing.items or following >= listing.total:
            return None
        return self._query | {"offset": following, "limit": listing.limit}

    def _loaded(self) -> _Listing[T]:
        if self._listing is None:
            raise RuntimeError("await the page first (async pages are fetched by awaiting them)")
        return self._listing

    @property
    def items(self) -> list[T]:
        """The items of this page."""
        return self._loaded().items

    @property
    def total(self) -> int:
        """The number of items in every page together."""
        return self._loaded().total

    @property
    def offset(self) -> int:
        return self._loaded().offset

    @property
    def limit(self) -> int:
        return self._loaded().limit


class Page(_PageBase[T]):
    """A page of a sync list: fetched when created; iterating continues through later pages."""

    def __init__(
        self,
        transport: SyncTransport,
        spec: OperationSpec,
        path: Mapping[str, Any],
        query: Mapping[str, Any],
        item: type[T],
    ) -> None:
        super().__init__(spec, path, query, item)
        self._transport = transport
        self._listing = self._fetch(self._query)

    def _fetch(self, query: Mapping[str, Any]) -> _Listing[T]:
        return self._decode(self._transport.send(self._spec, self._path, query, None).content)

    def __iter__(self) -> Iterator[T]:
        listing = self._loaded()
        while True:
            yield from listing.items
            query = self._next_query(listing)
            if query is None:
                return
            listing = self._fetch(query)

    def next_page(self) -> Page[T] | None:
        """The following page, or None after the last."""
        query = self._next_query(self._loaded())
        return None if query is None else Page(self._transport, self._spec, self._path, query, self._item)


class AsyncPage(_PageBase[T]):
    """A page of an async list: ``await`` it for the first page, ``async for`` over every item."""

    def __init__(
        self,
        transport: AsyncTransport,
        spec: OperationSpec,
        path: Mapping[str, Any],
        query: Mapping[str, Any],
        item: type[T],
    ) -> None:
        super().__init__(spec, path, query, item)
        self._transport = transport

    async def _fetch(self, query: Mapping[str, Any]) -> _Listing[T]:
        return self._decode((await self._transport.send(self._spec, self._path, query, None)).content)

    def __await__(self) -> Generator[Any, None, AsyncPage[T]]:
        return self._load().__await__()

    async def _load(self) -> AsyncPage[T]:
        if self._listing is None:
            self._listing = await self._fetch(self._query)
        return self

    async def __aiter__(self) -> AsyncIterator[T]:
        listing = self._listing or await self._fetch(self._query)
        self._listing = listing
        while True:
            for item in listing.items:
                yield item
            query = self._next_query(listing)
            if query is None:
                return
            listing = await self._fetch(query)

    async def next_page(self) -> AsyncPage[T] | None:
        query = self._next_query(self._loaded())
        if query is None:
            return None
        return await AsyncPage(self._transport, self._spec, self._path, query, self._item)
