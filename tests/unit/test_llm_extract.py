"""Validation of the LLM extractor's answers against the fixed JSON schema."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from persona_api.memory.extract import TurnInput
from persona_api.memory.llm_extract import ExtractionFailed, parse_extraction

TURN = TurnInput(
    turn_id="D1:2",
    speaker="Caroline",
    text="I live in Lisbon now and Mel got a puppy.",
    at=datetime(2023, 5, 8, 13, 56, tzinfo=UTC),
    addressees=("Melanie",),
)
PARTICIPANTS = ("Caroline", "Melanie")


def test_a_valid_answer_becomes_candidates_with_subjects_keys_and_provenance() -> None:
    content = """```json
{"memories": [
  {"text": "Caroline  lives in Lisbon.", "about": "user", "kind": "fact"},
  {"text": "Melanie got a puppy in May 2023.", "about": "melanie", "kind": "event", "confidence": 0.9}
]}
```"""
    first, second = parse_extraction(content, TURN, PARTICIPANTS)
    assert (first.text, first.subject, first.fact_key) == (
        "Caroline lives in Lisbon.",
        "Caroline",
        "caroline|lives_in",
    )
    assert (second.subject, second.fact_key) == ("Melanie", None)
    assert first.source_turn_ids == ("D1:2",) and first.observed_at == TURN.at
    assert parse_extraction('{"memories": []}', TURN, PARTICIPANTS) == []


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "not a JSON object"),
        ("[1, 2]", "schema"),
        ('{"memories": [{"text": "Caroline lives in Lisbon.", "about": "Caroline"}]}', "schema"),
        ('{"memories": [{"text": "", "about": "Caroline", "kind": "fact"}]}', "schema"),
        ('{"memories": [{"text": "Bob lives in Oslo.", "about": "Bob", "kind": "fact"}]}', "participant"),
        (
            '{"memories": [' + ",".join(['{"text": "abc", "about": "user", "kind": "fact"}'] * 11) + "]}",
            "schema",
        ),
    ],
)
def test_invalid_answers_fail_without_quoting_them(content: str, reason: str) -> None:
    with pytest.raises(ExtractionFailed, match=reason) as failure:
        parse_extraction(content, TURN, PARTICIPANTS)
    assert "Lisbon" not in str(failure.value) and "Oslo" not in str(failure.value)
