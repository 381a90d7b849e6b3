"""One pagination scheme for every list route: ``?limit=&offset=``, answered with Litestar's
``OffsetPagination`` (``items``, ``limit``, ``offset``, ``total``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from litestar.params import QueryParameter

MAX_LIMIT = 500
MAX_OFFSET = 2**31 - 1
"""Far beyond any list a tenant has, and inside every backend's integer range."""


@dataclass(frozen=True)
class PageRequest:
    limit: int
    offset: int


def provide_page(
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="Items per page (1-500).")] = 50,
    offset: Annotated[
        int, QueryParameter(ge=0, le=MAX_OFFSET, description="Items to skip (at most 2^31 - 1).")
    ] = 0,
) -> PageRequest:
    return PageRequest(limit=limit, offset=offset)
