"""Ingredient names as people type them, reduced to one key per ingredient.

``"Black Peppers"``, ``"black_pepper"`` and ``" black-pepper "`` are all the key ``black pepper``:
lower case, words separated by single spaces, and the last word in the singular (simple English
plurals only: ``tomatoes``, ``berries``, ``peaches``, ``onions``). Words ending in ``ss``, ``us`` or
``is`` are left alone (``asparagus``, ``swiss``). Stored names and queries go through the same
function, so a rule that is wrong for some word is still consistent.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

_SEPARATORS = re.compile(r"[\s_\-]+")
_KEEP_ENDINGS = ("ss", "us", "is", "ous")


def singular(word: str) -> str:
    """The singular of a simple English plural; other words unchanged."""
    if len(word) <= 3 or word.endswith(_KEEP_ENDINGS):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("oes", "ches", "shes", "xes", "sses", "zes")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def ingredient_key(name: str) -> str:
    """The lookup key of an ingredient name; empty if the name has no letters or digits."""
    words = [w for w in _SEPARATORS.split(name.strip().lower()) if w]
    if not words:
        return ""
    words[-1] = singular(words[-1])
    return " ".join(words)


def suggestions(key: str, known: Iterable[str], *, limit: int = 3) -> list[str]:
    """Known keys close to ``key``: near spellings first, then keys containing it as a word."""
    pool = list(known)
    close = difflib.get_close_matches(key, pool, n=limit, cutoff=0.75)
    if len(close) < limit and key:
        words = set(key.split())
        close += sorted(
            (k for k in pool if k not in close and words & set(k.split())),
            key=lambda k: (len(k), k),
        )[: limit - len(close)]
    return close
