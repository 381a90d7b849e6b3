"""Deterministic, LLM-free extraction of egocentric memories from conversation turns.

Each turn becomes zero or more :class:`MemoryCandidate` objects written in the third person from the
owner's point of view ("Caroline said: Caroline went to a LGBTQ support group yesterday (7 May 2023) ..."),
tagged with whom they are about and when. The rules are plain English-conversation heuristics built on
``re``: split into sentences, drop greetings, fillers and questions, attribute each sentence to the
speaker or an addressee, rewrite pronouns into names and resolve relative dates. ``fact_key_for`` names
the slot of single-valued facts (residence, job, age...) so that a newer memory can supersede an older one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from persona_api.memory.dates import format_day, resolve_relative_dates
from persona_api.memory.facts import fact_key_for
from persona_api.memory.rewrite import rewrite
from persona_api.memory.scene import Scene, answer_sentences, is_informative, subject_of
from persona_api.memory.sentences import is_question, split_sentences

__all__ = [
    "Extractor",
    "MemoryCandidate",
    "RuleExtractor",
    "TurnInput",
]


@dataclass(frozen=True)
class TurnInput:
    """One conversation turn as the extractor sees it."""

    turn_id: str
    speaker: str
    text: str
    at: datetime
    addressees: tuple[str, ...]
    previous: tuple[tuple[str, str], ...] = ()
    previous_ids: tuple[str, ...] = ()
    """Turn ids of ``previous``, same order; a memory that quotes a question names its turn too."""


@dataclass(frozen=True)
class MemoryCandidate:
    """A self-contained third-person memory about ``subject``, observed at ``observed_at``."""

    text: str
    subject: str
    source_turn_ids: tuple[str, ...]
    observed_at: datetime
    fact_key: str | None


class Extractor(Protocol):
    """Turns conversation turns into memory candidates (rule-based here; an LLM extractor may follow)."""

    def extract(self, turns: Sequence[TurnInput]) -> list[MemoryCandidate]: ...


# --- photos and questions ---------------------------------------------------------------------------------

_CAPTION_RE = re.compile(
    r"(?i)\[\s*shared\s+an?\s+(?:photo|image|picture|pic)\s*(?::\s*(?P<caption>[^\]]*))?\]"
)
_CAPTION_LEAD_RE = re.compile(
    r"(?i)^(?:an?\s+)?(?:photo(?:graph|graphy)?|picture|image|pic|snapshot)\s+of\s+"
)


def _photo_sentence(speaker: str, caption: str | None) -> str:
    """``[shared a photo: a photo of a lake]`` -> "Melanie shared a photo of a lake."."""
    described = _CAPTION_LEAD_RE.sub("", (caption or "").strip()).rstrip(" .")
    return f"{speaker} shared a photo of {described}." if described else f"{speaker} shared a photo."


def _last_question(turn: TurnInput) -> tuple[str, str, str | None] | None:
    """The last question of the latest earlier turn by someone else, as (asker, question, turn id)."""
    ids: list[str | None] = [*turn.previous_ids] if len(turn.previous_ids) == len(turn.previous) else []
    for position in range(len(turn.previous) - 1, -1, -1):
        speaker, text = turn.previous[position]
        if speaker != turn.speaker:
            questions = [s for s in split_sentences(_CAPTION_RE.sub(" ", text)) if is_question(s)]
            return (speaker, questions[-1], ids[position] if ids else None) if questions else None
    return None


# --- the extractor ---------------------------------------------------------------------------------------


class RuleExtractor:
    """Rule-based :class:`Extractor`: one candidate per turn and subject, in turn order."""

    def __init__(self, *, min_content_words: int = 3, quote_questions: bool = True) -> None:
        self._min_content_words = min_content_words
        self._quote_questions = quote_questions

    def extract(self, turns: Sequence[TurnInput]) -> list[MemoryCandidate]:
        """Candidates for ``turns``; deterministic (same input, same output)."""
        candidates: list[MemoryCandidate] = []
        for turn in turns:
            candidates.extend(self._extract_turn(turn))
        return candidates

    def _extract_turn(self, turn: TurnInput) -> list[MemoryCandidate]:
        scene = Scene(turn.speaker, turn.addressees)
        captions = [m["caption"] for m in _CAPTION_RE.finditer(turn.text)]
        sentences = split_sentences(_CAPTION_RE.sub(" ", turn.text))
        by_subject: dict[str, list[str]] = {}
        for sentence in sentences:
            if is_informative(sentence, scene, self._min_content_words):
                by_subject.setdefault(subject_of(sentence, scene), []).append(rewrite(sentence, scene))
        for caption in captions:
            by_subject.setdefault(turn.speaker, []).append(_photo_sentence(turn.speaker, caption))
        when = f" (on {format_day(turn.at.date())})"
        asked = _last_question(turn)
        quoted = None
        if asked is not None:
            # A reply means little without its question ("Yes, in Paris!"): the memory quotes the
            # question and so names both turns as its sources.
            asker, question, asked_id = asked
            question = resolve_relative_dates(rewrite(question, Scene(asker, (turn.speaker,))), turn.at)
            quoted = (
                f"{turn.speaker} said, when {asker} asked '{question}': ",
                (asked_id, turn.turn_id) if asked_id else (turn.turn_id,),
            )
        if by_subject:
            lead, sources = (
                quoted if quoted and self._quote_questions else (f"{turn.speaker} said: ", (turn.turn_id,))
            )
            return [
                self._candidate(turn, subject, lead, " ".join(parts), when, sources)
                for subject, parts in by_subject.items()
            ]
        answer = answer_sentences(sentences, scene) if quoted else []
        if quoted is None or not answer:
            return []
        subject = subject_of(" ".join(answer), scene)
        reply = " ".join(rewrite(s, scene) for s in answer)
        return [self._candidate(turn, subject, quoted[0], reply, when, quoted[1])]

    @staticmethod
    def _candidate(
        turn: TurnInput,
        subject: str,
        lead: str,
        body: str,
        when: str,
        sources: tuple[str, ...],
    ) -> MemoryCandidate:
        """The memory ``lead + body + when``; its fact key comes from ``body`` only, never a question."""
        body = resolve_relative_dates(body, turn.at)
        return MemoryCandidate(
            text=f"{lead}{body}{when}",
            subject=subject,
            source_turn_ids=sources,
            observed_at=turn.at,
            fact_key=fact_key_for(subject, body),
        )
