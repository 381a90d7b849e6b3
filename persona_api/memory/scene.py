"""The scene of a turn: who speaks, to whom, and which of its sentences are worth remembering.

:class:`Scene` holds the speaker, the addressees and the name forms by which chat partners mention each
other ("Mel" for "Melanie"). ``is_informative`` keeps sentences with enough content words and drops
questions, greetings, closings and reactions; ``answer_sentences`` keeps the statements of a reply that can
answer a question; ``subject_of`` says whom a sentence is about: the speaker or one of the addressees.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from persona_api.memory.dates import MONTHS, WEEKDAYS
from persona_api.memory.sentences import is_question, word_set

__all__ = ["Scene", "answer_sentences", "is_informative", "subject_of"]


_STOPWORDS = word_set(
    """a about above after again against all almost also although always am an and any anyone anything are
    around as at away back be because been before being below between both but by can could did do does
    doing don doesn didn isn aren wasn weren couldn wouldn shouldn haven hasn hadn won ain down during each
    either else even ever every everyone everything few for from further get gets getting gonna gotta had
    has have having he her here hers herself him himself his how however if in into is it its itself just
    kinda let like lot lots made make many may maybe me might mine more most much must my myself need never
    no nor not now of off often oh on once one only or other others our ours ourselves out over own pretty
    quite rather really same see seems she should since so some someone something sometimes somewhat sorta
    still stuff such sure than that the their theirs them themselves then there these they thing things
    this those though through to too totally u um until up upon us very via wanna was way we well were what
    whatever when where whether which while who whom whose why will with within without would ya yeah yes
    yet you your yours yourself yourselves em"""
)
_FILLERS = word_set(
    """wow cool awesome amazing great nice sweet lovely wonderful fantastic incredible fab super haha hahaha
    lol omg yep yup nope ok okay hey hi hello bye thanks thank thx sounds good glad love agree true exactly
    absolutely definitely indeed right aw aww awww ah ooh hmm hm yay woohoo congrats congratulations
    welcome luck happy"""
)
_NON_CONTENT = _STOPWORDS | _FILLERS
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'-]*")
_SOCIAL_RE = re.compile(
    r"(?i)\b(?:take care(?: of yourself)?|talk (?:to you )?(?:soon|later|tomorrow)"
    r"|see (?:you|ya)(?: soon| later| around| tomorrow)?|catch you later"
    r"|(?:good|great|nice) (?:to (?:see|hear from|chat with|talk to|meet)|chatting with|talking to) you"
    r"|have an? (?:good|great|nice|lovely|wonderful|fun) (?:day|night|evening|weekend|one|time)"
    r"|good luck|long time no (?:see|talk)"
    r"|how(?:'s| is| are| have) (?:it going|you been|things|you|everything)"
    r"|what's up|(?:good)?bye(?:-bye)?|good (?:morning|night|evening|afternoon)|thank you(?: so much)?"
    r"|no (?:problem|worries)|you're welcome|my pleasure|by the way|keep it up|you got this|me too|same here"
    r"|(?:take a )?look at (?:this|that|these)|take a look|check (?:it|this|that) out"
    r"|here(?:'s| is) (?:a |the )?(?:pic|photo|picture|snap)(?: of it)?)\b"
)
# Social phrases hold at most a few content words ("take care", "talk soon"): only short sentences
# need the (comparatively slow) phrase removal before counting.
_SOCIAL_MARGIN = 3
_DATE_WORDS = word_set(
    "yesterday today tonight tomorrow weekend ago week month year " + " ".join(WEEKDAYS)
) | frozenset(MONTHS)
_DIGIT_RE = re.compile(r"\d")
_FIRST_PERSON_RE = re.compile(
    r"(?<![\w'])(?:[Ii]|(?i:me|my|mine|myself|we|our|ours|ourselves)|us|Us)(?:'\w+)?(?![\w'])"
)
_SECOND_PERSON_RE = re.compile(r"(?<![\w'])(?i:you|your|yours|yourself|yourselves|y'all)(?:'\w+)?(?![\w'])")
_IDENTITY_RE = re.compile(
    r"(?i)(?:\b(?:am|be|is|are|was|were|became|become|becoming)|'m|'re)\s+(?:a|an)\s+[a-z-]+"
)
_ANSWER_RE = re.compile(
    r"(?i)^\W*(?:yes|yeah|yep|yup|no|nope|sure|definitely|absolutely|of course|not really)\b"
)


class Scene:
    """Who talks to whom in a turn, with the name forms used to recognise mentions.

    A name is recognised by its first word or by a capitalised prefix of at least 3 letters ("Mel" for
    "Melanie"), since chat partners shorten each other's names.
    """

    __slots__ = ("_forms", "addressees", "participant_forms", "speaker")

    def __init__(self, speaker: str, addressees: Sequence[str]) -> None:
        self.speaker = speaker
        self.addressees = tuple(a for a in addressees if a != speaker)
        self._forms = {name: _name_forms(name) for name in (speaker, *self.addressees)}
        self.participant_forms = frozenset().union(*self._forms.values())

    def mentioned(self, sentence: str, name: str) -> bool:
        forms = self._forms[name]
        return any(token.split("'", 1)[0] in forms for token in _WORD_RE.findall(sentence))


@functools.lru_cache(maxsize=1024)
def _name_forms(name: str) -> frozenset[str]:
    words = name.split()
    if not words:
        return frozenset()
    first = words[0]
    prefixes = {first[:end] for end in range(3, len(first) + 1)}
    return frozenset(p for p in prefixes if p.lower() not in _NON_CONTENT) | {first, words[-1]}


def _content_stats(sentence: str, scene: Scene, *, enough: int) -> tuple[int, bool]:
    """Content words of a sentence and whether it has a number, a date or a proper noun.

    Social phrases are removed first unless the sentence clearly has ``enough`` content words anyway.
    """
    count, anchored = _count_content(sentence, scene)
    if count < enough + _SOCIAL_MARGIN:
        count, anchored = _count_content(_SOCIAL_RE.sub(" ", sentence), scene)
    return count, anchored


def _count_content(text: str, scene: Scene) -> tuple[int, bool]:
    count, anchored = 0, False
    for index, token in enumerate(_WORD_RE.findall(text)):
        bare = token.split("'", 1)[0]
        low = bare.lower()
        if len(low) < 2 or low in _NON_CONTENT or bare in scene.participant_forms:
            continue
        count += 1
        anchored = anchored or low in _DATE_WORDS or bare in _DATE_WORDS or (index > 0 and bare[0].isupper())
    return count, anchored or _DIGIT_RE.search(text) is not None


def is_informative(sentence: str, scene: Scene, min_content_words: int) -> bool:
    """Whether a sentence is worth remembering.

    It needs ``min_content_words`` content words (one fewer in the first person), or a number, date or
    proper noun plus two content words; a personal "be a/an ..." statement ("You'd be a great counselor",
    "I'm a nurse") always counts. Questions, greetings, closings and reactions never pass.
    """
    if is_question(sentence):
        return False
    first_person = _FIRST_PERSON_RE.search(sentence) is not None
    if (first_person or _SECOND_PERSON_RE.search(sentence)) and _IDENTITY_RE.search(sentence):
        return True
    needed = max(min_content_words - 1 if first_person else min_content_words, 1)
    count, anchored = _content_stats(sentence, scene, enough=needed)
    return count >= needed or (anchored and count >= 2)


def subject_of(sentence: str, scene: Scene) -> str:
    """First person -> speaker; "you" with one addressee -> that addressee; a named addressee -> them."""
    if _FIRST_PERSON_RE.search(sentence):
        return scene.speaker
    if len(scene.addressees) == 1 and _SECOND_PERSON_RE.search(sentence):
        return scene.addressees[0]
    if not scene.mentioned(sentence, scene.speaker):
        for name in scene.addressees:
            if scene.mentioned(sentence, name):
                return name
    return scene.speaker


def answer_sentences(sentences: list[str], scene: Scene) -> list[str]:
    """Statements that can answer a question: a yes/no, a number, date or name, two content words, or
    one content word in the first person. Bare reactions ("That bowl is awesome!") are not answers."""
    kept = []
    for sentence in sentences:
        if is_question(sentence):
            continue
        count, anchored = _content_stats(sentence, scene, enough=2)
        personal = count >= 1 and _FIRST_PERSON_RE.search(sentence) is not None
        if count >= 2 or anchored or personal or _ANSWER_RE.match(sentence):
            kept.append(sentence)
    return kept
