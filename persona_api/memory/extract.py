"""Deterministic, LLM-free extraction of egocentric memories from conversation turns.

Each turn becomes zero or more :class:`MemoryCandidate` objects written in the third person from the
owner's point of view ("Caroline said: Caroline went to a LGBTQ support group yesterday (7 May 2023) ..."),
tagged with whom they are about and when. The rules are plain English-conversation heuristics built on
``re``: split into sentences, drop greetings, fillers and questions, attribute each sentence to the
speaker or an addressee, rewrite pronouns into names and resolve relative dates. ``fact_key_for`` names
the slot of single-valued facts (residence, job, age...) so that a newer memory can supersede an older one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from persona_api.memory.dates import MONTHS, WEEKDAYS, format_day, resolve_relative_dates
from persona_api.memory.facts import fact_key_for

__all__ = [
    "Extractor",
    "MemoryCandidate",
    "RuleExtractor",
    "TurnInput",
    "split_sentences",
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


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# --- sentences -------------------------------------------------------------------------------------------

_EMOJI = "\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u200d"
_EMOJI_RE = re.compile(f"[{_EMOJI}]+")
_BOUNDARY_RE = re.compile(rf"(?:\.{{3,}}|…|[.!?]+|[{_EMOJI}]+)[\"')\]]*(?:\s*[{_EMOJI}]+)*(?=\s|$)")
_ABBREVIATIONS = _words(
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


# --- informativeness -------------------------------------------------------------------------------------

_STOPWORDS = _words(
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
_FILLERS = _words(
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
_DATE_WORDS = _words(
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


class _Scene:
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


def _content_stats(sentence: str, scene: _Scene, *, enough: int) -> tuple[int, bool]:
    """Content words of a sentence and whether it has a number, a date or a proper noun.

    Social phrases are removed first unless the sentence clearly has ``enough`` content words anyway.
    """
    count, anchored = _count_content(sentence, scene)
    if count < enough + _SOCIAL_MARGIN:
        count, anchored = _count_content(_SOCIAL_RE.sub(" ", sentence), scene)
    return count, anchored


def _count_content(text: str, scene: _Scene) -> tuple[int, bool]:
    count, anchored = 0, False
    for index, token in enumerate(_WORD_RE.findall(text)):
        bare = token.split("'", 1)[0]
        low = bare.lower()
        if len(low) < 2 or low in _NON_CONTENT or bare in scene.participant_forms:
            continue
        count += 1
        anchored = anchored or low in _DATE_WORDS or bare in _DATE_WORDS or (index > 0 and bare[0].isupper())
    return count, anchored or _DIGIT_RE.search(text) is not None


def _is_question(sentence: str) -> bool:
    return _EMOJI_RE.sub("", sentence).rstrip(" \"')!").endswith("?")  # "Paris?!" asks too


def _is_informative(sentence: str, scene: _Scene, min_content_words: int) -> bool:
    """Whether a sentence is worth remembering.

    It needs ``min_content_words`` content words (one fewer in the first person), or a number, date or
    proper noun plus two content words; a personal "be a/an ..." statement ("You'd be a great counselor",
    "I'm a nurse") always counts. Questions, greetings, closings and reactions never pass.
    """
    if _is_question(sentence):
        return False
    first_person = _FIRST_PERSON_RE.search(sentence) is not None
    if (first_person or _SECOND_PERSON_RE.search(sentence)) and _IDENTITY_RE.search(sentence):
        return True
    needed = max(min_content_words - 1 if first_person else min_content_words, 1)
    count, anchored = _content_stats(sentence, scene, enough=needed)
    return count >= needed or (anchored and count >= 2)


def _subject_of(sentence: str, scene: _Scene) -> str:
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


# --- third-person rewrite --------------------------------------------------------------------------------

_VERBS = _words(
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


def _rewrite(sentence: str, scene: _Scene) -> str:
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
    text = " ".join(_EMOJI_RE.sub(" ", text).split())
    return text[:1].upper() + text[1:]


# --- photos and answers ----------------------------------------------------------------------------------

_CAPTION_RE = re.compile(
    r"(?i)\[\s*shared\s+an?\s+(?:photo|image|picture|pic)\s*(?::\s*(?P<caption>[^\]]*))?\]"
)
_CAPTION_LEAD_RE = re.compile(
    r"(?i)^(?:an?\s+)?(?:photo(?:graph|graphy)?|picture|image|pic|snapshot)\s+of\s+"
)
_ANSWER_RE = re.compile(
    r"(?i)^\W*(?:yes|yeah|yep|yup|no|nope|sure|definitely|absolutely|of course|not really)\b"
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
            questions = [s for s in split_sentences(_CAPTION_RE.sub(" ", text)) if _is_question(s)]
            return (speaker, questions[-1], ids[position] if ids else None) if questions else None
    return None


def _answer_sentences(sentences: list[str], scene: _Scene) -> list[str]:
    """Statements that can answer a question: a yes/no, a number, date or name, two content words, or
    one content word in the first person. Bare reactions ("That bowl is awesome!") are not answers."""
    kept = []
    for sentence in sentences:
        if _is_question(sentence):
            continue
        count, anchored = _content_stats(sentence, scene, enough=2)
        personal = count >= 1 and _FIRST_PERSON_RE.search(sentence) is not None
        if count >= 2 or anchored or personal or _ANSWER_RE.match(sentence):
            kept.append(sentence)
    return kept


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
        scene = _Scene(turn.speaker, turn.addressees)
        captions = [m["caption"] for m in _CAPTION_RE.finditer(turn.text)]
        sentences = split_sentences(_CAPTION_RE.sub(" ", turn.text))
        by_subject: dict[str, list[str]] = {}
        for sentence in sentences:
            if _is_informative(sentence, scene, self._min_content_words):
                by_subject.setdefault(_subject_of(sentence, scene), []).append(_rewrite(sentence, scene))
        for caption in captions:
            by_subject.setdefault(turn.speaker, []).append(_photo_sentence(turn.speaker, caption))
        when = f" (on {format_day(turn.at.date())})"
        asked = _last_question(turn)
        quoted = None
        if asked is not None:
            # A reply means little without its question ("Yes, in Paris!"): the memory quotes the
            # question and so names both turns as its sources.
            asker, question, asked_id = asked
            question = resolve_relative_dates(_rewrite(question, _Scene(asker, (turn.speaker,))), turn.at)
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
        answer = _answer_sentences(sentences, scene) if quoted else []
        if quoted is None or not answer:
            return []
        subject = _subject_of(" ".join(answer), scene)
        reply = " ".join(_rewrite(s, scene) for s in answer)
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
