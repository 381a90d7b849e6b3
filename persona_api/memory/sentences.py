"""Sentences of chat text: where they end and which of them ask.

``split_sentences`` cuts on ``.``, ``!``, ``?``, ellipses and emoji while keeping abbreviations ("Dr.",
"e.g.") whole; ``is_question`` tells a question even when emoji or "!" close it. ``word_set`` builds the
word lists of the extraction rules, and ``EMOJI_RE`` finds the emoji they strip.
"""

from __future__ import annotations

import re

__all__ = ["EMOJI_RE", "is_question", "split_sentences", "word_set"]


def word_set(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``."""
    return frozenset(text.split())


_EMOJI = "\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u200d"
EMOJI_RE = re.compile(f"[{_EMOJI}]+")
_BOUNDARY_RE = re.compile(rf"(?:\.{{3,}}|…|[.!?]+|[{_EMOJI}]+)[\"')\]]*(?:\s*[{_EMOJI}]+)*(?=\s|$)")
_ABBREVIATIONS = word_set(
    "mr mrs ms dr prof st jr sr vs etc e.g i.e a.m p.m u.s no approx dept inc ltd co mt ft"
)


def _accept_boundary(text: str, start: int, end: int) -> bool:
    """Whether the punctuation at ``text[start:end]`` ends a sentence."""
    mark = text[start]
    rest = text[end:].lstrip()
    nxt = rest[0] if rest else ""
    if mark in "!?":
        return True
    if mark == "." and text[start : start + 3] != "...":
        word = text[:start].rsplit(None, 1)[-1].lower() if text[:start].strip() else ""
        if word.lstrip("(\"'") in _ABBREVIATIONS or len(word) == 1:
            return False
        return not nxt.islower()
    # "...", "…" and emoji end a sentence only when a new one visibly starts.
    return not nxt or nxt.isupper() or nxt.isdigit() or nxt in "\"'"


def split_sentences(text: str) -> list[str]:
    """Split chat text on ``.``, ``!``, ``?``, ellipses and emoji, keeping abbreviations whole.

    Trailing emoji stay with the sentence they close; empty pieces are dropped.
    """
    sentences: list[str] = []
    begin = 0
    for match in _BOUNDARY_RE.finditer(text):
        if _accept_boundary(text, match.start(), match.end()):
            piece = text[begin : match.end()].strip()
            if piece:
                sentences.append(piece)
            begin = match.end()
    tail = text[begin:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def is_question(sentence: str) -> bool:
    """Whether ``sentence`` asks: it ends in "?" once emoji, closing quotes and "!" are set aside."""
    return EMOJI_RE.sub("", sentence).rstrip(" \"')!").endswith("?")  # "Paris?!" asks too
