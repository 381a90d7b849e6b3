"""The lexical half of memory search: a small English tokenizer and an incremental BM25 index.

``tokenize`` is deliberately conservative: lowercase, split on anything that is not a letter or a
digit, drop possessives and apostrophes, drop a compact stopword list and one-character tokens,
then strip a few inflections (plural ``-s``/``-es``/``-ies``, ``-ing``, ``-ed``). It is fully
deterministic, so memory text and queries always meet in the same token space, and stemming errs
on the side of leaving a word alone.

``BM25Index`` is Okapi BM25 over an inverted index keyed by integer document id, updated one
document at a time. Collection statistics (document count, document frequencies, average length)
are those of the whole index; ``MemoryIndex`` keeps one per user, so they are the user's.
"""

from __future__ import annotations

import math
import re
from array import array
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

_WORD_RE = re.compile(r"[^\W_]+")
_POSSESSIVE_RE = re.compile(r"(?<=\w)'s\b")
_VOWEL_RUN_RE = re.compile(r"[aeiouy]+")

# fmt: off
STOPWORDS = frozenset([
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as",
    "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can",
    "could", "did", "do", "does", "doing", "done", "down", "during", "each", "else", "ever", "few",
    "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself",
    "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me",
    "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or",
    "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so", "some",
    "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these",
    "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we",
    "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would",
    "yet", "you", "your", "yours", "yourself", "yourselves", "also", "im", "ive", "id", "ill", "youre",
    "youve", "youll", "youd", "hes", "shes", "weve", "theyre", "theyve", "isnt", "arent",
    "wasnt", "werent", "dont", "doesnt", "didnt", "cant", "cannot", "couldnt", "wont", "wouldnt",
    "shouldnt", "hasnt", "havent", "hadnt", "lets", "thats", "whats", "theres", "heres", "oh", "ok",
    "okay", "yeah", "yes", "hey", "hi", "really", "something", "anything", "nothing", "everything",
])
# fmt: on
"""English function words plus the apostrophe-free forms of common contractions."""

_VOWELS = frozenset("aeiouy")
# "-es" is only stripped after these; "horses" and "prizes" lose just the "s"
_SIBILANT_ENDINGS = ("x", "ch", "sh", "zz")


def tokenize(text: str) -> list[str]:
    """Split ``text`` into normalised search terms.

    >>> tokenize("Caroline's sisters were baking pies in 2019!")
    ['caroline', 'sister', 'bake', 'pie', '2019']
    """
    text = text.lower().replace("\u2019", "'")
    text = _POSSESSIVE_RE.sub("", text).replace("'", "")
    tokens: list[str] = []
    for word in _WORD_RE.findall(text):
        if word in STOPWORDS:
            continue
        stem = _stem(word) if word.isalpha() else word
        if len(stem) > 1 and stem not in STOPWORDS:
            tokens.append(stem)
    return tokens


def _stem(word: str) -> str:
    """Strip one plural suffix, then one of ``-ing``/``-ed``; short words are left alone."""
    if len(word) > 4 and word.endswith(("ies", "ied")):
        word = word[:-3] + "y"
    elif word.endswith("sses") or (
        len(word) > 4 and word.endswith("es") and word[:-2].endswith(_SIBILANT_ENDINGS)
    ):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        stem = word[: -len(suffix)]
        if word.endswith(suffix) and not word.endswith("eed") and len(stem) >= 3 and _VOWELS & set(stem):
            return _repair(stem)
    return word


def _repair(stem: str) -> str:
    """Undo the spelling changes of ``-ing``/``-ed``: ``runn`` -> ``run``, ``bak`` -> ``bake``."""
    if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "aeiouylsz":
        return stem[:-1]
    # A short consonant-vowel-consonant stem ("bak", "hik", "lov") lost a silent e.
    first, vowel, last = stem[-3], stem[-2], stem[-1]
    single_syllable = len(_VOWEL_RUN_RE.findall(stem)) == 1
    if single_syllable and first not in _VOWELS and vowel in "aeiou" and last not in _VOWELS | {"w", "x"}:
        return stem + "e"
    return stem


