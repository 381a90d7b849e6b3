"""What interactions say about taste: weights, dislikes, and how histories fold them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from persona_api.config import parse_interaction_weights
from persona_api.errors import InvalidInput, PayloadTooLarge
from persona_api.http.recs_schemas import NDJSON, InteractionBody, decode_batch
from persona_api.recsys.signals import Event, confidence, disliked, history_of

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WEIGHTS = parse_interaction_weights("view=1,purchase=4,rating=2")


def ev(item: int, kind: str, minute: int, value: float | None = None, weight: float | None = None) -> Event:
    return Event(item=item, kind=kind, value=value, weight=weight, at=T0 + timedelta(minutes=minute))


def test_weights_parse_and_reject_nonsense() -> None:
    assert WEIGHTS["purchase"] == 4 and WEIGHTS["click"] == 1  # unnamed types keep 1
    for bad in ("dislike=3", "view", "view=-1", "teleport=2", "view=abc"):
        with pytest.raises(ValueError):
            parse_interaction_weights(bad)


def test_confidence_uses_type_weight_client_weight_and_rating_value() -> None:
    assert confidence(ev(1, "purchase", 0), WEIGHTS) == 4
    assert confidence(ev(1, "purchase", 0, weight=0.5), WEIGHTS) == 0.5
    assert confidence(ev(1, "rating", 0, value=5), WEIGHTS) == 2
    assert confidence(ev(1, "rating", 0, value=4), WEIGHTS) == pytest.approx(1.6)
    assert confidence(ev(1, "rating", 0, value=2), WEIGHTS) == 0  # a low rating is negative
    assert confidence(ev(1, "dislike", 0), WEIGHTS) == 0


def test_only_explicit_approval_lifts_a_dislike() -> None:
    assert disliked([ev(1, "dislike", 0), ev(1, "view", 1)]) == {1}
    assert disliked([ev(1, "dislike", 0), ev(1, "like", 1)]) == set()
    assert disliked([ev(1, "like", 0), ev(1, "rating", 1, value=1)]) == {1}
    assert disliked([ev(1, "dislike", 0), ev(1, "rating", 1, value=4)]) == set()


def test_history_merges_repeats_and_drops_rejected_items() -> None:
    events = [
        ev(1, "view", 0),
        ev(1, "purchase", 1),
        ev(2, "view", 2),
        ev(3, "view", 3),
        ev(3, "dislike", 4),
        ev(1, "view", 5),
    ]
    h = history_of(events, WEIGHTS)
    assert h.items == [1, 2, 1] and h.weights == [4, 1, 1]
    assert h.rejected == {3} and h.seen == {1, 2}


def test_decode_batch_reads_arrays_and_ndjson_with_bounds() -> None:
    body = b'[{"user": "a", "item": "x", "type": "view"}]'
    [one] = decode_batch(body, "application/json", InteractionBody, 10)
    assert (one.user, one.item, one.type) == ("a", "x", "view")
    lines = b'{"user": "a", "item": "x", "type": "view"}\n\n{"user": "b", "item": "y", "type": "like"}\n'
    assert [b.user for b in decode_batch(lines, NDJSON + "; charset=utf-8", InteractionBody, 10)] == [
        "a",
        "b",
    ]
    with pytest.raises(PayloadTooLarge):
        decode_batch(lines, NDJSON, InteractionBody, 1)
    with pytest.raises(InvalidInput) as bad:
        decode_batch(b'[{"user": "a", "item": "x", "type": "fly"}]', "application/json", InteractionBody, 10)
    assert bad.value.problems[0].field == "$[0].type"
    with pytest.raises(InvalidInput, match="line 2"):
        decode_batch(b'{"user": "a", "item": "x", "type": "view"}\n{oops\n', NDJSON, InteractionBody, 10)
