"""LLM-based extraction of egocentric memories from one conversation turn.

The model is asked for one JSON object of a fixed schema (:class:`Extraction`): a list of memories,
each with a self-contained third-person ``text``, whom it is ``about`` (the user's or a partner's
name) and a ``kind``. The answer is validated with msgspec; anything else (not JSON, a wrong shape,
an unknown subject) raises :class:`ExtractionFailed`, whose message never quotes the model's output
(it may hold conversation text). Upstream failures propagate as the client's domain errors.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

import msgspec

from persona_api.llm.client import LLMClient, Message
from persona_api.memory.extract import MemoryCandidate, TurnInput
from persona_api.memory.facts import fact_key_for

Kind = Literal["fact", "preference", "event", "plan", "relationship", "opinion"]
KINDS: tuple[str, ...] = ("fact", "preference", "event", "plan", "relationship", "opinion")
MAX_MEMORIES = 10
"""More memories than this from one turn is treated as a runaway answer."""


class ExtractedMemory(msgspec.Struct, forbid_unknown_fields=False):
    text: Annotated[str, msgspec.Meta(min_length=3, max_length=600)]
    about: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    kind: Kind


class Extraction(msgspec.Struct, forbid_unknown_fields=False):
    """The schema the model must answer with."""

    memories: Annotated[list[ExtractedMemory], msgspec.Meta(max_length=MAX_MEMORIES)]


class ExtractionFailed(Exception):
    """The model answered, but not with a valid :class:`Extraction` (the reason holds no user text)."""


_DECODER = msgspec.json.Decoder(Extraction)

INSTRUCTIONS = f"""You extract long-term memories from one turn of a conversation, for the user's \
assistant. Keep only durable, informative statements (facts about people, preferences, events with \
their dates, plans, relationships, opinions); skip greetings, reactions, questions and small talk. \
Write each memory as one self-contained sentence in the third person, naming people by name \
(never "I", "you", "he", "she"), and turn relative dates into absolute ones using the turn's date.
Answer with one JSON object and nothing else, of this exact shape:
{{"memories": [{{"text": "...", "about": "<name>", "kind": "<kind>"}}]}}
"about" is the name of the participant the memory is about; "kind" is one of: {", ".join(KINDS)}.
Answer {{"memories": []}} when the turn holds nothing worth remembering."""


def _prompt(turn: TurnInput, participants: tuple[str, ...]) -> list[Message]:
    context = [{"speaker": who, "text": text} for who, text in turn.previous]
    payload = {
        "participants": list(participants),
        "date": turn.at.date().isoformat(),
        "previous_turns": context,
        "turn": {"speaker": turn.speaker, "text": turn.text},
    }
    return [
        {"role": "system", "content": INSTRUCTIONS},
        {"role": "user", "content": json.dumps(payload, ensure_ascii=False)},
    ]


def _json_object(content: str) -> bytes:
    """The answer without Markdown fences that some models wrap around JSON."""
    text = content.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    return text.encode()


def parse_extraction(content: str, turn: TurnInput, participants: tuple[str, ...]) -> list[MemoryCandidate]:
    """Validate a model answer and turn it into candidates (raises :class:`ExtractionFailed`)."""
    try:
        answer = _DECODER.decode(_json_object(content))
    except msgspec.ValidationError as exc:
        raise ExtractionFailed(f"the answer does not match the schema ({exc})") from None
    except msgspec.DecodeError:
        raise ExtractionFailed("the answer is not a JSON object") from None
    by_name = {name.casefold(): name for name in participants}
    by_name.setdefault("user", participants[0])  # models often call the owner "user"
    out: list[MemoryCandidate] = []
    for i, item in enumerate(answer.memories):
        subject = by_name.get(" ".join(item.about.split()).casefold())
        if subject is None:
            raise ExtractionFailed(f"memories[{i}].about is not a participant of the conversation")
        text = " ".join(item.text.split())
        out.append(
            MemoryCandidate(
                text=text,
                subject=subject,
                source_turn_ids=(turn.turn_id,),
                observed_at=turn.at,
                fact_key=fact_key_for(subject, text),
            )
        )
    return out


class LLMExtractor:
    """Asks an OpenAI-compatible model for the memories of one turn."""

    name = "llm"

    def __init__(self, llm: LLMClient, *, max_tokens: int = 600) -> None:
        self.llm = llm
        self.max_tokens = max_tokens

    async def extract(self, turn: TurnInput, participants: tuple[str, ...]) -> list[MemoryCandidate]:
        """Candidates of ``turn``; ``participants`` lists the owner first, then the partners."""
        completion = await self.llm.complete(
            _prompt(turn, participants),
            temperature=0,
            max_tokens=self.max_tokens,
            response_format={"type": "json_object"},
        )
        return parse_extraction(completion.content, turn, participants)