class BM25Index:
    """Inverted index with Okapi BM25 (k1=1.2, b=0.75), incremental add/remove by integer id.

    Query terms count once however often they repeat; IDF is ``ln(1 + (N - df + 0.5) / (df + 0.5))``,
    which stays positive for terms present in most documents. Each posting list is one flat
    ``array('q')`` of ``(doc, tf, doc length)`` triples: a query scores whole lists with numpy
    instead of one Python step per posting, and a posting costs 24 bytes. Removing a document cuts
    it out of each of its terms' lists, linear in their length but in C.
    """

    def __init__(self, *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._postings: dict[str, array[int]] = {}
        self._docs: dict[int, tuple[tuple[str, ...], int]] = {}
        """doc -> (its distinct terms, its length)"""
        self._total_length = 0

    def add(self, doc_id: int, tokens: Sequence[str]) -> None:
        """Index ``tokens`` as document ``doc_id``, replacing any previous version of it."""
        self.remove(doc_id)
        counts = Counter(tokens)
        length = len(tokens)
        for term, tf in counts.items():
            self._postings.setdefault(term, array("q")).extend((doc_id, tf, length))
        self._docs[doc_id] = (tuple(sorted(counts)), length)
        self._total_length += length

    def remove(self, doc_id: int) -> None:
        """Forget document ``doc_id``; a no-op if it is not indexed."""
        entry = self._docs.pop(doc_id, None)
        if entry is None:
            return
        terms, length = entry
        for term in terms:
            records = self._postings[term]
            # the temporary numpy view must be gone before the array is resized
            at = int(np.flatnonzero(np.frombuffer(records, np.int64)[::3] == doc_id)[0])
            del records[3 * at : 3 * at + 3]
            if not records:
                del self._postings[term]
        self._total_length -= length

    def document_frequency(self, term: str) -> int:
        """How many documents contain ``term``."""
        records = self._postings.get(term)
        return len(records) // 3 if records else 0

    def score_arrays(self, query_tokens: Sequence[str]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Ids (ascending) and BM25 of every document sharing at least one term with the query."""
        terms = [term for term in sorted(set(query_tokens)) if term in self._postings]
        if not terms:
            return np.empty(0, np.int64), np.empty(0, np.float64)
        n_docs = len(self._docs)
        k1, b, avg_length = self.k1, self.b, self._total_length / n_docs or 1.0
        docs: list[NDArray[np.int64]] = []
        parts: list[NDArray[np.float64]] = []
        for term in terms:
            records = np.frombuffer(self._postings[term], np.int64).reshape(-1, 3)
            df = len(records)
            idf = math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
            tf = records[:, 1].astype(np.float64)
            parts.append(idf * tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * records[:, 2] / avg_length)))
            docs.append(records[:, 0])
        # Terms are concatenated in sorted order, so each document sums its terms in a fixed order.
        ids, inverse = np.unique(np.concatenate(docs), return_inverse=True)
        return ids, np.asarray(np.bincount(inverse, weights=np.concatenate(parts)), dtype=np.float64)

    def scores(self, query_tokens: Sequence[str], candidates: set[int] | None = None) -> dict[int, float]:
        """BM25 of every document sharing a term with the query; with ``candidates``, only those."""
        ids, values = self.score_arrays(query_tokens)
        if candidates is not None:
            keep = np.isin(ids, np.fromiter(candidates, np.int64, len(candidates)), kind="sort")
            ids, values = ids[keep], values[keep]
        return dict(zip(ids.tolist(), values.tolist(), strict=True))

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._docs

    def to_state(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot; ``from_state`` rebuilds an index that scores identically.

        ``docs`` lists every document id; ``postings`` maps each term to flat ``[doc, tf, doc, tf, ...]``.
        """
        postings = {
            term: np.frombuffer(self._postings[term], np.int64).reshape(-1, 3)[:, :2].ravel().tolist()
            for term in sorted(self._postings)
        }
        return {"format": 1, "k1": self.k1, "b": self.b, "docs": sorted(self._docs), "postings": postings}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> BM25Index:
        """Rebuild from ``to_state`` output; raises ``ValueError`` on anything malformed."""
        try:
            if state["format"] != 1:
                raise ValueError(f"unsupported BM25 state format {state['format']!r}")
            index = cls(k1=float(state["k1"]), b=float(state["b"]))
            docs = np.unique(np.asarray(state["docs"], np.int64))
            if len(docs) != len(state["docs"]):
                raise ValueError("repeated document ids")
            terms = [str(term) for term in state["postings"]]
            chunks = [np.asarray(flat, np.int64).reshape(-1, 2) for flat in state["postings"].values()]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed BM25 state: {exc!r}") from exc
        # Vectorised: one pass over all postings instead of one ``add`` per document.
        records = np.concatenate(chunks) if chunks else np.empty((0, 2), np.int64)
        slot = np.searchsorted(docs, records[:, 0])
        if len(records) and (slot.max() >= len(docs) or not np.array_equal(docs[slot], records[:, 0])):
            raise ValueError("malformed BM25 state: a posting names an unknown document")
        if not len(docs):
            return index
        lengths = np.bincount(slot, weights=records[:, 1], minlength=len(docs)).astype(np.int64)
        triples = np.column_stack([records, lengths[slot]])
        offsets = np.cumsum([len(chunk) for chunk in chunks])[:-1]
        for term, part in zip(terms, np.split(triples, offsets) if chunks else [], strict=True):
            index._postings[term] = array("q", part.tobytes())
        term_of = np.repeat(np.arange(len(terms)), [len(chunk) for chunk in chunks])
        by_doc = np.argsort(slot, kind="stable")
        names = np.array(terms, dtype=object)[term_of[by_doc]]
        groups = np.split(names, np.cumsum(np.bincount(slot, minlength=len(docs)))[:-1])
        index._docs = {
            doc_id: (tuple(sorted(group.tolist())), length)
            for doc_id, group, length in zip(docs.tolist(), groups, lengths.tolist(), strict=True)
        }
        index._total_length = int(lengths.sum())
        return index
