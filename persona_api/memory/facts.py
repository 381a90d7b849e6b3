"""Fact keys: the slot of a single-valued fact that a memory asserts about its subject.

``fact_key_for`` recognises residence, job, age, relationship status, favourites, name and pet names with
``re`` patterns that read first-person text ("I live in Paris") as well as rewritten third-person text
("Caroline lives in Paris"), and names the slot (``"caroline|lives_in"``) so that a newer memory can
supersede an older one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["fact_key_for"]


_WHO = r"(?P<who>\bI\b|\b[Ww]e\b|\b[A-Z][\w-]*(?:\s+and\s+others)?)"
_AUX = r"(?:'m|'ve|\s+(?:am|is|are|was|has|have|just|recently|finally|now|currently|also|still|got|been))*"
_BE = r"(?:'m|\s+(?:am|is|just|now|recently|finally))*"
_OWNER = r"(?P<who>\b[Mm]y|\b[A-Z][\w-]*'s)\s+"
_PETS = r"dog|cat|puppy|kitten|pup|bird|parrot|rabbit|bunny|hamster|fish|horse|turtle|snake|lizard"


@dataclass(frozen=True)
class _Slot:
    """A single-valued fact: its key suffix, cheap keywords that must occur, and the pattern."""

    name: str
    keywords: tuple[str, ...]
    pattern: re.Pattern[str]


_SLOTS = (
    _Slot(
        "lives_in",
        ("live", "living", "moved", "moving", "relocat", "based"),
        re.compile(_WHO + _AUX + r"\s+(?:lives?|living|moved|moving|relocated|based)\s+(?:in|to)\b"),
    ),
    _Slot(
        "job",
        ("work", "job", "employ", "position"),
        re.compile(
            _WHO + _AUX + r"\s+(?:(?:works?|working)\s+(?:at|for|as)\b|employed\s+(?:at|by)\b"
            r"|(?:got|landed|found|started|starting|accepted|took|lost|quit|left)"
            r"\s+(?:(?:a|an|the|new|my|his|her|their|[A-Z][\w-]*'s)\s+)*(?:job|position)\b)"
        ),
    ),
    _Slot(
        "job",
        ("job", "occupation", "profession"),
        re.compile(_OWNER + r"(?:new\s+|current\s+)?(?:job|occupation|profession)\s+is\b"),
    ),
    _Slot(
        "age",
        ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"),
        re.compile(
            _WHO + _BE + r"\s+(?:turned\s+|turning\s+)?(?P<age>\d{1,3})"
            r"(?:\s+(?:years?|yrs?)(?:\s+old)?\b|(?=\s*(?:[.,!;)]|$|\s+(?:and|now|today|this)\b)))"
        ),
    ),
    _Slot(
        "relationship",
        ("single", "married", "engaged", "divorc", "widow", "separated", "dating", "relationship"),
        re.compile(
            _WHO + _AUX + r"\s+(?:single|married|engaged|divorced|widowed|separated|dating"
            r"|in\s+a\s+relationship)(?![\w-])"
        ),
    ),
    _Slot(
        "favorite",
        ("favorite", "favourite"),
        re.compile(
            _OWNER + r"(?:all-time\s+)?favou?rite\s+(?P<noun>[A-Za-z-]+(?:\s+[A-Za-z-]+)?)"
            r"\s+(?:is|are|was|has\s+to\s+be)\b"
        ),
    ),
    _Slot("name", ("name",), re.compile(_OWNER + r"(?:full\s+|real\s+)?name\s+is\b")),
    _Slot(
        "pet_name",
        ("name", "called"),
        re.compile(_OWNER + rf"(?:new\s+)?(?P<pet>{_PETS})(?:'s\s+name\s+is|\s+is\s+(?:named|called))\b"),
    ),
)


def _slot_key(slot: str, match: re.Match[str]) -> str:
    if slot == "favorite":
        return "favorite_" + "_".join(match["noun"].lower().replace("-", "_").split())
    if slot == "pet_name":
        return "pet_name_" + match["pet"].lower()
    return slot


def fact_key_for(subject: str, text: str) -> str | None:
    """The single-valued slot ``text`` asserts about ``subject`` (``"caroline|lives_in"``), or None.

    Slots: ``lives_in``, ``job``, ``age``, ``relationship``, ``favorite_<noun>``, ``name`` and
    ``pet_name_<animal>``. Works on first-person text ("I live in Paris") and on rewritten text
    ("Caroline lives in Paris"); statements about anyone else ("my mom lives in Oslo") give None.
    When several slots match, the earliest in the text wins.
    """
    owner = " ".join(subject.split()).lower()
    selves = {"i", "we", "my", owner, owner.split(" ", 1)[0]}
    low = text.lower()
    best: tuple[int, str] | None = None
    for slot in _SLOTS:
        if not any(word in low for word in slot.keywords):
            continue
        for match in slot.pattern.finditer(text):
            who = match["who"].removesuffix("'s").removesuffix(" and others").lower()
            if who in selves:
                if best is None or match.start() < best[0]:
                    best = (match.start(), _slot_key(slot.name, match))
                break
    return None if best is None else f"{owner}|{best[1]}"
