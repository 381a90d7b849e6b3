"""List-and-count for the paginated routes: advanced-alchemy's repository over any of our tables.

Each call runs two statements, the rows of the page and the count of all matching rows (not a
window function: that would report 0 for an offset past the end), in the caller's session.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, TypeVar

from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import ColumnElement, UnaryExpression
from sqlalchemy.ext.asyncio import AsyncSession

from persona_api.store.tables import Base

M = TypeVar("M", bound=Base)


@functools.cache
def _repository(model: type[Any]) -> type[SQLAlchemyAsyncRepository[Any]]:
    return type(f"{model.__name__}Repository", (SQLAlchemyAsyncRepository,), {"model_type": model})


async def list_and_count(
    session: AsyncSession,
    model: type[M],
    *where: ColumnElement[bool],
    order_by: Sequence[UnaryExpression[Any]],
    limit: int,
    offset: int,
) -> tuple[list[M], int]:
    """One page of ``model``'s rows matching ``where`` in ``order_by`` order, and how many match."""
    repository = _repository(model)(session=session, auto_expunge=False)
    rows, total = await repository.get_many_and_count(
        *where,
        LimitOffset(limit=limit, offset=offset),
        order_by=list(order_by),
        count_with_window_function=False,
    )
    return list(rows), int(total)
