"""What an interaction says about a user's taste: positive with a confidence, negative, or neither.

Training (the re-index job) and serving (fresh histories at request time) both read events through
these functions, so the two never disagree about what counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

LOW_RATING = 2.0
"""Ratings at or below this are negative feedback, like a dislike."""
MAX_RATING = 5.0
EXPLICIT_POSITIVE = frozenset({"like", "purchase"})


@dataclass(frozen=True, slots=True)
class Event:
    item: int
    kind: str
    value: float | None
    weight: float | None
    at: datetime


def is_negative(e: Event) -> bool:
    return e.kind == "dislike" or (e.kind == "rating" and e.value is not None and e.value <= LOW_RATING)


def confidence(e: Event, weights: Mapping[str, float]) -> float:
    """The positive weight of an event; 0 for negative feedback. A client weight replaces the
    configured one; a rating's weight scales with its value."""
    if is_negative(e):
        return 0.0
    base = e.weight if e.weight is not None else weights.get(e.kind, 1.0)
    if e.kind == "rating" and e.value is not None:
        base *= e.value / MAX_RATING
    return base


def _lifts_dislike(e: Event) -> bool:
    # Only explicit approval undoes a dislike: viewing a disliked item again says nothing.
    return e.kind in EXPLICIT_POSITIVE or (e.kind == "rating" and not is_negative(e))


def disliked(events: Iterable[Event]) -> set[int]:
    """Items whose latest explicit feedback is negative (``events`` in chronological order)."""
    out: set[int] = set()
    for e in events:
        if is_negative(e):
            out.add(e.item)
        elif _lifts_dislike(e):
            out.discard(e.item)
    return out


@dataclass(frozen=True)
class History:
    """A user's positive sequence (chronological, immediate repeats merged) and what they rejected."""

    items: list[int]
    weights: list[float]
    rejected: set[int]

    @property
    def seen(self) -> set[int]:
        return set(self.items)


def history_of(events: Sequence[Event], weights: Mapping[str, float]) -> History:
    """Fold chronological events into a :class:`History`; rejected items leave the sequence."""
    rejected = disliked(events)
    items: list[int] = []
    conf: list[float] = []
    for e in events:
        w = confidence(e, weights)
        if w <= 0 or e.item in rejected:
            continue
        if items and items[-1] == e.item:
            conf[-1] = max(conf[-1], w)  # a view then a purchase of one item is one step
            continue
        items.append(e.item)
        conf.append(w)
    return History(items=items, weights=conf, rejected=rejected)
