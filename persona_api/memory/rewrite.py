"""Third-person rewriting: a chat sentence retold from the point of view of the memory's owner.

``rewrite`` puts the speaker's name for the first person and the single addressee's for "you",
conjugating the common verbs that follow (Caroline to Melanie: "I love" -> "Caroline loves",
"do you like" -> "does Melanie like"), and drops leading interjections, vocatives and emoji; the wording
is otherwise kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from persona_api.memory.scene import Scene
from persona_api.memory.sentences import EMOJI_RE, word_set

__all__ = ["rewrite"]


_VERBS = word_set(
    """love like want need think feel know hope enjoy work live play plan miss wish prefer find believe mean
    try go do have make take get keep teach study volunteer paint write run cook bake collect own use
    remember appreciate agree understand guess spend care look seem dream struggle practice attend visit
    watch listen hate adore admire cherish wonder recommend support consider relate stay learn draw dance
    sing swim hike travel train value"""
)
_ADVERB = (
    r"(?:(?P<adv>always|usually|often|really|still|also|just|sometimes|never|totally|definitely|actually"
    r"|truly|absolutely)\s+)?"
)
_FIRST_RE = re.compile(
    r"(?<![\w'])(?:(?P<be>[Ii]'m|I\s+am)\b|(?P<have>[Ii]'ve|I\s+have)\b"
    r"|(?P<had>[Ii]'d)(?=\s+(?:been|had|gone|done|never|already|just|seen|made|become)\b)"
    r"|(?P<would>[Ii]'d)|(?P<will>[Ii]'ll)|(?P<dont>I\s+don't|I\s+do\s+not)\b"
    rf"|(?P<iverb>[Ii])\s+{_ADVERB}(?P<verb>[a-z]+)\b|(?P<i>I)(?![\w'])"
    r"|(?P<me>(?i:me|myself))\b|(?P<my>(?i:my|mine))\b|(?P<we>(?i:we))(?:'(?P<wec>re|ve|ll|d))?(?![\w'])"
    r"|(?P<us>us|Us|(?i:ourselves))\b|(?P<our>(?i:our|ours))\b)"
)
_SECOND_RE = re.compile(
    r"(?<![\w'])(?i:(?P<inv>are|were|have|do)\s+you\b|(?P<be>you're|you\s+are)\b|(?P<was>you\s+were)\b"
    r"|(?P<have>you've|you\s+have)\b|(?P<would>you'd)|(?P<will>you'll)|(?P<dont>you\s+don't)"
    rf"|(?P<youverb>you)\s+{_ADVERB}(?P<verb>[a-z]+)\b|(?P<self>yourself|yourselves|y'all)"
    r"|(?P<your>your|yours)\b|(?P<you>you)\b)"
)
_INVERTED = {"are": "is", "were": "was", "have": "has", "do": "does"}
# After these the verb stays in the base form: "did you go", "let me try", "help you find".
_BASE_FORM_BEFORE_RE = re.compile(
    r"(?i)\b(?:did|do|does|can|could|will|would|should|shall|might|must|may|to|let|help|make|made|see|saw)\s+$"
)
_IRREGULAR = {"have": "has", "do": "does", "go": "goes"}
_SIMPLE = {"be": "{} is", "have": "{} has", "had": "{} had", "would": "{} would", "will": "{} will",
           "dont": "{} doesn't", "was": "{} was", "i": "{}", "me": "{}", "you": "{}", "self": "{}",
           "my": "{}'s", "our": "{}'s", "your": "{}'s", "us": "{} and others"}  # fmt: skip
_WE_FORMS = {"": "", "re": " are", "ve": " have", "ll": " will", "d": " would"}
_INTERJECTION_RE = re.compile(
    r"(?i)^(?:(?:wow|oh|ah|hey|hi|hello|haha|lol|well|ok|okay|omg|aw+|thanks|totally)[,!.]*\s+)+"
)
_LEAD_VOCATIVE_RE = re.compile(r"^(?P<name>[A-Z][\w-]*)[,!]\s+")
_TAIL_VOCATIVE_RE = re.compile(r",\s+(?P<name>[A-Z][\w-]*)(?P<end>\W*)$")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'"})


def _third_person(verb: str) -> str:
    if verb in _IRREGULAR:
        return _IRREGULAR[verb]
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        return verb[:-1] + "ies"
    if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    return verb + "s"


def _replacer(name: str) -> Callable[[re.Match[str]], str]:
    """A ``re.sub`` callback turning the matched pronoun form into ``name`` with a matching verb."""

    def replace(match: re.Match[str]) -> str:
        kind = match.lastgroup or "i"
        if kind == "verb":  # "I love" / "you really like": conjugate the known verbs
            adverb = f"{match['adv']} " if match["adv"] else ""
            verb = match["verb"]
            if verb in _VERBS and not _BASE_FORM_BEFORE_RE.search(match.string, 0, match.start()):
                verb = _third_person(verb)
            return f"{name} {adverb}{verb}"
        if kind == "inv":  # "do you like" -> "does Caroline like"
            aux = _INVERTED[match["inv"].lower()]
            return f"{aux.capitalize() if match['inv'][0].isupper() else aux} {name}"
        if kind in ("we", "wec"):
            return f"{name} and others{_WE_FORMS[(match['wec'] or '').lower()]}"
        return _SIMPLE[kind].format(name)

    return replace


def rewrite(sentence: str, scene: Scene) -> str:
    """Third-person form: first person -> speaker, "you" -> the single addressee; wording otherwise kept.

    Leading interjections ("Wow,") and vocatives ("Mel,", ", Caroline!") are dropped.
    """
    text = _INTERJECTION_RE.sub("", sentence.translate(_APOSTROPHES))
    lead = _LEAD_VOCATIVE_RE.match(text)
    if lead and lead["name"] in scene.participant_forms:
        text = text[lead.end() :]
    tail = _TAIL_VOCATIVE_RE.search(text)
    if tail and tail["name"] in scene.participant_forms:
        text = text[: tail.start()] + tail["end"]
    text = _FIRST_RE.sub(_replacer(scene.speaker), text)
    if len(scene.addressees) == 1:
        text = _SECOND_RE.sub(_replacer(scene.addressees[0]), text)
    text = " ".join(EMOJI_RE.sub(" ", text).split())
    return text[:1].upper() + text[1:]
